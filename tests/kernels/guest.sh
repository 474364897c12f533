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
# what udev would have made: bash's process substitution needs /dev/fd
ln -sf /proc/self/fd /dev/fd
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
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
		grep -v -E '^ *ok ' "$out" | head -n 400 | sed "s/^/MIGKERN: $name: /"
	fi
	echo "MIGKERN-RESULT $name: ${sum:-no summary} ($((t1 - t0)) s)"
}
run test_dp "$BUILD/tests/test_dp"
run test_ctl "$BUILD/tests/test_ctl"
# (TCG: an agent start verifies every program, which takes far longer
# than the lab's default 10 s)
export LAB_BUILD=$BUILD MIG_TEST_MB=${MIG_TEST_MB:-48} MIG_TEST_RATE=${MIG_TEST_RATE:-4m}
export LAB_AGENT_TIMEOUT=${LAB_AGENT_TIMEOUT:-180}
# (test_lab.sh is not in the default list: its timing checks assume a
# machine faster than TCG)
[[ ,${TESTS:-}, == *,test_lab,* ]] && run test_lab bash tests/integration/test_lab.sh
run test_xdp bash tests/integration/test_xdp.sh
# on request: the congestion restart after a commit (a struct_ops
# congestion control, bpf_setsockopt from an iterator, and from sock_ops
# on a marked segment: test_ccmark)
[[ ,${TESTS:-}, == *,test_cwnd,* ]] && run test_cwnd bash tests/integration/test_cwnd.sh
[[ ,${TESTS:-}, == *,test_ccmark,* ]] && run test_ccmark bash tests/adversarial/test_ccmark.sh
# on request only: one agent start with the verifier's log, for a kernel
# that refuses the programs
if [[ ,${TESTS:-}, == *,agentlog,* ]]; then
	mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg 2>/dev/null
	timeout 600 "$BUILD/migrate-agent" -v --pin-dir /sys/fs/bpf/agentlog \
		--cgroup /sys/fs/cgroup --pidfile /tmp/agent.pid >/tmp/agentlog.out 2>&1 &
	for _ in $(seq 600); do [[ -s /tmp/agent.pid ]] || ! kill -0 $! 2>/dev/null && break; sleep 1; done
	kill $! 2>/dev/null
	wait
	grep -v -E '^libbpf: (map|elf|sec|prog .*: found|CO-RE|loaded kernel BTF)' /tmp/agentlog.out |
		grep -B 40 -A 5 -E 'Permission denied|too large|invalid|error' | head -n 120 | sed 's/^/MIGKERN: agentlog: /'
	echo "MIGKERN: agentlog: $(tail -n 1 /tmp/agentlog.out)"
fi
echo "MIGKERN-END"
off
