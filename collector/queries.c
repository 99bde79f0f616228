/*
 * queries.c — the collector's query transports (docs/query-protocol.md): the
 * guard's SEQPACKET connections (root peers only; one datagram request, one
 * datagram answer, at most HT_QUERY_MAX bytes) and the CLI's nng REP socket
 * at HT_CONTROL_PATH (ipc://, mode 0600, root peers only). Every answer is
 * made after a drain (records.c), so a record sent before a connect() is in
 * the graph when the guard asks about its SYN. An answer with upstream conn
 * leaves goes to the inquiry follower (follow.c), which sends it itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "daemon.h"
#include <nng/protocol/reqrep0/rep.h> /* after nng.h */

/* ---- the guard's SEQPACKET connections -------------------------------------------- */

/* a followed answer, on a dup() of the guard's socket (the follower's thread) */
static void seq_done(void *arg, const char *text)
{
	int fd = (int)(intptr_t)arg;
	size_t n = strlen(text);
	char big[96];
	if (n > HT_QUERY_MAX) { /* "too_large", keeping the question's id */
		n = ht_qerr_cut(big, sizeof(big), text, n);
		text = big;
	}
	if (send(fd, text, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_warn("followed query answer dropped");
	close(fd);
}

/* The answer to a request ht_qreq_parse() read into *q with result e (its
 * text in detail): the parser's refusal, or the operation's answer. */
static char *answer(struct collector *c, const struct ht_qreq *q, enum ht_qerr e, const char *detail)
{
	if (e == HT_QE_OK)
		return query_answer_req(&c->qctx, q, now_ns());
	c->stats.queries++; /* as query_answer() counts it */
	return ht_qerr_answer(q, HT_QE_BAD_REQUEST, detail);
}

/* Sends ans (freed) on fd, or the follower takes it. */
static void seq_answer(struct collector *c, int fd, const struct ht_qreq *q, char *ans)
{
	if (q && ans && c->inq && inquiry_wants_follow(c->inq, ans)) {
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (dfd >= 0 && follow_later(c, q, ans, seq_done, (void *)(intptr_t)dfd)) {
			free(ans);
			return;
		}
		if (dfd >= 0)
			close(dfd);
	}
	if (!ans)
		return;
	size_t n = strlen(ans);
	if (n > HT_QUERY_MAX) { /* "too_large", keeping the question's id (the
				   guard matches answers to questions by it) */
		char big[96];
		ht_qerr_cut(big, sizeof(big), ans, n);
		free(ans);
		ans = strdup(big);
		n = ans ? strlen(ans) : 0;
	}
	if (ans && send(fd, ans, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_warn("query answer dropped");
	free(ans);
}

/* Questions are answered in batches: every one waiting on the guard's
 * connections is read first, then one drain of records, then their answers in
 * the order they came (each with its id). Their walks share one comparison of
 * each process's fd table with the kernel's (graph_check_round): made after
 * the drain, so after every question of the batch, and after its SYN. (One
 * drain and one /proc/PID/fd read per question cost a client with 64
 * connections in flight ~100 us a question.) */
#define QBATCH_MAX 32
static struct qbatch {
	int fd;
	enum ht_qerr e;
	struct ht_qreq q;
	char detail[128];
} qbatch[QBATCH_MAX];
static int nqbatch;

static void qbatch_flush(struct collector *c)
{
	if (!nqbatch)
		return;
	drain_records(c);
	graph_check_round(c->graph, 1);
	for (int i = 0; i < nqbatch; i++) {
		struct qbatch *b = &qbatch[i];
		struct push_asker asker;
		push_asker_set(c, b->fd, &asker);
		char *ans = answer(c, &b->q, b->e, b->detail);
		push_asker_clear(c);
		seq_answer(c, b->fd, b->e == HT_QE_OK ? &b->q : NULL, ans);
	}
	graph_check_round(c->graph, 0);
	nqbatch = 0;
}

/* One request of r bytes (more than HT_QUERY_MAX: too large) from fd, parsed
 * once: bound (never answered) and subscribe are this transport's; the rest
 * joins the batch. */
static void seq_request(struct collector *c, int fd, const char *req, size_t r)
{
	struct qbatch *b = &qbatch[nqbatch];
	if (r > HT_QUERY_MAX) { /* after the answers before it (no id to match) */
		qbatch_flush(c);
		c->stats.queries++; /* as query_answer() counts it */
		seq_answer(c, fd, NULL,
			   ht_qerr_answer(NULL, HT_QE_BAD_REQUEST, "request larger than 64 KiB"));
		return;
	}
	memset(&b->q, 0, sizeof(b->q));
	b->e = ht_qreq_parse(req, r, &b->q, b->detail, sizeof(b->detail));
	if (b->q.op == HT_QOP_BOUND) { /* well-formed or not, it gets no answer */
		if (b->e == HT_QE_OK) {
			query_bound_req(&c->qctx, &b->q);
			push_outcome(c, 1); /* a push decided its SYN */
		}
		return;
	}
	if (b->e == HT_QE_OK && b->q.op == HT_QOP_SUBSCRIBE) {
		push_subscribe(c, fd);
		return;
	}
	b->fd = fd;
	if (++nqbatch == QBATCH_MAX)
		qbatch_flush(c);
}

/* Reads what waits on fd (at most 64 requests) into the batch. */
static void serve_query_conn(struct collector *c, int fd)
{
	char req[HT_QUERY_MAX + 1];
	for (int budget = 64; budget > 0; budget--) {
		int had_fds;
		ssize_t r = closer_recv(&c->closer, fd, req, sizeof(req), MSG_DONTWAIT | MSG_TRUNC, &had_fds);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (had_fds) {
			c->stats.fd_passing++;
			continue;
		}
		if (r <= 0) {
			qbatch_flush(c); /* (its questions: answered into the void) */
			close_conn(c, fd);
			return;
		}
		seq_request(c, fd, req, (size_t)r);
	}
}

void serve_query_conns(struct collector *c, const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		serve_query_conn(c, fds[i]);
	qbatch_flush(c);
}

/* ---- the CLI's nng socket ---------------------------------------------------------- */

/* a followed answer through the raw REP socket: the request's header routes it */
struct nng_reply {
	nng_socket rep;
	nng_msg *m;
};

static void nng_done(void *arg, const char *text)
{
	struct nng_reply *nr = arg;
	nng_msg *m = nr->m;
	nng_msg_clear(m);
	if (nng_msg_append(m, text, strlen(text)) != 0 || nng_sendmsg(nr->rep, m, NNG_FLAG_NONBLOCK) != 0)
		nng_msg_free(m);
	free(nr);
}

/* Did the follower take ans for m (request q)? (It then answers m.) */
static int nng_follow(struct collector *c, nng_msg *m, const struct ht_qreq *q, const char *ans)
{
	if (!ans || !c->inq || !inquiry_wants_follow(c->inq, ans))
		return 0;
	struct nng_reply *nr = malloc(sizeof(*nr));
	if (!nr)
		return 0;
	*nr = (struct nng_reply){c->rep, m};
	if (follow_later(c, q, ans, nng_done, nr))
		return 1;
	free(nr);
	return 0;
}

void serve_nng(struct collector *c)
{
	for (int budget = 16; budget > 0; budget--) {
		nng_msg *m;
		if (nng_recvmsg(c->rep, &m, NNG_FLAG_NONBLOCK) != 0)
			return;
		uint64_t uid = (uint64_t)-1;
		nng_pipe p = nng_msg_get_pipe(m);
		char *ans;
		if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
		    (uid != 0 && uid != (uint64_t)geteuid())) {
			c->stats.query_refused++;
			ans = ht_qerr_answer(NULL, HT_QE_DENIED, NULL);
		} else {
			struct ht_qreq q;
			char detail[128];
			enum ht_qerr e = ht_qreq_parse(nng_msg_body(m), nng_msg_len(m), &q, detail,
						       sizeof(detail));
			drain_records(c);
			ans = answer(c, &q, e, detail);
			if (e == HT_QE_OK && nng_follow(c, m, &q, ans)) {
				free(ans);
				continue;
			}
		}
		nng_msg_clear(m);
		if (ans && nng_msg_append(m, ans, strlen(ans)) == 0) {
			if (nng_sendmsg(c->rep, m, NNG_FLAG_NONBLOCK) != 0)
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

void control_prepare(struct collector *c)
{
	const char *path = c->cf.control;
	snprintf(c->control_url, sizeof(c->control_url), "ipc://%s", path);
	if (mkdir_parent(path) < 0)
		fatal("cannot create the directory of %s", path);
	/* the CLI's socket is a path: unsquattable only in a directory
	 * nobody else can write to */
	char dir[256];
	struct stat db;
	snprintf(dir, sizeof(dir), "%s", path);
	char *sl = strrchr(dir, '/');
	if (sl && sl != dir)
		*sl = 0;
	if (stat(dir, &db) == 0 && (db.st_uid != 0 || (db.st_mode & 022)))
		log_warnx("ERROR: the control socket's directory %s is not root's alone (uid %d, "
			  "mode %04o): another user could put a socket there first",
			  dir, (int)db.st_uid, (unsigned)(db.st_mode & 07777));
}

void control_open(struct collector *c)
{
	int rv, nngfd = -1;
	unlink(c->cf.control);
	mode_t old = umask(0077);
	/* raw REP: a request's header routes its answer back, so an answer the
	 * inquiry follower completes later can be sent from its thread */
	if ((rv = nng_rep0_open_raw(&c->rep)) != 0 || (rv = nng_listen(c->rep, c->control_url, NULL, 0)) != 0)
		fatalx("cannot listen on %s: %s", c->control_url, nng_strerror(rv));
	umask(old);
	chmod(c->cf.control, 0600);
	if ((rv = nng_socket_get_int(c->rep, NNG_OPT_RECVFD, &nngfd)) != 0)
		fatalx("nng recv fd: %s", nng_strerror(rv));
	ep_add(c, nngfd, TAG_NNG);
}
