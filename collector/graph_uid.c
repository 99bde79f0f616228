/*
 * graph_uid.c — per-uid accounts (docs/chain-model.md "Bounds"): the holds
 * and channels charged to each uid but root's, the bounds they are held to,
 * and the claims of each uid that were refused (graph_uid_stats).
 */
#include <stdlib.h>

#include "graph_int.h"

/* the account of uid, created when new (NULL past 65535 uids, or no memory) */
struct uacct *acct_of(struct graph *g, uid_t uid)
{
	struct uacct **slot = &g->utab[hash64((uint64_t)uid) % UID_BUCKETS];
	for (struct uacct *a = *slot; a; a = a->next)
		if (a->uid == uid)
			return a;
	if (g->nbyid >= 65535)
		return NULL; /* (more uids than a host has: uncharged) */
	if (g->nbyid == g->capbyid) {
		size_t n = g->capbyid ? g->capbyid * 2 : 16;
		struct uacct **t = realloc(g->byid, n * sizeof(*t));
		if (!t)
			return NULL;
		g->byid = t;
		g->capbyid = n;
	}
	struct uacct *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->uid = uid;
	a->next = *slot;
	*slot = a;
	g->byid[g->nbyid++] = a;
	a->id = (uint16_t)g->nbyid;
	g->st.bytes += sizeof(*a) + sizeof(a);
	return a;
}

void graph_uid_stats(const struct graph *g, int (*cb)(void *ctx, const struct graph_uid_stats *u),
		     void *ctx)
{
	for (size_t i = 0; i < UID_BUCKETS; i++)
		for (const struct uacct *a = g->utab[i]; a; a = a->next) {
			if (!a->holds && !a->chans && !a->refused_claims && !a->refused_bounds)
				continue;
			struct graph_uid_stats u = {a->uid, a->holds, a->chans, a->refused_claims,
						    a->refused_bounds};
			if (cb(ctx, &u))
				return;
		}
}

void over_bound(struct graph *g, struct uacct *a)
{
	g->capped = 1;
	g->st.refused_bounds++;
	if (a)
		a->refused_bounds++;
}
