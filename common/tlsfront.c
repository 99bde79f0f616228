/*
 * tlsfront.c — the HTTP/1.1 front that faces the network (include/hoptrace/tlsfront.h).
 *
 * One poll-loop thread over non-blocking sockets; each connection is a small state
 * machine:
 *
 *   accept ─▶ HS (TLS handshake) ─▶ HEAD ─▶ BODY ─▶ WAIT (the handler) ─▶ WRITE ─▶ IDLE ─┐
 *                                    ▲                                               │
 *                                    └───────────────────────── keep-alive ◀─────────┘
 *
 * Limits, in the order of docs/research/fleet-trust.md §6.5, all before a body byte is
 * read: at accept the total cap (when full, the oldest connection not yet through TLS and
 * its first head is evicted; none: refused), the per-peer cap, the per-peer pre-auth cap
 * (the peer's oldest pre-auth connection is evicted), the handshake token buckets (per
 * peer and in all, burst 2×; an address that completed a fleet handshake before draws
 * from a total bucket of its own, so strangers on many addresses cannot lock the fleet
 * out); then the handshake with a client certificate REQUIRED
 * (CA + CRL), the certificate must name the TCP peer's address (else 403 and close); the
 * head within head_timeout_ms of accept and ≤ max_head; POST to `path` only,
 * Content-Length ≤ max_body (404/405/411/413, and the connection is closed: its body was
 * never read); the body within body_timeout_ms; the per-certificate request rate (429).
 *
 * Memory. The slot table (struct conn, a few hundred bytes each) is allocated once for
 * max_conns. A connection's mbedTLS context and its two record buffers are allocated
 * after accept (after every accept-time check) and freed on close; the head buffer after
 * the handshake (at accept with lab_plain), the body buffer only after the head checks
 * passed (an authenticated peer: bounded by max_conns × max_body). The bound per pre-auth
 * connection is tlsfront_preauth_bytes().
 *
 * Replies: tlsfront_reply() from any thread appends to a list under a mutex and writes an
 * eventfd; the loop matches each to its connection by request id (slot | sequence), so a
 * reply for a connection that has gone, or to a request already answered 503, is dropped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/x509_crl.h>

#include "hoptrace/tlsfront.h"

#define SLOT_BITS 16
#define ACCEPT_BATCH 64

enum cstate { C_FREE, C_HS, C_HEAD, C_BODY, C_WAIT, C_WRITE, C_IDLE, C_LINGER };

/* After a response that closes the connection (an error before the body was read): our
 * side is shut down and what the peer still sends is read and thrown away, for at most
 * LINGER_MS and LINGER_BYTES, so that our close does not reset the connection before the
 * peer has read the response (as nginx's lingering close). Nothing is kept of it. */
#define LINGER_MS 1000
#define LINGER_BYTES (256 * 1024)

struct bucket {
	double tokens;
	int64_t last_ms;
};

struct peer {
	struct in6_addr a; /* v4 as v4-mapped */
	int used, conns, preauth;
	struct bucket hs;
};

/* An address from which a fleet certificate naming it completed a handshake. Only such
 * a handshake adds one, so strangers cannot churn the table. Its new connections draw
 * from their own total bucket (hs_fleet), so strangers from many addresses who empty
 * the total bucket do not lock out the fleet; the per-peer bucket still applies. */
#define KNOWN_MAX 1024
struct known {
	struct in6_addr a;
	int64_t last_ms; /* 0: free */
};

struct certrate {
	unsigned char key[32]; /* SHA-256 of the certificate (lab_plain: of the address) */
	int used;
	struct bucket b;
};

struct conn {
	enum cstate st;
	int fd;
	int preauth; /* not yet through TLS and its first head */
	short want;  /* poll events the TLS layer waits for */
	int kick;    /* run again after a reply was queued */
	int close_after;
	int64_t accepted_ms, deadline;
	uint64_t acc_seq; /* accept order: the oldest is evicted */
	uint64_t req_id;
	struct peer *peer;
	struct sockaddr_storage ss; /* v4-mapped given as AF_INET */
	char ip[INET6_ADDRSTRLEN];
	mbedtls_ssl_context *ssl;
	struct tls_id *id; /* the identity ssl was set up with */
	char cn[PKI_CN_MAX + 1];
	struct pki_addr addrs[PKI_ADDRS_MAX];
	int naddrs;
	unsigned char certkey[32];
	char *head;
	size_t hlen;
	struct tlsfront_head h;
	char *body;
	size_t blen, bneed;
	char *out;
	size_t olen, ooff;
	size_t linger_left;
};

struct rep {
	struct rep *next;
	uint64_t id;
	int status;
	size_t len;
	char data[];
};

/* A TLS identity: the CA bundle, the CRL, this end's pair and the mbedTLS server
 * configuration made of them, with its own session cache (so that no session checked
 * against an old CA or CRL is resumed after a reload). Each TLS connection holds a
 * reference, and the front one while the identity is current (f->id); after start only
 * the loop thread changes refs. tlsfront_reload makes a new one and hands it over in
 * f->pending (under mu); the loop swaps it in at its next round. */
struct tls_id {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt own, ca;
	mbedtls_x509_crl crl;
	mbedtls_pk_context key;
	mbedtls_ssl_cache_context cache;
	int have_crl;
	int refs;
};

struct tlsfront {
	struct tlsfront_conf c;
	char path[256];
	int ls, efd, port;
	int started, stop;
	pthread_t th;
	tlsfront_fn fn;
	void *ud;
	struct tls_id *id;      /* current (NULL with lab_plain) */
	struct tls_id *pending; /* a reload's, not yet swapped in (mu) */
	struct conn *conns;
	int nconns, npreauth;
	struct peer *peers;
	int npeers;
	struct certrate *rates;
	int nrates;
	struct bucket hs_total, hs_fleet;
	struct known *known; /* addresses that completed an authenticated handshake */
	int nknown;
	uint64_t seq, acc_seq;
	int64_t listen_paused_until;
	pthread_mutex_t mu; /* replies and stats */
	struct rep *rq, **rq_tail;
	struct tlsfront_stats st;
};

/* ---- small helpers ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void seterr(char *err, size_t n, const char *what, int rv)
{
	char b[160] = "";
	if (!err || !n)
		return;
	if (rv)
		mbedtls_strerror(rv, b, sizeof b);
	snprintf(err, n, "%s%s%s", what, rv ? ": " : "", b);
}

#define STAT_INC(f, field)                                                                 \
	do {                                                                               \
		pthread_mutex_lock(&(f)->mu);                                              \
		(f)->st.field++;                                                           \
		pthread_mutex_unlock(&(f)->mu);                                            \
	} while (0)

/* token bucket: rate per second, burst 2×; rate 0 = no limit */
static int bucket_take(struct bucket *b, int rate, int64_t now, int take)
{
	if (rate <= 0)
		return 1;
	double burst = 2.0 * rate;
	if (b->last_ms == 0) {
		b->tokens = burst;
	} else if (now > b->last_ms) {
		b->tokens += (double)(now - b->last_ms) * rate / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ms = now;
	if (b->tokens < 1.0)
		return 0;
	if (take)
		b->tokens -= 1.0;
	return 1;
}

void tlsfront_conf_defaults(struct tlsfront_conf *c)
{
	memset(c, 0, sizeof *c);
	c->listen = "https://[::]:8471";
	c->path = "/v1/trace";
	c->head_timeout_ms = 2000;
	c->body_timeout_ms = 2000;
	c->idle_timeout_ms = 15000;
	c->reply_timeout_ms = 65000;
	c->max_conns = 256;
	c->max_conns_per_peer = 8;
	c->max_preauth_per_peer = 4;
	c->handshakes_per_peer = 20;
	c->handshakes_total = 200;
	c->rate = 100;
	c->max_head = 8192;
	c->max_body = 65536;
}

size_t tlsfront_preauth_bytes(const struct tlsfront_conf *c)
{
	/* the mbedTLS context, its two record buffers, the handshake state (ECDHE, the
	 * transform and session being negotiated) and the client's certificate chain as
	 * parsed (at most one handshake message: ≤ 2 × the input buffer), the head buffer,
	 * the slot; plus malloc overhead */
	size_t tls = c->lab_plain ? 0
				  : sizeof(mbedtls_ssl_context) + MBEDTLS_SSL_IN_BUFFER_LEN +
					    MBEDTLS_SSL_OUT_BUFFER_LEN +
					    sizeof(mbedtls_ssl_handshake_params) +
					    sizeof(mbedtls_ssl_transform) + sizeof(mbedtls_ssl_session) +
					    2 * MBEDTLS_SSL_IN_BUFFER_LEN;
	return tls + c->max_head + 1 + sizeof(struct conn) + sizeof(struct peer) + 256;
}

/* ---- the HTTP head (pure) -------------------------------------------------------------- */

static int is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static long head_fail(struct tlsfront_head *h, int status, const char *code, const char *why)
{
	h->status = status;
	h->code = code;
	h->why = why;
	return -1;
}

/* a comma-separated header value holds token tok (case-insensitive) */
static int has_token(const char *v, size_t vl, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < vl) {
		while (i < vl && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < vl && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && !strncasecmp(v + s, tok, tl))
			return 1;
	}
	return 0;
}

long tlsfront_parse_head(const char *buf, size_t len, size_t max_head, struct tlsfront_head *h)
{
	memset(h, 0, sizeof *h);
	h->content_length = -1;
	size_t lim = len < max_head ? len : max_head;
	/* refuse early what cannot become a request line (a TLS hello to a plain port) */
	for (size_t i = 0; i < lim && buf[i] != ' '; i++)
		if (!is_tchar((unsigned char)buf[i]) || i >= sizeof h->method - 1)
			return head_fail(h, 400, "bad_request", "malformed request line");
	const char *end = lim >= 4 ? memmem(buf, lim, "\r\n\r\n", 4) : NULL;
	if (!end) {
		if (len >= max_head)
			return head_fail(h, 431, "head_too_large", "request head too large");
		return 0;
	}
	size_t hl = (size_t)(end - buf) + 4;
	const char *p = buf, *eol = memmem(buf, hl, "\r\n", 2);
	/* request line: METHOD SP TARGET SP HTTP/1.N CRLF */
	const char *sp = memchr(p, ' ', (size_t)(eol - p));
	if (!sp || sp == p)
		return head_fail(h, 400, "bad_request", "malformed request line");
	memcpy(h->method, p, (size_t)(sp - p));
	h->method[sp - p] = 0;
	const char *t = sp + 1, *sp2 = memchr(t, ' ', (size_t)(eol - t));
	if (!sp2 || sp2 == t)
		return head_fail(h, 400, "bad_request", "malformed request line");
	if ((size_t)(sp2 - t) >= sizeof h->target)
		return head_fail(h, 414, "bad_request", "request target too long");
	for (const char *q = t; q < sp2; q++)
		if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
			return head_fail(h, 400, "bad_request", "malformed request target");
	memcpy(h->target, t, (size_t)(sp2 - t));
	h->target[sp2 - t] = 0;
	const char *v = sp2 + 1;
	if (eol - v != 8 || memcmp(v, "HTTP/", 5))
		return head_fail(h, 400, "bad_request", "malformed request line");
	if (v[5] != '1' || v[6] != '.' || (v[7] != '0' && v[7] != '1'))
		return head_fail(h, 505, "bad_request", "HTTP/1.0 or HTTP/1.1 only");
	h->minor = v[7] - '0';
	int keep_alive = 0;
	/* header fields */
	for (p = eol + 2; p < end + 2; p = eol + 2) {
		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		if (*p == ' ' || *p == '\t')
			return head_fail(h, 400, "bad_request", "folded header line");
		const char *colon = p;
		while (colon < eol && is_tchar((unsigned char)*colon))
			colon++;
		if (colon == p || colon == eol || *colon != ':')
			return head_fail(h, 400, "bad_request", "malformed header line");
		size_t nl = (size_t)(colon - p);
		const char *val = colon + 1, *ve = eol;
		for (const char *q = val; q < ve; q++) {
			unsigned char ch = (unsigned char)*q;
			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return head_fail(h, 400, "bad_request", "control character in a header");
		}
		while (val < ve && (*val == ' ' || *val == '\t'))
			val++;
		while (ve > val && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		size_t vl = (size_t)(ve - val);
		if (nl == 14 && !strncasecmp(p, "Content-Length", 14)) {
			long long n = 0;
			if (vl == 0 || vl > 18)
				return head_fail(h, 400, "bad_request", "bad Content-Length");
			for (size_t i = 0; i < vl; i++) {
				if (val[i] < '0' || val[i] > '9')
					return head_fail(h, 400, "bad_request", "bad Content-Length");
				n = n * 10 + (val[i] - '0');
			}
			if (h->content_length >= 0 && h->content_length != n)
				return head_fail(h, 400, "bad_request", "conflicting Content-Length");
			h->content_length = n;
		} else if (nl == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
			h->chunked = 1;
		} else if (nl == 10 && !strncasecmp(p, "Connection", 10)) {
			if (has_token(val, vl, "close"))
				h->conn_close = 1;
			if (has_token(val, vl, "keep-alive"))
				keep_alive = 1;
		} else if (nl == 6 && !strncasecmp(p, "Expect", 6)) {
			if (vl == 12 && !strncasecmp(val, "100-continue", 12))
				h->expect_continue = 1;
		}
	}
	if (h->minor == 0 && !keep_alive)
		h->conn_close = 1;
	return (long)hl;
}

int tlsfront_check_head(struct tlsfront_head *h, const char *path, size_t max_body)
{
	size_t pl = strcspn(h->target, "?");
	if (strlen(path) != pl || strncmp(h->target, path, pl)) {
		head_fail(h, 404, "not_found", "no such resource");
		return 404;
	}
	if (strcmp(h->method, "POST")) {
		head_fail(h, 405, "method_not_allowed", "method not allowed: use POST");
		return 405;
	}
	if (h->chunked) {
		head_fail(h, 411, "length_required",
			  "chunked bodies are not accepted: send Content-Length");
		return 411;
	}
	if (h->content_length < 0) {
		head_fail(h, 411, "length_required", "Content-Length required");
		return 411;
	}
	if ((unsigned long long)h->content_length > max_body) {
		head_fail(h, 413, "too_large", "request body too large");
		return 413;
	}
	return 0;
}

size_t tlsfront_error_json(char *out, size_t n, const char *code, const char *text)
{
	size_t o = 0;
#define PUT(ch)                                                                            \
	do {                                                                               \
		if (o + 1 < n)                                                             \
			out[o] = (ch);                                                     \
		o++;                                                                       \
	} while (0)
	const char *parts[] = {"{\"ok\":false,\"error\":\"", text, "\",\"code\":\"", code, "\"}"};
	for (int k = 0; k < 5; k++) {
		for (const unsigned char *s = (const unsigned char *)parts[k]; *s; s++) {
			if ((k == 1 || k == 3) && (*s == '"' || *s == '\\')) {
				PUT('\\');
				PUT((char)*s);
			} else if ((k == 1 || k == 3) && *s < 0x20) {
				PUT(' ');
			} else {
				PUT((char)*s);
			}
		}
	}
#undef PUT
	if (n)
		out[o < n ? o : n - 1] = 0;
	return o < n ? o : n - 1;
}

static const char *reason(int st)
{
	switch (st) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* ---- connections ------------------------------------------------------------------------ */

static void peer_key(const struct sockaddr_storage *ss, struct in6_addr *k)
{
	memset(k, 0, sizeof *k);
	if (ss->ss_family == AF_INET) {
		k->s6_addr[10] = k->s6_addr[11] = 0xff;
		memcpy(k->s6_addr + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else {
		*k = ((const struct sockaddr_in6 *)ss)->sin6_addr;
	}
}

static struct peer *peer_get(struct tlsfront *f, const struct in6_addr *k)
{
	struct peer *unused = NULL, *idle = NULL;
	for (int i = 0; i < f->npeers; i++) {
		struct peer *p = &f->peers[i];
		if (p->used && !memcmp(&p->a, k, sizeof *k))
			return p;
		if (!p->used && !unused)
			unused = p;
		else if (p->used && !p->conns && (!idle || p->hs.last_ms < idle->hs.last_ms))
			idle = p;
	}
	/* a free entry, else the longest idle one with no connections (its bucket is
	 * forgotten: the total bucket still bounds the handshakes) */
	struct peer *fr = unused ? unused : idle;
	if (!fr)
		return NULL;
	memset(fr, 0, sizeof *fr);
	fr->a = *k;
	fr->used = 1;
	return fr;
}

static struct certrate *rate_get(struct tlsfront *f, const unsigned char key[32])
{
	struct certrate *old = NULL;
	for (int i = 0; i < f->nrates; i++) {
		struct certrate *r = &f->rates[i];
		if (r->used && !memcmp(r->key, key, 32))
			return r;
		if (!old || (old->used && (!r->used || r->b.last_ms < old->b.last_ms)))
			old = r;
	}
	memset(old, 0, sizeof *old);
	memcpy(old->key, key, 32);
	old->used = 1;
	return old;
}

static void id_free(struct tls_id *t)
{
	if (!t)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ssl_cache_free(&t->cache);
	mbedtls_x509_crt_free(&t->own);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crl_free(&t->crl);
	mbedtls_pk_free(&t->key);
	free(t);
}

static void id_unref(struct tls_id *t)
{
	if (t && --t->refs == 0)
		id_free(t);
}

static void ssl_release(struct conn *c)
{
	if (!c->ssl)
		return;
	mbedtls_ssl_free(c->ssl);
	free(c->ssl);
	c->ssl = NULL;
	id_unref(c->id);
	c->id = NULL;
}

/* the loop thread, each round: a reload's identity becomes the current one (new
 * connections use it; the old one lives on while connections set up with it do) */
static void id_swap(struct tlsfront *f)
{
	pthread_mutex_lock(&f->mu);
	struct tls_id *p = f->pending;
	f->pending = NULL;
	pthread_mutex_unlock(&f->mu);
	if (!p)
		return;
	struct tls_id *old = f->id;
	f->id = p;
	id_unref(old);
}

static void conn_close(struct tlsfront *f, struct conn *c)
{
	ssl_release(c);
	free(c->head);
	free(c->body);
	free(c->out);
	c->head = c->body = c->out = NULL;
	if (c->peer) {
		c->peer->conns--;
		if (c->preauth)
			c->peer->preauth--;
	}
	if (c->preauth)
		f->npreauth--;
	f->nconns--;
	c->peer = NULL;
	c->preauth = 0;
	c->req_id = 0;
	c->st = C_FREE;
	pthread_mutex_lock(&f->mu);
	f->st.conns = f->nconns;
	f->st.preauth = f->npreauth;
	pthread_mutex_unlock(&f->mu);
	if (c->fd >= 0) /* last: whoever sees the close sees the counts */
		close(c->fd);
	c->fd = -1;
}

static int bio_send(void *ctx, const unsigned char *b, size_t n)
{
	struct conn *c = ctx;
	ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			       ? MBEDTLS_ERR_SSL_WANT_WRITE
			       : MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)w;
}

static int bio_recv(void *ctx, unsigned char *b, size_t n)
{
	struct conn *c = ctx;
	ssize_t r = recv(c->fd, b, n, 0);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
			       ? MBEDTLS_ERR_SSL_WANT_READ
			       : MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)r;
}

#define IO_AGAIN (-2)

/* >0 bytes, 0 end of stream, IO_AGAIN (c->want set), -1 error */
static int io_read(struct conn *c, void *b, size_t n)
{
	if (!c->ssl) {
		ssize_t r = recv(c->fd, b, n, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			c->want = POLLIN;
			return IO_AGAIN;
		}
		return r < 0 ? -1 : (int)r;
	}
	int r = mbedtls_ssl_read(c->ssl, b, n);
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want = r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
		return IO_AGAIN;
	}
	if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == 0)
		return 0;
	return r < 0 ? -1 : r;
}

static int io_write(struct conn *c, const void *b, size_t n)
{
	if (!c->ssl) {
		ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			c->want = POLLOUT;
			return IO_AGAIN;
		}
		return w < 0 ? -1 : (int)w;
	}
	int w = mbedtls_ssl_write(c->ssl, b, n);
	if (w == MBEDTLS_ERR_SSL_WANT_READ || w == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want = w == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
		return IO_AGAIN;
	}
	return w < 0 ? -1 : w;
}

/* Queues a response; the connection goes to WRITE. */
static int respond(struct tlsfront *f, struct conn *c, int status, const char *body, size_t len,
		   int close_after)
{
	char h[256];
	int hl = snprintf(h, sizeof h,
			  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\n%s%s\r\n",
			  status, reason(status), len, status == 405 ? "Allow: POST\r\n" : "",
			  close_after ? "Connection: close\r\n" : "");
	free(c->out);
	c->out = malloc((size_t)hl + len);
	if (!c->out) {
		conn_close(f, c);
		return -1;
	}
	memcpy(c->out, h, (size_t)hl);
	memcpy(c->out + hl, body, len);
	c->olen = (size_t)hl + len;
	c->ooff = 0;
	c->close_after = close_after;
	c->st = C_WRITE;
	c->deadline = now_ms() + f->c.body_timeout_ms;
	return 1;
}

static int respond_err(struct tlsfront *f, struct conn *c, int status, const char *code,
		       const char *text, int close_after)
{
	char b[512];
	size_t n = tlsfront_error_json(b, sizeof b, code, text);
	return respond(f, c, status, b, n, close_after);
}

static int known_has(struct tlsfront *f, const struct in6_addr *k)
{
	for (int i = 0; i < f->nknown; i++)
		if (f->known[i].last_ms && !memcmp(&f->known[i].a, k, sizeof *k))
			return 1;
	return 0;
}

static void known_add(struct tlsfront *f, const struct in6_addr *k, int64_t now)
{
	struct known *o = NULL;
	for (int i = 0; i < f->nknown; i++) {
		struct known *e = &f->known[i];
		if (e->last_ms && !memcmp(&e->a, k, sizeof *k)) {
			e->last_ms = now;
			return;
		}
		if (!o || e->last_ms < o->last_ms)
			o = e;
	}
	o->a = *k;
	o->last_ms = now;
}

static int do_handshake(struct tlsfront *f, struct conn *c)
{
	int r = mbedtls_ssl_handshake(c->ssl);
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		c->want = r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
		return 0;
	}
	if (r != 0) {
		STAT_INC(f, handshake_failed);
		conn_close(f, c);
		return -1;
	}
	const mbedtls_x509_crt *pc = mbedtls_ssl_get_peer_cert(c->ssl);
	struct in6_addr k;
	peer_key(&c->ss, &k);
	int fam = c->ss.ss_family;
	const void *a = fam == AF_INET ? (const void *)(k.s6_addr + 12) : (const void *)k.s6_addr;
	int named = 0;
	c->naddrs = pc ? pki_crt_addrs(pc, c->addrs, PKI_ADDRS_MAX) : 0;
	if (c->naddrs < 0)
		c->naddrs = 0;
	for (int i = 0; i < c->naddrs; i++)
		if (c->addrs[i].family == fam && !memcmp(c->addrs[i].a, a, fam == AF_INET ? 4 : 16))
			named = 1;
	if (!pc || !named) {
		STAT_INC(f, peer_addr_mismatch);
		return respond_err(f, c, 403, "forbidden",
				   "peer certificate does not name the peer's address", 1);
	}
	known_add(f, &k, now_ms());
	c->cn[0] = 0;
	for (const mbedtls_x509_name *nm = &pc->subject; nm; nm = nm->next) {
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &nm->oid))
			continue;
		size_t l = nm->val.len < PKI_CN_MAX ? nm->val.len : PKI_CN_MAX;
		for (size_t i = 0; i < l; i++) {
			unsigned char ch = nm->val.p[i];
			c->cn[i] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		c->cn[l] = 0;
		break;
	}
	mbedtls_sha256_ret(pc->raw.p, pc->raw.len, c->certkey, 0);
	c->head = malloc(f->c.max_head + 1);
	if (!c->head) {
		conn_close(f, c);
		return -1;
	}
	c->hlen = 0;
	c->st = C_HEAD;
	return 1;
}

static int start_request(struct tlsfront *f, struct conn *c);

static int do_head(struct tlsfront *f, struct conn *c)
{
	for (;;) {
		if (c->hlen) {
			long n = tlsfront_parse_head(c->head, c->hlen, f->c.max_head, &c->h);
			if (c->st == C_IDLE) {
				c->st = C_HEAD;
				c->deadline = now_ms() + f->c.head_timeout_ms;
			}
			if (n < 0 || (n > 0 && tlsfront_check_head(&c->h, f->path, f->c.max_body))) {
				STAT_INC(f, bad_request);
				return respond_err(f, c, c->h.status, c->h.code, c->h.why, 1);
			}
			if (n > 0) {
				/* the head is complete and accepted: now the body */
				if (c->preauth) {
					c->preauth = 0;
					c->peer->preauth--;
					f->npreauth--;
				}
				size_t cl = (size_t)c->h.content_length, rest = c->hlen - (size_t)n;
				c->body = malloc(cl + 1);
				if (!c->body) {
					conn_close(f, c);
					return -1;
				}
				c->bneed = cl;
				c->blen = rest < cl ? rest : cl;
				memcpy(c->body, c->head + n, c->blen);
				memmove(c->head, c->head + n + c->blen, rest - c->blen);
				c->hlen = rest - c->blen;
				c->st = C_BODY;
				c->deadline = now_ms() + f->c.body_timeout_ms;
				if (c->h.expect_continue && c->blen < cl) {
					static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
					if (io_write(c, cont, sizeof cont - 1) != (int)sizeof cont - 1) {
						conn_close(f, c); /* best effort only */
						return -1;
					}
				}
				return 1;
			}
		}
		if (c->hlen >= f->c.max_head) { /* the parser said 431 already */
			conn_close(f, c);
			return -1;
		}
		int r = io_read(c, c->head + c->hlen, f->c.max_head - c->hlen);
		if (r == IO_AGAIN)
			return 0;
		if (r <= 0) {
			conn_close(f, c);
			return -1;
		}
		c->hlen += (size_t)r;
		c->head[c->hlen] = 0;
	}
}

static int do_body(struct tlsfront *f, struct conn *c)
{
	while (c->blen < c->bneed) {
		int r = io_read(c, c->body + c->blen, c->bneed - c->blen);
		if (r == IO_AGAIN)
			return 0;
		if (r <= 0) {
			conn_close(f, c);
			return -1;
		}
		c->blen += (size_t)r;
	}
	c->body[c->bneed] = 0;
	return start_request(f, c);
}

static void drain_replies(struct tlsfront *f);

static int start_request(struct tlsfront *f, struct conn *c)
{
	int64_t now = now_ms();
	struct certrate *cr = rate_get(f, c->certkey);
	if (!bucket_take(&cr->b, f->c.rate, now, 1)) {
		STAT_INC(f, rate_limited);
		free(c->body);
		c->body = NULL;
		return respond_err(f, c, 429, "rate_limited", "too many requests", c->h.conn_close);
	}
	STAT_INC(f, requests);
	int slot = (int)(c - f->conns);
	c->req_id = (++f->seq << SLOT_BITS) | (uint64_t)slot;
	c->st = C_WAIT;
	c->deadline = now + f->c.reply_timeout_ms;
	struct tlsfront_req rq;
	memset(&rq, 0, sizeof rq);
	rq.id = c->req_id;
	rq.peer = c->ss;
	memcpy(rq.peer_cn, c->cn, sizeof rq.peer_cn);
	memcpy(rq.peer_addrs, c->addrs, sizeof rq.peer_addrs);
	rq.npeer_addrs = c->naddrs;
	rq.body = c->body;
	rq.body_len = c->bneed;
	f->fn(f->ud, &rq);
	free(c->body);
	c->body = NULL;
	drain_replies(f); /* an answer given at once goes out now */
	return c->st == C_WAIT ? 0 : 1;
}

static int do_write(struct tlsfront *f, struct conn *c)
{
	while (c->ooff < c->olen) {
		int w = io_write(c, c->out + c->ooff, c->olen - c->ooff);
		if (w == IO_AGAIN)
			return 0;
		if (w <= 0) {
			conn_close(f, c);
			return -1;
		}
		c->ooff += (size_t)w;
	}
	free(c->out);
	c->out = NULL;
	if (c->close_after) {
		if (c->ssl) {
			mbedtls_ssl_close_notify(c->ssl); /* best effort */
			ssl_release(c);
		}
		free(c->head);
		free(c->body);
		c->head = c->body = NULL;
		c->hlen = 0;
		shutdown(c->fd, SHUT_WR);
		c->st = C_LINGER;
		c->linger_left = LINGER_BYTES;
		c->deadline = now_ms() + LINGER_MS;
		return 1;
	}
	c->st = c->hlen ? C_HEAD : C_IDLE;
	c->deadline = now_ms() + (c->hlen ? f->c.head_timeout_ms : f->c.idle_timeout_ms);
	return 1;
}

static int do_linger(struct tlsfront *f, struct conn *c)
{
	char junk[4096];
	for (;;) {
		ssize_t r = recv(c->fd, junk, sizeof junk, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			c->want = POLLIN;
			return 0;
		}
		if (r <= 0 || (size_t)r >= c->linger_left) {
			conn_close(f, c);
			return -1;
		}
		c->linger_left -= (size_t)r;
	}
}

static void conn_run(struct tlsfront *f, struct conn *c)
{
	for (;;) {
		int r;
		c->want = POLLIN;
		switch (c->st) {
		case C_HS: r = do_handshake(f, c); break;
		case C_HEAD:
		case C_IDLE: r = do_head(f, c); break;
		case C_BODY: r = do_body(f, c); break;
		case C_WRITE: r = do_write(f, c); break;
		case C_LINGER: r = do_linger(f, c); break;
		default: return;
		}
		if (r <= 0)
			return;
	}
}

static void conn_timeout(struct tlsfront *f, struct conn *c)
{
	if (c->st == C_WAIT) { /* the handler never answered */
		c->req_id = 0;
		respond_err(f, c, 503, "unavailable", "no answer in time", c->h.conn_close);
		conn_run(f, c);
		return;
	}
	if (c->st != C_IDLE && c->st != C_LINGER)
		STAT_INC(f, timed_out);
	conn_close(f, c);
}

static void drain_replies(struct tlsfront *f)
{
	pthread_mutex_lock(&f->mu);
	struct rep *r = f->rq;
	f->rq = NULL;
	f->rq_tail = &f->rq;
	pthread_mutex_unlock(&f->mu);
	while (r) {
		struct rep *next = r->next;
		uint64_t slot = r->id & ((1u << SLOT_BITS) - 1);
		if (slot < (uint64_t)f->c.max_conns) {
			struct conn *c = &f->conns[slot];
			if (c->st == C_WAIT && c->req_id == r->id) {
				c->req_id = 0;
				if (respond(f, c, r->status, r->data, r->len, c->h.conn_close) > 0)
					c->kick = 1;
			}
		}
		free(r);
		r = next;
	}
}

/* the globally oldest connection not yet authenticated (or of one peer) */
static struct conn *oldest_preauth(struct tlsfront *f, const struct peer *p)
{
	struct conn *o = NULL;
	for (int i = 0; i < f->c.max_conns; i++) {
		struct conn *c = &f->conns[i];
		if (c->st != C_FREE && c->preauth && (!p || c->peer == p) &&
		    (!o || c->acc_seq < o->acc_seq))
			o = c;
	}
	return o;
}

static void do_accept(struct tlsfront *f)
{
	for (int k = 0; k < ACCEPT_BATCH; k++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(f->ls, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				f->listen_paused_until = now_ms() + 100;
			return;
		}
		if (ss.ss_family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
			struct sockaddr_in6 s6 = *(struct sockaddr_in6 *)&ss;
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			memset(&ss, 0, sizeof ss);
			s4->sin_family = AF_INET;
			s4->sin_port = s6.sin6_port;
			memcpy(&s4->sin_addr, s6.sin6_addr.s6_addr + 12, 4);
		}
		int64_t now = now_ms();
		struct in6_addr key;
		peer_key(&ss, &key);
		/* 1. total cap: when full, the oldest unauthenticated connection makes room */
		struct conn *evict_total = NULL;
		if (f->nconns >= f->c.max_conns && !(evict_total = oldest_preauth(f, NULL))) {
			STAT_INC(f, refused_cap);
			close(fd);
			continue;
		}
		struct peer *p = peer_get(f, &key);
		/* 2. per-peer cap */
		if (!p || p->conns - (evict_total && evict_total->peer == p) >=
				  f->c.max_conns_per_peer) {
			STAT_INC(f, refused_cap);
			close(fd);
			continue;
		}
		/* 3. per-peer pre-auth cap: the peer's oldest is evicted */
		struct conn *evict_peer = NULL;
		if (p->preauth - (evict_total && evict_total->peer == p) >= f->c.max_preauth_per_peer)
			evict_peer = oldest_preauth(f, p);
		/* 4. handshake buckets, per peer and in all (nothing evicted if refused) */
		struct bucket *tot = !f->c.lab_plain && known_has(f, &key) ? &f->hs_fleet
									  : &f->hs_total;
		if (!bucket_take(&p->hs, f->c.handshakes_per_peer, now, 0) ||
		    !bucket_take(tot, f->c.handshakes_total, now, 0)) {
			STAT_INC(f, refused_rate_handshake);
			close(fd);
			continue;
		}
		bucket_take(&p->hs, f->c.handshakes_per_peer, now, 1);
		bucket_take(tot, f->c.handshakes_total, now, 1);
		if (evict_total) {
			STAT_INC(f, evicted_preauth);
			conn_close(f, evict_total);
		}
		if (evict_peer && evict_peer != evict_total && evict_peer->st != C_FREE) {
			STAT_INC(f, evicted_preauth);
			conn_close(f, evict_peer);
		}
		struct conn *c = NULL;
		for (int i = 0; i < f->c.max_conns && !c; i++)
			if (f->conns[i].st == C_FREE)
				c = &f->conns[i];
		if (!c) { /* cannot happen: nconns < max_conns here */
			close(fd);
			continue;
		}
		memset(c, 0, sizeof *c);
		c->fd = fd;
		c->ss = ss;
		c->peer = p;
		c->accepted_ms = now;
		c->acc_seq = ++f->acc_seq;
		c->deadline = now + f->c.head_timeout_ms;
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->ip, sizeof c->ip);
		else
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->ip,
				  sizeof c->ip);
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		p->conns++;
		p->preauth++;
		c->preauth = 1;
		f->nconns++;
		f->npreauth++;
		if (f->c.lab_plain) {
			c->head = malloc(f->c.max_head + 1);
			c->st = C_HEAD;
			memcpy(c->certkey, &key, sizeof key); /* the rate is per address */
			if (!c->head) {
				conn_close(f, c);
				continue;
			}
		} else {
			c->st = C_HS;
			c->ssl = malloc(sizeof *c->ssl);
			if (!c->ssl) {
				conn_close(f, c);
				continue;
			}
			mbedtls_ssl_init(c->ssl);
			c->id = f->id;
			c->id->refs++;
			if (mbedtls_ssl_setup(c->ssl, &f->id->conf) != 0) {
				conn_close(f, c);
				continue;
			}
			mbedtls_ssl_set_bio(c->ssl, c, bio_send, bio_recv, NULL);
		}
		pthread_mutex_lock(&f->mu);
		f->st.accepted++;
		f->st.conns = f->nconns;
		f->st.preauth = f->npreauth;
		pthread_mutex_unlock(&f->mu);
		conn_run(f, c);
	}
}

static void *loop(void *arg)
{
	struct tlsfront *f = arg;
	int n = f->c.max_conns;
	struct pollfd *pf = calloc((size_t)n + 2, sizeof *pf);
	int *idx = calloc((size_t)n + 2, sizeof *idx);
	if (!pf || !idx) {
		free(pf);
		free(idx);
		return NULL;
	}
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		int64_t now = now_ms(), next = now + 1000;
		int np = 0;
		pf[np].fd = f->efd;
		pf[np++].events = POLLIN;
		int lidx = -1;
		if (now >= f->listen_paused_until) {
			lidx = np;
			pf[np].fd = f->ls;
			pf[np++].events = POLLIN;
		} else if (f->listen_paused_until < next) {
			next = f->listen_paused_until;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = &f->conns[i];
			if (c->st == C_FREE)
				continue;
			if (c->deadline < next)
				next = c->deadline;
			if (c->st == C_WAIT)
				continue;
			pf[np].fd = c->fd;
			pf[np].events = c->want ? c->want : POLLIN;
			idx[np++] = i;
		}
		int to = next > now ? (int)(next - now) : 0;
		int r = poll(pf, (nfds_t)np, to);
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && (pf[0].revents & POLLIN)) {
			uint64_t v;
			if (read(f->efd, &v, sizeof v) < 0 && errno != EAGAIN)
				break;
		}
		id_swap(f); /* before this round's accepts */
		drain_replies(f);
		for (int i = 0; i < n; i++) {
			if (f->conns[i].kick) {
				f->conns[i].kick = 0;
				conn_run(f, &f->conns[i]);
			}
		}
		if (r > 0) {
			for (int k = lidx < 0 ? 1 : 2; k < np; k++) {
				struct conn *c = &f->conns[idx[k]];
				if (pf[k].revents && c->st != C_FREE && c->st != C_WAIT &&
				    c->fd == pf[k].fd)
					conn_run(f, c);
			}
			if (lidx >= 0 && (pf[lidx].revents & POLLIN))
				do_accept(f);
		}
		now = now_ms();
		for (int i = 0; i < n; i++) {
			struct conn *c = &f->conns[i];
			if (c->st != C_FREE && c->deadline <= now)
				conn_timeout(f, c);
		}
		drain_replies(f);
		for (int i = 0; i < n; i++) {
			if (f->conns[i].kick) {
				f->conns[i].kick = 0;
				conn_run(f, &f->conns[i]);
			}
		}
	}
	free(pf);
	free(idx);
	return NULL;
}

/* ---- set-up ------------------------------------------------------------------------------ */

static int parse_listen(const char *u, int plain, struct sockaddr_storage *ss, socklen_t *sl,
			char *err, size_t n)
{
	const char *want = plain ? "http://" : "https://";
	if (strncmp(u, want, strlen(want))) {
		snprintf(err, n, "listen %s: must be %sADDR:PORT%s", u, want,
			 plain ? " (lab_plain)" : " (http:// only with lab_plain)");
		return -1;
	}
	const char *h = u + strlen(want), *pe;
	char host[INET6_ADDRSTRLEN + 2];
	if (*h == '[') {
		pe = strchr(h, ']');
		if (!pe || pe[1] != ':' || (size_t)(pe - h - 1) >= sizeof host)
			goto bad;
		memcpy(host, h + 1, (size_t)(pe - h - 1));
		host[pe - h - 1] = 0;
		pe++;
	} else {
		pe = strrchr(h, ':');
		if (!pe || (size_t)(pe - h) >= sizeof host)
			goto bad;
		memcpy(host, h, (size_t)(pe - h));
		host[pe - h] = 0;
	}
	char *end;
	long port = strtol(pe + 1, &end, 10);
	if (end == pe + 1 || (*end && strcmp(end, "/")) || port < 0 || port > 65535)
		goto bad;
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof *s4;
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof *s6;
	} else {
		goto bad;
	}
	return 0;
bad:
	snprintf(err, n, "listen %s: expected %s[ADDR6]:PORT or %sADDR4:PORT", u, want, want);
	return -1;
}

/* A new identity from the files; max_conns sizes its session cache. strict (a reload):
 * also this end's certificate checked against the new CA and CRL — chain, validity,
 * revocation, a TLS certificate — so that nothing is swapped in that a peer refuses. */
static struct tls_id *id_load(const char *ca_file, const char *cert_file, const char *key_file,
			      const char *crl_file, int max_conns, int strict, char *err, size_t n)
{
	char what[600];
	int rv = 0;
	mbedtls_ctr_drbg_context *drbg;
	if (!ca_file || !cert_file || !key_file || !*ca_file || !*cert_file || !*key_file) {
		snprintf(err, n, "TLS needs ca, cert and key ([fleet])");
		return NULL;
	}
	if (pki_rng(&drbg) != 0) {
		snprintf(err, n, "random generator: seeding failed");
		return NULL;
	}
	struct tls_id *t = calloc(1, sizeof *t);
	if (!t) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_ssl_cache_init(&t->cache);
	mbedtls_x509_crt_init(&t->own);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_x509_crl_init(&t->crl);
	mbedtls_pk_init(&t->key);
	t->refs = 1;
	if ((rv = mbedtls_x509_crt_parse_file(&t->ca, ca_file))) {
		snprintf(what, sizeof what, "ca %s", ca_file);
		goto fail;
	}
	if ((rv = mbedtls_x509_crt_parse_file(&t->own, cert_file))) {
		snprintf(what, sizeof what, "cert %s", cert_file);
		goto fail;
	}
	if ((rv = mbedtls_pk_parse_keyfile(&t->key, key_file, NULL))) {
		snprintf(what, sizeof what, "key %s", key_file);
		goto fail;
	}
	if ((rv = mbedtls_pk_check_pair(&t->own.pk, &t->key))) {
		snprintf(what, sizeof what, "key %s does not match cert %s", key_file, cert_file);
		goto fail;
	}
	if (crl_file && *crl_file) {
		if ((rv = mbedtls_x509_crl_parse_file(&t->crl, crl_file))) {
			snprintf(what, sizeof what, "crl %s", crl_file);
			goto fail;
		}
		t->have_crl = 1;
	}
	if (strict) {
		uint32_t flags = 0;
		if (mbedtls_x509_crt_verify(&t->own, &t->ca, t->have_crl ? &t->crl : NULL, NULL, &flags,
					    NULL, NULL) != 0) {
			char b[300];
			mbedtls_x509_crt_verify_info(b, sizeof b, "", flags);
			for (char *p = b; *p; p++)
				if (*p == '\n')
					*p = p[1] ? ';' : 0;
			snprintf(err, n, "cert %s: %s (ca %s%s%s)", cert_file, b, ca_file,
				 t->have_crl ? ", crl " : "", t->have_crl ? crl_file : "");
			id_free(t);
			return NULL;
		}
		if (pki_crt_kind(&t->own) != PKI_KIND_TLS) {
			snprintf(err, n, "cert %s: not a TLS certificate (use HOST.crt)", cert_file);
			id_free(t);
			return NULL;
		}
	}
	static const int suites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
				     MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
				     MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 0};
	if ((rv = mbedtls_ssl_config_defaults(&t->conf, MBEDTLS_SSL_IS_SERVER,
					      MBEDTLS_SSL_TRANSPORT_STREAM,
					      MBEDTLS_SSL_PRESET_DEFAULT)) ||
	    (rv = mbedtls_ssl_conf_own_cert(&t->conf, &t->own, &t->key))) {
		snprintf(what, sizeof what, "TLS configuration");
		goto fail;
	}
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, drbg);
	mbedtls_ssl_conf_authmode(&t->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, t->have_crl ? &t->crl : NULL);
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
				     MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&t->conf, suites);
	mbedtls_ssl_conf_renegotiation(&t->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	mbedtls_ssl_cache_set_max_entries(&t->cache, max_conns);
	mbedtls_ssl_cache_set_timeout(&t->cache, 3600);
	mbedtls_ssl_conf_session_cache(&t->conf, &t->cache, mbedtls_ssl_cache_get,
				       mbedtls_ssl_cache_set);
	return t;
fail:
	seterr(err, n, what, rv);
	id_free(t);
	return NULL;
}

static int tls_setup(struct tlsfront *f, char *err, size_t n)
{
	const struct tlsfront_conf *c = &f->c;
	f->id = id_load(c->ca_file, c->cert_file, c->key_file, c->crl_file, c->max_conns, 0, err, n);
	return f->id ? 0 : -1;
}

int tlsfront_reload(struct tlsfront *f, const char *ca_file, const char *cert_file,
		    const char *key_file, const char *crl_file, char *err, size_t n)
{
	if (!f->id) {
		snprintf(err, n, "lab_plain: no TLS identity to reload");
		return -1;
	}
	struct tls_id *t = id_load(ca_file, cert_file, key_file, crl_file, f->c.max_conns, 1, err, n);
	if (!t)
		return -1; /* the old identity stays */
	pthread_mutex_lock(&f->mu);
	struct tls_id *old = f->pending; /* a reload not yet swapped in: never used */
	f->pending = t;
	f->st.reloads++;
	pthread_mutex_unlock(&f->mu);
	id_free(old);
	if (!f->started) {
		id_swap(f);
	} else {
		uint64_t one = 1;
		if (write(f->efd, &one, sizeof one) < 0) { /* the loop swaps at its next round */
		}
	}
	return 0;
}

void tlsfront_stop(struct tlsfront *f)
{
	if (!f)
		return;
	if (f->started) {
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
		uint64_t one = 1;
		if (write(f->efd, &one, sizeof one) < 0) { /* the loop sees stop at its next round */
		}
		pthread_join(f->th, NULL);
	}
	if (f->conns)
		for (int i = 0; i < f->c.max_conns; i++)
			if (f->conns[i].st != C_FREE)
				conn_close(f, &f->conns[i]);
	struct rep *r = f->rq;
	while (r) {
		struct rep *nx = r->next;
		free(r);
		r = nx;
	}
	if (f->ls >= 0)
		close(f->ls);
	if (f->efd >= 0)
		close(f->efd);
	id_unref(f->id);
	id_free(f->pending);
	free(f->conns);
	free(f->peers);
	free(f->rates);
	free(f->known);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

/* a bound, listening socket for listen (the scheme checked as tlsfront_new does) */
int tlsfront_listen_socket(const char *url, int plain, char *err, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	if (parse_listen(url ? url : "", plain, &ss, &sl, err, n) != 0)
		return -1;
	int ls = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0) {
		snprintf(err, n, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1, zero = 0;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
	if (bind(ls, (struct sockaddr *)&ss, sl) != 0 || listen(ls, 128) != 0) {
		int e = errno;
		snprintf(err, n, "listen %s: %s", url, strerror(e));
		close(ls);
		errno = e; /* EADDRINUSE: the caller may let go of its old socket first */
		return -1;
	}
	return ls;
}

/* ls: a listening TCP socket to take, or -1 to bind c->listen here */
static int take_listener(struct tlsfront *f, int ls, char *err, size_t n)
{
	int acc = 0;
	socklen_t al = sizeof acc;
	if (getsockopt(ls, SOL_SOCKET, SO_ACCEPTCONN, &acc, &al) != 0 || !acc) {
		snprintf(err, n, "listening socket %d: %s", ls, acc ? strerror(errno) : "not listening");
		return -1;
	}
	int fl = fcntl(ls, F_GETFL);
	if (fl < 0 || fcntl(ls, F_SETFL, fl | O_NONBLOCK) != 0 || fcntl(ls, F_SETFD, FD_CLOEXEC) != 0) {
		snprintf(err, n, "listening socket %d: %s", ls, strerror(errno));
		return -1;
	}
	f->ls = ls;
	return 0;
}

struct tlsfront *tlsfront_new(const struct tlsfront_conf *c, char *err, size_t n)
{
	return tlsfront_new_on(c, -1, err, n);
}

struct tlsfront *tlsfront_new_on(const struct tlsfront_conf *c, int ls, char *err, size_t n)
{
	struct tlsfront *f = calloc(1, sizeof *f);
	if (!f) {
		snprintf(err, n, "out of memory");
		if (ls >= 0)
			close(ls);
		return NULL;
	}
	f->c = *c;
	f->ls = f->efd = -1;
	pthread_mutex_init(&f->mu, NULL);
	f->rq_tail = &f->rq;
	/* the conf's strings are the caller's: keep only what the loop reads */
	snprintf(f->path, sizeof f->path, "%s", c->path ? c->path : "/");
	f->c.path = f->path;
	f->c.listen = f->c.ca_file = f->c.cert_file = f->c.key_file = f->c.crl_file = NULL;
	if (c->max_conns < 1 || c->max_conns > (1 << SLOT_BITS) - 1 || c->max_conns_per_peer < 1 ||
	    c->max_preauth_per_peer < 1 || c->max_head < 64 || c->head_timeout_ms < 1 ||
	    c->body_timeout_ms < 1 || c->idle_timeout_ms < 1 || c->reply_timeout_ms < 1) {
		snprintf(err, n, "tlsfront: a limit is out of range");
		goto fail;
	}
	struct sockaddr_storage ss;
	socklen_t sl;
	if (ls >= 0) {
		if (take_listener(f, ls, err, n) != 0)
			goto fail;
	} else if (parse_listen(c->listen ? c->listen : "", c->lab_plain, &ss, &sl, err, n) != 0) {
		goto fail;
	}
	if (!c->lab_plain) {
		f->c.ca_file = c->ca_file;
		f->c.cert_file = c->cert_file;
		f->c.key_file = c->key_file;
		f->c.crl_file = c->crl_file;
		if (tls_setup(f, err, n) != 0)
			goto fail;
		f->c.ca_file = f->c.cert_file = f->c.key_file = f->c.crl_file = NULL;
	}
	f->conns = calloc((size_t)c->max_conns, sizeof *f->conns);
	f->npeers = c->max_conns + 64;
	f->peers = calloc((size_t)f->npeers, sizeof *f->peers);
	f->nrates = c->max_conns + 64;
	f->rates = calloc((size_t)f->nrates, sizeof *f->rates);
	f->nknown = KNOWN_MAX;
	f->known = calloc((size_t)f->nknown, sizeof *f->known);
	if (!f->conns || !f->peers || !f->rates || !f->known) {
		snprintf(err, n, "out of memory");
		goto fail;
	}
	for (int i = 0; i < c->max_conns; i++)
		f->conns[i].fd = -1;
	f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->efd < 0) {
		snprintf(err, n, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (f->ls < 0) {
		f->ls = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (f->ls < 0) {
			snprintf(err, n, "socket: %s", strerror(errno));
			goto fail;
		}
		int one = 1, zero = 0;
		setsockopt(f->ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ss.ss_family == AF_INET6)
			setsockopt(f->ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
		if (bind(f->ls, (struct sockaddr *)&ss, sl) != 0 || listen(f->ls, 128) != 0) {
			snprintf(err, n, "listen %s: %s", c->listen, strerror(errno));
			goto fail;
		}
	}
	sl = sizeof ss;
	getsockname(f->ls, (struct sockaddr *)&ss, &sl);
	f->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return f;
fail:
	if (ls >= 0 && f->ls != ls)
		close(ls); /* not taken yet */
	tlsfront_stop(f);
	return NULL;
}

int tlsfront_start(struct tlsfront *f, tlsfront_fn fn, void *ud, char *err, size_t n)
{
	if (f->started) {
		snprintf(err, n, "tlsfront: started already");
		return -1;
	}
	f->fn = fn;
	f->ud = ud;
	int rv = pthread_create(&f->th, NULL, loop, f);
	if (rv) {
		snprintf(err, n, "pthread_create: %s", strerror(rv));
		return -1;
	}
	f->started = 1;
	return 0;
}

int tlsfront_reply(struct tlsfront *f, uint64_t id, int status, const char *json, size_t len)
{
	struct rep *r = malloc(sizeof *r + len + 1);
	if (!r)
		return -1;
	r->next = NULL;
	r->id = id;
	r->status = status;
	r->len = len;
	memcpy(r->data, json, len);
	r->data[len] = 0;
	pthread_mutex_lock(&f->mu);
	*f->rq_tail = r;
	f->rq_tail = &r->next;
	pthread_mutex_unlock(&f->mu);
	uint64_t one = 1;
	if (write(f->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		return -1;
	return 0;
}

void tlsfront_get_stats(struct tlsfront *f, struct tlsfront_stats *s)
{
	pthread_mutex_lock(&f->mu);
	*s = f->st;
	pthread_mutex_unlock(&f->mu);
}

int tlsfront_port(const struct tlsfront *f) { return f->port; }
