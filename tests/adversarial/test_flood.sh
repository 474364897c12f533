#!/usr/bin/env bash
# shellcheck disable=SC2016 # single-quoted code is evaluated later on purpose (t_check, lab_wait_until)
# A SYN flood with the Migrate option, from many sources, at 5,000 per second
# for 20 s (100,000 SYNs at most).  Connections made during it are keyed;
# memory stays bounded by the configured map sizes.
#
# The flooder's SYNs offer MP_SYN (random key halves) from random addresses
# of 198.51.100.128/25 and random ports (synflood.py, next to this file,
# pinned to one CPU).  The router blackholes that /25, so the server's
# SYN/ACKs go nowhere.  The server's listener has a backlog of 4096, as
# large as mig_reqs (MIG_MAX_REQS): the first ~4,100 SYNs get request
# sockets and request state (mig_reqs fills to its bound), every later one
# a syncookie SYN/ACK that carries the responder key and keeps no state.
# During the flood the client opens 20 echo connections, one every 0.5 s,
# and runs a 24 MiB echo transfer; all of them meet a full SYN queue, so
# they are answered with syncookies and keyed through KEY1.  Checks: each
# legit connection keyed on both ends with the same token; syncookies
# answered by the shim; no pool key taken by the server per SYN; mig_reqs
# never above its max_entries; mig_flows only the legit flows; the server
# agent's RSS grew by at most 16 MiB; the transfer byte-exact.
#
#   client (agent)                 router (fwd)                       server (agent)
#   eth0 192.0.2.1/24      ------- a0 192.0.2.254/24
#                                  s0 203.0.113.254/24 -------------- eth0 203.0.113.1/24
#   flooder eth0 198.51.100.1/25 - f0 198.51.100.126/25
#                                  blackhole 198.51.100.128/25 (the spoofed sources)
#
# FLOOD_RATE, FLOOD_SECONDS override 5000 and 20 (for debugging).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"

CLI=192.0.2.1
SRV=203.0.113.1
SPOOF=198.51.100.128/25
PORT=5001
RATE=${FLOOD_RATE:-5000}
SECS=${FLOOD_SECONDS:-20}
NLEGIT=20
XFER_MB=24
BACKLOG=4096
RSS_SLACK_KB=$((16 << 10))

lab_init
python3 "$here/synflood.py" selftest >/dev/null
lab_host client
lab_host server
lab_host flooder
lab_host router router
lab_link client eth0 router a0
lab_link server eth0 router s0
lab_link flooder eth0 router f0
lab_addr router a0 192.0.2.254/24
lab_addr router s0 203.0.113.254/24
lab_addr router f0 198.51.100.126/25
lab_addr client eth0 "$CLI/24"
lab_addr server eth0 "$SRV/24"
lab_addr flooder eth0 198.51.100.1/25
lab_route client -4 replace default via 192.0.2.254
lab_route server -4 replace default via 203.0.113.254
lab_route flooder -4 replace default via 198.51.100.126
lab_route router -4 add blackhole "$SPOOF"
# cookies only when the SYN queue is full (the default), the listener's
# backlog not capped below BACKLOG
lab_nsexec server sysctl -qw net.ipv4.tcp_syncookies=1 net.core.somaxconn=$BACKLOG
lab_agent_start client
lab_agent_start server

# ---------------------------------------------------------------------------
# Helpers

# stat1 HOST NAME: one counter (0 if it cannot be read)
stat1() { counter "$@" 2>/dev/null || echo 0; }
# netstat_ext HOST NAME: a TcpExt counter of HOST's kernel
netstat_ext() {
	lab_nsexec "$1" awk -v k="$2" '
		$1 == "TcpExt:" && !h { for (i = 2; i <= NF; i++) n[i] = $i; h = 1; next }
		$1 == "TcpExt:" { for (i = 2; i <= NF; i++) if (n[i] == k) print $i }' /proc/net/netstat
}
# rx_packets HOST IF: packets IF received (/proc/net/dev of HOST's netns)
rx_packets() { lab_nsexec "$1" awk -v i="$2:" '$1 == i { print $3 }' /proc/net/dev; }
# map_max HOST MAP: max_entries of one of HOST's pinned maps
map_max() {
	bpftool -j map show pinned "$(lab_pindir "$1")/$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])'
}
# rss_kb PID: resident set size in KiB
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

SRV_AGENT=${LAB_AGENT_PID[server]}
REQS_MAX=$(map_max server mig_reqs)
FLOWS_MAX=$(map_max server mig_flows)

# reqs_exact HOST: the number of distinct keys in HOST's mig_reqs, from two
# dumps in a row that agree, or nothing when they differ.  (A dump walks the
# map with get_next_key; an entry evicted under it restarts the walk, so a
# dump taken while the map changes can list keys twice or list keys of two
# moments: only a dump that the next one repeats is a count.)
reqs_exact() {
	local f
	f=$(lab_pindir "$1")/mig_reqs
	python3 - <(bpftool -j map dump pinned "$f") <(bpftool -j map dump pinned "$f") <<-'EOF'
	import json, sys
	la, lb = (json.load(open(p)) for p in sys.argv[1:3])
	a, b = (frozenset(tuple(e["key"]) for e in l) for l in (la, lb))
	# exact count (or -), then what the first dump listed: entries, distinct
	print(len(a) if a == b else "-", len(la), len(a))
	EOF
}

# sample: one sample of the server's mig_reqs entry count and the agent's
# RSS, the highest ones kept in REQS_PEAK, RSS_PEAK; SAMPLES counts the
# exact counts, SKIPPED the dumps taken while the map changed; RAW_PEAK is
# the most entries one dump listed (duplicates included)
REQS_PEAK=0 RSS_PEAK=0 SAMPLES=0 SKIPPED=0 RAW_PEAK=0
sample() {
	local n raw dist r
	read -r n raw dist < <(reqs_exact server 2>/dev/null)
	r=$(rss_kb "$SRV_AGENT" 2>/dev/null) || r=
	if [[ ${n:-} =~ ^[0-9]+$ ]]; then
		SAMPLES=$((SAMPLES + 1))
		((n > REQS_PEAK)) && REQS_PEAK=$n
	else
		SKIPPED=$((SKIPPED + 1))
	fi
	if [[ ${raw:-} =~ ^[0-9]+$ ]]; then
		((raw > RAW_PEAK)) && RAW_PEAK=$raw
		echo "${n:--} $raw $dist" >>"$LAB_DIR/reqs.samples"
	fi
	if [[ -n $r ]] && ((r > RSS_PEAK)); then
		RSS_PEAK=$r
	fi
	return 0
}
# memlock HOST MAP: the kernel memory the map is charged
memlock() {
	bpftool -j map show pinned "$(lab_pindir "$1")/$2" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_memlock"])'
}
flood_pid() { lab_bg_pid flood 2>/dev/null; }
flooding() { local p; p=$(flood_pid) && _lab_alive "$p"; }
# sample_until_flood_ends: for lab_wait_until; samples on every poll
sample_until_flood_ends() {
	sample
	! flooding
}
# legit_echoed: every legit connection got its line back
legit_echoed() {
	local i
	for ((i = 1; i <= NLEGIT; i++)); do
		grep -q "^hello-$i\$" "$LAB_DIR/legit-$i.out" 2>/dev/null || return 1
	done
}
legit_nechoed() {
	local i n=0
	for ((i = 1; i <= NLEGIT; i++)); do
		grep -q "^hello-$i\$" "$LAB_DIR/legit-$i.out" 2>/dev/null && n=$((n + 1))
	done
	echo "$n"
}
legit_done() {
	local i
	for ((i = 1; i <= NLEGIT; i++)); do
		[[ -s $LAB_DIR/legit-$i.rc ]] || return 1
	done
}

# tokens_match: every legit connection (client port 31000+i) and the
# transfer (XPORT) is listed once on each host with the same token; the
# server lists no flow with another peer.  Prints what it found.
tokens_match() {
	lab_ctl client -j show >"$LAB_DIR/flows-client.json" || return 1
	lab_ctl server -j show >"$LAB_DIR/flows-server.json" || return 1
	python3 - "$LAB_DIR/flows-client.json" "$LAB_DIR/flows-server.json" \
		"$CLI" "$SRV" "$PORT" "$NLEGIT" "$(cat "$LAB_DIR/xfer.port" 2>/dev/null || echo 0)" <<-'EOF'
	import json, sys
	fc, fs, cli, srv, port, n, xport = sys.argv[1:]
	port, n, xport = int(port), int(n), int(xport)
	c = json.load(open(fc))["flows"]
	s = json.load(open(fs))["flows"]
	strangers = [f for f in s if f["remote"]["addr"] != cli]
	ok = not strangers
	if strangers:
	    print("server lists %d flows of other peers, e.g. %s" % (len(strangers), strangers[0]["remote"]))
	want = [31000 + i for i in range(1, n + 1)] + ([xport] if xport else [])
	good = 0
	for p in want:
	    ct = [f["token"] for f in c if f["local"]["port"] == p and f["remote"]["port"] == port
	          and f["remote"]["addr"] == srv]
	    st = [f["token"] for f in s if f["remote"]["port"] == p and f["local"]["port"] == port
	          and f["remote"]["addr"] == cli]
	    if len(ct) == 1 and len(st) == 1 and ct[0] == st[0]:
	        good += 1
	    else:
	        ok = False
	        print("client port %d: client tokens %s, server tokens %s" % (p, ct, st))
	print("%d of %d connections keyed with the same token on both ends; "
	      "flows listed: client %d, server %d" % (good, len(want), len(c), len(s)))
	sys.exit(0 if ok else 1)
	EOF
}

head -c "$((XFER_MB << 20))" /dev/urandom >"$LAB_DIR/big"
want_sum=$(sha256sum <"$LAB_DIR/big" | cut -d' ' -f1)
CPU=$(python3 -c 'import os; print(max(os.sched_getaffinity(0)))')

# ---------------------------------------------------------------------------
t_begin "flood: the server answers with syncookies that carry the responder key"
lab_bg server srv socat "TCP4-LISTEN:$PORT,reuseaddr,fork,backlog=$BACKLOG" EXEC:cat
lab_wait_listen server "$PORT"
b_taken=$(stat1 server pool_taken)
b_empty=$(stat1 server pool_empty)
b_lost=$(stat1 server events_lost)
b_rx=$(rx_packets server eth0)
b_cookies=$(netstat_ext server SyncookiesSent)
rss0=$(rss_kb "$SRV_AGENT")
mem_reqs0=$(memlock server mig_reqs)
RSS_PEAK=$rss0
printf '   before: server agent (pid %s) VmRSS %s KiB; mig_reqs max_entries %s, mig_flows max_entries %s\n' \
	"$SRV_AGENT" "$rss0" "$REQS_MAX" "$FLOWS_MAX"

lab_bg flooder flood taskset -c "$CPU" python3 "$here/synflood.py" \
	--dst "$SRV" --dport "$PORT" --spoof "$SPOOF" --rate "$RATE" --seconds "$SECS" --count 100000 \
	--hold "$LAB_DIR/flood-stop"
t_flood0=$EPOCHREALTIME
t_check "the kernel switched to syncookies, the shim answered them" \
	lab_wait_until 5 ge 1 stat1 server syncookie_answered
t_check "because the SYN queue was full (TcpExt TCPReqQFullDoCookies)" \
	lab_wait_until 5 ge 1 netstat_ext server TCPReqQFullDoCookies
sample

# ---------------------------------------------------------------------------
t_begin "during the flood: $NLEGIT echo connections and a $XFER_MB MiB transfer, all keyed"
# The transfer: the client sends big through the server's echo (2 MiB/s,
# ~12 s) and keeps what comes back; like the echo connections below it
# then holds until $LAB_DIR/go exists (40 s at most), so that the checks
# see it however slow the machine.  Its port is taken from ss.
lab_bg client xfer sh -c "{ pv -qL 2m <'$LAB_DIR/big'; k=0; while [ ! -e '$LAB_DIR/go' ] && [ \$k -lt 400 ]; do sleep 0.1; k=\$((k + 1)); done; } |
	socat -t 30 -T 60 - TCP4:$SRV:$PORT >'$LAB_DIR/xfer.got'"
xport_of() {
	lab_nsexec client ss -Htn state established "dport = :$PORT" | awk '{ n = split($3, a, ":"); print a[n] }' | head -n 1
}
if lab_wait_until 5 eval 'p=$(xport_of); [ -n "$p" ] && echo "$p" >"$LAB_DIR/xfer.port"'; then :; fi
# The echo connections: one every 0.5 s from ports 31001..31020 (outside
# the ephemeral range), each holds until $LAB_DIR/go exists (40 s at most).
lab_bg client legit sh -c '
	d=$1 srv=$2 port=$3 n=$4
	i=1
	while [ $i -le $n ]; do
		(
			{ echo hello-$i; k=0; while [ ! -e $d/go ] && [ $k -lt 400 ]; do sleep 0.1; k=$((k + 1)); done; } |
				socat -t 5 -T 60 - TCP4:$srv:$port,sourceport=$((31000 + i)),connect-timeout=10 \
				>$d/legit-$i.out 2>$d/legit-$i.err
			echo $? >$d/legit-$i.rc
		) &
		i=$((i + 1))
		sleep 0.5
	done
	wait' sh "$LAB_DIR" "$SRV" "$PORT" "$NLEGIT"
t_check "the transfer is keyed on both ends" \
	lab_wait_until 5 eval '[ -s "$LAB_DIR/xfer.port" ] && [ "$(nflows client)" -ge 1 ] && [ "$(nflows server)" -ge 1 ]'
lab_wait_until $((NLEGIT / 2 + 5)) eval 'sample; legit_echoed' || true
t_check "all $NLEGIT echo connections completed and echoed ($(legit_nechoed) did)" legit_echoed
t_check "checked while the flood still runs" flooding
lab_wait_until 3 tokens_match || true
t_check "each is keyed on both ends with the same token; the server lists no flood flow" tokens_match
nf=$(map_count server mig_flows)
t_check "server mig_flows holds only the legit flows ($nf entries for $((NLEGIT + 1)) connections)" \
	test "$nf" -le $((NLEGIT + 1))
sample
: >"$LAB_DIR/go"
: >"$LAB_DIR/flood-stop"   # (the flood went on past $SECS s only if these checks took longer)
t_check "the echo connections end cleanly (exit 0)" \
	lab_wait_until 10 eval 'legit_done && ! grep -qv "^0$" "$LAB_DIR"/legit-*.rc'

# ---------------------------------------------------------------------------
t_begin "after the flood: counters and memory bounded by the map sizes"
lab_wait_until $((SECS + 15)) sample_until_flood_ends || true
t_check "the flooder finished" lab_bg_wait flood 1
fl=$(grep -m1 '^{' "$(lab_log flood)" 2>/dev/null || echo '{}')
t_flood=$(python3 -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))' "$t_flood0" "$EPOCHREALTIME")
sent=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1]).get("sent", 0))' "$fl")
rx=$(($(rx_packets server eth0) - b_rx))
cookies=$(($(netstat_ext server SyncookiesSent) - b_cookies))
sample
printf '   flooder: %s\n' "$fl"
printf '   server eth0 received %d packets in %ss (~%d/s incl. legit traffic); kernel SyncookiesSent %d\n' \
	"$rx" "$t_flood" "$(python3 -c 'import sys; print(int(int(sys.argv[1]) / float(sys.argv[2])))' "$rx" "$t_flood")" "$cookies"
t_check "the flooder sent at least 90% of $((RATE * SECS)) SYNs ($sent)" \
	test "$sent" -ge $((RATE * SECS * 9 / 10))
t_check "the server received them (eth0 rx $rx)" test "$rx" -ge $((sent * 9 / 10))

t_check "the transfer finishes" lab_bg_wait xfer 40
t_check "$XFER_MB MiB came back byte-exact (sha256)" \
	eq "$want_sum" eval 'sha256sum <"$LAB_DIR/xfer.got" | cut -d" " -f1'

lab_ctl server show stats >"$LAB_DIR/stats-server.txt" 2>&1
lab_ctl client show stats >"$LAB_DIR/stats-client.txt" 2>&1
lab_nsexec server nstat -asz >"$LAB_DIR/nstat-server.txt" 2>&1
sc=$(stat1 server syncookie_answered)
sa=$(stat1 server synack_answered)
k1s=$(stat1 client key1_sent)
k1r=$(stat1 server key1_received)
kc=$(stat1 client keyed)
ks=$(stat1 server keyed)
taken=$(($(stat1 server pool_taken) - b_taken))
empty=$(($(stat1 server pool_empty) - b_empty))
lost=$(($(stat1 server events_lost) - b_lost))
printf '   server: syncookie_answered %d, synack_answered %d, key1_received %d, keyed %d, pool_taken +%d, pool_empty +%d, events_lost +%d\n' \
	"$sc" "$sa" "$k1r" "$ks" "$taken" "$empty" "$lost"
printf '   client: key1_sent %d, keyed %d\n' "$k1s" "$kc"
# The kernel's count of syncookie SYN/ACKs less the shim's: those the shim
# answered from request state left in mig_reqs by an earlier SYN of the same
# tuple (random tuples repeat; a request socket that died leaves its entry)
printf '   cookie SYN/ACKs answered from leftover mig_reqs state: %d (kernel SyncookiesSent %d - syncookie_answered %d)\n' \
	$((cookies - sc)) "$cookies" "$sc"
t_check "the shim answered most flood SYNs with syncookies ($sc of $sent)" \
	test "$sc" -gt 0 -a "$sc" -ge $((sent / 2))
# While the queue is full every SYN gets a cookie; the kernel expires the
# flood's request sockets early (fewer SYN/ACK retries when the queue is
# more than half full), so it drains every few seconds and a legit SYN may
# then get request state instead: most, not all, go through KEY1.
t_check "most legit connections finished through KEY1 (client sent $k1s, server took $k1r, of $((NLEGIT + 1)))" \
	test "$k1r" -ge $((NLEGIT / 2)) -a "$k1s" -ge "$k1r"
t_check "both agents keyed all $((NLEGIT + 1)) connections (client $kc, server $ks)" \
	test "$kc" -ge $((NLEGIT + 1)) -a "$ks" -ge $((NLEGIT + 1))
t_check "no pool key taken by the server for the flood (pool_taken +$taken, at most $((NLEGIT + 1)))" \
	test "$taken" -le $((NLEGIT + 1))
t_check "the server lost no events" test "$lost" = 0
rss1=$(rss_kb "$SRV_AGENT")
((rss1 > RSS_PEAK)) && RSS_PEAK=$rss1
mem_reqs1=$(memlock server mig_reqs)
printf '   mig_reqs: peak %d entries in %d exact samples, %d skipped (one dump listed up to %d, repeats included) (max_entries %d), %d -> %d bytes memlock; server agent VmRSS %d -> %d KiB (peak %d)\n' \
	"$REQS_PEAK" "$SAMPLES" "$SKIPPED" "$RAW_PEAK" "$REQS_MAX" "$mem_reqs0" "$mem_reqs1" "$rss0" "$rss1" "$RSS_PEAK"
t_check "mig_reqs never held more than its max_entries ($REQS_PEAK <= $REQS_MAX, $SAMPLES samples)" \
	test "$SAMPLES" -ge 3 -a "$REQS_PEAK" -le "$REQS_MAX"
t_check "mig_reqs filled up during the flood (request state was taken: $REQS_PEAK)" \
	test "$REQS_PEAK" -ge $((REQS_MAX / 2))
t_check "the kernel memory of mig_reqs did not grow ($mem_reqs0 -> $mem_reqs1 bytes)" \
	test "$mem_reqs1" -le "$mem_reqs0"
t_check "the server agent's RSS grew by at most $((RSS_SLACK_KB >> 10)) MiB ($rss0 -> peak $RSS_PEAK KiB)" \
	test $((RSS_PEAK - rss0)) -le "$RSS_SLACK_KB"
t_check "no flow state left once the connections closed" \
	lab_wait_until 5 eq 00 eval 'echo "$(nflows client)$(nflows server)"'
t_check "the server agent is still running" _lab_alive "$SRV_AGENT"

t_summary
