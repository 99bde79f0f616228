/*
 * chain.c — implements chain.h: the sources of a process, walked depth-first
 * over the graph (docs/chain-model.md "Sources of a process").
 *
 * A node is a process at a time t. Its sources are, in this order:
 *   1. its creator at the process's birth (lineage survives re-parenting);
 *   2. the channels it held at t — for the subject also those it held since
 *      its last exec and closed within the history window, for a creator at a
 *      birth those it opened and closed within the window before it (not for a
 *      hub) — and, through each, the other holders at t, and those that let go
 *      of it within the window while this process held it (pipes, FIFOs, ptys,
 *      unix sockets, TCP between local processes); an external TCP connection
 *      is a leaf.
 * (process, t) pairs are visited once, an external connection is reported
 * once, and branches that reach no origin are pruned, so the tree holds only
 * processes on paths from an origin to the subject.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chain.h"
#include "hoptrace/chain.h"
#include "hoptrace/log.h"
#include "hoptrace/procfs.h"
#include "hoptrace/sockdiag.h"

struct visit {
	uint64_t serial, t;
};

struct tcpent {
	uint64_t ino;
	struct sd_inet s;
};

struct walk {
	struct graph *g;
	const struct chain_req *req;
	uint64_t window;
	struct visit *vis;
	size_t nvis, capvis;
	const struct chan **leaves;
	size_t nleaves, capleaves;
	/* open-addressing indexes into vis and leaves (slot = index + 1, 0
	 * empty), so a walk over thousands of holds stays linear */
	uint32_t *vix, *lix;
	size_t vixcap, lixcap;
	size_t nodes, max_nodes;
	struct tcpent *tcp; /* lazily dumped TCP table of this netns */
	size_t ntcp, captcp;
	int tcp_dumped;
	int fd_asks;           /* sockets asked through a descriptor (WALK_FD_ASKS) */
	int truncated;
	int kernel_scans;   /* /proc scans this query (each costs milliseconds) */
	int scan_self;      /* the last scan found only the collector itself */
	int scan_full;      /* the last scan ran to its end: every holder is known */
	uint64_t scan_deadline;  /* thread CPU time: the query's scans end then */
	uint64_t scan_wall;      /* CLOCK_MONOTONIC: and then at the latest */
	int holders_incomplete;  /* a scan ran out of budget: holders missed */
	uint64_t checked[64];    /* serials whose fds this walk compared with the kernel's */
	size_t nchecked;
	uint64_t searched[4][2]; /* (dev, ino) of the pipes this walk searched the holders of */
	size_t nsearched;
	uint64_t path[80];  /* serials of the processes on the current DFS path */
	size_t npath;
	/* the walk's users (dark_check): the uids but root's of the processes
	 * it expanded; any: more than fit, or a FIFO read (anyone may open one) */
	uid_t uids[8];
	size_t nuids;
	int any_uid;
	int read_local;     /* it followed a pipe, FIFO or unix socket */
	int held_listener;  /* a non-root process it expanded held a listening socket */
	int unattested;     /* dark_check said holders_incomplete: 1 dark, 2 no events
			     * (a local channel, a listener), 3 events lost */
	struct graph_dark dark;
};

static void walk_uid(struct walk *w, uid_t u)
{
	/* (uid -1: a process made from the kernel's events only, gone — its
	 * connections' owners are the events' own, asked by the others) */
	if (u == 0 || u == (uid_t)-1 || w->any_uid)
		return;
	for (size_t i = 0; i < w->nuids; i++)
		if (w->uids[i] == u)
			return;
	if (w->nuids == sizeof(w->uids) / sizeof(w->uids[0]))
		w->any_uid = 1;
	else
		w->uids[w->nuids++] = u;
}

/* A process appears at most once on any path from an origin to the subject. */
static int on_path(const struct walk *w, const struct proc *p)
{
	for (size_t i = 0; i < w->npath; i++)
		if (w->path[i] == p->serial)
			return 1;
	return 0;
}

char *ht_addr_str(const struct ht_addr *a, char *buf, size_t n)
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	char ip[INET6_ADDRSTRLEN];
	switch (a->family) {
	case AF_INET:
		inet_ntop(AF_INET, a->a, ip, sizeof(ip));
		snprintf(buf, n, "%s:%u", ip, a->port);
		break;
	case AF_INET6:
		/* a->a sits at an odd offset: compare bytes, no uint32_t loads */
		if (!memcmp(a->a, v4mapped, sizeof(v4mapped))) {
			/* a dual-stack socket's IPv4 peer: the far host knows it as IPv4 */
			inet_ntop(AF_INET, a->a + 12, ip, sizeof(ip));
			snprintf(buf, n, "%s:%u", ip, a->port);
			break;
		}
		inet_ntop(AF_INET6, a->a, ip, sizeof(ip));
		snprintf(buf, n, "[%s]:%u", ip, a->port);
		break;
	case AF_UNIX: {
		char path[HT_REC_UNIX_MAX + 2];
		size_t k = 0;
		for (size_t i = 0; i < a->len && k < sizeof(path) - 1; i++)
			path[k++] = (i == 0 && a->a[0] == 0) ? '@' :
				    (a->a[i] >= 0x20 && a->a[i] < 0x7f ? (char)a->a[i] : '?');
		path[k] = 0;
		snprintf(buf, n, "unix:%s", path);
		break;
	}
	default:
		snprintf(buf, n, "?");
	}
	return buf;
}

static size_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return (size_t)x;
}

/* grows an index to twice n's power of two and re-inserts every entry's
 * hash (hash_of(i)); 0 or -1 without memory */
static int index_grow(uint32_t **ix, size_t *cap, size_t n, size_t (*hash_of)(const struct walk *, size_t),
		      const struct walk *w)
{
	size_t c = *cap ? *cap * 2 : 128;
	while (c < 2 * (n + 1))
		c *= 2;
	uint32_t *t = calloc(c, sizeof(*t));
	if (!t)
		return -1;
	for (size_t i = 0; i < n; i++) {
		size_t j = hash_of(w, i) & (c - 1);
		while (t[j])
			j = (j + 1) & (c - 1);
		t[j] = (uint32_t)(i + 1);
	}
	free(*ix);
	*ix = t;
	*cap = c;
	return 0;
}

static size_t vis_hash(const struct walk *w, size_t i)
{
	return mix64(w->vis[i].serial * 0x9e3779b97f4a7c15ULL ^ w->vis[i].t);
}

static size_t leaf_hash(const struct walk *w, size_t i)
{
	return mix64((uint64_t)(uintptr_t)w->leaves[i]);
}

static int visited(struct walk *w, const struct proc *p, uint64_t t)
{
	if (2 * (w->nvis + 1) > w->vixcap && index_grow(&w->vix, &w->vixcap, w->nvis, vis_hash, w))
		return 1;
	size_t j = mix64(p->serial * 0x9e3779b97f4a7c15ULL ^ t) & (w->vixcap - 1);
	for (; w->vix[j]; j = (j + 1) & (w->vixcap - 1)) {
		const struct visit *v = &w->vis[w->vix[j] - 1];
		if (v->serial == p->serial && v->t == t)
			return 1;
	}
	if (w->nvis == w->capvis) {
		size_t n = w->capvis ? w->capvis * 2 : 64;
		struct visit *v = realloc(w->vis, n * sizeof(*v));
		if (!v)
			return 1;
		w->vis = v;
		w->capvis = n;
	}
	w->vis[w->nvis].serial = p->serial;
	w->vis[w->nvis].t = t;
	w->vix[j] = (uint32_t)(++w->nvis);
	return 0;
}

static int leaf_seen(struct walk *w, const struct chan *c)
{
	if (2 * (w->nleaves + 1) > w->lixcap && index_grow(&w->lix, &w->lixcap, w->nleaves, leaf_hash, w))
		return 1;
	size_t j = mix64((uint64_t)(uintptr_t)c) & (w->lixcap - 1);
	for (; w->lix[j]; j = (j + 1) & (w->lixcap - 1))
		if (w->leaves[w->lix[j] - 1] == c)
			return 1;
	if (w->nleaves == w->capleaves) {
		size_t n = w->capleaves ? w->capleaves * 2 : 16;
		const struct chan **v = realloc(w->leaves, n * sizeof(*v));
		if (!v)
			return 1;
		w->leaves = v;
		w->capleaves = n;
	}
	w->leaves[w->nleaves] = c;
	w->lix[j] = (uint32_t)(++w->nleaves);
	return 0;
}

/* ---- sockets -------------------------------------------------------------- */

static int tcp_cb(void *ctx, const struct sd_inet *s)
{
	struct walk *w = ctx;
	if (w->ntcp == w->captcp) {
		size_t n = w->captcp ? w->captcp * 2 : 64;
		struct tcpent *t = realloc(w->tcp, n * sizeof(*t));
		if (!t)
			return 1;
		w->tcp = t;
		w->captcp = n;
	}
	w->tcp[w->ntcp].ino = s->ino;
	w->tcp[w->ntcp].s = *s;
	w->ntcp++;
	return 0;
}

static const struct sd_inet *tcp_by_ino(struct walk *w, uint64_t ino)
{
	if (!w->tcp_dumped) {
		w->tcp_dumped = 1;
		if (w->req->nl >= 0)
			/* connections only: TIME_WAIT and LISTEN entries can be many */
			sd_inet_dump(w->req->nl, 0,
				     ~((1u << 6) | (1u << 10)) & 0xfff, tcp_cb, w);
	}
	for (size_t i = 0; i < w->ntcp; i++)
		if (w->tcp[i].ino == ino)
			return &w->tcp[i].s;
	return NULL;
}

static void addr_from_sd(struct gaddr *a, int family, const uint8_t *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint16_t)family;
	a->len = family == AF_INET ? 4 : 16;
	memcpy(a->a, ip, a->len);
	a->port = port;
}

/* A live process's fd that points at hold h (-1: none known) */
static int fd_of_hold(const struct proc *p, const struct hold *h)
{
	if (!p || !p->alive || !h)
		return -1;
	for (uint32_t i = 0; i < p->nfds; i++)
		if (p->fds[i].h == h)
			return p->fds[i].fd;
	return -1;
}

/* At most this many sockets of a walk are asked one by one through their
 * holder's descriptor (sd_inet_of_fd, ~10 syscalls); past it, one dump. */
#define WALK_FD_ASKS 16

/* A TCP socket's ends from the kernel without a dump: its connect events
 * (2: c filled), else the socket itself through p's descriptor of it (1: s
 * filled; *none: no connected TCP socket); 0 when a dump must say. */
static int tcp_without_dump(struct walk *w, struct chan *c, const struct proc *p,
			    const struct hold *h, struct sd_inet *s, int *none)
{
	*none = 0;
	if (graph_sock_ends_kev(w->g, c))
		return 2;
	int fd = fd_of_hold(p, h);
	if (fd < 0 || w->fd_asks >= WALK_FD_ASKS || !graph_conf(w->g)->use_procfs)
		return 0;
	w->fd_asks++;
	const struct graph_conf *gc = graph_conf(w->g);
	int rc = sd_inet_of_fd(p->pid, fd, c->ino, s, gc->dispose_fd, gc->dispose_ctx);
	if (rc == 1 || rc == 2)
		*none = 1;
	return rc >= 0;
}

/* Fills in what records could not say about a socket: its kind (unix or
 * TCP), its unix peer, its TCP ends. p's hold h of it (NULL: none) lets the
 * kernel be asked about the socket itself. */
static void sock_complete(struct walk *w, struct chan *c, const struct proc *p, const struct hold *h)
{
	if (c->kind != HT_CHAN_SOCK || w->req->nl < 0 || c->probed)
		return;
	c->probed = 1; /* once: a socket's kind and ends do not change */
	if (c->remote.family == AF_UNIX || (c->remote.family == 0 && c->dir == 0)) {
		if (!c->peer) {
			uint64_t peer;
			int rc = sd_unix_peer(w->req->nl, c->ino, &peer);
			if (rc == -EAGAIN) {
				/* connected, the peer not accepted yet: asked
				 * again by the next walk (unix_ends) */
				c->probed = 0;
				graph_peer_wait(w->g, c);
				return;
			}
			c->peer_wait = 0;
			if (rc == 0) {
				struct chan *pc = graph_chan(w->g, HT_CHAN_SOCK, 0, peer);
				c->remote.family = AF_UNIX;
				if (pc) {
					chan_link_peers(c, pc);
				} else {
					c->peer = NULL;
					/* remember the inode for the kernel fallback */
					c->remote.len = 8;
					memcpy(c->remote.a, &peer, 8);
				}
				return;
			}
		}
		if (c->remote.family == AF_UNIX)
			return;
	}
	if (!c->has_local || c->remote.family == 0 || c->addr_claimed) {
		struct sd_inet one;
		int none = 0;
		const struct sd_inet *s = NULL;
		int how = tcp_without_dump(w, c, p, h, &one, &none);
		if (none) {
			/* no connection (yet): asked again by a later walk — an
			 * unconnected or connecting socket may become one */
			c->probed = 0;
			return;
		}
		if (how == 2)
			return; /* the events gave it */
		if (how == 1) {
			s = &one;
		} else {
			s = tcp_by_ino(w, c->ino);
		}
		if (!s || s->state == 10 /* TCP_LISTEN */)
			return;
		addr_from_sd(&c->local, s->family, s->laddr, s->lport);
		c->has_local = 1;
		if (c->remote.family == 0 || c->addr_claimed) {
			/* a CONNECT's or ACCEPT's address is the sender's word:
			 * the kernel's table says where the socket really goes */
			struct gaddr k;
			addr_from_sd(&k, s->family, s->raddr, s->rport);
			if (c->addr_claimed && c->remote.family != 0 &&
			    (k.family != c->remote.family || k.port != c->remote.port ||
			     memcmp(k.a, c->remote.a, k.len)))
				graph_note_addr_corrected(w->g);
			c->remote = k;
			c->addr_claimed = 0;
		}
	}
}

static int is_tcp(const struct chan *c)
{
	return c->kind == HT_CHAN_SOCK &&
	       (c->remote.family == AF_INET || c->remote.family == AF_INET6);
}

static int is_local(const struct gaddr *a)
{
	return sd_is_local_addr(a->family, a->a) == 1;
}

/* ---- nodes ---------------------------------------------------------------- */

static cJSON *proc_node(struct walk *w, const struct proc *p)
{
	cJSON *n = cJSON_CreateObject();
	if (!n)
		return NULL;
	cJSON_AddStringToObject(n, "type", "proc");
	cJSON_AddStringToObject(n, "host", w->req->host);
	cJSON_AddNumberToObject(n, "pid", p->pid);
	cJSON_AddNumberToObject(n, "start", (double)p->start);
	if (p->uid != (uid_t)-1)
		cJSON_AddNumberToObject(n, "uid", p->uid);
	cJSON_AddStringToObject(n, "exe", p->exe);
	cJSON_AddStringToObject(n, "argv0", p->argv0);
	cJSON_AddStringToObject(n, "sha256", graph_proc_sha256(w->g, p));
	cJSON_AddStringToObject(n, "seen", proc_seen(p));
	if (p->lineage_kernel)
		/* its creator is the kernel's process group or session leader:
		 * whatever created it ran without the shim (a gap, marked) */
		cJSON_AddStringToObject(n, "lineage", "kernel");
	else if (graph_lineage_gap(p))
		/* nothing names its creator (re-parented, its shim off): a
		 * creator, and so an origin, may be missing — every chain through
		 * it is incomplete (flatten) */
		cJSON_AddStringToObject(n, "lineage", "unknown");
	cJSON_AddBoolToObject(n, "alive", p->alive);
	return n;
}

static cJSON *conn_node(struct walk *w, const struct chan *c, uint64_t t)
{
	char buf[160];
	cJSON *n = cJSON_CreateObject();
	if (!n)
		return NULL;
	cJSON_AddStringToObject(n, "type", "conn");
	cJSON_AddStringToObject(n, "host", w->req->host);
	/* met in the past (a creator at a birth, history): how long ago, so
	 * the far host answers as of then (docs/inquiry.md "Versions") */
	if (t < w->req->now && w->req->now - t >= 1000000ULL)
		cJSON_AddNumberToObject(n, "seen_ago_ms", (double)((w->req->now - t) / 1000000ULL));
	cJSON_AddStringToObject(n, "dir", c->dir == 'i' ? "in" : c->dir == 'o' ? "out" : "unknown");
	struct ht_addr a;
	gaddr_get(&a, &c->local);
	cJSON_AddStringToObject(n, "local", c->has_local ? ht_addr_str(&a, buf, sizeof(buf)) : "?");
	gaddr_get(&a, &c->remote);
	cJSON_AddStringToObject(n, "remote", ht_addr_str(&a, buf, sizeof(buf)));
	/* an address only the sender's record gave: the kernel's table never
	 * showed the socket (it was gone before a TCP dump or a SYN's query —
	 * with a guard every SYN's own socket is attested from the packet) */
	cJSON_AddNullToObject(n, "upstream");
	cJSON_AddBoolToObject(n, "complete", 0);
	if (c->addr_claimed) {
		/* never followed: the far host would answer for a connection
		 * the kernel never confirmed this process had (a record naming
		 * another user's 4-tuple from /proc/net/tcp) — incomplete, so
		 * policy decides by @incomplete */
		cJSON_AddBoolToObject(n, "attested", 0);
		cJSON_AddStringToObject(n, "reason", HT_LEAF_NOT_ATTESTED);
	} else {
		cJSON_AddStringToObject(n, "reason", HT_LEAF_NOT_FOLLOWED);
	}
	return n;
}

static const char *via_name(const struct chan *c)
{
	switch (c->kind) {
	case HT_CHAN_PIPE: return c->fifo ? "fifo" : "pipe";
	case HT_CHAN_PTY: return "pty";
	case HT_CHAN_SOCK: return is_tcp(c) ? "tcp" : "unix";
	}
	return "?";
}

static void chan_label(const struct chan *c, char *buf, size_t n)
{
	switch (c->kind) {
	case HT_CHAN_PTY:
		snprintf(buf, n, "pts/%llu", (unsigned long long)c->ino);
		break;
	case HT_CHAN_PIPE:
		snprintf(buf, n, "%s:[%llu]", c->fifo ? "fifo" : "pipe", (unsigned long long)c->ino);
		break;
	default:
		snprintf(buf, n, "socket:[%llu]", (unsigned long long)c->ino);
	}
}

static void add_source(cJSON *sources, const char *via, const char *id, cJSON *node)
{
	cJSON *s = cJSON_CreateObject();
	if (!s) {
		cJSON_Delete(node);
		return;
	}
	cJSON_AddStringToObject(s, "via", via);
	if (id)
		cJSON_AddStringToObject(s, "id", id);
	cJSON_AddItemToObject(s, "node", node);
	cJSON_AddItemToArray(sources, s);
}

/* how long before a birth what the creator let go of still counts (see
 * expand_sources) */
#define CREATOR_GAP_NS (5ULL * 1000000000ULL)

/* how a process is reached: it is the subject; the creator of a process at
 * its birth; fed through a channel it holds; fed through a channel it let go
 * of (judged as it was then, with what it had closed just before: `nc -l`
 * closes its connection, then exits and lets go of the pipe) */
enum role { ROLE_FED = 0, ROLE_SUBJECT, ROLE_CREATOR, ROLE_DEPARTED };

static cJSON *expand(struct walk *w, struct proc *p, uint64_t t, enum role role, int depth,
		     const struct chan *via);
static cJSON *expand_sources(struct walk *w, struct proc *p, uint64_t t, enum role role,
			     int depth, const struct chan *via);

static int holds_at(const struct proc *p, const struct chan *c, uint64_t t)
{
	for (const struct hold *h = p->holds; h; h = h->pnext)
		if (h->c == c && !h->unconf && hold_live_at(h, t))
			return 1;
	return 0;
}

/* A hold from a claim the kernel could not confirm when it was applied (the
 * fd was gone already: a short-lived fd — `curl | sh`, a FIFO written and
 * closed, /dev/tcp orders read and closed — or a forgery naming someone
 * else's channel): believed only about a channel that no process of another
 * uid holds or held by the kernel's word, and — a TCP socket — one the
 * kernel's table no longer has unless a process of the same uid holds it now
 * (a forking server's child). A user can do with its own channels what it
 * claims (open /proc/PID/fd/N of its own processes), so the uid is the line. */
static const struct sd_inet *tcp_by_ino(struct walk *w, uint64_t ino);
static int is_tcp(const struct chan *c);

/* Is TCP socket c still a connection in the kernel's table (not TIME_WAIT)?
 * By an exact lookup of the kernel's 4-tuple when it is known (a connection
 * that closed leaves nothing there, or a TIME_WAIT entry of inode 0, or a new
 * socket of the 4-tuple), else by the walk's dump. */
static int tcp_in_kernel(struct walk *w, const struct chan *c)
{
	struct gaddr kl = c->local, kr = c->remote;
	int known = c->has_local && !c->addr_claimed && c->local.port && c->remote.port;
	/* a claim's own address is the sender's word; the kernel's connect
	 * events name the socket's 4-tuple by its inode (its local port once
	 * ESTABLISHED) — a walk's dump (the kernel's whole TCP table, every
	 * namespace's: milliseconds) only when neither knows it */
	if (!known && graph_kev_tcp_ends(w->g, c->ino, &kl, &kr) == 0)
		known = kl.port && kr.port && kl.family == kr.family;
	if (known) {
		struct sd_inet s;
		int rc = sd_inet_lookup(w->req->nl, kr.family, kl.a, kl.port, kr.a, kr.port, &s);
		if (rc == 0)
			return s.ino == c->ino && s.state != 6 /* TIME_WAIT */;
		if (rc == -ENOENT)
			return 0;
	}
	return tcp_by_ino(w, c->ino) != NULL;
}

static int claim_ok(struct walk *w, const struct hold *h)
{
	if (!h->unconf)
		return 1;
	/* its creator's claim, inherited at a fork whose child was gone when
	 * its BIRTH was applied (graph_proc.c inherit_from): the claimer's uid is
	 * the line — not one the child took since (a setuid program) */
	if (h->how == HOLD_INHERITED && (!h->p->creator || h->p->creator->uid != h->p->uid))
		return 0;
	const struct chan *c = h->c;
	int same_live = 0;
	for (const struct hold *x = c->holds; x; x = x->cnext) {
		if (x->unconf || x->p == h->p)
			continue;
		if (x->p->uid != h->p->uid)
			return 0;
		if (!x->until)
			same_live = 1;
	}
	if (is_tcp(c) && !same_live && w->req->nl >= 0 && tcp_in_kernel(w, c))
		return 0;
	return 1;
}

/* Is d a descendant of a (through creators, bounded)? */
static int descends_from(const struct proc *d, const struct proc *a)
{
	for (int i = 0; d && i < 32; i++, d = d->creator)
		if (d->creator == a)
			return 1;
	return 0;
}

/* A hub — a server that accepted two or more connections since its last exec
 * (an sshd listener, a tmux server, a relay serving several clients), or a
 * process that holds a pty's master (a terminal server: tmux, screen, sshd's
 * session, script — its status-line jobs and its clients come and go) — is
 * judged by what it holds at the time: the channels it has closed were other
 * clients' or its own housekeeping, not where its present work comes from. */
static int is_hub(const struct proc *p)
{
	int n = 0;
	for (const struct hold *h = p->holds; h; h = h->pnext) {
		if (h->since < p->exec_ts)
			continue; /* (a claimed accept counts: the process says it serves) */
		if (h->c->kind == HT_CHAN_PTY && (h->ends & HE_M))
			return 1;
		if (h->how == HOLD_CREATED && h->c->kind == HT_CHAN_SOCK && h->c->dir == 'i' &&
		    ++n >= 2)
			return 1;
	}
	return 0;
}

struct kh_ctx {
	struct walk *w;
	int n, self;
};

static int kh_cb(void *vctx, pid_t pid, int fd)
{
	struct kh_ctx *x = vctx;
	(void)fd;
	if (pid == getpid()) {
		/* the collector itself: the far end of a shim's record socket */
		x->self = 1;
		return 0;
	}
	graph_proc_resync(x->w->g, pid, x->w->req->now);
	if (++x->n < 16)
		return 0;
	x->w->holders_incomplete = 1; /* the rest not looked for: one may be the source */
	return 1;
}

/* Kernel fallback: the processes holding socket ino that no record named
 * (a static binary, a program started before the collector). They enter the
 * graph as "seen: kernel" with their fds, so the socket's channel gets holds.
 * owner: the socket's uid (sock_diag), (uid_t)-1 unknown — its processes are
 * searched first, others only when none of them holds it, all within the
 * query's budget (graph_scan_holders); a search cut short marks the answer
 * holders_incomplete. */
static struct chan *kernel_holders(struct walk *w, uint64_t ino, uid_t owner)
{
	struct kh_ctx x = {w, 0, 0};
	w->scan_full = 0;
	if (!graph_conf(w->g)->use_procfs || ino == 0)
		return NULL;
	if (w->req->kernel_asked)
		(*w->req->kernel_asked)++;
	if (w->kernel_scans >= 4) {
		/* not searched: its holders, a source among them, are not known
		 * (said, never guessed — skipped silently, a fifth unix peer of
		 * an unshimmed holder of B's connection gave a complete local
		 * chain: tests/func/attack_review_rawfd_scans.sh) */
		w->holders_incomplete = 1;
		return NULL;
	}
	w->kernel_scans++;
	struct procfs_scan s = {.owner = owner, .cpu_deadline_ns = w->scan_deadline,
				.deadline_ns = w->scan_wall};
	graph_scan_holders(w->g, ino, &s, kh_cb, &x);
	if (s.incomplete)
		w->holders_incomplete = 1;
	w->scan_full = !s.incomplete && x.n < 16;
	w->scan_self = x.self && x.n == 0;
	if (w->scan_self)
		return NULL; /* a shim's record socket: not a channel of the chain model */
	return graph_chan(w->g, HT_CHAN_SOCK, 0, ino);
}

static void check_fds(struct walk *w, struct proc *p);

struct pk_ctx {
	struct walk *w;
	const struct chan *c;
	int n;
};

/* Does the graph know that live process pid holds c now (a confirmed hold)? */
static struct proc *known_holder(struct graph *g, pid_t pid, const struct chan *c)
{
	struct proc *p = graph_proc(g, pid);
	if (!p || !p->alive)
		return NULL;
	for (const struct hold *h = c->holds; h; h = h->cnext)
		if (h->p == p && !h->until && !h->unconf)
			return p;
	return NULL;
}

static int pk_cb(void *vctx, pid_t pid, int fd)
{
	struct pk_ctx *x = vctx;
	(void)fd;
	if (pid == getpid())
		return 0;
	struct proc *p = known_holder(x->w->g, pid, x->c);
	if (p) {
		/* a holder the graph knows: not read again, not counted — so
		 * holders known from an earlier search (decoys) cannot use up
		 * this one's 16 before it reaches one nobody knows; its table
		 * is compared (once a walk) all the same */
		check_fds(x->w, p);
		return 0;
	}
	p = graph_proc_resync(x->w->g, pid, x->w->req->now);
	if (p)
		check_fds(x->w, p); /* (a known process: what its records left out) */
	if (++x->n < 16)
		return 0;
	x->w->holders_incomplete = 1; /* the rest not looked for */
	return 1;
}

/* One search of channel c's holders (fifo_holders, peer_holders): at most
 * once a walk, within the walk's 4 searches; owner's processes first. */
static void search_holders(struct walk *w, struct chan *c, uid_t owner)
{
	for (size_t i = 0; i < w->nsearched; i++)
		if (w->searched[i][0] == c->dev && w->searched[i][1] == c->ino)
			return; /* searched by this walk already (another reader) */
	if (w->req->kernel_asked)
		(*w->req->kernel_asked)++;
	if (w->kernel_scans >= 4 || w->nsearched == sizeof(w->searched) / sizeof(w->searched[0])) {
		w->holders_incomplete = 1;
		return;
	}
	w->kernel_scans++;
	w->searched[w->nsearched][0] = c->dev;
	w->searched[w->nsearched++][1] = c->ino;
	struct pk_ctx x = {w, c, 0};
	struct procfs_scan s = {.owner = owner, .cpu_deadline_ns = w->scan_deadline,
				.deadline_ns = w->scan_wall};
	if (c->kind == HT_CHAN_PIPE)
		graph_scan_pipe_holders(w->g, c->dev, c->ino, &s, pk_cb, &x);
	else
		graph_scan_holders(w->g, c->ino, &s, pk_cb, &x);
	if (s.incomplete)
		w->holders_incomplete = 1;
	/* a search that found every holder known leaves the answer the graph's:
	 * a push may decide on it, as the who that confirms it searches again
	 * (chain_check_reach) — anything else may change with no record */
	if (w->req->kernel_asked && !s.incomplete && !x.n)
		(*w->req->kernel_asked)--;
}

/* Kernel fallback for a pipe or FIFO p reads: anyone may open a FIFO by its
 * path, a program without the shim too, and an anonymous pipe reaches a
 * process by fork or SCM_RIGHTS from one the graph need not know (an
 * unshimmed writer that passed its read end, an orphan's unshimmed parent:
 * tests/func/attack_review_rawfd_pipe.sh) — so a holder the graph knows says
 * nothing of the others: every walk that follows a pipe p reads live
 * searches its holders in /proc (once a walk), p's uid's processes first,
 * others only when none of them holds it, within the query's budget
 * (graph_scan_pipe_holders, as kernel_holders). A search ends at its 16th
 * holder the graph did not know (those enter the graph with their fds, so
 * the next walk's search goes past them), and then — or cut short, or not
 * made — marks the answer holders_incomplete. No earlier search is believed
 * for now: what opened the FIFO since, or got the pipe from a holder, would
 * be missed (review, session 12: 16 decoys known from the first search hid
 * the 17th holder, B's writer, from every later walk:
 * tests/func/attack_review_rawfd_decoy.sh). */
static void fifo_holders(struct walk *w, struct proc *p, const struct hold *mine)
{
	if ((mine->ends && !(mine->ends & HE_R)) || !graph_conf(w->g)->use_procfs)
		return;
	search_holders(w, mine->c, p->uid);
}

/* the uid of unix socket ino by the kernel's word, (uid_t)-1 unknown */
static uid_t unix_owner(const struct walk *w, uint64_t ino)
{
	uint32_t u;
	return w->req->nl >= 0 && sd_unix_uid(w->req->nl, ino, &u) == 0 ? (uid_t)u : (uid_t)-1;
}

/* Other holders of channel c (and of its unix peer) at time t. */
/* Can data held by `other` reach `mine` through their channel? Pipes and FIFOs
 * carry it from write ends to read ends, ptys between master and slaves; an
 * unknown end (0) is taken as any. */
static int feeds(const struct hold *mine, const struct hold *other)
{
	uint8_t a = mine->ends, b = other->ends;
	switch (mine->c->kind) {
	case HT_CHAN_PIPE:
		a &= HE_R | HE_W;
		b &= HE_R | HE_W;
		return !a || !b || ((a & HE_R) && (b & HE_W));
	case HT_CHAN_PTY:
		a &= HE_M | HE_S;
		b &= HE_M | HE_S;
		return !a || !b || ((a & HE_S) && (b & HE_M)) || ((a & HE_M) && (b & HE_S));
	}
	return 1;
}

/* (inline compares: a busy client's every closed connection is checked) */
static int same_host(const struct gaddr *a, const struct ht_addr *b)
{
	if (!b || a->family != b->family)
		return 0;
	uint32_t x4, y4;
	uint64_t x[2], y[2];
	if (b->family == AF_INET) {
		memcpy(&x4, a->a, 4);
		memcpy(&y4, b->a, 4);
		return x4 == y4;
	}
	memcpy(x, a->a, 16);
	memcpy(y, b->a, 16);
	return x[0] == y[0] && x[1] == y[1];
}

/* Never a source (skipped before it counts against any bound): a connect()
 * that failed never carried anything, and the subject's own other
 * connections to the host it is connecting to (retries, parallel fetches, a
 * load generator) are not where it came from. */
static inline int never_source(const struct walk *w, const struct chan *c, int depth)
{
	return c->failed || (depth == 0 && is_tcp(c) && c->dir == 'o' && !c->dir_guess &&
			     same_host(&c->remote, w->req->syn_remote));
}

/* The direction of the subject's live TCP socket to the SYN's host when no
 * record or connect event has said it yet, from the kernel: where it decides
 * never_source. A socket connect()ed after the query's drain (a client with
 * many connections in flight: their SYNs wait in the queue beside this one)
 * is in the fd table the walk reads but neither its CONNECT record nor the
 * kernel's connect event is read yet, and a dump's probe guesses 'o' only
 * because no listener has its port (an accepted socket whose listener closed
 * looks so: graph_sock.c) — or never probed it. Taken for a connection from
 * the SYN's host, it made the chain's origin that host, not followed:
 * incomplete, and the SYN refused by @incomplete (tests/bench/guard.sh). The
 * kernel's connect events first (no system call), else the socket's own
 * state by an exact lookup: SYN_SENT is only ever a connect()'s (nothing came
 * in through it yet either). Asked in pick_hold and again in through_chan
 * once sock_complete probed a socket first seen in the fd table. */
static void tcp_dir_settle(struct walk *w, struct chan *c, const struct hold *h, int depth)
{
	if (depth != 0 || h->until || !is_tcp(c) || (c->dir && !c->dir_guess) || w->req->nl < 0 ||
	    !same_host(&c->remote, w->req->syn_remote))
		return;
	if (graph_sock_ends_kev(w->g, c) || !c->has_local || !c->local.port || !c->remote.port)
		return;
	struct sd_inet s;
	if (sd_inet_lookup(w->req->nl, c->remote.family, c->local.a, c->local.port, c->remote.a,
			   c->remote.port, &s) == 0 &&
	    s.ino == c->ino && s.state == 2 /* TCP_SYN_SENT */) {
		c->dir = 'o';
		c->dir_guess = 0;
	}
}

/* One channel of p followed at t (through_chan): p's hold of it, the ends
 * whose holders may feed p through it, and where their nodes go. */
struct through {
	struct proc *p;
	struct hold *mine;
	uint64_t t;
	int depth;
	cJSON *sources;
	int past;              /* a channel in p's history (closed) */
	struct chan *ends[2];  /* [0] the channel itself (or, for a local TCP
				* connection, the far socket), [1] its unix peer */
	char id[64];
	const char *via;
	int ndeparted;
	uint64_t held_since;   /* held_since(mine), once asked (0: not yet) */
};

/* An external TCP connection: a leaf, reported once per walk. */
static void conn_leaf(struct walk *w, const struct chan *c, uint64_t t, cJSON *sources)
{
	if (leaf_seen(w, c))
		return;
	cJSON *n = conn_node(w, c, t);
	if (n)
		add_source(sources, "tcp", NULL, n);
}

/* A TCP connection between two local processes: the far socket is the one
 * whose local end is our remote end (linked to c once found). NULL: not
 * known, nothing to follow. */
static struct chan *tcp_far_end(struct walk *w, struct chan *c, int live)
{
	struct sd_inet far;
	struct chan *f;
	if (c->peer)
		return c->peer; /* resolved by an earlier query, or linked when
				 * its records were applied */
	if (!live || !c->has_local || w->req->nl < 0 ||
	    sd_inet_lookup(w->req->nl, c->remote.family, c->remote.a, c->remote.port, c->local.a,
			   c->local.port, &far) != 0 || !far.ino) {
		/* the other end gone (closed, or an orphan of inode 0): the
		 * kernel's connect events may still name it (graph_sock.c) */
		graph_link_local_tcp(w->g, c);
		return c->peer;
	}
	f = graph_chan(w->g, HT_CHAN_SOCK, 0, far.ino);
	if (!f || !f->holds)
		f = kernel_holders(w, far.ino, (uid_t)far.uid);
	if (f && !f->peer)
		chan_link_peers(f, c);
	return f;
}

/* Does a process of another uid than root's hold (or has held) c? */
static int held_beyond_root(const struct chan *c)
{
	for (const struct hold *h = c->holds; h; h = h->cnext)
		if (h->p->uid != 0)
			return 1;
	return 0;
}

/* Kernel fallback for the peer end of a unix socket read live, as for a pipe
 * (fifo_holders): a holder the graph knows says nothing of the others — a
 * shimmed holder of the peer end can hand a copy to a program without the
 * shim (a raw sendmsg, pidfd_getfd: no record) that writes into it, so every
 * walk through a unix socket whose peer end has known holders searches them
 * (known ones skipped and not counted, within the walk's 4 searches; session
 * 13: tests/func/attack_review_rawfd_unixpeer.sh). Not an end of root's held
 * only by root's processes (journald's, D-Bus's: root is trusted, docs/
 * threat-model.md; only root can hand it on), nor the collector's own. */
static void peer_holders(struct walk *w, struct chan *peer)
{
	if (!graph_conf(w->g)->use_procfs || peer->internal)
		return;
	uid_t owner = unix_owner(w, peer->ino);
	if (owner == 0 && !held_beyond_root(peer))
		return;
	search_holders(w, peer, owner);
}

/* A unix socket end talks to its peer end, not to other holders of the same
 * end (a forking server's children sharing a socketpair) — unless the peer is
 * unknown. Fills ends; 0 when nothing is followed through c (the collector's
 * own connection, a listening socket). */
static int unix_ends(struct walk *w, struct chan *c, int live, struct chan **ends)
{
	if (c->internal || (c->peer && c->peer->internal))
		return 0; /* a shim's or a query's connection to the collector */
	if (c->dir == 'l')
		return 0; /* a listening socket: no data between its holders */
	if (!c->peer && c->peer_wait) {
		/* connected to a peer its listener has not accepted yet (sock_diag
		 * -EAGAIN; a shim's record connection while the collector lags):
		 * nothing came through it from there yet, and its other holders
		 * share its end, not its peer (a forking server's children). The
		 * answer may change with no change to the graph — no push decides
		 * on it (kernel_asked) — and after GRAPH_PEER_WAIT_ROUNDS answers
		 * the kernel may never say: holders_incomplete. */
		if (w->req->kernel_asked)
			(*w->req->kernel_asked)++;
		if (c->peer_wait >= GRAPH_PEER_WAIT_ROUNDS)
			w->holders_incomplete = 1;
		return 0;
	}
	ends[1] = c->peer;
	if (c->peer)
		ends[0] = NULL;
	if (!live)
		return 1; /* history: only what the graph remembers */
	if (!c->peer && c->remote.family == AF_UNIX && c->remote.len == 8) {
		uint64_t peer;
		memcpy(&peer, c->remote.a, 8);
		w->scan_self = 0;
		ends[1] = kernel_holders(w, peer, unix_owner(w, peer));
		if (w->scan_self) {
			/* a shim's record socket, shared by a forking server and
			 * its children that did not exec: nobody's source, and
			 * never scanned for again */
			c->remote.len = 0;
			c->internal = 1;
			return 0;
		}
	} else if (c->peer && !c->peer->holds && !c->peer->kscanned) {
		ends[1] = kernel_holders(w, c->peer->ino, unix_owner(w, c->peer->ino));
		if (c->peer && !c->peer->holds && w->scan_full)
			c->peer->kscanned = 1; /* nobody we may see: do not scan again */
	} else if (c->peer && c->peer->holds) {
		peer_holders(w, c->peer);
	}
	return 1;
}

/* Since when p's hold `mine` carried what is in the channel: an fd p
 * inherited continues its creator's hold when the creator let go of the
 * channel only after p's hold began (dash forks both sides of `curl | sh`
 * and then closes the pipe: what curl wrote before sh was forked waits in
 * the pipe for sh). Not when the creator holds it still (a shell reading its
 * child's output: test_reads_child_live). Up the creators, bounded. */
static uint64_t held_since(struct walk *w, const struct hold *mine)
{
	uint64_t since = mine->since;
	const struct hold *m = mine;
	for (int i = 0; i < 8 && m->how == HOLD_INHERITED && m->p->creator; i++) {
		const struct hold *up = NULL;
		for (const struct hold *x = m->p->creator->holds; x && !up; x = x->pnext)
			if (x->c == m->c && x->until && x->since <= m->since && m->since < x->until &&
			    claim_ok(w, x))
				up = x;
		if (!up)
			break;
		since = up->since;
		m = up;
	}
	return since;
}

/* May h, a holder of x->ends[e], have fed p through the channel? In pass 0
 * the holders at t, in pass 1 those that let go before (*ht: when h is
 * judged). The filters in the order the walk asks them. */
static int holder_candidate(struct walk *w, struct through *x, int e, const struct hold *h,
			    int pass, uint64_t *ht)
{
	const struct hold *mine = x->mine;
	*ht = x->t;
	if (hold_live_at(h, x->t) == pass || !claim_ok(w, h))
		return 0;
	if (pass) {
		/* a holder that let go of the channel within the window before
		 * t, while p held it, fed p all the same — what it wrote waits
		 * in the pipe or socket buffer (`nc -l | sh` after the
		 * controller hung up, `curl … | sh`): judged as it was when it
		 * let go */
		if (!h->until || h->until > x->t || h->since > x->t || h->until + w->window < x->t)
			return 0;
		/* (not for the far socket of a local TCP connection, nor of a
		 * unix socket connection: that is the connection's only other
		 * end, and what its holder wrote before p accepted it waited
		 * for p — a forward's client that connected, sent and left
		 * before the accept; a unix writer gone before the accept,
		 * joined by the kernel events, graph_kev_unix_peer) */
		int far = x->ends[e] != mine->c &&
			  (is_tcp(mine->c) || (mine->c->kind == HT_CHAN_SOCK &&
					       mine->c->remote.family == AF_UNIX &&
					       mine->c->peer == x->ends[e]));
		if (!far &&
		    h->until <= (x->held_since ? x->held_since : (x->held_since = held_since(w, mine))))
			return 0;
		*ht = h->until - 1;
	}
	if (h->p == x->p || on_path(w, h->p) || !feeds(mine, h))
		return 0;
	/* a process holding both ends of a socketpair (socat's, shared by a
	 * forking listener and all its children) cannot be told apart from our
	 * side: not a source through it */
	if (e == 1 && holds_at(h->p, mine->c, *ht))
		return 0;
	/* a process reached on the way is not fed through a channel it holds by
	 * what it created — a hub (a forking listener, an sshd listener known
	 * only from /proc, a tmux server) holds one to each child — only the
	 * subject's own descendants count; but in a process's history (past: a
	 * channel it has closed) a descendant that let go of it first did: the
	 * process stayed to take what the child wrote (`c=$(nc H1 9000)`), where
	 * a shell that built a pipeline between two children let go at once */
	if (x->depth > 0 && descends_from(h->p, x->p) &&
	    !(x->past && h->until && h->until <= mine->until))
		return 0;
	return 1;
}

/* Expands a candidate holder h of x->ends[e], judged at ht, into a source of
 * p. -1: the tree is full (stop following this channel), else 0. */
static int follow_holder(struct walk *w, struct through *x, int e, struct hold *h, uint64_t ht)
{
	if (w->nodes >= w->max_nodes) {
		w->truncated = 1;
		return -1;
	}
	/* a holder that died by a signal left no EXIT: its holds are stale (a
	 * pty index may already serve someone else) */
	if (x->t == w->req->now && !h->until && !graph_verify_alive(w->g, h->p, w->req->now))
		return 0;
	if (visited(w, h->p, ht))
		return 0;
	if (ht != x->t && ++x->ndeparted > 16) {
		w->truncated = 1; /* more departed feeders than we follow */
		return 0;
	}
	cJSON *n = expand(w, h->p, ht, ht != x->t ? ROLE_DEPARTED : ROLE_FED, x->depth + 1,
			  x->ends[e]);
	if (n)
		add_source(x->sources,
			   (x->mine->how == HOLD_RECEIVED || h->how == HOLD_RECEIVED) ? "fdpass" : x->via,
			   x->id, n);
	return 0;
}

/* The holders of the channel's ends: those at t first, those that let go
 * after (the most direct path reports an external connection). */
static void through_holders(struct walk *w, struct through *x)
{
	for (int pass = 0; pass < 2; pass++)
		for (int e = 0; e < 2; e++) {
			if (!x->ends[e])
				continue;
			for (struct hold *h = x->ends[e]->holds; h; h = h->cnext) {
				uint64_t ht;
				if (holder_candidate(w, x, e, h, pass, &ht) &&
				    follow_holder(w, x, e, h, ht) < 0)
					return;
			}
		}
}

/* Follows p's hold `mine` of a channel at t: an external TCP connection is a
 * leaf; otherwise the other holders of the channel (of its peer, of the far
 * socket) that may have fed p are expanded. live: t is now. */
static void through_chan(struct walk *w, struct proc *p, struct hold *mine, uint64_t t,
			 int depth, cJSON *sources, int live, int past)
{
	struct chan *c = mine->c;
	struct through x = {.p = p, .mine = mine, .t = t, .depth = depth, .sources = sources,
			    .past = past, .ends = {c, NULL}};

	if (never_source(w, c, depth))
		return;
	/* the kernel only knows what is still open — but a socket's kind and ends
	 * do not change, so one still held now is probed even when it is judged
	 * at an earlier time (a creator at a child's birth) */
	if (live || mine->until == 0)
		sock_complete(w, c, p, mine);
	if (is_tcp(c)) {
		/* (a socket first probed just now: TCP, to where, is known only
		 * from here on) */
		tcp_dir_settle(w, c, mine, depth);
		if (never_source(w, c, depth))
			return;
		if (!is_local(&c->remote)) {
			conn_leaf(w, c, t, sources);
			return;
		}
		x.ends[0] = tcp_far_end(w, c, live);
		if (!x.ends[0]) {
			/* an accepted local connection whose client is not known
			 * (gone, and neither the kernel's events nor the graph's
			 * past name its socket: an event slot taken by another
			 * connect(), the events off): some local process fed p —
			 * not silently nobody (attack_review_hist_evict) */
			if (c->dir == 'i' && !c->dir_guess && c->has_local && !c->addr_claimed &&
			    !c->internal)
				w->holders_incomplete = 1;
			return;
		}
	} else if (c->kind == HT_CHAN_SOCK && !unix_ends(w, c, live, x.ends)) {
		return;
	} else if (c->kind == HT_CHAN_PIPE && live) {
		fifo_holders(w, p, mine);
	}
	if (c->kind != HT_CHAN_PTY && !is_tcp(c) &&
	    !(c->kind == HT_CHAN_PIPE && mine->ends && !(mine->ends & HE_R)) &&
	    (p->uid != 0 || held_beyond_root(c) || (c->peer && held_beyond_root(c->peer)))) {
		w->read_local = 1; /* (p may read from it, and a user's process is at it) */
		if (c->kind == HT_CHAN_PIPE && c->fifo)
			w->any_uid = 1; /* (a FIFO: whoever may open it, by its path) */
	}
	chan_label(c, x.id, sizeof(x.id));
	x.via = via_name(c);
	through_holders(w, &x);
}

static cJSON *expand(struct walk *w, struct proc *p, uint64_t t, enum role role, int depth,
		     const struct chan *via)
{
	if (depth > 64 || w->nodes >= w->max_nodes ||
	    w->npath >= sizeof(w->path) / sizeof(w->path[0])) {
		w->truncated = 1;
		return NULL;
	}
	w->nodes++;
	w->path[w->npath++] = p->serial;
	cJSON *n = expand_sources(w, p, t, role, depth, via);
	w->npath--;
	return n;
}

/* Which of p's holds are followed from a node (channel_sources), and how. */
struct pick {
	struct proc *p;
	uint64_t t, from;        /* history: holds closed within [from, t] */
	int subject, depth;
	int history;             /* closed holds followed: 1 yes, 0 no, -1 unless
				  * p is a hub (asked once, lazily) */
	const struct chan *via;  /* the channel p was reached through */
	struct proc *hubmom;     /* a departed feeder's hub creator (see below) */
	int nrecent;             /* history holds taken so far */
};

enum { PICK_NO = 0, PICK_LIVE, PICK_HISTORY };

/* Is h one of p's sources, and held at t (PICK_LIVE) or closed in the
 * window (PICK_HISTORY)? */
static int pick_hold(struct walk *w, struct pick *k, const struct hold *h)
{
	/* not a source (see through_chan): not counted against the bound —
	 * asked first, it is cheap, and claim_ok may ask the kernel (a client
	 * with thousands of closed connections to the SYN's host in its
	 * history: their claims are never checked) */
	tcp_dir_settle(w, h->c, h, k->depth);
	if (never_source(w, h->c, k->depth))
		return PICK_NO;
	if (h->c == w->req->exclude || (k->via && (h->c == k->via || h->c->peer == k->via)) ||
	    !claim_ok(w, h))
		return PICK_NO;
	if (k->hubmom && holds_at(k->hubmom, h->c, k->p->birth_ts))
		return PICK_NO;
	int live = hold_live_at(h, k->t);
	if (!live) {
		if (!k->history || !h->until || h->until < k->from || h->until > k->t || h->since > k->t)
			return PICK_NO;
		if (k->history < 0 && !(k->history = !is_hub(k->p)))
			return PICK_NO;
		/* a creator's history is its own: an fd its creator also held at
		 * its birth (sshd's child closing the other sessions' pipes) is
		 * reached through the lineage, under the hub rule (asked only
		 * while there is room) */
		if (!k->subject && k->nrecent < 32 && k->p->creator &&
		    holds_at(k->p->creator, h->c, k->p->birth_ts))
			return PICK_NO;
	}
	return live ? PICK_LIVE : PICK_HISTORY;
}

/* The channels p holds at t and, as the role allows, those it let go of
 * within the window before t, each followed by through_chan. */
static void channel_sources(struct walk *w, struct proc *p, uint64_t t, enum role role, int depth,
			    const struct chan *via, cJSON *sources)
{
	/* what the subject held lately, what a creator held lately when its child
	 * was born (a shell that read its orders from a connection it has closed,
	 * then runs them), what a departed feeder held lately when it let go —
	 * a hub's history only when it is the subject (a hub's closed
	 * connections are other clients', not its children's; for the subject
	 * an extra origin is the safe side of the doubt). Asked once, of the
	 * first closed hold that falls in the window. */
	struct pick k = {.p = p, .t = t, .subject = role == ROLE_SUBJECT, .depth = depth, .via = via,
			 .history = role == ROLE_SUBJECT ? 1 : role == ROLE_FED ? 0 : -1};
	/* a creator's history: only what it let go of shortly before the birth
	 * (orders read, then run); a prompt's or a status line's `$(curl …)`
	 * long before the user's next command is not where that came from */
	uint64_t span = role == ROLE_CREATOR && w->window > CREATOR_GAP_NS ? CREATOR_GAP_NS
									  : w->window;
	k.from = t > span ? t - span : 0;
	if (p->exec_ts > k.from)
		k.from = p->exec_ts;
	/* a departed feeder that a hub created (libutempter's helper, forked by
	 * tmux for each new pane with every fd of the server): what it had from
	 * its creator is the hub's, reached through the lineage — only what it
	 * opened itself is judged here */
	k.hubmom = role == ROLE_DEPARTED && p->creator && is_hub(p->creator) ? p->creator : NULL;
	/* what it holds first, its history after (at most 32, in list order): an
	 * external connection is reported once, on the first (most direct) path
	 * that reaches it. Copies: a live pass may re-read a holder's /proc
	 * (kernel_holders), which can free this process's oldest closed holds */
	struct hold recent[32];
	for (struct hold *h = p->holds; h; h = h->pnext) {
		if (h->c->kind == HT_CHAN_SOCK && h->c->dir == 'l' && p->uid != 0 && k.history &&
		    (!h->until || h->until >= k.from) && h->since <= t)
			w->held_listener = 1; /* (what it accepted: dark_check) */
		int how = pick_hold(w, &k, h);
		if (how == PICK_LIVE && h->unreported) {
			/* no record named it (check_fds): a source through it is
			 * the kernel's word, a snapshot — p is seen "kernel" */
			int before = cJSON_GetArraySize(sources);
			through_chan(w, p, h, t, depth, sources, t == w->req->now, 0);
			if (cJSON_GetArraySize(sources) > before)
				p->seen_kernel = 1;
		} else if (how == PICK_LIVE)
			through_chan(w, p, h, t, depth, sources, t == w->req->now, 0);
		else if (how == PICK_HISTORY && k.nrecent == 32)
			w->truncated = 1; /* more history than we follow */
		else if (how == PICK_HISTORY)
			recent[k.nrecent++] = *h;
	}
	/* a recently closed channel is judged by who held it then */
	for (int i = 0; i < k.nrecent; i++) {
		int before = cJSON_GetArraySize(sources);
		through_chan(w, p, &recent[i], recent[i].until - 1, depth, sources, 0, 1);
		if (recent[i].unreported && cJSON_GetArraySize(sources) > before)
			p->seen_kernel = 1;
	}
}

/* via: the channel p was reached through (NULL: through its creator, or p is
 * the subject). A path does not go back out through the channel it came in by:
 * two slaves of one pty reach each other only through the master, and a hub's
 * master end is not a way from one slave to another. */
/* A live process the walk reaches: its fd table compared with the kernel's,
 * once per walk (graph_proc_check_fds) — what it holds that no record named
 * (a raw syscall's accept, pidfd_getfd) is then followed, seen "kernel". The
 * answer may change with no record (kernel_asked: no push decides on it); a
 * read put off or cut short, or a walk past the bound, may miss a source. */
static void check_fds(struct walk *w, struct proc *p)
{
	if (!p->alive)
		return;
	for (size_t i = 0; i < w->nchecked; i++)
		if (w->checked[i] == p->serial)
			return;
	if (w->nchecked == sizeof(w->checked) / sizeof(w->checked[0])) {
		w->holders_incomplete = 1;
		return;
	}
	w->checked[w->nchecked++] = p->serial;
	int rc = graph_proc_check_fds(w->g, p, w->req->now, w->scan_deadline);
	if (rc > 0 && w->req->kernel_asked)
		(*w->req->kernel_asked)++;
	if (rc == -EAGAIN)
		w->holders_incomplete = 1;
}

static cJSON *origin_leaf(const char *host);

static cJSON *expand_sources(struct walk *w, struct proc *p, uint64_t t, enum role role,
			     int depth, const struct chan *via)
{
	graph_refresh(w->g, p, w->req->now);
	check_fds(w, p);
	walk_uid(w, p->uid);
	if (p->fds_stale || p->bound_refused)
		/* its fds not all read, or a claim of its refused over a bound:
		 * a source may be missing */
		w->holders_incomplete = 1;
	cJSON *sources = cJSON_CreateArray();
	if (!sources)
		return NULL;

	struct proc *c = graph_creator(w->g, p, w->req->now);
	if (c && !on_path(w, c) && !visited(w, c, p->birth_ts)) {
		cJSON *n = expand(w, c, p->birth_ts, ROLE_CREATOR, depth + 1, NULL);
		if (n)
			add_source(sources, "creator", NULL, n);
	}
	channel_sources(w, p, t, role, depth, via, sources);
	if (!c && role != ROLE_SUBJECT && cJSON_GetArraySize(sources) == 0 && graph_lineage_gap(p))
		/* its lineage cut: kept, as an origin of its own chain (marked
		 * incomplete: its "lineage" is "unknown") — not dropped as a
		 * process that leads nowhere */
		add_source(sources, "creator", NULL, origin_leaf(w->req->host));

	if (cJSON_GetArraySize(sources) == 0 && role != ROLE_SUBJECT) {
		cJSON_Delete(sources);
		return NULL;
	}
	cJSON *n = proc_node(w, p);
	if (!n) {
		cJSON_Delete(sources);
		return NULL;
	}
	cJSON_AddItemToObject(n, "sources", sources);
	return n;
}

/* ---- a local origin -------------------------------------------------------- */

static cJSON *origin_leaf(const char *host)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "origin");
	cJSON_AddStringToObject(o, "host", host);
	return o;
}

/* The subject reaches no other host: this host is the origin. The processes
 * that feed the subject directly — the client that connected to it over a
 * local TCP connection (an `ssh -L` forward, a socat relay), the process at
 * the other end of its unix socket, the writers of a pipe it reads (ssh's
 * ProxyJump child is fed by its parent through pipes) — are where the
 * connection comes from, so each is a local origin of its own chain (origin
 * first, then the subject). A pty is not followed: a terminal is where a user
 * sits, not a relay (the paper's rule — a local chain is the connecting
 * process alone — holds for a program run from a terminal). One level only. */
static void local_origin(struct walk *w, struct proc *subj, cJSON *sources)
{
	char id[64];
	struct proc *seen[16];
	int n = 0;
	/* the live holds, through the fd table: a busy process keeps hundreds of
	 * closed ones on its holds list (an fd shared by two numbers is seen
	 * twice; its feeders are taken once, below) */
	for (uint32_t f = 0; f < subj->nfds && n < 16; f++) {
		struct hold *mine = subj->fds[f].h;
		struct chan *c = mine ? mine->c : NULL, *end = NULL;
		if (!c || mine->until || c == w->req->exclude || c->failed || c->internal ||
		    c->kind == HT_CHAN_PTY)
			continue;
		if (c->kind == HT_CHAN_PIPE)
			end = c;
		else if (c->kind == HT_CHAN_SOCK && c->peer && !c->peer->internal)
			end = c->peer; /* unix peer, or the far socket of a local TCP connection */
		if (!end)
			continue;
		chan_label(c, id, sizeof(id));
		for (struct hold *h = end->holds; h && n < 16; h = h->cnext) {
			int dup = 0; /* one entry per process (a command's stdout and stderr) */
			for (int i = 0; i < n; i++)
				dup |= seen[i] == h->p;
			if (dup || h->p == subj || h->until || h->unconf || !h->p->alive || !feeds(mine, h) ||
			    (end != c && holds_at(h->p, c, w->req->now)) ||
			    !graph_verify_alive(w->g, h->p, w->req->now))
				continue;
			cJSON *node = proc_node(w, h->p);
			if (!node)
				continue;
			cJSON *ss = cJSON_AddArrayToObject(node, "sources");
			add_source(ss, "local", NULL, origin_leaf(w->req->host));
			add_source(sources, via_name(c), id, node);
			seen[n++] = h->p;
		}
	}
	if (!n)
		add_source(sources, "local", NULL, origin_leaf(w->req->host));
}

/* ---- flattening ------------------------------------------------------------ */

/* Works on the JSON alone (no graph), so an answer whose conn leaves were
 * filled with upstream answers — by another thread, after the graph was left —
 * can be flattened again. */
struct flat {
	const char *host, *src, *dst; /* this host; the subject's local and remote ends */
	cJSON *chains;
	cJSON *path[160];
	size_t depth;
	int truncated;
	int cut;      /* processes on the path whose lineage is "unknown" */
};

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

/* appends this host's path procs (origin first) to arr */
static int path_procs(struct flat *f, cJSON *arr)
{
	int fallback = 0;
	for (size_t i = f->depth; i-- > 0;) {
		cJSON *n = f->path[i];
		cJSON *o = cJSON_CreateObject();
		const char *seen = jstr(n, "seen");
		if (seen && (strcmp(seen, "kernel") == 0 || strcmp(seen, "kernel-events") == 0))
			fallback = 1; /* its channels from /proc: a snapshot */
		static const char *const keys[] = {"host", "pid", "exe", "sha256", "seen", "uid"};
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			const cJSON *v = cJSON_GetObjectItem(n, keys[k]);
			if (v)
				cJSON_AddItemToObject(o, keys[k], cJSON_Duplicate(v, 1));
		}
		cJSON_AddItemToArray(arr, o);
	}
	return fallback;
}

static void emit_att(struct flat *f, const char *origin_host, const char *src, int complete,
		     int fallback, cJSON *procs_before, int src_attested)
{
	cJSON *ch = cJSON_CreateObject();
	cJSON *procs = procs_before ? procs_before : cJSON_CreateArray();
	fallback |= path_procs(f, procs);
	cJSON_AddStringToObject(ch, "origin_host", origin_host);
	add_str_or_null(ch, "src", src);
	if (!src_attested)
		cJSON_AddBoolToObject(ch, "src_attested", 0);
	add_str_or_null(ch, "dst", f->dst);
	cJSON_AddBoolToObject(ch, "complete", complete && !f->truncated && !f->cut);
	cJSON_AddBoolToObject(ch, "fallback", fallback);
	cJSON_AddItemToObject(ch, "procs", procs);
	cJSON_AddItemToArray(f->chains, ch);
}

static void emit(struct flat *f, const char *origin_host, const char *src, int complete,
		 int fallback, cJSON *procs_before)
{
	emit_att(f, origin_host, src, complete, fallback, procs_before, 1);
}

static void emit_conn(struct flat *f, const cJSON *leaf)
{
	const cJSON *up = cJSON_GetObjectItem(leaf, "upstream");
	const cJSON *upchains = up ? cJSON_GetObjectItem(up, "chains") : NULL;
	const char *remote = jstr(leaf, "remote");
	if (cJSON_IsArray(upchains) && cJSON_GetArraySize(upchains) > 0) {
		/* the far host's chains, continued by this host's path */
		const cJSON *u;
		cJSON_ArrayForEach(u, upchains)
		{
			const cJSON *uc = cJSON_GetObjectItem(u, "complete");
			const cJSON *uf = cJSON_GetObjectItem(u, "fallback");
			const cJSON *up_procs = cJSON_GetObjectItem(u, "procs");
			const char *oh = jstr(u, "origin_host");
			cJSON *procs = cJSON_IsArray(up_procs) ? cJSON_Duplicate(up_procs, 1)
							       : cJSON_CreateArray();
			emit(f, oh ? oh : "?", jstr(u, "src"), cJSON_IsTrue(uc), cJSON_IsTrue(uf), procs);
		}
		return;
	}
	/* not followed (or no answer): the far end is the origin as far as we know */
	char host[80];
	snprintf(host, sizeof(host), "%s", remote ? remote : "?");
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = 0;
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		if (host[0])
			host[strlen(host) - 1] = 0;
	}
	/* an address no kernel view confirmed (a short-lived socket, or a
	 * record naming another user's 4-tuple): shown, incomplete, and marked
	 * "src_attested": false — no rule's source matches it (policy/acl.c) */
	int attested = !cJSON_IsFalse(cJSON_GetObjectItem(leaf, "attested"));
	emit_att(f, host, remote, 0, 0, NULL, attested);
}

static void flatten(struct flat *f, cJSON *node)
{
	const char *type = jstr(node, "type");
	if (!type)
		return;
	if (strcmp(type, "conn") == 0) {
		emit_conn(f, node);
		return;
	}
	if (strcmp(type, "origin") == 0) {
		emit(f, jstr(node, "host") ? jstr(node, "host") : f->host, f->src, 1, 0, NULL);
		return;
	}
	if (strcmp(type, "proc") != 0 || f->depth >= sizeof(f->path) / sizeof(f->path[0]))
		return;
	f->path[f->depth++] = node;
	const char *lin = jstr(node, "lineage");
	int cut = lin && strcmp(lin, "unknown") == 0;
	f->cut += cut;
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(node, "sources"))
		flatten(f, cJSON_GetObjectItem(s, "node"));
	f->cut -= cut;
	f->depth--;
}

int chain_reflatten(cJSON *answer)
{
	const cJSON *subj = cJSON_GetObjectItem(answer, "subject");
	cJSON *tree = cJSON_GetObjectItem(answer, "tree");
	if (!cJSON_IsObject(tree))
		return -1;
	struct flat f = {.host = jstr(answer, "host"), .src = jstr(subj, "local"),
			 .dst = jstr(subj, "remote"),
			 .truncated = cJSON_IsTrue(cJSON_GetObjectItem(answer, "truncated")) ||
				      cJSON_IsTrue(cJSON_GetObjectItem(answer, "holders_incomplete"))};
	if (!f.host)
		f.host = "?";
	f.chains = cJSON_CreateArray();
	if (!f.chains)
		return -1;
	flatten(&f, tree);
	if (cJSON_GetObjectItem(answer, "chains"))
		cJSON_ReplaceItemInObject(answer, "chains", f.chains);
	else
		cJSON_AddItemToObject(answer, "chains", f.chains);
	return 0;
}

/* live: p is reached as the walk reaches it now (the subject, a holder of
 * what such a process holds) — not as a creator, judged at a birth */
static int reach_add(struct proc **q, uint8_t *live, size_t *n, size_t cap, struct proc *p,
		     int is_live)
{
	if (!p || !p->alive)
		return 0;
	for (size_t i = 0; i < *n; i++)
		if (q[i] == p) {
			live[i] |= (uint8_t)is_live;
			return 0;
		}
	if (*n == cap)
		return 1;
	live[*n] = (uint8_t)is_live;
	q[(*n)++] = p;
	return 0;
}

struct unk_ctx {
	struct graph *g;
	const struct chan *c;
	int unknown;
};

static int unk_cb(void *vctx, pid_t pid, int fd)
{
	struct unk_ctx *x = vctx;
	(void)fd;
	if (pid == getpid() || known_holder(x->g, pid, x->c))
		return 0;
	x->unknown = 1; /* a holder the push's walk did not know */
	return 1;
}

/* The push's walk searched the holders of the pipes its processes read
 * (fifo_holders) and of their unix sockets' peer ends (peer_holders) and
 * knew them all: so must the kernel now. 1 when a holder
 * the graph does not know holds pipe c, or that could not be told (the
 * search cut short, or past the searches a walk makes). */
static int pipe_holders_differ(struct graph *g, struct proc *p, const struct hold *mine,
			       uint64_t cpu_deadline, uint64_t wall, const struct chan **done,
			       size_t *ndone)
{
	const struct chan *c = mine->c;
	uid_t owner = p->uid;
	if (!graph_conf(g)->use_procfs)
		return 0;
	if (c->kind == HT_CHAN_SOCK && c->peer && c->peer->holds && !is_tcp(c) && !c->peer->internal) {
		/* a unix socket's peer end, as the walk's peer_holders */
		c = c->peer;
		owner = (uid_t)-1; /* (every uid: no sock_diag asked here) */
		if (!held_beyond_root(c))
			return 0;
	} else if (c->kind != HT_CHAN_PIPE || (mine->ends && !(mine->ends & HE_R)))
		return 0;
	for (size_t i = 0; i < *ndone; i++)
		if (done[i] == c)
			return 0;
	if (*ndone == 4)
		return 1; /* (a walk's 4 searches: it would say holders_incomplete) */
	done[(*ndone)++] = c;
	struct unk_ctx x = {g, c, 0};
	struct procfs_scan s = {.owner = owner, .cpu_deadline_ns = cpu_deadline,
				.deadline_ns = wall};
	if (c->kind == HT_CHAN_PIPE)
		graph_scan_pipe_holders(g, c->dev, c->ino, &s, unk_cb, &x);
	else
		graph_scan_holders(g, c->ino, &s, unk_cb, &x);
	return x.unknown || s.incomplete;
}

int chain_check_reach(struct graph *g, struct proc *subject, uint64_t now, uint64_t cpu_deadline)
{
	struct proc *q[64];
	uint8_t live[64];
	const struct chan *searched[4];
	size_t n = 0, nsearched = 0;
	int differs = 0;
	/* the pipes' searches, all of them, on the clock: a fifth of a walk's
	 * (a search cut short only costs the push: the full walk searches) */
	uint64_t wall = procfs_mono_ns() + GRAPH_SCAN_WALL_NS / 5;
	uid_t uids[8];
	size_t nuids = 0;
	int any = 0;
	reach_add(q, live, &n, 64, subject, 1);
	for (size_t i = 0; i < n; i++) {
		struct proc *p = q[i];
		if (p->uid != 0 && p->uid != (uid_t)-1) {
			size_t u = 0;
			while (u < nuids && uids[u] != p->uid)
				u++;
			if (u == nuids && nuids < 8)
				uids[nuids++] = p->uid;
			else if (u == nuids)
				any = 1;
		}
		int rc = graph_proc_check_fds(g, p, now, cpu_deadline);
		if (rc > 0 || rc == -EAGAIN)
			differs = 1;
		differs |= reach_add(q, live, &n, 64, p->creator, 0);
		for (uint32_t f = 0; f < p->nfds; f++) {
			struct hold *mine = p->fds[f].h;
			struct chan *ends[2] = {mine ? mine->c : NULL, mine ? mine->c->peer : NULL};
			if (!ends[0] || mine->until || ends[0]->internal || (ends[1] && ends[1]->internal))
				continue;
			if (!differs && live[i])
				/* (a creator's pipes the walk judged at a birth: not searched) */
				differs = pipe_holders_differ(g, p, mine, cpu_deadline, wall,
							      searched, &nsearched);
			for (int e = 0; e < 2; e++)
				for (struct hold *h = ends[e] ? ends[e]->holds : NULL; h; h = h->cnext)
					if (!h->until && h->p != p)
						/* (live as the walk expands it: one that
						 * may feed p through the channel) */
						differs |= reach_add(q, live, &n, 64, h->p,
								     live[i] && feeds(mine, h));
			if (mine->c->kind == HT_CHAN_PIPE && mine->c->fifo)
				any = 1;
		}
	}
	/* the push's walk found no dark connection of its users (dark_check):
	 * nor may the kernel's events now — any, and the full walk says */
	struct graph_dark why;
	int dark = !differs && (nuids || any)
			   ? graph_kev_dark(g, now > graph_conf(g)->window_ns
						       ? now - graph_conf(g)->window_ns : 0,
					    uids, nuids, any, subject->pid, NULL, NULL, &why)
			   : 0;
	if (dark > 0 || (dark < 0 && graph_conf(g)->use_procfs)) {
		log_debug("push of pid %d: not confirmed: %s", (int)subject->pid,
			  dark > 0 ? "a connection no record names" : "no kernel events");
		differs = 1;
	}
	return differs;
}

static int leaf_ino(void *ctx, uint64_t ino)
{
	const struct walk *w = ctx;
	for (size_t i = 0; i < w->nleaves; i++)
		if (w->leaves[i]->kind == HT_CHAN_SOCK && w->leaves[i]->ino == ino)
			return 1;
	return 0;
}

/* Dark connections. A channel end a user's process holds can reach another
 * process of that user with no record and nothing the kernel shows at the
 * SYN — a pidfd_getfd or raw SCM_RIGHTS copy, /proc/PID/fd/N, a FIFO opened
 * by its path, a raw accept — and be let go of before it (an unshimmed H
 * that wrote B's orders into D's end of S's unix socket, or into S's FIFO,
 * and closed it: tests/func/attack_review_rawfd_unixpeer.sh,
 * attack_review_rawfd_past.sh). No walk can find such a holder; what the
 * kernel does attest is where outside data can come from: each TCP
 * connection with another host, held (its events) by a process the shim
 * describes (its records name it: followed by the walks) or not. So a walk
 * that expanded a process of uid U (not root: root is trusted) says
 * holders_incomplete while a process of U holds, or let go of within the
 * window, a connection with another host that no record names and the walk
 * did not reach — anyone's for a FIFO the walk read. With the kernel events
 * off (or events lost within the window) the kernel's TCP table says what
 * is open now, and nothing what was let go of: holders_incomplete when the
 * walk followed a pipe, FIFO or unix socket, or a process of U held a
 * listening socket (a raw accept and close is then invisible) — and, with
 * the events on, for every walk when events were lost within the window
 * that its users' processes may have made: everyone's (the ring full), or
 * one of its users' rationed events (kev.bpf.c uid_take; graph_kev_lost_for).
 * A user who floods makes only its own walks fail closed. */
static void dark_check(struct walk *w, uint64_t at)
{
	if (!w->nuids && !w->any_uid)
		return;
	uint64_t from = at > w->window ? at - w->window : 0;
	int rc = graph_kev_dark(w->g, from, w->uids, w->nuids, w->any_uid,
				 w->req->subject->pid, leaf_ino, w, &w->dark);
	/* none by the kernel's events: a push may decide on it, as the who that
	 * confirms it asks again (chain_check_reach); else it may change with
	 * no record */
	if (w->req->kernel_asked && (rc > 0 || (rc < 0 && graph_conf(w->g)->use_procfs)))
		(*w->req->kernel_asked)++;
	/* (-1 with the events on: lost lately, anyone's or a user's of the walk
	 * — a connection let go of may be missing, whatever the walk followed:
	 * an unprivileged user can make events be lost at will) */
	int lost = rc < 0 && graph_kev_lost_for(w->g, from, w->uids, w->nuids, w->any_uid);
	if (rc > 0 || (rc < 0 && (w->read_local || w->held_listener || lost))) {
		w->holders_incomplete = w->unattested =
			rc > 0 ? 1 : (w->read_local || w->held_listener) ? 2 : 3;
		if (rc > 0)
			log_debug("chain of pid %d: holders_incomplete: uid %d's connection "
				  "(socket %llu, pid %d) no record names", (int)w->req->subject->pid,
				  w->dark.uid == (uid_t)-1 ? -1 : (int)w->dark.uid,
				  (unsigned long long)w->dark.ino, (int)w->dark.pid);
		else
			log_debug("chain of pid %d: holders_incomplete: no kernel events%s",
				  (int)w->req->subject->pid, lost ? ", events lost" :
				  w->read_local ? ", a local channel" : ", a listener");
	}
}

/* "holders_unattested" (dark_check): what made it so */
static void add_unattested(const struct walk *w, cJSON *ans)
{
	cJSON *u = cJSON_AddObjectToObject(ans, "holders_unattested");
	if (!u)
		return;
	if (w->unattested == 3) {
		cJSON_AddStringToObject(u, "why", "kernel events lost");
		return;
	}
	if (w->unattested == 2) {
		cJSON_AddStringToObject(u, "why", w->held_listener && !w->read_local
							  ? "listener, no kernel events"
							  : "local channel, no kernel events");
		return;
	}
	char buf[80];
	struct ht_addr a;
	gaddr_get(&a, &w->dark.remote);
	cJSON_AddStringToObject(u, "why", "connection no record names");
	cJSON_AddNumberToObject(u, "uid", w->dark.uid == (uid_t)-1 ? -1 : (double)w->dark.uid);
	if (w->dark.pid)
		cJSON_AddNumberToObject(u, "pid", w->dark.pid);
	cJSON_AddStringToObject(u, "remote", ht_addr_str(&a, buf, sizeof(buf)));
}

cJSON *chain_compute(struct graph *g, const struct chain_req *req)
{
	struct walk w = {.g = g, .req = req, .window = graph_conf(g)->window_ns,
			 .max_nodes = req->max_nodes ? req->max_nodes : 512,
			 .scan_deadline = req->scan_deadline_ns};
	if (!w.scan_deadline)
		w.scan_deadline = procfs_cpu_ns() + GRAPH_SCAN_BUDGET_NS;
	w.scan_wall = procfs_mono_ns() + GRAPH_SCAN_WALL_NS;
	char buf[160];
	cJSON *ans = cJSON_CreateObject();
	if (!ans)
		return NULL;
	cJSON_AddBoolToObject(ans, "ok", 1);
	cJSON_AddStringToObject(ans, "host", req->host);
	cJSON *subj = cJSON_AddObjectToObject(ans, "subject");
	cJSON_AddNumberToObject(subj, "pid", req->subject->pid);
	if (req->syn_local)
		cJSON_AddStringToObject(subj, "local", ht_addr_str(req->syn_local, buf, sizeof(buf)));
	if (req->syn_remote)
		cJSON_AddStringToObject(subj, "remote", ht_addr_str(req->syn_remote, buf, sizeof(buf)));

	/* as of a past instant (a closed connection's holder): the walk reads
	 * only what the graph remembers of then (t != now: no live checks) */
	uint64_t at = req->at && req->at < req->now ? req->at : req->now;
	visited(&w, req->subject, at);
	/* the walk keeps pointers to holds and processes across /proc reads:
	 * nothing of the graph is freed until it is done */
	graph_hold(g);
	cJSON *tree = expand(&w, req->subject, at, ROLE_SUBJECT, 0, NULL);
	if (tree) {
		cJSON *sources = cJSON_GetObjectItem(tree, "sources");
		if (cJSON_GetArraySize(sources) == 0)
			local_origin(&w, req->subject, sources);
	}
	if (tree)
		dark_check(&w, at);
	graph_release(g);
	if (!tree) {
		cJSON_Delete(ans);
		free(w.vis);
		free(w.leaves);
		free(w.vix);
		free(w.lix);
		free(w.tcp);
		return NULL;
	}
	cJSON_AddItemToObject(ans, "tree", tree);
	if (w.truncated)
		cJSON_AddBoolToObject(ans, "truncated", 1);
	if (w.holders_incomplete)
		/* a /proc search for a socket's holders ran out of its budget:
		 * a feeder may be missing (docs/chain-model.md "Kernel fallback") */
		cJSON_AddBoolToObject(ans, "holders_incomplete", 1);
	if (w.unattested)
		add_unattested(&w, ans); /* why: dark_check */

	chain_reflatten(ans);
	free(w.vis);
	free(w.leaves);
	free(w.vix);
	free(w.lix);
	free(w.tcp);
	return ans;
}
