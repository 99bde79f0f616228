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

/* Decides a connection: every chain in cs must be allowed (several origins →
 * all must pass; the first refusal decides). An empty chain set (cs NULL or
 * n == 0) is refused with why "no chain". why (may be NULL) receives
 * "FILE:LINE" of the deciding rule, or a reason: "no matching rule",
 * "process nc not in white list (FILE:LINE)", "process nc in black list
 * (FILE:LINE)", "chain incomplete (FILE:LINE|default)", ... */
enum acl_verdict acl_decide(const struct acl *acl, const struct ht_chainset *cs, char *why,
			    size_t whylen);

/* "accept" / "reject" / "drop" */
const char *acl_verdict_str(enum acl_verdict v);
/* Parses those words; returns 0 or -1. */
int acl_verdict_parse(const char *s, enum acl_verdict *v);

#endif
