/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The socket tuple of a socket the iterators see (struct sock_common),
 * keyed as sock_ops keys it: an IPv4-mapped IPv6 socket becomes AF_INET,
 * so that one flow has one key whatever family the application used.
 */
#ifndef MIG_SK_H
#define MIG_SK_H

#include "migrate/mig_abi.h"

#ifndef AF_INET
#define AF_INET  2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* 0, or -1 for a family that is neither IPv4 nor IPv6 */
static __always_inline int mig_skc_tuple(const struct sock_common *skc,
					 struct mig_tuple *t)
{
	__u16 family = skc->skc_family;

	t->lport = bpf_htons(skc->skc_num);
	t->rport = skc->skc_dport;
	if (family == AF_INET) {
		t->family = AF_INET;
		t->laddr[0] = skc->skc_rcv_saddr;
		t->raddr[0] = skc->skc_daddr;
		return 0;
	}
	if (family == AF_INET6) {
		const __u32 *l = skc->skc_v6_rcv_saddr.in6_u.u6_addr32;
		const __u32 *r = skc->skc_v6_daddr.in6_u.u6_addr32;

		if (!r[0] && !r[1] && r[2] == bpf_htonl(0xffff)) {
			t->family = AF_INET;
			t->laddr[0] = l[3];
			t->raddr[0] = r[3];
		} else {
			t->family = AF_INET6;
			__builtin_memcpy(t->laddr, l, 16);
			__builtin_memcpy(t->raddr, r, 16);
		}
		return 0;
	}
	return -1;
}

/* Two tuples equal, every byte (the pad is zero in every tuple we make;
 * clang 14 leaves a non-constant __builtin_memcmp as a libc call). */
static __always_inline bool mig_tuple_eq(const struct mig_tuple *a,
					 const struct mig_tuple *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
	__u32 d = 0;
	int i;

	for (i = 0; i < (int)(sizeof(*a) / 4); i++)
		d |= x[i] ^ y[i];
	return !d;
}

#endif
