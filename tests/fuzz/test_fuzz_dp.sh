#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/test_fuzz_dp.sh - the data path fuzzer (tests/bpf/fuzz_dp.c)
# as a regression test: FUZZ_DP_TEST_COUNT (default 50000) random and
# mutated packets from a fixed seed, so a run is repeatable and quick.
# `make fuzz` runs it with 1,000,000 packets and a new seed.  It prints
# "N passed, N failed" itself (one case per packet).  Root.

set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
build=${LAB_BUILD:-${BUILD:-build}}

exec "$build/tests/fuzz_dp" "${FUZZ_DP_TEST_COUNT:-50000}" --seed 1
