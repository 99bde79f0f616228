/*
 * main_hoptraced.c — the collector daemon. One thread, one epoll loop over:
 *   - the record listener (SEQPACKET, abstract "\0hoptrace/rec") and one
 *     connection per shimmed process image; every datagram's sender is the
 *     kernel's SCM_CREDENTIALS, never a field of the record;
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
 * Before answering any query it drains every pending record, so a record
 * sent just before a connect() is in the graph when the guard asks about the
 * SYN.
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
#include <nng/nng.h>
#include <netinet/tcp.h>
#include <nng/protocol/reqrep0/rep.h>

#include "hoptrace/chain.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/record.h"
#include "graph.h"
#include "inquiry.h"
#include "query.h"
#include "sockdiag.h"
#include "unshim.h"

#define TAG_REC_LISTEN 1u
#define TAG_REC_CONN 2u
#define TAG_Q_LISTEN 3u
#define TAG_Q_CONN 4u
#define TAG_NNG 5u
#define TAG_TIMER 6u
#define TAG_INQ 7u
#define TAG_RECORDS 8u
#define TAG_BELL 9u
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
	inq_conf_defaults(&c->inq);
	if (!explicit_path && access(path, F_OK) != 0)
		return 0; /* no file: defaults */
	if (ini_parse(path, conf_cb, c, err, n) != 0)
		return -1;
	return inq_conf_finish(&c->inq, err, n);
}

/* ---- sockets -------------------------------------------------------------- */

static int listen_abstract(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int one = 1;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memcpy(sa.sun_path + 1, name, n);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
	    listen(fd, 1024) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* The doorbell (HT_REC_BELL_SUFFIX in include/hoptrace/record.h): a datagram
 * socket whose content is ignored; -1 if the name cannot be bound. */
static int bell_open(const char *rec_name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(rec_name), k = sizeof(HT_REC_BELL_SUFFIX) - 1;
	if (1 + n + k > sizeof(sa.sun_path))
		return -1;
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memcpy(sa.sun_path + 1, rec_name, n);
	memcpy(sa.sun_path + 1 + n, HT_REC_BELL_SUFFIX, k);
	if (bind(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n + k)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* empties the doorbell (bounded: a process ringing in a loop cannot keep us here) */
static void bell_drain(int fd)
{
	char b[16];
	for (int i = 0; i < 512 && recv(fd, b, sizeof(b), MSG_DONTWAIT) >= 0; i++)
		;
}

static void ep_add(int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(tag, fd)};
	int set = tag == TAG_REC_LISTEN || tag == TAG_REC_CONN ? rec_ep : ep;
	if (epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) < 0)
		log_warn("epoll_ctl add fd %d", fd);
}

static void accept_all(int lfd, uint32_t tag)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (tag == TAG_Q_CONN) {
			struct ucred cr;
			socklen_t l = sizeof(cr);
			if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0 ||
			    (cr.uid != 0 && cr.uid != geteuid())) {
				stats.query_refused++;
				close(fd);
				continue;
			}
			int sz = 4 << 20;
			setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		} else {
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
			stats.conns++;
		}
		/* our own end of a shim's or a query's connection: never part of
		 * anybody's chain (its peer is the process's record socket) */
		struct stat sb;
		if (fstat(fd, &sb) == 0)
			graph_mark_internal(graph, (uint64_t)sb.st_ino, 1);
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
	epoll_ctl(rec_ep, EPOLL_CTL_DEL, fd, NULL);
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
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
	uint64_t now = now_ns();
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
	}
	npend = 0;
}

/* Reads every pending record on one shim connection into `pend` (applied by
 * apply_pending). Returns the number read. */
static int read_records(int fd, uint64_t now)
{
	uint8_t buf[HT_REC_MAX + 1];
	union {
		char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
		struct cmsghdr align;
	} cbuf;
	int n = 0;
	uint64_t last_ts = 0; /* this connection's records keep their order */

	for (int budget = 256; budget > 0; budget--) {
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
		struct ucred cr = {0, (uid_t)-1, (gid_t)-1};
		int have_cred = 0, passed_fds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len >= CMSG_LEN(sizeof(cr))) {
				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				have_cred = 1;
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (size_t i = 0; i < k; i++) {
					int pfd;
					memcpy(&pfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
					close(pfd);
				}
				passed_fds = 1;
			}
		}
		if (passed_fds) {
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
		pr->seq = pend_seq++;
		pr->pid = cr.pid;
		pr->uid = cr.uid;
		npend++;
	}
	return n;
gone:
	close_conn(fd);
	stats.conns--;
	return n;
}

/* Processes every record already queued anywhere (bounded). Returns how many
 * records (and new shim connections) it took. */
static int drain_rounds(void)
{
	struct epoll_event evs[256];
	int total = 0;
	for (int round = 0; round < 64; round++) {
		int n = epoll_wait(rec_ep, evs, 256, 0);
		int got = 0;
		if (n <= 0)
			break;
		uint64_t now = now_ns();
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
			int fd = (int)(uint32_t)evs[i].data.u64;
			if (tag == TAG_REC_CONN)
				got += read_records(fd, now);
			else if (tag == TAG_REC_LISTEN) {
				accept_all(fd, TAG_REC_CONN);
				got++;
			}
		}
		apply_pending();
		total += got;
		if (!got)
			break;
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
	drain_rounds();
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
		ssize_t r = recv(fd, req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
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

	int rl_fd = listen_abstract(cf.rec_socket);
	if (rl_fd < 0)
		fatal("cannot listen on @%s (another collector in this network namespace?)",
		      cf.rec_socket);
	int ql_fd = listen_abstract(cf.query_socket);
	if (ql_fd < 0)
		fatal("cannot listen on @%s", cf.query_socket);
	ep_add(rl_fd, TAG_REC_LISTEN);
	int bell_fd = bell_open(cf.rec_socket);
	if (bell_fd >= 0)
		ep_add(bell_fd, TAG_BELL);
	else
		log_warn("no doorbell @%s%s: records of a connect wait for the next batch",
			 cf.rec_socket, HT_REC_BELL_SUFFIX);
	ep_add(ql_fd, TAG_Q_LISTEN);

	char url[300];
	int rv, nngfd = -1;
	snprintf(url, sizeof(url), "ipc://%s", cf.control);
	if (mkdir_parent(cf.control) < 0)
		fatal("cannot create the directory of %s", cf.control);

	/* threads (nng's, the inquiry follower) start after the fork of daemon()
	 * and with the quit signals blocked: only this thread takes them */
	if (!foreground && daemon(0, 0) < 0)
		fatal("daemon");
	sigset_t qs, olds;
	sigemptyset(&qs);
	sigaddset(&qs, SIGTERM);
	sigaddset(&qs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &qs, &olds);

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
	qctx.now_fn = now_ns;
	qctx.started = now_ns();
	if (qctx.nl < 0)
		log_warnx("sock_diag unavailable: connection lookups will fail");

	inq = inquiry_start(&cf.inq, cf.hostname, inq_who, NULL, err, sizeof(err));
	if (!inq)
		fatalx("%s", err);
	ep_add(inquiry_fd(inq), TAG_INQ);
	pthread_sigmask(SIG_SETMASK, &olds, NULL);
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
		int records_due = batching && now >= next_drain;
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
				break;
			}
			}
		}
		if (records_due) {
			/* more records are likely to follow the ones that woke us
			 * (a spawn sends five): read them in rounds while they
			 * come, be woken again once they stop */
			int got = drain_rounds();
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
				next_drain = t + (t < flood_until ? FLOOD_BATCH_NS : cf.batch_ms * 1000000ULL);
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
	log_info("exiting");
	inquiry_stop(inq);
	nng_close(rep);
	unlink(cf.control);
	graph_free(graph);
	return 0;
}
