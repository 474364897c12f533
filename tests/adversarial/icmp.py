#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""icmp.py - forged ICMP errors about a keyed flow, for
tests/adversarial/test_icmp.sh: an on-path attacker (it has seen the
flow's packets, so it knows its tuples and sequence numbers) tells a host
that the path to its peer has a smaller MTU.

Python 3 standard library only; every sender is bounded in count.  Run it
inside a lab host (nsenter --net=...).

  icmp.py snd-una --pin DIR --lport P --family 4|6
      SND.UNA of the keyed socket with local port P (a test oracle, the
      attacker's knowledge): its own ISN from DIR/mig_flows (isn_i for the
      initiator, isn_r for the responder) + 1 + ss's bytes_acked (the SYN
      is not in it on the passive side; on the active side it is, and
      ss's count starts at 1 there).  Prints the number.
  icmp.py pmtu --src A --dst A --qsrc A --qsport P --qdst A --qdport P
               --seq N --mtu M [--count N]
      COUNT "fragmentation needed" (ICMPv4 3/4) or "packet too big"
      (ICMPv6 2/0) errors from our own address SRC to DST, next-hop MTU
      M, quoting the IP header and the first 8 bytes of a TCP segment
      QSRC:QSPORT -> QDST:QDPORT with sequence number SEQ, the way a
      router on the path would.  Prints {"sent": N}.
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys

# one implementation each: the checksum (craft.py) and the map dump (peer.py)
from craft import csum  # noqa: E402
from peer import F_ISN_I, F_ISN_R, F_ROLE, map_dump  # noqa: E402

# (mig_flows' key is struct mig_tuple: laddr[16] raddr[16] lport rport family)
ROLE_INITIATOR, ROLE_RESPONDER = 1, 2


def cmd_snd_una(a):
    fam = socket.AF_INET if a.family == 4 else socket.AF_INET6
    flows = [(k, v) for k, v in map_dump(os.path.join(a.pin, "mig_flows"))
             if k[36] == fam and struct.unpack("!H", k[32:34])[0] == a.lport]
    if len(flows) != 1:
        raise SystemExit("%d keyed IPv%d flows with local port %d in %s"
                         % (len(flows), a.family, a.lport, a.pin))
    k, v = flows[0]
    rport = struct.unpack("!H", k[34:36])[0]
    role = v[F_ROLE]
    if role not in (ROLE_INITIATOR, ROLE_RESPONDER):
        raise SystemExit("flow with local port %d has role %d" % (a.lport, role))
    isn = struct.unpack("=I", v[F_ISN_I if role == ROLE_INITIATOR else F_ISN_R:][:4])[0]
    out = subprocess.run(["ss", "-Htin", "-%d" % a.family, "state", "established",
                          "( sport = :%d and dport = :%d )" % (a.lport, rport)],
                         check=True, capture_output=True, text=True).stdout
    # one line per socket, its TCP info on an indented line of its own
    socks = [ln for ln in out.splitlines() if ln and not ln[0].isspace()]
    if len(socks) != 1:
        raise SystemExit("%d established sockets :%d -> :%d" % (len(socks), a.lport, rport))
    # ss leaves bytes_acked out while it is 0
    acked = [int(w.split(":")[1]) for w in out.split() if w.startswith("bytes_acked:")]
    # the active side's count includes its SYN (ss starts it at 1)
    una = isn + (acked[0] if acked else 0) + (0 if role == ROLE_INITIATOR else 1)
    print(una & 0xFFFFFFFF)
    return 0


def cmd_pmtu(a):
    v6 = ":" in a.dst
    tcp8 = struct.pack("!HHI", a.qsport, a.qdport, a.seq & 0xFFFFFFFF)
    if not v6:
        qs, qd = socket.inet_aton(a.qsrc), socket.inet_aton(a.qdst)
        ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 0x4d47, 0x4000, 64,
                                   socket.IPPROTO_TCP, 0, qs, qd))
        ip[10:12] = struct.pack("!H", csum(bytes(ip)))
        msg = bytearray(struct.pack("!BBHHH", 3, 4, 0, 0, a.mtu) + bytes(ip) + tcp8)
        msg[2:4] = struct.pack("!H", csum(bytes(msg)))
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        s.bind((a.src, 0))
        dst = (a.dst, 0)
    else:
        qs, qd = socket.inet_pton(socket.AF_INET6, a.qsrc), socket.inet_pton(socket.AF_INET6, a.qdst)
        ip = struct.pack("!IHBB16s16s", 6 << 28, 1440, socket.IPPROTO_TCP, 64, qs, qd)
        # the kernel fills the ICMPv6 checksum of a raw ICMPv6 socket
        msg = struct.pack("!BBHI", 2, 0, 0, a.mtu) + ip + tcp8
        s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        s.bind((a.src, 0))
        dst = (a.dst, 0, 0, 0)
    sent = 0
    for _ in range(a.count):
        s.sendto(bytes(msg), dst)
        sent += 1
    print(json.dumps({"sent": sent}))
    return 0


def main():
    ap = argparse.ArgumentParser(description="forged ICMP errors (tests/adversarial)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("snd-una")
    u.add_argument("--pin", required=True)
    u.add_argument("--lport", type=int, required=True)
    u.add_argument("--family", type=int, choices=(4, 6), required=True)
    p = sub.add_parser("pmtu")
    for n in ("src", "dst", "qsrc", "qdst"):
        p.add_argument("--" + n, required=True)
    for n in ("qsport", "qdport", "seq", "mtu"):
        p.add_argument("--" + n, type=int, required=True)
    p.add_argument("--count", type=int, default=1)
    a = ap.parse_args()
    if a.cmd == "pmtu" and not 1 <= a.count <= 1000:
        ap.error("--count: 1 to 1000, not %d" % a.count)
    return {"snd-una": cmd_snd_una, "pmtu": cmd_pmtu}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
