// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_lookup.c - the agent's one-socket lookup (bpf/mig_lookup.bpf.c, run
 * through BPF_PROG_TEST_RUN) against the socket iterator's records
 * (bpf/mig_iter.bpf.c) for the same sockets: IPv4, IPv6, and an IPv6
 * socket of an IPv4 peer (keyed as IPv4); and what it must not report: a
 * tuple no connection has, and one only a listener answers.
 *
 * In a network namespace of its own (unshare), over its loopback: nothing
 * to remove afterwards.  Root only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <migrate/mig_abi.h>

#include "mig_iter.skel.h"
#include "mig_lookup.skel.h"
#include "unit.h"

static struct mig_lookup *lk;
static struct mig_iter *it;
static struct bpf_link *it_link;

/* 1 found (into out), 0 not, -1 the run failed */
static int lookup(const struct mig_tuple *t, struct mig_sockinfo *out)
{
	uint8_t pkt[64] = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
		    .repeat = 1);

	lk->bss->lk_tuple = *t;
	if (bpf_prog_test_run_opts(bpf_program__fd(lk->progs.mig_sk_lookup), &o))
		return -1;
	if (!lk->bss->lk_found)
		return 0;
	*out = lk->bss->lk_out;
	return 1;
}

/* The iterator's record of t (a full socket), 1 found */
static int iter_find(const struct mig_tuple *t, struct mig_sockinfo *out)
{
	struct mig_sockinfo si;
	int fd = bpf_iter_create(bpf_link__fd(it_link)), found = 0;

	if (fd < 0)
		return -1;
	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		if (!memcmp(&si.tuple, t, sizeof(*t)) && si.state != 6 /* TIME_WAIT */) {
			*out = si;
			found = 1;
		}
	close(fd);
	return found;
}

/* The socket tuple of fd as sock_ops keys it (IPv4-mapped: AF_INET). */
static void tuple_of(int fd, struct mig_tuple *t)
{
	struct sockaddr_storage l, r;
	socklen_t ll = sizeof(l), rl = sizeof(r);

	memset(t, 0, sizeof(*t));
	getsockname(fd, (struct sockaddr *)&l, &ll);
	getpeername(fd, (struct sockaddr *)&r, &rl);
	if (l.ss_family == AF_INET) {
		t->family = AF_INET;
		t->laddr[0] = ((struct sockaddr_in *)&l)->sin_addr.s_addr;
		t->raddr[0] = ((struct sockaddr_in *)&r)->sin_addr.s_addr;
		t->lport = ((struct sockaddr_in *)&l)->sin_port;
		t->rport = ((struct sockaddr_in *)&r)->sin_port;
		return;
	}
	struct sockaddr_in6 *l6 = (struct sockaddr_in6 *)&l, *r6 = (struct sockaddr_in6 *)&r;

	t->lport = l6->sin6_port;
	t->rport = r6->sin6_port;
	if (IN6_IS_ADDR_V4MAPPED(&r6->sin6_addr)) {
		t->family = AF_INET;
		memcpy(t->laddr, &l6->sin6_addr.s6_addr[12], 4);
		memcpy(t->raddr, &r6->sin6_addr.s6_addr[12], 4);
	} else {
		t->family = AF_INET6;
		memcpy(t->laddr, &l6->sin6_addr, 16);
		memcpy(t->raddr, &r6->sin6_addr, 16);
	}
}

/* A connected pair: listener on lfam's loopback (or its wildcard with
 * any), a client of cfam; some bytes each way, some left unread. */
static int pair(int lfam, bool any, int cfam, int *ls, int *c, int *s)
{
	struct sockaddr_storage a = { 0 };
	socklen_t al = sizeof(a);
	char buf[3000] = { 0 };
	int one = 1, zero = 0;

	*ls = socket(lfam, SOCK_STREAM, 0);
	if (lfam == AF_INET6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;

		setsockopt(*ls, IPPROTO_IPV6, IPV6_V6ONLY, any ? &zero : &one, sizeof(int));
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = any ? in6addr_any : in6addr_loopback;
		al = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)&a;

		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		al = sizeof(*a4);
	}
	if (*ls < 0 || bind(*ls, (struct sockaddr *)&a, al) || listen(*ls, 4) ||
	    getsockname(*ls, (struct sockaddr *)&a, &al))
		return -1;
	*c = socket(cfam, SOCK_STREAM, 0);
	if (cfam == AF_INET && lfam == AF_INET6) {
		struct sockaddr_in v4 = { .sin_family = AF_INET,
					  .sin_port = ((struct sockaddr_in6 *)&a)->sin6_port,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		if (connect(*c, (struct sockaddr *)&v4, sizeof(v4)))
			return -1;
	} else if (connect(*c, (struct sockaddr *)&a, al)) {
		return -1;
	}
	*s = accept(*ls, NULL, NULL);
	if (*s < 0 || write(*c, buf, 1000) != 1000 || read(*s, buf, 1000) <= 0 ||
	    write(*s, buf, sizeof(buf)) != (ssize_t)sizeof(buf))
		return -1;
	return 0;
}

static int bring_up_lo(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), err;

	strcpy(ifr.ifr_name, "lo");
	err = fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP;
	err = err || ioctl(fd, SIOCSIFFLAGS, &ifr);
	if (fd >= 0)
		close(fd);
	return err ? -1 : 0;
}

static int setup(void)
{
	if (unshare(CLONE_NEWNET) || bring_up_lo()) {
		fprintf(stderr, "cannot make a network namespace: %s\n", strerror(errno));
		return -1;
	}
	lk = mig_lookup__open_and_load();
	it = mig_iter__open_and_load();
	if (!lk || !it) {
		fprintf(stderr, "cannot load the programs: %s\n", strerror(errno));
		return -1;
	}
	it_link = bpf_program__attach_iter(it->progs.mig_iter_tcp, NULL);
	if (libbpf_get_error(it_link)) {
		it_link = NULL;
		fprintf(stderr, "cannot attach the iterator\n");
		return -1;
	}
	return 0;
}

/* Both ends of a pair: the lookup's record is the iterator's. */
static void same_as_iter(int *unit_failed, const char *what, int c, int s)
{
	int fds[2] = { c, s }, i;

	for (i = 0; i < 2; i++) {
		struct mig_tuple t;
		struct mig_sockinfo a, b;
		int r1, r2;

		tuple_of(fds[i], &t);
		r1 = lookup(&t, &a);
		r2 = iter_find(&t, &b);
		CHECK(r1 == 1, "%s, %s: lookup %d", what, i ? "server" : "client", r1);
		CHECK(r2 == 1, "%s, %s: iterator %d", what, i ? "server" : "client", r2);
		if (r1 == 1 && r2 == 1)
			CHECK(unit_memeq(&a, &b, sizeof(a), "record"), "%s, %s: lookup and iterator differ",
			      what, i ? "server" : "client");
		CHECK(r1 != 1 || (a.state == 1 && !memcmp(&a.tuple, &t, sizeof(t))),
		      "%s: state %u, or another tuple", what, a.state);
	}
}

TEST(lookup_matches_iterator)
{
	int ls, c, s;

	CHECK(pair(AF_INET, false, AF_INET, &ls, &c, &s) == 0, "IPv4 pair: %s", strerror(errno));
	same_as_iter(unit_failed, "IPv4", c, s);
	close(c), close(s), close(ls);
	CHECK(pair(AF_INET6, false, AF_INET6, &ls, &c, &s) == 0, "IPv6 pair: %s", strerror(errno));
	same_as_iter(unit_failed, "IPv6", c, s);
	close(c), close(s), close(ls);
	/* the server's socket is IPv6 with IPv4-mapped addresses: keyed IPv4 */
	CHECK(pair(AF_INET6, true, AF_INET, &ls, &c, &s) == 0, "mapped pair: %s", strerror(errno));
	same_as_iter(unit_failed, "IPv4 peer of an IPv6 socket", c, s);
	{
		struct mig_tuple t;

		tuple_of(s, &t);
		CHECK(t.family == AF_INET, "the mapped server socket keys as IPv4");
	}
	close(c), close(s), close(ls);
}

TEST(lookup_refuses_others)
{
	struct mig_sockinfo si;
	struct mig_tuple t, u;
	int ls, c, s;

	CHECK(pair(AF_INET, false, AF_INET, &ls, &c, &s) == 0, "pair: %s", strerror(errno));
	tuple_of(c, &t);
	u = t;
	u.rport = htons(ntohs(t.rport) ^ 1);     /* no such connection */
	CHECK(lookup(&u, &si) == 0, "a tuple no connection has was found");
	tuple_of(s, &u);
	u.rport = htons(ntohs(u.rport) ^ 1);     /* only the listener answers */
	CHECK(lookup(&u, &si) == 0, "a listener was reported for a connection's tuple");
	u = t;
	u.family = 0;
	CHECK(lookup(&u, &si) == 0, "a tuple of no family was found");
	/* the one that exists still is */
	CHECK(lookup(&t, &si) == 1 && !memcmp(&si.tuple, &t, sizeof(t)), "the client");
	/* closed: gone, or time-wait (never reported) */
	close(c);
	close(s);
	CHECK(lookup(&t, &si) == 0 || si.state != 1, "a closed socket reported established");
	close(ls);
}

int main(int argc, char **argv)
{
	int i, passed = 0, failed = 0;
	const char *only = argc > 1 ? argv[1] : NULL;

	if (setup())
		return EXIT_FAILURE;
	for (i = 0; i < unit_ntests; i++) {
		int f = 0;

		if (only && strcmp(only, unit_tests[i].name))
			continue;
		unit_tests[i].fn(&f);
		printf("%s %s\n", f ? "FAIL" : "ok  ", unit_tests[i].name);
		f ? failed++ : passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	bpf_link__destroy(it_link);
	mig_iter__destroy(it);
	mig_lookup__destroy(lk);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
