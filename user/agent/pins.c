// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What is pinned under the pin directory, checked before any of it is
 * reused: the ABI version in mig_meta and the layout of every pinned map
 * (type, key and value size, entries, flags) against what this build
 * makes.  A mismatch changes nothing: the data path loaded there keeps
 * running, and the agent says what to do (exit status MIG_EXIT_STATE).
 *
 * Also what --adopt needs from what other tools loaded: the maps by name,
 * the socket iterator's link, and a sock_ops program of those maps
 * attached to the cgroup.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mig_log.h"

/* Stateless: the data path's per-CPU scratch space.  A pinned one of
 * another layout is replaced instead of refused. */
#define MAP_SCRATCH "mig_scratch"

static void pin_path(const struct agent *a, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", a->pin_dir, name);
}

bool pin_exists(const struct agent *a, const char *name)
{
	char path[PATH_MAX];

	pin_path(a, name, path, sizeof(path));
	return access(path, F_OK) == 0;
}

/* What kind of BPF object fd is: "bpf-map", "bpf-prog", "bpf-link". */
static bool fd_is(int fd, const char *kind)
{
	char p[64], l[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, l, sizeof(l) - 1);
	if (n < 0)
		return false;
	l[n] = '\0';
	return !strncmp(l, "anon_inode:", 11) && !strcmp(l + 11, kind);
}

/* The pinned map NAME, with its info: fd, -ENOENT, or another -errno
 * (said). */
int pin_map_get(const struct agent *a, const char *name, struct bpf_map_info *info)
{
	char path[PATH_MAX];
	__u32 len = sizeof(*info);
	int fd, err;

	pin_path(a, name, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		if (err != -ENOENT)
			pr_err("cannot open '%s': %s", path, strerror(-err));
		return err;
	}
	memset(info, 0, sizeof(*info));
	if (!fd_is(fd, "bpf-map") || bpf_obj_get_info_by_fd(fd, info, &len)) {
		pr_err("'%s' is not a BPF map", path);
		close(fd);
		return -EPROTO;
	}
	return fd;
}

static void say_refused(const struct agent *a, const char *what)
{
	if (a->adopt)
		pr_err("%s: nothing was changed; run the migrate-agent that matches the "
		       "loaded objects, or load this build's objects (migrate-agent(8), "
		       "\"Data path loaded by other tools\")", what);
	else
		pr_err("%s: nothing was changed, the data path loaded there keeps running; "
		       "stop it with 'migrate-agent --detach --pin-dir %s' (drops migrated "
		       "flows) or run the matching build", what, a->pin_dir);
}

/* mig_meta: its layout, then the ABI version it records (0: none yet). */
static int check_meta(struct agent *a)
{
	struct bpf_map_info info;
	char what[PATH_MAX + 128];
	__u32 zero = 0, abi;
	void *v;
	int fd, err = 0;

	fd = pin_map_get(a, MIG_MAP_META, &info);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd == -EPROTO ? fd : -EIO;
	/* the version comes first in every layout of mig_meta */
	if (info.type != BPF_MAP_TYPE_ARRAY || info.key_size != sizeof(zero) ||
	    info.value_size < sizeof(abi) || info.max_entries < 1) {
		snprintf(what, sizeof(what), "'%s/%s' is not a migrate meta map",
			 a->pin_dir, MIG_MAP_META);
		say_refused(a, what);
		err = -EPROTO;
		goto out;
	}
	v = calloc(1, info.value_size);
	if (!v) {
		err = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(fd, &zero, v)) {
		err = -errno;
		pr_err("cannot read '%s/%s': %s", a->pin_dir, MIG_MAP_META, strerror(errno));
		free(v);
		goto out;
	}
	memcpy(&abi, v, sizeof(abi));
	free(v);
	a->pinned_abi = abi;
	if (abi && abi != MIG_ABI_VERSION) {
		snprintf(what, sizeof(what), "pinned state under %s has ABI %u, this build has ABI %d",
			 a->pin_dir, abi, MIG_ABI_VERSION);
		say_refused(a, what);
		err = -EPROTO;
	}
out:
	close(fd);
	return err;
}

struct field {
	const char *what;
	__u32 have, want;
};

/* One map of this build against its pin: 0 same or not pinned, 1
 * different (said), -errno. */
static int check_map(struct agent *a, const struct bpf_map *m, bool *missing)
{
	const char *name = bpf_map__name(m);
	struct bpf_map_info info;
	struct field f[5];
	size_t i, n = 0;
	int fd;

	*missing = false;
	fd = pin_map_get(a, name, &info);
	if (fd == -ENOENT) {
		*missing = true;
		return 0;
	}
	if (fd < 0)
		return fd == -EPROTO ? 1 : fd;
	close(fd);
	f[n++] = (struct field){ "type", info.type, bpf_map__type(m) };
	f[n++] = (struct field){ "key size", info.key_size, bpf_map__key_size(m) };
	f[n++] = (struct field){ "value size", info.value_size, bpf_map__value_size(m) };
	f[n++] = (struct field){ "entries", info.max_entries, bpf_map__max_entries(m) };
	f[n++] = (struct field){ "flags", info.map_flags, bpf_map__map_flags(m) };
	for (i = 0; i < n; i++)
		if (f[i].have != f[i].want)
			break;
	if (i == n)
		return 0;
	if (!strcmp(name, MAP_SCRATCH)) {
		a->scratch_stale = true;
		return 0;
	}
	/* counters only appended or dropped: carried over (not for --adopt,
	 * whose programs use the pinned map as it is) */
	if (!strcmp(name, MIG_MAP_STATS) && !a->adopt && i == 3 &&
	    f[4].have == f[4].want) {
		a->stats_regrow = true;
		pr_info("pinned map '%s/%s' holds %u counters, this build %u: to be carried over",
			a->pin_dir, name, f[3].have, f[3].want);
		return 0;
	}
	for (; i < n; i++)
		if (f[i].have != f[i].want)
			pr_err("pinned map '%s/%s': %s %u, this build makes %u", a->pin_dir,
			       name, f[i].what, f[i].have, f[i].want);
	return 1;
}

int pins_check(struct agent *a, struct bpf_object *const *objs, int nobjs)
{
	const char *seen[64];
	char what[PATH_MAX + 128], path[PATH_MAX];
	size_t nseen = 0, k;
	int i, err, bad = 0, missing = 0;
	struct bpf_map *m;
	bool gone;

	err = check_meta(a);
	if (err)
		return err;
	/* who loaded what is there: the agent pins its cgroup link, other
	 * tools (--adopt) the iterator's */
	if (a->adopt && pin_exists(a, MIG_LINK_SOCKOPS)) {
		pr_err("--adopt: the data path under %s was loaded by migrate-agent itself "
		       "(%s is pinned); run it without --adopt", a->pin_dir, MIG_LINK_SOCKOPS);
		return -EPROTO;
	}
	if (!a->adopt && (pin_exists(a, MIG_LINK_ITER) || pin_exists(a, MIG_PIN_PROGS))) {
		pr_err("the data path under %s was loaded by other tools (%s is pinned): "
		       "run migrate-agent --adopt, which loads nothing", a->pin_dir,
		       pin_exists(a, MIG_LINK_ITER) ? MIG_LINK_ITER : MIG_PIN_PROGS "/");
		return -EPROTO;
	}
	for (i = 0; i < nobjs; i++) {
		bpf_object__for_each_map(m, objs[i]) {
			const char *name = bpf_map__name(m);

			if (bpf_map__is_internal(m))
				continue;
			for (k = 0; k < nseen; k++)
				if (!strcmp(seen[k], name))
					break;
			if (k < nseen)
				continue;
			if (nseen < sizeof(seen) / sizeof(seen[0]))
				seen[nseen++] = name;
			err = check_map(a, m, &gone);
			if (err < 0)
				return err;
			bad += err;
			/* --adopt: every map of sock_ops' object (the data
			 * path's scratch space is its own business) */
			if (gone && a->adopt && i == 0) {
				pr_err("--adopt: no map '%s' pinned under %s", name, a->pin_dir);
				missing++;
			}
		}
	}
	if (bad) {
		char abi[32] = "";

		if (a->pinned_abi)
			snprintf(abi, sizeof(abi), " (ABI %u)", a->pinned_abi);
		snprintf(what, sizeof(what), "pinned state under %s%s has maps of "
			 "another layout than this build (ABI %d)", a->pin_dir, abi,
			 MIG_ABI_VERSION);
		say_refused(a, what);
		return -EPROTO;
	}
	if (a->adopt && !pin_exists(a, MIG_LINK_ITER)) {
		pr_err("--adopt: no socket iterator link '%s/%s' (bpftool iter pin mig_iter.bpf.o ...)",
		       a->pin_dir, MIG_LINK_ITER);
		missing++;
	}
	if (missing) {
		pr_err("--adopt: load the data path first, with its maps pinned by name "
		       "under %s (migrate-agent(8), \"Data path loaded by other tools\")",
		       a->pin_dir);
		return -ENOENT;
	}
	/* everything matches: only now may anything change */
	if (a->scratch_stale && !a->adopt) {
		pin_path(a, MAP_SCRATCH, path, sizeof(path));
		if (unlink(path)) {
			pr_err("cannot remove '%s': %s", path, strerror(errno));
			return -errno;
		}
		pr_info("'%s' had another layout; made anew (it holds no state)", path);
	}
	return 0;
}

int pins_stats_prepare(struct agent *a, struct bpf_object *const *objs, int nobjs)
{
	struct bpf_map *m;
	int fd, i, err = 0;

	if (!a->stats_regrow)
		return 0;
	m = bpf_object__find_map_by_name(objs[0], MIG_MAP_STATS);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, MIG_MAP_STATS, bpf_map__key_size(m),
			    bpf_map__value_size(m), bpf_map__max_entries(m), NULL);
	if (fd < 0) {
		pr_err("cannot make a new %s: %s", MIG_MAP_STATS, strerror(errno));
		return -errno;
	}
	for (i = 0; i < nobjs && !err; i++) {
		m = bpf_object__find_map_by_name(objs[i], MIG_MAP_STATS);
		if (m)
			err = bpf_map__set_pin_path(m, NULL) ?: bpf_map__reuse_fd(m, fd);
	}
	close(fd);
	if (err)
		pr_err("cannot use a new %s: %s", MIG_MAP_STATS, strerror(-err));
	return err;
}

int pins_stats_commit(struct agent *a)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct bpf_map_info info, ninfo;
	__u64 *o = NULL, *v = NULL;
	__u32 key, n, len = sizeof(ninfo);
	int fd, c, err = 0;

	if (!a->stats_regrow)
		return 0;
	fd = pin_map_get(a, MIG_MAP_STATS, &info);
	if (fd < 0)
		return fd;
	memset(&ninfo, 0, sizeof(ninfo));
	o = calloc((size_t)a->ncpus, sizeof(*o));
	v = calloc((size_t)a->ncpus, sizeof(*v));
	if (!o || !v || bpf_obj_get_info_by_fd(a->stats_fd, &ninfo, &len)) {
		err = -ENOMEM;
		goto out;
	}
	/* The old programs are detached: what they counted is final.  The
	 * new ones may be counting already, so add (an increment between
	 * one key's read and write is lost: counters only, once, for
	 * microseconds; copying before the swap would lose everything the
	 * old programs counted while the new ones were verified instead). */
	n = info.max_entries < ninfo.max_entries ? info.max_entries : ninfo.max_entries;
	for (key = 0; key < n; key++) {
		if (bpf_map_lookup_elem(fd, &key, o) || bpf_map_lookup_elem(a->stats_fd, &key, v))
			continue;
		for (c = 0; c < a->ncpus; c++)
			v[c] += o[c];
		bpf_map_update_elem(a->stats_fd, &key, v, BPF_ANY);
	}
	snprintf(path, sizeof(path), "%s/%s", a->pin_dir, MIG_MAP_STATS);
	/* (bpffs takes no dot in a name) */
	snprintf(tmp, sizeof(tmp), "%s/%s_new", a->pin_dir, MIG_MAP_STATS);
	unlink(tmp);
	if (bpf_obj_pin(a->stats_fd, tmp) || rename(tmp, path)) {
		err = -errno;
		pr_err("cannot pin the new '%s': %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	pr_info("'%s': %u counters carried over, %u now", path, n, ninfo.max_entries);
	a->stats_regrow = false;
out:
	free(o);
	free(v);
	close(fd);
	return err;
}

/* --adopt: the sock_ops program attached to the cgroup (or above it) must
 * be one that uses the pinned mig_flows. */
static bool prog_uses(int prog_fd, __u32 map_id, char *name, size_t namelen)
{
	struct bpf_prog_info info = {};
	__u32 ids[64], len = sizeof(info), i;

	info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return false;
	snprintf(name, namelen, "%s", info.name);
	if (info.nr_map_ids > sizeof(ids) / sizeof(ids[0]))
		info.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	for (i = 0; i < info.nr_map_ids; i++)
		if (ids[i] == map_id)
			return true;
	return false;
}

/* Programs of the pinned maps that are loaded, by name: how many use
 * mig_flows under any of the names in want (NULL-terminated). */
static int progs_of_maps(__u32 map_id, const char *const *want)
{
	__u32 id = 0;
	char name[BPF_OBJ_NAME_LEN];
	int fd, n = 0, i;

	while (!bpf_prog_get_next_id(id, &id)) {
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		if (prog_uses(fd, map_id, name, sizeof(name)))
			for (i = 0; want[i]; i++)
				if (!strcmp(name, want[i]))
					n++;
		close(fd);
	}
	return n;
}

int pins_adopt_check(struct agent *a)
{
	static const char *const ingress[] = { "mig_in_tc", "mig_in_tc_l3", "mig_in_xdp",
					       NULL };
	static const char *const egress[] = { "mig_out_tc", "mig_out_tc_l3", NULL };
	struct bpf_map_info info;
	__u32 ids[64], cnt = sizeof(ids) / sizeof(ids[0]), flags = 0, i;
	char name[BPF_OBJ_NAME_LEN];
	bool found = false;
	int fd, cg, pfd;

	fd = pin_map_get(a, MIG_MAP_FLOWS, &info);
	if (fd < 0)
		return fd;
	close(fd);
	cg = open(a->cgroup, O_RDONLY | O_DIRECTORY);
	if (cg < 0) {
		pr_err("cannot open cgroup '%s': %s", a->cgroup, strerror(errno));
		return -errno;
	}
	if (bpf_prog_query(cg, BPF_CGROUP_SOCK_OPS, BPF_F_QUERY_EFFECTIVE, &flags,
			   ids, &cnt)) {
		pr_err("cannot list the sock_ops programs of cgroup '%s': %s", a->cgroup,
		       strerror(errno));
		close(cg);
		return -errno;
	}
	close(cg);
	for (i = 0; i < cnt && !found; i++) {
		pfd = bpf_prog_get_fd_by_id(ids[i]);
		if (pfd < 0)
			continue;
		found = prog_uses(pfd, info.id, name, sizeof(name)) &&
			!strcmp(name, "mig_sockops");
		close(pfd);
	}
	if (!found) {
		pr_err("--adopt: no sock_ops program of the maps under %s is attached to "
		       "cgroup '%s': attach it first (bpftool cgroup attach %s sock_ops "
		       "pinned %s/%s/mig_sockops multi)", a->pin_dir, a->cgroup, a->cgroup,
		       a->pin_dir, MIG_PIN_PROGS);
		return -ENOENT;
	}
	pr_info("--adopt: sock_ops program of %s attached to cgroup '%s'", a->pin_dir,
		a->cgroup);
	if (!progs_of_maps(info.id, ingress) || !progs_of_maps(info.id, egress))
		pr_warn("--adopt: no %s program uses the maps under %s: keyed connections "
			"cannot migrate until it is loaded and attached",
			progs_of_maps(info.id, ingress) ? "egress" : "ingress", a->pin_dir);
	return 0;
}
