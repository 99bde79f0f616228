/*
 * graph_kev.c — what the kernel event source (collector/kev.c) tells the
 * graph: each process's creator and start from its fork event, its image
 * (device, inode, path) from its exec event, its end from its exit event
 * (docs/chain-model.md "What each source sees"). While the source is on these
 * are authoritative: a BIRTH naming another creator than the fork event's,
 * or an IMAGE of a process the kernel saw fork and never exec, is refused
 * (graph_apply.c asks kev_lineage).
 *
 * A direct-mapped table by pid (KLIN_N slots): a slot keeps the newest
 * process of its pids; an older one it lost is simply not known, and its
 * records are checked as without the source. Events are read before records
 * (records.c drains the ring first), and the kernel reports a fork before
 * the child runs: a child's BIRTH finds its fork event.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph_int.h"

#define KLIN_N 65536

struct klin {
	pid_t pid, creator;     /* creator 0: no fork event (known from exec only) */
	uint64_t start;         /* /proc starttime (clock ticks) from the fork event */
	uint64_t fork_ts, exec_ts, exit_ts;
	uint64_t dev, ino;      /* the last exec's executable */
	uint8_t have_exec, ended;
};

struct kevtab {
	struct klin slot[KLIN_N];
	int lossy;              /* the ring lost events: absence proves nothing */
};

static struct kevtab *tab(struct graph *g)
{
	if (!g->kev) {
		g->kev = calloc(1, sizeof(*g->kev));
		if (g->kev)
			g->st.bytes += sizeof(*g->kev);
	}
	return g->kev;
}

void graph_kev_on(struct graph *g, int on)
{
	g->kev_on = on;
	if (on)
		tab(g);
}

void graph_kev_lossy(struct graph *g)
{
	if (g->kev)
		g->kev->lossy = 1;
}

static uint64_t ticks_of(uint64_t ns)
{
	static long hz;
	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return ns / (1000000000ULL / (uint64_t)hz);
}

void graph_kev_fork(struct graph *g, pid_t child, pid_t creator, uint64_t start_ns, uint64_t ts)
{
	struct kevtab *t = tab(g);
	if (!t || child <= 0)
		return;
	struct klin *k = &t->slot[(uint32_t)child % KLIN_N];
	memset(k, 0, sizeof(*k));
	k->pid = child;
	k->creator = creator;
	k->start = ticks_of(start_ns);
	k->fork_ts = ts;
	g->st.kev_forks++;
}

void graph_kev_exec(struct graph *g, pid_t pid, uint64_t dev, uint64_t ino, uint64_t ts)
{
	struct kevtab *t = tab(g);
	if (!t || pid <= 0)
		return;
	struct klin *k = &t->slot[(uint32_t)pid % KLIN_N];
	if (k->pid != pid || k->ended) { /* a process from before: its exec only */
		memset(k, 0, sizeof(*k));
		k->pid = pid;
	}
	k->have_exec = 1;
	k->dev = dev;
	k->ino = ino;
	k->exec_ts = ts;
}

void graph_kev_exit(struct graph *g, pid_t pid, uint64_t ts)
{
	struct klin *k = g->kev ? &g->kev->slot[(uint32_t)pid % KLIN_N] : NULL;
	if (k && k->pid == pid && !k->ended) {
		k->ended = 1;
		k->exit_ts = ts;
	}
}

/* The kernel's events about pid's current process (its start matches the
 * kernel's, or it is gone and cannot be told), NULL when none. */
static const struct klin *current(struct graph *g, pid_t pid)
{
	struct graph_kproc kp;
	if (!g->kev_on || !g->kev || pid <= 0)
		return NULL;
	const struct klin *k = &g->kev->slot[(uint32_t)pid % KLIN_N];
	if (k->pid != pid)
		return NULL;
	if (k->creator && kernel_proc(g, pid, &kp) == 0 && kp.start && kp.start != k->start)
		return NULL; /* another process now has the pid */
	return k;
}

int kev_lineage(struct graph *g, pid_t pid, struct kev_lineage *out)
{
	const struct klin *k = current(g, pid);
	if (!k)
		return -1;
	out->creator = k->creator;
	out->start = k->start;
	out->fork_ts = k->fork_ts;
	out->exec_known = k->have_exec;
	out->exec_missing = k->creator && !k->have_exec && !g->kev->lossy;
	out->dev = k->dev;
	out->ino = k->ino;
	return 0;
}
