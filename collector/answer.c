/*
 * answer.c — answers the requests of docs/query-protocol.md against the
 * graph. Transport-free: the daemon's main loop receives a request on either
 * transport (SEQPACKET for the guard, nng for the CLI), drains pending
 * records, and calls query_answer(). Requests are read and failed answers
 * written by the query codec (include/hoptrace/query.h): every failure
 * carries its "code".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "hoptrace/chain.h"
#include "hoptrace/query.h"
#include "chain.h"
#include "hoptrace/procfs.h"
#include "answer.h"
#include "kev.h"
#include "sha256.h"
#include "hoptrace/sockdiag.h"
#include "hoptrace/log.h"

/* Prints a success answer, its request's "id" first (a client that stopped
 * waiting for an answer can tell it from the next); frees a. */
static char *print_answer(const struct ht_qreq *r, cJSON *a)
{
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	if (!s)
		return ht_qerr_answer(r, HT_QE_NO_MEMORY, NULL);
	if (!r || !r->has_id || s[0] != '{')
		return s;
	char pre[40];
	int n = snprintf(pre, sizeof(pre), "{\"id\":%llu%s", (unsigned long long)r->id,
			 s[1] == '}' ? "" : ",");
	size_t al = strlen(s);
	char *t = malloc(al + (size_t)n);
	if (t) {
		memcpy(t, pre, (size_t)n);
		memcpy(t + n, s + 1, al); /* with the NUL */
		free(s);
		s = t;
	}
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

/* The process a connection is answered for: its connector while it holds
 * it, else its oldest holder. With several holders each is asked of the
 * kernel first (one holder: no syscall — the push's path): `ssh -f` made
 * the connection and daemon() forked; its parent half left inside libc with
 * no EXIT record, and answering for it lost what the daemon has held since
 * (the client of its forward). */
static struct proc *socket_holder(struct graph *g, struct chan *c, uint64_t now)
{
	struct proc *any = NULL, *conn = NULL;
	int n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (struct hold *h = c->holds; h; h = h->cnext) {
			if (h->until || h->unconf || !h->p->alive)
				continue;
			if (pass == 0) {
				n++;
				continue;
			}
			if (n > 1 && !graph_proc_running(g, h->p, now))
				continue;
			if (h->p->pid == c->connector)
				conn = h->p;
			else if (!any || h->p->birth_ts < any->birth_ts)
				any = h->p;
		}
	}
	return conn ? conn : any;
}

static char *answer_chain(struct query_ctx *q, const struct ht_qreq *rq, struct proc *p,
			  struct chan *exclude, const struct ht_addr *l, const struct ht_addr *r,
			  uint64_t now, uint64_t scan_deadline)
{
	struct chain_req req = {.host = q->hostname, .subject = p, .exclude = exclude,
				.syn_local = l, .syn_remote = r, .now = now, .nl = q->nl,
				.scan_deadline_ns = scan_deadline};
	cJSON *a = chain_compute(q->g, &req);
	if (!a)
		return ht_qerr_answer(rq, HT_QE_NO_MEMORY, NULL);
	return print_answer(rq, a);
}

/* "who" for a connection the kernel no longer has: who held it within the
 * history window (graph_hist.c), its chain as of then, marked "past"
 * (docs/query-protocol.md). The asker's age_ms is its word: clamped to the
 * window; only the exact 4-tuple asked is looked up. */
static char *who_closed(struct query_ctx *q, const struct ht_qreq *rq, const struct ht_addr *l,
			const struct ht_addr *r, uint64_t now)
{
	uint64_t win = graph_conf(q->g)->window_ns;
	uint64_t age = rq->age_ms > win / 1000000ULL ? win : (uint64_t)rq->age_ms * 1000000ULL;
	uint64_t t = now > age ? now - age : 0;
	struct graph_closed e;
	char why[160];
	int rc = graph_hist_find(q->g, l, r, t, now, &e);
	if (rc < 0) {
		snprintf(why, sizeof(why),
			 "no such connection, open or closed within history_window (%llu s)",
			 (unsigned long long)(win / 1000000000ULL));
		return ht_qerr_answer(rq, HT_QE_NO_CONN, why);
	}
	if (rc == 0) {
		snprintf(why, sizeof(why), "connection closed %llu s ago: beyond history_window (%llu s)",
			 (unsigned long long)((now - e.until) / 1000000000ULL),
			 (unsigned long long)(win / 1000000000ULL));
		return ht_qerr_answer(rq, HT_QE_NO_CONN, why);
	}
	struct chan *c;
	struct proc *p = graph_hist_holder(q->g, &e, &t, &c);
	if (!p)
		return ht_qerr_answer(rq, HT_QE_NO_HOLDER,
				      "the closed connection's holder is no longer in the graph (retention)");
	struct chain_req req = {.host = q->hostname, .subject = p, .exclude = c, .syn_local = l,
				.syn_remote = r, .now = now, .at = t, .nl = q->nl};
	cJSON *a = chain_compute(q->g, &req);
	if (!a)
		return ht_qerr_answer(rq, HT_QE_NO_MEMORY, NULL);
	cJSON *past = cJSON_AddObjectToObject(a, "past");
	cJSON_AddNumberToObject(past, "closed_ago_ms", (double)((now - e.until) / 1000000ULL));
	cJSON_AddNumberToObject(past, "as_of_ago_ms", (double)((now - t) / 1000000ULL));
	return print_answer(rq, a);
}

/* A 4-tuple used again (the server closed first and the client's port came
 * round; or a client binding its port): the live socket of the asked 4-tuple
 * is a later connection than the one the asker saw age_ms ago when the graph
 * first knew it only after then and its past lists another connection of
 * that 4-tuple held then — the one asked about (review of issue 12: the live
 * one's holder was answered for the closed one's). */
static int tuple_reused(struct query_ctx *q, const struct ht_qreq *rq, const struct chan *c,
			const struct ht_addr *l, const struct ht_addr *r, uint64_t now)
{
	uint64_t win = graph_conf(q->g)->window_ns;
	if (!rq->age_ms || !c->holds)
		return 0;
	uint64_t age = rq->age_ms > win / 1000000ULL ? win : (uint64_t)rq->age_ms * 1000000ULL;
	uint64_t t = now > age ? now - age : 0, first = UINT64_MAX;
	for (const struct hold *h = c->holds; h; h = h->cnext)
		if (h->since < first)
			first = h->since;
	struct graph_closed e;
	return first > t && graph_hist_find(q->g, l, r, t, now, &e) == 1 && e.ino != c->ino &&
	       e.since <= t && t <= e.until;
}

/* (the request's endpoints were checked by ht_qreq_parse) */
static char *op_who(struct query_ctx *q, const struct ht_qreq *rq, uint64_t now)
{
	struct ht_addr l, r;
	struct sd_inet s;
	if (endpoint_to_addr(rq->local, &l) != 0 || endpoint_to_addr(rq->remote, &r) != 0 ||
	    l.family != r.family)
		return ht_qerr_answer(rq, HT_QE_BAD_REQUEST, NULL);
	/* the exact connection only (sock_diag's lookup also matches a
	 * listener); else the host's recent past */
	if (q->nl < 0 || sd_inet_lookup(q->nl, l.family, l.a, l.port, r.a, r.port, &s) != 0 ||
	    s.state == 10 /* TCP_LISTEN */ || s.rport != r.port || memcmp(s.raddr, r.a, r.len) != 0 ||
	    /* closed by its holders: TIME_WAIT (the end that closed first keeps
	     * it 60 s), or an orphan no descriptor holds (inode 0) */
	    s.state == 6 /* TCP_TIME_WAIT */ || !s.ino)
		return who_closed(q, rq, &l, &r, now);
	struct chan *c = graph_chan(q->g, HT_CHAN_SOCK, 0, s.ino);
	if (c && tuple_reused(q, rq, c, &l, &r, now))
		return who_closed(q, rq, &l, &r, now);
	struct proc *p = c ? socket_holder(q->g, c, now) : NULL;
	if (p) {
		/* what a process whose records need not tell all did since */
		graph_subject_refresh(q->g, p, now);
		p = socket_holder(q->g, c, now);
	}
	/* the query's scans (CPU time; the walk's get what this one leaves) */
	uint64_t deadline = procfs_cpu_ns() + GRAPH_SCAN_BUDGET_NS;
	/* a pushed chain holds while the graph is unchanged — and the graph is
	 * what the kernel shows of the processes the walk reaches: an fd no
	 * record named (a raw syscall's accept) is a change */
	if (p && q->was_pushed && !rq->force && q->was_pushed(s.ino, q->was_pushed_arg) &&
	    !chain_check_reach(q->g, p, now, deadline))
		/* the asker has the chain (sent before this answer) and it still
		 * holds: no second walk */
		return ht_qerr_answer(rq, HT_QE_PUSHED, NULL);
	if (!p && graph_conf(q->g)->use_procfs) {
		/* not reported by any shim: the kernel fallback — the socket
		 * owner's processes first, one holder suffices, bounded */
		struct holder_ctx x = {q, now};
		struct procfs_scan ps = {.owner = (uid_t)s.uid, .cpu_deadline_ns = deadline,
					 .deadline_ns = procfs_mono_ns() + GRAPH_SCAN_WALL_NS,
					 .first_only = 1};
		graph_scan_holders(q->g, s.ino, &ps, holder_cb, &x);
		c = graph_chan(q->g, HT_CHAN_SOCK, 0, s.ino);
		p = c ? socket_holder(q->g, c, now) : NULL;
		if (!p && ps.incomplete) {
			log_warnx("who %s: holder scan incomplete (%s; owner uid %u, %llu processes, "
				  "%llu fds read, %llu us, %llu us CPU)", rq->local,
				  ps.why == PROCFS_SCAN_BUDGET ? "budget" :
				  "a uid over its scan share",
				  (unsigned)s.uid, (unsigned long long)ps.procs,
				  (unsigned long long)ps.fds, (unsigned long long)(ps.ns / 1000),
				  (unsigned long long)(ps.cpu_ns / 1000));
			return ht_qerr_answer(rq, HT_QE_NO_HOLDER,
					      "holder scan incomplete: /proc search ran out of its budget");
		}
	}
	if (!p)
		return ht_qerr_answer(rq, HT_QE_NO_HOLDER, NULL);
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
	return answer_chain(q, rq, p, c, &l, &r, now, deadline);
}

void query_bound_req(struct query_ctx *q, const struct ht_qreq *rq)
{
	struct ht_addr l, r;
	if (rq->op != HT_QOP_BOUND || endpoint_to_addr(rq->local, &l) != 0 ||
	    endpoint_to_addr(rq->remote, &r) != 0 || l.family != r.family)
		return;
	struct chan *c = graph_chan(q->g, HT_CHAN_SOCK, 0, rq->ino);
	/* only the socket the push was for: a TCP one, connecting there */
	if (c && !c->has_local && c->dir == 'o' && c->remote.family == r.family &&
	    c->remote.port == r.port && !memcmp(c->remote.a, r.a, r.len)) {
		gaddr_set(&c->local, &l);
		c->has_local = 1;
	}
}

int query_bound(struct query_ctx *q, const char *req, size_t len)
{
	struct ht_qreq rq;
	/* (a cheap look first: every request on the guard's socket comes here) */
	if (len > 512 || !memmem(req, len, "\"bound\"", 7))
		return 0;
	enum ht_qerr e = ht_qreq_parse(req, len, &rq, NULL, 0);
	if (rq.op != HT_QOP_BOUND)
		return 0;
	if (e == HT_QE_OK)
		query_bound_req(q, &rq);
	return 1; /* a bound, well-formed or not, is not answered */
}

int query_is_subscribe(const char *req, size_t len)
{
	struct ht_qreq rq;
	if (len > 256 || !memmem(req, len, "subscribe", 9))
		return 0;
	return ht_qreq_parse(req, len, &rq, NULL, 0) == HT_QE_OK && rq.op == HT_QOP_SUBSCRIBE;
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

/* Is some process of the chains still being hashed (its hash may be known by
 * the SYN: graph_proc_sha256)? One whose hash will never be known (too large,
 * FUSE, unreadable) is not. */
static int hash_pending(struct graph *g, const cJSON *a)
{
	const cJSON *ch, *pr;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItem(a, "chains"))
	{
		cJSON_ArrayForEach(pr, cJSON_GetObjectItem(ch, "procs"))
		{
			const cJSON *h = cJSON_GetObjectItem(pr, "sha256");
			const cJSON *pid = cJSON_GetObjectItem(pr, "pid");
			if (cJSON_IsString(h) && h->valuestring[0])
				continue;
			const struct proc *p = cJSON_IsNumber(pid) ? graph_proc(g, (pid_t)pid->valuedouble) : NULL;
			if (!p || p->hash_ticket)
				return 1;
		}
	}
	return 0;
}

char *query_prejudge_at(struct query_ctx *q, uint64_t ino, const struct ht_addr *remote,
			uint64_t now, uint64_t after_us, int *settled)
{
	struct chan *c = graph_chan(q->g, HT_CHAN_SOCK, 0, ino);
	struct proc *p = c && !c->failed ? socket_holder(q->g, c, now) : NULL;
	unsigned kernel_asked = 0;
	if (settled)
		*settled = 0;
	if (p) {
		graph_subject_refresh(q->g, p, now);
		p = socket_holder(q->g, c, now);
	}
	if (!p)
		return NULL;
	struct chain_req req = {.host = q->hostname, .subject = p, .exclude = c,
				.syn_remote = remote, .now = now, .nl = q->nl,
				.kernel_asked = &kernel_asked};
	cJSON *a = chain_compute(q->g, &req);
	if (!a)
		return NULL;
	char *s = NULL;
	if (!has_conn(cJSON_GetObjectItem(a, "tree"))) {
		/* the guard reads the flat chains only: the tree stays here */
		cJSON_DeleteItemFromObject(a, "tree");
		if (settled)
			*settled = !kernel_asked && !hash_pending(q->g, a);
		if (after_us) /* (second to last: "ino" ends a push) */
			cJSON_AddNumberToObject(a, "after_us", (double)after_us);
		cJSON_AddNumberToObject(a, "ino", (double)ino);
		s = cJSON_PrintUnformatted(a);
	}
	cJSON_Delete(a);
	return s;
}

char *query_prejudge(struct query_ctx *q, uint64_t ino, const struct ht_addr *remote, uint64_t now)
{
	return query_prejudge_at(q, ino, remote, now, 0, NULL);
}

/* (the pid was checked by ht_qreq_parse: 1..HT_QPID_MAX) */
static char *op_chain(struct query_ctx *q, const struct ht_qreq *rq, uint64_t now)
{
	pid_t pid = (pid_t)rq->pid;
	struct proc *p = graph_proc(q->g, pid);
	if (!p || !p->alive)
		p = graph_proc_kernel(q->g, pid, now);
	if (!p) {
		char b[64];
		snprintf(b, sizeof(b), "no process %d on this host", pid);
		return ht_qerr_answer(rq, HT_QE_NO_PROC, b);
	}
	return answer_chain(q, rq, p, NULL, NULL, NULL, now, 0);
}

static cJSON *op_ps(struct query_ctx *q)
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
		cJSON_AddStringToObject(o, "seen", proc_seen(p));
		cJSON_AddNumberToObject(o, "nholds", 0);
		int nh = 0;
		for (struct hold *h = p->holds; h; h = h->pnext)
			nh += !h->until;
		cJSON_ReplaceItemInObject(o, "nholds", cJSON_CreateNumber(nh));
		cJSON_AddItemToArray(arr, o);
	}
	return a;
}

static cJSON *op_graph(struct query_ctx *q)
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
		cJSON_AddStringToObject(o, "seen", proc_seen(p));
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
	return a;
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

static cJSON *op_status(struct query_ctx *q)
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
	cJSON_AddNumberToObject(a, "prejudged_skipped", (double)q->stats->push_skipped);
	cJSON_AddNumberToObject(a, "procs", (double)st.procs);
	cJSON_AddNumberToObject(a, "procs_alive", (double)st.procs_alive);
	cJSON_AddNumberToObject(a, "chans", (double)st.chans);
	cJSON_AddNumberToObject(a, "holds", (double)st.holds);
	cJSON_AddNumberToObject(a, "evicted", (double)st.evicted);
	cJSON_AddNumberToObject(a, "graph_bytes", (double)st.bytes);
	cJSON_AddNumberToObject(a, "proc_reads", (double)st.proc_reads);
	cJSON *hsc = cJSON_AddObjectToObject(a, "holder_scans");
	cJSON_AddNumberToObject(hsc, "scans", (double)st.holder_scans);
	cJSON_AddNumberToObject(hsc, "incomplete", (double)st.holder_scans_incomplete);
	cJSON_AddNumberToObject(hsc, "ms", (double)(st.holder_scan_ns / 1000000));
	/* claims the kernel did not confirm (docs/chain-model.md "Claims") */
	cJSON *cl = cJSON_AddObjectToObject(a, "claims");
	cJSON_AddNumberToObject(cl, "kernel_checks", (double)st.fd_checks);
	cJSON_AddNumberToObject(cl, "unconfirmed_fd", (double)st.refused_fd);
	cJSON_AddNumberToObject(cl, "refused_close", (double)st.refused_close);
	cJSON_AddNumberToObject(cl, "refused_creator", (double)st.refused_creator);
	cJSON_AddNumberToObject(cl, "refused_bounds", (double)st.refused_bounds);
	cJSON_AddNumberToObject(cl, "addr_corrected", (double)st.addr_corrected);
	cJSON_AddNumberToObject(cl, "lineage_from_kernel", (double)st.lineage_kernel);
	cJSON_AddNumberToObject(cl, "unreported_fds", (double)st.unreported_fds);
	cJSON_AddNumberToObject(cl, "refused_by_kernel_events", (double)st.refused_kev);
	cJSON_AddNumberToObject(cl, "senders_attested_by_pidfd", (double)st.kev_attested);
	cJSON_AddNumberToObject(cl, "tcp_holds_from_kernel_events", (double)st.kev_tcp_holds);
	cJSON_AddNumberToObject(cl, "dark_evicted", (double)st.kev_dark_evicted);
	cJSON_AddNumberToObject(cl, "exit_holds_from_kernel_events", (double)st.kev_exit_holds);
	cJSON_AddNumberToObject(cl, "fork_holds_from_kernel_events", (double)st.kev_fork_holds);
	cJSON_AddNumberToObject(cl, "recv_holds_from_kernel_events", (double)st.kev_recv_holds);
	cJSON_AddNumberToObject(cl, "uring_holds_from_kernel_events", (double)st.kev_uring_holds);
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
	if (q->kev)
		kev_status(q->kev, a);
	if (q->stats->status_extra)
		q->stats->status_extra(a);
	return a;
}

static char *answer_req(struct query_ctx *q, const struct ht_qreq *rq, uint64_t now)
{
	char d[64];
	switch (rq->op) {
	case HT_QOP_WHO: return op_who(q, rq, now);
	case HT_QOP_CHAIN: return op_chain(q, rq, now);
	case HT_QOP_PS: return print_answer(rq, op_ps(q));
	case HT_QOP_GRAPH: return print_answer(rq, op_graph(q));
	case HT_QOP_STATUS: return print_answer(rq, op_status(q));
	case HT_QOP_KEVENTS:
		if (q->kev)
			return print_answer(rq, kev_dump(q->kev));
		return ht_qerr_answer(rq, HT_QE_BAD_REQUEST, "no kernel event source");
	default:
		/* subscribe and bound are the SEQPACKET transport's (query_is_subscribe,
		 * query_bound); anywhere else they are unknown ops, as they were */
		snprintf(d, sizeof(d), "unknown op \"%.40s\"", ht_qop_name(rq->op));
		return ht_qerr_answer(rq, HT_QE_BAD_REQUEST, d);
	}
}

char *query_answer_req(struct query_ctx *q, const struct ht_qreq *rq, uint64_t now)
{
	q->stats->queries++;
	return answer_req(q, rq, now);
}

char *query_answer(struct query_ctx *q, const char *req, size_t len, uint64_t now)
{
	struct ht_qreq rq;
	char detail[128];
	q->stats->queries++;
	if (ht_qreq_parse(req, len, &rq, detail, sizeof(detail)) != HT_QE_OK)
		return ht_qerr_answer(&rq, HT_QE_BAD_REQUEST, detail);
	return answer_req(q, &rq, now);
}
