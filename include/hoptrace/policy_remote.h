/*
 * policy_remote.h — the guard's (and `hoptrace policy ask`'s) client for
 * hoptrace-policyd (docs/policy.md). POST <url> (https://10.0.0.9:8470/v1/decide)
 * with the collector's answer JSON as body, over mutual TLS with this host's fleet
 * certificate ([fleet] ca, cert, key, crl): the server's certificate must chain to the
 * fleet CA and name the URL's address or host (VERIFYHOST 2; CAPATH cleared, so the
 * system's CAs are never trusted). http:// URLs only with [fleet] lab_plain = yes.
 * The answer is {"verdict":"accept|reject|drop","why":"..."[,"rule":"FILE:LINE"]} —
 * "rule" when a rule decided it (the list's ACL_WHY_RULE; an older server sends none,
 * and its why reads as a reason).
 *
 * Thread-safe: each thread keeps its own CURL handle (keep-alive).
 */
#ifndef HOPTRACE_GUARD_POLICY_REMOTE_H
#define HOPTRACE_GUARD_POLICY_REMOTE_H

#include <stddef.h>
#include <stdint.h>
#include "hoptrace/acl.h"

/* The [fleet] keys a policy client (and policyd) needs. Defaults:
 * /etc/hoptrace/fleet/{ca.crt,host.crt,host.key,crl.pem} (crl: only if the file exists). */
#define POLICY_FLEET_PATH_MAX 512
struct policy_fleet {
	char ca[POLICY_FLEET_PATH_MAX], cert[POLICY_FLEET_PATH_MAX], key[POLICY_FLEET_PATH_MAX],
		crl[POLICY_FLEET_PATH_MAX];
	int lab_plain; /* [fleet] lab_plain = yes: plain HTTP, no identity (lab only) */
};
void policy_fleet_defaults(struct policy_fleet *pf);
/* Reads [fleet] from conf_path over the defaults (other sections are not looked at;
 * a missing file leaves the defaults). 0, or -1 and err. */
int policy_fleet_read(const char *conf_path, struct policy_fleet *pf, char *err, size_t n);

/* The client's identity; call before any thread decides. Without it the defaults are
 * used. */
void policy_remote_set_fleet(const struct policy_fleet *pf);

/* Socket mark (SO_MARK) put on every connection the client opens, so the guard
 * exempts its own traffic; 0 (the default) sets none. Call before any thread
 * decides. */
void policy_remote_set_mark(uint32_t mark);

/* Returns 0 and *v / why on an answer; -1 (why holds the reason) when the server
 * is unreachable, not of the fleet (TLS refused either way, or its certificate does
 * not name the URL's address), times out, refuses the request (non-200) or answers
 * garbage — the caller then applies its configured answer. There is no shared
 * secret: the fleet certificate (policy_remote_set_fleet) authenticates. */
int policy_remote_decide(const char *url, long timeout_ms,
			 const char *answer_json, size_t len, enum acl_verdict *v, char *why,
			 size_t whylen);

/* The same with the answer as a result: why ACL_WHY_RULE and rule set when
 * the server named a rule, else ACL_WHY_REMOTE; text is the server's "why"
 * (on -1: the reason the server could not be asked). */
int policy_remote_ask(const char *url, long timeout_ms,
		      const char *answer_json, size_t len, struct acl_result *res);

/* Frees the calling thread's handle (optional; call before a worker exits). */
void policy_remote_thread_cleanup(void);

#endif
