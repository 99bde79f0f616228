/*
 * atk_flood — the record-flood attack of issue 10 (defect 5): send the
 * collector well-formed records as fast as it takes them.
 *
 *   atk_flood [-k open|churn|pipe] [-n N] [-c CONNS] [-f FORKS] [-T SECONDS] NAME
 *
 * NAME: the record socket ("name" = abstract, "/path" = a path socket).
 * Every process (this one, or FORKS children with the same uid) opens CONNS
 * connections, announces itself with an IMAGE, then sends N records round
 * robin over them, waiting (poll) while a connection is full — at most
 * SECONDS (default 30) in all. KIND:
 *   open   (default) OPEN of a new FIFO inode on a new fd each time: the
 *          process seems to hold ever more channels;
 *   churn  OPEN / DUP / CLOSE in turn on a few fds;
 *   pipe   PIPE of a new pipe inode each time, never closed;
 *   spin   no records at all: the CPU load of the flooders alone (a bench's
 *          baseline).
 * Prints "sent S" (the sum over all processes). SIGTERM ends the children too.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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
	socklen_t l;
	if (n > sizeof(sa.sun_path) - 2)
		return -1;
	if (name[0] == '/') {
		memcpy(sa.sun_path, name, n);
		l = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	} else {
		memcpy(sa.sun_path + 1, name, n);
		l = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	}
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, l) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static uint64_t deadline;
static pid_t kids[512];
static int nkids;

static void on_term(int sig)
{
	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int send_wait(int fd, const void *b, size_t n)
{
	for (;;) {
		if (send(fd, b, n, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)n)
			return 0;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (now_ns() > deadline)
			return -1;
		struct pollfd p = {fd, POLLOUT, 0};
		poll(&p, 1, 50);
	}
}

static long flood(const char *name, const char *kind, long n, int conns, unsigned seed)
{
	int fds[256];
	if (!strcmp(kind, "spin")) { /* no records: the same CPU load alone */
		volatile unsigned long x = 0;
		while (now_ns() < deadline)
			for (int i = 0; i < 100000; i++)
				x++;
		return 0;
	}
	for (int i = 0; i < conns; i++)
		if ((fds[i] = dial(name)) < 0) {
			perror("atk_flood: connect");
			return 0;
		}
	uint8_t b[HT_REC_MAX];
	struct ht_enc e;
	ht_enc_init(&e, b, sizeof(b));
	ht_enc_head(&e, HT_REC_IMAGE, now_ns(), 3);
	ht_enc_int(&e, getppid());
	ht_enc_str(&e, "/proc/self/exe");
	ht_enc_str(&e, "atk_flood");
	send_wait(fds[0], e.buf, e.len);
	long sent = 0;
	uint64_t ino = 7000000000ULL + (uint64_t)seed * 100000000ULL;
	for (long i = 0; i < n; i++) {
		ht_enc_init(&e, b, sizeof(b));
		struct ht_chan c = {HT_CHAN_FIFO, 42, ino + (uint64_t)i};
		if (!strcmp(kind, "pipe")) {
			c.kind = HT_CHAN_PIPE;
			ht_enc_head(&e, HT_REC_PIPE, now_ns(), 3);
			ht_enc_int(&e, 3 + (i % 60000) * 2);
			ht_enc_int(&e, 4 + (i % 60000) * 2);
			ht_enc_chan(&e, &c);
		} else if (!strcmp(kind, "churn")) {
			int fd = 10 + (int)(i / 3 % 8);
			switch (i % 3) {
			case 0:
				ht_enc_head(&e, HT_REC_OPEN, now_ns(), 2);
				ht_enc_int(&e, fd);
				ht_enc_chan(&e, &c);
				break;
			case 1:
				ht_enc_head(&e, HT_REC_DUP, now_ns(), 2);
				ht_enc_int(&e, fd);
				ht_enc_int(&e, fd + 100);
				break;
			default:
				ht_enc_head(&e, HT_REC_CLOSE, now_ns(), 1);
				ht_enc_int(&e, fd);
				break;
			}
		} else {
			ht_enc_head(&e, HT_REC_OPEN, now_ns(), 2);
			ht_enc_int(&e, 3 + (i % 1000000));
			ht_enc_chan(&e, &c);
		}
		if (send_wait(fds[i % conns], e.buf, e.len) != 0)
			break;
		sent++;
	}
	return sent;
}

int main(int argc, char **argv)
{
	const char *kind = "open";
	long n = 120000;
	int conns = 1, forks = 0, secs = 30, ch;
	while ((ch = getopt(argc, argv, "k:n:c:f:T:")) != -1) {
		switch (ch) {
		case 'k': kind = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'c': conns = atoi(optarg); break;
		case 'f': forks = atoi(optarg); break;
		case 'T': secs = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || n < 1 || conns < 1 || conns > 256 || forks < 0 || forks > 512)
		goto usage;
	deadline = now_ns() + (uint64_t)secs * 1000000000ULL;
	if (!forks) {
		printf("sent %ld\n", flood(argv[optind], kind, n, conns, 0));
		return 0;
	}
	long *tot = mmap(NULL, sizeof(long) * (size_t)forks, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (tot == MAP_FAILED)
		return 1;
	signal(SIGTERM, on_term); /* SIGTERM ends the children too */
	for (int i = 0; i < forks; i++) {
		pid_t p = fork();
		if (p == 0) {
			signal(SIGTERM, SIG_DFL);
			tot[i] = flood(argv[optind], kind, n, conns, (unsigned)i + 1);
			_exit(0);
		}
		if (p > 0)
			kids[nkids++] = p;
	}
	while (wait(NULL) > 0)
		;
	long s = 0;
	for (int i = 0; i < forks; i++)
		s += tot[i];
	printf("sent %ld\n", s);
	return 0;
usage:
	fprintf(stderr, "usage: atk_flood [-k open|churn|pipe] [-n N] [-c CONNS] [-f FORKS] "
			"[-T SECONDS] NAME\n");
	return 2;
}
