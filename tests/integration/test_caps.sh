#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_caps.sh - the agent works with only the capabilities the systemd
# unit (packaging/systemd/migrate-agent.service.in) leaves it: CAP_BPF,
# CAP_NET_ADMIN, CAP_NET_RAW, CAP_PERFMON, as a root process whose bounding
# set holds nothing else (what CapabilityBoundingSet= does), set with
# setpriv(1).  It loads, pins, attaches to the cgroup and the interfaces,
# reloads onto a new interface, and a live transfer migrates.  Then each of
# the four is shown to be needed: without CAP_BPF, CAP_NET_ADMIN or
# CAP_PERFMON nothing loads; without CAP_NET_RAW the Migrate SYN cannot be
# sent and the move never commits.  The first part runs in a private mount
# namespace where every mount is read-only but /sys/fs/bpf and the pid
# file's directory, as the unit's ProtectSystem=strict leaves it (systemd
# itself cannot run units here: it is not PID 1).
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 x-x a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 - - b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#                                                t0 203.0.113.254/25  2001:db8:6::fe     eth1 203.0.113.129/25 2001:db8:6::1/64
#   spare (agent that must not start; no links)
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-64}
RATE=${MIG_TEST_RATE:-16m}

CAPS=(bpf net_admin net_raw perfmon)
# only CAPS... : setpriv arguments that leave exactly those
only() {
	local b=-all c
	for c in "$@"; do b+=",+$c"; done
	LAB_AGENT_WRAP=(setpriv --bounding-set="$b" --inh-caps=-all --)
}
# What the unit's ProtectSystem=strict, ReadWritePaths=/sys/fs/bpf,
# ProtectControlGroups=yes and RuntimeDirectory= leave, in a private mount
# namespace: every mount read-only, then /sys/fs/bpf and $LAB_DIR (the pid
# file: the runtime directory's stand-in) writable again.
# shellcheck disable=SC2016 # expanded by that sh
_STRICT='for m in $(awk "{ print \$2 }" /proc/self/mounts | sort -u); do
	mount -o remount,bind,ro "$m" 2>/dev/null
done
mount -o remount,bind,rw /sys/fs/bpf && mount -o remount,bind,rw "$LAB_DIR" || exit 125
exec "$@"'
strict() {
	LAB_AGENT_WRAP=(unshare --mount --propagation private -- sh -c
		"mount --bind \"\$LAB_DIR\" \"\$LAB_DIR\" && $_STRICT" sh "${LAB_AGENT_WRAP[@]}")
}
# rw_root HOST: the agent's view of / is read-only
ro_root() { grep -q ' / [a-z0-9]* ro[ ,]' "/proc/${LAB_AGENT_PID[$1]}/mounts"; }
ro_cgroup() { awk -v c="$LAB_CGROOT" '$2 == c { print $4 }' "/proc/${LAB_AGENT_PID[$1]}/mounts" | grep -q '^ro'; }
# without CAP: the set minus CAP
without() {
	local c keep=()
	for c in "${CAPS[@]}"; do [ "$c" = "$1" ] || keep+=("$c"); done
	only "${keep[@]}"
}
# caps_of HOST: the agent's effective capabilities, by name
caps_of() {
	local eff
	eff=$(awk '/^CapEff:/ { print $2 }' "/proc/${LAB_AGENT_PID[$1]}/status")
	capsh --decode="$eff" | sed 's/.*=//'
}

lab_init
topo_build
lab_host spare
topo_at mobile a
topo_at server s
lab_payload "$SIZE_MB"
want=$(sha256sum <"$LAB_DIR/big" | cut -d' ' -f1)
CONF=$LAB_DIR/mobile.conf
echo "interface = eth0" >"$CONF"

t_begin "with CAP_BPF, CAP_NET_ADMIN, CAP_NET_RAW and CAP_PERFMON only, every mount read-only but the BPF filesystem"
only "${CAPS[@]}"
strict
t_check "the mobile's agent starts (loads, pins, attaches)" lab_agent_start mobile --config "$CONF"
t_check "the server's agent starts" lab_agent_start server
t_check "the mobile's agent holds exactly those" \
	eq cap_net_admin,cap_net_raw,cap_perfmon,cap_bpf caps_of mobile
t_check "and the server's" eq cap_net_admin,cap_net_raw,cap_perfmon,cap_bpf caps_of server
t_check "the agent sees / read-only" ro_root mobile
t_check "and the cgroup mount" ro_cgroup mobile
t_check "the sock_ops link is pinned" test -e "$(lab_pindir mobile)/link_sockops"
lab_bg server srv socat -u "OPEN:$LAB_DIR/big" TCP4-LISTEN:7000,reuseaddr
lab_wait_listen server 7000
lab_bg mobile cli sh -c "socat -u TCP4:203.0.113.1:7000 STDOUT | pv -qL $RATE > $LAB_DIR/a.got"
t_check "a connection is keyed" lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 ge $((4 << 20)) fsize "$LAB_DIR/a.got"
printf 'interface = eth0\ninterface = eth1\n' >"$CONF"
kill -HUP "${LAB_AGENT_PID[mobile]}"
t_check "a reload attaches to eth1" lab_wait_until 30 eval \
	'lab_nsexec mobile tc filter show dev eth1 ingress | grep -q mig_in_tc'
topo_leave mobile a
topo_at mobile b
t_check "the transfer migrates" lab_wait_until 10 eq 1 flow_field mobile migrations
t_check "and completes byte-exact" eval \
	"lab_bg_wait cli 60 && [ \"\$(got_sum a.got)\" = \"$want\" ]"
lab_bg_stop srv >/dev/null 2>&1 || true
t_check "the agent stops cleanly" lab_agent_stop mobile

t_begin "each of the four is needed"
for c in bpf net_admin perfmon; do
	without "$c"
	t_check_not "without CAP_${c^^} the agent does not start" lab_agent_start spare
	t_check "  and says it cannot load the programs" \
		grep -q "cannot load the BPF programs: \(Operation not permitted\|Permission denied\)" \
		"$LAB_DIR/agent-spare.log"
	: >"$LAB_DIR/agent-spare.log"
done
without net_raw
t_check "without CAP_NET_RAW the agent starts" lab_agent_start mobile --config "$CONF"
lab_bg server srv2 socat -u "OPEN:$LAB_DIR/big" TCP4-LISTEN:7001,reuseaddr
lab_wait_listen server 7001
lab_bg mobile cli2 sh -c "socat -u TCP4:203.0.113.1:7001 STDOUT | pv -qL $RATE > $LAB_DIR/b.got"
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 ge $((4 << 20)) fsize "$LAB_DIR/b.got"
topo_leave mobile b
topo_at mobile a
t_check "but its Migrate SYN cannot be sent" lab_wait_until 5 grep -q \
	"Migrate SYN for .*: Operation not permitted" "$LAB_DIR/agent-mobile.log"
t_check_not "and the move does not commit" lab_wait_until 3 eq 1 flow_field mobile migrations
lab_bg_stop cli2 >/dev/null 2>&1 || true
lab_bg_stop srv2 >/dev/null 2>&1 || true
LAB_AGENT_WRAP=()

t_summary
