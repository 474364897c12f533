// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fuzz_dp.c - random and mutated packets through the data path programs
 * (bpf/mig_dp.bpf.c: mig_in_tc, mig_in_xdp, mig_out_tc, and the L3
 * variants mig_in_tc_l3 and mig_out_tc_l3 for one TC run in three) with
 * bpf_prog_test_run, against the rules of docs/protocol.md ("Threat model
 * and rules").
 *
 *   fuzz_dp [COUNT] [--seed N]     COUNT packets (default 1000000)
 *
 * The world is test_dp's (tests/bpf/dp_fixture.h): a private netns with a
 * quiet IPv4 and a quiet IPv6 TCP connection, cli (the mover, moved to
 * NEW) and srv (the fixed end), flows installed as the agent installs
 * them.  Packets run in batches of BATCH; before each batch the maps are
 * emptied and one of four states is set up for one family, the honest
 * way (real signalling packets through the programs):
 *
 *   keyed      both flows keyed, the mover's request in mig_pend
 *   candidate  the same, and the fixed end answered the mover's Migrate
 *              SYN from NEW (a live candidate)
 *   migrated   both ends committed onto NEW (translations in both maps)
 *   held       keyed, and the mover's address went away: mig_hold holds
 *              its socket tuple (mig_host.holds 1), egress holds its
 *              segments (TC_ACT_STOLEN: taken, reported as sent)
 *
 * Each packet is one of the templates below (valid Migrate SYNs, SYN/ACKs,
 * CONFIRMs, data, RSTs with and without their tag, ICMP errors quoting
 * wire and socket tuples, UDP, plain SYNs; ingress through TC or XDP at
 * random, egress through TC), mutated (bit flips, random bytes, header
 * fields, truncation, extension, splices; half of them with their
 * checksums fixed up afterwards), or random bytes.  After each run:
 *
 *   verdict   TC ingress: OK, SHOT, or REDIRECT with MIG_MARK; XDP: PASS,
 *             DROP, TX; egress: OK or SHOT, STOLEN only for a held flow.  A TX/REDIRECT only in answer
 *             to a SYN carrying a Migrate option, MACs, addresses and
 *             ports swapped: a RST|ACK, a SYN/ACK
 *             with MIGRATE_ACK only for a Migrate SYN whose mac verifies,
 *             a CONFIRM only for a SYN/ACK whose mac verifies.
 *   output    an answer: the frame's size, addresses and ports swapped, a
 *             48-byte TCP header and nothing after it, checksums that
 *             verify when the input's did.  A segment the program changed
 *             and passed: same size (egress RSTs: 8 bytes more, the tag,
 *             and IP lengths that say so), checksums that verify when the
 *             input's did.
 *   state     a packet whose authenticator does not verify (no Migrate
 *             option with a valid mac under the flows' keys) leaves
 *             mig_flows, mig_tokens, mig_ingress, mig_egress, mig_cand,
 *             mig_pend, mig_hold, mig_gate and mig_host as they were, but
 *             for what the rules let any packet do: a RST starts a flow's
 *             hold (rst_held_ms, rule 8) and removes a candidate it comes
 *             from; the first segment on a translation sets its seen;
 *             after a commit, a segment on the translation may move its
 *             ts state on (first to stale, setting ts_stale and its
 *             flow's sack_hi, or either to off; never back: docs/
 *             protocol.md "Timestamps and SACK blocks after a move"); a
 *             segment from a candidate's tuple stamps resend_ms; a
 *             segment through egress may set its flow's route memo
 *             (mig_egress rt_memo, rt_gen: the FIB's answer for the
 *             flow's own wire tuple, nothing else of the entry).  One
 *             whose mac verifies may change the data path's state, never
 *             the agent's (mig_tokens, mig_pend, mig_hold, mig_host), and
 *             leaves at most MIG_NCAND candidates per flow.
 *
 * Prints the verdicts per hook and state, and "N passed, N failed" (a
 * packet fails when any check does; the first ones are shown in hex).
 * Root only; nothing is pinned, the netns dies with the process.
 */
#ifndef TC_ACT_STOLEN
#define TC_ACT_STOLEN 4
#endif
#include <getopt.h>
#include <stdarg.h>

#include "dp_fixture.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define BATCH      500
#define MAX_SHOWN  10
#define SIG_HDR_LEN 48   /* the TCP header of every answer (bpf/lib/mig_pkt.h) */

enum { H_TC, H_XDP, H_OUT, H__N };
enum { ST_KEYED, ST_CAND, ST_MIGRATED, ST_HELD, ST__N };
enum { V_OK, V_DROP, V_TX, V_HOLD, V_OTHER, V__N };

static const char *const hook_name[H__N] = { "tc-ingress", "xdp", "tc-egress" };
static const char *const state_name[ST__N] = { "keyed", "candidate", "migrated", "held" };

static struct mig_dp *skel;
static struct fx_conn conns[2];
static int prog_fd[H__N];
static int prog_fd_l3[H__N];   /* TC hooks on devices without a link layer */
static bool use_l3;            /* the next run() goes through one of them */
static bool ran_l3;            /* the last run() went through one of them */
static struct ring_buffer *events;

/* ---- random numbers (xorshift64*: reproducible from --seed) ---------- */

static __u64 rng_s;

static __u32 rnd(void)
{
	rng_s ^= rng_s >> 12;
	rng_s ^= rng_s << 25;
	rng_s ^= rng_s >> 27;
	return (__u32)((rng_s * 0x2545f4914f6cdd1dULL) >> 32);
}

static __u32 below(__u32 n)
{
	return n ? rnd() % n : 0;
}

/* ---- the world: one family, one state ------------------------------- */

struct world {
	int family, state;
	struct fx_conn *c;
	__u32 new_addr[4];
	__u16 new_port;                   /* be */
	struct mig_tuple a_wire;          /* fixed end's view of NEW */
	struct mig_tuple b_wire;          /* mover's view of NEW */
	__u8 nonce[8];                    /* the candidate's (states 1, 2) */
};

static int noop_event(void *ctx, void *data, size_t len)
{
	(void)ctx; (void)data; (void)len;
	return 0;
}

/*
 * One fuzzed TC run in three goes through the L3 program with the frame
 * from its IP header on (pick_l3, before the checks look at the frame);
 * its output gets the Ethernet header back (MACs swapped on an answer, as
 * the Ethernet program does), so every check applies unchanged.  An L3
 * device has no EtherType: the frame's is set to what the IP version says
 * (0 for neither), which is what the checks then judge by.
 */
static void pick_l3(int h, __u8 *in, size_t len)
{
	__u8 v;

	use_l3 = h != H_XDP && len >= 14 + 14 && !below(3);
	if (!use_l3)
		return;
	v = in[14] >> 4;
	in[12] = v == 4 ? 0x08 : v == 6 ? 0x86 : 0;
	in[13] = v == 4 ? 0x00 : v == 6 ? 0xdd : 0;
}

static int run(int h, const __u8 *in, size_t len, struct fx_res *r)
{
	__u8 eth[14];
	int err;

	ran_l3 = use_l3 && h != H_XDP && len >= 14 + 14;
	use_l3 = false;
	if (!ran_l3)
		return fx_run(prog_fd[h], h != H_XDP, in, len, 0, 1, r);
	err = fx_run(prog_fd_l3[h], true, in + 14, len - 14, 0, 1, r);
	if (err)
		return err;
	memcpy(eth, in, 14);
	if (r->ret == TC_ACT_REDIRECT) {
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

/* ---- frames (as test_dp builds them) ---------------------------------- */

static const __u8 payload[100] =
	"migrate fuzz payload: 0123456789abcdefghijklmnopqrstuvwxyz "
	"ABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&()*+,-./:;";

static size_t seg(int family, const __u32 sa[4], __u16 sp, const __u32 da[4], __u16 dp,
		  __u32 seq, __u32 ack, __u8 flags, __u8 *f, struct fx_pkt *p)
{
	fx_pkt_in(p, family, sa, sp, da, dp);
	p->seq = seq;
	p->ack = ack;
	p->flags = flags;
	return fx_build(p, f);
}

static size_t sig_seg(const struct world *w, const __u32 sa[4], __u16 sp, const __u32 da[4],
		      __u16 dp, __u32 seq, __u32 ack, __u8 flags, __u8 sub, __u32 reqno,
		      const __u8 id[8], const __u8 mac[8], __u8 *f)
{
	struct fx_pkt p;

	fx_pkt_in(&p, w->family, sa, sp, da, dp);
	p.seq = seq;
	p.ack = ack;
	p.flags = flags;
	p.win = 64240;
	fx_opt_sig(&p, sub, reqno, id, mac);
	return fx_build(&p, f);
}

static size_t data_seg(const struct world *w, const __u32 sa[4], __u16 sp, const __u32 da[4],
		       __u16 dp, __u32 seq, __u32 ack, __u8 *f)
{
	struct fx_pkt p;

	fx_pkt_in(&p, w->family, sa, sp, da, dp);
	p.seq = seq;
	p.ack = ack;
	p.flags = F_PSH | F_ACK;
	fx_opt_ts(&p, 0x01020304, 0xa0b0c0d0);
	p.payload = payload;
	p.plen = sizeof(payload);
	return fx_build(&p, f);
}

static size_t rst_seg(const struct world *w, const __u32 sa[4], __u16 sp, const __u32 da[4],
		      __u16 dp, __u32 seq, __u32 ack, const __u8 *key, __u8 *f)
{
	struct fx_pkt p;
	__u8 tag[8];

	fx_pkt_in(&p, w->family, sa, sp, da, dp);
	p.seq = seq;
	p.ack = ack;
	p.flags = F_RST | F_ACK;
	p.win = 0;
	if (key) {
		fx_mac_reset(key, seq, ack, tag);
		p.payload = tag;
		p.plen = 8;
	}
	return fx_build(&p, f);
}

static size_t udp_frame(const struct world *w, __u8 *f)
{
	const struct fx_conn *c = w->c;
	size_t l4 = w->family == AF_INET ? 34 : 54, n = l4 + 8 + 16;

	memset(f, 0, n);
	memcpy(f, fx_mac_ours, 6);
	memcpy(f + 6, fx_mac_peer, 6);
	if (w->family == AF_INET) {
		f[12] = 0x08; f[14] = 0x45;
		f[16] = 0; f[17] = (__u8)(n - 14);
		f[22] = 64; f[23] = IPPROTO_UDP;
		memcpy(f + 26, c->cli.t.laddr, 4);
		memcpy(f + 30, c->srv.t.laddr, 4);
	} else {
		f[12] = 0x86; f[13] = 0xdd; f[14] = 0x60;
		f[19] = 8 + 16; f[20] = IPPROTO_UDP; f[21] = 64;
		memcpy(f + 22, c->cli.t.laddr, 16);
		memcpy(f + 38, c->srv.t.laddr, 16);
	}
	memcpy(f + l4, &c->cli.t.lport, 2);
	memcpy(f + l4 + 2, &c->srv.t.lport, 2);
	f[l4 + 5] = 8 + 16;
	memset(f + l4 + 8, 'u', 16);
	fx_csum_fill(f, n);
	return n;
}

/* ---- templates ---------------------------------------------------------- */

#define MAX_TMPL 32

struct tmpl {
	const char *name;
	bool egress;
	size_t len;
	__u8 f[FX_PKT_MAX];
};

static struct tmpl tmpl[MAX_TMPL];
static int ntmpl;

static void add(const char *name, bool egress, const __u8 *f, size_t len)
{
	struct tmpl *t = &tmpl[ntmpl++];

	t->name = name;
	t->egress = egress;
	t->len = len;
	memcpy(t->f, f, len);
}

/* Every template of world w (the same list in every state: what each one
 * means depends on the state). */
static void templates(const struct world *w)
{
	const struct fx_conn *c = w->c;
	const __u32 *cli = c->cli.t.laddr, *srv = c->srv.t.laddr, *nw = w->new_addr;
	__u16 cp = c->cli.t.lport, sp = c->srv.t.lport, np = w->new_port;
	__u8 f[FX_PKT_MAX], mac[8], bad[8] = { 0 };
	__u32 rtr[4];
	struct fx_pkt p;
	size_t n, q;
	__u8 qf[FX_PKT_MAX];

	ntmpl = 0;
	/* the mover's Migrate SYN for reqno 1 from NEW, and a forged one */
	fx_mac_migrate(fx_s_i, 1, mac);
	add("msyn", false, f, sig_seg(w, nw, np, srv, sp, c->cli.snd_una - 1, FX_CHALLENGE,
				      F_SYN, MIG_SUB_MIGRATE, 1, fx_token, mac, f));
	fx_mac_migrate(fx_s_i, 2, mac);
	add("msyn-2", false, f, sig_seg(w, nw, np, srv, sp, c->cli.snd_una - 1, FX_CHALLENGE,
					F_SYN, MIG_SUB_MIGRATE, 2, fx_token, mac, f));
	add("msyn-forged", false, f, sig_seg(w, nw, np, srv, sp, c->cli.snd_una - 1, 7, F_SYN,
					     MIG_SUB_MIGRATE, 1, fx_token, bad, f));
	/* the fixed end's SYN/ACK to the mover's request */
	fx_mac_ack(fx_s_r, 1, FX_CHALLENGE, w->nonce, mac);
	add("msynack", false, f, sig_seg(w, srv, sp, nw, np, c->srv.snd_una - 1, c->srv.rcv_nxt,
					 F_SYN | F_ACK, MIG_SUB_MIGRATE_ACK, 1, w->nonce, mac, f));
	add("msynack-forged", false, f, sig_seg(w, srv, sp, nw, np, c->srv.snd_una - 1,
						c->srv.rcv_nxt, F_SYN | F_ACK,
						MIG_SUB_MIGRATE_ACK, 1, w->nonce, bad, f));
	/* the mover's CONFIRM of the candidate's nonce, from NEW */
	fx_mac_confirm(fx_s_i, 1, w->nonce, mac);
	add("confirm", false, f, sig_seg(w, nw, np, srv, sp, c->cli.snd_nxt, c->cli.rcv_nxt,
					 F_ACK, MIG_SUB_CONFIRM, 1, w->nonce, mac, f));
	/* data both ways, on the socket tuple and on the new wire tuple */
	add("data-cli-srv", false, f, data_seg(w, cli, cp, srv, sp, c->cli.snd_nxt,
					       c->cli.rcv_nxt, f));
	add("data-new-srv", false, f, data_seg(w, nw, np, srv, sp, c->cli.snd_nxt,
					       c->cli.rcv_nxt, f));
	add("data-srv-new", false, f, data_seg(w, srv, sp, nw, np, c->srv.snd_nxt,
					       c->srv.rcv_nxt, f));
	add("out-srv-cli", true, f, data_seg(w, srv, sp, cli, cp, c->srv.snd_nxt,
					     c->srv.rcv_nxt, f));
	add("out-cli-srv", true, f, data_seg(w, cli, cp, srv, sp, c->cli.snd_nxt,
					     c->cli.rcv_nxt, f));
	/* RSTs: the peer's signed one, unsigned ones, ours (egress signs) */
	add("rst-signed", false, f, rst_seg(w, cli, cp, srv, sp, c->cli.snd_nxt,
					    c->cli.rcv_nxt, fx_s_i, f));
	add("rst-new-signed", false, f, rst_seg(w, nw, np, srv, sp, c->cli.snd_nxt,
						c->cli.rcv_nxt, fx_s_i, f));
	add("rst-unsigned", false, f, rst_seg(w, cli, cp, srv, sp, c->cli.snd_nxt,
					      c->cli.rcv_nxt, NULL, f));
	add("rst-new-unsigned", false, f, rst_seg(w, nw, np, srv, sp, c->cli.snd_nxt,
						  c->cli.rcv_nxt, NULL, f));
	add("out-rst", true, f, rst_seg(w, srv, sp, cli, cp, c->srv.snd_nxt, c->srv.rcv_nxt,
					NULL, f));
	add("out-rst-cli", true, f, rst_seg(w, cli, cp, srv, sp, c->cli.snd_nxt,
					    c->cli.rcv_nxt, NULL, f));
	/* ICMP errors about segments we sent: on the wire tuple (srv -> NEW,
	 * NEW -> srv) and on the socket tuple */
	fx_addr(w->family, w->family == AF_INET ? FX_RTR4 : FX_RTR6, rtr);
	q = data_seg(w, srv, sp, nw, np, c->srv.snd_nxt, c->srv.rcv_nxt, qf);
	n = fx_build_icmp(w->family, rtr, srv, w->family == AF_INET ? 3 : 2,
			  w->family == AF_INET ? 4 : 0, 1280, qf, q - 14, f);
	add("icmp-srv-new", false, f, n);
	q = data_seg(w, nw, np, srv, sp, c->cli.snd_nxt, c->cli.rcv_nxt, qf);
	n = fx_build_icmp(w->family, rtr, nw, w->family == AF_INET ? 3 : 1, 1, 0, qf, 28 + 20, f);
	add("icmp-new-srv", false, f, n);
	q = data_seg(w, srv, sp, cli, cp, c->srv.snd_nxt, c->srv.rcv_nxt, qf);
	n = fx_build_icmp(w->family, rtr, srv, w->family == AF_INET ? 11 : 3, 0, 0, qf, q - 14, f);
	add("icmp-srv-cli", false, f, n);
	/* and things nobody signals with */
	add("udp", false, f, udp_frame(w, f));
	add("syn", false, f, seg(w->family, nw, np, srv, sp, 12345, 0, F_SYN, f, &p));
}

/* ---- the states ---------------------------------------------------------- */

static void die(const char *what)
{
	fprintf(stderr, "fuzz_dp: %s\n", what);
	exit(EXIT_FAILURE);
}

static void map_put(struct bpf_map *m, const void *k, const void *v)
{
	if (bpf_map_update_elem(bpf_map__fd(m), k, v, BPF_ANY))
		die("writing a map");
}

/* Empty the maps, install the keyed flows, then bring the world into its
 * state with real packets through TC ingress. */
static void world_set(struct world *w, int fi, int state)
{
	struct mig_token_key tk;
	struct mig_flow f;
	struct mig_pend pe;
	__u8 in[FX_PKT_MAX], mac[8];
	struct fx_res r;
	size_t n;

	memset(w, 0, sizeof(*w));
	w->family = fi ? AF_INET6 : AF_INET;
	w->state = state;
	w->c = &conns[fi];
	fx_addr(w->family, fi ? FX_NEW6 : FX_NEW4, w->new_addr);
	w->new_port = htons(FX_NEW_PORT);
	fx_tuple(&w->a_wire, w->family, w->c->srv.t.laddr, w->c->srv.t.lport, w->new_addr,
		 w->new_port);
	fx_tuple(&w->b_wire, w->family, w->new_addr, w->new_port, w->c->srv.t.laddr,
		 w->c->srv.t.lport);
	fx_reset(skel);
	ring_buffer__consume(events);

	fx_flow(&f, &w->c->srv.t, false, 0, 0);
	memcpy(tk.token, fx_token, 8);
	map_put(skel->maps.mig_flows, &w->c->srv.t, &f);
	map_put(skel->maps.mig_tokens, &tk, &w->c->srv.t);
	fx_flow(&f, &w->c->cli.t, true, 0, 0);
	memset(&pe, 0, sizeof(pe));
	pe.sock = w->c->cli.t;
	pe.reqno = 1;
	pe.challenge = FX_CHALLENGE;
	map_put(skel->maps.mig_flows, &w->c->cli.t, &f);
	map_put(skel->maps.mig_pend, &w->b_wire, &pe);
	/* the nonce the fixed end gives NEW for reqno 1 */
	fx_nonce(&w->a_wire, 1, w->nonce);
	templates(w);
	if (state == ST_HELD) {
		struct mig_hold hd = { .since_ns = fx_now_ns() };

		map_put(skel->maps.mig_hold, &w->c->cli.t, &hd);
		if (fx_host(skel, 1))
			die("writing mig_host");
	}
	if (state == ST_KEYED || state == ST_HELD)
		return;

	fx_mac_migrate(fx_s_i, 1, mac);
	n = sig_seg(w, w->new_addr, w->new_port, w->c->srv.t.laddr, w->c->srv.t.lport,
		    w->c->cli.snd_una - 1, FX_CHALLENGE, F_SYN, MIG_SUB_MIGRATE, 1, fx_token,
		    mac, in);
	if (run(H_TC, in, n, &r) || r.ret != TC_ACT_REDIRECT ||
	    fx_stat(skel, MIG_STAT_MSYN_ANSWERED) != 1)
		die("setting up a candidate: the Migrate SYN was not answered");
	if (state == ST_CAND)
		return;

	fx_mac_confirm(fx_s_i, 1, w->nonce, mac);
	n = sig_seg(w, w->new_addr, w->new_port, w->c->srv.t.laddr, w->c->srv.t.lport,
		    w->c->cli.snd_nxt, w->c->cli.rcv_nxt, F_ACK, MIG_SUB_CONFIRM, 1, w->nonce,
		    mac, in);
	run(H_TC, in, n, &r);
	fx_mac_ack(fx_s_r, 1, FX_CHALLENGE, w->nonce, mac);
	n = sig_seg(w, w->c->srv.t.laddr, w->c->srv.t.lport, w->new_addr, w->new_port,
		    w->c->srv.snd_una - 1, w->c->srv.rcv_nxt, F_SYN | F_ACK, MIG_SUB_MIGRATE_ACK,
		    1, w->nonce, mac, in);
	run(H_TC, in, n, &r);
	if (fx_stat(skel, MIG_STAT_COMMIT_FIXED) != 1 || fx_stat(skel, MIG_STAT_COMMIT_MOVER) != 1)
		die("setting up a migration: the commits did not happen");
	ring_buffer__consume(events);
}

/* ---- state snapshots ------------------------------------------------------ */

#define SNAP_MAX 16

struct mdump {
	int n;
	size_t ksz, vsz;
	__u8 e[SNAP_MAX][40 + sizeof(struct mig_flow)];   /* key, then value */
};

enum { M_FLOWS, M_TOKENS, M_INGRESS, M_EGRESS, M_CAND, M_PEND, M_HOLD, M_GATE, M_HOST, M__N };
static const char *const map_name[M__N] = {
	"mig_flows", "mig_tokens", "mig_ingress", "mig_egress", "mig_cand", "mig_pend",
	"mig_hold", "mig_gate", "mig_host",
};

struct snap {
	struct mdump m[M__N];
};

static struct bpf_map *map_of(int i)
{
	struct bpf_map *const m[M__N] = {
		skel->maps.mig_flows, skel->maps.mig_tokens, skel->maps.mig_ingress,
		skel->maps.mig_egress, skel->maps.mig_cand, skel->maps.mig_pend,
		skel->maps.mig_hold, skel->maps.mig_gate, skel->maps.mig_host,
	};

	return m[i];
}

static int ent_cmp(const void *a, const void *b, void *ksz)
{
	return memcmp(a, b, *(size_t *)ksz);
}

static void dump(int i, struct mdump *d)
{
	struct bpf_map *m = map_of(i);
	int fd = bpf_map__fd(m);
	__u8 key[64], next[64];
	void *prev = NULL;

	d->ksz = bpf_map__key_size(m);
	d->vsz = bpf_map__value_size(m);
	d->n = 0;
	if (d->ksz > 40 || d->vsz > sizeof(struct mig_flow))
		die("a map's entries are larger than the snapshot's");
	if (i == M_GATE || i == M_HOST) {
		__u32 zero = 0;

		memcpy(d->e[0], &zero, 4);
		if (bpf_map_lookup_elem(fd, &zero, d->e[0] + d->ksz))
			die("reading an array map");
		d->n = 1;
		return;
	}
	while (!bpf_map_get_next_key(fd, prev, next)) {
		if (d->n >= SNAP_MAX)
			die("more entries than a snapshot holds");
		memcpy(d->e[d->n], next, d->ksz);
		if (bpf_map_lookup_elem(fd, next, d->e[d->n] + d->ksz))
			die("reading a map entry");
		memcpy(key, next, d->ksz);
		prev = key;
		d->n++;
	}
	qsort_r(d->e, (size_t)d->n, sizeof(d->e[0]), ent_cmp, &d->ksz);
}

static void snapshot(struct snap *s)
{
	int i;

	for (i = 0; i < M__N; i++)
		dump(i, &s->m[i]);
}

static const __u8 *find(const struct mdump *d, const void *key)
{
	int i;

	for (i = 0; i < d->n; i++)
		if (!memcmp(d->e[i], key, d->ksz))
			return d->e[i] + d->ksz;
	return NULL;
}

static bool dump_eq(const struct mdump *a, const struct mdump *b)
{
	int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (memcmp(a->e[i], b->e[i], a->ksz + a->vsz))
			return false;
	return true;
}

/*
 * What a packet whose authenticator did not verify may have changed
 * (docs/protocol.md, rules 1, 4, 8): NULL if nothing else changed, else
 * the name of a map that did.  rst: the packet was a TCP RST.
 */
/* mig_egress before (b) and after (a) a packet: the same entries but for
 * the route memo, which only a segment through egress (out) may set, to
 * one of its values (MIG_RT_FWD_OFF: IPv4 wire tuples only). */
static bool egress_same(const struct mdump *b, const struct mdump *a, bool out)
{
	int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		struct mig_out x, y;

		if (memcmp(a->e[i], b->e[i], sizeof(struct mig_tuple)))
			return false;
		memcpy(&x, b->e[i] + sizeof(struct mig_tuple), sizeof(x));
		memcpy(&y, a->e[i] + sizeof(struct mig_tuple), sizeof(y));
		if (out && (y.rt_memo == MIG_RT_SAME ||
			    (y.rt_memo == MIG_RT_FWD_OFF && y.wire.family == AF_INET))) {
			x.rt_memo = y.rt_memo;
			x.rt_gen = y.rt_gen;
		}
		if (memcmp(&x, &y, sizeof(x)))
			return false;
	}
	return true;
}

static const char *unauth_change(const struct snap *b, const struct snap *a, bool rst,
				 bool out)
{
	static const int same[] = { M_TOKENS, M_PEND, M_HOLD, M_HOST };
	struct mig_tuple gone[SNAP_MAX], stale[SNAP_MAX];
	int ngone = 0, nstale = 0, i, j, k;
	size_t s;

	for (s = 0; s < sizeof(same) / sizeof(same[0]); s++)
		if (!dump_eq(&b->m[same[s]], &a->m[same[s]]))
			return map_name[same[s]];
	if (!egress_same(&b->m[M_EGRESS], &a->m[M_EGRESS], out))
		return map_name[M_EGRESS];
	{
		__u64 have, want;

		if (fx_xf_diff(skel, &have, &want))
			return "mig_xf (does not count mig_ingress and mig_egress)";
	}

	/* mig_ingress: the same entries; only seen may change, 0 to 1, and
	 * ts only onward (first -> stale with ts_stale, or -> off) */
	if (b->m[M_INGRESS].n != a->m[M_INGRESS].n)
		return "mig_ingress";
	for (i = 0; i < a->m[M_INGRESS].n; i++) {
		struct mig_in x, y;

		if (memcmp(a->m[M_INGRESS].e[i], b->m[M_INGRESS].e[i], sizeof(struct mig_tuple)))
			return "mig_ingress";
		memcpy(&x, b->m[M_INGRESS].e[i] + sizeof(struct mig_tuple), sizeof(x));
		memcpy(&y, a->m[M_INGRESS].e[i] + sizeof(struct mig_tuple), sizeof(y));
		if (x.seen && !y.seen)
			return "mig_ingress";
		x.seen = y.seen;
		if (x.ts == MIG_TS_FIRST && y.ts == MIG_TS_STALE) {
			x.ts = y.ts;
			x.ts_stale = y.ts_stale;
			if (nstale < SNAP_MAX)
				stale[nstale++] = y.sock;
		} else if (x.ts != MIG_TS_OFF && y.ts == MIG_TS_OFF) {
			x.ts = y.ts;
		}
		if (memcmp(&x, &y, sizeof(x)))
			return "mig_ingress";
	}

	/* mig_cand: nothing new; an entry may go only for a RST (from its
	 * tuple); resend_ms may change */
	for (i = 0; i < a->m[M_CAND].n; i++) {
		const __u8 *v = find(&b->m[M_CAND], a->m[M_CAND].e[i]);
		struct mig_cand_ref x, y;

		if (!v)
			return "mig_cand";
		memcpy(&x, v, sizeof(x));
		memcpy(&y, a->m[M_CAND].e[i] + sizeof(struct mig_tuple), sizeof(y));
		x.resend_ms = y.resend_ms;
		if (memcmp(&x, &y, sizeof(x)))
			return "mig_cand";
	}
	for (i = 0; i < b->m[M_CAND].n; i++)
		if (!find(&a->m[M_CAND], b->m[M_CAND].e[i]))
			memcpy(&gone[ngone++], b->m[M_CAND].e[i], sizeof(gone[0]));
	if (ngone && !rst)
		return "mig_cand";
	{
		struct mig_gate gb, ga;

		memcpy(&gb, b->m[M_GATE].e[0] + 4, sizeof(gb));
		memcpy(&ga, a->m[M_GATE].e[0] + 4, sizeof(ga));
		if (ga.cands != gb.cands - ngone)
			return "mig_gate";
	}

	/* mig_flows: the same flows; a RST may start the hold and clear the
	 * slot of a candidate it removed */
	if (b->m[M_FLOWS].n != a->m[M_FLOWS].n)
		return "mig_flows";
	for (i = 0; i < a->m[M_FLOWS].n; i++) {
		struct mig_flow x, y;

		if (memcmp(a->m[M_FLOWS].e[i], b->m[M_FLOWS].e[i], sizeof(struct mig_tuple)))
			return "mig_flows";
		memcpy(&x, b->m[M_FLOWS].e[i] + sizeof(struct mig_tuple), sizeof(x));
		memcpy(&y, a->m[M_FLOWS].e[i] + sizeof(struct mig_tuple), sizeof(y));
		/* sack_hi: set with its translation's ts_stale */
		for (j = 0; j < nstale; j++)
			if (!memcmp(a->m[M_FLOWS].e[i], &stale[j], sizeof(stale[j])))
				x.sack_hi = y.sack_hi;
		if (rst) {
			x.rst_held_ms = y.rst_held_ms;
			for (k = 0; k < MIG_NCAND; k++)
				for (j = 0; j < ngone; j++)
					if (!memcmp(&x.cand[k].wire, &gone[j], sizeof(gone[j])) &&
					    !y.cand[k].wire.family)
						x.cand[k].wire.family = 0;
		}
		if (memcmp(&x, &y, sizeof(x)))
			return "mig_flows";
	}
	return NULL;
}

static bool snap_eq(const struct snap *a, const struct snap *b)
{
	int i;

	for (i = 0; i < M__N; i++)
		if (!dump_eq(&a->m[i], &b->m[i]))
			return false;
	return true;
}

/* What a packet with a valid mac may not change either: the agent's maps.
 * And the data path's candidates stay consistent: each mig_cand entry is
 * a slot of the flow it names, and mig_gate counts them. */
static const char *auth_change(const struct snap *b, const struct snap *a)
{
	static const int same[] = { M_TOKENS, M_PEND, M_HOLD, M_HOST };
	struct mig_gate g;
	size_t s;
	int i, k;

	for (s = 0; s < sizeof(same) / sizeof(same[0]); s++)
		if (!dump_eq(&b->m[same[s]], &a->m[same[s]]))
			return map_name[same[s]];
	for (i = 0; i < a->m[M_CAND].n; i++) {
		struct mig_cand_ref ref;
		struct mig_flow f;
		const __u8 *v;

		memcpy(&ref, a->m[M_CAND].e[i] + sizeof(struct mig_tuple), sizeof(ref));
		v = find(&a->m[M_FLOWS], &ref.sock);
		if (!v)
			return "mig_cand (an entry of no flow)";
		memcpy(&f, v, sizeof(f));
		for (k = 0; k < MIG_NCAND; k++)
			if (f.cand[k].wire.family &&
			    !memcmp(&f.cand[k].wire, a->m[M_CAND].e[i], sizeof(struct mig_tuple)))
				break;
		if (k == MIG_NCAND)
			return "mig_cand (an entry that is no slot of its flow)";
	}
	memcpy(&g, a->m[M_GATE].e[0] + 4, sizeof(g));
	if (g.cands != a->m[M_CAND].n)
		return "mig_gate (does not count mig_cand)";
	{
		__u64 have, want;

		if (fx_xf_diff(skel, &have, &want))
			return "mig_xf (does not count mig_ingress and mig_egress)";
	}
	return NULL;
}

/* ---- reading frames in user space ------------------------------------------ */

struct tcpv {
	bool tcp;
	int family;
	size_t l3, l4, hl;         /* TCP header length */
	__u8 flags;
	__u32 seq, ack;
	int opt_res;
	struct mig_opt o;
};

static __u32 be32(const __u8 *p)
{
	return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

static void tcp_view(const __u8 *f, size_t len, struct tcpv *v)
{
	__u8 area[MIG_OPT_BUF_LEN];
	size_t olen;

	memset(v, 0, sizeof(*v));
	if (len < 14)
		return;
	v->l3 = 14;
	if (f[12] == 0x08 && f[13] == 0x00 && len >= 34 && (f[14] >> 4) == 4 &&
	    f[23] == IPPROTO_TCP) {
		v->family = AF_INET;
		v->l4 = 14 + (size_t)(f[14] & 0x0f) * 4;
	} else if (f[12] == 0x86 && f[13] == 0xdd && len >= 54 && f[20] == IPPROTO_TCP) {
		v->family = AF_INET6;
		v->l4 = 54;
	} else {
		return;
	}
	if (v->l4 + 20 > len)
		return;
	v->hl = (size_t)(f[v->l4 + 12] >> 4) * 4;
	v->flags = f[v->l4 + 13];
	v->seq = be32(f + v->l4 + 4);
	v->ack = be32(f + v->l4 + 8);
	v->tcp = true;
	if (v->hl <= 20 || v->l4 + v->hl > len)
		return;
	olen = v->hl - 20;
	memset(area, 0, sizeof(area));
	memcpy(area, f + v->l4 + 20, olen > MIG_OPT_AREA_MAX ? MIG_OPT_AREA_MAX : olen);
	v->opt_res = mig_opt_walk(area, (__u32)olen, &v->o);
}

/* The frame carries a Migrate signalling option whose mac verifies under
 * the keys of the flows (the template's authenticator survived). */
static bool authentic(const struct tcpv *v)
{
	__u8 mac[8];

	if (!v->tcp || v->opt_res != MIG_OPT_FOUND)
		return false;
	switch (v->o.type) {
	case MIG_OPT_T_MIGRATE:
		if (memcmp(v->o.id, fx_token, 8))
			return false;
		fx_mac_migrate(fx_s_i, v->o.reqno, mac);
		return !memcmp(mac, v->o.mac, 8);
	case MIG_OPT_T_MIGRATE_ACK:
		fx_mac_ack(fx_s_r, v->o.reqno, FX_CHALLENGE, v->o.id, mac);
		if (!memcmp(mac, v->o.mac, 8))
			return true;
		fx_mac_ack(fx_s_r, v->o.reqno, 0, v->o.id, mac);
		return !memcmp(mac, v->o.mac, 8);
	case MIG_OPT_T_CONFIRM:
		fx_mac_confirm(fx_s_i, v->o.reqno, v->o.id, mac);
		return !memcmp(mac, v->o.mac, 8);
	}
	return false;
}

/* 1 if the IPv4 header checksum verifies (or the frame is not IPv4). */
static int ip4_csum_ok(const __u8 *f, size_t len)
{
	size_t ihl;

	if (len < 34 || f[12] != 0x08 || f[13] != 0x00)
		return 1;
	ihl = (size_t)(f[14] & 0x0f) * 4;
	if (ihl < 20 || 14 + ihl > len)
		return 1;
	return fx_fold(fx_sum(f + 14, ihl, 0)) == 0xffff;
}

/* The L3 length field (IPv4 total length, IPv6 payload length + 40), or
 * -1 for neither. */
static long ip_len(const __u8 *f, size_t len)
{
	if (len >= 34 && f[12] == 0x08 && f[13] == 0x00)
		return (long)(f[16] << 8 | f[17]);
	if (len >= 54 && f[12] == 0x86 && f[13] == 0xdd)
		return (long)(f[18] << 8 | f[19]) + 40;
	return -1;
}

/* Checksums of a TCP/UDP or ICMP frame verify (1 for other frames). */
static int csums_ok(const __u8 *f, size_t len)
{
	size_t l4, mlen;
	int fam;

	if (!ip4_csum_ok(f, len))
		return 0;
	if (!fx_icmp_layout(f, len, &fam, &l4, &mlen))
		return fx_icmp_csum_ok(f, len);
	return fx_csum_ok(f, len);
}

/* ---- mutation ---------------------------------------------------------------- */

static const __u8 interesting[] = { 0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x10, 0x12, 0x14,
				    0x3f, 0x40, 0x45, 0x50, 0x60, 0x7f, 0x80, 0xc0, 0xfd, 0xfe,
				    0xff };

/* A header byte worth hitting: Ethernet type, IP header, TCP header and
 * options, the ICMP message and its quoted headers. */
static size_t hot_offset(size_t len)
{
	static const size_t off[] = {
		12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 29, 30, 33,
		34, 35, 36, 37, 38, 41, 42, 45, 46, 47, 48, 49, 50, 51, 53, 54, 55, 56,
		57, 58, 59, 60, 62, 66, 67, 68, 69, 70, 71, 74, 75, 76, 77, 78, 79, 80,
		81, 82, 86, 87, 88, 90, 94, 96, 100, 101, 102, 108,
	};
	size_t o = off[below(sizeof(off) / sizeof(off[0]))];

	return o < len ? o : below((__u32)len);
}

static size_t mutate(__u8 *f, size_t len)
{
	int rounds = 1 + (int)below(3), i;
	size_t o, n;

	for (i = 0; i < rounds; i++) {
		switch (below(8)) {
		case 0:         /* bit flip */
			o = below((__u32)len);
			f[o] ^= (__u8)(1u << below(8));
			break;
		case 1:         /* random byte */
			f[below((__u32)len)] = (__u8)rnd();
			break;
		case 2:
		case 3:         /* a header field: an interesting value or random */
			o = hot_offset(len);
			f[o] = below(2) ? interesting[below(sizeof(interesting))] : (__u8)rnd();
			break;
		case 4:         /* truncate (at least the Ethernet header) */
			len = 14 + below((__u32)(len - 14) + 1);
			break;
		case 5:         /* extend with random bytes */
			n = 1 + below(64);
			if (len + n > FX_PKT_MAX - 64)
				break;
			for (o = len; o < len + n; o++)
				f[o] = (__u8)rnd();
			len += n;
			break;
		case 6:         /* an 8-byte block (a mac, a nonce, addresses) */
			o = below((__u32)len);
			for (n = 0; n < 8 && o + n < len; n++)
				f[o + n] = (__u8)rnd();
			break;
		case 7: {       /* splice 4 bytes of another template */
			const struct tmpl *t = &tmpl[below((__u32)ntmpl)];

			size_t k;

			o = below((__u32)len);
			n = below((__u32)t->len);
			for (k = 0; k < 4 && o + k < len && n + k < t->len; k++)
				f[o + k] = t->f[n + k];
			break;
		}
		}
	}
	if (below(2)) {         /* checksums made right again */
		fx_csum_fill(f, len);
		fx_icmp_csum_fill(f, len);
	}
	return len;
}

static size_t random_frame(__u8 *f)
{
	size_t len = 14 + below(150), i;

	for (i = 0; i < len; i++)
		f[i] = (__u8)rnd();
	if (below(4)) {         /* mostly IP carrying TCP, so the parser goes deeper */
		if (below(2) && len >= 54) {
			f[12] = 0x86; f[13] = 0xdd;
			f[14] = (__u8)(0x60 | (f[14] & 0x0f));
			f[20] = below(4) ? IPPROTO_TCP : IPPROTO_ICMPV6;
		} else if (len >= 34) {
			f[12] = 0x08; f[13] = 0x00;
			f[14] = below(4) ? 0x45 : (__u8)(0x40 | below(16));
			f[23] = below(4) ? IPPROTO_TCP : IPPROTO_ICMP;
			f[16] = (__u8)((len - 14) >> 8);
			f[17] = (__u8)(len - 14);
		}
		if (below(2))
			fx_csum_fill(f, len);
	}
	return len;
}

/* The Ethernet type says IPv4 or IPv6 but the frame ends inside that
 * header. */
static bool l3_short(const __u8 *f, size_t len)
{
	if (f[12] == 0x08 && f[13] == 0x00)
		return len < 34;
	if (f[12] == 0x86 && f[13] == 0xdd)
		return len < 54;
	return false;
}

/* ---- checking one run ---------------------------------------------------------- */

struct stats {
	__u64 verdicts[ST__N][H__N][V__N];
	__u64 authentic, auth_changed, unauth_allowed, answers, rewrites, csum_checked;
	__u64 random, mutated, plain, refused;
	__u64 passed, failed;
};

static struct stats st;
static int shown;

static void hexline(const char *what, const __u8 *f, size_t n)
{
	size_t i;

	fprintf(stderr, "    %s (%zu bytes):", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n      ", f[i]);
	fputc('\n', stderr);
}

__attribute__((format(printf, 6, 7)))
static void fail(const struct world *w, int h, const char *tname, const __u8 *in,
		 size_t inlen, const char *fmt, ...)
{
	va_list ap;

	if (shown++ >= MAX_SHOWN)
		return;
	fprintf(stderr, "FAIL %s %s [%s%s] from %s: ", w->family == AF_INET ? "v4" : "v6",
		state_name[w->state], hook_name[h], ran_l3 ? ", L3 variant" : "", tname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	hexline("input", in, inlen);
}

static int verdict_class(int h, __u32 ret)
{
	if (h == H_XDP)
		return ret == XDP_PASS ? V_OK : ret == XDP_DROP ? V_DROP :
		       ret == XDP_TX ? V_TX : V_OTHER;
	return ret == TC_ACT_OK ? V_OK : ret == TC_ACT_SHOT ? V_DROP :
	       ret == TC_ACT_REDIRECT ? V_TX : ret == TC_ACT_STOLEN ? V_HOLD : V_OTHER;
}

/* An answer the ingress program sent back: one the rules define, well
 * formed.  0 or a reason. */
static const char *check_answer(const __u8 *in, size_t inlen, const struct tcpv *iv,
				bool in_auth, const struct fx_res *r)
{
	const __u8 *out = r->out;
	struct tcpv ov;
	size_t al = iv->family == AF_INET ? 4 : 16;
	size_t sa = iv->family == AF_INET ? 26 : 22;
	long il;

	if (!iv->tcp || !(iv->flags & F_SYN) || iv->opt_res != MIG_OPT_FOUND)
		return "an answer to a segment that is no SYN with a Migrate option";
	if (iv->o.type != MIG_OPT_T_MIGRATE && iv->o.type != MIG_OPT_T_MIGRATE_ACK)
		return "an answer to a SYN whose option is neither MIGRATE nor MIGRATE_ACK";
	if (r->len != inlen)
		return "the answer's size is not the segment's";
	tcp_view(out, r->len, &ov);
	if (!ov.tcp || ov.family != iv->family || ov.l4 != iv->l4)
		return "the answer is not a TCP segment of the same family";
	if (memcmp(out, in + 6, 6) || memcmp(out + 6, in, 6))
		return "the answer's MAC addresses are not the segment's swapped";
	if (memcmp(out + sa, in + sa + al, al) || memcmp(out + sa + al, in + sa, al))
		return "the answer's addresses are not the segment's swapped";
	if (memcmp(out + ov.l4, in + iv->l4 + 2, 2) || memcmp(out + ov.l4 + 2, in + iv->l4, 2))
		return "the answer's ports are not the segment's swapped";
	if (ov.hl != SIG_HDR_LEN)
		return "the answer's TCP header is not 48 bytes";
	il = ip_len(out, r->len);
	if (il < 0 || (size_t)il != ov.l4 - 14 + SIG_HDR_LEN)
		return "the answer's IP length is not its headers'";
	if (ov.flags == (F_RST | F_ACK)) {
		if (iv->o.type != MIG_OPT_T_MIGRATE)
			return "a RST in answer to a SYN/ACK";
	} else if (ov.flags == (F_SYN | F_ACK)) {
		if (iv->o.type != MIG_OPT_T_MIGRATE || !in_auth)
			return "a SYN/ACK in answer to a Migrate SYN whose mac does not verify";
		if (ov.opt_res != MIG_OPT_FOUND || ov.o.type != MIG_OPT_T_MIGRATE_ACK)
			return "a SYN/ACK without MIGRATE_ACK";
	} else if (ov.flags == F_ACK) {
		if (iv->o.type != MIG_OPT_T_MIGRATE_ACK || !in_auth)
			return "a CONFIRM in answer to a SYN/ACK whose mac does not verify";
		if (ov.opt_res != MIG_OPT_FOUND || ov.o.type != MIG_OPT_T_CONFIRM)
			return "an ACK answer without CONFIRM";
	} else {
		return "an answer with flags the protocol does not send";
	}
	if (ip4_csum_ok(in, inlen) && !ip4_csum_ok(out, r->len))
		return "the answer's IPv4 header checksum does not verify";
	if (fx_csum_ok(in, inlen)) {
		st.csum_checked++;
		if (!fx_csum_ok(out, r->len))
			return "the answer's TCP checksum does not verify";
	}
	return NULL;
}

/* A segment the program changed and passed. */
static const char *check_rewrite(int h, const __u8 *in, size_t inlen, const struct tcpv *iv,
				 const struct fx_res *r)
{
	long li = ip_len(in, inlen), lo = ip_len(r->out, r->len);
	bool grew = h == H_OUT && iv->tcp && (iv->flags & F_RST) && r->len == inlen + 8;

	if (r->len != inlen && !grew)
		return "a passed segment changed size";
	if (li >= 0 && 14 + (size_t)li <= inlen &&
	    (lo < 0 || lo != li + (grew ? 8 : 0) || 14 + (size_t)lo > r->len))
		return "a passed segment's IP length no longer fits the frame";
	if (ip4_csum_ok(in, inlen) && !ip4_csum_ok(r->out, r->len))
		return "a passed segment's IPv4 header checksum no longer verifies";
	if (csums_ok(in, inlen) && li >= 0 && 14 + (size_t)li == inlen) {
		st.csum_checked++;
		if (!csums_ok(r->out, r->len))
			return "a passed segment's checksum no longer verifies";
	}
	return NULL;
}

static void one(struct world *w, struct snap *base)
{
	static __u8 in[FX_PKT_MAX];
	static struct fx_res r;
	static struct snap after;
	const struct tmpl *t = &tmpl[below((__u32)ntmpl)];
	const char *tname = t->name, *why = NULL;
	struct tcpv iv;
	size_t len;
	int h, v;
	bool auth, failed = false;

	switch (below(20)) {
	case 0:
		len = random_frame(in);
		tname = "random bytes";
		h = (int)below(H__N);
		st.random++;
		break;
	case 1:
		memcpy(in, t->f, t->len);
		len = t->len;
		h = t->egress ? H_OUT : (int)below(2);
		st.plain++;
		break;
	default:
		memcpy(in, t->f, t->len);
		len = mutate(in, t->len);
		h = t->egress ? H_OUT : (int)below(2);
		st.mutated++;
		break;
	}
	pick_l3(h, in, len);
	tcp_view(in, len, &iv);
	auth = authentic(&iv);

	if (run(h, in, len, &r)) {
		/* test_run refuses an skb whose IPv4 or IPv6 header is cut
		 * short (the kernel's own check, before the program) */
		if (h != H_XDP && r.err == -EINVAL && l3_short(in, len)) {
			st.refused++;
			return;
		}
		fail(w, h, tname, in, len, "bpf_prog_test_run: %s", strerror(-r.err));
		st.failed++;
		return;
	}
	v = verdict_class(h, r.ret);
	st.verdicts[w->state][h][v]++;
	if (v == V_OTHER || (h == H_OUT && v == V_TX)) {
		why = "a verdict the programs may not give";
	} else if (v == V_HOLD && (h != H_OUT || w->state != ST_HELD)) {
		why = "a segment held (TC_ACT_STOLEN) where no flow is held";
	} else if (v == V_TX) {
		if (h == H_TC && r.mark != MIG_MARK)
			why = "a redirected answer without MIG_MARK";
		else
			why = check_answer(in, len, &iv, auth, &r);
		st.answers++;
	} else if (v == V_OK && (r.len != len || memcmp(r.out, in, len))) {
		why = check_rewrite(h, in, len, &iv, &r);
		st.rewrites++;
	}
	if (why) {
		fail(w, h, tname, in, len, "verdict %u: %s", r.ret, why);
		if (shown <= MAX_SHOWN)
			hexline("output", r.out, r.len);
		failed = true;
	}

	snapshot(&after);
	if (auth) {
		st.authentic++;
		why = auth_change(base, &after);
		if (!snap_eq(base, &after))
			st.auth_changed++;
	} else {
		why = unauth_change(base, &after, iv.tcp && (iv.flags & F_RST), h == H_OUT);
		if (!why && !snap_eq(base, &after))
			st.unauth_allowed++;
	}
	if (why) {
		fail(w, h, tname, in, len, "state changed: %s (the packet's mac %s)", why,
		     auth ? "verifies" : "does not verify");
		failed = true;
	}
	*base = after;
	if (failed)
		st.failed++;
	else
		st.passed++;
}

/* ---- main ------------------------------------------------------------------------ */

static void setup(void)
{
	if (geteuid() != 0)
		die("needs root (netns, TCP_REPAIR, BPF)");
	if (fx_netns() || fx_pin_cpu())
		die("cannot set up the network namespace");
	conns[0].lfd = conns[0].srv.fd = conns[0].cli.fd = -1;
	conns[1].lfd = conns[1].srv.fd = conns[1].cli.fd = -1;
	skel = fx_dp_open();
	if (!skel)
		die("cannot open mig_dp");
	fprintf(stderr, "fuzz_dp: data path build %s\n", fx_dp_build);
	/* Small hash maps, as an agent with --max-flows 64 sizes them: every
	 * packet's state check walks them, and a walk visits every bucket. */
	{
		struct bpf_map *const hm[] = {
			skel->maps.mig_flows, skel->maps.mig_tokens, skel->maps.mig_ingress,
			skel->maps.mig_egress, skel->maps.mig_cand, skel->maps.mig_pend,
			skel->maps.mig_hold,
		};
		size_t i;

		for (i = 0; i < sizeof(hm) / sizeof(hm[0]); i++)
			if (bpf_map__set_max_entries(hm[i], 128))
				die("cannot size the maps");
	}
	if (mig_dp__load(skel))
		die("cannot load mig_dp");
	events = ring_buffer__new(bpf_map__fd(skel->maps.mig_events), noop_event, NULL, NULL);
	if (!events)
		die("cannot open the event ring buffer");
	if (fx_conn_open(AF_INET, &conns[0]) || fx_conn_open(AF_INET6, &conns[1]))
		die("cannot open the test connections");
	prog_fd[H_TC] = bpf_program__fd(skel->progs.mig_in_tc);
	prog_fd[H_XDP] = bpf_program__fd(skel->progs.mig_in_xdp);
	prog_fd[H_OUT] = bpf_program__fd(skel->progs.mig_out_tc);
	prog_fd_l3[H_TC] = bpf_program__fd(skel->progs.mig_in_tc_l3);
	prog_fd_l3[H_OUT] = bpf_program__fd(skel->progs.mig_out_tc_l3);
}

static void usage(void)
{
	fprintf(stderr, "usage: fuzz_dp [COUNT] [--seed N]   (COUNT packets, default 1000000)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long long count = 1000000, seed = 0, i;
	struct world w;
	struct snap base;
	__u64 t0, t1;
	char *end;
	int c, s, hk;

	while ((c = getopt_long(argc, argv, "s:h", lo, NULL)) != -1) {
		if (c != 's')
			usage();
		seed = strtoull(optarg, &end, 0);
		if (!*optarg || *end) {
			fprintf(stderr, "fuzz_dp: invalid seed: '%s'\n", optarg);
			return 2;
		}
	}
	if (optind < argc - 1)
		usage();
	if (optind == argc - 1) {
		count = strtoull(argv[optind], &end, 10);
		if (!*argv[optind] || *end || !count || count > 1000000000ULL) {
			fprintf(stderr, "fuzz_dp: invalid count: '%s' (1 to 10^9)\n", argv[optind]);
			return 2;
		}
	}
	if (!seed)
		seed = fx_now_ns() ^ (__u64)getpid() << 32;
	rng_s = seed;
	printf("fuzz_dp: %llu packets, seed %llu (repeat with --seed %llu)\n", count, seed, seed);
	fflush(stdout);
	setup();

	t0 = fx_now_ns();
	for (i = 0; i < count; i++) {
		if (i % BATCH == 0) {
			world_set(&w, (int)below(2), (int)below(ST__N));
			snapshot(&base);
		}
		one(&w, &base);
		if (i % BATCH == BATCH - 1)
			ring_buffer__consume(events);
	}
	t1 = fx_now_ns();

	printf("%-10s %-10s %10s %10s %10s %10s %6s\n", "state", "hook", "pass", "drop", "tx",
	       "held", "other");
	for (s = 0; s < ST__N; s++)
		for (hk = 0; hk < H__N; hk++)
			printf("%-10s %-10s %10llu %10llu %10llu %10llu %6llu\n", state_name[s],
			       hook_name[hk], (unsigned long long)st.verdicts[s][hk][V_OK],
			       (unsigned long long)st.verdicts[s][hk][V_DROP],
			       (unsigned long long)st.verdicts[s][hk][V_TX],
			       (unsigned long long)st.verdicts[s][hk][V_HOLD],
			       (unsigned long long)st.verdicts[s][hk][V_OTHER]);
	printf("packets: %llu mutated, %llu templates as they are, %llu random bytes; "
	       "%llu with a cut IP header refused by test_run (TC)\n",
	       (unsigned long long)st.mutated, (unsigned long long)st.plain,
	       (unsigned long long)st.random, (unsigned long long)st.refused);
	printf("macs that verify: %llu packets (%llu changed state); other packets that "
	       "changed state as the rules allow: %llu\n",
	       (unsigned long long)st.authentic, (unsigned long long)st.auth_changed,
	       (unsigned long long)st.unauth_allowed);
	printf("answers checked: %llu; rewritten segments checked: %llu; checksums "
	       "recomputed: %llu\n", (unsigned long long)st.answers,
	       (unsigned long long)st.rewrites, (unsigned long long)st.csum_checked);
	printf("time: %.1f s (%.1f us per packet)\n", (double)(t1 - t0) / 1e9,
	       (double)(t1 - t0) / 1e3 / (double)count);
	printf("%llu passed, %llu failed\n", (unsigned long long)st.passed,
	       (unsigned long long)st.failed);
	mig_dp__destroy(skel);
	return st.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
