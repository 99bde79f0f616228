/*
 * graph_sock.c — what the kernel says about sockets, through netlink
 * sock_diag (include/hoptrace/sockdiag.h): sockets first seen in /proc are
 * probed while they exist (graph_probe_pending: unix peers by exact lookup,
 * TCP ends in one dump at most every GRAPH_PROBE_GAP_NS); and the socket
 * claims of records (graph_apply.c) are checked here: the listener an ACCEPT
 * names, an ACCEPT's 4-tuple, the peer of a unix socket, a CONNFAIL.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "graph_int.h"
#include "hoptrace/sockdiag.h"

/* ---- the sock_diag socket -------------------------------------------------- */

int graph_nl(struct graph *g)
{
	if (g->nl < 0)
		g->nl = sd_open();
	return g->nl;
}

/* ---- sockets first seen in /proc ------------------------------------------- */

/* Sockets first seen in /proc (inherited from a process no record names: an
 * unshimmed listener's accepted connection) are asked about while they are
 * open: once closed, the kernel can no longer say it was a TCP connection, and
 * a creator lineage judged after the session ended would reach an unknown
 * socket. They are queued here and probed in one sock_diag dump per round
 * (graph_probe_pending, called by the collector's loop), not one per socket. */
void pend_socket(struct graph *g, const struct ht_chan *k)
{
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, k->ino);
	if (!c || c->probed || c->tcp_probed || c->remote.family != 0 || c->has_local ||
	    g->npending >= PENDING_MAX)
		return;
	c->tcp_probed = 1; /* queued */
	g->pending[g->npending++] = c;
}

void pend_connect(struct graph *g, struct chan *c)
{
	if (c->has_local || c->tcp_probed || g->npending >= PENDING_MAX)
		return;
	c->tcp_probed = 1; /* queued (chan_free unlists it) */
	g->pending[g->npending++] = c;
	g->st.local_probed++;
}

/* A chain walk found unix socket c connected to a peer not accepted yet
 * (sock_diag -EAGAIN): it is asked again each round (graph_probe_pending),
 * at most GRAPH_PEER_WAIT_ROUNDS times. */
void graph_peer_wait(struct graph *g, struct chan *c)
{
	c->remote.family = AF_UNIX;
	if (c->peer_wait)
		return; /* queued already, or its rounds are over */
	c->peer_wait = 1;
	if (g->npending < PENDING_MAX) {
		c->tcp_probed = 1; /* queued (chan_free unlists it) */
		g->pending[g->npending++] = c;
	}
}

struct probe_ctx {
	struct graph *g;
	struct { uint16_t family, port; } listen[256];
	size_t nlisten;
	size_t changed;
};

static int probe_listen_cb(void *vctx, const struct sd_inet *s)
{
	struct probe_ctx *x = vctx;
	if (s->state != 10 /* TCP_LISTEN */)
		return 0;
	/* shared by a forking server's children: no data between them */
	struct chan *c = graph_chan(x->g, HT_CHAN_SOCK, 0, s->ino);
	if (c && !c->dir) {
		c->dir = 'l';
		x->changed++;
	}
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
		x->changed++;
		/* accepted if its local port is one this host listens on (a
		 * CONNECT's socket knows it connected) — a guess: an accepted
		 * socket whose listener has closed looks connected, so an 'o' no
		 * record or connect event said is marked so (chain.c never_source) */
		uint8_t dir = 'o';
		for (size_t l = 0; l < x->nlisten; l++)
			if (x->listen[l].port == s->lport)
				dir = 'i';
		if (!c->dir) {
			c->dir = dir;
			c->dir_guess = dir == 'o';
		}
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

/* A TCP socket the kernel's connect events (graph_kev.c) name: its remote is
 * the kernel's, and its local end too once it was ESTABLISHED; before, the
 * ESTABLISHED event gives it (tcp_ends_to_graph) — so no sock_diag dump for
 * it. A dump walks the whole established hash, TIME_WAIT entries included
 * (ms on a host that makes many connections), and every query's drain and
 * walk asked for one while the SYNs the guard holds were in SYN_SENT.
 * Returns 1 when the events name it (without them, or with the event lost:
 * 0, and the caller dumps). */
int graph_sock_ends_kev(struct graph *g, struct chan *c)
{
	struct gaddr kl, kr;
	if (c->kind != HT_CHAN_SOCK || graph_kev_tcp_conn(g, c->ino, &kl, &kr) != 0)
		return 0;
	if (c->addr_claimed && c->remote.family &&
	    (kr.family != c->remote.family || kr.port != c->remote.port || memcmp(kr.a, c->remote.a, kr.len)))
		g->st.addr_corrected++;
	c->remote = kr;
	c->addr_claimed = 0;
	if (kl.port) {
		c->local = kl;
		c->has_local = 1;
	}
	if (!c->dir || c->dir_guess) {
		c->dir = 'o'; /* the kernel's connect event: connected */
		c->dir_guess = 0;
	}
	c->probed = 1;
	g->st.local_kev++;
	if (c->has_local)
		graph_link_local_tcp(g, c);
	return 1;
}

void graph_probe_pending(struct graph *g, int force)
{
	if (!g->npending)
		return;
	if (graph_nl(g) < 0) {
		g->npending = g->pending_checked = 0;
		return;
	}
	/* unix sockets first: an exact lookup by inode each (the entries before
	 * pending_checked were looked up in an earlier round: TCP candidates;
	 * those waiting for their peer's accept are asked each round) */
	size_t left = 0, waiting = 0, other = 0;
	for (size_t i = 0; i < g->npending; i++) {
		struct chan *c = g->pending[i];
		uint64_t peer = 0;
		if (!c)
			continue;
		if (c->remote.family == AF_INET || c->remote.family == AF_INET6) {
			/* TCP (a CONNECT record, or a query linked it): the dump
			 * still gives its local end if nobody did yet, and the
			 * kernel's addresses for what a record claimed */
			if ((!c->has_local || c->addr_claimed) && !graph_sock_ends_kev(g, c))
				g->pending[left++] = c;
			continue;
		}
		if (c->probed && c->remote.family == AF_UNIX)
			continue; /* a walk asked meanwhile (chain.c sock_complete) */
		if (i < g->pending_checked && !c->peer_wait) {
			g->pending[left++] = c;
			other++;
			continue;
		}
		int rc = sd_unix_peer(g->nl, c->ino, &peer);
		if (rc == -EAGAIN) {
			/* connected, its peer not accepted yet (a shim's record
			 * connection the collector has not accepted): not "no
			 * peer" — that would make the siblings sharing it (a
			 * forking server's children) each other's sources */
			c->remote.family = AF_UNIX;
			if (c->peer_wait < 255)
				c->peer_wait++;
			if (c->peer_wait < GRAPH_PEER_WAIT_ROUNDS) {
				g->pending[left++] = c;
				waiting++;
			}
			continue;
		}
		if (rc != 0 && rc != -ENOTCONN) {
			g->pending[left++] = c; /* not a unix socket (or no answer): TCP? */
			other++;
			continue;
		}
		c->remote.family = AF_UNIX;
		c->probed = 1;
		c->peer_wait = 0;
		g->changes++;
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
	if (left == waiting)
		return; /* (the waiting ones: no TCP dump for them) */
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	/* With the kernel's connect events, a connecting socket's ends come by
	 * its ESTABLISHED event (tcp_ends_to_graph): a dump only for what the
	 * events missed (a lost event), unforced and at most every
	 * GRAPH_PROBE_GAP_KEV_NS — a dump walks the kernel's whole established
	 * hash, TIME_WAIT included, and every query's drain forced one. A
	 * socket first seen in /proc that may be TCP (not a unix one: `other`)
	 * still forces one — not one the unix lookup above answered (in the
	 * guard bench's sequential row a unix socket answered here forced a
	 * dump of the whole table before one push in ten) */
	uint64_t gap = GRAPH_PROBE_GAP_NS;
	if (g->kev_on && !other) {
		force = 0;
		gap = GRAPH_PROBE_GAP_KEV_NS;
	}
	if (!force && now < g->last_dump + gap && left < PENDING_MAX / 2)
		return; /* kept for the next round (chan_free unlists a freed one) */
	g->last_dump = now;
	struct probe_ctx x = {.g = g};
	sd_inet_dump(g->nl, 0, 1u << 10, probe_listen_cb, &x);
	sd_inet_dump(g->nl, 0, ~((1u << 6) | (1u << 10)) & 0xfff, probe_cb, &x);
	/* a change only when the dump said something (an outstanding push
	 * stays valid across a dump that found none of the waiting sockets) */
	if (x.changed)
		g->changes++;
	/* found or not (UDP, netlink): done — but for the unix sockets that
	 * wait for their peer (asked again next round) */
	size_t keep = 0;
	for (size_t i = 0; i < g->npending; i++)
		if (g->pending[i] && g->pending[i]->peer_wait && g->pending[i]->remote.family == AF_UNIX)
			g->pending[keep++] = g->pending[i];
	g->npending = keep;
	g->pending_checked = 0;
}

/* ---- the socket claims of records (graph_apply.c) -------------------------- */

/* The socket a listening socket's ACCEPT names: marked listening only when
 * the kernel says it is one (a forged one would cut a connection's chain):
 * TCP by an exact lookup of the listener on the accepted socket's local
 * address, unix by having no peer; without a kernel to ask, when the sender
 * holds it. */
int kernel_listener(struct graph *g, struct proc *p, const struct ht_record *r,
		    struct chan *lc)
{
	if (!checking(g))
		return 1;
	if (!g->conf.use_procfs)
		return oh_find(g, p, lc) != NULL;
	if (graph_nl(g) < 0)
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
int kernel_conn_failed(struct graph *g, struct proc *p, const struct ht_record *r,
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
		struct sd_inet si;
		return graph_nl(g) >= 0 && sd_inet_lookup(g->nl, c->remote.family, c->local.a, c->local.port,
						    c->remote.a, c->remote.port, &si) == -ENOENT;
	}
	if (!g->conf.use_procfs)
		return 1; /* a fake kernel's fd view only */
	if (graph_nl(g) < 0)
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

/* A socketpair one of whose ends is gone already: the kernel pairs the other
 * with it (an exact lookup of ino's unix peer). */
int kernel_unix_peer_is(struct graph *g, uint64_t ino, uint64_t peer)
{
	uint64_t k = 0;
	return graph_nl(g) >= 0 && sd_unix_peer(g->nl, ino, &k) == 0 && k == peer;
}

/* An accepted unix socket is paired with its connecting end now, while both
 * exist: the kernel knows the peer inode. */
void kernel_unix_link(struct graph *g, struct chan *c, uint64_t ts)
{
	uint64_t peer;
	if (graph_nl(g) < 0 || sd_unix_peer(g->nl, c->ino, &peer) != 0)
		return;
	struct ht_chan k = {HT_CHAN_SOCK, 0, peer};
	struct chan *pc = chan_get(g, &k, ts);
	if (pc) {
		chan_link_peers(c, pc);
		pc->remote.family = AF_UNIX;
	}
}

/* Just accepted, so still there: the kernel's exact lookup of the 4-tuple
 * an ACCEPT claims must find the accepted socket c. */
int kernel_accept_attests(struct graph *g, const struct ht_record *r, const struct chan *c)
{
	struct sd_inet si;
	if (graph_nl(g) < 0)
		return -1;
	return r->addr.family == r->addr2.family &&
	       sd_inet_lookup(g->nl, r->addr.family, r->addr.a, r->addr.port, r->addr2.a,
			      r->addr2.port, &si) == 0 && si.ino == c->ino;
}

/* ---- local TCP connections: the two ends ----------------------------------- */

static int gaddr_same(const struct gaddr *a, const struct gaddr *b)
{
	return a->family == b->family && a->port == b->port && a->len == b->len &&
	       !memcmp(a->a, b->a, a->len);
}

void graph_link_local_tcp(struct graph *g, struct chan *c)
{
	if (!c || c->kind != HT_CHAN_SOCK || c->peer || !c->has_local || c->addr_claimed ||
	    (c->remote.family != AF_INET && c->remote.family != AF_INET6) || !c->remote.port ||
	    !c->local.port || c->dir == 'l' || sd_is_local_addr(c->remote.family, c->remote.a) != 1)
		return;
	uint64_t ino = 0;
	struct sd_inet far;
	/* the socket itself, while it exists (an orphan, closed by its
	 * holders, has inode 0: its connect events may still name it) */
	if (g->conf.use_procfs && graph_nl(g) >= 0 &&
	    sd_inet_lookup(g->nl, c->remote.family, c->remote.a, c->remote.port, c->local.a,
			   c->local.port, &far) == 0 && far.state != 10 /* TCP_LISTEN */ &&
	    far.rport == c->local.port)
		ino = far.ino;
	/* (the events name connecting sockets only: the far end of an accepted
	 * one; a connecting socket's far end is an accepted one, never there) */
	int from_hist = 0;
	if (!ino && c->dir != 'o')
		ino = graph_kev_tcp_find(g, &c->remote, &c->local);
	if (!ino && c->dir != 'o') {
		/* the events' slot taken since (by any connect() whose socket's
		 * inode falls in it: a local user aims one at its own closed
		 * client's, attack_review_hist_evict): the graph's own closed
		 * connections by the kernel's 4-tuple (graph_hist.c), the newest */
		struct ht_addr l, r;
		struct graph_closed e;
		gaddr_get(&l, &c->remote);
		gaddr_get(&r, &c->local);
		if (graph_hist_find(g, &l, &r, UINT64_MAX, 0, &e) >= 0 && e.dir == 'o') {
			ino = e.ino;
			from_hist = 1;
		}
	}
	if (!ino || ino == c->ino)
		return;
	struct chan *f = graph_chan(g, HT_CHAN_SOCK, 0, ino);
	if (!f || f->kind != HT_CHAN_SOCK || (f->peer && f->peer != c))
		return;
	/* (an inode used again since by another socket: its ends must be the
	 * connection's) */
	if (from_hist && (!f->has_local || f->addr_claimed || !gaddr_same(&f->local, &c->remote) ||
			  !gaddr_same(&f->remote, &c->local)))
		return;
	/* the other end's 4-tuple, when it has none of the kernel's yet */
	if (!f->has_local || f->addr_claimed || !f->remote.family) {
		f->local = c->remote;
		f->remote = c->local;
		f->has_local = 1;
		f->addr_claimed = 0;
	}
	chan_link_peers(c, f);
	g->st.local_tcp_linked++;
}
