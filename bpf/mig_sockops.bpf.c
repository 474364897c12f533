// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_sockops - negotiation of migratable connections (PROTOCOL.md 2-3).
 *
 * Attached to a cgroup.  Writes MP_SYN into our SYN and SYN/ACK and KEY2
 * into the first segments after the handshake, reads the peer's, and tells
 * the agent when the peer's whole public key is known.  Once both sides
 * hold each other's key the header-option callbacks are switched off, so a
 * keyed connection costs nothing per packet afterwards; plain connections
 * never get them past the handshake.  Only the state callback stays on for
 * keyed sockets, to remove their state when they close.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "migrate/mig_opt.h"
#include "lib/mig_maps.h"
#include "lib/mig_cc_arm.h"

#define ENOENT 2
#define ENOMSG 42
#define EFAULT 14

#define AF_INET  2
#define AF_INET6 10

#define TCPHDR_SYN 0x02
#define TCPHDR_ACK 0x10

#define CB_NEGOTIATE (BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG | \
		      BPF_SOCK_OPS_PARSE_ALL_HDR_OPT_CB_FLAG | \
		      BPF_SOCK_OPS_STATE_CB_FLAG)
/* keyed: its close, and segments with an option the kernel does not know
 * (the ingress program marks the peer's first segment after a commit:
 * cc_restart).  Nothing per segment otherwise: the kernel tests the flag
 * only when it parsed an unknown option. */
#define CB_KEYED     (BPF_SOCK_OPS_STATE_CB_FLAG | \
		      BPF_SOCK_OPS_PARSE_UNKNOWN_HDR_OPT_CB_FLAG)

#define TCP_CA_RECOVERY 3
#define TCP_CA_LOSS    4

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Socket tuple from the ctx; IPv4-mapped IPv6 becomes AF_INET so that one
 * flow has one key whatever socket family the application used. */
static __noinline int skops_tuple(struct bpf_sock_ops *skops,
				 struct mig_tuple *t)
{
	__builtin_memset(t, 0, sizeof(*t));
	t->lport = bpf_htons((__u16)skops->local_port);
	t->rport = (__u16)(skops->remote_port >> 16);
	if (skops->family == AF_INET) {
		t->family = AF_INET;
		t->laddr[0] = skops->local_ip4;
		t->raddr[0] = skops->remote_ip4;
		return 0;
	}
	if (skops->family != AF_INET6)
		return -1;
	if (skops->remote_ip6[0] == 0 && skops->remote_ip6[1] == 0 &&
	    skops->remote_ip6[2] == bpf_htonl(0xffff)) {
		t->family = AF_INET;
		t->laddr[0] = skops->local_ip6[3];
		t->raddr[0] = skops->remote_ip6[3];
		return 0;
	}
	t->family = AF_INET6;
	t->laddr[0] = skops->local_ip6[0];
	t->laddr[1] = skops->local_ip6[1];
	t->laddr[2] = skops->local_ip6[2];
	t->laddr[3] = skops->local_ip6[3];
	t->raddr[0] = skops->remote_ip6[0];
	t->raddr[1] = skops->remote_ip6[1];
	t->raddr[2] = skops->remote_ip6[2];
	t->raddr[3] = skops->remote_ip6[3];
	return 0;
}

/* Loopback connections never move: no key, no option, no callbacks. */
static __always_inline bool loopback(const struct mig_tuple *t)
{
	if (t->family == AF_INET)
		return (bpf_ntohl(t->raddr[0]) >> 24) == 127;
	return !t->raddr[0] && !t->raddr[1] && !t->raddr[2] &&
	       t->raddr[3] == bpf_htonl(1);
}

static __always_inline void count_opt_error(int r)
{
	switch (r) {
	case MIG_OPT_BAD_LEN:
		mig_count(MIG_STAT_OPT_BAD_LEN);
		break;
	case MIG_OPT_BAD_EXID:
		mig_count(MIG_STAT_OPT_BAD_EXID);
		break;
	case MIG_OPT_TRUNCATED:
		mig_count(MIG_STAT_OPT_TRUNCATED);
		break;
	case MIG_OPT_BAD_SUB:
		mig_count(MIG_STAT_OPT_BAD_SUB);
		break;
	}
}

/* State of one option walk, for bpf_loop. */
struct walk_ctx {
	__u8 buf[MIG_OPT_BUF_LEN];
	__u32 len;
	__u32 off;
	int res;
	struct mig_opt o;
};

static long walk_cb(__u64 i, void *ctx)
{
	struct walk_ctx *w = ctx;

	(void)i;
	return mig_opt_step(w->buf, w->len, &w->off, &w->res, &w->o);
}

/*
 * Parse the options of the segment in skb_data (received segment, or the
 * SYN/ACK resp. ACK that ended the handshake) with the shared parser.
 * Returns the walk's result; *seq and *ack get the segment's (host order).
 */
static __always_inline int skb_opts(struct bpf_sock_ops *skops,
				    struct walk_ctx *w, __u32 *seq, __u32 *ack)
{
	__u8 *p = (__u8 *)(long)skops->skb_data;
	__u8 *end = (__u8 *)(long)skops->skb_data_end;
	__u32 len, i;

	__builtin_memset(w, 0, sizeof(*w));
	if (p + 20 > end)
		return MIG_OPT_NONE;
	*seq = (__u32)p[4] << 24 | (__u32)p[5] << 16 | (__u32)p[6] << 8 | p[7];
	*ack = (__u32)p[8] << 24 | (__u32)p[9] << 16 | (__u32)p[10] << 8 | p[11];
	len = (p[12] >> 4) * 4;
	if (len <= 20)
		return MIG_OPT_NONE;
	len -= 20;
	for (i = 0; i < MIG_OPT_AREA_MAX; i++) {
		if (i >= len || p + 20 + i + 1 > end)
			break;
		w->buf[i] = p[20 + i];
	}
	w->len = i;
	bpf_loop(MIG_OPT_AREA_MAX, walk_cb, w, 0);
	return w->res;
}

/* The peer's MP_SYN from the SYN this request sock answers. */
static __always_inline int syn_mpsyn(struct bpf_sock_ops *skops,
				     struct mig_opt *o)
{
	__u8 buf[MIG_OPT_BUF_LEN] = {};
	long n;

	buf[0] = MIG_OPT_KIND;
	buf[1] = 4;  /* kind-length of the search: a 2-byte ExID */
	buf[2] = MIG_OPT_EXID_HI;
	buf[3] = MIG_OPT_EXID_LO;
	n = bpf_load_hdr_opt(skops, buf, MIG_OPT_AREA_MAX,
			     BPF_LOAD_HDR_OPT_TCP_SYN);
	if (n == -ENOMSG || n == -ENOENT)
		return MIG_OPT_NONE;
	if (n == -EFAULT)
		return MIG_OPT_TRUNCATED;
	if (n < 2)
		return MIG_OPT_NONE;
	if (n > MIG_OPT_AREA_MAX)
		n = MIG_OPT_AREA_MAX;
	return mig_opt_parse_at(buf, 0, n, o);
}

/* Returns 0, or -1 when the ring buffer was full (counted). */
static __always_inline int emit(__u32 type, struct bpf_sock_ops *skops,
				const struct mig_tuple *t, struct mig_sk *st,
				__u64 key_id)
{
	struct mig_event *ev = mig_event_reserve(type);

	if (!ev)
		return -1;
	ev->key_id = key_id;
	ev->tuple = *t;
	ev->state = skops->state;
	/* the passive-established callback runs just before the kernel moves
	 * the socket from SYN-RECV to ESTABLISHED; report where it is going,
	 * since the flow entry the agent writes misses that state change */
	if (ev->state == BPF_TCP_SYN_RECV)
		ev->state = BPF_TCP_ESTABLISHED;
	ev->cookie = bpf_get_socket_cookie(skops);
	if (st) {
		ev->role = st->role;
		ev->isn_i = st->isn_i;
		ev->isn_r = st->isn_r;
		__builtin_memcpy(ev->peer_pub, st->peer_pub, MIG_PUB_LEN);
	}
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

static __always_inline struct mig_sk *sk_state(struct bpf_sock_ops *skops,
					       __u64 flags)
{
	struct bpf_sock *sk = skops->sk;

	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&mig_sk, sk, NULL, flags);
}

static __always_inline int need_key2(const struct mig_sk *st)
{
	return (st->flags & MIG_SK_NEGOTIATED) &&
	       (!(st->flags & MIG_SK_PEER_HAS) ||
		(st->flags & (MIG_SK_REPLY | MIG_SK_SEND_KEY1)));
}

/* Both sides hold both keys and nothing is owed. */
static __always_inline bool keyed_both_ways(const struct mig_sk *st)
{
	return (st->flags & (MIG_SK_HAVE_PEER | MIG_SK_PEER_HAS | MIG_SK_REPLY |
			     MIG_SK_SEND_KEY1)) == (MIG_SK_HAVE_PEER | MIG_SK_PEER_HAS);
}

/* ... then stop the per-segment callbacks. */
static __always_inline void maybe_finish(struct bpf_sock_ops *skops,
					 struct mig_sk *st)
{
	if (keyed_both_ways(st))
		bpf_sock_ops_cb_flags_set(skops, CB_KEYED);
}

/* Plain from here on: no callbacks at all. */
static __always_inline void go_plain(struct bpf_sock_ops *skops)
{
	bpf_sock_ops_cb_flags_set(skops, 0);
}

static __always_inline void report_keyed(struct bpf_sock_ops *skops, struct mig_sk *st)
{
	struct mig_tuple t;

	if (!(st->flags & MIG_SK_HAVE_PEER) || (st->flags & MIG_SK_REPORTED) ||
	    skops_tuple(skops, &t))
		return;
	st->flags |= MIG_SK_REPORTED;
	mig_count(MIG_STAT_EV_KEYED);
	/* no room: the agent finds it with mig_keyed.bpf.c's walk */
	if (emit(MIG_EV_KEYED, skops, &t, st, st->key_id))
		st->lost = 1;
}

static __always_inline void on_key2(struct bpf_sock_ops *skops,
				    struct mig_sk *st, const struct mig_opt *o)
{
	mig_count(MIG_STAT_KEY2_IN);
	if (!(st->flags & (MIG_SK_HAVE_PEER | MIG_SK_HALF2))) {
		__builtin_memcpy(st->peer_pub + MIG_HALF_LEN, o->half, MIG_HALF_LEN);
		st->flags |= (st->flags & MIG_SK_NEED_HALF1) ? MIG_SK_HALF2 : MIG_SK_HAVE_PEER;
	}
	if (o->flags & MIG_KEY2_HAVE)
		st->flags |= MIG_SK_PEER_HAS;
	/* the responder lacks our first half: send it (KEY1) */
	if ((o->flags & MIG_KEY2_NEED1) && st->role == MIG_ROLE_INITIATOR)
		st->flags |= MIG_SK_SEND_KEY1;
	/* Answer every KEY2 that is not itself a final answer (docs/protocol.md:
	 * the DONE bit ends the exchange without a ping-pong). */
	if (!(o->flags & MIG_KEY2_DONE))
		st->flags |= MIG_SK_REPLY;
	report_keyed(skops, st);
}

/* Responder without request state: the first half of the peer's key. */
static __always_inline void on_key1(struct bpf_sock_ops *skops,
				    struct mig_sk *st, const struct mig_opt *o)
{
	if (st->role != MIG_ROLE_RESPONDER || !(st->flags & MIG_SK_NEED_HALF1))
		return;
	mig_count(MIG_STAT_KEY1_IN);
	/* The mark is the first byte of the responder key our syncookie
	 * SYN/ACK carried.  If the epoch turned between that SYN/ACK and the
	 * handshake's ACK, the initiator holds the other key's halves: keyed
	 * on different keys the connection could not migrate anyway, so it
	 * stays plain, counted (docs/protocol.md, rule 7). */
	if (o->flags != st->own_pub[0]) {
		mig_count(MIG_STAT_KEY1_EPOCH);
		/* never reported to the agent; one KEY2 with HAVE lets the
		 * initiator end its side of the exchange */
		st->flags = (st->flags & ~MIG_SK_NEED_HALF1) |
			    MIG_SK_HAVE_PEER | MIG_SK_REPORTED | MIG_SK_REPLY;
		return;
	}
	__builtin_memcpy(st->peer_pub, o->half, MIG_HALF_LEN);
	st->flags &= ~MIG_SK_NEED_HALF1;
	if (st->flags & MIG_SK_HALF2) {
		st->flags |= MIG_SK_HAVE_PEER | MIG_SK_REPLY;
		report_keyed(skops, st);
	}
}

static __always_inline int pool_take(struct mig_pool_key *k)
{
	if (bpf_map_pop_elem(&mig_pool, k)) {
		mig_count(MIG_STAT_POOL_EMPTY);
		return -1;
	}
	mig_count(MIG_STAT_POOL_TAKEN);
	return 0;
}

/* Active open: take a key before the SYN is built. */
static __noinline void on_connect(struct bpf_sock_ops *skops)
{
	struct mig_pool_key k;
	struct mig_tuple t;
	struct mig_sk *st;

	if (skops_tuple(skops, &t) || loopback(&t) || pool_take(&k))
		return;
	st = sk_state(skops, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		emit(MIG_EV_RELEASE, skops, &t, NULL, k.id);
		return;
	}
	__builtin_memset(st, 0, sizeof(*st));
	st->key_id = k.id;
	__builtin_memcpy(st->own_pub, k.pub, MIG_PUB_LEN);
	st->role = MIG_ROLE_INITIATOR;
	bpf_sock_ops_cb_flags_set(skops, CB_NEGOTIATE);
}

static __always_inline bool half_eq(const __u8 *a, const __u8 *b)
{
	__u8 d = 0;
	int i;

	for (i = 0; i < MIG_HALF_LEN; i++)
		d |= a[i] ^ b[i];
	return !d;
}

/* The responder key of this epoch, or NULL (counted as an empty pool). */
static __always_inline struct mig_rkey *rkey(void)
{
	__u32 zero = 0;
	struct mig_rkey *rk = bpf_map_lookup_elem(&mig_rkey, &zero);

	if (!rk || !rk->id) {
		mig_count(MIG_STAT_POOL_EMPTY);
		return NULL;
	}
	return rk;
}

/* A syncookie SYN/ACK answering an MP_SYN: the responder key, no state. */
static __always_inline struct mig_rkey *synack_cookie(struct bpf_sock_ops *skops)
{
	struct mig_opt o = {};
	int r;

	if (skops->args[0] != BPF_WRITE_HDR_TCP_SYNACK_COOKIE)
		return NULL;
	r = syn_mpsyn(skops, &o);
	if (r != MIG_OPT_FOUND || o.type != MIG_OPT_T_MPSYN)
		return NULL;
	return rkey();
}

/* SYN/ACK of a listener: answer an MP_SYN with ours (request state in
 * mig_reqs, reused by retransmitted SYN/ACKs). */
static __always_inline struct mig_req *synack_req(struct bpf_sock_ops *skops,
						  int create)
{
	struct mig_tuple t;
	struct mig_opt o = {};
	struct mig_rkey *rk;
	struct mig_req *req, nreq;
	int r;

	/* A syncookie SYN/ACK keeps no request state (the kernel sends them
	 * under a SYN flood): it carries the responder key too, and the
	 * handshake is finished with KEY1 (on_passive_estab). */
	if (skops->args[0] == BPF_WRITE_HDR_TCP_SYNACK_COOKIE ||
	    skops_tuple(skops, &t) || loopback(&t))
		return NULL;
	req = bpf_map_lookup_elem(&mig_reqs, &t);
	if (!create)
		return req;
	r = syn_mpsyn(skops, &o);
	if (r != MIG_OPT_FOUND || o.type != MIG_OPT_T_MPSYN) {
		count_opt_error(r);
		return NULL;
	}
	/* a retransmitted SYN/ACK answers the same key half; an entry with
	 * another is a dead handshake's on the same tuple: replaced */
	if (req && half_eq(req->peer_half, o.half))
		return req;
	rk = rkey();
	if (!rk)
		return NULL;
	__builtin_memset(&nreq, 0, sizeof(nreq));
	nreq.key_id = rk->id;
	__builtin_memcpy(nreq.own_pub, rk->pub, MIG_PUB_LEN);
	__builtin_memcpy(nreq.peer_half, o.half, MIG_HALF_LEN);
	if (bpf_map_update_elem(&mig_reqs, &t, &nreq, BPF_ANY))
		return NULL;
	return bpf_map_lookup_elem(&mig_reqs, &t);
}

static __noinline void on_opt_len(struct bpf_sock_ops *skops)
{
	__u32 fl = skops->skb_tcp_flags;
	struct mig_sk *st;
	__u32 len = 0;

	if (fl & TCPHDR_SYN) {
		if (fl & TCPHDR_ACK) {
			if (synack_req(skops, 1) || synack_cookie(skops))
				len = MIG_OPT_LEN_MPSYN;
		} else {
			st = sk_state(skops, 0);
			if (st && st->role == MIG_ROLE_INITIATOR)
				len = MIG_OPT_LEN_MPSYN;
		}
	} else {
		st = sk_state(skops, 0);
		if (st && need_key2(st))
			len = MIG_OPT_LEN_KEY2;
	}
	if (len && bpf_reserve_hdr_opt(skops, len, 0))
		mig_count(MIG_STAT_OPT_NO_SPACE);
}

static __noinline void on_opt_write(struct bpf_sock_ops *skops)
{
	__u32 fl = skops->skb_tcp_flags;
	__u8 opt[MIG_OPT_LEN_KEY2];
	struct mig_rkey *rk;
	struct mig_req *req;
	struct mig_sk *st;
	__u8 kf;

	if (fl & TCPHDR_SYN) {
		if (fl & TCPHDR_ACK) {
			req = synack_req(skops, 0);
			if (req) {
				__u8 *h = (__u8 *)(long)skops->skb_data;

				/* our SYN/ACK's ack is the SYN's ISN + 1 */
				if (h + 12 <= (__u8 *)(long)skops->skb_data_end)
					req->isn_i = ((__u32)h[8] << 24 | (__u32)h[9] << 16 |
						      (__u32)h[10] << 8 | h[11]) - 1;
				mig_opt_build_mpsyn(opt, req->own_pub);
			} else {
				rk = synack_cookie(skops);
				if (!rk)
					return;
				mig_opt_build_mpsyn(opt, rk->pub);
				mig_count(MIG_STAT_SYNCOOKIE);
			}
			if (!bpf_store_hdr_opt(skops, opt, MIG_OPT_LEN_MPSYN, 0))
				mig_count(MIG_STAT_SYNACK_OUT);
			return;
		}
		st = sk_state(skops, 0);
		if (!st || st->role != MIG_ROLE_INITIATOR)
			return;
		mig_opt_build_mpsyn(opt, st->own_pub);
		if (!bpf_store_hdr_opt(skops, opt, MIG_OPT_LEN_MPSYN, 0))
			mig_count(MIG_STAT_SYN_OUT);
		return;
	}
	st = sk_state(skops, 0);
	if (!st || !need_key2(st))
		return;
	kf = ((st->flags & MIG_SK_HAVE_PEER) ? MIG_KEY2_HAVE : 0) |
	     ((st->flags & MIG_SK_PEER_HAS) ? MIG_KEY2_DONE : 0) |
	     ((st->flags & MIG_SK_NEED_HALF1) ? MIG_KEY2_NEED1 : 0);
	if (st->flags & MIG_SK_SEND_KEY1) {
		mig_opt_build_key1(opt, st->peer_pub[0], st->own_pub);
		if (bpf_store_hdr_opt(skops, opt, MIG_OPT_LEN_KEY2, 0))
			return;
		mig_count(MIG_STAT_KEY1_OUT);
		st->flags &= ~MIG_SK_SEND_KEY1;
		maybe_finish(skops, st);
		return;
	}
	mig_opt_build_key2(opt, kf, st->own_pub);
	if (bpf_store_hdr_opt(skops, opt, MIG_OPT_LEN_KEY2, 0))
		return;
	mig_count(MIG_STAT_KEY2_OUT);
	st->flags &= ~MIG_SK_REPLY;
	maybe_finish(skops, st);
}


static __noinline void on_active_estab(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk;
	struct walk_ctx w;
	struct mig_tuple t;
	struct mig_sk *st;
	__u32 seq = 0, ack = 0;
	int r;

	st = sk_state(skops, 0);
	if (!st)
		return;
	r = skb_opts(skops, &w, &seq, &ack);
	if (r != MIG_OPT_FOUND || w.o.type != MIG_OPT_T_MPSYN) {
		count_opt_error(r);
		mig_count(MIG_STAT_FALLBACK_PEER);
		if (!skops_tuple(skops, &t))
			emit(MIG_EV_RELEASE, skops, &t, NULL, st->key_id);
		sk = skops->sk;
		if (sk)
			bpf_sk_storage_delete(&mig_sk, sk);
		go_plain(skops);
		return;
	}
	__builtin_memcpy(st->peer_pub, w.o.half, MIG_HALF_LEN);
	st->isn_r = seq;
	st->isn_i = ack - 1;
	st->flags |= MIG_SK_NEGOTIATED;
	/* flags stay CB_NEGOTIATE: the ACK that follows carries KEY2 */
}

/* Responder, no request state, the handshake's ACK carries KEY2: key with
 * the responder key of this epoch and ask for the first half (KEY1).  (If
 * the epoch turned between our SYN/ACK and now, the two ends derive
 * different keys and this connection cannot migrate: docs/protocol.md.) */
static __always_inline void passive_nostate(struct bpf_sock_ops *skops,
				       const struct mig_opt *o, __u32 seq, __u32 ack)
{
	struct mig_rkey *rk = rkey();
	struct mig_sk *st;

	if (!rk) {
		go_plain(skops);
		return;
	}
	st = sk_state(skops, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		go_plain(skops);
		return;
	}
	__builtin_memset(st, 0, sizeof(*st));
	st->key_id = rk->id;
	__builtin_memcpy(st->own_pub, rk->pub, MIG_PUB_LEN);
	st->role = MIG_ROLE_RESPONDER;
	st->flags = MIG_SK_NEGOTIATED | MIG_SK_NEED_HALF1;
	st->isn_i = seq - 1;
	st->isn_r = ack - 1;
	bpf_sock_ops_cb_flags_set(skops, CB_NEGOTIATE);
	on_key2(skops, st, o);
}

static __noinline void on_passive_estab(struct bpf_sock_ops *skops)
{
	struct walk_ctx w;
	struct mig_opt o = {};
	struct mig_tuple t;
	struct mig_req *req, rq;
	struct mig_sk *st;
	__u32 seq = 0, ack = 0;
	int r;

	if (skops_tuple(skops, &t)) {
		go_plain(skops);
		return;
	}
	req = bpf_map_lookup_elem(&mig_reqs, &t);
	r = skb_opts(skops, &w, &seq, &ack);
	if (req && req->isn_i != seq - 1) {
		/* another, dead handshake's state on this tuple */
		bpf_map_delete_elem(&mig_reqs, &t);
		req = NULL;
	}
	if (!req) {
		/* No request state: a syncookie SYN/ACK (or state lost) that
		 * carried the responder key, if the ACK carries KEY2; else we
		 * did not answer with MP_SYN (no offer, or no responder key). */
		if (r == MIG_OPT_FOUND && w.o.type == MIG_OPT_T_KEY2) {
			passive_nostate(skops, &w.o, seq, ack);
			return;
		}
		r = syn_mpsyn(skops, &o);
		if (r == MIG_OPT_NONE)
			mig_count(MIG_STAT_FALLBACK_SYN);
		go_plain(skops);
		return;
	}
	rq = *req;
	bpf_map_delete_elem(&mig_reqs, &t);
	st = sk_state(skops, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st) {
		emit(MIG_EV_RELEASE, skops, &t, NULL, rq.key_id);
		go_plain(skops);
		return;
	}
	__builtin_memset(st, 0, sizeof(*st));
	st->key_id = rq.key_id;
	__builtin_memcpy(st->own_pub, rq.own_pub, MIG_PUB_LEN);
	__builtin_memcpy(st->peer_pub, rq.peer_half, MIG_HALF_LEN);
	st->role = MIG_ROLE_RESPONDER;
	st->flags = MIG_SK_NEGOTIATED;
	bpf_sock_ops_cb_flags_set(skops, CB_NEGOTIATE);

	/* skb_data is the ACK that ended the handshake: its seq is ISN_i + 1,
	 * its ack ISN_r + 1, and it may already carry the initiator's KEY2. */
	st->isn_i = seq - 1;
	st->isn_r = ack - 1;
	if (r == MIG_OPT_FOUND && w.o.type == MIG_OPT_T_KEY2)
		on_key2(skops, st, &w.o);
	else
		count_opt_error(r);
}

/*
 * Congestion state after a commit (docs/protocol.md, "Congestion state
 * after a commit"): restarted here, in the socket's own context, on the
 * first segment of the peer that reaches it after the commit (the
 * ingress program marked it, which is why this program sees it).  The
 * kernel calls this from tcp_validate_incoming, under the socket's lock,
 * after the segment passed the sequence and PAWS checks and before its
 * ACK is processed: what that ACK lets go is sent under the new window.
 * The switch to mig_cc_ops and back is mig_cc_iter's (mig_cc.bpf.c), and
 * so is the init it runs.  Once per commit (mig_flow.cc_done); a socket
 * that no marked segment reaches is restarted by the agent's walk.  The
 * outcome goes to the agent (MIG_EV_CC), which logs and counts it.
 */
/*
 * A socket in loss recovery (its retransmission timer fired during the
 * outage) whose peer's segment acknowledges data it had not seen
 * acknowledged (the peer's last ACKs before the break were lost with the
 * old link).  Restarted before such an ACK is processed, the kernel sent
 * nothing for 57 to 70 ms afterwards (BBR, 3 in 20 runs at D = 10 s,
 * docs/HANDOVER.md).  Not restarted on it then, but on the peer's next
 * segment, once that ACK was processed: the ingress program goes on
 * marking them until a restart (one may already wait in the socket's
 * backlog).  Without a restart the kernel does not send either: it
 * waited for the agent's walk (MIG_CC_WAIT_MS) in 3 of 105 runs at
 * D = 10 s when the marking ended here (where logged: cwnd 4, 61
 * segments of the old path in flight); the walk is left for a peer that
 * sends nothing more.
 */
static __always_inline bool loss_and_new_ack(struct bpf_sock_ops *skops)
{
	__u8 *p = (__u8 *)(long)skops->skb_data;
	__u8 *end = (__u8 *)(long)skops->skb_data_end;
	struct bpf_sock *sk = skops->sk;
	struct tcp_sock *tp;
	__u32 ack;

	if (!sk || p + 12 > end)
		return false;
	ack = (__u32)p[8] << 24 | (__u32)p[9] << 16 | (__u32)p[10] << 8 | p[11];
	if ((__s32)(ack - skops->snd_una) <= 0)
		return false;
	tp = bpf_skc_to_tcp_sock(sk);
	return tp && BPF_CORE_READ_BITFIELD(&tp->inet_conn, icsk_ca_state) == TCP_CA_LOSS;
}

/*
 * Would the kernel hold back what the restart lets it send?  A socket
 * that transmitted within the last millisecond (typically its own ACK to
 * the agent's resume nudge), with data in flight and more queued, and
 * not in recovery: tcp_write_xmit's TSO deferral (tcp_tso_should_defer)
 * waits for the next ACK when the new window is a small share of cwnd,
 * and when what is in flight was lost with the old path no ACK comes
 * until the retransmission timer (test_cwnd's flight case stalled until
 * its 60 s timer in about 1 of 20 runs).  Such a socket is restarted
 * here all the same (the kernel may well send), and the agent's walk
 * pushes its queued data MIG_CC_SOON_MS later, once that millisecond is
 * over (MIG_EV_CC's push_soon).
 */
static __always_inline bool send_would_wait(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct tcp_sock *tp;

	if (!sk)
		return false;
	tp = bpf_skc_to_tcp_sock(sk);
	if (!tp || !tp->packets_out || tp->write_seq == tp->snd_nxt ||
	    BPF_CORE_READ_BITFIELD(&tp->inet_conn, icsk_ca_state) >= TCP_CA_RECOVERY)
		return false;
	return (__s64)(bpf_ktime_get_ns() - tp->tcp_wstamp_ns) < 1000000;
}

static __noinline void cc_restart(struct bpf_sock_ops *skops)
{
	char prev[16] = {};
	struct mig_cc_arm *a;
	struct mig_event *ev;
	struct mig_tuple t;
	struct mig_flow *f;
	struct mig_in *e;
	__u32 cwnd, ssthresh, hit = 0, flight = 0, mig, soon;
	long err, back = 0;
	__u64 cookie;

	if (skops_tuple(skops, &t))
		return;
	f = bpf_map_lookup_elem(&mig_flows, &t);
	if (!f || !f->migrations || f->cc_done == (__u16)f->migrations)
		return;
	a = mig_cc_arm_get();
	if (!a || !a->name[0])
		return;
	cookie = bpf_get_socket_cookie(skops);
	if (f->cookie && cookie != f->cookie)
		return;
	/* (before the marking ends: the peer's next segment restarts it) */
	if (loss_and_new_ack(skops)) {
		mig_count(MIG_STAT_CC_DEFERRED);
		return;
	}
	/* the ingress program marks no more of this flow's segments */
	e = bpf_map_lookup_elem(&mig_ingress, &f->wire);
	if (e && e->cc && mig_tuple_eq(&e->sock, &t))
		e->cc = 0;
	mig = f->migrations;
	soon = send_would_wait(skops);
	f->cc_done = (__u16)mig;
	cwnd = skops->snd_cwnd;
	ssthresh = skops->snd_ssthresh;
	err = mig_cc_switch(skops, a, a->name, cookie, prev, &hit, &flight, &back);
	if (!err && hit)
		mig_count(MIG_STAT_CC_INLINE);
	ev = mig_event_reserve(MIG_EV_CC);
	if (!ev)
		return;
	ev->tuple = t;
	ev->cookie = cookie;
	ev->state = skops->state;
	ev->cc.migrations = mig;
	ev->cc.err = err;
	ev->cc.back_err = back;
	ev->cc.applied = hit;
	ev->cc.cwnd_before = cwnd;
	ev->cc.ssthresh_before = ssthresh;
	ev->cc.cwnd_after = skops->snd_cwnd;
	ev->cc.ssthresh_after = skops->snd_ssthresh;
	ev->cc.in_flight = flight;
	ev->cc.push_soon = soon;
	__builtin_memcpy(ev->cc.prev, prev, sizeof(prev));
	bpf_ringbuf_submit(ev, 0);
}

static __noinline void on_parse(struct bpf_sock_ops *skops)
{
	struct walk_ctx w;
	struct mig_sk *st;
	__u32 seq, ack;
	int r;

	cc_restart(skops);
	st = sk_state(skops, 0);
	if (!st || !(st->flags & MIG_SK_NEGOTIATED))
		return;
	/* keyed both ways (CB_KEYED): only the restart above was asked for */
	if (keyed_both_ways(st))
		return;
	r = skb_opts(skops, &w, &seq, &ack);
	if (r == MIG_OPT_FOUND) {
		if (w.o.type == MIG_OPT_T_KEY2)
			on_key2(skops, st, &w.o);
		else if (w.o.type == MIG_OPT_T_KEY1)
			on_key1(skops, st, &w.o);
	} else {
		count_opt_error(r);
	}
	maybe_finish(skops, st);
}

/* The flow's candidates go with it (the data path owns mig_cand). */
static __always_inline void drop_cands(struct mig_flow *f, const struct mig_tuple *t)
{
	int i;

	for (i = 0; i < MIG_NCAND; i++)
		if (f->cand[i].wire.family)
			mig_cand_forget(&f->cand[i].wire, t);
}

static __noinline void on_state(struct bpf_sock_ops *skops)
{
	struct mig_tuple t;
	struct mig_flow *f;
	struct mig_token_key tk;
	struct mig_sk *st;
	__u32 nstate = skops->args[1];

	if (skops_tuple(skops, &t))
		return;
	f = bpf_map_lookup_elem(&mig_flows, &t);
	if (nstate != BPF_TCP_CLOSE) {
		if (f)
			f->state = nstate;
		return;
	}
	st = sk_state(skops, 0);
	if (f) {
		struct mig_event *ev;

		__builtin_memcpy(tk.token, f->token, MIG_TOKEN_LEN);
		bpf_map_delete_elem(&mig_tokens, &tk);
		/* the agent removes the translation: now, or after TIME-WAIT */
		ev = mig_event_reserve(MIG_EV_CLOSED);
		if (ev) {
			ev->tuple = t;
			ev->wire = f->wire;
			ev->prev = f->prev;
			ev->cookie = f->cookie;
			ev->timewait = skops->args[0] == BPF_TCP_FIN_WAIT2 ||
				       skops->args[0] == BPF_TCP_CLOSING;
			bpf_ringbuf_submit(ev, 0);
		}
		drop_cands(f, &t);
		/* Not deleted here: the kernel sends an abortive close's RST
		 * just after this state change, and the egress program signs
		 * it with the flow's key (rule 8).  The agent deletes the
		 * entry on the "closed" event, and sweeps CLOSE entries whose
		 * event it missed. */
		f->state = BPF_TCP_CLOSE;
		mig_count(MIG_STAT_CLOSED);
	}
	/* keyed, but the agent has not stored the flow yet: tell it anyway;
	 * never reported, or its report lost (and not found since): the key
	 * will not be used */
	if (!f && st && (st->flags & MIG_SK_REPORTED) && !st->lost) {
		emit(MIG_EV_CLOSED, skops, &t, st, st->key_id);
	} else if (st && (!(st->flags & MIG_SK_REPORTED) || st->lost)) {
		st->lost = 0;
		emit(MIG_EV_RELEASE, skops, &t, NULL, st->key_id);
	}
}

/*
 * Each callback is its own subprogram (__noinline): inlined, they shared one
 * 488-byte frame, and Linux 6.1 (which rounds each frame up to 32 bytes)
 * refused it with skops_tuple or walk_cb on top as 544 > 512.  Apart, the
 * deepest chain is on_passive_estab's 368 bytes and a callee.
 */
SEC("sockops")
int mig_sockops(struct bpf_sock_ops *skops)
{
	__u32 zero = 0;
	struct mig_meta *m = bpf_map_lookup_elem(&mig_meta, &zero);

	/* A cgroup's program sees the sockets of every network namespace
	 * whose processes are in it: act only for our agent's namespace
	 * (another agent serves the others). */
	if (!m || (m->netns_cookie && bpf_get_netns_cookie(skops) != m->netns_cookie))
		return 1;
	MIG_BUILD_MARK();
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB:
		/* the listener writes our option into SYN/ACKs; the child
		 * inherits these flags until passive establishment */
		bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		on_connect(skops);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		on_opt_len(skops);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB:
		on_opt_write(skops);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		on_active_estab(skops);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		on_passive_estab(skops);
		break;
	case BPF_SOCK_OPS_PARSE_HDR_OPT_CB:
		on_parse(skops);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		on_state(skops);
		break;
	}
	return 1;
}
