/*
 * fuzz_query.c — libFuzzer target for the collector's query parser and
 * dispatcher (query_answer) over a small graph: any request gets a JSON
 * answer, never a crash; a failed one names a code the collector sends
 * (never "other"), and the answer carries the request's id when the codec
 * read one.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/query.h"
#include "../../collector/graph.h"
#include "../../collector/answer.h"

static struct graph *g;
static struct collector_stats st;
static struct query_ctx q;

static uint64_t fake_now(void)
{
	return 5000000000ULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!g) {
		struct graph_conf c = {.retention_ns = 1000000000ULL, .window_ns = 1000000000ULL,
				       .max_procs = 100, .use_procfs = 0};
		struct ht_record r;
		const char *why;
		g = graph_new(&c);
		memset(&r, 0, sizeof(r));
		r.type = HT_REC_IMAGE;
		r.ts = 1000;
		r.num = 1;
		strcpy(r.str, "/bin/sh");
		graph_apply(g, 42, 0, &r, r.ts, &why);
		q.g = g;
		q.hostname = "fuzz";
		q.nl = -1;
		q.stats = &st;
		q.now_fn = fake_now;
	}
	char *a = query_answer(&q, (const char *)data, size, fake_now());
	if (!a || a[0] != '{')
		abort();
	struct ht_qhead h;
	struct ht_qreq r;
	if (ht_qhead_parse(a, strlen(a), &h) != HT_QE_OK || !h.has_ok)
		abort();
	if (!h.ok && (h.code == HT_QE_OTHER || h.code == HT_QE_OK))
		abort();
	(void)ht_qreq_parse((const char *)data, size, &r, NULL, 0);
	if (h.has_id != r.has_id || h.id != r.id)
		abort();
	free(a);
	return 0;
}
