/* nngsrv — nng 1.5.2 HTTP server, plain or TLS with client certificates required.
 *
 *   nngsrv URL [CERT KEY CA]     URL http://ADDR:PORT or https://ADDR:PORT
 *
 * POST /v1/trace answers {"ok":true,"peer":"<TCP peer>","verified":<bool>,"len":N}.
 * What the handler can learn about the peer: nng 1.5.2 gives handlers no peer
 * address and no certificate (nng_http_conn has no getopt). The first member of
 * struct nng_http_conn is its nng_stream (1.5.2 .. 1.9), and nng_stream_get_*
 * reaches NNG_OPT_REMADDR (passed to TCP) and NNG_OPT_TLS_VERIFIED — a layout
 * dependency, shown here as a measured fact, not a recommendation.
 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <nng/supplemental/tls/tls.h>

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	char *b = calloc(1, 65536);
	size_t n = fread(b, 1, 65535, f);
	b[n] = 0;
	fclose(f);
	return b;
}

static void die(const char *w, int rv)
{
	fprintf(stderr, "%s: %s\n", w, nng_strerror(rv));
	exit(1);
}

static void reply(nng_aio *aio, uint16_t st, const char *body)
{
	nng_http_res *res;
	nng_http_res_alloc(&res);
	nng_http_res_set_status(res, st);
	nng_http_res_set_header(res, "Content-Type", "application/json");
	nng_http_res_copy_data(res, body, strlen(body));
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void handle(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_conn *conn = nng_aio_get_input(aio, 2);
	void *data;
	size_t len;
	char peer[80] = "?", out[256];
	bool verified = false;
	nng_http_req_get_data(req, &data, &len);
	/* layout dependency: struct nng_http_conn { nng_stream *sock; ... } */
	nng_stream *s = *(nng_stream **)conn;
	nng_sockaddr sa;
	if (nng_stream_get_addr(s, NNG_OPT_REMADDR, &sa) == 0) {
		if (sa.s_family == NNG_AF_INET)
			inet_ntop(AF_INET, &sa.s_in.sa_addr, peer, sizeof peer);
		else if (sa.s_family == NNG_AF_INET6)
			inet_ntop(AF_INET6, sa.s_in6.sa_addr, peer, sizeof peer);
	}
	int vr = nng_stream_get_bool(s, NNG_OPT_TCP_NODELAY, &verified);
	(void)vr;
	/* nng 1.5.2's HTTP server never sets TCP_NODELAY on accepted connections, and its
	 * TLS layer writes the response head and body as two records: Nagle + the
	 * client's delayed ACK = 40 ms per response. NODELAY=1 turns it on here. */
	if (getenv("NODELAY"))
		nng_stream_set_bool(s, NNG_OPT_TCP_NODELAY, true);
	verified = false;
	vr = nng_stream_get_bool(s, NNG_OPT_TLS_VERIFIED, &verified);
	snprintf(out, sizeof out, "{\"ok\":true,\"peer\":\"%s\",\"verified\":%s,\"len\":%zu}", peer,
		 vr == 0 ? (verified ? "true" : "false") : "null", len);
	reply(aio, 200, out);
}

int main(int argc, char **argv)
{
	nng_http_server *srv;
	nng_http_handler *h;
	nng_url *url;
	int rv;
	if (argc != 2 && argc != 5) {
		fprintf(stderr, "usage: nngsrv URL [CERT KEY CA]\n");
		return 2;
	}
	if ((rv = nng_url_parse(&url, argv[1])) || (rv = nng_http_server_hold(&srv, url)))
		die("server", rv);
	if (argc == 5) {
		nng_tls_config *cfg;
		char *crt = slurp(argv[2]), *key = slurp(argv[3]), *ca = slurp(argv[4]);
		if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) ||
		    (rv = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_2)) ||
		    (rv = nng_tls_config_own_cert(cfg, crt, key, NULL)) ||
		    (rv = nng_tls_config_ca_chain(cfg, ca, NULL)) ||
		    (rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) ||
		    (rv = nng_http_server_set_tls(srv, cfg)))
			die("tls config", rv);
		nng_tls_config_free(cfg); /* the server holds it */
		fprintf(stderr, "nngsrv: TLS engine %s (%s)\n", nng_tls_engine_name(),
			nng_tls_engine_description());
	}
	if ((rv = nng_http_handler_alloc(&h, "/v1/trace", handle)) ||
	    (rv = nng_http_handler_set_method(h, "POST")) ||
	    (rv = nng_http_handler_collect_body(h, true, 65536)) ||
	    (rv = nng_http_server_add_handler(srv, h)) || (rv = nng_http_server_start(srv)))
		die("start", rv);
	fprintf(stderr, "nngsrv: listening on %s (nng %s)\n", argv[1], nng_version());
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	int sig;
	sigwait(&ss, &sig);
	nng_http_server_stop(srv);
	nng_http_server_release(srv);
	return 0;
}
