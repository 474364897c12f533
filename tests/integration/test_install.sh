#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_install.sh - `make install` and `make uninstall` into a temporary
# DESTDIR with a PREFIX: every file lands where the README and the man
# pages say, the unit names the installed agent and passes `systemd-analyze
# verify` without a word, the example configuration documents every key
# and loads (as shipped, and with every line uncommented) with
# `migrate-agent --check-config`, and uninstall removes exactly what
# install put there.
set -u
# shellcheck source-path=SCRIPTDIR source=../lib/lab.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

lab_init                # $LAB_DIR: the DESTDIR lives there, removed at exit
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dest=$LAB_DIR/destdir
prefix=/opt/migrate-test
# the dissector goes where tshark loads Lua plugins from (as README says)
wsdir=$(tshark -G folders 2>/dev/null | sed -n 's/^Global Lua Plugins:[[:space:]]*//p')
wsdir=${wsdir:-/usr/lib/$(cc -print-multiarch)/wireshark/plugins}
files=(
	"$prefix/sbin/migrate-agent"
	"$prefix/sbin/migratectl"
	"$prefix/share/man/man8/migrate-agent.8"
	"$prefix/share/man/man8/migratectl.8"
	"$prefix/share/man/man5/migrate-agent.conf.5"
	/lib/systemd/system/migrate-agent.service
	"$prefix/lib/migrate/mig_sockops.bpf.o"
	"$prefix/lib/migrate/mig_dp.bpf.o"
	"$prefix/lib/migrate/mig_dp_kc.bpf.o"
	"$prefix/lib/migrate/mig_iter.bpf.o"
	"$prefix/lib/migrate/mig_lookup.bpf.o"
	"$prefix/lib/migrate/mig_keyed.bpf.o"
	"$prefix/lib/migrate/mig_cc.bpf.o"
	"$wsdir/migrate.lua"
	/etc/migrate/agent.conf.example
)
unit=$dest/lib/systemd/system/migrate-agent.service
example=$dest/etc/migrate/agent.conf.example
agent=$dest$prefix/sbin/migrate-agent
all_there() { local f; for f in "${files[@]}"; do [[ -e $dest$f ]] || return 1; done; }
none_there() { local f; for f in "${files[@]}"; do [[ ! -e $dest$f ]] || return 1; done; }
files_left() { find "$dest" -type f | wc -l; }


# verify_quiet UNIT: systemd-analyze verify says nothing and exits 0 (it
# exits 0 on settings it ignores, so its words count too); the unit's
# binaries are looked for under DESTDIR, its man pages there too
verify_quiet() {
	local out copy=$LAB_DIR/migrate-agent.service rc=0
	sed "s|$prefix/sbin/|$dest$prefix/sbin/|g" "$1" >"$copy"
	out=$(MANPATH=$dest$prefix/share/man systemd-analyze verify "$copy" 2>&1) || rc=$?
	printf '%s\n' "$out"
	[[ $rc == 0 && -z $out ]]
}

# keys_documented: every key the parser knows appears in the example,
# commented out and preceded by a comment
keys_documented() {
	local k
	for k in pin_dir cgroup pool interface max_flows xdp zone name server port key_file peer; do
		grep -q "^#$k = " "$example" || { echo "no '#$k = ' line"; return 1; }
	done
	grep -q '^#\[dns\]$' "$example" || { echo "no '#[dns]' line"; return 1; }
}
# every line is a comment or blank: the example sets nothing
sets_nothing() { ! grep -Ev '^(#.*)?$' "$example"; }
# the defaults the example states are those of the man page
default_is() { grep -q "^#$1 = $2\$" "$example"; }

check() { "$agent" --check-config --config "$1"; }

t_begin "make install into DESTDIR with PREFIX"
t_check "install succeeds" make -s -C "$root" install DESTDIR="$dest" PREFIX="$prefix" BUILD="$LAB_BUILD"
t_check "every file is where it belongs" all_there
t_check "the binaries are executable and run" \
	"$dest$prefix/sbin/migratectl" version
t_check "the unit starts the installed agent" \
	grep -q "^ExecStart=$prefix/sbin/migrate-agent" "$dest/lib/systemd/system/migrate-agent.service"
t_check "the dissector is the one in packaging/" cmp "$root/packaging/wireshark/migrate.lua" "$dest$wsdir/migrate.lua"
# shellcheck disable=SC2016 # the unit's own $MAINPID
t_check "the unit reloads by SIGHUP" grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$unit"
t_check "the unit waits for the agent's readiness" grep -qx 'Type=notify' "$unit"
t_check "nothing else was installed" eq "${#files[@]}" files_left
t_check "the objects are the ones the build made" cmp "$LAB_BUILD/bpf/mig_dp.bpf.o" "$dest$prefix/lib/migrate/mig_dp.bpf.o"
t_check "and the data path's other build" cmp "$LAB_BUILD/bpf/mig_dp_kc.bpf.o" "$dest$prefix/lib/migrate/mig_dp_kc.bpf.o"

t_begin "the unit"
t_check "systemd-analyze verify passes without a warning" verify_quiet "$unit"
bad=$LAB_DIR/bad.service
sed 's/^ProtectSystem=strict/ProtectSystem=stricter/' "$unit" >"$bad"
t_check_not "(and would say so: a bad value is reported)" verify_quiet "$bad"

t_begin "the example configuration"
t_check "every key is there, commented out" keys_documented
t_check "it sets nothing" sets_nothing
t_check "pool's default is 64" default_is pool 64
t_check "pin_dir's default is /sys/fs/bpf/migrate" default_is pin_dir /sys/fs/bpf/migrate
t_check "max_flows' default is 1048576" default_is max_flows 1048576
t_check "port's default is 53" default_is port 53
t_check "the installed agent loads it as shipped" check "$example"
# every example line uncommented, the key file one the agent can read
full=$LAB_DIR/full.conf
tsig-keygen -a hmac-sha256 example-key >"$LAB_DIR/tsig.key" 2>/dev/null ||
	printf 'key "example-key" {\n\talgorithm hmac-sha256;\n\tsecret "AAAAAAAAAAAAAAAAAAAAAA==";\n};\n' >"$LAB_DIR/tsig.key"
sed -E -e 's/^#([a-z_]+ = )/\1/' -e 's/^#(\[dns\])$/\1/' \
	-e "s|^key_file = .*|key_file = $LAB_DIR/tsig.key|" "$example" >"$full"
t_check "with every line uncommented it still loads" check "$full"
t_check "  (and that file does set every key)" eq 14 eval "grep -cE '^([a-z_]+ = |\\[dns\\])' $full"
printf 'pool = 64\npool = 65\n' >"$LAB_DIR/dup.conf"
check_out() { "$agent" --check-config --config "$LAB_DIR/dup.conf" 2>&1; }
# shellcheck disable=SC2016 # expanded by eval
t_check "a bad file: exit 2" eq 2 eval 'check "$LAB_DIR/dup.conf" >/dev/null 2>&1; echo $?'
t_check "  with the file, the line number and the line quoted" eval \
	"check_out | grep -qF \"$LAB_DIR/dup.conf:2: duplicate key (first set on line 1): 'pool' (the line: 'pool = 65')\""

t_begin "make uninstall removes exactly that"
t_check "uninstall succeeds" make -s -C "$root" uninstall DESTDIR="$dest" PREFIX="$prefix"
t_check "every installed file is gone" none_there
t_check "no file left behind" eq 0 files_left
t_check "nor the directory of the objects" test ! -e "$dest$prefix/lib/migrate"
t_check "/etc/migrate is gone too (it was empty)" test ! -e "$dest/etc/migrate"

t_summary
