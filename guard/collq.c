/*
 * collq.c — implements collq.h: the guard's "who" over SEQPACKET.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/record.h"
#include "collq.h"

int collq_init(struct collq *c, const char *name)
{
	c->fd = -1;
	c->stale = 0;
	c->seq = 0;
	c->force = 0;
	c->code = HT_QE_OK;
	memset(&c->head, 0, sizeof(c->head));
	snprintf(c->name, sizeof(c->name), "%s", name ? name : HT_QUERY_SOCKET);
	c->buf = malloc(HT_QUERY_MAX + 1);
	return c->buf ? 0 : -1;
}

void collq_close(struct collq *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

static void drop(struct collq *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->stale = 0;
}

#define UNREACH "collector unreachable: "

/* a connection to sa whose peer is root (or us); -1 with err and *code set */
static int dial_checked(const struct sockaddr_un *sa, socklen_t sl, const char *shown, char *err,
			size_t errlen, enum ht_qerr *code)
{
	*code = HT_QE_UNREACHABLE;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		snprintf(err, errlen, UNREACH "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)sa, sl) < 0) {
		snprintf(err, errlen, UNREACH "%s: %s", shown, strerror(errno));
		close(fd);
		return -1;
	}
	/* an abstract name is anybody's to bind first (while the collector
	 * restarts, or before it starts): talk to a collector run by root (or
	 * by us) only */
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
	    (cr.uid != 0 && cr.uid != geteuid())) {
		*code = HT_QE_NOT_ROOT;
		snprintf(err, errlen, UNREACH "%s is not served by root (uid %d)", shown,
			 cl == sizeof(cr) ? (int)cr.uid : -1);
		close(fd);
		return -1;
	}
	*code = HT_QE_OK;
	return fd;
}

int collq_connect(struct collq *c, char *err, size_t errlen)
{
	/* first the name's path, which nobody else can bind (include/hoptrace/
	 * record.h "Names nobody else can bind": a squatter of the abstract name
	 * then does not even see us), then the abstract name itself */
	struct sockaddr_un sa;
	struct stat ns;
	char e1[256] = "";
	enum ht_qerr c1 = HT_QE_UNREACHABLE, c2;
	int fd = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t k = stat("/proc/self/ns/net", &ns) == 0
			   ? ht_run_path(sa.sun_path, sizeof(sa.sun_path), c->name, "", (uint64_t)ns.st_ino)
			   : 0;
	if (k)
		fd = dial_checked(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + k + 1),
				  sa.sun_path, e1, sizeof(e1), &c1);
	if (fd < 0) {
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		size_t n = strlen(c->name);
		memcpy(sa.sun_path + 1, c->name, n);
		char shown[120];
		snprintf(shown, sizeof(shown), "@%s", c->name);
		fd = dial_checked(&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n), shown,
				  err, errlen, &c2);
		c->code = c2;
		if (fd < 0 && k && c1 == HT_QE_NOT_ROOT) {
			/* both said: the path's squatter is news too */
			size_t l = strlen(err);
			snprintf(err + l, errlen > l ? errlen - l : 0, "; %s", e1 + strlen(UNREACH));
			c->code = HT_QE_NOT_ROOT;
		}
	}
	if (fd < 0)
		return -1;
	c->code = HT_QE_OK;
	c->fd = fd;
	return 0;
}

/* Is the answer whose head is h the answer to question id? Answers lead
 * with {"id":N; one without an id (a request the collector could not read)
 * is taken when no other answer is outstanding. */
static int answer_is(const struct ht_qhead *h, unsigned long long id, int stale)
{
	return h->has_id ? h->id == id : stale == 0;
}

static long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

long collq_who(struct collq *c, const char *local, const char *remote, unsigned long timeout_ms,
	       char *err, size_t errlen)
{
	return collq_who_or(c, local, remote, timeout_ms, err, errlen, -1, NULL, NULL, 0);
}

/* The who request for the next question (c->seq); its length, or -1 with
 * the failure in c->code and err. */
static int who_request(struct collq *c, const char *local, const char *remote,
		       unsigned long timeout_ms, char *req, size_t reqlen, char *err, size_t errlen)
{
	if (c->seq >= HT_QID_MAX) /* (never: 2^53 questions) */
		c->seq = 0;
	struct ht_qreq q = {.op = HT_QOP_WHO, .has_id = 1, .id = ++c->seq,
			    .deadline_ms = timeout_ms, .force = c->force};
	c->force = 0;
	int n = -1;
	size_t ll = strnlen(local, sizeof(q.local)), rl = strnlen(remote, sizeof(q.remote));
	if (ll < sizeof(q.local) && rl < sizeof(q.remote)) {
		memcpy(q.local, local, ll + 1);
		memcpy(q.remote, remote, rl + 1);
		n = ht_qreq_build(req, reqlen, &q);
	}
	if (n < 0) {
		c->code = HT_QE_BAD_REQUEST;
		snprintf(err, errlen, "bad request: endpoints %.64s %.64s", local, remote);
	}
	return n;
}

/* poll() on p[0..np) for at most left ms — spinning first, awake, until
 * *spin_until (then 0): an answer to a thread that is not asleep needs no
 * cross-CPU wake-up (10-30 us on a VM); yielding, so a collector woken on
 * this CPU runs at once. */
static int wait_ready(struct pollfd *p, nfds_t np, long left, long *spin_until)
{
	int r = 0;
	if (*spin_until) {
		while ((r = poll(p, np, 0)) == 0 && now_us() < *spin_until)
			sched_yield();
		if (r == 0)
			*spin_until = 0;
	}
	if (r == 0)
		r = poll(p, np, (int)left);
	return r;
}

enum take { TAKE_MINE, TAKE_OTHER, TAKE_RETRY, TAKE_FAIL };

/* Reads one datagram: this question's answer (TAKE_MINE, its length in
 * *len, c->code its code), another's (TAKE_OTHER: the answer to a question
 * answered elsewhere or no longer waited for — its id is not this one's),
 * or the connection's end (TAKE_RETRY when a fresh one may be tried,
 * TAKE_FAIL with err). */
static enum take take_answer(struct collq *c, unsigned long long id, int may_retry, long *len,
			     char *err, size_t errlen)
{
	ssize_t got = recv(c->fd, c->buf, HT_QUERY_MAX, MSG_TRUNC);
	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return TAKE_OTHER;
	if (got <= 0) {
		c->code = HT_QE_CLOSED;
		snprintf(err, errlen, "collector closed the connection%s%s", got < 0 ? ": " : "",
			 got < 0 ? strerror(errno) : "");
		drop(c);
		return may_retry && got == 0 ? TAKE_RETRY : TAKE_FAIL;
	}
	size_t have = got > HT_QUERY_MAX ? HT_QUERY_MAX : (size_t)got;
	enum ht_qerr hc = ht_qhead_parse(c->buf, have, &c->head);
	if (!answer_is(&c->head, id, c->stale)) {
		if (c->stale > 0)
			c->stale--;
		return TAKE_OTHER;
	}
	if (got > HT_QUERY_MAX) {
		c->code = HT_QE_TOO_LARGE;
		snprintf(err, errlen, "%s", ht_qerr_text(HT_QE_TOO_LARGE));
		return TAKE_FAIL;
	}
	c->buf[got] = 0;
	c->code = hc == HT_QE_OK ? c->head.code : HT_QE_BAD_ANSWER;
	*len = (long)got;
	return TAKE_MINE;
}

long collq_who_or(struct collq *c, const char *local, const char *remote,
		  unsigned long timeout_ms, char *err, size_t errlen, int alt_fd,
		  int (*alt)(void *arg), void *arg, long spin_us)
{
	char req[256];
	int n = who_request(c, local, remote, timeout_ms, req, sizeof(req), err, errlen);
	if (n < 0)
		return -1;
	unsigned long long id = c->seq;
	long deadline = now_ms() + (long)timeout_ms;
	long spin_until = spin_us > 0 ? now_us() + spin_us : 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && collq_connect(c, err, errlen))
			return -1;
		if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
			/* a collector restart leaves a dead connection: retry once */
			c->code = HT_QE_UNREACHABLE;
			snprintf(err, errlen, UNREACH "send: %s", strerror(errno));
			drop(c);
			continue;
		}
		for (;;) {
			long left = deadline - now_ms(), len = -1;
			if (left <= 0) {
				c->code = HT_QE_TIMEOUT;
				snprintf(err, errlen, "no answer from collector within %lu ms",
					 timeout_ms);
				drop(c);
				return -1;
			}
			struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
					      {.fd = alt_fd, .events = POLLIN}};
			int r = wait_ready(p, alt_fd >= 0 ? 2 : 1, left, &spin_until);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				c->code = HT_QE_UNREACHABLE;
				snprintf(err, errlen, "poll: %s", strerror(errno));
				drop(c);
				return -1;
			}
			if (r == 0)
				continue;
			if (alt_fd >= 0 && p[1].revents) {
				int a = p[1].revents & POLLIN ? alt(arg) : -1;
				if (a > 0) {
					c->stale++;
					c->code = HT_QE_OK;
					return COLLQ_ELSEWHERE;
				}
				if (a < 0 || p[1].revents & (POLLNVAL | POLLERR | POLLHUP))
					alt_fd = -1; /* gone: wait for the collector alone */
			}
			if (!p[0].revents)
				continue;
			enum take t = take_answer(c, id, attempt == 0, &len, err, errlen);
			if (t == TAKE_MINE)
				return len;
			if (t == TAKE_FAIL)
				return -1;
			if (t == TAKE_RETRY)
				break; /* retry once on a fresh connection */
		}
	}
	return -1;
}

int collq_subscribe(struct collq *c, int timeout_ms, char *err, size_t errlen)
{
	char req[64];
	struct ht_qreq q = {.op = HT_QOP_SUBSCRIBE};
	int n = ht_qreq_build(req, sizeof(req), &q);
	if (c->fd < 0 && collq_connect(c, err, errlen))
		return -1;
	if (send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		c->code = HT_QE_UNREACHABLE;
		snprintf(err, errlen, UNREACH "send: %s", strerror(errno));
		drop(c);
		return -1;
	}
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	int r;
	while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
		;
	if (r != 1) {
		c->code = HT_QE_TIMEOUT;
		snprintf(err, errlen, "no answer from collector within %d ms", timeout_ms);
		drop(c);
		return -1;
	}
	ssize_t got = recv(c->fd, c->buf, HT_QUERY_MAX, MSG_DONTWAIT | MSG_TRUNC);
	if (got <= 0) {
		c->code = HT_QE_CLOSED;
		snprintf(err, errlen, "collector closed the connection");
		drop(c);
		return -1;
	}
	size_t have = got > HT_QUERY_MAX ? HT_QUERY_MAX : (size_t)got;
	if (ht_qhead_parse(c->buf, have, &c->head) != HT_QE_OK || got > HT_QUERY_MAX)
		c->code = HT_QE_BAD_ANSWER;
	else
		c->code = c->head.code;
	if (c->code != HT_QE_OK) {
		snprintf(err, errlen, "%s", c->head.text[0] ? c->head.text : ht_qerr_text(c->code));
		drop(c);
		return -1;
	}
	return 0;
}
