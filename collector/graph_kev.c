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
 * are applied (records.c apply_pending reads the ring again before a batch
 * of records with an IMAGE whose exec it has not seen), and the kernel reports a fork before the child runs and
 * an exec before the new image runs: a child's BIRTH finds its fork event,
 * an IMAGE its exec event.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph_int.h"
#include "hoptrace/procfs.h"
#include "hoptrace/sockdiag.h"

#define KEV_FDS_MAX_ 32 /* bpf/kev_event.h KEV_FDS_MAX */

#define KLIN_N 65536

struct klin {
	pid_t pid, creator;     /* creator 0: no fork event (known from exec only) */
	uint64_t start;         /* /proc starttime (clock ticks) from the fork event */
	uint64_t fork_ts, exec_ts, exit_ts;
	uint64_t dev, ino;      /* the last exec's executable */
	const char *path;       /* its path as execve() was given it (interned; NULL none) */
	uint8_t have_exec, ended;
	uint8_t own;            /* forked by the collector or one of its own (graph_kev_self) */
	uint8_t exec_unsure;    /* its uid's events were lost after its fork: no exec
				 * event proves no exec (graph_kev_uid_lossy) */
	uid_t uid;              /* its real uid from the fork event (-1 not said) */
	uint64_t pid_ino;       /* its struct pid's pidfs inode (fork event; 0 none) */
};

/* A process's exit-time fds, kept until the records before it are read
 * (graph_kev_settle), with its lineage as it was then. A ring: when full,
 * the oldest is applied at once. */
#define KEXIT_N 256
#define KX_FORK 1
#define KX_RECV 2
struct kexit {
	struct klin k;          /* k.pid 0: no fork or exec event of it */
	pid_t pid;
	uid_t uid;
	uint64_t ts;
	uint8_t n, more, used, fork; /* fork: a fork's (KX_FORK: the creator's then), a
				      * receive's (KX_RECV: the receiver's), else an exit's */
	struct graph_kev_fd fd[KEV_FDS_MAX_];
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
	uid_t uid;              /* the socket's owner ((uid_t)-1 not said) */
	uint8_t closed;
	uint8_t dir;            /* 'o' connected (SYN_SENT), 'i' accepted */
	struct gaddr local, remote;
};

/* A passive open the kernel saw (SYN_RECV -> ESTABLISHED: before accept, so
 * no inode yet), by 4-tuple (direct-mapped, KPAS_N slots): when its owner
 * closes it, the connection was held since then at the earliest */
#define KPAS_N 4096
struct kpas {
	uint64_t ts;
	uid_t uid;              /* the socket's owner (its listener's; -1 not said) */
	struct gaddr local, remote;
	uint8_t reported;       /* a record of a process the shim describes holds it
				 * (graph_kev_dark asked the kernel once) */
};

/* A TCP connection to or from another host that the kernel's events made a
 * process's hold (tcp_hold: an unshimmed program's, or a shimmed one's that
 * no record named) or whose closer the graph cannot make (gone, no fork
 * event), kept after its close for graph_kev_dark (a ring, not root's) */
#define KDARK_N 256
struct kdark {
	uint64_t ino, until;
	uid_t uid;
	struct gaddr remote;
};

/* A connection a shimmed process let go of, kept until the records before
 * its close are read: one no record of its named (io_uring's accept or
 * connect, a raw syscall) becomes its hold then (graph_kev_settle); and
 * one whose CONNECT or ACCEPT was not read at its close takes the kernel's
 * ends then (tcp_ends_to_graph) */
#define KCLOSE_N 256
struct kclose {
	struct ktcp t;
	uint64_t ts, serial;    /* serial: the process's graph entry then */
};

#define KULOST_N 64
struct kevtab {
	struct klin slot[KLIN_N];
	struct ktcp tcp[KTCP_N];
	/* tcp's slots by 4-tuple (index + 1, 0 empty; direct-mapped, the newest
	 * wins): graph_kev_tcp_find without a scan, mostly */
	uint16_t by_tuple[KTCP_N];
	struct kpas pas[KPAS_N];
	struct kexit exits[KEXIT_N];
	unsigned exit_head, nexits;  /* the oldest kept, how many */
	struct kclose closes[KCLOSE_N];
	unsigned close_head, ncloses;
	struct kdark dark[KDARK_N];
	unsigned dark_next;
	uint64_t lost_ts;       /* monotonic ns of the last loss said (graph_kev_lossy) */
	/* the uids whose rationed events were lost (graph_kev_uid_lossy): when,
	 * lately; a uid not here lost none */
	struct {
		uid_t uid;
		uint64_t ts;    /* 0: empty */
	} ulost[KULOST_N];
	int lossy;              /* the ring lost events: absence proves nothing */
	pid_t self;             /* the collector (graph_kev_self); 0 not set */
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

void graph_kev_fresh(struct graph *g, int fresh)
{
	g->kev_fresh = fresh && g->kev_on && g->kev && !g->kev->lossy;
}

void graph_kev_lossy(struct graph *g)
{
	if (g->kev) {
		g->kev->lossy = 1;
		g->kev->lost_ts = procfs_mono_ns(); /* (graph_kev_dark: lost lately) */
	}
}

static int dark_uid(uid_t u, const uid_t *uids, size_t n, int any);

/* uid's walks take the kernel's events as lossy until the window after now
 * (root's, -1: everyone's); 1 when it had no loss within the window before */
static int ulost_note(struct graph *g, uid_t uid, uint64_t now)
{
	struct kevtab *t = g->kev;
	if (uid == 0 || uid == (uid_t)-1) {
		int was = t->lost_ts && now - t->lost_ts < graph_conf(g)->window_ns;
		t->lossy = 1;
		t->lost_ts = now;
		return !was;
	}
	unsigned old = 0;
	for (unsigned i = 0; i < KULOST_N; i++) {
		if (t->ulost[i].ts && t->ulost[i].uid == uid) {
			int was = now - t->ulost[i].ts < graph_conf(g)->window_ns;
			t->ulost[i].ts = now;
			return !was;
		}
		if (t->ulost[i].ts < t->ulost[old].ts)
			old = i;
	}
	/* (the oldest's slot: its loss, older than the window, is no one's now;
	 * within it, everyone's — it would be forgotten) */
	if (t->ulost[old].ts && now - t->ulost[old].ts < graph_conf(g)->window_ns) {
		t->lossy = 1;
		t->lost_ts = now;
	}
	t->ulost[old].uid = uid;
	t->ulost[old].ts = now;
	return 1;
}

int graph_kev_uid_lossy(struct graph *g, uid_t uid)
{
	struct kevtab *t = g->kev;
	if (!t)
		return 0;
	/* a process of uid's whose exec event may be what was lost: none
	 * proves it did not exec (kev_lineage exec_missing), for good — its
	 * image, the kernel's view unknown, is the records' again */
	for (unsigned i = 0; uid != 0 && uid != (uid_t)-1 && i < KLIN_N; i++) {
		struct klin *k = &t->slot[i];
		if (k->pid && k->creator && !k->have_exec && !k->ended &&
		    (k->uid == uid || k->uid == (uid_t)-1))
			k->exec_unsure = 1;
	}
	return ulost_note(g, uid, procfs_mono_ns());
}

int graph_kev_lost_for(struct graph *g, uint64_t from, const uid_t *uids, size_t n, int any)
{
	const struct kevtab *t = g->kev_on ? g->kev : NULL;
	if (!t)
		return 0;
	if (t->lost_ts && t->lost_ts >= from)
		return 1;
	for (unsigned i = 0; i < KULOST_N; i++)
		if (t->ulost[i].ts && t->ulost[i].ts >= from &&
		    dark_uid(t->ulost[i].uid, uids, n, any))
			return 1;
	return 0;
}

void graph_kev_self(struct graph *g, pid_t pid)
{
	struct kevtab *t = tab(g);
	if (t)
		t->self = pid;
}

/* Is pid's current process the collector or one it (or one of its own)
 * forked? Their connections (inquiries to other hosts' collectors, made by
 * the monitor, used by its child) and descriptors are the collector's, not
 * a chain's: before, each inquiry connection's close made the collector a
 * `seen: kernel` process of the graph, with its whole fd table read from
 * /proc (tests/func/kev_self.sh). */
static int own_pid(const struct kevtab *t, pid_t pid)
{
	if (!t || pid <= 0)
		return 0;
	if (pid == t->self)
		return 1;
	const struct klin *k = &t->slot[(uint32_t)pid % KLIN_N];
	return k->pid == pid && k->own && !k->ended;
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
	k->own = (uint8_t)own_pid(t, creator);
	k->uid = (uid_t)-1;
	g->st.kev_forks++;
}

void graph_kev_fork_uid(struct graph *g, pid_t child, uid_t uid)
{
	struct kevtab *t = g->kev;
	struct klin *k = t && child > 0 ? &t->slot[(uint32_t)child % KLIN_N] : NULL;
	if (k && k->pid == child)
		k->uid = uid;
}

void graph_kev_fork_ino(struct graph *g, pid_t child, uint64_t pid_ino)
{
	struct kevtab *t = g->kev;
	struct klin *k = t && child > 0 ? &t->slot[(uint32_t)child % KLIN_N] : NULL;
	if (k && k->pid == child && k->creator)
		k->pid_ino = pid_ino;
}

void graph_kev_exec(struct graph *g, pid_t pid, uint64_t dev, uint64_t ino, const char *path,
		    uint64_t ts)
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
	k->path = path && path[0] ? graph_intern(g, path) : NULL;
}

static int kev_exit_pending(struct graph *g, pid_t pid);

void graph_kev_exit(struct graph *g, pid_t pid, uint64_t ts)
{
	struct klin *k = g->kev ? &g->kev->slot[(uint32_t)pid % KLIN_N] : NULL;
	if (k && k->pid == pid && !k->ended) {
		k->ended = 1;
		k->exit_ts = ts;
		/* an entry made from the kernel's events alone (tcp_closed) ends
		 * when the kernel says; one the shim or /proc describes as they do */
		struct proc *p = live_proc(g, pid);
		if (p && p->seen_kev && !p->synced_ts && p->start == k->start &&
		    p->birth_ts == k->fork_ts && !kev_exit_pending(g, pid))
			proc_end(g, p, ts);
	}
}

/* The kernel's events about pid's current process (its start matches the
 * kernel's, or it is gone and cannot be told), NULL when none. (Asked of
 * /proc even while the events are fresh: a process that left this network
 * namespace ends with no exit event here, and its pid's next owner —
 * anywhere — would pass for it.) Not asked for the record's own sender when
 * the kernel attested it as the fork event's process: its ring's registrant
 * (SO_PEERPIDFD) has the struct pid the fork event names (the same pidfs
 * inode; struct pids are never reused while the system runs) — that is the
 * forked process, whatever namespace it is in now (graph_apply_attested). */
static const struct klin *current_att(struct graph *g, pid_t pid, int *att)
{
	struct graph_kproc kp;
	*att = 0;
	if (!g->kev_on || !g->kev || pid <= 0)
		return NULL;
	const struct klin *k = &g->kev->slot[(uint32_t)pid % KLIN_N];
	if (k->pid != pid)
		return NULL;
	if (k->creator && k->pid_ino && g->att_pid == pid && g->att_ino == k->pid_ino) {
		g->st.kev_attested++;
		*att = 1;
		return k;
	}
	if (k->creator && kernel_proc(g, pid, &kp) == 0 && kp.start && kp.start != k->start)
		return NULL; /* another process now has the pid */
	return k;
}

int kev_attested_start(const struct graph *g, pid_t pid, uint64_t start)
{
	if (!g->kev_on || !g->kev || pid <= 0 || !g->att_ino || g->att_pid != pid)
		return 0;
	const struct klin *k = &g->kev->slot[(uint32_t)pid % KLIN_N];
	return k->pid == pid && k->creator && k->pid_ino == g->att_ino && k->start == start;
}

static const struct klin *current(struct graph *g, pid_t pid)
{
	int att;
	return current_att(g, pid, &att);
}

int kev_fork_times(struct graph *g, pid_t pid, uint64_t *fork_ts, uint64_t *start)
{
	int att;
	uint64_t n = g->st.kev_attested;
	const struct klin *k = current_att(g, pid, &att);
	g->st.kev_attested = n; /* a lookup of times, not a record's attestation */
	if (!k || !k->creator)
		return -1;
	*fork_ts = k->fork_ts;
	*start = k->start;
	return 0;
}

int kev_lineage(struct graph *g, pid_t pid, struct kev_lineage *out)
{
	int att;
	const struct klin *k = current_att(g, pid, &att);
	if (!k)
		return -1;
	out->attested = att;
	out->creator = k->creator;
	out->start = k->start;
	out->fork_ts = k->fork_ts;
	out->exec_known = k->have_exec;
	out->exec_missing = k->creator && !k->have_exec && !k->exec_unsure && !g->kev->lossy;
	out->dev = k->dev;
	out->ino = k->ino;
	out->exec_ts = k->exec_ts;
	return 0;
}

int graph_kev_exec_missing(struct graph *g, pid_t pid)
{
	return graph_kev_exec_missing_attested(g, pid, 0);
}

int graph_kev_exec_missing_attested(struct graph *g, pid_t pid, uint64_t pid_ino)
{
	struct kev_lineage kl;
	pid_t ap = g->att_pid;
	uint64_t ai = g->att_ino;
	g->att_pid = pid;
	g->att_ino = pid_ino;
	int missing = kev_lineage(g, pid, &kl) == 0 && kl.exec_missing;
	g->att_pid = ap;
	g->att_ino = ai;
	return missing;
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
static void tcp_hold(struct graph *g, struct proc *p, const struct ktcp *t, uint64_t ts);
static void dark_add(struct graph *g, const struct ktcp *t, uint64_t ts, uid_t uid);
static void tcp_defer(struct graph *g, const struct ktcp *t, uint64_t ts);
static void tcp_queue(struct graph *g, const struct ktcp *t, uint64_t ts, uint64_t serial);
static struct proc *kproc(struct graph *g, const struct klin *k, uint64_t now, int depth);
static struct proc *kproc_new(struct graph *g, const struct klin *k, uid_t uid, uint64_t now,
			      int depth);

static int tcp_ends_to_graph(struct graph *g, const struct ktcp *k);

static void tcp_closed(struct graph *g, const struct ktcp *t, uint64_t ts, int failed, uint64_t now)
{
	/* its record not read yet: once it is (an ACCEPT's socket has no kept
	 * slot; a CONNECT also reads its slot, graph_kev_tcp_ends) */
	if (!failed && !tcp_ends_to_graph(g, t))
		tcp_queue(g, t, ts, 0);
	struct proc *p = live_proc(g, t->pid);
	if (!p && g->conf.use_procfs)
		p = graph_proc_kernel(g, t->pid, now);
	if (!p && g->kev) {
		/* gone already (a static child that fetched orders and exited):
		 * made from its fork and exec events, ended by its exit's */
		const struct klin *k = &g->kev->slot[(uint32_t)t->pid % KLIN_N];
		if (k->pid == t->pid && k->creator && k->fork_ts <= t->since)
			p = k->ended ? kproc(g, k, now, 0) : kproc_new(g, k, (uid_t)-1, now, 0);
	}
	/* not the shim's: found in /proc, or exec'd and announced no image (a
	 * static binary after a shimmed shell's exec: its EXEC record may not
	 * even be applied yet — the kernel's exec event after its last IMAGE
	 * says it). A shimmed image whose IMAGE waits in its socket gets the
	 * hold too: true, and its CONNECT adds nothing a chain shows twice. */
	struct kev_lineage kl;
	int unannounced = kev_lineage(g, t->pid, &kl) == 0 && kl.exec_known && p &&
			  kl.exec_ts > p->exec_ts;
	if (!p && !failed)
		/* a process the graph cannot make (gone, no fork event of it:
		 * started before the source, or from another namespace) held it:
		 * a connection no record names all the same */
		dark_add(g, t, ts, t->uid);
	if (!p || failed)
		return; /* (a connect that never carried anything) */
	if (!p->seen_kernel && !p->exec_pending && !unannounced) {
		/* the shim's records say it — unless the shim never saw it (an
		 * io_uring accept or connect, a raw syscall): decided once the
		 * records before the close are read (graph_kev_settle) */
		tcp_defer(g, t, ts);
		return;
	}
	tcp_hold(g, p, t, ts);
}

/* p held the connection t from t->since until ts, by the kernel's word */
static void tcp_hold(struct graph *g, struct proc *p, const struct ktcp *t, uint64_t ts)
{
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
		c->dir = t->dir; /* the kernel's connect or passive open */
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
	dark_add(g, t, ts, p->uid != (uid_t)-1 ? p->uid : t->uid);
}

/* t, a connection with another host no record names, let go of at ts by a
 * process of uid (-1 unknown): kept for graph_kev_dark */
static void dark_add(struct graph *g, const struct ktcp *t, uint64_t ts, uid_t uid)
{
	if (!g->kev || uid == 0 || !t->remote.family ||
	    sd_is_local_addr(t->remote.family, t->remote.a) == 1)
		return;
	struct kdark *d = &g->kev->dark[g->kev->dark_next++ % KDARK_N];
	if (d->ino && d->until + g->conf.window_ns >= ts) {
		/* one still within the window evicted (another user's closes can
		 * push a user's out): as if its user's events were lost — absence
		 * proves nothing for its walks until the window has passed (its
		 * own: another user's closes cost that user nothing more) */
		ulost_note(g, d->uid, procfs_mono_ns());
		g->st.kev_dark_evicted++;
	}
	d->ino = t->ino;
	d->until = ts;
	d->uid = uid;
	d->remote = t->remote;
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

static struct kpas *pas_slot(struct kevtab *t, const struct gaddr *l, const struct gaddr *r)
{
	uint64_t h = ((uint64_t)l->port << 16 | r->port) ^ ((uint64_t)l->family << 40);
	for (unsigned i = 0; i < 16; i++)
		h = hash64(h ^ ((uint64_t)l->a[i] << 8 | r->a[i]) ^ i);
	return &t->pas[h % KPAS_N];
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

/* A socket the graph knows (a shimmed process's CONNECT or ACCEPT) takes the
 * kernel's 4-tuple from the event when it has none of the kernel's yet (at
 * ESTABLISHED and at the close; a CONNECT read after the close takes it from
 * the kept slot, graph_kev_tcp_ends): listed in the closed-connection index
 * when it closes — now, if its holders all let go already (its CLOSE or EXIT
 * was read before this event: h1's `nc -N` that sent a bind shell its orders
 * and exited, tests/func/kev_accept.sh) — and a local connection's two ends
 * linked (a forward's client that connected, sent and left before a probe) */
static int tcp_ends_to_graph(struct graph *g, const struct ktcp *k)
{
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, k->ino);
	if (!c || c->kind != HT_CHAN_SOCK)
		return 0;
	if (!k->local.port)
		return 1;
	if (!c->has_local || c->addr_claimed || !c->remote.family) {
		if (c->addr_claimed && c->remote.family && !gaddr_eq(&c->remote, &k->remote))
			g->st.addr_corrected++;
		c->local = k->local;
		c->remote = k->remote;
		c->has_local = 1;
		c->addr_claimed = 0;
		uint64_t last = 0;
		const struct hold *h;
		for (h = c->holds; h && h->until; h = h->cnext)
			last = h->until > last ? h->until : last;
		if (!h && last)
			graph_hist_closed(g, c, last); /* (hold_close could not list it) */
	}
	graph_link_local_tcp(g, c);
	return 1;
}

/* Its owner closed (FIN_WAIT1, LAST_ACK, ...: in its context; or, after a
 * shutdown(), the connection ended: CLOSE) a connection it accepted: when the kernel saw the passive open, a process the shim does
 * not cover held it from then (its image's start, if later) to the close —
 * a bind shell's orders from h1, read and let go of before it dials out
 * (tests/func/kev_accept.sh). No passive open seen: nothing (its direction
 * and start are not known). */
static void accepted_closed(struct graph *g, struct kevtab *t, const struct graph_kev_sock *s,
			    uint64_t now)
{
	struct ktcp k = {.ino = s->ino, .pid = s->pid, .dir = 'i',
			 .uid = s->has_uid ? (uid_t)s->uid : (uid_t)-1};
	gaddr_of(&k.local, s->family, s->saddr, s->sport);
	gaddr_of(&k.remote, s->family, s->daddr, s->dport);
	struct kpas *ps = pas_slot(t, &k.local, &k.remote);
	if (!ps->ts || !gaddr_eq(&ps->local, &k.local) || !gaddr_eq(&ps->remote, &k.remote))
		return;
	k.since = ps->ts;
	ps->ts = 0;
	struct kev_lineage kl;
	if (kev_lineage(g, s->pid, &kl) == 0) {
		uint64_t img = kl.exec_known && kl.exec_ts > kl.fork_ts ? kl.exec_ts : kl.fork_ts;
		if (img > k.since && img < s->ts)
			k.since = img; /* accepted by this image, not before it */
	}
	tcp_closed(g, &k, s->ts, 0, now);
}

void graph_kev_tcp(struct graph *g, const struct graph_kev_sock *s, uint64_t now)
{
	struct kevtab *t = g->kev_on ? tab(g) : NULL;
	if (!t || (s->family != AF_INET && s->family != AF_INET6))
		return;
	/* (only a connect's and a release's tgid is the process's: the others
	 * come in whatever context the packet found — a softirq in any task,
	 * the collector's too, which must not drop another's CLOSE) */
	if ((s->newstate == 2 || s->released) && own_pid(t, s->pid))
		return; /* the collector's own connection */
	if (s->newstate == 1 && s->oldstate == 3) { /* SYN_RECV -> ESTABLISHED: passive */
		struct gaddr l, r;
		gaddr_of(&l, s->family, s->saddr, s->sport);
		gaddr_of(&r, s->family, s->daddr, s->dport);
		struct kpas *ps = pas_slot(t, &l, &r);
		ps->ts = s->ts;
		ps->uid = s->has_uid ? (uid_t)s->uid : (uid_t)-1;
		ps->local = l;
		ps->remote = r;
		ps->reported = 0;
		return;
	}
	if (!s->ino)
		return;
	if (s->released) {
		/* the file's last reference went: nobody holds it any more — the
		 * holds no fd entry stands for (an io_uring direct descriptor's,
		 * graph_kev_sockuse) end now, whoever released it */
		struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, s->ino);
		for (struct hold *h = c && c->kind == HT_CHAN_SOCK ? c->holds : NULL, *next; h; h = next) {
			next = h->cnext;
			if (!h->until && !h->nfds && h->how == HOLD_KERNEL)
				hold_close(g, h, s->ts > h->since ? s->ts : h->since + 1);
		}
	}
	struct ktcp *k = &t->tcp[s->ino % KTCP_N];
	switch (s->newstate) {
	case 2: /* SYN_SENT: connect(), in the connecting process */
		memset(k, 0, sizeof(*k));
		k->ino = s->ino;
		k->pid = s->pid;
		k->uid = s->has_uid ? (uid_t)s->uid : (uid_t)-1;
		k->since = s->ts;
		k->dir = 'o';
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
	default: /* its owner's close() (FIN_WAIT1, LAST_ACK; after a shutdown()
		  * FIN_WAIT2, CLOSING, ...: the file's last release, in its
		  * context) — not a shutdown()'s FIN_WAIT1 or LAST_ACK: the
		  * process holds, and may read, the connection still */
		if (!s->released)
			break;
		/* fall through */
	case 7: /* CLOSE (a reset, a failed connect; after a shutdown() both
		 * FINs: it carries nothing more) */
		if (k->ino == s->ino) {
			if (!k->closed) {
				tcp_closed(g, k, s->ts, s->newstate == 7 && s->oldstate == 2, now);
				k->closed = 1; /* (its 4-tuple kept: graph_kev_tcp_find) */
				if (s->newstate == 7 && s->oldstate == 2)
					k->ino = 0;
			}
		} else if (s->newstate != 7) {
			accepted_closed(g, t, s, now);
		}
		break;
	}
}

static int collector_chan(const struct chan *c);

void graph_kev_sockuse(struct graph *g, const struct graph_kev_sock *s, uint64_t now)
{
	struct kevtab *t = g->kev_on ? tab(g) : NULL;
	if (!t || !s->ino || (s->family != AF_INET && s->family != AF_INET6) || own_pid(t, s->pid))
		return;
	if (s->newstate == 7 || s->newstate == 12 || s->newstate == 10)
		return; /* (closed, or not a connection) */
	struct proc *p = live_proc(g, s->pid);
	if (!p && g->conf.use_procfs)
		p = graph_proc_kernel(g, s->pid, now);
	if (!p)
		return;
	struct ht_chan key = {HT_CHAN_SOCK, 0, s->ino};
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, s->ino);
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		if (h->p == p && !h->until)
			return; /* known (a record, a /proc read) */
	if (collector_chan(c))
		return;
	/* since when: its connect (the events' slot), its passive open, else now */
	struct gaddr l, r;
	gaddr_of(&l, s->family, s->saddr, s->sport);
	gaddr_of(&r, s->family, s->daddr, s->dport);
	uint64_t since = s->ts;
	uint8_t dir = 0;
	const struct ktcp *k = &t->tcp[s->ino % KTCP_N];
	struct kpas *ps = pas_slot(t, &l, &r);
	if (k->ino == s->ino && !k->closed && k->since < since) {
		since = k->since;
		dir = k->dir;
	} else if (ps->ts && gaddr_eq(&ps->local, &l) && gaddr_eq(&ps->remote, &r) && ps->ts < since) {
		since = ps->ts;
		dir = 'i';
	}
	struct kev_lineage kl;
	if (kev_lineage(g, s->pid, &kl) == 0) {
		uint64_t img = kl.exec_known && kl.exec_ts > kl.fork_ts ? kl.exec_ts : kl.fork_ts;
		if (img > since && img < s->ts)
			since = img; /* by this image, not before it */
	}
	if (!c && !(c = chan_get(g, &key, since)))
		return;
	if (dir && (!c->dir || c->dir_guess)) {
		c->dir = dir;
		c->dir_guess = 0;
	}
	if (c->remote.family == 0 || c->addr_claimed) {
		c->remote = r;
		c->addr_claimed = 0;
	}
	if (!c->has_local && l.port) {
		c->local = l;
		c->has_local = 1;
	}
	struct hold *h = hold_open(g, p, c, since, HOLD_KERNEL);
	if (!h)
		return;
	g->st.kev_uring_holds++; /* (the kernel's events' word, as tcp_hold's) */
	g->changes++;
}

static void link_peer(struct graph *g, struct chan *c, const struct graph_kev_fd *d, uint64_t ts);

void graph_kev_unix_peer(struct graph *g, uint64_t ino, uint64_t peer, uint64_t ts)
{
	if (!g->kev_on || !tab(g) || !ino || !peer || ino == peer)
		return;
	struct graph_kev_fd d = {.kind = HT_CHAN_SOCK, .ino = ino, .peer = peer};
	struct ht_chan k = {HT_CHAN_SOCK, 0, ino};
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, ino);
	if (collector_chan(c))
		return;
	if ((c || (c = chan_get(g, &k, ts))) && !c->peer) {
		link_peer(g, c, &d, ts);
		g->changes++;
	}
}

/* ---- what an ending process still held (KEV_FDS) ---------------------------- */

/* Does the shim describe p (its records said what it held)? Not when it was
 * found in /proc, is between an EXEC and its image's IMAGE, or exec'd
 * (the kernel's exec event) after its last IMAGE: a static image. */
static int shim_covers(struct graph *g, const struct proc *p)
{
	struct kev_lineage kl;
	if (p->seen_kernel || p->exec_pending)
		return 0;
	/* the fork event of p itself (its pid, its start): its exec events are
	 * p's, whoever has the pid now — no /proc read (a pid reused within
	 * one tick would pass /proc's start as well) */
	const struct klin *k = g->kev_on && g->kev && p->pid > 0 && p->start
				       ? &g->kev->slot[(uint32_t)p->pid % KLIN_N]
				       : NULL;
	if (k && k->pid == p->pid && k->creator && k->start == p->start)
		return !(k->have_exec && k->exec_ts > p->exec_ts);
	return !(kev_lineage(g, p->pid, &kl) == 0 && kl.exec_known && kl.exec_ts > p->exec_ts);
}

/* The same for a process whose exit event came, by its lineage as it was
 * then (k: the slot copied when the exit was queued, its start p's): no
 * /proc read of a pid that has ended */
static int shim_covered_at_exit(const struct proc *p, const struct klin *k)
{
	if (p->seen_kernel || p->exec_pending)
		return 0;
	return !(k->have_exec && k->exec_ts > p->exec_ts);
}

int kev_ended(struct graph *g, const struct proc *p)
{
	const struct klin *k = g->kev_on && g->kev && p->pid > 0 ? &g->kev->slot[(uint32_t)p->pid % KLIN_N] : NULL;
	return k && k->pid == p->pid && k->ended && k->creator && p->start && k->start == p->start;
}

static uint64_t image_start(const struct klin *k)
{
	return k->have_exec && k->exec_ts > k->fork_ts ? k->exec_ts : k->fork_ts;
}

static struct kexit *exit_queued(struct kevtab *t, pid_t pid)
{
	for (unsigned i = 0; i < t->nexits; i++) {
		struct kexit *x = &t->exits[(t->exit_head + i) % KEXIT_N];
		if (x->used && !x->fork && x->pid == pid)
			return x;
	}
	return NULL;
}

/* is an exit's fds record of pid waiting (it ends the entry then)? */
static int kev_exit_pending(struct graph *g, pid_t pid)
{
	return g->kev && exit_queued(g->kev, pid) != NULL;
}

static void exit_apply(struct graph *g, struct kexit *x, uint64_t now, int depth);

/* a channel of the collector's own (a shim's or a query's connection) */
static int collector_chan(const struct chan *c)
{
	return c && (c->internal || (c->peer && c->peer->internal));
}

static void link_peer(struct graph *g, struct chan *c, const struct graph_kev_fd *d, uint64_t ts)
{
	if (!c || d->kind != HT_CHAN_SOCK || !d->peer || c->peer)
		return;
	struct ht_chan pk = {HT_CHAN_SOCK, 0, d->peer};
	struct chan *pc = chan_get(g, &pk, ts);
	if (pc) {
		chan_link_peers(c, pc);
		c->remote.family = pc->remote.family = AF_UNIX;
	}
}

/* p held d from since until `until`, by the kernel's word: a closed hold (no
 * fd entry), unless p has one on that channel already (only_new: any, open
 * or closed — a shimmed process's records named it; else an open one).
 * Returns the hold, or NULL. */
static struct hold *closed_hold(struct graph *g, struct proc *p, const struct graph_kev_fd *d,
				uint64_t since, uint64_t until, int only_new)
{
	struct ht_chan k = {d->kind, d->dev, d->ino};
	struct chan *c = graph_chan(g, key_kind(d->kind), key_kind(d->kind) == HT_CHAN_PIPE ? d->dev : 0,
				    d->ino);
	if (collector_chan(c))
		return NULL;
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		if (h->p == p && (only_new || !h->until))
			return NULL;
	if (!c && !(c = chan_get(g, &k, since)))
		return NULL;
	struct hold *h = hold_open(g, p, c, since, HOLD_KERNEL);
	if (!h)
		return NULL;
	h->ends = d->ends;
	hold_close(g, h, until > since ? until : since + 1);
	link_peer(g, c, d, until);
	g->st.kev_exit_holds++;
	return h;
}

/* The executable k's exec event names, as /proc/PID/exe would: the path
 * execve() was given with its symlinks resolved (`nc` -> /usr/bin/nc.openbsd),
 * when that file is still the exec'd one (its inode); else the path as given */
static const char *exec_path(struct graph *g, const struct klin *k)
{
	char buf[PATH_MAX];
	struct stat st;
	if (!k->path || k->path[0] != '/' || !realpath(k->path, buf) || !strcmp(buf, k->path))
		return k->path;
	if (stat(buf, &st) != 0 || (uint64_t)st.st_ino != k->ino)
		return k->path;
	return graph_intern(g, buf);
}

/* A new entry, alive for now, for the process k describes, with its creator
 * (kproc) when the graph or the events know it */
static struct proc *kproc_new(struct graph *g, const struct klin *k, uid_t uid, uint64_t now,
			      int depth)
{
	struct proc *p = proc_new(g, k->pid, k->fork_ts);
	if (!p)
		return NULL;
	p->seen_kernel = 1;
	p->seen_kev = 1;
	p->start = k->start;
	p->exec_ts = image_start(k);
	p->uid = uid;
	if (k->path)
		p->exe = exec_path(g, k);
	p->creator_pid = k->creator;
	const struct klin *ck = &g->kev->slot[(uint32_t)k->creator % KLIN_N];
	struct proc *c = NULL;
	if (ck->pid == k->creator && ck->fork_ts <= k->fork_ts)
		c = kproc(g, ck, now, depth + 1);
	else if (!(c = graph_proc(g, k->creator)) && g->conf.use_procfs)
		c = graph_proc_kernel(g, k->creator, now); /* from before the source */
	if (c && c->birth_ts > k->fork_ts)
		c = NULL;
	set_creator(p, c);
	if (!k->have_exec && ck->pid == k->creator && ck->path) {
		/* a fork child that never exec'd: its creator's image, by the
		 * creator's exec event (its graph entry may not know it yet) */
		p->exe = p->argv0 = ck->path;
	} else if (c && !k->have_exec) {
		p->exe = c->exe;
		p->argv0 = c->argv0;
		p->sha256 = c->sha256;
	}
	return p;
}

/* The graph's entry for the process k describes (pid k->pid, forked at
 * k->fork_ts), made from its fork and exec events when the graph has none:
 * an alive one from /proc, an ended one from its queued exit-time fds or its
 * exit event — its creator likewise, up to 8 ended ancestors (a static
 * `sh -c 'cat >fifo'` from a session: cat's creator sh has ended too, sh's
 * creator is the session's shell). NULL when nothing is known. */
static struct proc *kproc(struct graph *g, const struct klin *k, uint64_t now, int depth)
{
	struct kevtab *t = g->kev;
	struct proc *p = graph_proc(g, k->pid);
	if (p && p->birth_ts <= k->fork_ts + HT_REC_MAX_SKEW_NS &&
	    (p->alive || p->exit_ts + HT_REC_MAX_SKEW_NS >= k->fork_ts) &&
	    (!p->start || !k->start || p->start == k->start))
		return p;
	if (depth >= 8)
		return NULL;
	struct kexit *x = exit_queued(t, k->pid);
	if (x && x->k.pid == k->pid && x->k.fork_ts == k->fork_ts) {
		exit_apply(g, x, now, depth + 1);
		p = graph_proc(g, k->pid);
		return p && p->birth_ts == k->fork_ts ? p : NULL;
	}
	if (!k->ended) /* alive: /proc says */
		return g->conf.use_procfs ? graph_proc_kernel(g, k->pid, now) : NULL;
	if (!k->creator)
		return NULL; /* ended, and the events never saw it start */
	p = kproc_new(g, k, (uid_t)-1, now, depth);
	if (p)
		proc_end(g, p, k->exit_ts > k->fork_ts ? k->exit_ts : k->fork_ts + 1);
	return p;
}

struct proc *kev_creator_of(struct graph *g, pid_t pid, uint64_t start, uint64_t now, pid_t *cpid,
			    uint64_t *fork_ts)
{
	/* kproc -> /proc -> proc_from_kernel -> here: each step an older
	 * ancestor, bounded all the same */
	static int nest;
	*cpid = 0;
	*fork_ts = 0;
	const struct klin *k = current(g, pid);
	if (!k || k->creator <= 0 || k->creator == pid || (start && k->start && start != k->start))
		return NULL;
	*cpid = k->creator;
	*fork_ts = k->fork_ts;
	if (nest >= 8)
		return NULL;
	nest++;
	const struct klin *ck = &g->kev->slot[(uint32_t)k->creator % KLIN_N];
	struct proc *c = NULL;
	if (ck->pid == k->creator && ck->creator && ck->fork_ts <= k->fork_ts) {
		c = kproc(g, ck, now, 1);
	} else {
		/* its creator from before the source (no fork event of its) */
		c = graph_proc(g, k->creator);
		if (c && !c->alive && c->exit_ts + HT_REC_MAX_SKEW_NS < k->fork_ts)
			c = NULL; /* ended before the fork: another process of the pid */
		if (!c && g->conf.use_procfs)
			c = graph_proc_kernel(g, k->creator, now);
	}
	nest--;
	if (!c || c->pid != k->creator || !born_before_fork(c, k->fork_ts, k->start) ||
	    (c->start && ck->pid == k->creator && ck->start && c->start != ck->start))
		return NULL;
	return c;
}

/* The kernel's word on what x->pid held as it ended, into the graph for a
 * process the shim does not cover: each pipe, FIFO and unix socket a hold
 * until its end (one a /proc read showed ends then; one it got since, or
 * that no read saw, from its image's start or the last read), unix peers
 * linked. */
static void exit_apply(struct graph *g, struct kexit *x, uint64_t now, int depth)
{
	if (!x->used)
		return;
	x->used = 0;
	struct proc *p = graph_proc(g, x->pid);
	if (p && (p->birth_ts > x->ts ||
		  (x->k.pid && p->start && x->k.start && p->start != x->k.start) ||
		  (!p->alive && p->exit_ts + HT_REC_MAX_SKEW_NS < x->ts)))
		p = NULL; /* another process of the pid (newer, or ended before) */
	if (p && (x->k.pid == x->pid && x->k.creator && p->start == x->k.start
			  ? shim_covered_at_exit(p, &x->k)
			  : shim_covers(g, p))) {
		/* its records said what it held — all but what they could not
		 * (an fd inherited from a creator the shim does not cover) */
		uint64_t since = p->exec_ts > p->birth_ts ? p->exec_ts : p->birth_ts;
		for (unsigned i = 0; i < x->n; i++)
			closed_hold(g, p, &x->fd[i], since < x->ts ? since : x->ts - 1, x->ts, 1);
		return;
	}
	if (!p) {
		if (!x->k.pid || !x->k.creator)
			return; /* its start and creator unknown (from before the source) */
		if (!(p = kproc_new(g, &x->k, x->uid, now, depth)))
			return;
	} else if (!p->seen_kernel) {
		/* a shimmed process's static image (never refreshed from /proc
		 * while it ran): its image is the exec event's, and what it held
		 * the kernel's word */
		if (x->k.pid && x->k.path && p->exe != x->k.path) {
			p->exe = p->argv0 = x->k.path;
			p->sha256 = ""; /* (the old image's; the file is not read now) */
			p->hash_ticket = 0;
		}
		if (!p->start && x->k.pid)
			p->start = x->k.start;
		p->exec_pending = 0;
		p->seen_kernel = 1;
		p->seen_kev = 1;
	}
	uint64_t since = x->k.pid ? image_start(&x->k) : p->birth_ts;
	if (since < p->birth_ts)
		since = p->birth_ts;
	if (p->synced_ts > since && p->synced_ts < x->ts)
		since = p->synced_ts; /* the last /proc read did not show it */
	if (since >= x->ts)
		since = x->ts - 1;
	for (unsigned i = 0; i < x->n; i++) {
		const struct graph_kev_fd *d = &x->fd[i];
		struct ht_chan k = {d->kind, d->dev, d->ino};
		struct chan *c = NULL;
		struct fdent *fe = p->alive ? fd_find(p, d->fd) : NULL;
		if (fe) {
			struct ht_chan fk = {fe->h->c->kind, fe->h->c->dev, fe->h->c->ino};
			if (same_key(&fk, &k))
				c = fe->h->c; /* /proc showed it: it ends with p */
		}
		if (collector_chan(graph_chan(g, key_kind(d->kind),
					      key_kind(d->kind) == HT_CHAN_PIPE ? d->dev : 0, d->ino)))
			continue;
		if (!c && p->alive) {
			if (fd_set_key(g, p, d->fd, &k, since, HOLD_KERNEL, d->ends) == 0 &&
			    (fe = fd_find(p, d->fd)) != NULL) {
				c = fe->h->c;
				g->st.kev_exit_holds++;
			}
		} else if (!c) { /* ended in the graph already (a sweep found it gone) */
			closed_hold(g, p, d, since, x->ts, 0);
		}
		link_peer(g, c, d, x->ts);
	}
	if (x->more)
		p->fds_stale = 1; /* it held more than the event says */
	if (p->alive)
		proc_end(g, p, x->ts);
	g->changes++;
}

/* A fork's fds: x->pid's creator held each at the fork. A creator the shim
 * does not cover that the graph is not known to hold it gets a hold from its
 * image's start (or its last /proc read): open, so that its next read or its
 * end closes it — closed at that read when it came after the fork and did not
 * show it (a static program that forked the child fetching its orders, read
 * them from the pipe and closed it: tests/func/kev_spawn.sh). */
static void fork_apply(struct graph *g, struct kexit *x, uint64_t now)
{
	if (!x->used)
		return;
	x->used = 0;
	int recv = x->fork == KX_RECV;
	/* a fork's: its creator's; a receive's: the receiver's own (its image's
	 * start and last read date them the same way: when it got the others
	 * the record does not say) */
	pid_t cp = recv ? x->pid : x->k.pid == x->pid ? x->k.creator : 0;
	struct proc *p = cp > 0 ? live_proc(g, cp) : NULL;
	if (!p && cp > 1 && g->conf.use_procfs)
		p = graph_proc_kernel(g, cp, now);
	if (!p || p->birth_ts > x->ts || shim_covers(g, p))
		return; /* a shimmed creator's records say what it held */
	struct kev_lineage kl;
	uint64_t since = p->birth_ts;
	if (kev_lineage(g, cp, &kl) == 0) {
		uint64_t img = kl.exec_known && kl.exec_ts > kl.fork_ts ? kl.exec_ts : kl.fork_ts;
		if (img > since && img < x->ts)
			since = img;
	}
	uint64_t read = p->synced_ts; /* its last /proc read */
	if (read > since && read < x->ts)
		since = read;
	for (unsigned i = 0; i < x->n; i++) {
		const struct graph_kev_fd *d = &x->fd[i];
		struct ht_chan k = {d->kind, d->dev, d->ino};
		struct fdent *fe = fd_find(p, d->fd);
		if (fe) {
			struct ht_chan fk = {fe->h->c->kind, fe->h->c->dev, fe->h->c->ino};
			if (same_key(&fk, &k))
				continue; /* known */
		}
		if (read > x->ts) { /* read since: it had let go by then */
			if (closed_hold(g, p, d, since, read, 0)) {
				g->st.kev_exit_holds--;
				if (recv)
					g->st.kev_recv_holds++;
				else
					g->st.kev_fork_holds++;
			}
			continue;
		}
		struct chan *c = graph_chan(g, key_kind(d->kind),
					    key_kind(d->kind) == HT_CHAN_PIPE ? d->dev : 0, d->ino);
		if (collector_chan(c) || fd_set_key(g, p, d->fd, &k, since, HOLD_KERNEL, d->ends) != 0)
			continue;
		if (recv)
			g->st.kev_recv_holds++;
		else
			g->st.kev_fork_holds++;
		if ((fe = fd_find(p, d->fd)) != NULL)
			link_peer(g, fe->h->c, d, x->ts);
	}
	if (x->more)
		p->fds_stale = 1;
	g->changes++;
}

static void kexit_apply(struct graph *g, struct kexit *x, uint64_t now, int depth)
{
	kmemo_begin(g);
	if (x->fork)
		fork_apply(g, x, now);
	else
		exit_apply(g, x, now, depth);
	kmemo_end(g);
}

static void fds_queue(struct graph *g, pid_t pid, uid_t uid, uint64_t ts,
		      const struct graph_kev_fd *fds, unsigned n, int more, int fork)
{
	struct kevtab *t = g->kev_on ? tab(g) : NULL;
	if (!t || pid <= 0 || own_pid(t, pid))
		return; /* (the collector's own: its fork's fds are its creator's) */
	if (t->nexits == KEXIT_N) { /* full: the oldest now */
		kexit_apply(g, &t->exits[t->exit_head], ts, 0);
		t->exit_head = (t->exit_head + 1) % KEXIT_N;
		t->nexits--;
	}
	struct kexit *x = &t->exits[(t->exit_head + t->nexits++) % KEXIT_N];
	memset(x, 0, sizeof(*x));
	const struct klin *k = &t->slot[(uint32_t)pid % KLIN_N];
	if (k->pid == pid)
		x->k = *k;
	x->pid = pid;
	x->uid = uid;
	x->ts = ts;
	x->n = (uint8_t)(n < KEV_FDS_MAX_ ? n : KEV_FDS_MAX_);
	x->more = more || n > KEV_FDS_MAX_;
	x->used = 1;
	x->fork = (uint8_t)fork;
	memcpy(x->fd, fds, x->n * sizeof(*fds));
}

void graph_kev_fds(struct graph *g, pid_t pid, uid_t uid, uint64_t ts,
		   const struct graph_kev_fd *fds, unsigned n, int more)
{
	fds_queue(g, pid, uid, ts, fds, n, more, 0);
}

void graph_kev_fork_fds(struct graph *g, pid_t pid, uint64_t ts, const struct graph_kev_fd *fds,
			unsigned n, int more)
{
	fds_queue(g, pid, (uid_t)-1, ts, fds, n, more, KX_FORK);
}

void graph_kev_recv_fds(struct graph *g, pid_t pid, uint64_t ts, const struct graph_kev_fd *fds,
			unsigned n, int more)
{
	fds_queue(g, pid, (uid_t)-1, ts, fds, n, more, KX_RECV);
}

static void closes_settle(struct graph *g, uint64_t now, uint64_t min_age_ns);

void graph_kev_settle(struct graph *g, uint64_t now, uint64_t min_age_ns)
{
	struct kevtab *t = g->kev;
	if (!t)
		return;
	closes_settle(g, now, min_age_ns);
	while (t->nexits) {
		struct kexit *x = &t->exits[t->exit_head];
		if (x->used && min_age_ns && x->ts + min_age_ns > now)
			break;
		kexit_apply(g, x, now, 0);
		t->exit_head = (t->exit_head + 1) % KEXIT_N;
		t->nexits--;
	}
}

/* ---- connections shimmed processes let go of (tcp_closed) ------------------- */

static void close_apply(struct graph *g, const struct kclose *x)
{
	tcp_ends_to_graph(g, &x->t);
	if (!x->serial)
		return; /* (its ends only) */
	struct proc *p = graph_proc(g, x->t.pid);
	if (!p || p->serial != x->serial)
		return; /* gone from the graph since, or another process of the pid */
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, x->t.ino);
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		if (h->p == p) {
			/* a record of its named it — a vfork child's still counts
			 * as named by none: what it read may be in its creator's
			 * memory, and no walk goes from a creator to its child
			 * (review 14, tests/open/attack_review14_vfork_fetch.sh) */
			if (c->vm_held)
				dark_add(g, &x->t, x->ts, p->uid);
			return;
		}
	tcp_hold(g, p, &x->t, x->ts);
	g->changes++;
}

static void tcp_defer(struct graph *g, const struct ktcp *t, uint64_t ts)
{
	struct proc *p = live_proc(g, t->pid);
	if (p)
		tcp_queue(g, t, ts, p->serial);
}

/* serial: the holder's graph entry (its hold is decided then), 0: the
 * connection's ends only */
static void tcp_queue(struct graph *g, const struct ktcp *t, uint64_t ts, uint64_t serial)
{
	struct kevtab *kt = g->kev;
	if (!kt)
		return;
	if (kt->ncloses == KCLOSE_N) { /* full: the oldest now */
		close_apply(g, &kt->closes[kt->close_head]);
		kt->close_head = (kt->close_head + 1) % KCLOSE_N;
		kt->ncloses--;
	}
	struct kclose *x = &kt->closes[(kt->close_head + kt->ncloses++) % KCLOSE_N];
	x->t = *t;
	x->ts = ts;
	x->serial = serial;
}

static void closes_settle(struct graph *g, uint64_t now, uint64_t min_age_ns)
{
	struct kevtab *t = g->kev;
	while (t && t->ncloses) {
		struct kclose *x = &t->closes[t->close_head];
		if (min_age_ns && x->ts + min_age_ns > now)
			break;
		close_apply(g, x);
		t->close_head = (t->close_head + 1) % KCLOSE_N;
		t->ncloses--;
	}
}

/* ---- dark connections (chain.c) ---------------------------------------------- */

/* Does a process the shim describes hold socket c now by a record of its own? */
static int record_held(struct graph *g, const struct chan *c)
{
	if (c && c->vm_held)
		return 0; /* a vfork child's: what it read went to its creator */
	for (const struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		if (!h->until && !h->unconf && !h->unreported && h->how != HOLD_KERNEL &&
		    h->p->alive && shim_covers(g, h->p))
			return 1;
	return 0;
}

static int dark_uid(uid_t u, const uid_t *uids, size_t n, int any)
{
	if (u == 0)
		return 0; /* root's: root is trusted (docs/threat-model.md) */
	if (any || u == (uid_t)-1)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (uids[i] == u)
			return 1;
	return 0;
}

static int external(const struct gaddr *a)
{
	return (a->family == AF_INET || a->family == AF_INET6) && a->port &&
	       sd_is_local_addr(a->family, a->a) != 1;
}

/* Without the events (graph_kev_dark): the kernel's TCP table now — a
 * connection with another host of one of the uids that no record names, or
 * one its owner closed (no inode: an orphan, FIN_WAIT or closing) that the
 * graph's closed-connection index does not list. 1 found; else -1: what was
 * let go of and is gone from the table nothing attests. */
struct dark_dump_ctx {
	struct graph *g;
	const uid_t *uids;
	size_t n;
	int any;
	int (*reached)(void *ctx, uint64_t ino);
	void *ctx;
	struct graph_dark *why;
	uint64_t now;
	int found;
};

static int dark_dump_cb(void *vx, const struct sd_inet *s)
{
	struct dark_dump_ctx *x = vx;
	struct gaddr r;
	gaddr_of(&r, s->family, s->raddr, s->rport);
	/* an orphan its owner closed may be a timewait entry already (an
	 * orphaned FIN_WAIT2): no inode, and uid 0 for anyone's — unknown */
	uid_t u = !s->ino && !s->uid ? (uid_t)-1 : (uid_t)s->uid;
	if (!external(&r) || !dark_uid(u, x->uids, x->n, x->any))
		return 0;
	if (s->ino) {
		if (record_held(x->g, graph_chan(x->g, HT_CHAN_SOCK, 0, s->ino)) ||
		    (x->reached && x->reached(x->ctx, s->ino)))
			return 0;
	} else {
		struct ht_addr la = {.family = (uint16_t)s->family, .port = s->lport},
			       ra = {.family = (uint16_t)s->family, .port = s->rport};
		size_t len = s->family == AF_INET ? 4 : 16;
		memcpy(la.a, s->laddr, len);
		memcpy(ra.a, s->raddr, len);
		la.len = ra.len = (uint8_t)len;
		struct graph_closed e;
		if (graph_hist_find(x->g, &la, &ra, x->now, x->now, &e) >= 0)
			return 0; /* a closed connection the graph knows the holder of */
	}
	*x->why = (struct graph_dark){s->ino, u, 0, r};
	x->found = 1;
	return 1;
}

static int dark_dump(struct graph *g, const uid_t *uids, size_t n, int any,
		     int (*reached)(void *ctx, uint64_t ino), void *ctx, struct graph_dark *why)
{
	int nl = graph_nl(g);
	if (nl < 0 || !g->conf.use_procfs)
		return -1;
	struct dark_dump_ctx x = {g, uids, n, any, reached, ctx, why, procfs_mono_ns(), 0};
	/* ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, LAST_ACK, CLOSING */
	uint32_t states = 1u << 1 | 1u << 4 | 1u << 5 | 1u << 8 | 1u << 9 | 1u << 11;
	sd_inet_dump(nl, 0, states, dark_dump_cb, &x);
	return x.found ? 1 : -1;
}

int graph_kev_dark(struct graph *g, uint64_t from, const uid_t *uids, size_t n, int any,
		   pid_t skip, int (*reached)(void *ctx, uint64_t ino), void *ctx,
		   struct graph_dark *why)
{
	struct kevtab *t = g->kev_on ? g->kev : NULL;
	if (!g->kev_on || graph_kev_lost_for(g, from, uids, n, any))
		/* no events, or lost lately — anyone's, or a user's of the walk
		 * (absence proves nothing): what the kernel's table shows now,
		 * and -1 for the rest */
		return dark_dump(g, uids, n, any, reached, ctx, why);
	if (!t)
		return 0; /* no event yet */
	/* let go of since from (the kernel's close) */
	for (unsigned i = 0; i < KDARK_N; i++) {
		const struct kdark *d = &t->dark[i];
		if (d->ino && d->until >= from && dark_uid(d->uid, uids, n, any) &&
		    !(reached && reached(ctx, d->ino))) {
			*why = (struct graph_dark){d->ino, d->uid, 0, d->remote};
			return 1;
		}
	}
	int nl = graph_nl(g);
	/* held now: passive opens not closed by their owner yet */
	for (unsigned i = 0; i < KPAS_N; i++) {
		struct kpas *ps = &t->pas[i];
		if (!ps->ts || ps->reported || !external(&ps->remote) ||
		    (ps->uid != (uid_t)-1 && !dark_uid(ps->uid, uids, n, any)))
			continue; /* (its owner from the event: no sock_diag for it) */
		struct sd_inet so;
		if (nl < 0)
			return -1;
		int rc = sd_inet_lookup(nl, ps->remote.family, ps->local.a, ps->local.port,
					ps->remote.a, ps->remote.port, &so);
		if (rc == -ENOENT) {
			ps->ts = 0; /* gone (a reset: no owner's close) */
			continue;
		}
		if (rc != 0)
			return -1;
		if (!so.ino || so.state == 6 /* TIME_WAIT */)
			continue; /* not accepted yet: nobody read from it */
		if (!so.uid || record_held(g, graph_chan(g, HT_CHAN_SOCK, 0, so.ino))) {
			ps->reported = 1; /* (root's, or a record names it: once) */
			continue;
		}
		if (dark_uid((uid_t)so.uid, uids, n, any) && !(reached && reached(ctx, so.ino))) {
			*why = (struct graph_dark){so.ino, (uid_t)so.uid, 0, ps->remote};
			return 1;
		}
	}
	/* held now: connects not closed by their owner yet */
	for (unsigned i = 0; i < KTCP_N; i++) {
		const struct ktcp *k = &t->tcp[i];
		if (!k->ino || k->closed || k->dir != 'o' || k->pid == skip || !external(&k->remote))
			continue;
		if (record_held(g, graph_chan(g, HT_CHAN_SOCK, 0, k->ino)))
			continue;
		/* its uid: the socket's owner by the event, else its connector's
		 * (the graph's, then sock_diag's, then /proc's) */
		const struct proc *p = live_proc(g, k->pid);
		struct sd_inet so;
		struct procfs_stat st;
		uid_t u = k->uid != (uid_t)-1 ? k->uid : p ? p->uid : (uid_t)-1;
		if (u == (uid_t)-1 && k->local.port && nl >= 0 &&
		    sd_inet_lookup(nl, k->remote.family, k->local.a, k->local.port, k->remote.a,
				   k->remote.port, &so) == 0 && so.ino == k->ino)
			u = (uid_t)so.uid;
		else if (u == (uid_t)-1 && g->conf.use_procfs && procfs_stat(k->pid, &st) == 0)
			u = st.uid;
		if (dark_uid(u, uids, n, any) && !(reached && reached(ctx, k->ino))) {
			*why = (struct graph_dark){k->ino, u, k->pid, k->remote};
			return 1;
		}
	}
	return 0;
}
