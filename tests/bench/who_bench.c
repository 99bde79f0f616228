/*
 * who_bench.c — the collector's half of a guard decision: for each of N new
 * connections to a local listener, ask the collector "who" for its 4-tuple
 * over the guard's SEQPACKET query socket, and time the answer.
 *
 *   who_bench [-n N] [-p PORT] [-k]        (run it under the shim)
 *   who_bench [-n N] -q LOCAL,REMOTE [-q LOCAL,REMOTE ...] [-v]
 *
 * -k keeps every connection open (a busy client with many live sockets);
 * without it each is closed after its question. Prints p50/p99/max in µs and
 * the mean answer size; exits 1 if any answer was not ok or had no chain.
 * -q asks about connections someone else holds open instead (no listener, no
 * connections of its own): N questions for each, taken in turn (interleaved,
 * so the machine's load is the same for each); one "who_q" line each, p50/p99
 * in ns; -v prints each one's first answer too ("answer LOCAL,REMOTE JSON").
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../guard/collq.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

#define MAXQ 8

/* -q: N questions about each of nq connections held by others, in turn */
static int ask_held(long n, char **q, int nq, int verbose)
{
	struct collq cq;
	if (n < 1 || collq_init(&cq, NULL) != 0)
		return 1;
	char *local[MAXQ], *remote[MAXQ];
	uint64_t *lat[MAXQ];
	size_t bytes[MAXQ] = {0};
	long bad[MAXQ] = {0};
	for (int j = 0; j < nq; j++) {
		local[j] = strdup(q[j]);
		remote[j] = strchr(local[j], ',');
		if (!remote[j]) {
			fprintf(stderr, "who_bench: -q LOCAL,REMOTE: %s\n", q[j]);
			return 2;
		}
		*remote[j]++ = 0;
		lat[j] = calloc((size_t)n, sizeof(uint64_t));
		if (!lat[j])
			return 1;
	}
	for (long i = 0; i < n; i++) {
		for (int j = 0; j < nq; j++) {
			char err[256];
			uint64_t t0 = now_ns();
			long r = collq_who(&cq, local[j], remote[j], 2000, err, sizeof(err));
			lat[j][i] = now_ns() - t0;
			if (r < 0 || !strstr(cq.buf, "\"ok\":true") || !strstr(cq.buf, "\"chains\":[{")) {
				if (bad[j]++ < 3)
					fprintf(stderr, "who_bench: bad answer: %s\n", r < 0 ? err : cq.buf);
				continue;
			}
			bytes[j] += (size_t)r;
			if (verbose && i == 0)
				printf("answer %s %s\n", q[j], cq.buf);
		}
	}
	long allbad = 0;
	for (int j = 0; j < nq; j++) {
		qsort(lat[j], (size_t)n, sizeof(uint64_t), cmp);
		printf("who_q %s n=%ld p50_ns %llu p99_ns %llu max_ns %llu mean_bytes %zu bad %ld\n",
		       q[j], n, (unsigned long long)lat[j][n / 2],
		       (unsigned long long)lat[j][n * 99 / 100], (unsigned long long)lat[j][n - 1],
		       bytes[j] / (size_t)(n - bad[j] ? n - bad[j] : 1), bad[j]);
		allbad += bad[j];
	}
	return allbad ? 1 : 0;
}

int main(int argc, char **argv)
{
	long n = 2000;
	int port = 47001, keep = 0, ch, nq = 0, verbose = 0;
	char *q[MAXQ];
	while ((ch = getopt(argc, argv, "n:p:kq:v")) != -1) {
		switch (ch) {
		case 'n': n = atol(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 'k': keep = 1; break;
		case 'q':
			if (nq < MAXQ)
				q[nq++] = optarg;
			break;
		case 'v': verbose = 1; break;
		default:
			fprintf(stderr, "usage: who_bench [-n N] [-p PORT] [-k] | [-n N] -q LOCAL,REMOTE... [-v]\n");
			return 2;
		}
	}
	if (nq)
		return ask_held(n, q, nq, verbose);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0) {
		perror("who_bench: listen");
		return 1;
	}
	struct collq cq;
	if (collq_init(&cq, NULL) != 0)
		return 1;
	uint64_t *lat = calloc((size_t)n, sizeof(*lat));
	int *fds = calloc((size_t)n * 2, sizeof(int));
	size_t bytes = 0;
	long bad = 0;
	for (long i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			perror("who_bench: connect");
			return 1;
		}
		int a = accept(lfd, NULL, NULL);
		struct sockaddr_in l;
		socklen_t ll = sizeof(l);
		getsockname(c, (struct sockaddr *)&l, &ll);
		char local[64], remote[64], ip[32];
		inet_ntop(AF_INET, &l.sin_addr, ip, sizeof(ip));
		snprintf(local, sizeof(local), "%s:%u", ip, ntohs(l.sin_port));
		snprintf(remote, sizeof(remote), "127.0.0.1:%d", port);
		char err[256];
		uint64_t t0 = now_ns();
		long r = collq_who(&cq, local, remote, 2000, err, sizeof(err));
		lat[i] = now_ns() - t0;
		if (r < 0 || !strstr(cq.buf, "\"ok\":true") || !strstr(cq.buf, "\"chains\":[{")) {
			if (bad++ < 3)
				fprintf(stderr, "who_bench: bad answer: %s\n", r < 0 ? err : cq.buf);
		} else {
			bytes += (size_t)r;
		}
		if (keep) {
			fds[2 * i] = c;
			fds[2 * i + 1] = a;
		} else {
			close(c);
			close(a);
		}
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp);
	printf("who n=%ld keep=%d p50_us %.1f p99_us %.1f max_us %.1f mean_bytes %zu bad %ld\n", n,
	       keep, (double)lat[n / 2] / 1e3, (double)lat[n * 99 / 100] / 1e3,
	       (double)lat[n - 1] / 1e3, bytes / (size_t)(n - bad ? n - bad : 1), bad);
	return bad ? 1 : 0;
}
