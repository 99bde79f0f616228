/* vfork_fetch.c (tests/func/attack_review14_vfork_fetch.sh) — a vfork child fetches orders into its
 * parent's memory (vfork shares it) and _exits without exec; the parent then
 * connects onward. argv: MODE B_IP B_PORT ONWARD_IP ONWARD_PORT.
 * MODE: plain (libc connect/read/close), dup (connect, dup2 onto 7, close
 * the first, read from 7, close 7), dupfd (fcntl F_DUPFD), raw (syscall()),
 * slow (plain, 0.3 s between connect and read: its CONNECT is read before
 * the close), exec (slow, then exec of sleep 0.5 keeping the socket). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char orders[128];

static int conn(const char *ip, int port, int raw)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	inet_pton(AF_INET, ip, &a.sin_addr);
	int s = raw ? (int)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) : socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	if ((raw ? syscall(SYS_connect, s, &a, sizeof(a)) : connect(s, (struct sockaddr *)&a, sizeof(a))) != 0)
		return -1;
	return s;
}

int main(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	const char *m = argv[1];
	int raw = !strcmp(m, "raw");
	pid_t p = vfork();
	if (p == 0) {
		int s = conn(argv[2], atoi(argv[3]), raw);
		if (s >= 0) {
			int r = s;
			if (!strcmp(m, "slow") || !strcmp(m, "exec"))
				usleep(300000); /* (its CONNECT read before the close) */
			if (!strcmp(m, "dup")) {
				r = dup2(s, 7);
				close(s);
			} else if (!strcmp(m, "dupfd")) {
				r = fcntl(s, F_DUPFD, 20);
				close(s);
			}
			if (raw)
				syscall(SYS_read, r, orders, sizeof(orders) - 1);
			else
				(void)!read(r, orders, sizeof(orders) - 1);
			if (!strcmp(m, "exec")) /* (the socket kept across the exec) */
				execl("/bin/sleep", "sleep", "0.5", (char *)NULL);
			raw ? syscall(SYS_close, r) : close(r);
		}
		_exit(0);
	}
	waitpid(p, NULL, 0);
	fprintf(stderr, "orders: %s", orders);
	sleep(1);
	int s = conn(argv[4], atoi(argv[5]), 0);
	if (s < 0)
		return 1;
	pause();
	return 0;
}
