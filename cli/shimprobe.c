/*
 * shimprobe.c — implements shimprobe.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <stddef.h>

#include "shimprobe.h"

#define SHIM_FILE "libhoptrace.so"

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define PROBE_CONNS 8

/* Accepts the queued connections that come from pid (SO_PEERCRED) into
 * conns[]; others are closed. */
static void take_conns(int lfd, pid_t pid, int *conns, int *nconns)
{
	for (;;) {
		int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (*nconns < PROBE_CONNS && getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0 &&
		    cr.pid == pid)
			conns[(*nconns)++] = c;
		else
			close(c);
	}
}

/* Sets *seen when one of conns[] holds a datagram. A connection may be
 * accepted between the shim's connect() and its send(): it is read again
 * until the child is gone (then its record is queued, or never comes). */
static void read_conns(const int *conns, int nconns, int *seen)
{
	char buf[4096];
	for (int i = 0; i < nconns; i++)
		if (recv(conns[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			*seen = 1;
}

/* One probe: the listening socket the child's shim reports to, the child,
 * what it printed on stderr and what it sent. */
struct probe {
	char name[64]; /* abstract socket name, without the leading NUL */
	int lfd, ep[2];
	int rfd;       /* NAME + ".ring": where a shim registers its ring (docs/shim.md) */
	int conns[PROBE_CONNS], nconns;
	pid_t pid;
	int st, exited, seen;
	char errbuf[512];
	size_t elen;
};

/* A listening SEQPACKET socket at a fresh random abstract name. */
static int probe_listen(struct probe *pr, char *err, size_t errlen)
{
	unsigned char rnd[8];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t al;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	snprintf(pr->name, sizeof(pr->name), "hoptrace-probe-%ld-%02x%02x%02x%02x%02x%02x%02x%02x",
		 (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	memcpy(a.sun_path + 1, pr->name, strlen(pr->name));
	al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(pr->name));
	pr->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pr->lfd < 0 || bind(pr->lfd, (struct sockaddr *)&a, al) < 0 || listen(pr->lfd, 16) < 0) {
		snprintf(err, errlen, "probe socket: %s", strerror(errno));
		return -1;
	}
	/* the shim's first record comes with its ring's registration, on the
	 * ring socket (the ring itself is never read here: recv() without room
	 * for descriptors drops the memfd) */
	memcpy(a.sun_path + 1 + strlen(pr->name), ".ring", 5);
	al += 5;
	pr->rfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (pr->rfd < 0 || bind(pr->rfd, (struct sockaddr *)&a, al) < 0 || listen(pr->rfd, 16) < 0) {
		snprintf(err, errlen, "probe socket: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Starts prog with only LD_PRELOAD, HOPTRACE_SOCKET and PATH, stdin and
 * stdout on /dev/null, stderr into pr->ep. */
static int probe_spawn(struct probe *pr, const char *lib, const char *prog, char *err,
		       size_t errlen)
{
	char env_pre[PATH_MAX + 16], env_sock[96];
	posix_spawn_file_actions_t fa;
	int sr;

	if (pipe2(pr->ep, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	snprintf(env_pre, sizeof(env_pre), "LD_PRELOAD=%s", lib);
	snprintf(env_sock, sizeof(env_sock), "HOPTRACE_SOCKET=@%s", pr->name);
	char *envp[] = {env_pre, env_sock, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
	char *argv[] = {(char *)prog, NULL};
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pr->ep[1], 2);
	sr = posix_spawn(&pr->pid, prog, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(pr->ep[1]);
	pr->ep[1] = -1;
	if (sr != 0) {
		pr->pid = -1;
		snprintf(err, errlen, "cannot run %s: %s", prog, strerror(sr));
		return -1;
	}
	return 0;
}

/* Until the child has exited and closed stderr, or timeout_ms: takes its
 * connections and records, and what it prints. */
static void probe_watch(struct probe *pr, int timeout_ms)
{
	long long end = mono_ms() + timeout_ms;
	int pipe_open = 1;

	while (!pr->exited || pipe_open) {
		long long left = end - mono_ms();
		if (left <= 0)
			break;
		struct pollfd pf[3] = {{.fd = pr->lfd, .events = POLLIN},
				       {.fd = pipe_open ? pr->ep[0] : -1, .events = POLLIN},
				       {.fd = pr->rfd, .events = POLLIN}};
		poll(pf, 3, left > 20 ? 20 : (int)left);
		take_conns(pr->lfd, pr->pid, pr->conns, &pr->nconns);
		take_conns(pr->rfd, pr->pid, pr->conns, &pr->nconns);
		read_conns(pr->conns, pr->nconns, &pr->seen);
		if (pipe_open && pf[1].revents) {
			ssize_t n = read(pr->ep[0], pr->errbuf + pr->elen,
					 sizeof(pr->errbuf) - 1 - pr->elen);
			if (n > 0)
				pr->elen += (size_t)n;
			else if (n == 0 || errno != EINTR)
				pipe_open = 0;
			if (pr->elen >= sizeof(pr->errbuf) - 1)
				pipe_open = 0; /* enough to show */
		}
		if (!pr->exited && waitpid(pr->pid, &pr->st, WNOHANG) == pr->pid)
			pr->exited = 1;
	}
}

/* The child has exited: 0 when it exited 0, printed nothing and its shim
 * sent a record, else -1 with why. */
static int probe_verdict(struct probe *pr, const char *prog, char *err, size_t errlen)
{
	char *eb = pr->errbuf;
	size_t elen = pr->elen;
	int st = pr->st;

	/* the child is gone: whatever it sent is queued now */
	take_conns(pr->lfd, pr->pid, pr->conns, &pr->nconns);
	take_conns(pr->rfd, pr->pid, pr->conns, &pr->nconns);
	read_conns(pr->conns, pr->nconns, &pr->seen);
	eb[elen] = '\0';
	while (elen && (eb[elen - 1] == '\n' || eb[elen - 1] == '\r'))
		eb[--elen] = '\0';
	if (WIFSIGNALED(st))
		snprintf(err, errlen, "%s with the shim was killed by signal %d%s%s", prog,
			 WTERMSIG(st), elen ? ": " : "", eb);
	else if (WEXITSTATUS(st) != 0)
		snprintf(err, errlen, "%s with the shim exited %d%s%s", prog, WEXITSTATUS(st),
			 elen ? ": " : "", eb);
	else if (elen)
		snprintf(err, errlen, "%s with the shim printed: %s", prog, eb);
	else if (!pr->seen)
		snprintf(err, errlen, "%s ran, but the shim's constructor sent no record "
			 "(the library did not run in it)", prog);
	else
		return 0;
	return -1;
}

int shim_probe(const char *lib, const char *prog, int timeout_ms, char *err, size_t errlen)
{
	struct probe pr = {.lfd = -1, .rfd = -1, .ep = {-1, -1}, .pid = -1};
	int rc = -1;

	if (probe_listen(&pr, err, errlen) < 0 || probe_spawn(&pr, lib, prog, err, errlen) < 0)
		goto out;
	probe_watch(&pr, timeout_ms);
	if (!pr.exited) {
		snprintf(err, errlen, "%s with the shim did not finish within %d ms", prog,
			 timeout_ms);
		goto out; /* killed below */
	}
	rc = probe_verdict(&pr, prog, err, errlen);
	pr.pid = -1; /* reaped */
out:
	if (pr.pid > 0) {
		kill(pr.pid, SIGKILL);
		waitpid(pr.pid, NULL, 0);
	}
	for (int i = 0; i < pr.nconns; i++)
		close(pr.conns[i]);
	if (pr.lfd >= 0)
		close(pr.lfd);
	if (pr.rfd >= 0)
		close(pr.rfd);
	if (pr.ep[0] >= 0)
		close(pr.ep[0]);
	if (pr.ep[1] >= 0)
		close(pr.ep[1]);
	return rc;
}

int shim_path_safe(const char *lib, char *err, size_t errlen)
{
	char p[PATH_MAX];
	struct stat st;

	if (lib[0] != '/' || strlen(lib) >= sizeof(p)) {
		snprintf(err, errlen, "%s: not an absolute path", lib);
		return -1;
	}
	snprintf(p, sizeof(p), "%s", lib);
	if (stat(p, &st) < 0) {
		snprintf(err, errlen, "%s: %s", p, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", p);
		return -1;
	}
	for (;;) {
		if (lstat(p, &st) < 0) {
			snprintf(err, errlen, "%s: %s", p, strerror(errno));
			return -1;
		}
		int dir = S_ISDIR(st.st_mode);
		if (st.st_uid != 0) {
			snprintf(err, errlen, "%s is owned by uid %u, not root: whoever owns it could "
				 "put code into every process", p, (unsigned)st.st_uid);
			return -1;
		}
		if ((st.st_mode & 022) && !(dir && (st.st_mode & S_ISVTX))) {
			snprintf(err, errlen, "%s is writable by %s: they could put code into every "
				 "process", p, (st.st_mode & 002) ? "everyone" : "its group");
			return -1;
		}
		char *sl = strrchr(p, '/');
		if (!sl || (sl == p && p[1] == '\0'))
			break;
		if (sl == p)
			p[1] = '\0';
		else
			*sl = '\0';
	}
	return 0;
}

int shim_maps_line(const char *line, const char **path, size_t *len)
{
	/* address perms offset dev inode pathname */
	const char *p = line;
	for (int f = 0; f < 5; f++) {
		p += strspn(p, " \t");
		if (!*p)
			return 0;
		p += strcspn(p, " \t\n");
	}
	p += strspn(p, " \t");
	if (*p != '/')
		return 0;
	size_t l = strcspn(p, "\n");
	/* a deleted (replaced) file is still the shim */
	static const char del[] = " (deleted)";
	size_t pl = l;
	if (pl > sizeof(del) - 1 && memcmp(p + pl - (sizeof(del) - 1), del, sizeof(del) - 1) == 0)
		pl -= sizeof(del) - 1;
	size_t nl = sizeof(SHIM_FILE) - 1;
	if (pl < nl + 1 || p[pl - nl - 1] != '/' || memcmp(p + pl - nl, SHIM_FILE, nl) != 0)
		return 0;
	if (path)
		*path = p;
	if (len)
		*len = pl;
	return 1;
}

int shim_scan(const char *proc_root, const char *lib, struct shim_scan *out)
{
	DIR *d = opendir(proc_root);
	struct dirent *de;
	char fn[PATH_MAX];
	char *line = NULL;
	size_t cap = 0;

	memset(out, 0, sizeof(*out));
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		snprintf(fn, sizeof(fn), "%s/%s/maps", proc_root, de->d_name);
		FILE *f = fopen(fn, "re");
		if (!f) {
			if (errno != ENOENT) { /* gone in between: not counted */
				out->procs++;
				out->unreadable++;
			}
			continue;
		}
		int any = 0, exact = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, f)) > 0) {
			const char *p;
			size_t l;
			if (!shim_maps_line(line, &p, &l))
				continue;
			any = 1;
			if (lib && l == strlen(lib) && memcmp(p, lib, l) == 0)
				exact = 1;
		}
		int bad = ferror(f);
		fclose(f);
		out->procs++;
		if (bad) {
			out->unreadable++;
			continue;
		}
		out->with_shim += (unsigned)any;
		out->with_lib += (unsigned)exact;
	}
	free(line);
	closedir(d);
	return 0;
}
