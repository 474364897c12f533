// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The key pool.  The agent makes X25519 key pairs and pushes the public
 * halves (with an id) into the BPF queue mig_pool; sock_ops pops one per
 * migratable connection and counts the pop in pool_taken.  The queue is
 * FIFO, so the counter tells exactly which pushed keys were taken.  Private
 * halves stay here, in locked memory, until the key agreement used them or
 * the TTL passed; then they are erased.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "mig_crypto.h"
#include "mig_log.h"

int pool_init(struct key_pool *p, unsigned int target)
{
	memset(p, 0, sizeof(*p));
	p->target = target;
	p->cap = MIG_POOL_MAX + POOL_TAKEN_MAX;
	p->fifo_cap = MIG_POOL_MAX;
	p->slots = calloc(p->cap, sizeof(*p->slots));
	p->fifo = calloc(p->fifo_cap, sizeof(*p->fifo));
	p->rk = calloc(POOL_RKEYS, sizeof(*p->rk));
	if (!p->slots || !p->fifo || !p->rk) {
		pool_free(p);
		return -ENOMEM;
	}
	if (mlock(p->slots, p->cap * sizeof(*p->slots)) ||
	    mlock(p->rk, POOL_RKEYS * sizeof(*p->rk)))
		pr_warn("cannot lock key memory (%s): private keys may reach swap",
			strerror(errno));
	/* ids need only be unique per agent run; random start so that a
	 * key left in a pool by an earlier run never matches */
	if (getrandom(&p->next_id, sizeof(p->next_id), 0) != sizeof(p->next_id))
		p->next_id = mono_ns();
	return 0;
}

/* A key has done its job: erase it.  Responder keys serve every
 * handshake of their epoch and are erased by the rotation instead. */
void pool_release(struct key_pool *p, struct pool_slot *s)
{
	if (p->rk && s >= p->rk && s < p->rk + POOL_RKEYS)
		return;
	mig_wipe(s, sizeof(*s));
}

void pool_free(struct key_pool *p)
{
	if (p->slots) {
		mig_wipe(p->slots, p->cap * sizeof(*p->slots));
		munlock(p->slots, p->cap * sizeof(*p->slots));
	}
	if (p->rk) {
		mig_wipe(p->rk, POOL_RKEYS * sizeof(*p->rk));
		munlock(p->rk, POOL_RKEYS * sizeof(*p->rk));
	}
	free(p->slots);
	free(p->fifo);
	free(p->rk);
	p->slots = NULL;
	p->fifo = NULL;
	p->rk = NULL;
}

struct pool_slot *pool_find(struct key_pool *p, uint64_t id)
{
	size_t i;

	for (i = 0; i < p->cap; i++)
		if (p->slots[i].state != SLOT_FREE && p->slots[i].id == id)
			return &p->slots[i];
	for (i = 0; p->rk && i < POOL_RKEYS; i++)
		if (p->rk[i].id && p->rk[i].id == id)
			return &p->rk[i];
	return NULL;
}

/*
 * Rule 7: the responder key.  A new one every MIG_RKEY_EPOCH_S seconds (at
 * once when forced: at start, the pinned one's private half died with the
 * previous run); the slot reused is the one of two epochs ago, whose
 * private half is erased.  A pool target of 0 publishes none: connections
 * this host answers stay plain, as with an empty pool.
 */
int pool_rkey_rotate(struct agent *a, bool force)
{
	struct key_pool *p = &a->pool;
	struct mig_rkey rk = {};
	struct pool_slot *s;
	uint64_t now = mono_ns();
	uint32_t zero = 0;
	int err;

	if (!force && p->rk_since_ns &&
	    now - p->rk_since_ns < MIG_RKEY_EPOCH_S * 1000000000ULL)
		return 0;
	if (p->target) {
		p->rk_cur = (p->rk_cur + 1) % POOL_RKEYS;
		s = &p->rk[p->rk_cur];
		mig_wipe(s, sizeof(*s));
		err = mig_x25519_keypair(s->priv, s->pub);
		if (err) {
			pr_warn("cannot make a responder key: %s", strerror(-err));
			return err;
		}
		s->id = p->next_id++;
		s->taken_ns = now;
		rk.id = s->id;
		memcpy(rk.pub, s->pub, sizeof(rk.pub));
	}
	if (bpf_map_update_elem(a->rkey_fd, &zero, &rk, BPF_ANY)) {
		pr_warn("cannot write %s: %s", MIG_MAP_RKEY, strerror(errno));
		return -errno;
	}
	p->rk_since_ns = now;
	return 0;
}

/* Public keys left in the queue by an earlier run have no private half
 * any more: take them out. */
int pool_drain(struct agent *a)
{
	struct mig_pool_key k;
	int n = 0;

	while (!bpf_map_lookup_and_delete_elem(a->pool_fd, NULL, &k))
		n++;
	if (n) {
		pr_info("dropped %d public keys left in the pool by an earlier run", n);
		stat_add(a, MIG_STAT_POOL_DRAINED, (uint64_t)n);
	}
	a->pool.popped = 0;
	a->pool.taken_seen = stat_get(a, MIG_STAT_POOL_TAKEN);
	return n;
}

/* Mark the keys sock_ops took since the last call. */
static void pool_sync(struct agent *a)
{
	struct key_pool *p = &a->pool;
	/* every pop, sock_ops' and our own (pool_set_target), in FIFO order */
	uint64_t taken = stat_get(a, MIG_STAT_POOL_TAKEN) + p->popped;
	uint64_t now = mono_ns();

	while (p->taken_seen < taken && p->count) {
		struct pool_fifo *f = &p->fifo[p->head];
		struct pool_slot *s = &p->slots[f->slot];

		/* the key agreement may already have used (and erased) it */
		if (s->state == SLOT_QUEUED && s->id == f->id) {
			s->state = SLOT_TAKEN;
			s->taken_ns = now;
		}
		p->head = (p->head + 1) % p->fifo_cap;
		p->count--;
		p->taken_seen++;
	}
	/* pops of keys we never pushed (earlier run) */
	if (p->taken_seen < taken)
		p->taken_seen = taken;
}

static struct pool_slot *slot_alloc(struct key_pool *p)
{
	size_t i;

	for (i = 0; i < p->cap; i++)
		if (p->slots[i].state == SLOT_FREE)
			return &p->slots[i];
	return NULL;
}

int pool_refill(struct agent *a)
{
	struct key_pool *p = &a->pool;
	struct mig_pool_key k;
	struct pool_slot *s;
	int err;

	pool_sync(a);
	while (p->count < p->target && p->count < p->fifo_cap) {
		s = slot_alloc(p);
		if (!s) {
			if (!p->full_warned)
				pr_warn("key pool: %zu keys taken and not yet used; not refilling until some finish",
					p->cap - p->count);
			p->full_warned = true;
			return -ENOSPC;
		}
		p->full_warned = false;
		err = mig_x25519_keypair(s->priv, s->pub);
		if (err) {
			pool_release(p, s);
			pr_warn("key pool: key generation failed: %s", strerror(-err));
			return err;
		}
		s->id = p->next_id++;
		s->state = SLOT_QUEUED;
		memset(&k, 0, sizeof(k));
		k.id = s->id;
		memcpy(k.pub, s->pub, sizeof(k.pub));
		if (bpf_map_update_elem(a->pool_fd, NULL, &k, BPF_ANY)) {
			err = -errno;
			pool_release(p, s);
			pr_warn("key pool: push failed: %s", strerror(-err));
			return err;
		}
		stat_add(a, MIG_STAT_POOL_PUSHED, 1);
		p->fifo[(p->head + p->count) % p->fifo_cap] =
			(struct pool_fifo){ (size_t)(s - p->slots), s->id };
		p->count++;
	}
	return 0;
}

void pool_expire(struct agent *a)
{
	struct key_pool *p = &a->pool;
	uint64_t now = mono_ns();
	size_t i;

	for (i = 0; i < p->cap; i++) {
		struct pool_slot *s = &p->slots[i];

		if (s->state == SLOT_TAKEN && now - s->taken_ns > POOL_TAKEN_TTL_NS) {
			pool_release(p, s);
			stat_add(a, MIG_STAT_KEYS_EXPIRED, 1);
		}
	}
}

/*
 * A new target (configuration reload).  A larger one is filled by the
 * next pool_refill.  A smaller one takes the surplus out of the queue
 * ourselves: a pop returns the oldest key, the same one sock_ops would
 * have taken next, so counting our pops with sock_ops' keeps the FIFO
 * bookkeeping exact; the popped key's private half is erased at once.
 * From or to 0, the responder key follows (none is published at 0).
 */
int pool_set_target(struct agent *a, unsigned int target)
{
	struct key_pool *p = &a->pool;
	unsigned int old = p->target;
	struct mig_pool_key k;
	struct pool_slot *s;
	int n = 0;

	p->target = target;
	pool_sync(a);
	while (p->count > target) {
		if (bpf_map_lookup_and_delete_elem(a->pool_fd, NULL, &k))
			break;   /* sock_ops emptied it meanwhile */
		p->popped++;
		stat_add(a, MIG_STAT_POOL_DRAINED, 1);   /* (a smaller pool: the level counts it) */
		s = pool_find(p, k.id);
		if (s && s->state == SLOT_QUEUED)
			pool_release(p, s);
		mig_wipe(&k, sizeof(k));
		n++;
		pool_sync(a);
	}
	if (n)
		pr_debug("key pool: took %d surplus keys out of the queue", n);
	if (!old != !target)
		return pool_rkey_rotate(a, true);
	return 0;
}
