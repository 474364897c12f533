// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Events from sock_ops: finish the key agreement of a connection (derive
 * token and keys, store what the data path needs), erase keys that will
 * not be used, forget closed connections.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "mig_crypto.h"
#include "mig_log.h"
#include "migrate/mig_opt.h"

const char *tuple_str(const struct mig_tuple *t, char *buf, size_t len)
{
	char l[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	int af = t->family == AF_INET6 ? AF_INET6 : AF_INET;

	inet_ntop(af, t->laddr, l, sizeof(l));
	inet_ntop(af, t->raddr, r, sizeof(r));
	if (af == AF_INET6)
		snprintf(buf, len, "[%s]:%u -> [%s]:%u", l, ntohs(t->lport), r,
			 ntohs(t->rport));
	else
		snprintf(buf, len, "%s:%u -> %s:%u", l, ntohs(t->lport), r,
			 ntohs(t->rport));
	return buf;
}

/* A closed flow on this tuple whose "closed" event is still on its way
 * (or was lost) goes, so that the new connection can be stored. */
static bool closed_on_tuple(struct agent *a, const struct mig_tuple *t, uint64_t cookie)
{
	struct mig_flow old;
	bool gone = false;

	if (!bpf_map_lookup_elem(a->flows_fd, t, &old) && old.state == BPF_TCP_CLOSE &&
	    old.cookie != cookie) {
		flow_forget(a, t, &old);
		gone = true;
	}
	mig_wipe(&old, sizeof(old));
	return gone;
}

static void on_keyed(struct agent *a, const struct mig_event *ev)
{
	uint8_t K[MIG_X25519_LEN];
	const uint8_t *pub_i, *pub_r;
	struct mig_token_key tk;
	struct mig_keys keys;
	struct mig_flow flow;
	struct pool_slot *s;
	char ts[128];
	int err;

	tuple_str(&ev->tuple, ts, sizeof(ts));
	s = pool_find(&a->pool, ev->key_id);
	if (!s) {
		stat_add(a, MIG_STAT_UNKNOWN_KEY, 1);
		pr_info("%s: key %#llx is not one of ours (made by an earlier run?): left plain",
			ts, (unsigned long long)ev->key_id);
		return;
	}
	if (ev->role == MIG_ROLE_INITIATOR) {
		pub_i = s->pub;
		pub_r = ev->peer_pub;
	} else {
		pub_i = ev->peer_pub;
		pub_r = s->pub;
	}
	err = mig_x25519(s->priv, ev->peer_pub, K);
	if (err) {
		pool_release(&a->pool, s);
		stat_add(a, err == -EINVAL ? MIG_STAT_ZERO_SECRET : MIG_STAT_UNKNOWN_KEY, 1);
		pr_warn("%s: key agreement failed (%s): left plain", ts,
			err == -EINVAL ? "all-zero shared secret" : strerror(-err));
		return;
	}
	err = mig_derive(K, ev->isn_i, ev->isn_r, pub_i, pub_r, &keys);
	mig_wipe(K, sizeof(K));
	/* the private key has done its one job */
	pool_release(&a->pool, s);
	if (err) {
		pr_warn("%s: key derivation failed: %s", ts, strerror(-err));
		return;
	}

	memset(&flow, 0, sizeof(flow));
	memcpy(flow.token, keys.token, sizeof(flow.token));
	flow.cookie = ev->cookie;
	flow.keyed_ns = mono_ns();
	flow.isn_i = ev->isn_i;
	flow.isn_r = ev->isn_r;
	flow.role = ev->role;
	flow.state = ev->state;
	memcpy(flow.s_own, ev->role == MIG_ROLE_INITIATOR ? keys.s_i : keys.s_r,
	       MIG_SIP_KEY_LEN);
	memcpy(flow.s_peer, ev->role == MIG_ROLE_INITIATOR ? keys.s_r : keys.s_i,
	       MIG_SIP_KEY_LEN);
	mig_wipe(&keys, sizeof(keys));
	flow.wire = ev->tuple;

	memcpy(tk.token, flow.token, sizeof(tk.token));
	if (bpf_map_update_elem(a->tokens_fd, &tk, &ev->tuple, BPF_NOEXIST)) {
		if (errno == EEXIST) {
			stat_add(a, MIG_STAT_TOKEN_COLLISION, 1);
			pr_warn("%s: token collides with a live connection's: left plain", ts);
		} else {
			stat_add(a, MIG_STAT_MAP_FULL, 1);
			pr_warn("%s: cannot store token (%s): left plain", ts, strerror(errno));
		}
		goto out;
	}
	/* The one write of this value by the agent: from now on the data
	 * path owns its fields (struct mig_flow). */
	err = bpf_map_update_elem(a->flows_fd, &ev->tuple, &flow, BPF_NOEXIST);
	if (err && errno == EEXIST && closed_on_tuple(a, &ev->tuple, flow.cookie))
		err = bpf_map_update_elem(a->flows_fd, &ev->tuple, &flow, BPF_NOEXIST);
	if (err) {
		if (errno == E2BIG || errno == ENOMEM) {
			stat_add(a, MIG_STAT_MAP_FULL, 1);
			pr_warn("%s: %s is full (--max-flows %u): left plain", ts,
				MIG_MAP_FLOWS, a->max_flows);
		} else {
			pr_warn("%s: cannot store flow: %s", ts, strerror(errno));
		}
		bpf_map_delete_elem(a->tokens_fd, &tk);
		goto out;
	}
	if (mig_tupleset_put(&a->flows, &ev->tuple, 0))
		pr_err("%s: out of memory for the index of flows: it will not move", ts);
	stat_add(a, MIG_STAT_KEYED, 1);
	if (loglimit_ok(&a->log_keyed, mono_ns()))
		pr_info("keyed %s (%s) token %02x%02x%02x%02x%02x%02x%02x%02x", ts,
			ev->role == MIG_ROLE_INITIATOR ? "initiator" : "responder",
			flow.token[0], flow.token[1], flow.token[2], flow.token[3],
			flow.token[4], flow.token[5], flow.token[6], flow.token[7]);
out:
	mig_wipe(&flow, sizeof(flow));
}

/* The socket closed.  sock_ops removed the flow; an entry this agent wrote
 * after that (the close overtook the key agreement) goes here, and so does
 * the flow's translation: at once, or once TIME-WAIT is over, because the
 * time-wait socket still answers the peer on the wire tuple.  The cookie
 * check keeps a newer flow on the same tuple. */
/* A closed flow's entry and token (the data path marked it CLOSE). */
void flow_forget(struct agent *a, const struct mig_tuple *sock, const struct mig_flow *f)
{
	struct mig_token_key tk;
	struct mig_tuple cur;

	memcpy(tk.token, f->token, sizeof(tk.token));
	if (!bpf_map_lookup_elem(a->tokens_fd, &tk, &cur) &&
	    !memcmp(&cur, sock, sizeof(cur)))
		bpf_map_delete_elem(a->tokens_fd, &tk);
	bpf_map_delete_elem(a->flows_fd, sock);
	mig_tupleset_del(&a->flows, sock);
}

int flows_index_load(struct agent *a)
{
	struct mig_tuple key, next;
	int err;

	mig_tupleset_clear(&a->flows);
	err = bpf_map_get_next_key(a->flows_fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(a->flows_fd, &key, &next);
		if (mig_tupleset_put(&a->flows, &key, COMMIT_STAMP_UNKNOWN)) {
			pr_err("out of memory for the index of flows");
			return -ENOMEM;
		}
	}
	return 0;
}

/*
 * Flows whose socket closed while nobody read the "closed" event (the
 * ring buffer was full): after events_lost grew (checked every
 * FLOW_SWEEP_NS), every entry still in state CLOSE goes, with its
 * translation (after TIME-WAIT if its time-wait socket lives).  At start
 * recover() does this and more.
 */
void flows_sweep(struct agent *a)
{
	struct socks s;
	int n;

	if (socks_read(a, &s))
		s.n = 0;
	n = closed_sweep(a, &s);
	socks_free(&s);
	if (n)
		pr_info("removed %d closed flow(s) whose close went unreported", n);
}

/* How often events_lost is read (one read of a counter); the walks for
 * what was lost run only when it grew, the sweep of the flows (a lookup
 * per flow) at most every LOST_SWEEP_NS. */
#define LOST_CHECK_NS (100ULL * 1000000ULL)
#define LOST_SWEEP_NS (1000ULL * 1000000ULL)

/*
 * A "keyed" event that found the ring buffer full leaves its connection
 * keyed at the peer and unknown here: a move of the peer would meet our
 * RST.  The sockets sock_ops marked are found (mig_keyed.bpf.c) and keyed
 * as their events would have been.
 */
static void keyed_recover(struct agent *a)
{
	struct mig_event *v;
	size_t n, i;
	int err;

	err = dp_keyed_read(a, &v, &n);
	if (err) {
		pr_warn("cannot walk the sockets for lost \"keyed\" events: %s", strerror(-err));
		return;
	}
	for (i = 0; i < n; i++)
		on_keyed(a, &v[i]);
	if (n) {
		stat_add(a, MIG_STAT_KEYED_RECOVERED, n);
		pr_info("%zu connection(s) whose \"keyed\" event the full ring buffer lost: "
			"found in the socket table", n);
	}
	free(v);
}

/*
 * Events the ring buffer had no room for (events_lost grew): the keyed
 * connections among them are found in the socket table, the commits in
 * the flows (mover_commits_sweep: their congestion restart, resume and
 * wire tuple reservation), the closes by flows_sweep (main.c).
 */
void lost_events_check(struct agent *a)
{
	uint64_t now = mono_ns(), lost;

	if (now - a->lost_ns >= LOST_CHECK_NS) {
		a->lost_ns = now;
		lost = stat_get(a, MIG_STAT_EV_LOST);
		if (lost != a->lost_seen) {
			a->lost_seen = lost;
			a->lost_keyed_due = a->keyed_link != NULL;
			a->lost_commits_due = true;
		}
	}
	if (a->lost_keyed_due) {
		a->lost_keyed_due = false;
		keyed_recover(a);
	}
	if (a->lost_commits_due && now - a->commits_swept_ns >= LOST_SWEEP_NS) {
		a->lost_commits_due = false;
		a->commits_swept_ns = now;
		mover_commits_sweep(a);
	}
}

static void do_closed(struct agent *a, const struct mig_tuple *sock, uint64_t cookie,
		      const struct mig_tuple *wire, const struct mig_tuple *prev, bool timewait)
{
	struct mig_flow flow;
	char ts[128];

	if (!bpf_map_lookup_elem(a->flows_fd, sock, &flow) && flow.cookie == cookie)
		flow_forget(a, sock, &flow);
	mig_wipe(&flow, sizeof(flow));
	if (wire->family)
		xlate_forget(a, sock, wire, prev, timewait ? mono_ns() + XLATE_TIMEWAIT_NS : 0);
	pr_debug("closed %s%s", tuple_str(sock, ts, sizeof(ts)), timewait ? " (time-wait)" : "");
	addr_release_unused(a);
}

/*
 * The socket closed.  Its flow (marked CLOSE by sock_ops) and translation
 * go CLOSE_GRACE_NS later, not at once: an abortive close's RST leaves
 * just after the state change that raised this event, and the egress
 * program needs the flow's key and translation to sign and rewrite it.
 * The translation of a flow in TIME-WAIT stays until that is over, since
 * the time-wait socket still answers the peer on the wire tuple.  The
 * cookie check keeps a newer flow on the same tuple.
 */
static void on_closed(struct agent *a, const struct mig_event *ev)
{
	struct closing *c;

	mig_tupleset_del(&a->cc_seen, &ev->tuple);

	if (a->n_closing >= sizeof(a->closing) / sizeof(a->closing[0])) {
		do_closed(a, &ev->tuple, ev->cookie, &ev->wire, &ev->prev, ev->timewait);
		return;
	}
	c = &a->closing[a->n_closing++];
	c->sock = ev->tuple;
	c->wire = ev->wire;
	c->prev = ev->prev;
	c->cookie = ev->cookie;
	c->timewait = ev->timewait;
	c->due_ns = mono_ns() + CLOSE_GRACE_NS;
}

void closed_due(struct agent *a)
{
	uint64_t now = mono_ns();
	size_t i = 0;

	while (i < a->n_closing) {
		struct closing c = a->closing[i];

		if (c.due_ns > now) {
			i++;
			continue;
		}
		a->closing[i] = a->closing[--a->n_closing];
		do_closed(a, &c.sock, c.cookie, &c.wire, &c.prev, c.timewait);
	}
}

int events_handle(void *ctx, void *data, size_t len)
{
	const struct mig_event *ev = data;
	struct agent *a = ctx;
	struct pool_slot *s;

	if (len < sizeof(*ev))
		return 0;
	switch (ev->type) {
	case MIG_EV_KEYED:
		on_keyed(a, ev);
		break;
	case MIG_EV_RELEASE:
		s = pool_find(&a->pool, ev->key_id);
		if (s)
			pool_release(&a->pool, s);
		break;
	case MIG_EV_CLOSED:
		on_closed(a, ev);
		break;
	case MIG_EV_MIGRATED:
		mover_migrated(a, &ev->tuple, ev->role);
		break;
	case MIG_EV_RESEND:
		mover_resend(a, &ev->tuple, (uint32_t)ev->key_id);
		break;
	case MIG_EV_CC:
		mover_cc_event(a, ev);
		break;
	}
	return 0;
}
