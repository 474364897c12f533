#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/fuzz/capture_dns.sh [DIR] - seeds for tests/fuzz/fuzz_dns.c captured
# from a real BIND: the lab's named (tests/lib/dns.sh) answers the queries
# and UPDATEs the DNS worker sends, and each reply's wire bytes are written
# to DIR (default tests/fuzz/corpus/dns) as bind-*, with the selector byte
# of fuzz_dns.h in front.  Run by hand when the seeds are to change (root);
# not part of `make test`.  The UPDATE replies are signed over the real
# query's MAC, not fuzz_dns.h's, so the harness judges their signature bad:
# they are there for their bytes.
#
#   cli                                       dns (named)
#   eth0 192.0.2.1/24 ----------------------- eth0 192.0.2.53/24
#   eth0 2001:db8:53::1/64                    eth0 2001:db8:53::53/64

set -eu
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(realpath -m "${1:-$here/corpus/dns}")
. "$here/../lib/lab.sh"
. "$here/../lib/dns.sh"

lab_init
lab_host cli
lab_host dns
lab_link cli eth0 dns eth0
lab_addr cli eth0 192.0.2.1/24
lab_addr cli eth0 2001:db8:53::1/64
lab_addr dns eth0 192.0.2.53/24
lab_addr dns eth0 2001:db8:53::53/64
dns_key mig-key >/dev/null
dns_key other-key >/dev/null         # unknown to the server: BADKEY
DNS_DENY="deny.example.test." dns_server_start dns 192.0.2.53 2001:db8:53::53

lab_capture_start cli eth0 dns udp port 53

# the worker's queries: the zone's SOA, the primary's A and AAAA
for q in "SOA example.test." "A ns.example.test." "AAAA ns.example.test."; do
	# shellcheck disable=SC2086 # type and name
	lab_nsexec cli dig +time=2 +tries=1 @192.0.2.53 $q >/dev/null
done
# UPDATEs: accepted (two names, A and AAAA, TTL 0), refused, unknown key
upd() {
	lab_nsexec cli nsupdate -k "$1" <<-EOF || true
		server 192.0.2.53
		zone example.test.
		update delete $2 A
		update delete $2 AAAA
		update add $2 0 A 198.51.100.7
		update add $2 0 AAAA 2001:db8:1::7
		send
	EOF
}
upd "$DNS_DIR/mig-key.key" host.example.test.
upd "$DNS_DIR/mig-key.key" www.example.test.
upd "$DNS_DIR/mig-key.key" deny.example.test.
upd "$DNS_DIR/other-key.key" host.example.test. 2>/dev/null
# a peer's addresses, as resolve_peers asks for them; and a name with none
for q in "A www.example.test." "AAAA www.example.test." "A none.example.test."; do
	# shellcheck disable=SC2086
	lab_nsexec cli dig +time=2 +tries=1 @192.0.2.53 $q >/dev/null
done

lab_capture_stop dns
mkdir -p "$out"
python3 - "$LAB_DIR/dns.pcap" "$out" <<'EOF'
import struct, sys

pcap, out = sys.argv[1], sys.argv[2]
data = open(pcap, 'rb').read()
if struct.unpack('<I', data[:4])[0] != 0xa1b2c3d4 or struct.unpack('<I', data[20:24])[0] != 1:
    sys.exit('capture_dns: not a little-endian Ethernet pcap')
pos, seen = 24, {}
while pos + 16 <= len(data):
    incl = struct.unpack('<I', data[pos + 8:pos + 12])[0]
    f = data[pos + 16:pos + 16 + incl]
    pos += 16 + incl
    et = f[12:14]
    if et == b'\x08\x00':
        l4 = 14 + (f[14] & 0x0f) * 4
        if f[23] != 17:
            continue
    elif et == b'\x86\xdd':
        l4 = 54
        if f[20] != 17:
            continue
    else:
        continue
    if struct.unpack('>H', f[l4:l4 + 2])[0] != 53:
        continue                    # queries: only replies are seeds
    msg = f[l4 + 8:]
    opcode = (msg[2] >> 3) & 0x0f
    rcode = msg[3] & 0x0f
    if opcode == 5:
        sel, name = 5, 'update-rcode%d' % rcode
    else:
        # the question's type, after its name
        p = 12
        while msg[p]:
            p += 1 + msg[p]
        qtype = struct.unpack('>H', msg[p + 1:p + 3])[0]
        an = struct.unpack('>H', msg[6:8])[0]
        if qtype == 6:
            sel, name = 0, 'soa'
        elif qtype in (1, 28) and b'\x02ns' in msg[12:p]:
            sel, name = (1 if qtype == 1 else 2), 'primary-%s' % ('a' if qtype == 1 else 'aaaa')
        elif qtype in (1, 28):
            sel, name = (3 if qtype == 1 else 4), 'peer-%s-%d' % ('a' if qtype == 1 else 'aaaa', an)
        else:
            continue
    n = seen.get(name, 0)
    seen[name] = n + 1
    fn = '%s/bind-%s%s' % (out, name, '' if not n else '-%d' % n)
    open(fn, 'wb').write(bytes([sel]) + msg)
    print(fn)
if not seen:
    sys.exit('capture_dns: no replies captured')
EOF
