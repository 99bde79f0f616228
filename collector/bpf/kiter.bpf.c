// SPDX-License-Identifier: GPL-2.0
/*
 * kiter.bpf.c — hoptraced's descriptor iterators (collector/kiter.c reads
 * them; docs/collector.md "Kernel descriptor search"). One read of an
 * iterator made from a program's link runs it over every task, in the
 * kernel; it writes only what the reader asked for:
 *
 *   kiter_pipe (iter/task): the holders of the pipes and FIFOs whose inodes
 *   are in want_ino — one record (tgid, tid, fd, dev, ends, uids) per
 *   descriptor on one of them, of processes in target_netns only (as
 *   kev.bpf.c's events). A task of another namespace, or a thread sharing
 *   its leader's table, costs a few loads; a table is walked by its
 *   open_fds bitmap (an empty word: 64 slots at once).
 *
 *   kiter_fds (iter/task_file, a link made for one pid, want_tgid that pid):
 *   every descriptor that may be a channel end as /proc's procfs_fds reads
 *   them — socket, pipe, FIFO, pty slave (major 136-143), pty master (5:2)
 *   — of the group leader's table, or of each thread's when the leader has
 *   none (it ended: /proc reads a live thread's then); the kernel's
 *   task_file iterator skips a thread that shares its leader's table.
 *
 * A tick record every KITER_TICK_FDS descriptors lets the reader stop on its
 * budget (a read returns at its 8th record).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kiter_event.h"

#define S_IFMT 0170000
#define S_IFIFO 0010000
#define PIPEFS_MAGIC 0x50495045
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define OVERLAYFS_SUPER_MAGIC 0x794c7630
#define FUSE_SUPER_MAGIC 0x65735546
#define BTRFS_SUPER_MAGIC 0x9123683E
#define S_IFSOCK 0140000
#define S_IFCHR 0020000
#define MINORBITS 20
#define KITER_MAX_TABLE (1U << 20) /* descriptors a table is walked to */

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_netns = 0; /* the collector's netns inode */

/* set by the reader before each pass (one pass at a time: kiter.c's lock) */
__u64 want_ino[KITER_WANT_MAX];
__u32 want_n;
__u32 want_tgid;
/* out: descriptors and tasks visited in this pass (the reader zeroes them) */
__u64 visited;
__u64 tasks;
/* FIFOs seen on a file system whose stat() may give another device or
 * inode number than the open file's inode (overlayfs, FUSE, btrfs): a FIFO's
 * search is then /proc's (kiter.c) */
__u64 odd_fifos;
/* tasks whose table could not be read whole (a read failed, more matches
 * than one task's records hold, a table over KITER_MAX_TABLE): the pass is
 * no answer (kiter.c: /proc's search) */
__u64 faults;

static __always_inline int netns_ours_task(struct task_struct *t)
{
	struct nsproxy *ns = BPF_CORE_READ(t, nsproxy);
	if (!ns)
		return 0;
	return BPF_CORE_READ(ns, net_ns, ns.inum) == target_netns;
}

/* a holder search's walk of one task's table (bpf_loop over the open_fds
 * bitmap's words, then a word's bits) */
struct hwalk {
	struct file **fda;
	unsigned long *open;
	__u64 word;
	__u32 max, base;
	__u32 n;      /* matches in hscratch */
	__u32 fault;  /* a read failed, or more than KITER_TASK_MATCHES */
};

struct hmatch {
	__u64 ino;
	__s32 fd;
	__u32 dev;
	__u8 ends, fifo, pad[6];
};

#define KITER_TASK_MATCHES 64
struct hscratch_v {
	struct hmatch m[KITER_TASK_MATCHES];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hscratch_v);
} hscratch SEC(".maps");

static long hbit_one(__u64 j, void *ctx)
{
	struct hwalk *w = ctx;
	if (!(w->word >> j))
		return 1; /* no bit left */
	if (!((w->word >> j) & 1))
		return 0;
	__u32 fd = w->base + (__u32)j;
	struct file *f = 0;
	if (fd >= w->max)
		return 1;
	visited++;
	if (bpf_probe_read_kernel(&f, sizeof(f), &w->fda[fd])) {
		w->fault = 1;
		return 1;
	}
	if (!f)
		return 0; /* (being installed or closed) */
	struct inode *in = BPF_CORE_READ(f, f_inode);
	if (!in || (BPF_CORE_READ(in, i_mode) & S_IFMT) != S_IFIFO)
		return 0;
	__u64 ino = BPF_CORE_READ(in, i_ino);
	unsigned long magic = BPF_CORE_READ(in, i_sb, s_magic);
	if (magic == OVERLAYFS_SUPER_MAGIC || magic == FUSE_SUPER_MAGIC || magic == BTRFS_SUPER_MAGIC)
		odd_fifos++;
	__u32 n = want_n, hit = 0;
	for (__u32 i = 0; i < KITER_WANT_MAX; i++) {
		if (i >= n)
			break;
		if (want_ino[i] == ino)
			hit = 1;
	}
	if (!hit)
		return 0;
	__u32 k = 0;
	struct hscratch_v *sc = bpf_map_lookup_elem(&hscratch, &k);
	__u32 m = w->n;
	if (!sc || m >= KITER_TASK_MATCHES) {
		w->fault = 1;
		return 1;
	}
	unsigned int fm = BPF_CORE_READ(f, f_mode);
	sc->m[m].ino = ino;
	sc->m[m].fd = (__s32)fd;
	sc->m[m].dev = BPF_CORE_READ(in, i_sb, s_dev);
	sc->m[m].ends = (fm & FMODE_READ ? KITER_END_R : 0) | (fm & FMODE_WRITE ? KITER_END_W : 0);
	sc->m[m].fifo = magic != PIPEFS_MAGIC;
	w->n = m + 1;
	return 0;
}

static long hword_one(__u64 i, void *ctx)
{
	struct hwalk *w = ctx;
	if (i * 64 >= w->max)
		return 1;
	if (bpf_probe_read_kernel(&w->word, sizeof(w->word), &w->open[i])) {
		w->fault = 1;
		return 1;
	}
	if (!w->word)
		return 0;
	w->base = (__u32)i * 64;
	bpf_loop(64, hbit_one, w, 0);
	return w->fault ? 1 : 0;
}

/* The holders of want_ino's pipes and FIFOs: per task (a thread sharing its
 * leader's table skipped; another namespace's skipped before its table is
 * looked at), the table's open descriptors by the open_fds bitmap, 64 at a
 * time — so the pass costs per task of this namespace and per open
 * descriptor of its, not per descriptor of the machine. */
SEC("iter/task")
int kiter_pipe(struct bpf_iter__task *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *t = ctx->task;
	struct kiter_rec r = {};
	if (!t)
		return 0;
	struct task_struct *l = BPF_CORE_READ(t, group_leader);
	struct files_struct *fs = BPF_CORE_READ(t, files);
	if (!fs || (l != t && BPF_CORE_READ(l, files) == fs))
		return 0;
	if (!netns_ours_task(t))
		return 0;
	tasks++;
	__u64 v0 = visited;
	struct fdtable *fdt = BPF_CORE_READ(fs, fdt);
	struct hwalk w = {.fda = BPF_CORE_READ(fdt, fd), .open = BPF_CORE_READ(fdt, open_fds),
			  .max = BPF_CORE_READ(fdt, max_fds)};
	if (!fdt || !w.fda || !w.open)
		return 0;
	if (w.max > KITER_MAX_TABLE) {
		faults++; /* (a table this large: /proc's search) */
		return 0;
	}
	bpf_loop((w.max + 63) / 64, hword_one, &w, 0);
	if (w.fault)
		faults++;
	__u32 k = 0;
	struct hscratch_v *sc = bpf_map_lookup_elem(&hscratch, &k);
	if (sc) {
		const struct cred *c = BPF_CORE_READ(t, real_cred);
		__u32 uid = BPF_CORE_READ(c, uid.val);
		r.type = KITER_REC_PIPE;
		r.tgid = BPF_CORE_READ(t, tgid);
		r.tid = BPF_CORE_READ(t, pid);
		r.uid = uid;
		r.same_uids = BPF_CORE_READ(c, euid.val) == uid && BPF_CORE_READ(c, suid.val) == uid &&
			      BPF_CORE_READ(c, fsuid.val) == uid;
		for (__u32 i = 0; i < KITER_TASK_MATCHES; i++) {
			if (i >= w.n)
				break;
			r.ino = sc->m[i].ino;
			r.fd = sc->m[i].fd;
			r.dev = sc->m[i].dev;
			r.ends = sc->m[i].ends;
			r.fifo = sc->m[i].fifo;
			bpf_seq_write(seq, &r, sizeof(r));
		}
	}
	if (visited / KITER_TICK_FDS != v0 / KITER_TICK_FDS) {
		__builtin_memset(&r, 0, sizeof(r));
		r.type = KITER_REC_TICK;
		bpf_seq_write(seq, &r, sizeof(r));
	}
	return 0;
}

SEC("iter/task_file")
int kiter_fds(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *t = ctx->task;
	struct file *f = ctx->file;
	struct kiter_rec r = {};
	if (!t || !f)
		return 0;
	__u64 v = ++visited;
	if ((v % KITER_TICK_FDS) == 0) {
		r.type = KITER_REC_TICK;
		bpf_seq_write(seq, &r, sizeof(r));
	}
	if ((__u32)BPF_CORE_READ(t, tgid) != want_tgid)
		return 0;
	struct task_struct *l = BPF_CORE_READ(t, group_leader);
	if (l != t && BPF_CORE_READ(l, files))
		return 0; /* a thread's own table: /proc shows the leader's */
	struct inode *in = BPF_CORE_READ(f, f_inode);
	if (!in)
		return 0;
	unsigned int mode = BPF_CORE_READ(in, i_mode) & S_IFMT;
	__u8 kind;
	if (mode == S_IFSOCK) {
		kind = KITER_FD_SOCK;
	} else if (mode == S_IFIFO) {
		kind = BPF_CORE_READ(in, i_sb, s_magic) == PIPEFS_MAGIC ? KITER_FD_PIPE : KITER_FD_FIFO;
	} else if (mode == S_IFCHR) {
		__u32 rdev = BPF_CORE_READ(in, i_rdev), maj = rdev >> MINORBITS;
		if (maj >= 136 && maj <= 143)
			kind = KITER_FD_PTS;
		else if (maj == 5 && (rdev & ((1U << MINORBITS) - 1)) == 2)
			kind = KITER_FD_PTMX;
		else
			return 0;
		r.dev = rdev;
	} else {
		return 0;
	}
	r.type = KITER_REC_FD;
	r.fifo = kind;
	r.ino = BPF_CORE_READ(in, i_ino);
	r.tgid = want_tgid;
	r.tid = BPF_CORE_READ(t, pid);
	r.fd = (__s32)ctx->fd;
	bpf_seq_write(seq, &r, sizeof(r));
	return 0;
}
