/*
 * parts.c — signed chain parts (parts.h; docs/inquiry.md "Signed parts").
 *
 * A host that answers a trace inquiry signs its own part: its tree, with every conn
 * leaf's upstream written as null, the connection it was asked about and the judge's
 * nonce (part_make). The judge (parts_verify_answer) believes nothing of an upstream
 * answer but the bytes of its part, after the six checks; the answers of the hosts
 * further up are found in the outer tree, but each of them is in turn checked against
 * a leaf of a part already verified — so the tree the judge ends with is made of
 * verified parts only, and a host on the way can drop what it forwards (incomplete)
 * but not change it.
 *
 * Everything read from another host is bounded: nesting (PARTS_DEPTH_MAX), parts per
 * answer, leaves and nodes per part, the sizes of "cert" and "sig". No primitive is
 * written here: base64 is mbedTLS's, signatures and certificates are pki.h's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <mbedtls/base64.h>

#include "chain.h"
#include "hoptrace/chain.h"
#include "inquiry.h"
#include "parts.h"

static parts_verify_fn verifier;

void parts_set_verifier(parts_verify_fn fn)
{
	verifier = fn;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void set_item(cJSON *o, const char *k, cJSON *v)
{
	if (cJSON_GetObjectItem(o, k))
		cJSON_ReplaceItemInObject(o, k, v);
	else
		cJSON_AddItemToObject(o, k, v);
}

/* ---- base64 (mbedTLS's codec; only the URL alphabet is mapped here) --------------- */

static char *b64_encode(const unsigned char *src, size_t len)
{
	size_t need = 0;
	mbedtls_base64_encode(NULL, 0, &need, src, len); /* BUFFER_TOO_SMALL, need set */
	char *out = malloc(need + 1);
	if (!out)
		return NULL;
	if (mbedtls_base64_encode((unsigned char *)out, need + 1, &need, src, len) != 0) {
		free(out);
		return NULL;
	}
	out[need] = 0;
	return out;
}

/* decodes text (at most max_text characters) into a new buffer; NULL when it does not */
static unsigned char *b64_decode(const char *text, size_t max_text, size_t *len)
{
	size_t tl = strnlen(text, max_text + 1), need = 0;
	if (tl == 0 || tl > max_text)
		return NULL;
	if (mbedtls_base64_decode(NULL, 0, &need, (const unsigned char *)text, tl) ==
	    MBEDTLS_ERR_BASE64_INVALID_CHARACTER)
		return NULL;
	unsigned char *out = malloc(need ? need : 1);
	if (!out)
		return NULL;
	if (mbedtls_base64_decode(out, need, len, (const unsigned char *)text, tl) != 0 || !*len) {
		free(out);
		return NULL;
	}
	return out;
}

int part_nonce(char out[PART_NONCE_B64 + 1])
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof(r)) {
		ssize_t k = getrandom(r + got, sizeof(r) - got, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)k;
	}
	unsigned char b[32];
	size_t ol = 0;
	if (mbedtls_base64_encode(b, sizeof(b), &ol, r, sizeof(r)) != 0 || ol != 24)
		return -EINVAL;
	for (size_t i = 0; i < PART_NONCE_B64; i++) /* base64url, the two '=' dropped */
		out[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : (char)b[i];
	out[PART_NONCE_B64] = 0;
	return 0;
}

/* ---- the signer --------------------------------------------------------------- */

/* every conn leaf of a copied tree: upstream null (the upstream answers travel in the
 * outer tree, each with its own part) */
static void null_upstreams(cJSON *node, int depth)
{
	const char *type = jstr(node, "type");
	if (!type || depth > 200)
		return;
	if (!strcmp(type, "conn")) {
		set_item(node, "upstream", cJSON_CreateNull());
		return;
	}
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(node, "sources"))
		null_upstreams(cJSON_GetObjectItem(s, "node"), depth + 1);
}

/* domain ‖ NUL ‖ part: the bytes signed */
static unsigned char *signed_bytes(const char *part, size_t plen, size_t *len)
{
	unsigned char *b = malloc(sizeof(PART_DOMAIN) + plen);
	if (!b)
		return NULL;
	memcpy(b, PART_DOMAIN, sizeof(PART_DOMAIN)); /* with its NUL */
	memcpy(b + sizeof(PART_DOMAIN), part, plen);
	*len = sizeof(PART_DOMAIN) + plen;
	return b;
}

/* "past" (a closed connection's answer, issue 12): its two ages, signed, so
 * no host on the way can drop or change when the part describes; 0, or -1
 * out of memory. A malformed one is not copied. */
static int past_copy(cJSON *to, const cJSON *past)
{
	const cJSON *c = cJSON_GetObjectItem(past, "closed_ago_ms"), *a = cJSON_GetObjectItem(past, "as_of_ago_ms");
	if (!cJSON_IsObject(past) || !cJSON_IsNumber(c) || !cJSON_IsNumber(a) || c->valuedouble < 0 ||
	    a->valuedouble < 0 || c->valuedouble > 86400000.0 || a->valuedouble > 86400000.0)
		return 0;
	cJSON *o = cJSON_AddObjectToObject(to, "past");
	if (!o || !cJSON_AddNumberToObject(o, "closed_ago_ms", (double)(uint64_t)c->valuedouble) ||
	    !cJSON_AddNumberToObject(o, "as_of_ago_ms", (double)(uint64_t)a->valuedouble))
		return -1;
	return 0;
}

static cJSON *make(struct pki_signer *s, const char *host, const char *nonce,
		   const char *asked_local, const char *asked_remote, const cJSON *tree,
		   int truncated, int holders_incomplete, const cJSON *past, char *err, size_t n)
{
	if (!s || !host || !nonce || !asked_local || !asked_remote || !cJSON_IsObject(tree)) {
		snprintf(err, n, "part: missing signer, host, nonce, asked connection or tree");
		return NULL;
	}
	cJSON *p = cJSON_CreateObject(), *out = NULL;
	char *text = NULL, *sig64 = NULL;
	unsigned char *bytes = NULL;
	if (!p)
		goto oom;
	cJSON_AddNumberToObject(p, "v", 1);
	cJSON_AddStringToObject(p, "host", host);
	cJSON_AddStringToObject(p, "nonce", nonce);
	cJSON_AddNumberToObject(p, "ts", (double)time(NULL));
	cJSON *asked = cJSON_AddObjectToObject(p, "asked");
	if (!asked)
		goto oom;
	cJSON_AddStringToObject(asked, "local", asked_local);
	cJSON_AddStringToObject(asked, "remote", asked_remote);
	if (truncated)
		cJSON_AddBoolToObject(p, "truncated", 1);
	if (holders_incomplete)
		cJSON_AddBoolToObject(p, "holders_incomplete", 1);
	if (past_copy(p, past) != 0)
		goto oom;
	cJSON *t = cJSON_Duplicate(tree, 1);
	if (!t)
		goto oom;
	null_upstreams(t, 0);
	cJSON_AddItemToObject(p, "tree", t);
	text = cJSON_PrintUnformatted(p);
	if (!text)
		goto oom;
	size_t blen, derlen = 0, slen = PKI_SIG_MAX;
	unsigned char sig[PKI_SIG_MAX + 16];
	bytes = signed_bytes(text, strlen(text), &blen);
	if (!bytes)
		goto oom;
	if (pki_signer_sign(s, bytes, blen, sig, &slen) != 0 || slen == 0 || slen > PKI_SIG_MAX) {
		snprintf(err, n, "part: signing failed");
		goto out;
	}
	const unsigned char *der = pki_signer_cert(s, &derlen);
	const char *cert64 = pki_signer_cert_b64(s);
	if (!der || !derlen || !cert64) {
		snprintf(err, n, "part: the signer has no certificate");
		goto out;
	}
	sig64 = b64_encode(sig, slen);
	out = cJSON_CreateObject();
	if (!sig64 || !cert64 || !out)
		goto oom;
	cJSON_AddNumberToObject(out, "v", 1);
	cJSON_AddStringToObject(out, "part", text);
	cJSON_AddStringToObject(out, "sig", sig64);
	cJSON_AddStringToObject(out, "cert", cert64);
	goto out;
oom:
	snprintf(err, n, "part: out of memory");
	cJSON_Delete(out);
	out = NULL;
out:
	cJSON_Delete(p);
	free(text);
	free(bytes);
	free(sig64);
	return out;
}

cJSON *part_make(struct pki_signer *s, const char *host, const char *nonce,
		 const char *asked_local, const char *asked_remote, const cJSON *tree, char *err,
		 size_t n)
{
	return make(s, host, nonce, asked_local, asked_remote, tree, 0, 0, NULL, err, n);
}

cJSON *part_make_answer(struct pki_signer *s, const char *nonce, const char *asked_local,
			const char *asked_remote, const cJSON *answer, char *err, size_t n)
{
	return make(s, jstr(answer, "host"), nonce, asked_local, asked_remote,
		    cJSON_GetObjectItem(answer, "tree"),
		    cJSON_IsTrue(cJSON_GetObjectItem(answer, "truncated")),
		    cJSON_IsTrue(cJSON_GetObjectItem(answer, "holders_incomplete")),
		    cJSON_GetObjectItem(answer, "past"), err, n);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *part_splice(const char *answer, size_t alen, const cJSON *sgn)
{
	size_t n = alen, k;
	while (n && is_ws(answer[n - 1]))
		n--;
	if (n < 2 || answer[0] != '{' || answer[n - 1] != '}')
		return NULL;
	for (k = n - 1; k > 1 && is_ws(answer[k - 1]); k--)
		;
	int empty = answer[k - 1] == '{'; /* "{}": no comma before the member */
	char *st = cJSON_PrintUnformatted(sgn);
	if (!st)
		return NULL;
	static const char key[] = "\"signed\":";
	size_t sl = strlen(st), o = n - 1;
	char *out = malloc(n + sizeof(key) + sl + 2);
	if (out) {
		memcpy(out, answer, o);
		if (!empty)
			out[o++] = ',';
		memcpy(out + o, key, sizeof(key) - 1);
		o += sizeof(key) - 1;
		memcpy(out + o, st, sl);
		o += sl;
		out[o++] = '}';
		out[o] = 0;
	}
	free(st);
	return out;
}

/* ---- format 2: bytes built once ------------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t nc = (b->n + len + 1) * 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = 0;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* s as a JSON string, quotes included: runs copied whole, only '"', '\\' and control
 * characters escaped (what cJSON's parser reads back to the same bytes) */
static void sb_esc(struct sbuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run = 0;
	sb_add(b, "\"", 1);
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c != '"' && c != '\\' && c >= 0x20)
			continue;
		sb_add(b, s + run, i - run);
		char e[7] = {'\\', (char)c, 0};
		size_t el = 2;
		if (c < 0x20) {
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			el = 6;
		}
		sb_add(b, e, el);
		run = i + 1;
	}
	sb_add(b, s + run, len - run);
	sb_add(b, "\"", 1);
}

static int b64url(const unsigned char *src, size_t len, char *out, size_t on)
{
	unsigned char b[64];
	size_t ol = 0;
	if (len > 45 || mbedtls_base64_encode(b, sizeof(b), &ol, src, len) != 0)
		return -1;
	while (ol && b[ol - 1] == '=')
		ol--;
	if (ol + 1 > on)
		return -1;
	for (size_t i = 0; i < ol; i++)
		out[i] = b[i] == '+' ? '-' : b[i] == '/' ? '_' : (char)b[i];
	out[ol] = 0;
	return 0;
}

static int b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int part_cert_id(const unsigned char *der, size_t len, char out[PART_CERT_ID_B64 + 1])
{
	unsigned char h[32];
	if (!der || !len || pki_sha256(der, len, h) != 0)
		return -1;
	return b64url(h, sizeof(h), out, PART_CERT_ID_B64 + 1);
}

static int cert_id_ok(const char *s)
{
	if (!s || strlen(s) != PART_CERT_ID_B64)
		return 0;
	for (size_t i = 0; i < PART_CERT_ID_B64; i++)
		if (!b64url_char(s[i]))
			return 0;
	return 1;
}

int part_have_ok(const char *have)
{
	size_t l = have ? strnlen(have, PART_HAVE_CHARS + 1) : 0;
	if (l > PART_HAVE_CHARS || l % PART_HAVE_ID)
		return 0;
	for (size_t i = 0; i < l; i++)
		if (!b64url_char(have[i]))
			return 0;
	return 1;
}

static int have_has(const char *have, const char *id)
{
	size_t l = have ? strnlen(have, PART_HAVE_CHARS + 1) : 0;
	if (l > PART_HAVE_CHARS)
		return 0;
	for (size_t i = 0; i + PART_HAVE_ID <= l; i += PART_HAVE_ID)
		if (!memcmp(have + i, id, PART_HAVE_ID))
			return 1;
	return 0;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && is_ws(s[i]))
		i++;
	return i;
}

/* at '"': past the closing quote; -1 when it does not close */
static int skip_string(const char *s, size_t n, size_t *i)
{
	size_t k = *i + 1;
	while (k < n && s[k] != '"')
		k += s[k] == '\\' ? 2 : 1;
	if (k >= n)
		return -1;
	*i = k + 1;
	return 0;
}

static int skip_value(const char *s, size_t n, size_t *i)
{
	size_t k = *i;
	if (k >= n)
		return -1;
	if (s[k] == '"')
		return skip_string(s, n, i);
	if (s[k] == '{' || s[k] == '[') {
		long d = 0;
		do {
			if (s[k] == '"') {
				if (skip_string(s, n, &k) != 0)
					return -1;
				continue;
			}
			if (s[k] == '{' || s[k] == '[')
				d++;
			else if (s[k] == '}' || s[k] == ']')
				d--;
			k++;
		} while (d > 0 && k < n);
		if (d != 0)
			return -1;
		*i = k;
		return 0;
	}
	while (k < n && s[k] != ',' && s[k] != '}' && s[k] != ']' && !is_ws(s[k]))
		k++;
	if (k == *i)
		return -1;
	*i = k;
	return 0;
}

int part_json_member(const char *s, size_t n, const char *key, size_t *b, size_t *e)
{
	size_t kl = strlen(key), i = skip_ws(s, n, 0);
	if (i >= n || s[i] != '{')
		return -1;
	i = skip_ws(s, n, i + 1);
	while (i < n && s[i] == '"') {
		size_t ks = i + 1;
		if (skip_string(s, n, &i) != 0)
			return -1;
		size_t ke = i - 1;
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != ':')
			return -1;
		i = skip_ws(s, n, i + 1);
		size_t vs = i;
		if (skip_value(s, n, &i) != 0)
			return -1;
		if (ke - ks == kl && !memcmp(s + ks, key, kl)) {
			*b = vs;
			*e = i;
			return 0;
		}
		i = skip_ws(s, n, i);
		if (i >= n || s[i] != ',')
			return -1;
		i = skip_ws(s, n, i + 1);
	}
	return -1;
}

/* every conn leaf of the tree (below any node) has "upstream": null — then the tree's
 * printed bytes are what the part says (the judge reads no upstream in a part anyway) */
static int upstreams_null(const cJSON *node, int depth)
{
	const char *type = jstr(node, "type");
	if (!type || depth > 200)
		return !type;
	if (!strcmp(type, "conn")) {
		const cJSON *u = cJSON_GetObjectItem(node, "upstream");
		return !u || cJSON_IsNull(u);
	}
	const cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(node, "sources"))
		if (!upstreams_null(cJSON_GetObjectItem(x, "node"), depth + 1))
			return 0;
	return 1;
}

/* the signer's certificate id, computed once per certificate */
static const char *signer_cert_id(struct pki_signer *s)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static unsigned char *der_c;
	static size_t len_c;
	static char id_c[PART_CERT_ID_B64 + 1];
	static __thread char id[PART_CERT_ID_B64 + 1];
	size_t len = 0;
	const unsigned char *der = pki_signer_cert(s, &len);
	if (!der || !len)
		return NULL;
	pthread_mutex_lock(&mu);
	int ok = 1;
	if (!der_c || len_c != len || memcmp(der_c, der, len)) {
		free(der_c);
		der_c = malloc(len);
		ok = der_c && part_cert_id(der, len, id_c) == 0;
		if (ok) {
			memcpy(der_c, der, len);
			len_c = len;
		} else {
			free(der_c);
			der_c = NULL;
		}
	}
	if (ok)
		memcpy(id, id_c, sizeof(id));
	pthread_mutex_unlock(&mu);
	return ok ? id : NULL;
}

char *part_answer_signed(struct pki_signer *s, int pv, const char *nonce, const char *have,
			 const char *asked_local, const char *asked_remote, const char *ans,
			 size_t alen, const cJSON *a, char *err, size_t n)
{
	if (pv != 2) {
		cJSON *sg = part_make_answer(s, nonce, asked_local, asked_remote, a, err, n);
		char *t = sg ? part_splice(ans, alen, sg) : NULL;
		if (sg && !t)
			snprintf(err, n, "part: out of memory, or not an answer's text");
		cJSON_Delete(sg);
		return t;
	}
	const char *host = jstr(a, "host");
	const cJSON *tree = cJSON_GetObjectItem(a, "tree");
	if (!s || !host || !nonce || !asked_local || !asked_remote || !cJSON_IsObject(tree) || !ans) {
		snprintf(err, n, "part: missing signer, host, nonce, asked connection or tree");
		return NULL;
	}
	const char *id = signer_cert_id(s);
	const char *cert64 = pki_signer_cert_b64(s);
	if (!id || !cert64) {
		snprintf(err, n, "part: the signer has no certificate");
		return NULL;
	}
	/* the answer's end: its last '}' (the signed member goes before it) */
	size_t an = alen, k;
	while (an && is_ws(ans[an - 1]))
		an--;
	if (an < 2 || ans[0] != '{' || ans[an - 1] != '}') {
		snprintf(err, n, "part: not an answer's text");
		return NULL;
	}
	for (k = an - 1; k > 1 && is_ws(ans[k - 1]); k--)
		;
	int empty = ans[k - 1] == '{';
	/* the tree's bytes: the answer's own when its leaves carry no upstream */
	size_t tb = 0, te = 0;
	char *tprint = NULL;
	if (!upstreams_null(tree, 0) || part_json_member(ans, an, "tree", &tb, &te) != 0) {
		cJSON *t = cJSON_Duplicate(tree, 1);
		if (t)
			null_upstreams(t, 0);
		tprint = t ? cJSON_PrintUnformatted(t) : NULL;
		cJSON_Delete(t);
		if (!tprint) {
			snprintf(err, n, "part: out of memory");
			return NULL;
		}
	}
	struct sbuf p = {0}, o = {0};
	char num[96];
	sb_str(&p, "{\"v\":2,\"host\":");
	sb_esc(&p, host, strlen(host));
	sb_str(&p, ",\"cert\":\"");
	sb_str(&p, id);
	sb_str(&p, "\",\"nonce\":");
	sb_esc(&p, nonce, strlen(nonce));
	snprintf(num, sizeof(num), ",\"ts\":%lld,\"asked\":{\"local\":", (long long)time(NULL));
	sb_str(&p, num);
	sb_esc(&p, asked_local, strlen(asked_local));
	sb_str(&p, ",\"remote\":");
	sb_esc(&p, asked_remote, strlen(asked_remote));
	sb_str(&p, "}");
	if (cJSON_IsTrue(cJSON_GetObjectItem(a, "truncated")))
		sb_str(&p, ",\"truncated\":true");
	if (cJSON_IsTrue(cJSON_GetObjectItem(a, "holders_incomplete")))
		sb_str(&p, ",\"holders_incomplete\":true");
	const cJSON *past = cJSON_GetObjectItem(a, "past");
	const cJSON *pc = cJSON_GetObjectItem(past, "closed_ago_ms"), *pa = cJSON_GetObjectItem(past, "as_of_ago_ms");
	if (cJSON_IsObject(past) && cJSON_IsNumber(pc) && cJSON_IsNumber(pa) && pc->valuedouble >= 0 &&
	    pa->valuedouble >= 0 && pc->valuedouble <= 86400000.0 && pa->valuedouble <= 86400000.0) {
		snprintf(num, sizeof(num), ",\"past\":{\"closed_ago_ms\":%llu,\"as_of_ago_ms\":%llu}",
			 (unsigned long long)pc->valuedouble, (unsigned long long)pa->valuedouble);
		sb_str(&p, num);
	}
	sb_str(&p, ",\"tree\":");
	if (tprint)
		sb_str(&p, tprint);
	else
		sb_add(&p, ans + tb, te - tb);
	sb_str(&p, "}");
	free(tprint);
	char *out = NULL;
	unsigned char *bytes = NULL;
	if (p.oom)
		goto oom;
	size_t blen = sizeof(PART_DOMAIN2) + p.n, slen = PKI_SIG_MAX;
	unsigned char sig[PKI_SIG_MAX + 16];
	char sig64[2 * PKI_SIG_MAX + 8];
	if (!(bytes = malloc(blen)))
		goto oom;
	memcpy(bytes, PART_DOMAIN2, sizeof(PART_DOMAIN2)); /* with its NUL */
	memcpy(bytes + sizeof(PART_DOMAIN2), p.p, p.n);
	if (pki_signer_sign(s, bytes, blen, sig, &slen) != 0 || slen == 0 || slen > PKI_SIG_MAX) {
		snprintf(err, n, "part: signing failed");
		goto out;
	}
	size_t s64 = 0;
	if (mbedtls_base64_encode((unsigned char *)sig64, sizeof(sig64), &s64, sig, slen) != 0)
		goto oom;
	sig64[s64] = 0;
	sb_add(&o, ans, an - 1);
	sb_str(&o, empty ? "\"signed\":{\"v\":2,\"cert_id\":\"" : ",\"signed\":{\"v\":2,\"cert_id\":\"");
	sb_str(&o, id);
	sb_str(&o, "\",\"sig\":\"");
	sb_str(&o, sig64);
	if (!have_has(have, id)) {
		sb_str(&o, "\",\"cert\":\"");
		sb_str(&o, cert64);
	}
	sb_str(&o, "\",\"part\":");
	sb_esc(&o, p.p, p.n);
	sb_str(&o, "}}");
	if (o.oom)
		goto oom;
	out = o.p;
	o.p = NULL;
	goto out;
oom:
	snprintf(err, n, "part: out of memory");
out:
	free(bytes);
	free(p.p);
	free(o.p);
	return out;
}

/* ---- the judge ---------------------------------------------------------------- */

struct judge {
	struct pki_trust *t;
	const char *nonce;
	int refused;  /* leaves refused (the return value) */
	int parts;    /* parts looked at (bounded by PARTS_MAX) */
	/* distinct certificates seen (bounded by PARTS_CERTS_MAX): a certificate not in the
	 * trust's cache costs a chain check (ms), so one answer may not bring many */
	unsigned char certs[PARTS_CERTS_MAX][32]; /* SHA-256 of their base64 text (format 1)
						   * or of their id (format 2) */
	int ncerts;
	int missing; /* parts refused: their certificate not held (format 2) */
};

/* 0 if cert64 was seen in this answer or there is room for one more; h: its SHA-256 */
static int cert_seen(struct judge *j, const char *cert64, unsigned char h[32])
{
	if (pki_sha256(cert64, strlen(cert64), h) != 0)
		return -1;
	for (int i = 0; i < j->ncerts; i++)
		if (!memcmp(j->certs[i], h, 32))
			return 0;
	if (j->ncerts >= PARTS_CERTS_MAX)
		return -1;
	memcpy(j->certs[j->ncerts++], h, 32);
	return 0;
}

/* The certificates of the last few signers, decoded: keyed by SHA-256 of the base64
 * text, the DER it decodes to (the same text always decodes to the same DER). Only the
 * decoding is saved: pki_trust_verify_part checks the DER as it would the decoded text.
 * Invariant: certc_mu guards certc and certc_tick. */
#define CERTC_N 8

static struct certc_ent {
	unsigned char h[32];
	unsigned char *der; /* NULL: unused */
	size_t len;
	uint64_t lru;
} certc[CERTC_N];
static uint64_t certc_tick;
static pthread_mutex_t certc_mu = PTHREAD_MUTEX_INITIALIZER;

/* cert64 (its SHA-256 h) decoded into a new buffer, from the cache or decoded now */
static unsigned char *cert_decode(const char *cert64, const unsigned char h[32], size_t *len)
{
	unsigned char *der = NULL;
	pthread_mutex_lock(&certc_mu);
	for (int i = 0; i < CERTC_N; i++) {
		struct certc_ent *e = &certc[i];
		if (e->der && !memcmp(e->h, h, 32)) {
			if ((der = malloc(e->len))) {
				memcpy(der, e->der, e->len);
				*len = e->len;
				e->lru = ++certc_tick;
			}
			break;
		}
	}
	pthread_mutex_unlock(&certc_mu);
	if (der)
		return der;
	if (!(der = b64_decode(cert64, PARTS_CERT_B64_MAX, len)))
		return NULL;
	unsigned char *keep = malloc(*len);
	if (!keep)
		return der;
	memcpy(keep, der, *len);
	pthread_mutex_lock(&certc_mu);
	struct certc_ent *v = &certc[0];
	for (int i = 0; i < CERTC_N; i++) {
		if (!certc[i].der) {
			v = &certc[i];
			break;
		}
		if (certc[i].lru < v->lru)
			v = &certc[i];
	}
	free(v->der);
	memcpy(v->h, h, 32);
	v->der = keep;
	v->len = *len;
	v->lru = ++certc_tick;
	pthread_mutex_unlock(&certc_mu);
	return der;
}

/* The certificates the judge holds (format 2): each one a part was checked with — chain,
 * validity, CRL, kind, signature — keyed by its id, the PARTS_HELD_MAX most recently
 * used. Holding one saves its transfer only: a part naming it by id has it checked again
 * by pki_trust_verify_part, as a part carrying it would (the trust's cache makes that the
 * signature check, a reload empties it). Invariant: certc_mu guards held and certc_tick. */
static struct held_ent {
	char id[PART_CERT_ID_B64 + 1]; /* "" unused */
	unsigned char *der;
	size_t len;
	uint64_t lru;
} held[PARTS_HELD_MAX];

void parts_cert_hold(const char *id, const unsigned char *der, size_t len)
{
	if (!cert_id_ok(id) || !der || !len)
		return;
	unsigned char *keep = malloc(len);
	if (!keep)
		return;
	memcpy(keep, der, len);
	pthread_mutex_lock(&certc_mu);
	struct held_ent *v = &held[0];
	for (int i = 0; i < PARTS_HELD_MAX; i++) {
		if (!strcmp(held[i].id, id)) { /* the same id is the same DER */
			v = &held[i];
			break;
		}
		if (!held[i].der) {
			v = &held[i];
			break;
		}
		if (held[i].lru < v->lru)
			v = &held[i];
	}
	free(v->der);
	snprintf(v->id, sizeof(v->id), "%s", id);
	v->der = keep;
	v->len = len;
	v->lru = ++certc_tick;
	pthread_mutex_unlock(&certc_mu);
}

void parts_cert_forget(void)
{
	pthread_mutex_lock(&certc_mu);
	for (int i = 0; i < PARTS_HELD_MAX; i++) {
		free(held[i].der);
		memset(&held[i], 0, sizeof(held[i]));
	}
	pthread_mutex_unlock(&certc_mu);
}

/* the DER held under id, copied; NULL when not held */
static unsigned char *held_get(const char *id, size_t *len)
{
	unsigned char *der = NULL;
	pthread_mutex_lock(&certc_mu);
	for (int i = 0; i < PARTS_HELD_MAX; i++)
		if (held[i].der && !strcmp(held[i].id, id)) {
			if ((der = malloc(held[i].len))) {
				memcpy(der, held[i].der, held[i].len);
				*len = held[i].len;
				held[i].lru = ++certc_tick;
			}
			break;
		}
	pthread_mutex_unlock(&certc_mu);
	return der;
}

size_t parts_have(char *out, size_t n)
{
	size_t o = 0;
	uint64_t below = UINT64_MAX;
	if (!n)
		return 0;
	pthread_mutex_lock(&certc_mu);
	for (int k = 0; k < PART_HAVE_N && o + PART_HAVE_ID < n; k++) {
		int best = -1;
		for (int i = 0; i < PARTS_HELD_MAX; i++)
			if (held[i].der && held[i].lru < below && (best < 0 || held[i].lru > held[best].lru))
				best = i;
		if (best < 0)
			break;
		memcpy(out + o, held[best].id, PART_HAVE_ID);
		o += PART_HAVE_ID;
		below = held[best].lru;
	}
	pthread_mutex_unlock(&certc_mu);
	/* sorted: the text changes when the set does, not with the order of use (the judge
	 * sends JD_HAVE only when it changed) */
	for (size_t a = PART_HAVE_ID; a < o; a += PART_HAVE_ID)
		for (size_t b = a; b >= PART_HAVE_ID && memcmp(out + b - PART_HAVE_ID, out + b, PART_HAVE_ID) > 0;
		     b -= PART_HAVE_ID) {
			char t[PART_HAVE_ID];
			memcpy(t, out + b, PART_HAVE_ID);
			memcpy(out + b, out + b - PART_HAVE_ID, PART_HAVE_ID);
			memcpy(out + b - PART_HAVE_ID, t, PART_HAVE_ID);
		}
	out[o] = 0;
	return o;
}

/* an endpoint as inquiry.c reads it (ht_endpoint_parse: an IPv4-mapped address is the
 * IPv4 one, the unused bytes zero); 0 or -1. Two parsed endpoints are the same when their
 * formatted forms are (ht_endpoint_format): family, address and port, compared as such. */
static int ep_parse(const char *s, struct ht_endpoint *ep)
{
	if (!s || strlen(s) >= INQ_EP_MAX || ht_endpoint_parse(s, ep) != 0 || !ep->family)
		return -1;
	return 0;
}

static int ep_eq(const struct ht_endpoint *a, const struct ht_endpoint *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

static int same_ep(const char *a, const char *b)
{
	struct ht_endpoint x, y;
	return ep_parse(a, &x) == 0 && ep_parse(b, &y) == 0 && ep_eq(&x, &y);
}

struct walk {
	cJSON **leaves;
	size_t nleaves, max;
	size_t nodes;
	const char *host; /* non-NULL: every node must be this host's (a part's tree) */
	int own;          /* the judge's own tree: no node bound, leaves past max cut */
	int bad;          /* 1 too large, 2 a node of another host */
};

/* collects the conn leaves below node — below any node's sources, not only a proc's as
 * chain_reflatten reads, so that no conn leaf of a tree the judge returns keeps an
 * upstream it did not verify (inq_to_paper reads them all) */
static void walk(struct walk *w, cJSON *node, int depth)
{
	if (w->bad || !cJSON_IsObject(node))
		return;
	if ((++w->nodes > PARTS_NODES_MAX && !w->own) || depth > 200) {
		w->bad = 1;
		return;
	}
	const char *type = jstr(node, "type");
	if (!type)
		return;
	if (w->host) {
		const char *h = jstr(node, "host");
		if (!h || strcmp(h, w->host)) {
			w->bad = 2;
			return;
		}
	}
	if (!strcmp(type, "conn")) {
		if (w->nleaves < w->max)
			w->leaves[w->nleaves++] = node;
		else if (w->own && cJSON_IsObject(cJSON_GetObjectItem(node, "upstream")))
			inq_fill(node, NULL, 0, "too many leaves");
		else if (w->host)
			w->bad = 1;
		return;
	}
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(node, "sources"))
		walk(w, cJSON_GetObjectItem(s, "node"), depth + 1);
}

/* the conn leaf of an outer (unverified) tree with these ends, as the signer sees them */
static cJSON *outer_leaf(cJSON **outer, size_t n, const cJSON *leaf)
{
	const char *l = jstr(leaf, "local"), *r = jstr(leaf, "remote");
	for (size_t i = 0; i < n; i++)
		if (same_ep(jstr(outer[i], "local"), l) && same_ep(jstr(outer[i], "remote"), r))
			return outer[i];
	return NULL;
}

/* who signed a tree the judge trusts (NULL: the judge itself) */
struct signer {
	const struct pki_addr *addrs;
	int naddrs;
};

static void fill_leaves(struct judge *j, cJSON *tree, cJSON *outer_tree, const struct signer *by,
			int depth);

__attribute__((format(printf, 3, 4))) static cJSON *forged(char *why, size_t wn,
							     const char *fmt, ...)
{
	int k = snprintf(why, wn, "forged part: ");
	va_list ap;
	va_start(ap, fmt);
	if (k > 0 && (size_t)k < wn)
		vsnprintf(why + k, wn - (size_t)k, fmt, ap);
	va_end(ap);
	return NULL;
}
#define FORGED(...) forged(why, wn, __VA_ARGS__)

/* U, the upstream answer carried for leaf L (of a tree already trusted): its verified
 * form {"ok","host","subject","tree","chains","signed"}, built from the part's bytes,
 * or NULL with the reason in why. */
static cJSON *verify_one(struct judge *j, const cJSON *L, cJSON *U, int depth, char *why,
			 size_t wn)
{
	const cJSON *sg = cJSON_GetObjectItem(U, "signed");
	if (!sg || cJSON_IsNull(sg)) {
		snprintf(why, wn, "unsigned answer");
		return NULL;
	}
	if (depth > PARTS_DEPTH_MAX)
		return FORGED("too deep");
	if (++j->parts > PARTS_MAX)
		return FORGED("too many parts");
	const cJSON *v = cJSON_GetObjectItem(sg, "v");
	const char *part = jstr(sg, "part"), *sig64 = jstr(sg, "sig"), *cert64 = jstr(sg, "cert");
	const char *cid = jstr(sg, "cert_id");
	int fv = cJSON_IsNumber(v) && (v->valuedouble == 1 || v->valuedouble == 2) ? (int)v->valuedouble : 0;
	if (!cJSON_IsObject(sg) || !fv || !part || !sig64 || (fv == 1 && !cert64) ||
	    (fv == 2 && !cert_id_ok(cid)))
		return FORGED("bad form");
	size_t plen = strnlen(part, INQ_ANSWER_MAX + 1);
	if (plen > INQ_ANSWER_MAX)
		return FORGED("too large");
	if (cert64 && strnlen(cert64, PARTS_CERT_B64_MAX + 1) > PARTS_CERT_B64_MAX)
		return FORGED("bad form");
	unsigned char ch[32];
	if (cert_seen(j, fv == 1 ? cert64 : cid, ch) != 0)
		return FORGED("too many certificates");

	size_t derlen = 0, slen = 0, blen = 0;
	unsigned char *der = NULL;
	int sent = 0; /* format 2: the certificate came with the part (else held) */
	if (fv == 1) {
		der = cert_decode(cert64, ch, &derlen);
	} else if (cert64) {
		char got[PART_CERT_ID_B64 + 1];
		der = b64_decode(cert64, PARTS_CERT_B64_MAX, &derlen);
		if (der && (part_cert_id(der, derlen, got) != 0 || strcmp(got, cid) != 0)) {
			free(der);
			return FORGED("certificate id");
		}
		sent = 1;
	} else if (!(der = held_get(cid, &derlen))) {
		/* not trusted blind: refused, and fetched by asking again without "have" */
		j->missing++;
		snprintf(why, wn, "certificate not held");
		return NULL;
	}
	unsigned char *sig = b64_decode(sig64, PARTS_SIG_B64_MAX, &slen);
	unsigned char *bytes = NULL;
	if (der && sig && fv == 1) {
		bytes = signed_bytes(part, plen, &blen);
	} else if (der && sig && (bytes = malloc(sizeof(PART_DOMAIN2) + plen))) {
		memcpy(bytes, PART_DOMAIN2, sizeof(PART_DOMAIN2));
		memcpy(bytes + sizeof(PART_DOMAIN2), part, plen);
		blen = sizeof(PART_DOMAIN2) + plen;
	}
	char cn[PKI_CN_MAX + 1] = "", pwhy[160] = "";
	struct pki_addr addrs[PKI_ADDRS_MAX];
	int naddrs = PKI_ADDRS_MAX, rv = -2;
	if (bytes)
		rv = (verifier ? verifier : pki_trust_verify_part)(j->t, der, derlen, bytes, blen,
								   sig, slen, cn, addrs, &naddrs,
								   pwhy, sizeof(pwhy));
	if (rv == 0 && sent)
		parts_cert_hold(cid, der, derlen);
	free(der);
	free(sig);
	free(bytes);
	if (rv == -2)
		return FORGED("bad form");
	if (rv != 0) /* checks 1 and 2 */
		return FORGED("certificate or signature: %s", pwhy[0] ? pwhy : "refused");
	cn[PKI_CN_MAX] = 0;
	if (naddrs < 0 || naddrs > PKI_ADDRS_MAX)
		naddrs = 0;

	/* the signed bytes are believed now: parse them, never the outer answer */
	cJSON *p = cJSON_ParseWithLength(part, plen), *V = NULL;
	const cJSON *pv = cJSON_GetObjectItem(p, "v"), *asked = cJSON_GetObjectItem(p, "asked");
	const char *host = jstr(p, "host"), *nonce = jstr(p, "nonce");
	const char *al = jstr(asked, "local"), *ar = jstr(asked, "remote");
	cJSON *tree = cJSON_GetObjectItem(p, "tree");
	struct ht_endpoint far, near, pal, par;
	if (!cJSON_IsObject(p) || !cJSON_IsNumber(pv) || pv->valuedouble != fv || !host ||
	    !nonce || !al || !ar || !cJSON_IsObject(tree)) {
		FORGED("bad form");
		goto out;
	}
	/* format 2: the part names the certificate it was checked with (signed) */
	if (fv == 2 && (!jstr(p, "cert") || strcmp(jstr(p, "cert"), cid) != 0)) {
		FORGED("certificate id");
		goto out;
	}
	/* 3. the judge's nonce: not a part given for another question */
	if (!j->nonce || strcmp(nonce, j->nonce) != 0) {
		FORGED("nonce");
		goto out;
	}
	/* 4. asked about L's connection, seen from the far side */
	if (ep_parse(jstr(L, "remote"), &far) != 0 || ep_parse(jstr(L, "local"), &near) != 0 ||
	    ep_parse(al, &pal) != 0 || ep_parse(ar, &par) != 0 || !ep_eq(&pal, &far) ||
	    !ep_eq(&par, &near)) {
		FORGED("asked");
		goto out;
	}
	/* 5. the signer is L's far host */
	if (!pki_addr_in(addrs, naddrs, far.family, far.addr)) {
		FORGED("signer does not own the far address");
		goto out;
	}
	/* 6. the part is the signer's: its host, and every node of its tree */
	if (strcmp(host, cn) != 0) {
		FORGED("host");
		goto out;
	}
	cJSON *lv[PARTS_LEAVES_MAX];
	struct walk w = {.leaves = lv, .max = PARTS_LEAVES_MAX, .host = host};
	walk(&w, tree, 0);
	if (w.bad) {
		if (w.bad == 2)
			FORGED("host");
		else
			FORGED("too large");
		goto out;
	}

	V = cJSON_CreateObject();
	cJSON *subj = V ? cJSON_CreateObject() : NULL;
	/* U is replaced by V (inq_fill deletes it): its "signed" is moved, not copied */
	cJSON *sgc = subj ? cJSON_DetachItemViaPointer(U, (cJSON *)sg) : NULL;
	if (!sgc) {
		snprintf(why, wn, "out of memory");
		cJSON_Delete(subj);
		cJSON_Delete(V);
		V = NULL;
		goto out;
	}
	cJSON_AddBoolToObject(V, "ok", 1);
	cJSON_AddStringToObject(V, "host", host);
	const cJSON *pid = cJSON_GetObjectItem(tree, "pid");
	if (cJSON_IsNumber(pid))
		cJSON_AddNumberToObject(subj, "pid", pid->valuedouble);
	cJSON_AddStringToObject(subj, "local", al);
	cJSON_AddStringToObject(subj, "remote", ar);
	cJSON_AddItemToObject(V, "subject", subj);
	cJSON_DetachItemViaPointer(p, tree);
	cJSON_AddItemToObject(V, "tree", tree);
	if (cJSON_IsTrue(cJSON_GetObjectItem(p, "truncated")))
		cJSON_AddBoolToObject(V, "truncated", 1);
	if (cJSON_IsTrue(cJSON_GetObjectItem(p, "holders_incomplete")))
		cJSON_AddBoolToObject(V, "holders_incomplete", 1);
	past_copy(V, cJSON_GetObjectItem(p, "past"));
	/* kept, so a host that forwards this answer forwards a part its judge can check */
	cJSON_AddItemToObject(V, "signed", sgc);
	struct signer by = {.addrs = addrs, .naddrs = naddrs};
	fill_leaves(j, tree, cJSON_GetObjectItem(U, "tree"), &by, depth);
	chain_reflatten(V);
out:
	cJSON_Delete(p);
	return V;
}

/* A trusted tree's conn leaves get their verified upstreams. by NULL: the judge's own
 * tree, each leaf carrying its upstream answer as received. Else a part verified as by's,
 * whose upstream answers travel in outer_tree, the (unverified) tree of the answer the
 * part came in, at the leaf with the same ends. */
static void fill_leaves(struct judge *j, cJSON *tree, cJSON *outer_tree, const struct signer *by,
			int depth)
{
	cJSON **lv = calloc(2 * PARTS_LEAVES_MAX, sizeof(*lv));
	if (!lv) {
		j->refused++;
		return;
	}
	cJSON **ov = lv + PARTS_LEAVES_MAX;
	int own = !by; /* the judge's own tree */
	struct walk w = {.leaves = lv, .max = PARTS_LEAVES_MAX, .own = own};
	struct walk o = {.leaves = ov, .max = PARTS_LEAVES_MAX};
	walk(&w, tree, 0);
	if (!own && outer_tree)
		walk(&o, outer_tree, 0);
	for (size_t i = 0; i < w.nleaves; i++) {
		cJSON *L = lv[i], *U;
		const cJSON *ol = NULL;
		if (!own) {
			ol = outer_leaf(ov, o.nleaves, L);
			U = ol ? cJSON_GetObjectItem(ol, "upstream") : NULL;
		} else {
			U = cJSON_GetObjectItem(L, "upstream");
		}
		if (!cJSON_IsObject(U)) {
			if (own)
				continue; /* the judge's own leaf, as its follower left it */
			/* not followed by the signer's side, or dropped on the way: the
			 * reason given (unsigned, but it only says why it is incomplete) */
			const char *r = jstr(ol, "reason");
			if (!r || strlen(r) > 128)
				r = jstr(L, "reason");
			if (!r || strlen(r) > 128)
				r = "no answer";
			char rb[160];
			snprintf(rb, sizeof(rb), "%s", r);
			inq_fill(L, NULL, 0, rb);
			continue;
		}
		char why[256];
		struct ht_endpoint le;
		if (by && (ep_parse(jstr(L, "local"), &le) != 0 ||
			   !pki_addr_in(by->addrs, by->naddrs, le.family, le.addr))) {
			/* a signer speaks only for connections of its own: else it could put a
			 * genuine part it was shown (in an answer to its own inquiry) under a
			 * leaf that names another host's end of that part's connection */
			j->refused++;
			inq_fill(L, NULL, 0, "forged part: local end not the signer's");
			continue;
		}
		cJSON *V = verify_one(j, L, U, depth + 1, why, sizeof(why));
		if (!V) {
			j->refused++;
			inq_fill(L, NULL, 0, why);
			continue;
		}
		int complete = inq_answer_complete(V);
		inq_fill(L, V, complete, complete ? NULL : "upstream incomplete");
	}
	free(lv);
}

int parts_verify_answer_ex(struct pki_trust *t, const char *nonce, cJSON *answer, int *missing)
{
	struct judge j = {.t = t, .nonce = nonce};
	cJSON *tree = cJSON_GetObjectItem(answer, "tree");
	if (missing)
		*missing = 0;
	if (!cJSON_IsObject(tree))
		return 0;
	fill_leaves(&j, tree, NULL, NULL, 0);
	chain_reflatten(answer);
	if (missing)
		*missing = j.missing;
	return j.refused;
}

int parts_verify_answer(struct pki_trust *t, const char *nonce, cJSON *answer)
{
	return parts_verify_answer_ex(t, nonce, answer, NULL);
}
