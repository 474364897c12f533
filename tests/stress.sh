#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/stress.sh - run the whole suite (tests/run.sh) RUNS times in a row
# with stress-ng loading every core and part of the memory, and print one
# line per run and a verdict. Called by `make test-stress`; needs root.
# Not part of `make test` or .ci/run: a run of the suite takes about twenty
# minutes on two loaded cores.
#
# Environment: RUNS (default 5), STRESS_CPU (stress-ng CPU workers, default
# one per online CPU), STRESS_VM_BYTES (memory held by the two stress-ng VM
# workers together, default 25%), STRESS_KEEP_GOING=1 to run all RUNS even
# after a failed run; BUILD as for tests/run.sh. Every run's full output is
# kept in STRESS_LOGDIR (default a new directory under /tmp, printed).

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

die() { echo "tests/stress.sh: $*" >&2; exit 2; }

[[ $(id -u) == 0 ]] || die "must run as root (the suite loads BPF programs and creates network namespaces); try: sudo make test-stress"
command -v stress-ng >/dev/null || die "stress-ng not found; install it with: make deps"

runs=${RUNS:-5}
[[ $runs =~ ^[1-9][0-9]?$ ]] || die "RUNS='$runs': want a number from 1 to 99"
cpus=${STRESS_CPU:-$(nproc)}
[[ $cpus =~ ^[1-9][0-9]?$ ]] || die "STRESS_CPU='$cpus': want a number from 1 to 99"
vmb=${STRESS_VM_BYTES:-25%}
[[ $vmb =~ ^[1-9][0-9]*[%kKmMgG]?$ ]] || die "STRESS_VM_BYTES='$vmb': want e.g. 25% or 2G"
logdir=${STRESS_LOGDIR:-$(mktemp -d "${TMPDIR:-/tmp}/mig-stress.XXXXXX")} || exit 1
mkdir -p "$logdir" || die "cannot create '$logdir'"

spid=
stop_stress() {
	if [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; then
		kill -TERM "$spid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null
	fi
	spid=
}
trap stop_stress EXIT
trap 'stop_stress; exit 130' INT TERM

# The load runs for at most as long as the runs may take (tests/run.sh's
# own timeouts bound each test); it is stopped as soon as they end.
stress-ng --cpu "$cpus" --vm 2 --vm-bytes "$vmb" --timeout "$((runs * 45))m" \
	--quiet >"$logdir/stress-ng.log" 2>&1 &
spid=$!
sleep 1
kill -0 "$spid" 2>/dev/null || die "stress-ng did not start: $(tail -n 3 "$logdir/stress-ng.log")"
echo "tests/stress.sh: $runs run(s) of the suite under stress-ng ($cpus CPU workers, 2 VM workers holding $vmb); logs in $logdir"

failed_runs=0
for ((r = 1; r <= runs; r++)); do
	t0=$(date +%s)
	tests/run.sh >"$logdir/run-$r.log" 2>&1
	rc=$?
	total=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$logdir/run-$r.log" | tail -n 1)
	fails=$(sed -n '/^=== summary$/,$p' "$logdir/run-$r.log" | awk '$1 == "FAIL" { printf " %s", $2 }')
	echo "run $r/$runs: ${total:-no total} in $(($(date +%s) - t0)) s (exit $rc)${fails:+; failed:$fails}"
	if ((rc != 0)) || [[ -z $total || ! $total =~ \ 0\ failed$ ]]; then
		failed_runs=$((failed_runs + 1))
		[[ ${STRESS_KEEP_GOING:-0} == 1 ]] || break
	fi
done
stop_stress
if ((failed_runs)); then
	echo "tests/stress.sh: $failed_runs run(s) failed; see $logdir"
	exit 1
fi
echo "tests/stress.sh: $runs of $runs runs passed under load"
