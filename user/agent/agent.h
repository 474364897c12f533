/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef MIGRATE_AGENT_H
#define MIGRATE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/mig_abi.h"

/* Private keys waiting in the BPF pool (QUEUED) or taken by a connection
 * that has not finished its key agreement yet (TAKEN). */
enum pool_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_TAKEN };

struct pool_slot {
	uint64_t id;
	uint64_t taken_ns;
	uint8_t  priv[32];
	uint8_t  pub[32];
	uint8_t  state;
};

struct key_pool {
	struct pool_slot *slots;   /* mlocked */
	size_t cap;
	struct pool_fifo { size_t slot; uint64_t id; } *fifo;  /* in push order */
	size_t fifo_cap, head, count;
	uint64_t next_id;
	uint64_t taken_seen;       /* value of the pool_taken counter */
	unsigned int target;
	bool full_warned;
};

struct mig_dns;

struct agent {
	const char *pin_dir;
	char ifaces[16][16];
	int n_ifaces;
	struct mig_dns *dns;
	const char *pidfile;
	char cgroup[4096];
	unsigned int pool_target;
	int flows_fd, tokens_fd, secrets_fd, pool_fd, stats_fd, meta_fd, events_fd;
	int ncpus;
	struct key_pool pool;
};

/* Taken keys whose connection never finished are erased after this. */
#define POOL_TAKEN_TTL_NS (180ULL * 1000000000ULL)
#define POOL_TAKEN_MAX    8192

uint64_t mono_ns(void);

/* counters kept by the agent, added to CPU 0's slot of mig_stats */
void stat_add(struct agent *a, enum mig_stat s, uint64_t n);
uint64_t stat_get(struct agent *a, enum mig_stat s);

int pool_init(struct key_pool *p, unsigned int target);
void pool_free(struct key_pool *p);
int pool_drain(struct agent *a);
int pool_refill(struct agent *a);
void pool_expire(struct agent *a);
struct pool_slot *pool_find(struct key_pool *p, uint64_t id);
void pool_release(struct pool_slot *s);

int events_handle(void *ctx, void *data, size_t len);

#endif
