/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_maps.h - the maps of the data path.  Every map is pinned by the agent
 * under its pin directory (see MIG_MAP_* in mig_abi.h) and carries BTF, so
 * `bpftool map dump pinned DIR/NAME` prints fields by name.
 */
#ifndef MIGRATE_BPF_MAPS_H
#define MIGRATE_BPF_MAPS_H

#include "migrate/mig_abi.h"
#include "lib/mig_sk.h"   /* mig_tuple_eq */
#include "lib/mig_cc_arm.h"   /* mig_cc_arm: in every object, so that
				 * tools load each one on the pinned maps */

/*
 * Sizes: the agent sets max_entries from --max-flows before loading
 * (MIG_MAX_FLOWS is the default).  The state of live connections is in
 * plain hashes without preallocation: never evicted, filled only by the
 * agent (keyed flows) and by the data path on behalf of keyed flows, each
 * bounded per flow.  A full map is counted and leaves new connections
 * plain; it never drops old ones.
 */

/* Keyed flows (struct mig_flow says which fields the agent writes, once,
 * and which the data path owns).  Removed by sock_ops on close and by the
 * agent on the "closed" event. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_flow);
} mig_flows SEC(".maps");

/* Token -> socket tuple, for validating Migrate SYNs.  Same writers and
 * life as mig_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_token_key);
	__type(value, struct mig_tuple);
} mig_tokens SEC(".maps");

/* Public keys made by the agent; sock_ops pops one per offer/answer.
 * Empty pool: connections stay plain (counted). */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MIG_POOL_MAX);
	__type(value, struct mig_pool_key);
} mig_pool SEC(".maps");

/* Responder state between the SYN/ACK and the full socket (there is no
 * socket storage on a request sock).  Keyed by the listener-side tuple;
 * moved into mig_sk at passive establishment; LRU drops abandoned ones. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MIG_MAX_REQS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_req);
} mig_reqs SEC(".maps");

/* Negotiation progress per socket; freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mig_sk);
} mig_sk SEC(".maps");

/* Events to the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MIG_EVENTS_BYTES);
} mig_events SEC(".maps");

/* Counters, one slot per enum mig_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MIG_STAT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} mig_stats SEC(".maps");

/* Translations and retired tuples by wire tuple (our side's view): see
 * struct mig_in.  At most two per flow. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_in);
} mig_ingress SEC(".maps");

#ifndef EEXIST
#define EEXIST 17
#endif

/* The translation filter: counts of mig_ingress and mig_egress entries by
 * mig_xf_slot (struct mig_gate's neighbour in mig_abi.h says who keeps
 * them).  Mmapable: the agent's deletes take their count off with an
 * atomic add, as the data path's do. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, MIG_XF_SLOTS + 1);
	__type(key, __u32);
	__type(value, __u64);
} mig_xf SEC(".maps");

/* Translation of our own segments by socket tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_out);
} mig_egress SEC(".maps");

/* Candidates by wire tuple (fixed end), apart from the translations: at
 * most MIG_NCAND per flow, each expiring (see struct mig_cand). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 2 * MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_cand_ref);
} mig_cand SEC(".maps");

/* Our own outstanding Migrate SYNs by wire tuple (agent only). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_pend);
} mig_pend SEC(".maps");

/* Flows whose local address went away, by socket tuple (agent only). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_hold);
} mig_hold SEC(".maps");

/* Old addresses kept on lo (agent only; see mig_abi.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MIG_KEPT_MAX);
	__type(key, struct mig_addr);
	__type(value, __u64);    /* since, CLOCK_MONOTONIC */
} mig_kept SEC(".maps");

/* The responder key of the current epoch (agent only; struct mig_rkey). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mig_rkey);
} mig_rkey SEC(".maps");

/* The candidate gate (data path only; struct mig_gate). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mig_gate);
} mig_gate SEC(".maps");

/* Boot secret and the hold gate (agent only). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mig_host);
} mig_host SEC(".maps");

/* Token bucket for RSTs (per CPU, no locks on the packet path). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mig_bucket);
} mig_rate SEC(".maps");

/* Agent metadata (ABI version), read by migratectl. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mig_meta);
} mig_meta SEC(".maps");

/*
 * MIG_BUILD_MARK(): nothing, unless the build defines MIG_BPF_MARK (make
 * BPF_EXTRA=-DMIG_BPF_MARK=N).  Then one instruction that puts N in a
 * scratch register at a program's entry: the programs differ (another
 * tag) and behave the same.  Upgrade tests load such a build over the
 * usual one.
 */
#ifdef MIG_BPF_MARK
#define MIG_BUILD_MARK() asm volatile("r0 = %[m]" :: [m] "i"(MIG_BPF_MARK) : "r0")
#else
#define MIG_BUILD_MARK() do { } while (0)
#endif

static __always_inline void mig_count(__u32 stat)
{
	__u64 *v = bpf_map_lookup_elem(&mig_stats, &stat);

	if (v)
		*v += 1;
}

/* A zeroed event of the given type on the ring buffer, or NULL (counted). */
static __always_inline struct mig_event *mig_event_reserve(__u32 type)
{
	struct mig_event *ev = bpf_ringbuf_reserve(&mig_events, sizeof(*ev), 0);

	if (!ev) {
		mig_count(MIG_STAT_EV_LOST);
		return NULL;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = type;
	return ev;
}

/* mig_cand entries come and go only through these, which keep
 * mig_gate's count exact. */
static __always_inline void mig_gate_add(__s64 d)
{
	__u32 zero = 0;
	struct mig_gate *g = bpf_map_lookup_elem(&mig_gate, &zero);

	if (g)
		__sync_fetch_and_add(&g->cands, d);
}

static __always_inline long mig_cand_del(const struct mig_tuple *w)
{
	long r = bpf_map_delete_elem(&mig_cand, w);

	if (!r)
		mig_gate_add(-1);
	return r;
}

/* May tuple k have an entry in mig_ingress or mig_egress?  False only
 * when its slot of mig_xf counts none: an array lookup, which the
 * verifier inlines, instead of a hash of 40 bytes and a call. */
static __always_inline bool mig_xf_maybe(const struct mig_tuple *k)
{
	__u32 slot = mig_xf_slot(k);
	__u64 *n = bpf_map_lookup_elem(&mig_xf, &slot);

	return !n || *n;
}

static __always_inline void mig_xf_add(const struct mig_tuple *k, __s64 d)
{
	__u32 slot = mig_xf_slot(k);
	__u64 *n = bpf_map_lookup_elem(&mig_xf, &slot);

	if (n)
		__sync_fetch_and_add(n, d);
}

/* mig_ingress and mig_egress change only through these two, which keep
 * mig_xf's counts: an insert is counted before it is made (a segment
 * that finds the entry finds its count), a replacement is not. */
/* (the results as int: before Linux 6.4 the map operations return int,
 * and the upper half of the register is not defined) */
static __always_inline int mig_xlate_put(void *map, const struct mig_tuple *k,
					 const void *v)
{
	int r;

	mig_xf_add(k, 1);
	r = (int)bpf_map_update_elem(map, k, v, BPF_NOEXIST);
	if (r == -EEXIST) {
		r = (int)bpf_map_update_elem(map, k, v, BPF_EXIST);
		mig_xf_add(k, -1);
		return r;
	}
	if (r)
		mig_xf_add(k, -1);
	return r;
}

static __always_inline int mig_xlate_del(void *map, const struct mig_tuple *k)
{
	int r = (int)bpf_map_delete_elem(map, k);

	if (!r)
		mig_xf_add(k, -1);
	return r;
}

/* The mig_cand entry of wire tuple w goes if it is flow sock's. */
static __always_inline void mig_cand_forget(const struct mig_tuple *w,
					    const struct mig_tuple *sock)
{
	struct mig_cand_ref *r = bpf_map_lookup_elem(&mig_cand, w);

	if (r && mig_tuple_eq(&r->sock, sock))
		mig_cand_del(w);
}


#endif
