#!/usr/bin/env bash
# A migrated flow's new wire tuple is reserved in the kernel: a local
# connection from the mover's new address can take neither its port by
# bind() nor by the kernel's own choice, so the two never collide on the
# wire; the migrated connection goes on, and once it is closed the port is
# free again.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      x-x a0
#   eth1 198.51.100.1/24   --- b0 (after the move)                s0 --- eth0 203.0.113.1/25
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-16}

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"
mkfifo "$LAB_DIR/hold"

t_begin "a download migrates to net B"
lab_bg server srv sh -c "{ cat $LAB_DIR/big; cat $LAB_DIR/hold; } | socat -u STDIN TCP4-LISTEN:7000,reuseaddr"
lab_wait_listen server 7000
lab_bg mobile cli sh -c "socat -u TCP4:203.0.113.1:7000 STDOUT | pv -qL 4m > $LAB_DIR/got"
t_check "keyed" lab_wait_until 5 eq 1 nflows mobile
topo_leave mobile a
topo_at mobile b
t_check "migrated" lab_wait_until 10 ge 1 counter mobile committed_mover
port=$(flow_field mobile wire.local.port)
t_check "the wire tuple is 198.51.100.1:$port" eq 198.51.100.1 flow_field mobile wire.local.addr
# bind_err: try a connection from 198.51.100.1:$port; its error text
bind_err() {
	lab_nsexec mobile socat -u /dev/null TCP4:203.0.113.1:7000,bind=198.51.100.1:$port 2>&1 >/dev/null
}

t_begin "no local connection can take the wire tuple"
# explicitly: bind() to the address and port is refused
t_check "bind to 198.51.100.1:$port: Address already in use" eval \
	'bind_err | grep -q "Address already in use"'
# implicitly: with that port the only one the kernel may pick, it picks none
range=$(lab_nsexec mobile sysctl -n net.ipv4.ip_local_port_range)
lab_nsexec mobile sysctl -qw net.ipv4.ip_local_port_range="$port $port"
# (connect() without bind: the route's source is 198.51.100.1 now)
t_check "connect() with only port $port left: no port to pick" eval \
	'! lab_nsexec mobile socat -u /dev/null TCP4:203.0.113.1:7000 2>"$LAB_DIR/pick.err" &&
	 grep -Eq "Cannot assign requested address|Address already in use" "$LAB_DIR/pick.err"'
t_check "bind() to 198.51.100.1, port 0, with only port $port left: none" eval \
	'! lab_nsexec mobile socat -u /dev/null TCP4:203.0.113.1:7000,bind=198.51.100.1 2>"$LAB_DIR/pick0.err" &&
	 grep -Eq "Cannot assign requested address|Address already in use" "$LAB_DIR/pick0.err"'
lab_nsexec mobile sysctl -qw net.ipv4.ip_local_port_range="$range"
sed 's/^/   | /' "$LAB_DIR/pick.err" "$LAB_DIR/pick0.err"
t_check "reserve_failed 0" eq 0 counter mobile reserve_failed

t_begin "the migrated connection finishes byte-exact; the port is free again"
: >"$LAB_DIR/hold"
t_check "download completes" lab_bg_wait cli 120
t_check "$SIZE_MB MiB byte-exact (sha256)" eq "$want_sum" got_sum got
t_check "the flow is gone" lab_wait_until 10 eq 0 nflows mobile
t_check "the reservation went with its translation: 198.51.100.1:$port binds again" \
	lab_wait_until 70 eval '! bind_err | grep -q "Address already in use"'

t_summary
