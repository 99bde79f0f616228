/*
 * audit.c — implements audit.h: a hand-written JSON writer (no allocation
 * besides the thread's reusable buffer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "audit.h"
#include "clock.h"

void abuf_free(struct abuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int grow(struct abuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int put(struct abuf *b, const char *s, size_t n)
{
	if (grow(b, n))
		return -1;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
	return 0;
}

static int puts_(struct abuf *b, const char *s) { return put(b, s, strlen(s)); }

static int putf(struct abuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int putf(struct abuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* JSON string (or null) */
static int putq(struct abuf *b, const char *s)
{
	if (!s)
		return puts_(b, "null");
	if (grow(b, strlen(s) * 6 + 2))
		return -1;
	char *o = b->p + b->len;
	*o++ = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			*o++ = '\\';
			*o++ = (char)*c;
		} else if (*c < 0x20 || *c == 0x7f) {
			o += sprintf(o, "\\u%04x", *c);
		} else {
			*o++ = (char)*c;
		}
	}
	*o++ = '"';
	*o = 0;
	b->len = (size_t)(o - b->p);
	return 0;
}

void audit_time(const struct timespec *ts, char *buf, size_t n)
{
	struct tm tm;
	time_t t = ts->tv_sec;
	gmtime_r(&t, &tm);
	char d[32];
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%06dZ", d, (int)((unsigned long)ts->tv_nsec / 1000 % 1000000));
}

int audit_format(struct abuf *b, const struct audit_rec *r)
{
	char t[64], e[HT_ENDPOINT_STRLEN];
	b->len = 0;
	audit_time(&r->time, t, sizeof(t));
	int rc = 0;
	rc |= putf(b, "{\"time\":\"%s\",\"verdict\":", t);
	rc |= putq(b, r->verdict);
	rc |= puts_(b, ",\"action\":");
	rc |= putq(b, r->action);
	rc |= puts_(b, r->monitor ? ",\"mode\":\"monitor\"" : ",\"mode\":\"enforce\"");
	if (r->rule) {
		rc |= puts_(b, ",\"rule\":");
		rc |= putq(b, r->rule);
	}
	if (r->reason) {
		rc |= puts_(b, ",\"reason\":");
		rc |= putq(b, r->reason);
	}
	if (r->cause) {
		rc |= puts_(b, ",\"cause\":");
		rc |= putq(b, r->cause);
	}
	rc |= puts_(b, ",\"local\":");
	rc |= putq(b, r->local);
	rc |= puts_(b, ",\"remote\":");
	rc |= putq(b, r->remote);
	if (r->host) {
		rc |= puts_(b, ",\"host\":");
		rc |= putq(b, r->host);
	}
	rc |= putf(b, ",\"local_dst\":%s,\"complete\":%s,\"fallback\":%s,\"latency_us\":%ld",
		   r->local_dst ? "true" : "false", r->complete ? "true" : "false",
		   r->fallback ? "true" : "false", r->latency_us);
	if (r->collector_us >= 0)
		rc |= putf(b, ",\"collector_us\":%ld", r->collector_us);
	if (r->prejudged)
		rc |= puts_(b, ",\"prejudged\":true");
	if (r->first_hop) {
		rc |= puts_(b, ",\"first_hop\":");
		rc |= putq(b, r->first_hop);
	}
	if (r->overflow > 0)
		rc |= putf(b, ",\"overflow\":%ld", r->overflow);
	rc |= puts_(b, ",\"chains\":[");
	for (size_t i = 0; r->chains && i < r->chains->n; i++) {
		const struct ht_chain *c = &r->chains->v[i];
		rc |= puts_(b, i ? ",{\"origin_host\":" : "{\"origin_host\":");
		rc |= putq(b, c->origin_host);
		rc |= puts_(b, ",\"src\":");
		rc |= putq(b, c->src.family ? ht_endpoint_format(&c->src, e, sizeof(e)) : NULL);
		rc |= puts_(b, ",\"dst\":");
		rc |= putq(b, c->dst.family ? ht_endpoint_format(&c->dst, e, sizeof(e)) : NULL);
		rc |= putf(b, ",\"complete\":%s,\"fallback\":%s,\"procs\":[",
			   c->complete ? "true" : "false", c->fallback ? "true" : "false");
		for (size_t j = 0; j < c->nprocs; j++) {
			const struct ht_chain_proc *p = &c->procs[j];
			rc |= puts_(b, j ? ",{\"host\":" : "{\"host\":");
			rc |= putq(b, p->host);
			rc |= putf(b, ",\"pid\":%ld", (long)p->pid);
			if (p->uid != (uid_t)-1)
				rc |= putf(b, ",\"uid\":%lu", (unsigned long)p->uid);
			rc |= puts_(b, ",\"exe\":");
			rc |= putq(b, p->exe);
			rc |= puts_(b, ",\"sha256\":");
			rc |= putq(b, p->sha256[0] ? p->sha256 : NULL);
			rc |= puts_(b, p->kernel_only ? ",\"seen\":\"kernel\"}" : ",\"seen\":\"shim\"}");
		}
		rc |= puts_(b, "]}");
	}
	rc |= puts_(b, "]}\n");
	return rc ? -1 : 0;
}

int audit_open(const char *path)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *s = strrchr(dir, '/');
	if (s && s != dir) {
		*s = 0;
		mkdir(dir, 0750); /* one level; the parent must exist */
	}
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

int audit_write(int fd, const struct abuf *b)
{
	if (fd < 0)
		return 0;
	ssize_t n = write(fd, b->p, b->len);
	return n == (ssize_t)b->len ? 0 : -1;
}

int audit_syslog_open(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path[0] || strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int audit_syslog_send(int fd, const struct abuf *b, int refusal)
{
	char head[64];
	if (fd < 0 || !b->len)
		return -1;
	int pri = (3 << 3) | (refusal ? 5 : 6); /* LOG_DAEMON | notice / info */
	int hl = snprintf(head, sizeof(head), "<%d>hopguard[%ld]: ", pri, (long)getpid());
	struct iovec iov[2] = {{head, (size_t)hl}, {b->p, b->len - (b->p[b->len - 1] == '\n')}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	return sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ? -1 : 0;
}

int audit_sink_init(struct audit_sink *s, const char *path, const char *syslog_path)
{
	pthread_mutex_init(&s->lock, NULL);
	snprintf(s->path, sizeof s->path, "%s", path);
	snprintf(s->syslog, sizeof s->syslog, "%s", syslog_path);
	s->fd = -1;
	s->syslog_fd = -1;
	s->syslog_retry_ms = 0;
	if (s->path[0] && (s->fd = audit_open(s->path)) < 0)
		return -1;
	return 0;
}

void audit_sink_close(struct audit_sink *s)
{
	if (s->fd >= 0)
		close(s->fd);
	if (s->syslog_fd >= 0)
		close(s->syslog_fd);
	s->fd = s->syslog_fd = -1;
}

int audit_sink_reopen(struct audit_sink *s)
{
	if (!s->path[0])
		return 0;
	int fd = audit_open(s->path);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&s->lock);
	int old = s->fd;
	s->fd = fd;
	pthread_mutex_unlock(&s->lock);
	if (old >= 0)
		close(old);
	return 0;
}

/* (lock held) */
static void syslog_emit(struct audit_sink *s, const struct abuf *line, int refusal)
{
	if (s->syslog_fd < 0 && mono_ms() >= s->syslog_retry_ms) {
		s->syslog_fd = audit_syslog_open(s->syslog);
		if (s->syslog_fd < 0)
			s->syslog_retry_ms = mono_ms() + 1000;
	}
	int fd = s->syslog_fd;
	if (audit_syslog_send(fd, line, refusal)) {
		atomic_fetch_add(&s->n_syslog_lost, 1);
		if (fd >= 0 && errno != EAGAIN) { /* the peer went away: reconnect later */
			close(fd);
			s->syslog_fd = -1;
		}
	}
}

void audit_sink_emit(struct audit_sink *s, struct abuf *b, const struct audit_rec *r, int refusal)
{
	if (audit_format(b, r) != 0)
		return;
	pthread_mutex_lock(&s->lock); /* cheap; only guards reopen */
	if (audit_write(s->fd, b))
		log_warn("audit log write");
	pthread_mutex_unlock(&s->lock);
	if (s->syslog[0]) {
		pthread_mutex_lock(&s->lock);
		syslog_emit(s, b, refusal);
		pthread_mutex_unlock(&s->lock);
	}
}
