// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_ctl.c - migratectl against maps pinned the way the agent pins them.
 *
 *   /sys/fs/bpf/migtest-ctl-<pid>/        (bpffs; this test mounts nothing)
 *     mig_flows  HASH (BPF_F_NO_PREALLOC, MIG_MAX_FLOWS)  mig_tuple -> mig_flow
 *                  192.0.2.1:900      -> 203.0.113.9:34567      state 42, responder
 *                  192.0.2.1:5000     -> 198.51.100.7:443       ESTABLISHED, initiator
 *                  192.0.2.1:7000     -> 198.51.100.7:8443      ESTABLISHED, initiator,
 *                    migrated twice: on the wire 192.0.2.200:41000 -> 198.51.100.99:8443
 *                    (before: 192.0.2.150:40500, retired)
 *                  [2001:db8::1]:443  -> [2001:db8:1::2]:51000  CLOSE-WAIT, responder
 *                  (the flows that never migrated: wire tuple = socket tuple)
 *     mig_stats  PERCPU_ARRAY  counters, different values per CPU
 *     mig_meta   ARRAY  { abi_version = MIG_ABI_VERSION, max_flows = MIG_MAX_FLOWS }
 *         ^
 *         |  bpf_obj_get(BPF_F_RDONLY)
 *   BUILD/migratectl -d DIR ...   (the one beside this program, or $MIGRATECTL), run through popen
 *
 * Root only.  Every pin and the directory are removed at exit, whatever
 * happened (atexit, and on SIGINT/SIGTERM).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <migrate/mig_abi.h>

#include "unit.h"

#define BPFFS "/sys/fs/bpf"
#define NS_PER_S 1000000000ULL
/* Bytes of the flows' SipHash keys (s_own, s_peer): must never show up in
 * any output. */
#define KEY_BYTE 0x5a
#define KEY_HEX  "5a5a5a5a"

static const char *const pin_names[] = { MIG_MAP_FLOWS, MIG_MAP_STATS, MIG_MAP_META };
enum { M_FLOWS, M_STATS, M_META, M__MAX };

static char dir[PATH_MAX];
static char pins[M__MAX][PATH_MAX];
static char err_path[PATH_MAX];
static int fds[M__MAX] = { -1, -1, -1 };
static const char *ctl_bin;
static int ncpus;
static int setup_state;   /* 0 not tried, 1 ok, -1 failed */

/* Async-signal-safe: unlink, rmdir and close only. */
static void cleanup(void)
{
	int i;

	for (i = 0; i < M__MAX; i++) {
		if (pins[i][0])
			unlink(pins[i]);
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	if (dir[0])
		rmdir(dir);
	if (err_path[0])
		unlink(err_path);
}

static void on_signal(int sig)
{
	cleanup();
	_exit(128 + sig);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * NS_PER_S + (__u64)ts.tv_nsec;
}

struct test_flow {
	int family;
	const char *laddr, *raddr;
	__u16 lport, rport;
	__u8 state, role;
	const char *token;
	__u64 cookie;
	__u64 age_s;
	__u32 peer_reqno, own_reqno;
	/* Migrated flows only (migrations > 0): the wire tuple, and how
	 * long ago the last migration was.  Otherwise wire = socket tuple
	 * and migrated_ns = 0, as the datapath leaves them. */
	__u32 migrations;
	const char *wladdr, *wraddr;
	__u16 wlport, wrport;
	__u64 migrated_s;
	/* ... and the wire tuple it left at the last one (retired) */
	const char *pladdr, *praddr;
	__u16 plport, prport;
};

static const struct test_flow test_flows[] = {
	{ .family = AF_INET, .laddr = "192.0.2.1", .raddr = "198.51.100.7",
	  .lport = 5000, .rport = 443, .state = 1, .role = MIG_ROLE_INITIATOR,
	  .token = "0123456789abcdef", .cookie = 4097, .age_s = 42,
	  .peer_reqno = 3, .own_reqno = 2 },
	{ .family = AF_INET, .laddr = "192.0.2.1", .raddr = "203.0.113.9",
	  .lport = 900, .rport = 34567, .state = 42, .role = MIG_ROLE_RESPONDER,
	  .token = "00000000000000ff", .cookie = 1, .age_s = 0,
	  .peer_reqno = 0, .own_reqno = 0 },
	{ .family = AF_INET6, .laddr = "2001:db8::1", .raddr = "2001:db8:1::2",
	  .lport = 443, .rport = 51000, .state = 8, .role = MIG_ROLE_RESPONDER,
	  .token = "fedcba9876543210", .cookie = 18446744073709551615ULL, .age_s = 5,
	  .peer_reqno = 7, .own_reqno = 9 },
	/* Both ends moved once: neither wire address is a socket address. */
	{ .family = AF_INET, .laddr = "192.0.2.1", .raddr = "198.51.100.7",
	  .lport = 7000, .rport = 8443, .state = 1, .role = MIG_ROLE_INITIATOR,
	  .token = "a1b2c3d4e5f60718", .cookie = 77, .age_s = 60,
	  .peer_reqno = 1, .own_reqno = 1,
	  .migrations = 2, .wladdr = "192.0.2.200", .wraddr = "198.51.100.99",
	  .wlport = 41000, .wrport = 8443, .migrated_s = 3,
	  .pladdr = "192.0.2.150", .praddr = "198.51.100.99",
	  .plport = 40500, .prport = 8443 },
};
#define N_FLOWS (sizeof(test_flows) / sizeof(test_flows[0]))
/* Age each flow had when inserted: test_flows[].age_s, unless the
 * machine booted more recently than that (keyed_ns cannot go below 0);
 * likewise the time since the last migration, from migrated_s. */
static unsigned flow_age[N_FLOWS];
static unsigned flow_migr_age[N_FLOWS];

static void make_tuple(struct mig_tuple *t, int family, const char *laddr,
		       const char *raddr, __u16 lport, __u16 rport)
{
	memset(t, 0, sizeof(*t));
	t->family = family;
	inet_pton(family, laddr, t->laddr);
	inet_pton(family, raddr, t->raddr);
	t->lport = htons(lport);
	t->rport = htons(rport);
}

static void flow_key(const struct test_flow *tf, struct mig_tuple *t)
{
	make_tuple(t, tf->family, tf->laddr, tf->raddr, tf->lport, tf->rport);
}

/* now - s seconds and a half (the half so that the value in whole
 * seconds holds for a while), but not below 0 right after boot. */
static __u64 ns_ago(__u64 now, __u64 s)
{
	__u64 delta = s * NS_PER_S + NS_PER_S / 2;

	return now > delta ? now - delta : 0;
}

static int insert_flows(void)
{
	struct mig_tuple t;
	struct mig_flow f;
	__u64 now = now_ns();
	size_t i;

	for (i = 0; i < N_FLOWS; i++) {
		const struct test_flow *tf = &test_flows[i];

		flow_key(tf, &t);
		memset(&f, 0, sizeof(f));
		unit_hex(tf->token, f.token, sizeof(f.token));
		f.cookie = tf->cookie;
		f.keyed_ns = ns_ago(now, tf->age_s);
		flow_age[i] = (unsigned)((now - f.keyed_ns) / NS_PER_S);
		if (tf->migrations) {
			make_tuple(&f.wire, tf->family, tf->wladdr, tf->wraddr,
				   tf->wlport, tf->wrport);
			make_tuple(&f.prev, tf->family, tf->pladdr, tf->praddr,
				   tf->plport, tf->prport);
			f.migrations = tf->migrations;
			f.migrated_ns = ns_ago(now, tf->migrated_s);
			flow_migr_age[i] = (unsigned)((now - f.migrated_ns) / NS_PER_S);
		} else {
			f.wire = t;
		}
		f.isn_i = 0x11111111;
		f.isn_r = 0x22222222;
		f.peer_reqno = tf->peer_reqno;
		f.own_reqno = tf->own_reqno;
		f.role = tf->role;
		f.state = tf->state;
		memset(f.s_own, KEY_BYTE, sizeof(f.s_own));
		memset(f.s_peer, KEY_BYTE, sizeof(f.s_peer));
		if (bpf_map_update_elem(fds[M_FLOWS], &t, &f, BPF_ANY)) {
			fprintf(stderr, "  insert flow %zu: %s\n", i, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int delete_flows(void)
{
	struct mig_tuple t;
	size_t i;

	for (i = 0; i < N_FLOWS; i++) {
		flow_key(&test_flows[i], &t);
		if (bpf_map_delete_elem(fds[M_FLOWS], &t))
			return -1;
	}
	return 0;
}

/* Counter values: per CPU, summed by migratectl. */
static __u64 stat_cpu_value(int stat, int cpu)
{
	switch (stat) {
	case MIG_STAT_POOL_TAKEN: return cpu == 0 ? 40 : 2;
	case MIG_STAT_KEYED:      return 7;
	case MIG_STAT_KEY2_OUT:   return cpu == 0 ? 1000000 : 0;
	case MIG_STAT_KEYS_EXPIRED: return 1;
	/* for stats --prometheus: sums over reasons, the pool level */
	case MIG_STAT_SYN_OUT:     return cpu == 0 ? 5 : 0;
	case MIG_STAT_COMMIT_MOVER: return cpu == 0 ? 3 : 0;
	case MIG_STAT_REJ_MAC:     return cpu == 0 ? 2 : 0;
	case MIG_STAT_REJ_TOKEN:   return 1;
	case MIG_STAT_POOL_PUSHED: return cpu == 0 ? 100 : 0;
	case MIG_STAT_POOL_DRAINED: return cpu == 0 ? 10 : 0;
	}
	return 0;
}

static __u64 stat_sum(int stat)
{
	__u64 sum = 0;
	int cpu;

	for (cpu = 0; cpu < ncpus; cpu++)
		sum += stat_cpu_value(stat, cpu);
	return sum;
}

static int write_meta(__u32 abi_version)
{
	struct mig_meta meta = {
		.abi_version = abi_version,
		.pool_target = 64,
		.agent_pid = (__u64)getpid(),
		.started_ns = now_ns(),
		.max_flows = MIG_MAX_FLOWS,
	};
	__u32 key = 0;

	return bpf_map_update_elem(fds[M_META], &key, &meta, BPF_ANY);
}

static int fail_setup(const char *what)
{
	fprintf(stderr, "  setup: %s: %s\n", what, strerror(errno));
	return -1;
}

static int do_setup(void)
{
	/* as bpf/lib/mig_maps.h declares them (max_entries: the agent's
	 * default --max-flows) */
	static const struct {
		enum bpf_map_type type;
		__u32 key, value, max, flags;
	} maps[M__MAX] = {
		[M_FLOWS] = { BPF_MAP_TYPE_HASH, sizeof(struct mig_tuple),
			      sizeof(struct mig_flow), MIG_MAX_FLOWS, BPF_F_NO_PREALLOC },
		[M_STATS] = { BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64),
			      MIG_STAT__MAX, 0 },
		[M_META]  = { BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct mig_meta), 1, 0 },
	};
	struct statfs sfs;
	__u64 *percpu;
	__u32 key;
	int i, cpu;

	ctl_bin = getenv("MIGRATECTL");
	if (!ctl_bin || !*ctl_bin) {
		/* the migratectl of this build: BUILD/tests/test_ctl ->
		 * BUILD/migratectl */
		static char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 16);
		char *slash;

		ctl_bin = "build/migratectl";
		if (n > 0) {
			self[n] = '\0';
			slash = strrchr(self, '/');
			if (slash) {
				*slash = '\0';
				slash = strrchr(self, '/');
			}
			if (slash) {
				strcpy(slash + 1, "migratectl");
				ctl_bin = self;
			}
		}
	}
	if (access(ctl_bin, X_OK)) {
		fprintf(stderr, "  setup: no executable '%s' (build it, or set MIGRATECTL)\n",
			ctl_bin);
		return -1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "  setup: needs root (BPF maps and %s)\n", BPFFS);
		return -1;
	}
	if (statfs(BPFFS, &sfs) || sfs.f_type != BPF_FS_MAGIC) {
		fprintf(stderr, "  setup: %s is not a bpffs; this test mounts nothing: "
			"mount -t bpf bpf %s first\n", BPFFS, BPFFS);
		return -1;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0)
		return fail_setup("libbpf_num_possible_cpus");

	/* Registered before anything exists: cleanup skips what is empty. */
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	snprintf(err_path, sizeof(err_path), "/tmp/migtest-ctl-%d.err", (int)getpid());
	snprintf(dir, sizeof(dir), "%s/migtest-ctl-%d", BPFFS, (int)getpid());
	if (mkdir(dir, 0700)) {
		dir[0] = '\0';   /* not ours: leave it */
		return fail_setup("mkdir " BPFFS "/migtest-ctl-<pid>");
	}
	for (i = 0; i < M__MAX; i++) {
		LIBBPF_OPTS(bpf_map_create_opts, mopts, .map_flags = maps[i].flags);

		fds[i] = bpf_map_create(maps[i].type, pin_names[i], maps[i].key,
					maps[i].value, maps[i].max, &mopts);
		if (fds[i] < 0)
			return fail_setup(pin_names[i]);
		if (snprintf(pins[i], sizeof(pins[i]), "%s/%s", dir,
			     pin_names[i]) >= (int)sizeof(pins[i])) {
			pins[i][0] = '\0';
			errno = ENAMETOOLONG;
			return fail_setup(pin_names[i]);
		}
		if (bpf_obj_pin(fds[i], pins[i])) {
			pins[i][0] = '\0';
			return fail_setup(pin_names[i]);
		}
	}
	if (insert_flows())
		return -1;

	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return fail_setup("calloc");
	for (key = 0; key < MIG_STAT__MAX; key++) {
		for (cpu = 0; cpu < ncpus; cpu++)
			percpu[cpu] = stat_cpu_value(key, cpu);
		if (bpf_map_update_elem(fds[M_STATS], &key, percpu, BPF_ANY)) {
			free(percpu);
			return fail_setup("mig_stats update");
		}
	}
	free(percpu);
	if (write_meta(MIG_ABI_VERSION))
		return fail_setup("mig_meta update");
	return 0;
}

static int setup(void)
{
	if (!setup_state)
		setup_state = do_setup() ? -1 : 1;
	return setup_state > 0;
}

/* Output of one migratectl run. */
struct run {
	int status;          /* exit code, -1 if it did not exit */
	char out[16384];
	char err[4096];
};

static void read_all(FILE *f, char *buf, size_t size)
{
	size_t n = fread(buf, 1, size - 1, f);

	buf[n] = '\0';
}

/* Run "$MIGRATECTL <args>"; 0 if it ran at all. */
static int run_raw(struct run *r, const char *fmt, ...)
{
	char args[1024], cmd[2048];
	FILE *p, *e;
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (snprintf(cmd, sizeof(cmd), "'%s' %s 2>'%s'", ctl_bin, args,
		     err_path) >= (int)sizeof(cmd))
		return -1;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	p = popen(cmd, "r");
	if (!p)
		return -1;
	read_all(p, r->out, sizeof(r->out));
	st = pclose(p);
	if (st != -1 && WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	e = fopen(err_path, "r");
	if (e) {
		read_all(e, r->err, sizeof(r->err));
		fclose(e);
	}
	return 0;
}

#define run_ctl(r, args) run_raw(r, "-d '%s' %s", dir, args)

/* Line n (0-based) of s into buf, without the newline; 0 if missing. */
static int line_at(const char *s, int n, char *buf, size_t size)
{
	const char *end;
	size_t len;

	while (n-- > 0) {
		s = strchr(s, '\n');
		if (!s)
			return 0;
		s++;
	}
	if (!*s)
		return 0;
	end = strchr(s, '\n');
	len = end ? (size_t)(end - s) : strlen(s);
	if (len >= size)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return 1;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Number ranges for match(): a time in seconds read back from the
 * clock may have ticked between setup and the run. */
struct range {
	unsigned lo, hi;
};

/*
 * Match got against want, where each run of '@' in want stands for a
 * number within the next of ranges[] (nranges of them).  With cells,
 * a run is a cell of "show": "<n>s" left-aligned and blank-padded to
 * the length of the run, unpadded at the end of want.  Returns where
 * the match ended in got, or NULL (and says why on stderr).
 */
static const char *match(const char *got, const char *want,
			 const struct range *ranges, int nranges, int cells)
{
	const char *g = got, *w = want;
	unsigned long v;
	size_t run, len;
	char *end;

	while (*w) {
		if (*w != '@') {
			if (*g != *w)
				goto mismatch;
			g++;
			w++;
			continue;
		}
		run = strspn(w, "@");
		if (*g < '0' || *g > '9' || nranges <= 0)
			goto mismatch;
		v = strtoul(g, &end, 10);
		if (v < ranges->lo || v > ranges->hi) {
			fprintf(stderr, "  %lu at offset %ld not within %u..%u\n",
				v, (long)(g - got), ranges->lo, ranges->hi);
			goto mismatch;
		}
		ranges++;
		nranges--;
		w += run;
		if (cells) {
			if (*end++ != 's')
				goto mismatch;
			len = (size_t)(end - g);
			if (len > run)
				goto mismatch;
			for (; *w && len < run; len++)
				if (*end++ != ' ')
					goto mismatch;
		}
		g = end;
	}
	return g;
mismatch:
	fprintf(stderr, "  got:  '%s'\n  want: '%s' ('@' a number), from offset %ld\n",
		got, want, (long)(g - got));
	return NULL;
}

/*
 * "show" with the widths it should pick: AGE and LAST as wide as their
 * titles (the ages stay below 100 s), the others as their longest cell.
 * Flows that never migrated: "=" "=" "0" "-".
 */
static const char show_header[] =
	"LOCAL              REMOTE                 STATE        ROLE       TOKEN             COOKIE                AGE  WIRE LOCAL         WIRE REMOTE         MIGR  LAST";
static const char *const show_rows[] = {
	"192.0.2.1:900      203.0.113.9:34567      state-42     responder  00000000000000ff  1                     @@@  =                  =                   0     -",
	"192.0.2.1:5000     198.51.100.7:443       ESTABLISHED  initiator  0123456789abcdef  4097                  @@@  =                  =                   0     -",
	"192.0.2.1:7000     198.51.100.7:8443      ESTABLISHED  initiator  a1b2c3d4e5f60718  77                    @@@  192.0.2.200:41000  198.51.100.99:8443  2     @@@@",
	"[2001:db8::1]:443  [2001:db8:1::2]:51000  CLOSE-WAIT   responder  fedcba9876543210  18446744073709551615  @@@  =                  =                   0     -",
};
/* test_flows[] index of the rows above (and of the flows of -j, -p and
 * dump): sorted by local endpoint, port 900 before 5000 before 7000. */
static const int row_flow[] = { 1, 0, 3, 2 };
#define N_ROWS (sizeof(row_flow) / sizeof(row_flow[0]))

/* The ranges of the '@' of a flow's row or JSON object: its age, then
 * the time since its last migration. */
static void flow_ranges(int flow, struct range r[2])
{
	r[0] = (struct range){ flow_age[flow], flow_age[flow] + 2 };
	r[1] = (struct range){ flow_migr_age[flow], flow_migr_age[flow] + 2 };
}

static void check_show_human(int *unit_failed, const struct run *r)
{
	struct range ranges[2];
	const char *end;
	char line[512];
	size_t i;

	CHECK(r->status == 0, "exit %d, stderr '%s'", r->status, r->err);
	CHECK(r->err[0] == '\0', "stderr '%s'", r->err);
	CHECK(count_lines(r->out) == 1 + N_ROWS, "%d lines:\n%s", count_lines(r->out), r->out);
	CHECK(line_at(r->out, 0, line, sizeof(line)) && !strcmp(line, show_header),
	      "header '%s'", line);
	for (i = 0; i < N_ROWS; i++) {
		flow_ranges(row_flow[i], ranges);
		CHECK(line_at(r->out, (int)i + 1, line, sizeof(line)) &&
		      (end = match(line, show_rows[i], ranges, 2, 1)) && !*end,
		      "row %zu", i + 1);
	}
	CHECK(!strstr(r->out, KEY_HEX), "keys printed");
}

TEST(show_human)
{
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "show");
	check_show_human(unit_failed, &r);
}

TEST(show_aliases)
{
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "show flows");
	check_show_human(unit_failed, &r);
	run_ctl(&r, "");   /* bare migratectl = show */
	check_show_human(unit_failed, &r);
	run_raw(&r, "-d /nonexistent --pin-dir '%s' show", dir);   /* last one wins */
	check_show_human(unit_failed, &r);
}

/* The JSON object of each flow, in row order; '@' as for show_rows[].
 * Flows that never migrated show their socket tuple as the wire tuple. */
static const char *const json_flows[] = {
	"{\"family\":\"inet\",\"local\":{\"addr\":\"192.0.2.1\",\"port\":900},"
	"\"remote\":{\"addr\":\"203.0.113.9\",\"port\":34567},\"state\":\"state-42\","
	"\"role\":\"responder\",\"token\":\"00000000000000ff\",\"cookie\":1,\"age_s\":@,"
	"\"peer_reqno\":0,\"own_reqno\":0,"
	"\"wire\":{\"local\":{\"addr\":\"192.0.2.1\",\"port\":900},"
	"\"remote\":{\"addr\":\"203.0.113.9\",\"port\":34567}},"
	"\"migrations\":0,\"last_migration_s\":null}",

	"{\"family\":\"inet\",\"local\":{\"addr\":\"192.0.2.1\",\"port\":5000},"
	"\"remote\":{\"addr\":\"198.51.100.7\",\"port\":443},\"state\":\"ESTABLISHED\","
	"\"role\":\"initiator\",\"token\":\"0123456789abcdef\",\"cookie\":4097,\"age_s\":@,"
	"\"peer_reqno\":3,\"own_reqno\":2,"
	"\"wire\":{\"local\":{\"addr\":\"192.0.2.1\",\"port\":5000},"
	"\"remote\":{\"addr\":\"198.51.100.7\",\"port\":443}},"
	"\"migrations\":0,\"last_migration_s\":null}",

	"{\"family\":\"inet\",\"local\":{\"addr\":\"192.0.2.1\",\"port\":7000},"
	"\"remote\":{\"addr\":\"198.51.100.7\",\"port\":8443},\"state\":\"ESTABLISHED\","
	"\"role\":\"initiator\",\"token\":\"a1b2c3d4e5f60718\",\"cookie\":77,\"age_s\":@,"
	"\"peer_reqno\":1,\"own_reqno\":1,"
	"\"wire\":{\"local\":{\"addr\":\"192.0.2.200\",\"port\":41000},"
	"\"remote\":{\"addr\":\"198.51.100.99\",\"port\":8443}},"
	"\"migrations\":2,\"last_migration_s\":@}",

	"{\"family\":\"inet6\",\"local\":{\"addr\":\"2001:db8::1\",\"port\":443},"
	"\"remote\":{\"addr\":\"2001:db8:1::2\",\"port\":51000},\"state\":\"CLOSE-WAIT\","
	"\"role\":\"responder\",\"token\":\"fedcba9876543210\","
	"\"cookie\":18446744073709551615,\"age_s\":@,"
	"\"peer_reqno\":7,\"own_reqno\":9,"
	"\"wire\":{\"local\":{\"addr\":\"2001:db8::1\",\"port\":443},"
	"\"remote\":{\"addr\":\"2001:db8:1::2\",\"port\":51000}},"
	"\"migrations\":0,\"last_migration_s\":null}",
};

/* The whole of "-j show": {"flows":[<json_flows[] joined by ",">]}. */
static void check_show_json(int *unit_failed, const struct run *r)
{
	struct range ranges[2];
	const char *p = r->out;
	size_t i;

	CHECK(r->status == 0, "exit %d, stderr '%s'", r->status, r->err);
	CHECK(count_lines(r->out) == 1, "compact JSON is one line: %s", r->out);
	p = match(p, "{\"flows\":[", NULL, 0, 0);
	CHECK(p, "start: %s", r->out);
	for (i = 0; p && i < N_ROWS; i++) {
		if (i) {
			p = match(p, ",", NULL, 0, 0);
			CHECK(p, "no ',' after flow %zu", i - 1);
			if (!p)
				break;
		}
		flow_ranges(row_flow[i], ranges);
		p = match(p, json_flows[i], ranges, 2, 0);
		CHECK(p, "flow %zu", i);
	}
	if (p)
		CHECK(!strcmp(p, "]}\n"), "after the flows: '%s'", p);
	CHECK(!strstr(r->out, KEY_HEX), "keys printed");
}

TEST(show_json)
{
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "-j show");
	check_show_json(unit_failed, &r);

	/* dump -j is show -j. */
	run_ctl(&r, "-j dump");
	check_show_json(unit_failed, &r);
}

TEST(show_pretty)
{
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "-p show");
	CHECK(r.status == 0, "exit %d, stderr '%s'", r.status, r.err);
	CHECK(!strncmp(r.out, "{\n    \"flows\": [\n        {\n            \"family\": \"inet\",\n"
		       "            \"local\": {\n                \"addr\": \"192.0.2.1\",\n"
		       "                \"port\": 900\n            },\n", 150),
	      "pretty start:\n%s", r.out);
	CHECK(strstr(r.out, "\"cookie\": 18446744073709551615,\n"), "pretty:\n%s", r.out);
	CHECK(strstr(r.out, "            \"wire\": {\n                \"local\": {\n"
			    "                    \"addr\": \"192.0.2.200\",\n"
			    "                    \"port\": 41000\n                },\n"),
	      "pretty wire:\n%s", r.out);
	CHECK(strstr(r.out, "            \"migrations\": 2,\n"
			    "            \"last_migration_s\": "), "pretty migrations:\n%s", r.out);
	CHECK(strstr(r.out, "            \"migrations\": 0,\n"
			    "            \"last_migration_s\": null\n        },\n"),
	      "pretty null:\n%s", r.out);
	CHECK(strlen(r.out) > 18 && !strcmp(r.out + strlen(r.out) - 18, "        }\n    ]\n}\n"),
	      "pretty end:\n%s", r.out);
}

TEST(dump)
{
	static const char want[] =
		"inet\t192.0.2.1\t900\t203.0.113.9\t34567\tstate-42\tresponder\t00000000000000ff\t1\n"
		"inet\t192.0.2.1\t5000\t198.51.100.7\t443\tESTABLISHED\tinitiator\t0123456789abcdef\t4097\n"
		"inet\t192.0.2.1\t7000\t198.51.100.7\t8443\tESTABLISHED\tinitiator\ta1b2c3d4e5f60718\t77\n"
		"inet6\t2001:db8::1\t443\t2001:db8:1::2\t51000\tCLOSE-WAIT\tresponder\tfedcba9876543210\t18446744073709551615\n";
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "dump");
	CHECK(r.status == 0, "exit %d, stderr '%s'", r.status, r.err);
	CHECK(!strcmp(r.out, want), "got:\n%swant:\n%s", r.out, want);
}

TEST(stats_human)
{
	char line[256], name[64];
	unsigned long long v;
	struct run r;
	int i;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "show stats");
	CHECK(r.status == 0, "exit %d, stderr '%s'", r.status, r.err);
	CHECK(count_lines(r.out) == MIG_STAT__MAX, "%d lines:\n%s", count_lines(r.out), r.out);
#define X(n, s) \
	i = MIG_STAT_##n; \
	if (line_at(r.out, i, line, sizeof(line)) && \
	    sscanf(line, "%63s %llu", name, &v) == 2) { \
		CHECK(!strcmp(name, s), "line %d: '%s', want counter '%s'", i, line, s); \
		CHECK(v == stat_sum(i), "%s = %llu, want %llu", s, v, \
		      (unsigned long long)stat_sum(i)); \
	} else { \
		CHECK(0, "no line for '%s' in:\n%s", s, r.out); \
	}
	MIG_STATS(X)
#undef X
	/* Aligned: every value ends in the same column, so all lines of
	 * the table have one length. */
	{
		const char *p = r.out, *nl;
		long width = -1;

		while ((nl = strchr(p, '\n'))) {
			if (width < 0)
				width = nl - p;
			CHECK(nl - p == width, "line of %ld characters, want %ld:\n%s",
			      (long)(nl - p), width, r.out);
			p = nl + 1;
		}
	}

	/* "stats" is an alias. */
	run_ctl(&r, "stats");
	CHECK(r.status == 0 && count_lines(r.out) == MIG_STAT__MAX, "stats:\n%s", r.out);
}

TEST(stats_json)
{
	char want[128];
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "-j show stats");
	CHECK(r.status == 0, "exit %d, stderr '%s'", r.status, r.err);
	CHECK(!strncmp(r.out, "{\"stats\":{\"pool_empty\":0,\"pool_taken\":42,", 40),
	      "start: %s", r.out);
	snprintf(want, sizeof(want), ",\"keyed\":%llu,",
		 (unsigned long long)stat_sum(MIG_STAT_KEYED));
	CHECK(strstr(r.out, want), "want %s in %s", want, r.out);
	CHECK(strstr(r.out, ",\"key2_sent\":1000000,"), "key2_sent in %s", r.out);
	snprintf(want, sizeof(want), ",\"keys_expired\":%llu",
		 (unsigned long long)stat_sum(MIG_STAT_KEYS_EXPIRED));
	CHECK(strstr(r.out, want), "want %s in %s", want, r.out);
	CHECK(strlen(r.out) > 3 && !strcmp(r.out + strlen(r.out) - 3, "}}\n"),
	      "want one object: %s", r.out);
}

TEST(stats_one)
{
	char want[64];
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "show stats pool_taken");
	CHECK(r.status == 0 && !strcmp(r.out, "42\n"), "exit %d, out '%s'", r.status, r.out);
	run_ctl(&r, "stats keyed");
	snprintf(want, sizeof(want), "%llu\n", (unsigned long long)stat_sum(MIG_STAT_KEYED));
	CHECK(r.status == 0 && !strcmp(r.out, want), "exit %d, out '%s'", r.status, r.out);
	run_ctl(&r, "-j stats pool_taken");
	CHECK(r.status == 0 && !strcmp(r.out, "{\"stats\":{\"pool_taken\":42}}\n"),
	      "exit %d, out '%s'", r.status, r.out);

	run_ctl(&r, "show stats no_such");
	CHECK(r.status == 2, "unknown counter: exit %d", r.status);
	CHECK(strstr(r.err, "migratectl: unknown counter 'no_such'"), "stderr '%s'", r.err);
	CHECK(r.out[0] == '\0', "stdout '%s'", r.out);
}

TEST(empty)
{
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	CHECK(delete_flows() == 0, "delete flows: %s", strerror(errno));
	run_ctl(&r, "show");
	CHECK(r.status == 0 && !strcmp(r.out, "no keyed flows\n"), "show: %d '%s'", r.status, r.out);
	run_ctl(&r, "-j show");
	CHECK(r.status == 0 && !strcmp(r.out, "{\"flows\":[]}\n"), "-j show: %d '%s'", r.status, r.out);
	run_ctl(&r, "-p show");
	CHECK(r.status == 0 && !strcmp(r.out, "{\n    \"flows\": []\n}\n"), "-p show: '%s'", r.out);
	run_ctl(&r, "dump");
	CHECK(r.status == 0 && !strcmp(r.out, ""), "dump: %d '%s'", r.status, r.out);
	CHECK(insert_flows() == 0, "reinsert flows");
}

TEST(no_agent)
{
	static const char fmt[] =
		"migratectl: no migrate agent state in '%s/missing': is migrate-agent running? (see --pin-dir)\n";
	char want[PATH_MAX + 128];
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	snprintf(want, sizeof(want), fmt, dir);
	run_raw(&r, "-d '%s/missing' show", dir);
	CHECK(r.status == 1, "exit %d", r.status);
	CHECK(!strcmp(r.err, want), "stderr '%s'", r.err);
	CHECK(r.out[0] == '\0', "stdout '%s'", r.out);

	run_raw(&r, "-j -d '%s/missing' dump", dir);
	CHECK(r.status == 1, "exit %d", r.status);
	CHECK(!strncmp(r.out, "{\"error\":\"no migrate agent state in '", 37) &&
	      strstr(r.out, "/missing': is migrate-agent running? (see --pin-dir)\"}\n"),
	      "stdout '%s'", r.out);

	/* The environment names the default directory; -d overrides it. */
	setenv("MIGRATE_PIN_DIR", dir, 1);
	run_raw(&r, "show stats pool_taken");
	CHECK(r.status == 0 && !strcmp(r.out, "42\n"), "MIGRATE_PIN_DIR: %d '%s' '%s'",
	      r.status, r.out, r.err);
	setenv("MIGRATE_PIN_DIR", "/nonexistent", 1);
	run_ctl(&r, "show stats pool_taken");
	CHECK(r.status == 0 && !strcmp(r.out, "42\n"), "-d over env: %d '%s' '%s'",
	      r.status, r.out, r.err);
	run_raw(&r, "show");
	CHECK(r.status == 1 && strstr(r.err, "'/nonexistent'"), "env: %d '%s'", r.status, r.err);
	unsetenv("MIGRATE_PIN_DIR");
}

TEST(abi_mismatch)
{
	char theirs[64], ours[64];
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	CHECK(write_meta(MIG_ABI_VERSION + 98) == 0, "write meta");
	run_ctl(&r, "show");
	CHECK(r.status == 1, "exit %d", r.status);
	snprintf(theirs, sizeof(theirs), "version %d", MIG_ABI_VERSION + 98);
	snprintf(ours, sizeof(ours), "version %d:", MIG_ABI_VERSION);
	CHECK(!strncmp(r.err, "migratectl: ", 12) && strstr(r.err, theirs) &&
	      strstr(r.err, ours) && count_lines(r.err) == 1, "stderr '%s'", r.err);
	CHECK(r.out[0] == '\0', "stdout '%s'", r.out);
	run_ctl(&r, "-j show stats");
	CHECK(r.status == 1 && !strncmp(r.out, "{\"error\":\"", 10), "-j: %d '%s'", r.status, r.out);
	CHECK(write_meta(MIG_ABI_VERSION) == 0, "restore meta");
}

TEST(usage_errors)
{
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "foo");
	CHECK(r.status == 2, "exit %d", r.status);
	CHECK(strstr(r.err, "migratectl: unknown command 'foo'") && count_lines(r.err) == 1,
	      "stderr '%s'", r.err);
	run_ctl(&r, "-j foo");
	CHECK(r.status == 2 && strstr(r.out, "{\"error\":\"unknown command 'foo'"),
	      "-j: %d '%s'", r.status, r.out);
	run_ctl(&r, "--frobnicate show");
	CHECK(r.status == 2 && strstr(r.err, "invalid option '--frobnicate'"),
	      "%d '%s'", r.status, r.err);
	run_ctl(&r, "-x show");
	CHECK(r.status == 2 && strstr(r.err, "invalid option '-x'"), "%d '%s'", r.status, r.err);
	run_ctl(&r, "show bogus");
	CHECK(r.status == 2 && strstr(r.err, "'bogus'"), "%d '%s'", r.status, r.err);
	run_ctl(&r, "dump extra");
	CHECK(r.status == 2 && strstr(r.err, "'extra'"), "%d '%s'", r.status, r.err);
	run_raw(&r, "-d");
	CHECK(r.status == 2 && strstr(r.err, "'-d' needs an argument"), "%d '%s'", r.status, r.err);
	run_raw(&r, "--help");
	CHECK(r.status == 0 && strstr(r.out, "Usage: migratectl"), "--help: %d", r.status);
	run_raw(&r, "-V");
	CHECK(r.status == 0 && strstr(r.out, "migratectl "), "-V: %d", r.status);
	run_raw(&r, "version");
	CHECK(r.status == 0 && strstr(r.out, "migratectl ") && strstr(r.out, "ABI version"),
	      "version: %d '%s'", r.status, r.out);
	run_raw(&r, "-j version");
	CHECK(r.status == 0 && strstr(r.out, "\"abi_version\":"), "-j version: %d '%s'",
	      r.status, r.out);
	run_raw(&r, "version extra");
	CHECK(r.status == 2 && strstr(r.err, "'extra'"), "version extra: %d '%s'", r.status, r.err);
}

TEST(stats_prometheus)
{
	char want[160];
	const char *p, *nl;
	struct run r;

	if (!setup()) {
		CHECK(0, "setup failed");
		return;
	}
	run_ctl(&r, "stats --prometheus");
	CHECK(r.status == 0, "exit %d, stderr '%s'", r.status, r.err);
	/* every line a HELP, a TYPE or a migrate_* sample */
	for (p = r.out; (nl = strchr(p, '\n')); p = nl + 1)
		CHECK(!strncmp(p, "# HELP migrate_", 15) || !strncmp(p, "# TYPE migrate_", 15) ||
		      !strncmp(p, "migrate_", 8), "line '%.*s'", (int)(nl - p), p);
	CHECK(*p == '\0', "unterminated last line '%s'", p);
#define HAS(...) do { \
		snprintf(want, sizeof(want), __VA_ARGS__); \
		CHECK(strstr(r.out, want), "no '%s' in:\n%s", want, r.out); \
	} while (0)
	HAS("# TYPE migrate_migrations_total counter\n");
	HAS("\nmigrate_negotiations_total{role=\"initiator\"} 5\n");
	HAS("\nmigrate_keyed_total %llu\n", (unsigned long long)stat_sum(MIG_STAT_KEYED));
	HAS("\nmigrate_migrations_total{outcome=\"committed_mover\"} 3\n");
	HAS("\nmigrate_migrations_total{outcome=\"rejected\"} %llu\n",
	    (unsigned long long)(2 + stat_sum(MIG_STAT_REJ_TOKEN)));
	HAS("\nmigrate_rejections_total{reason=\"mac\"} 2\n");
	HAS("\nmigrate_rejections_total{reason=\"token\"} %d\n", ncpus);
	HAS("\nmigrate_keyed_flows %zu\n", N_FLOWS);
	HAS("\nmigrate_key_pool_keys %llu\n",
	    (unsigned long long)(100 - stat_sum(MIG_STAT_POOL_TAKEN) - 10));
	HAS("\nmigrate_key_pool_target 64\n");
	HAS("\nmigrate_map_entries{map=\"mig_flows\"} %zu\n", N_FLOWS);
	HAS("\nmigrate_counter_total{counter=\"key2_sent\"} 1000000\n");
	HAS("\",abi_version=\"%d\"} 1\n", MIG_ABI_VERSION);
	HAS("\nmigrate_info{version=\"");
#undef HAS
	/* only the maps that are pinned */
	CHECK(!strstr(r.out, "mig_cand"), "a map not pinned is listed:\n%s", r.out);

	run_ctl(&r, "-j stats --prometheus");
	CHECK(r.status == 2 && strstr(r.err, "no JSON form"), "-j: %d '%s'", r.status, r.err);
	run_ctl(&r, "stats --prometheus extra");
	CHECK(r.status == 2 && strstr(r.err, "'extra'"), "extra: %d '%s'", r.status, r.err);
}

UNIT_MAIN()
