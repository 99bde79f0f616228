/*
 * kev.c — loads the kernel event programs (bpf/kev.bpf.c) through their
 * libbpf skeleton, which the build generates (Makefile "kernel events") and
 * reads their ring buffer (kev.h). Loading: open, the netns and the ring's
 * size set, load, attach the raw tracepoints, the accept tracepoints by id
 * when asked (attach_accept), then a self-test: our own fork must come back
 * naming us. Any failure leaves the source unavailable with the reason.
 * Without BPF support at build time (HT_KEV unset) kev_open() only says why
 * the source is unavailable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/mman.h>

#include "hoptrace/log.h"
#include "kev.h"

#ifdef HT_KEV
#include <linux/perf_event.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <linux/types.h>

#include "bpf/kev_event.h"
#include "kev.skel.h"

struct kev_impl {
	struct kev_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *accept[2]; /* syscalls/sys_exit_accept, sys_exit_accept4 */
	int ncpu;
	/* the ring's consumer and producer positions (read-only mappings of
	 * its first two pages, beside libbpf's): kev_caught_up */
	void *cons_page, *prod_page;
	long page;
	int lost_seen;              /* kev_lost() was non-zero once: never caught up */
	/* uid_lost as last read (kev_uid_lost): each uid's count then */
	uint64_t uid_sum;
	struct {
		uint32_t uid;
		uint64_t n;     /* 0: slot empty */
	} uids[KEV_UID_SEEN];
};

static int on_record(void *ctx, void *data, size_t n)
{
	kev_take(ctx, data, n);
	return 0;
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

static int fail(struct kev *k, const char *what, int err)
{
	snprintf(k->why, sizeof(k->why), "%s: %s", what, strerror(err < 0 ? -err : err));
	kev_close(k);
	k->state = KEV_STATE_UNAVAILABLE;
	return -1;
}

/* The id of tracepoint syscalls/NAME under tracefs root dir: > 0, or -1 */
static long tp_id(const char *dir, const char *name)
{
	char path[256];
	long id = -1;
	snprintf(path, sizeof(path), "%s/events/syscalls/%s/id", dir, name);
	FILE *f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &id) != 1)
			id = -1;
		fclose(f);
	}
	return id;
}

/* The two accept tracepoints' ids: from tracefs where it is mounted, else
 * from one mounted for the moment in a private directory (a host made with
 * `ip netns exec` has a fresh /sys without it). 0, or -1 with why. */
static int accept_ids(long ids[2], char *why, size_t n)
{
	static const char *const roots[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
	static const char *const names[2] = {"sys_exit_accept", "sys_exit_accept4"};
	for (size_t r = 0; r < sizeof(roots) / sizeof(roots[0]); r++) {
		ids[0] = tp_id(roots[r], names[0]);
		ids[1] = tp_id(roots[r], names[1]);
		if (ids[0] > 0 && ids[1] > 0)
			return 0;
	}
	char dir[] = "/tmp/hoptraced-tracefs.XXXXXX";
	if (!mkdtemp(dir)) {
		snprintf(why, n, "no tracefs, and no directory to mount one: %s", strerror(errno));
		return -1;
	}
	int rc = -1;
	if (mount("tracefs", dir, "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) {
		snprintf(why, n, "no tracefs, and mounting one failed: %s", strerror(errno));
	} else {
		ids[0] = tp_id(dir, names[0]);
		ids[1] = tp_id(dir, names[1]);
		rc = ids[0] > 0 && ids[1] > 0 ? 0 : -1;
		if (rc)
			snprintf(why, n, "tracefs has no syscalls/sys_exit_accept{,4} (CONFIG_FTRACE_SYSCALLS?)");
		umount2(dir, MNT_DETACH);
	}
	rmdir(dir);
	return rc;
}

/* accept events: the programs on the two syscalls' exit tracepoints (only
 * those syscalls run them). Without them the other events stay on. */
static void attach_accept(struct kev *k)
{
	struct kev_impl *im = k->impl;
	struct bpf_program *progs[2] = {im->skel->progs.kev_accept, im->skel->progs.kev_accept4};
	long ids[2];
	if (accept_ids(ids, k->accept_why, sizeof(k->accept_why)) != 0)
		return;
	for (int i = 0; i < 2; i++) {
		struct perf_event_attr a = {.type = PERF_TYPE_TRACEPOINT, .size = sizeof(a),
					    .config = (__u64)ids[i], .sample_period = 1,
					    .wakeup_events = 1};
		int pfd = (int)syscall(SYS_perf_event_open, &a, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
		if (pfd < 0) {
			snprintf(k->accept_why, sizeof(k->accept_why), "perf_event_open: %s",
				 strerror(errno));
			return;
		}
		im->accept[i] = bpf_program__attach_perf_event(progs[i], pfd);
		if (!im->accept[i]) {
			snprintf(k->accept_why, sizeof(k->accept_why), "attach: %s", strerror(errno));
			close(pfd);
			return;
		}
	}
	k->accept_why[0] = 0;
}

/* The programs report pids as the initial pid namespace numbers them: a
 * collector in another (a container) would take every event for another
 * process. One fork, end to end: its event must name us and the child. */
static int self_test(struct kev *k)
{
	struct kev_impl *im = k->impl;
	pid_t me = getpid(), ch = fork();
	if (ch < 0)
		return fail(k, "self-test: fork", errno);
	if (ch == 0)
		_exit(0);
	while (waitpid(ch, NULL, 0) < 0 && errno == EINTR)
		;
	for (int i = 0; i < 20; i++) { /* 200 ms at most */
		/* (the programs wake no one before a quarter of the ring: read it) */
		if (i)
			usleep(10000);
		ring_buffer__consume(im->rb);
		uint64_t n = k->recent_n < KEV_RECENT ? k->recent_n : KEV_RECENT;
		for (uint64_t j = 0; j < n; j++) {
			const struct kev_ev *e = &k->recent[j];
			if (e->type == KEV_FORK && e->ptgid == me && e->tgid == ch)
				return 0;
		}
	}
	snprintf(k->why, sizeof(k->why),
		 "self-test: no fork event for this collector's own child (pid %d) — "
		 "another pid namespace than the kernel's?", (int)ch);
	kev_close(k);
	k->state = KEV_STATE_UNAVAILABLE;
	return -1;
}

int kev_open(struct kev *k, int mode, unsigned ring_kb, uint64_t netns_ino, int accept, int sockets)
{
	struct kev_impl *im;
	int err;

	k->mode = mode;
	k->ring_kb = ring_kb;
	k->fd = -1;
	if (mode == KEV_MODE_OFF) {
		k->state = KEV_STATE_OFF;
		snprintf(k->why, sizeof(k->why), "kernel_events = off");
		return 0;
	}
	k->state = KEV_STATE_UNAVAILABLE;
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(k->why, sizeof(k->why), "no kernel BTF (/sys/kernel/btf/vmlinux: %s)",
			 strerror(errno));
		return -1;
	}
	if (!(im = calloc(1, sizeof(*im))) || !(k->recent = calloc(KEV_RECENT, sizeof(*k->recent)))) {
		free(im);
		snprintf(k->why, sizeof(k->why), "out of memory");
		return -1;
	}
	k->impl = im;
	libbpf_set_print(libbpf_print);
	if (!(im->skel = kev_bpf__open()))
		return fail(k, "open", errno);
	im->skel->rodata->target_netns = (__u32)netns_ino;
	/* the accept tracepoints are attached by id (attach_accept), or not loaded */
	bpf_program__set_autoattach(im->skel->progs.kev_accept, false);
	bpf_program__set_autoattach(im->skel->progs.kev_accept4, false);
	bpf_program__set_autoload(im->skel->progs.kev_accept, accept);
	bpf_program__set_autoload(im->skel->progs.kev_accept4, accept);
	/* (kernel_events_sockets = off: neither socket tracepoint is attached) */
	bpf_program__set_autoload(im->skel->progs.kev_data_ready, sockets);
	bpf_program__set_autoload(im->skel->progs.kev_recv, sockets);
	k->sockets = sockets;
	err = bpf_map__set_max_entries(im->skel->maps.events, ring_kb * 1024u);
	if (err)
		return fail(k, "ring size", err);
	if ((err = kev_bpf__load(im->skel)))
		return fail(k, "load (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)", err);
	if ((err = kev_bpf__attach(im->skel)))
		return fail(k, "attach (raw tracepoints)", err);
	im->rb = ring_buffer__new(bpf_map__fd(im->skel->maps.events), on_record, k, NULL);
	if (!im->rb)
		return fail(k, "ring buffer", errno);
	im->ncpu = libbpf_num_possible_cpus();
	if (im->ncpu <= 0)
		im->ncpu = 1;
	if (accept)
		attach_accept(k);
	else
		snprintf(k->accept_why, sizeof(k->accept_why), "kernel_events_accept = off");
	if (self_test(k) != 0)
		return -1;
	im->page = sysconf(_SC_PAGESIZE);
	int mfd = bpf_map__fd(im->skel->maps.events);
	im->cons_page = mmap(NULL, (size_t)im->page, PROT_READ, MAP_SHARED, mfd, 0);
	im->prod_page = mmap(NULL, (size_t)im->page, PROT_READ, MAP_SHARED, mfd, im->page);
	if (im->cons_page == MAP_FAILED || im->prod_page == MAP_FAILED) {
		if (im->cons_page != MAP_FAILED)
			munmap(im->cons_page, (size_t)im->page);
		if (im->prod_page != MAP_FAILED)
			munmap(im->prod_page, (size_t)im->page);
		im->cons_page = im->prod_page = NULL; /* never caught up: /proc asked */
	}
	k->fd = ring_buffer__epoll_fd(im->rb);
	k->state = KEV_STATE_ON;
	k->why[0] = 0;
	return 0;
}

void kev_self(struct kev *k, pid_t pid)
{
	struct kev_impl *im = k->impl;
	if (k->state == KEV_STATE_ON && im && im->skel && im->skel->bss)
		im->skel->bss->self_tgid = (__u32)pid;
}

int kev_consume(struct kev *k)
{
	struct kev_impl *im = k->impl;
	if (k->state != KEV_STATE_ON || !im || !im->rb)
		return 0;
	int n = ring_buffer__consume(im->rb);
	return n < 0 ? 0 : n;
}

/* Has the last kev_consume read every event the programs had reserved by
 * now (none reserved since, none left busy), and none ever found the ring
 * full? Then every fork, exec and exit that happened before a record now in
 * hand was read (each is written before the process it names can run on, or
 * its pid be reused). */
int kev_caught_up(struct kev *k)
{
	struct kev_impl *im = k->impl;
	if (k->state != KEV_STATE_ON || !im || !im->cons_page || im->lost_seen)
		return 0;
	unsigned long cons = __atomic_load_n((unsigned long *)im->cons_page, __ATOMIC_ACQUIRE);
	unsigned long prod = __atomic_load_n((unsigned long *)im->prod_page, __ATOMIC_ACQUIRE);
	if (cons != prod)
		return 0; /* a record still reserved (busy), or written since */
	if (im->skel && im->skel->bss ? __atomic_load_n(&im->skel->bss->any_loss, __ATOMIC_RELAXED) != 0
				      : kev_lost(k) || kev_ring_full(k) || kev_uid_lost_sum(k)) {
		/* any loss, a uid's rationed one too: an event of that uid's
		 * may be missing, so nothing is caught up from now on */
		im->lost_seen = 1;
		return 0;
	}
	return 1;
}

/* remembers uid's count n; 1 if it grew (or is new), 0 if not */
static int uid_seen(struct kev_impl *im, uint32_t uid, uint64_t n)
{
	unsigned h = (uid * 2654435761u) % KEV_UID_SEEN;
	for (unsigned i = 0; i < KEV_UID_SEEN; i++, h = (h + 1) % KEV_UID_SEEN) {
		if (im->uids[h].n && im->uids[h].uid != uid)
			continue;
		int grew = n > im->uids[h].n || !im->uids[h].n;
		im->uids[h].uid = uid;
		if (n > im->uids[h].n)
			im->uids[h].n = n;
		return grew;
	}
	return 1; /* (full: taken as grown) */
}

int kev_uid_lost(struct kev *k, void (*fn)(void *ctx, uint32_t uid), void *ctx)
{
	struct kev_impl *im = k->impl;
	if (k->state != KEV_STATE_ON || !im || !im->skel)
		return 0;
	__u32 key = 0;
	__u64 sum = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(im->skel->maps.uid_lost_sum), &key, &sum) != 0 ||
	    sum == im->uid_sum)
		return 0;
	im->uid_sum = sum;
	int fd = bpf_map__fd(im->skel->maps.uid_lost), found = 0;
	__u32 uid, next;
	__u32 *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		__u64 n;
		uid = next;
		prev = &uid;
		if (bpf_map_lookup_elem(fd, &uid, &n) == 0 && uid_seen(im, uid, n)) {
			fn(ctx, uid);
			found++;
		}
	}
	return found ? found : -1;
}

uint64_t kev_uid_lost_sum(const struct kev *k)
{
	const struct kev_impl *im = k->impl;
	__u32 key = 0;
	__u64 sum = 0;
	if (k->state != KEV_STATE_ON || !im || !im->skel ||
	    bpf_map_lookup_elem(bpf_map__fd(im->skel->maps.uid_lost_sum), &key, &sum) != 0)
		return 0;
	return sum;
}

static uint64_t percpu_sum(const struct kev *k, int fd)
{
	const struct kev_impl *im = k->impl;
	__u64 v[im->ncpu];
	__u32 key = 0;
	uint64_t sum = 0;
	if (bpf_map_lookup_elem(fd, &key, v) != 0)
		return 0;
	for (int i = 0; i < im->ncpu; i++)
		sum += v[i];
	return sum;
}

uint64_t kev_lost(const struct kev *k)
{
	const struct kev_impl *im = k->impl;
	if (k->state != KEV_STATE_ON || !im || !im->skel)
		return 0;
	return percpu_sum(k, bpf_map__fd(im->skel->maps.lost));
}

uint64_t kev_ring_full(const struct kev *k)
{
	const struct kev_impl *im = k->impl;
	if (k->state != KEV_STATE_ON || !im || !im->skel)
		return 0;
	return percpu_sum(k, bpf_map__fd(im->skel->maps.ring_full));
}

void kev_close(struct kev *k)
{
	struct kev_impl *im = k->impl;
	if (im) {
		for (int i = 0; i < 2; i++)
			bpf_link__destroy(im->accept[i]);
		if (im->cons_page)
			munmap(im->cons_page, (size_t)im->page);
		if (im->prod_page)
			munmap(im->prod_page, (size_t)im->page);
		ring_buffer__free(im->rb);
		kev_bpf__destroy(im->skel);
		free(im);
	}
	k->impl = NULL;
	k->fd = -1;
}

#else /* built without BPF support */

int kev_open(struct kev *k, int mode, unsigned ring_kb, uint64_t netns_ino, int accept, int sockets)
{
	(void)netns_ino;
	(void)accept;
	(void)sockets;
	k->mode = mode;
	k->ring_kb = ring_kb;
	k->fd = -1;
	if (mode == KEV_MODE_OFF) {
		k->state = KEV_STATE_OFF;
		snprintf(k->why, sizeof(k->why), "kernel_events = off");
		return 0;
	}
	k->state = KEV_STATE_UNAVAILABLE;
	snprintf(k->why, sizeof(k->why), "built without BPF support (" HT_KEV_MISSING ")");
	return -1;
}

void kev_self(struct kev *k, pid_t pid)
{
	(void)k;
	(void)pid;
}

int kev_consume(struct kev *k)
{
	(void)k;
	return 0;
}

uint64_t kev_lost(const struct kev *k)
{
	(void)k;
	return 0;
}

int kev_caught_up(struct kev *k)
{
	(void)k;
	return 0;
}

uint64_t kev_ring_full(const struct kev *k)
{
	(void)k;
	return 0;
}

int kev_uid_lost(struct kev *k, void (*fn)(void *ctx, uint32_t uid), void *ctx)
{
	(void)k;
	(void)fn;
	(void)ctx;
	return 0;
}

uint64_t kev_uid_lost_sum(const struct kev *k)
{
	(void)k;
	return 0;
}

void kev_close(struct kev *k)
{
	k->fd = -1;
}

#endif
