// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_dp - the migration data path (PROTOCOL.md 5-6).
 *
 * mig_in_tc / mig_in_xdp (one source, two hooks): answers a Migrate SYN
 * with a Migrate SYN/ACK or a RST, turns a Migrate SYN/ACK into the
 * CONFIRM, commits on CONFIRM, and rewrites the wire tuple of migrated
 * flows back to the socket tuple.
 * mig_out_tc: rewrites the socket tuple of migrated flows to the wire
 * tuple and holds back segments of flows whose address went away.
 *
 * Per packet, a segment of a flow that never migrated costs the parse and
 * one hash lookup (plus an option walk for SYNs).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "lib/mig_maps.h"
#include "lib/mig_pkt.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_OK    0
#define TC_ACT_SHOT  2

/* Outcomes of the common code, mapped to each hook's verdicts. */
enum verdict { V_PASS, V_DROP, V_TX };

/* Per-CPU scratch for what does not fit the 512-byte stack. */
struct scratch {
	__u8 opts[MIG_OPT_BUF_LEN];     /* option area, zeroed tail */
	__u8 old[MIG_SIG_HDR_LEN];      /* TCP header before reply() */
	__u8 new[MIG_SIG_HDR_LEN];      /* ... and after */
	__u8 mac[12];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} mig_scratch SEC(".maps");

static __always_inline struct scratch *scratch(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mig_scratch, &zero);
}

/*
 * The Migrate option of a signalling segment.  The segments the shim and
 * the agent build carry it first, so the shared parser reads it at the
 * start of the option area; anything else is not signalling.
 */
static __always_inline int sig_opt(struct mig_ctx *c, const struct mig_pkt *p,
				   struct mig_opt *o)
{
	struct scratch *sc = scratch();
	int i;

	if (!sc)
		return MIG_OPT_NONE;
	for (i = 0; i < MIG_OPT_BUF_LEN; i++)
		sc->opts[i] = 0;
	if (ctx_load(c, p->l4 + 20, sc->opts, MIG_SIG_HDR_LEN - 20))
		return MIG_OPT_NONE;
	if (sc->opts[0] != MIG_OPT_KIND)
		return MIG_OPT_NONE;
	return mig_opt_parse_at(sc->opts, 0, MIG_SIG_HDR_LEN - 20, o);
}

static __always_inline void emit_ev(__u32 type, const struct mig_tuple *t,
				    __u8 role, __u64 id)
{
	struct mig_event *ev = mig_event_reserve(type);

	if (!ev)
		return;
	ev->role = role;
	ev->key_id = id;
	ev->tuple = *t;
	bpf_ringbuf_submit(ev, 0);
}

/* Per-CPU token bucket for the segments we answer to strangers. */
static __always_inline bool rate_ok(void)
{
	const __u64 cost = 1000000000ULL / MIG_RATE_PER_SEC;
	const __u64 max = cost * MIG_RATE_BURST;
	struct mig_bucket *b;
	__u32 zero = 0;
	__u64 now = bpf_ktime_get_ns(), t;

	b = bpf_map_lookup_elem(&mig_rate, &zero);
	if (!b)
		return false;
	t = b->tokens + (now - b->last_ns);
	if (!b->last_ns || t > max)
		t = max;
	b->last_ns = now;
	if (t < cost) {
		b->tokens = t;
		return false;
	}
	b->tokens = t - cost;
	return true;
}

/* The kernel's view of a socket, for the seq/ack of what we build. */
struct sock_seqs {
	__u32 snd_una, snd_nxt, rcv_nxt;
	__u8 state;
	__u8 rcv_wscale;   /* MIG_NO_WSCALE if the connection has none */
};

static __always_inline int sock_seqs(struct mig_ctx *c, const struct mig_tuple *s,
				     struct sock_seqs *out)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *skc;
	struct tcp_sock *tp;
	__u32 tlen;

	if (s->family == AF_INET) {
		t.ipv4.saddr = s->raddr[0];
		t.ipv4.daddr = s->laddr[0];
		t.ipv4.sport = s->rport;
		t.ipv4.dport = s->lport;
		tlen = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, s->raddr, 16);
		__builtin_memcpy(t.ipv6.daddr, s->laddr, 16);
		t.ipv6.sport = s->rport;
		t.ipv6.dport = s->lport;
		tlen = sizeof(t.ipv6);
	}
	skc = bpf_skc_lookup_tcp(c->ctx, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (!skc)
		return -1;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp) {
		bpf_sk_release(skc);
		return -1;
	}
	out->snd_una = tp->snd_una;
	out->snd_nxt = tp->snd_nxt;
	out->rcv_nxt = tp->rcv_nxt;
	out->state = tp->inet_conn.icsk_inet.sk.__sk_common.skc_state;
	{
		/* through a separate pointer: clang 14 otherwise computes the
		 * bitfield's CO-RE offset from tcp_sock and adds rx_opt's
		 * offset twice (verifier-visible miscompile, worked around) */
		struct tcp_options_received *ro = &tp->rx_opt;

		asm volatile("" : "+r"(ro));
		out->rcv_wscale = BPF_CORE_READ_BITFIELD_PROBED(ro, wscale_ok) ?
			BPF_CORE_READ_BITFIELD_PROBED(ro, rcv_wscale) : MIG_NO_WSCALE;
	}
	bpf_sk_release(skc);
	return 0;
}

static __always_inline bool state_may_move(__u8 st)
{
	return st == BPF_TCP_ESTABLISHED || st == BPF_TCP_FIN_WAIT1 ||
	       st == BPF_TCP_FIN_WAIT2 || st == BPF_TCP_CLOSE_WAIT;
}

/*
 * Turn the received segment into our answer, in place, and send it back
 * where it came from: addresses, ports and MACs swapped, the TCP header
 * replaced by a 48-byte one (seq, ack, flags, opt: a 25-byte option or
 * NULL, padded with NOPs; ws: a window scale option in the padding, for
 * SYN/ACKs, so that stateful middleboxes (NAT conntrack) learn the
 * connection's real window scaling; MIG_NO_WSCALE for none).  Only segments with a 48-byte header and no
 * payload get here, so the frame keeps its size.
 */
static __always_inline enum verdict reply(struct mig_ctx *c, struct mig_pkt *p,
					  __u32 seq, __u32 ack, __u8 flags,
					  const __u8 *opt, __u8 ws)
{
	struct scratch *sc = scratch();
	__u32 csum_off = l4_csum_off(p);
	__u8 *old, *new, *mac;
	__u16 csum;
	__s64 diff;
	int i;

	if (!sc)
		return V_DROP;
	old = sc->old;
	new = sc->new;
	mac = sc->mac;
	if (ctx_load(c, p->l4, old, MIG_SIG_HDR_LEN) || ctx_load(c, 0, mac, 12))
		return V_DROP;
	__builtin_memcpy(&csum, old + 16, 2);
	old[16] = old[17] = 0;
	__builtin_memcpy(new, old + 2, 2);          /* ports swapped */
	__builtin_memcpy(new + 2, old, 2);
	new[4] = seq >> 24; new[5] = seq >> 16; new[6] = seq >> 8; new[7] = seq;
	new[8] = ack >> 24; new[9] = ack >> 16; new[10] = ack >> 8; new[11] = ack;
	new[12] = (MIG_SIG_HDR_LEN / 4) << 4;
	new[13] = flags;
	new[14] = old[14];                          /* window */
	new[15] = old[15];
	if (flags & TCP_RST)
		new[14] = new[15] = 0;
	new[16] = new[17] = 0;
	new[18] = new[19] = 0;                      /* urgent */
	for (i = 20; i < MIG_SIG_HDR_LEN; i++)
		new[i] = 1;                         /* NOP */
	if (opt)
		for (i = 0; i < MIG_OPT_LEN_SIG; i++)
			new[20 + i] = opt[i];
	if (ws != MIG_NO_WSCALE) {
		new[45] = 3;   /* window scale */
		new[46] = 3;
		new[47] = ws;
	}
	diff = bpf_csum_diff((__be32 *)old, MIG_SIG_HDR_LEN, (__be32 *)new,
			     MIG_SIG_HDR_LEN, 0);
	new[16] = csum & 0xff;                      /* keep the field, fix below */
	new[17] = csum >> 8;

	if (c->xdp) {
		__u64 s = (__u16)~csum;

		s += (__u32)diff;
		csum = ~csum_fold(s);
		new[16] = csum & 0xff;
		new[17] = csum >> 8;
		if (bpf_xdp_store_bytes(c->ctx, p->l4, new, MIG_SIG_HDR_LEN))
			return V_DROP;
	} else {
		if (bpf_skb_store_bytes(c->ctx, p->l4, new, MIG_SIG_HDR_LEN, 0) ||
		    bpf_l4_csum_replace(c->ctx, csum_off, 0, diff, 0))
			return V_DROP;
	}

	/* Swapping source and destination changes neither the IPv4 header
	 * checksum nor the pseudo-header sum. */
	if (p->family == AF_INET) {
		__u8 ttl[2], nttl[2];

		if (ctx_load(c, p->l3 + 8, ttl, 2))
			return V_DROP;
		nttl[0] = 64;
		nttl[1] = ttl[1];
		if (c->xdp) {
			if (bpf_xdp_store_bytes(c->ctx, p->l3 + 12, p->daddr, 4) ||
			    bpf_xdp_store_bytes(c->ctx, p->l3 + 16, p->saddr, 4) ||
			    bpf_xdp_store_bytes(c->ctx, p->l3 + 8, nttl, 2) ||
			    xdp_csum_update(c, p->l3 + 10, *(__u16 *)ttl, *(__u16 *)nttl))
				return V_DROP;
		} else {
			if (bpf_skb_store_bytes(c->ctx, p->l3 + 12, p->daddr, 4, 0) ||
			    bpf_skb_store_bytes(c->ctx, p->l3 + 16, p->saddr, 4, 0) ||
			    bpf_skb_store_bytes(c->ctx, p->l3 + 8, nttl, 2, 0) ||
			    bpf_l3_csum_replace(c->ctx, p->l3 + 10, *(__u16 *)ttl,
						*(__u16 *)nttl, 2))
				return V_DROP;
		}
	} else {
		__u8 hl = 64;

		if (ctx_store(c, p->l3 + 8, p->daddr, 16) ||
		    ctx_store(c, p->l3 + 24, p->saddr, 16) ||
		    ctx_store(c, p->l3 + 7, &hl, 1))
			return V_DROP;
	}
	if (ctx_store(c, 0, mac + 6, 6) || ctx_store(c, 6, mac, 6))
		return V_DROP;
	return V_TX;
}

/* The one answer to every rejected Migrate SYN (PROTOCOL.md 6). */
static __always_inline enum verdict reject(struct mig_ctx *c, struct mig_pkt *p,
					   __u32 stat)
{
	mig_count(stat);
	if (!rate_ok()) {
		mig_count(MIG_STAT_RST_LIMITED);
		return V_DROP;
	}
	mig_count(MIG_STAT_RST_SENT);
	return reply(c, p, 0, p->seq + 1, TCP_RST | TCP_ACK, NULL, MIG_NO_WSCALE);
}

/* (clang 14 leaves a non-constant __builtin_memcmp as a libc call) */
static __always_inline bool tuple_eq(const struct mig_tuple *a,
				     const struct mig_tuple *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;
	__u32 d = 0;
	int i;

	for (i = 0; i < (int)(sizeof(*a) / 4); i++)
		d |= x[i] ^ y[i];
	return !d;
}

/* 8-byte values: macs, nonces */
static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	__u64 x, y;

	__builtin_memcpy(&x, a, 8);
	__builtin_memcpy(&y, b, 8);
	return x == y;
}

/* Install the translation of flow f (socket tuple sock) to wire tuple w. */
static __always_inline int commit(struct mig_flow *f, const struct mig_tuple *sock,
				  const struct mig_tuple *w)
{
	struct mig_in in = {};
	struct mig_out out = {};
	struct mig_in *old;

	in.sock = *sock;
	in.type = MIG_IN_XLATE;
	out.wire = *w;
	out.type = MIG_OUT_XLATE;
	if (bpf_map_update_elem(&mig_ingress, w, &in, BPF_ANY) ||
	    bpf_map_update_elem(&mig_egress, sock, &out, BPF_ANY))
		return -1;
	if (!tuple_eq(&f->wire, w)) {
		old = bpf_map_lookup_elem(&mig_ingress, &f->wire);
		if (old && old->type == MIG_IN_XLATE && tuple_eq(&old->sock, sock))
			bpf_map_delete_elem(&mig_ingress, &f->wire);
	}
	f->wire = *w;
	f->migrations++;
	f->migrated_ns = bpf_ktime_get_ns();
	return 0;
}

/* Fixed end: a Migrate SYN. */
static __always_inline enum verdict on_msyn(struct mig_ctx *c, struct mig_pkt *p,
					    const struct mig_tuple *key,
					    const struct mig_opt *o)
{
	__u8 opt[MIG_OPT_LEN_SIG];
	struct mig_token_key tk;
	struct mig_tuple *sock, s;
	struct sock_seqs ss;
	struct mig_in cand = {}, *e;
	struct mig_flow *f;
	__u32 d, idx;

	mig_count(MIG_STAT_MSYN_IN);
	__builtin_memcpy(tk.token, o->id, MIG_TOKEN_LEN);
	sock = bpf_map_lookup_elem(&mig_tokens, &tk);
	if (!sock)
		return reject(c, p, MIG_STAT_REJ_TOKEN);
	s = *sock;
	f = bpf_map_lookup_elem(&mig_flows, &s);
	/* It must be addressed to the flow's port on our side.  Any of our
	 * addresses will do: when both ends moved at once, the peer found our
	 * new address in DNS before our own migration committed, and the new
	 * wire tuple then has our new address too (the mac and the return
	 * routability check decide, not the address). */
	if (!f || s.family != key->family || f->wire.lport != key->lport)
		return reject(c, p, MIG_STAT_REJ_TOKEN);
	d = o->reqno - f->peer_reqno;
	idx = o->reqno - f->peer_base - 1;
	if (d == 0 || d > MIG_MAC_WINDOW || idx >= MIG_MAC_WINDOW)
		return reject(c, p, MIG_STAT_REJ_REQNO);
	if (!mac_eq(f->macs[idx].peer_migrate, o->mac))
		return reject(c, p, MIG_STAT_REJ_MAC);
	if (sock_seqs(c, &s, &ss) || !state_may_move(ss.state))
		return reject(c, p, MIG_STAT_REJ_STATE);
	/* seq + 1 in [RCV.NXT - 2^30, RCV.NXT] */
	if (ss.rcv_nxt - (p->seq + 1) > (1U << 30))
		return reject(c, p, MIG_STAT_REJ_SEQ);

	/* A repeated Migrate SYN from the same place gets the same answer. */
	e = bpf_map_lookup_elem(&mig_ingress, key);
	/* our own request on this very tuple stays answerable */
	if (e && tuple_eq(&e->sock, &s)) {
		if (e->type == MIG_IN_PENDING) {
			cand.flags = MIG_IN_F_PENDING;
			cand.own_reqno = e->reqno;
		} else if (e->type == MIG_IN_CANDIDATE) {
			cand.flags = e->flags;
			cand.own_reqno = e->own_reqno;
		}
	}
	if (e && e->type == MIG_IN_CANDIDATE && e->reqno == o->reqno &&
	    tuple_eq(&e->sock, &s)) {
		__builtin_memcpy(cand.nonce, e->nonce, 8);
	} else {
		__u32 r1 = bpf_get_prandom_u32(), r2 = bpf_get_prandom_u32();

		__builtin_memcpy(cand.nonce, &r1, 4);
		__builtin_memcpy(cand.nonce + 4, &r2, 4);
	}
	cand.sock = s;
	cand.type = MIG_IN_CANDIDATE;
	cand.reqno = o->reqno;
	if (bpf_map_update_elem(&mig_ingress, key, &cand, BPF_ANY))
		return V_DROP;
	mig_opt_build_sig(opt, MIG_SUB_MIGRATE_ACK, o->reqno, cand.nonce,
			  f->macs[idx].own_ack);
	mig_count(MIG_STAT_MSYN_ANSWERED);
	return reply(c, p, ss.snd_una - 1, ss.rcv_nxt, TCP_SYN | TCP_ACK, opt,
		     ss.rcv_wscale);
}

/* Mover: a Migrate SYN/ACK (first one commits; repeats get the CONFIRM
 * again). */
static __always_inline enum verdict on_msynack(struct mig_ctx *c, struct mig_pkt *p,
					       const struct mig_tuple *key,
					       const struct mig_opt *o)
{
	__u8 opt[MIG_OPT_LEN_SIG], confirm[MIG_MAC_LEN];
	struct mig_tuple s;
	struct sock_seqs ss;
	struct mig_flow *f;
	struct mig_in *e;
	__u32 idx;

	e = bpf_map_lookup_elem(&mig_ingress, key);
	if (!e)
		goto bad;
	s = e->sock;
	f = bpf_map_lookup_elem(&mig_flows, &s);
	if (!f)
		goto bad;
	if (e->type == MIG_IN_PENDING ||
	    (e->type == MIG_IN_CANDIDATE && (e->flags & MIG_IN_F_PENDING))) {
		__u32 want = e->type == MIG_IN_PENDING ? e->reqno : e->own_reqno;

		idx = o->reqno - f->own_base - 1;
		if (o->reqno != want || idx >= MIG_MAC_WINDOW ||
		    !mac_eq(f->macs[idx].peer_ack, o->mac))
			goto bad;
		if (sock_seqs(c, &s, &ss))
			goto bad;
		__builtin_memcpy(confirm, f->macs[idx].own_confirm, MIG_MAC_LEN);
		__builtin_memcpy(f->last_nonce, o->id, 8);
		__builtin_memcpy(f->last_peer_ack, o->mac, MIG_MAC_LEN);
		__builtin_memcpy(f->last_own_confirm, confirm, MIG_MAC_LEN);
		f->own_reqno = o->reqno;
		if (commit(f, &s, key))
			return V_DROP;
		mig_count(MIG_STAT_COMMIT_MOVER);
		emit_ev(MIG_EV_MIGRATED, &s, 1, o->reqno);
	} else if (e->type == MIG_IN_XLATE) {
		if (o->reqno != f->own_reqno || !mac_eq(f->last_peer_ack, o->mac) ||
		    !mac_eq(f->last_nonce, o->id) || sock_seqs(c, &s, &ss))
			goto bad;
		__builtin_memcpy(confirm, f->last_own_confirm, MIG_MAC_LEN);
	} else {
		goto bad;
	}
	mig_opt_build_sig(opt, MIG_SUB_CONFIRM, o->reqno, o->id, confirm);
	mig_count(MIG_STAT_CONFIRM_SENT);
	return reply(c, p, ss.snd_nxt, ss.rcv_nxt, TCP_ACK, opt, MIG_NO_WSCALE);
bad:
	mig_count(MIG_STAT_ACK_BAD);
	return V_DROP;
}

/* Fixed end: a CONFIRM for candidate e. */
static __always_inline enum verdict on_confirm(const struct mig_tuple *key,
					       struct mig_in *e,
					       const struct mig_opt *o)
{
	struct mig_tuple s = e->sock;
	struct mig_flow *f;
	__u32 d, idx;

	f = bpf_map_lookup_elem(&mig_flows, &s);
	if (!f || o->reqno != e->reqno || !mac_eq(e->nonce, o->id))
		goto bad;
	d = o->reqno - f->peer_reqno;
	idx = o->reqno - f->peer_base - 1;
	if (d == 0 || d > MIG_MAC_WINDOW || idx >= MIG_MAC_WINDOW ||
	    !mac_eq(f->macs[idx].peer_confirm, o->mac))
		goto bad;
	f->peer_reqno = o->reqno;
	if (commit(f, &s, key))
		return V_DROP;
	mig_count(MIG_STAT_COMMIT_FIXED);
	emit_ev(MIG_EV_MIGRATED, &s, 2, o->reqno);
	return V_DROP;   /* consumed */
bad:
	mig_count(MIG_STAT_CONFIRM_BAD);
	return V_DROP;
}

/* Migrate signalling: a 48-byte header with our option and no payload. */
static __always_inline bool maybe_sig(const struct mig_pkt *p)
{
	return p->hdr_len == MIG_SIG_HDR_LEN && p->payload == 0;
}

static __always_inline enum verdict ingress(struct mig_ctx *c)
{
	struct mig_tuple key, s;
	struct mig_opt o = {};
	struct mig_pkt p;
	struct mig_in *e;
	__u8 fl;

	if (mig_parse(c, &p))
		return V_PASS;
	mig_pkt_key(&p, true, &key);
	fl = p.flags;

	if ((fl & TCP_SYN) && maybe_sig(&p) && sig_opt(c, &p, &o) == MIG_OPT_FOUND) {
		if (!(fl & TCP_ACK) && o.type == MIG_OPT_T_MIGRATE)
			return on_msyn(c, &p, &key, &o);
		if ((fl & TCP_ACK) && o.type == MIG_OPT_T_MIGRATE_ACK)
			return on_msynack(c, &p, &key, &o);
	}

	e = bpf_map_lookup_elem(&mig_ingress, &key);
	if (!e)
		return V_PASS;
	if (e->type == MIG_IN_XLATE) {
		/* a CONFIRM repeated after the commit is ours, not the kernel's */
		if (!(fl & TCP_SYN) && maybe_sig(&p) &&
		    sig_opt(c, &p, &o) == MIG_OPT_FOUND && o.type == MIG_OPT_T_CONFIRM)
			return V_DROP;
		s = e->sock;
		if (mig_rewrite(c, &p, &s, true))
			return V_DROP;
		mig_count(MIG_STAT_XLATE_IN);
		return V_PASS;
	}
	if (e->type == MIG_IN_CANDIDATE) {
		if (!(fl & TCP_SYN) && maybe_sig(&p) &&
		    sig_opt(c, &p, &o) == MIG_OPT_FOUND && o.type == MIG_OPT_T_CONFIRM)
			return on_confirm(&key, e, &o);
		/* The CONFIRM was lost: never hand this to the kernel (it
		 * would answer with a RST); ask the agent, rate limited, to
		 * send the candidate's SYN/ACK again. */
		mig_count(MIG_STAT_CAND_DROP);
		__u32 now_ms = bpf_ktime_get_ns() / 1000000;

		if (now_ms - e->resend_ms > 200) {
			e->resend_ms = now_ms;
			emit_ev(MIG_EV_RESEND, &key, 2, e->reqno);
		}
		return V_DROP;
	}
	/* PENDING: nothing but the Migrate SYN/ACK may come here yet */
	return V_DROP;
}

static __always_inline enum verdict egress(struct mig_ctx *c)
{
	struct mig_tuple key, w;
	struct mig_out *e;
	struct mig_pkt p;

	if (mig_parse(c, &p))
		return V_PASS;
	mig_pkt_key(&p, false, &key);
	e = bpf_map_lookup_elem(&mig_egress, &key);
	if (!e)
		return V_PASS;
	if (e->type == MIG_OUT_HOLD) {
		mig_count(MIG_STAT_HOLD_DROP);
		return V_DROP;
	}
	w = e->wire;
	if (mig_rewrite(c, &p, &w, false))
		return V_DROP;
	mig_count(MIG_STAT_XLATE_OUT);
	return V_PASS;
}

SEC("tc")
int mig_in_tc(struct __sk_buff *skb)
{
	struct mig_ctx c = { .ctx = skb, .xdp = false };

	switch (ingress(&c)) {
	case V_PASS:
		return TC_ACT_OK;
	case V_TX:
		skb->mark = MIG_MARK;
		return bpf_redirect(skb->ifindex, 0);
	default:
		return TC_ACT_SHOT;
	}
}

SEC("xdp")
int mig_in_xdp(struct xdp_md *xdp)
{
	struct mig_ctx c = { .ctx = xdp, .xdp = true };

	switch (ingress(&c)) {
	case V_PASS:
		return XDP_PASS;
	case V_TX:
		return XDP_TX;
	default:
		return XDP_DROP;
	}
}

SEC("tc")
int mig_out_tc(struct __sk_buff *skb)
{
	struct mig_ctx c = { .ctx = skb, .xdp = false };

	if (skb->mark == MIG_MARK)
		return TC_ACT_OK;
	return egress(&c) == V_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}
