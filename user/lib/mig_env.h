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

#define MIG_NETNS_RUN_DIR "/run/netns"

/* The name of this network namespace under /run/netns, or -ENOENT. */
int mig_env_netns_name(char *out, size_t outlen);
/* The default pin directory here: MIG_PIN_DIR_DEFAULT in the host's
 * network namespace, MIG_PIN_DIR_DEFAULT-NAME in one named NAME under
 * /run/netns, MIG_PIN_DIR_DEFAULT-netINODE in another that pid 1 is not
 * in; one agent per namespace, each with pins of its own. */
int mig_env_default_pin_dir(char *out, size_t outlen);
/* 0 if the directory that holds pin_dir is on a BPF filesystem; out is
 * then the path to use for pin_dir.  Under `ip netns exec`, whose fresh
 * /sys has none, that is the host's (pid 1's or our parent's mount
 * namespace's), held open and reached as /proc/self/fd/N/...; note then
 * says so.  Else -errno and err says what to do. */
int mig_env_share_bpffs(const char *pin_dir, char *out, size_t outlen,
			char *note, size_t notelen, char *err, size_t errlen);
/* A usable cgroup v2 directory in path (len bytes): the given one, the
 * root of the first cgroup v2 mount if path is empty, and when this mount
 * namespace has neither, the same seen through another mount namespace
 * (/proc/PID/root/...; note then says so).  0 or -errno (err says). */
int mig_env_cgroup(char *path, size_t len, char *note, size_t notelen,
		   char *err, size_t errlen);

/*
 * 0 if the kernel has the BPF helpers our programs call (the XDP
 * program's only when xdp), else -EOPNOTSUPP with the line naming the
 * Linux version needed.  Probes by loading tiny programs (root).
 */
int mig_env_check_kernel(bool xdp, char *err, size_t errlen);

#endif
