/*
 * query_test.c — the query codec (include/hoptrace/query.h, common/query.c):
 * requests built and parsed back for every op, the wire texts of bad
 * requests, hostile input (truncated JSON, huge and negative numbers,
 * duplicate members, NUL bytes, quotes and backslashes in endpoints, over-long
 * strings, nested junk), answer heads, failed answers and the cut answer.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hoptrace/query.h"
#include "../../collector/answer.h"
#include "../../collector/graph.h"
#include "../../guard/collq.h"
#include "test.h"

static enum ht_qerr P(const char *s, struct ht_qreq *r, char *d)
{
	return ht_qreq_parse(s, strlen(s), r, d, 200);
}

static int same(const struct ht_qreq *a, const struct ht_qreq *b)
{
	return a->op == b->op && a->has_id == b->has_id && a->id == b->id &&
	       !strcmp(a->local, b->local) && !strcmp(a->remote, b->remote) && a->pid == b->pid &&
	       a->ino == b->ino && a->deadline_ms == b->deadline_ms && a->force == b->force;
}

/* builds r, parses it back, compares; returns the text */
static const char *roundtrip(const struct ht_qreq *r)
{
	static char b[512];
	struct ht_qreq back;
	char d[200];
	int n = ht_qreq_build(b, sizeof(b), r);
	CHECK(n > 0);
	if (n <= 0)
		return "";
	CHECK_EQ_INT(strlen(b), n);
	CHECK_EQ_INT(ht_qreq_parse(b, (size_t)n, &back, d, sizeof(d)), HT_QE_OK);
	CHECK(same(r, &back));
	return b;
}

static void tables(void)
{
	for (int e = 0; e < HT_QE_COUNT; e++) {
		const char *n = ht_qerr_name((enum ht_qerr)e);
		CHECK(n && n[0]);
		CHECK(ht_qerr_text((enum ht_qerr)e)[0]);
		if (e != HT_QE_OK)
			CHECK_EQ_INT(ht_qerr_from_name(n, strlen(n)), e);
	}
	CHECK_EQ_STR(ht_qerr_name(HT_QE_COUNT), "other");
	CHECK_EQ_STR(ht_qerr_name((enum ht_qerr)-1), "other");
	CHECK_EQ_INT(ht_qerr_from_name("ok", 2), HT_QE_OTHER); /* "ok" is no failure's code */
	CHECK_EQ_INT(ht_qerr_from_name("too_larg", 8), HT_QE_OTHER);
	CHECK_EQ_INT(ht_qerr_from_name("too_large_", 10), HT_QE_OTHER);
	CHECK_EQ_INT(ht_qerr_from_name(NULL, 0), HT_QE_OTHER);
	CHECK(ht_qerr_incomplete(HT_QE_TOO_LARGE));
	CHECK(ht_qerr_incomplete(HT_QE_TOO_MANY_CHAINS));
	CHECK(!ht_qerr_incomplete(HT_QE_NO_CONN));
	CHECK(!ht_qerr_incomplete(HT_QE_COUNT));
	/* the wire texts of old */
	CHECK_EQ_STR(ht_qerr_text(HT_QE_TOO_LARGE), "answer too large");
	CHECK_EQ_STR(ht_qerr_text(HT_QE_NO_CONN), "no such TCP connection on this host");
	CHECK_EQ_STR(ht_qerr_text(HT_QE_NO_HOLDER), "no process holds that connection's socket");
	CHECK_EQ_STR(ht_qerr_text(HT_QE_PUSHED), "pushed");
	CHECK_EQ_STR(ht_qerr_text(HT_QE_DENIED), "permission denied: root only");
	CHECK_EQ_STR(ht_qerr_text(HT_QE_SUBSCRIBERS), "too many subscribers");
	for (int o = 1; o < HT_QOP_COUNT; o++) {
		const char *n = ht_qop_name((enum ht_qop)o);
		CHECK_EQ_INT(ht_qop_from_name(n, strlen(n)), o);
	}
	CHECK_EQ_STR(ht_qop_name(HT_QOP_NONE), "");
	CHECK_EQ_STR(ht_qop_name(HT_QOP_COUNT), "");
	CHECK_EQ_INT(ht_qop_from_name("WHO", 3), HT_QOP_NONE);
	CHECK_EQ_INT(ht_qop_from_name("", 0), HT_QOP_NONE);
}

static void build_every_op(void)
{
	struct ht_qreq r = {.op = HT_QOP_WHO, .has_id = 1, .id = 7, .local = "10.0.0.2:40312",
			    .remote = "10.0.0.3:22", .deadline_ms = 1000};
	CHECK_EQ_STR(roundtrip(&r), "{\"op\":\"who\",\"id\":7,\"local\":\"10.0.0.2:40312\","
				    "\"remote\":\"10.0.0.3:22\",\"deadline_ms\":1000}");
	r.force = 1;
	CHECK_EQ_STR(roundtrip(&r), "{\"op\":\"who\",\"id\":7,\"local\":\"10.0.0.2:40312\","
				    "\"remote\":\"10.0.0.3:22\",\"deadline_ms\":1000,\"force\":true}");
	struct ht_qreq v6 = {.op = HT_QOP_WHO, .local = "[2001:db8::2]:40312",
			     .remote = "[2001:db8::3]:22"};
	CHECK_EQ_STR(roundtrip(&v6), "{\"op\":\"who\",\"local\":\"[2001:db8::2]:40312\","
				     "\"remote\":\"[2001:db8::3]:22\"}");
	struct ht_qreq c = {.op = HT_QOP_CHAIN, .pid = 1234};
	CHECK_EQ_STR(roundtrip(&c), "{\"op\":\"chain\",\"pid\":1234}");
	c.pid = HT_QPID_MAX;
	roundtrip(&c);
	struct ht_qreq b = {.op = HT_QOP_BOUND, .ino = 183422, .local = "10.0.0.2:1",
			    .remote = "10.0.0.3:22"};
	CHECK_EQ_STR(roundtrip(&b), "{\"op\":\"bound\",\"ino\":183422,\"local\":\"10.0.0.2:1\","
				    "\"remote\":\"10.0.0.3:22\"}");
	b.ino = 1ULL << 62;
	roundtrip(&b);
	static const enum ht_qop plain[] = {HT_QOP_PS, HT_QOP_GRAPH, HT_QOP_STATUS, HT_QOP_SUBSCRIBE};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		struct ht_qreq p = {.op = plain[i]};
		char want[64];
		snprintf(want, sizeof(want), "{\"op\":\"%s\"}", ht_qop_name(plain[i]));
		CHECK_EQ_STR(roundtrip(&p), want);
		p.has_id = 1;
		p.id = HT_QID_MAX;
		snprintf(want, sizeof(want), "{\"op\":\"%s\",\"id\":9007199254740991}",
			 ht_qop_name(plain[i]));
		CHECK_EQ_STR(roundtrip(&p), want);
	}
	/* members an op does not take are not written */
	struct ht_qreq ps = {.op = HT_QOP_PS, .pid = 5, .ino = 6, .local = "1.2.3.4:5", .force = 1,
			     .deadline_ms = 9};
	char out[128];
	CHECK(ht_qreq_build(out, sizeof(out), &ps) > 0);
	CHECK_EQ_STR(out, "{\"op\":\"ps\"}");
	/* a deadline beyond what a reader takes is clamped */
	struct ht_qreq w = r;
	w.deadline_ms = 10000000;
	CHECK(ht_qreq_build(out, sizeof(out), &w) > 0);
	CHECK(strstr(out, "\"deadline_ms\":600000") != NULL);
}

static void build_refuses(void)
{
	char out[512];
	struct ht_qreq r = {.op = HT_QOP_WHO, .local = "10.0.0.2:1", .remote = "10.0.0.3:22"};
	struct ht_qreq x;
	CHECK(ht_qreq_build(out, sizeof(out), &r) > 0);
	/* injection: a quote or a backslash never reaches the wire */
	x = r;
	strcpy(x.local, "1.2.3.4:5\",\"op\":\"ps");
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	CHECK_EQ_STR(out, "");
	x = r;
	strcpy(x.remote, "1.2.3.4:5\\");
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	x = r;
	strcpy(x.remote, "1.2.3.4:5 ");
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	x = r;
	x.remote[0] = 0;
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	x = r;
	memset(x.local, '1', sizeof(x.local)); /* not terminated: never read past it */
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	/* a scope is fine to build (the collector refuses it: no such connection) */
	x = r;
	strcpy(x.local, "[fe80::1%eth0]:22");
	strcpy(x.remote, "[fe80::2%eth0]:22");
	CHECK(ht_qreq_build(out, sizeof(out), &x) > 0);
	/* op, id, pid, ino */
	x = r;
	x.op = HT_QOP_NONE;
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	x.op = HT_QOP_COUNT;
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	x.op = (enum ht_qop)-3;
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	x = r;
	x.has_id = 1;
	x.id = HT_QID_MAX + 1;
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &x), -1);
	struct ht_qreq c = {.op = HT_QOP_CHAIN, .pid = 0};
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &c), -1);
	c.pid = -5;
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &c), -1);
	c.pid = HT_QPID_MAX + 1;
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &c), -1);
	struct ht_qreq b = {.op = HT_QOP_BOUND, .ino = 0, .local = "1.2.3.4:5", .remote = "1.2.3.5:6"};
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), &b), -1);
	/* every buffer size too small: -1, never an overflow */
	int full = ht_qreq_build(out, sizeof(out), &r);
	for (int n = 0; n <= full; n++) {
		char small[512];
		memset(small, 'x', sizeof(small));
		CHECK_EQ_INT(ht_qreq_build(small, (size_t)n, &r), -1);
		CHECK(small[n] == 'x');
	}
	CHECK_EQ_INT(ht_qreq_build(out, (size_t)full + 1, &r), full);
	CHECK_EQ_INT(ht_qreq_build(NULL, 10, &r), -1);
	CHECK_EQ_INT(ht_qreq_build(out, sizeof(out), NULL), -1);
}

static void parse_requests(void)
{
	struct ht_qreq r;
	char d[200];
	CHECK_EQ_INT(P("{\"op\":\"who\",\"id\":3,\"local\":\"10.0.0.2:40312\",\"remote\":\"10.0.0.3:22\","
		       "\"deadline_ms\":250,\"force\":true}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.op, HT_QOP_WHO);
	CHECK_EQ_INT(r.has_id, 1);
	CHECK_EQ_INT(r.id, 3);
	CHECK_EQ_STR(r.local, "10.0.0.2:40312");
	CHECK_EQ_STR(r.remote, "10.0.0.3:22");
	CHECK_EQ_INT(r.deadline_ms, 250);
	CHECK_EQ_INT(r.force, 1);
	CHECK_EQ_STR(d, "");
	/* white space, member order, unknown members */
	CHECK_EQ_INT(P(" {\n \"remote\" : \"[::1]:22\", \"x\":{\"y\":[1,2,{}]}, \"local\":\"[::1]:5\",\n"
		       "\"op\" : \"who\" } \n", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.has_id, 0);
	CHECK_EQ_INT(r.deadline_ms, 0);
	CHECK_EQ_INT(r.force, 0);
	/* a v4-mapped end and a v4 one are the same family */
	CHECK_EQ_INT(P("{\"op\":\"who\",\"local\":\"[::ffff:10.0.0.2]:5\",\"remote\":\"10.0.0.3:22\"}",
		       &r, d), HT_QE_OK);
	CHECK_EQ_INT(P("{\"op\":\"chain\",\"pid\":1}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.pid, 1);
	CHECK_EQ_INT(P("{\"op\":\"chain\",\"pid\":4194304.0}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.pid, 4194304);
	CHECK_EQ_INT(P("{\"op\":\"bound\",\"ino\":99,\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\"}",
		       &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.ino, 99);
	CHECK_EQ_INT(P("{\"op\":\"subscribe\"}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.op, HT_QOP_SUBSCRIBE);
	CHECK_EQ_INT(P("{\"op\":\"status\",\"id\":0}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.has_id, 1);
	CHECK_EQ_INT(r.id, 0);
	/* trailing NULs and white space (a sender counting the NUL) */
	CHECK_EQ_INT(ht_qreq_parse("{\"op\":\"ps\"}\0\0 ", 14, &r, d, sizeof(d)), HT_QE_OK);
	/* no detail buffer */
	CHECK_EQ_INT(ht_qreq_parse("{\"op\":\"ps\"}", 11, &r, NULL, 0), HT_QE_OK);
	CHECK_EQ_INT(ht_qreq_parse("{", 1, &r, NULL, 0), HT_QE_BAD_REQUEST);
}

struct bad_case {
	const char *req;
	const char *detail;
};

static void parse_bad_requests(void)
{
	static const struct bad_case cases[] = {
		{"", "request empty or larger than 64 KiB"},
		{"[]", "request is not a JSON object"},
		{"\"op\"", "request is not a JSON object"},
		{"42", "request is not a JSON object"},
		{"null", "request is not a JSON object"},
		{"{\"op\":\"who\"", "request is not a JSON object"},     /* truncated */
		{"{\"op\":\"who\",", "request is not a JSON object"},
		{"{\"op\":\"ps\"} {}", "request is not a JSON object"},  /* two objects */
		{"{\"op\":\"ps\"}garbage", "request is not a JSON object"},
		{"{\"op\":\"ps\",\"x\":[1,2,}", "request is not a JSON object"}, /* nested junk */
		{"{\"op\":\"ps\",\"x\":{\"a\":}}", "request is not a JSON object"},
		{"{op:\"ps\"}", "request is not a JSON object"},
		{"{}", "missing \"op\""},
		{"{\"op\":7}", "missing \"op\""},
		{"{\"op\":null}", "missing \"op\""},
		{"{\"op\":[\"who\"]}", "missing \"op\""},
		{"{\"OP\":\"ps\"}", "missing \"op\""}, /* members are case-sensitive */
		{"{\"op\":\"\"}", "unknown op \"\""},
		{"{\"op\":\"PS\"}", "unknown op \"PS\""},
		{"{\"op\":\"whoami\"}", "unknown op \"whoami\""},
		{"{\"op\":\"0123456789012345678901234567890123456789TAIL\"}",
		 "unknown op \"0123456789012345678901234567890123456789\""},
		{"{\"op\":\"who\"}", "bad or missing \"local\" endpoint"},
		{"{\"op\":\"who\",\"local\":5,\"remote\":\"1.2.3.4:5\"}", "bad or missing \"local\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"1.2.3.4\",\"remote\":\"1.2.3.4:5\"}",
		 "bad or missing \"local\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"1.2.3.4:5\\\"\",\"remote\":\"1.2.3.4:5\"}",
		 "bad or missing \"local\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"1.2.3.4:5\\\\\",\"remote\":\"1.2.3.4:5\"}",
		 "bad or missing \"local\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"1.2.3.4:65536\",\"remote\":\"1.2.3.4:5\"}",
		 "bad or missing \"local\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"[fe80::1%eth0]:5\",\"remote\":\"[fe80::2]:5\"}",
		 "bad or missing \"local\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"[1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb]:5\","
		 "\"remote\":\"1.2.3.4:5\"}", "bad or missing \"local\" endpoint"}, /* over-long */
		{"{\"op\":\"who\",\"local\":\"1.2.3.4:5\"}", "bad or missing \"remote\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"1.2.3.4:5\",\"remote\":\"x\"}",
		 "bad or missing \"remote\" endpoint"},
		{"{\"op\":\"who\",\"local\":\"1.2.3.4:5\",\"remote\":\"[::1]:5\"}",
		 "local and remote are of different address families"},
		{"{\"op\":\"chain\"}", "bad or missing \"pid\""},
		{"{\"op\":\"chain\",\"pid\":0}", "bad or missing \"pid\""},
		{"{\"op\":\"chain\",\"pid\":-1}", "bad or missing \"pid\""},
		{"{\"op\":\"chain\",\"pid\":1.5}", "bad or missing \"pid\""},
		{"{\"op\":\"chain\",\"pid\":4194305}", "bad or missing \"pid\""},
		{"{\"op\":\"chain\",\"pid\":1e400}", "bad or missing \"pid\""},
		{"{\"op\":\"chain\",\"pid\":\"12\"}", "bad or missing \"pid\""},
		{"{\"op\":\"bound\",\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\"}", "bad or missing \"ino\""},
		{"{\"op\":\"bound\",\"ino\":0,\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\"}",
		 "bad or missing \"ino\""},
		{"{\"op\":\"bound\",\"ino\":18446744073709551616,\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\"}",
		 "bad or missing \"ino\""},
		{"{\"op\":\"bound\",\"ino\":5,\"local\":\"1.2.3.4:5\"}", "bad or missing \"remote\" endpoint"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ht_qreq r;
		char d[200] = "junk";
		enum ht_qerr e = P(cases[i].req, &r, d);
		if (e != HT_QE_BAD_REQUEST || strcmp(d, cases[i].detail))
			fprintf(stderr, "    case %zu: %s\n", i, cases[i].req);
		CHECK_EQ_INT(e, HT_QE_BAD_REQUEST);
		CHECK_EQ_STR(d, cases[i].detail);
	}
	/* over 64 KiB */
	size_t n = HT_QUERY_MAX + 1;
	char *big = malloc(n);
	memset(big, ' ', n);
	memcpy(big, "{\"op\":\"ps\"}", 11);
	struct ht_qreq r;
	char d[200];
	CHECK_EQ_INT(ht_qreq_parse(big, n, &r, d, sizeof(d)), HT_QE_BAD_REQUEST);
	CHECK_EQ_STR(d, "request empty or larger than 64 KiB");
	CHECK_EQ_INT(ht_qreq_parse(big, n - 1, &r, d, sizeof(d)), HT_QE_OK);
	free(big);
	CHECK_EQ_INT(ht_qreq_parse(NULL, 5, &r, d, sizeof(d)), HT_QE_BAD_REQUEST);
	/* a small detail buffer is cut, never overrun */
	char sm[8];
	CHECK_EQ_INT(ht_qreq_parse("{}", 2, &r, sm, sizeof(sm)), HT_QE_BAD_REQUEST);
	CHECK_EQ_STR(sm, "missing");
}

static void parse_hostile(void)
{
	struct ht_qreq r;
	char d[200];
	/* the id of a bad request is kept, for its answer */
	CHECK_EQ_INT(P("{\"id\":12,\"op\":\"nope\"}", &r, d), HT_QE_BAD_REQUEST);
	CHECK_EQ_INT(r.has_id, 1);
	CHECK_EQ_INT(r.id, 12);
	/* ids that are not whole numbers in range: answered without one */
	static const char *const noid[] = {
		"{\"op\":\"ps\",\"id\":-1}", "{\"op\":\"ps\",\"id\":1.5}", "{\"op\":\"ps\",\"id\":\"7\"}",
		"{\"op\":\"ps\",\"id\":9007199254740992}", "{\"op\":\"ps\",\"id\":1e300}",
		"{\"op\":\"ps\",\"id\":true}", "{\"op\":\"ps\",\"id\":null}", "{\"op\":\"ps\",\"id\":{}}",
		"{\"op\":\"ps\",\"id\":-0.5}",
	};
	for (size_t i = 0; i < sizeof(noid) / sizeof(noid[0]); i++) {
		CHECK_EQ_INT(P(noid[i], &r, d), HT_QE_OK);
		CHECK_EQ_INT(r.has_id, 0);
	}
	CHECK_EQ_INT(P("{\"op\":\"ps\",\"id\":9007199254740991}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.id, 9007199254740991ULL);
	CHECK_EQ_INT(P("{\"op\":\"ps\",\"id\":-0}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.id, 0);
	/* duplicate members: the first counts */
	CHECK_EQ_INT(P("{\"op\":\"ps\",\"op\":\"who\"}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.op, HT_QOP_PS);
	CHECK_EQ_INT(P("{\"op\":\"chain\",\"pid\":5,\"pid\":\"x\"}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.pid, 5);
	CHECK_EQ_INT(P("{\"op\":\"ps\",\"id\":1,\"id\":2}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.id, 1);
	/* a NUL inside: the JSON ends there, what follows is not white space */
	CHECK_EQ_INT(ht_qreq_parse("{\"op\":\"ps\"}\0{\"op\":\"who\"}", 25, &r, d, sizeof(d)),
		     HT_QE_BAD_REQUEST);
	CHECK_EQ_STR(d, "request is not a JSON object");
	CHECK_EQ_INT(ht_qreq_parse("{\"op\":\"p\0s\"}", 12, &r, d, sizeof(d)), HT_QE_BAD_REQUEST);
	/* an escaped op name is the op (cJSON decodes it) */
	CHECK_EQ_INT(P("{\"op\":\"\\u0070s\"}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.op, HT_QOP_PS);
	/* "force" must be true, not truthy */
	CHECK_EQ_INT(P("{\"op\":\"who\",\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\",\"force\":1}",
		       &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.force, 0);
	/* deadlines out of range are not taken */
	CHECK_EQ_INT(P("{\"op\":\"who\",\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\",\"deadline_ms\":0}",
		       &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.deadline_ms, 0);
	CHECK_EQ_INT(P("{\"op\":\"who\",\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\","
		       "\"deadline_ms\":600001}", &r, d), HT_QE_OK);
	CHECK_EQ_INT(r.deadline_ms, 0);
	/* deep nesting is refused, not a stack overflow */
	size_t n = 20000;
	char *deep = malloc(n * 2 + 32);
	size_t k = (size_t)sprintf(deep, "{\"op\":\"ps\",\"x\":");
	for (size_t i = 0; i < n; i++)
		deep[k++] = '[';
	for (size_t i = 0; i < n; i++)
		deep[k++] = ']';
	deep[k++] = '}';
	CHECK_EQ_INT(ht_qreq_parse(deep, k, &r, d, sizeof(d)), HT_QE_BAD_REQUEST);
	free(deep);
	/* every truncation of a good request is refused */
	const char *good = "{\"op\":\"who\",\"id\":3,\"local\":\"10.0.0.2:40312\",\"remote\":\"10.0.0.3:22\"}";
	for (size_t l = 0; l < strlen(good); l++)
		CHECK_EQ_INT(ht_qreq_parse(good, l, &r, d, sizeof(d)), HT_QE_BAD_REQUEST);
}

static enum ht_qerr H(const char *s, struct ht_qhead *h)
{
	return ht_qhead_parse(s, strlen(s), h);
}

static void head_answers(void)
{
	struct ht_qhead h;
	/* a who answer */
	const char *who = "{\"id\":41,\"ok\":true,\"host\":\"h2\",\"subject\":{\"pid\":812,\"host\":\"zz\","
			  "\"error\":\"inner\"},\"tree\":{\"type\":\"origin\",\"ok\":false},"
			  "\"chains\":[{\"origin_host\":\"h2\",\"procs\":[{\"exe\":\"/a\\\"b}]\"}]}]}";
	CHECK_EQ_INT(H(who, &h), HT_QE_OK);
	CHECK_EQ_INT(h.ok, 1);
	CHECK_EQ_INT(h.has_ok, 1);
	CHECK_EQ_INT(h.has_id, 1);
	CHECK_EQ_INT(h.id, 41);
	CHECK_EQ_INT(h.code, HT_QE_OK);
	CHECK_EQ_STR(h.host, "h2"); /* the top level's, not the nested one */
	CHECK_EQ_STR(h.text, "");
	CHECK_EQ_INT(h.pushed, 0);
	CHECK_EQ_INT(h.ino, 0);
	/* a push: ino is the last member */
	CHECK_EQ_INT(H("{\"ok\":true,\"host\":\"hA\",\"chains\":[],\"ino\":183422}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.ino, 183422);
	CHECK_EQ_INT(h.has_id, 0);
	CHECK_EQ_INT(H("{\"nopush\":true,\"ino\":18446744073709551615}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.nopush, 1);
	CHECK_EQ_INT(h.has_ok, 0);
	CHECK(h.ino == UINT64_MAX);
	CHECK_EQ_INT(h.code, HT_QE_OTHER);
	CHECK_EQ_INT(H("{\"ok\":true,\"ino\":1.83422e5}", &h), HT_QE_OK); /* as a double prints */
	CHECK_EQ_INT(h.ino, 183422);
	CHECK_EQ_INT(H("{\"ok\":true,\"ino\":18446744073709551616}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.ino, 0);
	CHECK_EQ_INT(H("{\"ok\":true,\"ino\":-5}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.ino, 0);
	/* failures: the code routes, the text is for people */
	CHECK_EQ_INT(H("{\"id\":9,\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}", &h),
		     HT_QE_OK);
	CHECK_EQ_INT(h.ok, 0);
	CHECK_EQ_INT(h.code, HT_QE_TOO_LARGE);
	CHECK_EQ_STR(h.text, "answer too large");
	CHECK_EQ_INT(H("{\"ok\":false,\"error\":\"pushed\",\"code\":\"pushed\",\"pushed\":true}", &h),
		     HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_PUSHED);
	CHECK_EQ_INT(h.pushed, 1);
	/* an older collector: no code */
	CHECK_EQ_INT(H("{\"ok\":false,\"error\":\"answer too large\"}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_OTHER);
	/* unknown code names, codes that are not strings, "ok" as a code */
	CHECK_EQ_INT(H("{\"ok\":false,\"code\":\"too_large_soon\"}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_OTHER);
	CHECK_EQ_INT(H("{\"ok\":false,\"code\":5}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_OTHER);
	CHECK_EQ_INT(H("{\"ok\":false,\"code\":\"ok\"}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_OTHER);
	CHECK_EQ_INT(H("{\"ok\":false,\"code\":\"too\\u005flarge\"}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_OTHER); /* names are plain */
	/* "code" with "ok":true: ok */
	CHECK_EQ_INT(H("{\"ok\":true,\"code\":\"no_conn\",\"error\":\"x\"}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_OK);
	/* duplicates: the first counts */
	CHECK_EQ_INT(H("{\"ok\":false,\"ok\":true,\"code\":\"no_conn\",\"code\":\"too_large\"}", &h),
		     HT_QE_OK);
	CHECK_EQ_INT(h.ok, 0);
	CHECK_EQ_INT(h.code, HT_QE_NO_CONN);
	CHECK_EQ_INT(H("{\"id\":1,\"id\":2,\"ok\":true}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.id, 1);
	/* ids: whole numbers up to 2^53 - 1 */
	CHECK_EQ_INT(H("{\"id\":-1,\"ok\":true}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.has_id, 0);
	CHECK_EQ_INT(H("{\"id\":9007199254740992,\"ok\":true}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.has_id, 0);
	CHECK_EQ_INT(H("{\"id\":99999999999999999999999,\"ok\":true}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.has_id, 0);
	CHECK_EQ_INT(H("{\"id\":\"3\",\"ok\":true}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.has_id, 0);
	/* escapes in the text */
	CHECK_EQ_INT(H("{\"ok\":false,\"error\":\"unknown op \\\"x\\\\y\\\" \\u00e9\\ud83d\\ude00\\n\"}", &h),
		     HT_QE_OK);
	CHECK_EQ_STR(h.text, "unknown op \"x\\y\" \xc3\xa9\xf0\x9f\x98\x80\n");
	CHECK_EQ_INT(H("{\"ok\":false,\"error\":\"a\\u0000b\"}", &h), HT_QE_OK);
	CHECK_EQ_STR(h.text, "a");
	CHECK_EQ_INT(H("{\"ok\":false,\"error\":\"\\ud800x\"}", &h), HT_QE_OK);
	CHECK_EQ_STR(h.text, "?x");
	/* over-long text and host are cut */
	char big[2000];
	int k = snprintf(big, sizeof(big), "{\"ok\":false,\"host\":\"");
	for (int i = 0; i < 600; i++)
		big[k++] = 'h';
	k += snprintf(big + k, sizeof(big) - (size_t)k, "\",\"error\":\"");
	for (int i = 0; i < 600; i++)
		big[k++] = 'e';
	k += snprintf(big + k, sizeof(big) - (size_t)k, "\"}");
	CHECK_EQ_INT(ht_qhead_parse(big, (size_t)k, &h), HT_QE_OK);
	CHECK_EQ_INT(strlen(h.host), sizeof(h.host) - 1);
	CHECK_EQ_INT(strlen(h.text), sizeof(h.text) - 1);
	/* empty object, white space */
	CHECK_EQ_INT(H(" \n{ } ", &h), HT_QE_OK);
	CHECK_EQ_INT(h.has_ok, 0);
	CHECK_EQ_INT(H("{ \"ok\" : true , \"host\" : \"h\" }", &h), HT_QE_OK);
	CHECK_EQ_STR(h.host, "h");
	CHECK_EQ_INT(h.ok, 1);
}

static void head_hostile(void)
{
	struct ht_qhead h;
	static const char *const bad[] = {
		"", "[]", "\"ok\"", "{", "{\"ok\"", "{\"ok\":", "{\"ok\":true", "{\"ok\":true,",
		"{\"ok\":true,}", "{,}", "{\"ok\" true}", "{ok:true}", "{\"ok\":1}", "{\"ok\":\"true\"}",
		"{\"ok\":true \"host\":\"h\"}", "{\"host\":\"abc}", "{\"ok\":true,\"x\":}",
		"{\"ok\":tru}", "{\"ok\":true,\"x\"", "{\"ok\":true,\"x\":", "{\"ok\":true,\"x\" [",
		"{\"id\":1,\"ok\":false,\"error\":\"abc\\\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum ht_qerr e = H(bad[i], &h);
		if (e != HT_QE_BAD_ANSWER)
			fprintf(stderr, "    case %zu: %s\n", i, bad[i]);
		CHECK_EQ_INT(e, HT_QE_BAD_ANSWER);
		CHECK_EQ_INT(h.code, HT_QE_BAD_ANSWER);
	}
	CHECK_EQ_INT(ht_qhead_parse(NULL, 5, &h), HT_QE_BAD_ANSWER);
	/* an escaped quote does not end a string; an escaped backslash does not
	 * escape the quote */
	CHECK_EQ_INT(H("{\"x\":\"a\\\"}\",\"ok\":true}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.ok, 1);
	CHECK_EQ_INT(H("{\"x\":\"a\\\\\",\"ok\":true}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.ok, 1);

	/* NUL bytes: inside a string they are bytes; the scanner goes by len */
	CHECK_EQ_INT(ht_qhead_parse("{\"x\":\"\0\",\"ok\":true}", 19, &h), HT_QE_OK);
	CHECK_EQ_INT(h.ok, 1);
	CHECK_EQ_INT(ht_qhead_parse("{\"ok\":true}\0garbage", 19, &h), HT_QE_OK);
	/* never beyond len: a copy of every prefix, in a buffer of exactly that size */
	const char *a = "{\"id\":5,\"ok\":false,\"error\":\"no such TCP connection on this host\","
			"\"code\":\"no_conn\",\"x\":\"]}\\\"\",\"host\":\"h\",\"ino\":77}";
	size_t al = strlen(a);
	for (size_t l = 0; l < al; l++) {
		char *c = malloc(l ? l : 1);
		memcpy(c, a, l);
		CHECK_EQ_INT(ht_qhead_parse(c, l, &h), HT_QE_BAD_ANSWER);
		free(c);
	}
	CHECK_EQ_INT(ht_qhead_parse(a, al, &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_NO_CONN);
	CHECK_EQ_INT(h.ino, 77);
	CHECK_EQ_STR(h.host, "h");
	/* the head ends at the first nested value: what follows is not read, but
	 * for a last "ino" */
	CHECK_EQ_INT(H("{\"ok\":true,\"x\":[[[{]},\"host\":\"late\",\"code\":\"no_conn\"}", &h),
		     HT_QE_OK);
	CHECK_EQ_INT(h.ok, 1);
	CHECK_EQ_STR(h.host, "");
	CHECK_EQ_INT(H("{\"x\":{},\"ok\":false}", &h), HT_QE_OK);
	CHECK_EQ_INT(h.has_ok, 0);
	static const struct {
		const char *a;
		uint64_t ino;
	} tails[] = {
		{"{\"ok\":true,\"chains\":[],\"ino\":5}", 5},
		{"{\"ok\":true,\"chains\":[] , \"ino\" : 6 } \n", 6},
		{"{\"ok\":true,\"chains\":[],\"ino\":7}\0", 7},
		{"{\"ok\":true,\"chains\":[],\"ino\":8e0}", 8},
		{"{\"ok\":true,\"chains\":[],\"ino\":-8}", 0},
		{"{\"ok\":true,\"chains\":[],\"ino\":99999999999999999999999}", 0},
		{"{\"ok\":true,\"chains\":[],\"ino\":}", 0},
		{"{\"ok\":true,\"chains\":[],\"xino\":9}", 0},
		{"{\"ok\":true,\"chains\":[{\"ino\":9}]}", 0},
		{"{\"ok\":true,\"chains\":[],\"s\":\"a,\\\"ino\\\":9}", 0},
		{"{\"ok\":true,\"chains\":[],\"s\":\"x\",\"ino\":\"9\"}", 0},
		{"{\"ok\":true,\"chains\":[]ino\":9}", 0},
		{"{\"ok\":true,\"chains\":[],\"ino\":10", 0},
		{"{\"ok\":true,\"chains\":[\"ino\":11}", 0},
		{"{\"ino\":3,\"chains\":[],\"ino\":12}", 3},   /* the first counts */
	};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		size_t l = strlen(tails[i].a) + (i == 2);
		CHECK_EQ_INT(ht_qhead_parse(tails[i].a, l, &h), HT_QE_OK);
		if (h.ino != tails[i].ino)
			fprintf(stderr, "    tail case %zu: %s\n", i, tails[i].a);
		CHECK(h.ino == tails[i].ino);
	}
	/* a tail is never read before the head's own end */
	CHECK_EQ_INT(ht_qhead_parse("{\"x\":[", 6, &h), HT_QE_OK);
	CHECK_EQ_INT(h.ino, 0);
	/* deep nesting costs nothing */
	size_t n = 1 << 20;
	char *deep = malloc(2 * n + 32);
	size_t k = (size_t)sprintf(deep, "{\"ok\":true,\"x\":");
	for (size_t i = 0; i < n; i++)
		deep[k++] = '[';
	for (size_t i = 0; i < n; i++)
		deep[k++] = ']';
	k += (size_t)sprintf(deep + k, ",\"ino\":4}");
	CHECK_EQ_INT(ht_qhead_parse(deep, k, &h), HT_QE_OK);
	CHECK_EQ_INT(h.ok, 1);
	CHECK_EQ_INT(h.ino, 4);
	free(deep);
}

static void error_answers(void)
{
	struct ht_qreq r = {.op = HT_QOP_WHO, .has_id = 1, .id = 77};
	char *a = ht_qerr_answer(&r, HT_QE_NO_CONN, NULL);
	CHECK_EQ_STR(a, "{\"id\":77,\"ok\":false,\"error\":\"no such TCP connection on this host\","
			"\"code\":\"no_conn\"}");
	free(a);
	a = ht_qerr_answer(NULL, HT_QE_BAD_REQUEST, "unknown op \"a\\b\"\n");
	CHECK_EQ_STR(a, "{\"ok\":false,\"error\":\"unknown op \\\"a\\\\b\\\"\\u000a\",\"code\":\"bad_request\"}");
	free(a);
	a = ht_qerr_answer(NULL, HT_QE_PUSHED, NULL);
	/* the guard of before looks for "error":"pushed" */
	CHECK_EQ_STR(a, "{\"ok\":false,\"error\":\"pushed\",\"code\":\"pushed\",\"pushed\":true}");
	free(a);
	a = ht_qerr_answer(NULL, HT_QE_NO_PROC, "no process 12 on this host");
	CHECK_EQ_STR(a, "{\"ok\":false,\"error\":\"no process 12 on this host\",\"code\":\"no_proc\"}");
	free(a);
	/* no such code, or "ok": other */
	a = ht_qerr_answer(NULL, HT_QE_OK, "");
	CHECK_EQ_STR(a, "{\"ok\":false,\"error\":\"collector error\",\"code\":\"other\"}");
	free(a);
	a = ht_qerr_answer(NULL, (enum ht_qerr)1000, NULL);
	CHECK_EQ_STR(a, "{\"ok\":false,\"error\":\"collector error\",\"code\":\"other\"}");
	free(a);
	/* every code reads back as itself through the head parser */
	for (int e = 1; e < HT_QE_COUNT; e++) {
		struct ht_qhead h;
		r.id = (uint64_t)e * 1000;
		a = ht_qerr_answer(&r, (enum ht_qerr)e, NULL);
		CHECK_EQ_INT(ht_qhead_parse(a, strlen(a), &h), HT_QE_OK);
		CHECK_EQ_INT(h.code, e);
		CHECK_EQ_INT(h.ok, 0);
		CHECK_EQ_INT(h.id, r.id);
		CHECK_EQ_STR(h.text, ht_qerr_text((enum ht_qerr)e));
		CHECK_EQ_INT(h.pushed, e == HT_QE_PUSHED);
		free(a);
	}
	/* a long hostile detail: cut at 255 bytes, escaped, still one object */
	char det[1000];
	memset(det, '"', sizeof(det) - 1);
	det[sizeof(det) - 1] = 0;
	a = ht_qerr_answer(NULL, HT_QE_BAD_REQUEST, det);
	struct ht_qhead h;
	CHECK_EQ_INT(ht_qhead_parse(a, strlen(a), &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_BAD_REQUEST);
	CHECK_EQ_INT(strlen(h.text), sizeof(h.text) - 1);
	free(a);
	memset(det, 1, sizeof(det) - 1);
	a = ht_qerr_answer(NULL, HT_QE_BAD_REQUEST, det);
	CHECK(a && strlen(a) < 2048);
	free(a);
	/* the fixed-buffer form: 0 when it does not fit */
	char out[400];
	size_t n = ht_qerr_format(out, sizeof(out), 1, 5, HT_QE_TOO_LARGE, NULL);
	CHECK_EQ_STR(out, "{\"id\":5,\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}");
	CHECK_EQ_INT(n, strlen(out));
	CHECK_EQ_INT(ht_qerr_format(out, n, 1, 5, HT_QE_TOO_LARGE, NULL), 0);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(ht_qerr_format(out, n + 1, 1, 5, HT_QE_TOO_LARGE, NULL), n);
	CHECK_EQ_INT(ht_qerr_format(NULL, 9, 1, 5, HT_QE_TOO_LARGE, NULL), 0);
}

static void cut_answers(void)
{
	char out[96];
	const char *big = "{\"id\":123,\"ok\":true,\"host\":\"h\",\"chains\":[]}";
	CHECK(ht_qerr_cut(out, sizeof(out), big, strlen(big)) > 0);
	CHECK_EQ_STR(out, "{\"id\":123,\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}");
	const char *noid = "{\"ok\":true,\"chains\":[]}";
	CHECK(ht_qerr_cut(out, sizeof(out), noid, strlen(noid)) > 0);
	CHECK_EQ_STR(out, "{\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}");
	/* the largest id fits 96 bytes */
	const char *maxid = "{\"id\":18446744073709551615,\"ok\":true}";
	CHECK(ht_qerr_cut(out, sizeof(out), maxid, strlen(maxid)) > 0);
	CHECK_EQ_STR(out, "{\"id\":18446744073709551615,\"ok\":false,\"error\":\"answer too large\","
			  "\"code\":\"too_large\"}");
	/* an id too long for 64 bits, a bare "{\"id\":", a short buffer */
	const char *huge = "{\"id\":184467440737095516150,\"ok\":true}";
	CHECK(ht_qerr_cut(out, sizeof(out), huge, strlen(huge)) > 0);
	CHECK_EQ_STR(out, "{\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}");
	CHECK(ht_qerr_cut(out, sizeof(out), "{\"id\":", 6) > 0);
	CHECK_EQ_STR(out, "{\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}");
	CHECK(ht_qerr_cut(out, sizeof(out), NULL, 0) > 0);
	CHECK_EQ_INT(ht_qerr_cut(out, 20, big, strlen(big)), 0);
	/* the push that says none comes */
	struct ht_qhead h;
	size_t k = ht_qnopush_format(out, 48, UINT64_MAX);
	CHECK_EQ_STR(out, "{\"nopush\":true,\"ino\":18446744073709551615}");
	CHECK_EQ_INT(k, strlen(out));
	CHECK_EQ_INT(ht_qhead_parse(out, k, &h), HT_QE_OK);
	CHECK(h.nopush && h.ino == UINT64_MAX && !h.has_ok);
	CHECK_EQ_INT(ht_qnopush_format(out, k, 5), 23);
	CHECK_EQ_INT(ht_qnopush_format(out, 10, 5), 0);
	/* reads only len bytes of ans */
	CHECK(ht_qerr_cut(out, sizeof(out), big, 8) > 0);
	CHECK_EQ_STR(out, "{\"id\":12,\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}");
}

/* ---- the collector's answers (collector/answer.c) through the codec ------- */

static uint64_t fake_now(void)
{
	return 5000000000ULL;
}

static struct query_ctx *ctx(void)
{
	static struct query_ctx q;
	static struct collector_stats st;
	if (!q.g) {
		struct graph_conf c = {.retention_ns = 1000000000ULL, .window_ns = 1000000000ULL,
				       .max_procs = 100, .use_procfs = 0};
		q.g = graph_new(&c);
		q.hostname = "hq";
		q.nl = -1;
		q.stats = &st;
		q.now_fn = fake_now;
	}
	return &q;
}

/* asks req; the answer's head in *h; returns the answer (freed by the caller) */
static char *ask(const char *req, struct ht_qhead *h)
{
	char *a = query_answer(ctx(), req, strlen(req), fake_now());
	CHECK(a != NULL);
	if (!a)
		return NULL;
	CHECK_EQ_INT(ht_qhead_parse(a, strlen(a), h), HT_QE_OK);
	return a;
}

static void collector_answers(void)
{
	struct ht_qhead h;
	static const struct {
		const char *req;
		enum ht_qerr code;
		int has_id;
		uint64_t id;
		const char *text;
	} cases[] = {
		{"{\"op\":\"who\",\"id\":5,\"local\":\"10.0.0.2:4\",\"remote\":\"10.0.0.3:22\"}",
		 HT_QE_NO_CONN, 1, 5, "no such connection, open or closed within history_window (1 s)"},
		{"{\"op\":\"who\",\"id\":6,\"local\":\"10.0.0.2:4\"}", HT_QE_BAD_REQUEST, 1, 6,
		 "bad or missing \"remote\" endpoint"},
		{"{\"op\":\"chain\",\"id\":7,\"pid\":4000000}", HT_QE_NO_PROC, 1, 7,
		 "no process 4000000 on this host"},
		{"{\"op\":\"chain\",\"pid\":-4}", HT_QE_BAD_REQUEST, 0, 0, "bad or missing \"pid\""},
		{"{\"op\":\"subscribe\",\"id\":8}", HT_QE_BAD_REQUEST, 1, 8, "unknown op \"subscribe\""},
		{"{\"op\":\"bound\",\"ino\":3,\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\"}",
		 HT_QE_BAD_REQUEST, 0, 0, "unknown op \"bound\""},
		{"{\"op\":\"x\\\"y\",\"id\":9}", HT_QE_BAD_REQUEST, 1, 9, "unknown op \"x\"y\""},
		{"not json", HT_QE_BAD_REQUEST, 0, 0, "request is not a JSON object"},
		{"{\"op\":\"ps\",\"id\":10}", HT_QE_OK, 1, 10, ""},
		{"{\"op\":\"graph\"}", HT_QE_OK, 0, 0, ""},
		{"{\"op\":\"status\",\"id\":0}", HT_QE_OK, 1, 0, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *a = ask(cases[i].req, &h);
		if (h.code != cases[i].code || strcmp(h.text, cases[i].text))
			fprintf(stderr, "    case %zu: %s -> %s\n", i, cases[i].req, a);
		CHECK_EQ_INT(h.code, cases[i].code);
		CHECK_EQ_INT(h.ok, cases[i].code == HT_QE_OK);
		CHECK_EQ_INT(h.has_id, cases[i].has_id);
		CHECK_EQ_INT(h.id, cases[i].id);
		CHECK_EQ_STR(h.text, cases[i].text);
		/* the id leads the answer */
		if (cases[i].has_id)
			CHECK(a && !strncmp(a, "{\"id\":", 6));
		if (cases[i].code == HT_QE_OK)
			CHECK_EQ_STR(h.host, "hq");
		free(a);
	}
	/* the empty request and its length bound */
	char *a = query_answer(ctx(), "", 0, fake_now());
	CHECK_EQ_INT(ht_qhead_parse(a, strlen(a), &h), HT_QE_OK);
	CHECK_EQ_INT(h.code, HT_QE_BAD_REQUEST);
	CHECK_EQ_STR(h.text, "request empty or larger than 64 KiB");
	free(a);
	/* a parsed request answers the same */
	struct ht_qreq r = {.op = HT_QOP_CHAIN, .has_id = 1, .id = 77, .pid = 4000001};
	a = query_answer_req(ctx(), &r, fake_now());
	CHECK_EQ_STR(a, "{\"id\":77,\"ok\":false,\"error\":\"no process 4000001 on this host\","
			"\"code\":\"no_proc\"}");
	free(a);
	/* the SEQPACKET transport's own ops */
	const char *sub = "{\"op\":\"subscribe\"}";
	CHECK_EQ_INT(query_is_subscribe(sub, strlen(sub)), 1);
	const char *nsub = "{\"op\":\"ps\",\"x\":\"subscribe\"}";
	CHECK_EQ_INT(query_is_subscribe(nsub, strlen(nsub)), 0);
	const char *bound = "{\"op\":\"bound\",\"ino\":3,\"local\":\"1.2.3.4:5\",\"remote\":\"1.2.3.5:6\"}";
	CHECK_EQ_INT(query_bound(ctx(), bound, strlen(bound)), 1);
	const char *badbound = "{\"op\":\"bound\",\"ino\":0}";
	CHECK_EQ_INT(query_bound(ctx(), badbound, strlen(badbound)), 1); /* not answered either */
	const char *notbound = "{\"op\":\"ps\",\"x\":\"bound\"}";
	CHECK_EQ_INT(query_bound(ctx(), notbound, strlen(notbound)), 0);
}

/* ---- the guard's client (guard/collq.c) against a scripted collector ------- */

static void reply(int fd, const char *s)
{
	send(fd, s, strlen(s), MSG_NOSIGNAL);
}

/* the scripted collector: what it does is chosen by the who's local port */
static void fake_collector(int ls)
{
	static char big[70001];
	int subs = 0;
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0)
			_exit(1);
		for (;;) {
			char req[4096], a[512];
			ssize_t n = recv(fd, req, sizeof(req), 0);
			struct ht_qreq r;
			if (n <= 0)
				break;
			if (ht_qreq_parse(req, (size_t)n, &r, NULL, 0) != HT_QE_OK) {
				reply(fd, "{\"ok\":false,\"error\":\"request is not a JSON object\",\"code\":\"bad_request\"}");
				continue;
			}
			if (r.op == HT_QOP_SUBSCRIBE) {
				reply(fd, subs++ ? "{\"ok\":false,\"error\":\"too many subscribers\",\"code\":\"subscribers\"}"
						 : "{\"ok\":true}");
				continue;
			}
			int port = atoi(strrchr(r.local, ':') + 1);
			if (port == 1) { /* a stale answer first, then its own */
				snprintf(a, sizeof(a), "{\"id\":%llu,\"ok\":true}", (unsigned long long)r.id + 100);
				reply(fd, a);
				ht_qerr_format(a, sizeof(a), 1, r.id, HT_QE_NO_CONN, NULL);
				reply(fd, a);
			} else if (port == 2) { /* more than a datagram */
				memset(big, ' ', sizeof(big) - 1);
				int k = snprintf(big, 40, "{\"id\":%llu,\"ok\":true,", (unsigned long long)r.id);
				big[k] = ' ';
				big[sizeof(big) - 2] = '}';
				send(fd, big, sizeof(big) - 1, MSG_NOSIGNAL);
			} else if (port == 3) { /* silence */
			} else if (port == 4) { /* gone: the client asks again */
				break;
			} else {
				snprintf(a, sizeof(a), "{\"id\":%llu,\"ok\":true,\"host\":\"%s\",\"chains\":[]}",
					 (unsigned long long)r.id, r.force ? "forced" : "h");
				reply(fd, a);
			}
		}
		close(fd);
	}
}

static void guard_client(void)
{
	char name[64], err[256];
	snprintf(name, sizeof(name), "hoptrace/qtest.%d", (int)getpid());
	struct collq c;
	CHECK_EQ_INT(collq_init(&c, name), 0);
	/* nobody there */
	CHECK_EQ_INT(collq_who(&c, "10.0.0.1:5", "10.0.0.2:22", 100, err, sizeof(err)), -1);
	CHECK_EQ_INT(c.code, HT_QE_UNREACHABLE);
	CHECK(strstr(err, "collector unreachable") != NULL);
	int ls = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path + 1, name, strlen(name));
	CHECK(bind(ls, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) == 0);
	CHECK(listen(ls, 4) == 0);
	pid_t pid = fork();
	if (pid == 0)
		fake_collector(ls);
	close(ls);
	/* a code in the answer; a stale answer skipped by its id */
	long n = collq_who(&c, "10.0.0.1:1", "10.0.0.2:22", 1000, err, sizeof(err));
	CHECK(n > 0);
	CHECK_EQ_INT(c.code, HT_QE_NO_CONN);
	CHECK_EQ_STR(c.head.text, "no such TCP connection on this host");
	CHECK_EQ_INT(c.head.id, c.seq);
	/* larger than a datagram */
	CHECK_EQ_INT(collq_who(&c, "10.0.0.1:2", "10.0.0.2:22", 1000, err, sizeof(err)), -1);
	CHECK_EQ_INT(c.code, HT_QE_TOO_LARGE);
	CHECK_EQ_STR(err, "answer too large");
	/* no answer in time */
	CHECK_EQ_INT(collq_who(&c, "10.0.0.1:3", "10.0.0.2:22", 50, err, sizeof(err)), -1);
	CHECK_EQ_INT(c.code, HT_QE_TIMEOUT);
	CHECK_EQ_STR(err, "no answer from collector within 50 ms");
	/* the collector closes: asked again on a fresh connection, once */
	CHECK_EQ_INT(collq_who(&c, "10.0.0.1:4", "10.0.0.2:22", 500, err, sizeof(err)), -1);
	CHECK_EQ_INT(c.code, HT_QE_CLOSED);
	/* ok, and "force" goes out once */
	c.force = 1;
	n = collq_who(&c, "[::1]:5", "[::1]:22", 1000, err, sizeof(err));
	CHECK(n > 0);
	CHECK_EQ_INT(c.code, HT_QE_OK);
	CHECK_EQ_STR(c.head.host, "forced");
	CHECK_EQ_INT(strlen(c.buf), n);
	n = collq_who(&c, "10.0.0.1:5", "10.0.0.2:22", 1000, err, sizeof(err));
	CHECK(n > 0);
	CHECK_EQ_STR(c.head.host, "h");
	/* an endpoint the codec refuses never goes out */
	CHECK_EQ_INT(collq_who(&c, "10.0.0.1:5\",\"op\":\"ps", "10.0.0.2:22", 100, err, sizeof(err)), -1);
	CHECK_EQ_INT(c.code, HT_QE_BAD_REQUEST);
	char longep[300];
	memset(longep, '1', sizeof(longep) - 1);
	longep[sizeof(longep) - 1] = 0;
	CHECK_EQ_INT(collq_who(&c, longep, "10.0.0.2:22", 100, err, sizeof(err)), -1);
	CHECK_EQ_INT(c.code, HT_QE_BAD_REQUEST);
	n = collq_who(&c, "10.0.0.1:5", "10.0.0.2:22", 1000, err, sizeof(err));
	CHECK(n > 0); /* and the connection still works */
	collq_close(&c);
	/* subscribing: the first is taken, the second refused by code */
	struct collq s1, s2;
	CHECK_EQ_INT(collq_init(&s1, name), 0);
	CHECK_EQ_INT(collq_init(&s2, name), 0);
	CHECK_EQ_INT(collq_subscribe(&s1, 500, err, sizeof(err)), 0);
	CHECK(s1.fd >= 0);
	CHECK_EQ_INT(s1.code, HT_QE_OK);
	close(s1.fd); /* (the fake serves one connection at a time) */
	s1.fd = -1;
	CHECK_EQ_INT(collq_subscribe(&s2, 500, err, sizeof(err)), -1);
	CHECK_EQ_INT(s2.code, HT_QE_SUBSCRIBERS);
	CHECK_EQ_STR(err, "too many subscribers");
	CHECK_EQ_INT(s2.fd, -1);
	collq_close(&s1);
	collq_close(&s2);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

T_MAIN("query", T(tables), T(build_every_op), T(build_refuses), T(parse_requests),
       T(parse_bad_requests), T(parse_hostile), T(head_answers), T(head_hostile), T(error_answers),
       T(cut_answers), T(collector_answers), T(guard_client))
