#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# bench/scale.sh - what the agents cost and how a mass migration goes,
# printed as markdown for docs/BENCHMARKS.md (bench/run.sh):
#
#  - keying rate: one client opens KEYN connections as fast as it can
#    (bench/conns hold, 256 connecting at once); how many the agents key
#    per second, and how many found the client's key pool empty (left
#    plain, pool_empty) - with the pool at its largest (--pool 1024);
#  - mass migration: a server holding N keyed connections from three
#    client hosts changes its address (net S -> net T, then back, MOVES
#    times); every client then sends one byte on each connection and
#    records when its echo comes back: the time from the address change
#    to that echo, per connection (target: all within 1 s), next to the
#    same echo round without a move (the baseline, same run);
#  - CPU per move: the server agent's utime + stime (/proc/PID/stat)
#    from the address change until every echo is back, per move and per
#    flow.
#
#   c1 (agent)                router (fwd)                      server (agent)
#   eth0 192.0.2.1/26 ------- c1 192.0.2.62/26
#   eth0 192.0.2.65/26 ------ c2 192.0.2.126/26           (c2, agent)
#   eth0 192.0.2.129/26 ----- c3 192.0.2.190/26           (c3, agent)
#                             s0 203.0.113.126/25 x-x-x-x- eth0 203.0.113.1/25
#                             t0 203.0.113.254/25 - - - -  eth1 203.0.113.129/25
#
# c4..c8 (198.51.100.0/24, four /26) join when N needs more hosts than
# three of SCALE_PER_PROC connections each (default: 3/4 of the open-file
# limit, ulimit -Hn, at most 100000), and the server then runs one echo
# process per SCALE_PER_PROC connections, sharing the port.
#
# Environment: SCALE_NS ("1000 10000 100000": the connection counts),
# SCALE_MOVES (3; SCALE_MOVES_LARGE, default 1, for N above 10000),
# SCALE_KEYN (3000), SCALE_RATE (connections opened per second and client
# while building the mass, default 400; SCALE_TOTAL_RATE, default 1200,
# caps all clients together), SCALE_PER_PROC (above), SCALE_PERF=FILE
# (perf record -g of the server agent over the first move, into FILE.N),
# BENCH_QUICK=1 (N = 300, 2 moves, KEYN 600).  Bounded: every wait has a
# limit; about 12 minutes (100000 connections take 90 s to open and key,
# and an echo round waits 30 s for connections left plain).

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/lab.sh"

NS=${SCALE_NS:-1000 10000 100000}
MOVES=${SCALE_MOVES:-3}
MOVES_LARGE=${SCALE_MOVES_LARGE:-1}   # for N above 10000
KEYN=${SCALE_KEYN:-3000}
RATE=${SCALE_RATE:-400}
# connections opened per second, all clients together, at most: the
# clients' agents make the keys (X25519) on the same two cores, and a
# connection that finds its client's pool empty stays plain
TOTAL_RATE=${SCALE_TOTAL_RATE:-1200}
if [[ ${BENCH_QUICK:-0} == 1 ]]; then
	NS=300 MOVES=2 KEYN=600
fi
# Open files per process: some machines cap them (ulimit -Hn) below what
# one process holding every connection needs.  Each client host holds at
# most PERPROC connections (more hosts for a larger N, at least 3, at
# most 8) and the server runs one echo process per PERPROC connections
# on the same port (SO_REUSEPORT).
PERPROC=${SCALE_PER_PROC:-$(( $(ulimit -Hn) > 100064 ? 100000 : $(ulimit -Hn) * 3 / 4 ))}
nclients() { local k=$(((($1) + PERPROC - 1) / PERPROC)); ((k < 3)) && k=3; echo "$k"; }
NMAX=3
for n in $NS; do
	k=$(nclients "$n")
	((k > NMAX)) && NMAX=$k
done
if ((NMAX > 8)); then
	echo "scale.sh: $NS connections need $NMAX client hosts of $PERPROC (ulimit -Hn $(ulimit -Hn)); 8 at most" >&2
	exit 1
fi
ALL_CLIENTS=()
for ((i = 1; i <= NMAX; i++)); do
	ALL_CLIENTS+=("c$i")
done
CLIENTS=(c1 c2 c3)
NSERVE=1

lab_init >&2
CONNS=$LAB_BUILD/bench/conns
res=$LAB_DIR/scale.res

lab_host router router
lab_host server
lab_link server eth0 router s0
lab_link server eth1 router t0
lab_addr router s0 203.0.113.126/25
lab_addr router t0 203.0.113.254/25
i=0
for c in "${ALL_CLIENTS[@]}"; do
	# four /26 of 192.0.2.0/24, then four of 198.51.100.0/24
	net=$([[ $i -lt 4 ]] && echo 192.0.2 || echo 198.51.100)
	j=$((i % 4))
	lab_host "$c"
	lab_link "$c" eth0 router "$c"
	lab_addr router "$c" "$net.$((j * 64 + 62))/26"
	lab_addr "$c" eth0 "$net.$((j * 64 + 1))/26"
	lab_route "$c" -4 add default via "$net.$((j * 64 + 62))"
	lab_nsexec "$c" sysctl -q -w net.ipv4.ip_local_port_range="1024 65000"
	i=$((i + 1))
done
# the server's side: net S, default route there
server_at() {
	if [[ $1 == s ]]; then
		lab_addr server eth0 203.0.113.1/25
		lab_route server -4 replace default via 203.0.113.126 dev eth0
	else
		lab_addr server eth1 203.0.113.129/25
		lab_route server -4 replace default via 203.0.113.254 dev eth1
	fi
}
server_leave() {
	if [[ $1 == s ]]; then
		lab_addr_del server eth0 203.0.113.1/25
	else
		lab_addr_del server eth1 203.0.113.129/25
	fi
}
lab_nsexec server sysctl -q -w net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
server_at s

agent_cpu() { # ticks of utime + stime
	awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' \
		"/proc/${LAB_AGENT_PID[$1]}/stat"
}
hz=$(getconf CLK_TCK)
put() { echo "$*" >>"$res"; }

start_all() {
	lab_agent_start server >&2 || return 1
	for c in "${CLIENTS[@]}"; do
		lab_agent_start "$c" --pool 1024 >&2 || return 1
	done
	for ((k = 1; k <= NSERVE; k++)); do
		lab_bg server "echo-$k" "$CONNS" serve 5300 >&2
	done
	lab_wait_listen server 5300 >&2
}
stop_all() {
	local c
	for c in "${CLIENTS[@]}"; do
		lab_bg_stop "hold-$c" >/dev/null 2>&1
		lab_agent_stop "$c" >&2
	done
	for ((k = 1; k <= NSERVE; k++)); do
		lab_bg_stop "echo-$k" >/dev/null 2>&1
	done
	lab_agent_stop server >&2
}

# ---- keying rate --------------------------------------------------------
keying() {
	local t0 t1 k0 p0 pu0
	start_all || return 1
	lab_wait_until 10 ge 1024 counter c1 pool_pushed || true
	k0=$(counter server keyed) p0=$(counter c1 pool_empty) pu0=$(counter c1 pool_pushed)
	t0=$EPOCHREALTIME
	mkfifo "$LAB_DIR/kin"
	lab_bg c1 hold-c1 sh -c "exec $CONNS hold 203.0.113.1 5300 $KEYN 1000000 $LAB_DIR/kout <$LAB_DIR/kin" >&2
	exec {kfd}>"$LAB_DIR/kin"
	lab_wait_until 120 grep -q '^ready' "$(lab_log hold-c1)" || echo "scale.sh: keying burst not up" >&2
	t1=$EPOCHREALTIME
	# the agent keys after the handshakes: wait until the count stands still
	local prev=-1 cur
	while cur=$(counter server keyed); [[ $cur != "$prev" ]]; do
		prev=$cur
		sleep 0.5   # sampling interval of a count that is still moving
	done
	put keying "$KEYN" "$(python3 -c "print($t1 - $t0)")" "$((cur - k0))" \
		"$(($(counter c1 pool_empty) - p0))" "$(($(counter c1 pool_pushed) - pu0))"
	exec {kfd}>&-
	stop_all
	rm -f "$LAB_DIR/kin" "$LAB_DIR/kout"
}

# ---- mass migration -----------------------------------------------------
# ping_all TAG T0: one echo round on every client; per connection the
# delay from T0 (CLOCK_REALTIME seconds) to its echo, into $res
ping_all() {
	local tag=$1 t0=$2 c want
	declare -A before=()
	for c in "${CLIENTS[@]}"; do
		before[$c]=$(grep -c '^pinged' "$(lab_log "hold-$c")")
		: >"$LAB_DIR/out-$c"
	done
	[[ $t0 != now ]] || t0=$EPOCHREALTIME
	for c in "${CLIENTS[@]}"; do
		echo ping >&"${pfd[$c]}"
	done
	for c in "${CLIENTS[@]}"; do
		want=$((before[$c] + 1))
		lab_wait_until 45 eq "$want" grep -c '^pinged' "$(lab_log "hold-$c")" ||
			echo "scale.sh: $c: no echo round within 45 s" >&2
	done
	cat "${CLIENTS[@]/#/$LAB_DIR/out-}" | python3 -c '
import sys
tag, t0 = sys.argv[1], float(sys.argv[2])
v = [float(l) for l in sys.stdin if l.strip() and l.strip() != "done"]
print(tag, " ".join(str(int(x)) if x < 0 else f"{x - t0:.4f}" for x in v))' "$tag" "$t0" >>"$res"
}

mass() {
	local n=$1 per c k0 tm cpu0 at=s to m kn c0 rate pe nm
	declare -gA pfd=()
	CLIENTS=("${ALL_CLIENTS[@]:0:$(nclients "$n")}")
	NSERVE=$(((n + PERPROC - 1) / PERPROC))
	per=$(((n + ${#CLIENTS[@]} - 1) / ${#CLIENTS[@]}))
	rate=$((TOTAL_RATE / ${#CLIENTS[@]} < RATE ? TOTAL_RATE / ${#CLIENTS[@]} : RATE))
	start_all || return 1
	k0=$(counter server keyed)
	for c in "${CLIENTS[@]}"; do
		rm -f "$LAB_DIR/in-$c"
		mkfifo "$LAB_DIR/in-$c"
		lab_bg "$c" "hold-$c" sh -c "exec $CONNS hold 203.0.113.1 5300 $per $rate $LAB_DIR/out-$c <$LAB_DIR/in-$c" >&2
		exec {fd}>"$LAB_DIR/in-$c"
		pfd[$c]=$fd
	done
	for c in "${CLIENTS[@]}"; do
		lab_wait_until $((per / rate * 3 + 60)) grep -q '^ready' "$(lab_log "hold-$c")" ||
			{ echo "scale.sh: $c: connections not up" >&2; return 1; }
	done
	lab_wait_until 60 ge $((k0 + per * ${#CLIENTS[@]})) counter server keyed ||
		echo "scale.sh: N=$n: only $(($(counter server keyed) - k0)) keyed" >&2
	pe=0
	for c in "${CLIENTS[@]}"; do
		pe=$((pe + $(counter "$c" pool_empty)))
	done
	put "keyed_$n" $(($(counter server keyed) - k0)) $((per * ${#CLIENTS[@]})) "$pe"
	if [[ -n ${SCALE_DEBUG:-} ]]; then
		for c in server "${CLIENTS[@]}"; do
			echo "== $c"
			lab_ctl "$c" show stats | grep -v ' 0$'
		done >&2
	fi
	kn=$(($(counter server keyed) - k0))
	c0=$(counter server committed_mover)
	ping_all "base_$n" now
	nm=$((n > 10000 ? MOVES_LARGE : MOVES))
	put "moves_$n" "$nm"
	for ((m = 1; m <= nm; m++)); do
		to=$([[ $at == s ]] && echo t || echo s)
		cpu0=$(agent_cpu server)
		if [[ -n ${SCALE_PERF:-} && $m == 1 ]]; then
			perf record -q -g -o "$SCALE_PERF.$n" -p "${LAB_AGENT_PID[server]}" \
				>/dev/null 2>&1 &
			perf_pid=$!
			sleep 0.5   # perf attaches
		fi
		tm=$EPOCHREALTIME
		server_at "$to"
		server_leave "$at"
		at=$to
		ping_all "move_$n" "$tm"
		# every keyed flow committed (the server's count; bounded)
		lab_wait_until 60 ge $((c0 + kn)) counter server committed_mover ||
			echo "scale.sh: N=$n: $(($(counter server committed_mover) - c0)) of $kn committed" >&2
		put "commit_$n" "$(python3 -c "print($EPOCHREALTIME - $tm)")"
		if [[ -n ${SCALE_DEBUG:-} ]]; then
			for c in server "${CLIENTS[@]}"; do
				echo "== $c after move $m"
				lab_ctl "$c" show stats | grep -v ' 0$'
			done >&2
		fi
		c0=$(counter server committed_mover)
		if [[ -n ${perf_pid:-} ]]; then
			kill -INT "$perf_pid"
			wait "$perf_pid"
			perf_pid=
		fi
		put "cpu_$n" $(($(agent_cpu server) - cpu0)) "$hz"
	done
	for c in "${CLIENTS[@]}"; do
		echo quit >&"${pfd[$c]}"
		eval "exec ${pfd[$c]}>&-"
	done
	stop_all
	[[ $at == s ]] || { server_at s; server_leave t; }
	put "hosts_$n" "${#CLIENTS[@]}"
}

echo "scale.sh: keying rate" >&2
keying
for n in $NS; do
	echo "scale.sh: mass migration, N = $n" >&2
	mass "$n"
done

python3 - "$res" "$MOVES" <<'EOF'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
moves = sys.argv[2]
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * len(v)))]
for r in rows:
    if r[0] == "keying":
        n, dt, keyed, empty, pushed = int(r[1]), float(r[2]), int(r[3]), int(r[4]), int(r[5])
        print("| keying burst (one client, as fast as it connects) | value |")
        print("|---|---:|")
        print(f"| connections opened | {n} in {dt:.2f} s ({n / dt:.0f}/s) |")
        print(f"| keyed (server's `keyed` counter) | {keyed} ({keyed / dt:.0f}/s over the burst) |")
        print(f"| left plain, client pool empty (`pool_empty`) | {empty} |")
        print(f"| keys the client's agent made meanwhile (`pool_pushed`) | {pushed} ({pushed / dt:.0f}/s) |")
        print()
print("| mass migration: N connections from client hosts, the server moves | keyed (pool empty at a client) | echo without a move, ms (min / median / p99 / max) | data again after the move, ms (min / median / p99 / max) | within 1 s | no echo within 30 s | closed (lost) | server agent CPU per move | per flow |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
ns = sorted({int(r[0].split("_")[1]) for r in rows if r[0].startswith("move_")})
for n in ns:
    keyed = next((r for r in rows if r[0] == f"keyed_{n}"), ["", "?", "?", "?"])
    base = [float(x) for r in rows if r[0] == f"base_{n}" for x in r[1:] if float(x) >= 0]
    mv = [float(x) for r in rows if r[0] == f"move_{n}" for x in r[1:]]
    got = [x for x in mv if x >= 0]
    late = sum(1 for x in mv if -1.5 < x < 0)
    lost = sum(1 for x in mv if x <= -1.5)
    cpu = [int(r[1]) / int(r[2]) for r in rows if r[0] == f"cpu_{n}"]
    f = lambda v: " / ".join(f"{q(v, p) * 1000:.0f}" for p in (0, 0.5, 0.99, 1)) if v else "-"
    within = sum(1 for x in got if x <= 1.0)
    c = st.median(cpu) if cpu else 0
    hosts = next((r[1] for r in rows if r[0] == f"hosts_{n}"), "?")
    moves = next((r[1] for r in rows if r[0] == f"moves_{n}"), moves)
    print(f"| N = {n} ({moves} moves, {hosts} client hosts) | {keyed[1]} of {keyed[2]} ({keyed[3]}) | {f(base)} | {f(got)} | "
          f"{within} of {len(mv)} ({100 * within / max(len(mv), 1):.1f} %) | {late} | {lost} | "
          f"{c * 1000:.0f} ms (median; {' / '.join(f'{x * 1000:.0f}' for x in cpu)}) | "
          f"{c * 1e6 / n:.0f} µs |")
EOF
