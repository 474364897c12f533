#!/usr/bin/env bash
# Many keyed flows move at once: the mobile holds N (default 1600) idle
# keyed connections and changes its address; every one of them commits
# and carries data again.  (The agent's move slots start at 64 and grow
# as needed, up to --max-flows: N is more than the 1024 fixed slots of
# earlier versions, where the flows beyond them waited for slots to free.)
#
# The server's agent is stopped (SIGSTOP) while the N connections are
# made: its ring buffer (256 KiB, 192-byte events) fills, and the
# "keyed" events of the last few hundred find no room.  Continued, the
# agent finds those connections in the socket table (mig_keyed.bpf.c):
# without that they would stay plain at the server, keyed at the
# mobile, and the move would meet the server's RST.  The events that
# waited come at once: the agent logs at most 10 "keyed" lines a second
# and says how many more.
#
# It is stopped again over the move: the data path commits without it,
# and the commits' events overflow its ring buffer the same way.
# Continued, it finds the commits whose events were lost in its flows and
# does what their events would have made it do (restart the congestion
# state, resume the socket, reserve the new wire tuple).
#
#   mobile (agent)                      router (fwd)              server (agent)
#   eth0 192.0.2.1/24    x-x-x-x-x-x-x  a0 192.0.2.254
#   eth1 198.51.100.1/24 - - - - - - -  b0 198.51.100.254
#                                       s0 203.0.113.126/25 ----- eth0 203.0.113.1/25
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

N=${MANYMOVES_N:-1600}

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start server
lab_agent_start mobile --pool 1024

# server: accept, echo every byte, hold; client: open N connections (at
# most 300 a second, so that the pool keeps up), one echo on each (an
# initiator is keyed only once a segment of the responder carried its
# KEY2, and an idle server sends none), then for each line on
# its fifo send one byte on each and print how many echoes came back
# within 20 s
cat >"$LAB_DIR/hold.py" <<'EOF'
import selectors, socket, sys, time
sel = selectors.DefaultSelector()
if sys.argv[1] == "serve":
    l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("0.0.0.0", 5400)); l.listen(2048); l.setblocking(False)
    sel.register(l, selectors.EVENT_READ)
    while True:
        for k, _ in sel.select():
            if k.fileobj is l:
                try:
                    c, _ = l.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False); sel.register(c, selectors.EVENT_READ)
            else:
                try:
                    d = k.fileobj.recv(64)
                except OSError:
                    d = b""
                if d:
                    k.fileobj.send(d)
                else:
                    sel.unregister(k.fileobj); k.fileobj.close()
n = int(sys.argv[2]); cs = []
t0 = time.monotonic()
for i in range(n):
    while i > (time.monotonic() - t0) * 300:
        time.sleep(0.01)
    c = socket.create_connection(("203.0.113.1", 5400), timeout=10)
    c.send(b"k"); c.recv(1)   # the echo carries the responder's half of the key
    cs.append(c)
print("ready", flush=True)
for line in open(sys.argv[3]):
    for c in cs:
        c.setblocking(False); c.send(b"p"); sel.register(c, selectors.EVENT_READ)
    got, end = 0, time.monotonic() + 20
    while got < n and time.monotonic() < end:
        for k, _ in sel.select(0.2):
            try:
                if k.fileobj.recv(64):
                    got += 1
            except OSError:
                pass
            sel.unregister(k.fileobj)
    print("echoed", got, flush=True)
    for c in cs:
        try:
            sel.unregister(c)
        except KeyError:
            pass
EOF
lab_nsexec mobile sysctl -q -w net.ipv4.ip_local_port_range="20000 60000"
lab_bg server srv python3 "$LAB_DIR/hold.py" serve
lab_wait_listen server 5400
mkfifo "$LAB_DIR/go"
lost0=$(counter server events_lost)
rec0=$(counter server keyed_recovered)
kill -STOP "${LAB_AGENT_PID[server]}"
lab_bg mobile cli sh -c "ulimit -n 4096; exec python3 $LAB_DIR/hold.py hold $N $LAB_DIR/go"
exec {go}>"$LAB_DIR/go"

t_begin "$N keyed connections made while the server's agent is stopped: none left plain"
t_check "the client holds $N connections" lab_wait_until $((N / 100 + 30)) grep -q ready "$(lab_log cli)"
kill -CONT "${LAB_AGENT_PID[server]}"
t_cont=$SECONDS
lost=$(($(counter server events_lost) - lost0))
echo "   events the server's ring buffer had no room for: $lost"
t_check "the server's ring buffer overflowed (the case under test)" test "$lost" -gt 0
t_check "both agents keyed all $N" lab_wait_until 30 eval "[ \$(nflows mobile) -ge $N ] && [ \$(nflows server) -ge $N ]"
t_check "the server found every lost one in the socket table" \
	lab_wait_until 10 eq "$lost" eval "echo \$((\$(counter server keyed_recovered) - rec0))"
t_check "the server's agent says so" grep -q "event the full ring buffer lost" "$(lab_log agent-server)"
# the events waiting in its ring buffer came all at once: a line for each
# would be a line per connection, which a client could ask for at will
nk=$(grep -c '^migrate-agent: keyed ' "$(lab_log agent-server)")
t_check "its 'keyed' lines: at most 10 a second since it went on ($nk in $((SECONDS - t_cont + 1)) s)" \
	test "$nk" -le $((10 * (SECONDS - t_cont + 2)))
t_check "and a line says how many more were keyed" \
	lab_wait_until 5 grep -q "more connection(s) keyed: not logged" "$(lab_log agent-server)"

t_begin "$N idle keyed flows, one address change"
c0=$(counter mobile committed_mover)
r0m=$(counter mobile cwnd_restarted) r0s=$(counter server cwnd_restarted)
f0m=$(counter mobile cwnd_restart_failed) f0s=$(counter server cwnd_restart_failed)
lost0=$(counter server events_lost)
kill -STOP "${LAB_AGENT_PID[server]}"
topo_at mobile b
topo_leave mobile a
echo go >&"$go"
t_check "every flow committed within 60 s" lab_wait_until 60 ge $((c0 + N)) counter mobile committed_mover
echo "   committed: $(($(counter mobile committed_mover) - c0)) of $N"
t_check "the server's data path committed all $N" lab_wait_until 30 ge "$N" counter server committed_fixed
kill -CONT "${LAB_AGENT_PID[server]}"
lost=$(($(counter server events_lost) - lost0))
echo "   commit events the server's ring buffer had no room for: $lost"
t_check "the server's ring buffer overflowed (the case under test)" test "$lost" -gt 0
t_check "the server's agent found them in its flows" \
	lab_wait_until 10 grep -q "commit(s) whose event the full ring buffer lost" "$(lab_log agent-server)"
# the commits that arrive together restart together, in one walk of the
# sockets per batch: every socket at both ends, none missed
t_check "every flow's congestion state restarted at both ends" \
	lab_wait_until 30 eval "[ \$((\$(counter mobile cwnd_restarted) - r0m)) -ge $N ] && [ \$((\$(counter server cwnd_restarted) - r0s)) -ge $N ]"
t_check "no restart failed" eval "[ \$(counter mobile cwnd_restart_failed) -eq $f0m ] && [ \$(counter server cwnd_restart_failed) -eq $f0s ]"
echo "   restarted: mobile $(($(counter mobile cwnd_restarted) - r0m)), server $(($(counter server cwnd_restarted) - r0s)) of $N"
t_check "every connection echoed after the move" lab_wait_until 30 grep -q "^echoed $N\$" "$(lab_log cli)"
grep '^echoed' "$(lab_log cli)" | sed 's/^/   /'
exec {go}>&-

t_summary
