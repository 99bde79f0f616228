/*
 * sdnotify_test.c — ht_sd_notify over a path and an abstract socket, no
 * $NOTIFY_SOCKET, a bad one; ht_sd_watchdog_usec and $WATCHDOG_PID.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hoptrace/sdnotify.h"
#include "test.h"

static int listen_at(const char *name, int abstract)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	size_t n = strlen(name);
	memcpy(a.sun_path + (abstract ? 1 : 0), name, n);
	socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, al) < 0)
		return -1;
	return fd;
}

static void t_path(void)
{
	char path[64], buf[64];
	snprintf(path, sizeof(path), "/tmp/ht-sdnotify-%ld.sock", (long)getpid());
	unlink(path);
	int fd = listen_at(path, 0);
	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	CHECK_EQ_INT(ht_sd_notify("READY=1"), 0);
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CHECK_EQ_INT(n, 7);
	buf[n > 0 ? n : 0] = 0;
	CHECK_EQ_STR(buf, "READY=1");
	close(fd);
	unlink(path);
	CHECK_EQ_INT(ht_sd_notify("READY=1"), -1); /* nobody there */
}

static void t_abstract(void)
{
	char name[64], env[70], buf[64];
	snprintf(name, sizeof(name), "ht-sdnotify-%ld", (long)getpid());
	int fd = listen_at(name, 1);
	CHECK(fd >= 0);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	CHECK_EQ_INT(ht_sd_notify("WATCHDOG=1"), 0);
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = 0;
	CHECK_EQ_STR(buf, "WATCHDOG=1");
	close(fd);
}

static void t_absent_bad(void)
{
	unsetenv("NOTIFY_SOCKET");
	CHECK_EQ_INT(ht_sd_notify("READY=1"), 1);
	setenv("NOTIFY_SOCKET", "", 1);
	CHECK_EQ_INT(ht_sd_notify("READY=1"), 1);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	CHECK_EQ_INT(ht_sd_notify("READY=1"), -1);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	setenv("NOTIFY_SOCKET", longp, 1);
	CHECK_EQ_INT(ht_sd_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}

static void t_watchdog(void)
{
	char pid[32];
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	CHECK_EQ_INT(ht_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "10000000", 1);
	CHECK_EQ_INT(ht_sd_watchdog_usec(), 10000000);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	CHECK_EQ_INT(ht_sd_watchdog_usec(), 10000000);
	setenv("WATCHDOG_PID", "1", 1); /* meant for another process */
	CHECK_EQ_INT(ht_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_PID");
	setenv("WATCHDOG_USEC", "12x", 1);
	CHECK_EQ_INT(ht_sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "-5", 1);
	CHECK_EQ_INT(ht_sd_watchdog_usec(), 0);
	unsetenv("WATCHDOG_USEC");
}

T_MAIN("sdnotify", T(t_path), T(t_abstract), T(t_absent_bad), T(t_watchdog))
