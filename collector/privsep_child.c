/*
 * privsep_child.c — the inquiry service's unprivileged child (privsep.h):
 * everything that parses what the network sends.
 *
 *   - the HTTPS front (common/tlsfront.c, one poll-loop thread: caps,
 *     deadlines, rates, client certificate required and naming the TCP peer):
 *     the JSON of an authenticated POST; a valid inquiry goes to the monitor
 *     as a binary WHO_REQ with the TCP peer's address and the addresses its
 *     certificate names; the monitor's WHO_ANS comes
 *     back on the reader (the process's main thread), which replies at once or
 *     hands the answer to the follower;
 *   - one follower thread owning a libcurl multi handle: every conn leaf of
 *     every pending answer is one transfer, all concurrent; the multi's
 *     connection cache keeps keep-alive connections per peer (and TLS
 *     sessions). Each new connection's socket is made by the monitor
 *     (SOCK_REQ: SO_MARK, only to a far end of a leaf it handed out, only to
 *     the inquiry port) and passed here; libcurl takes it as connected.
 *   - the monitor's FOLLOW_REQ (a guard/CLI answer and the monitor's nonce) is
 *     followed the same way and the far hosts' answers, as fetched, sent back on
 *     its leaves as FOLLOW_DONE. Nothing is checked here: the monitor gives that
 *     text to the judge (judge.h), never believes it (review finding 1).
 * With [fleet] (not lab_plain) outgoing inquiries are HTTPS with this host's
 * TLS certificate, the fleet CA only (CAPATH NULL) and VERIFYHOST 2 on the
 * IP URL; curl's TLS failures end a leaf "peer not in fleet". The asker's nonce
 * goes upstream in every inquiry.
 *
 * Test hook: HT_TEST_EVIL_CHILD=MODE (tests/func/attack_fleet_child_judge.sh) makes
 * this child forge its FOLLOW_DONE as a compromised child would (evil_done) — nothing
 * a child with code execution could not do; the judge is what stops it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "hoptrace/chain.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/query.h"
#include "hoptrace/tlsfront.h"
#include "chain.h"
#include "inquiry.h"
#include "parts.h"
#include "privsep.h"

struct job;

struct leafreq {
	struct job *j;
	cJSON *node;
	CURL *e;
	struct curl_slist *hdr;
	char *buf;
	size_t len, cap;
	int over;
};

struct job {
	struct job *next;
	cJSON *ans;
	cJSON *visited;
	int depth;
	uint64_t deadline_ns;
	int paper;
	int judge;                    /* the monitor's own follow: its text goes to the judge */
	int part_v;                   /* the part format the judge reads (1, or 2: "v":3) */
	char have[PS_HAVE_MAX];       /* the judge's certificates (format 2), passed upstream */
	char nonce[PS_NONCE_MAX];
	size_t pending;
	/* the upstream answers as received (each checked to parse as it is, no NUL, nothing
	 * after it): printed as these bytes (cJSON raw), not printed again from their parse */
	cJSON *raw_node[INQ_LEAVES_MAX];
	char *raw_text[INQ_LEAVES_MAX];
	size_t nraw;
	void (*done)(void *arg, uint64_t id, const char *text);
	void *arg;
	uint64_t id;
};

/* an HTTP inquiry waiting for the monitor's WHO_ANS */
struct hwait {
	struct hwait *next;
	uint64_t id;  /* ours, in WHO_REQ */
	uint64_t fid; /* the front's request */
	struct inq_req r;
};

struct child {
	struct inq_conf c;
	int ps;                 /* the socketpair to the monitor */
	pthread_mutex_t smu;    /* one writer on ps at a time */
	pthread_mutex_t mu;     /* fq, stop, hw, next_id */
	struct job *fq, **fq_tail;
	struct hwait *hw;
	uint64_t next_id;
	int stop;
	pthread_t thr;
	CURLM *multi;
	CURLSH *share;
	struct tlsfront *front;
	/* SOCK_REQ/SOCK_ANS: one at a time (the follower is the only asker). kwait: the
	 * follower still waits for the answer to kid; any other SOCK_ANS (an earlier id, or
	 * kid's after the wait gave up) is late and its descriptor closed at once */
	pthread_mutex_t kmu;
	pthread_cond_t kcv;
	uint64_t kid;
	int kfd, kerr, khave, kwait;
	/* TLS client identity (loaded as root, kept in memory) */
	int tls;
	struct curl_blob ca, crt, key;
	struct pki_crl *crl; /* [fleet] crl, read before the chroot (NULL: none set) */
	const char *evil;    /* HT_TEST_EVIL_CHILD (tests only) */
	char *replay;        /* evil "replay": the first FOLLOW_DONE sent */
	uint64_t evil_last;  /* evil "nocert_once": the last follow whose certificates it took */
};

static struct child *C;

/* each new TLS context of the follower: the far end's certificate checked against the CRL */
static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *u)
{
	(void)e;
	return pki_crl_apply(u, ssl_ctx) == 0 ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long margin_ms(long d)
{
	long m = d / 10;
	return m < 5 ? 5 : m;
}

static void ps_lost(const char *what)
{
	log_warn("inquiry child: %s: the monitor is gone", what);
	_exit(1);
}

/* ---- follower thread ------------------------------------------------------------ */

static void finish_job(struct job *j)
{
	if (!j->judge) /* the judge reads only the leaves' upstreams */
		chain_reflatten(j->ans);
	/* the chains are made: each upstream goes out as the bytes it came in */
	for (size_t i = 0; i < j->nraw; i++) {
		cJSON *r = j->paper ? NULL : cJSON_CreateRaw(j->raw_text[i]);
		if (r && cJSON_IsObject(cJSON_GetObjectItem(j->raw_node[i], "upstream")))
			cJSON_ReplaceItemInObject(j->raw_node[i], "upstream", r);
		else
			cJSON_Delete(r);
		free(j->raw_text[i]);
	}
	j->nraw = 0;
	char *text;
	if (j->paper) {
		cJSON *p = inq_to_paper(j->ans);
		text = p ? cJSON_PrintUnformatted(p) : NULL;
		cJSON_Delete(p);
	} else {
		text = cJSON_PrintUnformatted(j->ans);
	}
	if (!text)
		text = ht_qerr_answer(NULL, HT_QE_NO_MEMORY, NULL);
	char oom[128];
	if (!text)
		ht_qerr_format(oom, sizeof(oom), 0, 0, HT_QE_NO_MEMORY, NULL);
	j->done(j->arg, j->id, text ? text : oom);
	free(text);
	cJSON_Delete(j->ans);
	cJSON_Delete(j->visited);
	free(j);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct leafreq *l = ud;
	size_t k = sz * n;
	if (l->len + k > INQ_ANSWER_MAX) {
		l->over = 1;
		return 0;
	}
	if (l->len + k + 1 > l->cap) {
		size_t nc = (l->len + k + 1) * 2;
		char *nb = realloc(l->buf, nc);
		if (!nb)
			return 0;
		l->buf = nb;
		l->cap = nc;
	}
	memcpy(l->buf + l->len, p, k);
	l->len += k;
	l->buf[l->len] = 0;
	return k;
}

/* the monitor makes the socket (SO_MARK, allowed far ends only) and starts
 * its connect; we wait here for the connect to finish, within the leaf's time,
 * so that a refused or silent peer is "no answer", not a TLS failure */
static curl_socket_t on_open(void *ud, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct leafreq *l = ud;
	struct ps_sock_req m = {{PS_MAGIC, PS_SOCK_REQ, 0}, {0}};
	(void)purpose;
	if (sa->family == AF_INET && sa->addrlen >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const void *)&sa->addr;
		m.far.family = 4;
		m.far.port = ntohs(s4->sin_port);
		memcpy(m.far.a, &s4->sin_addr, 4);
	} else if (sa->family == AF_INET6 && sa->addrlen >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const void *)&sa->addr;
		m.far.family = 6;
		m.far.port = ntohs(s6->sin6_port);
		memcpy(m.far.a, &s6->sin6_addr, 16);
	} else {
		return CURL_SOCKET_BAD;
	}
	uint64_t now = mono_ns();
	uint64_t dl = l->j->deadline_ns > now ? l->j->deadline_ns : now;
	pthread_mutex_lock(&C->kmu);
	m.h.id = ++C->kid;
	C->khave = 0;
	C->kfd = -1;
	C->kwait = 1;
	pthread_mutex_unlock(&C->kmu);
	if (ps_send(C->ps, &C->smu, &m, sizeof(m), -1) != 0)
		ps_lost("SOCK_REQ");
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	pthread_mutex_lock(&C->kmu);
	while (!C->khave)
		if (pthread_cond_timedwait(&C->kcv, &C->kmu, &ts) == ETIMEDOUT)
			break;
	int fd = C->khave ? C->kfd : -1, err = C->khave ? C->kerr : ETIMEDOUT;
	C->khave = 0;
	C->kfd = -1;
	C->kwait = 0; /* from now on kid's answer is late (on_sock_ans closes it) */
	pthread_mutex_unlock(&C->kmu);
	if (fd < 0) {
		log_debug("inquiry: no socket to the peer: %s", strerror(err));
		return CURL_SOCKET_BAD;
	}
	/* the connect the monitor started */
	struct pollfd pf = {fd, POLLOUT, 0};
	int ms = (int)((dl - now) / 1000000ULL);
	int r;
	do
		r = poll(&pf, 1, ms < 1 ? 1 : ms);
	while (r < 0 && errno == EINTR);
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr) {
		log_debug("inquiry: connect: %s", r <= 0 ? "timed out" : strerror(soerr));
		close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd;
}

static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	(void)ud;
	(void)fd;
	(void)purpose;
	return CURL_SOCKOPT_ALREADY_CONNECTED; /* connected by the monitor's connect */
}

/* host part of an endpoint, bracketed for IPv6: "10.0.0.1" / "[fd00::1]" */
static int url_host(const char *ep_s, char *out, size_t n)
{
	struct ht_endpoint ep;
	char b[HT_ENDPOINT_STRLEN];
	if (ht_endpoint_parse(ep_s, &ep) != 0)
		return -1;
	ht_endpoint_format(&ep, b, sizeof(b));
	char *colon = strrchr(b, ':');
	if (!colon)
		return -1;
	*colon = 0;
	snprintf(out, n, "%s", b);
	return 0;
}

static int start_leaf(struct job *j, cJSON *node, const char *canon, long rem_ms)
{
	const cJSON *jl = cJSON_GetObjectItem(node, "local"), *jr = cJSON_GetObjectItem(node, "remote");
	char host[HT_ENDPOINT_STRLEN + 2], url[HT_ENDPOINT_STRLEN + 40];
	if (url_host(jr->valuestring, host, sizeof(host)) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s://%s:%u/v1/trace", C->tls ? "https" : "http", host, C->c.port);

	cJSON *rq = cJSON_CreateObject();
	/* an older judge (format 1) asked: its parts of format 1 all the way up */
	cJSON_AddNumberToObject(rq, "v", j->part_v == 2 ? INQ_VERSION : 2);
	if (j->part_v == 2 && j->nonce[0])
		cJSON_AddStringToObject(rq, "have", j->have);
	cJSON_AddStringToObject(rq, "local", jr->valuestring);
	cJSON_AddStringToObject(rq, "remote", jl->valuestring);
	cJSON_AddNumberToObject(rq, "depth", j->depth - 1);
	cJSON_AddNumberToObject(rq, "deadline_ms", (double)rem_ms);
	/* when this host's walk met the connection (a creator's at a birth,
	 * history): the far host answers as of then */
	const cJSON *seen = cJSON_GetObjectItem(node, "seen_ago_ms");
	if (cJSON_IsNumber(seen) && seen->valuedouble >= 1 && seen->valuedouble <= 86400000)
		cJSON_AddNumberToObject(rq, "age_ms", (double)(long)seen->valuedouble);
	if (j->nonce[0])
		cJSON_AddStringToObject(rq, "nonce", j->nonce);
	cJSON *vis = cJSON_Duplicate(j->visited, 1);
	if (vis && !inq_visited_has(vis, canon) && cJSON_GetArraySize(vis) < INQ_VISITED_MAX)
		cJSON_AddItemToArray(vis, cJSON_CreateString(canon));
	cJSON_AddItemToObject(rq, "visited", vis ? vis : cJSON_CreateArray());
	char *body = cJSON_PrintUnformatted(rq);
	cJSON_Delete(rq);
	struct leafreq *l = calloc(1, sizeof(*l));
	CURL *e = curl_easy_init();
	if (!body || !l || !e) {
		free(body);
		free(l);
		if (e)
			curl_easy_cleanup(e);
		return -1;
	}
	l->j = j;
	l->node = node;
	l->e = e;
	l->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	l->hdr = curl_slist_append(l->hdr, "Expect:");
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, C->tls ? "https" : "http");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rem_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, rem_ms);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->hdr);
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, l);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(e, CURLOPT_PRIVATE, l);
	if (C->tls) {
		/* the fleet CA only: CAINFO's default path and CAPATH's default
		 * (/etc/ssl/certs) would add the system's CAs */
		curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &C->ca);
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &C->crt);
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &C->key);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L); /* the URL's IP in its SANs */
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		curl_easy_setopt(e, CURLOPT_SHARE, C->share);
		if (C->crl) {
			curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
			curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, C->crl);
		}
	}
	free(body);
	if (curl_multi_add_handle(C->multi, e) != CURLM_OK) {
		curl_slist_free_all(l->hdr);
		curl_easy_cleanup(e);
		free(l);
		return -1;
	}
	j->pending++;
	return 0;
}

static void start_job(struct job *j)
{
	cJSON *lv[INQ_LEAVES_MAX];
	size_t n = inq_leaves(j->ans, lv, INQ_LEAVES_MAX);
	uint64_t now = mono_ns();
	long rem_ms = j->deadline_ns > now ? (long)((j->deadline_ns - now) / 1000000ULL) : 0;
	for (size_t i = 0; i < n; i++) {
		char canon[2 * HT_ENDPOINT_STRLEN + 2];
		const char *l = cJSON_GetStringValue(cJSON_GetObjectItem(lv[i], "local"));
		const char *r = cJSON_GetStringValue(cJSON_GetObjectItem(lv[i], "remote"));
		if (inq_canon(l, r, canon, sizeof(canon)) != 0)
			inq_fill(lv[i], NULL, 0, "unknown endpoint");
		else if (inq_visited_has(j->visited, canon))
			inq_fill(lv[i], NULL, 0, "loop");
		else if (j->depth <= 0)
			inq_fill(lv[i], NULL, 0, "depth limit");
		else if (rem_ms < 2)
			inq_fill(lv[i], NULL, 0, "no answer");
		else if (start_leaf(j, lv[i], canon, rem_ms) != 0)
			inq_fill(lv[i], NULL, 0, "no answer");
	}
	if (j->pending == 0)
		finish_job(j);
}

/* curl's word for "the TLS peer is not one of ours" (or refused us) */
static int tls_refused(CURLcode rc)
{
	return rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_PEER_FAILED_VERIFICATION ||
	       rc == CURLE_SSL_ISSUER_ERROR || rc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
	       rc == CURLE_USE_SSL_FAILED;
}

static void leaf_done(CURL *e, CURLcode rc)
{
	struct leafreq *l = NULL;
	long code = 0;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&l);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		log_debug("inquiry: %s", curl_easy_strerror(rc));
		inq_fill(l->node, NULL, 0, C->tls && tls_refused(rc) ? "peer not in fleet" : "no answer");
	} else if (code != 200) {
		char why[128];
		inq_refused_reason(code, l->buf, l->len, why, sizeof(why));
		inq_fill(l->node, NULL, 0, why);
	} else {
		const char *end = NULL;
		cJSON *up = l->buf ? cJSON_ParseWithLengthOpts(l->buf, l->len, &end, 0) : NULL;
		if (inq_answer_valid(up) != 0) {
			cJSON_Delete(up);
			inq_fill(l->node, NULL, 0, "no answer");
		} else {
			int complete = inq_answer_complete(up);
			inq_fill(l->node, up, complete, complete ? NULL : "upstream incomplete");
			struct job *jj = l->j;
			size_t used = end && end > l->buf ? (size_t)(end - l->buf) : 0;
			/* raw only when the value is the text's first byte: cJSON skips a
			 * UTF-8 BOM (and whitespace) before it, which inside our own answer
			 * would not be JSON at all (review 15: one upstream host erased
			 * the forwarder's answer, tests/func/attack_review15_raw_bom.sh);
			 * any other text is printed again from its parse */
			if (!jj->paper && used && used <= l->len && l->buf[0] == '{' &&
			    !memchr(l->buf, 0, used) && jj->nraw < INQ_LEAVES_MAX) {
				l->buf[used] = 0; /* (what follows the answer, if anything, is dropped) */
				jj->raw_node[jj->nraw] = l->node;
				jj->raw_text[jj->nraw++] = l->buf;
				l->buf = NULL;
			}
		}
	}
	curl_multi_remove_handle(C->multi, e);
	curl_easy_cleanup(e); /* the connection stays in the multi's cache */
	curl_slist_free_all(l->hdr);
	free(l->buf);
	struct job *j = l->j;
	free(l);
	if (--j->pending == 0)
		finish_job(j);
}

static void *follower(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&C->mu);
		int stop = C->stop;
		struct job *jobs = C->fq;
		C->fq = NULL;
		C->fq_tail = &C->fq;
		pthread_mutex_unlock(&C->mu);
		while (jobs) {
			struct job *j = jobs;
			jobs = j->next;
			start_job(j);
		}
		if (stop)
			break;
		int running = 0, left;
		curl_multi_perform(C->multi, &running);
		CURLMsg *m;
		while ((m = curl_multi_info_read(C->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				leaf_done(m->easy_handle, m->data.result);
		curl_multi_poll(C->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

static int queue_job(cJSON *ans, long deadline_ms, int depth, cJSON *visited, int paper,
		     const char *nonce, int part_v, const char *have, int judge,
		     void (*done)(void *, uint64_t, const char *), void *arg, uint64_t id)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		cJSON_Delete(ans);
		cJSON_Delete(visited);
		return -1;
	}
	if (deadline_ms <= 0)
		deadline_ms = C->c.timeout_ms;
	deadline_ms -= margin_ms(deadline_ms);
	j->ans = ans;
	j->visited = visited;
	j->depth = depth;
	j->deadline_ns = mono_ns() + (uint64_t)(deadline_ms > 0 ? deadline_ms : 0) * 1000000ULL;
	j->paper = paper;
	j->judge = judge;
	snprintf(j->nonce, sizeof(j->nonce), "%s", nonce ? nonce : "");
	j->part_v = part_v;
	snprintf(j->have, sizeof(j->have), "%s", have && part_have_ok(have) ? have : "");
	j->done = done;
	j->arg = arg;
	j->id = id;
	pthread_mutex_lock(&C->mu);
	*C->fq_tail = j;
	C->fq_tail = &j->next;
	pthread_mutex_unlock(&C->mu);
	curl_multi_wakeup(C->multi);
	return 0;
}

/* ---- the front (common/tlsfront.c) -------------------------------------------- */

static void front_reply(uint64_t fid, int status, const char *json)
{
	tlsfront_reply(C->front, fid, status, json, strlen(json));
}

static void front_error(uint64_t fid, int status, const char *msg)
{
	char *s = inq_error_json(msg);
	log_debug("inquiry: HTTP %d: %s", status, msg);
	front_reply(fid, status, s ? s : "{\"ok\":false}");
	free(s);
}

static void http_done(void *arg, uint64_t id, const char *text)
{
	(void)arg;
	front_reply(id, 200, text);
}

static int ss_to_addr(const struct sockaddr_storage *ss, struct ps_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;
		a->family = 4;
		a->port = ntohs(s4->sin_port);
		memcpy(a->a, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		const struct sockaddr_in6 *s6 = (const void *)ss;
		a->port = ntohs(s6->sin6_port);
		if (!memcmp(&s6->sin6_addr, mapped, 12)) {
			a->family = 4;
			memcpy(a->a, (const uint8_t *)&s6->sin6_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->a, &s6->sin6_addr, 16);
		}
	} else {
		return -1;
	}
	return 0;
}

/* the front's loop thread: an authenticated POST /v1/trace (must not block
 * long: one datagram to the monitor) */
static void on_request(void *ud, const struct tlsfront_req *rq)
{
	(void)ud;
	struct hwait *h = calloc(1, sizeof(*h));
	char err[160];
	if (!h) {
		front_error(rq->id, 500, "out of memory");
		return;
	}
	h->fid = rq->id;
	if (inq_parse_request(rq->body, rq->body_len, &h->r, err, sizeof(err)) != 0) {
		free(h);
		front_error(rq->id, 400, err);
		return;
	}
	struct ps_who_req m;
	memset(&m, 0, sizeof(m));
	m.h.magic = PS_MAGIC;
	m.h.type = PS_WHO_REQ;
	if (ss_to_addr(&rq->peer, &m.peer) != 0 || ps_addr_from_text(h->r.local, &m.local) != 0 ||
	    ps_addr_from_text(h->r.remote, &m.remote) != 0) {
		inq_req_free(&h->r);
		free(h);
		front_error(rq->id, 400, "bad endpoints");
		return;
	}
	for (int i = 0; i < rq->npeer_addrs && i < PKI_ADDRS_MAX; i++) {
		struct ps_addr *pa = &m.peer_addrs[m.npeer_addrs];
		if (rq->peer_addrs[i].family == AF_INET) {
			pa->family = 4;
			memcpy(pa->a, rq->peer_addrs[i].a, 4);
		} else if (rq->peer_addrs[i].family == AF_INET6) {
			pa->family = 6;
			memcpy(pa->a, rq->peer_addrs[i].a, 16);
		} else {
			continue;
		}
		m.npeer_addrs++;
	}
	snprintf(m.peer_cn, sizeof(m.peer_cn), "%s", rq->peer_cn);
	m.depth = h->r.depth;
	m.deadline_ms = h->r.deadline_ms > 0 ? (uint32_t)h->r.deadline_ms : 0;
	m.age_ms = h->r.age_ms > 0 ? (uint32_t)h->r.age_ms : 0;
	m.paper = (uint32_t)h->r.paper;
	snprintf(m.nonce, sizeof(m.nonce), "%s", h->r.nonce);
	m.part_v = h->r.v >= 3 ? 2 : 1;
	snprintf(m.have, sizeof(m.have), "%s", h->r.have);
	pthread_mutex_lock(&C->mu);
	h->id = m.h.id = ++C->next_id;
	h->next = C->hw;
	C->hw = h;
	pthread_mutex_unlock(&C->mu);
	if (ps_send(C->ps, &C->smu, &m, sizeof(m), -1) != 0)
		ps_lost("WHO_REQ");
}

/* ---- the monitor's messages --------------------------------------------------- */

/* ---- the test hook: a compromised child's FOLLOW_DONE ---------------------------- */

static void evil_leaves(cJSON *node, int depth, void (*fn)(cJSON *leaf))
{
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(node, "type"));
	if (!type || depth > 200)
		return;
	if (!strcmp(type, "conn")) {
		fn(node);
		return;
	}
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(node, "sources"))
		evil_leaves(cJSON_GetObjectItem(s, "node"), depth + 1, fn);
}

static cJSON *innocent_tree(const char *host)
{
	cJSON *t = cJSON_CreateObject(), *src = cJSON_CreateArray(), *s = cJSON_CreateObject();
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", "proc");
	cJSON_AddStringToObject(t, "host", host);
	cJSON_AddNumberToObject(t, "pid", 1);
	cJSON_AddStringToObject(t, "exe", "/usr/bin/innocent");
	cJSON_AddStringToObject(t, "seen", "shim");
	cJSON_AddStringToObject(o, "type", "origin");
	cJSON_AddStringToObject(o, "host", host);
	cJSON_AddStringToObject(s, "via", "local");
	cJSON_AddItemToObject(s, "node", o);
	cJSON_AddItemToArray(src, s);
	cJSON_AddItemToObject(t, "sources", src);
	return t;
}

/* "unsigned": an answer naming an innocent origin process, without a part */
static void evil_unsigned(cJSON *L)
{
	const cJSON *old = cJSON_GetObjectItem(L, "upstream");
	const char *h = cJSON_GetStringValue(cJSON_GetObjectItem(old, "host"));
	char host[64];
	snprintf(host, sizeof(host), "%s", h ? h : "h1");
	cJSON *u = cJSON_CreateObject(), *subj = cJSON_CreateObject();
	cJSON_AddBoolToObject(u, "ok", 1);
	cJSON_AddStringToObject(u, "host", host);
	cJSON_AddNumberToObject(subj, "pid", 1);
	cJSON_AddStringToObject(subj, "local", cJSON_GetStringValue(cJSON_GetObjectItem(L, "remote")));
	cJSON_AddStringToObject(subj, "remote", cJSON_GetStringValue(cJSON_GetObjectItem(L, "local")));
	cJSON_AddItemToObject(u, "subject", subj);
	cJSON_AddItemToObject(u, "tree", innocent_tree(host));
	chain_reflatten(u);
	inq_fill(L, u, 1, NULL);
}

/* "outer": the genuine part kept, the answer around it rewritten */
static void evil_outer(cJSON *L)
{
	cJSON *u = cJSON_GetObjectItem(L, "upstream");
	if (!cJSON_IsObject(u))
		return;
	const char *h = cJSON_GetStringValue(cJSON_GetObjectItem(u, "host"));
	cJSON_ReplaceItemInObject(u, "tree", innocent_tree(h ? h : "h1"));
	chain_reflatten(u);
	inq_fill(L, cJSON_Duplicate(u, 1), 1, NULL);
}

/* "tampered": the genuine part's bytes changed (its signature no longer holds) */
static void evil_tampered(cJSON *L)
{
	cJSON *sg = cJSON_GetObjectItem(cJSON_GetObjectItem(L, "upstream"), "signed");
	const char *part = cJSON_GetStringValue(cJSON_GetObjectItem(sg, "part"));
	if (!part)
		return;
	char *t = strdup(part), *x = t ? strstr(t, "\"exe\":\"/") : NULL;
	if (x)
		x[8] = x[8] == 'u' ? 'v' : 'u'; /* "/usr/…" → "/vsr/…" */
	if (t)
		cJSON_ReplaceItemInObject(sg, "part", cJSON_CreateString(t));
	free(t);
}

/* "nocert": every format-2 part's certificate taken out (wherever it is), so the judge
 * is shown parts whose certificate it may not hold */
static void evil_nocert(cJSON *x, int depth)
{
	if (depth > 400 || !x)
		return;
	if (cJSON_IsObject(x)) {
		cJSON *sg = cJSON_GetObjectItem(x, "signed");
		const cJSON *v = cJSON_GetObjectItem(sg, "v");
		if (cJSON_IsObject(sg) && cJSON_IsNumber(v) && v->valuedouble == 2)
			cJSON_DeleteItemFromObject(sg, "cert");
	}
	cJSON *c;
	cJSON_ArrayForEach(c, x)
		evil_nocert(c, depth + 1);
}

/* the text a compromised child sends instead of text; NULL: send text as it is. A new
 * string (freed by the caller) or, for "oversized", nothing (*raw set: sent here). */
static char *evil_done(uint64_t id, const char *text, int *raw)
{
	const char *m = C->evil;
	*raw = 0;
	if (!strcmp(m, "unsigned") || !strcmp(m, "outer") || !strcmp(m, "tampered")) {
		cJSON *a = cJSON_Parse(text);
		if (!a)
			return NULL;
		evil_leaves(cJSON_GetObjectItem(a, "tree"), 0,
			    m[0] == 'u' ? evil_unsigned : m[0] == 'o' ? evil_outer : evil_tampered);
		chain_reflatten(a);
		cJSON_DeleteItemFromObject(a, "holders_incomplete");
		char *s = cJSON_PrintUnformatted(a);
		cJSON_Delete(a);
		return s;
	}
	/* nocert: every time; nocert_once: the first FOLLOW_DONE of a follow only (its
	 * monitor's second FOLLOW_REQ for it, without "have", is answered honestly) */
	if (!strcmp(m, "nocert") || (!strcmp(m, "nocert_once") && id != C->evil_last)) {
		C->evil_last = id;
		cJSON *a = cJSON_Parse(text);
		if (!a)
			return NULL;
		evil_nocert(a, 0);
		char *s = cJSON_PrintUnformatted(a);
		cJSON_Delete(a);
		log_info("inquiry child: evil %s: follow %llu: the certificates taken out", m,
			 (unsigned long long)id);
		return s;
	}
	if (!strcmp(m, "replay")) { /* the first answer, again and again (its nonce is old) */
		if (!C->replay) {
			C->replay = strdup(text);
			return NULL;
		}
		return strdup(C->replay);
	}
	if (!strcmp(m, "truncated")) {
		size_t n = strlen(text) / 2;
		char *s = malloc(n + 1);
		if (s) {
			memcpy(s, text, n);
			s[n] = 0;
		}
		return s;
	}
	if (!strcmp(m, "garbage")) {
		char *s = malloc(4097);
		for (int i = 0; s && i < 4096; i++)
			s[i] = (char)(0x21 + (i * 7919 + 13) % 94);
		if (s)
			s[4096] = 0;
		return s;
	}
	if (!strcmp(m, "oversized")) { /* a text over the limit announced */
		struct ps_follow_done d = {{PS_MAGIC, PS_FOLLOW_DONE, id}, PS_TEXT_MAX + 1, 0};
		*raw = 1;
		if (ps_send(C->ps, &C->smu, &d, sizeof(d), -1) != 0)
			ps_lost("FOLLOW_DONE");
	}
	return NULL;
}

static void follow_done(void *arg, uint64_t id, const char *text)
{
	(void)arg;
	char *evil = NULL;
	if (C->evil) {
		int raw;
		evil = evil_done(id, text, &raw);
		if (raw)
			return;
		if (evil)
			text = evil;
	}
	size_t n = strlen(text);
	struct ps_follow_done m = {{PS_MAGIC, PS_FOLLOW_DONE, id}, 0, 0};
	char big[160];
	if (n > PS_TEXT_MAX) {
		ht_qerr_format(big, sizeof(big), 0, 0, HT_QE_NO_MEMORY, NULL);
		text = big;
		n = strlen(big);
	}
	m.len = (uint32_t)n;
	if (ps_send_text(C->ps, &C->smu, &m, sizeof(m), text, n) != 0)
		ps_lost("FOLLOW_DONE");
	free(evil);
}

static void on_who_ans(const struct ps_who_ans *a, char *text)
{
	pthread_mutex_lock(&C->mu);
	struct hwait **pp = &C->hw, *h;
	while ((h = *pp) && h->id != a->h.id)
		pp = &h->next;
	if (h)
		*pp = h->next;
	pthread_mutex_unlock(&C->mu);
	if (!h)
		return;
	if (a->status != 200) {
		front_reply(h->fid, a->status, text);
	} else if (inq_wants_follow(text)) {
		cJSON *ans = cJSON_Parse(text);
		int depth = h->r.depth < 0 || h->r.depth > (int)C->c.max_depth ? (int)C->c.max_depth : h->r.depth;
		cJSON *vis = h->r.visited;
		h->r.visited = NULL;
		if (!ans || queue_job(ans, h->r.deadline_ms, depth, vis, h->r.paper, h->r.nonce,
				      h->r.v >= 3 ? 2 : 1, h->r.have, 0, http_done, NULL, h->fid) != 0)
			front_error(h->fid, 500, "out of memory");
	} else if (h->r.paper) {
		cJSON *a2 = cJSON_Parse(text);
		cJSON *p = a2 ? inq_to_paper(a2) : NULL;
		char *s = p ? cJSON_PrintUnformatted(p) : NULL;
		if (s)
			front_reply(h->fid, 200, s);
		else
			front_error(h->fid, 500, "out of memory");
		free(s);
		cJSON_Delete(p);
		cJSON_Delete(a2);
	} else {
		front_reply(h->fid, 200, text);
	}
	inq_req_free(&h->r);
	free(h);
}

static void on_follow_req(const struct ps_follow_req *f, char *text)
{
	cJSON *ans = cJSON_Parse(text);
	cJSON *vis = cJSON_CreateArray();
	char nonce[PS_NONCE_MAX];
	memcpy(nonce, f->nonce, sizeof(nonce)); /* the monitor's (its judge checks it) */
	nonce[sizeof(nonce) - 1] = 0;
	if (nonce[0] && !inq_nonce_ok(nonce))
		nonce[0] = 0;
	if (C->evil && !strcmp(C->evil, "nonce") && part_nonce(nonce) != 0) /* a nonce of its own */
		nonce[0] = 0;
	if (vis && f->subject[0])
		cJSON_AddItemToArray(vis, cJSON_CreateString(f->subject));
	if (!ans || !vis) {
		cJSON_Delete(ans);
		cJSON_Delete(vis);
		follow_done(NULL, f->h.id, text); /* as it came: its leaves unfollowed */
		return;
	}
	char have[PS_HAVE_MAX];
	memcpy(have, f->have, sizeof(have));
	have[sizeof(have) - 1] = 0;
	if (C->evil)
		log_info("inquiry child: evil %s: FOLLOW_REQ %llu, have %zu characters", C->evil,
			 (unsigned long long)f->h.id, strlen(have));
	if (queue_job(ans, (long)f->deadline_ms, f->depth, vis, 0, nonce, 2, have, 1, follow_done,
		      NULL, f->h.id) != 0)
		follow_done(NULL, f->h.id, text);
}

static void on_sock_ans(const struct ps_sock_ans *a, int fd)
{
	pthread_mutex_lock(&C->kmu);
	if (a->h.id == C->kid && C->kwait && !C->khave) {
		C->khave = 1;
		C->kfd = a->err == 0 ? fd : -1;
		C->kerr = a->err;
		fd = -1;
		pthread_cond_signal(&C->kcv);
	}
	pthread_mutex_unlock(&C->kmu);
	if (fd >= 0)
		close(fd); /* a late answer (after on_open stopped waiting), or a stray one */
}

/* the process's main thread: messages from the monitor, until it goes */
static void reader(void)
{
	static unsigned char buf[PS_MSG_MAX];
	struct ps_text t = {0};
	char why[160];
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} cb;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b)};
		ssize_t r = recvmsg(C->ps, &mh, MSG_CMSG_CLOEXEC);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			ps_lost("read");
		int fd = -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
				int nfd = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				for (int i = 0; i < nfd; i++) {
					int x;
					memcpy(&x, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
					if (fd < 0)
						fd = x;
					else
						close(x);
				}
			}
		const struct ps_hdr *h = (const void *)buf;
		if ((size_t)r < sizeof(*h) || h->magic != PS_MAGIC || (mh.msg_flags & MSG_TRUNC)) {
			log_warnx("inquiry child: bad message from the monitor");
			_exit(1);
		}
		int done = 0;
		if (h->type == PS_SOCK_ANS && (size_t)r == sizeof(struct ps_sock_ans)) {
			on_sock_ans((const void *)buf, fd);
			continue;
		}
		if (h->type == PS_PING && (size_t)r == sizeof(struct ps_hdr) && !t.active) {
			struct ps_hdr pong = {PS_MAGIC, PS_PONG, h->id};
			if (fd >= 0)
				close(fd);
			if (ps_send(C->ps, &C->smu, &pong, sizeof(pong), -1) != 0)
				ps_lost("PONG");
			continue;
		}
		if (fd >= 0)
			close(fd);
		if (h->type == PS_WHO_ANS && (size_t)r == sizeof(struct ps_who_ans))
			done = ps_text_begin(&t, buf, (size_t)r, ((const struct ps_who_ans *)buf)->len, why,
					     sizeof(why));
		else if (h->type == PS_FOLLOW_REQ && (size_t)r == sizeof(struct ps_follow_req))
			done = ps_text_begin(&t, buf, (size_t)r, ((const struct ps_follow_req *)buf)->len, why,
					     sizeof(why));
		else if (h->type == PS_CHUNK_MSG)
			done = ps_text_add(&t, buf, (size_t)r, why, sizeof(why));
		else
			done = -1, snprintf(why, sizeof(why), "type %u, %zd bytes", h->type, r);
		if (done < 0) {
			log_warnx("inquiry child: bad message from the monitor: %s", why);
			_exit(1);
		}
		if (!done)
			continue;
		char *text = t.buf;
		t.buf = NULL;
		if (t.type == PS_WHO_ANS) {
			struct ps_who_ans a;
			memcpy(&a, t.head, sizeof(a));
			on_who_ans(&a, text);
		} else {
			struct ps_follow_req f;
			memcpy(&f, t.head, sizeof(f));
			f.subject[sizeof(f.subject) - 1] = 0;
			on_follow_req(&f, text);
		}
		free(text);
		ps_text_reset(&t);
	}
}

/* ---- start --------------------------------------------------------------------- */

static int slurp(const char *path, struct curl_blob *b, char *err, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > 1 << 20) {
		snprintf(err, n, "%s: %s", path, fd < 0 ? strerror(errno) : "empty or too large");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char *p = malloc((size_t)st.st_size + 1);
	ssize_t r = p ? read(fd, p, (size_t)st.st_size) : -1;
	close(fd);
	if (r != st.st_size) {
		free(p);
		snprintf(err, n, "%s: short read", path);
		return -1;
	}
	p[r] = 0;
	b->data = p;
	b->len = (size_t)r;
	b->flags = CURL_BLOB_NOCOPY;
	return 0;
}

/* the listening socket the monitor bound and passed (PS_LISTEN_FD), or -1: the child
 * never binds, so the port is never free between two children */
static int listen_fd(const struct inq_conf *conf)
{
	int acc = 0;
	socklen_t al = sizeof(acc);
	if (getsockopt(PS_LISTEN_FD, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) == 0 && acc)
		return PS_LISTEN_FD;
	if (conf->enabled)
		log_warnx("inquiry child: no listening socket from the monitor: other hosts' "
			  "inquiries are not served");
	close(PS_LISTEN_FD);
	return -1;
}

int inq_child_main(const struct inq_conf *conf, int psfd)
{
	static struct child ch;
	char err[512];
	C = &ch;
	ch.c = *conf;
	ch.ps = psfd;
	ch.fq_tail = &ch.fq;
	pthread_mutex_init(&ch.smu, NULL);
	pthread_mutex_init(&ch.mu, NULL);
	pthread_mutex_init(&ch.kmu, NULL);
	pthread_cond_init(&ch.kcv, NULL);
	ch.tls = !conf->lab_plain;
	ch.evil = getenv("HT_TEST_EVIL_CHILD");
	if (ch.evil && !*ch.evil)
		ch.evil = NULL;
	if (ch.evil)
		log_warnx("inquiry child: HT_TEST_EVIL_CHILD=%s: this child FORGES its follows (a test of the judge)",
			  ch.evil);

	/* as root, before the drop: libraries' files, the TLS identity (the port is the
	 * monitor's: PS_LISTEN_FD) */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (ch.tls) {
		if (slurp(conf->fleet_ca, &ch.ca, err, sizeof(err)) != 0 ||
		    slurp(conf->fleet_cert, &ch.crt, err, sizeof(err)) != 0 ||
		    slurp(conf->fleet_key, &ch.key, err, sizeof(err)) != 0)
			fatalx("inquiry child: [fleet] %s", err);
		if (conf->fleet_crl[0] && !(ch.crl = pki_crl_load(conf->fleet_crl, err, sizeof(err))))
			fatalx("inquiry child: [fleet] %s", err);
	}
	int ls = listen_fd(conf);
	if (ls >= 0) {
		struct tlsfront_conf fc;
		char url[300];
		tlsfront_conf_defaults(&fc);
		const char *rest = strstr(conf->listen, "://");
		snprintf(url, sizeof(url), "%s%s", ch.tls ? "https" : "http", rest ? rest : "://[::]:8471");
		fc.listen = url;
		fc.lab_plain = conf->lab_plain;
		fc.ca_file = conf->fleet_ca;
		fc.cert_file = conf->fleet_cert;
		fc.key_file = conf->fleet_key;
		fc.crl_file = conf->fleet_crl[0] ? conf->fleet_crl : NULL;
		fc.path = "/v1/trace";
		fc.max_body = INQ_BODY_MAX;
		fc.rate = (int)conf->rate ? (int)conf->rate : 1000000;
#define SET(k)            \
	if (conf->k)      \
		fc.k = (int)conf->k;
		SET(head_timeout_ms)
		SET(body_timeout_ms)
		SET(idle_timeout_ms)
		SET(max_conns)
		SET(max_conns_per_peer)
		SET(max_preauth_per_peer)
		SET(handshakes_per_peer)
		SET(handshakes_total)
#undef SET
		ch.front = tlsfront_new_on(&fc, ls, err, sizeof(err));
		if (!ch.front)
			fatalx("inquiry: %s", err);
	}
	ch.multi = curl_multi_init();
	ch.share = curl_share_init();
	if (!ch.multi || !ch.share)
		fatalx("inquiry child: curl_multi_init failed");
	curl_share_setopt(ch.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_multi_setopt(ch.multi, CURLMOPT_MAXCONNECTS, 256L);

	/* descriptors: the front's connections + the follower's + a reserve */
	int nofile = (conf->max_conns ? (int)conf->max_conns : 256) + 256 + 64;
	if (ps_drop(conf->user, conf->chroot, nofile, err, sizeof(err)) != 0)
		fatalx("inquiry child: %s", err);
	log_info("inquiry child: running as uid %d in %s, %s", (int)getuid(), conf->chroot,
		 ch.tls ? "mTLS" : "lab_plain (plain HTTP)");

	/* threads only now: every one of them has no_new_privs */
	if (pthread_create(&ch.thr, NULL, follower, NULL) != 0)
		fatalx("inquiry child: cannot start the follower thread");
	if (ch.front && tlsfront_start(ch.front, on_request, NULL, err, sizeof(err)) != 0)
		fatalx("inquiry: %s", err);
	reader();
	return 0;
}
