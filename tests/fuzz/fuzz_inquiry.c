/* fuzz_inquiry.c — libFuzzer target for the trace inquiry request parser and
 * the answer handling that takes another host's bytes (collector/inquiry.c):
 * inq_parse_request on the raw body; the same bytes as an upstream answer
 * (leaves, merge, re-flatten, the paper's format). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/chain.h"
#include "../../collector/inquiry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inq_req r;
	char err[160];
	if (inq_parse_request((const char *)data, size, &r, err, sizeof(err)) == 0) {
		char c[160];
		if (strlen(r.local) >= INQ_EP_MAX || strlen(r.remote) >= INQ_EP_MAX)
			abort();
		if (inq_canon(r.local, r.remote, c, sizeof(c)) != 0)
			abort(); /* validated endpoints always have a canonical name */
		inq_visited_has(r.visited, c);
		inq_req_free(&r);
	}
	cJSON *a = cJSON_ParseWithLength((const char *)data, size);
	if (a) {
		cJSON *lv[INQ_LEAVES_MAX];
		size_t n = inq_leaves(a, lv, INQ_LEAVES_MAX);
		for (size_t i = 0; i < n; i++)
			inq_fill(lv[i], NULL, 0, "no answer");
		inq_answer_valid(a);
		inq_answer_complete(a);
		chain_reflatten(a);
		cJSON *p = inq_to_paper(a);
		char *s = p ? cJSON_PrintUnformatted(p) : NULL;
		free(s);
		cJSON_Delete(p);
		cJSON_Delete(a);
	}
	return 0;
}
