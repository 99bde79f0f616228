/*
 * graph_hold.c — holds: the (process, channel) intervals of graph.h, each on
 * its process's and its channel's list; the open ones also in an index by
 * (process, channel). Closed holds of a live process are trimmed to its
 * newest CLOSED_KEEP — at safe points only (run_trims: after a record, after
 * a chain walk), never inside hold_close, whose callers may be iterating the
 * lists it would trim (issue 10 (4)).
 */
#include <stdlib.h>

#include "graph_int.h"

/* ---- the open-hold index ---------------------------------------------------- */

/* Open holds by (process, channel): every open hold is in g->ohtab, an open
 * addressing table (linear probing, backward-shift deletion: no pointer in
 * the hold — most holds are closed history). */
static size_t oh_slot(size_t n, const struct proc *p, const struct chan *c)
{
	return hash64(p->serial * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)c) & (n - 1);
}

static size_t oh_index(const struct graph *g, const struct proc *p, const struct chan *c)
{
	size_t n = g->nohtab;
	for (size_t s = oh_slot(n, p, c);; s = (s + 1) & (n - 1)) {
		struct hold *h = g->ohtab[s];
		if (!h || (h->p == p && h->c == c))
			return s;
	}
}

struct hold *oh_find(struct graph *g, const struct proc *p, const struct chan *c)
{
	return g->ohtab[oh_index(g, p, c)];
}

static void oh_put(struct hold **t, size_t n, struct hold *h)
{
	size_t s = oh_slot(n, h->p, h->c);
	while (t[s])
		s = (s + 1) & (n - 1);
	t[s] = h;
}

static void oh_add(struct graph *g, struct hold *h)
{
	if (2 * (g->nopen + 1) > g->nohtab) {
		size_t n = g->nohtab * 2;
		struct hold **t = calloc(n, sizeof(*t));
		if (!t && g->nopen + 1 >= g->nohtab)
			return; /* (full, no memory: not findable; hold_open opens another) */
		if (t) {
			for (size_t i = 0; i < g->nohtab; i++)
				if (g->ohtab[i])
					oh_put(t, n, g->ohtab[i]);
			g->st.bytes += (n - g->nohtab) * sizeof(*t);
			free(g->ohtab);
			g->ohtab = t;
			g->nohtab = n;
		}
	}
	oh_put(g->ohtab, g->nohtab, h);
	g->nopen++;
}

static void oh_del(struct graph *g, struct hold *h)
{
	size_t n = g->nohtab, i = oh_index(g, h->p, h->c);
	if (g->ohtab[i] != h)
		return;
	g->ohtab[i] = NULL;
	g->nopen--;
	for (size_t j = (i + 1) & (n - 1); g->ohtab[j]; j = (j + 1) & (n - 1)) {
		size_t home = oh_slot(n, g->ohtab[j]->p, g->ohtab[j]->c);
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			g->ohtab[i] = g->ohtab[j];
			g->ohtab[j] = NULL;
			i = j;
		}
	}
}

/* ---- opening, closing and trimming holds ------------------------------------ */

struct hold *hold_open(struct graph *g, struct proc *p, struct chan *c, uint64_t ts,
		       uint8_t how)
{
	struct hold *h = oh_find(g, p, c);
	if (h)
		return h;
	if (!p->acct) {
		struct uacct *pa = acct_of(g, p->uid);
		p->acct = pa ? pa->id : 0;
	}
	struct uacct *a = acct_by_id(g, p->acct);
	if (a && a->uid != 0 && a->holds >= g->conf.max_holds_per_uid) {
		over_bound(g, g->cur_acct ? g->cur_acct : a);
		p->bound_refused = 1; /* its chains: holders_incomplete */
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	g->changes++;
	if (a)
		a->holds++;
	h->p = p;
	h->c = c;
	h->since = ts;
	h->how = how;
	h->pnext = p->holds;
	if (p->holds)
		p->holds->pprev = &h->pnext;
	h->pprev = &p->holds;
	p->holds = h;
	h->cnext = c->holds;
	if (c->holds)
		c->holds->cprev = &h->cnext;
	h->cprev = &c->holds;
	c->holds = h;
	c->nholds++;
	c->last_ts = ts;
	oh_add(g, h);
	g->st.holds++;
	g->st.bytes += sizeof(*h);
	return h;
}

/* Drops p's closed holds past the newest CLOSED_KEEP. Only at a safe point
 * (run_trims): never while a caller iterates a hold list. */
static void proc_trim(struct graph *g, struct proc *p)
{
	uint32_t seen = 0;
	p->trim_queued = 0;
	if (!p->alive || p->nclosed <= CLOSED_KEEP)
		return;
	/* the list is newest first */
	for (struct hold *x = p->holds, *n; x; x = n) {
		n = x->pnext;
		if (x->until && ++seen > CLOSED_KEEP)
			hold_unlink(g, x);
	}
}

void run_trims_queued(struct graph *g)
{
	if (g->held)
		return;
	g->changes += g->ntrim != 0;
	for (size_t i = 0; i < g->ntrim; i++)
		if (g->trim[i])
			proc_trim(g, g->trim[i]);
	g->ntrim = 0;
}

void graph_hold(struct graph *g)
{
	g->held++;
}

void graph_release(struct graph *g)
{
	if (g->held > 0 && --g->held == 0)
		run_trims(g);
}

void hold_close(struct graph *g, struct hold *h, uint64_t ts)
{
	if (h->until)
		return;
	g->changes++;
	h->until = ts > h->since ? ts : h->since + 1;
	h->c->last_ts = ts;
	oh_del(g, h);
	if (h->c->kind == HT_CHAN_SOCK)
		graph_hist_closed(g, h->c, h->until);
	struct proc *p = h->p;
	/* (issue 10: trimming here freed holds — even h — that the PTY case and
	 * chain walks were still iterating) */
	if (++p->nclosed > 2 * CLOSED_KEEP && p->alive && !p->trim_queued && g->ntrim < TRIM_MAX) {
		p->trim_queued = 1;
		g->trim[g->ntrim++] = p;
	}
}

void hold_unlink(struct graph *g, struct hold *h)
{
	*h->pprev = h->pnext;
	if (h->pnext)
		h->pnext->pprev = h->pprev;
	*h->cprev = h->cnext;
	if (h->cnext)
		h->cnext->cprev = h->cprev;
	if (h->until)
		h->p->nclosed--;
	else
		oh_del(g, h);
	struct uacct *ha = acct_by_id(g, h->p->acct);
	if (ha)
		ha->holds--;
	h->c->nholds--;
	g->st.holds--;
	g->st.bytes -= sizeof(*h);
	free(h);
}
