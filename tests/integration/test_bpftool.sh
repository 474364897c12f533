#!/usr/bin/env bash
# A server whose data path other tools load: bpftool loads the shipped
# objects with their maps pinned by name under the host's pin directory,
# pins the socket iterator's link, attaches sock_ops to the host's cgroup
# and tc attaches the ingress and egress programs; `migrate-agent --adopt`
# then runs the user-space part (key agreement, pool, mover) and loads
# nothing.  A connection migrates to and from that server byte-exact (the
# mobile moves, then the server moves).  Every pin and attachment is
# removed at the end.
#
#   mobile (agent)                          router (fwd)                 server (bpftool + agent --adopt)
#   eth0 192.0.2.1/24                 x-x-x a0 192.0.2.254
#   eth1 198.51.100.1/24              - - - b0 198.51.100.254
#                                           s0 203.0.113.126/25  x-x-x-x eth0 203.0.113.1/25
#                                           t0 203.0.113.254/25  - - - - eth1 203.0.113.129/25
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

RATE=${MIG_TEST_RATE:-8m}

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile

obj=$LAB_BUILD/bpf
# (not "pin" or "cg": the lab's cleanup, which runs undo, has locals of
# those names)
spin=$(lab_pindir server)
scg=$(lab_cgroup server)
in_server() { lab_nsexec server "$@"; }

# What this test attaches, undone also when it fails half-way (the lab's
# own cleanup then removes the pins).
undo() {
	bpftool cgroup detach "$scg" sock_ops pinned "$spin/prog/mig_sockops" 2>/dev/null
	local dev
	for dev in eth0 eth1; do
		in_server tc qdisc del dev "$dev" clsact 2>/dev/null
	done
	return 0
}
lab_defer undo

t_begin "bpftool loads the data path and pins it under the pin directory"
mkdir -p "$spin/prog"
t_check "sock_ops object, its maps pinned by name" \
	bpftool prog loadall "$obj/mig_sockops.bpf.o" "$spin/prog" pinmaps "$spin"
maps=()
for m in "$spin"/mig_*; do
	maps+=(map name "${m##*/}" pinned "$m")
done
t_check "data path object on the same maps" \
	bpftool prog loadall "$obj/mig_dp.bpf.o" "$spin/prog" "${maps[@]}"
t_check "socket iterator link" bpftool iter pin "$obj/mig_iter.bpf.o" "$spin/link_iter"
for dev in eth0 eth1; do
	t_check "$dev: TC ingress and egress" eval "in_server tc qdisc add dev $dev clsact &&
		in_server tc filter add dev $dev ingress prio 1 handle 1 bpf direct-action object-pinned $spin/prog/mig_in_tc &&
		in_server tc filter add dev $dev egress prio 1 handle 1 bpf direct-action object-pinned $spin/prog/mig_out_tc"
done

# adopt_refused STATUS ARGS...: an agent run that must exit STATUS at once
adopt_refused() {
	local want=$1 st=0
	shift
	timeout 30 nsenter --net="/run/netns/$(lab_ns server)" -- "$LAB_BUILD/migrate-agent" "$@" \
		>"$LAB_DIR/refused.log" 2>&1 || st=$?
	cat "$LAB_DIR/refused.log"
	[ "$st" = "$want" ]
}
pins_list() { find "$spin" | sort; }
pins_list >"$LAB_DIR/pins.0"

t_begin "--adopt before sock_ops is attached: refused, nothing changed"
t_check "exit status 1" adopt_refused 1 --adopt --pin-dir "$spin" --cgroup "$scg"
t_check "says what to attach" grep -q "no sock_ops program of the maps under $spin is attached to cgroup '$scg'" "$LAB_DIR/refused.log"
t_check "no pin added or removed" eq "$(cat "$LAB_DIR/pins.0")" pins_list
t_check "sock_ops attached with bpftool" bpftool cgroup attach "$scg" sock_ops pinned "$spin/prog/mig_sockops" multi

t_begin "without --adopt the agent refuses to load over them"
t_check "exit status 3" adopt_refused 3 --pin-dir "$spin" --cgroup "$scg"
t_check "says to use --adopt" grep -q "was loaded by other tools (link_iter is pinned): run migrate-agent --adopt" "$LAB_DIR/refused.log"
t_check "no pin added or removed" eq "$(cat "$LAB_DIR/pins.0")" pins_list

# host_progs: ids of the programs of the server's data path: those that use
# its pinned mig_flows, and the iterator's
host_progs() {
	python3 - "$spin" <<-'EOF'
	import json, subprocess, sys
	pin = sys.argv[1]
	bt = lambda *a: json.loads(subprocess.check_output(["bpftool", "-j"] + list(a)))
	flows = bt("map", "show", "pinned", pin + "/mig_flows")["id"]
	ids = {p["id"] for p in bt("prog", "show") if flows in p.get("map_ids", [])}
	ids.add(bt("link", "show", "pinned", pin + "/link_iter")["prog_id"])
	print(" ".join(str(i) for i in sorted(ids)))
	EOF
}
# agent_bpf_fds KIND: how many fds of that kind (bpf-prog, bpf_link) the
# server's agent holds
agent_bpf_fds() {
	local n=0 f
	for f in /proc/"${LAB_AGENT_PID[server]}"/fd/*; do
		[ "$(readlink "$f")" = "anon_inode:$1" ] && n=$((n + 1))
	done
	echo "$n"
}
# agent_link_ids: the ids of the links the agent holds
agent_link_ids() {
	grep -h '^link_id:' /proc/"${LAB_AGENT_PID[server]}"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u | xargs
}

t_begin "migrate-agent --adopt serves it and loads nothing"
before=$(host_progs)
nall=$(bpftool prog show | grep -c '^[0-9]*:')
echo "   programs of the server's data path: $before ($nall on the machine)"
t_check "the data path has 7 programs (sock_ops, tc in and out for Ethernet and for L3, xdp in, iterator)" \
	eq 7 eval 'wc -w <<<"$before"'
t_check "the agent starts" lab_agent_start server --adopt
t_check "it says it loaded nothing" grep -q "(adopted: nothing loaded)" "$LAB_DIR/agent-server.log"
t_check "the same programs afterwards" eq "$before" host_progs
echo "   programs on the machine now: $(bpftool prog show | grep -c '^[0-9]*:') (other users of this machine load their own)"
t_check "the agent holds no program" eq 0 agent_bpf_fds bpf-prog
t_check "its only link is the pinned iterator's" \
	eq "$(bpftool -j link show pinned "$spin/link_iter" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" agent_link_ids
t_check "it wrote mig_meta (migratectl reads the state)" lab_ctl server show
t_check "and the boot secret in mig_host" eval "bpftool -j map dump pinned $spin/mig_host | python3 -c 'import json,sys; e = json.load(sys.stdin)[0]; sys.exit(0 if any(int(b) for b in e[\"formatted\"][\"value\"][\"boot\"]) else 1)'"
t_check "no pin added or removed" eq "$(cat "$LAB_DIR/pins.0")" pins_list

# A download from the server whose data the test lets through in two
# phases: p1 at once, p2 (rate-limited) once $LAB_DIR/NAME.go exists.
port=6200
start_download() {
	local name=$1
	port=$((port + 1))
	head -c 16M /dev/urandom >"$LAB_DIR/$name.p1"
	head -c 16M /dev/urandom >"$LAB_DIR/$name.p2"
	cat "$LAB_DIR/$name.p1" "$LAB_DIR/$name.p2" >"$LAB_DIR/$name.all"
	cat >"$LAB_DIR/$name.feed" <<-EOF
	cat "$LAB_DIR/$name.p1"
	while [ ! -e "$LAB_DIR/$name.go" ]; do sleep 0.05; done
	pv -qL $RATE "$LAB_DIR/$name.p2"
	EOF
	lab_bg server "srv-$name" sh -c "sh $LAB_DIR/$name.feed | socat -u STDIN TCP4-LISTEN:$port,reuseaddr"
	lab_wait_listen server "$port"
	lab_bg mobile "cli-$name" sh -c "socat -u TCP4:${TOPO_V4[server.s]}:$port STDOUT > $LAB_DIR/$name.got"
	t_check "$name: keyed on both ends" lab_wait_until 5 eq 11 eval 'echo $(nflows mobile)$(nflows server)'
	t_check "$name: phase 1 arrived" lab_wait_until 10 eq $((16 << 20)) fsize "$LAB_DIR/$name.got"
}
finish_download() {
	: >"$LAB_DIR/$1.go"
	t_check "$1: sender and receiver finish" eval "lab_bg_wait cli-$1 30 && lab_bg_wait srv-$1 10"
	t_check "$1: 32 MiB arrived byte-exact" cmp "$LAB_DIR/$1.all" "$LAB_DIR/$1.got"
}

t_begin "the mobile moves; the adopted server is the fixed end"
start_download mob
topo_leave mobile a
topo_at mobile b
t_check "mobile lists 1 migration" lab_wait_until 5 eq 1 flow_field mobile migrations
t_check "server lists 1 migration" lab_wait_until 3 eq 1 flow_field server migrations
t_check "server records the mobile's new address" eq "${TOPO_V4[mobile.b]}" flow_field server wire.remote.addr
finish_download mob

t_begin "the adopted server moves"
start_download srv
topo_leave server s
topo_at server t
t_check "server lists 1 migration" lab_wait_until 5 eq 1 flow_field server migrations
t_check "the server's agent committed it as the mover" ge 1 counter server committed_mover
t_check "mobile records the server's new address" eq "${TOPO_V4[server.t]}" flow_field mobile wire.remote.addr
finish_download srv

t_begin "the agent stops and leaves everything as it found it"
t_check "exit status 0 on SIGTERM" lab_agent_kill server
t_check "no pin added or removed" eq "$(cat "$LAB_DIR/pins.0")" pins_list
t_check "the same programs" eq "$before" host_progs
t_check "sock_ops still attached" eval "bpftool cgroup show $scg | grep -q mig_sockops"

t_begin "--adopt over an agent's own pins is refused"
t_check "exit status 3" adopt_refused 3 --adopt --pin-dir "$(lab_pindir mobile)" --cgroup "$(lab_cgroup mobile)"
t_check "says to run without --adopt" grep -q "was loaded by migrate-agent itself (link_sockops is pinned); run it without --adopt" "$LAB_DIR/refused.log"

t_begin "bpftool and tc remove every attachment and pin"
read -ra ids <<<"$before"
t_check "sock_ops detached" bpftool cgroup detach "$scg" sock_ops pinned "$spin/prog/mig_sockops"
for dev in eth0 eth1; do
	t_check "$dev: clsact removed" in_server tc qdisc del dev "$dev" clsact
done
t_check "pins removed" rm -r "$spin"
t_check "nothing attached to the cgroup" eq "" eval "bpftool cgroup show $scg"
t_check "no filter on the server's interfaces" eq 0 eval "in_server bpftool -j net show | python3 -c 'import json,sys; print(sum(len(n[\"tc\"]) for n in json.load(sys.stdin)))'"
gone() { local i; for i in "${ids[@]}"; do bpftool prog show id "$i" >/dev/null 2>&1 && return 1; done; return 0; }
t_check "every program of the data path is gone" lab_wait_until 5 gone

t_summary
