/*
 * decide.h — the guard's decision on one SYN, as a pure function.
 *
 * In: what asking the collector gave (the chains, or the enum ht_qerr code of
 * why there are none and its text), the SYN's facts (local destination,
 * source route and the hops to judge), the policy server's answer when it
 * was asked, the configuration and the access list. Out: the verdict, what
 * is done (monitor mode accepts), which branch decided, and the audit line's
 * rule or reason. No I/O, no clock, no globals: guard/judge.c gathers the
 * inputs and acts on the output (verdict, cache, audit, log), and
 * tests/unit/decide_test.c drives every branch without root.
 *
 * The branches, in order (docs/guard.md "How a SYN is decided"):
 *   1. local destination, judge_local = no        → accept, not judged
 *   2. no chain, the collector found one it cannot send whole
 *      (ht_qerr_incomplete: too_large, too_many_chains) → on_incomplete,
 *      or on_collector_error when on_incomplete = policy
 *   3. no chain, any other failure                 → on_collector_error
 *   3b. chains, but the collector's own /proc search ran out
 *      (holders_incomplete: a local source may be missing) → on_collector_error
 *   4. a chain incomplete, on_incomplete set       → on_incomplete
 *   5. policy server and a source route            → on_unparsable (the
 *      server is sent the answer for the socket's destination only)
 *   6. policy server                               → its verdict, or
 *      on_policy_error when it could not be asked
 *   7. access list                                 → its verdict; a source
 *      route's every hop must be accepted too; no list → on_policy_error
 * Routing is by code only: no text is ever compared.
 */
#ifndef HOPTRACE_GUARD_DECIDE_H
#define HOPTRACE_GUARD_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "hoptrace/acl.h"
#include "hoptrace/chain.h"
#include "hoptrace/query.h"
#include "gconf.h"

/* Which branch decided. */
enum decide_why {
	DECIDE_LOCAL = 0,         /* 1: local destination, not judged */
	DECIDE_ANSWER_INCOMPLETE, /* 2: a chain the collector cannot send */
	DECIDE_COLLECTOR_ERROR,   /* 3: no chain: on_collector_error */
	DECIDE_INCOMPLETE,        /* 4: chain incomplete: on_incomplete */
	DECIDE_LOCAL_GAP,         /* 3b: holders_incomplete: on_collector_error */
	DECIDE_ROUTE_UNJUDGED,    /* 5: source route with a policy server: on_unparsable */
	DECIDE_POLICY_SERVER,     /* 6: the policy server's verdict */
	DECIDE_POLICY_ERROR,      /* 6/7: server failed or no list loaded: on_policy_error */
	DECIDE_ACL,               /* 7: the access list's verdict */
	DECIDE_ROUTE_HOP,         /* 7: a source route's hop refused by the list */
	DECIDE_UNPARSABLE         /* a SYN whose headers cannot be read: on_unparsable */
};

#define DECIDE_HOPS_MAX 64 /* chains a source route's hops are judged with */

struct decide_in {
	/* the collector's answer: cs when chains were read, else qerr says why
	 * not and qtext how (details for people; NULL: ht_qerr_text(qerr)) */
	struct ht_chainset *cs; /* borrowed; its dst addresses are changed while
				 * a route's hops are judged, and restored */
	enum ht_qerr qerr;
	const char *qtext;
	int complete, fallback;  /* decide_chain_flags(cs) */
	/* the SYN */
	int local_dst;           /* its destination is this host */
	int detour;              /* source-routed (ht_pkt_detour) */
	int family;              /* AF_INET / AF_INET6, for the hops' text */
	const uint8_t (*hops)[16]; /* the route's addresses to judge, in order
				    * (not this host's, not the destination) */
	size_t n_hops;
	/* the policy server (policy_url): its answer once asked, else NULL */
	const struct acl_result *policy;
	int policy_ok;           /* 1 answered, 0 failed (policy->text says why) */
};

struct decide_out {
	enum acl_verdict verdict; /* what is decided */
	enum acl_verdict action;  /* what is done: accept in monitor mode */
	enum decide_why why;
	const char *rule;         /* the audit line's "rule" (FILE:LINE), or NULL */
	const char *reason;       /* the audit line's "reason", or NULL */
	const char *cause;        /* the audit line's "cause" (docs/audit-log.md):
				   * rule, no_rule, collector_error, policy_error,
				   * incomplete, local, other — what decided, as a
				   * code the metrics count by */
	int warn;                 /* worth a warning in the log too */
	int collector_error;      /* counted as a collector error */
	char buf[512];            /* what rule / reason point into */
};

/* complete: every chain complete (and at least one); fallback: some chain
 * came from the kernel fallback. */
void decide_chain_flags(const struct ht_chainset *cs, int *complete, int *fallback);

/* The branch decide_syn() takes before any policy is consulted: 1 when it is the
 * policy server's (then ask it and set in->policy), 0 otherwise. */
int decide_wants_policy_server(const struct decide_in *in, const struct guard_conf *c);

/* Decides (acl: the loaded list or NULL; the caller keeps it alive). */
void decide_syn(const struct decide_in *in, const struct guard_conf *c, const struct acl *acl,
	    struct decide_out *out);

/* A SYN the guard cannot read (what: why not): on_unparsable. */
void decide_unparsable(const char *what, const struct guard_conf *c, struct decide_out *out);

#endif
