/* uring_accept LPORT HOST PORT — a bind shell whose accept the shim cannot
 * see (tests/func/kev_uring_accept.sh): listens on LPORT with libc's calls,
 * accepts one connection by io_uring (IORING_OP_ACCEPT through liburing),
 * reads it to EOF ("orders: TEXT" on stderr), closes it and the listener,
 * then connects to HOST:PORT (numeric) with libc's connect() and holds it
 * (pause()) until killed.
 *   uring_accept LPORT HOST PORT direct — the accept into a fixed file slot
 * (IORING_OP_ACCEPT with a direct descriptor: no fd number, nothing in
 * /proc/PID/fd), the orders read by IORING_OP_RECV on that slot; the
 * connection is kept (in its slot) while it connects to HOST:PORT. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe = NULL;
	if (argc != 4 && (argc != 5 || strcmp(argv[4], "direct")))
		return 2;
	int direct = argc == 5;
	struct sockaddr_in l = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1]))};
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[3]))};
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1 || lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&l, sizeof(l)) != 0 || listen(lfd, 1) != 0 ||
	    io_uring_queue_init(4, &ring, 0) < 0) {
		perror("uring_accept: setup");
		return 1;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	if (direct) {
		if (io_uring_register_files_sparse(&ring, 1) < 0) {
			fprintf(stderr, "uring_accept: register_files_sparse failed\n");
			return 1;
		}
		io_uring_prep_accept_direct(sqe, lfd, NULL, NULL, 0, 0);
	} else {
		io_uring_prep_accept(sqe, lfd, NULL, NULL, 0);
	}
	io_uring_submit(&ring);
	if (io_uring_wait_cqe(&ring, &cqe) < 0 || cqe->res < 0) {
		fprintf(stderr, "uring_accept: accept: %s\n", cqe ? strerror(-cqe->res) : "wait failed");
		return 1;
	}
	int fd = cqe->res;
	io_uring_cqe_seen(&ring, cqe);
	char buf[512];
	size_t n = 0;
	ssize_t r;
	if (direct) { /* slot 0: read by IORING_OP_RECV on the fixed file */
		for (;;) {
			sqe = io_uring_get_sqe(&ring);
			io_uring_prep_recv(sqe, 0, buf + n, sizeof(buf) - 1 - n, 0);
			sqe->flags |= IOSQE_FIXED_FILE;
			io_uring_submit(&ring);
			if (io_uring_wait_cqe(&ring, &cqe) < 0)
				return 1;
			r = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			if (r <= 0 || (n += (size_t)r) >= sizeof(buf) - 1)
				break;
		}
	} else {
		while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
	}
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	close(lfd);
	fprintf(stderr, "orders: %s\n", buf);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("uring_accept: connect");
		return 1;
	}
	fprintf(stderr, "connected\n");
	for (;;)
		pause();
}
