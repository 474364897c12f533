/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef MIGRATE_AGENT_H
#define MIGRATE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/mig_abi.h"

struct bpf_object;

/* Private keys waiting in the BPF pool (QUEUED) or taken by a connection
 * that has not finished its key agreement yet (TAKEN). */
enum pool_state { SLOT_FREE = 0, SLOT_QUEUED, SLOT_TAKEN };

struct pool_slot {
	uint64_t id;
	uint64_t taken_ns;
	uint8_t  priv[32];
	uint8_t  pub[32];
	uint8_t  state;
};

struct key_pool {
	struct pool_slot *slots;   /* mlocked */
	size_t cap;
	struct pool_fifo { size_t slot; uint64_t id; } *fifo;  /* in push order */
	size_t fifo_cap, head, count;
	uint64_t next_id;
	uint64_t taken_seen;       /* value of the pool_taken counter */
	unsigned int target;
	bool full_warned;
	/* responder keys (struct mig_rkey): the current epoch's and the two
	 * before it, whose handshakes may still finish; mlocked */
	struct pool_slot *rk;
	int rk_cur;
	uint64_t rk_since_ns;
};
#define POOL_RKEYS 3

struct mig_dns;
struct mig_dp;
struct mig_iter;
struct bpf_link;
struct nl_sock;

/* A migration this host drives (it moved). */
struct move {
	struct mig_tuple sock;
	struct mig_tuple wire;     /* the new wire tuple asked for */
	uint32_t reqno;
	uint32_t backoff_ms;
	uint64_t next_ns;          /* next Migrate SYN */
	uint64_t started_ns;
	uint64_t dns_gen;          /* peer lookup asked for at this generation */
	uint32_t challenge;        /* c of this reqno (getrandom) */
	bool dns_asked;
	bool active;
	/* we committed; our CONFIRM is sent again until the peer's segments
	 * arrive on the new tuple (a lost CONFIRM on a download would
	 * otherwise leave the peer waiting for a segment we never send) */
	bool confirming;
	int confirms;
	int reasks;                /* new requests after unconfirmed commits */
};
#define MAX_MOVES 1024

struct agent {
	const char *pin_dir;
	char ifaces[16][16];
	int n_ifaces;
	bool xdp;                  /* XDP ingress instead of TC */
	bool xdp_replace;          /* --xdp-replace: another XDP program may go */
	bool no_resume;            /* diagnostic: leave resuming to the kernel */
	struct mig_dns *dns;
	const char *pidfile;
	char cgroup[4096];
	unsigned int pool_target;
	unsigned int max_flows;    /* --max-flows, or what the pinned maps hold */
	int flows_fd, tokens_fd, pool_fd, stats_fd, meta_fd, events_fd;
	int ncpus;
	struct key_pool pool;
	/* data path */
	struct mig_dp *dp;
	struct mig_iter *iter;
	struct bpf_link *iter_link;
	int ingress_fd, egress_fd, cand_fd, pend_fd, hold_fd, host_fd, rkey_fd;
	struct mig_host host;      /* what we wrote to mig_host */
	int attached[64];
	size_t n_attached;
	/* moves */
	struct nl_sock *nl;        /* route/address events */
	struct nl_sock *nl_cmd;    /* address changes we make */
	bool recheck;              /* addresses or routes changed */
	uint64_t recheck_ns;
	uint64_t swept_ns;         /* last check for a flows_sweep */
	uint64_t swept_lost;       /* events_lost at that check */
	struct move moves[MAX_MOVES];
	/* closed flows, forgotten CLOSE_GRACE_NS after their event */
	struct closing {
		struct mig_tuple sock, wire, prev;
		uint64_t cookie, due_ns;
		bool timewait;
	} closing[1024];
	size_t n_closing;
	/* translations of closed flows, removed when due */
	struct forget {
		struct mig_tuple sock, wire, prev;
		uint64_t due_ns;
	} forget[1024];
	size_t n_forget;
	/* addresses we put on lo to keep old sockets working */
	struct mig_tuple kept[64]; /* laddr and family used */
	size_t n_kept;
};

/* Taken keys whose connection never finished are erased after this. */
#define POOL_TAKEN_TTL_NS (180ULL * 1000000000ULL)
#define POOL_TAKEN_MAX    8192

uint64_t mono_ns(void);

/* counters kept by the agent, added to CPU 0's slot of mig_stats */
void stat_add(struct agent *a, enum mig_stat s, uint64_t n);
uint64_t stat_get(struct agent *a, enum mig_stat s);

int pool_init(struct key_pool *p, unsigned int target);
void pool_free(struct key_pool *p);
int pool_drain(struct agent *a);
int pool_refill(struct agent *a);
void pool_expire(struct agent *a);
struct pool_slot *pool_find(struct key_pool *p, uint64_t id);
void pool_release(struct key_pool *p, struct pool_slot *s);
int pool_rkey_rotate(struct agent *a, bool force);

int events_handle(void *ctx, void *data, size_t len);
void flow_forget(struct agent *a, const struct mig_tuple *sock, const struct mig_flow *f);
void flows_sweep(struct agent *a);
void closed_due(struct agent *a);
#define CLOSE_GRACE_NS (500ULL * 1000000ULL)
#define FLOW_SWEEP_NS (10ULL * 1000000000ULL)

/* dp.c */
int dp_sizes(struct agent *a, struct bpf_object *obj);
int dp_host_init(struct agent *a);
int dp_host_holds(struct agent *a, int delta);
int dp_load(struct agent *a);
void dp_unload(struct agent *a);
int dp_attach_all(struct agent *a);
int dp_detach_all(void);
int dp_sockinfo(struct agent *a, struct mig_sockinfo **out, size_t *n);
int dp_sockinfo_one(struct agent *a, const struct mig_tuple *t,
		    struct mig_sockinfo *out);

/* netwatch.c */
int netwatch_open(struct agent *a);
int netwatch_fd(struct agent *a);
/* Read pending events; returns 1 if addresses, routes or links changed. */
int netwatch_read(struct agent *a);
void netwatch_close(struct agent *a);
int addr_keep_local(struct agent *a, const struct mig_tuple *t);
void addr_release_unused(struct agent *a);

/* mover.c */
#define XLATE_TIMEWAIT_NS (65ULL * 1000000000ULL)
void xlate_forget(struct agent *a, const struct mig_tuple *sock,
		  const struct mig_tuple *wire, const struct mig_tuple *prev,
		  uint64_t due_ns);
void xlate_forget_due(struct agent *a);
void mover_reconcile(struct agent *a);
void mover_tick(struct agent *a);
void mover_migrated(struct agent *a, const struct mig_tuple *sock, int role);
void mover_resend(struct agent *a, const struct mig_tuple *wire, uint32_t reqno);
const char *tuple_str(const struct mig_tuple *t, char *buf, size_t len);

#endif
