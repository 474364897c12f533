// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_opt.c - the Migrate option parser (include/migrate/mig_opt.h): the
 * input is a TCP option area (its first 40 bytes), walked as the sock_ops
 * program walks it (mig_opt_walk, and step by step as bpf_loop drives
 * mig_opt_step), and parsed at every offset as mig_dp's sig_opt does.
 *
 * The buffer is a heap block of exactly MIG_OPT_BUF_LEN bytes with a
 * zeroed tail, as the header requires, so AddressSanitizer sees any read
 * past it.  Checked: the walk and the stepping agree; a found option has
 * a known type, lies inside the area, and builds back to the same bytes
 * with the builders; results stay in the documented range.
 *
 * corpus/opt/crash-wscale-len20: a window scale option whose value byte
 * reads as a length of 20 followed by the ExID; mig_opt_parse_at, which
 * leaves the kind byte to its caller, took it for an MP_SYN there.  Right
 * by its contract (sig_opt checks the kind first); this harness compared
 * the kind byte too, and now does not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migrate/mig_opt.h>

#define FUZZ_ASSERT(c)                                                          \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",        \
				__FILE__, __LINE__, #c);                        \
			abort();                                                \
		}                                                               \
	} while (0)

/* The bytes the builders give for o, and their length (0: none). */
static size_t rebuild(const struct mig_opt *o, __u8 out[32])
{
	__u8 pub[32];
	__u8 sub;

	memset(pub, 0, sizeof(pub));
	switch (o->type) {
	case MIG_OPT_T_MPSYN:
		memcpy(pub, o->half, 16);
		mig_opt_build_mpsyn(out, pub);
		return MIG_OPT_LEN_MPSYN;
	case MIG_OPT_T_KEY2:
		memcpy(pub + 16, o->half, 16);
		mig_opt_build_key2(out, o->flags, pub);
		return MIG_OPT_LEN_KEY2;
	case MIG_OPT_T_KEY1:
		memcpy(pub, o->half, 16);
		mig_opt_build_key1(out, o->flags, pub);
		return MIG_OPT_LEN_KEY2;
	case MIG_OPT_T_MIGRATE:
	case MIG_OPT_T_MIGRATE_ACK:
	case MIG_OPT_T_CONFIRM:
		sub = o->type == MIG_OPT_T_MIGRATE ? MIG_SUB_MIGRATE :
		      o->type == MIG_OPT_T_MIGRATE_ACK ? MIG_SUB_MIGRATE_ACK : MIG_SUB_CONFIRM;
		mig_opt_build_sig(out, sub, o->reqno, o->id, o->mac);
		return MIG_OPT_LEN_SIG;
	}
	return 0;
}

/* A found option lies inside the area and is what the builders make of
 * it; from byte `from` on (mig_opt_parse_at leaves the kind byte to its
 * caller, so it checks from 1). */
static void check_found(const __u8 *buf, __u32 len, __u32 off, const struct mig_opt *o,
			size_t from)
{
	__u8 b[32];
	size_t n = rebuild(o, b);

	FUZZ_ASSERT(n > 0);
	FUZZ_ASSERT(off + n <= len);
	FUZZ_ASSERT(!memcmp(buf + off + from, b + from, n - from));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u8 *buf = calloc(1, MIG_OPT_BUF_LEN);
	__u32 len = size > MIG_OPT_AREA_MAX ? MIG_OPT_AREA_MAX : (__u32)size;
	__u32 off = 0, step, last = 0, found_at = 0;
	struct mig_opt o1, o2, o3;
	int r1, r2 = MIG_OPT_NONE, r;

	if (!buf)
		abort();
	memcpy(buf, data, len);

	/* the walk as mig_opt_walk does it */
	memset(&o1, 0, sizeof(o1));
	r1 = mig_opt_walk(buf, len, &o1);
	FUZZ_ASSERT(r1 >= MIG_OPT_BAD_SUB && r1 <= MIG_OPT_FOUND);

	/* the same, one step at a time (bpf_loop), noting where it stopped */
	memset(&o2, 0, sizeof(o2));
	for (step = 0; step < MIG_OPT_AREA_MAX; step++) {
		last = off;
		if (mig_opt_step(buf, len, &off, &r2, &o2))
			break;
		FUZZ_ASSERT(off > last && off <= len);
	}
	if (r2 == MIG_OPT_FOUND)
		found_at = last;
	FUZZ_ASSERT(r1 == r2);
	FUZZ_ASSERT(!memcmp(&o1, &o2, sizeof(o1)));
	if (r1 == MIG_OPT_FOUND) {
		FUZZ_ASSERT(buf[found_at] == MIG_OPT_KIND);
		check_found(buf, len, found_at, &o1, 0);
	}

	/* every offset, as mig_dp's sig_opt parses the option it expects */
	for (off = 0; off <= MIG_OPT_AREA_MAX + 1; off++) {
		memset(&o3, 0, sizeof(o3));
		r = mig_opt_parse_at(buf, off, off < len ? len - off : 0, &o3);
		FUZZ_ASSERT(r >= MIG_OPT_BAD_SUB && r <= MIG_OPT_FOUND && r != MIG_OPT_NONE);
		if (r == MIG_OPT_FOUND)
			check_found(buf, len, off, &o3, 1);
	}
	free(buf);
	return 0;
}
