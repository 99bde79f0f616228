/*
 * inquiry_svc.c — the trace inquiry service's monitor side (docs/inquiry.md,
 * privsep.h). hoptraced (root, the graph) never parses what the network
 * sends: an unprivileged child does (privsep_child.c). This file
 *   - starts the child (hoptraced re-executed with -X: a fresh image holding
 *     only 0-2, its end of a SEQPACKET socketpair at 3 and the listening
 *     socket at 4), restarts it when it dies or is killed (at most
 *     max_restarts a minute, each logged);
 *   - binds [inquiry] listen once, before any child, and keeps it: the port is
 *     never free between two children (review finding 2); SIGHUP rebinds it
 *     when the address changed;
 *   - reads the child's messages on the loop's thread (inquiry_main), checks
 *     every length, range and NUL and kills the child on any violation;
 *   - WHO_REQ: checks that the asker is the far end of the connection it asks
 *     about (its TCP address is the request's remote, and its certificate
 *     names it), computes the local "who" answer, signs this host's part
 *     (part_make_answer, the part-signing key stays here) and answers;
 *   - FOLLOW_REQ: hands a guard/CLI answer with unfollowed leaves to the child
 *     with a nonce made here; the child's FOLLOW_DONE (the far hosts' answers as
 *     fetched) is never believed: it goes to the judge (judge.h, `hoptraced -J`)
 *     with the monitor's own answer and nonce, and the judge's verdict is what
 *     done() gets;
 *   - liveness (review finding 3): every send to the child or the judge is
 *     non-blocking through a bounded queue (full = stuck); a follow past its
 *     deadline pings its process, and one past deadline + 1 s whose process said
 *     nothing since the ping ends "no answer: inquiry child stuck" (the child is
 *     killed and restarted) or "not judged" (the judge is);
 *   - SOCK_REQ: makes the outgoing inquiry sockets (SO_MARK, which the child
 *     cannot set) — only to the inquiry port of a far end that appeared in a
 *     leaf handed out here — and passes them by SCM_RIGHTS.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "hoptrace/chain.h"
#include "hoptrace/fleetconf.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/query.h"
#include "hoptrace/sockdiag.h"
#include "chain.h"
#include "inquiry.h"
#include "judge.h"
#include "parts.h"
#include "privsep.h"
#include "hoptrace/tlsfront.h" /* tlsfront_listen_socket: the monitor binds the inquiry port */

/* collector/parts.c (wt-parts, session 7): part_make over a whole "who" answer */
cJSON *part_make_answer(struct pki_signer *s, const char *nonce, const char *asked_local,
			const char *asked_remote, const cJSON *answer, char *err, size_t n);

#define ALLOW_MAX 256
#define RESTART_WINDOW_NS (60ULL * 1000000000ULL)

struct pfollow {
	struct pfollow *next;
	uint64_t id;
	inq_done_fn done;
	void *arg;
	char *own; /* the monitor's own answer: what is sent if the child fails */
	uint64_t expire_ns;   /* deadline + FOLLOW_GRACE_NS */
	uint64_t deadline_ns;
	uint64_t start_ns;
	uint64_t ping_ns;     /* its process pinged (past the deadline); 0 not yet */
	int at_judge;         /* 0: waiting on the child, 1: on the judge */
	int retried;          /* followed again without "have" (the judge lacked certificates) */
	int depth;
	char subject[PS_CANON_MAX];
	char nonce[PS_NONCE_MAX];
};

#define FOLLOW_GRACE_NS 1000000000ULL /* past deadline + this, silent since the ping: stuck */
#define PING_WAIT_NS 500000000ULL
#define CHILD_QUEUE_MAX (8u << 20)   /* bytes waiting for the child: more = stuck */
#define TAG_JUDGE 2u                  /* epoll data of the judge's socket (the child's: 0) */
#define REASON_STUCK "no answer: inquiry child stuck"
#define REASON_NOT_JUDGED "not judged"

/* a message waiting for the child's socket */
struct omsg {
	struct omsg *next;
	int fd; /* passed with it, or -1 */
	size_t len;
	unsigned char b[];
};

struct allow {
	struct ps_addr ip;
	uint64_t until;
};

struct inquiry {
	struct inq_conf c;
	char host[64];
	inq_who_fn who;
	void *who_arg;
	char conffile[256];
	int fg, verbose;
	int epfd;  /* the loop polls this one; the child's socket inside */
	int ps;    /* -1: no child */
	int ls;    /* the listening socket every child serves on (PS_LISTEN_FD there); -1: none */
	char ls_url[256]; /* what ls is bound to */
	int ls_failed;    /* [inquiry] listen could not be bound: retried every tick */
	pid_t pid;
	struct ps_text t;
	struct pfollow *pf;
	uint64_t next_id;
	struct allow allow[ALLOW_MAX];
	uint64_t spawned[16]; /* the last spawns' times, a ring */
	unsigned nspawn;
	int tls;
	int off; /* no [fleet] identity: no child */
	int front_names_peer; /* the child's front reports the peer certificate's addresses */
	struct pki_signer *signer;
	uint64_t violations, restarts, sock_refused;
	/* the judge, liveness, the child's send queue (judge.h; review findings 1, 3) */
	struct judge_svc *judge;
	uint64_t child_heard_ns, child_ping_ns, judge_ping_ns;
	struct omsg *oq, **oq_tail;
	size_t oq_bytes;
	int oq_out;
	const char *gone_reason; /* what the follows waiting on a killed child are told */
	pid_t zombies[8];
	/* who asks (review finding 4a): the inquiry connections are looked up here */
	int nl;
	unsigned listen_port;
	uid_t child_uid;
	uint64_t who_unknown_peer;
	uint64_t follow_retries; /* follows asked again for certificates the judge lacked */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- far ends the child may connect to ------------------------------------------ */

static void allow_add(struct inquiry *q, const struct ps_addr *ip, uint64_t until)
{
	struct allow *best = &q->allow[0];
	uint64_t now = mono_ns();
	for (int i = 0; i < ALLOW_MAX; i++) {
		struct allow *a = &q->allow[i];
		if (a->until > now && ps_addr_same_ip(&a->ip, ip)) {
			if (a->until < until)
				a->until = until;
			return;
		}
		if (a->until < best->until)
			best = a;
	}
	best->ip = *ip;
	best->ip.port = 0;
	best->until = until;
}

static int allowed(struct inquiry *q, const struct ps_addr *ip)
{
	uint64_t now = mono_ns();
	for (int i = 0; i < ALLOW_MAX; i++)
		if (q->allow[i].until > now && ps_addr_same_ip(&q->allow[i].ip, ip))
			return 1;
	return 0;
}

/* the far ends of an answer's unfollowed leaves (the monitor's own answer) */
static void allow_leaves(struct inquiry *q, cJSON *a, long deadline_ms)
{
	cJSON *lv[INQ_LEAVES_MAX];
	size_t n = inq_leaves(a, lv, INQ_LEAVES_MAX);
	if (deadline_ms <= 0)
		deadline_ms = q->c.timeout_ms;
	uint64_t until = mono_ns() + (uint64_t)(deadline_ms + 1000) * 1000000ULL;
	for (size_t i = 0; i < n; i++) {
		struct ps_addr far;
		if (ps_addr_from_text(cJSON_GetStringValue(cJSON_GetObjectItem(lv[i], "remote")), &far) == 0)
			allow_add(q, &far, until);
	}
}

/* ---- the child ----------------------------------------------------------------- */

/* the monitor's own answer, its unfollowed leaves `reason` */
static void fail_follow_why(struct pfollow *p, const char *reason)
{
	cJSON *a = cJSON_Parse(p->own);
	char *text = NULL;
	if (a) {
		cJSON *lv[INQ_LEAVES_MAX];
		size_t n = inq_leaves(a, lv, INQ_LEAVES_MAX);
		for (size_t i = 0; i < n; i++)
			inq_fill(lv[i], NULL, 0, reason);
		chain_reflatten(a);
		text = cJSON_PrintUnformatted(a);
		cJSON_Delete(a);
	}
	p->done(p->arg, text ? text : p->own);
	free(text);
	free(p->own);
	free(p);
}

static void fail_follow(struct pfollow *p)
{
	fail_follow_why(p, "no answer");
}

/* every follow waiting on the child (at_judge 0) or on the judge (1) ends with reason */
static void fail_waiting(struct inquiry *q, int at_judge, const char *reason)
{
	struct pfollow **pp = &q->pf, *p;
	while ((p = *pp)) {
		if (p->at_judge == at_judge) {
			*pp = p->next;
			fail_follow_why(p, reason);
		} else {
			pp = &p->next;
		}
	}
}

static void oq_clear(struct inquiry *q)
{
	while (q->oq) {
		struct omsg *m = q->oq;
		q->oq = m->next;
		if (m->fd >= 0)
			close(m->fd);
		free(m);
	}
	q->oq_tail = &q->oq;
	q->oq_bytes = 0;
	q->oq_out = 0;
}

/* a child that does not go at once after SIGKILL (stopped, in the kernel) is reaped
 * from the tick: the loop never waits for it */
static void reap_later(struct inquiry *q, pid_t pid)
{
	for (int i = 0; i < 8; i++)
		if (q->zombies[i] <= 0) {
			q->zombies[i] = pid;
			return;
		}
}

static void reap_zombies(struct inquiry *q)
{
	for (int i = 0; i < 8; i++) {
		int st;
		if (q->zombies[i] > 0 && waitpid(q->zombies[i], &st, WNOHANG) != 0)
			q->zombies[i] = 0;
	}
}

/* Waits (at most ms) for a killed child to be gone, so that what it held — its copy of
 * the listening socket — is closed; 0 once reaped. */
static int wait_gone(struct inquiry *q, pid_t pid, int ms)
{
	for (int i = 0; i <= ms / 5; i++) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid || (w < 0 && errno == ECHILD)) {
			for (int k = 0; k < 8; k++)
				if (q->zombies[k] == pid)
					q->zombies[k] = 0;
			return 0;
		}
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void child_gone(struct inquiry *q, const char *why)
{
	if (q->ps < 0)
		return;
	if (why)
		kill(q->pid, SIGKILL);
	epoll_ctl(q->epfd, EPOLL_CTL_DEL, q->ps, NULL);
	close(q->ps);
	q->ps = -1;
	oq_clear(q);
	int st = 0;
	pid_t w;
	while ((w = waitpid(q->pid, &st, WNOHANG)) < 0 && errno == EINTR)
		;
	if (why)
		log_warnx("inquiry: child %d killed: %s", (int)q->pid, why);
	else if (w == q->pid && WIFSIGNALED(st))
		log_warnx("inquiry: child %d died of signal %d", (int)q->pid, WTERMSIG(st));
	else if (w == q->pid)
		log_warnx("inquiry: child %d exited with status %d", (int)q->pid, WEXITSTATUS(st));
	else
		log_warnx("inquiry: child %d closed its socket", (int)q->pid);
	if (w != q->pid) {
		if (!why)
			kill(q->pid, SIGKILL);
		reap_later(q, q->pid);
	}
	q->pid = 0;
	q->child_ping_ns = 0;
	ps_text_reset(&q->t);
	/* the follows the judge has keep going */
	const char *reason = q->gone_reason ? q->gone_reason : "no answer";
	q->gone_reason = NULL;
	fail_waiting(q, 0, reason);
}

static void violation(struct inquiry *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(struct inquiry *q, const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	q->violations++;
	child_gone(q, why);
}

/* ---- the listening socket: bound here, once, passed to every child ---------- */

/* [inquiry] listen as the file says now (SIGHUP): 0, or -1 and err (the file's fault) */
static int listen_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		     size_t n)
{
	if (!strcmp(sec, "inquiry"))
		return inq_conf_key(ctx, key, val, err, n);
	if (!strcmp(sec, "fleet"))
		return inq_fleet_key(ctx, key, val, err, n);
	return 0;
}

static int listen_reread(struct inquiry *q, struct inq_conf *c, char *err, size_t n)
{
	inq_conf_defaults(c);
	if (access(q->conffile, F_OK) != 0)
		return 0; /* no file: defaults, as at start */
	if (ini_parse(q->conffile, listen_cb, c, err, n) != 0)
		return -1;
	return inq_conf_finish(c, err, n);
}

/* Binds url (enabled) or lets go of the socket (!enabled). The old socket is kept until
 * the new one is bound; if the kernel refuses the new address while the old one holds
 * it (the same port), the old is closed and bound again on failure. 0 or -1 (err; the
 * old socket then still stands when it could be kept). Call with no child running. */
static int listen_set(struct inquiry *q, int enabled, const char *url, char *err, size_t n)
{
	if (!enabled) {
		if (q->ls >= 0)
			close(q->ls);
		q->ls = -1;
		q->ls_url[0] = 0;
		return 0;
	}
	if (q->ls >= 0 && !strcmp(q->ls_url, url))
		return 0;
	int ls = tlsfront_listen_socket(url, q->c.lab_plain, err, n);
	if (ls < 0 && q->ls >= 0 && errno == EADDRINUSE) {
		close(q->ls);
		q->ls = -1;
		ls = tlsfront_listen_socket(url, q->c.lab_plain, err, n);
		if (ls < 0) {
			char e2[160];
			q->ls = tlsfront_listen_socket(q->ls_url, q->c.lab_plain, e2, sizeof e2);
			if (q->ls < 0) {
				log_warnx("inquiry: %s again: %s", q->ls_url, e2);
				q->ls_url[0] = 0;
			}
		}
	}
	if (ls < 0)
		return -1;
	if (q->ls >= 0)
		close(q->ls);
	q->ls = ls;
	snprintf(q->ls_url, sizeof q->ls_url, "%s", url);
	return 0;
}

/* at start: a port someone else holds is not fatal (a local user can race a restart
 * of hoptraced for it): the child follows but serves nothing, and the loop's tick
 * tries again (inquiry_listen_retry) */
static int listen_try(struct inquiry *q)
{
	char err[256];
	if (!q->c.enabled || q->ls >= 0)
		return 0;
	if (listen_set(q, 1, q->c.listen, err, sizeof err) == 0)
		return 0;
	if (!q->ls_failed)
		log_warnx("inquiry: %s: other hosts' inquiries are not served until it is free "
			  "(tried every second)", err);
	q->ls_failed = 1;
	return -1;
}

static int spawn(struct inquiry *q);

void inquiry_listen_retry(struct inquiry *q)
{
	if (!q || q->off || !q->ls_failed || listen_try(q) != 0)
		return;
	q->ls_failed = 0;
	log_info("inquiry: listening on %s: the child restarts to serve it", q->ls_url);
	if (q->ps >= 0) {
		kill(q->pid, SIGTERM);
		child_gone(q, NULL);
	}
	spawn(q);
}

static int spawn(struct inquiry *q)
{
	uint64_t now = mono_ns();
	unsigned cap = q->c.max_restarts + 1;
	if (cap > 16)
		cap = 16;
	if (q->nspawn >= cap && now - q->spawned[(q->nspawn - cap) % 16] < RESTART_WINDOW_NS)
		return -1; /* too many in the last minute: the tick tries later */
	listen_try(q); /* the first child's: bound once, kept for every later one */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		log_warn("inquiry: socketpair");
		return -1;
	}
	pid_t pid = ps_spawn("-X", sv[1], q->ls, q->fg, q->verbose, q->conffile);
	if (pid < 0) {
		log_warn("inquiry: fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	close(sv[1]);
	q->ps = sv[0];
	q->pid = pid;
	q->spawned[q->nspawn % 16] = now;
	if (q->nspawn++)
		q->restarts++;
	struct timeval tv = {1, 0}; /* a child that stops reading is killed */
	setsockopt(q->ps, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct epoll_event ev = {.events = EPOLLIN};
	epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->ps, &ev);
	log_info("inquiry: child %d started", (int)pid);
	return 0;
}

/* ---- sends to the child: never blocking, a bounded queue (review finding 3) ------- */

static void child_want_out(struct inquiry *q, int on)
{
	if (q->oq_out == on || q->ps < 0)
		return;
	struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0)};
	epoll_ctl(q->epfd, EPOLL_CTL_MOD, q->ps, &ev);
	q->oq_out = on;
}

/* one message now, with its descriptor; 1 sent, 0 the socket is full, -1 failed */
static int child_send_now(struct inquiry *q, const unsigned char *b, size_t len, int sfd)
{
	struct iovec iov = {(void *)b, len};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (sfd >= 0) {
		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.b;
		mh.msg_controllen = sizeof(cb.b);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &sfd, sizeof(int));
	}
	for (;;) {
		ssize_t r = sendmsg(q->ps, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r >= 0)
			return (size_t)r == len ? 1 : -1;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	}
}

/* what the queue holds, as far as the socket takes it; -1: the child is gone */
static int child_flush(struct inquiry *q)
{
	while (q->oq && q->ps >= 0) {
		struct omsg *m = q->oq;
		int r = child_send_now(q, m->b, m->len, m->fd);
		if (r == 0)
			break;
		if (r < 0) {
			child_gone(q, "send failed");
			return -1;
		}
		q->oq = m->next;
		if (!q->oq)
			q->oq_tail = &q->oq;
		q->oq_bytes -= m->len;
		if (m->fd >= 0)
			close(m->fd);
		free(m);
	}
	child_want_out(q, q->oq != NULL);
	return 0;
}

/* one message (a + b) for the child, sent now or queued; sfd is duplicated when queued.
 * -1: the child is gone (a full queue counts as stuck: killed) */
static int child_send(struct inquiry *q, const void *a, size_t alen, const void *b, size_t blen, int sfd)
{
	if (q->ps < 0)
		return -1;
	unsigned char stack[sizeof(struct ps_chunk) + 256];
	size_t len = alen + blen;
	if (!q->oq && len <= sizeof(stack)) {
		memcpy(stack, a, alen);
		if (blen)
			memcpy(stack + alen, b, blen);
		int r = child_send_now(q, stack, len, sfd);
		if (r > 0)
			return 0;
		if (r < 0) {
			child_gone(q, "send failed");
			return -1;
		}
	}
	if (q->oq_bytes + len > CHILD_QUEUE_MAX) {
		q->gone_reason = REASON_STUCK;
		child_gone(q, "stuck: its queue is full");
		return -1;
	}
	struct omsg *m = malloc(sizeof(*m) + len);
	if (!m) {
		child_gone(q, "out of memory");
		return -1;
	}
	m->next = NULL;
	m->len = len;
	m->fd = sfd >= 0 ? fcntl(sfd, F_DUPFD_CLOEXEC, 0) : -1;
	memcpy(m->b, a, alen);
	if (blen)
		memcpy(m->b + alen, b, blen);
	*q->oq_tail = m;
	q->oq_tail = &m->next;
	q->oq_bytes += len;
	return child_flush(q);
}

static int send_text(struct inquiry *q, const void *head, size_t hlen, const char *text, size_t len)
{
	const struct ps_hdr *h = head;
	if (q->ps < 0 || len > PS_TEXT_MAX)
		return -1;
	/* the head and all its chunks queued at once: nothing comes between them */
	if (q->oq_bytes + hlen + len + (len / PS_CHUNK + 1) * sizeof(struct ps_chunk) > CHILD_QUEUE_MAX) {
		q->gone_reason = REASON_STUCK;
		child_gone(q, "stuck: its queue is full");
		return -1;
	}
	if (child_send(q, head, hlen, NULL, 0, -1) != 0)
		return -1;
	for (size_t off = 0; off < len; off += PS_CHUNK) {
		size_t k = len - off < PS_CHUNK ? len - off : PS_CHUNK;
		struct ps_chunk c = {{PS_MAGIC, PS_CHUNK_MSG, h->id}, (uint32_t)off, (uint32_t)k};
		if (child_send(q, &c, sizeof(c), text + off, k, -1) != 0)
			return -1;
	}
	return 0;
}

/* ---- WHO_REQ ------------------------------------------------------------------- */

/* Review finding 4a: the child's word for who asks is checked against the kernel: the
 * monitor's own sock_diag lookup must find an inquiry connection from that peer (its
 * address and port) to the listening port, accepted by the child's user. */
static int who_setup(struct inquiry *q, char *err, size_t n)
{
	const char *u = q->c.user;
	struct passwd *pw = getpwnam(u);
	if (!pw && !strcmp(u, "hoptrace"))
		pw = getpwnam("nobody"); /* as ps_drop does */
	if (!pw) {
		snprintf(err, n, "inquiry: user %s: no such user", u);
		return -1;
	}
	q->child_uid = pw->pw_uid;
	const char *c = strrchr(q->c.listen, ':');
	q->listen_port = c ? (unsigned)strtoul(c + 1, NULL, 10) : 0;
	if (q->listen_port > 65535)
		q->listen_port = 0;
	q->nl = sd_open();
	if (q->nl < 0)
		log_warnx("inquiry: sock_diag unavailable: every inquiry is refused (its asker cannot be checked)");
	return 0;
}

struct peer_find {
	const struct ps_addr *peer;
	unsigned lport;
	uid_t uid;
	int found;
};

static int inquiry_conn(const struct sd_inet *s, const struct ps_addr *peer, unsigned lport, uid_t uid)
{
	return (s->state == TCP_ESTABLISHED || s->state == TCP_CLOSE_WAIT) && s->uid == uid &&
	       (!lport || s->lport == lport) && s->rport == peer->port &&
	       (s->family == AF_INET ? 4 : 6) == peer->family &&
	       !memcmp(s->raddr, peer->a, peer->family == 4 ? 4 : 16);
}

static int peer_find_cb(void *ctx, const struct sd_inet *s)
{
	struct peer_find *f = ctx;
	f->found = inquiry_conn(s, f->peer, f->lport, f->uid);
	return f->found;
}

static int peer_connected(struct inquiry *q, const struct ps_who_req *m)
{
	if (q->nl < 0)
		return 0;
	int fam = m->peer.family == 4 ? AF_INET : AF_INET6;
	struct sd_inet si;
	/* the asker connects to the address it asks about (the follower does): one lookup */
	if (q->listen_port && m->local.family == m->peer.family &&
	    sd_inet_lookup(q->nl, fam, m->local.a, (uint16_t)q->listen_port, m->peer.a, m->peer.port,
			   &si) == 0 &&
	    inquiry_conn(&si, &m->peer, q->listen_port, q->child_uid))
		return 1;
	/* else any of this host's addresses */
	struct peer_find f = {&m->peer, q->listen_port, q->child_uid, 0};
	sd_inet_dump(q->nl, fam, (1u << TCP_ESTABLISHED) | (1u << TCP_CLOSE_WAIT), peer_find_cb, &f);
	return f.found;
}

static int nul_inside(const char *s, size_t n)
{
	return memchr(s, 0, n) != NULL;
}

static void who_ans(struct inquiry *q, uint64_t id, int status, const char *text)
{
	struct ps_who_ans a = {{PS_MAGIC, PS_WHO_ANS, id}, status, (uint32_t)strlen(text)};
	send_text(q, &a, sizeof(a), text, strlen(text));
}

static void who_err(struct inquiry *q, uint64_t id, int status, const char *msg)
{
	char *s = inq_error_json(msg);
	who_ans(q, id, status, s ? s : "{\"ok\":false}");
	free(s);
}

static void on_who_req(struct inquiry *q, const struct ps_who_req *m)
{
	/* shape: any fault here is the child's */
	if (!ps_addr_valid(&m->peer, 1) || !ps_addr_valid(&m->local, 1) || !ps_addr_valid(&m->remote, 1) ||
	    m->local.family != m->remote.family || m->npeer_addrs > PKI_ADDRS_MAX || m->depth < -1 ||
	    m->depth > 64 || m->deadline_ms > 60000 || m->paper > 1 || m->age_ms > 86400000 ||
	    !nul_inside(m->nonce, sizeof(m->nonce)) || (m->nonce[0] && !inq_nonce_ok(m->nonce)) ||
	    !nul_inside(m->peer_cn, sizeof(m->peer_cn)) || m->part_v > 2 ||
	    !nul_inside(m->have, sizeof(m->have)) || !part_have_ok(m->have)) {
		violation(q, "malformed WHO_REQ");
		return;
	}
	for (uint32_t i = 0; i < m->npeer_addrs; i++)
		if (!ps_addr_valid(&m->peer_addrs[i], 0)) {
			violation(q, "malformed WHO_REQ peer address %u", i);
			return;
		}
	/* the peer is one the kernel knows: an inquiry connection the child accepted */
	if (!peer_connected(q, m)) {
		char p[HT_ENDPOINT_STRLEN];
		ps_addr_text(&m->peer, p, sizeof(p));
		q->who_unknown_peer++;
		log_warnx("inquiry: the child named peer %s, which has no inquiry connection here: refused", p);
		who_err(q, m->h.id, 403, "no such inquiry connection");
		return;
	}
	/* the asker is the far end of the connection it asks about */
	int named = !q->tls || !q->front_names_peer;
	for (uint32_t i = 0; !named && i < m->npeer_addrs; i++)
		named = ps_addr_same_ip(&m->peer_addrs[i], &m->peer);
	if (!ps_addr_same_ip(&m->peer, &m->remote) || !named) {
		char p[HT_ENDPOINT_STRLEN], r[HT_ENDPOINT_STRLEN];
		ps_addr_text(&m->peer, p, sizeof(p));
		ps_addr_text(&m->remote, r, sizeof(r));
		log_debug("inquiry: refused: peer %s asked about a connection to %s", p, r);
		who_err(q, m->h.id, 403,
			!named ? "the peer's certificate does not name its address"
			       : "the asker is not the far end of the connection it asks about");
		return;
	}
	char local[HT_ENDPOINT_STRLEN], remote[HT_ENDPOINT_STRLEN];
	ps_addr_text(&m->local, local, sizeof(local));
	ps_addr_text(&m->remote, remote, sizeof(remote));
	char *ans = q->who(q->who_arg, local, remote, m->age_ms);
	const char *aend = NULL;
	cJSON *a = ans ? cJSON_ParseWithOpts(ans, &aend, 0) : NULL;
	if (!a) {
		who_err(q, m->h.id, 500, "out of memory");
	} else if (!cJSON_IsTrue(cJSON_GetObjectItem(a, "ok"))) {
		const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(a, "error"));
		const char *cn = cJSON_GetStringValue(cJSON_GetObjectItem(a, "code"));
		enum ht_qerr code = ht_qerr_from_name(cn, cn ? strlen(cn) : 0);
		if (code == HT_QE_NO_CONN || code == HT_QE_NO_HOLDER || code == HT_QE_NO_PROC)
			/* (why: not open, closed beyond history_window, ...) */
			who_err(q, m->h.id, 404, e && e[0] ? e : "no such connection");
		else
			who_err(q, m->h.id, 400, e ? e : "bad request");
	} else {
		char *text = ans;
		char *signed_text = NULL;
		if (m->nonce[0] && q->signer) {
			char err[160];
			/* the answer's bytes kept and the part spliced, not the whole printed
			 * again; format 2 builds the part from the answer's own tree bytes */
			signed_text = aend ? part_answer_signed(q->signer, m->part_v == 2 ? 2 : 1,
								m->nonce, m->have, local, remote, ans,
								(size_t)(aend - ans), a, err, sizeof(err))
					   : NULL;
			if (signed_text)
				text = signed_text;
			else
				log_warnx("inquiry: cannot sign the part: %s", aend ? err : "no answer text");
		}
		if (inq_wants_follow(text))
			allow_leaves(q, a, (long)m->deadline_ms);
		if (strlen(text) > PS_TEXT_MAX)
			who_err(q, m->h.id, 500, "answer too large");
		else
			who_ans(q, m->h.id, 200, text);
		free(signed_text);
	}
	cJSON_Delete(a);
	free(ans);
}

/* ---- SOCK_REQ ------------------------------------------------------------------ */

static void on_sock_req(struct inquiry *q, const struct ps_sock_req *m)
{
	struct ps_sock_ans a = {{PS_MAGIC, PS_SOCK_ANS, m->h.id}, 0, 0};
	if (!ps_addr_valid(&m->far, 1)) {
		violation(q, "malformed SOCK_REQ");
		return;
	}
	char far[HT_ENDPOINT_STRLEN];
	ps_addr_text(&m->far, far, sizeof(far));
	int fd = -1;
	if (m->far.port != q->c.port || !allowed(q, &m->far)) {
		q->sock_refused++;
		log_warnx("inquiry: the child asked for a connection to %s: not a far end it was given", far);
		a.err = EPERM;
	} else {
		int fam = m->far.family == 4 ? AF_INET : AF_INET6;
		struct sockaddr_storage ss;
		socklen_t sl;
		memset(&ss, 0, sizeof(ss));
		if (fam == AF_INET) {
			struct sockaddr_in *s4 = (void *)&ss;
			s4->sin_family = AF_INET;
			s4->sin_port = htons(m->far.port);
			memcpy(&s4->sin_addr, m->far.a, 4);
			sl = sizeof(*s4);
		} else {
			struct sockaddr_in6 *s6 = (void *)&ss;
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(m->far.port);
			memcpy(&s6->sin6_addr, m->far.a, 16);
			sl = sizeof(*s6);
		}
		int one = 1;
		fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 ||
		    (q->c.mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &q->c.mark, sizeof(q->c.mark)) < 0) ||
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
		    (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)) {
			a.err = errno ? errno : EIO;
			log_debug("inquiry: socket to %s: %s", far, strerror(a.err));
			if (fd >= 0)
				close(fd);
			fd = -1;
		}
	}
	child_send(q, &a, sizeof(a), NULL, 0, fd);
	if (fd >= 0)
		close(fd);
}

/* ---- FOLLOW -------------------------------------------------------------------- */

static struct pfollow *find_follow(struct inquiry *q, uint64_t id, int at_judge)
{
	struct pfollow *p = q->pf;
	while (p && (p->id != id || p->at_judge != at_judge))
		p = p->next;
	return p;
}

static void unlink_follow(struct inquiry *q, struct pfollow *p)
{
	struct pfollow **pp = &q->pf;
	while (*pp && *pp != p)
		pp = &(*pp)->next;
	if (*pp)
		*pp = p->next;
}

static int judge_start(struct inquiry *q)
{
	if (!q->judge)
		return -1;
	if (judge_svc_up(q->judge))
		return 0;
	q->judge_ping_ns = 0;
	return judge_svc_spawn(q->judge);
}

/* The child's text is never believed (review finding 1): the judge gets the monitor's own
 * answer, its nonce and that text, and its verdict is the answer. */
static void on_follow_done(struct inquiry *q, uint64_t id, const char *text)
{
	struct pfollow *p = find_follow(q, id, 0);
	if (!p)
		return; /* expired already */
	p->at_judge = 1;
	p->ping_ns = 0;
	if (judge_start(q) != 0 || judge_svc_ask(q->judge, p->id, p->nonce, p->own, text) != 0) {
		/* no judge, or its queue is full (then it was killed as stuck) */
		unlink_follow(q, p);
		fail_follow_why(p, REASON_NOT_JUDGED);
		if (!judge_svc_up(q->judge))
			fail_waiting(q, 1, REASON_NOT_JUDGED);
	}
}

static int send_follow(struct inquiry *q, struct pfollow *p, const char *have);

/* the judge's verdict: the answer the guard / CLI gets */
static void on_verdict(void *arg, uint64_t id, const char *text, int retry)
{
	struct inquiry *q = arg;
	struct pfollow *p = find_follow(q, id, 1);
	if (!p)
		return; /* answered "not judged" already */
	/* parts refused for certificates the judge does not hold (it restarted, or they
	 * fell out of what it holds): followed once more, without "have", so that every
	 * host sends its certificate — while at least half of the time is left */
	uint64_t now = mono_ns();
	if (retry && !p->retried && now < p->deadline_ns &&
	    p->deadline_ns - now > (p->deadline_ns - p->start_ns) / 2) {
		p->retried = 1;
		p->at_judge = 0;
		p->ping_ns = 0;
		q->follow_retries++;
		log_debug("inquiry: follow %llu: the judge lacks certificates: asked again without \"have\"",
			  (unsigned long long)p->id);
		send_follow(q, p, "");
		return;
	}
	unlink_follow(q, p);
	p->done(p->arg, text);
	free(p->own);
	free(p);
}

int inquiry_wants_follow(const struct inquiry *q, const char *answer)
{
	return q && q->ps >= 0 && inq_wants_follow(answer);
}

int inquiry_follow(struct inquiry *q, const char *answer, long deadline_ms, const char *subject_canon,
		   inq_done_fn done, void *arg)
{
	size_t len = strlen(answer);
	if (!q || q->ps < 0 || len > PS_TEXT_MAX)
		return -1;
	cJSON *a = cJSON_Parse(answer);
	if (!a)
		return -1;
	if (deadline_ms <= 0 || deadline_ms > 60000)
		deadline_ms = q->c.timeout_ms;
	allow_leaves(q, a, deadline_ms);
	cJSON_Delete(a);
	struct pfollow *p = calloc(1, sizeof(*p));
	if (!p || !(p->own = strdup(answer))) {
		free(p);
		return -1;
	}
	p->id = ++q->next_id;
	p->done = done;
	p->arg = arg;
	p->start_ns = mono_ns();
	p->deadline_ns = p->start_ns + (uint64_t)deadline_ms * 1000000ULL;
	p->expire_ns = p->deadline_ns + FOLLOW_GRACE_NS;
	p->depth = (int)q->c.max_depth;
	if (subject_canon)
		snprintf(p->subject, sizeof(p->subject), "%s", subject_canon);
	/* the nonce is the monitor's (review finding 1): the child only carries it */
	if (q->tls && part_nonce(p->nonce) != 0) {
		free(p->own);
		free(p);
		return -1;
	}
	p->next = q->pf;
	q->pf = p;
	/* the certificates the judge holds: the far hosts leave them out of their parts */
	send_follow(q, p, q->tls ? judge_svc_have(q->judge) : "");
	return 0; /* (a send that failed: child_gone answered it, "no answer") */
}

/* FOLLOW_REQ for p: its own answer, its nonce, the time left */
static int send_follow(struct inquiry *q, struct pfollow *p, const char *have)
{
	uint64_t now = mono_ns();
	long left = p->deadline_ns > now ? (long)((p->deadline_ns - now) / 1000000ULL) : 0;
	struct ps_follow_req m;
	memset(&m, 0, sizeof(m));
	m.h = (struct ps_hdr){PS_MAGIC, PS_FOLLOW_REQ, p->id};
	m.depth = (int32_t)p->depth;
	m.deadline_ms = (uint32_t)(left > 0 ? left : 1);
	size_t len = strlen(p->own);
	m.len = (uint32_t)len;
	snprintf(m.subject, sizeof(m.subject), "%s", p->subject);
	memcpy(m.nonce, p->nonce, sizeof(m.nonce));
	snprintf(m.have, sizeof(m.have), "%s", have && part_have_ok(have) ? have : "");
	return send_text(q, &m, sizeof(m), p->own, len);
}

/* ---- the loop's side ----------------------------------------------------------- */

static void on_text(struct inquiry *q)
{
	if (q->t.type == PS_FOLLOW_DONE)
		on_follow_done(q, q->t.id, q->t.buf);
	ps_text_reset(&q->t);
}

static void child_input(struct inquiry *q)
{
	static unsigned char buf[PS_MSG_MAX];
	char why[160];
	for (int budget = 64; budget > 0 && q->ps >= 0; budget--) {
		union {
			char b[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr align;
		} cb;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b)};
		ssize_t r = recvmsg(q->ps, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			child_gone(q, NULL);
			spawn(q);
			return;
		}
		int got_fd = 0;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int nfd = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				for (int i = 0; i < nfd; i++) {
					int x;
					memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
					close(x);
				}
				got_fd = 1;
			}
		const struct ps_hdr *h = (const void *)buf;
		q->child_heard_ns = mono_ns();
		q->child_ping_ns = 0;
		if (got_fd || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
			violation(q, "a descriptor or an oversized message");
			goto respawn;
		}
		if ((size_t)r < sizeof(*h) || h->magic != PS_MAGIC) {
			violation(q, "bad magic or length %zd", r);
			goto respawn;
		}
		if (q->t.active && h->type != PS_CHUNK_MSG) {
			violation(q, "message type %u inside a text", h->type);
			goto respawn;
		}
		int done;
		switch (h->type) {
		case PS_WHO_REQ:
			if ((size_t)r != sizeof(struct ps_who_req)) {
				violation(q, "WHO_REQ of %zd bytes", r);
				goto respawn;
			}
			on_who_req(q, (const void *)buf);
			break;
		case PS_SOCK_REQ:
			if ((size_t)r != sizeof(struct ps_sock_req)) {
				violation(q, "SOCK_REQ of %zd bytes", r);
				goto respawn;
			}
			on_sock_req(q, (const void *)buf);
			break;
		case PS_FOLLOW_DONE:
			if ((size_t)r != sizeof(struct ps_follow_done)) {
				violation(q, "FOLLOW_DONE of %zd bytes", r);
				goto respawn;
			}
			done = ps_text_begin(&q->t, buf, (size_t)r, ((const struct ps_follow_done *)buf)->len, why,
					     sizeof(why));
			if (done < 0) {
				violation(q, "FOLLOW_DONE: %s", why);
				goto respawn;
			}
			if (done)
				on_text(q);
			break;
		case PS_PONG:
			if ((size_t)r != sizeof(struct ps_hdr)) {
				violation(q, "PONG of %zd bytes", r);
				goto respawn;
			}
			break;
		case PS_CHUNK_MSG:
			done = ps_text_add(&q->t, buf, (size_t)r, why, sizeof(why));
			if (done < 0) {
				violation(q, "%s", why);
				goto respawn;
			}
			if (done)
				on_text(q);
			break;
		default:
			violation(q, "message type %u", h->type);
			goto respawn;
		}
	}
	return;
respawn:
	spawn(q);
}

void inquiry_main(struct inquiry *q)
{
	struct epoll_event ev[4];
	int n = epoll_wait(q->epfd, ev, 4, 0);
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u32 == TAG_JUDGE) {
			if (judge_svc_io(q->judge, ev[i].events) != 0) {
				fail_waiting(q, 1, REASON_NOT_JUDGED);
				judge_start(q);
			}
			continue;
		}
		if (q->ps < 0)
			continue;
		if ((ev[i].events & EPOLLOUT) && child_flush(q) != 0) {
			spawn(q);
			continue;
		}
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			child_input(q);
	}
}

/* ---- liveness (review finding 3) ------------------------------------------------- */

static void ping_child(struct inquiry *q, uint64_t now)
{
	if (q->child_ping_ns || q->ps < 0)
		return;
	struct ps_hdr h = {PS_MAGIC, PS_PING, 0};
	q->child_ping_ns = now;
	if (child_send(q, &h, sizeof(h), NULL, 0, -1) != 0)
		spawn(q);
}

static void ping_judge(struct inquiry *q, uint64_t now)
{
	if (q->judge_ping_ns && judge_svc_heard(q->judge) >= q->judge_ping_ns)
		q->judge_ping_ns = 0; /* answered since */
	if (q->judge_ping_ns || !judge_svc_up(q->judge))
		return;
	q->judge_ping_ns = now;
	if (judge_svc_ping(q->judge) != 0) {
		fail_waiting(q, 1, REASON_NOT_JUDGED);
		judge_start(q);
	}
}

/* Follows past their deadline ping their process (the child's reader, or the judge after
 * what it is judging); one past deadline + 1 s ends. Its process is stuck only if it said
 * nothing since that ping — a child busy with a slow far end, or a judge with a queue of
 * work, still answers — so follows of different deadlines do not restart a live one. */
static void follows_expire(struct inquiry *q, uint64_t now)
{
	int child_stuck = 0, judge_stuck = 0, ping[2] = {0, 0};
	struct pfollow **pp, *p;
	for (p = q->pf; p; p = p->next)
		if (p->deadline_ns <= now && !p->ping_ns)
			ping[p->at_judge] = 1;
	/* (a failed ping kills its process: its follows end, the list changes) */
	if (ping[0])
		ping_child(q, now);
	if (ping[1])
		ping_judge(q, now);
	for (p = q->pf; p; p = p->next)
		if (p->deadline_ns <= now && !p->ping_ns) {
			uint64_t t = p->at_judge ? q->judge_ping_ns : q->child_ping_ns;
			p->ping_ns = t ? t : now;
		}
	pp = &q->pf;
	while ((p = *pp)) {
		if (p->expire_ns > now || !p->ping_ns || now < p->ping_ns + PING_WAIT_NS) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		if (p->at_judge) {
			int stuck = judge_svc_up(q->judge) && judge_svc_heard(q->judge) < p->ping_ns;
			judge_stuck |= stuck;
			log_warnx("inquiry: the judge did not judge a follow in time%s",
				  stuck ? " and says nothing: stuck" : "");
			fail_follow_why(p, REASON_NOT_JUDGED);
		} else {
			int stuck = q->ps >= 0 && q->child_heard_ns < p->ping_ns;
			child_stuck |= stuck;
			log_warnx("inquiry: the child did not finish a follow in time%s",
				  stuck ? " and says nothing: stuck" : "");
			fail_follow_why(p, stuck ? REASON_STUCK : "no answer");
		}
	}
	if (child_stuck && q->ps >= 0) {
		q->gone_reason = REASON_STUCK;
		child_gone(q, "stuck: nothing for 1 s past a follow's deadline");
		spawn(q);
	}
	if (judge_stuck) {
		judge_svc_kill(q->judge, "stuck: nothing for 1 s past a follow's deadline");
		fail_waiting(q, 1, REASON_NOT_JUDGED);
		judge_start(q);
	}
}

void inquiry_tick(struct inquiry *q)
{
	if (!q)
		return;
	uint64_t now = mono_ns();
	follows_expire(q, now);
	reap_zombies(q);
	if (q->judge)
		judge_svc_reap(q->judge);
	if (q->ps < 0 && !q->off)
		spawn(q);
	if (!q->off && q->judge && !judge_svc_up(q->judge))
		judge_start(q);
}

int inquiry_fd(const struct inquiry *q)
{
	return q->epfd;
}

struct inquiry *inquiry_start(const struct inq_conf *c, const char *hostname, inq_who_fn who,
			      void *who_arg, const char *conffile, int foreground, int verbose,
			      char *err, size_t n)
{
	struct inquiry *q = calloc(1, sizeof(*q));
	if (!q) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	q->c = *c;
	q->ls = -1; /* bound by the first spawn (listen_try) */
	snprintf(q->host, sizeof(q->host), "%s", hostname);
	snprintf(q->conffile, sizeof(q->conffile), "%s", conffile);
	q->who = who;
	q->who_arg = who_arg;
	q->fg = foreground;
	q->verbose = verbose;
	q->ps = -1;
	q->oq_tail = &q->oq;
	q->nl = -1;
	q->tls = !c->lab_plain;
	q->front_names_peer = 1; /* tlsfront: the peer certificate's iPAddress SANs */
	q->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (q->epfd < 0) {
		snprintf(err, n, "inquiry: epoll_create1: %s", strerror(errno));
		free(q);
		return NULL;
	}
	int wr = who_setup(q, err, n);
	if (wr == 0 && !(q->judge = judge_svc_new(q->epfd, TAG_JUDGE, q->conffile, q->fg, q->verbose,
						  q->c.max_restarts, on_verdict, q)))
		snprintf(err, n, "inquiry: out of memory");
	if (!q->judge) {
		if (q->nl >= 0)
			close(q->nl);
		close(q->epfd);
		free(q);
		return NULL;
	}
	if (inq_fleet_ready(c, err, n) != 0) {
		/* no fleet identity: no inquiries in or out (answers keep their
		 * leaves "not followed"); hoptraced itself runs */
		log_warnx("inquiry: OFF: %s (hoptrace ca issue; docs/config.md [fleet])", err);
		q->off = 1;
		return q;
	}
	if (q->tls) {
		q->signer = pki_signer_load(c->fleet_sign_cert, c->fleet_sign_key, err, n);
		if (!q->signer) {
			judge_svc_free(q->judge);
			if (q->nl >= 0)
				close(q->nl);
			close(q->epfd);
			free(q);
			return NULL;
		}
	}
	if (c->lab_plain)
		log_warnx("inquiry: [fleet] lab_plain = yes: PLAIN HTTP, NOTHING SIGNED OR CHECKED: "
			  "any host may ask and any answer is believed (benchmarks only)");
	if (judge_start(q) != 0 || spawn(q) != 0) {
		snprintf(err, n, "inquiry: cannot start the judge or the child");
		judge_svc_free(q->judge);
		if (q->nl >= 0)
			close(q->nl);
		close(q->epfd);
		pki_signer_free(q->signer);
		free(q);
		return NULL;
	}
	return q;
}

/* every follow waiting on the child or the judge ends now (its answer: the leaves "no answer") */
static void fail_pending(struct inquiry *q)
{
	struct pfollow *p = q->pf;
	q->pf = NULL;
	while (p) {
		struct pfollow *nx = p->next;
		fail_follow(p);
		p = nx;
	}
	ps_text_reset(&q->t);
}

/* SIGHUP, no child running: the listen address the file names now */
static void listen_reload(struct inquiry *q, const struct inq_conf *now)
{
	char err[256];
	if ((q->ls >= 0) == now->enabled && (!now->enabled || !strcmp(q->ls_url, now->listen)))
		return;
	if (listen_set(q, now->enabled, now->listen, err, sizeof err) != 0) {
		if (q->ls >= 0) {
			log_warnx("inquiry: SIGHUP: %s: still serving %s", err, q->ls_url);
			return;
		}
		/* nothing bound: the new address, tried every second as at start */
		snprintf(q->c.listen, sizeof q->c.listen, "%s", now->listen);
		q->c.enabled = 1;
		q->ls_failed = 1;
		log_warnx("inquiry: SIGHUP: %s: other hosts' inquiries are not served until it is "
			  "free (tried every second)", err);
		return;
	}
	snprintf(q->c.listen, sizeof q->c.listen, "%s", now->listen);
	q->c.enabled = now->enabled;
	q->ls_failed = 0;
	log_info("inquiry: SIGHUP: listening on %s", q->ls >= 0 ? q->ls_url : "nothing (listen = no)");
}

int inquiry_reload(struct inquiry *q, char *err, size_t n)
{
	if (!q)
		return 0;
	struct inq_conf now;
	if (listen_reread(q, &now, err, n) != 0)
		return -1;
	if (inq_fleet_ready(&q->c, err, n) != 0)
		return -1;
	struct pki_signer *sg = NULL;
	if (q->tls) {
		/* what -n checks (chain, expiry, revocation, kinds, both keys match), then the
		 * part-signing pair the monitor keeps */
		struct fleet_conf f;
		char out[2048];
		fleet_conf_defaults(&f);
		snprintf(f.ca, sizeof f.ca, "%s", q->c.fleet_ca);
		snprintf(f.cert, sizeof f.cert, "%s", q->c.fleet_cert);
		snprintf(f.key, sizeof f.key, "%s", q->c.fleet_key);
		snprintf(f.sign_cert, sizeof f.sign_cert, "%s", q->c.fleet_sign_cert);
		snprintf(f.sign_key, sizeof f.sign_key, "%s", q->c.fleet_sign_key);
		snprintf(f.crl, sizeof f.crl, "%s", q->c.fleet_crl);
		f.set = FLEET_SET_CA | FLEET_SET_CERT | FLEET_SET_KEY | FLEET_SET_SIGN_CERT |
			FLEET_SET_SIGN_KEY | (q->c.fleet_crl[0] ? FLEET_SET_CRL : 0);
		if (fleet_check_addrs(&f, NULL, 0, 1, out, sizeof out) != 0) {
			char *nl = strchr(out, '\n');
			if (nl)
				*nl = 0;
			snprintf(err, n, "%s", out);
			return -1;
		}
		if (!(sg = pki_signer_load(q->c.fleet_sign_cert, q->c.fleet_sign_key, err, n)))
			return -1;
	}
	pki_signer_free(q->signer);
	q->signer = sg;
	q->off = 0;
	if (q->ps >= 0) {
		pid_t old = q->pid;
		kill(q->pid, SIGTERM);
		child_gone(q, NULL);
		/* a new address is bound only once the old child's copy of the listening
		 * socket is closed: else the kernel refuses it (EADDRINUSE) and nothing is
		 * served until the next second's retry (attack_fleet_child_port case 4) */
		if (wait_gone(q, old, 500) != 0)
			log_warnx("inquiry: reload: child %d not gone after 500 ms", (int)old);
	}
	listen_reload(q, &now);
	fail_pending(q);
	/* the judge reads the CA and the CRL anew too */
	judge_svc_kill(q->judge, "reload");
	q->nspawn = 0; /* an operator's reload is not a crash loop */
	if (judge_start(q) != 0)
		log_warnx("inquiry: reload: the judge did not start; retrying every second");
	if (spawn(q) != 0)
		log_warnx("inquiry: reload: the child did not start; retrying every second");
	log_info("inquiry: [fleet] files reloaded (%s)", q->tls ? "mTLS" : "lab_plain");
	return 0;
}

void inquiry_stop(struct inquiry *q)
{
	if (!q)
		return;
	if (q->ps >= 0) {
		kill(q->pid, SIGTERM);
		kill(q->pid, SIGCONT); /* a stopped child takes its SIGTERM too */
		epoll_ctl(q->epfd, EPOLL_CTL_DEL, q->ps, NULL);
		close(q->ps);
		q->ps = -1;
		int st;
		waitpid(q->pid, &st, 0);
	}
	oq_clear(q);
	fail_pending(q);
	judge_svc_free(q->judge);
	if (q->nl >= 0)
		close(q->nl);
	pki_signer_free(q->signer);
	listen_set(q, 0, "", NULL, 0);
	close(q->epfd);
	free(q);
}
