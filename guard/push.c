/*
 * push.c — implements push.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "hoptrace/query.h"
#include "clock.h"
#include "push.h"

/* A chain the collector pushed when the shim reported the connect(), before
 * the SYN, by socket inode. */
struct push_ent {
	uint64_t ino;
	long expires_ms;
	long after_us; /* its "after_us": decides a SYN got before then; 0 none */
	char *json;   /* the answer, or NULL with none set: */
	int none;     /* the collector said it pushes nothing for ino */
};

int push_init(struct push *ps, int on, const char *name)
{
	ps->fd = -1;
	ps->on = on;
	snprintf(ps->name, sizeof ps->name, "%s", name ? name : "");
	pthread_mutex_init(&ps->lock, NULL);
	if (!on)
		return 0;
	ps->ents = calloc(PUSH_SLOTS, sizeof(*ps->ents));
	ps->buf = malloc(HT_PUSH_MAX + 1);
	return ps->ents && ps->buf ? 0 : -1;
}

static void push_close(struct push *ps)
{
	if (ps->fd >= 0)
		close(ps->fd);
	ps->fd = -1;
}

void push_free(struct push *ps)
{
	push_close(ps);
	for (size_t i = 0; ps->ents && i < PUSH_SLOTS; i++)
		free(ps->ents[i].json);
	free(ps->ents);
	free(ps->buf);
	ps->ents = NULL;
	ps->buf = NULL;
}

/* Subscribes (called with the lock held; dropped during the exchange): at
 * most once a second, waits at most 50 ms. */
static void push_subscribe(struct push *ps)
{
	long now = mono_ms();
	if (!ps->on || ps->fd >= 0 || ps->busy || now < ps->retry_ms)
		return;
	ps->retry_ms = now + 1000;
	ps->busy = 1;
	/* the exchange waits (at most 50 ms): not with the lock every worker
	 * takes per SYN */
	pthread_mutex_unlock(&ps->lock);
	struct collq q;
	int fd = -1;
	if (collq_init(&q, ps->name[0] ? ps->name : NULL) == 0) {
		char err[160];
		if (collq_subscribe(&q, 50, err, sizeof err) == 0) {
			fd = q.fd;
			q.fd = -1;
		}
		collq_close(&q);
	}
	pthread_mutex_lock(&ps->lock);
	ps->busy = 0;
	if (fd >= 0) {
		ps->fd = fd;
		log_info("subscribed to the collector's prejudged chains");
	}
}

/* A push's "after_us" (the collector's monotonic µs since which every record
 * was read before its walk), its member before the last ("ino" ino): the
 * answer ends ,"after_us":N,"ino":ino} — or 0. */
static long push_after(const char *b, size_t n, uint64_t ino)
{
	static const char key[] = ",\"after_us\":";
	size_t kl = sizeof(key) - 1, from = n > 64 ? n - 64 : 0;
	for (size_t i = n > kl ? n - kl : 0; i-- > from;) {
		if (memcmp(b + i, key, kl) != 0)
			continue;
		unsigned long long a, x;
		char tail[64];
		int len = (int)(n - i - kl);
		if (len <= 0 || len >= (int)sizeof(tail))
			return 0;
		memcpy(tail, b + i + kl, (size_t)len);
		tail[len] = 0;
		int used = 0;
		if (sscanf(tail, "%llu,\"ino\":%llu}%n", &a, &x, &used) != 2 || used != len ||
		    x != ino || a > (unsigned long long)LONG_MAX)
			return 0;
		return (long)a;
	}
	return 0;
}

/* Reads every pushed chain waiting on the subscription (lock held). */
static void push_drain(struct push *ps)
{
	push_subscribe(ps);
	while (ps->fd >= 0) {
		ssize_t n = recv(ps->fd, ps->buf, HT_PUSH_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			log_warnx("collector ended the prejudged chains subscription");
			push_close(ps);
			return;
		}
		struct ht_qhead h;
		if (n > HT_PUSH_MAX || ht_qhead_parse(ps->buf, (size_t)n, &h) != HT_QE_OK || !h.ino)
			continue; /* not a push we can use: the SYN is asked about */
		uint64_t ino = h.ino;
		struct push_ent *p = &ps->ents[ino % PUSH_SLOTS];
		if (p->ino == ino && p->none && p->expires_ms > mono_ms())
			continue; /* that SYN was decided by asking: nothing for this socket */
		char *j = NULL;
		int none = h.nopush;
		if (!none) {
			if (!(j = malloc((size_t)n + 1)))
				continue;
			memcpy(j, ps->buf, (size_t)n);
			j[n] = 0;
		}
		free(p->json);
		p->json = j;
		p->none = none;
		p->ino = ino;
		p->after_us = none ? 0 : push_after(ps->buf, (size_t)n, ino);
		p->expires_ms = mono_ms() + HT_PUSH_TTL_MS;
	}
}

char *push_take(struct push *ps, uint64_t ino, long syn_us, int *none)
{
	char *j = NULL;
	*none = 0;
	if (!ps->on)
		return NULL;
	pthread_mutex_lock(&ps->lock);
	push_drain(ps);
	struct push_ent *p = &ps->ents[ino % PUSH_SLOTS];
	if (syn_us && p->json && p->ino == ino && p->after_us <= syn_us &&
	    p->expires_ms > mono_ms()) {
		/* computed before the SYN came: what the process did between
		 * the record and its connect() may not be in it — the SYN is
		 * asked about (the collector answers "pushed" if it still holds) */
		pthread_mutex_unlock(&ps->lock);
		return NULL;
	}
	if ((p->json || p->none) && p->ino == ino) {
		if (p->expires_ms > mono_ms()) {
			j = p->json;
			*none = p->none;
		} else {
			free(p->json);
		}
		p->json = NULL;
		p->none = 0;
	}
	pthread_mutex_unlock(&ps->lock);
	return j;
}

void push_forget(struct push *ps, uint64_t ino)
{
	if (!ps->on)
		return;
	pthread_mutex_lock(&ps->lock);
	struct push_ent *p = &ps->ents[ino % PUSH_SLOTS];
	free(p->json);
	p->json = NULL;
	p->none = 1;
	p->ino = ino;
	p->expires_ms = mono_ms() + HT_PUSH_TTL_MS;
	pthread_mutex_unlock(&ps->lock);
}

void push_bound(struct push *ps, uint64_t ino, const char *local, const char *remote)
{
	char m[256];
	struct ht_qreq r = {.op = HT_QOP_BOUND, .ino = ino};
	snprintf(r.local, sizeof r.local, "%s", local);
	snprintf(r.remote, sizeof r.remote, "%s", remote);
	int n = ps->on ? ht_qreq_build(m, sizeof m, &r) : -1;
	if (n <= 0)
		return;
	pthread_mutex_lock(&ps->lock);
	if (ps->fd >= 0)
		send(ps->fd, m, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	pthread_mutex_unlock(&ps->lock);
}

int push_fd_now(struct push *ps)
{
	if (!ps->on)
		return -1;
	pthread_mutex_lock(&ps->lock);
	push_subscribe(ps);
	int fd = ps->fd;
	pthread_mutex_unlock(&ps->lock);
	return fd;
}

struct push_wait {
	struct push *ps;
	int fd; /* the subscription watched */
	uint64_t ino;
	long syn_us;
	char *json;
};

static int push_arrived(void *arg)
{
	struct push_wait *w = arg;
	int none;
	w->json = push_take(w->ps, w->ino, w->syn_us, &none);
	if (w->json)
		return 1;
	/* none coming, or the subscription ended (and its number may be another
	 * fd now) */
	return !none && push_fd_now(w->ps) == w->fd ? 0 : -1;
}

long push_ask(struct push *ps, struct collq *q, int pfd, uint64_t ino, long syn_us, int none,
	      const char *local, const char *remote, unsigned long timeout_ms, char *err,
	      size_t errlen, char **pushed)
{
	/* one worker at a time waits awake (more would starve the collector of
	 * the CPU it needs) */
	struct push_wait pw = {ps, pfd, ino, syn_us, NULL};
	int spin = !none && atomic_exchange(&ps->spinning, 1) == 0;
	long alen = collq_who_or(q, local, remote, timeout_ms, err, errlen, none ? -1 : pfd,
				 push_arrived, &pw, spin ? PUSH_SPIN_US : 0);
	if (spin)
		atomic_store(&ps->spinning, 0);
	*pushed = pw.json;
	return alen;
}

int push_for(const struct ht_chainset *cs, const struct ht_pkt *p)
{
	size_t alen = p->family == AF_INET ? 4 : 16;
	if (!cs->n)
		return 0;
	for (size_t i = 0; i < cs->n; i++) {
		const struct ht_endpoint *d = &cs->v[i].dst;
		if (d->family != p->family || d->port != p->dport || memcmp(d->addr, p->dst, alen))
			return 0;
	}
	return 1;
}

void push_fill_src(struct ht_chainset *cs, const struct ht_pkt *p)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct ht_endpoint *s = &cs->v[i].src;
		if (s->family)
			continue;
		s->family = p->family;
		memcpy(s->addr, p->src, 16);
		s->port = p->sport;
	}
}
