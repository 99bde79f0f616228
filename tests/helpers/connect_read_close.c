/* connect_read_close HOST_A PORT_A HOST_B PORT_B [shut] — the RAT pattern: connect
 * to A, read one line (its "orders", echoed to stderr as "orders: LINE"), close
 * that connection, then connect to B and relay stdin -> B and B -> stdout until
 * EOF on either side. Prints "relaying" to stderr once connected to B. With
 * "shut": first sends "ready\n" to A and shuts its side down (shutdown(SHUT_WR):
 * A sees EOF), then reads the orders. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int dial(const char *h, const char *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, e = getaddrinfo(h, p, &hints, &res);
	if (e) { fprintf(stderr, "connect_read_close: %s:%s: %s\n", h, p, gai_strerror(e)); return -1; }
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
		close(fd); fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) fprintf(stderr, "connect_read_close: cannot connect to %s:%s\n", h, p);
	return fd;
}

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
	if ((argc != 5 && argc != 6) || (argc == 6 && strcmp(argv[5], "shut"))) {
		fprintf(stderr, "usage: connect_read_close HOST_A PORT_A HOST_B PORT_B [shut]\n");
		return 2;
	}
	int a = dial(argv[1], argv[2]);
	if (a < 0) return 1;
	if (argc == 6 && (write(a, "ready\n", 6) != 6 || shutdown(a, SHUT_WR) != 0)) {
		perror("connect_read_close: ready");
		return 1;
	}
	char line[1024];
	size_t n = 0;
	while (n < sizeof line - 1) {
		ssize_t r = read(a, line + n, 1);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0 || line[n] == '\n') break;
		n++;
	}
	line[n] = 0;
	close(a);
	fprintf(stderr, "orders: %s\n", line);
	int b = dial(argv[3], argv[4]);
	if (b < 0) return 1;
	fprintf(stderr, "relaying\n");
	struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
		if (p[1].revents && copy(b, 1) < 0) break;
		if (p[0].revents && copy(0, b) < 0) { shutdown(b, SHUT_WR); p[0].fd = -1; }
	}
	close(b);
	return 0;
}
