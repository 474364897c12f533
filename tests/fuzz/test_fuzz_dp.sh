#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/test_fuzz_dp.sh - the data path fuzzer (tests/bpf/fuzz_dp.c)
# as a regression test: FUZZ_DP_TEST_COUNT (default 50000) random and
# mutated packets from a fixed seed, so a run is repeatable and quick.
# `make fuzz` runs it with 1,000,000 packets and a new seed.  The fuzzer
# counts packets; this runner reports the run as one case ("1 passed" when
# no packet broke a rule), so that test totals count tests, not packets.
# Root.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
build=${LAB_BUILD:-${BUILD:-build}}
n=${FUZZ_DP_TEST_COUNT:-50000}

out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$build/tests/fuzz_dp" "$n" --seed 1 >"$out" 2>&1
rc=$?
grep -Ev '^ok|^[0-9]+ passed, [0-9]+ failed' "$out" | head -n 50
last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
echo "fuzz_dp: $n packets, seed 1: ${last:-no result line} (exit $rc)"
if ((rc == 0)) && [[ $last =~ ^[0-9]+\ passed,\ 0\ failed ]]; then
	echo "ok   data path fuzz, $n packets"
	echo "1 passed, 0 failed"
	exit 0
fi
echo "FAIL data path fuzz, $n packets"
echo "0 passed, 1 failed"
exit 1
