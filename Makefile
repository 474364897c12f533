# migrate - TCP host mobility.  `make` builds everything into build/.
#
#   make            BPF objects, skeletons, migrate-agent, migratectl
#   make test       unit, BPF and namespace integration tests (root)
#   make demo       the namespace-lab demo (root)
#   make bench      data-path benchmarks (root)
#   make test-kernels  the BPF tier and lab tests under qemu on Debian's
#                   6.1 kernel and the running one (root; slow without KVM)
#   make deps       install the Debian packages needed (root)
#   make install    PREFIX=/usr/local DESTDIR=
#   make uninstall  the same variables: removes what install put there

PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build
CLANG     ?= clang
CC        ?= cc
BPFTOOL   ?= bpftool
WERROR    ?= $(if $(CI),-Werror,)

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

CFLAGS_COMMON := -O2 -g -Wall -Wextra $(WERROR) -Iinclude -Iuser/lib -I$(BUILD)
CFLAGS   ?= $(CFLAGS_COMMON) -D_GNU_SOURCE -std=gnu11 -fstack-protector-strong
NL_CFLAGS := $(shell pkg-config --cflags libnl-3.0 libnl-route-3.0 2>/dev/null)
NL_LIBS   := $(shell pkg-config --libs libnl-3.0 libnl-route-3.0 2>/dev/null)
LDLIBS    := -lbpf -lcrypto -lelf -lz -lldns -lpthread

BPF_CFLAGS := -O2 -g -Wall -Wextra $(WERROR) -target bpf -D__TARGET_ARCH_$(ARCH) \
	-Ivmlinux -Iinclude -Ibpf

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
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

BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

.PHONY: all test unit demo bench deps install uninstall clean check-deps test-kernels
all: $(BUILD)/migrate-agent $(BUILD)/migratectl $(BPF_OBJS)

$(BUILD) $(BUILD)/bpf $(BUILD)/lib $(BUILD)/agent $(BUILD)/ctl $(BUILD)/tests $(BUILD)/bench:
	@mkdir -p $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

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

$(BUILD)/bench/%: bench/%.c $(SKELS) $(BUILD)/libmig.a $(wildcard tests/bpf/*.h) \
		$(BPF_HDRS) | $(BUILD)/bench
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libmig.a $(LDLIBS)

unit: $(UNIT_BINS)

# test and demo first install what is missing (Debian packages), then build.
test:
	scripts/install-deps.sh
	$(MAKE) all $(UNIT_BINS) $(BPFT_BINS)
	tests/run.sh

demo:
	scripts/install-deps.sh
	$(MAKE) all
	tests/demo.sh

bench: all $(BENCH_BINS)
	bench/run.sh

# Not part of `make test` or .ci/run: minutes per kernel under TCG (README).
test-kernels: all $(BUILD)/tests/test_dp $(BUILD)/tests/test_ctl
	BUILD=$(BUILD) tests/kernels/run.sh

deps:
	scripts/install-deps.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)/lib/systemd/system
	install -m 0755 $(BUILD)/migrate-agent $(BUILD)/migratectl $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g' packaging/systemd/migrate-agent.service.in \
		> $(DESTDIR)/lib/systemd/system/migrate-agent.service

# Exactly what install put there; directories are left (they may be shared).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/sbin/migrate-agent $(DESTDIR)$(PREFIX)/sbin/migratectl
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man8/,$(notdir $(wildcard man/*.8)))
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/share/man/man5/,$(notdir $(wildcard man/*.5)))
	rm -f $(DESTDIR)/lib/systemd/system/migrate-agent.service

clean:
	rm -rf $(BUILD)
