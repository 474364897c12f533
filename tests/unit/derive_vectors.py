#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Independent reference for the migrate key derivation and authenticators
(PROTOCOL.md sections 3.4 and 4).  Only hashlib/hmac: HKDF (RFC 5869) and the
mac are written out here, so the vectors do not come from the C code they test.

Inputs: RFC 7748 section 6.1, Alice as initiator, Bob as responder, K = their
published shared secret; ISN_i = 0x01020304, ISN_r = 0xa0b0c0d0.
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
INFO_LABEL = b"tcp-migrate v1"


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


def mac(k, typ, token, reqno):
    msg = b"MIG1" + bytes([typ]) + token + struct.pack(">I", reqno)
    return hmac.new(k, msg, hashlib.sha256).digest()[:8]


def main():
    # self-check of the HKDF code: RFC 5869 test case 1
    prk = hkdf_extract(bytes(range(13)), b"\x0b" * 22)
    assert prk.hex() == ("077709362c2e32df0ddc3f0dc47bba63"
                         "90b6c73bb50f9c3122ec844ad7c2b3e5")
    okm = hkdf_expand(prk, bytes(range(0xf0, 0xfa)), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
                         "2d56ecc4c5bf34007208d5b887185865")

    salt = struct.pack(">II", ISN_I, ISN_R)
    prk = hkdf_extract(salt, K)
    okm = hkdf_expand(prk, INFO_LABEL + PUB_ALICE + PUB_BOB, 72)
    token, k_i, k_r = okm[0:8], okm[8:40], okm[40:72]
    out = [
        ("salt", salt),
        ("prk", prk),
        ("token", token),
        ("k_i", k_i),
        ("k_r", k_r),
        ("mac(k_i, 2, token, 1)", mac(k_i, 2, token, 1)),
        ("mac(k_r, 3, token, 1)", mac(k_r, 3, token, 1)),
        ("mac(k_i, 4, token, 1)", mac(k_i, 4, token, 1)),
        ("mac(k_r, 2, token, 0xfffffffe)", mac(k_r, 2, token, 0xFFFFFFFE)),
    ]
    for name, val in out:
        print(f"{name:32s} {val.hex()}")


if __name__ == "__main__":
    main()
