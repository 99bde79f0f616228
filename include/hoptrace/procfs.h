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

/* Every (pid, fd) holding socket inode ino: scans /proc/[0-9]* /fd. cb returns
 * non-zero to stop. Returns 0, -errno (root unreadable) or the cb's value. */
int procfs_socket_holders(uint64_t ino, int (*cb)(void *ctx, pid_t pid, int fd), void *ctx);

#endif
