/*
 * fuzz_qcodec.c — libFuzzer target for the query codec (common/query.c):
 * each input goes through every reader and writer, which must never crash
 * nor read beyond it, and
 *   - a request ht_qreq_parse() takes builds (ht_qreq_build) to text that
 *     parses back to the same struct, and is one JSON object cJSON reads;
 *   - a request it refuses gets a failed answer (ht_qerr_answer) whose head
 *     reads back as HT_QE_BAD_REQUEST with the request's id;
 *   - ht_qhead_parse() of an exact-size copy (ASan: not a byte beyond it)
 *     leaves terminated strings and a code in range, and agrees with cJSON
 *     on "ok" and "id" where both read the same member;
 *   - the input as a failed answer's detail reads back as that detail (cut),
 *     and as a too large answer (ht_qerr_cut) reads back as HT_QE_TOO_LARGE.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hoptrace/query.h"

#define CHECK(c)                 \
	do {                     \
		if (!(c))        \
			abort(); \
	} while (0)

static int same(const struct ht_qreq *a, const struct ht_qreq *b)
{
	return a->op == b->op && a->has_id == b->has_id && a->id == b->id &&
	       !strcmp(a->local, b->local) && !strcmp(a->remote, b->remote) && a->pid == b->pid &&
	       a->ino == b->ino && a->deadline_ms == b->deadline_ms && a->force == b->force;
}

static void requests(const char *d, size_t n)
{
	struct ht_qreq r, back;
	char detail[200], out[512];
	enum ht_qerr e = ht_qreq_parse(d, n, &r, detail, sizeof(detail));
	CHECK(e == HT_QE_OK || e == HT_QE_BAD_REQUEST);
	if (e == HT_QE_OK) {
		int k = ht_qreq_build(out, sizeof(out), &r);
		CHECK(k > 0 && (size_t)k == strlen(out));
		CHECK(ht_qreq_parse(out, (size_t)k, &back, detail, sizeof(detail)) == HT_QE_OK);
		CHECK(same(&r, &back));
		cJSON *j = cJSON_ParseWithLength(out, (size_t)k);
		CHECK(cJSON_IsObject(j));
		cJSON_Delete(j);
		return;
	}
	CHECK(detail[0]);
	char *a = ht_qerr_answer(&r, e, detail);
	CHECK(a);
	struct ht_qhead h;
	CHECK(ht_qhead_parse(a, strlen(a), &h) == HT_QE_OK);
	CHECK(h.code == HT_QE_BAD_REQUEST && !h.ok && h.has_ok);
	CHECK(h.has_id == r.has_id && (!r.has_id || h.id == r.id));
	cJSON *j = cJSON_Parse(a);
	CHECK(cJSON_IsObject(j));
	cJSON_Delete(j);
	free(a);
}

static void heads(const char *d, size_t n)
{
	struct ht_qhead h;
	char *c = malloc(n ? n : 1);
	if (!c)
		return;
	memcpy(c, d, n);
	enum ht_qerr e = ht_qhead_parse(c, n, &h);
	CHECK(e == HT_QE_OK || e == HT_QE_BAD_ANSWER);
	CHECK(memchr(h.text, 0, sizeof(h.text)) && memchr(h.host, 0, sizeof(h.host)));
	CHECK((unsigned)h.code < HT_QE_COUNT);
	if (e != HT_QE_OK) {
		CHECK(h.code == HT_QE_BAD_ANSWER);
	} else {
		CHECK(h.ok ? h.code == HT_QE_OK : h.code != HT_QE_OK);
		CHECK(!h.ok || h.has_ok);
		CHECK(!h.has_id || h.id <= HT_QID_MAX);
	}
	/* where both read the same member: no escapes (cJSON decodes keys), no
	 * NULs (cJSON's strings end there) */
	if (e == HT_QE_OK && !memchr(c, '\\', n) && !memchr(c, 0, n)) {
		cJSON *j = cJSON_ParseWithLength(c, n);
		if (cJSON_IsObject(j)) {
			const cJSON *ok = cJSON_GetObjectItemCaseSensitive(j, "ok");
			const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "id");
			if (h.has_ok)
				CHECK(cJSON_IsBool(ok) && cJSON_IsTrue(ok) == h.ok);
			if (h.has_id)
				CHECK(cJSON_IsNumber(id) && id->valuedouble == (double)h.id);
		}
		cJSON_Delete(j);
	}
	free(c);
}

static void answers(const char *d, size_t n)
{
	char out[2048];
	struct ht_qhead h;
	/* the input as a detail: cut at its first NUL, 255 bytes, the head's buffer */
	char det[300];
	size_t dl = n < sizeof(det) - 1 ? n : sizeof(det) - 1;
	memcpy(det, d, dl);
	det[dl] = 0;
	dl = strlen(det);
	uint64_t id = n >= 8 ? ((uint64_t)(unsigned char)d[0] << 8 | (unsigned char)d[1]) : 0;
	enum ht_qerr code = (enum ht_qerr)(n ? (unsigned char)d[n - 1] % (HT_QE_COUNT + 2) : 0);
	size_t k = ht_qerr_format(out, sizeof(out), n & 1, id, code, det);
	CHECK(k > 0 && k == strlen(out));
	CHECK(ht_qhead_parse(out, k, &h) == HT_QE_OK);
	enum ht_qerr want = code == HT_QE_OK || (unsigned)code >= HT_QE_COUNT ? HT_QE_OTHER : code;
	CHECK(h.code == want && !h.ok);
	CHECK(h.has_id == (int)(n & 1) && (!h.has_id || h.id == id));
	CHECK(h.pushed == (want == HT_QE_PUSHED));
	if (dl) {
		size_t cut = dl < 255 ? dl : 255;
		if (cut > sizeof(h.text) - 1)
			cut = sizeof(h.text) - 1;
		CHECK(strlen(h.text) == cut && !memcmp(h.text, det, cut));
	}
	/* the too large answer keeps the input's leading id */
	k = ht_qerr_cut(out, 96, d, n);
	CHECK(k > 0);
	CHECK(ht_qhead_parse(out, k, &h) == HT_QE_OK && h.code == HT_QE_TOO_LARGE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	requests(d, size);
	heads(d, size);
	answers(d, size);
	return 0;
}
