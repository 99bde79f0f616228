/*
 * acl.h — the access list (the paper's format plus documented extensions,
 * docs/policy.md) and the decision on a chain set.
 *
 *   Source IP, Source Port, Destination IP, Destination Port, white|black, p1:p2:... [, reject|drop]
 *
 * Source = the chain's origin end (chain.src), Destination = the SYN's
 * destination (chain.dst). First matching line decides; no matching line →
 * refused (reject by default; "@default drop" changes it).
 *
 * A parsed list is immutable after load: acl_decide() may be called from many
 * threads at once on the same struct acl. Swap lists by pointer (RCU-style or
 * under a lock) on reload; acl_free() the old one when no reader holds it.
 */
#ifndef HOPTRACE_GUARD_ACL_H
#define HOPTRACE_GUARD_ACL_H

#include <stddef.h>
#include "hoptrace/chain.h"

enum acl_verdict { ACL_ACCEPT, ACL_REJECT, ACL_DROP };

struct acl; /* opaque */

struct acl_error {
	char file[256];
	int line;          /* 1-based; 0 for a whole-file error (e.g. cannot open) */
	char reason[160];
};

/* Parses FILE. On success returns 0 and sets *out. On errors returns -1, fills
 * up to maxerr entries of errs (every bad line, not only the first; errs may be
 * NULL when maxerr is 0) and sets *nerr (may be NULL) to the total number of
 * errors; nothing is loaded and *out is untouched. */
int acl_load(const char *path, struct acl **out, struct acl_error *errs, size_t maxerr,
	     size_t *nerr);
/* The same over a buffer (need not be NUL-terminated); name is used as FILE. */
int acl_load_buf(const char *name, const char *buf, size_t len, struct acl **out,
		 struct acl_error *errs, size_t maxerr, size_t *nerr);
void acl_free(struct acl *acl);

/* Number of rules (not directives) in the list. */
size_t acl_nrules(const struct acl *acl);
/* The file name the list was loaded from. */
const char *acl_name(const struct acl *acl);

/* Why a list decided as it did: the reason code of an acl_result. */
enum acl_why {
	ACL_WHY_RULE = 0,    /* a rule matched and every process passed it */
	ACL_WHY_NOT_WHITE,   /* a process not in the matching rule's white list */
	ACL_WHY_BLACK,       /* a process in the matching rule's black list */
	ACL_WHY_NO_MATCH,    /* no rule matched: the default (@default) */
	ACL_WHY_INCOMPLETE,  /* an incomplete chain: @incomplete */
	ACL_WHY_KERNEL_ONLY, /* a chain seen only by the kernel fallback: @kernel_only */
	ACL_WHY_NO_CHAIN,    /* nothing to judge */
	ACL_WHY_NO_POLICY,   /* no list loaded */
	ACL_WHY_REMOTE       /* a policy server's reason (policy_remote.h) */
};

#define ACL_RULE_MAX 272 /* "FILE:LINE" of a list name (256) */

/* A decision: the verdict, what decided it, and the text people read.
 * rule is "FILE:LINE" of the rule that decided (ACL_WHY_RULE, _NOT_WHITE,
 * _BLACK), "" when a directive or the default did — so a reader tells a rule
 * from a reason by why, never by the shape of a string. */
struct acl_result {
	enum acl_verdict verdict;
	enum acl_why why;
	char rule[ACL_RULE_MAX];
	char text[512]; /* "FILE:LINE" of an accepting rule, or a reason:
			 * "no matching rule", "process nc not in white list
			 * (FILE:LINE)", "process nc in black list (FILE:LINE)",
			 * "chain incomplete (FILE:LINE|default)", ...; prefixed
			 * "origin HOST: " when one of several origins is refused */
};

/* Decides a connection: every chain in cs must be allowed (several origins →
 * all must pass; the first refusal decides; an accept names the first
 * chain's rule). An empty chain set (cs NULL or n == 0) is refused with
 * ACL_WHY_NO_CHAIN, "no chain". Fills *res (required) and returns its
 * verdict. Pure: reads only acl and cs. */
enum acl_verdict acl_decide(const struct acl *acl, const struct ht_chainset *cs,
			    struct acl_result *res);

/* "accept" / "reject" / "drop" */
const char *acl_verdict_str(enum acl_verdict v);
/* Parses those words; returns 0 or -1. */
int acl_verdict_parse(const char *s, enum acl_verdict *v);

#endif
