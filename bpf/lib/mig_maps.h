/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_maps.h - the maps of the data path.  Every map is pinned by the agent
 * under its pin directory (see MIG_MAP_* in mig_abi.h) and carries BTF, so
 * `bpftool map dump pinned DIR/NAME` prints fields by name.
 */
#ifndef MIGRATE_BPF_MAPS_H
#define MIGRATE_BPF_MAPS_H

#include "migrate/mig_abi.h"

/* Keyed flows.  Written by the agent on "keyed"; state kept current and
 * entry removed by sock_ops on close; LRU evicts leaks. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_flow);
} mig_flows SEC(".maps");

/* Token -> socket tuple, for validating Migrate SYNs.  Same life as
 * mig_flows. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_token_key);
	__type(value, struct mig_tuple);
} mig_tokens SEC(".maps");

/* Per-direction keys of keyed flows, for the agent only (survives its
 * restart).  Removed with the flow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_secret);
} mig_secrets SEC(".maps");

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

/* Migrated flows, candidates and pending requests by wire tuple (our
 * side's view).  See struct mig_in. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_in);
} mig_ingress SEC(".maps");

/* Translation or hold of our own segments by socket tuple. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MIG_MAX_FLOWS);
	__type(key, struct mig_tuple);
	__type(value, struct mig_out);
} mig_egress SEC(".maps");

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

#endif
