#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# bench/scale_report.sh BUILD - the scale, throughput and agent-cost
# sections of docs/BENCHMARKS.md, as markdown on stdout (bench/run.sh
# appends them): bench/dp_scale (state of 1 K against 1 M flows, memory
# per flow), bench/tput.sh (iperf3 and connections per second over veth),
# bench/scale.sh (keying rate, mass migration, CPU per move).  Each part is
# bounded by a timeout; a failed part says so and the others still run.
# BENCH_QUICK=1 runs every part in its quick mode (about 3 minutes
# instead of about 12).  Logs of the parts go to stderr.

set -u
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../build}" && pwd)
quick=${BENCH_QUICK:-0}
export LAB_BUILD=${LAB_BUILD:-$build}

load() { cut -d' ' -f1-3 /proc/loadavg; }

echo "## State at scale: 1 K against 1 M flows in the maps"
echo
args=()
[[ $quick != 1 ]] || args=(-L 200000 -l 20000 -r 3)
echo "From bench/dp_scale${args[*]:+ (quick: ${args[*]})}: two copies of the data path loaded side"
echo "by side, one with 1,000 migrated flows in its maps, one with $([[ $quick == 1 ]] && echo 200,000 || echo 1,000,000)"
echo "(each migrated flow: one mig_flows, one mig_tokens, two mig_ingress and one mig_egress"
echo "entry, as after a commit at the fixed end). Every run takes the frame of a flow drawn at"
echo "random (untouched: a random connection absent from the maps), one"
echo "\`bpf_prog_test_run\` each (repeat = 1), so that with the large table the buckets and"
echo "elements touched are mostly not in the CPU caches (the \"64 flows in turn\" rows take 64"
echo "flows spread over the table one after the other instead: the table's size without the"
echo "cache misses); rows of both tables and the empty"
echo "program (the baseline) interleaved. Load average before: $(load)."
echo
if ! timeout -k 5 "${BENCH_SCALE_TIMEOUT:-300}" "$build/bench/dp_scale" "${args[@]}"; then
	echo "(dp_scale failed; see its log)"
fi
cat <<'TXT'

Memory: the kernel's own `memlock` of each map (/proc/PID/fdinfo) before and after
the fill; on this kernel it is the bucket array plus the elements in use (these maps
are hashes without preallocation), so "in use" is (after - before) / entries. The
bucket arrays are allocated when the agent loads, sized by `--max-flows` (16 bytes
a bucket, max_entries rounded up to a power of two). Target: per-packet cost with
1 M flows within 10 % of 1 K. The loop method pays a cold start every call (the
empty program's row shows the timer reads alone): the 1 K rows are therefore far
above the "repeat" rows of the table at the top, which reuse one warm packet.
TXT
echo
echo "## Throughput and connection rate over veth"
echo
echo "From bench/tput.sh: the migration lab (mobile - router - server, veth), iperf3 and"
echo "bench/conns, every condition once per round, the baseline (no agent) measured in"
echo "each round. Load average before: $(load)."
echo
if ! timeout -k 5 "${BENCH_TPUT_TIMEOUT:-400}" "$here/tput.sh"; then
	echo "(tput.sh failed; see its log)"
fi
echo
echo "## Agent cost and mass migration"
echo
echo "From bench/scale.sh: a server and three client hosts (seven at 100 K: at most 15,000"
echo "connections a process here) behind a router (veth), real"
echo "agents (clients with --pool 1024), bench/conns holding the connections. The"
echo "delay is from the server's address change to each connection's echo (one byte"
echo "from the client after the change, echoed by the server); the baseline row is the"
echo "same echo round without a move, in the same run. Load average before: $(load)."
echo
if ! timeout -k 5 "${BENCH_SCALE_LAB_TIMEOUT:-1500}" "$here/scale.sh"; then
	echo "(scale.sh failed; see its log)"
fi
cat <<'TXT'

### Targets missed, and why

- **State at scale** (1 M within 10 % of 1 K): missed by far in the random-flow rows.
  The per-packet work does not grow with the table (one hash lookup in mig_ingress or
  mig_egress, chains of about one element): the "64 flows in turn" rows, same table,
  stay within about 20-30 %. The random rows pay cache and TLB misses on the bucket
  and the element (a migrated flow's entries total about 1.2 KB, 1 M flows about
  1.2 GB, far beyond any cache); the test runs in a KVM guest without a PMU (perf
  stat reports no hardware events), so the share of TLB against cache misses could
  not be measured. Nothing cheap to fix in the programs; smaller elements (mig_in is
  48 bytes of value for 40 bytes of key) would save a cache line at most.
  Since 2026-12-04 an untouched segment skips the hash lookup when its slot of the
  translation filter (mig_xf, 16,384 counters) counts no translation: with 1 K
  migrated flows (3,000 entries) most slots count none, with 1 M every slot counts
  some, so the untouched rows of the large table do the lookup the small one's mostly
  skip, and their ratio grows by what the filter saves (about 24 ns a segment on an
  AMD EPYC guest).
- **Mass migration** (all data again within 1 s): met at 1 K; at 10 K in
  every run of bench/scale.sh since 2026-12-03 11:00 (six runs of one to four
  moves; the slowest connection 0.99 s), where earlier runs ended at 94 to 100 %
  with the slowest at 1.4 to 1.6 s, so 10 K stands near the edge on this machine;
  missed by far at 100 K, where the echo round without a move alone takes about
  a second here.
  At 100 K what decides is how fast the server's agent sends its 100,000
  Migrate SYNs: a capture at the router (2026-12-03) saw the first 0.7 s after
  the change and the last 16.9 s after it, each answered and confirmed within
  the same millisecond, and each connection's data back a median 0.33 s
  after its exchange (the client's agent resuming it; before the change
  below). Of the server agent's time
  (perf -g, 7.5 to 9 s of CPU a move), 39 % is the lab's own packet path run
  inside its sendto (the router, the client's data path and answer, its own
  data path's CONFIRM: every namespace shares these two cores), 19 % map
  system calls, 11 % walks of the socket table, 6 % route lookups; the rest
  of the two cores goes to seven client agents, seven client processes and
  seven echo servers. Until 2026-12-03 the clients' agents took about 60 % of
  both cores (perf of the whole lab): the commits arrived over seconds, and
  each event-loop pass handled its few with one or two walks of the socket
  table, each of which passes all 262,144 buckets of the machine's
  established hash. Commit handling now rests three times as long as its
  last batch's walks took (`COMMITS_REST`, user/agent/mover.c), so commits that keep
  coming gather into fewer walks, and a single move is handled at once: at
  100 K, data again went from a median of 13.6 s and a maximum of 29.1 s to
  7.9 to 9.3 s and 16 to 18 s (seven runs of one move); the agent's
  per-flow system calls were cut as well (counters once a pass, no hold
  removal when none is held, ...), which moved 10 K's CPU per move from
  about 500 to about 440 ms and 100 K's not measurably. A lab variant with a
  socket table per namespace (net.ipv4.tcp_child_ehash_entries, each as
  large as the machine's) did no better (10 K: 92.3 to 99.7 % within 1 s in
  three runs, 100 % in two with the shared table): a walk costs the bucket
  array more than the sockets, and the lab keeps the shared table.
  Lost events: a mass move overflows the mover's ring buffer every time
  (about 9 of 10 commit events at 100 K); commits whose events were lost are
  found in the flows, and "keyed" events the ring buffer had no room for
  (which once left half of the 10 K flows plain at the client, and their
  move met the client's RST) are found in the socket table
  (mig_keyed.bpf.c, `keyed_recovered`). An echo round waits 30 s at most: a
  connection whose echo comes later counts under "no echo within 30 s", one
  that its kernel closed or that failed under "closed (lost)".
  Until 2026-12-02, 500 to 1,300 of the 100,002 connections were aborted by
  the server's kernel during the move with ETIMEDOUT: the egress program
  dropped segments leaving from the old address before the agent had held
  their flow, and the kernel treats local drops with probes 500 ms apart
  without backoff, giving up after tcp_retries2 tries. The data path now
  holds a keyed flow's segments there as the hold would (docs/protocol.md,
  "The old address is not the host's on any link"); none has been lost since.
- **Short connections keyed**: with the default pool (64 keys) most of a fast
  sequential run is left plain (pool_empty), which is the designed fallback; the
  keyed ones cost both agents together the CPU shown above (X25519 key generation
  at the client, key agreement at both ends), taken from the same two cores.
- **Throughput**: the spread of the baseline itself (see min / max) is about the
  5 % target on this shared machine; the plain-flow row (programs attached, no
  rewrite) shows the data path's own cost is within the noise. Until 2026-12-03
  the migrated flow's row read 0.83: it alone was measured while the script
  polled for the run's end with a `sleep` and two subshells every 100 ms, and
  those forks, not the rewrite, took 13 % of the throughput (tests/lib/lab.sh,
  `_lab_nap`); the rewrite's own cost is about 7 ms of program time per second
  at 16 Gbit/s for both hosts together (kernel.bpf_stats_enabled).
- **DNS**: the time from the address change to BIND's answer includes the agent's
  20 ms settling delay, the worker's UPDATE and BIND's own processing, polled every
  0.1 s.
TXT
echo
echo "Load average after: $(load). This machine ($(nproc) CPUs) was shared with other"
echo "builds and test runs while these figures were taken: compare rows of one run,"
echo "not runs."
