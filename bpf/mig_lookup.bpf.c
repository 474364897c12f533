// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_lookup - one TCP socket's record (struct mig_sockinfo, as mig_iter
 * writes it) by its tuple, through the kernel's own socket lookup: what
 * the agent needs to build a Migrate SYN or to resume a socket, without a
 * walk of the whole socket table (mig_iter: the established hash of every
 * network namespace, about a millisecond even when nearly empty).
 *
 * Never attached: the agent runs it with BPF_PROG_TEST_RUN (a dummy
 * packet; the kernel looks the socket up in the caller's network
 * namespace), after writing lk_tuple, and reads lk_found and lk_out.
 * Nothing per packet.  Only full sockets are reported: a time-wait one
 * (which may share its tuple with a new connection for a moment) and a
 * socket bound to a device (the lookup is made as if on lo) are not
 * found, and the agent then walks the table as before.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "migrate/mig_abi.h"
#include "lib/mig_sk.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define BPF_F_CURRENT_NETNS_ (-1)

/* Written by the agent before a run. */
struct mig_tuple lk_tuple;
/* Read by the agent after it: 1 found (lk_out is its record), 0 not. */
__u32 lk_found;
struct mig_sockinfo lk_out;

SEC("tc")
int mig_sk_lookup(struct __sk_buff *skb)
{
	struct bpf_sock_tuple bt = {};
	struct mig_tuple want = lk_tuple, got = {};
	struct mig_sockinfo *si = &lk_out;
	struct bpf_sock *sk;
	struct tcp_sock *tp;
	__u32 len;

	lk_found = 0;
	if (want.family == AF_INET) {
		bt.ipv4.saddr = want.raddr[0];
		bt.ipv4.daddr = want.laddr[0];
		bt.ipv4.sport = want.rport;
		bt.ipv4.dport = want.lport;
		len = sizeof(bt.ipv4);
	} else if (want.family == AF_INET6) {
		__builtin_memcpy(bt.ipv6.saddr, want.raddr, 16);
		__builtin_memcpy(bt.ipv6.daddr, want.laddr, 16);
		bt.ipv6.sport = want.rport;
		bt.ipv6.dport = want.lport;
		len = sizeof(bt.ipv6);
	} else {
		return 0;
	}
	sk = bpf_skc_lookup_tcp(skb, &bt, len, BPF_F_CURRENT_NETNS_, 0);
	if (!sk)
		return 0;
	tp = bpf_skc_to_tcp_sock(sk);
	if (tp) {
		/* (a listener answers a tuple no connection has) */
		if (mig_skc_tuple(&tp->inet_conn.icsk_inet.sk.__sk_common, &got) ||
		    !mig_tuple_eq(&got, &want))
			goto out;
		__builtin_memset(si, 0, sizeof(*si));
		si->tuple = got;
		si->state = tp->inet_conn.icsk_inet.sk.__sk_common.skc_state;
		si->snd_una = tp->snd_una;
		si->snd_nxt = tp->snd_nxt;
		si->rcv_nxt = tp->rcv_nxt;
		si->backoff = tp->inet_conn.icsk_backoff;
		si->retransmits = tp->inet_conn.icsk_retransmits;
		{
			/* as in mig_iter.bpf.c (clang 14's bitfield offsets) */
			struct tcp_options_received *ro = &tp->rx_opt;

			asm volatile("" : "+r"(ro));
			si->rcv_wscale = BPF_CORE_READ_BITFIELD_PROBED(ro, wscale_ok) ?
				BPF_CORE_READ_BITFIELD_PROBED(ro, rcv_wscale) : MIG_NO_WSCALE;
		}
		lk_found = 1;
		goto out;
	}
out:
	bpf_sk_release(sk);
	return 0;
}
