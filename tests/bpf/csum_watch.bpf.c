// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * csum_watch.bpf.c - a test-only tracer for tests/integration/
 * test_csum_complete.sh: how many CHECKSUM_COMPLETE packets the lab's
 * hosts receive, and how many of their TCP data segments reach TCP with
 * skb->csum matching the packet, or not.
 *
 * TCP checks a CHECKSUM_COMPLETE segment by adding the pseudo-header sum
 * to skb->csum (__skb_checksum_validate_complete); when that does not
 * fold to zero it sums the segment again in software, with the skb still
 * marked CHECKSUM_COMPLETE: on a NIC's sum that is "hw csum failure"; on a
 * sum the kernel made itself (csum_complete_sw, as after a UDP tunnel's
 * checksum) it is silent, and only this tracer sees it.  A translation
 * must never cause it.
 *
 * Raw tracepoints (tp_btf) only: fentry, LSM and kprobe programs are not
 * available on every kernel this runs on (the 6.18 test machine refuses
 * them), and there is no tracepoint between TC ingress and TCP's check,
 * so the check is read from its outcome (csum_valid) at tcp_probe.
 *
 * Counted per namespace (the netns inode numbers the loader, csum_watch,
 * writes into watch_ns); packets of other namespaces are not counted.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define CSUM_COMPLETE 2        /* CHECKSUM_COMPLETE */
#define WATCH_SLOTS 4

/* counters of one namespace, index W_NCOUNT * slot + one of these */
enum {
	W_RX4,                 /* CHECKSUM_COMPLETE IPv4 packets received */
	W_RX6,                 /* ... IPv6 */
	W_OK4,                 /* ... IPv4 data segments whose skb->csum matched */
	W_OK6,                 /* ... IPv6 */
	W_BAD4,                /* ... IPv4 data segments whose skb->csum did not */
	W_BAD6,                /* ... IPv6 */
	W_LATE4,               /* ... IPv4 data segments that came through the
	                        * socket's backlog: not known */
	W_LATE6,               /* ... IPv6 */
	W_NCOUNT,
};

/* slot -> netns inode number (0: unused) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WATCH_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} watch_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WATCH_SLOTS * W_NCOUNT);
	__type(key, __u32);
	__type(value, __u64);
} watch_counts SEC(".maps");

static __always_inline int slot_of_ns(__u32 inum)
{
	__u32 i, *v;

	if (!inum)
		return -1;
	for (i = 0; i < WATCH_SLOTS; i++) {
		v = bpf_map_lookup_elem(&watch_ns, &i);
		if (v && *v == inum)
			return i;
	}
	return -1;
}

static __always_inline void count(int slot, __u32 what)
{
	__u32 k = slot * W_NCOUNT + what;
	__u64 *v = bpf_map_lookup_elem(&watch_counts, &k);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* count a CHECKSUM_COMPLETE skb of namespace inum */
static __always_inline void seen(struct sk_buff *skb, __u32 inum, __u32 what)
{
	int slot;

	if (BPF_CORE_READ_BITFIELD_PROBED(skb, ip_summed) != CSUM_COMPLETE)
		return;
	slot = slot_of_ns(inum);
	if (slot >= 0)
		count(slot, what);
}

/* every packet a device of the namespaces receives, before TC ingress:
 * whether CHECKSUM_COMPLETE packets come at all */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(w_rx, struct sk_buff *skb)
{
	__u16 proto = BPF_CORE_READ(skb, protocol);
	__u32 inum = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);

	if (proto == bpf_htons(0x0800))
		seen(skb, inum, W_RX4);
	else if (proto == bpf_htons(0x86DD))
		seen(skb, inum, W_RX6);
	return 0;
}

/*
 * A segment of an established connection, at tcp_rcv_established.  If it
 * came straight from tcp_v4_rcv/tcp_v6_rcv (the socket was not busy), TCP
 * has just compared it with skb->csum (__skb_checksum_validate_complete):
 * on a match csum_valid is set; on a mismatch skb->csum is replaced by the
 * pseudo-header sum, csum_valid stays clear and the segment is summed
 * again in software later.  If the socket was busy, the segment went
 * through its backlog, which sums a mismatched one again before it queues
 * it (tcp_add_backlog), and comes here with the socket owned by the
 * process that releases it: such a segment tells nothing and is counted
 * apart.  A wrong skb->csum from the translation is wrong for every
 * segment of a flow, so the direct ones show it.
 */
SEC("tp_btf/tcp_probe")
int BPF_PROG(w_tcp, struct sock *sk, struct sk_buff *skb)
{
	/* skb->dev is no longer set here: the socket's namespace */
	__u32 inum = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	bool v6 = BPF_CORE_READ(skb, protocol) == bpf_htons(0x86DD);

	/* data segments only: a shorter one (CHECKSUM_BREAK, 76 bytes) is
	 * summed again at once on a mismatch and then looks matched */
	if (BPF_CORE_READ(skb, len) <= 76)
		return 0;
	if (BPF_CORE_READ(sk, sk_lock.owned))
		seen(skb, inum, v6 ? W_LATE6 : W_LATE4);
	else if (BPF_CORE_READ_BITFIELD_PROBED(skb, csum_valid))
		seen(skb, inum, v6 ? W_OK6 : W_OK4);
	else
		seen(skb, inum, v6 ? W_BAD6 : W_BAD4);
	return 0;
}
