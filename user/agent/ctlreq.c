// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ctlreq.c - requests from migratectl ("migratectl migrate"): a unix
 * SOCK_SEQPACKET socket in the abstract namespace, named after our pid
 * (mig_ctlreq.h).  One request per connection, answered at once from the
 * main loop.  Every request is hostile until checked: the sender's
 * credentials, the exact size, magic, version, operation, flags, padding
 * and the tuple's family and unused address words.  A client that
 * connects and sends nothing costs the loop at most CTL_WAIT_MS.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "mig_ctlreq.h"
#include "mig_log.h"

#define CTL_WAIT_MS 200

int ctlreq_open(struct agent *a)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd, n;

	a->ctl_fd = -1;
	n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, MIG_CTL_SOCK_FMT,
		     (unsigned long long)getpid());
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, len) || listen(fd, 8)) {
		/* not fatal: everything but "migratectl migrate" works */
		pr_warn("cannot open the control socket '@%s': %s; 'migratectl migrate' will not reach this agent",
			sun.sun_path + 1, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	a->ctl_fd = fd;
	return 0;
}

void ctlreq_close(struct agent *a)
{
	if (a->ctl_fd >= 0)
		close(a->ctl_fd);
	a->ctl_fd = -1;
}

/* The checks of a request that arrived whole; 0 or -EINVAL. */
static int req_valid(const struct mig_ctl_req *q)
{
	static const __u32 zero[4];
	const struct mig_tuple *t = &q->sock;

	if (q->magic != MIG_CTL_MAGIC || q->abi_version != MIG_ABI_VERSION ||
	    q->op != MIG_CTL_MIGRATE || (q->flags & ~MIG_CTL_F_ALL) || q->pad)
		return -EINVAL;
	if (q->flags & MIG_CTL_F_ALL)
		return memcmp(t, &(struct mig_tuple){}, sizeof(*t)) ? -EINVAL : 0;
	if (t->pad[0] || t->pad[1] || t->pad[2])
		return -EINVAL;
	if (t->family == AF_INET)
		return memcmp(&t->laddr[1], zero, 12) || memcmp(&t->raddr[1], zero, 12) ?
		       -EINVAL : 0;
	return t->family == AF_INET6 ? 0 : -EINVAL;
}

static void serve(struct agent *a, int fd)
{
	struct mig_ctl_resp r = { .magic = MIG_CTL_MAGIC };
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct mig_ctl_req q;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	char ts[128];
	ssize_t n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		pr_warn("control request from uid %u refused: only root may ask",
			clen == sizeof(cred) ? (unsigned int)cred.uid : ~0U);
		return;
	}
	if (poll(&pfd, 1, CTL_WAIT_MS) != 1)
		return;
	n = recv(fd, &q, sizeof(q), MSG_DONTWAIT | MSG_TRUNC);
	if (n != (ssize_t)sizeof(q) || req_valid(&q)) {
		pr_warn("control request from pid %d refused: malformed (%zd bytes)",
			(int)cred.pid, n);
		r.status = -EINVAL;
	} else if (q.flags & MIG_CTL_F_ALL) {
		pr_info("migratectl (pid %d) asks to move every flow whose source changed",
			(int)cred.pid);
		r.status = mover_request(a, NULL, &r);
	} else {
		pr_info("migratectl (pid %d) asks to move %s if its source changed",
			(int)cred.pid, tuple_str(&q.sock, ts, sizeof(ts)));
		r.status = mover_request(a, &q.sock, &r);
	}
	stat_flush(a);   /* (the counts as the answer says) */
	if (send(fd, &r, sizeof(r), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(r))
		pr_debug("control answer not delivered: %s", strerror(errno));
}

void ctlreq_handle(struct agent *a)
{
	int fd, i;

	/* a few per wakeup: requests cannot starve the data path's events */
	for (i = 0; i < 8; i++) {
		fd = accept4(a->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		serve(a, fd);
		close(fd);
	}
}
