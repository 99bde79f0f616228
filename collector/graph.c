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
#include "procfs.h"
#include "sha256.h"
#include "sockdiag.h"

#define PID_BUCKETS_MIN 1024
#define CHAN_BUCKETS_MIN 1024
#define INTERN_BUCKETS 4096

struct istr {
	struct istr *next;
	char s[];
};

#define PENDING_MAX_ 4096

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
};

/* ---- small helpers -------------------------------------------------------- */

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

static void evict_one(struct graph *g)
{
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
	p->alive = 0;
	p->exit_ts = ts;
	for (struct hold *h = p->holds; h; h = h->pnext)
		if (!h->until) {
			h->nfds = 0;
			hold_close(g, h, ts);
		}
	free(p->fds);
	g->st.bytes -= p->capfds * sizeof(struct fdent);
	p->fds = NULL;
	p->nfds = p->capfds = 0;
	g->st.procs_alive--;
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
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
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

/* Every open hold has an fd pointing at it, so the fd table finds them. */
static struct hold *hold_open(struct graph *g, struct proc *p, struct chan *c, uint64_t ts,
			      uint8_t how)
{
	for (uint32_t i = 0; i < p->nfds; i++)
		if (p->fds[i].h->c == c && !p->fds[i].h->until)
			return p->fds[i].h;
	struct hold *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
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
	g->st.holds++;
	g->st.bytes += sizeof(*h);
	return h;
}

#define CLOSED_KEEP 256 /* closed holds a live process keeps (its recent history) */

static void hold_unlink(struct graph *g, struct hold *h);

static void hold_close(struct graph *g, struct hold *h, uint64_t ts)
{
	if (h->until)
		return;
	h->until = ts > h->since ? ts : h->since + 1;
	h->c->last_ts = ts;
	struct proc *p = h->p;
	if (++p->nclosed > 2 * CLOSED_KEEP && p->alive) {
		/* the list is newest first: drop closed holds past the newest KEEP */
		uint32_t seen = 0;
		for (struct hold *x = p->holds, *n; x; x = n) {
			n = x->pnext;
			if (x->until && ++seen > CLOSED_KEEP)
				hold_unlink(g, x);
		}
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
	h->c->nholds--;
	g->st.holds--;
	g->st.bytes -= sizeof(*h);
	free(h);
}

static struct fdent *fd_find(struct proc *p, int fd)
{
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
	*e = p->fds[--p->nfds];
	if (h && h->nfds && --h->nfds == 0) {
		hold_close(g, h, ts);
	} else if (h) {
		/* the ends it still holds: a forkpty child that closed the
		 * master it inherited is a slave holder only */
		uint8_t ends = 0;
		for (uint32_t i = 0; i < p->nfds; i++)
			if (p->fds[i].h == h)
				ends |= p->fds[i].ends;
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
	struct hold *h = hold_open(g, p, c, ts, how);
	if (!h)
		return -ENOMEM;
	if (p->nfds == p->capfds) {
		uint32_t n = p->capfds ? p->capfds * 2 : 4;
		if (n > 1u << 20)
			return -ENOSPC;
		struct fdent *t = realloc(p->fds, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		g->st.bytes += (n - p->capfds) * sizeof(*t);
		p->fds = t;
		p->capfds = n;
	}
	p->fds[p->nfds].fd = fd;
	p->fds[p->nfds].ends = ends;
	p->fds[p->nfds].h = h;
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
			 * still gives its local end if nobody did yet */
			if (!c->has_local)
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

/* Makes p's fd table equal to /proc/PID/fd. Returns 0, or -errno if /proc
 * could not be read (p unchanged). */
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
	p->synced_ts = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	if (x.nseen == x.cap)
		return 0; /* too many to compare: keep what we have */
	for (uint32_t i = 0; i < p->nfds;) {
		int fd = p->fds[i].fd, found = 0;
		for (size_t j = 0; j < x.nseen; j++)
			if (seen[j] == fd) {
				found = 1;
				break;
			}
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
	return p;
}

int graph_verify_alive(struct graph *g, struct proc *p, uint64_t now)
{
	if (!p->alive)
		return 0;
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

static int apply_birth(struct graph *g, pid_t pid, uid_t uid, const struct ht_record *r,
		       uint64_t now, const char **why)
{
	pid_t cpid = (pid_t)r->num;
	uint64_t fork_ts = r->ts2 && r->ts2 <= r->ts ? r->ts2 : r->ts;
	struct proc *p = live_proc(g, pid);

	if (cpid == pid) {
		*why = "a process cannot be its own creator";
		return -EINVAL;
	}
	if (g->conf.use_procfs) {
		/* the kernel knows the parent: a fork child names it unless it was
		 * re-parented already (then the named creator must have ended) */
		struct procfs_stat st;
		if (procfs_stat(pid, &st) == 0 && st.ppid != cpid) {
			/* only a creator that has ended since can differ */
			struct proc *c = graph_proc(g, cpid);
			struct procfs_stat cs;
			int ended = (c && !c->alive) || (kill(cpid, 0) != 0 && errno == ESRCH) ||
				    (procfs_stat(cpid, &cs) == 0 && (cs.state == 'Z' || cs.state == 'X'));
			if (!ended || !c) {
				*why = "creator does not match the kernel's parent";
				return -EINVAL;
			}
		}
	}
	if (p && p->creator_pid == cpid && same_process(g, p))
		return 0; /* repeated BIRTH (vfork child) */
	return proc_arrive(g, pid, uid, cpid, fork_ts, now) ? 0 : -ENOMEM;
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
		       uint64_t now)
{
	struct proc *p = live_proc(g, pid);
	if (p && !same_process(g, p))
		p = NULL;
	if (!p) {
		p = proc_arrive(g, pid, uid, (pid_t)r->num, r->ts, now);
		if (!p)
			return -ENOMEM;
	} else {
		/* exec: CLOEXEC fds are gone, whatever records said */
		proc_sync_fds(g, p, r->ts, HOLD_INHERITED);
	}
	p->exec_ts = r->ts;
	p->exec_pending = 0;
	p->seen_kernel = 0;
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

int graph_apply(struct graph *g, pid_t pid, uid_t uid, const struct ht_record *r,
		uint64_t now, const char **why)
{
	const char *w = NULL;
	int rc = 0;
	struct proc *p;

	if (!why)
		why = &w;
	*why = NULL;
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
		rc = apply_image(g, pid, uid, r, now);
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
		p->seen_kernel = 0;
	}

	switch (r->type) {
	case HT_REC_EXEC:
		p->exec_pending = 1;
		break;
	case HT_REC_EXIT:
		g->st.lost_by_shims += r->num2 > 0 ? (uint64_t)r->num2 : 0;
		proc_end(g, p, r->ts);
		break;
	case HT_REC_PIPE:
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_R);
		if (!rc)
			rc = fd_rec(g, p, r->fd2, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_W);
		break;
	case HT_REC_SOCKETPAIR: {
		struct chan *a = chan_get(g, &r->chan, r->ts), *b = chan_get(g, &r->chan2, r->ts);
		if (!a || !b) {
			rc = -ENOMEM;
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
		struct chan *c = chan_get(g, &r->chan, r->ts);
		if (!c) {
			rc = -ENOMEM;
			break;
		}
		gaddr_set(&c->remote, &r->addr);
		c->dir = 'o';
		c->sotype = (int)r->num;
		c->connector = pid;
		c->failed = 0; /* a new attempt (TCP may connect() again after a failure) */
		rc = fd_rec(g, p, r->fd, c, r->ts, HOLD_CREATED, 0);
		break;
	}
	case HT_REC_ACCEPT: {
		struct chan *c = chan_get(g, &r->chan, r->ts);
		if (!c) {
			rc = -ENOMEM;
			break;
		}
		gaddr_set(&c->local, &r->addr);
		c->has_local = 1;
		gaddr_set(&c->remote, &r->addr2);
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
		if (r->chan2.ino && r->chan2.ino != r->chan.ino) {
			struct chan *lc = chan_get(g, &r->chan2, r->ts);
			if (lc && !lc->dir)
				lc->dir = 'l';
		}
		rc = fd_rec(g, p, r->fd, c, r->ts, HOLD_CREATED, 0);
		break;
	}
	case HT_REC_PTY: {
		/* a new master for index N: the kernel frees an index only when no
		 * fd of the old pair is left, so whoever the graph still has on
		 * pts/N is gone (died by a signal, or closed without a record) */
		struct chan *old = graph_chan(g, HT_CHAN_PTY, 0, r->chan.ino);
		/* (closing may trim other closed holds off the lists: restart) */
		for (struct hold *h = old ? old->holds : NULL; h; h = h ? h->cnext : old->holds) {
			if (h->until || h->p == p)
				continue;
			for (uint32_t i = 0; i < h->p->nfds;) {
				if (h->p->fds[i].h == h)
					fd_unset(g, h->p, h->p->fds[i].fd, r->ts);
				else
					i++;
			}
			if (!h->until) {
				h->nfds = 0;
				hold_close(g, h, r->ts);
			}
			h = NULL;
		}
	}
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_M);
		if (!rc && r->fd2 >= 0)
			rc = fd_rec(g, p, r->fd2, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED, HE_S);
		break;
	case HT_REC_OPEN:
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_CREATED,
				r->chan.kind == HT_CHAN_PTY ? HE_S : fd_ends(g, pid, r->fd, r->chan.kind));
		break;
	case HT_REC_FDRECV:
		rc = fd_rec(g, p, r->fd, chan_get(g, &r->chan, r->ts), r->ts, HOLD_RECEIVED,
				fd_ends(g, pid, r->fd, r->chan.kind));
		break;
	case HT_REC_FDSEND:
		break;
	/* close/dup records sent before our last read of /proc/PID/fd are in
	 * that table already: applied again to it, they would undo what came
	 * after them (sshd: dup(0) -> 4, then /dev/null over 0 and 1) */
	case HT_REC_CLOSE:
		if (r->ts >= p->synced_ts)
			fd_unset(g, p, r->fd, r->ts);
		else
			ghost_end(p, r->fd, r->ts);
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
			struct chan *c = e->h->c;
			uint8_t how = e->h->how, ends = e->ends;
			rc = fd_set_(g, p, r->fd2, c, r->ts, how, ends);
		} else {
			fd_unset(g, p, r->fd2, r->ts);
		}
		break;
	}
	case HT_REC_CLOSERANGE:
		for (uint32_t i = 0; r->ts >= p->synced_ts && i < p->nfds;) {
			int fd = p->fds[i].fd;
			if (fd >= r->fd && fd <= r->fd2)
				fd_unset(g, p, fd, r->ts);
			else
				i++;
		}
		break;
	case HT_REC_SPAWN: {
		pid_t cpid = (pid_t)r->num;
		struct proc *c = live_proc(g, cpid);
		uint64_t ts = r->ts2 && r->ts2 <= r->ts ? r->ts2 : r->ts;
		if (c) {
			if (!c->creator && (!c->creator_pid || c->creator_pid == pid)) {
				c->foreign_creator = 0;
				set_creator(c, p);
			}
			if (c->creator == p && ts < c->birth_ts)
				c->birth_ts = ts;
		} else if (g->conf.use_procfs) {
			struct procfs_stat st;
			if (procfs_stat(cpid, &st) == 0 && st.ppid == pid) {
				c = proc_new(g, cpid, ts);
				if (c) {
					c->creator_pid = pid;
					set_creator(c, p);
					c->exec_pending = 1; /* its image will announce itself, or not */
					proc_fill_identity(g, c);
					proc_sync_fds(g, c, ts, HOLD_INHERITED);
				}
			}
		}
		break;
	}
	case HT_REC_RESYNC:
		proc_sync_fds(g, p, r->ts, HOLD_INHERITED);
		break;
	case HT_REC_CONNFAIL: {
		/* only the sender's own socket: it must hold it */
		struct fdent *e = fd_find(p, r->fd);
		if (e && e->h->c->kind == HT_CHAN_SOCK && e->h->c->ino == r->chan.ino)
			e->h->c->failed = 1;
		break;
	}
	default:
		*why = "unknown record type";
		rc = -EINVAL;
	}
out:
	if (rc)
		g->st.rejected++;
	else
		g->st.applied++;
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
	if (!g->pidtab || !g->chantab) {
		graph_free(g);
		return NULL;
	}
	g->st.bytes = sizeof(*g) + (g->npidtab + g->nchantab) * sizeof(void *);
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
	free(g->pidtab);
	free(g->chantab);
	free(g);
}

void graph_gc(struct graph *g, uint64_t now)
{
	uint64_t keep = g->conf.retention_ns;
	uint64_t horizon = now > keep ? now - keep : 0;

	/* liveness: a rolling sample of live processes, for exits no record told */
	if (g->conf.use_procfs) {
		size_t budget = 2000, i = 0;
		for (struct proc *p = g->phead; p && budget; p = p->next, i++) {
			if (i < g->sweep_pos || !p->alive)
				continue;
			budget--;
			/* (a reused pid is caught when its new process announces
			 * itself: reading starttime here would cost ~5 µs each) */
			if (kill(p->pid, 0) != 0 && errno == ESRCH)
				proc_end(g, p, now);
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
