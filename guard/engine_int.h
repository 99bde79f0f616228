/*
 * engine_int.h — the engine's state, shared by its files (not by main.c,
 * which sees engine.h only):
 *   engine.c    life: new, start, stop, the workers' loop, stats
 *   judge.c     one SYN: gather the inputs, decide (decide.c), act
 *   overflow.c  the watch on the kernel's queue drop counters
 *   nfqueue.c, cache.c, push.c, audit.c: the parts each owns
 * Invariants: conf is read-only after engine_new; acl is read under
 * acl_lock (engine_set_acl swaps it); a worker's struct is its own.
 */
#ifndef HOPTRACE_GUARD_ENGINE_INT_H
#define HOPTRACE_GUARD_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "hoptrace/acl.h"
#include "audit.h"
#include "cache.h"
#include "collq.h"
#include "gconf.h"
#include "nfqueue.h"
#include "push.h"

struct engine_counters {
	atomic_ulong pkts, decided, cached, coll_err, parse_err, srcroute, enobufs, ovf_queue,
		ovf_user;
};

struct engine {
	struct guard_conf conf;
	int bare;
	int lo_ifindex;
	struct nfqueue q;
	struct cache cache;
	struct push push;
	struct audit_sink audit;
	pthread_rwlock_t acl_lock;
	struct acl *acl;
	atomic_int stop;
	pthread_t *threads;
	unsigned nthreads;
	atomic_long *beats;        /* per worker: mono_ms() at its last loop (engine_alive) */
	struct engine_counters n;
	atomic_long unparsable_log_ms; /* last "unparsable" warning (rate-limited) */
	atomic_ulong unparsable_unlogged;
	pthread_t watch;           /* overflow_main */
	int watch_started;
};

/* One worker thread's own things. */
struct worker {
	struct engine *e;
	unsigned idx;
	int nl;           /* sock_diag, for the SYN's socket inode; -1 until needed */
	struct collq cq;
	struct abuf line; /* the audit line being written */
	char *rbuf;       /* NFQUEUE_RECV_MAX */
	size_t rbuflen;
};

/* Judges one queued SYN and sets its verdict (judge.c). */
void judge_syn(struct worker *w, const struct nfqueue_pkt *pk);
/* The overflow watch thread (overflow.c); arg: the engine. */
void *overflow_main(void *arg);

#endif
