/* kiter_test.c — collector/kiter.c (the kernel pass for a pipe's holders,
 * and for one process's table: the same entries as procfs_fds)
 * against real processes, beside procfs_pipe_holders_scan: the same holders,
 * every one (the owner's first), none of another network namespace, a
 * thread's shared table once, the budget's cut said. Needs root and BPF
 * (iter/task_file): skipped, saying so, without them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hoptrace/procfs.h"
#include "hoptrace/record.h"
#include "../../collector/kiter.h"
#include "test.h"

#define MAXH 64
struct holders {
	int n;
	pid_t pid[MAXH];
	int fd[MAXH];
};

static int holder_cb(void *ctx, pid_t pid, int fd)
{
	struct holders *h = ctx;
	if (h->n < MAXH) {
		h->pid[h->n] = pid;
		h->fd[h->n] = fd;
	}
	h->n++;
	return 0;
}

static int has(const struct holders *h, pid_t pid, int fd)
{
	int k = 0;
	for (int i = 0; i < h->n && i < MAXH; i++)
		k += h->pid[i] == pid && h->fd[i] == fd;
	return k;
}

static uint64_t my_netns(void)
{
	struct stat sb;
	return stat("/proc/self/ns/net", &sb) == 0 ? (uint64_t)sb.st_ino : 0;
}

static struct kiter *open_or_skip(void)
{
	char why[256];
	struct kiter *ki = kiter_open(my_netns(), why, sizeof(why));
	if (ki)
		return ki;
	/* not built, not root, or the kernel refuses the load: skipped; a
	 * program that loads and then fails its self-test is a failure */
	if (geteuid() != 0 || !strncmp(why, "built without", 13) || !strncmp(why, "load", 4))
		printf("    skipped: no kernel pass here (%s)\n", why);
	else
		CHECK(!why[0]);
	return NULL;
}

/* a child that keeps fd keep (closing drop), in a new network namespace
 * when newns, as uid when uid != 0; it says it is ready on rdy */
static pid_t holder(int keep, int drop, int newns, uid_t uid, int rdy)
{
	pid_t k = fork();
	if (k != 0)
		return k;
	if (drop >= 0)
		close(drop);
	if (newns && unshare(CLONE_NEWNET) != 0)
		_exit(1);
	if (uid && setresuid(uid, uid, uid) != 0)
		_exit(1);
	(void)keep;
	char c = 'r';
	if (write(rdy, &c, 1) != 1)
		_exit(1);
	pause();
	_exit(0);
}

static void test_pipe_every_holder(void)
{
	struct kiter *ki = open_or_skip();
	if (!ki)
		return;
	int p[2], r[2];
	struct stat sb;
	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(pipe(r), 0);
	pid_t a = holder(p[1], p[0], 0, 0, r[1]);     /* the write end only */
	pid_t b = holder(p[0], -1, 1, 0, r[1]);       /* another netns: another host */
	pid_t c = holder(p[0], p[1], 0, 65534, r[1]); /* another uid's, the read end */
	char ch;
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(read(r[0], &ch, 1), 1);
	fstat(p[0], &sb);
	struct procfs_scan s = {.owner = getuid(), .netns = my_netns()};
	struct holders h = {0};
	CHECK_EQ_INT(kiter_pipe_holders(ki, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(s.incomplete, 0);
	CHECK_EQ_INT(s.pass, 1);
	CHECK_EQ_INT(has(&h, getpid(), p[0]), 1);
	CHECK_EQ_INT(has(&h, getpid(), p[1]), 1);
	CHECK_EQ_INT(has(&h, a, p[1]), 1);
	CHECK_EQ_INT(has(&h, a, p[0]), 0);
	CHECK_EQ_INT(has(&h, c, p[0]), 1);
	CHECK_EQ_INT(has(&h, b, p[0]) + has(&h, b, p[1]), 0);
	CHECK_EQ_INT(h.n, 4);
	/* the owner's first: the other uid's last */
	CHECK(h.n == 4 && h.pid[3] == c);
	/* /proc's one pass over everything finds no other */
	struct procfs_scan ps = {.owner = (uid_t)-1, .netns = my_netns()};
	struct holders hp = {0};
	CHECK_EQ_INT(procfs_pipe_holders_scan((uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &ps, holder_cb, &hp), 0);
	/* (c, made non-dumpable by its setresuid, shows a root-owned fd
	 * directory under its own /proc entry: /proc's single pass skips it) */
	CHECK(hp.n >= 3);
	for (int i = 0; i < hp.n && i < MAXH; i++)
		CHECK_EQ_INT(has(&h, hp.pid[i], hp.fd[i]), 1);
	/* another pipe: none of these */
	int q[2];
	CHECK_EQ_INT(pipe(q), 0);
	fstat(q[0], &sb);
	struct holders hq = {0};
	CHECK_EQ_INT(kiter_pipe_holders(ki, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &s, holder_cb, &hq), 0);
	CHECK_EQ_INT(hq.n, 2);
	CHECK_EQ_INT(has(&hq, getpid(), q[0]) + has(&hq, getpid(), q[1]), 2);
	struct kiter_stats st;
	kiter_stats(ki, &st);
	CHECK_EQ_INT(st.fallbacks, 0);
	CHECK(st.passes >= 2);
	pid_t kids[3] = {a, b, c};
	for (int i = 0; i < 3; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	close(p[0]), close(p[1]), close(q[0]), close(q[1]), close(r[0]), close(r[1]);
	kiter_close(ki);
}

static void *sleeper(void *arg)
{
	int *fd = arg;
	while (read(*fd, &(char){0}, 1) > 0)
		;
	return NULL;
}

/* threads sharing the table: each fd once; a FIFO by its stat's numbers */
static void test_threads_and_fifo(void)
{
	struct kiter *ki = open_or_skip();
	if (!ki)
		return;
	char dir[] = "/tmp/kiter_fifoXXXXXX", path[64];
	struct stat sb;
	int p[2], w[2];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/q", dir);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	int f = open(path, O_RDWR | O_CLOEXEC);
	CHECK(f >= 0);
	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(pipe(w), 0);
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(pthread_create(&t[i], NULL, sleeper, &w[0]), 0);
	struct procfs_scan s = {.owner = getuid(), .netns = my_netns()};
	struct holders h = {0};
	fstat(p[0], &sb);
	CHECK_EQ_INT(kiter_pipe_holders(ki, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 2);
	CHECK_EQ_INT(has(&h, getpid(), p[0]), 1);
	h.n = 0;
	fstat(f, &sb);
	CHECK_EQ_INT(kiter_pipe_holders(ki, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 1);
	CHECK_EQ_INT(has(&h, getpid(), f), 1);
	/* a FIFO's device is its file system's: the same inode number on
	 * another device is not it */
	h.n = 0;
	CHECK_EQ_INT(kiter_pipe_holders(ki, (uint64_t)sb.st_dev + 1, (uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 0);
	close(w[1]);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	close(w[0]), close(p[0]), close(p[1]), close(f);
	unlink(path);
	rmdir(dir);
	kiter_close(ki);
}

/* a budget spent says so (never "no other holder"); a search for another
 * namespace than the iterator's is /proc's */
static void test_budget_and_fallback(void)
{
	struct kiter *ki = open_or_skip();
	if (!ki)
		return;
	int p[2];
	struct stat sb;
	CHECK_EQ_INT(pipe(p), 0);
	fstat(p[0], &sb);
	struct procfs_scan s = {.owner = getuid(), .netns = my_netns(), .cpu_deadline_ns = 1};
	struct holders h = {0};
	CHECK_EQ_INT(kiter_pipe_holders(ki, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(s.incomplete, 1);
	CHECK_EQ_INT(s.why, PROCFS_SCAN_BUDGET);
	struct kiter_stats st0, st1;
	kiter_stats(ki, &st0);
	CHECK_EQ_INT(st0.cut, 1);
	struct procfs_scan o = {.owner = getuid(), .netns = my_netns() + 1};
	h.n = 0;
	CHECK_EQ_INT(kiter_pipe_holders(ki, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &o, holder_cb, &h), 0);
	kiter_stats(ki, &st1);
	CHECK_EQ_INT(st1.passes, st0.passes); /* not the kernel's pass */
	CHECK_EQ_INT(h.n, 0);                 /* (we are not in that namespace) */
	/* without an iterator: /proc's search */
	struct procfs_scan n = {.owner = getuid(), .netns = my_netns()};
	h.n = 0;
	CHECK_EQ_INT(kiter_pipe_holders(NULL, (uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &n, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 2);
	close(p[0]), close(p[1]);
	kiter_close(ki);
}

struct fdset {
	int n;
	int fd[256];
	struct ht_chan c[256];
};

static int collect(void *ctx, int fd, const struct ht_chan *c)
{
	struct fdset *s = ctx;
	if (s->n < 256) {
		s->fd[s->n] = fd;
		s->c[s->n] = *c;
	}
	s->n++;
	return 0;
}

/* the same entries, in the same order, with the same keys */
static void same_sets(const struct fdset *a, const struct fdset *b)
{
	CHECK_EQ_INT(a->n, b->n);
	for (int i = 0; i < a->n && i < b->n && i < 256; i++) {
		CHECK_EQ_INT(a->fd[i], b->fd[i]);
		CHECK_EQ_INT(a->c[i].kind, b->c[i].kind);
		CHECK_EQ_INT(a->c[i].dev, b->c[i].dev);
		CHECK_EQ_INT(a->c[i].ino, b->c[i].ino);
	}
}

static void *thread_fds(void *arg)
{
	int *w = arg;
	char c;
	while (read(w[0], &c, 1) > 0)
		;
	return NULL;
}

/* kiter_fds against procfs_fds_until: this process's table with a socket, a
 * pipe, a FIFO, a pty's two ends, an eventfd and a file (neither a channel);
 * a process whose leader ended (a live thread's table); no such process */
static void test_fds_as_proc(void)
{
	struct kiter *ki = open_or_skip();
	if (!ki)
		return;
	char dir[] = "/tmp/kiter_fdsXXXXXX", path[64];
	int p[2], sv[2];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/q", dir);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	int f = open(path, O_RDWR | O_CLOEXEC);
	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int m = posix_openpt(O_RDWR | O_NOCTTY), sl = -1;
	if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0)
		sl = open(ptsname(m), O_RDWR | O_NOCTTY);
	int ev = eventfd(0, EFD_CLOEXEC), reg = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
	struct fdset a = {0}, b = {0};
	CHECK_EQ_INT(kiter_fds(ki, getpid(), 0, collect, &a), 0);
	CHECK_EQ_INT(procfs_fds_until(getpid(), 0, collect, &b), 0);
	same_sets(&a, &b);
	int kinds[8] = {0};
	for (int i = 0; i < a.n && i < 256; i++)
		if (a.c[i].kind < 8)
			kinds[a.c[i].kind]++;
	CHECK(kinds[HT_CHAN_SOCK] >= 2 && kinds[HT_CHAN_PIPE] >= 2);
	if (sl >= 0)
		CHECK(kinds[HT_CHAN_PTY] >= 2);
	for (int i = 0; i < a.n && i < 256; i++)
		CHECK(a.fd[i] != ev && a.fd[i] != reg);
	struct kiter_stats st;
	kiter_stats(ki, &st);
	CHECK_EQ_INT(st.fd_fallbacks, 0);
	CHECK(st.fd_reads >= 1);

	/* a child whose leader thread ended, a thread still running */
	int r[2], w[2];
	CHECK_EQ_INT(pipe(r), 0);
	CHECK_EQ_INT(pipe(w), 0);
	pid_t k = fork();
	if (k == 0) {
		pthread_t t;
		/* (a pty master's index: /proc's read of the table asks the
		 * ended leader's fdinfo, which has none — the kernel pass asks
		 * the thread's and finds it; not compared here) */
		if (m >= 0)
			close(m);
		if (pthread_create(&t, NULL, thread_fds, w) != 0)
			_exit(1);
		if (write(r[1], "x", 1) != 1)
			_exit(1);
		syscall(SYS_exit, 0); /* the leader alone */
	}
	char ch;
	CHECK_EQ_INT(read(r[0], &ch, 1), 1);
	usleep(100000);
	a.n = b.n = 0;
	CHECK_EQ_INT(kiter_fds(ki, k, 0, collect, &a), 0);
	CHECK_EQ_INT(procfs_fds_until(k, 0, collect, &b), 0);
	CHECK(a.n > 0);
	same_sets(&a, &b);
	kill(k, SIGKILL);
	waitpid(k, NULL, 0);
	/* gone: as /proc */
	a.n = 0;
	CHECK(kiter_fds(ki, k, 0, collect, &a) < 0);
	CHECK_EQ_INT(a.n, 0);
	/* a deadline already past: cut, said */
	a.n = 0;
	CHECK_EQ_INT(kiter_fds(ki, getpid(), 1, collect, &a), 1);

	close(r[0]), close(r[1]), close(w[0]), close(w[1]);
	close(p[0]), close(p[1]), close(sv[0]), close(sv[1]), close(f), close(ev), close(reg);
	if (sl >= 0)
		close(sl);
	if (m >= 0)
		close(m);
	unlink(path);
	rmdir(dir);
	kiter_close(ki);
}

T_MAIN("kiter", T(test_pipe_every_holder), T(test_threads_and_fifo), T(test_budget_and_fallback),
       T(test_fds_as_proc))
