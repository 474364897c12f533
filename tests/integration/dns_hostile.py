#!/usr/bin/env python3
# dns_hostile.py ADDR PORT - a hostile DNS server for the lab: answers every
# datagram with a reply that matches the query's ID and has QR set, and then
# garbage (a header that claims 65535 questions and ends there). Runs until
# killed; prints one line per answer.
import socket
import sys

fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 2:
        continue
    r = q[:2] + b"\x84\x00" + b"\xff\xff" * 4 + b"\xc0\x0c\xff"
    s.sendto(r, peer)
    print("garbage to", peer[0], flush=True)
