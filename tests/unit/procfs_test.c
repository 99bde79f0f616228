/* procfs_test.c — common/procfs.c against the real /proc and a fake tree */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "hoptrace/procfs.h"
#include "test.h"

#define NFD 64
struct fdset {
	int n;
	int fd[NFD];
	struct ht_chan c[NFD];
};

static int collect(void *ctx, int fd, const struct ht_chan *c)
{
	struct fdset *s = ctx;
	if (s->n < NFD) {
		s->fd[s->n] = fd;
		s->c[s->n] = *c;
		s->n++;
	}
	return 0;
}

static const struct ht_chan *find(const struct fdset *s, int fd)
{
	for (int i = 0; i < s->n; i++)
		if (s->fd[i] == fd)
			return &s->c[i];
	return NULL;
}

static void test_self_identity(void)
{
	struct procfs_stat st;
	char buf[PATH_MAX], want[PATH_MAX];
	uint64_t ns = 0;
	struct stat sb;
	ssize_t r;

	procfs_set_root(NULL);
	CHECK_EQ_INT(procfs_stat(getpid(), &st), 0);
	CHECK_EQ_INT(st.pid, getpid());
	CHECK_EQ_INT(st.ppid, getppid());
	CHECK_EQ_INT(st.state, 'R');
	char comm[64] = "";
	FILE *cf = fopen("/proc/self/comm", "r");
	CHECK(cf && fgets(comm, sizeof(comm), cf));
	if (cf)
		fclose(cf);
	comm[strcspn(comm, "\n")] = '\0';
	CHECK_EQ_STR(st.comm, comm);
	CHECK_EQ_INT(st.uid, getuid());
	CHECK(st.starttime > 0);
	CHECK_EQ_INT(procfs_stat(1, &st), 0);
	CHECK_EQ_INT(st.pid, 1);
	CHECK_EQ_INT(st.ppid, 0);
	CHECK_EQ_INT(procfs_stat(INT_MAX - 1, &st), -ENOENT);

	r = readlink("/proc/self/exe", want, sizeof(want) - 1);
	CHECK(r > 0);
	want[r > 0 ? r : 0] = '\0';
	CHECK_EQ_INT(procfs_exe(getpid(), buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, want);
	CHECK_EQ_INT(procfs_exe(getpid(), buf, 3), -ENAMETOOLONG);
	CHECK_EQ_INT(procfs_argv0(getpid(), buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, program_invocation_name);
	CHECK_EQ_INT(procfs_argv0(getpid(), buf, 4), 0);
	CHECK_EQ_INT(strlen(buf), 3);
	CHECK_EQ_INT(procfs_netns(getpid(), &ns), 0);
	CHECK_EQ_INT(stat("/proc/self/ns/net", &sb), 0);
	CHECK(ns == (uint64_t)sb.st_ino);
	CHECK_EQ_INT(procfs_netns(INT_MAX - 1, &ns), -ENOENT);
}

static void test_self_fds(void)
{
	int p[2], sp[2], m, s, ff;
	char dir[] = "/tmp/procfs_testXXXXXX", fifo[PATH_MAX];
	struct stat sb;
	struct fdset set = {0};
	const struct ht_chan *c;

	procfs_set_root(NULL);
	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(m >= 0);
	CHECK_EQ_INT(grantpt(m), 0);
	CHECK_EQ_INT(unlockpt(m), 0);
	const char *sn = ptsname(m);
	CHECK(sn != NULL);
	s = open(sn ? sn : "/nonexistent", O_RDWR | O_NOCTTY);
	CHECK(s >= 0);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/f", dir);
	CHECK_EQ_INT(mkfifo(fifo, 0600), 0);
	ff = open(fifo, O_RDWR);
	CHECK(ff >= 0);

	CHECK_EQ_INT(procfs_fds(getpid(), collect, &set), 0);

	fstat(p[0], &sb);
	c = find(&set, p[0]);
	CHECK(c && c->kind == HT_CHAN_PIPE && c->ino == (uint64_t)sb.st_ino &&
	      c->dev == (uint64_t)sb.st_dev);
	c = find(&set, p[1]);
	CHECK(c && c->kind == HT_CHAN_PIPE && c->ino == (uint64_t)sb.st_ino);

	fstat(sp[0], &sb);
	c = find(&set, sp[0]);
	CHECK(c && c->kind == HT_CHAN_SOCK && c->ino == (uint64_t)sb.st_ino && c->dev == 0);
	fstat(sp[1], &sb);
	c = find(&set, sp[1]);
	CHECK(c && c->kind == HT_CHAN_SOCK && c->ino == (uint64_t)sb.st_ino);

	int idx = -1;
	if (sn)
		sscanf(sn, "/dev/pts/%d", &idx);
	CHECK(idx >= 0);
	c = find(&set, m);
	CHECK(c && c->kind == HT_CHAN_PTY && c->ino == (uint64_t)idx && c->dev == 0);
	c = find(&set, s);
	CHECK(c && c->kind == HT_CHAN_PTY && c->ino == (uint64_t)idx);

	fstat(ff, &sb);
	c = find(&set, ff);
	CHECK(c && c->kind == HT_CHAN_FIFO && c->ino == (uint64_t)sb.st_ino &&
	      c->dev == (uint64_t)sb.st_dev);

	/* a FIFO named like pipefs's links ("pipe:[INO]", which a pipe is read by
	 * without a stat) links to its path: still the FIFO, with its own device */
	char fake[200];
	snprintf(fake, sizeof(fake), "%s/pipe:[%llu]", dir, (unsigned long long)sb.st_ino + 1);
	CHECK_EQ_INT(mkfifo(fake, 0600), 0);
	int ff2 = open(fake, O_RDWR);
	CHECK(ff2 >= 0);
	struct fdset set2 = {0};
	CHECK_EQ_INT(procfs_fds(getpid(), collect, &set2), 0);
	struct stat sb2;
	fstat(ff2, &sb2);
	c = find(&set2, ff2);
	CHECK(c && c->kind == HT_CHAN_FIFO && c->ino == (uint64_t)sb2.st_ino &&
	      c->dev == (uint64_t)sb2.st_dev);
	close(ff2);
	unlink(fake);

	/* regular files and stdio that is not a channel are skipped */
	int reg = open("/proc/self/stat", O_RDONLY);
	struct ht_chan one;
	CHECK_EQ_INT(procfs_fd_chan(getpid(), reg, &one), -ENOTSUP);
	CHECK_EQ_INT(procfs_fd_chan(getpid(), 9999, &one), -ENOENT);
	CHECK(find(&set, reg) == NULL);
	close(reg);


	close(p[0]);
	close(p[1]);
	close(sp[0]);
	close(sp[1]);
	close(m);
	close(s);
	close(ff);
	unlink(fifo);
	rmdir(dir);
}

struct holders {
	int n;
	pid_t pid[8];
	int fd[8];
};

static int holder_cb(void *ctx, pid_t pid, int fd)
{
	struct holders *h = ctx;
	if (h->n < 8) {
		h->pid[h->n] = pid;
		h->fd[h->n] = fd;
	}
	h->n++;
	return 0;
}

static int stop_cb(void *ctx, pid_t pid, int fd)
{
	(*(int *)ctx)++;
	return 7;
}

static void test_socket_holders(void)
{
	int sp[2];
	struct stat sb;
	struct holders h = {0};
	procfs_set_root(NULL);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	int d = dup(sp[0]);
	fstat(sp[0], &sb);
	CHECK_EQ_INT(procfs_socket_holders((uint64_t)sb.st_ino, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 2);
	for (int i = 0; i < h.n && i < 8; i++) {
		CHECK_EQ_INT(h.pid[i], getpid());
		CHECK(h.fd[i] == sp[0] || h.fd[i] == d);
	}
	int calls = 0;
	CHECK_EQ_INT(procfs_socket_holders((uint64_t)sb.st_ino, stop_cb, &calls), 7);
	CHECK_EQ_INT(calls, 1);
	h.n = 0;
	CHECK_EQ_INT(procfs_socket_holders(1, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 0);
	close(sp[0]);
	close(sp[1]);
	close(d);
}

/* ---- fake tree ------------------------------------------------------------ */

static char fake[64];

static void put(int pid, const char *name, const char *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%d", fake, pid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/%s", fake, pid, name);
	FILE *f = fopen(path, "w");
	fwrite(data, 1, len, f);
	fclose(f);
}

static void puts_(int pid, const char *name, const char *s)
{
	put(pid, name, s, strlen(s));
}

#define TAIL " 0 0 0 0 0 0 20 0 1 0 123456 1 2 3\n" /* fields 12.. */
static const char status_ok[] = "Name:\tx\nState:\tS\nUid:\t1000\t1001\t1002\t1003\nGid:\t0\n";

static void test_fake_stat(void)
{
	struct procfs_stat st;
	strcpy(fake, "/tmp/procfs_fakeXXXXXX");
	CHECK(mkdtemp(fake) != NULL);
	procfs_set_root(fake);

	/* hostile comm with ") " and " (" inside */
	puts_(10, "stat", "10 (a) b (c) S 7 10 10 34816 10 4194560 0 0" TAIL);
	puts_(10, "status", status_ok);
	CHECK_EQ_INT(procfs_stat(10, &st), 0);
	CHECK_EQ_INT(st.pid, 10);
	CHECK_EQ_STR(st.comm, "a) b (c");
	CHECK_EQ_INT(st.state, 'S');
	CHECK_EQ_INT(st.ppid, 7);
	CHECK_EQ_INT(st.starttime, 123456);
	CHECK_EQ_INT(st.uid, 1000);

	/* comm that looks like more fields: "x) R 99 99 (" */
	puts_(11, "stat", "11 (x) R 99 99 () Z 1 1 1 0 -1 0 0 0" TAIL);
	puts_(11, "status", status_ok);
	CHECK_EQ_INT(procfs_stat(11, &st), 0);
	CHECK_EQ_STR(st.comm, "x) R 99 99 (");
	CHECK_EQ_INT(st.state, 'Z');
	CHECK_EQ_INT(st.ppid, 1);
	CHECK_EQ_INT(st.starttime, 123456);

	/* empty comm, very long comm (truncated to 31) */
	puts_(12, "stat", "12 () S 1 1 1 0 -1 0 0 0" TAIL);
	puts_(12, "status", status_ok);
	CHECK_EQ_INT(procfs_stat(12, &st), 0);
	CHECK_EQ_STR(st.comm, "");
	puts_(13, "stat",
	      "13 (0123456789012345678901234567890123456789) S 1 1 1 0 -1 0 0 0" TAIL);
	puts_(13, "status", status_ok);
	CHECK_EQ_INT(procfs_stat(13, &st), 0);
	CHECK_EQ_STR(st.comm, "0123456789012345678901234567890");

	/* malformed stat files */
	static const char *const bad[] = {
		"",
		"14",
		"14 (trunc",
		"14 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 20 0 1", /* ends before field 22 */
		"14 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 20 0 1 ", /* ditto, trailing space */
		"14 (x) S",
		"14 (x) S 1",
		"14 (x)",
		"14 (x) SS 1 1 1 0 -1 0 0 0" TAIL,
		"14 (x)  1 1 1 0 -1 0 0 0" TAIL,
		"x4 (x) S 1 1 1 0 -1 0 0 0" TAIL,
		"14 (x) S -1 1 1 0 -1 0 0 0" TAIL,
		"14 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 20 0 1 9x 5\n",
		"14 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 0 20 0 1 99999999999999999999999 5\n",
		"14 x) S 1 1 1 0 -1 0 0 0" TAIL,
		")14 (x S 1 1 1 0 -1 0 0 0" TAIL,
		"\xff\xfe garbage \x01\x02",
	};
	puts_(14, "status", status_ok);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		puts_(14, "stat", bad[i]);
		int r = procfs_stat(14, &st);
		if (r != -EINVAL)
			fprintf(stderr, "    bad[%zu] -> %d\n", i, r);
		CHECK_EQ_INT(r, -EINVAL);
	}
	/* NUL bytes inside */
	static const char nul[] = "14 (a\0b) S 1 1 1 0 -1 0 0 0" TAIL;
	put(14, "stat", nul, sizeof(nul) - 1);
	CHECK_EQ_INT(procfs_stat(14, &st), -EINVAL);

	/* status problems */
	puts_(15, "stat", "15 (ok) S 1 1 1 0 -1 0 0 0" TAIL);
	CHECK_EQ_INT(procfs_stat(15, &st), -ENOENT); /* no status file */
	puts_(15, "status", "Name:\tx\nGid:\t0\n");
	CHECK_EQ_INT(procfs_stat(15, &st), -EINVAL);
	puts_(15, "status", "Name:\tx\nUid:\tabc\n");
	CHECK_EQ_INT(procfs_stat(15, &st), -EINVAL);
	puts_(15, "status", "Name:\tx\nUid:\t4294967296\t0\n");
	CHECK_EQ_INT(procfs_stat(15, &st), -EINVAL);
	puts_(15, "status", "Name:\tx\nUid:\t0");
	CHECK_EQ_INT(procfs_stat(15, &st), 0);
	CHECK_EQ_INT(st.uid, 0);

	/* a huge stat file is read only up to the buffer and then judged */
	char *big = malloc(20000);
	memset(big, 'a', 20000);
	memcpy(big, "16 (", 4);
	put(16, "stat", big, 20000);
	puts_(16, "status", status_ok);
	CHECK_EQ_INT(procfs_stat(16, &st), -EINVAL);
	free(big);

	CHECK_EQ_INT(procfs_stat(17, &st), -ENOENT);

	/* argv0 and exe in the fake tree */
	static const char cmd[] = "/usr/bin/ssh\0-p\0" "22\0";
	put(20, "cmdline", cmd, sizeof(cmd) - 1);
	char buf[256];
	CHECK_EQ_INT(procfs_argv0(20, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "/usr/bin/ssh");
	put(21, "cmdline", "", 0);
	CHECK_EQ_INT(procfs_argv0(21, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(procfs_argv0(22, buf, sizeof(buf)), -ENOENT);
	char lp[256];
	snprintf(lp, sizeof(lp), "%s/20/exe", fake);
	CHECK_EQ_INT(symlink("/usr/bin/ssh (deleted)", lp), 0);
	CHECK_EQ_INT(procfs_exe(20, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "/usr/bin/ssh");
	snprintf(lp, sizeof(lp), "%s/21/exe", fake);
	CHECK_EQ_INT(symlink("/bin/a b", lp), 0);
	CHECK_EQ_INT(procfs_exe(21, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "/bin/a b");
	CHECK_EQ_INT(procfs_fds(20, collect, &(struct fdset){0}), -ENOENT);

	char cmdline[256];
	snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", fake);
	CHECK_EQ_INT(system(cmdline), 0);
	procfs_set_root(NULL);
	CHECK_EQ_STR(procfs_root(), "/proc");
}


/* ---- the bounded holder search over a fake tree ------------------------------ */

/* A fake process: status with uids "r e s f", nfds fds 0..nfds-1 linking to
 * pipe:[1], and fd holdfd (if >= 0) to socket:[ino]. */
static void fake_proc(int pid, const char *uids, int nfds, int holdfd, uint64_t ino)
{
	char path[256], link[64], st[128];
	snprintf(st, sizeof(st), "Name:\tx\nUid:\t%s\nGid:\t0\t0\t0\t0\n", uids);
	puts_(pid, "status", st);
	snprintf(path, sizeof(path), "%s/%d/fd", fake, pid);
	mkdir(path, 0755);
	for (int fd = 0; fd < nfds; fd++) {
		snprintf(path, sizeof(path), "%s/%d/fd/%d", fake, pid, fd);
		if (fd == holdfd)
			snprintf(link, sizeof(link), "socket:[%llu]", (unsigned long long)ino);
		else
			snprintf(link, sizeof(link), "pipe:[1]");
		CHECK_EQ_INT(symlink(link, path), 0);
	}
}

/* as root: /proc/PID's owner (the euid of a dumpable process) */
static void fake_own(int pid, uid_t uid)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%d", fake, pid);
	CHECK_EQ_INT(chown(path, uid, 0), 0);
	snprintf(path, sizeof(path), "%s/%d/fd", fake, pid);
	CHECK_EQ_INT(chown(path, uid, 0), 0);
}

static uid_t refused_uid = (uid_t)-2;
static uint64_t charged_fds[4];
static int admit_fn(void *ctx, uid_t uid)
{
	(void)ctx;
	return uid != refused_uid;
}
static void charge_fn(void *ctx, uid_t uid, uint64_t ns, uint64_t fds)
{
	(void)ctx;
	(void)ns;
	charged_fds[uid == 7001 ? 1 : uid == 7002 ? 2 : uid == getuid() ? 3 : 0] += fds;
}

static void test_holders_scan(void)
{
	struct holders h = {0};
	uid_t me = getuid();
	char u[64];
	strcpy(fake, "/tmp/procfs_scanXXXXXX");
	CHECK(mkdtemp(fake) != NULL);
	procfs_set_root(fake);
	snprintf(u, sizeof(u), "%u\t%u\t%u\t%u", me, me, me, me);
	/* 10: the owner's, holds 4711 at fd 3; 11: uid 4242's, holds it too;
	 * 12: mixed (a setuid program run by the owner), holds 4712 */
	fake_proc(10, u, 5, 3, 4711);
	fake_proc(11, "4242\t4242\t4242\t4242", 5, 2, 4711);
	char mixed[64];
	snprintf(mixed, sizeof(mixed), "%u\t4243\t4243\t%u", me, me);
	fake_proc(12, mixed, 5, 1, 4712);

	/* the owner's process is found; the other uid's holder is not looked for */
	struct procfs_scan s = {.owner = me};
	CHECK_EQ_INT(procfs_holders_scan(4711, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 1);
	CHECK_EQ_INT(h.pid[0], 10);
	CHECK_EQ_INT(h.fd[0], 3);
	CHECK_EQ_INT(s.pass, 1);
	CHECK_EQ_INT(s.incomplete, 0);
	/* a mixed-uid process is not the owner's: found in pass 2 */
	h.n = 0;
	CHECK_EQ_INT(procfs_holders_scan(4712, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 1);
	CHECK_EQ_INT(h.pid[0], 12);
	CHECK_EQ_INT(s.pass, 2);
	/* no holder: every process read, complete */
	h.n = 0;
	CHECK_EQ_INT(procfs_holders_scan(9999, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 0);
	CHECK_EQ_INT(s.pass, 0);
	CHECK_EQ_INT(s.incomplete, 0);
	CHECK_EQ_INT(s.procs, 3);
	/* owner unknown: one pass over everything (both holders of 4711) */
	h.n = 0;
	struct procfs_scan any = {.owner = (uid_t)-1};
	CHECK_EQ_INT(procfs_holders_scan(4711, &any, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 2);
	/* the unbounded wrapper is the same */
	h.n = 0;
	CHECK_EQ_INT(procfs_socket_holders(4711, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 2);
	/* holders in the collector's network namespace only: 10's ns/net is
	 * "ours", 11's another's (another host), 12 shows none (gone) — only
	 * 10's fds are read */
	{
		char a[256], b[256], l[256];
		struct stat sa;
		snprintf(a, sizeof(a), "%s/netns-ours", fake);
		snprintf(b, sizeof(b), "%s/netns-other", fake);
		FILE *fa = fopen(a, "w"), *fb = fopen(b, "w");
		CHECK(fa && fb);
		if (fa)
			fclose(fa);
		if (fb)
			fclose(fb);
		CHECK_EQ_INT(stat(a, &sa), 0);
		for (int pid = 10; pid <= 11; pid++) {
			snprintf(l, sizeof(l), "%s/%d/ns", fake, pid);
			mkdir(l, 0755);
			snprintf(l, sizeof(l), "%s/%d/ns/net", fake, pid);
			CHECK_EQ_INT(symlink(pid == 10 ? a : b, l), 0);
		}
		h.n = 0;
		struct procfs_scan ns = {.owner = (uid_t)-1, .netns = (uint64_t)sa.st_ino};
		CHECK_EQ_INT(procfs_holders_scan(4711, &ns, holder_cb, &h), 0);
		CHECK_EQ_INT(h.n, 1);
		CHECK_EQ_INT(h.pid[0], 10);
		CHECK_EQ_INT(ns.procs, 1);
		CHECK_EQ_INT(ns.incomplete, 0);
	}

	/* a budget of fd entries: a big process (400 fds) and no holder among
	 * what fits — incomplete, nothing reported */
	fake_proc(20, "4242\t4242\t4242\t4242", 400, -1, 0);
	h.n = 0;
	struct procfs_scan b = {.owner = 5555, .max_fds = 64};
	CHECK_EQ_INT(procfs_holders_scan(4712, &b, holder_cb, &h), 0);
	CHECK(b.fds <= 64 + 32);
	if (h.n == 0) {
		CHECK_EQ_INT(b.incomplete, 1);
		CHECK_EQ_INT(b.why, PROCFS_SCAN_BUDGET);
	}
	/* a CPU deadline already past: incomplete at once */
	h.n = 0;
	struct procfs_scan c = {.owner = me, .cpu_deadline_ns = 1};
	CHECK_EQ_INT(procfs_holders_scan(4711, &c, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 0);
	CHECK_EQ_INT(c.incomplete, 1);
	/* a uid refused by admit (over its scan share): its processes are not
	 * read, and the search says it is incomplete */
	refused_uid = me;
	h.n = 0;
	struct procfs_scan r = {.owner = me, .admit = admit_fn, .charge = charge_fn};
	CHECK_EQ_INT(procfs_holders_scan(4711, &r, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 0);
	CHECK_EQ_INT(r.incomplete, 1);
	CHECK_EQ_INT(r.why, PROCFS_SCAN_REFUSED);
	refused_uid = (uid_t)-2;
	char cmd[300]; /* (the big process is not needed below) */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/20'", fake);
	CHECK_EQ_INT(system(cmd), 0);

	if (me == 0) {
		/* fair share across uids (needs chown): uid 7001's three big
		 * processes (pids 30..32) come before uid 7002's small holder
		 * (pid 40) in /proc's order; within a budget of 300 fds only a
		 * fair order reaches it */
		for (int pid = 30; pid <= 32; pid++) {
			fake_proc(pid, "7001\t7001\t7001\t7001", 200, -1, 0);
			fake_own(pid, 7001);
		}
		fake_proc(40, "7002\t7002\t7002\t7002", 3, 2, 4713);
		fake_own(40, 7002);
		fake_own(11, 4242);
		fake_own(12, 0); /* (non-dumpable: root's dir, status says whose) */
		h.n = 0;
		memset(charged_fds, 0, sizeof(charged_fds));
		struct procfs_scan f = {.owner = 5555, .max_fds = 300, .first_only = 1,
					.admit = admit_fn, .charge = charge_fn};
		CHECK_EQ_INT(procfs_holders_scan(4713, &f, holder_cb, &h), 0);
		CHECK_EQ_INT(h.n, 1);
		CHECK_EQ_INT(h.pid[0], 40);
		CHECK_EQ_INT(f.pass, 2);
		CHECK(f.fds < 300);
		CHECK_EQ_INT(charged_fds[2], 3); /* uid 7002 paid for its process */
		CHECK(charged_fds[1] <= 200);    /* 7001: at most one process read */
		/* the unbounded search in /proc's order reads 600 fds first */
		struct procfs_scan o = {.owner = (uid_t)-1, .max_fds = 300};
		h.n = 0;
		CHECK_EQ_INT(procfs_holders_scan(4713, &o, holder_cb, &h), 0);
		CHECK_EQ_INT(h.n, 0);
		CHECK_EQ_INT(o.incomplete, 1);
		/* root's socket: a non-dumpable process (root-owned dir) of
		 * another uid is not root's — it is read only in pass 2 */
		fake_proc(13, "4242\t4242\t4242\t4242", 5, 4, 4714);
		fake_own(13, 0);
		fake_proc(14, "0\t0\t0\t0", 5, 4, 4714);
		fake_own(14, 0);
		h.n = 0;
		struct procfs_scan rs = {.owner = 0};
		CHECK_EQ_INT(procfs_holders_scan(4714, &rs, holder_cb, &h), 0);
		CHECK_EQ_INT(h.n, 1);
		CHECK_EQ_INT(h.pid[0], 14);
		CHECK_EQ_INT(rs.pass, 1);
	} else {
		printf("  (fair share across uids: needs root for chown, skipped)\n");
	}

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake);
	CHECK_EQ_INT(system(cmd), 0);
	procfs_set_root(NULL);
}

/* the holders of a pipe and of a FIFO (found by its path link's stat), in
 * the real /proc: this process, at its fds; another FIFO's not */
static void test_pipe_holders_scan(void)
{
	char dir[] = "/tmp/procfs_fifoXXXXXX", path[64], other[64];
	struct stat sb;
	int p[2];
	procfs_set_root(NULL);
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/q", dir);
	snprintf(other, sizeof(other), "%s/r", dir);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	CHECK_EQ_INT(mkfifo(other, 0600), 0);
	int f = open(path, O_RDWR | O_CLOEXEC), o = open(other, O_RDWR | O_CLOEXEC);
	CHECK(f >= 0 && o >= 0);
	CHECK_EQ_INT(pipe(p), 0);
	struct procfs_scan s = {.owner = getuid()};
	struct holders h = {0};
	fstat(f, &sb);
	CHECK_EQ_INT(procfs_pipe_holders_scan((uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 1);
	CHECK_EQ_INT(h.pid[0], getpid());
	CHECK_EQ_INT(h.fd[0], f);
	CHECK_EQ_INT(s.pass, 1);
	h.n = 0;
	fstat(p[0], &sb);
	CHECK_EQ_INT(procfs_pipe_holders_scan((uint64_t)sb.st_dev, (uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 2); /* both ends */
	CHECK_EQ_INT(h.pid[0], getpid());
	/* a socket's search does not take a pipe of the same inode number */
	h.n = 0;
	CHECK_EQ_INT(procfs_holders_scan((uint64_t)sb.st_ino, &s, holder_cb, &h), 0);
	CHECK_EQ_INT(h.n, 0);
	close(p[0]);
	close(p[1]);
	close(f);
	close(o);
	unlink(path);
	unlink(other);
	rmdir(dir);
}

/* A read's CPU deadline counts every entry of the fd directory, not only the
 * channels the callback is given: a process with thousands of eventfds (no
 * channel, skipped at their link) once made one unbounded read (47 ms for
 * 20,000) however short the deadline. A deadline already passed stops the read
 * within 64 entries, before the pipe opened after 400 eventfds; none reads all. */
static void test_fds_deadline(void)
{
	int ev[400], n = 0, p[2];
	for (; n < 400; n++)
		if ((ev[n] = eventfd(0, 0)) < 0)
			break;
	CHECK_EQ_INT(n, 400);
	CHECK_EQ_INT(pipe(p), 0);
	struct fdset set = {0};
	CHECK_EQ_INT(procfs_fds_until(getpid(), procfs_cpu_ns(), collect, &set), 1);
	CHECK(find(&set, p[0]) == NULL);
	set.n = 0;
	CHECK_EQ_INT(procfs_fds_until(getpid(), 0, collect, &set), 0);
	CHECK(find(&set, p[0]) != NULL && find(&set, p[1]) != NULL);
	set.n = 0;
	CHECK_EQ_INT(procfs_fds_until(getpid(), procfs_cpu_ns() + 10000000000ULL, collect, &set), 0);
	CHECK(find(&set, p[0]) != NULL);
	while (n > 0)
		close(ev[--n]);
	close(p[0]);
	close(p[1]);
}

T_MAIN("procfs", T(test_self_identity), T(test_self_fds), T(test_socket_holders),
       T(test_fake_stat), T(test_holders_scan), T(test_pipe_holders_scan), T(test_fds_deadline))
