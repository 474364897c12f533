#!/usr/bin/env bash
# Keyed connections: Migrate-Permitted negotiation and the X25519 key
# agreement between two lab hosts, fallback to plain TCP, the empty key
# pool, malformed options, and the agent's one-line environment errors.
#
#   client (va) 192.0.2.1/24 2001:db8:1::1/64
#      |
#   server (vb) 192.0.2.2/24 2001:db8:1::2/64
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"

lab_init
lab_host client
lab_host server
lab_link client va server vb
lab_addr client va 192.0.2.1/24
lab_addr server vb 192.0.2.2/24
lab_addr client va 2001:db8:1::1/64
lab_addr server vb 2001:db8:1::2/64

RAW="python3 $here/rawtcp.py"

# token HOST LPORT|RPORT PORT: the token of the flow with that port
token_of() {
	lab_ctl "$1" -j show | python3 -c '
import json, sys
port = int(sys.argv[1])
for f in json.load(sys.stdin)["flows"]:
    if f["local"]["port"] == port or f["remote"]["port"] == port:
        print(f["token"]); break' "$2"
}
both_flows() { echo "$(nflows client)$(nflows server)"; }
# echo_ok DST:PORT WORD: a short echo exchange from the client works
echo_ok() { lab_exec client sh -c "echo $2 | socat -t 1 - TCP:$1" | grep -q "$2"; }

# A long-lived echo connection: the client writes a line and keeps the
# connection open until the checks are done (lab_release), the server
# echoes.
# keyed_case NAME DST PORT
keyed_case() {
	local name=$1 dst=$2 port=$3 listen=$4 t1 t2 addr=${2//[][]/}
	lab_capture_start client va "$name" "tcp port $port"
	lab_bg server "srv-$name" socat "$listen:$port,reuseaddr,fork" EXEC:cat
	lab_wait_listen server $port
	lab_bg client "cli-$name" sh -c "(echo hello-$name; while [ ! -e $LAB_DIR/release-$name ]; do sleep 0.1; done) | socat - TCP:$dst:$port"
	t_check "$name: echo came back" lab_wait_until 3 grep -q "hello-$name" "$LAB_DIR/cli-$name.log"
	t_check "$name: client lists the flow as keyed within 1 s" lab_wait_until 1 eq 1 nflows client
	t_check "$name: server lists the flow as keyed within 1 s" lab_wait_until 1 eq 1 nflows server
	t1=$(token_of client "$port"); t2=$(token_of server "$port")
	t_check "$name: both hosts hold the same token ($t1 / $t2)" test -n "$t1" -a "$t1" = "$t2"
	t_check "$name: both ends show it ESTABLISHED" \
		eq ESTABLISHED,ESTABLISHED eval 'echo "$(lab_ctl client dump | cut -f6),$(lab_ctl server dump | cut -f6)"'
	t_check "$name: show maps counts it in a map of the default size" \
		eq "1 1048576" eval "lab_ctl server -j show maps | python3 -c 'import json, sys; m = json.load(sys.stdin)[\"maps\"][\"mig_flows\"]; print(m[\"entries\"], m[\"max\"])'"
	t_check "$name: bpftool prints the flow by field name" \
		sh -c "bpftool map dump pinned $(lab_pindir client)/mig_flows | grep -q '\"token\"'"
	t_check "$name: one token and one flow entry per host" \
		test "$(map_count client mig_tokens)$(map_count server mig_flows)" = 11
	lab_release "$name"
	lab_bg_wait "cli-$name" 8
	lab_capture_stop "$name"
	tcpdump -nr "$LAB_DIR/$name.pcap" 2>/dev/null > "$LAB_DIR/$name.txt"
	# MP_SYN: kind 253, length 20 = ExID 4d47 + 16 key bytes (32 hex digits)
	t_check "$name: SYN carries MP_SYN (253, ExID 0x4D47, length 20)" \
		grep -Eq 'Flags \[S\],.*unknown-253 0x4d47[0-9a-f]{32}[],]' "$LAB_DIR/$name.txt"
	t_check "$name: SYN/ACK carries MP_SYN" \
		grep -Eq 'Flags \[S\.\],.*unknown-253 0x4d47[0-9a-f]{32}[],]' "$LAB_DIR/$name.txt"
	# KEY2: length 22 = ExID + sub 01 + flags + 16 key bytes
	t_check "$name: KEY2 follows from both sides" sh -c "
		grep -E 'Flags \[[^S]*\],.*unknown-253 0x4d4701[0-9a-f]{34}[],]' '$LAB_DIR/$name.txt' | grep -q '^[^ ]* IP6\? $addr' &&
		grep -E 'Flags \[[^S]*\],.*unknown-253 0x4d4701[0-9a-f]{34}[],]' '$LAB_DIR/$name.txt' | grep -vq '^[^ ]* IP6\? $addr'"
	t_check "$name: KEY2 stops once both hold both keys (at most 8 segments carry it)" \
		test "$(grep -c 'unknown-253 0x4d4701' "$LAB_DIR/$name.txt")" -le 8
	t_check "$name: closing removes the flow on both hosts" \
		lab_wait_until 3 eq 00 both_flows
	t_check "$name: closing removes tokens and flows (the agent, shortly after the close)" \
		lab_wait_until 3 eq 0000 eval 'echo "$(map_count client mig_tokens)$(map_count client mig_flows)$(map_count server mig_tokens)$(map_count server mig_flows)"'
	lab_bg_stop "srv-$name"
}

t_begin "keyed connection over IPv4 and IPv6 (socat)"
lab_agent_start client
lab_agent_start server
keyed_case v4 192.0.2.2 5001 TCP4-LISTEN
keyed_case v6 "[2001:db8:1::2]" 5002 TCP6-LISTEN
t_check "agents counted the keyed flows" test "$(counter client keyed)$(counter server keyed)" = 22

t_begin "many connections: each keyed, the same token on both ends"
lab_bg server srv-many socat TCP-LISTEN:5003,reuseaddr,fork EXEC:cat
lab_wait_listen server 5003
for i in $(seq 1 20); do
	lab_exec client sh -c "echo x$i | socat -t 1 - TCP:192.0.2.2:5003" > /dev/null
done
t_check "20 more flows keyed on the client" lab_wait_until 3 eq 22 counter client keyed
t_check "20 more flows keyed on the server" lab_wait_until 3 eq 22 counter server keyed
t_check "no flow state left after they closed" \
	lab_wait_until 3 eq 000 eval 'echo "$(both_flows)$(map_count server mig_reqs)"'
t_check "no token collisions, no lost events" \
	test "$(counter client token_collision)$(counter server events_lost)" = 00
lab_bg_stop srv-many

t_begin "syncookies: keyed without request state (responder key, KEY1), no pool key per SYN"
# tcp_syncookies=2: every SYN/ACK is a syncookie, as under a SYN flood
lab_exec server sysctl -qw net.ipv4.tcp_syncookies=2
taken=$(counter server pool_taken)
lab_bg server srv-ck socat TCP4-LISTEN:5006,reuseaddr,fork EXEC:cat
lab_wait_listen server 5006
lab_bg client cli-ck sh -c "(echo hello-ck; while [ ! -e $LAB_DIR/release-ck ]; do sleep 0.1; done) | socat - TCP:192.0.2.2:5006"
t_check "echo came back" lab_wait_until 3 grep -q hello-ck "$LAB_DIR/cli-ck.log"
t_check "the server answered with a syncookie carrying the responder key" \
	lab_wait_until 2 ge 1 counter server syncookie_answered
t_check "client lists the flow as keyed" lab_wait_until 2 eq 1 nflows client
t_check "server lists the flow as keyed" lab_wait_until 2 eq 1 nflows server
t1=$(token_of client 5006); t2=$(token_of server 5006)
t_check "both hosts hold the same token ($t1 / $t2)" test -n "$t1" -a "$t1" = "$t2"
t_check "the client sent KEY1 when asked, the server took it" \
	eval '[ "$(counter client key1_sent)" -ge 1 ] && [ "$(counter server key1_received)" -ge 1 ]'
t_check "no request state, no pool key taken by the server" \
	eq "0 $taken" eval 'echo "$(map_count server mig_reqs) $(counter server pool_taken)"'
lab_release ck
lab_bg_wait cli-ck 8
lab_bg_stop srv-ck
lab_exec server sysctl -qw net.ipv4.tcp_syncookies=1

t_begin "loopback connections are left alone"
lab_bg client lo-srv socat TCP4-LISTEN:5005,bind=127.0.0.1,reuseaddr EXEC:cat
lab_wait_listen client 5005
taken=$(counter client pool_taken)
t_check "a loopback echo works" eval 'lab_exec client sh -c "echo lo | socat -t 1 - TCP4:127.0.0.1:5005" | grep -q lo'
t_check "no key taken for it, nothing keyed" eq "$taken 0" eval 'echo "$(counter client pool_taken) $(nflows client)"'
lab_bg_stop lo-srv

t_begin "an agent restart keeps keyed flows and the attachment"
lab_bg server srv-rs socat TCP4-LISTEN:5004,reuseaddr,fork EXEC:cat
lab_wait_listen server 5004
mkfifo "$LAB_DIR/rs-in"
lab_bg client cli-rs sh -c "socat - TCP:192.0.2.2:5004 < $LAB_DIR/rs-in"
exec 7> "$LAB_DIR/rs-in"
echo before >&7
t_check "flow keyed" lab_wait_until 2 eq 1 nflows client
tok=$(lab_ctl client dump | cut -f8)
lab_agent_kill client
t_check "listed while the agent is down" eq "$tok" eval 'lab_ctl client dump | cut -f8'
t_check "a connection made while it is down stays plain and works" echo_ok 192.0.2.2:5004 down
lab_agent_start client
t_check "still listed with the same token after the restart" eq "$tok" eval 'lab_ctl client dump | cut -f8'
t_check "a connection after the restart works" echo_ok 192.0.2.2:5004 up
t_check "and is keyed again" lab_wait_until 3 ge 24 counter client keyed
echo after >&7
t_check "the old connection still carries data" lab_wait_until 2 grep -q after "$(lab_log cli-rs)"
exec 7>&-
lab_bg_wait cli-rs 5
lab_bg_stop srv-rs

t_begin "fallback: migrate client, plain server"
lab_agent_stop server
lab_bg server srv-fb1 socat TCP-LISTEN:5010,reuseaddr EXEC:cat
lab_wait_listen server 5010
before=$(counter client fallback_peer)
t_check "plain transfer works" echo_ok 192.0.2.2:5010 fb1
t_check "fallback counted on the client" test "$(counter client fallback_peer)" -gt "$before"
t_check "not listed as keyed" lab_wait_until 2 eq 0 nflows client

t_begin "fallback: plain client, migrate server"
lab_agent_stop client
lab_agent_start server
lab_bg server srv-fb2 socat TCP-LISTEN:5011,reuseaddr EXEC:cat
lab_wait_listen server 5011
t_check "plain transfer works" echo_ok 192.0.2.2:5011 fb2
t_check "fallback counted on the server" lab_wait_until 2 ge 1 counter server fallback_syn
t_check "not listed as keyed" test "$(nflows server)" = 0

t_begin "empty key pool leaves connections plain and working"
lab_agent_start client --pool 0
lab_bg server srv-pool socat TCP-LISTEN:5012,reuseaddr,fork EXEC:cat
lab_wait_listen server 5012
t_check "client with empty pool: transfer works" echo_ok 192.0.2.2:5012 p1
t_check "client counted pool_empty" test "$(counter client pool_empty)" -ge 1
t_check "client lists nothing keyed" test "$(nflows client)$(counter client keyed)" = 00
lab_agent_stop client
lab_agent_stop server
lab_agent_start client
lab_agent_start server --pool 0
t_check "server with empty pool: transfer works" echo_ok 192.0.2.2:5012 p2
t_check "server counted pool_empty" test "$(counter server pool_empty)" -ge 1
t_check "client counted the fallback" test "$(counter client fallback_peer)" -ge 1
t_check "neither lists it as keyed" test "$(nflows client)$(nflows server)" = 00
lab_bg_stop srv-pool
lab_agent_stop server

t_begin "malformed options in the SYN/ACK are ignored and counted"
# the server host answers with hand-made SYN/ACKs; its kernel stays quiet
lab_nsexec server nft -f - <<'EOF'
table inet labdrop {
	chain out {
		type filter hook output priority 0;
		tcp flags & rst == rst drop
	}
}
EOF
# malformed_synack NAME OPTHEX COUNTER
malformed_synack() {
	local name=$1 opt=$2 counter=$3 b1 b2 port=$((6000 + RANDOM % 1000))
	b1=$(counter client "$counter"); b2=$(counter client fallback_peer)
	lab_bg server "raw-$name" $RAW synack-server 192.0.2.2 "$port" "$opt" 1 6
	sleep 0.3
	t_check "$name: connection still completes" \
		lab_exec client socat -T 2 -u /dev/null "TCP:192.0.2.2:$port,connect-timeout=3"
	t_check "$name: counted as $counter" test "$(counter client "$counter")" -gt "$b1"
	t_check "$name: fell back to plain" test "$(counter client fallback_peer)" -gt "$b2"
	t_check "$name: nothing keyed" test "$(nflows client)" = 0
	lab_bg_stop "raw-$name"
}
mss=020405b4
malformed_synack bad-len   "${mss}fd124d47$(printf '%028d' 0)"            opt_bad_len
malformed_synack bad-exid  "${mss}fd144d48$(printf '%032d' 0)"            opt_bad_exid
malformed_synack truncated "${mss}0101fd144d47$(printf '%020d' 0)"        opt_truncated
malformed_synack bad-sub   "${mss}fd194d4709$(printf '%040d' 0)0101"      opt_bad_sub

t_begin "malformed MP_SYN in a SYN is ignored and counted"
lab_nsexec server nft delete table inet labdrop
lab_agent_start server
lab_bg server srv-syn socat TCP-LISTEN:5020,reuseaddr,fork EXEC:cat
lab_wait_listen server 5020
b=$(counter server opt_bad_len)
lab_exec client $RAW syn 192.0.2.1 192.0.2.2 5020 "${mss}fd124d47$(printf '%028d' 0)"
t_check "a SYN with a 18-byte Migrate option is counted" lab_wait_until 2 ge $((b + 1)) counter server opt_bad_len
t_check "and left no request state" test "$(map_count server mig_reqs)" = 0
t_check "the server still answers good connections" echo_ok 192.0.2.2:5020 ok
t_check "and keys them" lab_wait_until 2 ge 1 counter server keyed
lab_bg_stop srv-syn
lab_agent_stop client
lab_agent_stop server

t_begin "a full flow map: new connections plain and counted, old ones kept (--max-flows 64)"
lab_agent_start client
lab_agent_start server --max-flows 64
t_check "show maps reports the size asked for" \
	eq 64 eval "lab_ctl server -j show maps | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"maps\"][\"mig_flows\"][\"max\"])'"
lab_bg server srv-full socat TCP-LISTEN:5030,reuseaddr,fork EXEC:cat
lab_wait_listen server 5030
# 70 long-lived connections, each holding its socket until released
mkfifo "$LAB_DIR/full-hold"
for i in $(seq 1 70); do
	lab_bg client "cli-full$i" sh -c "(echo x$i; cat $LAB_DIR/full-hold) | socat - TCP:192.0.2.2:5030"
done
t_check "64 keyed on the server, the map full" lab_wait_until 10 eq 64 nflows server
t_check "the other 6 counted as map_full, left plain" lab_wait_until 5 ge 6 counter server map_full
t_check "every connection works: 70 echoes came back" \
	lab_wait_until 10 eval '[ "$(cat "$LAB_DIR"/cli-full*.log 2>/dev/null | grep -c "^x")" = 70 ]'
t_check "the first 64 are still keyed" eq 64 nflows server
timeout 10 sh -c ": > '$LAB_DIR/full-hold'" || true
for i in $(seq 1 70); do lab_bg_stop "cli-full$i" 2>/dev/null; done
t_check "closing empties the map" lab_wait_until 10 eq 0 nflows server
lab_bg_stop srv-full
lab_agent_stop client
lab_agent_stop server

t_begin "environment errors are one clear line"
pd=/sys/fs/bpf/mig-envtest-$LAB_SUFFIX
# env_case NAME SETUP EXPECT: run the agent in a private mount namespace
# after SETUP, expect exit 1 and exactly one line matching EXPECT
env_case() {
	local out rc
	out=$(unshare -m sh -c "$2 && exec $LAB_BUILD/migrate-agent --pin-dir $pd" 2>&1); rc=$?
	t_check "$1: exit status 1 (got $rc)" test "$rc" = 1
	t_check "$1: one line saying what to do: $out" \
		sh -c "test \"\$(printf '%s\n' \"\$1\" | wc -l)\" = 1 && printf '%s' \"\$1\" | grep -q -- \"\$2\"" sh "$out" "$3"
	t_check "$1: nothing pinned" test ! -e "$pd"
}
env_case "no BTF" "mount -t tmpfs none /sys/kernel/btf" "CONFIG_DEBUG_INFO_BTF"
env_case "no bpffs" "umount -l /sys/fs/bpf" "mount -t bpf bpf /sys/fs/bpf"
env_case "no cgroup v2" "for m in \$(awk '\$3 == \"cgroup2\" {print \$2}' /proc/mounts); do umount -l \$m; done" "mount -t cgroup2"

t_summary
