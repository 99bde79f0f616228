/*
 * records.c — record connections, grouped by uid: reading the shims'
 * records, their bounds, and the drain that runs before every answer.
 *
 * Every uid's record connections live in an epoll set of their own, and those
 * sets (with the listeners) in records.ep: a drain round serves each ready uid
 * in turn, at most DRAIN_CONN records from each of DRAIN_UID_CONNS ready
 * connections and DRAIN_UID from the uid, so a uid with a thousand flooding
 * connections gets one uid's share per round, like a uid with one (a query's
 * drain is bounded in time: query_drain). Token buckets bound the records
 * applied per second per connection (record_rate) and per uid
 * (record_rate_uid; root: per connection only); a record beyond them is read
 * and dropped, counted for its uid, and the sender's fd table is re-read from
 * /proc (RESYNC) once it has stayed under them for 100 ms. The graph's time is
 * bounded too: each non-root uid may use 25% of a core for its records, at
 * most 1 ms at once (measured per record, charged in advance by the uid's
 * average): beyond it, its records are dropped the same way. Reading too has a
 * bound (4x the rate): beyond it the connection, or the uid's whole set, is
 * not read for a while (parked); its shims' sends then fail at once (EAGAIN:
 * a shim never waits) and they count the loss.
 *
 * Records are applied in the order they were sent, across connections: a
 * round of draining reads every ready connection into `pend`, then applies
 * them by their (clamped) send time, each connection's in its own order. A
 * fork child's BIRTH travels on its parent's connection, its new image's
 * IMAGE on a connection of its own; the parent's PIPE and CLOSE and the
 * child's records interleave in time, and applied connection by connection
 * the child could be taken before the fork that made it (its inherited fds
 * then lost when it is already gone).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "daemon.h"

#define DRAIN_CONN 256
#define DRAIN_UID 1024
#define DRAIN_UID_CONNS 64
#define QUERY_BACKLOG_NS 50000000ULL /* a query's drain past query_drain for queued connections */
#define READ_FACTOR 2
#define CPU_RATE_NS 250000000.0 /* graph time per second per non-root uid: 25% of a core */
#define CPU_BURST_NS 1000000.0  /* of which at most 1 ms at once */

void records_init(struct collector *c)
{
	struct records *rs = &c->rec;
	rs->pend = calloc(PEND_MAX, sizeof(*rs->pend));
	rs->pend_ix = calloc(PEND_MAX, sizeof(*rs->pend_ix));
	if (!rs->pend || !rs->pend_ix)
		fatalx("out of memory");
	rs->ep = epoll_create1(EPOLL_CLOEXEC);
	if (rs->ep < 0)
		fatal("epoll_create1");
	struct epoll_event rev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG(TAG_RECORDS, rs->ep)};
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, rs->ep, &rev) < 0)
		fatal("epoll_ctl");
}

/* ---- token buckets ------------------------------------------------------------- */

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

/* ---- uids and connections ------------------------------------------------------- */

static struct ruid *ruid_get(struct collector *c, uid_t uid)
{
	struct records *rs = &c->rec;
	for (int i = 0; i < rs->nuids; i++)
		if (rs->uids[i].uid == uid)
			return &rs->uids[i];
	if (rs->nuids == MAX_UIDS) /* the rest share the last set */
		return &rs->uids[MAX_UIDS - 1];
	struct ruid *u = &rs->uids[rs->nuids];
	memset(u, 0, sizeof(*u));
	u->uid = uid;
	u->ep = epoll_create1(EPOLL_CLOEXEC);
	if (u->ep < 0)
		return NULL;
	uint64_t now = now_ns();
	u->apply = (struct bucket){(double)c->cf.rate_uid, now};
	u->read = (struct bucket){(double)(c->cf.rate_uid * READ_FACTOR), now};
	u->cpu = (struct bucket){CPU_BURST_NS, now};
	u->cost = 2000.0;
	u->drained = 1;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_UIDSET, rs->nuids)};
	if (epoll_ctl(rs->ep, EPOLL_CTL_ADD, u->ep, &ev) < 0) {
		close(u->ep);
		return NULL;
	}
	rs->nuids++;
	return u;
}

static struct rconn *rconn_of(struct records *rs, int fd)
{
	return fd >= 0 && fd < rs->nrconns && rs->rconns[fd].u ? &rs->rconns[fd] : NULL;
}

/* A parked connection leaves its uid's set (EPOLL_CTL_DEL: a mask of 0 would
 * still report EPOLLHUP, level-triggered, every round) until unpark(). */
static void park_conn(struct records *rs, int fd, struct rconn *rc, uint64_t until)
{
	if (rc->parked)
		return;
	if (fd < 0) { /* a ring (ring.c): not in any set, skipped until then */
		rc->parked = 1;
		rc->park_until = until;
		return;
	}
	struct ruid *u = &rs->uids[rc->u - 1];
	if (rs->nparked == rs->parked_cap) {
		int nc = rs->parked_cap ? rs->parked_cap * 2 : 64;
		int *p = realloc(rs->parked_fds, sizeof(int) * (size_t)nc);
		if (!p)
			return;
		rs->parked_fds = p;
		rs->parked_cap = nc;
	}
	if (epoll_ctl(u->ep, EPOLL_CTL_DEL, fd, NULL) < 0)
		return;
	rs->parked_fds[rs->nparked++] = fd;
	rc->parked = 1;
	rc->park_until = until;
}

static void park_uid(struct records *rs, struct ruid *u, uint64_t until)
{
	struct epoll_event ev = {.events = 0, .data.u64 = TAG(TAG_UIDSET, u - rs->uids)};
	if (u->parked || epoll_ctl(rs->ep, EPOLL_CTL_MOD, u->ep, &ev) < 0)
		return;
	u->parked = 1;
	u->park_until = until;
	u->parks++;
}

/* Reads parked connections and uids again once their time is up; returns
 * the next time one is due (0: none parked). */
static uint64_t unpark(struct records *rs, uint64_t now)
{
	uint64_t next = 0;
	for (int i = 0; i < rs->nuids; i++) {
		struct ruid *u = &rs->uids[i];
		if (!u->parked)
			continue;
		if (now >= u->park_until) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_UIDSET, i)};
			epoll_ctl(rs->ep, EPOLL_CTL_MOD, u->ep, &ev);
			u->parked = 0;
		} else if (!next || u->park_until < next) {
			next = u->park_until;
		}
	}
	for (int i = 0; i < rs->nparked; i++) {
		int fd = rs->parked_fds[i];
		struct rconn *rc = rconn_of(rs, fd);
		if (rc && rc->parked && now < rc->park_until) {
			if (!next || rc->park_until < next)
				next = rc->park_until;
			continue;
		}
		if (rc && rc->parked) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_REC_CONN, fd)};
			if (epoll_ctl(rs->uids[rc->u - 1].ep, EPOLL_CTL_ADD, fd, &ev) < 0)
				log_warn("epoll_ctl add fd %d", fd);
			rc->parked = 0;
		}
		rs->parked_fds[i--] = rs->parked_fds[--rs->nparked];
	}
	rs->unpark_at = next;
	return next;
}

int rconn_add(struct collector *c, int fd, const struct ucred *cr)
{
	struct records *rs = &c->rec;
	if (fd >= rs->nrconns) {
		int n = rs->nrconns ? rs->nrconns : 1024;
		while (n <= fd)
			n *= 2;
		struct rconn *r = realloc(rs->rconns, sizeof(*r) * (size_t)n);
		if (!r)
			return -1;
		memset(r + rs->nrconns, 0, sizeof(*r) * (size_t)(n - rs->nrconns));
		rs->rconns = r;
		rs->nrconns = n;
	}
	struct ruid *u = ruid_get(c, cr->uid);
	if (!u)
		return -1;
	if (cr->uid != 0 && (unsigned long long)u->nconn >= c->cf.max_conns_uid) {
		u->refused++;
		return -1;
	}
	struct rconn *rc = &rs->rconns[fd];
	uint64_t now = now_ns();
	memset(rc, 0, sizeof(*rc));
	rc->u = (int)(u - rs->uids) + 1;
	rc->pid = cr->pid;
	rc->apply = (struct bucket){(double)c->cf.rate_conn, now};
	rc->read = (struct bucket){(double)(c->cf.rate_conn * READ_FACTOR), now};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_REC_CONN, fd)};
	if (epoll_ctl(u->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		rc->u = 0;
		return -1;
	}
	u->nconn++;
	return 0;
}

int rconn_del(struct collector *c, int fd)
{
	struct records *rs = &c->rec;
	struct rconn *rc = rconn_of(rs, fd);
	if (!rc || !rc->u)
		return 0;
	struct ruid *u = &rs->uids[rc->u - 1];
	epoll_ctl(u->ep, EPOLL_CTL_DEL, fd, NULL);
	u->nconn--;
	rc->u = 0;
	rc->parked = 0;
	return 1;
}

/* ---- applying, in send-time order -------------------------------------------------- */

static int pend_cmp(const void *a, const void *b, void *arg)
{
	const struct pend *pend = arg;
	const struct pend *x = &pend[*(const uint32_t *)a], *y = &pend[*(const uint32_t *)b];
	if (x->rec.ts != y->rec.ts)
		return x->rec.ts < y->rec.ts ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void apply_pending(struct collector *c)
{
	struct records *rs = &c->rec;
	struct pend *pend = rs->pend;
	/* the kernel's events up to now first: each record here was read after
	 * its sender sent it, so what the kernel reported before that (an
	 * exec before the new image's IMAGE, a fork before the child's BIRTH)
	 * is in the event ring now. Read only at the drain's start, an IMAGE
	 * read in a later round (or past PEND_MAX) of a drain that began
	 * before its exec was refused ("no exec in the kernel's events") and
	 * the process taken for a static image, seen "kernel". Read only when
	 * an IMAGE here has no exec event yet: any read changes the graph, and
	 * a read before every batch, between a push and its `who`, spoilt the
	 * push (attack_push_stale's "an ordinary client keeps its push": 0 of 5
	 * curls accepted) */
	for (size_t i = 0; i < rs->npend; i++)
		if (pend[i].rec.type == HT_REC_IMAGE &&
		    graph_kev_exec_missing_attested(c->graph, pend[i].pid, pend[i].pid_ino)) {
			kev_consume(&c->kev);
			break;
		}
	for (size_t i = 0; i < rs->npend; i++)
		rs->pend_ix[i] = (uint32_t)i;
	qsort_r(rs->pend_ix, rs->npend, sizeof(*rs->pend_ix), pend_cmp, pend);
	uint64_t now = now_ns(), t0 = now;
	for (size_t i = 0; i < rs->npend; i++) {
		struct pend *pr = &pend[rs->pend_ix[i]];
		const char *why;
		int fresh = pr->rec.type == HT_REC_CONNECT && c->push.nsubs && push_is_fresh(c, &pr->rec);
		if (graph_apply_attested(c->graph, pr->pid, pr->uid, pr->pid_ino, &pr->rec, now, &why) != 0) {
			if (why)
				log_debug("record %s from pid %d refused: %s",
					  ht_rec_type_name(pr->rec.type), (int)pr->pid, why);
		} else if (fresh) {
			push_note(c, &pr->rec);
		}
		/* the graph's time, charged to a non-root uid (see the top of this
		 * file; root's records are not timed) */
		struct ruid *u = pr->u ? &rs->uids[pr->u - 1] : NULL;
		if (u && u->uid != 0) {
			uint64_t t1 = now_ns();
			double dt = (double)(t1 - t0);
			u->cost = u->cost * 0.9 + dt * 0.1;
			u->cpu.tok -= dt - pr->pre;
			t0 = t1;
		} else if (i + 1 < rs->npend && pend[rs->pend_ix[i + 1]].u &&
			   rs->uids[pend[rs->pend_ix[i + 1]].u - 1].uid != 0) {
			t0 = now_ns(); /* the next one is timed */
		}
	}
	rs->npend = 0;
}

/* ---- reading one connection ------------------------------------------------------- */

/* one connection being read (read_records) */
struct reading {
	int fd;
	struct rconn *rc;
	struct ruid *u;
	int root;
	uint64_t now;           /* the batch's start, moved on by a later record */
	uint64_t last_ts;       /* this connection's records keep their order */
	uint64_t pid_ino;       /* a ring's: its registrant's pidfs inode (ring.c) */
};

/* May one more datagram be read? 0 when the connection or its uid was
 * parked (over a read bound, out of graph time, the closer behind). */
static int read_budget(struct collector *c, struct reading *rd)
{
	struct records *rs = &c->rec;
	double rr = (double)(c->cf.rate_conn * READ_FACTOR), ru = (double)(c->cf.rate_uid * READ_FACTOR);
	struct ruid *u = rd->u;
	if (!bucket_take(&rd->rc->read, rr, rd->now)) {
		park_conn(rs, rd->fd, rd->rc, bucket_when(&rd->rc->read, rr, DRAIN_CONN));
		return 0;
	}
	if (!rd->root && !bucket_take(&u->read, ru, rd->now)) {
		park_uid(rs, u, bucket_when(&u->read, ru, DRAIN_UID));
		return 0;
	}
	if (!rd->root) { /* the uid's graph time (CPU_RATE_NS): not read until it is back */
		bucket_fill(&u->cpu, CPU_RATE_NS, CPU_BURST_NS, rd->now);
		if (u->cpu.tok <= 0) {
			park_uid(rs, u, bucket_when(&u->cpu, CPU_RATE_NS, CPU_BURST_NS / 4));
			return 0;
		}
	}
	if (!closer_fd_room(&c->closer)) { /* the closer is behind: read again later */
		park_conn(rs, rd->fd, rd->rc, rd->now + 10000000ULL);
		return 0;
	}
	return 1;
}

/* A received datagram's sender (SCM_CREDENTIALS) when it may be applied:
 * no passed descriptors, not oversized, within the apply buckets. 0, or -1
 * (counted) to skip it. */
static int admit(struct collector *c, struct reading *rd, struct msghdr *mh, ssize_t r,
		 struct ucred *cr)
{
	int have_cred = 0;
	*cr = (struct ucred){0, (uid_t)-1, (gid_t)-1};
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(*cr))) {
			memcpy(cr, CMSG_DATA(cm), sizeof(*cr));
			have_cred = 1;
		}
	rd->pid_ino = 0;
	if (mh->msg_controllen && have_cred &&
	    ring_register_msg(c, rd->fd, rd->rc, mh, cr, &rd->pid_ino)) {
		/* a ring registration (ring.c): its descriptor was taken */
	} else if (closer_drop_passed(&c->closer, mh)) { /* never closed here (closer.c) */
		c->stats.fd_passing++;
		return -1;
	}
	if ((mh->msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)r > HT_REC_MAX) {
		c->stats.oversized++;
		return -1;
	}
	if (!have_cred || cr->pid <= 0) {
		c->stats.no_creds++;
		return -1;
	}
	if (!bucket_take(&rd->rc->apply, (double)c->cf.rate_conn, rd->now) ||
	    (!rd->root && !bucket_take(&rd->u->apply, (double)c->cf.rate_uid, rd->now))) {
		rd->u->dropped++;
		c->stats.dropped++;
		rd->rc->drop_pid = cr->pid;
		rd->rc->drop_t = rd->now;
		return -1;
	}
	return 0;
}

/* records of this sender were dropped: its fd table is re-read (once it has
 * stayed under the bounds for 100 ms) */
static void queue_resync(struct records *rs, struct reading *rd, uid_t uid)
{
	struct rconn *rc = rd->rc;
	if (!rc->drop_pid || rd->now <= rc->drop_t + 100000000ULL || rs->npend >= PEND_MAX - 1)
		return;
	struct pend *p = &rs->pend[rs->npend++];
	memset(&p->rec, 0, sizeof(p->rec));
	p->rec.type = HT_REC_RESYNC;
	p->rec.ts = rd->last_ts > rd->now ? rd->last_ts : rd->now;
	p->seq = rs->pend_seq++;
	p->pid = rc->drop_pid;
	p->uid = uid;
	p->pid_ino = 0;
	p->u = 0;
	p->pre = 0;
	rc->drop_pid = 0;
}

/* Decodes an admitted record into `pend`, its time clamped. */
static void queue_record(struct collector *c, struct reading *rd, const uint8_t *buf, size_t len,
			 const struct ucred *cr)
{
	struct records *rs = &c->rec;
	struct pend *pr = &rs->pend[rs->npend];
	struct ht_record *rec = &pr->rec;
	const char *why;
	if (ht_record_decode(buf, len, rec, &why) != 0) {
		c->stats.decode_errors++;
		log_debug("record from pid %d rejected: %s", cr->pid, why);
		return;
	}
	/* the sender's clock: clamp into [now - skew, now]. `now` is the
	 * batch's start: a record sent since is not from the future —
	 * read the clock again before clamping, or a PIPE and the CLOSE
	 * after it would both be dated the batch's start, before a
	 * /proc read made meanwhile, and the CLOSE would be ignored */
	if (rec->ts > rd->now)
		rd->now = now_ns();
	if (rec->ts > rd->now || rec->ts + HT_REC_MAX_SKEW_NS < rd->now)
		rec->ts = rd->now;
	if (rec->ts < rd->last_ts)
		rec->ts = rd->last_ts;
	rd->last_ts = rec->ts;
	if (rec->type == HT_REC_EXIT && rec->num2 > 0 && rec->num2 < (1LL << 40))
		rd->u->shim_lost += (uint64_t)rec->num2;
	pr->seq = rs->pend_seq++;
	pr->pid = cr->pid;
	pr->uid = cr->uid;
	pr->pid_ino = rd->pid_ino;
	pr->u = rd->rc->u;
	pr->pre = rd->root ? 0 : rd->u->cost;
	rd->u->cpu.tok -= pr->pre;
	rs->npend++;
}

/* Reads at most max records of one shim connection into `pend` (applied by
 * apply_pending), within its buckets (see the top of this file). Returns the
 * number read; *more is set when it stopped with records left. */
static int read_records(struct collector *c, int fd, uint64_t now, int max, int *more)
{
	struct records *rs = &c->rec;
	uint8_t buf[HT_REC_MAX + 1];
	union rcv_cbuf cbuf;
	int n = 0;
	struct rconn *rc = rconn_of(rs, fd);
	*more = 0;
	if (!rc)
		return 0;
	struct reading rd = {fd, rc, &rs->uids[rc->u - 1], 0, now, 0, 0};
	rd.root = rd.u->uid == 0;
	while (n < max) {
		if (!read_budget(c, &rd))
			return n;
		if (rs->npend == PEND_MAX)
			apply_pending(c);
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
				    .msg_controllen = sizeof(cbuf.b)};
		ssize_t r = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return n;
		if (r <= 0) { /* gone */
			close_conn(c, fd);
			c->stats.conns--;
			return n;
		}
		n++;
		c->stats.records++;
		rd.u->records++;
		struct ucred cr;
		if (admit(c, &rd, &mh, r, &cr) != 0)
			continue;
		queue_resync(rs, &rd, cr.uid);
		queue_record(c, &rd, buf, (size_t)r, &cr);
	}
	*more = 1;
	return n;
}

/* The records read from r into pend[first..] keep their sender's attestation
 * (pid_ino) only when its registrant has not exited since they were written
 * (a helper that kept the memfd writes as the registrant, and after its exit
 * the pid may be another's): else /proc decides about them, as without it. */
static void ring_unattest(struct collector *c, const struct cring *r, size_t first)
{
	struct records *rs = &c->rec;
	if (!r->pid_ino || first >= rs->npend || ring_pid_alive(r->pidfd))
		return;
	for (size_t i = first; i < rs->npend; i++)
		rs->pend[i].pid_ino = 0;
}

/* Reads at most max records of a ring (ring.c) into `pend`, within the same
 * buckets as a connection's; the bytes are copied out of the mapping and
 * checked by ht_ring_next before they are decoded. */
int read_ring(struct collector *c, struct cring *r, uint64_t now, int max, int *more)
{
	struct records *rs = &c->rec;
	uint8_t buf[HT_RING_MAXN * HT_RING_DATA];
	struct reading rd = {-1, &r->rc, &rs->uids[r->rc.u - 1], 0, now, r->last_ts, r->pid_ino};
	struct ucred cr = {r->pid, r->uid, (gid_t)-1};
	int n = 0;
	size_t first = rs->npend; /* this read's records in `pend` */
	rd.root = rd.u->uid == 0;
	*more = 0;
	while (n < max) {
		if (!read_budget(c, &rd))
			break;
		if (rs->npend == PEND_MAX) { /* charged by apply_pending, not rings_drain */
			uint64_t t0 = now_ns();
			ring_unattest(c, r, first);
			first = 0;
			apply_pending(c);
			r->applied_ns += now_ns() - t0;
		}
		int len = ht_ring_next(&r->rd, buf, sizeof(buf), rd.now);
		if (len == 0)
			break;
		n++;
		c->stats.records++;
		rd.u->records++;
		if (len < 0) {
			c->stats.decode_errors++;
			continue;
		}
		if ((size_t)len > HT_REC_MAX) {
			c->stats.oversized++;
			continue;
		}
		if (!bucket_take(&rd.rc->apply, (double)c->cf.rate_conn, rd.now) ||
		    (!rd.root && !bucket_take(&rd.u->apply, (double)c->cf.rate_uid, rd.now))) {
			rd.u->dropped++;
			c->stats.dropped++;
			rd.rc->drop_pid = r->pid;
			rd.rc->drop_t = rd.now;
			continue;
		}
		queue_resync(rs, &rd, r->uid);
		queue_record(c, &rd, buf, (size_t)len, &cr);
	}
	r->last_ts = rd.last_ts;
	ring_unattest(c, r, first);
	*more = n == max;
	return n;
}

/* ---- draining ---------------------------------------------------------------------- */

/* Serves one uid's ready connections (one round's share). */
static int serve_uid(struct collector *c, struct ruid *u, uint64_t now)
{
	struct epoll_event evs[DRAIN_UID_CONNS];
	int n = epoll_wait(u->ep, evs, DRAIN_UID_CONNS, 0), got = 0, more = 0;
	for (int i = 0; i < n && got < DRAIN_UID; i++) {
		int fd = (int)(uint32_t)evs[i].data.u64, m;
		int left = DRAIN_UID - got;
		got += read_records(c, fd, now, left < DRAIN_CONN ? left : DRAIN_CONN, &m);
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

/* One round over the ready uids; *busy when one has more to read. The
 * listeners first: what they accepted is read in the same round (a new
 * image's ring registration, then its ring), so a record sent before the
 * drain began is not left for a round that a query's deadline may cut, and
 * a fork child's BIRTH is applied in the round of its parent's records
 * (chain_handoff_lag: the runner's child answered as unknown). evs holds
 * cap events. */
static int drain_round(struct collector *c, struct epoll_event *evs, int n, int cap, int light,
		       int *busy, int *backlog)
{
	struct records *rs = &c->rec;
	uint64_t now = now_ns();
	int got = 0, accepted = 0;
	for (int i = 0; i < n; i++)
		if ((uint32_t)(evs[i].data.u64 >> 32) == TAG_REC_LISTEN) {
			accept_all(c, (int)(uint32_t)evs[i].data.u64, TAG_REC_CONN);
			got++;
			accepted = 1;
		}
	if (accepted) { /* the uid sets the new connections made ready */
		int m = epoll_wait(rs->ep, evs, cap, 0);
		n = m < 0 ? 0 : m;
	}
	for (int i = 0; i < n; i++) {
		uint32_t tag = (uint32_t)(evs[i].data.u64 >> 32);
		int id = (int)(uint32_t)evs[i].data.u64;
		if (tag == TAG_UIDSET && id >= 0 && id < rs->nuids) {
			struct ruid *u = &rs->uids[id];
			if (light && uid_dropping(u)) {
				*busy = 1; /* over a bound: next round */
				continue;
			}
			got += serve_uid(c, u, now);
			*busy |= !u->drained && !uid_dropping(u);
		} else if (tag == TAG_REC_LISTEN) {
			*busy = 1; /* more queued than accept_all takes: next round */
			*backlog = 1;
		} else if (tag == TAG_RING) {
			ring_exited(c, id);
		}
	}
	return got + rings_drain(c, now, light, busy);
}

/* Processes records already queued, round-robin across uids (bounded: at
 * most 64 rounds, and until `deadline`; one round always runs). For a query
 * (`query`): first every uid but those over a bound (a quiet uid's connect
 * is not queued behind a flood; the order of records across the others is
 * kept, as within any round), then every uid until each read all it had,
 * but for those whose records are being dropped. A query's drain goes on
 * past `deadline` while a record or ring listener still has connections
 * queued (accept_all takes 64 a round), up to QUERY_BACKLOG_NS more: every
 * new image and fork child registers a ring with a connection of its own,
 * and after a stall (chain_handoff_lag stops the collector 200 ms at a time)
 * a hundred may wait, the asked-about process's last — answered without
 * them it is a process of unknown creator with a local chain. Returns how
 * many records (and new shim connections) it took. */
int drain_rounds(struct collector *c, uint64_t deadline, int query)
{
	struct records *rs = &c->rec;
	struct epoll_event evs[MAX_UIDS + 8];
	int total = 0;
	rs->drain_cut = 0;
	push_drain_begin(c);
	/* the kernel's events first: a child's fork event is in the ring before
	 * the child runs, so before its BIRTH is read (graph_kev.c) */
	kev_consume(&c->kev);
	closer_watch(&c->closer, now_ns());
	unpark(rs, now_ns());
	uint64_t hard = deadline + QUERY_BACKLOG_NS;
	for (int round = 0; round < 64; round++) {
		int n = epoll_wait(rs->ep, evs, MAX_UIDS + 8, 0);
		int busy = 0, backlog = 0, light = query && round == 0;
		if (n < 0)
			n = 0;
		if (n == 0 && !rs->rings.n)
			break;
		int got = drain_round(c, evs, n, MAX_UIDS + 8, light, &busy, &backlog);
		if (rs->npend) {
			/* every event written before these records were read was
			 * read (none since the drain's kev_consume): a fork
			 * child's image is known without asking /proc
			 * (graph_kev_fresh; asked only for a BIRTH: kev_lost is
			 * a system call). The events are not read here: one read
			 * mid-drain changed the graph under the pushes
			 * (attack_dup_close: no curl decided on its push). */
			int birth = 0;
			for (size_t i = 0; i < rs->npend && !birth; i++)
				birth = rs->pend[i].rec.type == HT_REC_BIRTH;
			graph_kev_fresh(c->graph, birth && kev_caught_up(&c->kev));
		}
		apply_pending(c);
		graph_kev_fresh(c->graph, 0);
		total += got;
		if ((!got && !light) || (query && !busy))
			break;
		uint64_t t = now_ns();
		if (query && backlog && t < hard && round < 63)
			continue; /* connections queued before the answer: read them */
		if (t >= deadline || round == 63) {
			rs->drain_cut = 1; /* more is waiting: the loop comes back at once */
			break;
		}
	}
	/* the ends kept from exit events: all records before them read, else
	 * those a second old (a shimmed process's records say what it held) */
	graph_kev_settle(c->graph, now_ns(), rs->drain_cut || rs->unpark_at ? KEV_SETTLE_NS : 0);
	/* (a parked connection's records wait unread: not all were read either) */
	push_drain_end(c, rs->drain_cut || rs->unpark_at);
	rings_unmap_flush(c);
	return total;
}

/* Watch records.ep from the main set again: the next record wakes the loop. */
void rec_arm(struct collector *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = TAG(TAG_RECORDS, c->rec.ep)};
	if (epoll_ctl(c->ep, EPOLL_CTL_MOD, c->rec.ep, &ev) < 0)
		log_warn("epoll_ctl rearm");
}

void drain_records(struct collector *c)
{
	drain_rounds(c, now_ns() + c->cf.query_drain_us * 1000ULL, 1);
	graph_probe_pending(c->graph, 1);
	if (c->push.nprej)
		push_prejudged(c);
}

/* hoptrace status: each uid's record connections ("uids") */
void records_status(struct collector *c, cJSON *a)
{
	struct records *rs = &c->rec;
	cJSON *x = cJSON_AddArrayToObject(a, "uids");
	for (int i = 0; i < rs->nuids; i++) {
		const struct ruid *u = &rs->uids[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "uid", (double)u->uid);
		cJSON_AddNumberToObject(o, "conns", u->nconn);
		cJSON_AddNumberToObject(o, "records", (double)u->records);
		cJSON_AddNumberToObject(o, "dropped", (double)u->dropped);
		cJSON_AddNumberToObject(o, "conns_refused", (double)u->refused);
		cJSON_AddNumberToObject(o, "throttled", (double)u->parks);
		cJSON_AddNumberToObject(o, "lost_by_shims", (double)u->shim_lost);
		cJSON_AddItemToArray(x, o);
	}
	rings_status(c, a);
}
