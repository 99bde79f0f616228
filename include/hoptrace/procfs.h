/*
 * procfs.h — /proc readers for the collector (kernel fallback and process
 * identity). All functions read below a configurable root ("/proc" by default)
 * so tests can point them at a fake tree. Not thread-safe against a concurrent
 * procfs_set_root(); everything else is reentrant.
 */
#ifndef HOPTRACE_COLLECTOR_PROCFS_H
#define HOPTRACE_COLLECTOR_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hoptrace/record.h"

/* default "/proc"; NULL restores the default; tests point it at a fake tree */
void procfs_set_root(const char *root);
const char *procfs_root(void);

struct procfs_stat {
	pid_t pid, ppid;
	pid_t pgrp, sid;    /* process group, session (fields 5, 6) */
	char state;
	char comm[32];      /* truncated if longer */
	uint64_t starttime; /* clock ticks since boot, field 22 */
	uid_t uid;          /* real uid, first field of "Uid:" in /proc/PID/status */
};

/* Parses /proc/PID/stat robustly (comm may contain ") " and spaces: it runs
 * from the first '(' to the LAST ')') plus the uid from /proc/PID/status.
 * 0, or -errno (-ENOENT: no such process; -EINVAL: malformed file). */
int procfs_stat(pid_t pid, struct procfs_stat *st);

/* The same without the uid (one read: /proc/PID/stat only; st->uid 0) */
int procfs_stat_nouid(pid_t pid, struct procfs_stat *st);

/* The real uid alone (the first field of "Uid:" in /proc/PID/status) */
int procfs_uid(pid_t pid, uid_t *uid);

/* readlink /proc/PID/exe, " (deleted)" stripped. 0, or -errno
 * (-ENAMETOOLONG if it does not fit in n; buf then holds nothing useful). */
int procfs_exe(pid_t pid, char *buf, size_t n);

/* First string of /proc/PID/cmdline, truncated to n-1 bytes; "" (and 0) when
 * the cmdline is empty (kernel threads, zombies). 0 or -errno. */
int procfs_argv0(pid_t pid, char *buf, size_t n);

/* st_ino of /proc/PID/ns/net. 0 or -errno. */
int procfs_netns(pid_t pid, uint64_t *ino);

/* Calls cb for every fd of pid that is a channel end, keyed as record.h says:
 *   pipe  HT_CHAN_PIPE (readlink "pipe:[...]")  dev/ino = st_dev/st_ino
 *   FIFO  HT_CHAN_FIFO (readlink is a path)     dev/ino = st_dev/st_ino
 *   sock  HT_CHAN_SOCK                          dev 0, ino = socket inode
 *   pty   HT_CHAN_PTY                           dev 0, ino = pty index: a slave
 *         by st_rdev (major 136..143), a master (/dev/ptmx, /dev/pts/ptmx,
 *         rdev 5:2) by "tty-index:" in /proc/PID/fdinfo/FD
 * Other fds are skipped, and so are fds that vanish while being read.
 * cb returns non-zero to stop. Returns 0, -errno (fd dir unreadable), or the
 * callback's non-zero value. */
int procfs_fds(pid_t pid, int (*cb)(void *ctx, int fd, const struct ht_chan *c), void *ctx);
/* The same, cut short once this thread's CPU time (procfs_cpu_ns) reaches
 * cpu_deadline_ns (0: never), counted over every entry of the directory, the
 * fds that are not channels too: then 1, what was read already given to cb. */
int procfs_fds_until(pid_t pid, uint64_t cpu_deadline_ns,
		     int (*cb)(void *ctx, int fd, const struct ht_chan *c), void *ctx);

/* Classifies one fd (as procfs_fds does). 0 and *c filled; -ENOTSUP for an fd
 * that is not a channel end; -errno otherwise. */
int procfs_fd_chan(pid_t pid, int fd, struct ht_chan *c);

/* An fd (O_DIRECTORY, CLOEXEC) on /proc/PID/fd, for procfs_fd_chan_at: a
 * cached one costs one fstatat per question and never reaches another
 * process that reuses the pid. -errno if unreadable. */
int procfs_fd_dir(pid_t pid);
/* procfs_fd_chan through dfd (procfs_fd_dir(pid)); a FIFO comes back as
 * HT_CHAN_PIPE (keyed alike). -ENOENT: no such fd (or the process ended). */
int procfs_fd_chan_at(int dfd, pid_t pid, int fd, struct ht_chan *c);

/* Every (pid, fd) holding socket inode ino: scans every /proc/[0-9]* /fd,
 * unbounded (tests, tools; the collector uses procfs_holders_scan). cb returns
 * non-zero to stop. Returns 0, -errno (root unreadable) or the cb's value. */
int procfs_socket_holders(uint64_t ino, int (*cb)(void *ctx, pid_t pid, int fd), void *ctx);

/* A bounded search for the holders of socket inode ino, in the order that no
 * user's processes can make another user's search slow:
 *   1. the processes of `owner` (the socket's uid, sock_diag's idiag_uid):
 *      those whose real, effective, saved and fs uids are all owner — told by
 *      the owner of /proc/PID (the euid of a dumpable process: one fstatat),
 *      /proc/PID/status only when that owner is root or owner (a non-dumpable
 *      process shows as root's). If any holds it, the search ends there:
 *      holders of other uids (SCM_RIGHTS, an exec'd setuid program) alongside
 *      one of the owner's are not looked for.
 *   2. otherwise every other process (mixed uids: accounted to the real uid),
 *      fair share first: each uid's processes by their fd count (st_size of
 *      /proc/PID/fd), ordered across uids by the running sum of fds read — a
 *      uid's hundredth process or its 20,000-fd ones come after another
 *      uid's few small ones. first_only: stop at the first holder here.
 * A process whose fd directory's owner changed since it was listed (a pid
 * reused, credentials changed) is read in pass 1 only if it is still the
 * owner's by its status. The budget is a
 * deadline of the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID: the
 * work itself, not a preemption), a CLOCK_MONOTONIC one, and a number of fd
 * entries read; a uid that
 * admit() refuses is not read. Whatever was not read makes `incomplete` 1:
 * the holders reported may then not be all of them (or none when some
 * were). owner (uid_t)-1: one pass over everything, st_uid accounting. */
enum { PROCFS_SCAN_BUDGET = 1, PROCFS_SCAN_REFUSED };
struct procfs_scan {
	/* in */
	uid_t owner;
	uint64_t deadline_ns;  /* CLOCK_MONOTONIC; 0: none */
	uint64_t cpu_deadline_ns; /* CLOCK_THREAD_CPUTIME_ID; 0: none */
	uint64_t max_fds;      /* fd entries read at most; 0: none */
	int first_only;        /* pass 2: stop at the first holder */
	uint64_t netns;        /* only processes in this network namespace (its
				* inode); 0: any */
	int (*admit)(void *actx, uid_t uid);  /* NULL: every uid */
	void (*charge)(void *actx, uid_t uid, uint64_t ns, uint64_t fds); /* per process read */
	void *actx;
	/* out */
	int incomplete;
	int why;               /* the last cut: PROCFS_SCAN_BUDGET or _REFUSED */
	int pass;              /* where holders were found: 1, 2; 0 none */
	uint64_t procs, fds;   /* fd directories and fd entries read */
	uint64_t ns, cpu_ns;   /* time the scan took, on the clock and on the CPU */
};
/* 0, -errno (the root unreadable, no memory) or the cb's non-zero value
 * (cb non-zero also stops). */
int procfs_holders_scan(uint64_t ino, struct procfs_scan *s,
			int (*cb)(void *ctx, pid_t pid, int fd), void *ctx);

/* The same search for the holders of a pipe or FIFO (dev, ino: the key
 * procfs_fds gives): "pipe:[ino]" links, and fds whose link is a path to a
 * FIFO with that device and inode (one stat each). */
int procfs_pipe_holders_scan(uint64_t dev, uint64_t ino, struct procfs_scan *s,
			     int (*cb)(void *ctx, pid_t pid, int fd), void *ctx);

/* The device an anonymous pipe's fstat names (pipefs's, as the pipe keys of
 * procfs_fds have it); 0 not known */
uint64_t procfs_pipefs_dev(void);

/* Another live thread of pid's, 0 none. A process whose thread-group leader
 * ended (syscall(SYS_exit) in its main thread) while other threads run on
 * shows a zombie leader ('Z' in /proc/PID/stat) and an empty /proc/PID/fd;
 * procfs_fds and the holder scans read a live thread's table then. */
pid_t procfs_other_thread(pid_t pid);

/* now on CLOCK_MONOTONIC and on CLOCK_THREAD_CPUTIME_ID, in ns */
uint64_t procfs_mono_ns(void);
uint64_t procfs_cpu_ns(void);

#endif
