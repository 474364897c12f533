/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_dp_open.h - which build of the data path this kernel takes, and
 * opening it (the agent, the BPF tests and benchmarks).
 *
 * bpf/mig_dp.bpf.c is built twice.  mig_dp asks the kernel's checksum
 * helpers to update a translated segment's TCP checksum under TC, since a
 * TC program on Linux 6.1 cannot read the skb's checksum state; mig_dp_kc
 * (MIG_TC_KCTX) reads it (bpf_cast_to_kern_ctx, Linux 6.2 on) and writes
 * the field itself, calling a helper only for CHECKSUM_COMPLETE: one to
 * three helper calls fewer per translated segment.  Both have the same
 * maps, programs and globals, so mig_dp_kc opens into a struct mig_dp.
 *
 * MIGRATE_DP_TC_CSUM in the environment: "helpers" takes mig_dp whatever
 * the kernel, "skb" takes mig_dp_kc without the probe (its load then
 * fails where the kernel refuses it), anything else or nothing: probed.
 */
#ifndef MIGRATE_MIG_DP_OPEN_H
#define MIGRATE_MIG_DP_OPEN_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "mig_dp.skel.h"
#include "mig_dp_kc.skel.h"

/*
 * Whether this kernel loads mig_dp_kc's reading of the checksum state: a
 * TC program that does just that (bpf_cast_to_kern_ctx on its context,
 * one byte of struct sk_buff around ip_summed read through the result)
 * is loaded and closed.  1: yes; 0: no, and why (a line for the log).
 */
static inline int mig_dp_kctx_probe(char *why, size_t n)
{
	const struct btf_member *mb;
	const struct btf_type *t;
	struct btf *vm;
	int kf, sk, fd, i;
	__u32 off = 0;
	bool found = false;

	vm = btf__load_vmlinux_btf();
	if (!vm) {
		snprintf(why, n, "no kernel BTF (%s)", strerror(errno));
		return 0;
	}
	kf = btf__find_by_name_kind(vm, "bpf_cast_to_kern_ctx", BTF_KIND_FUNC);
	sk = btf__find_by_name_kind(vm, "sk_buff", BTF_KIND_STRUCT);
	if (kf <= 0 || sk <= 0) {
		snprintf(why, n, "the kernel has no %s",
			 kf <= 0 ? "bpf_cast_to_kern_ctx (Linux 6.2 on)" : "struct sk_buff in its BTF");
		btf__free(vm);
		return 0;
	}
	/* ip_summed: a bitfield inside an anonymous union or struct of
	 * struct sk_buff; the byte that holds it */
	{
		int stack[8], depth = 0;
		__u32 base[8];

		stack[depth] = sk;
		base[depth++] = 0;
		while (depth && !found) {
			int id = stack[--depth];
			__u32 b = base[depth];

			t = btf__type_by_id(vm, id);
			if (!t || (!btf_is_struct(t) && !btf_is_union(t)))
				continue;
			mb = btf_members(t);
			for (i = 0; i < btf_vlen(t) && !found; i++, mb++) {
				const char *name = btf__name_by_offset(vm, mb->name_off);
				__u32 bit = b + btf_member_bit_offset(t, i);

				if (name && !strcmp(name, "ip_summed")) {
					off = bit / 8;
					found = (bit % 8) + btf_member_bitfield_size(t, i) <= 8;
				} else if ((!name || !*name) && depth < 8) {
					stack[depth] = (int)btf__resolve_type(vm, mb->type);
					base[depth++] = bit;
				}
			}
		}
	}
	btf__free(vm);
	if (!found) {
		snprintf(why, n, "struct sk_buff of this kernel has no ip_summed in one byte");
		return 0;
	}
	{
		const struct bpf_insn insns[] = {
			/* r0 = bpf_cast_to_kern_ctx(r1) */
			{ .code = BPF_JMP | BPF_CALL, .src_reg = BPF_PSEUDO_KFUNC_CALL, .imm = kf },
			/* r0 = *(u8 *)(r0 + off) */
			{ .code = BPF_LDX | BPF_MEM | BPF_B, .dst_reg = BPF_REG_0,
			  .src_reg = BPF_REG_0, .off = (__s16)off },
			{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
			{ .code = BPF_JMP | BPF_EXIT },
		};

		if (off > 0x7fff) {
			snprintf(why, n, "ip_summed lies beyond what a load can reach");
			return 0;
		}
		fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "mig_kctx_probe", "GPL", insns,
				   sizeof(insns) / sizeof(insns[0]), NULL);
		if (fd < 0) {
			snprintf(why, n, "the kernel refuses a TC program that reads its skb (%s)",
				 strerror(errno));
			return 0;
		}
		close(fd);
	}
	return 1;
}

/* Which build to open: true for mig_dp_kc (see the top); why says why
 * not, when not. */
static inline bool mig_dp_want_kctx(char *why, size_t n)
{
	const char *e = getenv("MIGRATE_DP_TC_CSUM");

	if (e && !strcmp(e, "helpers")) {
		snprintf(why, n, "MIGRATE_DP_TC_CSUM=helpers");
		return false;
	}
	if (e && !strcmp(e, "skb"))
		return true;
	return mig_dp_kctx_probe(why, n) == 1;
}

/* mig_dp opened from the build asked for (nothing loaded); NULL and errno
 * on failure, as mig_dp__open. */
static inline struct mig_dp *mig_dp_open_build(bool kctx)
{
	struct mig_dp *obj;
	int err;

	if (!kctx)
		return mig_dp__open();
	obj = (struct mig_dp *)calloc(1, sizeof(*obj));
	if (!obj) {
		errno = ENOMEM;
		return NULL;
	}
	err = mig_dp__create_skeleton(obj);
	if (!err) {
		size_t sz = 0;

		obj->skeleton->data = (void *)mig_dp_kc__elf_bytes(&sz);
		obj->skeleton->data_sz = sz;
		err = bpf_object__open_skeleton(obj->skeleton, NULL);
	}
	if (err) {
		mig_dp__destroy(obj);
		errno = -err;
		return NULL;
	}
	return obj;
}

#endif
