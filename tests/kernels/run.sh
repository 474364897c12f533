#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/kernels/run.sh - the kernel matrix (`make test-kernels`, root): boots
# Debian 12's 6.1 kernel and the running kernel under qemu with the built
# binaries and runs the BPF tier (test_dp, test_ctl) and test_xdp.sh (hook
# handling and a migration) inside.  Ends
# with one verdict line per kernel: "6.1.0-NN-amd64: PASS" or "...: FAIL
# (what)" or "...: SKIPPED (why)".
#
# How: the 6.1 package (and busybox-static) are fetched with `apt-get
# download` into a cache and unpacked there, never installed.  A minimal
# initramfs (busybox, the virtio and 9p modules and those the tests need,
# in dependency order) mounts this machine's root filesystem read-only over
# 9p and switches to it; tests/kernels/guest.sh then mounts tmpfs where the
# tests write, runs them and prints MIGKERN lines on the serial console,
# which this script reads back from the log.  KVM when /dev/kvm works,
# TCG otherwise (much slower: not part of .ci/run).
#
# Environment: BUILD (default build), MIG_KERNEL_CACHE (default
# $BUILD/kernels), MIG_KERNEL_TIMEOUT (seconds per kernel, default 3600),
# MIG_KERNELS ("6.1 running" by default; either or both), MIG_KERNEL_TESTS
# (runners to run in the guest, comma-separated: test_dp, test_ctl,
# test_xdp, and on request only test_lab, test_cwnd, test_ccmark and
# agentlog; default all).

set -u
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$REPO/$BUILD ;; esac
CACHE=${MIG_KERNEL_CACHE:-$BUILD/kernels}
TIMEOUT=${MIG_KERNEL_TIMEOUT:-3600}
KERNELS=${MIG_KERNELS:-6.1 running}

# modules the guest loads: 9p root first, then what the tests use
MODS_ROOT="virtio_pci 9pnet_virtio 9p"
# (crc32c_generic: libcrc32c, which nf_tables needs, only soft-depends on it)
MODS_TESTS="veth sch_ingress cls_bpf inet_diag tcp_diag udp_diag crc32c_generic nf_tables nft_quota"

say() { printf 'test-kernels: %s\n' "$*" >&2; }
declare -a VERDICTS=()
verdict() { VERDICTS+=("$1: $2"); say "$1: $2"; }

if [[ $(id -u) != 0 ]]; then
	say "needs root (the guest runs the lab as root; apt-get download into the cache)"
	exit 1
fi
for b in migrate-agent migratectl tests/test_dp tests/test_ctl; do
	if [[ ! -x $BUILD/$b ]]; then
		say "no $BUILD/$b: build first (make all build/tests/test_dp build/tests/test_ctl)"
		exit 1
	fi
done
QEMU=$(command -v qemu-system-x86_64) || { say "qemu-system-x86_64 not found (package qemu-system-x86)"; exit 1; }
mkdir -p "$CACHE/debs" || exit 1

# fetch PKG - the newest .deb of PKG in the cache (downloaded once)
fetch() {
	local pkg=$1 deb
	deb=$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
	if [[ -z $deb ]]; then
		(cd "$CACHE/debs" && apt-get download "$pkg" >&2 2>"$CACHE/debs/apt.log") ||
			{ say "apt-get download $pkg failed: $(tail -n 1 "$CACHE/debs/apt.log")"; return 1; }
		deb=$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | sort -V | tail -n 1)
	fi
	[[ -n $deb ]] && echo "$deb"
}

# unpack DEB DIR - dpkg-deb -x once
unpack() {
	[[ -e $2/.done ]] && return 0
	rm -rf "$2" && mkdir -p "$2" && dpkg-deb -x "$1" "$2" && touch "$2/.done"
}

BB_DEB=$(fetch busybox-static) || exit 1
unpack "$BB_DEB" "$CACHE/busybox" || { say "cannot unpack $BB_DEB"; exit 1; }
BB=$CACHE/busybox/bin/busybox

# mod_order MODDIR NAMES... - the .ko paths (relative to MODDIR) of NAMES
# and what they depend on, dependencies first (from each module's
# .modinfo "depends=", as depmod would)
mod_order() {
	python3 - "$@" <<-'EOF'
	import os, sys
	root, want = sys.argv[1], sys.argv[2:]
	path = {}
	for d, _, fs in os.walk(root):
	    for f in fs:
	        if f.endswith(".ko"):
	            path[f[:-3].replace("-", "_")] = os.path.relpath(os.path.join(d, f), root)
	def deps(name):
	    data = open(os.path.join(root, path[name]), "rb").read()
	    i = data.find(b"\0depends=")
	    if i < 0:
	        return []
	    v = data[i + 9:data.index(b"\0", i + 9)].decode()
	    return [x.replace("-", "_") for x in v.split(",") if x]
	out, seen = [], set()
	def visit(n):
	    if n in seen:
	        return
	    seen.add(n)
	    if n not in path:          # built in
	        return
	    for d in deps(n):
	        visit(d)
	    out.append(path[n])
	for n in want:
	    visit(n.replace("-", "_"))
	print("\n".join(out))
	EOF
}

# make_initrd KVER MODDIR OUT - busybox, /init and the modules, as a
# gzipped newc cpio
make_initrd() {
	local kver=$1 moddir=$2 out=$3 dir m
	dir=$(mktemp -d "${TMPDIR:-/tmp}/mig-initrd.XXXXXX") || return 1
	mkdir -p "$dir/bin" "$dir/mod" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/newroot"
	cp "$BB" "$dir/bin/busybox"
	: >"$dir/modules.list"
	if [[ -n $moddir ]]; then
		# shellcheck disable=SC2086 # word lists
		for m in $(mod_order "$moddir" $MODS_ROOT $MODS_TESTS); do
			cp "$moddir/$m" "$dir/mod/" && basename "$m" >>"$dir/modules.list"
		done
	fi
	cat >"$dir/init" <<-'EOF'
	#!/bin/busybox sh
	B=/bin/busybox
	$B mount -t proc proc /proc
	$B mount -t sysfs sys /sys
	$B mount -t devtmpfs dev /dev
	for m in $($B cat /modules.list); do
		$B insmod /mod/$m || echo "MIGKERN: insmod $m failed"
	done
	for w in $($B cat /proc/cmdline); do
		case $w in mig.repo=*) REPO=${w#mig.repo=} ;; esac
	done
	if ! $B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,ro hostroot /newroot; then
		echo "MIGKERN-FAIL: cannot mount the host's root over 9p"
		echo o >/proc/sysrq-trigger
	fi
	$B mount --move /proc /newroot/proc
	$B mount --move /sys /newroot/sys
	$B mount --move /dev /newroot/dev
	exec $B switch_root /newroot /bin/bash "$REPO/tests/kernels/guest.sh"
	EOF
	chmod +x "$dir/init"
	(cd "$dir" && find . | "$BB" cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
	local rc=$?
	rm -rf "$dir"
	return "$rc"
}

# accel_for VMLINUZ - kvm if a guest really runs under it (a /dev/kvm that
# exists but cannot run guests is not rare in nested setups: the kernel
# must get as far as its root-mount panic within 30 s), else tcg
ACCEL=
accel_for() {
	local log=$CACHE/kvm-probe.log
	[[ -n $ACCEL ]] && return
	ACCEL=tcg
	if [[ -c /dev/kvm && -w /dev/kvm ]]; then
		timeout 30 "$QEMU" -accel kvm -cpu host -m 512 -nodefaults -no-user-config \
			-display none -no-reboot -nic none -serial "file:$log" -kernel "$1" \
			-append "console=ttyS0 panic=-1" >/dev/null 2>&1
		if grep -a -q "Kernel panic" "$log"; then
			ACCEL=kvm
		else
			say "/dev/kvm is there but a guest does not run under it: TCG (slow)"
		fi
	else
		say "no usable /dev/kvm: TCG (slow)"
	fi
}

# boot NAME VMLINUZ INITRD - run the guest; the verdict from its log
boot() {
	local name=$1 kernel=$2 initrd=$3 log=$CACHE/$1.log t0 t1 rc=0 fails accel cpu
	accel_for "$kernel"
	cpu=max
	[[ $ACCEL == kvm ]] && cpu=host
	say "$name: booting under ${ACCEL^^} (log: $log)"
	t0=$(date +%s)
	timeout "$TIMEOUT" "$QEMU" -accel "$ACCEL" -cpu "$cpu" -smp 2 -m 3072 \
		-nodefaults -no-user-config -display none -no-reboot -nic none \
		-serial "file:$log" -kernel "$kernel" -initrd "$initrd" \
		-fsdev "local,id=root,path=/,security_model=none,readonly=on" \
		-device "virtio-9p-pci,fsdev=root,mount_tag=hostroot" \
		-append "console=ttyS0 panic=-1 mig.repo=$REPO mig.build=$BUILD mig.tests=${MIG_KERNEL_TESTS:-all}" \
		>"$CACHE/$name.qemu.log" 2>&1 || rc=$?
	t1=$(date +%s)
	accel=${ACCEL^^}
	if ((rc == 124)); then
		verdict "$name" "FAIL (timed out after ${TIMEOUT}s; $accel)"
		return
	fi
	if ! grep -q '^MIGKERN-END' "$log"; then
		verdict "$name" "FAIL (the guest stopped early: $(grep -a -m1 -E 'MIGKERN-FAIL|Kernel panic' "$log" ||
			echo "see $log") ; $accel, $((t1 - t0)) s)"
		return
	fi
	fails=$(sed -n 's/^MIGKERN-RESULT \([^:]*\): [0-9]* passed, \([1-9][0-9]*\) failed.*/\1 (\2 failed)/p;
		s/^MIGKERN-RESULT \([^:]*\): no summary.*/\1 (no summary)/p' "$log" | tr '\n' ' ')
	if [[ -n $fails ]]; then
		verdict "$name" "FAIL (${fails% }; $accel, $((t1 - t0)) s)"
	else
		verdict "$name" "PASS ($(grep -c '^MIGKERN-RESULT' "$log") runners; $accel, $((t1 - t0)) s)"
	fi
}

for k in $KERNELS; do
	case $k in
	6.1)
		pkg=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' 2>/dev/null |
			cut -d' ' -f1 | sort -V | tail -n 1)
		if [[ -z $pkg ]]; then
			verdict "6.1" "SKIPPED (no linux-image-6.1.0-*-amd64 in apt's lists: Debian 12's archive is not configured)"
			continue
		fi
		kver=${pkg#linux-image-}
		deb=$(fetch "$pkg") || { verdict "$kver" "SKIPPED (cannot download $pkg)"; continue; }
		unpack "$deb" "$CACHE/$kver" || { verdict "$kver" "SKIPPED (cannot unpack $deb)"; continue; }
		make_initrd "$kver" "$CACHE/$kver/lib/modules/$kver" "$CACHE/$kver.initrd" ||
			{ verdict "$kver" "FAIL (cannot build the initramfs)"; continue; }
		boot "$kver" "$CACHE/$kver/boot/vmlinuz-$kver" "$CACHE/$kver.initrd"
		;;
	running)
		kver=$(uname -r)
		if [[ ! -r /boot/vmlinuz-$kver ]]; then
			verdict "$kver" "SKIPPED (no /boot/vmlinuz-$kver on this machine)"
			continue
		fi
		moddir=/lib/modules/$kver
		[[ -d $moddir ]] || moddir=
		make_initrd "$kver" "$moddir" "$CACHE/$kver.initrd" ||
			{ verdict "$kver" "FAIL (cannot build the initramfs)"; continue; }
		boot "$kver" "/boot/vmlinuz-$kver" "$CACHE/$kver.initrd"
		;;
	*)
		say "unknown kernel '$k' in MIG_KERNELS: expected 6.1 or running"
		exit 2
		;;
	esac
done

echo "== kernel matrix"
for v in "${VERDICTS[@]}"; do echo "$v"; done
for v in "${VERDICTS[@]}"; do [[ $v == *": FAIL"* ]] && exit 1; done
exit 0
