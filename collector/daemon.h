/*
 * daemon.h — hoptraced's parts, for its own files only (collector/main.c and
 * the files below); nothing outside collector/ includes it.
 *
 * The daemon is one thread and one epoll loop (loop.c) over its sockets; each
 * part keeps its state in one struct, and struct collector (main.c creates
 * it) holds them all:
 *
 *   conf.c     struct conf      [collector] of hoptrace.conf
 *   closer.c   struct closer    passed descriptors, closed on a thread of
 *                               their own (never on the loop's)
 *   sockets.c  struct sockets   the served names (abstract + path), squatted
 *                               names, the doorbell, accepting, closing
 *   records.c  struct records   record connections grouped by uid, token
 *                               buckets, parking, the drain before answers
 *   queries.c  (no state)       the guard's SEQPACKET queries and the CLI's
 *                               nng control socket
 *   push.c     struct push      subscriptions, prejudged chains pushed,
 *                               the "pushed" ring
 *   follow.c   (no state)       answers with upstream conn leaves handed to
 *                               the inquiry follower; HTTP inquiries' local part
 *   loop.c     struct loop      the epoll loop: timeouts, record batching,
 *                               the 1 s timer (retention, names, watchdog)
 *   kev.c      struct kev       the kernel event source (kev.h): BPF programs,
 *                               their ring buffer, read before records
 *
 * Every function takes the collector (or its part) explicitly; the only file
 * statics left are the quit flag the signal handler sets and the pointer the
 * status callback needs (main.c).
 */
#ifndef HT_DAEMON_H
#define HT_DAEMON_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>

#include "hoptrace/query.h"
#include "hoptrace/record.h"
#include "hoptrace/ring.h"
#include "answer.h"
#include "graph.h"
#include "inquiry.h"
#include "kev.h"

/* ---- epoll tags: what an event's fd is --------------------------------------- */
#define TAG_REC_LISTEN 1u
#define TAG_REC_CONN 2u
#define TAG_Q_LISTEN 3u
#define TAG_Q_CONN 4u
#define TAG_NNG 5u
#define TAG_TIMER 6u
#define TAG_INQ 7u
#define TAG_RECORDS 8u
#define TAG_BELL 9u
#define TAG_UIDSET 10u
#define TAG_KEV 11u    /* the kernel event ring buffer (kev.c) */ /* a uid's set of record connections, in records.ep */
#define TAG(t, fd) (((uint64_t)(t) << 32) | (uint32_t)(fd))

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- conf.c: configuration ---------------------------------------------------- */
struct conf {
	char hostname[64];
	char control[256];
	char rec_socket[100];
	char query_socket[100];
	unsigned long long retention_ms, window_ms, max_procs, batch_ms, busy_poll_us;
	/* receive bounds (docs/config.md): records/s applied per connection and
	 * per uid (root: per connection only), connections per uid, and how long
	 * a query may spend draining records before it is answered */
	unsigned long long rate_conn, rate_uid, max_conns_uid, query_drain_us;
	/* the kernel event source (kev.h): auto|on|off, its ring's size */
	int kev_mode, kev_accept, kev_sockets;
	unsigned long long kev_ring_kb;
	struct inq_conf inq;
};

/* Defaults, then path's [collector] and [inquiry] (a missing file is fine
 * unless explicit_path). 0, or -1 with err. */
int conf_load(const char *path, int explicit_path, struct conf *c, char *err, size_t n);

/* ---- closer.c: passed descriptors, never closed on the loop's thread ---------- */
#define SCM_MAX_FDS 253 /* SCM_MAX_FD, include/net/scm.h */
#define CLOSER_CAP 65536
#define CLOSER_RESERVE 1024 /* slots kept for closing connections */
#define CLOSER_KICK_NS (100ULL * 1000000ULL)

struct closer {
	int passrights_off;     /* the kernel refuses SCM_RIGHTS to our sockets */
	pthread_mutex_t mu;     /* guards q, head, n (shared with the thread) */
	pthread_cond_t cv;
	int *q;                 /* CLOSER_CAP descriptors, a ring */
	size_t head, n;
	_Atomic uint64_t busy_since, closed; /* written by the closer thread */
	uint64_t kicks, full, leaked;        /* the loop's only */
	pthread_t thread;
	int running;
};

/* a control buffer no SCM_RIGHTS message can overflow (MSG_CTRUNC drops
 * descriptors in the kernel: their last fput would be ours) */
union rcv_cbuf {
	char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * SCM_MAX_FDS) + 64];
	struct cmsghdr align;
};

/* Probes SO_PASSRIGHTS (HOPTRACED_NO_PASSRIGHTS=1: as before Linux 6.16). */
void closer_init(struct closer *cl);
/* Starts the thread (after daemon()); fatal when it cannot. */
void closer_start(struct closer *cl);
/* SO_PASSRIGHTS = 0 on fd where the kernel has it */
void closer_no_passrights(const struct closer *cl, int fd);
/* Room to read one more datagram from a socket that may carry descriptors. */
int closer_fd_room(struct closer *cl);
/* Closes a socket whose queue may hold passed descriptors. */
void closer_close(struct closer *cl, int fd);
void closer_dispose(void *cl, int fd); /* graph_conf dispose_fd */
/* Takes a received message's descriptors off this thread; returns how many. */
int closer_drop_passed(struct closer *cl, struct msghdr *mh);
/* recv() for a socket anybody may have sent descriptors to */
ssize_t closer_recv(struct closer *cl, int fd, void *buf, size_t len, int flags, int *had_fds);
/* A close stuck for more than CLOSER_KICK_NS gets a signal. */
void closer_watch(struct closer *cl, uint64_t now);
int closer_busy(struct closer *cl); /* a close is under way */
void closer_status(struct closer *cl, cJSON *a);

/* ---- sockets.c: names, squatted names, the doorbell, connections --------------- */
#define MAX_SQUAT 8

/* One served name: its abstract socket (-1 while squatted) and its path one. */
struct named {
	const char *what;
	char name[100];
	int type, tag;
	mode_t mode;
	int afd, pfd;
	char path[108];
	int squat; /* index in squat_msg + 1 */
	long squat_uid; /* the squatter's uid when it could be told, else -1 */
};

struct sockets {
	uint64_t netns_ino;
	int rundir_ok;          /* HT_RUN_DIR is root's: path sockets */
	char squat_msg[MAX_SQUAT][200];
	int nsquat;
	struct named rec, bell, query;
	struct named ring;      /* ring registrations (fd passing on: memfds only) */
	int bell_paused[2];     /* doorbells not watched while the closer is full */
};

struct collector;
/* The record, query and doorbell sockets; fatal when records or queries
 * cannot be served at all, or root serves the record name already. */
void sockets_open(struct collector *c);
void sockets_retry(struct collector *c);   /* the 1 s timer: reclaim squatted names */
void sockets_unlink(struct collector *c);  /* at exit: the path sockets */
void sockets_status(struct collector *c, cJSON *a);
void bell_drain(struct collector *c, int fd);
void bell_resume(struct collector *c);
void ep_add(struct collector *c, int fd, uint32_t tag);
/* accepts what is queued on listener lfd (tag: TAG_REC_CONN or TAG_Q_CONN) */
void accept_all(struct collector *c, int lfd, uint32_t tag);
/* closes a record or query connection (and its subscription) */
void close_conn(struct collector *c, int fd);

/* ---- records.c: record connections grouped by uid ------------------------------ */
#define MAX_UIDS 256
#define PEND_MAX 2048

struct bucket {
	double tok;
	uint64_t t;
};

struct ruid {
	uid_t uid;
	int ep;                 /* its connections' set, in records.ep */
	int nconn, parked;
	uint64_t park_until;
	struct bucket apply, read;
	struct bucket cpu;      /* graph time, ns (not for root) */
	double cost;            /* graph time per record, ns (moving average) */
	int drained;            /* the last round read all it had */
	uint64_t records, dropped, refused, parks;
	uint64_t shim_lost;     /* sends its shims could not make (EXIT's lost: a claim) */
	int nring;              /* its registered rings (ring.c) */
};

struct rconn {
	int u;                  /* index in uids + 1; 0: not a record connection */
	pid_t pid;
	int parked;
	uint64_t park_until;
	struct bucket apply, read;
	pid_t drop_pid;         /* a record of this pid was dropped: RESYNC it */
	uint64_t drop_t;        /* ... when, last */
};

/* one record read, waiting to be applied in send-time order */
struct pend {
	struct ht_record rec;
	uint64_t seq;
	pid_t pid;
	uid_t uid;
	uint64_t pid_ino; /* a ring's registrant's pidfs inode (0: none, a socket's) */
	int u;          /* its connection's uid set (uids index + 1; 0: none) */
	double pre;     /* graph time charged in advance (ns) */
};

/* one process's record ring (ring.c): read like a connection, its records
 * the registrant's claims (pid and uid attested by the kernel at registration) */
struct cring {
	pid_t pid;
	uid_t uid;
	int pidfd;              /* the registrant (SO_PEERPIDFD), in records.ep */
	uint64_t pid_ino;       /* its pidfs inode number (0: not a pidfs pidfd) */
	int dead;               /* it exited: read what is left, then forget the ring
				 * (2: read, forgotten at the end of the round) */
	struct ht_ring_reader rd;
	uint64_t applied_ns;    /* of a read_ring: time spent applying records (PEND_MAX) */
	struct rconn rc;        /* its buckets, parking, RESYNC (like a connection's) */
	uint64_t last_ts;
};

#define RINGS_UNMAP_MAX 128
struct rings {
	struct cring **v;
	int n, cap;
	int start;              /* where the next drain round begins (rings_drain) */
	uint32_t beat;          /* written to every ring each second (ring.h `beat`) */
	uint64_t next_poll;     /* rings have no wake-up of their own: polled */
	uint64_t registered, refused, replaced, ended, bad, stuck;
	/* the mappings of rings forgotten since the last rings_unmap_flush:
	 * unmapped together, adjacent ones in one munmap (one TLB flush where
	 * there was one per exit) */
	void *unmap[RINGS_UNMAP_MAX];
	int nunmap;
};

struct records {
	struct rings rings;
	int ep;                 /* the record sockets: uid sets and listeners */
	struct ruid uids[MAX_UIDS];
	int nuids;
	struct rconn *rconns;   /* by fd */
	int nrconns;
	int *parked_fds;
	int nparked, parked_cap;
	uint64_t unpark_at;     /* the next time unpark() has work (0: none) */
	struct pend *pend;      /* PEND_MAX */
	uint32_t *pend_ix;      /* PEND_MAX, pend sorted by time */
	size_t npend;
	uint64_t pend_seq;
	int drain_cut;          /* the last drain stopped at its bound, records waiting */
};

/* The record set (watched from c->ep) and the pending buffer; fatal on failure. */
void records_init(struct collector *c);
int rconn_add(struct collector *c, int fd, const struct ucred *cr);
int rconn_del(struct collector *c, int fd); /* 1: it was a record connection (in its uid's set only) */
/* Processes records already queued, round-robin across uids, until deadline
 * (query: quiet uids first, see records.c). Returns how many it took. */
int drain_rounds(struct collector *c, uint64_t deadline, int query);
/* Every record already queued, then the probes and pushes they brought:
 * before any answer. */
void drain_records(struct collector *c);
void rec_arm(struct collector *c); /* the next record wakes the loop */
void records_status(struct collector *c, cJSON *a);
/* reads at most max records of a ring into `pend` (records.c) */
int read_ring(struct collector *c, struct cring *r, uint64_t now, int max, int *more);

/* ---- ring.c: per-process record rings -------------------------------------------- */
#define TAG_RING 12u   /* a ring's registrant (its pidfd), in records.ep: it exited
			* (11: the kernel event source's) */
#define RING_POLL_NS (20ULL * 1000000ULL) /* an idle loop reads the rings this often */
/* A datagram on a record connection that carries exactly one descriptor: a
 * ring registration when the descriptor is a ring and the kernel says the
 * connection's maker sent it. 1 when it was taken (the descriptor is closed
 * here), 0 when it is not a registration (the closer gets it). *pid_ino (when
 * not NULL): the registrant's pidfs inode when the ring was registered, else
 * left as it was. */
int ring_register_msg(struct collector *c, int connfd, const struct rconn *rc, struct msghdr *mh,
		      const struct ucred *cr, uint64_t *pid_ino);
void rings_unmap_flush(struct collector *c);
int ring_pid_alive(int pidfd);
void ring_exited(struct collector *c, int pidfd); /* TAG_RING */
/* reads every ring (one round's share); *busy when one has more */
int rings_drain(struct collector *c, uint64_t now, int light, int *busy);
void rings_tick(struct collector *c);             /* the 1 s timer: `beat` */
void rings_status(struct collector *c, cJSON *a);

/* ---- push.c: subscriptions and prejudged chains --------------------------------- */
#define MAX_PREJ 256
#define PUSHED_RING 512

struct push {
	int subs[HT_SUBSCRIBERS_MAX], nsubs;
	pid_t sub_pid[HT_SUBSCRIBERS_MAX]; /* each subscriber's process (SO_PEERCRED) */
	/* the pushes that reached a subscriber's socket, newest last (a ring):
	 * each with graph_changes() after its walk, and whether its chain
	 * depended on the graph alone (query_prejudge_at "settled") — a "who"
	 * after the SYN is answered "pushed" only while both hold */
	struct { uint64_t ino, changes; pid_t pid; int settled; } ring[PUSHED_RING];
	unsigned next;
	/* the drain that read the noted connects: when it began (monotonic ns;
	 * 0 when it was cut short — records sent before it may wait unread) */
	uint64_t drain_ns;
	/* the TCP connects to other hosts read since the last push */
	struct { uint64_t ino; struct ht_addr remote; } prej[MAX_PREJ];
	int nprej;
	/* after a push the loop polls awake until spin_until (busy_poll_us),
	 * spin_used of each second's budget (loop.c) */
	uint64_t spin_until, spin_window, spin_used;
	/* what became of the last 32 pushes asked about (bit 1: "pushed" or
	 * taken at once, a "bound"; 0: the full answer was needed), nhist of
	 * them known; cold: pushes are mostly wasted walks (push_prejudged
	 * walks one connect in PUSH_SAMPLE then and says "nopush" for the rest) */
	uint32_t hist;
	unsigned nhist, sample;
};

/* {"op":"subscribe"} on query connection fd: answers it */
void push_subscribe(struct collector *c, int fd);
void push_unsubscribe(struct collector *c, int fd); /* fd closes */
/* Is this CONNECT a first attempt (asked before it is applied)? */
int push_is_fresh(struct collector *c, const struct ht_record *r);
/* What became of a push: 1 it decided its SYN ("pushed", or a "bound"), 0
 * the SYN got the full answer. */
void push_outcome(struct collector *c, int held);
void push_note(struct collector *c, const struct ht_record *r); /* applied */
void push_prejudged(struct collector *c); /* the noted connects' chains, now */
/* A drain of every record queued begins, at now_ns(); and it ended, with
 * every record queued at its start read or not (cut short, or a connection
 * parked): what push_prejudged sends as "after_us" (none when not). */
void push_drain_begin(struct collector *c);
void push_drain_end(struct collector *c, int unread);
/* Sets c->qctx.was_pushed for a request from fd's process (answer.h; a
 * is its argument, alive until the answer is made); push_asker_clear after. */
struct push_asker {
	struct push *p;
	const struct graph *graph;
	pid_t pid;
};
void push_asker_set(struct collector *c, int fd, struct push_asker *a);
void push_asker_clear(struct collector *c);

/* ---- queries.c: the guard's SEQPACKET queries, the CLI's nng socket ------------- */
/* The guard's query connections fds[0..n) that epoll said are readable:
 * their questions read, then answered as one batch (queries.c). */
void serve_query_conns(struct collector *c, const int *fds, int n);
void serve_nng(struct collector *c);
/* The CLI's control socket (its directory, then nng after daemon()). */
void control_prepare(struct collector *c);
void control_open(struct collector *c);

/* ---- follow.c: answers with upstream conn leaves, HTTP inquiries ----------------- */
/* The answer ans to who/chain request q (parsed) with upstream conn leaves:
 * returns 1 when the follower took it (it delivers the answer through
 * done/arg), 0 to send ans now. */
int follow_later(struct collector *c, const struct ht_qreq *q, const char *ans, inq_done_fn done,
		 void *arg);
/* inq_who_fn: the local part of an HTTP inquiry (arg: the collector) */
char *follow_inq_who(void *arg, const char *local, const char *remote, unsigned long age_ms);

/* ---- loop.c: the epoll loop --------------------------------------------------------- */
struct loop {
	int tfd;                /* the 1 s timer */
	uint64_t wd_usec;       /* systemd's WatchdogSec (0: none) */
	int batching;           /* records.ep is disarmed: read it at next_drain */
	uint64_t next_drain, flood_until;
	int no_pwait2;          /* the kernel lacks epoll_pwait2 */
};

void loop_timer_open(struct collector *c);
/* Runs until *c->quit. */
void loop_run(struct collector *c);

/* ---- main.c --------------------------------------------------------------------------- */
struct collector {
	volatile sig_atomic_t *quit; /* set by SIGTERM / SIGINT */
	volatile sig_atomic_t *hup;  /* set by SIGHUP: the [fleet] files again (next tick) */
	int ep;                 /* the loop's epoll set */
	struct conf cf;
	struct graph *graph;
	struct collector_stats stats;
	struct query_ctx qctx;
	struct inquiry *inq;
	nng_socket rep;         /* the CLI's raw REP socket */
	char control_url[300];
	struct closer closer;
	struct sockets socks;
	struct records rec;
	struct push push;
	struct loop loop;
	struct kev kev;         /* the kernel event source (kev.c) */
	uint64_t kev_lost_said;  /* kev_lost() when graph_kev_lossy was last told (loop_tick) */
};

#endif
