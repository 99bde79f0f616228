/*
 * hist_bench.c — the host's recent past (collector/graph_hist.c, issue 12):
 * 100,000 closed TCP connections in the closed-connection index, then
 *   - the index's memory (its ring and buckets) and the graph's,
 *   - a lookup by 4-tuple (graph_hist_find),
 *   - the as-of chain of a closed connection's holder (lookup, holder,
 *     chain_compute at that time) against the live chain of the same shape
 *     (a 6-deep lineage, its ssh connecting out: chain_compute now).
 *
 *   hist_bench [ITERS]      default 20000
 *
 * Prints "hist_bytes N", "hist_entries N", "graph_bytes N", "find_ns N",
 * "asof_ns N", "live_ns N", "asof_ratio X" (medians of 9 rounds); then the
 * cost of linking a local TCP connection's ends as its records are applied:
 * "link_pair_ns N", "plain_pair_ns N" (a loopback CONNECT + ACCEPT + their
 * CLOSEs against the same with another host, kernel events on), and
 * "sd_lookup_ns N" (one sock_diag exact lookup, what use_procfs adds). No
 * /proc.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../../collector/chain.h"
#include "../../collector/graph.h"
#include "hoptrace/record.h"
#include "hoptrace/sockdiag.h"
#include "../unit/rec_fixture.h"

#define SEC 1000000000ULL

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static struct graph *g;

static void apply(pid_t pid, struct ht_record *r)
{
	const char *why = NULL;
	if (graph_apply(g, pid, 0, r, r->ts, &why) != 0) {
		fprintf(stderr, "apply %s for %d: %s\n", ht_rec_type_name(r->type), pid, why ? why : "?");
		exit(1);
	}
}

static void v4(struct ht_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->len = 4;
	a->port = port;
	inet_pton(AF_INET, ip, a->a);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* a lineage sshd (accepted from 10.0.9.9) > sshd > bash > sudo > bash > ssh,
 * pids base.., its ssh connecting (socket ino, local port lport) to 10.0.0.3:22 */
static pid_t lineage(pid_t base, uint64_t ino, uint16_t lport, uint64_t *ts)
{
	static const char *exes[] = {"/usr/sbin/sshd", "/usr/sbin/sshd", "/usr/bin/bash",
				     "/usr/bin/sudo", "/usr/bin/bash", "/usr/bin/ssh"};
	struct ht_record r;
	for (int i = 0; i < 6; i++) {
		pid_t pid = base + i;
		if (i) {
			r = rec_blank(HT_REC_BIRTH, (*ts)++);
			r.num = pid - 1;
			r.ts2 = *ts;
			apply(pid, &r);
		}
		r = rec_blank(HT_REC_IMAGE, (*ts)++);
		r.num = pid - 1;
		snprintf(r.str, sizeof(r.str), "%s", exes[i]);
		snprintf(r.str2, sizeof(r.str2), "%s", strrchr(exes[i], '/') + 1);
		apply(pid, &r);
		if (i == 1) {
			r = rec_blank(HT_REC_ACCEPT, (*ts)++);
			r.fd = 4;
			r.num = 1;
			r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino + 1};
			r.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 9};
			v4(&r.addr, "10.0.0.2", 22);
			v4(&r.addr2, "10.0.9.9", lport);
			apply(pid, &r);
		}
	}
	pid_t ssh = base + 5;
	r = rec_blank(HT_REC_CONNECT, (*ts)++);
	r.fd = 3;
	r.num = 1;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
	v4(&r.addr, "10.0.0.3", 22);
	apply(ssh, &r);
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, ino);
	struct ht_addr l;
	v4(&l, "10.0.0.2", lport);
	gaddr_set(&c->local, &l); /* (as the kernel's dump gives it) */
	c->has_local = 1;
	return ssh;
}

/* a kernel TCP event of socket ino, pid (SYN_SENT then ESTABLISHED) */
static void kev2(struct graph *kg, pid_t pid, uint64_t ino, const uint8_t *sa, uint16_t sp,
		 const uint8_t *da, uint16_t dp, uint64_t ts)
{
	struct graph_kev_sock s = {pid, ino, ts, AF_INET, 0, dp, 7, 2, sa, da, 0, 0, 0};
	graph_kev_tcp(kg, &s, ts);
	s.sport = sp;
	s.oldstate = 2;
	s.newstate = 1;
	graph_kev_tcp(kg, &s, ts);
}

/* The cost of linking a local TCP connection's two ends when its records are
 * applied (graph_link_local_tcp: the kernel event table's scan; sock_diag's
 * lookup is off here, use_procfs 0, and timed apart): a loopback CONNECT +
 * ACCEPT pair against the same pair between this host and another, rounds
 * taking turns. Prints link_pair_ns, plain_pair_ns, sd_lookup_ns. */
static void link_bench(long n)
{
	struct graph_conf conf = {.retention_ns = 3600 * SEC, .window_ns = 60 * SEC,
				  .max_procs = 1000, .use_procfs = 0};
	struct graph *kg = graph_new(&conf);
	graph_kev_on(kg, 1);
	struct graph *save = g;
	g = kg;
	uint64_t ts = SEC;
	struct ht_record r;
	for (pid_t pid = 70; pid <= 71; pid++) {
		r = rec_blank(HT_REC_IMAGE, ts++);
		r.num = 1;
		snprintf(r.str, sizeof(r.str), pid == 70 ? "/usr/bin/nc" : "/usr/bin/ssh");
		snprintf(r.str2, sizeof(r.str2), pid == 70 ? "nc" : "ssh");
		apply(pid, &r);
	}
	static const uint8_t lo[4] = {127, 0, 0, 1}, ext[4] = {10, 0, 0, 9}, me[4] = {10, 0, 0, 2};
	uint64_t rl[9], rp[9], ino = 5000000;
	for (int k = 0; k < 9; k++)
		for (int local = 1; local >= 0; local--) {
			uint64_t t0 = now_ns();
			for (long i = 0; i < n; i++, ino += 2) {
				uint16_t cport = (uint16_t)(20000 + (ino / 2) % 40000);
				kev2(kg, 70, ino, local ? lo : me, cport, local ? lo : ext, 9200, ts);
				r = rec_blank(HT_REC_CONNECT, ts++);
				r.fd = 3;
				r.num = 1;
				r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
				v4(&r.addr, local ? "127.0.0.1" : "10.0.0.9", 9200);
				apply(70, &r);
				r = rec_blank(HT_REC_ACCEPT, ts++);
				r.fd = 6;
				r.num = 1;
				r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino + 1};
				r.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 8};
				v4(&r.addr, local ? "127.0.0.1" : "10.0.0.2", 9200);
				v4(&r.addr2, local ? "127.0.0.1" : "10.0.0.9", cport);
				apply(71, &r);
				r = rec_blank(HT_REC_CLOSE, ts++);
				r.fd = 3;
				apply(70, &r);
				r = rec_blank(HT_REC_CLOSE, ts++);
				r.fd = 6;
				apply(71, &r);
			}
			(local ? rl : rp)[k] = (now_ns() - t0) / (uint64_t)n;
		}
	struct graph_stats st;
	graph_stats(kg, &st);
	if (st.local_tcp_linked != 9 * (uint64_t)n) {
		fprintf(stderr, "linked %llu of %ld local pairs\n", (unsigned long long)st.local_tcp_linked,
			9 * n);
		exit(1);
	}
	g = save;
	graph_free(kg);
	qsort(rl, 9, sizeof(rl[0]), cmp_u64);
	qsort(rp, 9, sizeof(rp[0]), cmp_u64);
	/* sock_diag's exact lookup of a loopback 4-tuple nobody has: what the
	 * collector adds per loopback CONNECT or ACCEPT with use_procfs */
	uint64_t rs[9];
	int nl = sd_open();
	struct sd_inet far;
	for (int k = 0; k < 9; k++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < n / 10 + 1; i++)
			sd_inet_lookup(nl, AF_INET, lo, 9, lo, (uint16_t)(1 + i % 1000), &far);
		rs[k] = (now_ns() - t0) / (uint64_t)(n / 10 + 1);
	}
	qsort(rs, 9, sizeof(rs[0]), cmp_u64);
	printf("link_pair_ns %llu\nplain_pair_ns %llu\nsd_lookup_ns %llu\n", (unsigned long long)rl[4],
	       (unsigned long long)rp[4], nl >= 0 ? (unsigned long long)rs[4] : 0ULL);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	if (iters < 1)
		iters = 20000;
	struct graph_conf conf = {.retention_ns = 3600 * SEC, .window_ns = 600 * SEC,
				  .max_procs = 200000, .use_procfs = 0};
	g = graph_new(&conf);
	uint64_t ts = SEC;
	/* 100,000 closed connections: a server's accepted clients */
	struct ht_record r = rec_blank(HT_REC_IMAGE, ts++);
	r.num = 1;
	snprintf(r.str, sizeof(r.str), "/usr/sbin/nginx");
	snprintf(r.str2, sizeof(r.str2), "nginx");
	apply(50, &r);
	for (int i = 0; i < 100000; i++) {
		r = rec_blank(HT_REC_ACCEPT, ts++);
		r.fd = 5;
		r.num = 1;
		r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 1000000 + (uint64_t)i};
		r.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 8};
		v4(&r.addr, "10.0.0.2", 80);
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.%d.%d", (i >> 8) & 255, i & 255);
		v4(&r.addr2, ip, (uint16_t)(1024 + (i >> 16)));
		apply(50, &r);
		r = rec_blank(HT_REC_CLOSE, ts++);
		r.fd = 5;
		apply(50, &r);
	}
	/* the closed one (ssh exited) and a live one of the same shape */
	pid_t gone = lineage(100, 500, 40000, &ts);
	r = rec_blank(HT_REC_EXIT, ts++);
	apply(gone, &r);
	pid_t live = lineage(200, 600, 40001, &ts);
	ts += SEC;
	struct graph_stats st;
	graph_stats(g, &st);
	printf("hist_entries %zu\nhist_bytes %llu\ngraph_bytes %zu\n", graph_hist_count(g),
	       (unsigned long long)st.hist_bytes, st.bytes);

	struct ht_addr l, rem;
	v4(&l, "10.0.0.2", 40000);
	v4(&rem, "10.0.0.3", 22);
	struct graph_closed e;
	if (graph_hist_find(g, &l, &rem, ts - SEC / 2, ts, &e) != 1) {
		fprintf(stderr, "the closed connection is not in the index\n");
		return 1;
	}
	{
		/* (what is timed: the holder's chain as of then, to its origin) */
		uint64_t t = ts - SEC / 2;
		struct chan *c;
		struct proc *p = graph_hist_holder(g, &e, &t, &c);
		struct chain_req req = {.host = "bench", .subject = p, .exclude = c, .syn_remote = &rem,
					.now = ts, .at = t, .nl = -1};
		cJSON *a = p ? chain_compute(g, &req) : NULL;
		char *s = a ? cJSON_PrintUnformatted(a) : NULL;
		if (!s || !strstr(s, "10.0.9.9")) {
			fprintf(stderr, "the as-of chain does not reach its origin: %s\n", s ? s : "(none)");
			return 1;
		}
		free(s);
		cJSON_Delete(a);
	}
	struct chain_req lreq = {.host = "bench", .subject = graph_proc(g, live),
				 .exclude = graph_chan(g, HT_CHAN_SOCK, 0, 600), .syn_remote = &rem,
				 .now = ts, .nl = -1};
	uint64_t rf[9], ra[9], rl[9];
	for (int k = 0; k < 9; k++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < iters; i++)
			graph_hist_find(g, &l, &rem, ts - SEC / 2, ts, &e);
		rf[k] = (now_ns() - t0) / (uint64_t)iters;
		t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			uint64_t t = ts - SEC / 2;
			struct chan *c;
			graph_hist_find(g, &l, &rem, t, ts, &e);
			struct proc *p = graph_hist_holder(g, &e, &t, &c);
			struct chain_req req = {.host = "bench", .subject = p, .exclude = c,
						.syn_remote = &rem, .now = ts, .at = t, .nl = -1};
			cJSON_Delete(chain_compute(g, &req));
		}
		ra[k] = (now_ns() - t0) / (uint64_t)iters;
		t0 = now_ns();
		for (long i = 0; i < iters; i++)
			cJSON_Delete(chain_compute(g, &lreq));
		rl[k] = (now_ns() - t0) / (uint64_t)iters;
	}
	qsort(rf, 9, sizeof(rf[0]), cmp_u64);
	qsort(ra, 9, sizeof(ra[0]), cmp_u64);
	qsort(rl, 9, sizeof(rl[0]), cmp_u64);
	printf("find_ns %llu\nasof_ns %llu\nlive_ns %llu\nasof_ratio %.2f\n", (unsigned long long)rf[4],
	       (unsigned long long)ra[4], (unsigned long long)rl[4], rl[4] ? (double)ra[4] / (double)rl[4] : 0.0);
	graph_free(g);
	link_bench(2000);
	return 0;
}
