/*
 * query.c — the query protocol's codec (include/hoptrace/query.h): the error
 * and operation tables, requests built and parsed, the head of an answer
 * read without a tree, failed answers written. Every part names an error by
 * its code and shows it by ht_qerr_text(); the wire carries both ("code",
 * "error"). Nothing here allocates except ht_qerr_answer() (its result) and
 * ht_qreq_parse() (cJSON's tree, freed before it returns).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hoptrace/chain.h"
#include "hoptrace/query.h"

static const struct {
	const char *name, *text;
	int incomplete;
} qerr[HT_QE_COUNT] = {
	[HT_QE_OK] = {"ok", "ok", 0},
	[HT_QE_BAD_REQUEST] = {"bad_request", "bad request", 0},
	[HT_QE_NO_CONN] = {"no_conn", "no such TCP connection on this host", 0},
	[HT_QE_NO_HOLDER] = {"no_holder", "no process holds that connection's socket", 0},
	[HT_QE_NO_PROC] = {"no_proc", "no such process on this host", 0},
	[HT_QE_TOO_LARGE] = {"too_large", "answer too large", 1},
	[HT_QE_TOO_MANY_CHAINS] = {"too_many_chains", "answer has too many chains", 1},
	[HT_QE_PUSHED] = {"pushed", "pushed", 0},
	[HT_QE_NO_MEMORY] = {"no_memory", "out of memory", 0},
	[HT_QE_DENIED] = {"denied", "permission denied: root only", 0},
	[HT_QE_SUBSCRIBERS] = {"subscribers", "too many subscribers", 0},
	[HT_QE_OTHER] = {"other", "collector error", 0},
	[HT_QE_UNREACHABLE] = {"unreachable", "collector unreachable", 0},
	[HT_QE_NOT_ROOT] = {"not_root", "collector socket not served by root", 0},
	[HT_QE_TIMEOUT] = {"timeout", "no answer from collector in time", 0},
	[HT_QE_CLOSED] = {"closed", "collector closed the connection", 0},
	[HT_QE_BAD_ANSWER] = {"bad_answer", "bad answer", 0},
};

static const char *const qop[HT_QOP_COUNT] = {
	[HT_QOP_NONE] = "",
	[HT_QOP_WHO] = "who",
	[HT_QOP_CHAIN] = "chain",
	[HT_QOP_PS] = "ps",
	[HT_QOP_GRAPH] = "graph",
	[HT_QOP_STATUS] = "status",
	[HT_QOP_SUBSCRIBE] = "subscribe",
	[HT_QOP_BOUND] = "bound",
	[HT_QOP_KEVENTS] = "kevents",
};

const char *ht_qerr_name(enum ht_qerr e)
{
	return (unsigned)e < HT_QE_COUNT ? qerr[e].name : qerr[HT_QE_OTHER].name;
}

const char *ht_qerr_text(enum ht_qerr e)
{
	return (unsigned)e < HT_QE_COUNT ? qerr[e].text : qerr[HT_QE_OTHER].text;
}

enum ht_qerr ht_qerr_from_name(const char *name, size_t len)
{
	if (!name)
		return HT_QE_OTHER;
	for (unsigned i = 1; i < HT_QE_COUNT; i++)
		if (strlen(qerr[i].name) == len && !memcmp(qerr[i].name, name, len))
			return (enum ht_qerr)i;
	return HT_QE_OTHER;
}

int ht_qerr_incomplete(enum ht_qerr e)
{
	return (unsigned)e < HT_QE_COUNT && qerr[e].incomplete;
}

const char *ht_qop_name(enum ht_qop op)
{
	return (unsigned)op < HT_QOP_COUNT ? qop[op] : "";
}

enum ht_qop ht_qop_from_name(const char *name, size_t len)
{
	if (!name)
		return HT_QOP_NONE;
	for (unsigned i = 1; i < HT_QOP_COUNT; i++)
		if (strlen(qop[i]) == len && !memcmp(qop[i], name, len))
			return (enum ht_qop)i;
	return HT_QOP_NONE;
}

/* ---- building ------------------------------------------------------------- */

/* an output buffer that remembers an overflow */
struct obuf {
	char *p;
	size_t n, len;
	int over;
};

static void put(struct obuf *o, const char *s, size_t l)
{
	if (o->over || l >= o->n - o->len) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->len, s, l);
	o->len += l;
	o->p[o->len] = 0;
}

static void puts_(struct obuf *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putu(struct obuf *o, unsigned long long v)
{
	char b[24];
	size_t k = sizeof(b);
	do {
		b[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, b + k, sizeof(b) - k);
}

/* s as a JSON string's content: quotes, backslashes and control bytes escaped;
 * at most max bytes of s */
static void put_escaped(struct obuf *o, const char *s, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; s[i] && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[7] = {'\\', 0};
		if (c == '"' || c == '\\') {
			e[1] = (char)c;
			put(o, e, 2);
		} else if (c < 0x20) {
			e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15];
			put(o, e, 6);
		} else {
			put(o, (const char *)&c, 1);
		}
	}
}

/* characters an endpoint may have (an IPv6 scope's too): none that could end
 * or escape a JSON string */
static int endpoint_chars_ok(const char *s)
{
	size_t i = 0;
	for (; s[i] && i < HT_ENDPOINT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      c == '.' || c == ':' || c == '[' || c == ']' || c == '%' || c == '_' || c == '-'))
			return 0;
	}
	return i > 0 && i < HT_ENDPOINT_MAX;
}

int ht_qreq_build(char *out, size_t n, const struct ht_qreq *r)
{
	if (!out || n == 0 || !r)
		return -1;
	out[0] = 0;
	const char *name = ht_qop_name(r->op);
	if (!name[0] || (r->has_id && r->id > HT_QID_MAX))
		return -1;
	int ends = r->op == HT_QOP_WHO || r->op == HT_QOP_BOUND;
	if (ends && (!endpoint_chars_ok(r->local) || !endpoint_chars_ok(r->remote)))
		return -1;
	if (r->op == HT_QOP_CHAIN && (r->pid < 1 || r->pid > HT_QPID_MAX))
		return -1;
	if (r->op == HT_QOP_BOUND && r->ino < 1)
		return -1;
	struct obuf o = {out, n, 0, 0};
	puts_(&o, "{\"op\":\"");
	puts_(&o, name);
	put(&o, "\"", 1);
	if (r->has_id) {
		puts_(&o, ",\"id\":");
		putu(&o, r->id);
	}
	if (r->op == HT_QOP_CHAIN) {
		puts_(&o, ",\"pid\":");
		putu(&o, (unsigned long long)r->pid);
	}
	if (r->op == HT_QOP_BOUND) {
		puts_(&o, ",\"ino\":");
		putu(&o, r->ino);
	}
	if (ends) {
		puts_(&o, ",\"local\":\"");
		puts_(&o, r->local);
		puts_(&o, "\",\"remote\":\"");
		puts_(&o, r->remote);
		put(&o, "\"", 1);
	}
	if (r->op == HT_QOP_WHO && r->deadline_ms) {
		puts_(&o, ",\"deadline_ms\":");
		putu(&o, r->deadline_ms > HT_QDEADLINE_MAX_MS ? HT_QDEADLINE_MAX_MS : r->deadline_ms);
	}
	if (r->op == HT_QOP_WHO && r->force)
		puts_(&o, ",\"force\":true");
	if (r->op == HT_QOP_WHO && r->age_ms) {
		puts_(&o, ",\"age_ms\":");
		putu(&o, r->age_ms > HT_QAGE_MAX_MS ? HT_QAGE_MAX_MS : r->age_ms);
	}
	put(&o, "}", 1);
	if (o.over) {
		out[0] = 0;
		return -1;
	}
	return (int)o.len;
}

/* ---- parsing a request ---------------------------------------------------- */

static enum ht_qerr bad(char *detail, size_t dn, const char *text, const char *arg)
{
	if (detail && dn)
		snprintf(detail, dn, text, arg ? arg : "");
	return HT_QE_BAD_REQUEST;
}

/* a whole JSON number in [lo, hi] (0 <= lo, hi < 2^64) */
static int whole(const cJSON *v, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	if (!(d >= lo && d <= hi) || d != (double)(uint64_t)d)
		return -1;
	*out = d;
	return 0;
}

static int endpoint_member(const cJSON *j, const char *key, char *dst, struct ht_endpoint *ep)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, key));
	if (!s || strlen(s) >= HT_ENDPOINT_MAX || !endpoint_chars_ok(s) || ht_endpoint_parse(s, ep) != 0)
		return -1;
	strcpy(dst, s);
	return 0;
}

static enum ht_qerr parse_ends(const cJSON *j, struct ht_qreq *r, char *detail, size_t dn)
{
	struct ht_endpoint l, rr;
	if (endpoint_member(j, "local", r->local, &l) != 0)
		return bad(detail, dn, "bad or missing \"local\" endpoint", NULL);
	if (endpoint_member(j, "remote", r->remote, &rr) != 0)
		return bad(detail, dn, "bad or missing \"remote\" endpoint", NULL);
	if (l.family != rr.family)
		return bad(detail, dn, "local and remote are of different address families", NULL);
	return HT_QE_OK;
}

static enum ht_qerr parse_members(const cJSON *j, struct ht_qreq *r, char *detail, size_t dn)
{
	double d;
	enum ht_qerr e;
	switch (r->op) {
	case HT_QOP_WHO:
		if ((e = parse_ends(j, r, detail, dn)) != HT_QE_OK)
			return e;
		if (whole(cJSON_GetObjectItemCaseSensitive(j, "deadline_ms"), 1, HT_QDEADLINE_MAX_MS, &d) == 0)
			r->deadline_ms = (unsigned long)d;
		r->force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "force"));
		if (whole(cJSON_GetObjectItemCaseSensitive(j, "age_ms"), 0, HT_QAGE_MAX_MS, &d) == 0)
			r->age_ms = (unsigned long)d;
		return HT_QE_OK;
	case HT_QOP_CHAIN:
		if (whole(cJSON_GetObjectItemCaseSensitive(j, "pid"), 1, HT_QPID_MAX, &d) != 0)
			return bad(detail, dn, "bad or missing \"pid\"", NULL);
		r->pid = (int64_t)d;
		return HT_QE_OK;
	case HT_QOP_BOUND:
		/* below 2^64 (the largest double that converts) */
		if (whole(cJSON_GetObjectItemCaseSensitive(j, "ino"), 1, 18446744073709549568.0, &d) != 0)
			return bad(detail, dn, "bad or missing \"ino\"", NULL);
		r->ino = (uint64_t)d;
		return parse_ends(j, r, detail, dn);
	default:
		return HT_QE_OK;
	}
}

enum ht_qerr ht_qreq_parse(const char *buf, size_t len, struct ht_qreq *r, char *detail, size_t dn)
{
	const char *end = NULL;
	double d;
	memset(r, 0, sizeof(*r));
	if (detail && dn)
		detail[0] = 0;
	if (!buf || len == 0 || len > HT_QUERY_MAX)
		return bad(detail, dn, "request empty or larger than 64 KiB", NULL);
	cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
	if (j && end) /* after the object: whitespace or NULs only */
		while (end < buf + len && (unsigned char)*end <= ' ')
			end++;
	if (!j || !cJSON_IsObject(j) || end != buf + len) {
		cJSON_Delete(j);
		return bad(detail, dn, "request is not a JSON object", NULL);
	}
	if (whole(cJSON_GetObjectItemCaseSensitive(j, "id"), 0, (double)HT_QID_MAX, &d) == 0) {
		r->has_id = 1;
		r->id = (uint64_t)d;
	}
	enum ht_qerr e = HT_QE_OK;
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "op"));
	if (!op)
		e = bad(detail, dn, "missing \"op\"", NULL);
	else if ((r->op = ht_qop_from_name(op, strlen(op))) == HT_QOP_NONE)
		e = bad(detail, dn, "unknown op \"%.40s\"", op);
	else
		e = parse_members(j, r, detail, dn);
	cJSON_Delete(j);
	return e;
}

/* ---- the head of an answer ------------------------------------------------- */

struct scan {
	const char *p, *end;
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* s->p at a string's opening quote: *b, *l its raw content, s->p past the
 * closing quote; -1 when it does not close before end */
static int str_span(struct scan *s, const char **b, size_t *l)
{
	const char *q = s->p + 1;
	for (;;) {
		const char *c = q < s->end ? memchr(q, '"', (size_t)(s->end - q)) : NULL;
		if (!c)
			return -1;
		size_t bs = 0; /* an odd run of backslashes before it escapes it */
		while (c - bs > s->p + 1 && c[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (bs % 2 == 0) {
			*b = s->p + 1;
			*l = (size_t)(c - *b);
			s->p = c + 1;
			return 0;
		}
		q = c + 1;
	}
}

/* a number, true, false or null: the run of bytes up to , } ] or white space */
static int scalar_span(struct scan *s, const char **b, size_t *l)
{
	*b = s->p;
	while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' &&
	       *s->p != '\t' && *s->p != '\n' && *s->p != '\r')
		s->p++;
	*l = (size_t)(s->p - *b);
	return *l ? 0 : -1;
}

/* a whole number in [0, max] from a scalar's bytes: exact for plain digits,
 * through strtod for "1e3" or "12.0" (how a double may be printed) */
static int span_uint(const char *b, size_t l, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < l && b[i] >= '0' && b[i] <= '9'; i++) {
		if (v > (UINT64_MAX - (uint64_t)(b[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(b[i] - '0');
	}
	if (i == l && l > 0 && l <= 20) {
		if (v > max)
			return -1;
		*out = v;
		return 0;
	}
	char t[40];
	if (l == 0 || l >= sizeof(t) || b[0] == '-')
		return -1;
	memcpy(t, b, l);
	t[l] = 0;
	char *e;
	double d = strtod(t, &e);
	if (*e || !(d >= 0 && d < 18446744073709551616.0) || d != (double)(uint64_t)d ||
	    (uint64_t)d > max)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

static void put_utf8(char *dst, size_t cap, size_t *k, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xc0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3f)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xe0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
		u[2] = (char)(0x80 | (cp & 0x3f)), n = 3;
	else
		u[0] = (char)(0xf0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), n = 4;
	if (*k + n < cap) {
		memcpy(dst + *k, u, n);
		*k += n;
	}
}

static int hex4(const char *p, const char *end, unsigned long *v)
{
	*v = 0;
	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		*v = *v << 4 | (unsigned long)d;
	}
	return 0;
}

/* a string's raw content decoded into dst (cap bytes, NUL-terminated, cut);
 * a bad escape or a NUL ends it */
static void unescape(const char *b, size_t l, char *dst, size_t cap)
{
	const char *p = b, *end = b + l;
	size_t k = 0;
	while (p < end && k + 1 < cap) {
		unsigned long cp;
		char c = *p++;
		if (c == 0)
			break;
		if (c != '\\') {
			dst[k++] = c;
			continue;
		}
		if (p == end)
			break;
		c = *p++;
		switch (c) {
		case 'b': dst[k++] = '\b'; break;
		case 'f': dst[k++] = '\f'; break;
		case 'n': dst[k++] = '\n'; break;
		case 'r': dst[k++] = '\r'; break;
		case 't': dst[k++] = '\t'; break;
		case 'u':
			if (hex4(p, end, &cp) != 0 || cp == 0)
				goto out;
			p += 4;
			if (cp >= 0xd800 && cp < 0xdc00) {
				unsigned long lo;
				if (end - p >= 6 && p[0] == '\\' && p[1] == 'u' && hex4(p + 2, end, &lo) == 0 &&
				    lo >= 0xdc00 && lo < 0xe000) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					p += 6;
				} else {
					cp = '?';
				}
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				cp = '?';
			}
			put_utf8(dst, cap, &k, cp);
			break;
		default:
			dst[k++] = c; /* \" \\ \/ (and anything else as itself) */
		}
	}
out:
	dst[k] = 0;
}

enum {
	H_OK = 1, H_ID = 2, H_CODE = 4, H_ERROR = 8, H_PUSHED = 16, H_NOPUSH = 32, H_INO = 64, H_HOST = 128
};

static int head_key(const char *k, size_t l)
{
	switch (l) {
	case 2: return !memcmp(k, "ok", 2) ? H_OK : !memcmp(k, "id", 2) ? H_ID : 0;
	case 3: return !memcmp(k, "ino", 3) ? H_INO : 0;
	case 4: return !memcmp(k, "code", 4) ? H_CODE : !memcmp(k, "host", 4) ? H_HOST : 0;
	case 5: return !memcmp(k, "error", 5) ? H_ERROR : 0;
	case 6: return !memcmp(k, "pushed", 6) ? H_PUSHED : !memcmp(k, "nopush", 6) ? H_NOPUSH : 0;
	default: return 0;
	}
}

static int is_lit(const char *b, size_t l, const char *lit)
{
	return l == strlen(lit) && !memcmp(b, lit, l);
}

/* one member's value, s->p at its first byte; the first of duplicates counts */
static int head_value(struct scan *s, int key, int *seen, struct ht_qhead *h, enum ht_qerr *code)
{
	const char *b;
	size_t l;
	int isstr = *s->p == '"';
	if (isstr ? str_span(s, &b, &l) : scalar_span(s, &b, &l))
		return -1;
	if (!key || (*seen & key))
		return 0;
	*seen |= key;
	switch (key) {
	case H_OK:
		if (isstr || (!is_lit(b, l, "true") && !is_lit(b, l, "false")))
			return -1; /* "ok" is a boolean or the answer is not one we read */
		h->has_ok = 1;
		h->ok = l == 4;
		break;
	case H_ID:
		h->has_id = !isstr && span_uint(b, l, HT_QID_MAX, &h->id) == 0;
		break;
	case H_INO:
		if (isstr || span_uint(b, l, UINT64_MAX, &h->ino) != 0)
			h->ino = 0;
		break;
	case H_CODE:
		if (isstr)
			*code = ht_qerr_from_name(b, l);
		break;
	case H_ERROR:
		if (isstr)
			unescape(b, l, h->text, sizeof(h->text));
		break;
	case H_HOST:
		if (isstr)
			unescape(b, l, h->host, sizeof(h->host));
		break;
	case H_PUSHED:
		h->pushed = is_lit(b, l, "true");
		break;
	case H_NOPUSH:
		h->nopush = is_lit(b, l, "true");
		break;
	}
	return 0;
}

/* the top-level members up to the first array or object value: HT_QE_OK at
 * the object's end, HT_QE_COUNT at such a value, else HT_QE_BAD_ANSWER */
static enum ht_qerr head_scan(struct scan *s, struct ht_qhead *h, enum ht_qerr *code)
{
	int seen = 0;
	ws(s);
	if (s->p >= s->end || *s->p != '{')
		return HT_QE_BAD_ANSWER;
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == '}')
		return HT_QE_OK;
	for (;;) {
		const char *k;
		size_t kl;
		if (s->p >= s->end || *s->p != '"' || str_span(s, &k, &kl) != 0)
			return HT_QE_BAD_ANSWER;
		ws(s);
		if (s->p >= s->end || *s->p != ':')
			return HT_QE_BAD_ANSWER;
		s->p++;
		ws(s);
		if (s->p < s->end && (*s->p == '{' || *s->p == '['))
			return HT_QE_COUNT; /* the head ends here (the chain decoder reads on) */
		if (s->p >= s->end || head_value(s, head_key(k, kl), &seen, h, code) != 0)
			return HT_QE_BAD_ANSWER;
		ws(s);
		if (s->p >= s->end)
			return HT_QE_BAD_ANSWER;
		if (*s->p == '}')
			return HT_QE_OK;
		if (*s->p != ',')
			return HT_QE_BAD_ANSWER;
		s->p++;
		ws(s);
	}
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* a push's last member, read from the end: [,{] "ino" : N } */
static void tail_ino(const char *b, const char *e, uint64_t *ino)
{
	while (e > b && (is_ws(e[-1]) || e[-1] == 0))
		e--;
	if (e == b || *--e != '}')
		return;
	while (e > b && is_ws(e[-1]))
		e--;
	const char *ne = e;
	while (e > b && ((e[-1] >= '0' && e[-1] <= '9') || e[-1] == '.' || e[-1] == 'e' ||
			 e[-1] == 'E' || e[-1] == '+' || e[-1] == '-'))
		e--;
	const char *nb = e;
	while (e > b && is_ws(e[-1]))
		e--;
	if (e == b || *--e != ':')
		return;
	while (e > b && is_ws(e[-1]))
		e--;
	if (e - b < 6 || memcmp(e - 5, "\"ino\"", 5) != 0)
		return;
	e -= 5;
	while (e > b && is_ws(e[-1]))
		e--;
	if (e == b || (e[-1] != ',' && e[-1] != '{') || span_uint(nb, (size_t)(ne - nb), UINT64_MAX, ino))
		*ino = 0;
}

enum ht_qerr ht_qhead_parse(const char *ans, size_t len, struct ht_qhead *h)
{
	enum ht_qerr code = HT_QE_OTHER;
	/* (not a memset of the 450 bytes: this runs per SYN) */
	h->ok = h->has_ok = h->has_id = h->pushed = h->nopush = 0;
	h->id = h->ino = 0;
	h->text[0] = h->host[0] = 0;
	h->code = HT_QE_BAD_ANSWER;
	if (!ans)
		return HT_QE_BAD_ANSWER;
	struct scan s = {ans, ans + len};
	enum ht_qerr e = head_scan(&s, h, &code);
	if (e == HT_QE_COUNT) { /* stopped at a nested value: a push's "ino" is last */
		e = HT_QE_OK;
		if (!h->ino)
			tail_ino(s.p, ans + len, &h->ino);
	}
	if (e != HT_QE_OK)
		return e;
	/* "ok":true wins over any "code"; a failure without a code we know is
	 * "other" */
	h->code = h->ok ? HT_QE_OK : code == HT_QE_OK ? HT_QE_OTHER : code;
	return HT_QE_OK;
}

/* ---- failed answers --------------------------------------------------------- */

size_t ht_qerr_format(char *out, size_t n, int has_id, uint64_t id, enum ht_qerr code,
		      const char *detail)
{
	if (!out || n == 0)
		return 0;
	if ((unsigned)code >= HT_QE_COUNT || code == HT_QE_OK)
		code = HT_QE_OTHER;
	struct obuf o = {out, n, 0, 0};
	out[0] = 0;
	put(&o, "{", 1);
	if (has_id) {
		puts_(&o, "\"id\":");
		putu(&o, id);
		put(&o, ",", 1);
	}
	puts_(&o, "\"ok\":false,\"error\":\"");
	put_escaped(&o, detail && detail[0] ? detail : ht_qerr_text(code), 255);
	puts_(&o, "\",\"code\":\"");
	puts_(&o, ht_qerr_name(code));
	put(&o, "\"", 1);
	if (code == HT_QE_PUSHED)
		puts_(&o, ",\"pushed\":true");
	put(&o, "}", 1);
	if (o.over) {
		out[0] = 0;
		return 0;
	}
	return o.len;
}

char *ht_qerr_answer(const struct ht_qreq *req, enum ht_qerr code, const char *detail)
{
	char b[2048]; /* 255 bytes escaped 6 to 1, and the rest */
	size_t n = ht_qerr_format(b, sizeof(b), req && req->has_id, req ? req->id : 0, code, detail);
	return n ? strdup(b) : NULL;
}

size_t ht_qerr_cut(char *out, size_t n, const char *ans, size_t len)
{
	uint64_t id = 0;
	size_t k = 6;
	int has_id = 0;
	if (ans && len > 6 && !memcmp(ans, "{\"id\":", 6)) {
		while (k < len && ans[k] >= '0' && ans[k] <= '9' && k <= 6 + 20)
			k++;
		has_id = k > 6 && k - 6 <= 20 && span_uint(ans + 6, k - 6, UINT64_MAX, &id) == 0;
	}
	return ht_qerr_format(out, n, has_id, id, HT_QE_TOO_LARGE, NULL);
}

size_t ht_qnopush_format(char *out, size_t n, uint64_t ino)
{
	if (!out || n == 0)
		return 0;
	struct obuf o = {out, n, 0, 0};
	out[0] = 0;
	puts_(&o, "{\"nopush\":true,\"ino\":");
	putu(&o, ino);
	put(&o, "}", 1);
	if (o.over) {
		out[0] = 0;
		return 0;
	}
	return o.len;
}
