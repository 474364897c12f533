#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""pausesend.py listen|connect ADDR PORT FILE PAUSE_AT CTL [TIMEOUT_S]

Send FILE over one TCP connection as fast as the connection takes it,
but stop after PAUSE_AT bytes: then create CTL.paused and wait until
CTL.go exists (polled every 20 ms, at most TIMEOUT_S seconds, default
120), send the rest and shut down the sending side.  A receiver that
reads until EOF gets FILE byte-exact.  Exit 0 when everything was sent,
1 on any error (printed).  Test helper: `listen` accepts one connection
and then stops listening; IPv6 when ADDR has a colon.  PAUSESEND_CC in
the environment: the connection's congestion control (TCP_CONGESTION).
"""
import os
import socket
import sys
import time


def main(argv):
    if len(argv) not in (7, 8) or argv[1] not in ("listen", "connect"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    mode, addr, port, path, ctl = argv[1], argv[2], int(argv[3]), argv[4], argv[6]
    pause_at = int(argv[5])
    timeout = float(argv[7]) if len(argv) == 8 else 120.0
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if mode == "listen":
        ls = socket.socket(fam, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(1)
        sock, _ = ls.accept()
        ls.close()
    else:
        sock = socket.create_connection((addr, port), timeout=30)
        sock.settimeout(None)
    cc = os.environ.get("PAUSESEND_CC")
    if cc:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
    sent = 0
    with open(path, "rb") as f:
        head = f.read(pause_at)
        sock.sendall(head)
        sent += len(head)
        with open(ctl + ".paused", "w") as m:
            m.write("%d\n" % sent)
        deadline = time.monotonic() + timeout
        while not os.path.exists(ctl + ".go"):
            if time.monotonic() > deadline:
                print("pausesend: not released within %gs" % timeout, file=sys.stderr)
                return 1
            time.sleep(0.02)
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                break
            sock.sendall(chunk)
            sent += len(chunk)
    sock.shutdown(socket.SHUT_WR)
    # until the peer closes: everything was read
    while sock.recv(1 << 16):
        pass
    sock.close()
    print("pausesend: sent %d bytes" % sent)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, ValueError) as e:
        print("pausesend: %s" % e, file=sys.stderr)
        sys.exit(1)
