#!/usr/bin/env bash
# run-timeout: 1500   (tests/run.sh: a hang guard; this script takes minutes, more on a loaded machine)
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_migrate_xdp.sh - every migration case of test_migrate.sh (same lab,
# drawn there), with both agents started with --xdp: XDP ingress in native
# mode on the veths, an XDP_PASS program on the router's ends so that the
# agents' XDP_TX answers reach it (topo_veth_napi in mig_topo.sh). test_migrate.sh checks that the programs are
# native XDP, that no TC ingress filter is left, and that the server's
# XDP ingress translated the migrated segments.
#
# Both agents here load mig_dp, the build of the data path that asks the
# kernel's checksum helpers (MIGRATE_DP_TC_CSUM=helpers; what Linux 6.1
# loads), and test_migrate.sh on its own the build the kernel takes: so
# every case runs on both.  Here the egress rewrites (the TC programs
# here) take the helpers' path, with CHECKSUM_PARTIAL segments and, in the
# NAT case, ports that change.
here=$(cd "$(dirname "$0")" && pwd)
MIGRATE_DP_TC_CSUM=helpers MIG_TEST_AGENT_ARGS="--xdp${MIG_TEST_AGENT_ARGS:+ $MIG_TEST_AGENT_ARGS}" \
	exec bash "$here/test_migrate.sh"
