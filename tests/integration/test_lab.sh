#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_lab.sh - self-test of tests/lib/lab.sh; needs no agent.
#
#   a                                       b
#   eth0 192.0.2.1/24    ---------------    eth0 192.0.2.2/24     capture "syn"
#        2001:db8:1::1/64                        2001:db8:1::2/64
#
# TCP over v4 and v6 with socat (listener in b, client in a, payload
# compared), the SYNs seen in the capture, lab_exec/lab_bg inside the host's
# netns and cgroup, and nothing of the run left after lab_cleanup.

set -eu
# shellcheck source-path=SCRIPTDIR source=../lib/lab.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

lab_init
lab_host a
lab_host b
lab_link a eth0 b eth0
lab_addr a eth0 192.0.2.1/24
lab_addr b eth0 192.0.2.2/24
lab_addr a eth0 2001:db8:1::1/64
lab_addr b eth0 2001:db8:1::2/64
head -c 200000 /dev/urandom >"$LAB_DIR/payload"
lab_capture_start b eth0 syn 'tcp[tcpflags] & tcp-syn != 0 or ip6'

# transfer FAMILY ADDR PORT - one socat transfer from a to b, payload compared.
transfer() {
	local fam=$1 addr=$2 port=$3 got=$LAB_DIR/got$1
	t_begin "TCP over IPv$fam"
	lab_bg b "srv$fam" socat -u "TCP$fam-LISTEN:$port,reuseaddr" "OPEN:$got,creat,trunc"
	t_check "listener up" lab_wait_listen b "$port"
	t_check "client sends" lab_exec a timeout 10 socat -u "OPEN:$LAB_DIR/payload" "TCP$fam:$addr:$port"
	t_check "listener exits 0" lab_bg_wait "srv$fam" 10
	t_check "payload intact" cmp "$LAB_DIR/payload" "$got"
}
transfer 4 192.0.2.2 5001
transfer 6 '[2001:db8:1::2]' 5002

# syn_seen REGEX - the capture shows a SYN matching REGEX.
syn_seen() { lab_capture_read syn | grep -E "$1: Flags \[S\]"; }
syn_count() { (($(lab_capture_count syn 'tcp[tcpflags] == tcp-syn') >= $1)); }

t_begin "capture shows the SYNs"
t_check "capture stops" lab_capture_stop syn
t_check "v4 SYN" syn_seen '192\.0\.2\.1\.[0-9]+ > 192\.0\.2\.2\.5001'
t_check "v6 SYN" syn_seen '2001:db8:1::1\.[0-9]+ > 2001:db8:1::2\.5002'
t_check "lab_capture_count counts" syn_count 1

# in_cgroup HOST PID / in_netns HOST PID - where PID sits.
in_cgroup() { grep -Fx "0::${LAB_CG[$1]#"$LAB_CGROOT"}" "/proc/$2/cgroup"; }
in_netns() { [[ $(stat -L -c %i "/proc/$2/ns/net") == $(stat -L -c %i "/run/netns/${LAB_NS[$1]}") ]]; }
# self_in HOST - a process started by lab_exec looks at itself.
self_in() {
	lab_exec "$1" cat /proc/self/cgroup | grep -Fx "0::${LAB_CG[$1]#"$LAB_CGROOT"}" &&
		[[ $(lab_exec "$1" stat -L -c %i /proc/self/ns/net) == $(stat -L -c %i "/run/netns/${LAB_NS[$1]}") ]]
}
exits_7() {
	local rc=0
	lab_exec a sh -c 'exit 7' || rc=$?
	((rc == 7))
}
own_pgrp() { [[ $(ps -o pgid= -p "$1" | tr -d ' ') == "$1" ]]; }

t_begin "lab_exec and lab_bg run inside the host"
t_check "lab_exec: own /proc/self shows host cgroup and netns" self_in a
t_check "lab_exec: exit status passed through" exits_7
lab_bg a sleeper sleep 600
sleeper=$(lab_bg_pid sleeper)
t_check "lab_bg: in host cgroup" lab_wait_until 5 in_cgroup a "$sleeper"
t_check "lab_bg: in host netns" in_netns a "$sleeper"
t_check "lab_bg: own process group" own_pgrp "$sleeper"

t_begin "helpers refuse bad input"
t_check_not "non-documentation address refused" lab_addr a eth0 10.1.2.3/24
t_check_not "unknown host refused" lab_exec nosuch true
t_check_not "duplicate host refused" lab_host a
LAB_BUILD=/nonexistent t_check_not "agent start without a build fails" lab_agent_start a
start=$(_lab_now_us)
t_check_not "lab_wait_until times out" lab_wait_until 0.3 false
t_check "... after about 0.3 s" test $(($(_lab_now_us) - start)) -lt 2000000

# nothing_left - no netns, cgroup or LAB_DIR of this run remains.
nothing_left() {
	local left
	left=$(ip netns list | grep -F -- "-$LAB_SUFFIX" || true)
	left+=$(find "$LAB_CGROOT" -maxdepth 1 -name "mig-*-$LAB_SUFFIX")
	if [[ ${LAB_KEEP:-0} != 1 && -e $LAB_DIR ]]; then
		left+=" $LAB_DIR"
	fi
	echo "left: ${left:-nothing}"
	[[ -z $left ]]
}
cleanup_quiet() { [[ -z $( (lab_cleanup) 2>&1) ]]; }

t_begin "lab_cleanup removes everything"
t_check "cleanup in a subshell" eval '(lab_cleanup)'
t_check "nothing of the run left" nothing_left
t_check "background process gone" _lab_dead "$sleeper"
t_check "cleanup again is quiet and harmless" cleanup_quiet

t_summary
