#!/usr/bin/env python3
"""rawtcp.py - hand-made TCP segments with chosen options, for the tests
that feed malformed Migrate options to a host.

  rawtcp.py syn SRC DST DPORT OPTHEX
      send one SYN from SRC to DST:DPORT whose option area is OPTHEX
      (padded with EOL to a multiple of 4)
  rawtcp.py synack-server ADDR PORT OPTHEX COUNT TIMEOUT
      answer up to COUNT SYNs to ADDR:PORT with a SYN/ACK whose option area
      is OPTHEX, then ACK whatever follows; stop after TIMEOUT seconds.
      The host's own kernel must be kept from answering (the test drops
      its RSTs with nftables).

IPv4 only; run inside a lab host.  Bounded in count and time.
"""
import random
import socket
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def segment(src, dst, sport, dport, seq, ack, flags, opts):
    opts = bytes(opts)
    opts += b"\0" * (-len(opts) % 4)
    if len(opts) > 40:
        raise SystemExit("option area longer than 40 bytes: %d" % len(opts))
    doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags,
                      65535, 0, 0) + opts
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(
        "!BBH", 0, socket.IPPROTO_TCP, len(hdr))
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def raw_socket(bind_addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
    s.bind((bind_addr, 0))
    return s


def cmd_syn(src, dst, dport, opthex):
    s = raw_socket(src)
    seg = segment(src, dst, random.randint(20000, 60000), int(dport),
                  random.getrandbits(32), 0, 0x02, bytes.fromhex(opthex))
    s.sendto(seg, (dst, 0))
    return 0


def cmd_synack_server(addr, port, opthex, count, timeout):
    s = raw_socket(addr)
    s.settimeout(0.2)
    port, count, deadline = int(port), int(count), time.time() + float(timeout)
    opts = bytes.fromhex(opthex)
    answered = 0
    while time.time() < deadline:
        try:
            pkt, _ = s.recvfrom(65535)
        except socket.timeout:
            continue
        ihl = (pkt[0] & 0x0F) * 4
        src = socket.inet_ntoa(pkt[12:16])
        dst = socket.inet_ntoa(pkt[16:20])
        if dst != addr or len(pkt) < ihl + 20:
            continue
        sport, dport, seq, _ack, doff, flags = struct.unpack(
            "!HHIIBB", pkt[ihl:ihl + 14])
        if dport != port:
            continue
        plen = len(pkt) - ihl - (doff >> 4) * 4
        if flags & 0x02 and not flags & 0x10:
            if answered >= count:
                continue
            answered += 1
            s.sendto(segment(addr, src, port, sport, 1000, seq + 1, 0x12,
                             opts), (src, 0))
        elif flags & 0x01 or plen > 0:
            # ACK data and FIN so the peer's socket can finish
            fin = 1 if flags & 0x01 else 0
            s.sendto(segment(addr, src, port, sport, 1001, seq + plen + fin,
                             0x10 | (0x01 if fin else 0), b""), (src, 0))
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "syn":
        return cmd_syn(*argv[2:])
    if len(argv) == 7 and argv[1] == "synack-server":
        return cmd_synack_server(*argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
