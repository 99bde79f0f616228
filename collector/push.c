/*
 * push.c — prejudged chains (docs/query-protocol.md "subscribe"): the guard's
 * subscriptions, the chains of TCP connects to other hosts pushed to them as
 * soon as the CONNECT record is read, and the ring of pushes that reached a
 * subscriber (a "who" about one of those is answered "pushed").
 *
 * A push carries "after_us" (when the drain before its walk began), and the
 * ring keeps graph_changes() after its walk: a "who" about a pushed socket is
 * answered "pushed" only while the graph is unchanged and the walk depended
 * on the graph alone, else in full (docs/query-protocol.md "When a push may
 * decide a SYN").
 *
 * A push costs a walk. While pushes keep failing to decide their SYN (a
 * busy host: the graph changes between the push and the SYN's "who", which
 * then walks again), only one connect in PUSH_SAMPLE is pushed and the rest
 * get {"nopush"} (the guard asks at once): fewer walks, never another
 * answer — a SYN is decided on a push only as before, or asked.
 *
 * A guard too slow to read loses pushes, never blocks the collector: it asks
 * with "who" instead. A chain larger than HT_PUSH_MAX is not pushed: the
 * guard is told {"nopush":true,"ino":N} and asks at once.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hoptrace/log.h"
#include "hoptrace/sockdiag.h"
#include "daemon.h"

/* while pushes are cold, one connect in this many is pushed (a sample of
 * whether they hold again) */
#define PUSH_SAMPLE 16

static pid_t peer_pid(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 ? cr.pid : 0;
}

void push_subscribe(struct collector *c, int fd)
{
	static const char ok[] = "{\"ok\":true}";
	struct push *p = &c->push;
	int already = 0;
	for (int i = 0; i < p->nsubs; i++)
		already |= p->subs[i] == fd;
	if (!already && p->nsubs == HT_SUBSCRIBERS_MAX) {
		char full[128];
		size_t n = ht_qerr_format(full, sizeof(full), 0, 0, HT_QE_SUBSCRIBERS, NULL);
		send(fd, full, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		return;
	}
	if (!already) {
		p->sub_pid[p->nsubs] = peer_pid(fd);
		p->subs[p->nsubs++] = fd;
		log_info("guard subscribed to prejudged chains");
	}
	send(fd, ok, sizeof(ok) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void push_unsubscribe(struct collector *c, int fd)
{
	struct push *p = &c->push;
	for (int i = 0; i < p->nsubs; i++)
		if (p->subs[i] == fd) {
			p->sub_pid[i] = p->sub_pid[p->nsubs - 1];
			p->subs[i] = p->subs[--p->nsubs];
			log_info("guard unsubscribed from prejudged chains");
			break;
		}
}

/* Did the chain of socket ino reach the subscription of process a->pid, and
 * is it still the chain a walk would give now (the records read before this
 * question included)? Its newest push only: nothing in the graph changed
 * since its walk, and that walk depended on the graph alone. Otherwise the
 * question gets the full answer (the guard uses it, not the push). */
static void outcome(struct push *p, int held)
{
	p->hist = p->hist << 1 | (held != 0);
	if (p->nhist < 32)
		p->nhist++;
}

void push_outcome(struct collector *c, int held)
{
	outcome(&c->push, held);
}

static int was_pushed(uint64_t ino, void *arg)
{
	const struct push_asker *a = arg;
	struct push *p = a->p;
	unsigned n = p->next < PUSHED_RING ? p->next : PUSHED_RING;
	for (unsigned k = 1; k <= n; k++) {
		unsigned i = (p->next - k) % PUSHED_RING;
		if (p->ring[i].ino == ino && p->ring[i].pid == a->pid) {
			int held = p->ring[i].settled && p->ring[i].changes == graph_changes(a->graph);
			outcome(p, held);
			return held;
		}
	}
	return 0;
}

/* Do pushes mostly fail to decide their SYN? (2 of the last 32 at most) */
static int pushes_cold(const struct push *p)
{
	return p->nhist == 32 && __builtin_popcount(p->hist) <= 2;
}

void push_asker_set(struct collector *c, int fd, struct push_asker *a)
{
	a->p = &c->push;
	a->graph = c->graph;
	a->pid = c->push.nsubs ? peer_pid(fd) : 0;
	c->qctx.was_pushed = a->pid > 0 ? was_pushed : NULL;
	c->qctx.was_pushed_arg = a;
}

void push_asker_clear(struct collector *c)
{
	c->qctx.was_pushed = NULL;
}

/* Tells the guards no chain comes for socket ino: they ask at once. */
static void push_none(struct push *p, uint64_t ino)
{
	char m[64];
	size_t n = ht_qnopush_format(m, sizeof(m), ino);
	for (int k = 0; k < p->nsubs; k++)
		send(p->subs[k], m, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Is this CONNECT a first attempt, or one after a failure, rather than a
 * repeat on a socket the shim already reported connecting (EALREADY /
 * EISCONN, or a connect() polled in a loop)? Asked before the record is
 * applied. A repeat sends no SYN: a push for it could only be taken by a
 * later SYN of the same socket that no record announced. */
int push_is_fresh(struct collector *c, const struct ht_record *r)
{
	struct chan *ch = graph_chan(c->graph, HT_CHAN_SOCK, 0, r->chan.ino);
	return !(ch && ch->connector && !ch->failed);
}

/* A TCP connect to another host: the guard will judge its SYN. */
void push_note(struct collector *c, const struct ht_record *r)
{
	struct push *p = &c->push;
	struct ht_addr a = r->addr;
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	if (a.family == AF_INET6 && !memcmp(a.a, mapped, 12)) {
		/* a dual-stack socket speaking IPv4: the SYN and "who" say IPv4 */
		memmove(a.a, a.a + 12, 4);
		memset(a.a + 4, 0, sizeof(a.a) - 4);
		a.family = AF_INET;
		a.len = 4;
	}
	if (r->num != SOCK_STREAM || (a.family != AF_INET && a.family != AF_INET6) ||
	    sd_is_local_addr(a.family, a.a))
		return;
	for (int i = 0; i < p->nprej; i++)
		if (p->prej[i].ino == r->chan.ino) { /* connect() again after a failure */
			p->prej[i].remote = a;
			return;
		}
	if (p->nprej == MAX_PREJ) {
		push_none(p, r->chan.ino);
		c->stats.push_dropped++;
		return;
	}
	p->prej[p->nprej].ino = r->chan.ino;
	p->prej[p->nprej].remote = a;
	p->nprej++;
}

void push_drain_begin(struct collector *c)
{
	c->push.drain_ns = now_ns();
}

void push_drain_end(struct collector *c, int unread)
{
	if (unread)
		c->push.drain_ns = 0;
}

/* Sends each noted connect's chain to the subscribed guards (the graph is
 * drained and probed), with "after_us": every record sent before that
 * moment was read before the walk — a guard that got the SYN before it may
 * decide on the push at once; any other SYN it asks about ("pushed" when the
 * push still holds: was_pushed). */
void push_prejudged(struct collector *c)
{
	struct push *p = &c->push;
	uint64_t now = now_ns();
	uint64_t after_us = p->drain_ns / 1000; /* (0: the drain was cut) */
	/* (right after the drain that read them: their walks compare each
	 * process's fd table with the kernel's once) */
	graph_check_round(c->graph, 1);
	for (int i = 0; i < p->nprej && p->nsubs; i++) {
		int settled;
		if (pushes_cold(p) && ++p->sample % PUSH_SAMPLE != 0) {
			/* a walk its SYN's "who" would most likely make again */
			push_none(p, p->prej[i].ino);
			c->stats.push_skipped++;
			continue;
		}
		char *s = query_prejudge_at(&c->qctx, p->prej[i].ino, &p->prej[i].remote, now,
					    after_us, &settled);
		uint64_t changes = graph_changes(c->graph); /* (after the walk's own) */
		size_t n = s ? strlen(s) : 0;
		if (!s || n > HT_PUSH_MAX) { /* the guard need not wait for it: it asks */
			push_none(p, p->prej[i].ino);
			c->stats.push_dropped += s != NULL;
			free(s);
			continue;
		}
		for (int k = 0; k < p->nsubs; k++) {
			if (send(p->subs[k], s, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n) {
				c->stats.pushed++;
				p->spin_until = now_ns() + c->cf.busy_poll_us * 1000ULL;
				p->ring[p->next % PUSHED_RING].ino = p->prej[i].ino;
				p->ring[p->next % PUSHED_RING].pid = p->sub_pid[k];
				p->ring[p->next % PUSHED_RING].changes = changes;
				p->ring[p->next % PUSHED_RING].settled = settled;
				p->next++;
			} else {
				c->stats.push_dropped++;
			}
		}
		free(s);
	}
	graph_check_round(c->graph, 0);
	p->nprej = 0;
}
