/*
 * judge.c — the judge's input and its judgement (judge.h), pure: the framed reader
 * (every length bounded before an allocation), the JD_REQ parser, and judge_run, which
 * fills the monitor's own answer from the child's text and checks every upstream part.
 * Unit-tested (tests/unit/judge_test.c) and fuzzed (tests/fuzz/fuzz_judge.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/chain.h"
#include "hoptrace/query.h"
#include "chain.h"
#include "inquiry.h"
#include "judge.h"
#include "parts.h"

static size_t max_len(int to_judge, uint32_t type)
{
	if (to_judge)
		return type == JD_REQ ? JD_REQ_MAX : type == JD_PING ? 0 : (size_t)-1;
	return type == JD_VERDICT || type == JD_VERDICT_RETRY ? JD_VERDICT_MAX
	       : type == JD_HAVE			      ? PART_HAVE_CHARS
	       : type == JD_PONG			      ? 0
							      : (size_t)-1;
}

int jd_feed(struct jd_reader *r, const unsigned char *p, size_t n, size_t *used, char *why,
	    size_t wn)
{
	size_t u = 0;
	*used = 0;
	if (r->have) {
		snprintf(why, wn, "a frame not taken");
		return -1;
	}
	if (r->hgot < sizeof(r->h)) {
		size_t k = sizeof(r->h) - r->hgot;
		if (k > n)
			k = n;
		memcpy((unsigned char *)&r->h + r->hgot, p, k);
		r->hgot += k;
		u += k;
		if (r->hgot < sizeof(r->h)) {
			*used = u;
			return 0;
		}
		size_t mx = max_len(r->to_judge, r->h.type);
		if (r->h.magic != JD_MAGIC || r->h.pad != 0) {
			snprintf(why, wn, "bad magic");
			return -1;
		}
		if (mx == (size_t)-1) {
			snprintf(why, wn, "frame type %u", r->h.type);
			return -1;
		}
		if (r->h.len > mx) {
			snprintf(why, wn, "frame of %u bytes over %zu", r->h.len, mx);
			return -1;
		}
		r->buf = malloc((size_t)r->h.len + 1);
		if (!r->buf) {
			snprintf(why, wn, "out of memory");
			return -1;
		}
		r->got = 0;
	}
	size_t k = r->h.len - r->got;
	if (k > n - u)
		k = n - u;
	memcpy(r->buf + r->got, p + u, k);
	r->got += k;
	u += k;
	*used = u;
	if (r->got < r->h.len)
		return 0;
	r->buf[r->h.len] = 0;
	r->have = 1;
	return 1;
}

void jd_take(struct jd_reader *r)
{
	free(r->buf);
	r->buf = NULL;
	r->hgot = r->got = 0;
	r->have = 0;
}

void jd_reader_free(struct jd_reader *r)
{
	jd_take(r);
}

int jd_parse_req(const unsigned char *p, size_t len, struct jd_req_view *v, char *why, size_t wn)
{
	struct jd_req q;
	memset(v, 0, sizeof(*v));
	if (len < sizeof(q)) {
		snprintf(why, wn, "request of %zu bytes", len);
		return -1;
	}
	memcpy(&q, p, sizeof(q));
	if (!memchr(q.nonce, 0, sizeof(q.nonce)) || (q.nonce[0] && !inq_nonce_ok(q.nonce))) {
		snprintf(why, wn, "bad nonce");
		return -1;
	}
	if (q.own_len == 0 || q.own_len > PS_TEXT_MAX || q.up_len > PS_TEXT_MAX ||
	    (size_t)q.own_len + q.up_len != len - sizeof(q)) {
		snprintf(why, wn, "lengths %u + %u in %zu bytes", q.own_len, q.up_len, len);
		return -1;
	}
	v->own = (const char *)p + sizeof(q);
	v->own_len = q.own_len;
	v->up = v->own + q.own_len;
	v->up_len = q.up_len;
	if (memchr(v->own, 0, v->own_len) || memchr(v->up, 0, v->up_len)) {
		snprintf(why, wn, "NUL inside a text");
		return -1;
	}
	memcpy(v->nonce, q.nonce, sizeof(v->nonce));
	return 0;
}

unsigned char *jd_frame(uint32_t type, uint64_t id, const void *a, size_t alen, const void *b,
			size_t blen, size_t *n)
{
	struct jd_hdr h = {JD_MAGIC, type, id, (uint32_t)(alen + blen), 0};
	unsigned char *f = malloc(sizeof(h) + alen + blen);
	if (!f)
		return NULL;
	memcpy(f, &h, sizeof(h));
	if (alen)
		memcpy(f + sizeof(h), a, alen);
	if (blen)
		memcpy(f + sizeof(h) + alen, b, blen);
	*n = sizeof(h) + alen + blen;
	return f;
}

/* ---- the judgement -------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* the same endpoint once parsed (ht_endpoint_parse zeroes the unused bytes and maps an
 * IPv4-mapped address to IPv4): what comparing their ht_endpoint_format forms says */
static int same_ep(const char *a, const char *b)
{
	struct ht_endpoint x, y;
	if (!a || !b || strlen(a) >= INQ_EP_MAX || strlen(b) >= INQ_EP_MAX ||
	    ht_endpoint_parse(a, &x) != 0 || ht_endpoint_parse(b, &y) != 0)
		return 0;
	return x.family == y.family && x.port == y.port && !memcmp(x.addr, y.addr, 16);
}

#define JUDGE_NODES_MAX 65536 /* nodes of the child's outer tree looked at */

/* the conn leaves of the child's outer tree (never below an upstream: that is the
 * far host's, checked by its part) */
static void child_leaves(cJSON *node, cJSON **out, size_t max, size_t *k, size_t *nodes, int depth)
{
	if (!cJSON_IsObject(node) || depth > 200 || ++*nodes > JUDGE_NODES_MAX)
		return;
	const char *type = jstr(node, "type");
	if (!type)
		return;
	if (!strcmp(type, "conn")) {
		if (*k < max)
			out[(*k)++] = node;
		return;
	}
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(node, "sources"))
		child_leaves(cJSON_GetObjectItem(s, "node"), out, max, k, nodes, depth + 1);
}

/* the child's reason for a leaf it did not fill: a short printable text, or "no answer" */
static void reason_of(const cJSON *c, char *out, size_t n)
{
	const char *r = jstr(c, "reason");
	size_t l = r ? strlen(r) : 0;
	int ok = l > 0 && l <= 128 && strcmp(r, HT_LEAF_NOT_FOLLOWED) != 0;
	for (size_t i = 0; ok && i < l; i++)
		ok = (unsigned char)r[i] >= 0x20 && r[i] != 0x7f;
	snprintf(out, n, "%s", ok ? r : "no answer");
}

char *judge_run(struct pki_trust *t, const char *nonce, const char *own, size_t own_len,
		const char *up, size_t up_len)
{
	return judge_run_ex(t, nonce, own, own_len, up, up_len, NULL);
}

char *judge_run_ex(struct pki_trust *t, const char *nonce, const char *own, size_t own_len,
		   const char *up, size_t up_len, int *missing)
{
	if (missing)
		*missing = 0;
	cJSON *a = cJSON_ParseWithLength(own, own_len);
	if (!cJSON_IsObject(a)) { /* the monitor's own text: cannot happen; said plainly */
		cJSON_Delete(a);
		return ht_qerr_answer(NULL, HT_QE_NO_MEMORY, NULL);
	}
	cJSON *lv[INQ_LEAVES_MAX];
	size_t n = inq_leaves(a, lv, INQ_LEAVES_MAX);
	cJSON *u = up_len ? cJSON_ParseWithLength(up, up_len) : NULL;
	/* cv: the child's leaves; their upstreams (taken[k]) are moved, not copied, onto
	 * the first of the monitor's leaves with the same ends — u is deleted after anyway;
	 * a second such leaf (one connection held by two processes) gets a copy. Invariant:
	 * taken[k] is NULL, TAKEN_BAD (moved and refused), or the object moved onto a leaf
	 * of a, untouched until the loop ends (parts_verify_answer runs after it). */
	static cJSON taken_bad;
#define TAKEN_BAD (&taken_bad)
	cJSON **cv = calloc(8 * INQ_LEAVES_MAX, sizeof(*cv));
	cJSON **taken = cv ? cv + 4 * INQ_LEAVES_MAX : NULL;
	size_t nc = 0, nodes = 0;
	if (cv && cJSON_IsObject(u))
		child_leaves(cJSON_GetObjectItem(u, "tree"), cv, 4 * INQ_LEAVES_MAX, &nc, &nodes, 0);
	for (size_t i = 0; i < n; i++) {
		const char *l = jstr(lv[i], "local"), *r = jstr(lv[i], "remote");
		cJSON *c = NULL;
		size_t k;
		for (k = 0; k < nc; k++)
			if (same_ep(jstr(cv[k], "local"), l) && same_ep(jstr(cv[k], "remote"), r)) {
				c = cv[k];
				break;
			}
		cJSON **tk = c ? &taken[k] : NULL;
		if (tk && *tk == TAKEN_BAD) {
			inq_fill(lv[i], NULL, 0, "no answer");
			continue;
		}
		cJSON *U = tk && !*tk ? cJSON_GetObjectItem(c, "upstream") : NULL;
		if (!(tk && *tk) && !cJSON_IsObject(U)) {
			char why[160];
			if (c)
				reason_of(c, why, sizeof(why));
			else
				snprintf(why, sizeof(why), "no answer");
			inq_fill(lv[i], NULL, 0, why);
			continue;
		}
		/* (tk set here: else U is NULL and the leaf was filled above) */
		cJSON *cp = *tk ? cJSON_Duplicate(*tk, 1) : cJSON_DetachItemViaPointer(c, U);
		if (!cp) {
			inq_fill(lv[i], NULL, 0, "no answer");
			continue;
		}
		int first = !*tk;
		if (first)
			*tk = cp;
		if (t) {
			/* parts_verify_answer replaces it by its verified form, or refuses it */
			inq_fill(lv[i], cp, 0, NULL);
		} else if (inq_answer_valid(cp) != 0) { /* lab_plain: believed as it is */
			cJSON_Delete(cp);
			if (first)
				*tk = TAKEN_BAD;
			inq_fill(lv[i], NULL, 0, "no answer");
		} else {
			int complete = inq_answer_complete(cp);
			inq_fill(lv[i], cp, complete, complete ? NULL : "upstream incomplete");
		}
	}
#undef TAKEN_BAD
	free(cv);
	cJSON_Delete(u);
	if (t)
		parts_verify_answer_ex(t, nonce ? nonce : "", a, missing); /* rebuilds the chains */
	else
		chain_reflatten(a);
	char *text = cJSON_PrintUnformatted(a);
	if (text && strlen(text) > JD_VERDICT_MAX) {
		/* too large to hand on: the monitor's answer, its leaves unfilled */
		free(text);
		cJSON_Delete(a);
		a = cJSON_ParseWithLength(own, own_len);
		n = a ? inq_leaves(a, lv, INQ_LEAVES_MAX) : 0;
		for (size_t i = 0; i < n; i++)
			inq_fill(lv[i], NULL, 0, "answer too large");
		chain_reflatten(a);
		text = a ? cJSON_PrintUnformatted(a) : NULL;
	}
	cJSON_Delete(a);
	return text ? text : ht_qerr_answer(NULL, HT_QE_NO_MEMORY, NULL);
}
