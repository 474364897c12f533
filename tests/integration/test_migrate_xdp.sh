#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_migrate_xdp.sh - every migration case of test_migrate.sh (same lab,
# drawn there), with both agents started with --xdp: XDP ingress in native
# mode on the veths, GRO (NAPI) on the router's ends so that the agents'
# XDP_TX answers reach it. test_migrate.sh checks that the programs are
# native XDP, that no TC ingress filter is left, and that the server's
# XDP ingress translated the migrated segments.
here=$(cd "$(dirname "$0")" && pwd)
MIG_TEST_AGENT_ARGS="--xdp${MIG_TEST_AGENT_ARGS:+ $MIG_TEST_AGENT_ARGS}" \
	exec bash "$here/test_migrate.sh"
