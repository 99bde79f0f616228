/*
 * kiter.c — the kernel descriptor search (kiter.h; the program in
 * bpf/kiter.bpf.c; docs/collector.md "Kernel descriptor search"). One link
 * is kept (made once: an iterator made from it costs a few µs); a search
 * sets the inode it wants in the program's .bss (mapped), makes an iterator
 * from the link and reads it to the end: the program walks every task of
 * the namespace's table, writes the matches and a tick every KITER_TICK_FDS
 * descriptors, so the reader checks its budget between reads. One pass at a
 * time (ki->mu: the wanted inode and the counters are the program's globals).
 * A process's table (kiter_fds) is a pass of the second program through a link
 * made for that pid alone (union bpf_iter_link_info .task.pid, 6.1+).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "hoptrace/procfs.h"
#include "hoptrace/record.h"
#include "kiter.h"

#ifdef HT_KEV
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <linux/types.h>

#include "bpf/kiter_event.h"
#include "kiter.skel.h"

#define KITER_MAX_HITS 65536 /* matches one pass keeps; more: /proc's search */
#define KITER_MAX_RETRIES 1000

struct kiter {
	struct kiter_bpf *skel;
	struct bpf_link *link;
	uint64_t netns;
	pthread_mutex_t mu;
	struct kiter_stats st;
	int no_pid_filter; /* a link for one pid refused (before 6.1): /proc's reads */
};

struct hit {
	pid_t tgid, tid;
	int fd;
	uid_t uid;
	uint8_t same_uids, fifo;
};

static int over_budget(const struct procfs_scan *s, uint64_t fds)
{
	return (s->max_fds && fds >= s->max_fds) ||
	       (s->deadline_ns && procfs_mono_ns() >= s->deadline_ns) ||
	       (s->cpu_deadline_ns && procfs_cpu_ns() >= s->cpu_deadline_ns);
}

/* Reads an iterator's records to the end: each(ctx, r) for every record
 * (<0 stops the read with that error), stop(ctx) after each read (nonzero:
 * stop there). 0 read to the end, 1 stopped, or -errno. */
static int iter_read(int fd, int (*each)(void *ctx, const struct kiter_rec *r),
		     int (*stop)(void *ctx), void *ctx)
{
	struct kiter_rec r[8];
	int retries = 0;
	for (;;) {
		ssize_t k = read(fd, r, sizeof(r));
		if (k < 0) {
			/* EAGAIN: a million descriptors with no record between
			 * (none can be: a tick every KITER_TICK_FDS) */
			if ((errno == EINTR || errno == EAGAIN) && ++retries < KITER_MAX_RETRIES)
				continue;
			return -errno;
		}
		if (k == 0)
			return 0;
		if ((size_t)k % sizeof(r[0]))
			return -EPROTO;
		for (size_t i = 0; i < (size_t)k / sizeof(r[0]); i++) {
			int rc = each(ctx, &r[i]);
			if (rc < 0)
				return rc;
		}
		if (stop(ctx))
			return 1;
	}
}

/* A pass's matches, grown by doubling up to max entries of size sz */
struct grow {
	void *v;
	size_t n, cap, sz, first, max;
};

static void *grow_slot(struct grow *g)
{
	if (g->n == g->cap) {
		size_t nc = g->cap ? g->cap * 2 : g->first;
		void *t = nc <= g->max ? realloc(g->v, nc * g->sz) : NULL;
		if (!t)
			return NULL;
		g->v = t;
		g->cap = nc;
	}
	return (char *)g->v + g->n++ * g->sz;
}

struct pass_ctx {
	struct grow g;
	uint64_t ino;
	const struct procfs_scan *s;
	struct kiter_bpf__bss *b;
};

static int pass_each(void *ctx, const struct kiter_rec *r)
{
	struct pass_ctx *x = ctx;
	if (r->type != KITER_REC_PIPE || r->ino != x->ino)
		return 0;
	struct hit *h = grow_slot(&x->g);
	if (!h)
		return -ENOMEM;
	*h = (struct hit){.tgid = (pid_t)r->tgid, .tid = (pid_t)r->tid, .fd = r->fd, .uid = r->uid,
			  .same_uids = r->same_uids, .fifo = r->fifo};
	return 0;
}

static int pass_stop(void *ctx)
{
	struct pass_ctx *x = ctx;
	return over_budget(x->s, x->b->visited);
}

/* One pass for ino: its matches in *out (*n), *cut when s's budget stopped
 * it. 0 or -errno (the pass failed: nothing it found is the whole). */
static int pass(struct kiter *ki, uint64_t ino, const struct procfs_scan *s, struct hit **out,
		size_t *n, int *cut)
{
	struct kiter_bpf__bss *b = ki->skel->bss;
	struct pass_ctx x = {{NULL, 0, 0, sizeof(struct hit), 16, KITER_MAX_HITS}, ino, s, b};

	*cut = 0;
	b->want_ino[0] = ino;
	b->want_n = 1;
	b->visited = b->tasks = b->odd_fifos = b->faults = 0;
	int fd = bpf_iter_create(bpf_link__fd(ki->link));
	if (fd < 0)
		return -errno;
	int rc = iter_read(fd, pass_each, pass_stop, &x);
	close(fd);
	if (rc < 0) {
		free(x.g.v);
		return rc;
	}
	*cut = rc == 1;
	*out = x.g.v;
	*n = x.g.n;
	return 0;
}

static int hit_cmp(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;
	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	return 0;
}

/* A FIFO's holder as /proc's search has it: the descriptor's stat() names
 * (dev, ino) — the file system's numbers, not always the inode's */
static int fifo_is(const struct hit *h, uint64_t dev, uint64_t ino)
{
	char path[1200];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%d/task/%d/fd/%d", procfs_root(), (int)h->tgid,
		 (int)h->tid, h->fd);
	return stat(path, &sb) == 0 && S_ISFIFO(sb.st_mode) && (uint64_t)sb.st_dev == dev &&
	       (uint64_t)sb.st_ino == ino;
}

int kiter_pipe_holders(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
		       int (*cb)(void *cbctx, pid_t pid, int fd), void *cbctx)
{
	struct kiter *ki = ctx;
	uint64_t pdev = procfs_pipefs_dev();
	int fifo = !pdev || dev != pdev, cut = 0, rc;
	struct hit *v = NULL;
	size_t n = 0;
	uint64_t t0 = procfs_mono_ns(), c0 = procfs_cpu_ns(), odd;

	if (!ki || s->netns != ki->netns) /* (0: every namespace's, as /proc's) */
		return procfs_pipe_holders_scan(dev, ino, s, cb, cbctx);
	pthread_mutex_lock(&ki->mu);
	ki->st.passes++;
	rc = pass(ki, ino, s, &v, &n, &cut);
	odd = ki->skel->bss->odd_fifos;
	if (rc == 0 && ki->skel->bss->faults)
		rc = -EIO; /* a table not read whole: no answer */
	s->fds = ki->skel->bss->visited;
	s->procs = ki->skel->bss->tasks;
	if (rc < 0 || (fifo && odd))
		ki->st.fallbacks++;
	else if (cut)
		ki->st.cut++;
	pthread_mutex_unlock(&ki->mu);
	if (rc < 0 || (fifo && odd)) {
		/* (a FIFO on overlayfs, FUSE or btrfs seen: stat's numbers may
		 * not be the inode's — the match by inode could miss one) */
		free(v);
		return procfs_pipe_holders_scan(dev, ino, s, cb, cbctx);
	}
	s->incomplete = cut;
	s->why = cut ? PROCFS_SCAN_BUDGET : 0;
	s->pass = 0;
	qsort(v, n, sizeof(*v), hit_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && hit_cmp(&v[m - 1], &v[i]) == 0)
			continue; /* threads of one process with their own tables */
		if (fifo ? !v[i].fifo || !fifo_is(&v[i], dev, ino) : v[i].fifo)
			continue; /* (another thread's same fd may still be it) */
		v[m++] = v[i];
	}
	/* the owner's processes first (procfs_holders_scan's order), then
	 * the others — every holder: the pass read them all already */
	rc = 0;
	for (int p = 1; p <= 2 && rc == 0; p++) {
		for (size_t i = 0; i < m && rc == 0; i++) {
			int own = s->owner == (uid_t)-1 ||
				  (v[i].same_uids && v[i].uid == s->owner);
			if (own != (p == 1))
				continue;
			if (!s->pass)
				s->pass = p;
			rc = cb(cbctx, v[i].tgid, v[i].fd);
			if (p == 2 && s->first_only)
				break;
		}
	}
	free(v);
	s->ns = procfs_mono_ns() - t0;
	s->cpu_ns = procfs_cpu_ns() - c0;
	return rc;
}

/* ---- one process's table ------------------------------------------------- */

#define KITER_MAX_FDS (1u << 20) /* entries one read keeps (nr_open's default) */

struct fdrec {
	pid_t tid;
	int fd;
	uint8_t kind;
	uint32_t dev;
	uint64_t ino;
};

struct fds_ctx {
	struct grow g;
	pid_t pid;
	uint64_t cpu_deadline;
};

static int fds_each(void *ctx, const struct kiter_rec *r)
{
	struct fds_ctx *x = ctx;
	if (r->type != KITER_REC_FD || r->tgid != (__u32)x->pid)
		return 0;
	struct fdrec *f = grow_slot(&x->g);
	if (!f)
		return -ENOMEM;
	*f = (struct fdrec){.tid = (pid_t)r->tid, .fd = r->fd, .kind = r->fifo, .dev = r->dev,
			    .ino = r->ino};
	return 0;
}

static int fds_stop(void *ctx)
{
	const struct fds_ctx *x = ctx;
	return x->cpu_deadline && procfs_cpu_ns() >= x->cpu_deadline;
}

/* The pass over pid's files: its entries in *out (*n), 1 when the CPU
 * deadline stopped it, or -errno */
static int fds_pass(struct kiter *ki, pid_t pid, uint64_t cpu_deadline, struct fdrec **out, size_t *n)
{
	struct kiter_bpf__bss *b = ki->skel->bss;
	LIBBPF_OPTS(bpf_iter_attach_opts, o);
	union bpf_iter_link_info li;
	struct fds_ctx x = {{NULL, 0, 0, sizeof(struct fdrec), 64, KITER_MAX_FDS}, pid, cpu_deadline};
	int rc;

	memset(&li, 0, sizeof(li));
	li.task.pid = (__u32)pid;
	o.link_info = &li;
	o.link_info_len = sizeof(li);
	b->want_tgid = (__u32)pid;
	b->visited = 0;
	struct bpf_link *l = bpf_program__attach_iter(ki->skel->progs.kiter_fds, &o);
	if (!l) {
		rc = -errno;
		if (rc == -EINVAL || rc == -EOPNOTSUPP)
			ki->no_pid_filter = 1;
		return rc;
	}
	int fd = bpf_iter_create(bpf_link__fd(l));
	if (fd < 0) {
		rc = -errno;
		bpf_link__destroy(l);
		return rc;
	}
	rc = iter_read(fd, fds_each, fds_stop, &x);
	close(fd);
	bpf_link__destroy(l);
	if (rc < 0) {
		free(x.g.v);
		return rc;
	}
	*out = x.g.v;
	*n = x.g.n;
	return rc;
}

int kiter_fds(void *ctx, pid_t pid, uint64_t cpu_deadline_ns,
	      int (*cb)(void *cbctx, int fd, const struct ht_chan *c), void *cbctx)
{
	struct kiter *ki = ctx;
	struct fdrec *v = NULL;
	size_t n = 0;
	uint64_t pdev = procfs_pipefs_dev();
	if (!ki || pid <= 0 || !pdev || ki->no_pid_filter)
		return procfs_fds_until(pid, cpu_deadline_ns, cb, cbctx);
	pthread_mutex_lock(&ki->mu);
	ki->st.fd_reads++;
	int rc = fds_pass(ki, pid, cpu_deadline_ns, &v, &n);
	if (rc < 0)
		ki->st.fd_fallbacks++;
	pthread_mutex_unlock(&ki->mu);
	if (rc < 0)
		return procfs_fds_until(pid, cpu_deadline_ns, cb, cbctx);
	if (!n && kill(pid, 0) != 0 && errno == ESRCH) {
		free(v);
		return -ENOENT; /* as /proc/PID/fd's opendir: no such process */
	}
	/* the leader's table; without it (it ended) one live thread's, the
	 * first (as procfs_other_thread) */
	pid_t tid = pid;
	int leader = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].tid == pid)
			leader = 1;
		else if (tid == pid || v[i].tid < tid)
			tid = v[i].tid;
	}
	if (leader)
		tid = pid;
	int cut = rc, out = 0;
	for (size_t i = 0; i < n && !out; i++) {
		struct ht_chan c;
		if (v[i].tid != tid)
			continue;
		if (cpu_deadline_ns && (i & 63) == 63 && procfs_cpu_ns() >= cpu_deadline_ns) {
			cut = 1;
			break;
		}
		memset(&c, 0, sizeof(c));
		switch (v[i].kind) {
		case KITER_FD_SOCK:
			c.kind = HT_CHAN_SOCK;
			c.ino = v[i].ino;
			break;
		case KITER_FD_PIPE:
			c.kind = HT_CHAN_PIPE;
			c.dev = pdev;
			c.ino = v[i].ino;
			break;
		case KITER_FD_PTS: {
			unsigned maj = v[i].dev >> 20, min = v[i].dev & 0xfffff;
			c.kind = HT_CHAN_PTY;
			c.ino = (uint64_t)(maj - 136) * 256 + min;
			break;
		}
		default:
			/* a FIFO (stat's numbers), a pty master (fdinfo's index):
			 * /proc's word for that one entry */
			if (procfs_fd_chan(tid, v[i].fd, &c) != 0)
				continue;
			break;
		}
		out = cb(cbctx, v[i].fd, &c);
	}
	free(v);
	if (out)
		return out;
	return cut ? 1 : 0;
}

/* libbpf's own messages: warnings only, through our log */
static int libbpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	if (lvl != LIBBPF_WARN)
		return 0;
	char b[512];
	vsnprintf(b, sizeof(b), fmt, ap);
	b[strcspn(b, "\n")] = 0;
	log_debug("libbpf: %s", b);
	return 0;
}

struct self_ctx {
	int fd, seen, other;
};

static int self_cb(void *ctx, pid_t pid, int fd)
{
	struct self_ctx *x = ctx;
	if (pid == getpid() && fd == x->fd)
		x->seen = 1;
	else
		x->other = 1;
	return 0;
}

/* A pipe of ours must come back as ours, its read end with our pid (the
 * kernel's pid numbers are ours; the namespace filter keeps us) */
static int self_test(struct kiter *ki, char *why, size_t n)
{
	int p[2];
	struct stat sb;
	if (pipe(p) != 0) {
		snprintf(why, n, "self-test: pipe: %s", strerror(errno));
		return -1;
	}
	struct self_ctx x = {p[0], 0, 0};
	struct procfs_scan s = {.owner = getuid()};
	int rc = -1;
	if (fstat(p[0], &sb) != 0) {
		snprintf(why, n, "self-test: fstat: %s", strerror(errno));
	} else {
		struct hit *v = NULL;
		size_t nv = 0;
		int cut;
		pthread_mutex_lock(&ki->mu);
		int e = pass(ki, (uint64_t)sb.st_ino, &s, &v, &nv, &cut);
		pthread_mutex_unlock(&ki->mu);
		for (size_t i = 0; e == 0 && i < nv; i++)
			self_cb(&x, v[i].tgid, v[i].fd);
		free(v);
		if (e < 0)
			snprintf(why, n, "self-test: pass: %s", strerror(-e));
		else if (!x.seen)
			snprintf(why, n, "self-test: our own pipe not found (another pid namespace?)");
		else
			rc = 0;
	}
	close(p[0]);
	close(p[1]);
	return rc;
}

struct kiter *kiter_open(uint64_t netns_ino, char *why, size_t n)
{
	struct kiter *ki = calloc(1, sizeof(*ki));
	int err;
	if (!ki) {
		snprintf(why, n, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&ki->mu, NULL);
	ki->netns = netns_ino;
	libbpf_set_print(libbpf_print);
	if (!(ki->skel = kiter_bpf__open())) {
		snprintf(why, n, "open: %s", strerror(errno));
		goto fail;
	}
	ki->skel->rodata->target_netns = (__u32)netns_ino;
	if ((err = kiter_bpf__load(ki->skel))) {
		snprintf(why, n, "load (iter/task_file; needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN): %s",
			 strerror(-err));
		goto fail;
	}
	if (!ki->skel->bss) {
		snprintf(why, n, "its globals are not mapped (BPF_F_MMAPABLE)");
		goto fail;
	}
	if (!(ki->link = bpf_program__attach_iter(ki->skel->progs.kiter_pipe, NULL))) {
		snprintf(why, n, "attach (iter link): %s", strerror(errno));
		goto fail;
	}
	if (self_test(ki, why, n) != 0)
		goto fail;
	return ki;
fail:
	kiter_close(ki);
	return NULL;
}

void kiter_close(struct kiter *ki)
{
	if (!ki)
		return;
	bpf_link__destroy(ki->link);
	kiter_bpf__destroy(ki->skel);
	pthread_mutex_destroy(&ki->mu);
	free(ki);
}

void kiter_stats(const struct kiter *ki, struct kiter_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (ki)
		*st = ki->st;
}

#else /* built without BPF support */

struct kiter {
	int unused;
};

struct kiter *kiter_open(uint64_t netns_ino, char *why, size_t n)
{
	(void)netns_ino;
	snprintf(why, n, "built without BPF support (" HT_KEV_MISSING ")");
	return NULL;
}

void kiter_close(struct kiter *ki)
{
	(void)ki;
}

int kiter_pipe_holders(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
		       int (*cb)(void *cbctx, pid_t pid, int fd), void *cbctx)
{
	(void)ctx;
	return procfs_pipe_holders_scan(dev, ino, s, cb, cbctx);
}

int kiter_fds(void *ctx, pid_t pid, uint64_t cpu_deadline_ns,
	      int (*cb)(void *cbctx, int fd, const struct ht_chan *c), void *cbctx)
{
	(void)ctx;
	return procfs_fds_until(pid, cpu_deadline_ns, cb, cbctx);
}

void kiter_stats(const struct kiter *ki, struct kiter_stats *st)
{
	(void)ki;
	memset(st, 0, sizeof(*st));
}

#endif
