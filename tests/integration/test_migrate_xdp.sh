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
here=$(cd "$(dirname "$0")" && pwd)
MIG_TEST_AGENT_ARGS="--xdp${MIG_TEST_AGENT_ARGS:+ $MIG_TEST_AGENT_ARGS}" \
	exec bash "$here/test_migrate.sh"
