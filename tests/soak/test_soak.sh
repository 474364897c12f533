#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted code is evaluated later on purpose (t_check, lab_wait_until)
# Soak: one keyed connection moves 100 times between two networks while
# 1 GiB goes through it, byte-exact (sha256 at both ends).  Afterwards the
# connection-state maps of both hosts are back to their counts before it,
# lo holds nothing of ours, and the agents' resident memory (VmRSS) is
# flat: measured at the start, after half the moves and after all of them.
# Run by `make soak` (not by `make test`: it takes minutes).
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24    x-x-x-x-x-x-x-x-x-x a0 192.0.2.254
#   eth1 198.51.100.1/24 - - - - - - - - - - b0 198.51.100.254
#                                            s0 203.0.113.126/25 --------- eth0 203.0.113.1/25
#
# (each move is the mobile's address on one net going away and its address
# on the other coming up: A, B, A, B...)
#
# Environment: SOAK_BYTES (default 1073741824), SOAK_MOVES (default 100),
# SOAK_RATE (pv rate limit while the moves run, default 16m; the rest goes
# at full speed, and the last tenth at 256k if the moves are not done yet), SOAK_RSS_KB (allowed VmRSS growth of an agent from the
# start to the end of the moves, default 1024).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../integration/mig_topo.sh"

BYTES=${SOAK_BYTES:-1073741824}
MOVES=${SOAK_MOVES:-100}
RATE=${SOAK_RATE:-16m}
RSS_KB=${SOAK_RSS_KB:-1024}
for v in BYTES MOVES RSS_KB; do
	if [[ ! ${!v} =~ ^[0-9]+$ ]] || ((${!v} < 1)); then
		echo "test_soak.sh: invalid SOAK_$v '${!v}': expected a positive integer" >&2
		exit 2
	fi
done
if [[ ! $RATE =~ ^[0-9]+[kmg]?$ ]]; then
	echo "test_soak.sh: invalid SOAK_RATE '$RATE': expected a pv rate such as 8m" >&2
	exit 2
fi
SRV=${TOPO_V4[server.s]}
port=7200

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server

MAPS="mig_flows mig_tokens mig_pend mig_hold mig_cand mig_ingress mig_egress"
maps() {
	local m out=
	for m in $MAPS; do
		out+="$m=$(map_count "$1" "$m") "
	done
	echo "${out% }"
}
lo() { lab_nsexec "$1" ip -o addr show dev lo | awk '{ print $4 }' | sort | tr '\n' ' '; }
# rss HOST: the VmRSS of HOST's agent in kB
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$(cat "$LAB_DIR/agent-$1.pid")/status"; }
# got_n: bytes the mobile received so far (pv's last count: the last
# field, since after pv -R its lines also carry the elapsed time)
got_n() {
	local g
	g=$(tail -n 1 "$LAB_DIR/progress" 2>/dev/null | awk '{ print $NF }')
	[[ $g =~ ^[0-9]+$ ]] || g=0
	echo "$g"
}
base_m=$(maps mobile)
base_s=$(maps server)
lo_base=$(lo mobile)
echo "   before: mobile $base_m; server $base_s"

# The server streams BYTES random bytes and their sha256; the mobile
# hashes what it receives (no file of that size is written).
lab_bg server srv bash -c "head -c $BYTES /dev/urandom | tee >(sha256sum | cut -d' ' -f1 >$LAB_DIR/sent.sum) | socat -u STDIN TCP4-LISTEN:$port,reuseaddr"
lab_wait_listen server "$port"
lab_bg mobile cli sh -c "socat -u TCP4:$SRV:$port STDOUT | pv -f -n -b -i 0.5 -L $RATE -P $LAB_DIR/pv.pid 2>$LAB_DIR/progress | sha256sum | cut -d' ' -f1 >$LAB_DIR/got.sum"
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 eq 1 nflows server
lab_wait_until 10 ge $((1 << 20)) got_n
cookie=$(flow_field mobile cookie)
t_start=$(_lab_now_us)
rss_m0=$(rss mobile) rss_s0=$(rss server)
echo "   VmRSS at the start: mobile agent $rss_m0 kB, server agent $rss_s0 kB"

net=a
lost='' slowed='' worst=0 total_ms=0
cm0=$(counter mobile committed_mover) cs0=$(counter server committed_fixed)
# commits: both ends' commit counters since the start (one migratectl each)
commits() { echo "$(($(counter mobile committed_mover) - cm0)) $(($(counter server committed_fixed) - cs0))"; }
for ((i = 1; i <= MOVES; i++)); do
	if [ -z "$slowed" ] && (($(got_n) > BYTES * 9 / 10)); then
		# keep the connection open for the moves still to come
		pv -R "$(cat "$LAB_DIR/pv.pid")" -L 256k 2>/dev/null && slowed=" (slowed to 256k before move $i)"
	fi
	topo_leave mobile "$net"
	if [ "$net" = a ]; then net=b; else net=a; fi
	t0=$(_lab_now_us)
	topo_at mobile "$net"
	if ! lab_wait_until 10 eq "$i $i" commits; then
		lost+=" $i"
		break
	fi
	ms=$((($(_lab_now_us) - t0) / 1000))
	total_ms=$((total_ms + ms))
	((ms > worst)) && worst=$ms
	if ((i == MOVES / 2)); then
		rss_m50=$(rss mobile) rss_s50=$(rss server)
		echo "   after $i moves ($(($(got_n) >> 20)) MiB): VmRSS mobile agent $rss_m50 kB, server agent $rss_s50 kB"
	fi
done
n=$((i > MOVES ? MOVES : i - 1))
rss_m100=$(rss mobile) rss_s100=$(rss server)
echo "   after $n moves ($(($(got_n) >> 20)) MiB): VmRSS mobile agent $rss_m100 kB, server agent $rss_s100 kB"
echo "   a move took $((total_ms / (n ? n : 1))) ms on average (new address up to both ends' commit counters, polled every 0.1 s), $worst ms at most$slowed"

t_begin "$MOVES moves between two networks on one connection"
t_check "every move committed on both ends within 10 s${lost:+ (not move$lost)}" test -z "$lost"
t_check "both ends list $MOVES migrations of the flow" \
	eq "$MOVES $MOVES" eval 'echo "$(flow_field mobile migrations) $(flow_field server migrations)"'
t_check "the mobile's socket is the same (cookie)" eq "$cookie" flow_field mobile cookie
t_check "the transfer was still under way after the last move" \
	eval '_lab_alive "$(lab_bg_pid cli)" && test "$(got_n)" -lt "$BYTES"'

t_begin "$BYTES bytes arrive byte-exact"
pv -R "$(cat "$LAB_DIR/pv.pid")" -L 100g 2>/dev/null || true
t_check "sender and receiver finish" eval 'lab_bg_wait cli 600 && lab_bg_wait srv 30'
t_end=$(_lab_now_us)
secs=$(((t_end - t_start) / 1000000))
echo "   $(($(got_n) >> 20)) MiB in ${secs} s after the connection was keyed"
t_check "all $BYTES bytes arrived" eq "$BYTES" got_n
t_check "sha256 of what arrived is that of what was sent" eq "$(cat "$LAB_DIR/sent.sum")" cat "$LAB_DIR/got.sum"

t_begin "afterwards: maps at their baseline, nothing on lo, agents' memory flat"
t_check "the mobile's maps are back to where they were ($base_m)" lab_wait_until 5 eq "$base_m" maps mobile
t_check "lo of the mobile is as before ($lo_base)" lab_wait_until 5 eq "$lo_base" lo mobile
# the server closed first: its translation lives as long as its time-wait socket
t_check "the server's maps are back to where they were once TIME-WAIT ended ($base_s)" \
	lab_wait_until 75 eq "$base_s" maps server
rss_me=$(rss mobile) rss_se=$(rss server)
echo "   VmRSS (kB)   start  $((MOVES / 2)) moves  $MOVES moves  after close"
echo "   mobile     $rss_m0  ${rss_m50:-?}  $rss_m100  $rss_me"
echo "   server     $rss_s0  ${rss_s50:-?}  $rss_s100  $rss_se"
t_check "the mobile's agent grew by at most $RSS_KB kB over the moves ($rss_m0 -> $rss_m100 kB)" \
	test $((rss_m100 - rss_m0)) -le "$RSS_KB"
t_check "the server's agent grew by at most $RSS_KB kB over the moves ($rss_s0 -> $rss_s100 kB)" \
	test $((rss_s100 - rss_s0)) -le "$RSS_KB"
t_check "no growth in the second half of the moves beyond a quarter of that (mobile ${rss_m50:-?} -> $rss_m100, server ${rss_s50:-?} -> $rss_s100 kB)" \
	eval 'test $((rss_m100 - ${rss_m50:-0})) -le $((RSS_KB / 4)) && test $((rss_s100 - ${rss_s50:-0})) -le $((RSS_KB / 4))'

t_summary
