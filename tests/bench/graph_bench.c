/*
 * graph_bench.c — the collector's model in isolation: decode+apply throughput
 * (records per second) and memory per process, with records shaped like a
 * real session's (birth, image, pipe, dup, close, connect, exit).
 *
 *   graph_bench [NPROCS]     default 100000
 *
 * Prints "records_per_s N", "bytes_per_proc N", "graph_mb_at_N X" and the
 * process's RSS growth. No /proc, no sockets: what is measured is the graph.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../collector/graph.h"
#include "hoptrace/record.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

int main(int argc, char **argv)
{
	long nprocs = argc > 1 ? atol(argv[1]) : 100000;
	struct graph_conf c = {.retention_ns = 3600ULL * 1000000000ULL,
			       .window_ns = 60ULL * 1000000000ULL,
			       .max_procs = (size_t)nprocs + 16, .use_procfs = 0};
	long rss0 = rss_kb();
	struct graph *g = graph_new(&c);
	uint8_t buf[HT_REC_MAX];
	struct ht_record r, d;
	const char *why;
	uint64_t nrec = 0, ts = 1000;
	uint64_t t0 = now_ns();

	/* a long-lived parent */
	memset(&r, 0, sizeof(r));
	r.type = HT_REC_IMAGE;
	r.ts = ts++;
	r.num = 1;
	strcpy(r.str, "/usr/bin/bash");
	strcpy(r.str2, "bash");
	size_t n = ht_record_encode(&r, buf, sizeof(buf));
	ht_record_decode(buf, n, &d, &why);
	graph_apply(g, 10, 0, &d, d.ts, &why);

	for (long i = 0; i < nprocs; i++) {
		pid_t pid = (pid_t)(100 + i);
		struct ht_record seq[8];
		int k = 0;
		memset(seq, 0, sizeof(seq));
		seq[k].type = HT_REC_BIRTH, seq[k].num = 10, seq[k].ts2 = ts, k++;
		seq[k].type = HT_REC_IMAGE, seq[k].num = 10, k++;
		snprintf(seq[1].str, sizeof(seq[1].str), "/usr/bin/prog%ld", i % 50);
		snprintf(seq[1].str2, sizeof(seq[1].str2), "prog%ld", i % 50);
		seq[k].type = HT_REC_PIPE, seq[k].fd = 3, seq[k].fd2 = 4;
		seq[k].chan = (struct ht_chan){HT_CHAN_PIPE, 12, 1000000 + (uint64_t)i}, k++;
		seq[k].type = HT_REC_DUP, seq[k].fd = 4, seq[k].fd2 = 1, k++;
		seq[k].type = HT_REC_CLOSE, seq[k].fd = 4, k++;
		seq[k].type = HT_REC_CONNECT, seq[k].fd = 5, seq[k].num = 1;
		seq[k].chan = (struct ht_chan){HT_CHAN_SOCK, 0, 5000000 + (uint64_t)i};
		seq[k].addr.family = AF_INET, seq[k].addr.len = 4, seq[k].addr.port = 22;
		inet_pton(AF_INET, "10.0.0.3", seq[k].addr.a);
		k++;
		seq[k].type = HT_REC_EXIT, k++;
		for (int j = 0; j < k; j++) {
			seq[j].ts = ts++;
			if (seq[j].type != HT_REC_PIPE && seq[j].type != HT_REC_DUP)
				seq[j].fd2 = seq[j].type == HT_REC_CLOSE ? -1 : seq[j].fd2;
			n = ht_record_encode(&seq[j], buf, sizeof(buf));
			if (!n || ht_record_decode(buf, n, &d, &why) != 0) {
				fprintf(stderr, "graph_bench: bad record %d: %s\n", seq[j].type, why);
				return 1;
			}
			graph_apply(g, pid, 0, &d, d.ts, &why);
			nrec++;
		}
	}
	uint64_t dt = now_ns() - t0;
	struct graph_stats st;
	graph_stats(g, &st);
	long rss1 = rss_kb();
	printf("records %llu in %.3f s\n", (unsigned long long)nrec, (double)dt / 1e9);
	printf("records_per_s %.0f\n", (double)nrec / ((double)dt / 1e9));
	printf("procs %llu chans %llu holds %llu\n", (unsigned long long)st.procs,
	       (unsigned long long)st.chans, (unsigned long long)st.holds);
	printf("bytes_per_proc %.0f\n", (double)st.bytes / (double)st.procs);
	printf("graph_mb_at_%ld %.1f\n", nprocs, (double)st.bytes / (1024.0 * 1024.0));
	printf("rss_growth_mb %.1f\n", (double)(rss1 - rss0) / 1024.0);
	graph_free(g);
	return 0;
}
