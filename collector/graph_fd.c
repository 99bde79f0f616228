/*
 * graph_fd.c — each process's fd table (fd -> hold, with the ends of the
 * channel the fd is), hashed once it is not small; ghost fds; and how a
 * record's fd claim enters the graph: fd_rec minds the last /proc read of the
 * sender's table, fd_unconfirmed keeps a claim the kernel did not confirm as
 * history only (docs/chain-model.md "Claims").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "graph_int.h"

/* ---- fd tables: a dense array, indexed by a hash once it is not small ----- */

static uint32_t fdi_slot(uint32_t cap, int fd)
{
	return (uint32_t)hash64((uint64_t)(uint32_t)fd) & (cap - 1);
}

static uint32_t *fdidx_of(const struct proc *p)
{
	return p->capfds >= FDIDX_MIN ? (uint32_t *)(void *)(p->fds + p->capfds) : NULL;
}

/* (re)builds the index from the table (after the block grew) */
static void fdidx_build(struct proc *p)
{
	uint32_t *ix = fdidx_of(p), cap = 2 * p->capfds;
	memset(ix, 0, cap * sizeof(*ix));
	for (uint32_t i = 0; i < p->nfds; i++) {
		uint32_t s = fdi_slot(cap, p->fds[i].fd);
		while (ix[s])
			s = (s + 1) & (cap - 1);
		ix[s] = i + 1;
	}
}

/* the slot holding fd, or the index's size */
static uint32_t fdidx_find(const struct proc *p, int fd)
{
	const uint32_t *ix = fdidx_of(p);
	uint32_t cap = 2 * p->capfds;
	for (uint32_t s = fdi_slot(cap, fd), n = 0; n < cap; s = (s + 1) & (cap - 1), n++) {
		if (!ix[s])
			return cap;
		if (p->fds[ix[s] - 1].fd == fd)
			return s;
	}
	return cap;
}

/* removes slot s (backward-shift deletion: no tombstones) */
static void fdidx_del(struct proc *p, uint32_t s)
{
	uint32_t *ix = fdidx_of(p), cap = 2 * p->capfds, i = s;
	ix[i] = 0;
	for (uint32_t j = (i + 1) & (cap - 1); ix[j]; j = (j + 1) & (cap - 1)) {
		uint32_t home = fdi_slot(cap, p->fds[ix[j] - 1].fd);
		/* may the entry at j move to the hole at i? (its home is not in (i, j]) */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			ix[i] = ix[j];
			ix[j] = 0;
			i = j;
		}
	}
}

static void fdidx_add(struct proc *p, uint32_t idx)
{
	uint32_t *ix = fdidx_of(p), cap = 2 * p->capfds;
	uint32_t s = fdi_slot(cap, p->fds[idx].fd);
	while (ix[s])
		s = (s + 1) & (cap - 1);
	ix[s] = idx + 1;
}

struct fdent *fd_find(struct proc *p, int fd)
{
	if (fdidx_of(p)) {
		uint32_t s = fdidx_find(p, fd);
		return s < 2 * p->capfds ? &p->fds[fdidx_of(p)[s] - 1] : NULL;
	}
	for (uint32_t i = 0; i < p->nfds; i++)
		if (p->fds[i].fd == fd)
			return &p->fds[i];
	return NULL;
}

void fd_unset(struct graph *g, struct proc *p, int fd, uint64_t ts)
{
	struct fdent *e = fd_find(p, fd);
	if (!e)
		return;
	struct hold *h = e->h;
	uint32_t i = (uint32_t)(e - p->fds), last = p->nfds - 1;
	if (fdidx_of(p)) {
		fdidx_del(p, fdidx_find(p, fd));
		if (i != last) {
			/* the last entry moves into i */
			uint32_t s = fdidx_find(p, p->fds[last].fd);
			if (s < 2 * p->capfds)
				fdidx_of(p)[s] = i + 1;
		}
	}
	*e = p->fds[last];
	p->nfds--;
	if (h && h->nfds && --h->nfds == 0) {
		/* its other fds went at the same time (one /proc read found them
		 * all gone, a CLOSERANGE, its end): it held all their ends until
		 * then — a pipe's both, held since pipe(), is not a writer only */
		if (g->shrunk == h && g->shrunk_ts == ts)
			h->ends |= g->shrunk_ends;
		hold_close(g, h, ts);
	} else if (h && h->nfds <= 64) {
		if (g->shrunk != h || g->shrunk_ts != ts)
			g->shrunk_ends = 0;
		g->shrunk = h;
		g->shrunk_ts = ts;
		g->shrunk_ends |= h->ends;
		/* the ends it still holds: a forkpty child that closed the
		 * master it inherited is a slave holder only (with many fds
		 * on one channel the ends stay as they were: more ends is
		 * the safe side, and a scan per close would be quadratic) */
		uint8_t ends = 0;
		for (uint32_t k = 0; k < p->nfds; k++)
			if (p->fds[k].h == h)
				ends |= p->fds[k].ends;
		h->ends = ends;
	}
}

int fd_set_(struct graph *g, struct proc *p, int fd, struct chan *c, uint64_t ts,
	    uint8_t how, uint8_t ends)
{
	struct fdent *e = fd_find(p, fd);
	if (e && e->h && e->h->c == c && !e->h->until) {
		e->ends |= ends;
		e->h->ends |= ends;
		return 0;
	}
	if (e)
		fd_unset(g, p, fd, ts);
	if (p->nfds >= g->conf.max_fds_per_proc) {
		over_bound(g, g->cur_acct);
		p->bound_refused = 1;
		return -EDQUOT;
	}
	g->capped = 0;
	struct hold *h = hold_open(g, p, c, ts, how);
	if (!h)
		return g->capped ? -EDQUOT : -ENOMEM;
	if (p->nfds == p->capfds) {
		uint32_t n = p->capfds ? p->capfds * 2 : 4;
		struct fdent *t = realloc(p->fds, fds_bytes(n));
		if (!t)
			return -ENOMEM;
		g->st.bytes += fds_bytes(n) - fds_bytes(p->capfds);
		p->fds = t;
		p->capfds = n;
		if (fdidx_of(p))
			fdidx_build(p); /* before the new entry: it is added below */
	}
	p->fds[p->nfds].fd = fd;
	p->fds[p->nfds].ends = ends;
	p->fds[p->nfds].h = h;
	if (fdidx_of(p))
		fdidx_add(p, p->nfds);
	p->nfds++;
	h->nfds++;
	h->ends |= ends;
	return 0;
}

/* fd_set_ of the channel keyed k (created when new) */
int fd_set_key(struct graph *g, struct proc *p, int fd, const struct ht_chan *k,
	       uint64_t ts, uint8_t how, uint8_t ends)
{
	g->capped = 0;
	struct chan *c = chan_get(g, k, ts);
	if (!c && g->capped) {
		p->bound_refused = 1; /* the uid's channels are full */
		return -EDQUOT;
	}
	if (!c)
		return -ENOMEM;
	return fd_set_(g, p, fd, c, ts, how, ends);
}

/* ---- ghost fds (graph_int.h struct ghosts) --------------------------------- */

/* remembers fd's [since, until) on c for p's fork children (inherit_from) */
void ghost_add(struct graph *g, struct proc *p, int fd, const struct chan *c,
	       uint8_t ends, uint64_t since, uint64_t until)
{
	if (!p->ghosts) {
		p->ghosts = calloc(1, sizeof(*p->ghosts));
		if (!p->ghosts)
			return;
		g->st.bytes += sizeof(*p->ghosts);
	}
	struct ghosts *gs = p->ghosts;
	struct ghostfd *e = &gs->e[gs->next];
	gs->next = (uint8_t)((gs->next + 1) % GHOSTS_MAX);
	if (gs->n < GHOSTS_MAX)
		gs->n++;
	*e = (struct ghostfd){.fd = fd, .kind = c->kind, .ends = ends, .dev = c->dev,
			      .ino = c->ino, .since = since, .until = until};
}

/* the ghost open on fd at ts, or NULL */
struct ghostfd *ghost_at(struct proc *p, int fd, uint64_t ts)
{
	for (int i = 0; p->ghosts && i < p->ghosts->n; i++) {
		struct ghostfd *e = &p->ghosts->e[i];
		if (e->fd == fd && e->since <= ts && ts < e->until)
			return e;
	}
	return NULL;
}

/* a close (or a dup over fd) at ts, sent before the last read: a ghost open
 * on fd then ends there */
void ghost_end(struct proc *p, int fd, uint64_t ts)
{
	struct ghostfd *e;
	while ((e = ghost_at(p, fd, ts)))
		e->until = ts;
}

/* a record closes p's fd at ts (graph_int.h struct closedfd) */
void fd_close_rec(struct graph *g, struct proc *p, int fd, uint64_t ts)
{
	struct fdent *e = fd_find(p, fd);
	if (!e)
		return;
	if (!g->closes && (g->closes = calloc(CLOSES_MAX, sizeof(*g->closes))))
		g->st.bytes += CLOSES_MAX * sizeof(*g->closes);
	if (g->closes) {
		const struct chan *c = e->h->c;
		g->closes[g->nclosed++ % CLOSES_MAX] = (struct closedfd){
			p->serial, {.fd = fd, .kind = c->kind, .ends = e->ends, .dev = c->dev,
				    .ino = c->ino, .since = e->h->since, .until = ts}};
		/* a process's record times never go back (clamped to when each
		 * was received, in its own order): this close is its latest */
		g->lastclose[p->serial % LASTCLOSE_N] = (struct lastclose){p->serial, ts};
		p->closed_rec = 1;
	}
	fd_unset(g, p, fd, ts);
}

/* fd_set_ for a record's fd (c NULL: chan_get failed). A record sent before
 * our last read of the sender's /proc/PID/fd table (it waited in the socket
 * while the collector read the table for another reason) must not put back
 * what the table showed gone: the close that followed it is older than the
 * read too, and is ignored. Such a record adds history only — the hold it
 * began, ended by the time of the read — unless the table still shows the
 * channel held, which then dates from the record. */
int fd_rec(struct graph *g, struct proc *p, int fd, struct chan *c, uint64_t ts,
	   uint8_t how, uint8_t ends)
{
	if (!c)
		return -ENOMEM; /* (chan_get failed) */
	if (ts >= p->synced_ts)
		return fd_set_(g, p, fd, c, ts, how, ends);
	struct fdent *cur = fd_find(p, fd);
	if (!cur || cur->h->c != c) /* gone by the read: a ghost until then */
		ghost_add(g, p, fd, c, ends, ts, p->synced_ts);
	for (struct hold *x = p->holds; x; x = x->pnext)
		if (x->c == c && x->until == p->synced_ts && x->nfds == 0) {
			x->ends |= ends; /* the record's other fd (a pipe's two ends) */
			if (ts < x->since)
				x->since = ts;
			uclaim_add(g, p, fd, x);
			return 0;
		}
	struct hold *h = hold_open(g, p, c, ts, how);
	if (!h)
		return -ENOMEM;
	if (h->nfds == 0) {
		h->ends |= ends;
		hold_close(g, h, p->synced_ts);
		uclaim_add(g, p, fd, h); /* its close (older than the read) ends it */
	} else if (ts < h->since) {
		h->since = ts;
	}
	return 0;
}

/* Does no process but p hold c by the kernel's word? (then an unconfirmed
 * claim may say what c is: a short-lived socket only its sender knew) */
int chan_fresh(const struct chan *c, const struct proc *p)
{
	for (const struct hold *x = c->holds; x; x = x->cnext)
		if (x->p != p && !x->unconf)
			return 0;
	return !c->probed || c->addr_claimed;
}

/* A claim the kernel did not confirm (the fd is gone, or is another channel,
 * by the time the record is applied: a short-lived fd, or a forgery): kept as
 * history of the sender — a hold [ts, now) marked unconf, never in the fd
 * table, judged when a chain reaches it (chain.c claim_ok: only about a
 * channel no other uid holds) — and counted. */
int fd_unconfirmed(struct graph *g, struct proc *p, const struct ht_chan *k, uint64_t ts,
		   uint64_t now, uint8_t how, uint8_t ends, int fd, int fd2)
{
	g->st.refused_fd++;
	if (g->cur_acct)
		g->cur_acct->refused_claims++;
	struct chan *c = chan_get(g, k, ts);
	if (!c)
		return g->capped ? -EDQUOT : -ENOMEM;
	if (oh_find(g, p, c))
		return 0; /* held already (the kernel showed it before) */
	struct hold *h = hold_open(g, p, c, ts, how);
	if (!h)
		return g->capped ? -EDQUOT : -ENOMEM;
	h->unconf = 1;
	h->ends |= ends;
	hold_close(g, h, now > ts ? now : ts + 1);
	uclaim_add(g, p, fd, h);
	if (fd2 >= 0 && fd2 != fd)
		uclaim_add(g, p, fd2, h);
	return 0;
}

/* ---- history-only claims: ended when their claimer closed them ---------- */

void uclaim_add(struct graph *g, const struct proc *p, int fd, const struct hold *h)
{
	if (fd < 0)
		return;
	if (!g->uclaims && (g->uclaims = calloc(UCLAIMS_MAX, sizeof(*g->uclaims))))
		g->st.bytes += UCLAIMS_MAX * sizeof(*g->uclaims);
	if (!g->uclaims)
		return;
	g->uclaims[g->nuclaims++ % UCLAIMS_MAX] = (struct uclaim){
		.serial = p->serial, .dev = h->c->dev, .ino = h->c->ino, .since = h->since,
		.fd = fd, .kind = h->c->kind, .open = 1};
}

static int uclaim_same(const struct uclaim *a, const struct uclaim *b)
{
	return a->serial == b->serial && a->kind == b->kind && a->dev == b->dev &&
	       a->ino == b->ino && a->since == b->since;
}

void uclaim_close(struct graph *g, struct proc *p, int lo, int hi, uint64_t ts)
{
	for (uint32_t i = 0; g->uclaims && i < UCLAIMS_MAX; i++) {
		struct uclaim *e = &g->uclaims[i];
		if (!e->open || e->serial != p->serial || e->fd < lo || e->fd > hi || ts < e->since)
			continue;
		e->open = 0;
		int other = 0; /* the claim's other fd (a pipe's other end) still open */
		for (uint32_t j = 0; j < UCLAIMS_MAX && !other; j++)
			other = g->uclaims[j].open && uclaim_same(&g->uclaims[j], e);
		if (other)
			continue;
		for (struct hold *h = p->holds; h; h = h->pnext) {
			if (!h->until || h->nfds || h->how == HOLD_INHERITED || h->since != e->since ||
			    h->c->kind != e->kind || h->c->dev != e->dev || h->c->ino != e->ino)
				continue;
			uint64_t end = ts > h->since ? ts : h->since + 1;
			if (end < h->until) {
				h->until = end;
				g->changes++;
			}
			break;
		}
	}
}

void uclaim_dup(struct graph *g, const struct proc *p, int oldfd, int newfd)
{
	for (uint32_t i = 0; g->uclaims && i < UCLAIMS_MAX; i++) {
		struct uclaim *e = &g->uclaims[i];
		if (e->open && e->serial == p->serial && e->fd == oldfd) {
			struct uclaim copy = *e;
			copy.fd = newfd;
			g->uclaims[g->nuclaims++ % UCLAIMS_MAX] = copy;
			return;
		}
	}
}
