// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_crypto.c - mig_crypto against RFC 7748 (X25519), RFC 5869 (HKDF),
 * mig_siphash.h against the SipHash paper's vectors, and both against the
 * project's own version 2 vectors, which come from the independent Python
 * implementation in tests/unit/derive_vectors.py (see also
 * docs/protocol.md, "Test vectors").
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>

#include "mig_crypto.h"
#include "migrate/mig_siphash.h"
#include "unit.h"

#define HEX(s, buf) unit_hex(s, buf, sizeof(buf))

/* RFC 7748 section 6.1 */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_PRIV   "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUB    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define SHARED_K   "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

/* tests/unit/derive_vectors.py (protocol version 2): Alice initiator,
 * Bob responder, ISN_i 0x01020304, ISN_r 0xa0b0c0d0 */
#define VEC_ISN_I  0x01020304u
#define VEC_ISN_R  0xa0b0c0d0u
#define VEC_PRK    "98fa1bad28df141620e95f3b425cf0c3d2b3ba6d6c3f72d397bf7e6bd78724ae"
#define VEC_TOKEN  "c6dbbfb43c16f180"
#define VEC_K_I    "7504ac1165a2f3e770df1c6757fe83140d035a38d2f37e737ac340328e517f9b"
#define VEC_K_R    "b0cfeebd8f24532fa255e63ebf19207413069ac29f6a463afc04a6698557b836"
#define VEC_S_I    "3565710a4c21f09e9181a5cdd022dbfe"
#define VEC_S_R    "7f6ba92d958679615cb3e02f3e2cf9b8"

/* The mac and nonce examples (derive_vectors.py): reqno 1, challenge
 * 0x11223344, RESET seq 0x01020305 ack 0xa0b0c0d1, nonce key b = 10..1f,
 * wire = struct mig_tuple of 192.0.2.1:443 <-> 198.51.100.7:50000. */
#define VEC_REQNO     1u
#define VEC_CHALLENGE 0x11223344u
#define VEC_SEQ       0x01020305u
#define VEC_ACK       0xa0b0c0d1u
#define VEC_B         "101112131415161718191a1b1c1d1e1f"
#define VEC_WIRE      "c0000201000000000000000000000000" \
		      "c6336407000000000000000000000000" \
		      "01bbc35002000000"
#define VEC_NONCE_MSG VEC_WIRE "c6dbbfb43c16f18000000001"
#define VEC_NONCE     "370c398b23148251"
#define VEC_MIGRATE_MSG "02c6dbbfb43c16f18000000001"
#define VEC_MIGRATE     "84fc0a60d89c573f"   /* SipHash(s_i, ...) */
#define VEC_ACK_MSG     "030000000111223344370c398b23148251"
#define VEC_ACK_MAC     "021c720f6adb0183"   /* SipHash(s_r, ...) */
#define VEC_CONFIRM_MSG "0400000001370c398b23148251"
#define VEC_CONFIRM     "7373d7483598d94a"   /* SipHash(s_i, ...) */
#define VEC_RESET_MSG   "0501020305a0b0c0d1"
#define VEC_RESET       "193dade47f35fb8b"   /* SipHash(s_r, ...) */

TEST(x25519_rfc7748_5_2)
{
	static const struct {
		const char *scalar, *u, *out;
	} v[] = {
		{ "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
		  "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
		  "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552" },
		{ "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
		  "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
		  "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957" },
	};
	uint8_t k[32], u[32], want[32], got[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK(HEX(v[i].scalar, k) == 32, "hex");
		CHECK(HEX(v[i].u, u) == 32, "hex");
		CHECK(HEX(v[i].out, want) == 32, "hex");
		memset(got, 0xaa, sizeof(got));
		CHECK(mig_x25519(k, u, got) == 0, "vector %zu", i);
		CHECK_MEM(got, want, 32);
	}
}

TEST(x25519_rfc7748_6_1)
{
	uint8_t a[32], b[32], A[32], B[32], K[32], got[32];

	HEX(ALICE_PRIV, a);
	HEX(BOB_PRIV, b);
	HEX(ALICE_PUB, A);
	HEX(BOB_PUB, B);
	HEX(SHARED_K, K);

	CHECK(mig_x25519_public(a, got) == 0, "alice public");
	CHECK_MEM(got, A, 32);
	CHECK(mig_x25519_public(b, got) == 0, "bob public");
	CHECK_MEM(got, B, 32);
	CHECK(mig_x25519(a, B, got) == 0, "alice shared");
	CHECK_MEM(got, K, 32);
	CHECK(mig_x25519(b, A, got) == 0, "bob shared");
	CHECK_MEM(got, K, 32);
}

TEST(x25519_keypair)
{
	uint8_t a[32], A[32], b[32], B[32], pub[32], k1[32], k2[32];

	CHECK(mig_x25519_keypair(a, A) == 0, "keypair a");
	CHECK(mig_x25519_keypair(b, B) == 0, "keypair b");
	CHECK(memcmp(a, b, 32) != 0, "two keypairs share a private key");
	CHECK(mig_x25519_public(a, pub) == 0, "public a");
	CHECK_MEM(pub, A, 32);
	CHECK(mig_x25519(a, B, k1) == 0, "shared a");
	CHECK(mig_x25519(b, A, k2) == 0, "shared b");
	CHECK_MEM(k1, k2, 32);
	mig_wipe(a, sizeof(a));
	mig_wipe(b, sizeof(b));
	for (size_t i = 0; i < sizeof(a); i++)
		CHECK(a[i] == 0 && b[i] == 0, "mig_wipe left byte %zu", i);
}

TEST(x25519_rejects_zero_shared)
{
	/* Low-order points: 0, 1, and the order-8 point from the
	 * libsodium/Curve25519 blacklist. */
	static const char *const low[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
	};
	uint8_t a[32], peer[32], out[32];
	size_t i;

	HEX(ALICE_PRIV, a);
	for (i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		HEX(low[i], peer);
		memset(out, 0xaa, sizeof(out));
		CHECK(mig_x25519(a, peer, out) == -EINVAL, "low-order point %zu", i);
		for (size_t j = 0; j < sizeof(out); j++)
			CHECK(out[j] == 0, "output not wiped on failure");
	}
}

TEST(hkdf_rfc5869)
{
	static const struct {
		const char *ikm, *salt, *info, *prk, *okm;
		size_t L;
	} v[] = {
		{ /* test case 1 */
		  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		  "000102030405060708090a0b0c",
		  "f0f1f2f3f4f5f6f7f8f9",
		  "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
		  "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		  "34007208d5b887185865", 42 },
		{ /* test case 2 */
		  "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		  "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		  "404142434445464748494a4b4c4d4e4f",
		  "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		  "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		  "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
		  "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecf"
		  "d0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeef"
		  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
		  "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
		  "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c"
		  "59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71"
		  "cc30c58179ec3e87c14c01d5c1f3434f1d87", 82 },
		{ /* test case 3: no salt, no info */
		  "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
		  "",
		  "",
		  "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
		  "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
		  "9d201395faa4b61a96c8", 42 },
	};
	uint8_t ikm[80], salt[80], info[80], prk[32], okm[82], want_prk[32],
		want_okm[82], got_prk[32], got_okm[82];
	size_t i, ni, ns, nf;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ni = HEX(v[i].ikm, ikm);
		ns = HEX(v[i].salt, salt);
		nf = HEX(v[i].info, info);
		HEX(v[i].prk, want_prk);
		CHECK(HEX(v[i].okm, want_okm) == v[i].L, "hex");
		CHECK(mig_hkdf_extract(ns ? salt : NULL, ns, ikm, ni, got_prk) == 0,
		      "extract %zu", i);
		CHECK_MEM(got_prk, want_prk, 32);
		/* expand from the published PRK, so a bad extract does not hide
		 * a good expand */
		memcpy(prk, want_prk, 32);
		memset(got_okm, 0, sizeof(got_okm));
		CHECK(mig_hkdf_expand(prk, nf ? info : NULL, nf, got_okm, v[i].L) == 0,
		      "expand %zu", i);
		CHECK_MEM(got_okm, want_okm, v[i].L);
		/* a shorter request is a prefix */
		memset(okm, 0, sizeof(okm));
		CHECK(mig_hkdf_expand(prk, info, nf, okm, 33) == 0, "expand 33");
		CHECK_MEM(okm, want_okm, 33);
	}
	/* an empty (non-NULL) salt is the same as none (RFC 5869 2.2) */
	HEX(v[2].ikm, ikm);
	CHECK(mig_hkdf_extract(salt, 0, ikm, 22, got_prk) == 0, "empty salt");
	HEX(v[2].prk, want_prk);
	CHECK_MEM(got_prk, want_prk, 32);
}

TEST(derive_vectors)
{
	uint8_t A[32], B[32], K[32], token[8], k_i[32], k_r[32], s_i[16],
		s_r[16];
	struct mig_keys keys;

	HEX(ALICE_PUB, A);
	HEX(BOB_PUB, B);
	HEX(SHARED_K, K);
	HEX(VEC_TOKEN, token);
	HEX(VEC_K_I, k_i);
	HEX(VEC_K_R, k_r);
	HEX(VEC_S_I, s_i);
	HEX(VEC_S_R, s_r);

	/* the intermediate PRK, salt = ISN_i || ISN_r big-endian */
	{
		static const uint8_t salt[8] = { 0x01, 0x02, 0x03, 0x04,
						 0xa0, 0xb0, 0xc0, 0xd0 };
		uint8_t prk[32], want[32];

		HEX(VEC_PRK, want);
		CHECK(mig_hkdf_extract(salt, 8, K, 32, prk) == 0, "extract");
		CHECK_MEM(prk, want, 32);
	}

	memset(&keys, 0xaa, sizeof(keys));
	CHECK(mig_derive(K, VEC_ISN_I, VEC_ISN_R, A, B, &keys) == 0, "derive");
	CHECK_MEM(keys.token, token, 8);
	CHECK_MEM(keys.k_i, k_i, 32);
	CHECK_MEM(keys.k_r, k_r, 32);
	CHECK_MEM(keys.s_i, s_i, 16);
	CHECK_MEM(keys.s_r, s_r, 16);
	CHECK(memcmp(keys.k_i, keys.k_r, 32) != 0, "k_i == k_r");
	CHECK(memcmp(keys.s_i, keys.s_r, 16) != 0, "s_i == s_r");

	/* every input matters: swapped ISNs, swapped keys */
	CHECK(mig_derive(K, VEC_ISN_R, VEC_ISN_I, A, B, &keys) == 0, "derive");
	CHECK(memcmp(keys.token, token, 8) != 0, "ISN order ignored");
	CHECK(mig_derive(K, VEC_ISN_I, VEC_ISN_R, B, A, &keys) == 0, "derive");
	CHECK(memcmp(keys.token, token, 8) != 0, "key order ignored");
}

/* SipHash paper (Aumasson, Bernstein), appendix A and the reference
 * vectors.h: key 00 01 .. 0f, message 00 01 .. len-1, output bytes; the
 * lengths 0..MIG_SIP_MSG_MAX of the 64 (derive_vectors.py prints the same). */
TEST(siphash_paper_vectors)
{
	static const char *const v[MIG_SIP_MSG_MAX + 1] = {
		"310e0edd47db6f72", "fd67dc93c539f874", "5a4fa9d909806c0d", "2d7efbd796666785",
		"b7877127e09427cf", "8da699cd64557618", "cee3fe586e46c9cb", "37d1018bf50002ab",
		"6224939a79f5f593", "b0e4a90bdf82009e", "f3b9dd94c5bb5d7a", "a7ad6b22462fb3f4",
		"fbe50e86bc8f1e75", "903d84c02756ea14", "eef27a8e90ca23f7", "e545be4961ca29a1",
		"db9bc2577fcc2a3f", "9447be2cf5e99a69", "9cd38d96f0b3c14b", "bd6179a71dc96dbb",
		"98eea21af25cd6be", "c7673b2eb0cbf2d0", "883ea3e395675393", "c8ce5ccd8c030ca8",
		"94af49f6c650adb8", "eab8858ade92e1bc", "f315bb5bb835d817", "adcf6b0763612e2f",
		"a5c91da7acaa4dde", "716595876650a2a6", "28ef495c53a387ad", "42c341d8fa92d832",
		"ce7cf2722f512771", "e37859f94623f3a7", "381205bb1ab0e012", "ae97a10fd434e015",
		"b4a31508beff4d31", "81396229f0907902", "4d0cf49ee5d4dcca", "5c73336a76d8bf9a",
		"d0a704536ba93e0e", "925958fcd6420cad", "a915c29bc8067318", "952b79f3bc0aa6d4",
		"f21df2e41d4535f9", "87577519048f53a9", "10a56cf5dfcd9adb", "eb75095ccd986cd0",
		"51a9cb9ecba312e6", "96afadfc2ce666c7", "72fe52975a4364ee", "5a1645b276d592a1",
		"b274cb8ebf87870a", "6f9bb4203de7b381", "eaecb2a30b22a87f", "9924a43cc1315724",
		"bd838d3aafbf8db7",
	};
	uint8_t key[16], msg[MIG_SIP_MSG_MAX], want[8], got[8];
	uint32_t n;

	for (n = 0; n < 16; n++)
		key[n] = (uint8_t)n;
	for (n = 0; n < MIG_SIP_MSG_MAX; n++)
		msg[n] = (uint8_t)n;
	for (n = 0; n <= MIG_SIP_MSG_MAX; n++) {
		HEX(v[n], want);
		memset(got, 0xaa, sizeof(got));
		mig_siphash_out(mig_siphash(key, msg, n), got);
		CHECK(unit_memeq(got, want, 8, "siphash"), "length %u", n);
	}
	/* the paper's example as an integer: 15 bytes -> 0xa129ca6149be45e5 */
	CHECK(mig_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL, "paper vector");
	/* and serialised little-endian */
	mig_siphash_out(0xa129ca6149be45e5ULL, got);
	HEX("e545be4961ca29a1", want);
	CHECK_MEM(got, want, 8);
	/* unaligned input: the loads are byte-wise */
	{
		uint8_t shifted[MIG_SIP_MSG_MAX + 1];

		for (n = 0; n < MIG_SIP_MSG_MAX; n++)
			shifted[n + 1] = (uint8_t)n;
		mig_siphash_out(mig_siphash(key, shifted + 1, 55), got);
		HEX(v[55], want);
		CHECK_MEM(got, want, 8);
	}
}

/* Check that a builder wrote exactly want_hex into buf[0..len-1] and left
 * the rest of buf alone (it was 0xaa). */
static int msg_is(const uint8_t *buf, uint32_t len, const char *want_hex)
{
	uint8_t want[MIG_SIP_MSG_MAX];
	size_t n = unit_hex(want_hex, want, sizeof(want)), i;

	if (n != len || !unit_memeq(buf, want, n, "message"))
		return 0;
	for (i = n; i < MIG_SIP_MSG_MAX; i++)
		if (buf[i] != 0xaa)
			return 0;
	return 1;
}

TEST(sip_message_layouts)
{
	uint8_t token[8], nonce[8], wire[40], buf[MIG_SIP_MSG_MAX];

	HEX(VEC_TOKEN, token);
	HEX(VEC_NONCE, nonce);
	CHECK(HEX(VEC_WIRE, wire) == 40, "hex");

	memset(buf, 0xaa, sizeof(buf));
	CHECK(msg_is(buf, mig_sip_msg_migrate(token, VEC_REQNO, buf),
		     VEC_MIGRATE_MSG), "MIGRATE message");
	memset(buf, 0xaa, sizeof(buf));
	CHECK(msg_is(buf, mig_sip_msg_ack(VEC_REQNO, VEC_CHALLENGE, nonce, buf),
		     VEC_ACK_MSG), "MIGRATE_ACK message");
	memset(buf, 0xaa, sizeof(buf));
	CHECK(msg_is(buf, mig_sip_msg_confirm(VEC_REQNO, nonce, buf),
		     VEC_CONFIRM_MSG), "CONFIRM message");
	memset(buf, 0xaa, sizeof(buf));
	CHECK(msg_is(buf, mig_sip_msg_reset(VEC_SEQ, VEC_ACK, buf),
		     VEC_RESET_MSG), "RESET message");
	memset(buf, 0xaa, sizeof(buf));
	CHECK(msg_is(buf, mig_sip_msg_nonce(wire, token, VEC_REQNO, buf),
		     VEC_NONCE_MSG), "nonce message");
}

TEST(sip_mac_vectors)
{
	uint8_t s_i[16], s_r[16], b[16], token[8], nonce[8], wire[40],
		want[8], got[8], other[8];

	HEX(VEC_S_I, s_i);
	HEX(VEC_S_R, s_r);
	HEX(VEC_B, b);
	HEX(VEC_TOKEN, token);
	CHECK(HEX(VEC_WIRE, wire) == 40, "hex");

	mig_sip_nonce(b, wire, token, VEC_REQNO, nonce);
	HEX(VEC_NONCE, want);
	CHECK_MEM(nonce, want, 8);

	mig_sip_mac_migrate(s_i, token, VEC_REQNO, got);
	HEX(VEC_MIGRATE, want);
	CHECK_MEM(got, want, 8);
	mig_sip_mac_ack(s_r, VEC_REQNO, VEC_CHALLENGE, nonce, got);
	HEX(VEC_ACK_MAC, want);
	CHECK_MEM(got, want, 8);
	mig_sip_mac_confirm(s_i, VEC_REQNO, nonce, got);
	HEX(VEC_CONFIRM, want);
	CHECK_MEM(got, want, 8);
	mig_sip_mac_reset(s_r, VEC_SEQ, VEC_ACK, got);
	HEX(VEC_RESET, want);
	CHECK_MEM(got, want, 8);

	/* every input matters */
	mig_sip_mac_migrate(s_r, token, VEC_REQNO, other);
	HEX(VEC_MIGRATE, want);
	CHECK(memcmp(other, want, 8) != 0, "MIGRATE ignores the key");
	mig_sip_mac_migrate(s_i, token, VEC_REQNO + 1, other);
	CHECK(memcmp(other, want, 8) != 0, "MIGRATE ignores reqno");
	mig_sip_mac_ack(s_r, VEC_REQNO, VEC_CHALLENGE ^ 1, nonce, other);
	HEX(VEC_ACK_MAC, want);
	CHECK(memcmp(other, want, 8) != 0, "ACK ignores the challenge");
	mig_sip_mac_reset(s_r, VEC_SEQ, VEC_ACK + 1, other);
	HEX(VEC_RESET, want);
	CHECK(memcmp(other, want, 8) != 0, "RESET ignores ack");
	wire[36] ^= 1;   /* the family byte */
	mig_sip_nonce(b, wire, token, VEC_REQNO, other);
	CHECK(memcmp(other, nonce, 8) != 0, "nonce ignores the tuple");
	wire[36] ^= 1;
	token[7] ^= 1;
	mig_sip_nonce(b, wire, token, VEC_REQNO, other);
	CHECK(memcmp(other, nonce, 8) != 0, "nonce ignores the token");
}

/* The word-by-word tags (what the data path and the agent use) against
 * SipHash of the message the byte-wise builders write, on random inputs
 * at every alignment of the byte arguments. */
TEST(sip_words_match_messages)
{
	uint8_t raw[16 + 8 + 8 + 40 + 8], buf[MIG_SIP_MSG_MAX];
	uint32_t i, x, y, off;

	for (i = 0; i < 20000; i++) {
		const uint8_t *k, *t, *n, *w;

		if (getrandom(raw, sizeof(raw), 0) != sizeof(raw) ||
		    getrandom(&x, sizeof(x), 0) != sizeof(x) ||
		    getrandom(&y, sizeof(y), 0) != sizeof(y)) {
			CHECK(0, "getrandom");
			return;
		}
		off = i % 8;
		k = raw + off;
		t = k + 16;
		n = t + 8;
		w = n + 8;
#define SAME(tag, msg) (tag == mig_siphash(k, buf, msg))
		CHECK(SAME(mig_sip_tag_migrate(k, t, x), mig_sip_msg_migrate(t, x, buf)),
		      "MIGRATE, input %u", i);
		CHECK(SAME(mig_sip_tag_ack(k, x, y, n), mig_sip_msg_ack(x, y, n, buf)),
		      "MIGRATE_ACK, input %u", i);
		CHECK(SAME(mig_sip_tag_confirm(k, x, n), mig_sip_msg_confirm(x, n, buf)),
		      "CONFIRM, input %u", i);
		CHECK(SAME(mig_sip_tag_reset(k, x, y), mig_sip_msg_reset(x, y, buf)),
		      "RESET, input %u", i);
		CHECK(SAME(mig_sip_tag_nonce(k, w, t, x), mig_sip_msg_nonce(w, t, x, buf)),
		      "nonce, input %u", i);
#undef SAME
		if (*unit_failed)
			return;
	}
}

TEST(bad_arguments)
{
	uint8_t k[32] = { 9 }, out[72];
	struct mig_keys keys;

	CHECK(mig_x25519_keypair(NULL, out) == -EINVAL, "keypair priv");
	CHECK(mig_x25519_keypair(out, NULL) == -EINVAL, "keypair pub");
	CHECK(mig_x25519_public(NULL, out) == -EINVAL, "public priv");
	CHECK(mig_x25519_public(k, NULL) == -EINVAL, "public pub");
	CHECK(mig_x25519(NULL, k, out) == -EINVAL, "x25519 priv");
	CHECK(mig_x25519(k, NULL, out) == -EINVAL, "x25519 peer");
	CHECK(mig_x25519(k, k, NULL) == -EINVAL, "x25519 out");

	CHECK(mig_hkdf_extract(NULL, 3, k, 32, out) == -EINVAL, "salt");
	CHECK(mig_hkdf_extract(k, 32, NULL, 32, out) == -EINVAL, "ikm");
	CHECK(mig_hkdf_extract(k, 32, k, 32, NULL) == -EINVAL, "prk");
	CHECK(mig_hkdf_expand(NULL, k, 32, out, 32) == -EINVAL, "expand prk");
	CHECK(mig_hkdf_expand(k, NULL, 5, out, 32) == -EINVAL, "expand info");
	CHECK(mig_hkdf_expand(k, k, 32, NULL, 32) == -EINVAL, "expand okm");
	CHECK(mig_hkdf_expand(k, k, 32, out, 0) == -EINVAL, "expand 0");
	CHECK(mig_hkdf_expand(k, k, 32, out, 255 * 32 + 1) == -EINVAL,
	      "expand too long");

	CHECK(mig_derive(NULL, 1, 2, k, k, &keys) == -EINVAL, "derive K");
	CHECK(mig_derive(k, 1, 2, NULL, k, &keys) == -EINVAL, "derive pub_i");
	CHECK(mig_derive(k, 1, 2, k, NULL, &keys) == -EINVAL, "derive pub_r");
	CHECK(mig_derive(k, 1, 2, k, k, NULL) == -EINVAL, "derive out");

	mig_wipe(NULL, 10);   /* must not crash */
}

UNIT_MAIN()
