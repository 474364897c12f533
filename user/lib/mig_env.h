/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mig_env.h - checks of what the kernel and the mounts must offer, each
 * failing with one line that says what to do (written into err).
 */
#ifndef MIGRATE_MIG_ENV_H
#define MIGRATE_MIG_ENV_H

#include <stdbool.h>
#include <stddef.h>

#define MIG_BTF_PATH "/sys/kernel/btf/vmlinux"

/* 0 if the kernel exposes its BTF, else -errno. */
int mig_env_check_btf(char *err, size_t errlen);
/* Mount point of the first cgroup v2 hierarchy in /proc/mounts. */
int mig_env_find_cgroup2(char *out, size_t outlen, char *err, size_t errlen);
/* 0 if path is a directory of a cgroup v2 hierarchy. */
int mig_env_check_cgroup2(const char *path, char *err, size_t errlen);
/* 0 if the directory that holds pin_dir is on a BPF filesystem. */
int mig_env_check_bpffs(const char *pin_dir, char *err, size_t errlen);

/*
 * 0 if the kernel has the BPF helpers our programs call (the XDP
 * program's only when xdp), else -EOPNOTSUPP with the line naming the
 * Linux version needed.  Probes by loading tiny programs (root).
 */
int mig_env_check_kernel(bool xdp, char *err, size_t errlen);

#endif
