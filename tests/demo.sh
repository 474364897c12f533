#!/usr/bin/env bash
# The main demo: two lab hosts run migrate-agent, an unmodified program
# (socat) opens a TCP connection between them, and migratectl on both hosts
# shows it keyed with the same token.
#
#   laptop (eth0) 192.0.2.10/24 ---- server (eth0) 192.0.2.20/24
#
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/lab.sh"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

lab_init
lab_host laptop
lab_host server
lab_link laptop eth0 server eth0
lab_addr laptop eth0 192.0.2.10/24
lab_addr server eth0 192.0.2.20/24

say "starting migrate-agent on both hosts"
lab_agent_start laptop
lab_agent_start server

say "server: socat echo service on port 7000 (an unmodified program)"
lab_bg server echo socat TCP-LISTEN:7000,reuseaddr,fork EXEC:cat
lab_wait_listen server 7000

say "laptop: socat connects and says hello; the connection stays open"
mkfifo "$LAB_DIR/in"
lab_bg laptop client sh -c "socat - TCP:192.0.2.20:7000 < $LAB_DIR/in"
exec 3> "$LAB_DIR/in"
echo "hello from the laptop" >&3
lab_wait_until 3 grep -q hello "$(lab_log client)"
echo "laptop received: $(cat "$(lab_log client)")"

lab_wait_until 2 sh -c "$LAB_BUILD/migratectl -d $(lab_pindir laptop) dump | grep -q ." || true
say "laptop: migratectl show"
lab_ctl laptop show
say "server: migratectl show"
lab_ctl server show
say "laptop: migratectl -j show"
lab_ctl laptop -j show
echo

tl=$(lab_ctl laptop dump | cut -f8); ts=$(lab_ctl server dump | cut -f8)
if [ -n "$tl" ] && [ "$tl" = "$ts" ]; then
	say "both ends hold token $tl: the connection is keyed and can migrate"
else
	say "the connection is NOT keyed on both ends (laptop '$tl', server '$ts')"
	exit 1
fi

say "closing the connection removes its state"
exec 3>&-
lab_bg_wait client 5 || true
lab_wait_until 3 sh -c "[ -z \"\$($LAB_BUILD/migratectl -d $(lab_pindir laptop) dump)\" ]"
lab_ctl laptop show
say "counters of the laptop's agent"
lab_ctl laptop show stats
