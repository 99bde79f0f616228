/*
 * syn_client — makes one TCP connection the way an attacker of the guard
 * would (tests/func/attack_syn_data.sh), and prints what became of it.
 *
 *   syn_client MODE ADDR PORT [HOP] [SIZE]
 *
 * MODE (all unprivileged):
 *   connect      plain connect()
 *   tfo_nocookie TCP_FASTOPEN_NO_COOKIE + sendto(MSG_FASTOPEN) of SIZE bytes
 *   msg_fastopen sendmsg(MSG_FASTOPEN) of SIZE bytes (needs tcp_fastopen & 5)
 *   tfo_connect  TCP_FASTOPEN_CONNECT, connect(), write() of SIZE bytes
 *   ipopts       40 bytes of IPv4 options (record route), then as tfo_nocookie
 *   lsrr / ssrr  IPv4 loose / strict source route through HOP, then connect()
 *   v6ext        an IPv6 segment routing header of SIZE bytes whose segments
 *                are all ADDR (no detour), then as tfo_nocookie (600 bytes)
 *   srh          an IPv6 segment routing header through HOP, then connect()
 *   srh0         a segment routing header with segments_left 0 and HOP as
 *                segments[0]: the SYN goes to HOP only (the kernel puts ADDR
 *                in the header's segments[0]), with 600 bytes of Fast Open
 *                data (TCP_FASTOPEN_NO_COOKIE)
 *   uring        io_uring IORING_OP_CONNECT (raw syscalls, no liburing)
 *
 * The data sent is an HTTP request (GET /, padded to SIZE bytes, default
 * 600), so the web servers of tests/lib/guardnet.sh answer it.
 * Prints one line: "ok N" (connected, N bytes of answer read), "refused",
 * "reset", "timeout", "error:WHAT errno-text". Exit 0 for ok, 1 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef TCP_FASTOPEN_CONNECT
#define TCP_FASTOPEN_CONNECT 30
#endif
#ifndef TCP_FASTOPEN_NO_COOKIE
#define TCP_FASTOPEN_NO_COOKIE 34
#endif
#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

static int fam;
static struct sockaddr_storage dst;
static socklen_t dlen;

static int result(const char *what, int err)
{
	if (err == ECONNREFUSED)
		printf("refused\n");
	else if (err == ECONNRESET || err == EPIPE)
		printf("reset\n");
	else if (err == ETIMEDOUT || err == EAGAIN || err == EINPROGRESS)
		printf("timeout\n");
	else
		printf("error:%s %s\n", what, strerror(err));
	return 1;
}

static void mkaddr(const char *a, int port, struct sockaddr_storage *ss, socklen_t *l)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(a, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, a, &s6->sin6_addr) != 1)
			exit((fprintf(stderr, "bad address %s\n", a), 2));
		*l = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, a, &s4->sin_addr) != 1)
			exit((fprintf(stderr, "bad address %s\n", a), 2));
		*l = sizeof(*s4);
	}
}

/* After the connection is made (or the data is on its way): the answer. */
static int finish(int fd, int wrote)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	if (!wrote && send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0)
		return result("send", errno);
	char buf[4096];
	long n = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	for (;;) {
		int r = poll(&p, 1, 4000);
		if (r == 0)
			return n ? (printf("ok %ld\n", n), 0) : result("read", ETIMEDOUT);
		ssize_t k = recv(fd, buf, sizeof(buf), 0);
		if (k < 0)
			return n ? (printf("ok %ld\n", n), 0) : result("read", errno);
		if (k == 0)
			break;
		n += k;
	}
	printf("ok %ld\n", n);
	return 0;
}

static char *payload(size_t size)
{
	static const char head[] = "GET / HTTP/1.0\r\nX-Pad: ";
	char *b = malloc(size + 1);
	if (!b || size < sizeof(head) + 4)
		exit((fprintf(stderr, "size too small\n"), 2));
	memset(b, 'a', size);
	memcpy(b, head, sizeof(head) - 1);
	memcpy(b + size - 4, "\r\n\r\n", 4);
	return b;
}

static int send_fastopen(int fd, size_t size, int use_msg)
{
	char *b = payload(size);
	ssize_t n;
	if (use_msg) {
		struct iovec iov = {b, size};
		struct msghdr m = {.msg_name = &dst, .msg_namelen = dlen, .msg_iov = &iov, .msg_iovlen = 1};
		n = sendmsg(fd, &m, MSG_FASTOPEN | MSG_NOSIGNAL);
	} else {
		n = sendto(fd, b, size, MSG_FASTOPEN | MSG_NOSIGNAL, (struct sockaddr *)&dst, dlen);
	}
	free(b);
	if (n < 0)
		return result("sendto", errno);
	return finish(fd, 1);
}

static void setopt(int fd, int lvl, int name, const void *v, socklen_t l, const char *what)
{
	if (setsockopt(fd, lvl, name, v, l) < 0) {
		printf("error:setsockopt-%s %s\n", what, strerror(errno));
		exit(1);
	}
}

/* IPv4 options: a source route through hop (type 0x83 LSRR / 0x89 SSRR), or
 * 40 bytes of record route. The kernel takes the route's first address as
 * the first hop and writes the socket's destination into the last slot. */
static void ip_options(int fd, int type, const char *hop)
{
	uint8_t o[40];
	socklen_t n;
	memset(o, 0, sizeof(o));
	if (type) {
		struct in_addr h;
		if (inet_pton(AF_INET, hop, &h) != 1)
			exit((fprintf(stderr, "bad hop %s\n", hop), 2));
		o[0] = IPOPT_NOP;
		o[1] = (uint8_t)type, o[2] = 7, o[3] = 4;
		memcpy(o + 4, &h, 4);
		n = 8;
	} else {
		o[0] = IPOPT_NOP;
		o[1] = IPOPT_RR, o[2] = 39, o[3] = 4; /* 9 empty slots */
		n = 40;
	}
	setopt(fd, IPPROTO_IP, IP_OPTIONS, o, n, "IP_OPTIONS");
}

/* An IPv6 segment routing header (type 4): segments[0] is replaced by the
 * kernel with the socket's destination; the SYN goes to
 * segments[segments_left]. size: the header's length in bytes. */
static void srh0(int fd, const char *hop)
{
	uint8_t h[24] = {0, 2, 4, 0, 0};
	if (inet_pton(AF_INET6, hop, h + 8) != 1)
		exit((fprintf(stderr, "bad hop %s\n", hop), 2));
	setopt(fd, IPPROTO_IPV6, IPV6_RTHDR, h, sizeof(h), "IPV6_RTHDR");
}

static void srh(int fd, const char *hop, size_t size)
{
	size_t nseg = hop ? 2 : (size - 8) / 16;
	size_t len = 8 + nseg * 16;
	uint8_t *h = calloc(1, len);
	struct sockaddr_in6 *d = (struct sockaddr_in6 *)&dst;
	h[0] = 0;                       /* next header: the kernel fills it */
	h[1] = (uint8_t)(len / 8 - 1);  /* hdrlen */
	h[2] = 4;                       /* type: SRH */
	h[3] = hop ? 1 : 0;             /* segments_left */
	h[4] = (uint8_t)(nseg - 1);     /* first_segment (last_entry) */
	for (size_t i = 0; i < nseg; i++)
		memcpy(h + 8 + 16 * i, &d->sin6_addr, 16);
	if (hop && inet_pton(AF_INET6, hop, h + 8 + 16) != 1)
		exit((fprintf(stderr, "bad hop %s\n", hop), 2));
	setopt(fd, IPPROTO_IPV6, IPV6_RTHDR, h, (socklen_t)len, "IPV6_RTHDR");
	free(h);
}

/* ---- io_uring, by hand ---------------------------------------------------- */

static int uring_connect(int fd)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	int r = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (r < 0)
		return result("io_uring_setup", errno);
	size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	uint8_t *sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r,
			   IORING_OFF_SQ_RING);
	uint8_t *cq = mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r,
			   IORING_OFF_CQ_RING);
	struct io_uring_sqe *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe),
					 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r,
					 IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return result("io_uring mmap", errno);
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
	unsigned *mask = (unsigned *)(sq + p.sq_off.ring_mask);
	unsigned *array = (unsigned *)(sq + p.sq_off.array);
	unsigned t = __atomic_load_n(tail, __ATOMIC_ACQUIRE), i = t & *mask;
	memset(&sqes[i], 0, sizeof(sqes[i]));
	sqes[i].opcode = IORING_OP_CONNECT;
	sqes[i].fd = fd;
	sqes[i].addr = (uint64_t)(uintptr_t)&dst;
	sqes[i].off = dlen; /* addr2: the address length */
	array[i] = i;
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, r, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return result("io_uring_enter", errno);
	unsigned *chead = (unsigned *)(cq + p.cq_off.head);
	struct io_uring_cqe *cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
	int res = cqes[*chead & cmask].res;
	__atomic_store_n(chead, *chead + 1, __ATOMIC_RELEASE);
	close(r);
	if (res < 0)
		return result("io_uring connect", -res);
	return finish(fd, 0);
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: syn_client MODE ADDR PORT [HOP] [SIZE]\n");
		return 2;
	}
	const char *mode = argv[1], *hop = argc > 4 && strcmp(argv[4], "-") ? argv[4] : NULL;
	size_t size = argc > 5 ? (size_t)atol(argv[5]) : 600;
	mkaddr(argv[2], atoi(argv[3]), &dst, &dlen);
	fam = dst.ss_family;
	int fd = socket(fam, SOCK_STREAM, 0), one = 1;
	if (fd < 0)
		return result("socket", errno);
	struct timeval tv = {.tv_sec = 4};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

	if (!strcmp(mode, "connect") || !strcmp(mode, "lsrr") || !strcmp(mode, "ssrr") ||
	    !strcmp(mode, "srh")) {
		if (!strcmp(mode, "lsrr") || !strcmp(mode, "ssrr")) {
			if (!hop)
				return 2;
			ip_options(fd, mode[0] == 'l' ? IPOPT_LSRR : IPOPT_SSRR, hop);
		} else if (!strcmp(mode, "srh")) {
			if (!hop)
				return 2;
			srh(fd, hop, 0);
		}
		if (connect(fd, (struct sockaddr *)&dst, dlen) < 0)
			return result("connect", errno);
		return finish(fd, 0);
	}
	if (!strcmp(mode, "tfo_nocookie")) {
		setopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one), "NO_COOKIE");
		return send_fastopen(fd, size, 0);
	}
	if (!strcmp(mode, "msg_fastopen"))
		return send_fastopen(fd, size, 1);
	if (!strcmp(mode, "tfo_connect")) {
		setopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &one, sizeof(one), "FASTOPEN_CONNECT");
		if (connect(fd, (struct sockaddr *)&dst, dlen) < 0)
			return result("connect", errno);
		char *b = payload(size);
		/* the write sends the SYN, with the data */
		ssize_t n = write(fd, b, size);
		free(b);
		if (n < 0)
			return result("write", errno);
		return finish(fd, 1);
	}
	if (!strcmp(mode, "ipopts")) {
		ip_options(fd, 0, NULL);
		setopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one), "NO_COOKIE");
		return send_fastopen(fd, size, 0);
	}
	if (!strcmp(mode, "v6ext")) {
		srh(fd, NULL, argc > 5 ? size : 1024);
		setopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one), "NO_COOKIE");
		return send_fastopen(fd, 600, 0);
	}
	if (!strcmp(mode, "srh0")) {
		if (!hop)
			return 2;
		srh0(fd, hop);
		setopt(fd, IPPROTO_TCP, TCP_FASTOPEN_NO_COOKIE, &one, sizeof(one), "NO_COOKIE");
		return send_fastopen(fd, size, 0);
	}
	if (!strcmp(mode, "uring"))
		return uring_connect(fd);
	fprintf(stderr, "unknown mode %s\n", mode);
	return 2;
}
