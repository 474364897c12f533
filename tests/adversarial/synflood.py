#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""synflood.py - a paced, bounded SYN flood for tests/adversarial/test_flood.sh:
IPv4 SYNs that offer the Migrate option (MP_SYN: kind 253, length 20, ExID
0x4D47, 16 random bytes of public key half), each from a random source
address of a spoofed documentation network and a random source port.

Python 3 standard library only.  Run it inside a lab host (nsenter
--net=...), pinned to one CPU (taskset); the segments leave through a
SOCK_RAW socket with IP_HDRINCL.

  synflood.py --dst A --dport P --spoof NET [--rate PPS] [--seconds S]
              [--count N] [--hold FILE]
      Send SYNs at PPS per second (paced against the clock, default
      5000) for S seconds (default 20) or until N were sent (default and
      upper bound 100000), whichever comes first.  With --hold, go on
      at the same rate after that until FILE exists (a test's checks
      then run during the flood however slow the machine), 60 s in all
      at most.  NET (e.g.
      198.51.100.128/25) must lie in 192.0.2.0/24, 198.51.100.0/24 or
      203.0.113.0/24; its network and broadcast addresses are not used.
      The options are those of a Linux SYN (MSS, SACK permitted,
      timestamps, NOP, window scale), then MP_SYN: 40 bytes, the most a
      SYN can carry.  Prints one JSON line: {"sent", "errors", "seconds",
      "rate", "max_lag"} (max_lag: the most the sender fell behind its
      schedule, in segments).
  synflood.py selftest
      Checksums of a built segment verify.
"""
import argparse
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import time

MAX_COUNT = 100000
HOLD_MAX_S = 60.0
DOC_NETS = [ipaddress.ip_network(n) for n in
            ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")]
KIND, EXID, MPSYN_LEN = 253, 0x4D47, 20


def csum(data):
    if len(data) & 1:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(rng, src, dst, sport, dport):
    """IPv4 header + TCP SYN with MSS, SACK_PERM, TS, NOP, WS and MP_SYN."""
    opts = (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02" +
            struct.pack("!BBII", 8, 10, rng.getrandbits(32), 0) +
            b"\x01" + struct.pack("!BBB", 3, 3, 7) +
            struct.pack("!BBH", KIND, MPSYN_LEN, EXID) +
            rng.getrandbits(128).to_bytes(16, "big"))
    assert len(opts) == 40
    tcp = struct.pack("!HHIIBBHHH", sport, dport, rng.getrandbits(32), 0,
                      (20 + len(opts)) // 4 << 4, 0x02, 64240, 0, 0) + opts
    pseudo = src + dst + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    c = csum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp),
                     rng.getrandbits(16), 0x4000, 64, socket.IPPROTO_TCP,
                     0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return ip + tcp


def doc_net(s):
    try:
        n = ipaddress.ip_network(s, strict=True)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))
    if n.version != 4 or not any(n.subnet_of(d) for d in DOC_NETS) \
            or n.num_addresses < 4:
        raise argparse.ArgumentTypeError(
            "%s: not a /30 or larger part of 192.0.2.0/24, 198.51.100.0/24 "
            "or 203.0.113.0/24" % s)
    return n


def doc_addr(s):
    a = ipaddress.ip_address(s)
    if a.version != 4 or not any(a in d for d in DOC_NETS):
        raise argparse.ArgumentTypeError("%s: not a documentation address" % s)
    return a


def cmd_flood(a):
    rng = random.Random(os.urandom(16))
    first = int(a.spoof.network_address) + 1
    last = int(a.spoof.broadcast_address) - 1
    dst = a.dst.packed
    count = min(a.count, MAX_COUNT)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    target = (str(a.dst), 0)
    sent = errors = max_lag = 0
    start = time.monotonic()
    end = start + a.seconds
    held = False
    while True:
        now = time.monotonic()
        if held and os.path.exists(a.hold):
            break
        if now >= end or sent >= count:
            # the timed part is over: stop, or hold on until the file
            if not a.hold or now - start >= HOLD_MAX_S or os.path.exists(a.hold):
                break
            if not held:
                held = True
                end = start + HOLD_MAX_S
                count = sent + int(a.rate * HOLD_MAX_S)
        due = min(count, int((now - start) * a.rate) + 1)
        max_lag = max(max_lag, due - sent)
        # catch up at most 50 ms worth at once (a descheduled sender
        # must not burst far above the rate)
        n = min(due - sent, max(1, a.rate // 20))
        for _ in range(n):
            src = struct.pack("!I", rng.randint(first, last))
            pkt = syn(rng, src, dst, rng.randint(1024, 65535), a.dport)
            try:
                s.sendto(pkt, target)
            except OSError:
                errors += 1
            sent += 1
        if sent < due:
            continue
        # sleep until the next segment is due
        nxt = start + sent / a.rate
        d = nxt - time.monotonic()
        if d > 0:
            time.sleep(d)
    el = time.monotonic() - start
    print(json.dumps({"sent": sent, "errors": errors,
                      "seconds": round(el, 3),
                      "rate": round(sent / el, 1) if el > 0 else 0,
                      "held": held,
                      "max_lag": max_lag}), flush=True)
    return 0


def cmd_selftest(_a):
    rng = random.Random(1)
    src, dst = bytes([198, 51, 100, 200]), bytes([203, 0, 113, 1])
    p = syn(rng, src, dst, 40000, 5001)
    assert len(p) == 80 and p[0] == 0x45 and p[9] == 6
    assert csum(p[:20]) == 0, "ip checksum"
    tcp = p[20:]
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    assert csum(pseudo + tcp) == 0, "tcp checksum"
    assert tcp[12] >> 4 == 15 and tcp[13] == 0x02
    assert tcp[40:44] == bytes([253, 20, 0x4D, 0x47])
    print("selftest ok")
    return 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "selftest":
        return cmd_selftest(None)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dst", type=doc_addr, required=True)
    p.add_argument("--dport", type=int, required=True)
    p.add_argument("--spoof", type=doc_net, required=True)
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--count", type=int, default=MAX_COUNT)
    p.add_argument("--hold", default=None)
    a = p.parse_args()
    if not 1 <= a.rate <= 100000 or not 0 < a.seconds <= 60 or a.count < 1:
        p.error("--rate 1..100000, --seconds up to 60, --count at least 1")
    return cmd_flood(a)


if __name__ == "__main__":
    sys.exit(main())
