/*
 * kiter.h — the collector's kernel descriptor search (kiter.c; the program in
 * bpf/kiter.bpf.c; docs/collector.md "Kernel descriptor search"): a BPF
 * iter/task_file pass over every task's open files, in the kernel, for the
 * holders of a pipe or FIFO — in place of reading every process's
 * /proc/PID/fd. Loaded beside the kernel event source (it needs what that
 * source's self-test shows: the kernel's pid numbers are the collector's);
 * every failure falls back to the /proc search.
 *
 * Built without BPF support (HT_KEV unset) kiter_open() says why not.
 */
#ifndef HT_KITER_H
#define HT_KITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct kiter;
struct procfs_scan;
struct ht_chan;

/* The iterator for network namespace netns_ino's processes: NULL with why. */
struct kiter *kiter_open(uint64_t netns_ino, char *why, size_t n);
void kiter_close(struct kiter *ki);

/* graph_conf.kernel_pipe_holders (ctx: a kiter): procfs_pipe_holders_scan's
 * contract, answered in one kernel pass — every holder (tgid, fd) of (dev,
 * ino) in the namespace, the owner's first (s->pass 1: all four uids the
 * owner's), each tgid's fd once; s->incomplete when s's budget cut the pass.
 * Any other failure, a search asked for another namespace than the
 * iterator's (s->netns; 0, every namespace, too), or a FIFO on a file system whose stat may name it
 * otherwise than its inode does: procfs_pipe_holders_scan itself. */
int kiter_pipe_holders(void *ctx, uint64_t dev, uint64_t ino, struct procfs_scan *s,
		       int (*cb)(void *cbctx, pid_t pid, int fd), void *cbctx);

/* graph_conf.kernel_fds (ctx: a kiter): procfs_fds_until's contract — the
 * same entries (sockets, pipes, FIFOs, ptys: procfs_fds's kinds and keys), the
 * group leader's table (a live thread's when the leader ended), 1 when the
 * CPU deadline came first — from a pass over pid's files alone (a link made
 * for its pid). Any failure: procfs_fds_until itself. */
int kiter_fds(void *ctx, pid_t pid, uint64_t cpu_deadline_ns,
	      int (*cb)(void *cbctx, int fd, const struct ht_chan *c), void *cbctx);

/* passes made, and searches that fell back to /proc (stats) */
struct kiter_stats {
	uint64_t passes, fallbacks, cut; /* holder searches */
	uint64_t fd_reads, fd_fallbacks; /* one process's table */
};
void kiter_stats(const struct kiter *ki, struct kiter_stats *st);

#endif
