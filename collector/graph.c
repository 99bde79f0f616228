/*
 * graph.c — implements graph.h: applying shim records to the host model,
 * completing it from /proc where records cannot say (exec'd images, fork
 * children's inherited fds, programs the shim never saw), and bounding it
 * (retention, max_procs).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <signal.h>
#include <time.h>

#include "graph.h"
#include "hoptrace/procfs.h"
#include "sha256.h"
#include "hoptrace/sockdiag.h"

#define PID_BUCKETS_MIN 1024
#define CHAN_BUCKETS_MIN 1024
#define INTERN_BUCKETS 4096

struct istr {
	struct istr *next;
	char s[];
};

#define PENDING_MAX_ 4096
#define TRIM_MAX 64      /* processes whose closed holds wait for trimming */
#define DCACHE_N 32      /* cached /proc/PID/fd directory fds */
#define UID_BUCKETS 256

/* A uid's share of the graph and its refused claims (graph_uid_stats). */
struct uacct {
	uid_t uid;
	uint16_t id;  /* what processes and channels keep (0: none) */
	uint64_t holds, chans, refused_claims, refused_bounds;
	struct uacct *next;
};

struct graph {
	struct graph_conf conf;
	struct proc **pidtab;
	size_t npidtab;
	struct chan **chantab;
	size_t nchantab;
	struct proc *phead, *ptail;
	struct chan *chead, *ctail;
	struct istr *itab[INTERN_BUCKETS];
	uint64_t serial;
	uint64_t my_netns;
	size_t sweep_pos;
	unsigned gc_ticks;
	struct graph_stats st;
	int nl; /* sock_diag socket, -1 until needed */
	struct chan *pending[PENDING_MAX_]; /* sockets to probe (graph_probe_pending) */
	size_t npending;
	uint64_t last_dump;              /* monotonic ns of the last TCP dump */
	size_t pending_checked;          /* pending[0..this) are not unix sockets */
	/* freeing is deferred while a walk holds the graph (graph_hold), and
	 * closed holds are trimmed at safe points, never inside hold_close (its
	 * callers may be iterating the lists it would trim) */
	int held;
	struct proc *trim[TRIM_MAX];
	size_t ntrim;
	/* open holds by (process, channel) */
	struct hold **ohtab;
	size_t nohtab, nopen;
	struct uacct *utab[UID_BUCKETS];
	struct uacct **byid;             /* byid[id - 1] */
	size_t nbyid, capbyid;
	struct uacct *cur_acct;          /* the sender's while its record is applied */
	int capped;                      /* the last hold_open/chan_get hit a bound */
	struct dcache { pid_t pid; int fd; uint64_t serial; } dcache[DCACHE_N];
	size_t dnext;
	uint64_t last_failcheck;         /* monotonic ns of the last CONNFAIL check dump */
	struct closedfd *closes;         /* the last CLOSES_MAX closes by records (fd_close_rec) */
	uint32_t nclosed;
};

/* ---- small helpers -------------------------------------------------------- */

/* an fd table's block: the entries, and from FDIDX_MIN on an fd -> index+1
 * hash of twice as many slots after them (graph.h struct proc) */
#define FDIDX_MIN 16
static size_t fds_bytes(uint32_t cap)
{
	return cap * sizeof(struct fdent) + (cap >= FDIDX_MIN ? 2 * (size_t)cap * sizeof(uint32_t) : 0);
}

static uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

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

static int in_my_netns(struct graph *g, pid_t pid)
{
	uint64_t ns;
	if (!g->conf.use_procfs || !g->my_netns)
		return 1;
	if (procfs_netns(pid, &ns) != 0)
		return 0;
	return ns == g->my_netns;
}

/* ---- uids ------------------------------------------------------------------ */

static struct uacct *acct_of(struct graph *g, uid_t uid)
{
	struct uacct **slot = &g->utab[hash64((uint64_t)uid) % UID_BUCKETS];
	for (struct uacct *a = *slot; a; a = a->next)
		if (a->uid == uid)
			return a;
	if (g->nbyid >= 65535)
		return NULL; /* (more uids than a host has: uncharged) */
	if (g->nbyid == g->capbyid) {
		size_t n = g->capbyid ? g->capbyid * 2 : 16;
		struct uacct **t = realloc(g->byid, n * sizeof(*t));
		if (!t)
			return NULL;
		g->byid = t;
		g->capbyid = n;
	}
	struct uacct *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->uid = uid;
	a->next = *slot;
	*slot = a;
	g->byid[g->nbyid++] = a;
	a->id = (uint16_t)g->nbyid;
	g->st.bytes += sizeof(*a) + sizeof(a);
	return a;
}

static struct uacct *acct_by_id(const struct graph *g, uint16_t id)
{
	return id && id <= g->nbyid ? g->byid[id - 1] : NULL;
}

void graph_uid_stats(const struct graph *g, int (*cb)(void *ctx, const struct graph_uid_stats *u),
		     void *ctx)
{
	for (size_t i = 0; i < UID_BUCKETS; i++)
		for (const struct uacct *a = g->utab[i]; a; a = a->next) {
			if (!a->holds && !a->chans && !a->refused_claims && !a->refused_bounds)
				continue;
			struct graph_uid_stats u = {a->uid, a->holds, a->chans, a->refused_claims,
						    a->refused_bounds};
			if (cb(ctx, &u))
				return;
		}
}

/* A bound hit: counted for the uid being charged (the record's sender) */
static void over_bound(struct graph *g, struct uacct *a)
{
	g->capped = 1;
	g->st.refused_bounds++;
	if (a)
		a->refused_bounds++;
}

/* ---- the kernel's view of a claim ------------------------------------------ */

/* Are claims checked? (a fake kernel's hooks, or /proc) */
static int checking(const struct graph *g)
{
	return !g->conf.trust_claims && (g->conf.kernel_fd || g->conf.use_procfs);
}

/* Are claimed TCP addresses checked? (the kernel's TCP table: sock_diag) */
static int addr_checking(const struct graph *g)
{
	return !g->conf.trust_claims && g->conf.use_procfs;
}

static void dcache_drop(struct graph *g, const struct proc *p)
{
	for (size_t i = 0; i < DCACHE_N; i++)
		if (g->dcache[i].serial == p->serial && g->dcache[i].fd >= 0) {
			close(g->dcache[i].fd); /* a /proc directory: never blocks */
			g->dcache[i].fd = -1;
			g->dcache[i].serial = 0;
		}
}

/* What the kernel says fd of p is: 0 and *k (a FIFO keyed as a pipe),
 * -ENOENT no such fd (or p ended), -ENOTSUP not a channel end. One fstatat
 * through a cached /proc/PID/fd directory fd (opened once per process, so a
 * reused pid is never asked: the old directory answers ENOENT). */
static int kernel_fd(struct graph *g, struct proc *p, int fd, struct ht_chan *k)
{
	g->st.fd_checks++;
	if (g->conf.kernel_fd)
		return g->conf.kernel_fd(g->conf.kernel_ctx, p->pid, fd, k);
	struct dcache *d = NULL;
	for (size_t i = 0; i < DCACHE_N; i++)
		if (g->dcache[i].serial == p->serial && g->dcache[i].fd >= 0) {
			d = &g->dcache[i];
			break;
		}
	if (!d) {
		int dfd = procfs_fd_dir(p->pid);
		if (dfd < 0)
			return -ENOENT;
		d = &g->dcache[g->dnext];
		g->dnext = (g->dnext + 1) % DCACHE_N;
		if (d->fd >= 0)
			close(d->fd);
		*d = (struct dcache){p->pid, dfd, p->serial};
	}
	return procfs_fd_chan_at(d->fd, p->pid, fd, k);
}

static int same_key(const struct ht_chan *a, const struct ht_chan *b)
{
	uint8_t ka = a->kind == HT_CHAN_FIFO ? HT_CHAN_PIPE : a->kind;
	uint8_t kb = b->kind == HT_CHAN_FIFO ? HT_CHAN_PIPE : b->kind;
	if (ka != kb || a->ino != b->ino)
		return 0;
	return ka != HT_CHAN_PIPE || a->dev == b->dev;
}

/* Does the kernel show fd of p as channel k now? 1 yes (or nothing to ask
 * with: checks off), 0 no. */
static int kernel_shows(struct graph *g, struct proc *p, int fd, const struct ht_chan *k)
{
	struct ht_chan cur;
	if (!checking(g))
		return 1;
	return kernel_fd(g, p, fd, &cur) == 0 && same_key(&cur, k);
}

/* A claim the kernel did not confirm: refused, counted for the sender's uid */
static int refuse(struct graph *g, uint64_t *counter, const char **why, const char *what)
{
	(*counter)++;
	if (g->cur_acct)
		g->cur_acct->refused_claims++;
	*why = what;
	return -EPERM;
}

/* The kernel's parent, group, session, start of pid (hooks or /proc) */
static int kernel_proc(struct graph *g, pid_t pid, struct graph_kproc *k)
{
	memset(k, 0, sizeof(*k));
	if (g->conf.kernel_proc)
		return g->conf.kernel_proc(g->conf.kernel_ctx, pid, k);
	if (!g->conf.use_procfs)
		return -ENOSYS;
	struct procfs_stat st;
	int rc = procfs_stat_nouid(pid, &st);
	if (rc)
		return rc;
	*k = (struct graph_kproc){st.ppid, st.pgrp, st.sid, st.starttime, st.state};
	return 0;
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

static struct proc *live_proc(struct graph *g, pid_t pid)
{
	struct proc *p = graph_proc(g, pid);
	return p && p->alive ? p : NULL;
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

static void hold_close(struct graph *g, struct hold *h, uint64_t ts);
static void proc_free(struct graph *g, struct proc *p);
static void kernel_lineage(struct graph *g, struct proc *p, uint64_t now);

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

static struct proc *proc_new(struct graph *g, pid_t pid, uint64_t ts)
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

static void set_creator(struct proc *p, struct proc *c)
{
	if (p->creator || !c || c == p)
		return;
	p->creator = c;
	p->creator_pid = c->pid;
	c->nchildren++;
}

/* Ghost fds. A record sent before the collector's last read of the sender's
 * /proc/PID/fd table changes the table no more (fd_rec) — but a fork child
 * whose own table cannot be read (gone already) inherits its creator's table
 * as it was at the fork, and a fd the creator opened and closed again before
 * the read (a pipe's write end that dash hands to the `$(...)` child, then
 * closes) is in no table. The creator keeps the last GHOSTS_MAX such fds with
 * the interval the records give them, for inherit_from. Channels by key, not
 * by pointer: a channel may be freed before its ghost. */
#define GHOSTS_MAX 8
struct ghostfd {
	int fd;
	uint8_t kind, ends;
	uint64_t dev, ino, since, until;
};
struct ghosts {
	uint8_t n, next;
	struct ghostfd e[GHOSTS_MAX];
};

static void proc_end(struct graph *g, struct proc *p, uint64_t ts)
{
	if (!p->alive)
		return;
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

static void hold_unlink(struct graph *g, struct hold *h);

static void proc_free(struct graph *g, struct proc *p)
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

static uint8_t key_kind(uint8_t kind)
{
	return kind == HT_CHAN_FIFO ? HT_CHAN_PIPE : kind;
}

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

static struct chan *chan_get(struct graph *g, const struct ht_chan *k, uint64_t ts)
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

static void chan_free(struct graph *g, struct chan *c)
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

/* ---- holds and fd tables -------------------------------------------------- */

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

static struct hold *oh_find(struct graph *g, const struct proc *p, const struct chan *c)
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

static struct hold *hold_open(struct graph *g, struct proc *p, struct chan *c, uint64_t ts,
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
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
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

#define CLOSED_KEEP 256 /* closed holds a live process keeps (its recent history) */

static void hold_unlink(struct graph *g, struct hold *h);

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

static void run_trims(struct graph *g)
{
	if (g->held)
		return;
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

static void hold_close(struct graph *g, struct hold *h, uint64_t ts)
{
	if (h->until)
		return;
	h->until = ts > h->since ? ts : h->since + 1;
	h->c->last_ts = ts;
	oh_del(g, h);
	struct proc *p = h->p;
	/* (issue 10: trimming here freed holds — even h — that the PTY case and
	 * chain walks were still iterating) */
	if (++p->nclosed > 2 * CLOSED_KEEP && p->alive && !p->trim_queued && g->ntrim < TRIM_MAX) {
		p->trim_queued = 1;
		g->trim[g->ntrim++] = p;
	}
}

static void hold_unlink(struct graph *g, struct hold *h)
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

static struct fdent *fd_find(struct proc *p, int fd)
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

static void fd_unset(struct graph *g, struct proc *p, int fd, uint64_t ts)
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
		hold_close(g, h, ts);
	} else if (h && h->nfds <= 64) {
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

static int fd_set_(struct graph *g, struct proc *p, int fd, struct chan *c, uint64_t ts,
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

/* The end of a pipe/FIFO (access mode: the mode bits of the /proc/PID/fd link)
 * or of a pty (ptmx is the master) that fd is; 0 when /proc cannot say. */
static uint8_t fd_ends(struct graph *g, pid_t pid, int fd, uint8_t kind)
{
	char path[64];
	struct stat sb;
	if (!g->conf.use_procfs || (kind != HT_CHAN_PIPE && kind != HT_CHAN_FIFO && kind != HT_CHAN_PTY))
		return 0;
	snprintf(path, sizeof(path), "%s/%d/fd/%d", procfs_root(), pid, fd);
	if (kind == HT_CHAN_PTY) {
		if (stat(path, &sb) != 0 || !S_ISCHR(sb.st_mode))
			return 0;
		return major(sb.st_rdev) == 5 ? HE_M : HE_S;
	}
	if (lstat(path, &sb) != 0)
		return 0;
	return (uint8_t)(((sb.st_mode & S_IRUSR) ? HE_R : 0) | ((sb.st_mode & S_IWUSR) ? HE_W : 0));
}

static int fd_set_key(struct graph *g, struct proc *p, int fd, const struct ht_chan *k,
		      uint64_t ts, uint8_t how, uint8_t ends)
{
	struct chan *c = chan_get(g, k, ts);
	if (!c)
		return -ENOMEM;
	return fd_set_(g, p, fd, c, ts, how, ends);
}

static void ghost_add(struct graph *g, struct proc *p, int fd, const struct chan *c,
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
static struct ghostfd *ghost_at(struct proc *p, int fd, uint64_t ts)
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
static void ghost_end(struct proc *p, int fd, uint64_t ts)
{
	struct ghostfd *e;
	while ((e = ghost_at(p, fd, ts)))
		e->until = ts;
}

/* The host's last CLOSES_MAX fds closed by records, each with its creator's
 * interval (from its hold's start): a fork child whose BIRTH is applied after
 * its creator's records closed an fd it had at the fork — the parent runs
 * first (dash closes the write end it gave `$(...)`) — and that is gone (or a
 * zombie) by then inherits it (inherit_from). One ring for the host, not per
 * process: a BIRTH comes soon after the closes that follow its fork, in
 * record order. */
#define CLOSES_MAX 256
struct closedfd {
	uint64_t serial; /* the closer's */
	struct ghostfd e;
};

/* a record closes p's fd at ts */
static void fd_close_rec(struct graph *g, struct proc *p, int fd, uint64_t ts)
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
static int fd_rec(struct graph *g, struct proc *p, int fd, struct chan *c, uint64_t ts,
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
			return 0;
		}
	struct hold *h = hold_open(g, p, c, ts, how);
	if (!h)
		return -ENOMEM;
	if (h->nfds == 0) {
		h->ends |= ends;
		hold_close(g, h, p->synced_ts);
	} else if (ts < h->since) {
		h->since = ts;
	}
	return 0;
}

/* A claim the kernel did not confirm (the fd is gone, or is another channel,
 * by the time the record is applied: a short-lived fd, or a forgery): kept as
 * history of the sender — a hold [ts, now) marked unconf, never in the fd
 * table, judged when a chain reaches it (chain.c claim_ok: only about a
 * channel no other uid holds) — and counted. */
/* Does no process but p hold c by the kernel's word? (then an unconfirmed
 * claim may say what c is: a short-lived socket only its sender knew) */
static int chan_fresh(const struct chan *c, const struct proc *p)
{
	for (const struct hold *x = c->holds; x; x = x->cnext)
		if (x->p != p && !x->unconf)
			return 0;
	return !c->probed || c->addr_claimed;
}

static int fd_unconfirmed(struct graph *g, struct proc *p, const struct ht_chan *k, uint64_t ts,
			  uint64_t now, uint8_t how, uint8_t ends)
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
	return 0;
}

/* ---- /proc completion ----------------------------------------------------- */

struct sync_ctx {
	struct graph *g;
	struct proc *p;
	uint64_t ts;
	uint8_t how;
	int *seen;
	size_t nseen, cap;
};

/* Sockets first seen in /proc (inherited from a process no record names: an
 * unshimmed listener's accepted connection) are asked about while they are
 * open: once closed, the kernel can no longer say it was a TCP connection, and
 * a creator lineage judged after the session ended would reach an unknown
 * socket. They are queued here and probed in one sock_diag dump per round
 * (graph_probe_pending, called by the collector's loop), not one per socket. */
#define PENDING_MAX PENDING_MAX_

static void pend_socket(struct graph *g, const struct ht_chan *k)
{
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, k->ino);
	if (!c || c->probed || c->tcp_probed || c->remote.family != 0 || c->has_local ||
	    g->npending >= PENDING_MAX)
		return;
	c->tcp_probed = 1; /* queued */
	g->pending[g->npending++] = c;
}

void graph_note_addr_corrected(struct graph *g)
{
	g->st.addr_corrected++;
}

struct probe_ctx {
	struct graph *g;
	struct { uint16_t family, port; } listen[256];
	size_t nlisten;
};

static int probe_listen_cb(void *vctx, const struct sd_inet *s)
{
	struct probe_ctx *x = vctx;
	if (s->state != 10 /* TCP_LISTEN */)
		return 0;
	/* shared by a forking server's children: no data between them */
	struct chan *c = graph_chan(x->g, HT_CHAN_SOCK, 0, s->ino);
	if (c && !c->dir)
		c->dir = 'l';
	if (x->nlisten < 256) {
		x->listen[x->nlisten].family = (uint16_t)s->family;
		x->listen[x->nlisten].port = s->lport;
		x->nlisten++;
	}
	return 0;
}

static int probe_cb(void *vctx, const struct sd_inet *s)
{
	struct probe_ctx *x = vctx;
	struct graph *g = x->g;
	if (s->state == 10)
		return 0;
	for (size_t i = 0; i < g->npending; i++) {
		struct chan *c = g->pending[i];
		if (!c || c->ino != s->ino)
			continue;
		if (c->addr_claimed && c->remote.family &&
		    (c->remote.port != s->rport || memcmp(c->remote.a, s->raddr, c->remote.len)))
			g->st.addr_corrected++;
		c->addr_claimed = 0; /* the kernel's, from here on */
		struct gaddr *a[2] = {&c->local, &c->remote};
		const uint8_t *ip[2] = {s->laddr, s->raddr};
		uint16_t port[2] = {s->lport, s->rport};
		for (int k = 0; k < 2; k++) {
			memset(a[k], 0, sizeof(*a[k]));
			a[k]->family = (uint16_t)s->family;
			a[k]->len = s->family == AF_INET ? 4 : 16;
			memcpy(a[k]->a, ip[k], a[k]->len);
			a[k]->port = port[k];
		}
		c->has_local = 1;
		c->probed = 1;
		/* accepted if its local port is one this host listens on */
		c->dir = 'o';
		for (size_t l = 0; l < x->nlisten; l++)
			if (x->listen[l].port == s->lport)
				c->dir = 'i';
		g->pending[i] = NULL;
	}
	return 0;
}

void graph_mark_internal(struct graph *g, uint64_t ino, int on)
{
	struct ht_chan k = {HT_CHAN_SOCK, 0, ino};
	struct chan *c = on ? chan_get(g, &k, 0) : graph_chan(g, HT_CHAN_SOCK, 0, ino);
	if (!c)
		return;
	c->internal = (uint8_t)on;
	c->probed = 1;
	/* kept while the connection lives; retention applies after */
	if (!on) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		c->last_ts = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	} else {
		c->last_ts = UINT64_MAX / 2;
	}
}

size_t graph_pending(const struct graph *g)
{
	return g->npending;
}

void graph_probe_pending(struct graph *g, int force)
{
	if (!g->npending)
		return;
	if (g->nl < 0)
		g->nl = sd_open();
	if (g->nl < 0) {
		g->npending = g->pending_checked = 0;
		return;
	}
	/* unix sockets first: an exact lookup by inode each (the entries before
	 * pending_checked were looked up in an earlier round: TCP candidates) */
	size_t left = 0;
	for (size_t i = 0; i < g->npending; i++) {
		struct chan *c = g->pending[i];
		uint64_t peer = 0;
		if (!c)
			continue;
		if (c->remote.family == AF_INET || c->remote.family == AF_INET6) {
			/* TCP (a CONNECT record, or a query linked it): the dump
			 * still gives its local end if nobody did yet, and the
			 * kernel's addresses for what a record claimed */
			if (!c->has_local || c->addr_claimed)
				g->pending[left++] = c;
			continue;
		}
		if (i < g->pending_checked) {
			g->pending[left++] = c;
			continue;
		}
		int rc = sd_unix_peer(g->nl, c->ino, &peer);
		if (rc != 0 && rc != -ENOTCONN) {
			g->pending[left++] = c; /* not a unix socket (or no answer): TCP? */
			continue;
		}
		c->remote.family = AF_UNIX;
		c->probed = 1;
		if (rc == 0) {
			struct ht_chan k = {HT_CHAN_SOCK, 0, peer};
			struct chan *pc = chan_get(g, &k, c->last_ts);
			if (pc && pc != c) {
				chan_link_peers(c, pc);
				pc->remote.family = AF_UNIX;
			}
		}
	}
	g->npending = g->pending_checked = left;
	if (!left)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (!force && now < g->last_dump + GRAPH_PROBE_GAP_NS && left < PENDING_MAX / 2)
		return; /* kept for the next round (chan_free unlists a freed one) */
	g->last_dump = now;
	struct probe_ctx x = {.g = g};
	sd_inet_dump(g->nl, 0, 1u << 10, probe_listen_cb, &x);
	sd_inet_dump(g->nl, 0, ~((1u << 6) | (1u << 10)) & 0xfff, probe_cb, &x);
	g->npending = g->pending_checked = 0; /* found or not (UDP, netlink): done */
}

static int sync_cb(void *vctx, int fd, const struct ht_chan *k)
{
	struct sync_ctx *x = vctx;
	if (x->nseen < x->cap)
		x->seen[x->nseen++] = fd;
	fd_set_key(x->g, x->p, fd, k, x->ts, x->how, fd_ends(x->g, x->p->pid, fd, k->kind));
	if (k->kind == HT_CHAN_SOCK)
		pend_socket(x->g, k);
	return 0;
}

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Makes p's fd table equal to /proc/PID/fd. Returns 0, or -errno if /proc
 * could not be read or p has exited (p unchanged). */
static int proc_sync_fds(struct graph *g, struct proc *p, uint64_t ts, uint8_t how)
{
	int seen[1024];
	struct sync_ctx x = {.g = g, .p = p, .ts = ts, .how = how, .seen = seen,
			     .cap = sizeof(seen) / sizeof(seen[0])};
	if (!g->conf.use_procfs)
		return -ENOSYS;
	g->st.proc_reads++;
	struct timespec rt;
	clock_gettime(CLOCK_MONOTONIC, &rt); /* the records' clock */
	int rc = procfs_fds(p->pid, sync_cb, &x);
	if (rc < 0)
		return rc;
	/* a zombie's /proc/PID/fd is there and empty: that says nothing of what
	 * it held (a `$(...)` child gone before its BIRTH was applied, not yet
	 * reaped: it inherits from its creator instead) */
	struct graph_kproc k;
	if (!x.nseen && (kernel_proc(g, p->pid, &k) != 0 || k.state == 'Z' || k.state == 'X'))
		return -ESRCH;
	p->synced_ts = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	if (x.nseen == x.cap)
		return 0; /* too many to compare: keep what we have */
	qsort(seen, x.nseen, sizeof(seen[0]), int_cmp);
	for (uint32_t i = 0; i < p->nfds;) {
		int fd = p->fds[i].fd;
		int found = bsearch(&fd, seen, x.nseen, sizeof(seen[0]), int_cmp) != NULL;
		if (!found)
			fd_unset(g, p, fd, ts); /* swaps the last entry into i */
		else
			i++;
	}
	return 0;
}

/* Copies the creator's holds that were open at fork time (used when the child's
 * own fd table cannot be read). */
static void inherit_from(struct graph *g, struct proc *p, struct proc *c, uint64_t fork_ts)
{
	/* the table as it is now, but what came after the fork */
	for (uint32_t i = 0; c->fds && i < c->nfds; i++)
		if (c->fds[i].h->since <= fork_ts)
			fd_set_(g, p, c->fds[i].fd, c->fds[i].h->c, fork_ts, HOLD_INHERITED,
				c->fds[i].ends);
	/* and what the creator held at the fork that its table no longer shows
	 * (the records before the read are the truth about that moment) */
	for (int i = 0; c->ghosts && i < c->ghosts->n; i++) {
		struct ghostfd *e = &c->ghosts->e[i];
		if (e->since > fork_ts || fork_ts >= e->until)
			continue;
		struct ht_chan k = {e->kind, e->dev, e->ino};
		struct chan *ch = chan_get(g, &k, fork_ts);
		if (ch)
			fd_set_(g, p, e->fd, ch, fork_ts, HOLD_INHERITED, e->ends);
	}
	/* and what its records closed after the fork, before the child's BIRTH
	 * was applied */
	for (uint32_t i = 0; g->closes && i < CLOSES_MAX; i++) {
		struct ghostfd *e = &g->closes[i].e;
		if (g->closes[i].serial != c->serial || e->since > fork_ts || fork_ts >= e->until ||
		    fd_find(p, e->fd))
			continue;
		struct ht_chan k = {e->kind, e->dev, e->ino};
		struct chan *ch = chan_get(g, &k, fork_ts);
		if (ch)
			fd_set_(g, p, e->fd, ch, fork_ts, HOLD_INHERITED, e->ends);
	}
	/* and its own claims the kernel could not confirm (all gone by the time
	 * they were applied: dash's PIPE for `$(...)` when the collector lags)
	 * that span the fork — unconfirmed for the child too, judged by the
	 * creator's uid (chain.c claim_ok) */
	for (struct hold *x = c->holds; x; x = x->pnext) {
		if (!x->unconf || x->how == HOLD_INHERITED || x->since > fork_ts ||
		    fork_ts >= x->until || oh_find(g, p, x->c))
			continue;
		struct hold *h = hold_open(g, p, x->c, fork_ts, HOLD_INHERITED);
		if (!h)
			break;
		h->unconf = 1;
		h->ends = x->ends;
		hold_close(g, h, x->until);
	}
}

static void proc_hash(struct graph *g, struct proc *p)
{
	char hex[65];
	uint32_t t;
	/* never long on this thread: a large or busy user's file is hashed in
	 * the background and picked up by graph_proc_sha256 */
	p->sha256 = exehash_request(p->pid, p->uid, hex, &t) == 0 ? graph_intern(g, hex) : "";
	p->hash_ticket = t;
}

const char *graph_proc_sha256(struct graph *g, const struct proc *cp)
{
	struct proc *p = (struct proc *)cp; /* a cache fill, not a change of the model */
	char hex[65];
	if (p->sha256[0] || !p->hash_ticket)
		return p->sha256;
	int rc = exehash_peek(p->hash_ticket, hex);
	if (rc == 0)
		p->sha256 = graph_intern(g, hex);
	if (rc != -EINPROGRESS)
		p->hash_ticket = 0;
	return p->sha256;
}

static void proc_fill_identity(struct graph *g, struct proc *p)
{
	struct procfs_stat st;
	char buf[HT_REC_PATH_MAX + 1];
	if (!g->conf.use_procfs)
		return;
	if (procfs_stat(p->pid, &st) == 0) {
		p->start = st.starttime;
		p->uid = st.uid;
	}
	if (!p->exe[0] && procfs_exe(p->pid, buf, sizeof(buf)) == 0)
		p->exe = graph_intern(g, buf);
	if (!p->argv0[0] && procfs_argv0(p->pid, buf, sizeof(buf)) == 0)
		p->argv0 = graph_intern(g, buf);
	proc_hash(g, p);
}

/* ---- creators ------------------------------------------------------------- */

/* The creator a record claims (BIRTH) or implies (IMAGE's ppid). Only a process
 * of this host counts; one we never heard of is created from /proc. */
static struct proc *find_creator(struct graph *g, pid_t cpid, uint64_t birth_ts, uint64_t now)
{
	if (cpid <= 1)
		return NULL;
	struct proc *c = live_proc(g, cpid);
	if (c)
		return c;
	/* a creator that ended after the fork (its EXIT was processed before the
	 * child's BIRTH: setsid's or daemon()'s parent exits at once) */
	c = graph_proc(g, cpid);
	if (c && !c->alive && c->exit_ts + HT_REC_MAX_SKEW_NS >= birth_ts && c->birth_ts <= birth_ts)
		return c;
	if (!g->conf.use_procfs)
		return NULL;
	return graph_proc_kernel(g, cpid, now);
}

/* When a process the kernel shows us started, on our clock: /proc's
 * starttime (clock ticks since boot) is CLOCK_BOOTTIME, which equals
 * CLOCK_MONOTONIC on a machine that never suspended; never later than now. */
static uint64_t kernel_birth_ns(uint64_t starttime, uint64_t now)
{
	static long hz;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	uint64_t ns = starttime * (1000000000ULL / (uint64_t)hz);
	return ns && ns < now ? ns : now;
}

/* A process found from /proc only: it has held what /proc shows since it
 * started, as far as we can tell — dating its holds "now" would hide them from
 * questions about its children's births, which happened before. */
static struct proc *proc_from_kernel(struct graph *g, pid_t pid, const struct procfs_stat *st,
				     uint64_t now)
{
	uint64_t born = kernel_birth_ns(st->starttime, now);
	struct proc *p = proc_new(g, pid, born);
	if (!p)
		return NULL;
	p->seen_kernel = 1;
	p->creator_pid = st->ppid;
	proc_fill_identity(g, p);
	proc_sync_fds(g, p, born, HOLD_KERNEL);
	return p;
}

struct proc *graph_proc_kernel(struct graph *g, pid_t pid, uint64_t now)
{
	struct procfs_stat st;
	struct proc *p = live_proc(g, pid);
	if (p)
		return p;
	if (!g->conf.use_procfs || pid <= 1)
		return NULL;
	if (procfs_stat(pid, &st) != 0 || !in_my_netns(g, pid))
		return NULL;
	p = proc_from_kernel(g, pid, &st, now);
	if (!p)
		return NULL;
	/* lineage: follow parents from /proc while they are on this host; bounded */
	struct proc *child = p;
	for (int depth = 0; depth < 64 && child->creator_pid > 1; depth++) {
		struct proc *c = live_proc(g, child->creator_pid);
		if (c) {
			set_creator(child, c);
			break;
		}
		if (procfs_stat(child->creator_pid, &st) != 0 || !in_my_netns(g, child->creator_pid))
			break;
		c = proc_from_kernel(g, child->creator_pid, &st, now);
		if (!c)
			break;
		set_creator(child, c);
		child = c;
	}
	if (!child->creator && child->creator_pid <= 1)
		kernel_lineage(g, child, now); /* re-parented: its group's or session's leader */
	return p;
}

int graph_verify_alive(struct graph *g, struct proc *p, uint64_t now)
{
	if (!p->alive)
		return 0;
	if (p->exit_claimed) {
		struct graph_kproc k;
		if (kernel_proc(g, p->pid, &k) != 0 || k.state == 'Z' || k.state == 'X' ||
		    (p->start && k.start != p->start)) {
			proc_end(g, p, now); /* it said it exits, and now it has */
			return 0;
		}
		if (now > p->exit_ts)
			p->exit_ts = now;
		return 1;
	}
	if (!g->conf.use_procfs || kill(p->pid, 0) == 0 || errno != ESRCH)
		return 1;
	proc_end(g, p, now); /* killed by a signal: no EXIT record came */
	return 0;
}

struct proc *graph_proc_resync(struct graph *g, pid_t pid, uint64_t now)
{
	struct proc *p = live_proc(g, pid);
	if (!p)
		return graph_proc_kernel(g, pid, now);
	if (proc_sync_fds(g, p, now, HOLD_KERNEL) != 0 && kill(pid, 0) != 0 && errno == ESRCH)
		proc_end(g, p, now);
	return p->alive ? p : NULL;
}

struct proc *graph_creator(struct graph *g, struct proc *p, uint64_t now)
{
	if (p->creator || p->foreign_creator || p->creator_pid <= 1)
		return p->creator;
	if (!p->alive || !g->conf.use_procfs)
		return NULL;
	struct proc *c = find_creator(g, p->creator_pid, p->birth_ts, now);
	if (c && c != p && c->birth_ts <= p->birth_ts)
		set_creator(p, c);
	else
		p->foreign_creator = 1;
	return p->creator;
}

void graph_refresh(struct graph *g, struct proc *p, uint64_t now)
{
	char buf[HT_REC_PATH_MAX + 1];
	if (!p->alive || !p->exec_pending || !g->conf.use_procfs)
		return;
	if (kill(p->pid, 0) != 0 && errno == ESRCH) {
		proc_end(g, p, now);
		return;
	}
	/* exec'd without announcing a new image: a static binary (no shim) */
	if (procfs_exe(p->pid, buf, sizeof(buf)) == 0) {
		p->exe = graph_intern(g, buf);
		if (procfs_argv0(p->pid, buf, sizeof(buf)) == 0)
			p->argv0 = graph_intern(g, buf);
		proc_hash(g, p);
	}
	proc_sync_fds(g, p, now, HOLD_KERNEL);
	p->seen_kernel = 1;
	p->exec_pending = 0;
}

/* ---- applying records ----------------------------------------------------- */

/* A process whose creator neither a record nor its kernel parent names (it
 * was re-parented: whatever created it ran without the shim — HOPTRACE_DISABLE,
 * a static binary — and has ended): the leader of its process group, else of
 * its session, when the graph or /proc knows one born before it. The gap is
 * marked (lineage_kernel: seen "kernel", the chain a fallback). A setsid'd
 * orphan of an unshimmed process keeps no trace the kernel shows; the
 * kernel-events issue (process creation reported by the kernel itself) will
 * set the creator before this runs, and wins: this is only asked while
 * p->creator is unknown. */
static void kernel_lineage(struct graph *g, struct proc *p, uint64_t now)
{
	struct graph_kproc k;
	if (p->creator || !checking(g) || kernel_proc(g, p->pid, &k) != 0)
		return;
	pid_t cand[2] = {k.pgrp, k.sid};
	for (int i = 0; i < 2; i++) {
		if (cand[i] <= 1 || cand[i] == p->pid || (i == 1 && cand[1] == cand[0]))
			continue;
		struct proc *c = graph_proc(g, cand[i]);
		if (!c && g->conf.use_procfs)
			c = graph_proc_kernel(g, cand[i], now);
		if (!c || c == p || c->birth_ts > p->birth_ts)
			continue;
		set_creator(p, c);
		p->creator_pid = c->pid;
		p->foreign_creator = 0;
		p->lineage_kernel = p->seen_kernel = 1;
		g->st.lineage_kernel++;
		return;
	}
}

/* A process we hear from for the first time (or whose pid was reused). */
static struct proc *proc_arrive(struct graph *g, pid_t pid, uid_t uid, pid_t creator_pid,
				uint64_t birth_ts, uint64_t now)
{
	struct proc *old = live_proc(g, pid);
	if (old)
		proc_end(g, old, now); /* pid reuse: its exit was never reported */
	struct proc *p = proc_new(g, pid, birth_ts);
	if (!p)
		return NULL;
	p->uid = uid;
	p->creator_pid = creator_pid;
	struct proc *c = find_creator(g, creator_pid, birth_ts, now);
	if (c && c != p)
		set_creator(p, c);
	else if (creator_pid > 1)
		p->foreign_creator = 1;
	proc_fill_identity(g, p);
	if (!p->creator) {
		p->birth_ts = birth_ts;
		kernel_lineage(g, p, now);
	}
	if (!p->exe[0] && p->creator) {
		/* a fork child runs its creator's image until it execs */
		p->exe = p->creator->exe;
		p->argv0 = p->creator->argv0;
		p->sha256 = p->creator->sha256;
		p->hash_ticket = p->creator->hash_ticket;
	}
	if (proc_sync_fds(g, p, birth_ts, HOLD_INHERITED) != 0 && p->creator)
		inherit_from(g, p, p->creator, birth_ts);
	return p;
}

/* Is this already-known live entry the same process? */
static int same_process(struct graph *g, struct proc *p)
{
	struct procfs_stat st;
	if (!g->conf.use_procfs || !p->start)
		return 1;
	if (procfs_stat(p->pid, &st) != 0)
		return 1; /* gone already: cannot tell, keep */
	return st.starttime == p->start;
}

/* Is a (through creators, bounded) an ancestor of c? */
static int ancestor_of(const struct proc *c, pid_t a)
{
	for (int i = 0; c && i < 64; i++, c = c->creator)
		if (c->creator && c->creator->pid == a && c->creator->alive)
			return 1;
	return 0;
}

/* The creator a BIRTH or IMAGE names (cpid), checked against the kernel's
 * parent of pid. The same: believed. Another: only a creator that has ended
 * since can differ — the child was re-parented — and only to where orphans
 * go: init, or an ancestor of the named creator (a subreaper). *use: the creator to take, 0 = none the graph
 * knows (filled from the kernel's view: kernel_lineage). 0, or -EPERM. */
static int check_creator(struct graph *g, pid_t pid, pid_t cpid, uint64_t fork_ts, pid_t *use)
{
	struct graph_kproc k, ck;
	*use = cpid;
	if (!checking(g) || kernel_proc(g, pid, &k) != 0 || k.ppid == cpid)
		return 0; /* (gone already: cannot tell) */
	struct proc *c = cpid > 1 ? graph_proc(g, cpid) : NULL;
	int cgone = cpid <= 1 || kernel_proc(g, cpid, &ck) != 0 || ck.state == 'Z' || ck.state == 'X';
	if (!cgone && !(c && !c->alive))
		return -EPERM; /* the named creator runs, and is not the parent */
	if (!c) {
		*use = 0; /* gone and never known: the claim adds nothing (kernel_lineage) */
		return 0;
	}
	int orphanage = k.ppid <= 1 || ancestor_of(c, k.ppid);
	if (!orphanage)
		return -EPERM;
	if (c->birth_ts > fork_ts)
		*use = 0;
	return 0;
}

static int apply_birth(struct graph *g, pid_t pid, uid_t uid, const struct ht_record *r,
		       uint64_t now, const char **why)
{
	pid_t cpid = (pid_t)r->num, use;
	uint64_t fork_ts = r->ts2 && r->ts2 <= r->ts ? r->ts2 : r->ts;
	struct proc *p = live_proc(g, pid);

	if (cpid == pid) {
		*why = "a process cannot be its own creator";
		return -EINVAL;
	}
	if (check_creator(g, pid, cpid, fork_ts, &use) != 0)
		return refuse(g, &g->st.refused_creator, why,
			      "creator does not match the kernel's parent");
	if (p && p->creator_pid == cpid && same_process(g, p))
		return 0; /* repeated BIRTH (vfork child) */
	return proc_arrive(g, pid, uid, use, fork_ts, now) ? 0 : -ENOMEM;
}

/* The executable a record claims, for a process whose /proc/PID/exe could not
 * be read (gone already): the shim sends the path execve() was given, which
 * may name the file through the merged-/usr links (/bin/true, the kernel's exe
 * link says /usr/bin/true). Rewritten as a string only — never resolved in the
 * collector's context (a claim under /proc/self would name the collector's
 * own files, one on a hung mount would stall it): /bin, /sbin and /lib* are
 * mapped to /usr when this host's are links to usr/ (read once). A claim,
 * never more. */
static const char *claimed_exe(const struct graph *g, const char *claim, char *buf, size_t n)
{
	static int merged = -1;
	static const char *const dirs[] = {"/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/"};
	if (!g->conf.use_procfs)
		return claim;
	if (merged < 0) {
		char l[16];
		ssize_t k = readlink("/bin", l, sizeof(l) - 1);
		merged = k == 7 && !memcmp(l, "usr/bin", 7);
	}
	for (size_t i = 0; merged && i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (!strncmp(claim, dirs[i], strlen(dirs[i])) &&
		    (size_t)snprintf(buf, n, "/usr%s", claim) < n)
			return buf;
	return claim;
}

static int apply_image(struct graph *g, pid_t pid, uid_t uid, const struct ht_record *r,
		       uint64_t now, const char **why)
{
	struct proc *p = live_proc(g, pid);
	if (p && !same_process(g, p))
		p = NULL;
	/* its ppid names a creator: checked as BIRTH's is (also for a process
	 * known already, whose creator it does not change: a lie is a lie) */
	pid_t use;
	if ((pid_t)r->num == pid || check_creator(g, pid, (pid_t)r->num, r->ts, &use) != 0)
		return refuse(g, &g->st.refused_creator, why, "ppid does not match the kernel's parent");
	if (!p) {
		p = proc_arrive(g, pid, uid, use, r->ts, now);
		if (!p)
			return -ENOMEM;
	} else {
		/* exec: CLOEXEC fds are gone, whatever records said */
		proc_sync_fds(g, p, r->ts, HOLD_INHERITED);
	}
	p->exec_ts = r->ts;
	p->exec_pending = 0;
	p->seen_kernel = p->lineage_kernel;
	p->uid = uid;
	char exe[HT_REC_PATH_MAX + 1];
	/* trust the kernel's view of the executable over the record's */
	if (g->conf.use_procfs && procfs_exe(pid, exe, sizeof(exe)) == 0)
		p->exe = graph_intern(g, exe);
	else
		p->exe = graph_intern(g, claimed_exe(g, r->str, exe, sizeof(exe)));
	p->argv0 = graph_intern(g, r->str2);
	p->sha256 = "";
	p->hash_ticket = 0;
	if (g->conf.use_procfs)
		proc_hash(g, p);
	return 0;
}

/* The socket a listening socket's ACCEPT names: marked listening only when
 * the kernel says it is one (a forged one would cut a connection's chain):
 * TCP by an exact lookup of the listener on the accepted socket's local
 * address, unix by having no peer; without a kernel to ask, when the sender
 * holds it. */
static int kernel_listener(struct graph *g, struct proc *p, const struct ht_record *r,
			   struct chan *lc)
{
	if (!checking(g))
		return 1;
	if (!g->conf.use_procfs)
		return oh_find(g, p, lc) != NULL;
	if (g->nl < 0)
		g->nl = sd_open();
	if (g->nl < 0)
		return 0;
	if (r->addr.family == AF_INET || r->addr.family == AF_INET6) {
		static const uint8_t any[16];
		struct sd_inet s;
		return sd_inet_lookup(g->nl, r->addr.family, r->addr.a, r->addr.port, any, 0, &s) == 0 &&
		       s.ino == lc->ino && s.state == 10;
	}
	uint64_t peer;
	return sd_unix_peer(g->nl, lc->ino, &peer) == -ENOTCONN;
}

struct failcheck {
	uint64_t ino;
	int found;
};

static int failcheck_cb(void *vctx, const struct sd_inet *s)
{
	struct failcheck *x = vctx;
	if (s->ino == x->ino) {
		x->found = 1;
		return 1;
	}
	return 0;
}

/* CONNFAIL: the sender's socket never became a connection. Believed when the
 * kernel shows the fd still holding it and the socket in no TCP connection
 * (a failed connect leaves it unhashed; one TCP dump, at most every
 * GRAPH_PROBE_GAP_NS), or — the fd closed already — when the 4-tuple the
 * kernel gave for it is not in the kernel's table (see below). A claim that
 * cannot be checked is refused: the socket stays a possible source, the safe
 * side. (Left: a socket closed before any SYN query or dump gave its 4-tuple
 * is believed — a process can hide a connection the peer closed first.) */
static int kernel_conn_failed(struct graph *g, struct proc *p, const struct ht_record *r,
			      struct chan *c)
{
	if (!checking(g))
		return 1;
	if (!kernel_shows(g, p, r->fd, &r->chan)) {
		/* closed already (nc closes a refused socket at once and tries
		 * the next address): a connection that existed leaves its
		 * 4-tuple in the kernel's table a while (TIME_WAIT after our
		 * close), a failed one nothing — asked when the kernel gave
		 * the 4-tuple (the SYN's query); otherwise believed */
		if (!g->conf.use_procfs || !c->has_local || c->addr_claimed ||
		    (c->remote.family != AF_INET && c->remote.family != AF_INET6))
			return g->conf.use_procfs;
		if (g->nl < 0)
			g->nl = sd_open();
		struct sd_inet si;
		return g->nl >= 0 && sd_inet_lookup(g->nl, c->remote.family, c->local.a, c->local.port,
						    c->remote.a, c->remote.port, &si) == -ENOENT;
	}
	if (!g->conf.use_procfs)
		return 1; /* a fake kernel's fd view only */
	if (g->nl < 0)
		g->nl = sd_open();
	if (g->nl < 0)
		return 0;
	if (c->remote.family == AF_UNIX) {
		uint64_t peer;
		return sd_unix_peer(g->nl, c->ino, &peer) == -ENOTCONN;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t t = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	if (g->last_failcheck && t < g->last_failcheck + GRAPH_PROBE_GAP_NS)
		return 0;
	g->last_failcheck = t;
	struct failcheck x = {c->ino, 0};
	/* every state but LISTEN and TIME_WAIT */
	if (sd_inet_dump(g->nl, 0, ~((1u << 6) | (1u << 10)) & 0xfff, failcheck_cb, &x) < 0)
		return 0;
	return !x.found;
}

/* The holds on pty index N that a new master for N (made at ts) shows gone:
 * the kernel frees an index only when no fd of the old pair is left, so
 * whoever the graph still has on pts/N from before ts is gone (died by a
 * signal, or closed without a record). No hold may span ts: one of the old
 * pair that the graph ended later (a sweep found it dead after ts) ended by
 * ts, and the new master's own hold, when a /proc read dated it back to p's
 * fork (screen's backend: BIRTH read after getpt()), begins at ts — else the
 * old pair's holders were departed feeders of the new master.
 * The holds are collected first: closing one may not free anything here
 * (hold_close only queues trimming), but fd_unset moves fd-table entries. */
static void pty_purge(struct graph *g, struct proc *p, uint64_t idx, uint64_t ts)
{
	struct chan *old = graph_chan(g, HT_CHAN_PTY, 0, idx);
	for (struct hold *h = old ? old->holds : NULL, *next; h; h = next) {
		next = h->cnext;
		if (h->since >= ts)
			continue; /* the new pair's */
		if (h->p == p && !h->until)
			h->since = ts;
		if (h->until && h->until > ts)
			h->until = ts;
		if (h->until || h->p == p)
			continue;
		struct proc *q = h->p;
		/* one that said it exits, or a sweep found gone, ended then
		 * (proc_end), not when its index was reused: else it let go of
		 * pts/N while the new pair held it (a tmux pane's utempter) */
		uint64_t end = q->exit_claimed && q->exit_ts > h->since && q->exit_ts < ts ? q->exit_ts : ts;
		for (uint32_t i = 0; i < q->nfds;) {
			if (q->fds[i].h == h)
				fd_unset(g, q, q->fds[i].fd, end);
			else
				i++;
		}
		if (!h->until) {
			h->nfds = 0;
			hold_close(g, h, end);
		}
	}
}

int graph_apply(struct graph *g, pid_t pid, uid_t uid, const struct ht_record *r,
		uint64_t now, const char **why)
{
	const char *w = NULL;
	int rc = 0;
	struct proc *p;

	if (!why)
		why = &w;
	*why = NULL;
	g->cur_acct = acct_of(g, uid);
	if (pid <= 0) {
		*why = "no sender pid";
		rc = -EINVAL;
		goto out;
	}
	if (r->type == HT_REC_BIRTH) {
		rc = apply_birth(g, pid, uid, r, now, why);
		goto out;
	}
	if (r->type == HT_REC_IMAGE) {
		rc = apply_image(g, pid, uid, r, now, why);
		goto out;
	}
	p = live_proc(g, pid);
	if (!p) {
		/* no BIRTH/IMAGE seen (started before the collector, or lost):
		 * take it from /proc */
		p = graph_proc_kernel(g, pid, now);
		if (!p && !g->conf.use_procfs)
			p = proc_arrive(g, pid, uid, 0, r->ts, now);
		if (!p) {
			*why = "sender not found";
			rc = -ESRCH;
			goto out;
		}
		p->seen_kernel = p->lineage_kernel;
	}
	if (!p->acct) {
		struct uacct *pa = acct_of(g, p->uid != (uid_t)-1 ? p->uid : uid);
		p->acct = pa ? pa->id : 0;
	}

	/* Every claim that would put p on a channel is checked against the
	 * kernel first (kernel_shows: /proc/PID/fd/N now); see
	 * docs/chain-model.md "Claims". */
	switch (r->type) {
	case HT_REC_EXEC:
		p->exec_pending = 1; /* graph_refresh reads the kernel's view */
		break;
	case HT_REC_EXIT: {
		g->st.lost_by_shims += r->num2 > 0 ? (uint64_t)r->num2 : 0;
		/* an EXIT while the kernel still runs the process would close
		 * every hold it has (and its history with them): ended when the
		 * kernel says so (graph_gc's sweep, graph_verify_alive) */
		struct graph_kproc k;
		if (checking(g) && kernel_proc(g, pid, &k) == 0 && k.state != 'Z' && k.state != 'X' &&
		    (!p->start || k.start == p->start)) {
			p->exit_claimed = 1;
			/* while alive: when the kernel last showed it running */
			p->exit_ts = now > r->ts ? now : r->ts;
			/* an exiting process may be past the release of its files
			 * and not yet a zombie (its `$(...)` shell has read EOF and
			 * closed the pipe already): what the kernel shows gone it
			 * let go of by its EXIT */
			proc_sync_fds(g, p, r->ts, HOLD_INHERITED);
			break;
		}
		proc_end(g, p, r->ts);
		break;
	}
	case HT_REC_PIPE: {
		/* pipe() makes both ends in the caller: one end the kernel shows
		 * proves the inode the sender's (the other may be closed already:
		 * dash closes the write end it gave a `$(...)` child) */
		if (!kernel_shows(g, p, r->fd, &r->chan) && !kernel_shows(g, p, r->fd2, &r->chan)) {
			rc = fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, HE_R | HE_W);
			break;
		}
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_R);
		if (!rc)
			rc = fd_rec(g, p, r->fd2, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_W);
		break;
	}
	case HT_REC_SOCKETPAIR: {
		int ka = kernel_shows(g, p, r->fd, &r->chan), kb = kernel_shows(g, p, r->fd2, &r->chan2);
		if (ka != kb && g->conf.use_procfs && !g->conf.kernel_fd) {
			/* one end gone already: the kernel pairs the other with it */
			uint64_t peer = 0;
			if (g->nl < 0)
				g->nl = sd_open();
			if (g->nl >= 0 && sd_unix_peer(g->nl, ka ? r->chan.ino : r->chan2.ino, &peer) == 0 &&
			    peer == (ka ? r->chan2.ino : r->chan.ino))
				ka = kb = 1;
		}
		if (!ka || !kb) {
			rc = fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, 0);
			if (!rc)
				rc = fd_unconfirmed(g, p, &r->chan2, r->ts, now, HOLD_CREATED, 0);
			break;
		}
		struct chan *a = chan_get(g, &r->chan, r->ts), *b = chan_get(g, &r->chan2, r->ts);
		if (!a || !b) {
			rc = g->capped ? -EDQUOT : -ENOMEM;
			break;
		}
		chan_link_peers(a, b);
		a->remote.family = b->remote.family = AF_UNIX;
		rc = fd_rec(g, p, r->fd, a, r->ts, HOLD_CREATED, 0);
		if (!rc)
			rc = fd_rec(g, p, r->fd2, b, r->ts, HOLD_CREATED, 0);
		break;
	}
	case HT_REC_CONNECT: {
		int confirmed = r->chan.kind == HT_CHAN_SOCK && kernel_shows(g, p, r->fd, &r->chan);
		struct chan *c = chan_get(g, &r->chan, r->ts);
		if (!c) {
			rc = g->capped ? -EDQUOT : -ENOMEM;
			break;
		}
		if (!confirmed && !chan_fresh(c, p)) {
			rc = fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, 0);
			break;
		}
		/* the destination is the sender's word until the kernel says:
		 * the SYN's own query (the packet's 4-tuple, query.c op_who), a
		 * probe's or a chain walk's TCP dump (sock_complete) */
		if (!(c->probed && c->has_local && !c->addr_claimed &&
		      (c->remote.family == AF_INET || c->remote.family == AF_INET6))) {
			gaddr_set(&c->remote, &r->addr);
			c->addr_claimed = addr_checking(g) && (r->addr.family == AF_INET || r->addr.family == AF_INET6);
		}
		c->dir = 'o';
		c->sotype = (int)r->num;
		c->connector = pid;
		c->failed = 0; /* a new attempt (TCP may connect() again after a failure) */
		rc = confirmed ? fd_rec(g, p, r->fd, c, r->ts, HOLD_CREATED, 0)
			       : fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, 0);
		break;
	}
	case HT_REC_ACCEPT: {
		int confirmed = r->chan.kind == HT_CHAN_SOCK && kernel_shows(g, p, r->fd, &r->chan);
		struct chan *c = chan_get(g, &r->chan, r->ts);
		if (!c) {
			rc = g->capped ? -EDQUOT : -ENOMEM;
			break;
		}
		if (!confirmed && !chan_fresh(c, p)) {
			rc = fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, 0);
			break;
		}
		gaddr_set(&c->local, &r->addr);
		c->has_local = 1;
		gaddr_set(&c->remote, &r->addr2);
		c->addr_claimed = addr_checking(g) && (r->addr2.family == AF_INET || r->addr2.family == AF_INET6);
		if (c->addr_claimed && g->conf.use_procfs) {
			/* just accepted, so still there: the kernel's exact
			 * lookup of the claimed 4-tuple must find this socket */
			struct sd_inet si;
			if (g->nl < 0)
				g->nl = sd_open();
			if (g->nl >= 0 && r->addr.family == r->addr2.family &&
			    sd_inet_lookup(g->nl, r->addr.family, r->addr.a, r->addr.port, r->addr2.a,
					   r->addr2.port, &si) == 0 && si.ino == c->ino)
				c->addr_claimed = 0;
			else if (g->nl >= 0)
				g->st.refused_fd++; /* an accept the kernel does not know: the
						     * addresses stay a claim ("attested": false) */
		}
		c->dir = 'i';
		c->sotype = (int)r->num;
		if (r->addr.family == AF_UNIX || r->addr2.family == AF_UNIX) {
			/* pair the accepted end with the connecting end now, while
			 * both exist: the kernel knows the peer inode */
			uint64_t peer;
			c->remote.family = AF_UNIX;
			if (g->conf.use_procfs) {
				if (g->nl < 0)
					g->nl = sd_open();
				if (g->nl >= 0 && sd_unix_peer(g->nl, c->ino, &peer) == 0) {
					struct ht_chan k = {HT_CHAN_SOCK, 0, peer};
					struct chan *pc = chan_get(g, &k, r->ts);
					if (pc) {
						chan_link_peers(c, pc);
						pc->remote.family = AF_UNIX;
					}
				}
			}
		}
		/* the socket it was accepted from listens: it carries no data
		 * between those who share it (a forking server's children) */
		if (r->chan2.ino && r->chan2.ino != r->chan.ino && r->chan2.kind == HT_CHAN_SOCK) {
			struct chan *lc = graph_chan(g, HT_CHAN_SOCK, 0, r->chan2.ino);
			if (!lc || !lc->dir) {
				if (!lc)
					lc = chan_get(g, &r->chan2, r->ts);
				if (lc && !lc->dir && kernel_listener(g, p, r, lc))
					lc->dir = 'l';
			}
		}
		rc = confirmed ? fd_rec(g, p, r->fd, c, r->ts, HOLD_CREATED, 0)
			       : fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, 0);
		break;
	}
	case HT_REC_PTY:
		if (r->chan.kind != HT_CHAN_PTY || !kernel_shows(g, p, r->fd, &r->chan)) {
			rc = fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, HE_M);
			break;
		}
		pty_purge(g, p, r->chan.ino, r->ts);
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_M);
		if (!rc && r->fd2 >= 0 && kernel_shows(g, p, r->fd2, &r->chan))
			rc = fd_rec(g, p, r->fd2, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_S);
		break;
	case HT_REC_OPEN:
		if (!kernel_shows(g, p, r->fd, &r->chan)) {
			rc = fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_CREATED, 0);
			break;
		}
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED,
				r->chan.kind == HT_CHAN_PTY ? HE_S : fd_ends(g, pid, r->fd, r->chan.kind));
		break;
	case HT_REC_FDRECV:
		if (!kernel_shows(g, p, r->fd, &r->chan)) {
			rc = fd_unconfirmed(g, p, &r->chan, r->ts, now, HOLD_RECEIVED, 0);
			break;
		}
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_RECEIVED,
				fd_ends(g, pid, r->fd, r->chan.kind));
		break;
	case HT_REC_FDSEND:
		break; /* informational: the receiver's FDRECV is what counts */
	/* close/dup records sent before our last read of /proc/PID/fd are in
	 * that table already: applied again to it, they would undo what came
	 * after them (sshd: dup(0) -> 4, then /dev/null over 0 and 1) */
	case HT_REC_CLOSE:
		if (r->ts < p->synced_ts) {
			ghost_end(p, r->fd, r->ts);
			break;
		}
		{
			/* a close the kernel contradicts (the fd still shows the
			 * channel) would hide a hold the process still has */
			struct fdent *e = fd_find(p, r->fd);
			if (e && checking(g)) {
				struct ht_chan k = {e->h->c->kind, e->h->c->dev, e->h->c->ino};
				if (kernel_shows(g, p, r->fd, &k)) {
					rc = refuse(g, &g->st.refused_close, why, "fd still open in the kernel");
					break;
				}
			}
			fd_close_rec(g, p, r->fd, r->ts);
		}
		break;
	case HT_REC_DUP: {
		struct fdent *e = fd_find(p, r->fd);
		if (r->fd == r->fd2)
			break;
		if (r->ts < p->synced_ts) {
			/* the table has it already; a ghost's copy is a ghost */
			struct ghostfd *gh = ghost_at(p, r->fd, r->ts);
			ghost_end(p, r->fd2, r->ts);
			if (gh) {
				struct ghostfd copy = *gh;
				struct ht_chan k = {copy.kind, copy.dev, copy.ino};
				struct chan *ch = chan_get(g, &k, r->ts);
				struct fdent *cur = fd_find(p, r->fd2);
				if (ch && (!cur || cur->h->c != ch))
					ghost_add(g, p, r->fd2, ch, copy.ends, r->ts, copy.until);
			}
			break;
		}
		if (e) {
			/* a copy of a channel the sender holds already: nothing
			 * it did not have (a copy that outlives the real one
			 * only keeps a real holder longer: the safe side) */
			struct chan *c = e->h->c;
			uint8_t how = e->h->how, ends = e->ends;
			rc = fd_set_(g, p, r->fd2, c, r->ts, how, ends);
			break;
		}
		{
			struct fdent *cur = fd_find(p, r->fd2);
			if (cur && checking(g)) {
				struct ht_chan k = {cur->h->c->kind, cur->h->c->dev, cur->h->c->ino};
				if (kernel_shows(g, p, r->fd2, &k)) {
					rc = refuse(g, &g->st.refused_close, why, "dup over an fd the kernel still shows");
					break;
				}
			}
			fd_close_rec(g, p, r->fd2, r->ts);
		}
		break;
	}
	case HT_REC_CLOSERANGE: {
		int kept = 0;
		for (uint32_t i = 0; r->ts >= p->synced_ts && i < p->nfds;) {
			int fd = p->fds[i].fd;
			struct chan *c = p->fds[i].h->c;
			struct ht_chan k = {c->kind, c->dev, c->ino};
			if (fd >= r->fd && fd <= r->fd2 && !(checking(g) && kernel_shows(g, p, fd, &k) && ++kept))
				fd_close_rec(g, p, fd, r->ts);
			else
				i++;
		}
		if (kept)
			rc = refuse(g, &g->st.refused_close, why, "closed fds still open in the kernel");
		break;
	}
	case HT_REC_SPAWN: {
		pid_t cpid = (pid_t)r->num;
		struct proc *c = live_proc(g, cpid);
		uint64_t ts = r->ts2 && r->ts2 <= r->ts ? r->ts2 : r->ts;
		struct graph_kproc k;
		int kparent = !checking(g) ||
			      (kernel_proc(g, cpid, &k) == 0 && k.ppid == pid);
		if (c) {
			/* the creator the child named, or the kernel's parent */
			if (!c->creator && (c->creator_pid == pid || (!c->creator_pid && kparent))) {
				c->foreign_creator = 0;
				set_creator(c, p);
			} else if (!c->creator && c->creator_pid != pid && checking(g)) {
				rc = refuse(g, &g->st.refused_creator, why, "spawned child's parent is another");
				break;
			}
			if (c->creator == p && ts < c->birth_ts)
				c->birth_ts = ts;
		} else if (g->conf.use_procfs) {
			struct procfs_stat st;
			int kr = procfs_stat(cpid, &st);
			if (kr == 0 && st.ppid == pid) {
				c = proc_new(g, cpid, ts);
				if (c) {
					c->creator_pid = pid;
					set_creator(c, p);
					c->exec_pending = 1; /* its image will announce itself, or not */
					proc_fill_identity(g, c);
					proc_sync_fds(g, c, ts, HOLD_INHERITED);
				}
			} else if (kr == 0 && !g->conf.trust_claims) {
				/* (a child gone already cannot be told) */
				rc = refuse(g, &g->st.refused_creator, why, "spawned child's parent is another");
			}
		}
		break;
	}
	case HT_REC_RESYNC:
		/* the kernel's view; at most once per millisecond per process */
		if (!g->conf.use_procfs || now >= p->synced_ts + 1000000ULL || now < p->synced_ts)
			proc_sync_fds(g, p, r->ts, HOLD_INHERITED);
		break;
	case HT_REC_CONNFAIL: {
		/* only the sender's own socket: it must hold it, and the kernel
		 * must show it unconnected (a false failure hides a connection) */
		struct fdent *e = fd_find(p, r->fd);
		if (!e || e->h->c->kind != HT_CHAN_SOCK || e->h->c->ino != r->chan.ino)
			break;
		if (!kernel_conn_failed(g, p, r, e->h->c)) {
			rc = refuse(g, &g->st.refused_close, why, "the kernel does not show the connect failed");
			break;
		}
		e->h->c->failed = 1;
		break;
	}
	default:
		*why = "unknown record type";
		rc = -EINVAL;
	}
out:
	if (rc == -EDQUOT && !*why)
		*why = "over a per-process or per-uid bound";
	if (rc)
		g->st.rejected++;
	else
		g->st.applied++;
	g->cur_acct = NULL;
	run_trims(g);
	return rc;
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
	run_trims(g);

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

void graph_stats(const struct graph *g, struct graph_stats *st)
{
	*st = g->st;
}

const struct graph_conf *graph_conf(const struct graph *g)
{
	return &g->conf;
}

struct proc *graph_first_proc(struct graph *g)
{
	return g->phead;
}

struct chan *graph_first_chan(struct graph *g)
{
	return g->chead;
}
