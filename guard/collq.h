/*
 * collq.h — the guard's client for the collector's per-SYN query socket
 * (docs/query-protocol.md, include/hoptrace/query.h): AF_UNIX SOCK_SEQPACKET
 * at HT_QUERY_SOCKET, one datagram per request and per answer. One struct
 * collq per thread (no locking). After a timeout the connection is dropped
 * and made anew, so a late answer can never be taken for the next question.
 * Requests are built with ht_qreq_build(); every answer's head is read once
 * (ht_qhead_parse) into c->head; every outcome is a code in c->code — the
 * text in err is for people.
 */
#ifndef HOPTRACE_GUARD_COLLQ_H
#define HOPTRACE_GUARD_COLLQ_H

#include <stddef.h>

#include "hoptrace/query.h"

struct collq {
	int fd;
	char name[108]; /* abstract name without the leading NUL */
	char *buf;      /* HT_QUERY_MAX + 1 */
	int stale;      /* answers still to come for questions answered elsewhere */
	unsigned long long seq; /* the last question's id */
	int force;      /* next question: "force":true (a full answer, not "pushed") */
	/* the last call's outcome: after an answer (a length >= 0 returned), the
	 * answer's own code (HT_QE_OK for "ok":true, HT_QE_BAD_ANSWER when its
	 * head cannot be read); after -1, why there is none: HT_QE_UNREACHABLE,
	 * HT_QE_NOT_ROOT, HT_QE_TIMEOUT, HT_QE_CLOSED, HT_QE_TOO_LARGE (larger
	 * than one datagram), HT_QE_BAD_REQUEST (an endpoint the codec refuses);
	 * HT_QE_OK after COLLQ_ELSEWHERE */
	enum ht_qerr code;
	struct ht_qhead head; /* the last answer's head (c->buf) */
};

/* name NULL = HT_QUERY_SOCKET. Returns 0 or -1 (out of memory). */
int collq_init(struct collq *c, const char *name);
void collq_close(struct collq *c);
/* Connects c (fd -1) to the collector: 0, or -1 with a reason in err and
 * c->code HT_QE_UNREACHABLE or HT_QE_NOT_ROOT (a squatter of the name). */
int collq_connect(struct collq *c, char *err, size_t errlen);
/* Asks "who"; on success returns the answer's length (c->buf, NUL-terminated;
 * its head in c->head, its code in c->code). On failure returns -1 with
 * c->code and a reason in err ("collector unreachable: ...", "no answer from
 * collector within N ms", "answer too large", ...). */
long collq_who(struct collq *c, const char *local, const char *remote, unsigned long timeout_ms,
	       char *err, size_t errlen);
/* collq_who that also watches alt_fd while it waits: when alt_fd is readable
 * it calls alt(arg): 1 = the answer came that way (returns COLLQ_ELSEWHERE
 * at once), 0 = not yet, -1 = stop watching alt_fd. The collector's answer, when it comes, is
 * skipped (its id is not the next question's). alt_fd -1: plain collq_who.
 * spin_us > 0: polls without sleeping for that long first. */
#define COLLQ_ELSEWHERE (-2)
/* Subscribes c to pushed chains (docs/query-protocol.md "subscribe"):
 * connects if needed, sends {"op":"subscribe"}, waits at most timeout_ms for
 * {"ok":true}. 0: subscribed, c->fd is the subscription (pushes arrive on
 * it); -1: c->code says why (HT_QE_SUBSCRIBERS when the collector has enough,
 * a transport code otherwise), err the text, and c is disconnected. */
int collq_subscribe(struct collq *c, int timeout_ms, char *err, size_t errlen);
long collq_who_or(struct collq *c, const char *local, const char *remote,
		  unsigned long timeout_ms, char *err, size_t errlen, int alt_fd,
		  int (*alt)(void *arg), void *arg, long spin_us);

#endif
