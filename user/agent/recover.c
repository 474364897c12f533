// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Start after a run that ended without cleaning up (SIGKILL, a crash, the
 * OOM killer).  The pinned maps survive by design and hold all the data
 * path needs, so keyed flows and their translations go on while no agent
 * runs.  What lived only in the dead agent's memory is rebuilt from them,
 * and what nobody would ever remove again is removed:
 *
 * - flows closed meanwhile (state CLOSE): their entry and token go; their
 *   translation at once, or once their time-wait socket is gone;
 * - translations (mig_ingress, mig_egress) of closed flows whose
 *   removal the dead run had scheduled: the same;
 * - tokens without their flow (the run died between the two writes);
 * - holds (mig_hold) of flows that no longer exist; the hold count in
 *   mig_host is counted again;
 * - requests in mig_pend: a flow's request becomes a move of ours again
 *   (same request number and challenge); one of a gone flow is removed;
 * - a commit of ours the peer may not know yet (no segment of the peer on
 *   the new tuple, within the last minute): its CONFIRM is repeated;
 * - the old addresses the dead run kept on lo (marked, see netwatch.c):
 *   adopted, and removed by the first pass over the flows when no flow
 *   uses them.
 *
 * Moves that were under way and flows whose address went away while no
 * agent ran are then found by the first mover_reconcile, as always.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "mig_crypto.h"
#include "mig_log.h"

/* mig_ingress entries a commit of ours keeps "unseen" this long at most
 * before a restart stops repeating its CONFIRM */
#define CONFIRM_ADOPT_NS (60ULL * 1000000000ULL)

static int si_cmp(const void *x, const void *y)
{
	const struct mig_sockinfo *p = x, *q = y;

	return memcmp(&p->tuple, &q->tuple, sizeof(p->tuple));
}

/* Every TCP socket of the namespace (time-wait ones too), sorted. */
int socks_read(struct agent *a, struct socks *s)
{
	int err;

	s->v = NULL;
	s->n = 0;
	err = dp_sockinfo(a, &s->v, &s->n);
	if (err)
		return err;
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), si_cmp);
	return 0;
}

const struct mig_sockinfo *socks_find(const struct socks *s, const struct mig_tuple *t)
{
	struct mig_sockinfo k;

	if (!s->n)
		return NULL;
	k.tuple = *t;
	return bsearch(&k, s->v, s->n, sizeof(*s->v), si_cmp);
}

void socks_free(struct socks *s)
{
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static bool in_timewait(const struct socks *s, const struct mig_tuple *t)
{
	const struct mig_sockinfo *si = socks_find(s, t);

	return si && si->state == BPF_TCP_TIME_WAIT;
}

/*
 * Flows in state CLOSE whose "closed" event went unread: their entry and
 * token go, their translation at once or after TIME-WAIT.  Returns how
 * many.
 */
int closed_sweep(struct agent *a, const struct socks *s)
{
	struct mig_tuple key;
	struct mig_flow f;
	int n = 0;

	/* (flow_forget removes the member visited: allowed) */
	mig_tupleset_each(&a->flows, i) {
		key = a->flows.v[i];
		if (bpf_map_lookup_elem(a->flows_fd, &key, &f) || f.state != BPF_TCP_CLOSE)
			continue;
		flow_forget(a, &key, &f);
		if (f.wire.family && in_timewait(s, &key))
			xlate_forget_timewait(a, &key, &f.wire, &f.prev);
		else if (f.wire.family)
			xlate_forget(a, &key, &f.wire, &f.prev, 0);
		n++;
	}
	mig_wipe(&f, sizeof(f));
	return n;
}

static bool flow_exists(struct agent *a, const struct mig_tuple *sock, struct mig_flow *f)
{
	struct mig_flow tmp;
	bool ok;

	ok = !bpf_map_lookup_elem(a->flows_fd, sock, f ? f : &tmp);
	mig_wipe(&tmp, sizeof(tmp));
	return ok;
}

/* Tokens whose flow is gone or has another token. */
static int tokens_recover(struct agent *a)
{
	struct mig_token_key key, next;
	struct mig_tuple sock;
	struct mig_flow f;
	int err, n = 0;

	err = bpf_map_get_next_key(a->tokens_fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(a->tokens_fd, &key, &next);
		if (bpf_map_lookup_elem(a->tokens_fd, &key, &sock))
			continue;
		if (flow_exists(a, &sock, &f) && !memcmp(f.token, key.token, sizeof(key.token)))
			continue;
		if (!bpf_map_delete_elem(a->tokens_fd, &key))
			n++;
	}
	mig_wipe(&f, sizeof(f));
	return n;
}

/* Translations whose flow is gone: the dead run had them scheduled. */
static int xlate_recover(struct agent *a, const struct socks *s)
{
	static const struct mig_tuple none;
	struct mig_tuple key, next;
	struct mig_out out;
	struct mig_in in;
	int err, n = 0;

	err = bpf_map_get_next_key(a->egress_fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(a->egress_fd, &key, &next);
		if (bpf_map_lookup_elem(a->egress_fd, &key, &out) || flow_exists(a, &key, NULL))
			continue;
		if (in_timewait(s, &key))
			xlate_forget_timewait(a, &key, &out.wire, &none);
		else
			xlate_forget(a, &key, &out.wire, &none, 0);
		n++;
	}
	err = bpf_map_get_next_key(a->ingress_fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(a->ingress_fd, &key, &next);
		if (bpf_map_lookup_elem(a->ingress_fd, &key, &in) || flow_exists(a, &in.sock, NULL))
			continue;
		if (in_timewait(s, &in.sock))
			xlate_forget_timewait(a, &in.sock, &key, &none);
		else
			xlate_forget(a, &in.sock, &key, &none, 0);
		n++;
	}
	return n;
}

/* Holds of flows that are gone; then the count the egress program reads. */
static int holds_recover(struct agent *a)
{
	struct mig_tuple key, next;
	struct mig_hold h;
	uint32_t left = 0;
	int err, n = 0;

	err = bpf_map_get_next_key(a->hold_fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(a->hold_fd, &key, &next);
		if (bpf_map_lookup_elem(a->hold_fd, &key, &h))
			continue;
		if (flow_exists(a, &key, NULL)) {
			left++;
			continue;
		}
		if (!bpf_map_delete_elem(a->hold_fd, &key))
			n++;
	}
	a->host.holds = left;
	dp_host_holds(a, 0);
	return n;
}

/* Requests: adopted as moves, or removed with their gone flow. */
static int pend_recover(struct agent *a, int *removed)
{
	struct mig_tuple key, next;
	struct mig_pend pe;
	struct mig_flow f;
	int err, n = 0;

	*removed = 0;
	err = bpf_map_get_next_key(a->pend_fd, NULL, &next);
	while (!err) {
		key = next;
		err = bpf_map_get_next_key(a->pend_fd, &key, &next);
		if (bpf_map_lookup_elem(a->pend_fd, &key, &pe))
			continue;
		if (flow_exists(a, &pe.sock, &f) && flow_may_move(f.state) &&
		    mover_adopt_pending(a, &key, &pe)) {
			n++;
			continue;
		}
		if (!bpf_map_delete_elem(a->pend_fd, &key))
			(*removed)++;
	}
	mig_wipe(&f, sizeof(f));
	return n;
}

/* Commits of ours (our address changed) the peer has not shown it knows. */
static int confirm_recover(struct agent *a)
{
	struct mig_tuple key;
	uint64_t now = mono_ns();
	struct mig_flow f;
	struct mig_in in;
	int n = 0;

	mig_tupleset_each(&a->flows, i) {
		key = a->flows.v[i];
		if (bpf_map_lookup_elem(a->flows_fd, &key, &f) || !flow_may_move(f.state) ||
		    !f.own_reqno || !f.prev.family || !f.migrated_ns ||
		    now - f.migrated_ns > CONFIRM_ADOPT_NS ||
		    !memcmp(f.prev.laddr, f.wire.laddr, sizeof(f.wire.laddr)))
			continue;
		if (bpf_map_lookup_elem(a->ingress_fd, &f.wire, &in) ||
		    in.type != MIG_IN_XLATE || in.seen ||
		    memcmp(&in.sock, &key, sizeof(key)))
			continue;
		if (mover_adopt_confirming(a, &key, &f))
			n++;
	}
	mig_wipe(&f, sizeof(f));
	return n;
}

void recover(struct agent *a)
{
	int closed, tokens, xlate, holds, moves, pend_gone, confirms, kept;
	struct socks s;

	if (socks_read(a, &s)) {
		pr_warn("cannot read the sockets: closed flows' translations go at once");
		s.n = 0;
	}
	closed = closed_sweep(a, &s);
	tokens = tokens_recover(a);
	xlate = xlate_recover(a, &s);
	holds = holds_recover(a);
	moves = pend_recover(a, &pend_gone);
	confirms = confirm_recover(a);
	kept = addr_adopt_kept(a);
	socks_free(&s);
	if (closed || tokens || xlate || holds || moves || pend_gone || confirms || kept > 0)
		pr_info("recovered from an earlier run: %d closed flow(s), %d stray token(s), "
			"%d translation(s) of closed flows, %d stray hold(s), %d stray request(s) "
			"removed; %d move(s) and %d confirmation(s) resumed, %d address(es) on lo "
			"adopted; %u flow(s) held",
			closed, tokens, xlate, holds, pend_gone, moves, confirms,
			kept > 0 ? kept : 0, a->host.holds);
}
