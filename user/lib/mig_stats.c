// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <pthread.h>
#include <stdlib.h>
#include <bpf/bpf.h>

#include "mig_stats.h"

/* The agent's threads share CPU 0's slot: serialise the read-add-write. */
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

void mig_stat_add(int stats_fd, int ncpus, unsigned int stat, uint64_t n)
{
	uint64_t *vals;
	uint32_t key = stat;

	if (ncpus <= 0 || !(vals = calloc((size_t)ncpus, sizeof(*vals))))
		return;
	pthread_mutex_lock(&stats_lock);
	if (!bpf_map_lookup_elem(stats_fd, &key, vals)) {
		vals[0] += n;
		bpf_map_update_elem(stats_fd, &key, vals, BPF_ANY);
	}
	pthread_mutex_unlock(&stats_lock);
	free(vals);
}

uint64_t mig_stat_get(int stats_fd, int ncpus, unsigned int stat)
{
	uint64_t *vals, sum = 0;
	uint32_t key = stat;
	int i;

	if (ncpus <= 0 || !(vals = calloc((size_t)ncpus, sizeof(*vals))))
		return 0;
	if (!bpf_map_lookup_elem(stats_fd, &key, vals))
		for (i = 0; i < ncpus; i++)
			sum += vals[i];
	free(vals);
	return sum;
}
