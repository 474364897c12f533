# shellcheck shell=bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/lib/lab.sh - the namespace lab for integration tests: simulated hosts
# (a network namespace plus a cgroup each), veth links, documentation
# addresses, one agent per host, packet captures, and the t_* assertions.
# Source it from a test; it does nothing on its own.
#
# Usage (the shape of every integration test):
#
#   #!/usr/bin/env bash
#   # test_example.sh - one TCP transfer from client to server.
#   #
#   #   client                               server
#   #   eth0 192.0.2.1/24 --------------- eth0 192.0.2.2/24
#   #   agent
#   #
#   set -eu
#   . "$(dirname "$0")/../lib/lab.sh"
#   lab_init                                 # cleanup is now registered
#   lab_host client
#   lab_host server
#   lab_link client eth0 server eth0
#   lab_addr client eth0 192.0.2.1/24
#   lab_addr server eth0 192.0.2.2/24
#   lab_agent_start client
#   lab_bg server srv socat -u TCP-LISTEN:5001 "OPEN:$LAB_DIR/got,creat"
#   lab_wait_listen server 5001
#
#   t_begin "transfer"
#   t_check "client sends" lab_exec client socat -u OPEN:/etc/services TCP:192.0.2.2:5001
#   t_check "server exits 0" lab_bg_wait srv 5
#   t_check "payload intact" cmp /etc/services "$LAB_DIR/got"
#   t_check "agent saw it" lab_ctl client show
#
#   t_summary                                # last line: "N passed, N failed"
#
# Setup runs under `set -e`: a failing lab_* call aborts the test, the EXIT trap
# cleans up, and tests/run.sh counts the missing summary line as a failure.
# t_check never aborts: it records the result and returns 0 (status in $T_RC).
# Do not `set -m` in a test: background processes must stay group leaders.
#
# Drawing convention: every test opens with a comment that draws its topology.
# Host names head the columns, "(fwd)" marks a router, "(agent)" a host that
# runs migrate-agent; each link is one row, "IF ADDRESS" at both ends; a link
# that goes away in a move is drawn "x-x-x", one that comes up "- - -", NAT
# on an interface is written next to it:
#
#   mobile (agent)                        router (fwd)           server (agent)
#   eth0 192.0.2.1/24    x-x-x-x-x-x-x-x  a0 192.0.2.254/24
#   eth1 198.51.100.1/24 - - - - - - - -  b0 198.51.100.254/24 NAT
#                                         s0 203.0.113.254/24 -- eth0 203.0.113.1/24
#
# Environment: LAB_BUILD (build dir, default <repo>/build), LAB_KEEP=1 (keep
# $LAB_DIR with logs and captures), LAB_VERBOSE=1 (show output of passing
# checks), LAB_AGENT_TIMEOUT (seconds to wait for an agent, default 60: it verifies
# its programs first, 3.5 s alone on an AMD EPYC guest here, longer when
# several start at once).

if [[ -z ${BASH_VERSINFO:-} || ${BASH_VERSINFO[0]} -lt 5 ]]; then
	echo "lab.sh: needs bash 5 or later" >&2
	# shellcheck disable=SC2317 # exit when executed instead of sourced
	return 1 2>/dev/null || exit 1
fi

LAB_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_LIBDIR/../.." && pwd)
LAB_BPFFS=/sys/fs/bpf

# What this run created, so that lab_cleanup can undo it (also after a
# partial setup). Keys are host names or process names.
declare -gA LAB_NS=()        # host -> netns name
declare -gA LAB_CG=()        # host -> cgroup directory
declare -gA LAB_PIN=()       # host -> pin directory (set once an agent was started)
declare -gA LAB_AGENT_PID=() # host -> agent pid (process group leader)
declare -gA LAB_BG_PID=()    # name -> pid (process group leader)
declare -gA LAB_CAP_PID=()   # name -> tcpdump pid
declare -ga _LAB_HOSTS=()    # host names in creation order
declare -ga _LAB_DEFER=()    # quoted commands for lab_defer
# A command that lab_agent_start puts before the agent, e.g. (setpriv
# --bounding-set=-all,+bpf --): the agent runs with what it leaves.
declare -ga LAB_AGENT_WRAP=()
LAB_SUFFIX=
LAB_DIR=
LAB_CGROOT=
LAB_BUILD=${LAB_BUILD:-}
T_RC=0
_LAB_OUT=1
_LAB_ERR=2
_LAB_IN_CLEANUP=0
_T_PASS=0
_T_FAIL=0
_T_CASE=
_T_OPEN=0
_T_BAD=0
_T_HINTED=0

_lab_err() { printf 'lab: %s\n' "$*" >&2; }

# ---------------------------------------------------------------------------
# Time and polling

# Microseconds since the epoch: _lab_now sets _LAB_NOW (no subshell, for
# polling loops), _lab_now_us prints it.
_lab_now() {
	_LAB_NOW=${EPOCHREALTIME/[.,]/}
	_LAB_NOW=$((10#$_LAB_NOW))
}
_lab_now_us() {
	_lab_now
	echo "$_LAB_NOW"
}

# _lab_to_us S: "2.5" -> 2500000 in _LAB_US (no subshell: see _lab_nap)
_lab_to_us() {
	local s=$1 i f=000000
	if [[ ! $s =~ ^[0-9]*(\.[0-9]*)?$ || -z $s ]]; then
		_lab_err "bad timeout '$s' (seconds, e.g. 5 or 0.5)"
		return 1
	fi
	i=${s%%.*}
	if [[ $s == *.* ]]; then
		f=${s#*.}000000
		f=${f:0:6}
	fi
	_LAB_US=$((10#${i:-0} * 1000000 + 10#$f))
}

# _lab_nap S: sleep S seconds without starting a process: `read -t` on a
# pipe that nobody writes (this shell holds both ends, so it never sees
# end of file).  Polling loops nap here: a fork and exec ten times a
# second, `sleep 0.1` and two $(...) per turn, took 13 % of a bulk TCP
# transfer's throughput in the lab on a guest with two CPUs (iperf3,
# 14.3 against 16.5 Gbit/s, 3 runs each), and every wait in a benchmark
# or test perturbed what it waited for.
# (Without /dev/fd there is no such pipe: then /dev/null, whose end of
# file says so, and sleep after all.)
if [[ -z ${_LAB_NAP:-} ]] && ! { exec {_LAB_NAP}<> <(:); } 2>/dev/null; then
	exec {_LAB_NAP}</dev/null
fi
_lab_nap() {
	local rc=0
	[[ ! $1 =~ ^0*\.?0*$ ]] || return 0
	read -rt "$1" -u "$_LAB_NAP" _LAB_NAPPED || rc=$?
	((rc > 128)) || sleep "$1"
}

# lab_wait_until TIMEOUT_S CMD... - run CMD every 0.1 s until it succeeds
# (return 0) or TIMEOUT_S seconds have passed (return 1, saying on stderr
# what an eq/ge/le CMD saw last).  The loop itself starts no process.
lab_wait_until() {
	local deadline t=${1:-}
	_lab_to_us "$t" || return 2
	shift
	_lab_now
	deadline=$((_LAB_NOW + _LAB_US))
	_LAB_GOT=
	while :; do
		if "$@"; then
			return 0
		fi
		_lab_now
		if ((_LAB_NOW >= deadline)); then
			if [[ -n $_LAB_GOT ]]; then
				echo "not so after ${t}s: $_LAB_GOT" >&2
			fi
			return 1
		fi
		_lab_nap 0.1
	done
}

# True while PID exists and is not a zombie.
_lab_alive() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	[[ ${st:0:1} != Z ]]
}
_lab_dead() { ! _lab_alive "$1"; }

# _lab_stop PID GROUP(0|1) SIG TIMEOUT_S - signal a process (and its
# process group), give it TIMEOUT_S to exit, then SIGKILL. Returns the exit
# status when PID is our child and did not die of SIG itself, 0 when unknown,
# 137 when it had to be killed.
_lab_stop() {
	local - pid=$1 grp=$2 sig=$3 t=$4 rc=0 w=0
	set +e
	# The pid too: right after `setsid cmd &` the child may not have called
	# setsid() yet, and then there is no group to signal.
	local -a targets=("$pid")
	if [[ $grp == 1 ]]; then
		targets+=("-$pid")
	fi
	if _lab_alive "$pid"; then
		kill -s "$sig" -- "${targets[@]}" 2>/dev/null
		if ! lab_wait_until "$t" _lab_dead "$pid"; then
			_lab_err "pid $pid ignored SIG$sig for ${t}s; sending SIGKILL"
			kill -s KILL -- "${targets[@]}" 2>/dev/null
			lab_wait_until 2 _lab_dead "$pid" || _lab_err "pid $pid does not die"
			rc=137
		fi
	fi
	# Leftover members of the group, while the leader's pid is still ours.
	if [[ $grp == 1 ]]; then
		kill -s KILL -- "-$pid" 2>/dev/null || true
	fi
	if _lab_dead "$pid"; then
		wait "$pid" 2>/dev/null || w=$?
		if ((w == 128 + $(kill -l "$sig"))); then
			w=0
		fi
		if ((w != 127 && rc == 0)); then
			rc=$w
		fi
	fi
	return "$rc"
}

# ---------------------------------------------------------------------------
# Setup

# lab_init - start a lab run: suffix, $LAB_DIR, cleanup traps, cgroup2 root
# ($LAB_CGROOT), bpffs, $LAB_BUILD.
lab_init() {
	if [[ -n $LAB_SUFFIX ]]; then
		_lab_err "lab_init called twice"
		return 1
	fi
	if [[ $(id -u) != 0 ]]; then
		_lab_err "integration tests need root (namespaces, cgroups, BPF)"
		return 1
	fi
	local c
	for c in ip nsenter setsid ss sysctl; do
		if ! command -v "$c" >/dev/null; then
			_lab_err "'$c' not found; run scripts/install-deps.sh"
			return 1
		fi
	done

	LAB_SUFFIX=$(printf '%x%04x' "$$" "$RANDOM")
	LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mig-lab-$LAB_SUFFIX.XXXXXX") || return 1
	# The test's own stdout/stderr, for cleanup messages: a signal can land
	# while t_check has them redirected to a file.
	exec {_LAB_OUT}>&1 {_LAB_ERR}>&2
	trap '_lab_on_exit' EXIT
	trap '_lab_on_signal INT 130' INT
	trap '_lab_on_signal TERM 143' TERM
	trap '_lab_on_signal HUP 129' HUP

	LAB_CGROOT=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
	if [[ -z $LAB_CGROOT || ! -w $LAB_CGROOT/cgroup.procs ]]; then
		_lab_err "no writable cgroup2 mount in /proc/mounts (mount -t cgroup2 none /sys/fs/cgroup/unified)"
		return 1
	fi
	if ! awk -v d="$LAB_BPFFS" '$2 == d && $3 == "bpf" { f = 1 } END { exit !f }' /proc/mounts; then
		if ! { mkdir -p "$LAB_BPFFS" && mount -t bpf bpf "$LAB_BPFFS"; }; then
			_lab_err "cannot mount bpffs at $LAB_BPFFS"
			return 1
		fi
	fi
	LAB_BUILD=${LAB_BUILD:-$LAB_REPO/build}
	export LAB_SUFFIX LAB_DIR LAB_CGROOT LAB_BUILD
}

_lab_on_exit() {
	local rc=$?
	lab_cleanup 1>&"$_LAB_OUT" 2>&"$_LAB_ERR"
	exit "$rc"
}

_lab_on_signal() {
	trap - EXIT
	{
		_lab_err "caught SIG$1, cleaning up"
		lab_cleanup
	} 1>&"$_LAB_OUT" 2>&"$_LAB_ERR"
	exit "$2"
}

_lab_need_init() {
	if [[ -z $LAB_SUFFIX ]]; then
		_lab_err "call lab_init first"
		return 1
	fi
}

_lab_need_host() {
	if [[ -z ${1:-} || -z ${LAB_NS[$1]:-} ]]; then
		_lab_err "unknown host '${1:-}' (create it with lab_host)"
		return 1
	fi
}

# lab_host NAME [router] - a simulated host: netns mig-NAME-<suffix> with lo
# up, cgroup $LAB_CGROOT/mig-NAME-<suffix>, DAD and router solicitations off,
# rp_filter off; "router" also enables forwarding.
lab_host() {
	local name=${1:-} role=${2:-} ns cg
	_lab_need_init || return 1
	if [[ ! $name =~ ^[A-Za-z0-9_]+$ ]]; then
		_lab_err "bad host name '$name' (letters, digits, _)"
		return 1
	fi
	if [[ -n ${LAB_NS[$name]:-} ]]; then
		_lab_err "host '$name' exists already"
		return 1
	fi
	if [[ -n $role && $role != router ]]; then
		_lab_err "lab_host $name: unknown role '$role' (only 'router')"
		return 1
	fi
	ns=mig-$name-$LAB_SUFFIX
	cg=$LAB_CGROOT/mig-$name-$LAB_SUFFIX
	ip netns add "$ns" || {
		_lab_err "ip netns add $ns failed"
		return 1
	}
	LAB_NS[$name]=$ns
	_LAB_HOSTS+=("$name")
	mkdir "$cg" || {
		_lab_err "cannot create cgroup $cg"
		return 1
	}
	LAB_CG[$name]=$cg
	ip -n "$ns" link set lo up || return 1
	# "default" before any interface exists, so veths inherit it; no DAD so
	# v6 addresses work at once; no RS/RA noise in captures; no rp_filter so
	# asymmetric routes (a host on two nets) are not dropped.
	nsenter --net="/run/netns/$ns" -- sysctl -q -w \
		net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 \
		net.ipv6.conf.default.accept_ra=0 \
		net.ipv6.conf.all.router_solicitations=0 \
		net.ipv6.conf.default.router_solicitations=0 \
		net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 || {
		_lab_err "sysctls in $ns failed"
		return 1
	}
	if [[ $role == router ]]; then
		lab_router "$name" || return 1
	fi
}

# lab_router HOST - enable IPv4 and IPv6 forwarding in HOST.
lab_router() {
	_lab_need_host "${1:-}" || return 1
	nsenter --net="/run/netns/${LAB_NS[$1]}" -- sysctl -q -w \
		net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
}

# lab_ns HOST / lab_cgroup HOST / lab_pindir HOST - print the host's netns
# name, cgroup directory, agent pin directory.
lab_ns() { _lab_need_host "${1:-}" && echo "${LAB_NS[$1]}"; }
lab_cgroup() { _lab_need_host "${1:-}" && echo "${LAB_CG[$1]}"; }
lab_pindir() { _lab_need_host "${1:-}" && echo "$LAB_BPFFS/mig-$1-$LAB_SUFFIX"; }

_lab_link_up() {
	ip -n "$1" -o link show dev "$2" 2>/dev/null | grep -q 'LOWER_UP'
}

# lab_link A IFA B IFB [ip-link-set args] - veth pair IFA (in A) <-> IFB (in
# B), both up and with carrier; extra args (e.g. "mtu 1400") go to both ends.
lab_link() {
	local a=${1:-} ifa=${2:-} b=${3:-} ifb=${4:-}
	if (($# < 4)); then
		_lab_err "usage: lab_link HOST_A IF_A HOST_B IF_B [ip-link-set args]"
		return 1
	fi
	shift 4
	_lab_need_host "$a" || return 1
	_lab_need_host "$b" || return 1
	local i
	for i in "$ifa" "$ifb"; do
		if [[ ! $i =~ ^[A-Za-z0-9_.]{1,15}$ ]]; then
			_lab_err "bad interface name '$i' (1-15 of A-Z a-z 0-9 _ .)"
			return 1
		fi
	done
	ip -n "${LAB_NS[$a]}" link add "$ifa" type veth peer name "$ifb" netns "${LAB_NS[$b]}" || {
		_lab_err "cannot create veth $a:$ifa <-> $b:$ifb"
		return 1
	}
	ip -n "${LAB_NS[$a]}" link set "$ifa" up "$@" || return 1
	ip -n "${LAB_NS[$b]}" link set "$ifb" up "$@" || return 1
	# IPv6 addresses stay tentative until the link has carrier.
	if ! lab_wait_until 5 _lab_link_up "${LAB_NS[$a]}" "$ifa" ||
		! lab_wait_until 5 _lab_link_up "${LAB_NS[$b]}" "$ifb"; then
		_lab_err "veth $a:$ifa <-> $b:$ifb has no carrier after 5 s"
		return 1
	fi
}

# True for documentation ranges and loopback, the only addresses tests use.
_lab_doc_addr() {
	local a=${1%%/*}
	a=${a,,}
	case $a in
	192.0.2.* | 198.51.100.* | 203.0.113.* | 127.*) return 0 ;;
	2001:db8:* | 2001:0db8:* | ::1) return 0 ;;
	esac
	return 1
}

# lab_addr HOST IF ADDR/PREFIX [ip-addr args] - add a v4 or v6 address (v6
# with nodad). Only documentation ranges and loopback are accepted.
lab_addr() {
	local h=${1:-} dev=${2:-} addr=${3:-}
	if (($# < 3)); then
		_lab_err "usage: lab_addr HOST IF ADDR/PREFIX [ip-addr args]"
		return 1
	fi
	shift 3
	_lab_need_host "$h" || return 1
	if ! _lab_doc_addr "$addr"; then
		_lab_err "refusing address '$addr': tests use only 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32 or loopback"
		return 1
	fi
	if [[ $addr == *:* ]]; then
		ip -n "${LAB_NS[$h]}" -6 addr add "$addr" dev "$dev" nodad "$@"
	else
		ip -n "${LAB_NS[$h]}" -4 addr add "$addr" dev "$dev" "$@"
	fi
}

# lab_addr_del HOST IF ADDR/PREFIX - remove an address.
lab_addr_del() {
	_lab_need_host "${1:-}" || return 1
	ip -n "${LAB_NS[$1]}" addr del "${3:-}" dev "${2:-}"
}

# lab_route HOST [-4|-6] ARGS... - `ip route ARGS` in HOST,
# e.g. lab_route mobile add default via 192.0.2.254
lab_route() {
	local h=${1:-} famopt=()
	_lab_need_host "$h" || return 1
	shift
	if [[ ${1:-} == -4 || ${1:-} == -6 ]]; then
		famopt=("$1")
		shift
	fi
	ip -n "${LAB_NS[$h]}" "${famopt[@]}" route "$@"
}

# ---------------------------------------------------------------------------
# Processes

# lab_nsexec HOST CMD... - run CMD in HOST's netns only (not its cgroup):
# for ip, ss, nft, sysctl and other tools whose sockets do not matter.
lab_nsexec() {
	_lab_need_host "${1:-}" || return 1
	local ns=${LAB_NS[$1]}
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# The wrapper that joins the cgroup and then becomes CMD (same pid).
# shellcheck disable=SC2016 # expanded by that sh
_LAB_JOIN='cg=$1; shift; echo $$ >"$cg/cgroup.procs" || { echo "lab: cannot join cgroup $cg" >&2; exit 125; }; exec "$@"'

# lab_exec HOST CMD... - run CMD (a program, not a shell function) in HOST's
# netns and cgroup, so the host's sock_ops program sees its sockets.
lab_exec() {
	_lab_need_host "${1:-}" || return 1
	local ns=${LAB_NS[$1]} cg=${LAB_CG[$1]}
	shift
	nsenter --net="/run/netns/$ns" -- sh -c "$_LAB_JOIN" sh "$cg" "$@"
}

# lab_bg HOST NAME CMD... - like lab_exec, in the background in its own
# process group; output in $LAB_DIR/NAME.log; killed by lab_cleanup.
# Returns once the process sits in the host's cgroup (or has exited).
lab_bg() {
	local h=${1:-} name=${2:-}
	if (($# < 3)); then
		_lab_err "usage: lab_bg HOST NAME CMD..."
		return 1
	fi
	shift 2
	_lab_need_host "$h" || return 1
	if [[ ! $name =~ ^[A-Za-z0-9_.-]+$ ]]; then
		_lab_err "bad process name '$name'"
		return 1
	fi
	if [[ -n ${LAB_BG_PID[$name]:-} ]] && _lab_alive "${LAB_BG_PID[$name]}"; then
		_lab_err "background process '$name' is still running"
		return 1
	fi
	setsid nsenter --net="/run/netns/${LAB_NS[$h]}" -- \
		sh -c "$_LAB_JOIN" sh "${LAB_CG[$h]}" "$@" \
		</dev/null >"$LAB_DIR/$name.log" 2>&1 {_LAB_OUT}>&- {_LAB_ERR}>&- {_LAB_NAP}>&- &
	LAB_BG_PID[$name]=$!
	if ! lab_wait_until 5 _lab_joined "$!" "${LAB_CG[$h]}"; then
		_lab_err "'$name' did not join cgroup ${LAB_CG[$h]} within 5 s"
		return 1
	fi
}

_lab_joined() {
	grep -qx "$1" "$2/cgroup.procs" 2>/dev/null || _lab_dead "$1"
}

# lab_bg_pid NAME - print the pid of background process NAME.
lab_bg_pid() {
	if [[ -z ${LAB_BG_PID[${1:-}]:-} ]]; then
		_lab_err "no background process '${1:-}'"
		return 1
	fi
	echo "${LAB_BG_PID[$1]}"
}

# lab_log NAME - print the path of NAME's log ($LAB_DIR/NAME.log).
lab_log() { echo "$LAB_DIR/${1:-}.log"; }

# lab_bg_wait NAME [TIMEOUT_S=10] - wait for background process NAME to exit;
# returns its exit status, or 124 (and leaves it running) on timeout.
lab_bg_wait() {
	local name=${1:-} t=${2:-10} pid
	pid=$(lab_bg_pid "$name") || return 1
	if ! lab_wait_until "$t" _lab_dead "$pid"; then
		_lab_err "'$name' still running after ${t}s; log tail:"
		tail -n 5 "$LAB_DIR/$name.log" >&2 2>/dev/null
		return 124
	fi
	unset "LAB_BG_PID[$name]"
	local rc=0
	wait "$pid" 2>/dev/null || rc=$?
	if ((rc == 127)); then
		rc=0 # not our child (a subshell started it): status unknown
	fi
	return "$rc"
}

# lab_bg_stop NAME [SIG=TERM] - stop background process NAME (its whole
# process group); returns its exit status when known.
lab_bg_stop() {
	local name=${1:-} pid rc=0
	pid=$(lab_bg_pid "$name") || return 1
	_lab_stop "$pid" 1 "${2:-TERM}" 3 || rc=$?
	unset "LAB_BG_PID[$name]"
	return "$rc"
}

_lab_listening() {
	[[ -n $(nsenter --net="/run/netns/$1" -- ss -Hltn "sport = :$2" 2>/dev/null) ]]
}

# lab_wait_listen HOST PORT [TIMEOUT_S=5] - wait for a TCP listener on PORT.
lab_wait_listen() {
	_lab_need_host "${1:-}" || return 1
	if ! lab_wait_until "${3:-5}" _lab_listening "${LAB_NS[$1]}" "${2:-}"; then
		_lab_err "nothing listens on TCP port ${2:-} in host $1 after ${3:-5}s"
		return 1
	fi
}

# lab_defer CMD... - run CMD during lab_cleanup, before anything is torn
# down (last registered runs first).
lab_defer() {
	_LAB_DEFER+=("$(printf '%q ' "$@")")
}

# ---------------------------------------------------------------------------
# Agents

_lab_agent_up() {
	[[ -s $1 ]] || _lab_dead "$2"
}

# lab_agent_start HOST [agent args...] - start migrate-agent for HOST (in its
# netns, not in its cgroup), wait until it has written its pidfile (= fully
# attached). On failure prints the log tail and returns 1.
lab_agent_start() {
	local h=${1:-} agent pin pidf log t=${LAB_AGENT_TIMEOUT:-60} pid
	_lab_need_host "$h" || return 1
	shift
	agent=$LAB_BUILD/migrate-agent
	if [[ ! -x $agent ]]; then
		_lab_err "no agent binary at $agent (run make, or set LAB_BUILD)"
		return 1
	fi
	if [[ -n ${LAB_AGENT_PID[$h]:-} ]] && _lab_alive "${LAB_AGENT_PID[$h]}"; then
		_lab_err "the agent of host '$h' is running already"
		return 1
	fi
	pin=$(lab_pindir "$h")
	pidf=$LAB_DIR/agent-$h.pid
	log=$LAB_DIR/agent-$h.log
	rm -f "$pidf"
	LAB_PIN[$h]=$pin
	printf '== lab: %s: migrate-agent %s\n' "$(date +%T.%N)" "$*" >>"$log"
	setsid nsenter --net="/run/netns/${LAB_NS[$h]}" -- "${LAB_AGENT_WRAP[@]}" "$agent" \
		--pin-dir "$pin" --cgroup "${LAB_CG[$h]}" --pidfile "$pidf" "$@" \
		</dev/null >>"$log" 2>&1 {_LAB_OUT}>&- {_LAB_ERR}>&- {_LAB_NAP}>&- &
	pid=$!
	LAB_AGENT_PID[$h]=$pid
	if lab_wait_until "$t" _lab_agent_up "$pidf" "$pid" && _lab_alive "$pid"; then
		return 0
	fi
	if _lab_dead "$pid"; then
		local st=0
		wait "$pid" 2>/dev/null || st=$?
		_lab_err "agent of host '$h' exited (status $st) before it was ready; log tail:"
		unset "LAB_AGENT_PID[$h]"
	else
		_lab_err "agent of host '$h' wrote no pidfile within ${t}s; log tail:"
	fi
	tail -n 30 "$log" | sed 's/^/  | /' >&2
	lab_agent_stop "$h" >/dev/null 2>&1 || true
	return 1
}

# lab_agent_kill HOST [SIG=TERM] - stop the agent process only; its pins and
# links stay, so a following lab_agent_start tests a restart.
lab_agent_kill() {
	local h=${1:-} pid rc=0
	_lab_need_host "$h" || return 1
	pid=${LAB_AGENT_PID[$h]:-}
	if [[ -z $pid ]]; then
		_lab_err "host '$h' has no agent running"
		return 1
	fi
	_lab_stop "$pid" 1 "${2:-TERM}" 5 || rc=$?
	unset "LAB_AGENT_PID[$h]"
	return "$rc"
}

# lab_agent_stop HOST - SIGTERM the agent and wait, then
# `migrate-agent --detach` (removes pins and links), then remove the pin dir.
# Returns non-zero if the agent did not exit 0 or the detach failed.
lab_agent_stop() {
	local h=${1:-} pin rc=0 agent=$LAB_BUILD/migrate-agent
	local -a in_ns=()
	_lab_need_host "$h" || return 1
	if [[ -n ${LAB_AGENT_PID[$h]:-} ]]; then
		lab_agent_kill "$h" TERM || rc=$?
	fi
	pin=$(lab_pindir "$h")
	if [[ -e $pin ]]; then
		if [[ -e /run/netns/${LAB_NS[$h]} ]]; then
			in_ns=(nsenter --net="/run/netns/${LAB_NS[$h]}" --)
		fi
		if [[ -x $agent ]]; then
			"${in_ns[@]}" "$agent" --detach --pin-dir "$pin" >>"$LAB_DIR/agent-$h.log" 2>&1 ||
				rc=$?
		fi
		rm -rf "$pin"
	fi
	unset "LAB_PIN[$h]"
	return "$rc"
}

# lab_ctl HOST ARGS... - migratectl --pin-dir <HOST's pin dir> ARGS... (run in
# the host's netns).
lab_ctl() {
	local h=${1:-} pin
	_lab_need_host "$h" || return 1
	shift
	pin=$(lab_pindir "$h")
	nsenter --net="/run/netns/${LAB_NS[$h]}" -- "$LAB_BUILD/migratectl" --pin-dir "$pin" "$@"
}

# ---------------------------------------------------------------------------
# Captures

_lab_cap_ready() {
	grep -q 'listening on' "$1" 2>/dev/null || _lab_dead "$2"
}

# lab_capture_start HOST IF NAME [filter...] - tcpdump on IF into
# $LAB_DIR/NAME.pcap; returns once tcpdump is really capturing.
lab_capture_start() {
	local h=${1:-} dev=${2:-} name=${3:-} log pid
	if (($# < 3)); then
		_lab_err "usage: lab_capture_start HOST IF NAME [filter...]"
		return 1
	fi
	shift 3
	_lab_need_host "$h" || return 1
	if [[ -n ${LAB_CAP_PID[$name]:-} ]]; then
		_lab_err "capture '$name' is running already"
		return 1
	fi
	log=$LAB_DIR/$name.tcpdump.log
	# -Z root: Debian's tcpdump would drop to user tcpdump before opening
	# the file in the root-only $LAB_DIR.
	setsid nsenter --net="/run/netns/${LAB_NS[$h]}" -- \
		tcpdump -Z root -U --immediate-mode -nn -i "$dev" -w "$LAB_DIR/$name.pcap" "$@" \
		</dev/null >"$log" 2>&1 {_LAB_OUT}>&- {_LAB_ERR}>&- {_LAB_NAP}>&- &
	pid=$!
	LAB_CAP_PID[$name]=$pid
	if lab_wait_until 5 _lab_cap_ready "$log" "$pid" && _lab_alive "$pid"; then
		return 0
	fi
	_lab_err "capture '$name' on $h:$dev did not start:"
	sed 's/^/  | /' "$log" >&2
	lab_capture_stop "$name" >/dev/null 2>&1
	return 1
}

# lab_capture_stop NAME - stop the capture cleanly (SIGINT) so the file is
# complete.
lab_capture_stop() {
	local name=${1:-} pid
	pid=${LAB_CAP_PID[$name]:-}
	if [[ -z $pid ]]; then
		_lab_err "no capture '$name' running"
		return 1
	fi
	_lab_stop "$pid" 0 INT 5 >/dev/null
	unset "LAB_CAP_PID[$name]"
	return 0
}

# lab_capture_read NAME [tcpdump options] [filter...] - print the packets of
# a stopped capture, one line each (e.g. lab_capture_read c1 'tcp port 80').
lab_capture_read() {
	local name=${1:-}
	shift
	tcpdump -nn -r "$LAB_DIR/$name.pcap" "$@" 2>/dev/null
}

# lab_capture_count NAME [filter...] - print how many packets match.
lab_capture_count() {
	local n
	n=$(lab_capture_read "$@") || return 1
	if [[ -z $n ]]; then
		echo 0
	else
		wc -l <<<"$n"
	fi
}

# ---------------------------------------------------------------------------
# Cleanup

# Kill everything still inside a cgroup subtree and remove it.
_lab_rm_cgroup() {
	local - cg=$1 d pid
	set +e
	[[ -d $cg ]] || return 0
	if [[ -e $cg/cgroup.kill ]]; then
		echo 1 >"$cg/cgroup.kill" 2>/dev/null || true
	fi
	if ! lab_wait_until 3 _lab_cg_empty "$cg"; then
		# A kernel without cgroup.kill, or an unkillable task: move what
		# is left to the root so that the directory can go.
		while read -r d; do
			while read -r pid; do
				echo "$pid" >"$LAB_CGROOT/cgroup.procs" 2>/dev/null || true
			done <"$d/cgroup.procs"
		done < <(find "$cg" -depth -type d 2>/dev/null)
	fi
	while read -r d; do
		lab_wait_until 3 rmdir "$d" 2>/dev/null ||
			_lab_err "cannot remove cgroup $d"
	done < <(find "$cg" -depth -type d 2>/dev/null)
}

# "populated" covers the whole subtree (cgroupfs files have size 0, so no -s).
_lab_cg_empty() {
	grep -qx 'populated 0' "$1/cgroup.events" 2>/dev/null
}

# Kill every process still inside a netns (started with lab_nsexec, say).
_lab_kill_netns_pids() {
	local ns=$1 pids=() p
	[[ -e /run/netns/$ns ]] || return 0
	mapfile -t pids < <(ip netns pids "$ns" 2>/dev/null)
	for p in "${pids[@]}"; do
		if [[ $p != "$$" && $p != "$BASHPID" ]]; then
			_lab_stop "$p" 0 TERM 2 >/dev/null 2>&1 || true
		fi
	done
}

# lab_cleanup - undo everything this run created; safe to call again and
# after a partial setup.
lab_cleanup() {
	if [[ $_LAB_IN_CLEANUP == 1 || -z $LAB_SUFFIX ]]; then
		return 0
	fi
	_LAB_IN_CLEANUP=1
	trap '' INT TERM HUP
	local - i n h pin ns cg
	set +e

	for ((i = ${#_LAB_DEFER[@]} - 1; i >= 0; i--)); do
		eval "${_LAB_DEFER[i]}" || _lab_err "deferred '${_LAB_DEFER[i]}' failed"
	done
	_LAB_DEFER=()

	for n in "${!LAB_CAP_PID[@]}"; do
		lab_capture_stop "$n" 2>/dev/null || true
	done
	for n in "${!LAB_BG_PID[@]}"; do
		_lab_stop "${LAB_BG_PID[$n]}" 1 TERM 3 || true
		unset "LAB_BG_PID[$n]"
	done
	for h in "${_LAB_HOSTS[@]}"; do
		if [[ -n ${LAB_AGENT_PID[$h]:-} || -n ${LAB_PIN[$h]:-} || -e $(lab_pindir "$h") ]]; then
			lab_agent_stop "$h" >/dev/null || true
		fi
	done
	# Pin dirs of hosts this shell never recorded (a subshell made them).
	for pin in "$LAB_BPFFS"/mig-*-"$LAB_SUFFIX"; do
		[[ -e $pin ]] || continue
		if [[ -x $LAB_BUILD/migrate-agent ]]; then
			"$LAB_BUILD/migrate-agent" --detach --pin-dir "$pin" >/dev/null 2>&1 || true
		fi
		rm -rf "$pin" || _lab_err "cannot remove pin dir $pin"
	done

	for cg in "${LAB_CG[@]}" "$LAB_CGROOT"/mig-*-"$LAB_SUFFIX"; do
		if [[ -d $cg ]]; then
			_lab_rm_cgroup "$cg"
		fi
	done
	for ns in "${LAB_NS[@]}" /run/netns/mig-*-"$LAB_SUFFIX"; do
		ns=${ns##*/}
		[[ -e /run/netns/$ns ]] || continue
		_lab_kill_netns_pids "$ns"
		ip netns del "$ns" 2>/dev/null || _lab_err "cannot delete netns $ns"
	done
	LAB_NS=()
	LAB_CG=()
	LAB_PIN=()
	LAB_AGENT_PID=()
	_LAB_HOSTS=()

	if [[ -n $LAB_DIR && -d $LAB_DIR ]]; then
		if [[ ${LAB_KEEP:-0} == 1 ]]; then
			if [[ ! -e $LAB_DIR/.kept ]]; then
				: >"$LAB_DIR/.kept"
				_lab_err "kept logs and captures in $LAB_DIR"
			fi
		else
			rm -rf "$LAB_DIR"
		fi
	fi
	_LAB_IN_CLEANUP=0
	trap '_lab_on_signal INT 130' INT
	trap '_lab_on_signal TERM 143' TERM
	trap '_lab_on_signal HUP 129' HUP
	return 0
}

# ---------------------------------------------------------------------------
# Values for checks: each prints or tests one value and is re-evaluated on
# every poll when given to lab_wait_until (e.g. lab_wait_until 3 eq 1 nflows a).

# eq WANT CMD... / ge MIN CMD... / le MAX CMD...: CMD's output compared
# (what it was is kept in _LAB_GOT, which lab_wait_until reports)
eq() { local want=$1 got; shift; got=$("$@"); _LAB_GOT="got '$got', want '$want'"; [ "$got" = "$want" ]; }
ge() { local min=$1 got; shift; got=$("$@"); _LAB_GOT="got '$got', want >= $min"; [ -n "$got" ] && [ "$got" -ge "$min" ]; }
le() { local max=$1 got; shift; got=$("$@"); _LAB_GOT="got '$got', want <= $max"; [ -n "$got" ] && [ "$got" -le "$max" ]; }
# fsize FILE: its size in bytes, 0 if it does not exist
fsize() { local s; s=$(command stat -c %s "$1" 2>/dev/null) || s=0; echo "$s"; }
# counter HOST NAME: one counter of HOST's agent
counter() { lab_ctl "$1" show stats "$2"; }
# tcpinfo HOST PORT: the `ss -ti` line of HOST's established connection with
# PORT at either end, on one line (the first such connection)
tcpinfo() {
	lab_nsexec "$1" ss -Htin state established "( sport = :$2 or dport = :$2 )" |
		tr -s ' \t\n' ' '
}
# tcp_idle HOST PORT: that connection has everything it sent acknowledged
# and nothing waiting to be sent
tcp_idle() {
	local l
	l=$(tcpinfo "$1" "$2")
	[ -n "$l" ] && [[ $l != *unacked:* && $l != *notsent:* ]]
}
# tcpfield HOST PORT FIELD: FIELD's number in that line (rtt: the first of
# rtt:A/B; nothing if absent), e.g. tcpfield server 6100 cwnd
tcpfield() { tcpinfo "$1" "$2" | grep -Eo "(^| )$3:[0-9.]+" | head -n 1 | cut -d: -f2; }
# mib HOST NAME: the kernel's counter NAME in HOST's namespace (nstat's
# names: TcpExtTCPTimeouts, IcmpOutParmProbs...)
mib() { lab_nsexec "$1" nstat -asz "$2" | awk -v k="$2" '$1 == k { print $2 }'; }
# lab_payload MB: $LAB_DIR/big, MB MiB of random bytes; sets want_sum
lab_payload() {
	head -c "${1}M" /dev/urandom >"$LAB_DIR/big"
	want_sum=$(sha256sum <"$LAB_DIR/big" | cut -d' ' -f1)
}
# lab_held_sender NAME: a shell command (for socat's SYSTEM:) that sends
# $LAB_DIR/big, then holds its connection open until lab_release NAME, so
# that checks made after the transfer still see the flow up however slow
# the machine is.  Run that socat with -t 60: when the command exits while
# the TCP side is stalled, socat's default 0.5 s close timeout drops what
# its socketpair still holds and closes cleanly (a short transfer that is
# the harness's: 60 to 110 KB lost in 2 of 3 tries on loopback with a
# reader pausing 3 s; none with -t 30)
lab_held_sender() { echo "cat $LAB_DIR/big; while [ ! -e $LAB_DIR/release-$1 ]; do sleep 0.1; done"; }
lab_release() { : >"$LAB_DIR/release-$1"; }
# got_sum NAME: the sha256 of $LAB_DIR/NAME; when it is not $want_sum, says
# on stderr how the file differs from $LAB_DIR/big (a short file or other
# bytes, and where)
got_sum() {
	local s
	s=$(sha256sum <"$LAB_DIR/$1" | cut -d' ' -f1)
	if [[ -n ${want_sum:-} && $s != "$want_sum" && -e $LAB_DIR/big ]]; then
		echo "$1: $(fsize "$LAB_DIR/$1") bytes, $(fsize "$LAB_DIR/big") sent;" \
			"$(cmp "$LAB_DIR/big" "$LAB_DIR/$1" 2>&1 | head -n 1)" >&2
	fi
	echo "$s"
}
# stats_snap HOST FILE / cdelta HOST FILE NAME[+NAME...]: counters now minus
# a snapshot (names joined by + are summed)
stats_snap() { lab_ctl "$1" -j show stats >"$2"; }
cdelta() {
	lab_ctl "$1" -j show stats | python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["stats"]
b = json.load(sys.stdin)["stats"]
print(sum(b[n] - a[n] for n in sys.argv[2].split("+")))' "$2" "$3"
}
# flow_field HOST FIELD: a field of the host's only keyed flow (-j show);
# with FLOW_PORT set, of its only flow with that local or remote port (a
# test's earlier connection may still be closing)
flow_field() {
	lab_ctl "$1" -j show | python3 -c '
import json, sys
f = json.load(sys.stdin)["flows"]
if sys.argv[2]:
    p = int(sys.argv[2])
    f = [x for x in f if p in (x["local"]["port"], x["remote"]["port"])]
if len(f) != 1:
    print("(%d flows)" % len(f))
    sys.exit(1)
v = f[0]
for k in sys.argv[1].split("."):
    v = v[k]
print(v)' "$2" "${FLOW_PORT:-}"
}
# maps_dump HOST MAP...: HOST's pinned maps as sorted JSON lines, each map
# after a "== MAP" line (for before/after comparisons)
maps_dump() {
	local h=$1 m
	shift
	for m in "$@"; do
		echo "== $m"
		bpftool -j map dump pinned "$(lab_pindir "$h")/$m" | python3 -c '
import json, sys
for e in sorted(json.load(sys.stdin), key=lambda e: e["key"]):
    print(json.dumps(e, sort_keys=True))'
	done
}
# xlate_settled HOST: no translation of HOST is still in its stale-echo
# phase after a commit (struct mig_in: ts, byte 42, is 0): a snapshot taken
# now sees what only the first segments after a commit change
xlate_settled() {
	bpftool -j map dump pinned "$(lab_pindir "$1")/mig_ingress" | python3 -c '
import json, sys
sys.exit(0 if all(int(e["value"][42], 16) == 0 for e in json.load(sys.stdin)) else 1)'
}
# xf_ok HOST: HOST's translation filter (mig_xf) counts, slot by slot,
# the entries of mig_ingress and mig_egress (mig_xf_slot in mig_abi.h);
# a bias common to every slot (an upgrade from a build without it) is
# allowed.  Says the first slot that differs.
xf_ok() {
	local d
	d=$(lab_pindir "$1")
	python3 - "$d" <<'PYEOF'
import json, struct, subprocess, sys
d = sys.argv[1]
def dump(m):
    return json.loads(subprocess.check_output(["bpftool", "-j", "map", "dump", "pinned", d + "/" + m]))
def raw(hexes):
    return bytes(int(x, 16) for x in hexes)
SLOTS, BIAS = 1 << 14, 1 << 40
want = [0] * SLOTS
for m in ("mig_ingress", "mig_egress"):
    for e in dump(m):
        k = raw(e["key"])
        w = struct.unpack_from("<8I", k)
        lport, rport = struct.unpack_from("<HH", k, 32)
        x = 0
        for v in w:
            x ^= v
        x ^= lport | rport << 16
        x ^= k[36]
        want[((x * 0x9E3779B1) & 0xffffffff) >> (32 - 14)] += 1
have = [0] * SLOTS
for e in dump("mig_xf"):
    i = struct.unpack("<I", raw(e["key"]))[0]
    if i < SLOTS:
        have[i] = struct.unpack("<Q", raw(e["value"]))[0]
bias = BIAS if have[0] >= BIAS else 0
for i in range(SLOTS):
    if have[i] != want[i] + bias:
        print("mig_xf slot %d counts %d, the maps hold %d there (bias %d)" % (i, have[i], want[i], bias), file=sys.stderr)
        sys.exit(1)
PYEOF
}
# nflows HOST: keyed flows HOST's agent lists
nflows() { lab_ctl "$1" -j show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["flows"]))'; }
# map_count HOST MAP: entries of one of HOST's pinned maps
map_count() { bpftool -j map dump pinned "$(lab_pindir "$1")/$2" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# ---------------------------------------------------------------------------
# Assertions
#
# A case is t_begin NAME followed by t_check lines (each prints ok/FAIL) and
# optionally t_pass or t_fail MSG (which close it); a case passes when none of
# its checks failed. A t_check outside a case is a case of its own.
# t_summary closes the last case and prints "N passed, N failed".

# t_begin NAME - start a case (closing the previous one).
t_begin() {
	_t_close
	_T_CASE=${1:-unnamed}
	_T_OPEN=1
	_T_BAD=0
	printf -- '-- %s\n' "$_T_CASE"
}

_t_close() {
	if [[ $_T_OPEN != 1 ]]; then
		return 0
	fi
	_T_OPEN=0
	if [[ $_T_BAD == 1 ]]; then
		_T_FAIL=$((_T_FAIL + 1))
		printf 'FAIL %s\n' "$_T_CASE"
		_t_logs
	else
		_T_PASS=$((_T_PASS + 1))
		printf 'ok   %s\n' "$_T_CASE"
	fi
}

# Tails of the agent logs, then of the other logs, to see why a case failed.
_t_logs() {
	local - f
	set +e
	[[ -n $LAB_DIR && -d $LAB_DIR ]] || return 0
	_t_stats
	for f in "$LAB_DIR"/agent-*.log; do
		_t_tail "$f" 30
	done
	for f in "$LAB_DIR"/*.log; do
		case ${f##*/} in
		agent-*.log | *.tcpdump.log) ;;
		*) _t_tail "$f" 10 ;;
		esac
	done
	if [[ $_T_HINTED == 0 && ${LAB_KEEP:-0} != 1 ]]; then
		_T_HINTED=1
		printf '   (rerun with LAB_KEEP=1 to keep logs and captures)\n'
	fi
}

# The non-zero counters of every host with pinned maps, a line each (first:
# a log that is cut short keeps them).
_t_stats() {
	local h line
	for h in "${!LAB_NS[@]}"; do
		[[ -e $(lab_pindir "$h")/mig_stats ]] || continue
		line=$(timeout 5 nsenter --net="/run/netns/${LAB_NS[$h]}" -- \
			"$LAB_BUILD/migratectl" --pin-dir "$(lab_pindir "$h")" -j show stats 2>/dev/null |
			python3 -c '
import json, sys
s = json.load(sys.stdin)["stats"]
print(" ".join("%s=%s" % (k, v) for k, v in s.items() if v))' 2>/dev/null) || continue
		printf '   stats of %s: %s\n' "$h" "$line"
	done
}

_t_tail() {
	[[ -s $1 ]] || return 0
	printf '   %s (last %d lines):\n' "${1##*/}" "$2"
	tail -n "$2" "$1" | sed 's/^/   | /'
}

# t_pass - close the current case (passed unless a check in it failed).
t_pass() {
	if [[ $_T_OPEN != 1 ]]; then
		t_begin "${1:-unnamed}"
	fi
	_t_close
}

# t_fail MSG - fail and close the current case, with MSG as the reason.
t_fail() {
	local msg=${1:-failed}
	if [[ $_T_OPEN != 1 ]]; then
		t_begin "$msg"
	fi
	printf '   FAIL %s\n' "$msg"
	_T_BAD=1
	_t_close
}

# t_check DESC CMD... - run CMD (program or function), record ok/FAIL with its
# output tail on failure. Always returns 0; CMD's status is in $T_RC.
t_check() {
	local desc=${1:-} implicit=0 out
	shift
	if [[ $_T_OPEN != 1 ]]; then
		_T_CASE=$desc _T_OPEN=1 _T_BAD=0 implicit=1
	fi
	if [[ -n $LAB_DIR && -d $LAB_DIR ]]; then
		out=$(mktemp "$LAB_DIR/check.XXXXXX")
	else
		out=$(mktemp "${TMPDIR:-/tmp}/mig-check.XXXXXX")
	fi
	if "$@" >"$out" 2>&1; then
		T_RC=0
	else
		T_RC=$?
	fi
	if ((T_RC == 0)); then
		if ((!implicit)); then
			printf '   ok   %s\n' "$desc"
		fi
		if [[ ${LAB_VERBOSE:-0} == 1 ]]; then
			sed 's/^/      | /' "$out"
		fi
	else
		_T_BAD=1
		printf '   FAIL %s\n      exit %d: %s\n' "$desc" "$T_RC" "$*"
		tail -n 20 "$out" | sed 's/^/      | /'
	fi
	rm -f "$out"
	if ((implicit)); then
		_t_close
	fi
	return 0
}

# t_check_not DESC CMD... - like t_check, but CMD must fail.
t_check_not() {
	local desc=${1:-}
	shift
	t_check "$desc" _t_not "$@"
}
_t_not() { ! "$@"; }

# t_summary - close the last case, print "N passed, N failed"; non-zero if
# anything failed. Make it the test's last command.
t_summary() {
	_t_close
	printf '%d passed, %d failed\n' "$_T_PASS" "$_T_FAIL"
	[[ $_T_FAIL == 0 ]]
}
