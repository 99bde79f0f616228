/*
 * r15_creator_reuse — review 15 (tests/open/attack_review15_creator_reuse.sh):
 * a fork child whose creator has ended names that creator's pid, now another
 * process's, in its ring's first record. Static (no shim).
 *
 *   r15_creator_reuse fork DIR MODE HOST : forks C and exits (A). C writes
 *       "A C" to DIR/pids, waits for DIR/go, then execs itself as
 *       `img MODE A HOST`
 *   r15_creator_reuse img MODE A HOST : registers a ring whose registration
 *       datagram carries IMAGE(ppid A) (MODE image), BIRTH(creator A)
 *       (MODE birth) or IMAGE(ppid 1) (MODE ppid1, the control); after 1 s
 *       connects to HOST:22 and sleeps
 *   r15_creator_reuse spawn PID CMD... : (root) clone3 with set_tid PID (the
 *       pid reuse an unprivileged attacker gets by cycling pids), the child
 *       execs CMD; waits for it
 *   r15_creator_reuse cycle PID : (anyone; run it in `unshare -Urn`, whose
 *       forks this host's kernel events never report) forks children that
 *       exit at once until one has pid PID-1: the next fork on the machine
 *       gets PID
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/record.h"
#include "hoptrace/ring.h"

static size_t put_u(uint8_t *b, uint64_t v)
{
	if (v < 128) {
		b[0] = (uint8_t)v;
		return 1;
	}
	b[0] = 0xcf;
	for (int i = 0; i < 8; i++)
		b[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	return 9;
}

static size_t put_s(uint8_t *b, const char *s)
{
	size_t n = strlen(s);
	if (n > 200)
		n = 200;
	b[0] = 0xd9;
	b[1] = (uint8_t)n;
	memcpy(b + 2, s, n);
	return n + 2;
}

static uint64_t mono(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static uint64_t my_start_ns(void)
{
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	unsigned long long st = 0;
	for (int f = 0; p && f < 20; f++)
		p = strchr(p + 1, ' ');
	if (p)
		st = strtoull(p + 1, NULL, 10);
	return st * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
}

static int reg(const uint8_t *rec, size_t len)
{
	int fd = (int)syscall(SYS_memfd_create, "hoptrace", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	void *p;
	if (fd < 0 || ftruncate(fd, HT_RING_SIZE) != 0 ||
	    (p = mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		return -1;
	ht_ring_init(p);
	if (fcntl(fd, F_ADD_SEALS, HT_RING_SEALS_NEEDED) != 0)
		return -1;
	static const char name[] = "\0" HT_REC_SOCKET HT_REC_RING_SUFFIX;
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, name, sizeof(name) - 1);
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a,
			     (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(name) - 1)) != 0)
		return -1;
	struct iovec iov = {(void *)rec, len};
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
	if (sendmsg(s, &mh, 0) != (ssize_t)len)
		return -1;
	close(s);
	return fd; /* (kept: the ring stays ours) */
}

static int img(const char *mode, pid_t a, const char *host)
{
	uint8_t rec[600];
	size_t n = 0;
	int birth = !strcmp(mode, "birth");
	rec[n++] = (uint8_t)(0x90 | (birth ? 5 : 6));
	n += put_u(rec + n, 1);
	n += put_u(rec + n, birth ? HT_REC_BIRTH : HT_REC_IMAGE);
	n += put_u(rec + n, mono());
	n += put_u(rec + n, (uint64_t)(!strcmp(mode, "ppid1") ? 1 : a));
	if (birth) {
		n += put_u(rec + n, my_start_ns());
	} else {
		char exe[256];
		ssize_t k = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[k > 0 ? k : 0] = 0;
		n += put_s(rec + n, exe);
		n += put_s(rec + n, "r15_creator_reuse");
	}
	if (reg(rec, n) < 0) {
		perror("r15_creator_reuse: register");
		return 2;
	}
	sleep(1);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(22)};
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("r15_creator_reuse: connect");
		return 2;
	}
	fprintf(stderr, "r15: pid %d connected (mode %s, named creator %d)\n", (int)getpid(), mode, (int)a);
	sleep(600);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "fork")) {
		pid_t a = getpid(), c = fork();
		if (c < 0)
			return 2;
		if (c > 0)
			_exit(0); /* A ends at once: its pid is free when reaped */
		char path[512], tmp[600];
		snprintf(path, sizeof(path), "%s/pids", argv[2]);
		snprintf(tmp, sizeof(tmp), "%s.t", path);
		FILE *f = fopen(tmp, "w");
		if (!f)
			return 2;
		fprintf(f, "%d %d\n", (int)a, (int)getpid());
		fclose(f);
		rename(tmp, path);
		snprintf(path, sizeof(path), "%s/go", argv[2]);
		for (int i = 0; i < 600 && access(path, F_OK) != 0; i++)
			usleep(100000);
		char as[16];
		snprintf(as, sizeof(as), "%d", (int)a);
		execl("/proc/self/exe", argv[0], "img", argv[3], as, argv[4], (char *)NULL);
		return 2;
	}
	if (argc >= 5 && !strcmp(argv[1], "img"))
		return img(argv[2], (pid_t)atoi(argv[3]), argv[4]);
	if (argc >= 4 && !strcmp(argv[1], "spawn")) {
		pid_t want = (pid_t)atoi(argv[2]);
		struct clone_args ca;
		memset(&ca, 0, sizeof(ca));
		ca.exit_signal = SIGCHLD;
		ca.set_tid = (uint64_t)(uintptr_t)&want;
		ca.set_tid_size = 1;
		long k = syscall(SYS_clone3, &ca, sizeof(ca));
		if (k < 0) {
			perror("r15_creator_reuse: clone3 set_tid");
			return 2;
		}
		if (k == 0) {
			execvp(argv[3], argv + 3);
			_exit(127);
		}
		int st;
		waitpid((pid_t)k, &st, 0);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "cycle")) {
		pid_t want = (pid_t)atoi(argv[2]) - 1;
		for (long i = 0; i < 200000; i++) {
			pid_t k = fork();
			if (k < 0)
				return 2;
			if (k == 0)
				_exit(0);
			waitpid(k, NULL, 0);
			if (k == want)
				return 0;
		}
		return 1;
	}
	fprintf(stderr, "usage: r15_creator_reuse fork DIR MODE HOST | img MODE A HOST | spawn PID CMD...\n");
	return 2;
}
