#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# scripts/install-deps.sh - install the Debian 12 packages needed to build and
# test migrate. Idempotent: installs only what is missing, and does nothing
# (not even apt-get update) when everything is there. `make deps` runs it.

set -euo pipefail

PKGS=(
	# build
	clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libssl-dev
	libnl-3-dev libnl-route-3-dev libldns-dev pkg-config make gcc
	libclang-rt-14-dev
	# tests and lab
	ldnsutils iproute2 tcpdump socat netcat-openbsd nftables bind9
	bind9-dnsutils python3 ethtool util-linux procps pv iperf3 curl coreutils
	tshark
	# make test-stress
	stress-ng
	# test_wg: a WireGuard tunnel (a tun device; this kernel has no
	# in-kernel WireGuard)
	wireguard-tools wireguard-go
	# test_install: systemd-analyze verify (and man for its Documentation=
	# check); test_caps: capsh --decode
	systemd man-db libcap2-bin
	# bench/handover.sh: the Multipath TCP daemon, one of the variants
	# measured against (its path managers are a package of their own,
	# only recommended, and without them it exits at once)
	mptcpd mptcpd-plugins
	# make test-kernels (the kernel and busybox-static are downloaded
	# into the build directory, not installed)
	qemu-system-x86
)

if ! command -v dpkg-query >/dev/null; then
	echo "install-deps.sh: dpkg-query not found; this script knows Debian 12 only." >&2
	echo "install-deps.sh: install the equivalents of: ${PKGS[*]}" >&2
	exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
	if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} == 0)); then
	echo "install-deps.sh: all ${#PKGS[@]} packages installed"
	exit 0
fi
if [[ $(id -u) != 0 ]]; then
	echo "install-deps.sh: missing packages: ${missing[*]}" >&2
	echo "install-deps.sh: run as root to install them (sudo make deps)" >&2
	exit 1
fi

echo "install-deps.sh: installing: ${missing[*]}"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"

still=()
for p in "${missing[@]}"; do
	if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
		still+=("$p")
	fi
done
if ((${#still[@]})); then
	echo "install-deps.sh: still missing after apt-get install: ${still[*]}" >&2
	exit 1
fi
echo "install-deps.sh: done"
