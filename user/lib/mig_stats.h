/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* mig_stats.h - the agent's own counters in the per-CPU mig_stats map. */
#ifndef MIGRATE_MIG_STATS_H
#define MIGRATE_MIG_STATS_H

#include <stdint.h>

/* Add n to counter stat (CPU 0's slot).  Thread-safe within a process. */
void mig_stat_add(int stats_fd, int ncpus, unsigned int stat, uint64_t n);
/* Sum of a counter over all CPUs (0 on error). */
uint64_t mig_stat_get(int stats_fd, int ncpus, unsigned int stat);

#endif
