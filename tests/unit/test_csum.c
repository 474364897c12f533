// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_csum.c - the TC rewrite's reading of the checksum state
 * (include/migrate/mig_csum.h) against the kernel's own arithmetic,
 * written out here independently:
 *
 *  - csum_fold_k against Linux's generic csum_fold
 *    ((~sum - ror32(sum, 16)) >> 16) and its x86 one (addl, adcl $0xffff);
 *  - tc_csum_after: after bpf_l4_csum_replace(BPF_F_PSEUDO_HDR) with a
 *    change d, a field the kernel treated as a full checksum never reads
 *    as CHECKSUM_PARTIAL nor the reverse, and both are told apart for every
 *    d that is not zero in ones' complement (every old field value, d in
 *    steps through the whole range and the edges; mig_rewrite never asks
 *    with d zero);
 *  - whole segments: an IPv4 TCP segment with a full checksum and one with
 *    a CHECKSUM_PARTIAL field (the pseudo-header sum) get new addresses and
 *    ports the way mig_rewrite does it (the helper's arithmetic, then the
 *    ports' change written directly for a full checksum, nothing for a
 *    partial one); each then equals the checksum computed from scratch.
 */
#include <stdint.h>

#include "migrate/mig_csum.h"
#include "unit.h"

static uint32_t ref_add(uint32_t csum, uint32_t addend)   /* include/net/checksum.h */
{
	uint32_t res = csum + addend;

	return res + (res < addend);
}

static uint16_t ref_fold(uint32_t sum)   /* include/asm-generic/checksum.h */
{
	uint32_t r = sum >> 16 | sum << 16;

	return (uint16_t)((~sum - r) >> 16);
}

static uint16_t ref_fold_x86(uint32_t sum)   /* arch/x86/include/asm/checksum_64.h */
{
	uint64_t t = (uint64_t)(sum & 0xffff0000) + (uint32_t)(sum << 16);
	uint32_t r = (uint32_t)t + 0xffff + (uint32_t)(t >> 32);

	return (uint16_t)(~r >> 16);
}

/* inet_proto_csum_replace_by_diff: the field after the pseudo-header call */
static uint16_t ref_full(uint16_t old, uint32_t d)
{
	return ref_fold(ref_add(d, ~(uint32_t)old));
}

static uint16_t ref_partial(uint16_t old, uint32_t d)
{
	return (uint16_t)~ref_fold(ref_add(old, d));
}

static uint32_t rnd_state = 0x2545f491;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

TEST(fold_matches_the_kernel)
{
	static const uint32_t edge[] = { 0, 1, 0xffff, 0x10000, 0x1fffe, 0xfffeffff,
					 0xffff0000, 0xffffffff, 0x8000, 0x80008000 };
	unsigned int i, bad = 0;

	for (i = 0; i < sizeof(edge) / sizeof(edge[0]); i++)
		if (csum_fold_k(edge[i]) != ref_fold(edge[i]) ||
		    csum_fold_k(edge[i]) != ref_fold_x86(edge[i]))
			bad++;
	for (i = 0; i < 4000000; i++) {
		uint32_t s = rnd();

		if (csum_fold_k(s) != ref_fold(s) || csum_fold_k(s) != ref_fold_x86(s))
			bad++;
	}
	CHECK(bad == 0, "%u sums fold otherwise than Linux's csum_fold", bad);
}

TEST(state_read_from_the_field)
{
	unsigned int old, d, wrong = 0, unknown = 0, told = 0, zero_told = 0;

	for (old = 0; old <= 0xffff; old++)
		for (d = 0; d <= 0xffff; d += (d < 4 || d > 0xfffb) ? 1 : 251) {
			uint16_t f = ref_full((uint16_t)old, d);
			uint16_t p = ref_partial((uint16_t)old, d);
			int sf = tc_csum_after((uint16_t)old, (uint16_t)d, f);
			int sp = tc_csum_after((uint16_t)old, (uint16_t)d, p);

			if (sf == MIG_CSUM_PARTIAL || sp == MIG_CSUM_FULL)
				wrong++;
			if (d == 0 || d == 0xffff) {
				/* (mig_rewrite never asks then: the two
				 * results are the same value, and differ in
				 * bits only where one is 0x0000 and the other
				 * 0xffff, which still tells the state) */
				if (sf != sp || sf == MIG_CSUM_UNKNOWN)
					continue;
				zero_told++;
				continue;
			}
			if (sf == MIG_CSUM_FULL && sp == MIG_CSUM_PARTIAL)
				told++;
			else
				unknown++;
		}
	CHECK(wrong == 0, "%u field values read as the other checksum state", wrong);
	CHECK(unknown == 0, "%u (old, d) with d not zero left the state unknown", unknown);
	CHECK(zero_told == 0, "%u (old, d) with d zero in ones' complement told one state "
	      "for both", zero_told);
	CHECK(told > 60000u * 260u, "only %u cases told apart", told);
	/* a field neither computation gives: unknown */
	CHECK(tc_csum_after(0x1234, 0x0101, (uint16_t)(ref_full(0x1234, 0x0101) + 1)) ==
		      MIG_CSUM_UNKNOWN &&
	      ref_full(0x1234, 0x0101) + 1 != ref_partial(0x1234, 0x0101), "a third value");
}

/* ones' complement sum of 16-bit words in memory order (for the test's
 * own from-scratch checksums) */
static uint32_t sum16(const void *p, size_t n, uint32_t s)
{
	const uint16_t *w = p;
	size_t i;

	for (i = 0; i < n / 2; i++)
		s += w[i];
	return s;
}

static uint16_t fold_c(uint32_t s)   /* folded, not complemented */
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* the pseudo-header (addresses, protocol, length) and the TCP header
 * (20 bytes, check field taken as zero) and payload */
struct seg {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
	uint8_t rest[12 + 40];   /* seq .. urg, and 40 bytes of payload (check zero) */
};

static uint32_t pseudo_sum(const struct seg *g)
{
	uint8_t ph[12] = { [9] = 6, [11] = 20 + 40 };   /* zero, protocol, length */

	memcpy(ph, &g->saddr, 4);
	memcpy(ph + 4, &g->daddr, 4);
	return sum16(ph, sizeof(ph), 0);
}

static uint16_t full_check(const struct seg *g)
{
	uint32_t s = pseudo_sum(g);

	s = sum16(&g->sport, 2, s);
	s = sum16(&g->dport, 2, s);
	s = sum16(g->rest, sizeof(g->rest), s);
	return (uint16_t)~fold_c(s);
}

/* the delta of mig_pkt.h's csum_delta: ~old + new, folded, 0 for none */
static uint16_t delta(const uint32_t *from, const uint32_t *to, int n)
{
	uint64_t s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += (uint32_t)~from[i] + (uint64_t)to[i];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s == 0xffff ? 0 : (uint16_t)s;
}

TEST(segments_rewritten_as_mig_rewrite_does)
{
	unsigned int i, bad_full = 0, bad_part = 0, unknown = 0;

	for (i = 0; i < 200000; i++) {
		struct seg g, n;
		uint32_t oa[2], na[2], op, np;
		uint16_t da, dp, field, now;
		size_t k;
		int st;

		g.saddr = rnd();
		g.daddr = rnd();
		g.sport = (uint16_t)rnd();
		g.dport = (uint16_t)rnd();
		for (k = 0; k < sizeof(g.rest); k++)
			g.rest[k] = (uint8_t)rnd();
		n = g;
		n.saddr = i & 1 ? rnd() : g.saddr;   /* one or both addresses */
		n.daddr = rnd();
		n.sport = i & 2 ? (uint16_t)rnd() : g.sport;
		oa[0] = g.saddr, oa[1] = g.daddr, na[0] = n.saddr, na[1] = n.daddr;
		op = (uint32_t)g.sport | (uint32_t)g.dport << 16;
		np = (uint32_t)n.sport | (uint32_t)n.dport << 16;
		da = delta(oa, na, 2);
		dp = delta(&op, &np, 1);
		if (!da)
			continue;   /* (mig_rewrite asks no state then) */

		/* a full checksum: the helper's pseudo-header call, then the
		 * ports' change written as mig_rewrite writes it */
		field = full_check(&g);
		now = ref_full(field, da);
		st = tc_csum_after(field, da, now);
		if (st == MIG_CSUM_FULL) {
			if (dp)
				now = csum_fold_k(csum_add_k(dp, ~(uint32_t)now));
		} else if (st == MIG_CSUM_UNKNOWN) {
			unknown++;
			now = dp ? ref_full(now, dp) : now;   /* the helper's second call */
		} else {
			bad_full++;
		}
		/* a checksum verifies when the sum over all (check included)
		 * is 0xffff (zero in ones' complement) */
		if (fold_c(sum16(&now, 2, 0) + (uint32_t)(uint16_t)~full_check(&n)) != 0xffff)
			bad_full++;

		/* CHECKSUM_PARTIAL: the field holds the pseudo-header sum */
		field = fold_c(pseudo_sum(&g));
		now = ref_partial(field, da);
		st = tc_csum_after(field, da, now);
		if (st == MIG_CSUM_FULL)
			bad_part++;
		else if (st == MIG_CSUM_UNKNOWN)
			unknown++;   /* (the helper's second call leaves it) */
		if (fold_c((uint32_t)now + (uint16_t)~fold_c(pseudo_sum(&n))) != 0xffff)
			bad_part++;
	}
	CHECK(bad_full == 0, "%u full checksums wrong after the rewrite", bad_full);
	CHECK(bad_part == 0, "%u partial checksum fields wrong after the rewrite", bad_part);
	CHECK(unknown < 100, "%u segments left the state unknown", unknown);
}

UNIT_MAIN()
