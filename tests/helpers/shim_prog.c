/*
 * shim_prog — programs that stress the shim's hooks; each mode prints the same
 * stdout with and without the shim (tests/func/shim_robustness.sh compares).
 *
 *   shim_prog threads N    4 threads fork+exec (execl echo) N times each
 *   shim_prog sigstorm N   close/pipe/dup2/connect in a SIGALRM handler firing
 *                          every 100 us while the main loop does the same;
 *                          checks errno is kept across hooks
 *   shim_prog clobber      dup2()s /dev/null over every fd (incl. the shim's),
 *                          closefrom(3), then keeps working
 *   shim_prog spawners     popen, system, posix_spawnp, forkpty, daemon,
 *                          execvp/execlp/execle/execv, SCM_RIGHTS, FIFO, ptmx
 *   shim_prog connect      TCP (and IPv6 if present) connect+accept on loopback
 *   shim_prog fdlist       lists its descriptors (/proc/self/fd and a
 *                          closefrom-style fcntl loop) at start, after pipes,
 *                          sockets and a fork, and in an exec'd child
 *   shim_prog forkwin S    four processes, each a thread making pipes and
 *                          non-blocking TCP connects to 192.0.2.1 (records and
 *                          the doorbell; registration retried every second with
 *                          no collector) while its main thread forks for S
 *                          seconds; every fork child looks for a unix socket or
 *                          memfd it never opened (the shim's momentary
 *                          descriptors copied by the fork: docs/shim.md "Safety
 *                          rules")
 *   shim_prog sandbox      installs a seccomp filter that kills the process on
 *                          socket() or memfd_create() (as sshd's preauth child
 *                          does, with prctl), then makes pipes for 1.5 s: the
 *                          shim must open nothing after it (no registration, no
 *                          momentary connection)
 *   shim_prog sandbox_sys  the same filter installed by syscall(SYS_seccomp)
 *                          (libseccomp's way), then pipes and a fork child
 *                          that makes a pipe: its exit status
 *   shim_prog sandbox_exec the same filter by prctl, then an exec of itself
 *                          (the new image inherits a filter its shim never saw
 *                          installed) that makes pipes and a fork child
 *   shim_prog fdrace S     one thread opens /dev/null again and again and
 *                          checks it gets the lowest free number, while another
 *                          makes records and non-blocking TCP connects to
 *                          192.0.2.1 (the doorbell) for S seconds: the shim's
 *                          momentary descriptors must never take a number the
 *                          program gets (docs/shim.md "What the program can
 *                          observe")
 *   shim_prog vforkexec    a vfork child sets up its descriptors as CPython's
 *                          subprocess does (closes three pipe ends, dup2,
 *                          close_range(3, ~0U)) and execs /bin/true
 *   shim_prog vforkwin N [GAP_US]  (GAP_US: a pause after each child)
 *                          N times a vfork child does vforkexec's set-up and
 *                          execs /bin/cat (until its stdin pipe ends); the parent reads the child's
 *                          /proc/PID/cmdline at once (psutil does): stdout says
 *                          only N; stderr "vforkwin: resume_us P50 P90 visible_us
 *                          P50 P90 early K late L" (vfork to the parent's
 *                          return, to the child's argv in /proc; K first reads
 *                          that found no argv yet, L children whose argv came
 *                          more than 1 ms after the parent's return): the
 *                          window the shim must not widen
 *   shim_prog fdlimit N    lowers RLIMIT_NOFILE to N, then (itself and in an
 *                          exec'd child) lists its descriptors and opens
 *                          /dev/null until EMFILE: how many, which numbers
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int die(const char *what)
{
	printf("FAIL %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

/* reads all of fd into buf (NUL-terminated), returns length */
static size_t slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n >= cap - 1)
			break;
	}
	buf[n] = '\0';
	return n;
}

/* ---------------------------------------------------------------- threads */

static int g_iters;

static void *thr(void *arg)
{
	long ok = 0;
	(void)arg;
	for (int i = 0; i < g_iters; i++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) != 0)
			continue;
		pid_t c = fork();
		if (c == 0) {
			dup2(p[1], 1);
			execl("/bin/echo", "echo", "x", (char *)NULL);
			_exit(127);
		}
		close(p[1]);
		char b[16];
		size_t n = slurp(p[0], b, sizeof(b));
		close(p[0]);
		int st;
		while (waitpid(c, &st, 0) < 0 && errno == EINTR)
			;
		if (c > 0 && n == 2 && b[0] == 'x' && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
	}
	return (void *)ok;
}

static int m_threads(int n)
{
	pthread_t t[4];
	long total = 0;
	g_iters = n;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, thr, NULL);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (long)r;
	}
	printf("threads ok %ld/%d\n", total, 4 * n);
	return total == 4L * n ? 0 : 1;
}

/* --------------------------------------------------------------- sigstorm */

static struct sockaddr_un g_un;
static socklen_t g_unlen;
static volatile sig_atomic_t g_sigs;

static void ops(void)
{
	int p[2];
	if (pipe(p) == 0) {
		dup2(p[0], p[1]);
		close(p[0]);
		close(p[1]);
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s >= 0) {
		connect(s, (struct sockaddr *)&g_un, g_unlen);
		close(s);
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	int e = errno;
	ops();
	g_sigs++;
	errno = e;
}

static int m_sigstorm(int n)
{
	int bad = 0;
	memset(&g_un, 0, sizeof(g_un));
	g_un.sun_family = AF_UNIX;
	snprintf(g_un.sun_path + 1, sizeof(g_un.sun_path) - 1, "shim_prog.%d", (int)getpid());
	g_unlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(g_un.sun_path + 1));
	int l = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&g_un, g_unlen) || listen(l, 64))
		die("listen");
	struct sigaction sa = { 0 };
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { { 0, 100 }, { 0, 100 } };
	setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < n; i++) {
		ops();
		int c;
		while ((c = accept(l, NULL, NULL)) >= 0)
			close(c);
		/* errno must survive successful and failing hooked calls */
		int p[2];
		errno = 4242;
		if (pipe(p) == 0) {
			if (errno != 4242)
				bad++;
			errno = 4343;
			close(p[0]);
			close(p[1]);
			if (errno != 4343)
				bad++;
		}
		errno = 0;
		if (close(-1) != -1 || errno != EBADF)
			bad++;
		errno = 0;
		if (dup2(-5, 100) != -1 || errno != EBADF)
			bad++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("sigstorm ok bad=%d signals=%s\n", bad, g_sigs > 0 ? "yes" : "no");
	return bad != 0;
}

/* ---------------------------------------------------------------- clobber */

static int echo_via_fork(const char *word)
{
	int p[2];
	if (pipe(p))
		return -1;
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execlp("echo", "echo", word, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char b[64];
	slurp(p[0], b, sizeof(b));
	close(p[0]);
	waitpid(c, NULL, 0);
	return strncmp(b, word, strlen(word)) == 0 ? 0 : -1;
}

static int m_clobber(void)
{
	int ok = 1;
	ok &= echo_via_fork("before") == 0; /* the shim connects here */
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	int max = rl.rlim_cur > 4096 ? 4096 : (int)rl.rlim_cur;
	int dn = open("/dev/null", O_RDWR);
	if (dn < 0)
		die("open /dev/null");
	for (int fd = 3; fd < max; fd++)
		if (fd != dn)
			dup2(dn, fd);
	/* hooked calls now find a foreign fd where the shim's socket was; the
	 * shim must forget it, not close it */
	ok &= echo_via_fork("middle") == 0;
	struct stat st, sn;
	fstat(dn, &sn);
	int kept = 0;
	for (int fd = 3; fd < max; fd++)
		if (fstat(fd, &st) == 0 && st.st_rdev == sn.st_rdev && S_ISCHR(st.st_mode))
			kept++;
	printf("clobber dup2 kept %s\n", kept == max - 3 ? "all" : "NOT all");
	closefrom(3);
	ok &= echo_via_fork("after") == 0;
	/* close_range over everything but stdio, then more work after the
	 * shim's reconnect delay */
	close_range(3, ~0u, 0);
	struct timespec ts = { 1, 300000000 };
	nanosleep(&ts, NULL);
	ok &= echo_via_fork("later") == 0;
	int p[2];
	ok &= pipe(p) == 0 && write(p[1], "z", 1) == 1;
	char c = 0;
	ok &= read(p[0], &c, 1) == 1 && c == 'z';
	printf("clobber %s\n", ok ? "ok" : "FAILED");
	return !ok;
}

/* --------------------------------------------------------------- spawners */

static int m_spawners(void)
{
	char buf[256];
	setvbuf(stdout, NULL, _IONBF, 0);

	FILE *f = popen("echo popen-out", "r");
	if (!f)
		die("popen");
	if (fgets(buf, sizeof(buf), f))
		printf("popen: %s", buf);
	printf("pclose: %d\n", pclose(f));

	printf("system: %d\n", system("echo system-out"));

	pid_t pid;
	char *av[] = { "echo", "spawn-out", NULL };
	if (posix_spawnp(&pid, "echo", NULL, NULL, av, environ) == 0) {
		int st;
		waitpid(pid, &st, 0);
		printf("spawnp status %d\n", WEXITSTATUS(st));
	}

	int m;
	pid = forkpty(&m, NULL, NULL, NULL);
	if (pid == 0) {
		execl("/bin/echo", "echo", "pty-out", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		die("forkpty");
	size_t n = 0;
	for (;;) {
		ssize_t r = read(m, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	close(m);
	waitpid(pid, NULL, 0);
	printf("forkpty: %s\n", strstr(buf, "pty-out") ? "pty-out" : "MISSING");

	int p[2];
	if (pipe(p))
		die("pipe");
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (daemon(1, 1) != 0)
			_exit(1);
		write(p[1], "daemon-out", 10);
		_exit(0);
	}
	close(p[1]);
	waitpid(pid, NULL, 0);
	slurp(p[0], buf, sizeof(buf));
	close(p[0]);
	printf("daemon: %s\n", buf);

	/* the exec family */
	const char *names[] = { "execvp", "execlp", "execle", "execv", "execve", "execvpe" };
	for (int i = 0; i < 6; i++) {
		pid = fork();
		if (pid == 0) {
			char *a[] = { "echo", (char *)names[i], NULL };
			switch (i) {
			case 0: execvp("echo", a); break;
			case 1: execlp("echo", "echo", names[i], (char *)NULL); break;
			case 2: execle("/bin/echo", "echo", names[i], (char *)NULL, environ); break;
			case 3: execv("/bin/echo", a); break;
			case 4: execve("/bin/echo", a, environ); break;
			case 5: execvpe("echo", a, environ); break;
			}
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
	}

	/* SCM_RIGHTS: pass a pipe end over a socketpair */
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(p))
		die("socketpair");
	char cb[CMSG_SPACE(sizeof(int))];
	memset(cb, 0, sizeof(cb));
	struct iovec iov = { "r", 1 };
	struct msghdr mh = { 0 };
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cb;
	mh.msg_controllen = sizeof(cb);
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	if (sendmsg(sv[0], &mh, 0) != 1)
		die("sendmsg");
	char rb;
	struct iovec riov = { &rb, 1 };
	char rcb[CMSG_SPACE(sizeof(int))];
	struct msghdr rm = { 0 };
	rm.msg_iov = &riov;
	rm.msg_iovlen = 1;
	rm.msg_control = rcb;
	rm.msg_controllen = sizeof(rcb);
	if (recvmsg(sv[1], &rm, MSG_CMSG_CLOEXEC) != 1)
		die("recvmsg");
	int got = -1;
	cm = CMSG_FIRSTHDR(&rm);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&got, CMSG_DATA(cm), sizeof(int));
	printf("scm_rights: %s\n", got >= 0 && write(got, "q", 1) == 1 && read(p[0], &rb, 1) == 1 &&
					   rb == 'q' ? "ok" : "FAILED");
	close(got);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);

	/* a FIFO opened by path, a pty master and its slave by path */
	char fifo[64];
	snprintf(fifo, sizeof(fifo), "/tmp/shim_prog.fifo.%d", (int)getpid());
	unlink(fifo);
	if (mkfifo(fifo, 0600) == 0) {
		int fr = open(fifo, O_RDONLY | O_NONBLOCK);
		int fw = open(fifo, O_WRONLY | O_NONBLOCK);
		printf("fifo: %s\n", fr >= 0 && fw >= 0 ? "ok" : "FAILED");
		close(fr);
		close(fw);
		unlink(fifo);
	}
	int pm = posix_openpt(O_RDWR | O_NOCTTY);
	if (pm >= 0 && grantpt(pm) == 0 && unlockpt(pm) == 0) {
		int ps = open(ptsname(pm), O_RDWR | O_NOCTTY);
		printf("ptmx: %s\n", ps >= 0 ? "ok" : "FAILED");
		close(ps);
		close(pm);
	}
	int d = dup(1);
	dup3(d, 50, O_CLOEXEC);
	close(50);
	close(d);
	printf("spawners done\n");
	return 0;
}

/* ---------------------------------------------------------------- connect */

static int tcp_pair(int fam)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (fam == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	int l = socket(fam, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&ss, sl) || listen(l, 8) ||
	    getsockname(l, (struct sockaddr *)&ss, &sl)) {
		if (l >= 0)
			close(l);
		return -1;
	}
	int c = socket(fam, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&ss, sl))
		return -1;
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	int a = accept4(l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
	if (a < 0)
		return -1;
	char ch = 0;
	int ok = write(c, "k", 1) == 1 && read(a, &ch, 1) == 1 && ch == 'k';
	close(a);
	close(c);
	close(l);
	return ok ? 0 : -1;
}

static int m_connect(void)
{
	printf("tcp4: %s\n", tcp_pair(AF_INET) == 0 ? "ok" : "FAILED");
	int s6 = socket(AF_INET6, SOCK_STREAM, 0);
	if (s6 >= 0) {
		close(s6);
		tcp_pair(AF_INET6); /* result not printed: ::1 may be disabled */
	}
	return 0;
}

/* the open descriptors, two ways: /proc/self/fd (without the directory's
 * own) and fcntl(F_GETFD) over every number below the limit */
static void fd_list(const char *tag)
{
	char b[4096];
	size_t k = 0;
	DIR *d = opendir("/proc/self/fd");
	int dfd = d ? dirfd(d) : -1;
	int v[1024], nv = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dfd && nv < 1024)
			v[nv++] = atoi(e->d_name);
	if (d)
		closedir(d);
	for (int i = 0; i < nv; i++) /* sorted: readdir's order is the kernel's */
		for (int j = i + 1; j < nv; j++)
			if (v[j] < v[i]) {
				int t = v[i];
				v[i] = v[j];
				v[j] = t;
			}
	for (int i = 0; i < nv && k + 16 < sizeof(b); i++)
		k += (size_t)snprintf(b + k, sizeof(b) - k, " %d", v[i]);
	b[k] = '\0';
	printf("%s /proc/self/fd:%s\n", tag, b);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	long max = rl.rlim_cur > 65536 ? 65536 : (long)rl.rlim_cur;
	k = 0;
	for (long f = 0; f < max && k + 16 < sizeof(b); f++)
		if (fcntl((int)f, F_GETFD) != -1)
			k += (size_t)snprintf(b + k, sizeof(b) - k, " %ld", f);
	b[k] = '\0';
	printf("%s fcntl:%s\n", tag, b);
	fflush(stdout);
}

static int child_self(const char *mode)
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		execl("/proc/self/exe", "shim_prog", mode, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int m_fdlist(void)
{
	fd_list("start");
	int pp[2], sv[2];
	if (pipe(pp) == 0) {
		close(pp[0]);
		close(pp[1]);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	tcp_pair(AF_INET);
	fd_list("after");
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		fd_list("forkchild");
		_exit(0);
	}
	waitpid(p, NULL, 0);
	return child_self("fdlist1");
}

static void fd_fill(const char *tag)
{
	fd_list(tag);
	int n = 0, last = -1, f;
	while ((f = open("/dev/null", O_RDONLY)) >= 0) {
		n++;
		last = f;
	}
	printf("%s opened %d (last %d, then %s)\n", tag, n, last, strerror(errno));
	fflush(stdout);
	/* the program at its limit: the hooks must still not take a number */
	int pp[2];
	printf("%s pipe at the limit: %s\n", tag, pipe(pp) == 0 ? "ok" : strerror(errno));
	for (int i = 0; i < 3 && last >= 0; i++)
		close(last - i);
	printf("%s pipe after closing 3: %s\n", tag, pipe(pp) == 0 ? "ok" : strerror(errno));
	fflush(stdout);
	for (f = 3; f < 65536 && f <= last + 2; f++)
		close(f);
}

static int m_fdlimit(int n)
{
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = (rlim_t)n;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("setrlimit");
		return 1;
	}
	fd_fill("self");
	return child_self("fdfill");
}

/* forks: children that run the shim's hooks without libc's fork() — the
 * shim must tell them from this process with no getpid() per record
 * (docs/shim.md "Transport"):
 *  - a vfork child that closes a pipe end and dup2()s through libc, then
 *    exec()s: it sends nothing before its exec, its new image's records are
 *    its own (stderr says its pid, for shim_robustness.sh to find them in
 *    the collector's log), none placed in our ring;
 *  - a fork made by syscall(SYS_clone) (no atfork handler ran: our ring is
 *    not mapped in it) that makes and closes pipes through libc: it must
 *    not crash;
 *  - a clone(CLONE_VM|CLONE_VFORK) child on its own stack doing the same.
 * stdout: one line per case with the child's exit status. */
static int pipes_closed(int n)
{
	for (int i = 0; i < n; i++) {
		int p[2];
		if (pipe(p) != 0)
			return 3;
		close(p[0]);
		close(p[1]);
	}
	return 0;
}

static int forks_fn(void *arg)
{
	(void)arg;
	_exit(pipes_closed(10));
}

static int m_forks(void)
{
	int p[2], st = -1;
	if (pipe(p) != 0)
		return 1;
	fflush(stdout);
	pid_t c = vfork();
	if (c == 0) {
		close(p[0]);
		dup2(p[1], 2 + 1000);
		close(2 + 1000);
		execl("/bin/sh", "sh", "-c", "echo vfork child ran", (char *)NULL);
		_exit(127);
	}
	if (c < 0)
		return 1;
	fprintf(stderr, "vfork child %d\n", (int)c);
	waitpid(c, &st, 0);
	close(p[0]);
	close(p[1]);
	printf("vfork: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fflush(stdout);
	st = -1;
	c = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (c == 0) {
		_exit(pipes_closed(100));
	}
	if (c < 0)
		return 1;
	fprintf(stderr, "raw fork child %d\n", (int)c);
	waitpid(c, &st, 0);
	printf("raw fork: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fflush(stdout);
	static char stack[64 * 1024] __attribute__((aligned(16)));
	st = -1;
	c = clone(forks_fn, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	if (c < 0)
		return 1;
	fprintf(stderr, "clone vm child %d\n", (int)c);
	waitpid(c, &st, 0);
	printf("clone vm: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	/* and this process goes on writing its own records */
	if (pipe(p) != 0)
		return 1;
	close(p[0]);
	close(p[1]);
	return 0;
}

/* forkwin: what a fork child finds that nobody in the program opened */
static atomic_int fw_stop;

static void *fw_records(void *a)
{
	(void)a;
	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9)};
	far.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 (TEST-NET-1): the doorbell */
	while (!atomic_load(&fw_stop)) {
		int pp[2];
		if (pipe(pp) == 0) {
			close(pp[0]);
			close(pp[1]);
		}
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (s >= 0) {
			connect(s, (struct sockaddr *)&far, sizeof(far));
			close(s);
		}
		usleep(20);
	}
	return NULL;
}

static int fw_foreign(void) /* in the fork child: sockets/memfds it holds */
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char p[320], l[128];
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
		ssize_t k = readlink(p, l, sizeof(l) - 1);
		l[k > 0 ? k : 0] = '\0';
		int dom = 0;
		socklen_t dl = sizeof(dom);
		if (!strncmp(l, "/memfd:", 7) ||
		    (!strncmp(l, "socket:", 7) &&
		     getsockopt(atoi(e->d_name), SOL_SOCKET, SO_DOMAIN, &dom, &dl) == 0 &&
		     dom == AF_UNIX)) /* the program's own are TCP */
			n++;
	}
	closedir(d);
	return n;
}

static int fw_worker(int secs)
{
	pthread_t t;
	int bad = 0;
	atomic_store(&fw_stop, 0);
	if (pthread_create(&t, NULL, fw_records, NULL) != 0)
		return 1;
	time_t end = time(NULL) + secs;
	while (time(NULL) < end) {
		pid_t c = fork();
		if (c == 0)
			_exit(fw_foreign() ? 1 : 0);
		int st = 0;
		if (c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st))
			bad++;
	}
	atomic_store(&fw_stop, 1);
	pthread_join(t, NULL);
	return bad ? 1 : 0;
}

static int m_forkwin(int secs)
{
	pid_t w[4];
	int bad = 0;
	for (int i = 0; i < 4; i++)
		if ((w[i] = fork()) == 0)
			_exit(fw_worker(secs));
	for (int i = 0; i < 4; i++) {
		int st = 0;
		if (w[i] > 0 && waitpid(w[i], &st, 0) == w[i] && (!WIFEXITED(st) || WEXITSTATUS(st)))
			bad++;
	}
	printf("forkwin: processes whose fork children found a unix socket or memfd they never opened: %d\n", bad);
	return 0;
}

/* fdrace: does the shim ever take a number the program would get? */
static atomic_int fr_stop;
static pthread_mutex_t fr_mu = PTHREAD_MUTEX_INITIALIZER;

static void *fr_records(void *a)
{
	int s = *(int *)a; /* made before the race, on a high number */
	struct sockaddr_in far = {.sin_family = AF_INET, .sin_port = htons(9)};
	far.sin_addr.s_addr = htonl(0xc0000201); /* 192.0.2.1 (TEST-NET-1): the doorbell */
	while (!atomic_load(&fr_stop)) {
		/* a CONNECT record and a doorbell each time (EALREADY after the first) */
		connect(s, (struct sockaddr *)&far, sizeof(far));
		dup2(s, s + 1); /* DUP and CLOSE records, no new low number */
		close(s + 1);
	}
	return NULL;
}

static int m_fdrace(int secs)
{
	int lo = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (lo < 0)
		return die("open");
	close(lo);
	int s0 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int s = s0 >= 0 ? fcntl(s0, F_DUPFD_CLOEXEC, 700) : -1;
	if (s < 0)
		return die("socket");
	close(s0);
	pthread_t t;
	atomic_store(&fr_stop, 0);
	if (pthread_create(&t, NULL, fr_records, &s) != 0)
		return die("pthread_create");
	long bad = 0, n = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 1000; i++, n++) {
			pthread_mutex_lock(&fr_mu);
			int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
			pthread_mutex_unlock(&fr_mu);
			if (fd != lo)
				bad++;
			if (fd >= 0)
				close(fd);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < secs);
	atomic_store(&fr_stop, 1);
	pthread_join(t, NULL);
	close(s);
	fprintf(stderr, "fdrace: %ld of %ld opens got another number than %d\n", bad, n, lo);
	printf("fdrace: opens that got another number than without the shim: %s\n",
	       bad ? "some" : "none");
	return 0;
}

/* vforkexec: the descriptor work of a vfork child before its exec */
static int m_vforkexec(void)
{
	int a[2], b[2], c[2];
	if (pipe(a) || pipe(b) || pipe(c))
		return die("pipe");
	char *av[] = {"/bin/true", NULL};
	pid_t k = vfork();
	if (k == 0) {
		close(a[0]);
		close(b[0]);
		close(c[0]);
		dup2(a[1], 1);
		close_range(3U, ~0U, 0);
		execve(av[0], av, environ);
		_exit(127);
	}
	int st = 0;
	if (k < 0 || waitpid(k, &st, 0) != k)
		return die("vfork");
	printf("vforkexec: child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	fprintf(stderr, "vforkexec child %d\n", (int)k);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* 1 if /proc/k/cmdline shows av0 (the child's own argv[0], not ours) */
static int argv_visible(pid_t k, const char *av0)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)k);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return !strcmp(buf, av0);
}

/* vforkwin: how long a vfork child's set-up and exec keep its parent
 * waiting, and how often the parent, once back, reads the child's cmdline
 * before the kernel has set it */
static int m_vforkwin(int n, int gap_us)
{
	if (n < 1 || n > 100000)
		return die("vforkwin N");
	uint64_t *res = calloc((size_t)n, sizeof(*res)), *vis = calloc((size_t)n, sizeof(*vis));
	if (!res || !vis)
		return die("calloc");
	int early = 0, late = 0;
	char *av[] = {"/bin/cat", "-", NULL}; /* until its stdin ends */
	for (int i = 0; i < n; i++) {
		int a[2], b[2], c[2];
		if (pipe(a) || pipe(b) || pipe(c))
			return die("pipe");
		uint64_t t0 = mono_ns();
		pid_t k = vfork();
		if (k == 0) {
			close(a[0]);
			close(b[1]);
			close(c[0]);
			dup2(b[0], 0);
			dup2(a[1], 1);
			close_range(3U, ~0U, 0);
			execve(av[0], av, environ);
			_exit(127);
		}
		uint64_t t1 = mono_ns();
		if (k < 0)
			return die("vfork");
		int seen = argv_visible(k, av[0]);
		early += !seen;
		for (int j = 0; !seen && j < 100000; j++)
			seen = argv_visible(k, av[0]);
		uint64_t t2 = mono_ns();
		close(b[1]);
		int st;
		waitpid(k, &st, 0);
		close(a[0]); close(a[1]); close(b[0]); close(c[0]); close(c[1]);
		if (gap_us > 0)
			usleep((useconds_t)gap_us);
		res[i] = t1 - t0;
		vis[i] = t2 - t0;
		late += t2 - t1 > 1000000;
	}
	qsort(res, (size_t)n, sizeof(*res), cmp_u64);
	qsort(vis, (size_t)n, sizeof(*vis), cmp_u64);
	printf("vforkwin: %d children\n", n);
	fprintf(stderr, "vforkwin: resume_us %.1f %.1f visible_us %.1f %.1f early %d late %d\n",
		res[n / 2] / 1e3, res[n * 9 / 10] / 1e3, vis[n / 2] / 1e3, vis[n * 9 / 10] / 1e3, early,
		late);
	free(res);
	free(vis);
	return 0;
}

/* the filter of sshd's preauth child, in small: SIGSYS on socket() or memfd_create() */
static struct sock_fprog *sandbox_filter(void)
{
	static struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	static struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	return &prog;
}

/* under the filter: pipes for 0.3 s, then a fork child (it registers a ring
 * of its own, or must not) making a pipe; prints how the child ended */
static int sandboxed_work(const char *who)
{
	for (int i = 0; i < 30; i++) {
		int pp[2];
		if (pipe(pp) == 0) {
			close(pp[0]);
			close(pp[1]);
		}
		usleep(10000);
	}
	pid_t c = fork();
	if (c == 0) {
		int pp[2];
		if (pipe(pp) == 0) {
			close(pp[0]);
			close(pp[1]);
		}
		_exit(0);
	}
	int st = 0;
	if (c < 0 || waitpid(c, &st, 0) != c)
		return die("fork");
	if (WIFSIGNALED(st))
		printf("%s: fork child killed by signal %d\n", who, WTERMSIG(st));
	else
		printf("%s: fork child exit %d\n", who, WEXITSTATUS(st));
	return 0;
}

static int m_sandbox_sys(void)
{
#if defined(__x86_64__)
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, sandbox_filter()) != 0)
		return die("seccomp");
#endif
	return sandboxed_work("sandbox_sys");
}

static int m_sandbox_exec(const char *self)
{
#if defined(__x86_64__)
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, sandbox_filter()) != 0)
		return die("seccomp");
	fflush(stdout);
	execl(self, self, "sandboxed", (char *)NULL);
	return die("exec");
#else
	(void)self;
	return sandboxed_work("sandbox_exec");
#endif
}

/* sandbox: sshd's preauth child in small (sandbox-seccomp-filter.c) */
static int m_sandbox(void)
{
#if defined(__x86_64__)
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_memfd_create, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
	};
	struct sock_fprog prog = {.len = sizeof(f) / sizeof(f[0]), .filter = f};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
		perror("seccomp");
		return 1;
	}
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		int pp[2];
		if (pipe(pp) == 0) {
			close(pp[0]);
			close(pp[1]);
		}
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
#endif
	printf("sandbox: still alive after 1.5 s of pipes under the filter\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "fdlist1")) {
		fd_list("exec");
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "sandboxed"))
		return sandboxed_work("sandbox_exec");
	if (argc >= 2 && !strcmp(argv[1], "fdfill")) {
		fd_fill("child");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: shim_prog threads|sigstorm|clobber|spawners|connect [N]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 50;
	if (!strcmp(argv[1], "threads"))
		return m_threads(n);
	if (!strcmp(argv[1], "sigstorm"))
		return m_sigstorm(n);
	if (!strcmp(argv[1], "clobber"))
		return m_clobber();
	if (!strcmp(argv[1], "spawners"))
		return m_spawners();
	if (!strcmp(argv[1], "connect"))
		return m_connect();
	if (!strcmp(argv[1], "fdlist"))
		return m_fdlist();
	if (!strcmp(argv[1], "fdlimit"))
		return m_fdlimit(n);
	if (!strcmp(argv[1], "forks"))
		return m_forks();
	if (!strcmp(argv[1], "forkwin"))
		return m_forkwin(n);
	if (!strcmp(argv[1], "sandbox"))
		return m_sandbox();
	if (!strcmp(argv[1], "sandbox_sys"))
		return m_sandbox_sys();
	if (!strcmp(argv[1], "sandbox_exec"))
		return m_sandbox_exec(argv[0]);
	if (!strcmp(argv[1], "vforkexec"))
		return m_vforkexec();
	if (!strcmp(argv[1], "vforkwin") && argc >= 3)
		return m_vforkwin(atoi(argv[2]), argc >= 4 ? atoi(argv[3]) : 0);
	if (!strcmp(argv[1], "fdrace"))
		return m_fdrace(n);
	return 2;
}
