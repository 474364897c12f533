// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * main.c - migratectl: global options and subcommand dispatch.
 *
 *   migratectl [-j|-p] [-d DIR] [-v] [show [flows] | show stats [NAME] |
 *                                    stats [NAME|--prometheus] | show dns | dns |
 *                                    show maps | dump | migrate TOKEN|all |
 *                                    version | help]
 *
 * Bare "migratectl" means "migratectl show", as bare "wg" means "wg show".
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "ctl.h"
#include "mig_env.h"

struct ctl_opts ctl;

static const char *prog = "migratectl";

void ctl_json_begin(struct json *j)
{
	json_init(j, stdout, ctl.pretty);
}

void ctl_err(const char *fmt, ...)
{
	char msg[1024];
	struct json j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	fprintf(stderr, "%s: %s\n", prog, msg);
	if (ctl.json) {
		ctl_json_begin(&j);
		json_object_start(&j);
		json_string_field(&j, "error", msg);
		json_object_end(&j);
		json_finish(&j);
	}
}

int ctl_unexpected(const char *cmd, const char *arg)
{
	ctl_err("unexpected argument '%s' to '%s'%s (see '%s --help')", arg, cmd,
		arg[0] == '-' ? ": options go before the command" : "", prog);
	return CTL_EXIT_USAGE;
}

void ctl_debug(const char *fmt, ...)
{
	va_list ap;

	if (!ctl.verbose)
		return;
	fprintf(stderr, "%s: debug: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* libbpf's own messages appear only with -v, one level below ours. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (!ctl.verbose)
		return 0;
	fprintf(stderr, "%s: libbpf: ", prog);
	return vfprintf(stderr, fmt, ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] [COMMAND [ARGS]]\n"
		"\n"
		"Show the state of migrate-agent, read from its pinned BPF maps\n"
		"(read-only; works while the agent is stopped); 'migrate' asks the\n"
		"running agent to act.\n"
		"\n"
		"Commands:\n"
		"  show [flows]        keyed flows (the default command)\n"
		"  show stats [NAME]   counters, or the value of one counter\n"
		"  stats [NAME]        same as 'show stats'\n"
		"  show dns            names kept current in DNS: addresses, result\n"
		"  dns                 same as 'show dns'\n"
		"  show maps           how full the connection-state maps are\n"
		"  dump                keyed flows, tab-separated, no header\n"
		"  stats --prometheus  everything in Prometheus text format\n"
		"  migrate TOKEN|all   ask the agent to move a flow (or all) whose\n"
		"                      best source address changed\n"
		"  version             the version and ABI version (as -V)\n"
		"  help                this text\n"
		"\n"
		"Options:\n"
		"  -j, --json          JSON output\n"
		"  -p, --pretty        indented JSON output (implies -j)\n"
		"  -d, --pin-dir DIR   the agent's pin directory\n"
		"                      (default: $MIGRATE_PIN_DIR, else %s,\n"
		"                      or %s-NAME in a network namespace named NAME)\n"
		"  -v, --verbose       debug messages, libbpf's included\n"
		"  -h, --help          this text\n"
		"  -V, --version       print the version\n",
		prog, MIG_PIN_DIR_DEFAULT, MIG_PIN_DIR_DEFAULT);
}

static int version(void)
{
	struct json j;

	if (!ctl.json) {
		printf("%s %s (ABI version %d)\n", prog, MIGRATECTL_VERSION,
		       MIG_ABI_VERSION);
		return EXIT_SUCCESS;
	}
	ctl_json_begin(&j);
	json_object_start(&j);
	json_string_field(&j, "version", MIGRATECTL_VERSION);
	json_uint_field(&j, "abi_version", MIG_ABI_VERSION);
	json_object_end(&j);
	json_finish(&j);
	return EXIT_SUCCESS;
}

/* The option getopt just rejected, as the user spelled it.  A rejected
 * long option always moves optind past itself; a short one may sit inside
 * a cluster (-xj) and is known only by optopt. */
static const char *bad_option(char **argv, int prev_optind, char buf[3])
{
	if (optind > prev_optind && !strncmp(argv[optind - 1], "--", 2))
		return argv[optind - 1];
	buf[0] = '-';
	buf[1] = (char)optopt;
	buf[2] = '\0';
	return buf;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "show",  cmd_show },
	{ "stats", cmd_stats },
	{ "dump",  cmd_dump },
	{ "dns",   cmd_dns },
	{ "migrate", cmd_migrate },
};

static int run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json",    no_argument,       NULL, 'j' },
		{ "pretty",  no_argument,       NULL, 'p' },
		{ "pin-dir", required_argument, NULL, 'd' },
		{ "verbose", no_argument,       NULL, 'v' },
		{ "help",    no_argument,       NULL, 'h' },
		{ "version", no_argument,       NULL, 'V' },
		{ 0 }
	};
	char show[] = "show", *show_argv[] = { show, NULL };
	bool help = false, want_version = false;
	static char default_pin[4096], shared_pin[4096];
	static char err[1024];
	char optbuf[3], note[1024];
	const char *env;
	size_t i;
	int opt, prev_optind;

	env = getenv("MIGRATE_PIN_DIR");
	ctl.pin_dir = env && *env ? env : NULL;

	/* "+": stop at the subcommand; ':': report missing arguments
	 * ourselves, in our format. */
	opterr = 0;
	for (;;) {
		prev_optind = optind;
		opt = getopt_long(argc, argv, "+:jpd:vhV", longopts, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case 'j':
			ctl.json = true;
			break;
		case 'p':
			ctl.json = true;
			ctl.pretty = true;
			break;
		case 'd':
			ctl.pin_dir = optarg;
			break;
		case 'v':
			ctl.verbose = true;
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			want_version = true;
			break;
		case ':':
			ctl_err("option '%s' needs an argument (see '%s --help')",
				bad_option(argv, prev_optind, optbuf), prog);
			return CTL_EXIT_USAGE;
		default:
			ctl_err("invalid option '%s' (see '%s --help')",
				bad_option(argv, prev_optind, optbuf), prog);
			return CTL_EXIT_USAGE;
		}
	}

	libbpf_set_print(libbpf_print);

	if (help) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (want_version)
		return version();
	if (!ctl.pin_dir) {
		/* the agent's default, for this network namespace */
		if (mig_env_default_pin_dir(default_pin, sizeof(default_pin))) {
			ctl_err("cannot name a pin directory for this network namespace: pass --pin-dir");
			return CTL_EXIT_USAGE;
		}
		ctl.pin_dir = default_pin;
	}
	if (!*ctl.pin_dir) {
		ctl_err("invalid pin directory '' (see '%s --help')", prog);
		return CTL_EXIT_USAGE;
	}
	ctl_debug("pin directory '%s'", ctl.pin_dir);
	ctl.pin_name = ctl.pin_dir;
	/* where the agent pinned, as it did: under `ip netns exec` the
	 * shared BPF filesystem is bound in first */
	if (mig_env_share_bpffs(ctl.pin_dir, shared_pin, sizeof(shared_pin), note, sizeof(note),
				err, sizeof(err))) {
		ctl.env_err = err;
	} else if (*note) {
		ctl_debug("%s", note);
		ctl.pin_dir = shared_pin;
	}

	argc -= optind;
	argv += optind;
	if (argc == 0)
		return cmd_show(1, show_argv);
	if (!strcmp(argv[0], "help")) {
		if (argc > 1)
			return ctl_unexpected(argv[0], argv[1]);
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (!strcmp(argv[0], "version")) {
		if (argc > 1)
			return ctl_unexpected(argv[0], argv[1]);
		return version();
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[0], commands[i].name))
			return commands[i].fn(argc, argv);

	ctl_err("unknown command '%s' (see '%s --help')", argv[0], prog);
	return CTL_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	int ret = run(argc, argv);

	/* Output that did not reach its reader is a failure (a full disk,
	 * a closed pipe with SIGPIPE ignored); stdout is no place to say so. */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write output: %s\n", prog,
			strerror(errno ? errno : EIO));
		return EXIT_FAILURE;
	}
	return ret;
}
