#!/usr/bin/env bash
# Both ends move within the same second, each to its own new network: each
# Migrate SYN goes to the other's old address and gets no answer; each end
# publishes its new address in DNS and, stuck, looks its peer's name up
# again and migrates to where it went.  The transfer completes byte-exact.
#
# First the server moves alone (s -> t): DNS follows, new clients find it
# by name, the old connection migrates.  Then both move at once (mobile a ->
# b, server t -> s).
#
#   mobile (agent, m.example.test)          router (fwd)                 server (agent, s.example.test)
#   eth0 192.0.2.1/24      x-x-x-x-x-x-x    a0 192.0.2.254
#   eth1 198.51.100.1/24   - - - - - - -    b0 198.51.100.254
#                                           s0 203.0.113.126/25 x-x-x-x  eth0 203.0.113.1/25
#                                           t0 203.0.113.254/25 - - - -  eth1 203.0.113.129/25
#                                           d0 2001:db8:53::fe --------- dns eth0 2001:db8:53::53 (BIND)
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../lib/dns.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-128}

lab_init
topo_build
lab_host dns
lab_link router d0 dns eth0
lab_addr router d0 2001:db8:53::fe/64
lab_addr dns eth0 2001:db8:53::53/64
lab_route dns -6 add default via 2001:db8:53::fe
KEY=$(dns_key mig-key)
dns_server_start dns 2001:db8:53::53
topo_at mobile a
topo_at server s

# conf FILE NAME PEER
conf() {
	cat >"$1" <<-EOF
	# written by test_both_move.sh
	[dns]
	zone = example.test.
	name = $2
	server = 2001:db8:53::53
	key_file = $KEY
	peer = $3
	EOF
}
conf "$LAB_DIR/mobile.conf" m.example.test. s.example.test.
conf "$LAB_DIR/server.conf" s.example.test. m.example.test.
lab_agent_start mobile --config "$LAB_DIR/mobile.conf"
lab_agent_start server --config "$LAB_DIR/server.conf"


t_begin "both names published"
t_check "m.example.test has the mobile's address" lab_wait_until 5 dns_has dns A m.example.test. 192.0.2.1
t_check "s.example.test has the server's address" lab_wait_until 5 dns_has dns A s.example.test. 203.0.113.1

head -c "${SIZE_MB}M" /dev/urandom > "$LAB_DIR/big"
want=$(sha256sum < "$LAB_DIR/big" | cut -d' ' -f1)
got_sum() { sha256sum < "$1" | cut -d' ' -f1; }
# resolve NAME: what a client of the lab would get for it
resolve() { lab_exec mobile dig +short @2001:db8:53::53 A "$1"; }
# download NAME PORT: a rate-limited download from the server, by name
download() {
	lab_bg server "srv-$1" socat -u "OPEN:$LAB_DIR/big" "TCP4-LISTEN:$2,reuseaddr"
	lab_wait_listen server "$2"
	lab_bg mobile "cli-$1" sh -c "socat -u TCP4:$(resolve s.example.test.):$2 STDOUT | pv -qL 16m > $LAB_DIR/$1.got"
	lab_wait_until 5 ge $((16 << 20)) fsize "$LAB_DIR/$1.got"
}
lab_bg server echo socat TCP4-LISTEN:7999,reuseaddr,fork EXEC:cat
lab_wait_listen server 7999

t_begin "the server moves: DNS follows at TTL 0, new clients find it, the old connection migrated"
download first 7000
t_check "keyed" lab_wait_until 2 eq 1 eval 'lab_ctl server -j show | python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"flows\"]))"'
topo_leave server s; topo_at server t
t_check "DNS serves the server's new address with TTL 0" \
	lab_wait_until 5 dns_has dns A s.example.test. 203.0.113.129 0
t_check "a new client, by name, reaches the server at its new address" \
	eval 'lab_exec mobile sh -c "echo hi | socat -t 1 - TCP4:$(resolve s.example.test.):7999" | grep -q hi'
t_check "the connection made before the move migrated" \
	lab_wait_until 5 ge 1 counter server committed_mover
t_check "and still carries data to the end, byte-exact" \
	eval 'lab_bg_wait cli-first 60 && [ "$(got_sum $LAB_DIR/first.got)" = "$want" ]'

t_begin "both ends move within the same second; the connection survives"
download both 7001
# both lose their addresses before either has a new one: each end's first
# Migrate SYN goes to the other's old address
# (the old links go down too: a host that keeps its old address on lo
# would otherwise still be reachable there through the router's ARP cache)
r0=$(( $(counter mobile dns_peer_resolved) + $(counter server dns_peer_resolved) ))
topo_leave mobile a; topo_leave server t
lab_nsexec mobile ip link set eth0 down; lab_nsexec server ip link set eth1 down
topo_at mobile b; topo_at server s
t_check "DNS has the mobile's new address" lab_wait_until 5 dns_has dns A m.example.test. 198.51.100.1
t_check "DNS has the server's new address" lab_wait_until 5 dns_has dns A s.example.test. 203.0.113.1
t_check "a stuck end looked its peer up again" \
	lab_wait_until 10 eval '[ $(( $(counter mobile dns_peer_resolved) + $(counter server dns_peer_resolved) )) -gt $r0 ]'
t_check "download completes" lab_bg_wait cli-both 120
t_check "$SIZE_MB MiB byte-exact (sha256)" eq "$want" got_sum "$LAB_DIR/both.got"
t_check "the mobile's wire tuple ended at both new addresses" \
	grep -Eq "now 198\.51\.100\.1:[0-9]+ -> 203\.0\.113\.1:7001|moved too \(DNS\): asking at 198\.51\.100\.1:[0-9]+ -> 203\.0\.113\.1:7001" "$LAB_DIR/agent-mobile.log"

t_summary
