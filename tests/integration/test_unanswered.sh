#!/usr/bin/env bash
# A move whose Migrate SYNs go unanswered for a minute (the peer is
# unreachable from the new network), while the mover has data to send:
# an upload over IPv4 and IPv6 and a transfer both ways.  Holding the
# flows must never make the kernel give up on them: once the path opens,
# every flow migrates and finishes byte-exact.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1 x-x a0
#   eth1 198.51.100.1/24   2001:db8:b::1 --- b0  (drops net B for OUTAGE_S)  s0 --- eth0 203.0.113.1/25 2001:db8:5::1
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"

SIZE_MB=${MIG_TEST_MB:-32}
RATE=${MIG_TEST_RATE:-4m}
OUTAGE_S=${OUTAGE_S:-60}

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload "$SIZE_MB"

# both ways: one connection, each end sends $LAB_DIR/big paced and keeps
# what it receives (bidi.py)
rate_b=$(( ${RATE%m} << 20 ))

t_begin "uploads and a transfer both ways are under way"
lab_bg server srv-up4 socat -u TCP4-LISTEN:7001,reuseaddr "OPEN:$LAB_DIR/up4.got,creat"
lab_bg server srv-up6 socat -u TCP6-LISTEN:7002,reuseaddr "OPEN:$LAB_DIR/up6.got,creat"
lab_bg server srv-both python3 "$here/bidi.py" listen 203.0.113.1 7003 "$LAB_DIR/big" "$LAB_DIR/both-srv.got" "$rate_b"
for p in 7001 7002 7003; do lab_wait_listen server "$p"; done
lab_bg mobile cli-up4 sh -c "pv -qL $RATE $LAB_DIR/big | socat -u - TCP4:203.0.113.1:7001"
lab_bg mobile cli-up6 sh -c "pv -qL $RATE $LAB_DIR/big | socat -u - TCP6:[2001:db8:5::1]:7002"
lab_bg mobile cli-both python3 "$here/bidi.py" connect 203.0.113.1 7003 "$LAB_DIR/big" "$LAB_DIR/both-cli.got" "$rate_b"
t_check "three keyed flows" lab_wait_until 5 eq 3 nflows mobile
t_check "data is flowing" lab_wait_until 10 eval \
	'[ $(fsize $LAB_DIR/up4.got) -gt 1048576 ] && [ $(fsize $LAB_DIR/both-cli.got) -gt 1048576 ]'

t_begin "the mobile moves to a network that cannot reach the server for ${OUTAGE_S}s"
lab_nsexec router nft -f - <<-'EOF'
table inet outage {
	chain block { type filter hook forward priority 0; iifname "b0" drop; oifname "b0" drop; }
}
EOF
s0=$(counter mobile msyn_sent)
topo_leave mobile a
topo_at mobile b
t_check "the mobile asks (Migrate SYNs sent)" lab_wait_until 5 ge $((s0 + 3)) counter mobile msyn_sent
# the outage itself: a fixed span of the scenario, not a wait for a result
sleep "$OUTAGE_S"
t_check "still asking after ${OUTAGE_S}s" ge $((s0 + 10)) counter mobile msyn_sent
t_check "no migration could commit" eq 0 counter mobile committed_mover
t_check "the kernel still has all three connections" eq 3 eval \
	'lab_nsexec mobile ss -Htn state established "( dport = :7001 or dport = :7002 or dport = :7003 )" | wc -l'

t_begin "the path opens: every flow migrates and finishes byte-exact"
lab_nsexec router nft delete table inet outage
t_check "all three migrated" lab_wait_until 20 ge 3 counter mobile committed_mover
for n in up4 up6 both; do
	t_check "$n: the mobile's side finishes" lab_bg_wait "cli-$n" 120
	t_check "$n: the server's side finishes" lab_bg_wait "srv-$n" 60
done
t_check "upload IPv4: $SIZE_MB MiB byte-exact (sha256)" eq "$want_sum" got_sum up4.got
t_check "upload IPv6: $SIZE_MB MiB byte-exact (sha256)" eq "$want_sum" got_sum up6.got
t_check "both ways: the server got $SIZE_MB MiB byte-exact" eq "$want_sum" got_sum both-srv.got
t_check "both ways: the mobile got $SIZE_MB MiB byte-exact" eq "$want_sum" got_sum both-cli.got

t_summary
