/*
 * decide.c — implements decide.h: the guard's decision on one SYN from its
 * gathered inputs. Pure: it reads its arguments and writes *out, nothing
 * else (the access list's acl_decide is pure too). The texts are the audit
 * log's (docs/audit-log.md); the branch is chosen by code (route()), the
 * text made afterwards (decide_syn()).
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "decide.h"

/* vsnprintf: texts are cut at the buffer's end on purpose */
static void say(char *b, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *b, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, n, fmt, ap);
	va_end(ap);
}

static const char *vstr(int v) { return acl_verdict_str((enum acl_verdict)v); }

void decide_chain_flags(const struct ht_chainset *cs, int *complete, int *fallback)
{
	*complete = cs && cs->n > 0;
	*fallback = 0;
	for (size_t i = 0; cs && i < cs->n; i++) {
		if (!cs->v[i].complete)
			*complete = 0;
		if (cs->v[i].fallback)
			*fallback = 1;
	}
}

/* Failures of this side's transport: their texts are the client's own
 * ("collector unreachable: ...", "no answer from collector within N ms").
 * Everything else came from the collector or its answer, and is shown as
 * "collector: TEXT". */
static int transport_failure(enum ht_qerr e)
{
	return e == HT_QE_UNREACHABLE || e == HT_QE_NOT_ROOT || e == HT_QE_TIMEOUT ||
	       e == HT_QE_CLOSED;
}

/* The failure as the audit line shows it. */
static void failure_text(const struct decide_in *in, char *b, size_t n)
{
	const char *t = in->qtext ? in->qtext : ht_qerr_text(in->qerr);
	if (transport_failure(in->qerr))
		say(b, n, "%s", t);
	else
		say(b, n, "collector: %s", t);
}

/* The branch, by code only (decide.h's list). */
static enum decide_why route(const struct decide_in *in, const struct guard_conf *c,
			     const struct acl *acl)
{
	if (in->local_dst && !c->judge_local)
		return DECIDE_LOCAL;
	if (!in->cs)
		return ht_qerr_incomplete(in->qerr) ? DECIDE_ANSWER_INCOMPLETE : DECIDE_COLLECTOR_ERROR;
	if (in->cs->local_gap)
		/* the collector's own search ran out: as when it found no holder at
		 * all for that reason — not an upstream host's silence that
		 * "@incomplete evaluate" judges on what is known */
		return DECIDE_LOCAL_GAP;
	if (!in->complete && c->on_incomplete >= 0)
		return DECIDE_INCOMPLETE;
	if (c->policy_url[0])
		return in->detour ? DECIDE_ROUTE_UNJUDGED
				  : in->policy && in->policy_ok ? DECIDE_POLICY_SERVER
								: DECIDE_POLICY_ERROR;
	return acl ? DECIDE_ACL : DECIDE_POLICY_ERROR;
}

int decide_wants_policy_server(const struct decide_in *in, const struct guard_conf *c)
{
	struct decide_in asked = *in;
	static const struct acl_result answered;
	asked.policy = &answered;
	asked.policy_ok = 1;
	return route(&asked, c, NULL) == DECIDE_POLICY_SERVER;
}

/* A source-routed SYN the access list accepts for the socket's destination
 * reaches every address on its route too (with a segment routing header's
 * segments_left 0 it never reaches the socket's at all): each must be
 * accepted as well, by the same chains. The first that is not decides.
 * Returns ACL_ACCEPT, or the refusal with its text in out->buf. */
static enum acl_verdict judge_hops(const struct decide_in *in, const struct acl *acl,
				   struct decide_out *out)
{
	struct ht_chainset *cs = in->cs;
	size_t al = in->family == AF_INET ? 4 : 16;
	if (in->n_hops && cs->n > DECIDE_HOPS_MAX) {
		say(out->buf, sizeof out->buf, "source route: too many chains to judge its hops");
		return ACL_REJECT;
	}
	for (size_t k = 0; k < in->n_hops; k++) {
		uint8_t saved[DECIDE_HOPS_MAX][16];
		for (size_t i = 0; i < cs->n; i++) {
			memcpy(saved[i], cs->v[i].dst.addr, 16);
			memset(cs->v[i].dst.addr, 0, 16);
			memcpy(cs->v[i].dst.addr, in->hops[k], al);
		}
		struct acl_result r;
		enum acl_verdict v = acl_decide(acl, cs, &r);
		for (size_t i = 0; i < cs->n; i++)
			memcpy(cs->v[i].dst.addr, saved[i], 16);
		if (v != ACL_ACCEPT) {
			char as[INET6_ADDRSTRLEN];
			if (!inet_ntop(in->family, in->hops[k], as, sizeof as))
				snprintf(as, sizeof as, "?");
			say(out->buf, sizeof out->buf, "source route via %s: %s", as, r.text);
			return v;
		}
	}
	return ACL_ACCEPT;
}

/* The audit line's "cause" of a list's (or a policy server's) decision. */
static const char *acl_cause(enum acl_why w)
{
	switch (w) {
	case ACL_WHY_RULE:
	case ACL_WHY_NOT_WHITE:
	case ACL_WHY_BLACK:
		return "rule";
	case ACL_WHY_NO_MATCH:
		return "no_rule";
	case ACL_WHY_INCOMPLETE:
		return "incomplete";
	default:
		return "other";
	}
}

/* Branch 7: the access list (acl not NULL). */
static void by_acl(const struct decide_in *in, const struct acl *acl, struct decide_out *out)
{
	struct acl_result r;
	out->verdict = acl_decide(acl, in->cs, &r);
	say(out->buf, sizeof out->buf, "%s", r.why == ACL_WHY_RULE ? r.rule : r.text);
	int rule = r.why == ACL_WHY_RULE;
	out->cause = acl_cause(r.why);
	if (in->detour && out->verdict == ACL_ACCEPT) {
		out->verdict = judge_hops(in, acl, out);
		if (out->verdict != ACL_ACCEPT) {
			out->why = DECIDE_ROUTE_HOP;
			out->cause = "other";
			rule = 0;
		}
	}
	if (rule)
		out->rule = out->buf;
	else
		out->reason = out->buf;
}

void decide_syn(const struct decide_in *in, const struct guard_conf *c, const struct acl *acl,
		struct decide_out *out)
{
	char err[256];
	out->rule = out->reason = NULL;
	out->warn = out->collector_error = 0;
	out->buf[0] = 0;
	out->cause = "other";
	out->why = route(in, c, acl);
	if (!in->cs)
		failure_text(in, err, sizeof err);
	switch (out->why) {
	case DECIDE_LOCAL:
		out->verdict = ACL_ACCEPT;
		out->cause = "local";
		say(out->buf, sizeof out->buf, "local destination, not judged%s%s",
		    in->cs ? "" : "; ", in->cs ? "" : err);
		break;
	case DECIDE_ANSWER_INCOMPLETE:
		/* the collector found a chain but cannot send it: incomplete */
		out->verdict = c->on_incomplete >= 0 ? (enum acl_verdict)c->on_incomplete
						     : c->on_collector_error;
		out->cause = "incomplete";
		say(out->buf, sizeof out->buf, "chain incomplete (%s)", err);
		break;
	case DECIDE_COLLECTOR_ERROR:
		out->verdict = c->on_collector_error;
		out->collector_error = out->warn = 1;
		out->cause = "collector_error";
		/* "no answer from collector within N ms" does not start with
		 * the collector's name; every other failure text does */
		say(out->buf, sizeof out->buf, "%s%s; on_collector_error = %s",
		    in->qerr == HT_QE_TIMEOUT ? "collector: " : "", err, vstr(out->verdict));
		break;
	case DECIDE_LOCAL_GAP:
		out->verdict = c->on_collector_error;
		out->collector_error = out->warn = 1;
		out->cause = "collector_error";
		say(out->buf, sizeof out->buf,
		    "collector: holder scan incomplete: a /proc search ran out of its budget, "
		    "or holders the kernel cannot attest (holders_incomplete); "
		    "on_collector_error = %s",
		    vstr(out->verdict));
		break;
	case DECIDE_INCOMPLETE:
		out->verdict = (enum acl_verdict)c->on_incomplete;
		out->cause = "incomplete";
		say(out->buf, sizeof out->buf, "chain incomplete; on_incomplete = %s",
		    vstr(out->verdict));
		break;
	case DECIDE_ROUTE_UNJUDGED:
		/* the policy server is sent the collector's answer, for the
		 * socket's destination only: the detour's hops cannot be judged */
		out->verdict = c->on_unparsable;
		say(out->buf, sizeof out->buf,
		    "unparsable: source route, its hops not judged by a policy server; "
		    "on_unparsable = %s", vstr(out->verdict));
		break;
	case DECIDE_POLICY_SERVER:
		out->verdict = in->policy->verdict;
		out->cause = acl_cause(in->policy->why);
		say(out->buf, sizeof out->buf, "%s",
		    in->policy->why == ACL_WHY_RULE ? in->policy->rule : in->policy->text);
		if (in->policy->why == ACL_WHY_RULE)
			out->rule = out->buf;
		break;
	case DECIDE_POLICY_ERROR:
		out->verdict = c->on_policy_error;
		if (c->policy_url[0]) {
			out->warn = 1;
			out->cause = "policy_error";
			/* the text names the server already ("policy server URL: ...") */
			say(out->buf, sizeof out->buf, "%s; on_policy_error = %s",
			    in->policy ? in->policy->text : "policy server: not asked",
			    vstr(out->verdict));
		} else {
			say(out->buf, sizeof out->buf, "no policy loaded; on_policy_error = %s",
			    vstr(out->verdict));
		}
		break;
	case DECIDE_ACL:
		by_acl(in, acl, out);
		break;
	case DECIDE_ROUTE_HOP:
	case DECIDE_UNPARSABLE:
		break; /* not chosen by route() */
	}
	if (!out->rule && !out->reason)
		out->reason = out->buf;
	out->action = c->monitor ? ACL_ACCEPT : out->verdict;
}

void decide_unparsable(const char *what, const struct guard_conf *c, struct decide_out *out)
{
	out->why = DECIDE_UNPARSABLE;
	out->cause = "other";
	out->verdict = c->on_unparsable;
	out->action = c->monitor ? ACL_ACCEPT : out->verdict;
	out->warn = 1;
	out->collector_error = 0;
	say(out->buf, sizeof out->buf, "unparsable: %s; on_unparsable = %s", what,
	    vstr(out->verdict));
	out->rule = NULL;
	out->reason = out->buf;
}
