/*
 * collq.h — the guard's client for the collector's per-SYN query socket
 * (docs/query-protocol.md): AF_UNIX SOCK_SEQPACKET, abstract name
 * "\0hoptrace/query", one datagram per request and per answer. One struct
 * collq per thread (no locking). After a timeout the connection is dropped
 * and made anew, so a late answer can never be taken for the next question.
 */
#ifndef HOPTRACE_GUARD_COLLQ_H
#define HOPTRACE_GUARD_COLLQ_H

#include <stddef.h>

#define COLLQ_NAME "hoptrace/query"
#define COLLQ_MAX_ANSWER 65536

struct collq {
	int fd;
	char name[108]; /* abstract name without the leading NUL */
	char *buf;      /* COLLQ_MAX_ANSWER + 1 */
	int stale;      /* answers still to come for questions answered elsewhere */
	unsigned long long seq; /* the last question's id */
	int force;      /* next question: "force":true (a full answer, not "pushed") */
};

/* name NULL = COLLQ_NAME. Returns 0 or -1 (out of memory). */
int collq_init(struct collq *c, const char *name);
void collq_close(struct collq *c);
/* Connects c (fd -1) to the collector: 0, or -1 with a reason in err. */
int collq_connect(struct collq *c, char *err, size_t errlen);
/* Asks "who"; on success returns the answer's length (c->buf, NUL-terminated).
 * On failure returns -1 with a reason in err ("collector unreachable: ...",
 * "no answer within N ms", ...). */
long collq_who(struct collq *c, const char *local, const char *remote, unsigned long timeout_ms,
	       char *err, size_t errlen);
/* collq_who that also watches alt_fd while it waits: when alt_fd is readable
 * it calls alt(arg): 1 = the answer came that way (returns COLLQ_ELSEWHERE
 * at once), 0 = not yet, -1 = stop watching alt_fd. The collector's answer, when it comes, is
 * skipped (its id is not the next question's). alt_fd -1: plain collq_who.
 * spin_us > 0: polls without sleeping for that long first. */
#define COLLQ_ELSEWHERE (-2)
long collq_who_or(struct collq *c, const char *local, const char *remote,
		  unsigned long timeout_ms, char *err, size_t errlen, int alt_fd,
		  int (*alt)(void *arg), void *arg, long spin_us);

#endif
