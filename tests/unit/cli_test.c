/*
 * cli_test.c — the CLI's pure parts: collector answers (fixed JSON) rendered
 * as text by cli/chainfmt.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "../../cli/chainfmt.h"
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

T_MAIN("cli", T(tree_who), T(tree_upstream), T(tree_local_origin), T(tree_control_chars),
       T(tree_too_deep), T(tree_malformed), T(dot_graph), T(ps_table), T(status_lines))
