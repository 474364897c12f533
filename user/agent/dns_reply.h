/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dns_reply.h - what the DNS worker takes from the replies it gets: the
 * zone's primary from an SOA reply, addresses from A/AAAA replies, and the
 * verdict on an UPDATE reply.  Functions of the reply's wire bytes alone
 * (no socket, no state; judging takes the key as arguments), so that
 * tests/fuzz/fuzz_dns.c can feed them anything.
 */
#ifndef MIGRATE_AGENT_DNS_REPLY_H
#define MIGRATE_AGENT_DNS_REPLY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <ldns/ldns.h>

#include "dns.h"

/* A reply to the SOA query for zone: its first SOA record's MNAME, as text
 * with the trailing dot, into mname.  0, or -EINVAL with why saying what
 * is wrong. */
int dns_reply_soa(const uint8_t *wire, size_t len, const char *zone,
		  char *mname, size_t mlen, char *why, size_t whylen);

/* A reply to an A (t = LDNS_RR_TYPE_A) or AAAA query: the address of its
 * first record of type t into *ss (with port), its length into *sl.  0, or
 * -EINVAL (malformed, or no usable record). */
int dns_reply_addr(const uint8_t *wire, size_t len, ldns_rr_type t, uint16_t port,
		   struct sockaddr_storage *ss, socklen_t *sl);

/* The same for every record of type t: at most max addresses into out,
 * each with .name = name.  The number stored, or -EINVAL if malformed. */
int dns_reply_addrs(const uint8_t *wire, size_t len, ldns_rr_type t, int name,
		    struct mig_peer_addr *out, int max);

/* A reply to a query signed with key_name whose TSIG MAC was query_mac: 0
 * if it carries a TSIG record that verifies, -EPERM if not, -EINVAL if
 * malformed. */
int dns_reply_signed(const uint8_t *wire, size_t len, const char *key_name,
		     const char *key_secret, const ldns_rdf *query_mac);

/*
 * A reply to a signed UPDATE whose TSIG MAC was query_mac, from server
 * (text for messages): MIG_DNS_OK (NOERROR with a TSIG that verifies under
 * key_name / key_secret, base64), MIG_DNS_TSIG, MIG_DNS_RCODE or
 * MIG_DNS_ERROR; a short text (status) and a long one (log).
 */
int dns_reply_judge(const uint8_t *wire, size_t len, const ldns_rdf *query_mac,
		    const char *server, const char *key_name, const char *key_secret,
		    char *shorttxt, size_t slen, char *why, size_t wlen);

#endif
