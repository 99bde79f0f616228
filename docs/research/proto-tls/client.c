/* client — libcurl (Debian: OpenSSL backend) mTLS client for the prototype servers.
 *
 *   client one  URL [CERT KEY CA]        one POST; prints status and body, or the error
 *   client new  URL [CERT KEY CA] N      N POSTs, each on a new connection (full handshake)
 *   client keep URL [CERT KEY CA] N      N POSTs on one keep-alive connection
 * CERT "-" sends no client certificate (CA still checked).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

struct buf {
	char b[65536];
	size_t n;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t k = sz * n;
	if (b->n + k >= sizeof b->b)
		return 0;
	memcpy(b->b + b->n, p, k);
	b->n += k;
	b->b[b->n] = 0;
	return k;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static const char body[] = "{\"local\":\"127.0.0.1:8471\",\"remote\":\"127.0.0.1:40000\",\"depth\":7,"
			   "\"deadline_ms\":900,\"visited\":[]}";

static CURL *mk(const char *url, const char *cert, const char *key, const char *ca, struct buf *b,
		char *err, struct curl_slist *hdr)
{
	CURL *e = curl_easy_init();
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
	if (getenv("BIND")) { /* source address: the asker speaks from its own address */
		static char ifb[80];
		snprintf(ifb, sizeof ifb, "host!%s", getenv("BIND"));
		curl_easy_setopt(e, CURLOPT_INTERFACE, ifb);
	}
	if (ca) {
		/* only the fleet CA: CAINFO replaces the bundle, and CAPATH must be
		 * cleared too — Debian's libcurl is built --with-ca-path=/etc/ssl/certs */
		if (getenv("BLOB")) { /* in memory: what a chrooted child would use */
			static struct curl_blob cb, kb, ab;
			static char cbuf[8192], kbuf[8192], abuf[8192];
			FILE *f;
			if ((f = fopen(ca, "r"))) { ab.len = fread(abuf, 1, sizeof abuf, f); fclose(f); }
			if ((f = fopen(cert, "r"))) { cb.len = fread(cbuf, 1, sizeof cbuf, f); fclose(f); }
			if ((f = fopen(key, "r"))) { kb.len = fread(kbuf, 1, sizeof kbuf, f); fclose(f); }
			ab.data = abuf; cb.data = cbuf; kb.data = kbuf;
			ab.flags = cb.flags = kb.flags = CURL_BLOB_COPY;
			curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ab);
			curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
			if (strcmp(cert, "-")) {
				curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &cb);
				curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &kb);
			}
		} else
			curl_easy_setopt(e, CURLOPT_CAINFO, ca);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L); /* the URL's IP must be an iPAddress SAN */
		curl_easy_setopt(e, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		if (strcmp(cert, "-") && !getenv("BLOB")) {
			curl_easy_setopt(e, CURLOPT_SSLCERT, cert);
			curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
			curl_easy_setopt(e, CURLOPT_SSLKEY, key);
			curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
		}
		if (getenv("SHARE")) { /* TLS session resumption across connections */
			static CURLSH *sh;
			if (!sh) {
				sh = curl_share_init();
				curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
			}
			curl_easy_setopt(e, CURLOPT_SHARE, sh);
		}
		const char *pin = getenv("PIN"); /* "sha256//BASE64" of the server's SPKI */
		if (pin)
			curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, pin);
	}
	return e;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: client one|new|keep URL [CERT KEY CA] [N]\n");
		return 2;
	}
	const char *mode = argv[1], *url = argv[2], *cert = NULL, *key = NULL, *ca = NULL;
	int n = 1, ai = 3;
	if (argc >= 6) {
		cert = argv[3];
		key = argv[4];
		ca = argv[5];
		ai = 6;
	}
	if (argc > ai)
		n = atoi(argv[ai]);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	static struct buf b;
	char err[CURL_ERROR_SIZE] = "";
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	if (!strcmp(mode, "one")) {
		CURL *e = mk(url, cert, key, ca, &b, err, hdr);
		CURLcode rc = curl_easy_perform(e);
		long code = 0;
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
		if (rc != CURLE_OK) {
			printf("FAILED: %s (%s)\n", curl_easy_strerror(rc), err);
			return 1;
		}
		char *cap = NULL;
		curl_easy_getinfo(e, CURLINFO_CAPATH, &cap);
		printf("HTTP %ld: %s   [capath=%s]\n", code, b.b, cap ? cap : "(none)");
		return code == 200 ? 0 : 1;
	}
	double *t = calloc((size_t)n, sizeof *t);
	CURL *e = NULL;
	for (int i = 0; i < n; i++) {
		b.n = 0;
		if (!e || !strcmp(mode, "new")) {
			if (e)
				curl_easy_cleanup(e);
			e = mk(url, cert, key, ca, &b, err, hdr);
		}
		double t0 = now_us();
		CURLcode rc = curl_easy_perform(e);
		t[i] = now_us() - t0;
		if (rc != CURLE_OK) {
			printf("FAILED at %d: %s (%s)\n", i, curl_easy_strerror(rc), err);
			return 1;
		}
	}
	/* keep: the first request pays the connect (and handshake): leave it out */
	int skip = !strcmp(mode, "keep");
	qsort(t + skip, (size_t)(n - skip), sizeof *t, cmp_d);
	int m = n - skip;
	printf("%s %s %s: n=%d p50 %.0f us p90 %.0f us p99 %.0f us%s\n", mode, url,
	       ca ? (strcmp(cert, "-") ? "mTLS" : "TLS-no-client-cert") : "plain", m,
	       t[skip + m / 2], t[skip + m * 9 / 10], t[skip + m * 99 / 100],
	       skip ? "" : " (connect+handshake+request)");
	return 0;
}
