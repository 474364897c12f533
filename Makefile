# migrate - TCP host mobility.  `make` builds everything into build/.
#
#   make            BPF objects, skeletons, migrate-agent, migratectl
#   make test       unit, BPF and namespace integration tests (root)
#   make soak       one connection, 100 moves, 1 GiB; maps and agent memory
#                   checked afterwards (root; minutes, not part of make test)
#   make demo       the namespace-lab demo (root)
#   make bench      data-path, scale and lab benchmarks (root)
#   make fuzz       libFuzzer on the option, configuration and DNS reply
#                   parsers (FUZZ_SECONDS=60 each, from tests/fuzz/corpus),
#                   then FUZZ_DP_COUNT=1000000 random and mutated packets
#                   through the data path programs (root)
#   make test-kernels  the BPF tier and lab tests under qemu on Debian's
#                   6.1 kernel and the running one (root; slow without KVM)
#   make deps       install the Debian packages needed (root)
#   make install    PREFIX=/usr/local DESTDIR=: binaries, man pages, the
#                   systemd unit, /etc/migrate/agent.conf.example (never
#                   agent.conf itself: without it the defaults apply)
#   make uninstall  the same variables: removes what install put there
#                   (and WIRESHARK_PLUGINDIR, for the dissector)

PREFIX    ?= /usr/local
DESTDIR   ?=
# Where tshark and Wireshark look for Lua plugins ("Global Lua Plugins" of
# `tshark -G folders`); outside PREFIX, as the systemd unit is, because
# they look nowhere else.
WIRESHARK_PLUGINDIR ?= $(or $(shell tshark -G folders 2>/dev/null | \
	sed -n 's/^Global Lua Plugins:[[:space:]]*//p'),/usr/lib/$(shell $(CC) -print-multiarch)/wireshark/plugins)
BUILD     ?= build
CLANG     ?= clang
CC        ?= cc
BPFTOOL   ?= bpftool
WERROR    ?= $(if $(CI),-Werror,)
# Extra -D flags for every compilation, user space and BPF (a test build
# that claims another ABI: DEFINES=-DMIG_ABI_VERSION_OVERRIDE=3), and for
# the BPF objects only (a build whose programs differ by a marker
# instruction: BPF_EXTRA=-DMIG_BPF_MARK=1).
DEFINES   ?=
BPF_EXTRA ?=

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS_COMMON := -O2 -g -Wall -Wextra $(WERROR) $(DEFINES) -Iinclude -Iuser/lib -I$(BUILD)
CFLAGS   ?= $(CFLAGS_COMMON) -D_GNU_SOURCE -std=gnu11 -fstack-protector-strong
NL_CFLAGS := $(shell pkg-config --cflags libnl-3.0 libnl-route-3.0 2>/dev/null)
NL_LIBS   := $(shell pkg-config --libs libnl-3.0 libnl-route-3.0 2>/dev/null)
LDLIBS    := -lbpf -lcrypto -lelf -lz -lldns -lpthread

BPF_CFLAGS := -O2 -g -Wall -Wextra $(WERROR) -target bpf -D__TARGET_ARCH_$(ARCH) \
	$(DEFINES) $(BPF_EXTRA) -Ivmlinux -Iinclude -Ibpf

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
# mig_dp_kc: mig_dp built for kernels whose TC programs may read their skb
# (bpf_cast_to_kern_ctx, Linux 6.2 on): the agent loads it where it loads
# (user/lib/mig_dp_open.h), else mig_dp
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS)) $(BUILD)/bpf/mig_dp_kc.bpf.o
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS)) $(BUILD)/mig_dp_kc.skel.h
BPF_HDRS  := $(wildcard bpf/lib/*.h) $(wildcard include/migrate/*.h)

LIB_SRCS  := $(wildcard user/lib/*.c)
LIB_OBJS  := $(patsubst user/lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRCS))
LIB_HDRS  := $(wildcard user/lib/*.h) $(wildcard include/migrate/*.h)
AGENT_SRCS := $(wildcard user/agent/*.c)
AGENT_OBJS := $(patsubst user/agent/%.c,$(BUILD)/agent/%.o,$(AGENT_SRCS))
CTL_SRCS  := $(wildcard user/ctl/*.c)
CTL_OBJS  := $(patsubst user/ctl/%.c,$(BUILD)/ctl/%.o,$(CTL_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
SAN       := -fsanitize=address,undefined -fno-omit-frame-pointer

BPFT_SRCS := $(wildcard tests/bpf/test_*.c)
BPFT_BINS := $(patsubst tests/bpf/%.c,$(BUILD)/tests/%,$(BPFT_SRCS))

# Fuzz harnesses (tests/fuzz/fuzz_NAME.c) and the sources each one links.
FUZZ_NAMES := opt config dns
FUZZ_SRCS_opt    := tests/fuzz/fuzz_opt.c
FUZZ_SRCS_config := tests/fuzz/fuzz_config.c user/lib/mig_config.c
FUZZ_SRCS_dns    := tests/fuzz/fuzz_dns.c user/agent/dns_reply.c
FUZZ_DEPS := $(wildcard tests/fuzz/*.c tests/fuzz/*.h) user/lib/mig_config.c \
	user/agent/dns_reply.c user/agent/dns_reply.h user/agent/dns.h $(LIB_HDRS)
FUZZ_CFLAGS := -g -Wall -Wextra $(WERROR) -Iinclude -Iuser/lib -Iuser/agent -Itests/fuzz \
	-D_GNU_SOURCE -std=gnu11 -fno-omit-frame-pointer -fno-sanitize-recover=all
FUZZ_BINS   := $(addprefix $(BUILD)/fuzz/fuzz_,$(FUZZ_NAMES))
REPLAY_BINS := $(addprefix $(BUILD)/fuzz/replay_,$(FUZZ_NAMES))
FUZZ_SECONDS  ?= 60
FUZZ_DP_COUNT ?= 1000000

BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.PHONY: all test soak unit demo bench fuzz fuzz-corpus deps install uninstall clean check-deps test-kernels test-stress
all: $(BUILD)/migrate-agent $(BUILD)/migratectl $(BPF_OBJS)

$(BUILD) $(BUILD)/bpf $(BUILD)/lib $(BUILD)/agent $(BUILD)/ctl $(BUILD)/tests $(BUILD)/bench \
		$(BUILD)/fuzz:
	@mkdir -p $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/mig_dp_kc.bpf.o: bpf/mig_dp.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -DMIG_TC_KCTX -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o | $(BUILD)
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@.tmp && mv $@.tmp $@

$(BUILD)/lib/%.o: user/lib/%.c $(LIB_HDRS) | $(BUILD)/lib
	$(CC) $(CFLAGS) $(NL_CFLAGS) -c $< -o $@

$(BUILD)/libmig.a: $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/agent/%.o: user/agent/%.c $(LIB_HDRS) $(wildcard user/agent/*.h) $(SKELS) | $(BUILD)/agent
	$(CC) $(CFLAGS) $(NL_CFLAGS) -Iuser/agent -c $< -o $@

$(BUILD)/ctl/%.o: user/ctl/%.c $(LIB_HDRS) $(wildcard user/ctl/*.h) | $(BUILD)/ctl
	$(CC) $(CFLAGS) -Iuser/ctl -c $< -o $@

$(BUILD)/migrate-agent: $(AGENT_OBJS) $(BUILD)/libmig.a
	$(CC) $(CFLAGS) -o $@ $^ $(NL_LIBS) $(LDLIBS)

$(BUILD)/migratectl: $(CTL_OBJS) $(BUILD)/libmig.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests: pure logic, built with sanitizers, linked against the library
# sources directly so the sanitizers see them too.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB_SRCS) $(LIB_HDRS) tests/unit/unit.h | $(BUILD)/tests
	$(CC) $(CFLAGS) $(SAN) $(NL_CFLAGS) -Itests/unit -o $@ $< $(LIB_SRCS) $(NL_LIBS) $(LDLIBS)

# BPF tests: programs run through bpf_prog_test_run with packet fixtures.
$(BUILD)/tests/test_%: tests/bpf/test_%.c $(SKELS) $(BUILD)/libmig.a tests/unit/unit.h \
		$(wildcard tests/bpf/*.h) $(BPF_HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmig.a $(LDLIBS)
# (test_dp's cases on the other build of the data path)
$(BUILD)/tests/test_dp_helpers: tests/bpf/test_dp.c

# test_csum_complete.sh's tracer: a BPF object and its loader (vmlinux.h
# for the kernel's struct sk_buff; BPF_PROG's ctx goes unused).
CSUM_WATCH := $(BUILD)/tests/csum_watch $(BUILD)/tests/csum_watch.bpf.o
$(BUILD)/tests/csum_watch.bpf.o: tests/bpf/csum_watch.bpf.c | $(BUILD)/tests
	$(CLANG) $(BPF_CFLAGS) -Wno-unused-parameter -c $< -o $@

$(BUILD)/tests/csum_watch: tests/bpf/csum_watch.c | $(BUILD)/tests
	$(CC) $(CFLAGS) -o $@ $< -lbpf -lelf -lz

# The data path fuzzer: random and mutated packets through bpf_prog_test_run.
$(BUILD)/tests/fuzz_dp: tests/bpf/fuzz_dp.c $(SKELS) $(BUILD)/libmig.a tests/unit/unit.h \
		$(wildcard tests/bpf/*.h) $(BPF_HDRS) | $(BUILD)/tests
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libmig.a $(LDLIBS)

# Fuzz harnesses: with libFuzzer (make fuzz), and the same code with a
# main that replays the committed corpus once (make test).  ASan and UBSan
# in both; any UBSan report is fatal.
$(BUILD)/fuzz/fuzz_%: $(FUZZ_DEPS) | $(BUILD)/fuzz
	$(CLANG) -O1 $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ \
		$(FUZZ_SRCS_$*) -lldns

$(BUILD)/fuzz/replay_%: $(FUZZ_DEPS) | $(BUILD)/fuzz
	$(CLANG) -O1 $(FUZZ_CFLAGS) -fsanitize=address,undefined -o $@ \
		tests/fuzz/replay.c $(FUZZ_SRCS_$*) -lldns

$(BUILD)/fuzz/mkcorpus: tests/fuzz/mkcorpus.c $(FUZZ_DEPS) | $(BUILD)/fuzz
	$(CC) $(CFLAGS) -Iuser/agent -Itests/fuzz -o $@ $< user/agent/dns_reply.c -lldns

$(BUILD)/bench/%: bench/%.c $(SKELS) $(BUILD)/libmig.a $(wildcard tests/bpf/*.h) \
		$(BPF_HDRS) | $(BUILD)/bench
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmig.a $(LDLIBS)

unit: $(UNIT_BINS)

# test and demo first install what is missing (Debian packages), then build.
test:
	scripts/install-deps.sh
	$(MAKE) all $(UNIT_BINS) $(BPFT_BINS) $(REPLAY_BINS) $(BUILD)/tests/fuzz_dp $(CSUM_WATCH)
	tests/run.sh

# The whole suite RUNS times (default 5) under stress-ng on every core; see
# tests/stress.sh. Not part of `make test` or .ci/run (about 20 min a run).
test-stress:
	scripts/install-deps.sh
	$(MAKE) all $(UNIT_BINS) $(BPFT_BINS) $(REPLAY_BINS) $(BUILD)/tests/fuzz_dp $(CSUM_WATCH)
	BUILD=$(BUILD) tests/stress.sh

# SOAK_BYTES, SOAK_MOVES, SOAK_RATE, SOAK_RSS_KB: see tests/soak/test_soak.sh
soak:
	scripts/install-deps.sh
	$(MAKE) all
	LAB_BUILD=$(abspath $(BUILD)) bash tests/soak/test_soak.sh

demo:
	scripts/install-deps.sh
	$(MAKE) all
	tests/demo.sh

bench: all $(BENCH_BINS)
	bench/run.sh

# Each harness runs FUZZ_SECONDS from the committed seeds; what it finds
# new goes to $(BUILD)/fuzz/corpus-NAME, a crashing input to
# $(BUILD)/fuzz/crash-NAME/ (add it to tests/fuzz/corpus/NAME once fixed).
fuzz: all $(FUZZ_BINS) $(BUILD)/tests/fuzz_dp
	@failed=; for h in $(FUZZ_NAMES); do \
		mkdir -p $(BUILD)/fuzz/corpus-$$h $(BUILD)/fuzz/crash-$$h; \
		echo "=== fuzz_$$h: $(FUZZ_SECONDS) s"; \
		$(BUILD)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/crash-$$h/ \
			$(BUILD)/fuzz/corpus-$$h tests/fuzz/corpus/$$h || failed="$$failed fuzz_$$h"; \
	done; \
	echo "=== fuzz_dp: $(FUZZ_DP_COUNT) packets"; \
	$(BUILD)/tests/fuzz_dp $(FUZZ_DP_COUNT) || failed="$$failed fuzz_dp"; \
	if [ -n "$$failed" ]; then echo "make fuzz: found something:$$failed" >&2; exit 1; fi; \
	echo "make fuzz: nothing found"

# Write the seed corpus again (it is committed; see tests/fuzz/mkcorpus.c).
fuzz-corpus: $(BUILD)/fuzz/mkcorpus
	$(BUILD)/fuzz/mkcorpus tests/fuzz/corpus

# Not part of `make test` or .ci/run: minutes per kernel under TCG (README).
test-kernels: all $(BUILD)/tests/test_dp $(BUILD)/tests/test_ctl
	BUILD=$(BUILD) tests/kernels/run.sh

deps:
	scripts/install-deps.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/lib/migrate \
		$(DESTDIR)/etc/migrate
	install -m 0755 $(BUILD)/migrate-agent $(BUILD)/migratectl $(DESTDIR)$(PREFIX)/sbin/
	# the objects the agent embeds, for loading with other tools (--adopt)
	install -m 0644 $(BPF_OBJS) $(DESTDIR)$(PREFIX)/lib/migrate/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' packaging/systemd/migrate-agent.service.in \
		> $(DESTDIR)/lib/systemd/system/migrate-agent.service
	install -d $(DESTDIR)$(WIRESHARK_PLUGINDIR)
	install -m 0644 packaging/wireshark/migrate.lua $(DESTDIR)$(WIRESHARK_PLUGINDIR)/
	install -m 0644 packaging/agent.conf.example $(DESTDIR)/etc/migrate/agent.conf.example

# Exactly what install put there; directories are left (they may be
# shared), but for /etc/migrate when nothing else is in it.
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/migrate-agent $(DESTDIR)$(PREFIX)/sbin/migratectl
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/lib/migrate/,$(notdir $(BPF_OBJS)))
	rmdir $(DESTDIR)$(PREFIX)/lib/migrate 2>/dev/null || true
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man8/,$(notdir $(wildcard man/*.8)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man5/,$(notdir $(wildcard man/*.5)))
	rm -f $(DESTDIR)/lib/systemd/system/migrate-agent.service
	rm -f $(DESTDIR)$(WIRESHARK_PLUGINDIR)/migrate.lua
	rm -f $(DESTDIR)/etc/migrate/agent.conf.example
	rmdir $(DESTDIR)/etc/migrate 2>/dev/null || true

clean:
	rm -rf $(BUILD)
