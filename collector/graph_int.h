/*
 * graph_int.h — what the files implementing graph.h share, and nothing any
 * other part of the collector may use (graph.h is the graph's public face).
 *
 * The graph's files, by what they do (docs/chain-model.md):
 *   graph.c        the graph's objects: processes and channels (hash tables,
 *                  creation, end, freeing), interned strings, retention (gc),
 *                  life cycle and statistics
 *   graph_apply.c  applying one shim record: graph_apply's table of one
 *                  handler per record type, with the common prologue (the
 *                  sender, its uid's account) and epilogue (counters, trims);
 *                  the creator claims of BIRTH, IMAGE and SPAWN
 *   graph_fd.c     per-process fd tables (hashed), ghost fds, and the fd
 *                  claims a record makes (fd_rec, fd_unconfirmed)
 *   graph_hold.c   holds: (process, channel) intervals, the open-hold index,
 *                  trimming closed holds at safe points (graph_hold/release)
 *   graph_hist.c   the recent past of TCP connections: those closed,
 *                  by 4-tuple, bounded (graph_hist_find)
 *   graph_proc.c   the kernel's view through /proc: claim checks of one fd
 *                  (cached /proc/PID/fd directory fds), the kernel's parent,
 *                  fd table resync, processes the shim did not describe
 *                  (graph_proc_kernel, lineage gaps), exe, argv0, sha256
 *   graph_sock.c   the kernel's view of sockets through sock_diag: probing
 *                  sockets first seen in /proc, the listener an ACCEPT names,
 *                  a CONNFAIL's socket, unix peers, an accept's 4-tuple,
 *                  a local TCP connection's two ends (graph_link_local_tcp)
 *   graph_uid.c    per-uid accounts: holds and channels charged, bounds,
 *                  refused claims (graph_uid_stats)
 * The graph is single-threaded: only the collector's main loop touches it.
 */
#ifndef HT_GRAPH_INT_H
#define HT_GRAPH_INT_H

#include "graph.h"
#include "hoptrace/procfs.h"

#define PID_BUCKETS_MIN 1024
#define CHAN_BUCKETS_MIN 1024
#define INTERN_BUCKETS 4096

struct istr {
	struct istr *next;
	char s[];
};

#define PENDING_MAX 4096 /* sockets queued for a probe (graph_sock.c) */
#define TRIM_MAX 64      /* processes whose closed holds wait for trimming */
#define DCACHE_N 32      /* cached /proc/PID/fd directory fds */
#define UID_BUCKETS 256
#define CLOSED_KEEP 256  /* closed holds a live process keeps (its recent history) */
#define KMEMO_N 8        /* pids whose /proc stat one record's application keeps (kstat) */

/* A uid's share of the graph and its refused claims (graph_uid_stats). */
struct uacct {
	uid_t uid;
	uint16_t id;  /* what processes and channels keep (0: none) */
	uint64_t holds, chans, refused_claims, refused_bounds;
	uint64_t scan_debt_ns, scan_ts; /* /proc holder scans of its processes
					 * (graph_scan_holders): time owed, when */
	struct uacct *next;
};

#define LASTCLOSE_N 64 /* struct graph's lastclose slots (serials start at 1: 0 is free) */

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
	int nl; /* sock_diag socket, -1 until needed (graph_nl) */
	struct chan *pending[PENDING_MAX]; /* sockets to probe (graph_probe_pending) */
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
	pid_t att_pid;                   /* the sender of the record being applied, */
	uint64_t att_ino;                /* its pidfs inode (graph_apply_attested; 0 none) */
	int capped;                      /* the last hold_open/chan_get hit a bound */
	struct dcache { pid_t pid; int fd; uint64_t serial; } dcache[DCACHE_N];
	size_t dnext;
	uint64_t last_failcheck;         /* monotonic ns of the last CONNFAIL check dump */
	struct closedfd *closes;         /* the last CLOSES_MAX closes by records (fd_close_rec) */
	struct uclaim *uclaims;          /* the last UCLAIMS_MAX history-only fd claims */
	uint32_t nuclaims;
	uint32_t nclosed;
	/* the last close by record of a process (by serial, direct-mapped): a
	 * fork child's creator whose last close came before the fork has none
	 * in the ring to give (inherit_from skips the scan); a slot another
	 * process took means "not known": scan */
	struct lastclose { uint64_t serial, ts; } lastclose[LASTCLOSE_N];
	uint64_t changes;                /* graph_changes(): bumped by every change a chain may see */
	uint64_t check_round;            /* the open round of fd-table checks, 0 none (graph_check_round) */
	uint64_t check_rounds;           /* rounds opened */
	/* the last hold fd_unset narrowed (an fd of several went): when its last
	 * fd goes at the same time, it ends with all their ends (graph_fd.c) */
	const struct hold *shrunk;
	uint64_t shrunk_ts;
	uint8_t shrunk_ends;
	/* the kernel event source's lineage (graph_kev.c); kev_on: authoritative */
	struct kevtab *kev;
	int kev_on;
	int kev_fresh;                   /* graph_kev_fresh */
	struct hist *hist;               /* closed TCP connections (graph_hist.c) */
	/* what /proc/PID/stat (and status) said about a pid while one record
	 * or one kernel event is applied (kmemo_begin/end, kstat): one read
	 * where a BIRTH asked four times, and a process found gone is not
	 * asked again about its exe, argv0 or fds in the same step */
	struct kmemo { pid_t pid; int rc; uint8_t has_uid; struct procfs_stat st; } kmemo[KMEMO_N];
	unsigned kmemo_n, kmemo_depth;
};

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

/* The host's last UCLAIMS_MAX fd claims kept as history only: unconfirmed
 * (the fd was gone when the record was applied, fd_unconfirmed) or sent
 * before a /proc read that showed the fd gone (fd_rec). Such a hold ends when
 * the record is applied (or at the read) — later than the holder let go when
 * the collector lags: a forking server that accepted h1's connection, forked
 * and closed it still held it, by the graph, when it forked h3's child, and
 * h1 became an origin of h3's child. The claimer's own later close (CLOSE,
 * DUP over it, CLOSERANGE, its end) of that fd ends it then (uclaim_close).
 * One ring for the host, by key: a close follows its claim in record order. */
#define UCLAIMS_MAX 128
struct uclaim {
	uint64_t serial; /* the claimer's; 0: free */
	uint64_t dev, ino, since;
	int fd;
	uint8_t kind, open;
};

/* ---- small helpers (inline: on every record's path) ---------------------- */

/* an fd table's block: the entries, and from FDIDX_MIN on an fd -> index+1
 * hash of twice as many slots after them (graph.h struct proc) */
#define FDIDX_MIN 16
static inline size_t fds_bytes(uint32_t cap)
{
	return cap * sizeof(struct fdent) + (cap >= FDIDX_MIN ? 2 * (size_t)cap * sizeof(uint32_t) : 0);
}

static inline uint64_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* pipes and FIFOs share one key kind */
static inline uint8_t key_kind(uint8_t kind)
{
	return kind == HT_CHAN_FIFO ? HT_CHAN_PIPE : kind;
}

static inline int same_key(const struct ht_chan *a, const struct ht_chan *b)
{
	uint8_t ka = key_kind(a->kind), kb = key_kind(b->kind);
	if (ka != kb || a->ino != b->ino)
		return 0;
	return ka != HT_CHAN_PIPE || a->dev == b->dev;
}

static inline struct proc *live_proc(struct graph *g, pid_t pid)
{
	struct proc *p = graph_proc(g, pid);
	return p && p->alive ? p : NULL;
}

/* Are claims checked? (a fake kernel's hooks, or /proc) */
static inline int checking(const struct graph *g)
{
	return !g->conf.trust_claims && (g->conf.kernel_fd || g->conf.use_procfs);
}

/* Are claimed TCP addresses checked? (the kernel's TCP table: sock_diag) */
static inline int addr_checking(const struct graph *g)
{
	return !g->conf.trust_claims && g->conf.use_procfs;
}

/* ---- graph_kev.c: the kernel's fork and exec events ------------------------ */
struct kev_lineage {
	pid_t creator;          /* the fork event's creator; 0: no fork seen */
	uint64_t start;         /* its /proc starttime */
	uint64_t fork_ts;
	int exec_known;         /* an exec event came (dev, ino), at exec_ts */
	uint64_t exec_ts;
	int exec_missing;       /* it forked under the source and never exec'd (no loss) */
	uint64_t dev, ino;
	int attested;           /* the record's sender is this fork event's process by
				 * its pidfd (graph_apply_attested): start is its own */
};
/* 0 and *out for pid's current process when the source is on and saw it;
 * -1 otherwise */
int kev_lineage(struct graph *g, pid_t pid, struct kev_lineage *out);
/* 0 and pid's current process's fork time and /proc start (ticks) by its
 * fork event, when the source saw it fork; -1 otherwise (counts nothing) */
int kev_fork_times(struct graph *g, pid_t pid, uint64_t *fork_ts, uint64_t *start);
/* 1: the record being applied is from pid's fork event's process by its
 * pidfd (graph_apply_attested), and that event's start is start */
int kev_attested_start(const struct graph *g, pid_t pid, uint64_t start);
/* The creator the kernel's fork event names for pid's current process (its
 * start `start` when non-zero), as a graph entry: the one the graph keeps
 * (alive, or ended after the fork), one /proc shows, or one made from the
 * creator's own events when it ended before anything of it reached the graph
 * (graph_kev.c kproc, its creators likewise) — whatever the shim said or did
 * not say of it. *cpid and *fork_ts: the event's creator and fork time (0
 * when there is no fork event). NULL when there is none, or it is not found. */
struct proc *kev_creator_of(struct graph *g, pid_t pid, uint64_t start, uint64_t now, pid_t *cpid,
			    uint64_t *fork_ts);
/* 1: the kernel's exit event of p's process (its pid and start) was read: it
 * has ended, whatever /proc would say of the pid now */
int kev_ended(struct graph *g, const struct proc *p);

/* ---- graph.c: processes and channels -------------------------------------- */

struct proc *proc_new(struct graph *g, pid_t pid, uint64_t ts);
/* ends p: its open holds close at ts, its fd table goes */
void proc_end(struct graph *g, struct proc *p, uint64_t ts);
void proc_free(struct graph *g, struct proc *p);
/* sets p's creator once (never re-parented) */
void set_creator(struct proc *p, struct proc *c);
/* Was c born no later than p? A process found in /proc has its birth from
 * its starttime in clock ticks, rounded down: its creator's exact birth (a
 * record's, a fork event's) may come after it within the same tick, and
 * their starts (ticks) then tell. */
int born_by(const struct proc *c, const struct proc *p);
/* c was born by the time its supposed child was forked (the kernel's fork
 * time fork_ts and /proc start kstart in ticks, 0: unknown): a pid names a
 * process only while it lives, and the pid's next process, born after the
 * fork, is not the creator (review 15: tests/func/attack_review15_creator_reuse.sh) */
int born_before_fork(const struct proc *c, uint64_t fork_ts, uint64_t kstart);
/* the channel keyed by k, created (charged to the sender's uid) when new;
 * NULL over a bound (g->capped) or without memory */
struct chan *chan_get(struct graph *g, const struct ht_chan *k, uint64_t ts);
void chan_free(struct graph *g, struct chan *c);

/* ---- graph_uid.c: per-uid accounts ---------------------------------------- */

struct uacct *acct_of(struct graph *g, uid_t uid);
static inline struct uacct *acct_by_id(const struct graph *g, uint16_t id)
{
	return id && id <= g->nbyid ? g->byid[id - 1] : NULL;
}
/* A bound hit: counted for the uid being charged (the record's sender) */
void over_bound(struct graph *g, struct uacct *a);

/* ---- graph_hold.c: holds --------------------------------------------------- */

/* the open hold of (p, c), or NULL */
struct hold *oh_find(struct graph *g, const struct proc *p, const struct chan *c);
/* the open hold of (p, c), opened at ts when there is none; NULL over a
 * bound (g->capped) or without memory */
struct hold *hold_open(struct graph *g, struct proc *p, struct chan *c, uint64_t ts, uint8_t how);
/* closes h at ts (queues p's trimming; frees nothing) */
void hold_close(struct graph *g, struct hold *h, uint64_t ts);
/* unlinks and frees h */
void hold_unlink(struct graph *g, struct hold *h);
/* trims the closed holds queued by hold_close (a safe point; not while held);
 * run_trims is on every record's path: the call only when some are queued */
void run_trims_queued(struct graph *g);
static inline void run_trims(struct graph *g)
{
	if (g->ntrim)
		run_trims_queued(g);
}

/* ---- graph_fd.c: fd tables, ghosts, fd claims ------------------------------ */

struct fdent *fd_find(struct proc *p, int fd);
int fd_set_(struct graph *g, struct proc *p, int fd, struct chan *c, uint64_t ts, uint8_t how,
	    uint8_t ends);
int fd_set_key(struct graph *g, struct proc *p, int fd, const struct ht_chan *k, uint64_t ts,
	       uint8_t how, uint8_t ends);
void fd_unset(struct graph *g, struct proc *p, int fd, uint64_t ts);
/* fd_unset for a record's close (CLOSE, DUP over, CLOSERANGE): remembered in
 * g->closes for fork children applied later */
void fd_close_rec(struct graph *g, struct proc *p, int fd, uint64_t ts);
/* fd_set_ for a record's fd, minding the last /proc read (c NULL: chan_get failed) */
int fd_rec(struct graph *g, struct proc *p, int fd, struct chan *c, uint64_t ts, uint8_t how,
	   uint8_t ends);
/* an fd claim the kernel did not confirm: history only (unconf), counted */
int fd_unconfirmed(struct graph *g, struct proc *p, const struct ht_chan *k, uint64_t ts,
		   uint64_t now, uint8_t how, uint8_t ends, int fd, int fd2);
/* does no process but p hold c by the kernel's word? */
int chan_fresh(const struct chan *c, const struct proc *p);
void ghost_add(struct graph *g, struct proc *p, int fd, const struct chan *c, uint8_t ends,
	       uint64_t since, uint64_t until);
struct ghostfd *ghost_at(struct proc *p, int fd, uint64_t ts);
void ghost_end(struct proc *p, int fd, uint64_t ts);
/* a history-only claim h of p on fd (fd < 0: none) — remembered for its close */
void uclaim_add(struct graph *g, const struct proc *p, int fd, const struct hold *h);
/* p closed fds lo..hi at ts (0..INT_MAX: it ended): a history-only claim on
 * one, with no other fd of it left open, ends then if it ended later */
void uclaim_close(struct graph *g, struct proc *p, int lo, int hi, uint64_t ts);
/* p's dup of oldfd onto newfd: a claim on oldfd is on newfd too */
void uclaim_dup(struct graph *g, const struct proc *p, int oldfd, int newfd);

/* ---- graph_proc.c: the kernel's view through /proc ------------------------- */

/* does the kernel show fd of p as channel k now? (1 also when not checking) */
int kernel_shows(struct graph *g, struct proc *p, int fd, const struct ht_chan *k);
/* the kernel's parent, group, session, start of pid (hooks or /proc) */
int kernel_proc(struct graph *g, pid_t pid, struct graph_kproc *k);
/* does the kernel still run p (the same process, not a zombie)? */
int kernel_runs(struct graph *g, const struct proc *p);
void dcache_drop(struct graph *g, const struct proc *p);
void kmemo_begin(struct graph *g);
void kmemo_end(struct graph *g);
int kstat(struct graph *g, pid_t pid, struct procfs_stat *st, int want_uid);
int kgone(const struct graph *g, pid_t pid);
int proc_gone(const struct graph *g, const struct proc *p);
/* the end of a pipe/FIFO/pty fd is, from /proc (0 unknown) */
uint8_t fd_ends(struct graph *g, pid_t pid, int fd, uint8_t kind);
/* makes p's fd table equal to /proc/PID/fd; 0 or -errno (p unchanged) */
int proc_sync_fds(struct graph *g, struct proc *p, uint64_t ts, uint8_t how);
/* the same, the holds of fds it finds new dated from since (<= ts) */
int proc_sync_fds_since(struct graph *g, struct proc *p, uint64_t ts, uint64_t since, uint8_t how);
/* the creator's holds open at the fork, for a child whose table is gone */
void inherit_from(struct graph *g, struct proc *p, struct proc *c, uint64_t fork_ts);
void proc_hash(struct graph *g, struct proc *p);
void proc_fill_identity(struct graph *g, struct proc *p);
/* the same with p's start known (its attested fork event's): no stat read */
void proc_fill_identity_at(struct graph *g, struct proc *p, uint64_t start);
void proc_fill_uid(struct graph *g, struct proc *p, uint64_t start);
struct proc *find_creator(struct graph *g, pid_t cpid, uint64_t birth_ts, uint64_t now);
void kernel_lineage(struct graph *g, struct proc *p, uint64_t now);
/* is this known live entry the same process the kernel runs as its pid? */
int same_process(struct graph *g, struct proc *p);

/* ---- graph_hist.c: closed TCP connections --------------------------------- */

/* c's last holder let go of it at ts: listed when it is a TCP connection
 * with the kernel's 4-tuple (hold_close) */
void graph_hist_closed(struct graph *g, struct chan *c, uint64_t ts);
/* drops what closed longer than the window ago */
void graph_hist_gc(struct graph *g, uint64_t now);
void graph_hist_free(struct graph *g);

/* ---- graph_sock.c: the kernel's view of sockets (sock_diag) ---------------- */

/* the sock_diag socket, opened when first needed; -1 if it cannot be */
int graph_nl(struct graph *g);
/* queues a socket first seen in /proc for graph_probe_pending */
void pend_socket(struct graph *g, const struct ht_chan *k);
/* queues a CONNECT's TCP socket for its local end (the record names only
 * the remote): the next probe's dump gives the kernel's 4-tuple */
void pend_connect(struct graph *g, struct chan *c);
/* is unix socket ino paired with peer by the kernel? */
int kernel_unix_peer_is(struct graph *g, uint64_t ino, uint64_t peer);
/* links c (an accepted unix socket) with the peer the kernel names */
void kernel_unix_link(struct graph *g, struct chan *c, uint64_t ts);
/* does the kernel's exact lookup of an ACCEPT's 4-tuple find c? 1 yes, 0 no,
 * -1 no sock_diag */
int kernel_accept_attests(struct graph *g, const struct ht_record *r, const struct chan *c);
/* is lc, the socket an ACCEPT names as its listener, listening? */
int kernel_listener(struct graph *g, struct proc *p, const struct ht_record *r, struct chan *lc);
/* does the kernel show that the connect() of a CONNFAIL's socket failed? */
int kernel_conn_failed(struct graph *g, struct proc *p, const struct ht_record *r, struct chan *c);

/* ---- graph_kev.c: TCP ends from kernel events ------------------------------ */

/* (graph_kev_tcp_ends: graph.h) */
int graph_kev_tcp_conn(struct graph *g, uint64_t ino, struct gaddr *local, struct gaddr *remote);
/* the inode of the connecting socket with that 4-tuple the kernel's events
 * saw (open or closed), 0 none */
uint64_t graph_kev_tcp_find(struct graph *g, const struct gaddr *local, const struct gaddr *remote);

#endif
