/*
 * procfs.c — implements procfs.h.
 */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/procfs.h"

static char proc_root[1024] = "/proc"; /* longer roots are truncated */

void procfs_set_root(const char *root)
{
	snprintf(proc_root, sizeof(proc_root), "%s", root && *root ? root : "/proc");
}

const char *procfs_root(void)
{
	return proc_root;
}

/* Reads at most n-1 bytes of a small file, NUL-terminates; bytes or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	size_t len = 0;
	if (fd < 0)
		return -errno;
	while (len + 1 < n) {
		ssize_t r = read(fd, buf + len, n - 1 - len);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

static int parse_u64(const char **pp, uint64_t *out)
{
	const char *p = *pp;
	uint64_t v = 0;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*pp = p;
	*out = v;
	return 0;
}

/* skips one space-separated field (possibly signed number) */
static int skip_field(const char **pp)
{
	const char *p = *pp;
	if (*p != ' ')
		return -1;
	p++;
	if (*p == ' ' || *p == '\0' || *p == '\n')
		return -1;
	while (*p && *p != ' ' && *p != '\n')
		p++;
	*pp = p;
	return 0;
}

static int stat_read(pid_t pid, struct procfs_stat *st, int want_uid);

int procfs_stat(pid_t pid, struct procfs_stat *st)
{
	return stat_read(pid, st, 1);
}

int procfs_stat_nouid(pid_t pid, struct procfs_stat *st)
{
	return stat_read(pid, st, 0);
}

static int stat_read(pid_t pid, struct procfs_stat *st, int want_uid)
{
	char path[PATH_MAX], buf[4096];
	const char *p, *open_paren, *close_paren;
	uint64_t v;
	ssize_t n;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/%d/stat", proc_root, (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (memchr(buf, '\0', (size_t)n))
		return -EINVAL;
	open_paren = strchr(buf, '(');
	close_paren = strrchr(buf, ')');
	if (!open_paren || !close_paren || close_paren < open_paren)
		return -EINVAL;
	/* field 1: pid */
	p = buf;
	if (parse_u64(&p, &v) < 0 || v > INT_MAX || *p != ' ' || p + 1 != open_paren)
		return -EINVAL;
	st->pid = (pid_t)v;
	/* field 2: comm */
	{
		size_t cl = (size_t)(close_paren - open_paren - 1);
		if (cl >= sizeof(st->comm))
			cl = sizeof(st->comm) - 1;
		memcpy(st->comm, open_paren + 1, cl);
		st->comm[cl] = '\0';
	}
	/* field 3: state */
	p = close_paren + 1;
	if (p[0] != ' ' || p[1] == '\0' || p[1] == ' ' || p[1] == '\n' ||
	    (p[2] != ' '))
		return -EINVAL;
	st->state = p[1];
	p += 2;
	/* field 4: ppid */
	if (*p++ != ' ' || parse_u64(&p, &v) < 0 || v > INT_MAX)
		return -EINVAL;
	st->ppid = (pid_t)v;
	/* fields 5, 6: process group, session */
	if (*p++ != ' ' || parse_u64(&p, &v) < 0 || v > INT_MAX)
		return -EINVAL;
	st->pgrp = (pid_t)v;
	if (*p++ != ' ' || parse_u64(&p, &v) < 0 || v > INT_MAX)
		return -EINVAL;
	st->sid = (pid_t)v;
	/* fields 7..21 */
	for (int f = 7; f <= 21; f++)
		if (skip_field(&p) < 0)
			return -EINVAL;
	/* field 22: starttime */
	if (*p++ != ' ' || parse_u64(&p, &v) < 0 || (*p != ' ' && *p != '\n' && *p != '\0'))
		return -EINVAL;
	st->starttime = v;
	if (!want_uid)
		return 0;
	return procfs_uid(pid, &st->uid);
}

int procfs_uid(pid_t pid, uid_t *uid)
{
	char path[PATH_MAX], buf[4096];
	const char *p;
	uint64_t v;
	ssize_t n;

	/* uid from status */
	snprintf(path, sizeof(path), "%s/%d/status", proc_root, (int)pid);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "Uid:", 4) == 0) {
			p += 4;
			while (*p == ' ' || *p == '\t')
				p++;
			if (parse_u64(&p, &v) < 0 || v > UINT32_MAX ||
			    (*p != '\t' && *p != ' ' && *p != '\n' && *p != '\0'))
				return -EINVAL;
			*uid = (uid_t)v;
			return 0;
		}
	}
	return -EINVAL;
}

int procfs_exe(pid_t pid, char *buf, size_t n)
{
	char path[PATH_MAX], link[PATH_MAX + 1];
	static const char del[] = " (deleted)";
	const size_t dl = sizeof(del) - 1;
	ssize_t r;

	if (n == 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%d/exe", proc_root, (int)pid);
	r = readlink(path, link, sizeof(link));
	if (r < 0)
		return -errno;
	if ((size_t)r >= sizeof(link))
		return -ENAMETOOLONG;
	link[r] = '\0';
	if ((size_t)r > dl && memcmp(link + r - dl, del, dl) == 0) {
		r -= (ssize_t)dl;
		link[r] = '\0';
	}
	if ((size_t)r >= n)
		return -ENAMETOOLONG;
	memcpy(buf, link, (size_t)r + 1);
	return 0;
}

int procfs_argv0(pid_t pid, char *buf, size_t n)
{
	char path[PATH_MAX];
	ssize_t r;
	if (n == 0)
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/%d/cmdline", proc_root, (int)pid);
	r = read_small(path, buf, n); /* stops at n-1 bytes; NUL-terminated */
	if (r < 0) {
		buf[0] = '\0';
		return (int)r;
	}
	return 0; /* the first string ends at the first NUL */
}

int procfs_netns(pid_t pid, uint64_t *ino)
{
	char path[PATH_MAX];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%d/ns/net", proc_root, (int)pid);
	if (stat(path, &sb) < 0)
		return -errno;
	*ino = (uint64_t)sb.st_ino;
	return 0;
}

static int pty_master_index(pid_t pid, int fd, uint64_t *idx)
{
	char path[PATH_MAX], buf[2048];
	const char *p;
	uint64_t v;
	ssize_t n;
	snprintf(path, sizeof(path), "%s/%d/fdinfo/%d", proc_root, (int)pid, fd);
	n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "tty-index:", 10) == 0) {
			p += 10;
			while (*p == ' ' || *p == '\t')
				p++;
			if (parse_u64(&p, &v) < 0)
				return -EINVAL;
			*idx = v;
			return 0;
		}
	}
	return -ENOTSUP;
}

/* The channel an open descriptor of pid is, from its stat (and, where known, its
 * /proc link text: it tells a named FIFO from a pipe and names /dev/ptmx). */
static int chan_of_stat(const struct stat *sb, const char *link, pid_t pid, int fd,
			struct ht_chan *c)
{
	if (S_ISFIFO(sb->st_mode)) {
		c->kind = link && strncmp(link, "pipe:[", 6) != 0 ? HT_CHAN_FIFO : HT_CHAN_PIPE;
		c->dev = (uint64_t)sb->st_dev;
		c->ino = (uint64_t)sb->st_ino;
		return 0;
	}
	if (S_ISSOCK(sb->st_mode)) {
		c->kind = HT_CHAN_SOCK;
		c->ino = (uint64_t)sb->st_ino;
		return 0;
	}
	if (S_ISCHR(sb->st_mode)) {
		unsigned maj = major(sb->st_rdev), min = minor(sb->st_rdev);
		if (maj >= 136 && maj <= 143) {
			c->kind = HT_CHAN_PTY;
			c->ino = (uint64_t)(maj - 136) * 256 + min;
			return 0;
		}
		if ((maj == 5 && min == 2) ||
		    (link && (strcmp(link, "/dev/ptmx") == 0 || strcmp(link, "/dev/pts/ptmx") == 0))) {
			uint64_t idx = 0;
			int e = pty_master_index(pid, fd, &idx);
			if (e < 0)
				return e;
			c->kind = HT_CHAN_PTY;
			c->ino = idx;
			return 0;
		}
	}
	return -ENOTSUP;
}

int procfs_fd_chan(pid_t pid, int fd, struct ht_chan *c)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct stat sb;
	ssize_t r;

	memset(c, 0, sizeof(*c));
	snprintf(path, sizeof(path), "%s/%d/fd/%d", proc_root, (int)pid, fd);
	r = readlink(path, link, sizeof(link) - 1);
	if (r < 0)
		return -errno;
	link[r] = '\0';
	if (stat(path, &sb) < 0)
		return -errno;
	return chan_of_stat(&sb, link, pid, fd, c);
}

int procfs_fd_dir(pid_t pid)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%d/fd", proc_root, (int)pid);
	int d = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return d >= 0 ? d : -errno;
}

int procfs_fd_chan_at(int dfd, pid_t pid, int fd, struct ht_chan *c)
{
	char name[16];
	struct stat sb;
	memset(c, 0, sizeof(*c));
	if (fd < 0)
		return -ENOENT;
	snprintf(name, sizeof(name), "%d", fd);
	if (fstatat(dfd, name, &sb, 0) < 0)
		return errno == ENOENT || errno == ESRCH ? -ENOENT : -errno;
	return chan_of_stat(&sb, NULL, pid, fd, c); /* a FIFO is keyed as a pipe: alike */
}

static int parse_fdname(const char *s, int *out)
{
	uint64_t v;
	const char *p = s;
	if (parse_u64(&p, &v) < 0 || *p != '\0' || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/* The device of pipefs: every anonymous pipe is on the kernel's one internal pipe
 * mount, so a "pipe:[INO]" link (which only pipefs's dentry names give: a FIFO on a
 * file system links to its path) is the pipe (that device, INO) with no stat. 0: not
 * known (the pipe to learn it from could not be made). */
static uint64_t pipefs_dev_v;
static pthread_once_t pipefs_once = PTHREAD_ONCE_INIT;

static void pipefs_learn(void)
{
	int p[2];
	struct stat sb;
	if (pipe(p) != 0)
		return;
	if (fstat(p[0], &sb) == 0 && S_ISFIFO(sb.st_mode) && sb.st_dev != 0)
		pipefs_dev_v = (uint64_t)sb.st_dev;
	close(p[0]);
	close(p[1]);
}

static uint64_t pipefs_dev(void)
{
	pthread_once(&pipefs_once, pipefs_learn);
	return pipefs_dev_v;
}

uint64_t procfs_pipefs_dev(void)
{
	return pipefs_dev();
}

/* procfs_fd_chan through the fd directory dfd: a socket or a pipe by its link alone
 * (one readlinkat), anything else by its stat too */
static int fd_chan_in(int dfd, const char *name, pid_t pid, int fd, struct ht_chan *c)
{
	char link[PATH_MAX];
	struct stat sb;
	ssize_t r;
	memset(c, 0, sizeof(*c));
	r = readlinkat(dfd, name, link, sizeof(link) - 1);
	if (r < 0)
		return -errno;
	link[r] = '\0';
	if (strncmp(link, "socket:[", 8) == 0) {
		const char *q = link + 8;
		uint64_t v;
		if (parse_u64(&q, &v) == 0 && *q == ']') {
			c->kind = HT_CHAN_SOCK;
			c->ino = v;
			return 0;
		}
	} else if (strncmp(link, "pipe:[", 6) == 0) {
		const char *q = link + 6;
		uint64_t v, dev = pipefs_dev();
		if (dev && parse_u64(&q, &v) == 0 && *q == ']' && q[1] == 0) {
			c->kind = HT_CHAN_PIPE;
			c->dev = dev;
			c->ino = v;
			return 0;
		}
	} else if (link[0] != '/') {
		return -ENOTSUP; /* anon_inode:[eventfd] and the like */
	}
	if (fstatat(dfd, name, &sb, 0) < 0)
		return -errno;
	return chan_of_stat(&sb, link, pid, fd, c);
}

/* Another live thread of pid's (0: none). A process whose thread-group
 * leader has ended (syscall(SYS_exit) in its main thread) while other
 * threads run on shows an empty /proc/PID/fd: the leader's task has no
 * files any more; the table is a live thread's, /proc/PID/task/TID/fd. */
pid_t procfs_other_thread(pid_t pid)
{
	char path[PATH_MAX];
	struct dirent *de;
	pid_t tid = 0;
	snprintf(path, sizeof(path), "%s/%d/task", proc_root, (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	while (!tid && (de = readdir(d)) != NULL) {
		int t;
		if (parse_fdname(de->d_name, &t) == 0 && t != (int)pid)
			tid = (pid_t)t;
	}
	closedir(d);
	return tid;
}

/* pid's fd directory: /proc/PID/fd, or (that one empty, the leader ended)
 * a live thread's */
static void fd_dir_path(pid_t pid, pid_t tid, char *path, size_t n)
{
	if (tid)
		snprintf(path, n, "%s/%d/task/%d/fd", proc_root, (int)pid, (int)tid);
	else
		snprintf(path, n, "%s/%d/fd", proc_root, (int)pid);
}

int procfs_fds(pid_t pid, int (*cb)(void *ctx, int fd, const struct ht_chan *c), void *ctx)
{
	return procfs_fds_until(pid, 0, cb, ctx);
}

int procfs_fds_until(pid_t pid, uint64_t cpu_deadline_ns,
		     int (*cb)(void *ctx, int fd, const struct ht_chan *c), void *ctx)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;
	size_t n = 0;
	unsigned entries = 0;
	pid_t tid = 0;

again:
	fd_dir_path(pid, tid, path, sizeof(path));
	d = opendir(path);
	if (!d)
		return tid ? 0 : -errno;
	while ((de = readdir(d)) != NULL) {
		struct ht_chan c;
		int fd;
		/* every entry counts, channel or not: 20,000 eventfds are a
		 * 47 ms read that no callback would see */
		if (cpu_deadline_ns && (++entries & 63) == 0 && procfs_cpu_ns() >= cpu_deadline_ns) {
			rc = 1;
			break;
		}
		if (parse_fdname(de->d_name, &fd) < 0)
			continue;
		n++;
		if (fd_chan_in(dirfd(d), de->d_name, pid, fd, &c) < 0)
			continue;
		rc = cb(ctx, fd, &c);
		if (rc)
			break;
	}
	closedir(d);
	if (!rc && !n && !tid && (tid = procfs_other_thread(pid)) != 0)
		goto again; /* its leader ended: a live thread's table */
	return rc;
}

/* ---- the holders of a socket ------------------------------------------------ */

struct scan_ent {
	pid_t pid;
	uid_t uid;        /* its uid (all four alike), or its real uid (mixed) */
	uid_t dir_uid;    /* the owner of /proc/PID when listed */
	int pass;         /* 1: the owner's, 2: another's */
	uint64_t key;     /* pass 2: the fair-share order */
};

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t procfs_mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t procfs_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

#define mono_ns procfs_mono_ns

static int over_budget(struct procfs_scan *s)
{
	if ((s->max_fds && s->fds >= s->max_fds) || (s->deadline_ns && mono_ns() >= s->deadline_ns) ||
	    (s->cpu_deadline_ns && procfs_cpu_ns() >= s->cpu_deadline_ns)) {
		s->incomplete = 1;
		s->why = PROCFS_SCAN_BUDGET;
		return 1;
	}
	return 0;
}

/* Real, effective, saved and fs uid of pid ("Uid:" of /proc/PID/status). 0 or -errno. */
static int status_uids(pid_t pid, uid_t u[4])
{
	char path[PATH_MAX], buf[4096];
	const char *p;
	uint64_t v;
	snprintf(path, sizeof(path), "%s/%d/status", proc_root, (int)pid);
	ssize_t n = read_small(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "Uid:", 4) != 0)
			continue;
		p += 4;
		for (int i = 0; i < 4; i++) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (parse_u64(&p, &v) < 0 || v > UINT32_MAX)
				return -EINVAL;
			u[i] = (uid_t)v;
		}
		return 0;
	}
	return -EINVAL;
}

/* Lists the processes and tells the owner's from the others (see procfs.h).
 * 0 or -errno; *out malloc'd (the caller frees). */
static int scan_list(struct procfs_scan *s, struct scan_ent **out, size_t *nout)
{
	struct scan_ent *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *pe;
	DIR *root = opendir(proc_root);
	if (!root)
		return -errno;
	while ((pe = readdir(root)) != NULL) {
		struct stat sb;
		int pid;
		if (parse_fdname(pe->d_name, &pid) < 0)
			continue;
		if ((n & 63) == 0 && over_budget(s))
			break;
		if (fstatat(dirfd(root), pe->d_name, &sb, 0) < 0)
			continue; /* gone */
		struct scan_ent e = {.pid = pid, .uid = sb.st_uid, .dir_uid = sb.st_uid, .pass = 1};
		if (s->owner != (uid_t)-1) {
			e.pass = 2;
			if (sb.st_uid == 0 || sb.st_uid == s->owner) {
				/* root's or the owner's dir: a non-dumpable process
				 * shows as root's; its status says whose it is */
				uid_t u[4];
				if (status_uids(pid, u) < 0)
					continue; /* gone */
				e.uid = u[0];
				if (u[0] == s->owner && u[1] == u[0] && u[2] == u[0] && u[3] == u[0])
					e.pass = 1;
			}
		}
		if (n == cap) {
			size_t c = cap ? cap * 2 : 256;
			struct scan_ent *t = realloc(v, c * sizeof(*t));
			if (!t) {
				free(v);
				closedir(root);
				return -ENOMEM;
			}
			v = t;
			cap = c;
		}
		v[n++] = e;
	}
	closedir(root);
	*out = v;
	*nout = n;
	return 0;
}

static int by_uid_cost(const void *a, const void *b)
{
	const struct scan_ent *x = a, *y = b;
	if (x->pass != y->pass)
		return x->pass - y->pass;
	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	return x->key < y->key ? -1 : x->key > y->key;
}

static int by_key(const void *a, const void *b)
{
	const struct scan_ent *x = a, *y = b;
	if (x->pass != y->pass)
		return x->pass - y->pass;
	return x->key < y->key ? -1 : x->key > y->key ? 1 : (x->pid > y->pid) - (x->pid < y->pid);
}

/* Pass 2's order: within a uid by fd count, across uids by the running sum
 * of the fds its processes before this one hold (their cost to read). */
static void fair_order(struct scan_ent *v, size_t n, size_t first)
{
	char path[PATH_MAX];
	for (size_t i = first; i < n; i++) {
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%d/fd", proc_root, (int)v[i].pid);
		/* (Linux >= 6.2 gives the number of open fds as st_size) */
		v[i].key = 1 + (stat(path, &sb) == 0 && sb.st_size > 0 ? (uint64_t)sb.st_size : 0);
	}
	qsort(v + first, n - first, sizeof(*v), by_uid_cost);
	uint64_t sum = 0;
	for (size_t i = first; i < n; i++) {
		if (i == first || v[i].uid != v[i - 1].uid)
			sum = 0;
		sum += v[i].key;
		v[i].key = sum;
	}
	qsort(v + first, n - first, sizeof(*v), by_key);
}

/* Reads e's fd directory for the socket; the number of holders found
 * (cb's non-zero value in *rc), -1 when the budget ran out. */
/* what a scan looks for: a link text (a socket's, an anonymous pipe's), or
 * for a pipe key also a FIFO's (dev, ino) — its link is a path, told by stat */
struct want {
	const char *s;
	size_t l;
	int fifo;
	uint64_t dev, ino;
};

static int want_match(const struct want *w, const char *path, const char *link, ssize_t r)
{
	struct stat sb;
	if (r == (ssize_t)w->l && memcmp(link, w->s, w->l) == 0)
		return 1;
	if (!w->fifo || r <= 0 || link[0] != '/')
		return 0;
	return stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode) && (uint64_t)sb.st_dev == w->dev &&
	       (uint64_t)sb.st_ino == w->ino;
}

static int scan_proc(struct procfs_scan *s, const struct scan_ent *e, const struct want *want,
		     int (*cb)(void *ctx, pid_t pid, int fd), void *ctx, int *rc)
{
	char path[PATH_MAX], link[64];
	struct dirent *fe;
	struct stat sb;
	int found = 0, out = 0;
	uint64_t t0 = procfs_cpu_ns(), fds0 = s->fds;

	if (s->admit && !s->admit(s->actx, e->uid)) {
		s->incomplete = 1; /* that uid's scans cost more than its share lately */
		s->why = PROCFS_SCAN_REFUSED;
		return 0;
	}
	if (s->netns) {
		/* another network namespace is another host (one stat, not a
		 * read of every fd: on a machine with many namespaces most of
		 * the processes are others') */
		uint64_t ns = 0;
		if (procfs_netns(e->pid, &ns) != 0 || ns != s->netns)
			return 0;
	}
	char base[1200];
	pid_t tid = 0;
	size_t listed = 0;
again:
	fd_dir_path(e->pid, tid, base, sizeof(base));
	DIR *d = opendir(base);
	if (!d)
		return 0; /* gone, or not ours to read */
	if (fstat(dirfd(d), &sb) < 0) {
		closedir(d);
		return 0; /* gone */
	}
	if (sb.st_uid != e->dir_uid && e->pass == 1) {
		/* not the process listed (a pid reused) or its credentials
		 * changed: read in the owner's pass only if it is still the
		 * owner's (the directory open is that of the process now) */
		uid_t u[4];
		if ((sb.st_uid != 0 && sb.st_uid != s->owner) || status_uids(e->pid, u) < 0 ||
		    u[0] != s->owner || u[1] != u[0] || u[2] != u[0] || u[3] != u[0]) {
			closedir(d);
			return 0;
		}
	}
	if (!tid)
		s->procs++;
	while ((fe = readdir(d)) != NULL) {
		int fd;
		ssize_t r;
		if (parse_fdname(fe->d_name, &fd) < 0)
			continue;
		listed++;
		if ((++s->fds & 31) == 0 && over_budget(s)) {
			out = -1;
			break;
		}
		snprintf(path, sizeof(path), "%s/%d", base, fd);
		r = readlink(path, link, sizeof(link));
		if (!want_match(want, path, link, r))
			continue;
		found++;
		*rc = cb(ctx, e->pid, fd);
		if (*rc)
			break;
	}
	closedir(d);
	if (!listed && !tid && !out && (tid = procfs_other_thread(e->pid)) != 0)
		goto again; /* its leader ended: a live thread's table */
	if (s->charge)
		s->charge(s->actx, e->uid, procfs_cpu_ns() - t0, s->fds - fds0);
	return out < 0 ? -1 : found;
}

static int holders_scan(const struct want *want, struct procfs_scan *s,
			int (*cb)(void *ctx, pid_t pid, int fd), void *ctx)
{
	struct scan_ent *v = NULL;
	size_t n = 0, first2;
	uint64_t t0 = mono_ns(), c0 = procfs_cpu_ns();
	int rc = 0, e;

	s->incomplete = s->why = 0;
	s->pass = 0;
	s->procs = s->fds = 0;
	if ((e = scan_list(s, &v, &n)) < 0)
		goto out_err;
	/* the owner's first, in /proc's order; the others after, fair share */
	for (first2 = 0; first2 < n && v[first2].pass == 1; first2++)
		;
	for (size_t i = first2; i < n; i++)
		if (v[i].pass == 1) {
			struct scan_ent t = v[i];
			memmove(v + first2 + 1, v + first2, (i - first2) * sizeof(*v));
			v[first2++] = t;
		}
	for (int pass = 1; pass <= 2 && rc == 0; pass++) {
		size_t lo = pass == 1 ? 0 : first2, hi = pass == 1 ? first2 : n;
		if (pass == 2) {
			if (s->pass || s->incomplete)
				break; /* found among the owner's — or its search ran out */
			fair_order(v, n, first2);
		}
		for (size_t i = lo; i < hi && rc == 0; i++) {
			if ((i & 15) == 0 && over_budget(s))
				break;
			int k = scan_proc(s, &v[i], want, cb, ctx, &rc);
			if (k > 0 && !s->pass)
				s->pass = pass;
			if (k < 0)
				break;
			if (k > 0 && pass == 2 && s->first_only)
				break;
		}
		if (s->incomplete)
			break;
	}
	free(v);
	s->ns = mono_ns() - t0;
	s->cpu_ns = procfs_cpu_ns() - c0;
	return rc;
out_err:
	s->ns = mono_ns() - t0;
	s->cpu_ns = procfs_cpu_ns() - c0;
	return e;
}

int procfs_holders_scan(uint64_t ino, struct procfs_scan *s,
			int (*cb)(void *ctx, pid_t pid, int fd), void *ctx)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "socket:[%" PRIu64 "]", ino);
	struct want w = {buf, strlen(buf), 0, 0, 0};
	return holders_scan(&w, s, cb, ctx);
}

int procfs_pipe_holders_scan(uint64_t dev, uint64_t ino, struct procfs_scan *s,
			     int (*cb)(void *ctx, pid_t pid, int fd), void *ctx)
{
	char buf[48];
	snprintf(buf, sizeof(buf), "pipe:[%" PRIu64 "]", ino);
	/* an anonymous pipe (pipefs's) is only ever a pipe:[ino] link: no path
	 * link need be stat()ed for it */
	uint64_t pdev = pipefs_dev();
	struct want w = {buf, strlen(buf), !pdev || dev != pdev, dev, ino};
	return holders_scan(&w, s, cb, ctx);
}

int procfs_socket_holders(uint64_t ino, int (*cb)(void *ctx, pid_t pid, int fd), void *ctx)
{
	struct procfs_scan s = {.owner = (uid_t)-1};
	return procfs_holders_scan(ino, &s, cb, ctx);
}
