/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_tupleset.h - a set of socket tuples in memory: the agent's index of
 * the keys of mig_flows (it is the only writer of that map), so that a
 * pass over the keyed flows costs the flows, not the map's buckets.
 *
 * A walk of a BPF hash map with bpf_map_get_next_key visits every bucket:
 * about 2 ms for the default 1,048,576 whatever the number of flows, paid
 * on every address or route event before anything moved.
 *
 * Dense array of the tuples (walked from the end: the element being
 * visited may be removed) and an open-addressing index of positions,
 * hashed with SipHash under a random key (tuples come from the network).
 */
#ifndef MIGRATE_MIG_TUPLESET_H
#define MIGRATE_MIG_TUPLESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/mig_abi.h"

struct mig_tupleset {
	struct mig_tuple *v;   /* the members, v[0..n-1] */
	uint32_t *val;         /* a value for each (mig_tupleset_put) */
	size_t n, cap;
	uint32_t *slot;        /* position + 1 in v, 0: empty; mask + 1 slots */
	size_t mask;
	uint8_t key[16];
};

/* 0, or -EIO when no random key could be had. */
int mig_tupleset_init(struct mig_tupleset *s);
void mig_tupleset_free(struct mig_tupleset *s);
void mig_tupleset_clear(struct mig_tupleset *s);
/* 0: added or already there; -ENOMEM. */
int mig_tupleset_add(struct mig_tupleset *s, const struct mig_tuple *t);
/* As add, and t's value is val from now on. */
int mig_tupleset_put(struct mig_tupleset *s, const struct mig_tuple *t, uint32_t val);
/* true when t is a member (its value into *val). */
bool mig_tupleset_get(const struct mig_tupleset *s, const struct mig_tuple *t, uint32_t *val);
/* true when t was a member. */
bool mig_tupleset_del(struct mig_tupleset *s, const struct mig_tuple *t);
bool mig_tupleset_has(const struct mig_tupleset *s, const struct mig_tuple *t);

/* Every member, from the last: removing the one visited is safe, adding
 * during the walk is not. */
#define mig_tupleset_each(s, i) for (size_t i = (s)->n; i-- > 0;)

#endif
