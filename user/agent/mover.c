// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Moves: when the address a keyed flow uses on our side goes away, hold
 * the flow's segments back, keep the old address local, pick the new
 * source with a route lookup and send the Migrate SYN from a raw socket,
 * again with backoff until the data path commits.  After every commit
 * (either end moving) restart the socket's congestion state from slow
 * start (cc.c) and undo the kernel's retransmission backoff so data
 * flows again within about a round trip.
 *
 * What the agent writes: mig_pend (our outstanding requests) and mig_hold
 * (flows whose address went away), both its own; it reads mig_flows and
 * never writes an existing entry (the data path owns its fields).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "dns.h"
#include "mig_crypto.h"
#include "mig_log.h"
#include "mig_ctlreq.h"
#include "migrate/mig_opt.h"
#include "migrate/mig_siphash.h"

#define MSYN_FIRST_MS 200
#define MSYN_MAX_MS   2000
/* unanswered this long: maybe the peer moved too; look its name up again */
#define PEER_LOOKUP_NS (1000ULL * 1000000ULL)

static bool may_move(uint8_t st)
{
	return st == 1 /* ESTABLISHED */ || st == 4 /* FIN-WAIT-1 */ ||
	       st == 5 /* FIN-WAIT-2 */ || st == 8 /* CLOSE-WAIT */;
}

bool flow_may_move(uint8_t state)
{
	return may_move(state);
}

static int af_of(const struct mig_tuple *t)
{
	return t->family == AF_INET6 ? AF_INET6 : AF_INET;
}

/* Is addr (our side) one of the host's usable addresses (host_addrs_read)? */
static bool addr_usable(const struct host_addrs *h, int af, const uint32_t *addr)
{
	return host_addrs_has(h, af, addr);
}

/* One socket of each family (index: IPv6), opened when first needed and
 * kept: a move of many flows opens none per flow. */
static int sock_of(int *fds, int af, int type, int proto)
{
	int *fd = &fds[af == AF_INET6];

	if (*fd < 0)
		*fd = socket(af, type | SOCK_CLOEXEC, proto);
	return *fd;
}

static int udp_fds[2] = { -1, -1 }, raw_fds[2] = { -1, -1 };

/* The source the kernel would use toward the peer now (no packet sent:
 * connecting a UDP socket only routes). */
static int route_source(const struct mig_tuple *w, uint32_t *src)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd, af = af_of(w), ret = -1;

	fd = sock_of(udp_fds, af, SOCK_DGRAM, 0);
	if (fd < 0)
		return -1;
	if (af == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = w->rport;
		s->sin_addr.s_addr = w->raddr[0];
		len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		s->sin6_port = w->rport;
		memcpy(&s->sin6_addr, w->raddr, 16);
		len = sizeof(*s);
	}
	/* (disconnected first: a connected socket keeps the source it got) */
	connect(fd, (struct sockaddr *)&(struct sockaddr){ .sa_family = AF_UNSPEC },
		sizeof(struct sockaddr));
	if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
			memset(src, 0, 16);
			if (af == AF_INET)
				src[0] = ((struct sockaddr_in *)&ss)->sin_addr.s_addr;
			else
				memcpy(src, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
			ret = 0;
		}
	}
	return ret;
}

static uint16_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t l4_csum(int af, const uint32_t *src, const uint32_t *dst,
			uint8_t proto, const uint8_t *l4, size_t len)
{
	uint8_t ph[40];
	size_t phl;
	uint16_t s;

	memset(ph, 0, sizeof(ph));
	if (af == AF_INET) {
		memcpy(ph, src, 4);
		memcpy(ph + 4, dst, 4);
		ph[9] = proto;
		ph[10] = len >> 8;
		ph[11] = len & 0xff;
		phl = 12;
	} else {
		memcpy(ph, src, 16);
		memcpy(ph + 16, dst, 16);
		ph[34] = len >> 8;
		ph[35] = len & 0xff;
		ph[39] = proto;
		phl = 40;
	}
	s = csum_add(0, ph, phl);
	s = csum_add(s, l4, len);
	return (uint16_t)~s;
}

/* Send an IP packet whose header we write (IPPROTO_RAW: send only). */
static int send_raw(int af, const uint32_t *src, const uint32_t *dst, uint8_t proto,
		    const uint8_t *l4, size_t l4len)
{
	uint8_t pkt[128];
	struct sockaddr_storage ss = {};
	socklen_t sl;
	uint32_t mark = MIG_MARK;
	size_t hl = af == AF_INET ? 20 : 40;
	int fd, ret = 0;

	if (hl + l4len > sizeof(pkt))
		return -EINVAL;
	memset(pkt, 0, hl);
	if (af == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		pkt[0] = 0x45;
		pkt[2] = (hl + l4len) >> 8;
		pkt[3] = (hl + l4len) & 0xff;
		pkt[6] = 0x40;   /* DF */
		pkt[8] = 64;
		pkt[9] = proto;
		memcpy(pkt + 12, src, 4);
		memcpy(pkt + 16, dst, 4);
		s->sin_family = AF_INET;
		s->sin_addr.s_addr = dst[0];
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		pkt[0] = 0x60;
		pkt[4] = l4len >> 8;
		pkt[5] = l4len & 0xff;
		pkt[6] = proto;
		pkt[7] = 64;
		memcpy(pkt + 8, src, 16);
		memcpy(pkt + 24, dst, 16);
		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, dst, 16);
		sl = sizeof(*s);
	}
	memcpy(pkt + hl, l4, l4len);
	if (raw_fds[af == AF_INET6] < 0) {
		fd = sock_of(raw_fds, af, SOCK_RAW, IPPROTO_RAW);
		if (fd < 0)
			return -errno;
		setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
	}
	fd = raw_fds[af == AF_INET6];
	if (sendto(fd, pkt, hl + l4len, 0, (struct sockaddr *)&ss, sl) < 0)
		ret = -errno;
	return ret;
}

/* The 3 bytes after our 25-byte option: the connection's window scale
 * (stateful middleboxes learn it from SYN and SYN/ACK), else NOPs. */
static void put_wscale(uint8_t *p, uint8_t ws)
{
	if (ws == MIG_NO_WSCALE) {
		p[0] = p[1] = p[2] = 1;
	} else {
		p[0] = 3;
		p[1] = 3;
		p[2] = ws;
	}
}

/*
 * Send one signalling segment from wire tuple w (our view): a 20-byte
 * header, our 25-byte option (sub, reqno, id, mac) and the window scale
 * ws in the 3 bytes after it (MIG_NO_WSCALE: NOPs), 48 bytes in all.
 */
static int send_sig(const struct mig_tuple *w, uint32_t seq, uint32_t ack, uint8_t flags,
		    uint8_t sub, uint32_t reqno, const uint8_t *id, const uint8_t *mac,
		    uint8_t ws)
{
	uint8_t tcp[48];
	uint32_t v;
	uint16_t cs;

	memset(tcp, 0, sizeof(tcp));
	memcpy(tcp, &w->lport, 2);
	memcpy(tcp + 2, &w->rport, 2);
	v = htonl(seq);
	memcpy(tcp + 4, &v, 4);
	v = htonl(ack);
	memcpy(tcp + 8, &v, 4);
	tcp[12] = (48 / 4) << 4;
	tcp[13] = flags;
	tcp[14] = tcp[15] = 0xff;
	mig_opt_build_sig(tcp + 20, sub, reqno, id, mac);
	put_wscale(tcp + 45, ws);
	cs = htons(l4_csum(af_of(w), w->laddr, w->raddr, 6, tcp, 48));
	memcpy(tcp + 16, &cs, 2);
	return send_raw(af_of(w), w->laddr, w->raddr, 6, tcp, 48);
}

int mover_init(struct agent *a)
{
	return mig_tupleset_init(&a->move_idx) ?: mig_tupleset_init(&a->cc_seen);
}

void mover_free(struct agent *a)
{
	for (int i = 0; i < 2; i++) {
		if (udp_fds[i] >= 0)
			close(udp_fds[i]);
		if (raw_fds[i] >= 0)
			close(raw_fds[i]);
		udp_fds[i] = raw_fds[i] = -1;
	}
	mig_tupleset_free(&a->move_idx);
	mig_tupleset_free(&a->cc_seen);
	free(a->moves);
	free(a->move_free);
	free(a->commits);
	a->commits = NULL;
	a->n_commits = a->cap_commits = 0;
	free(a->cc_waits);
	a->cc_waits = NULL;
	a->n_cc_waits = a->cap_cc_waits = 0;
	a->moves = NULL;
	a->move_free = NULL;
	a->n_moves = a->n_move_free = 0;
}

/* Slots of ended moves (active cleared) back to the free list. */
static void moves_reclaim(struct agent *a)
{
	mig_tupleset_each(&a->move_idx, i) {
		uint32_t k = a->move_idx.val[i];

		if (a->moves[k].active)
			continue;
		a->move_free[a->n_move_free++] = k;
		mig_tupleset_del(&a->move_idx, &a->move_idx.v[i]);
	}
}

/* More slots: MOVES_FIRST, then twice as many, up to --max-flows. */
static int moves_grow(struct agent *a)
{
	size_t n = a->n_moves ? 2 * a->n_moves : MOVES_FIRST, k;
	struct move *v;
	uint32_t *fr;

	if (n > a->max_flows)
		n = a->max_flows;
	if (n <= a->n_moves)
		return -ENOSPC;
	v = realloc(a->moves, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	a->moves = v;
	fr = realloc(a->move_free, n * sizeof(*fr));
	if (!fr)
		return -ENOMEM;
	a->move_free = fr;
	memset(v + a->n_moves, 0, (n - a->n_moves) * sizeof(*v));
	for (k = n; k-- > a->n_moves;)
		a->move_free[a->n_move_free++] = (uint32_t)k;
	a->n_moves = n;
	return 0;
}

/* The move of flow sock; with create, a new one (not active yet) when it
 * has none.  NULL: none, or no slot to be had.  A slot may move in memory
 * when a new one is made: no other move pointer survives a create. */
static struct move *move_of(struct agent *a, const struct mig_tuple *sock, bool create)
{
	struct move *m;
	uint32_t k;

	if (mig_tupleset_get(&a->move_idx, sock, &k)) {
		m = &a->moves[k];
		if (m->active)
			return m;
		if (create) {
			memset(m, 0, sizeof(*m));
			m->sock = *sock;
			return m;
		}
		return NULL;
	}
	if (!create)
		return NULL;
	if (!a->n_move_free)
		moves_reclaim(a);
	if (!a->n_move_free && moves_grow(a))
		return NULL;
	k = a->move_free[--a->n_move_free];
	if (mig_tupleset_put(&a->move_idx, sock, k)) {
		a->n_move_free++;
		return NULL;
	}
	m = &a->moves[k];
	memset(m, 0, sizeof(*m));
	m->sock = *sock;
	return m;
}

bool mover_slot_free(struct agent *a)
{
	if (a->n_move_free || a->n_moves < a->max_flows)
		return true;
	moves_reclaim(a);
	return a->n_move_free > 0;
}

static void drop_pending(struct agent *a, const struct move *m)
{
	struct mig_pend pe;

	if (!bpf_map_lookup_elem(a->pend_fd, &m->wire, &pe) &&
	    !memcmp(&pe.sock, &m->sock, sizeof(m->sock)))
		bpf_map_delete_elem(a->pend_fd, &m->wire);
}

/* Our request from m->wire, for the data path to check the answer. */
static int put_pending(struct agent *a, const struct move *m)
{
	struct mig_pend pe = {};

	pe.sock = m->sock;
	pe.reqno = m->reqno;
	pe.challenge = m->challenge;
	if (bpf_map_update_elem(a->pend_fd, &m->wire, &pe, BPF_ANY)) {
		pr_warn("cannot store the pending migration: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* A fresh challenge c for a new request number (PROTOCOL.md 9). */
static int new_challenge(struct move *m)
{
	/* drawn 64 at a time (a system call per move of many flows
	 * otherwise); each is erased from here once taken */
	static uint8_t buf[64 * sizeof(m->challenge)];
	static size_t left;

	if (!left) {
		if (getrandom(buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return -EIO;
		left = sizeof(buf);
	}
	left -= sizeof(m->challenge);
	memcpy(&m->challenge, buf + left, sizeof(m->challenge));
	mig_wipe(buf + left, sizeof(m->challenge));
	return 0;
}

/* m's Migrate SYN; f: the flow's entry in mig_flows, as just read */
static int send_msyn(struct agent *a, struct move *m, const struct mig_flow *f)
{
	uint8_t mac[8];
	struct mig_sockinfo si;
	char ts[128];
	int err;

	err = dp_sockinfo_one(a, &m->sock, &si);
	if (err || !may_move(si.state))
		return -ENOENT;
	m->si = si;
	m->si_valid = true;
	mig_sip_mac_migrate(f->s_own, f->token, m->reqno, mac);
	/* the ack field (ACK flag clear) carries our challenge */
	err = send_sig(&m->wire, si.snd_una - 1, m->challenge, 0x02 /* SYN */,
		       MIG_SUB_MIGRATE, m->reqno, f->token, mac, si.rcv_wscale);
	mig_wipe(mac, sizeof(mac));
	if (err) {
		pr_warn("Migrate SYN for %s: %s", tuple_str(&m->sock, ts, sizeof(ts)),
			strerror(-err));
		return err;
	}
	stat_add(a, MIG_STAT_MSYN_SENT, 1);
	pr_debug("Migrate SYN reqno %u from %s", m->reqno, tuple_str(&m->wire, ts, sizeof(ts)));
	return 0;
}

/* Start (or redirect) the migration of flow f to a new local address;
 * asked: by the operator (migratectl migrate), not because the address
 * went away.  Returns 0 when a move toward src is under way. */
static int start_move(struct agent *a, const struct mig_tuple *sock,
		      const struct mig_flow *f, const uint32_t *src, bool asked)
{
	struct move *m;
	uint32_t reqno;
	char t1[128], t2[128];

	m = move_of(a, sock, true);
	if (!m) {
		/* (mover_reconcile says how many wait, once a pass) */
		if (asked)
			pr_warn("no memory for another migration; %s waits",
				tuple_str(sock, t1, sizeof(t1)));
		return -EBUSY;
	}
	if (m->active && !memcmp(m->wire.laddr, src, 16))
		return 0;   /* already asking for this address */
	reqno = f->own_reqno + 1;
	if (m->active) {
		drop_pending(a, m);
		/* a new address after failed attempts: skip ahead, within W */
		if (m->reqno + 1 - f->own_reqno <= MIG_MAC_WINDOW)
			reqno = m->reqno + 1;
	}
	m->wire = f->wire;
	memcpy(m->wire.laddr, src, 16);
	m->reqno = reqno;
	m->active = true;
	m->confirming = false;
	m->reasks = 0;
	m->asked = asked;
	m->backoff_ms = MSYN_FIRST_MS;
	m->started_ns = mono_ns();
	m->next_ns = m->started_ns + (uint64_t)m->backoff_ms * 1000000ULL;
	if (new_challenge(m) || put_pending(a, m)) {
		m->active = false;
		return -EIO;
	}
	pr_info("moving %s to %s (reqno %u%s)", tuple_str(sock, t1, sizeof(t1)),
		tuple_str(&m->wire, t2, sizeof(t2)), reqno, asked ? ", asked for" : "");
	send_msyn(a, m, f);
	return 0;
}

static void hold(struct agent *a, const struct mig_tuple *sock)
{
	struct mig_hold h = { .since_ns = mono_ns() };

	if (bpf_map_update_elem(a->hold_fd, sock, &h, BPF_NOEXIST)) {
		if (errno != EEXIST)   /* (EEXIST: held already) */
			pr_warn("cannot hold a flow's segments: %s", strerror(errno));
		return;
	}
	dp_host_holds(a, 1);
	stat_add(a, MIG_STAT_MOVES, 1);
}

static void hold_end(struct agent *a, const struct mig_tuple *sock)
{
	/* (none held: no system call per flow of a pass that finds every
	 * address usable) */
	if (a->host.holds && !bpf_map_delete_elem(a->hold_fd, sock))
		dp_host_holds(a, -1);
}

/* Our address came back before any migration: undo the hold.  A move
 * the operator asked for is no answer to a lost address: it goes on while
 * the address it moves to is there. */
static void unhold(struct agent *a, const struct host_addrs *h,
		   const struct mig_tuple *sock)
{
	struct move *m;

	hold_end(a, sock);
	m = move_of(a, sock, false);
	if (m && !m->confirming &&
	    !(m->asked && addr_usable(h, af_of(&m->wire), m->wire.laddr))) {
		drop_pending(a, m);
		m->active = false;
	}
}

void mover_reconcile(struct agent *a)
{
	struct mig_tuple key;
	struct host_addrs h = {};
	struct mig_flow f;
	uint32_t src[4];
	size_t waiting = 0;

	a->moves_waiting = false;
	if (host_addrs_read(a, &h))
		return;   /* (reported) nothing known: judge no flow */
	/* first: an old address back on a link is a source again (a move
	 * back to it sends from it) */
	addr_kept_sync(a, &h);
	mig_tupleset_each(&a->flows, i) {
		key = a->flows.v[i];
		if (bpf_map_lookup_elem(a->flows_fd, &key, &f) || !may_move(f.state))
			continue;
		if (addr_usable(&h, af_of(&f.wire), f.wire.laddr)) {
			struct move *m = move_of(a, &key, false);

			/* our request committed and its event is unread
			 * (lost, the ring buffer was full): as if read now,
			 * so that the move confirms before it ends */
			if (m && m->active && !m->confirming && f.own_reqno == m->reqno)
				mover_migrated(a, &key, 1);
			unhold(a, &h, &key);
			continue;
		}
		/* our side of the flow lost its address */
		hold(a, &key);
		if (!addr_usable(&h, af_of(&key), key.laddr))
			addr_keep_local(a, &key);
		if (route_source(&f.wire, src) || !addr_usable(&h, af_of(&f.wire), src))
			continue;   /* no usable address yet: wait for one */
		if (start_move(a, &key, &f, src, false) == -EBUSY)
			waiting++;
	}
	if (waiting) {
		/* every slot busy: the main loop calls us again once one is
		 * free (else these would wait for the next address change) */
		pr_warn("no memory for more migrations at once (%zu): %zu flows wait",
			a->n_moves, waiting);
		a->moves_waiting = true;
	}
	mig_wipe(&f, sizeof(f));
	addr_release_unused(a);
	host_addrs_free(&h);
	stat_add(a, MIG_STAT_ADDR_PASSES, 1);
	mover_commits_done(a);
}

/* One flow of mover_request: move it if the route's source changed. */
static void request_one(struct agent *a, const struct host_addrs *h,
			const struct mig_tuple *sock, const struct mig_flow *f,
			struct mig_ctl_resp *r)
{
	uint32_t src[4];

	r->flows++;
	if (!may_move(f->state)) {
		r->not_movable++;
		return;
	}
	if (route_source(&f->wire, src) || !addr_usable(h, af_of(&f->wire), src)) {
		r->no_route++;
		return;
	}
	if (!memcmp(src, f->wire.laddr, af_of(&f->wire) == AF_INET ? 4 : 16)) {
		r->unchanged++;
		return;
	}
	if (start_move(a, sock, f, src, true))
		r->no_route++;
	else
		r->moving++;
}

int mover_request(struct agent *a, const struct mig_tuple *only,
		  struct mig_ctl_resp *r)
{
	struct mig_tuple key;
	struct host_addrs h = {};
	struct mig_flow f;
	int err;

	if (host_addrs_read(a, &h))
		return -EIO;
	if (only) {
		err = bpf_map_lookup_elem(a->flows_fd, only, &f) ? -ENOENT : 0;
		if (!err)
			request_one(a, &h, only, &f, r);
		mig_wipe(&f, sizeof(f));
		host_addrs_free(&h);
		return err;
	}
	mig_tupleset_each(&a->flows, i) {
		key = a->flows.v[i];
		if (bpf_map_lookup_elem(a->flows_fd, &key, &f) || f.state == 7 /* CLOSE */)
			continue;
		request_one(a, &h, &key, &f, r);
	}
	mig_wipe(&f, sizeof(f));
	host_addrs_free(&h);
	return 0;
}

static void xlate_remove(struct agent *a, const struct mig_tuple *sock,
			 const struct mig_tuple *wire, const struct mig_tuple *prev)
{
	struct mig_out out;
	struct mig_in in;

	if (!bpf_map_lookup_elem(a->ingress_fd, wire, &in) &&
	    !memcmp(&in.sock, sock, sizeof(*sock)) && !bpf_map_delete_elem(a->ingress_fd, wire))
		xf_deleted(a, wire);
	if (prev->family && !bpf_map_lookup_elem(a->ingress_fd, prev, &in) &&
	    !memcmp(&in.sock, sock, sizeof(*sock)) && !bpf_map_delete_elem(a->ingress_fd, prev))
		xf_deleted(a, prev);
	if (!bpf_map_lookup_elem(a->egress_fd, sock, &out) &&
	    !memcmp(&out.wire, wire, sizeof(*wire))) {
		if (!bpf_map_delete_elem(a->egress_fd, sock))
			xf_deleted(a, sock);
		reserve_release(sock);
	}
	hold_end(a, sock);
}

/* Remove a closed flow's translation now (due_ns 0) or when due. */
void xlate_forget(struct agent *a, const struct mig_tuple *sock,
		  const struct mig_tuple *wire, const struct mig_tuple *prev,
		  uint64_t due_ns)
{
	struct move *m = move_of(a, sock, false);

	if (m) {
		drop_pending(a, m);
		m->active = false;
	}
	if (!due_ns || a->n_forget >= sizeof(a->forget) / sizeof(a->forget[0])) {
		xlate_remove(a, sock, wire, prev);
		return;
	}
	a->forget[a->n_forget].sock = *sock;
	a->forget[a->n_forget].wire = *wire;
	a->forget[a->n_forget].prev = *prev;
	a->forget[a->n_forget].due_ns = due_ns;
	a->forget[a->n_forget].until_gone = false;
	a->n_forget++;
}

/* Found at start: a closed flow's translation while its time-wait socket
 * still lives (the run that knew when TIME-WAIT began is gone): removed
 * once that socket is, looked for every second. */
#define TIMEWAIT_POLL_NS (1000ULL * 1000000ULL)

void xlate_forget_timewait(struct agent *a, const struct mig_tuple *sock,
			   const struct mig_tuple *wire, const struct mig_tuple *prev)
{
	size_t n = a->n_forget;

	xlate_forget(a, sock, wire, prev, mono_ns() + TIMEWAIT_POLL_NS);
	if (a->n_forget > n)
		a->forget[n].until_gone = true;
}

void xlate_forget_due(struct agent *a)
{
	uint64_t now = mono_ns();
	struct socks socks = {};
	bool read = false;
	size_t i = 0;

	while (i < a->n_forget) {
		if (a->forget[i].due_ns > now) {
			i++;
			continue;
		}
		if (a->forget[i].until_gone) {
			const struct mig_sockinfo *si;

			if (!read && socks_read(a, &socks))
				socks.n = 0;
			read = true;
			si = socks_find(&socks, &a->forget[i].sock);
			if (si && si->state == BPF_TCP_TIME_WAIT) {
				a->forget[i].due_ns = now + TIMEWAIT_POLL_NS;
				i++;
				continue;
			}
		}
		/* a new flow may have taken the socket tuple meanwhile */
		if (bpf_map_lookup_elem(a->flows_fd, &a->forget[i].sock, &(struct mig_flow){}))
			xlate_remove(a, &a->forget[i].sock, &a->forget[i].wire,
				     &a->forget[i].prev);
		a->forget[i] = a->forget[--a->n_forget];
	}
	socks_free(&socks);
}

/*
 * A Migrate SYN nobody answers: if both ends moved at once, each asks the
 * other's old address.  After PEER_LOOKUP_NS look the configured peer names
 * up again (in the DNS worker, never blocking here) and, when they point
 * somewhere else, ask there.
 */
static void retarget(struct agent *a, struct move *m, uint64_t now)
{
	struct mig_peer_addr pa[MIG_DNS_MAX_PEER_ADDRS];
	uint64_t gen;
	char t1[128], t2[128];
	int n, i;

	if (!a->dns || now - m->started_ns < PEER_LOOKUP_NS)
		return;
	/* only the addresses of the name this flow's peer went by: a peer
	 * name of another flow (or another peer's DNS answer) never moves
	 * this one (rule 6 in docs/protocol.md) */
	n = dns_peer_addrs_of(a->dns, af_of(&m->wire), m->wire.raddr, &gen, pa,
			      MIG_DNS_MAX_PEER_ADDRS);
	if (!n)
		n = dns_peer_addrs_of(a->dns, af_of(&m->sock), m->sock.raddr, &gen, pa,
				      MIG_DNS_MAX_PEER_ADDRS);
	if (!m->dns_asked) {
		m->dns_asked = true;
		m->dns_gen = gen;
		dns_resolve_peers(a->dns);
		return;
	}
	if (gen == m->dns_gen)
		return;   /* not answered yet */
	m->dns_asked = false;    /* ask again a second later if need be */
	m->started_ns = now;
	for (i = 0; i < n; i++) {
		if (pa[i].family != af_of(&m->wire) ||
		    !memcmp(pa[i].addr, m->wire.raddr, 16))
			continue;
		drop_pending(a, m);
		memcpy(m->wire.raddr, pa[i].addr, 16);
		put_pending(a, m);
		m->backoff_ms = MSYN_FIRST_MS;
		m->next_ns = now;   /* at once */
		pr_info("the peer of %s moved too (DNS): asking at %s",
			tuple_str(&m->sock, t1, sizeof(t1)), tuple_str(&m->wire, t2, sizeof(t2)));
		return;
	}
}

/*
 * After our commit.  The peer commits when our CONFIRM arrives; if it is
 * lost, the peer asks again only when a segment of ours arrives from the
 * new tuple, and a mover that only receives may send none.  So the CONFIRM
 * goes again at 200, 400, 800 ms... (CONFIRM_MAX times, inside the peer's
 * candidate lifetime of 5 s) until a segment of the peer arrives on the new
 * tuple.  A CONFIRM that arrives after the peer committed is dropped there.
 */
#define CONFIRM_MAX 5

static void start_confirming(struct agent *a, struct move *m, uint64_t now)
{
	drop_pending(a, m);
	hold_end(a, &m->sock);
	m->confirming = true;
	m->confirms = 0;
	m->backoff_ms = MSYN_FIRST_MS;
	m->next_ns = now + (uint64_t)m->backoff_ms * 1000000ULL;
}

/*
 * After a restart (recover.c).  A request an earlier run left in mig_pend
 * is ours again, with its request number and challenge: the Migrate SYN
 * goes again at once, the same one the peer may have answered already.
 * False when it cannot be adopted (the caller removes it).
 */
bool mover_adopt_pending(struct agent *a, const struct mig_tuple *wire,
			 const struct mig_pend *pe)
{
	uint64_t now = mono_ns();
	struct move *m;

	if (move_of(a, &pe->sock, false))
		return false;   /* one request per flow */
	m = move_of(a, &pe->sock, true);
	if (!m)
		return false;
	m->wire = *wire;
	m->reqno = pe->reqno;
	m->challenge = pe->challenge;
	m->active = true;
	m->backoff_ms = MSYN_FIRST_MS;
	m->started_ns = now;
	m->next_ns = now;
	return true;
}

/* Our commit whose CONFIRM the peer may never have had (no segment of the
 * peer on the new tuple yet): repeated as if the commit had just happened. */
bool mover_adopt_confirming(struct agent *a, const struct mig_tuple *sock,
			    const struct mig_flow *f)
{
	struct move *m;

	if (move_of(a, sock, false))
		return false;
	m = move_of(a, sock, true);
	if (!m)
		return false;
	m->wire = f->wire;
	m->reqno = f->own_reqno;
	m->active = true;
	m->started_ns = mono_ns();
	start_confirming(a, m, m->started_ns);
	return true;
}

static bool peer_seen(struct agent *a, const struct mig_flow *f)
{
	struct mig_in in;

	return !bpf_map_lookup_elem(a->ingress_fd, &f->wire, &in) &&
	       in.type == MIG_IN_XLATE && in.seen;
}

static void send_confirm(struct agent *a, const struct move *m, const struct mig_flow *f)
{
	uint8_t mac[8];
	struct mig_sockinfo si;
	char ts[128];

	if (dp_sockinfo_one(a, &m->sock, &si) || !may_move(si.state))
		return;
	mig_sip_mac_confirm(f->s_own, f->own_reqno, f->last_nonce, mac);
	if (send_sig(&f->wire, si.snd_nxt, si.rcv_nxt, 0x10 /* ACK */, MIG_SUB_CONFIRM,
		     f->own_reqno, f->last_nonce, mac, MIG_NO_WSCALE) == 0) {
		stat_add(a, MIG_STAT_CONFIRM_SENT, 1);
		pr_debug("CONFIRM again for %s (reqno %u)", tuple_str(&m->sock, ts, sizeof(ts)),
			 f->own_reqno);
	}
}

/* Our CONFIRMs went unanswered until the peer's candidate (5 s) surely
 * expired: a new request from the same tuple, a few times at most (each
 * uses up one of the peer's MIG_MAC_WINDOW request numbers). */
#define REASK_MAX 4

static void reask(struct agent *a, struct move *m, const struct mig_flow *f, uint64_t now)
{
	char ts[128];

	m->confirming = false;
	if (++m->reasks > REASK_MAX || new_challenge(m)) {
		pr_warn("%s: the peer never confirmed our migration (reqno %u); giving up",
			tuple_str(&m->sock, ts, sizeof(ts)), m->reqno);
		drop_pending(a, m);
		m->active = false;
		return;
	}
	m->reqno = f->own_reqno + 1;
	m->backoff_ms = MSYN_FIRST_MS;
	m->next_ns = now;
	if (put_pending(a, m)) {
		m->active = false;
		return;
	}
	pr_info("%s: no segment of the peer on the new tuple: asking again (reqno %u)",
		tuple_str(&m->sock, ts, sizeof(ts)), m->reqno);
}

void mover_tick(struct agent *a)
{
	uint64_t now = mono_ns();
	struct mig_flow f;
	size_t i;

	for (i = 0; i < a->n_moves; i++) {
		struct move *m = &a->moves[i];

		/* nothing to do for a move before its next Migrate SYN or
		 * CONFIRM is due (its commit comes as an event): with many
		 * moves, a tick costs no system call per move.  Unanswered
		 * for PEER_LOOKUP_NS: every tick, for the DNS answer. */
		if (!m->active || (now < m->next_ns &&
				   (m->confirming || now - m->started_ns < PEER_LOOKUP_NS)))
			continue;
		if (bpf_map_lookup_elem(a->flows_fd, &m->sock, &f)) {
			drop_pending(a, m);
			m->active = false;
			continue;
		}
		if ((int32_t)(f.own_reqno - m->reqno) >= 0) {
			if (!m->confirming) {
				/* committed, and its event not read: lost (the
				 * ring buffer was full), or still on its way
				 * (then it finds the commit handled) */
				mover_migrated(a, &m->sock, 1);
				if (!m->confirming)
					start_confirming(a, m, now);
				continue;
			}
			if (peer_seen(a, &f)) {
				m->active = false;   /* committed, and the peer knows */
				m->confirming = false;
				continue;
			}
			if (m->confirms >= CONFIRM_MAX) {
				/* every CONFIRM lost while the peer's candidate
				 * lived: ask again with the next request number */
				reask(a, m, &f, now);
				continue;
			}
			if (now >= m->next_ns) {
				send_confirm(a, m, &f);
				m->confirms++;
				m->backoff_ms *= 2;
				m->next_ns = now + (uint64_t)m->backoff_ms * 1000000ULL;
				/* the last one: by now the peer's candidate has
				 * expired, ask again at the next tick */
				if (m->confirms >= CONFIRM_MAX)
					m->next_ns = now;
			}
			continue;
		}
		retarget(a, m, now);
		if (now < m->next_ns)
			continue;
		if (send_msyn(a, m, &f) == -ENOENT) {
			drop_pending(a, m);
			m->active = false;
			continue;
		}
		m->backoff_ms = m->backoff_ms * 2 > MSYN_MAX_MS ? MSYN_MAX_MS : m->backoff_ms * 2;
		m->next_ns = now + (uint64_t)m->backoff_ms * 1000000ULL;
	}
	mig_wipe(&f, sizeof(f));
	/* the commits found above whose events were lost */
	mover_commits_done(a);
}

/*
 * Make our own socket send an ACK now, with its current window: during the
 * move its window updates were held back or went to the old address, and a
 * peer waiting on a zero window probes with backoff.  A one-byte segment
 * "from the peer" far below RCV.NXT (2^30 back: before RCV.WUP for any
 * window), handed to our own stack, is out of window and answered with an
 * immediate duplicate ACK.  It carries a byte on purpose: Linux limits its
 * answers to empty out-of-window segments to one per
 * net.ipv4.tcp_invalid_ratelimit (500 ms) per socket, and a socket that
 * had just answered a zero-window probe would have swallowed an empty
 * nudge; segments with data are answered every time
 * (tcp_oow_rate_limited).  Dropped before the ACK field is looked at: the
 * socket's send state and window are untouched.  (The duplicate ACK's
 * D-SACK block names that old byte; a sender ignores D-SACKs that old.)
 */
#define NUDGE_BACK (1U << 30)

static int provoke_ack(const struct mig_tuple *sock, const struct mig_sockinfo *si)
{
	uint8_t tcp[21];
	uint32_t v;
	uint16_t cs;
	int af = af_of(sock);

	memset(tcp, 0, sizeof(tcp));
	memcpy(tcp, &sock->rport, 2);
	memcpy(tcp + 2, &sock->lport, 2);
	v = htonl(si->rcv_nxt - NUDGE_BACK);
	memcpy(tcp + 4, &v, 4);
	v = htonl(si->snd_una);
	memcpy(tcp + 8, &v, 4);
	tcp[12] = 5 << 4;
	tcp[13] = 0x10;   /* ACK */
	tcp[14] = tcp[15] = 0xff;
	cs = htons(l4_csum(af, sock->raddr, sock->laddr, 6, tcp, sizeof(tcp)));
	memcpy(tcp + 16, &cs, 2);
	return send_raw(af, sock->raddr, sock->laddr, 6, tcp, sizeof(tcp));
}

/*
 * Resume a socket after a commit.  Its ACK goes out at once (provoke_ack);
 * and if it has unacknowledged data in retransmission backoff, one ICMP
 * unreachable per backoff step, quoting its own segment at SND.UNA and sent
 * to this host, undoes the backoff (RFC 6069; the kernel's
 * tcp_ld_RTO_revert): the last revert finds the timer expired and
 * retransmits at once.
 */
static void kick(struct agent *a, const struct mig_tuple *sock, bool nudged)
{
	struct mig_sockinfo si;
	uint8_t icmp[8 + 40 + 8];
	uint32_t seq;
	size_t len;
	int i, af = af_of(sock);
	char ts[128];

	i = dp_sockinfo_one(a, sock, &si);
	if (i) {
		pr_debug("%s: no socket record to resume (%s)", tuple_str(sock, ts, sizeof(ts)),
			 strerror(-i));
		return;
	}
	pr_debug("%s: snd_una %u snd_nxt %u backoff %u retransmits %u wscale %u",
		 tuple_str(sock, ts, sizeof(ts)), si.snd_una, si.snd_nxt, si.backoff,
		 si.retransmits, si.rcv_wscale);
	if (!may_move(si.state))
		return;
	if (!nudged && provoke_ack(sock, &si) == 0)
		stat_add(a, MIG_STAT_KICKS, 1);
	if (si.snd_una == si.snd_nxt || !si.retransmits || !si.backoff)
		return;
	memset(icmp, 0, sizeof(icmp));
	seq = htonl(si.snd_una);
	if (af == AF_INET) {
		uint8_t *ip = icmp + 8;

		icmp[0] = 3;   /* destination unreachable */
		icmp[1] = 1;   /* host unreachable */
		ip[0] = 0x45;
		ip[3] = 40;
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, sock->laddr, 4);
		memcpy(ip + 16, sock->raddr, 4);
		memcpy(ip + 20, &sock->lport, 2);
		memcpy(ip + 22, &sock->rport, 2);
		memcpy(ip + 24, &seq, 4);
		len = 8 + 20 + 8;
		uint16_t cs = htons((uint16_t)~csum_add(0, icmp, len));
		memcpy(icmp + 2, &cs, 2);
	} else {
		uint8_t *ip = icmp + 8;

		icmp[0] = 1;   /* destination unreachable */
		icmp[1] = 0;   /* no route */
		ip[0] = 0x60;
		ip[5] = 20;
		ip[6] = 6;
		ip[7] = 64;
		memcpy(ip + 8, sock->laddr, 16);
		memcpy(ip + 24, sock->raddr, 16);
		memcpy(ip + 40, &sock->lport, 2);
		memcpy(ip + 42, &sock->rport, 2);
		memcpy(ip + 44, &seq, 4);
		len = 8 + 40 + 8;
		uint16_t cs = htons(l4_csum(AF_INET6, sock->laddr, sock->laddr, 58, icmp, len));
		memcpy(icmp + 2, &cs, 2);
	}
	for (i = 0; i < si.backoff; i++)
		if (send_raw(af, sock->laddr, sock->laddr, af == AF_INET ? 1 : 58, icmp, len))
			break;
	stat_add(a, MIG_STAT_KICKS, (uint64_t)i);
	pr_debug("%s: undid %d backoff steps", tuple_str(sock, ts, sizeof(ts)), i);
}

/*
 * Our own commit: the resume nudge goes at once, built from the socket
 * record the last Migrate SYN was made from, before anything else and
 * before kick scans the sockets again (a scan of the host's TCP sockets
 * costs milliseconds).  Only its RCV.NXT is used, with 2^30 of slack
 * (provoke_ack): a few round trips old is as good as fresh.  True when
 * sent (kick then sends none).
 */
static bool nudge_early(struct agent *a, const struct move *m)
{
	if (!m || !m->si_valid || a->no_resume || !may_move(m->si.state))
		return false;
	if (provoke_ack(&m->sock, &m->si))
		return false;
	stat_add(a, MIG_STAT_KICKS, 1);
	return true;
}

static void commits_do(struct agent *a, const struct commit *c, size_t n);

/*
 * A commit's stamp: its time as the data path wrote it (migrated_ns, in
 * units of 1.024 us, truncated to 32 bits), kept as the flow's value in
 * the index (a->flows) once the commit is handled, so that a commit
 * found twice (its event, and a walk after events were lost) is handled
 * once.  0: none yet.
 */
static uint32_t commit_stamp(const struct mig_flow *f)
{
	uint32_t v = (uint32_t)(f->migrated_ns >> 10);

	return v && v != COMMIT_STAMP_UNKNOWN ? v : 1;
}

/* Whether flow sock's latest commit is handled already; if not, it is
 * from now on, and *soon says whether it came less than a second after
 * the flow's previous commit that this run handled. */
static bool commit_seen(struct agent *a, const struct mig_tuple *sock, bool *soon)
{
	struct mig_flow f;
	uint32_t old, now;
	bool seen = false;

	*soon = false;
	if (bpf_map_lookup_elem(a->flows_fd, sock, &f))
		return false;
	now = f.migrated_ns ? commit_stamp(&f) : 0;
	mig_wipe(&f, sizeof(f));
	if (!now)
		return false;
	if (mig_tupleset_get(&a->flows, sock, &old)) {
		seen = old == now;
		/* (stamps count 1.024 us: a second is 976,563 of them) */
		*soon = old && old != COMMIT_STAMP_UNKNOWN && now - old < 976563;
	}
	if (!seen)
		mig_tupleset_put(&a->flows, sock, now);
	return seen;
}

/*
 * The commits whose event the ring buffer had no room for: every keyed
 * flow whose latest commit is not handled yet is handled now.  After
 * events_lost grew (main.c); one lookup per flow.
 */
void mover_commits_sweep(struct agent *a)
{
	struct mig_tuple key;
	struct mig_flow f;
	uint32_t old;
	size_t n = 0;

	mig_tupleset_each(&a->flows, i) {
		struct move *m;

		key = a->flows.v[i];
		if (bpf_map_lookup_elem(a->flows_fd, &key, &f) || !f.migrated_ns ||
		    !mig_tupleset_get(&a->flows, &key, &old) || old == commit_stamp(&f))
			continue;
		if (old == COMMIT_STAMP_UNKNOWN) {
			/* a commit before this run started: not ours to redo */
			mig_tupleset_put(&a->flows, &key, commit_stamp(&f));
			continue;
		}
		/* ours when it is our latest request that committed */
		m = move_of(a, &key, false);
		mover_migrated(a, &key, m && m->reqno && f.own_reqno == m->reqno ? 1 : 2);
		n++;
	}
	mig_wipe(&f, sizeof(f));
	mover_commits_done(a);
	if (n)
		pr_info("%zu commit(s) whose event the full ring buffer lost: found in the flows", n);
}

/*
 * Whether the lines about a commit ("migrated ...", "congestion state
 * restarted ...") are logged.  A flow's first commit, or one a second or
 * more after its previous one, always is.  Those that follow their
 * flow's previous commit sooner (a peer moving its own connection again
 * and again, thousands of times a second: tests/adversarial/test_peers.sh,
 * part C) go through loglimit_ok, and those it holds back are counted
 * (commits_unlogged).
 */
static bool commit_log(struct agent *a, bool soon)
{
	if (!soon || loglimit_ok(&a->log_commits, mono_ns()))
		return true;
	stat_add(a, MIG_STAT_COMMIT_UNLOGGED, 1);
	return false;
}

/* A commit (an event of the data path): what must go at once (our resume
 * nudge, the end of our hold) now; the rest in mover_commits_done. */
void mover_migrated(struct agent *a, const struct mig_tuple *sock, int role)
{
	struct host_addrs h = {};
	struct mig_flow f;
	struct move *m;
	bool nudged, soon, logged;

	/* (found already by a walk after lost events, or by mover_tick) */
	if (commit_seen(a, sock, &soon))
		return;
	logged = commit_log(a, soon);
	m = move_of(a, sock, false);
	nudged = role == 1 && nudge_early(a, m);
	if (m && role != 1 && host_addrs_read(a, &h))
		m = NULL;   /* (reported) leave the move as it is */
	/* We moved and committed; or we were moving too and the peer, which
	 * found our new address, committed us onto it: nothing left to ask. */
	if (m && role == 1 && !m->confirming) {
		start_confirming(a, m, mono_ns());
	} else if (m && role != 1 && !bpf_map_lookup_elem(a->flows_fd, sock, &f) &&
		   addr_usable(&h, af_of(&f.wire), f.wire.laddr)) {
		drop_pending(a, m);
		m->active = false;
		m->confirming = false;
		hold_end(a, sock);
	}
	host_addrs_free(&h);
	/* the rest once every event of this read is in (mover_commits_done):
	 * one walk of the sockets restarts the congestion state of them all */
	if (a->n_commits == a->cap_commits) {
		size_t cap = a->cap_commits ? 2 * a->cap_commits : 64;
		struct commit *v = realloc(a->commits, cap * sizeof(*v));

		if (!v) {
			commits_do(a, &(struct commit){ .sock = *sock, .role = role,
							.nudged = nudged,
							.unlogged = !logged }, 1);
			return;
		}
		a->commits = v;
		a->cap_commits = cap;
	}
	a->commits[a->n_commits++] = (struct commit){ .sock = *sock, .role = role,
						      .nudged = nudged, .unlogged = !logged };
}

/*
 * The congestion restart of a commit (docs/protocol.md, "Congestion
 * state after a commit"): the socket's sock_ops program does it on the
 * peer's first segment after the commit, which the ingress program marks
 * for it, and says so (MIG_EV_CC: mover_cc_event).  A socket that no
 * such segment reached MIG_CC_WAIT_MS after its commit (a peer that sent
 * nothing since, or nothing the marker fits in: segments without
 * options; or a socket keyed by an earlier build, which does not ask for
 * marked segments) is restarted by a walk of the socket table (mig_cc_iter),
 * all that are due at once.
 */
static void cc_wait_add(struct agent *a, const struct mig_tuple *sock, bool unlogged)
{
	if (!a->cc || !a->cc_iter_link) {
		stat_add(a, MIG_STAT_CC_FAIL, 1);   /* (said once at start) */
		return;
	}
	if (a->n_cc_waits == a->cap_cc_waits) {
		size_t cap = a->cap_cc_waits ? 2 * a->cap_cc_waits : 64;
		struct cc_wait *v = realloc(a->cc_waits, cap * sizeof(*v));

		if (!v) {
			struct cc_item it = { .sock = *sock, .unlogged = unlogged };

			cc_restart_batch(a, &it, 1);   /* (now, then) */
			return;
		}
		a->cc_waits = v;
		a->cap_cc_waits = cap;
	}
	a->cc_waits[a->n_cc_waits++] = (struct cc_wait){
		.sock = *sock, .unlogged = unlogged,
		.due_ns = mono_ns() + MIG_CC_WAIT_MS * 1000000ULL };
}

/* A socket restarted in its sock_ops whose send might wait there
 * (MIG_EV_CC, push_soon): its queued data pushed by a walk MIG_CC_SOON_MS
 * from now, first in the list (a wait behind it that falls due sooner is
 * taken with it, MIG_CC_SOON_MS late at most). */
static void cc_wait_soon(struct agent *a, const struct mig_tuple *sock)
{
	size_t n = a->n_cc_waits;

	cc_wait_add(a, sock, false);
	if (a->n_cc_waits != n + 1)
		return;   /* (restarted now, or not at all: said) */
	memmove(a->cc_waits + 1, a->cc_waits, n * sizeof(*a->cc_waits));
	a->cc_waits[0] = (struct cc_wait){
		.sock = *sock, .push = true,
		.due_ns = mono_ns() + MIG_CC_SOON_MS * 1000000ULL };
}

/* Count a restart in the socket once, whichever comes first: its event,
 * or the look at its flow MIG_CC_WAIT_MS after the commit.  True when
 * counted now. */
static bool cc_count_once(struct agent *a, const struct mig_tuple *sock, uint32_t migrations)
{
	uint32_t done;

	if (mig_tupleset_get(&a->cc_seen, sock, &done) && done == migrations)
		return false;
	mig_tupleset_put(&a->cc_seen, sock, migrations);
	stat_add(a, MIG_STAT_CC_RESTART, 1);
	return true;
}

/* The waits that are due (all of them if all): the flows whose socket
 * did not restart by itself, restarted by walks of the socket table. */
static void cc_waits_due(struct agent *a, bool all)
{
	struct cc_item small[64], *v = NULL;
	uint64_t now = mono_ns();
	size_t i, n = 0, nv = 0;
	struct mig_flow f;

	while (n < a->n_cc_waits && (all || a->cc_waits[n].due_ns <= now))
		n++;
	if (!n)
		return;
	if (n > sizeof(small) / sizeof(small[0]))
		v = malloc(n * sizeof(*v));
	if (!v)
		v = small;
	for (i = 0; i < n; i++) {
		const struct cc_wait *w = &a->cc_waits[i];

		/* closed since (gone, or kept a while as CLOSE: its close
		 * event forgot that it was counted) */
		if (bpf_map_lookup_elem(a->flows_fd, &w->sock, &f) || f.state == BPF_TCP_CLOSE)
			continue;
		if (f.cc_done == (uint16_t)f.migrations) {
			/* restarted in its socket: counted with its event,
			 * or now if the full ring buffer lost that */
			cc_count_once(a, &w->sock, f.migrations);
			if (!w->push)
				continue;
		}
		v[nv++] = (struct cc_item){ .sock = w->sock, .cookie = f.cookie,
					    .unlogged = w->unlogged, .push = w->push };
		if (v == small && nv == sizeof(small) / sizeof(small[0])) {
			cc_restart_batch(a, v, nv);
			nv = 0;
		}
	}
	mig_wipe(&f, sizeof(f));
	if (nv)
		cc_restart_batch(a, v, nv);
	if (v != small)
		free(v);
	memmove(a->cc_waits, a->cc_waits + n, (a->n_cc_waits - n) * sizeof(*a->cc_waits));
	a->n_cc_waits -= n;
}

/* MIG_EV_CC: a socket's own sock_ops program restarted its congestion
 * state (or could not). */
void mover_cc_event(struct agent *a, const struct mig_event *ev)
{
	const struct mig_cc_report *r = &ev->cc;
	char ts[128];
	int err = r->err ? r->err : !r->applied ? -EPROTO : 0;

	tuple_str(&ev->tuple, ts, sizeof(ts));
	if (err) {
		stat_add(a, MIG_STAT_CC_FAIL, 1);
		pr_warn("%s: congestion state not restarted: %s", ts, strerror(-err));
		return;
	}
	if (r->push_soon) {
		pr_debug("%s: its send might wait: a walk pushes it in %u ms", ts, MIG_CC_SOON_MS);
		cc_wait_soon(a, &ev->tuple);
	}
	if (!cc_count_once(a, &ev->tuple, r->migrations))
		return;   /* (found in its flow already: the event came late) */
	if (r->back_err)
		pr_warn("%s: restarted, but could not go back to '%.16s' (%s): stays on '%s'",
			ts, r->prev, strerror(-r->back_err), a->cc_name);
	else if (loglimit_ok(&a->log_cc, mono_ns()))
		pr_info("%s: congestion state restarted (%.16s): cwnd %u -> %u, "
			"ssthresh %u -> %u, %u in flight on the old path, on the peer's "
			"first segment (migration %u)", ts, r->prev, r->cwnd_before,
			r->cwnd_after, r->ssthresh_before, r->ssthresh_after, r->in_flight,
			r->migrations);
}

/*
 * After a commit: resume the socket, reserve its new wire tuple, say it;
 * its congestion state restarts in the socket, or after MIG_CC_WAIT_MS
 * (cc_wait_add).
 */
static void commits_do(struct agent *a, const struct commit *c, size_t n)
{
	struct mig_flow f;
	char t1[128], t2[128];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct commit *x = &c[i];

		if (!a->no_resume)
			kick(a, &x->sock, x->nudged);
		if (bpf_map_lookup_elem(a->flows_fd, &x->sock, &f))
			continue;
		reserve_wire(a, &x->sock, &f.wire);
		if (!x->unlogged)
			pr_info("migrated %s: now %s on the wire (%s moved, migration %u)",
				tuple_str(&x->sock, t1, sizeof(t1)),
				tuple_str(&f.wire, t2, sizeof(t2)),
				x->role == 1 ? "we" : "the peer", f.migrations);
		cc_wait_add(a, &x->sock, x->unlogged);
	}
	mig_wipe(&f, sizeof(f));
}

/*
 * How long commit handling rests after a batch, as a multiple of the
 * time the batch's walks of the socket table took.  A batch walks the
 * table once or twice (its congestion restarts, and the socket records
 * of its kicks past LOOKUPS_PER_PASS): a millisecond or more each,
 * whatever the batch's size.  A single move finds the rest long over and
 * is handled at once; commits that keep coming (a peer moving many
 * flows, their Migrate SYNs arriving over seconds) gather into fewer,
 * larger batches, instead of a walk for every few of them taking the CPU
 * that the rest of the move needs.  (The per-flow work of a batch is
 * the same in one batch or many: it does not lengthen the rest.)
 */
#define COMMITS_REST 3

void mover_commits_done(struct agent *a)
{
	uint64_t walk0 = a->walk_ns;

	cc_waits_due(a, false);
	if (!a->n_commits || mono_ns() < a->commits_next_ns)
		return;   /* (the main loop comes back by then) */
	commits_do(a, a->commits, a->n_commits);
	a->n_commits = 0;
	a->commits_next_ns = mono_ns() + (a->walk_ns - walk0) * COMMITS_REST;
}

/* Milliseconds until the waiting commits are due; -1: none waits. */
int mover_commits_wait_ms(const struct agent *a)
{
	uint64_t now = mono_ns(), due = UINT64_MAX;

	if (a->n_commits)
		due = a->commits_next_ns;
	if (a->n_cc_waits && a->cc_waits[0].due_ns < due)
		due = a->cc_waits[0].due_ns;
	if (due == UINT64_MAX)
		return -1;
	if (now >= due)
		return 0;
	return (int)((due - now + 999999) / 1000000);
}

/* Every waiting commit now (the agent stops). */
void mover_commits_flush(struct agent *a)
{
	a->commits_next_ns = 0;
	mover_commits_done(a);
	cc_waits_due(a, true);
}

/* The CONFIRM of a candidate was lost and its mover already sends data:
 * send the candidate's Migrate SYN/ACK again (the same nonce, mac and
 * challenge the data path answered with). */
void mover_resend(struct agent *a, const struct mig_tuple *wire, uint32_t reqno)
{
	uint8_t mac[8];
	const struct mig_cand *cd = NULL;
	struct mig_cand_ref ref;
	struct mig_sockinfo si;
	struct mig_flow f;
	int i;

	if (bpf_map_lookup_elem(a->cand_fd, wire, &ref) ||
	    bpf_map_lookup_elem(a->flows_fd, &ref.sock, &f))
		return;
	for (i = 0; i < MIG_NCAND; i++)
		if (f.cand[i].wire.family && f.cand[i].reqno == reqno &&
		    !memcmp(&f.cand[i].wire, wire, sizeof(*wire)))
			cd = &f.cand[i];
	if (cd && !dp_sockinfo_one(a, &ref.sock, &si) && may_move(si.state)) {
		mig_sip_mac_ack(f.s_own, reqno, cd->challenge, cd->nonce, mac);
		send_sig(wire, si.snd_una - 1, si.rcv_nxt, 0x12 /* SYN, ACK */,
			 MIG_SUB_MIGRATE_ACK, reqno, cd->nonce, mac, si.rcv_wscale);
	}
	mig_wipe(&f, sizeof(f));
}
