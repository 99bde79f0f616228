/* static_connect ADDR PORT — built with `cc -static` by build-static.sh: a program
 * the shim cannot see (no dynamic loader, so no ld.so.preload). Connects to the
 * numeric IPv4/IPv6 ADDR:PORT and relays stdin -> socket, socket -> stdout until
 * EOF (like nc). Prints "connected" to stderr once connected. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int copy(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof buf);
	if (n <= 0) return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0) { if (errno == EINTR) continue; return -1; }
		off += w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 3) { fprintf(stderr, "usage: static_connect ADDR PORT\n"); return 2; }
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	unsigned short port = htons((unsigned short)atoi(argv[2]));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, argv[1], &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET; s4->sin_port = port; len = sizeof *s4;
	} else if (inet_pton(AF_INET6, argv[1], &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6; s6->sin6_port = port; len = sizeof *s6;
	} else { fprintf(stderr, "static_connect: %s is not a numeric address\n", argv[1]); return 2; }
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) { perror("static_connect: connect"); return 1; }
	fprintf(stderr, "connected\n");
	struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
		if (p[1].revents && copy(fd, 1) < 0) break;
		if (p[0].revents && copy(0, fd) < 0) { shutdown(fd, SHUT_WR); p[0].fd = -1; }
	}
	close(fd);
	return 0;
}
