/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_crypto.h - the key agreement of PROTOCOL.md section 3 (protocol
 * version 2), on OpenSSL's libcrypto.  Host code only.  The authenticators
 * and nonces of version 2 are SipHash-2-4 tags computed by
 * include/migrate/mig_siphash.h, shared with the BPF data path.
 * All functions return 0 or -errno.  Secret outputs are the caller's to
 * erase (mig_wipe).
 */
#ifndef MIGRATE_MIG_CRYPTO_H
#define MIGRATE_MIG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MIG_X25519_LEN 32
#define MIG_SHA256_LEN 32
/* token 8 || k_i 32 || k_r 32 || s_i 16 || s_r 16 */
#define MIG_OKM_LEN    104

struct mig_keys {
	uint8_t token[8];
	uint8_t k_i[32];   /* reserved: derived, unused by version 2 */
	uint8_t k_r[32];   /* reserved: derived, unused by version 2 */
	uint8_t s_i[16];   /* SipHash key of what the initiator sends */
	uint8_t s_r[16];   /* SipHash key of what the responder sends */
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

/* PROTOCOL.md 3.4 (version 2): token, k_i, k_r, s_i, s_r from K, the ISNs
 * (host order) and both public keys:
 * OKM = HKDF-SHA256(salt = ISN_i || ISN_r big-endian, IKM = K,
 *                   info = "tcp-migrate v2" || pub_i || pub_r, 104 bytes),
 * token = OKM[0..7], k_i = OKM[8..39], k_r = OKM[40..71],
 * s_i = OKM[72..87], s_r = OKM[88..103]. */
int mig_derive(const uint8_t K[MIG_X25519_LEN], uint32_t isn_i, uint32_t isn_r,
	       const uint8_t pub_i[MIG_X25519_LEN],
	       const uint8_t pub_r[MIG_X25519_LEN],
	       struct mig_keys *out);

#endif
