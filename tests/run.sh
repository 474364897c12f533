#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/run.sh [FILTER] - run every test runner and sum their results: first
# the unit and BPF test programs (build/tests/test_*), then the fuzz corpus
# and the data path fuzzer's short run (tests/fuzz/test_*.sh), the namespace
# integration tests (tests/integration/test_*.sh) and the attack tests
# (tests/adversarial/test_*.sh). Each runner ends with a
# line "N passed, N failed"; a runner without that line, or one that exits
# non-zero without reporting a failure, counts as 1 failed. A runner that
# cannot run here prints "SKIP: why" and "0 passed, 0 failed"; the summary
# shows the reason on its line. FILTER keeps only runners whose name
# contains it. Called by `make test`; needs root.
#
# Environment: BUILD (build dir, default build), UNIT_TIMEOUT (default 300 s),
# INTEGRATION_TIMEOUT (default 600 s, or what a script asks for with a line
# "# run-timeout: SECONDS" among its first 40 lines, whichever is larger:
# the timeout guards against a hang, it is no measure of speed, and a
# loaded machine takes longer); LAB_KEEP, LAB_VERBOSE go to the tests.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

if [[ $(id -u) != 0 ]]; then
	echo "tests/run.sh: must run as root (the tests load BPF programs and create network namespaces); try: sudo make test" >&2
	exit 1
fi
if (($# > 1)) || [[ ${1:-} == -h || ${1:-} == --help ]]; then
	echo "usage: tests/run.sh [FILTER]   (FILTER: part of a test name, e.g. lab)" >&2
	exit 2
fi
filter=${1:-}
build=${BUILD:-build}
[[ $build == /* ]] || build=$PWD/$build
export LAB_BUILD=${LAB_BUILD:-$build}
export MIGRATECTL=${MIGRATECTL:-$build/migratectl}

total_pass=0
total_fail=0
interrupted=0
cur=
summary=()
skipped=()
out=$(mktemp -d "${TMPDIR:-/tmp}/mig-run.XXXXXX") || exit 1
trap 'rm -rf "$out"' EXIT
# Pass ^C / TERM on to the running test (timeout relays it to the test's
# process group), so its own cleanup runs; then stop.
trap 'interrupted=1; [[ -n $cur ]] && kill -TERM "$cur" 2>/dev/null' INT TERM

# run_one NAME TIMEOUT_S CMD... - run one runner, echo its output live,
# add its counts to the totals.
run_one() {
	local name=$1 limit=$2 log rc tail_pid line p f note start
	shift 2
	log=$out/${name//\//_}.log
	: >"$log"
	printf '=== %s\n' "$name"
	start=$SECONDS
	# In the background so that the INT trap can run while we wait; the test
	# writes to a file, not a pipe, so a stray child holding its stdout
	# cannot hang us.
	timeout -k 30 "$limit" "$@" </dev/null >"$log" 2>&1 &
	cur=$!
	(
		trap '' INT
		exec tail -n +1 -s 0.1 -f --pid="$cur" "$log"
	) &
	tail_pid=$!
	while :; do
		wait "$cur"
		rc=$?
		kill -0 "$cur" 2>/dev/null || break
	done
	cur=
	wait "$tail_pid" 2>/dev/null

	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	note=$(grep -m 1 '^SKIP: ' "$log")
	if [[ -n $line ]]; then
		p=${line%% *}
		f=${line#*, }
		f=${f%% *}
	else
		p=0 f=1 note="no 'N passed, N failed' line${note:+; $note}"
	fi
	if ((rc == 124)); then
		note="timed out after ${limit}s${note:+; $note}"
	elif ((rc != 0)); then
		note="exit status $rc${note:+; $note}"
	fi
	if ((rc != 0 && f == 0)); then
		f=1
	fi
	if [[ -n $line && $note == SKIP:* ]]; then
		skipped+=("$name (${note#SKIP: })")
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	summary+=("$(printf '%-4s %-40s %3d passed, %3d failed  %4ds%s' \
		"$( ((f)) && echo FAIL || echo ok)" "$name" "$p" "$f" \
		$((SECONDS - start)) "${note:+  ($note)}")")
}

matches() { [[ -z $filter || $1 == *"$filter"* ]]; }

ran=0
for bin in "$build"/tests/test_*; do
	[[ -f $bin && -x $bin ]] || continue
	((interrupted)) && break
	matches "${bin##*/}" || continue
	run_one "${bin#"$PWD"/}" "${UNIT_TIMEOUT:-300}" "$bin"
	ran=$((ran + 1))
done
for t in tests/fuzz/test_*.sh tests/integration/test_*.sh tests/adversarial/test_*.sh; do
	[[ -f $t ]] || continue
	((interrupted)) && break
	matches "${t##*/}" || continue
	limit=${INTEGRATION_TIMEOUT:-600}
	want=$(head -n 40 "$t" | sed -n 's/^# run-timeout: \([0-9][0-9]*\).*/\1/p' | head -n 1)
	if [[ -n $want ]] && ((want > limit)); then
		limit=$want
	fi
	run_one "$t" "$limit" bash "$t"
	ran=$((ran + 1))
done

echo "=== summary"
if ((ran == 0)); then
	echo "no test runner matched${filter:+ \"$filter\"} (build them with make)" >&2
	total_fail=$((total_fail + 1))
fi
if ((interrupted)); then
	echo "interrupted; remaining runners skipped" >&2
	total_fail=$((total_fail + 1))
fi
for s in "${summary[@]}"; do
	echo "$s"
done
for s in "${skipped[@]}"; do
	echo "skipped: $s"
done
printf '%d passed, %d failed\n' "$total_pass" "$total_fail"
((total_fail == 0))
