#!/usr/bin/env bash
# run-timeout: 300   (tests/run.sh: a hang guard)
# The congestion restart in the socket (docs/protocol.md, "Congestion
# state restarts") as a lever for whoever can put a segment into a flow:
# after a commit, the ingress program marks the peer's segments with a
# TCP option the kernel does not know (kind 253, length 2), and the
# socket's sock_ops program, which asks for such segments, restarts the
# socket's congestion state on the first.  Anyone on the path can send
# that option too (PROTOCOL.md 9: they have seen the packets).  What it
# must not give them: a restart that no commit asked for.
#
# A keyed connection from the mobile to the server moves once: both ends
# restart in the socket (cwnd_restarted_inline, the feature working).
# Then the mobile's host, the flow's own peer and the best-placed
# attacker there is, sends three segments carrying the option with the
# flow's next sequence numbers, its ACK and its timestamps, a byte of
# data each.  The bytes reach the server's application (so the
# segments passed the socket's checks, where the kernel calls sock_ops
# for such an option); neither end restarts again, nothing is marked,
# the server's window stays where it was.
#
#   mobile (agent)          router                      server (agent)
#   eth0 192.0.2.1/24    -- a0 192.0.2.254/24
#   eth1 198.51.100.1/24 -- b0 198.51.100.254/24
#                           s0 203.0.113.126/25  ------ eth0 203.0.113.1/25
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../integration/mig_topo.sh"

SRV=${TOPO_V4[server.s]}
MOB=${TOPO_V4[mobile.b]}
port=6300

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile -v
lab_agent_start server -v

# inline HOST: restarts made in the socket (the data path's counter)
inline() { counter "$1" cwnd_restarted_inline; }

t_begin "a segment with the restart's marker restarts nothing that no commit asked for"
python3 "$here/craft.py" selftest >/dev/null
lab_bg server sink socat -u "TCP4-LISTEN:$port,bind=$SRV,reuseaddr" "OPEN:$LAB_DIR/got,creat,trunc"
lab_wait_listen server "$port" 30
lab_bg mobile src sh -c "(printf hello; while [ ! -e '$LAB_DIR/go' ]; do sleep 0.1; done) |
	socat -u - 'TCP4:$SRV:$port'"
t_check "keyed on both ends" eval 'lab_wait_until 30 eq 1 nflows mobile && lab_wait_until 30 eq 1 nflows server'
t_check "the server has the first bytes" lab_wait_until 30 eq 5 fsize "$LAB_DIR/got"
lab_capture_start mobile "${TOPO_IF[mobile.b]}" ccmark -s 200 "tcp and src host $MOB and dst port $port"
im=$(inline mobile) is=$(inline server)
cf=$(counter server committed_fixed)
topo_leave mobile a
topo_at mobile b
t_check "the server committed" lab_wait_until 30 eq $((cf + 1)) counter server committed_fixed
t_check "the server's socket restarted on the mobile's first segment" \
	lab_wait_until 10 eq $((is + 1)) inline server
t_check "... and the mobile's on the server's" lab_wait_until 10 eq $((im + 1)) inline mobile
t_check "the server's agent logged it" lab_wait_until 10 grep -Eq \
	":$port -> [^ ]+: congestion state restarted .* on the peer's first segment \(migration 1\)" \
	"$LAB_DIR/agent-server.log"
t_check "the mobile's segment after the move is captured" lab_wait_until 10 ge 1 \
	lab_capture_count ccmark
lab_capture_stop ccmark
r0s=$(counter server cwnd_restarted) r0m=$(counter mobile cwnd_restarted)
m0=$(counter server cwnd_marked)
w0=$(tcpfield server "$port" cwnd)
echo "   before: server $(tcpinfo server "$port")"
out=$(lab_nsexec mobile python3 "$here/craft.py" mark --pcap "$LAB_DIR/ccmark.pcap" \
	--src "$MOB" --dport "$port" --data XYZ) || t_fail "craft.py mark: $out"
echo "   sent: $out"
sent=XYZ
t_check "the marked segments reached the server's application (hello$sent)" \
	lab_wait_until 10 eq "hello$sent" cat "$LAB_DIR/got"
t_check "the server's socket did not restart again" eq "$((is + 1))" inline server
t_check "... nor the mobile's" eq "$((im + 1))" inline mobile
t_check "neither agent counted a restart" eval "eq $r0s counter server cwnd_restarted && eq $r0m counter mobile cwnd_restarted"
t_check "nothing was marked at the server since" eq "$m0" counter server cwnd_marked
w1=$(tcpfield server "$port" cwnd)
echo "   after: server $(tcpinfo server "$port")"
t_check "the server's window is where it was ($w0 -> $w1)" ge "$w0" echo "$w1"
: >"$LAB_DIR/go"
lab_bg_stop src
lab_bg_stop sink

t_summary
