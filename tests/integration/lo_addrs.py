#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""lo_addrs.py - the addresses on lo with their address protocol (IFA_PROTO),
read with one RTM_GETADDR dump (iproute2 6.1 does not show the protocol).

Prints one line per address on lo: "ADDR/PREFIX PROTO" (PROTO in decimal,
0 when the kernel reports none). Run it in the namespace to look at.
"""
import ipaddress
import socket
import struct
import sys

RTM_GETADDR, RTM_NEWADDR, NLMSG_DONE, NLMSG_ERROR = 22, 20, 3, 2
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
IFA_ADDRESS, IFA_LOCAL, IFA_PROTO = 1, 2, 11


def dump():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    req = struct.pack("=LHHLL", 16 + 8, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 1, 0)
    req += struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0)
    s.send(req)
    out = []
    while True:
        buf = s.recv(65536)
        off = 0
        while off + 16 <= len(buf):
            ln, typ, _, _, _ = struct.unpack_from("=LHHLL", buf, off)
            if ln < 16:
                return out
            if typ == NLMSG_DONE:
                return out
            if typ == NLMSG_ERROR:
                sys.exit("netlink error")
            if typ == RTM_NEWADDR:
                fam, plen, _, _, idx = struct.unpack_from("=BBBBI", buf, off + 16)
                attrs, a = {}, off + 24
                while a + 4 <= off + ln:
                    alen, atyp = struct.unpack_from("=HH", buf, a)
                    if alen < 4:
                        break
                    attrs[atyp & 0x3FFF] = buf[a + 4:a + alen]
                    a += (alen + 3) & ~3
                raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
                if idx == 1 and raw:
                    addr = ipaddress.ip_address(raw)
                    proto = attrs[IFA_PROTO][0] if IFA_PROTO in attrs else 0
                    out.append(f"{addr}/{plen} {proto}")
            off += (ln + 3) & ~3


if __name__ == "__main__":
    for line in dump():
        print(line)
