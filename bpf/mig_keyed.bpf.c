// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_keyed - the "keyed" events the ring buffer had no room for.
 *
 * sock_ops reports a socket whose key agreement it finished with one
 * MIG_EV_KEYED event; when the ring buffer is full (a burst of new
 * connections while the agent is busy), the event is lost and, without
 * this, the connection would stay plain at this end while the peer holds
 * it keyed: a migration of the peer then meets a RST.  sock_ops marks such
 * a socket (mig_sk.lost).  The agent, seeing events_lost grow, walks the
 * sockets of its network namespace with this iterator, which writes the
 * event sock_ops could not, as sock_ops would have written it, for every
 * marked socket and clears the mark.  Read through an iterator fd only
 * then: nothing per packet, nothing per connection.
 *
 * mig_sk is sock_ops' socket storage: the agent hands this object the
 * same map (bpf_map__reuse_fd) before loading it.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "migrate/mig_abi.h"
#include "lib/mig_sk.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct mig_sk);
} mig_sk SEC(".maps");

SEC("iter/tcp")
int mig_keyed_iter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct seq_file *seq = ctx->meta->seq;
	struct mig_event ev = {};
	struct tcp_sock *tp;
	struct mig_sk *st;

	if (!skc)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	st = bpf_sk_storage_get(&mig_sk, tp, NULL, 0);
	if (!st || !st->lost)
		return 0;
	if (mig_skc_tuple(skc, &ev.tuple))
		return 0;
	ev.type = MIG_EV_KEYED;
	ev.key_id = st->key_id;
	ev.state = skc->skc_state;
	ev.cookie = bpf_get_socket_cookie(tp);
	ev.role = st->role;
	ev.isn_i = st->isn_i;
	ev.isn_r = st->isn_r;
	__builtin_memcpy(ev.peer_pub, st->peer_pub, MIG_PUB_LEN);
	if (bpf_seq_write(seq, &ev, sizeof(ev)))
		return 0;   /* not written: found again by the next walk */
	st->lost = 0;
	return 0;
}
