/* sockdiag_test.c — common/sockdiag.c against real sockets of this netns */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoptrace/sockdiag.h"
#include "test.h"

static uint64_t ino_of(int fd)
{
	struct stat sb;
	if (fstat(fd, &sb) < 0)
		return 0;
	return (uint64_t)sb.st_ino;
}

struct conn {
	int lfd, cfd, afd;
	int family;
	uint8_t caddr[16], saddr[16];
	uint16_t cport, sport;
};

static void addr_of(const struct sockaddr_storage *ss, int family, uint8_t *a, uint16_t *port)
{
	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		memcpy(a, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;
		memcpy(a, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
	}
	(void)family;
}

/* listener on `laddr` (family lfam), client of family cfam connecting to `dst` */
static int mkconn(struct conn *c, int lfam, const char *laddr, int cfam, const char *dst)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(c, 0, sizeof(*c));
	c->lfd = c->cfd = c->afd = -1;
	c->lfd = socket(lfam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->lfd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (lfam == AF_INET) {
		struct sockaddr_in *s4 = (void *)&ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, laddr, &s4->sin_addr);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)&ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, laddr, &s6->sin6_addr);
		sl = sizeof(*s6);
	}
	if (bind(c->lfd, (void *)&ss, sl) < 0 || listen(c->lfd, 4) < 0)
		return -1;
	sl = sizeof(ss);
	getsockname(c->lfd, (void *)&ss, &sl);
	uint16_t port = lfam == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
					: ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	c->cfd = socket(cfam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->cfd < 0)
		return -1;
	memset(&ss, 0, sizeof(ss));
	if (cfam == AF_INET) {
		struct sockaddr_in *s4 = (void *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, dst, &s4->sin_addr);
		sl = sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (void *)&ss;
		int off = 0;
		setsockopt(c->cfd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, dst, &s6->sin6_addr);
		sl = sizeof(*s6);
	}
	if (connect(c->cfd, (void *)&ss, sl) < 0)
		return -1;
	c->afd = accept(c->lfd, NULL, NULL);
	if (c->afd < 0)
		return -1;
	c->family = cfam;
	sl = sizeof(ss);
	getsockname(c->cfd, (void *)&ss, &sl);
	addr_of(&ss, cfam, c->caddr, &c->cport);
	sl = sizeof(ss);
	getpeername(c->cfd, (void *)&ss, &sl);
	addr_of(&ss, cfam, c->saddr, &c->sport);
	return 0;
}

static void closeconn(struct conn *c)
{
	if (c->lfd >= 0)
		close(c->lfd);
	if (c->cfd >= 0)
		close(c->cfd);
	if (c->afd >= 0)
		close(c->afd);
}

static void test_v4_lookup(void)
{
	struct conn c;
	struct sd_inet s;
	int nl = sd_open();
	CHECK(nl >= 0);
	CHECK_EQ_INT(mkconn(&c, AF_INET, "127.0.0.1", AF_INET, "127.0.0.1"), 0);
	/* the client's view */
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET, c.caddr, c.cport, c.saddr, c.sport, &s), 0);
	CHECK_EQ_INT(s.ino, ino_of(c.cfd));
	CHECK_EQ_INT(s.family, AF_INET);
	CHECK_EQ_INT(s.state, TCP_ESTABLISHED);
	CHECK_EQ_INT(s.uid, getuid());
	CHECK_EQ_INT(s.lport, c.cport);
	CHECK_EQ_INT(s.rport, c.sport);
	CHECK(memcmp(s.laddr, c.caddr, 4) == 0 && memcmp(s.raddr, c.saddr, 4) == 0);
	/* the accepted side's view */
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET, c.saddr, c.sport, c.caddr, c.cport, &s), 0);
	CHECK_EQ_INT(s.ino, ino_of(c.afd));
	/* wrong port */
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET, c.caddr, c.cport, c.saddr, 1, &s), -ENOENT);
	/* the same socket asked with IPv4-mapped IPv6 addresses */
	uint8_t ml[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, mr[16];
	memcpy(mr, ml, 12);
	memcpy(ml + 12, c.caddr, 4);
	memcpy(mr + 12, c.saddr, 4);
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET6, ml, c.cport, mr, c.sport, &s), 0);
	CHECK_EQ_INT(s.ino, ino_of(c.cfd));
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_UNIX, ml, 1, mr, 2, &s), -EAFNOSUPPORT);
	closeconn(&c);
	close(nl);
}

static int have_v6(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	int ok = fd >= 0 && bind(fd, (void *)&s6, sizeof(s6)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static void test_v6_lookup(void)
{
	struct conn c;
	struct sd_inet s;
	int nl = sd_open();
	if (!have_v6()) {
		printf("    skip: no IPv6 loopback (::1) in this netns\n");
		close(nl);
		return;
	}
	CHECK_EQ_INT(mkconn(&c, AF_INET6, "::1", AF_INET6, "::1"), 0);
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET6, c.caddr, c.cport, c.saddr, c.sport, &s), 0);
	CHECK_EQ_INT(s.ino, ino_of(c.cfd));
	CHECK_EQ_INT(s.family, AF_INET6);
	CHECK_EQ_INT(s.state, TCP_ESTABLISHED);
	CHECK(memcmp(s.laddr, c.caddr, 16) == 0 && memcmp(s.raddr, c.saddr, 16) == 0);
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET6, c.saddr, c.sport, c.caddr, c.cport, &s), 0);
	CHECK_EQ_INT(s.ino, ino_of(c.afd));
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET6, c.caddr, c.cport, c.saddr, 1, &s), -ENOENT);
	closeconn(&c);
	close(nl);
}

/* a dual-stack AF_INET6 client talking to an IPv4 listener */
static void test_dual_stack(void)
{
	struct conn c;
	struct sd_inet s;
	int nl = sd_open();
	if (!have_v6()) {
		printf("    skip: no IPv6\n");
		close(nl);
		return;
	}
	CHECK_EQ_INT(mkconn(&c, AF_INET, "127.0.0.1", AF_INET6, "::ffff:127.0.0.1"), 0);
	/* as the client sees it: mapped addresses */
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET6, c.caddr, c.cport, c.saddr, c.sport, &s), 0);
	CHECK_EQ_INT(s.ino, ino_of(c.cfd));
	CHECK_EQ_INT(s.family, AF_INET); /* normalised */
	CHECK(memcmp(s.laddr, c.caddr + 12, 4) == 0);
	static const uint8_t zero[12];
	CHECK(memcmp(s.laddr + 4, zero, 12) == 0);
	/* as the wire sees it: plain IPv4 */
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET, c.caddr + 12, c.cport, c.saddr + 12, c.sport, &s),
		     0);
	CHECK_EQ_INT(s.ino, ino_of(c.cfd));
	closeconn(&c);
	close(nl);
}

struct dump_ctx {
	uint64_t want[4];
	int seen[4];
	int n, states_bad;
	uint32_t mask;
	int stop_after;
};

static int dump_cb(void *ctx, const struct sd_inet *s)
{
	struct dump_ctx *d = ctx;
	d->n++;
	if (d->mask && !(d->mask & (1u << s->state)))
		d->states_bad++;
	for (int i = 0; i < 4; i++)
		if (d->want[i] && s->ino == d->want[i])
			d->seen[i]++;
	return d->stop_after && d->n >= d->stop_after ? 42 : 0;
}

static void test_dump(void)
{
	struct conn c4, c6;
	int nl = sd_open(), v6 = have_v6();
	CHECK_EQ_INT(mkconn(&c4, AF_INET, "127.0.0.1", AF_INET, "127.0.0.1"), 0);
	if (v6)
		CHECK_EQ_INT(mkconn(&c6, AF_INET6, "::1", AF_INET6, "::1"), 0);

	struct dump_ctx d = {.want = {ino_of(c4.cfd), ino_of(c4.lfd), v6 ? ino_of(c6.cfd) : 0,
				      v6 ? ino_of(c6.lfd) : 0},
			     .mask = 1u << TCP_ESTABLISHED};
	CHECK_EQ_INT(sd_inet_dump(nl, 0, d.mask, dump_cb, &d), 0);
	CHECK_EQ_INT(d.seen[0], 1);
	CHECK_EQ_INT(d.seen[1], 0); /* the listener is not ESTABLISHED */
	CHECK_EQ_INT(d.seen[2], v6 ? 1 : 0);
	CHECK_EQ_INT(d.states_bad, 0);

	memset(d.seen, 0, sizeof(d.seen));
	d.mask = 1u << TCP_LISTEN;
	CHECK_EQ_INT(sd_inet_dump(nl, AF_INET, d.mask, dump_cb, &d), 0);
	CHECK_EQ_INT(d.seen[0], 0);
	CHECK_EQ_INT(d.seen[1], 1);
	CHECK_EQ_INT(d.seen[3], 0); /* v4 only */

	memset(d.seen, 0, sizeof(d.seen));
	d.mask = 0;
	d.n = 0;
	CHECK_EQ_INT(sd_inet_dump(nl, 0, 0, dump_cb, &d), 0);
	CHECK_EQ_INT(d.seen[0], 1);
	CHECK_EQ_INT(d.seen[1], 1);
	CHECK(d.n >= 3);

	/* stopping early returns the callback's value and leaves the socket usable */
	d.n = 0;
	d.stop_after = 1;
	CHECK_EQ_INT(sd_inet_dump(nl, 0, 0, dump_cb, &d), 42);
	CHECK_EQ_INT(d.n, 1);
	struct sd_inet s;
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET, c4.caddr, c4.cport, c4.saddr, c4.sport, &s), 0);
	CHECK_EQ_INT(s.ino, ino_of(c4.cfd));
	CHECK_EQ_INT(sd_inet_dump(nl, AF_UNIX, 0, dump_cb, &d), -EAFNOSUPPORT);

	closeconn(&c4);
	if (v6)
		closeconn(&c6);
	close(nl);
}

/* many sockets: the dump spans several netlink messages (multipart) */
static void test_dump_multipart(void)
{
	enum { N = 200 };
	int fds[N], nl = sd_open(), made = 0;
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	for (int i = 0; i < N; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] >= 0 && bind(fds[i], (void *)&s4, sizeof(s4)) == 0 &&
		    listen(fds[i], 1) == 0)
			made++;
	}
	struct dump_ctx d = {.mask = 1u << TCP_LISTEN};
	CHECK_EQ_INT(sd_inet_dump(nl, AF_INET, d.mask, dump_cb, &d), 0);
	CHECK(d.n >= made);
	CHECK_EQ_INT(made, N);
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	close(nl);
}

static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) != 0)
		return -1;
	return ti.tcpi_state;
}

/* A socket in SYN_SENT, made on loopback so that no route or far firewall
 * decides it (an unreachable test address answered by an ICMP error or a RST
 * on some networks moved the socket to CLOSE before the lookup): a listener
 * that never accepts, with backlog 0, drops further SYNs once its accept
 * queue is full, and those clients stay in SYN_SENT, retransmitting. */
static void test_syn_sent(void)
{
	enum { MAXC = 8 };
	int nl = sd_open(), lfd = socket(AF_INET, SOCK_STREAM, 0), c[MAXC], nc = 0, syn = -1;
	struct sockaddr_in dst = {.sin_family = AF_INET};
	socklen_t dl = sizeof(dst);
	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	CHECK_EQ_INT(bind(lfd, (void *)&dst, sizeof(dst)), 0);
	CHECK_EQ_INT(listen(lfd, 0), 0);
	CHECK_EQ_INT(getsockname(lfd, (void *)&dst, &dl), 0);
	while (nc < MAXC && syn < 0) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		c[nc++] = fd;
		int r = connect(fd, (void *)&dst, sizeof(dst));
		CHECK(r == 0 || errno == EINPROGRESS);
		poll(NULL, 0, 50); /* loopback answers in microseconds when it answers */
		if (tcp_state(fd) == TCP_SYN_SENT)
			syn = fd;
	}
	CHECK(syn >= 0);
	if (syn >= 0) {
		struct sockaddr_in me;
		socklen_t sl = sizeof(me);
		getsockname(syn, (void *)&me, &sl);
		struct sd_inet s;
		CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET, (uint8_t *)&me.sin_addr, ntohs(me.sin_port),
					    (uint8_t *)&dst.sin_addr, ntohs(dst.sin_port), &s),
			     0);
		CHECK_EQ_INT(s.state, TCP_SYN_SENT);
		CHECK_EQ_INT(s.ino, ino_of(syn));
	}
	for (int i = 0; i < nc; i++)
		close(c[i]);
	close(lfd);
	close(nl);
}

/* sd_inet_of_fd: the socket asked through a copy of its descriptor — the
 * same 4-tuple the kernel's table gives; no connection, not TCP, another
 * inode, no such fd each say so */
static void test_of_fd(void)
{
	struct conn c;
	struct sd_inet s, d;
	int nl = sd_open();
	CHECK(nl >= 0);
	CHECK_EQ_INT(mkconn(&c, AF_INET, "127.0.0.1", AF_INET, "127.0.0.1"), 0);
	memset(&s, 0xaa, sizeof(s));
	int rc = sd_inet_of_fd(getpid(), c.cfd, ino_of(c.cfd), &s, NULL, NULL);
	if (rc == -1 && errno == ENOSYS) {
		printf("  (no pidfd_getfd here)\n");
		closeconn(&c);
		close(nl);
		return;
	}
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(sd_inet_lookup(nl, AF_INET, c.caddr, c.cport, c.saddr, c.sport, &d), 0);
	CHECK_EQ_INT(s.family, d.family);
	CHECK_EQ_INT(s.state, TCP_ESTABLISHED);
	CHECK_EQ_INT(s.ino, d.ino);
	CHECK_EQ_INT(s.lport, c.cport);
	CHECK_EQ_INT(s.rport, c.sport);
	CHECK(memcmp(s.laddr, c.caddr, 4) == 0 && memcmp(s.raddr, c.saddr, 4) == 0);
	/* the accepted end */
	CHECK_EQ_INT(sd_inet_of_fd(getpid(), c.afd, ino_of(c.afd), &s, NULL, NULL), 0);
	CHECK_EQ_INT(s.lport, c.sport);
	CHECK_EQ_INT(s.rport, c.cport);
	/* another inode than the fd's now (the fd was reused): not answered */
	CHECK_EQ_INT(sd_inet_of_fd(getpid(), c.cfd, ino_of(c.afd), &s, NULL, NULL), -1);
	/* the listener, an unconnected TCP socket, a unix socket: no connection */
	CHECK_EQ_INT(sd_inet_of_fd(getpid(), c.lfd, ino_of(c.lfd), &s, NULL, NULL), 1);
	int u = socket(AF_INET, SOCK_STREAM, 0), sp[2];
	CHECK_EQ_INT(sd_inet_of_fd(getpid(), u, ino_of(u), &s, NULL, NULL), 1);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	CHECK_EQ_INT(sd_inet_of_fd(getpid(), sp[0], ino_of(sp[0]), &s, NULL, NULL), 1);
	/* a pipe, a closed fd, a process that is not there */
	int pp[2];
	CHECK_EQ_INT(pipe(pp), 0);
	CHECK_EQ_INT(sd_inet_of_fd(getpid(), pp[0], ino_of(pp[0]), &s, NULL, NULL), -1);
	int gone = dup(u);
	close(gone);
	CHECK_EQ_INT(sd_inet_of_fd(getpid(), gone, ino_of(u), &s, NULL, NULL), -1);
	CHECK_EQ_INT(sd_inet_of_fd(0x3fffffff, 3, 1, &s, NULL, NULL), -1);
	/* nothing of the copies is left behind */
	int probe = dup(0);
	CHECK(probe == gone || probe < gone + 1);
	close(probe);
	close(u);
	close(sp[0]);
	close(sp[1]);
	close(pp[0]);
	close(pp[1]);
	closeconn(&c);
	close(nl);
}

static void test_unix_peer(void)
{
	int sp[2], nl = sd_open();
	uint64_t peer = 0;
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	CHECK_EQ_INT(sd_unix_peer(nl, ino_of(sp[0]), &peer), 0);
	CHECK_EQ_INT(peer, ino_of(sp[1]));
	CHECK_EQ_INT(sd_unix_peer(nl, ino_of(sp[1]), &peer), 0);
	CHECK_EQ_INT(peer, ino_of(sp[0]));
	/* an unconnected socket has no peer; a non-socket inode is not found,
	 * nor is a TCP socket */
	int u = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_EQ_INT(sd_unix_peer(nl, ino_of(u), &peer), -ENOTCONN);
	int t = socket(AF_INET, SOCK_STREAM, 0);
	CHECK_EQ_INT(sd_unix_peer(nl, ino_of(t), &peer), -ENOENT);
	close(t);
	CHECK_EQ_INT(sd_unix_peer(nl, 1, &peer), -ENOENT);
	CHECK_EQ_INT(sd_unix_peer(nl, 1ULL << 40, &peer), -ENOENT);
	/* works after a stale late answer would have been queued: repeat a lot */
	for (int i = 0; i < 1000; i++)
		if (sd_unix_peer(nl, ino_of(sp[0]), &peer) != 0 || peer != ino_of(sp[1])) {
			CHECK(0);
			break;
		}
	close(u);
	close(sp[0]);
	close(sp[1]);
	close(nl);
}

/* A connection its listener has not accepted yet: the kernel reports the
 * peer (an embryo socket with no file) as inode 0 — not "no peer" (-EAGAIN,
 * ask again) — and the accepted socket once accepted; a socket whose peer
 * closed, and a listener, have none (-ENOTCONN). The collector's record
 * sockets are such connections while it lags (graph_sock.c). */
/* A datagram socket nothing can come in through (the shim's doorbell: made,
 * sent from, closed) against every way one can: a name, a peer, a datagram
 * waiting from a peer since gone. */
static void test_unix_dead_end(void)
{
	int nl = sd_open(), one = 1;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "ht-deadend-%d", (int)getpid());
	socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
	int rx = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_EQ_INT(bind(rx, (struct sockaddr *)&a, al), 0);
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(rx)), 0); /* bound: anyone may send to it */
	int bell = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(bell)), 1);
	CHECK_EQ_INT((int)sendto(bell, "x", 1, 0, (struct sockaddr *)&a, al), 1);
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(bell)), 1); /* a sender stays nameless */
	int pc = socket(AF_UNIX, SOCK_DGRAM, 0); /* SO_PASSCRED: autobound at its send */
	CHECK_EQ_INT(setsockopt(pc, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)), 0);
	CHECK_EQ_INT((int)sendto(pc, "x", 1, 0, (struct sockaddr *)&a, al), 1);
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(pc)), 0);
	int cn = socket(AF_UNIX, SOCK_DGRAM, 0);
	CHECK_EQ_INT(connect(cn, (struct sockaddr *)&a, al), 0);
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(cn)), 0); /* connected: a peer */
	int sp[2];
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_DGRAM, 0, sp), 0);
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(sp[0])), 0);
	CHECK_EQ_INT((int)send(sp[1], "y", 1, 0), 1);
	close(sp[1]); /* its datagram is still queued on sp[0], which has no peer now */
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(sp[0])), 0);
	char c;
	CHECK_EQ_INT((int)recv(sp[0], &c, 1, 0), 1);
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(sp[0])), 1);
	int st = socket(AF_UNIX, SOCK_STREAM, 0); /* not a datagram socket */
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(st)), 0);
	int t = socket(AF_INET, SOCK_DGRAM, 0); /* not a unix socket */
	CHECK_EQ_INT(sd_unix_dead_end(nl, ino_of(t)), -ENOENT);
	close(t);
	close(st);
	close(sp[0]);
	close(cn);
	close(pc);
	close(bell);
	close(rx);
	close(nl);
}

static void test_unix_peer_unaccepted(void)
{
	static const int types[] = {SOCK_STREAM, SOCK_SEQPACKET};
	int nl = sd_open();
	uint64_t peer = 0;
	for (int i = 0; i < 2; i++) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "ht-sockdiag-test-%d-%d", (int)getpid(), i);
		socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
		int l = socket(AF_UNIX, types[i], 0), c = socket(AF_UNIX, types[i], 0);
		CHECK_EQ_INT(bind(l, (struct sockaddr *)&a, al), 0);
		CHECK_EQ_INT(listen(l, 4), 0);
		CHECK_EQ_INT(connect(c, (struct sockaddr *)&a, al), 0);
		CHECK_EQ_INT(sd_unix_peer(nl, ino_of(c), &peer), -EAGAIN);
		CHECK_EQ_INT(sd_unix_peer(nl, ino_of(l), &peer), -ENOTCONN);
		int s = accept(l, NULL, NULL);
		CHECK(s >= 0);
		CHECK_EQ_INT(sd_unix_peer(nl, ino_of(c), &peer), 0);
		CHECK_EQ_INT(peer, ino_of(s));
		close(s);
		CHECK_EQ_INT(sd_unix_peer(nl, ino_of(c), &peer), -ENOTCONN); /* its peer closed */
		close(c);
		close(l);
	}
	int sp[2];
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	close(sp[1]);
	CHECK_EQ_INT(sd_unix_peer(nl, ino_of(sp[0]), &peer), -ENOTCONN);
	close(sp[0]);
	close(nl);
}

static void test_local_addrs(void)
{
	uint8_t a[16];
	CHECK_EQ_INT(sd_local_addrs_refresh(), 0);
	inet_pton(AF_INET, "127.0.0.1", a);
	CHECK_EQ_INT(sd_is_local_addr(AF_INET, a), 1);
	inet_pton(AF_INET, "127.1.2.3", a);
	CHECK_EQ_INT(sd_is_local_addr(AF_INET, a), 1);
	inet_pton(AF_INET6, "::1", a);
	CHECK_EQ_INT(sd_is_local_addr(AF_INET6, a), 1);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", a);
	CHECK_EQ_INT(sd_is_local_addr(AF_INET6, a), 1);
	inet_pton(AF_INET, "192.0.2.1", a);
	CHECK_EQ_INT(sd_is_local_addr(AF_INET, a), 0);
	inet_pton(AF_INET6, "2001:db8::1", a);
	CHECK_EQ_INT(sd_is_local_addr(AF_INET6, a), 0);
	CHECK_EQ_INT(sd_is_local_addr(AF_UNIX, a), 0);
	/* every address getifaddrs knows is local (v4 also in mapped form) */
	struct ifaddrs *ifs, *i;
	int n = 0;
	CHECK_EQ_INT(getifaddrs(&ifs), 0);
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const uint8_t *p = (const uint8_t *)&((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			uint8_t m[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
			memcpy(m + 12, p, 4);
			CHECK_EQ_INT(sd_is_local_addr(AF_INET, p), 1);
			CHECK_EQ_INT(sd_is_local_addr(AF_INET6, m), 1);
			n++;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			CHECK_EQ_INT(sd_is_local_addr(AF_INET6,
				(const uint8_t *)&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr), 1);
			n++;
		}
	}
	freeifaddrs(ifs);
	printf("    %d interface addresses checked\n", n);
}

static void test_open(void)
{
	int nl = sd_open();
	CHECK(nl >= 0);
	int fl = fcntl(nl, F_GETFD);
	CHECK(fl >= 0 && (fl & FD_CLOEXEC));
	struct timeval tv;
	socklen_t l = sizeof(tv);
	CHECK_EQ_INT(getsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, &l), 0);
	CHECK_EQ_INT(tv.tv_sec, 1);
	/* a bad fd gives -errno, not a hang */
	struct sd_inet s;
	uint8_t z[16] = {0};
	CHECK_EQ_INT(sd_inet_lookup(-1, AF_INET, z, 1, z, 2, &s), -EBADF);
	close(nl);
}

T_MAIN("sockdiag", T(test_open), T(test_v4_lookup), T(test_v6_lookup), T(test_dual_stack),
       T(test_dump), T(test_dump_multipart), T(test_syn_sent), T(test_of_fd), T(test_unix_peer), T(test_unix_dead_end), T(test_unix_peer_unaccepted),
       T(test_local_addrs))
