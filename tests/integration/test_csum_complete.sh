#!/usr/bin/env bash
# CHECKSUM_COMPLETE packets through the TC ingress translation: a
# download and an upload, IPv4 and IPv6, each migrate from net A to net B
# and finish byte-exact (sha256), and no translated data segment reaches
# TCP with an skb->csum that does not match the packet.  Both ends
# translate on ingress (the mobile, which moved, in downloads; the server,
# whose peer moved, in uploads).
#
#   mobile (agent)                                          server (agent)
#   vxa 192.0.2.1/24     2001:db8:a::1/64 x-x-x-x-x-x-x-x  vxa 192.0.2.254/24    2001:db8:a::fe/64
#   vxb 198.51.100.1/24  2001:db8:b::1/64 - - - - - - - -  vxb 198.51.100.254/24 2001:db8:b::fe/64
#   ga  (l3 mode: net A) - - - - - - - - - - su (fwd)       lo  203.0.113.200/32  2001:db8:5::1/128
#   gb  (l3 mode: net B) - - - - - - - - - - ra, rb
#                                            s0 203.0.113.129/25 -- eth0 203.0.113.130/25
#                                               2001:db8:6::fe/64     2001:db8:6::1/64
#   mu (underlay)                            su (underlay)
#   u0 203.0.113.1/25 ---------------------- u0 203.0.113.2/25
#
#   vxa, vxb: VXLAN 10 and 11 with outer UDP checksums (udpcsum), made in
#   mu and su (their sockets stay there) and moved into the hosts.
#   ga, gb / ra, rb: VXLAN-GPE (no link-layer header, so the mobile's
#   agent attaches mig_in_tc_l3), ports 4790 and 4791; su routes between
#   them and the server's eth0.
#
# Modes (MIG_CSUM_MODES, default "eth l3"):
#   eth  the mobile and the server on vxa/vxb: mig_in_tc at both ends,
#        downloads and uploads.
#   l3   the mobile on ga/gb: mig_in_tc_l3 at the mobile, downloads only.
#        Linux has VXLAN-GPE only in external (metadata) mode, where an
#        answer sent back out of the device it came in on has no tunnel
#        key and is dropped; so the server, which answers the Migrate SYN
#        in its TC ingress, stays behind su on a veth (whose packets are
#        not CHECKSUM_COMPLETE: uploads would show nothing).
#
# Why tunnels: no virtual device hands the stack a CHECKSUM_COMPLETE packet
# (veth never does, BPF_PROG_TEST_RUN neither).  A UDP tunnel with outer
# checksums does: the underlay's veth ends compute every checksum in
# software (tx off), the tunnel socket checks the outer UDP sum in
# software (__skb_checksum_complete), which leaves the skb
# CHECKSUM_COMPLETE with the sum over the packet, and decapsulation keeps
# it so (skb_pull_rcsum, skb_postpull_rcsum).  GRO is off on the tunnel
# devices so that no segments are merged (a merged packet is
# CHECKSUM_PARTIAL).
#
# What is checked: tests/bpf/csum_watch.bpf.c (loaded by csum_watch)
# counts, per host, CHECKSUM_COMPLETE packets received (netif_receive_skb,
# before TC ingress) and, at tcp_probe (a segment of an established
# connection), the data segments that came straight from tcp_v4_rcv/
# tcp_v6_rcv, which has just compared skb->csum with the packet: those
# whose skb->csum matched and those whose did not.  A mismatch is what a
# real NIC reports as "hw csum failure"; here the kernel made the sum
# itself (csum_complete_sw) and sums the segment again silently, so only
# the tracer sees it.  Segments that came while the socket was busy went
# through its backlog, which sums a mismatched one again first: they are
# counted apart, unknown (few: the sender is paced, the reader keeps up).
# Counted from the commit on, when every segment of the flow is
# translated: on this 6.18 machine 6000 to 9400 direct data segments a
# run, none mismatched.  With the IPv6 translation before
# bpf_csum_update gave back the pseudo-header change (mig_rewrite), every
# IPv6 run here fails (none matched, 6500 to 7900 mismatched), the IPv4
# ones pass.
#
# Not checked: ICMP errors translated on ingress (icmp_in).  ICMP sums a
# mismatched CHECKSUM_COMPLETE message again at once, inside icmp_rcv,
# where no tracepoint sees it (fentry and kprobes are refused here).
#
# Skipped (a "SKIP:" line) where the tracer cannot load (tp_btf) or the
# kernel delivers no CHECKSUM_COMPLETE segments this way (the first
# transfer's first MiBs, before any move, bring none to TCP directly).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"

SIZE_MB=${MIG_TEST_MB:-16}
RATE=${MIG_TEST_RATE:-6m}       # pv rate limit at the sender: a transfer lasts ~3 s

for c in socat pv ethtool bpftool; do
	if ! command -v "$c" >/dev/null; then
		echo "test_csum_complete: '$c' not found; run scripts/install-deps.sh" >&2
		echo "0 passed, 1 failed"
		exit 1
	fi
done
WATCH=$LAB_BUILD/tests/csum_watch
if [[ ! -x $WATCH || ! -e $WATCH.bpf.o ]]; then
	echo "test_csum_complete: no $WATCH(.bpf.o); make BUILD=... $WATCH $WATCH.bpf.o" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

lab_init
lab_host mobile
lab_host server
lab_host mu
lab_host su router
lab_link mu u0 su u0
lab_addr mu u0 203.0.113.1/25
lab_addr su u0 203.0.113.2/25
# the server's link to su, for the l3 mode (su routes there)
lab_link su s0 server eth0
lab_addr su s0 203.0.113.129/25
lab_addr su s0 2001:db8:6::fe/64
lab_addr server eth0 203.0.113.130/25
lab_addr server eth0 2001:db8:6::1/64
# every underlay checksum in software: the outer UDP sum is then checked in
# software on receipt, which is what makes the inner skb CHECKSUM_COMPLETE
lab_nsexec mu ethtool -K u0 tx off >/dev/null
lab_nsexec su ethtool -K u0 tx off >/dev/null

# vxlan HOST UNDERLAY NAME VNI LOCAL REMOTE: made in the underlay host (its
# UDP socket stays there), moved into HOST
vxlan() {
	ip -n "$(lab_ns "$2")" link add "$3" type vxlan id "$4" local "$5" remote "$6" \
		dstport 4789 udpcsum &&
		ip -n "$(lab_ns "$2")" link set "$3" netns "$(lab_ns "$1")" &&
		lab_nsexec "$1" ethtool -K "$3" gro off >/dev/null &&
		ip -n "$(lab_ns "$1")" link set "$3" up
}
if ! { vxlan mobile mu vxa 10 203.0.113.1 203.0.113.2 &&
	vxlan mobile mu vxb 11 203.0.113.1 203.0.113.2 &&
	vxlan server su vxa 10 203.0.113.2 203.0.113.1 &&
	vxlan server su vxb 11 203.0.113.2 203.0.113.1; } 2>"$LAB_DIR/vxlan.err"; then
	echo "SKIP: no VXLAN devices here: $(head -n 1 "$LAB_DIR/vxlan.err")"
	echo "0 passed, 0 failed"
	exit 0
fi
# gpe HOST NAME PORT: a VXLAN-GPE device (no link-layer header,
# ARPHRD_NONE: the agent attaches mig_in_tc_l3); external, the only way
# Linux has GPE: routes name the far end and ask for outer checksums
gpe() {
	ip -n "$(lab_ns "$1")" link add "$2" type vxlan gpe external dstport "$3" &&
		lab_nsexec "$1" ethtool -K "$2" gro off >/dev/null &&
		ip -n "$(lab_ns "$1")" link set "$2" up
}
# the mobile's ends, made in mu and moved in as vxlan() does; the other
# ends stay in su, which routes between them and the server's eth0
GPE_ERR=
for n in a b; do
	p=479$([ $n = a ] && echo 0 || echo 1)
	if ! { gpe mu "g$n" "$p" &&
		ip -n "$(lab_ns mu)" link set "g$n" netns "$(lab_ns mobile)" &&
		ip -n "$(lab_ns mobile)" link set "g$n" up &&
		lab_nsexec mobile ethtool -K "g$n" gro off >/dev/null &&
		gpe su "r$n" "$p"; } 2>"$LAB_DIR/gpe.err"; then
		GPE_ERR=$(head -n 1 "$LAB_DIR/gpe.err")
		break
	fi
done
lab_addr server lo 203.0.113.200/32
lab_addr server lo 2001:db8:5::1/128
SRV4=203.0.113.200 SRV6=2001:db8:5::1

declare -A V4=([a]=192.0.2.1 [b]=198.51.100.1) V6=([a]=2001:db8:a::1 [b]=2001:db8:b::1)
declare -A GW4=([a]=192.0.2.254 [b]=198.51.100.254) GW6=([a]=2001:db8:a::fe [b]=2001:db8:b::fe)
declare -A NET4=([a]=192.0.2.0/24 [b]=198.51.100.0/24) NET6=([a]=2001:db8:a::/64 [b]=2001:db8:b::/64)
# the mobile's device on net N (a, b) in the current mode
MODE=eth
dev() { if [ "$MODE" = eth ]; then echo "vx$1"; else echo "g$1"; fi; }
# the route to the server over net N's device: by the server's address
# there (eth), or straight into the tunnel to the server's underlay (l3)
via() {
	if [ "$MODE" = eth ]; then
		if [ "$1" = -4 ]; then echo "via ${GW4[$2]}"; else echo "via ${GW6[$2]}"; fi
	else
		echo "encap ip id 10 dst 203.0.113.2 csum"   # into su's ra, rb
	fi
}
at() {
	# shellcheck disable=SC2046 # via: words
	lab_addr mobile "$(dev "$1")" "${V4[$1]}/24" &&
		lab_addr mobile "$(dev "$1")" "${V6[$1]}/64" &&
		lab_route mobile -4 replace default $(via -4 "$1") dev "$(dev "$1")" &&
		lab_route mobile -6 replace default $(via -6 "$1") dev "$(dev "$1")"
}
leave() {
	lab_addr_del mobile "$(dev "$1")" "${V4[$1]}/24" &&
		lab_addr_del mobile "$(dev "$1")" "${V6[$1]}/64"
}
# server_mode MODE: the server reaches nets A and B over vxa/vxb (eth:
# its addresses there) or through su (l3: su routes nets A and B into
# its ends of the mobile's ga and gb, and the server's lo addresses to it)
server_mode() {
	local n
	MODE=$1
	for n in a b; do
		if [ "$MODE" = eth ]; then
			lab_addr server "vx$n" "${GW4[$n]}/24" &&
				lab_addr server "vx$n" "${GW6[$n]}/64" || return 1
		else
			lab_addr_del server "vx$n" "${GW4[$n]}/24" &&
				lab_addr_del server "vx$n" "${GW6[$n]}/64" &&
				lab_route server -4 add "${NET4[$n]}" via 203.0.113.129 &&
				lab_route server -6 add "${NET6[$n]}" via 2001:db8:6::fe &&
				lab_route su -4 add "${NET4[$n]}" encap ip id 10 dst 203.0.113.1 csum dev "r$n" &&
				lab_route su -6 add "${NET6[$n]}" encap ip id 10 dst 203.0.113.1 csum dev "r$n" ||
				return 1
		fi
	done
	if [ "$MODE" = l3 ]; then
		lab_route su -4 add 203.0.113.200/32 via 203.0.113.130 &&
			lab_route su -6 add 2001:db8:5::1/128 via 2001:db8:6::1
	fi
}
server_mode eth
at a

# the tracer, watching mobile (slot 0) and server (slot 1)
PIN=$LAB_BPFFS/mig-csum-$LAB_SUFFIX
lab_defer rm -f "$PIN"
lab_bg mobile watch "$WATCH" run "$WATCH.bpf.o" "$PIN" \
	"/run/netns/$(lab_ns mobile)" "/run/netns/$(lab_ns server)"
watch_ready() { grep -q '^ready$' "$(lab_log watch)" || _lab_dead "$(lab_bg_pid watch)"; }
lab_wait_until 10 watch_ready
if ! grep -q '^ready$' "$(lab_log watch)"; then
	echo "SKIP: the tracer (tp_btf/netif_receive_skb, tp_btf/tcp_probe) does not load here: $(grep -m 1 . "$(lab_log watch)")"
	echo "0 passed, 0 failed"
	exit 0
fi
# wcount HOST NAME: one of the tracer's counters (rx4 rx6 ok4 ok6 bad4 bad6)
declare -A SLOT=([mobile]=0 [server]=1)
wcount() { "$WATCH" get "$PIN" "${SLOT[$1]}" "$2"; }

lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

port=6000
# start_transfer NAME FAMILY(4|6) DIR(down|up): as test_offload.sh, but
# paced at the sender: a receiver that keeps up reads each segment as it
# comes, so most reach TCP straight from tcp_v4_rcv/tcp_v6_rcv (paced at
# the receiver, each read opens the window while the reader holds the
# socket, and the next burst goes through the backlog, unchecked here)
start_transfer() {
	local name=$1 fam=$2 dir=$3 addr send
	port=$((port + 1))
	if [ "$fam" = 4 ]; then addr=$SRV4; else addr="[$SRV6]"; fi
	mkfifo "$LAB_DIR/$name.hold"
	send="{ pv -qL $RATE $LAB_DIR/big; cat $LAB_DIR/$name.hold; }"
	if [ "$dir" = down ]; then
		lab_bg server "srv-$name" sh -c "$send | socat -u STDIN TCP$fam-LISTEN:$port,reuseaddr"
		lab_wait_listen server "$port"
		lab_bg mobile "cli-$name" sh -c "socat -u TCP$fam:$addr:$port STDOUT > $LAB_DIR/$name.got"
	else
		lab_bg server "srv-$name" sh -c "socat -u TCP$fam-LISTEN:$port,reuseaddr STDOUT > $LAB_DIR/$name.got"
		lab_wait_listen server "$port"
		lab_bg mobile "cli-$name" sh -c "$send | socat -u STDIN TCP$fam:$addr:$port"
	fi
	lab_wait_until 5 eq 1 nflows mobile
	lab_wait_until 5 ge $((2 << 20)) fsize "$LAB_DIR/$name.got"
}
finish_transfer() {
	local name=$1
	if ! _lab_dead "$(lab_bg_pid "srv-$name")" && ! _lab_dead "$(lab_bg_pid "cli-$name")"; then
		timeout 120 sh -c ": > '$LAB_DIR/$name.hold'" || true
	fi
	t_check "$name: sender and receiver finish" eval "lab_bg_wait cli-$name 60 && lab_bg_wait srv-$name 60"
	t_check "$name: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$name.got"
}
lt_counter() { local n; n=$(counter "$2" "$3"); [ -n "$n" ] && [ "$n" -gt "$1" ]; }
# delta N HOST NAME: the tracer's counter went up by at least N
delta_ge() { local n; n=$(wcount "$2" "$3"); [ -n "$n" ] && [ "$n" -ge "$1" ]; }

# the probe: CHECKSUM_COMPLETE packets come at all (the transfers' first
# MiBs, before any move, must reach TCP as such)
probed=0
run_mode() {
for fam in 4 6; do
	for dir in $DIRS; do
		name="$MODE-v$fam-$dir"
		rcv=mobile snd=server
		[ "$dir" = up ] && rcv=server snd=mobile
		t_begin "$MODE: IPv$fam ${dir}load migrates from net A to net B, CHECKSUM_COMPLETE at the receiver"
		ok0=$(wcount "$rcv" "ok$fam") bad0=$(wcount "$rcv" "bad$fam") rx0=$(wcount "$rcv" "rx$fam")
		start_transfer "$name" "$fam" "$dir"
		if [ "$probed" = 0 ]; then
			if ! delta_ge $((ok0 + 10)) "$rcv" "ok$fam"; then
				echo "SKIP: no CHECKSUM_COMPLETE segments reach TCP through VXLAN with outer UDP checksums here (received $(( $(wcount "$rcv" "rx$fam") - rx0 )) CHECKSUM_COMPLETE packets, matched $(( $(wcount "$rcv" "ok$fam") - ok0 )), mismatched $(( $(wcount "$rcv" "bad$fam") - bad0 )))"
				echo "0 passed, 0 failed"
				exit 0
			fi
			probed=1
		fi
		t_check "$name: before the move, every CHECKSUM_COMPLETE segment matched" \
			eq "$bad0" wcount "$rcv" "bad$fam"
		xi0=$(counter "$rcv" xlate_in) xo0=$(counter "$snd" xlate_out)
		leave a
		at b
		if [ "$fam" = 4 ]; then new=${V4[b]}; else new=${V6[b]}; fi
		t_check "$name: migrated (mobile's wire address $new)" \
			lab_wait_until 5 eq "$new" flow_field mobile wire.local.addr
		# from here on every segment of the flow is translated
		ok1=$(wcount "$rcv" "ok$fam") bad1=$(wcount "$rcv" "bad$fam") late1=$(wcount "$rcv" "late$fam")
		finish_transfer "$name"
		t_check "$name: the $snd translated on egress" lt_counter "$xo0" "$snd" xlate_out
		t_check "$name: the $rcv translated on ingress ($([ "$MODE" = eth ] && echo mig_in_tc || echo mig_in_tc_l3))" \
			lt_counter "$xi0" "$rcv" xlate_in
		xi=$(( $(counter "$rcv" xlate_in) - xi0 ))
		ok=$(( $(wcount "$rcv" "ok$fam") - ok1 )) bad=$(( $(wcount "$rcv" "bad$fam") - bad1 ))
		late=$(( $(wcount "$rcv" "late$fam") - late1 ))
		echo "   $name: $rcv translated $xi segment(s) on ingress; CHECKSUM_COMPLETE data segments at TCP since the commit: $ok with skb->csum matching, $bad not, $late through the backlog (not known)"
		t_check "$name: at least 1000 translated CHECKSUM_COMPLETE data segments reached TCP directly" \
			ge 1000 echo "$((ok + bad))"
		t_check "$name: none of the transfer's with an skb->csum that does not match the packet" \
			eq "$bad0" wcount "$rcv" "bad$fam"
		leave b
		at a
		lab_wait_until 5 eq 0 nflows mobile
	done
done
}

# l3_attached: the mobile's agent attached mig_in_tc_l3 to ga and gb
l3_attached() {
	local i
	for i in ga gb; do
		grep -qF "interface '$i' (TC ingress, no link-layer header)" \
			"$(lab_log agent-mobile)" || return 1
	done
}

for mode in ${MIG_CSUM_MODES:-eth l3}; do
	case $mode in
	eth) DIRS="down up" ;;
	l3)
		DIRS=down
		if [ -n "$GPE_ERR" ]; then
			echo "   l3 skipped: no VXLAN-GPE devices here: $GPE_ERR"
			continue
		fi
		t_begin "l3: the hosts switch to VXLAN-GPE (no link-layer header)"
		leave a
		t_check "the server routes nets A and B into ga and gb" server_mode l3
		t_check "the mobile is on ga" at a
		t_check "the mobile's agent holds ga and gb with the L3 program" l3_attached
		[ "$T_RC" = 0 ] || continue
		;;
	*)
		t_fail "unknown mode '$mode'"
		continue
		;;
	esac
	run_mode
done

t_summary
