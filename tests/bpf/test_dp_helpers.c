// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_dp_helpers.c - every case of test_dp.c on mig_dp, the build of the
 * data path that asks the kernel's checksum helpers (Linux 6.1 loads only
 * that one), where test_dp takes the build the agent would load here
 * (mig_dp_kc on a kernel that takes it: user/lib/mig_dp_open.h).
 */
#define TEST_DP_BUILD "helpers"
#include "test_dp.c"
