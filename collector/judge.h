/*
 * judge.h — the judge of cross-host chains (review finding 1, docs/inquiry.md "The
 * judge"): a third process, `hoptraced -J 3`, spawned by the root monitor like the
 * inquiry child — its own user, chroot to an empty directory, no_new_privs, not
 * dumpable, RLIMIT_NOFILE 8, a seccomp filter (read/write on its socket, memory, exit).
 * It holds the fleet CA and CRL (read before the chroot) and nothing else.
 *
 *   monitor ── JD_REQ{id, nonce, own answer, child's text} ──▶ judge
 *   monitor ◀──────────── JD_VERDICT{id, answer text} ────────  judge
 *
 * The monitor made the nonce (getrandom) and sent it upstream through the child; the
 * child only fetched. The judge takes the monitor's OWN answer (trusted), puts on each of
 * its unfollowed leaves the upstream answer the child's text carries at the leaf with the
 * same ends (nothing else of the child's text is read), runs parts_verify_answer (the six
 * checks over the exact signed bytes, the nonce, the fleet CA / CRL) and sends the result.
 * The monitor uses that text and never the child's.
 *
 * Wire: a SOCK_STREAM socketpair, frames = struct jd_hdr + len bytes. Every length is
 * bounded before anything is allocated; a violation ends the reader (the judge exits,
 * the monitor kills the judge). Host byte order (both ends are this host's hoptraced).
 */
#ifndef HT_JUDGE_H
#define HT_JUDGE_H

#include <stddef.h>
#include <stdint.h>

#include "hoptrace/pki.h"
#include "privsep.h"

#define JD_MAGIC 0x48544a44u /* "HTJD" */

enum jd_type {
	JD_REQ = 1,  /* monitor → judge: struct jd_req + own + up */
	JD_VERDICT,  /* judge → monitor: the judged answer text */
	JD_PING,     /* monitor → judge: len 0 */
	JD_PONG,     /* judge → monitor: len 0 */
	JD_VERDICT_RETRY, /* judge → monitor: a verdict in which parts were refused because
			   * the judge does not hold their certificate: following once more
			   * without "have" fetches them (parts.h, format 2) */
	JD_HAVE,     /* judge → monitor: the certificates it holds, as a "have" text
		      * (≤ PART_HAVE_CHARS base64url characters), sent when it changed */
};

struct jd_hdr {
	uint32_t magic;
	uint32_t type;
	uint64_t id;
	uint32_t len; /* payload bytes after this header */
	uint32_t pad;
};

struct jd_req {
	char nonce[PS_NONCE_MAX]; /* "" (lab_plain) or base64url, NUL inside */
	uint32_t own_len;         /* the monitor's own answer, ≤ PS_TEXT_MAX */
	uint32_t up_len;          /* the child's text, ≤ PS_TEXT_MAX */
	/* own_len bytes, then up_len bytes; no NUL in either */
};

#define JD_REQ_MAX (sizeof(struct jd_req) + 2 * (size_t)PS_TEXT_MAX)
#define JD_VERDICT_MAX ((size_t)PS_TEXT_MAX)

/* one direction's frame reader */
struct jd_reader {
	int to_judge; /* 1: frames the judge reads (REQ, PING), 0: the monitor's (VERDICT, PONG) */
	struct jd_hdr h;
	size_t hgot;
	unsigned char *buf; /* h.len + 1 bytes (NUL after) */
	size_t got;
	int have; /* a whole frame is in h/buf (jd_take resets) */
};

/* Feeds n bytes; *used says how many were taken. 1: a frame is complete (r->h, r->buf;
 * call jd_take before feeding again), 0: all used, more needed, -1: a violation (why). */
int jd_feed(struct jd_reader *r, const unsigned char *p, size_t n, size_t *used, char *why,
	    size_t wn);
void jd_take(struct jd_reader *r);
void jd_reader_free(struct jd_reader *r);

/* A JD_REQ payload (r->buf, r->h.len): its parts, pointers into the payload. 0 or -1 (why). */
struct jd_req_view {
	char nonce[PS_NONCE_MAX];
	const char *own, *up;
	size_t own_len, up_len;
};
int jd_parse_req(const unsigned char *p, size_t len, struct jd_req_view *v, char *why, size_t wn);

/* a frame as bytes (malloc()ed, *n set): head + a, then b (either may be empty) */
unsigned char *jd_frame(uint32_t type, uint64_t id, const void *a, size_t alen, const void *b,
			size_t blen, size_t *n);

/* The judgement (pure; what the judge process runs for a JD_REQ): the monitor's own answer,
 * its unfollowed leaves filled from the child's text, upstream parts checked with t (NULL:
 * lab_plain, nothing checked, every answer believed). A malloc()ed answer text, never
 * NULL unless out of memory. */
char *judge_run(struct pki_trust *t, const char *nonce, const char *own, size_t own_len,
		const char *up, size_t up_len);
/* judge_run, and *missing = parts refused for a certificate the judge does not hold */
char *judge_run_ex(struct pki_trust *t, const char *nonce, const char *own, size_t own_len,
		   const char *up, size_t up_len, int *missing);

/* the judge process's main (hoptraced -J 3): never returns on success */
struct inq_conf;
int judge_main(const struct inq_conf *c, int fd);

/* ---- the monitor's side (judge_svc.c) ---------------------------------------------- */
struct judge_svc;
/* retry: the judge lacked certificates (JD_VERDICT_RETRY): asking again without "have"
 * fetches them */
typedef void (*judge_verdict_fn)(void *arg, uint64_t id, const char *text, int retry);
/* starts the judge (hoptraced re-executed as `hoptraced -J 3 [-d] [-v…] -f conffile`);
 * its socket goes into epfd with data.u32 = tag */
struct judge_svc *judge_svc_new(int epfd, uint32_t tag, const char *conffile, int fg,
				int verbose, unsigned max_restarts, judge_verdict_fn fn, void *arg);
int judge_svc_spawn(struct judge_svc *j); /* 0, or -1 (too many restarts, fork failed) */
int judge_svc_up(const struct judge_svc *j);
/* queues one request (non-blocking; bounded queue). 0, or -1: no judge, or its queue is
 * full (then the judge was killed as stuck: restart with judge_svc_spawn) */
int judge_svc_ask(struct judge_svc *j, uint64_t id, const char *nonce, const char *own,
		  const char *up);
int judge_svc_ping(struct judge_svc *j);
/* the judge's socket is ready (events from epoll); verdicts go to fn. Returns -1 when the
 * judge went away or broke the protocol (killed; restart with judge_svc_spawn). */
int judge_svc_io(struct judge_svc *j, uint32_t events);
/* the last time anything came from the judge (CLOCK_MONOTONIC ns) */
uint64_t judge_svc_heard(const struct judge_svc *j);
/* the judge's last JD_HAVE ("" before any, or after a restart) */
const char *judge_svc_have(const struct judge_svc *j);
void judge_svc_kill(struct judge_svc *j, const char *why);
void judge_svc_reap(struct judge_svc *j);
void judge_svc_free(struct judge_svc *j);

#endif
