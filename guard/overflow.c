/*
 * overflow.c — the overflow watch: every second, SYNs the kernel dropped for
 * us since the last look (queue full, receive buffer full, ENOBUFS) are
 * counted, logged and audited. A dropped SYN is not lost: TCP sends it
 * again, and it is judged then. Also, once a second, the prejudged chains'
 * subscription is made again when it is missing (push.c: a first one the
 * collector did not answer within 50 ms, on a loaded host, was otherwise
 * made again only at the next SYN, which then went unpushed).
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "clock.h"
#include "engine_int.h"

void *overflow_main(void *arg)
{
	struct engine *e = arg;
	unsigned long d0 = 0, u0 = 0, t, eno0 = 0;
	long last = mono_ms();
	nfqueue_counters(&e->q, &d0, &u0, &t);
	struct abuf line = {0};
	while (!atomic_load(&e->stop)) {
		usleep(100000);
		long now = mono_ms();
		if (now - last < 1000)
			continue;
		unsigned long d = d0, u = u0, eno = atomic_load(&e->n.enobufs);
		nfqueue_counters(&e->q, &d, &u, &t);
		unsigned long dd = d - d0, du = u - u0, de = eno - eno0;
		d0 = d, u0 = u, eno0 = eno;
		double secs = (double)(now - last) / 1000.0;
		last = now;
		push_fd_now(&e->push); /* (at most once a second; nothing when subscribed) */
		if (!dd && !du && !de)
			continue;
		atomic_fetch_add(&e->n.ovf_queue, dd);
		atomic_fetch_add(&e->n.ovf_user, du);
		char why[300];
		snprintf(why, sizeof(why),
			 "overflow: %lu SYNs dropped by the kernel in %.1f s (queue full: %lu, receive "
			 "buffer full: %lu; ENOBUFS seen %lu times); sent again by TCP, judged then",
			 dd + du, secs, dd, du, de);
		log_warnx("NFQUEUE %u %s", e->conf.queue_num, why);
		if (e->bare)
			continue;
		struct audit_rec r = {0};
		clock_gettime(CLOCK_REALTIME, &r.time);
		r.verdict = r.action = "drop";
		r.monitor = e->conf.monitor;
		r.reason = why;
		r.collector_us = -1;
		r.overflow = (long)(dd + du) > 0 ? (long)(dd + du) : 1;
		audit_sink_emit(&e->audit, &line, &r, 1);
	}
	abuf_free(&line);
	return NULL;
}
