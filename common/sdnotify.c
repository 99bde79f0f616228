/*
 * sdnotify.c — implements include/hoptrace/sdnotify.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hoptrace/sdnotify.h"

int ht_sd_notify(const char *state)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n;
	int fd, rc;

	if (!e || !*e)
		return 1;
	n = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || n >= sizeof(a.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(a.sun_path, e, n);
	if (e[0] == '@')
		a.sun_path[0] = '\0';
	socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (e[0] == '/'));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&a, al) ==
		     (ssize_t)strlen(state)
		     ? 0
		     : -1;
	int se = errno;
	close(fd);
	errno = se;
	return rc;
}

uint64_t ht_sd_watchdog_usec(void)
{
	const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (!u || !*u)
		return 0;
	if (p && *p) {
		errno = 0;
		long pid = strtol(p, &end, 10);
		if (errno || *end || pid != (long)getpid())
			return 0;
	}
	errno = 0;
	v = strtoull(u, &end, 10);
	if (errno || *end || u[0] == '-')
		return 0;
	return (uint64_t)v;
}
