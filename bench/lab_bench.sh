#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# bench/lab_bench.sh - timings of whole mechanisms in the namespace lab,
# printed as a markdown table for docs/BENCHMARKS.md (bench/run.sh):
#
#  - resumption: a download, the mobile's address gone for OUTAGE seconds,
#    then a new one; time from the new address to the first new byte at the
#    receiver, with the agents' resume step and, as the baseline measured in
#    the same run, with --no-resume (the kernels' own timers);
#  - DNS: time from the server's address change until the lab's BIND
#    answers the new address (TTL 0), BENCH_DNS_RUNS moves (default 5),
#    against a baseline of one dig round trip measured the same way.
#
# Uses the lab (tests/lib/lab.sh): namespaces, documentation addresses,
# everything removed on exit.  Bounded: about 2 x OUTAGE + 20 seconds.
#
#   mobile (agent)                      router (fwd)              server (agent)
#   eth0 192.0.2.1/24    x-x-x-x-x-x-x  a0 192.0.2.254
#   eth1 198.51.100.1/24 - - - - - - -  b0 198.51.100.254
#                                       s0 203.0.113.126/25 ----- eth0 203.0.113.1/25
#                                       t0 203.0.113.254/25 - - - eth1 203.0.113.129/25
#                                       d0 2001:db8:53::fe ------ dns 2001:db8:53::53

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../tests/lib/lab.sh"
. "$here/../tests/lib/dns.sh"
. "$here/../tests/integration/mig_topo.sh"

OUTAGE=${BENCH_OUTAGE:-30}
[[ ${BENCH_QUICK:-0} != 1 ]] || OUTAGE=${BENCH_OUTAGE:-3}

now() { date +%s.%N; }
ms() { python3 -c "print(round(($2 - $1) * 1000))"; }

lab_init >&2
topo_build >&2
lab_host dns >&2
lab_link router d0 dns eth0 >&2
lab_addr router d0 2001:db8:53::fe/64
lab_addr dns eth0 2001:db8:53::53/64
lab_route dns -6 add default via 2001:db8:53::fe
KEY=$(dns_key mig-key)
dns_server_start dns 2001:db8:53::53 >&2
topo_at mobile a
topo_at server s
cat >"$LAB_DIR/server.conf" <<EOF
[dns]
zone = example.test.
name = s.example.test.
server = 2001:db8:53::53
key_file = $KEY
EOF
head -c 256M /dev/urandom > "$LAB_DIR/big"

# resume_ms AGENT_ARGS...: one outage; prints ms from new address to data
resume_ms() {
	local t0 t1 before port=$((7000 + RANDOM % 1000))
	lab_agent_start mobile "$@" >&2
	lab_agent_start server --config "$LAB_DIR/server.conf" "$@" >&2
	lab_bg server srv socat -u "OPEN:$LAB_DIR/big" "TCP4-LISTEN:$port,reuseaddr" >&2
	lab_wait_listen server "$port" >&2
	lab_bg mobile cli sh -c "socat -u TCP4:203.0.113.1:$port STDOUT | pv -qL 8m > $LAB_DIR/got"
	lab_wait_until 10 sh -c "[ \$(stat -c %s $LAB_DIR/got 2>/dev/null || echo 0) -gt 4000000 ]"
	topo_leave mobile a
	lab_nsexec mobile ip route flush default 2>/dev/null
	sleep "$OUTAGE"
	before=$(fsize "$LAB_DIR/got")
	t0=$(now)
	topo_at mobile b
	lab_wait_until $((OUTAGE + 60)) sh -c "[ \$(stat -c %s $LAB_DIR/got 2>/dev/null || echo 0) -gt $before ]"
	t1=$(now)
	lab_bg_stop cli >/dev/null 2>&1
	lab_bg_stop srv >/dev/null 2>&1
	lab_agent_stop mobile >&2
	lab_agent_stop server >&2
	topo_leave mobile b
	topo_at mobile a
	rm -f "$LAB_DIR/got"
	ms "$t0" "$t1"
}

with=$(resume_ms)
without=$(resume_ms --no-resume)

# DNS: how long until the new address is served, DNS_RUNS moves (S -> T,
# T -> S, ...), each against one dig round trip measured the same way
DNS_RUNS=${BENCH_DNS_RUNS:-5}
[[ ${BENCH_QUICK:-0} != 1 ]] || DNS_RUNS=2
lab_agent_start server --config "$LAB_DIR/server.conf" >&2
lab_wait_until 10 dns_has dns A s.example.test. 203.0.113.1
declare -A SRV_V4=([s]=203.0.113.1 [t]=203.0.113.129)
dns_all= dig_all= at=s
for ((i = 0; i < DNS_RUNS; i++)); do
	to=$([[ $at == s ]] && echo t || echo s)
	t0=$(now); dns_dig dns A s.example.test. >/dev/null; t1=$(now)
	dig_all+=" $(ms "$t0" "$t1")"
	t0=$(now)
	topo_leave server "$at"
	topo_at server "$to"
	if lab_wait_until 20 dns_has dns A s.example.test. "${SRV_V4[$to]}"; then
		t1=$(now)
		dns_all+=" $(ms "$t0" "$t1")"
	else
		dns_all+=" timeout"
	fi
	at=$to
done
ttl=$(dns_dig dns A s.example.test. | awk '{print $2; exit}')
mmm() { python3 -c '
import sys, statistics
v = [float(x) for x in sys.argv[1:] if x != "timeout"]
t = len(sys.argv) - 1 - len(v)
print((f"{min(v):.0f} / {statistics.median(v):.0f} / {max(v):.0f}" if v else "-") + (f" ({t} timed out)" if t else ""))' "$@"; }
med() { python3 -c '
import sys, statistics
v = [float(x) for x in sys.argv[1:] if x != "timeout"]
print(statistics.median(v) if v else 0)' "$@"; }
# shellcheck disable=SC2086  # lists of numbers
dns_ms=$(mmm $dns_all) dig_ms=$(mmm $dig_all) dns_med=$(med $dns_all) dig_med=$(med $dig_all)

ratio() { python3 -c "print(f'{$1 / max($2, 1):.3f}')"; }
cat <<EOF
| mechanism | measured | baseline (same run) | ratio |
|---|---:|---:|---:|
| data flows again after a ${OUTAGE} s outage, from the new address | ${with} ms | ${without} ms (--no-resume: the kernels' own timers) | $(ratio "$with" "$without") |
| new address served by DNS (TTL ${ttl}) after the server's move, ${DNS_RUNS} moves, min / median / max | ${dns_ms} ms | ${dig_ms} ms (one dig round trip, polled the same way) | $(ratio "$dns_med" "$dig_med") (medians) |
EOF
