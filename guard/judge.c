/*
 * judge.c — one queued SYN, from the packet to its verdict:
 *   1. read it (packet.c); a SYN that cannot be read is unparsable
 *   2. the verdict cache (cache.c): a retransmit gets the same verdict
 *   3. gather: the SYN's facts (local destination, source route), the
 *      collector's answer — pushed before the SYN (push.c) or asked
 *      (collq.c) — and, when the decision is the policy server's, its answer
 *   4. decide (decide.c, pure: no I/O)
 *   5. act: the verdict (nfqueue.c), the cache, the audit line (audit.c),
 *      a warning
 */
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hoptrace/chain.h"
#include "hoptrace/log.h"
#include "hoptrace/policy_remote.h"
#include "hoptrace/query.h"
#include "hoptrace/sockdiag.h"
#include "clock.h"
#include "decide.h"
#include "engine_int.h"
#include "packet.h"

/* What asking the collector gave for one SYN. */
struct answer {
	const char *json;   /* the answer read (pushed, or w->cq.buf), NULL none */
	long len;
	char *pushed;       /* the push it came as (malloc()ed), or NULL */
	struct ht_chainset cs;
	int have_chains;
	enum ht_qerr qerr;  /* without chains: why not */
	char qtext[256];    /* and how */
	char host[HT_HOST_MAX];
	long collector_us;
};

/* ---- the collector's failure ------------------------------------------------ */

/* The code and text of a failed exchange (decide.c routes on the code only):
 * collq's (alen < 0: q->code, err), the answer's own ("ok":false: its
 * "code" and "error" in head h), or why the chain decoder refused it (code,
 * jerr). */
static void answer_failure(struct answer *a, long alen, const struct collq *q, const char *err,
			   const struct ht_qhead *h, enum ht_qerr code, const char *jerr)
{
	if (alen < 0) {
		a->qerr = q->code;
		snprintf(a->qtext, sizeof a->qtext, "%s", err);
	} else if (h->has_ok && !h->ok) {
		a->qerr = code;
		snprintf(a->qtext, sizeof a->qtext, "%s", h->text[0] ? h->text : "malformed answer");
	} else {
		a->qerr = code;
		snprintf(a->qtext, sizeof a->qtext, "%s", jerr ? jerr : "bad answer");
	}
}

/* ---- the SYN ---------------------------------------------------------------- */

static void ep_of(const struct ht_pkt *p, int dst, char *out, size_t n)
{
	struct ht_endpoint ep = {.family = p->family, .port = dst ? p->dport : p->sport};
	memcpy(ep.addr, dst ? p->dst : p->src, p->family == AF_INET ? 4 : 16);
	ht_endpoint_format(&ep, out, n);
}

static int is_loopback(const struct ht_pkt *p)
{
	static const uint8_t v6lo[16] = {[15] = 1};
	if (p->family == AF_INET)
		return p->dst[0] == 127;
	return !memcmp(p->dst, v6lo, 16);
}

static void addr_str(int family, const uint8_t *a, char *out, size_t n)
{
	if (!inet_ntop(family, a, out, (socklen_t)n))
		snprintf(out, n, "?");
}

/* The socket that sent this SYN, found by its own 4-tuple (the final
 * destination, as the kernel knows the socket): 0 and *si, or -1. */
static int syn_socket(struct worker *w, const struct ht_pkt *p, struct sd_inet *si)
{
	size_t al = p->family == AF_INET ? 4 : 16;
	if (w->nl < 0)
		w->nl = sd_open();
	if (w->nl < 0 ||
	    sd_inet_lookup(w->nl, p->family, p->src, p->sport, p->dst, p->dport, si) != 0 ||
	    !si->ino || si->state == TCP_LISTEN || si->rport != p->dport || memcmp(si->raddr, p->dst, al))
		return -1;
	return 0;
}

/* A source route's facts: is every address it visits (its first hop, the
 * route, the destination) this host's — then it is a local destination — and
 * which of them must be judged (not this host's, not the destination). A
 * source route's first hop may be this host (outdev lo): local is where it
 * finally goes. */
static int route_facts(const struct ht_pkt *p, const uint8_t *pkt, uint8_t hops[][16], size_t *n)
{
	size_t al = p->family == AF_INET ? 4 : 16;
	int all_local = 1;
	*n = 0;
	for (size_t k = 0; k <= p->route_n; k++) {
		const uint8_t *a = k == 0 ? p->hop : pkt + p->route_off + (k - 1) * al;
		int local = sd_is_local_addr(p->family, a) == 1;
		all_local &= local;
		if (local || !memcmp(a, p->dst, al))
			continue;
		memset(hops[*n], 0, 16);
		memcpy(hops[(*n)++], a, al);
	}
	return all_local && (is_loopback(p) || sd_is_local_addr(p->family, p->dst) == 1);
}

/* ---- the collector's answer ------------------------------------------------- */

/* The chain the collector pushed for the SYN's socket (malloc()ed), or NULL.
 * A push decides the SYN only when it holds for the SYN: it was computed
 * after the guard had the SYN (syn_us, so after every record sent before the
 * connect()), or the collector answers "pushed" to a "who" asked now — after
 * reading every record sent before it, when nothing a chain walk sees changed
 * since the push (docs/query-protocol.md "subscribe"). So it asks "who" and
 * takes the push if a fresh one comes first; then *asked is 1 and, without a
 * push, the answer is in w->cq.buf (*alen). *ino: the socket's inode, 0 when
 * it was not found (nothing pushed or asked). */
static char *prejudged(struct worker *w, const struct ht_pkt *p, const char *local,
		       const char *remote, long syn_us, uint64_t *ino, long *alen, int *asked,
		       char *err, size_t errlen)
{
	struct engine *e = w->e;
	struct push *ps = &e->push;
	int pfd, none;
	struct sd_inet si;
	/* (no pushes with policy_url: the policy server gets the answer as asked) */
	if ((pfd = push_fd_now(ps)) < 0 || syn_socket(w, p, &si) != 0)
		return NULL;
	*ino = si.ino;
	char *pushed = push_take(ps, si.ino, syn_us, &none);
	if (pushed) {
		atomic_fetch_add(&ps->n_hit, 1);
		return pushed;
	}
	*asked = 1;
	*alen = push_ask(ps, &w->cq, pfd, si.ino, syn_us, none, local, remote,
			 e->conf.collector_timeout_ms, err, errlen, &pushed);
	if (!pushed && *alen > 0 && w->cq.code == HT_QE_PUSHED) {
		/* the collector sent it before this answer, and it holds */
		pushed = push_take(ps, si.ino, 0, &none);
		if (!pushed) /* not usable here after all: ask again */
			*asked = 0;
	}
	atomic_fetch_add(pushed ? &ps->n_race : &ps->n_miss, 1);
	if (!pushed)
		push_forget(ps, si.ino);
	return pushed;
}

/* Gathers the collector's answer for SYN p into *a: a push, else asked,
 * within the one collector_timeout_ms. A push that cannot be read, or was
 * computed for another connect() of the socket, is dropped and the SYN
 * asked about (at most once). */
static void collector_answer(struct worker *w, const struct ht_pkt *p, int local_dst,
			     const char *local, const char *remote, long syn_us, uint64_t *ino,
			     struct audit_rec *r, struct answer *a)
{
	struct engine *e = w->e;
	char err[256] = "";
	const char *jerr = NULL;
	enum ht_qerr jcode = HT_QE_BAD_ANSWER;
	struct ht_qhead pushed_head, *head = &w->cq.head;
	long tq = mono_us(), alen = -1;
	int asked = 0;
	a->pushed = local_dst ? NULL
			      : prejudged(w, p, local, remote, syn_us, ino, &alen, &asked, err, sizeof err);
	for (;;) {
		a->json = a->pushed ? a->pushed : w->cq.buf;
		if (a->pushed) {
			alen = (long)strlen(a->pushed);
		} else if (!asked) {
			/* within the one deadline, also when a push was dropped;
			 * always the full answer here, never "pushed" */
			long left = (long)e->conf.collector_timeout_ms - (mono_us() - tq) / 1000;
			w->cq.force = 1;
			alen = collq_who(&w->cq, local, remote, left > 0 ? (unsigned long)left : 1, err,
					 sizeof err);
		}
		r->prejudged = a->pushed != NULL;
		a->len = alen;
		if (alen < 0)
			break;
		if (a->pushed) /* (an asked answer's head collq has read) */
			ht_qhead_parse(a->json, (size_t)alen, head = &pushed_head);
		else
			head = &w->cq.head;
		/* (the first answer's host stays when a push is dropped and asking fails) */
		size_t hl = strnlen(head->host, sizeof a->host - 1);
		memcpy(a->host, head->host, hl);
		a->host[hl] = 0;
		a->have_chains = ht_chains_read(a->json, (size_t)alen, &a->cs, &jcode, &jerr) == 0;
		if (!a->pushed || (a->have_chains && push_for(&a->cs, p)))
			break;
		/* unreadable, or computed for another connect() of this socket: ask */
		if (a->have_chains)
			ht_chainset_free(&a->cs);
		a->have_chains = 0;
		free(a->pushed);
		a->pushed = NULL;
		push_forget(&e->push, *ino);
		asked = 0;
		atomic_fetch_add(&e->push.n_miss, 1);
	}
	r->collector_us = mono_us() - tq;
	if (a->have_chains && a->pushed)
		push_fill_src(&a->cs, p);
	if (!a->have_chains)
		answer_failure(a, alen, &w->cq, err, head, jcode, jerr);
}

/* ---- acting ----------------------------------------------------------------- */

static void emit(struct worker *w, const struct audit_rec *r, int refusal)
{
	audit_sink_emit(&w->e->audit, &w->line, r, refusal);
}

/* A SYN the guard cannot judge: on_unparsable decides, and it is audited
 * (with what could be read) and counted. Never cached: it is judged (and
 * logged) again when it comes again. */
static void unparsable(struct worker *w, const struct nfqueue_pkt *pk, const struct ht_pkt *p,
		       const char *what, long t0, struct audit_rec *r)
{
	struct engine *e = w->e;
	char local[HT_ENDPOINT_STRLEN], remote[HT_ENDPOINT_STRLEN];
	struct decide_out out;
	decide_unparsable(what, &e->conf, &out);
	atomic_fetch_add(&e->n.parse_err, 1);
	nfqueue_verdict(&e->q, pk, out.action);
	if (p->have) {
		ep_of(p, 0, local, sizeof(local));
		ep_of(p, 1, remote, sizeof(remote));
		r->local = local;
		r->remote = remote;
	}
	r->reason = out.reason;
	r->cause = out.cause;
	r->monitor = e->conf.monitor;
	r->verdict = acl_verdict_str(out.verdict);
	r->action = acl_verdict_str(out.action);
	r->latency_us = mono_us() - t0;
	emit(w, r, out.verdict != ACL_ACCEPT);
	/* one warning a second at most: a flood of them must not flood the log */
	long now = mono_ms(), last = atomic_load(&e->unparsable_log_ms);
	if (now - last >= 1000 && atomic_compare_exchange_strong(&e->unparsable_log_ms, &last, now)) {
		unsigned long more = atomic_exchange(&e->unparsable_unlogged, 0);
		log_warnx("packet %u %s -> %s: %s%s", pk->id, p->have ? local : "?",
			  p->have ? remote : "?", out.reason, more ? " (and more since the last warning)" : "");
	} else {
		atomic_fetch_add(&e->unparsable_unlogged, 1);
	}
}

/* Steps 2 (cache) and its socket check: 1 when the verdict was sent. */
static int cached(struct worker *w, const struct nfqueue_pkt *pk, const struct ht_pkt *p,
		  const uint8_t key[CACHE_KEY_LEN], uint64_t *ino)
{
	struct engine *e = w->e;
	struct sd_inet si;
	uint64_t cino = 0;
	int v = cache_get(&e->cache, key, &cino);
	if (v >= 0 && cino) {
		/* a retransmit of the SYN decided on is from that same socket */
		if (!*ino)
			*ino = syn_socket(w, p, &si) == 0 ? si.ino : 0;
		if (*ino != cino)
			v = -1;
	}
	if (v < 0)
		return 0;
	atomic_fetch_add(&e->n.cached, 1);
	nfqueue_verdict(&e->q, pk, v);
	return 1;
}

/* Steps 3-5 for a SYN not in the cache. */
static void judge_new(struct worker *w, const struct nfqueue_pkt *pk, const struct ht_pkt *p,
		      int detour, const uint8_t key[CACHE_KEY_LEN], uint64_t ino, long t0,
		      struct audit_rec *r)
{
	struct engine *e = w->e;
	const struct guard_conf *c = &e->conf;
	char local[HT_ENDPOINT_STRLEN], remote[HT_ENDPOINT_STRLEN];
	uint8_t hops[256][16];
	struct decide_in in = {.detour = detour, .family = p->family, .hops = hops};
	struct answer a = {.have_chains = 0};
	struct acl_result policy;
	struct decide_out out;

	ep_of(p, 0, local, sizeof(local));
	ep_of(p, 1, remote, sizeof(remote));
	r->local = local;
	r->remote = remote;
	in.local_dst = detour ? route_facts(p, pk->data, hops, &in.n_hops)
			      : (pk->outdev > 0 && pk->outdev == e->lo_ifindex) || is_loopback(p);
	r->local_dst = in.local_dst;
	r->monitor = c->monitor;
	collector_answer(w, p, in.local_dst, local, remote, t0, &ino, r, &a);
	if (a.host[0])
		r->host = a.host;
	in.cs = a.have_chains ? &a.cs : NULL;
	in.qerr = a.have_chains ? HT_QE_OK : a.qerr;
	in.qtext = a.qtext;
	decide_chain_flags(in.cs, &in.complete, &in.fallback);
	if (decide_wants_policy_server(&in, c)) {
		in.policy_ok = policy_remote_ask(c->policy_url,
						 (long)c->policy_timeout_ms, a.json, (size_t)a.len,
						 &policy) == 0;
		in.policy = &policy;
	}
	pthread_rwlock_rdlock(&e->acl_lock);
	decide_syn(&in, c, e->acl, &out);
	pthread_rwlock_unlock(&e->acl_lock);

	if (out.collector_error)
		atomic_fetch_add(&e->n.coll_err, 1);
	if (out.warn)
		log_warnx("%s -> %s: %s", local, remote, out.reason);
	r->latency_us = mono_us() - t0;
	nfqueue_verdict(&e->q, pk, out.action);
	if (a.pushed)
		push_bound(&e->push, ino, local, remote);
	cache_put(&e->cache, key, out.action, ino);
	atomic_fetch_add(&e->n.decided, 1);

	r->chains = in.cs;
	r->complete = in.complete;
	r->fallback = in.fallback;
	r->rule = out.rule;
	r->reason = out.reason;
	r->cause = out.cause;
	r->verdict = acl_verdict_str(out.verdict);
	r->action = acl_verdict_str(out.action);
	emit(w, r, out.verdict != ACL_ACCEPT);
	if (a.have_chains)
		ht_chainset_free(&a.cs);
	free(a.pushed);
}

void judge_syn(struct worker *w, const struct nfqueue_pkt *pk)
{
	struct engine *e = w->e;
	long t0 = mono_us();
	struct ht_pkt p;
	struct audit_rec r = {.collector_us = -1};
	char hop[INET6_ADDRSTRLEN];
	uint8_t key[CACHE_KEY_LEN];
	uint64_t ino = 0;
	struct sd_inet si;

	atomic_fetch_add(&e->n.pkts, 1);
	clock_gettime(CLOCK_REALTIME, &r.time);
	int pr = ht_pkt_parse(pk->data, pk->len, pk->pktlen, &p);
	if (e->bare) {
		nfqueue_verdict(&e->q, pk, ACL_ACCEPT);
		return;
	}
	if (pr != HT_PKT_OK) {
		/* not a SYN we can name: never let it through unjudged */
		unparsable(w, pk, &p, ht_pkt_strerror(pr), t0, &r);
		return;
	}
	int detour = ht_pkt_detour(&p, pk->data);
	if (detour) {
		/* source-routed: judged on the socket's destination (p.dst), which
		 * the kernel must confirm, and on every address it visits */
		atomic_fetch_add(&e->n.srcroute, 1);
		addr_str(p.family, p.hop, hop, sizeof(hop));
		r.first_hop = hop;
		if (syn_socket(w, &p, &si) != 0) {
			unparsable(w, pk, &p, "source route to a destination no socket here connects to",
				   t0, &r);
			return;
		}
		ino = si.ino;
	}
	cache_key(&p, pk->data, key);
	if (!cached(w, pk, &p, key, &ino))
		judge_new(w, pk, &p, detour, key, ino, t0, &r);
}
