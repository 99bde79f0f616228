/*
 * inquiry.h — the trace inquiry service (docs/inquiry.md): other hosts'
 * collectors ask this one, over HTTP, who is behind a TCP connection; this
 * one follows its own answers' upstream `conn` leaves the same way.
 *
 * inquiry.c holds the pure parts (request validation, canonical 4-tuples,
 * leaves, merge, the paper's format) — unit-tested and fuzzed;
 * inquiry_svc.c the service (nng HTTP server, libcurl follower thread).
 */
#ifndef HT_INQUIRY_H
#define HT_INQUIRY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "hoptrace/fleetconf.h"

#define INQ_BODY_MAX 65536      /* request body bound (413 above) */
/* The protocol's version: 2 answers for closed connections within
 * history_window ("age_ms"); its error bodies say "v":2 (a version-1 host's
 * do not). 3 (session 15): the asker's judge reads signed parts of format 2
 * (the certificate by reference, "have": parts.h); a host asked with "v" < 3
 * answers format 1 and asks upstream with "v":2, so an older judge on the way
 * gets parts it reads. */
#define INQ_VERSION 3
#define INQ_HAVE_MAX 196 /* "have" + NUL (parts.h PART_HAVE_CHARS = 192) */
#define INQ_VISITED_MAX 256     /* entries in "visited" */
#define INQ_ANSWER_MAX (1u << 20) /* an upstream answer larger than this: "no answer" */
#define INQ_LEAVES_MAX 64       /* conn leaves followed per answer */
#define INQ_EP_MAX 64

/* ---- configuration: [inquiry] in hoptrace.conf ---------------------------- */
struct inq_conf {
	int enabled;              /* listen != "no" */
	char listen[256];         /* https://[::]:8471 (http:// only with [fleet] lab_plain) */
	unsigned port;            /* where other hosts' services listen (8471) */
	unsigned max_depth;       /* 8 */
	unsigned timeout_ms;      /* 2000: deadline when a query gives none */
	uint32_t mark;            /* SO_MARK on outgoing inquiries (0x20000000) */
	unsigned rate;            /* inquiries per second per peer (burst 2x); 0 = unbounded */
	/* the front's limits (common/tlsfront.c; 0 = its default) */
	unsigned head_timeout_ms, body_timeout_ms, idle_timeout_ms, max_conns, max_conns_per_peer,
		max_preauth_per_peer, handshakes_per_peer, handshakes_total;
	char user[64];            /* the unprivileged child's user ("hoptrace", else nobody) */
	char chroot[256];         /* the child's empty root (/run/hoptrace/empty) */
	unsigned max_restarts;    /* child restarts per minute before giving up (5) */
	/* [fleet] (docs/config.md): the mTLS identity; lab_plain = plain HTTP, nothing
	 * signed or checked (benchmarks only) */
	char fleet_ca[256], fleet_cert[256], fleet_key[256], fleet_crl[256];
	char fleet_sign_cert[256], fleet_sign_key[256];
	int lab_plain;
	struct fleet_conf fleet;  /* as parsed (common/fleetconf.c); the paths above from it */
};

void inq_conf_defaults(struct inq_conf *c);
/* one key of [inquiry]; 0 or -1 with err */
int inq_conf_key(struct inq_conf *c, const char *key, const char *val, char *err, size_t n);
/* one key of [fleet] (others' keys are skipped); 0 or -1 with err */
int inq_fleet_key(struct inq_conf *c, const char *key, const char *val, char *err, size_t n);
/* after parsing (the default CRL path dropped if absent); 0 or -1 with err */
int inq_conf_finish(struct inq_conf *c, char *err, size_t n);
/* the [fleet] files this host needs are readable (lab_plain: none); 0 or -1 with err */
int inq_fleet_ready(const struct inq_conf *c, char *err, size_t n);

/* ---- requests -------------------------------------------------------------- */
struct inq_req {
	char local[INQ_EP_MAX], remote[INQ_EP_MAX]; /* as the answering host sees them */
	int depth;                /* -1: absent */
	long deadline_ms;         /* -1: absent */
	long age_ms;              /* "age_ms" (version 2): 0 absent */
	int paper;                /* "format":"paper" */
	char nonce[24];           /* "nonce" (base64url, the judge's), "" if absent */
	int v;                    /* "v": the asker's version (1 if absent) */
	char have[INQ_HAVE_MAX];  /* "have" (v ≥ 3): certificates its judge holds, "" if absent */
	cJSON *visited;           /* array of canonical 4-tuple strings (owned) */
};

/* Validates a POST /v1/trace body. 0, or -1 with a message for the 400 answer.
 * On success the caller frees r->visited (inq_req_free). */
int inq_parse_request(const char *body, size_t len, struct inq_req *r, char *err, size_t n);
void inq_req_free(struct inq_req *r);

/* The canonical name of a TCP connection, the same from both of its hosts:
 * the two endpoints (normalised by ht_endpoint_format), smaller first, joined
 * by "-". 0 or -1 when an endpoint does not parse. */
int inq_canon(const char *a, const char *b, char *out, size_t n);
int inq_visited_has(const cJSON *visited, const char *canon);

/* ---- answers --------------------------------------------------------------- */
/* The conn nodes of answer["tree"] not followed yet ("upstream": null and
 * "reason": "not followed"), at most max. Returns how many. */
size_t inq_leaves(cJSON *answer, cJSON **out, size_t max);
/* Fills one conn leaf: "upstream" takes ownership of up (NULL: stays null),
 * "complete" and "reason" (NULL: removed). */
void inq_fill(cJSON *conn, cJSON *up, int complete, const char *reason);
/* The reason for a leaf whose far host answered status with body (n bytes,
 * may be NULL): "refused: 404: <its error>" from a version-2 host, "refused:
 * 404 (far host: inquiry v1, no history of closed connections)" from an
 * older one, "refused: <status>" else. */
void inq_refused_reason(long status, const char *body, size_t n, char *out, size_t on);
/* Checks an upstream answer: an object with "ok":true, a "tree" and a
 * "chains" array. 0 or -1. */
int inq_answer_valid(const cJSON *a);
/* All chains of an answer complete? */
int inq_answer_complete(const cJSON *a);

/* The paper's {"trace":[…],"prev":[…],"hostname":"…"} built from a native
 * answer (docs/inquiry.md). A new object, or NULL. */
cJSON *inq_to_paper(const cJSON *native);

/* {"ok":false,"error":msg} as a malloc()ed string */
char *inq_error_json(const char *msg);


/* Does this answer text have unfollowed conn leaves? (a cheap scan: a local
 * origin pays only this) */
int inq_wants_follow(const char *answer);
/* "nonce" syntax: 1..23 base64url characters */
int inq_nonce_ok(const char *s);

/* ---- the service (inquiry_svc.c: the monitor; privsep_child.c: the child) --- */
struct inquiry;

/* what the main loop gets for an HTTP inquiry: compute the local "who" answer
 * (a malloc()ed JSON string) for local/remote; runs on the main thread. */
typedef char *(*inq_who_fn)(void *arg, const char *local, const char *remote, unsigned long age_ms);

/* The monitor's side: loads the part-signing key, starts the unprivileged
 * child (hoptraced re-executed as `hoptraced -X FD [-d] [-v…] -f conffile`),
 * which serves HTTP and follows (privsep.h). */
struct inquiry *inquiry_start(const struct inq_conf *c, const char *hostname, inq_who_fn who,
			      void *who_arg, const char *conffile, int foreground, int verbose,
			      char *err, size_t n);
/* every second from the loop's timer: overdue follows, the child's restarts */
void inquiry_tick(struct inquiry *q);
/* the loop's 1 s tick: binds [inquiry] listen if it was taken at start (then restarts
 * the child to serve it) */
void inquiry_listen_retry(struct inquiry *q);
/* the child's main (hoptraced -X FD): never returns on success */
int inq_child_main(const struct inq_conf *c, int psfd);
void inquiry_stop(struct inquiry *q);
/* SIGHUP: the [fleet] files again (the same paths). Every file is checked first; on a
 * fault the old identity stays (-1, err). Else the monitor's part-signing pair is
 * swapped and the child restarted, which reads the TLS pair, the CA and the CRL anew;
 * follows in flight end "no answer". A service that was off for want of fleet files
 * starts. */
int inquiry_reload(struct inquiry *q, char *err, size_t n);
/* an epoll descriptor (stable across child restarts) the main loop polls; on
 * readable, call inquiry_main() */
int inquiry_fd(const struct inquiry *q);
void inquiry_main(struct inquiry *q);

/* Does this answer text have unfollowed conn leaves? (a cheap scan: a local
 * origin pays only this) */
int inquiry_wants_follow(const struct inquiry *q, const char *answer);

/* How a followed answer is delivered (called on the follower thread, which
 * owns nothing of the main loop). text is the final JSON (freed after). */
typedef void (*inq_done_fn)(void *arg, const char *text);

/* Hands answer (text; parsed here) to the follower: follows its conn leaves
 * with the given deadline (ms, <= 0: configured) and subject connection
 * (canonical 4-tuple or NULL) as the first visited entry; calls done(arg,…)
 * when complete. 0, or -1 (then done is not called). */
int inquiry_follow(struct inquiry *q, const char *answer, long deadline_ms, const char *subject_canon,
		   inq_done_fn done, void *arg);

#endif
