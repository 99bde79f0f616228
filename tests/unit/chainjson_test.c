/*
 * chainjson_test.c — ht_chains_from_json() on good answers, every malformed
 * shape, hostile sizes; ht_endpoint_parse()/ht_endpoint_format().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "hoptrace/chain.h"
#include "test.h"

static const char GOOD[] =
	"{\"ok\":true,\"host\":\"h2\",\"tree\":{\"type\":\"origin\",\"host\":\"h2\"},"
	"\"chains\":["
	"{\"origin_host\":\"h1\",\"src\":\"10.0.0.1:51234\",\"dst\":\"10.0.0.3:22\","
	"\"complete\":true,\"fallback\":false,\"procs\":["
	"{\"host\":\"h1\",\"pid\":500,\"uid\":1000,\"exe\":\"/usr/bin/ssh\","
	"\"sha256\":\"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"},"
	"{\"host\":\"h2\",\"pid\":812,\"exe\":\"/usr/bin/nc\",\"seen\":\"kernel\"}]},"
	"{\"origin_host\":\"h4\",\"src\":\"[2001:db8::4]:40000\",\"dst\":null,"
	"\"procs\":[]}]}";

static int parse(const char *j, struct ht_chainset *cs, const char **err)
{
	return ht_chains_from_json(j, strlen(j), cs, err);
}

static void good_answer(void)
{
	struct ht_chainset cs;
	const char *err = "x";
	char b[HT_ENDPOINT_STRLEN];

	CHECK_EQ_INT(parse(GOOD, &cs, &err), 0);
	CHECK(err == NULL);
	CHECK_EQ_INT(cs.n, 2);
	if (cs.n != 2)
		return;
	CHECK_EQ_STR(cs.v[0].origin_host, "h1");
	CHECK_EQ_STR(ht_endpoint_format(&cs.v[0].src, b, sizeof(b)), "10.0.0.1:51234");
	CHECK_EQ_STR(ht_endpoint_format(&cs.v[0].dst, b, sizeof(b)), "10.0.0.3:22");
	CHECK_EQ_INT(cs.v[0].complete, 1);
	CHECK_EQ_INT(cs.v[0].fallback, 1); /* forced: a proc was seen by the kernel */
	CHECK_EQ_INT(cs.v[0].nprocs, 2);
	CHECK_EQ_STR(cs.v[0].procs[0].host, "h1");
	CHECK_EQ_INT(cs.v[0].procs[0].pid, 500);
	CHECK_EQ_INT(cs.v[0].procs[0].uid, 1000);
	CHECK_EQ_STR(cs.v[0].procs[0].exe, "/usr/bin/ssh");
	CHECK_EQ_STR(cs.v[0].procs[0].sha256,
		     "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	CHECK_EQ_INT(cs.v[0].procs[0].kernel_only, 0);
	CHECK_EQ_INT(cs.v[0].procs[1].kernel_only, 1);
	CHECK_EQ_STR(cs.v[0].procs[1].sha256, "");
	CHECK_EQ_INT(cs.v[0].procs[1].uid, (uid_t)-1);
	/* defaults */
	CHECK_EQ_STR(cs.v[1].origin_host, "h4");
	CHECK_EQ_INT(cs.v[1].src.family, AF_INET6);
	CHECK_EQ_INT(cs.v[1].dst.family, 0);
	CHECK_EQ_INT(cs.v[1].complete, 0);
	CHECK_EQ_INT(cs.v[1].fallback, 0);
	CHECK_EQ_INT(cs.v[1].nprocs, 0);
	ht_chainset_free(&cs);
	CHECK_EQ_INT(cs.n, 0);
	CHECK(cs.v == NULL);
	ht_chainset_free(&cs); /* twice is harmless */
	ht_chainset_free(NULL);
}

static void good_minimal(void)
{
	struct ht_chainset cs;
	const char *err;

	CHECK_EQ_INT(parse("{\"chains\":[]}", &cs, &err), 0);
	CHECK_EQ_INT(cs.n, 0);
	ht_chainset_free(&cs);
	CHECK_EQ_INT(parse("  {\"ok\":true,\"chains\":[{\"procs\":[{\"pid\":1}]}]}\n", &cs, &err),
		     0);
	CHECK_EQ_INT(cs.n, 1);
	if (cs.n == 1) {
		CHECK_EQ_STR(cs.v[0].origin_host, "");
		CHECK_EQ_INT(cs.v[0].procs[0].pid, 1);
		CHECK_EQ_STR(cs.v[0].procs[0].host, "");
		CHECK_EQ_STR(cs.v[0].procs[0].exe, "");
	}
	ht_chainset_free(&cs);
	/* length given includes the NUL terminator */
	CHECK_EQ_INT(ht_chains_from_json("{\"chains\":[]}", 14, &cs, &err), 0);
	ht_chainset_free(&cs);
	/* a length shorter than the string: only that prefix is read */
	CHECK_EQ_INT(ht_chains_from_json("{\"chains\":[]}garbage", 13, &cs, &err), 0);
	ht_chainset_free(&cs);
	/* unknown fields are ignored */
	CHECK_EQ_INT(parse("{\"chains\":[{\"x\":[1,{}],\"procs\":[{\"pid\":2,\"y\":{}}]}],\"z\":1}",
			   &cs, &err),
		     0);
	ht_chainset_free(&cs);
}

static const struct {
	const char *json;
	const char *err;
} BAD[] = {
	{"", "answer is not valid JSON"},
	{"{", "answer is not valid JSON"},
	{"nul", "answer is not valid JSON"},
	{"[]", "answer is not a JSON object"},
	{"42", "answer is not a JSON object"},
	{"{\"chains\":[]} x", "answer has trailing garbage after the JSON object"},
	{"{\"ok\":false,\"error\":\"boom\"}", "answer is not ok"},
	{"{\"ok\":1,\"chains\":[]}", "answer ok is not a boolean"},
	{"{\"ok\":true}", "answer has no chains"},
	{"{\"chains\":{}}", "answer chains is not an array"},
	{"{\"chains\":null}", "answer chains is not an array"},
	{"{\"chains\":[1]}", "chain is not an object"},
	{"{\"chains\":[{}]}", "chain has no procs"},
	{"{\"chains\":[{\"procs\":{}}]}", "chain procs is not an array"},
	{"{\"chains\":[{\"procs\":[],\"origin_host\":5}]}", "chain origin_host is not a string"},
	{"{\"chains\":[{\"procs\":[],\"src\":\"10.0.0.1\"}]}",
	 "chain src is not an endpoint (ADDR:PORT or [ADDR6]:PORT)"},
	{"{\"chains\":[{\"procs\":[],\"src\":7}]}",
	 "chain src is not an endpoint (ADDR:PORT or [ADDR6]:PORT)"},
	{"{\"chains\":[{\"procs\":[],\"dst\":\"10.0.0.1:99999\"}]}",
	 "chain dst is not an endpoint (ADDR:PORT or [ADDR6]:PORT)"},
	{"{\"chains\":[{\"procs\":[],\"complete\":\"yes\"}]}", "chain complete is not a boolean"},
	{"{\"chains\":[{\"procs\":[],\"fallback\":0}]}", "chain fallback is not a boolean"},
	{"{\"chains\":[{\"procs\":[3]}]}", "chain proc is not an object"},
	{"{\"chains\":[{\"procs\":[{}]}]}", "chain proc has no pid"},
	{"{\"chains\":[{\"procs\":[{\"pid\":\"1\"}]}]}", "chain proc pid is not a valid process id"},
	{"{\"chains\":[{\"procs\":[{\"pid\":-1}]}]}", "chain proc pid is not a valid process id"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1.5}]}]}", "chain proc pid is not a valid process id"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1e300}]}]}", "chain proc pid is not a valid process id"},
	{"{\"chains\":[{\"procs\":[{\"pid\":2147483648}]}]}",
	 "chain proc pid is not a valid process id"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"uid\":-2}]}]}", "chain proc uid is not a valid user id"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"host\":[]}]}]}", "chain proc host is not a string"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"exe\":true}]}]}", "chain proc exe is not a string"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"sha256\":1}]}]}", "chain proc sha256 is not a string"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"sha256\":\"abc\"}]}]}",
	 "chain proc sha256 is not 64 hex digits"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"sha256\":"
	 "\"g000000000000000000000000000000000000000000000000000000000000000\"}]}]}",
	 "chain proc sha256 is not 64 hex digits"},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"seen\":\"magic\"}]}]}",
	 "chain proc seen is not \"shim\", \"kernel\" or \"kernel-events\""},
	{"{\"chains\":[{\"procs\":[{\"pid\":1,\"seen\":false}]}]}", "chain proc seen is not a string"},
	{"{\"holders_incomplete\":1,\"chains\":[]}", "answer holders_incomplete is not a boolean"},
	/* an error in a later chain, after good ones were decoded (no leak: ASan) */
	{"{\"chains\":[{\"procs\":[{\"pid\":1},{\"pid\":2}]},{\"procs\":[{\"pid\":1},{}]}]}",
	 "chain proc has no pid"},
};

static void malformed(void)
{
	for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++) {
		struct ht_chainset cs = {.n = 7, .v = (struct ht_chain *)&cs};
		const char *err = NULL;
		int rc = parse(BAD[i].json, &cs, &err);
		if (rc != -EINVAL || !err || strcmp(err, BAD[i].err) != 0)
			fprintf(stderr, "    case %zu: %s\n", i, BAD[i].json);
		CHECK_EQ_INT(rc, -EINVAL);
		CHECK_EQ_STR(err, BAD[i].err);
		CHECK_EQ_INT(cs.n, 0);
		CHECK(cs.v == NULL);
	}
	{
		/* the collector's search ran out: read, for the guard's decision */
		struct ht_chainset cs;
		const char *err = NULL;
		static const char gap[] = "{\"ok\":true,\"holders_incomplete\":true,"
					  "\"chains\":[{\"procs\":[{\"pid\":1}]}]}";
		CHECK_EQ_INT(parse(gap, &cs, &err), 0);
		CHECK_EQ_INT(cs.local_gap, 1);
		ht_chainset_free(&cs);
		static const char nogap[] = "{\"ok\":true,\"chains\":[{\"procs\":[{\"pid\":1}]}]}";
		CHECK_EQ_INT(parse(nogap, &cs, &err), 0);
		CHECK_EQ_INT(cs.local_gap, 0);
		ht_chainset_free(&cs);
	}
	{
		struct ht_chainset cs;
		CHECK_EQ_INT(ht_chains_from_json(NULL, 0, &cs, NULL), -EINVAL);
		CHECK_EQ_INT(ht_chains_from_json("{}", 2, NULL, NULL), -EINVAL);
	}
}

static char *repeat_json(const char *head, const char *item, size_t n, const char *tail)
{
	size_t hl = strlen(head), il = strlen(item), tl = strlen(tail);
	char *s = malloc(hl + n * (il + 1) + tl + 1), *p = s;

	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++) {
		if (i)
			*p++ = ',';
		memcpy(p, item, il);
		p += il;
	}
	memcpy(p, tail, tl + 1);
	return s;
}

static void hostile_sizes(void)
{
	struct ht_chainset cs;
	const char *err;
	char *s;

	/* 64 chains fine, 65 refused */
	s = repeat_json("{\"chains\":[", "{\"procs\":[{\"pid\":1}]}", 64, "]}");
	CHECK_EQ_INT(parse(s, &cs, &err), 0);
	CHECK_EQ_INT(cs.n, 64);
	ht_chainset_free(&cs);
	free(s);
	s = repeat_json("{\"chains\":[", "{\"procs\":[{\"pid\":1}]}", 65, "]}");
	CHECK_EQ_INT(parse(s, &cs, &err), -EINVAL);
	CHECK_EQ_STR(err, "answer has too many chains (limit 64)");
	free(s);
	/* 256 procs fine, 257 refused */
	s = repeat_json("{\"chains\":[{\"procs\":[", "{\"pid\":9,\"host\":\"h\"}", 256, "]}]}");
	CHECK_EQ_INT(parse(s, &cs, &err), 0);
	CHECK_EQ_INT(cs.n == 1 ? cs.v[0].nprocs : 0, 256);
	ht_chainset_free(&cs);
	free(s);
	s = repeat_json("{\"chains\":[{\"procs\":[", "{\"pid\":9}", 257, "]}]}");
	CHECK_EQ_INT(parse(s, &cs, &err), -EINVAL);
	CHECK_EQ_STR(err, "chain has too many procs (limit 256)");
	free(s);
	/* long strings are truncated, NUL-terminated */
	{
		size_t big = 100000;
		char *longs = malloc(big + 1);
		memset(longs, 'A', big);
		longs[big] = '\0';
		char *j = malloc(big * 3 + 200);
		snprintf(j, big * 3 + 200,
			 "{\"chains\":[{\"origin_host\":\"%s\",\"procs\":[{\"pid\":1,\"host\":\"%s\","
			 "\"exe\":\"/%s\"}]}]}",
			 longs, longs, longs);
		CHECK_EQ_INT(parse(j, &cs, &err), 0);
		if (err)
			fprintf(stderr, "    err: %s\n", err);
		if (cs.n == 1) {
			CHECK_EQ_INT(strlen(cs.v[0].origin_host), HT_HOST_MAX - 1);
			CHECK_EQ_INT(strlen(cs.v[0].procs[0].host), HT_HOST_MAX - 1);
			CHECK_EQ_INT(strlen(cs.v[0].procs[0].exe), HT_EXE_MAX - 1);
			CHECK(cs.v[0].procs[0].exe[0] == '/');
		}
		ht_chainset_free(&cs);
		free(j);
		free(longs);
	}
	/* deep nesting is refused by the JSON parser, not by the stack */
	s = malloc(5001);
	memset(s, '[', 5000);
	s[5000] = '\0';
	CHECK_EQ_INT(parse(s, &cs, &err), -EINVAL);
	free(s);
	/* hostile nesting inside an ignored field */
	{
		char *deep = malloc(501);
		memset(deep, '[', 500);
		deep[500] = '\0';
		size_t dl = strlen(deep);
		char *j = malloc(dl * 2 + 64);
		char *p = j + sprintf(j, "{\"x\":%s", deep);
		for (size_t i = 0; i < 500; i++)
			*p++ = ']';
		strcpy(p, ",\"chains\":[]}");
		CHECK_EQ_INT(parse(j, &cs, &err), 0);
		if (err)
			fprintf(stderr, "    err: %s\n", err);
		ht_chainset_free(&cs);
		free(j);
		free(deep);
	}
}

static void endpoint_parse_good(void)
{
	struct ht_endpoint ep;
	char b[HT_ENDPOINT_STRLEN];
	const char *roundtrip[] = {"1.2.3.4:22", "0.0.0.0:0", "255.255.255.255:65535",
				   "[::1]:22", "[2001:db8::1]:8000",
				   "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"};

	for (size_t i = 0; i < sizeof(roundtrip) / sizeof(roundtrip[0]); i++) {
		CHECK_EQ_INT(ht_endpoint_parse(roundtrip[i], &ep), 0);
		CHECK_EQ_STR(ht_endpoint_format(&ep, b, sizeof(b)), roundtrip[i]);
	}
	CHECK_EQ_INT(ht_endpoint_parse("10.0.0.1:51234", &ep), 0);
	CHECK_EQ_INT(ep.family, AF_INET);
	CHECK_EQ_INT(ep.port, 51234);
	CHECK(ep.addr[0] == 10 && ep.addr[3] == 1);
	CHECK_EQ_INT(ht_endpoint_parse("[2001:DB8:0:0::1]:22", &ep), 0);
	CHECK_EQ_STR(ht_endpoint_format(&ep, b, sizeof(b)), "[2001:db8::1]:22");
	/* IPv4-mapped: normalised to IPv4 */
	CHECK_EQ_INT(ht_endpoint_parse("[::ffff:10.0.0.2]:40312", &ep), 0);
	CHECK_EQ_INT(ep.family, AF_INET);
	CHECK_EQ_STR(ht_endpoint_format(&ep, b, sizeof(b)), "10.0.0.2:40312");
	CHECK_EQ_INT(ht_endpoint_parse("1.2.3.4:0022", &ep), 0);
	CHECK_EQ_INT(ep.port, 22);
}

static void endpoint_parse_bad(void)
{
	const char *bad[] = {"", ":", "1.2.3.4", "1.2.3.4:", "1.2.3.4:65536", "1.2.3.4:99999",
			     "1.2.3.4:-1", "1.2.3.4:+22", "1.2.3.4:22 ", " 1.2.3.4:22",
			     "1.2.3.4:2x", "1.2.3.4:0x16", "1.2.3:22", "1.2.3.4.5:22",
			     "256.1.1.1:22", "host:22", "::1:22", "[::1]", "[::1]22", "[::1]:",
			     "[::1:22", "::1]:22", "[1.2.3.4]:22", "[]:22", "[::1]:22:",
			     "[fe80::1%eth0]:22", "1.2.3.4:100000", "1.2.3.4:222222",
			     "[::1]:65536", "[gggg::1]:1",
			     "[0000:0000:0000:0000:0000:0000:0000:0000:0000]:1"};
	struct ht_endpoint ep = {AF_INET, {9}, 7};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = ht_endpoint_parse(bad[i], &ep);
		if (rc != -EINVAL)
			fprintf(stderr, "    accepted \"%s\"\n", bad[i]);
		CHECK_EQ_INT(rc, -EINVAL);
	}
	/* a failed parse leaves the output alone */
	CHECK_EQ_INT(ep.family, AF_INET);
	CHECK_EQ_INT(ep.port, 7);
	CHECK_EQ_INT(ht_endpoint_parse(NULL, &ep), -EINVAL);
	CHECK_EQ_INT(ht_endpoint_parse("1.2.3.4:1", NULL), -EINVAL);
	{
		char longs[300];
		memset(longs, '1', sizeof(longs) - 1);
		longs[0] = '[';
		longs[sizeof(longs) - 1] = '\0';
		CHECK_EQ_INT(ht_endpoint_parse(longs, &ep), -EINVAL);
	}
}

static void endpoint_format_edges(void)
{
	struct ht_endpoint ep = {0};
	char b[HT_ENDPOINT_STRLEN], small[6];

	CHECK_EQ_STR(ht_endpoint_format(&ep, b, sizeof(b)), "-");
	CHECK_EQ_STR(ht_endpoint_format(NULL, b, sizeof(b)), "-");
	ep.family = 99;
	CHECK_EQ_STR(ht_endpoint_format(&ep, b, sizeof(b)), "-");
	CHECK_EQ_INT(ht_endpoint_parse("10.0.0.1:22", &ep), 0);
	CHECK_EQ_STR(ht_endpoint_format(&ep, small, sizeof(small)), "10.0."); /* truncated */
	CHECK(ht_endpoint_format(&ep, b, 0) == b);
	CHECK(ht_endpoint_format(&ep, NULL, 10) == NULL);
}

/* ht_chains_read: why, as a code — what the guard routes on */
static void read_codes(void)
{
	struct ht_chainset cs;
	const char *err;
	enum ht_qerr code = HT_QE_COUNT;
	char *s;

	CHECK_EQ_INT(ht_chains_read(GOOD, strlen(GOOD), &cs, &code, &err), 0);
	CHECK_EQ_INT(code, HT_QE_OK);
	CHECK(err == NULL);
	ht_chainset_free(&cs);
	static const struct {
		const char *json;
		enum ht_qerr code;
		const char *err;
	} cases[] = {
		{"{\"id\":3,\"ok\":false,\"error\":\"answer too large\",\"code\":\"too_large\"}",
		 HT_QE_TOO_LARGE, "answer is not ok"},
		{"{\"ok\":false,\"error\":\"x\",\"code\":\"no_conn\"}", HT_QE_NO_CONN, "answer is not ok"},
		{"{\"ok\":false,\"error\":\"pushed\",\"code\":\"pushed\",\"pushed\":true}", HT_QE_PUSHED,
		 "answer is not ok"},
		/* an older collector, an unknown code, a code that is no string, "ok" */
		{"{\"ok\":false,\"error\":\"answer too large\"}", HT_QE_OTHER, "answer is not ok"},
		{"{\"ok\":false,\"code\":\"soon_new\"}", HT_QE_OTHER, "answer is not ok"},
		{"{\"ok\":false,\"code\":7}", HT_QE_OTHER, "answer is not ok"},
		{"{\"ok\":false,\"code\":\"ok\"}", HT_QE_OTHER, "answer is not ok"},
		/* the first of duplicates, as the head parser reads it */
		{"{\"ok\":false,\"code\":\"no_proc\",\"code\":\"too_large\"}", HT_QE_NO_PROC,
		 "answer is not ok"},
		/* a code with "ok":true is no failure */
		{"{\"ok\":true,\"code\":\"too_large\",\"chains\":[]}", HT_QE_OK, NULL},
		{"{\"ok\":true}", HT_QE_BAD_ANSWER, "answer has no chains"},
		{"[1]", HT_QE_BAD_ANSWER, "answer is not a JSON object"},
		{"{\"chains\":[", HT_QE_BAD_ANSWER, "answer is not valid JSON"},
		{"{\"chains\":[{\"procs\":[{}]}]}", HT_QE_BAD_ANSWER, "chain proc has no pid"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		code = HT_QE_COUNT;
		int rc = ht_chains_read(cases[i].json, strlen(cases[i].json), &cs, &code, &err);
		if (code != cases[i].code)
			fprintf(stderr, "    case %zu: %s\n", i, cases[i].json);
		CHECK_EQ_INT(code, cases[i].code);
		CHECK_EQ_INT(rc, cases[i].code == HT_QE_OK ? 0 : -EINVAL);
		if (cases[i].err)
			CHECK_EQ_STR(err, cases[i].err);
		if (rc == 0)
			ht_chainset_free(&cs);
	}
	s = repeat_json("{\"chains\":[", "{\"procs\":[{\"pid\":1}]}", 65, "]}");
	CHECK_EQ_INT(ht_chains_read(s, strlen(s), &cs, &code, &err), -EINVAL);
	CHECK_EQ_INT(code, HT_QE_TOO_MANY_CHAINS);
	free(s);
	/* a chain with too many processes is a bad answer (as its text always
	 * routed: the collector never sends one) */
	s = repeat_json("{\"chains\":[{\"procs\":[", "{\"pid\":1}", 257, "]}]}");
	CHECK_EQ_INT(ht_chains_read(s, strlen(s), &cs, &code, &err), -EINVAL);
	CHECK_EQ_INT(code, HT_QE_BAD_ANSWER);
	free(s);
	/* above 16 MiB: refused unread */
	CHECK_EQ_INT(ht_chains_read("{}", (16u << 20) + 1, &cs, &code, &err), -EINVAL);
	CHECK_EQ_INT(code, HT_QE_TOO_LARGE);
	CHECK_EQ_STR(err, "answer too large");
	/* code and err may be NULL */
	CHECK_EQ_INT(ht_chains_read(GOOD, strlen(GOOD), &cs, NULL, NULL), 0);
	ht_chainset_free(&cs);
	CHECK_EQ_INT(ht_chains_read(NULL, 0, &cs, &code, NULL), -EINVAL);
	CHECK_EQ_INT(code, HT_QE_BAD_ANSWER);
}

/* seen: kernel-events (the kernel event source gave its creator) is a
 * kernel-only process to policy, and marked as such */
static void seen_kernel_events(void)
{
	struct ht_chainset cs;
	const char *err = "x";
	const char *j = "{\"chains\":[{\"origin_host\":\"h1\",\"procs\":["
			"{\"pid\":1,\"seen\":\"shim\"},{\"pid\":2,\"seen\":\"kernel-events\"},"
			"{\"pid\":3,\"seen\":\"kernel\"}]}]}";
	CHECK_EQ_INT(parse(j, &cs, &err), 0);
	CHECK_EQ_INT(cs.n, 1);
	if (cs.n != 1 || cs.v[0].nprocs != 3)
		return;
	CHECK_EQ_INT(cs.v[0].procs[0].kernel_only, 0);
	CHECK_EQ_INT(cs.v[0].procs[0].kernel_events, 0);
	CHECK_EQ_INT(cs.v[0].procs[1].kernel_only, 1);
	CHECK_EQ_INT(cs.v[0].procs[1].kernel_events, 1);
	CHECK_EQ_INT(cs.v[0].procs[2].kernel_only, 1);
	CHECK_EQ_INT(cs.v[0].procs[2].kernel_events, 0);
	CHECK_EQ_INT(cs.v[0].fallback, 1);
	ht_chainset_free(&cs);
}

T_MAIN("chainjson", T(good_answer), T(good_minimal), T(seen_kernel_events), T(malformed), T(hostile_sizes),
       T(endpoint_parse_good), T(endpoint_parse_bad), T(endpoint_format_edges), T(read_codes))
