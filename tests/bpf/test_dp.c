// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_dp.c - the data path (bpf/mig_dp.bpf.c) against PROTOCOL.md 5-6 and
 * 9 (protocol version 2), packet in / verdict and packet out, through
 * bpf_prog_test_run_opts.  Every ingress case runs through the three
 * ingress programs, mig_in_tc, mig_in_xdp and mig_in_tc_l3 (devices
 * without a link-layer header), and both families; the egress cases
 * through mig_out_tc, and mig_out_tc_l3 in the L3 runs.
 *
 * The L3 programs get each frame without its Ethernet header (the packet
 * starts at the IP header, as on tun or WireGuard); test_run still takes
 * the first 14 bytes as a MAC header for skb->protocol, which the programs
 * do not read.  Their output gets the input's Ethernet header back (MACs
 * swapped on answers, which is what the Ethernet programs do) so that every
 * case compares whole frames the same way for all hooks.
 *
 *   private netns (see dp_fixture.h), one freshly loaded mig_dp skeleton,
 *   maps unpinned and emptied before each case, mig_host = { fx_boot }
 *
 *   cli 192.0.2.1:C  ====== real TCP, quiet ======  srv 203.0.113.1:P
 *   (mover, initiator, SipHash key s_i)     (fixed end, responder, key s_r)
 *        "moved to" 198.51.100.7:40000 (and .8:40001, a second candidate)
 *   IPv6 the same: 2001:db8::1 / 2001:db8:5::1, moved to 2001:db8:1::7, ::8
 *
 *   fixed end:  Migrate SYN  NEW -> srv   ==> mig_in_* ==>  SYN/ACK or RST
 *               CONFIRM      NEW -> srv   ==> mig_in_* ==>  dropped, commit
 *   mover:      SYN/ACK      srv -> NEW   ==> mig_in_* ==>  CONFIRM, commit
 *   migrated:   data NEW -> srv  ==> mig_in_*  ==> cli -> srv
 *               data srv -> cli  ==> mig_out_tc ==> srv -> NEW
 *               ICMP error quoting srv -> NEW (or NEW -> srv) ==> mig_in_*
 *               ==> the same error quoting srv -> cli (cli -> srv)
 *
 * The data path reads the sockets' sequence numbers with
 * bpf_skc_lookup_tcp; the expected values come from TCP_REPAIR on the
 * same, quiet, sockets (dp_fixture.h, fx_seqs).  Maps are filled the way
 * the agent fills them after key agreement: mig_flows[socket tuple] with
 * the fixed SipHash keys (s_own, s_peer), wire = socket tuple,
 * mig_tokens[token] = socket tuple; the mover's outstanding request in
 * mig_pend[its new wire tuple] = { socket tuple, reqno, challenge }.
 * Tags and nonces expected here are computed with mig_siphash.h from the
 * same keys and the fixed boot secret (dp_fixture.h, fx_mac_*, fx_nonce);
 * the SipHash code itself is checked against the reference vectors first.
 *
 * Expected frames are built from scratch with full checksums (fx_build)
 * and compared byte for byte; outputs are also checked by recomputing
 * their checksums.  On a mismatch both frames are printed as hex.
 *
 * Layout of the answers, as mig_dp builds them: a 48-byte TCP header whose
 * option space is the 25-byte Migrate option, then NOPs; the Migrate
 * SYN/ACK puts a window scale option (the fixed end socket's receive
 * shift, read here with TCP_INFO) in the last 3 bytes when the connection
 * scales windows, for NAT conntrack on the way.  Window: the received
 * segment's, 0 on RSTs.  IPv4 ID, TOS and IPv6 flow label are kept.
 *
 * Not testable here: test_run hands the programs linear skbs and XDP
 * buffers with full checksums (CHECKSUM_NONE; on Linux 6.18 bpf_csum_update
 * under test_run still answers -ENOTSUPP, so no CHECKSUM_COMPLETE either).
 * test_run does take gso_size and gso_segs from the context, so GSO and
 * BIG TCP lengths are tested (rewrite_gso), but with a full checksum, not
 * the pseudo-header sum of CHECKSUM_PARTIAL.  The two other checksum
 * states (CHECKSUM_PARTIAL: local senders, GSO, GRO; CHECKSUM_COMPLETE:
 * skb->csum kept right, see mig_rewrite) are left to real traffic over
 * veth with offloads on and off (tests/integration/test_offload.sh).
 * The XDP rewrite's incremental update is right only for full checksums,
 * which is all test_run gives it, and all a wire gives.  Transit (a FIB
 * that forwards) is not set up here: this netns does not forward, so
 * every signalling segment is ours.
 * Candidate expiry (MIG_CAND_TTL_NS, 5 s) is simulated by writing a past
 * expires_ns into the flow, not waited for.
 *
 * Root only (unshare, TCP_REPAIR, BPF).  Nothing is pinned; the netns and
 * its sockets die with the process.
 */
#ifndef TC_ACT_STOLEN
#define TC_ACT_STOLEN 4   /* held: taken, reported as sent */
#endif
#include <net/if.h>
#include <netinet/ether.h>

#include "dp_fixture.h"
#include "unit.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

struct hook {
	const char *name;
	bool skb;
	int fd;
	__u32 pass, drop, tx;
	bool l3;                /* no link-layer header (mig_*_tc_l3) */
	const struct hook *out; /* the egress program of the same kind */
};

static struct mig_dp *skel;
static struct fx_conn conns[2];           /* [0] IPv4, [1] IPv6 */
#define NHOOKS 3
static struct hook hooks[NHOOKS];         /* ingress: TC, XDP, TC on L3 */
static struct hook out_hooks[2];          /* egress: TC, TC on L3 */
static struct ring_buffer *events;
static int setup_state;                   /* 0 not tried, 1 ok, -1 failed */

/* Events the data path raised since the last sc_init (the last 32). */
static struct mig_event evs[32];
static int nev;

static int on_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(struct mig_event)) {
		memcpy(&evs[nev % 32], data, sizeof(struct mig_event));
		nev++;
	}
	return 0;
}

static void teardown(void)
{
	fx_conn_close(&conns[0]);
	fx_conn_close(&conns[1]);
	ring_buffer__free(events);
	events = NULL;
	mig_dp__destroy(skel);
	skel = NULL;
}

static int setup(void)
{
	if (setup_state)
		return setup_state > 0 ? 0 : -1;
	setup_state = -1;
	conns[0].lfd = conns[0].srv.fd = conns[0].cli.fd = -1;
	conns[1].lfd = conns[1].srv.fd = conns[1].cli.fd = -1;
	if (geteuid() != 0) {
		fprintf(stderr, "  test_dp needs root (netns, TCP_REPAIR, BPF)\n");
		return -1;
	}
	if (fx_netns() || fx_pin_cpu())
		return -1;
	atexit(teardown);
#ifdef TEST_DP_BUILD
	setenv("MIGRATE_DP_TC_CSUM", TEST_DP_BUILD, 1);
#endif
	skel = fx_dp_open_and_load();
	if (!skel) {
		fprintf(stderr, "  loading %s: %s\n", fx_dp_build, strerror(errno));
		return -1;
	}
	fprintf(stderr, "  (data path build: %s)\n", fx_dp_build);
	events = ring_buffer__new(bpf_map__fd(skel->maps.mig_events), on_event, NULL, NULL);
	if (!events) {
		fprintf(stderr, "  ring buffer: %s\n", strerror(errno));
		return -1;
	}
	if (fx_conn_open(AF_INET, &conns[0]) || fx_conn_open(AF_INET6, &conns[1]))
		return -1;
	out_hooks[0] = (struct hook){ "tc-egress", true,
				      bpf_program__fd(skel->progs.mig_out_tc),
				      TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT, false, NULL };
	out_hooks[1] = (struct hook){ "tc-egress-l3", true,
				      bpf_program__fd(skel->progs.mig_out_tc_l3),
				      TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT, true, NULL };
	hooks[0] = (struct hook){ "tc", true, bpf_program__fd(skel->progs.mig_in_tc),
				  TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT, false, &out_hooks[0] };
	hooks[1] = (struct hook){ "xdp", false, bpf_program__fd(skel->progs.mig_in_xdp),
				  XDP_PASS, XDP_DROP, XDP_TX, false, &out_hooks[0] };
	hooks[2] = (struct hook){ "tc-l3", true, bpf_program__fd(skel->progs.mig_in_tc_l3),
				  TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT, true, &out_hooks[1] };
	setup_state = 1;
	return 0;
}

/* One scenario: a connection and where its mover "moved" to. */
struct sc {
	struct fx_conn *c;
	int family;
	const char *fam;
	const struct hook *h;
	__u32 new_addr[4], new_addr2[4];
	__u16 new_port, new_port2;        /* be */
	struct mig_tuple a_wire;          /* fixed end's view of NEW:new_port */
	struct mig_tuple a_wire2;         /* ... of NEW2:new_port2 */
	struct mig_tuple a_wire3;         /* ... of NEW2:new_port (a third tuple) */
	struct mig_tuple b_wire;          /* mover's view of the new wire */
};

static void sc_init(struct sc *s, int fi, int hi)
{
	memset(s, 0, sizeof(*s));
	s->c = &conns[fi];
	s->family = fi ? AF_INET6 : AF_INET;
	s->fam = fi ? "v6" : "v4";
	s->h = &hooks[hi];
	fx_addr(s->family, fi ? FX_NEW6 : FX_NEW4, s->new_addr);
	fx_addr(s->family, fi ? FX_NEW6B : FX_NEW4B, s->new_addr2);
	s->new_port = htons(FX_NEW_PORT);
	s->new_port2 = htons(FX_NEW_PORTB);
	fx_tuple(&s->a_wire, s->family, s->c->srv.t.laddr, s->c->srv.t.lport,
		 s->new_addr, s->new_port);
	fx_tuple(&s->a_wire2, s->family, s->c->srv.t.laddr, s->c->srv.t.lport,
		 s->new_addr2, s->new_port2);
	fx_tuple(&s->a_wire3, s->family, s->c->srv.t.laddr, s->c->srv.t.lport,
		 s->new_addr2, s->new_port);
	fx_tuple(&s->b_wire, s->family, s->new_addr, s->new_port,
		 s->c->srv.t.laddr, s->c->srv.t.lport);
	fx_reset(skel);
	ring_buffer__consume(events);
	nev = 0;
}

#define FOR_EACH_CASE(s)                                      \
	for (int fi_ = 0; fi_ < 2; fi_++)                     \
		for (int hi_ = 0; hi_ < NHOOKS; hi_++)        \
			if (sc_init(&(s), fi_, hi_), 1)

/* the egress program of the case's kind (Ethernet or L3) */
#define out_hook (*s.h->out)

/* The fixed end's view of a Migrate SYN's source (addr, port). */
static void a_wire_of(const struct sc *s, const __u32 addr[4], __u16 port,
		      struct mig_tuple *t)
{
	fx_tuple(t, s->family, s->c->srv.t.laddr, s->c->srv.t.lport, addr, port);
}

/* ---- running and comparing ----------------------------------------- */

static const char *verdict_name(const struct hook *h, __u32 v)
{
	if (v == h->pass)
		return h->skb ? "TC_ACT_OK" : "XDP_PASS";
	if (v == h->drop)
		return h->skb ? "TC_ACT_SHOT" : "XDP_DROP";
	if (v == h->tx)
		return h->skb ? "TC_ACT_REDIRECT" : "XDP_TX";
	if (h->skb && v == TC_ACT_STOLEN)
		return "TC_ACT_STOLEN";
	return "other";
}

/*
 * Run frame in (Ethernet) through h.  An L3 program gets it from the IP
 * header on, and its output gets the Ethernet header back, MACs swapped
 * when it answered (see the top of the file).
 */
static int hook_run(const struct hook *h, const __u8 *in, size_t len, __u32 mark,
		    int repeat, struct fx_res *r)
{
	__u8 eth[14];
	int err;

	if (!h->l3 || len < 14 + 20)
		return fx_run(h->fd, h->skb, in, len, mark, repeat, r);
	err = fx_run(h->fd, h->skb, in + 14, len - 14, mark, repeat, r);
	if (err)
		return err;
	memcpy(eth, in, 14);
	if (r->ret == h->tx) {
		memcpy(eth, in + 6, 6);
		memcpy(eth + 6, in, 6);
	}
	if (r->len + 14 > sizeof(r->out))
		return r->err = -E2BIG;
	memmove(r->out + 14, r->out, r->len);
	memcpy(r->out, eth, 14);
	r->len += 14;
	return 0;
}

/*
 * Run frame in through h; want the verdict, and (want != NULL) the output
 * frame byte for byte with verifying checksums.  For TX verdicts under TC
 * the skb must also carry MIG_MARK (egress leaves the answer alone).
 */
static int expect(int *unit_failed, const struct sc *s, const struct hook *h,
		  const char *what, const __u8 *in, size_t inlen, __u32 mark,
		  __u32 verdict, const __u8 *want, size_t wlen, struct fx_res *r)
{
	int ok = 1;

	if (hook_run(h, in, inlen, mark, 1, r)) {
		CHECK(0, "%s %s [%s]: test_run: %s", what, s->fam, h->name, strerror(-r->err));
		return 0;
	}
	if (r->ret != verdict) {
		CHECK(0, "%s %s [%s]: verdict %u (%s), want %u (%s)", what, s->fam,
		      h->name, r->ret, verdict_name(h, r->ret), verdict,
		      verdict_name(h, verdict));
		ok = 0;
	}
	if (h->skb && verdict == h->tx && r->mark != MIG_MARK) {
		CHECK(0, "%s %s [%s]: mark 0x%x, want MIG_MARK", what, s->fam, h->name, r->mark);
		ok = 0;
	}
	if (!want)
		return ok;
	if (!fx_csum_ok(r->out, r->len)) {
		CHECK(0, "%s %s [%s]: output checksums do not verify", what, s->fam, h->name);
		fx_hexdiff(stderr, r->out, r->len, want, wlen);
		ok = 0;
	}
	fx_csum_norm(r->out, r->len);
	if (r->len != wlen || memcmp(r->out, want, wlen)) {
		CHECK(0, "%s %s [%s]: output frame differs", what, s->fam, h->name);
		fx_hexdiff(stderr, r->out, r->len, want, wlen);
		ok = 0;
	}
	return ok;
}

/* ---- maps ------------------------------------------------------------- */

static int map_get(struct bpf_map *m, const void *k, void *v)
{
	return bpf_map_lookup_elem(bpf_map__fd(m), k, v) ? -errno : 0;
}

/* (a test's own writes to the translations: the filter made right) */
static int map_put(struct bpf_map *m, const void *k, const void *v)
{
	int r = bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY) ? -errno : 0;

	if (m == skel->maps.mig_ingress || m == skel->maps.mig_egress)
		fx_xf_sync(skel);
	return r;
}

static int map_del(struct bpf_map *m, const void *k)
{
	int r = bpf_map_delete_elem(bpf_map__fd(m), k) ? -errno : 0;

	if (m == skel->maps.mig_ingress || m == skel->maps.mig_egress)
		fx_xf_sync(skel);
	return r;
}

/* A fixed end's flow for socket tuple t, as the agent writes it. */
static int install_fixed_t(const struct mig_tuple *t, __u32 peer_reqno, struct mig_flow *f)
{
	struct mig_token_key tk;

	fx_flow(f, t, false, peer_reqno, 0);
	memcpy(tk.token, fx_token, 8);
	return map_put(skel->maps.mig_flows, t, f) || map_put(skel->maps.mig_tokens, &tk, t);
}

/* The fixed end's flow (srv socket). */
static int install_fixed(const struct sc *s, __u32 peer_reqno, struct mig_flow *f)
{
	return install_fixed_t(&s->c->srv.t, peer_reqno, f);
}

/* The mover's flow (cli socket) and the mig_pend entry the agent writes
 * when it sends a Migrate SYN (reqno, FX_CHALLENGE) from the new wire
 * tuple. */
static int install_mover(const struct sc *s, __u32 reqno, struct mig_flow *f)
{
	struct mig_pend pe;

	fx_flow(f, &s->c->cli.t, true, 0, 0);
	memset(&pe, 0, sizeof(pe));
	pe.sock = s->c->cli.t;
	pe.reqno = reqno;
	pe.challenge = FX_CHALLENGE;
	return map_put(skel->maps.mig_flows, &s->c->cli.t, f) ||
	       map_put(skel->maps.mig_pend, &s->b_wire, &pe);
}

#define CHECK_FLOW_SAME(sock, want)                                             \
	do {                                                                     \
		struct mig_flow got_;                                            \
		CHECK(!map_get(skel->maps.mig_flows, (sock), &got_), "flow gone"); \
		CHECK_MEM(&got_, (want), sizeof(got_));                          \
	} while (0)

static bool tuple_eq(const struct mig_tuple *a, const struct mig_tuple *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/* mig_ingress[w] is { sock, type, ts } exactly. */
static int ingress_is_ts(const struct mig_tuple *w, const struct mig_tuple *sock, __u8 type,
			 __u8 ts)
{
	struct mig_in got, want;

	memset(&want, 0, sizeof(want));
	want.sock = *sock;
	want.type = type;
	want.ts = ts;
	if (map_get(skel->maps.mig_ingress, w, &got))
		return 0;
	want.cc = got.cc;   /* (ingress_is looks at it) */
	return !memcmp(&got, &want, sizeof(got));
}

/* ... as a commit leaves it (a translation clears stale timestamp echoes
 * next: MIG_TS_FIRST, and marks the peer's segments until the socket's
 * congestion state restarted: cc 1). */
static int ingress_is(const struct mig_tuple *w, const struct mig_tuple *sock, __u8 type)
{
	struct mig_in got;

	return ingress_is_ts(w, sock, type, type == MIG_IN_XLATE ? MIG_TS_FIRST : MIG_TS_OFF) &&
	       !map_get(skel->maps.mig_ingress, w, &got) && got.cc == (type == MIG_IN_XLATE);
}

/* The translation at w as after the peer echoed a timestamp newer than the
 * commit (MIG_TS_OFF): for the tests of the rewrite itself, whose
 * segments carry one fixed echo. */
static int ts_settle(const struct mig_tuple *w)
{
	struct mig_in e;

	if (map_get(skel->maps.mig_ingress, w, &e))
		return -1;
	e.ts = MIG_TS_OFF;
	e.ts_stale = 0;
	e.cc = 0;
	return map_put(skel->maps.mig_ingress, w, &e);
}

/* The flow of socket x: its sack_hi is x's SND.NXT (what a commit sets),
 * and is then made bound. */
static int sack_bound(const struct fx_side *x, __u32 bound)
{
	struct mig_flow f;

	if (map_get(skel->maps.mig_flows, &x->t, &f) || f.sack_hi != x->snd_nxt)
		return -1;
	f.sack_hi = bound;
	return map_put(skel->maps.mig_flows, &x->t, &f);
}

/* mig_egress[sock] is { w } exactly. */
static int egress_is(const struct mig_tuple *sock, const struct mig_tuple *w)
{
	struct mig_out got, want;

	memset(&want, 0, sizeof(want));
	want.wire = *w;
	return !map_get(skel->maps.mig_egress, sock, &got) && !memcmp(&got, &want, sizeof(got));
}

/* mig_cand[w] is { sock, resend 0 } exactly. */
static int cand_ref_is(const struct mig_tuple *w, const struct mig_tuple *sock)
{
	struct mig_cand_ref got, want;

	memset(&want, 0, sizeof(want));
	want.sock = *sock;
	return !map_get(skel->maps.mig_cand, w, &got) && !memcmp(&got, &want, sizeof(got));
}

/* Slot `slot` of flow f is the candidate (w, reqno, challenge, the nonce
 * fx_nonce gives w), expiring MIG_CAND_TTL_NS after some time in
 * [t0, t1]. */
static int cand_is(int *unit_failed, const struct sc *s, const struct mig_flow *f,
		   int slot, const struct mig_tuple *w, __u32 reqno, __u32 challenge,
		   __u64 t0, __u64 t1)
{
	const struct mig_cand *c = &f->cand[slot];
	__u8 nonce[8];
	int ok;

	fx_nonce(w, reqno, nonce);
	ok = tuple_eq(&c->wire, w) && c->reqno == reqno && c->challenge == challenge &&
	     !memcmp(c->nonce, nonce, 8) && c->expires_ns >= t0 + MIG_CAND_TTL_NS &&
	     c->expires_ns <= t1 + MIG_CAND_TTL_NS;
	CHECK(ok, "%s [%s]: candidate slot %d: reqno %u challenge 0x%x expires %+lld ns "
	      "(want reqno %u challenge 0x%x, expires TTL after the run)", s->fam,
	      s->h->name, slot, c->reqno, c->challenge,
	      (long long)(c->expires_ns - t1 - MIG_CAND_TTL_NS), reqno, challenge);
	if (!ok) {
		unit_memeq(&c->wire, w, sizeof(*w), "candidate wire tuple");
		unit_memeq(c->nonce, nonce, 8, "candidate nonce");
	}
	return ok;
}

/* Events of a type seen since sc_init; the last one into *ev. */
static int events_of(__u32 type, struct mig_event *ev)
{
	int i, n = 0;

	ring_buffer__consume(events);
	for (i = 0; i < nev && i < 32; i++)
		if (evs[i].type == type) {
			if (ev)
				*ev = evs[i];
			n++;
		}
	return n;
}

/* ---- frames --------------------------------------------------------- */

/* A Migrate SYN from (src, sport) to the fixed end's socket address; the
 * ack field (ACK flag clear) carries the mover's challenge. */
static size_t msyn(const struct sc *s, const __u32 src[4], __u16 sport, __u32 reqno,
		   const __u8 token[8], const __u8 mac[8], __u32 seq, __u32 challenge,
		   struct fx_pkt *p, __u8 *f)
{
	fx_pkt_in(p, s->family, src, sport, s->c->srv.t.laddr, s->c->srv.t.lport);
	p->seq = seq;
	p->ack = challenge;
	p->flags = F_SYN;
	p->win = 64240;
	fx_opt_sig(p, MIG_SUB_MIGRATE, reqno, token, mac);
	return fx_build(p, f);
}

/* The mover's Migrate SYN for reqno with challenge c from (src, sport):
 * the same bytes whoever replays it from wherever. */
static size_t msyn_from(const struct sc *s, const __u32 src[4], __u16 sport, __u32 reqno,
			__u32 c, struct fx_pkt *p, __u8 *f)
{
	__u8 mac[8];

	fx_mac_migrate(fx_s_i, reqno, mac);
	return msyn(s, src, sport, reqno, fx_token, mac, s->c->cli.snd_una - 1, c, p, f);
}

/* The ordinary Migrate SYN of the mover for reqno, from NEW. */
static size_t msyn_ok(const struct sc *s, __u32 reqno, struct fx_pkt *p, __u8 *f)
{
	return msyn_from(s, s->new_addr, s->new_port, reqno, FX_CHALLENGE, p, f);
}

/* What the fixed end must answer to Migrate SYN in (arrived on wire tuple
 * w, its view): nonce = SipHash(boot, w || token || reqno), mac =
 * SipHash(s_r, 0x03 || reqno || c || nonce) with c the SYN's ack field.
 * The option space after MIGRATE_ACK holds a window scale option with
 * the fixed end's receive shift when the connection scales windows (so
 * that NAT conntrack on the way learns it), else NOPs. */
static size_t want_synack(const struct sc *s, const struct fx_pkt *in,
			  const struct mig_tuple *w, __u32 reqno, __u8 *f)
{
	struct fx_pkt r;
	__u8 nonce[8], mac[8];

	fx_nonce(w, reqno, nonce);
	fx_mac_ack(fx_s_r, reqno, in->ack, nonce, mac);
	fx_pkt_reply(&r, in);
	r.seq = s->c->srv.snd_una - 1;
	r.ack = in->seq + 1;
	r.flags = F_SYN | F_ACK;
	fx_opt_sig(&r, MIG_SUB_MIGRATE_ACK, reqno, nonce, mac);
	if (s->c->srv.rcv_wscale != MIG_NO_WSCALE) {
		r.opts[25] = 3;
		r.opts[26] = 3;
		r.opts[27] = s->c->srv.rcv_wscale;
	}
	return fx_build(&r, f);
}

/* The one RST (PROTOCOL.md 6): RST|ACK, seq 0, ack = seq + 1, window 0,
 * the 48-byte header's option space all NOPs. */
static size_t want_rst(const struct fx_pkt *in, __u8 *f)
{
	struct fx_pkt r;

	fx_pkt_reply(&r, in);
	r.seq = 0;
	r.ack = in->seq + 1;
	r.flags = F_RST | F_ACK;
	r.win = 0;
	fx_opt_nops(&r, 28);
	return fx_build(&r, f);
}

/* A CONFIRM from (src, sport) to the fixed end. */
static size_t confirm(const struct sc *s, const __u32 src[4], __u16 sport, __u32 reqno,
		      const __u8 nonce[8], const __u8 mac[8], struct fx_pkt *p, __u8 *f)
{
	fx_pkt_in(p, s->family, src, sport, s->c->srv.t.laddr, s->c->srv.t.lport);
	p->seq = s->c->cli.snd_nxt;
	p->ack = s->c->cli.rcv_nxt;
	p->flags = F_ACK;
	fx_opt_sig(p, MIG_SUB_CONFIRM, reqno, nonce, mac);
	return fx_build(p, f);
}

/* The mover's valid CONFIRM of (reqno, nonce), sent from (src, sport). */
static size_t confirm_ok(const struct sc *s, const __u32 src[4], __u16 sport, __u32 reqno,
			 const __u8 nonce[8], struct fx_pkt *p, __u8 *f)
{
	__u8 mac[8];

	fx_mac_confirm(fx_s_i, reqno, nonce, mac);
	return confirm(s, src, sport, reqno, nonce, mac, p, f);
}

/* A Migrate SYN/ACK from the fixed end to the mover's new wire tuple. */
static size_t msynack(const struct sc *s, __u32 reqno, const __u8 nonce[8],
		      const __u8 mac[8], __u16 dport, struct fx_pkt *p, __u8 *f)
{
	fx_pkt_in(p, s->family, s->c->srv.t.laddr, s->c->srv.t.lport, s->new_addr, dport);
	p->seq = s->c->srv.snd_una - 1;
	p->ack = s->c->srv.rcv_nxt;
	p->flags = F_SYN | F_ACK;
	p->win = 65160;
	fx_opt_sig(p, MIG_SUB_MIGRATE_ACK, reqno, nonce, mac);
	return fx_build(p, f);
}

/* The mover's CONFIRM in answer to SYN/ACK in (reqno, nonce). */
static size_t want_confirm(const struct sc *s, const struct fx_pkt *in, __u32 reqno,
			   const __u8 nonce[8], __u8 *f)
{
	struct fx_pkt w;
	__u8 mac[8];

	fx_mac_confirm(fx_s_i, reqno, nonce, mac);
	fx_pkt_reply(&w, in);
	/* the handshake's third segment for a NAT's conntrack, not the
	 * socket's SND.NXT/RCV.NXT */
	(void)s;
	w.seq = in->ack;
	w.ack = in->seq + 1;
	w.flags = F_ACK;
	fx_opt_sig(&w, MIG_SUB_CONFIRM, reqno, nonce, mac);
	return fx_build(&w, f);
}

static const __u8 payload[100] =
	"migrate test payload: 0123456789abcdefghijklmnopqrstuvwxyz "
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&()*+,-./:;";

/* A data segment (PSH|ACK, timestamps, 100 bytes) from (sa, sp) to
 * (da, dp). */
static size_t data_seg(int family, const __u32 sa[4], __u16 sp, const __u32 da[4],
		       __u16 dp, __u32 seq, __u32 ack, struct fx_pkt *p, __u8 *f)
{
	fx_pkt_in(p, family, sa, sp, da, dp);
	p->seq = seq;
	p->ack = ack;
	p->flags = F_PSH | F_ACK;
	p->win = 509;
	fx_opt_ts(p, 0x01020304, 0xa0b0c0d0);
	p->payload = payload;
	p->plen = sizeof(payload);
	return fx_build(p, f);
}

/* Fixed end: the mover's Migrate SYN (reqno, FX_CHALLENGE) from (src,
 * sport), whose wire tuple is w: it must be answered with exactly the
 * SYN/ACK of want_synack and leave mig_cand[w] -> the srv socket.  The
 * nonce it carried into nonce. */
static int answer_msyn(int *unit_failed, const struct sc *s, const __u32 src[4],
		       __u16 sport, const struct mig_tuple *w, __u32 reqno, __u8 nonce[8])
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	struct fx_res r;
	struct fx_pkt p;
	size_t n, wn;

	n = msyn_from(s, src, sport, reqno, FX_CHALLENGE, &p, in);
	wn = want_synack(s, &p, w, reqno, want);
	if (!expect(unit_failed, s, s->h, "Migrate SYN", in, n, 0, s->h->tx, want, wn, &r))
		return -1;
	if (!cand_ref_is(w, &s->c->srv.t)) {
		CHECK(0, "Migrate SYN %s [%s]: no mig_cand entry", s->fam, s->h->name);
		return -1;
	}
	fx_nonce(w, reqno, nonce);
	return 0;
}

/* Write back flow sock with candidate slot `slot` expired (what 5 s
 * would do). */
static int expire_cand(const struct mig_tuple *sock, int slot)
{
	struct mig_flow f;

	if (map_get(skel->maps.mig_flows, sock, &f))
		return -1;
	f.cand[slot].expires_ns = fx_now_ns() - 1;
	return map_put(skel->maps.mig_flows, sock, &f);
}

/* ---- the SipHash code the fixture and the data path share ------------ */

/* SipHash-2-4 with key 00..0f over 00..len-1: the reference vectors of
 * the SipHash paper (lengths 0, 8, 15), and 52 (the nonce's length) from
 * an independent implementation. */
TEST(siphash_reference)
{
	static const struct { __u32 len; const char *hex; } v[] = {
		{ 0, "310e0edd47db6f72" },
		{ 8, "6224939a79f5f593" },
		{ 15, "e545be4961ca29a1" },
		{ 52, "b274cb8ebf87870a" },
	};
	__u8 key[16], msg[MIG_SIP_MSG_MAX], out[8], want[8];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (__u8)i;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (__u8)i;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		mig_siphash_out(mig_siphash(key, msg, v[i].len), out);
		unit_hex(v[i].hex, want, sizeof(want));
		CHECK(!memcmp(out, want, 8), "SipHash of %u bytes", v[i].len);
	}
}

/* ---- fixed end: Migrate SYN answered ----------------------------------- */

TEST(msyn_answered)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	struct mig_flow f, fw, wf;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	__u64 t0, t1;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		n = msyn_ok(&s, 1, &p, in);
		wn = want_synack(&s, &p, &s.a_wire, 1, want);
		t0 = fx_now_ns();
		expect(unit_failed, &s, s.h, "Migrate SYN", in, n, 0, s.h->tx, want, wn, &r);
		t1 = fx_now_ns();

		/* a candidate: in the flow's first slot and in mig_cand, no
		 * translation, nothing else of the flow changed */
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
		cand_is(unit_failed, &s, &fw, 0, &s.a_wire, 1, FX_CHALLENGE, t0, t1);
		wf = f;
		wf.cand[0] = fw.cand[0];
		wf.next_cand = 1;
		CHECK_MEM(&fw, &wf, sizeof(fw));
		CHECK(cand_ref_is(&s.a_wire, &s.c->srv.t), "%s [%s]: mig_cand entry",
		      s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_cand) == 1, "one candidate");
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0, "translation before CONFIRM");
		CHECK(fx_map_count(skel->maps.mig_egress) == 0, "egress entry before CONFIRM");

		/* the same Migrate SYN again: the same nonce, the same SYN/ACK,
		 * the same slot, the lifetime it had (a replayer cannot keep a
		 * slot alive) */
		expect(unit_failed, &s, s.h, "repeated Migrate SYN", in, n, 0, s.h->tx,
		       want, wn, &r);
		
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
		cand_is(unit_failed, &s, &fw, 0, &s.a_wire, 1, FX_CHALLENGE, t0, t1);
		CHECK(fw.cand[1].wire.family == 0 && fw.next_cand == 1, "second slot used");
		CHECK(fx_map_count(skel->maps.mig_cand) == 1, "repeat added a candidate");

		/* from the same tuple with a new challenge: the same nonce, the
		 * mac over the new challenge */
		n = msyn_from(&s, s.new_addr, s.new_port, 1, FX_CHALLENGE ^ 0x5555aaaa, &p, in);
		wn = want_synack(&s, &p, &s.a_wire, 1, want);
		
		expect(unit_failed, &s, s.h, "Migrate SYN, new challenge", in, n, 0, s.h->tx,
		       want, wn, &r);
		
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
		cand_is(unit_failed, &s, &fw, 0, &s.a_wire, 1, FX_CHALLENGE ^ 0x5555aaaa, t0, t1);

		/* a new reqno from the same tuple replaces its candidate */
		n = msyn_ok(&s, 2, &p, in);
		wn = want_synack(&s, &p, &s.a_wire, 2, want);
		t0 = fx_now_ns();
		expect(unit_failed, &s, s.h, "Migrate SYN, next reqno", in, n, 0, s.h->tx,
		       want, wn, &r);
		t1 = fx_now_ns();
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
		cand_is(unit_failed, &s, &fw, 0, &s.a_wire, 2, FX_CHALLENGE, t0, t1);
		CHECK(fw.cand[1].wire.family == 0, "%s [%s]: reqno 2 took another slot",
		      s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_cand) == 1 &&
		      cand_ref_is(&s.a_wire, &s.c->srv.t), "mig_cand after reqno 2");
		CHECK(fw.peer_reqno == 0 && fw.migrations == 0, "committed without CONFIRM");
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0, "translation before CONFIRM");

		CHECK(fx_stat(skel, MIG_STAT_MSYN_IN) == 4, "msyn_received %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_MSYN_IN));
		CHECK(fx_stat(skel, MIG_STAT_MSYN_ANSWERED) == 4, "msyn_answered");
		CHECK(fx_stat(skel, MIG_STAT_RST_SENT) == 0, "rst_sent");
	}
}

/* Edges that must still be accepted: the last reqno of the window and
 * the oldest seq of [RCV.NXT - 2^30, RCV.NXT]. */
TEST(msyn_window_edges)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], mac[8];
	struct mig_flow f;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		/* last committed 2: 3..2+W are acceptable */
		CHECK(!install_fixed(&s, 2, &f), "install");
		n = msyn_ok(&s, 2 + MIG_MAC_WINDOW, &p, in);
		wn = want_synack(&s, &p, &s.a_wire, 2 + MIG_MAC_WINDOW, want);
		expect(unit_failed, &s, s.h, "reqno last+W", in, n, 0, s.h->tx, want, wn, &r);

		fx_mac_migrate(fx_s_i, 3, mac);
		n = msyn(&s, s.new_addr2, s.new_port2, 3, fx_token, mac,
			 s.c->srv.rcv_nxt - (1U << 30) - 1, FX_CHALLENGE, &p, in);
		wn = want_synack(&s, &p, &s.a_wire2, 3, want);
		expect(unit_failed, &s, s.h, "seq+1 = RCV.NXT-2^30", in, n, 0, s.h->tx,
		       want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_RST_SENT) == 0, "rst_sent");
		CHECK(fx_stat(skel, MIG_STAT_MSYN_ANSWERED) == 2, "msyn_answered");
		CHECK(fx_map_count(skel->maps.mig_cand) == 2, "candidates");
	}
}

/* ---- fixed end: rejections, one RST, nothing stored --------------------- */

enum { MAC_OK, MAC_FLIP, MAC_OTHER_REQNO, MAC_REFLECTED, MAC_OTHER_TOKEN };

struct rej_case {
	const char *name;
	__u32 stat;             /* the counter named for the reason */
	__u32 peer_reqno;       /* last committed reqno */
	bool bad_token;
	__u32 reqno;
	int mac;
	__s64 seq_off;          /* seq + 1 - RCV.NXT */
	bool other_port;        /* addressed to another port of ours */
	bool same_rst;          /* RST identical to the first case's */
	int gone;               /* the flow's socket: 0 there, 1 only the
				 * listener matches, 2 nothing matches */
};

static const struct rej_case rej_cases[] = {
	{ "unknown token", MIG_STAT_REJ_TOKEN, 0, true, 1, MAC_OK, 0, false, true, 0 },
	{ "bad mac", MIG_STAT_REJ_MAC, 0, false, 1, MAC_FLIP, 0, false, true, 0 },
	{ "mac of another reqno", MIG_STAT_REJ_MAC, 0, false, 1, MAC_OTHER_REQNO, 0, false, true, 0 },
	{ "mac with the fixed end's key", MIG_STAT_REJ_MAC, 0, false, 1, MAC_REFLECTED, 0, false, true, 0 },
	{ "mac of another token", MIG_STAT_REJ_MAC, 0, false, 1, MAC_OTHER_TOKEN, 0, false, true, 0 },
	{ "reqno 0", MIG_STAT_REJ_REQNO, 0, false, 0, MAC_OK, 0, false, true, 0 },
	{ "reqno = last committed", MIG_STAT_REJ_REQNO, 2, false, 2, MAC_OK, 0, false, true, 0 },
	{ "reqno < last committed", MIG_STAT_REJ_REQNO, 2, false, 1, MAC_OK, 0, false, true, 0 },
	{ "reqno beyond the window", MIG_STAT_REJ_REQNO, 0, false, MIG_MAC_WINDOW + 1, MAC_OK, 0, false, true, 0 },
	{ "reqno beyond the window (base 2)", MIG_STAT_REJ_REQNO, 2, false, MIG_MAC_WINDOW + 3, MAC_OK, 0, false, true, 0 },
	{ "seq ahead of RCV.NXT", MIG_STAT_REJ_SEQ, 0, false, 1, MAC_OK, 1, false, false, 0 },
	{ "seq older than RCV.NXT-2^30", MIG_STAT_REJ_SEQ, 0, false, 1, MAC_OK, -(1LL << 30) - 1, false, false, 0 },
	{ "other local port", MIG_STAT_REJ_TOKEN, 0, false, 1, MAC_OK, 0, true, false, 0 },
	{ "socket closed, listener left", MIG_STAT_REJ_STATE, 0, false, 1, MAC_OK, 0, false, true, 1 },
	{ "no socket at all", MIG_STAT_REJ_STATE, 0, false, 1, MAC_OK, 0, false, false, 2 },
};

TEST(msyn_rejected)
{
	static const __u8 bad_token[8] = { 0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3 };
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], first[FX_PKT_MAX], mac[8];
	struct mig_flow f;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn, first_len = 0, i;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		for (i = 0; i < sizeof(rej_cases) / sizeof(rej_cases[0]); i++) {
			const struct rej_case *c = &rej_cases[i];
			__u32 reqno_mac = c->mac == MAC_OTHER_REQNO ? c->reqno + 1 : c->reqno;
			struct mig_token_key tk;
			struct mig_tuple tt, sock = s.c->srv.t;

			fx_reset(skel);
			/* a flow whose socket closed: another remote port
			 * (the listener still matches the local side), or
			 * another local port too (nothing matches) */
			if (c->gone)
				sock.rport = htons(ntohs(sock.rport) ^ 0x5a5a);
			if (c->gone == 2)
				sock.lport = htons(ntohs(sock.lport) ^ 0x5a5a);
			CHECK(!install_fixed_t(&sock, c->peer_reqno, &f), "install");
			if (c->mac == MAC_OTHER_TOKEN)
				mig_sip_mac_migrate(fx_s_i, bad_token, reqno_mac, mac);
			else
				fx_mac_migrate(c->mac == MAC_REFLECTED ? fx_s_r : fx_s_i,
					       reqno_mac, mac);
			if (c->mac == MAC_FLIP)
				mac[7] ^= 0x01;
			n = msyn(&s, s.new_addr, s.new_port, c->reqno,
				 c->bad_token ? bad_token : fx_token, mac,
				 s.c->srv.rcv_nxt + (__u32)c->seq_off - 1, FX_CHALLENGE, &p, in);
			if (c->other_port || c->gone == 2) {
				p.dport = c->other_port ? (__u16)(p.dport + 1) : ntohs(sock.lport);
				n = fx_build(&p, in);
			}
			wn = want_rst(&p, want);
			if (!expect(unit_failed, &s, s.h, c->name, in, n, 0, s.h->tx, want, wn, &r))
				fprintf(stderr, "  (case: %s)\n", c->name);
			if (c->same_rst) {
				if (!first_len) {
					memcpy(first, r.out, r.len);
					first_len = r.len;
				}
				CHECK(r.len == first_len && !memcmp(r.out, first, first_len),
				      "%s %s [%s]: RST differs from the first case's", c->name,
				      s.fam, s.h->name);
			}
			/* nothing stored */
			CHECK(fx_map_count(skel->maps.mig_ingress) == 0,
			      "%s %s [%s]: mig_ingress has an entry", c->name, s.fam, s.h->name);
			CHECK(fx_map_count(skel->maps.mig_cand) == 0,
			      "%s %s [%s]: mig_cand has an entry", c->name, s.fam, s.h->name);
			CHECK(fx_map_count(skel->maps.mig_egress) == 0, "%s: egress", c->name);
			CHECK_FLOW_SAME(&sock, &f);
			CHECK(fx_map_count(skel->maps.mig_flows) == 1, "%s: flows", c->name);
			memcpy(tk.token, fx_token, 8);
			CHECK(fx_map_count(skel->maps.mig_tokens) == 1 &&
			      !map_get(skel->maps.mig_tokens, &tk, &tt) &&
			      !memcmp(&tt, &sock, sizeof(tt)), "%s: tokens", c->name);
			/* counted for its reason, once */
			CHECK(fx_stat(skel, c->stat) == 1, "%s %s [%s]: counter %u = %llu",
			      c->name, s.fam, s.h->name, c->stat,
			      (unsigned long long)fx_stat(skel, c->stat));
			CHECK(fx_stat(skel, MIG_STAT_RST_SENT) == 1, "%s: rst_sent", c->name);
			CHECK(fx_stat(skel, MIG_STAT_MSYN_ANSWERED) == 0, "%s: answered", c->name);
		}
		first_len = 0;
	}
}

/* Past MIG_RATE_BURST RSTs in a row, rejects are dropped and counted. */
TEST(msyn_rate_limited)
{
	static const __u8 bad_token[8] = { 0xba, 0xd0, 0, 0, 0, 0, 0, 1 };
	const __u64 cost = 1000000000ULL / MIG_RATE_PER_SEC;
	__u8 in[FX_PKT_MAX], mac[8];
	__u32 verdicts[MIG_RATE_BURST + 5];
	struct mig_flow f;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n;
	int i, try;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		fx_mac_migrate(fx_s_i, 1, mac);
		n = msyn(&s, s.new_addr, s.new_port, 1, bad_token, mac,
			 s.c->cli.snd_una - 1, FX_CHALLENGE, &p, in);
		/* the bucket refills one RST per `cost` ns: the burst must
		 * fit in less (retry on a slow or preempted run) */
		for (try = 0; try < 5; try++) {
			__u64 t0;

			fx_percpu_zero(skel->maps.mig_rate, 0);
			for (i = 0; i < MIG_STAT__MAX; i++)
				fx_percpu_zero(skel->maps.mig_stats, (__u32)i);
			t0 = fx_now_ns();
			for (i = 0; i < MIG_RATE_BURST + 5; i++) {
				hook_run(s.h, in, n, 0, 1, &r);
				verdicts[i] = r.ret;
			}
			if (fx_now_ns() - t0 < cost)
				break;
		}
		CHECK(try < 5, "%s [%s]: burst never fit in %llu ns", s.fam, s.h->name,
		      (unsigned long long)cost);
		for (i = 0; i < MIG_RATE_BURST + 5; i++)
			CHECK(verdicts[i] == (i < MIG_RATE_BURST ? s.h->tx : s.h->drop),
			      "%s [%s]: reject %d: verdict %s", s.fam, s.h->name, i,
			      verdict_name(s.h, verdicts[i]));
		CHECK(fx_stat(skel, MIG_STAT_RST_SENT) == MIG_RATE_BURST, "rst_sent %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_RST_SENT));
		CHECK(fx_stat(skel, MIG_STAT_RST_LIMITED) == 5, "rst_rate_limited %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_RST_LIMITED));
		CHECK(fx_stat(skel, MIG_STAT_REJ_TOKEN) == MIG_RATE_BURST + 5, "reject_token");
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0 &&
		      fx_map_count(skel->maps.mig_cand) == 0, "stored something");
	}
}

/* ---- fixed end: CONFIRM ------------------------------------------------- */

/* The flow after the fixed end committed candidate w from `before`
 * (the flow as it was just before the CONFIRM). */
static void committed_flow(struct mig_flow *want, const struct mig_flow *before,
			   const struct mig_flow *got, const struct sc *s,
			   const struct mig_tuple *w, __u32 peer_reqno)
{
	*want = *before;
	want->prev = before->wire;
	want->wire = *w;
	want->migrations = before->migrations + 1;
	want->peer_reqno = peer_reqno;
	want->migrated_ns = got->migrated_ns;
	want->sack_hi = s->c->srv.snd_nxt;   /* the socket's SND.NXT at the commit */
	want->cand[0].wire.family = 0;
	want->cand[1].wire.family = 0;
}

TEST(confirm_commits)
{
	__u8 in[FX_PKT_MAX], mac[8], bad[8], nA[8], nB[8];
	struct mig_flow f, fpre, fw, wf;
	struct mig_event ev;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n;
	__u64 t0, t1;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		/* A: reqno 1 from NEW; B: reqno 2 from NEW2 (the mover asked
		 * again from elsewhere) */
		if (answer_msyn(unit_failed, &s, s.new_addr, s.new_port, &s.a_wire, 1, nA) ||
		    answer_msyn(unit_failed, &s, s.new_addr2, s.new_port2, &s.a_wire2, 2, nB))
			continue;
		CHECK(memcmp(nA, nB, 8), "two candidates, one nonce");

		/* data from a candidate before its CONFIRM: dropped, the agent
		 * asked to send its SYN/ACK again */
		n = data_seg(s.family, s.new_addr, s.new_port, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data before CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_CAND_DROP) == 1, "candidate_dropped");
		CHECK(events_of(MIG_EV_RESEND, &ev) == 1 && ev.role == MIG_ROLE_RESPONDER &&
		      ev.key_id == 1 && tuple_eq(&ev.tuple, &s.a_wire),
		      "%s [%s]: resend event", s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fpre), "flow gone");

		/* a valid mac over a wrong nonce; B's nonce; a bad mac; a mac
		 * made with the fixed end's own key; another reqno: all
		 * dropped, nothing committed */
		memcpy(bad, nA, 8);
		bad[0] ^= 0x80;
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, bad, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM wrong nonce", in, n, 0, s.h->drop, NULL, 0, &r);
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nB, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM other candidate's nonce", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		fx_mac_confirm(fx_s_i, 1, nA, mac);
		mac[3] ^= 0x10;
		n = confirm(&s, s.new_addr, s.new_port, 1, nA, mac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM bad mac", in, n, 0, s.h->drop, NULL, 0, &r);
		fx_mac_confirm(fx_s_r, 1, nA, mac);
		n = confirm(&s, s.new_addr, s.new_port, 1, nA, mac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM reflected mac", in, n, 0, s.h->drop, NULL, 0, &r);
		n = confirm_ok(&s, s.new_addr, s.new_port, 2, nA, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM other reqno", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_CONFIRM_BAD) == 5, "confirm_dropped %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_CONFIRM_BAD));
		CHECK_FLOW_SAME(&s.c->srv.t, &fpre);
		CHECK(fx_map_count(skel->maps.mig_egress) == 0, "%s [%s]: egress before commit",
		      s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0, "ingress before commit");
		CHECK(fx_map_count(skel->maps.mig_cand) == 2, "candidates lost");

		/* the right one: consumed (dropped) and committed */
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nA, &p, in);
		t0 = fx_now_ns();
		expect(unit_failed, &s, s.h, "CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		t1 = fx_now_ns();
		CHECK(ingress_is(&s.a_wire, &s.c->srv.t, MIG_IN_XLATE),
		      "%s [%s]: no translation", s.fam, s.h->name);
		CHECK(ingress_is(&s.c->srv.t, &s.c->srv.t, MIG_IN_RETIRED),
		      "%s [%s]: socket tuple not retired", s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_ingress) == 2, "ingress entries");
		CHECK(egress_is(&s.c->srv.t, &s.a_wire), "%s [%s]: egress", s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_egress) == 1, "egress entries");
		CHECK(fx_map_count(skel->maps.mig_cand) == 0, "%s [%s]: candidates left",
		      s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
		CHECK(fw.migrated_ns >= t0 && fw.migrated_ns <= t1, "migrated_ns");
		committed_flow(&wf, &fpre, &fw, &s, &s.a_wire, 1);
		CHECK_MEM(&fw, &wf, sizeof(fw));
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1, "committed_fixed");
		CHECK(events_of(MIG_EV_MIGRATED, &ev) == 1 && ev.role == 2 && ev.key_id == 1 &&
		      tuple_eq(&ev.tuple, &s.c->srv.t), "%s [%s]: migrated event",
		      s.fam, s.h->name);

		/* B's valid CONFIRM after the commit: its candidate went with
		 * it, so nothing here asked for it: dropped silently
		 * (PROTOCOL.md 6), never answered by the kernel */
		n = confirm_ok(&s, s.new_addr2, s.new_port2, 2, nB, &p, in);
		expect(unit_failed, &s, s.h, "late CONFIRM of the other candidate", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		/* the same CONFIRM repeated: ours, dropped, not the kernel's */
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nA, &p, in);
		expect(unit_failed, &s, s.h, "repeated CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK_FLOW_SAME(&s.c->srv.t, &wf);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1, "committed twice");
		CHECK(fx_map_count(skel->maps.mig_ingress) == 2 &&
		      fx_map_count(skel->maps.mig_egress) == 1, "late CONFIRMs changed the maps");
	}
}

/* (a) The nonce binds the tuple: the mover's valid mac from another wire
 * tuple, or over the nonce another tuple got, never commits. */
TEST(confirm_nonce_binding)
{
	__u8 in[FX_PKT_MAX], nA[8], nB[8], nX[8];
	struct mig_flow f, fpre;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		if (answer_msyn(unit_failed, &s, s.new_addr, s.new_port, &s.a_wire, 1, nA) ||
		    answer_msyn(unit_failed, &s, s.new_addr2, s.new_port2, &s.a_wire2, 2, nB))
			continue;
		/* what NEW2 would have got for reqno 1 */
		fx_nonce(&s.a_wire2, 1, nX);
		CHECK(memcmp(nX, nA, 8) && memcmp(nX, nB, 8), "nonces coincide");
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fpre), "flow gone");

		/* A's CONFIRM sent from B's tuple */
		n = confirm_ok(&s, s.new_addr2, s.new_port2, 1, nA, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM of A from B's tuple", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		/* from A's tuple, over the nonce reqno 1 gets at B's tuple */
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nX, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM with another tuple's nonce", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		/* B's CONFIRM sent from A's tuple */
		n = confirm_ok(&s, s.new_addr, s.new_port, 2, nB, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM of B from A's tuple", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		/* A's CONFIRM from a tuple that asked nothing: not ours, the
		 * kernel gets it as it is */
		n = confirm_ok(&s, s.new_addr2, s.new_port, 1, nA, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM of A from a third tuple", in, n, 0,
		       s.h->drop, NULL, 0, &r);

		CHECK(fx_stat(skel, MIG_STAT_CONFIRM_BAD) == 4, "%s [%s]: confirm_dropped %llu",
		      s.fam, s.h->name,
		      (unsigned long long)fx_stat(skel, MIG_STAT_CONFIRM_BAD));
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 0, "%s [%s]: committed",
		      s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0 &&
		      fx_map_count(skel->maps.mig_egress) == 0, "%s [%s]: translation installed",
		      s.fam, s.h->name);
		CHECK_FLOW_SAME(&s.c->srv.t, &fpre);
		CHECK(fx_map_count(skel->maps.mig_cand) == 2 &&
		      cand_ref_is(&s.a_wire, &s.c->srv.t) &&
		      cand_ref_is(&s.a_wire2, &s.c->srv.t), "candidates changed");

		/* control: A's own CONFIRM from A's tuple commits */
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nA, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(ingress_is(&s.a_wire, &s.c->srv.t, MIG_IN_XLATE) &&
		      egress_is(&s.c->srv.t, &s.a_wire) &&
		      fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1,
		      "%s [%s]: the genuine CONFIRM did not commit", s.fam, s.h->name);
	}
}

/* A slot another CPU holds (expires_ns MIG_CAND_CLAIMING, cand_claim):
 * never taken, its candidate never dropped as expired.  A Migrate SYN takes
 * the other, expired slot; a third tuple is refused while one slot lives
 * and the other is held; a repeat of a held candidate is refused without an
 * answer; a CONFIRM of a held candidate still commits.  (Two CPUs cannot be
 * raced here: the hold is written as the other CPU would leave it.) */
TEST(cand_held)
{
	__u8 in[FX_PKT_MAX], nA[8], nB[8];
	struct mig_cand_ref ref;
	struct mig_flow f;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		if (answer_msyn(unit_failed, &s, s.new_addr, s.new_port, &s.a_wire, 1, nA))
			continue;
		/* slot 0 expired; slot 1 empty and held by another CPU */
		CHECK(!expire_cand(&s.c->srv.t, 0) && !map_get(skel->maps.mig_flows, &s.c->srv.t, &f),
		      "expire");
		f.cand[1].expires_ns = MIG_CAND_CLAIMING;
		CHECK(!map_put(skel->maps.mig_flows, &s.c->srv.t, &f), "hold slot 1");
		if (answer_msyn(unit_failed, &s, s.new_addr2, s.new_port2, &s.a_wire2, 1, nB))
			continue;
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &f) &&
		      !memcmp(&f.cand[0].wire, &s.a_wire2, sizeof(s.a_wire2)) &&
		      f.cand[1].expires_ns == MIG_CAND_CLAIMING && !f.cand[1].wire.family,
		      "%s [%s]: the new candidate is not in the expired slot, or the held one changed",
		      s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_cand) == 1 &&
		      !map_get(skel->maps.mig_cand, &s.a_wire2, &ref),
		      "%s [%s]: mig_cand holds %d entries, want the new candidate's only", s.fam,
		      s.h->name, fx_map_count(skel->maps.mig_cand));

		/* a third tuple: slot 0 lives, slot 1 is held */
		n = msyn_from(&s, s.new_addr2, s.new_port, 1, FX_CHALLENGE, &p, in);
		expect(unit_failed, &s, s.h, "Migrate SYN, one slot live, one held", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_CAND_BUSY) == 1 && fx_map_count(skel->maps.mig_cand) == 1,
		      "%s [%s]: candidate_busy %llu, mig_cand %d", s.fam, s.h->name,
		      (unsigned long long)fx_stat(skel, MIG_STAT_CAND_BUSY),
		      fx_map_count(skel->maps.mig_cand));

		/* slot 0 held too: a repeat of its Migrate SYN gets no answer */
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &f), "flow gone");
		f.cand[0].expires_ns = MIG_CAND_CLAIMING;
		CHECK(!map_put(skel->maps.mig_flows, &s.c->srv.t, &f), "hold slot 0");
		n = msyn_from(&s, s.new_addr2, s.new_port2, 1, FX_CHALLENGE, &p, in);
		expect(unit_failed, &s, s.h, "repeated Migrate SYN of a held candidate", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_CAND_BUSY) == 2 &&
		      fx_stat(skel, MIG_STAT_MSYN_ANSWERED) == 2,
		      "%s [%s]: candidate_busy %llu, msyn_answered %llu", s.fam, s.h->name,
		      (unsigned long long)fx_stat(skel, MIG_STAT_CAND_BUSY),
		      (unsigned long long)fx_stat(skel, MIG_STAT_MSYN_ANSWERED));

		/* ... and its CONFIRM commits: a held candidate reads as live */
		n = confirm_ok(&s, s.new_addr2, s.new_port2, 1, nB, &p, in);
		hook_run(s.h, in, n, 0, 1, &r);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1 &&
		      fx_stat(skel, MIG_STAT_CAND_EXPIRED) == 0,
		      "%s [%s]: committed_fixed %llu, candidate_expired %llu", s.fam, s.h->name,
		      (unsigned long long)fx_stat(skel, MIG_STAT_COMMIT_FIXED),
		      (unsigned long long)fx_stat(skel, MIG_STAT_CAND_EXPIRED));
		CHECK(ingress_is(&s.a_wire2, &s.c->srv.t, MIG_IN_XLATE), "%s [%s]: no translation",
		      s.fam, s.h->name);
	}
}

/* (b) One reqno asked from two tuples (a replayed Migrate SYN): the
 * genuine CONFIRM still commits (the replay's nonce is bound to the
 * replay's tuple), both candidates go, and a third tuple is refused while
 * both slots live: a live candidate is never evicted. */
TEST(confirm_contested)
{
	__u8 in[FX_PKT_MAX], nA[8], nB[8];
	struct mig_flow f, fpre, fw;
	struct mig_cand_ref ref;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		if (answer_msyn(unit_failed, &s, s.new_addr, s.new_port, &s.a_wire, 1, nA) ||
		    answer_msyn(unit_failed, &s, s.new_addr2, s.new_port2, &s.a_wire2, 1, nB))
			continue;
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fpre), "flow gone");

		/* a third tuple: refused, nothing stored, no answer */
		n = msyn_from(&s, s.new_addr2, s.new_port, 1, FX_CHALLENGE, &p, in);
		expect(unit_failed, &s, s.h, "Migrate SYN, both slots live", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_CAND_BUSY) == 1, "%s [%s]: candidate_busy %llu",
		      s.fam, s.h->name, (unsigned long long)fx_stat(skel, MIG_STAT_CAND_BUSY));
		CHECK(fx_map_count(skel->maps.mig_cand) == 2 &&
		      !map_get(skel->maps.mig_cand, &s.a_wire, &ref) &&
		      !map_get(skel->maps.mig_cand, &s.a_wire2, &ref),
		      "%s [%s]: a live candidate was replaced", s.fam, s.h->name);
		CHECK_FLOW_SAME(&s.c->srv.t, &fpre);

		/* the replay's nonce confirmed from the genuine tuple: nothing */
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nB, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM of the replay's nonce", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 0, "%s [%s]: committed",
		      s.fam, s.h->name);

		/* the genuine CONFIRM commits at once */
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nA, &p, in);
		expect(unit_failed, &s, s.h, "genuine CONFIRM", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1, "%s [%s]: not committed",
		      s.fam, s.h->name);
		CHECK(ingress_is(&s.a_wire, &s.c->srv.t, MIG_IN_XLATE) &&
		      egress_is(&s.c->srv.t, &s.a_wire), "%s [%s]: translation",
		      s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_cand) == 0, "%s [%s]: candidates left",
		      s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw) &&
		      fw.cand[0].wire.family == 0 && fw.cand[1].wire.family == 0,
		      "%s [%s]: candidate slots kept", s.fam, s.h->name);
	}
}

/* (c) Candidates are bounded: one Migrate SYN replayed from 50 tuples
 * leaves the first two (a live candidate is never replaced), never a
 * translation; the other 48 are refused without an answer. */
TEST(cand_bounded)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], nonce[8];
	struct mig_tuple w[50];
	struct mig_flow f, fw, wf;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	__u64 t0, t1;
	int i, over;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		over = 0;
		t0 = fx_now_ns();
		for (i = 0; i < 50; i++) {
			const __u32 *a = (i & 1) ? s.new_addr2 : s.new_addr;
			__u16 port = htons((__u16)(41000 + i));

			a_wire_of(&s, a, port, &w[i]);
			n = msyn_from(&s, a, port, 1, FX_CHALLENGE, &p, in);
			wn = want_synack(&s, &p, &w[i], 1, want);
			if (i < 2 ? !expect(unit_failed, &s, s.h, "replayed Migrate SYN", in, n, 0,
					    s.h->tx, want, wn, &r) :
				    !expect(unit_failed, &s, s.h, "replayed Migrate SYN, slots full",
					    in, n, 0, s.h->drop, NULL, 0, &r))
				break;
			if (fx_map_count(skel->maps.mig_cand) > 2)
				over++;
			if (i == 1) {
				/* both slots taken: as the program stored them,
				 * then made to outlive this loop however slowly
				 * it runs (a slot that expired mid-loop would
				 * rightly take the next SYN) */
				t1 = fx_now_ns();
				CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
				cand_is(unit_failed, &s, &fw, 0, &w[0], 1, FX_CHALLENGE, t0, t1);
				cand_is(unit_failed, &s, &fw, 1, &w[1], 1, FX_CHALLENGE, t0, t1);
				fw.cand[0].expires_ns += 3600ULL * 1000000000ULL;
				fw.cand[1].expires_ns += 3600ULL * 1000000000ULL;
				CHECK(!map_put(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow update");
			}
		}
		CHECK(!over, "%s [%s]: more than 2 candidates %d times", s.fam, s.h->name, over);
		CHECK(fx_map_count(skel->maps.mig_cand) == 2 &&
		      cand_ref_is(&w[0], &s.c->srv.t) && cand_ref_is(&w[1], &s.c->srv.t),
		      "%s [%s]: mig_cand is not the first two", s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
		wf = f;
		wf.cand[0] = fw.cand[0];
		wf.cand[1] = fw.cand[1];
		wf.next_cand = fw.next_cand;
		CHECK_MEM(&fw, &wf, sizeof(fw));
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0 &&
		      fx_map_count(skel->maps.mig_egress) == 0, "%s [%s]: translations",
		      s.fam, s.h->name);
		CHECK(fx_stat(skel, MIG_STAT_MSYN_ANSWERED) == 2 &&
		      fx_stat(skel, MIG_STAT_CAND_BUSY) == 48, "msyn_answered %llu busy %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_MSYN_ANSWERED),
		      (unsigned long long)fx_stat(skel, MIG_STAT_CAND_BUSY));

		/* a valid CONFIRM for a refused one: nothing */
		fx_nonce(&w[2], 1, nonce);
		n = confirm_ok(&s, w[2].raddr, w[2].rport, 1, nonce, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM of a refused candidate", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0 &&
		      fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 0, "evicted one committed");
	}
}

/* Another connection of ours at the same local port, from the client's
 * address: its accepted socket's tuple (fixed end's view) into x. */
static int extra_conn(const struct sc *s, int *cfd, int *afd, struct mig_tuple *x)
{
	struct sockaddr_storage ss, cs;
	socklen_t sl = sizeof(ss), cl;

	*cfd = *afd = -1;
	if (getsockname(s->c->lfd, (void *)&ss, &sl))
		return -1;
	cl = fx_sa_make(s->family, s->family == AF_INET ? FX_CLI4 : FX_CLI6, 0, &cs);
	*cfd = socket(s->family, SOCK_STREAM, 0);
	if (*cfd < 0 || bind(*cfd, (void *)&cs, cl) || connect(*cfd, (void *)&ss, sl))
		return -1;
	*afd = accept(s->c->lfd, NULL, NULL);
	if (*afd < 0)
		return -1;
	return fx_sock_tuple(*afd, x);
}

/* (d) A candidate never takes a tuple that is someone else's: another
 * flow's translation or retired tuple, another flow's live candidate, a
 * live socket.  Dropped without an answer, counted, the entry kept. */
TEST(cand_tuple_taken)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	struct mig_tuple other, x;
	struct mig_flow f, fb;
	struct mig_cand_ref ref;
	struct mig_in e;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	int cfd, afd;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		/* flow A (ours, the srv socket) and a second keyed flow B at the
		 * same local port */
		other = s.c->srv.t;
		other.rport = htons(ntohs(other.rport) ^ 0x1111);
		CHECK(!install_fixed(&s, 0, &f), "install");
		fx_flow(&fb, &other, false, 0, 0);
		CHECK(!map_put(skel->maps.mig_flows, &other, &fb), "install B");

		/* B's translation at NEW, B's retired tuple at NEW2 */
		memset(&e, 0, sizeof(e));
		e.sock = other;
		e.type = MIG_IN_XLATE;
		e.ts = MIG_TS_FIRST;    /* as its commit left it */
		e.cc = 1;
		CHECK(!map_put(skel->maps.mig_ingress, &s.a_wire, &e), "put");
		e.type = MIG_IN_RETIRED;
		e.ts = MIG_TS_OFF;
		e.cc = 0;
		CHECK(!map_put(skel->maps.mig_ingress, &s.a_wire2, &e), "put");
		n = msyn_ok(&s, 1, &p, in);
		expect(unit_failed, &s, s.h, "Migrate SYN on B's translation", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		n = msyn_from(&s, s.new_addr2, s.new_port2, 1, FX_CHALLENGE, &p, in);
		expect(unit_failed, &s, s.h, "Migrate SYN on B's retired tuple", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_REJ_TUPLE) == 2, "%s [%s]: reject_tuple %llu",
		      s.fam, s.h->name, (unsigned long long)fx_stat(skel, MIG_STAT_REJ_TUPLE));
		CHECK(ingress_is(&s.a_wire, &other, MIG_IN_XLATE) &&
		      ingress_is(&s.a_wire2, &other, MIG_IN_RETIRED) &&
		      fx_map_count(skel->maps.mig_ingress) == 2, "%s [%s]: B's entries changed",
		      s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_cand) == 0, "candidate stored");
		CHECK_FLOW_SAME(&s.c->srv.t, &f);
		CHECK_FLOW_SAME(&other, &fb);

		/* B's live candidate at the third tuple */
		fb.cand[0].wire = s.a_wire3;
		fb.cand[0].reqno = 1;
		fb.cand[0].challenge = 7;
		fb.cand[0].expires_ns = fx_now_ns() + 60ULL * 1000000000ULL;
		fb.next_cand = 1;
		CHECK(!map_put(skel->maps.mig_flows, &other, &fb), "B's candidate");
		memset(&ref, 0, sizeof(ref));
		ref.sock = other;
		CHECK(!map_put(skel->maps.mig_cand, &s.a_wire3, &ref), "B's candidate");
		n = msyn_from(&s, s.new_addr2, s.new_port, 1, FX_CHALLENGE, &p, in);
		expect(unit_failed, &s, s.h, "Migrate SYN on B's candidate", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_REJ_TUPLE) == 3, "%s [%s]: reject_tuple %llu",
		      s.fam, s.h->name, (unsigned long long)fx_stat(skel, MIG_STAT_REJ_TUPLE));
		CHECK(cand_ref_is(&s.a_wire3, &other) && fx_map_count(skel->maps.mig_cand) == 1,
		      "%s [%s]: B's candidate changed", s.fam, s.h->name);
		CHECK_FLOW_SAME(&s.c->srv.t, &f);
		CHECK_FLOW_SAME(&other, &fb);
		/* ... once B's candidate expired, the tuple is free */
		CHECK(!expire_cand(&other, 0), "expire");
		wn = want_synack(&s, &p, &s.a_wire3, 1, want);
		expect(unit_failed, &s, s.h, "Migrate SYN on B's expired candidate", in, n, 0,
		       s.h->tx, want, wn, &r);
		CHECK(cand_ref_is(&s.a_wire3, &s.c->srv.t), "%s [%s]: candidate not taken over",
		      s.fam, s.h->name);
		CHECK(fx_stat(skel, MIG_STAT_CAND_EXPIRED) == 1, "candidate_expired");

		/* a live socket: another connection to the same listener */
		if (extra_conn(&s, &cfd, &afd, &x)) {
			CHECK(0, "extra connection: %s", strerror(errno));
		} else {
			n = msyn_from(&s, x.raddr, x.rport, 1, FX_CHALLENGE, &p, in);
			expect(unit_failed, &s, s.h, "Migrate SYN on a live socket's tuple", in, n,
			       0, s.h->drop, NULL, 0, &r);
			CHECK(fx_stat(skel, MIG_STAT_REJ_TUPLE) == 4, "%s [%s]: reject_tuple %llu",
			      s.fam, s.h->name,
			      (unsigned long long)fx_stat(skel, MIG_STAT_REJ_TUPLE));
			CHECK(map_get(skel->maps.mig_cand, &x, &ref) == -ENOENT &&
			      fx_map_count(skel->maps.mig_cand) == 1,
			      "%s [%s]: candidate on a live socket", s.fam, s.h->name);
		}
		if (cfd >= 0)
			close(cfd);
		if (afd >= 0)
			close(afd);
		CHECK(fx_stat(skel, MIG_STAT_MSYN_ANSWERED) == 1, "answered");
		CHECK(fx_stat(skel, MIG_STAT_RST_SENT) == 0, "rst_sent");
		CHECK(fx_map_count(skel->maps.mig_ingress) == 2 &&
		      fx_map_count(skel->maps.mig_egress) == 0, "translations changed");
	}
}

/* ---- the mover ---------------------------------------------------------- */

static const __u8 nonce1[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7 };
static const __u8 nonce2[8] = { 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7 };

/* The mover's flow after committing (reqno, nonce) onto b_wire. */
static void mover_committed(struct mig_flow *want, const struct mig_flow *before,
			    const struct mig_flow *got, const struct sc *s, __u32 reqno,
			    const __u8 nonce[8])
{
	*want = *before;
	want->prev = before->wire;
	want->wire = s->b_wire;
	want->migrations = before->migrations + 1;
	want->own_reqno = reqno;
	want->last_challenge = FX_CHALLENGE;
	memcpy(want->last_nonce, nonce, 8);
	want->migrated_ns = got->migrated_ns;
	want->sack_hi = s->c->cli.snd_nxt;   /* the socket's SND.NXT at the commit */
}

TEST(mover_confirms)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], mac[8], amac[8];
	struct mig_flow f, fw, wf;
	struct mig_event ev;
	struct mig_pend pe;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	__u64 t0, t1;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_mover(&s, 1, &f), "install");
		fx_mac_ack(fx_s_r, 1, FX_CHALLENGE, nonce1, amac);

		/* bad mac, mac of the mover's own key, mac over another
		 * challenge, other reqno, a tuple with no request: dropped,
		 * nothing committed */
		memcpy(mac, amac, 8);
		mac[0] ^= 1;
		n = msynack(&s, 1, nonce1, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK bad mac", in, n, 0, s.h->drop, NULL, 0, &r);
		fx_mac_ack(fx_s_i, 1, FX_CHALLENGE, nonce1, mac);
		n = msynack(&s, 1, nonce1, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK reflected mac", in, n, 0, s.h->drop, NULL, 0, &r);
		fx_mac_ack(fx_s_r, 1, FX_CHALLENGE + 1, nonce1, mac);
		n = msynack(&s, 1, nonce1, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK other challenge", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		fx_mac_ack(fx_s_r, 2, FX_CHALLENGE, nonce1, mac);
		n = msynack(&s, 2, nonce1, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK other reqno", in, n, 0, s.h->drop, NULL, 0, &r);
		n = msynack(&s, 1, nonce1, amac, s.new_port2, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK unasked", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_ACK_BAD) == 5, "synack_dropped %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_ACK_BAD));
		CHECK_FLOW_SAME(&s.c->cli.t, &f);
		CHECK(fx_map_count(skel->maps.mig_egress) == 0 &&
		      fx_map_count(skel->maps.mig_ingress) == 0, "translation before commit");
		CHECK(!map_get(skel->maps.mig_pend, &s.b_wire, &pe) && pe.reqno == 1,
		      "pending lost");

		/* the valid one: CONFIRM built, mover commits */
		n = msynack(&s, 1, nonce1, amac, s.new_port, &p, in);
		wn = want_confirm(&s, &p, 1, nonce1, want);
		t0 = fx_now_ns();
		expect(unit_failed, &s, s.h, "Migrate SYN/ACK", in, n, 0, s.h->tx, want, wn, &r);
		t1 = fx_now_ns();
		CHECK(ingress_is(&s.b_wire, &s.c->cli.t, MIG_IN_XLATE), "%s [%s]: translation",
		      s.fam, s.h->name);
		CHECK(ingress_is(&s.c->cli.t, &s.c->cli.t, MIG_IN_RETIRED),
		      "%s [%s]: socket tuple not retired", s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_ingress) == 2, "ingress entries");
		CHECK(egress_is(&s.c->cli.t, &s.b_wire), "%s [%s]: egress", s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_flows, &s.c->cli.t, &fw), "flow gone");
		CHECK(fw.migrated_ns >= t0 && fw.migrated_ns <= t1, "migrated_ns");
		mover_committed(&wf, &f, &fw, &s, 1, nonce1);
		CHECK_MEM(&fw, &wf, sizeof(fw));
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_MOVER) == 1, "committed_mover");
		CHECK(fx_stat(skel, MIG_STAT_CONFIRM_SENT) == 1, "confirm_sent");
		CHECK(events_of(MIG_EV_MIGRATED, &ev) == 1 && ev.role == 1 && ev.key_id == 1 &&
		      tuple_eq(&ev.tuple, &s.c->cli.t), "%s [%s]: migrated event",
		      s.fam, s.h->name);

		/* the SYN/ACK again (our CONFIRM was lost): the same CONFIRM */
		expect(unit_failed, &s, s.h, "repeated Migrate SYN/ACK", in, n, 0, s.h->tx,
		       want, wn, &r);
		CHECK_FLOW_SAME(&s.c->cli.t, &wf);
		/* ... but not with a bad mac */
		memcpy(mac, amac, 8);
		mac[5] ^= 4;
		n = msynack(&s, 1, nonce1, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "repeated SYN/ACK bad mac", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		/* the agent removed mig_pend: repeats still answered through the
		 * translation */
		CHECK(!map_del(skel->maps.mig_pend, &s.b_wire), "del pend");
		n = msynack(&s, 1, nonce1, amac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK after mig_pend went", in, n, 0, s.h->tx,
		       want, wn, &r);
		CHECK_FLOW_SAME(&s.c->cli.t, &wf);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_MOVER) == 1, "committed twice");
		CHECK(fx_stat(skel, MIG_STAT_CONFIRM_SENT) == 3, "confirm_sent %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_CONFIRM_SENT));
	}
}

/* (f) The first valid SYN/ACK's nonce is the only one confirmed: another
 * nonce with a correct mac for it is dropped, before and after mig_pend
 * went. */
TEST(mover_first_nonce)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], mac1[8], mac2[8];
	struct mig_flow f, fw, wf;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_mover(&s, 1, &f), "install");
		fx_mac_ack(fx_s_r, 1, FX_CHALLENGE, nonce1, mac1);
		fx_mac_ack(fx_s_r, 1, FX_CHALLENGE, nonce2, mac2);

		n = msynack(&s, 1, nonce1, mac1, s.new_port, &p, in);
		wn = want_confirm(&s, &p, 1, nonce1, want);
		expect(unit_failed, &s, s.h, "first SYN/ACK", in, n, 0, s.h->tx, want, wn, &r);
		CHECK(!map_get(skel->maps.mig_flows, &s.c->cli.t, &fw), "flow gone");
		mover_committed(&wf, &f, &fw, &s, 1, nonce1);
		CHECK_MEM(&fw, &wf, sizeof(fw));

		/* a second SYN/ACK, another nonce, its mac right */
		n = msynack(&s, 1, nonce2, mac2, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK with another nonce", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_ACK_BAD) == 1, "%s [%s]: synack_dropped %llu",
		      s.fam, s.h->name, (unsigned long long)fx_stat(skel, MIG_STAT_ACK_BAD));
		CHECK_FLOW_SAME(&s.c->cli.t, &wf);
		/* the first one's repeat is still answered */
		n = msynack(&s, 1, nonce1, mac1, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "first SYN/ACK again", in, n, 0, s.h->tx, want, wn, &r);

		/* the same once mig_pend went (through the translation) */
		CHECK(!map_del(skel->maps.mig_pend, &s.b_wire), "del pend");
		n = msynack(&s, 1, nonce2, mac2, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "other nonce, no mig_pend", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		n = msynack(&s, 1, nonce1, mac1, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "first nonce, no mig_pend", in, n, 0, s.h->tx,
		       want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_ACK_BAD) == 2, "synack_dropped");
		CHECK(fx_stat(skel, MIG_STAT_CONFIRM_SENT) == 3, "confirm_sent %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_CONFIRM_SENT));
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_MOVER) == 1, "committed_mover");
		CHECK_FLOW_SAME(&s.c->cli.t, &wf);
		CHECK(ingress_is(&s.b_wire, &s.c->cli.t, MIG_IN_XLATE) &&
		      egress_is(&s.c->cli.t, &s.b_wire), "translation changed");
	}
}

/* ---- migrated flows ------------------------------------------------------ */

/* Commit both ends through the hook under test: the fixed end (srv) by
 * Migrate SYN + CONFIRM, the mover (cli) by mig_pend + Migrate SYN/ACK. */
static int commit_pair(int *unit_failed, const struct sc *s)
{
	__u8 in[FX_PKT_MAX], nonce[8], mac[8];
	struct mig_flow f;
	struct fx_pkt p;
	struct fx_res r;
	size_t n;

	if (install_fixed(s, 0, &f) || install_mover(s, 1, &f) ||
	    answer_msyn(unit_failed, s, s->new_addr, s->new_port, &s->a_wire, 1, nonce))
		return -1;
	n = confirm_ok(s, s->new_addr, s->new_port, 1, nonce, &p, in);
	hook_run(s->h, in, n, 0, 1, &r);
	fx_mac_ack(fx_s_r, 1, FX_CHALLENGE, nonce, mac);
	n = msynack(s, 1, nonce, mac, s->new_port, &p, in);
	hook_run(s->h, in, n, 0, 1, &r);
	if (fx_stat(skel, MIG_STAT_COMMIT_FIXED) != 1 ||
	    fx_stat(skel, MIG_STAT_COMMIT_MOVER) != 1) {
		CHECK(0, "%s [%s]: commit failed", s->fam, s->h->name);
		return -1;
	}
	return 0;
}

/* commit_pair, and both translations past their stale timestamp echoes */
static int commit_both(int *unit_failed, const struct sc *s)
{
	if (commit_pair(unit_failed, s))
		return -1;
	if (ts_settle(&s->a_wire) || ts_settle(&s->b_wire)) {
		CHECK(0, "%s [%s]: no translation to settle", s->fam, s->h->name);
		return -1;
	}
	return 0;
}

TEST(rewrite_migrated)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	const struct fx_conn *c;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		c = s.c;
		if (commit_both(unit_failed, &s))
			continue;

		/* fixed end, ingress: NEW -> srv becomes cli -> srv */
		n = data_seg(s.family, s.new_addr, s.new_port, c->srv.t.laddr, c->srv.t.lport,
			     c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		memcpy(p.saddr, c->cli.t.laddr, 16);
		p.sport = ntohs(c->cli.t.lport);
		wn = fx_build(&p, want);
		expect(unit_failed, &s, s.h, "fixed end: data in", in, n, 0, s.h->pass, want, wn, &r);

		/* mover, ingress: srv -> NEW becomes srv -> cli */
		n = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, s.new_addr, s.new_port,
			     c->srv.snd_nxt, c->srv.rcv_nxt, &p, in);
		memcpy(p.daddr, c->cli.t.laddr, 16);
		p.dport = ntohs(c->cli.t.lport);
		wn = fx_build(&p, want);
		expect(unit_failed, &s, s.h, "mover: data in", in, n, 0, s.h->pass, want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 2, "xlate_in %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_XLATE_IN));

		/* fixed end, egress: srv -> cli becomes srv -> NEW */
		n = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			     c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, in);
		memcpy(p.daddr, s.new_addr, 16);
		p.dport = FX_NEW_PORT;
		wn = fx_build(&p, want);
		expect(unit_failed, &s, &out_hook, "fixed end: data out", in, n, 0, out_hook.pass,
		       want, wn, &r);

		/* mover, egress: cli -> srv becomes NEW -> srv */
		n = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		memcpy(p.saddr, s.new_addr, 16);
		p.sport = FX_NEW_PORT;
		wn = fx_build(&p, want);
		expect(unit_failed, &s, &out_hook, "mover: data out", in, n, 0, out_hook.pass,
		       want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_OUT) == 2, "xlate_out %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_XLATE_OUT));

		/* our own answers (MIG_MARK) are left alone on egress */
		n = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			     c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, in);
		expect(unit_failed, &s, &out_hook, "MIG_MARK out", in, n, MIG_MARK,
		       out_hook.pass, in, n, &r);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_OUT) == 2, "marked segment rewritten");
	}
}

/* (e) After a commit, segments on the wire tuple the flow left (the
 * socket tuple, for a first migration) reach nobody: dropped, counted. */
TEST(retired_dropped)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	const struct fx_conn *c;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		c = s.c;
		/* before any migration the socket tuple is just the flow's */
		n = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data on the socket tuple, unmigrated", in, n, 0,
		       s.h->pass, in, n, &r);
		if (commit_both(unit_failed, &s))
			continue;

		/* fixed end's view: cli -> srv on the old tuple */
		expect(unit_failed, &s, s.h, "fixed end: data on the retired tuple", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		p.flags = F_FIN | F_ACK;
		p.plen = 0;
		n = fx_build(&p, in);
		expect(unit_failed, &s, s.h, "fixed end: FIN on the retired tuple", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		/* mover's view: srv -> cli on the old tuple */
		n = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			     c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "mover: data on the retired tuple", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_RETIRED_DROP) == 3, "%s [%s]: retired_dropped %llu",
		      s.fam, s.h->name,
		      (unsigned long long)fx_stat(skel, MIG_STAT_RETIRED_DROP));
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 0, "rewrote a retired segment");
		CHECK(ingress_is(&c->srv.t, &c->srv.t, MIG_IN_RETIRED) &&
		      ingress_is(&c->cli.t, &c->cli.t, MIG_IN_RETIRED), "retired entries changed");

		/* the new wire tuple still works */
		n = data_seg(s.family, s.new_addr, s.new_port, c->srv.t.laddr, c->srv.t.lport,
			     c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		memcpy(p.saddr, c->cli.t.laddr, 16);
		p.sport = ntohs(c->cli.t.lport);
		wn = fx_build(&p, want);
		expect(unit_failed, &s, s.h, "data on the new tuple", in, n, 0, s.h->pass,
		       want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_RETIRED_DROP) == 3, "retired_dropped");
	}
}

/* The mover moves again (reqno 2, from NEW2): the translation follows,
 * NEW is retired (dropped), the socket tuple retired before is forgotten
 * (its segments reach the kernel as they are). */
TEST(second_migration)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], nonce[8];
	struct mig_flow f, fw;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	__u32 reqno;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		for (reqno = 1; reqno <= 2; reqno++) {
			const __u32 *a = reqno == 1 ? s.new_addr : s.new_addr2;
			__u16 port = reqno == 1 ? s.new_port : s.new_port2;

			if (answer_msyn(unit_failed, &s, a, port,
					reqno == 1 ? &s.a_wire : &s.a_wire2, reqno, nonce))
				break;
			n = confirm_ok(&s, a, port, reqno, nonce, &p, in);
			expect(unit_failed, &s, s.h, "CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		}
		CHECK(ingress_is(&s.a_wire, &s.c->srv.t, MIG_IN_RETIRED),
		      "%s [%s]: old wire tuple not retired", s.fam, s.h->name);
		CHECK(ingress_is(&s.a_wire2, &s.c->srv.t, MIG_IN_XLATE),
		      "%s [%s]: new wire tuple not translated", s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_ingress) == 2, "%s [%s]: %d ingress entries",
		      s.fam, s.h->name, fx_map_count(skel->maps.mig_ingress));
		CHECK(egress_is(&s.c->srv.t, &s.a_wire2), "egress not moved");
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw) && fw.migrations == 2 &&
		      fw.peer_reqno == 2 && tuple_eq(&fw.wire, &s.a_wire2) &&
		      tuple_eq(&fw.prev, &s.a_wire),
		      "%s [%s]: flow after the second commit", s.fam, s.h->name);

		n = data_seg(s.family, s.new_addr2, s.new_port2, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		memcpy(p.saddr, s.c->cli.t.laddr, 16);
		p.sport = ntohs(s.c->cli.t.lport);
		fx_opt_ts(&p, 0x01020304, 0);   /* the new commit's first echo: cleared */
		p.opts[0] = MIG_CC_MARK_KIND;   /* ... and marked (cc_mark) */
		p.opts[1] = 2;
		wn = fx_build(&p, want);
		expect(unit_failed, &s, s.h, "data from NEW2", in, n, 0, s.h->pass, want, wn, &r);
		n = data_seg(s.family, s.new_addr, s.new_port, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data from the old NEW", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_RETIRED_DROP) == 1, "retired_dropped");
		n = data_seg(s.family, s.c->cli.t.laddr, s.c->cli.t.lport, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data on the socket tuple", in, n, 0, s.h->pass,
		       in, n, &r);
	}
}

/* mig_hold drops a flow's segments, only while mig_host.holds says there
 * are holds. */
TEST(egress_hold)
{
	__u8 in[FX_PKT_MAX], in2[FX_PKT_MAX];
	struct mig_hold hold;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, n2;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		if (!s.h->skb)   /* TC ingress: Ethernet and L3 */
			continue;         /* egress is TC only */
		memset(&hold, 0, sizeof(hold));
		hold.since_ns = fx_now_ns();
		CHECK(!map_put(skel->maps.mig_hold, &s.c->cli.t, &hold), "put");
		n = data_seg(s.family, s.c->cli.t.laddr, s.c->cli.t.lport, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		n2 = data_seg(s.family, s.c->srv.t.laddr, s.c->srv.t.lport, s.c->cli.t.laddr,
			      s.c->cli.t.lport, s.c->srv.snd_nxt, s.c->srv.rcv_nxt, &p, in2);

		/* mig_host.holds == 0: the egress program does not look */
		expect(unit_failed, &s, &out_hook, "hold, gate closed", in, n, 0, out_hook.pass,
		       in, n, &r);
		CHECK(fx_stat(skel, MIG_STAT_HOLD_DROP) == 0, "held_dropped");

		CHECK(!fx_host(skel, 1), "mig_host");
		expect(unit_failed, &s, &out_hook, "held segment", in, n, 0, TC_ACT_STOLEN,
		       NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_HOLD_DROP) == 1, "%s: held_dropped %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_HOLD_DROP));
		/* another flow's segments pass */
		expect(unit_failed, &s, &out_hook, "segment not held", in2, n2, 0, out_hook.pass,
		       in2, n2, &r);
		/* our own answers (MIG_MARK) are never held */
		expect(unit_failed, &s, &out_hook, "held flow, MIG_MARK", in, n, MIG_MARK,
		       out_hook.pass, in, n, &r);
		/* the hold removed */
		CHECK(!map_del(skel->maps.mig_hold, &s.c->cli.t), "del");
		expect(unit_failed, &s, &out_hook, "hold removed", in, n, 0, out_hook.pass,
		       in, n, &r);
		CHECK(fx_stat(skel, MIG_STAT_HOLD_DROP) == 1, "held_dropped");

		/* a hold that began after the last commit holds a migrated
		 * flow too (and its segments are not translated) */
		fx_reset(skel);
		if (commit_both(unit_failed, &s))
			continue;
		hold.since_ns = fx_now_ns();
		CHECK(!map_put(skel->maps.mig_hold, &s.c->cli.t, &hold), "put");
		CHECK(!fx_host(skel, 1), "mig_host");
		expect(unit_failed, &s, &out_hook, "held migrated flow", in, n, 0, TC_ACT_STOLEN,
		       NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_HOLD_DROP) == 1 &&
		      fx_stat(skel, MIG_STAT_XLATE_OUT) == 0, "held migrated flow");
	}
}
/* ---- MIGRATE-WAIT: RST tags and the hold (rule 8) ---------------------- */

/* The tag of a RST, its message built here byte by byte from the wire
 * contract (0x05 || seq_be32 || ack_be32), independently of the message
 * builder the data path uses. */
static void rst_tag(const __u8 key[16], __u32 seq, __u32 ack, __u8 tag[8])
{
	const __u8 m[9] = {
		0x05,
		(__u8)(seq >> 24), (__u8)(seq >> 16), (__u8)(seq >> 8), (__u8)seq,
		(__u8)(ack >> 24), (__u8)(ack >> 16), (__u8)(ack >> 8), (__u8)ack,
	};

	mig_siphash_out(mig_siphash(key, m, sizeof(m)), tag);
}

/* A RST (flags: RST, maybe ACK) from (sa, sp) to (da, dp), window 0,
 * with timestamps if ts, carrying plen bytes of pl. */
static size_t rst_seg(int family, const __u32 sa[4], __u16 sp, const __u32 da[4],
		      __u16 dp, __u32 seq, __u32 ack, __u8 flags, bool ts,
		      const __u8 *pl, __u16 plen, struct fx_pkt *p, __u8 *f)
{
	fx_pkt_in(p, family, sa, sp, da, dp);
	p->seq = seq;
	p->ack = ack;
	p->flags = flags;
	p->win = 0;
	if (ts)
		fx_opt_ts(p, 0x0badcafe, 0x00c0ffee);
	p->payload = pl;
	p->plen = plen;
	return fx_build(p, f);
}

/* The four MIGRATE-WAIT counters are exactly these. */
#define CHECK_RST_STATS(s, sg, au, he, re)                                          \
	CHECK(fx_stat(skel, MIG_STAT_RST_SIGNED) == (sg) &&                          \
	      fx_stat(skel, MIG_STAT_RST_AUTH) == (au) &&                            \
	      fx_stat(skel, MIG_STAT_RST_HELD) == (he) &&                            \
	      fx_stat(skel, MIG_STAT_RST_RELEASED) == (re),                          \
	      "%s [%s]: rst_signed %llu rst_authenticated %llu rst_held %llu "       \
	      "rst_released %llu, want %d %d %d %d", (s)->fam, (s)->h->name,          \
	      (unsigned long long)fx_stat(skel, MIG_STAT_RST_SIGNED),                \
	      (unsigned long long)fx_stat(skel, MIG_STAT_RST_AUTH),                  \
	      (unsigned long long)fx_stat(skel, MIG_STAT_RST_HELD),                  \
	      (unsigned long long)fx_stat(skel, MIG_STAT_RST_RELEASED),              \
	      (int)(sg), (int)(au), (int)(he), (int)(re))

/* The flow's rst_held_ms into *ms; 0 if the flow is there. */
static int held_of(const struct mig_tuple *sock, __u32 *ms)
{
	struct mig_flow f;

	if (map_get(skel->maps.mig_flows, sock, &f))
		return -1;
	*ms = f.rst_held_ms;
	return 0;
}

/* Write rst_held_ms of the flow by hand. */
static int set_held(const struct mig_tuple *sock, __u32 ms)
{
	struct mig_flow f;

	if (map_get(skel->maps.mig_flows, sock, &f))
		return -1;
	f.rst_held_ms = ms;
	return map_put(skel->maps.mig_flows, sock, &f);
}

/* The tag as the test computes it is the tag of mig_siphash.h's builder
 * (which the data path uses), and it depends on key, seq and ack. */
TEST(rst_tag_layout)
{
	__u8 a[8], b[8], x[8];

	rst_tag(fx_s_r, 0x01020304, 0xa1b2c3d4, a);
	fx_mac_reset(fx_s_r, 0x01020304, 0xa1b2c3d4, b);
	CHECK(!memcmp(a, b, 8), "rst_tag and mig_sip_mac_reset differ");
	rst_tag(fx_s_i, 0x01020304, 0xa1b2c3d4, x);
	CHECK(memcmp(a, x, 8), "key not in the tag");
	rst_tag(fx_s_r, 0x01020305, 0xa1b2c3d4, x);
	CHECK(memcmp(a, x, 8), "seq not in the tag");
	rst_tag(fx_s_r, 0x01020304, 0xa1b2c3d5, x);
	CHECK(memcmp(a, x, 8), "ack not in the tag");
	rst_tag(fx_s_r, 0xa1b2c3d4, 0x01020304, x);
	CHECK(memcmp(a, x, 8), "seq and ack swapped, same tag");
}

/* Egress: every RST of a keyed flow (found by its socket tuple) leaves
 * with SipHash(s_own, 5||seq||ack) as an 8-byte payload, IP length and
 * checksums updated; nothing else is touched.  A migrated flow's signed
 * RST is also rewritten to the wire tuple. */
TEST(rst_signed)
{
	static const struct {
		const char *name;
		__u8 flags;
		bool ts;
		bool zero_ack;
	} v[] = {
		{ "RST|ACK out", F_RST | F_ACK, false, false },
		{ "RST out (no ACK, ack 0)", F_RST, false, true },
		{ "RST out (no ACK, ack field set)", F_RST, false, false },
		{ "RST|ACK out, timestamps", F_RST | F_ACK, true, false },
	};
	static const __u8 junk[8] = { 0x6a, 0x75, 0x6e, 0x6b, 0x00, 0x01, 0x02, 0x03 };
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], tag[8];
	const struct fx_conn *c;
	struct mig_flow f, fc;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn, i;
	__u32 seq, ack;
	__u16 oport;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		if (!s.h->skb)   /* TC ingress: Ethernet and L3 */
			continue;         /* egress is TC only */
		c = s.c;
		CHECK(!install_fixed(&s, 0, &f), "install");

		/* the fixed end's (srv) RSTs: tag under s_own = s_r */
		for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			seq = c->srv.snd_nxt;
			ack = v[i].zero_ack ? 0 : c->srv.rcv_nxt;
			n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
				    c->cli.t.lport, seq, ack, v[i].flags, v[i].ts, NULL, 0, &p, in);
			rst_tag(fx_s_r, seq, ack, tag);
			p.payload = tag;
			p.plen = sizeof(tag);
			wn = fx_build(&p, want);
			CHECK(wn == n + 8, "expected frame length");
			expect(unit_failed, &s, &out_hook, v[i].name, in, n, 0, out_hook.pass,
			       want, wn, &r);
		}
		CHECK_RST_STATS(&s, 4, 0, 0, 0);
		CHECK_FLOW_SAME(&c->srv.t, &f);

		/* left unchanged: a RST of a tuple that is not keyed (another
		 * remote port; the reverse direction, whose socket tuple is the
		 * unkeyed cli), a RST that carries data already, data, FIN,
		 * a bare ACK, and our own (MIG_MARK) segments */
		seq = c->srv.snd_nxt;
		ack = c->srv.rcv_nxt;
		oport = htons(ntohs(c->cli.t.lport) ^ 0x5a5a);
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr, oport,
			    seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		expect(unit_failed, &s, &out_hook, "RST out, tuple not keyed", in, n, 0,
		       out_hook.pass, in, n, &r);
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, F_RST | F_ACK, false,
			    NULL, 0, &p, in);
		expect(unit_failed, &s, &out_hook, "RST out, the unkeyed reverse tuple", in, n, 0,
		       out_hook.pass, in, n, &r);
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			    c->cli.t.lport, seq, ack, F_RST | F_ACK, false, junk, 8, &p, in);
		expect(unit_failed, &s, &out_hook, "RST out with 8 bytes of data", in, n, 0,
		       out_hook.pass, in, n, &r);
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			    c->cli.t.lport, seq, ack, F_RST, true, junk, 1, &p, in);
		expect(unit_failed, &s, &out_hook, "RST out with 1 byte of data", in, n, 0,
		       out_hook.pass, in, n, &r);
		n = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			     c->cli.t.lport, seq, ack, &p, in);
		expect(unit_failed, &s, &out_hook, "data out", in, n, 0, out_hook.pass, in, n, &r);
		p.flags = F_FIN | F_ACK;
		p.plen = 0;
		n = fx_build(&p, in);
		expect(unit_failed, &s, &out_hook, "FIN out", in, n, 0, out_hook.pass, in, n, &r);
		p.flags = F_ACK;
		n = fx_build(&p, in);
		expect(unit_failed, &s, &out_hook, "ACK out", in, n, 0, out_hook.pass, in, n, &r);
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			    c->cli.t.lport, seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		expect(unit_failed, &s, &out_hook, "RST out, MIG_MARK", in, n, MIG_MARK,
		       out_hook.pass, in, n, &r);
		CHECK_RST_STATS(&s, 4, 0, 0, 0);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_OUT) == 0, "rewrote an unmigrated flow");
		CHECK_FLOW_SAME(&c->srv.t, &f);

		/* migrated: signed, then rewritten to the wire tuple */
		fx_reset(skel);
		if (commit_both(unit_failed, &s))
			continue;
		CHECK(!map_get(skel->maps.mig_flows, &c->srv.t, &f) &&
		      !map_get(skel->maps.mig_flows, &c->cli.t, &fc), "flows gone");
		/* fixed end: srv -> cli leaves as srv -> NEW, tag under s_r */
		seq = c->srv.snd_nxt;
		ack = c->srv.rcv_nxt;
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			    c->cli.t.lport, seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		rst_tag(fx_s_r, seq, ack, tag);
		p.payload = tag;
		p.plen = sizeof(tag);
		memcpy(p.daddr, s.new_addr, 16);
		p.dport = FX_NEW_PORT;
		wn = fx_build(&p, want);
		expect(unit_failed, &s, &out_hook, "fixed end: RST out, migrated", in, n, 0,
		       out_hook.pass, want, wn, &r);
		/* mover: cli -> srv leaves as NEW -> srv, tag under s_i */
		seq = c->cli.snd_nxt;
		ack = c->cli.rcv_nxt;
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, true, NULL, 0, &p, in);
		rst_tag(fx_s_i, seq, ack, tag);
		p.payload = tag;
		p.plen = sizeof(tag);
		memcpy(p.saddr, s.new_addr, 16);
		p.sport = FX_NEW_PORT;
		wn = fx_build(&p, want);
		expect(unit_failed, &s, &out_hook, "mover: RST out, migrated, timestamps", in, n,
		       0, out_hook.pass, want, wn, &r);
		/* a migrated flow's RST with data: translated, not signed */
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, junk, 8, &p, in);
		memcpy(p.saddr, s.new_addr, 16);
		p.sport = FX_NEW_PORT;
		wn = fx_build(&p, want);
		expect(unit_failed, &s, &out_hook, "mover: RST out with data, migrated", in, n,
		       0, out_hook.pass, want, wn, &r);
		CHECK_RST_STATS(&s, 2, 0, 0, 0);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_OUT) == 3, "%s: xlate_out %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_XLATE_OUT));
		CHECK_FLOW_SAME(&c->srv.t, &f);
		CHECK_FLOW_SAME(&c->cli.t, &fc);
	}
}

/* Ingress, unmigrated keyed flow: a RST with the peer's tag passes
 * untouched; any other RST is held (dropped), the flow remembers when
 * the first one came and nothing else of it changes.  RSTs of tuples that
 * are not keyed pass untouched. */
TEST(rst_authenticated)
{
	static const __u8 junk[8] = { 0x6a, 0x75, 0x6e, 0x6b, 0x00, 0x01, 0x02, 0x03 };
	__u8 in[FX_PKT_MAX], tag[8], tag0[8], bad[16];
	const struct fx_conn *c;
	struct mig_flow f, fw, wf;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, i;
	__u32 seq, ack, t0, t1, held = 0;
	__u16 oport;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		c = s.c;
		CHECK(!install_fixed(&s, 0, &f), "install");   /* s_peer = s_i */
		seq = c->cli.snd_nxt;
		ack = c->cli.rcv_nxt;
		rst_tag(fx_s_i, seq, ack, tag);
		rst_tag(fx_s_i, seq, 0, tag0);

		/* authenticated: pass, bytes unchanged */
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, tag, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST|ACK in, right tag", in, n, 0, s.h->pass,
		       in, n, &r);
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, 0, F_RST, false, tag0, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST in (no ACK), right tag", in, n, 0, s.h->pass,
		       in, n, &r);
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, true, tag, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST|ACK in, timestamps, right tag", in, n, 0,
		       s.h->pass, in, n, &r);
		CHECK_RST_STATS(&s, 0, 3, 0, 0);
		CHECK_FLOW_SAME(&c->srv.t, &f);

		/* not keyed: another remote port; the reverse direction (to the
		 * unkeyed cli socket) */
		oport = htons(ntohs(c->cli.t.lport) ^ 0x5a5a);
		n = rst_seg(s.family, c->cli.t.laddr, oport, c->srv.t.laddr, c->srv.t.lport,
			    seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		expect(unit_failed, &s, s.h, "RST in, tuple not keyed", in, n, 0, s.h->pass,
		       in, n, &r);
		n = rst_seg(s.family, c->cli.t.laddr, oport, c->srv.t.laddr, c->srv.t.lport,
			    seq, ack, F_RST | F_ACK, false, junk, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST in, tuple not keyed, wrong tag", in, n, 0,
		       s.h->pass, in, n, &r);
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			    c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, F_RST | F_ACK, false,
			    NULL, 0, &p, in);
		expect(unit_failed, &s, s.h, "RST in to the unkeyed cli socket", in, n, 0,
		       s.h->pass, in, n, &r);
		CHECK_RST_STATS(&s, 0, 3, 0, 0);
		CHECK_FLOW_SAME(&c->srv.t, &f);

		/* not authenticated: held */
		for (i = 0; i < 9; i++) {
			const char *name = "";
			__u8 fl = F_RST | F_ACK;
			__u16 len = 8;
			bool ts = false;

			memcpy(bad, tag, 8);
			memcpy(bad + 8, tag, 8);
			switch (i) {
			case 0: name = "RST in, tag with a bit flipped"; bad[7] ^= 0x01; break;
			case 1: name = "RST in, tag under the fixed end's own key";
				rst_tag(fx_s_r, seq, ack, bad); break;
			case 2: name = "RST in, tag of another seq";
				rst_tag(fx_s_i, seq + 1, ack, bad); break;
			case 3: name = "RST in, tag of another ack";
				rst_tag(fx_s_i, seq, ack + 1, bad); break;
			case 4: name = "RST in, 7 bytes (the tag's first 7)"; len = 7; break;
			case 5: name = "RST in, 9 bytes (the tag and one more)"; len = 9;
				bad[8] = 0; break;
			case 6: name = "RST in, 16 bytes (the tag twice)"; len = 16; break;
			case 7: name = "RST|ACK in, no payload"; len = 0; ts = true; break;
			case 8: name = "RST in (no ACK), no payload"; len = 0; fl = F_RST; break;
			}
			n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
				    c->srv.t.lport, seq, fl == F_RST ? 0 : ack, fl, ts,
				    len ? bad : NULL, len, &p, in);
			t0 = fx_now_ms();
			expect(unit_failed, &s, s.h, name, in, n, 0, s.h->drop, NULL, 0, &r);
			t1 = fx_now_ms();
			CHECK(!map_get(skel->maps.mig_flows, &c->srv.t, &fw), "flow gone");
			if (i == 0) {
				held = fw.rst_held_ms;
				CHECK(held && held - t0 <= t1 - t0,
				      "%s [%s]: rst_held_ms %u, want in [%u, %u]", s.fam,
				      s.h->name, held, t0, t1);
			}
			/* only rst_held_ms moved, and only at the first one */
			wf = f;
			wf.rst_held_ms = held;
			if (!unit_memeq(&fw, &wf, sizeof(fw), "flow"))
				CHECK(0, "%s [%s]: %s: flow changed (rst_held_ms %u, first %u)",
				      s.fam, s.h->name, name, fw.rst_held_ms, held);
		}
		CHECK_RST_STATS(&s, 0, 3, 9, 0);

		/* held or not, the peer's tagged RST still passes at once; and
		 * unkeyed RSTs are not held */
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, tag, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST in, right tag, while holding", in, n, 0,
		       s.h->pass, in, n, &r);
		n = rst_seg(s.family, c->cli.t.laddr, oport, c->srv.t.laddr, c->srv.t.lport,
			    seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		expect(unit_failed, &s, s.h, "RST in, tuple not keyed, while holding", in, n, 0,
		       s.h->pass, in, n, &r);
		CHECK_RST_STATS(&s, 0, 4, 9, 0);
		CHECK(!map_get(skel->maps.mig_flows, &c->srv.t, &fw) && fw.rst_held_ms == held,
		      "%s [%s]: rst_held_ms moved", s.fam, s.h->name);
		CHECK(fx_map_count(skel->maps.mig_flows) == 1 &&
		      fx_map_count(skel->maps.mig_ingress) == 0 &&
		      fx_map_count(skel->maps.mig_egress) == 0 &&
		      fx_map_count(skel->maps.mig_cand) == 0, "%s [%s]: maps changed",
		      s.fam, s.h->name);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 0, "rewrote something");
	}
}

/* The hold's clock: MIG_RST_HOLD_MS after the first held RST, RSTs pass
 * (released) until 2 * MIG_RST_HOLD_MS, then a new hold starts; a commit
 * discards the hold; on a migrated flow's wire tuple the tagged RST
 * passes, rewritten to the socket tuple. */
TEST(rst_hold_window)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], tag[8], bad[8], nonce[8], amac[8];
	const struct fx_conn *c;
	struct mig_flow f, fm, fpre, fw, wf;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	__u32 seq, ack, held, got = 0, t0, t1;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		c = s.c;
		CHECK(!install_fixed(&s, 0, &f) && !install_mover(&s, 1, &fm), "install");
		seq = c->cli.snd_nxt;
		ack = c->cli.rcv_nxt;
		rst_tag(fx_s_i, seq, ack, tag);
		memcpy(bad, tag, 8);
		bad[0] ^= 0x80;

		/* the hold began more than MIG_RST_HOLD_MS ago: released */
		held = fx_now_ms() - MIG_RST_HOLD_MS - 1;
		CHECK(!set_held(&c->srv.t, held), "set");
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		expect(unit_failed, &s, s.h, "RST in, no tag, after the hold", in, n, 0,
		       s.h->pass, in, n, &r);
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, true, bad, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST in, wrong tag, after the hold", in, n, 0,
		       s.h->pass, in, n, &r);
		CHECK_RST_STATS(&s, 0, 0, 0, 2);
		CHECK(!held_of(&c->srv.t, &got) && got == held,
		      "%s [%s]: released RST moved rst_held_ms: %u, was %u", s.fam, s.h->name,
		      got, held);
		/* a tagged one is still authenticated, not released */
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, tag, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST in, right tag, after the hold", in, n, 0,
		       s.h->pass, in, n, &r);
		CHECK_RST_STATS(&s, 0, 1, 0, 2);

		/* within the hold (5 s before its end): held, clock kept */
		held = fx_now_ms() - MIG_RST_HOLD_MS + 5000;
		CHECK(!set_held(&c->srv.t, held), "set");
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		expect(unit_failed, &s, s.h, "RST in, no tag, near the hold's end", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK_RST_STATS(&s, 0, 1, 1, 2);
		CHECK(!held_of(&c->srv.t, &got) && got == held,
		      "%s [%s]: held RST moved rst_held_ms: %u, was %u", s.fam, s.h->name,
		      got, held);

		/* more than 2 * MIG_RST_HOLD_MS ago: a new hold from now */
		held = fx_now_ms() - 2 * MIG_RST_HOLD_MS - 1;
		CHECK(!set_held(&c->srv.t, held), "set");
		t0 = fx_now_ms();
		expect(unit_failed, &s, s.h, "RST in, no tag, long after the hold", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		t1 = fx_now_ms();
		CHECK_RST_STATS(&s, 0, 1, 2, 2);
		CHECK(!held_of(&c->srv.t, &got) && got && got - t0 <= t1 - t0,
		      "%s [%s]: rst_held_ms %u after an old hold, want in [%u, %u]", s.fam,
		      s.h->name, got, t0, t1);
		held = got;
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, bad, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST in, wrong tag, new hold", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		CHECK_RST_STATS(&s, 0, 1, 3, 2);
		CHECK(!held_of(&c->srv.t, &got) && got == held, "rst_held_ms moved");

		/* fixed end: the commit (Migrate SYN + CONFIRM) discards the hold */
		if (answer_msyn(unit_failed, &s, s.new_addr, s.new_port, &s.a_wire, 1, nonce))
			continue;
		CHECK(!map_get(skel->maps.mig_flows, &c->srv.t, &fpre), "flow gone");
		CHECK(fpre.rst_held_ms == held, "%s [%s]: Migrate SYN moved rst_held_ms",
		      s.fam, s.h->name);
		n = confirm_ok(&s, s.new_addr, s.new_port, 1, nonce, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1, "not committed");
		CHECK(!map_get(skel->maps.mig_flows, &c->srv.t, &fw), "flow gone");
		committed_flow(&wf, &fpre, &fw, &s, &s.a_wire, 1);
		wf.rst_held_ms = 0;
		CHECK(fw.rst_held_ms == 0, "%s [%s]: commit kept rst_held_ms %u", s.fam,
		      s.h->name, fw.rst_held_ms);
		CHECK_MEM(&fw, &wf, sizeof(fw));

		/* on the wire tuple: an untagged RST is held before any
		 * rewrite (the translation not marked seen) ... */
		n = rst_seg(s.family, s.new_addr, s.new_port, c->srv.t.laddr, c->srv.t.lport,
			    seq, ack, F_RST | F_ACK, false, bad, 8, &p, in);
		t0 = fx_now_ms();
		expect(unit_failed, &s, s.h, "RST in on the wire tuple, wrong tag", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		t1 = fx_now_ms();
		CHECK_RST_STATS(&s, 0, 1, 4, 2);
		CHECK(!held_of(&c->srv.t, &got) && got && got - t0 <= t1 - t0,
		      "%s [%s]: rst_held_ms %u after a held RST on the wire tuple, want in "
		      "[%u, %u]", s.fam, s.h->name, got, t0, t1);
		CHECK(ingress_is(&s.a_wire, &c->srv.t, MIG_IN_XLATE),
		      "%s [%s]: held RST changed the translation", s.fam, s.h->name);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 0, "held RST rewritten");
		/* ... the tagged one passes, rewritten to the socket tuple */
		n = rst_seg(s.family, s.new_addr, s.new_port, c->srv.t.laddr, c->srv.t.lport,
			    seq, ack, F_RST | F_ACK, true, tag, 8, &p, in);
		memcpy(p.saddr, c->cli.t.laddr, 16);
		p.sport = ntohs(c->cli.t.lport);
		wn = fx_build(&p, want);
		expect(unit_failed, &s, s.h, "fixed end: RST in on the wire tuple, right tag", in,
		       n, 0, s.h->pass, want, wn, &r);
		CHECK_RST_STATS(&s, 0, 2, 4, 2);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 1, "%s [%s]: xlate_in %llu", s.fam,
		      s.h->name, (unsigned long long)fx_stat(skel, MIG_STAT_XLATE_IN));
		/* the tagged RST on the retired socket tuple reaches nobody */
		n = rst_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			    c->srv.t.lport, seq, ack, F_RST | F_ACK, false, tag, 8, &p, in);
		expect(unit_failed, &s, s.h, "RST in on the retired tuple, right tag", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_RETIRED_DROP) == 1, "retired_dropped");
		CHECK_RST_STATS(&s, 0, 2, 4, 2);

		/* mover: a RST held on its socket tuple, then the commit (the
		 * Migrate SYN/ACK) discards the hold */
		seq = c->srv.snd_nxt;
		ack = c->srv.rcv_nxt;
		rst_tag(fx_s_r, seq, ack, tag);
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			    c->cli.t.lport, seq, ack, F_RST | F_ACK, false, NULL, 0, &p, in);
		t0 = fx_now_ms();
		expect(unit_failed, &s, s.h, "mover: RST in, no tag", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		t1 = fx_now_ms();
		CHECK_RST_STATS(&s, 0, 2, 5, 2);
		CHECK(!map_get(skel->maps.mig_flows, &c->cli.t, &fpre), "flow gone");
		wf = fm;
		wf.rst_held_ms = fpre.rst_held_ms;
		CHECK(fpre.rst_held_ms && fpre.rst_held_ms - t0 <= t1 - t0,
		      "%s [%s]: mover's rst_held_ms %u, want in [%u, %u]", s.fam, s.h->name,
		      fpre.rst_held_ms, t0, t1);
		CHECK_MEM(&fpre, &wf, sizeof(fpre));
		fx_mac_ack(fx_s_r, 1, FX_CHALLENGE, nonce, amac);
		n = msynack(&s, 1, nonce, amac, s.new_port, &p, in);
		wn = want_confirm(&s, &p, 1, nonce, want);
		expect(unit_failed, &s, s.h, "Migrate SYN/ACK", in, n, 0, s.h->tx, want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_MOVER) == 1, "mover not committed");
		CHECK(!map_get(skel->maps.mig_flows, &c->cli.t, &fw), "flow gone");
		mover_committed(&wf, &fpre, &fw, &s, 1, nonce);
		wf.rst_held_ms = 0;
		CHECK(fw.rst_held_ms == 0, "%s [%s]: mover's commit kept rst_held_ms %u",
		      s.fam, s.h->name, fw.rst_held_ms);
		CHECK_MEM(&fw, &wf, sizeof(fw));
		/* the fixed end's tagged RST to the mover's wire tuple: passes as
		 * srv -> cli */
		n = rst_seg(s.family, c->srv.t.laddr, c->srv.t.lport, s.new_addr, s.new_port,
			    seq, ack, F_RST | F_ACK, false, tag, 8, &p, in);
		memcpy(p.daddr, c->cli.t.laddr, 16);
		p.dport = ntohs(c->cli.t.lport);
		wn = fx_build(&p, want);
		expect(unit_failed, &s, s.h, "mover: RST in on the wire tuple, right tag", in, n,
		       0, s.h->pass, want, wn, &r);
		CHECK_RST_STATS(&s, 0, 3, 5, 2);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 2, "%s [%s]: xlate_in %llu", s.fam,
		      s.h->name, (unsigned long long)fx_stat(skel, MIG_STAT_XLATE_IN));
		CHECK(!held_of(&c->cli.t, &got) && got == 0, "mover's rst_held_ms %u", got);
	}
}

/* ---- ICMP errors about migrated flows (icmp_in) ---------------------------- */

/*
 * A router on the new path answers a segment a host sent on a migrated
 * flow with an ICMP error: the error quotes the wire tuple and is
 * addressed to the wire address, which the kernel cannot match to the
 * socket.  The ingress hooks rewrite it to the socket tuple:
 *
 *   fixed end:  rtr -> srv   ICMP [ srv:P   -> NEW:40000 TCP ]
 *           ==> rtr -> srv   ICMP [ srv:P   -> cli:C     TCP ]
 *   mover:      rtr -> NEW   ICMP [ NEW:40000 -> srv:P   TCP ]
 *           ==> rtr -> cli   ICMP [ cli:C   -> srv:P     TCP ]
 *
 * Expected frames are the ICMP error a router would send about the
 * socket-tuple segment, built from scratch, except for the quoted TCP
 * checksum, which stays the wire segment's (nobody recomputes it).
 */

/* Quoted lengths: the whole segment (what Linux routers quote) and the
 * minimum of RFC 792 (the IP header and 8 bytes of TCP). */
#define Q_MIN(fam) ((fam) == AF_INET ? 20 + 8 : 40 + 8)

/* Run ICMP frame in through s->h: passed, out exactly want, and every
 * checksum of the output verifies by full recomputation. */
static int expect_icmp(int *unit_failed, const struct sc *s, const char *what,
		       const __u8 *in, size_t n, const __u8 *want, size_t wn)
{
	struct fx_res r;
	int ok = 1;

	if (hook_run(s->h, in, n, 0, 1, &r)) {
		CHECK(0, "%s %s [%s]: test_run: %s", what, s->fam, s->h->name, strerror(-r.err));
		return 0;
	}
	if (r.ret != s->h->pass) {
		CHECK(0, "%s %s [%s]: verdict %u (%s), want pass", what, s->fam, s->h->name,
		      r.ret, verdict_name(s->h, r.ret));
		ok = 0;
	}
	if (!fx_icmp_csum_ok(r.out, r.len)) {
		CHECK(0, "%s %s [%s]: output checksums do not verify", what, s->fam, s->h->name);
		fx_hexdiff(stderr, r.out, r.len, want, wn);
		ok = 0;
	}
	fx_icmp_csum_norm(r.out, r.len);
	if (r.len != wn || memcmp(r.out, want, wn)) {
		CHECK(0, "%s %s [%s]: output frame differs", what, s->fam, s->h->name);
		fx_hexdiff(stderr, r.out, r.len, want, wn);
		ok = 0;
	}
	return ok;
}

/* The TCP checksum of segment from, copied into segment to (same family,
 * IPv4 without options). */
static void keep_tcp_csum(int family, __u8 *to, const __u8 *from)
{
	size_t l4 = family == AF_INET ? 34 : 54;

	memcpy(to + l4 + 16, from + l4 + 16, 2);
}

/* (wire segment, socket-tuple segment) of one end, as that end sends
 * them: the fixed end srv -> NEW / srv -> cli, the mover NEW -> srv /
 * cli -> srv.  Returns the length (both are the same size). */
static size_t icmp_segs(const struct sc *s, bool mover, __u8 *wire, __u8 *sock)
{
	const struct fx_conn *c = s->c;
	struct fx_pkt p;
	size_t n;

	if (mover) {
		n = data_seg(s->family, s->new_addr, s->new_port, c->srv.t.laddr, c->srv.t.lport,
			     c->cli.snd_nxt, c->cli.rcv_nxt, &p, wire);
		data_seg(s->family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			 c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, sock);
	} else {
		n = data_seg(s->family, c->srv.t.laddr, c->srv.t.lport, s->new_addr, s->new_port,
			     c->srv.snd_nxt, c->srv.rcv_nxt, &p, wire);
		data_seg(s->family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			 c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, sock);
	}
	keep_tcp_csum(s->family, sock, wire);
	return n;
}

/* Fragmentation needed (next-hop MTU 1280) / packet too big (MTU 1280). */
#define ICMP_PMTU_TYPE(fam) ((fam) == AF_INET ? 3 : 2)
#define ICMP_PMTU_CODE(fam) ((fam) == AF_INET ? 4 : 0)

TEST(icmp_error_translated)
{
	__u8 wire[FX_PKT_MAX], sock[FX_PKT_MAX], in[FX_PKT_MAX], want[FX_PKT_MAX];
	/* the other errors: unreachable, time exceeded, parameter problem */
	static const __u8 other4[][2] = { { 3, 1 }, { 3, 3 }, { 11, 0 }, { 12, 0 } };
	static const __u8 other6[][2] = { { 1, 4 }, { 1, 0 }, { 3, 0 }, { 4, 0 } };
	const struct fx_conn *c;
	__u32 rtr[4];
	struct sc s;
	size_t n, wn, sn, q, qlen[2];
	__u64 want_ct;
	int mover, i;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		bool v4 = s.family == AF_INET;
		__u8 type = ICMP_PMTU_TYPE(s.family), code = ICMP_PMTU_CODE(s.family);

		c = s.c;
		fx_addr(s.family, v4 ? FX_RTR4 : FX_RTR6, rtr);
		if (commit_both(unit_failed, &s))
			continue;
		want_ct = 0;
		for (mover = 0; mover < 2; mover++) {
			const __u32 *wdst = mover ? s.new_addr : c->srv.t.laddr;
			const __u32 *sdst = mover ? c->cli.t.laddr : c->srv.t.laddr;
			const char *who = mover ? "mover" : "fixed end";

			sn = icmp_segs(&s, mover, wire, sock);
			qlen[0] = sn - 14;
			qlen[1] = Q_MIN(s.family);
			for (q = 0; q < 2; q++) {
				char what[96];

				snprintf(what, sizeof(what), "%s: %s, MTU 1280, %s quote", who,
					 v4 ? "fragmentation needed" : "packet too big",
					 q ? "8-byte" : "whole");
				n = fx_build_icmp(s.family, rtr, wdst, type, code, 1280, wire,
						  qlen[q], in);
				wn = fx_build_icmp(s.family, rtr, sdst, type, code, 1280, sock,
						   qlen[q], want);
				CHECK(fx_icmp_csum_ok(in, n) && fx_icmp_csum_ok(want, wn),
				      "builder checksums");
				expect_icmp(unit_failed, &s, what, in, n, want, wn);
				want_ct++;
				CHECK(fx_stat(skel, MIG_STAT_ICMP_XLATE) == want_ct,
				      "%s %s [%s]: icmp_xlate_in %llu, want %llu", what, s.fam,
				      s.h->name,
				      (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_XLATE),
				      (unsigned long long)want_ct);
			}
			/* the other error types, whole quote */
			for (i = 0; i < 4; i++) {
				const __u8 *tc = v4 ? other4[i] : other6[i];
				char what[64];

				snprintf(what, sizeof(what), "%s: ICMP%s type %u code %u", who,
					 v4 ? "" : "v6", tc[0], tc[1]);
				n = fx_build_icmp(s.family, rtr, wdst, tc[0], tc[1], 0, wire, sn - 14,
						  in);
				wn = fx_build_icmp(s.family, rtr, sdst, tc[0], tc[1], 0, sock,
						   sn - 14, want);
				expect_icmp(unit_failed, &s, what, in, n, want, wn);
				want_ct++;
			}
		}
		CHECK(fx_stat(skel, MIG_STAT_ICMP_XLATE) == want_ct,
		      "%s [%s]: icmp_xlate_in %llu, want %llu", s.fam, s.h->name,
		      (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_XLATE),
		      (unsigned long long)want_ct);
		/* nothing else counted, no map changed */
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 0 &&
		      fx_stat(skel, MIG_STAT_RETIRED_DROP) == 0, "%s [%s]: counted as TCP",
		      s.fam, s.h->name);
		CHECK(ingress_is_ts(&s.a_wire, &c->srv.t, MIG_IN_XLATE, MIG_TS_OFF) &&
		      ingress_is_ts(&s.b_wire, &c->cli.t, MIG_IN_XLATE, MIG_TS_OFF),
		      "%s [%s]: translations changed", s.fam, s.h->name);
	}
}

/* A frame's IPv4 header gets a 4-byte option (Router Alert, IHL 6);
 * checksums recomputed (the TCP checksum does not change). */
static size_t ip4_add_opt(__u8 *f, size_t n)
{
	__u16 tot = (__u16)((f[16] << 8 | f[17]) + 4);

	memmove(f + 38, f + 34, n - 34);
	f[34] = 0x94; f[35] = 0x04; f[36] = 0; f[37] = 0;
	f[14] = 0x46;
	f[16] = (__u8)(tot >> 8);
	f[17] = (__u8)tot;
	fx_csum_fill(f, n + 4);
	return n + 4;
}

/* A UDP datagram (16 bytes of payload) from (sa, sp) to (da, dp). */
static size_t udp_seg(int family, const __u32 sa[4], __u16 sp, const __u32 da[4], __u16 dp,
		      __u8 *f)
{
	size_t l4 = family == AF_INET ? 34 : 54, n = l4 + 8 + 16;
	struct fx_pkt p;

	fx_pkt_in(&p, family, sa, sp, da, dp);
	fx_build(&p, f);
	if (family == AF_INET) {
		f[14 + 9] = IPPROTO_UDP;
		f[16] = 0;
		f[17] = 20 + 8 + 16;
	} else {
		f[20] = IPPROTO_UDP;
		f[18] = 0;
		f[19] = 8 + 16;
	}
	f[l4 + 4] = 0;
	f[l4 + 5] = 8 + 16;
	memcpy(f + l4 + 8, "udp payload 0123", 16);
	fx_csum_fill(f, n);
	return n;
}

/* Run an ICMP frame through s->h: passed, bytes unchanged, no ICMP
 * translation counted. */
static void icmp_untouched(int *unit_failed, const struct sc *s, const char *what,
			   const __u8 *in, size_t n)
{
	struct fx_res r;

	CHECK(fx_icmp_csum_ok(in, n), "%s %s: builder checksums", what, s->fam);
	expect(unit_failed, s, s->h, what, in, n, 0, s->h->pass, in, n, &r);
	CHECK(fx_stat(skel, MIG_STAT_ICMP_XLATE) == 0, "%s %s [%s]: icmp_xlate_in %llu", what,
	      s->fam, s->h->name, (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_XLATE));
}

TEST(icmp_untouched)
{
	__u8 wire[FX_PKT_MAX], sock[FX_PKT_MAX], q[FX_PKT_MAX], in[FX_PKT_MAX];
	const struct fx_conn *c;
	struct fx_pkt p;
	__u32 rtr[4];
	struct sc s;
	size_t n, qn, sn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		bool v4 = s.family == AF_INET;
		__u8 type = ICMP_PMTU_TYPE(s.family), code = ICMP_PMTU_CODE(s.family);

		c = s.c;
		fx_addr(s.family, v4 ? FX_RTR4 : FX_RTR6, rtr);

		/* before any migration: the socket tuple is the wire tuple */
		qn = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			      c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, q);
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, type, code, 1280, q, qn - 14, in);
		icmp_untouched(unit_failed, &s, "error about an unmigrated flow", in, n);

		if (commit_both(unit_failed, &s))
			continue;
		sn = icmp_segs(&s, false, wire, sock);

		/* a tuple nobody translates: another port on NEW */
		qn = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, s.new_addr,
			      htons(FX_NEW_PORT + 7), c->srv.snd_nxt, c->srv.rcv_nxt, &p, q);
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, type, code, 1280, q, qn - 14, in);
		icmp_untouched(unit_failed, &s, "error quoting an unknown tuple", in, n);
		/* the socket tuple, retired after the commit (MIG_IN_RETIRED):
		 * the flow sends nothing there, so an error quoting it is
		 * stale or forged and never reaches the socket */
		qn = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			      c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, q);
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, type, code, 1280, q, qn - 14, in);
		{
			struct fx_res r;

			CHECK(fx_icmp_csum_ok(in, n), "retired quote %s: builder checksums", s.fam);
			expect(unit_failed, &s, s.h, "error quoting the retired tuple", in, n, 0,
			       s.h->drop, NULL, 0, &r);
			CHECK(fx_stat(skel, MIG_STAT_ICMP_IN_DROP) == 1 &&
			      fx_stat(skel, MIG_STAT_ICMP_XLATE) == 0,
			      "%s [%s]: retired quote: icmp_in_dropped %llu, icmp_xlate_in %llu",
			      s.fam, s.h->name,
			      (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_IN_DROP),
			      (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_XLATE));
			CHECK(ingress_is(&c->srv.t, &c->srv.t, MIG_IN_RETIRED),
			      "%s [%s]: retired entry changed", s.fam, s.h->name);
		}

		/* echo request / reply whose data looks like a quoted wire segment */
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, v4 ? 8 : 128, 0, 0x4d470001,
				  wire, sn - 14, in);
		icmp_untouched(unit_failed, &s, "echo request", in, n);
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, v4 ? 0 : 129, 0, 0x4d470001,
				  wire, sn - 14, in);
		icmp_untouched(unit_failed, &s, "echo reply", in, n);
		/* ICMPv6 informational messages past the errors (type 135,
		 * neighbour solicitation); ICMPv4 source quench (4, deprecated) */
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, v4 ? 4 : 135, 0, 0, wire,
				  sn - 14, in);
		icmp_untouched(unit_failed, &s, v4 ? "source quench" : "neighbour solicitation",
			       in, n);

		/* an error quoting UDP on the wire addresses and ports */
		qn = udp_seg(s.family, c->srv.t.laddr, c->srv.t.lport, s.new_addr, s.new_port, q);
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, type, code, 1280, q, qn - 14, in);
		icmp_untouched(unit_failed, &s, "error quoting UDP", in, n);

		/* a quote too short for the ports (4 bytes of TCP) */
		n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, type, code, 1280, wire,
				  Q_MIN(s.family) - 4, in);
		icmp_untouched(unit_failed, &s, "error with a 4-byte TCP quote", in, n);

		if (v4) {
			/* a quoted IPv4 header with options */
			memcpy(q, wire, sn);
			qn = ip4_add_opt(q, sn);
			n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, type, code, 1280, q,
					  qn - 14, in);
			icmp_untouched(unit_failed, &s, "error quoting IPv4 with options", in, n);
			/* ... whose option bytes read as the wire ports where a
			 * header without options has them (an IHL-blind parser
			 * would match the flow and rewrite the options) */
			memcpy(q + 34, wire + 34, 4);
			fx_csum_fill(q, qn);
			n = fx_build_icmp(s.family, rtr, c->srv.t.laddr, type, code, 1280, q,
					  qn - 14, in);
			icmp_untouched(unit_failed, &s, "error quoting IPv4 with port-like options",
				       in, n);
		}
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 0 &&
		      fx_stat(skel, MIG_STAT_RETIRED_DROP) == 0, "%s [%s]: counted as TCP",
		      s.fam, s.h->name);
	}
}

/* ---- routing after the rewrite (reroute) --------------------------------- */

/* Forwarding on lo in this netns (both families): reroute's FIB lookups
 * are answered only with it. */
static int lo_fwd(int on)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd),
		 "sysctl -q -w net.ipv4.conf.lo.forwarding=%d net.ipv6.conf.lo.forwarding=%d",
		 on, on);
	return system(cmd) == 0 ? 0 : -1;
}

#define MRT0_MAC "02:00:5e:00:53:01"
#define NEW_MAC  "02:00:5e:00:53:07"   /* NEW's neighbour entry on mrt0 */

/* mig_egress[sock].rt_memo, or -1 */
static int rt_memo_of(const struct mig_tuple *sock)
{
	struct mig_out o;

	return map_get(skel->maps.mig_egress, sock, &o) ? -1 : o.rt_memo;
}

/* Frame f's destination and source MACs, from text. */
static void set_macs(__u8 *f, const char *dst, const char *src)
{
	memcpy(f, ether_aton(dst), 6);
	memcpy(f + 6, ether_aton(src), 6);
}

/* One segment of reroute_same_device: in (with its MACs) through the
 * egress hook, leaving with destination MAC want_dmac; then counter stat
 * must read count. */
static void memo_step(int *unit_failed, const struct sc *s, const char *what,
		      const __u8 *in, size_t n, __u8 *want, size_t wn, const char *want_dmac,
		      __u32 stat, __u64 count)
{
	struct fx_res r;

	set_macs(want, want_dmac, MRT0_MAC);
	expect(unit_failed, s, s->h->out, what, in, n, 0, TC_ACT_OK, want, wn, &r);
	CHECK(fx_stat(skel, stat) == count, "%s %s: counter %u is %llu, want %llu", what,
	      s->fam, stat, (unsigned long long)fx_stat(skel, stat), (unsigned long long)count);
}

/* ip route VERB ROUTE */
static void ip_route(int *unit_failed, const char *verb, const char *route)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "ip route %s %s", verb, route);
	CHECK(system(cmd) == 0, "%s", cmd);
}

/*
 * reroute_after_rewrite, its segment on the device the route to NEW
 * takes (mrt0, NEW's neighbour known): the same device and next hop,
 * nothing to change (TC_ACT_OK, MACs kept).  mig_dp_kc keeps that as the
 * flow's route memo, and asks the FIB again only once the routes
 * changed: a segment that carries another MAC under the memo leaves as
 * it is (what the memo skips is the lookup; the kernel puts the MAC of
 * the socket's next hop, the same as the new one's whenever the memo was
 * made).  The route to NEW deleted: the FIB is asked (no route,
 * route_failed), as after it is added again (MACs rewritten,
 * route_nexthop).  Both families (IPv6: fib6_sernum does not move when a
 * route is deleted; the count of deleted routes does).  mig_dp asks the
 * FIB for every segment.
 */
static void reroute_same_device(int *unit_failed, const struct sc *s, const __u8 *in0,
				size_t n, const __u8 *want0, size_t wn, bool memos)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	const struct mig_tuple *sock = &s->c->srv.t;
	__u64 mac0 = fx_stat(skel, MIG_STAT_ROUTE_MAC), fail0 = fx_stat(skel, MIG_STAT_ROUTE_FAIL);
	const char *other = "02:00:5e:00:53:09";
	const char *route = s->family == AF_INET ? FX_NEW4 "/32 dev mrt0" :
						    FX_NEW6 "/128 dev mrt0";

	memcpy(in, in0, n);
	memcpy(want, want0, wn);
	fx_run_ifindex = (int)if_nametoindex("mrt0");
	CHECK(fx_run_ifindex > 0, "mrt0: %s", strerror(errno));
	set_macs(in, NEW_MAC, MRT0_MAC);
	memo_step(unit_failed, s, "on NEW's device, its next hop's MAC", in, n, want, wn,
		  NEW_MAC, MIG_STAT_ROUTE_MAC, mac0);
	CHECK(rt_memo_of(sock) == (memos ? MIG_RT_SAME : MIG_RT_NONE),
	      "%s: route memo %d, same device and next hop", s->fam, rt_memo_of(sock));

	/* another MAC: under the memo, no lookup; without, rewritten */
	set_macs(in, other, MRT0_MAC);
	memo_step(unit_failed, s, "another MAC, routes unchanged", in, n, want, wn,
		  memos ? other : NEW_MAC, MIG_STAT_ROUTE_MAC, mac0 + (memos ? 0 : 1));

	/* the route that made the memo deleted: the FIB asked, no route */
	ip_route(unit_failed, "del", route);
	memo_step(unit_failed, s, "another MAC, the route deleted", in, n, want, wn, other,
		  MIG_STAT_ROUTE_FAIL, fail0 + 1);

	/* ... and added again: asked, the MACs rewritten */
	ip_route(unit_failed, "add", route);
	memo_step(unit_failed, s, "another MAC, the route added again", in, n, want, wn,
		  NEW_MAC, MIG_STAT_ROUTE_MAC, mac0 + (memos ? 1 : 2));
	fx_run_ifindex = 0;
}

/*
 * The fixed end's segment srv -> cli becomes srv -> NEW on egress; the
 * FIB is then asked for NEW.  Here the kernel "routed" it out lo (test_run
 * hands the program an skb on lo); a route to NEW by a veth device means
 * another device: redirected there (bpf_redirect_neigh, TC_ACT_REDIRECT,
 * route_redirected), with or without a neighbour entry.  No route to NEW
 * (unreachable): left on its route, route_failed.  Lookups refused (lo
 * does not forward): route_fwd_off.  The segment's bytes are the
 * rewritten ones in every case.  The mover's segments (only the source
 * changes) are never routed again.
 */
TEST(reroute_after_rewrite)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	const struct fx_conn *c;
	struct hook h;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	char cmd[256];

	bool memos;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	memos = !strcmp(fx_dp_build, "mig_dp_kc");
	FOR_EACH_CASE(s) {
		bool v4 = s.family == AF_INET;
		const char *new = v4 ? FX_NEW4 : FX_NEW6, *plen = v4 ? "32" : "128";

		/* (the Ethernet TC hooks: from a device without a link-layer
		 * header nothing is routed again, see reroute()) */
		if (s.h != &hooks[0])
			continue;
		h = out_hook;
		c = s.c;
		if (commit_both(unit_failed, &s))
			continue;
		n = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			     c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, in);
		memcpy(p.daddr, s.new_addr, 16);
		p.dport = FX_NEW_PORT;
		wn = fx_build(&p, want);

		/* lo does not forward: refused; the build that keeps route
		 * memos keeps that one for IPv4, whose rt_genid moves when
		 * forwarding is turned on (the next step: its lookup is made) */
		CHECK(!lo_fwd(0), "sysctl");
		expect(unit_failed, &s, &out_hook, "lookup refused", in, n, 0, TC_ACT_OK, want, wn,
		       &r);
		CHECK(rt_memo_of(&c->srv.t) == (memos && v4 ? MIG_RT_FWD_OFF : MIG_RT_NONE),
		      "%s: route memo %d after a refused lookup", s.fam, rt_memo_of(&c->srv.t));
		expect(unit_failed, &s, &out_hook, "lookup refused, again", in, n, 0, TC_ACT_OK,
		       want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_ROUTE_FWD_OFF) == 2, "%s: route_fwd_off %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_ROUTE_FWD_OFF));

		CHECK(!lo_fwd(1), "sysctl");
		/* no route to NEW */
		snprintf(cmd, sizeof(cmd), "ip route add unreachable %s/%s", new, plen);
		CHECK(system(cmd) == 0, "%s", cmd);
		expect(unit_failed, &s, &out_hook, "no route to NEW", in, n, 0, TC_ACT_OK, want, wn,
		       &r);
		CHECK(fx_stat(skel, MIG_STAT_ROUTE_FAIL) == 1, "%s: route_failed %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_ROUTE_FAIL));
		snprintf(cmd, sizeof(cmd), "ip route del unreachable %s/%s", new, plen);
		CHECK(system(cmd) == 0, "%s", cmd);

		/* NEW by another device, no neighbour entry yet */
		snprintf(cmd, sizeof(cmd),
			 "ip link add mrt0 address " MRT0_MAC " type veth peer name mrt1 && "
			 "ip link set mrt1 up && ip link set mrt0 up && "
			 "ip route add %s/%s dev mrt0", new, plen);
		CHECK(system(cmd) == 0, "%s", cmd);
		h.tx = ~0u;     /* a redirect of ours carries no MIG_MARK */
		expect(unit_failed, &s, &h, "NEW by another device", in, n, 0,
		       TC_ACT_REDIRECT, want, wn, &r);
		/* ... and with one */
		snprintf(cmd, sizeof(cmd),
			 "ip neigh replace %s lladdr 02:00:5e:00:53:07 nud permanent dev mrt0", new);
		CHECK(system(cmd) == 0, "%s", cmd);
		expect(unit_failed, &s, &h, "NEW by another device, neighbour known", in, n,
		       0, TC_ACT_REDIRECT, want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_ROUTE_REDIRECT) == 2, "%s: route_redirected %llu",
		      s.fam, (unsigned long long)fx_stat(skel, MIG_STAT_ROUTE_REDIRECT));

		reroute_same_device(unit_failed, &s, in, n, want, wn, memos);

		/* the mover: only the source changes, no lookup */
		n = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		memcpy(p.saddr, s.new_addr, 16);
		p.sport = FX_NEW_PORT;
		wn = fx_build(&p, want);
		expect(unit_failed, &s, &out_hook, "mover: data out", in, n, 0, TC_ACT_OK, want, wn,
		       &r);
		CHECK(fx_stat(skel, MIG_STAT_ROUTE_REDIRECT) == 2 &&
		      fx_stat(skel, MIG_STAT_ROUTE_FAIL) == 2 &&
		      fx_stat(skel, MIG_STAT_ROUTE_FWD_OFF) == 2 &&
		      fx_stat(skel, MIG_STAT_ROUTE_MAC) == (memos ? 1 : 2),
		      "%s: mover's segment routed again", s.fam);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_OUT) == 10, "%s: xlate_out %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_XLATE_OUT));
		CHECK(system("ip link del mrt0") == 0, "ip link del mrt0");
		CHECK(!lo_fwd(0), "sysctl");
	}
}

/* ---- ICMP errors that we send about migrated flows (icmp_out) -------------- */

/*
 * The kernel answers a segment as the ingress rewrite delivered it: an
 * ICMP error it sends quotes the socket tuple, from our socket address
 * to the peer's.  The egress hook rewrites it to the wire tuple, the
 * quoted TCP checksum included:
 *
 *   fixed end:  srv -> cli   ICMP [ cli:C     -> srv:P     TCP ]
 *           ==> srv -> NEW   ICMP [ NEW:40000 -> srv:P     TCP ]
 *   mover:      cli -> srv   ICMP [ srv:P     -> cli:C     TCP ]
 *           ==> NEW -> srv   ICMP [ srv:P     -> NEW:40000 TCP ]
 *
 * Expected frames are built from scratch: the error our host would send
 * about the segment as it was on the wire (full checksums everywhere).
 * This netns has no forwarding on lo, so the fixed end's error, whose
 * destination moved, is counted route_fwd_off and left where it is.
 */

/* (segment as the kernel got it, the same segment on the wire) that one
 * end receives: the fixed end cli -> srv / NEW -> srv, the mover srv ->
 * cli / srv -> NEW.  Full checksums on both. */
static size_t icmp_out_segs(const struct sc *s, bool mover, __u8 *sock, __u8 *wire)
{
	const struct fx_conn *c = s->c;
	struct fx_pkt p;
	size_t n;

	if (mover) {
		n = data_seg(s->family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			     c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, sock);
		data_seg(s->family, c->srv.t.laddr, c->srv.t.lport, s->new_addr, s->new_port,
			 c->srv.snd_nxt, c->srv.rcv_nxt, &p, wire);
	} else {
		n = data_seg(s->family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, sock);
		data_seg(s->family, s->new_addr, s->new_port, c->srv.t.laddr, c->srv.t.lport,
			 c->cli.snd_nxt, c->cli.rcv_nxt, &p, wire);
	}
	return n;
}

/* Run ICMP frame in through the egress hook: verdict, and (want) out
 * exactly want with every checksum verifying by full recomputation. */
static int expect_icmp_out(int *unit_failed, const struct sc *s, const char *what,
			   const __u8 *in, size_t n, __u32 verdict, const __u8 *want, size_t wn)
{
	struct fx_res r;
	int ok = 1;

	if (fx_run(s->h->out->fd, true, in, n, 0, 1, &r)) {
		CHECK(0, "%s %s [egress]: test_run: %s", what, s->fam, strerror(-r.err));
		return 0;
	}
	if (r.ret != verdict) {
		CHECK(0, "%s %s [egress]: verdict %u (%s), want %u (%s)", what, s->fam, r.ret,
		      verdict_name(s->h->out, r.ret), verdict, verdict_name(s->h->out, verdict));
		ok = 0;
	}
	if (!want)
		return ok;
	if (!fx_icmp_csum_ok(r.out, r.len)) {
		CHECK(0, "%s %s [egress]: output checksums do not verify", what, s->fam);
		fx_hexdiff(stderr, r.out, r.len, want, wn);
		ok = 0;
	}
	fx_icmp_csum_norm(r.out, r.len);
	if (r.len != wn || memcmp(r.out, want, wn)) {
		CHECK(0, "%s %s [egress]: output frame differs", what, s->fam);
		fx_hexdiff(stderr, r.out, r.len, want, wn);
		ok = 0;
	}
	return ok;
}

/* 1 if the quoted TCP checksum of ICMP frame f verifies (whole quote). */
static int quoted_tcp_ok(int family, const __u8 *f, size_t n)
{
	size_t l4 = family == AF_INET ? 34 : 54, q = l4 + 8;
	size_t qhl = family == AF_INET ? (size_t)(f[q] & 0x0f) * 4 : 40;
	size_t tl = n - q - qhl;
	__u32 sum;

	if (family == AF_INET)
		sum = fx_sum(f + q + 12, 8, 0);
	else
		sum = fx_sum(f + q + 8, 32, 0);
	sum += IPPROTO_TCP + (__u32)tl;
	return fx_fold(fx_sum(f + q + qhl, tl, sum)) == 0xffff;
}

TEST(icmp_error_out)
{
	__u8 sock[FX_PKT_MAX], wire[FX_PKT_MAX], in[FX_PKT_MAX], want[FX_PKT_MAX];
	static const __u8 other4[][2] = { { 3, 3 }, { 11, 0 }, { 12, 0 } };
	static const __u8 other6[][2] = { { 1, 4 }, { 3, 0 }, { 4, 0 } };
	const struct fx_conn *c;
	struct mig_hold hold;
	struct sc s;
	size_t n, wn, sn, q, qlen[2];
	__u64 want_ct, want_fwd;
	int mover, i;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		bool v4 = s.family == AF_INET;
		__u8 type = ICMP_PMTU_TYPE(s.family), code = ICMP_PMTU_CODE(s.family);

		if (s.h != &hooks[0])
			continue;         /* egress is TC only */
		c = s.c;
		if (commit_both(unit_failed, &s))
			continue;
		want_ct = want_fwd = 0;
		for (mover = 0; mover < 2; mover++) {
			/* (outer source, outer destination) before and after */
			const __u32 *ssrc = mover ? c->cli.t.laddr : c->srv.t.laddr;
			const __u32 *sdst = mover ? c->srv.t.laddr : c->cli.t.laddr;
			const __u32 *wsrc = mover ? s.new_addr : c->srv.t.laddr;
			const __u32 *wdst = mover ? c->srv.t.laddr : s.new_addr;
			const char *who = mover ? "mover" : "fixed end";

			sn = icmp_out_segs(&s, mover, sock, wire);
			qlen[0] = sn - 14;
			qlen[1] = Q_MIN(s.family);
			for (q = 0; q < 2; q++) {
				char what[96];

				snprintf(what, sizeof(what), "%s: %s, %s quote", who,
					 v4 ? "fragmentation needed" : "packet too big",
					 q ? "8-byte" : "whole");
				n = fx_build_icmp(s.family, ssrc, sdst, type, code, 1280, sock,
						  qlen[q], in);
				wn = fx_build_icmp(s.family, wsrc, wdst, type, code, 1280, wire,
						   qlen[q], want);
				CHECK(!q ? quoted_tcp_ok(s.family, want, wn) &&
					   quoted_tcp_ok(s.family, in, n) : 1,
				      "builder: quoted TCP checksums");
				expect_icmp_out(unit_failed, &s, what, in, n, TC_ACT_OK, want, wn);
				want_ct++;
				want_fwd += !mover;
			}
			for (i = 0; i < 3; i++) {
				const __u8 *tc = v4 ? other4[i] : other6[i];
				char what[64];

				snprintf(what, sizeof(what), "%s: ICMP%s type %u code %u", who,
					 v4 ? "" : "v6", tc[0], tc[1]);
				n = fx_build_icmp(s.family, ssrc, sdst, tc[0], tc[1], 0, sock,
						  sn - 14, in);
				wn = fx_build_icmp(s.family, wsrc, wdst, tc[0], tc[1], 0, wire,
						   sn - 14, want);
				expect_icmp_out(unit_failed, &s, what, in, n, TC_ACT_OK, want, wn);
				want_ct++;
				want_fwd += !mover;
			}
			if (v4) {
				/* a parameter problem about an IP option: the quoted
				 * header carries it (IHL 6) */
				__u8 so[FX_PKT_MAX], wo[FX_PKT_MAX];
				size_t on;

				memcpy(so, sock, sn);
				memcpy(wo, wire, sn);
				on = ip4_add_opt(so, sn);
				ip4_add_opt(wo, sn);
				n = fx_build_icmp(s.family, ssrc, sdst, 12, 0, 20u << 24, so, on - 14,
						  in);
				wn = fx_build_icmp(s.family, wsrc, wdst, 12, 0, 20u << 24, wo,
						   on - 14, want);
				expect_icmp_out(unit_failed, &s, "parameter problem, quoted options",
						in, n, TC_ACT_OK, want, wn);
				want_ct++;
				want_fwd += !mover;
			}
			/* from another address of ours, to another host: only
			 * the quote changes */
			{
				__u32 other[4];

				fx_addr(s.family, v4 ? FX_RTR4 : FX_RTR6, other);
				n = fx_build_icmp(s.family, other, other, type, code, 1280, sock,
						  sn - 14, in);
				wn = fx_build_icmp(s.family, other, other, type, code, 1280, wire,
						   sn - 14, want);
				expect_icmp_out(unit_failed, &s, "other outer addresses", in, n,
						TC_ACT_OK, want, wn);
				want_ct++;
			}
		}
		CHECK(fx_stat(skel, MIG_STAT_ICMP_XLATE_OUT) == want_ct,
		      "%s: icmp_xlate_out %llu, want %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_XLATE_OUT),
		      (unsigned long long)want_ct);
		/* only the fixed end's errors changed destination: routed
		 * again, which this netns refuses (no forwarding on lo) */
		CHECK(fx_stat(skel, MIG_STAT_ROUTE_FWD_OFF) == want_fwd,
		      "%s: route_fwd_off %llu, want %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_ROUTE_FWD_OFF),
		      (unsigned long long)want_fwd);
		CHECK(fx_stat(skel, MIG_STAT_ICMP_OUT_DROP) == 0 &&
		      fx_stat(skel, MIG_STAT_ICMP_XLATE) == 0 &&
		      fx_stat(skel, MIG_STAT_XLATE_OUT) == 0, "%s: other counters", s.fam);

		/* held: our address went away after the commit: dropped */
		sn = icmp_out_segs(&s, false, sock, wire);
		n = fx_build_icmp(s.family, c->srv.t.laddr, c->cli.t.laddr, type, code, 1280,
				  sock, sn - 14, in);
		memset(&hold, 0, sizeof(hold));
		hold.since_ns = fx_now_ns();
		CHECK(!map_put(skel->maps.mig_hold, &c->srv.t, &hold) && !fx_host(skel, 1),
		      "hold");
		expect_icmp_out(unit_failed, &s, "error about a held flow", in, n, TC_ACT_SHOT,
				NULL, 0);
		CHECK(fx_stat(skel, MIG_STAT_ICMP_OUT_DROP) == 1, "%s: icmp_out_dropped %llu",
		      s.fam, (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_OUT_DROP));
		CHECK(!map_del(skel->maps.mig_hold, &c->srv.t) && !fx_host(skel, 0), "unhold");
		/* retired socket tuple without a translation: dropped */
		CHECK(!map_del(skel->maps.mig_egress, &c->srv.t), "del egress");
		expect_icmp_out(unit_failed, &s, "error quoting a retired tuple", in, n,
				TC_ACT_SHOT, NULL, 0);
		CHECK(fx_stat(skel, MIG_STAT_ICMP_OUT_DROP) == 2, "%s: icmp_out_dropped %llu",
		      s.fam, (unsigned long long)fx_stat(skel, MIG_STAT_ICMP_OUT_DROP));
		CHECK(fx_stat(skel, MIG_STAT_ICMP_XLATE_OUT) == want_ct, "%s: translated a drop",
		      s.fam);
	}
}

TEST(icmp_out_untouched)
{
	__u8 sock[FX_PKT_MAX], wire[FX_PKT_MAX], q[FX_PKT_MAX], in[FX_PKT_MAX];
	const struct fx_conn *c;
	struct fx_pkt p;
	struct sc s;
	size_t n, qn, sn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		bool v4 = s.family == AF_INET;
		__u8 type = ICMP_PMTU_TYPE(s.family), code = ICMP_PMTU_CODE(s.family);

		if (s.h != &hooks[0])
			continue;
		c = s.c;
		/* before any migration */
		sn = icmp_out_segs(&s, false, sock, wire);
		n = fx_build_icmp(s.family, c->srv.t.laddr, c->cli.t.laddr, type, code, 1280,
				  sock, sn - 14, in);
		expect_icmp_out(unit_failed, &s, "error about an unmigrated flow", in, n,
				TC_ACT_OK, in, n);
		if (commit_both(unit_failed, &s))
			continue;
		/* a tuple nobody translates: another port of cli */
		qn = data_seg(s.family, c->cli.t.laddr, htons(ntohs(c->cli.t.lport) + 1),
			      c->srv.t.laddr, c->srv.t.lport, 1, 2, &p, q);
		n = fx_build_icmp(s.family, c->srv.t.laddr, c->cli.t.laddr, type, code, 1280, q,
				  qn - 14, in);
		expect_icmp_out(unit_failed, &s, "error quoting an unknown tuple", in, n,
				TC_ACT_OK, in, n);
		/* the wire tuple itself (an error about a segment on the wire
		 * tuple that was not translated) */
		n = fx_build_icmp(s.family, c->srv.t.laddr, s.new_addr, type, code, 1280, wire,
				  sn - 14, in);
		expect_icmp_out(unit_failed, &s, "error quoting the wire tuple", in, n,
				TC_ACT_OK, in, n);
		/* echo request whose data looks like the quoted segment */
		n = fx_build_icmp(s.family, c->srv.t.laddr, c->cli.t.laddr, v4 ? 8 : 128, 0, 1,
				  sock, sn - 14, in);
		expect_icmp_out(unit_failed, &s, "echo request", in, n, TC_ACT_OK, in, n);
		/* a quote too short for the ports */
		n = fx_build_icmp(s.family, c->srv.t.laddr, c->cli.t.laddr, type, code, 1280, sock,
				  Q_MIN(s.family) - 6, in);
		expect_icmp_out(unit_failed, &s, "error with a 2-byte TCP quote", in, n,
				TC_ACT_OK, in, n);
		/* an error quoting UDP on the socket addresses and ports */
		qn = udp_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, q);
		n = fx_build_icmp(s.family, c->srv.t.laddr, c->cli.t.laddr, type, code, 1280, q,
				  qn - 14, in);
		expect_icmp_out(unit_failed, &s, "error quoting UDP", in, n, TC_ACT_OK, in, n);
		CHECK(fx_stat(skel, MIG_STAT_ICMP_XLATE_OUT) == 0 &&
		      fx_stat(skel, MIG_STAT_ICMP_OUT_DROP) == 0, "%s: icmp_out counted", s.fam);
	}
}

/* ---- everything else passes untouched ------------------------------------ */

/*
 * XDP sees VLAN tags that TC finds stripped into the skb: one 802.1Q or
 * 802.1ad tag is parsed through.  Run frame in (untagged) with the tag
 * tpid/vid inserted after the MACs; want the verdict and (want != NULL)
 * want's bytes with the same tag still in place.
 */
static int expect_vlan(int *unit_failed, const struct sc *s, const char *what,
		       const __u8 *in, size_t n, __u16 tpid, __u32 verdict,
		       const __u8 *want, size_t wn)
{
	__u8 tagged[FX_PKT_MAX], tag[4] = { tpid >> 8, tpid & 0xff, 0x00, 0x64 };
	struct fx_res r;
	int ok = 1;

	memcpy(tagged, in, 12);
	memcpy(tagged + 12, tag, 4);
	memcpy(tagged + 16, in + 12, n - 12);
	if (fx_run(hooks[1].fd, false, tagged, n + 4, 0, 1, &r)) {
		CHECK(0, "%s %s [xdp, tpid %04x]: test_run: %s", what, s->fam, tpid,
		      strerror(-r.err));
		return 0;
	}
	if (r.ret != verdict) {
		CHECK(0, "%s %s [xdp, tpid %04x]: verdict %u (%s), want %u (%s)", what, s->fam,
		      tpid, r.ret, verdict_name(&hooks[1], r.ret), verdict,
		      verdict_name(&hooks[1], verdict));
		ok = 0;
	}
	if (!want)
		return ok;
	if (r.len != wn + 4 || memcmp(r.out + 12, tag, 4)) {
		CHECK(0, "%s %s [xdp, tpid %04x]: the tag did not stay", what, s->fam, tpid);
		return 0;
	}
	memmove(r.out + 12, r.out + 16, r.len - 16);
	r.len -= 4;
	if (!fx_csum_ok(r.out, r.len)) {
		CHECK(0, "%s %s [xdp, tpid %04x]: output checksums do not verify", what,
		      s->fam, tpid);
		ok = 0;
	}
	fx_csum_norm(r.out, r.len);
	if (r.len != wn || memcmp(r.out, want, wn)) {
		CHECK(0, "%s %s [xdp, tpid %04x]: output frame differs", what, s->fam, tpid);
		fx_hexdiff(stderr, r.out, r.len, want, wn);
		ok = 0;
	}
	return ok;
}

TEST(xdp_vlan)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], qq[FX_PKT_MAX];
	const struct fx_conn *c;
	struct mig_flow f;
	struct fx_pkt p;
	struct sc s;
	size_t n, wn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		if (s.h != &hooks[1])
			continue;
		c = s.c;
		/* a Migrate SYN under an 802.1ad tag: answered under it */
		CHECK(!install_fixed(&s, 0, &f), "install");
		n = msyn_ok(&s, 1, &p, in);
		wn = want_synack(&s, &p, &s.a_wire, 1, want);
		expect_vlan(unit_failed, &s, "Migrate SYN", in, n, 0x88a8, XDP_TX, want, wn);
		CHECK(cand_ref_is(&s.a_wire, &s.c->srv.t), "%s: no candidate", s.fam);

		/* a migrated flow's segment under an 802.1Q tag: translated */
		sc_init(&s, s.family == AF_INET6, 1);
		if (commit_both(unit_failed, &s))
			continue;
		n = data_seg(s.family, s.new_addr, s.new_port, c->srv.t.laddr, c->srv.t.lport,
			     c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		memcpy(p.saddr, c->cli.t.laddr, 16);
		p.sport = ntohs(c->cli.t.lport);
		wn = fx_build(&p, want);
		expect_vlan(unit_failed, &s, "data in", in, n, 0x8100, XDP_PASS, want, wn);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 1, "%s: xlate_in %llu", s.fam,
		      (unsigned long long)fx_stat(skel, MIG_STAT_XLATE_IN));

		/* two tags (QinQ): not parsed, passed as it came */
		memcpy(qq, in, 12);
		qq[12] = 0x88; qq[13] = 0xa8; qq[14] = 0; qq[15] = 7;
		memcpy(qq + 16, in + 12, n - 12);
		expect_vlan(unit_failed, &s, "two tags", qq, n + 4, 0x8100, XDP_PASS, NULL, 0);
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 1, "%s: QinQ frame translated", s.fam);
	}
}

static size_t udp_frame(int family, const struct fx_conn *c, __u8 *f)
{
	struct fx_pkt p;
	size_t n, l4;

	/* build as TCP for the headers, then make it UDP */
	fx_pkt_in(&p, family, c->cli.t.laddr, htons(5353), c->srv.t.laddr, htons(53));
	n = fx_build(&p, f);
	l4 = family == AF_INET ? 34 : 54;
	n = l4 + 8 + 16;
	if (family == AF_INET) {
		f[14 + 9] = IPPROTO_UDP;
		f[16] = 0;
		f[17] = (__u8)(20 + 8 + 16);
	} else {
		f[20] = IPPROTO_UDP;
		f[18] = 0;
		f[19] = 8 + 16;
	}
	f[l4 + 4] = 0;
	f[l4 + 5] = 8 + 16;
	memcpy(f + l4 + 8, "udp payload 0123", 16);
	fx_csum_fill(f, n);
	return n;
}

static size_t arp_frame(__u8 *f)
{
	static const __u8 arp[] = {
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,          /* request */
		0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 198, 51, 100, 7,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 203, 0, 113, 1,
	};

	memset(f, 0xff, 6);
	memcpy(f + 6, fx_mac_peer, 6);
	f[12] = 0x08;
	f[13] = 0x06;
	memcpy(f + 14, arp, sizeof(arp));
	memset(f + 14 + sizeof(arp), 0, 60 - 14 - sizeof(arp));
	return 60;
}

TEST(passthrough)
{
	__u8 in[FX_PKT_MAX];
	const struct fx_conn *c;
	struct mig_flow f;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		c = s.c;
		/* keyed on both sides but never migrated */
		CHECK(!install_fixed(&s, 0, &f), "install");
		fx_flow(&f, &c->cli.t, true, 0, 0);
		CHECK(!map_put(skel->maps.mig_flows, &c->cli.t, &f), "install cli");

		n = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data cli->srv in", in, n, 0, s.h->pass, in, n, &r);
		expect(unit_failed, &s, &out_hook, "data cli->srv out", in, n, 0,
		       out_hook.pass, in, n, &r);
		n = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			     c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data srv->cli in", in, n, 0, s.h->pass, in, n, &r);
		expect(unit_failed, &s, &out_hook, "data srv->cli out", in, n, 0,
		       out_hook.pass, in, n, &r);

		/* a plain SYN (MSS, SACK-permitted, timestamps, wscale) */
		fx_pkt_in(&p, s.family, s.new_addr, s.new_port, c->srv.t.laddr, c->srv.t.lport);
		p.flags = F_SYN;
		p.seq = 0x12345678;
		p.win = 64240;
		{
			static const __u8 o[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1,
						    0, 0, 0, 0, 1, 3, 3, 7 };
			memcpy(p.opts, o, 20);
			p.optlen = 20;
		}
		n = fx_build(&p, in);
		expect(unit_failed, &s, s.h, "plain SYN", in, n, 0, s.h->pass, in, n, &r);
		/* a SYN with a 48-byte header but no Migrate option */
		fx_opt_nops(&p, 28);
		n = fx_build(&p, in);
		expect(unit_failed, &s, s.h, "SYN, 48-byte header, NOPs", in, n, 0, s.h->pass,
		       in, n, &r);
		/* a FIN of the untouched flow */
		n = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		p.flags = F_FIN | F_ACK;
		p.plen = 0;
		n = fx_build(&p, in);
		expect(unit_failed, &s, s.h, "FIN", in, n, 0, s.h->pass, in, n, &r);

		n = udp_frame(s.family, c, in);
		expect(unit_failed, &s, s.h, "UDP in", in, n, 0, s.h->pass, in, n, &r);
		expect(unit_failed, &s, &out_hook, "UDP out", in, n, 0, out_hook.pass, in, n, &r);
		n = arp_frame(in);
		expect(unit_failed, &s, s.h, "ARP in", in, n, 0, s.h->pass, in, n, &r);
		expect(unit_failed, &s, &out_hook, "ARP out", in, n, 0, out_hook.pass, in, n, &r);

		CHECK(fx_map_count(skel->maps.mig_ingress) == 0, "ingress entry");
		CHECK(fx_map_count(skel->maps.mig_egress) == 0, "egress entry");
		CHECK(fx_map_count(skel->maps.mig_cand) == 0, "candidate");
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 0 && fx_stat(skel, MIG_STAT_XLATE_OUT) == 0,
		      "rewrote something");
		CHECK(fx_stat(skel, MIG_STAT_MSYN_IN) == 0, "took a plain SYN for a Migrate SYN");
	}
}

/* mig_host.kept set: ARP requests for a kept address are dropped at
 * ingress, and no packet leaves from one at egress unless a translation
 * rewrote it. */
static int put_kept(int family, const __u32 *addr, __u32 count)
{
	struct mig_addr k;
	struct mig_host h;
	__u64 since = fx_now_ns();
	__u32 zero = 0;
	int fd = bpf_map__fd(skel->maps.mig_host);

	memset(&k, 0, sizeof(k));
	k.family = family;
	memcpy(k.addr, addr, family == AF_INET ? 4 : 16);
	if (map_put(skel->maps.mig_kept, &k, &since) ||
	    bpf_map_lookup_elem(fd, &zero, &h))
		return -1;
	h.kept = count;
	return bpf_map_update_elem(fd, &zero, &h, BPF_ANY);
}

TEST(kept_addresses)
{
	__u8 in[FX_PKT_MAX], in2[FX_PKT_MAX];
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, n2;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		const struct fx_conn *c = s.c;
		__u64 arp0, src0;

		/* the client's address is the kept one; udp_frame and the
		 * data segment leave from it, the ARP request asks for it */
		n = udp_frame(s.family, c, in);
		n2 = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			      c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in2);
		CHECK(!put_kept(s.family, c->cli.t.laddr, 0), "put kept");
		/* gate closed (mig_host.kept 0): nothing is looked at */
		expect(unit_failed, &s, &out_hook, "UDP from kept, gate closed", in, n, 0,
		       out_hook.pass, in, n, &r);
		CHECK(!put_kept(s.family, c->cli.t.laddr, 1), "put kept");
		arp0 = fx_stat(skel, MIG_STAT_KEPT_ARP);
		src0 = fx_stat(skel, MIG_STAT_KEPT_SRC);
		expect(unit_failed, &s, &out_hook, "UDP from kept", in, n, 0, out_hook.drop,
		       NULL, 0, &r);
		expect(unit_failed, &s, &out_hook, "TCP from kept, untranslated", in2, n2, 0,
		       out_hook.drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_KEPT_SRC) == src0 + 2, "%s: kept_src_dropped %llu",
		      s.fam, (unsigned long long)fx_stat(skel, MIG_STAT_KEPT_SRC));
		/* a keyed flow's segment from the kept address, before the
		 * agent held the flow (its pass over many flows takes time):
		 * held as the agent's hold would, not dropped locally */
		{
			struct mig_flow f;
			__u64 held0 = fx_stat(skel, MIG_STAT_HOLD_DROP);

			n2 = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
				      c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in2);
			fx_flow(&f, &c->cli.t, true, 0, 0);
			CHECK(!map_put(skel->maps.mig_flows, &c->cli.t, &f), "put flow");
			expect(unit_failed, &s, &out_hook, "TCP from kept, keyed flow not yet held",
			       in2, n2, 0, TC_ACT_STOLEN, NULL, 0, &r);
			CHECK(fx_stat(skel, MIG_STAT_HOLD_DROP) == held0 + 1 &&
			      fx_stat(skel, MIG_STAT_KEPT_SRC) == src0 + 2,
			      "%s: held_dropped %llu, kept_src_dropped %llu", s.fam,
			      (unsigned long long)fx_stat(skel, MIG_STAT_HOLD_DROP),
			      (unsigned long long)fx_stat(skel, MIG_STAT_KEPT_SRC));
			CHECK(!map_del(skel->maps.mig_flows, &c->cli.t), "del flow");
		}
		/* ingress is not egress: segments to the kept address pass in */
		expect(unit_failed, &s, s.h, "UDP in (not egress)", in, n, 0, s.h->pass, in, n, &r);
		/* the other end's address is not kept */
		n2 = data_seg(s.family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			      c->cli.t.lport, c->srv.snd_nxt, c->srv.rcv_nxt, &p, in2);
		expect(unit_failed, &s, &out_hook, "TCP from another address", in2, n2, 0,
		       out_hook.pass, in2, n2, &r);
		if (s.family == AF_INET && s.h->l3) {
			/* no ARP without a link layer: the L3 program sees
			 * the request's bytes as a packet, which is not IP */
			static const __u32 asked = 0x017100cb;   /* 203.0.113.1, be */

			n = arp_frame(in);
			CHECK(!put_kept(AF_INET, &asked, 2), "put kept");
			expect(unit_failed, &s, s.h, "ARP bytes on an L3 device", in, n, 0,
			       s.h->pass, in, n, &r);
			CHECK(fx_stat(skel, MIG_STAT_KEPT_ARP) == arp0, "kept_arp_dropped %llu",
			      (unsigned long long)fx_stat(skel, MIG_STAT_KEPT_ARP));
		} else if (s.family == AF_INET) {
			/* arp_frame asks for 203.0.113.1 */
			static const __u32 asked = 0x017100cb;   /* 203.0.113.1, be */

			n = arp_frame(in);
			expect(unit_failed, &s, s.h, "ARP for another address", in, n, 0,
			       s.h->pass, in, n, &r);
			CHECK(!put_kept(AF_INET, &asked, 2), "put kept");
			expect(unit_failed, &s, s.h, "ARP for a kept address", in, n, 0,
			       s.h->drop, NULL, 0, &r);
			CHECK(fx_stat(skel, MIG_STAT_KEPT_ARP) == arp0 + 1,
			      "kept_arp_dropped %llu",
			      (unsigned long long)fx_stat(skel, MIG_STAT_KEPT_ARP));
			/* a reply (op 2) is not a request */
			in[14 + 7] = 2;
			expect(unit_failed, &s, s.h, "ARP reply", in, n, 0, s.h->pass, in, n, &r);
		}
		CHECK(fx_map_count(skel->maps.mig_flows) == 0 &&
		      fx_map_count(skel->maps.mig_ingress) == 0, "stored something");
	}
}

/* An IPv4 fragment of frame f (in place): more fragments follow when mf,
 * at offset off8 (8-byte units); the header checksum is redone. */
static void v4_frag(__u8 *f, bool mf, __u16 off8)
{
	__u8 *ip = f + 14;
	__u32 sum = 0;
	int i;

	ip[6] = (__u8)((mf ? 0x20 : 0) | (off8 >> 8));
	ip[7] = (__u8)off8;
	ip[10] = ip[11] = 0;
	for (i = 0; i < 20; i += 2)
		sum += (__u32)ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (__u8)(~sum >> 8);
	ip[11] = (__u8)~sum;
}

/* IPv6 frame f (n bytes) with an 8-byte extension header of type nh
 * inserted after the fixed header (44: a fragment, first when off8 is 0;
 * 0 hop-by-hop or 60 destination options: a PadN of 4; 43: a routing
 * header of type 0 with no segments left): into out, its length returned. */
static size_t v6_ext(const __u8 *f, size_t n, __u8 nh, __u16 off8, __u8 *out)
{
	__u16 plen = (__u16)(f[18] << 8 | f[19]) + 8;

	memcpy(out, f, 54);
	out[18] = (__u8)(plen >> 8);
	out[19] = (__u8)plen;
	out[20] = nh;
	memset(out + 54, 0, 8);
	out[54] = 6;   /* then TCP */
	if (nh == 44) {
		out[56] = (__u8)(off8 >> 5);
		out[57] = (__u8)((off8 << 3) | 1);   /* more fragments */
		out[61] = 0x17;                      /* identification */
	} else if (nh != 43) {
		out[56] = 1;   /* PadN of 4: the header is 8 bytes */
		out[57] = 4;
	}
	memcpy(out + 62, f + 54, n - 54);
	return n + 8;
}

/* One untranslatable variant of a segment: an IPv4 fragment (mf, off8) or
 * an IPv6 extension header (nh, off8 for fragments), and whether the data
 * path must drop it when the segment belongs to a migrated flow. */
struct frag_case {
	const char *name;
	int family;
	bool mf;
	__u8 nh;
	__u16 off8;
	bool drop;
};

static const struct frag_case frag_cases[] = {
	{ "first fragment", AF_INET, true, 0, 0, true },
	{ "middle fragment (no ports)", AF_INET, true, 0, 100, false },
	{ "last fragment (no ports)", AF_INET, false, 0, 185, false },
	{ "first fragment (Fragment header)", AF_INET6, false, 44, 0, true },
	{ "later fragment (no ports)", AF_INET6, false, 44, 185, false },
	{ "hop-by-hop options", AF_INET6, false, 0, 0, true },
	{ "routing header", AF_INET6, false, 43, 0, true },
	{ "destination options", AF_INET6, false, 60, 0, true },
};

/* Frame in (n bytes) made into variant fc, in x; its length. */
static size_t frag_make(const struct frag_case *fc, __u8 *in, size_t n, __u8 *x)
{
	if (fc->family == AF_INET) {
		memcpy(x, in, n);
		v4_frag(x, fc->mf, fc->off8);
		return n;
	}
	return v6_ext(in, n, fc->nh, fc->off8, x);
}

/* Segments of a migrated flow that the shim cannot translate (IPv4
 * fragments, IPv6 packets with extension headers) are dropped and counted
 * when they name the flow's tuple: on ingress (the wire tuple) through
 * every hook, under XDP also behind a VLAN tag, and on egress (the socket
 * tuple) through both TC egress programs.  Later fragments (no ports) and
 * other tuples pass untouched. */
TEST(fragments_of_migrated)
{
	__u8 in[FX_PKT_MAX], x[FX_PKT_MAX + 16];
	const struct frag_case *fc;
	const struct fx_conn *c;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, xn, i;
	__u64 d0, want;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		c = s.c;
		if (commit_both(unit_failed, &s))
			continue;
		/* fixed end, ingress: NEW -> srv, the flow's wire tuple */
		d0 = fx_stat(skel, MIG_STAT_FRAG_DROP);
		want = 0;
		n = data_seg(s.family, s.new_addr, s.new_port, c->srv.t.laddr, c->srv.t.lport,
			     c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		for (i = 0; i < sizeof(frag_cases) / sizeof(frag_cases[0]); i++) {
			fc = &frag_cases[i];
			if (fc->family != s.family)
				continue;
			xn = frag_make(fc, in, n, x);
			expect(unit_failed, &s, s.h, fc->name, x, xn, 0,
			       fc->drop ? s.h->drop : s.h->pass, fc->drop ? NULL : x, xn, &r);
			want += fc->drop;
			if (s.h->skb)
				continue;
			/* XDP: the same behind an 802.1Q tag */
			expect_vlan(unit_failed, &s, fc->name, x, xn, 0x8100,
				    fc->drop ? XDP_DROP : XDP_PASS, fc->drop ? NULL : x, xn);
			want += fc->drop;
		}
		CHECK(fx_stat(skel, MIG_STAT_FRAG_DROP) == d0 + want,
		      "%s [%s]: frag_dropped %llu, want %llu", s.fam, s.h->name,
		      (unsigned long long)(fx_stat(skel, MIG_STAT_FRAG_DROP) - d0),
		      (unsigned long long)want);
		/* another connection's fragment passes */
		n = data_seg(s.family, s.new_addr, s.new_port, c->srv.t.laddr,
			     htons(ntohs(c->srv.t.lport) + 1), 1, 1, &p, in);
		xn = frag_make(&frag_cases[s.family == AF_INET ? 0 : 3], in, n, x);
		expect(unit_failed, &s, s.h, "another flow's fragment", x, xn, 0,
		       s.h->pass, x, xn, &r);
		/* mover, egress: the socket tuple cli -> srv, untranslatable */
		if (!s.h->skb)   /* once per TC kind: Ethernet and L3 */
			continue;
		d0 = fx_stat(skel, MIG_STAT_FRAG_DROP);
		want = 0;
		n = data_seg(s.family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			     c->srv.t.lport, c->cli.snd_nxt, c->cli.rcv_nxt, &p, in);
		for (i = 0; i < sizeof(frag_cases) / sizeof(frag_cases[0]); i++) {
			fc = &frag_cases[i];
			if (fc->family != s.family)
				continue;
			xn = frag_make(fc, in, n, x);
			expect(unit_failed, &s, &out_hook, fc->name, x, xn, 0,
			       fc->drop ? out_hook.drop : out_hook.pass, fc->drop ? NULL : x, xn,
			       &r);
			want += fc->drop;
		}
		CHECK(fx_stat(skel, MIG_STAT_FRAG_DROP) == d0 + want,
		      "%s [%s]: egress frag_dropped %llu, want %llu", s.fam, out_hook.name,
		      (unsigned long long)(fx_stat(skel, MIG_STAT_FRAG_DROP) - d0),
		      (unsigned long long)want);
	}
}

/* ---- the rewrite's checksums: edge values, IP options, GSO, BIG TCP ---- */

/*
 * One translated data segment of a committed flow (commit_both) with
 * payload pl: in, and out as mig_rewrite must leave it.  dir 0: the fixed
 * end receives (NEW -> srv becomes cli -> srv), 1: the mover receives
 * (srv -> NEW becomes srv -> cli), 2: the fixed end sends (srv -> cli
 * becomes srv -> NEW), 3: the mover sends (cli -> srv becomes NEW -> srv).
 * 0 and 1 go through s->h, 2 and 3 through mig_out_tc.
 */
static const struct hook *xl_pkt(const struct sc *s, int dir, const __u8 *pl, __u16 plen,
				 struct fx_pkt *in, struct fx_pkt *out)
{
	const struct fx_conn *c = s->c;
	const struct fx_side *from = dir == 0 || dir == 3 ? &c->cli : &c->srv;

	if (dir == 0)
		fx_pkt_in(in, s->family, s->new_addr, s->new_port, c->srv.t.laddr,
			  c->srv.t.lport);
	else if (dir == 1)
		fx_pkt_in(in, s->family, c->srv.t.laddr, c->srv.t.lport, s->new_addr,
			  s->new_port);
	else if (dir == 2)
		fx_pkt_in(in, s->family, c->srv.t.laddr, c->srv.t.lport, c->cli.t.laddr,
			  c->cli.t.lport);
	else
		fx_pkt_in(in, s->family, c->cli.t.laddr, c->cli.t.lport, c->srv.t.laddr,
			  c->srv.t.lport);
	in->seq = from->snd_nxt;
	in->ack = from->rcv_nxt;
	in->flags = F_PSH | F_ACK;
	in->win = 509;
	fx_opt_ts(in, 0x01020304, 0xa0b0c0d0);
	in->payload = pl;
	in->plen = plen;
	*out = *in;
	if (dir == 0) {
		memcpy(out->saddr, c->cli.t.laddr, 16);
		out->sport = ntohs(c->cli.t.lport);
	} else if (dir == 1) {
		memcpy(out->daddr, c->cli.t.laddr, 16);
		out->dport = ntohs(c->cli.t.lport);
	} else if (dir == 2) {
		memcpy(out->daddr, s->new_addr, 16);
		out->dport = FX_NEW_PORT;
	} else {
		memcpy(out->saddr, s->new_addr, 16);
		out->sport = FX_NEW_PORT;
	}
	return dir < 2 ? s->h : s->h->out;
}

static const char *const xl_dir[4] = {
	"fixed end in", "mover in", "fixed end out", "mover out",
};

/* The checksum field of a frame built by fx_build (TCP, no IP options). */
static __u16 tcp_csum_of(const __u8 *f)
{
	size_t o = (f[12] == 0x08 ? 14 + (f[14] & 0x0f) * 4 : 54) + 16;

	return (__u16)(f[o] << 8 | f[o + 1]);
}

/* a + b in one's complement, 16 bits */
static __u16 oc_add(__u16 a, __u16 b)
{
	return fx_fold((__u32)a + b);
}

/*
 * Checksums at their edges through each translation: the TCP checksum of
 * the input 0x0000, or 0xffff (the other zero, which an incremental
 * update may meet), the TCP checksum of the output 0x0000; the IPv4
 * header checksum likewise (tuned through the IP ID); a header with IP
 * options (the TCP header further out).  Each output is compared byte for
 * byte with a frame built from scratch and its checksums recomputed.
 */
/*
 * After a commit each end clears the timestamp echo of the peer's segments
 * (TSecr 0) while the peer repeats the first echo seen, or an older one,
 * and empties the SACK blocks that name what the peer held before the move
 * (those of the first such segment above the ACK that end at or below the
 * socket's SND.NXT at the commit, and later ones that end at or below the
 * highest of them): the peer's socket heard nothing during the outage, and
 * the kernel here would take either for a round trip as long as the
 * outage.  D-SACK blocks and blocks beyond stay, on the first segment too
 * (data sent after the commit, SACKed before the peer's first segment
 * came).  The first newer echo ends it.  Checksums: the want frames are
 * built from scratch.  The fixture's sockets are quiet (SND.UNA ==
 * SND.NXT), so after checking what the commits set, the test moves the
 * bound as a commit with 5792 bytes in flight would have set it.
 */
struct ts_step {
	const char *what;
	__u32 ecr;        /* echo sent */
	int opts;         /* 0 NOP NOP TS, 1 no options, 2 TS after 4 NOPs,
			   * 3 TS then NOP NOP SACK (2 blocks above the ACK),
			   * 4 TS then a SACK option of a bad length, 5 TS then
			   * a D-SACK block and 2 blocks above the ACK, 6 TS then
			   * a block beyond those and one of them */
	__u32 want_ecr;   /* echo the socket gets */
	__u8 ts;          /* mig_in.ts after */
	bool hide;        /* blocks of before the move made empty */
};

static const struct ts_step ts_steps[2][10] = {
	{       /* fixed end: the mover's segments */
		{ "no timestamps", 0, 1, 0, MIG_TS_FIRST, false },
		{ "timestamps not first", 0xa0b0c0d0, 2, 0xa0b0c0d0, MIG_TS_FIRST, false },
		{ "echo 0", 0, 0, 0, MIG_TS_FIRST, false },
		{ "first echo, SACK of data sent after the commit and held", 0xa0b0c0d0, 6, 0,
		  MIG_TS_STALE, true },
		{ "same echo, the same SACK", 0xa0b0c0d0, 3, 0, MIG_TS_STALE, true },
		{ "same echo, D-SACK and SACK", 0xa0b0c0d0, 5, 0, MIG_TS_STALE, true },
		{ "same echo, SACK beyond and old", 0xa0b0c0d0, 6, 0, MIG_TS_STALE, true },
		{ "older echo, SACK of a bad length", 0xa0b0c0c0, 4, 0, MIG_TS_STALE, false },
		{ "newer echo, SACK", 0xa0b0c0d1, 3, 0xa0b0c0d1, MIG_TS_OFF, false },
		{ "the stale echo again, SACK", 0xa0b0c0d0, 3, 0xa0b0c0d0, MIG_TS_OFF, false },
	},
	{       /* mover: the fixed end's, across the wrap of the clock */
		{ "first echo, D-SACK and SACK", 0xfffffff0, 5, 0, MIG_TS_STALE, true },
		{ "same echo, SACK of a bad length", 0xfffffff0, 4, 0, MIG_TS_STALE, false },
		{ "older echo, SACK beyond and old", 0x80000000, 6, 0, MIG_TS_STALE, true },
		{ "newer echo, wrapped", 0x10, 0, 0x10, MIG_TS_OFF, false },
		{ "older again, SACK", 0xfffffff0, 3, 0xfffffff0, MIG_TS_OFF, false },
		{ NULL, 0, 0, 0, 0, false },
	},
};

static void put_be32(__u8 *o, __u32 v)
{
	o[0] = (__u8)(v >> 24); o[1] = (__u8)(v >> 16); o[2] = (__u8)(v >> 8); o[3] = (__u8)v;
}

/* The options of step st into p (after p->ack is set), with the echo ecr;
 * hide: as the data path leaves them (blocks above the ACK ending at or
 * below ACK + 5792, made [ACK - 1, ACK - 1]: the test's commits leave
 * that bound, and the first SACK of each direction names a held block
 * ending there).  Returns how many blocks that empties. */
static int ts_step_opts(struct fx_pkt *p, const struct ts_step *st, __u32 ecr, bool hide)
{
	__u32 a = p->ack, blk[3][2];
	int i, n = 0, k = 0;

	switch (st->opts) {
	case 1:
		p->optlen = 0;
		return 0;
	case 2:
		fx_opt_ts(p, 0x01020304, ecr);
		memmove(p->opts + 4, p->opts, 12);
		memset(p->opts, 1, 4);
		p->optlen = 16;
		return 0;
	case 3:
	case 4:
		blk[0][0] = a + 1448; blk[0][1] = a + 2896;
		blk[1][0] = a + 4344; blk[1][1] = a + 5792;
		n = 2;
		break;
	case 5:
		blk[0][0] = a - 0x40000000u; blk[0][1] = a - 0x40000000u + 1;
		blk[1][0] = a + 1448; blk[1][1] = a + 2896;
		blk[2][0] = a + 4344; blk[2][1] = a + 5792;
		n = 3;
		break;
	case 6:
		blk[0][0] = a + 7240; blk[0][1] = a + 8688;
		blk[1][0] = a + 1448; blk[1][1] = a + 5792;
		n = 2;
		break;
	default:
		fx_opt_ts(p, 0x01020304, ecr);
		return 0;
	}
	fx_opt_ts(p, 0x01020304, ecr);
	p->opts[12] = 1;
	p->opts[13] = 1;
	p->opts[14] = 5;
	p->opts[15] = st->opts == 4 ? 12 : (__u8)(2 + 8 * n);
	for (i = 0; i < n; i++) {
		if (hide && st->opts != 4 && (__s32)(blk[i][0] - a) >= 0 &&
		    (__s32)(blk[i][1] - (a + 5792)) <= 0) {
			blk[i][0] = blk[i][1] = a - 1;
			k++;
		}
		put_be32(p->opts + 16 + 8 * i, blk[i][0]);
		put_be32(p->opts + 20 + 8 * i, blk[i][1]);
	}
	/* (the bad length: 10 bytes of junk after it, then the rest) */
	p->optlen = (__u8)(16 + 8 * n);
	return k;
}

/* Step st through direction dir (0: the mover's segment into the fixed
 * end, 1: the fixed end's into the mover): the output must be the input
 * rewritten, with st's echo and, if st->hide, the held blocks emptied.
 * Returns how many blocks that empties. */
static int ts_step_run(int *unit_failed, const struct sc *s, int dir, const struct ts_step *st,
		       const char *what)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	struct fx_pkt pi, po;
	struct fx_res r;
	size_t n, wn;
	int k;

	xl_pkt(s, dir, payload, sizeof(payload), &pi, &po);
	ts_step_opts(&pi, st, st->ecr, false);
	k = ts_step_opts(&po, st, st->want_ecr, st->hide);
	n = fx_build(&pi, in);
	wn = fx_build(&po, want);
	expect(unit_failed, s, s->h, what, in, n, 0, s->h->pass, want, wn, &r);
	return k;
}

/* Fixed end: a data segment of the mover with the echo 0xa0b0c0d0 and its
 * ACK moved by ack_add passes with nothing changed but the addresses. */
static void ts_untouched(int *unit_failed, const struct sc *s, const char *what, __u32 ack_add)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	struct fx_pkt pi, po;
	struct fx_res r;
	size_t n, wn;

	xl_pkt(s, 0, payload, sizeof(payload), &pi, &po);
	pi.ack += ack_add;
	po.ack = pi.ack;
	fx_opt_ts(&pi, 0x01020304, 0xa0b0c0d0);
	fx_opt_ts(&po, 0x01020304, 0xa0b0c0d0);
	n = fx_build(&pi, in);
	wn = fx_build(&po, want);
	expect(unit_failed, s, s->h, what, in, n, 0, s->h->pass, want, wn, &r);
}

/* The flow of socket x as after its socket restarted its congestion
 * state (sock_ops sets cc_done): the peer's segments are not marked. */
static int cc_settle(const struct fx_side *x)
{
	struct mig_flow f;

	if (map_get(skel->maps.mig_flows, &x->t, &f))
		return -1;
	f.cc_done = (__u16)f.migrations;
	return map_put(skel->maps.mig_flows, &x->t, &f);
}

/* A segment of the peer at end dir (0: the fixed end, 1: the mover) with
 * timestamps (NOP, NOP first) or without options; with mark, the NOPs
 * must come out as MIG_CC_MARK_KIND, length 2, checksum updated. */
static void cc_step(int *unit_failed, const struct sc *s, int dir, bool opts, bool mark,
		    const char *what)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	struct fx_pkt pi, po;
	struct fx_res r;
	size_t n, wn;

	xl_pkt(s, dir, payload, sizeof(payload), &pi, &po);
	if (opts) {
		fx_opt_ts(&pi, 0x01020304, 0);
		fx_opt_ts(&po, 0x01020304, 0);
	} else {
		pi.optlen = po.optlen = 0;
	}
	if (mark) {
		po.opts[0] = MIG_CC_MARK_KIND;
		po.opts[1] = 2;
	}
	n = fx_build(&pi, in);
	wn = fx_build(&po, want);
	expect(unit_failed, s, s->h, what, in, n, 0, s->h->pass, want, wn, &r);
}

/* After a commit the peer's segments carry the marker that makes the
 * socket's sock_ops program restart its congestion state (cc_mark), at
 * both ends, until the flow says it restarted (cc_done), and never longer
 * than MIG_CC_MARK_NS after the commit; a segment without NOPs in front
 * of its options passes as it is. */
TEST(cc_marked)
{
	struct mig_flow fl;
	struct mig_in e;
	struct sc s;
	__u64 marked;
	int dir;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		if (commit_pair(unit_failed, &s))
			continue;
		marked = fx_stat(skel, MIG_STAT_CC_MARKED);
		for (dir = 0; dir < 2; dir++) {
			const struct mig_tuple *w = dir ? &s.b_wire : &s.a_wire;
			const struct fx_side *x = dir ? &s.c->cli : &s.c->srv;
			char what[96];

			snprintf(what, sizeof(what), "%s: no options", dir ? "mover" : "fixed end");
			cc_step(unit_failed, &s, dir, false, false, what);
			snprintf(what, sizeof(what), "%s: first with timestamps", dir ? "mover" : "fixed end");
			cc_step(unit_failed, &s, dir, true, true, what);
			snprintf(what, sizeof(what), "%s: second", dir ? "mover" : "fixed end");
			cc_step(unit_failed, &s, dir, true, true, what);
			marked += 2;
			CHECK(fx_stat(skel, MIG_STAT_CC_MARKED) == marked &&
			      !map_get(skel->maps.mig_ingress, w, &e) && e.cc == 1,
			      "%s %s [%s]: cwnd_marked %llu (want %llu), mig_in cc %u", what,
			      s.fam, s.h->name,
			      (unsigned long long)fx_stat(skel, MIG_STAT_CC_MARKED),
			      (unsigned long long)marked, e.cc);
			/* the socket restarted: nothing more is marked */
			CHECK(!cc_settle(x), "cc_settle");
			snprintf(what, sizeof(what), "%s: after the restart", dir ? "mover" : "fixed end");
			cc_step(unit_failed, &s, dir, true, false, what);
			CHECK(fx_stat(skel, MIG_STAT_CC_MARKED) == marked &&
			      !map_get(skel->maps.mig_ingress, w, &e) && e.cc == 0,
			      "%s %s [%s]: after the restart: cwnd_marked %llu, mig_in cc %u",
			      what, s.fam, s.h->name,
			      (unsigned long long)fx_stat(skel, MIG_STAT_CC_MARKED), e.cc);
			/* no restart, but MIG_CC_MARK_NS since the commit */
			CHECK(!map_get(skel->maps.mig_flows, &x->t, &fl), "flow");
			fl.cc_done = (__u16)(fl.migrations - 1);
			fl.migrated_ns -= MIG_CC_MARK_NS + 1000000;
			CHECK(!map_put(skel->maps.mig_flows, &x->t, &fl), "put flow");
			CHECK(!map_get(skel->maps.mig_ingress, w, &e), "mig_in");
			e.cc = 1;
			CHECK(!map_put(skel->maps.mig_ingress, w, &e), "put mig_in");
			snprintf(what, sizeof(what), "%s: MIG_CC_MARK_NS after the commit",
				 dir ? "mover" : "fixed end");
			cc_step(unit_failed, &s, dir, true, false, what);
			CHECK(fx_stat(skel, MIG_STAT_CC_MARKED) == marked &&
			      !map_get(skel->maps.mig_ingress, w, &e) && e.cc == 0,
			      "%s %s [%s]: cwnd_marked %llu, mig_in cc %u", what, s.fam, s.h->name,
			      (unsigned long long)fx_stat(skel, MIG_STAT_CC_MARKED), e.cc);
		}
	}
}

TEST(ts_echo_cleared)
{
	const struct ts_step *st;
	const struct mig_tuple *w;
	struct mig_in e;
	struct sc s;
	__u64 cleared, hidden;
	int dir, i, k;
	bool clear;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		if (commit_pair(unit_failed, &s))
			continue;
		CHECK(!cc_settle(&s.c->srv) && !cc_settle(&s.c->cli), "cc_settle");
		CHECK(!sack_bound(&s.c->srv, s.c->srv.snd_nxt + 5792) &&
		      !sack_bound(&s.c->cli, s.c->cli.snd_nxt + 5792),
		      "%s [%s]: the commits did not bound the hidden SACK blocks by SND.NXT",
		      s.fam, s.h->name);
		cleared = hidden = 0;
		for (dir = 0; dir < 2; dir++) {
			w = dir ? &s.b_wire : &s.a_wire;
			for (i = 0; i < 10 && ts_steps[dir][i].what; i++) {
				char what[96];

				st = &ts_steps[dir][i];
				snprintf(what, sizeof(what), "%s: %s", dir ? "mover" : "fixed end",
					 st->what);
				clear = st->ecr != st->want_ecr;
				k = ts_step_run(unit_failed, &s, dir, st, what);
				cleared += clear;
				hidden += k > 0;
				CHECK(!map_get(skel->maps.mig_ingress, w, &e) && e.ts == st->ts &&
				      (st->ts != MIG_TS_STALE ||
				       e.ts_stale == (dir ? 0xfffffff0 : 0xa0b0c0d0)),
				      "%s %s [%s]: mig_in ts %u stale %#x, want ts %u", what, s.fam,
				      s.h->name, e.ts, e.ts_stale, st->ts);
				CHECK(fx_stat(skel, MIG_STAT_TSECR_CLEARED) == cleared &&
				      fx_stat(skel, MIG_STAT_SACK_HIDDEN) == hidden,
				      "%s %s [%s]: tsecr_cleared %llu sack_hidden %llu, want %llu %llu",
				      what, s.fam, s.h->name,
				      (unsigned long long)fx_stat(skel, MIG_STAT_TSECR_CLEARED),
				      (unsigned long long)fx_stat(skel, MIG_STAT_SACK_HIDDEN),
				      (unsigned long long)cleared, (unsigned long long)hidden);
			}
		}

		/* the fixed end's translation as a commit leaves it again: a
		 * first segment without SACK blocks (the peer held nothing
		 * above its ACK) leaves nothing to hide on later ones */
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire, &e), "mig_in");
		e.ts = MIG_TS_FIRST;
		e.ts_stale = 0;
		CHECK(!map_put(skel->maps.mig_ingress, &s.a_wire, &e), "put");
		for (i = 0; i < 2; i++) {
			static const struct ts_step nb[2] = {
				{ "first echo, no SACK", 0xa0b0c0d0, 0, 0, MIG_TS_STALE, false },
				{ "same echo, SACK", 0xa0b0c0d0, 3, 0, MIG_TS_STALE, false },
			};

			ts_step_run(unit_failed, &s, 0, &nb[i], nb[i].what);
			cleared++;
		}
		CHECK(fx_stat(skel, MIG_STAT_TSECR_CLEARED) == cleared &&
		      fx_stat(skel, MIG_STAT_SACK_HIDDEN) == hidden,
		      "%s [%s]: first segment without SACK: tsecr_cleared %llu sack_hidden %llu, "
		      "want %llu %llu", s.fam, s.h->name,
		      (unsigned long long)fx_stat(skel, MIG_STAT_TSECR_CLEARED),
		      (unsigned long long)fx_stat(skel, MIG_STAT_SACK_HIDDEN),
		      (unsigned long long)cleared, (unsigned long long)hidden);

		/* ... a first segment whose ACK its socket could not accept
		 * (beyond SND.NXT) sets nothing and passes untouched ... */
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire, &e), "mig_in");
		e.ts = MIG_TS_FIRST;
		e.ts_stale = 0;
		CHECK(!map_put(skel->maps.mig_ingress, &s.a_wire, &e), "put");
		ts_untouched(unit_failed, &s, "fixed end: first echo, ACK beyond SND.NXT", 0x10000000);
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire, &e) && e.ts == MIG_TS_FIRST &&
		      fx_stat(skel, MIG_STAT_TSECR_CLEARED) == cleared,
		      "%s [%s]: a first segment beyond SND.NXT changed ts %u or tsecr_cleared %llu",
		      s.fam, s.h->name, e.ts,
		      (unsigned long long)fx_stat(skel, MIG_STAT_TSECR_CLEARED));
		/* ... and MIG_TS_STALE_NS after the commit nothing is cleared */
		{
			struct mig_flow fl;

			CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fl), "flow");
			fl.migrated_ns -= MIG_TS_STALE_NS + 1000000;
			CHECK(!map_put(skel->maps.mig_flows, &s.c->srv.t, &fl), "put flow");
		}
		ts_untouched(unit_failed, &s, "fixed end: stale echo after MIG_TS_STALE_NS", 0);
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire, &e) && e.ts == MIG_TS_OFF &&
		      fx_stat(skel, MIG_STAT_TSECR_CLEARED) == cleared,
		      "%s [%s]: after MIG_TS_STALE_NS: ts %u, tsecr_cleared %llu", s.fam, s.h->name,
		      e.ts, (unsigned long long)fx_stat(skel, MIG_STAT_TSECR_CLEARED));
	}
}

TEST(rewrite_checksum_edges)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], pl[100];
	struct fx_pkt pi, po;
	const struct hook *h;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	__u16 w;
	char what[96];
	int dir, v;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		if (commit_both(unit_failed, &s))
			continue;
		for (dir = 0; dir < 4; dir++) {
			if (dir >= 2 && s.h != &hooks[0])
				break;     /* egress once per family */
			for (v = 0; v < 6; v++) {
				if (v >= 4 && s.family != AF_INET)
					break;
				memcpy(pl, payload, sizeof(pl));
				h = xl_pkt(&s, dir, pl, sizeof(pl), &pi, &po);
				n = fx_build(&pi, in);
				wn = fx_build(&po, want);
				switch (v) {
				case 1:         /* input TCP checksum 0x0000 */
				case 2:         /* ... written as 0xffff */
					w = oc_add((__u16)(pl[0] << 8 | pl[1]), tcp_csum_of(in));
					pl[0] = (__u8)(w >> 8);
					pl[1] = (__u8)w;
					n = fx_build(&pi, in);
					wn = fx_build(&po, want);
					CHECK(tcp_csum_of(in) == 0, "input checksum 0x%04x",
					      tcp_csum_of(in));
					if (v == 2)
						in[n - sizeof(pl) - 32 + 16] =
						in[n - sizeof(pl) - 32 + 17] = 0xff;
					break;
				case 3:         /* output TCP checksum 0x0000 */
					w = oc_add((__u16)(pl[0] << 8 | pl[1]), tcp_csum_of(want));
					pl[0] = (__u8)(w >> 8);
					pl[1] = (__u8)w;
					n = fx_build(&pi, in);
					wn = fx_build(&po, want);
					CHECK(tcp_csum_of(want) == 0, "output checksum 0x%04x",
					      tcp_csum_of(want));
					break;
				case 4:         /* IPv4 header checksum 0 in, then out */
				case 5:
					w = (__u16)(v == 4 ? in[24] << 8 | in[25] :
							     want[24] << 8 | want[25]);
					pi.ip_id = po.ip_id = oc_add(pi.ip_id, w);
					n = fx_build(&pi, in);
					wn = fx_build(&po, want);
					CHECK((v == 4 ? in : want)[24] == 0 &&
					      (v == 4 ? in : want)[25] == 0, "IP checksum not 0");
					if (v == 4) {   /* and with IP options */
						n = ip4_add_opt(in, n);
						wn = ip4_add_opt(want, wn);
					}
					break;
				}
				snprintf(what, sizeof(what), "%s, variant %d", xl_dir[dir], v);
				expect(unit_failed, &s, h, what, in, n, 0, h->pass, want, wn, &r);
			}
			/* A segment whose TCP checksum is wrong (anyone on a
			 * path may send one to a translated tuple) stays wrong:
			 * the rewrite carries the error over whichever way it
			 * updates the field (helpers, the state read from their
			 * result, or the skb's own), and the socket drops it. */
			memcpy(pl, payload, sizeof(pl));
			h = xl_pkt(&s, dir, pl, sizeof(pl), &pi, &po);
			n = fx_build(&pi, in);
			in[n - sizeof(pl) - 32 + 16] ^= 0x5a;
			CHECK(!hook_run(h, in, n, 0, 1, &r) && r.ret == h->pass &&
			      !fx_csum_ok(r.out, r.len),
			      "%s %s [%s]: a wrong TCP checksum: verdict %u, output verifies %d",
			      xl_dir[dir], s.fam, h->name, r.ret, fx_csum_ok(r.out, r.len));
		}
	}
}

/* Run prog once on a copy of the frame as a GSO skb (gso_size, gso_segs). */
static int run_gso(int fd, const void *in, size_t len, __u32 gso_size, __u32 segs,
		   struct fx_res *r)
{
	struct __sk_buff ci, co;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = in,
		.data_size_in = (__u32)len,
		.data_out = r->out,
		.data_size_out = sizeof(r->out),
		.ctx_in = &ci,
		.ctx_size_in = sizeof(ci),
		.ctx_out = &co,
		.ctx_size_out = sizeof(co),
		.repeat = 1,
	);

	memset(&ci, 0, sizeof(ci));
	memset(&co, 0, sizeof(co));
	ci.gso_size = gso_size;
	ci.gso_segs = segs;
	r->err = bpf_prog_test_run_opts(fd, &o) ? -errno : 0;
	r->ret = o.retval;
	r->len = o.data_size_out;
	return r->err;
}

/* A frame's IP length field made 0, as BIG TCP leaves it (IPv4: the
 * header checksum computed again). */
static void big_len(__u8 *f)
{
	__u16 c;

	if (f[12] == 0x08) {
		f[16] = f[17] = 0;
		f[24] = f[25] = 0;
		c = (__u16)~fx_fold(fx_sum(f + 14, (size_t)(f[14] & 0x0f) * 4, 0));
		f[24] = (__u8)(c >> 8);
		f[25] = (__u8)c;
	} else {
		f[18] = f[19] = 0;
	}
}

/* A BIG TCP frame's checksums, each by full computation: the IPv4 header
 * as it is, TCP with the real length (n) in its pseudo-header.  Then
 * 0xffff written for zero becomes 0x0000 (fx_csum_norm). */
static int big_csum_ok_norm(__u8 *f, size_t n)
{
	__u8 t[FX_PKT_MAX];
	size_t ihl = (size_t)(f[14] & 0x0f) * 4, o;
	int ok = 1;

	memcpy(t, f, n);
	if (f[12] == 0x08) {
		if (fx_fold(fx_sum(f + 14, ihl, 0)) != 0xffff)
			ok = 0;
		if (f[24] == 0xff && f[25] == 0xff)
			f[24] = f[25] = 0;
		t[16] = (__u8)((n - 14) >> 8);
		t[17] = (__u8)(n - 14);
		o = 14 + ihl + 16;
	} else {
		t[18] = (__u8)((n - 54) >> 8);
		t[19] = (__u8)(n - 54);
		o = 54 + 16;
	}
	/* fx_csum_ok checks the IPv4 header too: make it right in the copy */
	fx_csum_fill(t, n);
	t[o] = f[o];
	t[o + 1] = f[o + 1];
	if (!fx_csum_ok(t, n))
		ok = 0;
	if (f[o] == 0xff && f[o + 1] == 0xff)
		f[o] = f[o + 1] = 0;
	return ok;
}

/*
 * GSO packets through the TC hooks (test_run takes gso_size and gso_segs
 * from the context; the skb stays CHECKSUM_NONE, see the top): a GSO skb
 * is translated like any other; a BIG TCP one (Linux 6.3 on: over 64 KiB,
 * IP length 0) too, its length taken from the skb and counted in big_tcp
 * (before, mig_parse found it shorter than its headers and let it pass
 * untranslated).  A zero length on a packet that is not GSO is malformed:
 * passed untouched, not counted; XDP never sees BIG TCP: passed untouched.
 */
TEST(rewrite_gso)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX];
	struct fx_pkt pi, po;
	const struct hook *h;
	struct fx_res r;
	struct sc s;
	size_t n, wn;
	__u64 big0, x0;
	char what[96];
	int dir, stage;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		/* (frames with an Ethernet header: the L3 programs get the same
		 * segments through expect() in the other tests) */
		if (s.h->l3)
			continue;
		if (commit_both(unit_failed, &s))
			continue;
		for (dir = 0; dir < 4; dir++) {
			h = xl_pkt(&s, dir, payload, sizeof(payload), &pi, &po);
			n = fx_build(&pi, in);
			wn = fx_build(&po, want);
			if (!h->skb) {
				if (dir >= 2)
					break;
				big_len(in);
				big0 = fx_stat(skel, MIG_STAT_BIG_TCP);
				snprintf(what, sizeof(what), "%s, IP length 0", xl_dir[dir]);
				expect(unit_failed, &s, h, what, in, n, 0, h->pass, in, n, &r);
				CHECK(fx_stat(skel, MIG_STAT_BIG_TCP) == big0, "%s [xdp]: big_tcp",
				      s.fam);
				continue;
			}
			if (dir >= 2 && s.h != &hooks[0])
				break;
			for (stage = 0; stage < 3; stage++) {
				snprintf(what, sizeof(what), "%s %s [%s], %s", xl_dir[dir], s.fam,
					 h->name, stage == 0 ? "GSO" : stage == 1 ?
					 "BIG TCP" : "IP length 0, not GSO");
				if (stage == 1) {
					big_len(in);
					big_len(want);
				}
				big0 = fx_stat(skel, MIG_STAT_BIG_TCP);
				x0 = fx_stat(skel, dir < 2 ? MIG_STAT_XLATE_IN : MIG_STAT_XLATE_OUT);
				if (run_gso(h->fd, in, n, stage == 2 ? 0 : 40, stage == 2 ? 0 : 3,
					    &r)) {
					CHECK(0, "%s: test_run: %s", what, strerror(-r.err));
					continue;
				}
				CHECK(r.ret == h->pass, "%s: verdict %u", what, r.ret);
				if (stage == 2) {
					CHECK(r.len == n && !memcmp(r.out, in, n),
					      "%s: frame changed", what);
					CHECK(fx_stat(skel, MIG_STAT_BIG_TCP) == big0,
					      "%s: big_tcp counted", what);
					continue;
				}
				if (stage == 0) {
					CHECK(fx_csum_ok(r.out, r.len), "%s: checksums", what);
					fx_csum_norm(r.out, r.len);
				} else {
					CHECK(r.len == n && big_csum_ok_norm(r.out, r.len),
					      "%s: checksums", what);
				}
				if (r.len != wn || memcmp(r.out, want, wn)) {
					CHECK(0, "%s: output frame differs", what);
					fx_hexdiff(stderr, r.out, r.len, want, wn);
				}
				CHECK(fx_stat(skel, MIG_STAT_BIG_TCP) == big0 + (stage == 1),
				      "%s: big_tcp %llu, was %llu", what,
				      (unsigned long long)fx_stat(skel, MIG_STAT_BIG_TCP),
				      (unsigned long long)big0);
				CHECK(fx_stat(skel, dir < 2 ? MIG_STAT_XLATE_IN :
						     MIG_STAT_XLATE_OUT) == x0 + 1,
				      "%s: not counted as translated", what);
			}
		}
	}
}

UNIT_MAIN()
