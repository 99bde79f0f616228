// SPDX-License-Identifier: GPL-2.0
/*
 * kiter.bpf.c — hoptraced's descriptor iterator (collector/kiter.c reads it;
 * docs/collector.md "Kernel descriptor search"). An iter/task_file program:
 * one read of an iterator made from its link visits every task's every open
 * file in the kernel, and writes only what the reader asked for:
 *
 *   the holders of the pipes and FIFOs whose inodes are in want_ino: one
 *   record (tgid, fd, dev, ends, uid) per descriptor on one of them, of
 *   processes in target_netns only (as kev.bpf.c's events).
 *
 * and kiter_fds, one process's table (a link made for its pid, want_tgid
 * that pid): every descriptor that may be a channel end as /proc's
 * procfs_fds reads them — socket, pipe, FIFO, pty slave (major 136-143), pty
 * master (5:2) — of the group leader's table, or of each thread's when the
 * leader has none (it ended: /proc reads a live thread's then).
 *
 * The kernel's task_file iterator visits a thread only when its fd table is
 * not its group leader's (a thread sharing it is skipped); one whose leader
 * ended is visited — the reader merges those (same tgid, fd). A tick record
 * every KITER_TICK_FDS descriptors lets the reader stop on its budget (a
 * read returns at its first record).
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
/* the last task seen, and whether it is in target_netns */
__u64 last_task;
__u32 last_tid;
__u32 last_ours;

static __always_inline int netns_ours_task(struct task_struct *t)
{
	struct nsproxy *ns = BPF_CORE_READ(t, nsproxy);
	if (!ns)
		return 0;
	return BPF_CORE_READ(ns, net_ns, ns.inum) == target_netns;
}

SEC("iter/task_file")
int kiter_pipe(struct bpf_iter__task_file *ctx)
{
	struct seq_file *seq = ctx->meta->seq;
	struct task_struct *t = ctx->task;
	struct file *f = ctx->file;
	struct kiter_rec r = {};
	if (!t || !f)
		return 0;
	__u32 tid = BPF_CORE_READ(t, pid);
	if ((__u64)t != last_task || tid != last_tid) {
		/* (the pid too: a task freed and another made at its address
		 * between two visits is another task) */
		last_task = (__u64)t;
		last_tid = tid;
		last_ours = netns_ours_task(t);
		tasks++;
	}
	__u64 v = ++visited;
	if (last_ours) {
		struct inode *in = BPF_CORE_READ(f, f_inode);
		if (in && (BPF_CORE_READ(in, i_mode) & S_IFMT) == S_IFIFO) {
			__u64 ino = BPF_CORE_READ(in, i_ino);
			unsigned long magic = BPF_CORE_READ(in, i_sb, s_magic);
			if (magic == OVERLAYFS_SUPER_MAGIC || magic == FUSE_SUPER_MAGIC ||
			    magic == BTRFS_SUPER_MAGIC)
				odd_fifos++;
			__u32 n = want_n;
			for (__u32 i = 0; i < KITER_WANT_MAX; i++) {
				if (i >= n)
					break;
				if (want_ino[i] != ino)
					continue;
				unsigned int fm = BPF_CORE_READ(f, f_mode);
				const struct cred *c = BPF_CORE_READ(t, real_cred);
				__u32 uid = BPF_CORE_READ(c, uid.val);
				r.type = KITER_REC_PIPE;
				r.ino = ino;
				r.tgid = BPF_CORE_READ(t, tgid);
				r.tid = BPF_CORE_READ(t, pid);
				r.fd = (__s32)ctx->fd;
				r.dev = BPF_CORE_READ(in, i_sb, s_dev);
				r.uid = uid;
				r.ends = (fm & FMODE_READ ? KITER_END_R : 0) |
					 (fm & FMODE_WRITE ? KITER_END_W : 0);
				r.same_uids = BPF_CORE_READ(c, euid.val) == uid &&
					      BPF_CORE_READ(c, suid.val) == uid &&
					      BPF_CORE_READ(c, fsuid.val) == uid;
				r.fifo = magic != PIPEFS_MAGIC;
				bpf_seq_write(seq, &r, sizeof(r));
				return 0;
			}
		}
	}
	if ((v % KITER_TICK_FDS) == 0) {
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
