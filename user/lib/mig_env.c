// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <limits.h>
#include <mntent.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/magic.h>
#include <bpf/libbpf.h>

#include <migrate/mig_abi.h>
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

/* ---------------------------------------------------------------------- */
/* Network and mount namespaces */

static int ns_link(const char *pid, const char *ns, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/ns/%s", pid, ns);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int mig_env_netns_name(char *out, size_t outlen)
{
	struct stat self, st;
	struct dirent *e;
	char path[PATH_MAX];
	int ret = -ENOENT;
	DIR *d;

	if (stat("/proc/self/ns/net", &self))
		return -errno;
	d = opendir(MIG_NETNS_RUN_DIR);
	if (!d)
		return -ENOENT;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", MIG_NETNS_RUN_DIR, e->d_name) >=
		    (int)sizeof(path) || stat(path, &st))
			continue;
		if (st.st_dev != self.st_dev || st.st_ino != self.st_ino)
			continue;
		if (strlen(e->d_name) >= outlen) {
			ret = -ENAMETOOLONG;
			continue;
		}
		strcpy(out, e->d_name);
		ret = 0;
		break;
	}
	closedir(d);
	return ret;
}

int mig_env_default_pin_dir(char *out, size_t outlen)
{
	char name[NAME_MAX + 1], self[64], init[64];
	struct stat st;
	int n;

	if (!mig_env_netns_name(name, sizeof(name)))
		n = snprintf(out, outlen, "%s-%s", MIG_PIN_DIR_DEFAULT, name);
	else if (!ns_link("self", "net", self, sizeof(self)) &&
		 !ns_link("1", "net", init, sizeof(init)) && strcmp(self, init) &&
		 !stat("/proc/self/ns/net", &st))
		n = snprintf(out, outlen, "%s-net%llu", MIG_PIN_DIR_DEFAULT,
			     (unsigned long long)st.st_ino);
	else
		n = snprintf(out, outlen, "%s", MIG_PIN_DIR_DEFAULT);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

/*
 * The root of a mount namespace other than ours, through /proc: that of
 * pid 1 (the host's, unless we are in a container), else our parent's
 * (`ip netns exec` runs its command in a new mount namespace with a /sys
 * of its own, so /sys/fs/bpf and /sys/fs/cgroup are gone there; whoever
 * ran it still sees them).  i counts the candidates; 0 or -errno.
 */
static int other_root(int i, char *pid, size_t pidlen)
{
	char self[64], other[64];

	if (i == 0)
		snprintf(pid, pidlen, "1");
	else if (i == 1 && getppid() > 1)
		snprintf(pid, pidlen, "%d", (int)getppid());
	else
		return -ENOENT;
	if (ns_link("self", "mnt", self, sizeof(self)) ||
	    ns_link(pid, "mnt", other, sizeof(other)) || !strcmp(self, other))
		return -ENOENT;
	return 0;
}

static bool fs_is(const char *path, unsigned long magic)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && (unsigned long)sf.f_type == magic;
}

/* The network namespace `ip netns exec` ran us in: it mounts its /sys
 * with the namespace's name as the source (and that name under
 * /run/netns is our network namespace).  0 or -ENOENT. */
static int ip_netns_exec_name(char *out, size_t outlen)
{
	struct stat self, st;
	char path[PATH_MAX];
	struct mntent *m;
	int ret = -ENOENT;
	FILE *f;

	if (stat("/proc/self/ns/net", &self))
		return -ENOENT;
	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return -ENOENT;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_dir, "/sys") || strcmp(m->mnt_type, "sysfs"))
			continue;
		ret = -ENOENT;
		if (!strcmp(m->mnt_fsname, "sysfs") || strchr(m->mnt_fsname, '/') ||
		    strlen(m->mnt_fsname) >= outlen ||
		    snprintf(path, sizeof(path), "%s/%s", MIG_NETNS_RUN_DIR, m->mnt_fsname) >=
		    (int)sizeof(path) || stat(path, &st) ||
		    st.st_dev != self.st_dev || st.st_ino != self.st_ino)
			continue;
		strcpy(out, m->mnt_fsname);
		ret = 0;
	}
	endmntent(f);
	return ret;
}

static void parent_of(const char *pin_dir, char *parent)
{
	char *slash;

	strcpy(parent, pin_dir);
	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = '\0';
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else if (slash)
		slash[1] = '\0';
}

int mig_env_share_bpffs(const char *pin_dir, char *out, size_t outlen,
			char *note, size_t notelen, char *err, size_t errlen)
{
	char parent[PATH_MAX], src[PATH_MAX + 64], pid[16], ns[NAME_MAX + 1];
	int i, fd;

	note[0] = '\0';
	if (snprintf(out, outlen, "%s", pin_dir) >= (int)outlen) {
		snprintf(err, errlen, "pin directory '%s': name too long", pin_dir);
		return -ENAMETOOLONG;
	}
	if (strlen(pin_dir) >= sizeof(parent)) {
		snprintf(err, errlen, "pin directory '%s': name too long", pin_dir);
		return -ENAMETOOLONG;
	}
	parent_of(pin_dir, parent);
	if (fs_is(parent, BPF_FS_MAGIC))
		return 0;
	/* Elsewhere, a missing bpffs is the administrator's to mount. */
	if (ip_netns_exec_name(ns, sizeof(ns))) {
		snprintf(err, errlen,
			 "'%s' is not on a BPF filesystem: mount one with 'mount -t bpf bpf /sys/fs/bpf' in the host's mount namespace, or pass --pin-dir on one (in a container: give it the host's, e.g. '-v /sys/fs/bpf:/sys/fs/bpf'; one mounted only inside a container or 'unshare -m' is seen by nothing outside it)",
			 parent);
		return -ENOTDIR;
	}
	/* `ip netns exec` gave us a mount namespace whose fresh /sys has no
	 * BPF filesystem: the pins belong in the one the host's agents and
	 * tools use.  A new bpffs mount would be a new, empty instance that
	 * dies with this namespace and that nothing outside it sees; a bind
	 * mount of the shared one is the same filesystem. */
	for (i = 0; i < 2; i++) {
		if (other_root(i, pid, sizeof(pid)))
			continue;
		snprintf(src, sizeof(src), "/proc/%s/root%s", pid, parent);
		if (!fs_is(src, BPF_FS_MAGIC))
			continue;
		/* (a bind mount from another mount namespace is refused:
		 * hold the directory open and go through the descriptor,
		 * which outlives the process it was found through) */
		fd = open(src, O_PATH | O_DIRECTORY);
		if (fd < 0)
			continue;
		if (snprintf(out, outlen, "/proc/self/fd/%d%s", fd, pin_dir + strlen(parent)) >=
		    (int)outlen) {
			close(fd);
			snprintf(err, errlen, "pin directory '%s': name too long", pin_dir);
			return -ENAMETOOLONG;
		}
		snprintf(note, notelen,
			 "'ip netns exec %s' left '%s' without a BPF filesystem: using the host's, found at '%s'",
			 ns, parent, src);
		return 0;
	}
	snprintf(err, errlen,
		 "'%s' is not on a BPF filesystem: 'ip netns exec %s' gave this process a /sys of its own and the host's BPF filesystem is out of reach from here; run it in the network namespace only, with the host's mounts: 'nsenter --net=%s/%s -- COMMAND' (a BPF filesystem mounted in here would be a new, empty one that nothing outside sees)",
		 parent, ns, MIG_NETNS_RUN_DIR, ns);
	return -ENOTDIR;
}

int mig_env_cgroup(char *path, size_t len, char *note, size_t notelen,
		   char *err, size_t errlen)
{
	char pid[16], src[PATH_MAX + 64], mounts[64], ns[NAME_MAX + 1];
	struct mntent *m;
	FILE *f;
	int i, e;

	note[0] = '\0';
	if (*path) {
		e = mig_env_check_cgroup2(path, err, errlen);
		if (!e || path[0] != '/' || ip_netns_exec_name(ns, sizeof(ns)))
			return e;
		for (i = 0; i < 2; i++) {
			if (other_root(i, pid, sizeof(pid)))
				continue;
			if (snprintf(src, sizeof(src), "/proc/%s/root%s", pid, path) >=
			    (int)len || !fs_is(src, CGROUP2_SUPER_MAGIC))
				continue;
			snprintf(note, notelen,
				 "cgroup '%s' is not in this mount namespace: using it through '%s'",
				 path, src);
			strcpy(path, src);
			return 0;
		}
		return e;
	}
	e = mig_env_find_cgroup2(path, len, err, errlen);
	if (!e)
		return mig_env_check_cgroup2(path, err, errlen);
	if (ip_netns_exec_name(ns, sizeof(ns)))
		return e;
	for (i = 0; i < 2; i++) {
		if (other_root(i, pid, sizeof(pid)))
			continue;
		snprintf(mounts, sizeof(mounts), "/proc/%s/mounts", pid);
		f = setmntent(mounts, "r");
		if (!f)
			continue;
		while ((m = getmntent(f))) {
			if (strcmp(m->mnt_type, "cgroup2"))
				continue;
			if (snprintf(src, sizeof(src), "/proc/%s/root%s", pid, m->mnt_dir) <
			    (int)len && fs_is(src, CGROUP2_SUPER_MAGIC)) {
				strcpy(path, src);
				snprintf(note, notelen,
					 "no cgroup v2 hierarchy in this mount namespace: serving the root of the shared one, '%s'",
					 src);
				endmntent(f);
				return 0;
			}
			break;
		}
		endmntent(f);
	}
	return e;
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
