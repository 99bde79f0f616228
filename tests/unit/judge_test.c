/*
 * judge_test.c — the judge (collector/judge.c, review finding 1): its framed input
 * (every length and type checked, any split of the stream), the request parser, and
 * judge_run — the monitor's own answer filled from the child's text with the parts
 * checked (a test CA and h1's part-signing key, as parts_test makes them): a genuine
 * part is complete; an unsigned one, a wrong nonce, garbage, a truncated text, a leaf
 * the monitor did not hand out or an edited outer tree are not believed.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/chain.h"
#include "../../collector/chain.h"
#include "../../collector/inquiry.h"
#include "../../collector/judge.h"
#include "../../collector/parts.h"
#include "test.h"

static char dir[] = "/tmp/judge_test.XXXXXX";
static struct pki_signer *s_h1;
static struct pki_trust *trust;
static char nonce[PART_NONCE_B64 + 1];

static int fleet_up(void)
{
	char ca[256], c[300], k[300], err[256], *addrs[1] = {(char *)"10.0.0.1"};
	if (!mkdtemp(dir))
		return -1;
	snprintf(ca, sizeof(ca), "%s/ca", dir);
	if (pki_ca_init(ca, 3, err, sizeof(err)) != 0 ||
	    pki_issue(ca, "h1", addrs, 1, 2, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "    %s\n", err);
		return -1;
	}
	snprintf(c, sizeof(c), "%s/h1.sign.crt", ca);
	snprintf(k, sizeof(k), "%s/h1.sign.key", ca);
	s_h1 = pki_signer_load(c, k, err, sizeof(err));
	snprintf(c, sizeof(c), "%s/ca.crt", ca);
	trust = pki_trust_load(c, NULL, err, sizeof(err));
	return s_h1 && trust && part_nonce(nonce) == 0 ? 0 : -1;
}

static void fleet_down(void)
{
	char cmd[300];
	pki_signer_free(s_h1);
	pki_trust_free(trust);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "    could not remove %s\n", dir);
}

/* h1's ssh → h2's sshd → h2's ssh; the monitor of h2 is asked about the last one */
static const char H1[] =
	"{\"ok\":true,\"host\":\"h1\",\"subject\":{\"pid\":10,\"local\":\"10.0.0.1:51234\","
	"\"remote\":\"10.0.0.2:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h1\",\"pid\":10,"
	"\"exe\":\"/usr/bin/ssh\",\"sources\":[{\"via\":\"local\",\"node\":"
	"{\"type\":\"origin\",\"host\":\"h1\"}}]},\"chains\":[]}";
static const char OWN[] =
	"{\"ok\":true,\"host\":\"h2\",\"subject\":{\"pid\":30,\"local\":\"10.0.0.2:40000\","
	"\"remote\":\"10.0.0.3:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":30,"
	"\"exe\":\"/usr/bin/ssh\",\"sources\":[{\"via\":\"creator\",\"node\":"
	"{\"type\":\"proc\",\"host\":\"h2\",\"pid\":20,\"exe\":\"/usr/sbin/sshd\","
	"\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h2\",\"dir\":\"in\","
	"\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:51234\",\"upstream\":null,"
	"\"complete\":false,\"reason\":\"not followed\"}}]}}]},\"chains\":[]}";

/* h1's answer as it sends it: signed with nnc (NULL: unsigned) */
static cJSON *h1_answer(const char *nnc)
{
	cJSON *a = cJSON_Parse(H1);
	char err[160];
	if (nnc) {
		cJSON *sg = part_make_answer(s_h1, nnc, "10.0.0.1:51234", "10.0.0.2:22", a, err, sizeof(err));
		CHECK(sg != NULL);
		cJSON_AddItemToObject(a, "signed", sg);
	}
	chain_reflatten(a);
	return a;
}

static cJSON *conn_of(cJSON *a)
{
	cJSON *n = cJSON_GetObjectItem(a, "tree");
	while (n && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(n, "type")), "conn"))
		n = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(n, "sources"), 0), "node");
	return n;
}

/* the child's text: the own answer with up (owned; NULL: none) on its leaf */
static char *child_text(cJSON *up, const char *reason)
{
	cJSON *a = cJSON_Parse(OWN);
	cJSON *l = conn_of(a);
	inq_fill(l, up, up ? inq_answer_complete(up) : 0, reason);
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

/* judge_run with trust, the verdict parsed */
static cJSON *judge(struct pki_trust *t, const char *nnc, const char *up)
{
	char *v = judge_run(t, nnc, OWN, strlen(OWN), up, strlen(up));
	cJSON *a = v ? cJSON_Parse(v) : NULL;
	CHECK(a != NULL);
	free(v);
	return a;
}

static const char *reason(cJSON *a)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(conn_of(a), "reason"));
}

static int complete_from_h1(cJSON *a)
{
	const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "chains"), 0);
	const char *o = cJSON_GetStringValue(cJSON_GetObjectItem(c, "origin_host"));
	return inq_answer_complete(a) && o && !strcmp(o, "h1");
}

/* ---- the framed input ------------------------------------------------------------- */

static unsigned char *req_frame(const char *nnc, const char *own, const char *up, size_t *n)
{
	struct jd_req q;
	memset(&q, 0, sizeof(q));
	snprintf(q.nonce, sizeof(q.nonce), "%s", nnc);
	q.own_len = (uint32_t)strlen(own);
	q.up_len = (uint32_t)strlen(up);
	size_t tl = strlen(own) + strlen(up);
	char *t = malloc(tl + 1);
	snprintf(t, tl + 1, "%s%s", own, up);
	unsigned char *f = jd_frame(JD_REQ, 7, &q, sizeof(q), t, tl, n);
	free(t);
	return f;
}

static void frames_split(void)
{
	size_t n;
	unsigned char *f = req_frame(nonce, "{\"own\":1}", "{\"up\":2}", &n);
	for (size_t step = 1; step <= n; step += step < 8 ? 1 : 13) {
		struct jd_reader r = {.to_judge = 1};
		char why[160];
		int got = 0;
		for (size_t off = 0; off < n;) {
			size_t k = n - off < step ? n - off : step, used;
			int rv = jd_feed(&r, f + off, k, &used, why, sizeof(why));
			CHECK(rv >= 0);
			if (rv < 0)
				break;
			off += used;
			if (rv == 1) {
				got++;
				struct jd_req_view v;
				CHECK_EQ_INT(r.h.id, 7);
				CHECK_EQ_INT(jd_parse_req(r.buf, r.h.len, &v, why, sizeof(why)), 0);
				CHECK_EQ_STR(v.nonce, nonce);
				CHECK(v.own_len == 9 && !memcmp(v.own, "{\"own\":1}", 9));
				CHECK(v.up_len == 8 && !memcmp(v.up, "{\"up\":2}", 8));
				jd_take(&r);
			}
		}
		CHECK_EQ_INT(got, 1);
		jd_reader_free(&r);
	}
	free(f);
}

static int feed_all(int to_judge, const void *p, size_t n)
{
	struct jd_reader r = {.to_judge = to_judge};
	char why[160];
	size_t used;
	int rv = jd_feed(&r, p, n, &used, why, sizeof(why));
	jd_reader_free(&r);
	return rv;
}

static void frames_refused(void)
{
	struct jd_hdr h = {JD_MAGIC, JD_REQ, 1, (uint32_t)JD_REQ_MAX + 1, 0};
	CHECK_EQ_INT(feed_all(1, &h, sizeof(h)), -1); /* over the bound, before any allocation */
	h.len = 10;
	h.magic = 0x41414141;
	CHECK_EQ_INT(feed_all(1, &h, sizeof(h)), -1);
	h.magic = JD_MAGIC;
	h.type = JD_VERDICT; /* the monitor's type, sent to the judge */
	CHECK_EQ_INT(feed_all(1, &h, sizeof(h)), -1);
	h.type = JD_PING;
	CHECK_EQ_INT(feed_all(1, &h, sizeof(h)), -1); /* a ping carries nothing */
	h.len = 0;
	CHECK_EQ_INT(feed_all(1, &h, sizeof(h)), 1);
	h.type = JD_VERDICT;
	h.len = (uint32_t)JD_VERDICT_MAX + 1;
	CHECK_EQ_INT(feed_all(0, &h, sizeof(h)), -1);
	h.type = JD_REQ;
	h.len = 4;
	CHECK_EQ_INT(feed_all(0, &h, sizeof(h)), -1); /* a request, sent to the monitor */
	h.type = JD_PONG;
	h.len = 0;
	h.pad = 1;
	CHECK_EQ_INT(feed_all(0, &h, sizeof(h)), -1);
}

static void req_refused(void)
{
	struct jd_req_view v;
	char why[160];
	unsigned char b[sizeof(struct jd_req) + 16] = {0};
	struct jd_req q;
	memset(&q, 0, sizeof(q));
	CHECK_EQ_INT(jd_parse_req(b, sizeof(q) - 1, &v, why, sizeof(why)), -1);
	q.own_len = 4;
	q.up_len = 4;
	memcpy(b, &q, sizeof(q));
	memcpy(b + sizeof(q), "{}{}{}{}", 8);
	CHECK_EQ_INT(jd_parse_req(b, sizeof(q) + 8, &v, why, sizeof(why)), 0);
	CHECK_EQ_INT(jd_parse_req(b, sizeof(q) + 7, &v, why, sizeof(why)), -1); /* lengths */
	b[sizeof(q) + 5] = 0;
	CHECK_EQ_INT(jd_parse_req(b, sizeof(q) + 8, &v, why, sizeof(why)), -1); /* NUL */
	b[sizeof(q) + 5] = '}';
	memset(q.nonce, 'A', sizeof(q.nonce)); /* no NUL inside */
	memcpy(b, &q, sizeof(q));
	CHECK_EQ_INT(jd_parse_req(b, sizeof(q) + 8, &v, why, sizeof(why)), -1);
	snprintf(q.nonce, sizeof(q.nonce), "a+b");
	memcpy(b, &q, sizeof(q));
	CHECK_EQ_INT(jd_parse_req(b, sizeof(q) + 8, &v, why, sizeof(why)), -1);
	memset(&q, 0, sizeof(q));
	q.own_len = 0;
	q.up_len = 8;
	memcpy(b, &q, sizeof(q));
	CHECK_EQ_INT(jd_parse_req(b, sizeof(q) + 8, &v, why, sizeof(why)), -1); /* no own answer */
}

/* ---- the judgement ---------------------------------------------------------------- */

static void genuine(void)
{
	char *up = child_text(h1_answer(nonce), NULL);
	cJSON *a = judge(trust, nonce, up);
	CHECK(complete_from_h1(a));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(conn_of(a), "upstream"), "signed")));
	cJSON_Delete(a);
	free(up);
}

static void unsigned_up(void)
{
	char *up = child_text(h1_answer(NULL), NULL);
	cJSON *a = judge(trust, nonce, up);
	CHECK(!inq_answer_complete(a));
	CHECK_EQ_STR(reason(a), "unsigned answer");
	cJSON_Delete(a);
	free(up);
}

static void wrong_nonce(void)
{
	char other[PART_NONCE_B64 + 1];
	CHECK_EQ_INT(part_nonce(other), 0);
	char *up = child_text(h1_answer(other), NULL); /* a replay, or the child's own nonce */
	cJSON *a = judge(trust, nonce, up);
	CHECK(!inq_answer_complete(a));
	CHECK_EQ_STR(reason(a), "forged part: nonce");
	cJSON_Delete(a);
	free(up);
}

static void garbage_and_truncated(void)
{
	char *up = child_text(h1_answer(nonce), NULL);
	const char *bad[] = {"", "garbage", "[1,2,3]", "{\"tree\":7}", NULL};
	for (int i = 0; bad[i]; i++) {
		cJSON *a = judge(trust, nonce, bad[i]);
		CHECK(!inq_answer_complete(a));
		CHECK_EQ_STR(reason(a), "no answer");
		cJSON_Delete(a);
	}
	up[strlen(up) / 2] = 0;
	cJSON *a = judge(trust, nonce, up);
	CHECK(!inq_answer_complete(a));
	CHECK_EQ_STR(reason(a), "no answer");
	cJSON_Delete(a);
	free(up);
}

static void reasons(void)
{
	char *up = child_text(NULL, "peer not in fleet");
	cJSON *a = judge(trust, nonce, up);
	CHECK_EQ_STR(reason(a), "peer not in fleet");
	cJSON_Delete(a);
	free(up);
	up = child_text(NULL, HT_LEAF_NOT_FOLLOWED); /* never left "not followed" */
	a = judge(trust, nonce, up);
	CHECK_EQ_STR(reason(a), "no answer");
	cJSON_Delete(a);
	free(up);
}

/* the child's outer tree is never read: another exe there, a leaf the monitor did not
 * hand out with a genuine part, a leaf moved */
static void outer_ignored(void)
{
	cJSON *c = cJSON_Parse(OWN);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(c, "tree"), "exe", cJSON_CreateString("/usr/bin/innocent"));
	cJSON *l = conn_of(c);
	cJSON_ReplaceItemInObject(l, "remote", cJSON_CreateString("10.0.0.1:51235"));
	inq_fill(l, h1_answer(nonce), 1, NULL);
	char *up = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	cJSON *a = judge(trust, nonce, up);
	CHECK(!inq_answer_complete(a));
	CHECK_EQ_STR(reason(a), "no answer");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "tree"), "exe")), "/usr/bin/ssh");
	cJSON_Delete(a);
	free(up);
}

/* lab_plain (no trust): the child's upstream believed as it is (nothing is signed) */
static void lab_plain(void)
{
	char *up = child_text(h1_answer(NULL), NULL);
	cJSON *a = judge(NULL, "", up);
	CHECK(complete_from_h1(a));
	cJSON_Delete(a);
	free(up);
}

/* one connection held by two processes: the monitor's tree has two leaves with the same
 * ends, the child's text one upstream answer; each leaf gets its own verified copy
 * (judge_run moves the child's upstream onto the first, copies it for the second) —
 * signed and lab_plain */
static void same_conn_twice(void)
{
	cJSON *own = cJSON_Parse(OWN);
	cJSON *srcs = cJSON_GetObjectItem(cJSON_GetObjectItem(own, "tree"), "sources");
	cJSON *again = cJSON_Duplicate(cJSON_GetArrayItem(srcs, 0), 1);
	cJSON_SetNumberHelper(cJSON_GetObjectItem(cJSON_GetObjectItem(again, "node"), "pid"), 21);
	cJSON_AddItemToArray(srcs, again);
	char *own2 = cJSON_PrintUnformatted(own);
	cJSON_Delete(own);
	for (int signed_ = 1; signed_ >= 0; signed_--) {
		char *up = child_text(h1_answer(signed_ ? nonce : NULL), NULL);
		char *v = judge_run(signed_ ? trust : NULL, signed_ ? nonce : "", own2, strlen(own2), up,
				    strlen(up));
		cJSON *a = v ? cJSON_Parse(v) : NULL;
		CHECK(a != NULL);
		cJSON *vs = cJSON_GetObjectItem(cJSON_GetObjectItem(a, "tree"), "sources");
		CHECK_EQ_INT(cJSON_GetArraySize(vs), 2);
		for (int i = 0; i < 2; i++) {
			cJSON *n = cJSON_GetObjectItem(cJSON_GetArrayItem(vs, i), "node");
			cJSON *l = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(n, "sources"), 0),
						       "node");
			cJSON *u = cJSON_GetObjectItem(l, "upstream");
			CHECK(cJSON_IsTrue(cJSON_GetObjectItem(l, "complete")));
			CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(u, "host")), "h1");
		}
		CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "chains")), 2);
		CHECK(inq_answer_complete(a));
		cJSON_Delete(a);
		free(v);
		free(up);
	}
	free(own2);
}

static uint64_t ns_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* what one judgement of a 1-hop answer costs (the certificate cached): one line */
static void bench(void)
{
	char *up = child_text(h1_answer(nonce), NULL);
	uint64_t t[200];
	/* JUDGE_BENCH_N: more runs, for a profiler (perf record -g) */
	const char *ns = getenv("JUDGE_BENCH_N");
	long extra = ns ? atol(ns) : 0;
	for (long i = 0; i < extra; i++)
		free(judge_run(trust, nonce, OWN, strlen(OWN), up, strlen(up)));
	for (int i = 0; i < 200; i++) {
		uint64_t t0 = ns_now();
		char *v = judge_run(trust, nonce, OWN, strlen(OWN), up, strlen(up));
		t[i] = ns_now() - t0;
		free(v);
	}
	qsort(t, 200, sizeof(t[0]), cmp_u64);
	printf("bench judge: judge_run of a 1-hop answer p50 %.1f us (own %zu B, child's text %zu B)\n",
	       (double)t[100] / 1000.0, strlen(OWN), strlen(up));
	free(up);
}

int main(void)
{
	if (fleet_up() != 0) {
		fprintf(stderr, "cannot make the test fleet in %s\n", dir);
		fleet_down();
		return 1;
	}
	static const struct t_case cases[] = {
		T(frames_split), T(frames_refused), T(req_refused), T(genuine),
		T(unsigned_up),  T(wrong_nonce),    T(garbage_and_truncated),
		T(reasons),      T(outer_ignored),  T(lab_plain), T(same_conn_twice), T(bench),
	};
	int rv = t_run("judge", cases, sizeof(cases) / sizeof(cases[0]));
	fleet_down();
	return rv;
}
