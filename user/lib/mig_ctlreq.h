/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_ctlreq.h - requests from migratectl to a running migrate-agent
 * ("migratectl migrate").  Everything else migratectl does reads the
 * pinned maps; this one asks the agent to act.
 *
 * The channel is a SOCK_SEQPACKET unix socket in the abstract namespace,
 * named MIG_CTL_SOCK_FMT with the agent's pid (from mig_meta), so that
 * several agents (pin directories) never meet and nothing is left on a
 * file system.  Abstract names belong to a network namespace: migratectl
 * must run in the agent's.  Both ends check the other's credentials
 * (SO_PEERCRED): the agent answers only root (uid 0) or its own uid,
 * migratectl talks only to the pid mig_meta names.  One request and one
 * answer per connection, both of fixed size.
 */
#ifndef MIGRATE_MIG_CTLREQ_H
#define MIGRATE_MIG_CTLREQ_H

#include <linux/types.h>

#include "migrate/mig_abi.h"

#define MIG_CTL_SOCK_FMT "migrate-agent.%llu"   /* after the leading NUL */
#define MIG_CTL_MAGIC    0x4d47524bU            /* "MGRK" */

enum mig_ctl_op {
	MIG_CTL_MIGRATE = 1,   /* re-evaluate the source of one flow, or all */
};

#define MIG_CTL_F_ALL 0x1      /* every keyed flow; sock is all zero */

struct mig_ctl_req {
	__u32 magic;            /* MIG_CTL_MAGIC */
	__u16 abi_version;      /* MIG_ABI_VERSION */
	__u16 op;               /* enum mig_ctl_op */
	__u32 flags;            /* MIG_CTL_F_* */
	__u32 pad;              /* zero */
	struct mig_tuple sock;  /* the flow (socket tuple), unless F_ALL */
};
_Static_assert(sizeof(struct mig_ctl_req) == 56, "mig_ctl_req size");

struct mig_ctl_resp {
	__u32 magic;            /* MIG_CTL_MAGIC */
	__s32 status;           /* 0 or -errno: -EINVAL bad request, -ENOENT no such flow */
	__u32 flows;            /* keyed flows looked at */
	__u32 moving;           /* moves started (or already under way) toward a new source */
	__u32 unchanged;        /* already on the best source */
	__u32 no_route;         /* no route, or the route's source is not usable */
	__u32 not_movable;      /* in a state that cannot move (handshake, closing) */
	__u32 pad;              /* zero */
};
_Static_assert(sizeof(struct mig_ctl_resp) == 32, "mig_ctl_resp size");

#endif
