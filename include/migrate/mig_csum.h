/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_csum.h - what the data path's TC rewrite (bpf/lib/mig_pkt.h,
 * mig_rewrite) learns of an skb's checksum state from the TCP checksum
 * field that bpf_l4_csum_replace left, shared with the unit test that
 * checks it against the kernel's arithmetic (tests/unit/test_csum.c).
 * Plain C: no BPF helper, no libc.
 */
#ifndef MIGRATE_MIG_CSUM_H
#define MIGRATE_MIG_CSUM_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Linux's csum_add (32-bit, end-around carry) and csum_fold (to 16 bits,
 * complemented), bit for bit: tc_csum_after compares their results with
 * what bpf_l4_csum_replace wrote. */
static __always_inline __u32 csum_add_k(__u32 a, __u32 b)
{
	__u32 r = a + b;

	return r + (r < b);
}

static __always_inline __u16 csum_fold_k(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

#define MIG_CSUM_UNKNOWN 0
#define MIG_CSUM_FULL    1      /* CHECKSUM_NONE, _UNNECESSARY, _COMPLETE */
#define MIG_CSUM_PARTIAL 2

/*
 * The TCP checksum field was old; bpf_l4_csum_replace(BPF_F_PSEUDO_HDR)
 * added the pseudo-header change d and left now.  A TC program on Linux
 * 6.1 cannot read the skb's checksum state, but that call computed by it
 * (inet_proto_csum_replace_by_diff): a full checksum takes
 * csum_fold(d + ~old), a CHECKSUM_PARTIAL field (the pseudo-header sum,
 * not complemented) ~csum_fold(old + d).  In ones' complement these are
 * old - d and old + d, different values unless d is zero (0 or 0xffff,
 * which the caller never passes); when both are the same bits, or now is
 * neither, the state is unknown and the caller asks the helpers as
 * before (tests/unit/test_csum.c checks this against the kernel's
 * arithmetic).
 */
static __always_inline int tc_csum_after(__u16 old, __u16 d, __u16 now)
{
	__u16 full = csum_fold_k(csum_add_k(d, ~(__u32)old));
	__u16 part = (__u16)~csum_fold_k(csum_add_k(old, d));

	if (full == part)
		return MIG_CSUM_UNKNOWN;
	return now == full ? MIG_CSUM_FULL : now == part ? MIG_CSUM_PARTIAL : MIG_CSUM_UNKNOWN;
}

#endif
