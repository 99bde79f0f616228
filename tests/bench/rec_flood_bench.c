/*
 * rec_flood_bench — sends well-formed records to a collector as fast as it takes
 * them, for the ingest benchmark and the collector's robustness tests.
 *
 *   rec_flood_bench [-n N] [-c CONNS] [-k KIND] NAME
 *
 * NAME is the abstract SEQPACKET name (hoptrace/rec). Records are sent round
 * robin over CONNS connections; when a connection's queue is full the sender
 * waits for it (this is a load generator, not the shim). KIND:
 *   churn  (default) PIPE/CLOSE pairs on fresh pipe inodes: the graph sees
 *          channels open and close under one process;
 *   bad    malformed datagrams (every one must be rejected and counted).
 * Prints "sent N ns T".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/record.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int dial(const char *name)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || n > sizeof(sa.sun_path) - 1)
		return -1;
	memcpy(sa.sun_path + 1, name, n);
	if (connect(fd, (struct sockaddr *)&sa,
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const void *buf, size_t n)
{
	for (;;) {
		if (send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd p = {fd, POLLOUT, 0};
		poll(&p, 1, 1000);
	}
}

int main(int argc, char **argv)
{
	long n = 1000000, conns = 4;
	const char *kind = "churn";
	int ch;
	while ((ch = getopt(argc, argv, "n:c:k:")) != -1) {
		switch (ch) {
		case 'n': n = atol(optarg); break;
		case 'c': conns = atol(optarg); break;
		case 'k': kind = optarg; break;
		default:
			fprintf(stderr, "usage: rec_flood [-n N] [-c CONNS] [-k churn|bad] NAME\n");
			return 2;
		}
	}
	if (optind != argc - 1 || conns < 1 || conns > 64 || n < 1)
		return 2;
	int fds[64];
	for (long i = 0; i < conns; i++) {
		fds[i] = dial(argv[optind]);
		if (fds[i] < 0) {
			perror("rec_flood: connect");
			return 1;
		}
	}
	uint8_t buf[HT_REC_MAX];
	struct ht_record r;
	memset(&r, 0, sizeof(r));
	/* announce ourselves once */
	r.type = HT_REC_IMAGE;
	r.ts = now_ns();
	r.num = getppid();
	strcpy(r.str, "/proc/self/exe");
	strcpy(r.str2, "rec_flood");
	size_t len = ht_record_encode(&r, buf, sizeof(buf));
	send_all(fds[0], buf, len);

	uint64_t t0 = now_ns();
	long sent = 0;
	for (long i = 0; i < n; i++) {
		int fd = fds[i % conns];
		if (strcmp(kind, "bad") == 0) {
			/* alternate shapes of garbage */
			uint8_t b[16] = {0x93, (uint8_t)(i % 3 ? 0x01 : 0x07), 0x63, 0x00};
			len = (size_t)(i % 7) + 2;
			if (send_all(fd, b, len) == 0)
				sent++;
			continue;
		}
		memset(&r, 0, sizeof(r));
		r.ts = now_ns();
		if (i % 2 == 0) {
			r.type = HT_REC_PIPE;
			r.fd = 100;
			r.fd2 = 101;
			r.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 9000000 + (uint64_t)i};
		} else {
			r.type = HT_REC_CLOSERANGE;
			r.fd = 100;
			r.fd2 = 101;
		}
		len = ht_record_encode(&r, buf, sizeof(buf));
		if (send_all(fd, buf, len) == 0)
			sent++;
	}
	uint64_t dt = now_ns() - t0;
	printf("sent %ld ns %llu\n", sent, (unsigned long long)dt);
	for (long i = 0; i < conns; i++)
		close(fds[i]);
	return 0;
}
