/*
 * kev.c — loads the kernel event programs (bpf/kev.bpf.c) through their
 * libbpf skeleton, which the build generates (Makefile "kernel events") and
 * reads their ring buffer (kev.h). Without BPF support at build time
 * (HT_KEV unset) kev_open() only says why the source is unavailable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "kev.h"

#ifdef HT_KEV
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <linux/types.h>

#include "bpf/kev_event.h"
#include "kev.skel.h"

struct kev_impl {
	struct kev_bpf *skel;
	struct ring_buffer *rb;
	int ncpu;
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

int kev_open(struct kev *k, int mode, unsigned ring_kb, uint64_t netns_ino)
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
	if (self_test(k) != 0)
		return -1;
	k->fd = ring_buffer__epoll_fd(im->rb);
	k->state = KEV_STATE_ON;
	k->why[0] = 0;
	return 0;
}

int kev_consume(struct kev *k)
{
	struct kev_impl *im = k->impl;
	if (k->state != KEV_STATE_ON || !im || !im->rb)
		return 0;
	int n = ring_buffer__consume(im->rb);
	return n < 0 ? 0 : n;
}

uint64_t kev_lost(const struct kev *k)
{
	const struct kev_impl *im = k->impl;
	if (k->state != KEV_STATE_ON || !im || !im->skel)
		return 0;
	__u64 v[im->ncpu];
	__u32 key = 0;
	uint64_t sum = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(im->skel->maps.lost), &key, v) != 0)
		return 0;
	for (int i = 0; i < im->ncpu; i++)
		sum += v[i];
	return sum;
}

void kev_close(struct kev *k)
{
	struct kev_impl *im = k->impl;
	if (im) {
		ring_buffer__free(im->rb);
		kev_bpf__destroy(im->skel);
		free(im);
	}
	k->impl = NULL;
	k->fd = -1;
}

#else /* built without BPF support */

int kev_open(struct kev *k, int mode, unsigned ring_kb, uint64_t netns_ino)
{
	(void)netns_ino;
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

void kev_close(struct kev *k)
{
	k->fd = -1;
}

#endif
