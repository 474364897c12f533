// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_dns.c - the DNS worker's reply handling (user/agent/dns_reply.c):
 * the input's first byte says which reply it is (mod 6: the SOA reply,
 * an A or AAAA reply for the primary, an A or AAAA reply for a peer, the
 * reply to a signed UPDATE), the rest is the reply's wire bytes.
 *
 * UPDATE replies are judged with the key of tests/fuzz/mkcorpus.c and a
 * fixed query MAC, so that the seeds it signs verify.  Checked: results
 * in range, texts terminated, addresses of the family asked for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migrate/mig_abi.h>
#include "dns_reply.h"
#include "fuzz_dns.h"

#define FUZZ_ASSERT(c)                                                          \
	do {                                                                    \
		if (!(c)) {                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n",        \
				__FILE__, __LINE__, #c);                        \
			abort();                                                \
		}                                                               \
	} while (0)

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ldns_rdf *qmac;
	struct mig_peer_addr out[8];
	struct sockaddr_storage ss;
	char mname[LDNS_MAX_DOMAINLEN + 2], why[1024], shorttxt[MIG_DNS_TEXT_LEN];
	const uint8_t *w = data + 1;
	size_t n = size - 1;
	socklen_t sl = 0;
	int r, i;

	if (size < 1)
		return 0;
	if (!qmac) {
		qmac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, sizeof(fz_qmac_rdata),
					     fz_qmac_rdata);
		if (!qmac)
			abort();
	}
	memset(why, 0x55, sizeof(why));
	why[sizeof(why) - 1] = '\0';
	switch (data[0] % 6) {
	case FZ_DNS_SOA:
		memset(mname, 0x55, sizeof(mname));
		r = dns_reply_soa(w, n, FZ_ZONE, mname, sizeof(mname), why, sizeof(why));
		FUZZ_ASSERT(r == 0 || r == -EINVAL);
		if (r == 0)
			FUZZ_ASSERT(TERMINATED(mname) && mname[0]);
		else
			FUZZ_ASSERT(TERMINATED(why) && why[0]);
		break;
	case FZ_DNS_A:
	case FZ_DNS_AAAA: {
		ldns_rr_type t = data[0] % 6 == FZ_DNS_A ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;

		r = dns_reply_addr(w, n, t, 53, &ss, &sl);
		FUZZ_ASSERT(r == 0 || r == -EINVAL);
		if (r == 0)
			FUZZ_ASSERT(t == LDNS_RR_TYPE_A ?
				    ss.ss_family == AF_INET && sl == sizeof(struct sockaddr_in) :
				    ss.ss_family == AF_INET6 && sl == sizeof(struct sockaddr_in6));
		break;
	}
	case FZ_DNS_PEER_A:
	case FZ_DNS_PEER_AAAA: {
		ldns_rr_type t = data[0] % 6 == FZ_DNS_PEER_A ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA;

		/* room for fewer than the reply may hold: the bound is kept */
		r = dns_reply_addrs(w, n, t, 3, out, 4);
		FUZZ_ASSERT(r == -EINVAL || (r >= 0 && r <= 4));
		for (i = 0; i < r; i++)
			FUZZ_ASSERT(out[i].name == 3 &&
				    out[i].family == (t == LDNS_RR_TYPE_A ? AF_INET : AF_INET6));
		break;
	}
	case FZ_DNS_UPDATE:
		memset(shorttxt, 0x55, sizeof(shorttxt));
		r = dns_reply_judge(w, n, qmac, "192.0.2.53#53", FZ_KEY_NAME, FZ_KEY_SECRET,
				    shorttxt, sizeof(shorttxt), why, sizeof(why));
		FUZZ_ASSERT(r == MIG_DNS_OK || r == MIG_DNS_TSIG || r == MIG_DNS_RCODE ||
			    r == MIG_DNS_ERROR);
		FUZZ_ASSERT(TERMINATED(shorttxt) && shorttxt[0] && TERMINATED(why));
		/* the same bytes as the answer to a signed query */
		r = dns_reply_signed(w, n, FZ_KEY_NAME, FZ_KEY_SECRET, qmac);
		FUZZ_ASSERT(r == 0 || r == -EPERM || r == -EINVAL);
		break;
	}
	return 0;
}
