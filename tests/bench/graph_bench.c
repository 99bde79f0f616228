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
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../collector/chain.h"
#include "../../collector/graph.h"
#include "../../collector/kiter.h"
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

/* Issue 10 (5): one process sends 120,000 OPEN records on distinct fds (a
 * FIFO each) — linear fd and hold lookups made this quadratic. Applied with
 * the graph alone (no /proc). */
static void flood(void)
{
	struct graph_conf c = {.retention_ns = 3600ULL * 1000000000ULL,
			       .window_ns = 60ULL * 1000000000ULL, .max_procs = 1000, .use_procfs = 0};
	struct graph *g = graph_new(&c);
	struct ht_record r;
	const char *why;
	memset(&r, 0, sizeof(r));
	r.type = HT_REC_IMAGE, r.ts = 1, r.num = 1;
	strcpy(r.str, "/usr/bin/python3");
	strcpy(r.str2, "python3");
	graph_apply(g, 10, 1000, &r, r.ts, &why);
	uint64_t t0 = now_ns();
	long refused = 0;
	for (int i = 0; i < 120000; i++) {
		memset(&r, 0, sizeof(r));
		r.type = HT_REC_OPEN, r.ts = 2 + (uint64_t)i, r.fd = 3 + i, r.fd2 = -1;
		r.chan = (struct ht_chan){HT_CHAN_FIFO, 7, 100000 + (uint64_t)i};
		refused += graph_apply(g, 10, 1000, &r, r.ts, &why) != 0;
	}
	uint64_t dt = now_ns() - t0;
	printf("flood_open_120k_s %.3f (refused %ld)\n", (double)dt / 1e9, refused);
	graph_free(g);
}

/* The claim checks' cost per record: this process's own pipes, reported as
 * the shim would (PIPE, then CLOSE x2 after the real close), applied with the
 * checks on (a /proc/self/fd fstatat per claim through the cached directory
 * fd) and off (trust_claims) — only graph_apply is timed. */
static double claim_ns[2];

static void claims(int on)
{
	struct graph_conf c = {.retention_ns = 3600ULL * 1000000000ULL,
			       .window_ns = 60ULL * 1000000000ULL, .max_procs = 1000, .use_procfs = 1,
			       .trust_claims = !on};
	struct graph *g = graph_new(&c);
	struct ht_record r;
	const char *why;
	pid_t me = getpid();
	uint64_t spent = 0;
	long n = 0, bad = 0;
	memset(&r, 0, sizeof(r));
	r.type = HT_REC_RESYNC, r.ts = now_ns();
	graph_apply(g, me, getuid(), &r, r.ts, &why); /* the process, from /proc */
	for (int i = 0; i < 20000; i++) {
		int fds[2];
		struct stat st;
		if (pipe(fds) != 0 || fstat(fds[0], &st) != 0)
			break;
		memset(&r, 0, sizeof(r));
		r.type = HT_REC_PIPE, r.ts = now_ns(), r.fd = fds[0], r.fd2 = fds[1];
		r.chan = (struct ht_chan){HT_CHAN_PIPE, (uint64_t)st.st_dev, (uint64_t)st.st_ino};
		uint64_t t0 = now_ns();
		bad += graph_apply(g, me, getuid(), &r, r.ts, &why) != 0;
		spent += now_ns() - t0;
		close(fds[0]);
		close(fds[1]);
		for (int k = 0; k < 2; k++) {
			memset(&r, 0, sizeof(r));
			r.type = HT_REC_CLOSE, r.ts = now_ns(), r.fd = fds[k], r.fd2 = -1;
			t0 = now_ns();
			bad += graph_apply(g, me, getuid(), &r, r.ts, &why) != 0;
			spent += now_ns() - t0;
		}
		n += 3;
	}
	struct graph_stats gs;
	graph_stats(g, &gs);
	claim_ns[on] = (double)spent / (double)n;
	printf("claims_%s_ns_per_record %.0f (records %ld, refused %ld, kernel checks %llu)\n",
	       on ? "checked" : "trusted", claim_ns[on], n, bad, (unsigned long long)gs.fd_checks);
	graph_free(g);
}

/* The per-SYN fd-table check (issue 10, graph_proc_check_fds): a walk reads the
 * /proc/PID/fd of every live process it reaches, so what a raw syscall gave a
 * process without a record is still followed. Its cost against the walk before it
 * (the same graph, the check's kernel hook answering "nothing"), same run: the
 * bench process itself as the subject, holding nfd pipe ends the graph knows
 * (read from /proc at its RESYNC). Prints the median chain_compute ns of each. */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int no_fds(void *ctx, pid_t pid, uint64_t dl, int (*cb)(void *, int, const struct ht_chan *),
		  void *cx)
{
	(void)ctx, (void)pid, (void)dl, (void)cb, (void)cx;
	return 0;
}

static int no_pipe_holders(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
			   int (*cb)(void *, pid_t, int), void *cx);

/* on: 0 the hook answering nothing, 1 /proc, 2 the kernel pass (kiter_fds) */
static uint64_t walk_ns(int on, int nfd, struct kiter *ki)
{
	struct graph_conf c = {.retention_ns = 3600ULL * 1000000000ULL,
			       .window_ns = 60ULL * 1000000000ULL, .max_procs = 1000, .use_procfs = 1,
			       .kernel_fds = on == 0 ? no_fds : on == 2 ? kiter_fds : NULL,
			       .kernel_ctx = on == 2 ? ki : NULL,
			       /* (the subject reads its pipes: no holder search,
				* measured by pipe_walks, in any side) */
			       .kernel_pipe_holders = no_pipe_holders};
	struct graph *g = graph_new(&c);
	struct ht_record r;
	const char *why;
	pid_t me = getpid();
	memset(&r, 0, sizeof(r));
	r.type = HT_REC_RESYNC, r.ts = now_ns();
	graph_apply(g, me, getuid(), &r, r.ts, &why);
	struct ht_addr dst = {.family = AF_INET, .len = 4, .port = 9000};
	inet_pton(AF_INET, "10.0.0.2", dst.a);
	struct chain_req req = {.host = "bench", .subject = graph_proc(g, me), .syn_remote = &dst,
				.now = now_ns(), .nl = -1};
	uint64_t rounds[9];
	int iters = 200;
	for (int k = 0; k < 9; k++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < iters; i++)
			cJSON_Delete(chain_compute(g, &req));
		rounds[k] = (now_ns() - t0) / (uint64_t)iters;
	}
	qsort(rounds, 9, sizeof(rounds[0]), cmp_u64);
	struct graph_stats gs;
	graph_stats(g, &gs);
	printf("syn_walk_fdcheck_%s_fds_%d_ns %llu (proc reads %llu)\n",
	       on == 0 ? "off" : on == 1 ? "on" : "kernel", nfd,
	       (unsigned long long)rounds[4], (unsigned long long)gs.proc_reads);
	graph_free(g);
	return rounds[4];
}

static void syn_walks(void)
{
	static const int nfds[] = {16, 2000};
	char kwhy[256];
	struct stat nsb;
	struct kiter *ki = kiter_open(stat("/proc/self/ns/net", &nsb) == 0 ? (uint64_t)nsb.st_ino : 0,
				      kwhy, sizeof(kwhy));
	int held[2000], n = 0;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 2100 && rl.rlim_max >= 2100) {
		rl.rlim_cur = 2100; /* (the default 1024 would stop the 2000 row short) */
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (size_t k = 0; k < sizeof nfds / sizeof nfds[0]; k++) {
		while (n + 2 <= nfds[k] && pipe(&held[n]) == 0)
			n += 2;
		uint64_t off = walk_ns(0, n, ki), on = walk_ns(1, n, ki);
		uint64_t kern = ki ? walk_ns(2, n, ki) : 0;
		if (off)
			printf("syn_walk_fdcheck_ratio_fds_%d %.2f\n", n, (double)on / (double)off);
		if (off && kern && on)
			printf("syn_walk_fdcheck_kernel_ratio_fds_%d %.2f (kernel/off; kernel/proc %.3f)\n", n,
			       (double)kern / (double)off, (double)kern / (double)on);
	}
	while (n > 0)
		close(held[--n]);
	kiter_close(ki);
}

/* Every walk that reads a pipe searches its holders in /proc, also when the
 * graph knows its writer (session 12; before, only when it knew none: decoys
 * the graph knew hid B's unshimmed writer). Its cost, same run, interleaved:
 * the bench process reads a pipe whose writer, a fork child, the graph knows
 * (BIRTH), the search answering "nothing" at once (off: the walk before) or
 * reading this uid's processes in /proc (on), or one kernel pass over every
 * task's files (kernel: kiter.c, when it loads). Prints the median ns of each. */
static int no_pipe_holders(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
			   int (*cb)(void *, pid_t, int), void *cx)
{
	(void)ctx, (void)dev, (void)ino, (void)s, (void)cb, (void)cx;
	return 0;
}

static int uid_procs(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	struct stat sb;
	char path[300];
	int n = 0;
	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s", e->d_name);
		n += stat(path, &sb) == 0 && sb.st_uid == getuid();
	}
	if (d)
		closedir(d);
	return n;
}

static void pipe_walks(void)
{
	int fds[2];
	if (pipe(fds) != 0)
		return;
	pid_t me = getpid();
	/* side 0: no search; 1: /proc's; 2: the kernel pass (kiter.c), when it
	 * loads here (root, BPF) */
	struct graph *g[3] = {0};
	struct ht_record r;
	const char *why;
	char kwhy[256] = "";
	struct stat nsb;
	uint64_t netns = stat("/proc/self/ns/net", &nsb) == 0 ? (uint64_t)nsb.st_ino : 0;
	struct kiter *ki = kiter_open(netns, kwhy, sizeof(kwhy));
	int sides = ki ? 3 : 2;
	if (!ki)
		printf("syn_walk_pipe_search_kernel unavailable: %s\n", kwhy);
	uint64_t t0 = now_ns();
	for (int on = 0; on < sides; on++) {
		struct graph_conf c = {.retention_ns = 3600ULL * 1000000000ULL,
				       .window_ns = 60ULL * 1000000000ULL, .max_procs = 1000,
				       .use_procfs = 1,
				       .kernel_pipe_holders = on == 0 ? no_pipe_holders
							      : on == 2 ? kiter_pipe_holders : NULL,
				       .kernel_ctx = on == 2 ? ki : NULL};
		g[on] = graph_new(&c);
		memset(&r, 0, sizeof(r));
		r.type = HT_REC_RESYNC, r.ts = t0;
		graph_apply(g[on], me, getuid(), &r, r.ts, &why);
	}
	uint64_t tf = now_ns();
	pid_t kid = fork();
	if (kid == 0) {
		pause();
		_exit(0);
	}
	for (int on = 0; on < sides; on++) {
		memset(&r, 0, sizeof(r));
		r.type = HT_REC_BIRTH, r.ts = tf + 1, r.num = me, r.ts2 = tf;
		graph_apply(g[on], kid, getuid(), &r, r.ts, &why);
	}
	struct ht_addr dst = {.family = AF_INET, .len = 4, .port = 9000};
	inet_pton(AF_INET, "10.0.0.2", dst.a);
	uint64_t rounds[3][9];
	int iters = 100;
	for (int k = 0; k < 9; k++)
		for (int on = 0; on < sides; on++) {
			struct chain_req req = {.host = "bench", .subject = graph_proc(g[on], me),
						.syn_remote = &dst, .now = now_ns(), .nl = -1};
			uint64_t a = now_ns();
			for (int i = 0; i < iters; i++)
				cJSON_Delete(chain_compute(g[on], &req));
			rounds[on][k] = (now_ns() - a) / (uint64_t)iters;
		}
	int np = uid_procs();
	uint64_t med[3] = {0};
	static const char *const name[3] = {"off", "on", "kernel"};
	for (int on = 0; on < sides; on++) {
		struct graph_stats gs;
		graph_stats(g[on], &gs);
		qsort(rounds[on], 9, sizeof(rounds[on][0]), cmp_u64);
		med[on] = rounds[on][4];
		printf("syn_walk_pipe_search_%s_ns %llu (holder searches %llu, incomplete %llu, %d processes of uid %u)\n",
		       name[on], (unsigned long long)med[on], (unsigned long long)gs.holder_scans,
		       (unsigned long long)gs.holder_scans_incomplete, np, (unsigned)getuid());
		graph_free(g[on]);
	}
	if (med[0])
		printf("syn_walk_pipe_search_ratio %.2f\n", (double)med[1] / (double)med[0]);
	if (ki && med[0] && med[1]) {
		struct kiter_stats ks;
		kiter_stats(ki, &ks);
		printf("syn_walk_pipe_search_kernel_ratio %.2f (kernel/off; kernel/proc %.3f; passes %llu, fallbacks %llu)\n",
		       (double)med[2] / (double)med[0], (double)med[2] / (double)med[1],
		       (unsigned long long)ks.passes, (unsigned long long)ks.fallbacks);
	}
	kiter_close(ki);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);
	close(fds[0]);
	close(fds[1]);
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
	flood();
	claims(0);
	claims(1);
	if (claim_ns[0] > 0)
		printf("claim_check_ratio %.2f\n", claim_ns[1] / claim_ns[0]);
	syn_walks();
	pipe_walks();
	return 0;
}
