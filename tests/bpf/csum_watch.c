// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * csum_watch - loader for csum_watch.bpf.o (tests/integration/
 * test_csum_complete.sh only).
 *
 *   csum_watch run OBJ PIN NETNS...   load, watch the namespaces (files
 *                                     such as /run/netns/NAME, at most 4,
 *                                     slots 0..3 in this order), pin the
 *                                     counters at PIN, print "ready" and
 *                                     run until SIGTERM or SIGINT (the
 *                                     pin is then removed)
 *   csum_watch get PIN SLOT NAME      print one counter: rx4 rx6 ok4 ok6
 *                                     bad4 bad6 late4 late6 (see
 *                                     csum_watch.bpf.c)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define SLOTS 4
static const char *const names[] = { "rx4", "rx6", "ok4", "ok6", "bad4", "bad6", "late4", "late6" };
#define NCOUNT (sizeof(names) / sizeof(names[0]))

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
	(void)sig;
	stop = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: csum_watch run OBJ PIN NETNS...\n"
			"       csum_watch get PIN SLOT NAME\n");
	return 2;
}

static int get(const char *pin, const char *slot, const char *name)
{
	char *end;
	unsigned long s = strtoul(slot, &end, 10);
	__u32 k, i;
	__u64 v;
	int fd;

	if (*end || end == slot || s >= SLOTS)
		return usage();
	for (i = 0; i < NCOUNT; i++)
		if (!strcmp(names[i], name))
			break;
	if (i == NCOUNT)
		return usage();
	fd = bpf_obj_get(pin);
	if (fd < 0) {
		fprintf(stderr, "csum_watch: %s: %s\n", pin, strerror(errno));
		return 1;
	}
	k = s * NCOUNT + i;
	if (bpf_map_lookup_elem(fd, &k, &v)) {
		fprintf(stderr, "csum_watch: lookup: %s\n", strerror(errno));
		return 1;
	}
	printf("%llu\n", (unsigned long long)v);
	return 0;
}

static int run(const char *obj_path, const char *pin, int nns, char **ns)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_map *nsmap, *counts;
	struct sigaction sa = { .sa_handler = on_sig };
	struct stat st;
	__u32 i, inum;
	int err;

	if (nns < 1 || nns > SLOTS)
		return usage();
	obj = bpf_object__open_file(obj_path, NULL);
	if (!obj) {
		fprintf(stderr, "csum_watch: open %s: %s\n", obj_path, strerror(errno));
		return 1;
	}
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "csum_watch: load: %s\n", strerror(-err));
		return 1;
	}
	nsmap = bpf_object__find_map_by_name(obj, "watch_ns");
	counts = bpf_object__find_map_by_name(obj, "watch_counts");
	if (!nsmap || !counts) {
		fprintf(stderr, "csum_watch: maps missing\n");
		return 1;
	}
	for (i = 0; i < (__u32)nns; i++) {
		if (stat(ns[i], &st)) {
			fprintf(stderr, "csum_watch: %s: %s\n", ns[i], strerror(errno));
			return 1;
		}
		inum = (__u32)st.st_ino;
		if (bpf_map_update_elem(bpf_map__fd(nsmap), &i, &inum, BPF_ANY)) {
			fprintf(stderr, "csum_watch: watch_ns: %s\n", strerror(errno));
			return 1;
		}
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "csum_watch: attach %s: %s\n",
				bpf_program__name(prog), strerror(errno));
			return 1;
		}
	}
	if (bpf_obj_pin(bpf_map__fd(counts), pin)) {
		fprintf(stderr, "csum_watch: pin %s: %s\n", pin, strerror(errno));
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		pause();
	unlink(pin);
	bpf_object__close(obj);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "run"))
		return run(argv[2], argv[3], argc - 4, argv + 4);
	if (argc == 5 && !strcmp(argv[1], "get"))
		return get(argv[2], argv[3], argv[4]);
	return usage();
}
