/*
 * loop.c — hoptraced's one thread: the epoll loop over the main set (the
 * listeners, query connections, the CLI's socket, the doorbell, the 1 s timer,
 * the inquiry service's eventfd and, armed one-shot, the record set).
 *
 * Records do not wake the loop one by one: the record sockets live in their
 * own epoll set (records.ep), watched from the main one with EPOLLONESHOT.
 * The first record after a quiet spell wakes the loop; it drains every record
 * socket, then reads them again every `record_batch` (default 2 ms) while
 * records keep coming, and goes back to waking on the next one after a round
 * that found none; in a flood (32+ records in one read) the interval is
 * 200 us for 200 ms, short enough that no socket overflows. Queries drain
 * first, so batching never hides a record from an answer, and a shim rings a
 * doorbell datagram socket after the CONNECT record of a TCP connection to
 * another host: the record is read at once and the loop is awake when the
 * guard asks about the SYN. (A wake-up per record — five per fork+exec — made
 * the scheduler move the observed programs between CPUs: ~100 us per spawn on
 * 2 cores.) After a push the loop polls awake for busy_poll_us for the next
 * connect's doorbell — a client opening connection after connection then
 * does not wait for the collector's wake-up (10-15 us here) — but never for
 * more than SPIN_BUDGET_NS of each second (5% of a core).
 */
#include <errno.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "hoptrace/sdnotify.h"
#include "hoptrace/sockdiag.h"
#include "daemon.h"

/* records in one drain that mean "flood": read every FLOOD_BATCH_NS (a
 * process's socket holds ~278 records: 1.4M records/s) for FLOOD_HOLD_NS */
#define BATCH_FLOOD 32
#define FLOOD_BATCH_NS (200ULL * 1000ULL)
#define FLOOD_HOLD_NS (200ULL * 1000000ULL)
/* how long sockets queued for a TCP probe may wait (graph_probe_pending) */
#define PROBE_WAIT_NS ((int64_t)GRAPH_PROBE_GAP_NS + 1000000LL)
#define SPIN_BUDGET_NS (50ULL * 1000000ULL)

void loop_timer_open(struct collector *c)
{
	struct loop *l = &c->loop;
	l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	struct itimerspec its = {{1, 0}, {1, 0}};
	timerfd_settime(l->tfd, 0, &its, NULL);
	ep_add(c, l->tfd, TAG_TIMER);
}

/* epoll_wait with a timeout in ns (-1: none); epoll_pwait2 where the kernel
 * has it (5.11+), else rounded up to ms */
static int wait_events(struct collector *c, struct epoll_event *evs, int max, int64_t timeout_ns)
{
	if (!c->loop.no_pwait2 && timeout_ns >= 0) {
		struct timespec ts = {(time_t)(timeout_ns / 1000000000LL), (long)(timeout_ns % 1000000000LL)};
		int n = epoll_pwait2(c->ep, evs, max, &ts, NULL);
		if (n >= 0 || errno != ENOSYS)
			return n;
		c->loop.no_pwait2 = 1;
	}
	int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
	return epoll_wait(c->ep, evs, max, ms);
}

/* How long the loop may sleep (ns, -1: until an event). */
static int64_t loop_timeout(struct collector *c)
{
	struct loop *l = &c->loop;
	int64_t timeout = -1;
	if (l->batching) {
		uint64_t t = now_ns();
		timeout = t >= l->next_drain ? 0 : (int64_t)(l->next_drain - t);
	}
	if (c->rec.rings.n && !l->batching) { /* rings: polled (ring.c) */
		uint64_t t = now_ns(), at = c->rec.rings.next_poll;
		int64_t w = at > t ? (int64_t)(at - t) : 0;
		if (timeout < 0 || timeout > w)
			timeout = w;
	}
	if (graph_pending(c->graph) && (timeout < 0 || timeout > PROBE_WAIT_NS))
		timeout = PROBE_WAIT_NS; /* sockets wait for a TCP probe (graph_probe_pending) */
	if (c->rec.unpark_at) { /* parked record connections (records.c) */
		uint64_t t = now_ns();
		int64_t w = c->rec.unpark_at > t ? (int64_t)(c->rec.unpark_at - t) : 0;
		if (timeout < 0 || timeout > w)
			timeout = w;
	}
	if (closer_busy(&c->closer) && (timeout < 0 || timeout > (int64_t)CLOSER_KICK_NS))
		timeout = CLOSER_KICK_NS; /* a close to interrupt (closer_watch) */
	return timeout;
}

/* uid's kernel events were lost (kev.bpf.c uid_take): said once a window */
static void uid_lossy(void *ctx, uint32_t uid)
{
	struct collector *c = ctx;
	if (graph_kev_uid_lossy(c->graph, (uid_t)uid))
		log_warnx("kernel events: uid %u's lost (over its ration, or the ring full; "
			  "%llu of all uids' so far): walks of its processes fail closed "
			  "(holders_incomplete) for the history window",
			  uid, (unsigned long long)kev_uid_lost_sum(&c->kev));
}

/* the 1 s timer: retention, local addresses, the watchdog, squatted names */
static void loop_tick(struct collector *c, int fd, uint64_t now)
{
	uint64_t x;
	if (read(fd, &x, sizeof(x)) > 0)
		graph_gc(c->graph, now);
	rings_tick(c); /* the shims see we still read their rings */
	sd_local_addrs_refresh();
	if (c->loop.wd_usec) /* the graph loop is alive: every 1 s tick */
		ht_sd_notify("WATCHDOG=1");
	sockets_retry(c);
	kev_consume(&c->kev); /* the programs wake us only at a quarter full */
	graph_kev_settle(c->graph, now, KEV_SETTLE_NS);
	/* a missing exec event proves nothing now — lately: the count grew
	 * (every tick once it was non-zero made every walk's lossy for good) */
	uint64_t lost = c->kev.state == KEV_STATE_ON ? kev_lost(&c->kev) : 0;
	if (lost != c->kev_lost_said) {
		if (graph_kev_uid_lossy(c->graph, (uid_t)-1))
			log_warnx("kernel events: %llu lost that no non-root uid is charged with "
				  "(the ring full: root's, or %llu records of any uid's found no room): "
				  "every non-root user's walks fail closed (holders_incomplete) for "
				  "the history window", (unsigned long long)(lost - c->kev_lost_said),
				  (unsigned long long)kev_ring_full(&c->kev));
		c->kev_lost_said = lost;
	}
	if (c->kev.state == KEV_STATE_ON && kev_uid_lost(&c->kev, uid_lossy, c) < 0 &&
	    graph_kev_uid_lossy(c->graph, (uid_t)-1))
		log_warnx("kernel events: a uid's lost, its entry evicted: every non-root "
			  "user's walks fail closed for the history window");
	if (c->hup && *c->hup) {
		char err[512];
		*c->hup = 0;
		if (inquiry_reload(c->inq, err, sizeof(err)) != 0)
			log_warnx("SIGHUP: [fleet] not reloaded, the old identity stays: %s", err);
	}
	inquiry_listen_retry(c->inq); /* [inquiry] listen, if someone held it at start */
	inquiry_tick(c->inq); /* overdue follows, the inquiry child's restarts */
}

/* One event; returns 1 when records are to be read. */
static int loop_event(struct collector *c, uint32_t tag, int fd, uint64_t now)
{
	switch (tag) {
	case TAG_RECORDS: return 1;
	case TAG_BELL: bell_drain(c, fd); return 1;
	case TAG_Q_LISTEN: accept_all(c, fd, TAG_Q_CONN); break;
	case TAG_NNG: serve_nng(c); break;
	case TAG_INQ: drain_records(c); inquiry_main(c->inq); break;
	case TAG_TIMER: loop_tick(c, fd, now); break;
	case TAG_KEV: kev_consume(&c->kev); break;
	}
	return 0;
}

/* Records are due: read them in rounds while they come (a spawn sends
 * five), be woken again once they stop. */
static void loop_records(struct collector *c)
{
	struct loop *l = &c->loop;
	int got = drain_rounds(c, now_ns() + 500000ULL, 0); /* then answer queries */
	if (c->push.nprej) {
		graph_probe_pending(c->graph, 1);
		push_prejudged(c);
	}
	uint64_t t = now_ns();
	c->rec.rings.next_poll = t + RING_POLL_NS;
	/* a flood (records faster than a socket holds them for record_batch):
	 * read every FLOOD_BATCH_NS for a while, or they would be dropped */
	if (got >= BATCH_FLOOD)
		l->flood_until = t + FLOOD_HOLD_NS;
	l->batching = got > 0 && c->cf.batch_ms > 0;
	if (l->batching)
		l->next_drain = c->rec.drain_cut ? t : /* after the events that wait */
				t + (t < l->flood_until ? FLOOD_BATCH_NS : c->cf.batch_ms * 1000000ULL);
	else
		rec_arm(c);
}

void loop_run(struct collector *c)
{
	struct loop *l = &c->loop;
	struct push *p = &c->push;
	struct epoll_event evs[128];
	while (!*c->quit) {
		int64_t timeout = loop_timeout(c);
		uint64_t t0 = now_ns();
		if (t0 - p->spin_window >= 1000000000ULL) {
			p->spin_window = t0;
			p->spin_used = 0;
		}
		int spinning = t0 < p->spin_until && p->spin_used < SPIN_BUDGET_NS;
		int n = spinning ? epoll_wait(c->ep, evs, 128, 0) : wait_events(c, evs, 128, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fatal("epoll_wait");
		}
		uint64_t now = now_ns();
		int records_due = (l->batching && now >= l->next_drain) ||
				  (c->rec.rings.n && now >= c->rec.rings.next_poll) ||
				  (c->rec.unpark_at && now >= c->rec.unpark_at);
		closer_watch(&c->closer, now);
		bell_resume(c);
		int qfds[128], nq = 0; /* the guard's questions: one batch */
		for (int i = 0; i < n; i++) {
			uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
			int fd = (int)(uint32_t)evs[i].data.u64;
			if (tag == TAG_Q_CONN)
				qfds[nq++] = fd;
			else
				records_due |= loop_event(c, tag, fd, now);
		}
		if (nq)
			serve_query_conns(c, qfds, nq);
		if (records_due)
			loop_records(c);
		graph_probe_pending(c->graph, 0);
		if (spinning) {
			if (n == 0)
				sched_yield(); /* a task woken on this CPU runs first */
			p->spin_used += now_ns() - t0;
		}
	}
}
