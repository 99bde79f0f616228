/*
 * engine.c — implements engine.h: the engine's life (new, start, stop), its
 * workers' loop and its counters. What a worker does with a SYN is judge.c;
 * the parts it uses are nfqueue.c (the queue), cache.c (verdicts for
 * retransmits), push.c (chains pushed before the SYN), decide.c (the
 * decision), audit.c (the audit log) and overflow.c (kernel drops).
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "hoptrace/policy_remote.h"
#include "clock.h"
#include "engine.h"
#include "engine_int.h"

static void engine_free(struct engine *e)
{
	nfqueue_close(&e->q);
	audit_sink_close(&e->audit);
	cache_free(&e->cache);
	push_free(&e->push);
	if (e->acl)
		acl_free(e->acl);
	free(e->threads);
	free(e->beats);
	free(e);
}

struct engine *engine_new(const struct guard_conf *conf, struct acl *acl, int bare)
{
	struct engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->conf = *conf;
	e->bare = bare;
	pthread_rwlock_init(&e->acl_lock, NULL);
	if (push_init(&e->push, !bare && conf->prejudge && !conf->policy_url[0],
		      getenv("HOPTRACE_QUERY_NAME")) ||
	    cache_init(&e->cache, conf->cache_ttl_ms)) {
		engine_free(e);
		return NULL;
	}
	e->lo_ifindex = (int)if_nametoindex("lo");
	if (audit_sink_init(&e->audit, bare ? "" : conf->audit_log, conf->audit_syslog)) {
		log_warn("cannot open audit log %s", conf->audit_log);
		engine_free(e);
		return NULL;
	}
	if (conf->policy_url[0])
		policy_remote_set_mark(conf->exempt_mark);
	if (nfqueue_open(&e->q, conf)) {
		engine_free(e);
		return NULL;
	}
	e->acl = acl; /* ours from here on */
	return e;
}

static void on_pkt(const struct nfqueue_pkt *pk, void *arg) { judge_syn(arg, pk); }

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	int fd = nfqueue_fd(&e->q);
	while (!atomic_load(&e->stop)) {
		/* SO_RCVTIMEO (200 ms) brings every idle worker here */
		atomic_store(&e->beats[w->idx], mono_ms());
		ssize_t n = recv(fd, w->rbuf, w->rbuflen, 0);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				/* the receive buffer overran: the kernel dropped
				 * SYNs (counted as queue_user_dropped; the watch
				 * thread logs and audits it) */
				atomic_fetch_add(&e->n.enobufs, 1);
				continue;
			}
			log_warn("netlink recv");
			usleep(100000);
			continue;
		}
		nfqueue_dispatch(&e->q, w->rbuf, (size_t)n, on_pkt, w);
	}
	if (e->conf.policy_url[0])
		policy_remote_thread_cleanup();
	collq_close(&w->cq);
	if (w->nl >= 0)
		close(w->nl);
	abuf_free(&w->line);
	free(w->rbuf);
	free(w);
	return NULL;
}

int engine_start(struct engine *e)
{
	e->nthreads = e->conf.workers;
	e->threads = calloc(e->nthreads, sizeof(pthread_t));
	e->beats = calloc(e->nthreads, sizeof(*e->beats));
	if (!e->threads || !e->beats)
		return -1;
	for (unsigned i = 0; i < e->nthreads; i++)
		atomic_store(&e->beats[i], mono_ms());
	if (pthread_create(&e->watch, NULL, overflow_main, e)) {
		log_warn("cannot start the queue watch");
		return -1;
	}
	e->watch_started = 1;
	push_fd_now(&e->push); /* subscribes */
	for (unsigned i = 0; i < e->nthreads; i++) {
		struct worker *w = calloc(1, sizeof(*w));
		if (!w || collq_init(&w->cq, getenv("HOPTRACE_QUERY_NAME")))
			return -1;
		w->e = e;
		w->idx = i;
		w->nl = -1;
		w->rbuflen = NFQUEUE_RECV_MAX;
		w->rbuf = malloc(w->rbuflen);
		if (!w->rbuf || pthread_create(&e->threads[i], NULL, worker_main, w)) {
			log_warn("cannot start worker %u", i);
			return -1;
		}
	}
	return 0;
}

void engine_set_acl(struct engine *e, struct acl *acl)
{
	pthread_rwlock_wrlock(&e->acl_lock);
	struct acl *old = e->acl;
	e->acl = acl;
	pthread_rwlock_unlock(&e->acl_lock);
	if (old)
		acl_free(old);
}

void engine_reopen_log(struct engine *e)
{
	if (e->bare || !e->conf.audit_log[0])
		return;
	if (audit_sink_reopen(&e->audit))
		log_warn("cannot reopen audit log %s", e->conf.audit_log);
}

int engine_alive(struct engine *e, long max_ms)
{
	long now = mono_ms();
	for (unsigned i = 0; e->beats && i < e->nthreads; i++)
		if (now - atomic_load(&e->beats[i]) > max_ms)
			return 0;
	return e->beats != NULL;
}

void engine_stats(struct engine *e, char *buf, size_t n)
{
	snprintf(buf, n,
		 "packets %lu decided %lu cached %lu accept %lu reject %lu drop %lu "
		 "collector_errors %lu verdict_errors %lu unparsable %lu source_routed %lu "
		 "overflow_dropped %lu (queue_full %lu rcvbuf_full %lu) enobufs %lu "
		 "prejudged %lu prejudged_late %lu asked %lu syslog_lost %lu",
		 atomic_load(&e->n.pkts), atomic_load(&e->n.decided), atomic_load(&e->n.cached),
		 atomic_load(&e->q.n_accept), atomic_load(&e->q.n_reject), atomic_load(&e->q.n_drop),
		 atomic_load(&e->n.coll_err), atomic_load(&e->q.n_verdict_err),
		 atomic_load(&e->n.parse_err), atomic_load(&e->n.srcroute),
		 atomic_load(&e->n.ovf_queue) + atomic_load(&e->n.ovf_user),
		 atomic_load(&e->n.ovf_queue), atomic_load(&e->n.ovf_user), atomic_load(&e->n.enobufs),
		 atomic_load(&e->push.n_hit), atomic_load(&e->push.n_race), atomic_load(&e->push.n_miss),
		 atomic_load(&e->audit.n_syslog_lost));
}

void engine_stop(struct engine *e)
{
	atomic_store(&e->stop, 1);
	for (unsigned i = 0; e->threads && i < e->nthreads; i++)
		if (e->threads[i])
			pthread_join(e->threads[i], NULL);
	if (e->watch_started)
		pthread_join(e->watch, NULL);
	engine_free(e);
}
