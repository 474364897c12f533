#!/usr/bin/env bash
# Checksums of translated segments with veth offloads on and off: a
# download and an upload (IPv4 and IPv6) each migrate from net A to net B
# and finish byte-exact (sha256), while no host counts a checksum error
# (/proc/net/snmp and snmp6 InCsumErrors), the kernel logs no "hw csum
# failure", and (offloads off, where every frame carries a full checksum)
# tcpdump -vv on the router's server-side link flags no checksum.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 x-x a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 - - b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#
# Modes (ethtool -K on every veth end, both hosts and the router):
#   off    tx/rx checksumming, TSO, GSO, GRO off.  TCP still hands the TC
#          egress hook CHECKSUM_PARTIAL segments (the pseudo-header sum in
#          the field); the device then computes the checksum in software
#          from what the translation left: a wrong pseudo-header update
#          shows as InCsumErrors at the receiver and on the router's wire.
#   on     all on, GRO too: the hooks see GSO super-packets (egress) and
#          GRO packets (ingress), CHECKSUM_PARTIAL; veth passes them on as
#          they are, so only the transfer's bytes can tell.
#   mixed  hosts all on, the router's ends with checksumming, TSO and GSO
#          off: the router segments the translated GSO packets and
#          computes their checksums in software from the translated
#          pseudo-header sum; the receiver checks every segment.
#   big    as "on", plus BIG TCP on the hosts' and the router's ends
#          (gso_max_size, and gso_ipv4_max_size where iproute2 has it,
#          150000; Linux 6.3+), the flow migrating first and the data
#          then sent at full speed: GSO packets over 64 KiB, IP length 0
#          (counted big_tcp, shown: on Linux 6.18 veth with iproute2 6.1
#          none came).  Skipped where the kernel does not take the sizes.
#
# MIG_OFFLOAD_MODES (default "off on mixed big") picks modes.
#
# Not covered here: CHECKSUM_COMPLETE (veth never delivers it; see
# test_csum_complete.sh, where a UDP tunnel does and a tracer checks
# skb->csum).  No virtual device delivers it with a hardware sum, so "hw
# csum failure" can only come from a real NIC; the dmesg check is there for
# such a run.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-24}
RATE=${MIG_TEST_RATE:-8m}       # pv rate limit: a transfer lasts ~3 s

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

# every veth end of the lab, as HOST:IF
HOST_IFS="mobile:eth0 mobile:eth1 server:eth0 server:eth1"
ROUTER_IFS="router:a0 router:b0 router:s0 router:t0"

# offloads HOST:IF... VALUE: tx/rx checksumming, TSO, GSO, GRO to VALUE;
# fails if ethtool does not report them so afterwards
offloads() {
	local v=${*: -1} e f
	for e in "${@:1:$#-1}"; do
		lab_nsexec "${e%%:*}" ethtool -K "${e#*:}" tx "$v" rx "$v" tso "$v" gso "$v" gro "$v" \
			>/dev/null 2>&1
		for f in tx-checksumming rx-checksumming tcp-segmentation-offload \
			generic-segmentation-offload generic-receive-offload; do
			lab_nsexec "${e%%:*}" ethtool -k "${e#*:}" | grep -q "^$f: $v" || {
				echo "$e: $f is not $v" >&2
				return 1
			}
		done
	done
}

# bigtcp HOST:IF... SIZE: GSO/GRO limits for IPv6 (IPv4 too where this
# iproute2 knows gso_ipv4_max_size)
bigtcp() {
	local v=${*: -1} e
	for e in "${@:1:$#-1}"; do
		lab_nsexec "${e%%:*}" ip link set dev "${e#*:}" gso_max_size "$v" gro_max_size "$v" ||
			return 1
		lab_nsexec "${e%%:*}" ip link set dev "${e#*:}" gso_ipv4_max_size "$v" \
			gro_ipv4_max_size "$v" 2>/dev/null || true
	done
}

# csum_errs HOST: the host's InCsumErrors (IP, ICMP, TCP, UDP; v4 and v6)
csum_errs() {
	lab_nsexec "$1" cat /proc/net/snmp /proc/net/snmp6 | awk '
		/^[A-Za-z]+: / && !($1 in hdr) { hdr[$1] = 1; for (i = 2; i <= NF; i++) name[$1, i] = $i; next }
		/^[A-Za-z]+: / { for (i = 2; i <= NF; i++) if (name[$1, i] == "InCsumErrors") s += $i; next }
		$1 ~ /InCsumErrors$/ { s += $2 }
		END { print s + 0 }'
}
hw_fail() { dmesg 2>/dev/null | grep -c 'hw csum failure'; }
# capture_bad NAME: frames of a capture whose checksums tcpdump flags
capture_bad() { lab_capture_read "$1" -vv | grep -cE 'incorrect|bad cksum'; }

port=6000

# start_transfer NAME FAMILY(4|6) DIR(down|up) [idle]: as test_migrate.sh;
# with "idle" the sender stops after the first MiB (the flow is keyed by
# then) until go NAME, and the rest goes at full speed (no rate limit)
start_transfer() {
	local name=$1 fam=$2 dir=$3 addr pre="" rate="pv -qL $RATE"
	port=$((port + 1))
	if [ "$fam" = 4 ]; then addr=${TOPO_V4[server.s]}; else addr="[${TOPO_V6[server.s]}]"; fi
	mkfifo "$LAB_DIR/$name.hold"
	if [ "${4:-}" = idle ]; then
		mkfifo "$LAB_DIR/$name.go"
		pre="head -c 1048576 $LAB_DIR/big; cat $LAB_DIR/$name.go; tail -c +1048577"
		rate=cat
	fi
	if [ "$dir" = down ]; then
		lab_bg server "srv-$name" sh -c "{ ${pre:-cat} $LAB_DIR/big; cat $LAB_DIR/$name.hold; } | socat -u STDIN TCP$fam-LISTEN:$port,reuseaddr"
		lab_wait_listen server "$port"
		lab_bg mobile "cli-$name" sh -c "socat -u TCP$fam:$addr:$port STDOUT | $rate > $LAB_DIR/$name.got"
	else
		lab_bg server "srv-$name" sh -c "socat -u TCP$fam-LISTEN:$port,reuseaddr STDOUT | $rate > $LAB_DIR/$name.got"
		lab_wait_listen server "$port"
		lab_bg mobile "cli-$name" sh -c "{ ${pre:-cat} $LAB_DIR/big; cat $LAB_DIR/$name.hold; } | socat -u STDIN TCP$fam:$addr:$port"
	fi
	lab_wait_until 5 eq 1 nflows mobile
	if [ -n "$pre" ]; then
		lab_wait_until 5 ge 1048576 fsize "$LAB_DIR/$name.got"
	else
		lab_wait_until 5 ge $((2 << 20)) fsize "$LAB_DIR/$name.got"
	fi
}

# go NAME: an idle transfer's sender starts
go() { timeout 10 sh -c ": > '$LAB_DIR/$1.go'"; }

finish_transfer() {
	local name=$1
	if ! _lab_dead "$(lab_bg_pid "srv-$name")" && ! _lab_dead "$(lab_bg_pid "cli-$name")"; then
		timeout 120 sh -c ": > '$LAB_DIR/$name.hold'" || true
	fi
	t_check "$name: sender and receiver finish" eval "lab_bg_wait cli-$name 60 && lab_bg_wait srv-$name 60"
	t_check "$name: $SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum "$name.got"
}

run_mode() {
	local mode=$1 fam dir name e0m e0s e0r hw0 xi0 xo0 big0 new
	for fam in 4 6; do
		for dir in down up; do
			name="$mode-v$fam-$dir"
			t_begin "offloads $mode: IPv$fam ${dir}load migrates from net A to net B"
			e0m=$(csum_errs mobile) e0s=$(csum_errs server) e0r=$(csum_errs router) hw0=$(hw_fail)
			xi0=$(counter mobile xlate_in) xo0=$(counter server xlate_out)
			[ "$dir" = up ] && { xi0=$(counter server xlate_in); xo0=$(counter mobile xlate_out); }
			big0=$(( $(counter mobile big_tcp) + $(counter server big_tcp) ))
			[ "$mode" = off ] && lab_capture_start router s0 "cap-$name" tcp port "$((port + 1))"
			# BIG TCP: GSO packets grow past 64 KiB only at full speed,
			# so there the flow migrates first, idle, then sends
			start_transfer "$name" "$fam" "$dir" "$([ "$mode" = big ] && echo idle)"
			topo_leave mobile a
			topo_at mobile b
			if [ "$fam" = 4 ]; then new=${TOPO_V4[mobile.b]}; else new=${TOPO_V6[mobile.b]}; fi
			t_check "$name: migrated (mobile's wire address $new)" \
				lab_wait_until 5 eq "$new" flow_field mobile wire.local.addr
			[ "$mode" = big ] && t_check "$name: the sender starts" go "$name"
			finish_transfer "$name"
			if [ "$dir" = down ]; then
				t_check "$name: the server translated on egress" lt_counter "$xo0" server xlate_out
				t_check "$name: the mobile translated on ingress" lt_counter "$xi0" mobile xlate_in
			else
				t_check "$name: the mobile translated on egress" lt_counter "$xo0" mobile xlate_out
				t_check "$name: the server translated on ingress" lt_counter "$xi0" server xlate_in
			fi
			t_check "$name: no checksum errors on the mobile" eq "$e0m" csum_errs mobile
			t_check "$name: no checksum errors on the server" eq "$e0s" csum_errs server
			t_check "$name: no checksum errors on the router" eq "$e0r" csum_errs router
			t_check "$name: no 'hw csum failure' in the kernel log" eq "$hw0" hw_fail
			if [ "$mode" = off ]; then
				lab_capture_stop "cap-$name"
				t_check "$name: the router's capture has the transfer" \
					ge 1000 lab_capture_count "cap-$name"
				t_check "$name: tcpdump -vv flags no checksum on the router's s0" \
					eq 0 capture_bad "cap-$name"
				rm -f "$LAB_DIR/cap-$name.pcap"
			fi
			if [ "$mode" = big ]; then
				# shown, not required: whether TCP builds GSO packets
				# over 64 KiB here depends on the kernel, iproute2
				# (gso_ipv4_max_size) and the machine's speed
				echo "   $name: big_tcp counted $(( $(counter mobile big_tcp) + $(counter server big_tcp) - big0 )) segment(s)"
			fi
			topo_leave mobile b
			topo_at mobile a
			lab_wait_until 5 eq 0 nflows mobile
		done
	done
}
# lt_counter N HOST NAME: the counter went past N
lt_counter() { local n; n=$(counter "$2" "$3"); [ -n "$n" ] && [ "$n" -gt "$1" ]; }

for mode in ${MIG_OFFLOAD_MODES:-off on mixed big}; do
	case $mode in
	off)
		t_begin "offloads off on every veth end"
		t_check "ethtool sets them off" offloads $HOST_IFS $ROUTER_IFS off
		;;
	on)
		t_begin "offloads on on every veth end, GRO too"
		t_check "ethtool sets them on" offloads $HOST_IFS $ROUTER_IFS on
		;;
	mixed)
		t_begin "offloads on on the hosts, off on the router"
		t_check "ethtool sets the hosts' on" offloads $HOST_IFS on
		t_check "ethtool sets the router's off" offloads $ROUTER_IFS off
		;;
	big)
		t_begin "BIG TCP: offloads on, GSO/GRO limits 150000"
		t_check "ethtool sets every end on" offloads $HOST_IFS $ROUTER_IFS on
		if ! bigtcp $HOST_IFS $ROUTER_IFS 150000 2>"$LAB_DIR/bigtcp.err"; then
			echo "   skipped: $(head -n 1 "$LAB_DIR/bigtcp.err")"
			continue
		fi
		;;
	*)
		t_fail "unknown mode '$mode'"
		continue
		;;
	esac
	[ "$T_RC" = 0 ] && run_mode "$mode"
done

t_summary
