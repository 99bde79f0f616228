/*
 * graph_apply.c — implements graph_apply(): one shim record, sent by a
 * kernel-attested (pid, uid), applied to the graph. Every record type has
 * one handler in `handlers` (indexed by enum ht_rec_type); graph_apply does
 * what they share: the sender's account, the sender's process (from /proc
 * when no BIRTH or IMAGE came), the counters and the trims after. Each claim
 * a handler makes is checked against the kernel first (graph_proc.c
 * kernel_shows, graph_sock.c; docs/chain-model.md "Claims" has the table).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "graph_int.h"
#include "hoptrace/procfs.h"

/* ---- processes and creators a record names -------------------------------- */

/* A process we hear from for the first time (or whose pid was reused).
 * kforked: the kernel's fork event named creator_pid, the event is the pid's
 * current process (kev_lineage), and every event up to when its record was
 * read has been read (graph_kev_fresh) with no exec among them: a fork child
 * still running its creator's image — its start is the event's, its image
 * the creator's, and /proc is asked only for its uid and fds. kstart (not
 * kforked): the start of the fork event the kernel attested as the sender's
 * own (kev_lineage attested) — no stat read for it, its image from /proc. */
static struct proc *proc_arrive(struct graph *g, pid_t pid, uid_t uid, pid_t creator_pid,
				uint64_t birth_ts, uint64_t now, const struct kev_lineage *kforked,
				uint64_t kstart)
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
	if (c && c != p) {
		/* the creator pid's process now may be its next one, born after
		 * this child's fork (the creator ended, its pid reused): judged by
		 * the kernel's times of the child — its fork event's, else /proc's
		 * start — never the record's (review 15) */
		struct graph_kproc ck;
		uint64_t kfork = 0, kst = 0;
		if (kev_fork_times(g, pid, &kfork, &kst) != 0) {
			kfork = kst = 0;
			if (g->conf.use_procfs && kernel_proc(g, pid, &ck) == 0)
				kst = ck.start;
		}
		if ((kfork || kst) && !born_before_fork(c, kfork, kst))
			c = NULL;
	}
	if (!c || c == p) {
		/* re-parented (an IMAGE's ppid 1: what created it ran without the
		 * shim and has ended): the kernel's fork event names its creator,
		 * made from its own events when the graph never knew it */
		pid_t kpid;
		uint64_t kfork;
		c = kev_creator_of(g, pid, 0, now, &kpid, &kfork);
		if (kpid == 1)
			p->creator_init = 1; /* a child of init's, by the kernel's word */
		if (c && c != p && c->birth_ts <= birth_ts + HT_REC_MAX_SKEW_NS)
			p->creator_pid = kpid;
		else
			c = NULL;
	}
	if (c && c != p)
		set_creator(p, c);
	else if (creator_pid > 1)
		p->foreign_creator = 1;
	if (kforked && p->creator)
		proc_fill_uid(g, p, kforked->start);
	else if (kstart && p->creator)
		proc_fill_identity_at(g, p, kstart);
	else
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

/* ---- what every handler shares --------------------------------------------- */

/* One record being applied: what it says, its kernel-attested sender, and
 * where a handler says why it refused it. */
struct rec {
	struct graph *g;
	pid_t pid;
	uid_t uid;
	struct proc *p;            /* the sender's process (sender(); NULL for
				    * BIRTH and IMAGE, which make it) */
	const struct ht_record *r;
	uint64_t now;
	const char **why;
};

/* A claim the kernel did not confirm: refused, counted for the sender's uid */
static int refuse(struct graph *g, uint64_t *counter, const char **why, const char *what)
{
	(*counter)++;
	if (g->cur_acct)
		g->cur_acct->refused_claims++;
	*why = what;
	return -EPERM;
}

/* chan_get or hold_open found no room: over a bound, or out of memory */
static int capped_rc(const struct graph *g)
{
	return g->capped ? -EDQUOT : -ENOMEM;
}

static int inet_family(int family)
{
	return family == AF_INET || family == AF_INET6;
}

/* The record's claim that fd is channel k, confirmed: into the fd table. */
static int hold_fd(const struct rec *x, int fd, const struct ht_chan *k, uint8_t how, uint8_t ends)
{
	return fd_rec(x->g, x->p, fd, chan_get(x->g, k, x->r->ts), x->r->ts, how, ends);
}

/* Re-reads the sender's fd table from /proc (the kernel's truth: records
 * older than the read are in it already and change it no more) — when a
 * record's fd no longer shows its channel, or a close would end the last fd
 * of a hold: the process may hold the channel on another fd the records did
 * not name (dup2 then close before the collector read the ACCEPT; an
 * F_DUPFD, a raw dup syscall). Not rate-limited (a sync just before the
 * dup would let it through): its cost is the sender's, in its uid's graph
 * time (record_rate_uid). 1 when c is held (open) after it. */
static int resync_holds(const struct rec *x, const struct chan *c)
{
	struct graph *g = x->g;
	struct proc *p = x->p;
	if (!c || !checking(g) || !g->conf.use_procfs)
		return 0;
	if (proc_sync_fds(g, p, x->r->ts, HOLD_INHERITED) != 0)
		return 0;
	return oh_find(g, p, c) != NULL;
}

/* Was a whole read of the sender's fd table made after the record was sent
 * (synced_ts: when that read began; not cut short)? Every fd a record names
 * existed by the record's time, so that read is the kernel's word on it —
 * as rec_close takes it: a close older than the read changes nothing. */
static int read_since(const struct rec *x)
{
	return x->p->synced_ts >= x->r->ts && !x->p->fds_stale;
}

/* Does the kernel show the sender's fd as k? After a read_since, that read
 * answers (the table it left, which the sender's older records change no
 * more: fd_rec): a lagging collector's round read the table once and asked
 * no fstatat per claim after it. Else one fstatat now (kernel_shows). */
static int claim_shows(const struct rec *x, int fd, const struct ht_chan *k)
{
	struct graph *g = x->g;
	if (!checking(g))
		return 1;
	if (g->conf.use_procfs && !g->conf.kernel_fd && read_since(x)) {
		struct fdent *e = fd_find(x->p, fd);
		if (!e || !e->h)
			return 0;
		struct ht_chan ek = {e->h->c->kind, e->h->c->dev, e->h->c->ino};
		return same_key(&ek, k);
	}
	return kernel_shows(g, x->p, fd, k);
}

/* The record's claim about k, not confirmed at its fd: held on another fd
 * by the kernel's word (resync_holds), else history only (fd_unconfirmed). */
static int unconfirmed(const struct rec *x, const struct ht_chan *k, uint8_t how, uint8_t ends)
{
	struct chan *c = graph_chan(x->g, k->kind, k->dev, k->ino);
	if (c && oh_find(x->g, x->p, c))
		return 0; /* held already (the kernel showed it before) */
	if (!c && checking(x->g) && x->g->conf.use_procfs)
		c = chan_get(x->g, k, x->r->ts);
	/* a whole read of the table since the record was sent (this round's
	 * first unconfirmed claim of the sender's, mostly) showed what it held
	 * then, and its records since are applied: c held on another fd would
	 * be held in the graph (oh_find above) — not read again per claim (a
	 * lagging collector re-read a table for each PIPE of a flood) */
	if (!read_since(x) && resync_holds(x, c)) {
		struct hold *h = oh_find(x->g, x->p, c);
		if (h && h->since >= x->r->ts) {
			h->how = how; /* what the record says it is (an accept: a hub's count) */
			h->ends |= ends;
		}
		return 0;
	}
	/* the fds the claim names, for their close (uclaim_close): a pipe's and
	 * a pty's two, a socketpair's second socket on fd2 */
	const struct ht_record *r = x->r;
	int fd = k == &r->chan2 ? r->fd2 : r->fd, fd2 = -1;
	if (r->type == HT_REC_PIPE || r->type == HT_REC_PTY)
		fd2 = r->fd2;
	return fd_unconfirmed(x->g, x->p, k, r->ts, x->now, how, ends, fd, fd2);
}

/* A close of fd (or a dup over it) ends its hold when fd is the last fd of
 * it the table knows: for a socket, ask the kernel first whether another fd
 * still holds it (resync_holds). 1 when the re-read made the record moot. */
static int last_fd_resynced(const struct rec *x, int fd)
{
	struct fdent *e = fd_find(x->p, fd);
	if (!e || !e->h || e->h->nfds != 1 || e->h->c->kind != HT_CHAN_SOCK)
		return 0;
	uint64_t before = x->p->synced_ts;
	resync_holds(x, e->h->c);
	return x->p->synced_ts != before && x->r->ts < x->p->synced_ts;
}

/* Does the kernel still show channel c on fd of p? A close of fd (or a dup
 * over it) would then hide a hold the process still has. */
static int kernel_keeps(struct graph *g, struct proc *p, int fd, const struct chan *c)
{
	struct ht_chan k = {c->kind, c->dev, c->ino};
	return checking(g) && kernel_shows(g, p, fd, &k);
}

/* ---- processes: BIRTH, IMAGE, EXEC, EXIT, SPAWN ---------------------------- */

static int rec_birth(struct rec *x)
{
	struct graph *g = x->g;
	const struct ht_record *r = x->r;
	pid_t cpid = (pid_t)r->num, use;
	uint64_t fork_ts = r->ts2 && r->ts2 <= r->ts ? r->ts2 : r->ts;
	struct proc *p = live_proc(g, x->pid);

	if (cpid == x->pid) {
		*x->why = "a process cannot be its own creator";
		return -EINVAL;
	}
	struct kev_lineage kl;
	int kev = kev_lineage(g, x->pid, &kl) == 0;
	if (kev && kl.creator && kl.creator != cpid)
		return refuse(g, &g->st.refused_kev, x->why,
			      "creator contradicts the kernel's fork event");
	/* the fork event names cpid: the kernel's word on the creator, no
	 * parent to ask /proc about (a CLONE_PARENT child's parent is not its
	 * creator) */
	int kforked = kev && kl.creator == cpid;
	use = cpid;
	if (!kforked && check_creator(g, x->pid, cpid, fork_ts, &use) != 0)
		return refuse(g, &g->st.refused_creator, x->why,
			      "creator does not match the kernel's parent");
	if (p && p->creator_pid == cpid && same_process(g, p)) {
		if (!r->ts2)
			p->vm_child = 1;
		return 0; /* repeated BIRTH (vfork child) */
	}
	/* init named for a process whose creator the graph knows (a BIRTH, its
	 * fork event, its group's leader): init never ends, so a child of init's
	 * had init as its parent all along and no other creator; the kernel's
	 * parent says 1 only because that creator ended (review 14: a second,
	 * forged BIRTH re-made the process as init's child, its lineage gone) */
	if (!kforked && cpid == 1 && p && p->creator && same_process(g, p))
		return refuse(g, &g->st.refused_creator, x->why,
			      "creator init for a process whose creator is known");
	p = proc_arrive(g, x->pid, x->uid, use, fork_ts, x->now,
			kforked && g->kev_fresh && !kl.exec_known ? &kl : NULL,
			kforked && kl.attested ? kl.start : 0);
	/* forked by init: its fork event says so, or the sender is root — init's
	 * fork child has init's credentials when its atfork handler sends the
	 * BIRTH, before it can change them. The kernel's parent being 1 attests
	 * nothing: every re-parented orphan's is (init, or a subreaper), so a
	 * non-root orphan's BIRTH naming init leaves its lineage unknown
	 * (graph_lineage_gap; review 14, tests/func/attack_review14_birth_init.sh) */
	if (p && use == 1 && (kforked || x->uid == 0))
		p->creator_init = 1;
	/* fork time 0: the shim's vfork / raw-clone child form (emit: it may
	 * share its creator's memory until it execs) */
	if (p && !r->ts2)
		p->vm_child = 1;
	return p ? 0 : -ENOMEM;
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

static int rec_image(struct rec *x)
{
	struct graph *g = x->g;
	const struct ht_record *r = x->r;
	pid_t pid = x->pid, use;
	struct proc *p = live_proc(g, pid);
	if (p && !same_process(g, p))
		p = NULL;
	/* its ppid names a creator: checked as BIRTH's is (also for a process
	 * known already, whose creator it does not change: a lie is a lie) —
	 * believed without asking /proc for the kernel's parent when the
	 * sender is attested as the fork event's process and the event names
	 * that creator (the kernel's word, as for a BIRTH) */
	struct kev_lineage kl;
	int kev = kev_lineage(g, pid, &kl) == 0;
	use = (pid_t)r->num;
	if ((pid_t)r->num == pid ||
	    (!(kev && kl.attested && kl.creator == (pid_t)r->num) &&
	     check_creator(g, pid, (pid_t)r->num, r->ts, &use) != 0))
		return refuse(g, &g->st.refused_creator, x->why, "ppid does not match the kernel's parent");
	/* the kernel saw it fork and never exec: no new image to announce */
	if (kev && kl.exec_missing)
		return refuse(g, &g->st.refused_kev, x->why, "no exec in the kernel's events");
	if (!p) {
		p = proc_arrive(g, pid, x->uid, use, r->ts, x->now, NULL, 0);
		if (!p)
			return -ENOMEM;
	} else {
		/* exec: CLOEXEC fds are gone, whatever records said */
		proc_sync_fds(g, p, r->ts, HOLD_INHERITED);
	}
	p->exec_ts = r->ts;
	p->exec_pending = 0;
	p->vm_child = 0; /* a new image: its memory its own */
	p->seen_kernel = p->lineage_kernel;
	p->seen_kev = 0;
	p->uid = x->uid;
	char exe[HT_REC_PATH_MAX + 1];
	/* trust the kernel's view of the executable over the record's */
	if (g->conf.use_procfs && !proc_gone(g, p) && procfs_exe(pid, exe, sizeof(exe)) == 0)
		p->exe = graph_intern(g, exe);
	else
		p->exe = graph_intern(g, claimed_exe(g, r->str, exe, sizeof(exe)));
	p->argv0 = graph_intern(g, r->str2);
	p->sha256 = "";
	p->hash_ticket = 0;
	if (g->conf.use_procfs && !proc_gone(g, p))
		proc_hash(g, p);
	return 0;
}

static int rec_exec(struct rec *x)
{
	/* sent before an image the process has announced since: that exec
	 * made it. A vfork child's EXEC travels on a momentary connection to
	 * the record socket, its new image's IMAGE on the ring socket, and a
	 * drain round can read the second first (a round serves a uid's first
	 * 64 ready connections, records.c DRAIN_UID_CONNS, in the order they
	 * were accepted, and the ring listener may be accepted from first):
	 * taken as an exec still to come, the walk read /proc and marked the
	 * process a static image, seen "kernel" (chain_relays' waiting shell) */
	if (x->p->exec_ts && x->r->ts < x->p->exec_ts)
		return 0;
	x->p->exec_pending = 1; /* graph_refresh reads the kernel's view */
	return 0;
}

static int rec_exit(struct rec *x)
{
	struct graph *g = x->g;
	g->st.lost_by_shims += x->r->num2 > 0 ? (uint64_t)x->r->num2 : 0;
	/* an EXIT while the kernel still runs the process would close every
	 * hold it has (and its history with them): ended when the kernel says
	 * so (graph_gc's sweep, graph_verify_alive) */
	if (checking(g) && !kev_ended(g, x->p) && kernel_runs(g, x->p)) {
		x->p->exit_claimed = 1;
		/* while alive: when the kernel last showed it running */
		x->p->exit_ts = x->now > x->r->ts ? x->now : x->r->ts;
		/* an exiting process may be past the release of its files and
		 * not yet a zombie (its `$(...)` shell has read EOF and closed
		 * the pipe already): what the kernel shows gone it let go of by
		 * its EXIT */
		proc_sync_fds(g, x->p, x->r->ts, HOLD_INHERITED);
		return 0;
	}
	proc_end(g, x->p, x->r->ts);
	return 0;
}

/* SPAWN of a child the graph knows: the creator the child named, or the
 * kernel's parent (kparent) */
static int spawned_known(struct rec *x, struct proc *c, uint64_t ts, int kparent)
{
	struct graph *g = x->g;
	if (!c->creator && (c->creator_pid == x->pid || (!c->creator_pid && kparent))) {
		c->foreign_creator = 0;
		set_creator(c, x->p);
	} else if (!c->creator && c->creator_pid != x->pid && checking(g)) {
		return refuse(g, &g->st.refused_creator, x->why, "spawned child's parent is another");
	}
	if (c->creator == x->p && ts < c->birth_ts)
		c->birth_ts = ts;
	return 0;
}

/* SPAWN of a child the graph does not know: from /proc, when the kernel's
 * parent is the sender */
static int spawned_from_kernel(struct rec *x, pid_t cpid, uint64_t ts)
{
	struct graph *g = x->g;
	struct procfs_stat st;
	int kr = kstat(g, cpid, &st, 0);
	if (kr == 0 && st.ppid == x->pid) {
		struct proc *c = proc_new(g, cpid, ts);
		if (c) {
			c->creator_pid = x->pid;
			set_creator(c, x->p);
			c->exec_pending = 1; /* its image will announce itself, or not */
			proc_fill_identity(g, c);
			proc_sync_fds(g, c, ts, HOLD_INHERITED);
		}
	} else if (kr == 0 && !g->conf.trust_claims) {
		/* (a child gone already cannot be told) */
		return refuse(g, &g->st.refused_creator, x->why, "spawned child's parent is another");
	}
	return 0;
}

static int rec_spawn(struct rec *x)
{
	struct graph *g = x->g;
	const struct ht_record *r = x->r;
	pid_t cpid = (pid_t)r->num;
	struct proc *c = live_proc(g, cpid);
	uint64_t ts = r->ts2 && r->ts2 <= r->ts ? r->ts2 : r->ts;
	struct graph_kproc k;
	int kparent = !checking(g) || (kernel_proc(g, cpid, &k) == 0 && k.ppid == x->pid);
	if (c)
		return spawned_known(x, c, ts, kparent);
	if (g->conf.use_procfs)
		return spawned_from_kernel(x, cpid, ts);
	return 0;
}

/* ---- channels: PIPE, SOCKETPAIR, PTY, OPEN, FDRECV, FDSEND ----------------- */

static int rec_pipe(struct rec *x)
{
	const struct ht_record *r = x->r;
	/* pipe() makes both ends in the caller: one end the kernel shows proves
	 * the inode the sender's (the other may be closed already: dash closes
	 * the write end it gave a `$(...)` child) */
	if (!claim_shows(x, r->fd, &r->chan) && !claim_shows(x, r->fd2, &r->chan))
		return unconfirmed(x, &r->chan, HOLD_CREATED, HE_R | HE_W);
	int rc = hold_fd(x, r->fd, &r->chan, HOLD_CREATED, HE_R);
	return rc ? rc : hold_fd(x, r->fd2, &r->chan, HOLD_CREATED, HE_W);
}

static int rec_socketpair(struct rec *x)
{
	struct graph *g = x->g;
	struct proc *p = x->p;
	const struct ht_record *r = x->r;
	int ka = kernel_shows(g, p, r->fd, &r->chan), kb = kernel_shows(g, p, r->fd2, &r->chan2);
	/* one end gone already: the kernel pairs the other with it */
	if (ka != kb && g->conf.use_procfs && !g->conf.kernel_fd &&
	    kernel_unix_peer_is(g, ka ? r->chan.ino : r->chan2.ino, ka ? r->chan2.ino : r->chan.ino))
		ka = kb = 1;
	if (!ka || !kb) {
		int rc = unconfirmed(x, &r->chan, HOLD_CREATED, 0);
		return rc ? rc : unconfirmed(x, &r->chan2, HOLD_CREATED, 0);
	}
	struct chan *a = chan_get(g, &r->chan, r->ts), *b = chan_get(g, &r->chan2, r->ts);
	if (!a || !b)
		return capped_rc(g);
	chan_link_peers(a, b);
	a->remote.family = b->remote.family = AF_UNIX;
	int rc = fd_rec(g, p, r->fd, a, r->ts, HOLD_CREATED, 0);
	return rc ? rc : fd_rec(g, p, r->fd2, b, r->ts, HOLD_CREATED, 0);
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

static int rec_pty(struct rec *x)
{
	const struct ht_record *r = x->r;
	if (r->chan.kind != HT_CHAN_PTY || !kernel_shows(x->g, x->p, r->fd, &r->chan))
		return unconfirmed(x, &r->chan, HOLD_CREATED, HE_M);
	pty_purge(x->g, x->p, r->chan.ino, r->ts);
	int rc = hold_fd(x, r->fd, &r->chan, HOLD_CREATED, HE_M);
	if (!rc && r->fd2 >= 0 && kernel_shows(x->g, x->p, r->fd2, &r->chan))
		rc = hold_fd(x, r->fd2, &r->chan, HOLD_CREATED, HE_S);
	return rc;
}

static int rec_open(struct rec *x)
{
	const struct ht_record *r = x->r;
	if (!kernel_shows(x->g, x->p, r->fd, &r->chan))
		return unconfirmed(x, &r->chan, HOLD_CREATED, 0);
	uint8_t ends = r->chan.kind == HT_CHAN_PTY ? HE_S : fd_ends(x->g, x->pid, r->fd, r->chan.kind);
	return hold_fd(x, r->fd, &r->chan, HOLD_CREATED, ends);
}

static int rec_fdrecv(struct rec *x)
{
	const struct ht_record *r = x->r;
	if (!kernel_shows(x->g, x->p, r->fd, &r->chan))
		return unconfirmed(x, &r->chan, HOLD_RECEIVED, 0);
	return hold_fd(x, r->fd, &r->chan, HOLD_RECEIVED, fd_ends(x->g, x->pid, r->fd, r->chan.kind));
}

static int rec_fdsend(struct rec *x)
{
	(void)x;
	return 0; /* informational: the receiver's FDRECV is what counts */
}

/* ---- sockets: CONNECT, ACCEPT, CONNFAIL ------------------------------------ */

/* The socket on r->fd that a CONNECT or ACCEPT names. NULL, with *rc, when
 * the record is done with: no room for the channel, or a claim the kernel did
 * not confirm about a channel others hold (history only). Else the channel,
 * and *confirmed when the kernel shows it on the fd. */
static struct chan *claimed_socket(const struct rec *x, int *confirmed, int *rc)
{
	const struct ht_record *r = x->r;
	*confirmed = r->chan.kind == HT_CHAN_SOCK && kernel_shows(x->g, x->p, r->fd, &r->chan);
	struct chan *c = chan_get(x->g, &r->chan, r->ts);
	*rc = 0;
	if (c && !*confirmed && r->chan.kind == HT_CHAN_SOCK && (oh_find(x->g, x->p, c) || resync_holds(x, c)))
		*confirmed = -1; /* on another fd, by the kernel's word: held already */
	if (!c)
		*rc = capped_rc(x->g);
	else if (!*confirmed && !chan_fresh(c, x->p))
		*rc = unconfirmed(x, &r->chan, HOLD_CREATED, 0);
	else
		return c;
	return NULL;
}

/* the sender's hold of socket c: in its fd table when the kernel confirmed
 * it, else history only */
static int hold_socket(const struct rec *x, struct chan *c, int confirmed)
{
	const struct ht_record *r = x->r;
	if (x->p->vm_child)
		c->vm_held = 1; /* (review 14 vfork_fetch: graph.h) */
	if (confirmed < 0) {
		struct hold *h = oh_find(x->g, x->p, c);
		if (h && h->since >= r->ts)
			h->how = HOLD_CREATED; /* (the re-read's entry: this record's socket) */
		return 0;
	}
	return confirmed ? fd_rec(x->g, x->p, r->fd, c, r->ts, HOLD_CREATED, 0)
			 : unconfirmed(x, &r->chan, HOLD_CREATED, 0);
}

static int rec_connect(struct rec *x)
{
	const struct ht_record *r = x->r;
	int confirmed, rc;
	struct chan *c = claimed_socket(x, &confirmed, &rc);
	if (!c)
		return rc;
	/* the destination is the sender's word until the kernel says: the SYN's
	 * own query (the packet's 4-tuple, answer.c op_who), a probe's or a
	 * chain walk's TCP dump (chain.c sock_complete) */
	if (!(c->probed && c->has_local && !c->addr_claimed && inet_family(c->remote.family))) {
		gaddr_set(&c->remote, &r->addr);
		c->addr_claimed = addr_checking(x->g) && inet_family(r->addr.family);
	}
	c->dir = 'o';
	c->dir_guess = 0;
	c->sotype = (int16_t)(r->num & 0xf);
	c->connector = x->pid;
	c->failed = 0; /* a new attempt (TCP may connect() again after a failure) */
	/* its local end from the kernel: its connect events (kept after the
	 * socket is gone), else a probe while the socket exists — a connection
	 * that closes is found by its 4-tuple later (graph_hist.c), and a local
	 * one's two ends are linked */
	struct gaddr kl, kr;
	if ((!c->has_local || c->addr_claimed) && inet_family(c->remote.family) &&
	    graph_kev_tcp_ends(x->g, c->ino, &kl, &kr) == 0) {
		if (c->addr_claimed && (kr.port != c->remote.port || memcmp(kr.a, c->remote.a, kr.len)))
			x->g->st.addr_corrected++;
		c->local = kl;
		c->remote = kr;
		c->has_local = 1;
		c->addr_claimed = 0;
	}
	if (c->has_local && !c->addr_claimed)
		graph_link_local_tcp(x->g, c);
	else if (confirmed > 0 && x->g->conf.use_procfs && inet_family(c->remote.family) &&
		 (c->sotype == 0 || c->sotype == SOCK_STREAM))
		pend_connect(x->g, c);
	return hold_socket(x, c, confirmed);
}

/* An ACCEPT's local and peer addresses: the kernel's when its exact lookup of
 * the 4-tuple finds the accepted socket, else a claim ("attested": false). */
static void accept_addrs(const struct rec *x, struct chan *c)
{
	struct graph *g = x->g;
	const struct ht_record *r = x->r;
	gaddr_set(&c->local, &r->addr);
	c->has_local = 1;
	gaddr_set(&c->remote, &r->addr2);
	c->addr_claimed = addr_checking(g) && inet_family(r->addr2.family);
	if (!c->addr_claimed || !g->conf.use_procfs)
		return;
	int seen = kernel_accept_attests(g, r, c);
	if (seen == 1)
		c->addr_claimed = 0;
	else if (seen == 0)
		g->st.refused_fd++; /* an accept the kernel does not know: the addresses stay a claim */
}

/* The socket an ACCEPT was accepted from listens: it carries no data between
 * those who share it (a forking server's children). */
static void mark_listener(const struct rec *x)
{
	struct graph *g = x->g;
	const struct ht_record *r = x->r;
	if (!r->chan2.ino || r->chan2.ino == r->chan.ino || r->chan2.kind != HT_CHAN_SOCK)
		return;
	struct chan *lc = graph_chan(g, HT_CHAN_SOCK, 0, r->chan2.ino);
	if (lc && lc->dir)
		return;
	if (!lc)
		lc = chan_get(g, &r->chan2, r->ts);
	if (lc && !lc->dir && kernel_listener(g, x->p, r, lc))
		lc->dir = 'l';
}

static int rec_accept(struct rec *x)
{
	const struct ht_record *r = x->r;
	int confirmed, rc;
	struct chan *c = claimed_socket(x, &confirmed, &rc);
	if (!c)
		return rc;
	accept_addrs(x, c);
	c->dir = 'i';
	c->sotype = (int16_t)(r->num & 0xf);
	if (r->addr.family == AF_UNIX || r->addr2.family == AF_UNIX) {
		c->remote.family = AF_UNIX;
		if (x->g->conf.use_procfs)
			kernel_unix_link(x->g, c, r->ts); /* while both ends exist */
	}
	mark_listener(x);
	/* a local client's socket: linked now, while the kernel can say (its
	 * client may be gone before a chain walk asks) */
	if (inet_family(c->remote.family))
		graph_link_local_tcp(x->g, c);
	return hold_socket(x, c, confirmed);
}

static int rec_connfail(struct rec *x)
{
	struct graph *g = x->g;
	const struct ht_record *r = x->r;
	/* only the sender's own socket: it must hold it, and the kernel must
	 * show it unconnected (a false failure hides a connection) */
	struct fdent *e = fd_find(x->p, r->fd);
	if (!e || e->h->c->kind != HT_CHAN_SOCK || e->h->c->ino != r->chan.ino)
		return 0;
	if (!kernel_conn_failed(g, x->p, r, e->h->c))
		return refuse(g, &g->st.refused_close, x->why, "the kernel does not show the connect failed");
	e->h->c->failed = 1;
	return 0;
}

/* ---- fd tables: CLOSE, DUP, CLOSERANGE, RESYNC ------------------------------
 * Close and dup records sent before our last read of /proc/PID/fd are in that
 * table already: applied again to it, they would undo what came after them
 * (sshd: dup(0) -> 4, then /dev/null over 0 and 1). */

static int rec_close(struct rec *x)
{
	struct graph *g = x->g;
	struct proc *p = x->p;
	const struct ht_record *r = x->r;
	if (r->ts < p->synced_ts) {
		ghost_end(p, r->fd, r->ts);
		uclaim_close(g, p, r->fd, r->fd, r->ts);
		return 0;
	}
	/* a close the kernel contradicts (the fd still shows the channel)
	 * would hide a hold the process still has */
	struct fdent *e = fd_find(p, r->fd);
	if (e && kernel_keeps(g, p, r->fd, e->h->c))
		return refuse(g, &g->st.refused_close, x->why, "fd still open in the kernel");
	uclaim_close(g, p, r->fd, r->fd, r->ts);
	if (last_fd_resynced(x, r->fd)) {
		ghost_end(p, r->fd, r->ts);
		return 0; /* the table is the kernel's now (fd gone, the channel kept if held) */
	}
	fd_close_rec(g, p, r->fd, r->ts);
	return 0;
}

/* a DUP sent before the last read: the table has it already; a ghost's copy
 * is a ghost */
static void dup_ghost(struct rec *x)
{
	struct proc *p = x->p;
	const struct ht_record *r = x->r;
	struct ghostfd *gh = ghost_at(p, r->fd, r->ts);
	ghost_end(p, r->fd2, r->ts);
	if (!gh)
		return;
	struct ghostfd copy = *gh;
	struct ht_chan k = {copy.kind, copy.dev, copy.ino};
	struct chan *ch = chan_get(x->g, &k, r->ts);
	struct fdent *cur = fd_find(p, r->fd2);
	if (ch && (!cur || cur->h->c != ch))
		ghost_add(x->g, p, r->fd2, ch, copy.ends, r->ts, copy.until);
}

/* A DUP of an fd the table does not know (its ACCEPT, PIPE… was applied after
 * the process had moved the channel and closed the original: the claim stayed
 * unconfirmed). If the kernel shows newfd as a channel the sender claimed
 * (an unconfirmed hold of its own, the newest 8 looked at), the claim is
 * confirmed now, on newfd: into the table, from the claim's time. 1 if so. */
static int dup_unknown_held(struct rec *x)
{
	struct graph *g = x->g;
	struct proc *p = x->p;
	const struct ht_record *r = x->r;
	if (!checking(g))
		return 0;
	int n = 0;
	for (struct hold *h = p->holds; h && n < 8; h = h->pnext) {
		if (!h->unconf || h->how == HOLD_INHERITED)
			continue;
		n++;
		struct ht_chan k = {h->c->kind, h->c->dev, h->c->ino};
		if (!kernel_shows(g, p, r->fd2, &k))
			continue;
		struct chan *c = h->c;
		uint64_t since = h->since;
		uint8_t how = h->how, ends = h->ends;
		if (fd_set_(g, p, r->fd2, c, r->ts, how, ends) != 0)
			return 0;
		struct hold *nh = oh_find(g, p, c);
		if (nh && since < nh->since)
			nh->since = since;
		return 1;
	}
	return 0;
}

static int rec_dup(struct rec *x)
{
	struct graph *g = x->g;
	struct proc *p = x->p;
	const struct ht_record *r = x->r;
	struct fdent *e = fd_find(p, r->fd);
	if (r->fd == r->fd2)
		return 0;
	/* a claim kept as history on fd is on fd2 too; one on fd2 is closed */
	uclaim_close(g, p, r->fd2, r->fd2, r->ts);
	uclaim_dup(g, p, r->fd, r->fd2);
	if (r->ts < p->synced_ts) {
		dup_ghost(x);
		return 0;
	}
	if (e) {
		/* a copy of a channel the sender holds already: nothing it did
		 * not have (a copy that outlives the real one only keeps a real
		 * holder longer: the safe side) */
		struct chan *c = e->h->c;
		uint8_t how = e->h->how, ends = e->ends;
		/* (e may move: nothing of it is used after) */
		struct fdent *over = fd_find(p, r->fd2);
		if (over && over->h->c != c && last_fd_resynced(x, r->fd2))
			return 0; /* the table is the kernel's now, this dup in it */
		return fd_set_(g, p, r->fd2, c, r->ts, how, ends);
	}
	struct fdent *cur = fd_find(p, r->fd2);
	if (cur && kernel_keeps(g, p, r->fd2, cur->h->c))
		return refuse(g, &g->st.refused_close, x->why, "dup over an fd the kernel still shows");
	if (dup_unknown_held(x))
		return 0;
	if (last_fd_resynced(x, r->fd2))
		return 0;
	fd_close_rec(g, p, r->fd2, r->ts);
	return 0;
}

static int rec_closerange(struct rec *x)
{
	struct graph *g = x->g;
	struct proc *p = x->p;
	const struct ht_record *r = x->r;
	int kept = 0;
	uclaim_close(g, p, r->fd, r->fd2, r->ts);
	for (uint32_t i = 0; r->ts >= p->synced_ts && i < p->nfds;) {
		int fd = p->fds[i].fd;
		if (fd >= r->fd && fd <= r->fd2 && !(kernel_keeps(g, p, fd, p->fds[i].h->c) && ++kept))
			fd_close_rec(g, p, fd, r->ts);
		else
			i++;
	}
	if (kept)
		return refuse(g, &g->st.refused_close, x->why, "closed fds still open in the kernel");
	return 0;
}

static int rec_resync(struct rec *x)
{
	struct proc *p = x->p;
	/* the kernel's view; at most once per millisecond per process */
	if (!x->g->conf.use_procfs || x->now >= p->synced_ts + 1000000ULL || x->now < p->synced_ts)
		proc_sync_fds(x->g, p, x->r->ts, HOLD_INHERITED);
	return 0;
}

/* ---- graph_apply ----------------------------------------------------------- */

static const struct rec_type {
	int (*apply)(struct rec *x);
	uint8_t sender; /* needs the sender's process first (sender()) */
} rec_types[HT_REC__MAX] = {
	[HT_REC_BIRTH] = {rec_birth, 0},
	[HT_REC_IMAGE] = {rec_image, 0},
	[HT_REC_EXEC] = {rec_exec, 1},
	[HT_REC_EXIT] = {rec_exit, 1},
	[HT_REC_PIPE] = {rec_pipe, 1},
	[HT_REC_SOCKETPAIR] = {rec_socketpair, 1},
	[HT_REC_CONNECT] = {rec_connect, 1},
	[HT_REC_ACCEPT] = {rec_accept, 1},
	[HT_REC_PTY] = {rec_pty, 1},
	[HT_REC_OPEN] = {rec_open, 1},
	[HT_REC_FDRECV] = {rec_fdrecv, 1},
	[HT_REC_FDSEND] = {rec_fdsend, 1},
	[HT_REC_CLOSE] = {rec_close, 1},
	[HT_REC_DUP] = {rec_dup, 1},
	[HT_REC_SPAWN] = {rec_spawn, 1},
	[HT_REC_CLOSERANGE] = {rec_closerange, 1},
	[HT_REC_RESYNC] = {rec_resync, 1},
	[HT_REC_CONNFAIL] = {rec_connfail, 1},
};

/* The sender's live process — from /proc when no BIRTH or IMAGE came
 * (started before the collector, or lost) — charged to its uid's account.
 * 0, or -ESRCH. */
static int sender(struct rec *x)
{
	struct graph *g = x->g;
	struct proc *p = live_proc(g, x->pid);
	if (!p) {
		p = graph_proc_kernel(g, x->pid, x->now);
		if (!p && !g->conf.use_procfs)
			p = proc_arrive(g, x->pid, x->uid, 0, x->r->ts, x->now, NULL, 0);
		if (!p) {
			*x->why = "sender not found";
			return -ESRCH;
		}
		p->seen_kernel = p->lineage_kernel;
		p->sender_kernel = 1;
		p->seen_kev = 0;
	}
	if (!p->acct) {
		struct uacct *pa = acct_of(g, p->uid != (uid_t)-1 ? p->uid : x->uid);
		p->acct = pa ? pa->id : 0;
	}
	x->p = p;
	return 0;
}

/* After every record: counted, the sender's account let go, and the closed
 * holds past a process's bound trimmed (a safe point). */
static int applied(struct graph *g, int rc, const char **why)
{
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

int graph_apply(struct graph *g, pid_t pid, uid_t uid, const struct ht_record *r,
		uint64_t now, const char **why)
{
	return graph_apply_attested(g, pid, uid, 0, r, now, why);
}

int graph_apply_attested(struct graph *g, pid_t pid, uid_t uid, uint64_t pid_ino,
			 const struct ht_record *r, uint64_t now, const char **why)
{
	const char *w = NULL;
	struct rec x = {g, pid, uid, NULL, r, now, why ? why : &w};
	const struct rec_type *t = r->type < HT_REC__MAX && rec_types[r->type].apply
					   ? &rec_types[r->type]
					   : NULL;
	int rc;

	*x.why = NULL;
	g->changes++; /* (refused too: a refusal may have read /proc) */
	g->cur_acct = acct_of(g, uid); /* the sender's, charged for what it makes */
	g->att_pid = pid;
	g->att_ino = pid_ino;
	kmemo_begin(g);
	if (pid <= 0) {
		*x.why = "no sender pid";
		rc = -EINVAL;
	} else if (t && !t->sender) {
		rc = t->apply(&x);
	} else if ((rc = sender(&x)) == 0) {
		/* (an unknown type is refused after the sender lookup, as it
		 * always was: the lookup may bring the sender in from /proc) */
		rc = t ? t->apply(&x) : -EINVAL;
		if (!t)
			*x.why = "unknown record type";
	}
	if (rc == -EDQUOT && x.p && x.p->alive)
		x.p->bound_refused = 1; /* what it holds is not all in the graph */
	kmemo_end(g);
	g->att_pid = 0;
	g->att_ino = 0;
	return applied(g, rc, x.why);
}
