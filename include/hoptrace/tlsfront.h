/* tlsfront.h — the one HTTP/1.1 front that faces the network (inquiry service, policyd).
 *
 * mbedTLS directly (nng's HTTP server has no peer identity, no deadlines, no caps:
 * docs/research/fleet-trust.md §2). One poll-loop thread; every limit below is enforced
 * before the request body is read; the handler sees only complete, authenticated POSTs
 * to `path` whose TLS peer certificate names the TCP peer's address.
 *
 * Life cycle, for privilege separation:
 *   tlsfront_new()   as root: loads the CA, CRL, certificate and key, binds and listens.
 *                    Starts no thread, so the caller may fork and drop privileges after it.
 *   tlsfront_start() in the (unprivileged) process that serves: starts the loop thread.
 *   tlsfront_reply() from any thread, at once or later (the answer may wait for upstream
 *                    inquiries); a reply for a connection that has gone is dropped.
 *   tlsfront_stop()  stops the thread, closes everything.
 * Contract written session 7; implemented in common/tlsfront.c. */
#ifndef HOPTRACE_TLSFRONT_H
#define HOPTRACE_TLSFRONT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hoptrace/pki.h"

struct tlsfront_conf {
	const char *listen; /* "https://[::]:8471", "https://10.0.0.1:8480"; "http://…" only
			       with lab_plain (no TLS, no identity: lab and benchmarks only) */
	int lab_plain;
	const char *ca_file, *cert_file, *key_file, *crl_file; /* crl optional */
	const char *path;                                      /* "/v1/trace" */
	int head_timeout_ms;  /* accept → TLS done and request head complete (2000) */
	int body_timeout_ms;  /* head → body complete (2000) */
	int idle_timeout_ms;  /* keep-alive idle (15000) */
	int reply_timeout_ms; /* a request the handler never answers gets 503 (65000) */
	int max_conns;        /* in all (256) */
	int max_conns_per_peer;   /* per peer address (8) */
	int max_preauth_per_peer; /* not yet through TLS + head (4); the oldest is evicted */
	int handshakes_per_peer;  /* per second, token bucket, burst 2× (20) */
	int handshakes_total;     /* per second (200) */
	int rate;                 /* requests per peer certificate per second (100) */
	size_t max_head;          /* 8192 */
	size_t max_body;          /* 65536; Content-Length required, chunked → 411 */
};
void tlsfront_conf_defaults(struct tlsfront_conf *c);

struct tlsfront_req {
	uint64_t id;                  /* pass to tlsfront_reply */
	struct sockaddr_storage peer; /* TCP peer; a v4-mapped v6 address is given as AF_INET */
	char peer_cn[PKI_CN_MAX + 1]; /* the peer certificate's CN ("" with lab_plain) */
	struct pki_addr peer_addrs[PKI_ADDRS_MAX]; /* its iPAddress SANs */
	int npeer_addrs;
	const char *body; /* NUL-terminated; valid during the callback only */
	size_t body_len;
};
/* Called on the loop thread; must not block. Copy what is needed, reply later if need be. */
typedef void (*tlsfront_fn)(void *ud, const struct tlsfront_req *r);

struct tlsfront_stats {
	uint64_t accepted, refused_cap, evicted_preauth, refused_rate_handshake,
		handshake_failed, peer_addr_mismatch, timed_out, requests, rate_limited, bad_request;
	uint64_t reloads; /* tlsfront_reload's that succeeded */
	int conns, preauth;
};

struct tlsfront;
struct tlsfront *tlsfront_new(const struct tlsfront_conf *c, char *err, size_t n);
/* As tlsfront_new, on ls: a socket already bound and listening (the caller's listen address;
 * c->listen is then not read). The front takes ls (closed on failure too). The inquiry
 * monitor binds once and passes the socket to each child it starts. */
struct tlsfront *tlsfront_new_on(const struct tlsfront_conf *c, int ls, char *err, size_t n);
/* A socket bound to listen ("https://[::]:8471"; http:// only with plain) and listening,
 * close-on-exec; -1 and err. */
int tlsfront_listen_socket(const char *listen, int plain, char *err, size_t n);
int tlsfront_start(struct tlsfront *f, tlsfront_fn fn, void *ud, char *err, size_t n);
int tlsfront_reply(struct tlsfront *f, uint64_t id, int status, const char *json, size_t len);
void tlsfront_get_stats(struct tlsfront *f, struct tlsfront_stats *s);
int tlsfront_port(const struct tlsfront *f); /* the bound port (listen port 0 → chosen) */
void tlsfront_stop(struct tlsfront *f);
/* SIGHUP: a new TLS identity (CA bundle, this end's certificate and key, CRL or NULL). Every
 * file is read and checked first — parses, the key matches, the certificate is a TLS one
 * that chains to the new CA, is valid now and not on the new CRL — and on any fault -1
 * with err and the old identity stays. Else 0: new connections use the new identity (and
 * its own, empty session cache) from the loop's next round; connections set up before
 * finish on the old one. Thread-safe against the loop; not with lab_plain. */
int tlsfront_reload(struct tlsfront *f, const char *ca_file, const char *cert_file,
		    const char *key_file, const char *crl_file, char *err, size_t n);

/* ---- added in session 7 (implementation) ---------------------------------------------
 * The request head parser, a pure function (unit test, tests/fuzz/fuzz_httphead.c).
 * buf holds the bytes read so far (len of them). Returns the head's length (through the
 * blank line) when complete and well-formed, 0 when more bytes are needed (never past
 * max_head: then -1 with status 431), -1 when refused: h->status is the HTTP status
 * (400 malformed, 414 target too long, 431 too large, 505 not HTTP/1.x) and h->code/h->why say why.
 * Checks of method, path and length against the conf are the caller's (tlsfront_check_head). */
struct tlsfront_head {
	char method[16];
	char target[256];   /* the request target as sent */
	int minor;          /* HTTP/1.minor */
	long long content_length; /* -1: none */
	int chunked;        /* any Transfer-Encoding */
	int conn_close;     /* Connection: close, or HTTP/1.0 without keep-alive */
	int expect_continue;
	int status;         /* on -1 */
	const char *code, *why;
};
long tlsfront_parse_head(const char *buf, size_t len, size_t max_head, struct tlsfront_head *h);
/* The front's checks of a parsed head, in order: path (404), method (405), Transfer-Encoding
 * (411), Content-Length missing (411) or > max_body (413). 0 if accepted, else the status
 * with h->code/h->why set. */
int tlsfront_check_head(struct tlsfront_head *h, const char *path, size_t max_body);
/* {"ok":false,"error":TEXT,"code":CODE} into out (JSON-escaped); returns its length. */
size_t tlsfront_error_json(char *out, size_t n, const char *code, const char *text);
/* Memory the front holds for one connection before it is authenticated (TLS buffers,
 * handshake state, the head buffer, the slot): the bound per pre-auth connection. */
size_t tlsfront_preauth_bytes(const struct tlsfront_conf *c);
#endif
