#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""peer.py - a keyed client of the same server turned attacker, for
tests/adversarial/test_peers.sh: it holds its own connection's keys (read
from its own agent's pinned mig_flows), so every Migrate SYN it builds for
that connection is valid; it sends them with any source it likes.

Python 3 standard library only; every sender is bounded in count and time.
IPv4 only; run the senders inside the peer's network namespace.

  peer.py selftest
      SipHash-2-4 and the MIGRATE / CONFIRM tags against docs/protocol.md.
  peer.py flow --pin DIR --dport P
      The peer's own keyed flow to port P: token, s_own, isn_i, own_reqno,
      its socket tuple and SND.UNA (isn_i + ss's bytes_acked), as JSON.
  peer.py msyn --pin DIR --dst A --dport P --src A[,A...] [--sport N|unique]
               [--count N] [--rate PPS] [--max-seconds S]
      Valid Migrate SYNs of the peer's own flow (seq = SND.UNA - 1, reqno =
      own_reqno + 1, mac = SipHash(s_own, 2 || token || reqno)), sent with
      the IP header written here (source: any of --src).  --sport unique:
      every segment from a different (address, port), ports shuffled.
      Prints {"sent", "t_first", "t_last", "reqno", "seq", "tcp_hex"}.
  peer.py confirm --pin DIR --dst A --dport P --src A --sport N [--count N]
      CONFIRMs of the peer's own flow for reqno own_reqno + 1, each with a
      random nonce (the one it cannot know) and the mac valid for it.
  peer.py churn --pin DIR --dst A --dport P --src A --dev IF --until FILE
               [--count N] [--max-seconds S]
      The peer moves its own flow without pause: in each round a valid
      Migrate SYN from a new port of --src (reqno one more than the last),
      the server's SYN/ACK read off --dev (a packet socket: it sees the
      frame before the peer's own data path drops a SYN/ACK it did not ask
      for), and the CONFIRM with that nonce, so the server commits once a
      round, as fast as the exchange goes (the ports come round again
      after 40,000).  Until FILE exists, N rounds or S seconds.  Prints {"rounds", "answered", "t_first", "t_last",
      "reqno_first", "reqno_last"}.
  peer.py cands --pin DIR --raddr A
      Candidates of the flow whose socket's remote address is A in a
      server's mig_flows: {"live", "used"} (live: not expired yet).
  peer.py orphans --pin DIR
      mig_cand entries that no candidate slot of their flow names (exit 1
      if any): {"orphans": [tuples]}.
  peer.py sample --pin DIR --map M --until FILE [--max-seconds S]
      Count the entries of a pinned map every 20 ms until FILE exists;
      prints {"max", "samples", "last"}.
  peer.py count PCAP EXPR
      How many IPv4 TCP segments of a capture satisfy the Python
      expression EXPR over d (src, dst, sport, dport, seq, ack, flags,
      plen, sub, ...).
"""
import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time

# the signalling layout and SipHash tags: one implementation, craft.py's
from craft import (EXID, KIND, OPTLEN, SUB_ACK, SUB_CONFIRM, SUB_MIGRATE,  # noqa: E402,F401
                   mac_confirm, mac_migrate, sig_header, sig_option, siphash24)

# struct mig_flow (include/migrate/mig_abi.h)
F_TOKEN, F_COOKIE, F_ISN_I, F_ISN_R, F_ROLE = 0, 8, 24, 28, 32
F_S_OWN, F_S_PEER, F_STATE, F_MIGR = 40, 56, 72, 76
F_PEER_REQNO, F_OWN_REQNO, F_WIRE, F_CAND = 88, 92, 112, 192
CAND_SIZE, NCAND = 64, 2
# struct mig_tuple: laddr[16] raddr[16] lport rport family


def cmd_selftest(_a):
    k = bytes(range(16))
    assert siphash24(k, bytes(range(15))).hex() == "e545be4961ca29a1"
    s_i = bytes.fromhex("3565710a4c21f09e9181a5cdd022dbfe")
    tok = bytes.fromhex("c6dbbfb43c16f180")
    assert mac_migrate(s_i, tok, 1).hex() == "84fc0a60d89c573f"
    assert mac_confirm(s_i, 1, bytes.fromhex("370c398b23148251")).hex() == "7373d7483598d94a"
    print("siphash ok")
    return 0


# ---------------------------------------------------------------------------
# Maps and sockets

def map_dump(path):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", path],
                         check=True, capture_output=True, text=True).stdout
    return [(bytes(int(x, 16) for x in e["key"]), bytes(int(x, 16) for x in e["value"]))
            for e in json.loads(out)]


def tuple_of(b):
    return {"laddr": socket.inet_ntoa(b[0:4]), "raddr": socket.inet_ntoa(b[16:20]),
            "lport": struct.unpack("!H", b[32:34])[0], "rport": struct.unpack("!H", b[34:36])[0],
            "family": b[36]}


def u32(v, off):
    return struct.unpack("=I", v[off:off + 4])[0]


def own_flow(pin, dport):
    """The peer's keyed flow to port dport (its socket tuple's rport)."""
    for k, v in map_dump(os.path.join(pin, "mig_flows")):
        t = tuple_of(k)
        if t["family"] == socket.AF_INET and t["rport"] == dport:
            return t, v
    raise SystemExit("no keyed IPv4 flow to port %d in %s" % (dport, pin))


def bytes_acked(t):
    """ss's bytes_acked of the socket t (in this network namespace)."""
    out = subprocess.run(["ss", "-Htin", "state", "established",
                          "( sport = :%d and dport = :%d )" % (t["lport"], t["rport"])],
                         check=True, capture_output=True, text=True).stdout
    for w in out.split():
        if w.startswith("bytes_acked:"):
            return int(w.split(":")[1])
    raise SystemExit("no established socket %s:%d -> %s:%d (or no bytes_acked)"
                     % (t["laddr"], t["lport"], t["raddr"], t["rport"]))


def flow_info(pin, dport):
    t, v = own_flow(pin, dport)
    isn_i = u32(v, F_ISN_I)
    acked = bytes_acked(t)
    return {
        "tuple": t, "token": v[F_TOKEN:F_TOKEN + 8].hex(), "s_own": v[F_S_OWN:F_S_OWN + 16].hex(),
        "role": v[F_ROLE], "isn_i": isn_i, "isn_r": u32(v, F_ISN_R),
        "own_reqno": u32(v, F_OWN_REQNO), "peer_reqno": u32(v, F_PEER_REQNO),
        "migrations": u32(v, F_MIGR), "bytes_acked": acked,
        # the initiator's SND.UNA: its ISN plus what was acked (the SYN
        # included: ss counts it)
        "snd_una": (isn_i + acked) & 0xFFFFFFFF,
    }


def cmd_flow(a):
    print(json.dumps(flow_info(a.pin, a.dport)))
    return 0


# ---------------------------------------------------------------------------
# Segments

def csum_words(data):
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack("!%dH" % (len(data) // 2), data))


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


class Sender:
    """Segments with a source address of our choice (IP_HDRINCL); the TCP
    checksum is updated for each (source, port) from a precomputed sum."""

    def __init__(self, dst, seg=None):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        self.s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        self.dst = dst
        self.dst_b = socket.inet_aton(dst)
        if seg is not None:
            self.retarget(seg)

    def retarget(self, seg):
        """Another segment (same length and destination) from now on."""
        self.seg = bytearray(seg)
        self.seg[0:2] = b"\0\0"
        self.seg[16:18] = b"\0\0"
        # the checksum's sum without source address and source port
        self.base = csum_words(self.dst_b + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(seg))
                               + bytes(self.seg))
        self.ip_sum = csum_words(struct.pack("!BBHHHBBH", 0x45, 0, 20 + len(seg), 0, 0x4000, 64,
                                             socket.IPPROTO_TCP, 0) + self.dst_b)

    def send(self, src, sport):
        sb = socket.inet_aton(src)
        s1, s2 = struct.unpack("!HH", sb)
        seg = self.seg
        seg[0:2] = struct.pack("!H", sport)
        seg[16:18] = struct.pack("!H", fold(self.base + s1 + s2 + sport))
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0x4000, 64,
                         socket.IPPROTO_TCP, fold(self.ip_sum + s1 + s2), sb, self.dst_b)
        self.s.sendto(ip + bytes(seg), (self.dst, 0))
        return bytes(seg)


def tuples(srcs, sport, count):
    """(source, port) of each segment."""
    if sport != "unique":
        p = int(sport, 0)
        return [(srcs[i % len(srcs)], p) for i in range(count)]
    per = -(-count // len(srcs))
    if per > 64511:
        raise SystemExit("--sport unique: at most 64511 ports per address")
    out = []
    for s in srcs:
        ports = random.sample(range(1024, 65536), per)
        out.extend((s, p) for p in ports)
    random.shuffle(out)
    return out[:count]


def paced(items, rate, max_seconds, send):
    """send(item) for each, at most `rate` per second on average (in
    batches of 100), until max_seconds; returns (sent, t_first, t_last)."""
    sent, t_first, t_last = 0, None, None
    deadline = time.time() + max_seconds
    gap = 1.0 / rate if rate else 0.0
    n = len(items)
    while sent < n:
        now = time.time()
        if now >= deadline:
            break
        if t_first is None:
            t_first = now
        if gap and sent and now < t_first + sent * gap:
            time.sleep(min(t_first + sent * gap - now, 0.05))
            continue
        for it in items[sent:sent + 100]:
            send(it)
            sent += 1
        t_last = time.time()
    return sent, t_first, t_last


def cmd_msyn(a):
    f = flow_info(a.pin, a.dport)
    token, key = bytes.fromhex(f["token"]), bytes.fromhex(f["s_own"])
    reqno = (f["own_reqno"] + 1) & 0xFFFFFFFF if a.reqno is None else a.reqno
    seq = (f["snd_una"] - 1) & 0xFFFFFFFF
    ack = random.getrandbits(32) if a.ack is None else a.ack   # the challenge
    opt = sig_option(SUB_MIGRATE, reqno, token, mac_migrate(key, token, reqno))
    snd = Sender(a.dst, sig_header(0, a.dport, seq, ack, 0x02, opt))
    last = [None]

    def one(t):
        last[0] = snd.send(*t)

    sent, t0, t1 = paced(tuples(a.src.split(","), a.sport, a.count), a.rate, a.max_seconds, one)
    print(json.dumps({"sent": sent, "t_first": t0, "t_last": t1, "reqno": reqno, "seq": seq,
                      "ack": ack, "token": f["token"],
                      "tcp_hex": last[0].hex() if last[0] else None}))
    return 0 if sent == a.count else 1


def cmd_confirm(a):
    f = flow_info(a.pin, a.dport)
    key = bytes.fromhex(f["s_own"])
    reqno = (f["own_reqno"] + 1) & 0xFFFFFFFF
    seq = f["snd_una"]
    snd = Sender(a.dst)

    def one(_i):
        nonce = os.urandom(8)
        opt = sig_option(SUB_CONFIRM, reqno, nonce, mac_confirm(key, reqno, nonce))
        snd.retarget(sig_header(0, a.dport, seq, 0, 0x10, opt))
        snd.send(a.src, a.sport)

    sent, _t0, _t1 = paced(list(range(a.count)), 0, a.max_seconds, one)
    print(json.dumps({"sent": sent, "reqno": reqno}))
    return 0 if sent == a.count else 1


def cmd_churn(a):
    f = flow_info(a.pin, a.dport)
    token, key = bytes.fromhex(f["token"]), bytes.fromhex(f["s_own"])
    reqno0 = reqno = f["own_reqno"]
    una = f["snd_una"]
    rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    rx.bind((a.dev, 0))
    snd = Sender(a.dst)
    answered = rounds = 0
    t_first = t_last = None
    deadline = time.time() + a.max_seconds
    ports = random.sample(range(20000, 60000), 40000)

    def send(seg, sport):
        snd.retarget(seg)
        snd.send(a.src, sport)

    while rounds < a.count:
        now = time.time()
        if now >= deadline or os.path.exists(a.until):
            break
        sport = ports[rounds % len(ports)]
        reqno = (reqno + 1) & 0xFFFFFFFF
        rounds += 1
        t_first = t_first or now
        challenge = random.getrandbits(32)
        opt = sig_option(SUB_MIGRATE, reqno, token, mac_migrate(key, token, reqno))
        send(sig_header(0, a.dport, una - 1, challenge, 0x02, opt), sport)
        nonce = None
        end = time.time() + 1.0
        while nonce is None and time.time() < end:
            rx.settimeout(max(end - time.time(), 0.001))
            try:
                fr = rx.recv(65535)
            except socket.timeout:
                break
            if len(fr) < 34 or fr[12:14] != b"\x08\x00":
                continue
            d = parse_tcp(fr[14:])
            if d and d["src"] == a.dst and d["sport"] == a.dport and d["dport"] == sport \
                    and d["flags"] & 0x12 == 0x12 and d.get("sub") == SUB_ACK \
                    and d["reqno"] == reqno:
                nonce = bytes.fromhex(d["id"])
        if nonce is None:
            continue   # (lost or refused: the next round asks again)
        answered += 1
        opt = sig_option(SUB_CONFIRM, reqno, nonce, mac_confirm(key, reqno, nonce))
        send(sig_header(0, a.dport, una, 0, 0x10, opt), sport)
        t_last = time.time()
    print(json.dumps({"rounds": rounds, "answered": answered, "t_first": t_first,
                      "t_last": t_last, "reqno_first": (reqno0 + 1) & 0xFFFFFFFF,
                      "reqno_last": reqno}))
    return 0 if answered else 1


def cmd_cands(a):
    now = time.monotonic_ns()     # bpf_ktime_get_ns: CLOCK_MONOTONIC
    for k, v in map_dump(os.path.join(a.pin, "mig_flows")):
        if tuple_of(k)["raddr"] != a.raddr:
            continue
        live = used = 0
        for i in range(NCAND):
            c = v[F_CAND + i * CAND_SIZE:F_CAND + (i + 1) * CAND_SIZE]
            if c[36]:                             # wire.family
                used += 1
                exp, = struct.unpack("=Q", c[48:56])
                live += exp > now
        print(json.dumps({"live": live, "used": used}))
        return 0
    raise SystemExit("no flow with remote address %s" % a.raddr)


def cmd_orphans(a):
    """mig_cand entries that no candidate slot of their flow names."""
    flows = dict(map_dump(os.path.join(a.pin, "mig_flows")))
    bad = []
    for k, v in map_dump(os.path.join(a.pin, "mig_cand")):
        f = flows.get(v[0:40])                    # mig_cand_ref.sock
        slots = [f[F_CAND + i * CAND_SIZE:F_CAND + i * CAND_SIZE + 40]
                 for i in range(NCAND)] if f else []
        if k not in slots:
            bad.append(tuple_of(k))
    print(json.dumps({"orphans": bad}))
    return 1 if bad else 0


def cmd_sample(a):
    path = os.path.join(a.pin, a.map)
    mx, n, last = 0, 0, None
    deadline = time.time() + a.max_seconds
    while time.time() < deadline:
        done = os.path.exists(a.until)
        last = len(map_dump(path))
        mx, n = max(mx, last), n + 1
        if done:
            break
        time.sleep(0.02)
    print(json.dumps({"max": mx, "samples": n, "last": last}))
    return 0


# ---------------------------------------------------------------------------
# Captures

def parse_tcp(ip):
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP:
        return None
    ihl = (ip[0] & 0x0F) * 4
    tot = struct.unpack("!H", ip[2:4])[0]
    ip = ip[:tot]
    t = ip[ihl:]
    if len(t) < 20:
        return None
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", t[:16])
    hl = (off >> 4) * 4
    d = {"src": socket.inet_ntoa(ip[12:16]), "dst": socket.inet_ntoa(ip[16:20]),
         "sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags, "win": win,
         "hlen": hl, "plen": max(0, tot - ihl - hl), "sub": None}
    o = t[20:hl]
    if hl == 48 and len(o) == 28 and o[0] == KIND and o[1] == OPTLEN and \
            struct.unpack("!H", o[2:4])[0] == EXID:
        d["sub"] = o[4]
        d["reqno"] = struct.unpack("!I", o[5:9])[0]
        d["id"] = o[9:17].hex()                   # token or nonce
    return d


def read_pcap(path):
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
    link = struct.unpack(end + "I", data[20:24])[0]
    out, off = [], 24
    while off + 16 <= len(data):
        _s, _f, incl, _o = struct.unpack(end + "IIII", data[off:off + 16])
        off += 16
        if off + incl > len(data):
            break
        fr = data[off:off + incl]
        off += incl
        if link == 1:
            et, p = struct.unpack("!H", fr[12:14])[0], 14
        elif link == 113:
            et, p = struct.unpack("!H", fr[14:16])[0], 16
        elif link == 101:
            et, p = 0x0800, 0
        else:
            continue
        if et == 0x0800:
            d = parse_tcp(fr[p:])
            if d:
                out.append(d)
    return out


def cmd_count(a):
    expr = compile(a.expr, "<expr>", "eval")
    print(sum(1 for d in read_pcap(a.pcap) if eval(expr, {}, {"d": d})))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("selftest")
    s = sub.add_parser("flow")
    s.add_argument("--pin", required=True)
    s.add_argument("--dport", type=int, required=True)
    for name in ("msyn", "confirm"):
        s = sub.add_parser(name)
        s.add_argument("--pin", required=True)
        s.add_argument("--dst", required=True)
        s.add_argument("--dport", type=int, required=True)
        s.add_argument("--src", required=True)
        s.add_argument("--count", type=int, default=1)
        s.add_argument("--max-seconds", type=float, default=10)
        if name == "msyn":
            s.add_argument("--sport", default="40000")
            s.add_argument("--rate", type=float, default=0)
            s.add_argument("--reqno", type=int)
            s.add_argument("--ack", type=int)
        else:
            s.add_argument("--sport", type=int, required=True)
    s = sub.add_parser("churn")
    s.add_argument("--pin", required=True)
    s.add_argument("--dst", required=True)
    s.add_argument("--dport", type=int, required=True)
    s.add_argument("--src", required=True)
    s.add_argument("--dev", required=True)
    s.add_argument("--until", required=True)
    s.add_argument("--count", type=int, default=20000)
    s.add_argument("--max-seconds", type=float, default=60)
    s = sub.add_parser("cands")
    s.add_argument("--pin", required=True)
    s.add_argument("--raddr", required=True)
    s = sub.add_parser("orphans")
    s.add_argument("--pin", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--pin", required=True)
    s.add_argument("--map", required=True)
    s.add_argument("--until", required=True)
    s.add_argument("--max-seconds", type=float, default=60)
    s = sub.add_parser("count")
    s.add_argument("pcap")
    s.add_argument("expr")
    a = p.parse_args()
    return globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
