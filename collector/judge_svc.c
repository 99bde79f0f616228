/*
 * judge_svc.c — the monitor's side of the judge (judge.h): starts `hoptraced -J 3` on a
 * SOCK_STREAM socketpair (a fresh image holding only 0-2 and its end), queues requests
 * without ever blocking (a bounded queue, flushed when the socket is writable; a full
 * queue means the judge is stuck: killed), reads its frames (bounded, checked) and hands
 * each verdict on, kills it on any violation, reaps it without waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "judge.h"
#include "parts.h"

#define JD_QUEUE_MAX (8u << 20) /* bytes waiting for the judge: more = stuck */
#define JD_WINDOW_NS (60ULL * 1000000000ULL)
#define JD_ZOMBIES 8

struct judge_svc {
	int epfd;
	uint32_t tag;
	char conffile[256];
	int fg, verbose;
	unsigned max_restarts;
	judge_verdict_fn fn;
	void *arg;
	int fd; /* -1: no judge */
	pid_t pid;
	unsigned char *ob; /* output queue: ob[ooff..olen) */
	size_t ooff, olen, ocap;
	int want_out;
	struct jd_reader r;
	uint64_t heard_ns;
	char have[PART_HAVE_CHARS + 1]; /* the judge's last JD_HAVE */
	uint64_t spawned[16];
	unsigned nspawn;
	pid_t zombies[JD_ZOMBIES];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct judge_svc *judge_svc_new(int epfd, uint32_t tag, const char *conffile, int fg,
				int verbose, unsigned max_restarts, judge_verdict_fn fn, void *arg)
{
	struct judge_svc *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->epfd = epfd;
	j->tag = tag;
	snprintf(j->conffile, sizeof(j->conffile), "%s", conffile);
	j->fg = fg;
	j->verbose = verbose;
	j->max_restarts = max_restarts;
	j->fn = fn;
	j->arg = arg;
	j->fd = -1;
	return j;
}

int judge_svc_up(const struct judge_svc *j)
{
	return j && j->fd >= 0;
}

const char *judge_svc_have(const struct judge_svc *j)
{
	return j && j->fd >= 0 ? j->have : "";
}

uint64_t judge_svc_heard(const struct judge_svc *j)
{
	return j->heard_ns;
}

void judge_svc_reap(struct judge_svc *j)
{
	for (int i = 0; i < JD_ZOMBIES; i++) {
		int st;
		if (j->zombies[i] > 0 && waitpid(j->zombies[i], &st, WNOHANG) != 0)
			j->zombies[i] = 0;
	}
}

/* the judge's end closed and it is reaped without waiting (a stopped or dying process
 * is retried from the tick) */
static void gone(struct judge_svc *j, const char *why, int killit)
{
	if (j->fd < 0)
		return;
	if (killit)
		kill(j->pid, SIGKILL);
	epoll_ctl(j->epfd, EPOLL_CTL_DEL, j->fd, NULL);
	close(j->fd);
	j->fd = -1;
	int st = 0;
	pid_t w = waitpid(j->pid, &st, WNOHANG);
	if (why)
		log_warnx("judge: %d killed: %s", (int)j->pid, why);
	else if (w == j->pid && WIFSIGNALED(st))
		log_warnx("judge: %d died of signal %d", (int)j->pid, WTERMSIG(st));
	else if (w == j->pid)
		log_warnx("judge: %d exited with status %d", (int)j->pid, WEXITSTATUS(st));
	else
		log_warnx("judge: %d closed its socket", (int)j->pid);
	if (w != j->pid) {
		if (!killit)
			kill(j->pid, SIGKILL);
		for (int i = 0; i < JD_ZOMBIES; i++)
			if (j->zombies[i] <= 0) {
				j->zombies[i] = j->pid;
				break;
			}
	}
	j->pid = 0;
	j->ooff = j->olen = 0;
	j->want_out = 0;
	jd_take(&j->r);
}

void judge_svc_kill(struct judge_svc *j, const char *why)
{
	if (j)
		gone(j, why ? why : "stopped", 1);
}

int judge_svc_spawn(struct judge_svc *j)
{
	if (j->fd >= 0)
		return 0;
	judge_svc_reap(j);
	uint64_t now = mono_ns();
	unsigned cap = j->max_restarts + 1;
	if (cap > 16)
		cap = 16;
	if (j->nspawn >= cap && now - j->spawned[(j->nspawn - cap) % 16] < JD_WINDOW_NS)
		return -1; /* too many in the last minute: the tick tries later */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("judge: socketpair");
		return -1;
	}
	pid_t pid = ps_spawn("-J", sv[1], -1, j->fg, j->verbose, j->conffile);
	if (pid < 0) {
		log_warn("judge: fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	j->fd = sv[0];
	j->pid = pid;
	j->heard_ns = now;
	j->have[0] = 0; /* a new judge holds no certificate */
	j->r = (struct jd_reader){.to_judge = 0};
	j->spawned[j->nspawn++ % 16] = now;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = j->tag};
	epoll_ctl(j->epfd, EPOLL_CTL_ADD, j->fd, &ev);
	log_info("judge: %d started", (int)pid);
	return 0;
}

static void want_out(struct judge_svc *j, int on)
{
	if (j->want_out == on || j->fd < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.u32 = j->tag};
	epoll_ctl(j->epfd, EPOLL_CTL_MOD, j->fd, &ev);
	j->want_out = on;
}

/* writes what the queue holds, as far as the socket takes it; -1: the judge is gone */
static int flush(struct judge_svc *j)
{
	while (j->ooff < j->olen) {
		ssize_t w = send(j->fd, j->ob + j->ooff, j->olen - j->ooff, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			gone(j, "send failed", 1);
			return -1;
		}
		j->ooff += (size_t)w;
	}
	if (j->ooff == j->olen)
		j->ooff = j->olen = 0;
	want_out(j, j->olen > 0);
	return 0;
}

static int enqueue(struct judge_svc *j, const unsigned char *f, size_t n)
{
	if (j->fd < 0)
		return -1;
	if (j->olen - j->ooff + n > JD_QUEUE_MAX) {
		gone(j, "stuck: its queue is full", 1);
		return -1;
	}
	if (j->ooff && j->olen + n > j->ocap) { /* compact */
		memmove(j->ob, j->ob + j->ooff, j->olen - j->ooff);
		j->olen -= j->ooff;
		j->ooff = 0;
	}
	if (j->olen + n > j->ocap) {
		size_t nc = (j->olen + n) * 2;
		unsigned char *nb = realloc(j->ob, nc);
		if (!nb)
			return -1;
		j->ob = nb;
		j->ocap = nc;
	}
	memcpy(j->ob + j->olen, f, n);
	j->olen += n;
	return flush(j);
}

int judge_svc_ask(struct judge_svc *j, uint64_t id, const char *nonce, const char *own,
		  const char *up)
{
	struct jd_req q;
	memset(&q, 0, sizeof(q));
	size_t ol = strlen(own), ul = strlen(up);
	if (!j || j->fd < 0 || ol == 0 || ol > PS_TEXT_MAX || ul > PS_TEXT_MAX)
		return -1;
	snprintf(q.nonce, sizeof(q.nonce), "%s", nonce ? nonce : "");
	q.own_len = (uint32_t)ol;
	q.up_len = (uint32_t)ul;
	size_t hn = sizeof(struct jd_hdr) + sizeof(q);
	struct jd_hdr h = {JD_MAGIC, JD_REQ, id, (uint32_t)(sizeof(q) + ol + ul), 0};
	unsigned char head[sizeof(struct jd_hdr) + sizeof(struct jd_req)];
	memcpy(head, &h, sizeof(h));
	memcpy(head + sizeof(h), &q, sizeof(q));
	if (j->olen - j->ooff + hn + ol + ul > JD_QUEUE_MAX) {
		gone(j, "stuck: its queue is full", 1);
		return -1;
	}
	if (enqueue(j, head, hn) != 0 || enqueue(j, (const unsigned char *)own, ol) != 0 ||
	    (ul && enqueue(j, (const unsigned char *)up, ul) != 0))
		return -1;
	return 0;
}

int judge_svc_ping(struct judge_svc *j)
{
	struct jd_hdr h = {JD_MAGIC, JD_PING, 0, 0, 0};
	return enqueue(j, (const unsigned char *)&h, sizeof(h));
}

int judge_svc_io(struct judge_svc *j, uint32_t events)
{
	static unsigned char buf[65536];
	char why[160];
	if (j->fd < 0)
		return -1;
	if ((events & EPOLLOUT) && flush(j) != 0)
		return -1;
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return 0;
	for (int budget = 64; budget > 0 && j->fd >= 0; budget--) {
		ssize_t got = recv(j->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (got <= 0) {
			gone(j, NULL, 0);
			return -1;
		}
		j->heard_ns = mono_ns();
		size_t off = 0;
		while (off < (size_t)got) {
			size_t used;
			int rv = jd_feed(&j->r, buf + off, (size_t)got - off, &used, why, sizeof(why));
			off += used;
			if (rv < 0) {
				gone(j, why, 1);
				return -1;
			}
			if (rv == 0)
				continue;
			if (j->r.h.type == JD_VERDICT || j->r.h.type == JD_VERDICT_RETRY) {
				if (j->r.h.len == 0 || memchr(j->r.buf, 0, j->r.h.len)) {
					gone(j, "an empty verdict or a NUL inside one", 1);
					return -1;
				}
				j->fn(j->arg, j->r.h.id, (const char *)j->r.buf,
				      j->r.h.type == JD_VERDICT_RETRY);
			} else if (j->r.h.type == JD_HAVE) {
				if (memchr(j->r.buf, 0, j->r.h.len) || !part_have_ok((const char *)j->r.buf)) {
					gone(j, "a malformed JD_HAVE", 1);
					return -1;
				}
				memcpy(j->have, j->r.buf, j->r.h.len + 1);
			}
			jd_take(&j->r);
			if (j->fd < 0)
				return -1;
		}
	}
	return 0;
}

void judge_svc_free(struct judge_svc *j)
{
	if (!j)
		return;
	if (j->fd >= 0) {
		kill(j->pid, SIGTERM);
		epoll_ctl(j->epfd, EPOLL_CTL_DEL, j->fd, NULL);
		close(j->fd);
		int st;
		waitpid(j->pid, &st, 0);
	}
	judge_svc_reap(j);
	free(j->ob);
	jd_take(&j->r);
	free(j);
}
