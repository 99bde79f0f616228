/*
 * decide_test.c — the guard's decision (guard/decide.c) branch by branch,
 * without root: what tests/func/guard_*.sh reach only through a real queue.
 * The configurations give every configured answer a different verdict
 * (on_incomplete drop, on_collector_error accept, on_policy_error drop,
 * on_unparsable accept, ...), so a branch wired to the wrong one fails.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "../../guard/audit.h"
#include "../../guard/decide.h"
#include "test.h"

/* ---- fixtures --------------------------------------------------------------- */

#define ACL_TEXT                                                   \
	"10.0.0.1, *, 10.0.0.2, 22, white, ssh:sshd:bash\n"        \
	"10.0.0.1, *, 10.0.0.2, 23, black, nc, drop\n"             \
	"*, *, 10.0.0.9, 80, black,\n"                             \
	"10.0.0.1, *, 10.0.0.8, 80, black,\n"

static struct acl *load(const char *name, const char *text)
{
	struct acl *a = NULL;
	struct acl_error err;
	size_t n = 0;
	if (acl_load_buf(name, text, strlen(text), &a, &err, 1, &n) != 0) {
		fprintf(stderr, "    %s:%d: %s\n", err.file, err.line, err.reason);
		return NULL;
	}
	return a;
}

static struct ht_chain_proc procs[3] = {
	{.host = "h1", .pid = 101, .uid = 1000, .exe = "/usr/bin/bash"},
	{.host = "h1", .pid = 102, .uid = 1000, .exe = "/usr/bin/ssh"},
	{.host = "h1", .pid = 103, .uid = 1000, .exe = "/usr/bin/nc"},
};

static struct ht_endpoint ep(const char *ip, int port)
{
	struct ht_endpoint e;
	memset(&e, 0, sizeof e);
	e.family = AF_INET;
	inet_pton(AF_INET, ip, e.addr);
	e.port = (uint16_t)port;
	return e;
}

/* a chain from 10.0.0.1 to DST:PORT through the first nprocs of procs[] */
static struct ht_chain chain(const char *dst, int port, size_t nprocs)
{
	struct ht_chain c;
	memset(&c, 0, sizeof c);
	snprintf(c.origin_host, sizeof c.origin_host, "h1");
	c.src = ep("10.0.0.1", 40000);
	c.dst = ep(dst, port);
	c.complete = 1;
	c.nprocs = nprocs;
	c.procs = procs;
	return c;
}

/* Every configured answer different, so a miswired branch shows. */
static struct guard_conf conf(void)
{
	struct guard_conf c;
	guard_conf_defaults(&c);
	c.on_incomplete = ACL_DROP;
	c.on_collector_error = ACL_ACCEPT;
	c.on_policy_error = ACL_DROP;
	c.on_unparsable = ACL_ACCEPT;
	return c;
}

struct fx {
	struct ht_chain v[2];
	struct ht_chainset cs;
	struct decide_in in;
	struct decide_out out;
};

/* in: chains cs (one chain to DST:PORT through nprocs processes) */
static void with_chain(struct fx *f, const char *dst, int port, size_t nprocs)
{
	memset(f, 0, sizeof *f);
	f->v[0] = chain(dst, port, nprocs);
	f->cs.n = 1;
	f->cs.v = f->v;
	f->in.cs = &f->cs;
	f->in.qerr = HT_QE_OK;
	f->in.family = AF_INET;
	decide_chain_flags(&f->cs, &f->in.complete, &f->in.fallback);
}

/* in: no chains, the collector's failure code and text */
static void without_chain(struct fx *f, enum ht_qerr e, const char *text)
{
	memset(f, 0, sizeof *f);
	f->in.qerr = e;
	f->in.qtext = text;
	f->in.family = AF_INET;
}

static const struct guard_conf *cur_conf; /* the last run()'s */

static void run(struct fx *f, const struct guard_conf *c, const struct acl *a)
{
	memset(&f->out, 0x5a, sizeof f->out); /* nothing left from before */
	cur_conf = c;
	decide_syn(&f->in, c, a, &f->out);
}

/* The audit line's "cause" a branch must give whatever the list said
 * (NULL: the list's or the server's answer decides it, checked by CHECK_CAUSE). */
static const char *branch_cause(enum decide_why w, const struct guard_conf *c)
{
	switch (w) {
	case DECIDE_LOCAL: return "local";
	case DECIDE_ANSWER_INCOMPLETE:
	case DECIDE_INCOMPLETE: return "incomplete";
	case DECIDE_COLLECTOR_ERROR:
	case DECIDE_LOCAL_GAP: return "collector_error";
	case DECIDE_POLICY_ERROR: return c && c->policy_url[0] ? "policy_error" : "other";
	case DECIDE_ROUTE_UNJUDGED:
	case DECIDE_ROUTE_HOP:
	case DECIDE_UNPARSABLE: return "other";
	default: return NULL;
	}
}

#define CHECK_OUT(f, v, act, w)                               \
	do {                                                  \
		CHECK_EQ_INT((f)->out.verdict, v);            \
		CHECK_EQ_INT((f)->out.action, act);           \
		CHECK_EQ_INT((f)->out.why, w);                \
		CHECK((f)->out.cause != NULL);                \
		if (branch_cause(w, cur_conf))                \
			CHECK_EQ_STR((f)->out.cause, branch_cause(w, cur_conf)); \
	} while (0)
#define CHECK_CAUSE(f, want) CHECK_EQ_STR((f)->out.cause, want)
#define CHECK_REASON(f, text)                                 \
	do {                                                  \
		CHECK((f)->out.rule == NULL);                 \
		CHECK_EQ_STR((f)->out.reason, text);          \
	} while (0)
#define CHECK_RULE(f, text)                                   \
	do {                                                  \
		CHECK((f)->out.reason == NULL);               \
		CHECK_EQ_STR((f)->out.rule, text);            \
	} while (0)

/* ---- 1. local destination --------------------------------------------------- */

static void local_destination(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	/* not judged: accepted whatever the list says (nc to 23 is dropped) */
	with_chain(&f, "10.0.0.2", 23, 3);
	f.in.local_dst = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_LOCAL);
	CHECK_REASON(&f, "local destination, not judged");
	CHECK_EQ_INT(f.out.warn, 0);
	/* not judged, and the collector's failure said */
	without_chain(&f, HT_QE_TIMEOUT, "no answer from collector within 1000 ms");
	f.in.local_dst = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_LOCAL);
	CHECK_REASON(&f, "local destination, not judged; no answer from collector within 1000 ms");
	CHECK_EQ_INT(f.out.collector_error, 0);
	without_chain(&f, HT_QE_NO_CONN, "no such TCP connection on this host");
	f.in.local_dst = 1;
	run(&f, &c, a);
	CHECK_REASON(&f, "local destination, not judged; collector: no such TCP connection on this host");
	/* judge_local = yes: the list decides */
	c.judge_local = 1;
	with_chain(&f, "10.0.0.2", 23, 3);
	f.in.local_dst = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ACL);
	CHECK_REASON(&f, "process nc in black list (t.acl:2)");
	CHECK_CAUSE(&f, "rule");
	/* judge_local = yes without a chain: on_collector_error */
	without_chain(&f, HT_QE_UNREACHABLE, "collector unreachable: @hoptrace/query: Connection refused");
	f.in.local_dst = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_COLLECTOR_ERROR);
	acl_free(a);
}

/* ---- 2. a chain the collector found but cannot send ------------------------ */

static void answer_too_large_or_too_many_chains(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	/* on_incomplete set (drop): it decides, not on_collector_error (accept) */
	without_chain(&f, HT_QE_TOO_LARGE, "answer too large");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ANSWER_INCOMPLETE);
	CHECK_REASON(&f, "chain incomplete (collector: answer too large)");
	CHECK_EQ_INT(f.out.collector_error, 0);
	CHECK_EQ_INT(f.out.warn, 0);
	without_chain(&f, HT_QE_TOO_MANY_CHAINS, "answer has too many chains (limit 64)");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ANSWER_INCOMPLETE);
	CHECK_REASON(&f, "chain incomplete (collector: answer has too many chains (limit 64))");
	/* the code decides, not the text: the same words under another code
	 * are a collector error, and other words under this code incomplete */
	without_chain(&f, HT_QE_OTHER, "answer too large");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_COLLECTOR_ERROR);
	without_chain(&f, HT_QE_TOO_LARGE, "reworded: does not fit");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ANSWER_INCOMPLETE);
	/* no text: the code's own */
	without_chain(&f, HT_QE_TOO_MANY_CHAINS, NULL);
	run(&f, &c, a);
	CHECK_REASON(&f, "chain incomplete (collector: answer has too many chains)");
	/* on_incomplete = policy: on_collector_error decides */
	c.on_incomplete = -1;
	without_chain(&f, HT_QE_TOO_LARGE, "answer too large");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ANSWER_INCOMPLETE);
	CHECK_REASON(&f, "chain incomplete (collector: answer too large)");
	c.on_collector_error = ACL_REJECT;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ANSWER_INCOMPLETE);
	acl_free(a);
}

/* ---- 3. no chain: on_collector_error ---------------------------------------- */

static void collector_errors(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	static const struct {
		enum ht_qerr e;
		const char *text, *reason;
	} cases[] = {
		{HT_QE_UNREACHABLE, "collector unreachable: @hoptrace/query: Connection refused",
		 "collector unreachable: @hoptrace/query: Connection refused; on_collector_error = accept"},
		{HT_QE_NOT_ROOT, "collector unreachable: @hoptrace/query is not served by root (uid 1000)",
		 "collector unreachable: @hoptrace/query is not served by root (uid 1000); "
		 "on_collector_error = accept"},
		{HT_QE_TIMEOUT, "no answer from collector within 1000 ms",
		 "collector: no answer from collector within 1000 ms; on_collector_error = accept"},
		{HT_QE_CLOSED, "collector closed the connection",
		 "collector closed the connection; on_collector_error = accept"},
		{HT_QE_BAD_ANSWER, "answer is not valid JSON",
		 "collector: answer is not valid JSON; on_collector_error = accept"},
		{HT_QE_NO_CONN, "no such TCP connection on this host",
		 "collector: no such TCP connection on this host; on_collector_error = accept"},
		{HT_QE_NO_HOLDER, "no process holds that connection's socket",
		 "collector: no process holds that connection's socket; on_collector_error = accept"},
		{HT_QE_NO_MEMORY, NULL, "collector: out of memory; on_collector_error = accept"},
		{HT_QE_OTHER, "malformed answer", "collector: malformed answer; on_collector_error = accept"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		without_chain(&f, cases[i].e, cases[i].text);
		run(&f, &c, a);
		CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_COLLECTOR_ERROR);
		CHECK_REASON(&f, cases[i].reason);
		CHECK_EQ_INT(f.out.collector_error, 1);
		CHECK_EQ_INT(f.out.warn, 1);
	}
	/* the other verdicts */
	c.on_collector_error = ACL_REJECT;
	without_chain(&f, HT_QE_CLOSED, "collector closed the connection");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_COLLECTOR_ERROR);
	CHECK_REASON(&f, "collector closed the connection; on_collector_error = reject");
	/* every code: incomplete exactly for ht_qerr_incomplete's */
	c.on_collector_error = ACL_ACCEPT;
	for (int e = HT_QE_OK + 1; e < HT_QE_COUNT; e++) {
		without_chain(&f, (enum ht_qerr)e, "x");
		run(&f, &c, a);
		int inc = e == HT_QE_TOO_LARGE || e == HT_QE_TOO_MANY_CHAINS;
		CHECK_EQ_INT(f.out.why, inc ? DECIDE_ANSWER_INCOMPLETE : DECIDE_COLLECTOR_ERROR);
		CHECK_EQ_INT(f.out.verdict, inc ? ACL_DROP : ACL_ACCEPT);
	}
	acl_free(a);
}

/* ---- 4. incomplete chains ----------------------------------------------------- */

static void incomplete_chains(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	with_chain(&f, "10.0.0.2", 22, 2);
	f.v[0].complete = 0;
	decide_chain_flags(&f.cs, &f.in.complete, &f.in.fallback);
	CHECK_EQ_INT(f.in.complete, 0);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_INCOMPLETE);
	CHECK_REASON(&f, "chain incomplete; on_incomplete = drop");
	CHECK_EQ_INT(f.out.collector_error, 0);
	/* on_incomplete = policy: the list's @incomplete (default reject) */
	c.on_incomplete = -1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ACL);
	CHECK_REASON(&f, "chain incomplete (default)");
	struct acl *ev = load("e.acl", "@incomplete evaluate\n" ACL_TEXT);
	run(&f, &c, ev);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ACL);
	CHECK_RULE(&f, "e.acl:2");
	/* no chain at all (an empty set) is not complete either */
	with_chain(&f, "10.0.0.2", 22, 2);
	f.cs.n = 0;
	decide_chain_flags(&f.cs, &f.in.complete, &f.in.fallback);
	CHECK_EQ_INT(f.in.complete, 0);
	c.on_incomplete = ACL_REJECT;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_INCOMPLETE);
	CHECK_REASON(&f, "chain incomplete; on_incomplete = reject");
	/* the collector's own /proc search ran out (holders_incomplete): the
	 * uid that owns what was searched can make that happen, so no
	 * "@incomplete evaluate" (nor on_incomplete) judges what is known of
	 * it — on_collector_error does, as for a socket with no holder found */
	with_chain(&f, "10.0.0.2", 22, 2);
	f.v[0].complete = 0;
	f.cs.local_gap = 1;
	decide_chain_flags(&f.cs, &f.in.complete, &f.in.fallback);
	c.on_incomplete = -1;
	run(&f, &c, ev);
	CHECK_OUT(&f, c.on_collector_error, c.on_collector_error, DECIDE_LOCAL_GAP);
	CHECK_EQ_INT(f.out.collector_error, 1);
	CHECK(f.out.reason && strstr(f.out.reason, "holders_incomplete"));
	c.on_incomplete = ACL_ACCEPT;
	run(&f, &c, ev);
	CHECK_OUT(&f, c.on_collector_error, c.on_collector_error, DECIDE_LOCAL_GAP);
	c.on_collector_error = ACL_DROP;
	run(&f, &c, ev);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_LOCAL_GAP);
	acl_free(ev);
	acl_free(a);
}

/* ---- 5, 6. the policy server -------------------------------------------------- */

static void policy_server(void)
{
	struct guard_conf c = conf();
	snprintf(c.policy_url, sizeof c.policy_url, "http://10.0.0.7:8470/v1/decide");
	struct fx f;
	struct acl_result pr = {.verdict = ACL_ACCEPT, .why = ACL_WHY_RULE,
				.rule = "/etc/hoptrace/policy.acl:3", .text = "/etc/hoptrace/policy.acl:3"};
	/* asked only where it decides */
	with_chain(&f, "10.0.0.2", 22, 2);
	CHECK_EQ_INT(decide_wants_policy_server(&f.in, &c), 1);
	f.in.policy = &pr;
	f.in.policy_ok = 1;
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_POLICY_SERVER);
	CHECK_RULE(&f, "/etc/hoptrace/policy.acl:3");
	/* a rule whose path has a space is still a rule */
	snprintf(pr.rule, sizeof pr.rule, "/etc/my policy.acl:3");
	run(&f, &c, NULL);
	CHECK_RULE(&f, "/etc/my policy.acl:3");
	/* a reason */
	pr = (struct acl_result){.verdict = ACL_REJECT, .why = ACL_WHY_REMOTE,
				 .text = "process nc not in white list (/etc/hoptrace/policy.acl:3)"};
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_POLICY_SERVER);
	CHECK_REASON(&f, "process nc not in white list (/etc/hoptrace/policy.acl:3)");
	CHECK_EQ_INT(f.out.warn, 0);
	/* a failure: on_policy_error */
	pr = (struct acl_result){.verdict = ACL_REJECT, .why = ACL_WHY_REMOTE,
				 .text = "policy server http://10.0.0.7:8470/v1/decide: Couldn't connect to server"};
	f.in.policy_ok = 0;
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_POLICY_ERROR);
	CHECK_REASON(&f, "policy server http://10.0.0.7:8470/v1/decide: Couldn't connect to server; "
			 "on_policy_error = drop");
	CHECK_EQ_INT(f.out.warn, 1);
	CHECK_EQ_INT(f.out.collector_error, 0);
	c.on_policy_error = ACL_ACCEPT;
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_POLICY_ERROR);
	/* not asked (a caller's slip) is a failure, never an accept */
	c.on_policy_error = ACL_REJECT;
	f.in.policy = NULL;
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_POLICY_ERROR);
	/* the earlier branches come first: the server is not asked */
	without_chain(&f, HT_QE_TIMEOUT, "no answer from collector within 1000 ms");
	CHECK_EQ_INT(decide_wants_policy_server(&f.in, &c), 0);
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_COLLECTOR_ERROR);
	with_chain(&f, "10.0.0.2", 22, 2);
	f.in.local_dst = 1;
	CHECK_EQ_INT(decide_wants_policy_server(&f.in, &c), 0);
	with_chain(&f, "10.0.0.2", 22, 2);
	f.v[0].complete = 0;
	decide_chain_flags(&f.cs, &f.in.complete, &f.in.fallback);
	CHECK_EQ_INT(decide_wants_policy_server(&f.in, &c), 0);
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_INCOMPLETE);
	/* without policy_url it never is */
	c.policy_url[0] = 0;
	with_chain(&f, "10.0.0.2", 22, 2);
	CHECK_EQ_INT(decide_wants_policy_server(&f.in, &c), 0);
}

static void source_route_with_policy_server(void)
{
	struct guard_conf c = conf();
	snprintf(c.policy_url, sizeof c.policy_url, "http://10.0.0.7:8470/v1/decide");
	struct fx f;
	with_chain(&f, "10.0.0.2", 22, 2);
	f.in.detour = 1;
	CHECK_EQ_INT(decide_wants_policy_server(&f.in, &c), 0);
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ROUTE_UNJUDGED);
	CHECK_REASON(&f, "unparsable: source route, its hops not judged by a policy server; "
			 "on_unparsable = accept");
	c.on_unparsable = ACL_DROP;
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ROUTE_UNJUDGED);
}

/* ---- 7. the access list ------------------------------------------------------- */

static void acl_verdicts(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	/* accept: the rule, no reason */
	with_chain(&f, "10.0.0.2", 22, 2);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ACL);
	CHECK_RULE(&f, "t.acl:1");
	CHECK_CAUSE(&f, "rule");
	/* reject: a process not in the white list */
	with_chain(&f, "10.0.0.2", 22, 3);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ACL);
	CHECK_REASON(&f, "process nc not in white list (t.acl:1)");
	CHECK_CAUSE(&f, "rule");
	/* drop: the rule's seventh field */
	with_chain(&f, "10.0.0.2", 23, 3);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ACL);
	CHECK_REASON(&f, "process nc in black list (t.acl:2)");
	/* no rule */
	with_chain(&f, "10.0.0.3", 22, 2);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ACL);
	CHECK_REASON(&f, "no matching rule");
	CHECK_CAUSE(&f, "no_rule");
	CHECK_EQ_INT(f.out.warn, 0);
	/* a list whose path has a space: its rule is a rule */
	struct acl *sp = load("/etc/my policies/p.acl", ACL_TEXT);
	with_chain(&f, "10.0.0.2", 22, 2);
	run(&f, &c, sp);
	CHECK_RULE(&f, "/etc/my policies/p.acl:1");
	acl_free(sp);
	/* no list loaded: on_policy_error, not logged as a policy server's */
	run(&f, &c, NULL);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_POLICY_ERROR);
	CHECK_REASON(&f, "no policy loaded; on_policy_error = drop");
	CHECK_EQ_INT(f.out.warn, 0);
	acl_free(a);
}

/* The audit line of a decision: a rule as "rule", a reason as "reason" —
 * a list whose path has a space included (it was logged as a reason). */
static void audit_line_rule_or_reason(void)
{
	struct guard_conf c = conf();
	struct acl *sp = load("/etc/my policies/p.acl", ACL_TEXT);
	struct fx f;
	struct abuf b = {0};
	struct audit_rec r = {.verdict = "accept", .action = "accept", .local = "10.0.0.1:40000",
			      .remote = "10.0.0.2:22", .collector_us = -1};
	with_chain(&f, "10.0.0.2", 22, 2);
	run(&f, &c, sp);
	r.rule = f.out.rule;
	r.reason = f.out.reason;
	CHECK_EQ_INT(audit_format(&b, &r), 0);
	CHECK(b.p && strstr(b.p, ",\"mode\":\"enforce\",\"rule\":\"/etc/my policies/p.acl:1\",\"local\":"));
	CHECK(b.p && !strstr(b.p, "\"reason\""));
	with_chain(&f, "10.0.0.2", 22, 3);
	run(&f, &c, sp);
	r.rule = f.out.rule;
	r.reason = f.out.reason;
	r.verdict = r.action = "reject";
	CHECK_EQ_INT(audit_format(&b, &r), 0);
	CHECK(b.p && strstr(b.p, ",\"reason\":\"process nc not in white list (/etc/my policies/p.acl:1)\""));
	CHECK(b.p && !strstr(b.p, "\"rule\""));
	abuf_free(&b);
	acl_free(sp);
}

static void monitor_mode(void)
{
	struct guard_conf c = conf();
	c.monitor = 1;
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	with_chain(&f, "10.0.0.2", 23, 3);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_ACCEPT, DECIDE_ACL);
	with_chain(&f, "10.0.0.3", 22, 2);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_ACCEPT, DECIDE_ACL);
	c.on_collector_error = ACL_REJECT;
	without_chain(&f, HT_QE_CLOSED, "collector closed the connection");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_ACCEPT, DECIDE_COLLECTOR_ERROR);
	without_chain(&f, HT_QE_TOO_LARGE, "answer too large");
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_ACCEPT, DECIDE_ANSWER_INCOMPLETE);
	decide_unparsable("truncated headers", &(struct guard_conf){.monitor = 1, .on_unparsable = ACL_REJECT},
			  &f.out);
	CHECK_OUT(&f, ACL_REJECT, ACL_ACCEPT, DECIDE_UNPARSABLE);
	with_chain(&f, "10.0.0.2", 22, 2);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ACL);
	acl_free(a);
}

static void kernel_only_and_fallback(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("k.acl", "@kernel_only drop\n" ACL_TEXT);
	struct acl *plain = load("t.acl", ACL_TEXT);
	struct fx f;
	with_chain(&f, "10.0.0.2", 22, 2);
	f.v[0].fallback = 1;
	decide_chain_flags(&f.cs, &f.in.complete, &f.in.fallback);
	CHECK_EQ_INT(f.in.fallback, 1);
	CHECK_EQ_INT(f.in.complete, 1);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ACL);
	CHECK_REASON(&f, "chain seen only by the kernel fallback (k.acl:1)");
	/* without the directive the rules decide */
	run(&f, &c, plain);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ACL);
	CHECK_RULE(&f, "t.acl:1");
	/* a process seen by the kernel only */
	struct ht_chain_proc kp[2] = {procs[0], procs[1]};
	kp[1].kernel_only = 1;
	with_chain(&f, "10.0.0.2", 22, 2);
	f.v[0].procs = kp;
	decide_chain_flags(&f.cs, &f.in.complete, &f.in.fallback);
	CHECK_EQ_INT(f.in.fallback, 0);
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_DROP, ACL_DROP, DECIDE_ACL);
	acl_free(plain);
	acl_free(a);
}

static void unattested_source(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	/* 10.0.0.1 -> 10.0.0.8:80 is accepted by source; not when only a
	 * record says the source, while a `*` source still matches */
	with_chain(&f, "10.0.0.8", 80, 2);
	run(&f, &c, a);
	CHECK_RULE(&f, "t.acl:4");
	f.v[0].src_unattested = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ACL);
	CHECK_REASON(&f, "no matching rule");
	with_chain(&f, "10.0.0.9", 80, 2);
	f.v[0].src_unattested = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ACL);
	CHECK_RULE(&f, "t.acl:3");
	acl_free(a);
}

static void source_route_with_acl(void)
{
	struct guard_conf c = conf();
	struct acl *a = load("t.acl", ACL_TEXT);
	struct fx f;
	uint8_t hops[2][16] = {{0}};
	inet_pton(AF_INET, "10.0.0.9", hops[0]);
	inet_pton(AF_INET, "10.0.0.5", hops[1]);
	/* to 10.0.0.9:80 via hop 10.0.0.9 is accepted... */
	with_chain(&f, "10.0.0.2", 80, 2);
	f.cs.v[0].dst = ep("10.0.0.9", 80);
	f.in.detour = 1;
	f.in.hops = (const uint8_t(*)[16])hops;
	f.in.n_hops = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ACL);
	CHECK_RULE(&f, "t.acl:3");
	/* ...but not via 10.0.0.5 too: the hop decides, the chain is restored */
	f.in.n_hops = 2;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ROUTE_HOP);
	CHECK_REASON(&f, "source route via 10.0.0.5: no matching rule");
	struct ht_endpoint want = ep("10.0.0.9", 80);
	CHECK(!memcmp(f.cs.v[0].dst.addr, want.addr, 16));
	/* no hop to judge (all this host's): the destination alone */
	f.in.n_hops = 0;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_ACCEPT, ACL_ACCEPT, DECIDE_ACL);
	/* refused for the destination: the hops are not asked */
	with_chain(&f, "10.0.0.3", 80, 2);
	f.in.detour = 1;
	f.in.hops = (const uint8_t(*)[16])hops;
	f.in.n_hops = 2;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ACL);
	CHECK_REASON(&f, "no matching rule");
	/* more chains than the hops are judged with: refused */
	struct ht_chain many[DECIDE_HOPS_MAX + 1];
	for (size_t i = 0; i < DECIDE_HOPS_MAX + 1; i++)
		many[i] = chain("10.0.0.9", 80, 2);
	struct ht_chainset mcs = {.n = DECIDE_HOPS_MAX + 1, .v = many};
	with_chain(&f, "10.0.0.9", 80, 2);
	f.in.cs = &mcs;
	f.in.detour = 1;
	f.in.hops = (const uint8_t(*)[16])hops;
	f.in.n_hops = 1;
	run(&f, &c, a);
	CHECK_OUT(&f, ACL_REJECT, ACL_REJECT, DECIDE_ROUTE_HOP);
	CHECK_REASON(&f, "source route: too many chains to judge its hops");
	acl_free(a);
}

static void unparsable_syn(void)
{
	struct guard_conf c = conf();
	struct decide_out out;
	decide_unparsable("truncated headers", &c, &out);
	CHECK_EQ_INT(out.verdict, ACL_ACCEPT);
	CHECK_EQ_INT(out.action, ACL_ACCEPT);
	CHECK_EQ_INT(out.why, DECIDE_UNPARSABLE);
	CHECK(out.rule == NULL);
	CHECK_EQ_STR(out.reason, "unparsable: truncated headers; on_unparsable = accept");
	c.on_unparsable = ACL_DROP;
	decide_unparsable("source route to a destination no socket here connects to", &c, &out);
	CHECK_EQ_INT(out.action, ACL_DROP);
	CHECK_EQ_STR(out.reason, "unparsable: source route to a destination no socket here "
				 "connects to; on_unparsable = drop");
}

T_MAIN("decide", T(local_destination), T(answer_too_large_or_too_many_chains), T(collector_errors),
       T(incomplete_chains), T(policy_server), T(source_route_with_policy_server), T(acl_verdicts),
       T(audit_line_rule_or_reason),       T(monitor_mode), T(kernel_only_and_fallback), T(unattested_source), T(source_route_with_acl),
       T(unparsable_syn))
