// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mkcorpus.c - writes the seed corpus of the fuzz harnesses:
 * DIR/opt (option areas of real segments, made with mig_opt.h's builders),
 * DIR/config (configurations like the man page's, key text after a NUL)
 * and DIR/dns (replies made with ldns; the UPDATE replies signed with
 * fuzz_dns.h's key over its query MAC).  `make fuzz-corpus` runs it into
 * tests/fuzz/corpus; the result is committed, so this only runs when the
 * seeds are to change.  Each DNS seed is checked to say what it was made
 * to say before it is written.  The corpus also holds replies captured from
 * a real BIND (tests/fuzz/capture_dns.sh, dns/bind-*) and the inputs that
 * once crashed a harness.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <migrate/mig_abi.h>
#include <migrate/mig_opt.h>
#include "dns_reply.h"
#include "fuzz_dns.h"

static const char *dir;

static void put(const char *sub, const char *name, const void *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (mkdir(path, 0755) && errno != EEXIST) {
		perror(path);
		exit(EXIT_FAILURE);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(EXIT_FAILURE);
	}
}

/* ---- option areas --------------------------------------------------- */

/* MSS 1460, SACK-permitted, Timestamps, NOP, WS 7: a Linux SYN's 20 bytes */
static const __u8 syn_opts[20] = {
	0x02, 0x04, 0x05, 0xb4, 0x04, 0x02,
	0x08, 0x0a, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00,
	0x01, 0x03, 0x03, 0x07,
};
/* NOP, NOP, Timestamps: an established segment's 12 bytes */
static const __u8 ts_opts[12] = {
	0x01, 0x01, 0x08, 0x0a, 0x01, 0x02, 0x03, 0x04, 0xa0, 0xb0, 0xc0, 0xd0,
};

static void opt_seeds(void)
{
	__u8 pub[32], id[8], mac[8], a[64];
	int i;

	for (i = 0; i < 32; i++)
		pub[i] = (__u8)(0xa0 + i);
	for (i = 0; i < 8; i++) {
		id[i] = (__u8)(0x70 + i);
		mac[i] = (__u8)(0x30 + i);
	}
	/* SYN: the usual options, then MP_SYN (exactly 40) */
	memcpy(a, syn_opts, 20);
	mig_opt_build_mpsyn(a + 20, pub);
	put("opt", "syn-mpsyn", a, 40);
	/* SYN/ACK and the first ACK: timestamps, KEY2 (each flag), padding */
	memset(a, 1, sizeof(a));
	memcpy(a, ts_opts, 12);
	mig_opt_build_key2(a + 12, 0, pub);
	put("opt", "ack-key2", a, 36);
	mig_opt_build_key2(a + 12, MIG_KEY2_HAVE | MIG_KEY2_DONE, pub);
	put("opt", "ack-key2-have-done", a, 36);
	mig_opt_build_key2(a + 12, MIG_KEY2_NEED1, pub);
	put("opt", "ack-key2-need1", a, 36);
	mig_opt_build_key1(a + 12, 0xa0, pub);
	put("opt", "ack-key1", a, 36);
	/* the signalling segments' 28 bytes: the option, NOPs or a WS */
	memset(a, 1, sizeof(a));
	mig_opt_build_sig(a, MIG_SUB_MIGRATE, 1, id, mac);
	put("opt", "msyn-migrate", a, 28);
	mig_opt_build_sig(a, MIG_SUB_MIGRATE_ACK, 1, id, mac);
	a[25] = 3; a[26] = 3; a[27] = 7;
	put("opt", "msynack-migrate-ack-ws", a, 28);
	memset(a, 1, sizeof(a));
	mig_opt_build_sig(a, MIG_SUB_CONFIRM, 0x01020304, id, mac);
	put("opt", "confirm", a, 28);
	/* malformed: wrong ExID, a length past the end, an unknown sub */
	memcpy(a, syn_opts, 20);
	mig_opt_build_mpsyn(a + 20, pub);
	a[23] = 0x48;
	put("opt", "bad-exid", a, 40);
	memset(a, 1, sizeof(a));
	mig_opt_build_sig(a + 16, MIG_SUB_MIGRATE, 1, id, mac);
	put("opt", "truncated", a, 40);
	memset(a, 1, sizeof(a));
	mig_opt_build_sig(a, 9, 1, id, mac);
	put("opt", "bad-sub", a, 28);
	put("opt", "plain-ts", ts_opts, 12);
}

/* ---- configurations -------------------------------------------------- */

#define KEY_TEXT \
	"key \"host-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"" FZ_KEY_SECRET "\";\n};\n"

static void conf(const char *name, const char *text, const char *key)
{
	char buf[8192];
	size_t n = strlen(text);

	memcpy(buf, text, n);
	if (key) {
		buf[n++] = '\0';
		memcpy(buf + n, key, strlen(key));
		n += strlen(key);
	}
	put("config", name, buf, n);
}

static void config_seeds(void)
{
	conf("man-example",
	     "# /etc/migrate/agent.conf\n"
	     "pin_dir = /sys/fs/bpf/migrate\n"
	     "pool = 64\n"
	     "interface = eth0          # repeatable\n"
	     "interface = wlan0\n"
	     "\n"
	     "[dns]\n"
	     "zone = example.test.\n"
	     "name = host.example.test.         # repeatable\n"
	     "name = www.example.test.\n"
	     "server = 192.0.2.53               # else the SOA's MNAME\n"
	     "port = 53\n"
	     "key_file = /etc/migrate/tsig.key  # tsig-keygen -a hmac-sha256 host-key\n"
	     "peer = server.example.test.       # repeatable\n",
	     KEY_TEXT);
	conf("global-only",
	     "pin_dir = /sys/fs/bpf/migrate\r\ncgroup = /sys/fs/cgroup/app\r\npool = 0\r\n",
	     NULL);
	conf("dns-v6-soa",
	     "[dns]\n"
	     "zone = Example.Test\n"
	     "name = m.example.test\n"
	     "server = 2001:db8:53::53\n"
	     "key_file = /etc/migrate/k.key\n"
	     "peer = s.example.test.\n"
	     "peer = srv-2.example.test.\n",
	     "# tsig-keygen output\nkey \"host-key\" {\n\talgorithm HMAC-SHA256;\n"
	     "\tsecret \"" FZ_KEY_SECRET "\";\n}; /* end */\n");
	conf("dns-no-server",
	     "interface = lo0\n[dns]\nzone = example.test.\nname = a.example.test.\n"
	     "key_file = /k\n",
	     "// key\nkey host-key { secret \"" FZ_KEY_SECRET "\"; algorithm hmac-sha256; };\n");
	conf("refused-duplicate", "pool = 1\npool = 2\n", NULL);
	conf("refused-key", "[dns]\nzone = example.test.\nname = a.example.test.\nkey_file = /k\n",
	     "key \"host-key\" {\n\talgorithm hmac-md5;\n};\n");
}

/* ---- DNS replies ------------------------------------------------------ */

static ldns_rr *rr(const char *text)
{
	ldns_rr *r = NULL;

	if (ldns_rr_new_frm_str(&r, text, 0, NULL, NULL) != LDNS_STATUS_OK) {
		fprintf(stderr, "mkcorpus: bad RR '%s'\n", text);
		exit(EXIT_FAILURE);
	}
	return r;
}

/* A reply to a query for (name, t) with the given answer records (text,
 * NULL-terminated), rcode and AA. */
static ldns_pkt *answer(const char *name, ldns_rr_type t, ldns_pkt_rcode rcode,
			const char *const *an, const char *const *ns)
{
	ldns_pkt *p = ldns_pkt_query_new(ldns_dname_new_frm_str(name), t, LDNS_RR_CLASS_IN,
					 LDNS_RD);

	if (!p)
		exit(EXIT_FAILURE);
	ldns_pkt_set_id(p, 0x4d47);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	ldns_pkt_set_rcode(p, rcode);
	for (; an && *an; an++)
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr(*an));
	for (; ns && *ns; ns++)
		ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, rr(*ns));
	return p;
}

static size_t wire_of(ldns_pkt *p, int sel, uint8_t *out, size_t cap)
{
	uint8_t *w = NULL;
	size_t n = 0;

	if (ldns_pkt2wire(&w, p, &n) != LDNS_STATUS_OK || n + 1 > cap) {
		fprintf(stderr, "mkcorpus: cannot make wire bytes of a reply\n");
		exit(EXIT_FAILURE);
	}
	out[0] = (uint8_t)sel;
	memcpy(out + 1, w, n);
	free(w);
	ldns_pkt_free(p);
	return n + 1;
}

static void need(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "mkcorpus: seed %s does not say what it should\n", what);
		exit(EXIT_FAILURE);
	}
}

/* An UPDATE message for the zone with an empty update section (ldns
 * wants a list there); the reply echoes the zone section. */
static ldns_pkt *update_new(void)
{
	ldns_rr_list *up = ldns_rr_list_new();
	ldns_pkt *p = up ? ldns_update_pkt_new(ldns_dname_new_frm_str(FZ_ZONE),
					       LDNS_RR_CLASS_IN, NULL, up, NULL) : NULL;

	ldns_rr_list_free(up);
	return p;
}

/* The reply of the server to our signed UPDATE, with rcode; signed with
 * the key over the query's MAC unless tsig_error (then the TSIG record
 * carries that error, as a server's refusal does). */
static size_t update_reply(ldns_pkt_rcode rcode, uint16_t tsig_error, uint8_t *out, size_t cap)
{
	ldns_rdf *qmac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, sizeof(fz_qmac_rdata),
					       fz_qmac_rdata);
	ldns_pkt *p = update_new();

	if (!p || !qmac) {
		fprintf(stderr, "mkcorpus: out of memory\n");
		exit(EXIT_FAILURE);
	}
	ldns_pkt_set_id(p, 0x5a5a);
	ldns_pkt_set_rd(p, false);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rcode(p, rcode);
	ldns_status st = ldns_pkt_tsig_sign_next(p, FZ_KEY_NAME, FZ_KEY_SECRET, 300,
						 "hmac-sha256.", qmac, 0);

	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "mkcorpus: signing: %s\n", ldns_get_errorstr_by_id(st));
		exit(EXIT_FAILURE);
	}
	if (tsig_error) {
		ldns_rr *t = ldns_pkt_tsig(p);
		ldns_rdf *old = ldns_rr_set_rdf(t, ldns_native2rdf_int16(LDNS_RDF_TYPE_INT16,
									 tsig_error), 5);

		ldns_rdf_deep_free(old);
	}
	ldns_rdf_deep_free(qmac);
	return wire_of(p, FZ_DNS_UPDATE, out, cap);
}

static void judge_is(const uint8_t *w, size_t n, int want, const char *name)
{
	ldns_rdf *qmac = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16_DATA, sizeof(fz_qmac_rdata),
					       fz_qmac_rdata);
	char s[64], why[512];

	need(dns_reply_judge(w + 1, n - 1, qmac, "srv", FZ_KEY_NAME, FZ_KEY_SECRET, s,
			     sizeof(s), why, sizeof(why)) == want, name);
	ldns_rdf_deep_free(qmac);
	put("dns", name, w, n);
}

static void dns_seeds(void)
{
	static const char *const soa[] = {
		"example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. "
		"2026120101 3600 900 604800 0", NULL };
	static const char *const ns_a[] = { "ns.example.test. 0 IN A 192.0.2.53", NULL };
	static const char *const ns_aaaa[] = {
		"ns.example.test. 0 IN AAAA 2001:db8:53::53", NULL };
	static const char *const peer_a[] = {
		"www.example.test. 0 IN CNAME server.example.test.",
		"server.example.test. 0 IN A 203.0.113.1",
		"server.example.test. 0 IN A 203.0.113.2",
		"server.example.test. 0 IN RRSIG A 13 3 0 20270101000000 20261201000000 1 "
		"example.test. AAAA", NULL };
	static const char *const peer_aaaa[] = {
		"server.example.test. 0 IN AAAA 2001:db8:5::1",
		"server.example.test. 0 IN AAAA 2001:db8:5::2", NULL };
	uint8_t w[4096], mname_ok = 0;
	struct sockaddr_storage ss;
	struct mig_peer_addr pa[8];
	char m[300], why[256];
	socklen_t sl;
	size_t n;

	n = wire_of(answer(FZ_ZONE, LDNS_RR_TYPE_SOA, LDNS_RCODE_NOERROR, soa, NULL),
		    FZ_DNS_SOA, w, sizeof(w));
	mname_ok = !dns_reply_soa(w + 1, n - 1, FZ_ZONE, m, sizeof(m), why, sizeof(why)) &&
		   !strcmp(m, "ns.example.test.");
	need(mname_ok, "soa");
	put("dns", "soa", w, n);
	n = wire_of(answer(FZ_ZONE, LDNS_RR_TYPE_SOA, LDNS_RCODE_NXDOMAIN, NULL, soa),
		    FZ_DNS_SOA, w, sizeof(w));
	need(dns_reply_soa(w + 1, n - 1, FZ_ZONE, m, sizeof(m), why, sizeof(why)) == -EINVAL,
	     "soa-nxdomain");
	put("dns", "soa-nxdomain", w, n);
	n = wire_of(answer("ns.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, ns_a, NULL),
		    FZ_DNS_A, w, sizeof(w));
	need(!dns_reply_addr(w + 1, n - 1, LDNS_RR_TYPE_A, 53, &ss, &sl), "primary-a");
	put("dns", "primary-a", w, n);
	n = wire_of(answer("ns.example.test.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, ns_aaaa,
			   NULL), FZ_DNS_AAAA, w, sizeof(w));
	need(!dns_reply_addr(w + 1, n - 1, LDNS_RR_TYPE_AAAA, 53, &ss, &sl), "primary-aaaa");
	put("dns", "primary-aaaa", w, n);
	n = wire_of(answer("www.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, peer_a,
			   NULL), FZ_DNS_PEER_A, w, sizeof(w));
	need(dns_reply_addrs(w + 1, n - 1, LDNS_RR_TYPE_A, 0, pa, 8) == 2, "peer-a");
	put("dns", "peer-a", w, n);
	n = wire_of(answer("server.example.test.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
			   peer_aaaa, soa), FZ_DNS_PEER_AAAA, w, sizeof(w));
	need(dns_reply_addrs(w + 1, n - 1, LDNS_RR_TYPE_AAAA, 0, pa, 8) == 2, "peer-aaaa");
	put("dns", "peer-aaaa", w, n);

	n = update_reply(LDNS_RCODE_NOERROR, 0, w, sizeof(w));
	judge_is(w, n, MIG_DNS_OK, "update-noerror");
	n = update_reply(LDNS_RCODE_REFUSED, 0, w, sizeof(w));
	judge_is(w, n, MIG_DNS_RCODE, "update-refused");
	n = update_reply(LDNS_RCODE_NOTAUTH, 16, w, sizeof(w));
	judge_is(w, n, MIG_DNS_TSIG, "update-badsig");
	n = update_reply(LDNS_RCODE_NOTAUTH, 18, w, sizeof(w));
	judge_is(w, n, MIG_DNS_TSIG, "update-badtime");
	{
		ldns_pkt *p = update_new();

		ldns_pkt_set_id(p, 0x5a5a);
		ldns_pkt_set_rd(p, false);
		ldns_pkt_set_qr(p, true);
		ldns_pkt_set_rcode(p, LDNS_RCODE_NOTAUTH);
		n = wire_of(p, FZ_DNS_UPDATE, w, sizeof(w));
		judge_is(w, n, MIG_DNS_TSIG, "update-unsigned");
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mkcorpus DIR   (writes DIR/opt, DIR/config, DIR/dns)\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) && errno != EEXIST) {
		perror(dir);
		return EXIT_FAILURE;
	}
	opt_seeds();
	config_seeds();
	dns_seeds();
	return EXIT_SUCCESS;
}
