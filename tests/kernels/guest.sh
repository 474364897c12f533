#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/kernels/guest.sh - PID 1 of a tests/kernels/run.sh guest, on this
# machine's root filesystem (read-only, over 9p): mounts tmpfs where the
# tests write, runs the BPF tier and the lab tests, prints one
# "MIGKERN-RESULT name: <summary line>" each, then MIGKERN-END, and powers
# off.  Not for running by hand.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TMPDIR=/tmp
for w in $(cat /proc/cmdline); do
	case $w in
	mig.repo=*) REPO=${w#mig.repo=} ;;
	mig.build=*) BUILD=${w#mig.build=} ;;
	mig.tests=*) TESTS=${w#mig.tests=} ;;
	esac
done
off() {
	sync
	echo o >/proc/sysrq-trigger
	sleep 10
	exit 1
}
for d in /tmp /run /var/tmp /root; do
	mount -t tmpfs -o mode=1777 tmpfs "$d" || { echo "MIGKERN-FAIL: tmpfs on $d"; off; }
done
mount -t bpf bpf /sys/fs/bpf || { echo "MIGKERN-FAIL: bpffs"; off; }
mount -t cgroup2 none /sys/fs/cgroup || { echo "MIGKERN-FAIL: cgroup2"; off; }
ip link set lo up
echo "MIGKERN: kernel $(uname -r), $(nproc) CPUs, repo $REPO"
cd "$REPO" || off

# run NAME CMD... - one runner; its last "N passed, N failed" line
run() {
	local name=$1 out t0 t1 sum
	shift
	[[ ,${TESTS:-all}, == *,all,* || ,${TESTS:-}, == *,$name,* ]] || return 0
	out=/tmp/$name.out
	t0=$(date +%s)
	timeout 1800 "$@" >"$out" 2>&1
	t1=$(date +%s)
	sum=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	# a failing runner's output, for the log
	if [[ $sum != *" 0 failed" ]]; then
		grep -v -E '^ *ok ' "$out" | head -n 80 | sed "s/^/MIGKERN: $name: /"
	fi
	echo "MIGKERN-RESULT $name: ${sum:-no summary} ($((t1 - t0)) s)"
}
run test_dp "$BUILD/tests/test_dp"
run test_ctl "$BUILD/tests/test_ctl"
export LAB_BUILD=$BUILD MIG_TEST_MB=${MIG_TEST_MB:-16} MIG_TEST_RATE=${MIG_TEST_RATE:-4m}
run test_lab bash tests/integration/test_lab.sh
run test_xdp bash tests/integration/test_xdp.sh
echo "MIGKERN-END"
off
