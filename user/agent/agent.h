/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef MIGRATE_AGENT_H
#define MIGRATE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "migrate/mig_abi.h"
#include "mig_tupleset.h"

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
	uint64_t taken_seen;       /* pops seen: pool_taken + popped */
	uint64_t popped;           /* keys we took out ourselves */
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
struct mig_lookup;
struct mig_keyed;
struct mig_cc;
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
	bool asked;                /* by the operator: the old address stays */
	/* the socket as the last Migrate SYN found it: after our commit the
	 * resume nudge needs only its RCV.NXT (mover.c, nudge_early) */
	bool si_valid;
	struct mig_sockinfo si;
};
/* move slots: allocated as needed, MOVES_FIRST first, doubled, never more
 * than --max-flows (one move per keyed flow at most) */
#define MOVES_FIRST 64

/* What the command line set: the file never overrides it, at start or on
 * a reload. */
struct agent_cli {
	bool pin_dir, cgroup, pool, ifaces, max_flows, xdp;
};

struct mig_config;

/* (loglimit_ok) */
struct loglimit {
	uint64_t sec_ns;        /* this second began */
	unsigned int lines;     /* lines written in it */
	uint64_t skipped;       /* lines not written since the last report */
};

struct agent {
	const char *pin_dir;
	const char *config_path;   /* NULL: the default, if it exists */
	struct mig_config *cfg;    /* the file's settings in force */
	struct agent_cli cli;
	char ifaces[16][16];
	int n_ifaces;
	bool xdp;                  /* XDP ingress instead of TC */
	bool adopt;                /* --adopt: other tools loaded and attached the data path */
	bool scratch_stale;        /* pinned mig_scratch of another layout: made anew */
	bool stats_regrow;         /* pinned mig_stats of another count: carried over */
	uint32_t pinned_abi;       /* mig_meta's version when we started, 0: none */
	bool xdp_replace;          /* --xdp-replace: another XDP program may go */
	bool no_resume;            /* diagnostic: leave resuming to the kernel */
	struct mig_dns *dns;
	/* SHA-256 of the TSIG secret the DNS worker has: the agent erases the
	 * secret itself, and a reload compares the new file's with this */
	unsigned char dns_key_digest[32];
	const char *pidfile;
	char cgroup[4096];
	unsigned int pool_target;
	unsigned int max_flows;    /* --max-flows, or what the pinned maps hold */
	int flows_fd, tokens_fd, pool_fd, stats_fd, meta_fd, events_fd;
	/* the keys of mig_flows: this agent is the map's only writer
	 * (on_keyed adds, flow_forget removes), so a pass over the flows
	 * walks these instead of the map's buckets (mig_tupleset.h) */
	struct mig_tupleset flows;
	int ncpus;
	struct key_pool pool;
	/* data path */
	struct mig_dp *dp;
	struct mig_iter *iter;
	struct bpf_link *iter_link;
	/* one socket's record by its tuple (mig_lookup.bpf.c), NULL: not
	 * loaded (--adopt, or refused): walks only */
	struct mig_lookup *lookup;
	uint64_t lk_pass;          /* pass of lk_n */
	unsigned int lk_n;         /* lookups made in that pass */
	/* the "keyed" events the ring buffer lost, found again
	 * (mig_keyed.bpf.c), NULL: not loaded (--adopt, or refused) */
	struct mig_keyed *keyed;
	struct bpf_link *keyed_link;
	/* lost events (events.c, lost_events_check) */
	uint64_t lost_ns;          /* last read of events_lost */
	uint64_t lost_seen;        /* its value then */
	bool lost_keyed_due;       /* a walk for lost "keyed" events is due */
	bool lost_commits_due;     /* a sweep for lost commits is due */
	uint64_t commits_swept_ns; /* the last such sweep */
	/* congestion restart after a commit (cc.c), NULL: not available */
	struct mig_cc *cc;
	struct bpf_link *cc_ops_link, *cc_iter_link;
	void *cc_image;            /* the object's ELF image, with our name */
	char cc_name[16];          /* our congestion control's name */
	int ingress_fd, egress_fd, cand_fd, pend_fd, hold_fd, host_fd, rkey_fd;
	/* mig_xf, mapped (dp_xf_init): the agent's deletes from mig_ingress
	 * and mig_egress take their count off there (xf_deleted) */
	int xf_fd;
	uint64_t *xf;
	uint64_t prev_started_ns;   /* the pinned meta's, before this start */
	int kept_fd;
	struct mig_host host;      /* what we wrote to mig_host */
	bool host_dirty;           /* holds changed since (dp_host_holds) */
	int attached[64];
	size_t n_attached;
	/* interfaces refused for their link type (said once, not at every
	 * link event): ifindex and type */
	struct { int ifindex, type; } refused[64];
	size_t n_refused;
	/* moves */
	struct nl_sock *nl;        /* route/address events */
	struct nl_sock *nl_cmd;    /* address changes we make */
	int ctl_fd;                /* migratectl's requests (ctlreq.c), or -1 */
	bool recheck;              /* addresses or routes changed */
	bool relink;               /* ... and links: attach to new interfaces */
	bool moves_waiting;        /* flows to move found every move slot busy */
	uint64_t swept_ns;         /* last check for a flows_sweep */
	uint64_t swept_lost;       /* events_lost at that check */
	/* moves: slots 0..n_moves-1; move_idx names the slot of every move
	 * in use by its socket tuple (a slot whose move ended goes back to
	 * move_free when next looked up, or in a sweep when none is free) */
	struct move *moves;
	size_t n_moves;
	struct mig_tupleset move_idx;
	/* flows whose latest congestion restart in the socket is counted:
	 * its commit's number of migrations (mover.c: mover_cc_event) */
	struct mig_tupleset cc_seen;
	uint32_t *move_free;
	size_t n_move_free;
	/* commits of this event-loop pass, finished together
	 * (mover_commits_done) */
	struct commit {
		struct mig_tuple sock;
		int role;
		bool nudged;
		bool unlogged;   /* its lines not logged (mover.c: commit_log) */
	} *commits;
	size_t n_commits, cap_commits;
	/* the commits wait until then (mover_commits_done): their handling
	 * walks the socket table, and walks take at most a quarter of the
	 * time while commits keep coming */
	uint64_t commits_next_ns;
	/* lines about commits that follow their flow's previous one within
	 * a second (mover.c: commit_log), and about keyed connections
	 * (events.c) */
	struct loglimit log_commits, log_keyed, log_cc;
	/* committed flows whose congestion state restarts in their socket
	 * (sock_ops, on the peer's next segment), each looked at once more
	 * MIG_CC_WAIT_MS after its commit (mover.c: cc_waits_due), in that
	 * order */
	struct cc_wait {
		struct mig_tuple sock;
		uint64_t due_ns;
		bool unlogged;
		bool push;     /* MIG_CC_SOON_MS after a restart whose send might wait */
	} *cc_waits;
	size_t n_cc_waits, cap_cc_waits;
	uint64_t walk_ns;          /* time spent walking the socket table, in all */
	/* closed flows, forgotten CLOSE_GRACE_NS after their event */
	struct closing {
		struct mig_tuple sock, wire, prev;
		uint64_t cookie, due_ns;
		bool timewait;
	} closing[1024];
	size_t n_closing;
	/* translations of closed flows, removed when due (until_gone: once
	 * no time-wait socket has the socket tuple, checked when due) */
	struct forget {
		struct mig_tuple sock, wire, prev;
		uint64_t due_ns;
		bool until_gone;
	} forget[1024];
	size_t n_forget;
	/* addresses we put on lo to keep old sockets working */
	struct mig_tuple kept[MIG_KEPT_MAX]; /* laddr and family used; mirrored in mig_kept */
	size_t n_kept;
	/* event-loop passes, and the socket records read in one of them,
	 * sorted by tuple (dp_sockinfo_one) */
	uint64_t pass;
	struct mig_sockinfo *si_snap;
	size_t si_n;
	uint64_t si_pass;
	/* counts not yet in mig_stats (stat_add, stat_flush) */
	uint64_t stat_pend[MIG_STAT__MAX];
};

#define POOL_DEFAULT 64

/* Taken keys whose connection never finished are erased after this. */
#define POOL_TAKEN_TTL_NS (180ULL * 1000000000ULL)
#define POOL_TAKEN_MAX    8192

uint64_t mono_ns(void);
/*
 * Lines of one kind that a peer can make the agent write as fast as it
 * likes (a connection keyed, a commit of its own flow moving again and
 * again): at most LOG_LINES_PER_SEC a second are written, the rest
 * counted until log_reports (main.c, once an event-loop pass) says how
 * many, once their second is over.  Plain TCP makes a server write no
 * line per connection; a flood of them would also crowd out every other
 * line of the log.
 */
#define LOG_LINES_PER_SEC 10
bool loglimit_ok(struct loglimit *l, uint64_t now);
void log_reports(struct agent *a);

/* counters kept by the agent, added to CPU 0's slot of mig_stats (once
 * an event-loop pass, stat_flush) */
void stat_add(struct agent *a, enum mig_stat s, uint64_t n);
void stat_flush(struct agent *a);
uint64_t stat_get(struct agent *a, enum mig_stat s);

int pool_init(struct key_pool *p, unsigned int target);
void pool_free(struct key_pool *p);
int pool_drain(struct agent *a);
int pool_refill(struct agent *a);
void pool_expire(struct agent *a);
struct pool_slot *pool_find(struct key_pool *p, uint64_t id);
void pool_release(struct key_pool *p, struct pool_slot *s);
int pool_rkey_rotate(struct agent *a, bool force);
int pool_set_target(struct agent *a, unsigned int target);

int events_handle(void *ctx, void *data, size_t len);
void flow_forget(struct agent *a, const struct mig_tuple *sock, const struct mig_flow *f);
void flows_sweep(struct agent *a);
void lost_events_check(struct agent *a);
/* a.flows from the map, at start (a walk of every bucket) */
int flows_index_load(struct agent *a);
void closed_due(struct agent *a);
#define CLOSE_GRACE_NS (500ULL * 1000000ULL)
#define FLOW_SWEEP_NS (10ULL * 1000000000ULL)

/* Exit status when the pinned state belongs to another build (another ABI
 * or map layouts): nothing was changed. */
#define MIG_EXIT_STATE 3

/* pins.c */
bool pin_exists(const struct agent *a, const char *name);
struct bpf_map_info;
int pin_map_get(const struct agent *a, const char *name, struct bpf_map_info *info);
/* Before anything pinned is reused: mig_meta's ABI version and the layout
 * of every pinned map of objs (sock_ops' first) against this build's.
 * -EPROTO: refused (said), nothing changed. */
int pins_check(struct agent *a, struct bpf_object *const *objs, int nobjs);
/* --adopt: a sock_ops program of the pinned maps is attached to the cgroup */
int pins_adopt_check(struct agent *a);
/* A pinned mig_stats with another number of counters (a build that added
 * some): before loading, a new one of this build's size goes into objs in
 * its place; once the new programs are attached, the old counts are added
 * to it and it replaces the pin. */
int pins_stats_prepare(struct agent *a, struct bpf_object *const *objs, int nobjs);
int pins_stats_commit(struct agent *a);

/* dp.c */
int dp_sizes(struct agent *a, struct bpf_object *obj);
int dp_open(struct agent *a);
struct bpf_object *dp_object(struct agent *a);
int dp_adopt(struct agent *a);
int dp_host_init(struct agent *a);
int dp_host_holds(struct agent *a, int delta);
void dp_host_flush(struct agent *a);
int dp_load(struct agent *a);
int dp_xf_init(struct agent *a, bool trust, uint64_t stamp);
void xf_deleted(struct agent *a, const struct mig_tuple *k);
void dp_unload(struct agent *a);
int dp_attach_all(struct agent *a);
int dp_detach_all(void);
void dp_release_unserved(struct agent *a);
int dp_sockinfo(struct agent *a, struct mig_sockinfo **out, size_t *n);
void dp_keyed_load(struct agent *a, int sk_fd);
int dp_keyed_read(struct agent *a, struct mig_event **out, size_t *n);
bool dp_listening(struct agent *a, int family, const uint32_t addr[4], uint16_t port);
int dp_sockinfo_one(struct agent *a, const struct mig_tuple *t,
		    struct mig_sockinfo *out);

/* recover.c: what an earlier run left behind, at start */
struct socks {
	struct mig_sockinfo *v;    /* sorted by tuple */
	size_t n;
};
int socks_read(struct agent *a, struct socks *s);
const struct mig_sockinfo *socks_find(const struct socks *s, const struct mig_tuple *t);
void socks_free(struct socks *s);
int closed_sweep(struct agent *a, const struct socks *s);
void recover(struct agent *a);
/* reload.c: SIGHUP */
int agent_reload(struct agent *a);
void dns_key_digest(const char *secret, unsigned char out[32]);

/* netwatch.c */
int netwatch_open(struct agent *a);
int netwatch_fd(struct agent *a);
/* Read pending events; returns what they say, a mask of: */
#define NW_CHANGED 1   /* an address, route or link that can move a flow */
#define NW_LINK    2   /* a link came, went or changed */
int netwatch_read(struct agent *a);
void netwatch_close(struct agent *a);
/* The host's addresses a flow may use, read once per pass: every address
 * on an interface that is up, but not those of scope host on lo (loopback,
 * and the old addresses the agent keeps there).  Addresses of wider scope
 * on lo (VIPs, anycast, direct server return) count. */
struct host_addrs {
	size_t n, cap;
	struct { int af; uint32_t a[4]; } *v;
};
int host_addrs_read(struct agent *a, struct host_addrs *h);
bool host_addrs_has(const struct host_addrs *h, int af, const uint32_t *addr);
void addr_kept_sync(struct agent *a, const struct host_addrs *h);
int addr_kept_load(struct agent *a);
void host_addrs_free(struct host_addrs *h);
int addr_keep_local(struct agent *a, const struct mig_tuple *t);
void addr_release_unused(struct agent *a);
int addr_adopt_kept(struct agent *a);
/* IFA_PROTO of the addresses the agent keeps on lo (0-3 are the kernel's) */
#define MIG_IFA_PROTO 0x4d

/* mover.c */
#define XLATE_TIMEWAIT_NS (65ULL * 1000000000ULL)
void xlate_forget(struct agent *a, const struct mig_tuple *sock,
		  const struct mig_tuple *wire, const struct mig_tuple *prev,
		  uint64_t due_ns);
void xlate_forget_timewait(struct agent *a, const struct mig_tuple *sock,
			   const struct mig_tuple *wire, const struct mig_tuple *prev);
void xlate_forget_due(struct agent *a);
bool mover_adopt_pending(struct agent *a, const struct mig_tuple *wire,
			 const struct mig_pend *pe);
bool mover_adopt_confirming(struct agent *a, const struct mig_tuple *sock,
			    const struct mig_flow *f);
bool flow_may_move(uint8_t state);
void mover_reconcile(struct agent *a);

/* reserve.c: wire tuples of translations held in the kernel (a bound
 * socket each), so that no local connection takes them */
void reserve_init(void);
void reserve_wire(struct agent *a, const struct mig_tuple *sock, const struct mig_tuple *wire);
void reserve_release(const struct mig_tuple *sock);
void reserve_resync(struct agent *a);
void reserve_free(void);
void mover_tick(struct agent *a);
bool mover_slot_free(struct agent *a);
int mover_init(struct agent *a);
void mover_free(struct agent *a);
void mover_migrated(struct agent *a, const struct mig_tuple *sock, int role);
void mover_commits_done(struct agent *a);
int mover_commits_wait_ms(const struct agent *a);
void mover_commits_flush(struct agent *a);
void mover_commits_sweep(struct agent *a);
/* the value of a flow in a->flows: the stamp of its latest commit the
 * agent handled (mover.c), 0 none; this one: loaded at start, unknown */
#define COMMIT_STAMP_UNKNOWN UINT32_MAX

/* cc.c */
void cc_load(struct agent *a);
void cc_unload(struct agent *a, bool keep);
void cc_forget_pinned(const char *pin_dir);
struct cc_item {
	struct mig_tuple sock;
	uint64_t cookie;
	int err;
	bool unlogged;   /* no line for its restart (mover.c: commit_log) */
	bool push;       /* push its queued data also if it restarted in its socket */
};
void cc_restart_batch(struct agent *a, struct cc_item *v, size_t n);
void mover_resend(struct agent *a, const struct mig_tuple *wire, uint32_t reqno);
void mover_cc_event(struct agent *a, const struct mig_event *ev);
/* migratectl migrate: move the flow only (all keyed flows if NULL) whose
 * route toward the peer now has another source; counts into r.  0, or
 * -ENOENT when only names no keyed flow. */
struct mig_ctl_resp;
int mover_request(struct agent *a, const struct mig_tuple *only,
		  struct mig_ctl_resp *r);

/* ctlreq.c: the socket migratectl's requests arrive on */
int ctlreq_open(struct agent *a);
void ctlreq_handle(struct agent *a);
void ctlreq_close(struct agent *a);
const char *tuple_str(const struct mig_tuple *t, char *buf, size_t len);

#endif
