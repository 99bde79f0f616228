/*
 * query.c — answers the JSON requests of docs/query-protocol.md against the
 * graph. Transport-free: the daemon's main loop receives a request on either
 * transport (SEQPACKET for the guard, nng for the CLI), drains pending
 * records, and calls query_answer().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hoptrace/chain.h"
#include "chain.h"
#include "hoptrace/procfs.h"
#include "answer.h"
#include "sha256.h"
#include "hoptrace/sockdiag.h"

#define QUERY_MAX 65536

static char *error_answer(const char *fmt, const char *arg)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
	cJSON *a = cJSON_CreateObject();
	cJSON_AddBoolToObject(a, "ok", 0);
	cJSON_AddStringToObject(a, "error", msg);
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

static int endpoint_to_addr(const char *s, struct ht_addr *a)
{
	struct ht_endpoint ep;
	if (!s || ht_endpoint_parse(s, &ep) != 0)
		return -1;
	memset(a, 0, sizeof(*a));
	a->family = (uint16_t)ep.family;
	a->len = ep.family == AF_INET ? 4 : 16;
	memcpy(a->a, ep.addr, a->len);
	a->port = ep.port;
	return 0;
}

struct holder_ctx {
	struct query_ctx *q;
	uint64_t now;
};

static int holder_cb(void *vctx, pid_t pid, int fd)
{
	struct holder_ctx *x = vctx;
	(void)fd;
	graph_proc_resync(x->q->g, pid, x->now);
	return 0;
}

/* The process behind socket c: the one that connect()ed it if it still holds
 * it, else any live holder. */
static struct proc *socket_holder(struct chan *c)
{
	struct proc *any = NULL;
	for (struct hold *h = c->holds; h; h = h->cnext) {
		if (h->until || h->unconf || !h->p->alive)
			continue;
		if (h->p->pid == c->connector)
			return h->p;
		if (!any || h->p->birth_ts < any->birth_ts)
			any = h->p;
	}
	return any;
}

static char *answer_chain(struct query_ctx *q, struct proc *p, struct chan *exclude,
			  const struct ht_addr *l, const struct ht_addr *r, uint64_t now)
{
	struct chain_req req = {.host = q->hostname, .subject = p, .exclude = exclude,
				.syn_local = l, .syn_remote = r, .now = now, .nl = q->nl};
	cJSON *a = chain_compute(q->g, &req);
	if (!a)
		return error_answer("out of memory", NULL);
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

static char *op_who(struct query_ctx *q, const cJSON *req, uint64_t now)
{
	struct ht_addr l, r;
	struct sd_inet s;
	const cJSON *jl = cJSON_GetObjectItem(req, "local"), *jr = cJSON_GetObjectItem(req, "remote");
	if (!cJSON_IsString(jl) || endpoint_to_addr(jl->valuestring, &l) != 0)
		return error_answer("bad or missing \"local\" endpoint", NULL);
	if (!cJSON_IsString(jr) || endpoint_to_addr(jr->valuestring, &r) != 0)
		return error_answer("bad or missing \"remote\" endpoint", NULL);
	if (l.family != r.family)
		return error_answer("local and remote are of different address families", NULL);
	if (q->nl < 0 || sd_inet_lookup(q->nl, l.family, l.a, l.port, r.a, r.port, &s) != 0)
		return error_answer("no such TCP connection on this host", NULL);
	if (q->was_pushed && s.ino && !cJSON_IsTrue(cJSON_GetObjectItem(req, "force")) &&
	    q->was_pushed(s.ino, q->was_pushed_arg))
		/* the asker has the chain (sent before this answer): no second walk */
		return strdup("{\"ok\":false,\"error\":\"pushed\",\"pushed\":true}");
	struct chan *c = graph_chan(q->g, HT_CHAN_SOCK, 0, s.ino);
	struct proc *p = c ? socket_holder(c) : NULL;
	if (!p) {
		/* not reported by any shim: the kernel fallback */
		struct holder_ctx x = {q, now};
		procfs_socket_holders(s.ino, holder_cb, &x);
		c = graph_chan(q->g, HT_CHAN_SOCK, 0, s.ino);
		p = c ? socket_holder(c) : NULL;
	}
	if (!p)
		return error_answer("no process holds that connection's socket", NULL);
	if (c && (!c->has_local || c->addr_claimed)) {
		/* the kernel's 4-tuple (sd_inet_lookup found it): attested */
		gaddr_set(&c->local, &l);
		c->has_local = 1;
		if (!c->remote.family || c->addr_claimed)
			gaddr_set(&c->remote, &r);
		c->addr_claimed = 0;
		if (!c->dir)
			c->dir = 'o';
	}
	return answer_chain(q, p, c, &l, &r, now);
}

int query_bound(struct query_ctx *q, const char *req, size_t len)
{
	if (len > 512 || !memmem(req, len, "\"bound\"", 7))
		return 0;
	cJSON *j = cJSON_ParseWithLength(req, len);
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(j, "op"));
	if (!op || strcmp(op, "bound") != 0) {
		cJSON_Delete(j);
		return 0;
	}
	const cJSON *ji = cJSON_GetObjectItem(j, "ino");
	struct ht_addr l, r;
	if (cJSON_IsNumber(ji) && ji->valuedouble >= 1 && ji->valuedouble < 18446744073709551616.0 &&
	    endpoint_to_addr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "local")), &l) == 0 &&
	    endpoint_to_addr(cJSON_GetStringValue(cJSON_GetObjectItem(j, "remote")), &r) == 0 &&
	    l.family == r.family) {
		struct chan *c = graph_chan(q->g, HT_CHAN_SOCK, 0, (uint64_t)ji->valuedouble);
		/* only the socket the push was for: a TCP one, connecting there */
		if (c && !c->has_local && c->dir == 'o' && c->remote.family == r.family &&
		    c->remote.port == r.port && !memcmp(c->remote.a, r.a, r.len)) {
			gaddr_set(&c->local, &l);
			c->has_local = 1;
		}
	}
	cJSON_Delete(j);
	return 1;
}

int query_is_subscribe(const char *req, size_t len)
{
	if (len > 256 || !memmem(req, len, "subscribe", 9))
		return 0;
	cJSON *j = cJSON_ParseWithLength(req, len);
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(j, "op"));
	int yes = op && strcmp(op, "subscribe") == 0;
	cJSON_Delete(j);
	return yes;
}

/* Does the tree hold a connection leaf ({"type":"conn"})? */
static int has_conn(const cJSON *n)
{
	const cJSON *t = cJSON_GetObjectItem(n, "type");
	if (cJSON_IsString(t) && strcmp(t->valuestring, "conn") == 0)
		return 1;
	const cJSON *k;
	cJSON_ArrayForEach(k, n)
	{
		if ((cJSON_IsArray(k) || cJSON_IsObject(k)) && has_conn(k))
			return 1;
	}
	return 0;
}

char *query_prejudge(struct query_ctx *q, uint64_t ino, const struct ht_addr *remote, uint64_t now)
{
	struct chan *c = graph_chan(q->g, HT_CHAN_SOCK, 0, ino);
	struct proc *p = c && !c->failed ? socket_holder(c) : NULL;
	if (!p)
		return NULL;
	struct chain_req req = {.host = q->hostname, .subject = p, .exclude = c,
				.syn_remote = remote, .now = now, .nl = q->nl};
	cJSON *a = chain_compute(q->g, &req);
	if (!a)
		return NULL;
	char *s = NULL;
	if (!has_conn(cJSON_GetObjectItem(a, "tree"))) {
		/* the guard reads the flat chains only: the tree stays here */
		cJSON_DeleteItemFromObject(a, "tree");
		cJSON_AddNumberToObject(a, "ino", (double)ino);
		s = cJSON_PrintUnformatted(a);
	}
	cJSON_Delete(a);
	return s;
}

static char *op_chain(struct query_ctx *q, const cJSON *req, uint64_t now)
{
	const cJSON *jp = cJSON_GetObjectItem(req, "pid");
	if (!cJSON_IsNumber(jp) || jp->valuedouble < 1 || jp->valuedouble > 4194304 ||
	    jp->valuedouble != (double)(int)jp->valuedouble)
		return error_answer("bad or missing \"pid\"", NULL);
	pid_t pid = (pid_t)jp->valueint;
	struct proc *p = graph_proc(q->g, pid);
	if (!p || !p->alive)
		p = graph_proc_kernel(q->g, pid, now);
	if (!p) {
		char b[24];
		snprintf(b, sizeof(b), "%d", pid);
		return error_answer("no process %s on this host", b);
	}
	return answer_chain(q, p, NULL, NULL, NULL, now);
}

static char *op_ps(struct query_ctx *q)
{
	cJSON *a = cJSON_CreateObject();
	cJSON_AddBoolToObject(a, "ok", 1);
	cJSON_AddStringToObject(a, "host", q->hostname);
	cJSON *arr = cJSON_AddArrayToObject(a, "procs");
	for (struct proc *p = graph_first_proc(q->g); p; p = p->next) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", p->pid);
		cJSON_AddNumberToObject(o, "start", (double)p->start);
		cJSON_AddNumberToObject(o, "creator_pid", p->creator ? p->creator->pid : p->creator_pid);
		/* whether the creator is linked (lineage), or was found outside this host */
		cJSON_AddBoolToObject(o, "creator_linked", p->creator != NULL);
		cJSON_AddNumberToObject(o, "birth_ts", (double)p->birth_ts);
		cJSON_AddNumberToObject(o, "uid", p->uid == (uid_t)-1 ? -1 : (double)p->uid);
		cJSON_AddStringToObject(o, "exe", p->exe);
		cJSON_AddStringToObject(o, "argv0", p->argv0);
		cJSON_AddBoolToObject(o, "alive", p->alive);
		cJSON_AddStringToObject(o, "seen", p->seen_kernel ? "kernel" : "shim");
		cJSON_AddNumberToObject(o, "nholds", 0);
		int nh = 0;
		for (struct hold *h = p->holds; h; h = h->pnext)
			nh += !h->until;
		cJSON_ReplaceItemInObject(o, "nholds", cJSON_CreateNumber(nh));
		cJSON_AddItemToArray(arr, o);
	}
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

static char *op_graph(struct query_ctx *q)
{
	char id[64], lab[200], la[160], ra[160];
	cJSON *a = cJSON_CreateObject();
	cJSON_AddBoolToObject(a, "ok", 1);
	cJSON_AddStringToObject(a, "host", q->hostname);
	cJSON *procs = cJSON_AddArrayToObject(a, "procs");
	cJSON *chans = cJSON_AddArrayToObject(a, "chans");
	cJSON *holds = cJSON_AddArrayToObject(a, "holds");
	for (struct proc *p = graph_first_proc(q->g); p; p = p->next) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "pid", p->pid);
		cJSON_AddNumberToObject(o, "start", (double)p->start);
		cJSON_AddStringToObject(o, "exe", p->exe);
		cJSON_AddStringToObject(o, "argv0", p->argv0);
		cJSON_AddNumberToObject(o, "creator_pid", p->creator ? p->creator->pid : 0);
		cJSON_AddBoolToObject(o, "alive", p->alive);
		cJSON_AddStringToObject(o, "seen", p->seen_kernel ? "kernel" : "shim");
		cJSON_AddItemToArray(procs, o);
		for (struct hold *h = p->holds; h; h = h->pnext) {
			cJSON *ho = cJSON_CreateObject();
			snprintf(id, sizeof(id), "%d:%llu", h->c->kind, (unsigned long long)h->c->ino);
			cJSON_AddNumberToObject(ho, "pid", p->pid);
			cJSON_AddStringToObject(ho, "chan", id);
			cJSON_AddNumberToObject(ho, "since", (double)h->since);
			cJSON_AddNumberToObject(ho, "until", (double)h->until);
			cJSON_AddItemToArray(holds, ho);
		}
	}
	for (struct chan *c = graph_first_chan(q->g); c; c = c->next) {
		cJSON *o = cJSON_CreateObject();
		snprintf(id, sizeof(id), "%d:%llu", c->kind, (unsigned long long)c->ino);
		cJSON_AddStringToObject(o, "id", id);
		const char *kind = c->kind == HT_CHAN_PIPE ? (c->fifo ? "fifo" : "pipe") :
				   c->kind == HT_CHAN_PTY ? "pty" :
				   c->remote.family == AF_UNIX ? "unix" :
				   c->remote.family ? "tcp" : "socket";
		cJSON_AddStringToObject(o, "kind", kind);
		if (c->kind == HT_CHAN_PTY)
			snprintf(lab, sizeof(lab), "pts/%llu", (unsigned long long)c->ino);
		else if (c->kind == HT_CHAN_SOCK && (c->remote.family == AF_INET || c->remote.family == AF_INET6)) {
			struct ht_addr l, r;
			gaddr_get(&l, &c->local);
			gaddr_get(&r, &c->remote);
			snprintf(lab, sizeof(lab), "%s %s %s",
				 c->has_local ? ht_addr_str(&l, la, sizeof(la)) : "?",
				 c->dir == 'i' ? "<-" : "->", ht_addr_str(&r, ra, sizeof(ra)));
		}
		else
			snprintf(lab, sizeof(lab), "%s:[%llu]", kind, (unsigned long long)c->ino);
		cJSON_AddStringToObject(o, "label", lab);
		cJSON_AddItemToArray(chans, o);
	}
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

/* uids with refused claims or bounds (at most 64 listed) */
static int uid_cb(void *ctx, const struct graph_uid_stats *u)
{
	cJSON *by = ctx;
	if (!u->refused_claims && !u->refused_bounds)
		return 0;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "uid", u->uid);
	cJSON_AddNumberToObject(o, "refused_claims", (double)u->refused_claims);
	cJSON_AddNumberToObject(o, "refused_bounds", (double)u->refused_bounds);
	cJSON_AddNumberToObject(o, "holds", (double)u->holds);
	cJSON_AddNumberToObject(o, "chans", (double)u->chans);
	cJSON_AddItemToArray(by, o);
	return cJSON_GetArraySize(by) >= 64;
}

static char *op_status(struct query_ctx *q)
{
	struct graph_stats st;
	graph_stats(q->g, &st);
	cJSON *a = cJSON_CreateObject();
	cJSON_AddBoolToObject(a, "ok", 1);
	cJSON_AddStringToObject(a, "host", q->hostname);
	cJSON_AddNumberToObject(a, "uptime_s", (double)(q->now_fn() - q->started) / 1e9);
	cJSON_AddNumberToObject(a, "records", (double)q->stats->records);
	cJSON_AddNumberToObject(a, "records_applied", (double)st.applied);
	cJSON_AddNumberToObject(a, "records_rejected", (double)(q->stats->decode_errors + st.rejected));
	cJSON *rej = cJSON_AddObjectToObject(a, "rejected");
	cJSON_AddNumberToObject(rej, "malformed", (double)q->stats->decode_errors);
	cJSON_AddNumberToObject(rej, "no_credentials", (double)q->stats->no_creds);
	cJSON_AddNumberToObject(rej, "fd_passing", (double)q->stats->fd_passing);
	cJSON_AddNumberToObject(rej, "oversized", (double)q->stats->oversized);
	cJSON_AddNumberToObject(rej, "contradicted", (double)st.rejected);
	cJSON_AddNumberToObject(a, "lost_by_shims", (double)st.lost_by_shims);
	cJSON_AddNumberToObject(a, "shim_connections", (double)q->stats->conns);
	cJSON_AddNumberToObject(a, "queries", (double)q->stats->queries);
	cJSON_AddNumberToObject(a, "prejudged_pushed", (double)q->stats->pushed);
	cJSON_AddNumberToObject(a, "prejudged_dropped", (double)q->stats->push_dropped);
	cJSON_AddNumberToObject(a, "procs", (double)st.procs);
	cJSON_AddNumberToObject(a, "procs_alive", (double)st.procs_alive);
	cJSON_AddNumberToObject(a, "chans", (double)st.chans);
	cJSON_AddNumberToObject(a, "holds", (double)st.holds);
	cJSON_AddNumberToObject(a, "evicted", (double)st.evicted);
	cJSON_AddNumberToObject(a, "graph_bytes", (double)st.bytes);
	cJSON_AddNumberToObject(a, "proc_reads", (double)st.proc_reads);
	/* claims the kernel did not confirm (docs/chain-model.md "Claims") */
	cJSON *cl = cJSON_AddObjectToObject(a, "claims");
	cJSON_AddNumberToObject(cl, "kernel_checks", (double)st.fd_checks);
	cJSON_AddNumberToObject(cl, "unconfirmed_fd", (double)st.refused_fd);
	cJSON_AddNumberToObject(cl, "refused_close", (double)st.refused_close);
	cJSON_AddNumberToObject(cl, "refused_creator", (double)st.refused_creator);
	cJSON_AddNumberToObject(cl, "refused_bounds", (double)st.refused_bounds);
	cJSON_AddNumberToObject(cl, "addr_corrected", (double)st.addr_corrected);
	cJSON_AddNumberToObject(cl, "lineage_from_kernel", (double)st.lineage_kernel);
	cJSON *by = cJSON_AddArrayToObject(cl, "by_uid");
	graph_uid_stats(q->g, uid_cb, by);
	/* executable hashes: on the graph thread (sync) or in the background */
	struct exehash_bg_stats hs;
	uint64_t hhits, hmiss;
	exehash_bg_stats(&hs);
	exehash_stats(&hhits, &hmiss);
	cJSON *eh = cJSON_AddObjectToObject(a, "exe_hash");
	cJSON_AddNumberToObject(eh, "hits", (double)hhits);
	cJSON_AddNumberToObject(eh, "misses", (double)hmiss);
	cJSON_AddNumberToObject(eh, "hashed_inline", (double)hs.sync);
	cJSON_AddNumberToObject(eh, "queued", (double)hs.queued);
	cJSON_AddNumberToObject(eh, "hashed_background", (double)hs.done);
	cJSON_AddNumberToObject(eh, "refused", (double)hs.refused);
	cJSON_AddNumberToObject(eh, "changed_while_read", (double)hs.changed);
	cJSON_AddNumberToObject(a, "records_dropped", (double)q->stats->dropped);
	if (q->stats->status_extra)
		q->stats->status_extra(a);
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
}

char *query_answer(struct query_ctx *q, const char *req, size_t len, uint64_t now)
{
	char *ans;
	q->stats->queries++;
	if (len == 0 || len > QUERY_MAX)
		return error_answer("request empty or larger than 64 KiB", NULL);
	cJSON *j = cJSON_ParseWithLength(req, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return error_answer("request is not a JSON object", NULL);
	}
	const cJSON *op = cJSON_GetObjectItem(j, "op");
	if (!cJSON_IsString(op))
		ans = error_answer("missing \"op\"", NULL);
	else if (strcmp(op->valuestring, "who") == 0)
		ans = op_who(q, j, now);
	else if (strcmp(op->valuestring, "chain") == 0)
		ans = op_chain(q, j, now);
	else if (strcmp(op->valuestring, "ps") == 0)
		ans = op_ps(q);
	else if (strcmp(op->valuestring, "graph") == 0)
		ans = op_graph(q);
	else if (strcmp(op->valuestring, "status") == 0)
		ans = op_status(q);
	else
		ans = error_answer("unknown op \"%.40s\"", op->valuestring);
	/* a request's "id" (a whole number) comes back first in its answer: a
	 * client that stopped waiting for an answer can tell it from the next */
	const cJSON *id = cJSON_GetObjectItem(j, "id");
	if (ans && ans[0] == '{' && cJSON_IsNumber(id) && id->valuedouble >= 0 &&
	    id->valuedouble <= 9007199254740991.0 && id->valuedouble == (double)(uint64_t)id->valuedouble) {
		char pre[40];
		int n = snprintf(pre, sizeof(pre), "{\"id\":%llu%s",
				 (unsigned long long)id->valuedouble, ans[1] == '}' ? "" : ",");
		size_t al = strlen(ans);
		char *t = malloc(al + (size_t)n);
		if (t) {
			memcpy(t, pre, (size_t)n);
			memcpy(t + n, ans + 1, al); /* with the NUL */
			free(ans);
			ans = t;
		}
	}
	cJSON_Delete(j);
	return ans;
}
