// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>

#include "mig_env.h"

int mig_env_check_btf(char *err, size_t errlen)
{
	if (access(MIG_BTF_PATH, R_OK) == 0)
		return 0;
	snprintf(err, errlen,
		 "this kernel exposes no BTF (%s: %s): migrate needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
		 MIG_BTF_PATH, strerror(errno));
	return -ENOENT;
}

int mig_env_find_cgroup2(char *out, size_t outlen, char *err, size_t errlen)
{
	struct mntent *m;
	FILE *f;
	int ret = -ENOENT;

	f = setmntent("/proc/mounts", "r");
	if (!f) {
		snprintf(err, errlen, "cannot read /proc/mounts: %s", strerror(errno));
		return -errno;
	}
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		if (strlen(m->mnt_dir) >= outlen) {
			ret = -ENAMETOOLONG;
			break;
		}
		strcpy(out, m->mnt_dir);
		ret = 0;
		break;
	}
	endmntent(f);
	if (ret)
		snprintf(err, errlen,
			 "no cgroup v2 hierarchy is mounted (none in /proc/mounts): mount one with 'mount -t cgroup2 none /sys/fs/cgroup' or pass --cgroup PATH");
	return ret;
}

int mig_env_check_cgroup2(const char *path, char *err, size_t errlen)
{
	struct statfs sf;

	if (statfs(path, &sf)) {
		snprintf(err, errlen, "cgroup '%s': %s", path, strerror(errno));
		return -errno;
	}
	if ((unsigned long)sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(err, errlen,
			 "'%s' is not a cgroup v2 directory: pass the path of one with --cgroup (see /proc/mounts)",
			 path);
		return -EINVAL;
	}
	return 0;
}

int mig_env_check_bpffs(const char *pin_dir, char *err, size_t errlen)
{
	char parent[PATH_MAX];
	struct statfs sf;
	char *slash;

	if (strlen(pin_dir) >= sizeof(parent)) {
		snprintf(err, errlen, "pin directory '%s': name too long", pin_dir);
		return -ENAMETOOLONG;
	}
	strcpy(parent, pin_dir);
	/* the pin dir itself may not exist yet: check what holds it */
	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = '\0';
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
	if (statfs(parent, &sf) == 0 && (unsigned long)sf.f_type == BPF_FS_MAGIC)
		return 0;
	snprintf(err, errlen,
		 "'%s' is not on a BPF filesystem: mount one with 'mount -t bpf bpf /sys/fs/bpf' or pass --pin-dir on one",
		 parent);
	return -ENOTDIR;
}

/* The newest helper each program type calls, and the Linux release that
 * brought it: the first one missing names the kernel needed. */
static const struct {
	enum bpf_prog_type type;
	enum bpf_func_id helper;
	const char *name, *what, *kernel;
	bool xdp_only;
} needs[] = {
	{ BPF_PROG_TYPE_SOCK_OPS, BPF_FUNC_loop, "bpf_loop", "the sock_ops program",
	  "5.17", false },
	{ BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skc_to_tcp_sock, "bpf_skc_to_tcp_sock",
	  "the TC programs", "5.9", false },
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_xdp_load_bytes, "bpf_xdp_load_bytes",
	  "the XDP program (--xdp)", "5.18", true },
};

int mig_env_check_kernel(bool xdp, char *err, size_t errlen)
{
	struct utsname u;
	size_t i;
	int r;

	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	for (i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		if (needs[i].xdp_only && !xdp)
			continue;
		r = libbpf_probe_bpf_helper(needs[i].type, needs[i].helper, NULL);
		if (r > 0)
			continue;
		if (r < 0) {
			/* the probe itself failed (no privilege, no memory):
			 * the load says more */
			continue;
		}
		snprintf(err, errlen,
			 "this kernel (Linux %s) lacks %s, which %s calls: it needs Linux %s or newer%s",
			 u.release, needs[i].name, needs[i].what, needs[i].kernel,
			 needs[i].xdp_only ? "; without --xdp the ingress runs on TC" : "");
		return -EOPNOTSUPP;
	}
	return 0;
}
