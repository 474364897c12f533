// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Congestion state restarts after a commit (PROTOCOL.md 5, "as in the
 * paper": the new path is unknown).  Both ends do it, each after its own
 * commit, for the one socket of the flow: snd_cwnd back to the initial
 * window, ssthresh "unknown", the algorithm's own state from scratch.
 * How (mig_cc.bpf.c): our own congestion control, registered under a name
 * of this agent's, whose init restarts the socket that mig_cc_iter arms
 * while it switches the socket to it and straight back.
 *
 * Work: one walk of the iterator over the TCP sockets for all the commits
 * that arrived together (an event-loop pass), not one per commit: a move
 * of many flows costs a walk or a few, not a walk per flow.  Not
 * available (an older kernel without struct_ops congestion control, or a
 * verifier that refuses): said once at start, counted per commit.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agent.h"
#include "mig_log.h"
#include "mig_cc.skel.h"

/*
 * Open mig_cc with a congestion control name of our own.  libbpf 1.1 has
 * no setter for a struct_ops map's data before load, so the name is
 * written into a copy of the object's ELF image over the placeholder it
 * was compiled with (which occurs there exactly once, checked).  libbpf
 * reads the image until load: the copy lives as long as the agent.
 */
static struct mig_cc *cc_open(struct agent *a, const char *name)
{
	static const char ph[] = MIG_CC_NAME_PLACEHOLDER;
	struct mig_cc *s;
	unsigned char *img, *at, *again;
	size_t sz;
	int err;

	_Static_assert(sizeof(ph) == 16, "placeholder fills tcp_congestion_ops.name");
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	err = mig_cc__create_skeleton(s);
	if (err)
		goto fail;
	sz = s->skeleton->data_sz;
	img = malloc(sz);
	if (!img) {
		err = -ENOMEM;
		goto fail;
	}
	memcpy(img, s->skeleton->data, sz);
	at = memmem(img, sz, ph, sizeof(ph));
	again = at ? memmem(at + 1, sz - (size_t)(at + 1 - img), ph, sizeof(ph)) : NULL;
	if (!at || again) {
		pr_warn("mig_cc.bpf.o: the congestion control's name placeholder is not there once");
		free(img);
		err = -EPROTO;
		goto fail;
	}
	memset(at, 0, sizeof(ph));
	memcpy(at, name, strlen(name));
	s->skeleton->data = img;
	a->cc_image = img;
	err = bpf_object__open_skeleton(s->skeleton, NULL);
	if (err)
		goto fail;
	return s;
fail:
	mig_cc__destroy(s);
	errno = -err;
	return NULL;
}

/*
 * A registration lives until its struct_ops map's element is deleted, not
 * until the agent's fds close: one that a killed agent left is found
 * through its pin (MIG_PIN_CC) and removed, at the next start or by
 * --detach.
 */
void cc_forget_pinned(const char *pin_dir)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, MIG_PIN_CC);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == BPF_MAP_TYPE_STRUCT_OPS) {
		if (!bpf_map_delete_elem(fd, &zero))
			pr_info("removed the congestion control an earlier run left registered");
		if (unlink(path) && errno != ENOENT)
			pr_warn("cannot remove '%s': %s", path, strerror(errno));
	} else {
		pr_warn("'%s' is not a struct_ops map: left alone", path);
	}
	close(fd);
}

/* Our algorithm's name into every CPU's mig_cc_arm ("": none), where the
 * sock_ops program finds it (cc_restart). */
static int cc_arm_name(struct agent *a, const char *name)
{
	struct mig_cc_arm *v;
	__u32 zero = 0;
	int err = 0;

	if (a->ncpus <= 0)
		return -EINVAL;
	v = calloc((size_t)a->ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < a->ncpus; i++)
		strncpy(v[i].name, name, sizeof(v[i].name) - 1);
	if (bpf_map_update_elem(bpf_map__fd(a->cc->maps.mig_cc_arm), &zero, v, BPF_ANY))
		err = -errno;
	free(v);
	return err;
}

/* The pinned maps mig_cc shares with the rest: mig_flows, and
 * mig_cc_arm (the sock_ops object's).  Without the latter (a pin
 * directory that other tools filled) restarts take the walk only. */
static int cc_share(struct agent *a)
{
	char path[PATH_MAX];
	int fd, err;

	err = bpf_map__reuse_fd(a->cc->maps.mig_flows, a->flows_fd);
	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%s", a->pin_dir, MIG_MAP_CC_ARM);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		pr_info("no '%s': congestion restarts by walks of the socket table only", path);
		return 0;
	}
	err = bpf_map__reuse_fd(a->cc->maps.mig_cc_arm, fd);
	close(fd);
	return err;
}

/* Never fatal: without it flows still migrate, keeping their window. */
void cc_load(struct agent *a)
{
	char path[PATH_MAX];
	uint32_t r;
	int err = 0, e, tries;

	cc_forget_pinned(a->pin_dir);

	for (tries = 0; tries < 4; tries++) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
			err = -EIO;
			break;
		}
		snprintf(a->cc_name, sizeof(a->cc_name), "mig_%08x", r);
		a->cc = cc_open(a, a->cc_name);
		if (!a->cc) {
			err = -errno;
			cc_unload(a, false);
			break;
		}
		memcpy(a->cc->bss->cc_name, a->cc_name, sizeof(a->cc_name));
		err = cc_share(a);
		if (!err)
			err = mig_cc__load(a->cc);
		if (!err) {
			a->cc_ops_link = bpf_map__attach_struct_ops(a->cc->maps.mig_cc_ops);
			err = libbpf_get_error(a->cc_ops_link);
		}
		if (!err) {
			a->cc_iter_link = bpf_program__attach_iter(a->cc->progs.mig_cc_iter, NULL);
			err = libbpf_get_error(a->cc_iter_link);
			if (err)
				a->cc_iter_link = NULL;
		} else {
			a->cc_ops_link = NULL;
		}
		if (!err) {
			e = cc_arm_name(a, a->cc_name);
			if (e)
				pr_warn("cannot write '%s' into %s (%s): congestion restarts by "
					"walks of the socket table only", a->cc_name,
					MIG_MAP_CC_ARM, strerror(-e));
			snprintf(path, sizeof(path), "%s/%s", a->pin_dir, MIG_PIN_CC);
			if (bpf_obj_pin(bpf_map__fd(a->cc->maps.mig_cc_ops), path))
				pr_warn("cannot pin '%s' (%s): once this agent ends, nothing removes "
					"'%s' until reboot", path, strerror(errno), a->cc_name);
			pr_debug("congestion restart after a commit: by '%s'", a->cc_name);
			return;
		}
		cc_unload(a, false);
		if (err != -EEXIST)   /* (EEXIST: the name is taken) */
			break;
	}
	pr_warn("congestion state will not restart after a migration: cannot load mig_cc "
		"(%s; a kernel without BPF congestion control?)", strerror(-err));
}

/* keep: a clean stop, after which the data path stays attached: the
 * registration and its pin stay too (the next start replaces them,
 * --detach removes them) */
void cc_unload(struct agent *a, bool keep)
{
	char path[PATH_MAX];

	if (a->cc_ops_link && keep) {
		bpf_link__disconnect(a->cc_ops_link);
	} else if (a->cc_ops_link) {
		cc_arm_name(a, "");   /* (the name goes now) */
		snprintf(path, sizeof(path), "%s/%s", a->pin_dir, MIG_PIN_CC);
		unlink(path);
	}
	bpf_link__destroy(a->cc_iter_link);
	bpf_link__destroy(a->cc_ops_link);
	mig_cc__destroy(a->cc);
	free(a->cc_image);
	a->cc_iter_link = NULL;
	a->cc_ops_link = NULL;
	a->cc = NULL;
	a->cc_image = NULL;
}

/* One walk of the iterator for v[0..n-1] (n <= MIG_CC_BATCH): each one's
 * outcome into v[i].err, said in the log when it restarted. */
static void cc_run(struct agent *a, struct cc_item *v, size_t n)
{
	int fd, want_fd = bpf_map__fd(a->cc->maps.mig_cc_want), err = 0;
	char buf[256];
	size_t i, put = 0;
	ssize_t r;

	for (i = 0; i < n; i++) {
		struct mig_cc_req q = { .cookie = v[i].cookie, .push_req = v[i].push };

		v[i].err = bpf_map_update_elem(want_fd, &v[i].sock, &q, BPF_ANY) ? -errno : 0;
		put += !v[i].err;
	}
	if (put) {
		uint64_t t = mono_ns();

		a->cc->bss->cc_want_n = (uint32_t)put;
		fd = bpf_iter_create(bpf_link__fd(a->cc_iter_link));
		if (fd < 0) {
			err = -errno;
		} else {
			/* the program writes nothing: one read runs the whole walk */
			do
				r = read(fd, buf, sizeof(buf));
			while (r > 0 || (r < 0 && errno == EINTR));
			if (r < 0)
				err = -errno;
			close(fd);
		}
		a->walk_ns += mono_ns() - t;
		a->cc->bss->cc_want_n = 0;
	}
	for (i = 0; i < n; i++) {
		struct mig_cc_req q;
		char ts[128];

		if (v[i].err)
			continue;
		/* (a tuple twice in a batch: one restart, read twice) */
		if (bpf_map_lookup_elem(want_fd, &v[i].sock, &q)) {
			v[i].err = -errno;
			continue;
		}
		if (err)
			v[i].err = err;
		else if (q.err == -EALREADY) {
			v[i].err = q.err;
			if (q.pushed) {
				stat_add(a, MIG_STAT_CC_PUSH_SOON, 1);
				pr_debug("%s: restarted in its socket, its send might have waited: unsent data pushed",
					 tuple_str(&v[i].sock, ts, sizeof(ts)));
			}
		}
		else if (!q.found)
			v[i].err = -ENOENT;
		else if (q.err)
			v[i].err = q.err;
		else if (q.back_err) {
			/* left on our algorithm (Reno), which is still sound */
			pr_warn("%s: restarted, but could not go back to '%.16s' (%s): stays on '%s'",
				tuple_str(&v[i].sock, ts, sizeof(ts)), q.prev,
				strerror(-q.back_err), a->cc_name);
			v[i].err = q.back_err;
		} else if (q.applied != 1)
			v[i].err = -EPROTO;
		if (!v[i].err && !v[i].unlogged)
			pr_info("%s: congestion state restarted (%.16s): cwnd %u -> %u, "
				"ssthresh %u -> %u, %u in flight on the old path%s",
				tuple_str(&v[i].sock, ts, sizeof(ts)), q.prev, q.cwnd_before,
				q.cwnd_after, q.ssthresh_before, q.ssthresh_after, q.in_flight,
				q.pushed ? ", unsent data pushed" : "");
		/* (not a failed restart: the next write, ACK or timer sends it) */
		if (q.push_err)
			pr_warn("%s: restarted, but could not push its unsent data (TCP_NODELAY: %s)",
				tuple_str(&v[i].sock, ts, sizeof(ts)), strerror((int)-q.push_err));
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(want_fd, &v[i].sock);
}

/*
 * Restart the congestion state of the sockets v[0..n-1] (cookie: each
 * one's socket cookie, 0 if unknown), MIG_CC_BATCH at a time in one walk
 * each: once for the commits of an event-loop pass; the caller resumes
 * the sockets afterwards.  Each v[i].err: 0, or -errno (counted as
 * cwnd_restart_failed).
 */
void cc_restart_batch(struct agent *a, struct cc_item *v, size_t n)
{
	size_t i, k;
	char ts[128];

	for (i = 0; i < n; i += MIG_CC_BATCH) {
		k = n - i < MIG_CC_BATCH ? n - i : MIG_CC_BATCH;
		if (!a->cc || !a->cc_iter_link) {
			for (size_t j = i; j < i + k; j++)
				v[j].err = -EOPNOTSUPP;
			continue;
		}
		cc_run(a, v + i, k);
	}
	for (i = 0; i < n; i++) {
		if (!v[i].err) {
			stat_add(a, MIG_STAT_CC_RESTART, 1);
			continue;
		}
		if (v[i].err == -EALREADY)
			continue;   /* (in its socket: counted then) */
		stat_add(a, MIG_STAT_CC_FAIL, 1);
		if (v[i].err != -EOPNOTSUPP)
			pr_warn("%s: congestion state not restarted: %s",
				tuple_str(&v[i].sock, ts, sizeof(ts)), strerror(-v[i].err));
	}
}
