/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_crypto.h - the key agreement and authenticators of PROTOCOL.md
 * sections 3 and 4, on OpenSSL's libcrypto.  Host code only.
 * All functions return 0 or -errno.  Secret outputs are the caller's to
 * erase (mig_wipe).
 */
#ifndef MIGRATE_MIG_CRYPTO_H
#define MIGRATE_MIG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MIG_X25519_LEN 32
#define MIG_SHA256_LEN 32
#define MIG_OKM_LEN    72   /* token 8 || k_i 32 || k_r 32 */

struct mig_keys {
	uint8_t token[8];
	uint8_t k_i[32];   /* keys what the initiator sends */
	uint8_t k_r[32];   /* keys what the responder sends */
};

/* Erase secret memory in a way the compiler keeps. */
void mig_wipe(void *p, size_t n);

/* Fresh X25519 key pair from the system's CSPRNG. */
int mig_x25519_keypair(uint8_t priv[MIG_X25519_LEN], uint8_t pub[MIG_X25519_LEN]);

/* pub = X25519(priv, 9). */
int mig_x25519_public(const uint8_t priv[MIG_X25519_LEN], uint8_t pub[MIG_X25519_LEN]);

/* shared = X25519(priv, peer_pub).  -EINVAL if the result is all zero
 * (PROTOCOL.md 3.4: the connection then stays plain). */
int mig_x25519(const uint8_t priv[MIG_X25519_LEN],
	       const uint8_t peer_pub[MIG_X25519_LEN],
	       uint8_t shared[MIG_X25519_LEN]);

/* RFC 5869 with SHA-256. */
int mig_hkdf_extract(const uint8_t *salt, size_t salt_len,
		     const uint8_t *ikm, size_t ikm_len,
		     uint8_t prk[MIG_SHA256_LEN]);
int mig_hkdf_expand(const uint8_t prk[MIG_SHA256_LEN],
		    const uint8_t *info, size_t info_len,
		    uint8_t *okm, size_t okm_len);   /* okm_len <= 255*32 */

/* PROTOCOL.md 3.4: token, k_i, k_r from K, the ISNs (host order) and
 * both public keys. */
int mig_derive(const uint8_t K[MIG_X25519_LEN], uint32_t isn_i, uint32_t isn_r,
	       const uint8_t pub_i[MIG_X25519_LEN],
	       const uint8_t pub_r[MIG_X25519_LEN],
	       struct mig_keys *out);

/* PROTOCOL.md 4: HMAC-SHA256(k, "MIG1" || type || token || reqno_be)[0..7]. */
int mig_mac(const uint8_t k[32], uint8_t type, const uint8_t token[8],
	    uint32_t reqno, uint8_t mac[8]);

#endif
