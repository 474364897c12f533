#!/usr/bin/env bash
# Operator commands: "migratectl migrate all|TOKEN" moves a flow when the
# preferred route changed while the old address stayed (no netlink-driven
# move), the transfer finishing byte-exact; the agent refuses hostile
# control requests; "stats --prometheus" is valid exposition format whose
# values match the counters after a migration; every -j command's output
# matches docs/migratectl.schema.json; bad arguments exit 2 quoting them.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 --- a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 --- b0 198.51.100.254 2001:db8:b::fe   (address added, route moved)
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"
repo=$(cd "$here/../.." && pwd)
schema=$repo/docs/migratectl.schema.json

SIZE_MB=${MIG_TEST_MB:-64}
RATE=${MIG_TEST_RATE:-8m}       # pv rate limit: the transfer lasts ~8 s

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

# valid HOST DEF ARGS...: migratectl -j ARGS on HOST matches schema DEF
valid() {
	local h=$1 def=$2 out
	shift 2
	out=$(lab_ctl "$h" -j "$@") || { echo "migratectl -j $* failed: $out"; return 1; }
	python3 "$repo/tests/lib/schema_check.py" "$schema" "$def" <<<"$out"
}
# prom HOST: the exposition, checked, as JSON samples in $LAB_DIR/prom.json
prom() {
	lab_ctl "$1" stats --prometheus >"$LAB_DIR/prom.txt" &&
		python3 "$repo/tests/lib/prom_check.py" "$LAB_DIR/prom.txt" >"$LAB_DIR/prom.json"
}
# pval SERIES: value of one series of the last prom
pval() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$LAB_DIR/prom.json" "$1"; }
# usage_err HOST WANT ARGS...: exit 2 and stderr quotes WANT
usage_err() {
	local h=$1 want=$2 rc=0 err
	shift 2
	err=$(lab_ctl "$h" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" = 2 ] && grep -qF "'$want'" <<<"$err" || { echo "rc $rc: $err"; return 1; }
}

t_begin "JSON schema and Prometheus format with the agent idle"
t_check "the schema file is valid JSON" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$schema"
if python3 -c 'import jsonschema' 2>/dev/null; then
	t_check "the schema is valid JSON Schema (jsonschema)" python3 -c '
import json, sys, jsonschema
jsonschema.Draft202012Validator.check_schema(json.load(open(sys.argv[1])))' "$schema"
fi
t_check "show: no flows, valid" valid mobile flows show
t_check "show stats: valid" valid mobile stats show stats
t_check "stats NAME: valid" valid mobile stats stats keyed
t_check "show maps: valid" valid mobile maps show maps
t_check "show dns: valid" valid mobile dns show dns
t_check "version: valid" valid mobile version version
t_check "-V: valid" valid mobile version -V
t_check "an error: valid" eval "! lab_ctl mobile -j stats no_such_counter >$LAB_DIR/err.json 2>/dev/null && python3 $repo/tests/lib/schema_check.py $schema error $LAB_DIR/err.json"
t_check "the schema rejects a wrong document" eval "! python3 $repo/tests/lib/schema_check.py $schema flows <<<'{\"flows\":[{\"family\":\"inet\"}]}' 2>/dev/null"
t_check "stats --prometheus parses" prom mobile
t_check "the key pool is full (keys ready = target)" lab_wait_until 5 eval 'prom mobile && [ "$(pval "migrate_key_pool_keys{}")" = "$(pval "migrate_key_pool_target{}")" ] && [ "$(pval "migrate_key_pool_target{}")" = 64 ]'
t_check "no keyed flows" eq 0 pval "migrate_keyed_flows{}"
t_check "map fill: mig_flows size is the agent's" eq "$(lab_ctl mobile -j show maps | python3 -c 'import json,sys; print(json.load(sys.stdin)["maps"]["mig_flows"]["max"])')" pval 'migrate_map_max_entries{map="mig_flows"}'

t_begin "migratectl migrate all: the preferred route changed, the old address stays"
port=6100
# the sender holds the connection open after the file until the test
# releases it (lab_held_sender, lab_release): every check runs while the flow is up
lab_bg server srv socat -t 60 -u \
	"SYSTEM:$(lab_held_sender ops)" \
	"TCP4-LISTEN:$port,reuseaddr"
lab_wait_listen server "$port"
lab_bg mobile cli sh -c "socat -u TCP4:${TOPO_V4[server.s]}:$port STDOUT | pv -qL $RATE > $LAB_DIR/m.got"
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 ge $((4 << 20)) fsize "$LAB_DIR/m.got"
cookie=$(flow_field mobile cookie)
token=$(flow_field mobile token)
t_check "show with a flow: valid" valid mobile flows show
t_check "dump -j: valid" valid mobile flows dump
t_check "migrate all with nothing changed: the flow is unchanged" eval "lab_ctl mobile -j migrate all | grep -q '\"unchanged\":1'"
# net B's address comes up and becomes the default route; net A's address
# and link stay: the agent has no reason of its own to move
lab_addr mobile eth1 198.51.100.1/24
lab_route mobile -4 replace default via 198.51.100.254 dev eth1
lab_wait_until 3 eval "lab_nsexec mobile ip -4 route get 203.0.113.1 | grep -q 'src 198.51.100.1'"
# (the agent acts on a route change within 20 ms: give it a second)
t_check_not "the new route alone does not move the flow" lab_wait_until 1 eq 1 flow_field mobile migrations
t_check "the wire address is still net A's" eq 192.0.2.1 flow_field mobile wire.local.addr
t_check "migrate all -j: one flow moving, output valid" eval "lab_ctl mobile -j migrate all >$LAB_DIR/mig.json && grep -q '\"moving\":1' $LAB_DIR/mig.json && python3 $repo/tests/lib/schema_check.py $schema migrate $LAB_DIR/mig.json"
t_check "mobile lists 1 migration" lab_wait_until 5 eq 1 flow_field mobile migrations
t_check "server lists 1 migration" lab_wait_until 5 eq 1 flow_field server migrations
t_check "mobile's wire address is net B's" eq 198.51.100.1 flow_field mobile wire.local.addr
t_check "server's wire tuple has the mobile's new address" eq 198.51.100.1 flow_field server wire.remote.addr
t_check "the same socket (cookie)" eq "$cookie" flow_field mobile cookie
# back to net A by token
lab_route mobile -4 replace default via 192.0.2.254 dev eth0
t_check "migrate TOKEN: moves that flow back" eval "lab_ctl mobile migrate $token | grep -q '1 flow: 1 moving'"
t_check "mobile lists 2 migrations" lab_wait_until 5 eq 2 flow_field mobile migrations
t_check "mobile's wire address is net A's again" eq 192.0.2.1 flow_field mobile wire.local.addr
t_check "migrate TOKEN again: unchanged" eval "lab_ctl mobile migrate $token | grep -q '1 flow: 0 moving, 1 unchanged'"

t_begin "hostile control requests"
apid=$(cat "$LAB_DIR/agent-mobile.pid")
t_check "garbage, short and wrong-version requests are refused (EINVAL)" lab_nsexec mobile python3 -c '
import socket, struct, sys
name = b"\0migrate-agent.%d" % int(sys.argv[1])
V = int(sys.argv[2])   # the ABI version of this build
def ask(data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(5)
    s.connect(name)
    s.send(data)
    r = s.recv(64)
    s.close()
    return struct.unpack("<Ii", r[:8]) if len(r) == 32 else None
EINVAL = 22
ok = True
req = struct.pack("<IHHII", 0x4d47524b, V, 1, 1, 0) + bytes(40)
for bad in (b"x" * 56, b"\x4b\x52\x47\x4d", req[:-1], req + b"\0",
            struct.pack("<IHHII", 0x4d47524b, 99, 1, 1, 0) + bytes(40),
            struct.pack("<IHHII", 0x4d47524b, V, 7, 1, 0) + bytes(40),
            struct.pack("<IHHII", 0x4d47524b, V, 1, 3, 0) + bytes(40),
            struct.pack("<IHHII", 0x4d47524b, V, 1, 1, 0) + bytes(39) + b"\1",
            struct.pack("<IHHII", 0x4d47524b, V, 1, 0, 0) + bytes(36) + b"\x63\0\0\0"):
    r = ask(bad)
    if r != (0x4d47524b, -EINVAL):
        print("request %r answered %r" % (bad[:24], r)); ok = False
# a well-formed request for a flow that does not exist: ENOENT
r = ask(struct.pack("<IHHII", 0x4d47524b, V, 1, 0, 0) + bytes(36) + b"\x02\0\0\0")
if r != (0x4d47524b, -2):
    print("unknown flow answered %r" % (r,)); ok = False
# a client that connects and says nothing does not stall the agent
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(name); s.close()
sys.exit(0 if ok else 1)' "$apid" "$("$LAB_BUILD/migrate-agent" -V | sed -n 's/.*(ABI \([0-9]*\)).*/\1/p')"
t_check "the agent is still running" kill -0 "$apid"
t_check "and still answers" eval "lab_ctl mobile migrate all | grep -q '1 flow'"
t_check "the agent logged the refusals" grep -q "control request from pid .* refused: malformed" "$LAB_DIR/agent-mobile.log"
t_check "migrate from another network namespace fails (exit 1) and says why" eval "$LAB_BUILD/migratectl --pin-dir $(lab_pindir mobile) migrate all 2>&1 | grep -q 'network namespace' && { $LAB_BUILD/migratectl --pin-dir $(lab_pindir mobile) migrate all >/dev/null 2>&1; [ \$? = 1 ]; }"

t_begin "the transfer finishes byte-exact; Prometheus values after the migrations"
lab_release ops
t_check "sender and receiver finish" eval "lab_bg_wait cli 90 && lab_bg_wait srv 90"
t_check "$SIZE_MB MiB arrived byte-exact (sha256)" eq "$want_sum" got_sum m.got
t_check "flows gone" lab_wait_until 3 eq 0 nflows mobile
t_check "stats --prometheus parses" prom mobile
stats_snap mobile "$LAB_DIR/s.json"
sv() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["stats"][sys.argv[2]])' "$LAB_DIR/s.json" "$1"; }
t_check "committed_mover is 2" eq 2 sv committed_mover
t_check "migrations{outcome=committed_mover} = 2" eq 2 pval 'migrate_migrations_total{outcome="committed_mover"}'
t_check "migrate_syns{direction=sent} = msyn_sent" eq "$(sv msyn_sent)" pval 'migrate_migrate_syns_total{direction="sent"}'
t_check "negotiations{role=initiator} = syn_offered (>= 1)" eval "[ \"\$(pval 'migrate_negotiations_total{role=\"initiator\"}')\" = \"\$(sv syn_offered)\" ] && [ \"\$(sv syn_offered)\" -ge 1 ]"
t_check "keyed_total = keyed" eq "$(sv keyed)" pval 'migrate_keyed_total{}'
t_check "rejections{reason=mac} = reject_mac" eq "$(sv reject_mac)" pval 'migrate_rejections_total{reason="mac"}'
t_check "every counter is there with its value" python3 -c '
import json, sys
p = json.load(open(sys.argv[1])); s = json.load(open(sys.argv[2]))["stats"]
stable = {k for k in s if k not in ("xlate_in", "xlate_out")}
bad = [k for k in stable if p.get("migrate_counter_total{counter=\"%s\"}" % k) != s[k]]
sys.exit("differ: %s" % bad if bad else 0)' "$LAB_DIR/prom.json" "$LAB_DIR/s.json"
t_check "keyed flows gauge back to 0" eq 0 pval 'migrate_keyed_flows{}'
prom server
t_check "server: migrations{outcome=committed_fixed} = 2" eq 2 pval 'migrate_migrations_total{outcome="committed_fixed"}'
t_check "server: migrate_syns{direction=received} >= 2" ge 2 pval 'migrate_migrate_syns_total{direction="received"}'
t_check "server: negotiations{role=responder} >= 1" ge 1 pval 'migrate_negotiations_total{role="responder"}'
t_check "a textfile-collector write (tmp, then rename) leaves one valid file" eval \
	"lab_ctl mobile stats --prometheus >$LAB_DIR/migrate.prom.tmp && mv $LAB_DIR/migrate.prom.tmp $LAB_DIR/migrate.prom && python3 $repo/tests/lib/prom_check.py $LAB_DIR/migrate.prom >/dev/null"

t_begin "bad arguments exit 2 and quote the argument"
t_check "migrate (nothing)" eval "lab_ctl mobile migrate >/dev/null 2>&1; [ \$? = 2 ]"
t_check "migrate xyz" usage_err mobile xyz migrate xyz
t_check "migrate 0123456789abcdeg" usage_err mobile 0123456789abcdeg migrate 0123456789abcdeg
t_check "migrate all extra" usage_err mobile extra migrate all extra
t_check "migrate -x" usage_err mobile -x migrate -x
t_check "migrate unknown token: exit 1, quoted" eval "! lab_ctl mobile migrate 0123456789abcdef 2>$LAB_DIR/e; grep -qF \"'0123456789abcdef'\" $LAB_DIR/e"
t_check "stats --prometheus extra" usage_err mobile extra stats --prometheus extra
t_check "-j stats --prometheus" eval "lab_ctl mobile -j stats --prometheus >/dev/null 2>&1; [ \$? = 2 ]"
t_check "stats --bogus" usage_err mobile --bogus stats --bogus
t_check "stats nosuch" usage_err mobile nosuch stats nosuch
t_check "stats keyed extra" usage_err mobile extra stats keyed extra
t_check "show bogus" usage_err mobile bogus show bogus
t_check "show flows extra" usage_err mobile extra show flows extra
t_check "show maps extra" usage_err mobile extra show maps extra
t_check "show dns extra" usage_err mobile extra show dns extra
t_check "dns extra" usage_err mobile extra dns extra
t_check "dump extra" usage_err mobile extra dump extra
t_check "version extra" usage_err mobile extra version extra
t_check "help is not an error" lab_ctl mobile help
t_check "help extra" usage_err mobile extra help extra
t_check "bogus command" usage_err mobile bogus bogus
t_check "bad option" usage_err mobile --nope --nope show
t_check "version prints version and ABI" eval "lab_ctl mobile version | grep -Eq '^migratectl [0-9]+\.[0-9]+\.[0-9]+ \(ABI version [0-9]+\)$'"

t_summary
