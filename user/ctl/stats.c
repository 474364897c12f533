// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * stats.c - "migratectl show stats [NAME]" (alias "migratectl stats"):
 * the counters of the per-CPU array mig_stats, summed over all CPUs;
 * "migratectl stats --prometheus" is in prom.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "ctl.h"

/* Names are part of the JSON schema; they come from the one list in
 * mig_abi.h. */
#define STAT_NAME(n, s) [MIG_STAT_##n] = s,
const char *const ctl_stat_names[MIG_STAT__MAX] = { MIG_STATS(STAT_NAME) };
#undef STAT_NAME

static int stat_index(const char *name)
{
	int i;

	for (i = 0; i < MIG_STAT__MAX; i++)
		if (!strcmp(ctl_stat_names[i], name))
			return i;
	return -1;
}

int ctl_stats_read(__u64 sums[MIG_STAT__MAX])
{
	struct bpf_map_info info;
	__u64 *percpu = NULL;
	int fd, ncpus, cpu, err;
	__u32 key;

	fd = ctl_map_open(MIG_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
			  sizeof(__u64), &info);
	if (fd < 0)
		return fd;
	if (info.max_entries < MIG_STAT__MAX) {
		ctl_err("'%s/%s' has %u counters, expected %d: agent and migratectl differ",
			ctl.pin_name, MIG_MAP_STATS, info.max_entries, MIG_STAT__MAX);
		err = -EPROTO;
		goto out;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus < 0) {
		err = ncpus;
		ctl_err("cannot count possible CPUs: %s", strerror(-err));
		goto out;
	}
	/* Per-CPU values come back as one 8-byte-aligned slot per possible
	 * CPU; a __u64 fills its slot exactly. */
	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu) {
		err = -ENOMEM;
		ctl_err("out of memory");
		goto out;
	}
	for (key = 0; key < MIG_STAT__MAX; key++) {
		err = bpf_map_lookup_elem(fd, &key, percpu);
		if (err) {
			ctl_err("cannot read counter '%s' from '%s/%s': %s",
				ctl_stat_names[key], ctl.pin_name, MIG_MAP_STATS,
				strerror(-err));
			goto out;
		}
		sums[key] = 0;
		for (cpu = 0; cpu < ncpus; cpu++)
			sums[key] += percpu[cpu];
	}
	err = 0;
out:
	free(percpu);
	close(fd);
	return err;
}

static void stats_human(const __u64 sums[MIG_STAT__MAX])
{
	int i, nw = 0, vw = 0, len;
	char v[24];

	for (i = 0; i < MIG_STAT__MAX; i++) {
		len = (int)strlen(ctl_stat_names[i]);
		if (len > nw)
			nw = len;
		len = snprintf(v, sizeof(v), "%llu", (unsigned long long)sums[i]);
		if (len > vw)
			vw = len;
	}
	for (i = 0; i < MIG_STAT__MAX; i++)
		printf("%-*s  %*llu\n", nw, ctl_stat_names[i], vw,
		       (unsigned long long)sums[i]);
}

/* {"stats":{...}}: every counter, or just the one at index only (>= 0). */
static void stats_json(const __u64 sums[MIG_STAT__MAX], int only)
{
	struct json j;
	int i;

	ctl_json_begin(&j);
	json_object_start(&j);
	json_name(&j, "stats");
	json_object_start(&j);
	for (i = 0; i < MIG_STAT__MAX; i++)
		if (only < 0 || i == only)
			json_uint_field(&j, ctl_stat_names[i], sums[i]);
	json_object_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

int cmd_stats(int argc, char **argv)
{
	__u64 sums[MIG_STAT__MAX];
	int only = -1;

	if (argc > 1 && !strcmp(argv[1], "--prometheus")) {
		if (argc > 2)
			return ctl_unexpected(argv[0], argv[2]);
		return ctl_prometheus();
	}
	if (argc > 1) {
		if (argv[1][0] == '-')
			return ctl_unexpected(argv[0], argv[1]);
		only = stat_index(argv[1]);
		if (only < 0) {
			ctl_err("unknown counter '%s' (see 'migratectl show stats')",
				argv[1]);
			return CTL_EXIT_USAGE;
		}
		if (argc > 2)
			return ctl_unexpected(argv[0], argv[2]);
	}
	if (ctl_check_agent() || ctl_stats_read(sums))
		return EXIT_FAILURE;
	if (ctl.json)
		stats_json(sums, only);
	else if (only >= 0)
		printf("%llu\n", (unsigned long long)sums[only]);
	else
		stats_human(sums);
	return EXIT_SUCCESS;
}
