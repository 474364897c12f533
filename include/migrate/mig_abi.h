/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_abi.h - the only definition of everything that crosses the
 * kernel/user line: pinned map names, map keys and values, ring-buffer
 * events, counters.  Included by the BPF programs (after vmlinux.h), by
 * migrate-agent and by migratectl.
 *
 * Rules: fixed-width types only, explicit zeroed padding, byte order named
 * on every field that carries wire data, a _Static_assert on every size.
 * Any change to a layout here bumps MIG_ABI_VERSION.
 */
#ifndef MIGRATE_MIG_ABI_H
#define MIGRATE_MIG_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MIG_ABI_VERSION 4
/* Tests only: a build that claims another version (make
 * DEFINES=-DMIG_ABI_VERSION_OVERRIDE=N), to see an agent refuse the
 * pinned state of another ABI (tests/integration/test_upgrade.sh). */
#ifdef MIG_ABI_VERSION_OVERRIDE
#undef MIG_ABI_VERSION
#define MIG_ABI_VERSION MIG_ABI_VERSION_OVERRIDE
#endif

/* Default pin directory of one agent instance (a host).  Tests and
 * multi-instance setups pass another with --pin-dir. */
#define MIG_PIN_DIR_DEFAULT "/sys/fs/bpf/migrate"

/* Pinned object names (<= 15 characters: the kernel truncates map names). */
#define MIG_MAP_FLOWS    "mig_flows"
#define MIG_MAP_TOKENS   "mig_tokens"
#define MIG_MAP_POOL     "mig_pool"
#define MIG_MAP_REQS     "mig_reqs"
#define MIG_MAP_SK       "mig_sk"
#define MIG_MAP_EVENTS   "mig_events"
#define MIG_MAP_STATS    "mig_stats"
#define MIG_MAP_META     "mig_meta"
#define MIG_MAP_INGRESS  "mig_ingress"
#define MIG_MAP_EGRESS   "mig_egress"
#define MIG_MAP_RATE     "mig_rate"
#define MIG_MAP_CAND     "mig_cand"
#define MIG_MAP_PEND     "mig_pend"
#define MIG_MAP_HOLD     "mig_hold"
#define MIG_MAP_HOST     "mig_host"
#define MIG_MAP_RKEY     "mig_rkey"
#define MIG_MAP_GATE     "mig_gate"
#define MIG_MAP_KEPT     "mig_kept"
#define MIG_MAP_CC_ARM   "mig_cc_arm"
#define MIG_MAP_XF       "mig_xf"
#define MIG_LINK_SOCKOPS "link_sockops"
#define MIG_LINK_ITER    "link_iter"
/* Programs that other tools load (migrate-agent --adopt) are pinned in
 * this subdirectory of the pin directory, under their own names. */
#define MIG_PIN_PROGS    "prog"

/* mig_cc.bpf.o's congestion control (the restart after a commit) is
 * compiled with this name, and each agent writes its own over it before
 * load: "mig_" and 8 hex digits (congestion control names are global to
 * the kernel, at most 15 characters). */
#define MIG_CC_NAME_PLACEHOLDER "mig_cc_@@@@@@@@"
/* ... and its struct_ops map is pinned under this name while the agent
 * runs: a registration outlives a killed agent, and the next start (or
 * --detach) finds it there and removes it. */
#define MIG_PIN_CC       "cc_ops"

/* mig_cc.bpf.c's mig_cc_want (not pinned): a socket whose congestion state
 * restarts in the iterator's next run, by its tuple.  The agent writes the
 * cookie (0: the tuple alone) and zeroes the rest; the iterator writes the
 * rest.  MIG_CC_BATCH sockets per run at most: a run walks every TCP
 * socket of the host (about 0.4 us each here), so the batch bounds how
 * many walks a mass move takes (100,000 commits: 2 walks, not 98 as with
 * 1,024).  The map allocates as it fills (BPF_F_NO_PREALLOC). */
#define MIG_CC_BATCH 65536
struct mig_cc_req {
	__u64 cookie;
	__u32 found;              /* sockets that matched */
	__u32 applied;            /* inits that restarted it */
	__s32 err;                /* a bpf_setsockopt's error, 0: none */
	__s32 back_err;           /* switching back failed: left on our algorithm */
	__u32 cwnd_before, ssthresh_before, cwnd_after, ssthresh_after;
	__u32 in_flight;          /* segments it counted in flight (old path) */
	__u32 pushed;             /* 1: its unsent data was pushed (TCP_NODELAY) */
	__s32 push_err;           /* that push's bpf_setsockopt error, 0: none */
	__u32 push_req;           /* in: push it also if it restarted in its socket already */
	char  prev[16];           /* its algorithm (TCP_CA_NAME_MAX) */
};

/*
 * mig_cc_arm (per CPU, one entry): between the program that switches a
 * socket's congestion control to ours (sock_ops on the peer's first
 * segment after a commit, or mig_cc_iter) and the init that switch runs,
 * on the same CPU, under the socket's lock.  The switcher saves the entry,
 * arms it, switches, reads it and puts back what it saved, so a switch
 * interrupted by another (a softirq on the same CPU) finds its own.
 * name: written by the agent into every CPU's entry once its algorithm is
 * registered; empty, nothing restarts in sock_ops.
 */
struct mig_cc_arm {
	__u64 cookie;             /* the socket to restart, 0: none */
	__u32 flight;             /* init: what it counted in flight */
	__u32 hit;                /* init: 1 once it restarted the armed socket */
	__u32 pad[2];
	char  name[16];           /* the agent's algorithm (TCP_CA_NAME_MAX) */
};
_Static_assert(sizeof(struct mig_cc_arm) == 40, "mig_cc_arm size");

/*
 * The marker (docs/protocol.md, "Congestion state after a commit"): the
 * ingress program turns the two NOPs in front of a peer segment's first
 * option into this option (kind, length 2), which the kernel does not
 * know, so that the socket's sock_ops program, which asks for segments
 * with unknown options, sees it and restarts the socket there.  Only
 * between our ingress program and our own socket: never sent.
 */
#define MIG_CC_MARK_KIND 253
/* ... for at most this long after the commit (a socket that never sees
 * one: the agent's walk restarts it, MIG_CC_WAIT_MS after its commit) */
#define MIG_CC_MARK_NS   (2ULL * 1000000000ULL)
#define MIG_CC_WAIT_MS   50
/* A socket restarted in sock_ops whose send might still wait (the kernel
 * defers a TSO send until the next ACK if the socket transmitted within
 * the last millisecond): the agent's walk pushes its queued data this
 * long after the event that says so. */
#define MIG_CC_SOON_MS   2

/* skb mark of the segments the agent and the data path make themselves
 * (Migrate SYN, SYN/ACK, CONFIRM, RST): the egress program leaves them
 * alone. */
#define MIG_MARK 0x4d470001

/* TC filter handle and priority of the ingress and egress programs. */
#define MIG_TC_HANDLE 0x4d47
#define MIG_TC_PRIO   0x4d47

/*
 * Sizes.  MIG_MAX_FLOWS is the default of the agent's --max-flows, set
 * on the maps at load time: mig_flows, mig_tokens, mig_egress, mig_pend
 * and mig_hold hold that many entries, mig_ingress and mig_cand twice as
 * many (a translation and the retired tuple; two candidates per flow).
 * These maps are plain hashes without preallocation: nothing is evicted,
 * memory grows with use (docs/protocol.md, "State and its owners").
 */
#ifndef MIG_MAX_FLOWS
#define MIG_MAX_FLOWS (1U << 20)
#endif
#define MIG_MIN_FLOWS 64
#ifndef MIG_MAX_REQS
#define MIG_MAX_REQS 4096
#endif
#ifndef MIG_POOL_MAX
#define MIG_POOL_MAX 1024
#endif
#define MIG_EVENTS_BYTES (256 * 1024)

/* Crypto sizes (PROTOCOL.md sections 3 and 4). */
#define MIG_PUB_LEN   32
#define MIG_HALF_LEN  16
#define MIG_TOKEN_LEN 8
#define MIG_KEY_LEN   32
#define MIG_MAC_LEN   8
#define MIG_SIP_KEY_LEN 16
/* The fixed end accepts the next W request numbers after the last
 * committed one (PROTOCOL.md 5, W >= 8). */
#define MIG_MAC_WINDOW 8
/* A candidate (a Migrate SYN answered, no CONFIRM yet) lives this long. */
#define MIG_CAND_TTL_NS (5ULL * 1000000000ULL)
/* expires_ns of a slot that one CPU holds while it writes it (cand_claim
 * in mig_dp.bpf.c): reads as live, and is never a real expiry */
#define MIG_CAND_CLAIMING (1ULL << 62)
#define MIG_NCAND 2
/* MIGRATE-WAIT: a RST of a keyed flow without the peer's tag is held back
 * (dropped) this long from the first one; a commit meanwhile discards it;
 * after it, such RSTs take effect (for as long again). */
#define MIG_RST_HOLD_MS 60000
/* Stale timestamp echoes and SACK blocks (struct mig_in, ts) are looked
 * for this long after a commit at most: normally the first round trip
 * ends it; a forged echo from the future cannot make it last. */
#define MIG_TS_STALE_NS (1000ULL * 1000000ULL)
/* The tag our data path appends to every RST of a keyed flow. */
#define MIG_RST_TAG_LEN 8

enum mig_role {
	MIG_ROLE_NONE      = 0,
	MIG_ROLE_INITIATOR = 1,
	MIG_ROLE_RESPONDER = 2,
};

/*
 * A TCP flow as its local socket sees it.  IPv4 (and IPv4-mapped IPv6)
 * flows use family AF_INET (2) with the address in addr[0] and the other
 * words zero; IPv6 uses AF_INET6 (10).  Addresses and ports are in
 * network byte order.  Used as the key of mig_flows, mig_secrets and
 * mig_reqs.
 */
struct mig_tuple {
	__u32 laddr[4];   /* be */
	__u32 raddr[4];   /* be */
	__u16 lport;      /* be */
	__u16 rport;      /* be */
	__u8  family;     /* AF_INET or AF_INET6 */
	__u8  pad[3];     /* zero */
};
_Static_assert(sizeof(struct mig_tuple) == 40, "mig_tuple size");

/*
 * A candidate of the fixed end: a valid Migrate SYN from wire tuple
 * `wire` was answered with `nonce`, no CONFIRM yet.  Kept in its flow (at
 * most MIG_NCAND), indexed by wire tuple in mig_cand.
 */
struct mig_cand {
	struct mig_tuple wire;        /* our view; family 0: empty slot */
	__u32 reqno;                  /* the peer's request */
	__u32 challenge;              /* the mover's c (host order) */
	__u64 expires_ns;             /* bpf_ktime_get_ns */
	__u8  nonce[8];
};
_Static_assert(sizeof(struct mig_cand) == 64, "mig_cand size");

/*
 * mig_flows: one entry per keyed connection, key = socket tuple.  A plain
 * hash (never evicted), sized by --max-flows.  Two owners, by field:
 * - the agent writes the whole value once, with BPF_NOEXIST, when the key
 *   agreement finished, and later only deletes it (close);
 * - the data path owns everything after `state`: sock_ops keeps `state`
 *   current and deletes the entry when the socket closes; the ingress
 *   program writes the rest in place.
 * The agent never writes an existing entry, so no commit can be undone by
 * it.
 */
struct mig_flow {
	/* agent, written once */
	__u8  token[MIG_TOKEN_LEN];   /* wire order */
	__u64 cookie;                 /* socket cookie */
	__u64 keyed_ns;               /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	__u32 isn_i;                  /* host order */
	__u32 isn_r;                  /* host order */
	__u8  role;                   /* enum mig_role */
	__u8  pad0[3];                /* zero */
	__u32 sack_hi;                /* data path (was padding): SACK blocks
				       * ending at or below it (host order) are
				       * hidden after a commit: the socket's
				       * SND.NXT at the commit, then the highest
				       * such block end of the peer's first
				       * segment; 0: none (docs/protocol.md,
				       * "Timestamps and SACK blocks after a
				       * move") */
	__u8  s_own[MIG_SIP_KEY_LEN]; /* SipHash key of what this host sends */
	__u8  s_peer[MIG_SIP_KEY_LEN];/* ... and of what the peer sends */
	/* data path */
	__u8  state;                  /* BPF_TCP_* state of the socket (sock_ops) */
	__u8  next_cand;              /* candidate slot to reuse next */
	__u16 cc_done;                /* the low 16 bits of `migrations` when
				       * the socket's congestion state last
				       * restarted (sock_ops, mig_cc_iter): the
				       * ingress program marks the peer's
				       * segments until it equals them */
	__u32 migrations;             /* commits, either end moving */
	__u64 migrated_ns;            /* last commit, 0 if never */
	__u32 peer_reqno;             /* last committed reqno of the peer */
	__u32 own_reqno;              /* last committed reqno of this host */
	__u32 last_challenge;         /* mover: c of own_reqno */
	__u8  last_nonce[8];          /* mover: the nonce it confirmed for own_reqno */
	__u32 rst_held_ms;            /* first unauthenticated RST held (bpf_ktime ms), 0: none */
	/* where the flow is on the wire now (== the socket tuple until the
	 * first migration), and where it was before the last commit (family
	 * 0: nowhere); segments arriving there never reach the socket */
	struct mig_tuple wire;
	struct mig_tuple prev;
	struct mig_cand cand[MIG_NCAND];
};
_Static_assert(sizeof(struct mig_flow) == 192 + 64 * MIG_NCAND, "mig_flow size");

/*
 * mig_ingress: key = a wire tuple as this host sees it (laddr = our
 * address on the wire).  Written by the ingress program at commit only
 * (XLATE for the new wire tuple, RETIRED for the previous one: at most
 * one of each per flow); removed by the agent when the flow closed (after
 * TIME-WAIT).  A plain hash: strangers' packets never add to it.
 */
enum mig_in_type {
	MIG_IN_XLATE   = 1,  /* migrated flow: rewrite to the socket tuple */
	MIG_IN_RETIRED = 2,  /* the flow's previous wire tuple: drop */
};
/*
 * Timestamp echoes and SACK blocks across a commit (docs/protocol.md,
 * "Timestamps and SACK blocks after a move").  A socket that heard nothing
 * from its peer during an outage echoes, in its first segments after the
 * commit, a timestamp its peer sent before the outage, and SACKs what it
 * received before it: the peer's kernel takes either for a round trip of
 * the outage's length (its RTO grows to seconds, its backoff is reset) or
 * the echo for proof that its retransmissions were spurious (it undoes
 * them, and waits).  The ingress program clears such echoes (TSecr 0: "no
 * echo", RFC 7323), and hides the SACK blocks that name data the peer held
 * before the move (mig_flow.sack_hi), until the peer echoes a newer one.
 * These fields were padding (always zero) in earlier builds: an entry they
 * wrote reads as MIG_TS_OFF.
 */
enum mig_ts_state {
	MIG_TS_OFF   = 0,   /* echoes pass untouched */
	MIG_TS_FIRST = 1,   /* set at commit: the next echo is the stale one */
	MIG_TS_STALE = 2,   /* echoes not after ts_stale are cleared */
};

struct mig_in {
	struct mig_tuple sock;   /* the socket tuple */
	__u8  type;              /* enum mig_in_type */
	__u8  seen;              /* XLATE: a segment of the peer arrived here
				  * (set once by the ingress program): the
				  * peer has committed us onto this tuple */
	__u8  ts;                /* XLATE: enum mig_ts_state (ingress program) */
	__u8  cc;                /* XLATE: 1 from the commit until the socket's
				  * congestion state restarted: the peer's
				  * segments carry MIG_CC_MARK_KIND (was
				  * padding: 0 in earlier builds' entries) */
	__u32 ts_stale;          /* MIG_TS_STALE: the timestamp echo (host
				  * order) of the peer's first segment here */
};
_Static_assert(sizeof(struct mig_in) == 48, "mig_in size");

/* mig_cand: key = a candidate's wire tuple (our view) -> its flow.
 * Written by the ingress program only, NOEXIST, at most MIG_NCAND per
 * flow; removed at commit, when its slot is reused, or once expired. */
struct mig_cand_ref {
	struct mig_tuple sock;
	__u32 resend_ms;         /* last SYN/ACK asked for again (wraps) */
	__u32 pad;
};
_Static_assert(sizeof(struct mig_cand_ref) == 48, "mig_cand_ref size");

/* mig_pend: key = the wire tuple a Migrate SYN of ours left from.
 * Written and removed by the agent only; read by the ingress program to
 * validate the Migrate SYN/ACK. */
struct mig_pend {
	struct mig_tuple sock;
	__u32 reqno;
	__u32 challenge;         /* c we sent in the ack field (host order) */
};
_Static_assert(sizeof(struct mig_pend) == 48, "mig_pend size");

/* mig_egress: key = socket tuple -> wire tuple.  Written by the ingress
 * program at commit; removed by the agent when the flow closed.
 *
 * rt_memo and rt_gen: the egress program's memo of the route of a flow
 * whose peer moved (its segments leave on the socket's route to the
 * peer's old address, so each asks the FIB about the new one; see
 * reroute and rt_gen in bpf/mig_dp.bpf.c).  MIG_RT_SAME: the route to
 * the new address leaves by the same device to the same next-hop MAC,
 * nothing to change; MIG_RT_FWD_OFF (IPv4 only): lo does not forward,
 * the kernel refuses the lookup.  Valid while the network namespace's
 * route generation (IPv4: rt_genid, what the kernel checks its own
 * cached routes against; IPv6: fib6_sernum plus the count of routes
 * deleted) equals rt_gen.  Written by the data path only, and only by
 * the build that can read them (mig_dp_kc, Linux 6.2 on); zero from
 * commit and from everyone else, which means "ask the FIB". */
struct mig_out {
	struct mig_tuple wire;
	__u32 rt_gen;
	__u8  rt_memo;           /* MIG_RT_* */
	__u8  pad[3];            /* zero */
};
_Static_assert(sizeof(struct mig_out) == 48, "mig_out size");
#define MIG_RT_NONE    0
#define MIG_RT_SAME    1
#define MIG_RT_FWD_OFF 2

/* mig_hold: key = socket tuple of a flow whose local address went away
 * (drop its segments until it migrated).  Agent only; the egress program
 * looks here only while mig_host.holds is non-zero. */
struct mig_hold {
	__u64 since_ns;          /* CLOCK_MONOTONIC */
};
_Static_assert(sizeof(struct mig_hold) == 8, "mig_hold size");

/* mig_gate: one entry, written by the data path only (atomic adds): how
 * many entries mig_cand holds, so that segments skip that lookup while
 * there are none (the common case). */
struct mig_gate {
	__s64 cands;
};
_Static_assert(sizeof(struct mig_gate) == 8, "mig_gate size");

/*
 * mig_xf: the translation filter.  An array of counters (__u64, mmapable)
 * indexed by mig_xf_slot() of a tuple: slot s counts the entries of
 * mig_ingress and mig_egress whose key falls on s.  A segment whose tuple
 * falls on a zero slot has no translation, and skips the hash lookup (the
 * common case: most flows never migrate).  Every writer of those two maps
 * keeps the count: +1 before an insert (taken back if the insert fails or
 * only replaced), -1 after a successful delete; the data path with atomic
 * adds, the agent with atomic adds on its mapping of the array.  So a
 * count is never below the entries on its slot.
 *
 * Entry MIG_XF_STAMP (not a slot) holds meta.started_ns of the agent that
 * last checked the counts.  A start whose pinned stamp is not the pinned
 * meta's (a build without the filter ran meanwhile), or that finds the
 * maps pinned but no filter (an upgrade from such a build), adds
 * MIG_XF_BIAS to every slot: every segment looks up, as before the
 * filter, until the data path is loaded afresh.
 */
#define MIG_XF_BITS   14
#define MIG_XF_SLOTS  (1U << MIG_XF_BITS)
#define MIG_XF_STAMP  MIG_XF_SLOTS
#define MIG_XF_BIAS   (1ULL << 40)

/* The slot of a tuple (either map's key): its words folded, then a
 * multiplicative hash.  Not keyed: a flow's owner may pick a tuple that
 * shares a victim's slot, which only makes the victim's segments look up
 * (as all did before the filter). */
static inline __u32 mig_xf_slot(const struct mig_tuple *t)
{
	__u32 x = t->laddr[0] ^ t->laddr[1] ^ t->laddr[2] ^ t->laddr[3] ^
		  t->raddr[0] ^ t->raddr[1] ^ t->raddr[2] ^ t->raddr[3] ^
		  ((__u32)t->lport | (__u32)t->rport << 16) ^ t->family;

	return (x * 0x9E3779B1U) >> (32 - MIG_XF_BITS);
}

/* mig_host: one entry, written by the agent. */
struct mig_host {
	__u8  boot[MIG_SIP_KEY_LEN];  /* nonce key b, from getrandom, kept with the pins */
	__u32 holds;                  /* entries in mig_hold */
	__u32 kept;                   /* entries in mig_kept */
};
_Static_assert(sizeof(struct mig_host) == 24, "mig_host size");

/*
 * mig_kept: the old addresses the agent keeps on lo (host scope) for the
 * sockets of migrated flows, while no interface has them (agent only).
 * They are no longer this host's on any link: a packet leaving with one
 * as its source is dropped at egress (kept_src_dropped) and an ARP request
 * for one is not answered (kept_arp_dropped).  The data path looks only
 * while mig_host.kept is not zero.
 */
struct mig_addr {
	__u8  family;            /* AF_INET or AF_INET6 */
	__u8  pad[3];
	__u32 addr[4];           /* IPv4 in addr[0], the rest zero */
};
_Static_assert(sizeof(struct mig_addr) == 20, "mig_addr size");
#define MIG_KEPT_MAX 256

/* mig_rate: per-CPU token bucket for RSTs and repeated SYN/ACKs. */
struct mig_bucket {
	__u64 tokens;            /* in nanoseconds of credit */
	__u64 last_ns;
};
_Static_assert(sizeof(struct mig_bucket) == 16, "mig_bucket size");
#define MIG_RATE_PER_SEC 100  /* RSTs per second and CPU */
#define MIG_RATE_BURST   20

/* Records of the iter/tcp program: one per TCP socket of the agent's
 * network namespace (read by the agent through an iterator fd). */
struct mig_sockinfo {
	struct mig_tuple tuple;
	__u32 snd_una;
	__u32 snd_nxt;
	__u32 rcv_nxt;
	__u8  state;
	__u8  backoff;           /* icsk_backoff */
	__u8  retransmits;       /* icsk_retransmits */
	__u8  rcv_wscale;        /* our window scale, MIG_NO_WSCALE if none */
};
#define MIG_NO_WSCALE 0xff
_Static_assert(sizeof(struct mig_sockinfo) == 56, "mig_sockinfo size");

/* mig_tokens: token (as a u64 of its wire bytes) -> socket tuple, for the
 * Migrate SYN lookup.  Same writers and lifetime as mig_flows. */
struct mig_token_key {
	__u8 token[MIG_TOKEN_LEN];
};
_Static_assert(sizeof(struct mig_token_key) == 8, "mig_token_key size");

/*
 * mig_rkey: one entry, the responder key (rule 7).  Every SYN/ACK this
 * host answers an MP_SYN with carries the public key of the current epoch,
 * shared by all handshakes of that epoch, so that no SYN takes a key from
 * the pool and syncookie handshakes can be keyed too; K still differs per
 * connection (the initiator's key is fresh, the ISNs salt HKDF).  Written
 * by the agent, which rotates it every MIG_RKEY_EPOCH_S seconds and erases
 * its private half two epochs later.  id 0: none (connections answered
 * stay plain).
 */
struct mig_rkey {
	__u64 id;
	__u8  pub[MIG_PUB_LEN];
};
_Static_assert(sizeof(struct mig_rkey) == 40, "mig_rkey size");
#define MIG_RKEY_EPOCH_S 60

/* mig_pool: BPF queue of public keys the agent made; sock_ops pops one
 * per migratable connection.  The private halves stay in the agent. */
struct mig_pool_key {
	__u64 id;
	__u8  pub[MIG_PUB_LEN];
};
_Static_assert(sizeof(struct mig_pool_key) == 40, "mig_pool_key size");

/* mig_reqs: SYN/ACK side state before a full socket exists, key = tuple
 * as the listener's side sees it.  Written and removed by sock_ops. */
struct mig_req {
	__u64 key_id;
	__u8  own_pub[MIG_PUB_LEN];
	__u8  peer_half[MIG_HALF_LEN];
	__u32 isn_i;             /* the SYN's ISN (from our SYN/ACK's ack - 1): the
				  * handshake's ACK must match, else the entry is
				  * another, dead handshake's */
	__u32 pad;
};
_Static_assert(sizeof(struct mig_req) == 64, "mig_req size");

/* mig_sk (socket storage, BPF only): negotiation progress of one socket. */
enum mig_sk_flags {
	MIG_SK_HAVE_PEER  = 1 << 0,  /* both halves of the peer's key known */
	MIG_SK_PEER_HAS   = 1 << 1,  /* peer said HAVE: it holds our key */
	MIG_SK_REPLY      = 1 << 2,  /* owe the peer one KEY2 */
	MIG_SK_REPORTED   = 1 << 3,  /* "keyed" event sent */
	MIG_SK_NEGOTIATED = 1 << 4,  /* MP_SYN seen both ways */
	MIG_SK_NEED_HALF1 = 1 << 5,  /* responder: no request state, ask for KEY1 */
	MIG_SK_HALF2      = 1 << 6,  /* responder: second half of the peer's key known */
	MIG_SK_SEND_KEY1  = 1 << 7,  /* initiator: the peer asked for KEY1 */
};
struct mig_sk {
	__u64 key_id;
	__u8  own_pub[MIG_PUB_LEN];
	__u8  peer_pub[MIG_PUB_LEN];
	__u32 isn_i;
	__u32 isn_r;
	__u8  role;
	__u8  flags;
	__u8  lost;          /* 1: its "keyed" event found the ring buffer full
			      * (mig_keyed.bpf.c writes it for the agent) */
	__u8  pad[5];
};
_Static_assert(sizeof(struct mig_sk) == 88, "mig_sk size");

/* mig_events: ring buffer from sock_ops to the agent. */
enum mig_event_type {
	MIG_EV_KEYED   = 1,  /* peer's whole key known: derive */
	MIG_EV_RELEASE = 2,  /* a pool key will never be used: erase it */
	MIG_EV_CLOSED  = 3,  /* a keyed socket closed */
	MIG_EV_MIGRATED = 4, /* a migration committed (role: 1 mover, 2 fixed) */
	MIG_EV_RESEND  = 5,  /* data from a candidate: send its SYN/ACK again */
	MIG_EV_CC      = 6,  /* sock_ops restarted a socket's congestion state */
};
/* MIG_EV_CC: what the restart found and did (as mig_cc_req). */
struct mig_cc_report {
	__u32 migrations;         /* the flow's commits when it restarted */
	__s32 err;                /* a bpf_setsockopt's error, 0: none */
	__s32 back_err;           /* switching back failed: left on our algorithm */
	__u32 applied;            /* 1: the init restarted it */
	__u32 cwnd_before, ssthresh_before, cwnd_after, ssthresh_after;
	__u32 in_flight;          /* segments it counted in flight (old path) */
	char  prev[16];           /* its algorithm */
	__u32 push_soon;          /* 1: its send might wait: push it MIG_CC_SOON_MS later */
};
struct mig_event {
	__u32 type;          /* enum mig_event_type */
	__u8  role;          /* enum mig_role */
	__u8  state;         /* BPF_TCP_* state when raised */
	__u8  pad[2];
	__u64 key_id;
	__u64 cookie;
	struct mig_tuple tuple;
	union {
		struct {
			__u32 isn_i;         /* host order */
			__u32 isn_r;         /* host order */
			__u8  peer_pub[MIG_PUB_LEN];
			/* CLOSED: where the flow was on the wire, and
			 * whether TIME-WAIT follows (its translation must
			 * outlive the socket a while) */
			struct mig_tuple wire;
		};
		struct mig_cc_report cc;   /* CC */
	};
	__u8  timewait;
	__u8  pad2[7];
	struct mig_tuple prev;   /* CLOSED: the retired wire tuple (family 0: none) */
};
_Static_assert(sizeof(struct mig_event) == 192, "mig_event size");

/* mig_meta: one entry, written by the agent at start, checked by
 * migratectl. */
struct mig_meta {
	__u32 abi_version;
	__u32 pool_target;
	__u64 agent_pid;
	__u64 started_ns;    /* CLOCK_MONOTONIC */
	__u32 max_flows;     /* --max-flows the maps were made with */
	__u32 pad;
	/* the agent's network namespace (SO_NETNS_COOKIE): sock_ops acts
	 * only on sockets of this one, so that agents of several namespaces
	 * can serve one cgroup (the root sees every namespace's sockets);
	 * 0: any */
	__u64 netns_cookie;
};
_Static_assert(sizeof(struct mig_meta) == 40, "mig_meta size");

/*
 * mig_stats: per-CPU array of __u64, one slot per counter.  The data path
 * increments its counters; the agent adds its own to CPU 0's slots.
 * The keys waiting in mig_pool (a queue, which cannot be counted from
 * outside) number pool_pushed - pool_taken - pool_drained.
 * Names (MIG_STAT_NAMES) are part of the JSON schema of migratectl: only
 * append.
 */
#define MIG_STATS(X) \
	X(POOL_EMPTY,       "pool_empty")        /* no public key: connection left plain */ \
	X(POOL_TAKEN,       "pool_taken")        /* keys taken from the pool */ \
	X(SYN_OUT,          "syn_offered")       /* our SYN carried MP_SYN */ \
	X(SYNACK_OUT,       "synack_answered")   /* our SYN/ACK carried MP_SYN */ \
	X(FALLBACK_PEER,    "fallback_peer")     /* we offered, SYN/ACK had no MP_SYN */ \
	X(FALLBACK_SYN,     "fallback_syn")      /* peer's SYN had no MP_SYN */ \
	X(OPT_NO_SPACE,     "opt_no_space")      /* no room for our option */ \
	X(OPT_BAD_LEN,      "opt_bad_len")       /* our ExID, wrong length */ \
	X(OPT_BAD_EXID,     "opt_bad_exid")      /* kind 253, other ExID */ \
	X(OPT_TRUNCATED,    "opt_truncated")     /* option runs past the header */ \
	X(OPT_BAD_SUB,      "opt_bad_sub")       /* unknown sub type */ \
	X(KEY2_OUT,         "key2_sent") \
	X(KEY2_IN,          "key2_received") \
	X(EV_KEYED,         "events_keyed") \
	X(EV_LOST,          "events_lost")       /* ring buffer full */ \
	X(KEYED,            "keyed")             /* agent: flow keyed */ \
	X(UNKNOWN_KEY,      "unknown_key_id")    /* agent: key id not ours */ \
	X(ZERO_SECRET,      "zero_secret")       /* agent: all-zero X25519 result */ \
	X(TOKEN_COLLISION,  "token_collision")   /* agent: token already live */ \
	X(MAP_FULL,         "map_full")          /* agent: could not store a flow */ \
	X(CLOSED,           "closed")            /* keyed flow closed */ \
	X(KEYS_EXPIRED,     "keys_expired")      /* agent: taken key never used */ \
	X(MSYN_IN,          "msyn_received")     /* Migrate SYNs seen */ \
	X(MSYN_ANSWERED,    "msyn_answered")     /* ... answered with a SYN/ACK */ \
	X(REJ_TOKEN,        "reject_token")      /* unknown token */ \
	X(REJ_MAC,          "reject_mac")        /* bad authenticator */ \
	X(REJ_REQNO,        "reject_reqno")      /* reqno outside the window */ \
	X(REJ_SEQ,          "reject_seq")        /* seq outside the window */ \
	X(REJ_STATE,        "reject_state")      /* no socket, or a state that cannot move */ \
	X(RST_SENT,         "rst_sent") \
	X(RST_LIMITED,      "rst_rate_limited")  /* over the token bucket: dropped */ \
	X(ACK_BAD,          "synack_dropped")    /* Migrate SYN/ACK unasked for, or bad mac */ \
	X(CONFIRM_SENT,     "confirm_sent") \
	X(CONFIRM_BAD,      "confirm_dropped")   /* wrong nonce, reqno or mac */ \
	X(COMMIT_FIXED,     "committed_fixed")   /* the peer moved */ \
	X(COMMIT_MOVER,     "committed_mover")   /* we moved */ \
	X(CAND_DROP,        "candidate_dropped") /* data from a wire tuple before its CONFIRM */ \
	X(HOLD_DROP,        "held_dropped")      /* our segment held: address gone */ \
	X(XLATE_IN,         "xlate_in")          /* segments rewritten on ingress */ \
	X(XLATE_OUT,        "xlate_out")         /* segments rewritten on egress */ \
	X(MSYN_SENT,        "msyn_sent")         /* agent: Migrate SYNs sent */ \
	X(KICKS,            "resume_kicks")      /* agent: ICMP backoff reverts sent */ \
	X(MOVES,            "moves_detected")    /* agent: a flow's address went away */ \
	X(DNS_UPDATE_OK,    "dns_update_ok")     /* agent: UPDATE answered NOERROR */ \
	X(DNS_UPDATE_FAIL,  "dns_update_failed") /* agent: refused, timed out, or bad reply */ \
	X(DNS_TSIG_FAIL,    "dns_tsig_failed")   /* agent: the server refused our TSIG, or its reply's failed */ \
	X(DNS_RESOLVE,      "dns_peer_resolved") /* agent: a peer's name looked up again */ \
	X(REJ_TUPLE,        "reject_tuple")      /* candidate tuple taken by another connection */ \
	X(CAND_FULL,        "candidate_map_full") /* mig_cand full: Migrate SYN dropped */ \
	X(CAND_EXPIRED,     "candidate_expired") /* a candidate's time ran out */ \
	X(CONFIRM_CONTESTED, "confirm_contested") /* unused since the contest rule was dropped (names are append-only) */ \
	X(RETIRED_DROP,     "retired_dropped")   /* segment on a flow's previous wire tuple */ \
	X(TRANSIT,          "transit_passed")    /* signalling not addressed to us: untouched */ \
	X(SYNCOOKIE,        "syncookie_answered") /* syncookie SYN/ACK with the responder key, no state */ \
	X(XLATE_FULL,       "xlate_map_full")    /* no room for a translation: commit refused */ \
	X(CAND_BUSY,        "candidate_busy")    /* both candidate slots of the flow live: refused */ \
	X(RST_SIGNED,       "rst_signed")        /* our RST of a keyed flow: tag appended */ \
	X(RST_AUTH,         "rst_authenticated") /* the peer's RST with a valid tag: passed */ \
	X(RST_HELD,         "rst_held")          /* RST without the peer's tag: held back (dropped) */ \
	X(RST_RELEASED,     "rst_released")      /* ... passed after MIG_RST_HOLD_MS */ \
	X(KEY1_OUT,         "key1_sent")         /* initiator: first half sent again, asked for */ \
	X(KEY1_IN,          "key1_received")     /* responder: keyed without request state */ \
	X(KEY1_EPOCH,       "key1_epoch_missed") /* responder key turned mid-handshake: left plain */ \
	X(CAND_RESET,       "candidate_reset")   /* a RST from a candidate's tuple: candidate dropped */ \
	X(ICMP_XLATE,       "icmp_xlate_in")     /* ICMP error about a migrated flow: quoted tuple rewritten */ \
	X(ADDR_PASSES,      "addr_passes")       /* agent: flows checked against the host's addresses */ \
	X(KEPT_SRC,         "kept_src_dropped")  /* egress packet from an old address kept on lo */ \
	X(KEPT_ARP,         "kept_arp_dropped")  /* ARP request for an old address kept on lo */ \
	X(DNS_MALFORMED,    "dns_malformed")     /* agent: a DNS reply that does not parse, or unsigned where a signature is required: rejected */ \
	X(RESERVE_FAIL,     "reserve_failed")    /* agent: a migrated flow's wire tuple could not be reserved in the kernel */ \
	X(POOL_PUSHED,      "pool_pushed")       /* agent: public keys pushed into mig_pool */ \
	X(POOL_DRAINED,     "pool_drained")      /* agent: keys taken out of mig_pool unused (start, stop) */ \
	X(FRAG_DROP,        "frag_dropped")      /* a migrated flow's segment in a fragment or behind IPv6 extension headers: dropped, not translated */ \
	X(ICMP_XLATE_OUT,   "icmp_xlate_out")    /* ICMP error we send about a migrated flow: quote and addresses rewritten to the wire tuple */ \
	X(ICMP_OUT_DROP,    "icmp_out_dropped")  /* ICMP error we send quoting a held or retired socket tuple: dropped, no tuple leaks */ \
	X(ROUTE_MAC,        "route_nexthop")     /* rewritten segment: same device, the next hop of the new destination (MACs rewritten) */ \
	X(ROUTE_REDIRECT,   "route_redirected")  /* rewritten segment: sent out the device of the route to the new destination */ \
	X(ROUTE_FAIL,       "route_failed")      /* no usable route to the new destination: left on the socket's route */ \
	X(ROUTE_FWD_OFF,    "route_fwd_off")     /* route lookup refused, or known to be (forwarding off on lo): left on the socket's route */ \
	X(BIG_TCP,          "big_tcp")           /* GSO/GRO segment over 64 KiB (IP length 0): length taken from the skb */ \
	X(CC_RESTART,       "cwnd_restarted")    /* agent: a socket's congestion state restarted after a commit */ \
	X(CC_FAIL,          "cwnd_restart_failed") /* agent: ... could not be (no socket, refused, or mig_cc not loaded) */ \
	X(ICMP_IN_DROP,     "icmp_in_dropped")   /* ICMP error quoting a flow's previous wire tuple: dropped */ \
	X(KEYED_RECOVERED,  "keyed_recovered")   /* agent: a "keyed" event the full ring buffer lost, found in a walk of the sockets */ \
	X(TSECR_CLEARED,    "tsecr_cleared")     /* a migrated flow's segment echoing a timestamp from before the commit: echo set to 0 */ \
	X(SACK_HIDDEN,      "sack_hidden")       /* ... a SACK block of it naming data the peer held before the commit: made empty */ \
	X(COMMIT_UNLOGGED,  "commits_unlogged")  /* agent: a commit of a flow that had committed less than a second before, its lines not logged (over 10 such a second) */ \
	X(CC_MARKED,        "cwnd_marked")       /* a peer segment after a commit marked, so that its socket restarts its congestion state on it */ \
	X(CC_INLINE,        "cwnd_restarted_inline") /* sock_ops: ... restarted on such a segment (also counted in cwnd_restarted by the agent) */ \
	X(CC_DEFERRED,      "cwnd_restart_deferred") /* sock_ops: ... not restarted on it (a socket in loss recovery, the segment acknowledges new data): on the peer's next segment (marked until a restart), or by the agent's walk */ \
	X(CC_PUSH_SOON,     "cwnd_pushed_soon") /* agent: ... restarted on it, but its send might wait (the kernel's TSO deferral): pushed by a walk MIG_CC_SOON_MS later */ \
	MIG_STATS_TEST(X)

/* Tests only: a build with one counter more (make
 * DEFINES=-DMIG_TEST_COUNTER), to upgrade over a smaller mig_stats. */
#ifdef MIG_TEST_COUNTER
#define MIG_STATS_TEST(X) X(TEST_COUNTER, "test_counter")
#else
#define MIG_STATS_TEST(X)
#endif

#define MIG_STAT_ENUM(n, s) MIG_STAT_##n,
enum mig_stat {
	MIG_STATS(MIG_STAT_ENUM)
	MIG_STAT__MAX
};
#undef MIG_STAT_ENUM

/*
 * mig_dns: BPF array written by the agent's DNS worker (user space only,
 * no program uses it), read by `migratectl show dns`.  Key = index of the
 * name in the [dns] section of the agent's configuration; entries past the
 * configured names are all zero.  Created and pinned by the agent when
 * [dns] is configured, kept across restarts (an entry whose name still
 * matches keeps its history), removed with the pin directory.
 */
#define MIG_MAP_DNS        "mig_dns"
#define MIG_DNS_MAX_NAMES  16
#define MIG_DNS_MAX_ADDRS  4    /* per family, published and shown */
#define MIG_DNS_TEXT_LEN   64

enum mig_dns_result {
	MIG_DNS_NONE        = 0,  /* not tried yet */
	MIG_DNS_OK          = 1,  /* NOERROR, reply's TSIG verified */
	MIG_DNS_TSIG        = 2,  /* server refused our TSIG, or its reply failed verification */
	MIG_DNS_RCODE       = 3,  /* verified reply with an error rcode (REFUSED, NOTAUTH...) */
	MIG_DNS_TIMEOUT     = 4,  /* no answer in time */
	MIG_DNS_UNREACHABLE = 5,  /* ICMP unreachable, no route, connection refused */
	MIG_DNS_ERROR       = 6,  /* local error: no server found, bad reply, out of memory */
};

struct mig_dns_status {
	char  name[256];                      /* absolute, lowercase, NUL-terminated */
	__u8  addr4[MIG_DNS_MAX_ADDRS][4];    /* last published (NOERROR), be */
	__u8  addr6[MIG_DNS_MAX_ADDRS][16];
	__u8  want4[MIG_DNS_MAX_ADDRS][4];    /* being published (== addr* when up to date) */
	__u8  want6[MIG_DNS_MAX_ADDRS][16];
	__u8  n_addr4;
	__u8  n_addr6;
	__u8  n_want4;
	__u8  n_want6;
	__u8  result;                         /* enum mig_dns_result of the last attempt */
	__u8  pad[3];                         /* zero */
	__u32 attempts;                       /* UPDATEs sent for this name */
	__u32 pad2;                           /* zero */
	__u64 last_attempt;                   /* CLOCK_REALTIME seconds, 0 = never */
	__u64 last_success;                   /* CLOCK_REALTIME seconds, 0 = never */
	char  text[MIG_DNS_TEXT_LEN];         /* e.g. "TSIG failure (BADSIG)", NUL-terminated */
};
_Static_assert(sizeof(struct mig_dns_status) == 256 + 2 * (16 + 64) + 8 + 8 + 16 + 64,
	       "mig_dns_status size");

#endif /* MIGRATE_MIG_ABI_H */
