#define _GNU_SOURCE
/* mtlssrv — the proposed front of the inquiry service (the unprivileged child):
 * mbedTLS directly (the library under nng), because nng 1.5.2's HTTP server gives a
 * handler neither the peer's certificate nor its address, has no handshake or
 * header deadline, and no hook to cap connections per peer.
 *
 *   mtlssrv ADDR PORT CERT KEY CA
 *
 * Per connection, in this order: per-peer and total caps (checked at accept, before
 * any byte is read), the TLS handshake with a client certificate REQUIRED, the
 * peer's certificate must name the TCP peer's address (iPAddress SAN), then the
 * request head within the header deadline, then at most 64 KiB of body within the
 * body deadline. Only then is anything "processed". Keep-alive with an idle deadline.
 * Environment: CACHE=1 enables mbedTLS's server session cache (resumption).
 * A thread per connection keeps the prototype short; the real child would be one
 * poll loop over non-blocking mbedtls_ssl contexts (WANT_READ/WANT_WRITE).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/version.h>

#include "pki.h"

#define HEAD_MAX 8192
#define BODY_MAX 65536
#define HEAD_DEADLINE_MS 2000 /* from accept: handshake + request head */
#define BODY_DEADLINE_MS 2000
#define IDLE_MS 15000
#define PER_PEER_MAX 8
#define TOTAL_MAX 256

static mbedtls_ssl_config conf;
static mbedtls_x509_crt own, ca;
static mbedtls_pk_context key;
static mbedtls_ssl_cache_context cache;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct in6_addr a;
	int n;
} peers[TOTAL_MAX];
static int total;
static unsigned long refused_cap, refused_tls, refused_name, timed_out;

/* ---- privilege separation (PRIVSEP=1): the monitor (root, would hold the graph) and
 * this unprivileged child talk over a SOCK_SEQPACKET socketpair (one message = one
 * record, so no framing to parse). The child sends only fixed-size, checked fields:
 * the verified peer (address, certificate CN) and the request's fields; the monitor
 * never sees TLS, HTTP or JSON from the network. */
#define PS_MAGIC 0x48545031u /* "HTP1" */
struct ps_req {
	uint32_t magic, id;
	uint8_t peer[16];  /* v4-mapped or v6: the TCP peer, named by its certificate */
	char peer_cn[64];  /* NUL-terminated */
	uint8_t local[16], remote[16];
	uint16_t lport, rport;
	uint8_t depth, pad;
	uint16_t deadline_ms;
	uint8_t nonce[16];
};
struct ps_ans {
	uint32_t magic, id;
	uint16_t status;
	uint16_t len; /* bytes of answer text that follow (≤ 60000) */
	char text[60000];
};
static int ps_fd = -1;
static pthread_mutex_t ps_mu = PTHREAD_MUTEX_INITIALIZER;

static void monitor(int fd, pid_t child)
{
	struct ps_req r;
	static struct ps_ans a;
	for (;;) {
		ssize_t n = recv(fd, &r, sizeof r, 0);
		if (n == 0)
			break;
		/* length-checked: exactly one struct, magic, NUL inside the CN, ranges */
		if (n != (ssize_t)sizeof r || r.magic != PS_MAGIC || !memchr(r.peer_cn, 0, sizeof r.peer_cn) ||
		    r.depth > 64 || r.deadline_ms > 60000) {
			fprintf(stderr, "monitor: bad message from the child (%zd bytes): killing it\n", n);
			kill(child, SIGKILL);
			break;
		}
		a.magic = PS_MAGIC;
		a.id = r.id;
		a.status = 200;
		int l = snprintf(a.text, sizeof a.text,
				 "{\"ok\":true,\"answered_by\":\"monitor uid %d\",\"asker\":\"%s\",\"depth\":%u}",
				 (int)getuid(), r.peer_cn, r.depth);
		a.len = (uint16_t)l;
		send(fd, &a, offsetof(struct ps_ans, text) + a.len, 0);
	}
	exit(0);
}

static int ps_ask(const struct ps_req *r, struct ps_ans *a)
{
	/* one request at a time in the prototype; the real child keeps ids in flight */
	pthread_mutex_lock(&ps_mu);
	int ok = send(ps_fd, r, sizeof *r, 0) == (ssize_t)sizeof *r;
	ssize_t n = ok ? recv(ps_fd, a, sizeof *a, 0) : -1;
	pthread_mutex_unlock(&ps_mu);
	if (n < (ssize_t)offsetof(struct ps_ans, text) || a->magic != PS_MAGIC || a->id != r->id ||
	    (size_t)n != offsetof(struct ps_ans, text) + a->len)
		return -1;
	return 0;
}

static int drop_privileges(void)
{
	struct passwd *pw = getpwnam("nobody");
	const char *root = getenv("PRIVSEP_ROOT") ? getenv("PRIVSEP_ROOT") : "/run/hoptrace-empty";
	mkdir(root, 0755); /* empty, root-owned (as OpenSSH's /run/sshd) */
	if (!pw || chroot(root) != 0 || chdir("/") != 0 || setgroups(0, NULL) != 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		perror("drop privileges");
		return -1;
	}
	return 0;
}

struct conn {
	int fd;
	struct in6_addr peer;
	char ip[INET6_ADDRSTRLEN];
};

static long mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* 1 = admitted */
static int admit(const struct in6_addr *a)
{
	int ok = 0, fr = -1;
	pthread_mutex_lock(&mu);
	if (total < TOTAL_MAX) {
		for (int i = 0; i < TOTAL_MAX; i++) {
			if (peers[i].n && !memcmp(&peers[i].a, a, sizeof *a)) {
				fr = i;
				break;
			}
			if (!peers[i].n && fr < 0)
				fr = i;
		}
		if (fr >= 0 && peers[fr].n < PER_PEER_MAX) {
			peers[fr].a = *a;
			peers[fr].n++;
			total++;
			ok = 1;
		}
	}
	if (!ok)
		refused_cap++;
	pthread_mutex_unlock(&mu);
	return ok;
}

static void release(const struct in6_addr *a)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < TOTAL_MAX; i++)
		if (peers[i].n && !memcmp(&peers[i].a, a, sizeof *a)) {
			peers[i].n--;
			total--;
			break;
		}
	pthread_mutex_unlock(&mu);
}

/* mbedTLS bio with an absolute deadline: each recv waits at most until it */
struct bio {
	int fd;
	long deadline;
};

static int bio_send(void *ctx, const unsigned char *b, size_t n)
{
	struct bio *io = ctx;
	ssize_t w = send(io->fd, b, n, MSG_NOSIGNAL);
	if (w < 0)
		return errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)w;
}

static int bio_recv(void *ctx, unsigned char *b, size_t n)
{
	struct bio *io = ctx;
	long left = io->deadline - mono_ms();
	if (left <= 0)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
	setsockopt(io->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ssize_t r = recv(io->fd, b, n, 0);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? MBEDTLS_ERR_SSL_TIMEOUT
							       : MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)r;
}

static int ssl_write_all(mbedtls_ssl_context *s, const char *p, size_t n)
{
	while (n) {
		int w = mbedtls_ssl_write(s, (const unsigned char *)p, n);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void respond(mbedtls_ssl_context *s, int st, const char *body, int close_conn)
{
	char h[256];
	int hl = snprintf(h, sizeof h,
			  "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
			  st, st == 200 ? "OK" : "Error", strlen(body), close_conn ? "Connection: close\r\n" : "");
	ssl_write_all(s, h, (size_t)hl);
	ssl_write_all(s, body, strlen(body));
}

static void *serve(void *arg)
{
	struct conn *c = arg;
	mbedtls_ssl_context s;
	struct bio io = {.fd = c->fd, .deadline = mono_ms() + HEAD_DEADLINE_MS};
	char head[HEAD_MAX + 1], peer_host[128] = "?";
	int rv;
	head[0] = 0;
	mbedtls_ssl_init(&s);
	if ((rv = mbedtls_ssl_setup(&s, &conf)))
		goto out;
	mbedtls_ssl_set_bio(&s, &io, bio_send, bio_recv, NULL);
	while ((rv = mbedtls_ssl_handshake(&s)) != 0) {
		if (rv == MBEDTLS_ERR_SSL_WANT_READ || rv == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		pthread_mutex_lock(&mu);
		if (rv == MBEDTLS_ERR_SSL_TIMEOUT)
			timed_out++;
		else
			refused_tls++;
		pthread_mutex_unlock(&mu);
		goto out;
	}
	/* who is it: the verified certificate, and it must name the address it speaks from */
	const mbedtls_x509_crt *pc = mbedtls_ssl_get_peer_cert(&s);
	if (!pc || !pki_crt_names_ip(pc, c->ip)) {
		pthread_mutex_lock(&mu);
		refused_name++;
		pthread_mutex_unlock(&mu);
		respond(&s, 403, "{\"ok\":false,\"error\":\"peer certificate does not name the peer's address\"}", 1);
		goto out;
	}
	mbedtls_x509_dn_gets(peer_host, sizeof peer_host, &pc->subject);
	for (;;) { /* requests on this connection */
		size_t hl = 0;
		char *end = NULL;
		while (!(end = strstr(head, "\r\n\r\n")) || !hl) {
			if (hl >= HEAD_MAX) {
				respond(&s, 431, "{\"ok\":false,\"error\":\"request head too large\"}", 1);
				goto out;
			}
			rv = mbedtls_ssl_read(&s, (unsigned char *)head + hl, HEAD_MAX - hl);
			if (rv == MBEDTLS_ERR_SSL_WANT_READ)
				continue;
			if (rv <= 0) {
				if (rv == MBEDTLS_ERR_SSL_TIMEOUT && hl) {
					pthread_mutex_lock(&mu);
					timed_out++;
					pthread_mutex_unlock(&mu);
				}
				goto out;
			}
			hl += (size_t)rv;
			head[hl] = 0;
		}
		size_t headlen = (size_t)(end + 4 - head);
		if (strncmp(head, "POST /v1/trace HTTP/1.1\r\n", 25)) {
			respond(&s, 405, "{\"ok\":false,\"error\":\"POST /v1/trace only\"}", 1);
			goto out;
		}
		/* Content-Length required, Transfer-Encoding refused (the head is ours, bounded) */
		long cl = -1;
		for (char *p = strstr(head, "\r\n") + 2; p < end; p = strstr(p, "\r\n") + 2) {
			if (!strncasecmp(p, "Content-Length:", 15))
				cl = strtol(p + 15, NULL, 10);
			else if (!strncasecmp(p, "Transfer-Encoding:", 18)) {
				respond(&s, 411, "{\"ok\":false,\"error\":\"send Content-Length\"}", 1);
				goto out;
			}
		}
		if (cl < 0 || cl > BODY_MAX) {
			respond(&s, cl < 0 ? 411 : 413, "{\"ok\":false,\"error\":\"Content-Length 0..65536\"}", 1);
			goto out;
		}
		static __thread char body[BODY_MAX];
		size_t have = hl - headlen;
		if (have > (size_t)cl) /* pipelining: not accepted */
			goto out;
		memcpy(body, head + headlen, have);
		io.deadline = mono_ms() + BODY_DEADLINE_MS;
		while (have < (size_t)cl) {
			rv = mbedtls_ssl_read(&s, (unsigned char *)body + have, (size_t)cl - have);
			if (rv == MBEDTLS_ERR_SSL_WANT_READ)
				continue;
			if (rv <= 0)
				goto out;
			have += (size_t)rv;
		}
		if (ps_fd >= 0) {
			/* the child would parse the JSON body into these fields (cJSON here) */
			static __thread struct ps_ans a;
			static uint32_t next_id;
			struct ps_req r = {.magic = PS_MAGIC, .depth = 7, .deadline_ms = 900};
			r.id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
			memcpy(r.peer, &c->peer, 16);
			snprintf(r.peer_cn, sizeof r.peer_cn, "%s", peer_host);
			if (ps_ask(&r, &a) != 0) {
				respond(&s, 500, "{\"ok\":false,\"error\":\"monitor\"}", 1);
				goto out;
			}
			a.text[a.len < sizeof a.text ? a.len : sizeof a.text - 1] = 0;
			respond(&s, a.status, a.text, 0);
		} else {
			char out[512];
			snprintf(out, sizeof out, "{\"ok\":true,\"peer\":\"%s\",\"peer_host\":\"%s\",\"len\":%ld}",
				 c->ip, peer_host, cl);
			respond(&s, 200, out, 0);
		}
		head[0] = 0;
		io.deadline = mono_ms() + IDLE_MS;
	}
out:
	mbedtls_ssl_close_notify(&s);
	mbedtls_ssl_free(&s);
	close(c->fd);
	release(&c->peer);
	free(c);
	return NULL;
}

static void *stats(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(5);
		pthread_mutex_lock(&mu);
		fprintf(stderr, "mtlssrv: open %d, refused: cap %lu tls %lu name %lu, timed out %lu\n",
			total, refused_cap, refused_tls, refused_name, timed_out);
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	mbedtls_ctr_drbg_context *r;
	int rv;
	if (argc != 6) {
		fprintf(stderr, "usage: mtlssrv ADDR PORT CERT KEY CA\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	mbedtls_x509_crt_init(&own);
	mbedtls_x509_crt_init(&ca);
	if (pki_rng(&r) || pki_load_crt(argv[3], &own) || pki_load_key(argv[4], &key) ||
	    pki_load_crt(argv[5], &ca))
		return 1;
	static const int suites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
				     MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
				     MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 0};
	mbedtls_ssl_config_init(&conf);
	if ((rv = mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
					      MBEDTLS_SSL_PRESET_DEFAULT)) ||
	    (rv = mbedtls_ssl_conf_own_cert(&conf, &own, &key))) {
		pki_err("ssl config", rv);
		return 1;
	}
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, r);
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	static mbedtls_x509_crl crl;
	mbedtls_x509_crl_init(&crl);
	if (getenv("CRL") && (rv = mbedtls_x509_crl_parse_file(&crl, getenv("CRL")))) {
		pki_err("crl", rv);
		return 1;
	}
	mbedtls_ssl_conf_ca_chain(&conf, &ca, getenv("CRL") ? &crl : NULL);
	mbedtls_ssl_conf_min_version(&conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_ciphersuites(&conf, suites);
	if (getenv("CACHE")) {
		mbedtls_ssl_cache_init(&cache);
		mbedtls_ssl_conf_session_cache(&conf, &cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
	}

	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(argv[2]))};
	int ls;
	if (strchr(argv[1], ':')) {
		inet_pton(AF_INET6, argv[1], &sa.sin6_addr);
		ls = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		rv = bind(ls, (struct sockaddr *)&sa, sizeof sa);
	} else {
		struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = sa.sin6_port};
		inet_pton(AF_INET, argv[1], &s4.sin_addr);
		ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int one = 1;
		setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		rv = bind(ls, (struct sockaddr *)&s4, sizeof s4);
	}
	if (rv || listen(ls, 128)) {
		perror("bind/listen");
		return 1;
	}
	fprintf(stderr, "mtlssrv: listening on %s:%s (%s)\n", argv[1], argv[2], MBEDTLS_VERSION_STRING_FULL);
	if (getenv("PRIVSEP")) {
		/* everything the child needs is loaded (certs, key, CA, CRL, listening socket) */
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
			return 1;
		pid_t pid_monitor = getpid(), pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0) {
			close(sv[1]);
			close(ls);
			monitor(sv[0], pid);
		}
		close(sv[0]);
		ps_fd = sv[1];
		if (drop_privileges() != 0)
			return 1;
		/* after the uid change: a credential change clears PR_SET_PDEATHSIG */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != pid_monitor)
			return 1;
		fprintf(stderr, "mtlssrv: child uid %d in an empty chroot serves; monitor pid %d\n",
			(int)getuid(), (int)getppid());
	}
	pthread_t st;
	pthread_create(&st, NULL, stats, NULL);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		int fd = accept4(ls, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		struct conn *c = calloc(1, sizeof *c);
		c->fd = fd;
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			memcpy((char *)&c->peer + 12, &s4->sin_addr, 4); /* v4-mapped key */
			((char *)&c->peer)[10] = ((char *)&c->peer)[11] = (char)0xff;
			inet_ntop(AF_INET, &s4->sin_addr, c->ip, sizeof c->ip);
		} else {
			c->peer = ((struct sockaddr_in6 *)&ss)->sin6_addr;
			inet_ntop(AF_INET6, &c->peer, c->ip, sizeof c->ip);
		}
		if (!admit(&c->peer)) { /* nothing read, nothing allocated beyond this */
			close(fd);
			free(c);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_t t;
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		if (pthread_create(&t, &at, serve, c)) {
			close(fd);
			release(&c->peer);
			free(c);
		}
		pthread_attr_destroy(&at);
	}
}
