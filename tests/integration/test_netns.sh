#!/usr/bin/env bash
# One agent per network namespace, started the way users do: `ip netns
# exec NS migrate-agent`, which runs it in a mount namespace of its own
# whose fresh /sys has neither the host's BPF filesystem nor its cgroup v2
# mount. The agent uses the host's (found through the process that
# started it), pins under its namespace's default pin directory
# /sys/fs/bpf/migrate-NS, and migratectl under `ip netns exec` finds the
# same state without options. Both agents serve one cgroup that holds
# processes of four namespaces: each keys only its own namespace's
# connections (sock_ops compares the netns cookie). Where the host's BPF
# filesystem is out of reach (here: a new pid namespace hides the starting
# process), agent and migratectl refuse with the nsenter advice.
#
#   client (va) 192.0.2.1/24  ----  server (vb) 192.0.2.2/24     agents
#   x1 (xa) 198.51.100.1/24   ----  x2 (xb) 198.51.100.2/24      no agents
#   all processes in one cgroup, mig-shared-<suffix>
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"

lab_init
lab_host client
lab_host server
lab_host x1
lab_host x2
lab_link client va server vb
lab_link x1 xa x2 xb
lab_addr client va 192.0.2.1/24
lab_addr server vb 192.0.2.2/24
lab_addr x1 xa 198.51.100.1/24
lab_addr x2 xb 198.51.100.2/24

# one cgroup for the processes of all four namespaces (lab_cleanup removes
# mig-*-<suffix>)
SHARED=$LAB_CGROOT/mig-shared-$LAB_SUFFIX
mkdir "$SHARED"
for h in client server x1 x2; do LAB_CG[$h]=$SHARED; done

declare -A APID=()
pin_of() { echo "/sys/fs/bpf/migrate-$(lab_ns "$1")"; }
# ipx HOST CMD...: CMD under `ip netns exec` in HOST's namespace
ipx() { local ns; ns=$(lab_ns "$1"); shift; ip netns exec "$ns" "$@"; }
ctlx() { ipx "$1" "$LAB_BUILD/migratectl" "${@:2}"; }
nflowsx() { ctlx "$1" -j show | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["flows"]))'; }
counterx() { ctlx "$1" show stats "$2"; }
_up() { [[ -s $1 ]] || _lab_dead "$2"; }
# has TEXT PART: TEXT contains PART
has() { printf '%s' "$1" | grep -qF -- "$2"; }

# agent_ipx HOST: migrate-agent under `ip netns exec`, default pin dir,
# serving the shared cgroup; waits for its pidfile
agent_ipx() {
	local h=$1 ns pin pidf log
	ns=$(lab_ns "$h"); pin=$(pin_of "$h")
	pidf=$LAB_DIR/agent-$h.pid; log=$LAB_DIR/agent-$h.log
	# (deferred in this order: the agent is stopped before the detach)
	lab_defer sh -c "nsenter --net=/run/netns/$ns -- $LAB_BUILD/migrate-agent --detach --pin-dir $pin >/dev/null 2>&1; rm -rf $pin"
	setsid ip netns exec "$ns" "$LAB_BUILD/migrate-agent" --cgroup "$SHARED" --pidfile "$pidf" \
		</dev/null >>"$log" 2>&1 {_LAB_OUT}>&- {_LAB_ERR}>&- {_LAB_NAP}>&- &
	APID[$h]=$!
	lab_defer _lab_stop "$!" 1 TERM 5
	lab_wait_until 10 _up "$pidf" "${APID[$h]}" && kill -0 "${APID[$h]}"
}

t_begin "ip netns exec: the agent uses the host's BPF filesystem and cgroup"
t_check "client agent ready under ip netns exec" agent_ipx client
t_check "server agent ready under ip netns exec" agent_ipx server
t_check "it says where the BPF filesystem came from" \
	grep -q "'ip netns exec $(lab_ns client)' left '/sys/fs/bpf' without a BPF filesystem: using the host's, found at '/proc/" "$LAB_DIR/agent-client.log"
t_check "it says how it reached the cgroup" \
	grep -qF "cgroup '$SHARED' is not in this mount namespace: using it through" "$LAB_DIR/agent-client.log"
t_check "the default pin dir is per namespace, seen by the host: $(pin_of client)" \
	test -e "$(pin_of client)/mig_flows" -a -e "$(pin_of server)/mig_flows"
t_check "it attached to the namespace's interface" \
	grep -qF "attached to interface 'va' (TC ingress)" "$LAB_DIR/agent-client.log"
t_check "the TC filter is there" sh -c "tc -n $(lab_ns client) filter show dev va ingress | grep -q mig_in_tc"
t_check "the ready line names it" \
	grep -qF "ready: pin directory '$(pin_of client)'" "$LAB_DIR/agent-client.log"
t_check "the sock_ops link is pinned there (attached while pinned)" \
	test -e "$(pin_of client)/link_sockops"

t_begin "migratectl under ip netns exec finds the agent's state without options"
t_check "show: no keyed flows" eq "no keyed flows" ctlx client
t_check "show maps reads the same maps" sh -c "ip netns exec $(lab_ns client) $LAB_BUILD/migratectl show maps | grep -q '^mig_flows'"
t_check "nsenter --net, without -d: the same default pin dir" \
	eq "$(ctlx client -j show stats)" lab_nsexec client "$LAB_BUILD/migratectl" -j show stats
t_check "the same state as migratectl -d from the host's mount namespace" \
	eq "$(lab_nsexec client "$LAB_BUILD/migratectl" -d "$(pin_of client)" -j show stats)" \
	ctlx client -j show stats

t_begin "a keyed connection between the two namespaced agents"
lab_bg server srv socat TCP4-LISTEN:5001,reuseaddr,fork EXEC:cat
lab_wait_listen server 5001
# held open until the next case's checks are done (lab_release ns)
lab_bg client cli sh -c "(echo hello-ns; while [ ! -e $LAB_DIR/release-ns ]; do sleep 0.1; done) | socat - TCP:192.0.2.2:5001"
t_check "echo came back" lab_wait_until 3 grep -q hello-ns "$LAB_DIR/cli.log"
t_check "migratectl (ip netns exec) on the client lists it keyed" lab_wait_until 2 eq 1 nflowsx client
t_check "and on the server" lab_wait_until 2 eq 1 nflowsx server
t_check "the same token on both ends" eq "$(ctlx client dump | cut -f1)" eval "ctlx server dump | cut -f1"

t_begin "one cgroup, several namespaces: each agent acts only for its own"
snap() { counterx "$1" syn_offered; counterx "$1" synack_answered; counterx "$1" pool_taken; counterx "$1" fallback_syn; counterx "$1" fallback_peer; }
before_c=$(snap client); before_s=$(snap server)
lab_bg x2 srv-x socat TCP4-LISTEN:5002,reuseaddr,fork EXEC:cat
lab_wait_listen x2 5002
t_check "x1 and x2 (same cgroup, no agent) talk" \
	eval 'lab_exec x1 sh -c "echo hi-x | socat -t 1 - TCP:198.51.100.2:5002" | grep -q hi-x'
t_check "x1's processes are in the cgroup both agents serve" \
	eval "lab_exec x1 cat /proc/self/cgroup | grep -q 'mig-shared-$LAB_SUFFIX'"
t_check "the client agent's sock_ops counted nothing for it" eq "$before_c" snap client
t_check "nor the server agent's" eq "$before_s" snap server
t_check "neither lists it" eq 11 eval 'echo "$(nflowsx client)$(nflowsx server)"'
lab_bg_stop srv-x
lab_release ns
lab_bg_wait cli 8
lab_bg_stop srv

t_begin "where the host's BPF filesystem is out of reach: refused, with the nsenter advice"
nsx=$(lab_ns x1)
# a new pid namespace: neither pid 1 nor the parent is outside this mount namespace
out=$(ip netns exec "$nsx" unshare --pid --fork --mount-proc \
	"$LAB_BUILD/migrate-agent" --cgroup "$SHARED" 2>&1); rc=$?
t_check "agent: exit status 1 (got $rc)" test "$rc" = 1
t_check "agent: one line" test "$(printf '%s\n' "$out" | wc -l)" = 1
t_check "agent: names ip netns exec: $out" \
	has "$out" "'ip netns exec $nsx' gave this process a /sys of its own"
t_check "agent: gives the nsenter command" has "$out" "'nsenter --net=/run/netns/$nsx -- COMMAND'"
t_check "agent: and warns off a private mount" \
	has "$out" "a BPF filesystem mounted in here would be a new, empty one that nothing outside sees"
t_check "nothing pinned for x1" test ! -e "$(pin_of x1)"
out=$(ip netns exec "$nsx" unshare --pid --fork --mount-proc "$LAB_BUILD/migratectl" 2>&1); rc=$?
t_check "migratectl: exit status 1 (got $rc)" test "$rc" = 1
t_check "migratectl: the same advice, not just 'no agent state': $out" \
	has "$out" "no migrate agent state in '$(pin_of x1)': '/sys/fs/bpf' is not on a BPF filesystem: 'ip netns exec $nsx'"
t_check "migratectl: with the nsenter command" has "$out" "'nsenter --net=/run/netns/$nsx -- COMMAND'"

t_begin "ip netns exec migrate-agent --detach removes the namespace's pins"
_lab_stop "${APID[client]}" 1 TERM 5
t_check "the agent stopped, the pins stay" test -e "$(pin_of client)/mig_flows"
t_check "--detach under ip netns exec" ipx client "$LAB_BUILD/migrate-agent" --detach
t_check "the client's pin dir is gone" test ! -e "$(pin_of client)"
t_check "the server's is not" test -e "$(pin_of server)/mig_flows"

t_summary
