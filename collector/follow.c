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

int follow_later(struct collector *c, const char *req, size_t len, const char *ans,
		 inq_done_fn done, void *arg)
{
	if (!c->inq || !inquiry_wants_follow(c->inq, ans))
		return 0;
	cJSON *j = cJSON_ParseWithLength(req, len);
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(j, "op"));
	if (!op || (strcmp(op, "who") && strcmp(op, "chain"))) {
		cJSON_Delete(j);
		return 0;
	}
	long deadline = 0;
	const cJSON *d = cJSON_GetObjectItem(j, "deadline_ms");
	if (cJSON_IsNumber(d) && d->valuedouble >= 1 && d->valuedouble <= 600000)
		deadline = (long)d->valuedouble;
	char canon[160];
	const char *sc = NULL;
	if (!strcmp(op, "who") &&
	    inq_canon(cJSON_GetStringValue(cJSON_GetObjectItem(j, "local")),
		      cJSON_GetStringValue(cJSON_GetObjectItem(j, "remote")), canon, sizeof(canon)) == 0)
		sc = canon;
	int rv = inquiry_follow(c->inq, ans, deadline, sc, done, arg);
	cJSON_Delete(j);
	return rv == 0;
}

char *follow_inq_who(void *arg, const char *local, const char *remote)
{
	struct collector *c = arg;
	char req[256];
	/* the exact connection only: sock_diag's lookup also matches a listener */
	struct ht_endpoint l, r;
	struct sd_inet si;
	int nl = c->qctx.nl;
	if (ht_endpoint_parse(local, &l) != 0 || ht_endpoint_parse(remote, &r) != 0 ||
	    nl < 0 || sd_inet_lookup(nl, l.family, l.addr, l.port, r.addr, r.port, &si) != 0 ||
	    si.state == TCP_LISTEN || memcmp(si.raddr, r.addr, l.family == AF_INET ? 4 : 16) != 0 ||
	    si.rport != r.port)
		return strdup("{\"ok\":false,\"error\":\"no such TCP connection on this host\"}");
	int n = snprintf(req, sizeof(req), "{\"op\":\"who\",\"local\":\"%s\",\"remote\":\"%s\"}",
			 local, remote);
	drain_records(c);
	return query_answer(&c->qctx, req, (size_t)n, now_ns());
}
