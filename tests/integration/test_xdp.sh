#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_xdp.sh - the agent's XDP ingress as a citizen of the interface: it
# never replaces another XDP program unseen (refused, naming it, unless
# --xdp-replace), one ingress hook at a time across TC -> XDP -> TC
# restarts, a failed start leaves no hook of ours, and a migration with XDP
# in native mode on veth moves a transfer byte-exact.
#
#   mobile (agent --xdp)                    router (fwd, XDP_PASS)         server (agent --xdp)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 x-x a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 - - b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#                                                t0 203.0.113.254/25  2001:db8:6::fe --- eth1 203.0.113.129/25 2001:db8:6::1/64
#
# The hook tests (a-c) use the mobile host alone, on eth1 (another
# program there) and eth0; the migration (d) the whole lab.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-64}
RATE=${MIG_TEST_RATE:-16m}

lab_init
topo_build
topo_at mobile a
topo_at server s
NS=$(lab_ns mobile)
PIN=$(lab_pindir mobile)
AGENT=$LAB_BUILD/migrate-agent
lab_defer rm -rf "$PIN"
# `ip link ... xdpdrv obj` makes iproute2's pin directories (tc/globals,
# and ip and xdp linking to tc) on first use: remove them again if this
# test made them (empty: nothing of ours is pinned there)
if [[ ! -e $LAB_BPFFS/tc ]]; then
	lab_defer sh -c "rm -f '$LAB_BPFFS/ip' '$LAB_BPFFS/xdp'; rmdir '$LAB_BPFFS/tc/globals' '$LAB_BPFFS/tc' 2>/dev/null; true"
fi

# Someone else's XDP program: XDP_PASS, named lab_pass.
cat >"$LAB_DIR/pass.c" <<'EOF'
#define SEC(n) __attribute__((section(n), used))
struct xdp_md;
SEC("xdp") int lab_pass(struct xdp_md *ctx) { (void)ctx; return 2; }
char LICENSE[] SEC("license") = "GPL";
EOF
clang -O2 -target bpf -c "$LAB_DIR/pass.c" -o "$LAB_DIR/pass.o"

# xdp_of HOST IF - "NAME ID MODE" of the XDP program on IF, or "none"
xdp_of() {
	ip -n "$(lab_ns "$1")" -j -d link show dev "$2" | python3 -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp")
if not x or "prog" not in x:
    print("none")
else:
    print(x["prog"]["name"], x["prog"]["id"],
          {1: "native", 2: "generic", 3: "offload"}.get(x["mode"], x["mode"]))'
}
xdp_name() { xdp_of "$@" | cut -d' ' -f1; }
# tc_has HOST IF DIR NAME - our TC filter NAME is on IF's DIR hook
tc_has() { tc -n "$(lab_ns "$1")" filter show dev "$2" "$3" | grep -q "$4"; }
# agent_fails LOG ARGS... - a start of the mobile's agent that must fail
# (status 1), output into LOG
agent_fails() {
	local log=$1 rc=0
	shift
	nsenter --net="/run/netns/$NS" -- "$AGENT" --pin-dir "$PIN" \
		--cgroup "$(lab_cgroup mobile)" "$@" >"$LAB_DIR/$log" 2>&1 || rc=$?
	echo "exit status $rc" >>"$LAB_DIR/$log"
	((rc == 1))
}
logged() { grep -E -q -- "$2" "$LAB_DIR/$1"; }
# flow_state_is HOST STATE - the host's only flow is in STATE (says which)
flow_state_is() {
	local st
	st=$(flow_field "$1" state)
	echo "state: ${st:-none}"
	[[ $st == "$2" ]]
}

t_begin "(a) another XDP program on the interface"
lab_nsexec mobile ip link set dev eth1 xdpdrv obj "$LAB_DIR/pass.o" sec xdp
other=$(xdp_of mobile eth1)
other_id=$(echo "$other" | cut -d' ' -f2)
t_check "lab_pass is attached" eq lab_pass xdp_name mobile eth1
t_check "--xdp --iface eth1 refuses (status 1)" agent_fails refuse.log --xdp --iface eth1
t_check "... naming the interface and the program" \
	logged refuse.log "interface 'eth1' runs XDP program $other_id \('lab_pass'\)"
t_check "... and saying no hook of ours is left" logged refuse.log "none of ours is left attached"
t_check "lab_pass is still there, the same program" eq "$other" xdp_of mobile eth1
t_check "no TC filter of ours on eth1" eval '! tc_has mobile eth1 egress mig_out_tc'
t_check "nothing pinned by the refused first start" test ! -e "$PIN"
# every interface: the one with another program is skipped, aloud
t_check "--xdp on every interface starts" lab_agent_start mobile --xdp
t_check "... eth1 not served, said so" logged agent-mobile.log "interface 'eth1' is not served"
t_check "... lab_pass still on eth1" eq "$other" xdp_of mobile eth1
t_check "... ours on eth0" eq mig_in_xdp xdp_name mobile eth0
t_check "agent stops, detach removes ours only" lab_agent_stop mobile
t_check "... lab_pass still on eth1" eq "$other" xdp_of mobile eth1
t_check "... nothing on eth0" eq none xdp_of mobile eth0
t_check "--xdp-replace replaces it, aloud" lab_agent_start mobile --xdp-replace --iface eth1
t_check "... the warning names it" \
	logged agent-mobile.log "replacing XDP program $other_id \('lab_pass'\)"
t_check "... ours is on eth1" eq mig_in_xdp xdp_name mobile eth1
t_check "agent stops and detaches" lab_agent_stop mobile
t_check "... eth1 has no XDP program" eq none xdp_of mobile eth1

t_begin "(b) TC -> XDP -> TC across restarts: one ingress hook at a time"
t_check "TC start" lab_agent_start mobile --iface eth0
t_check "TC ingress on eth0" tc_has mobile eth0 ingress mig_in_tc
t_check "no XDP on eth0" eq none xdp_of mobile eth0
t_check "stop (hooks stay)" lab_agent_kill mobile
t_check "XDP start" lab_agent_start mobile --iface eth0 --xdp
t_check "XDP program on eth0 (native mode on veth)" eval \
	'[[ $(xdp_of mobile eth0) == "mig_in_xdp "*" native" ]]'
t_check "TC ingress filter gone" eval '! tc_has mobile eth0 ingress mig_in_tc'
t_check "TC egress filter still there" tc_has mobile eth0 egress mig_out_tc
t_check "the agent said so" logged agent-mobile.log "removed the TC ingress filter"
xid=$(xdp_of mobile eth0 | cut -d' ' -f2)
t_check "stop (hooks stay)" lab_agent_kill mobile
t_check "XDP restart replaces ours in place" lab_agent_start mobile --iface eth0 --xdp
t_check "... a new program, no refusal" eval \
	'[[ $(xdp_name mobile eth0) == mig_in_xdp && $(xdp_of mobile eth0 | cut -d" " -f2) != "$xid" ]]'
t_check "stop (hooks stay)" lab_agent_kill mobile
t_check "TC start again" lab_agent_start mobile --iface eth0
t_check "TC ingress on eth0" tc_has mobile eth0 ingress mig_in_tc
t_check "XDP program gone" eq none xdp_of mobile eth0
t_check "the agent said so" logged agent-mobile.log "removed the XDP program of an earlier run"

t_begin "(c) a failed load leaves no hook"
t_check "stop (hooks stay)" lab_agent_kill mobile
# an earlier run's TC hooks are on eth0; this start fails while it
# attaches (eth0 runs another XDP program and --xdp-replace is not given):
# it removes every hook of ours, and only ours.  (A refusal before loading,
# such as pinned state of another build, changes nothing: test_upgrade.sh.)
lab_nsexec mobile ip link set dev eth0 xdpdrv obj "$LAB_DIR/pass.o" sec xdp
other=$(xdp_of mobile eth0)
t_check "the earlier run's TC ingress is on eth0" tc_has mobile eth0 ingress mig_in_tc
t_check "--xdp start on an interface that refuses fails (status 1)" \
	agent_fails badload.log --iface eth0 --xdp
t_check "... it says none of ours is left" logged badload.log "removed [0-9]+ data path hooks?.*none of ours is left attached"
t_check "no TC ingress filter left" eval '! tc_has mobile eth0 ingress mig_in_tc'
t_check "no TC egress filter left" eval '! tc_has mobile eth0 egress mig_out_tc'
t_check "the other XDP program is still there, the same" eq "$other" xdp_of mobile eth0
lab_nsexec mobile ip link set dev eth0 xdpdrv off
t_check "--detach clears the pins" \
	nsenter --net="/run/netns/$NS" -- "$AGENT" --detach --pin-dir "$PIN"

t_begin "(d) a migration with XDP ingress (native mode on veth)"
# XDP_TX on a veth reaches the peer only through the peer's NAPI, which
# an XDP program there turns on
for i in a0 b0 s0 t0; do
	lab_nsexec router ip link set dev "$i" xdpdrv obj "$LAB_DIR/pass.o" sec xdp
done
t_check "mobile agent --xdp" lab_agent_start mobile --xdp
t_check "server agent --xdp" lab_agent_start server --xdp
t_check "mobile eth0, eth1: native XDP" eval \
	'[[ $(xdp_of mobile eth0) == "mig_in_xdp "*" native" && $(xdp_of mobile eth1) == "mig_in_xdp "*" native" ]]'
t_check "server eth0: native XDP" eval '[[ $(xdp_of server eth0) == "mig_in_xdp "*" native" ]]'
lab_payload "$SIZE_MB"
port=6100
for fam in 4 6; do
	name=xdp-v$fam
	port=$((port + 1))
	if [ "$fam" = 4 ]; then
		addr=${TOPO_V4[server.s]} new=${TOPO_V4[mobile.b]} old=${TOPO_V4[mobile.a]}
	else
		addr="[${TOPO_V6[server.s]}]" new=${TOPO_V6[mobile.b]} old=${TOPO_V6[mobile.a]}
	fi
	# the sender holds the connection open after the file until the
	# checks are done (the FIFO NAME.hold)
	mkfifo "$LAB_DIR/$name.hold"
	lab_bg server "srv-$name" sh -c "{ cat $LAB_DIR/big; cat $LAB_DIR/$name.hold; } | socat -u STDIN TCP$fam-LISTEN:$port,reuseaddr"
	lab_wait_listen server "$port"
	lab_bg mobile "cli-$name" sh -c "socat -u TCP$fam:$addr:$port STDOUT | pv -qL $RATE > $LAB_DIR/$name.got"
	t_check "$name: keyed" lab_wait_until 5 eq 1 nflows mobile
	t_check "$name: under way" lab_wait_until 5 ge $((4 << 20)) fsize "$LAB_DIR/$name.got"
	t_check "$name: ESTABLISHED in the mobile's flow map" flow_state_is mobile ESTABLISHED
	topo_leave mobile a
	topo_at mobile b
	t_check "$name: the mobile starts the move (old address kept on lo)" \
		lab_wait_until 10 logged agent-mobile.log "keeping old address ${old//./\\.} "
	t_check "$name: mobile lists 1 migration" lab_wait_until 5 eq 1 flow_field mobile migrations
	t_check "$name: server records the new address" \
		lab_wait_until 10 eq "$new" flow_field server wire.remote.addr
	if ! _lab_dead "$(lab_bg_pid "srv-$name")" && ! _lab_dead "$(lab_bg_pid "cli-$name")"; then
		timeout 120 sh -c ": > '$LAB_DIR/$name.hold'" || true
	fi
	t_check "$name: both ends finish" \
		eval "lab_bg_wait cli-$name 60 && lab_bg_wait srv-$name 60"
	t_check "$name: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$name.got"
	t_check "$name: flow state removed after close" lab_wait_until 3 eq 0 nflows mobile
	topo_leave mobile b
	topo_at mobile a
done
t_check "mobile sent Migrate SYNs" ge 2 counter mobile msyn_sent
t_check "server saw them" ge 2 counter server msyn_received
t_check "server answered them (in XDP: no TC ingress there)" ge 2 counter server msyn_answered
t_check "server has no TC ingress filter" eval "! tc_has server eth0 ingress mig_in_tc"

t_summary
