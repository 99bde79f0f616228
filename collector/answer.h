/*
 * answer.h — the collector's answers to docs/query-protocol.md requests
 * (read and written with the codec of include/hoptrace/query.h).
 */
#ifndef HT_ANSWER_H
#define HT_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "hoptrace/query.h"
#include "graph.h"

struct kev;

struct collector_stats {
	uint64_t records, decode_errors, no_creds, fd_passing, oversized;
	uint64_t conns, queries, query_refused;
	uint64_t pushed, push_dropped;   /* prejudged chains sent / not sent */
	uint64_t push_skipped;           /* connects not pushed while pushes were cold (push.c) */
	uint64_t dropped;                /* records over a rate bound (per uid: status_extra) */
	/* adds the transport's own fields to a status answer (a cJSON object) */
	void (*status_extra)(void *obj);
};

struct query_ctx {
	struct graph *g;
	const char *hostname;
	int nl;                          /* sock_diag socket */
	struct collector_stats *stats;
	uint64_t started;
	uint64_t (*now_fn)(void);
	/* "who" from a guard that was pushed this socket's chain already (set
	 * per request by the SEQPACKET transport; NULL: never): the answer is
	 * HT_QE_PUSHED ({"ok":false,"error":"pushed","code":"pushed","pushed":true})
	 * unless the request says "force":true */
	int (*was_pushed)(uint64_t ino, void *arg);
	void *was_pushed_arg;
	/* the kernel event source (kev.h; NULL: none): status, kevents */
	const struct kev *kev;
};

/* Returns a malloc()ed JSON answer (never NULL unless out of memory): the
 * request's answer, or a failed one with its "code" (a request ht_qreq_parse
 * refuses: HT_QE_BAD_REQUEST with the parser's text). The request's "id", if
 * it has one, leads the answer. */
char *query_answer(struct query_ctx *q, const char *req, size_t len, uint64_t now);
/* The same for a request already parsed (ht_qreq_parse() == HT_QE_OK): a
 * transport that parses once to route (subscribe, bound) answers with this. */
char *query_answer_req(struct query_ctx *q, const struct ht_qreq *req, uint64_t now);

/* A chain computed ahead of the SYN (docs/query-protocol.md "subscribe"): the
 * who answer for socket ino connecting to remote, with "ino" and without the
 * SYN's local end (not known before connect() picks it) — or NULL when the
 * guard could not decide on it alone: an unknown socket or holder, or a chain
 * with a connection leaf (upstream hosts to follow, or not followed), whose
 * ends depend on more than this host's graph. */
/* {"op":"bound","ino":N,"local":"L","remote":"R"}: the guard decided a SYN on
 * a pushed chain and tells the socket's local end (what "who" would have
 * learnt). Returns 1 when req was one (it gets no answer), else 0. */
int query_bound(struct query_ctx *q, const char *req, size_t len);
/* The same for a parsed request (op HT_QOP_BOUND; anything else is ignored). */
void query_bound_req(struct query_ctx *q, const struct ht_qreq *req);
/* Is req {"op":"subscribe"}? (Handled by the SEQPACKET transport only.) */
int query_is_subscribe(const char *req, size_t len);
char *query_prejudge(struct query_ctx *q, uint64_t ino, const struct ht_addr *remote, uint64_t now);
/* The same, for a push: after_us (0: none) is sent as "after_us", the
 * collector's monotonic time in µs when the drain that read every record
 * before it began (collector/push.c); *settled = 1 when the chain depends on
 * the graph alone — the walk asked /proc for no socket's holders, and no
 * process on it is still being hashed — so an unchanged graph
 * (graph_changes) would give the same chain at the SYN. */
char *query_prejudge_at(struct query_ctx *q, uint64_t ino, const struct ht_addr *remote,
			uint64_t now, uint64_t after_us, int *settled);

#endif
