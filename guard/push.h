/*
 * push.h — the prejudged-chain push client (docs/query-protocol.md
 * "subscribe"): a second connection to the collector on which it pushes the
 * chain of every shim-reported connect() to another host as soon as it reads
 * the record, so that the chain is often here before the SYN. Pushes are
 * kept by socket inode in PUSH_SLOTS slots for HT_PUSH_TTL_MS; a worker takes
 * the one of its SYN's socket only when it holds for the SYN: computed after
 * the worker had the SYN ("after_us"), or confirmed by the collector's
 * "pushed" answer to the worker's "who" — a push computed before the SYN may
 * miss what the process did between its CONNECT record and its connect().
 * One lock guards the subscription and the slots.
 */
#ifndef HOPTRACE_GUARD_PUSH_H
#define HOPTRACE_GUARD_PUSH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hoptrace/chain.h"
#include "collq.h"
#include "packet.h"

#define PUSH_SLOTS 1024     /* prejudged chains waiting for their SYN */
#define PUSH_SPIN_US 150    /* a worker waiting for a push or an answer polls this long, awake */

struct push_ent;

struct push {
	int on;                    /* prejudge = yes (and no policy server) */
	char name[108];            /* the query socket's name (collq_init) */
	pthread_mutex_t lock;      /* fd, busy, retry_ms, ents, buf */
	int fd;                    /* the subscription, -1 none */
	int busy;                  /* a worker is subscribing */
	long retry_ms;
	struct push_ent *ents;     /* PUSH_SLOTS */
	char *buf;                 /* HT_PUSH_MAX + 1: one push as read */
	atomic_int spinning;       /* one worker at a time waits awake */
	atomic_ulong n_hit, n_race, n_miss; /* prejudged, prejudged_late, asked */
};

/* on 0: every call is a no-op (push_fd_now -1). name NULL: the default
 * socket. Returns 0 or -1 (out of memory). push_free accepts a zeroed struct. */
int push_init(struct push *ps, int on, const char *name);
void push_free(struct push *ps);
/* The subscription's fd (subscribing at most once a second, waiting at most
 * 50 ms), or -1. */
int push_fd_now(struct push *ps);
/* The chain pushed for socket ino (malloc()ed, the caller frees), or NULL;
 * *none = 1 when the collector said none will come. syn_us: the guard's
 * monotonic µs when it had the SYN — only a push whose "after_us" is later
 * (every record sent before the SYN was read before its walk) is taken, one
 * computed before is left for a "pushed" answer; 0: the collector answered
 * "pushed" to a question asked after the SYN, take any. */
char *push_take(struct push *ps, uint64_t ino, long syn_us, int *none);
/* The SYN of socket ino was decided by asking: a push for it that comes
 * later is not kept for another SYN of that socket. */
void push_forget(struct push *ps, uint64_t ino);
/* Tells the collector the socket's local end ("bound"): deciding on a push
 * skipped the "who" that would have told it. */
void push_bound(struct push *ps, uint64_t ino, const char *local, const char *remote);
/* Asks "who" on q (collq_who_or), watching subscription pfd: when socket
 * ino's push comes first (computed after syn_us: push_take), returns
 * COLLQ_ELSEWHERE with it in *pushed (malloc()ed). none: the collector said
 * no push comes (just ask). */
long push_ask(struct push *ps, struct collq *q, int pfd, uint64_t ino, long syn_us, int none,
	      const char *local, const char *remote, unsigned long timeout_ms, char *err,
	      size_t errlen, char **pushed);

/* Was this push computed for this SYN's destination? (A socket may connect()
 * again elsewhere after a failed attempt; pushes are by socket.) */
int push_for(const struct ht_chainset *cs, const struct ht_pkt *p);
/* A pushed answer lacks the SYN's local end (connect() picks it after the
 * push): every chain in it starts on this host, at that end. */
void push_fill_src(struct ht_chainset *cs, const struct ht_pkt *p);

#endif
