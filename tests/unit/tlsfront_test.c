/*
 * tlsfront_test.c — the network front (common/tlsfront.c): the head parser and checks
 * (pure), then real servers on loopback with a fleet CA made by pki_ca_init/pki_issue and
 * libcurl as the client (CAINFO = the fleet CA, CAPATH NULL, VERIFYHOST 2, client
 * certificate and key): 200 with the peer's CN and address, keep-alive, a deferred reply,
 * 503 for a request never answered, 404/405/411/413, no certificate, another CA's,
 * a revoked one, one that does not name the peer address (403), the request rate (429),
 * the per-peer pre-auth eviction, the handshake bucket, the head deadline, lab_plain.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "hoptrace/pki.h"
#include "hoptrace/tlsfront.h"
#include "test.h"

static char dir[] = "/tmp/tlsfront_XXXXXX";
static char fleet[300], other[300];
static int pki_ready;

static void path_of(char *out, size_t n, const char *d, const char *name)
{
	snprintf(out, n, "%s/%s", d, name);
}

static int setup_pki(void)
{
	if (pki_ready)
		return pki_ready > 0;
	pki_ready = -1;
	if (!mkdtemp(dir))
		return 0;
	snprintf(fleet, sizeof fleet, "%s/fleet", dir);
	snprintf(other, sizeof other, "%s/other", dir);
	char *lo[] = {"127.0.0.1", "::1"}, *far[] = {"10.9.9.9"}, *revoked[] = {"gone"};
	char err[256] = "";
	if (pki_ca_init(fleet, 3650, err, sizeof err) ||
	    pki_issue(fleet, "srv", lo, 2, 30, NULL, err, sizeof err) ||
	    pki_issue(fleet, "h1", lo, 2, 30, NULL, err, sizeof err) ||
	    pki_issue(fleet, "far", far, 1, 30, NULL, err, sizeof err) ||
	    pki_issue(fleet, "gone", lo, 2, 30, NULL, err, sizeof err) ||
	    pki_ca_init(other, 3650, err, sizeof err) ||
	    pki_issue(other, "x", lo, 2, 30, NULL, err, sizeof err) ||
	    pki_revoke(fleet, revoked, 1, 30, NULL, err, sizeof err)) {
		fprintf(stderr, "    pki: %s\n", err);
		return 0;
	}
	pki_ready = 1;
	return 1;
}

/* ---- the server side ------------------------------------------------------------ */

static struct tlsfront *cur;

static void *later(void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;
	usleep(100000);
	tlsfront_reply(cur, id, 200, "{\"ok\":true,\"later\":true}", 24);
	return NULL;
}

static void handler(void *ud, const struct tlsfront_req *r)
{
	(void)ud;
	if (!strcmp(r->body, "never"))
		return;
	if (!strcmp(r->body, "later")) {
		pthread_t t;
		pthread_create(&t, NULL, later, (void *)(uintptr_t)r->id);
		pthread_detach(t);
		return;
	}
	char ip[INET6_ADDRSTRLEN] = "?", out[512];
	if (r->peer.ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&r->peer)->sin_addr, ip, sizeof ip);
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&r->peer)->sin6_addr, ip,
			  sizeof ip);
	int n = snprintf(out, sizeof out,
			 "{\"ok\":true,\"cn\":\"%s\",\"peer\":\"%s\",\"naddrs\":%d,\"len\":%zu}",
			 r->peer_cn, ip, r->npeer_addrs, r->body_len);
	tlsfront_reply(cur, r->id, 200, out, (size_t)n);
}

static struct tlsfront *server(struct tlsfront_conf *c)
{
	char err[512] = "";
	char ca[400], crt[400], key[400], crl[400];
	path_of(ca, sizeof ca, fleet, "ca.crt");
	path_of(crt, sizeof crt, fleet, "srv.crt");
	path_of(key, sizeof key, fleet, "srv.key");
	path_of(crl, sizeof crl, fleet, "crl.pem");
	if (!c->lab_plain) {
		c->ca_file = ca;
		c->cert_file = crt;
		c->key_file = key;
		c->crl_file = crl;
	}
	struct tlsfront *f = tlsfront_new(c, err, sizeof err);
	if (!f) {
		fprintf(stderr, "    tlsfront_new: %s\n", err);
		return NULL;
	}
	cur = f;
	if (tlsfront_start(f, handler, NULL, err, sizeof err) != 0) {
		fprintf(stderr, "    tlsfront_start: %s\n", err);
		tlsfront_stop(f);
		return NULL;
	}
	return f;
}

static void conf_for_test(struct tlsfront_conf *c)
{
	tlsfront_conf_defaults(c);
	c->listen = "https://[::]:0";
	c->path = "/v1/t";
	c->max_body = 4096;
	c->reply_timeout_ms = 400;
}

/* ---- the client side (libcurl, as policy/remote.c and the follower use it) -------- */

struct resp {
	char b[8192];
	size_t n;
	char hdr[4096];
	size_t hn;
	long code;
	CURLcode rc;
	long connects;
};

static size_t on_data(char *p, size_t sz, size_t nm, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * nm;
	if (r->n + k >= sizeof r->b)
		return 0;
	memcpy(r->b + r->n, p, k);
	r->n += k;
	r->b[r->n] = 0;
	return k;
}

static size_t on_hdr(char *p, size_t sz, size_t nm, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * nm;
	if (r->hn + k < sizeof r->hdr) {
		memcpy(r->hdr + r->hn, p, k);
		r->hn += k;
		r->hdr[r->hn] = 0;
	}
	return k;
}

static char client_ca[400]; /* the CA the client trusts; "" = the fleet's */

/* one request; e: a handle kept between calls (keep-alive) or NULL. who: certificate
 * name in dir d ("-" none); method NULL = POST; hdr: one extra header or NULL */
static void ask(CURL *e, struct resp *r, const char *url, const char *d, const char *who,
		const char *method, const char *body, long bodylen, const char *hdr)
{
	int own = !e;
	char ca[400], crt[400], key[400];
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, hdr ? hdr : "Expect:");
	memset(r, 0, sizeof *r);
	if (own)
		e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_hdr);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	if (!strncmp(url, "https:", 6)) {
		if (client_ca[0])
			snprintf(ca, sizeof ca, "%s", client_ca);
		else
			path_of(ca, sizeof ca, fleet, "ca.crt");
		curl_easy_setopt(e, CURLOPT_CAINFO, ca);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL); /* fleet-trust.md §3: the pitfall */
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		if (strcmp(who, "-")) {
			char n1[64], n2[64];
			snprintf(n1, sizeof n1, "%s.crt", who);
			snprintf(n2, sizeof n2, "%s.key", who);
			path_of(crt, sizeof crt, d, n1);
			path_of(key, sizeof key, d, n2);
			curl_easy_setopt(e, CURLOPT_SSLCERT, crt);
			curl_easy_setopt(e, CURLOPT_SSLKEY, key);
		}
	}
	if (method) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, bodylen >= 0 ? bodylen : (long)strlen(body));
	}
	r->rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &r->connects);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (own)
		curl_easy_cleanup(e);
}

static void url_of(char *u, size_t n, struct tlsfront *f, const char *scheme, const char *host,
		   const char *path)
{
	snprintf(u, n, "%s://%s:%d%s", scheme, host, tlsfront_port(f), path);
}

static int raw_connect(struct tlsfront *f)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tlsfront_port(f))};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
		close(s);
		return -1;
	}
	struct timeval tv = {.tv_sec = 3};
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return s;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- the tests ---------------------------------------------------------------------- */

static void parse_head(void)
{
	struct tlsfront_head h;
	const char *ok = "POST /v1/t HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
			 "Connection: keep-alive\r\n\r\nbody";
	CHECK_EQ_INT(tlsfront_parse_head(ok, strlen(ok), 8192, &h), (long)strlen(ok) - 4);
	CHECK_EQ_STR(h.method, "POST");
	CHECK_EQ_STR(h.target, "/v1/t");
	CHECK_EQ_INT(h.content_length, 12);
	CHECK_EQ_INT(h.minor, 1);
	CHECK_EQ_INT(h.conn_close, 0);
	CHECK_EQ_INT(tlsfront_check_head(&h, "/v1/t", 4096), 0);
	CHECK_EQ_INT(tlsfront_check_head(&h, "/v1/x", 4096), 404);
	CHECK_EQ_INT(tlsfront_check_head(&h, "/v1/t", 10), 413);
	CHECK_EQ_STR(h.code, "too_large");
	/* incomplete: more bytes needed, unless the buffer is full */
	CHECK_EQ_INT(tlsfront_parse_head(ok, 30, 8192, &h), 0);
	CHECK_EQ_INT(tlsfront_parse_head(ok, 30, 30, &h), -1);
	CHECK_EQ_INT(h.status, 431);
	CHECK_EQ_INT(tlsfront_parse_head("", 0, 8192, &h), 0);
	/* early refusal of what is no request line (a TLS hello to a plain port) */
	CHECK_EQ_INT(tlsfront_parse_head("\x16\x03\x01", 3, 8192, &h), -1);
	CHECK_EQ_INT(h.status, 400);
	static const struct {
		const char *in;
		int status; /* of parse (-1) or check; 0 accepted */
		const char *code;
	} t[] = {
		{"GET /v1/t HTTP/1.1\r\n\r\n", 405, "method_not_allowed"},
		{"POST /v1/t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 411, "length_required"},
		{"POST /v1/t HTTP/1.1\r\n\r\n", 411, "length_required"},
		{"POST /v1/t HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "bad_request"},
		{"POST /v1/t HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400, "bad_request"},
		{"POST /v1/t HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400,
		 "bad_request"},
		{"POST /v1/t HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n", 0, NULL},
		{"POST /v1/t HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400,
		 "bad_request"},
		{"POST /v1/t HTTP/1.1\r\n folded: x\r\n\r\n", 400, "bad_request"},
		{"POST /v1/t HTTP/1.1\r\nNo colon\r\n\r\n", 400, "bad_request"},
		{"POST /v1/t HTTP/1.1\r\nA : b\r\n\r\n", 400, "bad_request"},
		{"POST /v1/t HTTP/1.1\r\nA: b\x01\r\n\r\n", 400, "bad_request"},
		{"POST /v1/t HTTP/2.0\r\n\r\n", 505, "bad_request"},
		{"POST /v1/t\r\n\r\n", 400, "bad_request"},
		{"POST  /v1/t HTTP/1.1\r\n\r\n", 400, "bad_request"},
		{"POST /v1/t?x=1 HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 0, NULL},
		{"POST /v1/t/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 404, "not_found"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		long n = tlsfront_parse_head(t[i].in, strlen(t[i].in), 8192, &h);
		int st = n < 0 ? h.status : (n == 0 ? -2 : tlsfront_check_head(&h, "/v1/t", 4096));
		if (st != t[i].status || (t[i].code && (!h.code || strcmp(h.code, t[i].code)))) {
			fprintf(stderr, "    case %zu (%s): status %d code %s\n", i, t[i].in, st,
				h.code ? h.code : "-");
			t_failed_checks++;
		}
	}
	CHECK(tlsfront_parse_head(t[15].in, strlen(t[15].in), 8192, &h) > 0 && h.conn_close);
	char j[128];
	tlsfront_error_json(j, sizeof j, "bad_request", "a \"quoted\" \\ thing\n");
	CHECK_EQ_STR(j, "{\"ok\":false,\"error\":\"a \\\"quoted\\\" \\\\ thing \",\"code\":\"bad_request\"}");
	CHECK_EQ_INT(tlsfront_error_json(j, 10, "x", "y"), 9);
}

static void mtls(void)
{
	if (!setup_pki()) {
		CHECK(!"pki set-up");
		return;
	}
	struct tlsfront_conf c;
	conf_for_test(&c);
	struct tlsfront *f = server(&c);
	CHECK(f != NULL);
	if (!f)
		return;
	char u[128], u6[128];
	struct resp r;
	url_of(u, sizeof u, f, "https", "127.0.0.1", "/v1/t");
	url_of(u6, sizeof u6, f, "https", "[::1]", "/v1/t");
	CURL *e = curl_easy_init();
	ask(e, &r, u, fleet, "h1", NULL, "{\"a\":1}", -1, NULL);
	CHECK_EQ_INT(r.rc, CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	CHECK(strstr(r.b, "\"cn\":\"h1\"") && strstr(r.b, "\"peer\":\"127.0.0.1\"") &&
	      strstr(r.b, "\"naddrs\":2") && strstr(r.b, "\"len\":7"));
	CHECK(strstr(r.hdr, "Content-Type: application/json") != NULL);
	ask(e, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	CHECK_EQ_INT(r.connects, 0); /* kept alive */
	ask(e, &r, u, fleet, "h1", NULL, "later", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	CHECK(strstr(r.b, "\"later\":true") != NULL);
	ask(e, &r, u, fleet, "h1", NULL, "never", -1, NULL);
	CHECK_EQ_INT(r.code, 503);
	CHECK(strstr(r.b, "\"code\":\"unavailable\"") != NULL);
	ask(e, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	CHECK_EQ_INT(r.connects, 0); /* a 503 keeps the connection */
	curl_easy_cleanup(e);
	/* v6 peer */
	ask(NULL, &r, u6, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	CHECK(strstr(r.b, "\"peer\":\"::1\"") != NULL);
	/* head checks, all before the body */
	char ux[128];
	url_of(ux, sizeof ux, f, "https", "127.0.0.1", "/v1/x");
	ask(NULL, &r, ux, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 404);
	CHECK(strstr(r.b, "\"code\":\"not_found\"") != NULL);
	ask(NULL, &r, u, fleet, "h1", "GET", NULL, 0, NULL);
	CHECK_EQ_INT(r.code, 405);
	CHECK(strstr(r.hdr, "Allow: POST") != NULL);
	ask(NULL, &r, u, fleet, "h1", NULL, "{}", -1, "Transfer-Encoding: chunked");
	CHECK_EQ_INT(r.code, 411);
	static char big[8192];
	memset(big, 'x', sizeof big);
	ask(NULL, &r, u, fleet, "h1", NULL, big, sizeof big, "Expect: 100-continue");
	CHECK_EQ_INT(r.code, 413);
	CHECK(strstr(r.b, "\"code\":\"too_large\"") != NULL);
	ask(NULL, &r, u, fleet, "h1", NULL, big, 4096, "Expect: 100-continue");
	CHECK_EQ_INT(r.code, 200); /* 100 Continue, then the body */
	/* refused identities */
	struct tlsfront_stats s0, s1;
	tlsfront_get_stats(f, &s0);
	ask(NULL, &r, u, fleet, "-", NULL, "{}", -1, NULL);
	CHECK(r.rc != CURLE_OK);
	ask(NULL, &r, u, other, "x", NULL, "{}", -1, NULL);
	CHECK(r.rc != CURLE_OK);
	ask(NULL, &r, u, fleet, "gone", NULL, "{}", -1, NULL);
	CHECK(r.rc != CURLE_OK);
	usleep(100000); /* the server may count it after the client gave up */
	tlsfront_get_stats(f, &s1);
	CHECK_EQ_INT(s1.handshake_failed - s0.handshake_failed, 3);
	ask(NULL, &r, u, fleet, "far", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 403);
	CHECK(strstr(r.b, "\"code\":\"forbidden\"") != NULL);
	tlsfront_get_stats(f, &s1);
	CHECK_EQ_INT(s1.peer_addr_mismatch - s0.peer_addr_mismatch, 1);
	/* the server's certificate must name the address dialled: 127.0.0.2 is not in it */
	char u2[128];
	url_of(u2, sizeof u2, f, "https", "127.0.0.2", "/v1/t");
	ask(NULL, &r, u2, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.rc, CURLE_PEER_FAILED_VERIFICATION);
	tlsfront_reply(f, 12345, 200, "{}", 2); /* nobody waits for it: dropped */
	fprintf(stderr, "    bound per pre-auth connection: %zu bytes (max_head %zu)\n",
		tlsfront_preauth_bytes(&c), c.max_head);
	tlsfront_stop(f);
}

static void rate(void)
{
	if (!setup_pki())
		return;
	struct tlsfront_conf c;
	conf_for_test(&c);
	c.rate = 2; /* burst 4 */
	struct tlsfront *f = server(&c);
	CHECK(f != NULL);
	if (!f)
		return;
	char u[128];
	url_of(u, sizeof u, f, "https", "127.0.0.1", "/v1/t");
	CURL *e = curl_easy_init();
	struct resp r;
	int ok = 0, limited = 0;
	for (int i = 0; i < 8; i++) {
		ask(e, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
		ok += r.code == 200;
		limited += r.code == 429;
	}
	curl_easy_cleanup(e);
	CHECK(ok >= 4 && ok <= 5);
	CHECK(limited >= 3);
	CHECK(strstr(r.b, "\"code\":\"rate_limited\"") != NULL);
	tlsfront_stop(f);
}

static void limits(void)
{
	if (!setup_pki())
		return;
	struct tlsfront_conf c;
	conf_for_test(&c);
	c.max_conns_per_peer = 6;
	c.max_preauth_per_peer = 2;
	c.head_timeout_ms = 500;
	c.handshakes_per_peer = 1000;
	struct tlsfront *f = server(&c);
	CHECK(f != NULL);
	if (!f)
		return;
	struct tlsfront_stats s;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int a = raw_connect(f), b = raw_connect(f);
	usleep(50000);
	int cc = raw_connect(f); /* a is evicted */
	char ch;
	CHECK(a >= 0 && b >= 0 && cc >= 0);
	CHECK_EQ_INT(recv(a, &ch, 1, 0), 0);
	CHECK(ms_since(&t0) < 400);
	usleep(50000);
	tlsfront_get_stats(f, &s);
	CHECK_EQ_INT(s.evicted_preauth, 1);
	CHECK_EQ_INT(s.preauth, 2);
	/* a legitimate client still gets through: it evicts the oldest stranger */
	char u[128];
	struct resp r;
	url_of(u, sizeof u, f, "https", "127.0.0.1", "/v1/t");
	ask(NULL, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	/* the head deadline closes what is left */
	CHECK_EQ_INT(recv(cc, &ch, 1, 0), 0);
	long ms = ms_since(&t0);
	CHECK(ms >= 450 && ms < 1500);
	tlsfront_get_stats(f, &s);
	CHECK(s.timed_out >= 1);
	CHECK_EQ_INT(s.preauth, 0);
	close(a);
	close(b);
	close(cc);
	tlsfront_stop(f);

	/* handshake bucket: 1 a second, burst 2 */
	conf_for_test(&c);
	c.handshakes_per_peer = 1;
	f = server(&c);
	CHECK(f != NULL);
	if (!f)
		return;
	int k[3];
	for (int i = 0; i < 3; i++)
		k[i] = raw_connect(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(recv(k[2], &ch, 1, 0), 0);
	CHECK(ms_since(&t0) < 400);
	tlsfront_get_stats(f, &s);
	CHECK_EQ_INT(s.refused_rate_handshake, 1);
	CHECK_EQ_INT(s.accepted, 2);
	for (int i = 0; i < 3; i++)
		close(k[i]);
	tlsfront_stop(f);

	/* total cap 2: a third connection evicts the oldest unauthenticated one */
	conf_for_test(&c);
	c.max_conns = 2;
	f = server(&c);
	CHECK(f != NULL);
	if (!f)
		return;
	for (int i = 0; i < 2; i++)
		k[i] = raw_connect(f);
	usleep(50000);
	url_of(u, sizeof u, f, "https", "127.0.0.1", "/v1/t");
	ask(NULL, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	tlsfront_get_stats(f, &s);
	CHECK(s.evicted_preauth >= 1);
	for (int i = 0; i < 2; i++)
		close(k[i]);
	tlsfront_stop(f);
}

static void lab_plain(void)
{
	struct tlsfront_conf c;
	conf_for_test(&c);
	char err[256];
	c.listen = "https://127.0.0.1:0";
	c.lab_plain = 1;
	CHECK(tlsfront_new(&c, err, sizeof err) == NULL); /* https with lab_plain */
	c.listen = "http://127.0.0.1:0";
	c.lab_plain = 0;
	CHECK(tlsfront_new(&c, err, sizeof err) == NULL); /* http without it */
	CHECK(strstr(err, "lab_plain") != NULL);
	c.lab_plain = 1;
	c.head_timeout_ms = 300;
	struct tlsfront *f = server(&c);
	CHECK(f != NULL);
	if (!f)
		return;
	char u[128];
	struct resp r;
	url_of(u, sizeof u, f, "http", "127.0.0.1", "/v1/t");
	ask(NULL, &r, u, fleet, "-", NULL, "{\"x\":2}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	CHECK(strstr(r.b, "\"cn\":\"\"") && strstr(r.b, "\"len\":7"));
	ask(NULL, &r, u, fleet, "-", NULL, "{}", -1, "Transfer-Encoding: chunked");
	CHECK_EQ_INT(r.code, 411);
	/* half a head, then nothing: closed at the head deadline */
	int s = raw_connect(f);
	CHECK(send(s, "POST /v1/t HTTP/1.1\r\nContent-Le", 31, 0) == 31);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char ch;
	CHECK_EQ_INT(recv(s, &ch, 1, 0), 0);
	long ms = ms_since(&t0);
	CHECK(ms >= 200 && ms < 1200);
	close(s);
	/* a head too large: 431, before any body */
	s = raw_connect(f);
	static char big[9000];
	memset(big, 'a', sizeof big);
	memcpy(big, "POST /v1/t HTTP/1.1\r\nX: ", 24);
	CHECK(send(s, big, sizeof big, 0) == (ssize_t)sizeof big);
	char rb[512] = "";
	CHECK(recv(s, rb, sizeof rb - 1, 0) > 0);
	CHECK(!strncmp(rb, "HTTP/1.1 431 ", 13));
	close(s);
	tlsfront_stop(f);
}

/* a listening socket bound by the caller (the inquiry monitor) and handed to one front
 * after another (its children): the same port throughout, never bound by the front; the
 * port cannot be bound again while the caller holds it, SO_REUSEADDR or not */
static void passed_listener(void)
{
	struct tlsfront_conf c;
	char err[256] = "";
	conf_for_test(&c);
	c.lab_plain = 1;
	c.listen = "http://127.0.0.1:0";
	int ls = tlsfront_listen_socket(c.listen, 1, err, sizeof err);
	CHECK(ls >= 0);
	if (ls < 0)
		return;
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	CHECK_EQ_INT(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	int port = ntohs(sa.sin_port);
	char again[64];
	snprintf(again, sizeof again, "http://127.0.0.1:%d", port);
	CHECK_EQ_INT(tlsfront_listen_socket(again, 1, err, sizeof err), -1);
	CHECK(strstr(err, "Address already in use") != NULL);
	for (int round = 0; round < 2; round++) {
		c.listen = "http://nowhere:1"; /* not read: the socket is given */
		struct tlsfront *f = tlsfront_new_on(&c, dup(ls), err, sizeof err);
		CHECK(f != NULL);
		if (!f)
			break;
		CHECK_EQ_INT(tlsfront_port(f), port);
		cur = f;
		CHECK_EQ_INT(tlsfront_start(f, handler, NULL, err, sizeof err), 0);
		char u[128];
		struct resp r;
		url_of(u, sizeof u, f, "http", "127.0.0.1", "/v1/t");
		ask(NULL, &r, u, fleet, "-", NULL, "{\"x\":2}", -1, NULL);
		CHECK_EQ_INT(r.code, 200);
		tlsfront_stop(f); /* closes its copy; ls still holds the port */
		CHECK_EQ_INT(tlsfront_listen_socket(again, 1, err, sizeof err), -1);
	}
	/* not a listening socket: refused (and closed) */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(tlsfront_new_on(&c, s, err, sizeof err) == NULL);
	CHECK(strstr(err, "not listening") != NULL);
	CHECK(fcntl(s, F_GETFD) == -1);
	close(ls);
	ls = tlsfront_listen_socket(again, 1, err, sizeof err); /* free once the last copy is closed */
	CHECK(ls >= 0);
	if (ls >= 0)
		close(ls);
}

/* SIGHUP's tlsfront_reload: every fault keeps the old identity; a good one is what new
 * connections get (a client trusting only the new chain connects, one trusting only the
 * old does not), while a connection made before goes on */
static void reload(void)
{
	if (!setup_pki())
		return;
	struct tlsfront_conf c;
	conf_for_test(&c);
	struct tlsfront *f = server(&c);
	CHECK(f != NULL);
	if (!f)
		return;
	char u[128], err[512] = "", ca[400], crl[400], bundle[400], bad[400], crt[400], key[400];
	char crt2[400], key2[400], gcrt[400], gkey[400], occa[400];
	char *lo[] = {"127.0.0.1", "::1"};
	path_of(ca, sizeof ca, fleet, "ca.crt");
	path_of(crl, sizeof crl, fleet, "crl.pem");
	path_of(crt, sizeof crt, fleet, "srv.crt");
	path_of(key, sizeof key, fleet, "srv.key");
	path_of(gcrt, sizeof gcrt, fleet, "gone.crt");
	path_of(gkey, sizeof gkey, fleet, "gone.key");
	path_of(crt2, sizeof crt2, other, "srv2.crt");
	path_of(key2, sizeof key2, other, "srv2.key");
	path_of(occa, sizeof occa, other, "ca.crt");
	path_of(bundle, sizeof bundle, dir, "bundle.crt");
	path_of(bad, sizeof bad, dir, "bad.key");
	CHECK_EQ_INT(pki_issue(other, "srv2", lo, 2, 30, NULL, err, sizeof err), 0);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "cat %s %s > %s && echo 'not a key' > %s", ca, occa, bundle, bad);
	CHECK_EQ_INT(system(cmd), 0);
	url_of(u, sizeof u, f, "https", "127.0.0.1", "/v1/t");
	struct resp r;
	CURL *kept = curl_easy_init();
	ask(kept, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	/* faults: each refused, the old identity serves on */
	CHECK_EQ_INT(tlsfront_reload(f, ca, crt, bad, crl, err, sizeof err), -1);
	CHECK(strstr(err, bad) != NULL);
	CHECK_EQ_INT(tlsfront_reload(f, bundle, crt2, key, crl, err, sizeof err), -1);
	CHECK(strstr(err, "does not match") != NULL);
	CHECK_EQ_INT(tlsfront_reload(f, ca, gcrt, gkey, crl, err, sizeof err), -1);
	CHECK(strstr(err, "revoked") != NULL);
	CHECK_EQ_INT(tlsfront_reload(f, ca, crt2, key2, crl, err, sizeof err), -1); /* other CA's */
	CHECK(strstr(err, "srv2.crt") != NULL);
	CHECK_EQ_INT(tlsfront_reload(f, ca, crt, key, bad, err, sizeof err), -1); /* CRL */
	CHECK(strstr(err, "crl") != NULL);
	ask(NULL, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.code, 200);
	struct tlsfront_stats st;
	tlsfront_get_stats(f, &st);
	CHECK_EQ_INT(st.reloads, 0);
	/* a good one: the other CA's certificate, the CA bundle (fleet clients still accepted) */
	CHECK_EQ_INT(tlsfront_reload(f, bundle, crt2, key2, crl, err, sizeof err), 0);
	snprintf(client_ca, sizeof client_ca, "%s", occa);
	ask(NULL, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK_EQ_INT(r.rc, CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	client_ca[0] = 0; /* the fleet CA only: the new certificate is not of it */
	ask(NULL, &r, u, fleet, "h1", NULL, "{}", -1, NULL);
	CHECK(r.rc != CURLE_OK);
	ask(kept, &r, u, fleet, "h1", NULL, "{}", -1, NULL); /* made before: on the old one */
	CHECK_EQ_INT(r.code, 200);
	CHECK_EQ_INT(r.connects, 0);
	curl_easy_cleanup(kept);
	tlsfront_get_stats(f, &st);
	CHECK_EQ_INT(st.reloads, 1);
	tlsfront_stop(f);
	/* lab_plain has no identity to reload */
	conf_for_test(&c);
	c.lab_plain = 1;
	c.listen = "http://127.0.0.1:0";
	f = tlsfront_new(&c, err, sizeof err);
	CHECK(f != NULL);
	if (f) {
		CHECK_EQ_INT(tlsfront_reload(f, ca, crt, key, crl, err, sizeof err), -1);
		tlsfront_stop(f);
	}
}

static void cleanup(void)
{
	if (pki_ready) {
		char cmd[400];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		CHECK_EQ_INT(system(cmd), 0);
	}
}

T_MAIN("tlsfront", T(parse_head), T(mtls), T(rate), T(limits), T(lab_plain), T(passed_listener), T(reload), T(cleanup))
