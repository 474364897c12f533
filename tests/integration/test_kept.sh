#!/usr/bin/env bash
# The old address kept on lo after a move is this host's for its migrated
# sockets only, never on a link again:
# - nobody on the old link gets an ARP or neighbour answer for it;
# - no packet leaves with it as source (a plain connection still bound to
#   it, or anything else that was not translated): dropped at egress;
# - once the migrated connections are closed it is gone from lo and from
#   mig_kept.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1 --- a0 (the old link, still up)
#   eth1 198.51.100.1/24   2001:db8:b::1 --- b0 (after the move)  s0 --- eth0 203.0.113.1/25 2001:db8:5::1
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-32}
OLD4=192.0.2.1
OLD6=2001:db8:a::1

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

# neigh_state ADDR: the router's neighbour state for ADDR on a0
neigh_state() {
	lab_nsexec router ip neigh show "$1" dev a0 | awk '{ print $NF }'
}
# probe ADDR: forget ADDR on a0, then make the router resolve it again
# (one UDP datagram; the kernel sends the ARP request or solicitation)
probe() {
	lab_nsexec router ip neigh del "$1" dev a0 2>/dev/null
	lab_nsexec router python3 -c '
import socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"probe", (a, 9))' "$1"
}
resolved() { case $(neigh_state "$1") in REACHABLE|STALE|DELAY|PROBE) return 0 ;; esac; return 1; }
unresolved() { [ "$(neigh_state "$1")" = FAILED ]; }

t_begin "before the move the router resolves the mobile's addresses on the old link"
probe "$OLD4"
t_check "ARP answered for $OLD4" lab_wait_until 5 resolved "$OLD4"
probe "$OLD6"
t_check "neighbour solicitation answered for $OLD6" lab_wait_until 5 resolved "$OLD6"

t_begin "a move keeps the old addresses on lo, recorded in mig_kept"
for f in 4 6; do
	lab_bg server "srv$f" socat -u "OPEN:$LAB_DIR/big" "TCP$f-LISTEN:700$f,reuseaddr"
	lab_wait_listen server "700$f"
done
lab_bg mobile cli4 sh -c "socat -u TCP4:203.0.113.1:7004 STDOUT | pv -qL 4m > $LAB_DIR/d4.got"
lab_bg mobile cli6 sh -c "socat -u TCP6:[2001:db8:5::1]:7006 STDOUT | pv -qL 4m > $LAB_DIR/d6.got"
t_check "two keyed flows" lab_wait_until 5 eq 2 nflows mobile
# a plain connection on the old address: outside the served cgroup, so
# never keyed; it keeps sending after the move
lab_bg server plainsrv socat -u TCP4-LISTEN:7100,reuseaddr /dev/null
lab_wait_listen server 7100
lab_nsexec mobile sh -c "cat /dev/zero | pv -qL 2k | socat -u - TCP4:203.0.113.1:7100" &
plain_pid=$!
lab_defer sh -c "kill $plain_pid 2>/dev/null; pkill -f 'TCP4:203.0.113.1:7100'; true"
t_check "the plain connection is up" lab_wait_until 5 eval \
	'lab_nsexec mobile ss -Htn state established "( dport = :7100 )" | grep -q 7100'
t_check "still two keyed flows (the plain one is not keyed)" eq 2 nflows mobile
src0=$(counter mobile kept_src_dropped)
arp0=$(counter mobile kept_arp_dropped)
topo_leave mobile a
topo_at mobile b
t_check "both flows migrated" lab_wait_until 10 ge 2 counter mobile committed_mover
t_check "$OLD4 and $OLD6 kept on lo" lab_wait_until 5 eval \
	'lab_nsexec mobile ip -o addr show dev lo | grep -q " $OLD4/32 " &&
	 lab_nsexec mobile ip -o addr show dev lo | grep -q " $OLD6/128 "'
t_check "mig_kept lists both" lab_wait_until 5 eq 2 map_count mobile mig_kept
# from here (the agent has seen the addresses go and recorded them; the
# few milliseconds before that, while the new route is up and the agent
# not yet, are not covered) no packet may leave from them
lab_capture_start router b0 leak "src host $OLD4 or src host $OLD6"

t_begin "the old link gets no answer for the kept addresses"
probe "$OLD4"
t_check "ARP for $OLD4 unanswered (the router gives up)" lab_wait_until 10 unresolved "$OLD4"
t_check "the mobile's data path dropped the requests (kept_arp_dropped)" \
	ge $((arp0 + 1)) counter mobile kept_arp_dropped
probe "$OLD6"
t_check "neighbour solicitation for $OLD6 unanswered" lab_wait_until 10 unresolved "$OLD6"

t_begin "nothing leaves with a kept address as source"
t_check "the plain connection's segments were dropped at egress (kept_src_dropped)" \
	lab_wait_until 10 ge $((src0 + 2)) counter mobile kept_src_dropped
kill "$plain_pid" 2>/dev/null
pkill -f 'TCP4:203.0.113.1:7100' 2>/dev/null
for f in 4 6; do
	t_check "IPv$f download completes" lab_bg_wait "cli$f" 120
	t_check "IPv$f $SIZE_MB MiB byte-exact (sha256)" eq "$want_sum" got_sum "d$f.got"
done
lab_capture_stop leak
# no_leak: nothing in the capture (what was, is shown)
no_leak() {
	local n
	n=$(lab_capture_count leak)
	[ "$n" = 0 ] && return 0
	echo "$n packet(s):"; lab_capture_read leak | head -n 5
	return 1
}
t_check "the router saw no packet from $OLD4 or $OLD6 on the new link" no_leak

t_begin "once the flows are closed the kept addresses are gone"
t_check "no keyed flow left" lab_wait_until 10 eq 0 nflows mobile
t_check "mig_kept is empty" lab_wait_until 10 eq 0 map_count mobile mig_kept
t_check "lo has neither address" lab_wait_until 5 eval \
	'! lab_nsexec mobile ip -o addr show dev lo | grep -Eq " ($OLD4/32|$OLD6/128) "'

t_summary
