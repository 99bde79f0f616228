/*
 * kev_event.h — the records the kernel event programs (bpf/kev.bpf.c) put in
 * their ring buffer, defined once for both sides. The BPF side includes it
 * after vmlinux.h, user space after <linux/types.h>; it includes nothing.
 *
 * Every record starts with struct kev_hdr; its type says which struct it is
 * and each has a fixed size. User space never trusts a record's layout: the
 * decoder (kev_decode.c) checks the type, the size and every length before it
 * reads a field (tests/fuzz/fuzz_kev.c).
 */
#ifndef HT_KEV_EVENT_H
#define HT_KEV_EVENT_H

#define KEV_FORK 1   /* a new process (not a thread): creator, child */
#define KEV_EXEC 2   /* a successful exec: the image's device, inode, path */
#define KEV_EXIT 3   /* the whole process (its last thread) ended */
#define KEV_TCP 4    /* a TCP state change: SYN_SENT (connect), ESTABLISHED, CLOSE,
		      * each in the owner's close (FIN_WAIT1, LAST_ACK, ...:
		      * KEV_SOCK_RELEASED) */
#define KEV_ACCEPT 5 /* accept()/accept4() returned a descriptor */
#define KEV_FDS 6    /* the pipes, FIFOs and unix sockets a process held as it
		      * ended (sent before its KEV_EXIT), or a new process has
		      * from its creator (after its KEV_FORK); none: no record */
#define KEV_SOCKUSE 7 /* a TCP socket read by a task that uses io_uring (first time
		       * for this process): kev_sock, its state in newstate */
#define KEV_UNIXPEER 8 /* a unix socket's peer, named once it has an inode: kev_upeer */
#define KEV_TYPES 9

#define KEV_PATH_MAX 256

/* TCP states (include/net/tcp_states.h) */
#define KEV_TCP_ESTABLISHED 1
#define KEV_TCP_SYN_SENT 2
#define KEV_TCP_SYN_RECV 3
#define KEV_TCP_FIN_WAIT1 4 /* close() (or shutdown()) of an established socket */
#define KEV_TCP_CLOSE 7
#define KEV_TCP_LAST_ACK 9  /* close() (or shutdown()) after the peer's FIN */
#define KEV_TCP_LISTEN 10
#define KEV_TCP_NEW_SYN_RECV 12
#define KEV_SOCK_RELEASED 1 /* kev_sock.flags: in the owner's close() (the socket
			     * file's last release), not a shutdown() */

struct kev_hdr {
	__u32 type;
	__u32 tgid;     /* the process (for KEV_TCP: the current one, meaningful for SYN_SENT) */
	__u64 t_ns;     /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
};

struct kev_fork {
	struct kev_hdr h; /* h.tgid: the child */
	__u32 ptgid;      /* the creator: the process that called fork/clone */
	__u32 uid;        /* the child's real uid (its creator's) */
	__u64 start_ns;   /* the child's start_boottime (ns since boot) */
	__u64 pid_ino;    /* its struct pid's pidfs inode number (Linux 6.9+: what
			   * fstat of a pidfd of it says; unique while the system
			   * runs), 0 when the kernel has none */
};

struct kev_exec {
	struct kev_hdr h;
	__u64 ino;        /* the executable's inode */
	__u32 dev;        /* its superblock's s_dev (kernel encoding: major << 20 | minor) */
	__u32 len;        /* bytes of filename, with its NUL (bpf_probe_read_kernel_str) */
	char filename[KEV_PATH_MAX];
};

struct kev_exit {
	struct kev_hdr h;
};

struct kev_sock {
	struct kev_hdr h;
	__u64 ino;        /* the socket's inode, 0 when it has no file (yet) */
	__s32 fd;         /* KEV_ACCEPT: the new descriptor; else -1 */
	__u16 family;     /* AF_INET, AF_INET6; ACCEPT also AF_UNIX (no addresses) */
	__u16 sport;      /* local port, host order */
	__u16 dport;      /* remote port, host order */
	__u8 oldstate, newstate; /* KEV_TCP */
	__u8 saddr[16];   /* AF_INET: the first 4 bytes */
	__u8 daddr[16];
	__u32 uid;        /* KEV_TCP: the socket's owner (sk_uid; an accepted one's is
			   * its listener's); KEV_ACCEPT: the caller's real uid */
	__u32 flags;      /* KEV_TCP: KEV_SOCK_RELEASED */
};

/* KEV_UNIXPEER: a process that ended holding a unix socket whose peer had no
 * inode yet (a connection not accepted yet: the exit's fds record said peer
 * 0); at the first receive on that peer, once accepted, both inodes */
struct kev_upeer {
	struct kev_hdr h;  /* h.tgid: the receiving process */
	__u64 ino;         /* the accepted socket's inode */
	__u64 peer;        /* the ended process's socket's inode */
};

/* KEV_FDS: one descriptor of the ending process */
#define KEV_FD_PIPE 1  /* an anonymous pipe (pipefs) */
#define KEV_FD_FIFO 2  /* a named pipe */
#define KEV_FD_UNIX 3  /* a unix socket */
#define KEV_FD_TCP 4   /* a TCP socket (only in a receive's read, KEV_FDS_RECV) */
#define KEV_FD_END_R 1 /* pipes and FIFOs: opened for reading (FMODE_READ) */
#define KEV_FD_END_W 2 /*                  for writing (FMODE_WRITE) */
#define KEV_FDS_EXIT 0
#define KEV_FDS_FORK 1
#define KEV_FDS_RECV 2   /* after a receive on a unix socket with descriptors in flight */
#define KEV_FDS_MAX 32   /* entries in one record */
#define KEV_FDS_SCAN 512 /* descriptors 0..KEV_FDS_SCAN-1 are looked at */

struct kev_fd {
	__u64 ino;        /* the inode (a socket's: socket:[ino]) */
	__u64 peer;       /* KEV_FD_UNIX: the connected peer's inode (0: none, or closed) */
	__u32 dev;        /* pipes and FIFOs: s_dev (kernel encoding, as kev_exec); else 0 */
	__s32 fd;
	__u8 kind;        /* KEV_FD_* */
	__u8 ends;        /* KEV_FD_END_* */
	__u16 pad;
	__u32 pad2;
};

struct kev_fds {
	struct kev_hdr h;
	__u32 n;          /* entries that follow (0..KEV_FDS_MAX; 0 only with more); the size
			   * is offsetof(struct kev_fds, fd[n]) */
	__u32 more;       /* 1: it held more than the record says (over KEV_FDS_MAX
			   * entries, or a descriptor at KEV_FDS_SCAN or above) */
	__u32 uid;        /* its real uid */
	__u32 why;        /* KEV_FDS_EXIT: h.tgid ends holding these; KEV_FDS_FORK:
			   * h.tgid was just forked, with these (its creator's at
			   * the fork, which its KEV_FORK before names) */
	struct kev_fd fd[KEV_FDS_MAX];
};

#endif
