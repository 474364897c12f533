#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_dns.sh - the agent keeps its host's names current on a real BIND 9
# (tests/lib/dns.sh) with TSIG-signed RFC 2136 UPDATEs, TTL 0: IPv4 and IPv6
# records, a move to another network (the old address kept on lo is never
# published), a wrong TSIG key (refused, logged, counted, backed off), the
# server down and back, the primary found from the zone's SOA, `migratectl
# show dns`, and configuration errors that stop the agent with one line.
#
#   mobile (agent)                            router (fwd)                 dns (named)
#   eth0 192.0.2.1/26    x-x-x-x-x-x-x-x-x-x  a0 192.0.2.62/26
#        2001:db8:1::1/64                        2001:db8:1::fe/64
#   eth1 198.51.100.1/24 - - - - - - - - - -  b0 198.51.100.254/24
#        2001:db8:2::1/64                        2001:db8:2::fe/64
#                                             s0 203.0.113.254/24 ------- d0 203.0.113.53/24
#                                                2001:db8:3::fe/64           2001:db8:3::53/64
#   other (agent)
#   eth0 192.0.2.65/26    ------------------  c0 192.0.2.126/26
#        2001:db8:4::65/64                       2001:db8:4::fe/64
#   soa (agent; no `server`: the primary comes from the zone's SOA, asked
#        through a private /etc/resolv.conf naming the lab's named)
#   eth0 192.0.2.129/26   ------------------  e0 192.0.2.190/26
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
lab_addr router a0 192.0.2.62/26
lab_addr router a0 2001:db8:1::fe/64
lab_addr router b0 198.51.100.254/24
lab_addr router b0 2001:db8:2::fe/64
lab_addr router s0 203.0.113.254/24
lab_addr router s0 2001:db8:3::fe/64
lab_addr router c0 192.0.2.126/26
lab_addr router c0 2001:db8:4::fe/64
lab_addr router e0 192.0.2.190/26
lab_addr dns d0 203.0.113.53/24
lab_addr dns d0 2001:db8:3::53/64
lab_route dns add default via 203.0.113.254
lab_route dns -6 add default via 2001:db8:3::fe
lab_addr mobile eth0 192.0.2.1/26
lab_addr mobile eth0 2001:db8:1::1/64
lab_route mobile add default via 192.0.2.62
lab_route mobile -6 add default via 2001:db8:1::fe
lab_addr other eth0 192.0.2.65/26
lab_addr other eth0 2001:db8:4::65/64
lab_route other add default via 192.0.2.126
lab_route other -6 add default via 2001:db8:4::fe
lab_addr soa eth0 192.0.2.129/26
lab_route soa add default via 192.0.2.190

KEY=$(dns_key mig-key)
# (not $DNS_DIR: dns_key sets it inside the $(...) subshell only, and
# "$DNS_DIR/wrong.key" was /wrong.key on the real root)
WRONG=$(dns_key mig-key "$LAB_DIR/dns/wrong.key") # same name, other secret: BADSIG
STRANGER=$(dns_key stranger)                      # unknown to named: BADKEY
dns_server_start dns 203.0.113.53 2001:db8:3::53
DNS4=203.0.113.53
DNS6=2001:db8:3::53

# conf FILE NAME SERVER KEYFILE - an agent configuration (no server line if
# SERVER is empty)
conf() {
	{
		echo "# agent configuration written by test_dns.sh"
		echo "pool = 8"
		echo "[dns]"
		echo "zone = example.test."
		echo "name = $2               # kept current"
		if [ -n "$3" ]; then echo "server = $3"; fi
		echo "port = 53"
		echo "key_file = $4"
		echo "peer = peer.example.org."
	} >"$1"
}

# field HOST NAME EXPR - a Python expression over e, the entry of NAME in
# `migratectl -j show dns` on HOST
field() {
	lab_ctl "$1" -j show dns | python3 -c '
import json, sys
for e in json.load(sys.stdin)["dns"]:
    if e["name"] == sys.argv[1]:
        print(eval(sys.argv[2])); break' "$2" "$3"
}
# only HOST TYPE NAME DATA - the answer is exactly "NAME 0 IN TYPE DATA"
only() {
	local out
	out=$(dns_dig "$1" "$2" "$3") || return 1
	echo "$out"
	[ "$out" = "$3 0 IN $2 $4" ]
}
log_has() { grep -qF -- "$2" "$LAB_DIR/agent-$1.log"; }
nupdated() { grep -c "dns: $2 updated" "$LAB_DIR/agent-$1.log"; }

# ---------------------------------------------------------------------------
t_begin "publish: A and AAAA of two names, TTL 0, over IPv4"
conf "$LAB_DIR/mobile.conf" m.example.test. $DNS4 "$KEY"
echo "name = WWW.example.test" >>"$LAB_DIR/mobile.conf"   # [dns] is last: still in it
lab_agent_start mobile --config "$LAB_DIR/mobile.conf"
t_check "A m.example.test. is 192.0.2.1 only, TTL 0, within 3 s" \
	lab_wait_until 3 only dns A m.example.test. 192.0.2.1
t_check "AAAA m.example.test. is 2001:db8:1::1 only (no link-local), TTL 0" \
	lab_wait_until 3 only dns AAAA m.example.test. 2001:db8:1::1
t_check "www.example.test. too (names are lowercased)" \
	lab_wait_until 3 only dns A www.example.test. 192.0.2.1
ttl_field() { dns_dig dns A m.example.test. | awk '{ print $2 }'; }
t_check "the TTL field is 0" eq 0 ttl_field
t_check "the success is logged with name and addresses" \
	log_has mobile "dns: m.example.test. updated: A 192.0.2.1, AAAA 2001:db8:1::1, TTL 0"
t_check "dns_update_ok counts both names" lab_wait_until 2 eq 2 counter mobile dns_update_ok
t_check "dns_update_failed stays 0" eq 0 counter mobile dns_update_failed

# ---------------------------------------------------------------------------
t_begin "migratectl show dns, human and JSON"
human() {
	local out
	out=$(lab_ctl mobile show dns) || return 1
	echo "$out"
	[ "$(echo "$out" | head -1 | awk '{ print $1, $2, $3 }')" = "NAME ADDRESSES RESULT" ] &&
		echo "$out" | grep -Eq '^m\.example\.test\. +192\.0\.2\.1,2001:db8:1::1 +ok +1 ' &&
		echo "$out" | grep -Eq '^www\.example\.test\. '
}
t_check "human: header, name, addresses, result, attempts" human
json_ok() {
	lab_ctl mobile -j show dns | python3 -c '
import json, sys, time
d = json.load(sys.stdin)["dns"]
print(d)
assert [e["name"] for e in d] == ["m.example.test.", "www.example.test."]
e = d[0]
assert e["addresses"] == ["192.0.2.1", "2001:db8:1::1"], e
assert e["result"] == "ok" and e["attempts"] == 1 and e["pending"] == [], e
assert e["detail"] == "NOERROR", e
assert abs(e["last_attempt"] - time.time()) < 60, e
assert e["last_success"] == e["last_attempt"], e
assert list(e)[:6] == ["name", "addresses", "result", "last_attempt", "last_success", "attempts"], e'
}
t_check "JSON: name, addresses, result, times, attempts" json_ok
pretty() { lab_ctl mobile -p show dns | python3 -m json.tool >/dev/null; }
t_check "-p: indented JSON that parses" pretty
same_dns() { [ "$(lab_ctl mobile -j dns)" = "$(lab_ctl mobile -j show dns)" ]; }
t_check "'migratectl dns' is the same" same_dns
dns_schema() { lab_ctl mobile -j show dns | python3 "$here/../lib/schema_check.py" "$here/../../docs/migratectl.schema.json" dns; }
t_check "JSON matches docs/migratectl.schema.json" dns_schema
bpftool_fields() { bpftool map dump pinned "$(lab_pindir mobile)/mig_dns" | grep -q '"last_success"'; }
t_check "bpftool prints the status map by field name (BTF)" bpftool_fields
t_check_not "an extra argument is a usage error" lab_ctl mobile show dns extra

# ---------------------------------------------------------------------------
t_begin "move: the new addresses are in DNS promptly; the old ones kept on lo never are"
t0=$(_lab_now_us)
lab_addr_del mobile eth0 192.0.2.1/26
lab_addr_del mobile eth0 2001:db8:1::1/64
# what the agent does with an address that went away (ARCHITECTURE.md);
# the mover may have done it already
lab_addr mobile lo 192.0.2.1/32 scope host 2>/dev/null || true
lab_addr mobile lo 2001:db8:1::1/128 2>/dev/null || true
lab_addr mobile eth1 198.51.100.1/24
lab_addr mobile eth1 2001:db8:2::1/64
lab_route mobile replace default via 198.51.100.254
lab_route mobile -6 replace default via 2001:db8:2::fe
t_check "A m.example.test. becomes 198.51.100.1 only, within 5 s" \
	lab_wait_until 5 only dns A m.example.test. 198.51.100.1
t1=$(_lab_now_us)
t_check "AAAA m.example.test. becomes 2001:db8:2::1 only, within 5 s" \
	lab_wait_until 5 only dns AAAA m.example.test. 2001:db8:2::1
t_check "www.example.test. follows" lab_wait_until 5 only dns A www.example.test. 198.51.100.1
echo "   (A record current $(((t1 - t0) / 1000)) ms after the move began)"
sleep 1
t_check_not "192.0.2.1 (on lo) is not in DNS" dns_has dns A m.example.test. 192.0.2.1
t_check_not "2001:db8:1::1 (on lo) is not in DNS" dns_has dns AAAA m.example.test. 2001:db8:1::1
lo_published() { sed -n '/198\.51\.100\.1/,$p' "$LAB_DIR/agent-mobile.log" | grep 'updated:.*\(192\.0\.2\.1\|2001:db8:1::1\)'; }
t_check_not "no UPDATE after the move carried an address on lo" lo_published
t_check "show dns: new addresses, ok, nothing pending" \
	eq "['198.51.100.1', '2001:db8:2::1'] ok []" field mobile m.example.test. \
	'" ".join([str(e["addresses"]), e["result"], str(e["pending"])])'
no_change() {
	local n
	n=$(nupdated mobile m.example.test.)
	lab_nsexec mobile ip route add 203.0.113.99/32 via 198.51.100.254 || return 1
	lab_nsexec mobile ip -6 addr add fe80::99/64 dev eth1 nodad || return 1
	sleep 1.5
	echo "updates: $n -> $(nupdated mobile m.example.test.)"
	[ "$(nupdated mobile m.example.test.)" = "$n" ]
}
t_check "events that change no published address send no UPDATE" no_change
t_check "and the agent still runs" _lab_alive "${LAB_AGENT_PID[mobile]}"

# ---------------------------------------------------------------------------
t_begin "wrong TSIG key: refused, logged as a TSIG failure, counted, backed off"
conf "$LAB_DIR/wrong.conf" o.example.test. $DNS6 "$WRONG"
lab_agent_start other --config "$LAB_DIR/wrong.conf"
t_check "the log says TSIG failure (NOTAUTH/BADSIG), over IPv6" \
	lab_wait_until 3 log_has other "o.example.test.: update failed: TSIG failure (NOTAUTH/BADSIG): 2001:db8:3::53 port 53"
t_check "show dns: result tsig" lab_wait_until 2 eq tsig field other o.example.test. 'e["result"]'
a0=$(field other o.example.test. 'e["attempts"]')
sleep 6
a1=$(field other o.example.test. 'e["attempts"]')
echo "   ($((a1 - a0)) attempts in 6 s, $a1 in all)"
t_check "backoff: 2 to 5 attempts in 6 s, not dozens ($a0 -> $a1)" \
	test $((a1 - a0)) -ge 2 -a $((a1 - a0)) -le 5
# an attempt may land between two reads: compare a snapshot taken while
# no attempt runs (they are seconds apart)
same_count() {
	local a c
	a=$(field other o.example.test. 'e["attempts"]')
	c=$(counter other "$1")
	[ -n "$a" ] && [ "$a" = "$c" ] && [ "$a" = "$(field other o.example.test. 'e["attempts"]')" ]
}
t_check "dns_tsig_failed counts every attempt" lab_wait_until 5 same_count dns_tsig_failed
t_check "dns_update_failed counts every attempt" lab_wait_until 5 same_count dns_update_failed
t_check "dns_update_ok stays 0" eq 0 counter other dns_update_ok
t_check "nothing was published" eq 0 dns_count dns A o.example.test.
t_check "the agent still runs" _lab_alive "${LAB_AGENT_PID[other]}"
t_check "named saw the bad signature" grep -q "BADSIG\|tsig verify failure" "$(lab_log named)"
lab_agent_kill other
conf "$LAB_DIR/stranger.conf" o.example.test. $DNS6 "$STRANGER"
lab_agent_start other --config "$LAB_DIR/stranger.conf"
t_check "a key named doesn't know: TSIG failure (NOTAUTH/BADKEY)" \
	lab_wait_until 3 log_has other "TSIG failure (NOTAUTH/BADKEY)"
lab_agent_kill other

# ---------------------------------------------------------------------------
t_begin "server down: the agent keeps retrying; the update lands once named is back"
dns_server_stop
conf "$LAB_DIR/other.conf" o.example.test. $DNS6 "$KEY"
lab_agent_start other --config "$LAB_DIR/other.conf"
t_check "the log says server unreachable" \
	lab_wait_until 3 log_has other "o.example.test.: update failed: server unreachable"
t_check "show dns: unreachable, publishing the host's addresses" \
	lab_wait_until 2 eq "unreachable ['192.0.2.65', '2001:db8:4::65']" \
	field other o.example.test. 'e["result"] + " " + str(e["pending"])'
t_check "JSON with pending addresses matches the schema" eval \
	"lab_ctl other -j show dns | python3 $here/../lib/schema_check.py $here/../../docs/migratectl.schema.json dns"
sleep 3
t_check "it retried" ge 2 field other o.example.test. 'e["attempts"]'
t_check "the agent still runs" _lab_alive "${LAB_AGENT_PID[other]}"
dns_server_start dns 203.0.113.53 2001:db8:3::53
t_check "A o.example.test. lands within 15 s of named's return" \
	lab_wait_until 15 only dns A o.example.test. 192.0.2.65
t_check "AAAA o.example.test. too" only dns AAAA o.example.test. 2001:db8:4::65
t_check "show dns: ok" eq ok field other o.example.test. 'e["result"]'
t_check "m.example.test. survived named's restart" only dns A m.example.test. 198.51.100.1

t_begin "a silent server: timeout; stopping mid-UPDATE takes under 3 s; restart keeps the status"
# named runs, but every query is dropped: each UPDATE waits out its 2 s
lab_nsexec dns nft -f - <<-'EOF'
	table inet migtest {
		chain in {
			type filter hook input priority 0;
			udp dport 53 drop
		}
	}
EOF
lab_agent_kill other
attempts_before=$(field other o.example.test. 'e["attempts"]')
lab_agent_start other --config "$LAB_DIR/other.conf"
t_check "the log says timeout" \
	lab_wait_until 4 log_has other "o.example.test.: update failed: timeout (no answer from 2001:db8:3::53 port 53 within 2 s)"
t_check "show dns: timeout" eq timeout field other o.example.test. 'e["result"]'
# the next UPDATE goes out about 1 s after the first timed out and waits
# 2 s for its answer: stop in the middle of that wait
sleep 1.7
s0=$(_lab_now_us)
t_check "the agent exits 0 on SIGTERM" lab_agent_kill other
s1=$(_lab_now_us)
echo "   (stopped in $(((s1 - s0) / 1000)) ms)"
t_check "within 3 s" test $(((s1 - s0) / 1000)) -lt 3000
t_check "it was stopped while its second UPDATE waited" eq 2 field other o.example.test. 'e["attempts"] - '"$attempts_before"
t_check "the last success is still shown after restarts" ge 1 field other o.example.test. 'e["last_success"]'
lab_nsexec dns nft delete table inet migtest

# ---------------------------------------------------------------------------
t_begin "REFUSED for one name: logged and shown; the next name is still published"
dns_server_stop
DNS_DENY=refused.example.test. dns_server_start dns 203.0.113.53 2001:db8:3::53
conf "$LAB_DIR/refused.conf" refused.example.test. $DNS6 "$KEY"
echo "name = p.example.test." >>"$LAB_DIR/refused.conf"
tsig_before=$(counter other dns_tsig_failed)
lab_agent_start other --config "$LAB_DIR/refused.conf"
t_check "the log says REFUSED" \
	lab_wait_until 3 log_has other "refused.example.test.: update failed: REFUSED from 2001:db8:3::53 port 53"
t_check "p.example.test. is published all the same" \
	lab_wait_until 3 only dns A p.example.test. 192.0.2.65
both() {
	echo "$(field other refused.example.test. 'e["result"] + " " + e["detail"]')," \
		"$(field other p.example.test. 'e["result"]')"
}
t_check "show dns: rcode REFUSED for one, ok for the other" eq "rcode REFUSED, ok" both
t_check "a REFUSED is no TSIG failure" eq "$tsig_before" counter other dns_tsig_failed
lab_agent_stop other

# ---------------------------------------------------------------------------
t_begin "no server configured: the primary comes from the zone's SOA (MNAME)"
conf "$LAB_DIR/soa.conf" s.example.test. "" "$KEY"
printf 'nameserver %s\n' "$DNS4" >"$LAB_DIR/resolv.conf"
# A private mount namespace: this agent's /etc/resolv.conf names the lab's
# named; the machine's own file stays as it is and is never used.
# shellcheck disable=SC2016 # expanded by that sh
lab_bg soa agent-soa unshare --mount --propagation private sh -c \
	'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$LAB_DIR/resolv.conf" \
	"$LAB_BUILD/migrate-agent" --pin-dir "$(lab_pindir soa)" --cgroup "$(lab_cgroup soa)" \
	--config "$LAB_DIR/soa.conf"
LAB_PIN["soa"]=$(lab_pindir soa)   # so that lab_cleanup detaches it
t_check "A s.example.test. lands" lab_wait_until 5 only dns A s.example.test. 192.0.2.129
t_check "the log names the primary it found" \
	grep -qF "primary server ns.example.test. (203.0.113.53 port 53, from the SOA record, signed)" \
	"$(lab_log agent-soa)"
t_check_not "the machine's /etc/resolv.conf is not the lab's" grep -qF "$DNS4" /etc/resolv.conf
lab_bg_stop agent-soa
# the same with a key the server does not know: its answers come back
# unsigned (NOTAUTH/BADKEY), and an unsigned SOA is not taken
conf "$LAB_DIR/soa2.conf" s2.example.test. "" "$STRANGER"
# shellcheck disable=SC2016 # expanded by that sh
lab_bg soa agent-soa2 unshare --mount --propagation private sh -c \
	'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh "$LAB_DIR/resolv.conf" \
	"$LAB_BUILD/migrate-agent" --pin-dir "$(lab_pindir soa)" --cgroup "$(lab_cgroup soa)" \
	--config "$LAB_DIR/soa2.conf"
t_check "an unsigned SOA answer is not taken (key unknown to the resolver)" \
	lab_wait_until 5 grep -qF "the answer to the example.test. query from 203.0.113.53 port 53 is not signed with key stranger.: not taken" \
	"$(lab_log agent-soa2)"
t_check "so no server is found, and it says so" \
	grep -qF "dns: zone example.test.: the answer" "$(lab_log agent-soa2)"
t_check "counted in dns_tsig_failed" ge 1 counter soa dns_tsig_failed
t_check "nothing published for s2.example.test." eq "" dns_dig dns A s2.example.test.
lab_bg_stop agent-soa2
lab_agent_start soa
t_check "an agent without [dns] removes the old status: 'no DNS names configured'" \
	eq "no DNS names configured" lab_ctl soa show dns
t_check "JSON: {\"dns\":[]}" eq '{"dns":[]}' lab_ctl soa -j show dns
lab_agent_stop soa

# ---------------------------------------------------------------------------
t_begin "configuration errors: exit 1, one line, nothing pinned"
BADPIN=$LAB_BPFFS/mig-bad-$LAB_SUFFIX
# refused CONF EXPECTED - the agent exits 1 with exactly one line holding
# EXPECTED, and creates no pin directory
refused() {
	local rc=0
	lab_nsexec other "$LAB_BUILD/migrate-agent" --pin-dir "$BADPIN" \
		--cgroup "$(lab_cgroup other)" --config "$1" >"$LAB_DIR/bad.out" 2>&1 || rc=$?
	cat "$LAB_DIR/bad.out"
	[ "$rc" = 1 ] && [ "$(wc -l <"$LAB_DIR/bad.out")" = 1 ] &&
		grep -qF -- "$2" "$LAB_DIR/bad.out" && [ ! -e "$BADPIN" ]
}
printf 'pool = 8\n[dns]\nzone = example.test.\nname = m.other.test.\nkey_file = %s\n' \
	"$KEY" >"$LAB_DIR/bad1.conf"
t_check "a name outside the zone" refused "$LAB_DIR/bad1.conf" \
	"$LAB_DIR/bad1.conf:4: name outside zone example.test.: 'm.other.test.'"
printf 'key "k" {\n\talgorithm hmac-md5;\n\tsecret "AAAA";\n};\n' >"$LAB_DIR/md5.key"
printf '[dns]\nzone = example.test.\nname = m.example.test.\nkey_file = %s\n' \
	"$LAB_DIR/md5.key" >"$LAB_DIR/bad2.conf"
t_check "an hmac-md5 key: the key file and its line" refused "$LAB_DIR/bad2.conf" \
	"$LAB_DIR/md5.key:2: unsupported algorithm (only hmac-sha256): 'hmac-md5'"
printf '\npool = lots\n' >"$LAB_DIR/bad3.conf"
t_check "a bad number" refused "$LAB_DIR/bad3.conf" \
	"$LAB_DIR/bad3.conf:2: invalid pool size (a number from 0 to 1024): 'lots'"
printf '[dns]\nzone = example.test.\nname = m.example.test.\n' >"$LAB_DIR/bad4.conf"
t_check "[dns] without key_file" refused "$LAB_DIR/bad4.conf" \
	"$LAB_DIR/bad4.conf:1: [dns] section without 'key_file = ...': '[dns]'"

# ---------------------------------------------------------------------------
t_begin "the DNS worker: its own process, no privileges, no keys; a hostile server's garbage rejected and counted"
lab_bg dns hostile python3 "$here/dns_hostile.py" 203.0.113.53 5353
t_check "the hostile server listens" lab_wait_until 5 grep -q listening "$(lab_log hostile)"
conf "$LAB_DIR/hostile.conf" h.example.test. $DNS4 "$KEY"
sed -i 's/^port = 53$/port = 5353/' "$LAB_DIR/hostile.conf"
lab_agent_start other --config "$LAB_DIR/hostile.conf"
apid=${LAB_AGENT_PID[other]}
wpid() { pgrep -P "$apid" migrate-dns; }
t_check "the agent has one child, the worker 'migrate-dns'" lab_wait_until 3 eq 1 eval 'wpid | wc -l'
w=$(wpid)
nobody=$(id -u nobody)
status_of() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$w/status"; }
t_check "the worker ($w) is not the agent ($apid)" test -n "$w" -a "$w" != "$apid"
t_check "it runs as nobody ($nobody): real, effective, saved, fs uid" \
	eq "$nobody $nobody $nobody $nobody" status_of Uid
t_check "no capabilities: CapEff and CapPrm 0" \
	eq "0000000000000000 0000000000000000" eval 'echo $(status_of CapEff) $(status_of CapPrm)'
t_check "no new privileges" eq 1 status_of NoNewPrivs
t_check "it holds no descriptor but stdio and its socket (no BPF map: no keys)" \
	eq "0 1 2 3" eval "ls /proc/$w/fd | sort -n | xargs"
t_check "no map or program among them" sh -c "! ls -l /proc/$w/fd | grep -q bpf"
t_check "the garbage reply is rejected and counted (dns_malformed)" \
	lab_wait_until 5 ge 1 counter other dns_malformed
t_check "the log says so, with the server" \
	log_has other "h.example.test.: update failed: malformed reply from 203.0.113.53 port 5353: rejected"
t_check "show dns says 'malformed reply'" \
	lab_wait_until 3 eq "malformed reply" field other h.example.test. 'e["detail"]'
t_check "the agent keeps running" kill -0 "$apid"
t_check "the worker keeps running, and retries (a second garbage answer)" \
	lab_wait_until 5 eval 'kill -0 "$w" && [ "$(grep -c garbage "$(lab_log hostile)")" -ge 2 ]'
t_check "nothing reached the zone" eq "" dns_dig dns A h.example.test.
lab_agent_stop other
t_check "stopping the agent ends the worker" lab_wait_until 3 eval '! kill -0 "$w" 2>/dev/null'
lab_bg_stop hostile

t_summary
