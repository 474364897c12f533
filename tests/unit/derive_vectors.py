#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Independent reference for the migrate key derivation and authenticators of
protocol version 2 (PROTOCOL.md sections 3.4, 4 and 9).  Only hashlib/hmac:
HKDF (RFC 5869) and SipHash-2-4 are written out here, so the vectors do not
come from the C code they test (user/lib/mig_crypto.c,
include/migrate/mig_siphash.h).

Inputs: RFC 7748 section 6.1, Alice as initiator, Bob as responder, K = their
published shared secret; ISN_i = 0x01020304, ISN_r = 0xa0b0c0d0.  The mac and
nonce examples use the derived keys and the inputs listed in EXAMPLES below.
Prints the values used by tests/unit/test_crypto.c and docs/protocol.md.
"""
import hashlib
import hmac
import struct

PUB_ALICE = bytes.fromhex(
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
PUB_BOB = bytes.fromhex(
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
K = bytes.fromhex(
    "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
ISN_I = 0x01020304
ISN_R = 0xA0B0C0D0
INFO_LABEL = b"tcp-migrate v2"
OKM_LEN = 104

# Inputs of the mac and nonce examples.
REQNO = 1
CHALLENGE = 0x11223344
RESET_SEQ = 0x01020305
RESET_ACK = 0xA0B0C0D1
NONCE_KEY_B = bytes(range(0x10, 0x20))
# struct mig_tuple (include/migrate/mig_abi.h), 40 bytes: laddr[4] be,
# raddr[4] be, lport be, rport be, family, pad[3].  IPv4 192.0.2.1:443 <->
# 198.51.100.7:50000, address in word 0, family AF_INET (2).
WIRE = (bytes([192, 0, 2, 1]) + bytes(12) +
        bytes([198, 51, 100, 7]) + bytes(12) +
        struct.pack(">HH", 443, 50000) + bytes([2]) + bytes(3))
assert len(WIRE) == 40

# ---------------------------------------------------------------- HKDF


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand(prk, info, length):
    assert length <= 255 * 32
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]

# ---------------------------------------------------------------- SipHash

M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def _sipround(v0, v1, v2, v3):
    v0 = (v0 + v1) & M64
    v1 = _rotl(v1, 13) ^ v0
    v0 = _rotl(v0, 32)
    v2 = (v2 + v3) & M64
    v3 = _rotl(v3, 16) ^ v2
    v0 = (v0 + v3) & M64
    v3 = _rotl(v3, 21) ^ v0
    v2 = (v2 + v1) & M64
    v1 = _rotl(v1, 17) ^ v2
    v2 = _rotl(v2, 32)
    return v0, v1, v2, v3


def siphash24(key, msg):
    """SipHash-2-4, 16-byte key, returns the 8 output bytes (little-endian
    serialisation of the 64-bit result, as the reference implementation)."""
    assert len(key) == 16
    k0, k1 = struct.unpack("<QQ", key)
    v0 = 0x736F6D6570736575 ^ k0
    v1 = 0x646F72616E646F6D ^ k1
    v2 = 0x6C7967656E657261 ^ k0
    v3 = 0x7465646279746573 ^ k1
    n = len(msg)
    full = n - n % 8
    for off in range(0, full, 8):
        m = struct.unpack("<Q", msg[off:off + 8])[0]
        v3 ^= m
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
        v0 ^= m
    last = (n & 0xFF) << 56
    for j, c in enumerate(msg[full:]):
        last |= c << (8 * j)
    v3 ^= last
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    v0 ^= last
    v2 ^= 0xFF
    for _ in range(4):
        v0, v1, v2, v3 = _sipround(v0, v1, v2, v3)
    return struct.pack("<Q", v0 ^ v1 ^ v2 ^ v3)

# ---------------------------------------------------------------- messages


def be32(v):
    return struct.pack(">I", v)


def msg_migrate(token, reqno):
    return b"\x02" + token + be32(reqno)


def msg_ack(reqno, challenge, nonce):
    return b"\x03" + be32(reqno) + be32(challenge) + nonce


def msg_confirm(reqno, nonce):
    return b"\x04" + be32(reqno) + nonce


def msg_reset(seq, ack):
    return b"\x05" + be32(seq) + be32(ack)


def msg_nonce(wire, token, reqno):
    return wire + token + be32(reqno)


def self_check():
    # HKDF: RFC 5869 test case 1
    prk = hkdf_extract(bytes(range(13)), b"\x0b" * 22)
    assert prk.hex() == ("077709362c2e32df0ddc3f0dc47bba63"
                         "90b6c73bb50f9c3122ec844ad7c2b3e5")
    okm = hkdf_expand(prk, bytes(range(0xf0, 0xfa)), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
                         "2d56ecc4c5bf34007208d5b887185865")
    # SipHash: the vector of the SipHash paper (appendix A)
    out = siphash24(bytes(range(16)), bytes(range(15)))
    assert struct.unpack("<Q", out)[0] == 0xA129CA6149BE45E5
    assert out.hex() == "e545be4961ca29a1"
    # the message layouts have the lengths of the wire contract
    t = bytes(8)
    assert len(msg_migrate(t, 0)) == 13
    assert len(msg_ack(0, 0, t)) == 17
    assert len(msg_confirm(0, t)) == 13
    assert len(msg_reset(0, 0)) == 9
    assert len(msg_nonce(WIRE, t, 0)) == 52


def main():
    self_check()

    key = bytes(range(16))
    print("SipHash-2-4, key 000102..0f, message 00 01 .. len-1 (lengths 0..56):")
    for n in range(57):
        print(f"  {n:2d} {siphash24(key, bytes(range(n))).hex()}")
    print()

    salt = struct.pack(">II", ISN_I, ISN_R)
    prk = hkdf_extract(salt, K)
    info = INFO_LABEL + PUB_ALICE + PUB_BOB
    okm = hkdf_expand(prk, info, OKM_LEN)
    token, k_i, k_r = okm[0:8], okm[8:40], okm[40:72]
    s_i, s_r = okm[72:88], okm[88:104]

    nonce_msg = msg_nonce(WIRE, token, REQNO)
    nonce = siphash24(NONCE_KEY_B, nonce_msg)
    msgs = [
        ("mac_migrate(s_i, token, reqno 1)", s_i, msg_migrate(token, REQNO)),
        ("mac_ack(s_r, reqno 1, challenge 0x11223344, nonce)", s_r,
         msg_ack(REQNO, CHALLENGE, nonce)),
        ("mac_confirm(s_i, reqno 1, nonce)", s_i, msg_confirm(REQNO, nonce)),
        ("mac_reset(s_r, seq 0x01020305, ack 0xa0b0c0d1)", s_r,
         msg_reset(RESET_SEQ, RESET_ACK)),
    ]
    out = [
        ("salt", salt),
        ("prk", prk),
        ("info", info),
        ("okm", okm),
        ("token", token),
        ("k_i", k_i),
        ("k_r", k_r),
        ("s_i", s_i),
        ("s_r", s_r),
        ("b (nonce key)", NONCE_KEY_B),
        ("wire (struct mig_tuple)", WIRE),
        ("nonce message", nonce_msg),
        ("nonce(b, wire, token, reqno 1)", nonce),
    ]
    for name, k, m in msgs:
        out.append((name + " message", m))
        out.append((name, siphash24(k, m)))
    for name, val in out:
        print(f"{name:58s} {val.hex()}")


if __name__ == "__main__":
    main()
