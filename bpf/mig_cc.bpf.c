// SPDX-License-Identifier: GPL-2.0-only
/*
 * mig_cc - congestion state restarts after a migration (PROTOCOL.md 5:
 * "Congestion state restarts from slow start, as in the paper"; the new
 * path is unknown).
 *
 * No socket option lowers an established socket's snd_cwnd at once
 * (TCP_BPF_IW refuses after the first data segment, TCP_BPF_SNDCWND_CLAMP
 * only caps it on later ACKs and only while cwnd-limited), and tracing
 * programs cannot write a tcp_sock.  A congestion control module's init
 * may, and the kernel runs the new module's init whenever an established
 * socket changes its algorithm (tcp_reinit_congestion_control).  So:
 *
 * - mig_cc_ops, a congestion control of this agent's own (a unique name,
 *   written by the agent before load), does Reno for any socket that uses
 *   it, and in its init sets snd_cwnd to the initial window (plus what the
 *   socket counts in flight: sent on the old path, see mig_cc_init) and
 *   ssthresh to "unknown" (TCP_INFINITE_SSTHRESH) for the one socket armed
 *   below;
 * - the socket's own sock_ops program (mig_sockops.bpf.c, cc_restart)
 *   arms it (mig_cc_arm) and switches it to mig_cc_ops and straight back
 *   to the algorithm it had, whose own init then starts from scratch too,
 *   on the peer's first segment after the commit (which the ingress
 *   program marks for it);
 * - mig_cc_iter, an iter/tcp program, does the same for the sockets that
 *   saw no such segment MIG_CC_WAIT_MS after their commit (called by the
 *   agent once per batch of them; the iterator holds each socket's lock
 *   while it runs): it finds the sockets whose tuples (and cookies) the
 *   agent put in mig_cc_want and writes what it did into each one's
 *   entry.  snd_cwnd_clamp is never touched.
 *
 * Nothing per packet: a socket spends no segment on mig_cc_ops.
 * GPL-only: a congestion control reaches GPL kernel functions (kfuncs).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "migrate/mig_abi.h"
#include "lib/mig_sk.h"
#include "lib/mig_cc_arm.h"

#define ENOENT           2
#define EALREADY         114
#define SOL_TCP          6
#define TCP_NODELAY      1
#define TCP_CONGESTION   13
#define TCP_NAGLE_OFF    1
#define TCP_NAGLE_CORK   2
#define TCP_CA_NAME_MAX  16
#define TCP_INIT_CWND    10
#define TCP_INFINITE_SSTHRESH 0x7fffffff
#define RTAX_INITCWND    11
#define DST_METRICS_FLAGS 0x3UL

char LICENSE[] SEC("license") = "GPL";

/* BPF_PROG's wrapper takes a ctx that the bodies here never use */
#pragma clang diagnostic ignored "-Wunused-parameter"

/* Written by the agent: once, the name it gave mig_cc_ops; before each
 * run of the iterator, the sockets to restart (mig_cc_want) and how many. */
char cc_name[TCP_CA_NAME_MAX];
__u32 cc_want_n;

/* the sockets to restart in this run (struct mig_cc_req) */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MIG_CC_BATCH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct mig_tuple);
	__type(value, struct mig_cc_req);
} mig_cc_want SEC(".maps");

/* The agent gives this object the pinned mig_flows (bpf_map__reuse_fd),
 * where the iterator notes the restart (mig_flow.cc_done), so that the
 * peer's next segment does not restart the socket again (sock_ops). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1);
	__type(key, struct mig_tuple);
	__type(value, struct mig_flow);
} mig_flows SEC(".maps");

extern __u32 tcp_reno_ssthresh(struct sock *sk) __ksym;
extern void tcp_reno_cong_avoid(struct sock *sk, __u32 ack, __u32 acked) __ksym;
extern __u32 tcp_reno_undo_cwnd(struct sock *sk) __ksym;

/* The window a new connection on this route would start with (the
 * kernel's tcp_init_cwnd): the route's initcwnd, else TCP_INIT_CWND, never
 * above the clamp. */
static __always_inline __u32 init_cwnd(struct tcp_sock *tp)
{
	struct dst_entry *dst = tp->inet_conn.icsk_inet.sk.sk_dst_cache;
	__u32 cwnd = 0;

	if (dst) {
		unsigned long m = dst->_metrics & ~DST_METRICS_FLAGS;

		if (m && bpf_probe_read_kernel(&cwnd, sizeof(cwnd),
					       (void *)(m + (RTAX_INITCWND - 1) * 4)))
			cwnd = 0;
	}
	if (!cwnd)
		cwnd = TCP_INIT_CWND;
	if (cwnd > tp->snd_cwnd_clamp)
		cwnd = tp->snd_cwnd_clamp;
	return cwnd;
}

/*
 * Send what the new window allows now.  The kernel sends on a write, an
 * incoming ACK or a timer; after a move the peer's duplicate ACK (its
 * resume nudge) has usually arrived before this restart, so a sender whose
 * application waits for buffer space would otherwise send nothing new
 * until its loss probe or retransmission timer.  Setting TCP_NODELAY
 * pushes the queued data (the kernel's __tcp_sock_set_nodelay); a socket
 * that had it off gets it off again at once, its Nagle state as before
 * from its next buffer on (skb_entail clears the push bit).  Unsent data
 * only, and never on a corked socket (TCP_CORK: the application's batch).
 * *pushed: 1 when it pushed.
 */
static __always_inline long push_unsent(struct tcp_sock *tp, __u32 *pushed)
{
	int on = 1, off = 0;
	__u32 nonagle;
	long err;

	if (tp->write_seq == tp->snd_nxt)
		return 0;
	nonagle = (__u32)BPF_CORE_READ_BITFIELD(tp, nonagle);
	if (nonagle & TCP_NAGLE_CORK)
		return 0;
	err = bpf_setsockopt(tp, SOL_TCP, TCP_NODELAY, &on, sizeof(on));
	if (err)
		return err;
	*pushed = 1;
	if (!(nonagle & TCP_NAGLE_OFF))
		err = bpf_setsockopt(tp, SOL_TCP, TCP_NODELAY, &off, sizeof(off));
	return err;
}

SEC("iter/tcp")
int mig_cc_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	char prev[TCP_CA_NAME_MAX] = {};
	struct mig_tuple t = {};
	struct mig_cc_arm *a;
	struct mig_cc_req *r;
	struct mig_flow *f;
	struct tcp_sock *tp;
	__u64 cookie;
	long err, back = 0;

	if (!skc || !cc_want_n || !cc_name[0])
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp || mig_skc_tuple(skc, &t))
		return 0;
	r = bpf_map_lookup_elem(&mig_cc_want, &t);
	if (!r)
		return 0;
	cookie = bpf_get_socket_cookie(tp);
	if (r->cookie && cookie != r->cookie)
		return 0;
	/* one socket per tuple; a second match (none expected) is counted
	 * and left alone */
	if (r->found++)
		return 0;
	/* restarted in its own sock_ops program since the agent looked */
	f = bpf_map_lookup_elem(&mig_flows, &t);
	if (f && f->cc_done == (__u16)f->migrations) {
		r->err = -EALREADY;
		/* (its send might have waited: the agent asks for the push) */
		if (r->push_req)
			r->push_err = push_unsent(tp, &r->pushed);
		return 0;
	}
	r->cwnd_before = tp->snd_cwnd;
	r->ssthresh_before = tp->snd_ssthresh;
	a = mig_cc_arm_get();
	if (!a) {
		r->err = -ENOENT;
		return 0;
	}
	err = mig_cc_switch(tp, a, cc_name, cookie, prev, &r->applied, &r->in_flight, &back);
	__builtin_memcpy(r->prev, prev, sizeof(prev));
	if (f && r->applied)
		f->cc_done = (__u16)f->migrations;
	if (err) {
		r->err = err;
		return 0;
	}
	r->back_err = back;
	r->cwnd_after = tp->snd_cwnd;
	r->ssthresh_after = tp->snd_ssthresh;
	r->push_err = push_unsent(tp, &r->pushed);
	return 0;
}

SEC("struct_ops/mig_cc_init")
void BPF_PROG(mig_cc_init, struct sock *sk)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u32 flight, lost, cwnd;
	struct mig_cc_arm *a = mig_cc_arm_get();

	/* any other socket (an operator may pick this algorithm): Reno
	 * from the state the kernel gave it */
	if (!a || !a->cookie || sk->__sk_common.skc_cookie.counter != (__s64)a->cookie)
		return;
	/*
	 * The new path gets the initial window of its own.  What the socket
	 * counts in flight now was sent on the old path (lost with it when the
	 * old link went down, or still arriving there): it occupies none of
	 * the new path, but the kernel sends only while in flight < cwnd.  A
	 * window of the initial one alone would send nothing new while that
	 * many segments are out, until a loss probe or timer (2 * srtt + 2
	 * jiffies at best) declares them lost; with it, new data goes at
	 * once, its SACKs mark the old segments lost (RACK) and fast
	 * recovery retransmits them within a round trip.  Slow start then
	 * grows from there as from the initial window.
	 */
	flight = tp->packets_out + tp->retrans_out;
	lost = tp->sacked_out + tp->lost_out;
	flight = flight > lost ? flight - lost : 0;
	cwnd = init_cwnd(tp) + flight;
	if (cwnd > tp->snd_cwnd_clamp)
		cwnd = tp->snd_cwnd_clamp;
	tp->snd_cwnd = cwnd;
	tp->snd_cwnd_cnt = 0;
	tp->snd_ssthresh = TCP_INFINITE_SSTHRESH;
	a->flight = flight;
	a->hit = 1;
}

SEC("struct_ops/mig_cc_ssthresh")
__u32 BPF_PROG(mig_cc_ssthresh, struct sock *sk)
{
	return tcp_reno_ssthresh(sk);
}

SEC("struct_ops/mig_cc_avoid")
void BPF_PROG(mig_cc_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
	tcp_reno_cong_avoid(sk, ack, acked);
}

SEC("struct_ops/mig_cc_undo")
__u32 BPF_PROG(mig_cc_undo, struct sock *sk)
{
	return tcp_reno_undo_cwnd(sk);
}

/* The name is a placeholder: the agent writes a name of its own before
 * load (names are global to the kernel, and each agent has its own). */
SEC(".struct_ops")
struct tcp_congestion_ops mig_cc_ops = {
	.init       = (void *)mig_cc_init,
	.ssthresh   = (void *)mig_cc_ssthresh,
	.cong_avoid = (void *)mig_cc_avoid,
	.undo_cwnd  = (void *)mig_cc_undo,
	.name       = MIG_CC_NAME_PLACEHOLDER,
};
