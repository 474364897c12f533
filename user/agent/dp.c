// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The migration data path: loads mig_dp (ingress and egress programs) and
 * mig_iter (socket records) on the maps sock_ops already pinned, and
 * attaches the programs to the host's interfaces with TC (clsact).
 * Filters live on the interfaces, not on the agent: a restart replaces
 * them in place and `--detach` removes them.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mig_log.h"
#include "mig_dp.skel.h"
#include "mig_iter.skel.h"

static int pin_maps(struct bpf_object *obj, const char *dir)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, obj) {
		snprintf(path, sizeof(path), "%s/%s", dir, bpf_map__name(map));
		err = bpf_map__set_pin_path(map, path);
		if (err)
			return err;
	}
	return 0;
}

int dp_load(struct agent *a)
{
	int err;

	a->dp = mig_dp__open();
	a->iter = mig_iter__open();
	if (!a->dp || !a->iter) {
		pr_err("cannot open the data path objects: %s", strerror(errno));
		return -errno;
	}
	err = pin_maps(a->dp->obj, a->pin_dir);
	if (!err)
		err = mig_dp__load(a->dp);
	if (!err)
		err = mig_iter__load(a->iter);
	if (err) {
		pr_err("cannot load the data path programs: %s (run with -v for the verifier's log)",
		       strerror(-err));
		return err;
	}
	a->ingress_fd = bpf_map__fd(a->dp->maps.mig_ingress);
	a->egress_fd = bpf_map__fd(a->dp->maps.mig_egress);
	a->iter_link = bpf_program__attach_iter(a->iter->progs.mig_iter_tcp, NULL);
	err = libbpf_get_error(a->iter_link);
	if (err) {
		a->iter_link = NULL;
		pr_err("cannot attach the socket iterator: %s", strerror(-err));
		return err;
	}
	return 0;
}

void dp_unload(struct agent *a)
{
	bpf_link__destroy(a->iter_link);
	mig_iter__destroy(a->iter);
	mig_dp__destroy(a->dp);
	a->iter_link = NULL;
	a->iter = NULL;
	a->dp = NULL;
}

static int tc_attach_one(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MIG_TC_HANDLE, .priority = MIG_TC_PRIO,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static bool served(const struct agent *a, const char *name)
{
	int i;

	if (!strcmp(name, "lo"))
		return false;
	if (!a->n_ifaces)
		return true;
	for (i = 0; i < a->n_ifaces; i++)
		if (!strcmp(a->ifaces[i], name))
			return true;
	return false;
}

/* Attach to every served interface that has no filter of ours yet
 * (called at start and on every link event). */
int dp_attach_all(struct agent *a)
{
	struct if_nameindex *ifs, *i;
	int err, ret = 0;
	size_t k;

	ifs = if_nameindex();
	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		bool known = false;

		if (!served(a, i->if_name))
			continue;
		for (k = 0; k < a->n_attached; k++)
			if (a->attached[k] == (int)i->if_index)
				known = true;
		if (known)
			continue;
		if (a->xdp)
			err = bpf_xdp_attach(i->if_index,
					     bpf_program__fd(a->dp->progs.mig_in_xdp), 0, NULL);
		else
			err = tc_attach_one(i->if_index, BPF_TC_INGRESS,
					    bpf_program__fd(a->dp->progs.mig_in_tc));
		if (!err)
			err = tc_attach_one(i->if_index, BPF_TC_EGRESS,
					    bpf_program__fd(a->dp->progs.mig_out_tc));
		if (err) {
			pr_warn("cannot attach to interface '%s': %s", i->if_name,
				strerror(-err));
			ret = err;
			continue;
		}
		if (a->n_attached < sizeof(a->attached) / sizeof(a->attached[0]))
			a->attached[a->n_attached++] = (int)i->if_index;
		pr_info("attached to interface '%s' (%s ingress)", i->if_name,
			a->xdp ? "XDP" : "TC");
	}
	if_freenameindex(ifs);
	return ret;
}

/* Remove our filters from every interface of this network namespace. */
void dp_detach_all(void)
{
	struct if_nameindex *ifs, *i;

	ifs = if_nameindex();
	if (!ifs)
		return;
	for (i = ifs; i->if_index; i++) {
		LIBBPF_OPTS(bpf_tc_hook, in, .ifindex = i->if_index,
			    .attach_point = BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_hook, out, .ifindex = i->if_index,
			    .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = MIG_TC_HANDLE,
			    .priority = MIG_TC_PRIO);

		struct bpf_prog_info info = {};
		__u32 id = 0, len = sizeof(info);
		int fd;

		bpf_tc_detach(&in, &opts);
		bpf_tc_detach(&out, &opts);
		/* our XDP program only, never someone else's */
		if (bpf_xdp_query_id(i->if_index, 0, &id) || !id)
			continue;
		fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    !strcmp(info.name, "mig_in_xdp"))
			bpf_xdp_detach(i->if_index, 0, NULL);
		close(fd);
	}
	if_freenameindex(ifs);
}

/* Read every TCP socket's record from the iterator. */
int dp_sockinfo(struct agent *a, struct mig_sockinfo **out, size_t *n)
{
	struct mig_sockinfo *v = NULL, *nv;
	size_t cap = 0, cnt = 0;
	ssize_t r;
	int fd;

	fd = bpf_iter_create(bpf_link__fd(a->iter_link));
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				close(fd);
				return -ENOMEM;
			}
			v = nv;
		}
		r = read(fd, &v[cnt], (cap - cnt) * sizeof(*v));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		cnt += (size_t)r / sizeof(*v);
	}
	close(fd);
	*out = v;
	*n = cnt;
	return 0;
}

int dp_sockinfo_one(struct agent *a, const struct mig_tuple *t,
		    struct mig_sockinfo *out)
{
	struct mig_sockinfo *v;
	size_t n, i;
	int err;

	err = dp_sockinfo(a, &v, &n);
	if (err)
		return err;
	err = -ENOENT;
	for (i = 0; i < n; i++) {
		if (!memcmp(&v[i].tuple, t, sizeof(*t))) {
			*out = v[i];
			err = 0;
			break;
		}
	}
	free(v);
	return err;
}
