#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/test_fuzz_corpus.sh - the committed fuzz corpus as regression
# tests: each file of tests/fuzz/corpus/NAME/ goes once through the harness
# tests/fuzz/fuzz_NAME.c built without libFuzzer, with ASan and UBSan
# ($BUILD/fuzz/replay_NAME, made by `make test`).  One case per file: it
# passes when the harness returns (no assertion, no sanitizer report, no
# leak).  Ends with "N passed, N failed".  Needs no root.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
build=${LAB_BUILD:-${BUILD:-build}}

# Leak checks that do not depend on what a stack slot or register still
# holds: at exit nothing may be reachable from them anyway.
export LSAN_OPTIONS=${LSAN_OPTIONS:-use_stacks=0:use_registers=0}

pass=0
fail=0
for dir in tests/fuzz/corpus/*/; do
	name=$(basename "$dir")
	bin=$build/fuzz/replay_$name
	if [[ ! -x $bin ]]; then
		echo "FAIL $name: $bin not built (make test builds it)"
		fail=$((fail + 1))
		continue
	fi
	for f in "$dir"*; do
		[[ -f $f ]] || continue
		if out=$("$bin" "$f" 2>&1); then
			echo "ok   $name/${f##*/}"
			pass=$((pass + 1))
		else
			echo "FAIL $name/${f##*/}"
			printf '%s\n' "$out" | head -n 30 | sed 's/^/    /'
			fail=$((fail + 1))
		fi
	done
done
echo "$pass passed, $fail failed"
((fail == 0))
