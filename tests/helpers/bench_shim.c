/*
 * bench_shim — per-operation cost of hooked calls; run once without and once
 * with LD_PRELOAD of the shim (tests/bench/shim.sh) and compare.
 *
 *   bench_shim ROUNDS SCALE
 * Prints "op median_ns" for: connect (socket+connect+accept+close×2 on
 * loopback TCP), and within it the connect() call alone (connect_call) and the
 * accept() call alone (accept_call); pipe (pipe+close×2), spawn (posix_spawn
 * /bin/true + waitpid), open (open+close of a regular file). Each op runs ROUNDS
 * rounds; the median of the rounds' per-op means is printed. SCALE multiplies
 * iteration counts.
 *
 * Two floors for the connect op, meaningful in the run without the shim: the
 * same op plus only the kernel calls that read what a CONNECT and an ACCEPT
 * record must carry, done inline, with no transport and no shim at all —
 * connect_inode (the two sockets' inodes: one fstat each) and connect_fields
 * (also the connecting socket's type, which tells a TCP connect from a UDP one,
 * and the accepted socket's local address; the peer's comes with accept()).
 * With HT_BENCH_SINK=NAME (a collector's abstract record socket), a third:
 * connect_sent — the inodes, and one record each for the connect (sent before
 * the call, as the design requires) and the accept, over one SEQPACKET
 * connection: the least any shim sends for a connect+accept.
 *
 * The floors of issue 14's rows, in the run without the shim: what a hook
 * that does only what its records need costs — the kernel calls that read the
 * records' fields and each record encoded and placed in a ring of this
 * process's own (include/hoptrace/ring.h; drained in the same thread after
 * each op, so the figure includes the reader's copy and no other CPU):
 * connect_ring (the inodes, the type, the local address, CONNECT, ACCEPT and
 * two CLOSE records; its accept_call is accept_ring_call), pipe_ring (one
 * fstat, PIPE and two CLOSE records), pipe_fstat (the fstat alone).
 *
 * HT_BENCH_ONLY=op runs that op alone (the collector's CPU per record or per
 * spawn, tests/bench/work.sh); "count_OP N" says how many times each op ran.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <stddef.h>
#include <sys/un.h>
#include <unistd.h>

#include "hoptrace/record.h"
#include "hoptrace/ring.h"

extern char **environ;

static uint64_t ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int g_l;
static struct sockaddr_in g_a;
static char g_file[64];
static uint64_t g_tconn, g_tacc; /* ns inside connect() / accept(), this round */
static int g_fields;             /* 0: plain op; 1: + the inodes; 2: + type, local address;
				  * 3: the inodes + a record per connect and accept */
static int g_sink = -1;          /* HT_BENCH_SINK connection, for g_fields == 3 */
static void *g_ring;             /* our own ring, for the *_ring floors */
static struct ht_ring_reader g_rr;
static uint64_t g_count;         /* op calls, this run */

static void ring_setup(void)
{
	g_ring = aligned_alloc(4096, HT_RING_SIZE);
	if (!g_ring)
		exit(1);
	memset(g_ring, 0, HT_RING_SIZE);
	ht_ring_init(g_ring);
	ht_ring_reader_init(&g_rr, g_ring);
}

/* a record of type t with n int fields (a stand-in for its real fields:
 * the same header, about the same bytes), placed in our ring */
static void ring_rec(enum ht_rec_type t, int n, int64_t a)
{
	uint8_t b[HT_REC_MAX];
	struct ht_enc e;
	uint32_t fill;
	ht_enc_init(&e, b, sizeof(b));
	ht_enc_head(&e, t, ns(), (unsigned)n);
	for (int i = 0; i < n; i++)
		ht_enc_int(&e, a + i * 1000003);
	if (e.len != (size_t)-1)
		ht_ring_put(g_ring, b, e.len, &fill);
}

static void ring_drain(void)
{
	uint8_t b[HT_RING_MAXN * HT_RING_DATA];
	while (ht_ring_next(&g_rr, b, sizeof(b), 0) > 0)
		;
}

static void sink_open(void)
{
	const char *n = getenv("HT_BENCH_SINK");
	struct sockaddr_un a;
	if (!n || !*n || strlen(n) >= sizeof(a.sun_path) - 1)
		return;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path + 1, n, strlen(n));
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&a,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(n))) == 0)
		g_sink = s;
	else if (s >= 0)
		close(s);
}

/* one CONNECT (peer == NULL) or ACCEPT record, as the shim encodes them */
static void sink_send(int fd, uint64_t ino, uint64_t lino, const struct sockaddr *to,
		      const struct sockaddr *peer, socklen_t peerlen)
{
	uint8_t b[HT_REC_MAX];
	struct ht_enc e;
	struct ht_addr ad;
	struct ht_chan c = { HT_CHAN_SOCK, 0, ino }, lc = { HT_CHAN_SOCK, 0, lino };
	ht_enc_init(&e, b, sizeof(b));
	if (!peer) {
		ht_enc_head(&e, HT_REC_CONNECT, ns(), 4);
		ht_enc_int(&e, fd);
		ht_enc_chan(&e, &c);
		ht_enc_int(&e, SOCK_STREAM);
		ht_addr_from_sockaddr(&ad, to, sizeof(struct sockaddr_in));
		ht_enc_addr(&e, &ad);
	} else {
		ht_enc_head(&e, HT_REC_ACCEPT, ns(), 6);
		ht_enc_int(&e, fd);
		ht_enc_chan(&e, &c);
		ht_enc_chan(&e, &lc);
		ht_enc_int(&e, SOCK_STREAM);
		memset(&ad, 0, sizeof(ad));
		ht_enc_addr(&e, &ad);
		ht_addr_from_sockaddr(&ad, peer, peerlen);
		ht_enc_addr(&e, &ad);
	}
	if (e.len != (size_t)-1)
		send(g_sink, b, e.len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void op_connect(void)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct linger lg = { 1, 0 }; /* RST on close: no TIME_WAIT pile-up */
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	struct stat st;
	struct sockaddr_storage peer, loc;
	socklen_t pl = sizeof(peer), ll = sizeof(loc);
	int type;
	socklen_t tl = sizeof(type);
	g_count++;
	if (g_fields == 2 || g_fields == 4)
		getsockopt(c, SOL_SOCKET, SO_TYPE, &type, &tl);
	if (g_fields)
		fstat(c, &st);
	if (g_fields == 3)
		sink_send(c, st.st_ino, 0, (struct sockaddr *)&g_a, NULL, 0);
	if (g_fields == 4)
		ring_rec(HT_REC_CONNECT, 6, (int64_t)st.st_ino);
	uint64_t t0 = ns();
	if (connect(c, (struct sockaddr *)&g_a, sizeof(g_a)) != 0) {
		perror("connect");
		exit(1);
	}
	uint64_t t1 = ns();
	int a = g_fields > 1 ? accept(g_l, (struct sockaddr *)&peer, &pl) : accept(g_l, NULL, NULL);
	uint64_t t2 = ns();
	if (g_fields == 2 || g_fields == 4)
		getsockname(a, (struct sockaddr *)&loc, &ll);
	if (g_fields)
		fstat(a, &st);
	if (g_fields == 3)
		sink_send(a, st.st_ino, 1, NULL, (struct sockaddr *)&peer, pl);
	if (g_fields == 4) {
		fstat(g_l, &st);
		ring_rec(HT_REC_ACCEPT, 9, (int64_t)st.st_ino);
	}
	uint64_t t3 = ns();
	g_tconn += t1 - t0;
	g_tacc += t2 - t1 + (g_fields == 4 ? t3 - t2 : 0);
	close(a);
	if (g_fields == 4)
		ring_rec(HT_REC_CLOSE, 1, a);
	close(c);
	if (g_fields == 4) {
		ring_rec(HT_REC_CLOSE, 1, c);
		ring_drain();
	}
}

static void op_pipe(void)
{
	int p[2];
	struct stat st;
	g_count++;
	if (pipe(p) == 0) {
		if (g_fields)
			fstat(p[0], &st);
		if (g_fields == 2)
			ring_rec(HT_REC_PIPE, 5, (int64_t)st.st_ino);
		close(p[0]);
		if (g_fields == 2)
			ring_rec(HT_REC_CLOSE, 1, p[0]);
		close(p[1]);
		if (g_fields == 2) {
			ring_rec(HT_REC_CLOSE, 1, p[1]);
			ring_drain();
		}
	}
}

static void op_spawn(void)
{
	pid_t pid;
	char *av[] = { "true", NULL };
	g_count++;
	if (posix_spawn(&pid, "/bin/true", NULL, NULL, av, environ) == 0)
		waitpid(pid, NULL, 0);
}

static void op_open(void)
{
	int fd = open(g_file, O_RDONLY | O_CLOEXEC);
	g_count++;
	close(fd);
}

/* Runs op ROUNDS times ITERS times per variant (g_fields = 0..nvar-1), the
 * variants interleaved round by round so that drift hits them alike. */
static void run(const char *const *names, int nvar, void (*op)(void), int rounds, int iters)
{
	double r[5][64], rc[64], ra[64], rra[64];
	for (int v = 0; v < nvar; v++) {
		g_fields = v;
		for (int i = 0; i < iters / 10 + 1; i++) /* warm-up */
			op();
	}
	for (int k = 0; k < rounds; k++) {
		for (int v = 0; v < nvar; v++) {
			g_fields = v;
			g_tconn = g_tacc = 0;
			uint64_t t0 = ns();
			for (int i = 0; i < iters; i++)
				op();
			r[v][k] = (double)(ns() - t0) / iters;
			if (v == 0) {
				rc[k] = (double)g_tconn / iters;
				ra[k] = (double)g_tacc / iters;
			}
			if (v == 4)
				rra[k] = (double)g_tacc / iters;
		}
	}
	g_fields = 0;
	for (int v = 0; v < nvar; v++) {
		qsort(r[v], (size_t)rounds, sizeof(double), cmp_d);
		if (op != op_connect || v != 3 || g_sink >= 0) /* connect_sent needs the sink */
			printf("%s %.0f\n", names[v], r[v][rounds / 2]);
	}
	if (op == op_connect) {
		qsort(rc, (size_t)rounds, sizeof(double), cmp_d);
		qsort(ra, (size_t)rounds, sizeof(double), cmp_d);
		printf("connect_call %.0f\naccept_call %.0f\n", rc[rounds / 2], ra[rounds / 2]);
		if (nvar > 4) {
			qsort(rra, (size_t)rounds, sizeof(double), cmp_d);
			printf("accept_ring_call %.0f\n", rra[rounds / 2]);
		}
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	double scale = argc > 2 ? atof(argv[2]) : 1.0;
	if (rounds < 1 || rounds > 64)
		rounds = 7;
	g_l = socket(AF_INET, SOCK_STREAM, 0);
	memset(&g_a, 0, sizeof(g_a));
	g_a.sin_family = AF_INET;
	g_a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(g_a);
	if (bind(g_l, (struct sockaddr *)&g_a, sizeof(g_a)) || listen(g_l, 128) ||
	    getsockname(g_l, (struct sockaddr *)&g_a, &al)) {
		perror("listen");
		return 1;
	}
	snprintf(g_file, sizeof(g_file), "/tmp/bench_shim.%d", (int)getpid());
	int fd = open(g_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, "x", 1) != 1)
		return 1;
	close(fd);
	static const char *const conn[] = { "connect", "connect_inode", "connect_fields",
					    "connect_sent", "connect_ring" };
	static const char *const pipe_[] = { "pipe", "pipe_fstat", "pipe_ring" },
				 *const spawn[] = { "spawn" }, *const open_[] = { "open" };
	/* the floors only in the run without the shim (its hooks would add to them) */
	int floors = !getenv("LD_PRELOAD") || !*getenv("LD_PRELOAD");
	const char *only = getenv("HT_BENCH_ONLY");
	ring_setup();
	sink_open();
#define RUN(name, ...)                                                            \
	if (!only || !strcmp(only, name)) {                                      \
		g_count = 0;                                                     \
		run(__VA_ARGS__);                                                \
		printf("count_%s %llu\n", name, (unsigned long long)g_count);   \
	}
	RUN("connect", conn, floors ? 5 : 1, op_connect, rounds, (int)(2000 * scale));
	RUN("pipe", pipe_, floors ? 3 : 1, op_pipe, rounds, (int)(20000 * scale));
	RUN("spawn", spawn, 1, op_spawn, rounds, (int)(300 * scale));
	RUN("open", open_, 1, op_open, rounds, (int)(20000 * scale));
	unlink(g_file);
	return 0;
}
