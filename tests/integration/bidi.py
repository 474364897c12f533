#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bidi.py listen|connect ADDR PORT SEND_FILE RECV_FILE RATE_BYTES_PER_S

One TCP connection carrying data both ways at once: send SEND_FILE paced
at RATE, then shut down the sending side; meanwhile write everything
received to RECV_FILE until the peer shuts down its side.  Exit 0 when
both directions ended cleanly, 1 on any error (printed).  Test helper:
`listen` accepts one connection and then stops listening.
"""
import socket
import sys
import threading
import time


def sender(sock, path, rate, errors):
    try:
        start = time.monotonic()
        sent = 0
        with open(path, "rb") as f:
            while True:
                chunk = f.read(65536)
                if not chunk:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
        sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        errors.append("send: %s" % e)


def main():
    if len(sys.argv) != 7 or sys.argv[1] not in ("listen", "connect"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    mode, addr, port, send_path, recv_path, rate = sys.argv[1:]
    port, rate = int(port), float(rate)
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    if mode == "listen":
        ls = socket.socket(family, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((addr, port))
        ls.listen(1)
        sock, _ = ls.accept()
        ls.close()
    else:
        sock = socket.create_connection((addr, port))
    errors = []
    t = threading.Thread(target=sender, args=(sock, send_path, rate, errors))
    t.start()
    try:
        with open(recv_path, "wb") as out:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                out.write(data)
    except OSError as e:
        errors.append("recv: %s" % e)
    t.join()
    sock.close()
    for e in errors:
        print("bidi.py: %s" % e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
