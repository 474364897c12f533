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

/* Arm a for the socket cookie, keeping what was there in *saved (a switch
 * this one interrupted on this CPU) for mig_cc_disarm. */
static __always_inline void mig_cc_arm_set(struct mig_cc_arm *a, struct mig_cc_arm *saved,
					   __u64 cookie)
{
	saved->cookie = a->cookie;
	saved->iw = a->iw;
	saved->flight = a->flight;
	saved->hit = a->hit;
	a->flight = 0;
	a->hit = 0;
	a->iw = 0;
	a->cookie = cookie;
}

static __always_inline void mig_cc_disarm(struct mig_cc_arm *a, const struct mig_cc_arm *saved)
{
	a->cookie = saved->cookie;
	a->iw = saved->iw;
	a->flight = saved->flight;
	a->hit = saved->hit;
}

#endif
