# shellcheck shell=bash
# mig_topo.sh - the migration lab, sourced by the migration tests (after
# lab.sh).  Two access networks for the mobile host, one for the server:
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 --- a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 --- b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#                                                t0 203.0.113.254/25  2001:db8:6::fe --- eth1 203.0.113.129/25 2001:db8:6::1/64
#
# Both mobile links exist from the start; an address "on net A" or "on net
# B" is what moves.  topo_at HOST NET adds that net's addresses and default
# routes, topo_leave HOST NET removes them.

declare -gA TOPO_V4=([mobile.a]=192.0.2.1 [mobile.b]=198.51.100.1 [server.s]=203.0.113.1 [server.t]=203.0.113.129)
declare -gA TOPO_V6=([mobile.a]=2001:db8:a::1 [mobile.b]=2001:db8:b::1 [server.s]=2001:db8:5::1 [server.t]=2001:db8:6::1)
declare -gA TOPO_GW4=([a]=192.0.2.254 [b]=198.51.100.254 [s]=203.0.113.126 [t]=203.0.113.254)
declare -gA TOPO_GW6=([a]=2001:db8:a::fe [b]=2001:db8:b::fe [s]=2001:db8:5::fe [t]=2001:db8:6::fe)
declare -gA TOPO_IF=([mobile.a]=eth0 [mobile.b]=eth1 [server.s]=eth0 [server.t]=eth1)
declare -gA TOPO_LEN4=([a]=24 [b]=24 [s]=25 [t]=25)

# topo_build [nat]: hosts, links, router; nothing addressed on the movers yet
topo_build() {
	lab_host mobile
	lab_host server
	lab_host router router
	lab_link mobile eth0 router a0
	lab_link mobile eth1 router b0
	lab_link server eth0 router s0
	lab_link server eth1 router t0
	lab_addr router a0 192.0.2.254/24
	lab_addr router a0 2001:db8:a::fe/64
	lab_addr router b0 198.51.100.254/24
	lab_addr router b0 2001:db8:b::fe/64
	lab_addr router s0 203.0.113.126/25
	lab_addr router s0 2001:db8:5::fe/64
	# a second server-side net, for the tests where the server moves
	lab_addr router t0 203.0.113.254/25
	lab_addr router t0 2001:db8:6::fe/64
	if [ "${1:-}" = nat ]; then
		# net B is a private network behind a NAT: masquerade toward s0
		lab_nsexec router nft -f - <<-'EOF'
		table ip labnat {
			chain post { type nat hook postrouting priority 100; oifname "s0" ip saddr 198.51.100.0/24 masquerade; }
		}
		EOF
	fi
}

# topo_at HOST NET: the host's address on NET comes up, default routes there
topo_at() {
	local h=$1 n=$2 k="$1.$2"
	lab_addr "$h" "${TOPO_IF[$k]}" "${TOPO_V4[$k]}/${TOPO_LEN4[$n]:-24}"
	lab_addr "$h" "${TOPO_IF[$k]}" "${TOPO_V6[$k]}/64"
	lab_route "$h" -4 replace default via "${TOPO_GW4[$n]}" dev "${TOPO_IF[$k]}"
	lab_route "$h" -6 replace default via "${TOPO_GW6[$n]}" dev "${TOPO_IF[$k]}"
}

# topo_leave HOST NET: the host's address on NET goes away
topo_leave() {
	local h=$1 n=$2 k="$1.$2"
	lab_addr_del "$h" "${TOPO_IF[$k]}" "${TOPO_V4[$k]}/${TOPO_LEN4[$n]:-24}"
	lab_addr_del "$h" "${TOPO_IF[$k]}" "${TOPO_V6[$k]}/64"
}


# topo_veth_napi HOST IF...: the host's veth ends IF... run NAPI, so that
# frames an XDP program on the other end sends back with XDP_TX reach
# them (a veth without NAPI drops them).  An XDP program there (XDP_PASS,
# lab_pass) turns NAPI on.  MIG_TEST_VETH_NAPI=gro tries GRO instead
# (`ethtool -K IF gro on`, which gives a veth NAPI since Linux 5.13): on
# 6.18 that is not enough, the sender counts its XDP_TX frames sent
# (ethtool -S: xdp_tx) and none arrives (veth_xdp_flush wakes the peer's
# NAPI only when the peer has an XDP program).
topo_veth_napi() {
	local h=$1 i
	shift
	if [[ ${MIG_TEST_VETH_NAPI:-xdp} == gro ]]; then
		for i in "$@"; do
			lab_nsexec "$h" ethtool -K "$i" gro on >/dev/null || return 1
		done
		return 0
	fi
	if [[ ! -e $LAB_DIR/pass.o ]]; then
		cat >"$LAB_DIR/pass.c" <<-'EOF'
		#define SEC(n) __attribute__((section(n), used))
		struct xdp_md;
		SEC("xdp") int lab_pass(struct xdp_md *ctx) { (void)ctx; return 2; }
		char LICENSE[] SEC("license") = "GPL";
		EOF
		clang -O2 -target bpf -c "$LAB_DIR/pass.c" -o "$LAB_DIR/pass.o" || return 1
		# `ip link ... xdpdrv obj` makes iproute2's pin directories
		# (tc/globals; ip and xdp link there) on first use: remove them
		# again if this run made them (nothing is pinned in them)
		if [[ ! -e $LAB_BPFFS/tc ]]; then
			lab_defer sh -c "rm -f '$LAB_BPFFS/ip' '$LAB_BPFFS/xdp'; rmdir '$LAB_BPFFS/tc/globals' '$LAB_BPFFS/tc' 2>/dev/null; true"
		fi
	fi
	for i in "$@"; do
		lab_nsexec "$h" ip link set dev "$i" xdpdrv obj "$LAB_DIR/pass.o" sec xdp || return 1
	done
}

# topo_xdp_mode HOST IF: "NAME MODE" of the XDP program on IF, or "none"
topo_xdp_mode() {
	ip -n "$(lab_ns "$1")" -j -d link show dev "$2" | python3 -c '
import json, sys
x = json.load(sys.stdin)[0].get("xdp")
if not x or "prog" not in x:
    print("none")
else:
    print(x["prog"]["name"], {1: "native", 2: "generic", 3: "offload"}.get(x["mode"], x["mode"]))'
}
