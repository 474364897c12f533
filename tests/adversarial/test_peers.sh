#!/usr/bin/env bash
# run-timeout: 1200   (tests/run.sh: a hang guard; this script takes minutes, more on a loaded machine)
# shellcheck disable=SC2016 # single-quoted code is evaluated later on purpose (t_check, lab_wait_until)
# Attacks by a keyed peer, and the commit race, each during keyed transfers
# that must finish byte-exact (sha256):
#  A  a keyed client of the same server, holding its own keys: "peer" has its
#     own agent and its own keyed download from the server's port, so it
#     reads its token and SipHash key s_own from its own pinned mig_flows and
#     builds VALID Migrate SYNs for its own connection (peer.py):
#     A1 sent with the mobile's current tuple as the source (before the
#        mobile moved: a live socket of the server; after: the mobile's
#        translation and its retired tuple): refused as reject_tuple, the
#        mobile's flow untouched;
#     A3 sent with a third host's address as the source (redirect its own
#        traffic there), plus blind CONFIRMs from there: the third host gets
#        at most one Migrate SYN/ACK per attempt and nothing else, the server
#        never commits;
#     A2 replayed from 100,000 spoofed source tuples (random ports, four
#        addresses of 203.0.113.224/28, which the router sends to a sink):
#        at most 2 candidates ever exist, nothing else changes;
#  B  the commit race: the agent writes a flow once (BPF_NOEXIST), the data
#     path commits in place.  The mobile moves 20 times while the server's
#     agent is SIGKILLed and started again or SIGSTOPped and continued around
#     the moves, and the mobile's agent is SIGKILLed and started once half-way:
#     both ends list 20 migrations, the server's wire tuple is the mobile's.
#  C  the peer moves its own flow without pause (peer.py churn: a valid
#     Migrate SYN from a new port, the SYN/ACK read off its wire, the
#     CONFIRM; a commit at the server per round trip, some 10,000 a second
#     here, far more often than the server's agent rests between batches
#     of commits, three walks of its socket table, mover.c COMMITS_REST)
#     while the mobile moves once: the agent handles the mobile's commit
#     while the peer's keep coming, with peer commits handled both before
#     and after it; the mobile's download finishes byte-exact.  (A rest
#     that every new commit prolongs fails this on a quiet machine: the
#     mobile's commit waited for the end of the churn, checked.)  Nor does
#     the churn write a log line per commit: after its flow's first, the
#     agent logs at most 10 of its commits a second and counts the rest
#     (commits_unlogged), in one line a second; the mobile's commit, its
#     first, is logged.  After it the server's translation filter
#     (mig_xf) still counts exactly the translations its maps hold.
#
#   mobile (agent)          router (fwd)                            server (agent)
#   eth0 192.0.2.1/24    x-x a0 192.0.2.254/24
#   eth1 198.51.100.1/24 - - b0 198.51.100.254/24
#                            s0 203.0.113.126/25  --------------- eth0 203.0.113.1/25
#   peer (agent)             p0 203.0.113.190/28  --- peer eth0 203.0.113.177/28
#   third                    v0 203.0.113.206/28  --- third eth0 203.0.113.193/28
#   sink                     k0 203.0.113.209/29  --- sink eth0 203.0.113.210/29
#                            (route 203.0.113.224/28 via the sink: A2's spoofed sources)
#
# The /28s and the /29 lie in the server side's second net (t0,
# 203.0.113.128/25), which this test never uses; the longer prefix wins.
# The third host and the sink run nothing of ours (the third host's kernel
# answers what it gets as any host would).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../integration/mig_topo.sh"

SIZE_MB=${PEERS_MB:-48}
RATE_A=${PEERS_RATE_A:-1m}   # part A: both downloads last ~48 s
RATE_B=${PEERS_RATE_B:-1m}   # part B: ~48 s, for 20 moves
MOVES=20
SRV=${TOPO_V4[server.s]}
MOB_A=${TOPO_V4[mobile.a]}
MOB_B=${TOPO_V4[mobile.b]}
PEER=203.0.113.177
PEER_GW=203.0.113.190
THIRD=203.0.113.193
THIRD_GW=203.0.113.206
SINK=203.0.113.210
SINK_GW=203.0.113.209
SPOOF=203.0.113.225,203.0.113.226,203.0.113.227,203.0.113.228
FLOOD=100000

lab_init
python3 "$here/peer.py" selftest >/dev/null
topo_build
lab_host peer
lab_link peer eth0 router p0
lab_addr router p0 "$PEER_GW/28"
lab_addr peer eth0 "$PEER/28"
lab_route peer -4 replace default via "$PEER_GW"
lab_host third
lab_link third eth0 router v0
lab_addr router v0 "$THIRD_GW/28"
lab_addr third eth0 "$THIRD/28"
lab_route third -4 replace default via "$THIRD_GW"
lab_host sink
lab_link sink eth0 router k0
lab_addr router k0 "$SINK_GW/29"
lab_addr sink eth0 "$SINK/29"
lab_route router -4 add 203.0.113.224/28 via "$SINK"
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_agent_start peer
# a test that dies with the server's agent stopped must not leave it so
_cont_server() {
	[[ -n ${LAB_AGENT_PID[server]:-} ]] && kill -CONT "${LAB_AGENT_PID[server]}" 2>/dev/null
	return 0
}
lab_defer _cont_server

lab_payload "$SIZE_MB"
SPIN=$(lab_pindir server)
PPIN=$(lab_pindir peer)

# pp ARGS...: peer.py in the peer's network namespace (its raw sockets and
# its ss); reads the peer's own pinned maps only
pp() { lab_nsexec peer python3 "$here/peer.py" "$@"; }
# jfield JSON KEY: a top-level field of a JSON text
jfield() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
# pcount PCAP EXPR: segments of a stopped capture matching EXPR (peer.py count)
pcount() { python3 "$here/peer.py" count "$LAB_DIR/$1.pcap" "$2"; }
# cap_whole NAME: a stopped capture lost nothing
cap_whole() { grep -q '^0 packets dropped by kernel' "$LAB_DIR/$1.tcpdump.log"; }

# sflow HOST RADDR FIELD: a field of HOST's keyed flow whose socket has the
# remote address RADDR (-j show; the server has one flow per client)
sflow() {
	lab_ctl "$1" -j show | python3 -c '
import json, sys
f = [f for f in json.load(sys.stdin)["flows"] if f["remote"]["addr"] == sys.argv[1]]
if len(f) != 1:
    print("%d flows with remote %s" % (len(f), sys.argv[1]), file=sys.stderr); sys.exit(1)
v = f[0]
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$2" "$3"
}
# flow_raw HOST RADDR [OFF LEN]: bytes (hex) of the struct mig_flow value of
# that flow, straight from the pinned map (layout: include/migrate/mig_abi.h)
flow_raw() {
	bpftool -j map dump pinned "$(lab_pindir "$1")/mig_flows" | python3 -c '
import json, socket, sys
a = socket.inet_aton(sys.argv[1])
off, n = int(sys.argv[2]), int(sys.argv[3])
m = [bytes(int(x, 16) for x in e["value"]) for e in json.load(sys.stdin)
     if bytes(int(x, 16) for x in e["key"])[16:20] == a]
if len(m) != 1:
    print("%d flows with remote %s" % (len(m), sys.argv[1]), file=sys.stderr); sys.exit(1)
print(m[0][off:off + n].hex())' "$2" "${3:-0}" "${4:-320}"
}
# agent_part HOST ADDR: what the agent writes of the flow, once: token ..
# role (36 bytes) and s_own, s_peer (32 from 40); between them sack_hi is
# the data path's
agent_part() { echo "$(flow_raw "$1" "$2" 0 36)$(flow_raw "$1" "$2" 40 32)"; }

# xmaps HOST: HOST's mig_ingress and mig_egress, sorted JSON lines
xmaps() { maps_dump "$1" mig_ingress mig_egress; }
# xlate_names HOST ADDR: an entry of HOST's mig_ingress (key: wire tuple),
# mig_egress (key: socket tuple) or their values names ADDR as remote
xlate_names() {
	local m
	for m in mig_ingress mig_egress; do
		bpftool -j map dump pinned "$(lab_pindir "$1")/$m" | python3 -c '
import json, socket, sys
a = socket.inet_aton(sys.argv[1])
def b(x): return bytes(int(c, 16) for c in x)
sys.exit(0 if any(b(e["key"])[16:20] == a or b(e["value"])[16:20] == a
                  for e in json.load(sys.stdin)) else 1)' "$2" && return 0
	done
	return 1
}
# cand_names HOST ADDR: a key of HOST's mig_cand has remote address ADDR
cand_names() {
	bpftool -j map dump pinned "$(lab_pindir "$1")/mig_cand" | python3 -c '
import json, socket, sys
a = socket.inet_aton(sys.argv[1])
sys.exit(0 if any(bytes(int(x, 16) for x in e["key"])[16:20] == a
                  for e in json.load(sys.stdin)) else 1)' "$2"
}
# live_cands RADDR: live candidates of the server's flow with that client
live_cands() { jfield "$(python3 "$here/peer.py" cands --pin "$SPIN" --raddr "$1")" live; }

# client NAME PORT RATE HOST: HOST downloads $LAB_DIR/big from the server's
# PORT through a rate limit into $LAB_DIR/NAME.got; socat's exit status goes
# to $LAB_DIR/NAME.rc (the pipeline's own is pv's)
client() {
	lab_bg "$4" "cli-$1" sh -c "{ socat -u TCP4:$SRV:$2 STDOUT; echo \$? >$LAB_DIR/$1.rc; } | pv -qL $3 > $LAB_DIR/$1.got"
}
# _settled NAME: the client exited, or what arrived has not grown for 15 s
_settled() {
	local s
	_lab_dead "$(lab_bg_pid "cli-$1")" && return 0
	s=$(fsize "$LAB_DIR/$1.got")
	if [[ $s != "$_set_size" ]]; then
		_set_size=$s _set_since=$SECONDS
		return 1
	fi
	((SECONDS - _set_since >= 15))
}
under_way() {
	t_check "$1: the transfer was still under way when the attacks ended" \
		eval '_lab_alive "$(lab_bg_pid "cli-$1")" && test "$(fsize "$LAB_DIR/$1.got")" -lt $((SIZE_MB << 20))'
}
# finish NAME: the client exits 0 and the bytes are exact
finish() {
	_set_size=-1 _set_since=$SECONDS
	lab_wait_until 150 _settled "$1" || true
	t_check "$1: the download finishes (socat exits 0)" \
		eval "lab_bg_wait cli-$1 1 && eq 0 cat $LAB_DIR/$1.rc || { cat $LAB_DIR/cli-$1.log; false; }"
	t_check "$1: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$1.got"
	lab_bg_stop "cli-$1" 2>/dev/null
}

move_a_to_b() { topo_leave mobile a; topo_at mobile b; }
move_b_to_a() { topo_leave mobile b; topo_at mobile a; }

# ===========================================================================
# Part A: the peer and the mobile download from the same listening port
port=7001
# (-U: data flows right to left; each child reads the file anew after its
# accept, so the two downloads do not share a file offset).  After the
# file each sender holds its connection open until the test releases it
# (lab_held_sender a, lab_release a): however slow the machine, the attacks and their
# checks run while both connections are up.
lab_bg server srv-a socat -t 60 -U "TCP4-LISTEN:$port,reuseaddr,fork" \
	"SYSTEM:$(lab_held_sender a)"
lab_wait_listen server "$port"
client mob-a "$port" "$RATE_A" mobile
client peer-a "$port" "$RATE_A" peer
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 eq 1 nflows peer
lab_wait_until 5 eq 2 nflows server
lab_wait_until 10 eval 'ge $((1 << 20)) fsize "$LAB_DIR/mob-a.got" && ge $((1 << 20)) fsize "$LAB_DIR/peer-a.got"'
mport=$(flow_field mobile local.port)
pport=$(flow_field peer local.port)
echo "   mobile $MOB_A:$mport and peer $PEER:$pport download from $SRV:$port, both keyed"
pinfo=$(pp flow --pin "$PPIN" --dport "$port")
echo "   the peer's own flow: token $(jfield "$pinfo" token), own_reqno $(jfield "$pinfo" own_reqno), SND.UNA $(jfield "$pinfo" snd_una) (ISN $(jfield "$pinfo" isn_i) + bytes_acked $(jfield "$pinfo" bytes_acked))"

t_begin "A0. the peer holds a key of its own connection only: the server's s_peer of the peer's flow is the peer's s_own, the mobile's flow has other keys"
t_check "same token on both ends of the peer's connection" \
	eq "$(jfield "$pinfo" token)" sflow server "$PEER" token
t_check "the peer's s_own is the server's s_peer for it" \
	eq "$(jfield "$pinfo" s_own)" flow_raw server "$PEER" 56 16
t_check "and not the key of the mobile's flow" \
	_t_not eq "$(jfield "$pinfo" s_own)" flow_raw server "$MOB_A" 56 16

# msyn_from NAME SRC SPORT COUNT: COUNT valid Migrate SYNs of the peer's flow
# from SRC:SPORT; NAME.json keeps peer.py's report
msyn_from() {
	pp msyn --pin "$PPIN" --dst "$SRV" --dport "$port" --src "$2" --sport "$3" --count "$4" \
		>"$LAB_DIR/$1.json"
}

# ---------------------------------------------------------------------------
t_begin "A1. the peer's valid Migrate SYN from the mobile's tuple: refused as reject_tuple (a live socket, then the mobile's translation and retired tuple), the mobile's flow untouched"
stats_snap server "$LAB_DIR/a1-stats"
stats_snap mobile "$LAB_DIR/a1-mstats"
mraw=$(flow_raw server "$MOB_A")
lab_capture_start mobile eth0 a1-mob -s 200 -B 16384 "tcp and (tcp[12] & 0xf0) = 0xc0 and tcp[20] = 0xfd"
t_check "the peer sends 10 from $MOB_A:$mport (the mobile's socket on the server)" \
	msyn_from a1a "$MOB_A" "$mport" 10
t_check "msyn_received +10, all reject_tuple" \
	lab_wait_until 3 eq 10,10 eval 'echo "$(cdelta server "$LAB_DIR/a1-stats" msyn_received),$(cdelta server "$LAB_DIR/a1-stats" reject_tuple)"'
t_check "no other outcome (msyn_answered, reject_token/mac/reqno/seq/state, candidate_busy/map_full, rst_sent, rst_rate_limited +0)" \
	eq 0 cdelta server "$LAB_DIR/a1-stats" msyn_answered+reject_token+reject_mac+reject_reqno+reject_seq+reject_state+candidate_busy+candidate_map_full+rst_sent+rst_rate_limited
t_check "no candidate at the mobile's tuple" _t_not cand_names server "$MOB_A"
t_check "the server's flow of the mobile is unchanged, byte for byte" eq "$mraw" flow_raw server "$MOB_A"
lab_capture_stop a1-mob
t_check "the capture (a1-mob) is complete" cap_whole a1-mob
t_check "no signalling reached the mobile" eq 0 pcount a1-mob "True"

# the mobile moves to net B; then its wire tuple is a translation on the
# server and its old one is retired (and still its socket's tuple)
move_a_to_b
t_check "the mobile moves: the server records $MOB_B" \
	lab_wait_until 10 eq "$MOB_B:$(flow_field mobile wire.local.port)" \
	eval 'echo "$(sflow server "$MOB_A" wire.remote.addr):$(sflow server "$MOB_A" wire.remote.port)"'
lab_wait_until 3 eq 1 flow_field mobile migrations
mwport=$(flow_field mobile wire.local.port)
lab_wait_until 5 xlate_settled server || true
stats_snap server "$LAB_DIR/a1b-stats"
stats_snap mobile "$LAB_DIR/a1b-mstats"
mraw=$(flow_raw server "$MOB_A")
xmaps server >"$LAB_DIR/a1b-x-before"
lab_capture_start mobile eth1 a1-mob-b -s 200 -B 16384 "tcp and (tcp[12] & 0xf0) = 0xc0 and tcp[20] = 0xfd and src host $SRV"
t_check "the peer sends 10 from $MOB_B:$mwport (the mobile's translation)" \
	msyn_from a1b "$MOB_B" "$mwport" 10
t_check "and 10 from $MOB_A:$mport (the mobile's retired tuple)" \
	msyn_from a1c "$MOB_A" "$mport" 10
t_check "msyn_received +20, all reject_tuple" \
	lab_wait_until 3 eq 20,20 eval 'echo "$(cdelta server "$LAB_DIR/a1b-stats" msyn_received),$(cdelta server "$LAB_DIR/a1b-stats" reject_tuple)"'
t_check "nothing answered, stored or committed (msyn_answered, committed_fixed, rst_sent +0)" \
	eq 0 cdelta server "$LAB_DIR/a1b-stats" msyn_answered+committed_fixed+rst_sent+rst_rate_limited
t_check "the server's flow of the mobile is unchanged, byte for byte" eq "$mraw" flow_raw server "$MOB_A"
t_check "mig_ingress and mig_egress unchanged" eval 'xmaps server | diff "$LAB_DIR/a1b-x-before" -'
t_check "the mobile dropped no unasked-for SYN/ACK (synack_dropped +0)" \
	eq 0 cdelta mobile "$LAB_DIR/a1b-mstats" synack_dropped
lab_capture_stop a1-mob-b
t_check "the capture (a1-mob-b) is complete" cap_whole a1-mob-b
t_check "no signalling from the server reached the mobile on net B" eq 0 pcount a1-mob-b "True"
t_check "the peer's flow did not move (server: migrations 0, wire peer $PEER:$pport)" \
	eq "0 $PEER:$pport" eval 'echo "$(sflow server "$PEER" migrations) $(sflow server "$PEER" wire.remote.addr):$(sflow server "$PEER" wire.remote.port)"'

# ---------------------------------------------------------------------------
t_begin "A3. the peer redirects its own flow to a third host: one Migrate SYN/ACK per attempt reaches it and nothing else, the server never commits"
lab_capture_start third eth0 a3-third -s 200 -B 16384 "tcp"
stats_snap server "$LAB_DIR/a3-stats"
praw=$(agent_part server "$PEER")
t_check "attempt 1: one valid Migrate SYN from $THIRD:43001" msyn_from a3a "$THIRD" 43001 1
t_check "attempt 2: one from $THIRD:43002" msyn_from a3b "$THIRD" 43002 1
t_check "both answered (msyn_answered +2)" lab_wait_until 3 eq 2 cdelta server "$LAB_DIR/a3-stats" msyn_answered
# the nonce went to the third host: the peer can only guess it
t_check "200 blind CONFIRMs from $THIRD:43001 (random nonce, valid mac for it)" \
	pp confirm --pin "$PPIN" --dst "$SRV" --dport "$port" --src "$THIRD" --sport 43001 --count 200
t_check "all dropped: confirm_dropped +200" lab_wait_until 3 eq 200 cdelta server "$LAB_DIR/a3-stats" confirm_dropped
# what the third host gets comes within the candidates' lifetime (5 s)
t_check "the candidates expire (6 s)" lab_wait_until 8 eq 0 live_cands "$PEER"
t_check "the server never committed (committed_fixed +0)" eq 0 cdelta server "$LAB_DIR/a3-stats" committed_fixed
t_check "its flow's wire tuple is still the peer's own ($PEER:$pport), no migration" \
	eq "0 $PEER:$pport" eval 'echo "$(sflow server "$PEER" migrations) $(sflow server "$PEER" wire.remote.addr):$(sflow server "$PEER" wire.remote.port)"'
t_check "what the agent wrote of the peer's flow is unchanged" eq "$praw" agent_part server "$PEER"
t_check "no translation names the third host" _t_not xlate_names server "$THIRD"
lab_capture_stop a3-third
t_check "the capture (a3-third) is complete" cap_whole a3-third
n_sa=$(pcount a3-third "d['src'] == '$SRV' and d['flags'] & 0x12 == 0x12 and d['sub'] == 3")
n_other=$(pcount a3-third "d['src'] == '$SRV' and not (d['flags'] & 0x12 == 0x12 and d['sub'] == 3)")
n_data=$(pcount a3-third "d['src'] == '$SRV' and d['plen'] > 0")
n_rst=$(pcount a3-third "d['src'] == '$THIRD' and d['flags'] & 0x04")
echo "   the third host got $n_sa Migrate SYN/ACKs, $n_other other segments ($n_data with data) from the server; its kernel answered $n_rst RSTs;" \
	"server: candidate_dropped +$(cdelta server "$LAB_DIR/a3-stats" candidate_dropped)"
for p in 43001 43002; do
	t_check "attempt from :$p: at most one Migrate SYN/ACK reached the third host" \
		le 1 pcount a3-third "d['src'] == '$SRV' and d['dport'] == $p and d['flags'] & 0x12 == 0x12 and d['sub'] == 3"
done
t_check "and nothing else from the server (no data, no other segment)" test "$n_other" = 0
if ((_T_BAD)); then
	echo "   what the third host saw:"
	lab_capture_read a3-third -tt | sed -E 's/options \[unknown-253 0x[0-9a-f]+/options [mig/; s/^/   | /'
fi

# ---------------------------------------------------------------------------
t_begin "A2. the peer's valid Migrate SYN replayed from $FLOOD spoofed tuples: at most 2 candidates ever, nothing else changes"
lab_wait_until 8 eq 0 live_cands "$PEER"
stats_snap server "$LAB_DIR/a2-stats"
mraw=$(flow_raw server "$MOB_A")
praw=$(agent_part server "$PEER")
xmaps server >"$LAB_DIR/a2-x-before"
lab_capture_start sink eth0 a2-sink -s 200 -B 32768 "tcp"
lab_bg router sampler python3 "$here/peer.py" sample --pin "$SPIN" --map mig_cand \
	--until "$LAB_DIR/a2.done" --max-seconds 90
pp msyn --pin "$PPIN" --dst "$SRV" --dport "$port" --src "$SPOOF" --sport unique \
	--count "$FLOOD" --rate 20000 --max-seconds 40 >"$LAB_DIR/a2.json"
r=$(cat "$LAB_DIR/a2.json")
: >"$LAB_DIR/a2.done"
lab_bg_wait sampler 10
span=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(round(d["t_last"] - d["t_first"], 2))' "$r")
sent=$(jfield "$r" sent)
cmax=$(jfield "$(tail -n 1 "$(lab_log sampler)")" max)
echo "   sent $sent valid Migrate SYNs (reqno $(jfield "$r" reqno), seq $(jfield "$r" seq)) from unique spoofed tuples in ${span} s; mig_cand held at most $cmax entries"
t_check "the peer sent all $FLOOD" test "$sent" = "$FLOOD"
t_check "msyn_received +$FLOOD" lab_wait_until 5 eq "$FLOOD" cdelta server "$LAB_DIR/a2-stats" msyn_received
ans=$(cdelta server "$LAB_DIR/a2-stats" msyn_answered)
busy=$(cdelta server "$LAB_DIR/a2-stats" candidate_busy)
maxans=$(python3 -c "import math; print(2 * (1 + math.ceil($span / 5)))")
echo "   msyn_answered +$ans, candidate_busy +$busy (at most $maxans answers: 2 per 5-s candidate lifetime)"
t_check "every one answered or refused as busy: msyn_answered + candidate_busy = $FLOOD" \
	test "$((ans + busy))" = "$FLOOD"
t_check "at most 2 new candidates per candidate lifetime: $ans <= $maxans" test "$ans" -le "$maxans"
t_check "no other outcome (reject_*, candidate_map_full, committed_fixed, rst_sent +0)" \
	eq 0 cdelta server "$LAB_DIR/a2-stats" reject_token+reject_mac+reject_reqno+reject_seq+reject_state+reject_tuple+candidate_map_full+committed_fixed+rst_sent+rst_rate_limited
t_check "mig_cand never held more than 2 entries (sampled every 20 ms: max $cmax)" test "$cmax" -le 2
t_check "and holds at most 2 now" le 2 map_count server mig_cand
# (two CPUs taking one slot at once left an entry that no slot names, for
# good: the sampler above sees it only if it samples at the right moment)
t_check "every mig_cand entry is named by a candidate slot of its flow" \
	python3 "$here/peer.py" orphans --pin "$SPIN"
t_check "the server's flow of the mobile is unchanged, byte for byte" eq "$mraw" flow_raw server "$MOB_A"
t_check "mig_ingress and mig_egress unchanged" eval 'xmaps server | diff "$LAB_DIR/a2-x-before" -'
t_check "and the translation filter counts them exactly" xf_ok server
# no_xlate_of ADDR...: no translation of the server names any of them
no_xlate_of() {
	local a
	for a in "$@"; do
		if xlate_names server "$a"; then
			echo "a translation names $a"
			return 1
		fi
	done
}
t_check "no translation names the peer or a spoofed address" no_xlate_of "$PEER" ${SPOOF//,/ }
t_check "the peer's flow: no migration, wire tuple its own, agent part unchanged" \
	eq "0 $PEER:$pport $praw" eval 'echo "$(sflow server "$PEER" migrations) $(sflow server "$PEER" wire.remote.addr):$(sflow server "$PEER" wire.remote.port) $(agent_part server "$PEER")"'
t_check "the mobile's flow: still where it moved ($MOB_B:$mwport), 1 migration" \
	eq "1 $MOB_B:$mwport" eval 'echo "$(sflow server "$MOB_A" migrations) $(sflow server "$MOB_A" wire.remote.addr):$(sflow server "$MOB_A" wire.remote.port)"'
lab_capture_stop a2-sink
t_check "the capture (a2-sink) is complete" cap_whole a2-sink
t_check "the sink got the $ans answers, Migrate SYN/ACKs to spoofed addresses" \
	eq "$ans" pcount a2-sink "d['src'] == '$SRV' and d['flags'] & 0x12 == 0x12 and d['sub'] == 3 and d['dst'] in '$SPOOF'.split(',')"
t_check "and nothing else" eq "$ans" pcount a2-sink True

t_begin "A. both downloads survive the peer's attacks"
under_way mob-a
under_way peer-a
# (released once everything arrived: the sender's child exiting earlier
# makes socat drop what its socketpair still holds, up to ~200 KB, and
# close cleanly, a short download that is the harness's, not the flow's)
lab_wait_until 150 eval 'ge $((SIZE_MB << 20)) fsize "$LAB_DIR/mob-a.got" && ge $((SIZE_MB << 20)) fsize "$LAB_DIR/peer-a.got"' || true
lab_release a
finish mob-a
finish peer-a
lab_bg_stop srv-a 2>/dev/null
t_check "the mobile's flow is gone after the close" lab_wait_until 5 eq 0 nflows mobile
lab_wait_until 5 eq 0 nflows server || true
echo "   after both flows closed the server holds $(map_count server mig_cand) mig_cand, $(map_count server mig_ingress) mig_ingress, $(map_count server mig_egress) mig_egress entries"
t_check "no mig_cand entry outlives the flows" lab_wait_until 5 eq 0 map_count server mig_cand
move_b_to_a

# ===========================================================================
t_begin "B. $MOVES moves while the server's agent is SIGKILLed and restarted or SIGSTOPped around them, the mobile's agent restarted once: no commit lost"
port=7002
lab_bg server srv-b socat -t 60 -u \
	"SYSTEM:$(lab_held_sender b)" \
	"TCP4-LISTEN:$port,reuseaddr"
lab_wait_listen server "$port"
client mob-b "$port" "$RATE_B" mobile
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 eq 1 nflows server
lab_wait_until 10 ge $((1 << 20)) fsize "$LAB_DIR/mob-b.got"
cookie=$(flow_field mobile cookie)
sagent=$(agent_part server "$MOB_A")
magent=$(agent_part mobile "$SRV")
stats_snap server "$LAB_DIR/b-stats"
stats_snap mobile "$LAB_DIR/b-mstats"
srv_starts=0 mob_starts=0 stops=0 lost=
spid() { echo "${LAB_AGENT_PID[server]}"; }
for ((i = 1; i <= MOVES; i++)); do
	if ((i % 2)); then mv=move_a_to_b; else mv=move_b_to_a; fi
	case $((i % 4)) in
	1)	# the server's agent is dead during the move and its commit, and
		# comes back (reloading and reattaching the data path) right after
		lab_agent_kill server KILL
		$mv
		lab_agent_start server
		srv_starts=$((srv_starts + 1)) ;;
	2)	# stopped during the move; the data path commits without it
		kill -STOP "$(spid)"
		stops=$((stops + 1))
		$mv
		lab_wait_until 10 eq "$i" sflow server "$MOB_A" migrations ||
			lost+=" $i(server, agent stopped)"
		kill -CONT "$(spid)" ;;
	3)	# killed just as the move starts, started while it commits
		$mv
		lab_agent_kill server KILL
		lab_agent_start server
		srv_starts=$((srv_starts + 1)) ;;
	0)	# stopped and continued around the commit
		kill -STOP "$(spid)"
		stops=$((stops + 1))
		$mv
		kill -CONT "$(spid)" ;;
	esac
	if ! lab_wait_until 10 eq "$i" flow_field mobile migrations; then
		lost+=" $i(mobile)"
		break
	fi
	echo "   move $i: mobile $(flow_field mobile migrations), server $(sflow server "$MOB_A" migrations) migrations"
	if ((i == MOVES / 2)); then
		# the mobile's agent: SIGKILL and start again between two moves
		lab_agent_kill mobile KILL
		lab_agent_start mobile
		mob_starts=$((mob_starts + 1))
		mob_mid=$(flow_field mobile migrations)
	fi
done
if ((MOVES % 2)); then maddr=$MOB_B; else maddr=$MOB_A; fi
echo "   server agent: $srv_starts restarts, $stops stops; mobile agent: $mob_starts restart"
t_check "every move committed on the mobile in time${lost:+ (missed:$lost)}" test -z "$lost"
under_way mob-b
t_check "both agents run" eval '_lab_alive "${LAB_AGENT_PID[server]}" && _lab_alive "${LAB_AGENT_PID[mobile]}"'
t_check "the mobile's socket is the same (cookie)" eq "$cookie" flow_field mobile cookie
t_check "mobile lists $MOVES migrations" lab_wait_until 5 eq "$MOVES" flow_field mobile migrations
t_check "server lists $MOVES migrations" lab_wait_until 5 eq "$MOVES" sflow server "$MOB_A" migrations
t_check "migrating works after the mobile's agent restart ($mob_mid -> $MOVES)" \
	test "${mob_mid:-0}" = $((MOVES / 2)) -a "$(flow_field mobile migrations)" = "$MOVES"
t_check "mobile's wire tuple has its current address $maddr" eq "$maddr" flow_field mobile wire.local.addr
t_check "server's wire tuple is the mobile's current one" \
	eq "$maddr:$(flow_field mobile wire.local.port)" \
	eval 'echo "$(sflow server "$MOB_A" wire.remote.addr):$(sflow server "$MOB_A" wire.remote.port)"'
t_check "counters: committed_fixed +$MOVES on the server, committed_mover +$MOVES on the mobile" \
	eq "$MOVES,$MOVES" eval 'echo "$(cdelta server "$LAB_DIR/b-stats" committed_fixed),$(cdelta mobile "$LAB_DIR/b-mstats" committed_mover)"'
t_check "what the agents wrote of the flow is unchanged on both ends (never rewritten)" \
	eq "$sagent $magent" eval 'echo "$(agent_part server "$MOB_A") $(agent_part mobile "$SRV")"'
t_check "the server's agent logged $((srv_starts + 1)) starts" \
	eq $((srv_starts + 1)) grep -c ': migrate-agent' "$LAB_DIR/agent-server.log"
lab_wait_until 150 ge $((SIZE_MB << 20)) fsize "$LAB_DIR/mob-b.got" || true   # (as for part A)
lab_release b
finish mob-b
lab_bg_wait srv-b 10 >/dev/null 2>&1 || true

# ===========================================================================
t_begin "C. the peer moves its own flow without pause while the mobile moves once: the server's agent handles the mobile's commit while the peer's keep coming"
port=7003
lab_bg server srv-c socat -t 60 -U "TCP4-LISTEN:$port,reuseaddr,fork" \
	"SYSTEM:$(lab_held_sender c)"
lab_wait_listen server "$port"
if ((MOVES % 2)); then move_b_to_a; fi
client mob-c "$port" "$RATE_A" mobile
client peer-c "$port" "$RATE_A" peer
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 eq 1 nflows peer
lab_wait_until 5 eq 2 nflows server
lab_wait_until 10 eval 'ge $((1 << 20)) fsize "$LAB_DIR/mob-c.got" && ge $((1 << 20)) fsize "$LAB_DIR/peer-c.got"'
mport=$(flow_field mobile local.port)
slog=$LAB_DIR/agent-server.log
# handled LINE_PATTERN: the server agent's "migrated" lines of that flow
# (the peer's own: the peer moved), by line number
handled() { grep -n "migrated $SRV:$port -> $1.*(the peer moved" "$slog" | cut -d: -f1; }
stats_snap server "$LAB_DIR/c-stats"
lab_bg peer churn python3 "$here/peer.py" churn --pin "$PPIN" --dst "$SRV" --dport "$port" \
	--src "$PEER" --dev eth0 --until "$LAB_DIR/c.done" --count 1000000 --max-seconds 120
t_check "the peer's churn commits at the server (committed_fixed +50)" \
	lab_wait_until 20 ge 50 cdelta server "$LAB_DIR/c-stats" committed_fixed
t_check "and the server's agent handles them as they come (10 'migrated' lines of the peer's flow)" \
	lab_wait_until 20 ge 10 eval 'handled "$PEER:" | wc -l'
move_a_to_b
t_check "the mobile's move commits at the server" \
	lab_wait_until 30 eq 1 sflow server "$MOB_A" migrations
t_check "the server's agent handles the mobile's commit" \
	lab_wait_until 20 eval 'test -n "$(handled "$MOB_A:$mport:")"'
t_check "while the churn still runs" _lab_alive "$(lab_bg_pid churn)"
mline=$(handled "$MOB_A:$mport:" | head -n 1)
t_check "and the peer's go on being handled after it" \
	lab_wait_until 20 ge 1 eval 'handled "$PEER:" | awk -v m="${mline:-0}" "\$1 > m" | wc -l'
: >"$LAB_DIR/c.done"
lab_bg_wait churn 10
r=$(tail -n 1 "$(lab_log churn)")
nbefore=$(handled "$PEER:" | awk -v m="${mline:-0}" '$1 < m' | wc -l)
nafter=$(handled "$PEER:" | awk -v m="${mline:-0}" '$1 > m' | wc -l)
secs=$(python3 -c 'import json, sys; d = json.loads(sys.argv[1]); print(round((d["t_last"] or 0) - (d["t_first"] or 0), 1))' "$r")
unlogged=$(cdelta server "$LAB_DIR/c-stats" commits_unlogged)
echo "   churn: $(jfield "$r" rounds) rounds, $(jfield "$r" answered) answered and confirmed in $secs s;" \
	"server: committed_fixed +$(cdelta server "$LAB_DIR/c-stats" committed_fixed), commits_unlogged +$unlogged;" \
	"the peer's commits logged: $nbefore before the mobile's, $nafter after"
# (the agent's seconds start at the first commit it holds back; the
# churn's at its first round: one more second of its own at most, plus
# each flow's first commit)
t_check "the peer's commits got at most 10 'migrated' lines a second of the churn (+ its first)" \
	test $((nbefore + nafter)) -le "$(python3 -c "import math; print(1 + 10 * (math.ceil($secs) + 1))")"
t_check "the rest counted (commits_unlogged > 0)" test "$unlogged" -gt 0
t_check "and reported in a line" \
	lab_wait_until 5 grep -q "commit(s) of flows that had committed less than a second before: not logged" "$slog"
t_check "the mobile's flow: 1 migration, the server's wire tuple its new one" \
	eq "$MOB_B:$(flow_field mobile wire.local.port)" \
	eval 'echo "$(sflow server "$MOB_A" wire.remote.addr):$(sflow server "$MOB_A" wire.remote.port)"'
# thousands of commits of one flow, each inserting and deleting its
# translations on either CPU, while the mobile's commits: the server's
# translation filter still counts exactly what its maps hold (a count too
# low would let another flow's segments skip their translation)
t_check "the server's translation filter counts its translations exactly after the churn" \
	lab_wait_until 5 xf_ok server
under_way mob-c
lab_wait_until 150 ge $((SIZE_MB << 20)) fsize "$LAB_DIR/mob-c.got" || true   # (as for part A)
lab_release c
finish mob-c
# (the peer's own download went to ports it never opened: its loss)
lab_bg_stop cli-peer-c 2>/dev/null
lab_bg_stop srv-c 2>/dev/null

t_summary
