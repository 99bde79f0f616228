/*
 * graph.h — the collector's model of one host (docs/chain-model.md):
 * processes, channels, and the intervals during which a process held a
 * channel end.
 *
 * Invariants:
 * - A process is (pid, start). Several entries may share a pid (an ended one
 *   kept for retention and its successor); graph_proc() returns the live one.
 * - p->creator is the process that forked/spawned p. It is set once and never
 *   changed by re-parenting; an ended creator is kept while it has kept
 *   children (nchildren > 0), so lineage survives the processes themselves.
 * - A hold is one (process, channel) interval [since, until); until == 0 while
 *   open. An open hold has nfds > 0 fd-table entries pointing at it. Each hold
 *   is on two lists: its process's and its channel's.
 * - Pipes and FIFOs share one key kind (HT_CHAN_PIPE, dev, ino); ptys are keyed
 *   by index (master and slave are one channel); sockets by inode, with
 *   c->peer linking the two ends of a unix socketpair/connection.
 * The graph is single-threaded: only the collector's main loop touches it.
 * Implemented by collector/graph*.c, one file per role (the map is at the
 * top of graph_int.h, their internal header).
 */
#ifndef HT_GRAPH_H
#define HT_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "hoptrace/record.h"

struct procfs_scan;

enum hold_how { HOLD_CREATED = 0, HOLD_INHERITED, HOLD_RECEIVED, HOLD_KERNEL };

struct hold;
struct chan;
struct graph;

/* Which end of a channel an fd (and so a hold) is: data flows from a pipe's
 * write end to its read end, and between a pty's master and its slaves — not
 * among holders of the same end. 0 = unknown (treated as any). */
enum { HE_R = 1, HE_W = 2, HE_M = 4, HE_S = 8 };

struct fdent {
	int fd;
	uint8_t ends;
	struct hold *h;
};

struct proc {
	pid_t pid;
	uid_t uid;
	uint64_t start;       /* /proc starttime (clock ticks), 0 unknown */
	uint64_t serial;      /* unique per entry */
	uint64_t birth_ts, exit_ts, exec_ts; /* monotonic ns; exit_ts 0 = alive, or
					      * exit_claimed: the end to date it at
					      * (when the kernel last showed it
					      * running, or a sweep found it gone) */
	struct proc *creator;
	const char *exe, *argv0;  /* interned, never NULL ("" unknown) */
	const char *sha256;   /* interned lowercase hex, "" unknown */
	uint8_t alive, seen_kernel, exec_pending, foreign_creator;
	uint8_t exit_claimed : 1;   /* an EXIT came while the kernel still ran it,
				     * or a sweep found it gone (its last records
				     * may still come): ended when the kernel, or
				     * the next sweep, says; dated exit_ts */
	uint8_t trim_queued : 1;    /* its closed holds wait for trimming (graph_hold.c) */
	uint8_t lineage_kernel : 1; /* its creator was taken from the kernel's view
				     * (process group / session), not from a record */
	uint8_t closed_rec : 1;     /* it closed an fd by record (the ring, inherit_from) */
	uint8_t seen_kev : 1;       /* first known from /proc, its creator from the
				     * kernel's fork event: seen "kernel-events" */
	uint8_t fds_stale : 1;      /* its last /proc/PID/fd read was cut short or
				     * put off (its uid's scan share, graph_proc.c):
				     * its chains say holders_incomplete */
	uint8_t bound_refused : 1;  /* a hold or channel of its was refused over a
				     * bound (graph_uid.c): the graph lacks what it
				     * holds — its chains say holders_incomplete */
	uint8_t sender_kernel : 1;  /* first known from /proc when a record of its
				     * came (no BIRTH: a hand-made record, a process
				     * older than the collector): what its records
				     * leave out is read again at a SYN judged on it
				     * (graph_subject_refresh) */
	uint8_t creator_init : 1;   /* init created it: the kernel's fork event, or a
				     * root sender's BIRTH naming pid 1, says so — never
				     * the kernel's parent now (every re-parented
				     * orphan's is 1: graph_lineage_gap) */
	uint8_t kernel_gone : 1;    /* /proc showed its pid gone (kstat): it has
				     * ended, and nothing of it is left to read */
	uint8_t vm_child : 1;       /* a vfork / raw-clone child's BIRTH came (fork
				     * time 0) and no IMAGE since: it may share its
				     * creator's memory, so what it reads may be its
				     * creator's — which no walk follows (its sockets
				     * are vm_held) */
	uint16_t acct;        /* its uid's bounds (graph_uid.c), charged for its holds; 0 none */
	uint32_t nchildren;
	uint32_t hash_ticket;    /* sha256 "": exehash_peek() may know it by now */
	uint32_t nclosed;        /* closed holds kept on the list */
	pid_t creator_pid;    /* (here: no padding — 100,000 entries must fit 64 MB) */
	struct fdent *fds;    /* capfds entries; from 16 on, followed in the same block
			       * by a 2 * capfds fd -> index+1 hash (graph_fd.c) */
	uint32_t nfds, capfds;
	uint64_t synced_ts;   /* monotonic ns of the last /proc/PID/fd read */
	/* its fd table compared with the kernel's in check round checked_round
	 * (graph_check_round), finding checked_found fds no record named */
	uint64_t checked_round;
	uint32_t checked_found;
	struct ghosts *ghosts; /* fds a /proc read came too late to see (graph_fd.c) */
	struct hold *holds;
	struct proc *hnext;          /* pid hash chain */
	struct proc *next, *prev;    /* all entries, oldest first */
};

/* A compact socket end (the record's ht_addr carries unix paths; the graph
 * keeps only what chains need). For a unix socket whose peer is not in the
 * graph, a[0..7] holds the peer's inode and len is 8. */
struct gaddr {
	uint16_t family, port;
	uint8_t len;
	uint8_t a[16];
};

static inline void gaddr_set(struct gaddr *g, const struct ht_addr *a)
{
	g->family = a->family;
	g->port = a->port;
	g->len = a->family == AF_UNIX ? 0 : (a->len > 16 ? 16 : a->len);
	memset(g->a, 0, sizeof(g->a));
	memcpy(g->a, a->a, g->len);
}

static inline void gaddr_get(struct ht_addr *a, const struct gaddr *g)
{
	memset(a, 0, sizeof(*a));
	a->family = g->family;
	a->port = g->port;
	a->len = g->family == AF_UNIX ? 0 : g->len;
	memcpy(a->a, g->a, a->len);
}

struct chan {
	uint8_t kind;          /* HT_CHAN_PIPE (also FIFOs), HT_CHAN_SOCK, HT_CHAN_PTY */
	uint8_t fifo : 1;      /* a named pipe */
	uint8_t vm_held : 1;   /* sockets: a vm_child connected or accepted it —
				* what came in may be in its creator's memory: a
				* connection no record names for the dark check
				* (graph_kev.c), as a raw syscall's is */
	uint8_t dir;           /* sockets: 0 unknown, 'i' accepted, 'o' connected, 'l' listening */
	uint8_t dir_guess;     /* 'o' guessed by a probe (no listener had its port: an
				* accepted socket whose listener closed looks so), not
				* said by a record or the kernel's connect event */
	uint8_t has_local;
	uint8_t probed;        /* sockets: the kernel was asked what it is */
	uint8_t failed;        /* its connect() failed: never a connection, never a source */
	uint8_t internal;      /* the collector's own end of a shim/query connection */
	uint8_t kscanned;      /* /proc was searched for its holders and found none */
	uint8_t tcp_probed;    /* sockets: TCP table searched when first read from /proc */
	uint8_t addr_claimed;  /* remote/local from a record, not yet from the kernel */
	uint8_t peer_wait;     /* unix: times the kernel said "connected, peer not
				* accepted yet" (sock_diag -EAGAIN: a record
				* connection the collector has not accepted);
				* 0 once it answered (graph_sock.c, chain.c) */
	uint16_t acct;         /* the uid whose claim created it (graph_uid.c); 0 none */
	int16_t sotype;        /* SOCK_STREAM, ... (without the flags) */
	uint64_t dev, ino;
	struct gaddr local, remote; /* sockets: local end, far end (remote.family 0 = unknown) */
	struct chan *peer;     /* unix: the other end */
	uint64_t last_ts;
	struct hold *holds;
	uint32_t nholds;
	pid_t connector;       /* pid that connect()ed it (next to nholds: no padding) */
	struct chan *hnext;
	struct chan *next, *prev;
};

struct hold {
	struct proc *p;
	struct chan *c;
	uint64_t since, until;
	uint32_t nfds;
	uint8_t how;
	uint8_t ends;          /* HE_* of every fd that pointed here */
	uint8_t unconf;        /* a claim the kernel did not confirm (the fd was
				* gone or another channel when it was applied):
				* history only, never a source (chain.c) */
	uint8_t unreported;    /* found in /proc by a walk, no record named it
				* (graph_proc_check_fds): a source through it
				* makes its process seen "kernel" (chain.c) */
	struct hold *pnext, *cnext;
	struct hold **pprev, **cprev; /* O(1) unlink */
};

/* What the kernel says about one fd of a process (the claim check): 0 and *c
 * filled (keyed as record.h says), -ENOTSUP not a channel end, -ENOENT no such
 * fd, -ESRCH no such process. */
typedef int (*graph_kernel_fd_fn)(void *ctx, pid_t pid, int fd, struct ht_chan *c);
/* The kernel's parent, process group, session and start time of pid (0 or
 * -ESRCH); for unit tests and fuzzing (a fake kernel) */
struct graph_kproc {
	pid_t ppid, pgrp, sid;
	uint64_t start;
	char state;
};
typedef int (*graph_kernel_proc_fn)(void *ctx, pid_t pid, struct graph_kproc *k);
/* Calls cb for every channel end pid holds, as procfs_fds_until does (0, 1
 * when this thread's CPU time reached cpu_deadline_ns (0: none) first,
 * -errno, or cb's non-zero value) */
typedef int (*graph_kernel_fds_fn)(void *ctx, pid_t pid, uint64_t cpu_deadline_ns,
				   int (*cb)(void *cbctx, int fd, const struct ht_chan *c), void *cbctx);

struct graph_conf {
	uint64_t retention_ns;  /* how long ended processes/holds/channels stay */
	uint64_t window_ns;     /* the subject's recent-history window */
	size_t max_procs;       /* hard bound on process entries */
	int use_procfs;         /* read /proc (off in unit tests) */
	/* Claims (docs/chain-model.md "Claims"): what a record says about its
	 * sender's fds and creator is checked against the kernel before it
	 * changes the graph — with these hooks when set (a fake kernel), else
	 * /proc when use_procfs; with neither, records are believed (unit tests
	 * of the model). trust_claims = 1 switches the checks off (the bench's
	 * baseline). */
	graph_kernel_fd_fn kernel_fd;
	graph_kernel_proc_fn kernel_proc;
	graph_kernel_fds_fn kernel_fds; /* a process's fd table (graph_proc_check_fds) */
	/* a pipe's or FIFO's holder search (graph_scan_pipe_holders; the bench's
	 * baseline: one that finds nothing); NULL: procfs_pipe_holders_scan */
	int (*kernel_pipe_holders)(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
				   int (*cb)(void *cbctx, pid_t pid, int fd), void *cbctx);
	void *kernel_ctx;
	/* a copy of another process's descriptor the graph took (a walk asking
	 * a socket through it, sd_inet_of_fd) is closed by this (the closer
	 * thread: the copy's close may be the file's last, and a lingering
	 * socket's blocks); NULL: close() */
	void (*dispose_fd)(void *ctx, int fd);
	void *dispose_ctx;
	int trust_claims;
	/* bounds (0 = default): fd-table entries of one process (a process's
	 * fds are bounded by its RLIMIT_NOFILE, at most nr_open), holds and
	 * channels charged to one uid (not root's) */
	uint32_t max_fds_per_proc;   /* default GRAPH_MAX_FDS_PER_PROC */
	uint64_t max_holds_per_uid;  /* default GRAPH_MAX_HOLDS_PER_UID */
	uint64_t max_chans_per_uid;  /* default GRAPH_MAX_CHANS_PER_UID */
	/* closed TCP connections listed (graph_hist.c): default GRAPH_HIST_MAX,
	 * each graph_hist_ent_bytes() */
	uint32_t max_closed;
};
#define GRAPH_MAX_FDS_PER_PROC (1u << 20)
#define GRAPH_MAX_HOLDS_PER_UID 262144u
#define GRAPH_MAX_CHANS_PER_UID 262144u
#define GRAPH_HIST_MAX 131072u

struct graph_stats {
	uint64_t procs, procs_alive, chans, holds;
	uint64_t applied, rejected, evicted, proc_reads;
	uint64_t holder_scans, holder_scans_incomplete, holder_scan_ns; /* graph_scan_holders */
	uint64_t lost_by_shims;  /* sum of EXIT.lost */
	size_t bytes;            /* approximate heap use */
	/* claims the kernel did not confirm (refused: counted in rejected too) */
	uint64_t refused_fd;       /* an fd claim (CONNECT, PIPE, FDRECV, ...) not in /proc/PID/fd */
	uint64_t refused_close;    /* a CLOSE/DUP/CLOSERANGE/EXIT the kernel contradicts */
	uint64_t refused_creator;  /* a BIRTH/IMAGE/SPAWN creator not the kernel's */
	uint64_t refused_bounds;   /* over a per-process or per-uid bound */
	uint64_t addr_corrected;   /* a claimed TCP address the kernel replaced */
	uint64_t lineage_kernel;   /* creators taken from the kernel's view (a gap) */
	uint64_t unreported_fds;   /* fds a walk found in /proc that no record named (graph_proc_check_fds) */
	uint64_t fd_checks;        /* kernel look-ups made for claims */
	uint64_t refused_kev;      /* a BIRTH/IMAGE the kernel's events contradict */
	uint64_t kev_forks;        /* fork events taken (graph_kev.c) */
	uint64_t kev_attested;     /* a sender taken for its fork event's process by
				    * its pidfd, no /proc read (graph_kev.c current) */
	uint64_t kev_tcp_holds;    /* holds of TCP connections from kernel events */
	uint64_t kev_dark_evicted; /* connections no record names pushed out of the
				    * kernel's within the window (their uid's walks
				    * fail closed for it) */
	uint64_t kev_exit_holds;   /* holds of pipes, FIFOs, unix sockets from exit events */
	uint64_t kev_fork_holds;   /* a creator's, from its children's fork events */
	uint64_t kev_recv_holds;   /* a receiver's, from its fd table after a receive of descriptors */
	uint64_t kev_uring_holds;  /* an io_uring user's TCP sockets, from their first read */
	/* closed TCP connections (graph_hist.c): listed, and dropped for the
	 * count cap or the history window */
	uint64_t hist_added, hist_evicted_cap, hist_evicted_window;
	uint64_t hist_bytes;       /* its ring and buckets (in bytes too) */
	uint64_t local_probed;     /* outbound sockets queued for their local end */
	uint64_t local_kev;        /* sockets whose ends the kernel's connect events gave (no dump) */
	uint64_t local_tcp_linked; /* local TCP connections whose two ends were linked
				    * (graph_link_local_tcp) */
};

/* Per uid: what it has in the graph and what of its was refused. */
struct graph_uid_stats {
	uid_t uid;
	uint64_t holds, chans;
	uint64_t refused_claims, refused_bounds;
};
/* Calls cb for every uid that sent a refused claim or holds anything; cb
 * returns non-zero to stop. */
void graph_uid_stats(const struct graph *g, int (*cb)(void *ctx, const struct graph_uid_stats *u),
		     void *ctx);

struct graph;

/* How the graph knows p: "shim" (its records), "kernel" (/proc), or
 * "kernel-events" (/proc, with its creator from the kernel's fork event) */
static inline const char *proc_seen(const struct proc *p)
{
	return p->seen_kev ? "kernel-events" : p->seen_kernel ? "kernel" : "shim";
}

struct graph *graph_new(const struct graph_conf *conf);

/* the kernel's 4-tuple of TCP socket ino from its connect events (kept after
 * its close until the slot is reused): 0, or -1 not known (events off) */
int graph_kev_tcp_ends(struct graph *g, uint64_t ino, struct gaddr *local, struct gaddr *remote);

/* The kernel event source (collector/kev.c, graph_kev.c): on, its fork and
 * exec events are authoritative for BIRTH and IMAGE records; lossy: the ring
 * lost events (a missing exec proves nothing). Times: monotonic ns; start_ns:
 * the child's start since boot (as /proc's starttime, in ns). */
void graph_kev_on(struct graph *g, int on);
void graph_kev_lossy(struct graph *g);
/* uid's events were lost now (over its ration, or the ring full: kev.bpf.c
 * uid_take): only walks of uid's processes take the kernel's events as lossy
 * for the window, and a process of uid's without an exec event is no longer
 * known not to have exec'd (root's, or uid -1: everyone's, graph_kev_lossy).
 * 1 when uid had no loss within the window before (news to log), else 0. */
int graph_kev_uid_lossy(struct graph *g, uid_t uid);
/* Were events lost since from (monotonic ns) that walks of these users
 * (dark_uid: not root; any: every uid) cannot do without? 1 yes, 0 no */
int graph_kev_lost_for(struct graph *g, uint64_t from, const uid_t *uids, size_t n, int any);
/* The collector's own process (after daemon()): it and every process it
 * forks (its inquiry child, its judge, theirs) are not the host's processes
 * of the chain model — their kernel events make no holds and no /proc read. */
void graph_kev_self(struct graph *g, pid_t pid);
/* Did pid fork under the source with no exec event read since (an IMAGE of
 * it would be refused now: records.c reads the events first)? */
int graph_kev_exec_missing(struct graph *g, pid_t pid);
/* the same for a record's sender the kernel attested by its pidfs inode
 * (graph_apply_attested) */
int graph_kev_exec_missing_attested(struct graph *g, pid_t pid, uint64_t pid_ino);
/* fresh: every event written before the records applied from now on was
 * read (kev_caught_up after they were read): a pid's events are its current
 * process's without asking /proc; 0 again after them */
void graph_kev_fresh(struct graph *g, int fresh);
void graph_kev_fork(struct graph *g, pid_t child, pid_t creator, uint64_t start_ns, uint64_t ts);
/* the real uid the fork event gave child (after graph_kev_fork) */
void graph_kev_fork_uid(struct graph *g, pid_t child, uid_t uid);
/* the pidfs inode number of child's struct pid the fork event gave (0: the
 * kernel has none) */
void graph_kev_fork_ino(struct graph *g, pid_t child, uint64_t pid_ino);
void graph_kev_exec(struct graph *g, pid_t pid, uint64_t dev, uint64_t ino, const char *path,
		    uint64_t ts);
void graph_kev_exit(struct graph *g, pid_t pid, uint64_t ts);
/* The pipes, FIFOs and unix sockets pid held as it ended at ts (the kernel's
 * exit-time read of its fd table; more: it held more than these). Kept until
 * graph_kev_settle: a process the shim covers has had its records read by
 * then, and gets nothing from it. */
struct graph_kev_fd {
	int fd;
	uint8_t kind;           /* HT_CHAN_PIPE, HT_CHAN_FIFO, HT_CHAN_SOCK (unix) */
	uint8_t ends;           /* pipes, FIFOs: HE_R | HE_W */
	uint64_t dev, ino;      /* as record.h keys them */
	uint64_t peer;          /* a unix socket's connected peer (0 none) */
};
void graph_kev_fds(struct graph *g, pid_t pid, uid_t uid, uint64_t ts,
		   const struct graph_kev_fd *fds, unsigned n, int more);
/* The same at a fork: pid was just forked (graph_kev_fork before) with these
 * from its creator — the creator held them then. A creator the shim does not
 * cover gets a hold of each it is not known to hold (open, from its image's
 * start: its next /proc read or its end closes it; closed at that read when
 * the read came after the fork and did not show it). */
void graph_kev_fork_fds(struct graph *g, pid_t pid, uint64_t ts, const struct graph_kev_fd *fds,
			unsigned n, int more);
/* The same after pid received on a unix socket that had descriptors in flight
 * (SCM_RIGHTS): its own table then, the received ones in it (TCP sockets
 * too). A process the shim does not cover gets a hold of each it is not known
 * to hold, as a fork's creator does (a static program that receives an fd,
 * reads its orders from it and closes it before any /proc read). */
void graph_kev_recv_fds(struct graph *g, pid_t pid, uint64_t ts, const struct graph_kev_fd *fds,
			unsigned n, int more);
/* Applies the ends kept by graph_kev_fds: all of them (records have all been
 * read), or those older than min_age_ns. A process the shim does not cover
 * gets a hold of each, from its image's start (or its last /proc read) to
 * its end, and ends in the graph; one the graph never knew is made from its
 * fork and exec events, as are its ended creators. */
void graph_kev_settle(struct graph *g, uint64_t now, uint64_t min_age_ns);
/* Dark connections (chain.c): is there a TCP connection with another host,
 * held now or let go of since `from`, that the kernel's events saw and no
 * record of a process the shim describes names — an unshimmed program's, a
 * raw syscall's — held by a process of one of uids[0..n) (any uid but
 * root's when any) other than pid skip, and not one reached(ctx, ino) says
 * the walk reached? 1 yes (*why: the first found), 0 no, -1 the kernel
 * cannot say (the source off, events lost, sock_diag failed). */
struct graph_dark {
	uint64_t ino;           /* the connection found (1): its socket */
	uid_t uid;              /* its holder's uid ((uid_t)-1 unknown) */
	pid_t pid;              /* its connector, 0 unknown */
	struct gaddr remote;
};
int graph_kev_dark(struct graph *g, uint64_t from, const uid_t *uids, size_t n, int any,
		   pid_t skip, int (*reached)(void *ctx, uint64_t ino), void *ctx,
		   struct graph_dark *why);
#define KEV_SETTLE_NS 1000000000ULL /* kept at most this long while records lag */
/* A TCP state change (states as include/net/tcp_states.h) of socket ino:
 * a connect() the kernel saw (SYN_SENT) until its owner's close (released;
 * a shutdown() makes the same states and is not one) or CLOSE gives a
 * process the shim does not cover its hold of that connection (history). */
struct graph_kev_sock {
	pid_t pid;
	uint64_t ino, ts;
	int family;
	uint16_t sport, dport;
	uint8_t oldstate, newstate;
	const uint8_t *saddr, *daddr;
	uint32_t uid;           /* the socket's owner, when has_uid */
	uint8_t has_uid;
	uint8_t released;       /* in its owner's close() (the file's last release) */
};
void graph_kev_tcp(struct graph *g, const struct graph_kev_sock *s, uint64_t now);
/* A task of s->pid that uses io_uring read TCP socket s->ino (the first time
 * for this process; s->newstate: its state): it holds it — an io_uring direct
 * descriptor (a fixed file slot) is in no fd table. An open hold from the
 * connect or passive open the events saw (else from now), unreported, until
 * the socket's release. */
void graph_kev_sockuse(struct graph *g, const struct graph_kev_sock *s, uint64_t now);
/* Unix socket ino's peer is peer: a process ended holding peer while the
 * connection was not accepted yet (its exit's fds named no peer inode); ino
 * is the accepted end, at its first receive. The two are linked. */
void graph_kev_unix_peer(struct graph *g, uint64_t ino, uint64_t peer, uint64_t ts);
/* c, a TCP socket with the kernel's 4-tuple whose far end is this host:
 * links it with the socket at the other end (the reversed 4-tuple) — found
 * by sock_diag while that socket exists, else among the connecting sockets
 * the kernel's events saw (a client that connected, sent and closed before
 * its connection was accepted or probed) — so a chain walk follows a local
 * connection that has closed (issue 12, "Locally too"). Nothing when c is
 * linked already or the other end is not in the graph (yet: its record's
 * own call links them). */
void graph_link_local_tcp(struct graph *g, struct chan *c);
/* a TCP socket's ends from the kernel's connect events, no dump: 1 if given */
int graph_sock_ends_kev(struct graph *g, struct chan *c);
void graph_free(struct graph *g);             /* accepts NULL */

/* Applies one record sent by (pid, uid) — the kernel-attested sender — at
 * collector time now. A record is a claim: what it says about the sender's
 * fds and creator is checked against the kernel first (docs/chain-model.md
 * "Claims"). Returns 0; -EINVAL (malformed, unknown type) or -EPERM (a claim
 * the kernel contradicts: a forged creator, a close of an fd still open) with
 * *why set; -EDQUOT over a per-process or per-uid bound; -ESRCH sender gone.
 * Nothing changes on error. (An fd claim whose fd the kernel no longer shows
 * returns 0: it is kept as history marked unconf, and counted.) */
/* graph_apply of a record whose sender the kernel attested as the struct pid
 * whose pidfs inode number is pid_ino (its ring's SO_PEERPIDFD; 0: not
 * attested so): a fork event naming that inode is the sender's own, with no
 * /proc read of its start (graph_kev.c current) */
int graph_apply_attested(struct graph *g, pid_t pid, uid_t uid, uint64_t pid_ino,
			 const struct ht_record *r, uint64_t now, const char **why);
int graph_apply(struct graph *g, pid_t pid, uid_t uid, const struct ht_record *r,
		uint64_t now, const char **why);

struct proc *graph_proc(struct graph *g, pid_t pid);
/* The live entry for pid, created from /proc when unknown (seen: kernel), with
 * its creator chain and fds; NULL if pid is gone or outside this netns. */
struct proc *graph_proc_kernel(struct graph *g, pid_t pid, uint64_t now);
/* Like graph_proc_kernel, and re-reads a known process's fds from /proc
 * (used when the kernel says pid holds a socket the graph does not know). */
struct proc *graph_proc_resync(struct graph *g, pid_t pid, uint64_t now);
/* The holders of socket ino (owner: its uid from sock_diag, (uid_t)-1 if
 * unknown), found by procfs_holders_scan (include/hoptrace/procfs.h: the
 * owner's processes first; others fair share, within s's budget), each
 * handed to cb. The scan time is charged to the uid whose process was read:
 * (CPU time) a uid (not root) whose processes cost more than GRAPH_SCAN_SHARE of a core
 * lately (GRAPH_SCAN_BURST_NS at once) is not read until that is paid off —
 * s->incomplete then says so. Returns as procfs_holders_scan. */
#define GRAPH_SCAN_BUDGET_NS (20ULL * 1000000ULL) /* a query's /proc scans, all of them: CPU */
#define GRAPH_SCAN_WALL_NS (250ULL * 1000000ULL)  /* and on the clock (the guard waits 300 ms) */
#define GRAPH_SCAN_BURST_NS (20ULL * 1000000ULL)
#define GRAPH_SCAN_SHARE 25 /* percent of a core (as record_rate_uid's graph time) */
#define GRAPH_SYNC_BUDGET_NS (10ULL * 1000000ULL) /* one read of a non-root process's fds */
struct procfs_scan;
int graph_scan_holders(struct graph *g, uint64_t ino, struct procfs_scan *s,
		       int (*cb)(void *ctx, pid_t pid, int fd), void *ctx);
/* the same for a pipe or FIFO (procfs_pipe_holders_scan) */
int graph_scan_pipe_holders(struct graph *g, uint64_t dev, uint64_t ino, struct procfs_scan *s,
			    int (*cb)(void *ctx, pid_t pid, int fd), void *ctx);
/* Before a SYN's chain is walked from subject p: a process whose records
 * need not tell all (sender_kernel) has its fds re-read from /proc — an
 * accept() or recvmsg() it did not report is then on its chain. */
void graph_subject_refresh(struct graph *g, struct proc *p, uint64_t now);
/* At a SYN's walk, for each live process it reaches (docs/chain-model.md
 * "Kernel fallback"): p's fd table compared with the kernel's. An fd on a
 * channel p holds no open hold of (a raw syscall(SYS_accept4), pidfd_getfd, a
 * raw openat of a FIFO: nothing the shim reported) becomes a hold seen from
 * the kernel, dated ts (the walk's now: a snapshot, as every kernel-found hold),
 * marked unreported (a source found through it makes p seen "kernel": its
 * chains say fallback — a listening or unconnected socket, which no record
 * names either, carries nothing and changes no chain); nothing is taken away.
 * A non-root process's read is charged to its uid's scan share and cut short
 * at GRAPH_SYNC_BUDGET_NS or cpu_deadline (0: none). Returns how many such
 * fds were found (each a graph change), -EAGAIN when the read was put off or
 * cut short (what was read is added: its chains may miss a source), -ENOSYS
 * with nothing to read, another -errno when p's fds cannot be read. */
int graph_proc_check_fds(struct graph *g, struct proc *p, uint64_t ts, uint64_t cpu_deadline);
/* A round of walks that may share their fd-table comparisons: between
 * graph_check_round(g, 1) and graph_check_round(g, 0), graph_proc_check_fds
 * compares a live process's table with the kernel's once (in full) and
 * gives that answer again. The collector opens one right after a drain of
 * records, for the walks that answer what was asked before it (a batch of
 * questions, the pushes of the connects it read): each comparison is then
 * still made after the SYN of every question of the batch. Outside a round
 * every call compares. */
void graph_check_round(struct graph *g, int open);
/* Is p (alive in the graph) still alive? Ends it when the kernel says it is
 * gone (a signal's death sends no EXIT). 1 alive, 0 not. */
int graph_verify_alive(struct graph *g, struct proc *p, uint64_t now);
/* graph_verify_alive, and not a zombie by /proc (a zombie holds no fds any
 * more: daemon()'s parent half, which _exit()s inside libc, sends no EXIT) */
int graph_proc_running(struct graph *g, struct proc *p, uint64_t now);
/* Resolves p->creator from /proc when it is still unknown. */
struct proc *graph_creator(struct graph *g, struct proc *p, uint64_t now);
/* Is p's lineage cut where nothing can fill it? p is not root's, no creator
 * is known after graph_creator, and nothing says init created it (no fork
 * event, no BIRTH naming pid 1): it was re-parented to init, so what created
 * it ran without the shim (a static image, an inherited seccomp filter, a
 * loader that ignores LD_PRELOAD) or before the collector, and no kernel view
 * (fork event, process group or session leader) names it. Or the kernel's
 * fork event names a creator the graph cannot place. p's own shim may be on
 * or off. Its chains are incomplete: a missing creator may be the way to
 * another origin (chain.c). */
int graph_lineage_gap(const struct proc *p);
/* Brings a process whose image changed without a record (static exec) up to
 * date from /proc. */
void graph_refresh(struct graph *g, struct proc *p, uint64_t now);
struct chan *graph_chan(struct graph *g, uint8_t kind, uint64_t dev, uint64_t ino);

/* Probes the sockets first seen in /proc since the last call (their kind, ends
 * and direction, while they still exist): unix ones by exact lookup, the rest
 * in one sock_diag TCP dump — at most every GRAPH_PROBE_GAP_NS unless force (a
 * query is about to read the graph). The collector calls it after each round
 * of records, and again within that gap while graph_pending() is not 0. */
void graph_probe_pending(struct graph *g, int force);
/* TCP dumps walk the kernel's whole connection table (45% of the collector's
 * time when every process of a shell script inherited a socket): not more
 * often than this unless forced */
#define GRAPH_PROBE_GAP_NS (20ULL * 1000000ULL)
/* the same with the kernel's connect events on, when only TCP sockets wait */
#define GRAPH_PROBE_GAP_KEV_NS (1000ULL * 1000000ULL)
/* A unix socket whose peer the kernel cannot name yet (connected, not yet
 * accepted: sock_diag -EAGAIN — a shim's record connection while the
 * collector lags) is asked again each round, at most this many; a chain walk
 * asks again too, and one that reaches such a socket after so many answers is
 * holders_incomplete (chain.c unix_ends) */
#define GRAPH_PEER_WAIT_ROUNDS 64
void graph_peer_wait(struct graph *g, struct chan *c);
size_t graph_pending(const struct graph *g);
/* Marks (on=1) or unmarks the collector's own end of a connection (socket
 * inode): a channel whose peer is internal is nobody's source. */
void graph_mark_internal(struct graph *g, uint64_t ino, int on);
void graph_gc(struct graph *g, uint64_t now);
/* While held (nested), nothing of the graph is freed: a chain walk keeps
 * pointers to holds and processes across calls that may read /proc (closed
 * holds past a process's bound are trimmed, and ended processes evicted, at
 * the next safe point instead). */
void graph_hold(struct graph *g);
void graph_release(struct graph *g);
void graph_stats(const struct graph *g, struct graph_stats *st);
/* counts a claimed TCP address the kernel's table replaced (chain.c) */
void graph_note_addr_corrected(struct graph *g);
const struct graph_conf *graph_conf(const struct graph *g);
/* conf.kernel_pipe_holders, kernel_fds and kernel_ctx, once the graph is
 * made (the collector's kernel descriptor search, kiter.h, loads after it) */
void graph_set_kernel_search(struct graph *g,
			     int (*holders)(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
					    int (*cb)(void *cbctx, pid_t pid, int fd), void *cbctx),
			     graph_kernel_fds_fn fds, void *ctx);
/* A counter of the graph's changes that a chain walk may see: every record
 * applied (or refused), every hold opened (also from /proc), every process
 * ended, every gc, trim and socket probe. While it stays the same a walk
 * from the same subject gives the same chain but for what the walk itself
 * asks the kernel (collector/push.c: a prejudged chain is confirmed on it). */
uint64_t graph_changes(const struct graph *g);

/* ---- the recent past of TCP connections (graph_hist.c) -------------------
 * A TCP connection whose 4-tuple the kernel gave is listed when its last
 * holder lets go of it: at most conf.max_closed (the oldest dropped first),
 * each until it closed longer than window_ns ago (graph_gc). Memory:
 * max_closed * graph_hist_ent_bytes() (88 bytes: 11.5 MB at GRAPH_HIST_MAX),
 * allocated at the first close; lookup by exact 4-tuple, O(1) expected. */
struct graph_closed {
	uint64_t ino, since, until; /* monotonic ns: its first hold, its last close */
	uint64_t serial;            /* the holder's entry (struct proc serial) */
	pid_t pid;
	uint8_t dir;                /* 'o' connected, 'i' accepted, 0 unknown */
	int expired;                /* closed longer than window_ns before now */
};
size_t graph_hist_ent_bytes(void);
size_t graph_hist_count(const struct graph *g);
/* The connection l-r (l: this host's end) as it was at t: 1 and *out when one
 * closed within the window (the one held at t, else the newest); 0 and *out
 * (expired) when the only one closed longer ago and is still listed; -1 none. */
int graph_hist_find(struct graph *g, const struct ht_addr *l, const struct ht_addr *r, uint64_t t,
		    uint64_t now, struct graph_closed *out);
/* The process that held e's connection, and the channel (*cp), with *t put
 * within its hold; NULL when the graph no longer has them (retention, a
 * bound) or the inode is another socket's now. */
struct proc *graph_hist_holder(struct graph *g, const struct graph_closed *e, uint64_t *t,
			       struct chan **cp);

/* iteration: oldest first */
struct proc *graph_first_proc(struct graph *g);
struct chan *graph_first_chan(struct graph *g);

/* Links two socket ends as peers, first unlinking whatever either was linked
 * to (a dangling peer would outlive the freed channel). */
static inline void chan_link_peers(struct chan *a, struct chan *b)
{
	if (a->peer && a->peer != b && a->peer->peer == a)
		a->peer->peer = NULL;
	if (b->peer && b->peer != a && b->peer->peer == b)
		b->peer->peer = NULL;
	a->peer = b;
	b->peer = a;
}

/* hold open at time t? */
static inline int hold_live_at(const struct hold *h, uint64_t t)
{
	return h->since <= t && (h->until == 0 || h->until > t);
}

const char *graph_intern(struct graph *g, const char *s);
/* p's executable hash, "" unknown: one the background hasher finished since
 * the image was seen is taken over (collector/sha256.h exehash_request) */
const char *graph_proc_sha256(struct graph *g, const struct proc *p);

#endif
