#!/usr/bin/env bash
# The main demo: a laptop downloads a file from a server with an unmodified
# program (socat); midway the laptop leaves net A for net B (its address
# changes); the download goes on, on the same socket, and arrives
# byte-exact.  migratectl shows the flow on both hosts before and after.
#
#   laptop (agent)                      router (fwd)            server (agent)
#   eth0 192.0.2.1/24    x-x-x-x-x-x-x  a0 192.0.2.254
#   eth1 198.51.100.1/24 - - - - - - -  b0 198.51.100.254
#                                       s0 203.0.113.126/25 --- eth0 203.0.113.1/25
#
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/lab.sh"
. "$here/integration/mig_topo.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
MB=${DEMO_MB:-128}

lab_init
say "building the lab: laptop on net A, a router, a server"
topo_build
topo_at mobile a
topo_at server s

say "starting migrate-agent on the laptop and on the server"
lab_agent_start mobile
lab_agent_start server

say "server: socat serves a $MB MiB file on port 7000"
head -c "${MB}M" /dev/urandom > "$LAB_DIR/file"
lab_bg server srv socat -u "OPEN:$LAB_DIR/file" TCP4-LISTEN:7000,reuseaddr
lab_wait_listen server 7000

say "laptop: socat downloads it (read at 16 MiB/s, so it takes a while)"
lab_bg mobile dl sh -c "socat -u TCP4:203.0.113.1:7000 STDOUT | pv -qL 16m > $LAB_DIR/got"
lab_wait_until 10 sh -c "[ \$(stat -c %s $LAB_DIR/got 2>/dev/null || echo 0) -gt 16000000 ]"
echo "received so far: $(size "$LAB_DIR/got") bytes"

say "laptop: migratectl show (keyed, never moved)"
lab_ctl mobile show
say "server: migratectl show"
lab_ctl server show

say "the laptop leaves net A: 192.0.2.1 goes away, 198.51.100.1 comes up on net B"
topo_leave mobile a
topo_at mobile b
lab_wait_until 5 sh -c "$LAB_BUILD/migratectl -d $(lab_pindir mobile) -j show | grep -q '\"migrations\":1'"
echo "received so far: $(size "$LAB_DIR/got") bytes"

say "laptop: migratectl show (same socket, new wire address, 1 migration)"
lab_ctl mobile show
say "server: migratectl show (it records where the laptop went)"
lab_ctl server show
say "laptop: migratectl -j show"
lab_ctl mobile -j show
echo

say "waiting for the download to finish"
lab_bg_wait dl 120
lab_bg_wait srv 10 || true
if cmp -s "$LAB_DIR/file" "$LAB_DIR/got"; then
	say "the $MB MiB arrived byte-exact over one TCP connection that changed address midway"
else
	say "FAILED: the received file differs ($(size "$LAB_DIR/got") of $((MB << 20)) bytes)"
	exit 1
fi
say "counters of the laptop's agent (non-zero)"
lab_ctl mobile show stats | awk '$2 != 0'
