// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_opt.c - the shared Migrate option parser and builders
 * (include/migrate/mig_opt.h, PROTOCOL.md section 2).
 *
 * Every walk runs on a heap buffer of exactly MIG_OPT_BUF_LEN bytes with a
 * zeroed tail, as the header requires, so that AddressSanitizer catches any
 * read past it.
 */
#include <stdint.h>

#include <migrate/mig_opt.h>
#include "unit.h"

/* A realistic Linux SYN: MSS 1460, SACK-permitted, Timestamps, NOP, WS 7
 * (20 bytes), which leaves exactly 20 for MP_SYN. */
static const __u8 syn_opts[20] = {
	0x02, 0x04, 0x05, 0xb4,
	0x04, 0x02,
	0x08, 0x0a, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00,
	0x01,
	0x03, 0x03, 0x07,
};

static __u8 pub[32];   /* bytes 0xa0..0xbf */

__attribute__((constructor)) static void init_pub(void)
{
	for (int i = 0; i < 32; i++)
		pub[i] = (__u8)(0xa0 + i);
}

/* Walk the first len bytes of an option area made of n bytes. */
static int walk(const __u8 *bytes, size_t n, __u32 len, struct mig_opt *o)
{
	__u8 *buf = calloc(1, MIG_OPT_BUF_LEN);
	int r;

	if (!buf)
		abort();
	if (n > MIG_OPT_BUF_LEN)
		n = MIG_OPT_BUF_LEN;
	memcpy(buf, bytes, n);
	memset(o, 0x5a, sizeof(*o));
	r = mig_opt_walk(buf, len, o);
	free(buf);
	return r;
}

/* A Migrate option of length len whose body is filled from a pattern:
 * kind, len, ExID, then sub (if len > 4) and bytes 0x10, 0x11, ...
 * Writes at most cap bytes (an option may claim more than there is). */
static void mk_cap(__u8 *out, size_t cap, __u8 len, __u8 exid_hi,
		   __u8 exid_lo, __u8 sub)
{
	__u8 tmp[256];
	size_t i;

	memset(tmp, 0, sizeof(tmp));
	tmp[0] = MIG_OPT_KIND;
	tmp[1] = len;
	if (len > 2)
		tmp[2] = exid_hi;
	if (len > 3)
		tmp[3] = exid_lo;
	if (len > 4)
		tmp[4] = sub;
	for (i = 5; i < len; i++)
		tmp[i] = (__u8)(0x10 + i - 5);
	memcpy(out, tmp, len < 2 ? 2 : len < cap ? len : cap);
}

/* mk(): into the local array a, never past its end */
#define mk(p, len, hi, lo, sub) \
	mk_cap(p, (size_t)(a + sizeof(a) - (p)), len, hi, lo, sub)

TEST(mpsyn_in_full_syn)
{
	__u8 a[40];
	struct mig_opt o;

	memcpy(a, syn_opts, 20);
	mig_opt_build_mpsyn(a + 20, pub);
	/* the exact wire bytes of PROTOCOL.md section 2 */
	CHECK(a[20] == 253 && a[21] == 20 && a[22] == 0x4D && a[23] == 0x47,
	      "MP_SYN header %02x %02x %02x %02x", a[20], a[21], a[22], a[23]);
	CHECK_MEM(a + 24, pub, 16);

	CHECK(walk(a, 40, 40, &o) == MIG_OPT_FOUND, "MP_SYN not found");
	CHECK(o.type == MIG_OPT_T_MPSYN, "type %u", o.type);
	CHECK_MEM(o.half, pub, 16);

	/* MP_SYN first, kernel options after it */
	mig_opt_build_mpsyn(a, pub);
	memcpy(a + 20, syn_opts, 20);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_FOUND, "MP_SYN first");
	CHECK(o.type == MIG_OPT_T_MPSYN, "type %u", o.type);

	/* the kernel options alone: nothing */
	CHECK(walk(syn_opts, 20, 20, &o) == MIG_OPT_NONE, "plain SYN");
	CHECK(walk(a, 0, 0, &o) == MIG_OPT_NONE, "empty area");
}

TEST(key2_flags)
{
	static const __u8 flags[] = { 0, MIG_KEY2_HAVE, MIG_KEY2_DONE,
				      MIG_KEY2_HAVE | MIG_KEY2_DONE, 0xff };
	/* NOP NOP TS(10) + KEY2 (22) = 34 bytes, as on an ACK */
	__u8 a[40] = { 0x01, 0x01, 0x08, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct mig_opt o;
	size_t i;

	for (i = 0; i < sizeof(flags); i++) {
		mig_opt_build_key2(a + 12, flags[i], pub);
		CHECK(a[12] == 253 && a[13] == 22 && a[14] == 0x4D &&
		      a[15] == 0x47 && a[16] == MIG_SUB_KEY2 && a[17] == flags[i],
		      "KEY2 header");
		CHECK_MEM(a + 18, pub + 16, 16);
		CHECK(walk(a, 34, 34, &o) == MIG_OPT_FOUND, "KEY2 not found");
		CHECK(o.type == MIG_OPT_T_KEY2, "type %u", o.type);
		CHECK(o.flags == flags[i], "flags %#x want %#x", o.flags, flags[i]);
		CHECK_MEM(o.half, pub + 16, 16);
	}
}

/* KEY1 (asked for by KEY2's NEED1): the first half, and a mark byte */
TEST(key1_mark)
{
	__u8 a[40] = { 0x01, 0x01, 0x08, 0x0a, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct mig_opt o;

	mig_opt_build_key1(a + 12, 0xa7, pub);
	CHECK(a[12] == 253 && a[13] == 22 && a[14] == 0x4D && a[15] == 0x47 &&
	      a[16] == MIG_SUB_KEY1 && a[17] == 0xa7, "KEY1 header");
	CHECK_MEM(a + 18, pub, 16);
	CHECK(walk(a, 34, 34, &o) == MIG_OPT_FOUND, "KEY1 not found");
	CHECK(o.type == MIG_OPT_T_KEY1, "type %u", o.type);
	CHECK(o.flags == 0xa7, "mark %#x", o.flags);
	CHECK_MEM(o.half, pub, 16);
	a[13] = 21;   /* a KEY1 of the wrong length is malformed, not a KEY2 */
	CHECK(walk(a, 34, 34, &o) == MIG_OPT_BAD_LEN, "bad length accepted");
}

TEST(sig_options)
{
	static const struct {
		__u8 sub, type;
	} v[] = {
		{ MIG_SUB_MIGRATE, MIG_OPT_T_MIGRATE },
		{ MIG_SUB_MIGRATE_ACK, MIG_OPT_T_MIGRATE_ACK },
		{ MIG_SUB_CONFIRM, MIG_OPT_T_CONFIRM },
	};
	static const __u8 id[8] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
	static const __u8 mac[8] = { 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01 };
	/* hand-made wire bytes: reqno 0x01020304 big-endian */
	__u8 a[40] = { 0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x01,
		       253, 25, 0x4D, 0x47, 0, 0x01, 0x02, 0x03, 0x04 };
	__u8 b[40];
	struct mig_opt o;
	size_t i;

	memcpy(a + 16, id, 8);
	memcpy(a + 24, mac, 8);
	for (i = 0; i < 3; i++) {
		a[11] = v[i].sub;
		CHECK(walk(a, 32, 32, &o) == MIG_OPT_FOUND, "sub %u", v[i].sub);
		CHECK(o.type == v[i].type, "type %u want %u", o.type, v[i].type);
		CHECK(o.reqno == 0x01020304u, "reqno %#x", o.reqno);
		CHECK_MEM(o.id, id, 8);
		CHECK_MEM(o.mac, mac, 8);

		/* the builder writes the same bytes */
		memcpy(b, a, 7);
		mig_opt_build_sig(b + 7, v[i].sub, 0x01020304u, id, mac);
		CHECK_MEM(b, a, 32);
	}
	/* reqno extremes, including one with the top bit set */
	a[11] = MIG_SUB_MIGRATE;
	memcpy(a + 12, "\xff\xff\xff\xfe", 4);
	CHECK(walk(a, 32, 32, &o) == MIG_OPT_FOUND && o.reqno == 0xfffffffeu,
	      "reqno %#x", o.reqno);
	memcpy(a + 12, "\x00\x00\x00\x01", 4);
	CHECK(walk(a, 32, 32, &o) == MIG_OPT_FOUND && o.reqno == 1u,
	      "reqno %#x", o.reqno);
}

TEST(wrong_length)
{
	static const __u8 lens[] = { 19, 21, 23, 24, 26, 4, 3 };
	static const __u8 subs[] = { 0, MIG_SUB_KEY2, MIG_SUB_MIGRATE, 9 };
	__u8 a[40];
	struct mig_opt o;
	size_t i, j;
	int r;

	for (i = 0; i < sizeof(lens); i++) {
		for (j = 0; j < sizeof(subs); j++) {
			memset(a, 0, sizeof(a));
			mk(a, lens[i], 0x4D, 0x47, subs[j]);
			r = walk(a, 40, 40, &o);
			CHECK(r == MIG_OPT_BAD_LEN, "len %u sub %u: %d",
			      lens[i], subs[j], r);
		}
	}
	/* length 0, 1, 2: too short for the header */
	for (i = 0; i < 3; i++) {
		memset(a, 0, sizeof(a));
		a[0] = 253;
		a[1] = (__u8)i;
		r = walk(a, 40, 40, &o);
		CHECK(r == MIG_OPT_BAD_LEN, "len %zu: %d", i, r);
	}
	/* a known sub at the wrong known length */
	memset(a, 0, sizeof(a));
	mk(a, 22, 0x4D, 0x47, MIG_SUB_MIGRATE);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_BAD_LEN, "sig sub at len 22");
	mk(a, 25, 0x4D, 0x47, MIG_SUB_KEY2);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_BAD_LEN, "KEY2 sub at len 25");
}

TEST(wrong_exid)
{
	static const __u8 ex[][2] = { { 0x47, 0x4D }, { 0x4D, 0x48 },
				      { 0x4C, 0x47 }, { 0x00, 0x00 } };
	static const __u8 lens[] = { 20, 22, 25 };
	__u8 a[40];
	struct mig_opt o;
	size_t i, j;
	int r;

	for (i = 0; i < sizeof(ex) / sizeof(ex[0]); i++) {
		for (j = 0; j < sizeof(lens); j++) {
			memset(a, 0, sizeof(a));
			mk(a, lens[j], ex[i][0], ex[i][1],
			   lens[j] == 22 ? MIG_SUB_KEY2 : MIG_SUB_MIGRATE);
			r = walk(a, 40, 40, &o);
			CHECK(r == MIG_OPT_BAD_EXID, "exid %02x%02x len %u: %d",
			      ex[i][0], ex[i][1], lens[j], r);
		}
	}
}

TEST(truncated)
{
	__u8 a[40];
	struct mig_opt o;
	int r;

	/* 20 bytes of kernel options, then a 25-byte option in 20 bytes */
	memcpy(a, syn_opts, 20);
	mk(a + 20, 25, 0x4D, 0x47, MIG_SUB_MIGRATE);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_TRUNCATED, "25 in 20: %d", r);

	/* MP_SYN one byte short of the area */
	memcpy(a, syn_opts, 20);
	mig_opt_build_mpsyn(a + 20, pub);
	r = walk(a, 40, 39, &o);
	CHECK(r == MIG_OPT_TRUNCATED, "20 in 19: %d", r);

	/* the kind is the last byte: its length byte is missing */
	memset(a, 0x01, sizeof(a));     /* NOPs */
	a[39] = 253;
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_TRUNCATED, "no length byte: %d", r);
	memset(a, 0x01, sizeof(a));
	a[9] = 253;
	a[10] = 20;                     /* beyond the area of 10 */
	r = walk(a, 40, 10, &o);
	CHECK(r == MIG_OPT_TRUNCATED, "no length byte in area of 10: %d", r);

	/* a length running past the end of a short area */
	memset(a, 0, sizeof(a));
	mk(a, 30, 0x4D, 0x47, 0);
	r = walk(a, 40, 20, &o);
	CHECK(r == MIG_OPT_TRUNCATED, "30 in 20: %d", r);

	/* parse_at on its own: fewer than 2 bytes, off out of range */
	{
		__u8 *buf = calloc(1, MIG_OPT_BUF_LEN);

		if (!buf)
			abort();
		mig_opt_build_mpsyn(buf, pub);
		CHECK(mig_opt_parse_at(buf, 0, 1, &o) == MIG_OPT_TRUNCATED, "avail 1");
		CHECK(mig_opt_parse_at(buf, 0, 19, &o) == MIG_OPT_TRUNCATED, "avail 19");
		CHECK(mig_opt_parse_at(buf, 0, 20, &o) == MIG_OPT_FOUND, "avail 20");
		CHECK(mig_opt_parse_at(buf, 40, 20, &o) == MIG_OPT_TRUNCATED, "off 40");
		free(buf);
	}
}

TEST(unknown_sub)
{
	__u8 a[40];
	struct mig_opt o;
	int r;

	/* a length that fits a known layout, a sub that does not */
	memset(a, 0, sizeof(a));
	mk(a, 25, 0x4D, 0x47, 9);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_BAD_SUB, "len 25 sub 9: %d", r);
	mk(a, 25, 0x4D, 0x47, 0);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_BAD_SUB, "len 25 sub 0: %d", r);
	mk(a, 22, 0x4D, 0x47, 9);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_BAD_SUB, "len 22 sub 9: %d", r);
	/* a known sub at another sub's length is a length error */
	mk(a, 22, 0x4D, 0x47, MIG_SUB_MIGRATE);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_BAD_LEN, "len 22 sub 2: %d", r);
	/* neither known length nor known sub */
	memset(a, 0, sizeof(a));
	mk(a, 23, 0x4D, 0x47, 9);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_BAD_LEN, "len 23 sub 9: %d", r);
	/* a 20-byte option is MP_SYN whatever its fifth byte holds */
	mk(a, 20, 0x4D, 0x47, 9);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_FOUND && o.type == MIG_OPT_T_MPSYN,
	      "len 20 is MP_SYN");
}

TEST(eol_stops_walk)
{
	/* MSS, EOL, then a byte that would read as a length of 2 if EOL were
	 * taken for an option, then MP_SYN */
	__u8 a[40] = { 0x02, 0x04, 0x05, 0xb4, 0x00, 0x02 };
	struct mig_opt o;

	mig_opt_build_mpsyn(a + 6, pub);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_NONE, "option after EOL found");
	a[4] = 0x01;     /* NOP NOP instead: found */
	a[5] = 0x01;
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_FOUND, "option after NOP");
	/* EOL first thing */
	memset(a, 0, sizeof(a));
	a[1] = 2;
	mig_opt_build_mpsyn(a + 2, pub);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_NONE, "option after leading EOL");
	/* EOL after a malformed Migrate option keeps its error */
	memset(a, 0, sizeof(a));
	mk(a, 8, 0x12, 0x34, 0);
	a[9] = 2;
	mig_opt_build_mpsyn(a + 10, pub);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_BAD_EXID, "error before EOL");
}

TEST(other_kinds_skipped)
{
	/* SACK-perm, an MPTCP-like option (kind 30, len 8), another RFC 6994
	 * experiment (kind 254, len 6), then KEY2 */
	__u8 a[40] = { 0x04, 0x02, 30, 8, 1, 2, 3, 4, 5, 6, 254, 6, 0x4D, 0x47, 0, 0 };
	struct mig_opt o;

	mig_opt_build_key2(a + 16, MIG_KEY2_HAVE, pub);
	CHECK(walk(a, 40, 38, &o) == MIG_OPT_FOUND, "KEY2 after others");
	CHECK(o.type == MIG_OPT_T_KEY2 && o.flags == MIG_KEY2_HAVE, "KEY2");
	CHECK_MEM(o.half, pub + 16, 16);

	/* a foreign option with a broken length ends the walk, as in the
	 * kernel: the option after it is not looked at */
	a[3] = 1;
	CHECK(walk(a, 40, 38, &o) == MIG_OPT_NONE, "walk past len 1");
	a[3] = 0;
	CHECK(walk(a, 40, 38, &o) == MIG_OPT_NONE, "walk past len 0");
	a[3] = 8;
	a[1] = 50;
	CHECK(walk(a, 40, 38, &o) == MIG_OPT_NONE, "walk past overlong");
	/* len 1 right before a valid option: stepping one byte would land on
	 * a NOP (the length byte itself) and then on MP_SYN */
	memset(a, 0, sizeof(a));
	a[0] = 30;
	a[1] = 1;
	mig_opt_build_mpsyn(a + 2, pub);
	CHECK(walk(a, 40, 22, &o) == MIG_OPT_NONE, "foreign len 1 skipped");
	a[1] = 2;   /* a well-formed empty option: skipped, MP_SYN found */
	CHECK(walk(a, 40, 22, &o) == MIG_OPT_FOUND, "foreign len 2");
}

/* mig_opt_step, driven one call at a time as bpf_loop does in BPF */
TEST(step_by_step)
{
	static const __u32 offs[] = { 0, 4, 6, 16, 17, 20 };
	__u8 *buf = calloc(1, MIG_OPT_BUF_LEN);
	struct mig_opt o;
	__u32 off = 0, i;
	int res = MIG_OPT_NONE, done = 0;

	if (!buf)
		abort();
	memcpy(buf, syn_opts, 20);
	mig_opt_build_mpsyn(buf + 20, pub);
	for (i = 0; i < sizeof(offs) / sizeof(offs[0]) && !done; i++) {
		CHECK(off == offs[i], "step %u at %u, want %u", i, off, offs[i]);
		done = mig_opt_step(buf, 40, &off, &res, &o);
	}
	CHECK(done && i == 6, "walk ended after %u steps (done %d)", i, done);
	CHECK(res == MIG_OPT_FOUND && o.type == MIG_OPT_T_MPSYN, "res %d", res);
	/* once over, it stays over */
	off = 40;
	CHECK(mig_opt_step(buf, 40, &off, &res, &o) == 1, "step past the end");
	free(buf);
}

TEST(malformed_then_valid)
{
	__u8 a[40];
	struct mig_opt o;
	int r;

	/* BAD_LEN (len 3), then MP_SYN */
	memset(a, 0, sizeof(a));
	mk(a, 3, 0x4D, 0x47, 0);
	mig_opt_build_mpsyn(a + 3, pub);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_FOUND && o.type == MIG_OPT_T_MPSYN, "after len 3: %d", r);

	/* BAD_EXID (len 8), then MIGRATE */
	memset(a, 0, sizeof(a));
	mk(a, 8, 0x12, 0x34, 0);
	mig_opt_build_sig(a + 8, MIG_SUB_MIGRATE, 7, pub, pub + 8);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_FOUND && o.type == MIG_OPT_T_MIGRATE && o.reqno == 7,
	      "after bad ExID: %d", r);
	CHECK_MEM(o.id, pub, 8);
	CHECK_MEM(o.mac, pub + 8, 8);

	/* BAD_LEN (len 14, unknown sub), then KEY2 */
	memset(a, 0, sizeof(a));
	mk(a, 14, 0x4D, 0x47, 9);
	mig_opt_build_key2(a + 14, 0, pub);
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_FOUND && o.type == MIG_OPT_T_KEY2, "after len 14: %d", r);

	/* two malformed ones: the first error is reported */
	memset(a, 0, sizeof(a));
	mk(a, 8, 0x12, 0x34, 0);              /* BAD_EXID */
	mk(a + 8, 24, 0x4D, 0x47, 2);         /* BAD_LEN */
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_BAD_EXID, "first error: %d", r);
	memset(a, 0, sizeof(a));
	mk(a, 24, 0x4D, 0x47, 2);             /* BAD_LEN */
	mk(a + 24, 8, 0x12, 0x34, 0);         /* BAD_EXID */
	r = walk(a, 40, 40, &o);
	CHECK(r == MIG_OPT_BAD_LEN, "first error: %d", r);
}

TEST(area_clamped_to_40)
{
	__u8 a[MIG_OPT_BUF_LEN];
	struct mig_opt o;
	int r;

	/* 40 bytes of NOPs, then MP_SYN at 40: outside any TCP header */
	memset(a, 0x01, 40);
	memset(a + 40, 0, sizeof(a) - 40);
	mig_opt_build_mpsyn(a + 40, pub);
	r = walk(a, sizeof(a), 60, &o);
	CHECK(r == MIG_OPT_NONE, "option at 40 seen: %d", r);
	r = walk(a, sizeof(a), 0xffffffffu, &o);
	CHECK(r == MIG_OPT_NONE, "option at 40 seen (len ~0): %d", r);

	/* MP_SYN at 30..49: cut by the clamp */
	memset(a, 0x01, 30);
	memset(a + 30, 0, sizeof(a) - 30);
	mig_opt_build_mpsyn(a + 30, pub);
	r = walk(a, sizeof(a), 72, &o);
	CHECK(r == MIG_OPT_TRUNCATED, "option across 40: %d", r);

	/* 20 NOPs then MP_SYN ending at exactly 40, area claimed 72 */
	memset(a, 0x01, 20);
	memset(a + 20, 0, sizeof(a) - 20);
	mig_opt_build_mpsyn(a + 20, pub);
	r = walk(a, sizeof(a), 72, &o);
	CHECK(r == MIG_OPT_FOUND, "option ending at 40: %d", r);

	/* bytes past len are not options, even when they look like one (a
	 * BPF program may load a fixed 40 bytes, payload included) */
	memcpy(a, syn_opts, 20);
	memset(a + 20, 0, sizeof(a) - 20);
	mig_opt_build_mpsyn(a + 20, pub);
	r = walk(a, sizeof(a), 20, &o);
	CHECK(r == MIG_OPT_NONE, "option past len seen: %d", r);
	memcpy(a, syn_opts, 20);
	a[16] = 0x01;
	a[17] = 0x01;
	a[18] = 0x01;
	a[19] = 0x01;   /* NOPs up to len, then MP_SYN */
	r = walk(a, sizeof(a), 20, &o);
	CHECK(r == MIG_OPT_NONE, "option past NOPs seen: %d", r);

	/* 40 NOPs: the bounded loop ends cleanly */
	memset(a, 0x01, 40);
	CHECK(walk(a, 40, 40, &o) == MIG_OPT_NONE, "all NOPs");
}

TEST(builders_round_trip)
{
	__u8 a[40], id[8], mac[8];
	struct mig_opt o;
	__u32 reqnos[] = { 0, 1, 0x80000000u, 0xdeadbeefu, 0xffffffffu };
	size_t i;
	__u8 sub;

	for (i = 0; i < 8; i++) {
		id[i] = (__u8)(0xc0 + i);
		mac[i] = (__u8)(0xd0 + i);
	}
	memset(a, 0, sizeof(a));
	mig_opt_build_mpsyn(a, pub);
	CHECK(walk(a, 20, 20, &o) == MIG_OPT_FOUND && o.type == MIG_OPT_T_MPSYN,
	      "mpsyn");
	CHECK_MEM(o.half, pub, 16);

	memset(a, 0, sizeof(a));
	mig_opt_build_key2(a, MIG_KEY2_HAVE | MIG_KEY2_DONE, pub);
	CHECK(walk(a, 22, 22, &o) == MIG_OPT_FOUND && o.type == MIG_OPT_T_KEY2,
	      "key2");
	CHECK(o.flags == (MIG_KEY2_HAVE | MIG_KEY2_DONE), "flags %#x", o.flags);
	CHECK_MEM(o.half, pub + 16, 16);

	for (sub = MIG_SUB_MIGRATE; sub <= MIG_SUB_CONFIRM; sub++) {
		for (i = 0; i < sizeof(reqnos) / sizeof(reqnos[0]); i++) {
			memset(a, 0, sizeof(a));
			a[0] = 0x01;            /* NOP, so the option is unaligned */
			mig_opt_build_sig(a + 1, sub, reqnos[i], id, mac);
			CHECK(walk(a, 26, 26, &o) == MIG_OPT_FOUND, "sig");
			CHECK(o.type == (sub == MIG_SUB_MIGRATE ? MIG_OPT_T_MIGRATE :
					 sub == MIG_SUB_MIGRATE_ACK ?
					 MIG_OPT_T_MIGRATE_ACK : MIG_OPT_T_CONFIRM),
			      "type %u for sub %u", o.type, sub);
			CHECK(o.reqno == reqnos[i], "reqno %#x want %#x", o.reqno,
			      reqnos[i]);
			CHECK(a[2] == 25 && a[6] == (__u8)(reqnos[i] >> 24) &&
			      a[9] == (__u8)reqnos[i], "reqno not big-endian");
			CHECK_MEM(o.id, id, 8);
			CHECK_MEM(o.mac, mac, 8);
		}
	}
}

UNIT_MAIN()
