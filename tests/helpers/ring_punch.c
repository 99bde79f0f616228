/*
 * ring_punch — the hole-punch attack on the ring transport
 * (tests/func/attack_ring_punch.sh). Run as an unprivileged user:
 *
 *   ring_punch N
 *
 * registers N rings with the collector (N processes, each registering its
 * own, as the shim does: the memfd sealed HT_RING_SEALS_NEEDED, its first
 * record with it on a connection to the ring socket) and keeps every memfd.
 * Prints "ready PID" and spins; on SIGUSR1 it punches holes
 * (fallocate PUNCH_HOLE) in all of them in a loop instead, which — where
 * the kernel lets it — zaps the collector's page tables so that each touch
 * of a ring in a drain round faults and allocates a page. On SIGTERM it
 * prints how many punches the kernel allowed and refused, and exits with its
 * registrants.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "hoptrace/record.h"
#include "hoptrace/ring.h"

static volatile sig_atomic_t g_punch, g_stop;
static void on_usr1(int s) { (void)s; g_punch = 1; }
static void on_term(int s) { (void)s; g_stop = 1; }

/* one registrant: its ring's memfd and a first record, as the shim sends them */
static void registrant(int fd)
{
	static const char name[] = "\0" HT_REC_SOCKET HT_REC_RING_SUFFIX;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, name, sizeof(name) - 1);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(name) - 1)) != 0)
		_exit(2);
	signal(SIGTERM, SIG_DFL);
	uint8_t rec[] = {0x94, 0x01, 13, 0x01, 99}; /* as tests/func/attack_ring.sh's first records */
	struct iovec iov = {rec, sizeof(rec)};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cb;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			    .msg_controllen = sizeof(cb.b)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(s, &mh, 0) != (ssize_t)sizeof(rec))
		_exit(2);
	close(s);
	close(fd);
	for (;;)
		pause(); /* alive: the ring stays registered */
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1024;
	if (n < 1) {
		fprintf(stderr, "usage: ring_punch N\n");
		return 2;
	}
	int *fds = calloc((size_t)n, sizeof(int));
	if (!fds)
		return 2;
	setpgid(0, 0);
	signal(SIGTERM, SIG_IGN);
	for (int i = 0; i < n; i++) {
		int fd = (int)syscall(SYS_memfd_create, "hoptrace", MFD_CLOEXEC | MFD_ALLOW_SEALING);
		void *p;
		if (fd < 0 || ftruncate(fd, HT_RING_SIZE) != 0 ||
		    (p = mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
			perror("ring_punch: memfd");
			return 2;
		}
		ht_ring_init(p);
		munmap(p, HT_RING_SIZE);
		if (fcntl(fd, F_ADD_SEALS, HT_RING_SEALS_NEEDED) != 0) {
			perror("ring_punch: seals");
			return 2;
		}
		pid_t k = fork();
		if (k < 0) {
			perror("ring_punch: fork");
			return 2;
		}
		if (k == 0)
			registrant(fd);
		fds[i] = fd;
	}
	signal(SIGUSR1, on_usr1);
	signal(SIGTERM, on_term);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	unsigned long long ok = 0, refused = 0, other = 0;
	while (!g_stop) {
		if (!g_punch) {
			for (volatile int z = 0; z < 100000; z++)
				;
			continue;
		}
		for (int i = 0; i < n && !g_stop; i++) {
			if (fallocate(fds[i], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, HT_RING_SIZE) == 0)
				ok++;
			else if (errno == EPERM)
				refused++;
			else
				other++;
		}
	}
	printf("punches allowed %llu refused %llu failed otherwise %llu\n", ok, refused, other);
	fflush(stdout);
	kill(0, SIGKILL); /* the registrants and us */
	return 0;
}
