// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_iter - one struct mig_sockinfo per TCP socket of the reader's
 * network namespace (time-wait sockets too, with their tuple and state): what the agent needs to build a Migrate SYN (SND.UNA)
 * and to undo the retransmission backoff after a commit.  Read through an
 * iterator fd, only when the agent needs it: nothing per packet.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "migrate/mig_abi.h"
#include "lib/mig_sk.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("iter/tcp")
int mig_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct mig_sockinfo si = {};
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	/* time-wait sockets: their tuple and state only (a restarted agent
	 * keeps a closed flow's translation while one lives); request socks
	 * are skipped */
	if (!tp && !bpf_skc_to_tcp_timewait_sock(skc))
		return 0;
	if (mig_skc_tuple(skc, &si.tuple))
		return 0;
	si.state = skc->skc_state;
	if (!tp) {
		si.rcv_wscale = MIG_NO_WSCALE;
		bpf_seq_write(seq, &si, sizeof(si));
		return 0;
	}
	si.snd_una = tp->snd_una;
	si.snd_nxt = tp->snd_nxt;
	si.rcv_nxt = tp->rcv_nxt;
	si.backoff = tp->inet_conn.icsk_backoff;
	si.retransmits = tp->inet_conn.icsk_retransmits;
	{
		/* through a separate pointer: clang 14 otherwise computes the
		 * bitfield's CO-RE offset from tcp_sock and adds rx_opt's
		 * offset twice (verifier-visible miscompile, worked around) */
		struct tcp_options_received *ro = &tp->rx_opt;

		asm volatile("" : "+r"(ro));
		si.rcv_wscale = BPF_CORE_READ_BITFIELD_PROBED(ro, wscale_ok) ?
			BPF_CORE_READ_BITFIELD_PROBED(ro, rcv_wscale) : MIG_NO_WSCALE;
	}
	bpf_seq_write(seq, &si, sizeof(si));
	return 0;
}
