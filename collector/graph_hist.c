/*
 * graph_hist.c — the host's recent past of TCP connections (issue 12): every
 * TCP channel whose 4-tuple the kernel gave (has_local, not a claim) is
 * listed here when its last holder lets go of it, with its interval and who
 * held it, so that an inquiry about a connection that has closed finds who
 * held it then (collector/answer.c op_who) and the chain is computed as of
 * that time (chain.h chain_req.at).
 *
 * Bounds: a ring of at most conf.max_closed entries (GRAPH_HIST_MAX by
 * default; HIST_ENT_BYTES each with the hash buckets, allocated at the first
 * close), oldest first. An entry goes when the ring is full (the oldest, a
 * count cap), or when it closed longer than the history window ago
 * (graph_hist_gc, from the oldest). Lookup by exact 4-tuple: a hash of
 * 2 * max_closed buckets (chains of entry indexes), O(1) expected. What is
 * listed is the kernel's own sockets only: a record's claimed address
 * (addr_claimed) is never indexed.
 */
#include <stdlib.h>
#include <string.h>

#include "graph_int.h"

struct hist_ent {
	uint64_t ino, since, until;
	uint64_t serial;    /* the holder's process entry (graph.h struct proc) */
	pid_t pid;
	uint32_t hnext;     /* index + 1 of the next entry in its bucket, 0: end */
	uint16_t family, lport, rport;
	uint8_t dir;
	uint8_t laddr[16], raddr[16];
};

struct hist {
	struct hist_ent *e;
	uint32_t *bucket;    /* index + 1 of a bucket's newest entry, 0: empty */
	uint32_t cap, nbucket, head, n;
};

size_t graph_hist_ent_bytes(void)
{
	return sizeof(struct hist_ent) + 2 * sizeof(uint32_t);
}

static uint32_t hist_slot(const struct hist *x, uint16_t family, const uint8_t *la, uint16_t lp,
			  const uint8_t *ra, uint16_t rp)
{
	uint64_t h = family * 0x9e3779b97f4a7c15ULL ^ ((uint64_t)lp << 16 | rp);
	size_t n = family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < n; i += 4) {
		uint32_t a, b;
		memcpy(&a, la + i, 4);
		memcpy(&b, ra + i, 4);
		h = hash64(h ^ ((uint64_t)a << 32 | b));
	}
	return (uint32_t)(hash64(h) & (x->nbucket - 1));
}

static uint32_t ent_slot(const struct hist *x, const struct hist_ent *e)
{
	return hist_slot(x, e->family, e->laddr, e->lport, e->raddr, e->rport);
}

static int hist_init(struct graph *g)
{
	struct hist *x = calloc(1, sizeof(*x));
	if (!x)
		return -1;
	x->cap = g->conf.max_closed;
	x->nbucket = 2;
	while (x->nbucket < 2 * x->cap)
		x->nbucket *= 2;
	x->e = calloc(x->cap, sizeof(*x->e));
	x->bucket = calloc(x->nbucket, sizeof(*x->bucket));
	if (!x->e || !x->bucket) {
		free(x->e);
		free(x->bucket);
		free(x);
		return -1;
	}
	g->hist = x;
	g->st.hist_bytes = sizeof(*x) + x->cap * sizeof(*x->e) + x->nbucket * sizeof(*x->bucket);
	g->st.bytes += g->st.hist_bytes;
	return 0;
}

/* drops the oldest entry */
static void hist_pop(struct hist *x)
{
	struct hist_ent *e = &x->e[x->head];
	uint32_t *pp = &x->bucket[ent_slot(x, e)];
	while (*pp && *pp != x->head + 1)
		pp = &x->e[*pp - 1].hnext;
	if (*pp)
		*pp = e->hnext;
	memset(e, 0, sizeof(*e));
	x->head = (x->head + 1) % x->cap;
	x->n--;
}

void graph_hist_free(struct graph *g)
{
	if (!g->hist)
		return;
	free(g->hist->e);
	free(g->hist->bucket);
	free(g->hist);
	g->hist = NULL;
}

static int inet_tcp(const struct chan *c)
{
	return c->kind == HT_CHAN_SOCK && (c->remote.family == AF_INET || c->remote.family == AF_INET6) &&
	       c->local.family == c->remote.family && (c->sotype == 0 || c->sotype == 1 /* SOCK_STREAM */);
}

void graph_hist_closed(struct graph *g, struct chan *c, uint64_t ts)
{
	if (!inet_tcp(c) || !c->has_local || c->addr_claimed || c->failed || c->internal ||
	    c->dir == 'l' || !c->local.port || !c->remote.port || !g->conf.max_closed)
		return;
	/* the holder it is answered for: of those that held it to its end, its
	 * connector if it did, else the first (the answer's socket_holder, as it
	 * was) — not a connector that let go before: `ssh -f` connected and
	 * forked in daemon(), the daemon held it until it closed, and what it
	 * held meanwhile (a forward's clients) is the connection's past */
	const struct hold *who = NULL;
	uint64_t since = 0, last = 0;
	for (const struct hold *h = c->holds; h; h = h->cnext) {
		if (!h->until)
			return; /* someone holds it still */
		if (!h->unconf && h->until > last)
			last = h->until;
	}
	for (const struct hold *h = c->holds; h; h = h->cnext) {
		if (h->unconf)
			continue;
		if (!since || h->since < since)
			since = h->since;
		if (h->until != last)
			continue;
		int hc = h->p->pid == c->connector, wc = who && who->p->pid == c->connector;
		if (!who || hc > wc || (hc == wc && h->since < who->since))
			who = h;
	}
	if (!who || (!g->hist && hist_init(g) != 0))
		return;
	struct hist *x = g->hist;
	if (x->n == x->cap) {
		hist_pop(x);
		g->st.hist_evicted_cap++;
	}
	uint32_t i = (x->head + x->n) % x->cap;
	struct hist_ent *e = &x->e[i];
	memset(e, 0, sizeof(*e));
	e->ino = c->ino;
	e->since = since;
	e->until = ts > since ? ts : since + 1;
	e->serial = who->p->serial;
	e->pid = who->p->pid;
	e->family = c->remote.family;
	e->lport = c->local.port;
	e->rport = c->remote.port;
	e->dir = c->dir;
	memcpy(e->laddr, c->local.a, c->local.len > 16 ? 16 : c->local.len);
	memcpy(e->raddr, c->remote.a, c->remote.len > 16 ? 16 : c->remote.len);
	uint32_t s = ent_slot(x, e);
	e->hnext = x->bucket[s];
	x->bucket[s] = i + 1;
	x->n++;
	g->st.hist_added++;
}

void graph_hist_gc(struct graph *g, uint64_t now)
{
	struct hist *x = g->hist;
	uint64_t w = g->conf.window_ns;
	while (x && x->n && x->e[x->head].until + w < now) {
		hist_pop(x);
		g->st.hist_evicted_window++;
	}
}

size_t graph_hist_count(const struct graph *g)
{
	return g->hist ? g->hist->n : 0;
}

int graph_hist_find(struct graph *g, const struct ht_addr *l, const struct ht_addr *r, uint64_t t,
		    uint64_t now, struct graph_closed *out)
{
	struct hist *x = g->hist;
	memset(out, 0, sizeof(*out));
	if (!x || !x->n || l->family != r->family || (l->family != AF_INET && l->family != AF_INET6))
		return -1;
	uint8_t la[16] = {0}, ra[16] = {0};
	size_t n = l->family == AF_INET ? 4 : 16;
	memcpy(la, l->a, n);
	memcpy(ra, r->a, n);
	const struct hist_ent *best = NULL;
	int best_rank = 0;
	for (uint32_t i = x->bucket[hist_slot(x, l->family, la, l->port, ra, r->port)]; i;
	     i = x->e[i - 1].hnext) {
		const struct hist_ent *e = &x->e[i - 1];
		if (e->family != l->family || e->lport != l->port || e->rport != r->port ||
		    memcmp(e->laddr, la, 16) || memcmp(e->raddr, ra, 16))
			continue;
		/* held at t, else the newest closed within the window; an
		 * expired one only says why there is none */
		int live = e->until + g->conf.window_ns >= now;
		int rank = !live ? 1 : (e->since <= t && t < e->until) ? 3 : 2;
		if (rank > best_rank || (rank == best_rank && e->until > best->until)) {
			best = e;
			best_rank = rank;
		}
	}
	if (!best)
		return -1;
	out->ino = best->ino;
	out->since = best->since;
	out->until = best->until;
	out->serial = best->serial;
	out->pid = best->pid;
	out->dir = best->dir;
	out->expired = best_rank == 1;
	return best_rank == 1 ? 0 : 1;
}

struct proc *graph_hist_holder(struct graph *g, const struct graph_closed *e, uint64_t *t,
			       struct chan **cp)
{
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, e->ino);
	*cp = NULL;
	if (!c || c->kind != HT_CHAN_SOCK)
		return NULL; /* gone from the graph (retention, a bound) */
	/* (the inode may have been reused since: the channel must be closed and
	 * have held this connection's holder) */
	struct hold *pick = NULL;
	for (struct hold *h = c->holds; h; h = h->cnext) {
		if (!h->until)
			return NULL; /* open again: another socket of that inode */
		if (!h->unconf && h->p->serial == e->serial)
			pick = h;
	}
	if (!pick)
		return NULL;
	/* the time asked, within the holder's hold */
	if (*t < pick->since)
		*t = pick->since;
	if (*t >= pick->until)
		*t = pick->until - 1;
	*cp = c;
	return pick->p;
}
