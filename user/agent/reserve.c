// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Wire tuples reserved in the kernel.  A migrated flow's socket keeps its
 * old tuple; the kernel knows nothing of the new one on the wire, so a new
 * local connection from the new address could pick the same port toward
 * the same peer and collide with it there.  For each translation whose
 * wire address is not the socket's, the agent holds a TCP socket bound to
 * the wire address and port (never listening, never connected): connect()
 * then skips that port when it picks one, and a bind() to it fails with
 * EADDRINUSE.  The socket goes with the translation, and a restarted agent
 * binds them again from mig_egress.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "agent.h"
#include "mig_log.h"

struct resv {
	struct mig_tuple sock;
	struct mig_tuple wire;
	int fd;
	struct resv *next;
};

#define RESV_BUCKETS 4096
static struct resv *resv_tab[RESV_BUCKETS];

static unsigned int resv_hash(const struct mig_tuple *t)
{
	const unsigned char *p = (const unsigned char *)t;
	unsigned int h = 2166136261u;
	size_t i;

	for (i = 0; i < sizeof(*t); i++)
		h = (h ^ p[i]) * 16777619u;
	return h % RESV_BUCKETS;
}

static struct resv **resv_find(const struct mig_tuple *sock)
{
	struct resv **r = &resv_tab[resv_hash(sock)];

	while (*r && memcmp(&(*r)->sock, sock, sizeof(*sock)))
		r = &(*r)->next;
	return r;
}

/* More descriptors: one per migrated flow. */
void reserve_init(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int bind_wire(const struct mig_tuple *w)
{
	struct sockaddr_storage ss = {};
	socklen_t len;
	int fd, one = 1;

	fd = socket(w->family == AF_INET6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (w->family == AF_INET6) {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		s->sin6_family = AF_INET6;
		s->sin6_port = w->lport;
		memcpy(&s->sin6_addr, w->laddr, 16);
		len = sizeof(*s);
	} else {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		s->sin_port = w->lport;
		s->sin_addr.s_addr = w->laddr[0];
		len = sizeof(*s);
	}
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

/* Reserve wire (our view) for the flow sock; a previous reservation of the
 * flow is released.  Nothing to reserve when the wire address is the
 * socket's (the kernel has that tuple already). */
/* The last local address and port found held by a listener, and the
 * event-loop pass it was found in (reserve_wire). */
static struct {
	uint64_t pass;
	uint32_t laddr[4];
	uint16_t family, lport;
} listened;

void reserve_wire(struct agent *a, const struct mig_tuple *sock, const struct mig_tuple *wire)
{
	struct resv **rp = resv_find(sock), *r = *rp;
	char t1[128];
	int fd;

	if (r && !memcmp(&r->wire, wire, sizeof(*wire)))
		return;
	if (r) {
		close(r->fd);
		*rp = r->next;
		free(r);
	}
	if (wire->family != sock->family ||
	    !memcmp(wire->laddr, sock->laddr, sizeof(wire->laddr)))
		return;
	/* a server moving many flows: one address and port for them all,
	 * found held by its listener once a pass */
	if (listened.pass == a->pass && listened.family == wire->family &&
	    listened.lport == wire->lport &&
	    !memcmp(listened.laddr, wire->laddr, sizeof(wire->laddr)))
		return;
	fd = bind_wire(wire);
	if (fd == -EADDRINUSE &&
	    dp_listening(a, wire->family == AF_INET6 ? AF_INET6 : AF_INET, wire->laddr,
			 wire->lport)) {
		/* a server's port: its listener keeps the tuple ours */
		pr_debug("wire tuple %s: its port is held by a listener",
			 tuple_str(wire, t1, sizeof(t1)));
		listened.pass = a->pass;
		listened.family = wire->family;
		listened.lport = wire->lport;
		memcpy(listened.laddr, wire->laddr, sizeof(wire->laddr));
		return;
	}
	if (fd < 0) {
		stat_add(a, MIG_STAT_RESERVE_FAIL, 1);
		pr_warn("cannot reserve the wire tuple %s in the kernel: %s%s",
			tuple_str(wire, t1, sizeof(t1)), strerror(-fd),
			fd == -EADDRINUSE ? " (a local socket has its address and port: the two connections collide on the wire)" : "");
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		return;
	}
	r->sock = *sock;
	r->wire = *wire;
	r->fd = fd;
	rp = &resv_tab[resv_hash(sock)];
	r->next = *rp;
	*rp = r;
}

void reserve_release(const struct mig_tuple *sock)
{
	struct resv **rp = resv_find(sock), *r = *rp;

	if (!r)
		return;
	close(r->fd);
	*rp = r->next;
	free(r);
}

/* At start: reserve the wire tuples of the translations pinned in
 * mig_egress (an earlier run's sockets went with it). */
void reserve_resync(struct agent *a)
{
	struct mig_tuple key, next;
	struct mig_out out;
	int err = bpf_map_get_next_key(a->egress_fd, NULL, &next);

	while (!err) {
		key = next;
		err = bpf_map_get_next_key(a->egress_fd, &key, &next);
		if (!bpf_map_lookup_elem(a->egress_fd, &key, &out))
			reserve_wire(a, &key, &out.wire);
	}
}

void reserve_free(void)
{
	size_t i;

	for (i = 0; i < RESV_BUCKETS; i++)
		while (resv_tab[i]) {
			struct resv *r = resv_tab[i];

			resv_tab[i] = r->next;
			close(r->fd);
			free(r);
		}
}
