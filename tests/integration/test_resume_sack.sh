#!/usr/bin/env bash
# After an outage the fixed end sends again at once, even when the mover's
# first segments after the commit carry what its socket could not send
# during the outage: SACK blocks naming data that arrived just before it,
# and a timestamp echo from before it (docs/protocol.md, "Timestamps and
# SACK blocks after a move").  Without the data path's clearing, the
# server's kernel took the outage's length as a round trip from them, reset
# its retransmission backoff (so the agent's resume step found nothing to
# revert) and waited for a timer of outage + 10 %.
#
# Each run: the server sends a paced stream (bench/handover.py, 2 MB/s);
# the router drops one data segment toward the mobile (a hole) and from
# then on every segment of the flow from the mobile (its ACKs and SACKs
# never arrive); once the mobile holds data beyond the hole, its link goes
# down with its address and route; OUTAGE seconds later its address on the
# other net comes up.  Checks: the first new byte within 1 s of the new
# address (without the clearing, 2 of 3 runs waited 3.5 s); the server
# cleared at least one stale echo and hid the held SACK blocks.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24     --- a0 192.0.2.254     (hole toward the mobile, its ACKs dropped)
#   eth1 198.51.100.1/24  --- b0 198.51.100.254
#                             s0 203.0.113.126/25 --- eth0 203.0.113.1/25
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

OUTAGE=${MIG_TEST_OUTAGE:-3}
RUNS=${MIG_TEST_RUNS:-3}
HO=$here/../../bench/handover.py

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile -v
lab_agent_start server -v

srv=${TOPO_V4[server.s]}
# arrived LOG: bytes at the receiving socket so far
arrived() { tail -n 1 "$1" 2>/dev/null | cut -d' ' -f2; }
# ms_below LIMIT VALUE: VALUE (ms, may be "-" or fractional) is below LIMIT
ms_below() { python3 -c "import sys; v='$2'; sys.exit(0 if v not in ('', '-') and float(v) < $1 else 1)"; }

cur=a
port=6300
for ((i = 1; i <= RUNS; i++)); do
	nxt=$([ $cur = a ] && echo b || echo a)
	mob=${TOPO_V4[mobile.$cur]}
	name=run$i
	port=$((port + 1))
	t_begin "$name: outage of ${OUTAGE}s with a hole and held ACKs, net $cur -> $nxt"
	k=$(counter server keyed); tc=$(counter server tsecr_cleared); sh=$(counter server sack_hidden)
	slog=$LAB_DIR/$name.send rlog=$LAB_DIR/$name.recv
	lab_bg server "snd-$name" python3 "$HO" send "$port" sender "$slog"
	lab_wait_listen server "$port"
	lab_bg mobile "rcv-$name" python3 "$HO" recv "$srv" "$port" sender "$rlog"
	t_check "$name: keyed" lab_wait_until 20 eq $((k + 1)) counter server keyed
	t_check "$name: data flows" lab_wait_until 20 ge 500000 arrived "$rlog"
	# the hole, and nothing of the flow from the mobile from then on
	lab_nsexec router nft -f - <<-EOF
	table ip labhole {
		set done { type ipv4_addr; flags dynamic; }
		chain f {
			type filter hook forward priority 0;
			ip saddr $mob tcp dport $port counter drop
			ip daddr @done accept
			ip daddr $mob tcp sport $port meta length > 1000 add @done { ip daddr } counter drop
		}
	}
	EOF
	# (before the server's first retransmission, 200 ms on: it would fill
	# the hole)
	t_check "$name: the mobile holds data beyond the hole" \
		lab_wait_until 5 ge 2 tcpfield mobile "$port" rcv_ooopack
	lab_nsexec mobile ip -batch - <<-EOF
	addr del $mob/${TOPO_LEN4[$cur]} dev ${TOPO_IF[mobile.$cur]}
	route flush default
	link set dev ${TOPO_IF[mobile.$cur]} down
	EOF
	lab_nsexec router nft delete table ip labhole
	sleep "$OUTAGE"
	t0=${EPOCHREALTIME/[.,]/}000
	lab_nsexec mobile ip -batch - <<-EOF
	addr add ${TOPO_V4[mobile.$nxt]}/${TOPO_LEN4[$nxt]} dev ${TOPO_IF[mobile.$nxt]}
	route replace default via ${TOPO_GW4[$nxt]} dev ${TOPO_IF[mobile.$nxt]}
	EOF
	lab_wait_until 15 sh -c "python3 '$HO' run $t0 '$slog' '$rlog' | grep -qv -- -" || true
	r=$(python3 "$HO" run "$t0" "$slog" "$rlog")
	echo "   first new byte, backlog drained (ms after the new address): $r"
	t_check "$name: the first new byte within 1 s (${r%% *} ms)" ms_below 1000 "${r%% *}"
	t_check "$name: the server cleared the stale echo" lab_wait_until 5 ge $((tc + 1)) counter server tsecr_cleared
	t_check "$name: ... and hid the held SACK blocks" lab_wait_until 5 ge $((sh + 1)) counter server sack_hidden
	lab_bg_stop "rcv-$name" >/dev/null 2>&1
	lab_bg_stop "snd-$name" >/dev/null 2>&1
	# the old link back up, without an address, for the next run
	lab_nsexec mobile ip link set dev "${TOPO_IF[mobile.$cur]}" up
	cur=$nxt
done

t_summary
