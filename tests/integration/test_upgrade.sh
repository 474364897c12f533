#!/usr/bin/env bash
# run-timeout: 1200   (tests/run.sh: a hang guard; this script takes minutes, more on a loaded machine)
# Upgrades over live flows.  A second build of the same tree and ABI, whose
# programs differ by a marker instruction (make BPF_EXTRA=-DMIG_BPF_MARK=1)
# and which has one counter more (DEFINES=-DMIG_TEST_COUNTER), replaces the
# programs of both hosts in place while a download runs that has migrated
# once already: no connection, no migration state and no count is lost, and
# the flow moves again under the new programs.  A build that claims
# another ABI (make DEFINES=-DMIG_ABI_VERSION_OVERRIDE=N, N = this ABI + 1) is refused with
# what to do, exit status 3, and changes nothing: the programs loaded keep
# serving, with or without their agent.  Pinned maps of another layout or
# another ABI are refused the same way, and a different --max-flows keeps
# the pinned size; a scratch map of another layout is made anew.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 x-x a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 - - b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25   2001:db8:5::1/64
#                                                t0 203.0.113.254/25  2001:db8:6::fe --- eth1 203.0.113.129/25 2001:db8:6::1/64
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

RATE=${MIG_TEST_RATE:-8m}

lab_init
A=$LAB_BUILD
B=$LAB_DIR/buildB
C=$LAB_DIR/buildC
ABI=$("$A/migrate-agent" -V | sed -n 's/.*(ABI \([0-9]*\)).*/\1/p')
ABI_C=$((ABI + 1))

t_begin "two more builds of this tree: B (same ABI, marked programs, a counter more), C (ABI $ABI_C)"
t_check "build B" make -s -j2 -C "$LAB_REPO" BUILD="$B" BPF_EXTRA=-DMIG_BPF_MARK=1 \
	DEFINES=-DMIG_TEST_COUNTER "$B/migrate-agent"
t_check "build C" make -s -j2 -C "$LAB_REPO" BUILD="$C" DEFINES=-DMIG_ABI_VERSION_OVERRIDE=$ABI_C "$C/migrate-agent"
t_check "B has the ABI of A" eq "$("$A/migrate-agent" -V)" "$B/migrate-agent" -V
t_check "C says ABI $ABI_C" eval '"$C/migrate-agent" -V | grep -q "(ABI $ABI_C)"'
t_check "B's programs differ from A's" \
	eval '! cmp -s "$A/bpf/mig_dp.bpf.o" "$B/bpf/mig_dp.bpf.o" && ! cmp -s "$A/bpf/mig_sockops.bpf.o" "$B/bpf/mig_sockops.bpf.o"'
if [[ ! -x $B/migrate-agent || ! -x $C/migrate-agent ]]; then
	t_summary
	exit 1
fi

topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server

# dp_progs HOST: one line per program of the host's data path, "where name
# id tag": the cgroup link's and every TC filter's
dp_progs() {
	python3 - "$(lab_pindir "$1")" "$(lab_ns "$1")" <<-'EOF'
	import json, subprocess, sys
	pin, ns = sys.argv[1:3]
	def bt(*a, net=False):
	    pre = ["nsenter", "--net=/run/netns/" + ns, "--"] if net else []
	    return json.loads(subprocess.check_output(pre + ["bpftool", "-j"] + list(a)))
	out = [("cgroup", bt("link", "show", "pinned", pin + "/link_sockops")["prog_id"])]
	for n in bt("net", "show", net=True):
	    for t in n.get("tc", []):
	        out.append((t["devname"] + "/" + t["kind"], t["id"]))
	for where, pid in sorted(out):
	    p = bt("prog", "show", "id", str(pid))
	    print(where, p["name"], pid, p["tag"])
	EOF
}
# all_replaced BEFORE AFTER: the same programs in the same places, each with
# another id and another tag
all_replaced() {
	python3 - "$1" "$2" <<-'EOF'
	import sys
	rd = lambda f: {l.split()[0]: l.split()[1:] for l in open(f) if l.strip()}
	b, a = rd(sys.argv[1]), rd(sys.argv[2])
	print("before", b, "\nafter ", a)
	ok = len(b) >= 3 and b.keys() == a.keys() and all(
	    b[k][0] == a[k][0] and b[k][1] != a[k][1] and b[k][2] != a[k][2] for k in b)
	sys.exit(0 if ok else 1)
	EOF
}
link_id() { bpftool -j link show pinned "$(lab_pindir "$1")/link_sockops" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
meta_dump() { bpftool -j map dump pinned "$(lab_pindir "$1")/mig_meta"; }
pins_of() { ls -1 "$(lab_pindir "$1")"; }
# new_keyed: an echo exchange from the mobile works and is keyed
new_keyed() {
	local k
	k=$(counter server keyed)
	lab_exec mobile sh -c "echo hi | socat -t 1 - TCP4:${TOPO_V4[server.s]}:7999" | grep -q hi &&
		lab_wait_until 3 ge $((k + 1)) counter server keyed
}
lab_bg server echo socat TCP4-LISTEN:7999,reuseaddr,fork EXEC:cat
lab_wait_listen server 7999

# A download whose data the test lets through in phases: p1 at once, then
# p2 and p3 (rate-limited, so that segments are in flight while programs
# change) once $LAB_DIR/NAME.go2 and .go3 exist; the sender closes once
# NAME.end exists.  The receiver writes $LAB_DIR/NAME.got.
port=6100
start_download() {
	local name=$1 i
	port=$((port + 1))
	for i in 1 2 3; do
		head -c "$2" /dev/urandom >"$LAB_DIR/$name.p$i"
	done
	cat "$LAB_DIR/$name.p1" "$LAB_DIR/$name.p2" "$LAB_DIR/$name.p3" >"$LAB_DIR/$name.all"
	cat >"$LAB_DIR/$name.feed" <<-EOF
	cat "$LAB_DIR/$name.p1"
	for i in 2 3; do
		while [ ! -e "$LAB_DIR/$name.go\$i" ]; do sleep 0.05; done
		pv -qL $RATE "$LAB_DIR/$name.p\$i"
	done
	# the connection stays open until the test has looked (NAME.end)
	while [ ! -e "$LAB_DIR/$name.end" ]; do sleep 0.05; done
	EOF
	lab_bg server "srv-$name" sh -c "sh $LAB_DIR/$name.feed | socat -u STDIN TCP4-LISTEN:$port,reuseaddr"
	lab_wait_listen server "$port"
	lab_bg mobile "cli-$name" sh -c "socat -u TCP4:${TOPO_V4[server.s]}:$port STDOUT > $LAB_DIR/$name.got"
}
phase_size() { echo $(( $(fsize "$LAB_DIR/$1.p1") * $2 )); }
got_all() { cmp "$LAB_DIR/$1.all" "$LAB_DIR/$1.got"; }

t_begin "a download under build A, moved once"
start_download up 16M
t_check "keyed on both ends" lab_wait_until 5 eq 11 eval 'echo $(nflows mobile)$(nflows server)'
t_check "phase 1 arrived" lab_wait_until 10 eq "$(phase_size up 1)" fsize "$LAB_DIR/up.got"
cookie=$(flow_field mobile cookie)
token=$(flow_field server token)
topo_leave mobile a
topo_at mobile b
t_check "mobile lists 1 migration" lab_wait_until 5 eq 1 flow_field mobile migrations
t_check "server lists 1 migration" lab_wait_until 3 eq 1 flow_field server migrations
t_check "the server translates the flow (mig_ingress, mig_egress)" \
	eval '[ "$(map_count server mig_ingress)" -ge 1 ] && [ "$(map_count server mig_egress)" -ge 1 ]'

t_begin "upgrade both hosts to build B while data flows"
dp_progs server >"$LAB_DIR/server.A"
dp_progs mobile >"$LAB_DIR/mobile.A"
links="$(link_id server) $(link_id mobile)"
ingress_before=$(map_count server mig_ingress)
stats_max() { bpftool -j map show pinned "$(lab_pindir "$1")/mig_stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["max_entries"])'; }
nstats=$(stats_max server)
counts() { echo "$(counter server committed_fixed) $(counter server keyed) $(counter mobile committed_mover) $(counter mobile keyed)"; }
counts_before=$(counts)
: >"$LAB_DIR/up.go2"
lab_wait_until 5 ge $(( $(phase_size up 1) + (1 << 20) )) fsize "$LAB_DIR/up.got"
# The server's comes as from a build without the translation filter
# (mig_xf): its pin goes, A's programs keep their own until B's replace
# them, and B must not trust a filter that missed A's translations.
rm -f "$(lab_pindir server)/mig_xf"
for h in server mobile; do
	t_check "$h: agent A stops" lab_agent_kill "$h"
	LAB_BUILD=$B t_check "$h: agent B starts over A's pins" lab_agent_start "$h"
done
t_check "server: B found no filter over pinned maps, and says every segment looks up" \
	grep -q "kept by a build without the translation filter" "$LAB_DIR/agent-server.log"
t_check "mobile: B trusts A's filter (stamped by A), its counts exact" \
	eval '! grep -q "without the translation filter" "$LAB_DIR/agent-mobile.log" && xf_ok mobile'
xf_show() { lab_ctl "$1" -j show maps | python3 -c 'import json, sys; f = json.load(sys.stdin)["filter"]; print(f["biased"], f["slots_used"] == 16384 if f["biased"] else 0 < f["slots_used"] < 16384, f["slots"])'; }
t_check "show maps: the server's filter biased, the mobile's counting its translations" \
	eq "True True 16384 False True 16384" eval 'echo $(xf_show server) $(xf_show mobile)'
t_check "show maps says so in words" eval 'lab_ctl server show maps | grep -q "^mig_xf .*biased: every segment looks up"'
dp_progs server >"$LAB_DIR/server.B"
dp_progs mobile >"$LAB_DIR/mobile.B"
t_check "server: every program replaced (new ids, B's tags)" all_replaced "$LAB_DIR/server.A" "$LAB_DIR/server.B"
t_check "mobile: every program replaced (new ids, B's tags)" all_replaced "$LAB_DIR/mobile.A" "$LAB_DIR/mobile.B"
t_check "the cgroup links were updated in place (same link ids)" \
	eq "$links" eval 'echo "$(link_id server) $(link_id mobile)"'
t_check "B says it replaced the sock_ops program" \
	grep -q "replaced the program behind" "$LAB_DIR/agent-server.log"
t_check "the flow is still listed, same socket and token, 1 migration" \
	eq "$cookie $token 1 1" eval 'echo "$(flow_field mobile cookie) $(flow_field server token) $(flow_field mobile migrations) $(flow_field server migrations)"'
t_check "the server's translations are kept" eq "$ingress_before" map_count server mig_ingress
t_check "mig_stats holds B's counters, one more" eq "$((nstats + 1)) $((nstats + 1))" eval 'echo "$(stats_max server) $(stats_max mobile)"'
t_check "B says it carried the counts over" grep -q "mig_stats': $nstats counters carried over, $((nstats + 1)) now" "$LAB_DIR/agent-server.log"
t_check "the counts are kept ($counts_before)" eq "$counts_before" counts
t_check "phase 2 arrived through B's programs" lab_wait_until 20 eq "$(phase_size up 2)" fsize "$LAB_DIR/up.got"

t_begin "a move under build B, the download completes byte-exact"
: >"$LAB_DIR/up.go3"
lab_wait_until 5 ge $(( $(phase_size up 2) + (1 << 20) )) fsize "$LAB_DIR/up.got"
topo_leave mobile b
topo_at mobile a
t_check "mobile lists 2 migrations" lab_wait_until 5 eq 2 flow_field mobile migrations
t_check "server lists 2 migrations" lab_wait_until 3 eq 2 flow_field server migrations
t_check "the mobile is back at its net A address" eq "${TOPO_V4[mobile.a]}" flow_field mobile wire.local.addr
t_check "the mobile's filter still counts its translations" xf_ok mobile
: >"$LAB_DIR/up.end"
t_check "sender and receiver finish" eval 'lab_bg_wait cli-up 30 && lab_bg_wait srv-up 10'
t_check "48 MiB arrived byte-exact" got_all up
t_check "a new connection is keyed under B" new_keyed

t_begin "build C (ABI $ABI_C) is refused while agent B runs; nothing changes"
start_download abi 8M
t_check "keyed" lab_wait_until 5 eq 1 nflows server
t_check "phase 1 arrived" lab_wait_until 10 eq "$(phase_size abi 1)" fsize "$LAB_DIR/abi.got"
dp_progs server >"$LAB_DIR/server.B2"
meta_dump server >"$LAB_DIR/meta.B"
pins_of server >"$LAB_DIR/pins.B"
: >"$LAB_DIR/abi.go2"
# refused_c: run build C for the server, expect exit status 3
refused_c() {
	local st=0
	timeout 30 nsenter --net="/run/netns/$(lab_ns server)" -- "$C/migrate-agent" \
		--pin-dir "$(lab_pindir server)" --cgroup "$(lab_cgroup server)" \
		>"$LAB_DIR/c.$1.log" 2>&1 || st=$?
	cat "$LAB_DIR/c.$1.log"
	[ "$st" = 3 ]
}
t_check "C exits with status 3" refused_c running
t_check "C says what is there, what it is, and what to do" \
	grep -q "pinned state under $(lab_pindir server) has ABI $ABI, this build has ABI $ABI_C: nothing was changed, the data path loaded there keeps running; stop it with 'migrate-agent --detach --pin-dir $(lab_pindir server)' (drops migrated flows) or run the matching build" "$LAB_DIR/c.running.log"
dp_progs server >"$LAB_DIR/server.C"
t_check "the same programs are attached" cmp "$LAB_DIR/server.B2" "$LAB_DIR/server.C"
t_check "mig_meta is as agent B wrote it" eq "$(cat "$LAB_DIR/meta.B")" meta_dump server
t_check "no pin added or removed" eq "$(cat "$LAB_DIR/pins.B")" pins_of server
t_check "agent B still runs" _lab_alive "${LAB_AGENT_PID[server]}"
t_check "and still keys new connections" new_keyed
t_check "phase 2 arrived" lab_wait_until 20 eq "$(phase_size abi 2)" fsize "$LAB_DIR/abi.got"

t_begin "build C is refused with no agent running; the data path keeps serving"
t_check "agent B stops" lab_agent_kill server
t_check "C exits with status 3" refused_c stopped
t_check "the same message" grep -q "has ABI $ABI, this build has ABI $ABI_C" "$LAB_DIR/c.stopped.log"
t_check "the same programs are attached" eq "$(cat "$LAB_DIR/server.B2")" dp_progs server
t_check "no pin added or removed" eq "$(cat "$LAB_DIR/pins.B")" pins_of server
: >"$LAB_DIR/abi.go3"
t_check "phase 3 flows without an agent" lab_wait_until 20 eq "$(phase_size abi 3)" fsize "$LAB_DIR/abi.got"
: >"$LAB_DIR/abi.end"
t_check "the download completes byte-exact" eval 'lab_bg_wait cli-abi 20 && got_all abi'

t_begin "B starts again with another --max-flows: the pinned size stays"
# and over a scratch map of another layout, which holds no state
scratch=$(lab_pindir server)/mig_scratch
scratch_size() { bpftool -j map show pinned "$scratch" | python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_value"])'; }
ssize=$(scratch_size)
rm "$scratch"
bpftool map create "$scratch" type percpu_array key 4 value 8 entries 1 name mig_scratch
LAB_BUILD=$B t_check "agent B starts" lab_agent_start server --max-flows 4096
t_check "it made the scratch map anew" grep -q "'$scratch' had another layout; made anew" "$LAB_DIR/agent-server.log"
t_check "of its own size ($ssize bytes)" eq "$ssize" scratch_size
t_check "it warns that the pinned size applies" \
	grep -q "the pinned maps hold 1048576 flows; --max-flows 4096 applies after 'migrate-agent --detach'" "$LAB_DIR/agent-server.log"
t_check "show maps: mig_flows still holds 1048576" \
	eq 1048576 eval "lab_ctl server -j show maps | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"maps\"][\"mig_flows\"][\"max\"])'"
t_check "a new connection is keyed" new_keyed

# refused_at DIR: agent A on DIR exits 3; prints its output
refused_at() {
	local st=0
	timeout 30 nsenter --net="/run/netns/$(lab_ns server)" -- "$A/migrate-agent" \
		--pin-dir "$1" --cgroup "$(lab_cgroup server)" 2>&1 || st=$?
	[ "$st" = 3 ]
}
bogus=$LAB_BPFFS/mig-bogus-$LAB_SUFFIX
mkdir "$bogus"

t_begin "a pinned mig_meta of ABI 1 is refused, nothing made"
meta_size=$(bpftool -j map show pinned "$(lab_pindir server 2>/dev/null)/mig_meta" 2>/dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["bytes_value"])' 2>/dev/null || echo 40)
bpftool map create "$bogus/mig_meta" type array key 4 value "$meta_size" entries 1 name mig_meta
mapfile -t zeros < <(for ((i = 1; i < meta_size; i++)); do echo 0; done)
bpftool map update pinned "$bogus/mig_meta" key 0 0 0 0 value 1 "${zeros[@]}"
t_check "refused with status 3" eval 'refused_at "$bogus" >"$LAB_DIR/bogus1.log"'
t_check "with both versions" grep -q "pinned state under $bogus has ABI 1, this build has ABI $ABI" "$LAB_DIR/bogus1.log"
t_check "nothing else pinned there" eq mig_meta ls "$bogus"
rm -f "$bogus/mig_meta"

t_begin "a pinned mig_flows of another layout is refused, nothing made"
bpftool map create "$bogus/mig_flows" type hash key 40 value 100 entries 1048576 name mig_flows flags 1
t_check "refused with status 3" eval 'refused_at "$bogus" >"$LAB_DIR/bogus.log"'
cat "$LAB_DIR/bogus.log"
t_check "names the map and what differs" grep -q "pinned map '$bogus/mig_flows': value size 100, this build makes 320" "$LAB_DIR/bogus.log"
t_check "says what to do" grep -q "under $bogus has maps of another layout than this build (ABI $ABI): nothing was changed" "$LAB_DIR/bogus.log"
t_check "nothing else pinned there" eq mig_flows ls "$bogus"
rm -f "$bogus/mig_flows"
rmdir "$bogus"

t_summary
