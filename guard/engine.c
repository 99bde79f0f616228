/*
 * engine.c — implements engine.h with libmnl + libnetfilter_queue's nlmsg API.
 *
 * Every worker blocks in recv() on the same netlink socket: the kernel hands
 * each queued packet to exactly one of them. Verdicts are single sendto()s on
 * that socket, safe from any thread. Accept = NF_REPEAT with the packet's mark
 * | mark_judged (the packet walks OUTPUT again, our chain RETURNs on the judged
 * bit, and every other rule still applies); reject = NF_REPEAT with
 * judged | reject, which the REJECT rule in our chain turns into a TCP reset;
 * drop = NF_DROP.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "hoptrace/chain.h"
#include "hoptrace/log.h"
#include "audit.h"
#include "collq.h"
#include "engine.h"
#include "packet.h"
#include "hoptrace/policy_remote.h"
#include "hoptrace/sockdiag.h"

#define CACHE_SLOTS 16384
#define KEY_LEN 64
/* Bytes of each queued packet the kernel copies to us: the longest header
 * chain the kernel builds for a TCP socket, so that every SYN's headers are
 * whole in the copy (its payload, TCP Fast Open data, need not be: the parser
 * reads headers only and judges lengths against NFQA_CAP_LEN).
 *   IPv4: 60 (IHL 15: 40 bytes of IP_OPTIONS) + 60 (TCP doff 15) = 120.
 *   IPv6: 40 + the four sticky extension headers a socket can carry, each at
 *   most (255 + 1) * 8 = 2048 bytes: hop-by-hop, destination options before
 *   the routing header, the routing header, destination options (IPV6_HOPOPTS,
 *   IPV6_RTHDRDSTOPTS, IPV6_RTHDR, IPV6_DSTOPTS) + 60 (TCP) = 8292. Only
 *   IPV6_RTHDR (type 4, segment routing; type 2 needs CONFIG_IPV6_MIP6) is
 *   settable without CAP_NET_RAW: 40 + 2048 + 60 = 2148 for any user.
 * The kernel copies min(COPY_RANGE, packet length): an ordinary SYN (~60-80
 * bytes) costs no more than before. A longer chain (a raw socket's, root
 * only) is "unparsable: truncated headers" and gets on_unparsable. */
#define COPY_RANGE 8320
#define RCVBUF_PER_SYN 1280 /* receive buffer per queued SYN: 832 bytes measured (IPv4, no data), with room */
#define PUSH_SLOTS 1024     /* prejudged chains waiting for their SYN */
#define PUSH_TTL_MS 500
#define PUSH_MAX 16384      /* as the collector's: larger chains are asked about */
#define PUSH_SPIN_US 150     /* a worker waiting for a push or an answer polls this long, awake */

/* A chain the collector pushed when the shim reported the connect(), before
 * the SYN (docs/query-protocol.md "subscribe"), by socket inode. */
struct push_ent {
	uint64_t ino;
	long expires_ms;
	char *json;   /* the answer, or NULL with none set: */
	int none;     /* the collector said it pushes nothing for ino */
};

struct cache_ent {
	uint8_t key[KEY_LEN]; /* make_key */
	uint64_t ino;    /* the socket decided on, 0 unknown */
	long expires_ms;
	int8_t action;   /* enum acl_verdict, -1 empty */
};

struct engine {
	struct guard_conf conf;
	int bare;
	struct mnl_socket *nl;
	unsigned portid;
	int lo_ifindex;
	int audit_fd;
	int syslog_fd;             /* audit_syslog: -1 off or not reachable (retried) */
	atomic_long syslog_retry_ms;
	atomic_ulong n_syslog_lost;
	pthread_mutex_t audit_lock; /* only for reopening */
	pthread_rwlock_t acl_lock;
	struct acl *acl;
	atomic_int stop;
	pthread_t *threads;
	unsigned nthreads;
	pthread_mutex_t cache_lock;
	struct cache_ent *cache;
	pthread_mutex_t push_lock; /* push_fd, push[], pbuf */
	int push_fd;               /* subscription to the collector, -1 none */
	int push_busy;             /* a worker is subscribing */
	long push_retry_ms;
	struct push_ent *push;
	char *pbuf;
	atomic_ulong n_push_hit, n_push_race, n_push_miss;
	atomic_int spinning;
	atomic_long *beats; /* per worker: mono_ms() at its last loop (engine_alive) */
	atomic_ulong n_pkts, n_decided, n_cached, n_accept, n_reject, n_drop, n_coll_err,
		n_verdict_err, n_parse_err, n_srcroute, n_enobufs, n_ovf_queue, n_ovf_user;
	atomic_long unparsable_log_ms; /* last "unparsable" warning (rate-limited) */
	atomic_ulong unparsable_unlogged;
	pthread_t watch;           /* reads the kernel's queue counters */
	int watch_started;
};

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* snprintf whose truncation is intended (texts for the log) */
static void say(char *b, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *b, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, n, fmt, ap);
	va_end(ap);
}

static long mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

/* ---- cache ---------------------------------------------------------------- */

/* family, src, final dst, first hop, ports, the whole ISN (a retransmit has
 * the same one, a new connection reusing the 4-tuple another) and a hash of
 * the source route's addresses: a route set on the socket after its first SYN
 * was judged (IPV6_RTHDR while connecting) makes its retransmits another key,
 * judged anew */
static void make_key(const struct ht_pkt *p, const uint8_t *buf, uint8_t k[KEY_LEN])
{
	memset(k, 0, KEY_LEN);
	k[0] = (uint8_t)p->family;
	k[1] = (uint8_t)p->srcroute;
	memcpy(k + 2, p->src, 16);
	memcpy(k + 18, p->dst, 16);
	memcpy(k + 34, p->hop, 16);
	memcpy(k + 50, &p->sport, 2);
	memcpy(k + 52, &p->dport, 2);
	memcpy(k + 54, &p->seq, 4);
	uint32_t h = 2166136261u;
	size_t alen = p->family == AF_INET ? 4 : 16;
	for (size_t i = 0; buf && i < (size_t)p->route_n * alen; i++)
		h = (h ^ buf[p->route_off + i]) * 16777619u;
	k[58] = p->route_n;
	memcpy(k + 59, &h, 4);
}

static size_t key_slot(const uint8_t k[KEY_LEN])
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < KEY_LEN; i++)
		h = (h ^ k[i]) * 1099511628211ULL;
	return (size_t)(h % CACHE_SLOTS);
}

/* The decision for key, or -1; *ino: the socket it was made for (0 unknown). */
static int cache_get(struct engine *e, const uint8_t k[KEY_LEN], uint64_t *ino)
{
	size_t s = key_slot(k);
	int v = -1;
	pthread_mutex_lock(&e->cache_lock);
	struct cache_ent *c = &e->cache[s];
	if (c->action >= 0 && c->expires_ms > mono_ms() && !memcmp(c->key, k, KEY_LEN)) {
		v = c->action;
		*ino = c->ino;
	}
	pthread_mutex_unlock(&e->cache_lock);
	return v;
}

static void cache_put(struct engine *e, const uint8_t k[KEY_LEN], int action, uint64_t ino)
{
	if (!e->conf.cache_ttl_ms)
		return;
	size_t s = key_slot(k);
	pthread_mutex_lock(&e->cache_lock);
	struct cache_ent *c = &e->cache[s];
	memcpy(c->key, k, KEY_LEN);
	c->ino = ino;
	c->action = (int8_t)action;
	c->expires_ms = mono_ms() + (long)e->conf.cache_ttl_ms;
	pthread_mutex_unlock(&e->cache_lock);
}

/* ---- netlink -------------------------------------------------------------- */

static int send_cfg(struct engine *e, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	if (mnl_socket_sendto(e->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(e->nl, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, e->portid, NULL, NULL) < 0 ? -1 : 0;
}

static int nfq_setup(struct engine *e)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	unsigned q = e->conf.queue_num;

	e->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!e->nl) {
		log_warn("netlink socket");
		return -1;
	}
	if (mnl_socket_bind(e->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		log_warn("netlink bind");
		return -1;
	}
	e->portid = mnl_socket_get_portid(e->nl);

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	if (send_cfg(e, nlh)) {
		log_warn("cannot bind NFQUEUE %u (another program holds it?)", q);
		return -1;
	}
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, e->conf.queue_maxlen);
	/* Never NFQA_CFG_F_FAIL_OPEN: with it the kernel ACCEPTS a packet when
	 * the queue is full or cannot be delivered to us — a flood (or a
	 * stalled collector) would let SYNs pass unjudged. Without it they are
	 * dropped and counted (queue_dropped, queue_user_dropped), and TCP
	 * sends the SYN again (1 s, 3 s, ...) to be judged then. fail_open
	 * means --queue-bypass only: no guard bound at all (rules.c). */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(0));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
	if (send_cfg(e, nlh)) {
		log_warn("cannot configure NFQUEUE %u", q);
		return -1;
	}
	/* The receive buffer holds a full queue of ordinary SYNs (a queued
	 * SYN costs ~RCVBUF_PER_SYN bytes of it, measured), so the queue's
	 * length, not the buffer, is what runs out first; ENOBUFS is reported
	 * (no NETLINK_NO_ENOBUFS) and counted. Larger SYNs (data) fill it
	 * sooner: dropped, counted, sent again. */
	int fd = mnl_socket_get_fd(e->nl);
	unsigned long want = (unsigned long)e->conf.queue_maxlen * RCVBUF_PER_SYN;
	int rb = want < (2UL << 20) ? 2 << 20 : want > (256UL << 20) ? 256 << 20 : (int)want;
	/* the kernel doubles what it is given */
	rb /= 2;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof(rb)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof(rb));
	struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return 0;
}

static void nfq_unbind(struct engine *e)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, e->conf.queue_num);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	mnl_socket_sendto(e->nl, nlh, nlh->nlmsg_len);
}

static void send_verdict(struct engine *e, uint16_t queue, uint32_t id, int action, uint32_t mark)
{
	char buf[256];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, queue);
	switch (action) {
	case ACL_ACCEPT:
		nfq_nlmsg_verdict_put(nlh, (int)id, NF_REPEAT);
		nfq_nlmsg_verdict_put_mark(nlh, mark | e->conf.mark_judged);
		atomic_fetch_add(&e->n_accept, 1);
		break;
	case ACL_REJECT:
		nfq_nlmsg_verdict_put(nlh, (int)id, NF_REPEAT);
		nfq_nlmsg_verdict_put_mark(nlh, mark | e->conf.mark_judged | e->conf.mark_reject);
		atomic_fetch_add(&e->n_reject, 1);
		break;
	default:
		nfq_nlmsg_verdict_put(nlh, (int)id, NF_DROP);
		atomic_fetch_add(&e->n_drop, 1);
		break;
	}
	for (int i = 0; i < 3; i++) {
		if (mnl_socket_sendto(e->nl, nlh, nlh->nlmsg_len) >= 0)
			return;
		if (errno != EINTR && errno != ENOBUFS && errno != EAGAIN)
			break;
	}
	atomic_fetch_add(&e->n_verdict_err, 1);
	log_warn("verdict for packet %u not sent", id);
}

/* ---- prejudged chains --------------------------------------------------- */

/* The "ino" the collector appends last to a pushed answer: ...,"ino":N} */
static int push_ino(const char *s, size_t n, uint64_t *ino)
{
	if (n < 10 || s[n - 1] != '}')
		return -1;
	size_t i = n - 1, end = i;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i == end || end - i > 19 || i < 7 || memcmp(s + i - 7, ",\"ino\":", 7) != 0)
		return -1;
	uint64_t v = 0;
	for (size_t k = i; k < end; k++)
		v = v * 10 + (uint64_t)(s[k] - '0');
	*ino = v;
	return 0;
}

static void push_close(struct engine *e)
{
	if (e->push_fd >= 0)
		close(e->push_fd);
	e->push_fd = -1;
}

/* Subscribes (called with push_lock held; dropped during the exchange): at
 * most once a second, waits at most 50 ms. */
static void push_subscribe(struct engine *e)
{
	long now = mono_ms();
	if (e->push_fd >= 0 || e->push_busy || now < e->push_retry_ms)
		return;
	e->push_retry_ms = now + 1000;
	e->push_busy = 1;
	/* the exchange waits (at most 50 ms): not with the lock every worker
	 * takes per SYN */
	pthread_mutex_unlock(&e->push_lock);
	struct collq q;
	int fd = -1;
	if (collq_init(&q, getenv("HOPTRACE_QUERY_NAME")) == 0) {
		char err[160];
		long n = -1;
		static const char req[] = "{\"op\":\"subscribe\"}";
		if (collq_connect(&q, err, sizeof(err)) == 0 &&
		    send(q.fd, req, sizeof(req) - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof(req) - 1)) {
			struct pollfd p = {.fd = q.fd, .events = POLLIN};
			if (poll(&p, 1, 50) == 1)
				n = recv(q.fd, q.buf, 64, MSG_DONTWAIT);
		}
		if (n == 11 && !memcmp(q.buf, "{\"ok\":true}", 11)) {
			fd = q.fd;
			q.fd = -1;
		}
		collq_close(&q);
	}
	pthread_mutex_lock(&e->push_lock);
	e->push_busy = 0;
	if (fd >= 0) {
		e->push_fd = fd;
		log_info("subscribed to the collector's prejudged chains");
	}
}

/* Reads every pushed chain waiting on the subscription (push_lock held). */
static void push_drain(struct engine *e)
{
	push_subscribe(e);
	while (e->push_fd >= 0) {
		ssize_t n = recv(e->push_fd, e->pbuf, PUSH_MAX, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			log_warnx("collector ended the prejudged chains subscription");
			push_close(e);
			return;
		}
		uint64_t ino;
		if (n > PUSH_MAX || push_ino(e->pbuf, (size_t)n, &ino) != 0)
			continue; /* not a push we can use: the SYN is asked about */
		struct push_ent *p = &e->push[ino % PUSH_SLOTS];
		if (p->ino == ino && p->none && p->expires_ms > mono_ms())
			continue; /* that SYN was decided by asking: nothing for this socket */
		char *j = NULL;
		int none = n > 14 && !memcmp(e->pbuf, "{\"nopush\":true", 14);
		if (!none) {
			if (!(j = malloc((size_t)n + 1)))
				continue;
			memcpy(j, e->pbuf, (size_t)n);
			j[n] = 0;
		}
		free(p->json);
		p->json = j;
		p->none = none;
		p->ino = ino;
		p->expires_ms = mono_ms() + PUSH_TTL_MS;
	}
}

/* The pushed chain of socket ino (malloc()ed, the caller frees), or NULL;
 * *none = 1 when the collector said none will come. */
static char *push_take(struct engine *e, uint64_t ino, int *none)
{
	char *j = NULL;
	*none = 0;
	pthread_mutex_lock(&e->push_lock);
	push_drain(e);
	struct push_ent *p = &e->push[ino % PUSH_SLOTS];
	if ((p->json || p->none) && p->ino == ino) {
		if (p->expires_ms > mono_ms()) {
			j = p->json;
			*none = p->none;
		} else {
			free(p->json);
		}
		p->json = NULL;
		p->none = 0;
	}
	pthread_mutex_unlock(&e->push_lock);
	return j;
}

/* The SYN of socket ino was decided by asking: a push for it that comes
 * later is not kept for another SYN of that socket. */
static void push_forget(struct engine *e, uint64_t ino)
{
	pthread_mutex_lock(&e->push_lock);
	struct push_ent *p = &e->push[ino % PUSH_SLOTS];
	free(p->json);
	p->json = NULL;
	p->none = 1;
	p->ino = ino;
	p->expires_ms = mono_ms() + PUSH_TTL_MS;
	pthread_mutex_unlock(&e->push_lock);
}

/* Tells the collector the socket's local end ("bound"): deciding on a push
 * skipped the "who" that would have told it. */
static void push_bound(struct engine *e, uint64_t ino, const char *local, const char *remote)
{
	char m[256];
	int n = snprintf(m, sizeof(m), "{\"op\":\"bound\",\"ino\":%llu,\"local\":\"%s\",\"remote\":\"%s\"}",
			 (unsigned long long)ino, local, remote);
	if (n <= 0 || (size_t)n >= sizeof(m))
		return;
	pthread_mutex_lock(&e->push_lock);
	if (e->push_fd >= 0)
		send(e->push_fd, m, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	pthread_mutex_unlock(&e->push_lock);
}

/* The subscription's fd (subscribing at most once a second), or -1. */
static int push_fd_now(struct engine *e)
{
	pthread_mutex_lock(&e->push_lock);
	push_subscribe(e);
	int fd = e->push_fd;
	pthread_mutex_unlock(&e->push_lock);
	return fd;
}

static void push_free(struct engine *e)
{
	push_close(e);
	for (size_t i = 0; e->push && i < PUSH_SLOTS; i++)
		free(e->push[i].json);
	free(e->push);
	free(e->pbuf);
	e->push = NULL;
	e->pbuf = NULL;
}

struct push_wait {
	struct engine *e;
	int fd; /* the subscription watched */
	uint64_t ino;
	char *json;
};

static int push_arrived(void *arg)
{
	struct push_wait *w = arg;
	int none;
	w->json = push_take(w->e, w->ino, &none);
	if (w->json)
		return 1;
	/* none coming, or the subscription ended (and its number may be another
	 * fd now) */
	return !none && push_fd_now(w->e) == w->fd ? 0 : -1;
}

/* Was this push computed for this SYN's destination? (A socket may connect()
 * again elsewhere after a failed attempt; pushes are by socket.) */
static int push_for(const struct ht_chainset *cs, const struct ht_pkt *p)
{
	size_t alen = p->family == AF_INET ? 4 : 16;
	if (!cs->n)
		return 0;
	for (size_t i = 0; i < cs->n; i++) {
		const struct ht_endpoint *d = &cs->v[i].dst;
		if (d->family != p->family || d->port != p->dport || memcmp(d->addr, p->dst, alen))
			return 0;
	}
	return 1;
}

/* A pushed answer lacks the SYN's local end (connect() picks it after the
 * push): every chain in it starts on this host, at that end. */
static void push_fill_src(struct ht_chainset *cs, const struct ht_pkt *p)
{
	for (size_t i = 0; i < cs->n; i++) {
		struct ht_endpoint *s = &cs->v[i].src;
		if (s->family)
			continue;
		s->family = p->family;
		memcpy(s->addr, p->src, 16);
		s->port = p->sport;
	}
}

/* ---- deciding ------------------------------------------------------------- */

struct worker {
	struct engine *e;
	unsigned idx;
	int nl; /* sock_diag, for the SYN's socket inode; -1 until needed */
	struct collq cq;
	struct abuf line;
	char *rbuf;
	size_t rbuflen;
};

/* The chain the collector pushed for the SYN's socket (malloc()ed), or NULL.
 * When it is not there yet, asks "who" and takes the push if it comes first;
 * then *asked is 1 and, without a push, the answer is in w->cq.buf (*alen).
 * *ino: the socket's inode, 0 when it was not found (nothing pushed or asked). */
static char *prejudged(struct worker *w, const struct ht_pkt *p, const char *local,
		       const char *remote, uint64_t *ino, long *alen, int *asked, char *err,
		       size_t errlen)
{
	struct engine *e = w->e;
	int pfd;
	struct sd_inet si;
	/* (no pushes with policy_url: the policy server gets the answer as asked) */
	if (!e->push || (pfd = push_fd_now(e)) < 0)
		return NULL;
	if (w->nl < 0)
		w->nl = sd_open();
	/* the exact connection (the kernel's lookup may also match a listener
	 * on the local port) */
	size_t al = p->family == AF_INET ? 4 : 16;
	if (w->nl < 0 ||
	    sd_inet_lookup(w->nl, p->family, p->src, p->sport, p->dst, p->dport, &si) != 0 ||
	    !si.ino || si.state == TCP_LISTEN || si.rport != p->dport || memcmp(si.raddr, p->dst, al))
		return NULL;
	*ino = si.ino;
	int none;
	char *pushed = push_take(e, si.ino, &none);
	if (pushed) {
		atomic_fetch_add(&e->n_push_hit, 1);
		return pushed;
	}
	/* ask, and take the push if it comes first; one worker at a time waits
	 * awake (more would starve the collector of the CPU it needs) */
	struct push_wait pw = {e, pfd, si.ino, NULL};
	int spin = !none && atomic_exchange(&e->spinning, 1) == 0;
	*asked = 1;
	*alen = collq_who_or(&w->cq, local, remote, e->conf.collector_timeout_ms, err, errlen,
			     none ? -1 : pfd, push_arrived, &pw, spin ? PUSH_SPIN_US : 0);
	if (spin)
		atomic_store(&e->spinning, 0);
	pushed = pw.json;
	if (!pushed && *alen > 0 && memmem(w->cq.buf, (size_t)*alen, "\"error\":\"pushed\"", 16)) {
		/* the collector sent it before this answer */
		pushed = push_take(e, si.ino, &none);
		if (!pushed) /* not usable here after all: ask again */
			*asked = 0;
	}
	atomic_fetch_add(pushed ? &e->n_push_race : &e->n_push_miss, 1);
	if (!pushed)
		push_forget(e, si.ino);
	return pushed;
}

static void ep_of(const struct ht_pkt *p, int dst, char *out, size_t n)
{
	struct ht_endpoint ep = {.family = p->family, .port = dst ? p->dport : p->sport};
	memcpy(ep.addr, dst ? p->dst : p->src, p->family == AF_INET ? 4 : 16);
	ht_endpoint_format(&ep, out, n);
}

static int is_loopback(const struct ht_pkt *p)
{
	static const uint8_t v6lo[16] = {[15] = 1};
	if (p->family == AF_INET)
		return p->dst[0] == 127;
	return !memcmp(p->dst, v6lo, 16);
}

/* The error text of an {"ok":false,"error":"..."} answer. */
static void answer_error(const char *ans, long len, char *out, size_t n)
{
	cJSON *r = cJSON_ParseWithLength(ans, (size_t)len);
	const cJSON *er = r ? cJSON_GetObjectItemCaseSensitive(r, "error") : NULL;
	snprintf(out, n, "%s", cJSON_IsString(er) ? er->valuestring : "malformed answer");
	cJSON_Delete(r);
}

static void answer_host(const char *ans, long len, char *out, size_t n)
{
	/* cheap scan for "host":"..." at top level: the first occurrence is it */
	out[0] = 0;
	const char *h = memmem(ans, (size_t)len, "\"host\":\"", 8);
	if (!h)
		return;
	h += 8;
	size_t i = 0;
	while (h < ans + len && *h != '"' && *h != '\\' && i + 1 < n)
		out[i++] = *h++;
	out[i] = 0;
}

static void addr_str(int family, const uint8_t *a, char *out, size_t n)
{
	if (!inet_ntop(family, a, out, (socklen_t)n))
		snprintf(out, n, "?");
}

/* Are all the addresses a source-routed SYN visits this host's? */
static int route_local(const struct ht_pkt *p, const uint8_t *pkt)
{
	size_t al = p->family == AF_INET ? 4 : 16;
	if (sd_is_local_addr(p->family, p->hop) != 1)
		return 0;
	for (size_t i = 0; i < p->route_n; i++)
		if (sd_is_local_addr(p->family, pkt + p->route_off + i * al) != 1)
			return 0;
	return 1;
}

/* A source-routed SYN the access list accepts for the socket's destination
 * reaches every address on its route too (with a segment routing header's
 * segments_left 0 it never reaches the socket's at all): each must be
 * accepted as well, by the same chain. The first that is not decides. This
 * host's own addresses are not judged (as judge_local = no would). */
static int judge_route(const struct acl *acl, struct ht_chainset *cs, const struct ht_pkt *p,
		       const uint8_t *pkt, char *why, size_t n)
{
	size_t al = p->family == AF_INET ? 4 : 16;
	for (size_t k = 0; k <= p->route_n; k++) {
		const uint8_t *a = k == 0 ? p->hop : pkt + p->route_off + (k - 1) * al;
		if (!memcmp(a, p->dst, al) || sd_is_local_addr(p->family, a) == 1)
			continue;
		uint8_t saved[64][16];
		size_t m = cs->n;
		if (m > 64) {
			snprintf(why, n, "source route: too many chains to judge its hops");
			return ACL_REJECT;
		}
		for (size_t i = 0; i < m; i++) {
			memcpy(saved[i], cs->v[i].dst.addr, 16);
			memset(cs->v[i].dst.addr, 0, 16);
			memcpy(cs->v[i].dst.addr, a, al);
		}
		struct acl_result w2;
		int v = acl_decide(acl, cs, &w2);
		for (size_t i = 0; i < m; i++)
			memcpy(cs->v[i].dst.addr, saved[i], 16);
		if (v != ACL_ACCEPT) {
			char as[INET6_ADDRSTRLEN];
			addr_str(p->family, a, as, sizeof(as));
			say(why, n, "source route via %s: %s", as, w2.text);
			return v;
		}
	}
	return ACL_ACCEPT;
}

/* Each decision also to syslog (audit_syslog): never blocks a worker; an
 * absent or restarted syslog is reconnected at most once a second, a lost
 * message is counted (the audit file has it). */
static void syslog_emit(struct engine *e, const struct abuf *line, int refusal)
{
	pthread_mutex_lock(&e->audit_lock);
	if (e->syslog_fd < 0 && mono_ms() >= atomic_load(&e->syslog_retry_ms)) {
		e->syslog_fd = audit_syslog_open(e->conf.audit_syslog);
		if (e->syslog_fd < 0)
			atomic_store(&e->syslog_retry_ms, mono_ms() + 1000);
	}
	int fd = e->syslog_fd;
	if (audit_syslog_send(fd, line, refusal)) {
		atomic_fetch_add(&e->n_syslog_lost, 1);
		if (fd >= 0 && errno != EAGAIN) { /* the peer went away: reconnect later */
			close(fd);
			e->syslog_fd = -1;
		}
	}
	pthread_mutex_unlock(&e->audit_lock);
}

static void audit_emit(struct worker *w, const struct audit_rec *r)
{
	struct engine *e = w->e;
	if (audit_format(&w->line, r) == 0) {
		pthread_mutex_lock(&e->audit_lock); /* cheap; only guards reopen */
		int fd = e->audit_fd;
		if (audit_write(fd, &w->line))
			log_warn("audit log write");
		pthread_mutex_unlock(&e->audit_lock);
		if (e->conf.audit_syslog[0])
			syslog_emit(e, &w->line, r->verdict && strcmp(r->verdict, "accept"));
	}
}

/* The socket that sent this SYN, found by its own 4-tuple (the final
 * destination, as the kernel knows the socket): 0 and *si, or -1. */
static int syn_socket(struct worker *w, const struct ht_pkt *p, struct sd_inet *si)
{
	size_t al = p->family == AF_INET ? 4 : 16;
	if (w->nl < 0)
		w->nl = sd_open();
	if (w->nl < 0 ||
	    sd_inet_lookup(w->nl, p->family, p->src, p->sport, p->dst, p->dport, si) != 0 ||
	    !si->ino || si->state == TCP_LISTEN || si->rport != p->dport || memcmp(si->raddr, p->dst, al))
		return -1;
	return 0;
}

/* A SYN the guard cannot judge: on_unparsable decides, and it is audited
 * (with what could be read) and counted. Never cached: it is judged (and
 * logged) again when it comes again. */
static void unparsable(struct worker *w, uint16_t queue, uint32_t id, uint32_t mark,
		       const struct ht_pkt *p, const char *what, long t0, struct audit_rec *r)
{
	struct engine *e = w->e;
	const struct guard_conf *c = &e->conf;
	char local[HT_ENDPOINT_STRLEN], remote[HT_ENDPOINT_STRLEN], why[256];
	int verdict = c->on_unparsable, action = c->monitor ? ACL_ACCEPT : verdict;
	atomic_fetch_add(&e->n_parse_err, 1);
	send_verdict(e, queue, id, action, mark);
	if (p->have) {
		ep_of(p, 0, local, sizeof(local));
		ep_of(p, 1, remote, sizeof(remote));
		r->local = local;
		r->remote = remote;
	}
	snprintf(why, sizeof(why), "unparsable: %s; on_unparsable = %s", what,
		 acl_verdict_str((enum acl_verdict)verdict));
	r->reason = why;
	r->monitor = c->monitor;
	r->verdict = acl_verdict_str((enum acl_verdict)verdict);
	r->action = acl_verdict_str((enum acl_verdict)action);
	r->latency_us = mono_us() - t0;
	audit_emit(w, r);
	/* one warning a second at most: a flood of them must not flood the log */
	long now = mono_ms(), last = atomic_load(&e->unparsable_log_ms);
	if (now - last >= 1000 && atomic_compare_exchange_strong(&e->unparsable_log_ms, &last, now)) {
		unsigned long more = atomic_exchange(&e->unparsable_unlogged, 0);
		log_warnx("packet %u %s -> %s: %s%s", id, p->have ? local : "?", p->have ? remote : "?",
			  why, more ? " (and more since the last warning)" : "");
	} else {
		atomic_fetch_add(&e->unparsable_unlogged, 1);
	}
}

static void decide(struct worker *w, uint16_t queue, uint32_t id, uint32_t mark, int outdev,
		   const uint8_t *pkt, size_t plen, size_t pktlen)
{
	struct engine *e = w->e;
	const struct guard_conf *c = &e->conf;
	long t0 = mono_us();
	struct ht_pkt p;
	struct audit_rec r = {0};
	r.collector_us = -1;
	struct ht_chainset cs = {0};
	char local[HT_ENDPOINT_STRLEN], remote[HT_ENDPOINT_STRLEN], why[512] = "", err[256],
		host[HT_HOST_MAX];
	uint8_t key[KEY_LEN];
	int verdict, have_chains = 0;
	char hop[INET6_ADDRSTRLEN];
	uint64_t ino = 0;
	struct sd_inet si;

	atomic_fetch_add(&e->n_pkts, 1);
	clock_gettime(CLOCK_REALTIME, &r.time);
	int pr = ht_pkt_parse(pkt, plen, pktlen, &p);
	if (e->bare) {
		send_verdict(e, queue, id, ACL_ACCEPT, mark);
		return;
	}
	if (pr != HT_PKT_OK) {
		/* not a SYN we can name: never let it through unjudged */
		unparsable(w, queue, id, mark, &p, ht_pkt_strerror(pr), t0, &r);
		return;
	}
	int detour = ht_pkt_detour(&p, pkt);
	if (detour) {
		/* source-routed: judged on the socket's destination (p.dst), which
		 * the kernel must confirm, and on every address it visits */
		atomic_fetch_add(&e->n_srcroute, 1);
		addr_str(p.family, p.hop, hop, sizeof(hop));
		r.first_hop = hop;
		if (syn_socket(w, &p, &si) != 0) {
			unparsable(w, queue, id, mark, &p,
				   "source route to a destination no socket here connects to", t0, &r);
			return;
		}
		ino = si.ino;
	}
	make_key(&p, pkt, key);
	uint64_t cino = 0;
	int cached = cache_get(e, key, &cino);
	if (cached >= 0 && cino) {
		/* a retransmit of the SYN decided on is from that same socket */
		if (!ino)
			ino = syn_socket(w, &p, &si) == 0 ? si.ino : 0;
		if (ino != cino)
			cached = -1;
	}
	if (cached >= 0) {
		atomic_fetch_add(&e->n_cached, 1);
		send_verdict(e, queue, id, cached, mark);
		return;
	}
	ep_of(&p, 0, local, sizeof(local));
	ep_of(&p, 1, remote, sizeof(remote));
	r.local = local;
	r.remote = remote;
	/* a source route's first hop may be this host (outdev lo): local is
	 * where it finally goes */
	r.local_dst = detour ? (is_loopback(&p) || sd_is_local_addr(p.family, p.dst) == 1) &&
				       route_local(&p, pkt)
			     : (outdev > 0 && outdev == e->lo_ifindex) || is_loopback(&p);
	r.monitor = c->monitor;

	long tq = mono_us();
	long alen = -1;
	const char *ans = w->cq.buf;
	int asked = 0;
	char *pushed = r.local_dst ? NULL
				   : prejudged(w, &p, local, remote, &ino, &alen, &asked, err, sizeof(err));
	if (pushed) {
		ans = pushed;
		alen = (long)strlen(pushed);
		r.prejudged = 1;
	}
again:
	if (!pushed && !asked) {
		/* within the one deadline, also when a push was dropped (below);
		 * always the full answer here, never "pushed" */
		long left = (long)c->collector_timeout_ms - (mono_us() - tq) / 1000;
		w->cq.force = 1;
		alen = collq_who(&w->cq, local, remote, left > 0 ? (unsigned long)left : 1, err,
				 sizeof(err));
	}
	r.collector_us = mono_us() - tq;
	if (alen >= 0) {
		const char *jerr = NULL;
		answer_host(ans, alen, host, sizeof(host));
		if (host[0])
			r.host = host;
		int parsed = ht_chains_from_json(ans, (size_t)alen, &cs, &jerr) == 0;
		if (pushed && (!parsed || !push_for(&cs, &p))) {
			/* unreadable, or computed for another connect() of this
			 * socket: ask */
			if (parsed)
				ht_chainset_free(&cs);
			free(pushed);
			pushed = NULL;
			push_forget(e, ino);
			r.prejudged = 0;
			ans = w->cq.buf;
			asked = 0;
			atomic_fetch_add(&e->n_push_miss, 1);
			goto again;
		}
		if (parsed) {
			if (pushed)
				push_fill_src(&cs, &p);
			have_chains = 1;
			r.chains = &cs;
			r.complete = cs.n > 0;
			for (size_t i = 0; i < cs.n; i++) {
				if (!cs.v[i].complete)
					r.complete = 0;
				if (cs.v[i].fallback)
					r.fallback = 1;
			}
		} else {
			char aerr[200];
			if (jerr && !strcmp(jerr, "answer is not ok"))
				answer_error(ans, alen, aerr, sizeof(aerr));
			else
				snprintf(aerr, sizeof(aerr), "%s", jerr ? jerr : "bad answer");
			snprintf(err, sizeof(err), "collector: %s", aerr);
		}
	} else if (!strcmp(err, "answer too large")) {
		snprintf(err, sizeof(err), "collector: answer too large");
	}

	if (r.local_dst && !c->judge_local) {
		verdict = ACL_ACCEPT;
		snprintf(why, sizeof(why), "local destination, not judged%s%s",
			 have_chains ? "" : "; ", have_chains ? "" : err);
		r.reason = why;
	} else if (!have_chains && (strstr(err, "too large") || strstr(err, "too many chains"))) {
		/* the collector found a chain but cannot send it: incomplete */
		verdict = c->on_incomplete >= 0 ? c->on_incomplete : (int)c->on_collector_error;
		snprintf(why, sizeof(why), "chain incomplete (%s)", err);
		r.reason = why;
	} else if (!have_chains) {
		verdict = c->on_collector_error;
		atomic_fetch_add(&e->n_coll_err, 1);
		snprintf(why, sizeof(why), "%s%s; on_collector_error = %s",
			 strncmp(err, "collector", 9) ? "collector: " : "", err,
			 acl_verdict_str((enum acl_verdict)verdict));
		r.reason = why;
		log_warnx("%s -> %s: %s", local, remote, why);
	} else if (!r.complete && c->on_incomplete >= 0) {
		verdict = c->on_incomplete;
		snprintf(why, sizeof(why), "chain incomplete; on_incomplete = %s",
			 acl_verdict_str((enum acl_verdict)verdict));
		r.reason = why;
	} else if (c->policy_url[0] && detour) {
		/* the policy server is sent the collector's answer, for the
		 * socket's destination only: the detour's hops cannot be judged */
		verdict = c->on_unparsable;
		snprintf(why, sizeof(why),
			 "unparsable: source route, its hops not judged by a policy server; "
			 "on_unparsable = %s", acl_verdict_str((enum acl_verdict)verdict));
		r.reason = why;
	} else if (c->policy_url[0]) {
		struct acl_result ps;
		if (policy_remote_ask(c->policy_url, c->policy_secret, (long)c->policy_timeout_ms,
				      w->cq.buf, (size_t)alen, &ps) == 0) {
			verdict = ps.verdict;
			snprintf(why, sizeof(why), "%s", ps.why == ACL_WHY_RULE ? ps.rule : ps.text);
			if (ps.why == ACL_WHY_RULE)
				r.rule = why;
			else
				r.reason = why;
		} else {
			verdict = c->on_policy_error;
			/* ps.text names the server already ("policy server URL: ...") */
			say(why, sizeof(why), "%s; on_policy_error = %s", ps.text,
				 acl_verdict_str((enum acl_verdict)verdict));
			log_warnx("%s -> %s: %s", local, remote, why);
			r.reason = why;
		}
	} else {
		int is_rule = 0;
		pthread_rwlock_rdlock(&e->acl_lock);
		if (e->acl) {
			struct acl_result ar;
			verdict = acl_decide(e->acl, &cs, &ar);
			snprintf(why, sizeof(why), "%s", ar.text);
			is_rule = ar.why == ACL_WHY_RULE;
			if (detour && verdict == ACL_ACCEPT) {
				verdict = judge_route(e->acl, &cs, &p, pkt, why, sizeof(why));
				is_rule = is_rule && verdict == ACL_ACCEPT;
			}
		} else {
			verdict = c->on_policy_error;
			snprintf(why, sizeof(why), "no policy loaded; on_policy_error = %s",
				 acl_verdict_str((enum acl_verdict)verdict));
		}
		pthread_rwlock_unlock(&e->acl_lock);
		if (is_rule)
			r.rule = why;
		else
			r.reason = why;
	}

	int action = c->monitor ? ACL_ACCEPT : verdict;
	r.latency_us = mono_us() - t0;
	send_verdict(e, queue, id, action, mark);
	if (pushed)
		push_bound(e, ino, local, remote);
	cache_put(e, key, action, ino);
	atomic_fetch_add(&e->n_decided, 1);

	r.verdict = acl_verdict_str((enum acl_verdict)verdict);
	r.action = acl_verdict_str((enum acl_verdict)action);
	audit_emit(w, &r);
	if (have_chains)
		ht_chainset_free(&cs);
	free(pushed);
}

static int on_msg(const struct nlmsghdr *nlh, void *data)
{
	struct worker *w = data;
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	if (nfq_nlmsg_parse(nlh, attr) < 0)
		return MNL_CB_OK;
	struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	if (!attr[NFQA_PACKET_HDR])
		return MNL_CB_OK;
	struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	uint32_t id = ntohl(ph->packet_id);
	uint32_t mark = attr[NFQA_MARK] ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;
	int outdev = attr[NFQA_IFINDEX_OUTDEV] ? (int)ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV])) : 0;
	const uint8_t *pl = attr[NFQA_PAYLOAD] ? mnl_attr_get_payload(attr[NFQA_PAYLOAD]) : NULL;
	size_t plen = attr[NFQA_PAYLOAD] ? mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]) : 0;
	/* the packet's real length when the copy is shorter (COPY_RANGE) */
	size_t pktlen = plen;
	if (attr[NFQA_CAP_LEN] && mnl_attr_get_payload_len(attr[NFQA_CAP_LEN]) == 4)
		pktlen = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	decide(w, ntohs(nfg->res_id), id, mark, outdev, pl, plen, pktlen);
	return MNL_CB_OK;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	int fd = mnl_socket_get_fd(e->nl);
	while (!atomic_load(&e->stop)) {
		/* SO_RCVTIMEO (200 ms) brings every idle worker here */
		atomic_store(&e->beats[w->idx], mono_ms());
		ssize_t n = recv(fd, w->rbuf, w->rbuflen, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* the receive buffer overran: the kernel dropped
				 * SYNs (counted as queue_user_dropped; the watch
				 * thread logs and audits it) */
				atomic_fetch_add(&e->n_enobufs, 1);
				continue;
			}
			log_warn("netlink recv");
			usleep(100000);
			continue;
		}
		mnl_cb_run(w->rbuf, (size_t)n, 0, e->portid, on_msg, w);
	}
	if (e->conf.policy_url[0])
		policy_remote_thread_cleanup();
	collq_close(&w->cq);
	if (w->nl >= 0)
		close(w->nl);
	abuf_free(&w->line);
	free(w->rbuf);
	free(w);
	return NULL;
}

/* ---- overflows ------------------------------------------------------------ */

/* Our queue's queue_dropped and queue_user_dropped in
 * /proc/net/netfilter/nfnetlink_queue (this thread's network namespace).
 * Returns 0, or -1 when the queue is not listed. */
static int queue_counters(struct engine *e, unsigned long *dropped, unsigned long *user_dropped,
			  unsigned long *total)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	if (!f)
		return -1;
	char line[256];
	int rc = -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned qn, portid, tot, mode, range;
		unsigned long d, u;
		if (sscanf(line, "%u %u %u %u %u %lu %lu", &qn, &portid, &tot, &mode, &range, &d, &u) == 7 &&
		    qn == e->conf.queue_num && portid == e->portid) {
			*dropped = d, *user_dropped = u, *total = tot;
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Every second: SYNs the kernel dropped for us since the last look (queue
 * full, receive buffer full, ENOBUFS) are counted, logged and audited. A
 * dropped SYN is not lost: TCP sends it again, and it is judged then. */
static void *watch_main(void *arg)
{
	struct engine *e = arg;
	unsigned long d0 = 0, u0 = 0, t, eno0 = 0;
	long last = mono_ms();
	queue_counters(e, &d0, &u0, &t);
	struct worker w = {.e = e, .nl = -1};
	while (!atomic_load(&e->stop)) {
		usleep(100000);
		long now = mono_ms();
		if (now - last < 1000)
			continue;
		unsigned long d = d0, u = u0, eno = atomic_load(&e->n_enobufs);
		queue_counters(e, &d, &u, &t);
		unsigned long dd = d - d0, du = u - u0, de = eno - eno0;
		d0 = d, u0 = u, eno0 = eno;
		double secs = (double)(now - last) / 1000.0;
		last = now;
		if (!dd && !du && !de)
			continue;
		atomic_fetch_add(&e->n_ovf_queue, dd);
		atomic_fetch_add(&e->n_ovf_user, du);
		char why[300];
		snprintf(why, sizeof(why),
			 "overflow: %lu SYNs dropped by the kernel in %.1f s (queue full: %lu, receive "
			 "buffer full: %lu; ENOBUFS seen %lu times); sent again by TCP, judged then",
			 dd + du, secs, dd, du, de);
		log_warnx("NFQUEUE %u %s", e->conf.queue_num, why);
		if (e->bare)
			continue;
		struct audit_rec r = {0};
		clock_gettime(CLOCK_REALTIME, &r.time);
		r.verdict = r.action = "drop";
		r.monitor = e->conf.monitor;
		r.reason = why;
		r.collector_us = -1;
		r.overflow = (long)(dd + du) > 0 ? (long)(dd + du) : 1;
		audit_emit(&w, &r);
	}
	abuf_free(&w.line);
	return NULL;
}

/* ---- life ----------------------------------------------------------------- */

struct engine *engine_new(const struct guard_conf *conf, struct acl *acl, int bare)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->conf = *conf;
	e->bare = bare;
	e->acl = acl;
	e->audit_fd = -1;
	e->syslog_fd = -1;
	pthread_rwlock_init(&e->acl_lock, NULL);
	pthread_mutex_init(&e->cache_lock, NULL);
	pthread_mutex_init(&e->audit_lock, NULL);
	pthread_mutex_init(&e->push_lock, NULL);
	e->push_fd = -1;
	if (!bare && conf->prejudge && !conf->policy_url[0]) {
		e->push = calloc(PUSH_SLOTS, sizeof(*e->push));
		e->pbuf = malloc(PUSH_MAX + 1);
		if (!e->push || !e->pbuf) {
			free(e->push);
			free(e->pbuf);
			free(e);
			return NULL;
		}
	}
	e->cache = calloc(CACHE_SLOTS, sizeof(*e->cache));
	if (!e->cache) {
		push_free(e);
		free(e);
		return NULL;
	}
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		e->cache[i].action = -1;
	e->lo_ifindex = (int)if_nametoindex("lo");
	if (!bare && conf->audit_log[0]) {
		e->audit_fd = audit_open(conf->audit_log);
		if (e->audit_fd < 0) {
			log_warn("cannot open audit log %s", conf->audit_log);
			free(e->cache);
			push_free(e);
			free(e);
			return NULL;
		}
	}
	if (conf->policy_url[0])
		policy_remote_set_mark(conf->exempt_mark);
	if (nfq_setup(e)) {
		if (e->nl)
			mnl_socket_close(e->nl);
		if (e->audit_fd >= 0)
			close(e->audit_fd);
		free(e->cache);
		push_free(e);
		free(e);
		return NULL;
	}
	return e;
}

int engine_start(struct engine *e)
{
	e->nthreads = e->conf.workers;
	e->threads = calloc(e->nthreads, sizeof(pthread_t));
	e->beats = calloc(e->nthreads, sizeof(*e->beats));
	if (!e->threads || !e->beats)
		return -1;
	for (unsigned i = 0; i < e->nthreads; i++)
		atomic_store(&e->beats[i], mono_ms());
	if (pthread_create(&e->watch, NULL, watch_main, e)) {
		log_warn("cannot start the queue watch");
		return -1;
	}
	e->watch_started = 1;
	if (e->push) {
		pthread_mutex_lock(&e->push_lock);
		push_subscribe(e);
		pthread_mutex_unlock(&e->push_lock);
	}
	for (unsigned i = 0; i < e->nthreads; i++) {
		struct worker *w = calloc(1, sizeof(*w));
		if (!w || collq_init(&w->cq, getenv("HOPTRACE_QUERY_NAME")))
			return -1;
		w->e = e;
		w->idx = i;
		w->nl = -1;
		w->rbuflen = COPY_RANGE + 4096;
		w->rbuf = malloc(w->rbuflen);
		if (!w->rbuf || pthread_create(&e->threads[i], NULL, worker_main, w)) {
			log_warn("cannot start worker %u", i);
			return -1;
		}
	}
	return 0;
}

void engine_set_acl(struct engine *e, struct acl *acl)
{
	pthread_rwlock_wrlock(&e->acl_lock);
	struct acl *old = e->acl;
	e->acl = acl;
	pthread_rwlock_unlock(&e->acl_lock);
	if (old)
		acl_free(old);
}

void engine_reopen_log(struct engine *e)
{
	if (e->bare || !e->conf.audit_log[0])
		return;
	int fd = audit_open(e->conf.audit_log);
	if (fd < 0) {
		log_warn("cannot reopen audit log %s", e->conf.audit_log);
		return;
	}
	pthread_mutex_lock(&e->audit_lock);
	int old = e->audit_fd;
	e->audit_fd = fd;
	pthread_mutex_unlock(&e->audit_lock);
	if (old >= 0)
		close(old);
}

int engine_alive(struct engine *e, long max_ms)
{
	long now = mono_ms();
	for (unsigned i = 0; e->beats && i < e->nthreads; i++)
		if (now - atomic_load(&e->beats[i]) > max_ms)
			return 0;
	return e->beats != NULL;
}

void engine_stats(struct engine *e, char *buf, size_t n)
{
	snprintf(buf, n,
		 "packets %lu decided %lu cached %lu accept %lu reject %lu drop %lu "
		 "collector_errors %lu verdict_errors %lu unparsable %lu source_routed %lu "
		 "overflow_dropped %lu (queue_full %lu rcvbuf_full %lu) enobufs %lu "
		 "prejudged %lu prejudged_late %lu asked %lu syslog_lost %lu",
		 atomic_load(&e->n_pkts), atomic_load(&e->n_decided), atomic_load(&e->n_cached),
		 atomic_load(&e->n_accept), atomic_load(&e->n_reject), atomic_load(&e->n_drop),
		 atomic_load(&e->n_coll_err), atomic_load(&e->n_verdict_err),
		 atomic_load(&e->n_parse_err), atomic_load(&e->n_srcroute),
		 atomic_load(&e->n_ovf_queue) + atomic_load(&e->n_ovf_user),
		 atomic_load(&e->n_ovf_queue), atomic_load(&e->n_ovf_user), atomic_load(&e->n_enobufs),
		 atomic_load(&e->n_push_hit), atomic_load(&e->n_push_race), atomic_load(&e->n_push_miss),
		 atomic_load(&e->n_syslog_lost));
}

void engine_stop(struct engine *e)
{
	atomic_store(&e->stop, 1);
	for (unsigned i = 0; e->threads && i < e->nthreads; i++)
		if (e->threads[i])
			pthread_join(e->threads[i], NULL);
	if (e->watch_started)
		pthread_join(e->watch, NULL);
	nfq_unbind(e);
	mnl_socket_close(e->nl);
	if (e->audit_fd >= 0)
		close(e->audit_fd);
	if (e->syslog_fd >= 0)
		close(e->syslog_fd);
	if (e->acl)
		acl_free(e->acl);
	free(e->threads);
	free(e->beats);
	free(e->cache);
	push_free(e);
	free(e);
}
