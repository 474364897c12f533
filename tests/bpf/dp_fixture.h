/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * dp_fixture.h - what tests/bpf/test_dp.c and bench/dp_bench.c share:
 * a private network namespace with real TCP connections in it, packet
 * builders with full checksums (TCP segments, ICMP/ICMPv6 errors quoting
 * them), checksum verification, a hex diff, and
 * helpers around bpf_prog_test_run_opts and the mig_dp maps.
 *
 *   netns (unshare(CLONE_NEWNET), dies with the process)
 *   lo: 127.0.0.1, 192.0.2.1/32, 203.0.113.1/32, 2001:db8::1/128, 2001:db8:5::1/128
 *
 *     client ("cli", the initiator)          server ("srv", the responder)
 *     192.0.2.1:ephemeral      --- TCP --->  203.0.113.1:ephemeral (listener)
 *     [2001:db8::1]:ephemeral  --- TCP --->  [2001:db8:5::1]:ephemeral
 *
 * The data path looks sockets up with bpf_skc_lookup_tcp(BPF_F_CURRENT_NETNS);
 * under test_run the skb's device (and the XDP rxq's) is this netns' lo, so
 * it finds these sockets and reads their snd_una/snd_nxt/rcv_nxt.  The
 * expected values come from TCP_REPAIR (see fx_seqs): TCP_INFO has no
 * rcv_nxt.  Each connection exchanges a known amount of data and is left
 * quiet (everything acknowledged, SIOCOUTQ == 0), so snd_una == snd_nxt ==
 * write_seq and nothing moves while the programs run.
 *
 * Everything here is static inline: each includer uses a different part.
 * Host code only; needs root (unshare, TCP_REPAIR, BPF).
 */
#ifndef MIGRATE_DP_FIXTURE_H
#define MIGRATE_DP_FIXTURE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <migrate/mig_abi.h>
#include <migrate/mig_opt.h>
#include <migrate/mig_siphash.h>
#include "mig_dp.skel.h"
#include "mig_dp_open.h"

/* The build of the data path the agent would load here (mig_dp_open.h:
 * mig_dp_kc where the kernel takes it, MIGRATE_DP_TC_CSUM overrides);
 * fx_dp_build names it once opened. */
static const char *fx_dp_build = "mig_dp";

static inline struct mig_dp *fx_dp_open(void)
{
	char why[160] = "";
	bool kctx = mig_dp_want_kctx(why, sizeof(why));

	fx_dp_build = kctx ? "mig_dp_kc" : "mig_dp";
	return mig_dp_open_build(kctx);
}

static inline struct mig_dp *fx_dp_open_and_load(void)
{
	struct mig_dp *s = fx_dp_open();
	int err;

	if (!s)
		return NULL;
	err = mig_dp__load(s);
	if (err) {
		mig_dp__destroy(s);
		errno = -err;
		return NULL;
	}
	return s;
}

#define FX_CLI4 "192.0.2.1"
#define FX_SRV4 "203.0.113.1"
#define FX_CLI6 "2001:db8::1"
#define FX_SRV6 "2001:db8:5::1"
/* Where a mover "moved" to: not local, test_run never routes. */
#define FX_NEW4  "198.51.100.7"
#define FX_NEW4B "198.51.100.8"
#define FX_NEW6  "2001:db8:1::7"
#define FX_NEW6B "2001:db8:1::8"
#define FX_NEW_PORT  40000
#define FX_NEW_PORTB 40001

/* Bytes the client sends first, then the server (so both directions of
 * each connection have moved past the ISN by known amounts). */
#define FX_CLI_BYTES 1000
#define FX_SRV_BYTES 700

#define FX_PKT_MAX 1600

static const __u8 fx_mac_ours[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
static const __u8 fx_mac_peer[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

static inline __u64 fx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;
}

/* ---- namespace ------------------------------------------------------ */

/* Enter a fresh network namespace and give lo the test addresses.  The
 * namespace dies with the process: nothing to clean up. */
static inline int fx_netns(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip addr add " FX_CLI4 "/32 dev lo",
		"ip addr add " FX_SRV4 "/32 dev lo",
		"ip -6 addr add " FX_CLI6 "/128 dev lo nodad",
		"ip -6 addr add " FX_SRV6 "/128 dev lo nodad",
	};
	size_t i;

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s (run as root)\n", strerror(errno));
		return -errno;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (system(cmds[i]) != 0) {
			fprintf(stderr, "'%s' failed\n", cmds[i]);
			return -EIO;
		}
	}
	return 0;
}

/* Stay on one CPU: mig_rate and mig_stats are per CPU, and test_run runs
 * the program on the caller's CPU. */
static inline int fx_pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		cpu = 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

/* ---- real connections ------------------------------------------------ */

struct fx_side {
	int fd;
	struct mig_tuple t;        /* socket tuple, this side's view */
	__u32 snd_una, snd_nxt, rcv_nxt;
	__u8 rcv_wscale;           /* ours, from TCP_INFO; MIG_NO_WSCALE if none */
};

struct fx_conn {
	int family;
	int lfd;
	struct fx_side srv;        /* accepted socket: responder, fixed end */
	struct fx_side cli;        /* connecting socket: initiator, mover */
};

static inline void fx_sa_to(const struct sockaddr_storage *ss, __u32 addr[4], __u16 *port)
{
	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)ss;

		memcpy(addr, &s->sin_addr, 4);
		*port = s->sin_port;
	} else {
		const struct sockaddr_in6 *s = (const void *)ss;

		memcpy(addr, &s->sin6_addr, 16);
		*port = s->sin6_port;
	}
}

static inline socklen_t fx_sa_make(int family, const char *addr, __u16 port,
				   struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (void *)ss;

		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s->sin_addr);
		return sizeof(*s);
	}
	struct sockaddr_in6 *s6 = (void *)ss;

	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(port);
	inet_pton(AF_INET6, addr, &s6->sin6_addr);
	return sizeof(*s6);
}

/* The socket tuple as sock_ops writes it (laddr = this side). */
static inline int fx_sock_tuple(int fd, struct mig_tuple *t)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);

	if (getsockname(fd, (void *)&l, &ll) || getpeername(fd, (void *)&r, &rl))
		return -errno;
	memset(t, 0, sizeof(*t));
	t->family = l.ss_family;
	fx_sa_to(&l, t->laddr, &t->lport);
	fx_sa_to(&r, t->raddr, &t->rport);
	return 0;
}

/* Our receive window scale (what mig_dp puts in its Migrate SYN/ACK). */
static inline int fx_wscale(struct fx_side *s)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(s->fd, IPPROTO_TCP, TCP_INFO, &ti, &l))
		return -errno;
	s->rcv_wscale = (ti.tcpi_options & TCPI_OPT_WSCALE) ? ti.tcpi_rcv_wscale : MIG_NO_WSCALE;
	return 0;
}

/*
 * The kernel's sequence numbers of a socket, through TCP_REPAIR: in repair
 * mode TCP_QUEUE_SEQ reads write_seq (TCP_SEND_QUEUE) and rcv_nxt
 * (TCP_RECV_QUEUE).  The connection is quiet (SIOCOUTQ == 0, i.e.
 * write_seq == snd_una), so snd_una == snd_nxt == write_seq.  Repair is
 * left with TCP_REPAIR_OFF_NO_WP so that no window probe is sent.
 */
static inline int fx_seqs(struct fx_side *s)
{
	int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP, q, outq = -1, err = 0;
	socklen_t l = sizeof(__u32);
	__u32 snd = 0, rcv = 0;

	if (ioctl(s->fd, SIOCOUTQ, &outq) || outq != 0)
		return -EAGAIN;
	if (setsockopt(s->fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)))
		return -errno;
	q = TCP_SEND_QUEUE;
	if (setsockopt(s->fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
	    getsockopt(s->fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &snd, &l))
		err = -errno;
	q = TCP_RECV_QUEUE;
	l = sizeof(__u32);
	if (!err && (setsockopt(s->fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &q, sizeof(q)) ||
		     getsockopt(s->fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &rcv, &l)))
		err = -errno;
	if (setsockopt(s->fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)) && !err)
		err = -errno;
	if (err)
		return err;
	s->snd_una = s->snd_nxt = snd;
	s->rcv_nxt = rcv;
	return fx_wscale(s);
}

static inline int fx_xfer(int from, int to, size_t n)
{
	char buf[2048];
	size_t got = 0;
	ssize_t r;

	memset(buf, 'm', sizeof(buf));
	if (n > sizeof(buf) || send(from, buf, n, 0) != (ssize_t)n)
		return -EIO;
	while (got < n) {
		r = recv(to, buf, sizeof(buf), 0);
		if (r <= 0)
			return -EIO;
		got += (size_t)r;
	}
	return 0;
}

static inline void fx_conn_close(struct fx_conn *c)
{
	if (c->cli.fd >= 0)
		close(c->cli.fd);
	if (c->srv.fd >= 0)
		close(c->srv.fd);
	if (c->lfd >= 0)
		close(c->lfd);
	c->cli.fd = c->srv.fd = c->lfd = -1;
}

/* Connect cli -> srv of the family, exchange FX_CLI_BYTES then
 * FX_SRV_BYTES, wait (poll, at most 3 s) until both sides have everything
 * acknowledged, read the sequence numbers. */
static inline int fx_conn_open(int family, struct fx_conn *c)
{
	const char *srv = family == AF_INET ? FX_SRV4 : FX_SRV6;
	const char *cli = family == AF_INET ? FX_CLI4 : FX_CLI6;
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, i, err;

	memset(c, 0, sizeof(*c));
	c->family = family;
	c->lfd = c->srv.fd = c->cli.fd = -1;
	c->lfd = socket(family, SOCK_STREAM, 0);
	c->cli.fd = socket(family, SOCK_STREAM, 0);
	if (c->lfd < 0 || c->cli.fd < 0)
		goto fail;
	setsockopt(c->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sl = fx_sa_make(family, srv, 0, &ss);
	if (bind(c->lfd, (void *)&ss, sl) || listen(c->lfd, 4))
		goto fail;
	sl = sizeof(ss);
	if (getsockname(c->lfd, (void *)&ss, &sl))
		goto fail;
	{
		struct sockaddr_storage cs;
		socklen_t cl = fx_sa_make(family, cli, 0, &cs);

		if (bind(c->cli.fd, (void *)&cs, cl) || connect(c->cli.fd, (void *)&ss, sl))
			goto fail;
	}
	c->srv.fd = accept(c->lfd, NULL, NULL);
	if (c->srv.fd < 0)
		goto fail;
	if (fx_xfer(c->cli.fd, c->srv.fd, FX_CLI_BYTES) ||
	    fx_xfer(c->srv.fd, c->cli.fd, FX_SRV_BYTES))
		goto fail;
	if (fx_sock_tuple(c->srv.fd, &c->srv.t) || fx_sock_tuple(c->cli.fd, &c->cli.t))
		goto fail;
	for (i = 0; i < 3000; i++) {
		err = fx_seqs(&c->srv);
		if (!err)
			err = fx_seqs(&c->cli);
		if (err != -EAGAIN)
			break;
		usleep(1000);
	}
	if (err) {
		fprintf(stderr, "reading sequence numbers (TCP_REPAIR): %s\n", strerror(-err));
		goto fail_quiet;
	}
	if (c->srv.rcv_nxt != c->cli.snd_nxt || c->cli.rcv_nxt != c->srv.snd_nxt) {
		fprintf(stderr, "connection not quiet: srv %u/%u cli %u/%u\n",
			c->srv.snd_nxt, c->srv.rcv_nxt, c->cli.snd_nxt, c->cli.rcv_nxt);
		goto fail_quiet;
	}
	return 0;
fail:
	fprintf(stderr, "TCP connection %s -> %s: %s\n", cli, srv, strerror(errno));
fail_quiet:
	fx_conn_close(c);
	return -1;
}

/* ---- checksums ------------------------------------------------------- */

static inline __u32 fx_sum(const __u8 *d, size_t n, __u32 s)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (__u32)d[i] << 8 | d[i + 1];
	if (n & 1)
		s += (__u32)d[n - 1] << 8;
	return s;
}

static inline __u16 fx_fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Where the L3 header and the L4 checksum of a frame are; -1 if the frame
 * is not IPv4/IPv6 carrying TCP or UDP, or its lengths do not add up (any
 * frame may come here: tests/bpf/fuzz_dp.c feeds mutated ones). */
struct fx_layout {
	size_t l3, l4, l4_len;
	int family;
	__u8 proto;
	size_t csum;            /* offset of the L4 checksum field */
};

static inline int fx_layout(const __u8 *f, size_t len, struct fx_layout *lo)
{
	__u16 et;

	if (len < 14)
		return -1;
	et = (__u16)(f[12] << 8 | f[13]);
	lo->l3 = 14;
	if (et == ETH_P_IP && len >= 34) {
		size_t tot = (size_t)(f[16] << 8 | f[17]);

		lo->family = AF_INET;
		lo->l4 = 14 + (size_t)(f[14] & 0x0f) * 4;
		lo->proto = f[14 + 9];
		if (lo->l4 < 34 || tot < lo->l4 - 14)
			return -1;
		lo->l4_len = tot - (lo->l4 - 14);
	} else if (et == ETH_P_IPV6 && len >= 54) {
		lo->family = AF_INET6;
		lo->l4 = 54;
		lo->proto = f[14 + 6];
		lo->l4_len = (size_t)(f[18] << 8 | f[19]);
	} else {
		return -1;
	}
	if (lo->l4 + lo->l4_len > len)
		return -1;
	if (lo->proto == IPPROTO_TCP && lo->l4_len >= 20)
		lo->csum = lo->l4 + 16;
	else if (lo->proto == IPPROTO_UDP && lo->l4_len >= 8)
		lo->csum = lo->l4 + 6;
	else
		return -1;
	return 0;
}

static inline __u32 fx_pseudo(const __u8 *f, const struct fx_layout *lo)
{
	__u32 s;

	if (lo->family == AF_INET)
		s = fx_sum(f + 14 + 12, 8, 0);
	else
		s = fx_sum(f + 14 + 8, 32, 0);
	return s + lo->proto + (__u32)lo->l4_len;
}

/* Compute and store the IPv4 header checksum and the TCP/UDP checksum,
 * from scratch. */
static inline void fx_csum_fill(__u8 *f, size_t len)
{
	struct fx_layout lo;
	__u16 c;

	if (fx_layout(f, len, &lo))
		return;
	if (lo.family == AF_INET) {
		f[24] = f[25] = 0;
		c = (__u16)~fx_fold(fx_sum(f + 14, lo.l4 - 14, 0));
		f[24] = (__u8)(c >> 8);
		f[25] = (__u8)c;
	}
	f[lo.csum] = f[lo.csum + 1] = 0;
	c = (__u16)~fx_fold(fx_sum(f + lo.l4, lo.l4_len, fx_pseudo(f, &lo)));
	if (lo.proto == IPPROTO_UDP && !c)
		c = 0xffff;
	f[lo.csum] = (__u8)(c >> 8);
	f[lo.csum + 1] = (__u8)c;
}

/* 1 if the IPv4 header checksum (if any) and the TCP/UDP checksum verify
 * by full recomputation; 1 for frames without them. */
static inline int fx_csum_ok(const __u8 *f, size_t len)
{
	struct fx_layout lo;

	if (fx_layout(f, len, &lo))
		return 1;
	if (lo.family == AF_INET && fx_fold(fx_sum(f + 14, lo.l4 - 14, 0)) != 0xffff)
		return 0;
	return fx_fold(fx_sum(f + lo.l4, lo.l4_len, fx_pseudo(f, &lo))) == 0xffff;
}

/* An incremental update may leave 0xffff where a full computation writes
 * 0x0000: the same one's-complement value.  Make the former the latter so
 * that a byte comparison with a fully computed frame is fair. */
static inline void fx_csum_norm(__u8 *f, size_t len)
{
	struct fx_layout lo;

	if (fx_layout(f, len, &lo))
		return;
	if (lo.family == AF_INET && f[24] == 0xff && f[25] == 0xff)
		f[24] = f[25] = 0;
	if (lo.proto == IPPROTO_TCP && f[lo.csum] == 0xff && f[lo.csum + 1] == 0xff)
		f[lo.csum] = f[lo.csum + 1] = 0;
}

/* ---- packet builder -------------------------------------------------- */

/* One Ethernet + IPv4/IPv6 + TCP frame.  Addresses in network order
 * (as in struct mig_tuple), everything else host order. */
struct fx_pkt {
	int family;
	__u8 smac[6], dmac[6];
	__u32 saddr[4], daddr[4];
	__u16 sport, dport;
	__u32 seq, ack;
	__u8 flags;
	__u16 win;
	__u8 ttl;              /* hop limit for IPv6 */
	__u8 tos;              /* traffic class for IPv6 */
	__u16 ip_id;           /* IPv4 */
	__u32 flowlabel;       /* IPv6 */
	__u8 opts[40];
	__u8 optlen;           /* multiple of 4 */
	const __u8 *payload;
	__u16 plen;
};

/* Returns the frame length; checksums computed from scratch. */
static inline size_t fx_build(const struct fx_pkt *p, __u8 *f)
{
	size_t l4, hl = 20 + p->optlen, len;
	__u8 *t;

	memcpy(f, p->dmac, 6);
	memcpy(f + 6, p->smac, 6);
	if (p->family == AF_INET) {
		__u16 tot = (__u16)(20 + hl + p->plen);

		f[12] = 0x08; f[13] = 0x00;
		f[14] = 0x45; f[15] = p->tos;
		f[16] = (__u8)(tot >> 8); f[17] = (__u8)tot;
		f[18] = (__u8)(p->ip_id >> 8); f[19] = (__u8)p->ip_id;
		f[20] = 0x40; f[21] = 0;            /* DF */
		f[22] = p->ttl; f[23] = IPPROTO_TCP;
		f[24] = f[25] = 0;
		memcpy(f + 26, p->saddr, 4);
		memcpy(f + 30, p->daddr, 4);
		l4 = 34;
	} else {
		__u16 pl = (__u16)(hl + p->plen);

		f[12] = 0x86; f[13] = 0xdd;
		f[14] = (__u8)(0x60 | p->tos >> 4);
		f[15] = (__u8)(p->tos << 4 | ((p->flowlabel >> 16) & 0x0f));
		f[16] = (__u8)(p->flowlabel >> 8); f[17] = (__u8)p->flowlabel;
		f[18] = (__u8)(pl >> 8); f[19] = (__u8)pl;
		f[20] = IPPROTO_TCP; f[21] = p->ttl;
		memcpy(f + 22, p->saddr, 16);
		memcpy(f + 38, p->daddr, 16);
		l4 = 54;
	}
	t = f + l4;
	t[0] = (__u8)(p->sport >> 8); t[1] = (__u8)p->sport;
	t[2] = (__u8)(p->dport >> 8); t[3] = (__u8)p->dport;
	t[4] = (__u8)(p->seq >> 24); t[5] = (__u8)(p->seq >> 16);
	t[6] = (__u8)(p->seq >> 8); t[7] = (__u8)p->seq;
	t[8] = (__u8)(p->ack >> 24); t[9] = (__u8)(p->ack >> 16);
	t[10] = (__u8)(p->ack >> 8); t[11] = (__u8)p->ack;
	t[12] = (__u8)((hl / 4) << 4);
	t[13] = p->flags;
	t[14] = (__u8)(p->win >> 8); t[15] = (__u8)p->win;
	t[16] = t[17] = t[18] = t[19] = 0;
	memcpy(t + 20, p->opts, p->optlen);
	if (p->plen)
		memcpy(t + hl, p->payload, p->plen);
	len = l4 + hl + p->plen;
	fx_csum_fill(f, len);
	return len;
}

/* A signalling option (MIGRATE, MIGRATE_ACK, CONFIRM) first, then NOPs to
 * 28 bytes: the 48-byte header of PROTOCOL.md 5 (what mig_dp builds). */
static inline void fx_opt_sig(struct fx_pkt *p, __u8 sub, __u32 reqno,
			      const __u8 id[8], const __u8 mac[8])
{
	memset(p->opts, 1, 28);
	mig_opt_build_sig(p->opts, sub, reqno, id, mac);
	p->optlen = 28;
}

static inline void fx_opt_nops(struct fx_pkt *p, __u8 n)
{
	memset(p->opts, 1, n);
	p->optlen = n;
}

/* NOP, NOP, Timestamps: what Linux puts on its data segments. */
static inline void fx_opt_ts(struct fx_pkt *p, __u32 tsval, __u32 tsecr)
{
	__u8 *o = p->opts;

	o[0] = 1; o[1] = 1; o[2] = 8; o[3] = 10;
	o[4] = (__u8)(tsval >> 24); o[5] = (__u8)(tsval >> 16);
	o[6] = (__u8)(tsval >> 8); o[7] = (__u8)tsval;
	o[8] = (__u8)(tsecr >> 24); o[9] = (__u8)(tsecr >> 16);
	o[10] = (__u8)(tsecr >> 8); o[11] = (__u8)tsecr;
	p->optlen = 12;
}

/* A frame arriving from the peer: src = (addr, port) of the peer, dst =
 * (addr, port) of ours; fields the tests do not vary get fixed values. */
static inline void fx_pkt_in(struct fx_pkt *p, int family,
			     const __u32 saddr[4], __u16 sport_be,
			     const __u32 daddr[4], __u16 dport_be)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	memcpy(p->smac, fx_mac_peer, 6);
	memcpy(p->dmac, fx_mac_ours, 6);
	memcpy(p->saddr, saddr, 16);
	memcpy(p->daddr, daddr, 16);
	p->sport = ntohs(sport_be);
	p->dport = ntohs(dport_be);
	p->win = 502;
	p->ttl = 57;
	p->tos = 0x28;
	p->ip_id = 0x3a5c;
	p->flowlabel = 0xabcde;
}

/* The same frame's reply direction: MACs, addresses and ports swapped,
 * TTL 64 (what mig_dp writes on its answers); IP ID, TOS, flow label and
 * window are kept from the received frame. */
static inline void fx_pkt_reply(struct fx_pkt *r, const struct fx_pkt *in)
{
	*r = *in;
	memcpy(r->smac, in->dmac, 6);
	memcpy(r->dmac, in->smac, 6);
	memcpy(r->saddr, in->daddr, 16);
	memcpy(r->daddr, in->saddr, 16);
	r->sport = in->dport;
	r->dport = in->sport;
	r->ttl = 64;
	r->payload = NULL;
	r->plen = 0;
	r->optlen = 0;
}

/* ---- ICMP errors ------------------------------------------------------- */

/* A router on the path (the source of ICMP errors); not local. */
#define FX_RTR4 "198.51.100.254"
#define FX_RTR6 "2001:db8:1::fe"

/* Where the ICMP message of an ICMP/ICMPv6 frame is (outer IPv4 with any
 * options, outer IPv6 without extension headers); -1 otherwise. */
static inline int fx_icmp_layout(const __u8 *f, size_t len, int *family,
				 size_t *l4, size_t *mlen)
{
	size_t tot;

	if (len >= 34 && f[12] == 0x08 && f[13] == 0x00 && f[14 + 9] == IPPROTO_ICMP) {
		*family = AF_INET;
		*l4 = 14 + (size_t)(f[14] & 0x0f) * 4;
		tot = (size_t)(f[16] << 8 | f[17]);
		if (*l4 < 34 || tot < *l4 - 14 + 8 || 14 + tot > len)
			return -1;
		*mlen = tot - (*l4 - 14);
		return 0;
	}
	if (len >= 54 && f[12] == 0x86 && f[13] == 0xdd && f[14 + 6] == IPPROTO_ICMPV6) {
		*family = AF_INET6;
		*l4 = 54;
		*mlen = (size_t)(f[18] << 8 | f[19]);
		return *mlen < 8 || 54 + *mlen > len ? -1 : 0;
	}
	return -1;
}

/* The ICMPv6 pseudo-header: source, destination, upper-layer length, 58. */
static inline __u32 fx_icmp6_pseudo(const __u8 *f, size_t mlen)
{
	return fx_sum(f + 14 + 8, 32, 0) + (__u32)mlen + IPPROTO_ICMPV6;
}

/* Compute and store, from scratch, the checksums of an ICMP frame: the
 * outer IPv4 header's, the quoted IPv4 header's (when the whole quoted
 * header is there) and the ICMP checksum, or the ICMPv6 checksum with its
 * pseudo-header.  The quoted transport checksum is left as it is. */
static inline void fx_icmp_csum_fill(__u8 *f, size_t len)
{
	size_t l4, mlen, qhl;
	int family;
	__u16 c;
	__u8 *m;

	if (fx_icmp_layout(f, len, &family, &l4, &mlen))
		return;
	m = f + l4;
	if (family == AF_INET) {
		f[24] = f[25] = 0;
		c = (__u16)~fx_fold(fx_sum(f + 14, l4 - 14, 0));
		f[24] = (__u8)(c >> 8);
		f[25] = (__u8)c;
		qhl = mlen > 8 ? (size_t)(m[8] & 0x0f) * 4 : 0;
		if ((m[8] >> 4) == 4 && qhl >= 20 && 8 + qhl <= mlen) {
			m[8 + 10] = m[8 + 11] = 0;
			c = (__u16)~fx_fold(fx_sum(m + 8, qhl, 0));
			m[8 + 10] = (__u8)(c >> 8);
			m[8 + 11] = (__u8)c;
		}
	}
	m[2] = m[3] = 0;
	c = (__u16)~fx_fold(fx_sum(m, mlen, family == AF_INET ? 0 : fx_icmp6_pseudo(f, mlen)));
	m[2] = (__u8)(c >> 8);
	m[3] = (__u8)c;
}

/* 1 if every checksum fx_icmp_csum_fill writes verifies by full
 * recomputation (what the receiving kernel checks, and what it checks
 * of the quoted IPv4 header); 0 otherwise or for a frame that is not
 * ICMP. */
static inline int fx_icmp_csum_ok(const __u8 *f, size_t len)
{
	size_t l4, mlen, qhl;
	const __u8 *m;
	int family;

	if (fx_icmp_layout(f, len, &family, &l4, &mlen) || mlen < 8)
		return 0;
	m = f + l4;
	if (family == AF_INET6)
		return fx_fold(fx_sum(m, mlen, fx_icmp6_pseudo(f, mlen))) == 0xffff;
	if (fx_fold(fx_sum(f + 14, l4 - 14, 0)) != 0xffff ||
	    fx_fold(fx_sum(m, mlen, 0)) != 0xffff)
		return 0;
	qhl = mlen > 8 ? (size_t)(m[8] & 0x0f) * 4 : 0;
	if ((m[8] >> 4) == 4 && qhl >= 20 && 8 + qhl <= mlen)
		return fx_fold(fx_sum(m + 8, qhl, 0)) == 0xffff;
	return 1;
}

/* As fx_csum_norm for ICMP frames: 0xffff where a full computation
 * writes 0x0000, in each checksum fx_icmp_csum_fill writes. */
static inline void fx_icmp_csum_norm(__u8 *f, size_t len)
{
	size_t l4, mlen;
	int family;
	__u8 *m;

	if (fx_icmp_layout(f, len, &family, &l4, &mlen) || mlen < 8)
		return;
	m = f + l4;
	if (m[2] == 0xff && m[3] == 0xff)
		m[2] = m[3] = 0;
	if (family != AF_INET)
		return;
	if (f[24] == 0xff && f[25] == 0xff)
		f[24] = f[25] = 0;
	if (mlen >= 8 + 12 && (m[8] >> 4) == 4 && m[8 + 10] == 0xff && m[8 + 11] == 0xff)
		m[8 + 10] = m[8 + 11] = 0;
}

/*
 * An ICMP (family AF_INET) or ICMPv6 error frame from saddr (a router) to
 * daddr: type, code, the 4 bytes after the checksum in host order (the
 * next-hop MTU of "fragmentation needed" in the low 16 bits, the MTU of
 * "packet too big" in all 32), then the first qlen bytes of the IP packet
 * of frame quote (from its IP header on; quote is a whole frame, as
 * fx_build makes them).  Outer IPv4: TOS 0xc0, ID 0x0b0e, no DF, TTL 63;
 * IPv6: traffic class 0xc0, no flow label, hop limit 63 (what Linux
 * routers send, give or take the ID).  MACs as fx_pkt_in.  Checksums
 * computed from scratch; the quoted packet's bytes are copied as they
 * are.  Returns the frame length.
 */
static inline size_t fx_build_icmp(int family, const __u32 saddr[4], const __u32 daddr[4],
				   __u8 type, __u8 code, __u32 rest, const __u8 *quote,
				   size_t qlen, __u8 *f)
{
	size_t l4 = family == AF_INET ? 34 : 54, mlen = 8 + qlen;
	__u8 *m = f + l4;

	memcpy(f, fx_mac_ours, 6);
	memcpy(f + 6, fx_mac_peer, 6);
	if (family == AF_INET) {
		__u16 tot = (__u16)(20 + mlen);

		f[12] = 0x08; f[13] = 0x00;
		f[14] = 0x45; f[15] = 0xc0;
		f[16] = (__u8)(tot >> 8); f[17] = (__u8)tot;
		f[18] = 0x0b; f[19] = 0x0e;
		f[20] = 0; f[21] = 0;
		f[22] = 63; f[23] = IPPROTO_ICMP;
		f[24] = f[25] = 0;
		memcpy(f + 26, saddr, 4);
		memcpy(f + 30, daddr, 4);
	} else {
		f[12] = 0x86; f[13] = 0xdd;
		f[14] = 0x6c; f[15] = 0x00; f[16] = 0; f[17] = 0;
		f[18] = (__u8)(mlen >> 8); f[19] = (__u8)mlen;
		f[20] = IPPROTO_ICMPV6; f[21] = 63;
		memcpy(f + 22, saddr, 16);
		memcpy(f + 38, daddr, 16);
	}
	m[0] = type;
	m[1] = code;
	m[2] = m[3] = 0;
	m[4] = (__u8)(rest >> 24); m[5] = (__u8)(rest >> 16);
	m[6] = (__u8)(rest >> 8); m[7] = (__u8)rest;
	memcpy(m + 8, quote + 14, qlen);
	fx_icmp_csum_fill(f, l4 + mlen);
	return l4 + mlen;
}

/* ---- hex diff -------------------------------------------------------- */

/* got and want, 16 bytes a row, rows that differ marked with '*' and the
 * differing bytes underlined with '^'. */
static inline void fx_hexdiff(FILE *o, const __u8 *got, size_t glen,
			      const __u8 *want, size_t wlen)
{
	size_t n = glen > wlen ? glen : wlen, row, i;

	fprintf(o, "    got %zu bytes, want %zu bytes\n", glen, wlen);
	for (row = 0; row < n; row += 16) {
		int diff = 0;

		for (i = row; i < row + 16 && i < n; i++)
			if (i >= glen || i >= wlen || got[i] != want[i])
				diff = 1;
		fprintf(o, "    %c %04zx got  ", diff ? '*' : ' ', row);
		for (i = row; i < row + 16 && i < n; i++)
			i < glen ? fprintf(o, "%02x ", got[i]) : fprintf(o, "   ");
		fprintf(o, "\n           want ");
		for (i = row; i < row + 16 && i < n; i++)
			i < wlen ? fprintf(o, "%02x ", want[i]) : fprintf(o, "   ");
		fputc('\n', o);
		if (diff) {
			fprintf(o, "                ");
			for (i = row; i < row + 16 && i < n; i++)
				fprintf(o, "%s", i >= glen || i >= wlen ||
					got[i] != want[i] ? "^^ " : "   ");
			fputc('\n', o);
		}
	}
}

/* ---- running programs ------------------------------------------------ */

struct fx_res {
	int err;                  /* bpf_prog_test_run_opts result */
	__u32 ret;                /* the program's verdict */
	__u32 mark;               /* skb->mark afterwards (TC) */
	__u32 duration;           /* ns per run */
	__u32 len;
	__u8 out[FX_PKT_MAX];
};

/* The device an skb run is on (its ifindex; 0: lo, test_run's default). */
static int fx_run_ifindex;

/* Run prog once (or repeat times) on a copy of the frame. */
static inline int fx_run(int prog_fd, bool skb, const void *in, size_t len,
			 __u32 mark, int repeat, struct fx_res *r)
{
	struct __sk_buff ci, co;
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = in,
		.data_size_in = (__u32)len,
		.data_out = r->out,
		.data_size_out = sizeof(r->out),
		.repeat = repeat,
	);

	memset(&ci, 0, sizeof(ci));
	memset(&co, 0, sizeof(co));
	if (skb) {
		ci.mark = mark;
		ci.ifindex = (__u32)fx_run_ifindex;
		o.ctx_in = &ci;
		o.ctx_size_in = sizeof(ci);
		o.ctx_out = &co;
		o.ctx_size_out = sizeof(co);
	}
	r->err = bpf_prog_test_run_opts(prog_fd, &o) ? -errno : 0;
	r->ret = o.retval;
	r->len = o.data_size_out;
	r->mark = co.mark;
	r->duration = o.duration;
	return r->err;
}

/* ---- maps -------------------------------------------------------------- */

static inline void fx_map_clear(struct bpf_map *m)
{
	__u8 key[64], next[64];
	int fd = bpf_map__fd(m);

	while (!bpf_map_get_next_key(fd, NULL, next)) {
		memcpy(key, next, sizeof(key));
		if (bpf_map_delete_elem(fd, key))
			break;
	}
}

static inline int fx_map_count(struct bpf_map *m)
{
	__u8 key[64], next[64];
	int fd = bpf_map__fd(m), n = 0;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, next) && n < 100000) {
		memcpy(key, next, sizeof(key));
		prev = key;
		n++;
	}
	return n;
}

/* Zero every CPU's slot of a per-CPU array entry. */
static inline void fx_percpu_zero(struct bpf_map *m, __u32 key)
{
	int ncpu = libbpf_num_possible_cpus();
	size_t sz = ((bpf_map__value_size(m) + 7) & ~7u) * (size_t)(ncpu > 0 ? ncpu : 1);
	void *v = calloc(1, sz);

	if (v) {
		bpf_map_update_elem(bpf_map__fd(m), &key, v, BPF_ANY);
		free(v);
	}
}

/* A counter of mig_stats, summed over CPUs. */
static inline __u64 fx_stat(struct mig_dp *skel, __u32 id)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	__u64 *v, sum = 0;

	if (ncpu <= 0)
		return 0;
	v = calloc((size_t)ncpu, sizeof(*v));
	if (!v)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.mig_stats), &id, v))
		for (i = 0; i < ncpu; i++)
			sum += v[i];
	free(v);
	return sum;
}

/* Fixed nonce key b of the host (mig_host[0].boot). */
static const __u8 fx_boot[MIG_SIP_KEY_LEN] = {
	0xb0, 0x07, 0xb1, 0x17, 0xb2, 0x27, 0xb3, 0x37, 0xb4, 0x47, 0xb5, 0x57, 0xb6, 0x67, 0xb7, 0x77,
};

/* mig_host[0] as the agent writes it: the boot secret, and the count of
 * entries in mig_hold (the egress program looks there only if non-zero). */
static inline int fx_host(struct mig_dp *skel, __u32 holds)
{
	struct mig_host h;
	__u32 zero = 0;

	memset(&h, 0, sizeof(h));
	memcpy(h.boot, fx_boot, sizeof(h.boot));
	h.holds = holds;
	return bpf_map_update_elem(bpf_map__fd(skel->maps.mig_host), &zero, &h, BPF_ANY) ?
		-errno : 0;
}

/* The translation filter's counts (mig_xf) as the two maps' keys give
 * them: into want[MIG_XF_SLOTS]. */
static inline void fx_xf_want(struct mig_dp *skel, __u64 *want)
{
	struct bpf_map *m[2] = { skel->maps.mig_ingress, skel->maps.mig_egress };
	struct mig_tuple key, next;
	void *prev;
	int i;

	memset(want, 0, MIG_XF_SLOTS * sizeof(*want));
	for (i = 0; i < 2; i++) {
		prev = NULL;
		while (!bpf_map_get_next_key(bpf_map__fd(m[i]), prev, &next)) {
			key = next;
			prev = &key;
			want[mig_xf_slot(&key)]++;
		}
	}
}

/* mig_xf, mapped (it is mmapable, as the agent maps it): its slots. */
static inline __u64 *fx_xf_map(struct mig_dp *skel)
{
	void *m = mmap(NULL, (MIG_XF_SLOTS + 1) * sizeof(__u64), PROT_READ | PROT_WRITE,
		       MAP_SHARED, bpf_map__fd(skel->maps.mig_xf), 0);

	if (m == MAP_FAILED) {
		fprintf(stderr, "cannot map mig_xf: %s\n", strerror(errno));
		exit(EXIT_FAILURE);
	}
	return m;
}

/* After a test wrote mig_ingress or mig_egress itself (no program runs
 * meanwhile): the filter's counts made right. */
static inline void fx_xf_sync(struct mig_dp *skel)
{
	__u64 *xf = fx_xf_map(skel);

	fx_xf_want(skel, xf);
	munmap(xf, (MIG_XF_SLOTS + 1) * sizeof(__u64));
}

/* Do the filter's counts match the maps exactly?  0, or the first slot
 * that differs + 1 (its counts in *have, *want). */
static inline __u32 fx_xf_diff(struct mig_dp *skel, __u64 *have, __u64 *want_out)
{
	static __u64 want[MIG_XF_SLOTS];
	__u64 *xf = fx_xf_map(skel);
	__u32 i, r = 0;

	fx_xf_want(skel, want);
	for (i = 0; i < MIG_XF_SLOTS; i++) {
		if (xf[i] != want[i]) {
			*have = xf[i];
			*want_out = want[i];
			r = i + 1;
			break;
		}
	}
	munmap(xf, (MIG_XF_SLOTS + 1) * sizeof(__u64));
	return r;
}

/* Forget everything the data path or a test stored: flows, tokens,
 * translations, candidates, pending requests, holds, counters, the RST
 * token bucket; mig_host gets the fixed boot secret and no holds. */
static inline void fx_reset(struct mig_dp *skel)
{
	__u64 have, want;
	__u32 i;

	/* whatever the programs did since the last reset or sync kept the
	 * filter's counts (mig_xlate_put, mig_xlate_del) */
	i = fx_xf_diff(skel, &have, &want);
	if (i) {
		fprintf(stderr, "mig_xf: slot %u counts %llu, the maps hold %llu there\n",
			i - 1, (unsigned long long)have, (unsigned long long)want);
		exit(EXIT_FAILURE);
	}
	fx_map_clear(skel->maps.mig_flows);
	fx_map_clear(skel->maps.mig_tokens);
	fx_map_clear(skel->maps.mig_ingress);
	fx_map_clear(skel->maps.mig_egress);
	fx_map_clear(skel->maps.mig_kept);
	fx_map_clear(skel->maps.mig_cand);
	fx_map_clear(skel->maps.mig_pend);
	fx_map_clear(skel->maps.mig_hold);
	fx_xf_sync(skel);
	{
		struct mig_gate g = { 0 };   /* mig_cand is empty again */
		__u32 zero = 0;

		bpf_map_update_elem(bpf_map__fd(skel->maps.mig_gate), &zero, &g, BPF_ANY);
	}
	if (fx_host(skel, 0)) {
		fprintf(stderr, "writing mig_host: %s\n", strerror(errno));
		exit(EXIT_FAILURE);
	}
	for (i = 0; i < MIG_STAT__MAX; i++)
		fx_percpu_zero(skel->maps.mig_stats, i);
	fx_percpu_zero(skel->maps.mig_rate, 0);
}

/* ---- flows as the agent writes them ------------------------------------ */

/* Fixed keys of the test connection: s_i keys what the initiator (cli)
 * sends, s_r what the responder (srv) sends (PROTOCOL.md 9). */
static const __u8 fx_token[8] = { 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77 };
static const __u8 fx_s_i[MIG_SIP_KEY_LEN] = {
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x10,
};
static const __u8 fx_s_r[MIG_SIP_KEY_LEN] = {
	0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x20,
};

/* The challenge c a mover puts in its Migrate SYN's ack field. */
#define FX_CHALLENGE 0xc4a11e06u

/* The tags of PROTOCOL.md 9 for the test token (s: the sender's key). */
static inline void fx_mac_migrate(const __u8 s[16], __u32 reqno, __u8 mac[8])
{
	mig_sip_mac_migrate(s, fx_token, reqno, mac);
}

static inline void fx_mac_ack(const __u8 s[16], __u32 reqno, __u32 challenge,
			      const __u8 nonce[8], __u8 mac[8])
{
	mig_sip_mac_ack(s, reqno, challenge, nonce, mac);
}

static inline void fx_mac_confirm(const __u8 s[16], __u32 reqno, const __u8 nonce[8],
				  __u8 mac[8])
{
	mig_sip_mac_confirm(s, reqno, nonce, mac);
}

/* The tag of a RST (MIGRATE-WAIT): SipHash(s, 0x05 || seq || ack), s the
 * sender's key; seq and ack in host order, as in the TCP header. */
static inline void fx_mac_reset(const __u8 s[16], __u32 seq, __u32 ack, __u8 mac[8])
{
	mig_sip_mac_reset(s, seq, ack, mac);
}

/* bpf_ktime_get_ns() / 10^6 as the data path keeps it (a __u32 of ms). */
static inline __u32 fx_now_ms(void)
{
	return (__u32)(fx_now_ns() / 1000000ULL);
}

/* The nonce the fixed end (boot secret fx_boot) gives a Migrate SYN of
 * the test token from wire tuple w (its own view). */
static inline void fx_nonce(const struct mig_tuple *w, __u32 reqno, __u8 nonce[8])
{
	mig_sip_nonce(fx_boot, w, fx_token, reqno, nonce);
}

/* The mig_flows value the agent writes after key agreement for the side
 * with socket tuple sock (wire = sock: never migrated), with the last
 * committed request numbers of the peer and of its own. */
static inline void fx_flow(struct mig_flow *f, const struct mig_tuple *sock,
			   bool initiator, __u32 peer_reqno, __u32 own_reqno)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->token, fx_token, 8);
	f->cookie = 4242;
	f->keyed_ns = fx_now_ns();
	f->isn_i = 0x01020304;
	f->isn_r = 0x05060708;
	f->role = initiator ? MIG_ROLE_INITIATOR : MIG_ROLE_RESPONDER;
	memcpy(f->s_own, initiator ? fx_s_i : fx_s_r, MIG_SIP_KEY_LEN);
	memcpy(f->s_peer, initiator ? fx_s_r : fx_s_i, MIG_SIP_KEY_LEN);
	f->state = BPF_TCP_ESTABLISHED;
	f->peer_reqno = peer_reqno;
	f->own_reqno = own_reqno;
	f->wire = *sock;
}

/* A tuple from our side: laddr/lport ours. */
static inline void fx_tuple(struct mig_tuple *t, int family, const __u32 laddr[4],
			    __u16 lport_be, const __u32 raddr[4], __u16 rport_be)
{
	memset(t, 0, sizeof(*t));
	t->family = (__u8)family;
	memcpy(t->laddr, laddr, 16);
	memcpy(t->raddr, raddr, 16);
	t->lport = lport_be;
	t->rport = rport_be;
}

static inline void fx_addr(int family, const char *s, __u32 a[4])
{
	memset(a, 0, 16);
	inet_pton(family, s, a);
}

#endif
