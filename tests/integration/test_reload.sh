#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_reload.sh - SIGHUP reads the configuration file again and applies it
# while everything stays attached: the key pool's size (mig_meta, new
# connections plain or keyed), the interfaces served (TC filters on and
# off), the DNS names kept current (a real BIND 9); a transfer keyed before
# the reload goes on and still migrates onto an interface only the reload
# added.  A bad file is refused with the file, the line number and the line
# quoted, and the configuration in force stays whole; pin_dir needs a
# restart and says so.
#
#   mobile (agent, --config)                router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 x-x a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 - - b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#                                                t0 203.0.113.254/25  2001:db8:6::fe     eth1 203.0.113.129/25 2001:db8:6::1/64
#                                                d0 2001:db8:53::fe ---------------- dns eth0 2001:db8:53::53 (BIND)
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../lib/dns.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-96}
RATE=${MIG_TEST_RATE:-8m}       # the transfer lasts ~12 s: through the reloads

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

CONF=$LAB_DIR/mobile.conf
# conf POOL "IFACES" NAME [EXTRA LINE]: the mobile's configuration file
conf() {
	local i
	{
		echo "# written by test_reload.sh"
		echo "pool = $1"
		for i in $2; do echo "interface = $i"; done
		if [ -n "${4:-}" ]; then echo "$4"; fi
		echo "[dns]"
		echo "zone = example.test."
		echo "name = $3"
		echo "server = 2001:db8:53::53"
		echo "key_file = $KEY"
	} >"$CONF.tmp"
	mv "$CONF.tmp" "$CONF"
}

log() { cat "$LAB_DIR/agent-mobile.log"; }
log_has() { grep -qF -- "$1" "$LAB_DIR/agent-mobile.log"; }
nlines() { grep -cF -- "$1" "$LAB_DIR/agent-mobile.log"; }
apid() { echo "${LAB_AGENT_PID[mobile]}"; }
hup() { kill -HUP "$(apid)"; }
# a reload is over when its "reload: done" or "reload refused" line is there
reloaded() { [ "$(($(nlines 'reload: done') + $(nlines 'reload refused')))" -ge "$1" ]; }
nreloads=0
reload_now() {
	nreloads=$((nreloads + 1))
	hup
	lab_wait_until 30 reloaded "$nreloads"
}
pool_target() {
	bpftool -j map dump pinned "$(lab_pindir mobile)/mig_meta" |
		python3 -c 'import json,sys; e = json.load(sys.stdin)[0]; print(e["formatted"]["value"]["pool_target"])'
}
# filter_on IF DIR: our program is attached to IF's clsact DIR (ingress/egress)
filter_on() { lab_nsexec mobile tc filter show dev "$1" "$2" | grep -q "mig_.*_tc"; }
no_filter_on() { ! filter_on "$@"; }
# plain_connect: one short connection from the mobile to the server's echo
plain_connect() {
	lab_exec mobile sh -c "echo hi | socat -t 1 - TCP4:203.0.113.1:7999" | grep -q hi
}
dns_status_names() {
	lab_ctl mobile -j show dns | python3 -c 'import json,sys; print(" ".join(e["name"] for e in json.load(sys.stdin)["dns"]))'
}

lab_bg server echo socat TCP4-LISTEN:7999,reuseaddr,fork EXEC:cat
lab_wait_listen server 7999
lab_payload "$SIZE_MB"

# The service manager's side of sd_notify: every datagram on
# $LAB_DIR/notify, one line each in $LAB_DIR/notify.txt, with whether the
# sock_ops link was pinned and eth0's filter attached when it arrived.
NOTIFY=$LAB_DIR/notify
# shellcheck disable=SC2016 # python's own strings
lab_bg mobile notify python3 -c '
import os, socket, subprocess, sys
path, pin, out = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
while True:
    m = s.recv(4096).decode().replace("\n", " ")
    link = os.path.exists(pin + "/link_sockops")
    tc = subprocess.run(["tc", "filter", "show", "dev", "eth0", "ingress"], capture_output=True)
    with open(out, "a") as f:
        f.write("%s link=%d filter=%d\n" % (m, link, b"mig_in_tc" in tc.stdout))
' "$NOTIFY" "$(lab_pindir mobile)" "$NOTIFY.txt"
lab_wait_until 5 test -S "$NOTIFY"
notes() { cat "$NOTIFY.txt" 2>/dev/null; }
nnotes() { notes | grep -c .; }
# note N: the Nth message
note() { notes | sed -n "$1p"; }

# ---------------------------------------------------------------------------
t_begin "start: pool 4, eth0 only, m.example.test"
conf 4 eth0 m.example.test.
NOTIFY_SOCKET=$NOTIFY lab_agent_start mobile --config "$CONF"
t_check "the service manager hears READY=1, once" lab_wait_until 3 eq 1 nnotes
t_check "  sent with the link pinned and eth0's filter attached" \
	eq "READY=1 link=1 filter=1" note 1
lab_agent_start server
pid0=$(apid)
t_check "mig_meta says pool 4" eq 4 pool_target
t_check "TC filters on eth0" filter_on eth0 ingress
t_check "no filter on eth1 (not in the file)" no_filter_on eth1 ingress
t_check "m.example.test. published" lab_wait_until 5 dns_has dns A m.example.test. 192.0.2.1

# a keyed transfer, server to mobile, that must live through the reloads
lab_bg server srv socat -u "OPEN:$LAB_DIR/big" TCP4-LISTEN:7000,reuseaddr
lab_wait_listen server 7000
lab_bg mobile cli sh -c "socat -u TCP4:203.0.113.1:7000 STDOUT | pv -qL $RATE > $LAB_DIR/live.got"
t_check "the transfer is keyed" lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 ge $((4 << 20)) fsize "$LAB_DIR/live.got"
cookie=$(flow_field mobile cookie)

# ---------------------------------------------------------------------------
t_begin "reload: pool 0, eth0 and eth1, m2.example.test instead"
conf 0 "eth0 eth1" m2.example.test.
empty0=$(counter mobile pool_empty)
t_check "SIGHUP is answered with a reload" reload_now
t_check "the agent is the same process" eq "$pid0" apid
t_check "the service manager heard RELOADING=1 with the time" lab_wait_until 3 eval \
	'note 2 | grep -Eq "^RELOADING=1 MONOTONIC_USEC=[0-9]+ "'
t_check "  then READY=1" lab_wait_until 3 eq "READY=1 link=1 filter=1" note 3
t_check "the log says the pool changed" log_has "reload: pool 4 -> 0 keys"
t_check "the log says the interfaces changed" log_has "reload: interfaces 'eth0' -> 'eth0 eth1'"
t_check "the log says the DNS names changed" \
	log_has "reload: dns names 'm.example.test.' -> 'm2.example.test.'"
t_check "mig_meta says pool 0" eq 0 pool_target
t_check "TC filters on eth1 now (ingress)" filter_on eth1 ingress
t_check "and egress" filter_on eth1 egress
t_check "still on eth0" filter_on eth0 ingress
t_check "m2.example.test. published" lab_wait_until 5 dns_has dns A m2.example.test. 192.0.2.1
t_check "migratectl show dns lists m2 only" lab_wait_until 3 eq m2.example.test. dns_status_names
t_check "a new connection is plain (pool empty)" plain_connect
t_check "counted as pool_empty" ge $((empty0 + 1)) counter mobile pool_empty
t_check "the transfer goes on (still keyed, same socket)" eq "$cookie" flow_field mobile cookie
g0=$(fsize "$LAB_DIR/live.got")
t_check "and still receives data" lab_wait_until 5 ge $((g0 + (1 << 20))) fsize "$LAB_DIR/live.got"

# ---------------------------------------------------------------------------
t_begin "the live connection migrates onto eth1, which only the reload added"
topo_leave mobile a
topo_at mobile b
t_check "the mobile lists 1 migration" lab_wait_until 10 eq 1 flow_field mobile migrations
t_check "its wire tuple has the eth1 address" eq 198.51.100.1 flow_field mobile wire.local.addr
t_check "the transfer completes" eval "lab_bg_wait cli 90 && lab_bg_wait srv 10"
t_check "$SIZE_MB MiB arrived byte-exact (sha256)" eq "$(sha256sum <"$LAB_DIR/big" | cut -d' ' -f1)" \
	got_sum live.got
t_check "DNS followed to the new address" lab_wait_until 5 dns_has dns A m2.example.test. 198.51.100.1

# ---------------------------------------------------------------------------
t_begin "reload: eth1 only (filters come off eth0), pool 8; max_flows needs a restart"
conf 8 eth1 m2.example.test. "max_flows = 4096
pin_dir = /sys/fs/bpf/mig-elsewhere"
t_check "SIGHUP is answered with a reload" reload_now
t_check "the log says eth0 was released" log_has "detached from interface 'eth0' (no longer served)"
t_check "no filter on eth0 any more" no_filter_on eth0 ingress
t_check "nor on its egress" no_filter_on eth0 egress
t_check "eth1 keeps its filters" filter_on eth1 ingress
t_check "mig_meta says pool 8" eq 8 pool_target
t_check "max_flows: the log says it needs a restart" \
	log_has "reload: max_flows 1048576 -> 4096 needs a restart; 1048576 stays in force"
t_check "the maps keep their size" eq 1048576 eval \
	"bpftool -j map show pinned $(lab_pindir mobile)/mig_flows | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"max_entries\"])'"
t_check "pin_dir: --pin-dir on the command line wins, and the log says so" \
	log_has "reload: pin_dir in the file changed to '/sys/fs/bpf/mig-elsewhere'; --pin-dir on the command line overrides it"
t_check "the pin directory in force is the old one" test -e "$(lab_pindir mobile)/mig_meta"
t_check "no new pin directory" test ! -e /sys/fs/bpf/mig-elsewhere
keyed0=$(counter mobile keyed)
lab_bg server srv2 socat -u "OPEN:$LAB_DIR/big" TCP4-LISTEN:7001,reuseaddr
lab_wait_listen server 7001
lab_bg mobile cli2 sh -c "socat -u TCP4:203.0.113.1:7001 STDOUT | pv -qL $RATE > $LAB_DIR/second.got"
t_check "a new connection is keyed again (pool refilled)" lab_wait_until 5 ge $((keyed0 + 1)) counter mobile keyed
lab_bg_stop cli2 || true
lab_bg_stop srv2 || true

# ---------------------------------------------------------------------------
t_begin "a bad file is refused whole, quoted, and the old configuration stays"
{
	echo "# a change that must not be half applied"
	echo "pool = 2"
	echo "interface = eth0"
	echo "pool_size = 16"
} >"$CONF"
t_check "SIGHUP is answered (with a refusal)" reload_now
t_check "the log quotes the file, line and text" \
	log_has "reload refused, the configuration in force stays: $CONF:4: unknown key (pin_dir, cgroup, pool, interface, max_flows, xdp; the rest goes in [dns]): 'pool_size' (the line: 'pool_size = 16')"
t_check "the agent still runs" _lab_alive "$pid0"
t_check "pool still 8 (line 2 was not applied)" eq 8 pool_target
t_check "still no filter on eth0 (line 3 was not applied)" no_filter_on eth0 ingress
t_check "eth1 keeps its filters" filter_on eth1 ingress
t_check "DNS is still kept: m2 listed" eq m2.example.test. dns_status_names
printf 'pool = 1\npool = 2\n' >"$CONF"
t_check "a duplicate key is refused too" reload_now
t_check "with line 2 quoted" log_has "$CONF:2: duplicate key (first set on line 1): 'pool' (the line: 'pool = 2')"
t_check "pool still 8" eq 8 pool_target

t_begin "--check-config on the same files"
check_rc() { "$LAB_BUILD/migrate-agent" --check-config --config "$1" >/dev/null 2>&1; echo $?; }
t_check "the bad file: exit 2" eq 2 check_rc "$CONF"
conf 8 eth1 m2.example.test.
t_check "a good file: exit 0" eq 0 check_rc "$CONF"
t_check "a missing file: exit 2" eq 2 check_rc "$LAB_DIR/none.conf"

t_begin "after the refusals, a good file applies again"
t_check "SIGHUP is answered with a reload" reload_now
t_check "max_flows is no longer reported (the file no longer sets it)" eq 1 nlines "needs a restart"
t_check "nothing else changed" log_has "reload: no change"
t_check "the agent stops cleanly" lab_agent_stop mobile
t_check "the service manager heard STOPPING=1 last" lab_wait_until 3 eval \
	'notes | tail -n 1 | grep -q "^STOPPING=1 "'
t_check "  after READY=1 for each of the $nreloads reloads" eq $((nreloads + 1)) eval 'notes | grep -c "^READY=1 "'

t_summary
