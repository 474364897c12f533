// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_crypto.c - X25519, HKDF-SHA256 and the key derivation of PROTOCOL.md
 * section 3 (protocol version 2), on OpenSSL 3's EVP interfaces.  The
 * version 2 authenticators are SipHash tags (include/migrate/mig_siphash.h).
 *
 * Every function returns 0 or -errno: -EINVAL for bad input (including an
 * all-zero X25519 result), -ENOMEM when an allocation fails, -EIO when
 * libcrypto fails otherwise.  Each function frees everything through one
 * cleanup label and erases the secrets it kept on the stack.  On failure,
 * secret outputs are erased too.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/proverr.h>

#include "mig_crypto.h"

#define MIG_INFO_LABEL     "tcp-migrate v2"
#define MIG_INFO_LABEL_LEN 14           /* no NUL */
#define MIG_HKDF_MAX       (255 * MIG_SHA256_LEN)

void mig_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

/* A (pointer, length) pair is valid if the pointer is set or the length 0. */
static int buf_ok(const void *p, size_t n)
{
	return p != NULL || n == 0;
}

/* ------------------------------------------------------------------ */
/* HMAC-SHA256 over up to three pieces                                 */

struct piece {
	const void *p;
	size_t n;
};

static int hmac_sha256(const uint8_t *key, size_t key_len,
		       const struct piece *in, size_t nin,
		       uint8_t out[MIG_SHA256_LEN])
{
	static const uint8_t no_key[1];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t i, outl = 0;
	int err = -EIO;

	mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	if (!mac)
		goto out;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx) {
		err = -ENOMEM;
		goto out;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
						     (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	/* An empty key must still be a key (HMAC pads it with zeros). */
	if (!EVP_MAC_init(ctx, key_len ? key : no_key, key_len, params))
		goto out;
	for (i = 0; i < nin; i++)
		if (in[i].n && !EVP_MAC_update(ctx, in[i].p, in[i].n))
			goto out;
	if (!EVP_MAC_final(ctx, out, &outl, MIG_SHA256_LEN) ||
	    outl != MIG_SHA256_LEN)
		goto out;
	err = 0;
out:
	if (err)
		mig_wipe(out, MIG_SHA256_LEN);
	EVP_MAC_CTX_free(ctx);   /* clears its key copy */
	EVP_MAC_free(mac);
	return err;
}

/* ------------------------------------------------------------------ */
/* X25519                                                              */

/* 0 if all n bytes are zero, in time independent of the contents. */
static int ct_is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	size_t i;

	for (i = 0; i < n; i++)
		acc |= p[i];
	/* 1 iff acc == 0, without a data-dependent branch */
	return (int)((((unsigned int)acc) - 1u) >> 8) & 1;
}

int mig_x25519_keypair(uint8_t priv[MIG_X25519_LEN],
		       uint8_t pub[MIG_X25519_LEN])
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	size_t len;
	int err = -EIO;

	if (!priv || !pub)
		return -EINVAL;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", NULL);
	if (!ctx)
		goto out;
	if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &pkey) <= 0)
		goto out;
	len = MIG_X25519_LEN;
	if (!EVP_PKEY_get_raw_private_key(pkey, priv, &len) ||
	    len != MIG_X25519_LEN)
		goto out;
	len = MIG_X25519_LEN;
	if (!EVP_PKEY_get_raw_public_key(pkey, pub, &len) ||
	    len != MIG_X25519_LEN)
		goto out;
	err = 0;
out:
	if (err) {
		mig_wipe(priv, MIG_X25519_LEN);
		mig_wipe(pub, MIG_X25519_LEN);
	}
	EVP_PKEY_free(pkey);     /* erases the private key */
	EVP_PKEY_CTX_free(ctx);
	return err;
}

int mig_x25519_public(const uint8_t priv[MIG_X25519_LEN],
		      uint8_t pub[MIG_X25519_LEN])
{
	EVP_PKEY *pkey = NULL;
	size_t len = MIG_X25519_LEN;
	int err = -EIO;

	if (!priv || !pub)
		return -EINVAL;
	pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
					       MIG_X25519_LEN);
	if (!pkey)
		goto out;
	if (!EVP_PKEY_get_raw_public_key(pkey, pub, &len) ||
	    len != MIG_X25519_LEN)
		goto out;
	err = 0;
out:
	if (err)
		mig_wipe(pub, MIG_X25519_LEN);
	EVP_PKEY_free(pkey);
	return err;
}

int mig_x25519(const uint8_t priv[MIG_X25519_LEN],
	       const uint8_t peer_pub[MIG_X25519_LEN],
	       uint8_t shared[MIG_X25519_LEN])
{
	EVP_PKEY *own = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = MIG_X25519_LEN;
	unsigned long e;
	int err = -EIO;

	if (!priv || !peer_pub || !shared)
		return -EINVAL;
	own = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, priv,
					      MIG_X25519_LEN);
	peer = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer_pub,
					      MIG_X25519_LEN);
	if (!own || !peer)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL);
	if (!ctx)
		goto out;
	if (EVP_PKEY_derive_init(ctx) <= 0 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) <= 0)
		goto out;
	if (EVP_PKEY_derive(ctx, shared, &len) <= 0) {
		/*
		 * OpenSSL's X25519 itself refuses an all-zero result (a
		 * low-order peer key) and reports it as this reason; that
		 * is bad input, not a library failure.
		 */
		e = ERR_peek_last_error();
		if (ERR_GET_LIB(e) == ERR_LIB_PROV &&
		    ERR_GET_REASON(e) == PROV_R_FAILED_DURING_DERIVATION)
			err = -EINVAL;
		goto out;
	}
	if (len != MIG_X25519_LEN)
		goto out;
	/* PROTOCOL.md 3.4: an all-zero K leaves the connection plain. */
	if (ct_is_zero(shared, MIG_X25519_LEN)) {
		err = -EINVAL;
		goto out;
	}
	err = 0;
out:
	if (err)
		mig_wipe(shared, MIG_X25519_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(own);
	return err;
}

/* ------------------------------------------------------------------ */
/* HKDF-SHA256 (RFC 5869)                                              */

int mig_hkdf_extract(const uint8_t *salt, size_t salt_len,
		     const uint8_t *ikm, size_t ikm_len,
		     uint8_t prk[MIG_SHA256_LEN])
{
	static const uint8_t zero_salt[MIG_SHA256_LEN];
	struct piece in[1];

	if (!prk || !buf_ok(salt, salt_len) || !buf_ok(ikm, ikm_len))
		return -EINVAL;
	/* RFC 5869 2.2: no salt means HashLen zero bytes. */
	if (salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	in[0] = (struct piece){ ikm, ikm_len };
	return hmac_sha256(salt, salt_len, in, 1, prk);
}

int mig_hkdf_expand(const uint8_t prk[MIG_SHA256_LEN],
		    const uint8_t *info, size_t info_len,
		    uint8_t *okm, size_t okm_len)
{
	uint8_t t[MIG_SHA256_LEN];
	struct piece in[3];
	size_t done = 0, n;
	uint8_t ctr = 0;
	int err = 0;

	if (!prk || !okm || !buf_ok(info, info_len) || okm_len == 0 ||
	    okm_len > MIG_HKDF_MAX)
		return -EINVAL;
	while (done < okm_len) {
		ctr++;
		/* T(n) = HMAC(PRK, T(n-1) || info || n), T(0) empty */
		in[0] = (struct piece){ t, ctr > 1 ? sizeof(t) : 0 };
		in[1] = (struct piece){ info, info_len };
		in[2] = (struct piece){ &ctr, 1 };
		err = hmac_sha256(prk, MIG_SHA256_LEN, in, 3, t);
		if (err)
			goto out;
		n = okm_len - done < sizeof(t) ? okm_len - done : sizeof(t);
		memcpy(okm + done, t, n);
		done += n;
	}
out:
	if (err)
		mig_wipe(okm, okm_len);
	mig_wipe(t, sizeof(t));
	return err;
}

/* ------------------------------------------------------------------ */
/* PROTOCOL.md 3.4                                                    */

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int mig_derive(const uint8_t K[MIG_X25519_LEN], uint32_t isn_i, uint32_t isn_r,
	       const uint8_t pub_i[MIG_X25519_LEN],
	       const uint8_t pub_r[MIG_X25519_LEN],
	       struct mig_keys *out)
{
	uint8_t salt[8];
	uint8_t info[MIG_INFO_LABEL_LEN + 2 * MIG_X25519_LEN];
	uint8_t prk[MIG_SHA256_LEN];
	uint8_t okm[MIG_OKM_LEN];
	int err;

	if (!K || !pub_i || !pub_r || !out)
		return -EINVAL;

	put_be32(salt, isn_i);
	put_be32(salt + 4, isn_r);
	memcpy(info, MIG_INFO_LABEL, MIG_INFO_LABEL_LEN);
	memcpy(info + MIG_INFO_LABEL_LEN, pub_i, MIG_X25519_LEN);
	memcpy(info + MIG_INFO_LABEL_LEN + MIG_X25519_LEN, pub_r,
	       MIG_X25519_LEN);

	err = mig_hkdf_extract(salt, sizeof(salt), K, MIG_X25519_LEN, prk);
	if (err)
		goto out;
	err = mig_hkdf_expand(prk, info, sizeof(info), okm, sizeof(okm));
	if (err)
		goto out;
	memcpy(out->token, okm, sizeof(out->token));
	memcpy(out->k_i, okm + 8, sizeof(out->k_i));
	memcpy(out->k_r, okm + 40, sizeof(out->k_r));
	memcpy(out->s_i, okm + 72, sizeof(out->s_i));
	memcpy(out->s_r, okm + 88, sizeof(out->s_r));
out:
	if (err)
		mig_wipe(out, sizeof(*out));
	mig_wipe(prk, sizeof(prk));
	mig_wipe(okm, sizeof(okm));
	return err;
}
