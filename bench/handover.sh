#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# bench/handover.sh - handover latency in the namespace lab, migrate against
# the kernel's Multipath TCP in the same run, printed as a markdown section
# for docs/BENCHMARKS.md (bench/run.sh).
#
# A paced download (bench/handover.py) from the server to the mobile;
# break-before-make: the mobile's link to one net goes down with its
# address and default route (it left that network: what was in flight
# there is lost), D seconds later its address on the other net comes up,
# then its default route.  That other link is up and ready before (a link
# that comes up passes no packet until the kernel's link watch activates
# it, up to a second later: a cost of the link, not of the handover).
# Both steps are written to one `ip -batch` process started beforehand,
# so that no process start sits between the clock and the change.
# Measured from just before that address appears:
#   first new byte   - the bytes that reached the receiving socket grow;
#   backlog drained  - they reach what the sender had written by then;
#   never resumed    - no new byte within HANDOVER_WAIT seconds (15);
#   and as the baseline of each run, the longest time without a new byte in
#   the second before the break (no move yet).
# Two downloads: sender-paced (the server writes 2 MB/s) and receiver-paced
# (the server writes what the socket takes, the mobile reads 4 MB/s: its
# receive window closes and opens); for migrate also an upload (the mobile,
# the host that moves, writes 2 MB/s: its own data is what was in flight on
# the link that went).
#
# Variants, each in its own lab (for the rows with an outage, one per
# download), run at the same time:
#   migrate     - plain TCP with migrate-agent on both hosts;
#   migrate-rf  - the same, the other order: the default route (onlink)
#                 comes up before the address, as when a router
#                 advertisement or a static route is there first;
#   mptcp       - MPTCP sockets (IPPROTO_MPTCP); an endpoint (subflow) for
#                 each address, the new one added right after the address;
#   mptcpd      - MPTCP with mptcpd (addr_adv, --addr-flags=subflow) adding
#                 the endpoints (skipped with a note if it is not installed);
#   mptcp-hand  - as mptcp, and the old endpoint deleted right after the new
#                 one is added (its subflow closed at once).
#
# Environment: HANDOVER_D (default "0 10 30"), HANDOVER_RUNS (runs per
# variant, stream and D; default 10), HANDOVER_VARIANTS, HANDOVER_MODES
# (the downloads of every variant but migrate-rf: "sender receiver"),
# HANDOVER_MIGRATE_MODES (the streams migrate adds: "upload"),
# HANDOVER_RF_MODES (migrate-rf's: "sender"), HANDOVER_PCAP (a
# directory: capture each run at the server's interface and keep there the capture of a run whose first new
# byte came HANDOVER_PCAP_MS, default 1000, or more after the address),
# HANDOVER_AGENT_ARGS (more arguments for both
# agents, e.g. -v), HANDOVER_LOCK (set by the script itself for its labs:
# see "One handover at a time" below).  Bounded: about RUNS x 2 x 3 s for D = 0, then
# RUNS x sum(D + 3) for the others, labs in parallel (10 runs: about 9
# minutes).
# Everything in lab namespaces, documentation addresses, removed on exit.

set -u
here=$(cd "$(dirname "$0")" && pwd)

DS=${HANDOVER_D:-0 10 30}
RUNS=${HANDOVER_RUNS:-10}
MODES=${HANDOVER_MODES:-sender receiver}
MIGRATE_MODES=${HANDOVER_MIGRATE_MODES-upload}
RF_MODES=${HANDOVER_RF_MODES:-sender}
VARIANTS=${HANDOVER_VARIANTS:-migrate migrate-rf mptcp mptcpd mptcp-hand}

# the streams of variant V
modes_of() {
	case $1 in
	migrate) echo "$MODES $MIGRATE_MODES" ;;
	migrate-rf) echo "$RF_MODES" ;;
	*) echo "$MODES" ;;
	esac
}
WAIT=${HANDOVER_WAIT:-15}
MPTCPD=${MPTCPD:-/usr/libexec/mptcpd}
export LAB_BUILD=${LAB_BUILD:-$(cd "$here/.." && pwd)/${BUILD:-build}}

# ---------------------------------------------------------------------------
# the break is done: link IF of namespace NS down, with no IPv4 address
link_gone() {
	local l
	l=$(ip -n "$1" -o link show dev "$2") || return 1
	l=${l#*<}
	[[ ,${l%%>*}, != *,UP,* ]] && [[ -z $(ip -n "$1" -o -4 addr show dev "$2") ]]
}

# link IF of namespace NS up, with carrier, and activated (its qdisc is no
# longer noop, which drops everything)
link_ready() {
	local l
	l=$(ip -n "$1" -o link show dev "$2") || return 1
	l=${l#*<}
	[[ ,${l%%>*}, == *,UP,* && ,${l%%>*}, == *,LOWER_UP,* ]] &&
		! tc -n "$1" qdisc show dev "$2" | grep -q 'qdisc noop'
}

# ---------------------------------------------------------------------------
# One handover at a time.  The labs run at the same time on a machine with
# few cores; two labs handing over at once, or one starting its processes
# (Python above all) while another hands over, measure each other's CPU,
# not their handover.  So each lab holds a lock on HANDOVER_LOCK, shared
# while it sets a run up, breaks its link and cleans up (several labs may
# do that at once), exclusive from just before the new address (D = 0:
# before the break) to the end of the run's measurement (the backlog
# drained, or HANDOVER_WAIT), and none while it waits out an outage.  A
# lab waiting for the lock before the new address makes its outage that
# much longer than D (the figures keep D as asked).  Without HANDOVER_LOCK
# (a lab run alone): no lock.
LK=
lk() {   # lk sh|ex|un
	[ -n "$LK" ] || return 0
	case $1 in
	sh) flock -s "$LK" ;;
	ex) flock -x "$LK" ;;
	un) flock -u "$LK" ;;
	esac
}

# ---------------------------------------------------------------------------
# one variant in its own lab: result lines on stdout
variant() {
	local v=$1
	. "$here/../tests/lib/lab.sh"
	. "$here/../tests/integration/mig_topo.sh"
	lab_init >&2 || return 1
	topo_build >&2 || return 1
	local -A IF=([a]=eth0 [b]=eth1) ADDR=([a]=192.0.2.1/24 [b]=198.51.100.1/24)
	local -A GW=([a]=192.0.2.254 [b]=198.51.100.254) EID=([a]=1 [b]=2)
	local ns cur=a nxt D mode i port t0 tb r mp=() slog rlog
	ns=$(lab_ns mobile)
	if [ -n "${HANDOVER_LOCK:-}" ]; then
		exec {LK}>>"$HANDOVER_LOCK" || return 1
	fi
	# the address changes: one ip process for the whole run, fed
	# through a fifo (-force: one failing line does not end it)
	local ipb=$LAB_DIR/ip-batch IPB mk w
	mkfifo "$ipb" || return 1
	ip -force -n "$ns" -batch "$ipb" >"$LAB_DIR/ip-batch.log" 2>&1 &
	exec {IPB}>"$ipb"
	lab_addr mobile eth0 192.0.2.1/24 >&2
	lab_route mobile -4 replace default via 192.0.2.254 dev eth0 >&2
	lab_addr server eth0 203.0.113.1/25 >&2
	lab_route server -4 replace default via 203.0.113.126 dev eth0 >&2
	case $v in
	migrate | migrate-rf)
		lab_agent_start mobile ${HANDOVER_AGENT_ARGS:-} >&2 || return 1
		lab_agent_start server ${HANDOVER_AGENT_ARGS:-} >&2 || return 1
		;;
	mptcp*)
		mp=(--mptcp)
		lab_nsexec mobile ip mptcp limits set subflows 4 add_addr_accepted 4
		lab_nsexec server ip mptcp limits set subflows 4 add_addr_accepted 4
		if [ "$v" = mptcpd ]; then
			lab_bg mobile mptcpd "$MPTCPD" --log=stderr --path-manager=addr_adv \
				--addr-flags=subflow \
				--notify-flags=existing,skip_link_local,skip_loopback >&2 || return 1
			# ready: it has made the endpoint of the address there
			# (without its plugins, mptcpd-plugins, it exits at once)
			if ! lab_wait_until 5 sh -c "ip -n '$ns' mptcp endpoint show | grep -q '^${ADDR[a]%/*} '"; then
				echo "handover: mptcpd made no endpoint for ${ADDR[a]%/*} within 5 s; its log: $(tail -n 2 "$(lab_log mptcpd)" | tr '\n' ' ')" >&2
				lab_cleanup >&2
				return 1
			fi
		fi
		;;
	esac
	for D in $DS; do
		for mode in $MODES; do
			for ((i = 0; i < RUNS; i++)); do
				nxt=$([ $cur = a ] && echo b || echo a)
				lk sh
				# the link to come: up (the last break took it down), and ready
				ip -n "$ns" link set dev "${IF[$nxt]}" up
				lab_wait_until 5 link_ready "$ns" "${IF[$nxt]}" ||
					echo "handover: $v: ${IF[$nxt]} not ready" >&2
				if [ "$v" = mptcp ] || [ "$v" = mptcp-hand ]; then
					ip -n "$ns" mptcp endpoint flush
					ip -n "$ns" mptcp endpoint add "${ADDR[$cur]%/*}" dev "${IF[$cur]}" \
						id "${EID[$cur]}" subflow
				fi
				port=$((20000 + RANDOM % 20000))
				slog=$LAB_DIR/send.log
				rlog=$LAB_DIR/recv.log
				rm -f "$slog" "$rlog"
				if [ -n "${HANDOVER_PCAP:-}" ]; then
					lab_capture_start server eth0 run -s 160 tcp port "$port" >&2
				fi
				if [ "$mode" = upload ]; then
					lab_bg server rcv python3 "$here/handover.py" recv - "$port" \
						"$mode" "$rlog" "${mp[@]}" --listen >&2
					lab_wait_listen server "$port" >&2
					lab_bg mobile snd python3 "$here/handover.py" send "$port" "$mode" \
						"$slog" "${mp[@]}" --connect 203.0.113.1 >&2
				else
					lab_bg server snd python3 "$here/handover.py" send "$port" "$mode" \
						"$slog" "${mp[@]}" >&2
					lab_wait_listen server "$port" >&2
					lab_bg mobile rcv python3 "$here/handover.py" recv 203.0.113.1 "$port" \
						"$mode" "$rlog" "${mp[@]}" >&2
				fi
				# steady: a second of data
				lab_wait_until 10 sh -c "[ \$(tail -n 1 $rlog 2>/dev/null | cut -d' ' -f2) -gt 1500000 ] 2>/dev/null" ||
					{ echo "handover: $v: no data before the move"; tail -n 3 "$LAB_DIR/snd.log" "$LAB_DIR/rcv.log" "$rlog"; } >&2
				# the end of the run is awaited by a watcher started
				# now, so that no process starts from the break to the
				# end of the run (starting one, a Python process above
				# all, takes CPU from what is measured)
				coproc WATCH { python3 "$here/handover.py" watch "$slog" "$rlog" "$WAIT"; }
				[ "$D" = 0 ] && lk ex
				# break: the link, its address and its route go
				tb=${EPOCHREALTIME/[.,]/}000
				printf '%s\n' "addr del ${ADDR[$cur]} dev ${IF[$cur]}" \
					"route flush default" "link set dev ${IF[$cur]} down" >&"$IPB"
				# (polled every 5 ms, not lab_wait_until's 100: D = 0
				# means at once)
				for ((w = 0; w < 1000; w++)); do
					link_gone "$ns" "${IF[$cur]}" && break
					_lab_nap 0.005
				done
				((w < 1000)) || echo "handover: $v: ${IF[$cur]} still up or addressed" >&2
				if [ "$D" != 0 ]; then
					lk un
					_lab_nap "$D"
					lk ex
				fi
				# make: the other address, its route (and for MPTCP
				# the endpoints, in the same batch)
				mk=("addr add ${ADDR[$nxt]} dev ${IF[$nxt]}"
					"route replace default via ${GW[$nxt]} dev ${IF[$nxt]}")
				if [ "$v" = migrate-rf ]; then
					# the route first: onlink, since no address
					# there makes its gateway reachable yet
					mk=("route replace default via ${GW[$nxt]} dev ${IF[$nxt]} onlink"
						"addr add ${ADDR[$nxt]} dev ${IF[$nxt]}")
				fi
				if [ "$v" = mptcp ] || [ "$v" = mptcp-hand ]; then
					mk+=("mptcp endpoint add ${ADDR[$nxt]%/*} dev ${IF[$nxt]} id ${EID[$nxt]} subflow")
				fi
				if [ "$v" = mptcp-hand ]; then
					mk+=("mptcp endpoint delete id ${EID[$cur]}")
				fi
				t0=${EPOCHREALTIME/[.,]/}000
				printf '%s\n' "${mk[@]}" >&"$IPB"
				echo "$t0" >&"${WATCH[1]}"
				wait "$WATCH_PID"
				lk sh
				r=$(python3 "$here/handover.py" run "$t0" "$slog" "$rlog" "$tb")
				echo "$v $mode $D $r"
				if [ -n "${HANDOVER_PCAP:-}" ]; then
					lab_capture_stop run >/dev/null 2>&1
					# keep the capture of a run slower than HANDOVER_PCAP_MS
					if python3 -c "import sys; v='${r%% *}'; sys.exit(0 if v == '-' or float(v) >= ${HANDOVER_PCAP_MS:-1000} else 1)"; then
						mkdir -p "$HANDOVER_PCAP"
						cp "$LAB_DIR/run.pcap" "$HANDOVER_PCAP/$v-$mode-$D-$i-$t0.pcap"
						echo "t0 $t0" >"$HANDOVER_PCAP/$v-$mode-$D-$i-$t0.txt"
					fi
				fi
				lab_bg_stop rcv >/dev/null 2>&1
				lab_bg_stop snd >/dev/null 2>&1
				lk un
				cur=$nxt
			done
		done
	done
	if [ "$v" = migrate ] || [ "$v" = migrate-rf ]; then
		lab_agent_stop mobile >&2
		lab_agent_stop server >&2
	fi
	exec {IPB}>&-
	lab_cleanup >&2
}

if [ -n "${HANDOVER_ONE:-}" ]; then
	variant "$HANDOVER_ONE"
	exit
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mig-handover.XXXXXX")
export HANDOVER_LOCK=$tmp/lock
: >"$HANDOVER_LOCK"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait; rm -rf "$tmp"' EXIT
notes=()
# Two phases.  The rows without an outage (D = 0) stream all the time: a
# lab per variant, the downloads one after the other (eight streams at
# once on two cores delayed migrate's first byte to a median of 11.8 ms,
# against 1.7 ms alone and 2.7 ms with four labs).  The rows with an
# outage mostly wait it out: a lab per variant and download.
d0= dn=
for D in $DS; do
	if [ "$D" = 0 ]; then d0=0; else dn="$dn $D"; fi
done
labs=()
for v in $VARIANTS; do
	if [ "$v" = mptcpd ] && [ ! -x "$MPTCPD" ]; then
		notes+=("mptcpd is not installed ($MPTCPD): its rows are missing (apt-get install mptcpd).")
		continue
	fi
	labs+=("$v")
done
for phase in 0 n; do
	for v in "${labs[@]}"; do
		if [ $phase = 0 ] && [ -n "$d0" ]; then
			HANDOVER_ONE=$v HANDOVER_D=0 HANDOVER_MODES="$(modes_of "$v")" "$0" \
				>"$tmp/$v.0.res" 2>"$tmp/$v.0.log" &
			pids+=($!)
		elif [ $phase = n ] && [ -n "$dn" ]; then
			for m in $(modes_of "$v"); do
				HANDOVER_ONE=$v HANDOVER_D="$dn" HANDOVER_MODES=$m "$0" \
					>"$tmp/$v.$m.res" 2>"$tmp/$v.$m.log" &
				pids+=($!)
			done
		fi
	done
	((${#pids[@]})) && wait "${pids[@]}"
	pids=()
done
cat "$tmp"/*.res >"$tmp/all"
for v in "${labs[@]}"; do
	for part in 0 $(modes_of "$v"); do
		l=$tmp/$v.$part.log
		[ -f "$l" ] || continue
		what=$([ "$part" = 0 ] && echo "D = 0" || echo "$part, D =$dn")
		if grep -q "handover:\|lab:" "$l"; then
			echo "handover: $v, $what: problems (log tail):" >&2
			grep "handover:\|lab:" "$l" | tail -n 5 >&2
		fi
		if [ ! -s "$tmp/$v.$part.res" ]; then
			notes+=("The $v variant measured nothing ($what): $(grep -m 1 "handover:\|lab:" "$l" || echo "its lab failed")")
		fi
	done
done

cat <<EOF
### Handover: migrate and Multipath TCP

From bench/handover.sh, $(uname -r): a paced download over the lab's
topology, break-before-make: the mobile's link goes down with its address
and default route (what was in flight there is lost), D seconds later the
address on the other net (whose link is up) comes up and then its default
route, written to an \`ip -batch\` process already running.  From just
before that: the first new byte at the receiving socket, and the backlog
drained (every byte the sender had written by then received).
For migrate also an upload, where the mobile, the host that moves, writes
2 MB/s (its own segments were in flight on the link that went), and a
variant in the other order (\`migrate, default route before the
address\`): the default route comes up first (\`onlink\`, as from a
router advertisement or a static route), then the address.
Each variant runs in its own lab, all at the same time on this machine
(the D = 0 rows first, then the others with a lab per variant and
download), one handover at a time: from just before the new address
(D = 0: before the break) to the end of its measurement a lab holds a lock
that keeps the others from handing over or starting processes (they keep
streaming), so the labs do not measure each other (since 2026-12-03; a lab
that waited for it had an outage that much longer than D);
$RUNS runs per row.  No process starts from the break to the end of a run
(a watcher started before it follows the logs): until 2026-12-03 the script
started a Python process every 100 ms to see whether the run was over, in
every lab at once, and the handovers measured meanwhile paid for that CPU.
The MPTCP variants use IPPROTO_MPTCP sockets on both
hosts, with an endpoint (subflow) per address of the mobile.  In the
receiver-paced rows the reader drains at 4 MB/s, so "backlog drained"
includes reading the buffered data. The baseline column is each run's
longest time without a new byte at the receiving socket in the second
before the break, with no move yet: a receiver-paced download waits there
for its reader to open the window (its socket advertises a zero window and
the next update comes once the reader has taken about 100 KB, every 25 ms
or so at 4 MB/s), and a move made while the window is closed waits for that
update just the same.  The last column measures that wait in each
receiver-paced run without a delay: from the last new byte before the break
to the first after the move, the pause that the move fell into; where it is
no longer than the baseline pause, the move added nothing to what the
reader's window imposed.  (It also holds the break itself, the time the
script takes from the break to the new address, which is why it is not
shown for the sender-paced rows.)  Before and after figures, conditions
and where the time goes: docs/HANDOVER.md.

EOF
python3 "$here/handover.py" table "$tmp/all"
for n in "${notes[@]}"; do
	printf '\n%s\n' "$n"
done
