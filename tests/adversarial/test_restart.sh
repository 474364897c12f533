#!/usr/bin/env bash
# run-timeout: 600   (tests/run.sh: a hang guard)
# The congestion restart as a lever for a keyed peer (PROTOCOL.md 9's
# threat model; docs/protocol.md, "Congestion state restarts"): after each
# commit the sender's window is the initial window on top of what it
# counts in flight, and its queued data is pushed.  A receiver that stops
# acknowledging and moves again and again makes the sender put data on the
# wire that nothing acknowledged: this test measures how much.  Plain TCP
# sends such a receiver nothing more once its window is out; a new
# connection per round trip gets an initial window each.  The bound held
# here: at most one initial window of new data per commit, and no more
# commits than completed Migrate exchanges of the flow's own keys.
#
# The mobile downloads from the server (keyed), the server pauses with
# everything acknowledged, then the router drops every acknowledgement the
# mobile sends to the server (all its segments without SYN, FIN or RST,
# except the 48-byte-header CONFIRM of a Migrate exchange), the server
# sends its window and stalls; the mobile moves MOVES times.  The server's
# new data (ss: bytes_sent - bytes_retrans) after the moves is at most
# MOVES initial windows, and at least one (the window did not block it:
# the test can see a restart's data).  Retransmission timer and loss probe
# are pushed out of the way (rto_min 60 s, tcp_early_retrans 0) so that
# only the restarts send.  Then the acknowledgements pass again and the
# transfer ends byte-exact.
#
#   mobile (agent)          router (fwd; drops the mobile's ACKs)      server (agent)
#   eth0 192.0.2.1/24    x-x a0 192.0.2.254/24
#   eth1 198.51.100.1/24 - - b0 198.51.100.254/24
#                            s0 203.0.113.126/25  --------------- eth0 203.0.113.1/25
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../integration/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-16}
PAUSE_AT=$((4 << 20))
MOVES=4
IW=10                     # the server route's initial window (the default)
SRV=${TOPO_V4[server.s]}
port=6200

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_nsexec server sysctl -qw net.ipv4.tcp_early_retrans=0
lab_route server -4 replace default via "${TOPO_GW4[s]}" dev eth0 initcwnd "$IW" rto_min 60s
# a receive window far above what the moves could add
lab_nsexec mobile sysctl -qw net.ipv4.tcp_rmem="4096 4194304 8388608"
lab_route mobile -4 replace default via "${TOPO_GW4[a]}" dev "${TOPO_IF[mobile.a]}" initrwnd 1000
lab_agent_start mobile -v
lab_agent_start server -v
lab_payload "$SIZE_MB"

# stalled HOST PORT: the whole congestion window is out and more waits
stalled() {
	local l u w
	l=$(tcpinfo "$1" "$2")
	u=$(grep -Eo ' unacked:[0-9]+' <<<"$l" | cut -d: -f2)
	w=$(grep -Eo ' cwnd:[0-9]+' <<<"$l" | cut -d: -f2)
	[[ -n $u && -n $w && $u -ge $w && $l == *notsent:* ]]
}
# newdata HOST PORT: bytes sent for the first time (bytes_sent - bytes_retrans)
newdata() {
	local l s r
	l=$(tcpinfo "$1" "$2")
	s=$(grep -Eo ' bytes_sent:[0-9]+' <<<"$l" | cut -d: -f2)
	r=$(grep -Eo ' bytes_retrans:[0-9]+' <<<"$l" | cut -d: -f2)
	echo $((${s:-0} - ${r:-0}))
}

t_begin "a keyed receiver that withholds its ACKs and moves $MOVES times gets at most an initial window per commit"
lab_bg server snd python3 "$here/../integration/pausesend.py" listen "$SRV" "$port" \
	"$LAB_DIR/big" "$PAUSE_AT" "$LAB_DIR/pause" 300
lab_wait_listen server "$port" 60
lab_bg mobile rcv socat -u "TCP4:$SRV:$port" "OPEN:$LAB_DIR/got,creat,trunc"
t_check "keyed on both ends" eval 'lab_wait_until 30 eq 1 nflows mobile && lab_wait_until 30 eq 1 nflows server'
t_check "the sender paused" lab_wait_until 120 test -e "$LAB_DIR/pause.paused"
t_check "everything sent is acknowledged" lab_wait_until 30 tcp_idle server "$port"
lab_nsexec router nft -f - <<-EOF
table ip labrestart {
	chain f {
		type filter hook forward priority 0;
		ip daddr $SRV tcp dport $port tcp flags & (syn | fin | rst) == 0 tcp doff != 12 counter drop
	}
}
EOF
: >"$LAB_DIR/pause.go"
t_check "the server sent its window and stalls (no ACK reaches it)" lab_wait_until 30 stalled server "$port"
mss=$(tcpfield server "$port" mss)
echo "   stalled: server: $(tcpinfo server "$port")"
n0=$(newdata server "$port")
c0=$(counter server cwnd_restarted)
cf=$(counter server committed_fixed)
cur=a
for ((i = 1; i <= MOVES; i++)); do
	nxt=$([ $cur = a ] && echo b || echo a)
	topo_leave mobile "$cur"
	topo_at mobile "$nxt"
	cur=$nxt
	t_check "move $i: the server committed" lab_wait_until 30 eq $((cf + i)) counter server committed_fixed
	t_check "move $i: its socket restarted" lab_wait_until 10 eq $((c0 + i)) counter server cwnd_restarted
	# the restart's push has gone out: the whole window is out again
	t_check "move $i: the server stalls again" lab_wait_until 10 stalled server "$port"
done
n1=$(newdata server "$port")
grep -E ":$port -> [^ ]+: congestion state restarted" "$LAB_DIR/agent-server.log" | sed 's/^/   /'
echo "   after $MOVES moves: $((n1 - n0)) bytes of new data, mss $mss: $(((n1 - n0) / mss)) segments (bound: $((MOVES * IW)))"
echo "   $(lab_nsexec router nft list chain ip labrestart f | grep -Eo 'counter packets [0-9]+') ACKs dropped"
t_check "at most $MOVES initial windows of new data after $MOVES commits" le $((MOVES * IW * mss)) echo $((n1 - n0))
t_check "at least one (the receive window let it through)" ge $((IW * mss)) echo $((n1 - n0))
lab_nsexec router nft delete table ip labrestart
t_check "the ACKs pass again: sender and receiver finish" eval 'lab_bg_wait snd 120 && lab_bg_wait rcv 120'
t_check "$SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum got

t_summary
