#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# test_install.sh - `make install` and `make uninstall` into a temporary
# DESTDIR with a PREFIX: every file lands where the README and the man
# pages say, the unit names the installed agent, and uninstall removes
# exactly what install put there.
set -u
# shellcheck source-path=SCRIPTDIR source=../lib/lab.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/lab.sh"

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
	"$prefix/lib/migrate/mig_iter.bpf.o"
	"$wsdir/migrate.lua"
)
all_there() { local f; for f in "${files[@]}"; do [[ -e $dest$f ]] || return 1; done; }
none_there() { local f; for f in "${files[@]}"; do [[ ! -e $dest$f ]] || return 1; done; }
files_left() { find "$dest" -type f | wc -l; }

t_begin "make install into DESTDIR with PREFIX"
t_check "install succeeds" make -s -C "$root" install DESTDIR="$dest" PREFIX="$prefix" BUILD="$LAB_BUILD"
t_check "every file is where it belongs" all_there
t_check "the binaries are executable and run" \
	"$dest$prefix/sbin/migratectl" version
t_check "the unit starts the installed agent" \
	grep -q "^ExecStart=$prefix/sbin/migrate-agent" "$dest/lib/systemd/system/migrate-agent.service"
t_check "the dissector is the one in packaging/" cmp "$root/packaging/wireshark/migrate.lua" "$dest$wsdir/migrate.lua"
t_check "nothing else was installed" eq "${#files[@]}" files_left
t_check "the objects are the ones the build made" cmp "$LAB_BUILD/bpf/mig_dp.bpf.o" "$dest$prefix/lib/migrate/mig_dp.bpf.o"

t_begin "make uninstall removes exactly that"
t_check "uninstall succeeds" make -s -C "$root" uninstall DESTDIR="$dest" PREFIX="$prefix"
t_check "every installed file is gone" none_there
t_check "no file left behind" eq 0 files_left
t_check "nor the directory of the objects" test ! -e "$dest$prefix/lib/migrate"

t_summary
