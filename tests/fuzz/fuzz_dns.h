/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * fuzz_dns.h - what fuzz_dns.c and the seed maker mkcorpus.c agree on: the
 * selector byte, the zone, the TSIG key and the MAC of the UPDATE the
 * replies answer.  Test material only: the key guards nothing.
 */
#ifndef MIGRATE_FUZZ_DNS_H
#define MIGRATE_FUZZ_DNS_H

#include <stdint.h>

enum {
	FZ_DNS_SOA = 0,
	FZ_DNS_A,
	FZ_DNS_AAAA,
	FZ_DNS_PEER_A,
	FZ_DNS_PEER_AAAA,
	FZ_DNS_UPDATE,
};

#define FZ_ZONE       "example.test."
#define FZ_KEY_NAME   "host-key."
/* 32 bytes 0x01..0x20, base64 */
#define FZ_KEY_SECRET "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="

/* The query's TSIG MAC as ldns keeps it (an INT16_DATA rdf: length, then
 * the 32 bytes of an hmac-sha256). */
static const uint8_t fz_qmac_rdata[2 + 32] = {
	0x00, 0x20,
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
	0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf,
};

#endif
