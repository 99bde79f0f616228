/*
 * chain_bench.c — the collector's chain computation alone, for the case the
 * guard waits on: a client on a 6-deep process lineage that connects to the
 * same server again and again (its recent history full of closed connections
 * to that host, CLOSED_KEEP of them), connecting once more. Times
 * query_prejudge() (the chain the collector pushes to the guard: compute,
 * flatten, print) and chain_compute() alone.
 *
 *   chain_bench [ITERS]      default 20000
 *
 * Prints "prejudge_ns N" and "compute_ns N" (medians of 9 rounds). No /proc,
 * no sockets: what is measured is the walk and the JSON.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "../../collector/chain.h"
#include "../../collector/graph.h"
#include "../../collector/answer.h"
#include "hoptrace/record.h"
#include "../unit/rec_fixture.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct graph *g;

static void apply(pid_t pid, struct ht_record *r)
{
	const char *why = NULL;
	if (graph_apply(g, pid, 0, r, r->ts, &why) != 0) {
		fprintf(stderr, "apply %s for %d: %s\n", ht_rec_type_name(r->type), pid,
			why ? why : "?");
		exit(1);
	}
}

#define rec rec_blank

static void v4(struct ht_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->len = 4;
	a->port = port;
	inet_pton(AF_INET, ip, a->a);
}

/* subj connect()s socket ino (fd 3) to the server */
static struct ht_record connect_rec(pid_t subj, uint64_t ino, uint64_t ts)
{
	struct ht_record r = rec(HT_REC_CONNECT, ts);
	r.fd = 3;
	r.num = 1;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
	v4(&r.addr, "10.0.0.2", 9000);
	apply(subj, &r);
	return r;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 20000;
	if (iters < 1)
		iters = 20000;
	struct graph_conf c = {.retention_ns = 3600ULL * 1000000000ULL,
			       .window_ns = 60ULL * 1000000000ULL,
			       .max_procs = 4096, .use_procfs = 0};
	g = graph_new(&c);
	uint64_t ts = 1000000000ULL;
	static const char *exes[] = {"/usr/sbin/sshd", "/usr/sbin/sshd", "/usr/bin/bash",
				     "/usr/bin/sudo", "/usr/bin/bash", "/usr/bin/connbench"};
	pid_t pid = 100;
	for (int i = 0; i < 6; i++, pid++) {
		struct ht_record r;
		if (i) {
			r = rec(HT_REC_BIRTH, ts++);
			r.num = pid - 1;
			r.ts2 = ts;
			apply(pid, &r);
		}
		r = rec(HT_REC_IMAGE, ts++);
		r.num = pid - 1;
		snprintf(r.str, sizeof(r.str), "%s", exes[i]);
		snprintf(r.str2, sizeof(r.str2), "%s", strrchr(exes[i], '/') + 1);
		apply(pid, &r);
	}
	pid_t subj = pid - 1;
	/* its history: 600 connections to the same server, each closed */
	uint64_t ino = 50000;
	struct ht_record r;
	for (int i = 0; i < 600; i++, ino++) {
		r = connect_rec(subj, ino, ts++);
		r = rec(HT_REC_CLOSE, ts++);
		r.fd = 3;
		apply(subj, &r);
	}
	/* and the one being judged */
	r = connect_rec(subj, ino, ts++);

	struct collector_stats st = {0};
	struct query_ctx q = {.g = g, .hostname = "bench", .nl = -1, .stats = &st};
	char *s = query_prejudge(&q, ino, &r.addr, ts);
	if (!s) {
		fprintf(stderr, "no prejudged chain\n");
		return 1;
	}
	printf("prejudged answer: %zu bytes\n", strlen(s));
	free(s);

	uint64_t rp[9], rc[9];
	struct chain_req req = {.host = "bench", .subject = graph_proc(g, subj),
				.exclude = graph_chan(g, HT_CHAN_SOCK, 0, ino),
				.syn_remote = &r.addr, .now = ts, .nl = -1};
	for (int k = 0; k < 9; k++) {
		uint64_t t0 = now_ns();
		for (long i = 0; i < iters; i++)
			free(query_prejudge(&q, ino, &r.addr, ts));
		rp[k] = (now_ns() - t0) / (uint64_t)iters;
		t0 = now_ns();
		for (long i = 0; i < iters; i++)
			cJSON_Delete(chain_compute(g, &req));
		rc[k] = (now_ns() - t0) / (uint64_t)iters;
	}
	qsort(rp, 9, sizeof(rp[0]), cmp_u64);
	qsort(rc, 9, sizeof(rc[0]), cmp_u64);
	printf("prejudge_ns %llu\ncompute_ns %llu\n", (unsigned long long)rp[4],
	       (unsigned long long)rc[4]);
	graph_free(g);
	return 0;
}
