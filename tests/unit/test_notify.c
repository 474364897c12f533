// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_notify.c - the readiness messages to the service manager
 * (user/lib/mig_notify.c): what arrives on a socket named by
 * $NOTIFY_SOCKET, as a path and as an abstract name, and the refusals.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "mig_notify.h"
#include "unit.h"

/* A datagram socket bound to name (path, or '@' + abstract name). */
static int listener(const char *name)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	memcpy(sun.sun_path, name, len);
	if (name[0] == '@')
		sun.sun_path[0] = '\0';
	if (bind(fd, (struct sockaddr *)&sun,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/')))) {
		close(fd);
		return -1;
	}
	return fd;
}

static ssize_t got(int fd, char *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

TEST(path_socket)
{
	char path[108], buf[256];
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/mig-notify-%d", tmp && *tmp ? tmp : "/tmp", (int)getpid());
	unlink(path);
	fd = listener(path);
	CHECK(fd >= 0, "bind %s", path);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK(mig_notify("READY=1") == 0, "sent");
	CHECK(got(fd, buf, sizeof(buf)) == 7 && !strcmp(buf, "READY=1"), "got '%s'", buf);
	CHECK(mig_notify_reloading() == 0, "sent");
	got(fd, buf, sizeof(buf));
	CHECK(!strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27) &&
	      strtoull(buf + 27, NULL, 10) > 0, "got '%s'", buf);
	close(fd);
	unlink(path);
	/* nobody listens any more: an error, never a wait */
	CHECK(mig_notify("STOPPING=1") < 0, "sent to nobody");
	unsetenv("NOTIFY_SOCKET");
}

TEST(abstract_socket)
{
	char name[64], buf[64];
	int fd;

	snprintf(name, sizeof(name), "@mig-notify-test-%d", (int)getpid());
	fd = listener(name);
	CHECK(fd >= 0, "bind %s", name);
	setenv("NOTIFY_SOCKET", name, 1);
	CHECK(mig_notify("STOPPING=1") == 0, "sent");
	CHECK(got(fd, buf, sizeof(buf)) == 10 && !strcmp(buf, "STOPPING=1"), "got '%s'", buf);
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

TEST(no_manager_and_bad_names)
{
	char longname[200];

	unsetenv("NOTIFY_SOCKET");
	CHECK(mig_notify("READY=1") == 1, "no manager: nothing sent");
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK(mig_notify("READY=1") == 1, "empty: nothing sent");
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK(mig_notify("READY=1") == -EINVAL, "relative path refused");
	setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
	CHECK(mig_notify("READY=1") == -EINVAL, "vsock refused");
	setenv("NOTIFY_SOCKET", "@", 1);
	CHECK(mig_notify("READY=1") == -EINVAL, "empty abstract name refused");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	CHECK(mig_notify("READY=1") == -EINVAL, "path longer than sun_path refused");
	unsetenv("NOTIFY_SOCKET");
}

UNIT_MAIN()
