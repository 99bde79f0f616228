/*
 * query.h — the collector's answers to docs/query-protocol.md requests.
 */
#ifndef HT_QUERY_H
#define HT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"

struct collector_stats {
	uint64_t records, decode_errors, no_creds, fd_passing, oversized;
	uint64_t conns, queries, query_refused;
};

struct query_ctx {
	struct graph *g;
	const char *hostname;
	int nl;                          /* sock_diag socket */
	struct collector_stats *stats;
	uint64_t started;
	uint64_t (*now_fn)(void);
};

/* Returns a malloc()ed JSON answer (never NULL unless out of memory). */
char *query_answer(struct query_ctx *q, const char *req, size_t len, uint64_t now);

#endif
