// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_crypto.c - mig_crypto against RFC 7748 (X25519), RFC 5869 (HKDF)
 * and the project's own derivation vectors, which come from the independent
 * Python implementation in tests/unit/derive_vectors.py (see also
 * docs/protocol.md, "Test vectors").
 */
#include <errno.h>
#include <stdint.h>

#include "mig_crypto.h"
#include "unit.h"

#define HEX(s, buf) unit_hex(s, buf, sizeof(buf))

/* RFC 7748 section 6.1 */
#define ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define ALICE_PUB  "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define BOB_PRIV   "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define BOB_PUB    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define SHARED_K   "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

/* tests/unit/derive_vectors.py: Alice initiator, Bob responder,
 * ISN_i 0x01020304, ISN_r 0xa0b0c0d0 */
#define VEC_ISN_I  0x01020304u
#define VEC_ISN_R  0xa0b0c0d0u
#define VEC_PRK    "98fa1bad28df141620e95f3b425cf0c3d2b3ba6d6c3f72d397bf7e6bd78724ae"
#define VEC_TOKEN  "0f078ec0294539e3"
#define VEC_K_I    "5358b4254c4f473f6bfdde71696976f8cb580001d2314e001476adde97073595"
#define VEC_K_R    "ebd212c37ca938e52df261caf47eb6503f406e80b5f00022865628cb9571a0d6"
#define VEC_MAC_I2 "ad8198f2fb91d160"   /* mac(k_i, 2, token, 1) */
#define VEC_MAC_R3 "8ab61d73c6ca0142"   /* mac(k_r, 3, token, 1) */
#define VEC_MAC_I4 "e8b3efd653b72367"   /* mac(k_i, 4, token, 1) */
#define VEC_MAC_R2 "f3d26780bb402772"   /* mac(k_r, 2, token, 0xfffffffe) */

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
	uint8_t A[32], B[32], K[32], token[8], k_i[32], k_r[32];
	struct mig_keys keys;

	HEX(ALICE_PUB, A);
	HEX(BOB_PUB, B);
	HEX(SHARED_K, K);
	HEX(VEC_TOKEN, token);
	HEX(VEC_K_I, k_i);
	HEX(VEC_K_R, k_r);

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
	CHECK(memcmp(keys.k_i, keys.k_r, 32) != 0, "k_i == k_r");

	/* every input matters: swapped ISNs, swapped keys */
	CHECK(mig_derive(K, VEC_ISN_R, VEC_ISN_I, A, B, &keys) == 0, "derive");
	CHECK(memcmp(keys.token, token, 8) != 0, "ISN order ignored");
	CHECK(mig_derive(K, VEC_ISN_I, VEC_ISN_R, B, A, &keys) == 0, "derive");
	CHECK(memcmp(keys.token, token, 8) != 0, "key order ignored");
}

TEST(mac_vectors)
{
	uint8_t token[8], k_i[32], k_r[32], want[8], got[8];
	uint8_t m2[8], m3[8], m4[8];

	HEX(VEC_TOKEN, token);
	HEX(VEC_K_I, k_i);
	HEX(VEC_K_R, k_r);

	CHECK(mig_mac(k_i, 2, token, 1, got) == 0, "mac");
	HEX(VEC_MAC_I2, want);
	CHECK_MEM(got, want, 8);
	CHECK(mig_mac(k_r, 3, token, 1, got) == 0, "mac");
	HEX(VEC_MAC_R3, want);
	CHECK_MEM(got, want, 8);
	CHECK(mig_mac(k_i, 4, token, 1, got) == 0, "mac");
	HEX(VEC_MAC_I4, want);
	CHECK_MEM(got, want, 8);
	CHECK(mig_mac(k_r, 2, token, 0xfffffffeu, got) == 0, "mac");
	HEX(VEC_MAC_R2, want);
	CHECK_MEM(got, want, 8);

	/* the type byte and the key separate the three messages */
	CHECK(mig_mac(k_i, 2, token, 7, m2) == 0, "mac");
	CHECK(mig_mac(k_i, 3, token, 7, m3) == 0, "mac");
	CHECK(mig_mac(k_i, 4, token, 7, m4) == 0, "mac");
	CHECK(memcmp(m2, m3, 8) && memcmp(m2, m4, 8) && memcmp(m3, m4, 8),
	      "mac types 2/3/4 collide");
	CHECK(mig_mac(k_r, 2, token, 7, got) == 0, "mac");
	CHECK(memcmp(got, m2, 8) != 0, "k_i and k_r give the same mac");
	CHECK(mig_mac(k_i, 2, token, 8, got) == 0, "mac");
	CHECK(memcmp(got, m2, 8) != 0, "reqno ignored");
}

TEST(bad_arguments)
{
	uint8_t k[32] = { 9 }, out[72], tok[8] = { 0 };
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

	CHECK(mig_mac(NULL, 2, tok, 1, out) == -EINVAL, "mac k");
	CHECK(mig_mac(k, 2, NULL, 1, out) == -EINVAL, "mac token");
	CHECK(mig_mac(k, 2, tok, 1, NULL) == -EINVAL, "mac out");

	mig_wipe(NULL, 10);   /* must not crash */
}

UNIT_MAIN()
