/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_siphash.h - SipHash-2-4 and the authenticator and nonce messages of
 * protocol version 2 (PROTOCOL.md section 9), shared by the BPF programs
 * and the host code (agent, unit tests).
 *
 * Why SipHash: version 2 needs a PRF that the data path itself can run for
 * every Migrate segment (check a MIGRATE, CONFIRM or RESET tag, write a
 * MIGRATE_ACK tag and a fresh nonce) instead of looking up authenticators
 * the agent precomputed.  SipHash-2-4 is a keyed PRF with a 128-bit key and
 * a 64-bit output, cheap on short inputs and built from 64-bit add, rotate
 * and xor only, so the verifier accepts it as plain straight-line code.
 *
 * No allocation, no libc.  Every function is inlined; every loop has a
 * constant bound (messages are at most MIG_SIP_MSG_MAX bytes and their
 * lengths are compile-time constants at the call sites, so the compiler
 * unrolls everything).  mig_siphash loads byte-wise little-endian, so any
 * alignment is fine; the tags load keys and tokens 8 bytes at a time in
 * BPF (mig_sip_le64a: aligned there).  Multi-byte integers in the messages are big-endian;
 * all integer arguments are in host order.
 */
#ifndef MIGRATE_MIG_SIPHASH_H
#define MIGRATE_MIG_SIPHASH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#define MIG_SIP_KEY_LEN 16
#define MIG_SIP_TAG_LEN 8
#define MIG_SIP_MSG_MAX 56   /* longest message hashed (nonce: 52) */

/* First byte of each message (domain separation; equal to the option
 * sub-type for MIGRATE, MIGRATE_ACK and CONFIRM). */
#define MIG_SIP_D_MIGRATE     0x02
#define MIG_SIP_D_MIGRATE_ACK 0x03
#define MIG_SIP_D_CONFIRM     0x04
#define MIG_SIP_D_RESET       0x05

/* Message lengths (the wire contract). */
#define MIG_SIP_LEN_MIGRATE     13   /* 0x02 || token[8] || reqno */
#define MIG_SIP_LEN_MIGRATE_ACK 17   /* 0x03 || reqno || challenge || nonce[8] */
#define MIG_SIP_LEN_CONFIRM     13   /* 0x04 || reqno || nonce[8] */
#define MIG_SIP_LEN_RESET       9    /* 0x05 || seq || ack */
#define MIG_SIP_LEN_NONCE       52   /* wire[40] || token[8] || reqno */
#define MIG_SIP_WIRE_LEN        40   /* sizeof(struct mig_tuple) */

#define MIG_SIP_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define MIG_SIP_ROUND(v0, v1, v2, v3)                                     \
	do {                                                              \
		v0 += v1; v1 = MIG_SIP_ROTL(v1, 13); v1 ^= v0;            \
		v0 = MIG_SIP_ROTL(v0, 32);                                \
		v2 += v3; v3 = MIG_SIP_ROTL(v3, 16); v3 ^= v2;            \
		v0 += v3; v3 = MIG_SIP_ROTL(v3, 21); v3 ^= v0;            \
		v2 += v1; v1 = MIG_SIP_ROTL(v1, 17); v1 ^= v2;            \
		v2 = MIG_SIP_ROTL(v2, 32);                                \
	} while (0)

/* p[0..7] as a little-endian 64-bit integer. */
static __always_inline __u64 mig_sip_le64(const __u8 *p)
{
	return (__u64)p[0] | (__u64)p[1] << 8 | (__u64)p[2] << 16 |
	       (__u64)p[3] << 24 | (__u64)p[4] << 32 | (__u64)p[5] << 40 |
	       (__u64)p[6] << 48 | (__u64)p[7] << 56;
}

/* p[0..7] as a little-endian integer, p 8-byte aligned (a key, a token or
 * a nonce inside a map value or a struct of 8-byte alignment).  In BPF one
 * load; elsewhere as mig_sip_le64. */
static __always_inline __u64 mig_sip_le64a(const __u8 *p)
{
#if defined(__bpf__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return *(const __u64 *)(const void *)p;
#else
	return mig_sip_le64(p);
#endif
}

/* the 8 raw bytes at p (4-byte aligned: inside a struct mig_tuple) as a
 * little-endian integer: in BPF two 4-byte loads (the tuple may sit on
 * the stack, where the verifier refuses an 8-byte load at a 4-byte
 * boundary); elsewhere as mig_sip_le64 */
static __always_inline __u64 mig_sip_le64w(const void *p)
{
#if defined(__bpf__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const __u32 *w = (const __u32 *)p;

	return (__u64)w[0] | (__u64)w[1] << 32;
#else
	return mig_sip_le64((const __u8 *)p);
#endif
}

/* SipHash-2-4 of n full message words m[0..n-1] (n <= MIG_SIP_MSG_MAX / 8)
 * and the last word b (the message length in its top byte, the 0..7
 * remaining bytes below), keyed by k0 = key[0..7], k1 = key[8..15] read
 * little-endian. */
static __always_inline __u64 mig_sip_words(__u64 k0, __u64 k1, const __u64 *m,
					   __u32 n, __u64 b)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ k0;
	__u64 v1 = 0x646f72616e646f6dULL ^ k1;
	__u64 v2 = 0x6c7967656e657261ULL ^ k0;
	__u64 v3 = 0x7465646279746573ULL ^ k1;
	__u32 i;

	for (i = 0; i < MIG_SIP_MSG_MAX / 8; i++) {
		if (i >= n)
			break;
		v3 ^= m[i];
		MIG_SIP_ROUND(v0, v1, v2, v3);
		MIG_SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m[i];
	}
	v3 ^= b;
	MIG_SIP_ROUND(v0, v1, v2, v3);
	MIG_SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	MIG_SIP_ROUND(v0, v1, v2, v3);
	MIG_SIP_ROUND(v0, v1, v2, v3);
	MIG_SIP_ROUND(v0, v1, v2, v3);
	MIG_SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * SipHash-2-4 of msg[0..len-1] under key (k0 = key[0..7], k1 = key[8..15],
 * both little-endian, as the reference implementation).  len <=
 * MIG_SIP_MSG_MAX.  The byte-wise form of any message (the host code, the
 * tests); the data path's tags below form their words directly.
 */
static __always_inline __u64 mig_siphash(const __u8 key[16], const __u8 *msg,
					 __u32 len)
{
	__u64 m[MIG_SIP_MSG_MAX / 8], b = (__u64)(len & 0xff) << 56;
	__u32 i, n = 0, off, left;

	for (i = 0; i < MIG_SIP_MSG_MAX / 8; i++) {
		if (i * 8 + 8 > len)
			break;
		m[i] = mig_sip_le64(msg + i * 8);
		n++;
	}
	off = n * 8;
	left = len - off;     /* 0..7 */
	for (i = 0; i < 7; i++) {
		if (i >= left)
			break;
		b |= (__u64)msg[off + i] << (8 * i);
	}
	return mig_sip_words(mig_sip_le64(key), mig_sip_le64(key + 8), m, n, b);
}

/* h as 8 little-endian bytes: the reference implementation's output. */
static __always_inline void mig_siphash_out(__u64 h, __u8 out[8])
{
	__u32 i;

	for (i = 0; i < 8; i++)
		out[i] = (__u8)(h >> (8 * i));
}

static __always_inline void mig_sip_put_be32(__u8 *p, __u32 v)
{
	p[0] = (__u8)(v >> 24);
	p[1] = (__u8)(v >> 16);
	p[2] = (__u8)(v >> 8);
	p[3] = (__u8)v;
}

static __always_inline void mig_sip_put8(__u8 *p, const __u8 src[8])
{
	__u32 i;

	for (i = 0; i < 8; i++)
		p[i] = src[i];
}

/* ------------------------------------------------------------------ */
/* Message builders: write into buf, return the message length.        */

/* 0x02 || token[8] || reqno_be32 (13 bytes) */
static __always_inline __u32 mig_sip_msg_migrate(const __u8 token[8],
						 __u32 reqno,
						 __u8 buf[MIG_SIP_MSG_MAX])
{
	buf[0] = MIG_SIP_D_MIGRATE;
	mig_sip_put8(buf + 1, token);
	mig_sip_put_be32(buf + 9, reqno);
	return MIG_SIP_LEN_MIGRATE;
}

/* 0x03 || reqno_be32 || challenge_be32 || nonce[8] (17 bytes) */
static __always_inline __u32 mig_sip_msg_ack(__u32 reqno, __u32 challenge,
					     const __u8 nonce[8],
					     __u8 buf[MIG_SIP_MSG_MAX])
{
	buf[0] = MIG_SIP_D_MIGRATE_ACK;
	mig_sip_put_be32(buf + 1, reqno);
	mig_sip_put_be32(buf + 5, challenge);
	mig_sip_put8(buf + 9, nonce);
	return MIG_SIP_LEN_MIGRATE_ACK;
}

/* 0x04 || reqno_be32 || nonce[8] (13 bytes) */
static __always_inline __u32 mig_sip_msg_confirm(__u32 reqno,
						 const __u8 nonce[8],
						 __u8 buf[MIG_SIP_MSG_MAX])
{
	buf[0] = MIG_SIP_D_CONFIRM;
	mig_sip_put_be32(buf + 1, reqno);
	mig_sip_put8(buf + 5, nonce);
	return MIG_SIP_LEN_CONFIRM;
}

/* 0x05 || seq_be32 || ack_be32 (9 bytes) */
static __always_inline __u32 mig_sip_msg_reset(__u32 seq, __u32 ack,
					       __u8 buf[MIG_SIP_MSG_MAX])
{
	buf[0] = MIG_SIP_D_RESET;
	mig_sip_put_be32(buf + 1, seq);
	mig_sip_put_be32(buf + 5, ack);
	return MIG_SIP_LEN_RESET;
}

/* wire[40] || token[8] || reqno_be32 (52 bytes); wire40 is the raw bytes
 * of a struct mig_tuple (mig_abi.h). */
static __always_inline __u32 mig_sip_msg_nonce(const void *wire40,
					       const __u8 token[8], __u32 reqno,
					       __u8 buf[MIG_SIP_MSG_MAX])
{
	const __u8 *w = (const __u8 *)wire40;
	__u32 i;

	for (i = 0; i < MIG_SIP_WIRE_LEN; i++)
		buf[i] = w[i];
	mig_sip_put8(buf + MIG_SIP_WIRE_LEN, token);
	mig_sip_put_be32(buf + MIG_SIP_WIRE_LEN + 8, reqno);
	return MIG_SIP_LEN_NONCE;
}

/* ------------------------------------------------------------------ */
/* Tags, computed word by word.
 *
 * Each message above is a fixed layout of a few integers, so its 64-bit
 * little-endian message words can be formed from those integers directly,
 * with no message buffer written and read back a byte at a time (in BPF
 * each byte is a load, a shift and an or).  The result is the SipHash of
 * the message the builder above writes: tests/unit/test_crypto.c checks
 * both against each other and against the paper's vectors.  Integers are
 * big-endian on the wire; the little-endian word of the 4 bytes of v in
 * network order is mig_sip_bswap32(v), whatever the host's byte order. */

static __always_inline __u64 mig_sip_bswap32(__u32 v)
{
	return (__u64)__builtin_bswap32(v);
}

#define MIG_SIP_LAST(len) ((__u64)(len) << 56)

/* mig_sip_words under a key k that is 8-byte aligned (in a map value) */
static __always_inline __u64 mig_sip_keyed(const __u8 k[16], const __u64 *m,
					   __u32 n, __u64 b)
{
	return mig_sip_words(mig_sip_le64a(k), mig_sip_le64a(k + 8), m, n, b);
}

/* MIGRATE: s = s_sender (s_i or s_r of the host that sends it);
 * 0x02 || token[8] || reqno_be32.  The tag as an integer (the 8 output
 * bytes little-endian; mig_siphash_out writes them). */
static __always_inline __u64 mig_sip_tag_migrate(const __u8 s[16],
						 const __u8 token[8],
						 __u32 reqno)
{
	__u64 t = mig_sip_le64a(token);
	__u64 m = MIG_SIP_D_MIGRATE | t << 8;

	return mig_sip_keyed(s, &m, 1, MIG_SIP_LAST(MIG_SIP_LEN_MIGRATE) |
			     t >> 56 | mig_sip_bswap32(reqno) << 8);
}

/* 0x03 || reqno_be32 || challenge_be32 || nonce[8] */
static __always_inline __u64 mig_sip_tag_ack(const __u8 s[16], __u32 reqno,
					     __u32 challenge,
					     const __u8 nonce[8])
{
	__u64 n = mig_sip_le64(nonce), c = mig_sip_bswap32(challenge);
	__u64 m[2];

	m[0] = MIG_SIP_D_MIGRATE_ACK | mig_sip_bswap32(reqno) << 8 | c << 40;
	m[1] = c >> 24 | n << 8;
	return mig_sip_keyed(s, m, 2, MIG_SIP_LAST(MIG_SIP_LEN_MIGRATE_ACK) | n >> 56);
}

/* 0x04 || reqno_be32 || nonce[8] */
static __always_inline __u64 mig_sip_tag_confirm(const __u8 s[16], __u32 reqno,
						 const __u8 nonce[8])
{
	__u64 n = mig_sip_le64(nonce);
	__u64 m = MIG_SIP_D_CONFIRM | mig_sip_bswap32(reqno) << 8 | n << 40;

	return mig_sip_keyed(s, &m, 1, MIG_SIP_LAST(MIG_SIP_LEN_CONFIRM) | n >> 24);
}

/* 0x05 || seq_be32 || ack_be32 */
static __always_inline __u64 mig_sip_tag_reset(const __u8 s[16], __u32 seq,
					       __u32 ack)
{
	__u64 a = mig_sip_bswap32(ack);
	__u64 m = MIG_SIP_D_RESET | mig_sip_bswap32(seq) << 8 | a << 40;

	return mig_sip_keyed(s, &m, 1, MIG_SIP_LAST(MIG_SIP_LEN_RESET) | a >> 24);
}

/* nonce = SipHash(b, wire[40] || token[8] || reqno_be32); b is the host's
 * own nonce key, wire a struct mig_tuple. */
static __always_inline __u64 mig_sip_tag_nonce(const __u8 b[16],
					       const void *wire40,
					       const __u8 token[8], __u32 reqno)
{
	const __u8 *w = (const __u8 *)wire40;
	__u64 m[6];
	__u32 i;

	for (i = 0; i < 5; i++)
		m[i] = mig_sip_le64w(w + 8 * i);
	m[5] = mig_sip_le64a(token);
	return mig_sip_keyed(b, m, 6, MIG_SIP_LAST(MIG_SIP_LEN_NONCE) |
			     mig_sip_bswap32(reqno));
}

/* The same, written as the 8 output bytes into out[8]. */
static __always_inline void mig_sip_mac_migrate(const __u8 s[16],
						const __u8 token[8],
						__u32 reqno, __u8 out[8])
{
	mig_siphash_out(mig_sip_tag_migrate(s, token, reqno), out);
}

static __always_inline void mig_sip_mac_ack(const __u8 s[16], __u32 reqno,
					    __u32 challenge,
					    const __u8 nonce[8], __u8 out[8])
{
	mig_siphash_out(mig_sip_tag_ack(s, reqno, challenge, nonce), out);
}

static __always_inline void mig_sip_mac_confirm(const __u8 s[16],
						__u32 reqno,
						const __u8 nonce[8],
						__u8 out[8])
{
	mig_siphash_out(mig_sip_tag_confirm(s, reqno, nonce), out);
}

static __always_inline void mig_sip_mac_reset(const __u8 s[16], __u32 seq,
					      __u32 ack, __u8 out[8])
{
	mig_siphash_out(mig_sip_tag_reset(s, seq, ack), out);
}

static __always_inline void mig_sip_nonce(const __u8 b[16], const void *wire40,
					  const __u8 token[8], __u32 reqno,
					  __u8 out[8])
{
	mig_siphash_out(mig_sip_tag_nonce(b, wire40, token, reqno), out);
}

#endif
