#!/usr/bin/env bash
# The Wireshark dissector packaging/wireshark/migrate.lua decodes a captured
# migration: MP_SYN in the SYN and SYN/ACK, KEY2 both ways, the Migrate SYN's
# token and reqno (as both agents list the flow), MIGRATE_ACK and CONFIRM with
# the same reqno and nonce, and the tag of an abortive close's RST; nothing
# decodes as malformed, and the same capture without the script shows none
# of it.
#
#   mobile (agent)                          router (fwd)                 server (agent)
#   eth0 192.0.2.1/24      2001:db8:a::1/64 x-x a0 192.0.2.254    2001:db8:a::fe
#   eth1 198.51.100.1/24   2001:db8:b::1/64 - - b0 198.51.100.254 2001:db8:b::fe
#                                                s0 203.0.113.126/25  2001:db8:5::fe --- eth0 203.0.113.1/25 (captured)
#
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/lab.sh"
. "$here/mig_topo.sh"
repo=$(cd "$here/../.." && pwd)
lua=$repo/packaging/wireshark/migrate.lua

if ! command -v tshark >/dev/null; then
	echo "test_dissector.sh: tshark not installed (make deps)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

lab_init
topo_build
topo_at mobile a
topo_at server s
lab_agent_start mobile
lab_agent_start server
lab_payload 16
port=6200

t_begin "capture a migration and an abortive close"
lab_capture_start server eth0 cap "tcp port $port"
lab_bg server srv socat -u "OPEN:$LAB_DIR/big" "TCP4-LISTEN:$port,reuseaddr"
lab_wait_listen server "$port"
lab_bg mobile cli sh -c "socat -u TCP4:${TOPO_V4[server.s]}:$port STDOUT | pv -qL 1m > $LAB_DIR/d.got"
lab_wait_until 5 eq 1 nflows mobile
lab_wait_until 5 ge $((256 << 10)) fsize "$LAB_DIR/d.got"
topo_leave mobile a
topo_at mobile b
t_check "mobile lists 1 migration" lab_wait_until 5 eq 1 flow_field mobile migrations
t_check "server lists 1 migration" lab_wait_until 5 eq 1 flow_field server migrations
lab_ctl mobile -j show >"$LAB_DIR/mobile.json"
lab_ctl server -j show >"$LAB_DIR/server.json"
# some data on the new path, then the receiver dies with data unread:
# its kernel resets the connection, and the data path signs that RST
got=$(fsize "$LAB_DIR/d.got")
lab_wait_until 5 ge $((got + (64 << 10))) fsize "$LAB_DIR/d.got"
lab_bg_stop cli
t_check "the flow is gone after the reset" lab_wait_until 5 eq 0 nflows server
lab_capture_stop cap

ts() { tshark -n -X "lua_script:$lua" -r "$LAB_DIR/cap.pcap" "$@" 2>>"$LAB_DIR/tshark.err"; }
ts -Y migrate -T fields -E separator=/t -E occurrence=f \
	-e frame.number -e ip.src -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.reset \
	-e migrate.type -e migrate.reqno -e migrate.token -e migrate.nonce -e migrate.mac \
	-e migrate.key_half -e migrate.key2.flags -e migrate.rst_tag -e migrate.malformed \
	>"$LAB_DIR/fields.txt"
# rows: number src syn ack rst type reqno token nonce mac half flags tag malformed
col() { awk -F'\t' -v t="$1" -v c="$2" '$6 == t { print $c }' "$LAB_DIR/fields.txt"; }
nrows() { col "$1" 1 | wc -l; }
fj() { python3 -c '
import json, sys
v = json.load(open(sys.argv[1]))["flows"][0]
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$LAB_DIR/$1.json" "$2"; }

t_begin "the dissector decodes every option seen"
t_check "tshark loads the script without errors" eval "! grep -qi 'lua\|error' $LAB_DIR/tshark.err"
t_check "decoded packets" ge 6 wc -l <"$LAB_DIR/fields.txt"
# type numbers: 1 MP_SYN, 2 KEY2, 3 MIGRATE, 4 MIGRATE_ACK, 5 CONFIRM, 7 RST_TAG
t_check "MP_SYN in the mobile's SYN" eq "1 0" eval "awk -F'\t' '\$6 == 1 && \$2 == \"192.0.2.1\" { print \$3, \$4 }' $LAB_DIR/fields.txt | head -1"
t_check "MP_SYN in the server's SYN/ACK" eq "1 1" eval "awk -F'\t' '\$6 == 1 && \$2 == \"203.0.113.1\" { print \$3, \$4 }' $LAB_DIR/fields.txt | head -1"
t_check "MP_SYN carries a 16-byte key half" eval "col 1 11 | grep -Eqx '[0-9a-f]{32}'"
t_check "KEY2 from the mobile" eval "awk -F'\t' '\$6 == 2 && \$2 == \"192.0.2.1\"' $LAB_DIR/fields.txt | grep -q ."
t_check "KEY2 from the server" eval "awk -F'\t' '\$6 == 2 && \$2 == \"203.0.113.1\"' $LAB_DIR/fields.txt | grep -q ."
t_check "KEY2 flags decoded (HAVE seen)" eval "col 2 12 | grep -q '0x0[1357]'"
t_check "a Migrate SYN (MIGRATE) from the new address" eval "awk -F'\t' '\$6 == 3 && \$2 == \"198.51.100.1\" && \$3 == 1' $LAB_DIR/fields.txt | grep -q ."
msyn_token=$(col 3 8 | head -1)
msyn_reqno=$(col 3 7 | head -1)
t_check "MIGRATE's token is the server's token of the flow (migratectl -j show)" eq "$(fj server token)" echo "$msyn_token"
t_check "MIGRATE's token is the mobile's token of the flow too" eq "$(fj mobile token)" echo "$msyn_token"
t_check "MIGRATE's reqno is the mobile's own_reqno" eq "$(fj mobile own_reqno)" echo "$msyn_reqno"
t_check "MIGRATE's reqno is the server's peer_reqno" eq "$(fj server peer_reqno)" echo "$msyn_reqno"
t_check "MIGRATE carries an 8-byte MAC" eval "col 3 10 | head -1 | grep -Eqx '[0-9a-f]{16}'"
t_check "MIGRATE_ACK (SYN/ACK) with the same reqno" eq "$msyn_reqno" eval "awk -F'\t' '\$6 == 4 && \$3 == 1 && \$4 == 1 { print \$7 }' $LAB_DIR/fields.txt | head -1"
t_check "CONFIRM with the same reqno" eq "$msyn_reqno" eval "col 5 7 | head -1"
t_check "CONFIRM echoes MIGRATE_ACK's nonce" eq "$(col 4 9 | head -1)" eval "col 5 9 | head -1"
t_check "nonce is 8 bytes" eval "col 4 9 | head -1 | grep -Eqx '[0-9a-f]{16}'"
t_check "the RST's 8-byte tag" eval "awk -F'\t' '\$6 == 7 && \$5 == 1 { print \$13 }' $LAB_DIR/fields.txt | grep -Eqx '[0-9a-f]{16}'"
rst_raw() { tcpdump -nn -x -r "$LAB_DIR/cap.pcap" 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null |
	awk '/^[0-9]/ { if (h != "") print h; h = "" } /0x/ { for (i = 2; i <= NF; i++) h = h $i } END { print h }' |
	head -1 | grep -Eo '.{16}$'; }
t_check "the tag is the RST's last 8 bytes on the wire" eq "$(rst_raw)" eval "awk -F'\t' '\$6 == 7 { print \$13 }' $LAB_DIR/fields.txt | head -1"
t_check "nothing malformed" eq 0 eval "awk -F'\t' '\$14 != \"\"' $LAB_DIR/fields.txt | wc -l"
t_check "the Info column names the options" eval "ts -Y 'migrate.type == 3' | grep -q '\[Migrate MIGRATE reqno=$msyn_reqno\]'"
t_check "the tree shows the token" eval "ts -V -Y 'migrate.type == 3' | grep -q 'Token: $msyn_token'"
t_check "without the script, no migrate fields" eval "tshark -n -r $LAB_DIR/cap.pcap -Y migrate 2>&1 | grep -qi 'migrate.*neither a field\|not a valid\|isn.t a valid'"

t_begin "crafted segments: KEY1, NEED1, IPv6, malformed and foreign options"
# Raw-IP pcap (linktype 101) of segments built here byte by byte, in the
# layouts of include/migrate/mig_opt.h.
python3 - "$LAB_DIR/craft.pcap" <<'PY'
import struct, sys
def opt(body):  # kind 253, length, ExID "MG"
    return bytes([253, 4 + len(body)]) + b"MG" + body
def tcp(flags, opts, payload=b""):
    opts += b"\x01" * (-len(opts) % 4)
    return struct.pack("!HHIIBBHHH", 40000, 443, 1000, 2000, (20 + len(opts)) // 4 << 4,
                       flags, 65535, 0, 0) + opts + payload
def v4(seg):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), 0, 0x4000, 64, 6, 0,
                       bytes([192, 0, 2, 1]), bytes([203, 0, 113, 1])) + seg
def v6(seg):
    return struct.pack("!IHBB16s16s", 6 << 28, len(seg), 6, 64,
                       bytes.fromhex("20010db8000a00000000000000000001"),
                       bytes.fromhex("20010db8000500000000000000000001")) + seg
ACK, SYN, RST = 0x10, 0x02, 0x04
half = bytes(range(16))
pkts = [
    v4(tcp(ACK, opt(b"\x06\xab" + half))),                   # 1 KEY1, mark 0xab
    v4(tcp(ACK, opt(b"\x01\x04" + half[::-1]))),             # 2 KEY2, NEED1
    v6(tcp(SYN, opt(half))),                                  # 3 MP_SYN over IPv6
    v4(tcp(SYN, opt(b"\x02" + struct.pack("!I", 7) + b"T" * 8 + b"M" * 7))),  # 4 MIGRATE, 24 bytes
    v4(tcp(ACK, opt(b"\x09\x00" + half))),                   # 5 unknown sub 9
    v4(tcp(ACK, bytes([253, 22, 0x12, 0x34]) + b"\x01\x00" + half)),  # 6 another ExID
    v4(tcp(RST | ACK, b"", b"0123456789")),                   # 7 RST, 10 bytes: no tag
    v6(tcp(SYN, opt(b"\x02" + struct.pack("!I", 4294967295) + bytes.fromhex("0011223344556677") + b"\xee" * 8))),  # 8
]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
    for i, p in enumerate(pkts):
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(p), len(p)) + p)
PY
cf() { tshark -n -X "lua_script:$lua" -r "$LAB_DIR/craft.pcap" -Y "frame.number == $1" -T fields -E occurrence=f -e "$2" 2>/dev/null; }
t_check "KEY1 decoded (type 6)" eq 6 cf 1 migrate.type
t_check "KEY1 mark" eq 0xab cf 1 migrate.key1.mark
t_check "KEY1 key half (bytes 0..15)" eq 000102030405060708090a0b0c0d0e0f cf 1 migrate.key_half
t_check "KEY2 flags 0x04" eq 0x04 cf 2 migrate.key2.flags
# (tshark prints booleans as 1/0 or True/False depending on its version)
t_check "KEY2 NEED1 flag set" eval "cf 2 migrate.key2.flags.need1 | grep -Eqx '1|True'"
t_check "KEY2 HAVE flag clear" eval "cf 2 migrate.key2.flags.have | grep -Eqx '0|False'"
t_check "KEY2 key half (bytes 16..31)" eq 0f0e0d0c0b0a09080706050403020100 cf 2 migrate.key_half
t_check "MP_SYN over IPv6" eq 1 cf 3 migrate.type
t_check "MIGRATE of a wrong length: malformed" eval "cf 4 migrate.malformed | grep -q 'length 24 for sub 2'"
t_check "unknown sub: malformed" eval "cf 5 migrate.malformed | grep -q 'unknown sub 9'"
t_check "another ExID: not ours, nothing decoded" eq "" cf 6 migrate.type
t_check "a RST with 10 payload bytes has no tag" eq "" cf 7 migrate.type
t_check "reqno 4294967295 over IPv6" eq 4294967295 cf 8 migrate.reqno
t_check "token 0011223344556677" eq 0011223344556677 cf 8 migrate.token

t_summary
