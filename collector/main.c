/*
 * collector/main.c (hoptraced) — the collector daemon. One thread, one epoll loop over:
 *   - the record listeners (SEQPACKET, abstract "\0hoptrace/rec" and its path
 *     under /run/hoptrace) and one connection per shimmed process image, in
 *     one epoll set per uid; every datagram's sender is the kernel's
 *     SCM_CREDENTIALS, never a field of the record;
 *   - the guard's query listener (SEQPACKET, abstract "\0hoptrace/query",
 *     root peers only) — one datagram request, one datagram answer;
 *   - the CLI's nng REP socket (ipc://, mode 0600, root peers only);
 *   - a 1 s timer for retention and liveness;
 *   - the trace inquiry service's eventfd (collector/inquiry_svc.c): HTTP
 *     inquiries from other hosts are computed here, on the graph's thread.
 * A who/chain answer with unfollowed upstream `conn` leaves (the chain comes
 * from another host) is handed to the inquiry follower thread, which asks
 * those hosts and sends the merged answer itself (on a dup() of the guard's
 * socket, or through the CLI's raw REP socket); a local-origin answer is sent
 * from here at once, at the cost of one strstr().
 * Before answering any query it drains pending records — quiet uids first,
 * then round-robin, bounded in time (query_drain) — so a record sent just
 * before a connect() is in the graph when the guard asks about the SYN, and
 * another user's flood delays the answer by a bounded amount ("record
 * connections, grouped by uid" below). Nothing a sender controls blocks this
 * thread: passed descriptors are refused by the kernel or closed elsewhere
 * ("passed descriptors"). Every socket is also served at a path only root can
 * bind, and a squatted abstract name is reported ("sockets").
 *
 * Records do not wake the loop one by one: the record sockets live in their
 * own epoll set (rec_ep), watched from the main one with EPOLLONESHOT. The
 * first record after a quiet spell wakes the loop; it drains every record
 * socket, then reads them again every `record_batch` (default 2 ms) while
 * records keep coming, and goes back to waking on the next one after a round
 * that found none; in a flood (32+ records in one read) the interval is
 * 200 us for 200 ms, short enough that no socket overflows. Queries drain
 * first, so batching never hides a record from an answer, and a shim rings a
 * doorbell datagram socket after the CONNECT record of a TCP connection to
 * another host: the record is read at once and the loop is awake when the
 * guard asks about the SYN. (A wake-up per record — five per fork+exec — made
 * the scheduler move the observed programs between CPUs: ~100 us per spawn on
 * 2 cores.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdint.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16+, asm-generic/socket.h (glibc 2.36 lacks it) */
#endif
#include <nng/nng.h>
#include <netinet/tcp.h>
#include <nng/protocol/reqrep0/rep.h>

#include "hoptrace/chain.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/record.h"
#include "hoptrace/sdnotify.h"
#include "graph.h"
#include "inquiry.h"
#include "answer.h"
#include "hoptrace/sockdiag.h"
#include "hoptrace/unshim.h"

#define TAG_REC_LISTEN 1u
#define TAG_REC_CONN 2u
#define TAG_Q_LISTEN 3u
#define TAG_Q_CONN 4u
#define TAG_NNG 5u
#define TAG_TIMER 6u
#define TAG_INQ 7u
#define TAG_RECORDS 8u
#define TAG_BELL 9u
#define TAG_UIDSET 10u /* a uid's set of record connections, in rec_ep */
/* records in one drain that mean "flood": read every FLOOD_BATCH_NS (a
 * process's socket holds ~278 records: 1.4M records/s) for FLOOD_HOLD_NS */
#define BATCH_FLOOD 32
#define FLOOD_BATCH_NS (200ULL * 1000ULL)
#define FLOOD_HOLD_NS (200ULL * 1000000ULL)
/* how long sockets queued for a TCP probe may wait (graph_probe_pending) */
#define PROBE_WAIT_NS ((int64_t)GRAPH_PROBE_GAP_NS + 1000000LL)
#define TAG(t, fd) (((uint64_t)(t) << 32) | (uint32_t)(fd))

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
	struct inq_conf inq;
};

static volatile sig_atomic_t quit;
static int ep = -1;
static int rec_ep = -1; /* the record sockets (see the top of this file) */
static struct graph *graph;
static struct collector_stats stats;
static struct query_ctx qctx;
static struct conf cf;
static struct inquiry *inq;
static nng_socket rep = NNG_SOCKET_INITIALIZER;

/* Prejudged chains (docs/query-protocol.md "subscribe"): the guard's push
 * connections, and the TCP connects to other hosts read since the last push. */
#define MAX_SUBS 4
#define MAX_PREJ 256
#define PUSH_MAX 16384 /* larger chains are asked about (the guard keeps 1024) */
/* After a push the loop polls awake for busy_poll_us (config) for the next
 * connect's doorbell — a client opening connection after connection then
 * does not wait for the collector's wake-up (10-15 us here) — but never for
 * more than this much of each second (5% of a core) */
#define SPIN_BUDGET_NS (50ULL * 1000000ULL)
static uint64_t spin_until, spin_window, spin_used;
static int subs[MAX_SUBS], nsubs;
static pid_t sub_pid[MAX_SUBS];      /* each subscriber's process (SO_PEERCRED) */
/* the pushes that reached a subscriber's socket, newest last (a ring) */
#define PUSHED_RING 512
static struct { uint64_t ino; pid_t pid; } pushed_ring[PUSHED_RING];
static unsigned pushed_next;
static struct prej {
	uint64_t ino;
	struct ht_addr remote;
} prej[MAX_PREJ];
static int nprej;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

/* ---- configuration -------------------------------------------------------- */

static int conf_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t errlen)
{
	struct conf *c = ctx;
	if (strcmp(sec, "inquiry") == 0)
		return inq_conf_key(&c->inq, key, val, err, errlen);
	if (strcmp(sec, "collector") != 0)
		return 0; /* other programs' sections */
	if (strcmp(key, "hostname") == 0) {
		if (!*val || strlen(val) >= sizeof(c->hostname)) {
			snprintf(err, errlen, "hostname: empty or longer than 63 bytes");
			return -1;
		}
		snprintf(c->hostname, sizeof(c->hostname), "%s", val);
	} else if (strcmp(key, "control") == 0) {
		if (val[0] != '/' || strlen(val) >= sizeof(c->control) - 1) {
			snprintf(err, errlen, "control: must be an absolute path");
			return -1;
		}
		snprintf(c->control, sizeof(c->control), "%s", val);
	} else if (strcmp(key, "record_socket") == 0 || strcmp(key, "query_socket") == 0) {
		char *dst = key[0] == 'r' ? c->rec_socket : c->query_socket;
		if (!*val || strlen(val) >= sizeof(c->rec_socket)) {
			snprintf(err, errlen, "%s: empty or longer than 99 bytes", key);
			return -1;
		}
		snprintf(dst, sizeof(c->rec_socket), "%s", val);
	} else if (strcmp(key, "retention") == 0) {
		return ini_duration_ms(val, &c->retention_ms, err, errlen);
	} else if (strcmp(key, "history_window") == 0) {
		return ini_duration_ms(val, &c->window_ms, err, errlen);
	} else if (strcmp(key, "record_batch") == 0) {
		if (ini_duration_ms(val, &c->batch_ms, err, errlen) != 0)
			return -1;
		if (c->batch_ms > 100) {
			snprintf(err, errlen, "record_batch: at most 100ms");
			return -1;
		}
	} else if (strcmp(key, "busy_poll_us") == 0) {
		if (ini_uint(val, 10000ULL, &c->busy_poll_us, err, errlen) != 0)
			return -1;
	} else if (strcmp(key, "record_rate") == 0 || strcmp(key, "record_rate_uid") == 0) {
		if (ini_uint(val, 100000000ULL, key[11] ? &c->rate_uid : &c->rate_conn, err, errlen) != 0)
			return -1;
		if ((key[11] ? c->rate_uid : c->rate_conn) < 100) {
			snprintf(err, errlen, "%s: at least 100 (records per second)", key);
			return -1;
		}
	} else if (strcmp(key, "max_connections_uid") == 0) {
		if (ini_uint(val, 10000000ULL, &c->max_conns_uid, err, errlen) != 0)
			return -1;
		if (c->max_conns_uid < 16) {
			snprintf(err, errlen, "max_connections_uid: at least 16");
			return -1;
		}
	} else if (strcmp(key, "query_drain") == 0) {
		unsigned long long ms;
		if (ini_duration_ms(val, &ms, err, errlen) != 0)
			return -1;
		if (ms < 1 || ms > 100) {
			snprintf(err, errlen, "query_drain: 1ms to 100ms");
			return -1;
		}
		c->query_drain_us = ms * 1000;
	} else if (strcmp(key, "max_processes") == 0) {
		if (ini_uint(val, 100000000ULL, &c->max_procs, err, errlen) != 0)
			return -1;
		if (c->max_procs < 100) {
			snprintf(err, errlen, "max_processes: at least 100");
			return -1;
		}
	} else {
		snprintf(err, errlen, "unknown key \"%s\" in [collector]", key);
		return -1;
	}
	return 0;
}

static int conf_load(const char *path, int explicit_path, struct conf *c, char *err, size_t n)
{
	memset(c, 0, sizeof(*c));
	gethostname(c->hostname, sizeof(c->hostname) - 1);
	snprintf(c->control, sizeof(c->control), "/run/hoptrace/control.sock");
	snprintf(c->rec_socket, sizeof(c->rec_socket), "%s", HT_REC_SOCKET);
	snprintf(c->query_socket, sizeof(c->query_socket), "hoptrace/query");
	c->retention_ms = 600000;
	c->window_ms = 60000;
	c->max_procs = 200000;
	c->batch_ms = 2;
	c->busy_poll_us = 100;
	c->rate_conn = 100000;
	c->rate_uid = 50000;
	c->max_conns_uid = 4096;
	c->query_drain_us = 1000;
	inq_conf_defaults(&c->inq);
	if (!explicit_path && access(path, F_OK) != 0)
		return 0; /* no file: defaults */
	if (ini_parse(path, conf_cb, c, err, n) != 0)
		return -1;
	return inq_conf_finish(&c->inq, err, n);
}

/* ---- passed descriptors: never closed on this thread ------------------------ */

/* A file's last close can block for as long as its sender likes: a TCP socket
 * with SO_LINGER and unsent data, a FUSE flush, a tty, NFS. Descriptors passed
 * to us (SCM_RIGHTS) are therefore never closed here. On Linux 6.16+ the
 * kernel refuses them outright: SO_PASSRIGHTS = 0 on every socket anybody can
 * send to (set on the listeners before listen(): an accepted socket inherits
 * it from the listener at connect() time, so no datagram with descriptors can
 * be queued before accept; sendmsg then fails with EPERM). Without it
 * (HOPTRACED_NO_PASSRIGHTS=1 forces this for the tests) every receive has
 * room for SCM_MAX_FD descriptors — a truncated control message would have
 * the kernel drop the rest, and their last fput would run on this thread —
 * and hands them to the closer thread through a bounded queue; a socket is
 * read only while the queue has room for one more datagram's descriptors, a
 * connection that may still hold passed descriptors is closed by the closer
 * too, and a close that takes more than 100 ms is interrupted (SIGUSR1: the
 * waits of a lingering socket or a FUSE request are interruptible). */
static int passrights_off;      /* the kernel refuses SCM_RIGHTS to our sockets */
#define SCM_MAX_FDS 253         /* SCM_MAX_FD, include/net/scm.h */
#define CLOSER_CAP 65536
#define CLOSER_RESERVE 1024     /* slots kept for closing connections */
#define CLOSER_KICK_NS (100ULL * 1000000ULL)
static pthread_mutex_t cl_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cl_cv = PTHREAD_COND_INITIALIZER;
static int *cl_q;
static size_t cl_head, cl_n;
static _Atomic uint64_t cl_busy_since, cl_closed;
static uint64_t cl_kicks, cl_full, cl_leaked;
static pthread_t cl_thread;
static int cl_running;

static void on_kick(int sig)
{
	(void)sig; /* interrupts the closer's close() */
}

static void *closer_main(void *arg)
{
	(void)arg;
	sigset_t m;
	sigfillset(&m);
	sigdelset(&m, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	for (;;) {
		pthread_mutex_lock(&cl_mu);
		while (!cl_n)
			pthread_cond_wait(&cl_cv, &cl_mu);
		int fd = cl_q[cl_head];
		cl_head = (cl_head + 1) % CLOSER_CAP;
		cl_n--;
		pthread_mutex_unlock(&cl_mu);
		atomic_store(&cl_busy_since, now_ns());
		close(fd);
		atomic_store(&cl_busy_since, 0);
		atomic_fetch_add(&cl_closed, 1);
	}
	return NULL;
}

static void closer_start(void)
{
	struct sigaction sa = {.sa_handler = on_kick}; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	cl_q = calloc(CLOSER_CAP, sizeof(*cl_q));
	if (!cl_q || pthread_create(&cl_thread, NULL, closer_main, NULL) != 0)
		fatalx("cannot start the closer thread");
	cl_running = 1;
}

static size_t closer_room(void)
{
	pthread_mutex_lock(&cl_mu);
	size_t r = CLOSER_CAP - cl_n;
	pthread_mutex_unlock(&cl_mu);
	return r;
}

/* Queues fd for the closer unless fewer than reserve + 1 slots are free. */
static int closer_put(int fd, size_t reserve)
{
	pthread_mutex_lock(&cl_mu);
	int ok = CLOSER_CAP - cl_n > reserve;
	if (ok) {
		cl_q[(cl_head + cl_n) % CLOSER_CAP] = fd;
		cl_n++;
		pthread_cond_signal(&cl_cv);
	}
	pthread_mutex_unlock(&cl_mu);
	return ok ? 0 : -1;
}

/* Room to read one more datagram from a socket that may carry descriptors. */
static int fd_room(void)
{
	if (passrights_off)
		return 1;
	if (closer_room() > SCM_MAX_FDS + CLOSER_RESERVE)
		return 1;
	cl_full++;
	return 0;
}

/* Closes a socket whose queue may hold passed descriptors. */
static void close_queued(int fd)
{
	if (passrights_off || !cl_running)
		close(fd);
	else if (closer_put(fd, 0) != 0)
		cl_leaked++; /* 65536 closes stuck: keep it rather than block */
}

/* Takes the descriptors of a received message off this thread; returns how
 * many there were. */
static int drop_passed(struct msghdr *mh)
{
	int k = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int pfd;
			memcpy(&pfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (closer_put(pfd, 0) != 0)
				cl_leaked++;
			k++;
		}
	}
	return k;
}

/* a control buffer no SCM_RIGHTS message can overflow (MSG_CTRUNC drops
 * descriptors in the kernel: their last fput would be ours) */
union rcv_cbuf {
	char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * SCM_MAX_FDS) + 64];
	struct cmsghdr align;
};

/* recv() for a socket anybody may have sent descriptors to */
static ssize_t recv_nofd(int fd, void *buf, size_t len, int flags, int *had_fds)
{
	union rcv_cbuf cb;
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			    .msg_controllen = sizeof(cb.b)};
	ssize_t r = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC);
	*had_fds = r >= 0 && mh.msg_controllen ? drop_passed(&mh) > 0 : 0;
	return r;
}

/* Was the previous close interrupted? Called from the loop: a close stuck for
 * more than CLOSER_KICK_NS gets a signal. */
static void closer_watch(uint64_t now)
{
	uint64_t b = atomic_load(&cl_busy_since);
	if (cl_running && b && now > b + CLOSER_KICK_NS) {
		pthread_kill(cl_thread, SIGUSR1);
		cl_kicks++;
	}
}

/* ---- sockets -------------------------------------------------------------- */

/* Names (include/hoptrace/record.h "Names nobody else can bind"): each socket
 * is served at its abstract name when that is free, and always at its path
 * under HT_RUN_DIR. A squatted abstract name is logged as an error, listed in
 * `hoptrace status` ("squatted") and tried again every second. */
static uint64_t netns_ino;
static int rundir_ok;
#define MAX_SQUAT 8
static char squat_msg[MAX_SQUAT][200];
static int nsquat;

static void no_passrights(int fd)
{
	int zero = 0;
	if (passrights_off && setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero)) < 0)
		log_warn("SO_PASSRIGHTS");
}

static socklen_t sun_set(struct sockaddr_un *sa, const char *name, int abstract)
{
	size_t n = strlen(name);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n > sizeof(sa->sun_path) - 2)
		n = sizeof(sa->sun_path) - 2;
	memcpy(sa->sun_path + (abstract ? 1 : 0), name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* SOCK_SEQPACKET or SOCK_DGRAM bound at an abstract name or a path (mode) */
static int bind_sock(int type, const char *name, int abstract, mode_t mode)
{
	struct sockaddr_un sa;
	socklen_t sl = sun_set(&sa, name, abstract);
	int one = 1;
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	no_passrights(fd);
	if (!abstract)
		unlink(name); /* a stale socket of ours: nobody else can write here */
	if ((type == SOCK_SEQPACKET && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&sa, sl) < 0 || (!abstract && chmod(name, mode) < 0) ||
	    (type == SOCK_SEQPACKET && listen(fd, 1024) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Who holds abstract name (a listening SEQPACKET socket tells its creds). */
static void squat_who(const char *name, int type, char *out, size_t n)
{
	snprintf(out, n, "another process");
	if (type != SOCK_SEQPACKET)
		return;
	struct sockaddr_un sa;
	socklen_t sl = sun_set(&sa, name, 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sl) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
		snprintf(out, n, "pid %d uid %d", (int)cr.pid, (int)cr.uid);
	if (fd >= 0)
		close(fd);
}

/* One served name: its abstract socket (-1 while squatted) and its path one. */
struct named {
	const char *what;
	char name[100];
	int type, tag;
	mode_t mode;
	int afd, pfd;
	char path[108];
	int squat; /* index in squat_msg + 1 */
};
static struct named n_rec, n_bell, n_query;

static void named_add(struct named *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(s->tag, fd)};
	if (epoll_ctl(s->tag == TAG_REC_LISTEN ? rec_ep : ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		log_warn("epoll_ctl add fd %d", fd);
}

static int named_open(struct named *s, const char *what, const char *name, const char *suffix,
		      int type, int tag, mode_t mode)
{
	memset(s, 0, sizeof(*s));
	s->what = what;
	snprintf(s->name, sizeof(s->name), "%s%s", name, suffix);
	s->type = type;
	s->tag = tag;
	s->mode = mode;
	s->afd = bind_sock(type, s->name, 1, 0);
	if (s->afd < 0) {
		char who[64];
		squat_who(s->name, type, who, sizeof(who));
		if (nsquat < MAX_SQUAT) {
			snprintf(squat_msg[nsquat], sizeof(squat_msg[0]), "@%s (%s) held by %s", s->name,
				 what, who);
			s->squat = ++nsquat;
		}
		log_warnx("ERROR: the %s name @%s is SQUATTED (held by %s: %s): shims and the guard "
			  "use %s instead; retrying every second",
			  what, s->name, who, strerror(errno), rundir_ok ? "its path" : "(no path: " HT_RUN_DIR
			  " is not root's) nothing");
	} else {
		named_add(s, s->afd);
	}
	s->pfd = -1;
	if (rundir_ok && ht_run_path(s->path, sizeof(s->path), name, suffix, netns_ino)) {
		s->pfd = bind_sock(type, s->path, 0, mode);
		if (s->pfd < 0)
			log_warn("cannot bind %s", s->path);
		else
			named_add(s, s->pfd);
	}
	return s->afd >= 0 || s->pfd >= 0 ? 0 : -1;
}

/* the 1 s timer: take a squatted name back once it is free */
static void named_retry(struct named *s)
{
	if (s->afd >= 0 || !s->squat)
		return;
	s->afd = bind_sock(s->type, s->name, 1, 0);
	if (s->afd < 0)
		return;
	named_add(s, s->afd);
	log_info("the %s name @%s is free again: serving it", s->what, s->name);
	snprintf(squat_msg[s->squat - 1], sizeof(squat_msg[0]), "@%s (%s) was squatted, reclaimed",
		 s->name, s->what);
}

/* HT_RUN_DIR: root's, 0755, nobody else can write in it */
static void rundir_setup(void)
{
	struct stat sb;
	if (mkdir(HT_RUN_DIR, 0755) < 0 && errno != EEXIST)
		log_warn("mkdir %s", HT_RUN_DIR);
	if (lstat(HT_RUN_DIR, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0) {
		log_warnx("ERROR: %s is not a directory owned by root: no path sockets (a squatted "
			  "name then cuts the shims off)", HT_RUN_DIR);
		return;
	}
	if ((sb.st_mode & 07777) != 0755 && chmod(HT_RUN_DIR, 0755) < 0) {
		log_warn("chmod %s", HT_RUN_DIR);
		return;
	}
	struct stat nb;
	if (stat("/proc/self/ns/net", &nb) != 0) {
		log_warn("stat /proc/self/ns/net");
		return;
	}
	netns_ino = (uint64_t)nb.st_ino;
	rundir_ok = 1;
}

/* empties the doorbell (bounded: a process ringing in a loop cannot keep us
 * here); while the closer has no room, a doorbell is not watched */
static int bell_paused[2] = {-1, -1};
static void bell_drain(int fd)
{
	char b[16];
	int had;
	for (int i = 0; i < 512; i++) {
		if (!fd_room()) {
			struct epoll_event ev = {.events = 0, .data.u64 = TAG(TAG_BELL, fd)};
			epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
			bell_paused[bell_paused[0] >= 0] = fd;
			return;
		}
		if (recv_nofd(fd, b, sizeof(b), MSG_DONTWAIT, &had) < 0)
			return;
		stats.fd_passing += had > 0;
	}
}

static void bell_resume(void)
{
	for (int i = 0; i < 2; i++)
		if (bell_paused[i] >= 0 && fd_room()) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_BELL, bell_paused[i])};
			epoll_ctl(ep, EPOLL_CTL_MOD, bell_paused[i], &ev);
			bell_paused[i] = -1;
		}
}

/* ---- record connections, grouped by uid -------------------------------------- */

/* Every uid's record connections live in an epoll set of their own, and those
 * sets (with the listeners) in rec_ep: a drain round serves each ready uid in
 * turn, at most DRAIN_CONN records from each of DRAIN_UID_CONNS ready
 * connections and DRAIN_UID from the uid, so a uid with a thousand flooding connections gets one uid's
 * share per round, like a uid with one (a query's drain is bounded in time:
 * query_drain). Token buckets bound the records applied per second per
 * connection (record_rate) and per uid (record_rate_uid; root: per connection
 * only); a record beyond them is read and dropped, counted for its uid, and
 * the sender's fd table is re-read from /proc (RESYNC) once it has stayed
 * under them for 100 ms. The graph's time is bounded too: each non-root uid
 * may use 25% of a core for its records, at most 1 ms at once (measured per
 * record, charged in advance by the uid's average): beyond it, its records
 * are dropped the same way. Reading too has a bound (4x the rate): beyond it the connection,
 * or the uid's whole set, is not read for a while (parked); its shims' sends
 * then fail at once (EAGAIN: a shim never waits) and they count the loss. */
#define DRAIN_CONN 256
#define DRAIN_UID 1024
#define DRAIN_UID_CONNS 64
#define READ_FACTOR 2
#define MAX_UIDS 256
#define CPU_RATE_NS 250000000.0 /* graph time per second per non-root uid: 25% of a core */
#define CPU_BURST_NS 1000000.0  /* of which at most 1 ms at once */
struct bucket {
	double tok;
	uint64_t t;
};
struct ruid {
	uid_t uid;
	int ep;                 /* its connections' set, in rec_ep */
	int nconn, parked;
	uint64_t park_until;
	struct bucket apply, read;
	struct bucket cpu;      /* graph time, ns (not for root) */
	double cost;            /* graph time per record, ns (moving average) */
	int drained;            /* the last round read all it had */
	uint64_t records, dropped, refused, parks;
	uint64_t shim_lost;     /* sends its shims could not make (EXIT's lost: a claim) */
};
static struct ruid uids[MAX_UIDS];
static int nuids;
struct rconn {
	int u;                  /* index in uids + 1; 0: not a record connection */
	pid_t pid;
	int parked;
	uint64_t park_until;
	struct bucket apply, read;
	pid_t drop_pid;         /* a record of this pid was dropped: RESYNC it */
	uint64_t drop_t;        /* ... when, last */
};
static struct rconn *rconns;
static int nrconns;
static int *parked_fds;
static int nparked, parked_cap;

static void bucket_fill(struct bucket *b, double rate, double burst, uint64_t now)
{
	if (now > b->t) {
		b->tok += (double)(now - b->t) * rate / 1e9;
		if (b->tok > burst)
			b->tok = burst;
		b->t = now;
	}
}

static int bucket_take(struct bucket *b, double rate, uint64_t now)
{
	bucket_fill(b, rate, rate, now); /* a burst of one second's worth */
	if (b->tok < 1.0)
		return 0;
	b->tok -= 1.0;
	return 1;
}

/* when a bucket holds n tokens again */
static uint64_t bucket_when(const struct bucket *b, double rate, double n)
{
	double need = n - b->tok;
	return b->t + (need > 0 ? (uint64_t)(need * 1e9 / rate) : 0);
}

static struct ruid *ruid_get(uid_t uid)
{
	for (int i = 0; i < nuids; i++)
		if (uids[i].uid == uid)
			return &uids[i];
	if (nuids == MAX_UIDS) /* the rest share the last set */
		return &uids[MAX_UIDS - 1];
	struct ruid *u = &uids[nuids];
	memset(u, 0, sizeof(*u));
	u->uid = uid;
	u->ep = epoll_create1(EPOLL_CLOEXEC);
	if (u->ep < 0)
		return NULL;
	uint64_t now = now_ns();
	u->apply = (struct bucket){(double)cf.rate_uid, now};
	u->read = (struct bucket){(double)(cf.rate_uid * READ_FACTOR), now};
	u->cpu = (struct bucket){CPU_BURST_NS, now};
	u->cost = 2000.0;
	u->drained = 1;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_UIDSET, nuids)};
	if (epoll_ctl(rec_ep, EPOLL_CTL_ADD, u->ep, &ev) < 0) {
		close(u->ep);
		return NULL;
	}
	nuids++;
	return u;
}

static struct rconn *rconn_of(int fd)
{
	return fd >= 0 && fd < nrconns && rconns[fd].u ? &rconns[fd] : NULL;
}

/* A parked connection leaves its uid's set (EPOLL_CTL_DEL: a mask of 0 would
 * still report EPOLLHUP, level-triggered, every round) until unpark(). */
static void park_conn(int fd, struct rconn *c, uint64_t until)
{
	struct ruid *u = &uids[c->u - 1];
	if (c->parked)
		return;
	if (nparked == parked_cap) {
		int nc = parked_cap ? parked_cap * 2 : 64;
		int *p = realloc(parked_fds, sizeof(int) * (size_t)nc);
		if (!p)
			return;
		parked_fds = p;
		parked_cap = nc;
	}
	if (epoll_ctl(u->ep, EPOLL_CTL_DEL, fd, NULL) < 0)
		return;
	parked_fds[nparked++] = fd;
	c->parked = 1;
	c->park_until = until;
}

static void park_uid(struct ruid *u, uint64_t until)
{
	struct epoll_event ev = {.events = 0, .data.u64 = TAG(TAG_UIDSET, u - uids)};
	if (u->parked || epoll_ctl(rec_ep, EPOLL_CTL_MOD, u->ep, &ev) < 0)
		return;
	u->parked = 1;
	u->park_until = until;
	u->parks++;
}

/* Reads parked connections and uids again once their time is up; returns
 * the next time one is due (0: none parked). */
static uint64_t unpark_at; /* the next time unpark() has work (0: none) */
static uint64_t unpark(uint64_t now)
{
	uint64_t next = 0;
	for (int i = 0; i < nuids; i++) {
		struct ruid *u = &uids[i];
		if (!u->parked)
			continue;
		if (now >= u->park_until) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_UIDSET, i)};
			epoll_ctl(rec_ep, EPOLL_CTL_MOD, u->ep, &ev);
			u->parked = 0;
		} else if (!next || u->park_until < next) {
			next = u->park_until;
		}
	}
	for (int i = 0; i < nparked; i++) {
		int fd = parked_fds[i];
		struct rconn *c = rconn_of(fd);
		if (c && c->parked && now < c->park_until) {
			if (!next || c->park_until < next)
				next = c->park_until;
			continue;
		}
		if (c && c->parked) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_REC_CONN, fd)};
			if (epoll_ctl(uids[c->u - 1].ep, EPOLL_CTL_ADD, fd, &ev) < 0)
				log_warn("epoll_ctl add fd %d", fd);
			c->parked = 0;
		}
		parked_fds[i--] = parked_fds[--nparked];
	}
	unpark_at = next;
	return next;
}

static int rconn_add(int fd, const struct ucred *cr)
{
	if (fd >= nrconns) {
		int n = nrconns ? nrconns : 1024;
		while (n <= fd)
			n *= 2;
		struct rconn *r = realloc(rconns, sizeof(*r) * (size_t)n);
		if (!r)
			return -1;
		memset(r + nrconns, 0, sizeof(*r) * (size_t)(n - nrconns));
		rconns = r;
		nrconns = n;
	}
	struct ruid *u = ruid_get(cr->uid);
	if (!u)
		return -1;
	if (cr->uid != 0 && (unsigned long long)u->nconn >= cf.max_conns_uid) {
		u->refused++;
		return -1;
	}
	struct rconn *c = &rconns[fd];
	uint64_t now = now_ns();
	memset(c, 0, sizeof(*c));
	c->u = (int)(u - uids) + 1;
	c->pid = cr->pid;
	c->apply = (struct bucket){(double)cf.rate_conn, now};
	c->read = (struct bucket){(double)(cf.rate_conn * READ_FACTOR), now};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_REC_CONN, fd)};
	if (epoll_ctl(u->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		c->u = 0;
		return -1;
	}
	u->nconn++;
	return 0;
}

static void rconn_del(int fd)
{
	struct rconn *c = rconn_of(fd);
	if (!c)
		return;
	struct ruid *u = &uids[c->u - 1];
	epoll_ctl(u->ep, EPOLL_CTL_DEL, fd, NULL);
	u->nconn--;
	c->u = 0;
	c->parked = 0;
}

static void ep_add(int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(tag, fd)};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		log_warn("epoll_ctl add fd %d", fd);
}

/* accepts what is queued (bounded: a connect loop cannot keep us here) */
static void accept_all(int lfd, uint32_t tag)
{
	for (int budget = 64; budget > 0; budget--) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t l = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0) {
			close_queued(fd);
			continue;
		}
		if (tag == TAG_Q_CONN) {
			if (cr.uid != 0 && cr.uid != geteuid()) {
				stats.query_refused++;
				close_queued(fd); /* its queue may hold passed descriptors */
				continue;
			}
			int sz = 4 << 20;
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		} else {
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
			if (rconn_add(fd, &cr) != 0) {
				close_queued(fd);
				continue;
			}
			stats.conns++;
		}
		/* our own end of a shim's or a query's connection: never part of
		 * anybody's chain (its peer is the process's record socket) */
		struct stat sb;
		if (fstat(fd, &sb) == 0)
			graph_mark_internal(graph, (uint64_t)sb.st_ino, 1);
		if (tag == TAG_Q_CONN)
			ep_add(fd, tag);
	}
}

static void close_conn(int fd)
{
	for (int i = 0; i < nsubs; i++)
		if (subs[i] == fd) {
			sub_pid[i] = sub_pid[nsubs - 1];
			subs[i] = subs[--nsubs];
			log_info("guard unsubscribed from prejudged chains");
			break;
		}
	struct stat sb;
	if (fstat(fd, &sb) == 0)
		graph_mark_internal(graph, (uint64_t)sb.st_ino, 0);
	/* from whichever set holds it: a query connection may live on in a
	 * dup() held by the inquiry follower, and epoll forgets a registration
	 * only when every fd of the file is closed */
	rconn_del(fd);
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close_queued(fd);
}

static pid_t peer_pid(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) == 0 ? cr.pid : 0;
}

/* Did the chain of socket ino reach the subscription of process *arg? */
static int was_pushed(uint64_t ino, void *arg)
{
	pid_t pid = *(pid_t *)arg;
	unsigned n = pushed_next < PUSHED_RING ? pushed_next : PUSHED_RING;
	for (unsigned k = 1; k <= n; k++) {
		unsigned i = (pushed_next - k) % PUSHED_RING;
		if (pushed_ring[i].ino == ino && pushed_ring[i].pid == pid)
			return 1;
	}
	return 0;
}

/* Tells the guards no chain comes for socket ino: they ask at once. */
static void push_none(uint64_t ino)
{
	char m[64];
	int n = snprintf(m, sizeof(m), "{\"nopush\":true,\"ino\":%llu}", (unsigned long long)ino);
	for (int k = 0; k < nsubs; k++)
		send(subs[k], m, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/* Is this CONNECT a repeat on a socket the shim already reported connecting
 * (EALREADY / EISCONN, or a connect() polled in a loop) rather than a first
 * attempt, or one after a failure? Asked before the record is applied. A
 * repeat sends no SYN: a push for it could only be taken by a later SYN of
 * the same socket that no record announced. */
static int prej_repeat(const struct ht_record *r)
{
	struct chan *c = graph_chan(graph, HT_CHAN_SOCK, 0, r->chan.ino);
	return c && c->connector && !c->failed;
}

/* A TCP connect to another host: the guard will judge its SYN. */
static void prej_note(const struct ht_record *r)
{
	struct ht_addr a = r->addr;
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	if (a.family == AF_INET6 && !memcmp(a.a, mapped, 12)) {
		/* a dual-stack socket speaking IPv4: the SYN and "who" say IPv4 */
		memmove(a.a, a.a + 12, 4);
		memset(a.a + 4, 0, sizeof(a.a) - 4);
		a.family = AF_INET;
		a.len = 4;
	}
	if (r->num != SOCK_STREAM || (a.family != AF_INET && a.family != AF_INET6) ||
	    sd_is_local_addr(a.family, a.a))
		return;
	for (int i = 0; i < nprej; i++)
		if (prej[i].ino == r->chan.ino) { /* connect() again after a failure */
			prej[i].remote = a;
			return;
		}
	if (nprej == MAX_PREJ) {
		push_none(r->chan.ino);
		stats.push_dropped++;
		return;
	}
	prej[nprej].ino = r->chan.ino;
	prej[nprej].remote = a;
	nprej++;
}

/* Sends each noted connect's chain to the subscribed guards (the graph is
 * drained and probed). A guard too slow to read loses pushes, never blocks us:
 * it asks with "who" instead. */
static void push_prejudged(void)
{
	uint64_t now = now_ns();
	for (int i = 0; i < nprej && nsubs; i++) {
		char *s = query_prejudge(&qctx, prej[i].ino, &prej[i].remote, now);
		size_t n = s ? strlen(s) : 0;
		if (!s || n > PUSH_MAX) { /* the guard need not wait for it: it asks */
			push_none(prej[i].ino);
			stats.push_dropped += s != NULL;
			free(s);
			continue;
		}
		for (int k = 0; k < nsubs; k++) {
			if (send(subs[k], s, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n) {
				stats.pushed++;
				spin_until = now_ns() + cf.busy_poll_us * 1000ULL;
				pushed_ring[pushed_next % PUSHED_RING].ino = prej[i].ino;
				pushed_ring[pushed_next % PUSHED_RING].pid = sub_pid[k];
				pushed_next++;
			} else {
				stats.push_dropped++;
			}
		}
		free(s);
	}
	nprej = 0;
}

/* Records are applied in the order they were sent, across connections: a
 * round of draining reads every ready connection into `pend`, then applies
 * them by their (clamped) send time, each connection's in its own order. A
 * fork child's BIRTH travels on its parent's connection, its new image's
 * IMAGE on a connection of its own; the parent's PIPE and CLOSE and the
 * child's records interleave in time, and applied connection by connection
 * the child could be taken before the fork that made it (its inherited fds
 * then lost when it is already gone). */
#define PEND_MAX 2048
struct pend {
	struct ht_record rec;
	uint64_t seq;
	pid_t pid;
	uid_t uid;
	int u;          /* its connection's uid set (uids index + 1; 0: none) */
	double pre;     /* graph time charged in advance (ns) */
};
static struct pend *pend;
static uint32_t *pend_ix;
static size_t npend;
static uint64_t pend_seq;

static int pend_cmp(const void *a, const void *b)
{
	const struct pend *x = &pend[*(const uint32_t *)a], *y = &pend[*(const uint32_t *)b];
	if (x->rec.ts != y->rec.ts)
		return x->rec.ts < y->rec.ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void apply_pending(void)
{
	for (size_t i = 0; i < npend; i++)
		pend_ix[i] = (uint32_t)i;
	qsort(pend_ix, npend, sizeof(*pend_ix), pend_cmp);
	uint64_t now = now_ns(), t0 = now;
	for (size_t i = 0; i < npend; i++) {
		struct pend *pr = &pend[pend_ix[i]];
		const char *why;
		int fresh = pr->rec.type == HT_REC_CONNECT && nsubs && !prej_repeat(&pr->rec);
		if (graph_apply(graph, pr->pid, pr->uid, &pr->rec, now, &why) != 0) {
			if (why)
				log_debug("record %s from pid %d refused: %s",
					  ht_rec_type_name(pr->rec.type), (int)pr->pid, why);
		} else if (fresh) {
			prej_note(&pr->rec);
		}
		/* the graph's time, charged to a non-root uid (see "record
		 * connections"; root's records are not timed) */
		struct ruid *u = pr->u ? &uids[pr->u - 1] : NULL;
		if (u && u->uid != 0) {
			uint64_t t1 = now_ns();
			double dt = (double)(t1 - t0);
			u->cost = u->cost * 0.9 + dt * 0.1;
			u->cpu.tok -= dt - pr->pre;
			t0 = t1;
		} else if (i + 1 < npend && pend[pend_ix[i + 1]].u &&
			   uids[pend[pend_ix[i + 1]].u - 1].uid != 0) {
			t0 = now_ns(); /* the next one is timed */
		}
	}
	npend = 0;
}

/* Reads at most max records of one shim connection into `pend` (applied by
 * apply_pending), within its buckets (see "record connections" above).
 * Returns the number read; *more is set when it stopped with records left. */
static int read_records(int fd, uint64_t now, int max, int *more)
{
	uint8_t buf[HT_REC_MAX + 1];
	union rcv_cbuf cbuf;
	int n = 0;
	uint64_t last_ts = 0; /* this connection's records keep their order */
	struct rconn *c = rconn_of(fd);
	*more = 0;
	if (!c)
		return 0;
	struct ruid *u = &uids[c->u - 1];
	int root = u->uid == 0;
	double rr = (double)(cf.rate_conn * READ_FACTOR), ru = (double)(cf.rate_uid * READ_FACTOR);

	*more = 0;
	while (n < max) {
		if (!bucket_take(&c->read, rr, now)) {
			park_conn(fd, c, bucket_when(&c->read, rr, DRAIN_CONN));
			return n;
		}
		if (!root && !bucket_take(&u->read, ru, now)) {
			park_uid(u, bucket_when(&u->read, ru, DRAIN_UID));
			return n;
		}
		if (!root) { /* the uid's graph time (CPU_RATE_NS): not read until it is back */
			bucket_fill(&u->cpu, CPU_RATE_NS, CPU_BURST_NS, now);
			if (u->cpu.tok <= 0) {
				park_uid(u, bucket_when(&u->cpu, CPU_RATE_NS, CPU_BURST_NS / 4));
				return n;
			}
		}
		if (!fd_room()) { /* the closer is behind: read again later */
			park_conn(fd, c, now + 10000000ULL);
			return n;
		}
		if (npend == PEND_MAX)
			apply_pending();
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
				    .msg_controllen = sizeof(cbuf.b)};
		ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return n;
			goto gone;
		}
		if (r == 0)
			goto gone;
		n++;
		stats.records++;
		u->records++;
		struct ucred cr = {0, (uid_t)-1, (gid_t)-1};
		int have_cred = 0;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
			    cm->cmsg_len >= CMSG_LEN(sizeof(cr))) {
				memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
				have_cred = 1;
			}
		if (drop_passed(&mh)) { /* never closed here (see "passed descriptors") */
			stats.fd_passing++;
			continue;
		}
		if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)r > HT_REC_MAX) {
			stats.oversized++;
			continue;
		}
		if (!have_cred || cr.pid <= 0) {
			stats.no_creds++;
			continue;
		}
		if (!bucket_take(&c->apply, (double)cf.rate_conn, now) ||
		    (!root && !bucket_take(&u->apply, (double)cf.rate_uid, now))) {
			u->dropped++;
			stats.dropped++;
			c->drop_pid = cr.pid;
			c->drop_t = now;
			continue;
		}
		if (c->drop_pid && now > c->drop_t + 100000000ULL && npend < PEND_MAX - 1) {
			/* records of this sender were dropped: its fd table is re-read
			 * (once it has stayed under the bounds for 100 ms) */
			struct pend *rs = &pend[npend++];
			memset(&rs->rec, 0, sizeof(rs->rec));
			rs->rec.type = HT_REC_RESYNC;
			rs->rec.ts = last_ts > now ? last_ts : now;
			rs->seq = pend_seq++;
			rs->pid = c->drop_pid;
			rs->uid = cr.uid;
			rs->u = 0;
			rs->pre = 0;
			c->drop_pid = 0;
		}
		struct pend *pr = &pend[npend];
		struct ht_record *rec = &pr->rec;
		const char *why;
		if (ht_record_decode(buf, (size_t)r, rec, &why) != 0) {
			stats.decode_errors++;
			log_debug("record from pid %d rejected: %s", cr.pid, why);
			continue;
		}
		/* the sender's clock: clamp into [now - skew, now]. `now` is the
		 * batch's start: a record sent since is not from the future —
		 * read the clock again before clamping, or a PIPE and the CLOSE
		 * after it would both be dated the batch's start, before a
		 * /proc read made meanwhile, and the CLOSE would be ignored */
		if (rec->ts > now)
			now = now_ns();
		if (rec->ts > now || rec->ts + HT_REC_MAX_SKEW_NS < now)
			rec->ts = now;
		if (rec->ts < last_ts)
			rec->ts = last_ts;
		last_ts = rec->ts;
		if (rec->type == HT_REC_EXIT && rec->num2 > 0 && rec->num2 < (1LL << 40))
			u->shim_lost += (uint64_t)rec->num2;
		pr->seq = pend_seq++;
		pr->pid = cr.pid;
		pr->uid = cr.uid;
		pr->u = c->u;
		pr->pre = root ? 0 : u->cost;
		u->cpu.tok -= pr->pre;
		npend++;
	}
	*more = 1;
	return n;
gone:
	close_conn(fd);
	stats.conns--;
	return n;
}

/* Serves one uid's ready connections (one round's share). */
static int serve_uid(struct ruid *u, uint64_t now)
{
	struct epoll_event evs[DRAIN_UID_CONNS];
	int n = epoll_wait(u->ep, evs, DRAIN_UID_CONNS, 0), got = 0, more = 0;
	for (int i = 0; i < n && got < DRAIN_UID; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64, m;
		int left = DRAIN_UID - got;
		got += read_records(fd, now, left < DRAIN_CONN ? left : DRAIN_CONN, &m);
		more |= m;
	}
	u->drained = n < DRAIN_UID_CONNS && !more && got < DRAIN_UID;
	return got;
}

/* Are a uid's records being dropped (over a bound)? Reading them before an
 * answer changes nothing. */
static int uid_dropping(const struct ruid *u)
{
	return u->uid != 0 && (u->parked || u->cpu.tok <= 0 || u->apply.tok < 1.0);
}

/* Processes records already queued, round-robin across uids (bounded: at
 * most 64 rounds, and until `deadline`; one round always runs). For a query
 * (`query`): first every uid but those over a bound (a quiet uid's connect
 * is not queued behind a flood; the order of records across the others is
 * kept, as within any round), then every uid until each read all it had,
 * but for those whose records are being dropped. Returns how many
 * records (and new shim connections) it took. */
static int drain_cut; /* the last drain stopped at its bound, records waiting */
static int drain_rounds(uint64_t deadline, int query)
{
	struct epoll_event evs[MAX_UIDS + 8];
	int total = 0;
	drain_cut = 0;
	closer_watch(now_ns());
	unpark(now_ns());
	for (int round = 0; round < 64; round++) {
		int n = epoll_wait(rec_ep, evs, MAX_UIDS + 8, 0);
		int got = 0, busy = 0, light = query && round == 0;
		if (n <= 0)
			break;
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
			int id = (int)(uint32_t)evs[i].data.u64;
			if (tag == TAG_UIDSET && id >= 0 && id < nuids) {
				struct ruid *u = &uids[id];
				if (light && uid_dropping(u)) {
					busy = 1; /* over a bound: next round */
					continue;
				}
				got += serve_uid(u, now);
				busy |= !u->drained && !uid_dropping(u);
			} else if (tag == TAG_REC_LISTEN) {
				accept_all(id, TAG_REC_CONN);
				got++;
				busy = 1;
			}
		}
		apply_pending();
		total += got;
		if ((!got && !light) || (query && !busy))
			break;
		if (now_ns() >= deadline || round == 63) {
			drain_cut = 1; /* more is waiting: the loop comes back at once */
			break;
		}
	}
	return total;
}

/* epoll_wait with a timeout in ns (-1: none); epoll_pwait2 where the kernel
 * has it (5.11+), else rounded up to ms */
static int wait_events(struct epoll_event *evs, int max, int64_t timeout_ns)
{
	static int no_pwait2;
	if (!no_pwait2 && timeout_ns >= 0) {
		struct timespec ts = {(time_t)(timeout_ns / 1000000000LL), (long)(timeout_ns % 1000000000LL)};
		int n = epoll_pwait2(ep, evs, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		no_pwait2 = 1;
	}
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	return epoll_wait(ep, evs, max, ms);
}

/* Watch rec_ep from the main set again: the next record wakes the loop. */
static void rec_arm(void)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG(TAG_RECORDS, rec_ep)};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, rec_ep, &ev) < 0)
		log_warn("epoll_ctl rearm");
}

/* Processes every record already queued anywhere, then probes the sockets
 * those records brought in (before a query reads the graph). */
static void drain_records(void)
{
	drain_rounds(now_ns() + cf.query_drain_us * 1000ULL, 1);
	graph_probe_pending(graph, 1);
	if (nprej)
		push_prejudged();
}

/* ---- following upstream conn leaves (collector/inquiry_svc.c) --------------- */

/* A who/chain answer with upstream conn leaves: returns 1 when the follower
 * took it (it will deliver the answer through done/arg), 0 to send ans now. */
static int follow_later(const char *req, size_t len, const char *ans, inq_done_fn done, void *arg)
{
	if (!inq || !inquiry_wants_follow(inq, ans))
		return 0;
	cJSON *j = cJSON_ParseWithLength(req, len);
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(j, "op"));
	if (!op || (strcmp(op, "who") && strcmp(op, "chain"))) {
		cJSON_Delete(j);
		return 0;
	}
	long deadline = 0;
	const cJSON *d = cJSON_GetObjectItem(j, "deadline_ms");
	if (cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble <= 600000)
		deadline = (long)d->valuedouble;
	char canon[160];
	const char *sc = NULL;
	if (!strcmp(op, "who") &&
	    inq_canon(cJSON_GetStringValue(cJSON_GetObjectItem(j, "local")),
		      cJSON_GetStringValue(cJSON_GetObjectItem(j, "remote")), canon, sizeof(canon)) == 0)
		sc = canon;
	int rv = inquiry_follow(inq, ans, deadline, sc, done, arg);
	cJSON_Delete(j);
	return rv == 0;
}

/* the guard's SEQPACKET socket: the answer goes out on a dup() of it */
/* "answer too large", keeping the question's id (the answer's first member:
 * the guard matches answers to questions by it) */
static size_t too_large(const char *ans, char *out, size_t outlen)
{
	size_t k = 0;
	if (!strncmp(ans, "{\"id\":", 6))
		for (k = 6; ans[k] >= '0' && ans[k] <= '9' && k < 26; k++)
			;
	if (k == 6)
		k = 0;
	int n = snprintf(out, outlen, "%.*s%s\"ok\":false,\"error\":\"answer too large\"}",
			 (int)(k ? k : 1), ans[0] == '{' && k ? ans : "{", k ? "," : "");
	return n > 0 && (size_t)n < outlen ? (size_t)n : 0;
}

static void seq_done(void *arg, const char *text)
{
	int fd = (int)(intptr_t)arg;
	size_t n = strlen(text);
	char big[96];
	if (n > 65536) {
		n = too_large(text, big, sizeof(big));
		text = big;
	}
	if (send(fd, text, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_warn("followed query answer dropped");
	close(fd);
}

/* the CLI's raw REP socket: the request's header routes the answer back */
static void nng_done(void *arg, const char *text)
{
	nng_msg *m = arg;
	nng_msg_clear(m);
	if (nng_msg_append(m, text, strlen(text)) != 0 || nng_sendmsg(rep, m, NNG_FLAG_NONBLOCK) != 0)
		nng_msg_free(m);
}

/* HTTP inquiries: the local part, computed on this thread */
static char *inq_who(void *arg, const char *local, const char *remote)
{
	(void)arg;
	char req[256];
	/* the exact connection only: sock_diag's lookup also matches a listener */
	struct ht_endpoint l, r;
	struct sd_inet si;
	if (ht_endpoint_parse(local, &l) != 0 || ht_endpoint_parse(remote, &r) != 0 ||
	    qctx.nl < 0 || sd_inet_lookup(qctx.nl, l.family, l.addr, l.port, r.addr, r.port, &si) != 0 ||
	    si.state == TCP_LISTEN || memcmp(si.raddr, r.addr, l.family == AF_INET ? 4 : 16) != 0 ||
	    si.rport != r.port)
		return strdup("{\"ok\":false,\"error\":\"no such TCP connection on this host\"}");
	int n = snprintf(req, sizeof(req), "{\"op\":\"who\",\"local\":\"%s\",\"remote\":\"%s\"}",
			 local, remote);
	drain_records();
	return query_answer(&qctx, req, (size_t)n, now_ns());
}

static void serve_query_conn(int fd)
{
	char req[65536 + 1];
	for (int budget = 64; budget > 0; budget--) {
		int had_fds;
		ssize_t r = recv_nofd(fd, req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC, &had_fds);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (had_fds) {
			stats.fd_passing++;
			continue;
		}
		if (r <= 0) {
			close_conn(fd);
			return;
		}
		if ((size_t)r < sizeof(req) && query_bound(&qctx, req, (size_t)r))
			continue; /* no answer */
		if ((size_t)r < sizeof(req) && query_is_subscribe(req, (size_t)r)) {
			static const char ok[] = "{\"ok\":true}", full[] =
				"{\"ok\":false,\"error\":\"too many subscribers\"}";
			int already = 0;
			for (int i = 0; i < nsubs; i++)
				already |= subs[i] == fd;
			if (!already && nsubs == MAX_SUBS) {
				send(fd, full, sizeof(full) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
				continue;
			}
			if (!already) {
				sub_pid[nsubs] = peer_pid(fd);
				subs[nsubs++] = fd;
				log_info("guard subscribed to prejudged chains");
			}
			send(fd, ok, sizeof(ok) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
			continue;
		}
		drain_records();
		char *ans;
		pid_t asker = nsubs ? peer_pid(fd) : 0;
		qctx.was_pushed = asker > 0 ? was_pushed : NULL;
		qctx.was_pushed_arg = &asker;
		if ((size_t)r > sizeof(req) - 1)
			ans = strdup("{\"ok\":false,\"error\":\"request larger than 64 KiB\"}");
		else
			ans = query_answer(&qctx, req, (size_t)r, now_ns());
		qctx.was_pushed = NULL;
		if (ans && inq && inquiry_wants_follow(inq, ans)) {
			int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			if (dfd >= 0 && follow_later(req, (size_t)r, ans, seq_done, (void *)(intptr_t)dfd)) {
				free(ans);
				continue;
			}
			if (dfd >= 0)
				close(dfd);
		}
		if (ans) {
			size_t n = strlen(ans);
			if (n > 65536) {
				char big[96];
				too_large(ans, big, sizeof(big));
				free(ans);
				ans = strdup(big);
				n = ans ? strlen(ans) : 0;
			}
			if (ans && send(fd, ans, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				log_warn("query answer dropped");
			free(ans);
		}
	}
}

/* hoptrace status: the sockets, squatted names, passed descriptors, and
 * each uid's record connections */
static void status_extra(void *obj)
{
	cJSON *a = obj, *x;
	x = cJSON_AddArrayToObject(a, "squatted");
	for (int i = 0; i < nsquat; i++)
		cJSON_AddItemToArray(x, cJSON_CreateString(squat_msg[i]));
	x = cJSON_AddArrayToObject(a, "record_sockets");
	char b[128];
	if (n_rec.afd >= 0) {
		snprintf(b, sizeof(b), "@%s", n_rec.name);
		cJSON_AddItemToArray(x, cJSON_CreateString(b));
	}
	if (n_rec.pfd >= 0)
		cJSON_AddItemToArray(x, cJSON_CreateString(n_rec.path));
	cJSON_AddBoolToObject(a, "fd_passing_refused_by_kernel", passrights_off);
	x = cJSON_AddObjectToObject(a, "closer");
	pthread_mutex_lock(&cl_mu);
	cJSON_AddNumberToObject(x, "queued", (double)cl_n);
	pthread_mutex_unlock(&cl_mu);
	cJSON_AddNumberToObject(x, "closed", (double)atomic_load(&cl_closed));
	cJSON_AddNumberToObject(x, "interrupted", (double)cl_kicks);
	cJSON_AddNumberToObject(x, "full", (double)cl_full);
	cJSON_AddNumberToObject(x, "leaked", (double)cl_leaked);
	x = cJSON_AddArrayToObject(a, "uids");
	for (int i = 0; i < nuids; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "uid", (double)uids[i].uid);
		cJSON_AddNumberToObject(o, "conns", uids[i].nconn);
		cJSON_AddNumberToObject(o, "records", (double)uids[i].records);
		cJSON_AddNumberToObject(o, "dropped", (double)uids[i].dropped);
		cJSON_AddNumberToObject(o, "conns_refused", (double)uids[i].refused);
		cJSON_AddNumberToObject(o, "throttled", (double)uids[i].parks);
		cJSON_AddNumberToObject(o, "lost_by_shims", (double)uids[i].shim_lost);
		cJSON_AddItemToArray(x, o);
	}
}

static void serve_nng(nng_socket s)
{
	(void)s;
	for (int budget = 16; budget > 0; budget--) {
		nng_msg *m;
		if (nng_recvmsg(s, &m, NNG_FLAG_NONBLOCK) != 0)
			return;
		uint64_t uid = (uint64_t)-1;
		nng_pipe p = nng_msg_get_pipe(m);
		char *ans;
		if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
		    (uid != 0 && uid != (uint64_t)geteuid())) {
			stats.query_refused++;
			ans = strdup("{\"ok\":false,\"error\":\"permission denied: root only\"}");
		} else {
			drain_records();
			ans = query_answer(&qctx, nng_msg_body(m), nng_msg_len(m), now_ns());
			if (ans && follow_later(nng_msg_body(m), nng_msg_len(m), ans, nng_done, m)) {
				free(ans);
				continue;
			}
		}
		nng_msg_clear(m);
		if (ans && nng_msg_append(m, ans, strlen(ans)) == 0) {
			if (nng_sendmsg(s, m, NNG_FLAG_NONBLOCK) != 0)
				nng_msg_free(m);
		} else {
			nng_msg_free(m);
		}
		free(ans);
	}
}

static int mkdir_parent(const char *path)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: hoptraced [-dnv] [-f file]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	ht_unshim_self(argv);
	const char *conffile = HT_CONF_DEFAULT;
	int foreground = 0, check = 0, verbose = 0, explicit_conf = 0, ch;
	char err[512];

	while ((ch = getopt(argc, argv, "df:nvh")) != -1) {
		switch (ch) {
		case 'd': foreground = 1; break;
		case 'f': conffile = optarg; explicit_conf = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("hoptraced", foreground || check, verbose);
	if (conf_load(conffile, explicit_conf, &cf, err, sizeof(err)) != 0) {
		fprintf(stderr, "hoptraced: %s\n", err);
		return 1;
	}
	if (check) {
		printf("configuration OK\n");
		return 0;
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct graph_conf gc = {.retention_ns = cf.retention_ms * 1000000ULL,
				.window_ns = cf.window_ms * 1000000ULL,
				.max_procs = cf.max_procs, .use_procfs = 1};
	graph = graph_new(&gc);
	pend = calloc(PEND_MAX, sizeof(*pend));
	pend_ix = calloc(PEND_MAX, sizeof(*pend_ix));
	if (!graph || !pend || !pend_ix)
		fatalx("out of memory");
	ep = epoll_create1(EPOLL_CLOEXEC);
	rec_ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0 || rec_ep < 0)
		fatal("epoll_create1");
	struct epoll_event rev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG(TAG_RECORDS, rec_ep)};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, rec_ep, &rev) < 0)
		fatal("epoll_ctl");

	/* the kernel refuses passed descriptors where it can (see "passed
	 * descriptors"); HOPTRACED_NO_PASSRIGHTS=1: as on a kernel before 6.16 */
	{
		int zero = 0, t = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		const char *no = getenv("HOPTRACED_NO_PASSRIGHTS");
		passrights_off = t >= 0 && !(no && no[0] == '1') &&
				 setsockopt(t, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero)) == 0;
		if (t >= 0)
			close(t);
		if (!passrights_off)
			log_info("no SO_PASSRIGHTS: passed descriptors go to the closer thread");
	}
	rundir_setup();
	if (named_open(&n_rec, "record socket", cf.rec_socket, "", SOCK_SEQPACKET, TAG_REC_LISTEN, 0666) < 0)
		fatal("cannot listen on @%s nor at its path", cf.rec_socket);
	if (n_rec.afd < 0 && n_rec.squat && strstr(squat_msg[n_rec.squat - 1], " uid 0)"))
		fatalx("@%s is served by root already: another collector in this network namespace?",
		       cf.rec_socket);
	if (named_open(&n_query, "query socket", cf.query_socket, "", SOCK_SEQPACKET, TAG_Q_LISTEN, 0600) < 0)
		fatal("cannot listen on @%s nor at its path", cf.query_socket);
	if (named_open(&n_bell, "doorbell", cf.rec_socket, HT_REC_BELL_SUFFIX, SOCK_DGRAM, TAG_BELL, 0666) < 0)
		log_warn("no doorbell for @%s: records of a connect wait for the next batch", cf.rec_socket);

	char url[300];
	int rv, nngfd = -1;
	snprintf(url, sizeof(url), "ipc://%s", cf.control);
	if (mkdir_parent(cf.control) < 0)
		fatal("cannot create the directory of %s", cf.control);
	{
		/* the CLI's socket is a path: unsquattable only in a directory
		 * nobody else can write to */
		char dir[256];
		struct stat db;
		snprintf(dir, sizeof(dir), "%s", cf.control);
		char *sl = strrchr(dir, '/');
		if (sl && sl != dir)
			*sl = 0;
		if (stat(dir, &db) == 0 && (db.st_uid != 0 || (db.st_mode & 022)))
			log_warnx("ERROR: the control socket's directory %s is not root's alone (uid %d, "
				  "mode %04o): another user could put a socket there first",
				  dir, (int)db.st_uid, (unsigned)(db.st_mode & 07777));
	}

	/* threads (nng's, the inquiry follower) start after the fork of daemon()
	 * and with the quit signals blocked: only this thread takes them */
	if (!foreground && daemon(0, 0) < 0)
		fatal("daemon");
	sigset_t qs, olds;
	sigemptyset(&qs);
	sigaddset(&qs, SIGTERM);
	sigaddset(&qs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &qs, &olds);
	closer_start();

	unlink(cf.control);
	mode_t old = umask(0077);
	/* raw REP: a request's header routes its answer back, so an answer the
	 * inquiry follower completes later can be sent from its thread */
	if ((rv = nng_rep0_open_raw(&rep)) != 0 || (rv = nng_listen(rep, url, NULL, 0)) != 0)
		fatalx("cannot listen on %s: %s", url, nng_strerror(rv));
	umask(old);
	chmod(cf.control, 0600);
	if ((rv = nng_socket_get_int(rep, NNG_OPT_RECVFD, &nngfd)) != 0)
		fatalx("nng recv fd: %s", nng_strerror(rv));
	ep_add(nngfd, TAG_NNG);

	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = {{1, 0}, {1, 0}};
	timerfd_settime(tfd, 0, &its, NULL);
	ep_add(tfd, TAG_TIMER);

	qctx.g = graph;
	qctx.hostname = cf.hostname;
	qctx.nl = sd_open();
	qctx.stats = &stats;
	stats.status_extra = status_extra;
	qctx.now_fn = now_ns;
	qctx.started = now_ns();
	if (qctx.nl < 0)
		log_warnx("sock_diag unavailable: connection lookups will fail");

	inq = inquiry_start(&cf.inq, cf.hostname, inq_who, NULL, err, sizeof(err));
	if (!inq)
		fatalx("%s", err);
	ep_add(inquiry_fd(inq), TAG_INQ);
	pthread_sigmask(SIG_SETMASK, &olds, NULL);
	uint64_t wd_usec = ht_sd_watchdog_usec(); /* systemd: Type=notify, WatchdogSec */
	ht_sd_notify("READY=1");
	log_info("collecting as host %s: records @%s, queries @%s, control %s, inquiries %s", cf.hostname,
		 cf.rec_socket, cf.query_socket, url, cf.inq.enabled ? cf.inq.listen : "off");

	struct epoll_event evs[128];
	int batching = 0; /* rec_ep is disarmed: read it at next_drain */
	uint64_t next_drain = 0, flood_until = 0;
	while (!quit) {
		int64_t timeout = -1; /* ns */
		if (batching) {
			uint64_t t = now_ns();
			timeout = t >= next_drain ? 0 : (int64_t)(next_drain - t);
		}
		if (graph_pending(graph) && (timeout < 0 || timeout > PROBE_WAIT_NS))
			timeout = PROBE_WAIT_NS; /* sockets wait for a TCP probe (graph_probe_pending) */
		if (unpark_at) { /* parked record connections (see "record connections") */
			uint64_t t = now_ns();
			int64_t w = unpark_at > t ? (int64_t)(unpark_at - t) : 0;
			if (timeout < 0 || timeout > w)
				timeout = w;
		}
		if (atomic_load(&cl_busy_since) && (timeout < 0 || timeout > (int64_t)CLOSER_KICK_NS))
			timeout = CLOSER_KICK_NS; /* a close to interrupt (closer_watch) */
		uint64_t t0 = now_ns();
		if (t0 - spin_window >= 1000000000ULL) {
			spin_window = t0;
			spin_used = 0;
		}
		int spinning = t0 < spin_until && spin_used < SPIN_BUDGET_NS;
		int n = spinning ? epoll_wait(ep, evs, 128, 0) : wait_events(evs, 128, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		uint64_t now = now_ns();
		int records_due = (batching && now >= next_drain) || (unpark_at && now >= unpark_at);
		closer_watch(now);
		bell_resume();
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
			int fd = (int)(uint32_t)evs[i].data.u64;
			switch (tag) {
			case TAG_RECORDS: records_due = 1; break;
			case TAG_BELL: bell_drain(fd); records_due = 1; break;
			case TAG_Q_LISTEN: accept_all(fd, TAG_Q_CONN); break;
			case TAG_Q_CONN: serve_query_conn(fd); break;
			case TAG_NNG: serve_nng(rep); break;
			case TAG_INQ: drain_records(); inquiry_main(inq); break;
			case TAG_TIMER: {
				uint64_t x;
				if (read(fd, &x, sizeof(x)) > 0)
					graph_gc(graph, now);
				sd_local_addrs_refresh();
				if (wd_usec) /* the graph loop is alive: every 1 s tick */
					ht_sd_notify("WATCHDOG=1");
				named_retry(&n_rec);
				named_retry(&n_query);
				named_retry(&n_bell);
				break;
			}
			}
		}
		if (records_due) {
			/* more records are likely to follow the ones that woke us
			 * (a spawn sends five): read them in rounds while they
			 * come, be woken again once they stop */
			int got = drain_rounds(now_ns() + 500000ULL, 0); /* then answer queries */
			if (nprej) {
				graph_probe_pending(graph, 1);
				push_prejudged();
			}
			uint64_t t = now_ns();
			/* a flood (records faster than a socket holds them for
			 * record_batch): read every FLOOD_BATCH_NS for a while,
			 * or they would be dropped */
			if (got >= BATCH_FLOOD)
				flood_until = t + FLOOD_HOLD_NS;
			batching = got > 0 && cf.batch_ms > 0;
			if (batching)
				next_drain = drain_cut ? t : /* after the events that wait */
					     t + (t < flood_until ? FLOOD_BATCH_NS : cf.batch_ms * 1000000ULL);
			else
				rec_arm();
		}
		graph_probe_pending(graph, 0);
		if (spinning) {
			if (n == 0)
				sched_yield(); /* a task woken on this CPU runs first */
			spin_used += now_ns() - t0;
		}
	}
	ht_sd_notify("STOPPING=1");
	log_info("exiting");
	struct named *nm[3] = {&n_rec, &n_query, &n_bell};
	for (int i = 0; i < 3; i++)
		if (nm[i]->pfd >= 0)
			unlink(nm[i]->path);
	inquiry_stop(inq);
	nng_close(rep);
	unlink(cf.control);
	graph_free(graph);
	return 0;
}
