/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_pkt.h - packet parsing and rewriting shared by the XDP and TC
 * programs.  A small context layer (struct mig_ctx) hides which hook runs.
 * The translation (mig_rewrite) writes the headers directly and updates
 * the checksums from one sum over the addresses and one over the ports;
 * under TC the TCP checksum goes through bpf_l4_csum_replace, which alone
 * knows the skb's checksum state (correct for CHECKSUM_COMPLETE, partial
 * checksums and GSO packets, see there); XDP updates it incrementally
 * (RFC 1624), which is correct only for frames that carry a full checksum,
 * as frames from a wire do.
 */
#ifndef MIGRATE_BPF_PKT_H
#define MIGRATE_BPF_PKT_H

#include "migrate/mig_abi.h"
#include "migrate/mig_opt.h"
#include "migrate/mig_csum.h"

#ifdef MIG_TC_KCTX
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;
/* skb->ip_summed (include/linux/skbuff.h) */
#define MIG_CHECKSUM_COMPLETE 2
#define MIG_CHECKSUM_PARTIAL  3
#endif

#define ETH_P_IP    0x0800
#define ETH_P_IPV6  0x86DD
#define ETH_HLEN    14
#define IPPROTO_TCP 6
#define IPPROTO_ICMP 1
#define IPPROTO_ICMPV6 58
/* mig_parse: an ICMP or ICMPv6 message (l3, l4, family and addresses
 * set); only the ingress program looks further (mig_dp: icmp_in) */
#define MIG_PARSE_ICMP 1
/* mig_parse: an IPv4 fragment of a TCP segment, or an IPv6 packet whose
 * next header is an extension header: a segment the shim does not
 * translate, looked at only to drop it if it belongs to a migrated flow
 * (mig_dp: frag_check) */
#define MIG_PARSE_FRAG 2
#ifndef AF_INET
#define AF_INET  2
#define AF_INET6 10
#endif

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

/* TCP header length of the segments the shim builds: 20 + a 25-byte
 * option padded with NOPs to 28. */
#define MIG_SIG_HDR_LEN 48

struct mig_ctx {
	void *ctx;        /* struct __sk_buff * or struct xdp_md * */
	bool xdp;
	/* link-layer header length: ETH_HLEN, or 0 on a device without one
	 * (tun, WireGuard, IP tunnels: the packet starts at the IP header).
	 * A constant in each entry point (mig_in_tc / mig_in_tc_l3, ...), so
	 * the Ethernet programs pay nothing for the L3 ones. */
	__u32 l2;
};

/* What the parser found.  Offsets are from the start of the frame. */
struct mig_pkt {
	__u32 l3;
	__u32 l4;
	__u32 hdr_len;          /* TCP header length */
	__u32 payload;          /* TCP payload length */
	__u8  family;
	__u8  flags;            /* TCP flags */
	__u16 pad;
	__u32 seq;              /* host order */
	__u32 ack;
	/* the packet's addresses and ports, as on the wire */
	__u32 saddr[4];
	__u32 daddr[4];
	__u16 sport;
	__u16 dport;
};

static __always_inline int ctx_load(struct mig_ctx *c, __u32 off, void *to, __u32 len)
{
	if (c->xdp)
		return bpf_xdp_load_bytes(c->ctx, off, to, len);
	return bpf_skb_load_bytes(c->ctx, off, to, len);
}

/*
 * The packet's first len bytes (len a constant) into to (8-byte aligned),
 * read straight from the packet when its linear part holds them (the
 * common case: headers are linear on every path this program sees),
 * else through the load helper.  Every segment pays for this load, and a
 * helper call costs more than these few loads, much more where calls are
 * expensive (retpolines).  Eight bytes at a time: the packet side needs
 * an architecture where unaligned loads are allowed (x86-64, arm64: the
 * verifier checks), the stack side is aligned.
 */
static __always_inline int ctx_load_head(struct mig_ctx *c, __u8 *to, __u32 len)
{
	const __u8 *data, *end;
	__u32 i;

	if (c->xdp) {
		struct xdp_md *x = c->ctx;

		data = (const __u8 *)(long)x->data;
		end = (const __u8 *)(long)x->data_end;
	} else {
		struct __sk_buff *skb = c->ctx;

		data = (const __u8 *)(long)skb->data;
		end = (const __u8 *)(long)skb->data_end;
	}
	if (data + len > end)
		return ctx_load(c, 0, to, len);
#pragma unroll
	for (i = 0; i + 8 <= len; i += 8)
		*(__u64 *)(to + i) = *(const __u64 *)(data + i);
	if (len & 4)
		*(__u32 *)(to + (len & ~7U)) = *(const __u32 *)(data + (len & ~7U));
	if (len & 2)
		*(__u16 *)(to + (len & ~3U)) = *(const __u16 *)(data + (len & ~3U));
	if (len & 1)
		to[len - 1] = data[len - 1];
	return 0;
}

static __always_inline int ctx_store(struct mig_ctx *c, __u32 off, const void *from,
				     __u32 len)
{
	if (c->xdp)
		return bpf_xdp_store_bytes(c->ctx, off, (void *)from, len);
	return bpf_skb_store_bytes(c->ctx, off, from, len, 0);
}

/*
 * BIG TCP (Linux 6.3 on) builds GSO and GRO packets over 64 KiB whose
 * IPv4 total length, or IPv6 payload length, is 0: the skb's length
 * tells.  The length of the IP packet from l3, or 0 where that does not
 * apply (XDP, a packet that is not GSO: its zero length is malformed).
 */
static __always_inline __u32 mig_big_len(struct mig_ctx *c, __u32 l3)
{
	struct __sk_buff *skb = c->ctx;

	if (c->xdp || !skb->gso_size || skb->len <= l3)
		return 0;
	mig_count(MIG_STAT_BIG_TCP);
	return skb->len - l3;
}

/* Ethernet + IPv6 + TCP without options */
#define MIG_PARSE_LEN (ETH_HLEN + 40 + 20)

/*
 * Load the frame's first len bytes of network layer into b + ETH_HLEN and
 * its EtherType into b[12..13].  On a device without a link-layer header
 * the EtherType is made up from the IP version (not from skb->protocol:
 * the same test fixtures run both variants, and the version is what the
 * parsers check anyway); anything else gets 0, which no parser takes.
 */
static __always_inline int ctx_load_frame(struct mig_ctx *c, __u32 l2, __u8 *b, __u32 len)
{
	__u8 v;

	if (l2)
		return ctx_load_head(c, b, ETH_HLEN + len);
	if (ctx_load(c, 0, b + ETH_HLEN, len))
		return -1;
	v = b[ETH_HLEN] >> 4;
	b[12] = v == 4 ? 0x08 : v == 6 ? 0x86 : 0;
	b[13] = v == 4 ? 0x00 : v == 6 ? 0xdd : 0;
	return 0;
}

/*
 * Parse Ethernet (under XDP with at most one VLAN tag) or no link layer at
 * all (c->l2 == 0), IPv4 (any options, no fragments) or IPv6 (no extension
 * headers), and TCP.  Returns 0 for a TCP segment we may look at.  Every
 * segment pays for this: IPv4 costs one load helper call, IPv6 two.
 */
static __always_inline int mig_parse(struct mig_ctx *c, struct mig_pkt *p)
{
	__u8 b[MIG_PARSE_LEN] __attribute__((aligned(8)));
	const __u8 *ip = b + ETH_HLEN, *th;
	/* read before any call: a constant in each entry point (the
	 * compiler cannot know a call leaves *c alone) */
	const __u32 l2 = c->l2;
	__u8 tcp[20];
	__u32 len, ihl;

	/* fixed sizes: Ethernet + IPv4 + TCP first, the rest of an IPv6
	 * header below (a shorter frame is not a TCP segment of ours) */
	if (ctx_load_frame(c, l2, b, 20 + 20))
		return -1;
	p->l3 = l2;
	/* XDP sees the frame as it came: one 802.1Q or 802.1ad tag is
	 * skipped by loading again 4 bytes on (b's MACs are then wrong,
	 * and unused).  TC finds the outer tag taken out into the skb. */
	if (c->xdp && ((b[12] == 0x81 && b[13] == 0x00) ||
		       (b[12] == 0x88 && b[13] == 0xa8))) {
		if (ctx_load(c, 4, b, ETH_HLEN + 20 + 20))
			return -1;
		p->l3 = ETH_HLEN + 4;
	}
	if (b[12] == 0x08 && b[13] == 0x00) {            /* IPv4 */
		if ((ip[0] >> 4) != 4)
			return -1;
		if (ip[9] == IPPROTO_ICMP && !(ip[6] & 0x3f) && !ip[7]) {
			ihl = (ip[0] & 0x0f) * 4;
			if (ihl < 20)
				return -1;
			p->family = AF_INET;
			p->l4 = p->l3 + ihl;
			__builtin_memset(p->saddr, 0, 32);
			__builtin_memcpy(&p->saddr[0], ip + 12, 4);
			__builtin_memcpy(&p->daddr[0], ip + 16, 4);
			return MIG_PARSE_ICMP;
		}
		if (ip[9] != IPPROTO_TCP)
			return -1;
		/* fragments: only whole segments are ours */
		if ((ip[6] & 0x3f) || ip[7])
			return MIG_PARSE_FRAG;
		ihl = (ip[0] & 0x0f) * 4;
		len = (__u32)ip[2] << 8 | ip[3];
		if (!len)
			len = mig_big_len(c, p->l3);
		if (ihl < 20 || len < ihl)
			return -1;
		p->family = AF_INET;
		p->l4 = p->l3 + ihl;
		len -= ihl;
		__builtin_memset(p->saddr, 0, 32);
		__builtin_memcpy(&p->saddr[0], ip + 12, 4);
		__builtin_memcpy(&p->daddr[0], ip + 16, 4);
		if (ihl == 20) {
			th = ip + 20;
		} else {
			/* IP options: the TCP header lies further out */
			if (ctx_load(c, p->l4, tcp, 20))
				return -1;
			th = tcp;
		}
	} else if (b[12] == 0x86 && b[13] == 0xdd) {     /* IPv6 */
		if ((ip[0] >> 4) == 6 && ip[6] == IPPROTO_ICMPV6) {
			p->family = AF_INET6;
			p->l4 = p->l3 + 40;
			__builtin_memcpy(p->saddr, ip + 8, 16);
			__builtin_memcpy(p->daddr, ip + 24, 16);
			return MIG_PARSE_ICMP;
		}
		if ((ip[0] >> 4) == 6 && (ip[6] == 0 || ip[6] == 43 || ip[6] == 44 ||
					  ip[6] == 60))
			return MIG_PARSE_FRAG;   /* hop-by-hop, routing, fragment, options */
		if ((ip[0] >> 4) != 6 || ip[6] != IPPROTO_TCP ||
		    ctx_load(c, p->l3 + 40, b + ETH_HLEN + 40, 20))
			return -1;
		p->family = AF_INET6;
		p->l4 = p->l3 + 40;
		len = (__u32)ip[4] << 8 | ip[5];
		if (!len) {
			len = mig_big_len(c, p->l3);
			len = len > 40 ? len - 40 : 0;
		}
		__builtin_memcpy(p->saddr, ip + 8, 16);
		__builtin_memcpy(p->daddr, ip + 24, 16);
		th = ip + 40;
	} else {
		return -1;
	}
	__builtin_memcpy(&p->sport, th, 2);
	__builtin_memcpy(&p->dport, th + 2, 2);
	p->seq = (__u32)th[4] << 24 | (__u32)th[5] << 16 | (__u32)th[6] << 8 | th[7];
	p->ack = (__u32)th[8] << 24 | (__u32)th[9] << 16 | (__u32)th[10] << 8 | th[11];
	p->hdr_len = (th[12] >> 4) * 4;
	p->flags = th[13];
	if (p->hdr_len < 20 || p->hdr_len > len)
		return -1;
	p->payload = len - p->hdr_len;
	return 0;
}

/* The tuple of this packet as this host sees it: on ingress our address
 * is the destination, on egress the source. */
static __always_inline void mig_pkt_key(const struct mig_pkt *p, bool ingress,
					struct mig_tuple *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->family = p->family;
	if (ingress) {
		__builtin_memcpy(k->laddr, p->daddr, 16);
		__builtin_memcpy(k->raddr, p->saddr, 16);
		k->lport = p->dport;
		k->rport = p->sport;
	} else {
		__builtin_memcpy(k->laddr, p->saddr, 16);
		__builtin_memcpy(k->raddr, p->daddr, 16);
		k->lport = p->sport;
		k->rport = p->dport;
	}
}

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Incremental update (RFC 1624) of a checksum field at off by a 32-bit
 * word change (XDP only). */
static __always_inline int xdp_csum_update(struct mig_ctx *c, __u32 off,
					   __be32 from, __be32 to)
{
	__u16 sum;
	__u64 s;

	if (bpf_xdp_load_bytes(c->ctx, off, &sum, 2))
		return -1;
	s = (__u16)~sum;
	s += (__u16)~(from & 0xffff) + (__u16)~(from >> 16);
	s += (to & 0xffff) + (to >> 16);
	sum = ~csum_fold(s);
	return bpf_xdp_store_bytes(c->ctx, off, &sum, 2);
}

static __always_inline __u32 l4_csum_off(const struct mig_pkt *p)
{
	return p->l4 + 16;
}

/* The ones'-complement change that replacing n 32-bit words from[] by
 * to[] makes to a checksum over them (RFC 1624: ~m + m'), folded to 16
 * bits in memory order; 0 for no change. */
static __always_inline __u16 csum_delta(const __u32 *from, const __u32 *to, __u32 n,
					__u64 s)
{
	__u32 i;

	for (i = 0; i < 4; i++) {
		if (i >= n)
			break;
		s += (__u32)~from[i];
		s += to[i];
	}
	s = csum_fold(s);
	return s == 0xffff ? 0 : (__u16)s;
}

/* A checksum field after its data changed by d (RFC 1624 eqn. 3). */
static __always_inline __u16 csum_apply(__u16 field, __u16 d)
{
	return ~csum_fold((__u64)(__u16)~field + d);
}

/* Headers are rewritten in place; the packet is 2-byte aligned past the
 * Ethernet header (NET_IP_ALIGN, XDP headroom), so the words go as
 * halfwords. */
static __always_inline void put32(__u16 *to, __u32 v)
{
	__builtin_memcpy(to, &v, 4);
}

/* Furthest out a rewritten header may start (one VLAN tag, IPv4 options). */
#define MIG_PKT_L4_MAX (ETH_HLEN + 4 + 60)

/*
 * Rewrite the packet's addresses and ports to (saddr, daddr, sport,
 * dport) of the given tuple, in wire orientation: for ingress the tuple's
 * raddr becomes the source, for egress its laddr does.
 *
 * Direct packet access: the words are stored in place and the checksums
 * updated from two sums computed here, one over the addresses (da: the
 * IPv4 header checksum and the TCP pseudo-header) and one over the ports
 * (dp: TCP data).  XDP frames carry full checksums: the TCP checksum
 * takes da + dp.  Under TC the skb's checksum state decides, which only
 * the kernel sees, so the TCP field goes through bpf_l4_csum_replace:
 *
 *  - CHECKSUM_PARTIAL (our own segments on egress, GSO and GRO packets):
 *    the field holds the pseudo-header sum; da goes in (BPF_F_PSEUDO_HDR),
 *    dp does not.  Segmentation later fixes each segment's field from it
 *    by the length change alone, and writes each IPv4 header checksum.
 *  - otherwise the field is a full checksum and takes da + dp.
 *  - CHECKSUM_COMPLETE: skb->csum sums the packet from the IP header on.
 *    Our stores are not accounted in it; what they change in total must
 *    be.  IPv4: addresses +da, header checksum -da, ports +dp, TCP
 *    checksum -(da + dp): -da, which the pseudo-header call applies.
 *    IPv6 has no header checksum: the total is 0, but that call still
 *    takes da off (Linux before 6.16 has no BPF_F_IPV6 to say so), so
 *    bpf_csum_update gives it back (it fails, harmlessly, unless the skb
 *    is CHECKSUM_COMPLETE).
 *
 * One helper call for an address change (IPv4 or IPv6), a second for
 * IPv6 only when the first showed a full checksum (tc_csum_after: the
 * helper's result tells the state, and then the ports' change is written
 * here too), a call for the ports only when that failed; none under XDP.  A TC header outside the linear area
 * is pulled in first (bpf_skb_pull_data, which also unshares it).
 *
 * Inlined (each program calls it once): a call of its own cost 5 to 20 ns
 * a translated segment where returns are expensive (an AMD EPYC guest with
 * retpolines and Safe RET: the profile's samples sat on the return), and
 * costs the callers' frames 8 to 32 bytes (mig_in_tc 248 -> 256, mig_in_xdp
 * 248 -> 264, mig_out_tc 272 -> 304; the calls below them are unchanged).
 */
static __always_inline int mig_rewrite(struct mig_ctx *c, struct mig_pkt *p,
				       const struct mig_tuple *t, bool ingress)
{
	const __u32 *ns = ingress ? t->raddr : t->laddr;
	const __u32 *nd = ingress ? t->laddr : t->raddr;
	__u32 op = (__u32)p->sport | (__u32)p->dport << 16;
	__u32 np = ingress ? ((__u32)t->rport | (__u32)t->lport << 16) :
			     ((__u32)t->lport | (__u32)t->rport << 16);
	bool v4 = p->family == AF_INET;
	__u32 n = v4 ? 1 : 4, l3 = p->l3, l4 = p->l4, i;
	__u16 da, dp, *ip, *th;
	void *data, *end;

	if (l3 > ETH_HLEN + 4 || l4 > MIG_PKT_L4_MAX || l4 < l3 + 20)
		return -1;
	da = csum_delta(p->daddr, nd, n, csum_delta(p->saddr, ns, n, 0));
	dp = csum_delta(&op, &np, 1, 0);
	if (c->xdp) {
		data = (void *)(long)((struct xdp_md *)c->ctx)->data;
		end = (void *)(long)((struct xdp_md *)c->ctx)->data_end;
	} else {
		struct __sk_buff *skb = c->ctx;

		data = (void *)(long)skb->data;
		end = (void *)(long)skb->data_end;
		if (data + l4 + 20 > end) {
			if (bpf_skb_pull_data(skb, l4 + 20))
				return -1;
			data = (void *)(long)skb->data;
			end = (void *)(long)skb->data_end;
		}
	}
	/* 40 bytes from l3 lie within the pulled l4 + 20 for both families */
	/* The offsets are bounded above (l3 <= ETH_HLEN + 4, l4 <=
	 * MIG_PKT_L4_MAX), but the compiler may keep them on the stack and
	 * reload them, and Linux 6.1's verifier does not carry a bound over
	 * to a reloaded copy: without one it gives a packet pointer no range
	 * (ptr + unbounded could wrap).  So each is masked right where it is
	 * used (the empty asm keeps the compiler from dropping the masks,
	 * which it knows change nothing). */
	_Static_assert(ETH_HLEN + 4 <= 0x1f && MIG_PKT_L4_MAX <= 0xff, "masks keep the offsets");
	asm volatile("" : "+r"(l3), "+r"(l4));
	ip = data + (l3 & 0x1f);
	th = data + (l4 & 0xff);
	if ((void *)ip + 40 > end || (void *)th + 20 > end)
		return -1;
	if (v4) {
		put32(ip + 6, ns[0]);
		put32(ip + 8, nd[0]);
		if (da)
			ip[5] = csum_apply(ip[5], da);
	} else {
		for (i = 0; i < 4; i++) {
			put32(ip + 4 + 2 * i, ns[i]);
			put32(ip + 12 + 2 * i, nd[i]);
		}
	}
	put32(th, np);
	if (c->xdp) {
		th[8] = csum_apply(th[8], csum_fold((__u64)da + dp));
		return 0;
	}
#ifdef MIG_TC_KCTX
	/* The build for kernels that let a TC program see its skb
	 * (bpf_cast_to_kern_ctx, Linux 6.2 on; the agent probes for it,
	 * user/lib/mig_dp_open.h): the state read, the field written here,
	 * no helper call but for CHECKSUM_COMPLETE, which also moves
	 * skb->csum (below, as in the other build). */
	{
		struct sk_buff *kskb = bpf_cast_to_kern_ctx(c->ctx);
		__u8 summed = BPF_CORE_READ_BITFIELD(kskb, ip_summed);

		if (summed == MIG_CHECKSUM_PARTIAL) {
			/* the pseudo-header sum: the addresses only */
			if (da)
				th[8] = (__u16)~csum_fold_k(csum_add_k(th[8], da));
			return 0;
		}
		if (summed != MIG_CHECKSUM_COMPLETE) {
			th[8] = csum_apply(th[8], csum_fold((__u64)da + dp));
			return 0;
		}
	}
#endif
	/* packet pointers end here: the helpers below may move the data */
	if (da) {
		__u16 old = th[8], now;

		if (bpf_l4_csum_replace(c->ctx, l4 + 16, 0, da, BPF_F_PSEUDO_HDR))
			return -1;
		/* What the call did tells the checksum state where the calls
		 * below would depend on it (ports changed, IPv6): see
		 * tc_csum_after.  Not for an IPv4 address change alone, the
		 * common case, which needs no more. */
		if (dp || !v4) {
			data = (void *)(long)((struct __sk_buff *)c->ctx)->data;
			end = (void *)(long)((struct __sk_buff *)c->ctx)->data_end;
			asm volatile("" : "+r"(l4));
			th = data + (l4 & 0xff);
			if ((void *)th + 20 <= end) {
				now = th[8];
				switch (tc_csum_after(old, da, now)) {
				case MIG_CSUM_PARTIAL:
					/* the ports are summed at transmission;
					 * no skb->csum (not CHECKSUM_COMPLETE) */
					return 0;
				case MIG_CSUM_FULL:
					/* the ports' change, as the helper would
					 * (skb->csum: it and the field's change
					 * cancel) */
					if (dp)
						th[8] = csum_fold_k(csum_add_k(dp, ~(__u32)now));
					if (!v4)
						bpf_csum_update(c->ctx, da);
					return 0;
				}
			}
		}
		if (!v4)
			bpf_csum_update(c->ctx, da);
	}
	if (dp && bpf_l4_csum_replace(c->ctx, l4 + 16, 0, dp, 0))
		return -1;
	return 0;
}

#endif
