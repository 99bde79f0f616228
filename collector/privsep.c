/*
 * privsep.c — the wire of the monitor↔child channel (privsep.h): sending a
 * message or a chunked text, reassembling a text with every length, offset
 * and id checked; endpoint conversion; and the child's privilege drop.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hoptrace/chain.h"
#include "hoptrace/log.h"
#include "privsep.h"

static int send_one(int fd, const void *a, size_t alen, const void *b, size_t blen, int sfd)
{
	struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = blen ? 2 : 1};
	if (sfd >= 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = sizeof(cb.b);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sfd, sizeof(int));
	}
	for (;;) {
		ssize_t r = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (r >= 0)
			return (size_t)r == alen + blen ? 0 : (errno = EMSGSIZE, -1);
		if (errno != EINTR)
			return -1;
	}
}

int ps_send(int fd, pthread_mutex_t *mu, const void *msg, size_t len, int sfd)
{
	if (mu)
		pthread_mutex_lock(mu);
	int rv = send_one(fd, msg, len, NULL, 0, sfd);
	if (mu)
		pthread_mutex_unlock(mu);
	return rv;
}

int ps_send_text(int fd, pthread_mutex_t *mu, const void *head, size_t hlen, const char *text,
		 size_t len)
{
	const struct ps_hdr *h = head;
	int rv = 0;
	if (len > PS_TEXT_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (mu)
		pthread_mutex_lock(mu);
	if (send_one(fd, head, hlen, NULL, 0, -1) != 0)
		rv = -1;
	for (size_t off = 0; rv == 0 && off < len; off += PS_CHUNK) {
		size_t k = len - off < PS_CHUNK ? len - off : PS_CHUNK;
		struct ps_chunk c = {{PS_MAGIC, PS_CHUNK_MSG, h->id}, (uint32_t)off, (uint32_t)k};
		if (send_one(fd, &c, sizeof(c), text + off, k, -1) != 0)
			rv = -1;
	}
	if (mu)
		pthread_mutex_unlock(mu);
	return rv;
}

void ps_text_reset(struct ps_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

int ps_text_begin(struct ps_text *t, const void *msg, size_t len, uint32_t tlen, char *why,
		  size_t n)
{
	const struct ps_hdr *h = msg;
	if (t->active) {
		snprintf(why, n, "a new message inside a text");
		return -1;
	}
	if (tlen > PS_TEXT_MAX || len > sizeof(t->head)) {
		snprintf(why, n, "text length %u over %u", tlen, PS_TEXT_MAX);
		return -1;
	}
	t->buf = malloc((size_t)tlen + 1);
	if (!t->buf) {
		snprintf(why, n, "out of memory");
		return -1;
	}
	t->active = 1;
	t->type = h->type;
	t->id = h->id;
	t->len = tlen;
	t->got = 0;
	t->buf[0] = 0;
	memcpy(t->head, msg, len);
	return tlen == 0 ? 1 : 0;
}

int ps_text_add(struct ps_text *t, const void *msg, size_t len, char *why, size_t n)
{
	const struct ps_chunk *c = msg;
	if (!t->active || len < sizeof(*c) || c->h.type != PS_CHUNK_MSG) {
		snprintf(why, n, "chunk outside a text");
		return -1;
	}
	if (c->h.id != t->id || c->off != t->got || c->len == 0 || c->len > PS_CHUNK ||
	    c->len > t->len - t->got || len != sizeof(*c) + c->len) {
		snprintf(why, n, "chunk id/offset/length wrong (id %llu off %u len %u)",
			 (unsigned long long)c->h.id, c->off, c->len);
		return -1;
	}
	memcpy(t->buf + t->got, c + 1, c->len);
	t->got += c->len;
	if (t->got < t->len)
		return 0;
	t->buf[t->len] = 0;
	if (memchr(t->buf, 0, t->len)) {
		snprintf(why, n, "NUL inside a text");
		return -1;
	}
	return 1;
}

int ps_addr_from_text(const char *s, struct ps_addr *a)
{
	struct ht_endpoint ep;
	memset(a, 0, sizeof(*a));
	if (!s || ht_endpoint_parse(s, &ep) != 0)
		return -1;
	a->family = ep.family == AF_INET ? 4 : 6;
	a->port = ep.port;
	memcpy(a->a, ep.addr, ep.family == AF_INET ? 4 : 16);
	return 0;
}

int ps_addr_text(const struct ps_addr *a, char *out, size_t n)
{
	struct ht_endpoint ep = {.family = a->family == 4 ? AF_INET : AF_INET6, .port = a->port};
	memcpy(ep.addr, a->a, a->family == 4 ? 4 : 16);
	ht_endpoint_format(&ep, out, n);
	return 0;
}

int ps_addr_same_ip(const struct ps_addr *x, const struct ps_addr *y)
{
	return x->family == y->family && (x->family == 4 || x->family == 6) &&
	       memcmp(x->a, y->a, x->family == 4 ? 4 : 16) == 0;
}

int ps_addr_valid(const struct ps_addr *a, int needport)
{
	static const uint8_t zero[12];
	if (a->family != 4 && a->family != 6)
		return 0;
	if (a->family == 4 && memcmp(a->a + 4, zero, 12) != 0)
		return 0;
	if (a->pad)
		return 0;
	return !needport || a->port != 0;
}

int ps_drop(const char *user, const char *dir, int nofile, char *err, size_t n)
{
	struct passwd *pw = getpwnam(user);
	if (!pw && !strcmp(user, "hoptrace")) {
		/* the package makes the user; a build-tree run may not have it */
		log_warnx("inquiry user hoptrace does not exist: the child runs as nobody, which "
			 "other nobody processes can signal (adduser --system --group hoptrace)");
		pw = getpwnam("nobody");
	}
	if (!pw) {
		snprintf(err, n, "inquiry user %s: no such user", user);
		return -1;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (uid == 0) {
		snprintf(err, n, "inquiry user %s is root", user);
		return -1;
	}
	struct stat st;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		snprintf(err, n, "mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022)) {
		snprintf(err, n, "chroot %s: not a directory only root can write", dir);
		return -1;
	}
	if (nofile > 0) {
		struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (chroot(dir) != 0 || chdir("/") != 0) {
		snprintf(err, n, "chroot %s: %s", dir, strerror(errno));
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
		snprintf(err, n, "dropping to %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, n, "dropping to %s: root still reachable", user);
		return -1;
	}
	/* not dumpable: no process of the same uid may ptrace it or read its memory (the TLS key) */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, n, "prctl: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* in the forked child, before exec (async-signal-safe only): the socketpair end ps
 * at 3, the listening socket ls (or nothing) at PS_LISTEN_FD, nothing else */
static int child_fds(int ps, int ls)
{
	if (ls == 3 && (ls = fcntl(ls, F_DUPFD_CLOEXEC, PS_LISTEN_FD + 1)) < 0)
		return -1;
	if (ps != 3) {
		if (dup2(ps, 3) < 0)
			return -1;
	} else if (fcntl(3, F_SETFD, 0) < 0) {
		return -1;
	}
	if (ls >= 0) {
		if (ls != PS_LISTEN_FD) {
			if (dup2(ls, PS_LISTEN_FD) < 0)
				return -1;
		} else if (fcntl(ls, F_SETFD, 0) < 0) {
			return -1;
		}
	}
	/* the graph's, the guard's, the CLI's, /proc's */
	close_range(ls >= 0 ? PS_LISTEN_FD + 1 : 4, ~0U, 0);
	return 0;
}

pid_t ps_spawn(const char *mode, int ps, int ls, int fg, int verbose, const char *conffile)
{
	char *argv[16];
	int k = 0;
	argv[k++] = "hoptraced";
	argv[k++] = (char *)mode;
	argv[k++] = "3";
	if (fg)
		argv[k++] = "-d";
	for (int i = 0; i < verbose && i < 3; i++)
		argv[k++] = "-v";
	argv[k++] = "-f";
	argv[k++] = (char *)conffile;
	argv[k] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		/* only async-signal-safe calls until exec */
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (child_fds(ps, ls) != 0)
			_exit(127);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	return pid;
}
