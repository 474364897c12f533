#!/usr/bin/env bash
# Both ends move within the same second, each to its own new network: each
# Migrate SYN goes to the other's old address and gets no answer; each end
# publishes its new address in DNS and, stuck, looks its peer's name up
# again and migrates to where it went.  The transfer completes byte-exact.
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

eq() { local want=$1; shift; [ "$("$@")" = "$want" ]; }
ge() { local min=$1 got; shift; got=$("$@"); [ -n "$got" ] && [ "$got" -ge "$min" ]; }
fsize() { local s; s=$(stat -c %s "$1" 2>/dev/null) || s=0; echo "$s"; }
counter() { lab_ctl "$1" show stats "$2"; }

t_begin "both names published"
t_check "m.example.test has the mobile's address" lab_wait_until 5 dns_has dns A m.example.test. 192.0.2.1
t_check "s.example.test has the server's address" lab_wait_until 5 dns_has dns A s.example.test. 203.0.113.1

head -c "${SIZE_MB}M" /dev/urandom > "$LAB_DIR/big"
want=$(sha256sum < "$LAB_DIR/big" | cut -d' ' -f1)
lab_bg server srv socat -u "OPEN:$LAB_DIR/big" TCP4-LISTEN:7000,reuseaddr
lab_wait_listen server 7000

t_begin "both ends move within the same second; the connection survives"
# the client finds the server by name, as a client would
saddr=$(lab_exec mobile dig +short @2001:db8:53::53 A s.example.test.)
lab_bg mobile cli sh -c "socat -u TCP4:$saddr:7000 STDOUT | pv -qL 16m > $LAB_DIR/got"
lab_wait_until 5 ge $((16 << 20)) fsize "$LAB_DIR/got"
t_check "keyed on both ends" lab_wait_until 2 eq 1 eval 'lab_ctl server -j show | python3 -c "import json,sys; print(len(json.load(sys.stdin)[\"flows\"]))"'
# both lose their addresses before either has a new one: each end's first
# Migrate SYN goes to the other's old address
# (the old links go down too: a host that keeps its old address on lo
# would otherwise still be reachable there through the router's ARP cache)
topo_leave mobile a; topo_leave server s
lab_nsexec mobile ip link set eth0 down; lab_nsexec server ip link set eth0 down
topo_at mobile b; topo_at server t
t_check "DNS has the mobile's new address" lab_wait_until 5 dns_has dns A m.example.test. 198.51.100.1
t_check "DNS has the server's new address" lab_wait_until 5 dns_has dns A s.example.test. 203.0.113.129
t_check "a stuck end looked its peer up again" \
	lab_wait_until 10 eval '[ $(( $(counter mobile dns_peer_resolved) + $(counter server dns_peer_resolved) )) -ge 1 ]'
t_check "the migration committed on both ends" \
	lab_wait_until 10 eval '[ $(( $(counter mobile committed_mover) + $(counter mobile committed_fixed) )) -ge 1 ] &&
	                        [ $(( $(counter server committed_mover) + $(counter server committed_fixed) )) -ge 1 ]'
t_check "download completes" lab_bg_wait cli 120
t_check "$SIZE_MB MiB byte-exact (sha256)" eq "$want" eval "sha256sum < $LAB_DIR/got | cut -d' ' -f1"
t_check "the mobile's log names the peer's new address" \
	grep -q "the peer of .* moved too (DNS): asking at .*203\.0\.113\.129:7000\|now 198\.51\.100\.1:[0-9]* -> 203\.0\.113\.129:7000" "$LAB_DIR/agent-mobile.log"

t_summary
