#!/usr/bin/env bash
# Addresses on lo and hosts with many addresses.
#
# A server that serves on a VIP kept on lo (anycast, direct server return)
# holds keyed connections whose address is on no Ethernet link.  Unrelated
# address and route events on the server must never move them.  A host
# with 300 addresses keeps a connection on the last address it was given
# where it is, whatever else comes and goes.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1 --- a0                  s0 --- eth0 203.0.113.1/25  2001:db8:5::1/64
#                                                                       lo   203.0.113.200/32 2001:db8:7::1/128 (VIPs)
#                                                                       eth0 also 2001:db8:5::1000..112b (300)
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-16}
VIP4=203.0.113.200
VIP6=2001:db8:7::1

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_nsexec server ip addr add "$VIP4/32" dev lo
lab_nsexec server ip addr add "$VIP6/128" dev lo
lab_route router -4 add "$VIP4/32" via 203.0.113.1
lab_route router -6 add "$VIP6/128" via 2001:db8:5::1
# 300 more IPv6 addresses on the server's link; the last one is served
for i in $(seq 0 299); do
	printf 'address add 2001:db8:5::%x/64 dev eth0 nodad\n' $((0x1000 + i))
done | lab_nsexec server ip -batch -
MANY=2001:db8:5::$(printf '%x' $((0x1000 + 299)))
lab_agent_start mobile
lab_agent_start server

lab_payload "$SIZE_MB"   # $LAB_DIR/big, $want_sum

# passes: the server's address passes so far
passes() { counter server addr_passes; }
# unrelated EVENT...: run it on the server and wait until the agent has
# checked its flows against the addresses since
unrelated() {
	local p
	p=$(passes)
	lab_nsexec server "$@"
	lab_wait_until 5 ge $((p + 1)) passes
}
# serve NAME FAMILY ADDR PORT: a paced download from ADDR:PORT to the mobile
serve() {
	lab_bg server "srv-$1" socat -u "OPEN:$LAB_DIR/big" "TCP$2-LISTEN:$4,reuseaddr"
	lab_wait_listen server "$4"
	local a=$3
	[ "$2" = 6 ] && a="[$3]"
	lab_bg mobile "cli-$1" sh -c "socat -u TCP$2:$a:$4 STDOUT | pv -qL 4m > $LAB_DIR/$1.got"
}

t_begin "connections to VIPs on lo are keyed"
serve vip4 4 "$VIP4" 7000
serve vip6 6 "$VIP6" 7001
serve many 6 "$MANY" 7002
t_check "three keyed flows on the server" lab_wait_until 5 eq 3 nflows server
t_check "the server sees 300 addresses on eth0 and more" \
	lab_wait_until 2 ge 300 eval 'lab_nsexec server ip -6 -o addr show dev eth0 | wc -l'
moves0=$(counter server moves_detected)
held0=$(counter server held_dropped)
msyn0=$(counter server msyn_sent)

t_begin "unrelated events on the server move nothing"
t_check "an address comes" unrelated ip addr add 203.0.113.2/25 dev eth0
t_check "and goes" unrelated ip addr del 203.0.113.2/25 dev eth0
t_check "another IPv6 address goes" unrelated ip addr del 2001:db8:5::1000/64 dev eth0
t_check "a second network comes up" unrelated sh -c \
	'ip addr add 203.0.113.129/25 dev eth1 && ip route replace default via 203.0.113.254 dev eth1'
t_check "and goes away again" unrelated sh -c \
	'ip route replace default via 203.0.113.126 dev eth0 && ip addr del 203.0.113.129/25 dev eth1'
t_check "a link flaps" unrelated sh -c 'ip link set eth1 down && ip link set eth1 up'
t_check "no move detected on the server" eq "$moves0" counter server moves_detected
t_check "no segment held" eq "$held0" counter server held_dropped
t_check "no Migrate SYN sent" eq "$msyn0" counter server msyn_sent
t_check_not "no 'moving' in the server's log" grep -q "moving " "$LAB_DIR/agent-server.log"

t_begin "the transfers finish byte-exact, never migrated"
for n in vip4 vip6 many; do
	t_check "$n: download completes" lab_bg_wait "cli-$n" 120
	t_check "$n: $SIZE_MB MiB byte-exact (sha256)" eq "$want_sum" got_sum "$n.got"
done
t_check "no migration committed on either end" eval \
	'[ "$(counter server committed_mover)$(counter mobile committed_fixed)" = 00 ]'

t_summary
