/*
 * policy_remote.c — the guard's client for hoptrace-policyd (policy_remote.h).
 * One CURL easy handle per thread, kept for keep-alive; every socket it opens
 * carries the guard's mark so the guard's own rules exempt it. Mutual TLS with the
 * fleet certificate (docs/research/fleet-trust.md §3): CAINFO the fleet CA and CAPATH
 * NULL (else /etc/ssl/certs is trusted as well), VERIFYHOST 2 (the server's certificate
 * names the URL's IP as an iPAddress SAN), TLS 1.2, CRLFILE when there is one.
 * Also the [fleet] reader policyd and the clients share until common/fleetconf.c lands.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "hoptrace/ini.h"
#include "hoptrace/policy_remote.h"

#define ANSWER_MAX 65536

static uint32_t pr_mark;
static struct policy_fleet pr_fleet;
static int pr_fleet_set;
static pthread_once_t pr_once = PTHREAD_ONCE_INIT;
static __thread CURL *pr_curl;

/* TLS sessions shared by every thread's handle: a worker's new connection resumes
 * (≈ 1.3 ms instead of a full handshake's 13.6 ms, fleet-trust.md §3) and costs the
 * server no signature */
static CURLSH *pr_share;
static pthread_mutex_t pr_share_mu = PTHREAD_MUTEX_INITIALIZER;

static void sh_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)h, (void)d, (void)a, (void)u;
	pthread_mutex_lock(&pr_share_mu);
}

static void sh_unlock(CURL *h, curl_lock_data d, void *u)
{
	(void)h, (void)d, (void)u;
	pthread_mutex_unlock(&pr_share_mu);
}

static void pr_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pr_share = curl_share_init();
	if (pr_share &&
	    (curl_share_setopt(pr_share, CURLSHOPT_LOCKFUNC, sh_lock) != CURLSHE_OK ||
	     curl_share_setopt(pr_share, CURLSHOPT_UNLOCKFUNC, sh_unlock) != CURLSHE_OK ||
	     curl_share_setopt(pr_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) !=
		     CURLSHE_OK)) {
		curl_share_cleanup(pr_share);
		pr_share = NULL;
	}
}

void policy_fleet_defaults(struct policy_fleet *pf)
{
	memset(pf, 0, sizeof *pf);
	snprintf(pf->ca, sizeof pf->ca, "/etc/hoptrace/fleet/ca.crt");
	snprintf(pf->cert, sizeof pf->cert, "/etc/hoptrace/fleet/host.crt");
	snprintf(pf->key, sizeof pf->key, "/etc/hoptrace/fleet/host.key");
	if (access("/etc/hoptrace/fleet/crl.pem", F_OK) == 0)
		snprintf(pf->crl, sizeof pf->crl, "/etc/hoptrace/fleet/crl.pem");
}

static int fleet_cb(void *ctx, const char *section, const char *key, const char *value,
		    char *err, size_t errlen)
{
	struct policy_fleet *pf = ctx;
	char *dst = NULL;
	if (strcmp(section, "fleet"))
		return 0;
	if (!strcmp(key, "ca"))
		dst = pf->ca;
	else if (!strcmp(key, "cert"))
		dst = pf->cert;
	else if (!strcmp(key, "key"))
		dst = pf->key;
	else if (!strcmp(key, "crl"))
		dst = pf->crl;
	else if (!strcmp(key, "lab_plain"))
		return ini_bool(value, &pf->lab_plain, err, errlen);
	else
		return 0; /* sign_cert, sign_key: the collector's */
	if (strlen(value) >= POLICY_FLEET_PATH_MAX) {
		snprintf(err, errlen, "[fleet] %s too long", key);
		return -1;
	}
	snprintf(dst, POLICY_FLEET_PATH_MAX, "%s", value);
	return 0;
}

int policy_fleet_read(const char *conf_path, struct policy_fleet *pf, char *err, size_t n)
{
	policy_fleet_defaults(pf);
	if (access(conf_path, F_OK) != 0)
		return 0;
	return ini_parse(conf_path, fleet_cb, pf, err, n);
}

void policy_remote_set_fleet(const struct policy_fleet *pf)
{
	pr_fleet = *pf;
	pr_fleet_set = 1;
}

void policy_remote_set_mark(uint32_t mark) { __atomic_store_n(&pr_mark, mark, __ATOMIC_RELAXED); }

void policy_remote_thread_cleanup(void)
{
	if (pr_curl) {
		curl_easy_cleanup(pr_curl);
		pr_curl = NULL;
	}
}

struct rbuf {
	char *p;
	size_t n;
	int over;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct rbuf *b = ud;
	size_t n = size * nmemb;
	if (b->n + n > ANSWER_MAX) {
		b->over = 1;
		return 0; /* aborts the transfer */
	}
	memcpy(b->p + b->n, ptr, n);
	b->n += n;
	return n;
}

static int on_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	uint32_t m = __atomic_load_n(&pr_mark, __ATOMIC_RELAXED);
	if (m && setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof m) < 0)
		return CURL_SOCKOPT_ERROR;
	return CURL_SOCKOPT_OK;
}

static void setwhy(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void setwhy(char *why, size_t n, const char *fmt, ...)
{
	if (!why || !n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
}

int policy_remote_decide(const char *url, long timeout_ms,
			 const char *answer_json, size_t len, enum acl_verdict *v, char *why,
			 size_t whylen)
{
	struct acl_result res;
	int rc = policy_remote_ask(url, timeout_ms, answer_json, len, &res);
	if (rc == 0)
		*v = res.verdict;
	setwhy(why, whylen, "%s", res.text);
	return rc;
}

int policy_remote_ask(const char *url, long timeout_ms,
		      const char *answer_json, size_t len, struct acl_result *res)
{
	char *why = res->text;
	size_t whylen = sizeof res->text;
	res->rule[0] = 0;
	res->why = ACL_WHY_REMOTE;
	res->verdict = ACL_REJECT; /* until the server says */
	pthread_once(&pr_once, pr_init);
	if (!pr_curl && !(pr_curl = curl_easy_init())) {
		setwhy(why, whylen, "policy server: curl_easy_init failed");
		return -1;
	}
	CURL *c = pr_curl;
	char *buf = malloc(ANSWER_MAX + 1);
	if (!buf) {
		setwhy(why, whylen, "policy server: out of memory");
		return -1;
	}
	struct rbuf rb = {buf, 0, 0};
	struct curl_slist *hdr = NULL;
	if (!pr_fleet_set) {
		policy_fleet_defaults(&pr_fleet);
		pr_fleet_set = 1;
	}
	const struct policy_fleet *pf = &pr_fleet;
	int tls = !strncmp(url, "https://", 8);
	if (!tls && !(pf->lab_plain && !strncmp(url, "http://", 7))) {
		setwhy(why, whylen, "policy server %s: %s", url,
		       strncmp(url, "http://", 7) ? "not an https:// URL"
						  : "http:// only with [fleet] lab_plain = yes");
		free(buf);
		return -1;
	}
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	if (timeout_ms <= 0)
		timeout_ms = 1000;

	curl_easy_reset(c); /* keeps the connection cache */
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, tls ? "https" : "http");
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	if (tls) {
		curl_easy_setopt(c, CURLOPT_CAINFO, pf->ca);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL); /* else /etc/ssl/certs too (§3) */
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		curl_easy_setopt(c, CURLOPT_SSLCERT, pf->cert);
		curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(c, CURLOPT_SSLKEY, pf->key);
		curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
		if (pf->crl[0])
			curl_easy_setopt(c, CURLOPT_CRLFILE, pf->crl);
		if (pr_share)
			curl_easy_setopt(c, CURLOPT_SHARE, pr_share);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, answer_json);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &rb);
	curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
	curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, NULL);

	int ret = -1;
	long code = 0;
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	if (rc != CURLE_OK) {
		/* 60 / 35: the TLS identity check failed one way or the other */
		int fleet = rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
			    rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE;
		setwhy(why, whylen, "policy server %s: %s%s%s%s%s", url,
		       rb.over ? "answer too large" : curl_easy_strerror(rc), cerr[0] ? " (" : "",
		       cerr, cerr[0] ? ")" : "", fleet && !rb.over ? ": peer not in fleet?" : "");
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	buf[rb.n] = 0;
	cJSON *j = cJSON_ParseWithLength(buf, rb.n);
	if (code != 200) {
		const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
		setwhy(why, whylen, "policy server %s: HTTP %ld%s%s", url, code,
		       cJSON_IsString(e) ? ": " : "", cJSON_IsString(e) ? e->valuestring : "");
		cJSON_Delete(j);
		goto out;
	}
	const cJSON *jv = j ? cJSON_GetObjectItemCaseSensitive(j, "verdict") : NULL;
	const cJSON *jw = j ? cJSON_GetObjectItemCaseSensitive(j, "why") : NULL;
	enum acl_verdict vv;
	if (!cJSON_IsString(jv) || acl_verdict_parse(jv->valuestring, &vv) != 0) {
		setwhy(why, whylen, "policy server %s: garbled answer", url);
		cJSON_Delete(j);
		goto out;
	}
	const cJSON *jr = cJSON_GetObjectItemCaseSensitive(j, "rule");
	res->verdict = vv;
	setwhy(why, whylen, "%s", cJSON_IsString(jw) ? jw->valuestring : "");
	if (cJSON_IsString(jr) && jr->valuestring[0]) {
		res->why = ACL_WHY_RULE;
		setwhy(res->rule, sizeof res->rule, "%s", jr->valuestring);
	}
	cJSON_Delete(j);
	ret = 0;
out:
	free(buf);
	return ret;
}
