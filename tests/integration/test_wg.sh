#!/usr/bin/env bash
# Migration onto a WireGuard tunnel: the mobile host leaves its plain veth
# path for a WireGuard tunnel (wireguard-go: a tun device, no link-layer
# header; this kernel has no in-kernel WireGuard), its new address being the
# tunnel's.  Downloads and uploads across the move finish byte-exact on the
# same socket, IPv4 and IPv6; the agent serves the tunnel with the L3
# programs (mig_in_tc_l3, mig_out_tc_l3); on the tunnel device no segment
# carries the old address and no RST is seen, nor at the server.  Then
# --xdp refuses the tunnel by name.
#
#   mobile (agent)                              router (fwd)                   server (agent)
#   eth0 192.0.2.1/24    2001:db8:a::1/64 x-x-x a0 192.0.2.254  2001:db8:a::fe
#   eth1 198.51.100.1/24 --------------------- b0 198.51.100.254             (WireGuard's UDP underlay)
#   wgm 203.0.113.129/32 2001:db8:c::1/128 - - wgr (peer: those two)
#                                              s0 203.0.113.126/25 2001:db8:5::fe --- eth0 203.0.113.1/25 2001:db8:5::1/64
#
# wgm and wgr carry a per-run suffix: wireguard-go's control sockets live in
# /var/run/wireguard/, shared by every namespace.  Skipped (a "SKIP:" line,
# reported by tests/run.sh) only when /dev/net/tun is missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"

SIZE_MB=${MIG_TEST_MB:-64}
# the sender is paced (pv), so data flows until the end whatever the
# buffers hold: a transfer lasts ~16 s, the move comes after ~2 s
RATE=${MIG_TEST_RATE:-4m}

if [ ! -c /dev/net/tun ]; then
	echo "SKIP: /dev/net/tun is missing (no tun driver): WireGuard through wireguard-go needs it"
	echo "0 passed, 0 failed"
	exit 0
fi
for c in wireguard-go wg tcpdump socat pv; do
	if ! command -v "$c" >/dev/null; then
		echo "test_wg: '$c' not found; run scripts/install-deps.sh" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done

lab_init
WGM=wm$LAB_SUFFIX
WGR=wr$LAB_SUFFIX
NEW4=203.0.113.129
NEW6=2001:db8:c::1
OLD4=192.0.2.1
OLD6=2001:db8:a::1
SRV4=203.0.113.1
SRV6=2001:db8:5::1
WG_PORT=51820

lab_host mobile
lab_host server
lab_host router router
lab_link mobile eth0 router a0
lab_link mobile eth1 router b0
lab_link server eth0 router s0
lab_addr router a0 192.0.2.254/24
lab_addr router a0 2001:db8:a::fe/64
lab_addr router b0 198.51.100.254/24
lab_addr router s0 203.0.113.126/25
lab_addr router s0 2001:db8:5::fe/64
lab_addr mobile eth1 198.51.100.1/24
lab_addr server eth0 $SRV4/25
lab_addr server eth0 $SRV6/64
lab_route server -4 add default via 203.0.113.126
lab_route server -6 add default via 2001:db8:5::fe

on_plain() {
	lab_addr mobile eth0 $OLD4/24
	lab_addr mobile eth0 $OLD6/64
	lab_route mobile -4 replace default via 192.0.2.254 dev eth0
	lab_route mobile -6 replace default via 2001:db8:a::fe dev eth0
}
on_plain

lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

# wg_start HOST IF: wireguard-go in HOST's netns, in the foreground (killed
# by the lab's cleanup); its control socket removed even if it is killed
wg_start() {
	lab_defer rm -f "/var/run/wireguard/$2.sock"
	lab_bg "$1" "wg-$1" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error wireguard-go -f "$2"
	lab_wait_until 5 lab_nsexec "$1" ip link show dev "$2" >/dev/null 2>&1
}
wg_key() { (umask 077 && wg genkey >"$LAB_DIR/$1.key" && wg pubkey <"$LAB_DIR/$1.key" >"$LAB_DIR/$1.pub"); }

# the tunnel: made after the agent started, so the agent also has to find
# the new device and attach to it
tunnel_up() {
	wg_key mobile
	wg_key router
	wg_start router "$WGR"
	lab_nsexec router wg set "$WGR" private-key "$LAB_DIR/router.key" listen-port $WG_PORT \
		peer "$(cat "$LAB_DIR/mobile.pub")" allowed-ips $NEW4/32,$NEW6/128
	lab_nsexec router ip link set "$WGR" up
	lab_route router -4 add $NEW4/32 dev "$WGR"
	lab_route router -6 add $NEW6/128 dev "$WGR"
	wg_start mobile "$WGM"
	lab_nsexec mobile wg set "$WGM" private-key "$LAB_DIR/mobile.key" \
		peer "$(cat "$LAB_DIR/router.pub")" allowed-ips 0.0.0.0/0,::/0 \
		endpoint 198.51.100.254:$WG_PORT persistent-keepalive 1
	lab_nsexec mobile ip link set "$WGM" up
	lab_addr mobile "$WGM" $NEW4/32
	lab_addr mobile "$WGM" $NEW6/128
}

# move_to_wg: break-before-make, the plain path's addresses go, then the
# default routes point into the tunnel
move_to_wg() {
	[ -n "$(lab_nsexec mobile ip link show dev "$WGM" 2>/dev/null)" ] || tunnel_up
	lab_addr_del mobile eth0 $OLD4/24
	lab_addr_del mobile eth0 $OLD6/64
	lab_route mobile -4 replace default dev "$WGM" src $NEW4
	lab_route mobile -6 replace default dev "$WGM" src $NEW6
}
move_back() {
	lab_route mobile -4 del default dev "$WGM" 2>/dev/null
	lab_route mobile -6 del default dev "$WGM" 2>/dev/null
	on_plain
}

tc_has() { lab_nsexec "$1" tc filter show dev "$2" "$3" | grep -q "$4"; }

# the capture of NAME: how many packets show flag R (RST)
rst_count() { lab_capture_read "$1" | grep -c 'Flags \[[^]]*R' || true; }
# ... and how many carry the old address (either end)
old_count() { lab_capture_count "$1" "host $OLD4 or host $OLD6"; }
show_cap() { echo "$2 packet(s):"; lab_capture_read "$1" | head -n 5; }
no_rst() { local n; n=$(rst_count "$1"); [ "$n" = 0 ] || { show_cap "$1" "$n"; return 1; }; }
# no_old NAME: no segment with the old address once the tunnel address
# appeared in the capture.  (Before that, the mobile's IPv6 socket may send
# a few with its deleted source address by the new route: the kernel does
# not check an IPv6 source, and the data path holds the flow only once the
# agent has seen the address go.  Those are counted and shown, not failed.)
no_old() {
	local out
	out=$(lab_capture_read "$1" | awk -v o4="$OLD4" -v o6="$OLD6" -v n4="$NEW4" -v n6="$NEW6" '
		function has(a) { return index($0, " " a ".") || index($0, "> " a ".") }
		!seen && (has(n4) || has(n6)) { seen = 1 }
		has(o4) || has(o6) { if (seen) { late++; if (late <= 5) ex = ex $0 "\n" } else early++ }
		END { printf "%d %d\n%s", early + 0, late + 0, ex }')
	echo "   $(head -n 1 <<<"$out" | awk '{ print $1 }') segment(s) with the old address before the first with the tunnel address"
	[ "$(head -n 1 <<<"$out" | awk '{ print $2 }')" = 0 ] || { tail -n +2 <<<"$out"; return 1; }
}

port=7000
for fam in 4 6; do
	for dir in down up; do
		name="wg-v$fam-$dir"
		t_begin "IPv$fam $dir""load moves from the plain path onto the WireGuard tunnel"
		port=$((port + 1))
		if [ "$fam" = 4 ]; then addr=$SRV4 new=$NEW4; else addr="[$SRV6]" new=$NEW6; fi
		# the tunnel and the captures first: the move follows the
		# first 8 MiB at once, however slow the machine
		[ -n "$(lab_nsexec mobile ip link show dev "$WGM" 2>/dev/null)" ] || tunnel_up
		lab_capture_start mobile "$WGM" "$name-wg" "tcp"
		lab_capture_start server eth0 "$name-srv" "tcp port $port"
		mkfifo "$LAB_DIR/$name.hold"
		if [ "$dir" = down ]; then
			lab_bg server "srv-$name" sh -c "{ pv -qL $RATE $LAB_DIR/big; cat $LAB_DIR/$name.hold; } | socat -u STDIN TCP$fam-LISTEN:$port,reuseaddr"
			lab_wait_listen server "$port"
			lab_bg mobile "cli-$name" sh -c "socat -u TCP$fam:$addr:$port STDOUT > $LAB_DIR/$name.got"
		else
			lab_bg server "srv-$name" sh -c "socat -u TCP$fam-LISTEN:$port,reuseaddr STDOUT > $LAB_DIR/$name.got"
			lab_wait_listen server "$port"
			lab_bg mobile "cli-$name" sh -c "{ pv -qL $RATE $LAB_DIR/big; cat $LAB_DIR/$name.hold; } | socat -u STDIN TCP$fam:$addr:$port"
		fi
		t_check "$name: keyed on both ends" eval 'lab_wait_until 5 eq 1 nflows mobile && lab_wait_until 5 eq 1 nflows server'
		lab_wait_until 10 ge $((8 << 20)) fsize "$LAB_DIR/$name.got"
		cookie=$(flow_field mobile cookie)
		xo=$(counter mobile xlate_out)
		move_to_wg
		t_check "$name: the agent serves the tunnel with the L3 programs" \
			lab_wait_until 5 eval "tc_has mobile $WGM ingress mig_in_tc_l3 && tc_has mobile $WGM egress mig_out_tc_l3"
		t_check "$name: mobile lists 1 migration" lab_wait_until 10 eq 1 flow_field mobile migrations
		t_check "$name: server lists 1 migration" lab_wait_until 5 eq 1 flow_field server migrations
		t_check "$name: the same socket (cookie)" eq "$cookie" flow_field mobile cookie
		t_check "$name: mobile's wire address is the tunnel's ($new)" eq "$new" flow_field mobile wire.local.addr
		t_check "$name: server's wire tuple has the tunnel address" eq "$new" flow_field server wire.remote.addr
		if ! _lab_dead "$(lab_bg_pid "srv-$name")" && ! _lab_dead "$(lab_bg_pid "cli-$name")"; then
			timeout 120 sh -c ": > '$LAB_DIR/$name.hold'" || true
		fi
		t_check "$name: sender and receiver finish" eval "lab_bg_wait cli-$name 60 && lab_bg_wait srv-$name 60"
		t_check "$name: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$name.got"
		t_check "$name: the mobile translated its segments into the tunnel" \
			ge $((xo + 1)) counter mobile xlate_out
		lab_capture_stop "$name-wg"
		lab_capture_stop "$name-srv"
		t_check "$name: data crossed the tunnel (100 segments or more)" ge 100 lab_capture_count "$name-wg"
		t_check "$name: no segment with the old address ($OLD4, $OLD6) on the tunnel after the first with the tunnel's" no_old "$name-wg"
		t_check "$name: no RST on the tunnel" no_rst "$name-wg"
		t_check "$name: no RST at the server" no_rst "$name-srv"
		t_check "$name: flow state removed after close" lab_wait_until 5 eq 0 nflows mobile
		move_back
	done
done

t_begin "the agent says how it serves the tunnel"
t_check "attached without a link-layer header" \
	grep -q "attached to interface '$WGM' (TC ingress, no link-layer header)" "$LAB_DIR/agent-mobile.log"
t_check "the agent reports no error about the tunnel" \
	eval "! grep -E \"interface '$WGM'.*(not served|cannot)\" '$LAB_DIR/agent-mobile.log'"

t_begin "--xdp refuses the tunnel by name and leaves nothing of the agent on it"
lab_agent_kill mobile
lab_agent_start mobile --xdp
t_check "the refusal names the tunnel" \
	grep -q "interface '$WGM' has no link-layer header (link type 65534): --xdp serves Ethernet devices only" "$LAB_DIR/agent-mobile.log"
t_check "the earlier run's TC filters are gone from the tunnel" \
	eval "! tc_has mobile $WGM ingress mig_in_tc && ! tc_has mobile $WGM egress mig_out_tc"
t_check "no XDP program on the tunnel" eval "! lab_nsexec mobile ip link show dev $WGM | grep -q xdp"
t_check "Ethernet interfaces served by XDP" eval "lab_nsexec mobile ip link show dev eth0 | grep -q xdp"
# every address event makes the agent look at the interfaces again: the
# refusal is said once, not at each event.  (An event queued before a
# control request is handled, with its interface pass, before the agent
# answers the request after that one.)
for a in 2001:db8:ffff::1 2001:db8:ffff::2; do
	lab_nsexec mobile ip -6 addr add "$a/128" dev lo
	lab_ctl mobile show >/dev/null && lab_ctl mobile show >/dev/null
	lab_nsexec mobile ip -6 addr del "$a/128" dev lo
	lab_ctl mobile show >/dev/null && lab_ctl mobile show >/dev/null
done
t_check "after four address events the refusal is still said once" \
	eq 1 grep -c "interface '$WGM' has no link-layer header" "$LAB_DIR/agent-mobile.log"

t_summary
