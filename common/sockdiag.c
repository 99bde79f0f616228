/*
 * sockdiag.c — implements sockdiag.h with raw netlink (no libmnl).
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/sockdiag.h"

#define SD_BUF (64 * 1024)

static atomic_uint sd_seq = 1000;

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int is_v4mapped(const uint8_t *a)
{
	return memcmp(a, v4mapped_prefix, 12) == 0;
}

static int nl_socket(int proto)
{
	struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int sd_open(void)
{
	return nl_socket(NETLINK_SOCK_DIAG);
}

static int nl_send(int nl, struct nlmsghdr *h)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	ssize_t r;
	do
		r = sendto(nl, h, h->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa));
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	if ((size_t)r != h->nlmsg_len)
		return -EIO;
	return 0;
}

/*
 * Reads replies to request `seq` until NLMSG_DONE (dump) or the first reply
 * (exact request). fn is called for each data message while *stop is 0; its
 * non-zero return sets *stop and is kept, the rest is drained. Messages of other
 * sequence numbers (late answers to requests that timed out) are skipped.
 * Returns 0, -errno (from NLMSG_ERROR, the socket or a timeout).
 */
static int nl_recv(int nl, uint32_t seq, int dump,
		   int (*fn)(void *ctx, const struct nlmsghdr *h), void *ctx, int *stop)
{
	/* an exact lookup's answer is one small message: no 64 KiB malloc per
	 * SYN (it made the guard's allocator consolidate on every lookup) */
	union {
		struct nlmsghdr h; /* alignment */
		uint8_t b[32768];  /* room for a stray dump datagram too */
	} sbuf;
	size_t cap = dump ? SD_BUF : sizeof(sbuf.b);
	uint8_t *buf = dump ? malloc(SD_BUF) : sbuf.b;
	int rc = 0, done = 0;
	if (!buf)
		return -ENOMEM;
	while (!done) {
		struct sockaddr_nl from;
		struct iovec iov = {buf, cap};
		struct msghdr mh = {.msg_name = &from, .msg_namelen = sizeof(from),
				    .msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(nl, &mh, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			break;
		}
		if (n == 0) {
			rc = -EIO;
			break;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			rc = -EMSGSIZE;
			break;
		}
		if (from.nl_pid != 0) /* only the kernel talks to us */
			continue;
		for (size_t off = 0; off + sizeof(struct nlmsghdr) <= (size_t)n;
		     off += NLMSG_ALIGN(((struct nlmsghdr *)(buf + off))->nlmsg_len)) {
			struct nlmsghdr *h = (struct nlmsghdr *)(buf + off);
			if (h->nlmsg_len < sizeof(*h) || h->nlmsg_len > (size_t)n - off)
				break; /* malformed: drop the rest of this datagram */
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);
				if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					rc = -EIO;
				else if (e->error != 0 && rc == 0 && !*stop)
					rc = e->error < 0 ? e->error : -e->error;
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_NOOP)
				continue;
			if (!*stop) {
				int r = fn(ctx, h);
				if (r) {
					*stop = r;
					if (!dump) {
						done = 1;
						break;
					}
				}
			}
			if (!dump) {
				done = 1;
				break;
			}
		}
	}
	if (dump)
		free(buf);
	return rc;
}

/* ---- TCP ------------------------------------------------------------------ */

static int parse_inet(const struct nlmsghdr *h, struct sd_inet *out)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return -1;
	memset(out, 0, sizeof(*out));
	out->state = m->idiag_state;
	out->uid = m->idiag_uid;
	out->ino = m->idiag_inode;
	out->lport = ntohs(m->id.idiag_sport);
	out->rport = ntohs(m->id.idiag_dport);
	if (m->idiag_family == AF_INET) {
		out->family = AF_INET;
		memcpy(out->laddr, m->id.idiag_src, 4);
		memcpy(out->raddr, m->id.idiag_dst, 4);
	} else if (m->idiag_family == AF_INET6) {
		const uint8_t *s = (const uint8_t *)m->id.idiag_src;
		const uint8_t *d = (const uint8_t *)m->id.idiag_dst;
		if (is_v4mapped(s) && is_v4mapped(d)) {
			out->family = AF_INET;
			memcpy(out->laddr, s + 12, 4);
			memcpy(out->raddr, d + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->laddr, s, 16);
			memcpy(out->raddr, d, 16);
		}
	} else {
		return -1;
	}
	return 0;
}

struct inet_one {
	struct sd_inet *out;
	int found;
};

static int inet_one_fn(void *ctx, const struct nlmsghdr *h)
{
	struct inet_one *o = ctx;
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || parse_inet(h, o->out) < 0)
		return 0;
	o->found = 1;
	return 1;
}

int sd_inet_lookup(int nl, int family, const uint8_t *laddr, uint16_t lport,
		   const uint8_t *raddr, uint16_t rport, struct sd_inet *out)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req;
	struct inet_one o = {out, 0};
	int stop = 0, rc;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.h.nlmsg_seq = atomic_fetch_add(&sd_seq, 1);
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_sport = htons(lport);
	req.r.id.idiag_dport = htons(rport);
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (family == AF_INET6 && is_v4mapped(laddr) && is_v4mapped(raddr)) {
		/* the kernel finds dual-stack sockets by their IPv4 addresses */
		family = AF_INET;
		laddr += 12;
		raddr += 12;
	}
	if (family == AF_INET) {
		memcpy(req.r.id.idiag_src, laddr, 4);
		memcpy(req.r.id.idiag_dst, raddr, 4);
	} else if (family == AF_INET6) {
		memcpy(req.r.id.idiag_src, laddr, 16);
		memcpy(req.r.id.idiag_dst, raddr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	req.r.sdiag_family = (uint8_t)family;
	rc = nl_send(nl, &req.h);
	if (rc < 0)
		return rc;
	rc = nl_recv(nl, req.h.nlmsg_seq, 0, inet_one_fn, &o, &stop);
	if (rc < 0)
		return rc;
	return o.found ? 0 : -ENOENT;
}

int sd_inet_of_fd(pid_t pid, int fd, uint64_t ino, struct sd_inet *out,
		  void (*dispose)(void *ctx, int fd), void *ctx)
{
#if defined(SYS_pidfd_open) && defined(SYS_pidfd_getfd)
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return -1;
	int sfd = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
	close(pfd);
	if (sfd < 0)
		return -1;
	int rc = -1, dom = 0, proto = 0;
	socklen_t l = sizeof(dom);
	struct stat st;
	struct tcp_info ti;
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b), tl = sizeof(ti);
	if (fstat(sfd, &st) != 0 || !S_ISSOCK(st.st_mode) || (uint64_t)st.st_ino != ino)
		goto out; /* its fd moved on meanwhile */
	if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &dom, &l) != 0)
		goto out;
	l = sizeof(proto);
	if (getsockopt(sfd, SOL_SOCKET, SO_PROTOCOL, &proto, &l) != 0)
		goto out;
	if ((dom != AF_INET && dom != AF_INET6) || proto != IPPROTO_TCP) {
		rc = 1;
		goto out;
	}
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(sfd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0)
		goto out;
	if (ti.tcpi_state == TCP_LISTEN || ti.tcpi_state == TCP_CLOSE) {
		rc = 1; /* no connection (a dump lists no unconnected socket) */
		goto out;
	}
	if (ti.tcpi_state == TCP_SYN_SENT) {
		rc = 2; /* connecting: no data came by it yet (nor a peer name) */
		goto out;
	}
	if (getsockname(sfd, (struct sockaddr *)&a, &al) != 0 ||
	    getpeername(sfd, (struct sockaddr *)&b, &bl) != 0 || a.ss_family != dom ||
	    b.ss_family != dom)
		goto out;
	memset(out, 0, sizeof(*out));
	out->family = dom;
	out->state = ti.tcpi_state;
	out->ino = ino;
	out->uid = (uint32_t)st.st_uid;
	if (dom == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a, *y = (const void *)&b;
		memcpy(out->laddr, &x->sin_addr, 4);
		memcpy(out->raddr, &y->sin_addr, 4);
		out->lport = ntohs(x->sin_port);
		out->rport = ntohs(y->sin_port);
	} else {
		const struct sockaddr_in6 *x = (const void *)&a, *y = (const void *)&b;
		const uint8_t *la = (const uint8_t *)&x->sin6_addr, *ra = (const uint8_t *)&y->sin6_addr;
		if (is_v4mapped(la) && is_v4mapped(ra)) {
			out->family = AF_INET; /* as parse_inet reports a dual-stack socket */
			memcpy(out->laddr, la + 12, 4);
			memcpy(out->raddr, ra + 12, 4);
		} else {
			memcpy(out->laddr, la, 16);
			memcpy(out->raddr, ra, 16);
		}
		out->lport = ntohs(x->sin6_port);
		out->rport = ntohs(y->sin6_port);
	}
	rc = 0;
out:
	if (dispose)
		dispose(ctx, sfd);
	else
		close(sfd);
	return rc;
#else
	(void)pid; (void)fd; (void)ino; (void)out; (void)dispose; (void)ctx;
	return -1;
#endif
}

struct inet_dump {
	int (*cb)(void *ctx, const struct sd_inet *s);
	void *ctx;
};

static int inet_dump_fn(void *ctx, const struct nlmsghdr *h)
{
	struct inet_dump *d = ctx;
	struct sd_inet s;
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || parse_inet(h, &s) < 0)
		return 0;
	return d->cb(d->ctx, &s);
}

static int inet_dump_one(int nl, int family, uint32_t states,
			 int (*cb)(void *ctx, const struct sd_inet *s), void *ctx)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req;
	struct inet_dump d = {cb, ctx};
	int stop = 0, rc;

	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = atomic_fetch_add(&sd_seq, 1);
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = states ? states : ~0u;
	req.r.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	rc = nl_send(nl, &req.h);
	if (rc < 0)
		return rc;
	rc = nl_recv(nl, req.h.nlmsg_seq, 1, inet_dump_fn, &d, &stop);
	if (stop)
		return stop;
	return rc;
}

int sd_inet_dump(int nl, int family, uint32_t states_mask,
		 int (*cb)(void *ctx, const struct sd_inet *s), void *ctx)
{
	int rc;
	if (family != 0 && family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (family == 0 || family == AF_INET) {
		rc = inet_dump_one(nl, AF_INET, states_mask, cb, ctx);
		if (rc)
			return rc;
	}
	if (family == 0 || family == AF_INET6) {
		rc = inet_dump_one(nl, AF_INET6, states_mask, cb, ctx);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- unix ------------------------------------------------------------------ */

/* the kernel's sk_shutdown bits (RCV_SHUTDOWN | SEND_SHUTDOWN), as
 * UNIX_DIAG_SHUTDOWN reports them, and TCP_ESTABLISHED as udiag_state */
#define UD_SHUTDOWN_BOTH 3
#define UD_ESTABLISHED 1

struct unix_one {
	uint64_t ino;
	int found, has_peer, has_uid, has_name, has_rqlen;
	uint32_t rqueue;
	uint8_t type, state, shutdown;
	uint64_t peer;
	uint32_t uid;
};

static int unix_one_fn(void *ctx, const struct nlmsghdr *h)
{
	struct unix_one *o = ctx;
	const struct unix_diag_msg *m = NLMSG_DATA(h);
	if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
		return 0;
	if (m->udiag_ino != o->ino)
		return 0;
	o->found = 1;
	o->type = m->udiag_type;
	o->state = m->udiag_state;
	int alen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*m));
	for (const struct rtattr *a = (const struct rtattr *)(m + 1); RTA_OK(a, alen);
	     a = RTA_NEXT(a, alen)) {
		if (a->rta_type == UNIX_DIAG_PEER && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
			uint32_t p;
			memcpy(&p, RTA_DATA(a), sizeof(p));
			o->peer = p;
			o->has_peer = p != 0;
		}
		if (a->rta_type == UNIX_DIAG_NAME)
			o->has_name = 1;
		if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen)) {
			struct unix_diag_rqlen q;
			memcpy(&q, RTA_DATA(a), sizeof(q));
			o->rqueue = q.udiag_rqueue;
			o->has_rqlen = 1;
		}
		if (a->rta_type == UNIX_DIAG_SHUTDOWN && RTA_PAYLOAD(a) >= 1)
			o->shutdown = *(const uint8_t *)RTA_DATA(a);
		if (a->rta_type == UNIX_DIAG_UID && RTA_PAYLOAD(a) >= sizeof(uint32_t)) {
			memcpy(&o->uid, RTA_DATA(a), sizeof(o->uid));
			o->has_uid = 1;
		}
	}
	return 1;
}

static int unix_one(int nl, uint64_t ino, uint32_t show, struct unix_one *o)
{
	struct {
		struct nlmsghdr h;
		struct unix_diag_req r;
	} req;
	int stop = 0, rc;

	if (ino == 0 || ino > UINT32_MAX)
		return -ENOENT;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.h.nlmsg_flags = NLM_F_REQUEST;
	req.h.nlmsg_seq = atomic_fetch_add(&sd_seq, 1);
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_states = ~0u;
	req.r.udiag_ino = (uint32_t)ino;
	req.r.udiag_show = show;
	req.r.udiag_cookie[0] = INET_DIAG_NOCOOKIE;
	req.r.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
	rc = nl_send(nl, &req.h);
	if (rc < 0)
		return rc;
	rc = nl_recv(nl, req.h.nlmsg_seq, 0, unix_one_fn, o, &stop);
	if (rc < 0)
		return rc;
	return o->found ? 0 : -ENOENT;
}

int sd_unix_peer(int nl, uint64_t ino, uint64_t *peer_ino)
{
	struct unix_one o = {.ino = ino};
	int rc = unix_one(nl, ino, UDIAG_SHOW_PEER, &o);
	if (rc < 0)
		return rc;
	if (o.has_peer) {
		*peer_ino = o.peer;
		return 0;
	}
	/* connected, and its peer has no inode: the embryo socket of a
	 * connection the listener has not accepted yet (the kernel grafts it
	 * to a file at accept()) — the peer is not known yet, not absent. A
	 * peer that closed leaves the survivor shut down both ways. */
	if ((o.type == SOCK_STREAM || o.type == SOCK_SEQPACKET) && o.state == UD_ESTABLISHED &&
	    (o.shutdown & UD_SHUTDOWN_BOTH) != UD_SHUTDOWN_BOTH)
		return -EAGAIN;
	return -ENOTCONN;
}

int sd_unix_dead_end(int nl, uint64_t ino)
{
	struct unix_one o = {.ino = ino};
	int rc = unix_one(nl, ino, UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN, &o);
	if (rc < 0)
		return rc;
	/* (no RQLEN in the answer: the kernel does not say, so not dead) */
	return o.type == SOCK_DGRAM && !o.has_name && !o.has_peer && o.has_rqlen && o.rqueue == 0;
}

int sd_unix_uid(int nl, uint64_t ino, uint32_t *uid)
{
	struct unix_one o = {.ino = ino};
	int rc = unix_one(nl, ino, UDIAG_SHOW_UID, &o);
	if (rc < 0)
		return rc;
	if (!o.has_uid)
		return -ENOTSUP;
	*uid = o.uid;
	return 0;
}

/* ---- local addresses -------------------------------------------------------- */

#define SD_LOCAL_MAX 1024

struct local_addr {
	uint8_t family;
	uint8_t a[16];
};

static pthread_mutex_t la_lock = PTHREAD_MUTEX_INITIALIZER;
static struct local_addr la_tab[SD_LOCAL_MAX];
static size_t la_n;
static int la_loaded;
static struct timespec la_when;

struct la_collect {
	struct local_addr *tab;
	size_t n;
};

static int la_fn(void *ctx, const struct nlmsghdr *h)
{
	struct la_collect *c = ctx;
	const struct ifaddrmsg *ifa = NLMSG_DATA(h);
	const uint8_t *local = NULL, *addr = NULL;
	size_t alen;
	if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifa)))
		return 0;
	if (ifa->ifa_family == AF_INET)
		alen = 4;
	else if (ifa->ifa_family == AF_INET6)
		alen = 16;
	else
		return 0;
	int rlen = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*ifa));
	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, rlen); a = RTA_NEXT(a, rlen)) {
		if (RTA_PAYLOAD(a) < alen)
			continue;
		if (a->rta_type == IFA_LOCAL)
			local = RTA_DATA(a);
		else if (a->rta_type == IFA_ADDRESS)
			addr = RTA_DATA(a);
	}
	/* IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer's on
	 * point-to-point links); v6 has only IFA_ADDRESS */
	const uint8_t *use = local ? local : addr;
	if (use && c->n < SD_LOCAL_MAX) {
		c->tab[c->n].family = ifa->ifa_family;
		memset(c->tab[c->n].a, 0, 16);
		memcpy(c->tab[c->n].a, use, alen);
		c->n++;
	}
	return 0;
}

static int la_dump(int nl, int family, struct la_collect *c)
{
	struct {
		struct nlmsghdr h;
		struct ifaddrmsg m;
	} req;
	int stop = 0, rc;
	memset(&req, 0, sizeof(req));
	req.h.nlmsg_len = sizeof(req);
	req.h.nlmsg_type = RTM_GETADDR;
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.h.nlmsg_seq = atomic_fetch_add(&sd_seq, 1);
	req.m.ifa_family = (uint8_t)family;
	rc = nl_send(nl, &req.h);
	if (rc < 0)
		return rc;
	return nl_recv(nl, req.h.nlmsg_seq, 1, la_fn, c, &stop);
}

/* called with la_lock held */
static int la_refresh_locked(void)
{
	struct local_addr *tab = malloc(sizeof(la_tab));
	struct la_collect c = {tab, 0};
	int nl, rc;
	if (!tab)
		return -ENOMEM;
	nl = nl_socket(NETLINK_ROUTE);
	if (nl < 0) {
		free(tab);
		return nl;
	}
	rc = la_dump(nl, AF_INET, &c);
	if (rc == 0)
		rc = la_dump(nl, AF_INET6, &c);
	close(nl);
	clock_gettime(CLOCK_MONOTONIC, &la_when);
	if (rc == 0) {
		memcpy(la_tab, tab, c.n * sizeof(*tab));
		la_n = c.n;
		la_loaded = 1;
	}
	free(tab);
	return rc;
}

int sd_local_addrs_refresh(void)
{
	pthread_mutex_lock(&la_lock);
	int rc = la_refresh_locked();
	pthread_mutex_unlock(&la_lock);
	return rc;
}

static int la_find_locked(int family, const uint8_t *a)
{
	size_t alen = family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < la_n; i++)
		if (la_tab[i].family == family && memcmp(la_tab[i].a, a, alen) == 0)
			return 1;
	return 0;
}

int sd_is_local_addr(int family, const uint8_t *addr)
{
	static const uint8_t v6lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
	int found;

	if (!addr)
		return 0;
	if (family == AF_INET6 && is_v4mapped(addr)) {
		family = AF_INET;
		addr += 12;
	}
	if (family == AF_INET) {
		if (addr[0] == 127)
			return 1;
	} else if (family == AF_INET6) {
		if (memcmp(addr, v6lo, 16) == 0)
			return 1;
	} else {
		return 0;
	}
	pthread_mutex_lock(&la_lock);
	if (!la_loaded)
		la_refresh_locked();
	found = la_find_locked(family, addr);
	if (!found) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - la_when.tv_sec >= 2) {
			la_refresh_locked();
			found = la_find_locked(family, addr);
		}
	}
	pthread_mutex_unlock(&la_lock);
	return found;
}
