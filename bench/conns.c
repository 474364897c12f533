// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * conns - TCP load for the lab benchmarks (bench/tput.sh, bench/scale.sh).
 *
 *   conns serve PORT
 *       echo server (epoll): every byte received is sent back; a
 *       connection is closed when the peer closes it.  Runs until killed.
 *   conns rate ADDR PORT COUNT
 *       COUNT short connections, one after the other: connect, send one
 *       byte, read its echo, close.  Prints "CONNS SECONDS CONNS_PER_S".
 *   conns hold ADDR PORT N RATE OUT
 *       open N connections to ADDR:PORT (at most RATE new ones a second,
 *       at most 256 connecting at once), each sending one byte and
 *       reading its echo (which completes an initiator's key agreement),
 *       print "ready N" when all are up, then for each line "ping" on
 *       stdin: send one byte on
 *       every connection and wait (30 s at most) for every echo; append
 *       the CLOCK_REALTIME second of each echo, one a line ("-1" for a
 *       connection that got none within the 30 s, "-2" for one that its
 *       kernel closed or failed), then "done" to OUT, print
 *       "pinged GOT N".  "quit" or end of input: exit.
 *
 * Exit status 0 on success, 1 on a failure (said on stderr), 2 on bad
 * arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 200000
/* an echo round waits this long for the last echo (a connection that
 * died, e.g. one left plain whose server moved, never answers) */
#define PING_WAIT_S 30

static double now_mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double now_real(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "conns: bad %s '%s' (%ld..%ld)\n", what, s, lo, hi);
		exit(2);
	}
	return v;
}

static int addr_of(const char *a, long port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*s6);
		return 0;
	}
	fprintf(stderr, "conns: bad address '%s'\n", a);
	exit(2);
}

/* As many open files as MAX_CONNS needs, or as the hard limit allows
 * (some machines cap it below; scale.sh then runs more processes).
 * Returns the limit in force. */
static rlim_t raise_nofile(void)
{
	struct rlimit r = { MAX_CONNS + 64, MAX_CONNS + 64 };

	if (!setrlimit(RLIMIT_NOFILE, &r))
		return r.rlim_cur;
	if (getrlimit(RLIMIT_NOFILE, &r))
		return 1024;
	r.rlim_cur = r.rlim_max;
	setrlimit(RLIMIT_NOFILE, &r);
	return r.rlim_cur;
}

static int serve(long port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((unsigned short)port) };
	struct epoll_event ev, evs[256];
	int l, ep, one = 1, zero = 0, i, n;
	char buf[4096];

	raise_nofile();
	/* several servers may share the port (SO_REUSEPORT: the kernel
	 * spreads the connections), each within its open-file limit */
	l = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(l, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
	    setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4096)) {
		perror("conns serve: listen");
		return 1;
	}
	ep = epoll_create1(0);
	ev.events = EPOLLIN;
	ev.data.fd = l;
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev)) {
		perror("conns serve: epoll");
		return 1;
	}
	for (;;) {
		n = epoll_wait(ep, evs, 256, -1);
		if (n < 0 && errno != EINTR) {
			perror("conns serve: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			ssize_t r;

			if (fd == l) {
				int c;

				while ((c = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					ev.events = EPOLLIN;
					ev.data.fd = c;
					if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev))
						close(c);
				}
				if (errno == EMFILE || errno == ENFILE) {
					/* no more: stop accepting rather than spin */
					perror("conns serve: accept");
					epoll_ctl(ep, EPOLL_CTL_DEL, l, NULL);
				}
				continue;
			}
			r = read(fd, buf, sizeof(buf));
			if (r > 0) {
				/* one byte at a time in practice: a short write
				 * only loses echo bytes the benchmark then misses */
				if (write(fd, buf, (size_t)r) < 0 && errno != EAGAIN)
					close(fd);
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				close(fd);
			}
		}
	}
}

static int rate(const char *addr, long port, long count)
{
	struct sockaddr_storage ss;
	socklen_t len;
	double t0, dt;
	long i;
	char b = 'x';

	addr_of(addr, port, &ss, &len);
	t0 = now_mono();
	for (i = 0; i < count; i++) {
		int fd = socket(ss.ss_family, SOCK_STREAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) || write(fd, &b, 1) != 1 ||
		    read(fd, &b, 1) != 1) {
			fprintf(stderr, "conns rate: connection %ld: %s\n", i, strerror(errno));
			return 1;
		}
		close(fd);
	}
	dt = now_mono() - t0;
	printf("%ld %.3f %.1f\n", count, dt, count / dt);
	return 0;
}

enum { C_CONNECTING, C_KEYING, C_UP, C_WAIT, C_GOT, C_DEAD };

static int hold(const char *addr, long port, long n, long rate_max, const char *out)
{
	static int fds[MAX_CONNS];
	static unsigned char st[MAX_CONNS];
	static double got[MAX_CONNS];
	struct epoll_event ev, evs[512];
	struct sockaddr_storage ss;
	socklen_t len;
	long opened = 0, up = 0, dead = 0, pending = 0, i;
	double t0 = now_mono();
	char line[64];
	int ep;

	addr_of(addr, port, &ss, &len);
	if (raise_nofile() < (rlim_t)n + 16) {
		fprintf(stderr, "conns hold: %ld connections need more open files than the "
			"limit here allows (ulimit -Hn); run more processes\n", n);
		return 1;
	}
	ep = epoll_create1(0);
	if (ep < 0) {
		perror("conns hold: epoll");
		return 1;
	}
	/* open, paced */
	while (up + dead < n) {
		int k;

		while (opened < n && pending < 256 && opened < (now_mono() - t0) * rate_max + 1) {
			int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

			if (fd < 0) {
				perror("conns hold: socket");
				return 1;
			}
			if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
				fprintf(stderr, "conns hold: connect %ld: %s\n", opened, strerror(errno));
				return 1;
			}
			fds[opened] = fd;
			st[opened] = C_CONNECTING;
			ev.events = EPOLLOUT;
			ev.data.u64 = (unsigned long)opened;
			if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
				perror("conns hold: epoll_ctl");
				return 1;
			}
			opened++;
			pending++;
		}
		k = epoll_wait(ep, evs, 512, 10);
		for (i = 0; i < k; i++) {
			long c = (long)evs[i].data.u64;
			int err = 0;
			socklen_t el = sizeof(err);

			/* connected: one byte, whose echo carries the server's
			 * KEY2 (an initiator's key agreement ends with a
			 * segment of the responder; an idle server sends none,
			 * and the client's agent would hold its key as taken
			 * and not yet used, and stop refilling its pool) */
			if (st[c] == C_CONNECTING) {
				getsockopt(fds[c], SOL_SOCKET, SO_ERROR, &err, &el);
				ev.events = EPOLLIN;
				ev.data.u64 = (unsigned long)c;
				if (err || epoll_ctl(ep, EPOLL_CTL_MOD, fds[c], &ev) ||
				    write(fds[c], "k", 1) != 1) {
					st[c] = C_DEAD;
					dead++;
					pending--;
				} else {
					st[c] = C_KEYING;
				}
			} else if (st[c] == C_KEYING) {
				char r[16];
				ssize_t m = read(fds[c], r, sizeof(r));

				if (m > 0) {
					st[c] = C_UP;
					up++;
					pending--;
				} else if (m == 0 || errno != EAGAIN) {
					epoll_ctl(ep, EPOLL_CTL_DEL, fds[c], NULL);
					st[c] = C_DEAD;
					dead++;
					pending--;
				}
			}
		}
		if (now_mono() - t0 > 600) {
			fprintf(stderr, "conns hold: %ld of %ld up after 600 s\n", up, n);
			return 1;
		}
	}
	printf("ready %ld %ld %.3f\n", up, dead, now_mono() - t0);
	fflush(stdout);

	while (fgets(line, sizeof(line), stdin)) {
		long want = 0, have = 0;
		double tend;
		FILE *f;
		char b = 'p';

		if (!strncmp(line, "quit", 4))
			break;
		if (strncmp(line, "ping", 4))
			continue;
		for (i = 0; i < n; i++) {
			got[i] = -1;
			if (st[i] == C_DEAD)
				continue;
			if (write(fds[i], &b, 1) == 1) {
				st[i] = C_WAIT;
				want++;
			} else {
				st[i] = C_DEAD;
			}
		}
		tend = now_mono() + PING_WAIT_S;
		while (have < want && now_mono() < tend) {
			int k = epoll_wait(ep, evs, 512, 100);

			for (i = 0; i < k; i++) {
				long c = (long)evs[i].data.u64;
				char r[64];
				ssize_t m = read(fds[c], r, sizeof(r));

				if (m > 0 && st[c] == C_WAIT) {
					got[c] = now_real();
					st[c] = C_GOT;
					have++;
				} else if (m == 0 || (m < 0 && errno != EAGAIN)) {
					if (st[c] == C_WAIT)
						want--;
					st[c] = C_DEAD;
					epoll_ctl(ep, EPOLL_CTL_DEL, fds[c], NULL);
				}
			}
		}
		f = fopen(out, "a");
		if (!f) {
			perror("conns hold: output");
			return 1;
		}
		for (i = 0; i < n; i++) {
			fprintf(f, "%.6f\n", st[i] == C_DEAD ? -2.0 : got[i]);
			if (st[i] == C_GOT)
				st[i] = C_UP;
			else if (st[i] == C_WAIT)
				st[i] = C_UP;   /* late: it may still answer next time */
		}
		fprintf(f, "done\n");
		fclose(f);
		printf("pinged %ld %ld\n", have, n);
		fflush(stdout);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(num(argv[2], 1, 65535, "port"));
	if (argc == 5 && !strcmp(argv[1], "rate"))
		return rate(argv[2], num(argv[3], 1, 65535, "port"),
			    num(argv[4], 1, 10000000, "count"));
	if (argc == 7 && !strcmp(argv[1], "hold"))
		return hold(argv[2], num(argv[3], 1, 65535, "port"),
			    num(argv[4], 1, MAX_CONNS, "connection count"),
			    num(argv[5], 1, 1000000, "rate"), argv[6]);
	fprintf(stderr, "usage: conns serve PORT | conns rate ADDR PORT COUNT |\n"
			"       conns hold ADDR PORT N RATE OUT\n");
	return 2;
}
