/*
 * chain.h — a chain in the form policy reads it: one entry per origin, the
 * processes on the path from that origin to the subject. Decoded from the
 * collector's JSON answer (docs/query-protocol.md) by ht_chains_from_json()
 * (common/chainjson.c). Used by the guard, the policy server and the CLI.
 */
#ifndef HOPTRACE_CHAIN_H
#define HOPTRACE_CHAIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>

#include "hoptrace/query.h"

#define HT_HOST_MAX 64
#define HT_EXE_MAX 256

/* A tree's "conn" leaf (a connection whose far end was not followed) says why
 * in its "reason" member: one of these tokens (docs/query-protocol.md). */
#define HT_LEAF_NOT_FOLLOWED "not followed" /* upstream host not asked (yet) */
#define HT_LEAF_NOT_ATTESTED "not attested" /* the kernel never showed it: never followed */

/* An IPv4 or IPv6 endpoint (v4 stored as family AF_INET, first 4 bytes). */
struct ht_endpoint {
	int family;          /* AF_INET, AF_INET6, or 0 when absent */
	uint8_t addr[16];
	uint16_t port;       /* host order */
};

struct ht_chain_proc {
	char host[HT_HOST_MAX];
	pid_t pid;
	uid_t uid;
	char exe[HT_EXE_MAX];     /* executable path, "" if unknown */
	char sha256[65];          /* lowercase hex, "" if unknown */
	int kernel_only;          /* seen: kernel or kernel-events */
	int kernel_events;        /* seen: kernel-events (creator from the kernel's fork event) */
};

struct ht_chain {
	char origin_host[HT_HOST_MAX];
	struct ht_endpoint src;   /* origin end */
	struct ht_endpoint dst;   /* the SYN's destination */
	int complete;
	int fallback;
	int src_unattested; /* "src_attested": false — src is a record's word only:
			     * shown, never matched by a rule's source */
	size_t nprocs;
	struct ht_chain_proc *procs; /* origin first, subject last */
};

struct ht_chainset {
	size_t n;
	struct ht_chain *v;
	/* the answer's "holders_incomplete": a /proc search on the answering host
	 * ran out (its budget, a uid's share, 64 processes a walk): a source there
	 * may be missing — a gap the sender's own uid can cause, so no policy
	 * evaluates what is known of it (docs/guard.md "How a SYN is decided") */
	int local_gap;
};

/* Parses the `chains` array of a who/chain answer (the whole answer object as
 * text). Returns 0, or -EINVAL with *err (static text, for people) on
 * malformed input. The caller owns *out and frees it with ht_chainset_free(). */
int ht_chains_from_json(const char *json, size_t len, struct ht_chainset *out,
			const char **err);
/* The same, and why as a code in *code (may be NULL) — what a reader routes
 * on, never *err: HT_QE_OK; HT_QE_TOO_LARGE (an answer above 16 MiB);
 * HT_QE_TOO_MANY_CHAINS (above 64); for "ok":false the answer's own "code"
 * (HT_QE_OTHER when it has none or one this side does not know);
 * HT_QE_NO_MEMORY; HT_QE_BAD_ANSWER (anything malformed, a chain with too
 * many processes too). */
int ht_chains_read(const char *json, size_t len, struct ht_chainset *out, enum ht_qerr *code,
		   const char **err);
void ht_chainset_free(struct ht_chainset *cs);

/* "10.0.0.1:22" / "[2001:db8::1]:22" <-> endpoint. parse returns 0 or -EINVAL. */
int ht_endpoint_parse(const char *s, struct ht_endpoint *ep);
/* Writes at most n bytes including the NUL; returns buf. */
char *ht_endpoint_format(const struct ht_endpoint *ep, char *buf, size_t n);
#define HT_ENDPOINT_STRLEN 56

#endif
