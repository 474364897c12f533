#!/usr/bin/env bash
# Routing after the rewrite: a server with two uplinks and policy routing
# by source; the mobile starts on the server's own link and moves behind a
# router.  The server's kernel keeps routing the socket's segments to the
# mobile's old, directly connected, address (out eth0, to its old MAC);
# after the egress rewrite the data path asks the FIB for the new address
# and sends them out eth1 through the router (route_redirected).
#
#   mobile (agent)                                 router (fwd)                     server (agent)
#   eth0 203.0.113.2/25    2001:db8:5::2/64 x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x-x- eth0 203.0.113.1/25   2001:db8:5::1/64  (uplink 1)
#   eth1 192.0.2.1/24      2001:db8:a::1/64 - - -  a0 192.0.2.254/24 2001:db8:a::fe
#                                                  u0 198.51.100.254/24 2001:db8:b::fe -- eth1 198.51.100.1/24 2001:db8:b::1/64 (uplink 2)
#
# Server routing: main table: the connected nets, default via 203.0.113.126
# / 2001:db8:5::fe on eth0 (uplink 1, whose gateway is not there); rule
# "from 203.0.113.1 (2001:db8:5::1) lookup 100": 203.0.113.0/25 on eth0,
# default via the router on eth1.  The connection is 203.0.113.2 ->
# 203.0.113.1, so only policy routing by source sends the mobile's new
# address out eth1.  The mobile leaving eth0 is a drop of everything on its
# eth0 (nft, netdev ingress): the link stays up on the server's side, as a
# switch port would, and the server's neighbour entry for the old address
# stays (TCP keeps confirming it).
#
# Per family, one download (server -> mobile) across the move:
#   1. lo does not forward on the server: Linux refuses FIB lookups, the
#      data path counts route_fwd_off and the rewritten segments leave by
#      eth0, to the old MAC, and are lost: the transfer stalls (shown on
#      a capture of eth0 and by the received size not growing).  This is
#      the behaviour without the FIB step.
#   2. net.ipv{4,6}.conf.lo.forwarding=1: the segments leave by eth1
#      (capture on both uplinks), the transfer completes byte-exact.
#   3. IPv4: a segment of the flow from the mobile with a malformed IP
#      option (record route, length 2): the server's ingress rewrites it
#      to the socket tuple, the kernel answers with a parameter problem
#      quoting the socket tuple and addressed to the old address; the
#      egress hook rewrites it to the wire tuple (icmp_xlate_out) and
#      routes it out eth1.  The capture shows it quoting the wire tuple,
#      and no error quoting the old address anywhere.  (The segment is
#      put straight onto the server's link: a router on the way would
#      answer the bad option itself.  The mobile's icmp_in leaves errors
#      that quote IPv4 options alone, so nothing is checked there.  IPv6
#      has no such case: a segment behind extension headers is not
#      translated at all, frag_check.)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-64}
RATE=${MIG_TEST_RATE:-6m}       # pv rate limit: the transfer lasts ~10 s

declare -A OLD=([4]=203.0.113.2 [6]=2001:db8:5::2)
declare -A NEW=([4]=192.0.2.1 [6]=2001:db8:a::1)
declare -A SRV=([4]=203.0.113.1 [6]=2001:db8:5::1)
declare -A LEN=([4]=25 [6]=64)
declare -A NGW=([4]=192.0.2.254 [6]=2001:db8:a::fe)

lab_init
lab_host mobile
lab_host server
lab_host router router
lab_link mobile eth0 server eth0
lab_link mobile eth1 router a0
lab_link server eth1 router u0
lab_addr router a0 192.0.2.254/24
lab_addr router a0 2001:db8:a::fe/64
lab_addr router u0 198.51.100.254/24
lab_addr router u0 2001:db8:b::fe/64
lab_route router -4 add 203.0.113.0/25 via 198.51.100.1
lab_route router -6 add 2001:db8:5::/64 via 2001:db8:b::1
lab_addr server eth0 203.0.113.1/25
lab_addr server eth0 2001:db8:5::1/64
lab_addr server eth1 198.51.100.1/24
lab_addr server eth1 2001:db8:b::1/64
lab_route server -4 add default via 203.0.113.126 dev eth0 onlink
lab_route server -6 add default via 2001:db8:5::fe dev eth0
lab_route server -4 add 203.0.113.0/25 dev eth0 table 100
lab_route server -4 add default via 198.51.100.254 dev eth1 table 100
lab_route server -6 add 2001:db8:5::/64 dev eth0 table 100
lab_route server -6 add default via 2001:db8:b::fe dev eth1 table 100
lab_nsexec server ip -4 rule add from 203.0.113.1 lookup 100
lab_nsexec server ip -6 rule add from 2001:db8:5::1 lookup 100
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

lo_forwarding() {
	lab_nsexec server sysctl -q -w "net.ipv4.conf.lo.forwarding=$1" "net.ipv6.conf.lo.forwarding=$1"
}

# on_lan FAMILY: the mobile is on the server's link, with its old address
on_lan() {
	lab_nsexec mobile nft delete table netdev gone 2>/dev/null || true
	lab_addr mobile eth0 "${OLD[$1]}/${LEN[$1]}"
}

# leave_lan FAMILY: the mobile leaves the server's link (nothing reaches
# it there any more) and comes up behind the router
leave_lan() {
	lab_nsexec mobile nft -f - <<-'EOF'
	table netdev gone {
		chain in { type filter hook ingress device "eth0" priority 0; policy drop; }
	}
	EOF
	lab_addr_del mobile eth0 "${OLD[$1]}/${LEN[$1]}"
	if [ "$1" = 4 ]; then
		lab_addr mobile eth1 192.0.2.1/24
	else
		lab_addr mobile eth1 2001:db8:a::1/64
	fi
	lab_route mobile "-$1" replace default via "${NGW[$1]}" dev eth1
}

# back FAMILY: the mobile's net-A address goes (before the next family)
back() {
	if [ "$1" = 4 ]; then
		lab_addr_del mobile eth1 192.0.2.1/24
	else
		lab_addr_del mobile eth1 2001:db8:a::1/64
	fi
	lab_route mobile "-$1" del default 2>/dev/null || true
}

# rcvd: bytes the mobile's socket of the download received (ss), which,
# unlike the file behind pv's rate limit, stops when the network does
rcvd() { tcpfield mobile "$port" bytes_received; }

# resume_bound: seconds within which the server's socket retransmits for
# sure: twice its current retransmission timeout (backed off during the
# stall; up to 120 s) plus 10, at least 20
resume_bound() {
	local rto
	rto=$(tcpfield server "$port" rto)
	rto=$(( ${rto:-0} * 2 / 1000 + 10 ))
	echo $(( rto < 20 ? 20 : rto ))
}

# grows SECONDS: the mobile's socket receives something within SECONDS
grows() {
	local s0=
	# (the first read retried too: one ss that fails under load is no
	# answer)
	lab_wait_until "$1" eval 's0=$(rcvd); [ -n "$s0" ]' || return 1
	lab_wait_until "$1" ge $((s0 + 1)) rcvd
}

# wire_port: the mobile's port in the server's wire tuple (polled: the
# agent's answer can miss under load)
wire_port() {
	local p i
	for i in $(seq 50); do
		p=$(flow_field server wire.remote.port 2>/dev/null) && [ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
	done
	return 1
}

# out_parmprobs: parameter problems the server's kernel sent
out_parmprobs() { mib server IcmpOutParmProbs; }

# to_host FAMILY ADDR: the tcpdump filter for "to ADDR", per family
to_host() { if [ "$1" = 4 ]; then echo "ip and dst host $2"; else echo "ip6 and dst host $2"; fi; }

port=6200
for fam in ${ROUTE_FAMS:-4 6}; do
	name="route-v$fam"
	t_begin "IPv$fam: the mobile moves from the server's link behind a router; the server's segments follow the route to the new address"
	on_lan "$fam"
	lo_forwarding 0
	port=$((port + 1))
	if [ "$fam" = 4 ]; then saddr=${SRV[4]}; else saddr="[${SRV[6]}]"; fi
	lab_bg server "srv-$name" socat -u "OPEN:$LAB_DIR/big" "TCP$fam-LISTEN:$port,reuseaddr"
	lab_wait_listen server "$port"
	lab_bg mobile "cli-$name" sh -c "socat -u TCP$fam:$saddr:$port STDOUT | pv -qL $RATE > $LAB_DIR/$name.got"
	t_check "$name: keyed on both ends" lab_wait_until 5 eq 1 nflows mobile
	t_check "$name: under way" lab_wait_until 5 ge $((8 << 20)) fsize "$LAB_DIR/$name.got"
	cookie=$(flow_field mobile cookie)
	t_check "$name: the server reaches ${OLD[$fam]} on its own link (eth0)" \
		eval "lab_nsexec server ip -$fam route get ${OLD[$fam]} from ${SRV[$fam]} | grep -q 'dev eth0'"
	t_check "$name: the server's route to ${NEW[$fam]} from ${SRV[$fam]} is eth1 (policy)" \
		eval "lab_nsexec server ip -$fam route get ${NEW[$fam]} from ${SRV[$fam]} | grep -q 'dev eth1'"
	t_check "$name: ... and eth0 without the rule (main table)" \
		eval "lab_nsexec server ip -$fam route get ${NEW[$fam]} | grep -q 'dev eth0'"

	# 1. without FIB lookups (lo does not forward)
	off0=$(counter server route_fwd_off)
	lab_capture_start server eth0 "$name-e0-off" "tcp and $(to_host "$fam" "${NEW[$fam]}")"
	leave_lan "$fam"
	t_check "$name: server lists 1 migration" lab_wait_until 10 eq 1 flow_field server migrations
	t_check "$name: server's wire tuple has ${NEW[$fam]}" eq "${NEW[$fam]}" flow_field server wire.remote.addr
	t_check "$name: the mobile's socket is the same (cookie)" eq "$cookie" flow_field mobile cookie
	t_check "$name: lo not forwarding: lookups refused (route_fwd_off)" \
		lab_wait_until 5 ge $((off0 + 1)) counter server route_fwd_off
	t_check "$name: the mobile's socket is there (ss)" ge 1 rcvd
	t_check_not "$name: lo not forwarding: the download stalls (nothing for 3 s)" \
		grows 3
	lab_capture_stop "$name-e0-off"
	n=$(lab_capture_count "$name-e0-off")
	t_check "$name: lo not forwarding: segments to ${NEW[$fam]} left by eth0 (the old address's link)" \
		ge 1 echo "$n"
	echo "   without the FIB step: $n segment(s) to ${NEW[$fam]} captured on eth0; route_fwd_off $(counter server route_fwd_off)"

	# 2. with FIB lookups
	red0=$(counter server route_redirected)
	lab_capture_start server eth0 "$name-e0" "tcp and $(to_host "$fam" "${NEW[$fam]}")"
	lab_capture_start server eth1 "$name-e1" "tcp and $(to_host "$fam" "${NEW[$fam]}")"
	# the kernel's own retransmission resumes it: when, depends on how
	# far the stall backed its timer off
	bound=$(resume_bound)
	lo_forwarding 1
	t_check "$name: the download resumes (within ${bound} s: twice the server's RTO + 10)" grows "$bound"
	t_check "$name: segments redirected (route_redirected)" \
		lab_wait_until 5 ge $((red0 + 1)) counter server route_redirected

	# 3. a locally generated ICMP error about the translated flow (IPv4)
	if [ "$fam" = 4 ]; then
		wport=$(wire_port)
		t_check "$name: the server's wire tuple has the mobile's port ($wport)" ge 1 echo "${wport:-0}"
		ix0=$(counter server icmp_xlate_out)
		pp0=$(out_parmprobs)
		lab_capture_start server eth1 "$name-icmp" "icmp and icmp[0] == 12"
		lab_capture_start server eth0 "$name-icmp0" "icmp"
		# Sent straight onto the server's link from the mobile's old
		# interface (whose way back is gone): a router on the way would
		# answer the bad option itself.
		smac=$(lab_nsexec server ip -br link show dev eth0 | awk '{ print $3 }')
		t_check "$name: a segment with a malformed IP option from ${NEW[4]}:$wport, onto the server's link" \
			lab_nsexec mobile python3 - eth0 "$smac" "${NEW[4]}" "$wport" "${SRV[4]}" "$port" <<-'EOF'
			import socket, struct, sys
			dev, dmac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
			src, sport, dst, dport = sys.argv[3], int(sys.argv[4]), sys.argv[5], int(sys.argv[6])
			def csum(b):
			    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
			    while s >> 16:
			        s = (s & 0xffff) + (s >> 16)
			    return ~s & 0xffff
			opt = bytes([7, 2, 0, 0])          # record route, length 2: malformed
			tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, 0x10, 512, 0, 0)
			ph = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
			tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
			ip = struct.pack("!BBHHHBBH4s4s", 0x46, 0, 24 + len(tcp), 0x4d47, 0, 64, 6, 0,
			                 socket.inet_aton(src), socket.inet_aton(dst)) + opt
			ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
			s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
			s.bind((dev, 0))
			smac = s.getsockname()[4]
			s.send(dmac + smac + b"\x08\x00" + ip + tcp)
			EOF
		t_check "$name: the server rewrote its parameter problem (icmp_xlate_out)" \
			lab_wait_until 5 ge $((ix0 + 1)) counter server icmp_xlate_out
		t_check "$name: the server's kernel sent a parameter problem (IcmpOutParmProbs)" \
			ge $((pp0 + 1)) out_parmprobs
		lab_capture_stop "$name-icmp"
		lab_capture_stop "$name-icmp0"
		# quoted source (icmp[20:4]) 192.0.2.1 = 0xc0000201, quoted
		# source port (icmp[32:2], after a 24-byte quoted header)
		t_check "$name: parameter problem left by eth1 to ${NEW[4]}, quoting ${NEW[4]}:$wport" \
			ge 1 lab_capture_count "$name-icmp" "dst host ${NEW[4]} and icmp[20:4] == 0xc0000201 and icmp[32:2] == $wport"
		t_check "$name: no ICMP error on the wire quotes or goes to ${OLD[4]}" \
			eq 0 lab_capture_count "$name-icmp" "icmp[20:4] == 0xcb007102 or dst host ${OLD[4]}"
		t_check "$name: no ICMP left by eth0" eq 0 lab_capture_count "$name-icmp0"
		echo "   server: IcmpOutParmProbs $(out_parmprobs), icmp_xlate_out $(counter server icmp_xlate_out)"
	fi

	t_check "$name: sender and receiver finish" eval "lab_bg_wait cli-$name 90 && lab_bg_wait srv-$name 90"
	t_check "$name: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$name.got"
	lab_capture_stop "$name-e0"
	lab_capture_stop "$name-e1"
	n0=$(lab_capture_count "$name-e0")
	n1=$(lab_capture_count "$name-e1")
	t_check "$name: with the FIB step, segments to ${NEW[$fam]} left by eth1 (uplink 2)" ge 1 echo "$n1"
	t_check "$name: ... and none by eth0" eq 0 echo "$n0"
	echo "   with the FIB step: eth1 $n1, eth0 $n0 segment(s) to ${NEW[$fam]}; route_redirected $(counter server route_redirected), route_failed $(counter server route_failed)"
	back "$fam"
done

t_summary
