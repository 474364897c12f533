#!/usr/bin/env bash
# run-timeout: 900   (tests/run.sh: a hang guard; two transfers and their moves)
# shellcheck disable=SC2016,SC2034 # single-quoted code is evaluated later on purpose (t_check, lab_wait_until)
# Forged ICMP errors against a migrated flow (icmp_in), IPv4 and IPv6.
# The attacker is on the path (the router: it forwarded every packet of the
# flow, so it knows both tuples and the sequence numbers; the test reads
# SND.UNA from the hosts as its oracle) and tells each end that the path
# has a 1280-byte MTU:
#  R  quoting the flow's retired tuple (the socket tuple the flow left, on
#     the server and on the mobile): dropped before the kernel sees it
#     (icmp_in_dropped), the sockets keep path MTU 1500, no route exception
#     is made, the kernel counts nothing;
#  O  quoting the wire tuple with a sequence number outside the window:
#     translated (icmp_xlate_in), and the kernel ignores it as it would for
#     plain TCP (TcpExtOutOfWindowIcmps), path MTU stays 1500;
#  W  quoting the wire tuple with SND.UNA: translated, and the socket lowers
#     its path MTU to 1280 -- what such an attacker can do to plain TCP
#     (RFC 5927), and the proof that R's sequence numbers were good.
# The flow is idle while it is attacked (the sender waits after half the
# file, everything acked, so that SND.UNA is exact); the second half then
# goes through and the file arrives byte-exact.  The translations and what
# the agents wrote of the flows are unchanged.
#
#   mobile (agent)                          router (attacker)            server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 --- a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 --- b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../integration/mig_topo.sh"

SIZE_MB=${ICMP_TEST_MB:-8}
HALF=$((SIZE_MB << 19))
PMTU=1280
N=10   # errors per attack

lab_init
topo_build
for h in mobile server; do
	# path MTU discovery on, no MTU probing (the defaults, made explicit)
	lab_nsexec "$h" sysctl -q -w net.ipv4.ip_no_pmtu_disc=0 net.ipv4.tcp_mtu_probing=0
done
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

# ic HOST ARGS...: icmp.py in HOST's network namespace
ic() { local h=$1; shift; lab_nsexec "$h" python3 "$here/icmp.py" "$@"; }
# route_mtu HOST FAMILY ADDR: HOST's route MTU for ADDR (a path MTU
# exception), "none" if it has none
route_mtu() {
	local m
	m=$(lab_nsexec "$1" ip "-$2" route get "$3" | grep -oE '(^|[[:space:]])mtu [0-9]+' | head -n 1 | awk '{ print $2 }')
	echo "${m:-none}"
}
# oow HOST: the kernel's count of ICMP errors it ignored as out of window
oow() { mib "$1" TcpExtOutOfWindowIcmps; }
# xmaps HOST: HOST's mig_ingress and mig_egress, sorted
xmaps() { maps_dump "$1" mig_ingress mig_egress; }
# agent_part HOST: what the agent wrote of HOST's only flow (token .. role,
# s_own, s_peer: not sack_hi, the data path's)
agent_part() {
	bpftool -j map dump pinned "$(lab_pindir "$1")/mig_flows" | python3 -c '
import json, sys
m = json.load(sys.stdin)
if len(m) != 1:
    sys.exit("%d flows" % len(m))
v = bytes(int(x, 16) for x in m[0]["value"])
print((v[:36] + v[40:72]).hex())'   # (36..39: sack_hi, the data path's)
}

move_a_to_b() { topo_leave mobile a; topo_at mobile b; }
move_b_to_a() { topo_leave mobile b; topo_at mobile a; }

port=6300
for fam in 4 6; do
	port=$((port + 1))
	name=v$fam
	if [ "$fam" = 4 ]; then
		declare -n A=TOPO_V4 GW=TOPO_GW4
		srv=${A[server.s]} dial=${A[server.s]}
	else
		declare -n A=TOPO_V6 GW=TOPO_GW6
		srv=${A[server.s]} dial="[${A[server.s]}]"
	fi
	old=${A[mobile.a]} new=${A[mobile.b]}

	t_begin "IPv$fam: a keyed download moves to net B and goes idle half-way"
	# half the file, then wait for go-NAME; the rest; then hold the
	# connection open until release-NAME
	lab_bg server "srv-$name" socat -u \
		"SYSTEM:head -c $HALF $LAB_DIR/big; while [ ! -e $LAB_DIR/go-$name ]; do sleep 0.1; done; tail -c +$((HALF + 1)) $LAB_DIR/big; while [ ! -e $LAB_DIR/release-$name ]; do sleep 0.1; done" \
		"TCP$fam-LISTEN:$port,reuseaddr"
	lab_wait_listen server "$port"
	lab_bg mobile "cli-$name" sh -c "socat -u TCP$fam:$dial:$port STDOUT > $LAB_DIR/$name.got"
	t_check "keyed on both ends" eval 'lab_wait_until 5 eq 1 nflows mobile && lab_wait_until 5 eq 1 nflows server'
	mport=$(flow_field mobile local.port)
	t_check "the first half arrived and the server's socket has it all acked" \
		lab_wait_until 30 eval 'eq "$HALF" fsize "$LAB_DIR/$name.got" && eq "$HALF" tcpfield server "$port" bytes_acked'
	move_a_to_b
	t_check "both ends list the migration" \
		eval 'lab_wait_until 15 eq 1 flow_field mobile migrations && lab_wait_until 5 eq 1 flow_field server migrations'
	t_check "the server records the mobile's new address $new" eq "$new" flow_field server wire.remote.addr
	mwport=$(flow_field mobile wire.local.port)
	t_check "both sockets start with path MTU 1500" \
		eval 'eq 1500 tcpfield server "$port" pmtu && eq 1500 tcpfield mobile "$port" pmtu'
	# the attacker's knowledge: both ends' SND.UNA (the flow is idle)
	s_una=$(ic server snd-una --pin "$(lab_pindir server)" --lport "$port" --family "$fam")
	m_una=$(ic mobile snd-una --pin "$(lab_pindir mobile)" --lport "$mport" --family "$fam")
	echo "   flow $old:$mport -> $srv:$port, on the wire $new:$mwport; SND.UNA server $s_una, mobile $m_una"
	xmaps server >"$LAB_DIR/$name-sx"
	xmaps mobile >"$LAB_DIR/$name-mx"
	s_agent=$(agent_part server)
	m_agent=$(agent_part mobile)

	t_begin "IPv$fam R. errors quoting the retired tuple, with SND.UNA: dropped, path MTU stays 1500 on both ends"
	stats_snap server "$LAB_DIR/$name-r-s"
	stats_snap mobile "$LAB_DIR/$name-r-m"
	s_oow=$(oow server) m_oow=$(oow mobile)
	t_check "$N to the server quoting $srv:$port -> $old:$mport (its socket tuple)" \
		ic router pmtu --src "${GW[s]}" --dst "$srv" --qsrc "$srv" --qsport "$port" \
		--qdst "$old" --qdport "$mport" --seq "$s_una" --mtu "$PMTU" --count "$N"
	t_check "$N to the mobile at $new quoting $old:$mport -> $srv:$port (its socket tuple)" \
		ic router pmtu --src "${GW[b]}" --dst "$new" --qsrc "$old" --qsport "$mport" \
		--qdst "$srv" --qdport "$port" --seq "$m_una" --mtu "$PMTU" --count "$N"
	t_check "server: icmp_in_dropped +$N" lab_wait_until 5 eq "$N" cdelta server "$LAB_DIR/$name-r-s" icmp_in_dropped
	t_check "mobile: icmp_in_dropped +$N" lab_wait_until 5 eq "$N" cdelta mobile "$LAB_DIR/$name-r-m" icmp_in_dropped
	t_check "neither translated any (icmp_xlate_in +0)" \
		eval 'eq 0 cdelta server "$LAB_DIR/$name-r-s" icmp_xlate_in && eq 0 cdelta mobile "$LAB_DIR/$name-r-m" icmp_xlate_in'
	t_check "both sockets keep path MTU 1500" \
		eval 'eq 1500 tcpfield server "$port" pmtu && eq 1500 tcpfield mobile "$port" pmtu'
	t_check "no route exception: server for $old, mobile for $srv" \
		eval 'eq none route_mtu server "$fam" "$old" && eq none route_mtu mobile "$fam" "$srv"'
	t_check "the kernels saw none (TcpExtOutOfWindowIcmps +0)" \
		eval 'eq "$s_oow" oow server && eq "$m_oow" oow mobile'

	t_begin "IPv$fam O. an error quoting the wire tuple outside the window: translated, ignored by the kernel as for plain TCP"
	stats_snap server "$LAB_DIR/$name-o-s"
	s_oow=$(oow server)
	t_check "$N to the server quoting $srv:$port -> $new:$mwport, seq SND.UNA + 2^31" \
		ic router pmtu --src "${GW[s]}" --dst "$srv" --qsrc "$srv" --qsport "$port" \
		--qdst "$new" --qdport "$mwport" --seq $(((s_una + (1 << 31)) & 0xffffffff)) --mtu "$PMTU" --count "$N"
	t_check "server: icmp_xlate_in +$N" lab_wait_until 5 eq "$N" cdelta server "$LAB_DIR/$name-o-s" icmp_xlate_in
	t_check "its kernel ignored them: TcpExtOutOfWindowIcmps +$N" lab_wait_until 5 eq $((s_oow + N)) oow server
	t_check "path MTU stays 1500" eq 1500 tcpfield server "$port" pmtu

	t_begin "IPv$fam W. errors quoting the wire tuple with SND.UNA: translated, path MTU $PMTU (as for plain TCP)"
	stats_snap server "$LAB_DIR/$name-w-s"
	stats_snap mobile "$LAB_DIR/$name-w-m"
	t_check "1 to the server quoting $srv:$port -> $new:$mwport" \
		ic router pmtu --src "${GW[s]}" --dst "$srv" --qsrc "$srv" --qsport "$port" \
		--qdst "$new" --qdport "$mwport" --seq "$s_una" --mtu "$PMTU"
	t_check "1 to the mobile quoting $new:$mwport -> $srv:$port" \
		ic router pmtu --src "${GW[b]}" --dst "$new" --qsrc "$new" --qsport "$mwport" \
		--qdst "$srv" --qdport "$port" --seq "$m_una" --mtu "$PMTU"
	t_check "both translated (icmp_xlate_in +1 each)" \
		lab_wait_until 5 eval 'eq 1 cdelta server "$LAB_DIR/$name-w-s" icmp_xlate_in && eq 1 cdelta mobile "$LAB_DIR/$name-w-m" icmp_xlate_in'
	t_check "both sockets lower their path MTU to $PMTU" \
		lab_wait_until 5 eval 'eq "$PMTU" tcpfield server "$port" pmtu && eq "$PMTU" tcpfield mobile "$port" pmtu'
	t_check "the server's route to the socket address $old has MTU $PMTU" eq "$PMTU" route_mtu server "$fam" "$old"

	t_begin "IPv$fam: the flow is as it was, and the rest of the file arrives byte-exact"
	t_check "translations unchanged on both ends" \
		eval 'xmaps server | diff "$LAB_DIR/$name-sx" - && xmaps mobile | diff "$LAB_DIR/$name-mx" -'
	t_check "what the agents wrote of the flow unchanged on both ends" \
		eval 'eq "$s_agent" agent_part server && eq "$m_agent" agent_part mobile'
	t_check "still 1 migration on each end" \
		eval 'eq 1 flow_field mobile migrations && eq 1 flow_field server migrations'
	: >"$LAB_DIR/go-$name"
	t_check "the second half arrives" lab_wait_until 60 eq $((HALF * 2)) fsize "$LAB_DIR/$name.got"
	lab_release "$name"
	t_check "sender and receiver finish (exit 0)" eval "lab_bg_wait cli-$name 30 && lab_bg_wait srv-$name 30"
	t_check "$SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$name.got"
	t_check "the flow is gone on both ends" \
		eval 'lab_wait_until 10 eq 0 nflows mobile && lab_wait_until 10 eq 0 nflows server'
	unset -n A GW
	move_b_to_a
done

t_summary
