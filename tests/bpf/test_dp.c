// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_dp.c - the data path (bpf/mig_dp.bpf.c) against PROTOCOL.md 5-6,
 * packet in / verdict and packet out, through bpf_prog_test_run_opts.
 * Every ingress case runs through both hooks, mig_in_tc and mig_in_xdp;
 * the egress cases through mig_out_tc.
 *
 *   private netns (see dp_fixture.h), one freshly loaded mig_dp skeleton,
 *   maps unpinned and emptied before each case
 *
 *   cli 192.0.2.1:C  ====== real TCP, quiet ======  srv 203.0.113.1:P
 *   (mover, initiator, keys k_i)            (fixed end, responder, keys k_r)
 *        "moved to" 198.51.100.7:40000 (and .8:40001, a second candidate)
 *   IPv6 the same: 2001:db8::1 / 2001:db8:5::1, moved to 2001:db8:1::7, ::8
 *
 *   fixed end:  Migrate SYN  NEW -> srv   ==> mig_in_* ==>  SYN/ACK or RST
 *               CONFIRM      NEW -> srv   ==> mig_in_* ==>  dropped, commit
 *   mover:      SYN/ACK      srv -> NEW   ==> mig_in_* ==>  CONFIRM, commit
 *   migrated:   data NEW -> srv  ==> mig_in_*  ==> cli -> srv
 *               data srv -> cli  ==> mig_out_tc ==> srv -> NEW
 *
 * The data path reads the sockets' sequence numbers with
 * bpf_skc_lookup_tcp; the expected values come from TCP_REPAIR on the
 * same, quiet, sockets (dp_fixture.h, fx_seqs).  Maps are filled the way
 * the agent fills them after key agreement: mig_flows[socket tuple] with
 * authenticators from mig_mac() for fixed keys and bases 0, mig_tokens
 * [token] = socket tuple, wire = socket tuple.
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
 * buffers with full checksums (CHECKSUM_NONE).  Packets with
 * CHECKSUM_PARTIAL (veth, local senders with offload) or GSO cannot be
 * made through test_run; for them the TC rewrite relies on
 * bpf_l4_csum_replace with BPF_F_PSEUDO_HDR, and only real traffic over
 * veth (the namespace integration tests) covers that.  Likewise the XDP
 * rewrite's incremental update is right only for full checksums, which is
 * all test_run gives it.
 *
 * Root only (unshare, TCP_REPAIR, BPF).  Nothing is pinned; the netns and
 * its sockets die with the process.
 */
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
};

static struct mig_dp *skel;
static struct fx_conn conns[2];           /* [0] IPv4, [1] IPv6 */
static struct hook hooks[2];              /* ingress: TC, XDP */
static struct hook out_hook;              /* egress: TC */
static int setup_state;                   /* 0 not tried, 1 ok, -1 failed */

static void teardown(void)
{
	fx_conn_close(&conns[0]);
	fx_conn_close(&conns[1]);
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
	skel = mig_dp__open_and_load();
	if (!skel) {
		fprintf(stderr, "  loading mig_dp: %s\n", strerror(errno));
		return -1;
	}
	if (fx_conn_open(AF_INET, &conns[0]) || fx_conn_open(AF_INET6, &conns[1]))
		return -1;
	hooks[0] = (struct hook){ "tc", true, bpf_program__fd(skel->progs.mig_in_tc),
				  TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT };
	hooks[1] = (struct hook){ "xdp", false, bpf_program__fd(skel->progs.mig_in_xdp),
				  XDP_PASS, XDP_DROP, XDP_TX };
	out_hook = (struct hook){ "tc-egress", true, bpf_program__fd(skel->progs.mig_out_tc),
				  TC_ACT_OK, TC_ACT_SHOT, TC_ACT_REDIRECT };
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
	struct mig_tuple a_wire;          /* fixed end's view of the new wire */
	struct mig_tuple a_wire2;         /* ... of the second candidate */
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
	fx_tuple(&s->b_wire, s->family, s->new_addr, s->new_port,
		 s->c->srv.t.laddr, s->c->srv.t.lport);
	fx_reset(skel);
}

#define FOR_EACH_CASE(s)                                      \
	for (int fi_ = 0; fi_ < 2; fi_++)                     \
		for (int hi_ = 0; hi_ < 2; hi_++)             \
			if (sc_init(&(s), fi_, hi_), 1)

/* ---- running and comparing ----------------------------------------- */

static const char *verdict_name(const struct hook *h, __u32 v)
{
	if (v == h->pass)
		return h->skb ? "TC_ACT_OK" : "XDP_PASS";
	if (v == h->drop)
		return h->skb ? "TC_ACT_SHOT" : "XDP_DROP";
	if (v == h->tx)
		return h->skb ? "TC_ACT_REDIRECT" : "XDP_TX";
	return "other";
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

	if (fx_run(h->fd, h->skb, in, inlen, mark, 1, r)) {
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

static int map_put(struct bpf_map *m, const void *k, const void *v)
{
	return bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY) ? -errno : 0;
}

/* A fixed end's flow for socket tuple t, as the agent writes it. */
static int install_fixed_t(const struct mig_tuple *t, __u32 peer_base, struct mig_flow *f)
{
	struct mig_token_key tk;

	fx_flow(f, t, false, peer_base, 0);
	memcpy(tk.token, fx_token, 8);
	return map_put(skel->maps.mig_flows, t, f) || map_put(skel->maps.mig_tokens, &tk, t);
}

/* The fixed end's flow (srv socket). */
static int install_fixed(const struct sc *s, __u32 peer_base, struct mig_flow *f)
{
	return install_fixed_t(&s->c->srv.t, peer_base, f);
}

/* The mover's flow (cli socket) and the PENDING entry the agent writes
 * when it sends a Migrate SYN from the new wire tuple. */
static int install_mover(const struct sc *s, __u32 reqno, struct mig_flow *f)
{
	struct mig_in in;

	fx_flow(f, &s->c->cli.t, true, 0, 0);
	memset(&in, 0, sizeof(in));
	in.sock = s->c->cli.t;
	in.type = MIG_IN_PENDING;
	in.reqno = reqno;
	return map_put(skel->maps.mig_flows, &s->c->cli.t, f) ||
	       map_put(skel->maps.mig_ingress, &s->b_wire, &in);
}

#define CHECK_FLOW_SAME(sock, want)                                             \
	do {                                                                     \
		struct mig_flow got_;                                            \
		CHECK(!map_get(skel->maps.mig_flows, (sock), &got_), "flow gone"); \
		CHECK_MEM(&got_, (want), sizeof(got_));                          \
	} while (0)

/* ---- frames --------------------------------------------------------- */

/* A Migrate SYN from (src, sport) to the fixed end's socket address. */
static size_t msyn(const struct sc *s, const __u32 src[4], __u16 sport, __u32 reqno,
		   const __u8 token[8], const __u8 mac[8], __u32 seq,
		   struct fx_pkt *p, __u8 *f)
{
	fx_pkt_in(p, s->family, src, sport, s->c->srv.t.laddr, s->c->srv.t.lport);
	p->seq = seq;
	p->flags = F_SYN;
	p->win = 64240;
	fx_opt_sig(p, MIG_SUB_MIGRATE, reqno, token, mac);
	return fx_build(p, f);
}

/* The ordinary Migrate SYN of the mover for reqno, from NEW. */
static size_t msyn_ok(const struct sc *s, __u32 reqno, struct fx_pkt *p, __u8 *f)
{
	__u8 mac[8];

	fx_mac(fx_k_i, MIG_SUB_MIGRATE, reqno, mac);
	return msyn(s, s->new_addr, s->new_port, reqno, fx_token, mac,
		    s->c->cli.snd_una - 1, p, f);
}

/* What the fixed end must answer to Migrate SYN in.  The option space
 * after MIGRATE_ACK holds a window scale option with the fixed end's
 * receive shift when the connection scales windows (so that NAT
 * conntrack on the way learns it), else NOPs. */
static size_t want_synack(const struct sc *s, const struct fx_pkt *in, __u32 reqno,
			  const __u8 nonce[8], __u8 *f)
{
	struct fx_pkt r;
	__u8 mac[8];

	fx_pkt_reply(&r, in);
	r.seq = s->c->srv.snd_una - 1;
	r.ack = s->c->srv.rcv_nxt;
	r.flags = F_SYN | F_ACK;
	fx_mac(fx_k_r, MIG_SUB_MIGRATE_ACK, reqno, mac);
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

/* Fixed end: Migrate SYN from NEW, returns its nonce (read from the
 * candidate entry), checks the SYN/ACK. */
static int answer_msyn(int *unit_failed, const struct sc *s, const __u32 src[4],
		       __u16 sport, const struct mig_tuple *wire, __u32 reqno,
		       __u8 nonce[8])
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], mac[8];
	struct fx_res r;
	struct fx_pkt p;
	struct mig_in cand;
	size_t n, wn;

	fx_mac(fx_k_i, MIG_SUB_MIGRATE, reqno, mac);
	n = msyn(s, src, sport, reqno, fx_token, mac, s->c->cli.snd_una - 1, &p, in);
	if (fx_run(s->h->fd, s->h->skb, in, n, 0, 1, &r) || r.ret != s->h->tx) {
		CHECK(0, "Migrate SYN %s [%s]: err %d verdict %u, want SYN/ACK",
		      s->fam, s->h->name, r.err, r.ret);
		return -1;
	}
	if (map_get(skel->maps.mig_ingress, wire, &cand)) {
		CHECK(0, "Migrate SYN %s [%s]: no candidate", s->fam, s->h->name);
		return -1;
	}
	memcpy(nonce, cand.nonce, 8);
	wn = want_synack(s, &p, reqno, nonce, want);
	fx_csum_norm(r.out, r.len);
	CHECK(r.len == wn && !memcmp(r.out, want, wn), "SYN/ACK %s [%s]", s->fam, s->h->name);
	return 0;
}

/* ---- (a) Migrate SYN answered ------------------------------------------ */

TEST(msyn_answered)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], first[FX_PKT_MAX];
	struct mig_flow f;
	struct mig_in cand, want_cand;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn, first_len;
	__u8 nonce[8];

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_fixed(&s, 0, &f), "install");
		n = msyn_ok(&s, 1, &p, in);
		/* the nonce is random: run, read it, then compare */
		if (fx_run(s.h->fd, s.h->skb, in, n, 0, 1, &r)) {
			CHECK(0, "test_run: %s", strerror(-r.err));
			continue;
		}
		if (map_get(skel->maps.mig_ingress, &s.a_wire, &cand)) {
			CHECK(0, "%s [%s]: no candidate at the new wire tuple", s.fam, s.h->name);
			continue;
		}
		memset(&want_cand, 0, sizeof(want_cand));
		want_cand.sock = s.c->srv.t;
		want_cand.type = MIG_IN_CANDIDATE;
		want_cand.reqno = 1;
		memcpy(want_cand.nonce, cand.nonce, 8);
		CHECK_MEM(&cand, &want_cand, sizeof(cand));
		memcpy(nonce, cand.nonce, 8);
		wn = want_synack(&s, &p, 1, nonce, want);
		/* same frame again: compares verdict, mark and bytes */
		expect(unit_failed, &s, s.h, "Migrate SYN", in, n, 0, s.h->tx, want, wn, &r);
		memcpy(first, r.out, r.len);
		first_len = r.len;

		/* a repeated identical Migrate SYN: same nonce, same SYN/ACK */
		expect(unit_failed, &s, s.h, "repeated Migrate SYN", in, n, 0, s.h->tx,
		       first, first_len, &r);
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire, &cand) &&
		      !memcmp(cand.nonce, nonce, 8), "%s [%s]: nonce changed", s.fam, s.h->name);

		/* nothing committed yet */
		CHECK_FLOW_SAME(&s.c->srv.t, &f);
		CHECK(fx_map_count(skel->maps.mig_egress) == 0, "egress entry before CONFIRM");
		CHECK(fx_map_count(skel->maps.mig_ingress) == 1, "one candidate");
		CHECK(fx_stat(skel, MIG_STAT_MSYN_IN) == 3, "msyn_received %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_MSYN_IN));
		CHECK(fx_stat(skel, MIG_STAT_MSYN_ANSWERED) == 3, "msyn_answered");
		CHECK(fx_stat(skel, MIG_STAT_RST_SENT) == 0, "rst_sent");
	}
}

/* Edges that must still be accepted: the last reqno of the window and
 * the oldest seq of [RCV.NXT - 2^30, RCV.NXT]. */
TEST(msyn_window_edges)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], mac[8], nonce[8];
	struct mig_flow f;
	struct mig_in cand;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n, wn;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		/* last committed 2, authenticators for 3..10 (agent refreshed) */
		CHECK(!install_fixed(&s, 2, &f), "install");
		fx_mac(fx_k_i, MIG_SUB_MIGRATE, 2 + MIG_MAC_WINDOW, mac);
		n = msyn(&s, s.new_addr, s.new_port, 2 + MIG_MAC_WINDOW, fx_token, mac,
			 s.c->cli.snd_una - 1, &p, in);
		fx_run(s.h->fd, s.h->skb, in, n, 0, 1, &r);
		memset(nonce, 0, 8);
		if (!map_get(skel->maps.mig_ingress, &s.a_wire, &cand))
			memcpy(nonce, cand.nonce, 8);
		wn = want_synack(&s, &p, 2 + MIG_MAC_WINDOW, nonce, want);
		expect(unit_failed, &s, s.h, "reqno last+W", in, n, 0, s.h->tx, want, wn, &r);

		fx_mac(fx_k_i, MIG_SUB_MIGRATE, 3, mac);
		n = msyn(&s, s.new_addr2, s.new_port2, 3, fx_token, mac,
			 s.c->srv.rcv_nxt - (1U << 30) - 1, &p, in);
		fx_run(s.h->fd, s.h->skb, in, n, 0, 1, &r);
		memset(nonce, 0, 8);
		if (!map_get(skel->maps.mig_ingress, &s.a_wire2, &cand))
			memcpy(nonce, cand.nonce, 8);
		wn = want_synack(&s, &p, 3, nonce, want);
		expect(unit_failed, &s, s.h, "seq+1 = RCV.NXT-2^30", in, n, 0, s.h->tx,
		       want, wn, &r);
		CHECK(fx_stat(skel, MIG_STAT_RST_SENT) == 0, "rst_sent");
	}
}

/* ---- (b) rejections: one RST, nothing stored ---------------------------- */

enum { MAC_OK, MAC_FLIP, MAC_OTHER_REQNO, MAC_REFLECTED };

struct rej_case {
	const char *name;
	__u32 stat;             /* the counter named for the reason */
	__u32 peer_base;        /* last committed reqno (and mac base) */
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
			CHECK(!install_fixed_t(&sock, c->peer_base, &f), "install");
			fx_mac(c->mac == MAC_REFLECTED ? fx_k_r : fx_k_i, MIG_SUB_MIGRATE,
			       reqno_mac, mac);
			if (c->mac == MAC_FLIP)
				mac[7] ^= 0x01;
			n = msyn(&s, s.new_addr, s.new_port, c->reqno,
				 c->bad_token ? bad_token : fx_token, mac,
				 s.c->srv.rcv_nxt + (__u32)c->seq_off - 1, &p, in);
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
		fx_mac(fx_k_i, MIG_SUB_MIGRATE, 1, mac);
		n = msyn(&s, s.new_addr, s.new_port, 1, bad_token, mac,
			 s.c->cli.snd_una - 1, &p, in);
		/* the bucket refills one RST per `cost` ns: the burst must
		 * fit in less (retry on a slow or preempted run) */
		for (try = 0; try < 5; try++) {
			__u64 t0;

			fx_percpu_zero(skel->maps.mig_rate, 0);
			for (i = 0; i < MIG_STAT__MAX; i++)
				fx_percpu_zero(skel->maps.mig_stats, (__u32)i);
			t0 = fx_now_ns();
			for (i = 0; i < MIG_RATE_BURST + 5; i++) {
				fx_run(s.h->fd, s.h->skb, in, n, 0, 1, &r);
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
		CHECK(fx_map_count(skel->maps.mig_ingress) == 0, "stored something");
	}
}

/* ---- (c) CONFIRM at the fixed end --------------------------------------- */

TEST(confirm_commits)
{
	__u8 in[FX_PKT_MAX], mac[8], bad[8], nonce[8], nonce2[8], cmac[8];
	struct mig_flow f, fw;
	struct mig_in in_e, want_in;
	struct mig_out out_e, want_out;
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
		if (answer_msyn(unit_failed, &s, s.new_addr, s.new_port, &s.a_wire, 1, nonce) ||
		    answer_msyn(unit_failed, &s, s.new_addr2, s.new_port2, &s.a_wire2, 1, nonce2))
			continue;
		CHECK(memcmp(nonce, nonce2, 8), "two candidates, one nonce");
		fx_mac(fx_k_i, MIG_SUB_CONFIRM, 1, cmac);

		/* data from the candidate before its CONFIRM: dropped */
		n = data_seg(s.family, s.new_addr, s.new_port, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data before CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_CAND_DROP) == 1, "candidate_dropped");

		/* wrong nonce; the other candidate's nonce; bad mac; mac made
		 * with the fixed end's own key: all dropped, nothing committed */
		memcpy(bad, nonce, 8);
		bad[0] ^= 0x80;
		n = confirm(&s, s.new_addr, s.new_port, 1, bad, cmac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM wrong nonce", in, n, 0, s.h->drop, NULL, 0, &r);
		n = confirm(&s, s.new_addr, s.new_port, 1, nonce2, cmac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM other candidate's nonce", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		memcpy(mac, cmac, 8);
		mac[3] ^= 0x10;
		n = confirm(&s, s.new_addr, s.new_port, 1, nonce, mac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM bad mac", in, n, 0, s.h->drop, NULL, 0, &r);
		fx_mac(fx_k_r, MIG_SUB_CONFIRM, 1, mac);
		n = confirm(&s, s.new_addr, s.new_port, 1, nonce, mac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM reflected mac", in, n, 0, s.h->drop, NULL, 0, &r);
		fx_mac(fx_k_i, MIG_SUB_CONFIRM, 2, mac);
		n = confirm(&s, s.new_addr, s.new_port, 2, nonce, mac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM other reqno", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_CONFIRM_BAD) == 5, "confirm_dropped %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_CONFIRM_BAD));
		CHECK_FLOW_SAME(&s.c->srv.t, &f);
		CHECK(fx_map_count(skel->maps.mig_egress) == 0, "%s [%s]: egress before commit",
		      s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire, &in_e) &&
		      in_e.type == MIG_IN_CANDIDATE, "candidate lost");

		/* the right one: consumed (dropped) and committed */
		n = confirm(&s, s.new_addr, s.new_port, 1, nonce, cmac, &p, in);
		expect(unit_failed, &s, s.h, "CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		memset(&want_in, 0, sizeof(want_in));
		want_in.sock = s.c->srv.t;
		want_in.type = MIG_IN_XLATE;
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire, &in_e), "no ingress entry");
		CHECK_MEM(&in_e, &want_in, sizeof(in_e));
		memset(&want_out, 0, sizeof(want_out));
		want_out.wire = s.a_wire;
		want_out.type = MIG_OUT_XLATE;
		CHECK(!map_get(skel->maps.mig_egress, &s.c->srv.t, &out_e), "no egress entry");
		CHECK_MEM(&out_e, &want_out, sizeof(out_e));
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw), "flow gone");
		CHECK(fw.migrations == 1 && fw.peer_reqno == 1 && fw.migrated_ns != 0,
		      "%s [%s]: migrations %u peer_reqno %u", s.fam, s.h->name,
		      fw.migrations, fw.peer_reqno);
		CHECK_MEM(&fw.wire, &s.a_wire, sizeof(fw.wire));
		/* and nothing else of the flow changed */
		f.wire = s.a_wire;
		f.migrations = 1;
		f.peer_reqno = 1;
		f.migrated_ns = fw.migrated_ns;
		CHECK_MEM(&fw, &f, sizeof(fw));
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1, "committed_fixed");

		/* the other candidate's valid CONFIRM, after the commit: dropped */
		n = confirm(&s, s.new_addr2, s.new_port2, 1, nonce2, cmac, &p, in);
		expect(unit_failed, &s, s.h, "late CONFIRM of the other candidate", in, n, 0,
		       s.h->drop, NULL, 0, &r);
		/* the same CONFIRM repeated: ours, dropped, not the kernel's */
		n = confirm(&s, s.new_addr, s.new_port, 1, nonce, cmac, &p, in);
		expect(unit_failed, &s, s.h, "repeated CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK_FLOW_SAME(&s.c->srv.t, &f);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_FIXED) == 1, "committed twice");
	}
}

/* ---- (d) the mover ------------------------------------------------------ */

TEST(mover_confirms)
{
	static const __u8 nonce[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7 };
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], first[FX_PKT_MAX], mac[8], amac[8], cmac[8];
	struct mig_flow f, fw;
	struct mig_in in_e, want_in;
	struct mig_out out_e, want_out;
	struct fx_pkt p, w;
	struct fx_res r;
	struct sc s;
	size_t n, wn, first_len;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		CHECK(!install_mover(&s, 1, &f), "install");
		fx_mac(fx_k_r, MIG_SUB_MIGRATE_ACK, 1, amac);
		fx_mac(fx_k_i, MIG_SUB_CONFIRM, 1, cmac);

		/* bad mac, mac of the mover's own key, other reqno, a tuple
		 * with no request: dropped, nothing committed */
		memcpy(mac, amac, 8);
		mac[0] ^= 1;
		n = msynack(&s, 1, nonce, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK bad mac", in, n, 0, s.h->drop, NULL, 0, &r);
		fx_mac(fx_k_i, MIG_SUB_MIGRATE_ACK, 1, mac);
		n = msynack(&s, 1, nonce, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK reflected mac", in, n, 0, s.h->drop, NULL, 0, &r);
		fx_mac(fx_k_r, MIG_SUB_MIGRATE_ACK, 2, mac);
		n = msynack(&s, 2, nonce, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK other reqno", in, n, 0, s.h->drop, NULL, 0, &r);
		n = msynack(&s, 1, nonce, amac, s.new_port2, &p, in);
		expect(unit_failed, &s, s.h, "SYN/ACK unasked", in, n, 0, s.h->drop, NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_ACK_BAD) == 4, "synack_dropped %llu",
		      (unsigned long long)fx_stat(skel, MIG_STAT_ACK_BAD));
		CHECK_FLOW_SAME(&s.c->cli.t, &f);
		CHECK(fx_map_count(skel->maps.mig_egress) == 0, "egress before commit");
		CHECK(!map_get(skel->maps.mig_ingress, &s.b_wire, &in_e) &&
		      in_e.type == MIG_IN_PENDING, "pending lost");

		/* the valid one: CONFIRM built, mover commits */
		n = msynack(&s, 1, nonce, amac, s.new_port, &p, in);
		fx_pkt_reply(&w, &p);
		w.seq = s.c->cli.snd_nxt;
		w.ack = s.c->cli.rcv_nxt;
		w.flags = F_ACK;
		fx_opt_sig(&w, MIG_SUB_CONFIRM, 1, nonce, cmac);
		wn = fx_build(&w, want);
		expect(unit_failed, &s, s.h, "Migrate SYN/ACK", in, n, 0, s.h->tx, want, wn, &r);
		memcpy(first, r.out, r.len);
		first_len = r.len;

		memset(&want_in, 0, sizeof(want_in));
		want_in.sock = s.c->cli.t;
		want_in.type = MIG_IN_XLATE;
		CHECK(!map_get(skel->maps.mig_ingress, &s.b_wire, &in_e), "no ingress entry");
		CHECK_MEM(&in_e, &want_in, sizeof(in_e));
		memset(&want_out, 0, sizeof(want_out));
		want_out.wire = s.b_wire;
		want_out.type = MIG_OUT_XLATE;
		CHECK(!map_get(skel->maps.mig_egress, &s.c->cli.t, &out_e), "no egress entry");
		CHECK_MEM(&out_e, &want_out, sizeof(out_e));
		CHECK(!map_get(skel->maps.mig_flows, &s.c->cli.t, &fw), "flow gone");
		f.wire = s.b_wire;
		f.migrations = 1;
		f.own_reqno = 1;
		f.migrated_ns = fw.migrated_ns;
		memcpy(f.last_nonce, nonce, 8);
		memcpy(f.last_peer_ack, amac, 8);
		memcpy(f.last_own_confirm, cmac, 8);
		CHECK(fw.migrated_ns != 0, "migrated_ns");
		CHECK_MEM(&fw, &f, sizeof(fw));
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_MOVER) == 1, "committed_mover");
		CHECK(fx_stat(skel, MIG_STAT_CONFIRM_SENT) == 1, "confirm_sent");

		/* the SYN/ACK again (our CONFIRM was lost): the same CONFIRM */
		expect(unit_failed, &s, s.h, "repeated Migrate SYN/ACK", in, n, 0, s.h->tx,
		       first, first_len, &r);
		CHECK_FLOW_SAME(&s.c->cli.t, &f);
		/* ... but not with a bad mac */
		memcpy(mac, amac, 8);
		mac[5] ^= 4;
		n = msynack(&s, 1, nonce, mac, s.new_port, &p, in);
		expect(unit_failed, &s, s.h, "repeated SYN/ACK bad mac", in, n, 0, s.h->drop,
		       NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_COMMIT_MOVER) == 1, "committed twice");
	}
}

/* ---- (e) rewrites of migrated flows -------------------------------------- */

/* Commit both ends through the hook under test: the fixed end (srv) by
 * Migrate SYN + CONFIRM, the mover (cli) by PENDING + Migrate SYN/ACK. */
static int commit_both(int *unit_failed, const struct sc *s)
{
	__u8 in[FX_PKT_MAX], nonce[8], mac[8];
	struct mig_flow f;
	struct fx_pkt p;
	struct fx_res r;
	size_t n;

	if (install_fixed(s, 0, &f) || install_mover(s, 1, &f) ||
	    answer_msyn(unit_failed, s, s->new_addr, s->new_port, &s->a_wire, 1, nonce))
		return -1;
	fx_mac(fx_k_i, MIG_SUB_CONFIRM, 1, mac);
	n = confirm(s, s->new_addr, s->new_port, 1, nonce, mac, &p, in);
	fx_run(s->h->fd, s->h->skb, in, n, 0, 1, &r);
	fx_mac(fx_k_r, MIG_SUB_MIGRATE_ACK, 1, mac);
	n = msynack(s, 1, nonce, mac, s->new_port, &p, in);
	fx_run(s->h->fd, s->h->skb, in, n, 0, 1, &r);
	if (fx_stat(skel, MIG_STAT_COMMIT_FIXED) != 1 ||
	    fx_stat(skel, MIG_STAT_COMMIT_MOVER) != 1) {
		CHECK(0, "%s [%s]: commit failed", s->fam, s->h->name);
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

/* The mover moves again (reqno 2, from NEW2): the translation follows,
 * the old wire tuple's entry goes, segments from it reach the kernel as
 * they are. */
TEST(second_migration)
{
	__u8 in[FX_PKT_MAX], want[FX_PKT_MAX], nonce[8], mac[8];
	struct mig_flow f, fw;
	struct mig_in in_e;
	struct mig_out out_e;
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
			fx_mac(fx_k_i, MIG_SUB_CONFIRM, reqno, mac);
			n = confirm(&s, a, port, reqno, nonce, mac, &p, in);
			expect(unit_failed, &s, s.h, "CONFIRM", in, n, 0, s.h->drop, NULL, 0, &r);
		}
		CHECK(map_get(skel->maps.mig_ingress, &s.a_wire, &in_e) == -ENOENT,
		      "%s [%s]: old wire tuple still translated", s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_ingress, &s.a_wire2, &in_e) &&
		      in_e.type == MIG_IN_XLATE && !memcmp(&in_e.sock, &s.c->srv.t, sizeof(in_e.sock)),
		      "%s [%s]: new wire tuple not translated", s.fam, s.h->name);
		CHECK(!map_get(skel->maps.mig_egress, &s.c->srv.t, &out_e) &&
		      !memcmp(&out_e.wire, &s.a_wire2, sizeof(out_e.wire)), "egress not moved");
		CHECK(!map_get(skel->maps.mig_flows, &s.c->srv.t, &fw) && fw.migrations == 2 &&
		      fw.peer_reqno == 2 && !memcmp(&fw.wire, &s.a_wire2, sizeof(fw.wire)),
		      "%s [%s]: flow after the second commit", s.fam, s.h->name);

		n = data_seg(s.family, s.new_addr2, s.new_port2, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		memcpy(p.saddr, s.c->cli.t.laddr, 16);
		p.sport = ntohs(s.c->cli.t.lport);
		wn = fx_build(&p, want);
		expect(unit_failed, &s, s.h, "data from NEW2", in, n, 0, s.h->pass, want, wn, &r);
		n = data_seg(s.family, s.new_addr, s.new_port, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, s.h, "data from the old NEW", in, n, 0, s.h->pass,
		       in, n, &r);
	}
}

/* An egress HOLD (our address went away, not migrated yet) drops. */
TEST(egress_hold)
{
	__u8 in[FX_PKT_MAX];
	struct mig_out hold;
	struct fx_pkt p;
	struct fx_res r;
	struct sc s;
	size_t n;

	if (setup()) {
		CHECK(0, "setup");
		return;
	}
	FOR_EACH_CASE(s) {
		if (s.h != &hooks[0])
			continue;         /* egress is TC only */
		memset(&hold, 0, sizeof(hold));
		hold.wire = s.c->cli.t;
		hold.type = MIG_OUT_HOLD;
		CHECK(!map_put(skel->maps.mig_egress, &s.c->cli.t, &hold), "put");
		n = data_seg(s.family, s.c->cli.t.laddr, s.c->cli.t.lport, s.c->srv.t.laddr,
			     s.c->srv.t.lport, s.c->cli.snd_nxt, s.c->cli.rcv_nxt, &p, in);
		expect(unit_failed, &s, &out_hook, "held segment", in, n, 0, out_hook.drop,
		       NULL, 0, &r);
		CHECK(fx_stat(skel, MIG_STAT_HOLD_DROP) == 1, "held_dropped");
	}
}

/* ---- (f) everything else passes untouched ------------------------------- */

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
		CHECK(fx_stat(skel, MIG_STAT_XLATE_IN) == 0 && fx_stat(skel, MIG_STAT_XLATE_OUT) == 0,
		      "rewrote something");
		CHECK(fx_stat(skel, MIG_STAT_MSYN_IN) == 0, "took a plain SYN for a Migrate SYN");
	}
}

UNIT_MAIN()
