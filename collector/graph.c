/*
 * graph.c — implements graph.h's objects: processes by (pid, start) and
 * channels by key, in their hash tables and lists; interned strings;
 * retention and max_procs (graph_gc, eviction); the graph's life cycle and
 * statistics. What records do to them is graph_apply.c; the other files are
 * listed in graph_int.h.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <time.h>

#include "graph_int.h"
#include "hoptrace/procfs.h"

/* ---- interned strings ------------------------------------------------------ */

const char *graph_intern(struct graph *g, const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *q = s; *q; q++)
		h = (h ^ (uint8_t)*q) * 1099511628211ULL;
	struct istr **slot = &g->itab[h % INTERN_BUCKETS];
	for (struct istr *i = *slot; i; i = i->next)
		if (strcmp(i->s, s) == 0)
			return i->s;
	size_t n = strlen(s);
	struct istr *i = malloc(sizeof(*i) + n + 1);
	if (!i)
		return "";
	memcpy(i->s, s, n + 1);
	i->next = *slot;
	*slot = i;
	g->st.bytes += sizeof(*i) + n + 1;
	return i->s;
}

/* ---- processes ------------------------------------------------------------ */

static size_t pid_slot(const struct graph *g, pid_t pid)
{
	return hash64((uint64_t)pid) & (g->npidtab - 1);
}

struct proc *graph_proc(struct graph *g, pid_t pid)
{
	struct proc *best = NULL;
	for (struct proc *p = g->pidtab[pid_slot(g, pid)]; p; p = p->hnext) {
		if (p->pid != pid)
			continue;
		if (p->alive)
			return p;
		if (!best || p->serial > best->serial)
			best = p;
	}
	return best;
}

static void pidtab_grow(struct graph *g)
{
	size_t n = g->npidtab * 2;
	struct proc **t = calloc(n, sizeof(*t));
	if (!t)
		return;
	for (struct proc *p = g->phead; p; p = p->next) {
		size_t s = hash64((uint64_t)p->pid) & (n - 1);
		p->hnext = t[s];
		t[s] = p;
	}
	g->st.bytes += (n - g->npidtab) * sizeof(*t);
	free(g->pidtab);
	g->pidtab = t;
	g->npidtab = n;
}

static void evict_one(struct graph *g)
{
	if (g->held)
		return; /* a walk holds pointers: the bound waits (proc_new fails) */
	/* the oldest ended process without kept children */
	for (struct proc *p = g->phead; p; p = p->next) {
		if (!p->alive && p->nchildren == 0) {
			proc_free(g, p);
			g->st.evicted++;
			return;
		}
	}
}

struct proc *proc_new(struct graph *g, pid_t pid, uint64_t ts)
{
	if (g->st.procs >= g->conf.max_procs)
		evict_one(g);
	if (g->st.procs >= g->conf.max_procs)
		return NULL;
	struct proc *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = pid;
	p->serial = ++g->serial;
	p->birth_ts = ts;
	p->alive = 1;
	p->exe = p->argv0 = p->sha256 = "";
	p->uid = (uid_t)-1;
	p->prev = g->ptail;
	if (g->ptail)
		g->ptail->next = p;
	else
		g->phead = p;
	g->ptail = p;
	size_t s = pid_slot(g, pid);
	p->hnext = g->pidtab[s];
	g->pidtab[s] = p;
	g->st.procs++;
	g->st.procs_alive++;
	g->st.bytes += sizeof(*p);
	if (g->st.procs > g->npidtab)
		pidtab_grow(g);
	return p;
}

void set_creator(struct proc *p, struct proc *c)
{
	if (p->creator || !c || c == p)
		return;
	p->creator = c;
	p->creator_pid = c->pid;
	c->nchildren++;
}

int born_by(const struct proc *c, const struct proc *p)
{
	static long hz;
	if (c->birth_ts <= p->birth_ts)
		return 1;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return c->start && p->start && c->start <= p->start &&
	       c->birth_ts < p->birth_ts + 1000000000ULL / (uint64_t)hz;
}

int born_before_fork(const struct proc *c, uint64_t fork_ts, uint64_t kstart)
{
	static long hz;
	if (c->start && kstart)
		return c->start <= kstart; /* both the kernel's ticks: exact to the tick */
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	if (!fork_ts) /* /proc's start: CLOCK_BOOTTIME ticks, rounded down */
		fork_ts = kstart * (1000000000ULL / (uint64_t)hz);
	return c->birth_ts <= fork_ts + 1000000000ULL / (uint64_t)hz;
}

void proc_end(struct graph *g, struct proc *p, uint64_t ts)
{
	if (!p->alive)
		return;
	g->changes++;
	/* it said it exits (an EXIT while the kernel still ran it): it ended
	 * when the kernel last showed it running, not when a sweep (up to a
	 * second later) found it gone — else a `$(...)` child let go of its
	 * pipe after the shell that read it to EOF */
	if (p->exit_claimed && p->exit_ts && p->exit_ts < ts) {
		uint64_t lo = p->exit_ts; /* (no hold ends before it began) */
		for (struct hold *h = p->holds; h; h = h->pnext)
			if (!h->until && h->since >= lo)
				lo = h->since + 1;
		ts = lo < ts ? lo : ts;
	}
	p->alive = 0;
	p->exit_ts = ts;
	uclaim_close(g, p, 0, INT_MAX, ts); /* its claims' fds went with it */
	for (struct hold *h = p->holds; h; h = h->pnext)
		if (!h->until) {
			h->nfds = 0;
			hold_close(g, h, ts);
		}
	free(p->fds);
	g->st.bytes -= fds_bytes(p->capfds);
	p->fds = NULL;
	p->nfds = p->capfds = 0;
	g->st.procs_alive--;
	dcache_drop(g, p);
}

void proc_free(struct graph *g, struct proc *p)
{
	proc_end(g, p, p->exit_ts ? p->exit_ts : 1);
	while (p->holds)
		hold_unlink(g, p->holds);
	if (p->ghosts) {
		g->st.bytes -= sizeof(*p->ghosts);
		free(p->ghosts);
		p->ghosts = NULL;
	}
	if (p->trim_queued)
		for (size_t i = 0; i < g->ntrim; i++)
			if (g->trim[i] == p)
				g->trim[i] = NULL;
	if (p->creator)
		p->creator->nchildren--;
	/* children keep their creator_pid but lose the pointer */
	if (p->nchildren)
		for (struct proc *q = g->phead; q; q = q->next)
			if (q->creator == p)
				q->creator = NULL;
	struct proc **pp = &g->pidtab[pid_slot(g, p->pid)];
	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	if (p->prev)
		p->prev->next = p->next;
	else
		g->phead = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		g->ptail = p->prev;
	g->st.procs--;
	g->st.bytes -= sizeof(*p);
	free(p);
}

/* ---- channels ------------------------------------------------------------- */

static size_t chan_slot(const struct graph *g, uint8_t kind, uint64_t dev, uint64_t ino)
{
	return hash64(ino * 31 + dev * 7 + kind) & (g->nchantab - 1);
}

struct chan *graph_chan(struct graph *g, uint8_t kind, uint64_t dev, uint64_t ino)
{
	kind = key_kind(kind);
	for (struct chan *c = g->chantab[chan_slot(g, kind, dev, ino)]; c; c = c->hnext)
		if (c->kind == kind && c->ino == ino && c->dev == dev)
			return c;
	return NULL;
}

static void chantab_grow(struct graph *g)
{
	size_t n = g->nchantab * 2;
	struct chan **t = calloc(n, sizeof(*t));
	if (!t)
		return;
	for (struct chan *c = g->chead; c; c = c->next) {
		size_t s = hash64(c->ino * 31 + c->dev * 7 + c->kind) & (n - 1);
		c->hnext = t[s];
		t[s] = c;
	}
	g->st.bytes += (n - g->nchantab) * sizeof(*t);
	free(g->chantab);
	g->chantab = t;
	g->nchantab = n;
}

struct chan *chan_get(struct graph *g, const struct ht_chan *k, uint64_t ts)
{
	uint8_t kind = key_kind(k->kind);
	uint64_t dev = kind == HT_CHAN_PIPE ? k->dev : 0;
	struct chan *c = graph_chan(g, kind, dev, k->ino);
	if (c) {
		if (k->kind == HT_CHAN_FIFO)
			c->fifo = 1;
		c->last_ts = ts;
		return c;
	}
	struct uacct *a = g->cur_acct;
	if (a && a->uid != 0 && a->chans >= g->conf.max_chans_per_uid) {
		over_bound(g, a);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (a && a->uid != 0) {
		c->acct = a->id;
		a->chans++;
	}
	c->kind = kind;
	c->fifo = k->kind == HT_CHAN_FIFO;
	c->dev = dev;
	c->ino = k->ino;
	c->last_ts = ts;
	size_t s = chan_slot(g, kind, dev, k->ino);
	c->hnext = g->chantab[s];
	g->chantab[s] = c;
	c->prev = g->ctail;
	if (g->ctail)
		g->ctail->next = c;
	else
		g->chead = c;
	g->ctail = c;
	g->st.chans++;
	g->st.bytes += sizeof(*c);
	if (g->st.chans > g->nchantab)
		chantab_grow(g);
	return c;
}

void chan_free(struct graph *g, struct chan *c)
{
	/* (a queued socket may be marked probed by a query meanwhile: it stays
	 * listed until the next TCP dump, so scan whenever it was queued) */
	for (size_t i = 0; c->tcp_probed && i < g->npending; i++)
		if (g->pending[i] == c)
			g->pending[i] = NULL;
	while (c->holds)
		hold_unlink(g, c->holds);
	if (c->peer && c->peer->peer == c)
		c->peer->peer = NULL;
	struct uacct *ca = acct_by_id(g, c->acct);
	if (ca)
		ca->chans--;
	struct chan **pp = &g->chantab[chan_slot(g, c->kind, c->dev, c->ino)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	if (c->prev)
		c->prev->next = c->next;
	else
		g->chead = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		g->ctail = c->prev;
	g->st.chans--;
	g->st.bytes -= sizeof(*c);
	free(c);
}

/* ---- life cycle ----------------------------------------------------------- */

struct graph *graph_new(const struct graph_conf *conf)
{
	struct graph *g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->conf = *conf;
	if (!g->conf.max_procs)
		g->conf.max_procs = 200000;
	g->npidtab = PID_BUCKETS_MIN;
	g->nchantab = CHAN_BUCKETS_MIN;
	g->pidtab = calloc(g->npidtab, sizeof(*g->pidtab));
	g->chantab = calloc(g->nchantab, sizeof(*g->chantab));
	g->nl = -1;
	if (!g->conf.max_fds_per_proc)
		g->conf.max_fds_per_proc = GRAPH_MAX_FDS_PER_PROC;
	if (!g->conf.max_holds_per_uid)
		g->conf.max_holds_per_uid = GRAPH_MAX_HOLDS_PER_UID;
	if (!g->conf.max_chans_per_uid)
		g->conf.max_chans_per_uid = GRAPH_MAX_CHANS_PER_UID;
	if (!g->conf.max_closed)
		g->conf.max_closed = GRAPH_HIST_MAX;
	for (size_t i = 0; i < DCACHE_N; i++)
		g->dcache[i].fd = -1;
	g->nohtab = 1024;
	g->ohtab = calloc(g->nohtab, sizeof(*g->ohtab));
	if (!g->pidtab || !g->chantab || !g->ohtab) {
		graph_free(g);
		return NULL;
	}
	g->st.bytes = sizeof(*g) + (g->npidtab + g->nchantab + g->nohtab) * sizeof(void *);
	if (g->conf.use_procfs)
		procfs_netns(getpid(), &g->my_netns);
	return g;
}

void graph_free(struct graph *g)
{
	if (!g)
		return;
	free(g->kev);
	g->conf.max_closed = 0; /* (the procs' last closes are not listed) */
	graph_hist_free(g);
	while (g->phead)
		proc_free(g, g->phead);
	while (g->chead)
		chan_free(g, g->chead);
	for (size_t i = 0; i < INTERN_BUCKETS; i++)
		while (g->itab[i]) {
			struct istr *n = g->itab[i]->next;
			free(g->itab[i]);
			g->itab[i] = n;
		}
	if (g->nl >= 0)
		close(g->nl);
	for (size_t i = 0; i < DCACHE_N; i++)
		if (g->dcache[i].fd >= 0)
			close(g->dcache[i].fd);
	for (size_t i = 0; i < UID_BUCKETS; i++)
		while (g->utab[i]) {
			struct uacct *n = g->utab[i]->next;
			free(g->utab[i]);
			g->utab[i] = n;
		}
	free(g->byid);
	free(g->closes);
	free(g->uclaims);
	free(g->pidtab);
	free(g->chantab);
	free(g->ohtab);
	free(g);
}

void graph_gc(struct graph *g, uint64_t now)
{
	uint64_t keep = g->conf.retention_ns;
	uint64_t horizon = now > keep ? now - keep : 0;

	if (g->held)
		return;
	g->changes++;
	run_trims(g);
	graph_hist_gc(g, now);

	/* liveness: a rolling sample of live processes, for exits no record told */
	if (g->conf.use_procfs) {
		size_t budget = 2000, i = 0;
		for (struct proc *p = g->phead; p && budget; p = p->next, i++) {
			if (i < g->sweep_pos || !p->alive)
				continue;
			budget--;
			/* (a reused pid is caught when its new process announces
			 * itself: reading starttime here would cost ~5 µs each) */
			if (p->exit_claimed) {
				graph_verify_alive(g, p, now);
			} else if (kill(p->pid, 0) != 0 && errno == ESRCH) {
				/* gone, and no EXIT applied: its last records may
				 * still wait in its connection (the collector lags:
				 * a FIFO's writer that exited at once) — applied to
				 * it, not refused as from nobody, it ends at the next
				 * sweep, dated now, unless its EXIT comes first */
				p->exit_claimed = 1;
				p->exit_ts = now;
			}
		}
		g->sweep_pos = budget ? 0 : i;
	}
	/* retention: a full pass over the graph, every tenth call (each pass is
	 * O(graph); queries wait while it runs) */
	if (++g->gc_ticks % 10 != 1)
		return;
	for (struct proc *p = g->phead, *n; p; p = n) {
		n = p->next;
		if (!p->alive && p->exit_ts < horizon && p->nchildren == 0) {
			proc_free(g, p); /* frees p only; its creator may go next round */
			continue;
		}
		for (struct hold *h = p->holds, *hn; h; h = hn) {
			hn = h->pnext;
			if (h->until && h->until < horizon && p->alive)
				hold_unlink(g, h);
		}
	}
	for (struct chan *c = g->chead, *n; c; c = n) {
		n = c->next;
		if (!c->holds && c->last_ts < horizon)
			chan_free(g, c);
	}
}

void graph_note_addr_corrected(struct graph *g)
{
	g->st.addr_corrected++;
}

void graph_stats(const struct graph *g, struct graph_stats *st)
{
	*st = g->st;
}

const struct graph_conf *graph_conf(const struct graph *g)
{
	return &g->conf;
}

void graph_set_kernel_search(struct graph *g,
			     int (*holders)(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
					    int (*cb)(void *cbctx, pid_t pid, int fd), void *cbctx),
			     graph_kernel_fds_fn fds, void *ctx)
{
	g->conf.kernel_pipe_holders = holders;
	g->conf.kernel_fds = fds;
	g->conf.kernel_ctx = ctx;
}

uint64_t graph_changes(const struct graph *g)
{
	return g->changes;
}

struct proc *graph_first_proc(struct graph *g)
{
	return g->phead;
}

struct chan *graph_first_chan(struct graph *g)
{
	return g->chead;
}
