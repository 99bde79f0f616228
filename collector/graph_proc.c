/*
 * graph_proc.c — the graph's /proc completion (docs/chain-model.md "Kernel
 * fallback", "Claims", "Lineage gaps"): what the kernel says one fd of a
 * process is (one fstatat through a cached /proc/PID/fd directory fd), the
 * kernel's parent, group, session and start of a pid; a process's fd table
 * re-read from /proc (exec, RESYNC, a fork child's inherited fds); processes
 * the shim did not describe (graph_proc_kernel: with their fds and their
 * parents up to a known process); the creator a lineage gap gets; exe, argv0
 * and sha256 of an image.
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

#include "graph_int.h"
#include "hoptrace/procfs.h"
#include "hoptrace/sockdiag.h"
#include "sha256.h"

/* Is pid in the collector's network namespace? (another namespace is another
 * host: never a process of this graph) */
static int in_my_netns(struct graph *g, pid_t pid)
{
	uint64_t ns;
	if (!g->conf.use_procfs || !g->my_netns)
		return 1;
	if (procfs_netns(pid, &ns) != 0)
		return 0;
	return ns == g->my_netns;
}

/* ---- the kernel's view of a claim ------------------------------------------ */

void dcache_drop(struct graph *g, const struct proc *p)
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
		int dfd = proc_gone(g, p) ? -ENOENT : procfs_fd_dir(p->pid);
		if (dfd == -ENOENT)
			p->kernel_gone = 1; /* no process has its pid now */
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

/* Does the kernel show fd of p as channel k now? 1 yes (or nothing to ask
 * with: checks off), 0 no. */
int kernel_shows(struct graph *g, struct proc *p, int fd, const struct ht_chan *k)
{
	struct ht_chan cur;
	if (!checking(g))
		return 1;
	return kernel_fd(g, p, fd, &cur) == 0 && same_key(&cur, k);
}

/* ---- one step's memo of /proc/PID/stat ------------------------------------- */

/* A step is one record's application or one kernel event's (nested steps
 * share the outer one's memo). Within it a pid's stat is read once: the
 * creator check, the kernel event's lineage check, the sender's identity and
 * its exit check asked the same file up to four times, and most of those
 * reads failed (the process had ended before its records were read). Only
 * the answer of the same instant is reused; a check that must see a change
 * (proc_sync_fds: a zombie after the fd read) asks afresh (kstat_fresh). */
void kmemo_begin(struct graph *g)
{
	if (!g->kmemo_depth++)
		g->kmemo_n = 0;
}

void kmemo_end(struct graph *g)
{
	if (g->kmemo_depth && !--g->kmemo_depth)
		g->kmemo_n = 0;
}

static struct kmemo *kmemo_find(const struct graph *g, pid_t pid)
{
	for (unsigned i = 0; i < g->kmemo_n; i++)
		if (g->kmemo[i].pid == pid)
			return (struct kmemo *)&g->kmemo[i];
	return NULL;
}

static int kstat_read(struct graph *g, pid_t pid, struct procfs_stat *st, int want_uid)
{
	int rc = want_uid ? procfs_stat(pid, st) : procfs_stat_nouid(pid, st);
	if (rc == -ENOENT) {
		/* no process has the pid now: the graph's entry of it (made
		 * for a process that existed before now) has ended */
		struct proc *lp = graph_proc(g, pid);
		if (lp)
			lp->kernel_gone = 1;
	}
	if (!g->kmemo_depth)
		return rc;
	struct kmemo *m = kmemo_find(g, pid);
	if (!m) {
		m = &g->kmemo[g->kmemo_n < KMEMO_N ? g->kmemo_n++ : (unsigned)pid % KMEMO_N];
	}
	*m = (struct kmemo){.pid = pid, .rc = rc, .has_uid = (uint8_t)(want_uid || rc != 0), .st = *st};
	return rc;
}

/* procfs_stat (want_uid) or procfs_stat_nouid of pid, once a step */
int kstat(struct graph *g, pid_t pid, struct procfs_stat *st, int want_uid)
{
	struct kmemo *m = g->kmemo_depth ? kmemo_find(g, pid) : NULL;
	if (m && !m->has_uid && want_uid) {
		/* the stat of this step, and now the uid (status) */
		m->rc = procfs_uid(pid, &m->st.uid);
		m->has_uid = 1;
	}
	if (m) {
		*st = m->st;
		return m->rc;
	}
	return kstat_read(g, pid, st, want_uid);
}

/* pid's uid: this step's stat's when it has it, else /proc/PID/status alone
 * (no stat read for it: a fork child whose fork event is its own by its
 * pidfd, graph_kev.c current, needs none) */
static int kuid(struct graph *g, pid_t pid, uid_t *uid)
{
	struct procfs_stat st;
	if (g->kmemo_depth && kmemo_find(g, pid)) {
		int rc = kstat(g, pid, &st, 1);
		*uid = st.uid;
		return rc;
	}
	int rc = procfs_uid(pid, uid);
	if (rc == -ENOENT || rc == -ESRCH) {
		struct proc *lp = graph_proc(g, pid);
		if (lp)
			lp->kernel_gone = 1;
	}
	return rc;
}

/* Has this step found pid gone from /proc? (its exe, cmdline and fd table
 * are gone with it: not asked) */
int kgone(const struct graph *g, pid_t pid)
{
	const struct kmemo *m = g->kmemo_depth ? kmemo_find(g, pid) : NULL;
	return m && (m->rc == -ENOENT || m->rc == -ESRCH);
}

/* Is p known to have ended by /proc's word (this step's, or an earlier
 * one's about p itself)? Its fds, exe and claims are not read again. */
int proc_gone(const struct graph *g, const struct proc *p)
{
	return p->kernel_gone || kgone(g, p->pid);
}

static int kproc_of(struct graph *g, pid_t pid, struct graph_kproc *k, int fresh)
{
	memset(k, 0, sizeof(*k));
	if (g->conf.kernel_proc)
		return g->conf.kernel_proc(g->conf.kernel_ctx, pid, k);
	if (!g->conf.use_procfs)
		return -ENOSYS;
	struct procfs_stat st;
	int rc = fresh ? kstat_read(g, pid, &st, 0) : kstat(g, pid, &st, 0);
	if (rc)
		return rc;
	*k = (struct graph_kproc){st.ppid, st.pgrp, st.sid, st.starttime, st.state};
	if (k->state == 'Z' && procfs_other_thread(pid) > 0)
		/* its leader ended, its threads run on: a live process (taken
		 * for ended, its table — B's connection in a thread — went
		 * unread: tests/func/attack_review_rawfd_leader.sh) */
		k->state = 'S';
	return 0;
}

/* The kernel's parent, group, session, start of pid (hooks or /proc) */
int kernel_proc(struct graph *g, pid_t pid, struct graph_kproc *k)
{
	return kproc_of(g, pid, k, 0);
}

/* The kernel still runs p: the same process (its start time, when known),
 * not a zombie. */
int kernel_runs(struct graph *g, const struct proc *p)
{
	struct graph_kproc k;
	return kernel_proc(g, p->pid, &k) == 0 && k.state != 'Z' && k.state != 'X' &&
	       (!p->start || k.start == p->start);
}

/* ---- fd tables from /proc ------------------------------------------------- */

/* The end of a pipe/FIFO (access mode: the mode bits of the /proc/PID/fd link)
 * or of a pty (ptmx is the master) that fd is; 0 when /proc cannot say. */
uint8_t fd_ends(struct graph *g, pid_t pid, int fd, uint8_t kind)
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

/* A unix socket whose peer is the collector's own end: a shim's record
 * connection (or a query's), never reported by the shim and nobody's source
 * (1, and marked so); or connected to a listener that has not accepted it
 * yet (the kernel names no peer: a shim's record socket while the collector
 * lags — nothing came through it yet; asked again by the next walk: 2). */
static int record_socket(struct graph *g, const struct ht_chan *k)
{
	uint64_t peer;
	struct chan *pc;
	if (k->kind != HT_CHAN_SOCK || !g->conf.use_procfs || graph_nl(g) < 0)
		return 0;
	int rc = sd_unix_peer(g->nl, k->ino, &peer);
	if (rc == -EAGAIN)
		return 2;
	if (rc != 0)
		return 0;
	pc = graph_chan(g, HT_CHAN_SOCK, 0, peer);
	return pc && pc->internal;
}

/* A unix datagram socket the graph does not know that nothing can come in
 * through now (sd_unix_dead_end: no name, no peer, nothing queued) — the
 * shim's doorbell, which a one-thread process makes in its own table between
 * its CONNECT record and its connect(), found by a read the doorbell woke.
 * No channel of the chain model while so: not put in the graph, so the next
 * read asks again (bound, connected or with a datagram queued, it counts). */
static int dead_end_socket(struct graph *g, const struct ht_chan *k)
{
	if (k->kind != HT_CHAN_SOCK || !g->conf.use_procfs || graph_nl(g) < 0)
		return 0;
	return sd_unix_dead_end(g->nl, k->ino) == 1;
}

/* Not a channel of the chain model, whatever fd shows it: the collector's own
 * end of a connection, or an unknown socket that is the shim's (its doorbell,
 * its record connection: above). Asked by every read of a process's fd table —
 * the sync (proc_sync_fds) as the walk's check (check_cb): the doorbell of a
 * one-thread process lives in its own table for the instant between its
 * CONNECT record and its connect(), and the read the doorbell woke sees it;
 * taken as a hold it became, once closed, history of the process — 32 of them
 * in the window made every walk of a busy client "truncated", its chains
 * incomplete and its SYNs refused by @incomplete (tests/bench/guard.sh). */
static int not_a_channel(struct graph *g, const struct chan *c, const struct ht_chan *k,
			 uint64_t ts)
{
	if (c)
		return c->internal || (c->peer && c->peer->internal);
	if (dead_end_socket(g, k))
		return 1;
	int rs = record_socket(g, k);
	if (rs == 1) {
		struct ht_chan rk = {HT_CHAN_SOCK, 0, k->ino};
		struct chan *rc = chan_get(g, &rk, ts);
		if (rc)
			rc->internal = 1; /* asked once */
	}
	return rs != 0;
}

struct sync_ctx {
	struct graph *g;
	struct proc *p;
	uint64_t ts, since; /* since: what a new fd's hold is dated from */
	uint8_t how;
	int *seen;
	size_t nseen, cap, n;
	uint64_t cpu_deadline; /* 0: unbounded (root's) */
};

static int sync_cb(void *vctx, int fd, const struct ht_chan *k)
{
	struct sync_ctx *x = vctx;
	if (x->cpu_deadline && (++x->n & 63) == 0 && procfs_cpu_ns() >= x->cpu_deadline)
		return 1; /* cut short: the rest is not read */
	if (k->kind == HT_CHAN_SOCK &&
	    not_a_channel(x->g, graph_chan(x->g, HT_CHAN_SOCK, 0, k->ino), k, x->ts))
		return 0; /* not seen: what the graph had on that fd is gone */
	if (x->nseen < x->cap)
		x->seen[x->nseen++] = fd;
	/* an fd number that now names another channel: the old one went at
	 * this read (not when the new one is dated from) */
	struct fdent *e = x->since != x->ts ? fd_find(x->p, fd) : NULL;
	if (e && e->h) {
		struct ht_chan ek = {e->h->c->kind, e->h->c->dev, e->h->c->ino};
		if (!same_key(&ek, k))
			fd_unset(x->g, x->p, fd, x->ts);
	}
	fd_set_key(x->g, x->p, fd, k, x->since, x->how, fd_ends(x->g, x->p->pid, fd, k->kind));
	if (k->kind == HT_CHAN_SOCK)
		pend_socket(x->g, k);
	return 0;
}

static int int_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int scan_admit(void *vg, uid_t uid);
static void scan_charge(void *vg, uid_t uid, uint64_t ns, uint64_t fds);

/* Makes p's fd table equal to /proc/PID/fd. Returns 0, or -errno if /proc
 * could not be read or p has exited (p unchanged), -EAGAIN when p's uid has
 * no scan share left (p unchanged, fds_stale). A non-root process's read is
 * charged to its uid's scan share (as holder scans are) and cut short after
 * GRAPH_SYNC_BUDGET_NS of CPU: what was read is added, nothing is taken away,
 * and p is fds_stale — so a process's many fds (one pipe dup2()ed 500,000
 * times), re-read on every RESYNC, EXEC or fork, cost the collector a bounded
 * share, and the chains through it say they may be incomplete. */
int proc_sync_fds(struct graph *g, struct proc *p, uint64_t ts, uint8_t how)
{
	return proc_sync_fds_since(g, p, ts, ts, how);
}

int proc_sync_fds_since(struct graph *g, struct proc *p, uint64_t ts, uint64_t since, uint8_t how)
{
	int seen[1024];
	struct sync_ctx x = {.g = g, .p = p, .ts = ts, .since = since, .how = how, .seen = seen,
			     .cap = sizeof(seen) / sizeof(seen[0])};
	if (!g->conf.use_procfs)
		return -ENOSYS;
	if (proc_gone(g, p))
		return -ENOENT; /* (ended: /proc said so) */
	int bounded = p->uid != 0 && p->uid != (uid_t)-1;
	if (bounded && !scan_admit(g, p->uid)) {
		p->fds_stale = 1;
		return -EAGAIN;
	}
	g->st.proc_reads++;
	uint64_t c0 = procfs_cpu_ns();
	if (bounded)
		x.cpu_deadline = c0 + GRAPH_SYNC_BUDGET_NS;
	struct timespec rt;
	clock_gettime(CLOCK_MONOTONIC, &rt); /* the records' clock */
	int rc = procfs_fds_until(p->pid, x.cpu_deadline, sync_cb, &x);
	if (bounded)
		scan_charge(g, p->uid, procfs_cpu_ns() - c0, x.n);
	if (rc == -ENOENT)
		p->kernel_gone = 1;
	if (rc < 0)
		return rc;
	if (rc > 0) {
		/* cut short: keep what we have, add what was read */
		p->fds_stale = 1;
		p->synced_ts = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
		return 0;
	}
	p->fds_stale = 0;
	/* a zombie's /proc/PID/fd is there and empty: that says nothing of what
	 * it held (a `$(...)` child gone before its BIRTH was applied, not yet
	 * reaped: it inherits from its creator instead) */
	struct graph_kproc k;
	if (!x.nseen && (kproc_of(g, p->pid, &k, 1) != 0 || k.state == 'Z' || k.state == 'X'))
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
void inherit_from(struct graph *g, struct proc *p, struct proc *c, uint64_t fork_ts)
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
	 * was applied — none when it never closed one by record, or its last
	 * close (when still known) was before the fork */
	const struct lastclose *lc = &g->lastclose[c->serial % LASTCLOSE_N];
	int closed_since = c->closed_rec && (lc->serial != c->serial || lc->ts > fork_ts);
	for (uint32_t i = 0; closed_since && g->closes && i < CLOSES_MAX; i++) {
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
	 * creator's uid (chain.c claim_ok). The child's copy lasts until the
	 * child ends (proc_end): when the creator's claim ended says nothing of
	 * the child — it ended when its record was applied, or when the creator
	 * closed it, and curl in `curl | sh` wrote to the pipe and connected
	 * after that. */
	for (struct hold *x = c->holds; x; x = x->pnext) {
		if (!x->unconf || x->how == HOLD_INHERITED || x->since > fork_ts ||
		    fork_ts >= x->until || oh_find(g, p, x->c))
			continue;
		struct hold *h = hold_open(g, p, x->c, fork_ts, HOLD_INHERITED);
		if (!h)
			break;
		h->unconf = 1;
		h->ends = x->ends;
		if (!p->alive)
			hold_close(g, h, p->exit_ts > fork_ts ? p->exit_ts : fork_ts + 1);
	}
}
/* ---- an image's identity: exe, argv0, sha256 ---------------------------- */

void proc_hash(struct graph *g, struct proc *p)
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

/* A fork child still running its creator's image (graph_apply.c
 * proc_arrive): start from its fork event, uid from /proc; its exe, argv0
 * and sha256 are its creator's (copied by the caller). */
void proc_fill_uid(struct graph *g, struct proc *p, uint64_t start)
{
	uid_t uid;
	if (!g->conf.use_procfs)
		return;
	p->start = start;
	/* (the stat kev_lineage read in this step, if it read one, and now
	 * the status) */
	if (!proc_gone(g, p) && kuid(g, p->pid, &uid) == 0)
		p->uid = uid;
	else if (proc_gone(g, p))
		p->kernel_gone = 1;
}

static void fill_image(struct graph *g, struct proc *p);

void proc_fill_identity(struct graph *g, struct proc *p)
{
	struct procfs_stat st;
	if (!g->conf.use_procfs)
		return;
	if (kstat(g, p->pid, &st, 1) == 0) {
		p->start = st.starttime;
		p->uid = st.uid;
	} else if (proc_gone(g, p)) {
		p->kernel_gone = 1;
		return; /* ended: no exe, cmdline or executable to read */
	}
	fill_image(g, p);
}

void proc_fill_identity_at(struct graph *g, struct proc *p, uint64_t start)
{
	uid_t uid;
	if (!g->conf.use_procfs)
		return;
	p->start = start;
	if (!proc_gone(g, p) && kuid(g, p->pid, &uid) == 0) {
		p->uid = uid;
	} else if (proc_gone(g, p)) {
		p->kernel_gone = 1;
		return; /* ended: no exe, cmdline or executable to read */
	}
	fill_image(g, p);
}

static void fill_image(struct graph *g, struct proc *p)
{
	char buf[HT_REC_PATH_MAX + 1];
	if (!p->exe[0] && procfs_exe(p->pid, buf, sizeof(buf)) == 0)
		p->exe = graph_intern(g, buf);
	if (!p->argv0[0] && procfs_argv0(p->pid, buf, sizeof(buf)) == 0)
		p->argv0 = graph_intern(g, buf);
	proc_hash(g, p);
}
/* ---- processes the shim did not describe; creators ------------------------ */

/* The creator a record claims (BIRTH) or implies (IMAGE's ppid). Only a process
 * of this host counts; one we never heard of is created from /proc. */
struct proc *find_creator(struct graph *g, pid_t cpid, uint64_t birth_ts, uint64_t now)
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

/* A process found from /proc that the kernel event source saw fork: its
 * creator is the fork event's (the process that forked it, not the parent it
 * was re-parented to), and its birth the fork's exact time (/proc's is
 * rounded down to a clock tick: before its creator's, within the tick). The
 * creator is the graph's entry, alive or ended, or one made from its own
 * events (kev_creator_of) — the shim may have been off in it for any reason.
 * Else /proc's parent, as without the source (and kernel_lineage for an
 * orphan). */
static void kev_creator(struct graph *g, struct proc *p, const struct procfs_stat *st, uint64_t now)
{
	pid_t cpid;
	uint64_t fork_ts;
	struct proc *c = kev_creator_of(g, p->pid, st->starttime, now, &cpid, &fork_ts);
	if (!cpid)
		return;
	if (cpid == 1)
		p->creator_init = 1; /* a child of init's, by the kernel's word */
	if (fork_ts && fork_ts <= now)
		p->birth_ts = fork_ts;
	p->creator_pid = cpid;
	p->seen_kev = 1;
	if (c && c != p && born_by(c, p))
		set_creator(p, c);
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
	p->start = st->starttime;
	p->creator_pid = st->ppid;
	kev_creator(g, p, st, now);
	proc_fill_identity(g, p);
	proc_sync_fds(g, p, p->birth_ts, HOLD_KERNEL);
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
	if (kstat(g, pid, &st, 1) != 0 || !in_my_netns(g, pid))
		return NULL;
	p = proc_from_kernel(g, pid, &st, now);
	if (!p)
		return NULL;
	/* lineage: follow parents from /proc while they are on this host; bounded */
	struct proc *child = p;
	for (int depth = 0; depth < 64 && !child->creator && child->creator_pid > 1; depth++) {
		struct proc *c = live_proc(g, child->creator_pid);
		if (c) {
			if (born_by(c, child))
				set_creator(child, c);
			break;
		}
		if (kstat(g, child->creator_pid, &st, 1) != 0 || !in_my_netns(g, child->creator_pid))
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
		if (!kernel_runs(g, p)) {
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

int graph_proc_running(struct graph *g, struct proc *p, uint64_t now)
{
	if (!graph_verify_alive(g, p, now))
		return 0;
	return !g->conf.use_procfs || kernel_runs(g, p);
}

/* ---- holder scans, charged to the uid whose processes cost them ---------- */

#define scan_now procfs_mono_ns

/* the debt of a, paid off at GRAPH_SCAN_SHARE percent of a core since */
static void scan_settle(struct uacct *a, uint64_t now)
{
	uint64_t paid = (now - a->scan_ts) / 100 * GRAPH_SCAN_SHARE;
	a->scan_debt_ns = a->scan_debt_ns > paid ? a->scan_debt_ns - paid : 0;
	a->scan_ts = now;
}

static int scan_admit(void *vg, uid_t uid)
{
	if (uid == 0)
		return 1; /* root's processes: always read */
	struct uacct *a = acct_of(vg, uid);
	if (!a)
		return 1;
	scan_settle(a, scan_now());
	return a->scan_debt_ns < GRAPH_SCAN_BURST_NS;
}

static void scan_charge(void *vg, uid_t uid, uint64_t ns, uint64_t fds)
{
	(void)fds;
	if (uid == 0)
		return;
	struct uacct *a = acct_of(vg, uid);
	if (!a)
		return;
	scan_settle(a, scan_now());
	a->scan_debt_ns += ns;
}

int graph_scan_holders(struct graph *g, uint64_t ino, struct procfs_scan *s,
		       int (*cb)(void *ctx, pid_t pid, int fd), void *ctx)
{
	s->admit = scan_admit;
	s->charge = scan_charge;
	s->actx = g;
	/* a holder in another namespace is never a process of this graph
	 * (graph_proc_resync refuses it): not worth reading its fds */
	s->netns = g->conf.use_procfs ? g->my_netns : 0;
	int rc = procfs_holders_scan(ino, s, cb, ctx);
	g->st.holder_scans++;
	g->st.holder_scan_ns += s->ns;
	if (s->incomplete)
		g->st.holder_scans_incomplete++;
	return rc;
}

int graph_scan_pipe_holders(struct graph *g, uint64_t dev, uint64_t ino, struct procfs_scan *s,
			    int (*cb)(void *ctx, pid_t pid, int fd), void *ctx)
{
	s->admit = scan_admit;
	s->charge = scan_charge;
	s->actx = g;
	/* as a socket's: a holder in another namespace is another host's
	 * (without it every process of the machine was read, and another
	 * host's fds spent the query's budget) */
	s->netns = g->conf.use_procfs ? g->my_netns : 0;
	int rc = g->conf.kernel_pipe_holders
			 ? g->conf.kernel_pipe_holders(g->conf.kernel_ctx, dev, ino, s, cb, ctx)
			 : procfs_pipe_holders_scan(dev, ino, s, cb, ctx);
	g->st.holder_scans++;
	g->st.holder_scan_ns += s->ns;
	if (s->incomplete)
		g->st.holder_scans_incomplete++;
	return rc;
}

/* What a /proc read finds p holds that the graph did not know: held since
 * when? For an image that exec'd without announcing itself (a static binary:
 * no IMAGE) since the kernel's exec event, when the source saw it — for all
 * anyone knows: a static reader's FIFO, opened before the writer that fed it
 * ended (tests/func/kev_fifo.sh). Else since now, as without the source. */
static uint64_t new_fd_since(struct graph *g, const struct proc *p, uint64_t now)
{
	struct kev_lineage kl;
	if (p->exec_pending && kev_lineage(g, p->pid, &kl) == 0 && kl.exec_known &&
	    kl.exec_ts > p->exec_ts && kl.exec_ts < now)
		return kl.exec_ts;
	return now;
}

struct proc *graph_proc_resync(struct graph *g, pid_t pid, uint64_t now)
{
	struct proc *p = live_proc(g, pid);
	if (!p)
		return graph_proc_kernel(g, pid, now);
	if (proc_sync_fds_since(g, p, now, new_fd_since(g, p, now), HOLD_KERNEL) != 0 &&
	    kill(pid, 0) != 0 && errno == ESRCH)
		proc_end(g, p, now);
	return p->alive ? p : NULL;
}

void graph_subject_refresh(struct graph *g, struct proc *p, uint64_t now)
{
	if (p && p->alive && p->sender_kernel && g->conf.use_procfs)
		graph_proc_resync(g, p->pid, now);
}

struct check_ctx {
	struct graph *g;
	struct proc *p;
	uint64_t ts, cpu_deadline;
	size_t n;
	int found, cut;
};

static int check_cb(void *vctx, int fd, const struct ht_chan *k)
{
	struct check_ctx *x = vctx;
	struct graph *g = x->g;
	if (x->cpu_deadline && (++x->n & 63) == 0 && procfs_cpu_ns() >= x->cpu_deadline) {
		x->cut = 1;
		return 1; /* cut short: the rest is not read */
	}
	uint8_t kind = key_kind(k->kind);
	struct chan *c = graph_chan(g, kind, kind == HT_CHAN_PIPE ? k->dev : 0, k->ino);
	if (not_a_channel(g, c, k, x->ts))
		return 0; /* the collector's or the shim's: not a channel of the chain model */
	struct hold *h = c ? oh_find(g, x->p, c) : NULL;
	if (h && !h->until)
		return 0; /* the graph knows p holds it (on this fd or another) */
	if (fd_set_key(g, x->p, fd, k, x->ts, HOLD_KERNEL, fd_ends(g, x->p->pid, fd, k->kind)) != 0)
		return 0; /* over a bound: counted there */
	struct fdent *e = fd_find(x->p, fd);
	if (e && e->h) {
		e->h->unreported = 1;
		/* when it was taken no record says and the kernel does not show:
		 * held, for all we know, since the process began — so a creator
		 * that raw-accepted B's connection, then forked the child that
		 * connects, held it at that child's birth (chain.c judges a
		 * creator then; dated now, it was neither live nor history) */
		if (e->h->how == HOLD_KERNEL && e->h->since == x->ts && x->p->birth_ts &&
		    x->p->birth_ts < e->h->since)
			e->h->since = x->p->birth_ts;
	}
	if (k->kind == HT_CHAN_SOCK)
		pend_socket(g, k);
	x->found++;
	return 0;
}

void graph_check_round(struct graph *g, int open)
{
	g->check_round = open ? ++g->check_rounds : 0;
}

int graph_proc_check_fds(struct graph *g, struct proc *p, uint64_t ts, uint64_t cpu_deadline)
{
	struct check_ctx x = {.g = g, .p = p, .ts = ts};
	if (!p->alive || (!g->conf.kernel_fds && !g->conf.use_procfs))
		return -ENOSYS;
	if (g->check_round && p->checked_round == g->check_round)
		/* compared in full in this round (what it found is in the graph
		 * now; still said: the walk's answer depends on the kernel) */
		return (int)p->checked_found;
	int bounded = p->uid != 0 && p->uid != (uid_t)-1;
	if (bounded && !scan_admit(g, p->uid))
		return -EAGAIN;
	g->st.proc_reads++;
	uint64_t c0 = procfs_cpu_ns();
	if (bounded) {
		x.cpu_deadline = c0 + GRAPH_SYNC_BUDGET_NS;
		if (cpu_deadline && cpu_deadline < x.cpu_deadline)
			x.cpu_deadline = cpu_deadline;
	}
	int rc = g->conf.kernel_fds ? g->conf.kernel_fds(g->conf.kernel_ctx, p->pid, x.cpu_deadline,
						      check_cb, &x)
				    : procfs_fds_until(p->pid, x.cpu_deadline, check_cb, &x);
	if (rc > 0)
		x.cut = 1; /* (the deadline passed among fds that are no channel) */
	if (bounded)
		scan_charge(g, p->uid, procfs_cpu_ns() - c0, x.n);
	if (x.found) {
		g->changes++;
		g->st.unreported_fds += (uint64_t)x.found;
	}
	if (x.cut)
		return -EAGAIN;
	if (rc < 0)
		return rc;
	p->checked_round = g->check_round;
	p->checked_found = (uint32_t)x.found;
	return x.found;
}

struct proc *graph_creator(struct graph *g, struct proc *p, uint64_t now)
{
	if (p->creator || p->foreign_creator || p->creator_pid <= 1)
		return p->creator;
	if (!p->alive || !g->conf.use_procfs)
		return NULL;
	struct proc *c = find_creator(g, p->creator_pid, p->birth_ts, now);
	g->changes++;
	if (c && c != p && born_by(c, p))
		set_creator(p, c);
	else
		p->foreign_creator = 1;
	return p->creator;
}

int graph_lineage_gap(const struct proc *p)
{
	if (p->creator || p->uid == 0)
		return 0;
	/* re-parented to init: what created it is not known; or the kernel's
	 * fork event names a creator the graph cannot place */
	return (p->creator_pid <= 1 && !p->creator_init) || (p->seen_kev && p->foreign_creator);
}

void graph_refresh(struct graph *g, struct proc *p, uint64_t now)
{
	char buf[HT_REC_PATH_MAX + 1];
	if (p->alive && p->fds_stale && !p->exec_pending && g->conf.use_procfs) {
		/* a read cut short or put off: again, if its uid has the share */
		proc_sync_fds(g, p, now, HOLD_KERNEL);
		return;
	}
	if (!p->alive || !p->exec_pending || !g->conf.use_procfs)
		return;
	g->changes++;
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
	proc_sync_fds_since(g, p, now, new_fd_since(g, p, now), HOLD_KERNEL);
	p->seen_kernel = 1;
	p->exec_pending = 0;
}

/* A process whose creator neither a record nor its kernel parent names (it
 * was re-parented: whatever created it ran without the shim — HOPTRACE_DISABLE,
 * a static binary — and has ended): the leader of its process group, else of
 * its session, when the graph or /proc knows one born before it. The gap is
 * marked (lineage_kernel: seen "kernel", the chain a fallback). A setsid'd
 * orphan of an unshimmed process keeps no trace the kernel shows; the
 * kernel-events issue (process creation reported by the kernel itself) will
 * set the creator before this runs, and wins: this is only asked while
 * p->creator is unknown. */
void kernel_lineage(struct graph *g, struct proc *p, uint64_t now)
{
	struct graph_kproc k;
	if (p->creator || !checking(g) || kernel_proc(g, p->pid, &k) != 0)
		return;
	pid_t cand[2] = {k.pgrp, k.sid};
	for (int i = 0; i < 2; i++) {
		if (cand[i] <= 1 || cand[i] == p->pid || (i == 1 && cand[1] == cand[0]))
			continue;
		struct proc *c = graph_proc(g, cand[i]);
		if (c && !c->alive && c->exit_ts + HT_REC_MAX_SKEW_NS < p->birth_ts)
			c = NULL; /* ended before p: another process of that pid */
		if (!c && g->conf.use_procfs)
			c = graph_proc_kernel(g, cand[i], now);
		if (!c || c == p || !born_by(c, p))
			continue;
		set_creator(p, c);
		g->changes++;
		p->creator_pid = c->pid;
		p->foreign_creator = 0;
		p->lineage_kernel = p->seen_kernel = 1;
		g->st.lineage_kernel++;
		return;
	}
}

/* Is this already-known live entry the same process? */
int same_process(struct graph *g, struct proc *p)
{
	struct procfs_stat st;
	if (!g->conf.use_procfs || !p->start)
		return 1;
	if (kev_attested_start(g, p->pid, p->start))
		return 1; /* the record's sender is the fork event's process, of p's start */
	if (kstat(g, p->pid, &st, 0) != 0)
		return 1; /* gone already: cannot tell, keep */
	return st.starttime == p->start;
}

