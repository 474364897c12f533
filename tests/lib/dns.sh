# shellcheck shell=bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# tests/lib/dns.sh - a real BIND 9 (named) in a lab host, as the
# authoritative primary of the zone example.test. that accepts RFC 2136
# UPDATEs signed with the test's TSIG key. Source it after lab.sh, once
# lab_init ran.
#
#   . "$here/../lib/lab.sh"
#   . "$here/../lib/dns.sh"
#   lab_init
#   lab_host dns
#   lab_link ...; lab_addr dns d0 192.0.2.53/24
#   dns_key mig-key                      # $LAB_DIR/dns/mig-key.key
#   dns_server_start dns 192.0.2.53 2001:db8:53::53
#   dns_dig dns A m.example.test.        # "m.example.test. 0 IN A 192.0.2.1" lines
#   dns_server_stop                      # also done by lab_cleanup
#
# Everything lives in $LAB_DIR/dns (configuration, zone, journal, keys):
# nothing under /etc/bind changes. named listens on the given lab addresses
# only, port 53, inside the host's network namespace; recursion is off, so it
# never sends a query anywhere. The zone's MNAME is ns.example.test., whose
# A/AAAA records are the server's own addresses.

DNS_ZONE=example.test.
DNS_DIR=
DNS_NAMED=named     # lab_bg process name of the server
declare -ga DNS_ADDRS=()

_dns_need() {
	if [[ -z ${LAB_DIR:-} ]]; then
		echo "dns.sh: call lab_init first" >&2
		return 1
	fi
	local c
	for c in named tsig-keygen dig named-checkconf; do
		if ! command -v "$c" >/dev/null; then
			echo "dns.sh: '$c' not found; run scripts/install-deps.sh (bind9, bind9-dnsutils)" >&2
			return 1
		fi
	done
	# Debian's AppArmor profile keeps named out of $LAB_DIR.
	if grep -qs '^named (enforce)' /sys/kernel/security/apparmor/profiles; then
		echo "dns.sh: AppArmor enforces the named profile, which forbids $LAB_DIR;" \
			"run 'aa-complain /usr/sbin/named' for the tests" >&2
		return 1
	fi
	DNS_DIR=$LAB_DIR/dns
	mkdir -p "$DNS_DIR"
}

# dns_key NAME [FILE] - a new hmac-sha256 TSIG key NAME in BIND's key-file
# format, written to FILE (default $DNS_DIR/NAME.key); prints the path.
dns_key() {
	local name=${1:-} file=${2:-}
	_dns_need || return 1
	if [[ -z $name ]]; then
		echo "usage: dns_key NAME [FILE]" >&2
		return 1
	fi
	file=${file:-$DNS_DIR/$name.key}
	(umask 077 && tsig-keygen -a hmac-sha256 "$name" >"$file") || return 1
	echo "$file"
}

# dns_server_start HOST ADDR [ADDR...] [-- KEYNAME] - write the
# configuration and the zone (first start only) and run named in HOST,
# listening on each ADDR (v4 or v6) port 53; updates are allowed for the key
# KEYNAME (default mig-key, made with dns_key first) on every name of the
# zone but those in $DNS_DENY (space-separated absolute names, refused with
# REFUSED). Returns once named answers the zone's SOA on the first ADDR.
dns_server_start() {
	local h=${1:-} keyname=mig-key a v4=() v6=() ns
	_dns_need || return 1
	_lab_need_host "$h" || return 1
	shift
	while (($#)); do
		if [[ $1 == -- ]]; then
			keyname=${2:?dns_server_start: key name after --}
			break
		fi
		if ! _lab_doc_addr "$1"; then
			echo "dns_server_start: refusing address '$1' (documentation ranges only)" >&2
			return 1
		fi
		if [[ $1 == *:* ]]; then v6+=("$1"); else v4+=("$1"); fi
		shift
	done
	if ((${#v4[@]} + ${#v6[@]} == 0)); then
		echo "usage: dns_server_start HOST ADDR [ADDR...] [-- KEYNAME]" >&2
		return 1
	fi
	if [[ ! -s $DNS_DIR/$keyname.key ]]; then
		echo "dns_server_start: no key '$keyname' (dns_key $keyname)" >&2
		return 1
	fi
	DNS_ADDRS=("${v4[@]}" "${v6[@]}")

	local listen4="none;" listen6="none;" policy n
	policy="update-policy {"
	for n in ${DNS_DENY:-}; do
		policy+=" deny \"$keyname\" name $n ANY;"
	done
	policy+=" grant \"$keyname\" subdomain $DNS_ZONE ANY; };"
	if ((${#v4[@]})); then listen4=$(printf '%s; ' "${v4[@]}"); fi
	if ((${#v6[@]})); then listen6=$(printf '%s; ' "${v6[@]}"); fi
	cat >"$DNS_DIR/named.conf" <<-EOF
		include "$DNS_DIR/$keyname.key";
		options {
			directory "$DNS_DIR";
			pid-file "$DNS_DIR/named.pid";
			session-keyfile "$DNS_DIR/session.key";
			managed-keys-directory "$DNS_DIR";
			listen-on port 53 { $listen4 };
			listen-on-v6 port 53 { $listen6 };
			recursion no;
			allow-query { any; };
			allow-transfer { none; };
			notify no;
			dnssec-validation no;
			querylog yes;
		};
		controls { };
		zone "$DNS_ZONE" {
			type primary;
			file "$DNS_DIR/example.test.zone";
			$policy
		};
	EOF
	if [[ ! -e $DNS_DIR/example.test.zone ]]; then
		{
			# shellcheck disable=SC2016 # the zone file's own $TTL
			printf '$TTL 3600\n'
			printf '@ IN SOA ns.%s hostmaster.%s 1 3600 600 86400 0\n' "$DNS_ZONE" "$DNS_ZONE"
			printf '@ IN NS ns.%s\n' "$DNS_ZONE"
			for a in "${v4[@]}"; do printf 'ns IN A %s\n' "$a"; done
			for a in "${v6[@]}"; do printf 'ns IN AAAA %s\n' "$a"; done
		} >"$DNS_DIR/example.test.zone"
	fi
	if ! named-checkconf "$DNS_DIR/named.conf" >&2; then
		echo "dns_server_start: named-checkconf refused $DNS_DIR/named.conf" >&2
		return 1
	fi
	# -g: foreground, log to stderr ($LAB_DIR/named.log); -u root: no
	# user switch (the files belong to root).
	lab_bg "$h" "$DNS_NAMED" named -g -u root -c "$DNS_DIR/named.conf" || return 1
	ns=${DNS_ADDRS[0]}
	if ! lab_wait_until 10 _dns_answers "$h" "$ns"; then
		echo "dns_server_start: named in '$h' does not answer on $ns after 10 s; log tail:" >&2
		tail -n 20 "$(lab_log "$DNS_NAMED")" >&2
		return 1
	fi
}

_dns_answers() {
	[[ -n $(lab_nsexec "$1" dig +short +time=1 +tries=1 @"$2" SOA "$DNS_ZONE" 2>/dev/null) ]]
}

# dns_server_stop - stop named (SIGTERM, waits); the zone and its journal
# stay, so dns_server_start brings back the same data.
dns_server_stop() {
	lab_bg_stop "$DNS_NAMED"
}

# dns_server_running - true while named runs.
dns_server_running() {
	local pid
	pid=${LAB_BG_PID[$DNS_NAMED]:-}
	[[ -n $pid ]] && _lab_alive "$pid"
}

# dns_dig HOST TYPE NAME [SERVER] - ask SERVER (default the first address
# of dns_server_start) from inside HOST, print the answer section: one
# "NAME TTL CLASS TYPE DATA" line per record (nothing for none).
dns_dig() {
	local h=${1:-} type=${2:-} name=${3:-} srv=${4:-${DNS_ADDRS[0]:-}}
	if [[ -z $h || -z $type || -z $name || -z $srv ]]; then
		echo "usage: dns_dig HOST TYPE NAME [SERVER]" >&2
		return 1
	fi
	lab_nsexec "$h" dig +noall +answer +nottlunits +time=1 +tries=1 @"$srv" "$name" "$type" |
		awk '{ print $1, $2, $3, $4, $5 }'
}

# dns_has HOST TYPE NAME DATA [TTL] - true when the answer holds the record
# NAME TYPE DATA (with TTL when given).
dns_has() {
	local h=$1 type=$2 name=$3 data=$4 ttl=${5:-}
	dns_dig "$h" "$type" "$name" |
		awk -v d="$data" -v t="$ttl" '$5 == d && (t == "" || $2 == t) { f = 1 } END { exit !f }'
}

# dns_count HOST TYPE NAME - number of records in the answer.
dns_count() {
	dns_dig "$1" "$2" "$3" | grep -c .
}
