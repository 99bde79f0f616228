/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kiter_event.h — what the descriptor iterator (kiter.bpf.c) writes to its
 * reader (collector/kiter.c): fixed 32-byte records, one per read().
 */
#ifndef HT_KITER_EVENT_H
#define HT_KITER_EVENT_H

#define KITER_WANT_MAX 8      /* inodes one pass looks for */
#define KITER_TICK_FDS 1024   /* a tick after this many descriptors visited */

#define KITER_REC_TICK 1      /* no match: the reader may check its budget */
#define KITER_REC_PIPE 2      /* a pipe's or FIFO's holder */
#define KITER_REC_FD 3        /* one process's descriptor that may be a channel
			       * end (fifo: its KITER_FD_* kind) */

#define KITER_FD_SOCK 1       /* ino: the socket's inode */
#define KITER_FD_PIPE 2       /* pipefs's: ino */
#define KITER_FD_FIFO 3       /* another file system's FIFO: stat() names it */
#define KITER_FD_PTS 4        /* a pty slave: dev, its rdev (kernel encoding) */
#define KITER_FD_PTMX 5       /* a pty master (5:2): its index by fdinfo */

#define KITER_END_R 1
#define KITER_END_W 2

struct kiter_rec {
	__u64 ino;
	__u32 tgid;
	__s32 fd;
	__u32 dev;       /* the inode's superblock's s_dev (kernel encoding) */
	__u32 uid;       /* the task's real uid */
	__u8 type;       /* KITER_REC_* */
	__u8 ends;       /* KITER_END_R|W: the file's mode */
	__u8 same_uids;  /* real, effective, saved and fs uid all uid */
	__u8 fifo;       /* not pipefs's: a named FIFO */
	__u32 tid;       /* the task whose table it is (a FIFO's stat: its /proc entry) */
};

#endif
