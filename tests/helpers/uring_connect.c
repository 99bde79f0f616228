/* uring_connect ADDR PORT — one TCP connection made by io_uring
 * (IORING_OP_CONNECT through liburing), then held (pause()) until killed
 * (tests/func/kev_uring.sh). The socket is made by socket(2), the connect
 * never goes through libc's connect(): the shim does not see it. */
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
	struct io_uring_cqe *cqe;
	if (argc != 3)
		return 2;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || io_uring_queue_init(4, &ring, 0) < 0) {
		fprintf(stderr, "uring_connect: setup failed\n");
		return 1;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
	io_uring_prep_connect(sqe, fd, (struct sockaddr *)&sa, sizeof sa);
	io_uring_submit(&ring);
	if (io_uring_wait_cqe(&ring, &cqe) < 0 || cqe->res < 0) {
		fprintf(stderr, "uring_connect: connect: %s\n", cqe ? strerror(-cqe->res) : "wait failed");
		return 1;
	}
	io_uring_cqe_seen(&ring, cqe);
	fprintf(stderr, "uring_connect: connected\n");
	for (;;)
		pause();
}
