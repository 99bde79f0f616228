/*
 * chain.h — computes the chain behind a process (docs/chain-model.md) from the
 * graph, as the JSON answer of docs/query-protocol.md ("tree" and "chains").
 */
#ifndef HT_CHAIN_H
#define HT_CHAIN_H

#include <cjson/cJSON.h>

#include "graph.h"

struct chain_req {
	const char *host;           /* this host's name */
	struct proc *subject;
	struct chan *exclude;       /* the SYN's own socket: not a source */
	const struct ht_addr *syn_local, *syn_remote; /* NULL for "chain PID" */
	uint64_t now;
	uint64_t at;                /* the subject as of then (0: now): a closed
				     * connection's holder (graph_hist.c) */
	int nl;                     /* sock_diag socket, or -1 */
	size_t max_nodes;           /* bound on tree size (0 = 512) */
	/* when the query's /proc holder scans must end (CLOCK_THREAD_CPUTIME_ID ns;
	 * 0: GRAPH_SCAN_BUDGET_NS from the walk's start) — a scan cut short
	 * makes the answer "holders_incomplete" and its chains incomplete */
	uint64_t scan_deadline_ns;
	unsigned *kernel_asked;     /* if set: counts the walk's /proc searches for a
				     * socket's holders (their answer may change
				     * with no change to the graph: push.c) */
};

/* Returns a new cJSON object {"ok":true,"host",..,"subject",..,"tree",..,
 * "chains",..}; the caller owns it. NULL only when out of memory. */
cJSON *chain_compute(struct graph *g, const struct chain_req *req);

/* Before a pushed chain is taken as still true (a "who" answered PUSHED):
 * the fd tables of the live processes its walk can reach — the subject, its
 * creators, the other holders of what they hold, at most 64 — compared with
 * the kernel's (graph_proc_check_fds), and the holders of each pipe they read
 * searched for in /proc, as the walk did (at most 4). 1 when one differs (the
 * graph changed, or a holder of a pipe is one the graph does not know: the
 * push no longer holds) or could not be compared in full, 0 when all match. */
int chain_check_reach(struct graph *g, struct proc *subject, uint64_t now, uint64_t cpu_deadline);

/* (Re)builds answer["chains"] from answer["tree"], descending into conn
 * nodes' "upstream" answers (another host's chains continue into this host's
 * path). Touches only the JSON: safe outside the graph's thread. 0 or -1. */
int chain_reflatten(cJSON *answer);

/* "10.0.0.1:22" / "[fd00::1]:22" / "unix:@name"; buf >= 140 bytes */
char *ht_addr_str(const struct ht_addr *a, char *buf, size_t n);

#endif
