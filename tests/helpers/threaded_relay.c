/* threaded_relay LISTEN_PORT HOST PORT — a multi-threaded relay for the chain
 * tests: the main thread accepts ONE TCP connection on LISTEN_PORT (IPv6
 * dual-stack), then a different thread connects to HOST:PORT and relays both
 * ways until either side closes. Prints "listening PORT" once ready (stdout,
 * flushed) and "connected" once the outbound connection is up. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *host, *port;
static int in_fd = -1;

static int dial(const char *h, const char *p)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	int fd = -1, e = getaddrinfo(h, p, &hints, &res);
	if (e) { fprintf(stderr, "threaded_relay: %s:%s: %s\n", h, p, gai_strerror(e)); return -1; }
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
		close(fd); fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int pump(int from, int to)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof buf);
	if (n <= 0) return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0) { if (errno == EINTR) continue; return -1; }
		off += w;
	}
	return 0;
}

static void relay(int a, int b)
{
	struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };
	for (;;) {
		if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; return; }
		if (p[0].revents && pump(a, b) < 0) break;
		if (p[1].revents && pump(b, a) < 0) break;
	}
	shutdown(a, SHUT_RDWR);
	shutdown(b, SHUT_RDWR);
}

static void *worker(void *arg)
{
	int out = dial(host, port);
	if (out < 0) { perror("threaded_relay: connect"); return (void *)1; }
	printf("connected\n");
	fflush(stdout);
	relay(in_fd, out);
	close(out);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) { fprintf(stderr, "usage: threaded_relay LISTEN_PORT HOST PORT\n"); return 2; }
	host = argv[2]; port = argv[3];
	int ls = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0;
	if (ls < 0) { perror("socket"); return 1; }
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = in6addr_any,
				   .sin6_port = htons((unsigned short)atoi(argv[1])) };
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1)) { perror("bind/listen"); return 1; }
	printf("listening %s\n", argv[1]);
	fflush(stdout);
	in_fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	if (in_fd < 0) { perror("accept"); return 1; }
	close(ls);
	pthread_t t;
	void *rv = NULL;
	if (pthread_create(&t, NULL, worker, NULL)) { fprintf(stderr, "pthread_create failed\n"); return 1; }
	pthread_join(t, &rv);
	close(in_fd);
	return rv ? 1 : 0;
}
