/*
 * cli_test.c — the CLI's pure parts: collector answers (fixed JSON) rendered
 * as text by cli/chainfmt.c; and cli/ask.c's question to the collector (a
 * stub REP socket in a thread): the request the codec builds, and the exit
 * status routed by the answer's code (enum ht_qerr), never by its text.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "../../cli/chainfmt.h"
#include "../../cli/cli.h"
#include "test.h"

typedef int (*fmt_fn)(const char *, FILE *);

/* Renders json with fn; returns the text (caller frees), *rc the result. */
static char *render(fmt_fn fn, const char *json, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*rc = fn(json, f);
	fclose(f);
	return buf;
}

#define CHECK_RENDER(fn, json, expect)                                         \
	do {                                                                   \
		int _rc;                                                       \
		char *_out = render(fn, json, &_rc);                           \
		CHECK_EQ_INT(_rc, 0);                                          \
		CHECK_EQ_STR(_out, expect);                                    \
		free(_out);                                                    \
	} while (0)

#define CHECK_RENDER_FAILS(fn, json, why)                                      \
	do {                                                                   \
		int _rc;                                                       \
		char *_out = render(fn, json, &_rc);                           \
		CHECK_EQ_INT(_rc, -1);                                         \
		CHECK_EQ_STR(_out, ""); /* nothing printed on error */         \
		CHECK_EQ_STR(chainfmt_error(), why);                           \
		free(_out);                                                    \
	} while (0)

static const char WHO[] =
	"{\"ok\":true,\"host\":\"h2\",\"subject\":{\"pid\":812,\"local\":\"10.0.0.2:40312\","
	"\"remote\":\"10.0.0.3:22\"},"
	"\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":812,\"start\":5,\"uid\":0,"
	"\"exe\":\"/usr/bin/ssh\",\"argv0\":\"ssh\",\"seen\":\"shim\",\"alive\":true,"
	"\"sources\":[{\"via\":\"creator\",\"node\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":790,"
	"\"exe\":\"/usr/bin/bash\",\"argv0\":\"bash\",\"alive\":true,"
	"\"sources\":[{\"via\":\"creator\",\"node\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":788,"
	"\"exe\":\"/usr/sbin/sshd\",\"argv0\":\"sshd: root@pts/0\",\"alive\":true,"
	"\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h2\",\"dir\":\"in\","
	"\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:51234\",\"upstream\":null,"
	"\"complete\":false,\"reason\":\"not followed\",\"remote_host\":\"h1\"}}]}}]}}]},"
	"\"chains\":[{\"origin_host\":\"h1\",\"src\":\"10.0.0.1:51234\",\"dst\":\"10.0.0.3:22\","
	"\"complete\":true,\"fallback\":false,\"procs\":["
	"{\"host\":\"h1\",\"pid\":500,\"exe\":\"/usr/bin/ssh\"},"
	"{\"host\":\"h2\",\"pid\":788,\"exe\":\"/usr/sbin/sshd\"},"
	"{\"host\":\"h2\",\"pid\":790,\"exe\":\"/usr/bin/bash\"},"
	"{\"host\":\"h2\",\"pid\":812,\"exe\":\"/usr/bin/ssh\"}]}]}";

static void tree_who(void)
{
	CHECK_RENDER(chainfmt_tree, WHO,
		     "h2  ssh[812] /usr/bin/ssh  → 10.0.0.3:22\n"
		     "└─ creator  bash[790] /usr/bin/bash\n"
		     "   └─ creator  sshd[788] /usr/sbin/sshd  (sshd: root@pts/0)\n"
		     "      └─ tcp in  10.0.0.2:22 ← 10.0.0.1:51234  (h1, not followed)\n"
		     "chain 1: origin h1 10.0.0.1:51234 → 10.0.0.3:22  procs: h1:ssh h2:sshd "
		     "h2:bash h2:ssh  complete\n");
}

/* siblings, kernel/exited marks, an upstream answer nested under its conn */
static void tree_upstream(void)
{
	static const char J[] =
		"{\"ok\":true,\"host\":\"h2\",\"subject\":{\"pid\":9},"
		"\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":9,\"exe\":\"/usr/bin/nc\","
		"\"sources\":["
		"{\"via\":\"pipe\",\"id\":\"pipe:[77]\",\"node\":{\"type\":\"proc\",\"host\":\"h2\","
		"\"pid\":8,\"exe\":\"/usr/bin/nc\",\"seen\":\"kernel\",\"alive\":false,"
		"\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h2\","
		"\"dir\":\"in\",\"local\":\"10.0.0.2:9000\",\"remote\":\"10.0.0.1:5000\","
		"\"complete\":true,\"upstream\":{\"ok\":true,\"host\":\"h1\",\"tree\":"
		"{\"type\":\"proc\",\"host\":\"h1\",\"pid\":4,\"exe\":\"/usr/bin/nc\","
		"\"sources\":[{\"via\":\"creator\",\"node\":{\"type\":\"origin\",\"host\":\"h1\"}}]},"
		"\"chains\":[]}}}]}},"
		"{\"via\":\"creator\",\"node\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":7,"
		"\"exe\":\"/usr/bin/dash\",\"argv0\":\"sh\",\"sources\":[{\"via\":\"tcp\",\"node\":"
		"{\"type\":\"conn\",\"dir\":\"out\",\"local\":\"10.0.0.2:4000\",\"remote\":"
		"\"10.0.0.5:80\",\"complete\":false,\"upstream\":{\"ok\":false,\"host\":\"h5\","
		"\"error\":\"timed out\"}}}]}}]},"
		"\"chains\":[{\"origin_host\":\"h1\",\"src\":\"10.0.0.1:5000\",\"dst\":null,"
		"\"complete\":false,\"procs\":[{\"host\":\"h1\",\"pid\":4,\"exe\":\"/usr/bin/nc\"},"
		"{\"host\":\"h2\",\"pid\":8,\"exe\":\"/usr/bin/nc\",\"seen\":\"kernel\"},"
		"{\"host\":\"h2\",\"pid\":9,\"exe\":\"\"}]},"
		"{\"origin_host\":\"h2\",\"src\":\"[2001:db8::2]:4000\",\"procs\":[]}]}";

	CHECK_RENDER(chainfmt_tree, J,
		     "h2  nc[9] /usr/bin/nc\n"
		     "├─ pipe pipe:[77]  nc[8] /usr/bin/nc  [kernel]  (exited)\n"
		     "│  └─ tcp in  10.0.0.2:9000 ← 10.0.0.1:5000\n"
		     "│     └─ h1  nc[4] /usr/bin/nc\n"
		     "│        └─ creator  origin  h1 (local)\n"
		     "└─ creator  dash[7] /usr/bin/dash  (sh)\n"
		     "   └─ tcp out  10.0.0.2:4000 → 10.0.0.5:80  (incomplete)\n"
		     "      └─ h5  upstream error: timed out\n"
		     "chain 1: origin h1 10.0.0.1:5000  procs: h1:nc h2:nc h2:[9]  incomplete, "
		     "kernel fallback\n"
		     "chain 2: origin h2 [2001:db8::2]:4000  procs: -  incomplete\n");
}

/* a far host's part about a connection it had closed (issue 12) */
static void tree_past(void)
{
	CHECK_RENDER(chainfmt_tree,
		     "{\"ok\":true,\"host\":\"h2\",\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":9,"
		     "\"exe\":\"/usr/bin/socat\",\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\","
		     "\"dir\":\"in\",\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:5000\",\"complete\":true,"
		     "\"upstream\":{\"ok\":true,\"host\":\"h1\",\"past\":{\"closed_ago_ms\":12500,"
		     "\"as_of_ago_ms\":30000},\"tree\":{\"type\":\"proc\",\"host\":\"h1\",\"pid\":4,"
		     "\"exe\":\"/usr/bin/ssh\",\"sources\":[]},\"chains\":[]}}}]},\"chains\":[]}",
		     "h2  socat[9] /usr/bin/socat\n"
		     "└─ tcp in  10.0.0.2:22 ← 10.0.0.1:5000  [closed 12 s ago]\n"
		     "   └─ h1  ssh[4] /usr/bin/ssh\n"
		     "no chains\n");
}

static void tree_local_origin(void)
{
	CHECK_RENDER(chainfmt_tree,
		     "{\"ok\":true,\"tree\":{\"type\":\"proc\",\"host\":\"h3\",\"pid\":1,"
		     "\"exe\":\"/sbin/init\",\"sources\":[]},\"chains\":[]}",
		     "h3  init[1] /sbin/init\nno chains\n");
	CHECK_RENDER(chainfmt_tree,
		     "{\"ok\":true,\"tree\":{\"type\":\"origin\",\"host\":\"h3\"},\"chains\":[]}",
		     "origin  h3 (local)\nno chains\n");
	/* as hoptraced sends a local origin */
	CHECK_RENDER(chainfmt_tree,
		     "{\"ok\":true,\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":5,"
		     "\"exe\":\"/usr/bin/dash\",\"argv0\":\"sh\",\"seen\":\"kernel\",\"sources\":"
		     "[{\"via\":\"local\",\"node\":{\"type\":\"origin\",\"host\":\"h2\"}}]},"
		     "\"chains\":[{\"origin_host\":\"h2\",\"src\":null,\"dst\":null,\"complete\":true,"
		     "\"fallback\":true,\"procs\":[{\"host\":\"h2\",\"pid\":5,\"exe\":\"/usr/bin/dash\"}]}]}",
		     "h2  dash[5] /usr/bin/dash  (sh)  [kernel]\n"
		     "└─ origin  h2 (local)\n"
		     "chain 1: origin h2  procs: h2:dash  complete, kernel fallback\n");
}

/* a hostile argv0 cannot drive the terminal */
static void tree_control_chars(void)
{
	CHECK_RENDER(chainfmt_tree,
		     "{\"ok\":true,\"tree\":{\"type\":\"proc\",\"pid\":1,\"exe\":\"/x/a\\u001b[2Jb\","
		     "\"argv0\":\"evil\\r\\nchain 1: fake\"},\"chains\":[]}",
		     "a?[2Jb[1] /x/a?[2Jb  (evil??chain 1: fake)\nno chains\n");
}

static void tree_too_deep(void)
{
	/* 100 nested creator links: the renderer stops at its depth limit */
	size_t cap = 100 * 80 + 200;
	char *j = malloc(cap), *p = j;
	int rc;

	p += sprintf(p, "{\"ok\":true,\"chains\":[],\"tree\":");
	for (int i = 0; i < 100; i++)
		p += sprintf(p, "{\"type\":\"proc\",\"pid\":%d,\"sources\":[{\"via\":\"creator\",\"node\":",
			     i + 1);
	p += sprintf(p, "{\"type\":\"origin\"}");
	for (int i = 0; i < 100; i++)
		p += sprintf(p, "}]}");
	sprintf(p, "}");
	char *out = render(chainfmt_tree, j, &rc);
	CHECK_EQ_INT(rc, 0);
	CHECK(out && strstr(out, "… (too deep, not shown)") != NULL);
	CHECK(out && strstr(out, "[100]") == NULL);
	free(out);
	free(j);
}

static void tree_malformed(void)
{
	CHECK_RENDER_FAILS(chainfmt_tree, "", "answer is not valid JSON");
	CHECK_RENDER_FAILS(chainfmt_tree, "[1]", "answer is not a JSON object");
	CHECK_RENDER_FAILS(chainfmt_tree, "{\"ok\":true,\"chains\":[]}", "answer has no tree");
	CHECK_RENDER_FAILS(chainfmt_tree, "{\"ok\":true,\"tree\":{\"type\":\"proc\"}}",
			   "answer has no chains");
	CHECK_RENDER_FAILS(chainfmt_tree,
			   "{\"tree\":{\"type\":\"proc\",\"sources\":{}},\"chains\":[]}",
			   "node sources is not an array");
	CHECK_RENDER_FAILS(chainfmt_tree,
			   "{\"tree\":{\"type\":\"proc\",\"sources\":[{\"via\":\"x\"}]},\"chains\":[]}",
			   "source has no node");
	CHECK_RENDER_FAILS(chainfmt_tree, "{\"tree\":{\"type\":\"bogus\"},\"chains\":[]}",
			   "unknown node type");
	CHECK_RENDER_FAILS(chainfmt_tree, "{\"tree\":{\"pid\":1},\"chains\":[]}", "node has no type");
	CHECK_RENDER_FAILS(chainfmt_tree,
			   "{\"tree\":{\"type\":\"conn\",\"upstream\":7},\"chains\":[]}",
			   "conn upstream is neither an answer nor null");
	CHECK_RENDER_FAILS(chainfmt_tree, NULL, "no answer");
}

static const char GRAPH[] =
	"{\"ok\":true,\"procs\":["
	"{\"pid\":1,\"start\":1,\"exe\":\"/sbin/init\",\"argv0\":\"init\",\"alive\":true,"
	"\"seen\":\"kernel\"},"
	"{\"pid\":812,\"start\":5,\"exe\":\"/usr/bin/\\\"q\\\"\",\"argv0\":\"ssh\","
	"\"creator_pid\":1,\"alive\":false}],"
	"\"chans\":[{\"id\":7,\"kind\":\"pipe\",\"label\":\"pipe:[1234]\"},"
	"{\"id\":\"t1\",\"kind\":\"tcp_ext\",\"label\":\"10.0.0.2:22-10.0.0.1:5\"}],"
	"\"holds\":[{\"pid\":812,\"chan\":7,\"since\":1,\"until\":null},"
	"{\"pid\":1,\"chan\":7,\"since\":1,\"until\":5},"
	"{\"pid\":1,\"chan\":\"t1\",\"since\":1},"
	"{\"pid\":99,\"chan\":7},{\"pid\":1,\"chan\":\"nope\"}]}";

static void dot_graph(void)
{
	CHECK_RENDER(chainfmt_dot, GRAPH,
		     "digraph hoptrace {\n"
		     "\trankdir=LR;\n"
		     "\tnode [fontname=\"monospace\", fontsize=10];\n"
		     "\tedge [fontname=\"monospace\", fontsize=9];\n"
		     "\tp0 [shape=box, label=\"init[1]\\n/sbin/init\\n[kernel]\"];\n"
		     "\tp1 [shape=box, label=\"\\\"q\\\"[812]\\n/usr/bin/\\\"q\\\"\", style=dashed];\n"
		     "\tc0 [shape=ellipse, label=\"pipe\\npipe:[1234]\"];\n"
		     "\tc1 [shape=ellipse, label=\"tcp_ext\\n10.0.0.2:22-10.0.0.1:5\", style=bold];\n"
		     "\tp0 -> p1 [style=dotted, label=\"creator\"];\n"
		     "\tp1 -> c0 [dir=none];\n"
		     "\tp0 -> c0 [dir=none, style=dashed];\n"
		     "\tp0 -> c1 [dir=none];\n"
		     "}\n");
	CHECK_RENDER(chainfmt_dot, "{\"ok\":true}",
		     "digraph hoptrace {\n\trankdir=LR;\n"
		     "\tnode [fontname=\"monospace\", fontsize=10];\n"
		     "\tedge [fontname=\"monospace\", fontsize=9];\n}\n");
	CHECK_RENDER_FAILS(chainfmt_dot, "{\"procs\":{}}",
			   "graph procs, chans or holds is not an array");
	CHECK_RENDER_FAILS(chainfmt_dot, "{\"procs\":[1]}", "graph proc is not an object");
}

static void ps_table(void)
{
	CHECK_RENDER(chainfmt_ps, GRAPH,
		     "    PID CREATOR    UID STATE  SEEN   EXE (ARGV0)\n"
		     "      1       -      - alive  kernel /sbin/init (init)\n"
		     "    812       1      - exited -      /usr/bin/\"q\" (ssh)\n");
	CHECK_RENDER_FAILS(chainfmt_ps, "{\"ok\":true}", "answer has no procs array");
}

static void status_lines(void)
{
	CHECK_RENDER(chainfmt_status,
		     "{\"ok\":true,\"records\":10,\"rejected\":{\"cred\":1,\"schema\":2},"
		     "\"mem_mb\":1.5,\"host\":\"h2\",\"x\":null,\"y\":true}",
		     "records: 10\nrejected.cred: 1\nrejected.schema: 2\nmem_mb: 1.5\n"
		     "host: h2\nx: -\ny: true\n");
}

/* ---- ask.c: one question, routed by code ------------------------------------ */

static void exit_status(void)
{
	CHECK_EQ_INT(cli_exit_status(HT_QE_OK), CLI_EX_OK);
	for (int e = HT_QE_BAD_REQUEST; e <= HT_QE_OTHER; e++) /* the collector answered */
		CHECK_EQ_INT(cli_exit_status((enum ht_qerr)e), CLI_EX_FAIL);
	CHECK_EQ_INT(cli_exit_status(HT_QE_UNREACHABLE), CLI_EX_UNREACH);
	CHECK_EQ_INT(cli_exit_status(HT_QE_NOT_ROOT), CLI_EX_UNREACH);
	CHECK_EQ_INT(cli_exit_status(HT_QE_TIMEOUT), CLI_EX_UNREACH);
	CHECK_EQ_INT(cli_exit_status(HT_QE_CLOSED), CLI_EX_UNREACH);
	CHECK_EQ_INT(cli_exit_status(HT_QE_BAD_ANSWER), CLI_EX_FAIL);
}

/* A collector stand-in: takes one request on ipc://path, answers with answer
 * (none when NULL), keeps the request. */
struct stub {
	nng_socket s;
	const char *answer;
	char req[512];
	pthread_t t;
};

static void *stub_serve(void *arg)
{
	struct stub *st = arg;
	char *b;
	size_t n;

	if (nng_recv(st->s, &b, &n, NNG_FLAG_ALLOC) != 0)
		return NULL;
	snprintf(st->req, sizeof(st->req), "%.*s", (int)n, b);
	nng_free(b, n);
	if (st->answer)
		nng_send(st->s, (void *)st->answer, strlen(st->answer), 0);
	return NULL;
}

/* Asks req of a stub answering answer: the exit status, *code, and the request sent. */
static int ask_stub(const struct ht_qreq *req, const char *answer, enum ht_qerr *code,
		    char *sent, size_t sentn)
{
	struct stub st = {.answer = answer};
	char url[sizeof(cli_opt.control) + 8], *text = NULL;
	int rc;

	snprintf(cli_opt.control, sizeof(cli_opt.control), "/tmp/cli_test.%d.sock", (int)getpid());
	snprintf(url, sizeof(url), "ipc://%s", cli_opt.control);
	if (nng_rep0_open(&st.s) != 0 || nng_listen(st.s, url, NULL, 0) != 0 ||
	    pthread_create(&st.t, NULL, stub_serve, &st) != 0) {
		CHECK(!"stub collector");
		return -1;
	}
	cli_opt.timeout_ms = 300;
	rc = cli_ask(req, &text, code);
	CHECK(rc == CLI_EX_OK ? text != NULL : text == NULL);
	if (rc == CLI_EX_OK && answer)
		CHECK_EQ_STR(text, answer);
	free(text);
	nng_close(st.s); /* ends a stub still waiting */
	pthread_join(st.t, NULL);
	unlink(cli_opt.control);
	snprintf(sent, sentn, "%s", st.req);
	return rc;
}

static void ask_routes_by_code(void)
{
	struct ht_qreq chain = {.op = HT_QOP_CHAIN, .pid = 812};
	struct ht_qreq who = {.op = HT_QOP_WHO, .local = "10.0.0.2:1", .remote = "[2001:db8::1]:22"};
	enum ht_qerr code;
	char sent[512];

	CHECK_EQ_INT(ask_stub(&chain, "{\"ok\":true,\"host\":\"h\"}", &code, sent, sizeof(sent)),
		     CLI_EX_OK);
	CHECK_EQ_INT(code, HT_QE_OK);
	CHECK_EQ_STR(sent, "{\"op\":\"chain\",\"pid\":812}");
	CHECK_EQ_INT(ask_stub(&who, "{\"ok\":true}", &code, sent, sizeof(sent)), CLI_EX_OK);
	CHECK_EQ_STR(sent, "{\"op\":\"who\",\"local\":\"10.0.0.2:1\",\"remote\":\"[2001:db8::1]:22\"}");

	/* the code decides, whatever the text says */
	CHECK_EQ_INT(ask_stub(&chain, "{\"ok\":false,\"error\":\"no such process on this host\","
				      "\"code\":\"no_proc\"}", &code, sent, sizeof(sent)),
		     CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_NO_PROC);
	CHECK_EQ_INT(ask_stub(&who, "{\"ok\":false,\"error\":\"no such process on this host\","
				    "\"code\":\"no_conn\"}", &code, sent, sizeof(sent)),
		     CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_NO_CONN);
	CHECK_EQ_INT(ask_stub(&who, "{\"ok\":false,\"error\":\"collector unreachable\","
				    "\"code\":\"no_holder\"}", &code, sent, sizeof(sent)),
		     CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_NO_HOLDER);
	/* an older collector: no code */
	CHECK_EQ_INT(ask_stub(&chain, "{\"ok\":false,\"error\":\"no such TCP connection on this host\"}",
			      &code, sent, sizeof(sent)), CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_OTHER);
	/* unreadable answers */
	CHECK_EQ_INT(ask_stub(&chain, "not json", &code, sent, sizeof(sent)), CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_BAD_ANSWER);
	CHECK_EQ_INT(ask_stub(&chain, "[1]", &code, sent, sizeof(sent)), CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_BAD_ANSWER);
	CHECK_EQ_INT(ask_stub(&chain, "{\"ok\":\"yes\"}", &code, sent, sizeof(sent)), CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_BAD_ANSWER);
	/* no answer in time */
	CHECK_EQ_INT(ask_stub(&chain, NULL, &code, sent, sizeof(sent)), CLI_EX_UNREACH);
	CHECK_EQ_INT(code, HT_QE_TIMEOUT);
	CHECK_EQ_STR(sent, "{\"op\":\"chain\",\"pid\":812}");

	/* nobody there */
	char *text = (char *)"x";
	snprintf(cli_opt.control, sizeof(cli_opt.control), "/nonexistent/cli_test.sock");
	CHECK_EQ_INT(cli_ask(&chain, &text, &code), CLI_EX_UNREACH);
	CHECK_EQ_INT(code, HT_QE_UNREACHABLE);
	CHECK(text == NULL);
	/* a request the codec will not build is never sent */
	struct ht_qreq bad = {.op = HT_QOP_WHO, .local = "10.0.0.1:1\"", .remote = "10.0.0.2:2"};
	CHECK_EQ_INT(cli_ask(&bad, &text, &code), CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_BAD_REQUEST);
	struct ht_qreq pid0 = {.op = HT_QOP_CHAIN, .pid = 0};
	CHECK_EQ_INT(cli_ask(&pid0, &text, &code), CLI_EX_FAIL);
	CHECK_EQ_INT(code, HT_QE_BAD_REQUEST);
}

T_MAIN("cli", T(tree_who), T(tree_upstream), T(tree_past), T(tree_local_origin), T(tree_control_chars),
       T(tree_too_deep), T(tree_malformed), T(dot_graph), T(ps_table), T(status_lines),
       T(exit_status), T(ask_routes_by_code))
