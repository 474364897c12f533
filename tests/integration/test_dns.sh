#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_dns.sh - the agent keeps its host's names current on a real BIND 9
# with TSIG-signed RFC 2136 UPDATEs, TTL 0: IPv4 and IPv6 records, a move
# to another network (old address kept on lo, never published), a wrong
# TSIG key (refused, logged, counted, backed off), the server down and back,
# the primary found from the zone's SOA, `migratectl show dns`, and config
# errors that stop the agent with one line.
#
#   mobile (agent)                           router (fwd)                      dns (named)
#   eth0 192.0.2.1/24    x-x-x-x-x-x-x-x-x  a0 192.0.2.254/24
#        2001:db8:1::1/64                      2001:db8:1::fe/64
#   eth1 198.51.100.1/24 - - - - - - - - -  b0 198.51.100.254/24
#        2001:db8:2::1/64                      2001:db8:2::fe/64
#                                           s0 203.0.113.254/24   ------------ d0 203.0.113.53/24
#                                              2001:db8:3::fe/64                  2001:db8:3::53/64
#   other (agent)
#   eth0 192.0.2.7/24 2001:db8:1::7/64 ---- c0 192.0.2.253/24 2001:db8:1::fd/64 (second port on net A)
#   soa (agent, no `server`: finds ns.example.test. from the SOA through
#        a private /etc/resolv.conf)
#   eth0 192.0.2.9/24 --------------------- e0 192.0.2.252/24
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/../lib/dns.sh"

lab_init
lab_host mobile
lab_host router router
lab_host dns
lab_host other
lab_host soa
lab_link mobile eth0 router a0
lab_link mobile eth1 router b0
lab_link router s0 dns d0
lab_link other eth0 router c0
lab_link soa eth0 router e0
# router: net A is split over three ports; each gets a host route
lab_addr router a0 192.0.2.254/24
lab_addr router a0 2001:db8:1::fe/64
lab_addr router b0 198.51.100.254/24
lab_addr router b0 2001:db8:2::fe/64
lab_addr router s0 203.0.113.254/24
lab_addr router s0 2001:db8:3::fe/64
lab_addr router c0 192.0.2.253/32
lab_addr router c0 2001:db8:1::fd/128
lab_addr router e0 192.0.2.252/32
lab_route router add 192.0.2.7/32 dev c0
lab_route router -6 add 2001:db8:1::7/128 dev c0
lab_route router add 192.0.2.9/32 dev e0
lab_addr dns d0 203.0.113.53/24
lab_addr dns d0 2001:db8:3::53/64
lab_route dns add default via 203.0.113.254
lab_route dns -6 add default via 2001:db8:3::fe
lab_addr mobile eth0 192.0.2.1/24
lab_addr mobile eth0 2001:db8:1::1/64
lab_route mobile add default via 192.0.2.254
lab_route mobile -6 add default via 2001:db8:1::fe
lab_addr other eth0 192.0.2.7/24
lab_addr other eth0 2001:db8:1::7/64
lab_route other add default via 192.0.2.253 onlink
lab_route other -6 add default via 2001:db8:1::fd onlink
lab_addr soa eth0 192.0.2.9/24
lab_route soa add default via 192.0.2.252 onlink

KEY=$(dns_key mig-key)
# same name, other secret: BADSIG; unknown name: BADKEY
WRONG=$(dns_key mig-key "$DNS_DIR/wrong.key")
tsig-keygen -a hmac-sha256 stranger >"$DNS_DIR/stranger.key"
dns_server_start dns 203.0.113.53 2001:db8:3::53
DNS4=203.0.113.53
DNS6=2001:db8:3::53

# conf FILE NAME SERVER KEYFILE - write an agent configuration
conf() {
	cat >"$1" <<-EOF
		# agent configuration of test_dns.sh
		pool = 8
		[dns]
		zone = example.test.
		name = $2
		${3:+server = $3}
		port = 53
		key_file = $4
		peer = peer.example.org.
	EOF
}

ctl_json() { lab_ctl "$1" -j show dns; }
# field HOST NAME EXPR - a Python expression over the entry e of NAME in
# `migratectl -j show dns` of HOST
field() {
	ctl_json "$1" | python3 -c '
import json, sys
for e in json.load(sys.stdin)["dns"]:
    if e["name"] == sys.argv[1]:
        print(eval(sys.argv[2])); break' "$2" "$3"
}
eq() { local want=$1; shift; [ "$("$@")" = "$want" ]; }
stat() { lab_ctl "$1" show stats "$2"; }
# only HOST TYPE NAME DATA - the answer is exactly that one record, TTL 0
only() {
	local out
	out=$(dns_dig "$1" "$2" "$3") || return 1
	[ "$out" = "$3 0 IN $2 $4" ]
}
agent_log() { cat "$LAB_DIR/agent-$1.log"; }
log_has() { grep -q -- "$2" "$LAB_DIR/agent-$1.log"; }

# ---------------------------------------------------------------------------
t_begin "publish: A and AAAA of two names with TTL 0, over IPv4"
conf "$LAB_DIR/mobile.conf" m.example.test. $DNS4 "$KEY"
sed -i 's/^name = m.example.test.$/&\nname = WWW.example.test/' "$LAB_DIR/mobile.conf"
lab_agent_start mobile --config "$LAB_DIR/mobile.conf"
t_check "A m.example.test. is 192.0.2.1, TTL 0, within 3 s" \
	lab_wait_until 3 only dns A m.example.test. 192.0.2.1
t_check "AAAA m.example.test. is 2001:db8:1::1 only (no link-local), TTL 0" \
	lab_wait_until 3 only dns AAAA m.example.test. 2001:db8:1::1
t_check "www.example.test. too (names are lowercased)" \
	lab_wait_until 3 only dns A www.example.test. 192.0.2.1
t_check "the TTL field dig prints is 0" \
	eq 0 sh -c "$(declare -f dns_dig lab_nsexec _lab_need_host); $(declare -p LAB_NS DNS_ADDRS); dns_dig dns A m.example.test. | awk '{print \$2}'"
t_check "agent logs the success with name and addresses" \
	log_has mobile "dns: m.example.test. updated: A 192.0.2.1, AAAA 2001:db8:1::1, TTL 0"
t_check "dns_update_ok counts both names" lab_wait_until 2 eq 2 stat mobile dns_update_ok
t_check "dns_update_failed stays 0" eq 0 stat mobile dns_update_failed

# ---------------------------------------------------------------------------
t_begin "migratectl show dns, human and JSON"
t_check "human: header, name, addresses, result" sh -c "
	$(declare -f lab_ctl _lab_need_host lab_pindir); $(declare -p LAB_NS LAB_BUILD LAB_BPFFS LAB_SUFFIX)
	out=\$(lab_ctl mobile show dns) && echo \"\$out\" &&
	echo \"\$out\" | head -1 | grep -q '^NAME' &&
	echo \"\$out\" | grep -E '^m\.example\.test\. +192\.0\.2\.1,2001:db8:1::1 .* ok ' >/dev/null"
t_check "JSON: name, addresses, result ok, attempts 1, times" sh -c "
	$(declare -f lab_ctl _lab_need_host lab_pindir); $(declare -p LAB_NS LAB_BUILD LAB_BPFFS LAB_SUFFIX)
	lab_ctl mobile -j show dns | python3 -c '
import json, sys, time
d = json.load(sys.stdin)[\"dns\"]
print(d)
assert [e[\"name\"] for e in d] == [\"m.example.test.\", \"www.example.test.\"]
e = d[0]
assert e[\"addresses\"] == [\"192.0.2.1\", \"2001:db8:1::1\"], e
assert e[\"result\"] == \"ok\" and e[\"attempts\"] == 1, e
assert e[\"pending\"] == [], e
assert abs(e[\"last_attempt\"] - time.time()) < 60 and e[\"last_success\"] == e[\"last_attempt\"], e
'"
t_check "-p pretty JSON parses" sh -c "
	$(declare -f lab_ctl _lab_need_host lab_pindir); $(declare -p LAB_NS LAB_BUILD LAB_BPFFS LAB_SUFFIX)
	lab_ctl mobile -p show dns | python3 -m json.tool >/dev/null"
t_check "bpftool prints the status map by field name" \
	sh -c "bpftool map dump pinned $(lab_pindir mobile)/mig_dns | grep -q '\"last_success\"'"
t_check "a host without [dns]: 'no DNS names configured'" sh -c "
	$(declare -f lab_ctl _lab_need_host lab_pindir); $(declare -p LAB_NS LAB_BUILD LAB_BPFFS LAB_SUFFIX)
	test \"\$(lab_ctl router show dns 2>&1)\" != '' " # (router has no agent: error path)

# ---------------------------------------------------------------------------
t_begin "move: the new addresses are in DNS promptly; the old one kept on lo never is"
t0=$(_lab_now_us)
lab_addr_del mobile eth0 192.0.2.1/24
lab_addr_del mobile eth0 2001:db8:1::1/64
# what the agent does with an address that went away (ARCHITECTURE.md)
lab_addr mobile lo 192.0.2.1/32 scope host
lab_addr mobile lo 2001:db8:1::1/128
lab_addr mobile eth1 198.51.100.1/24
lab_addr mobile eth1 2001:db8:2::1/64
lab_route mobile replace default via 198.51.100.254
lab_route mobile -6 replace default via 2001:db8:2::fe
t_check "A m.example.test. becomes 198.51.100.1 (only) within 5 s" \
	lab_wait_until 5 only dns A m.example.test. 198.51.100.1
t1=$(_lab_now_us)
t_check "AAAA m.example.test. becomes 2001:db8:2::1 (only) within 5 s" \
	lab_wait_until 5 only dns AAAA m.example.test. 2001:db8:2::1
t_check "www.example.test. follows" lab_wait_until 5 only dns A www.example.test. 198.51.100.1
echo "   (A record updated $(((t1 - t0) / 1000)) ms after the move began)"
sleep 1
t_check_not "192.0.2.1 (on lo) is not in DNS" dns_has dns A m.example.test. 192.0.2.1
t_check_not "2001:db8:1::1 (on lo) is not in DNS" dns_has dns AAAA m.example.test. 2001:db8:1::1
t_check_not "no UPDATE ever published an address on lo after the move" \
	sh -c "sed -n '/198.51.100.1/,\$p' '$LAB_DIR/agent-mobile.log' | grep 'updated:.*192.0.2.1'"
t_check "show dns: new addresses, result ok, nothing pending" \
	eq "['198.51.100.1', '2001:db8:2::1'] ok []" field mobile m.example.test. \
	'" ".join([str(e["addresses"]), e["result"], str(e["pending"])])'
t_check "an address event that changes nothing sends no UPDATE" sh -c "
	$(declare -f lab_nsexec _lab_need_host); $(declare -p LAB_NS)
	n=\$(grep -c 'm.example.test. updated' '$LAB_DIR/agent-mobile.log')
	lab_nsexec mobile ip route add 203.0.113.99/32 via 198.51.100.254
	sleep 1.5
	test \"\$(grep -c 'm.example.test. updated' '$LAB_DIR/agent-mobile.log')\" = \"\$n\""

# ---------------------------------------------------------------------------
t_begin "wrong TSIG key: refused, logged as a TSIG failure, counted, backed off"
conf "$LAB_DIR/wrong.conf" o.example.test. $DNS6 "$WRONG"
lab_agent_start other --config "$LAB_DIR/wrong.conf"
t_check "log says TSIG failure (NOTAUTH/BADSIG)" \
	lab_wait_until 3 log_has other "o.example.test.: update failed: TSIG failure (NOTAUTH/BADSIG)"
t_check "show dns: result tsig" lab_wait_until 2 eq tsig field other o.example.test. 'e["result"]'
a0=$(field other o.example.test. 'e["attempts"]')
sleep 6
a1=$(field other o.example.test. 'e["attempts"]')
echo "   ($((a1 - a0)) attempts in 6 s)"
t_check "backoff: 2 to 5 attempts in 6 s, not dozens ($a0 -> $a1)" \
	test $((a1 - a0)) -ge 2 -a $((a1 - a0)) -le 5
t_check "dns_tsig_failed counts every attempt" eq "$a1" stat other dns_tsig_failed
t_check "dns_update_failed counts every attempt" eq "$a1" stat other dns_update_failed
t_check "dns_update_ok stays 0" eq 0 stat other dns_update_ok
t_check "nothing was published" eq 0 dns_count dns A o.example.test.
t_check "the agent still runs" _lab_alive "${LAB_AGENT_PID[other]}"
t_check "named logged the refusal" grep -q "mig-key.*failed to verify\|BADSIG\|tsig verify failure" "$(lab_log named)"
lab_agent_kill other
conf "$LAB_DIR/stranger.conf" o.example.test. $DNS6 "$DNS_DIR/stranger.key"
lab_agent_start other --config "$LAB_DIR/stranger.conf"
t_check "a key the server does not know: TSIG failure (NOTAUTH/BADKEY)" \
	lab_wait_until 3 log_has other "TSIG failure (NOTAUTH/BADKEY)"
lab_agent_kill other

# ---------------------------------------------------------------------------
t_begin "server down: the agent keeps retrying; the update lands once named is back"
dns_server_stop
conf "$LAB_DIR/other.conf" o.example.test. $DNS6 "$KEY"
lab_agent_start other --config "$LAB_DIR/other.conf"
t_check "log says server unreachable" \
	lab_wait_until 3 log_has other "o.example.test.: update failed: server unreachable"
t_check "show dns: result unreachable" \
	lab_wait_until 2 eq unreachable field other o.example.test. 'e["result"]'
sleep 3
t_check "still running, retried" sh -c "test $(field other o.example.test. 'e["attempts"]') -ge 2"
t_check "the agent still runs" _lab_alive "${LAB_AGENT_PID[other]}"
dns_server_start dns 203.0.113.53 2001:db8:3::53
t_check "A o.example.test. lands within 15 s of named's return" \
	lab_wait_until 15 only dns A o.example.test. 192.0.2.7
t_check "AAAA o.example.test. too" only dns AAAA o.example.test. 2001:db8:1::7
t_check "show dns: ok" eq ok field other o.example.test. 'e["result"]'
t_check "m.example.test. survived named's restart" only dns A m.example.test. 198.51.100.1

t_begin "stopping the agent while the server is down takes under 3 s"
dns_server_stop
lab_agent_kill other
lab_agent_start other --config "$LAB_DIR/other.conf"
lab_wait_until 3 log_has other "update failed" || true
sleep 0.5   # an UPDATE is out now or soon
s0=$(_lab_now_us)
t_check "agent exits 0 on SIGTERM" lab_agent_kill other
s1=$(_lab_now_us)
echo "   (stopped in $(((s1 - s0) / 1000)) ms)"
t_check "within 3 s" test $(((s1 - s0) / 1000)) -lt 3000
t_check "after a restart, the status keeps its history" \
	sh -c "test $(field other o.example.test. 'e["last_success"]') -gt 0"
dns_server_start dns 203.0.113.53 2001:db8:3::53

# ---------------------------------------------------------------------------
t_begin "no server configured: the primary comes from the zone's SOA (MNAME)"
conf "$LAB_DIR/soa.conf" s.example.test. "" "$KEY"
printf 'nameserver %s\n' "$DNS4" >"$LAB_DIR/resolv.conf"
# a private mount namespace: this agent's /etc/resolv.conf names the lab's
# named; the machine's own stays untouched and unused
lab_bg soa agent-soa unshare --mount --propagation private sh -c '
	mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$LAB_DIR/resolv.conf" \
	"$LAB_BUILD/migrate-agent" --pin-dir "$(lab_pindir soa)" --cgroup "$(lab_cgroup soa)" \
	--config "$LAB_DIR/soa.conf"
LAB_PIN[soa]=$(lab_pindir soa)
t_check "A s.example.test. lands" lab_wait_until 5 only dns A s.example.test. 192.0.2.9
t_check "log names the primary found" \
	grep -q "primary server ns.example.test. (203.0.113.53 port 53, from the SOA record)" \
	"$(lab_log agent-soa)"
t_check "the machine's /etc/resolv.conf is not the lab's" \
	sh -c "! grep -q '$DNS4' /etc/resolv.conf"
lab_bg_stop agent-soa

# ---------------------------------------------------------------------------
t_begin "config errors: the agent exits 1 with one line, nothing started"
# bad CONF - run the agent on CONF; stdout+stderr to $LAB_DIR/bad.out
bad() {
	lab_nsexec other "$LAB_BUILD/migrate-agent" --pin-dir "$(lab_pindir other)" \
		--cgroup "$(lab_cgroup other)" --config "$1" >"$LAB_DIR/bad.out" 2>&1
}
one_line() {
	[ "$(wc -l <"$LAB_DIR/bad.out")" = 1 ] && grep -qF -- "$1" "$LAB_DIR/bad.out"
}
printf 'pool = 8\n[dns]\nzone = example.test.\nname = m.other.test.\nkey_file = %s\n' \
	"$KEY" >"$LAB_DIR/bad1.conf"
bad "$LAB_DIR/bad1.conf"
t_check "name outside the zone: exit 1" test $? = 1
t_check "one line: FILE:4: name outside zone ... 'm.other.test.'" \
	one_line "$LAB_DIR/bad1.conf:4: name outside zone example.test.: 'm.other.test.'"
printf 'key "k" {\n\talgorithm hmac-md5;\n\tsecret "AAAA";\n};\n' >"$LAB_DIR/md5.key"
printf '[dns]\nzone = example.test.\nname = m.example.test.\nkey_file = %s\n' \
	"$LAB_DIR/md5.key" >"$LAB_DIR/bad2.conf"
bad "$LAB_DIR/bad2.conf"
t_check "hmac-md5 key: exit 1" test $? = 1
t_check "one line naming the key file and its line" \
	one_line "$LAB_DIR/md5.key:2: unsupported algorithm (only hmac-sha256): 'hmac-md5'"
printf 'pool = lots\n' >"$LAB_DIR/bad3.conf"
bad "$LAB_DIR/bad3.conf"
t_check "bad number: exit 1 with FILE:1" test $? = 1
t_check "message" one_line "$LAB_DIR/bad3.conf:1: invalid pool size (a number from 0 to 1024): 'lots'"
t_check "the refused agent pinned nothing" test ! -e "$(lab_pindir other)/mig_dns"

t_summary
