#!/usr/bin/env bash
# run-timeout: 1200   (tests/run.sh: a hang guard; this script takes minutes, more on a loaded machine)
# shellcheck disable=SC2016 # single-quoted code is evaluated later on purpose (t_check, lab_wait_until)
# Crash recovery: a keyed download goes on, byte-exact (sha256), while the
# agents are killed with SIGKILL 20 times at random moments and started
# again: 16 times the mobile's (the mover's), 4 times the server's, at
# random moments around moves of the mobile: while nothing moves, just
# after its address went away (flow held, old address kept on lo, no new
# address yet), 0-300 ms into a move, while its request is pending (the
# router drops the Migrate SYN/ACKs until the kill), after its commit
# while its CONFIRMs are dropped (the peer has not committed), and with
# the whole move made while the agent is dead.  After each start the flow moves to where the
# mobile is and the download goes on; after the last one a migration with
# both agents up works.  Once the connection closed nothing is left: no
# address of ours on lo (and an address on lo we did not add stays), no
# entry in the mobile's maps, no hold; the server's translation lives
# while its time-wait socket does (its agent is killed meanwhile too) and
# goes after it.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24    x-x-x-x-x-x-x-x-x-x a0 192.0.2.254
#   eth1 198.51.100.1/24 - - - - - - - - - - b0 198.51.100.254
#                                            s0 203.0.113.126/25 --------- eth0 203.0.113.1/25
#
# (the mobile moves between net A and net B; each move is an address
# going away and the other coming up.)
#
# Environment: CRASH_SEED (random seed, printed), CRASH_KILLS (default 20),
# CRASH_MB (default 96: at CRASH_RATE the download outlasts the kills even on
# a machine loaded ten times over), CRASH_RATE (pv rate during the kills,
# default 256k; the rest goes at full speed).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SEED=${CRASH_SEED:-$((($$ ^ $(date +%s)) & 32767))}
RANDOM=$SEED
KILLS=${CRASH_KILLS:-20}
SIZE_MB=${CRASH_MB:-96}
RATE=${CRASH_RATE:-256k}
SRV=${TOPO_V4[server.s]}
FOREIGN=203.0.113.99   # on the mobile's lo, added by hand: never ours
port=7100

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_nsexec mobile ip addr add "$FOREIGN/32" dev lo scope host
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"
echo "   seed $SEED (CRASH_SEED=$SEED reproduces the kill moments)"

MAPS="mig_flows mig_tokens mig_pend mig_hold mig_cand mig_ingress mig_egress"
# maps HOST: entries of each connection-state map, "name=N ..."
maps() {
	local m out=
	for m in $MAPS; do
		out+="$m=$(map_count "$1" "$m") "
	done
	echo "${out% }"
}
# holds HOST: the hold count in mig_host (what the egress program reads)
holds() {
	bpftool -j map dump pinned "$(lab_pindir "$1")/mig_host" | python3 -c '
import json, sys
v = bytes(int(x, 16) for x in json.load(sys.stdin)[0]["value"])
print(int.from_bytes(v[16:20], "little"))'
}
# lo HOST: the addresses on HOST's lo with their address protocol, sorted
lo() { lab_nsexec "$1" python3 "$here/lo_addrs.py" | sort | tr '\n' ' ' | sed 's/ $//'; }
lo_base=$(lo mobile)
base_m=$(maps mobile)
base_s=$(maps server)
echo "   before: mobile lo: $lo_base"
echo "   before: mobile $base_m; server $base_s"

lab_bg server srv socat -u "OPEN:$LAB_DIR/big" "TCP4-LISTEN:$port,reuseaddr"
lab_wait_listen server "$port"
lab_bg mobile cli sh -c "socat -u TCP4:$SRV:$port STDOUT | pv -qL $RATE -P $LAB_DIR/pv.pid > $LAB_DIR/got"
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 eq 1 nflows server
lab_wait_until 10 ge $((1 << 20)) fsize "$LAB_DIR/got"
cookie=$(flow_field mobile cookie)

net=a moves=0
# move: the mobile leaves its net and comes up on the other one
leave() { topo_leave mobile "$net"; }
arrive() {
	if [ "$net" = a ]; then net=b; else net=a; fi
	topo_at mobile "$net"
	moves=$((moves + 1))
}
# pause_ms MAX: a random moment, 0..MAX ms from now (a kill moment, not a wait)
pause_ms() { sleep "$(printf '0.%03d' $((RANDOM % ($1 + 1))))"; }
# settled: both ends list every move, the server has the mobile's address
settled() {
	[ "$(flow_field mobile migrations)" = "$moves" ] &&
		[ "$(flow_field server migrations)" = "$moves" ] &&
		[ "$(flow_field server wire.remote.addr)" = "${TOPO_V4[mobile.$net]}" ]
}

# drop SUB: the router drops the signalling segments of sub type SUB (3:
# Migrate SYN/ACK toward the mobile, 4: CONFIRM from it) until undrop
drop() {
	lab_nsexec router nft -f - <<-EOF
	table ip crashdrop {
		chain f {
			type filter hook forward priority 0;
			@th,160,8 0xfd @th,192,8 $1 counter drop
		}
	}
	EOF
}
undrop() { lab_nsexec router nft delete table ip crashdrop 2>/dev/null || true; }
lab_defer undrop

t_begin "$KILLS SIGKILLs of the agents at random moments around moves; after each start the flow moves and the download goes on"
lost='' starts=0 start_max=0 nm=0 ns=0
for ((i = 1; i <= KILLS; i++)); do
	if ((i % 5 == 0)); then victim=server; else victim=mobile; fi
	kind=$(((i - 1) % 6))
	d=$((RANDOM % 301))
	case $kind in
	0)	what="while nothing moves (+${d} ms)"
		sleep "$(printf '0.%03d' "$d")"
		lab_agent_kill "$victim" KILL ;;
	1)	what="just after the address went away (+${d} ms; held, no new address yet)"
		leave
		sleep "$(printf '0.%03d' "$d")"
		lab_agent_kill "$victim" KILL
		arrive ;;
	2)	what="during a move (+${d} ms after the new address)"
		leave
		arrive
		sleep "$(printf '0.%03d' "$d")"
		lab_agent_kill "$victim" KILL ;;
	3)	d=$((RANDOM % 601))
		what="while the mobile's request is pending (its Migrate SYN/ACKs dropped; +${d} ms)"
		drop 3
		leave
		arrive
		lab_wait_until 5 eq 1 map_count mobile mig_pend || lost+=" $i(no request)"
		sleep "$(printf '0.%03d' "$d")"
		lab_agent_kill "$victim" KILL
		undrop ;;
	4)	what="before a move made while it is dead"
		lab_agent_kill "$victim" KILL
		leave
		pause_ms 200
		arrive ;;
	5)	what="after the mobile's commit, while its CONFIRMs are dropped (+${d} ms)"
		drop 4
		leave
		arrive
		lab_wait_until 5 eq "$moves" flow_field mobile migrations || lost+=" $i(no commit)"
		sleep "$(printf '0.%03d' "$d")"
		lab_agent_kill "$victim" KILL ;;
		# (the CONFIRMs pass again once the agent is up: before that
		# the data path's answer to a repeated SYN/ACK would confirm)
	esac
	((kind == 3 && i % 5)) && nm=$((nm + 1))
	((kind == 5 && i % 5)) && ns=$((ns + 1))
	before=$(fsize "$LAB_DIR/got")
	t0=$(_lab_now_us)
	if ! lab_agent_start "$victim"; then
		lost+=" $i(no start)"
		break
	fi
	ms=$((($(_lab_now_us) - t0) / 1000))
	undrop
	starts=$((starts + 1))
	((ms > start_max)) && start_max=$ms
	if ! lab_wait_until 15 settled; then
		lost+=" $i(moves: mobile $(flow_field mobile migrations), server $(flow_field server migrations), want $moves)"
	fi
	if ! lab_wait_until 10 ge $((before + 1)) fsize "$LAB_DIR/got"; then
		lost+=" $i(no data)"
	fi
	echo "   kill $i: $victim agent $what; up again in $ms ms; $moves moves; mobile lo: $(lo mobile)"
	if [ -n "$lost" ]; then
		lab_ctl mobile show stats >"$LAB_DIR/stats-mobile.log" 2>&1
		lab_ctl server show stats >"$LAB_DIR/stats-server.log" 2>&1
		break
	fi
done
t_check "every start found the flow, it moved to where the mobile is and data flowed${lost:+ (failed:$lost)}" test -z "$lost"
t_check "$KILLS kills, $KILLS starts (the slowest took $start_max ms)" test "$starts" = "$KILLS"
t_check "the mobile's socket is the same (cookie)" eq "$cookie" flow_field mobile cookie
t_check "the old address of the socket is on lo while its flow lives, with our mark (77)" \
	eval 'lo mobile | grep -q "192.0.2.1/32 77"'
# (how the mobile's agent found the pending requests and the unconfirmed
# commits; each such kill leaves exactly one)
resumed() { grep -c "recovered from an earlier run: .* $1 move(s) and $2 confirmation(s) resumed" "$LAB_DIR/agent-mobile.log"; }
t_check "the mobile's agent resumed the pending request of each of its $nm kills while one was pending" \
	eq "$nm" resumed 1 0
t_check "and repeated the CONFIRM of each of its $ns kills after an unconfirmed commit" \
	eq "$ns" resumed 0 1
t_check "the download was still under way" eval '_lab_alive "$(lab_bg_pid cli)" && test "$(fsize "$LAB_DIR/got")" -lt $((SIZE_MB << 20))'

t_begin "a migration after the last start works"
m0=$moves
leave
arrive
t_check "both ends list $((m0 + 1)) migrations, the server has the mobile's new address" lab_wait_until 10 settled
t_check "the mobile's wire tuple has its new address" eq "${TOPO_V4[mobile.$net]}" flow_field mobile wire.local.addr
t_check "no hold left on the mobile (mig_hold, count)" lab_wait_until 5 eq "0 0" eval 'echo "$(map_count mobile mig_hold) $(holds mobile)"'
t_check "no request left on the mobile (mig_pend)" lab_wait_until 5 eq 0 map_count mobile mig_pend

t_begin "the download finishes byte-exact"
# the rest at full speed
pv -R "$(cat "$LAB_DIR/pv.pid")" -L 1g 2>/dev/null || true
t_check "sender and receiver finish" eval 'lab_bg_wait cli 120 && lab_bg_wait srv 30'
t_check "$SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum got

t_begin "nothing left behind once the connection closed"
t_check "the mobile lists no flow" lab_wait_until 5 eq 0 nflows mobile
t_check "the mobile's maps are back to where they were ($base_m)" lab_wait_until 5 eq "$base_m" maps mobile
t_check "no hold counted on the mobile" eq 0 holds mobile
t_check "lo is as before: ours gone, the hand-made $FOREIGN still there ($lo_base)" \
	lab_wait_until 5 eq "$lo_base" lo mobile
t_check "the server lists no flow" lab_wait_until 5 eq 0 nflows server
tw() { lab_nsexec server ss -Htan state time-wait "sport = :$port" | wc -l; }
xl() { echo $(($(map_count server mig_ingress) + $(map_count server mig_egress))); }
# the server closed first: its time-wait socket keeps the translation
t_check "the server's socket is in TIME-WAIT, its translation kept (ingress and egress: $(xl))" \
	eval 'test "$(tw)" = 1 && test "$(xl)" -ge 2'
lab_agent_kill server KILL
lab_agent_start server
t_check "after a SIGKILL and start, the translation stays while TIME-WAIT lasts" \
	eval 'test "$(tw)" = 0 || test "$(xl)" -ge 2'
t_check "the time-wait socket ends (60 s)" lab_wait_until 70 eq 0 tw
t_check "then the server's maps are back to where they were ($base_s)" lab_wait_until 5 eq "$base_s" maps server
t_check "no hold counted on the server" eq 0 holds server
t_check "the agents logged what they recovered" \
	grep -q "recovered from an earlier run" "$LAB_DIR/agent-mobile.log"

t_summary
