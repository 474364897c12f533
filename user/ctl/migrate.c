// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * migrate.c - "migratectl migrate [TOKEN|all]": ask the running agent to
 * look at the route toward the peer of one keyed flow (named by its token,
 * as "show" lists it) or of all of them, and to move those whose best
 * source address changed, e.g. after a VPN came up.  The only command that
 * talks to the agent: over its control socket (mig_ctlreq.h), never by
 * writing a map.
 *
 *   $ migratectl migrate all
 *   2 flows: 1 moving, 1 unchanged, 0 without a usable route, 0 not movable
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "mig_ctlreq.h"

#define CTL_TIMEOUT_S 5

static int agent_pid(__u64 *pid)
{
	struct mig_meta meta;
	__u32 key = 0;
	int fd, err = 0;

	fd = ctl_map_open(MIG_MAP_META, BPF_MAP_TYPE_ARRAY, sizeof(key), sizeof(meta), NULL);
	if (fd < 0)
		return fd;
	if (bpf_map_lookup_elem(fd, &key, &meta)) {
		err = -errno;
		ctl_err("cannot read '%s/%s': %s", ctl.pin_dir, MIG_MAP_META, strerror(errno));
	}
	close(fd);
	*pid = meta.agent_pid;
	return err;
}

/* 16 hex digits, as "show" prints a token: 0, or -EINVAL. */
static int parse_token(const char *s, __u8 token[MIG_TOKEN_LEN])
{
	unsigned int v;
	int i;

	if (strlen(s) != 2 * MIG_TOKEN_LEN)
		return -EINVAL;
	for (i = 0; i < MIG_TOKEN_LEN; i++) {
		if (!isxdigit((unsigned char)s[2 * i]) ||
		    !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		token[i] = (__u8)v;
	}
	return 0;
}

/* The socket tuple of the listed flow with this token: 0 or -errno
 * (reported). */
static int flow_by_token(const char *arg, const __u8 token[MIG_TOKEN_LEN],
			 struct mig_tuple *t)
{
	struct ctl_flow *flows;
	size_t n, i;
	int err = -ENOENT;

	if (ctl_flows_load(&flows, &n))
		return -EIO;
	for (i = 0; i < n; i++)
		if (!memcmp(flows[i].token, token, MIG_TOKEN_LEN)) {
			*t = flows[i].t;
			err = 0;
			break;
		}
	free(flows);
	if (err)
		ctl_err("no keyed flow with token '%s' (see 'migratectl show')", arg);
	return err;
}

/* One request, one answer: 0 or -errno (reported). */
static int ask(__u64 pid, const struct mig_ctl_req *q, struct mig_ctl_resp *r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_TIMEOUT_S };
	struct ucred cred;
	socklen_t clen = sizeof(cred), len;
	ssize_t got;
	int fd, n, err;

	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, MIG_CTL_SOCK_FMT,
		     (unsigned long long)pid);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		ctl_err("cannot make a unix socket: %s", strerror(errno));
		return err;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, len)) {
		err = -errno;
		ctl_err("cannot reach migrate-agent (pid %llu) at '@%s': %s (is it running, and is migratectl in its network namespace?)",
			(unsigned long long)pid, sun.sun_path + 1, strerror(errno));
		goto out;
	}
	/* an impostor that took the name first is not the agent */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    (__u64)cred.pid != pid) {
		err = -EPERM;
		ctl_err("'@%s' is not served by migrate-agent pid %llu: refusing to talk to it",
			sun.sun_path + 1, (unsigned long long)pid);
		goto out;
	}
	if (send(fd, q, sizeof(*q), MSG_NOSIGNAL) != (ssize_t)sizeof(*q)) {
		err = -errno;
		ctl_err("cannot send the request to migrate-agent: %s", strerror(errno));
		goto out;
	}
	got = recv(fd, r, sizeof(*r), MSG_TRUNC);
	if (got != (ssize_t)sizeof(*r) || r->magic != MIG_CTL_MAGIC) {
		err = got < 0 ? -errno : -EPROTO;
		ctl_err("no valid answer from migrate-agent: %s",
			got < 0 ? strerror(errno) : "wrong size or magic (agent and migratectl differ?)");
		goto out;
	}
	err = 0;
out:
	close(fd);
	return err;
}

int cmd_migrate(int argc, char **argv)
{
	struct mig_ctl_req q = { .magic = MIG_CTL_MAGIC, .abi_version = MIG_ABI_VERSION,
				 .op = MIG_CTL_MIGRATE };
	struct mig_ctl_resp r;
	__u8 token[MIG_TOKEN_LEN];
	struct json j;
	__u64 pid;

	if (argc < 2) {
		ctl_err("'migrate' needs a flow's token or 'all' (see 'migratectl --help')");
		return CTL_EXIT_USAGE;
	}
	if (argc > 2)
		return ctl_unexpected(argv[0], argv[2]);
	if (!strcmp(argv[1], "all")) {
		q.flags = MIG_CTL_F_ALL;
	} else if (parse_token(argv[1], token)) {
		if (argv[1][0] == '-')
			return ctl_unexpected(argv[0], argv[1]);
		ctl_err("invalid flow '%s': expected 'all' or a token of 16 hex digits as 'migratectl show' lists it",
			argv[1]);
		return CTL_EXIT_USAGE;
	}
	if (ctl_check_agent() || agent_pid(&pid))
		return EXIT_FAILURE;
	if (!q.flags && flow_by_token(argv[1], token, &q.sock))
		return EXIT_FAILURE;
	if (ask(pid, &q, &r))
		return EXIT_FAILURE;
	if (r.status == -ENOENT) {
		ctl_err("flow '%s' closed before the agent looked at it", argv[1]);
		return EXIT_FAILURE;
	}
	if (r.status) {
		ctl_err("migrate-agent refused the request: %s", strerror(-r.status));
		return EXIT_FAILURE;
	}
	if (ctl.json) {
		ctl_json_begin(&j);
		json_object_start(&j);
		json_name(&j, "migrate");
		json_object_start(&j);
		json_uint_field(&j, "flows", r.flows);
		json_uint_field(&j, "moving", r.moving);
		json_uint_field(&j, "unchanged", r.unchanged);
		json_uint_field(&j, "no_route", r.no_route);
		json_uint_field(&j, "not_movable", r.not_movable);
		json_object_end(&j);
		json_object_end(&j);
		json_finish(&j);
	} else {
		printf("%u flow%s: %u moving, %u unchanged, %u without a usable route, %u not movable\n",
		       r.flows, r.flows == 1 ? "" : "s", r.moving, r.unchanged, r.no_route,
		       r.not_movable);
	}
	return EXIT_SUCCESS;
}
