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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static void op_connect(void)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	struct linger lg = { 1, 0 }; /* RST on close: no TIME_WAIT pile-up */
	setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	uint64_t t0 = ns();
	if (connect(c, (struct sockaddr *)&g_a, sizeof(g_a)) != 0) {
		perror("connect");
		exit(1);
	}
	uint64_t t1 = ns();
	int a = accept(g_l, NULL, NULL);
	uint64_t t2 = ns();
	g_tconn += t1 - t0;
	g_tacc += t2 - t1;
	close(a);
	close(c);
}

static void op_pipe(void)
{
	int p[2];
	if (pipe(p) == 0) {
		close(p[0]);
		close(p[1]);
	}
}

static void op_spawn(void)
{
	pid_t pid;
	char *av[] = { "true", NULL };
	if (posix_spawn(&pid, "/bin/true", NULL, NULL, av, environ) == 0)
		waitpid(pid, NULL, 0);
}

static void op_open(void)
{
	int fd = open(g_file, O_RDONLY | O_CLOEXEC);
	close(fd);
}

static void run(const char *name, void (*op)(void), int rounds, int iters)
{
	double r[64];
	for (int i = 0; i < iters / 10 + 1; i++) /* warm-up */
		op();
	double rc[64], ra[64];
	for (int k = 0; k < rounds; k++) {
		g_tconn = g_tacc = 0;
		uint64_t t0 = ns();
		for (int i = 0; i < iters; i++)
			op();
		r[k] = (double)(ns() - t0) / iters;
		rc[k] = (double)g_tconn / iters;
		ra[k] = (double)g_tacc / iters;
	}
	qsort(r, (size_t)rounds, sizeof(double), cmp_d);
	printf("%s %.0f\n", name, r[rounds / 2]);
	if (op == op_connect) {
		qsort(rc, (size_t)rounds, sizeof(double), cmp_d);
		qsort(ra, (size_t)rounds, sizeof(double), cmp_d);
		printf("connect_call %.0f\naccept_call %.0f\n", rc[rounds / 2], ra[rounds / 2]);
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
	run("connect", op_connect, rounds, (int)(2000 * scale));
	run("pipe", op_pipe, rounds, (int)(20000 * scale));
	run("spawn", op_spawn, rounds, (int)(300 * scale));
	run("open", op_open, rounds, (int)(20000 * scale));
	unlink(g_file);
	return 0;
}
