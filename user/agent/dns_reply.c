// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * dns_reply.c - reading the DNS worker's replies (see dns_reply.h).  Every
 * reply is hostile: ldns parses the wire bytes, and nothing here trusts a
 * count, a type or a length that the parsed records do not back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migrate/mig_abi.h>
#include "dns_reply.h"

/* Skip the domain name at *pos (labels, ending in a zero byte or a
 * compression pointer).  false if it runs past len or is malformed. */
static bool skip_name(const uint8_t *w, size_t len, size_t *pos)
{
	size_t p = *pos, n = 0;

	for (;;) {
		if (p >= len || ++n > 128)
			return false;
		if (w[p] == 0) {
			*pos = p + 1;
			return true;
		}
		if ((w[p] & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return false;
			*pos = p + 2;
			return true;
		}
		if (w[p] & 0xc0)
			return false;
		p += 1 + (size_t)w[p];
	}
}

/*
 * ldns_wire2pkt, after a walk over the message that refuses one with more
 * than one TSIG record in its additional section (RFC 8945 5.1: TSIG is
 * the last record, and only one).  ldns (1.8.3) keeps the last TSIG it
 * reads and leaks the one before, so every such reply leaked memory
 * (found by tests/fuzz/fuzz_dns.c; corpus/dns/leak-two-tsig*).
 */
static ldns_status reply_parse(ldns_pkt **pkt, const uint8_t *w, size_t len)
{
	size_t pos = 12, i, n, rdlen;
	unsigned int qd, an, ns, ar, tsig = 0;
	uint16_t type;

	*pkt = NULL;
	if (len < 12)
		return LDNS_STATUS_PACKET_OVERFLOW;
	qd = (unsigned int)(w[4] << 8 | w[5]);
	an = (unsigned int)(w[6] << 8 | w[7]);
	ns = (unsigned int)(w[8] << 8 | w[9]);
	ar = (unsigned int)(w[10] << 8 | w[11]);
	for (i = 0; i < qd; i++)
		if (!skip_name(w, len, &pos) || (pos += 4) > len)
			return LDNS_STATUS_PACKET_OVERFLOW;
	n = (size_t)an + ns + ar;
	for (i = 0; i < n; i++) {
		if (!skip_name(w, len, &pos) || pos + 10 > len)
			return LDNS_STATUS_PACKET_OVERFLOW;
		type = (uint16_t)(w[pos] << 8 | w[pos + 1]);
		rdlen = (size_t)(w[pos + 8] << 8 | w[pos + 9]);
		pos += 10 + rdlen;
		if (pos > len)
			return LDNS_STATUS_PACKET_OVERFLOW;
		if (i >= (size_t)an + ns && type == LDNS_RR_TYPE_TSIG && ++tsig > 1)
			return LDNS_STATUS_WIRE_INCOMPLETE_ADDITIONAL;
	}
	return ldns_wire2pkt(pkt, w, len);
}

static ldns_rr *answer_of(ldns_pkt *p, ldns_rr_type t)
{
	ldns_rr_list *an = ldns_pkt_answer(p);
	size_t i;

	for (i = 0; an && i < ldns_rr_list_rr_count(an); i++)
		if (ldns_rr_get_type(ldns_rr_list_rr(an, i)) == t)
			return ldns_rr_list_rr(an, i);
	return NULL;
}

int dns_reply_soa(const uint8_t *wire, size_t len, const char *zone,
		  char *mname, size_t mlen, char *why, size_t whylen)
{
	ldns_pkt *reply = NULL;
	ldns_rr *soa;
	char *m = NULL;
	int e = 0;

	if (reply_parse(&reply, wire, len) != LDNS_STATUS_OK) {
		snprintf(why, whylen, "malformed reply to the %s query", zone);
		return -EINVAL;
	}
	soa = answer_of(reply, LDNS_RR_TYPE_SOA);
	if (!soa || ldns_rr_rd_count(soa) < 1 ||
	    !(m = ldns_rdf2str(ldns_rr_rdf(soa, 0)))) {
		snprintf(why, whylen, "no SOA record for zone %s (rcode %d)", zone,
			 ldns_pkt_get_rcode(reply));
		e = -EINVAL;
	} else {
		snprintf(mname, mlen, "%s", m);
	}
	free(m);
	ldns_pkt_free(reply);
	return e;
}

/* The address of rr (type A or AAAA, one rdata of 4 or 16 bytes) into
 * addr; its family, or 0 if it has none. */
static int rr_addr(const ldns_rr *rr, ldns_rr_type t, uint8_t addr[16])
{
	const ldns_rdf *rd;
	size_t want = t == LDNS_RR_TYPE_A ? 4 : 16;

	if (ldns_rr_get_type(rr) != t || ldns_rr_rd_count(rr) != 1)
		return 0;
	rd = ldns_rr_rdf(rr, 0);
	if (!rd || ldns_rdf_size(rd) != want ||
	    ldns_rdf_get_type(rd) != (t == LDNS_RR_TYPE_A ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA))
		return 0;
	memcpy(addr, ldns_rdf_data(rd), want);
	return t == LDNS_RR_TYPE_A ? AF_INET : AF_INET6;
}

int dns_reply_addr(const uint8_t *wire, size_t len, ldns_rr_type t, uint16_t port,
		   struct sockaddr_storage *ss, socklen_t *sl)
{
	ldns_pkt *reply = NULL;
	uint8_t a[16];
	ldns_rr *rr;
	int fam = 0;

	if (t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA)
		return -EINVAL;
	if (reply_parse(&reply, wire, len) != LDNS_STATUS_OK)
		return -EINVAL;
	rr = answer_of(reply, t);
	if (rr)
		fam = rr_addr(rr, t, a);
	ldns_pkt_free(reply);
	if (!fam)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (fam == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		memcpy(&s->sin_addr, a, 4);
		*sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = htons(port);
		memcpy(&s->sin6_addr, a, 16);
		*sl = sizeof(*s);
	}
	return 0;
}

int dns_reply_addrs(const uint8_t *wire, size_t len, ldns_rr_type t, int name,
		    struct mig_peer_addr *out, int max)
{
	ldns_pkt *reply = NULL;
	ldns_rr_list *an;
	size_t k;
	int n = 0, fam;

	if (t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA)
		return -EINVAL;
	if (reply_parse(&reply, wire, len) != LDNS_STATUS_OK)
		return -EINVAL;
	an = ldns_pkt_answer(reply);
	for (k = 0; an && k < ldns_rr_list_rr_count(an) && n < max; k++) {
		uint8_t a[16];

		fam = rr_addr(ldns_rr_list_rr(an, k), t, a);
		if (!fam)
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		out[n].family = fam;
		memcpy(out[n].addr, a, fam == AF_INET ? 4 : 16);
		out[n].name = name;
		n++;
	}
	ldns_pkt_free(reply);
	return n;
}

static const char *tsig_error_name(unsigned int e)
{
	switch (e) {
	case 16: return "BADSIG";
	case 17: return "BADKEY";
	case 18: return "BADTIME";
	case 22: return "BADTRUNC";
	}
	return NULL;
}

static const char *rcode_name(unsigned int rcode, char *buf, size_t len)
{
	ldns_lookup_table *lt = ldns_lookup_by_id(ldns_rcodes, (int)rcode);

	if (lt && lt->name)
		return lt->name;
	snprintf(buf, len, "RCODE%u", rcode);
	return buf;
}

/*
 * ldns_pkt_tsig_verify, keeping the TSIG record tsig of reply in it: ldns
 * (1.8.3) detaches it while it computes the MAC and does not put it back
 * when that fails (a TSIG algorithm it does not know), so ldns_pkt_free
 * would no longer free it, and every such reply leaked it (found by
 * tests/fuzz/fuzz_dns.c; corpus/dns/leak-tsig-unknown-algorithm).
 */
static bool tsig_verify(ldns_pkt *reply, ldns_rr *tsig, const uint8_t *wire, size_t len,
			const char *key_name, const char *key_secret, const ldns_rdf *query_mac)
{
	bool ok = ldns_pkt_tsig_verify(reply, wire, len, key_name, key_secret, query_mac);

	if (ldns_pkt_tsig(reply) != tsig) {
		ldns_rr_free(ldns_pkt_tsig(reply));
		ldns_pkt_set_tsig(reply, tsig);
	}
	return ok;
}

int dns_reply_signed(const uint8_t *wire, size_t len, const char *key_name,
		     const char *key_secret, const ldns_rdf *query_mac)
{
	ldns_pkt *reply = NULL;
	ldns_rr *tsig;
	int ret;

	if (reply_parse(&reply, wire, len) != LDNS_STATUS_OK)
		return -EINVAL;
	tsig = ldns_pkt_tsig(reply);
	ret = tsig && tsig_verify(reply, tsig, wire, len, key_name, key_secret, query_mac) ?
		0 : -EPERM;
	ldns_pkt_free(reply);
	return ret;
}

int dns_reply_judge(const uint8_t *wire, size_t len, const ldns_rdf *query_mac,
		    const char *server, const char *key_name, const char *key_secret,
		    char *shorttxt, size_t slen, char *why, size_t wlen)
{
	unsigned int rcode, terr = 0;
	ldns_pkt *reply = NULL;
	ldns_rr *tsig;
	char buf[16];
	const char *tn, *rn;
	int ret;

	if (reply_parse(&reply, wire, len) != LDNS_STATUS_OK) {
		snprintf(shorttxt, slen, "malformed reply");
		snprintf(why, wlen, "malformed reply from %s: rejected", server);
		return MIG_DNS_ERROR;
	}
	rcode = ldns_pkt_get_rcode(reply);
	rn = rcode_name(rcode, buf, sizeof(buf));
	tsig = ldns_pkt_tsig(reply);
	if (tsig && ldns_rr_rd_count(tsig) > 5)
		terr = ldns_rdf2native_int16(ldns_rr_rdf(tsig, 5));
	if (ldns_pkt_get_opcode(reply) != LDNS_PACKET_UPDATE) {
		snprintf(shorttxt, slen, "bad reply");
		snprintf(why, wlen, "reply from %s is not an UPDATE reply", server);
		ret = MIG_DNS_ERROR;
	} else if (terr) {
		/* The server refused our signature; its reply is unsigned
		 * (BADSIG, BADKEY) or signed (BADTIME). */
		char en[24];

		tn = tsig_error_name(terr);
		if (tn)
			snprintf(en, sizeof(en), "%s", tn);
		else
			snprintf(en, sizeof(en), "TSIG error %u", terr);
		snprintf(shorttxt, slen, "TSIG failure (%s)", en);
		snprintf(why, wlen, "TSIG failure (%s/%s): %s %s key %s%s", rn, en, server,
			 terr == 17 ? "does not know" : "rejected our signature with",
			 key_name,
			 terr == 18 ? " (clocks differ by more than 5 minutes)" :
			 terr == 16 ? " (is the secret the server's?)" : "");
		ret = MIG_DNS_TSIG;
	} else if (!tsig) {
		snprintf(shorttxt, slen, "TSIG failure (unsigned %s)", rn);
		snprintf(why, wlen, "TSIG failure: the %s reply from %s is not signed%s", rn,
			 server,
			 rcode == LDNS_RCODE_NOTAUTH ? " (the server does not accept our key?)" : "");
		ret = MIG_DNS_TSIG;
	} else if (!tsig_verify(reply, tsig, wire, len, key_name, key_secret, query_mac)) {
		snprintf(shorttxt, slen, "TSIG failure (bad reply signature)");
		snprintf(why, wlen, "TSIG failure: the %s reply from %s does not verify with key %s",
			 rn, server, key_name);
		ret = MIG_DNS_TSIG;
	} else if (rcode != LDNS_RCODE_NOERROR) {
		snprintf(shorttxt, slen, "%s", rn);
		snprintf(why, wlen, "%s from %s%s", rn, server,
			 rcode == LDNS_RCODE_REFUSED ?
				" (does the zone's allow-update or update-policy admit the key?)" :
			 rcode == LDNS_RCODE_NOTAUTH ?
				" (the server is not authoritative for the zone)" :
			 rcode == LDNS_RCODE_NOTZONE ? " (name outside the zone)" : "");
		ret = MIG_DNS_RCODE;
	} else {
		snprintf(shorttxt, slen, "NOERROR");
		why[0] = '\0';
		ret = MIG_DNS_OK;
	}
	ldns_pkt_free(reply);
	return ret;
}
