#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""craft.py - an attacker's toolbox for tests/adversarial: hand-made IPv4
TCP segments carrying the Migrate option (protocol version 2), sent from a
raw socket inside a lab host, and a pcap reader for the checks.

Python 3 standard library only.  Every sender is bounded in count and in
time.  Segments go out through a SOCK_RAW/IPPROTO_TCP socket bound to the
host's own address (no spoofing needed: the attacker has its own address)
and marked MARK, so that a test can drop the host kernel's own RSTs with
nftables and still let ours out.

  craft.py selftest
      SipHash-2-4 and the MIGRATE tag against docs/protocol.md's vectors.
  craft.py msyn --src A --dst A --dport P [--sport P] [--count N]
                [--max-seconds S] [--rate PPS] [--token HEX|random]
                [--reqno N|random] [--mac HEX|random|valid --key HEX]
                [--seq N] [--ack N]
      Migrate SYNs (48-byte header, option first, 3 NOPs).  --mac valid
      computes the real tag with the SipHash key --key (a test oracle).
      Prints {"sent", "t_first", "t_last", "tcp_hex"} (times in
      CLOCK_REALTIME seconds; tcp_hex: the last segment's TCP header).
  craft.py replay --pcap F --from A --src A --sport P [--wait S]
      Take the first Migrate SYN sent by A in capture F and send its TCP
      header unchanged but for the source port (and checksum) from our
      address; print the answer to it as JSON (or {"answer": null}).
  craft.py sig --src A --dst A --sport P --dport P --sub N --reqno N
               --id HEX --mac HEX [--seq N] [--ack N] [--flags A] [--count N]
      A signalling segment, COUNT times (CONFIRM: --sub 4 --flags A;
      Migrate SYN/ACK: --sub 3 --flags SA).  Prints {"sent", "tcp_hex"}.
  craft.py spray --src A --dst A --sport P --dport P --flags F
                 --seq N [--count N] [--step N] [--payload N] [--ack N]
                 [--spoof]
      COUNT segments with seq SEQ, SEQ+STEP, ... (flags: letters of
      FSRPAU), PAYLOAD bytes of b"INJECTED" each.  --spoof: SRC is not
      ours; write the IP header ourselves (IP_HDRINCL).  Prints {"sent"}.
  craft.py mark --pcap F --src A --dport P --data TEXT
      The segments that follow the last one A sent to port P in capture F
      (from its seq plus its length on, with its ack, window and
      timestamps), one per character of TEXT, each carrying its character
      and, in front of the timestamps, the two-byte option of kind 253
      that the ingress program marks a peer's segments with after a
      commit (docs/protocol.md, "Congestion state restarts").  Prints
      {"sent", "seq", "tcp_hex"} (the first one's).
  craft.py pcap F [--src A] [--dst A]
      The TCP segments of a capture as JSON, one object each (data_hex:
      the first 64 bytes of payload the capture holds).
  craft.py rsttag --pcap F --key HEX [--src A]
      The RSTs of a capture, each with "tag_ok": its payload is the 8-byte
      tag SipHash(KEY, 5 || seq || ack) (rule 8).
  craft.py rst-server --port P [--max-seconds S]
  craft.py rst-client --dst A --port P --go FILE [--max-seconds S]
      The two ends of an ordinary connection (run them in the hosts'
      cgroups, so that it is keyed).  The client sends 100 bytes every
      50 ms until FILE exists, then closes with SO_LINGER {1, 0}: its
      kernel sends a RST.  The server reads until the connection ends.
      Each prints one JSON line per event, with CLOCK_REALTIME times:
      client {"connected"}, {"closed": t}; server {"accepted"}, then
      {"reset": t} (ECONNRESET; exit 0), {"eof": t} (1) or {"timeout"} (2).

IPv4 only; run it inside a lab host (nsenter --net=...).
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import time

MARK = 0xAD0
SO_MARK = 36
KIND, EXID, OPTLEN = 253, 0x4D47, 25
SUB_MIGRATE, SUB_ACK, SUB_CONFIRM = 2, 3, 4
FLAGS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20}


# ---------------------------------------------------------------------------
# SipHash-2-4 (include/migrate/mig_siphash.h; docs/protocol.md vectors)

M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def siphash24(key, msg):
    k0, k1 = struct.unpack("<QQ", key)
    v0 = 0x736F6D6570736575 ^ k0
    v1 = 0x646F72616E646F6D ^ k1
    v2 = 0x6C7967656E657261 ^ k0
    v3 = 0x7465646279746573 ^ k1

    def rnd():
        nonlocal v0, v1, v2, v3
        v0 = (v0 + v1) & M64; v1 = _rotl(v1, 13); v1 ^= v0; v0 = _rotl(v0, 32)
        v2 = (v2 + v3) & M64; v3 = _rotl(v3, 16); v3 ^= v2
        v0 = (v0 + v3) & M64; v3 = _rotl(v3, 21); v3 ^= v0
        v2 = (v2 + v1) & M64; v1 = _rotl(v1, 17); v1 ^= v2; v2 = _rotl(v2, 32)

    n = len(msg) - len(msg) % 8
    for i in range(0, n, 8):
        m, = struct.unpack("<Q", msg[i:i + 8])
        v3 ^= m
        rnd(); rnd()
        v0 ^= m
    b = (len(msg) & 0xFF) << 56
    for i, c in enumerate(msg[n:]):
        b |= c << (8 * i)
    v3 ^= b
    rnd(); rnd()
    v0 ^= b
    v2 ^= 0xFF
    rnd(); rnd(); rnd(); rnd()
    return struct.pack("<Q", v0 ^ v1 ^ v2 ^ v3)


def mac_migrate(s, token, reqno):
    return siphash24(s, b"\x02" + token + struct.pack("!I", reqno))


def mac_confirm(s, reqno, nonce):
    return siphash24(s, b"\x04" + struct.pack("!I", reqno) + nonce)


def mac_reset(s, seq, ack):
    return siphash24(s, b"\x05" + struct.pack("!II", seq & 0xFFFFFFFF, ack & 0xFFFFFFFF))


def cmd_selftest(_a):
    k = bytes(range(16))
    assert siphash24(k, bytes(range(15))).hex() == "e545be4961ca29a1"
    s_i = bytes.fromhex("3565710a4c21f09e9181a5cdd022dbfe")
    tok = bytes.fromhex("c6dbbfb43c16f180")
    assert mac_migrate(s_i, tok, 1).hex() == "84fc0a60d89c573f"
    s_r = bytes.fromhex("7f6ba92d958679615cb3e02f3e2cf9b8")
    nonce = bytes.fromhex("370c398b23148251")
    assert siphash24(s_r, b"\x03" + struct.pack("!II", 1, 0x11223344) + nonce).hex() \
        == "021c720f6adb0183"
    assert mac_confirm(s_i, 1, nonce).hex() == "7373d7483598d94a"
    assert mac_reset(s_r, 0x01020305, 0xA0B0C0D1).hex() == "193dade47f35fb8b"
    print("siphash ok")
    return 0


# ---------------------------------------------------------------------------
# Segments

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def with_csum(src, dst, seg):
    seg = bytearray(seg)
    seg[16:18] = b"\0\0"
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(seg))
    seg[16:18] = struct.pack("!H", csum(pseudo + bytes(seg)))
    return bytes(seg)


def sig_option(sub, reqno, ident, mac):
    return struct.pack("!BBHBI", KIND, OPTLEN, EXID, sub, reqno) + ident + mac


def sig_header(sport, dport, seq, ack, flags, opt, tail=b"\x01\x01\x01", win=65535):
    """A 48-byte signalling header: 20 bytes, our option, 3 bytes of tail."""
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                       ack & 0xFFFFFFFF, 12 << 4, flags, win, 0, 0) + opt + tail


def raw_socket(src, hdrincl=False):
    """hdrincl: we write the IP header (any source address)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.setsockopt(socket.SOL_SOCKET, SO_MARK, MARK)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    if hdrincl:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    else:
        s.bind((src, 0))
    return s


def ip_header(src, dst, tcp_len):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, random.getrandbits(16),
                    0x4000, 64, socket.IPPROTO_TCP, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]


def parse_tcp(ip):
    """IPv4 packet -> dict of its TCP segment, or None."""
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP:
        return None
    ihl = (ip[0] & 0x0F) * 4
    tot = struct.unpack("!H", ip[2:4])[0]   # (a capture may cut the payload)
    ip = ip[:tot]
    t = ip[ihl:]
    if len(t) < 20:
        return None
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", t[:16])
    hl = (off >> 4) * 4
    d = {
        "src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
        "sport": sport, "dport": dport, "seq": seq, "ack": ack,
        "flags": flags, "win": win, "hlen": hl, "plen": max(0, tot - ihl - hl),
        "ttl": ip[8], "tcp_hex": t[:hl].hex(), "data_hex": t[hl:hl + 64].hex(),
    }
    o = t[20:hl]
    if hl == 48 and len(o) == 28 and o[0] == KIND and o[1] == OPTLEN and \
            struct.unpack("!H", o[2:4])[0] == EXID:
        d["sub"] = o[4]
        d["reqno"] = struct.unpack("!I", o[5:9])[0]
        d["id"] = o[9:17].hex()
        d["mac"] = o[17:25].hex()
        d["tail"] = o[25:28].hex()
    return d


def read_pcap(path):
    """The IPv4 TCP segments of a pcap file (a truncated last record, as
    a live capture may leave, is ignored)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    link = struct.unpack(end + "I", data[20:24])[0]
    out, off = [], 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break
        frame = data[off:off + incl]
        off += incl
        if link == 1:            # Ethernet
            et, p = struct.unpack("!H", frame[12:14])[0], 14
            while et == 0x8100 and len(frame) >= p + 4:
                et, p = struct.unpack("!H", frame[p + 2:p + 4])[0], p + 4
        elif link == 113:        # Linux cooked
            et, p = struct.unpack("!H", frame[14:16])[0], 16
        elif link == 101:        # raw IP
            et, p = 0x0800, 0
        else:
            continue
        if et != 0x0800:
            continue
        d = parse_tcp(frame[p:])
        if d:
            d["t"] = sec + frac / (1e9 if nano else 1e6)
            out.append(d)
    return out


def num(s):
    return int(s, 0)


def rand_or(v, bits):
    return random.getrandbits(bits) if v == "random" else num(v)


# ---------------------------------------------------------------------------
# Commands

def cmd_msyn(a):
    s = raw_socket(a.src)
    fixed_token = None if a.token == "random" else bytes.fromhex(a.token)
    if a.mac == "valid":
        if not a.key or fixed_token is None:
            raise SystemExit("--mac valid needs --key and a --token")
        key = bytes.fromhex(a.key)
    count, sent = a.count, 0
    deadline = time.time() + a.max_seconds
    gap = 1.0 / a.rate if a.rate else 0.0
    t_first = t_last = None
    seq = a.seq
    head = struct.pack("!BBHB", KIND, OPTLEN, EXID, SUB_MIGRATE)
    batch = 100
    while sent < count:
        now = time.time()
        if now >= deadline:
            break
        if t_first is None:
            t_first = now
        # pace in batches: at most `rate` segments per second on average
        if gap and sent and now < t_first + sent * gap:
            time.sleep(min(t_first + sent * gap - now, 0.05))
            continue
        for _ in range(min(batch, count - sent)):
            token = fixed_token if fixed_token is not None else os.urandom(8)
            reqno = rand_or(a.reqno, 32)
            if a.mac == "random":
                mac = os.urandom(8)
            elif a.mac == "valid":
                mac = mac_migrate(key, token, reqno)
            else:
                mac = bytes.fromhex(a.mac)
            sport = rand_or(a.sport, 16) or 1
            opt = head + struct.pack("!I", reqno) + token + mac
            seg = with_csum(a.src, a.dst, sig_header(sport, a.dport, rand_or(seq, 32),
                                                     num(a.ack), 0x02, opt))
            s.sendto(seg, (a.dst, 0))
            sent += 1
        t_last = time.time()
    print(json.dumps({"sent": sent, "t_first": t_first, "t_last": t_last,
                      "tcp_hex": seg.hex() if sent else None}))
    return 0 if sent == count else 1


def first_msyn(path, src):
    for d in read_pcap(path):
        if d["src"] == src and d.get("sub") == SUB_MIGRATE and d["flags"] & 0x12 == 0x02:
            return d
    return None


def wait_answer(s, src, dst, sport, dport, timeout):
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            pkt = s.recv(65535)
        except socket.timeout:
            return None
        d = parse_tcp(pkt)
        if d and d["src"] == dst and d["dst"] == src and d["sport"] == dport \
                and d["dport"] == sport:
            return d


def cmd_replay(a):
    d = first_msyn(a.pcap, getattr(a, "from"))
    if not d:
        raise SystemExit("no Migrate SYN from %s in %s" % (getattr(a, "from"), a.pcap))
    seg = bytearray(bytes.fromhex(d["tcp_hex"]))
    seg[0:2] = struct.pack("!H", a.sport)
    seg = with_csum(a.src, d["dst"], seg)
    s = raw_socket(a.src)
    s.sendto(seg, (d["dst"], 0))
    ans = wait_answer(s, a.src, d["dst"], a.sport, d["dport"], a.wait)
    print(json.dumps({"replayed": d, "answer": ans}))
    return 0


def cmd_sig(a):
    s = raw_socket(a.src)
    flags = sum(FLAGS[c] for c in a.flags)
    opt = sig_option(a.sub, a.reqno, bytes.fromhex(a.id), bytes.fromhex(a.mac))
    seg = with_csum(a.src, a.dst, sig_header(a.sport, a.dport, a.seq, a.ack, flags, opt))
    for _ in range(a.count):
        s.sendto(seg, (a.dst, 0))
    print(json.dumps({"sent": a.count, "tcp_hex": seg.hex()}))
    return 0


def cmd_spray(a):
    s = raw_socket(a.src, a.spoof)
    flags = sum(FLAGS[c] for c in a.flags)
    payload = (b"INJECTED" * (a.payload // 8 + 1))[:a.payload]
    deadline = time.time() + a.max_seconds
    sent = 0
    for i in range(a.count):
        if time.time() >= deadline:
            break
        hdr = struct.pack("!HHIIBBHHH", a.sport, a.dport, (a.seq + i * a.step) & 0xFFFFFFFF,
                          a.ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0)
        seg = with_csum(a.src, a.dst, hdr + payload)
        if a.spoof:
            seg = ip_header(a.src, a.dst, len(seg)) + seg
        s.sendto(seg, (a.dst, 0))
        sent += 1
        if sent % 200 == 0:
            time.sleep(0.002)     # let the receivers' softirqs keep up
    print(json.dumps({"sent": sent}))
    return 0 if sent == a.count else 1


def cmd_mark(a):
    segs = [d for d in read_pcap(a.pcap) if d["src"] == a.src and d["dport"] == a.dport
            and not d["flags"] & (FLAGS["S"] | FLAGS["R"] | FLAGS["F"])]
    if not segs:
        raise SystemExit("%s: no segment of %s to port %d" % (a.pcap, a.src, a.dport))
    last = segs[-1]
    opts, ts, i = bytes.fromhex(last["tcp_hex"])[20:], None, 0
    while i < len(opts) and opts[i] != 0:
        if opts[i] == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        if opts[i] == 8 and opts[i + 1] == 10:
            ts = opts[i:i + 10]
        i += opts[i + 1]
    if ts is None:
        raise SystemExit("%s: its last segment has no timestamps" % a.pcap)
    seq0 = (last["seq"] + last["plen"]) & 0xFFFFFFFF
    s, first = raw_socket(a.src), None
    for i, ch in enumerate(a.data.encode()):
        hdr = struct.pack("!HHIIBBHHH", last["sport"], last["dport"], (seq0 + i) & 0xFFFFFFFF,
                          last["ack"], 8 << 4, FLAGS["P"] | FLAGS["A"], last["win"], 0, 0)
        seg = with_csum(a.src, last["dst"], hdr + bytes([KIND, 2]) + ts + bytes([ch]))
        s.sendto(seg, (last["dst"], 0))
        first = first or seg[:32].hex()
    print(json.dumps({"sent": len(a.data), "seq": seq0, "tcp_hex": first}))
    return 0


def cmd_pcap(a):
    out = [d for d in read_pcap(a.file)
           if (not a.src or d["src"] == a.src) and (not a.dst or d["dst"] == a.dst)]
    json.dump(out, sys.stdout)
    print()
    return 0


def cmd_rsttag(a):
    key = bytes.fromhex(a.key)
    out = []
    for d in read_pcap(a.pcap):
        if not d["flags"] & FLAGS["R"] or (a.src and d["src"] != a.src):
            continue
        d["tag_ok"] = d["plen"] == 8 and \
            d["data_hex"] == mac_reset(key, d["seq"], d["ack"]).hex()
        out.append(d)
    json.dump(out, sys.stdout)
    print()
    return 0


def say(**kw):
    print(json.dumps(kw), flush=True)


def cmd_rst_server(a):
    deadline = time.time() + a.max_seconds
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", a.port))
    ls.listen(1)
    ls.settimeout(a.max_seconds)
    try:
        c, peer = ls.accept()
    except socket.timeout:
        say(timeout=time.time(), received=0)
        return 2
    say(accepted="%s:%d" % peer, t=time.time())
    n = 0
    while True:
        left = deadline - time.time()
        if left <= 0:
            say(timeout=time.time(), received=n)
            return 2
        c.settimeout(left)
        try:
            b = c.recv(65536)
        except ConnectionResetError:
            say(reset=time.time(), received=n)
            return 0
        except socket.timeout:
            say(timeout=time.time(), received=n)
            return 2
        if not b:
            say(eof=time.time(), received=n)
            return 1
        n += len(b)


def cmd_rst_client(a):
    deadline = time.time() + a.max_seconds
    s = socket.create_connection((a.dst, a.port), timeout=10)
    say(connected="%s:%d" % s.getsockname(), t=time.time())
    sent = 0
    while not os.path.exists(a.go):
        if time.time() >= deadline:
            say(timeout=time.time(), sent=sent)
            return 2
        s.sendall(b"." * 100)
        sent += 100
        time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    t = time.time()
    s.close()
    say(closed=t, sent=sent)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("selftest")

    m = sub.add_parser("msyn")
    m.add_argument("--src", required=True)
    m.add_argument("--dst", required=True)
    m.add_argument("--dport", type=num, required=True)
    m.add_argument("--sport", default="random")
    m.add_argument("--count", type=num, default=1)
    m.add_argument("--max-seconds", type=float, default=20.0)
    m.add_argument("--rate", type=float, default=0.0)
    m.add_argument("--token", default="random")
    m.add_argument("--reqno", default="1")
    m.add_argument("--mac", default="random")
    m.add_argument("--key")
    m.add_argument("--seq", default="random")
    m.add_argument("--ack", default="0")

    r = sub.add_parser("replay")
    r.add_argument("--pcap", required=True)
    r.add_argument("--from", required=True)
    r.add_argument("--src", required=True)
    r.add_argument("--sport", type=num, required=True)
    r.add_argument("--wait", type=float, default=2.0)

    g = sub.add_parser("sig")
    g.add_argument("--src", required=True)
    g.add_argument("--dst", required=True)
    g.add_argument("--sport", type=num, required=True)
    g.add_argument("--dport", type=num, required=True)
    g.add_argument("--sub", type=num, required=True)
    g.add_argument("--reqno", type=num, required=True)
    g.add_argument("--id", required=True)
    g.add_argument("--mac", required=True)
    g.add_argument("--seq", type=num, default=0)
    g.add_argument("--ack", type=num, default=0)
    g.add_argument("--flags", default="A")
    g.add_argument("--count", type=num, default=1)

    y = sub.add_parser("spray")
    y.add_argument("--src", required=True)
    y.add_argument("--dst", required=True)
    y.add_argument("--sport", type=num, required=True)
    y.add_argument("--dport", type=num, required=True)
    y.add_argument("--flags", required=True)
    y.add_argument("--seq", type=num, required=True)
    y.add_argument("--count", type=num, default=1)
    y.add_argument("--step", type=num, default=0)
    y.add_argument("--payload", type=num, default=0)
    y.add_argument("--ack", type=num, default=0)
    y.add_argument("--max-seconds", type=float, default=20.0)
    y.add_argument("--spoof", action="store_true")

    k = sub.add_parser("mark")
    k.add_argument("--pcap", required=True)
    k.add_argument("--src", required=True)
    k.add_argument("--dport", type=num, required=True)
    k.add_argument("--data", required=True)

    c = sub.add_parser("pcap")
    c.add_argument("file")
    c.add_argument("--src")
    c.add_argument("--dst")

    t = sub.add_parser("rsttag")
    t.add_argument("--pcap", required=True)
    t.add_argument("--key", required=True)
    t.add_argument("--src")

    v = sub.add_parser("rst-server")
    v.add_argument("--port", type=num, required=True)
    v.add_argument("--max-seconds", type=float, default=90.0)

    w = sub.add_parser("rst-client")
    w.add_argument("--dst", required=True)
    w.add_argument("--port", type=num, required=True)
    w.add_argument("--go", required=True)
    w.add_argument("--max-seconds", type=float, default=60.0)

    a = p.parse_args()
    return globals()["cmd_" + a.cmd.replace("-", "_")](a)


if __name__ == "__main__":
    sys.exit(main())
