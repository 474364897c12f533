#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# bench/run.sh - run the data-path benchmark (build/bench/dp_bench) and
# rewrite docs/BENCHMARKS.md with its table, the date, the kernel and the
# CPU. Called by `make bench` after the build; needs root (dp_bench makes
# its own network namespace, loads BPF and uses TCP_REPAIR). Bounded: the
# benchmark takes a few seconds and is killed after BENCH_TIMEOUT (60 s).
#
# Environment: BUILD (build dir, default build), BENCH_ARGS (passed to
# dp_bench, e.g. "-n 200000 -r 3"), BENCH_OUT (default docs/BENCHMARKS.md).

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

build=${BUILD:-build}
[[ $build == /* ]] || build=$PWD/$build
export LAB_BUILD=${LAB_BUILD:-$build}   # the lab scripts' agent and tools
bin=$build/bench/dp_bench
out=${BENCH_OUT:-docs/BENCHMARKS.md}

if [[ $(id -u) != 0 ]]; then
	echo "bench/run.sh: must run as root (BPF, network namespace, TCP_REPAIR); try: sudo make bench" >&2
	exit 1
fi
if [[ ! -x $bin ]]; then
	echo "bench/run.sh: $bin not found; build it with: make $bin" >&2
	exit 1
fi

# targets FILE: the per-packet targets against the rows of dp_bench's
# table in FILE (ns above the empty program of the same hook and method)
targets() {
	python3 - "$1" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    p = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(p) == 4:
        try:
            rows[(p[0], p[1].startswith("loop"))] = float(p[2])
        except ValueError:
            pass
T = [("untouched flow", 20, [("ingress TC, untouched flow", "TC"),
                             ("egress TC, untouched flow", "TC"),
                             ("ingress XDP, untouched flow", "XDP")]),
     ("migrated rewrite", 50, [("ingress TC, migrated flow v4", "TC"),
                               ("ingress TC, migrated flow v4, port kept", "TC"),
                               ("ingress TC, migrated flow v6", "TC"),
                               ("egress TC, migrated flow v4", "TC"),
                               ("egress TC, migrated flow v4, port kept", "TC"),
                               ("egress TC, migrated flow v6", "TC"),
                               ("egress TC, migrated flow v4, FIB lookup, next hop kept", "TC"),
                               ("egress TC, migrated flow v6, FIB lookup, next hop kept", "TC"),
                               ("ingress XDP, migrated flow v4", "XDP")]),
     ("Migrate SYN answered", 200, [("ingress TC, Migrate SYN answered v4", "TC"),
                                    ("ingress TC, Migrate SYN answered v6", "TC"),
                                    ("ingress XDP, Migrate SYN answered v4", "XDP")])]
print("### Per-packet targets")
print()
print("Each row of the first table (the build of the data path this kernel loads) less")
print("the empty program of its hook, measured the same way (repeat, or loop for the")
print("Migrate SYN and the \"next hop kept\" rows).")
print()
print("| target | row | ns above empty | target, ns | |")
print("|---|---|---:|---:|---|")
for what, lim, cases in T:
    for name, hook in cases:
        loop = "Migrate SYN" in name or "next hop kept" in name
        if (name, loop) not in rows or ("empty program, " + hook, loop) not in rows:
            continue
        d = rows[(name, loop)] - rows[("empty program, " + hook, loop)]
        print(f"| {what} | {name} | {d:.0f} | {lim} | {'met' if d <= lim else '**missed**'} |")
PY
	cat <<'TXT'

Where the time goes (perf of dp_bench rows, 2026-12-04/05, on an AMD EPYC guest
whose kernel uses retpolines and `Safe RET`, so that every call costs more than
on the Intel guest of earlier runs):

- **Untouched flow**: parsing, and one inlined array lookup in the
  translation filter (mig_xf); the "filter slot shared" rows show what the
  hash lookup that the filter saves would cost.
- **Migrated rewrite**: under XDP, the parse, the filter, the hash lookup of
  the 40-byte tuple (jhash and a call) and the rewrite in place with one
  checksum sum, no helper. Under TC the TCP checksum field must follow the
  skb's checksum state (`CHECKSUM_PARTIAL` takes only the pseudo-header
  change, a full checksum takes the ports' as well, `CHECKSUM_COMPLETE` also
  moves `skb->csum`). mig_dp_kc, the build a kernel with
  `bpf_cast_to_kern_ctx` (6.2 on) loads, reads the state and writes the field
  itself (a helper only for `CHECKSUM_COMPLETE`), so its TC rows cost about
  what XDP's does; mig_dp (Linux 6.1: the table just above, where both were
  measured) makes one `bpf_l4_csum_replace` call for the addresses and
  reads the state from what it wrote (docs/protocol.md, "Checksums and
  segment sizes"). On egress the segments of a flow whose peer moved ask
  the FIB as well (reroute: the kernel routed them to the peer's old
  address): refused at once in the plain rows (forwarding is off on lo),
  answered in the "FIB lookup" rows (no route to the new address here, so
  every segment asks), and in the "next hop kept" rows the route to the
  new address leaves by the same device and next hop, the common case of a
  host that forwards on lo. mig_dp_kc keeps that answer, and for IPv4 the
  refusal, as the flow's route memo until the routes change (protocol.md,
  "The route memo"): its "next hop kept" rows and its plain IPv4 egress
  rows skip the lookup; mig_dp's make it for every segment.
- **Migrate SYN**: about half of the program's samples are its own code,
  three SipHash-2-4 runs (the authenticator checked, the nonce and the
  Migrate-ACK's tag computed); the rest are the helpers: the token and flow
  lookups, the socket lookup (`bpf_skc_lookup_tcp`) and its reads, the clock,
  the FIB lookup that routes the answer and the checksum updates of the
  answer built in place.
TXT
}

tmp=$(mktemp "${TMPDIR:-/tmp}/mig-bench.XXXXXX")
trap 'rm -f "$tmp" "$tmp.md" "$tmp.helpers" "$tmp.lablog" "$tmp.scalelog" "$tmp.holog"' EXIT

# shellcheck disable=SC2086  # BENCH_ARGS is a list of options
if ! timeout -k 5 "${BENCH_TIMEOUT:-60}" "$bin" ${BENCH_ARGS:-} >"$tmp"; then
	echo "bench/run.sh: $bin failed; $out left as it was" >&2
	exit 1
fi
cat "$tmp"

cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -n 1)
[[ -n $cpu ]] || cpu=$(uname -m)
ncpu=$(nproc)

{
	cat <<HDR
# Data-path benchmarks

Generated by \`make bench\` (bench/run.sh running build/bench/dp_bench); do not
edit by hand, rerun it.

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- kernel: $(uname -r) ($(uname -m))
- CPU: $cpu, $ncpu CPUs visible (the benchmark pins itself to one)

HDR
	cat "$tmp"
	cat <<'TXT'

## Method and caveats

Each row is the kernel's own measure of one program run, from
`bpf_prog_test_run_opts` (`opts.duration`, the mean ns per run), next to an
empty program (`r0 = 0; exit`, loaded with `bpf_prog_load`) of the same type
measured in the same process by the same method; rows are interleaved over
several rounds and the median is shown. "repeat" rows are one syscall with
`repeat = 1,000,000`. test_run hands the same packet buffer to every repeat,
so a rewrite changes the next run's input: the migrated-flow rows therefore
install the translation both ways (wire to socket tuple and back), so every
run does a full rewrite, which the `xlate_in`/`xlate_out` counters confirm.
Those six translations stay in the maps for every row; the untouched rows
take a connection whose slot of the translation filter (mig_xf: 16,384
counters by a hash of the tuple) counts none of them, so the segment skips
the hash lookup, as most untouched segments do while few flows are
migrated; the "filter slot shared" rows make that slot count one entry,
as when another flow's tuple falls there, and pay the lookup.
The Migrate SYN would be a SYN/ACK after its first run, so that row is a
loop of 100,000 syscalls with `repeat = 1` (each rebuilds the skb from the
input; after the first, the candidate exists and the answer reuses its
nonce, as for a retransmitted SYN), compared with the empty program run the
same way: that method adds the timer reads of every call, and the integer
`duration` of each call is truncated. These are costs of the programs
alone, on linear buffers with full checksums, in a netns with two
connections in the socket tables: no driver, no veth, no GRO/GSO, no
`CHECKSUM_PARTIAL` fix-ups, no cache misses from a large flow table or real
traffic mix, and the SYN/ACK and RST are not actually transmitted. On a NIC
the XDP numbers add to driver cost per frame; on veth, TC ingress is the
default hook (see ARCHITECTURE.md) and the skb already exists, so the TC
numbers are the added cost per packet there. Use the ratios and the
differences between rows, not the absolute values, across machines.
TXT
	# the other build of the data path, where this kernel takes
	# mig_dp_kc: the rows it changes, as Linux 6.1 runs them
	if grep -q "data path build mig_dp_kc" "$tmp" &&
		MIGRATE_DP_TC_CSUM=helpers timeout -k 5 "${BENCH_TIMEOUT:-60}" "$bin" \
			${BENCH_ARGS:-} -c "migrated flow" >"$tmp.helpers" 2>/dev/null; then
		echo
		echo "### The same rows on mig_dp, the build that asks the checksum helpers"
		echo
		echo "What a kernel without \`bpf_cast_to_kern_ctx\` (Linux 6.1) loads, or"
		echo "\`MIGRATE_DP_TC_CSUM=helpers\` asks for (user/lib/mig_dp_open.h): the"
		echo "translated rows, measured right after the table above."
		echo
		grep -E "^\|( case|---| empty|.*migrated)" "$tmp.helpers"
		echo
		tail -n 1 "$tmp.helpers"
	fi
	echo
	targets "$tmp"
	if [[ ${BENCH_LAB:-1} != 0 ]]; then
		echo
		echo "## Mechanisms in the namespace lab"
		echo
		echo "From bench/lab_bench.sh: the lab's topology (tests/integration/mig_topo.sh),"
		echo "real agents, a real BIND; wall-clock times, each next to a baseline"
		echo "measured in the same run. Set BENCH_LAB=0 to skip (it takes about two minutes)."
		echo
		if ! timeout -k 5 "${BENCH_LAB_TIMEOUT:-300}" "$(dirname "${BASH_SOURCE[0]}")/lab_bench.sh" 2>"$tmp.lablog"; then
			echo "(lab benchmark failed; see its log)"
			tail -n 20 "$tmp.lablog" >&2
		fi
	fi
	# scale, throughput, agent cost (BENCH_SCALE=0 skips; about 12 minutes)
	if [[ ${BENCH_SCALE:-1} != 0 ]]; then
		echo
		"$(dirname "${BASH_SOURCE[0]}")/scale_report.sh" "$build" 2>"$tmp.scalelog" ||
			tail -n 20 "$tmp.scalelog" >&2
	fi
	if [[ ${BENCH_HANDOVER:-1} != 0 ]]; then
		# (BENCH_HANDOVER=0 skips it: about 9 minutes, see its header)
		echo
		if ! timeout -k 5 "${BENCH_HANDOVER_TIMEOUT:-1800}" bench/handover.sh 2>"$tmp.holog"; then
			echo "(handover benchmark failed; see its log)"
			tail -n 20 "$tmp.holog" >&2
		fi
	fi
} >"$tmp.md"
mv "$tmp.md" "$out"
rm -f "$tmp.lablog" "$tmp.scalelog" "$tmp.holog"
echo "wrote $out"
