/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_cc_arm: what a congestion restart tells mig_cc's init (struct
 * mig_cc_arm, mig_abi.h).  Declared with the data path's maps (mig_maps.h:
 * pinned with them; sock_ops uses it) and by mig_cc (which the agent gives
 * the pinned one).
 */
#ifndef MIG_CC_ARM_H
#define MIG_CC_ARM_H

#include "migrate/mig_abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mig_cc_arm);
} mig_cc_arm SEC(".maps");

static __always_inline struct mig_cc_arm *mig_cc_arm_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mig_cc_arm, &zero);
}

#ifndef SOL_TCP
#define SOL_TCP 6
#endif
#ifndef TCP_CONGESTION
#define TCP_CONGESTION 13
#endif

/*
 * The restart itself, for a program that may call bpf_setsockopt on the
 * socket (ctx: its sock_ops ctx, or the iterator's tcp_sock): the
 * socket's algorithm into prev, then, armed for the socket's cookie (what
 * a switch this one interrupted on this CPU had armed is put back after),
 * the switch to our algorithm name, whose init restarts it (*hit, *flight:
 * what that init did), and straight back to prev, whose own init starts
 * over too (*back: that switch's error).  0, or the error of the first
 * two calls.
 */
static __always_inline long mig_cc_switch(void *ctx, struct mig_cc_arm *a, const char *name,
					  __u64 cookie, char *prev, __u32 *hit,
					  __u32 *flight, long *back)
{
	struct mig_cc_arm saved;
	long err;

	err = bpf_getsockopt(ctx, SOL_TCP, TCP_CONGESTION, prev, 16);
	if (err)
		return err;
	saved.cookie = a->cookie;
	saved.flight = a->flight;
	saved.hit = a->hit;
	a->flight = 0;
	a->hit = 0;
	a->cookie = cookie;
	err = bpf_setsockopt(ctx, SOL_TCP, TCP_CONGESTION, (void *)name, 16);
	*hit = a->hit;
	*flight = a->flight;
	a->cookie = saved.cookie;
	a->flight = saved.flight;
	a->hit = saved.hit;
	if (!err)
		*back = bpf_setsockopt(ctx, SOL_TCP, TCP_CONGESTION, prev, 16);
	return err;
}

#endif
