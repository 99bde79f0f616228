/*
 * inquiry_svc.c — the trace inquiry service (docs/inquiry.md).
 *
 * Threads and ownership:
 *   - nng's HTTP threads run handle_trace(): method, size, secret, body, JSON,
 *     rate. A valid inquiry is queued for the main loop (mutex + eventfd); the
 *     nng aio stays pending, so no nng thread ever waits.
 *   - the main loop (the only thread that touches the graph) calls
 *     inquiry_main(): computes the local "who" answer, replies at once when it
 *     has nothing to follow, else hands the answer text to the follower.
 *   - one follower thread owns a libcurl multi handle: every conn leaf of every
 *     pending answer is one transfer, all concurrent; the multi's connection
 *     cache keeps one keep-alive connection per peer. When a job's last leaf
 *     is in (or timed out), it merges, re-flattens and calls the job's done()
 *     — which replies to HTTP (nng_aio_finish), the guard (send on a dup of
 *     its socket) or the CLI (nng raw REP send).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "hoptrace/chain.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/query.h"
#include "chain.h"
#include "inquiry.h"

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
	size_t pending;
	inq_done_fn done;
	void *arg;
};

struct hreq {
	struct hreq *next;
	nng_aio *aio;
	struct inq_req r;
};

struct bucket {
	char key[64];
	double tokens;
	uint64_t last;
};

struct inquiry {
	struct inq_conf c;
	char host[64];
	inq_who_fn who;
	void *who_arg;
	int efd;
	pthread_mutex_t mu;
	struct hreq *mq, **mq_tail;
	struct job *fq, **fq_tail;
	int stop;
	pthread_t thr;
	int thr_started;
	CURLM *multi;
	nng_http_server *srv;
	nng_url *url;
	pthread_mutex_t rmu;
	struct bucket buckets[256];
	char auth[300];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* what a level keeps back from its deadline for the way home */
static long margin_ms(long d)
{
	long m = d / 10;
	return m < 5 ? 5 : m;
}

/* ---- follower thread ------------------------------------------------------------ */

static void finish_job(struct job *j)
{
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
	j->done(j->arg, text ? text : oom);
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

static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	struct inquiry *q = ud;
	(void)purpose;
	if (q->c.mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &q->c.mark, sizeof(q->c.mark)) < 0)
		log_warn("inquiry: SO_MARK 0x%x", q->c.mark);
	return CURL_SOCKOPT_OK;
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

static int start_leaf(struct inquiry *q, struct job *j, cJSON *node, const char *canon, long rem_ms)
{
	const cJSON *jl = cJSON_GetObjectItem(node, "local"), *jr = cJSON_GetObjectItem(node, "remote");
	char host[HT_ENDPOINT_STRLEN + 2], url[HT_ENDPOINT_STRLEN + 40];
	if (url_host(jr->valuestring, host, sizeof(host)) != 0)
		return -1;
	snprintf(url, sizeof(url), "http://%s:%u/v1/trace", host, q->c.port);

	cJSON *rq = cJSON_CreateObject();
	cJSON_AddStringToObject(rq, "local", jr->valuestring);
	cJSON_AddStringToObject(rq, "remote", jl->valuestring);
	cJSON_AddNumberToObject(rq, "depth", j->depth - 1);
	cJSON_AddNumberToObject(rq, "deadline_ms", (double)rem_ms);
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
	if (q->auth[0])
		l->hdr = curl_slist_append(l->hdr, q->auth);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rem_ms);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, rem_ms);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->hdr);
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
	curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, q);
	curl_easy_setopt(e, CURLOPT_PRIVATE, l);
	free(body);
	if (curl_multi_add_handle(q->multi, e) != CURLM_OK) {
		curl_slist_free_all(l->hdr);
		curl_easy_cleanup(e);
		free(l);
		return -1;
	}
	j->pending++;
	return 0;
}

static void start_job(struct inquiry *q, struct job *j)
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
		else if (start_leaf(q, j, lv[i], canon, rem_ms) != 0)
			inq_fill(lv[i], NULL, 0, "no answer");
	}
	if (j->pending == 0)
		finish_job(j);
}

static void leaf_done(struct inquiry *q, CURL *e, CURLcode rc)
{
	struct leafreq *l = NULL;
	long code = 0;
	curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&l);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		log_debug("inquiry: %s", curl_easy_strerror(rc));
		inq_fill(l->node, NULL, 0, "no answer");
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
	curl_multi_remove_handle(q->multi, e);
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
	struct inquiry *q = arg;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		int stop = q->stop;
		struct job *jobs = q->fq;
		q->fq = NULL;
		q->fq_tail = &q->fq;
		pthread_mutex_unlock(&q->mu);
		while (jobs) {
			struct job *j = jobs;
			jobs = j->next;
			start_job(q, j);
		}
		if (stop)
			break;
		int running = 0, left;
		curl_multi_perform(q->multi, &running);
		CURLMsg *m;
		while ((m = curl_multi_info_read(q->multi, &left)))
			if (m->msg == CURLMSG_DONE)
				leaf_done(q, m->easy_handle, m->data.result);
		curl_multi_poll(q->multi, NULL, 0, 1000, NULL);
	}
	return NULL;
}

static int queue_job(struct inquiry *q, cJSON *ans, long deadline_ms, int depth, cJSON *visited,
		     int paper, inq_done_fn done, void *arg)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		cJSON_Delete(ans);
		cJSON_Delete(visited);
		return -1;
	}
	if (deadline_ms <= 0)
		deadline_ms = q->c.timeout_ms;
	deadline_ms -= margin_ms(deadline_ms);
	j->ans = ans;
	j->visited = visited;
	j->depth = depth;
	j->deadline_ns = mono_ns() + (uint64_t)deadline_ms * 1000000ULL;
	j->paper = paper;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->mu);
	*q->fq_tail = j;
	q->fq_tail = &j->next;
	pthread_mutex_unlock(&q->mu);
	curl_multi_wakeup(q->multi);
	return 0;
}

int inquiry_wants_follow(const struct inquiry *q, const char *answer)
{
	/* the answer is cJSON's unformatted print: the member is written so */
	return q && answer && strstr(answer, "\"reason\":\"" HT_LEAF_NOT_FOLLOWED "\"") != NULL;
}

int inquiry_follow(struct inquiry *q, const char *answer, long deadline_ms, const char *subject_canon,
		   inq_done_fn done, void *arg)
{
	cJSON *ans = cJSON_Parse(answer);
	cJSON *vis = cJSON_CreateArray();
	if (!ans || !vis) {
		cJSON_Delete(ans);
		cJSON_Delete(vis);
		return -1;
	}
	if (subject_canon)
		cJSON_AddItemToArray(vis, cJSON_CreateString(subject_canon));
	return queue_job(q, ans, deadline_ms, (int)q->c.max_depth, vis, 0, done, arg);
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

static void http_done(void *arg, const char *text)
{
	http_reply(arg, 200, text, 0);
}

/* token bucket per key; 1 = allowed */
static int rate_ok(struct inquiry *q, const char *key)
{
	if (!q->c.rate)
		return 1;
	uint32_t h = 2166136261u;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	uint64_t now = mono_ns();
	double burst = 2.0 * q->c.rate;
	pthread_mutex_lock(&q->rmu);
	struct bucket *b = &q->buckets[h % 256];
	if (strcmp(b->key, key) != 0) { /* a new (or colliding) peer takes the slot */
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = burst;
		b->last = now;
	}
	b->tokens += (double)(now - b->last) / 1e9 * q->c.rate;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last = now;
	int ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&q->rmu);
	return ok;
}

static void process(struct inquiry *q, nng_aio *aio, const char *data, size_t len)
{
	struct hreq *h = calloc(1, sizeof(*h));
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
	/* the asking host is the far end of the connection it asks about */
	char key[HT_ENDPOINT_STRLEN + 2];
	if (url_host(h->r.remote, key, sizeof(key)) != 0 || !rate_ok(q, key)) {
		inq_req_free(&h->r);
		free(h);
		http_error(aio, 429, "too many inquiries", 0);
		return;
	}
	h->aio = aio;
	pthread_mutex_lock(&q->mu);
	*q->mq_tail = h;
	q->mq_tail = &h->next;
	pthread_mutex_unlock(&q->mu);
	uint64_t one = 1;
	if (write(q->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("inquiry: eventfd");
}

struct body_read {
	struct inquiry *q;
	nng_aio *outer, *sub;
	char *buf;
	size_t len;
};

static void body_done(void *arg)
{
	struct body_read *br = arg;
	int rv = nng_aio_result(br->sub);
	if (rv != 0)
		nng_aio_finish(br->outer, rv); /* nng closes the connection */
	else
		process(br->q, br->outer, br->buf, br->len);
	free(br->buf);
	nng_aio_reap(br->sub);
	free(br);
}

static void handle_trace(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_handler *hd = nng_aio_get_input(aio, 1);
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	struct inquiry *q = nng_http_handler_get_data(hd);
	const char *m = nng_http_req_get_method(req);
	const char *cl = nng_http_req_get_header(req, "Content-Length");
	const char *te = nng_http_req_get_header(req, "Transfer-Encoding");
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
	if (!inq_secret_ok(nng_http_req_get_header(req, "Authorization"), q->c.secret)) {
		http_error(aio, 401, "missing or wrong secret (Authorization: Bearer ...)", n > 0);
		return;
	}
	if (n == 0) {
		process(q, aio, NULL, 0);
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
	br->q = q;
	br->outer = aio;
	br->len = (size_t)n;
	nng_iov iov = {.iov_buf = br->buf, .iov_len = br->len};
	nng_aio_set_iov(br->sub, 1, &iov);
	nng_aio_set_timeout(br->sub, 5000);
	nng_http_conn_read_all(conn, br->sub);
}

/* main thread: every queued HTTP inquiry */
void inquiry_main(struct inquiry *q)
{
	uint64_t x;
	if (read(q->efd, &x, sizeof(x)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&q->mu);
	struct hreq *list = q->mq;
	q->mq = NULL;
	q->mq_tail = &q->mq;
	pthread_mutex_unlock(&q->mu);
	while (list) {
		struct hreq *h = list;
		list = h->next;
		char *ans = q->who(q->who_arg, h->r.local, h->r.remote);
		cJSON *a = ans ? cJSON_Parse(ans) : NULL;
		if (!a) {
			http_error(h->aio, 500, "out of memory", 0);
		} else if (!cJSON_IsTrue(cJSON_GetObjectItem(a, "ok"))) {
			const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(a, "error"));
			const char *cn = cJSON_GetStringValue(cJSON_GetObjectItem(a, "code"));
			enum ht_qerr code = ht_qerr_from_name(cn, cn ? strlen(cn) : 0);
			if (code == HT_QE_NO_CONN || code == HT_QE_NO_HOLDER || code == HT_QE_NO_PROC)
				http_error(h->aio, 404, "no such connection", 0);
			else
				http_error(h->aio, 400, e ? e : "bad request", 0);
			cJSON_Delete(a);
		} else if (inquiry_wants_follow(q, ans)) {
			int depth = h->r.depth < 0 || h->r.depth > (int)q->c.max_depth ? (int)q->c.max_depth
											   : h->r.depth;
			cJSON *vis = h->r.visited;
			h->r.visited = NULL;
			if (queue_job(q, a, h->r.deadline_ms, depth, vis, h->r.paper, http_done, h->aio) != 0)
				http_error(h->aio, 500, "out of memory", 0);
		} else if (h->r.paper) {
			cJSON *p = inq_to_paper(a);
			char *s = p ? cJSON_PrintUnformatted(p) : NULL;
			http_reply(h->aio, 200, s, 0);
			free(s);
			cJSON_Delete(p);
			cJSON_Delete(a);
		} else {
			http_reply(h->aio, 200, ans, 0);
			cJSON_Delete(a);
		}
		free(ans);
		inq_req_free(&h->r);
		free(h);
	}
}

int inquiry_fd(const struct inquiry *q)
{
	return q->efd;
}

struct inquiry *inquiry_start(const struct inq_conf *c, const char *hostname, inq_who_fn who,
			      void *who_arg, char *err, size_t n)
{
	struct inquiry *q = calloc(1, sizeof(*q));
	int rv;
	if (!q) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	q->c = *c;
	snprintf(q->host, sizeof(q->host), "%s", hostname);
	q->who = who;
	q->who_arg = who_arg;
	q->mq_tail = &q->mq;
	q->fq_tail = &q->fq;
	pthread_mutex_init(&q->mu, NULL);
	pthread_mutex_init(&q->rmu, NULL);
	if (c->secret[0])
		snprintf(q->auth, sizeof(q->auth), "Authorization: Bearer %s", c->secret);
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	q->multi = curl_multi_init();
	if (q->efd < 0 || !q->multi) {
		snprintf(err, n, "inquiry: eventfd or curl_multi_init failed");
		goto fail;
	}
	curl_multi_setopt(q->multi, CURLMOPT_MAXCONNECTS, 256L);
	if (pthread_create(&q->thr, NULL, follower, q) != 0) {
		snprintf(err, n, "inquiry: cannot start the follower thread");
		goto fail;
	}
	q->thr_started = 1;
	if (c->enabled) {
		nng_http_handler *h;
		if ((rv = nng_url_parse(&q->url, c->listen)) != 0 ||
		    (rv = nng_http_server_hold(&q->srv, q->url)) != 0) {
			snprintf(err, n, "inquiry listen %s: %s", c->listen, nng_strerror(rv));
			goto fail;
		}
		if ((rv = nng_http_handler_alloc(&h, "/v1/trace", handle_trace)) != 0 ||
		    (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
		    (rv = nng_http_handler_collect_body(h, false, 0)) != 0 ||
		    (rv = nng_http_handler_set_data(h, q, NULL)) != 0 ||
		    (rv = nng_http_server_add_handler(q->srv, h)) != 0 ||
		    (rv = nng_http_server_start(q->srv)) != 0) {
			snprintf(err, n, "inquiry listen %s: %s", c->listen, nng_strerror(rv));
			goto fail;
		}
		if (!c->secret[0])
			log_warnx("inquiry: no secret configured: every inquiry is refused (401)");
	}
	return q;
fail:
	inquiry_stop(q);
	return NULL;
}

void inquiry_stop(struct inquiry *q)
{
	if (!q)
		return;
	if (q->srv) {
		nng_http_server_stop(q->srv);
		nng_http_server_release(q->srv);
	}
	if (q->url)
		nng_url_free(q->url);
	if (q->thr_started) {
		pthread_mutex_lock(&q->mu);
		q->stop = 1;
		pthread_mutex_unlock(&q->mu);
		curl_multi_wakeup(q->multi);
		pthread_join(q->thr, NULL);
	}
	/* pending HTTP inquiries are answered by nng's own teardown */
	if (q->multi)
		curl_multi_cleanup(q->multi);
	if (q->efd >= 0)
		close(q->efd);
	free(q);
}
