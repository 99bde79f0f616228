/*
 * inquiry_test.c — the pure parts of the trace inquiry service
 * (collector/inquiry.c): request validation, canonical 4-tuples, conn leaves
 * and their merge (with chain_reflatten), the paper's format, the secret check,
 * [inquiry] configuration keys.
 */
#include <stdlib.h>

#include "../../collector/chain.h"
#include "../../collector/inquiry.h"
#include "../../collector/parts.h"
#include "test.h"

static int parse(const char *s, struct inq_req *r, char *err)
{
	return inq_parse_request(s, strlen(s), r, err, 160);
}

static void request_good(void)
{
	struct inq_req r;
	char err[160];
	CHECK_EQ_INT(parse("{\"local\":\"10.0.0.1:51234\",\"remote\":\"10.0.0.2:22\",\"depth\":3,"
			   "\"deadline_ms\":900,\"visited\":[\"a\",\"b\"],\"format\":\"paper\",\"x\":1}",
			   &r, err), 0);
	CHECK_EQ_STR(r.local, "10.0.0.1:51234");
	CHECK_EQ_STR(r.remote, "10.0.0.2:22");
	CHECK_EQ_INT(r.depth, 3);
	CHECK_EQ_INT(r.deadline_ms, 900);
	CHECK_EQ_INT(r.paper, 1);
	CHECK_EQ_INT(cJSON_GetArraySize(r.visited), 2);
	inq_req_free(&r);
	CHECK_EQ_INT(parse("{\"local\":\"[fd00::1]:5\",\"remote\":\"[fd00::2]:22\"}", &r, err), 0);
	CHECK_EQ_INT(r.depth, -1);
	CHECK_EQ_INT(r.deadline_ms, -1);
	CHECK_EQ_INT(r.paper, 0);
	CHECK_EQ_INT(cJSON_GetArraySize(r.visited), 0);
	CHECK_EQ_INT(r.age_ms, 0);
	inq_req_free(&r);
	/* version 2: when the asker saw the connection */
	CHECK_EQ_INT(parse("{\"v\":2,\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\",\"age_ms\":12000}",
			   &r, err), 0);
	CHECK_EQ_INT(r.age_ms, 12000);
	inq_req_free(&r);
	CHECK_EQ_INT(parse("{\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\",\"age_ms\":-1}", &r, err), -1);
	CHECK_EQ_INT(parse("{\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\",\"age_ms\":86400001}", &r, err), -1);
	CHECK_EQ_INT(r.v, 0); /* (a refused request is zeroed) */
	CHECK_EQ_INT(parse("{\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\"}", &r, err), 0);
	CHECK_EQ_INT(r.v, 1); /* absent: version 1 */
	CHECK_EQ_STR(r.have, "");
	inq_req_free(&r);
	/* version 3: the certificates the asker's judge holds (format 2 parts) */
	CHECK_EQ_INT(parse("{\"v\":3,\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\","
			   "\"have\":\"abcdefghijkl-_0123456789\"}", &r, err), 0);
	CHECK_EQ_INT(r.v, 3);
	CHECK_EQ_STR(r.have, "abcdefghijkl-_0123456789");
	inq_req_free(&r);
	static const char *const bad_have[] = {
		"\"have\":\"abcdefghijk\"",              /* not a multiple of 12 */
		"\"have\":\"abcdefghijk=\"",             /* not base64url */
		"\"have\":\"abcdefghijk+\"",
		"\"have\":7",
		"\"have\":[\"abcdefghijkl\"]",
		"\"v\":0", "\"v\":1.5", "\"v\":\"3\"", "\"v\":1001",
	};
	for (size_t i = 0; i < sizeof(bad_have) / sizeof(bad_have[0]); i++) {
		char b[512];
		snprintf(b, sizeof(b), "{\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\",%s}", bad_have[i]);
		CHECK_EQ_INT(parse(b, &r, err), -1);
	}
	char b[512], h[PART_HAVE_CHARS + 13];
	memset(h, 'A', sizeof(h) - 1);
	h[sizeof(h) - 1] = 0; /* one entry too many */
	snprintf(b, sizeof(b), "{\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\",\"have\":\"%s\"}", h);
	CHECK_EQ_INT(parse(b, &r, err), -1);
	h[PART_HAVE_CHARS] = 0; /* exactly PART_HAVE_N */
	snprintf(b, sizeof(b), "{\"local\":\"10.0.0.1:5\",\"remote\":\"10.0.0.2:22\",\"have\":\"%s\"}", h);
	CHECK_EQ_INT(parse(b, &r, err), 0);
	inq_req_free(&r);
}

static void request_bad(void)
{
	static const char *const bad[] = {
		"", "{", "[]", "null", "{\"local\":\"10.0.0.1:1\"}",
		"{\"local\":\"10.0.0.1\",\"remote\":\"10.0.0.2:22\"}",
		"{\"local\":\"10.0.0.1:0\",\"remote\":\"10.0.0.2:22\"}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"[fd00::2]:22\"}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"depth\":-1}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"depth\":1.5}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"depth\":\"3\"}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"deadline_ms\":0}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"visited\":\"x\"}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"visited\":[1]}",
		"{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"format\":\"xml\"}",
		"{\"local\":7,\"remote\":\"10.0.0.2:22\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct inq_req r;
		char err[160] = "";
		int rv = parse(bad[i], &r, err);
		if (rv == 0)
			fprintf(stderr, "    accepted: %s\n", bad[i]);
		CHECK_EQ_INT(rv, -1);
		CHECK(err[0] != 0);
		CHECK(r.visited == NULL);
	}
	/* too many visited entries */
	char *big = malloc(INQ_BODY_MAX + 10), err[160];
	struct inq_req r;
	size_t n = (size_t)sprintf(big, "{\"local\":\"10.0.0.1:1\",\"remote\":\"10.0.0.2:22\",\"visited\":[");
	for (int i = 0; i <= INQ_VISITED_MAX; i++)
		n += (size_t)sprintf(big + n, "%s\"v%d\"", i ? "," : "", i);
	n += (size_t)sprintf(big + n, "]}");
	CHECK_EQ_INT(inq_parse_request(big, n, &r, err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_parse_request(big, INQ_BODY_MAX + 1, &r, err, sizeof(err)), -1);
	free(big);
}

static void canon(void)
{
	char a[160], b[160];
	CHECK_EQ_INT(inq_canon("10.0.0.2:22", "10.0.0.1:51234", a, sizeof(a)), 0);
	CHECK_EQ_INT(inq_canon("10.0.0.1:51234", "10.0.0.2:22", b, sizeof(b)), 0);
	CHECK_EQ_STR(a, b);
	CHECK_EQ_STR(a, "10.0.0.1:51234-10.0.0.2:22");
	CHECK_EQ_INT(inq_canon("[FD00::0001]:22", "[fd00::2]:1", a, sizeof(a)), 0);
	CHECK_EQ_STR(a, "[fd00::1]:22-[fd00::2]:1");
	CHECK_EQ_INT(inq_canon("?", "10.0.0.1:1", a, sizeof(a)), -1);
	CHECK_EQ_INT(inq_canon(NULL, "10.0.0.1:1", a, sizeof(a)), -1);
	cJSON *v = cJSON_CreateArray();
	cJSON_AddItemToArray(v, cJSON_CreateString("10.0.0.1:51234-10.0.0.2:22"));
	CHECK(inq_visited_has(v, b));
	CHECK(!inq_visited_has(v, a));
	cJSON_Delete(v);
}

/* h2's answer about its ssh to h3: one conn leaf from h1 */
static const char H2[] =
	"{\"ok\":true,\"host\":\"h2\",\"subject\":{\"pid\":30,\"local\":\"10.0.0.2:40000\","
	"\"remote\":\"10.0.0.3:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":30,"
	"\"exe\":\"/usr/bin/ssh\",\"sha256\":\"s30\",\"sources\":[{\"via\":\"creator\",\"node\":"
	"{\"type\":\"proc\",\"host\":\"h2\",\"pid\":20,\"exe\":\"/usr/sbin/sshd\",\"sha256\":\"s20\","
	"\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h2\",\"dir\":\"in\","
	"\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:51234\",\"upstream\":null,"
	"\"complete\":false,\"reason\":\"not followed\"}}]}}]},\"chains\":[]}";
/* h1's answer about that connection: a local origin */
static const char H1[] =
	"{\"ok\":true,\"host\":\"h1\",\"subject\":{\"pid\":10,\"local\":\"10.0.0.1:51234\","
	"\"remote\":\"10.0.0.2:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h1\",\"pid\":10,"
	"\"exe\":\"/usr/bin/ssh\",\"sha256\":\"s10\",\"sources\":[{\"via\":\"local\",\"node\":"
	"{\"type\":\"origin\",\"host\":\"h1\"}}]},\"chains\":[]}";

static void leaves_and_merge(void)
{
	cJSON *a = cJSON_Parse(H2), *up = cJSON_Parse(H1), *lv[4];
	CHECK(a && up);
	CHECK_EQ_INT(chain_reflatten(up), 0);
	CHECK_EQ_INT(inq_answer_valid(up), 0);
	CHECK_EQ_INT(inq_answer_complete(up), 1);
	CHECK_EQ_INT(inq_leaves(a, lv, 4), 1);
	inq_fill(lv[0], up, 1, NULL);
	CHECK_EQ_INT(inq_leaves(a, lv, 4), 0); /* followed now */
	CHECK_EQ_INT(chain_reflatten(a), 0);
	cJSON *chains = cJSON_GetObjectItem(a, "chains");
	CHECK_EQ_INT(cJSON_GetArraySize(chains), 1);
	cJSON *c = cJSON_GetArrayItem(chains, 0);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "origin_host")), "h1");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "src")), "10.0.0.1:51234");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "dst")), "10.0.0.3:22");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c, "complete")));
	cJSON *procs = cJSON_GetObjectItem(c, "procs");
	CHECK_EQ_INT(cJSON_GetArraySize(procs), 3);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(procs, 0), "host")), "h1");
	CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(procs, 1), "pid")->valueint, 20);
	CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(procs, 2), "pid")->valueint, 30);
	CHECK(cJSON_GetObjectItem(lv[0], "reason") == NULL);
	CHECK_EQ_INT(inq_answer_complete(a), 1);
	cJSON_Delete(a);

	/* a branch that ends: loop / no answer → incomplete, origin = the far address */
	a = cJSON_Parse(H2);
	CHECK_EQ_INT(inq_leaves(a, lv, 4), 1);
	inq_fill(lv[0], NULL, 0, "loop");
	chain_reflatten(a);
	c = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "chains"), 0);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "origin_host")), "10.0.0.1");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(c, "complete")));
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(lv[0], "reason")), "loop");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(lv[0], "upstream")));
	CHECK_EQ_INT(inq_answer_complete(a), 0);
	cJSON_Delete(a);

	/* garbage is not a valid upstream answer */
	cJSON *g = cJSON_Parse("{\"ok\":true}");
	CHECK_EQ_INT(inq_answer_valid(g), -1);
	cJSON_Delete(g);
	CHECK_EQ_INT(inq_answer_valid(NULL), -1);
}

static void paper(void)
{
	cJSON *a = cJSON_Parse(H2), *up = cJSON_Parse(H1), *lv[2];
	chain_reflatten(up);
	inq_leaves(a, lv, 2);
	inq_fill(lv[0], up, 1, NULL);
	chain_reflatten(a);
	cJSON *p = inq_to_paper(a);
	CHECK(p != NULL);
	char *s = cJSON_PrintUnformatted(p);
	CHECK_EQ_STR(s,
		     "{\"trace\":["
		     "{\"type\":\"ip\",\"ipaddr\":\"10.0.0.1\",\"port\":51234},"
		     "{\"type\":\"ip\",\"ipaddr\":\"10.0.0.2\",\"port\":22},"
		     "{\"type\":\"ps\",\"pid\":20,\"name\":\"/usr/sbin/sshd\",\"sha1sum\":\"s20\"},"
		     "{\"type\":\"ps\",\"pid\":30,\"name\":\"/usr/bin/ssh\",\"sha1sum\":\"s30\"},"
		     "{\"type\":\"ip\",\"ipaddr\":\"10.0.0.2\",\"port\":40000},"
		     "{\"type\":\"ip\",\"ipaddr\":\"10.0.0.3\",\"port\":22}],"
		     "\"prev\":[{\"trace\":["
		     "{\"type\":\"ps\",\"pid\":10,\"name\":\"/usr/bin/ssh\",\"sha1sum\":\"s10\"},"
		     "{\"type\":\"ip\",\"ipaddr\":\"10.0.0.1\",\"port\":51234},"
		     "{\"type\":\"ip\",\"ipaddr\":\"10.0.0.2\",\"port\":22}],"
		     "\"prev\":[],\"hostname\":\"h1\"}],\"hostname\":\"h2\"}");
	free(s);
	cJSON_Delete(p);
	cJSON_Delete(a);
	CHECK(inq_to_paper(NULL) == NULL);
	cJSON *e = cJSON_Parse("{\"host\":\"x\",\"tree\":{\"type\":\"conn\",\"remote\":\"[fd00::1]:5\",\"local\":\"bad\"}}");
	p = inq_to_paper(e);
	s = cJSON_PrintUnformatted(p);
	CHECK_EQ_STR(s, "{\"trace\":[{\"type\":\"ip\",\"ipaddr\":\"fd00::1\",\"port\":5}],\"prev\":[],\"hostname\":\"x\"}");
	free(s);
	cJSON_Delete(p);
	cJSON_Delete(e);
}

/* the shared secret is gone (issue 11): its keys are a configuration error
 * that names [fleet]; a request's nonce is base64url, 1..23 characters */
static void secret(void)
{
	struct inq_conf c;
	char err[256];
	inq_conf_defaults(&c);
	CHECK_EQ_INT(inq_conf_key(&c, "secret", "abc", err, sizeof(err)), -1);
	CHECK(strstr(err, "[fleet]") != NULL);
	CHECK_EQ_INT(inq_conf_key(&c, "secret_file", "/etc/x", err, sizeof(err)), -1);
	CHECK(strstr(err, "[fleet]") != NULL);
	CHECK(inq_nonce_ok("AAAAAAAAAAAAAAAAAAAAAA"));
	CHECK(inq_nonce_ok("a-_9"));
	CHECK(!inq_nonce_ok(""));
	CHECK(!inq_nonce_ok("AAAAAAAAAAAAAAAAAAAAAAAA"));
	CHECK(!inq_nonce_ok("a+b"));
	struct inq_req r;
	const char *b1 = "{\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:5000\",\"nonce\":\"abc_-1\"}";
	CHECK_EQ_INT(inq_parse_request(b1, strlen(b1), &r, err, sizeof(err)), 0);
	CHECK(!strcmp(r.nonce, "abc_-1"));
	inq_req_free(&r);
	const char *b2 = "{\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:5000\",\"nonce\":\"a/b\"}";
	CHECK_EQ_INT(inq_parse_request(b2, strlen(b2), &r, err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_fleet_key(&c, "lab_plain", "maybe", err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_fleet_key(&c, "lab_plain", "yes", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.fleet.lab_plain, 1);
	CHECK_EQ_INT(inq_fleet_key(&c, "ca", "rel", err, sizeof(err)), -1);
}

static void conf(void)
{
	struct inq_conf c;
	char err[160];
	inq_conf_defaults(&c);
	CHECK_EQ_INT(c.enabled, 1);
	CHECK_EQ_INT(c.port, 8471);
	CHECK_EQ_INT(c.max_depth, 8);
	CHECK_EQ_INT(c.timeout_ms, 2000);
	CHECK_EQ_INT(c.mark, 0x20000000);
	CHECK_EQ_INT(inq_conf_key(&c, "listen", "no", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.enabled, 0);
	CHECK_EQ_INT(inq_conf_key(&c, "listen", "tcp://x", err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_conf_key(&c, "mark", "0x10", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.mark, 16);
	CHECK_EQ_INT(inq_conf_key(&c, "mark", "zz", err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_conf_key(&c, "port", "0", err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_conf_key(&c, "timeout_ms", "5", err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_conf_key(&c, "bogus", "1", err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_conf_key(&c, "listen", "https://[::]:8471", err, sizeof(err)), 0);
	CHECK_EQ_INT(inq_conf_key(&c, "max_conns", "0", err, sizeof(err)), -1);
	CHECK_EQ_INT(inq_conf_key(&c, "max_conns", "300", err, sizeof(err)), 0);
	CHECK_EQ_INT(c.max_conns, 300);
	CHECK_EQ_INT(inq_conf_finish(&c, err, sizeof(err)), 0);
	inq_conf_defaults(&c);
	CHECK_EQ_INT(inq_fleet_key(&c, "ca", "/nonexistent/ca.crt", err, sizeof(err)), 0);
	CHECK_EQ_INT(inq_conf_finish(&c, err, sizeof(err)), 0);
	CHECK_EQ_INT(inq_fleet_ready(&c, err, sizeof(err)), -1);
	CHECK(strstr(err, "/nonexistent/ca.crt") != NULL);
}

/* a leaf refused by the far host: a version-2 host's 404 says why, a
 * version-1 host's is named as such (docs/inquiry.md "Versions") */
static void refused_reason(void)
{
	char why[128];
	const char *v2 = "{\"ok\":false,\"error\":\"connection closed 72 s ago: beyond history_window (60 s)\",\"v\":2}";
	inq_refused_reason(404, v2, strlen(v2), why, sizeof(why));
	CHECK_EQ_STR(why, "refused: 404: connection closed 72 s ago: beyond history_window (60 s)");
	const char *v1 = "{\"ok\":false,\"error\":\"no such connection\"}";
	inq_refused_reason(404, v1, strlen(v1), why, sizeof(why));
	CHECK_EQ_STR(why, "refused: 404 (far host: inquiry v1, no history of closed connections)");
	inq_refused_reason(404, NULL, 0, why, sizeof(why));
	CHECK_EQ_STR(why, "refused: 404 (far host: inquiry v1, no history of closed connections)");
	inq_refused_reason(403, v2, strlen(v2), why, sizeof(why));
	CHECK_EQ_STR(why, "refused: 403");
	/* a hostile text: cut, and nothing unprintable passes */
	char big[600];
	snprintf(big, sizeof(big), "{\"v\":2,\"error\":\"\\u0001%0300d\"}", 7);
	inq_refused_reason(404, big, strlen(big), why, sizeof(why));
	CHECK(strlen(why) <= 128 && why[14] == '?');
	char *e = inq_error_json("x");
	CHECK(e && strstr(e, "\"v\":3"));
	free(e);
}

T_MAIN("inquiry", T(refused_reason), T(request_good), T(request_bad), T(canon), T(leaves_and_merge), T(paper),
       T(secret), T(conf))
