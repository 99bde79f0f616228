/*
 * inquiry.c — the pure parts of the trace inquiry service (inquiry.h):
 * configuration keys, request validation, canonical 4-tuples, conn leaves and
 * their merge, the paper's answer format. No threads, no graph.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hoptrace/chain.h"
#include "hoptrace/ini.h"
#include "inquiry.h"
#include "parts.h"

/* ---- configuration ----------------------------------------------------------- */

void inq_conf_defaults(struct inq_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->enabled = 1;
	snprintf(c->listen, sizeof(c->listen), "https://[::]:8471");
	c->port = 8471;
	c->max_depth = 8;
	c->timeout_ms = 2000;
	c->mark = 0x20000000u;
	c->rate = 100;
	snprintf(c->user, sizeof(c->user), "hoptrace");
	snprintf(c->chroot, sizeof(c->chroot), "/run/hoptrace/empty");
	c->max_restarts = 5;
	fleet_conf_defaults(&c->fleet);
}

static int path_key(char *dst, size_t cap, const char *key, const char *val, char *err, size_t n)
{
	if (val[0] != '/' || strlen(val) >= cap) {
		snprintf(err, n, "%s: must be an absolute path", key);
		return -1;
	}
	snprintf(dst, cap, "%s", val);
	return 0;
}

int inq_fleet_key(struct inq_conf *c, const char *key, const char *val, char *err, size_t n)
{
	return fleet_conf_key(&c->fleet, key, val, err, n);
}

int inq_conf_key(struct inq_conf *c, const char *key, const char *val, char *err, size_t n)
{
	unsigned long long u;
	if (!strcmp(key, "listen")) {
		if (!strcmp(val, "no") || !strcmp(val, "off") || !*val) {
			c->enabled = 0;
			c->listen[0] = 0;
			return 0;
		}
		if ((strncmp(val, "https://", 8) != 0 && strncmp(val, "http://", 7) != 0) ||
		    strlen(val) >= sizeof(c->listen)) {
			snprintf(err, n, "listen: expected https://ADDR:PORT or \"no\"");
			return -1;
		}
		c->enabled = 1;
		snprintf(c->listen, sizeof(c->listen), "%s", val);
	} else if (!strcmp(key, "port")) {
		if (ini_uint(val, 65535, &u, err, n) != 0)
			return -1;
		if (u == 0) {
			snprintf(err, n, "port: 1..65535");
			return -1;
		}
		c->port = (unsigned)u;
	} else if (!strcmp(key, "secret") || !strcmp(key, "secret_file")) {
		snprintf(err, n, "%s: the shared secret is gone: fleet members prove themselves with "
			 "certificates, see [fleet] in docs/config.md (hoptrace ca init/issue)", key);
		return -1;
	} else if (!strcmp(key, "max_depth")) {
		if (ini_uint(val, 64, &u, err, n) != 0)
			return -1;
		c->max_depth = (unsigned)u;
	} else if (!strcmp(key, "timeout_ms")) {
		if (ini_uint(val, 60000, &u, err, n) != 0)
			return -1;
		if (u < 10) {
			snprintf(err, n, "timeout_ms: at least 10");
			return -1;
		}
		c->timeout_ms = (unsigned)u;
	} else if (!strcmp(key, "mark")) {
		char *end;
		errno = 0;
		unsigned long m = strtoul(val, &end, 0);
		if (errno || end == val || *end || m > 0xffffffffUL) {
			snprintf(err, n, "mark: expected a 32-bit number (e.g. 0x20000000)");
			return -1;
		}
		c->mark = (uint32_t)m;
	} else if (!strcmp(key, "user")) {
		if (!*val || strlen(val) >= sizeof(c->user)) {
			snprintf(err, n, "user: empty or longer than 63 bytes");
			return -1;
		}
		snprintf(c->user, sizeof(c->user), "%s", val);
	} else if (!strcmp(key, "chroot")) {
		if (path_key(c->chroot, sizeof(c->chroot), key, val, err, n) != 0)
			return -1;
	} else if (!strcmp(key, "handshake_timeout_ms") || !strcmp(key, "body_timeout_ms") ||
		   !strcmp(key, "idle_timeout_ms") || !strcmp(key, "max_conns") ||
		   !strcmp(key, "max_conns_per_peer") || !strcmp(key, "max_preauth_per_peer") ||
		   !strcmp(key, "handshakes_per_peer") || !strcmp(key, "handshakes_total")) {
		unsigned *dst = key[0] == 'b' ? &c->body_timeout_ms
				: key[0] == 'i' ? &c->idle_timeout_ms
				: !strcmp(key, "handshake_timeout_ms") ? &c->head_timeout_ms
				: !strcmp(key, "max_conns") ? &c->max_conns
				: !strcmp(key, "max_conns_per_peer") ? &c->max_conns_per_peer
				: !strcmp(key, "max_preauth_per_peer") ? &c->max_preauth_per_peer
				: !strcmp(key, "handshakes_per_peer") ? &c->handshakes_per_peer
				: &c->handshakes_total;
		if (ini_uint(val, key[0] == 'm' && !strcmp(key, "max_conns") ? 60000 : 600000, &u, err, n) != 0)
			return -1;
		if (u == 0) {
			snprintf(err, n, "%s: at least 1", key);
			return -1;
		}
		*dst = (unsigned)u;
	} else if (!strcmp(key, "max_restarts")) {
		if (ini_uint(val, 15, &u, err, n) != 0)
			return -1;
		c->max_restarts = (unsigned)u;
	} else if (!strcmp(key, "rate")) {
		if (ini_uint(val, 1000000, &u, err, n) != 0)
			return -1;
		c->rate = (unsigned)u;
	} else {
		snprintf(err, n, "unknown key \"%s\" in [inquiry]", key);
		return -1;
	}
	return 0;
}

static int copy_path(char *dst, size_t cap, const char *src, const char *key, char *err, size_t n)
{
	if (strlen(src) >= cap) {
		snprintf(err, n, "[fleet] %s: longer than %zu bytes", key, cap - 1);
		return -1;
	}
	snprintf(dst, cap, "%s", src);
	return 0;
}

int inq_conf_finish(struct inq_conf *c, char *err, size_t n)
{
	const struct fleet_conf *f = &c->fleet;
	c->lab_plain = f->lab_plain;
	if (c->lab_plain) {
		c->fleet_ca[0] = c->fleet_cert[0] = c->fleet_key[0] = c->fleet_crl[0] = 0;
		c->fleet_sign_cert[0] = c->fleet_sign_key[0] = 0;
		return 0;
	}
	if (copy_path(c->fleet_ca, sizeof(c->fleet_ca), f->ca, "ca", err, n) ||
	    copy_path(c->fleet_cert, sizeof(c->fleet_cert), f->cert, "cert", err, n) ||
	    copy_path(c->fleet_key, sizeof(c->fleet_key), f->key, "key", err, n) ||
	    copy_path(c->fleet_sign_cert, sizeof(c->fleet_sign_cert), f->sign_cert, "sign_cert", err, n) ||
	    copy_path(c->fleet_sign_key, sizeof(c->fleet_sign_key), f->sign_key, "sign_key", err, n) ||
	    copy_path(c->fleet_crl, sizeof(c->fleet_crl), f->crl, "crl", err, n))
		return -1;
	if (c->fleet_crl[0] && access(c->fleet_crl, F_OK) != 0)
		c->fleet_crl[0] = 0; /* optional: no file, no revocations (-n says so) */
	return 0;
}

/* The [fleet] files the service needs, readable: 0, or -1 with what is missing */
int inq_fleet_ready(const struct inq_conf *c, char *err, size_t n)
{
	if (c->lab_plain)
		return 0;
	const char *files[] = {c->fleet_ca, c->fleet_cert, c->fleet_key, c->fleet_sign_cert,
			       c->fleet_sign_key, c->fleet_crl};
	const char *names[] = {"ca", "cert", "key", "sign_cert", "sign_key", "crl"};
	for (int i = 0; i < 6; i++)
		if (files[i][0] && access(files[i], R_OK) != 0) {
			snprintf(err, n, "[fleet] %s %s: %s", names[i], files[i], strerror(errno));
			return -1;
		}
	return 0;
}

int inq_wants_follow(const char *answer)
{
	/* the answer is cJSON's unformatted print: the member is written so */
	return answer && strstr(answer, "\"reason\":\"" HT_LEAF_NOT_FOLLOWED "\"") != NULL;
}

int inq_nonce_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 23)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* ---- requests ----------------------------------------------------------------- */

char *inq_error_json(const char *msg)
{
	cJSON *a = cJSON_CreateObject();
	if (!a)
		return NULL;
	cJSON_AddBoolToObject(a, "ok", 0);
	cJSON_AddStringToObject(a, "error", msg);
	cJSON_AddNumberToObject(a, "v", INQ_VERSION);
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

static int int_field(const cJSON *j, const char *k, long lo, long hi, long *out)
{
	const cJSON *v = cJSON_GetObjectItem(j, k);
	if (!v) {
		*out = -1;
		return 0;
	}
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi ||
	    v->valuedouble != (double)(long)v->valuedouble)
		return -1;
	*out = (long)v->valuedouble;
	return 0;
}

static int endpoint_field(const cJSON *j, const char *k, char *out, struct ht_endpoint *ep)
{
	const cJSON *v = cJSON_GetObjectItem(j, k);
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= INQ_EP_MAX ||
	    ht_endpoint_parse(v->valuestring, ep) != 0 || ep->port == 0)
		return -1;
	ht_endpoint_format(ep, out, INQ_EP_MAX);
	return 0;
}

int inq_parse_request(const char *body, size_t len, struct inq_req *r, char *err, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->depth = -1;
	r->deadline_ms = -1;
	if (!body || len == 0) {
		snprintf(err, n, "empty body: expected {\"local\":…,\"remote\":…}");
		return -1;
	}
	if (len > INQ_BODY_MAX) {
		snprintf(err, n, "request body larger than 64 KiB");
		return -1;
	}
	cJSON *j = cJSON_ParseWithLength(body, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		snprintf(err, n, "malformed JSON: expected an object");
		return -1;
	}
	struct ht_endpoint l, rm;
	long v;
	const cJSON *f, *vis;
	if (endpoint_field(j, "local", r->local, &l) != 0) {
		snprintf(err, n, "bad or missing \"local\" endpoint (ip:port)");
		goto bad;
	}
	if (endpoint_field(j, "remote", r->remote, &rm) != 0) {
		snprintf(err, n, "bad or missing \"remote\" endpoint (ip:port)");
		goto bad;
	}
	if (l.family != rm.family) {
		snprintf(err, n, "\"local\" and \"remote\" are of different address families");
		goto bad;
	}
	if (int_field(j, "depth", 0, 64, &v) != 0) {
		snprintf(err, n, "bad \"depth\": an integer 0..64");
		goto bad;
	}
	r->depth = (int)v;
	if (int_field(j, "deadline_ms", 1, 60000, &v) != 0) {
		snprintf(err, n, "bad \"deadline_ms\": an integer 1..60000");
		goto bad;
	}
	r->deadline_ms = v;
	/* (issue 12) the asker's word, clamped by the answering host to its window */
	if (int_field(j, "age_ms", 0, 86400000, &v) != 0) {
		snprintf(err, n, "bad \"age_ms\": an integer 0..86400000");
		goto bad;
	}
	r->age_ms = v < 0 ? 0 : v;
	if (int_field(j, "v", 1, 1000, &v) != 0) {
		snprintf(err, n, "bad \"v\": an integer 1..1000");
		goto bad;
	}
	r->v = v < 0 ? 1 : (int)v;
	f = cJSON_GetObjectItem(j, "have");
	if (f) {
		if (!cJSON_IsString(f) || !part_have_ok(f->valuestring)) {
			snprintf(err, n, "bad \"have\": at most %d certificate ids of %d base64url characters, concatenated",
				 PART_HAVE_N, PART_HAVE_ID);
			goto bad;
		}
		snprintf(r->have, sizeof(r->have), "%s", f->valuestring);
	}
	f = cJSON_GetObjectItem(j, "format");
	if (f) {
		if (!cJSON_IsString(f) || (strcmp(f->valuestring, "native") && strcmp(f->valuestring, "paper"))) {
			snprintf(err, n, "bad \"format\": \"native\" or \"paper\"");
			goto bad;
		}
		r->paper = !strcmp(f->valuestring, "paper");
	}
	f = cJSON_GetObjectItem(j, "nonce");
	if (f) {
		if (!cJSON_IsString(f) || !inq_nonce_ok(f->valuestring)) {
			snprintf(err, n, "bad \"nonce\": 1..23 base64url characters");
			goto bad;
		}
		snprintf(r->nonce, sizeof(r->nonce), "%s", f->valuestring);
	}
	vis = cJSON_GetObjectItem(j, "visited");
	r->visited = cJSON_CreateArray();
	if (!r->visited) {
		snprintf(err, n, "out of memory");
		goto bad;
	}
	if (vis) {
		const cJSON *e;
		int k = 0;
		if (!cJSON_IsArray(vis) || cJSON_GetArraySize(vis) > INQ_VISITED_MAX) {
			snprintf(err, n, "bad \"visited\": an array of at most %d strings", INQ_VISITED_MAX);
			goto bad;
		}
		cJSON_ArrayForEach(e, vis)
		{
			if (!cJSON_IsString(e) || strlen(e->valuestring) >= 2 * INQ_EP_MAX + 2) {
				snprintf(err, n, "bad \"visited\" entry %d: a string \"ip:port-ip:port\"", k);
				goto bad;
			}
			cJSON_AddItemToArray(r->visited, cJSON_CreateString(e->valuestring));
			k++;
		}
	}
	cJSON_Delete(j);
	return 0;
bad:
	cJSON_Delete(j);
	cJSON_Delete(r->visited);
	r->visited = NULL;
	return -1;
}

void inq_req_free(struct inq_req *r)
{
	cJSON_Delete(r->visited);
	r->visited = NULL;
}

int inq_canon(const char *a, const char *b, char *out, size_t n)
{
	struct ht_endpoint ea, eb;
	char sa[HT_ENDPOINT_STRLEN], sb[HT_ENDPOINT_STRLEN];
	if (!a || !b || ht_endpoint_parse(a, &ea) != 0 || ht_endpoint_parse(b, &eb) != 0)
		return -1;
	ht_endpoint_format(&ea, sa, sizeof(sa));
	ht_endpoint_format(&eb, sb, sizeof(sb));
	int c = strcmp(sa, sb);
	if ((size_t)snprintf(out, n, "%s-%s", c <= 0 ? sa : sb, c <= 0 ? sb : sa) >= n)
		return -1;
	return 0;
}

int inq_visited_has(const cJSON *visited, const char *canon)
{
	const cJSON *e;
	cJSON_ArrayForEach(e, visited)
	{
		if (cJSON_IsString(e) && !strcmp(e->valuestring, canon))
			return 1;
	}
	return 0;
}

/* ---- answers ------------------------------------------------------------------ */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void leaves(cJSON *node, cJSON **out, size_t max, size_t *k, int depth)
{
	const char *type = jstr(node, "type");
	if (!type || depth > 200 || *k >= max)
		return;
	if (!strcmp(type, "conn")) {
		const cJSON *up = cJSON_GetObjectItem(node, "upstream");
		const char *reason = jstr(node, "reason");
		if ((!up || cJSON_IsNull(up)) && reason && !strcmp(reason, HT_LEAF_NOT_FOLLOWED))
			out[(*k)++] = node;
		return;
	}
	if (strcmp(type, "proc") != 0)
		return;
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(node, "sources"))
		leaves(cJSON_GetObjectItem(s, "node"), out, max, k, depth + 1);
}

size_t inq_leaves(cJSON *answer, cJSON **out, size_t max)
{
	size_t k = 0;
	leaves(cJSON_GetObjectItem(answer, "tree"), out, max, &k, 0);
	return k;
}

static void set_item(cJSON *o, const char *k, cJSON *v)
{
	if (cJSON_GetObjectItem(o, k))
		cJSON_ReplaceItemInObject(o, k, v);
	else
		cJSON_AddItemToObject(o, k, v);
}

void inq_fill(cJSON *conn, cJSON *up, int complete, const char *reason)
{
	set_item(conn, "upstream", up ? up : cJSON_CreateNull());
	set_item(conn, "complete", cJSON_CreateBool(complete));
	if (reason)
		set_item(conn, "reason", cJSON_CreateString(reason));
	else
		cJSON_DeleteItemFromObject(conn, "reason");
}

int inq_answer_valid(const cJSON *a)
{
	if (!cJSON_IsObject(a) || !cJSON_IsTrue(cJSON_GetObjectItem(a, "ok")))
		return -1;
	if (!cJSON_IsObject(cJSON_GetObjectItem(a, "tree")) ||
	    !cJSON_IsArray(cJSON_GetObjectItem(a, "chains")))
		return -1;
	return 0;
}

int inq_answer_complete(const cJSON *a)
{
	const cJSON *c;
	int any = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(a, "chains"))
	{
		any = 1;
		if (!cJSON_IsTrue(cJSON_GetObjectItem(c, "complete")))
			return 0;
	}
	return any;
}


/* ---- the paper's format ---------------------------------------------------------- */

static void add_ip(cJSON *trace, const char *ep_s)
{
	struct ht_endpoint ep;
	char b[HT_ENDPOINT_STRLEN];
	if (!ep_s || ht_endpoint_parse(ep_s, &ep) != 0)
		return;
	ht_endpoint_format(&ep, b, sizeof(b));
	char *colon = strrchr(b, ':');
	if (colon)
		*colon = 0;
	const char *addr = b;
	if (b[0] == '[') {
		addr = b + 1;
		size_t l = strlen(b);
		if (l > 1 && b[l - 1] == ']')
			b[l - 1] = 0;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "ip");
	cJSON_AddStringToObject(o, "ipaddr", addr);
	cJSON_AddNumberToObject(o, "port", ep.port);
	cJSON_AddItemToArray(trace, o);
}

static void add_ps(cJSON *trace, const cJSON *n)
{
	const cJSON *pid = cJSON_GetObjectItem(n, "pid");
	const char *exe = jstr(n, "exe"), *sha = jstr(n, "sha256");
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "ps");
	cJSON_AddNumberToObject(o, "pid", cJSON_IsNumber(pid) ? pid->valuedouble : 0);
	cJSON_AddStringToObject(o, "name", exe ? exe : "");
	cJSON_AddStringToObject(o, "sha1sum", sha ? sha : ""); /* SHA-256: docs/inquiry.md */
	cJSON_AddItemToArray(trace, o);
}

/* every conn leaf's upstream answer, in the paper's form, into prev */
static void prev_of(const cJSON *node, cJSON *prev, int depth)
{
	const char *type = jstr(node, "type");
	if (!type || depth > 200)
		return;
	if (!strcmp(type, "conn")) {
		const cJSON *up = cJSON_GetObjectItem(node, "upstream");
		if (cJSON_IsObject(up)) {
			cJSON *p = inq_to_paper(up);
			if (p)
				cJSON_AddItemToArray(prev, p);
		}
		return;
	}
	const cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(node, "sources"))
		prev_of(cJSON_GetObjectItem(s, "node"), prev, depth + 1);
}

cJSON *inq_to_paper(const cJSON *native)
{
	static __thread int nest;
	if (!cJSON_IsObject(native) || nest > 64)
		return NULL;
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON *trace = cJSON_AddArrayToObject(o, "trace");
	cJSON *prev = cJSON_AddArrayToObject(o, "prev");
	const char *host = jstr(native, "host");
	cJSON_AddStringToObject(o, "hostname", host ? host : "");

	/* the first path from the subject down to a leaf */
	const cJSON *path[200];
	size_t np = 0;
	const cJSON *n = cJSON_GetObjectItem(native, "tree"), *leaf = NULL;
	while (n && np < sizeof(path) / sizeof(path[0])) {
		const char *type = jstr(n, "type");
		if (!type)
			break;
		if (strcmp(type, "proc") != 0) {
			leaf = n;
			break;
		}
		path[np++] = n;
		const cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(n, "sources"), 0);
		n = s ? cJSON_GetObjectItem(s, "node") : NULL;
	}
	const char *lt = leaf ? jstr(leaf, "type") : NULL;
	if (lt && !strcmp(lt, "conn")) { /* the far end, then ours: in direction */
		add_ip(trace, jstr(leaf, "remote"));
		add_ip(trace, jstr(leaf, "local"));
	}
	for (size_t i = np; i-- > 0;)
		add_ps(trace, path[i]);
	const cJSON *subj = cJSON_GetObjectItem(native, "subject");
	if (jstr(subj, "local") && jstr(subj, "remote")) {
		add_ip(trace, jstr(subj, "local"));
		add_ip(trace, jstr(subj, "remote"));
	}
	nest++;
	prev_of(cJSON_GetObjectItem(native, "tree"), prev, 0);
	nest--;
	return o;
}

void inq_refused_reason(long status, const char *body, size_t n, char *out, size_t on)
{
	snprintf(out, on, "refused: %ld", status);
	if (status != 404)
		return;
	cJSON *a = body && n ? cJSON_ParseWithLength(body, n) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, "v");
	const char *e = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "error"));
	if (cJSON_IsNumber(v) && v->valuedouble >= 2 && e && e[0]) {
		/* (the judge keeps a reason of <= 128 printable bytes) */
		char t[100];
		size_t k = 0;
		for (; e[k] && k < sizeof(t) - 1; k++)
			t[k] = (unsigned char)e[k] >= 0x20 && e[k] != 0x7f ? e[k] : '?';
		t[k] = 0;
		snprintf(out, on, "refused: 404: %s", t);
	} else {
		snprintf(out, on, "refused: 404 (far host: inquiry v1, no history of closed connections)");
	}
	cJSON_Delete(a);
}
