/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_pkt.h - packet parsing and rewriting shared by the XDP and TC
 * programs.  A small context layer (struct mig_ctx) hides which hook runs:
 * TC writes through bpf_skb_store_bytes and keeps checksums right with
 * bpf_l3/l4_csum_replace (correct for partial-checksum and GSO packets);
 * XDP writes directly and updates checksums incrementally (RFC 1624),
 * which is correct only for packets that carry a full checksum.
 */
#ifndef MIGRATE_BPF_PKT_H
#define MIGRATE_BPF_PKT_H

#include "migrate/mig_abi.h"
#include "migrate/mig_opt.h"

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

static __always_inline int ctx_store(struct mig_ctx *c, __u32 off, const void *from,
				     __u32 len)
{
	if (c->xdp)
		return bpf_xdp_store_bytes(c->ctx, off, (void *)from, len);
	return bpf_skb_store_bytes(c->ctx, off, from, len, 0);
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
		return ctx_load(c, 0, b, ETH_HLEN + len);
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
	__u8 b[MIG_PARSE_LEN];
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

/* Replace one 32-bit word of the packet at off.  l3: the IPv4 header
 * checksum covers it; pseudo: the TCP checksum covers it through the
 * pseudo-header (addresses); l4: the TCP checksum covers it as data. */
static __always_inline int mig_store32(struct mig_ctx *c, const struct mig_pkt *p,
				       __u32 off, __be32 from, __be32 to,
				       bool l3, bool pseudo)
{
	if (from == to)
		return 0;
	if (c->xdp) {
		if (bpf_xdp_store_bytes(c->ctx, off, &to, 4))
			return -1;
		if (l3 && xdp_csum_update(c, p->l3 + 10, from, to))
			return -1;
		return xdp_csum_update(c, l4_csum_off(p), from, to);
	}
	if (bpf_skb_store_bytes(c->ctx, off, &to, 4, 0))
		return -1;
	if (l3 && bpf_l3_csum_replace(c->ctx, p->l3 + 10, from, to, 4))
		return -1;
	return bpf_l4_csum_replace(c->ctx, l4_csum_off(p), from, to,
				   4 | (pseudo ? BPF_F_PSEUDO_HDR : 0));
}

/*
 * Rewrite the packet's addresses and ports to (saddr, daddr, sport,
 * dport) of the given tuple, in wire orientation: for ingress the tuple's
 * raddr becomes the source, for egress its laddr does.
 */
static __noinline int mig_rewrite(struct mig_ctx *c, struct mig_pkt *p,
				       const struct mig_tuple *t, bool ingress)
{
	const __u32 *ns = ingress ? t->raddr : t->laddr;
	const __u32 *nd = ingress ? t->laddr : t->raddr;
	__u16 nsp = ingress ? t->rport : t->lport;
	__u16 ndp = ingress ? t->lport : t->rport;
	__u32 so, dof, i, n;
	bool v4 = p->family == AF_INET;

	so = p->l3 + (v4 ? 12 : 8);
	dof = p->l3 + (v4 ? 16 : 24);
	n = v4 ? 1 : 4;
	for (i = 0; i < 4; i++) {
		if (i >= n)
			break;
		if (mig_store32(c, p, so + 4 * i, p->saddr[i], ns[i], v4, true) ||
		    mig_store32(c, p, dof + 4 * i, p->daddr[i], nd[i], v4, true))
			return -1;
	}
	/* both ports in one word: TCP data, not pseudo-header */
	return mig_store32(c, p, p->l4,
			   (__u32)p->sport | (__u32)p->dport << 16,
			   (__u32)nsp | (__u32)ndp << 16, false, false);
}

#endif
