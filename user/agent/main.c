// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * migrate-agent - loads and pins the data path, keeps the key pool filled,
 * finishes key agreements.
 *
 * Everything it loads stays pinned under the pin directory when it exits,
 * so a restart detaches nothing and loses no flow; `--detach` removes it
 * all.  A new build started over pinned state reuses it only when the ABI
 * version and every map's layout match (pins.c), and then replaces the
 * programs in place; with --adopt it loads nothing and serves a data path
 * that other tools loaded and pinned.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mig_env.h"
#include "mig_log.h"
#include "mig_stats.h"
#include "dns.h"
#include "mig_config.h"
#include "mig_notify.h"
#include "mig_sockops.skel.h"

#define MIG_VERSION "0.2.0"

static volatile sig_atomic_t stop, reload;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		reload = 1;
	else
		stop = 1;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Whether a line of l's kind is written now (agent.h: LOG_LINES_PER_SEC);
 * if not, it is counted. */
bool loglimit_ok(struct loglimit *l, uint64_t now)
{
	if (now - l->sec_ns >= 1000000000ULL && !l->skipped) {
		l->sec_ns = now;
		l->lines = 0;
	}
	if (l->lines < LOG_LINES_PER_SEC) {
		l->lines++;
		return true;
	}
	l->skipped++;
	return false;
}

/* How many were not written, once their second is over; 0: nothing to
 * say.  A new second begins with the report. */
static uint64_t loglimit_due(struct loglimit *l, uint64_t now)
{
	uint64_t n = l->skipped;

	if (!n || now - l->sec_ns < 1000000000ULL)
		return 0;
	l->skipped = 0;
	l->sec_ns = now;
	l->lines = 0;
	return n;
}

/* Once an event-loop pass: the lines that loglimit_ok held back. */
void log_reports(struct agent *a)
{
	uint64_t now, n;

	if (!a->log_commits.skipped && !a->log_keyed.skipped && !a->log_cc.skipped)
		return;   /* (no clock read on a pass with nothing held back) */
	now = mono_ns();

	if ((n = loglimit_due(&a->log_commits, now)))
		pr_info("%llu commit(s) of flows that had committed less than a second before: "
			"not logged (at most %d such lines a second; commits_unlogged)",
			(unsigned long long)n, LOG_LINES_PER_SEC);
	if ((n = loglimit_due(&a->log_cc, now)))
		pr_info("%llu more congestion restart(s) in the sockets: not logged (at most %d "
			"such lines a second; cwnd_restarted counts them all)",
			(unsigned long long)n, LOG_LINES_PER_SEC);
	if ((n = loglimit_due(&a->log_keyed, now)))
		pr_info("%llu more connection(s) keyed: not logged (at most %d such lines a "
			"second; keyed counts them all)", (unsigned long long)n, LOG_LINES_PER_SEC);
}

/* The agent's counts gather in memory and reach mig_stats once an
 * event-loop pass (stat_flush): two system calls per count otherwise,
 * several per flow in a move of many. */
void stat_add(struct agent *a, enum mig_stat s, uint64_t n)
{
	if ((unsigned int)s < MIG_STAT__MAX)
		a->stat_pend[s] += n;
}

void stat_flush(struct agent *a)
{
	unsigned int s;

	for (s = 0; s < MIG_STAT__MAX; s++)
		if (a->stat_pend[s]) {
			mig_stat_add(a->stats_fd, a->ncpus, s, a->stat_pend[s]);
			a->stat_pend[s] = 0;
		}
}

uint64_t stat_get(struct agent *a, enum mig_stat s)
{
	return mig_stat_get(a->stats_fd, a->ncpus, s) +
	       ((unsigned int)s < MIG_STAT__MAX ? a->stat_pend[s] : 0);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: migrate-agent [OPTIONS]\n"
"       migrate-agent --adopt [--pin-dir DIR] [--cgroup PATH] [OPTIONS]\n"
"       migrate-agent --detach [--pin-dir DIR] [--config FILE]\n"
"       migrate-agent --check-config [--config FILE]\n"
"\n"
"Loads the migrate data path, attaches it to a cgroup, keeps the key pool\n"
"filled and finishes the key agreement of migratable connections.\n"
"\n"
"  -d, --pin-dir DIR     pin directory on a BPF filesystem (default %s,\n"
"                        %s-NAME in a network namespace named NAME)\n"
"  -c, --cgroup PATH     cgroup v2 directory whose sockets are served\n"
"                        (default: the root of the cgroup v2 mount)\n"
"  -k, --pool N          public keys kept ready, 0..%d (default 64;\n"
"                        0 leaves every new connection plain)\n"
"  -m, --max-flows N     keyed connections the maps hold, %u..%u (default\n"
"                        %u; memory grows with use, see migrate-agent(8));\n"
"                        pinned maps keep their size until --detach\n"
"  -p, --pidfile FILE    write the pid once attached and ready\n"
"  -C, --config FILE     configuration file (default %s if present;\n"
"                        options given here override it; SIGHUP reads it\n"
"                        again)\n"
"      --check-config    parse the configuration file, say whether it is\n"
"                        valid and exit (0 valid, 2 not)\n"
"  -i, --iface IF        serve interface IF (repeatable; default: every\n"
"                        interface but lo, also those that appear later)\n"
"  -x, --xdp             ingress through XDP instead of TC (physical NICs;\n"
"                        TC is the right choice on veth); refused on an\n"
"                        interface that runs another XDP program, and on\n"
"                        devices without a link-layer header (tun, WireGuard)\n"
"      --xdp-replace     --xdp, and replace another XDP program there\n"
"      --adopt           load and attach nothing: serve the data path that\n"
"                        other tools loaded, with its maps pinned under DIR\n"
"      --no-resume       diagnostic: after a migration, leave resuming to\n"
"                        the kernel's own timers (for measurements)\n"
"  -l, --log-level L     warn, info or debug (default info)\n"
"  -v, --verbose         same as --log-level debug\n"
"      --detach          remove everything pinned under the pin directory\n"
"                        (detaches the programs) and exit\n"
"  -h, --help            this text\n"
"  -V, --version         print the version\n",
		MIG_PIN_DIR_DEFAULT, MIG_PIN_DIR_DEFAULT, MIG_POOL_MAX, MIG_MIN_FLOWS, MIG_FLOWS_LIMIT,
		MIG_MAX_FLOWS, MIG_CONFIG_DEFAULT);
}

static int parse_uint(const char *opt, const char *s, unsigned int max,
		      unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max) {
		pr_err("invalid %s value '%s': expected a number 0..%u", opt, s, max);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];
	char *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

static const char *const pinned_names[] = {
	MIG_LINK_SOCKOPS, MIG_MAP_FLOWS, MIG_MAP_TOKENS,
	MIG_MAP_POOL, MIG_MAP_REQS, MIG_MAP_SK, MIG_MAP_EVENTS, MIG_MAP_STATS,
	MIG_MAP_META, MIG_MAP_INGRESS, MIG_MAP_EGRESS, MIG_MAP_RATE, "mig_scratch",
	MIG_MAP_DNS, MIG_MAP_CAND, MIG_MAP_PEND, MIG_MAP_HOLD, MIG_MAP_HOST,
	MIG_MAP_RKEY, MIG_MAP_GATE, MIG_MAP_KEPT, MIG_LINK_ITER, MIG_MAP_STATS "_new",
	MIG_PIN_CC, MIG_MAP_CC_ARM, MIG_MAP_XF,
	/* programs other tools pinned (--adopt) */
	MIG_PIN_PROGS "/mig_sockops", MIG_PIN_PROGS "/mig_in_tc",
	MIG_PIN_PROGS "/mig_in_xdp", MIG_PIN_PROGS "/mig_out_tc",
	MIG_PIN_PROGS "/mig_in_tc_l3", MIG_PIN_PROGS "/mig_out_tc_l3", MIG_PIN_PROGS,
	/* version 1 left these */
	"mig_secrets",
};

/* Anything of ours pinned under the pin directory? */
static bool pins_any(const struct agent *a)
{
	size_t i;

	for (i = 0; i < sizeof(pinned_names) / sizeof(pinned_names[0]); i++)
		if (pin_exists(a, pinned_names[i]))
			return true;
	return false;
}

static int do_detach(const char *dir)
{
	char path[PATH_MAX];
	size_t i;
	int ret = 0;

	/* (a killed agent's congestion control is still registered) */
	cc_forget_pinned(dir);
	for (i = 0; i < sizeof(pinned_names) / sizeof(pinned_names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pinned_names[i]);
		if (!strcmp(pinned_names[i], MIG_PIN_PROGS)) {
			if (rmdir(path) && errno != ENOENT) {
				pr_err("cannot remove '%s': %s", path, strerror(errno));
				ret = -errno;
			}
			continue;
		}
		if (unlink(path) && errno != ENOENT) {
			pr_err("cannot remove '%s': %s", path, strerror(errno));
			ret = -errno;
		}
	}
	if (rmdir(dir) && errno != ENOENT) {
		pr_err("cannot remove '%s': %s (left there by something else?)",
			dir, strerror(errno));
		ret = ret ?: -errno;
	}
	if (!ret)
		pr_info("detached: removed '%s'", dir);
	return ret;
}

/* Attach through a pinned link: a restart swaps the program in place. */
static int attach(struct agent *a, struct mig_sockops *skel)
{
	char path[PATH_MAX];
	struct bpf_link *link;
	int cgfd, err;

	snprintf(path, sizeof(path), "%s/%s", a->pin_dir, MIG_LINK_SOCKOPS);
	link = bpf_link__open(path);
	if (link) {
		err = bpf_link__update_program(link, skel->progs.mig_sockops);
		bpf_link__destroy(link);
		if (err) {
			pr_err("cannot replace the program of '%s': %s", path,
				strerror(-err));
			return err;
		}
		pr_info("replaced the program behind '%s'", path);
		return 0;
	}
	cgfd = open(a->cgroup, O_RDONLY | O_DIRECTORY);
	if (cgfd < 0) {
		err = -errno;
		pr_err("cannot open cgroup '%s': %s", a->cgroup, strerror(errno));
		return err;
	}
	/* A cgroup link always attaches in BPF_F_ALLOW_MULTI mode: our
	 * program runs beside those of other agents at this cgroup, above it
	 * and below it (an agent per network namespace in a container's
	 * cgroup below the host agent's).  The kernel refuses it only under an
	 * ancestor that holds a program attached without ALLOW_MULTI. */
	link = bpf_program__attach_cgroup(skel->progs.mig_sockops, cgfd);
	err = libbpf_get_error(link);
	close(cgfd);
	if (err == -EPERM) {
		pr_err("cannot attach to cgroup '%s': %s: with CAP_NET_ADMIN this means a "
		       "cgroup above it holds a sock_ops program attached without the multi "
		       "flag, which allows no program below it (see 'bpftool cgroup tree'): "
		       "attach that one with 'multi', or serve a cgroup outside its subtree",
		       a->cgroup, strerror(-err));
		return err;
	}
	if (err) {
		pr_err("cannot attach to cgroup '%s': %s", a->cgroup, strerror(-err));
		return err;
	}
	err = bpf_link__pin(link, path);
	bpf_link__destroy(link);   /* the pin keeps it attached */
	if (err) {
		pr_err("cannot pin '%s': %s", path, strerror(-err));
		return err;
	}
	pr_info("attached to cgroup '%s'", a->cgroup);
	return 0;
}

/* This network namespace's cookie, as bpf_get_netns_cookie() gives it. */
static int netns_cookie(__u64 *out)
{
	socklen_t len = sizeof(*out);
	int fd, e = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, out, &len) ||
	    len != sizeof(*out)) {
		e = -errno;
		pr_err("cannot read the network namespace cookie (SO_NETNS_COOKIE, Linux 5.14): %s",
		       strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return e ? e : 0;
}

static int write_pidfile(const char *path)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) || rename(tmp, path))
		return -errno;
	return 0;
}

/* The data path's route lookup after a rewrite (reroute in mig_dp.bpf.c)
 * is answered only with forwarding on lo: say so once at start, since
 * without it segments to a peer that moved keep the socket's old route. */
static void lo_forwarding_note(void)
{
	static const char *const knob[] = { "net/ipv4/conf/lo/forwarding",
					    "net/ipv6/conf/lo/forwarding" };
	char path[64], v[8];
	size_t i;

	for (i = 0; i < sizeof(knob) / sizeof(knob[0]); i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/sys/%s", knob[i]);
		f = fopen(path, "re");
		if (!f)
			continue;   /* (no IPv6: nothing to route) */
		if (fgets(v, sizeof(v), f) && v[0] == '0') {
			char name[64];
			size_t j;

			snprintf(name, sizeof(name), "%s", knob[i]);
			for (j = 0; name[j]; j++)
				if (name[j] == '/')
					name[j] = '.';
			pr_info("%s is 0: segments to a peer that moved keep the socket's "
				"route (counted in route_fwd_off); set it to 1 to route them to "
				"the peer's new address (no other interface forwards)", name);
		}
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "pool", required_argument, NULL, 'k' },
		{ "max-flows", required_argument, NULL, 'm' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "config", required_argument, NULL, 'C' },
		{ "iface", required_argument, NULL, 'i' },
		{ "xdp", no_argument, NULL, 'x' },
		{ "xdp-replace", no_argument, NULL, 'X' },
		{ "no-resume", no_argument, NULL, 'R' },
		{ "adopt", no_argument, NULL, 'A' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "detach", no_argument, NULL, 'D' },
		{ "check-config", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	static struct agent a = { .pin_dir = NULL, .pool_target = POOL_DEFAULT,
				  .max_flows = MIG_MAX_FLOWS, .ctl_fd = -1 };
	static struct mig_config cfg;
	static char pin_dir[PATH_MAX];
	const char *config_path = NULL, *pin_name;
	bool check = false, loading = false;
	struct mig_dns *dns = NULL;
	enum mig_log_level level = MIG_LOG_INFO;
	struct ring_buffer *rb = NULL;
	struct mig_sockops *skel = NULL;
	struct bpf_object *objs[2];
	struct bpf_map *map;
	struct sigaction sa;
	struct mig_meta meta;
	char err[1024], note[1024], path[PATH_MAX];
	static char default_pin[PATH_MAX], shared_pin[PATH_MAX];
	bool detach = false, fresh = false, ifaces_set = false, xf_pinned = false;
	uint32_t zero = 0;
	int c, ret = EXIT_FAILURE, e, epfd = -1;

	/* the DNS worker the agent starts: not an option for users */
	if (argc == 2 && !strcmp(argv[1], "--dns-worker")) {
		mig_log_init("migrate-agent", level);
		return dns_worker_exec();
	}
	mig_log_init("migrate-agent", level);
	mig_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "d:c:k:m:p:C:i:xl:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			a.pin_dir = optarg;
			a.cli.pin_dir = true;
			break;
		case 'c':
			if (snprintf(a.cgroup, sizeof(a.cgroup), "%s", optarg) >=
			    (int)sizeof(a.cgroup)) {
				pr_err("invalid --cgroup '%s': path too long", optarg);
				return 2;
			}
			a.cli.cgroup = true;
			break;
		case 'k':
			if (parse_uint("--pool", optarg, MIG_POOL_MAX, &a.pool_target))
				return 2;
			a.cli.pool = true;
			break;
		case 'm':
			if (parse_uint("--max-flows", optarg, MIG_FLOWS_LIMIT, &a.max_flows))
				return 2;
			if (a.max_flows < MIG_MIN_FLOWS) {
				pr_err("invalid --max-flows value '%s': expected a number %u..%u",
				       optarg, MIG_MIN_FLOWS, MIG_FLOWS_LIMIT);
				return 2;
			}
			a.cli.max_flows = true;
			break;
		case 'C':
			config_path = optarg;
			break;
		case 'i':
			if (a.n_ifaces >= MIG_CONF_MAX_IFACES ||
			    snprintf(a.ifaces[a.n_ifaces], sizeof(a.ifaces[0]), "%s", optarg) >=
			    (int)sizeof(a.ifaces[0])) {
				pr_err("invalid --iface '%s': name too long or too many interfaces",
				       optarg);
				return 2;
			}
			a.n_ifaces++;
			ifaces_set = true;
			a.cli.ifaces = true;
			break;
		case 'p':
			a.pidfile = optarg;
			break;
		case 'l':
			if (mig_log_parse_level(optarg, &level)) {
				pr_err("invalid --log-level '%s': expected warn, info or debug",
					optarg);
				return 2;
			}
			break;
		case 'v':
			level = MIG_LOG_DEBUG;
			break;
		case 'D':
			detach = true;
			break;
		case 'K':
			check = true;
			break;
		case 'x':
			a.xdp = true;
			a.cli.xdp = true;
			break;
		case 'X':
			a.xdp = a.xdp_replace = true;
			break;
		case 'R':
			a.no_resume = true;
			break;
		case 'A':
			a.adopt = true;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		case 'V':
			printf("migrate-agent %s (ABI %d)\n", MIG_VERSION, MIG_ABI_VERSION);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (a.adopt && !detach && (a.xdp || ifaces_set)) {
		pr_err("invalid option '%s' with --adopt: the agent attaches nothing then "
		       "(attach the programs where you want them)", a.xdp ? "--xdp" : "--iface");
		return 2;
	}
	/* The file first; what the command line says wins. */
	if (!config_path && access(MIG_CONFIG_DEFAULT, F_OK) == 0)
		config_path = MIG_CONFIG_DEFAULT;
	if (config_path && mig_config_load(config_path, &cfg, err, sizeof(err))) {
		if (!mig_config_err_line(config_path, err, path, sizeof(path)))
			pr_err("%s (the line: '%s')", err, path);
		else
			pr_err("%s", err);
		return check ? 2 : EXIT_FAILURE;
	}
	if (check) {
		if (config_path)
			printf("%s: valid\n", config_path);
		else
			printf("no configuration file ('%s' does not exist): the defaults apply\n",
			       MIG_CONFIG_DEFAULT);
		return EXIT_SUCCESS;
	}
	/* a reload replaces cfg: nothing may point into it */
	if (!a.pin_dir && *cfg.pin_dir)
		a.pin_dir = cfg.pin_dir;
	if (!a.pin_dir) {
		if (mig_env_default_pin_dir(default_pin, sizeof(default_pin))) {
			pr_err("cannot name a pin directory for this network namespace: pass --pin-dir");
			return 2;
		}
		a.pin_dir = default_pin;
	}
	snprintf(pin_dir, sizeof(pin_dir), "%s", a.pin_dir);
	a.pin_dir = pin_dir;
	a.config_path = config_path;
	a.cfg = &cfg;
	if (!*a.cgroup && *cfg.cgroup)
		snprintf(a.cgroup, sizeof(a.cgroup), "%s", cfg.cgroup);
	if (!a.cli.pool && cfg.pool >= 0)
		a.pool_target = (unsigned int)cfg.pool;
	if (!a.cli.max_flows && cfg.max_flows)
		a.max_flows = cfg.max_flows;
	if (!a.cli.xdp && cfg.xdp >= 0)
		a.xdp = cfg.xdp;
	if (a.adopt && cfg.n_ifaces)
		pr_warn("--adopt attaches nothing: the interfaces of '%s' are not used",
			config_path);
	if (!a.n_ifaces && !a.adopt) {
		for (c = 0; c < cfg.n_ifaces; c++)
			memcpy(a.ifaces[c], cfg.ifaces[c], sizeof(a.ifaces[c]));
		a.n_ifaces = cfg.n_ifaces;
	}
	if (!*a.pin_dir || a.pin_dir[0] != '/') {
		pr_err("invalid --pin-dir '%s': expected an absolute path", a.pin_dir);
		return 2;
	}
	mig_log_init("migrate-agent", level);
	mig_log_libbpf();

	if (mig_env_share_bpffs(a.pin_dir, shared_pin, sizeof(shared_pin), note, sizeof(note),
				err, sizeof(err))) {
		pr_err("%s", err);
		return EXIT_FAILURE;
	}
	pin_name = a.pin_dir;
	if (*note) {
		pr_info("%s", note);
		a.pin_dir = shared_pin;
	}
	if (detach)
	{
		/* filters on this network namespace's interfaces go first */
		dp_detach_all();
		return do_detach(a.pin_dir) ? EXIT_FAILURE : EXIT_SUCCESS;
	}

	/* What the kernel and the mounts must offer, each with one line. */
	if (mig_env_check_btf(err, sizeof(err)) ||
	    mig_env_cgroup(a.cgroup, sizeof(a.cgroup), note, sizeof(note), err, sizeof(err))) {
		pr_err("%s", err);
		return EXIT_FAILURE;
	}
	if (*note)
		pr_info("%s", note);
	a.ncpus = libbpf_num_possible_cpus();
	if (a.ncpus <= 0) {
		pr_err("cannot count the possible CPUs: %s", strerror(-a.ncpus));
		return EXIT_FAILURE;
	}
	/* (an earlier run's hooks go too: see out) */
	if (mig_env_check_kernel(a.xdp, err, sizeof(err))) {
		pr_err("%s", err);
		goto out;
	}

	/* a first start removes what it pinned if it fails half-way; a pin
	 * directory that held anything of ours, or one that other tools
	 * filled (--adopt), is never cleaned up here */
	fresh = !a.adopt && !pins_any(&a);
	xf_pinned = pin_exists(&a, MIG_MAP_XF);

	skel = mig_sockops__open();
	if (!skel) {
		pr_err("cannot open the BPF object: %s", strerror(errno));
		goto out;
	}
	bpf_object__for_each_map(map, skel->obj) {
		snprintf(path, sizeof(path), "%s/%s", a.pin_dir, bpf_map__name(map));
		if (bpf_map__set_pin_path(map, path))
			goto out;
	}
	if (dp_sizes(&a, skel->obj) || dp_open(&a))
		goto out;
	/* Nothing pinned is reused, and nothing changed, before this. */
	objs[0] = skel->obj;
	objs[1] = dp_object(&a);
	e = pins_check(&a, objs, 2);
	if (e) {
		if (e == -EPROTO)
			ret = MIG_EXIT_STATE;
		goto out;
	}
	if ((a.adopt && pins_adopt_check(&a)) || pins_stats_prepare(&a, objs, 2))
		goto out;
	e = mkdir_p(a.pin_dir);
	if (e) {
		pr_err("cannot create pin directory '%s': %s", a.pin_dir, strerror(-e));
		goto out;
	}
	/* The DNS worker parses replies from the network: it is forked
	 * before any key exists here, and drops its privileges. */
	if (dns_fork(&cfg.dns, &dns))
		goto out;
	dns_key_digest(cfg.dns.key_secret, a.dns_key_digest);
	explicit_bzero(cfg.dns.key_secret, sizeof(cfg.dns.key_secret));
	if (pool_init(&a.pool, a.pool_target)) {
		pr_err("out of memory for the key pool");
		goto out;
	}

	if (a.adopt) {
		struct { const char *name; int *fd; } m[] = {
			{ MIG_MAP_FLOWS, &a.flows_fd }, { MIG_MAP_TOKENS, &a.tokens_fd },
			{ MIG_MAP_POOL, &a.pool_fd }, { MIG_MAP_STATS, &a.stats_fd },
			{ MIG_MAP_META, &a.meta_fd }, { MIG_MAP_EVENTS, &a.events_fd },
		};
		struct bpf_map_info info;
		size_t i;

		for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
			*m[i].fd = pin_map_get(&a, m[i].name, &info);
			if (*m[i].fd < 0) {
				pr_err("--adopt: cannot open the pinned map '%s'", m[i].name);
				goto out;
			}
		}
	} else {
		e = mig_sockops__load(skel);
		if (e) {
			pr_err("cannot load the BPF programs: %s (run with -v for the verifier's and libbpf's log)",
			       strerror(-e));
			goto out;
		}
		a.flows_fd = bpf_map__fd(skel->maps.mig_flows);
		a.tokens_fd = bpf_map__fd(skel->maps.mig_tokens);
		a.pool_fd = bpf_map__fd(skel->maps.mig_pool);
		a.stats_fd = bpf_map__fd(skel->maps.mig_stats);
		a.meta_fd = bpf_map__fd(skel->maps.mig_meta);
		a.events_fd = bpf_map__fd(skel->maps.mig_events);
	}

	/* the agent before this one (dp_xf_init) */
	if (!bpf_map_lookup_elem(a.meta_fd, &zero, &meta))
		a.prev_started_ns = meta.started_ns;
	memset(&meta, 0, sizeof(meta));
	meta.abi_version = MIG_ABI_VERSION;
	meta.pool_target = a.pool_target;
	meta.agent_pid = (uint64_t)getpid();
	meta.started_ns = mono_ns();
	meta.max_flows = a.max_flows;
	if (netns_cookie(&meta.netns_cookie))
		goto out;
	if (bpf_map_update_elem(a.meta_fd, &zero, &meta, BPF_ANY)) {
		pr_err("cannot write %s: %s", MIG_MAP_META, strerror(errno));
		goto out;
	}

	pool_drain(&a);
	if (pool_refill(&a))
		goto out;
	rb = ring_buffer__new(a.events_fd, events_handle, &a, NULL);
	if (!rb) {
		pr_err("cannot open the event ring buffer: %s", strerror(errno));
		goto out;
	}
	/* (a new responder key before sock_ops answers anyone: the pinned
	 * one's private half died with the last run) */
	/* from here a failure leaves no hook of ours behind (below) */
	loading = !a.adopt;
	if ((a.adopt ? dp_adopt(&a) : dp_load(&a)) ||
	    dp_xf_init(&a, fresh || xf_pinned, meta.started_ns) || pool_rkey_rotate(&a, true) ||
	    (!a.adopt && attach(&a, skel)) || netwatch_open(&a))
		goto out;
	if (!a.adopt) {
		cc_load(&a);
		dp_keyed_load(&a, bpf_map__fd(skel->maps.mig_sk));
	} else {
		pr_info("--adopt: congestion state will not restart after a migration "
			"(that needs a congestion control of the agent's own)");
		pr_info("--adopt: a connection whose \"keyed\" event finds the ring buffer "
			"full stays plain at this end (the walk that finds it is not loaded)");
	}
	/* an interface named with --iface must be served; of "every
	 * interface", one that refuses (another XDP program) is skipped */
	if (dp_attach_all(&a) && a.n_ifaces)
		goto out;
	if (pins_stats_commit(&a))
		goto out;
	/* what an earlier run left (it may have been killed); then moves */
	if (mig_tupleset_init(&a.flows) || mover_init(&a)) {
		pr_err("cannot read random bytes for the index of flows");
		goto out;
	}
	if (flows_index_load(&a))
		goto out;
	recover(&a);
	reserve_init();
	reserve_resync(&a);
	a.recheck = true;
	a.swept_ns = mono_ns();
	a.swept_lost = stat_get(&a, MIG_STAT_EV_LOST);
	a.lost_seen = a.swept_lost;
	a.lost_ns = mono_ns();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;   /* no SA_RESTART: poll returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (a.pidfile && (e = write_pidfile(a.pidfile))) {
		pr_err("cannot write pidfile '%s': %s", a.pidfile, strerror(-e));
		goto out;
	}
	if (dns_start(dns, &cfg.dns, a.pin_dir, a.stats_fd, a.ncpus))
		goto out;
	a.dns = dns;
	dns = NULL;   /* a.dns owns it: a reload may replace it */
	lo_forwarding_note();
	pr_info("ready: pin directory '%s', %u keys in the pool%s", pin_name,
		a.pool_target, a.adopt ? " (adopted: nothing loaded)" : "");
	loading = false;   /* started: a later failure leaves the data path to the next run */
	/* programs attached, pool filled, events read from here on */
	if ((e = mig_notify("READY=1")) < 0)
		pr_warn("cannot tell the service manager we are ready: %s", strerror(-e));

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0) {
		pr_err("epoll: %s", strerror(errno));
		goto out;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN };

		ev.data.fd = ring_buffer__epoll_fd(rb);
		epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
		ev.data.fd = netwatch_fd(&a);
		epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
		ev.data.fd = dns_fd(a.dns);
		if (ev.data.fd >= 0)
			epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
		if (!ctlreq_open(&a)) {
			ev.data.fd = a.ctl_fd;
			epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
		}
	}
	while (!stop) {
		struct epoll_event evs[4];
		int n, i, wait_ms;

		/* an address or route event is acted on at once, after the
		 * read that brought it (what arrived together is one pass) */
		wait_ms = mover_commits_wait_ms(&a);
		if (a.recheck)
			wait_ms = 0;
		else if (wait_ms < 0 || wait_ms > 100)
			wait_ms = 100;
		n = epoll_wait(epfd, evs, 4, wait_ms);
		a.pass++;   /* socket records read before are stale now */
		if (n < 0 && errno != EINTR) {
			pr_err("epoll: %s", strerror(errno));
			goto out;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == netwatch_fd(&a)) {
				int w = netwatch_read(&a);

				if (w)
					a.recheck = true;
				if (w & NW_LINK)
					a.relink = true;
			}
			if (evs[i].data.fd == dns_fd(a.dns) && dns_read(a.dns))
				epoll_ctl(epfd, EPOLL_CTL_DEL, evs[i].data.fd, NULL);
			if (evs[i].data.fd == a.ctl_fd)
				ctlreq_handle(&a);
		}
		e = ring_buffer__consume(rb);
		mover_commits_done(&a);
		log_reports(&a);
		if (e < 0 && e != -EINTR) {
			pr_err("event ring buffer: %s", strerror(-e));
			goto out;
		}
		lost_events_check(&a);
		if (a.recheck) {
			a.recheck = false;
			if (a.relink) {
				a.relink = false;
				dp_attach_all(&a);
			}
			mover_reconcile(&a);
			dns_addresses_changed(a.dns);
		}
		if (reload) {
			struct mig_dns *old = a.dns;

			reload = 0;
			agent_reload(&a);
			if (a.dns != old && dns_fd(a.dns) >= 0) {
				/* a new DNS worker (the old one's socket left the
				 * set when it was closed) */
				struct epoll_event ev = { .events = EPOLLIN,
							  .data.fd = dns_fd(a.dns) };

				epoll_ctl(epfd, EPOLL_CTL_ADD, ev.data.fd, &ev);
			}
		}
		mover_tick(&a);
		if (a.moves_waiting && !a.recheck && mover_slot_free(&a))
			mover_reconcile(&a);
		closed_due(&a);
		xlate_forget_due(&a);
		pool_refill(&a);
		pool_expire(&a);
		pool_rkey_rotate(&a, false);
		/* a close event can only be missed when the ring buffer was
		 * full: walk the flows again only then (a walk of a million
		 * entries is not for every tick) */
		if (mono_ns() - a.swept_ns > FLOW_SWEEP_NS) {
			uint64_t lost = stat_get(&a, MIG_STAT_EV_LOST);

			if (lost != a.swept_lost)
				flows_sweep(&a);
			a.swept_lost = lost;
			a.swept_ns = mono_ns();
		}
		stat_flush(&a);
		dp_host_flush(&a);
	}
	/* commits still resting: restart and resume them now */
	mover_commits_flush(&a);
	/* Without the agent nobody can finish a key agreement: leave new
	 * connections plain until it is back. */
	mig_notify("STOPPING=1");
	pool_drain(&a);
	{
		struct mig_rkey none = {};

		bpf_map_update_elem(a.rkey_fd, &zero, &none, BPF_ANY);
	}
	pr_info("stopping; the data path stays attached (remove it with --detach)");
	ret = EXIT_SUCCESS;
out:
	if (a.stats_fd > 0)
		stat_flush(&a);
	if (epfd >= 0)
		close(epfd);
	ctlreq_close(&a);
	dns_stop(dns);
	dns_stop(a.dns);
	netwatch_close(&a);
	ring_buffer__free(rb);
	reserve_free();
	cc_unload(&a, ret == EXIT_SUCCESS);
	dp_unload(&a);
	mig_sockops__destroy(skel);
	if (ret == EXIT_FAILURE && loading) {
		/* No hook runs without an agent behind it, whether this run
		 * attached it or an earlier one did: a start that failed while
		 * loading or attaching removes them (a first start its pins
		 * too).  A refusal before (a usage error, pinned state of
		 * another build: status 2 or 3) changes nothing, and with
		 * --adopt the hooks are other tools' to remove. */
		e = dp_detach_all();
		pr_err("start failed: removed %d data path hook%s from this network namespace's "
		       "interfaces; none of ours is left attached", e, e == 1 ? "" : "s");
		if (fresh)
			do_detach(a.pin_dir);
	}
	pool_free(&a.pool);
	mig_tupleset_free(&a.flows);
	mover_free(&a);
	if (a.pidfile)
		unlink(a.pidfile);
	return ret;
}
