/*
 * policy_remote.h — the guard's client for hoptrace-policyd (docs/policy.md).
 * POST <url> (e.g. http://10.0.0.9:8470/v1/decide) with the collector's answer
 * JSON as body and "Authorization: Bearer <secret>"; the answer is
 * {"verdict":"accept|reject|drop","why":"..."[,"rule":"FILE:LINE"]} — "rule"
 * when a rule decided it (the list's ACL_WHY_RULE; an older server sends
 * none, and its why reads as a reason).
 *
 * Thread-safe: each thread keeps its own CURL handle (keep-alive).
 */
#ifndef HOPTRACE_GUARD_POLICY_REMOTE_H
#define HOPTRACE_GUARD_POLICY_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include "hoptrace/acl.h"

/* Socket mark (SO_MARK) put on every connection the client opens, so the guard
 * exempts its own traffic; 0 (the default) sets none. Call before any thread
 * decides. */
void policy_remote_set_mark(uint32_t mark);

/* Returns 0 and *v / why on an answer; -1 (why holds the reason) when the server
 * is unreachable, times out, refuses the request (non-200) or answers garbage —
 * the caller then applies its configured answer. secret may be NULL or "". */
int policy_remote_decide(const char *url, const char *secret, long timeout_ms,
			 const char *answer_json, size_t len, enum acl_verdict *v, char *why,
			 size_t whylen);

/* The same with the answer as a result: why ACL_WHY_RULE and rule set when
 * the server named a rule, else ACL_WHY_REMOTE; text is the server's "why"
 * (on -1: the reason the server could not be asked). */
int policy_remote_ask(const char *url, const char *secret, long timeout_ms,
		      const char *answer_json, size_t len, struct acl_result *res);

/* Frees the calling thread's handle (optional; call before a worker exits). */
void policy_remote_thread_cleanup(void);

#endif
