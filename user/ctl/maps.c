// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * maps.c - read-only access to the agent's pinned maps and the check that
 * they were made by an agent of our ABI version.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "ctl.h"

static const char *map_type_name(enum bpf_map_type type)
{
	switch (type) {
	case BPF_MAP_TYPE_ARRAY:        return "array";
	case BPF_MAP_TYPE_PERCPU_ARRAY: return "percpu_array";
	case BPF_MAP_TYPE_LRU_HASH:     return "lru_hash";
	case BPF_MAP_TYPE_HASH:         return "hash";
	default:                        return "other";
	}
}

static void no_agent_err(void)
{
	if (ctl.env_err) {
		ctl_err("no migrate agent state in '%s': %s", ctl.pin_name, ctl.env_err);
		return;
	}
	ctl_err("no migrate agent state in '%s': is migrate-agent running? (see --pin-dir)",
		ctl.pin_name);
}

static bool on_bpffs(const char *path)
{
	struct statfs sfs;

	return !statfs(path, &sfs) && sfs.f_type == BPF_FS_MAGIC;
}

/* Open <pin_dir>/<name> read-only and fetch its info: fd or -errno. */
static int map_get(const char *name, struct bpf_map_info *info)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	__u32 len = sizeof(*info);
	char path[PATH_MAX];
	int fd, err;

	if (snprintf(path, sizeof(path), "%s/%s", ctl.pin_dir, name) >= (int)sizeof(path)) {
		ctl_err("pin directory name too long: '%s'", ctl.pin_name);
		return -ENAMETOOLONG;
	}
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0) {
		err = -errno;
		ctl_debug("bpf_obj_get '%s': %s", path, strerror(-err));
		if (err == -ENOENT)
			return err;   /* the caller words this one */
		if (ctl.env_err)
			ctl_err("cannot open '%s': %s", path, ctl.env_err);
		else if (!on_bpffs(path))
			/* the kernel answers EACCES or EINVAL for these */
			ctl_err("cannot open '%s': not on a bpffs (is --pin-dir '%s' right?)",
				path, ctl.pin_name);
		else if (err == -EINVAL)   /* a read-only open refuses progs and links */
			ctl_err("cannot open '%s': %s (not a map?)", path, strerror(-err));
		else if (err == -EPERM || err == -EACCES)
			ctl_err("cannot open '%s': %s (migratectl needs root or CAP_BPF)",
				path, strerror(-err));
		else
			ctl_err("cannot open '%s': %s", path, strerror(-err));
		return err;
	}
	memset(info, 0, sizeof(*info));
	if (bpf_obj_get_info_by_fd(fd, info, &len)) {
		err = -errno;
		ctl_err("cannot read '%s': %s", path, strerror(-err));
		close(fd);
		return err;
	}
	ctl_debug("opened '%s': fd %d, %s, key %u, value %u, max_entries %u",
		  path, fd, map_type_name(info->type), info->key_size,
		  info->value_size, info->max_entries);
	return fd;
}

int ctl_map_open(const char *name, enum bpf_map_type type, __u32 key_size,
		 __u32 value_size, struct bpf_map_info *info)
{
	struct bpf_map_info tmp;
	int fd;

	if (!info)
		info = &tmp;
	fd = map_get(name, info);
	if (fd == -ENOENT) {
		ctl_err("cannot open '%s/%s': %s (agent state incomplete: restart migrate-agent)",
			ctl.pin_name, name, strerror(ENOENT));
		return fd;
	}
	if (fd < 0)
		return fd;
	if (info->type != type || info->key_size != key_size ||
	    info->value_size != value_size) {
		ctl_err("'%s/%s' is a %s map with key %u and value %u bytes, expected %s with %u and %u: agent and migratectl differ",
			ctl.pin_name, name, map_type_name(info->type),
			info->key_size, info->value_size,
			map_type_name(type), key_size, value_size);
		close(fd);
		return -EPROTO;
	}
	return fd;
}

int ctl_check_agent(void)
{
	struct bpf_map_info info;
	struct mig_meta *meta = NULL;
	__u32 key = 0;
	int fd, err;

	fd = map_get(MIG_MAP_META, &info);
	if (fd == -ENOENT) {
		no_agent_err();
		return fd;
	}
	if (fd < 0)
		return fd;

	/* The version comes first in every layout of mig_meta, so read the
	 * value at whatever size the map has before checking that size:
	 * another version then reads as a version mismatch. */
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(key) ||
	    info.value_size < sizeof(meta->abi_version)) {
		ctl_err("'%s/%s' is not a migrate meta map: agent and migratectl differ",
			ctl.pin_name, MIG_MAP_META);
		err = -EPROTO;
		goto out;
	}
	meta = calloc(1, info.value_size < sizeof(*meta) ? sizeof(*meta) : info.value_size);
	if (!meta) {
		err = -ENOMEM;
		ctl_err("out of memory");
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &key, meta)) {
		err = -errno;
		ctl_err("cannot read '%s/%s': %s", ctl.pin_name, MIG_MAP_META,
			strerror(-err));
		goto out;
	}
	if (meta->abi_version == 0) {
		/* Array values start zeroed: the agent pinned its maps but
		 * has not written mig_meta yet, or died doing so. */
		ctl_err("migrate agent state in '%s' is not initialized: is migrate-agent starting?",
			ctl.pin_name);
		err = -EAGAIN;
		goto out;
	}
	if (meta->abi_version != MIG_ABI_VERSION) {
		ctl_err("'%s' holds state of ABI version %u, this migratectl reads version %d: use the migratectl that came with the running agent",
			ctl.pin_name, meta->abi_version, MIG_ABI_VERSION);
		err = -EPROTO;
		goto out;
	}
	if (info.value_size != sizeof(*meta)) {
		ctl_err("'%s/%s' has values of %u bytes, expected %zu: agent and migratectl differ",
			ctl.pin_name, MIG_MAP_META, info.value_size, sizeof(*meta));
		err = -EPROTO;
		goto out;
	}
	ctl_debug("agent pid %llu, ABI version %u", (unsigned long long)meta->agent_pid,
		  meta->abi_version);
	err = 0;
out:
	free(meta);
	close(fd);
	return err;
}
