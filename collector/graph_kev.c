/*
 * graph_kev.c — what the kernel event source (collector/kev.c) tells the
 * graph: each process's creator and start from its fork event, its image
 * (device, inode, path) from its exec event, its end from its exit event
 * (docs/chain-model.md "What each source sees"). While the source is on these
 * are authoritative: a BIRTH naming another creator than the fork event's,
 * or an IMAGE of a process the kernel saw fork and never exec, is refused
 * (graph_apply.c asks kev_lineage).
 *
 * A direct-mapped table by pid (KLIN_N slots): a slot keeps the newest
 * process of its pids; an older one it lost is simply not known, and its
 * records are checked as without the source. Events are read before records
 * (records.c drains the ring first), and the kernel reports a fork before
 * the child runs: a child's BIRTH finds its fork event.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph_int.h"

#define KLIN_N 65536

struct klin {
	pid_t pid, creator;     /* creator 0: no fork event (known from exec only) */
	uint64_t start;         /* /proc starttime (clock ticks) from the fork event */
	uint64_t fork_ts, exec_ts, exit_ts;
	uint64_t dev, ino;      /* the last exec's executable */
	uint8_t have_exec, ended;
};

/* An outgoing TCP connection the kernel saw a process make, by its socket's
 * inode (direct-mapped, KTCP_N slots): followed until its owner closes it,
 * and its 4-tuple kept after (closed) until the slot is taken — a CONNECT
 * applied after its socket was gone still gets the kernel's ends, and the
 * accepted end of a local connection finds it (graph_link_local_tcp) */
#define KTCP_N 4096
struct ktcp {
	uint64_t ino, since;
	pid_t pid;
	uint8_t closed;
	struct gaddr local, remote;
};

struct kevtab {
	struct klin slot[KLIN_N];
	struct ktcp tcp[KTCP_N];
	/* tcp's slots by 4-tuple (index + 1, 0 empty; direct-mapped, the newest
	 * wins): graph_kev_tcp_find without a scan, mostly */
	uint16_t by_tuple[KTCP_N];
	int lossy;              /* the ring lost events: absence proves nothing */
};

static struct kevtab *tab(struct graph *g)
{
	if (!g->kev) {
		g->kev = calloc(1, sizeof(*g->kev));
		if (g->kev)
			g->st.bytes += sizeof(*g->kev);
	}
	return g->kev;
}

void graph_kev_on(struct graph *g, int on)
{
	g->kev_on = on;
	if (on)
		tab(g);
}

void graph_kev_lossy(struct graph *g)
{
	if (g->kev)
		g->kev->lossy = 1;
}

static uint64_t ticks_of(uint64_t ns)
{
	static long hz;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return ns / (1000000000ULL / (uint64_t)hz);
}

void graph_kev_fork(struct graph *g, pid_t child, pid_t creator, uint64_t start_ns, uint64_t ts)
{
	struct kevtab *t = tab(g);
	if (!t || child <= 0)
		return;
	struct klin *k = &t->slot[(uint32_t)child % KLIN_N];
	memset(k, 0, sizeof(*k));
	k->pid = child;
	k->creator = creator;
	k->start = ticks_of(start_ns);
	k->fork_ts = ts;
	g->st.kev_forks++;
}

void graph_kev_exec(struct graph *g, pid_t pid, uint64_t dev, uint64_t ino, uint64_t ts)
{
	struct kevtab *t = tab(g);
	if (!t || pid <= 0)
		return;
	struct klin *k = &t->slot[(uint32_t)pid % KLIN_N];
	if (k->pid != pid || k->ended) { /* a process from before: its exec only */
		memset(k, 0, sizeof(*k));
		k->pid = pid;
	}
	k->have_exec = 1;
	k->dev = dev;
	k->ino = ino;
	k->exec_ts = ts;
}

void graph_kev_exit(struct graph *g, pid_t pid, uint64_t ts)
{
	struct klin *k = g->kev ? &g->kev->slot[(uint32_t)pid % KLIN_N] : NULL;
	if (k && k->pid == pid && !k->ended) {
		k->ended = 1;
		k->exit_ts = ts;
	}
}

/* The kernel's events about pid's current process (its start matches the
 * kernel's, or it is gone and cannot be told), NULL when none. */
static const struct klin *current(struct graph *g, pid_t pid)
{
	struct graph_kproc kp;
	if (!g->kev_on || !g->kev || pid <= 0)
		return NULL;
	const struct klin *k = &g->kev->slot[(uint32_t)pid % KLIN_N];
	if (k->pid != pid)
		return NULL;
	if (k->creator && kernel_proc(g, pid, &kp) == 0 && kp.start && kp.start != k->start)
		return NULL; /* another process now has the pid */
	return k;
}

int kev_lineage(struct graph *g, pid_t pid, struct kev_lineage *out)
{
	const struct klin *k = current(g, pid);
	if (!k)
		return -1;
	out->creator = k->creator;
	out->start = k->start;
	out->fork_ts = k->fork_ts;
	out->exec_known = k->have_exec;
	out->exec_missing = k->creator && !k->have_exec && !g->kev->lossy;
	out->dev = k->dev;
	out->ino = k->ino;
	out->exec_ts = k->exec_ts;
	return 0;
}

/* Ends every open hold on c at ts (their fd entries go); returns whether p
 * had a hold on c (open or closed). */
static int close_all(struct graph *g, struct chan *c, const struct proc *p, uint64_t ts)
{
	int had = 0;
	for (struct hold *h = c->holds, *next; h; h = next) {
		next = h->cnext;
		had |= h->p == p;
		if (h->until)
			continue;
		struct proc *q = h->p;
		for (uint32_t i = q->nfds; i-- > 0;)
			if (i < q->nfds && q->fds[i].h == h)
				fd_unset(g, q, q->fds[i].fd, ts);
		if (!h->until && !h->nfds)
			hold_close(g, h, ts);
	}
	return had;
}

static void gaddr_of(struct gaddr *a, int family, const uint8_t *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = (uint16_t)family;
	a->port = port;
	a->len = family == AF_INET6 ? 16 : 4;
	memcpy(a->a, ip, a->len);
}

/* The connection's owner let go of it (or it failed): a process the shim
 * does not cover gets the hold the kernel saw, [connect, close) — history
 * a later /proc read could not show (a program that reads its orders and
 * closes, then connects elsewhere: chain model rule 2). */
static void tcp_closed(struct graph *g, const struct ktcp *t, uint64_t ts, int failed, uint64_t now)
{
	struct proc *p = live_proc(g, t->pid);
	if (!p && g->conf.use_procfs)
		p = graph_proc_kernel(g, t->pid, now);
	/* not the shim's: found in /proc, or exec'd and announced no image (a
	 * static binary after a shimmed shell's exec: its EXEC record may not
	 * even be applied yet — the kernel's exec event after its last IMAGE
	 * says it). A shimmed image whose IMAGE waits in its socket gets the
	 * hold too: true, and its CONNECT adds nothing a chain shows twice. */
	struct kev_lineage kl;
	int unannounced = kev_lineage(g, t->pid, &kl) == 0 && kl.exec_known && p &&
			  kl.exec_ts > p->exec_ts;
	if (!p || (!p->seen_kernel && !p->exec_pending && !unannounced) || failed)
		return; /* the shim's records say it (or a connect that never carried anything) */
	struct ht_chan k = {HT_CHAN_SOCK, 0, t->ino};
	struct chan *c = chan_get(g, &k, t->since);
	if (!c)
		return;
	/* the last reference went (tcp_close runs at the socket file's last
	 * release): every hold a /proc read left open ends now, fd entries too */
	int had = close_all(g, c, p, ts);
	if (had)
		return; /* /proc showed it already: its hold is closed at the kernel's time */
	if (!c->dir || c->dir_guess) {
		c->dir = 'o'; /* the kernel's connect event: connected */
		c->dir_guess = 0;
	}
	if (c->remote.family == 0 || c->addr_claimed) {
		c->remote = t->remote;
		c->addr_claimed = 0;
	}
	if (!c->has_local && t->local.port) {
		c->local = t->local;
		c->has_local = 1;
	}
	c->probed = 1; /* (gone from the kernel's tables by now) */
	struct hold *h = hold_open(g, p, c, t->since, HOLD_KERNEL);
	if (h && !h->nfds)
		hold_close(g, h, ts > t->since ? ts : t->since);
	g->st.kev_tcp_holds++;
}

int graph_kev_tcp_ends(struct graph *g, uint64_t ino, struct gaddr *local, struct gaddr *remote)
{
	const struct ktcp *k = g->kev_on && g->kev && ino ? &g->kev->tcp[ino % KTCP_N] : NULL;
	if (!k || k->ino != ino || !k->local.port || !k->remote.port)
		return -1;
	*local = k->local;
	*remote = k->remote;
	return 0;
}

/* The kernel's connect event names socket ino (SYN_SENT seen): its remote,
 * and its local end once ESTABLISHED gave it (local->port 0 before: the port
 * is chosen after the SYN_SENT state is set) */
int graph_kev_tcp_conn(struct graph *g, uint64_t ino, struct gaddr *local, struct gaddr *remote)
{
	const struct ktcp *k = g->kev_on && g->kev && ino ? &g->kev->tcp[ino % KTCP_N] : NULL;
	if (!k || k->ino != ino || !k->remote.port)
		return -1;
	*local = k->local;
	*remote = k->remote;
	return 0;
}

static int gaddr_eq(const struct gaddr *a, const struct gaddr *b)
{
	return a->family == b->family && a->port == b->port && a->len == b->len &&
	       !memcmp(a->a, b->a, a->len);
}

static size_t tuple_slot(const struct gaddr *l, const struct gaddr *r)
{
	uint64_t h = (uint64_t)l->port << 16 ^ r->port ^ (uint64_t)l->family << 40;
	for (size_t i = 0; i < l->len && i < 16; i++)
		h = (h ^ l->a[i]) * 0x100000001b3ULL;
	for (size_t i = 0; i < r->len && i < 16; i++)
		h = (h ^ r->a[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	return (size_t)(h % KTCP_N);
}

uint64_t graph_kev_tcp_find(struct graph *g, const struct gaddr *local, const struct gaddr *remote)
{
	if (!g->kev_on || !g->kev || !local->port || !remote->port)
		return 0;
	uint16_t ix = g->kev->by_tuple[tuple_slot(local, remote)];
	if (ix) {
		const struct ktcp *k = &g->kev->tcp[ix - 1];
		if (k->ino && gaddr_eq(&k->local, local) && gaddr_eq(&k->remote, remote))
			return k->ino; /* (the newest: it was indexed last) */
	}
	/* not indexed (another 4-tuple took its place): a scan — the newest: a
	 * 4-tuple used again (the client's port reused after its TIME_WAIT, or
	 * when the server closed first) names the last one */
	const struct ktcp *best = NULL;
	for (size_t i = 0; i < KTCP_N; i++) {
		const struct ktcp *k = &g->kev->tcp[i];
		if (k->ino && k->local.port == local->port && gaddr_eq(&k->local, local) &&
		    gaddr_eq(&k->remote, remote) && (!best || k->since > best->since))
			best = k;
	}
	return best ? best->ino : 0;
}

/* A socket the graph knows (a shimmed process's CONNECT) takes the kernel's
 * 4-tuple from the event when it has none of the kernel's yet: listed in the
 * closed-connection index when it closes, and a local connection's two ends
 * linked (a forward's client that connected, sent and left before a probe) */
static void tcp_ends_to_graph(struct graph *g, const struct ktcp *k)
{
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, k->ino);
	if (!c || !k->local.port || c->kind != HT_CHAN_SOCK)
		return;
	if (!c->has_local || c->addr_claimed || !c->remote.family) {
		if (c->addr_claimed && c->remote.family && !gaddr_eq(&c->remote, &k->remote))
			g->st.addr_corrected++;
		c->local = k->local;
		c->remote = k->remote;
		c->has_local = 1;
		c->addr_claimed = 0;
	}
	graph_link_local_tcp(g, c);
}

void graph_kev_tcp(struct graph *g, const struct graph_kev_sock *s, uint64_t now)
{
	struct kevtab *t = g->kev_on ? tab(g) : NULL;
	if (!t || !s->ino || (s->family != AF_INET && s->family != AF_INET6))
		return;
	struct ktcp *k = &t->tcp[s->ino % KTCP_N];
	switch (s->newstate) {
	case 2: /* SYN_SENT: connect(), in the connecting process */
		memset(k, 0, sizeof(*k));
		k->ino = s->ino;
		k->pid = s->pid;
		k->since = s->ts;
		gaddr_of(&k->remote, s->family, s->daddr, s->dport);
		break;
	case 1: /* ESTABLISHED: the 4-tuple */
		if (k->ino == s->ino) {
			gaddr_of(&k->local, s->family, s->saddr, s->sport);
			gaddr_of(&k->remote, s->family, s->daddr, s->dport);
			t->by_tuple[tuple_slot(&k->local, &k->remote)] = (uint16_t)(k - t->tcp + 1);
			tcp_ends_to_graph(g, k);
		}
		break;
	case 4: /* FIN_WAIT1 */
	case 9: /* LAST_ACK: its owner's close() */
	case 7: /* CLOSE (a reset, a failed connect) */
		if (k->ino == s->ino && !k->closed) {
			int failed = s->newstate == 7 && s->oldstate == 2;
			if (!failed)
				tcp_ends_to_graph(g, k);
			tcp_closed(g, k, s->ts, failed, now);
			k->closed = 1;
			if (failed)
				k->ino = 0;
		}
		break;
	}
}
