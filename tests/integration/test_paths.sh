#!/usr/bin/env bash
# Paths with a smaller MTU: a download moves onto net B, whose link to the
# mobile carries 1280-byte packets.  The server's full-size segments, now
# sent to the mobile's net B address, make the router answer with
# "fragmentation needed" (IPv4, the segments carry DF) or "packet too big"
# (IPv6), quoting the segment as it was on the wire.  The server's data
# path rewrites the quote to the socket tuple (icmp_xlate_in), so its
# kernel finds the socket, lowers the path MTU and resends in smaller
# segments: the transfer completes byte-exact.  (Without the rewrite the
# kernel would find no socket and retransmit too-large segments forever.)
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 x-x a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 - - b0 198.51.100.254 2001:db8:b::fe  (MTU 1280 at both ends)
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#
# Every other link keeps MTU 1500; the connection starts on net A with MSS
# 1460 (1440 for IPv6).
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-64}
RATE=${MIG_TEST_RATE:-8m}       # pv rate limit: the transfer lasts ~8 s
PMTU=1280

lab_init
topo_build
lab_nsexec router ip link set b0 mtu "$PMTU"
lab_nsexec mobile ip link set eth1 mtu "$PMTU"
# Path MTU discovery is the only way the server learns the smaller MTU:
# DF on its segments, no MTU probing (both the defaults, made explicit).
lab_nsexec server sysctl -q -w net.ipv4.ip_no_pmtu_disc=0 net.ipv4.tcp_mtu_probing=0
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

port=6100

# start_download NAME FAMILY(4|6): server -> mobile, the mobile writes
# $LAB_DIR/NAME.got through a rate limit; returns once under way.
start_download() {
	local name=$1 fam=$2 addr
	port=$((port + 1))
	if [ "$fam" = 4 ]; then addr=${TOPO_V4[server.s]}; else addr="[${TOPO_V6[server.s]}]"; fi
	# the sender holds the connection open after the file until
	# finish_transfer releases it: the checks run while the flow is up,
	# however slow the machine
	lab_bg server "srv-$name" socat -t 60 -u "SYSTEM:$(lab_held_sender "$name")" "TCP$fam-LISTEN:$port,reuseaddr"
	lab_wait_listen server "$port"
	lab_bg mobile "cli-$name" sh -c "socat -u TCP$fam:$addr:$port STDOUT | pv -qL $RATE > $LAB_DIR/$name.got"
	# under way: keyed on both ends and some data through
	lab_wait_until 5 eq 1 nflows mobile
	lab_wait_until 5 ge $((16 << 20)) fsize "$LAB_DIR/$name.got"
}

# finish_transfer NAME: both ends exit 0 and the bytes are exact
finish_transfer() {
	local name=$1
	lab_release "$name"
	t_check "$name: sender and receiver finish" eval "lab_bg_wait cli-$name 60 && lab_bg_wait srv-$name 60"
	t_check "$name: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$name.got"
}

# check_migrated NAME MOBILE_WIRE_ADDR: both ends list the flow migrated
# once, the mobile's socket is the same, the server records the new address
check_migrated() {
	local name=$1 maddr=$2
	t_check "$name: the mobile's socket is the same (cookie)" eq "$cookie" flow_field mobile cookie
	t_check "$name: mobile lists 1 migration" lab_wait_until 3 eq 1 flow_field mobile migrations
	t_check "$name: server lists 1 migration" lab_wait_until 3 eq 1 flow_field server migrations
	t_check "$name: server's wire tuple has the mobile's new address" eq "$maddr" flow_field server wire.remote.addr
}

# route_mtu FAMILY ADDR: the MTU the server's routing has for ADDR (the
# path MTU exception), empty if none
route_mtu() {
	lab_nsexec server ip "-$1" route get "$2" | grep -oE '(^|[[:space:]])mtu [0-9]+' | head -n 1 | awk '{ print $2 }'
}

move_a_to_b() { topo_leave mobile a; topo_at mobile b; }
move_b_to_a() { topo_leave mobile b; topo_at mobile a; }

for fam in 4 6; do
	name="pmtu-v$fam"
	t_begin "a move onto a path with a $PMTU-byte MTU, IPv$fam: the transfer completes, path MTU discovery works through the translation"
	if [ "$fam" = 4 ]; then
		old=${TOPO_V4[mobile.a]} new=${TOPO_V4[mobile.b]} mss_max=$((PMTU - 40))
		what="fragmentation needed (mtu $PMTU)"
		# ICMP type 3 code 4, next-hop MTU 1280, quoting a segment to 198.51.100.1
		filter="icmp and icmp[0] == 3 and icmp[1] == 4 and icmp[6:2] == $PMTU and icmp[24:4] == 0xc6336401"
	else
		old=${TOPO_V6[mobile.a]} new=${TOPO_V6[mobile.b]} mss_max=$((PMTU - 60))
		what="packet too big (mtu $PMTU)"
		# ICMPv6 type 2, MTU 1280, quoting a segment to 2001:db8:b::1
		filter="icmp6 and ip6[40] == 2 and ip6[44:4] == $PMTU and ip6[72:4] == 0x20010db8 and ip6[76:4] == 0x000b0000 and ip6[80:4] == 0 and ip6[84:4] == 1"
	fi
	ix=$(counter server icmp_xlate_in)
	mx=$(counter mobile icmp_xlate_in)
	lab_capture_start server eth0 "$name-icmp" "$filter"
	start_download "$name" "$fam"
	cookie=$(flow_field mobile cookie)
	t_check "$name: the server's socket starts with path MTU 1500" eq 1500 tcpfield server "$port" pmtu
	move_a_to_b
	check_migrated "$name" "$new"
	t_check "$name: the server's socket learns path MTU $PMTU" lab_wait_until 10 eq "$PMTU" tcpfield server "$port" pmtu
	t_check "$name: the server's MSS is at most $mss_max" le "$mss_max" tcpfield server "$port" mss
	t_check "$name: the server's route to the mobile's socket address $old has MTU $PMTU" \
		eq "$PMTU" route_mtu "$fam" "$old"
	finish_transfer "$name"
	t_check "$name: the server rewrote ICMP errors (icmp_xlate_in)" ge $((ix + 1)) counter server icmp_xlate_in
	t_check "$name: the mobile rewrote none (it sent nothing too large)" eq "$mx" counter mobile icmp_xlate_in
	lab_capture_stop "$name-icmp"
	t_check "$name: the router sent $what quoting the mobile's net B address" \
		ge 1 lab_capture_count "$name-icmp"
	echo "   $(lab_capture_count "$name-icmp") such error(s) captured; server icmp_xlate_in $(counter server icmp_xlate_in)"
	move_b_to_a
done

t_summary
