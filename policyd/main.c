/*
 * hoptrace-policyd — the central access-list server (the paper's "access-list
 * server"). Answers POST /v1/decide with a decision from an access list in the
 * format of docs/policy.md. Protocol and authentication: docs/policy.md.
 *
 *   hoptrace-policyd [-f CONF] [-d] [-n] [-v]
 *     -f CONF  config file (default /etc/hoptrace/hoptrace.conf), section [policyd]
 *     -d       stay in the foreground, log to stderr
 *     -n       check the config and the policy, print every error, exit
 *     -v       verbose (log every decision)
 * SIGHUP reloads the policy (a bad file is refused, the old list stays);
 * SIGTERM/SIGINT stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "hoptrace/chain.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/acl.h"
#include "hoptrace/unshim.h"

#define SECRET_MAX 1024

struct pconf {
	char listen[512];
	char policy[512];
	char secret[SECRET_MAX];
	char secret_file[512];
	unsigned long long max_body;
	int have_secret;
};

static struct pconf conf;
static pthread_rwlock_t acl_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct acl *cur_acl;
static int verbose;

static int conf_cb(void *ctx, const char *section, const char *key, const char *value,
		   char *err, size_t errlen)
{
	struct pconf *c = ctx;
	if (strcmp(section, "policyd"))
		return 0;
	char *dst = NULL;
	size_t dl = 0;
	if (!strcmp(key, "listen")) {
		dst = c->listen;
		dl = sizeof c->listen;
	} else if (!strcmp(key, "policy")) {
		dst = c->policy;
		dl = sizeof c->policy;
	} else if (!strcmp(key, "secret")) {
		dst = c->secret;
		dl = sizeof c->secret;
		c->have_secret = 1;
	} else if (!strcmp(key, "secret_file")) {
		dst = c->secret_file;
		dl = sizeof c->secret_file;
	} else if (!strcmp(key, "max_body")) {
		return ini_uint(value, 64ull << 20, &c->max_body, err, errlen);
	} else {
		snprintf(err, errlen, "unknown key '%s' in [policyd]", key);
		return -1;
	}
	if (strlen(value) >= dl) {
		snprintf(err, errlen, "%s too long (max %zu bytes)", key, dl - 1);
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int read_secret_file(const char *path, char *out, size_t n, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ssize_t r = read(fd, out, n - 1);
	close(fd);
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	out[r] = 0;
	while (r > 0 && (out[r - 1] == '\n' || out[r - 1] == '\r' || out[r - 1] == ' '))
		out[--r] = 0;
	return 0;
}

static int load_conf(const char *path, struct pconf *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof c->listen, "http://0.0.0.0:8470");
	snprintf(c->policy, sizeof c->policy, "/etc/hoptrace/policy.acl");
	c->max_body = 1u << 20;
	if (ini_parse(path, conf_cb, c, err, errlen) != 0)
		return -1;
	if (c->secret_file[0] && read_secret_file(c->secret_file, c->secret, sizeof c->secret,
						  err, errlen))
		return -1;
	if (!c->secret[0]) {
		snprintf(err, errlen, "%s: [policyd] needs secret or secret_file", path);
		return -1;
	}
	if (strncmp(c->listen, "http://", 7)) {
		snprintf(err, errlen, "%s: [policyd] listen must be http://ADDR:PORT", path);
		return -1;
	}
	return 0;
}

/* Loads the policy; on success swaps it in. Returns 0 or -1 (errors logged). */
static int load_policy(int print)
{
	struct acl *a = NULL;
	struct acl_error errs[64];
	size_t n = 0;
	if (acl_load(conf.policy, &a, errs, 64, &n) != 0) {
		for (size_t i = 0; i < n && i < 64; i++) {
			if (print)
				fprintf(stderr, "%s:%d: %s\n", errs[i].file, errs[i].line,
					errs[i].reason);
			else
				log_warnx("%s:%d: %s", errs[i].file, errs[i].line, errs[i].reason);
		}
		if (n > 64)
			log_warnx("%s: %zu more errors", conf.policy, n - 64);
		return -1;
	}
	pthread_rwlock_wrlock(&acl_lock);
	struct acl *old = cur_acl;
	cur_acl = a;
	pthread_rwlock_unlock(&acl_lock);
	acl_free(old);
	if (!print)
		log_info("policy %s loaded (%zu rules)", conf.policy, acl_nrules(a));
	return 0;
}

/* constant time in the length of the presented token */
static int secret_ok(const char *hdr)
{
	static const char pfx[] = "Bearer ";
	if (!hdr || strncmp(hdr, pfx, sizeof pfx - 1))
		return 0;
	const char *got = hdr + sizeof pfx - 1;
	size_t gl = strlen(got), sl = strlen(conf.secret);
	volatile unsigned char diff = (unsigned char)(gl != sl);
	for (size_t i = 0; i < gl; i++)
		diff |= (unsigned char)got[i] ^ (unsigned char)conf.secret[i < sl ? i : 0];
	return diff == 0 && sl > 0;
}

static void reply_close(nng_aio *aio, uint16_t status, cJSON *body, int close_conn)
{
	nng_http_res *res;
	if (nng_http_res_alloc(&res) != 0) {
		cJSON_Delete(body);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	nng_http_res_set_status(res, status);
	nng_http_res_set_header(res, "Content-Type", "application/json");
	if (status == 401)
		nng_http_res_set_header(res, "WWW-Authenticate", "Bearer realm=\"hoptrace\"");
	if (status == 405)
		nng_http_res_set_header(res, "Allow", "POST");
	if (close_conn) /* the request body was not read */
		nng_http_res_set_header(res, "Connection", "close");
	char *s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (s) {
		nng_http_res_copy_data(res, s, strlen(s));
		cJSON_free(s);
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void reply(nng_aio *aio, uint16_t status, cJSON *body)
{
	reply_close(aio, status, body, 0);
}

static void reply_error_close(nng_aio *aio, uint16_t status, const char *msg, int close_conn)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", msg);
	if (verbose)
		log_info("HTTP %u: %s", status, msg);
	reply_close(aio, status, o, close_conn);
}

static void reply_error(nng_aio *aio, uint16_t status, const char *msg)
{
	reply_error_close(aio, status, msg, 0);
}

/* Decides on a complete body (after the method and size checks). */
static void process(nng_aio *aio, nng_http_req *req, const char *data, size_t len)
{
	if (!secret_ok(nng_http_req_get_header(req, "Authorization"))) {
		reply_error(aio, 401, "missing or wrong secret (Authorization: Bearer ...)");
		return;
	}
	if (!data || len == 0) {
		reply_error(aio, 400, "empty body: expected the collector's answer JSON");
		return;
	}
	cJSON *j = cJSON_ParseWithLength(data, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		reply_error(aio, 400, "malformed JSON: expected an object with \"chains\"");
		return;
	}
	cJSON_Delete(j);
	struct ht_chainset cs = {0, NULL};
	const char *err = NULL;
	if (ht_chains_from_json(data, len, &cs, &err) != 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "bad chain answer: %s", err ? err : "invalid");
		reply_error(aio, 400, msg);
		return;
	}
	struct acl_result res;
	pthread_rwlock_rdlock(&acl_lock);
	enum acl_verdict v = acl_decide(cur_acl, &cs, &res);
	pthread_rwlock_unlock(&acl_lock);
	const char *why = res.text;
	if (verbose) {
		char s[HT_ENDPOINT_STRLEN] = "-", d[HT_ENDPOINT_STRLEN] = "-";
		if (cs.n) {
			ht_endpoint_format(&cs.v[0].src, s, sizeof s);
			ht_endpoint_format(&cs.v[0].dst, d, sizeof d);
		}
		log_info("%s -> %s (%zu chains): %s: %s", s, d, cs.n, acl_verdict_str(v), why);
	}
	ht_chainset_free(&cs);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "verdict", acl_verdict_str(v));
	cJSON_AddStringToObject(o, "why", why);
	if (res.why == ACL_WHY_RULE) /* a rule, not a reason (policy_remote.h) */
		cJSON_AddStringToObject(o, "rule", res.rule);
	reply(aio, 200, o);
}

/* The body is read here rather than by nng's collector, so that an oversized
 * request gets 413 (nng 1.5 answers 400) before any of it is read. */
struct body_read {
	nng_aio *outer, *sub;
	nng_http_req *req;
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
		process(br->outer, br->req, br->buf, br->len);
	free(br->buf);
	nng_aio_reap(br->sub);
	free(br);
}

static void handle_decide(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	const char *m = nng_http_req_get_method(req);
	const char *cl = nng_http_req_get_header(req, "Content-Length");
	const char *te = nng_http_req_get_header(req, "Transfer-Encoding");
	if (strcmp(m, "POST")) {
		reply_error_close(aio, 405, "method not allowed: use POST", cl || te);
		return;
	}
	if (te) {
		reply_error_close(aio, 411, "chunked bodies are not accepted: send Content-Length", 1);
		return;
	}
	unsigned long long n = 0;
	char ebuf[64];
	if (cl && ini_uint(cl, ~0ull, &n, ebuf, sizeof ebuf) != 0) {
		reply_error_close(aio, 400, "bad Content-Length", 1);
		return;
	}
	if (n > conf.max_body) {
		char msg[96];
		snprintf(msg, sizeof msg, "request body too large (max %llu bytes)", conf.max_body);
		reply_error_close(aio, 413, msg, 1);
		return;
	}
	if (n == 0) {
		process(aio, req, NULL, 0);
		return;
	}
	struct body_read *br = calloc(1, sizeof(*br));
	if (!br || !(br->buf = malloc((size_t)n)) ||
	    nng_aio_alloc(&br->sub, body_done, br) != 0) {
		if (br)
			free(br->buf);
		free(br);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	br->outer = aio;
	br->req = req;
	br->len = (size_t)n;
	nng_iov iov = {.iov_buf = br->buf, .iov_len = br->len};
	nng_aio_set_iov(br->sub, 1, &iov);
	nng_aio_set_timeout(br->sub, 10000);
	nng_http_conn_read_all(conn, br->sub);
}

static void usage(void)
{
	fprintf(stderr, "usage: hoptrace-policyd [-f CONF] [-d] [-n] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	ht_unshim_self(argv);
	const char *cpath = HT_CONF_DEFAULT;
	int fg = 0, check = 0, ch;
	char err[1024];
	while ((ch = getopt(argc, argv, "f:dnvh")) != -1) {
		switch (ch) {
		case 'f': cpath = optarg; break;
		case 'd': fg = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("hoptrace-policyd", fg || check, verbose);
	if (load_conf(cpath, &conf, err, sizeof err) != 0) {
		fprintf(stderr, "hoptrace-policyd: %s\n", err);
		return 1;
	}
	if (check) {
		if (load_policy(1) != 0)
			return 1;
		printf("config OK; policy OK (%zu rules)\n", acl_nrules(cur_acl));
		acl_free(cur_acl);
		return 0;
	}
	if (load_policy(fg) != 0) {
		if (!fg)
			fprintf(stderr, "hoptrace-policyd: %s: bad policy, not started\n",
				conf.policy);
		return 1;
	}
	if (!fg && daemon(0, 0) != 0)
		fatal("daemon");

	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ss, NULL); /* nng's threads inherit the mask */
	signal(SIGPIPE, SIG_IGN);

	nng_url *url;
	nng_http_server *srv;
	nng_http_handler *h;
	int rv;
	if ((rv = nng_url_parse(&url, conf.listen)) != 0)
		fatalx("listen %s: %s", conf.listen, nng_strerror(rv));
	if ((rv = nng_http_server_hold(&srv, url)) != 0)
		fatalx("http server %s: %s", conf.listen, nng_strerror(rv));
	if ((rv = nng_http_handler_alloc(&h, "/v1/decide", handle_decide)) != 0 ||
	    (rv = nng_http_handler_set_method(h, NULL)) != 0 ||
	    (rv = nng_http_handler_collect_body(h, false, 0)) != 0 ||
	    (rv = nng_http_server_add_handler(srv, h)) != 0)
		fatalx("http handler: %s", nng_strerror(rv));
	if ((rv = nng_http_server_start(srv)) != 0)
		fatalx("listen %s: %s", conf.listen, nng_strerror(rv));
	log_info("listening on %s, policy %s", conf.listen, conf.policy);

	for (;;) {
		int sig;
		if (sigwait(&ss, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (load_policy(0) != 0)
				log_warnx("%s: reload refused, keeping the previous policy",
					  conf.policy);
			continue;
		}
		break;
	}
	log_info("stopping");
	nng_http_server_stop(srv);
	nng_http_server_release(srv);
	nng_url_free(url);
	pthread_rwlock_wrlock(&acl_lock);
	acl_free(cur_acl);
	cur_acl = NULL;
	pthread_rwlock_unlock(&acl_lock);
	return 0;
}
