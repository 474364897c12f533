#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""
handover.py - the paced stream of bench/handover.sh, and its analysis.

  handover.py send PORT MODE LOG [--mptcp] [--connect HOST]
      listen on PORT (TCP, or MPTCP with --mptcp), accept one connection and
      write to it (with --connect: connect to HOST:PORT instead): MODE
      "sender" or "upload" writes RATE bytes/s in 1 ms ticks (never
      catching up on missed ticks), MODE "receiver" writes as fast as the
      socket takes it (the reader sets the pace).  LOG gets one line per
      write: "<CLOCK_REALTIME ns> <bytes written so far>".
  handover.py recv HOST PORT MODE LOG [--mptcp] [--listen]
      connect and read (with --listen: accept one connection on PORT
      instead, HOST unused); MODE "receiver" reads at most RATE bytes/s,
      "sender" and "upload" read whatever arrives.  LOG gets a line
      whenever the bytes that reached the socket (read so far + SIOCINQ)
      change: "<CLOCK_REALTIME ns> <bytes arrived so far>".
  The downloads ("sender", "receiver") run send on the server and recv on
  the mobile; the upload runs send --connect on the mobile (the host that
  moves has the data in flight) and recv --listen on the server.
  handover.py run T0_NS SENDLOG RECVLOG [TB_NS]
      one handover: prints "<first new byte ms> <backlog drained ms>" from
      T0_NS (the new address appearing), or "- -" if no byte arrived after
      it.  First new byte: the first time the bytes arrived at the receiving
      socket grow after T0.  Backlog drained: the first time the bytes
      arrived reach what the sender had written by T0.  With TB_NS (the
      break), two more: the longest pause between new bytes in the second
      before TB, and the pause the move fell into (from the last new byte
      before TB to the first new byte after T0), which for D = 0 is what a
      reader whose window was closed at the break waited in all.
  handover.py watch SENDLOG RECVLOG TIMEOUT_S
      started before the break, reads T0_NS from its standard input, then
      follows both logs (every 2 ms, reading only what was appended) and
      exits once the run is complete as `run` would see it (first new byte
      and backlog drained), or TIMEOUT_S after T0.  bench/handover.sh waits
      for it instead of starting `run` every 100 ms: each start of a
      Python process costs tens of ms of CPU, which the labs' handovers,
      measured meanwhile on the same CPUs, paid.
  handover.py table RESULTS
      RESULTS: lines "<variant> <mode> <D> <first ms|-> <drain ms|->";
      prints the markdown rows (min / median / max, never resumed).

The clocks are CLOCK_REALTIME in every namespace of the lab (one host).
"""
import fcntl
import os
import select
import socket
import struct
import sys
import time

IPPROTO_MPTCP = 262
SIOCINQ = 0x541B
RATE_SENDER = int(os.environ.get("HANDOVER_SEND_RATE", 2_000_000))
RATE_READER = int(os.environ.get("HANDOVER_READ_RATE", 4_000_000))


def proto(args):
    return IPPROTO_MPTCP if "--mptcp" in args else 0


def accept_one(port, args):
    """(the connection, its listener): the listener stays open, MPTCP
    joins arrive through it"""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto(args))
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(1)
    s, _ = ls.accept()
    return s, ls


def connect(host, port, args):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, proto(args))
    s.connect((host, port))
    return s


def send(port, mode, log, args):
    if "--connect" in args:
        s, ls = connect(args[args.index("--connect") + 1], port, args), None
    else:
        s, ls = accept_one(port, args)
    out = open(log, "w", buffering=1)   # read while written
    buf = b"\xa5" * 65536
    written = 0
    per_tick = max(RATE_SENDER // 1000, 1)
    nxt = time.monotonic()
    try:
        while True:
            if mode in ("sender", "upload"):
                nxt += 0.001
                d = nxt - time.monotonic()
                if d > 0:
                    time.sleep(d)
                else:
                    nxt = time.monotonic()   # late: no catching up
                n = s.send(buf[:per_tick])
            else:
                n = s.send(buf)
            written += n
            out.write(f"{time.time_ns()} {written}\n")
    except (BrokenPipeError, ConnectionResetError, OSError):
        pass
    out.close()


def recv(host, port, mode, log, args):
    if "--listen" in args:
        s, ls = accept_one(port, args)
    else:
        s, ls = connect(host, port, args), None
    out = open(log, "w", buffering=1)   # read while written
    total = arrived = 0
    tokens, last = 0.0, time.monotonic()
    p = select.poll()
    p.register(s, select.POLLIN)
    inq = bytearray(4)
    while True:
        paced = mode == "receiver"
        if paced:
            now = time.monotonic()
            tokens = min(tokens + (now - last) * RATE_READER, RATE_READER / 100)
            last = now
        # a paced reader that may read nothing now still looks every ms
        p.poll(1 if paced and tokens < 1 else 1000)
        fcntl.ioctl(s.fileno(), SIOCINQ, inq)
        q = struct.unpack("i", inq)[0]
        if total + q != arrived:
            arrived = total + q
            out.write(f"{time.time_ns()} {arrived}\n")
        want = q if not paced else min(q, int(tokens))
        if want <= 0:
            if q == 0 and not paced:
                # readable with nothing queued: the end
                if not s.recv(1, socket.MSG_PEEK):
                    break
            continue
        d = s.recv(want)
        if not d:
            break
        total += len(d)
        if paced:
            tokens -= len(d)
    out.close()


def rows_of(lines):
    """(time ns, bytes) of each complete log line"""
    out = []
    for line in lines:
        p = line.split()
        if len(p) == 2:
            out.append((int(p[0]), int(p[1])))
    return out


def load(path):
    with open(path) as f:
        return rows_of(f)


def longest_pause(rcv, tb):
    """The longest time without a new byte at the receiving socket in the
    second before the break at tb (ns): what the download does without a
    move (a receiver-paced one waits for its reader to open the window)."""
    ts = [t for t, b in rcv if tb - 1_000_000_000 <= t < tb]
    if len(ts) < 2:
        return "-"
    gap = max(b - a for a, b in zip(ts, ts[1:] + [tb]))
    return f"{gap / 1e6:.1f}"


def one_run(t0, slog, rlog, tb=None):
    snd, rcv = load(slog), load(rlog)
    written = max([b for t, b in snd if t <= t0], default=0)
    before = max([b for t, b in rcv if t <= t0], default=0)
    first = next((t for t, b in rcv if t > t0 and b > before), None)
    drain = next((t for t, b in rcv if t > t0 and b >= written), None)
    pause = across = ""
    if tb is not None:
        pause = " " + longest_pause(rcv, tb)
        # the pause that the move fell into: from the last new byte
        # before the break to the first after the move
        last = max([t for t, b in rcv if t < tb], default=None)
        across = " -" if first is None or last is None else f" {(first - last) / 1e6:.1f}"
    if first is None:
        return "- -" + pause + across
    fm = (first - t0) / 1e6
    dm = "-" if drain is None else f"{(drain - t0) / 1e6:.1f}"
    return f"{fm:.1f} {dm}{pause}{across}"


class Follow:
    """The lines appended to a log since the last call."""

    def __init__(self, path):
        self.path, self.f, self.part = path, None, b""

    def _open(self):
        if self.f is None:
            try:
                self.f = open(self.path, "rb")
            except FileNotFoundError:
                return False
        return True

    def skip_to(self, t0):
        """Go on from near the log's end: from a row at or before t0 (the
        byte counts only grow, so the last such row holds the most up to
        t0), found by reading back from the end.  The watcher needs no more
        at the move; parsing the whole run's log there took a CPU for 1.4
        to 3 ms at D = 10 s, right when the handover is measured."""
        if not self._open():
            return
        size = os.fstat(self.f.fileno()).st_size
        n = 4096
        while n < 2 * size:
            start = size - n
            self.f.seek(start)
            chunk = self.f.read(n)
            cut = chunk.find(b"\n") + 1      # the first whole line
            end = chunk.find(b"\n", cut)
            # (rows are in time order: the first whole one tells)
            first = rows_of([chunk[cut:end].decode()]) if cut and end > 0 else []
            if first and first[0][0] <= t0:
                self.f.seek(start + cut)
                self.part = b""
                return
            n *= 8
        self.f.seek(0)      # (all of it)
        self.part = b""

    def rows(self):
        if not self._open():
            return []
        lines = (self.part + self.f.read()).split(b"\n")
        self.part = lines.pop()     # (a line still being written)
        return rows_of(l.decode() for l in lines)


def watch(slog, rlog, timeout):
    line = sys.stdin.readline()
    if not line.strip():
        return      # the shell went away before the move
    t0 = int(line)
    end = time.monotonic() + timeout
    snd, rcv = Follow(slog), Follow(rlog)
    written = before = 0
    after = -1      # the most bytes arrived at a time after t0
    snd.skip_to(t0)
    rcv.skip_to(t0)
    while time.monotonic() < end:
        for t, b in snd.rows():
            if t <= t0:
                written = max(written, b)
        for t, b in rcv.rows():
            if t <= t0:
                before = max(before, b)
            else:
                after = max(after, b)
        if after > before and after >= written:
            return
        # (this only ends the run: the figures come from the logs)
        time.sleep(0.005)


def fmt(v):
    if not v:
        return "-"
    v = sorted(v)
    med = v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

    def f(x):
        return f"{x:.0f}" if x >= 100 else f"{x:.1f}"
    return f"{f(v[0])} / {f(med)} / {f(v[-1])}"


NAMES = {
    "migrate": "migrate",
    "mptcp": "MPTCP, endpoint added",
    "mptcpd": "MPTCP, mptcpd",
    "mptcp-hand": "MPTCP, old endpoint deleted after the new one is added",
    "migrate-rf": "migrate, default route before the address",
}
MODES = {"sender": "download, sender-paced", "receiver": "download, receiver-paced",
         "upload": "upload (the mobile sends), sender-paced"}


def table(path):
    res = {}
    order = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) not in (5, 6, 7):
                continue
            k = (p[1], int(p[2]), p[0])
            if k not in res:
                res[k] = ([], [], [0, 0], [], [])
                order.append(k)
            first, drain, n, pause, across = res[k]
            n[1] += 1
            if len(p) >= 6 and p[5] != "-":
                pause.append(float(p[5]))
            if len(p) == 7 and p[6] != "-" and k[1] == 0 and k[0] == "receiver":
                across.append(float(p[6]))
            if p[3] == "-":
                n[0] += 1
                continue
            first.append(float(p[3]))
            if p[4] != "-":
                drain.append(float(p[4]))
    vorder = list(NAMES)
    order.sort(key=lambda k: (list(MODES).index(k[0]) if k[0] in MODES else 9, k[1],
                              vorder.index(k[2]) if k[2] in vorder else 9))
    print("| stream | D | variant | first new byte, ms (min / median / max) "
          "| backlog drained, ms (min / median / max) | never resumed "
          "| baseline: longest pause in the second before the break, ms "
          "| receiver-paced, D = 0: the pause the move fell into, ms |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for k in order:
        first, drain, n, pause, across = res[k]
        print(f"| {MODES.get(k[0], k[0])} | {k[1]} s | {NAMES.get(k[2], k[2])} | "
              f"{fmt(first)} | {fmt(drain)} | {n[0]} of {n[1]} | {fmt(pause)} | {fmt(across)} |")


def main(a):
    if len(a) >= 4 and a[0] == "send":
        send(int(a[1]), a[2], a[3], a[4:])
    elif len(a) >= 5 and a[0] == "recv":
        recv(a[1], int(a[2]), a[3], a[4], a[5:])
    elif len(a) in (4, 5) and a[0] == "run":
        print(one_run(int(a[1]), a[2], a[3], int(a[4]) if len(a) == 5 else None))
    elif len(a) == 4 and a[0] == "watch":
        watch(a[1], a[2], float(a[3]))
    elif len(a) == 2 and a[0] == "table":
        table(a[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
