/*
 * chainjson.c — implements chain.h: decodes the `chains` array of a who/chain
 * answer (docs/query-protocol.md) into struct ht_chainset, and parses/formats
 * endpoints ("10.0.0.1:22", "[2001:db8::1]:22").
 *
 * Validation is strict on types and bounded on sizes; errors are static text.
 * Bounds: at most HT_CHAINS_MAX chains, HT_CHAIN_PROCS_MAX processes a chain.
 * Strings longer than their field are truncated (NUL-terminated, never
 * overflowing). Optional fields and their defaults:
 *   origin_host ""    src/dst absent or null -> family 0
 *   complete false    fallback false (but forced true if any proc is seen: kernel)
 *   proc.host ""      proc.uid (uid_t)-1    proc.exe ""    proc.sha256 ""
 *   proc.seen "shim"
 * Required: the answer is an object, "chains" is an array, every chain is an
 * object with a "procs" array, every proc is an object with an integer "pid".
 * An answer with "ok": false is rejected ("answer is not ok").
 * Why a decode failed is also a code (ht_chains_read): HT_QE_TOO_LARGE (above
 * 16 MiB), HT_QE_TOO_MANY_CHAINS (above HT_CHAINS_MAX), the answer's own
 * "code" when it is not ok (HT_QE_OTHER without one), HT_QE_NO_MEMORY, and
 * HT_QE_BAD_ANSWER for anything malformed.
 *
 * IPv4-mapped IPv6 endpoints ("[::ffff:10.0.0.1]:22") are normalised to
 * AF_INET so that policy matches them against IPv4 rules.
 * ht_endpoint_format() writes "-" for an absent endpoint (family 0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hoptrace/chain.h"
#include "hoptrace/query.h"

#define HT_CHAINS_MAX 64
#define HT_CHAIN_PROCS_MAX 256
#define HT_JSON_MAX (16u << 20) /* refuse answers above 16 MiB outright */

static void copy_trunc(char *dst, size_t n, const char *src)
{
	size_t l = strlen(src);

	if (l >= n)
		l = n - 1;
	memcpy(dst, src, l);
	dst[l] = '\0';
}

/* Optional string field: absent or null -> def; string -> copied; else error. */
static int opt_string(const cJSON *obj, const char *key, char *dst, size_t n,
		      const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v || cJSON_IsNull(v)) {
		copy_trunc(dst, n, def);
		return 0;
	}
	if (!cJSON_IsString(v) || !v->valuestring)
		return -1;
	copy_trunc(dst, n, v->valuestring);
	return 0;
}

/* Optional bool: absent/null -> def. */
static int opt_bool(const cJSON *obj, const char *key, int *out, int def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!v || cJSON_IsNull(v)) {
		*out = def;
		return 0;
	}
	if (!cJSON_IsBool(v))
		return -1;
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return 0;
}

/* An integral JSON number within [lo, hi]. */
static int get_int(const cJSON *v, double lo, double hi, long long *out)
{
	double d;

	if (!v || !cJSON_IsNumber(v))
		return -1;
	d = v->valuedouble;
	if (!(d >= lo && d <= hi) || d != (double)(long long)d)
		return -1;
	*out = (long long)d;
	return 0;
}

static int opt_endpoint(const cJSON *obj, const char *key, struct ht_endpoint *ep)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	memset(ep, 0, sizeof(*ep));
	if (!v || cJSON_IsNull(v))
		return 0;
	if (!cJSON_IsString(v) || !v->valuestring)
		return -1;
	return ht_endpoint_parse(v->valuestring, ep) == 0 ? 0 : -1;
}

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F')))
			return 0;
	}
	return i == 64;
}

static int parse_proc(const cJSON *p, struct ht_chain_proc *out, const char **err)
{
	const cJSON *v;
	long long n;
	char seen[16], sha[80];

	memset(out, 0, sizeof(*out));
	if (!cJSON_IsObject(p))
		return *err = "chain proc is not an object", -1;
	if (opt_string(p, "host", out->host, sizeof(out->host), "") < 0)
		return *err = "chain proc host is not a string", -1;
	v = cJSON_GetObjectItemCaseSensitive(p, "pid");
	if (!v)
		return *err = "chain proc has no pid", -1;
	if (get_int(v, 0, 2147483647.0, &n) < 0)
		return *err = "chain proc pid is not a valid process id", -1;
	out->pid = (pid_t)n;
	out->uid = (uid_t)-1;
	v = cJSON_GetObjectItemCaseSensitive(p, "uid");
	if (v && !cJSON_IsNull(v)) {
		if (get_int(v, 0, 4294967294.0, &n) < 0)
			return *err = "chain proc uid is not a valid user id", -1;
		out->uid = (uid_t)n;
	}
	if (opt_string(p, "exe", out->exe, sizeof(out->exe), "") < 0)
		return *err = "chain proc exe is not a string", -1;
	if (opt_string(p, "sha256", sha, sizeof(sha), "") < 0)
		return *err = "chain proc sha256 is not a string", -1;
	if (sha[0]) {
		if (!is_hex64(sha))
			return *err = "chain proc sha256 is not 64 hex digits", -1;
		for (int i = 0; i < 64; i++)
			out->sha256[i] = (sha[i] >= 'A' && sha[i] <= 'F') ? (char)(sha[i] + 32) : sha[i];
		out->sha256[64] = '\0';
	}
	if (opt_string(p, "seen", seen, sizeof(seen), "shim") < 0)
		return *err = "chain proc seen is not a string", -1;
	if (strcmp(seen, "kernel") == 0) {
		out->kernel_only = 1;
	} else if (strcmp(seen, "kernel-events") == 0) {
		/* its creator from the kernel's fork event, its channels from
		 * /proc: @kernel_only applies as to "kernel" */
		out->kernel_only = 1;
		out->kernel_events = 1;
	} else if (strcmp(seen, "shim") != 0) {
		return *err = "chain proc seen is not \"shim\", \"kernel\" or \"kernel-events\"", -1;
	}
	return 0;
}

/* 0, or -1 (malformed) / -2 (out of memory) with *err */
static int parse_chain(const cJSON *c, struct ht_chain *out, const char **err)
{
	const cJSON *procs, *p;
	int n, i = 0;

	if (!cJSON_IsObject(c))
		return *err = "chain is not an object", -1;
	if (opt_string(c, "origin_host", out->origin_host, sizeof(out->origin_host), "") < 0)
		return *err = "chain origin_host is not a string", -1;
	if (opt_endpoint(c, "src", &out->src) < 0)
		return *err = "chain src is not an endpoint (ADDR:PORT or [ADDR6]:PORT)", -1;
	if (opt_endpoint(c, "dst", &out->dst) < 0)
		return *err = "chain dst is not an endpoint (ADDR:PORT or [ADDR6]:PORT)", -1;
	if (opt_bool(c, "complete", &out->complete, 0) < 0)
		return *err = "chain complete is not a boolean", -1;
	int src_att;
	if (opt_bool(c, "src_attested", &src_att, 1) < 0)
		return *err = "chain src_attested is not a boolean", -1;
	out->src_unattested = !src_att;
	if (opt_bool(c, "fallback", &out->fallback, 0) < 0)
		return *err = "chain fallback is not a boolean", -1;
	procs = cJSON_GetObjectItemCaseSensitive(c, "procs");
	if (!procs)
		return *err = "chain has no procs", -1;
	if (!cJSON_IsArray(procs))
		return *err = "chain procs is not an array", -1;
	n = cJSON_GetArraySize(procs);
	if (n > HT_CHAIN_PROCS_MAX)
		return *err = "chain has too many procs (limit 256)", -1;
	if (n > 0) {
		out->procs = calloc((size_t)n, sizeof(*out->procs));
		if (!out->procs)
			return *err = "out of memory", -2;
	}
	cJSON_ArrayForEach(p, procs)
	{
		if (i >= n)
			break;
		if (parse_proc(p, &out->procs[i], err) < 0)
			return -1;
		if (out->procs[i].kernel_only)
			out->fallback = 1;
		out->nprocs = (size_t)++i;
	}
	return 0;
}

/* the "code" of a failed answer (HT_QE_OTHER when it has none) */
static enum ht_qerr answer_code(const cJSON *root)
{
	const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "code"));
	enum ht_qerr e = c ? ht_qerr_from_name(c, strlen(c)) : HT_QE_OTHER;
	return e == HT_QE_OK ? HT_QE_OTHER : e;
}

int ht_chains_from_json(const char *json, size_t len, struct ht_chainset *out,
			const char **err)
{
	return ht_chains_read(json, len, out, NULL, err);
}

/* 89 lines on purpose: one pass over the answer's top level, each failure
 * its own code and text in order (size, JSON, ok, chains, each chain), the
 * per-chain work already in parse_chain(). */
int ht_chains_read(const char *json, size_t len, struct ht_chainset *out, enum ht_qerr *code,
		   const char **err)
{
	const char *dummy, *end = NULL;
	enum ht_qerr cdummy;
	cJSON *root, *chains, *c, *ok;
	int n, i = 0;

	if (!err)
		err = &dummy;
	if (!code)
		code = &cdummy;
	*err = NULL;
	*code = HT_QE_BAD_ANSWER; /* unless said otherwise below */
	if (!out)
		return *err = "no output", -EINVAL;
	out->n = 0;
	out->v = NULL;
	out->local_gap = 0;
	if (!json)
		return *err = "no answer", -EINVAL;
	if (len > HT_JSON_MAX)
		return *code = HT_QE_TOO_LARGE, *err = "answer too large", -EINVAL;
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (!root)
		return *err = "answer is not valid JSON", -EINVAL;
	while (end < json + len && (unsigned char)*end <= ' ') /* cJSON's whitespace, NUL */
		end++;
	if (end != json + len) {
		*err = "answer has trailing garbage after the JSON object";
		goto bad;
	}
	if (!cJSON_IsObject(root)) {
		*err = "answer is not a JSON object";
		goto bad;
	}
	ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
	if (ok && !cJSON_IsBool(ok)) {
		*err = "answer ok is not a boolean";
		goto bad;
	}
	if (ok && cJSON_IsFalse(ok)) {
		*code = answer_code(root);
		*err = "answer is not ok";
		goto bad;
	}
	chains = cJSON_GetObjectItemCaseSensitive(root, "chains");
	if (!chains) {
		*err = "answer has no chains";
		goto bad;
	}
	if (!cJSON_IsArray(chains)) {
		*err = "answer chains is not an array";
		goto bad;
	}
	n = cJSON_GetArraySize(chains);
	if (n > HT_CHAINS_MAX) {
		*code = HT_QE_TOO_MANY_CHAINS;
		*err = "answer has too many chains (limit 64)";
		goto bad;
	}
	if (n > 0) {
		out->v = calloc((size_t)n, sizeof(*out->v));
		if (!out->v) {
			*code = HT_QE_NO_MEMORY;
			*err = "out of memory";
			goto bad;
		}
	}
	cJSON_ArrayForEach(c, chains)
	{
		if (i >= n)
			break;
		out->n = (size_t)i + 1; /* so that free() sees a partly built chain */
		int rc = parse_chain(c, &out->v[i], err);
		if (rc < 0) {
			if (rc == -2)
				*code = HT_QE_NO_MEMORY;
			goto bad;
		}
		i++;
	}
	{
		const cJSON *hi = cJSON_GetObjectItemCaseSensitive(root, "holders_incomplete");
		if (hi && !cJSON_IsBool(hi)) {
			*err = "answer holders_incomplete is not a boolean";
			goto bad;
		}
		out->local_gap = cJSON_IsTrue(hi);
	}
	cJSON_Delete(root);
	*code = HT_QE_OK;
	return 0;
bad:
	cJSON_Delete(root);
	ht_chainset_free(out);
	return -EINVAL;
}

void ht_chainset_free(struct ht_chainset *cs)
{
	if (!cs)
		return;
	for (size_t i = 0; i < cs->n && cs->v; i++)
		free(cs->v[i].procs);
	free(cs->v);
	cs->v = NULL;
	cs->n = 0;
}

int ht_endpoint_parse(const char *s, struct ht_endpoint *ep)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *h, *he, *p;
	size_t hl;
	unsigned long port = 0;
	struct ht_endpoint tmp;

	if (!s || !ep)
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	if (s[0] == '[') {
		h = s + 1;
		he = strchr(h, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		p = he + 2;
	} else {
		h = s;
		he = strchr(s, ':');
		if (!he || strchr(he + 1, ':')) /* bare IPv6 or several colons */
			return -EINVAL;
		p = he + 1;
	}
	hl = (size_t)(he - h);
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (!*p || strlen(p) > 5)
		return -EINVAL;
	for (const char *q = p; *q; q++) {
		if (*q < '0' || *q > '9')
			return -EINVAL;
		port = port * 10 + (unsigned long)(*q - '0');
	}
	if (port > 65535)
		return -EINVAL;
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, host, tmp.addr) != 1)
			return -EINVAL;
		tmp.family = AF_INET6;
		static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(tmp.addr, v4mapped, 12) == 0) {
			memmove(tmp.addr, tmp.addr + 12, 4);
			memset(tmp.addr + 4, 0, 12);
			tmp.family = AF_INET;
		}
	} else {
		if (inet_pton(AF_INET, host, tmp.addr) != 1)
			return -EINVAL;
		tmp.family = AF_INET;
	}
	tmp.port = (uint16_t)port;
	*ep = tmp;
	return 0;
}

char *ht_endpoint_format(const struct ht_endpoint *ep, char *buf, size_t n)
{
	char a[INET6_ADDRSTRLEN];

	if (!buf || n == 0)
		return buf;
	if (!ep || (ep->family != AF_INET && ep->family != AF_INET6) ||
	    !inet_ntop(ep->family, ep->addr, a, sizeof(a))) {
		snprintf(buf, n, "-");
		return buf;
	}
	if (ep->family == AF_INET6)
		snprintf(buf, n, "[%s]:%u", a, (unsigned)ep->port);
	else
		snprintf(buf, n, "%s:%u", a, (unsigned)ep->port);
	return buf;
}
