// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fill.c - "migratectl show maps": how full each map of connection state
 * is (entries against max_entries).  The maps that hold live connections
 * are never evicted (docs/protocol.md, rule 2); when one is full, new
 * connections stay plain and the counters map_full, candidate_map_full and
 * xlate_map_full say so.  Counting walks the keys: a moment's view.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ctl.h"

const char *const ctl_fill_maps[] = {
	MIG_MAP_FLOWS, MIG_MAP_TOKENS, MIG_MAP_INGRESS, MIG_MAP_EGRESS,
	MIG_MAP_CAND, MIG_MAP_PEND, MIG_MAP_HOLD, MIG_MAP_REQS, MIG_MAP_KEPT,
};
_Static_assert(sizeof(ctl_fill_maps) / sizeof(ctl_fill_maps[0]) == CTL_N_FILL,
	       "CTL_N_FILL");

int ctl_map_fill(const char *name, struct ctl_fill *f)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	void *key = NULL, *next = NULL;
	int fd, err = 0;

	memset(f, 0, sizeof(*f));
	snprintf(path, sizeof(path), "%s/%s", ctl.pin_dir, name);
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0) {
		if (errno == ENOENT) {
			f->missing = true;
			return 0;
		}
		err = -errno;
		ctl_err("cannot open '%s': %s", path, strerror(errno));
		return err;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		ctl_err("cannot read '%s': %s", path, strerror(errno));
		goto out;
	}
	f->max = info.max_entries;
	key = calloc(1, info.key_size);
	next = calloc(1, info.key_size);
	if (!key || !next) {
		err = -ENOMEM;
		ctl_err("out of memory");
		goto out;
	}
	if (!bpf_map_get_next_key(fd, NULL, next)) {
		do {
			f->entries++;
			memcpy(key, next, info.key_size);
		} while (!bpf_map_get_next_key(fd, key, next) && f->entries < UINT_MAX);
	}
out:
	free(key);
	free(next);
	close(fd);
	return err;
}

/* The translation filter (mig_xf): its slots that count something (their
 * segments look their flow up), and whether a bias (an upgrade over a
 * build without it) makes them all do.  0, 1 when not pinned, -errno
 * (said). */
static int xf_fill(__u32 *slots, bool *biased)
{
	LIBBPF_OPTS(bpf_obj_get_opts, opts, .file_flags = BPF_F_RDONLY);
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	static __u32 keys[MIG_XF_SLOTS + 1];
	static __u64 v[MIG_XF_SLOTS + 1];
	__u32 n = MIG_XF_SLOTS + 1, i, out = 0;
	char path[PATH_MAX];
	int fd, err = 0;

	*slots = 0;
	*biased = false;
	snprintf(path, sizeof(path), "%s/%s", ctl.pin_dir, MIG_MAP_XF);
	fd = bpf_obj_get_opts(path, &opts);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		ctl_err("cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	/* (read-only: one batch for the whole array) */
	if (bpf_map_lookup_batch(fd, NULL, &out, keys, v, &n, &bo) && errno != ENOENT) {
		err = -errno;
		ctl_err("cannot read '%s': %s", path, strerror(errno));
	} else if (n != MIG_XF_SLOTS + 1) {
		err = -EPROTO;
		ctl_err("'%s' holds %u entries, %u expected", path, n, MIG_XF_SLOTS + 1);
	} else {
		for (i = 0; i < n; i++) {
			if (keys[i] >= MIG_XF_SLOTS)
				continue;   /* the stamp */
			*slots += v[i] != 0;
			if (!keys[i])
				*biased = v[i] >= MIG_XF_BIAS;
		}
	}
	close(fd);
	return err;
}

int cmd_maps(int argc, char **argv)
{
	struct ctl_fill f[CTL_N_FILL];
	bool biased;
	__u32 slots;
	struct json j;
	size_t i;
	int xf;

	if (argc > 1)
		return ctl_unexpected(argv[0], argv[1]);
	if (ctl_check_agent())
		return EXIT_FAILURE;
	for (i = 0; i < CTL_N_FILL; i++)
		if (ctl_map_fill(ctl_fill_maps[i], &f[i]))
			return EXIT_FAILURE;
	xf = xf_fill(&slots, &biased);
	if (xf < 0)
		return EXIT_FAILURE;
	if (ctl.json) {
		ctl_json_begin(&j);
		json_object_start(&j);
		json_name(&j, "maps");
		json_object_start(&j);
		for (i = 0; i < CTL_N_FILL; i++) {
			if (f[i].missing)
				continue;
			json_name(&j, ctl_fill_maps[i]);
			json_object_start(&j);
			json_uint_field(&j, "entries", f[i].entries);
			json_uint_field(&j, "max", f[i].max);
			json_object_end(&j);
		}
		json_object_end(&j);
		if (!xf) {
			json_name(&j, "filter");
			json_object_start(&j);
			json_uint_field(&j, "slots_used", slots);
			json_uint_field(&j, "slots", MIG_XF_SLOTS);
			json_name(&j, "biased");
			json_bool(&j, biased);
			json_object_end(&j);
		}
		json_object_end(&j);
		json_finish(&j);
		return EXIT_SUCCESS;
	}
	for (i = 0; i < CTL_N_FILL; i++) {
		if (f[i].missing)
			continue;
		printf("%-12s  %10u of %10u  %5.1f%%\n", ctl_fill_maps[i], f[i].entries, f[i].max,
		       f[i].max ? 100.0 * f[i].entries / f[i].max : 0.0);
	}
	if (!xf)
		printf("%-12s  %10u of %10u  %5.1f%%  slots whose segments look their flow up%s\n",
		       MIG_MAP_XF, slots, MIG_XF_SLOTS, 100.0 * slots / MIG_XF_SLOTS,
		       biased ? "; biased: every segment looks up (maps kept over a build "
				"without the filter; --detach, then start)" : "");
	return EXIT_SUCCESS;
}
