/*
 * follow.c — following upstream conn leaves (collector/inquiry_svc.c): a
 * who/chain answer whose chain comes from another host is handed to the
 * inquiry follower thread, which asks those hosts and sends the merged answer
 * itself (queries.c says through what); and the local part of other hosts'
 * HTTP inquiries, computed on the loop's thread.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <netinet/tcp.h>

#include "hoptrace/chain.h"
#include "hoptrace/sockdiag.h"
#include "daemon.h"

int follow_later(struct collector *c, const struct ht_qreq *q, const char *ans, inq_done_fn done,
		 void *arg)
{
	if (!c->inq || !inquiry_wants_follow(c->inq, ans) || (q->op != HT_QOP_WHO && q->op != HT_QOP_CHAIN))
		return 0;
	char canon[160];
	const char *sc = NULL;
	if (q->op == HT_QOP_WHO && inq_canon(q->local, q->remote, canon, sizeof(canon)) == 0)
		sc = canon;
	/* deadline_ms 0: not given, the follower's configured one */
	return inquiry_follow(c->inq, ans, (long)q->deadline_ms, sc, done, arg) == 0;
}

char *follow_inq_who(void *arg, const char *local, const char *remote, unsigned long age_ms)
{
	struct collector *c = arg;
	char req[256];
	/* the exact connection (op_who: not a listener), open or, within
	 * history_window, closed (graph_hist.c) */
	struct ht_endpoint l, r;
	if (ht_endpoint_parse(local, &l) != 0 || ht_endpoint_parse(remote, &r) != 0)
		return ht_qerr_answer(NULL, HT_QE_NO_CONN, NULL);
	struct ht_qreq q = {.op = HT_QOP_WHO, .age_ms = age_ms};
	snprintf(q.local, sizeof(q.local), "%s", local);
	snprintf(q.remote, sizeof(q.remote), "%s", remote);
	int n = ht_qreq_build(req, sizeof(req), &q);
	if (n < 0)
		return ht_qerr_answer(NULL, HT_QE_BAD_REQUEST, NULL);
	drain_records(c);
	return query_answer(&c->qctx, req, (size_t)n, now_ns());
}
