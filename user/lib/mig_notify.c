// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mig_notify.c - sd_notify(3) without libsystemd.  The protocol is one
 * datagram of newline-separated VAR=VALUE assignments to the AF_UNIX
 * socket whose path is in $NOTIFY_SOCKET ('@' first: the abstract
 * namespace).  Nothing here blocks: the socket is a datagram socket and
 * the manager reads it; a full queue is an error, not a wait.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mig_notify.h"

int mig_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len;
	socklen_t salen;
	ssize_t n;
	int fd, e;

	if (!path || !*path)
		return 1;
	len = strlen(path);
	/* a path or an abstract name; nothing else (vsock, ...) is spoken */
	if ((path[0] != '/' && path[0] != '@') || len < 2 || len > sizeof(sun.sun_path))
		return -EINVAL;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
			    (path[0] == '/' && len < sizeof(sun.sun_path)));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sun, salen);
	e = n < 0 ? -errno : (size_t)n != strlen(state) ? -EMSGSIZE : 0;
	close(fd);
	return e;
}

int mig_notify_reloading(void)
{
	struct timespec ts;
	char msg[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
		 (unsigned long long)ts.tv_nsec / 1000);
	return mig_notify(msg);
}
