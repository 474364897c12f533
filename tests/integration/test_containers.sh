#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_containers.sh - containers beside the agent.  The host runs its
# agent at the root of its cgroup subtree; two containers (network
# namespaces whose processes sit in cgroups below the host's) talk to each
# other through the host and to an outside server, routed and through the
# host's NAT.
#
# (a) Only the host's agent: while the containers transfer, the host's
#     uplink loses an address and gains another, and its agent checks its
#     flows against its addresses.  The host's sock_ops program sees every
#     container socket, but nothing of the containers is keyed, held,
#     moved, translated or added to the host's lo, and every transfer
#     arrives byte-exact.
# (b) An agent per namespace: c1 runs its own agent (own pin dir, own
#     cgroup below the host's) beside the host's.  c1's connection to the
#     server is keyed by c1's agent and migrates when c1's address changes;
#     the host's own connection migrates with the host's agent when the
#     uplink address changes; neither agent touches the other's.
#
#   c1 (agent in b)                host (agent, fwd)                       server (agent)
#   eth0 192.0.2.2/26   --------- v1 192.0.2.1/26
#   eth0 192.0.2.3/26   - - - - -   (c1's second address, in b)
#                                  up0 203.0.113.254/24 ------------------ eth0 203.0.113.1/24
#                                  up0 203.0.113.200, .201, .202 (x-x-x then - - -, in turn)
#   c2                             v2 192.0.2.65/26    NAT for 198.51.100.0/24 on up0
#   eth0 192.0.2.66/26  --------- v2 198.51.100.1/24
#   eth0 198.51.100.2/24
#
# cgroups: host = mig-host-<suffix>, c1 and c2 = mig-host-<suffix>/c1, /c2
# (the host's agent is attached at mig-host-<suffix>, c1's agent at /c1).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-32}
RATE=${MIG_TEST_RATE:-8m}   # ~4 s per transfer

lab_init
lab_host host router
lab_host c1
lab_host c2
lab_host server
lab_link c1 eth0 host v1
lab_link c2 eth0 host v2
lab_link host up0 server eth0
lab_addr host v1 192.0.2.1/26
lab_addr host v2 192.0.2.65/26
lab_addr host v2 198.51.100.1/24
lab_addr host up0 203.0.113.254/24
lab_addr host up0 203.0.113.200/24
lab_addr c1 eth0 192.0.2.2/26
lab_addr c2 eth0 192.0.2.66/26
lab_addr c2 eth0 198.51.100.2/24
lab_addr server eth0 203.0.113.1/24
lab_route c1 add default via 192.0.2.1
lab_route c2 add default via 192.0.2.65
lab_route server add 192.0.2.0/24 via 203.0.113.254
lab_nsexec host nft -f - <<'EOF'
table ip labnat {
	chain post { type nat hook postrouting priority 100; oifname "up0" ip saddr 198.51.100.0/24 masquerade; }
}
EOF

# the containers' cgroups below the host's (lab_cleanup removes the
# subtree; the containers' own top-level cgroups stay unused)
for c in c1 c2; do
	mkdir "$(lab_cgroup host)/$c"
	LAB_CG[$c]=$(lab_cgroup host)/$c
done

lab_agent_start host
lab_agent_start server
lab_payload "$SIZE_MB"

# Addresses of the containers, in any map key or on any lo.
CADDRS="192.0.2.2 192.0.2.3 192.0.2.66 198.51.100.2"

# no_caddr_in_maps HOST: none of HOST's flow, hold, translation or kept
# maps has a key holding a container address (prints what it found)
no_caddr_in_maps() {
	local m rc=0
	for m in mig_flows mig_hold mig_ingress mig_egress mig_kept mig_tokens; do
		[[ -e $(lab_pindir "$1")/$m ]] || continue
		bpftool -j map dump pinned "$(lab_pindir "$1")/$m" | python3 -c '
import ipaddress, json, sys
want = [ipaddress.ip_address(a).packed for a in sys.argv[2].split()]
bad = 0
for e in json.load(sys.stdin):
    for part in ("key", "value"):
        raw = e.get(part)
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            continue
        b = bytes(int(x, 16) for x in raw)
        for a in want:
            if a in b:
                print("%s: %s %s holds %s" % (sys.argv[1], part, b.hex(), ipaddress.ip_address(a)))
                bad = 1
sys.exit(bad)' "$m" "$CADDRS" || rc=1
	done
	return "$rc"
}

# lo_addrs HOST: the addresses on HOST's lo, one a line
lo_addrs() { lab_nsexec "$1" ip -o addr show dev lo | awk '{ print $4 }'; }
# no_caddr_on_lo HOST: no container address on HOST's lo
no_caddr_on_lo() {
	local a l
	l=$(lo_addrs "$1")
	echo "$l"
	for a in $CADDRS; do
		if grep -q "^$a/" <<<"$l"; then return 1; fi
	done
}

# flows_touching HOST ADDR: how many of HOST's keyed flows have ADDR at
# either end, on the socket's tuple or on the wire
flows_touching() {
	lab_ctl "$1" -j show | python3 -c '
import json, sys
a = sys.argv[1]
n = 0
for f in json.load(sys.stdin)["flows"]:
    ends = [f["local"]["addr"], f["remote"]["addr"], f["wire"]["local"]["addr"], f["wire"]["remote"]["addr"]]
    n += a in ends
print(n)' "$2"
}

# flow_of HOST LPORT|RPORT PORT FIELD: FIELD of HOST's one flow whose local
# (or remote) port is PORT
flow_of() {
	lab_ctl "$1" -j show | python3 -c '
import json, sys
side, port, field = sys.argv[1], int(sys.argv[2]), sys.argv[3]
f = [f for f in json.load(sys.stdin)["flows"] if f[side]["port"] == port]
if len(f) != 1: sys.exit(1)
v = f[0]
for k in field.split("."):
    v = v[k]
print(v)' "$2" "$3" "$4"
}

# sendr HOST NAME PORT TARGET [SOCAT_OPTS]: HOST sends $LAB_DIR/big to
# TARGET:PORT and holds the connection open until release NAME; the
# receiver (started before by recvr) writes $LAB_DIR/NAME.got through the
# rate limit
recvr() {
	lab_bg "$1" "srv-$2" sh -c "socat -u TCP4-LISTEN:$3,reuseaddr STDOUT | pv -qL $RATE > $LAB_DIR/$2.got"
	lab_wait_listen "$1" "$3"
}
sendr() {
	mkfifo "$LAB_DIR/$2.hold"
	lab_bg "$1" "cli-$2" sh -c "{ cat $LAB_DIR/big; cat $LAB_DIR/$2.hold; } | socat -u STDIN TCP4:$4:$3${5:+,$5}"
}
release() {
	if ! _lab_dead "$(lab_bg_pid "srv-$1")" && ! _lab_dead "$(lab_bg_pid "cli-$1")"; then
		timeout 120 sh -c ": > '$LAB_DIR/$1.hold'" || true
	fi
	t_check "$1: sender and receiver finish" eval "lab_bg_wait cli-$1 60 && lab_bg_wait srv-$1 60"
	t_check "$1: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$1.got"
}
under_way() { ge $((2 << 20)) fsize "$LAB_DIR/$1.got"; }

# Counters of the host's sock_ops program and of its data path and move
# logic that any handling of a container's connection would change.
TOUCH=syn_offered+synack_answered+fallback_syn+fallback_peer+pool_taken+keyed+events_keyed+held_dropped+xlate_in+xlate_out+moves_detected+msyn_sent+committed_mover+committed_fixed+reserve_failed+kept_src_dropped

t_begin "(a) containers talk while the host's address changes: the host's agent leaves them alone"
t_check "c1's processes sit below the host agent's cgroup" \
	eval "lab_exec c1 cat /proc/self/cgroup | grep -q 'mig-host-$LAB_SUFFIX/c1\$'"
t_check "the host's sock_ops program is effective there" \
	eval "bpftool cgroup show '$(lab_cgroup c1)' effective | grep -q mig_sockops"
stats_snap host "$LAB_DIR/h0.json"
passes=$(counter host addr_passes)
recvr c2 c2c 5001
sendr c1 c2c 5001 192.0.2.66
recvr server c2out 5002
sendr c1 c2out 5002 203.0.113.1
recvr server nat 5003
sendr c2 nat 5003 203.0.113.1 bind=198.51.100.2
for n in c2c c2out nat; do
	t_check "$n: under way" lab_wait_until 10 under_way "$n"
done
t_check "the server saw the NAT's address for nat" \
	eval "lab_nsexec server ss -Htn 'sport = :5003' | grep -q 203.0.113.254"
# the host's uplink: an address goes, another comes
lab_addr_del host up0 203.0.113.200/24
lab_addr host up0 203.0.113.201/24
t_check "the host's agent checked its flows against its addresses" \
	lab_wait_until 5 ge $((passes + 1)) counter host addr_passes
t_check "every container transfer still moves" eval \
	"s=\$(fsize $LAB_DIR/c2c.got); lab_wait_until 10 ge \$((s + 1)) fsize $LAB_DIR/c2c.got"
t_check "the host keys no flow" eq 0 nflows host
t_check "no container address in the host's maps" no_caddr_in_maps host
t_check "no container address on the host's lo" no_caddr_on_lo host
t_check "the host's lo holds only loopback" eq "127.0.0.1/8 ::1/128" eval "echo \$(lo_addrs host)"
t_check "no container segment held, translated, keyed or moved ($TOUCH)" \
	eq 0 cdelta host "$LAB_DIR/h0.json" "$TOUCH"
for n in c2c c2out nat; do release "$n"; done
t_check "the server's agent keyed nothing (the containers did not offer)" eq 0 nflows server
t_check "and after the transfers: still nothing of the containers" \
	eq 0 cdelta host "$LAB_DIR/h0.json" "$TOUCH"

t_begin "(b) an agent in c1 and the host's agent side by side, nested cgroups"
t_check "c1's agent starts (cgroup below the host's, own pin dir)" lab_agent_start c1
t_check "both sock_ops programs are effective on c1's cgroup" eq 2 eval \
	"bpftool cgroup show '$(lab_cgroup c1)' effective | grep -c mig_sockops"
t_check "the host's cgroup still has its own, alone" eq 1 eval \
	"bpftool cgroup show '$(lab_cgroup host)' effective | grep -c mig_sockops"
t_check "the agents have separate pin dirs" test "$(lab_pindir c1)" != "$(lab_pindir host)"
t_check "c1's agent serves c1's eth0 only" eval \
	"tc -n $(lab_ns c1) filter show dev eth0 ingress | grep -q mig_in_tc"
t_check "the host's TC hooks are on the host's devices (v1, up0)" eval \
	"tc -n $(lab_ns host) filter show dev v1 ingress | grep -q mig_in_tc && tc -n $(lab_ns host) filter show dev up0 ingress | grep -q mig_in_tc"
stats_snap host "$LAB_DIR/h1.json"
stats_snap c1 "$LAB_DIR/k1.json"
recvr server c1out 5011
sendr c1 c1out 5011 203.0.113.1
recvr server hostown 5012
sendr host hostown 5012 203.0.113.1 bind=203.0.113.201
recvr c2 c2c2 5013
sendr c1 c2c2 5013 192.0.2.66
for n in c1out hostown c2c2; do
	t_check "$n: under way" lab_wait_until 10 under_way "$n"
done
t_check "c1's agent keys c1's connection to the server" lab_wait_until 5 eq 1 nflows c1
t_check "the host's agent keys its own connection only" lab_wait_until 5 eq 1 nflows host
t_check "... the one from 203.0.113.201" eq 1 flows_touching host 203.0.113.201
t_check "the server keys both" lab_wait_until 5 eq 2 nflows server
t_check "c2's container-to-container flow is keyed by nobody (c2 has no agent)" \
	eq 0 flows_touching c1 192.0.2.66
c1port=$(flow_field c1 local.port)
hport=$(flow_field host local.port)
c1cookie=$(flow_field c1 cookie)
hcookie=$(flow_field host cookie)
# the host moves first: its uplink address changes; c1's does not
lab_addr_del host up0 203.0.113.201/24
lab_addr host up0 203.0.113.202/24
t_check "the host's flow migrates (the host's agent)" lab_wait_until 10 eq 1 flow_field host migrations
t_check "... on the same socket" eq "$hcookie" flow_field host cookie
hnew=$(flow_field host wire.local.addr)
t_check "... to an address the host has now ($hnew)" eval \
	"lab_nsexec host ip -o addr show dev up0 | grep -q ' $hnew/'"
t_check "... the server records it" lab_wait_until 5 eq "$hnew" flow_of server remote "$hport" wire.remote.addr
t_check "... the host's agent kept its old address on the host's lo" \
	grep -q "keeping old address 203\.0\.113\.201 on lo" "$LAB_DIR/agent-host.log"
t_check "c1's flow did not move" eq 0 flow_field c1 migrations
t_check "c1's agent keys only c1's flow" eq 1 nflows c1
t_check "nothing of the host's on c1's lo" eval "! lo_addrs c1 | grep -q 203.0.113"
t_check "no container address in the host's maps" no_caddr_in_maps host
t_check "no container address on the host's lo" no_caddr_on_lo host
# (c2c2 is plain: c2 has no agent, so it ends before c1's address goes)
release c2c2
stats_snap host "$LAB_DIR/h2.json"
# then c1 moves: its address changes (break before make: deleting a
# primary address deletes its secondaries); the host's does not
lab_addr_del c1 eth0 192.0.2.2/26
lab_addr c1 eth0 192.0.2.3/26
lab_route c1 replace default via 192.0.2.1
t_check "c1's flow migrates (c1's agent)" lab_wait_until 10 eq 1 flow_field c1 migrations
t_check "... on the same socket" eq "$c1cookie" flow_field c1 cookie
t_check "... the server records c1's new address" \
	lab_wait_until 5 eq 192.0.2.3 flow_of server remote "$c1port" wire.remote.addr
t_check "... c1's agent kept c1's old address on c1's lo" \
	grep -q "keeping old address 192\.0\.2\.2 on lo" "$LAB_DIR/agent-c1.log"
t_check "the host's flow did not move again" eq 1 flow_field host migrations
t_check "the host's data path passed c1's Migrate SYN on as transit" \
	ge 1 cdelta host "$LAB_DIR/h2.json" transit_passed
t_check "... and translated, held or moved nothing of c1's" \
	eq 0 cdelta host "$LAB_DIR/h2.json" held_dropped+moves_detected+msyn_sent+committed_mover+committed_fixed+msyn_received
t_check "the host still keys its own flow only" eq 1 nflows host
t_check "no container address in the host's maps" no_caddr_in_maps host
t_check "no container address on the host's lo" no_caddr_on_lo host
t_check "the host's agent never named a container address" \
	eval "! grep -E '192\.0\.2\.(2|3|66)[^0-9]|198\.51\.100\.2[^0-9]' '$LAB_DIR/agent-host.log'"
for n in c1out hostown; do release "$n"; done
t_check "c1's flow state removed after close" lab_wait_until 5 eq 0 nflows c1
t_check "the host's flow state removed after close" lab_wait_until 5 eq 0 nflows host

t_begin "(b) one agent stops: the other's hook stays"
t_check "c1's agent stops and detaches" lab_agent_stop c1
t_check "the host's sock_ops is still effective on c1's cgroup" eq 1 eval \
	"bpftool cgroup show '$(lab_cgroup c1)' effective | grep -c mig_sockops"
t_check "the host's agent is alive" kill -0 "${LAB_AGENT_PID[host]}"
t_check "the host's pins are there" test -e "$(lab_pindir host)/link_sockops"

t_begin "(c) under a sock_ops program attached without multi: refused, with the reason"
# someone else's sock_ops program, attached the exclusive way (no flags)
# to a cgroup of its own; an agent asked to serve a cgroup below it
cat >"$LAB_DIR/excl.c" <<'EOF'
#define SEC(n) __attribute__((section(n), used))
struct bpf_sock_ops;
SEC("sockops") int lab_excl(struct bpf_sock_ops *ctx) { (void)ctx; return 1; }
char LICENSE[] SEC("license") = "GPL";
EOF
XPIN=$LAB_BPFFS/mig-excl-$LAB_SUFFIX # (lab_cleanup removes mig-*-<suffix>)
XCG=$LAB_CGROOT/mig-excl-$LAB_SUFFIX
lab_host x
mkdir "$XCG" "$XCG/below"
LAB_CG["x"]=$XCG/below
t_check "another sock_ops program, attached exclusively above the agent's cgroup" eval \
	"clang -O2 -target bpf -c '$LAB_DIR/excl.c' -o '$LAB_DIR/excl.o' &&
	 bpftool prog load '$LAB_DIR/excl.o' '$XPIN' type sockops &&
	 bpftool cgroup attach '$XCG' sock_ops pinned '$XPIN' &&
	 bpftool cgroup show '$XCG' | grep -q lab_excl"
t_check_not "an agent for a cgroup below it does not start" lab_agent_start x
t_check "... it says why and what to do" grep -qF \
	"cannot attach to cgroup '$XCG/below': Operation not permitted: with CAP_NET_ADMIN this means a cgroup above it holds a sock_ops program attached without the multi flag" \
	"$LAB_DIR/agent-x.log"
t_check "... and leaves no link pinned" test ! -e "$(lab_pindir x)/link_sockops"
t_check "the other program is still attached" \
	eval "bpftool cgroup show '$XCG' | grep -q lab_excl"
bpftool cgroup detach "$XCG" sock_ops pinned "$XPIN" || true

t_summary
