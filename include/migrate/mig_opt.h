/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_opt.h - the Migrate TCP option (PROTOCOL.md section 2): layout,
 * builders and the one parser, shared by the BPF programs and the host
 * code (agent, unit tests).  No allocation, no libc: the BPF verifier must
 * accept every loop, so all walks are bounded by MIG_OPT_AREA_MAX and all
 * reads stay inside a MIG_OPT_BUF_LEN buffer.
 */
#ifndef MIGRATE_MIG_OPT_H
#define MIGRATE_MIG_OPT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Keeps the compiler from folding a bounds check the BPF verifier needs
 * into an earlier, equivalent one it cannot follow (verifier workaround). */
#ifdef __bpf__
#define MIG_BARRIER_VAR(v) asm volatile("" : "+r"(v))
#else
#define MIG_BARRIER_VAR(v) ((void)0)
#endif
/* After a check that v < 40: a mask the compiler cannot drop, so that the
 * verifier sees the bound on the very register used to index. */
#define MIG_OPT_BOUND(v) do { MIG_BARRIER_VAR(v); (v) &= 63; } while (0)

#define MIG_OPT_KIND     253      /* RFC 6994 shared experimental option */
#define MIG_OPT_EXID     0x4D47   /* "MG" */
#define MIG_OPT_EXID_HI  0x4D
#define MIG_OPT_EXID_LO  0x47

#define MIG_OPT_LEN_MPSYN 20
#define MIG_OPT_LEN_KEY2  22
#define MIG_OPT_LEN_SIG   25      /* MIGRATE, MIGRATE_ACK, CONFIRM */

#define MIG_SUB_KEY2        1
#define MIG_SUB_MIGRATE     2
#define MIG_SUB_MIGRATE_ACK 3
#define MIG_SUB_CONFIRM     4
/* 5 is RESET in PROTOCOL.md section 9 (sent as a RST payload tag here) */
#define MIG_SUB_KEY1        6   /* first half of the initiator's key, asked for */

#define MIG_KEY2_HAVE 0x01  /* "I hold your whole key" */
#define MIG_KEY2_DONE 0x02  /* "I saw your HAVE: do not answer this one" */
#define MIG_KEY2_NEED1 0x04 /* responder: "I lack the first half of your key"
			     * (its SYN/ACK was a syncookie, or its request
			     * state was lost): answered with KEY1 */

/* TCP options fill at most 40 bytes.  Option starts are masked to 0..63
 * for the verifier; buffers are larger so that a read at any masked start
 * plus the longest option (25) stays in bounds. */
#define MIG_OPT_AREA_MAX 40
#define MIG_OPT_BUF_LEN  96

enum mig_opt_type {
	MIG_OPT_T_NONE = 0,
	MIG_OPT_T_MPSYN,
	MIG_OPT_T_KEY2,
	MIG_OPT_T_MIGRATE,
	MIG_OPT_T_MIGRATE_ACK,
	MIG_OPT_T_CONFIRM,
	MIG_OPT_T_KEY1,
};

/* Results of the parser: > 0 found, 0 none, < 0 malformed (and why). */
enum mig_opt_res {
	MIG_OPT_FOUND     = 1,
	MIG_OPT_NONE      = 0,
	MIG_OPT_BAD_LEN   = -1,
	MIG_OPT_BAD_EXID  = -2,
	MIG_OPT_TRUNCATED = -3,
	MIG_OPT_BAD_SUB   = -4,
};

/* A parsed option.  Multi-byte fields stay in wire order except reqno. */
struct mig_opt {
	__u8  type;                /* enum mig_opt_type */
	__u8  flags;               /* KEY2 flags */
	__u8  pad[2];
	__u32 reqno;               /* host order */
	__u8  half[16];            /* MP_SYN, KEY2: public key half */
	__u8  id[8];               /* MIGRATE: token; ACK, CONFIRM: nonce */
	__u8  mac[8];
};

/*
 * Parse the option that starts at buf[off].  avail is how many bytes of
 * the option area remain from off.  Reads only buf[off .. off+24].
 */
static __always_inline int mig_opt_parse_at(const __u8 *buf, __u32 off,
					    __u32 avail, struct mig_opt *o)
{
	__u32 len, i;
	__u8 sub;

	if (off >= MIG_OPT_AREA_MAX || avail < 2)
		return MIG_OPT_TRUNCATED;
	MIG_OPT_BOUND(off);
	len = buf[off + 1];
	if (len > avail)
		return MIG_OPT_TRUNCATED;
	if (len < 4)
		return MIG_OPT_BAD_LEN;
	if (buf[off + 2] != MIG_OPT_EXID_HI || buf[off + 3] != MIG_OPT_EXID_LO)
		return MIG_OPT_BAD_EXID;

	if (len == MIG_OPT_LEN_MPSYN) {
		o->type = MIG_OPT_T_MPSYN;
		for (i = 0; i < 16; i++)
			o->half[i] = buf[off + 4 + i];
		return MIG_OPT_FOUND;
	}
	if (len < 5)
		return MIG_OPT_BAD_LEN;
	sub = buf[off + 4];
	if (sub == MIG_SUB_KEY2 || sub == MIG_SUB_KEY1) {
		if (len != MIG_OPT_LEN_KEY2)
			return MIG_OPT_BAD_LEN;
		o->type = sub == MIG_SUB_KEY2 ? MIG_OPT_T_KEY2 : MIG_OPT_T_KEY1;
		o->flags = buf[off + 5];
		for (i = 0; i < 16; i++)
			o->half[i] = buf[off + 6 + i];
		return MIG_OPT_FOUND;
	}
	if (sub == MIG_SUB_MIGRATE || sub == MIG_SUB_MIGRATE_ACK ||
	    sub == MIG_SUB_CONFIRM) {
		if (len != MIG_OPT_LEN_SIG)
			return MIG_OPT_BAD_LEN;
		o->type = sub == MIG_SUB_MIGRATE ? MIG_OPT_T_MIGRATE :
			  sub == MIG_SUB_MIGRATE_ACK ? MIG_OPT_T_MIGRATE_ACK :
			  MIG_OPT_T_CONFIRM;
		o->reqno = (__u32)buf[off + 5] << 24 | (__u32)buf[off + 6] << 16 |
			   (__u32)buf[off + 7] << 8 | buf[off + 8];
		for (i = 0; i < 8; i++) {
			o->id[i] = buf[off + 9 + i];
			o->mac[i] = buf[off + 17 + i];
		}
		return MIG_OPT_FOUND;
	}
	/* a length that fits no known sub: say which is wrong */
	if (len != MIG_OPT_LEN_KEY2 && len != MIG_OPT_LEN_SIG)
		return MIG_OPT_BAD_LEN;
	return MIG_OPT_BAD_SUB;
}

/*
 * One step of the walk over a TCP option area of len bytes (len <=
 * MIG_OPT_AREA_MAX; buf holds MIG_OPT_BUF_LEN bytes, the tail zeroed):
 * looks at the option at *off, parses it if it is kind 253, and advances
 * *off.  *res holds MIG_OPT_FOUND once a valid option is in *o, else the
 * first malformation seen, else MIG_OPT_NONE.  Returns 1 when the walk is
 * over.  Options of other kinds are skipped; a malformed length of any
 * option ends the walk (the kernel does the same).
 *
 * The step is the unit shared with BPF, where bpf_loop drives it so that
 * the verifier checks one step instead of every path through 40.
 */
static __always_inline int mig_opt_step(const __u8 *buf, __u32 len,
					__u32 *off_p, int *res,
					struct mig_opt *o)
{
	__u32 off = *off_p;
	__u8 kind, olen;
	int r;

	if (len > MIG_OPT_AREA_MAX)
		len = MIG_OPT_AREA_MAX;
	if (off >= len || off >= MIG_OPT_AREA_MAX)
		return 1;
	MIG_OPT_BOUND(off);
	kind = buf[off];
	if (kind == 0)          /* EOL */
		return 1;
	if (kind == 1) {        /* NOP */
		*off_p = off + 1;
		return 0;
	}
	if (off + 1 >= len) {
		if (kind == MIG_OPT_KIND && *res == MIG_OPT_NONE)
			*res = MIG_OPT_TRUNCATED;
		return 1;
	}
	olen = buf[off + 1];
	if (kind == MIG_OPT_KIND) {
		r = mig_opt_parse_at(buf, off, len - off, o);
		if (r == MIG_OPT_FOUND) {
			*res = r;
			return 1;
		}
		if (*res == MIG_OPT_NONE)
			*res = r;
	}
	if (olen < 2 || off + olen > len)
		return 1;
	*off_p = off + olen;
	return 0;
}

/* Walk a whole option area (see mig_opt_step) and return *res. */
static __always_inline int mig_opt_walk(const __u8 *buf, __u32 len,
					struct mig_opt *o)
{
	int res = MIG_OPT_NONE;
	__u32 off = 0, step;

	for (step = 0; step < MIG_OPT_AREA_MAX; step++)
		if (mig_opt_step(buf, len, &off, &res, o))
			break;
	return res;
}

/* Builders: write the whole option (kind, len, ExID, body) into out. */
static __always_inline void mig_opt_hdr(__u8 *out, __u8 len)
{
	out[0] = MIG_OPT_KIND;
	out[1] = len;
	out[2] = MIG_OPT_EXID_HI;
	out[3] = MIG_OPT_EXID_LO;
}

static __always_inline void mig_opt_build_mpsyn(__u8 out[MIG_OPT_LEN_MPSYN],
						const __u8 *pub /* 32 */)
{
	int i;

	mig_opt_hdr(out, MIG_OPT_LEN_MPSYN);
	for (i = 0; i < 16; i++)
		out[4 + i] = pub[i];
}

static __always_inline void mig_opt_build_key2(__u8 out[MIG_OPT_LEN_KEY2],
					       __u8 flags, const __u8 *pub /* 32 */)
{
	int i;

	mig_opt_hdr(out, MIG_OPT_LEN_KEY2);
	out[4] = MIG_SUB_KEY2;
	out[5] = flags;
	for (i = 0; i < 16; i++)
		out[6 + i] = pub[16 + i];
}

/* KEY1: the layout of KEY2 with the first half of the key; its second
 * byte is not flags but a mark: the first byte of the responder's public
 * key as the initiator received it (which epoch's responder key). */
static __always_inline void mig_opt_build_key1(__u8 out[MIG_OPT_LEN_KEY2],
					       __u8 mark, const __u8 *pub /* 32 */)
{
	int i;

	mig_opt_hdr(out, MIG_OPT_LEN_KEY2);
	out[4] = MIG_SUB_KEY1;
	out[5] = mark;
	for (i = 0; i < 16; i++)
		out[6 + i] = pub[i];
}

static __always_inline void mig_opt_build_sig(__u8 out[MIG_OPT_LEN_SIG],
					      __u8 sub, __u32 reqno,
					      const __u8 *id, const __u8 *mac)
{
	int i;

	mig_opt_hdr(out, MIG_OPT_LEN_SIG);
	out[4] = sub;
	out[5] = reqno >> 24;
	out[6] = reqno >> 16;
	out[7] = reqno >> 8;
	out[8] = reqno;
	for (i = 0; i < 8; i++) {
		out[9 + i] = id[i];
		out[17 + i] = mac[i];
	}
}

#endif /* MIGRATE_MIG_OPT_H */
