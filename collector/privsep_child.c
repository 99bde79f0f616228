/*
 * privsep_child.c — the inquiry service's unprivileged child (privsep.h):
 * everything that parses what the network sends.
 *
 *   - the HTTP(S) front (nng's HTTP server for now, on its own threads):
 *     method, size, body, JSON, rate; a valid inquiry goes to the monitor as a
 *     binary WHO_REQ with the TCP peer's address; the monitor's WHO_ANS comes
 *     back on the reader (the process's main thread), which replies at once or
 *     hands the answer to the follower;
 *   - one follower thread owning a libcurl multi handle: every conn leaf of
 *     every pending answer is one transfer, all concurrent; the multi's
 *     connection cache keeps keep-alive connections per peer (and TLS
 *     sessions). Each new connection's socket is made by the monitor
 *     (SOCK_REQ: SO_MARK, only to a far end of a leaf it handed out, only to
 *     the inquiry port) and passed here; libcurl takes it as connected.
 *   - the monitor's FOLLOW_REQ (a guard/CLI answer) is followed the same way
 *     and its merged, checked answer sent back as FOLLOW_DONE.
 * With [fleet] (not lab_plain) outgoing inquiries are HTTPS with this host's
 * TLS certificate, the fleet CA only (CAPATH NULL) and VERIFYHOST 2 on the
 * IP URL; curl's TLS failures end a leaf "peer not in fleet". A judge's nonce
 * goes upstream in every inquiry; upstream parts are checked
 * (parts_verify_answer) before a judged answer goes back to the monitor.
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
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

#include "hoptrace/chain.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/query.h"
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
	int judge;                    /* check the upstream parts (the monitor's own follow) */
	char nonce[PS_NONCE_MAX];
	size_t pending;
	void (*done)(void *arg, uint64_t id, const char *text);
	void *arg;
	uint64_t id;
};

/* an HTTP inquiry waiting for the monitor's WHO_ANS */
struct hwait {
	struct hwait *next;
	uint64_t id;
	nng_aio *aio;
	struct inq_req r;
};

struct bucket {
	char key[64];
	double tokens;
	uint64_t last;
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
	nng_http_server *srv;
	nng_url *url;
	pthread_mutex_t rmu;
	struct bucket buckets[256];
	char auth[300];
	/* SOCK_REQ/SOCK_ANS: one at a time (the follower is the only asker) */
	pthread_mutex_t kmu;
	pthread_cond_t kcv;
	uint64_t kid;
	int kfd, kerr, khave;
	/* TLS client identity (loaded as root, kept in memory) */
	int tls;
	struct curl_blob ca, crt, key;
	struct pki_trust *trust;
};

static struct child *C;

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
	if (j->judge && j->nonce[0] && C->trust)
		parts_verify_answer(C->trust, j->nonce, j->ans); /* rebuilds the chains */
	else
		chain_reflatten(j->ans);
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
	cJSON_AddStringToObject(rq, "local", jr->valuestring);
	cJSON_AddStringToObject(rq, "remote", jl->valuestring);
	cJSON_AddNumberToObject(rq, "depth", j->depth - 1);
	cJSON_AddNumberToObject(rq, "deadline_ms", (double)rem_ms);
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
	if (!C->tls && C->auth[0])
		l->hdr = curl_slist_append(l->hdr, C->auth);
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
		char why[32];
		snprintf(why, sizeof(why), "refused: %ld", code);
		inq_fill(l->node, NULL, 0, why);
	} else {
		cJSON *up = l->buf ? cJSON_ParseWithLength(l->buf, l->len) : NULL;
		if (inq_answer_valid(up) != 0) {
			cJSON_Delete(up);
			inq_fill(l->node, NULL, 0, "no answer");
		} else {
			int complete = inq_answer_complete(up);
			inq_fill(l->node, up, complete, complete ? NULL : "upstream incomplete");
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
		     const char *nonce, int judge, void (*done)(void *, uint64_t, const char *),
		     void *arg, uint64_t id)
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

/* ---- HTTP ----------------------------------------------------------------------- */

static void http_reply(nng_aio *aio, uint16_t status, const char *json, int close_conn)
{
	nng_http_res *res;
	if (nng_http_res_alloc(&res) != 0) {
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, status);
	nng_http_res_set_header(res, "Content-Type", "application/json");
	if (status == 401)
		nng_http_res_set_header(res, "WWW-Authenticate", "Bearer realm=\"hoptrace\"");
	if (status == 405)
		nng_http_res_set_header(res, "Allow", "POST");
	if (close_conn)
		nng_http_res_set_header(res, "Connection", "close");
	if (json)
		nng_http_res_copy_data(res, json, strlen(json));
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void http_error(nng_aio *aio, uint16_t status, const char *msg, int close_conn)
{
	char *s = inq_error_json(msg);
	log_debug("inquiry: HTTP %u: %s", status, msg);
	http_reply(aio, status, s, close_conn);
	free(s);
}

static void http_done(void *arg, uint64_t id, const char *text)
{
	(void)id;
	http_reply(arg, 200, text, 0);
}

/* token bucket per key; 1 = allowed */
static int rate_ok(const char *key)
{
	if (!C->c.rate)
		return 1;
	uint32_t h = 2166136261u;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	uint64_t now = mono_ns();
	double burst = 2.0 * C->c.rate;
	pthread_mutex_lock(&C->rmu);
	struct bucket *b = &C->buckets[h % 256];
	if (strcmp(b->key, key) != 0) {
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = burst;
		b->last = now;
	}
	b->tokens += (double)(now - b->last) / 1e9 * C->c.rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last = now;
	int ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&C->rmu);
	return ok;
}

/* The TCP peer of an nng HTTP connection. nng 1.5.2 gives a handler no peer
 * address; struct nng_http_conn begins with its nng_stream (v1.5.2 through
 * v1.9.0): docs/research/fleet-trust.md §2. Interim, until common/tlsfront.c. */
static int conn_peer(nng_http_conn *conn, struct ps_addr *a)
{
	nng_stream *s = *(nng_stream **)conn;
	nng_sockaddr sa;
	memset(a, 0, sizeof(*a));
	if (!s || nng_stream_get_addr(s, NNG_OPT_REMADDR, &sa) != 0)
		return -1;
	nng_stream_set_bool(s, NNG_OPT_TCP_NODELAY, true);
	if (sa.s_family == NNG_AF_INET) {
		a->family = 4;
		memcpy(a->a, &sa.s_in.sa_addr, 4);
		a->port = ntohs(sa.s_in.sa_port);
	} else if (sa.s_family == NNG_AF_INET6) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		a->port = ntohs(sa.s_in6.sa_port);
		if (!memcmp(sa.s_in6.sa_addr, mapped, 12)) {
			a->family = 4;
			memcpy(a->a, sa.s_in6.sa_addr + 12, 4);
		} else {
			a->family = 6;
			memcpy(a->a, sa.s_in6.sa_addr, 16);
		}
	} else {
		return -1;
	}
	return 0;
}

static void process(nng_aio *aio, const struct ps_addr *peer, const char *data, size_t len)
{
	struct hwait *h = calloc(1, sizeof(*h));
	char err[160];
	if (!h) {
		http_error(aio, 500, "out of memory", 0);
		return;
	}
	if (inq_parse_request(data, len, &h->r, err, sizeof(err)) != 0) {
		free(h);
		http_error(aio, 400, err, 0);
		return;
	}
	char key[HT_ENDPOINT_STRLEN + 2];
	struct ps_addr pk = *peer;
	pk.port = 0;
	ps_addr_text(&pk, key, sizeof(key));
	if (!rate_ok(key)) {
		inq_req_free(&h->r);
		free(h);
		http_error(aio, 429, "too many inquiries", 0);
		return;
	}
	struct ps_who_req m;
	memset(&m, 0, sizeof(m));
	m.h.magic = PS_MAGIC;
	m.h.type = PS_WHO_REQ;
	m.peer = *peer;
	if (ps_addr_from_text(h->r.local, &m.local) != 0 || ps_addr_from_text(h->r.remote, &m.remote) != 0) {
		inq_req_free(&h->r);
		free(h);
		http_error(aio, 400, "bad endpoints", 0);
		return;
	}
	m.depth = h->r.depth;
	m.deadline_ms = h->r.deadline_ms > 0 ? (uint32_t)h->r.deadline_ms : 0;
	m.paper = (uint32_t)h->r.paper;
	snprintf(m.nonce, sizeof(m.nonce), "%s", h->r.nonce);
	h->aio = aio;
	pthread_mutex_lock(&C->mu);
	h->id = m.h.id = ++C->next_id;
	h->next = C->hw;
	C->hw = h;
	pthread_mutex_unlock(&C->mu);
	if (ps_send(C->ps, &C->smu, &m, sizeof(m), -1) != 0)
		ps_lost("WHO_REQ");
}

struct body_read {
	nng_aio *outer, *sub;
	char *buf;
	size_t len;
	struct ps_addr peer;
};

static void body_done(void *arg)
{
	struct body_read *br = arg;
	int rv = nng_aio_result(br->sub);
	if (rv != 0)
		nng_aio_finish(br->outer, rv); /* nng closes the connection */
	else
		process(br->outer, &br->peer, br->buf, br->len);
	free(br->buf);
	nng_aio_reap(br->sub);
	free(br);
}

static void handle_trace(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	const char *m = nng_http_req_get_method(req);
	const char *cl = nng_http_req_get_header(req, "Content-Length");
	const char *te = nng_http_req_get_header(req, "Transfer-Encoding");
	struct ps_addr peer;
	if (conn_peer(conn, &peer) != 0) {
		http_error(aio, 500, "no peer address", 1);
		return;
	}
	if (strcmp(m, "POST")) {
		http_error(aio, 405, "method not allowed: use POST", cl || te);
		return;
	}
	if (te) {
		http_error(aio, 411, "chunked bodies are not accepted: send Content-Length", 1);
		return;
	}
	unsigned long long n = 0;
	char ebuf[64];
	if (cl && ini_uint(cl, ~0ull, &n, ebuf, sizeof ebuf) != 0) {
		http_error(aio, 400, "bad Content-Length", 1);
		return;
	}
	if (n > INQ_BODY_MAX) {
		http_error(aio, 413, "request body larger than 64 KiB", 1);
		return;
	}
	if (!C->tls && !C->c.lab_plain &&
	    !inq_secret_ok(nng_http_req_get_header(req, "Authorization"), C->c.secret)) {
		http_error(aio, 401, "missing or wrong secret (Authorization: Bearer ...)", n > 0);
		return;
	}
	if (n == 0) {
		process(aio, &peer, NULL, 0);
		return;
	}
	struct body_read *br = calloc(1, sizeof(*br));
	if (!br || !(br->buf = malloc((size_t)n)) || nng_aio_alloc(&br->sub, body_done, br) != 0) {
		if (br)
			free(br->buf);
		free(br);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	br->outer = aio;
	br->len = (size_t)n;
	br->peer = peer;
	nng_iov iov = {.iov_buf = br->buf, .iov_len = br->len};
	nng_aio_set_iov(br->sub, 1, &iov);
	nng_aio_set_timeout(br->sub, 5000);
	nng_http_conn_read_all(conn, br->sub);
}

/* ---- the monitor's messages --------------------------------------------------- */

static void follow_done(void *arg, uint64_t id, const char *text)
{
	(void)arg;
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
		http_reply(h->aio, (uint16_t)a->status, text, 0);
	} else if (inq_wants_follow(text)) {
		cJSON *ans = cJSON_Parse(text);
		int depth = h->r.depth < 0 || h->r.depth > (int)C->c.max_depth ? (int)C->c.max_depth : h->r.depth;
		cJSON *vis = h->r.visited;
		h->r.visited = NULL;
		if (!ans || queue_job(ans, h->r.deadline_ms, depth, vis, h->r.paper, h->r.nonce, 0,
				      http_done, h->aio, 0) != 0)
			http_error(h->aio, 500, "out of memory", 0);
	} else if (h->r.paper) {
		cJSON *a2 = cJSON_Parse(text);
		cJSON *p = a2 ? inq_to_paper(a2) : NULL;
		char *s = p ? cJSON_PrintUnformatted(p) : NULL;
		if (s)
			http_reply(h->aio, 200, s, 0);
		else
			http_error(h->aio, 500, "out of memory", 0);
		free(s);
		cJSON_Delete(p);
		cJSON_Delete(a2);
	} else {
		http_reply(h->aio, 200, text, 0);
	}
	inq_req_free(&h->r);
	free(h);
}

static void on_follow_req(const struct ps_follow_req *f, char *text)
{
	cJSON *ans = cJSON_Parse(text);
	cJSON *vis = cJSON_CreateArray();
	char nonce[PART_NONCE_B64 + 1] = "";
	if (C->tls && C->trust && part_nonce(nonce) != 0)
		nonce[0] = 0;
	if (vis && f->subject[0])
		cJSON_AddItemToArray(vis, cJSON_CreateString(f->subject));
	if (!ans || !vis) {
		cJSON_Delete(ans);
		cJSON_Delete(vis);
		follow_done(NULL, f->h.id, text); /* as it came: its leaves unfollowed */
		return;
	}
	if (queue_job(ans, (long)f->deadline_ms, f->depth, vis, 0, nonce, 1, follow_done, NULL, f->h.id) != 0)
		follow_done(NULL, f->h.id, text);
}

static void on_sock_ans(const struct ps_sock_ans *a, int fd)
{
	pthread_mutex_lock(&C->kmu);
	if (a->h.id == C->kid && !C->khave) {
		C->khave = 1;
		C->kfd = a->err == 0 ? fd : -1;
		C->kerr = a->err;
		fd = -1;
		pthread_cond_signal(&C->kcv);
	}
	pthread_mutex_unlock(&C->kmu);
	if (fd >= 0)
		close(fd); /* a late answer */
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

int inq_child_main(const struct inq_conf *conf, int psfd)
{
	static struct child ch;
	char err[512];
	int rv;
	C = &ch;
	ch.c = *conf;
	ch.ps = psfd;
	ch.fq_tail = &ch.fq;
	pthread_mutex_init(&ch.smu, NULL);
	pthread_mutex_init(&ch.mu, NULL);
	pthread_mutex_init(&ch.rmu, NULL);
	pthread_mutex_init(&ch.kmu, NULL);
	pthread_cond_init(&ch.kcv, NULL);
	ch.tls = !conf->lab_plain && conf->fleet_ca[0];
	if (conf->secret[0])
		snprintf(ch.auth, sizeof(ch.auth), "Authorization: Bearer %s", conf->secret);

	/* as root, before the drop: libraries' files, the TLS identity */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	nng_tls_config *tcfg = NULL;
	if (ch.tls) {
		if (slurp(conf->fleet_ca, &ch.ca, err, sizeof(err)) != 0 ||
		    slurp(conf->fleet_cert, &ch.crt, err, sizeof(err)) != 0 ||
		    slurp(conf->fleet_key, &ch.key, err, sizeof(err)) != 0)
			fatalx("inquiry child: %s", err);
		ch.trust = pki_trust_load(conf->fleet_ca, conf->fleet_crl[0] ? conf->fleet_crl : NULL, err,
					  sizeof(err));
		if (!ch.trust)
			fatalx("inquiry child: fleet CA: %s", err);
	}
	ch.multi = curl_multi_init();
	ch.share = curl_share_init();
	if (!ch.multi || !ch.share)
		fatalx("inquiry child: curl_multi_init failed");
	curl_share_setopt(ch.share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_multi_setopt(ch.multi, CURLMOPT_MAXCONNECTS, 256L);

	if (ps_drop(conf->user, conf->chroot, 4096, err, sizeof(err)) != 0)
		fatalx("inquiry child: %s", err);
	log_info("inquiry child: running as uid %d in %s, %s", (int)getuid(), conf->chroot,
		 ch.tls ? "mTLS" : conf->lab_plain ? "lab_plain (plain HTTP)" : "plain HTTP");

	/* threads only now (nng starts its own at its first call): every one of them
	 * has no_new_privs */
	if (ch.tls &&
	    ((rv = nng_tls_config_alloc(&tcfg, NNG_TLS_MODE_SERVER)) != 0 ||
	     (rv = nng_tls_config_version(tcfg, NNG_TLS_1_2, NNG_TLS_1_2)) != 0 ||
	     (rv = nng_tls_config_own_cert(tcfg, ch.crt.data, ch.key.data, NULL)) != 0 ||
	     (rv = nng_tls_config_ca_chain(tcfg, ch.ca.data, NULL)) != 0 ||
	     (rv = nng_tls_config_auth_mode(tcfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0))
		fatalx("inquiry child: TLS: %s", nng_strerror(rv));
	if (pthread_create(&ch.thr, NULL, follower, NULL) != 0)
		fatalx("inquiry child: cannot start the follower thread");
	if (conf->enabled) {
		char url[300];
		nng_http_handler *h;
		/* the front speaks https unless lab_plain; "listen" names the address */
		const char *rest = strstr(conf->listen, "://");
		snprintf(url, sizeof(url), "%s%s", ch.tls ? "https" : "http", rest ? rest : "://[::]:8471");
		if ((rv = nng_url_parse(&ch.url, url)) != 0 || (rv = nng_http_server_hold(&ch.srv, ch.url)) != 0)
			fatalx("inquiry listen %s: %s", url, nng_strerror(rv));
		if (tcfg && (rv = nng_http_server_set_tls(ch.srv, tcfg)) != 0)
			fatalx("inquiry listen %s: TLS: %s", url, nng_strerror(rv));
		if ((rv = nng_http_handler_alloc(&h, "/v1/trace", handle_trace)) != 0 ||
		    (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
		    (rv = nng_http_handler_collect_body(h, false, 0)) != 0 ||
		    (rv = nng_http_server_add_handler(ch.srv, h)) != 0 ||
		    (rv = nng_http_server_start(ch.srv)) != 0)
			fatalx("inquiry listen %s: %s", url, nng_strerror(rv));
		if (!ch.tls && !conf->lab_plain && !conf->secret[0])
			log_warnx("inquiry: no secret configured: every inquiry is refused (401)");
	}
	if (tcfg)
		nng_tls_config_free(tcfg);
	reader();
	return 0;
}
