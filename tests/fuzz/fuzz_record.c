/*
 * fuzz_record.c — libFuzzer target for the shim's record decoder and for
 * applying whatever it accepts to a graph (no /proc): a hostile datagram must
 * neither crash the collector nor corrupt its model. Decoded records are
 * re-encoded and decoded again: the round trip must be stable.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/graph.h"
#include "hoptrace/record.h"

static struct graph *g;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_record r, r2;
	const char *why;
	uint8_t buf[HT_REC_MAX];

	if (!g) {
		struct graph_conf c = {.retention_ns = 1000000000ULL, .window_ns = 1000000000ULL,
				       .max_procs = 1000, .use_procfs = 0};
		g = graph_new(&c);
	}
	if (size < 2)
		return 0;
	/* first byte: which sender pid (a few, so records interact) */
	pid_t pid = 100 + data[0] % 8;
	if (ht_record_decode(data + 1, size - 1, &r, &why) != 0)
		return 0;
	size_t n = ht_record_encode(&r, buf, sizeof(buf));
	if (n) {
		if (ht_record_decode(buf, n, &r2, &why) != 0 || r2.type != r.type || r2.ts != r.ts)
			abort();
	}
	graph_apply(g, pid, 0, &r, r.ts, &why);
	static unsigned calls;
	if (++calls % 4096 == 0)
		graph_gc(g, r.ts + 2000000000ULL);
	return 0;
}
