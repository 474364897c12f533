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
 * mig_in_tc_l3 / mig_out_tc_l3: the same for devices without a link-layer
 * header (tun, WireGuard; see tc_in).
 *
 * Per packet, a segment of a flow that never migrated costs the parse and
 * two hash lookups on ingress (translations, candidates), one on egress
 * (plus an option walk for SYNs).
 *
 * Protocol version 2 (docs/protocol.md, "Threat model and rules"): the
 * authenticators and nonces are SipHash-2-4 (include/migrate/mig_siphash.h)
 * computed here per Migrate segment; candidates live in their flow (at
 * most MIG_NCAND, expiring) and in mig_cand, never among translations;
 * signalling that is not addressed to this host passes untouched.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "lib/mig_maps.h"
#include "lib/mig_pkt.h"
#include "migrate/mig_siphash.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_ACT_OK    0
#define TC_ACT_SHOT  2
#define TC_ACT_STOLEN 4
#define TC_ACT_REDIRECT 7

/* Outcomes of the common code, mapped to each hook's verdicts. */
/* V_HOLD (egress only): taken and freed like V_DROP, but reported to the
 * stack as sent (TC_ACT_STOLEN).  A local drop makes TCP probe every
 * 500 ms without backoff and count each try toward tcp_retries2, so a
 * connection held for a few seconds would die; a segment "lost on the
 * path" gets the ordinary retransmission timer, with backoff. */
/* V_REDIR (egress only): redirected by a helper (reroute), which set
 * the device: TC_ACT_REDIRECT. */
enum verdict { V_PASS, V_DROP, V_TX, V_HOLD, V_REDIR };

#define LOOPBACK_IFINDEX 1   /* lo, in every network namespace */
/* one load or store, not torn or merged by the compiler (candidate slots
 * are written by more than one CPU) */
#define READ_ONCE(x)     (*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

/* The kernel's view of a socket, for the seq/ack of what we build. */
struct sock_seqs {
	__u32 snd_una, snd_nxt, rcv_nxt;
	__u8 state;
	__u8 rcv_wscale;   /* MIG_NO_WSCALE if the connection has none */
};

/* Per-CPU scratch for what does not fit the 512-byte stack. */
struct scratch {
	__u8 opts[MIG_OPT_BUF_LEN];     /* option area, zeroed tail */
	__u8 old[MIG_SIG_HDR_LEN];      /* TCP header before reply() */
	__u8 new[MIG_SIG_HDR_LEN];      /* ... and after */
	__u8 mac[12];
	__u8 tag[8];                    /* SipHash output */
	__u8 nonce[8];                  /* on_msyn: the candidate's nonce */
	__u8 opt[MIG_OPT_LEN_SIG + 3];  /* the option we answer with */
	struct bpf_fib_lookup fib;
	/* locals of the signalling paths (the stack is 512 bytes for the
	 * whole call chain) */
	struct mig_opt o;
	struct mig_tuple s, w, prev;
	/* on_msyn's socket tuple: out of its frame, which with mig_in_tc's
	 * stays within 512 bytes only so under Linux 6.1's accounting (each
	 * frame rounded up to 32 bytes) */
	struct mig_tuple ms;
	struct mig_in in;
	struct mig_out out;
	struct mig_cand_ref ref;
	struct bpf_sock_tuple bst;
	__u8 icmp[8 + 40 + 8];          /* ICMP header, quoted IP header, ports */
	__u8 frame[ETH_HLEN + 40];      /* kept_*: Ethernet and IP or ARP header;
					 * frag_check: IP header */
	struct mig_addr ka;             /* kept_*: the address looked up */
	/* egress: reroute's next hop, icmp_out's quoted tuple and ports */
	struct bpf_redir_neigh nh;
	struct mig_tuple qs, qw;
	__u32 qp[4], qn[4];             /* quoted TCP ports (qp[0]), old and new;
					 * 16 bytes each for out_words */
	__be32 qv;                      /* icmp_out: the word stored */
	__u16 qc[2];                    /* ... the quoted TCP checksum, old and new */
	struct sock_seqs cs;            /* on_confirm: the socket at the commit */
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

/* The socket (of any state) that a segment arriving on tuple w, our
 * view, would reach; NULL if none.  Release with bpf_sk_release. */
static __always_inline struct bpf_sock *skc_of(struct mig_ctx *c, const struct mig_tuple *w)
{
	struct scratch *sc = scratch();
	struct bpf_sock_tuple *t;
	__u32 tlen;

	if (!sc)
		return NULL;
	t = &sc->bst;
	__builtin_memset(t, 0, sizeof(*t));
	if (w->family == AF_INET) {
		t->ipv4.saddr = w->raddr[0];
		t->ipv4.daddr = w->laddr[0];
		t->ipv4.sport = w->rport;
		t->ipv4.dport = w->lport;
		tlen = sizeof(t->ipv4);
	} else {
		__builtin_memcpy(t->ipv6.saddr, w->raddr, 16);
		__builtin_memcpy(t->ipv6.daddr, w->laddr, 16);
		t->ipv6.sport = w->rport;
		t->ipv6.dport = w->lport;
		tlen = sizeof(t->ipv6);
	}
	return bpf_skc_lookup_tcp(c->ctx, t, tlen, BPF_F_CURRENT_NETNS, 0);
}

static __always_inline int sock_seqs(struct mig_ctx *c, const struct mig_tuple *s,
				     struct sock_seqs *out)
{
	struct bpf_sock *skc;
	struct tcp_sock *tp;

	skc = skc_of(c, s);
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

/* 48 bytes, 8 at a time (unaligned on the packet side: see ctx_load_head) */
static __always_inline void copy48(void *to, const void *from)
{
	int i;

#pragma unroll
	for (i = 0; i < MIG_SIG_HDR_LEN; i += 8)
		*(__u64 *)(to + i) = *(const __u64 *)(from + i);
}

/*
 * Turn the received segment into our answer, in place, and send it back
 * where it came from: addresses, ports and MACs (on a device without a
 * link-layer header: none) swapped, the TCP header
 * replaced by a 48-byte one (seq, ack, flags, opt: a 25-byte option or
 * NULL, padded with NOPs; ws: a window scale option in the padding, for
 * SYN/ACKs, so that stateful middleboxes (NAT conntrack) learn the
 * connection's real window scaling; MIG_NO_WSCALE for none).  Only segments with a 48-byte header and no
 * payload get here, so the frame keeps its size.
 *
 * Direct packet access, as in mig_rewrite: the headers are read and
 * written in place, the IPv4 header checksum updated here (TTL), and the
 * TCP checksum takes one sum of the header's change: computed here under
 * XDP, through bpf_l4_csum_replace under TC (the skb's checksum state,
 * see mig_rewrite; swapping the addresses changes neither the IPv4
 * header checksum nor the pseudo-header sum).  At most two helper calls
 * (a pull of a non-linear header, the checksum) where there were eight.
 */
static __always_inline enum verdict reply(struct mig_ctx *c, struct mig_pkt *p,
					  __u32 seq, __u32 ack, __u8 flags,
					  const __u8 *opt, __u8 ws)
{
	struct scratch *sc = scratch();
	__u32 l3 = p->l3, l4 = p->l4;
	__u8 *old, *new, *data, *end, *th, *ip;
	__u16 csum;
	__s64 diff;
	int i;

	if (!sc || l3 > ETH_HLEN + 4 || l4 > MIG_PKT_L4_MAX || l4 < l3 + 20)
		return V_DROP;
	old = sc->old;
	new = sc->new;
	/* (the same lines as mig_rewrite's: a helper shared by both, which
	 * returned the pointers through memory, had clang load the context
	 * field through an offset it computed, which the verifier refuses:
	 * "dereference of modified ctx ptr") */
	if (c->xdp) {
		data = (void *)(long)((struct xdp_md *)c->ctx)->data;
		end = (void *)(long)((struct xdp_md *)c->ctx)->data_end;
	} else {
		struct __sk_buff *skb = c->ctx;

		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		if (data + l4 + MIG_SIG_HDR_LEN > end) {
			if (bpf_skb_pull_data(skb, l4 + MIG_SIG_HDR_LEN))
				return V_DROP;
			data = (void *)(long)skb->data;
			end = (void *)(long)skb->data_end;
		}
	}
	/* masked where used: see mig_rewrite (Linux 6.1's verifier) */
	asm volatile("" : "+r"(l3), "+r"(l4));
	ip = data + (l3 & 0x1f);
	th = data + (l4 & 0xff);
	if (ip + 40 > end || th + MIG_SIG_HDR_LEN > end)
		return V_DROP;
	copy48(old, th);
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
	if (c->xdp) {
		__u64 s = (__u16)~csum;

		s += (__u32)diff;
		csum = ~csum_fold(s);
	}
	__builtin_memcpy(new + 16, &csum, 2);       /* TC: fixed below */
	copy48(th, new);

	if (p->family == AF_INET) {
		__u16 *ip16 = (__u16 *)ip, ttl = ip16[4], nttl;

		/* TTL 64, the protocol byte kept (memory order) */
		nttl = ttl;
		((__u8 *)&nttl)[0] = 64;
		__builtin_memcpy(ip + 12, p->daddr, 4);
		__builtin_memcpy(ip + 16, p->saddr, 4);
		if (nttl != ttl) {
			ip16[4] = nttl;
			ip16[5] = csum_apply(ip16[5], csum_fold((__u64)(__u16)~ttl + nttl));
		}
	} else {
		__builtin_memcpy(ip + 8, p->daddr, 16);
		__builtin_memcpy(ip + 24, p->saddr, 16);
		ip[7] = 64;
	}
	if (c->l2) {
		__u16 *m = (__u16 *)data, t;

		if (data + 12 > end)
			return V_DROP;
		for (i = 0; i < 3; i++) {
			t = m[i];
			m[i] = m[i + 3];
			m[i + 3] = t;
		}
	}
	/* packet pointers end here: the helper may move the data */
	if (!c->xdp && bpf_l4_csum_replace(c->ctx, l4_csum_off(p), 0, diff, 0))
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

/* 8-byte values: macs, nonces */
static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	__u64 x, y;

	__builtin_memcpy(&x, a, 8);
	__builtin_memcpy(&y, b, 8);
	return x == y;
}

/* Migrate signalling: a 48-byte header with our option and no payload. */
static __always_inline bool maybe_sig(const struct mig_pkt *p)
{
	return p->hdr_len == MIG_SIG_HDR_LEN && p->payload == 0;
}

/*
 * Is this segment only passing through?  A shim on a forwarding host must
 * leave other hosts' signalling alone (rule 5): the FIB says "forward" only
 * for transit, and on a host that does not forward at all nothing is.
 */
static __always_inline bool transit(struct mig_ctx *c, const struct mig_pkt *p,
				    struct scratch *sc, __u32 ifindex)
{
	struct bpf_fib_lookup *fl = &sc->fib;
	long rc;

	__builtin_memset(fl, 0, sizeof(*fl));
	fl->family = p->family;
	fl->l4_protocol = IPPROTO_TCP;
	fl->sport = p->sport;
	fl->dport = p->dport;
	fl->ifindex = ifindex;
	if (p->family == AF_INET) {
		fl->ipv4_src = p->saddr[0];
		fl->ipv4_dst = p->daddr[0];
	} else {
		__builtin_memcpy(fl->ipv6_src, p->saddr, 16);
		__builtin_memcpy(fl->ipv6_dst, p->daddr, 16);
	}
	rc = bpf_fib_lookup(c->ctx, fl, sizeof(*fl), 0);
	return rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH ||
	       rc == BPF_FIB_LKUP_RET_FRAG_NEEDED;
}

/* Does a kernel socket (not a listener) own wire tuple w (our view)? */
static __always_inline bool live_socket(struct mig_ctx *c, const struct mig_tuple *w)
{
	struct bpf_sock *skc = skc_of(c, w);
	bool live;

	if (!skc)
		return false;
	live = skc->state != BPF_TCP_LISTEN;
	bpf_sk_release(skc);
	return live;
}

static __always_inline bool cand_live(const struct mig_cand *cd, __u64 now)
{
	return cd->wire.family && (__s64)(cd->expires_ns - now) > 0;
}

/* Forget slot i of flow f (sock): its mig_cand entry goes too. */
static __always_inline void cand_clear(struct mig_flow *f, const struct mig_tuple *sock,
				       __u32 i)
{
	struct scratch *sc = scratch();

	i &= MIG_NCAND - 1;
	if (!sc || !f->cand[i].wire.family)
		return;
	sc->w = f->cand[i].wire;
	mig_cand_forget(&sc->w, sock);
	f->cand[i].wire.family = 0;
}

/* The slot of flow f whose candidate came from w, or MIG_NCAND. */
static __always_inline __u32 cand_find(const struct mig_flow *f, const struct mig_tuple *w)
{
	__u32 i;

	for (i = 0; i < MIG_NCAND; i++)
		if (f->cand[i].wire.family && mig_tuple_eq(&f->cand[i].wire, w))
			return i;
	return MIG_NCAND;
}

/*
 * Rule 1: a new candidate of flow f (socket tuple sock) at wire tuple w
 * takes nothing that belongs to another connection: not a translation or
 * retired tuple of another flow, not another flow's live candidate, not a
 * live kernel socket.  At most MIG_NCAND per flow: an empty or expired
 * slot, else none (a live one is never evicted).  Returns the slot, or a negative
 * value (counted).
 */
static __always_inline int cand_claim(struct mig_ctx *c, struct mig_flow *f,
				      const struct mig_tuple *sock,
				      const struct mig_tuple *w, __u64 now)
{
	struct scratch *sc = scratch();
	struct mig_cand_ref *ref, *r;
	struct mig_flow *of;
	struct mig_in *e;
	__u32 i, j;

	if (!sc)
		return -1;
	ref = &sc->ref;
	__builtin_memset(ref, 0, sizeof(*ref));
	e = bpf_map_lookup_elem(&mig_ingress, w);
	if (e && !mig_tuple_eq(&e->sock, sock))
		goto taken;
	r = bpf_map_lookup_elem(&mig_cand, w);
	if (r) {
		ref->sock = r->sock;
		if (!mig_tuple_eq(&ref->sock, sock)) {
			of = bpf_map_lookup_elem(&mig_flows, &ref->sock);
			if (of) {
				j = cand_find(of, w);
				if (j < MIG_NCAND && cand_live(&of->cand[j & 1], now))
					goto taken;
			}
			mig_count(MIG_STAT_CAND_EXPIRED);
		}
		/* another flow's dead candidate, or a stale one of ours */
		mig_cand_del(w);
	}
	if (!mig_tuple_eq(w, sock) && live_socket(c, w))
		goto taken;

	/* A live candidate is never replaced: a replayer that could evict
	 * the mover's would send the mover's CONFIRM, and then its data, to
	 * the kernel, whose RST would end the connection.  A full flow
	 * refuses new candidates until one expires (the mover retries).
	 * Two CPUs answering Migrate SYNs of one flow at once must not both
	 * take the same slot (the loser's mig_cand entry would stay behind,
	 * referenced by no slot, and the slot's fields would be a mix of
	 * both): a slot is taken by a compare-and-swap of its expiry to
	 * MIG_CAND_CLAIMING, which on_msyn replaces with the real expiry
	 * once the slot is filled.  A held slot reads as live, so no other
	 * CPU takes it or drops its candidate meanwhile. */
	for (i = 0; i < MIG_NCAND; i++) {
		__u64 e = READ_ONCE(f->cand[i].expires_ns);

		if (e == MIG_CAND_CLAIMING ||
		    (f->cand[i].wire.family && (__s64)(e - now) > 0))
			continue;
		if (__sync_val_compare_and_swap(&f->cand[i].expires_ns, e,
						MIG_CAND_CLAIMING) == e)
			break;
	}
	if (i >= MIG_NCAND) {
		mig_count(MIG_STAT_CAND_BUSY);
		return -1;
	}
	cand_clear(f, sock, i);
	ref->sock = *sock;
	ref->resend_ms = 0;
	if (bpf_map_update_elem(&mig_cand, w, ref, BPF_NOEXIST)) {
		WRITE_ONCE(f->cand[i & 1].expires_ns, 0);
		mig_count(MIG_STAT_CAND_FULL);
		return -1;
	}
	mig_gate_add(1);
	f->next_cand = i + 1;
	return i;
taken:
	mig_count(MIG_STAT_REJ_TUPLE);
	return -1;
}

/*
 * Install the translation of flow f (socket tuple sock) to wire tuple w.
 * The wire tuple it leaves is retired (its segments are dropped from now
 * on, rule 8); the one retired before is forgotten.
 */
static __always_inline int commit(struct mig_flow *f, const struct mig_tuple *sock,
				  const struct mig_tuple *w, __u32 snd_nxt)
{
	struct scratch *sc = scratch();
	struct mig_in *e;

	if (!sc)
		return -1;
	e = bpf_map_lookup_elem(&mig_ingress, w);
	if (e && !mig_tuple_eq(&e->sock, sock)) {
		mig_count(MIG_STAT_REJ_TUPLE);
		return -1;
	}
	__builtin_memset(&sc->in, 0, sizeof(sc->in));
	sc->in.sock = *sock;
	sc->in.type = MIG_IN_XLATE;
	sc->in.ts = MIG_TS_FIRST;
	sc->in.cc = 1;
	__builtin_memset(&sc->out, 0, sizeof(sc->out));
	sc->out.wire = *w;
	if (mig_xlate_put(&mig_ingress, w, &sc->in)) {
		mig_count(MIG_STAT_XLATE_FULL);
		return -1;
	}
	if (mig_xlate_put(&mig_egress, sock, &sc->out)) {
		mig_xlate_del(&mig_ingress, w);
		mig_count(MIG_STAT_XLATE_FULL);
		return -1;
	}
	if (!mig_tuple_eq(&f->wire, w)) {
		sc->prev = f->prev;
		if (sc->prev.family && !mig_tuple_eq(&sc->prev, w)) {
			e = bpf_map_lookup_elem(&mig_ingress, &sc->prev);
			if (e && e->type == MIG_IN_RETIRED && mig_tuple_eq(&e->sock, sock))
				mig_xlate_del(&mig_ingress, &sc->prev);
		}
		sc->prev = f->wire;
		sc->in.type = MIG_IN_RETIRED;
		sc->in.ts = MIG_TS_OFF;
		sc->in.cc = 0;
		if (mig_xlate_put(&mig_ingress, &sc->prev, &sc->in))
			mig_count(MIG_STAT_XLATE_FULL);
		f->prev = sc->prev;
	}
	/* (a mover that asks again from where it is already commits its own
	 * tuple once more: not another migration) */
	if (!mig_tuple_eq(&f->wire, w))
		f->migrations++;
	f->wire = *w;
	f->migrated_ns = bpf_ktime_get_ns();
	f->rst_held_ms = 0;     /* a held RST came from where the peer was */
	/* what the peer can have held before the move ends at or below the
	 * socket's SND.NXT now; the peer's first segment narrows it
	 * (sack_hide).  0: unknown, nothing is hidden. */
	f->sack_hi = snd_nxt;
	return 0;
}

/* mig_sip_le64a reads these keys and the token with one 8-byte load */
_Static_assert(__builtin_offsetof(struct mig_flow, token) % 8 == 0, "token alignment");
_Static_assert(__builtin_offsetof(struct mig_flow, s_own) % 8 == 0, "s_own alignment");
_Static_assert(__builtin_offsetof(struct mig_flow, s_peer) % 8 == 0, "s_peer alignment");
_Static_assert(__builtin_offsetof(struct mig_host, boot) % 8 == 0, "boot alignment");

static __always_inline const __u8 *boot_secret(void)
{
	__u32 zero = 0;
	struct mig_host *h = bpf_map_lookup_elem(&mig_host, &zero);

	return h ? h->boot : NULL;
}

/* Fixed end: a Migrate SYN. */
static __noinline enum verdict on_msyn(struct mig_ctx *c, struct mig_pkt *p,
					    const struct mig_tuple *key,
					    const struct mig_opt *o, __u32 ifindex)
{
	struct scratch *sc = scratch();
	struct mig_token_key tk;
	struct mig_tuple *sock, *s;
	struct sock_seqs ss;
	struct mig_cand *cd;
	struct mig_flow *f;
	const __u8 *boot;
	__u64 now;
	__u32 d;
	int i;

	if (!sc)
		return V_DROP;
	s = &sc->ms;
	if (transit(c, p, sc, ifindex)) {
		mig_count(MIG_STAT_TRANSIT);
		return V_PASS;
	}
	mig_count(MIG_STAT_MSYN_IN);
	__builtin_memcpy(tk.token, o->id, MIG_TOKEN_LEN);
	sock = bpf_map_lookup_elem(&mig_tokens, &tk);
	if (!sock)
		return reject(c, p, MIG_STAT_REJ_TOKEN);
	*s = *sock;
	f = bpf_map_lookup_elem(&mig_flows, s);
	/* It must be addressed to the flow's port on our side.  Any of our
	 * addresses will do: when both ends moved at once, the peer found our
	 * new address in DNS before our own migration committed, and the new
	 * wire tuple then has our new address too (the mac and the return
	 * routability check decide, not the address). */
	if (!f || s->family != key->family || f->wire.lport != key->lport)
		return reject(c, p, MIG_STAT_REJ_TOKEN);
	d = o->reqno - f->peer_reqno;
	if (d == 0 || d > MIG_MAC_WINDOW)
		return reject(c, p, MIG_STAT_REJ_REQNO);
	if (mig_sip_tag_migrate(f->s_peer, f->token, o->reqno) != mig_sip_le64(o->mac))
		return reject(c, p, MIG_STAT_REJ_MAC);
	if (sock_seqs(c, s, &ss) || !state_may_move(ss.state))
		return reject(c, p, MIG_STAT_REJ_STATE);
	/* seq + 1 in [RCV.NXT - 2^30, RCV.NXT] */
	if (ss.rcv_nxt - (p->seq + 1) > (1U << 30))
		return reject(c, p, MIG_STAT_REJ_SEQ);

	/* A repeat from the same place gets the same answer (the nonce is a
	 * function of tuple, token and reqno; the challenge is the new one). */
	boot = boot_secret();
	if (!boot)
		return V_DROP;
	mig_sip_nonce(boot, key, f->token, o->reqno, sc->nonce);
	now = bpf_ktime_get_ns();
	i = cand_find(f, key);
	if (i < MIG_NCAND && f->cand[i & 1].reqno == o->reqno) {
		/* A repeat keeps its expiry (a replayer cannot hold a slot
		 * longer than MIG_CAND_TTL_NS per tuple).  The slot is held
		 * (MIG_CAND_CLAIMING, as cand_claim does) while its challenge
		 * is written, so that no other CPU takes it meanwhile; held,
		 * it reads as live. */
		__u64 e;

		cd = &f->cand[i & 1];
		e = READ_ONCE(cd->expires_ns);
		if (e == MIG_CAND_CLAIMING ||
		    __sync_val_compare_and_swap(&cd->expires_ns, e, MIG_CAND_CLAIMING) != e) {
			mig_count(MIG_STAT_CAND_BUSY);
			return V_DROP;
		}
		if (!mig_tuple_eq(&cd->wire, key) || cd->reqno != o->reqno) {
			/* cleared or taken before we held it */
			WRITE_ONCE(cd->expires_ns, e);
			mig_count(MIG_STAT_CAND_BUSY);
			return V_DROP;
		}
		cd->challenge = p->ack;
		WRITE_ONCE(cd->expires_ns, e);
	} else {
		if (i < MIG_NCAND)
			cand_clear(f, s, i);
		i = cand_claim(c, f, s, key, now);
		if (i < 0)
			return V_DROP;
		/* ours alone until the expiry is written: the nonce before
		 * the tuple that makes the slot findable */
		cd = &f->cand[i & 1];
		cd->reqno = o->reqno;
		cd->challenge = p->ack;
		__builtin_memcpy(cd->nonce, sc->nonce, sizeof(cd->nonce));
		cd->wire = *key;
		WRITE_ONCE(cd->expires_ns, now + MIG_CAND_TTL_NS);
	}
	mig_sip_mac_ack(f->s_own, o->reqno, p->ack, sc->nonce, sc->tag);
	mig_opt_build_sig(sc->opt, MIG_SUB_MIGRATE_ACK, o->reqno, sc->nonce, sc->tag);
	mig_count(MIG_STAT_MSYN_ANSWERED);
	/* ack = the Migrate SYN's seq + 1, not RCV.NXT: a NAT's conntrack on
	 * the new path holds a SYN/ACK that acks more than the SYN it saw to
	 * be invalid and does not translate it (the mover's data that we have
	 * and it has not seen acked).  Nothing reads this ack: the mover's
	 * data path takes the SYN/ACK. */
	return reply(c, p, ss.snd_una - 1, p->seq + 1, TCP_SYN | TCP_ACK, sc->opt,
		     ss.rcv_wscale);
}

/*
 * Mover: a Migrate SYN/ACK.  Its mac binds our challenge and the nonce, so
 * it comes from whoever received our Migrate SYN; the first valid one of a
 * request commits and is the only nonce we ever confirm for it.  Repeats
 * of that one get the CONFIRM again.
 */
static __noinline enum verdict on_msynack(struct mig_ctx *c, struct mig_pkt *p,
					       const struct mig_tuple *key,
					       const struct mig_opt *o, __u32 ifindex)
{
	struct scratch *sc = scratch();
	struct mig_tuple s;
	struct sock_seqs ss;
	struct mig_pend *pe;
	struct mig_flow *f;
	struct mig_in *e;
	__u32 ch;

	if (!sc)
		return V_DROP;
	pe = bpf_map_lookup_elem(&mig_pend, key);
	if (pe) {
		s = pe->sock;
		ch = pe->challenge;
		if (o->reqno != pe->reqno)
			goto bad;
	} else {
		e = bpf_map_lookup_elem(&mig_ingress, key);
		if (!e || e->type != MIG_IN_XLATE) {
			if (transit(c, p, sc, ifindex)) {
				mig_count(MIG_STAT_TRANSIT);
				return V_PASS;
			}
			goto bad;
		}
		s = e->sock;
		ch = 0;
	}
	f = bpf_map_lookup_elem(&mig_flows, &s);
	if (!f)
		goto bad;
	if (!pe) {
		if (o->reqno != f->own_reqno)
			goto bad;
		ch = f->last_challenge;
	}
	if (mig_sip_tag_ack(f->s_peer, o->reqno, ch, o->id) != mig_sip_le64(o->mac))
		goto bad;
	if (sock_seqs(c, &s, &ss))
		goto bad;
	if (o->reqno == f->own_reqno) {
		if (!mac_eq(f->last_nonce, o->id))
			goto bad;        /* not the one we confirmed */
	} else if (pe && (__s32)(o->reqno - f->own_reqno) > 0) {
		__builtin_memcpy(f->last_nonce, o->id, 8);
		f->last_challenge = ch;
		f->own_reqno = o->reqno;
		if (commit(f, &s, key, ss.snd_nxt))
			return V_DROP;
		mig_count(MIG_STAT_COMMIT_MOVER);
		emit_ev(MIG_EV_MIGRATED, &s, 1, o->reqno);
	} else {
		goto bad;
	}
	mig_sip_mac_confirm(f->s_own, o->reqno, o->id, sc->tag);
	mig_opt_build_sig(sc->opt, MIG_SUB_CONFIRM, o->reqno, o->id, sc->tag);
	mig_count(MIG_STAT_CONFIRM_SENT);
	/* The handshake's third segment as a NAT's conntrack expects it: seq
	 * = the SYN/ACK's ack, ack = its seq + 1.  With RCV.NXT (data we got
	 * whose ACKs the move lost) conntrack calls it invalid and lets it out
	 * untranslated, from our private address: the fixed end never sees
	 * the CONFIRM.  The fixed end's data path takes it; nothing reads
	 * seq or ack. */
	return reply(c, p, p->ack, p->seq + 1, TCP_ACK, sc->opt, MIG_NO_WSCALE);
bad:
	mig_count(MIG_STAT_ACK_BAD);
	return V_DROP;
}

/* Fixed end: a CONFIRM from the wire tuple of a candidate of flow s. */
static __always_inline enum verdict on_confirm(struct mig_ctx *c,
					       const struct mig_tuple *key,
					       const struct mig_tuple *sp,
					       const struct mig_opt *o)
{
	struct scratch *sc = scratch();
	const struct mig_tuple *s = sp;   /* scratch: stays put */
	struct mig_cand *cd;
	struct mig_flow *f;
	__u64 now;
	__u32 d, i;

	f = bpf_map_lookup_elem(&mig_flows, s);
	if (!sc || !f)
		goto bad;
	i = cand_find(f, key);
	if (i >= MIG_NCAND)
		goto bad;
	now = bpf_ktime_get_ns();
	cd = &f->cand[i & 1];
	if (!cand_live(cd, now) || o->reqno != cd->reqno || !mac_eq(cd->nonce, o->id))
		goto bad;
	d = o->reqno - f->peer_reqno;
	if (d == 0 || d > MIG_MAC_WINDOW)
		goto bad;
	if (mig_sip_tag_confirm(f->s_peer, o->reqno, o->id) != mig_sip_le64(o->mac))
		goto bad;
	f->peer_reqno = o->reqno;
	if (sock_seqs(c, s, &sc->cs))
		sc->cs.snd_nxt = 0;
	if (commit(f, s, key, sc->cs.snd_nxt))
		return V_DROP;
	cand_clear(f, s, 0);
	cand_clear(f, s, 1);
	mig_count(MIG_STAT_COMMIT_FIXED);
	emit_ev(MIG_EV_MIGRATED, s, 2, o->reqno);
	return V_DROP;   /* consumed */
bad:
	mig_count(MIG_STAT_CONFIRM_BAD);
	return V_DROP;
}

/*
 * A segment from a candidate's wire tuple: the CONFIRM, or data after a
 * lost CONFIRM (never handed to the kernel, which would answer with a
 * RST; the agent, asked at most every 200 ms, sends the candidate's
 * SYN/ACK again).  An expired candidate is removed and the segment passes.
 */
static __noinline enum verdict on_cand(struct mig_ctx *c, struct mig_pkt *p,
					  const struct mig_tuple *key,
					  struct mig_cand_ref *r)
{
	struct scratch *sc = scratch();
	struct mig_flow *f;
	__u32 i, now_ms;

	if (!sc)
		return V_DROP;
	sc->s = r->sock;
	if (!(p->flags & TCP_SYN) && maybe_sig(p)) {
		__builtin_memset(&sc->o, 0, sizeof(sc->o));
		if (sig_opt(c, p, &sc->o) == MIG_OPT_FOUND && sc->o.type == MIG_OPT_T_CONFIRM)
			return on_confirm(c, key, &sc->s, &sc->o);
	}
	f = bpf_map_lookup_elem(&mig_flows, &sc->s);
	i = f ? cand_find(f, key) : MIG_NCAND;
	if (i >= MIG_NCAND || !cand_live(&f->cand[i & 1], bpf_ktime_get_ns())) {
		mig_cand_del(key);
		mig_count(MIG_STAT_CAND_EXPIRED);
		return V_PASS;
	}
	/* A RST from there: nobody at that address is migrating (a third
	 * host that a keyed peer pointed us at answers our SYN/ACK so).  The
	 * candidate goes, and no SYN/ACK is sent there again. */
	if (p->flags & TCP_RST) {
		cand_clear(f, &sc->s, i);
		mig_count(MIG_STAT_CAND_RESET);
		return V_DROP;
	}
	mig_count(MIG_STAT_CAND_DROP);
	/* only the mover's own segments (ACK set) ask for the SYN/ACK again */
	if (!(p->flags & TCP_ACK) || (p->flags & TCP_SYN))
		return V_DROP;
	now_ms = bpf_ktime_get_ns() / 1000000;
	if (now_ms - r->resend_ms > 200) {
		r->resend_ms = now_ms;
		emit_ev(MIG_EV_RESEND, key, 2, f->cand[i & 1].reqno);
	}
	return V_DROP;
}

/*
 * Rule 8 (MIGRATE-WAIT).  Every RST of a keyed flow that our stack sends
 * carries an 8-byte tag as its payload, SipHash(s_own, 5||seq||ack)
 * (docs/protocol.md: payload, not the RESET option, because the egress
 * hook cannot grow a TCP header safely; receivers ignore data on a RST).
 * A RST from the peer with a valid tag takes effect at once; any other RST
 * of a keyed flow (the new owner of an address the peer left, a spoofer
 * with the sequence numbers) is dropped for MIG_RST_HOLD_MS from the first
 * one, a commit meanwhile discards it, and after that RSTs take effect for
 * as long again.
 */
static __noinline int rst_sign(struct __sk_buff *skb, struct mig_pkt *p,
			       const struct mig_tuple *sock)
{
	struct scratch *sc = scratch();
	__u32 csum_off = l4_csum_off(p), off = p->l4 + p->hdr_len;
	__u16 olen, nlen;
	struct mig_flow *f;
	__s64 diff;

	if (!sc)
		return 0;
	f = bpf_map_lookup_elem(&mig_flows, sock);
	if (!f)
		return 0;
	mig_sip_mac_reset(f->s_own, p->seq, p->ack, sc->tag);
	if (bpf_skb_change_tail(skb, skb->len + MIG_RST_TAG_LEN, 0))
		return 0;                  /* sent unsigned: held at the peer */
	if (bpf_skb_store_bytes(skb, off, sc->tag, MIG_RST_TAG_LEN, 0))
		return -1;
	diff = bpf_csum_diff(NULL, 0, (__be32 *)sc->tag, MIG_RST_TAG_LEN, 0);
	olen = bpf_htons(p->hdr_len);
	nlen = bpf_htons(p->hdr_len + MIG_RST_TAG_LEN);
	/* data: only a full checksum covers it (helper knows which); length:
	 * the pseudo header, in both cases */
	if (bpf_l4_csum_replace(skb, csum_off, 0, diff, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, olen, nlen, BPF_F_PSEUDO_HDR | 2))
		return -1;
	if (p->family == AF_INET) {
		__u16 ot, nt;

		if (bpf_skb_load_bytes(skb, p->l3 + 2, &ot, 2))
			return -1;
		nt = bpf_htons(bpf_ntohs(ot) + MIG_RST_TAG_LEN);
		if (bpf_skb_store_bytes(skb, p->l3 + 2, &nt, 2, 0) ||
		    bpf_l3_csum_replace(skb, p->l3 + 10, ot, nt, 2))
			return -1;
	} else {
		__u16 ol, nl;

		if (bpf_skb_load_bytes(skb, p->l3 + 4, &ol, 2))
			return -1;
		nl = bpf_htons(bpf_ntohs(ol) + MIG_RST_TAG_LEN);
		if (bpf_skb_store_bytes(skb, p->l3 + 4, &nl, 2, 0))
			return -1;
	}
	p->payload = MIG_RST_TAG_LEN;
	mig_count(MIG_STAT_RST_SIGNED);
	return 0;
}

static __noinline enum verdict rst_check(struct mig_ctx *c, struct mig_pkt *p,
					 const struct mig_tuple *sock)
{
	struct scratch *sc = scratch();
	struct mig_flow *f;
	__u32 now_ms, held;

	if (!sc)
		return V_PASS;
	f = bpf_map_lookup_elem(&mig_flows, sock);
	if (!f || f->state == BPF_TCP_CLOSE)
		return V_PASS;
	if (p->payload == MIG_RST_TAG_LEN &&
	    !ctx_load(c, p->l4 + p->hdr_len, sc->mac, MIG_RST_TAG_LEN)) {
		if (mig_sip_tag_reset(f->s_peer, p->seq, p->ack) == mig_sip_le64(sc->mac)) {
			mig_count(MIG_STAT_RST_AUTH);
			return V_PASS;
		}
	}
	now_ms = bpf_ktime_get_ns() / 1000000;
	if (!now_ms)
		now_ms = 1;
	held = f->rst_held_ms;
	if (!held || now_ms - held >= 2 * MIG_RST_HOLD_MS) {
		f->rst_held_ms = now_ms;
		held = now_ms;
	}
	if (now_ms - held < MIG_RST_HOLD_MS) {
		mig_count(MIG_STAT_RST_HELD);
		return V_DROP;
	}
	mig_count(MIG_STAT_RST_RELEASED);
	return V_PASS;
}

/*
 * Replace the 32-bit word at off and keep one checksum right: at csum_off,
 * as an IPv4 header checksum (kind 0), as data of an ICMP/ICMPv6 message
 * or of a TCP segment (1), or through the ICMPv6 pseudo-header (2).  Kind 2 under TC: the
 * kernel's pseudo-header update takes the change off skb->csum of a
 * CHECKSUM_COMPLETE packet, right for IPv4 only (see mig_rewrite); for
 * IPv6 the address and the checksum field cancel, so bpf_csum_update
 * gives it back.
 */
static __always_inline int store32_csum(struct mig_ctx *c, __u32 off, __be32 from,
					__be32 to, __u32 csum_off, int kind)
{
	__u16 d;

	if (from == to)
		return 0;
	if (c->xdp)
		return bpf_xdp_store_bytes(c->ctx, off, &to, 4) ||
		       xdp_csum_update(c, csum_off, from, to);
	if (bpf_skb_store_bytes(c->ctx, off, &to, 4, 0))
		return -1;
	if (kind == 0)
		return bpf_l3_csum_replace(c->ctx, csum_off, from, to, 4);
	if (bpf_l4_csum_replace(c->ctx, csum_off, from, to,
				4 | (kind == 2 ? BPF_F_PSEUDO_HDR : 0)))
		return -1;
	d = csum_delta(&from, &to, 1, 0);
	if (kind == 2 && d)
		bpf_csum_update(c->ctx, d);
	return 0;
}

/*
 * An ICMP error about a segment we sent on a migrated flow quotes the wire
 * tuple, which our kernel cannot match to a socket: path MTU discovery
 * ("fragmentation needed", "packet too big") and unreachables would be
 * lost.  Rewrite the quoted header and the destination to the socket
 * tuple (issue: real networks).  Only quoted IPv4 headers without options.
 * An error quoting a retired tuple is dropped (icmp_in_dropped).
 */
static __noinline enum verdict icmp_in(struct mig_ctx *c, struct mig_pkt *p)
{
	struct scratch *sc = scratch();
	struct mig_tuple *k, *sk;
	__u32 in3, icsum, n, i;
	struct mig_in *e;
	bool v4 = p->family == AF_INET;
	__u8 *q;

	if (!sc)
		return V_PASS;
	q = sc->icmp;
	if (ctx_load(c, p->l4, q, v4 ? 8 + 20 + 8 : 8 + 40 + 8))
		return V_PASS;
	if (v4 ? !(q[0] == 3 || q[0] == 11 || q[0] == 12) :
		 !(q[0] >= 1 && q[0] <= 4))
		return V_PASS;
	k = &sc->w;
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	if (v4) {
		if (q[8] != 0x45 || q[8 + 9] != IPPROTO_TCP)
			return V_PASS;
		__builtin_memcpy(&k->laddr[0], q + 8 + 12, 4);
		__builtin_memcpy(&k->raddr[0], q + 8 + 16, 4);
		__builtin_memcpy(&k->lport, q + 28, 2);
		__builtin_memcpy(&k->rport, q + 30, 2);
	} else {
		if ((q[8] >> 4) != 6 || q[8 + 6] != IPPROTO_TCP)
			return V_PASS;
		__builtin_memcpy(k->laddr, q + 8 + 8, 16);
		__builtin_memcpy(k->raddr, q + 8 + 24, 16);
		__builtin_memcpy(&k->lport, q + 48, 2);
		__builtin_memcpy(&k->rport, q + 50, 2);
	}
	e = bpf_map_lookup_elem(&mig_ingress, k);
	if (!e)
		return V_PASS;
	/* the flow left that tuple and sends nothing there: an error quoting
	 * it is stale or forged, and never reaches the socket (its segments
	 * are dropped the same way: retired_dropped) */
	if (e->type == MIG_IN_RETIRED) {
		mig_count(MIG_STAT_ICMP_IN_DROP);
		return V_DROP;
	}
	if (e->type != MIG_IN_XLATE)
		return V_PASS;
	sk = &sc->s;
	*sk = e->sock;
	in3 = p->l4 + 8;
	icsum = p->l4 + 2;
	n = v4 ? 1 : 4;
	for (i = 0; i < 4; i++) {
		if (i >= n)
			break;
		/* outer destination: our wire address -> the socket's */
		if (store32_csum(c, p->l3 + (v4 ? 16 : 24) + 4 * i, p->daddr[i],
				 sk->laddr[i], v4 ? p->l3 + 10 : icsum, v4 ? 0 : 2) ||
		    /* quoted source and destination (IPv4: its own header
		     * checksum absorbs the change, the ICMP sum stays) */
		    store32_csum(c, in3 + (v4 ? 12 : 8) + 4 * i, k->laddr[i], sk->laddr[i],
				 v4 ? in3 + 10 : icsum, v4 ? 0 : 1) ||
		    store32_csum(c, in3 + (v4 ? 16 : 24) + 4 * i, k->raddr[i], sk->raddr[i],
				 v4 ? in3 + 10 : icsum, v4 ? 0 : 1))
			return V_DROP;
	}
	if (store32_csum(c, in3 + (v4 ? 20 : 40),
			 (__u32)k->lport | (__u32)k->rport << 16,
			 (__u32)sk->lport | (__u32)sk->rport << 16, icsum, 1))
		return V_DROP;
	mig_count(MIG_STAT_ICMP_XLATE);
	return V_PASS;
}

/*
 * The route memo of a flow whose peer moved (struct mig_out, mig_abi.h):
 * what reroute found the last time, kept while the namespace's route
 * generation has not moved since.  IPv4: rt_genid, which the kernel
 * moves whenever a cached IPv4 route may have gone stale (rt_cache_flush:
 * a route added, or deleted after a lookup found it, a rule, an address,
 * a device going down or up, forwarding turned on or off) and checks its
 * own cached routes against.  IPv6 has no such number (the kernel checks
 * its cached routes node by node): fib6_sernum moves when a route is
 * added or replaced, a rule changes or the tree is flushed, and
 * rt6_stats->fib_discarded_routes when one is deleted (an address or a
 * device going away deletes its routes); their sum is the generation,
 * and only "same next hop" is kept (whether forwarding on lo changing
 * moves either is not said: lo6_fwd_off reads the setting instead).  The
 * build for Linux 6.2 on reads them from the skb's device
 * (bpf_cast_to_kern_ctx); the other keeps no memo.  What no generation
 * tells: a neighbour's MAC that changes with the routes as they were
 * (the memo's "same next hop" holds until the next route change).
 */
#ifdef MIG_TC_KCTX
/* The network namespace of the skb's device (NULL: unknown, ask the
 * FIB): what rt_gen and lo6_fwd_off read from. */
static __always_inline struct net *skb_net(struct mig_ctx *c)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(c->ctx);
	struct net_device *dev = kskb->dev;

	if (!dev || !bpf_core_field_exists(dev->nd_net.net))
		return NULL;
	return dev->nd_net.net;
}

static __always_inline bool rt_gen(struct net *net, __u8 family, __u32 *gen)
{
	if (family == AF_INET) {
		if (!bpf_core_field_exists(net->ipv4.rt_genid))
			return false;
		*gen = (__u32)net->ipv4.rt_genid.counter;
	} else {
		struct rt6_statistics *st;

		if (!bpf_core_field_exists(net->ipv6.fib6_sernum) ||
		    !bpf_core_field_exists(net->ipv6.rt6_stats))
			return false;
		st = net->ipv6.rt6_stats;
		if (!st)
			return false;
		*gen = (__u32)net->ipv6.fib6_sernum.counter + st->fib_discarded_routes;
	}
	return true;
}

/* IPv6: would the kernel refuse reroute's lookup at once, lo not
 * forwarding?  The helper's own first test (bpf_ipv6_fib_lookup: lo's
 * inet6_dev, cnf.forwarding) read here, exact and without a cache; false
 * when unsure (an address the helper answers before it looks at lo:
 * link-local, multicast, loopback; force_forwarding set; no inet6_dev),
 * and the helper is asked. */
static __always_inline bool lo6_fwd_off(struct net *net, const struct mig_tuple *w)
{
	const __u32 *a[2] = { w->raddr, w->laddr };
	struct net_device *lo;
	struct inet6_dev *idev;
	int i;

	for (i = 0; i < 2; i++) {
		__u32 a0 = bpf_ntohl(a[i][0]);

		if ((a0 >> 24) == 0xff || (a0 >> 22) == (0xfe80 >> 6))
			return false;
		if (!(a[i][0] | a[i][1] | a[i][2]) && bpf_ntohl(a[i][3]) == 1)
			return false;
	}
	lo = net->loopback_dev;
	if (!lo || !bpf_core_field_exists(lo->ip6_ptr))
		return false;
	idev = lo->ip6_ptr;
	if (!idev || idev->cnf.forwarding)
		return false;
	if (bpf_core_field_exists(idev->cnf.force_forwarding) && idev->cnf.force_forwarding)
		return false;
	return true;
}
#endif

static __always_inline void rt_memo_put(struct mig_out *memo, __u32 gen, __u8 kind)
{
#ifdef MIG_TC_KCTX
	/* (two plain stores: a reader on another CPU that sees one of them
	 * only either asks the FIB or passes the segment, as both memos do) */
	if (memo) {
		memo->rt_gen = gen;
		memo->rt_memo = kind;
	}
#else
	(void)memo, (void)gen, (void)kind;
#endif
}

/*
 * After the rewrite to wire tuple w (our view), on egress: the kernel
 * routed the segment, and resolved its next hop, for the socket's
 * destination.  When the peer moved, the route to where it is now can
 * leave by another device or next hop (its old address was on our own
 * link; two uplinks with policy routing by source): ask the FIB as an
 * output route lookup does (input interface lo, any output device, the
 * rules by source) and follow its answer.  Same device and next hop:
 * nothing to do; same device, another next hop: the MACs; another
 * device, or no neighbour entry yet: bpf_redirect_neigh, which resolves
 * the next hop there.  The redirected segment passes this program again
 * on its new device, as the wire tuple, which no socket tuple in
 * mig_egress matches: it is not translated twice.
 *
 * Linux answers FIB lookups only for an interface that forwards (6.1 as
 * later kernels): lo must have forwarding on (net.ipv4.conf.lo.forwarding,
 * net.ipv6.conf.lo.forwarding, which make no other interface forward);
 * without it every segment is counted (route_fwd_off) and left on the
 * socket's route, as are those for which the FIB has no usable route
 * (route_failed).  Costs one lookup per segment of flows whose peer
 * moved, but for the answers kept in the flow's route memo (memo: its
 * mig_egress entry, NULL for none; gen: the route generation read before
 * the lookup, see rt_gen).
 */
static __noinline enum verdict reroute(struct mig_ctx *c, const struct mig_tuple *w,
				       __u8 proto, struct mig_out *memo, __u32 gen)
{
	struct __sk_buff *skb = c->ctx;
	struct scratch *sc = scratch();
	struct bpf_fib_lookup *fl;
	__u8 *eth;
	long rc;

	/* (not from a device without a link-layer header: the kernel's
	 * redirect to a neighbour needs one to take off) */
	if (!sc || c->xdp || !c->l2)
		return V_PASS;
	fl = &sc->fib;
	__builtin_memset(fl, 0, sizeof(*fl));
	fl->family = w->family;
	fl->l4_protocol = proto;
	if (proto == IPPROTO_TCP) {
		fl->sport = w->lport;
		fl->dport = w->rport;
	}
	fl->ifindex = LOOPBACK_IFINDEX;
	if (w->family == AF_INET) {
		fl->ipv4_src = w->laddr[0];
		fl->ipv4_dst = w->raddr[0];
	} else {
		__builtin_memcpy(fl->ipv6_src, w->laddr, 16);
		__builtin_memcpy(fl->ipv6_dst, w->raddr, 16);
	}
	rc = bpf_fib_lookup(skb, fl, sizeof(*fl), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS && fl->ifindex == skb->ifindex) {
		eth = sc->mac;
		if (bpf_skb_load_bytes(skb, 0, eth, 6))
			return V_PASS;
		if (*(__u32 *)eth == *(__u32 *)fl->dmac &&
		    *(__u16 *)(eth + 4) == *(__u16 *)(fl->dmac + 4)) {
			rt_memo_put(memo, gen, MIG_RT_SAME);
			return V_PASS;
		}
		if (bpf_skb_store_bytes(skb, 0, fl->dmac, 6, 0) ||
		    bpf_skb_store_bytes(skb, 6, fl->smac, 6, 0))
			return V_DROP;
		mig_count(MIG_STAT_ROUTE_MAC);
		return V_PASS;
	}
	if (rc == BPF_FIB_LKUP_RET_SUCCESS || rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		/* the FIB left the next hop (gateway or destination) in dst */
		__builtin_memset(&sc->nh, 0, sizeof(sc->nh));
		sc->nh.nh_family = w->family;
		if (w->family == AF_INET)
			sc->nh.ipv4_nh = fl->ipv4_dst;
		else
			__builtin_memcpy(sc->nh.ipv6_nh, fl->ipv6_dst, 16);
		if (bpf_redirect_neigh(fl->ifindex, &sc->nh, sizeof(sc->nh), 0) !=
		    TC_ACT_REDIRECT) {
			mig_count(MIG_STAT_ROUTE_FAIL);
			return V_PASS;
		}
		mig_count(MIG_STAT_ROUTE_REDIRECT);
		return V_REDIR;
	}
	if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED) {
		if (w->family == AF_INET)
			rt_memo_put(memo, gen, MIG_RT_FWD_OFF);
		mig_count(MIG_STAT_ROUTE_FWD_OFF);
	} else {
		mig_count(MIG_STAT_ROUTE_FAIL);
	}
	return V_PASS;
}

/*
 * An ICMP error that we send (egress) about a segment of a migrated flow:
 * the kernel answers the segment as the ingress rewrite delivered it, so
 * the error quotes the socket tuple (the peer's address and port as the
 * source, ours as the destination) and goes from our socket address to
 * the peer's.  Rewritten to the wire tuple: the quoted addresses and
 * ports, the quoted TCP checksum when the quote holds it, the outer
 * source when it is our socket address and the outer destination when it
 * is the peer's socket address (then routed again: egress calls reroute
 * when this returns V_REDIR); every
 * checksum kept right (quoted and outer IPv4 header checksums, the
 * ICMP checksum, the ICMPv6 pseudo-header).  An error quoting a flow that
 * is held (our address went away) or whose socket tuple is retired
 * without a translation is dropped (icmp_out_dropped): no error reveals
 * an untranslated tuple.  Errors only: ICMP types 3, 11, 12, ICMPv6 1-4;
 * a quoted IPv4 header may carry options (a parameter problem about an
 * option quotes them).
 */
static __always_inline bool mig_addr_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* Replace n (1 or 4) 32-bit words at off, from -> to, keeping the
 * checksum at csum_off right (kind as store32_csum: 0 IPv4 header, 1
 * ICMP data, 2 ICMPv6 pseudo-header); ck = csum_off | kind << 16 |
 * n << 24.  A function of its own: icmp_out's frame with mig_out_tc's
 * must stay within 512 bytes under Linux 6.1's accounting. */
static __noinline int out_words(struct __sk_buff *skb, __u32 off, const __u32 *from,
				const __u32 *to, __u32 ck)
{
	__u32 n = ck >> 24, kind = (ck >> 16) & 0xff, csum_off = ck & 0xffff, i;

#pragma clang loop unroll(disable)
	for (i = 0; i < 4; i++) {
		if (i >= n)
			break;
		if (from[i] == to[i])
			continue;
		if (bpf_skb_store_bytes(skb, off + 4 * i, &to[i], 4, 0))
			return -1;
		if (kind == 0) {
			if (bpf_l3_csum_replace(skb, csum_off, from[i], to[i], 4))
				return -1;
		} else if (bpf_l4_csum_replace(skb, csum_off, from[i], to[i],
					       4 | (kind == 2 ? BPF_F_PSEUDO_HDR : 0))) {
			return -1;
		}
	}
	return 0;
}

static __noinline enum verdict icmp_out(struct mig_ctx *c, struct mig_pkt *p,
					const struct mig_host *h)
{
	struct __sk_buff *skb = c->ctx;
	struct scratch *sc = scratch();
	struct mig_tuple *k, *w;
	__u32 in3, l4q, ihl, n, ck;
	bool v4 = p->family == AF_INET;
	struct mig_hold *hd;
	struct mig_flow *f;
	struct mig_out *e;
	struct mig_in *r;
	__u64 s;
	__u8 *q;

	if (!sc || c->xdp)
		return V_PASS;
	q = sc->icmp;
	if (ctx_load(c, p->l4, q, v4 ? 8 + 20 : 8 + 40))
		return V_PASS;
	if (v4 ? !(q[0] == 3 || q[0] == 11 || q[0] == 12) :
		 !(q[0] >= 1 && q[0] <= 4))
		return V_PASS;
	in3 = p->l4 + 8;
	if (v4) {
		ihl = (q[8] & 0x0f) * 4;
		if ((q[8] >> 4) != 4 || ihl < 20 || q[8 + 9] != IPPROTO_TCP)
			return V_PASS;
	} else {
		ihl = 40;
		if ((q[8] >> 4) != 6 || q[8 + 6] != IPPROTO_TCP)
			return V_PASS;
	}
	l4q = in3 + ihl;
	if (ctx_load(c, l4q, &sc->qp[0], 4))
		return V_PASS;
	/* our orientation: the quoted segment came from the peer */
	k = &sc->qs;
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	if (v4) {
		__builtin_memcpy(&k->raddr[0], q + 8 + 12, 4);
		__builtin_memcpy(&k->laddr[0], q + 8 + 16, 4);
	} else {
		__builtin_memcpy(k->raddr, q + 8 + 8, 16);
		__builtin_memcpy(k->laddr, q + 8 + 24, 16);
	}
	k->rport = sc->qp[0] & 0xffff;      /* (network order, as stored) */
	k->lport = sc->qp[0] >> 16;

	if (h && h->holds) {
		hd = bpf_map_lookup_elem(&mig_hold, k);
		if (hd) {
			f = bpf_map_lookup_elem(&mig_flows, k);
			if (!f || f->migrated_ns <= hd->since_ns)
				goto drop;
		}
	}
	e = bpf_map_lookup_elem(&mig_egress, k);
	if (!e) {
		r = bpf_map_lookup_elem(&mig_ingress, k);
		if (r && r->type == MIG_IN_RETIRED)
			goto drop;
		return V_PASS;
	}
	w = &sc->qw;
	*w = e->wire;
	n = (v4 ? 1 : 4) << 24;
	/* outer source: our socket address -> our wire address; outer
	 * destination: the peer's socket address -> where it is now (whole
	 * addresses: one that only shares words with the tuple stays) */
	ck = v4 ? p->l3 + 10 : (p->l4 + 2) | 2 << 16;
	if (mig_addr_eq(p->saddr, k->laddr) &&
	    out_words(skb, p->l3 + (v4 ? 12 : 8), k->laddr, w->laddr, ck | n))
		return V_DROP;
	sc->qv = 0;    /* "the outer destination moved": reroute */
	if (mig_addr_eq(p->daddr, k->raddr) && !mig_addr_eq(k->raddr, w->raddr)) {
		if (out_words(skb, p->l3 + (v4 ? 16 : 24), k->raddr, w->raddr, ck | n))
			return V_DROP;
		sc->qv = 1;
	}
	/* quoted source (the peer) and destination (us); IPv4: the quoted
	 * header checksum absorbs it, the ICMP sum stays */
	ck = v4 ? in3 + 10 : (p->l4 + 2) | 1 << 16;
	if (out_words(skb, in3 + (v4 ? 12 : 8), k->raddr, w->raddr, ck | n) ||
	    out_words(skb, in3 + (v4 ? 16 : 24), k->laddr, w->laddr, ck | n))
		return V_DROP;
	/* ports: ICMP data */
	sc->qn[0] = (__u32)w->rport | (__u32)w->lport << 16;
	if (out_words(skb, l4q, sc->qp, sc->qn, (p->l4 + 2) | 1 << 16 | 1 << 24))
		return V_DROP;
	/* the quoted TCP checksum, when the quote holds it: as the peer's
	 * segment carried it on the wire (its pseudo-header and ports) */
	if (l4q + 18 <= skb->len && !bpf_skb_load_bytes(skb, l4q + 16, &sc->qc[0], 2)) {
		s = (__u16)~sc->qc[0];
		s += (__u32)bpf_csum_diff(k->raddr, 16, w->raddr, 16, 0);
		s += (__u32)bpf_csum_diff(k->laddr, 16, w->laddr, 16, 0);
		s += (__u16)~k->rport + (__u16)~k->lport + w->rport + w->lport;
		sc->qc[1] = ~csum_fold(s);
		if (sc->qc[1] != sc->qc[0] &&
		    (bpf_skb_store_bytes(skb, l4q + 16, &sc->qc[1], 2, 0) ||
		     bpf_l4_csum_replace(skb, p->l4 + 2, sc->qc[0], sc->qc[1], 2)))
			return V_DROP;
	}
	mig_count(MIG_STAT_ICMP_XLATE_OUT);
	return sc->qv ? V_REDIR : V_PASS;
drop:
	mig_count(MIG_STAT_ICMP_OUT_DROP);
	return V_DROP;
}

static __noinline enum verdict stray_sig(struct mig_ctx *c, struct mig_pkt *p,
					 __u32 ifindex)
{
	struct scratch *sc = scratch();

	if (!sc)
		return V_PASS;
	__builtin_memset(&sc->o, 0, sizeof(sc->o));
	if (sig_opt(c, p, &sc->o) != MIG_OPT_FOUND || sc->o.type != MIG_OPT_T_CONFIRM)
		return V_PASS;
	if (transit(c, p, sc, ifindex)) {
		mig_count(MIG_STAT_TRANSIT);
		return V_PASS;
	}
	mig_count(MIG_STAT_CONFIRM_BAD);
	return V_DROP;
}

/*
 * A TCP segment the shim cannot translate: an IPv4 fragment, or an IPv6
 * packet with extension headers.  Only the first fragment names its ports;
 * if the tuple is a migrated flow's (the wire tuple on ingress, the socket
 * tuple on egress), the packet is dropped and counted (frag_dropped): on
 * ingress the kernel would reassemble it for a tuple it has no socket for
 * and reset, on egress it would leave with the socket's old address.
 * Later fragments carry no ports and pass; without their first one they
 * never reach TCP.  At most three IPv6 extension headers are walked.
 * l3: where the IP header starts (mig_parse found it: after a VLAN tag
 * under XDP, at 0 on a device without a link-layer header); mig_parse
 * also checked the EtherType against the IP version.
 */
static __noinline enum verdict frag_check(struct mig_ctx *c, __u32 l3, bool ingress)
{
	struct scratch *sc = scratch();
	struct mig_tuple *t;
	__u32 off, nh;
	__u8 *b, *h;
	__be16 ports[2];
	int i;

	if (!sc)
		return V_PASS;
	b = sc->frame;
	t = &sc->s;
	__builtin_memset(t, 0, sizeof(*t));
	if (l3 > ETH_HLEN + 4 || ctx_load(c, l3, b, 20))
		return V_PASS;
	if ((b[0] >> 4) == 4) {
		const __u8 *ip = b;

		/* later fragments: no ports */
		if ((ip[6] & 0x1f) || ip[7] || ip[9] != IPPROTO_TCP)
			return V_PASS;
		off = l3 + (ip[0] & 0x0f) * 4;
		t->family = AF_INET;
		__builtin_memcpy(ingress ? t->raddr : t->laddr, ip + 12, 4);
		__builtin_memcpy(ingress ? t->laddr : t->raddr, ip + 16, 4);
	} else if ((b[0] >> 4) == 6) {
		if (ctx_load(c, l3, b, 40))
			return V_PASS;
		nh = b[6];
		off = l3 + 40;
		t->family = AF_INET6;
		__builtin_memcpy(ingress ? t->raddr : t->laddr, b + 8, 16);
		__builtin_memcpy(ingress ? t->laddr : t->raddr, b + 24, 16);
		h = sc->icmp;   /* 8 bytes of each extension header */
		for (i = 0; i < 3; i++) {
			if (nh == IPPROTO_TCP)
				break;
			if (ctx_load(c, off, h, 8))
				return V_PASS;
			if (nh == 44) {                 /* fragment */
				if ((h[2] << 8 | h[3]) & 0xfff8)
					return V_PASS;  /* not the first */
				off += 8;
			} else if (nh == 0 || nh == 43 || nh == 60) {
				off += ((__u32)h[1] + 1) * 8;
			} else {
				return V_PASS;
			}
			nh = h[0];
		}
		if (nh != IPPROTO_TCP)
			return V_PASS;
	} else {
		return V_PASS;
	}
	if (off > 512 || ctx_load(c, off, ports, sizeof(ports)))
		return V_PASS;
	t->lport = ingress ? ports[1] : ports[0];
	t->rport = ingress ? ports[0] : ports[1];
	if (!bpf_map_lookup_elem(ingress ? (void *)&mig_ingress : (void *)&mig_egress, t))
		return V_PASS;
	mig_count(MIG_STAT_FRAG_DROP);
	return V_DROP;
}

/* Is an old address kept on lo (mig_kept) in use?  Only then does the
 * data path look at the frames below. */
static __always_inline bool kept_gate(void)
{
	__u32 zero = 0;
	struct mig_host *h = bpf_map_lookup_elem(&mig_host, &zero);

	return h && h->kept;
}

/* An ARP request for an old address the agent keeps on lo: the address
 * is no longer ours on any link, so the kernel must not answer for it
 * (it would, from lo, whatever the scope).  Ethernet only: a device
 * without a link-layer header has no ARP. */
static __noinline enum verdict kept_arp(struct mig_ctx *c)
{
	struct scratch *sc = scratch();
	const __u8 *b;

	if (!sc || ctx_load(c, 0, sc->frame, ETH_HLEN + 28))
		return V_PASS;
	b = sc->frame;
	/* Ethernet, IPv4, 6 + 4 byte addresses, request */
	if (b[12] != 0x08 || b[13] != 0x06 || b[14] || b[15] != 1 ||
	    b[16] != 0x08 || b[17] || b[18] != 6 || b[19] != 4 || b[20] || b[21] != 1)
		return V_PASS;
	__builtin_memset(&sc->ka, 0, sizeof(sc->ka));
	sc->ka.family = AF_INET;
	__builtin_memcpy(&sc->ka.addr[0], b + ETH_HLEN + 24, 4);
	if (!bpf_map_lookup_elem(&mig_kept, &sc->ka))
		return V_PASS;
	mig_count(MIG_STAT_KEPT_ARP);
	return V_DROP;
}

/* A packet leaving from an old address the agent keeps on lo, that no
 * translation rewrote: anything but a keyed flow's segments (a plain
 * connection on the old address, a fragment, an ICMP error) would leak
 * an address that is no longer ours onto the wire, and is dropped.  A
 * keyed flow's segment (key: its tuple, NULL for what is not a TCP
 * segment) is held instead, as the agent's hold would (V_HOLD: "sent",
 * lost on the path): the agent holds each flow of a lost address in its
 * pass, which for 100,000 flows takes seconds, and a segment dropped
 * locally meanwhile makes the socket probe every 500 ms without backoff
 * and give up after tcp_retries2 (15) tries, 7.5 s, with ETIMEDOUT when
 * nothing else was in flight (the mass migration lost 500 to 1,300
 * connections so). */
static __noinline enum verdict kept_src(struct mig_ctx *c, const struct mig_tuple *key)
{
	struct scratch *sc = scratch();
	const __u8 *b;

	if (!sc || ctx_load_frame(c, c->l2, sc->frame, 40))
		return V_PASS;
	b = sc->frame;
	__builtin_memset(&sc->ka, 0, sizeof(sc->ka));
	if (b[12] == 0x08 && b[13] == 0x00 && (b[ETH_HLEN] >> 4) == 4) {
		sc->ka.family = AF_INET;
		__builtin_memcpy(&sc->ka.addr[0], b + ETH_HLEN + 12, 4);
	} else if (b[12] == 0x86 && b[13] == 0xdd && (b[ETH_HLEN] >> 4) == 6) {
		sc->ka.family = AF_INET6;
		__builtin_memcpy(sc->ka.addr, b + ETH_HLEN + 8, 16);
	} else {
		return V_PASS;
	}
	if (!bpf_map_lookup_elem(&mig_kept, &sc->ka))
		return V_PASS;
	if (key && bpf_map_lookup_elem(&mig_flows, key)) {
		mig_count(MIG_STAT_HOLD_DROP);
		return V_HOLD;
	}
	mig_count(MIG_STAT_KEPT_SRC);
	return V_DROP;
}

/*
 * ts_clear's SACK blocks (NOP, NOP, SACK right after the timestamps): a
 * block above the ACK that names data the peer held before the move is
 * made empty ([ACK - 1, ACK - 1], which the kernel discards), so that the
 * socket takes no round trip from it.  The commit bounds such data by the
 * socket's SND.NXT then (mig_flow.sack_hi).  On the first segment after
 * the commit every block above the ACK that ends within the bound is such
 * a block, and the highest end among them becomes the bound; later
 * segments lose the blocks that end at or below it (a block grown from
 * one of them by a retransmission included).  Blocks below the ACK
 * (D-SACK: the duplicate the resume nudge made, PROTOCOL.md "Resuming")
 * stay: the kernel counts one as delivered, which lets it retransmit at
 * once.  Blocks beyond the bound name data sent after the commit, such as
 * what the congestion restart pushes, perhaps SACKed before the peer's
 * first segment reached here; recovery needs them.
 */
static __noinline int sack_hide(struct mig_ctx *c, const struct mig_pkt *p,
				struct mig_flow *f, bool first)
{
	__u32 cs = p->l4 + 16, off, len, n, s, i, st, en, hi = 0, hidden = 0;
	__be32 w, b[2], z = bpf_htonl(p->ack - 1);

	if (!f->sack_hi)
		return 0;
	if (p->hdr_len < 44 || ctx_load(c, p->l4 + 32, &w, 4))
		goto none;
	s = bpf_ntohl(w);
	len = s & 0xff;
	if ((s & 0xffffff00) != 0x01010500 || len < 10 || (len - 2) % 8 || 34 + len > p->hdr_len)
		goto none;
	n = (len - 2) / 8;      /* at most 3 here: 40 bytes of options */
	for (i = 0; i < 3; i++) {
		if (i >= n)
			break;
		off = p->l4 + 36 + 8 * i;
		if (ctx_load(c, off, b, 8))
			goto none;
		st = bpf_ntohl(b[0]);
		en = bpf_ntohl(b[1]);
		if ((__s32)(st - p->ack) < 0)
			continue;                               /* D-SACK */
		if ((__s32)(en - f->sack_hi) > 0)
			continue;                               /* sent after the move */
		if (first && (!hi || (__s32)(en - hi) > 0))
			hi = en;
		if (store32_csum(c, off, b[0], z, cs, 1) || store32_csum(c, off + 4, b[1], z, cs, 1))
			return -1;
		hidden++;
	}
	if (first)
		f->sack_hi = hi;
	if (hidden)
		mig_count(MIG_STAT_SACK_HIDDEN);
	return 0;
none:
	/* a first segment without blocks: the peer held nothing above it */
	if (first)
		f->sack_hi = 0;
	return 0;
}

/*
 * A segment on a translation installed by a commit (e->ts set), while the
 * peer still echoes what it last heard before the move (enum mig_ts_state,
 * docs/protocol.md "Timestamps and SACK blocks after a move"): its echo is
 * cleared, and SACK blocks that name what the peer's socket held before
 * the move are hidden from the socket (sack_hide): they would give a
 * round-trip sample as long as the outage, as the echo would.  The stale
 * echo is the first one seen here, on a segment whose ACK the socket could
 * accept; the first newer echo ends it, MIG_TS_STALE_NS after the commit
 * at the latest.
 * Only the layout Linux and most stacks send (NOP, NOP, Timestamps at the
 * start of the options, RFC 7323 appendix A; NOP, NOP, SACK next) is
 * looked at; a segment without it changes nothing.  Off the common path:
 * the translation of a flow that did not just move costs one byte compare.
 */
static __noinline int ts_clear(struct mig_ctx *c, const struct mig_pkt *p, struct mig_in *e)
{
	bool first = e->ts == MIG_TS_FIRST;
	struct sock_seqs ss;
	struct mig_flow *f;
	__be32 o[3];
	__u32 ecr;

	if (p->hdr_len < 32 || (p->flags & (TCP_ACK | TCP_RST)) != TCP_ACK ||
	    ctx_load(c, p->l4 + 20, o, 12))
		return 0;
	if (o[0] != bpf_htonl(0x0101080a))
		return 0;
	ecr = bpf_ntohl(o[2]);
	if (!ecr)
		return 0;
	f = bpf_map_lookup_elem(&mig_flows, &e->sock);
	if (!f || bpf_ktime_get_ns() - f->migrated_ns > MIG_TS_STALE_NS) {
		e->ts = MIG_TS_OFF;
		return 0;
	}
	/* what the first segment sets must come from the peer's socket: an
	 * ACK its socket could send (between SND.UNA and SND.NXT here), as
	 * the kernel itself would accept; anything else is left alone */
	if (first && (sock_seqs(c, &e->sock, &ss) || (__s32)(p->ack - ss.snd_una) < 0 ||
		      (__s32)(ss.snd_nxt - p->ack) < 0))
		return 0;
	if (first) {
		e->ts_stale = ecr;
		e->ts = MIG_TS_STALE;
	} else if ((__s32)(ecr - e->ts_stale) > 0) {
		e->ts = MIG_TS_OFF;
		return 0;
	}
	if (store32_csum(c, p->l4 + 28, o[2], 0, p->l4 + 16, 1))
		return -1;
	mig_count(MIG_STAT_TSECR_CLEARED);
	return sack_hide(c, p, f, first);
}

/*
 * After a commit, the peer's segments carry a marker for our own socket
 * (MIG_CC_MARK_KIND) until its sock_ops program has restarted its
 * congestion state on one of them (cc_restart in mig_sockops.bpf.c;
 * docs/protocol.md, "Congestion state after a commit"), MIG_CC_MARK_NS at
 * most: the two NOPs in front of the first option, the layout Linux sends
 * its timestamps and SACK blocks in, become that two-byte option, which
 * the kernel does not know and so shows to a program that asks for such
 * segments.  A segment without them is left alone.  Off the common path:
 * a flow that did not just move costs one byte compare (e->cc).
 */
static __noinline int cc_mark(struct mig_ctx *c, const struct mig_pkt *p, struct mig_in *e)
{
	struct mig_flow *f;
	__be32 o, n;

	f = bpf_map_lookup_elem(&mig_flows, &e->sock);
	if (!f || f->cc_done == (__u16)f->migrations ||
	    bpf_ktime_get_ns() - f->migrated_ns > MIG_CC_MARK_NS) {
		e->cc = 0;
		return 0;
	}
	if (p->hdr_len < 24 || (p->flags & (TCP_SYN | TCP_RST)) ||
	    ctx_load(c, p->l4 + 20, &o, 4))
		return 0;
	if ((bpf_ntohl(o) >> 16) != 0x0101)
		return 0;
	n = bpf_htonl(((__u32)MIG_CC_MARK_KIND << 24) | (2U << 16) | (bpf_ntohl(o) & 0xffff));
	if (store32_csum(c, p->l4 + 20, o, n, p->l4 + 16, 1))
		return -1;
	mig_count(MIG_STAT_CC_MARKED);
	return 0;
}

static __always_inline enum verdict ingress(struct mig_ctx *c, __u32 ifindex)
{
	struct mig_gate *g;
	int i;
	__u32 zero = 0;
	struct mig_cand_ref *r;
	struct scratch *sc;
	struct mig_tuple key;
	struct mig_pkt p;
	struct mig_in *e;
	struct mig_opt *o;
	__u8 fl;

	i = mig_parse(c, &p);
	if (i == MIG_PARSE_ICMP)
		return icmp_in(c, &p);
	if (i == MIG_PARSE_FRAG)
		return frag_check(c, p.l3, true);
	if (i)
		return c->l2 && kept_gate() ? kept_arp(c) : V_PASS;
	mig_pkt_key(&p, true, &key);
	fl = p.flags;

	/* (the parsed option lives in the per-CPU scratch: the stack is
	 * 512 bytes for this frame and the signalling calls together) */
	if ((fl & TCP_SYN) && maybe_sig(&p)) {
		sc = scratch();
		if (!sc)
			return V_PASS;
		o = &sc->o;
		__builtin_memset(o, 0, sizeof(*o));
		if (sig_opt(c, &p, o) == MIG_OPT_FOUND) {
			if (!(fl & TCP_ACK) && o->type == MIG_OPT_T_MIGRATE)
				return on_msyn(c, &p, &key, o, ifindex);
			if ((fl & TCP_ACK) && o->type == MIG_OPT_T_MIGRATE_ACK)
				return on_msynack(c, &p, &key, o, ifindex);
		}
	}

	e = mig_xf_maybe(&key) ? bpf_map_lookup_elem(&mig_ingress, &key) : NULL;
	if (e) {
		if (e->type == MIG_IN_RETIRED) {
			/* the flow left this tuple: whoever sends here now
			 * (the old address's new owner) reaches nobody, unless
			 * the flow itself asked to come back here */
			r = bpf_map_lookup_elem(&mig_cand, &key);
			if (r && mig_tuple_eq(&r->sock, &e->sock))
				return on_cand(c, &p, &key, r);
			mig_count(MIG_STAT_RETIRED_DROP);
			return V_DROP;
		}
		/* a CONFIRM repeated after the commit is ours, not the kernel's */
		if (!(fl & TCP_SYN) && maybe_sig(&p)) {
			sc = scratch();
			if (!sc)
				return V_DROP;
			o = &sc->o;
			__builtin_memset(o, 0, sizeof(*o));
			if (sig_opt(c, &p, o) == MIG_OPT_FOUND && o->type == MIG_OPT_T_CONFIRM)
				return V_DROP;
		}
		if ((fl & TCP_RST) && rst_check(c, &p, &e->sock) == V_DROP)
			return V_DROP;
		if (!e->seen)
			e->seen = 1;   /* once per translation */
		if (e->ts && ts_clear(c, &p, e))
			return V_DROP;
		if (e->cc && cc_mark(c, &p, e))
			return V_DROP;
		if (mig_rewrite(c, &p, &e->sock, true))
			return V_DROP;
		mig_count(MIG_STAT_XLATE_IN);
		return V_PASS;
	}
	g = bpf_map_lookup_elem(&mig_gate, &zero);
	if (g && g->cands) {
		r = bpf_map_lookup_elem(&mig_cand, &key);
		if (r)
			return on_cand(c, &p, &key, r);
	}
	if (fl & TCP_RST)
		return rst_check(c, &p, &key);
	/* A CONFIRM nothing here asked for (PROTOCOL.md 6: dropped
	 * silently), unless it is passing through */
	if (!(fl & TCP_SYN) && maybe_sig(&p))
		return stray_sig(c, &p, ifindex);
	return V_PASS;
}

static __always_inline enum verdict egress(struct mig_ctx *c)
{
	struct mig_tuple key, w;
	struct mig_host *h;
	struct mig_out *e;
	struct mig_pkt p;
	__u32 zero = 0;
	int i;

	i = mig_parse(c, &p);
	if (i == 0) {
		mig_pkt_key(&p, false, &key);
	} else {
		key.family = 0;
	}
	h = bpf_map_lookup_elem(&mig_host, &zero);
	if (!key.family) {  /* not a TCP segment we may look at */
		if (i == MIG_PARSE_FRAG && frag_check(c, p.l3, false) == V_DROP)
			return V_DROP;
		if (i == MIG_PARSE_ICMP) {
			i = icmp_out(c, &p, h);
			if (i == V_REDIR) { /* translated, the destination moved */
				struct scratch *sc = scratch();

				return sc ? reroute(c, &sc->qw, p.family == AF_INET ?
						    IPPROTO_ICMP : IPPROTO_ICMPV6, NULL, 0) :
					    V_PASS;
			}
			if (i != V_PASS)
				return i;
		}
		return h && h->kept ? kept_src(c, NULL) : V_PASS;
	}
	/* Our address went away: drop until the flow committed somewhere
	 * newer than the hold (the agent ends the hold soon after). */
	if (h && h->holds) {
		struct mig_hold *hd = bpf_map_lookup_elem(&mig_hold, &key);
		struct mig_flow *f;

		if (hd) {
			f = bpf_map_lookup_elem(&mig_flows, &key);
			if (!f || f->migrated_ns <= hd->since_ns) {
				mig_count(MIG_STAT_HOLD_DROP);
				return V_HOLD;
			}
		}
	}
	if ((p.flags & TCP_RST) && !p.payload &&
	    rst_sign((struct __sk_buff *)c->ctx, &p, &key))
		return V_DROP;
	e = mig_xf_maybe(&key) ? bpf_map_lookup_elem(&mig_egress, &key) : NULL;
	if (!e)
		return h && h->kept ? kept_src(c, &key) : V_PASS;
	w = e->wire;
	if (mig_rewrite(c, &p, &w, false))
		return V_DROP;
	mig_count(MIG_STAT_XLATE_OUT);
	/* the peer moved: the socket's route went to its old address */
	if (w.raddr[0] != key.raddr[0] || w.raddr[1] != key.raddr[1] ||
	    w.raddr[2] != key.raddr[2] || w.raddr[3] != key.raddr[3]) {
		__u32 gen = 0;

#ifdef MIG_TC_KCTX
		/* the flow's route memo, when the routes have not changed */
		struct net *net;

		if (!c->l2)
			return V_PASS;   /* (as reroute) */
		net = skb_net(c);
		if (!net)
			return reroute(c, &w, IPPROTO_TCP, NULL, 0);
		if (w.family == AF_INET6 && lo6_fwd_off(net, &w)) {
			mig_count(MIG_STAT_ROUTE_FWD_OFF);
			return V_PASS;
		}
		if (!rt_gen(net, w.family, &gen))
			return reroute(c, &w, IPPROTO_TCP, NULL, 0);
		if (e->rt_memo != MIG_RT_NONE && e->rt_gen == gen) {
			if (e->rt_memo == MIG_RT_FWD_OFF)
				mig_count(MIG_STAT_ROUTE_FWD_OFF);
			return V_PASS;
		}
#endif
		return reroute(c, &w, IPPROTO_TCP, e, gen);
	}
	return V_PASS;
}

/*
 * TC ingress and egress come in two variants compiled from one source: for
 * Ethernet devices, and (_l3) for devices whose packets start at the IP
 * header (tun, WireGuard, ipip/sit/GRE: ARPHRD_NONE and the like).  The
 * agent attaches the one the device's type asks for; the link-layer
 * length is a constant in each, so neither pays for the other.  An answer
 * (V_TX) goes back out of the device it came in on; on an L3 device the
 * kernel redirects it without a MAC header.  XDP is Ethernet only.
 */
static __always_inline int tc_in(struct __sk_buff *skb, __u32 l2)
{
	struct mig_ctx c = { .ctx = skb, .xdp = false, .l2 = l2 };

	MIG_BUILD_MARK();
	switch (ingress(&c, skb->ingress_ifindex)) {
	case V_PASS:
		return TC_ACT_OK;
	case V_TX:
		skb->mark = MIG_MARK;
		return bpf_redirect(skb->ifindex, 0);
	default:
		return TC_ACT_SHOT;
	}
}

static __always_inline int tc_out(struct __sk_buff *skb, __u32 l2)
{
	struct mig_ctx c = { .ctx = skb, .xdp = false, .l2 = l2 };

	MIG_BUILD_MARK();
	if (skb->mark == MIG_MARK)
		return TC_ACT_OK;
	switch (egress(&c)) {
	case V_DROP:
		return TC_ACT_SHOT;
	case V_HOLD:
		return TC_ACT_STOLEN;
	case V_REDIR:
		return TC_ACT_REDIRECT;
	default:
		return TC_ACT_OK;
	}
}

SEC("tc")
int mig_in_tc(struct __sk_buff *skb)
{
	return tc_in(skb, ETH_HLEN);
}

SEC("tc")
int mig_in_tc_l3(struct __sk_buff *skb)
{
	return tc_in(skb, 0);
}

SEC("xdp")
int mig_in_xdp(struct xdp_md *xdp)
{
	struct mig_ctx c = { .ctx = xdp, .xdp = true, .l2 = ETH_HLEN };

	switch (ingress(&c, xdp->ingress_ifindex)) {
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
	return tc_out(skb, ETH_HLEN);
}

SEC("tc")
int mig_out_tc_l3(struct __sk_buff *skb)
{
	return tc_out(skb, 0);
}
