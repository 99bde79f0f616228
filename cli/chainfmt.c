/*
 * chainfmt.c — implements chainfmt.h. Everything is rendered into a memory
 * stream first and copied to `out` only when the whole answer was understood.
 *
 * Tree form (one node a line; children are the node's `sources`):
 *
 *   h2  ssh[812] /usr/bin/ssh  → 10.0.0.3:22
 *   └─ creator  bash[790] /usr/bin/bash
 *      └─ creator  sshd[788] /usr/sbin/sshd  (sshd: root@pts/0)
 *         └─ tcp in  10.0.0.2:22 ← 10.0.0.1:51234  (h1, not followed)
 *
 * A process line is "NAME[PID] EXE", NAME being the executable's base name,
 * then "(ARGV0)" when argv0 says something else, "[kernel]" when it was seen
 * by the kernel fallback only and "(exited)" when it is gone. A node on
 * another host than its parent starts with that host. A conn node's upstream
 * answer is nested under it (its tree's root on the upstream host).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hoptrace/chain.h"
#include "chainfmt.h"

#define TREE_DEPTH_MAX 64
#define PREFIX_MAX (TREE_DEPTH_MAX * 8 + 16)

static const char *fmt_err = "";

const char *chainfmt_error(void)
{
	return fmt_err;
}

/* Prints s with control characters replaced (UTF-8 above 0x7f kept). */
static void put_safe(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : NULL;
}

static int jnum(const cJSON *o, const char *k, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	/* hostile answers carry any double: only integers long long can hold */
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= -9.2e18 && v->valuedouble <= 9.2e18))
		return -1;
	*out = (long long)v->valuedouble;
	return 0;
}

/* 1 true, 0 false, -1 absent or not a boolean */
static int jbool(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsBool(v))
		return -1;
	return cJSON_IsTrue(v) ? 1 : 0;
}

static const char *base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;
	return s ? s + 1 : p;
}

static cJSON *parse_answer(const char *json)
{
	cJSON *root;

	if (!json) {
		fmt_err = "no answer";
		return NULL;
	}
	root = cJSON_Parse(json);
	if (!root) {
		fmt_err = "answer is not valid JSON";
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		fmt_err = "answer is not a JSON object";
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* ---- tree ----------------------------------------------------------------- */

static void proc_desc(FILE *f, const cJSON *n)
{
	const char *exe = jstr(n, "exe"), *argv0 = jstr(n, "argv0");
	const char *name = exe && *exe ? base_name(exe) : (argv0 && *argv0 ? base_name(argv0) : "?");
	long long pid = -1;

	jnum(n, "pid", &pid);
	put_safe(f, name);
	if (pid >= 0)
		fprintf(f, "[%lld]", pid);
	else
		fputs("[?]", f);
	if (exe && *exe) {
		fputc(' ', f);
		put_safe(f, exe);
	}
	if (argv0 && *argv0 && strcmp(argv0, name) != 0 && (!exe || strcmp(argv0, exe) != 0)) {
		fputs("  (", f);
		put_safe(f, argv0);
		fputc(')', f);
	}
	{
		const char *seen = jstr(n, "seen");
		if (seen && strcmp(seen, "kernel") == 0)
			fputs("  [kernel]", f);
		else if (seen && strcmp(seen, "kernel-events") == 0)
			fputs("  [kernel-events]", f);
	}
	if (jbool(n, "alive") == 0)
		fputs("  (exited)", f);
}

static void conn_desc(FILE *f, const cJSON *n)
{
	const char *dir = jstr(n, "dir"), *l = jstr(n, "local"), *r = jstr(n, "remote");
	const char *reason = jstr(n, "reason");
	const char *peer = jstr(n, "remote_host");
	int complete = jbool(n, "complete");
	int in = dir && strcmp(dir, "in") == 0;

	if (!peer)
		peer = jstr(n, "peer_host");
	put_safe(f, l ? l : "?");
	fputs(in ? " ← " : " → ", f);
	put_safe(f, r ? r : "?");
	if ((peer && *peer) || complete == 0 || reason) {
		int sep = 0;
		fputs("  (", f);
		if (peer && *peer) {
			put_safe(f, peer);
			sep = 1;
		}
		if (reason && *reason) {
			fputs(sep ? ", " : "", f);
			put_safe(f, reason);
			sep = 1;
		} else if (complete == 0) {
			fputs(sep ? ", " : "", f);
			fputs("incomplete", f);
		}
		fputc(')', f);
	}
	/* the far host's part describes the past: a connection it had closed
	 * (its answer's "past", signed with its part) */
	const cJSON *up = cJSON_GetObjectItemCaseSensitive(n, "upstream");
	const cJSON *past = cJSON_IsObject(up) ? cJSON_GetObjectItemCaseSensitive(up, "past") : NULL;
	long long ago;
	if (cJSON_IsObject(past) && jnum(past, "closed_ago_ms", &ago) == 0 && ago >= 0)
		fprintf(f, "  [closed %lld s ago]", ago / 1000);
}

static int render_node(FILE *f, const cJSON *n, const char *via, const char *via_id,
		       const char *parent_host, char *prefix, size_t plen, int last,
		       int depth);

/* Children of a node: its sources (proc) or its upstream answer (conn). */
static int render_children(FILE *f, const cJSON *n, const char *host, char *prefix,
			   size_t plen, int depth)
{
	const char *type = jstr(n, "type");
	const cJSON *srcs, *s, *up;
	int cnt, i = 0;

	if (type && strcmp(type, "conn") == 0) {
		up = cJSON_GetObjectItemCaseSensitive(n, "upstream");
		if (!up || cJSON_IsNull(up))
			return 0;
		if (!cJSON_IsObject(up)) {
			fmt_err = "conn upstream is neither an answer nor null";
			return -1;
		}
		const char *uh = jstr(up, "host");
		const cJSON *ut = cJSON_GetObjectItemCaseSensitive(up, "tree");
		if (jbool(up, "ok") == 0 || !cJSON_IsObject(ut)) {
			const char *e = jstr(up, "error");
			fprintf(f, "%s└─ ", prefix);
			if (uh) {
				put_safe(f, uh);
				fputs("  ", f);
			}
			fputs("upstream error: ", f);
			put_safe(f, e ? e : "no tree in the answer");
			fputc('\n', f);
			return 0;
		}
		/* the upstream root is labelled with its host */
		return render_node(f, ut, NULL, NULL, "", prefix, plen, 1, depth + 1);
	}
	srcs = cJSON_GetObjectItemCaseSensitive(n, "sources");
	if (!srcs || cJSON_IsNull(srcs))
		return 0;
	if (!cJSON_IsArray(srcs)) {
		fmt_err = "node sources is not an array";
		return -1;
	}
	cnt = cJSON_GetArraySize(srcs);
	cJSON_ArrayForEach(s, srcs)
	{
		const cJSON *child;
		i++;
		if (!cJSON_IsObject(s)) {
			fmt_err = "source is not an object";
			return -1;
		}
		child = cJSON_GetObjectItemCaseSensitive(s, "node");
		if (!cJSON_IsObject(child)) {
			fmt_err = "source has no node";
			return -1;
		}
		if (render_node(f, child, jstr(s, "via"), jstr(s, "id"), host, prefix, plen,
				i == cnt, depth + 1) < 0)
			return -1;
	}
	return 0;
}

static int render_node(FILE *f, const cJSON *n, const char *via, const char *via_id,
		       const char *parent_host, char *prefix, size_t plen, int last,
		       int depth)
{
	const char *type = jstr(n, "type"), *host = jstr(n, "host");
	int root = depth == 0;
	size_t newlen;
	int rc;

	if (!type) {
		fmt_err = "node has no type";
		return -1;
	}
	if (!host)
		host = !root && parent_host ? parent_host : "";
	if (!root)
		fprintf(f, "%s%s", prefix, last ? "└─ " : "├─ ");
	if (depth > TREE_DEPTH_MAX) {
		fputs("… (too deep, not shown)\n", f);
		return 0;
	}
	if (strcmp(type, "conn") == 0) {
		const char *dir = jstr(n, "dir");
		fputs("tcp ", f);
		put_safe(f, dir ? dir : "?");
		fputs("  ", f);
		if (!root && parent_host && strcmp(host, parent_host) != 0 && *host) {
			put_safe(f, host);
			fputs("  ", f);
		}
		conn_desc(f, n);
	} else if (strcmp(type, "proc") == 0) {
		if (via) {
			put_safe(f, via);
			if (via_id && *via_id) {
				fputc(' ', f);
				put_safe(f, via_id);
			}
			fputs("  ", f);
		}
		if ((root || !parent_host || strcmp(host, parent_host) != 0) && *host) {
			put_safe(f, host);
			fputs("  ", f);
		}
		proc_desc(f, n);
	} else if (strcmp(type, "origin") == 0) {
		if (via && strcmp(via, "local") != 0) { /* "local origin" says it already */
			put_safe(f, via);
			fputs("  ", f);
		}
		fputs("origin  ", f);
		if (*host) {
			put_safe(f, host);
			fputs(" ", f);
		}
		fputs("(local)", f);
	} else {
		fmt_err = "unknown node type";
		return -1;
	}
	if (root && parent_host && *parent_host) { /* the subject's remote end */
		fputs("  → ", f);
		put_safe(f, parent_host);
	}
	fputc('\n', f);

	newlen = strlen(prefix);
	if (!root) {
		if (newlen + 8 >= plen)
			return 0;
		strcat(prefix, last ? "   " : "│  ");
	}
	rc = render_children(f, n, host, prefix, plen, depth);
	prefix[newlen] = '\0';
	return rc;
}

static void chain_summary(FILE *f, size_t idx, const struct ht_chain *c)
{
	char a[HT_ENDPOINT_STRLEN], b[HT_ENDPOINT_STRLEN];

	fprintf(f, "chain %zu: origin ", idx);
	put_safe(f, c->origin_host[0] ? c->origin_host : "?");
	if (c->src.family)
		fprintf(f, " %s", ht_endpoint_format(&c->src, a, sizeof(a)));
	if (c->dst.family)
		fprintf(f, " → %s", ht_endpoint_format(&c->dst, b, sizeof(b)));
	fputs("  procs:", f);
	if (c->nprocs == 0)
		fputs(" -", f);
	for (size_t i = 0; i < c->nprocs; i++) {
		const struct ht_chain_proc *p = &c->procs[i];
		fputc(' ', f);
		if (p->host[0]) {
			put_safe(f, p->host);
			fputc(':', f);
		}
		if (p->exe[0])
			put_safe(f, base_name(p->exe));
		else
			fprintf(f, "[%d]", (int)p->pid);
	}
	fputs(c->complete ? "  complete" : "  incomplete", f);
	if (c->fallback)
		fputs(", kernel fallback", f);
	fputc('\n', f);
}

static int flush_mem(FILE *mem, char **buf, size_t *len, FILE *out, int ok)
{
	fclose(mem);
	if (ok == 0)
		fwrite(*buf, 1, *len, out);
	free(*buf);
	return ok;
}

int chainfmt_tree(const char *json, FILE *out)
{
	cJSON *root;
	const cJSON *tree, *subj;
	struct ht_chainset cs;
	const char *err = NULL, *remote = NULL;
	char prefix[PREFIX_MAX] = "";
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int rc;

	if (!(root = parse_answer(json)))
		return -1;
	tree = cJSON_GetObjectItemCaseSensitive(root, "tree");
	if (!cJSON_IsObject(tree)) {
		fmt_err = "answer has no tree";
		cJSON_Delete(root);
		return -1;
	}
	if (ht_chains_from_json(json, strlen(json), &cs, &err) < 0) {
		fmt_err = err ? err : "bad chains";
		cJSON_Delete(root);
		return -1;
	}
	if (!(mem = open_memstream(&buf, &len))) {
		fmt_err = "out of memory";
		ht_chainset_free(&cs);
		cJSON_Delete(root);
		return -1;
	}
	subj = cJSON_GetObjectItemCaseSensitive(root, "subject");
	if (cJSON_IsObject(subj))
		remote = jstr(subj, "remote");
	/* depth 0: parent_host carries the subject's remote end for the root line */
	rc = render_node(mem, tree, NULL, NULL, remote, prefix, sizeof(prefix), 1, 0);
	if (rc == 0) {
		if (cs.n == 0)
			fputs("no chains\n", mem);
		for (size_t i = 0; i < cs.n; i++)
			chain_summary(mem, i + 1, &cs.v[i]);
	}
	ht_chainset_free(&cs);
	cJSON_Delete(root);
	return flush_mem(mem, &buf, &len, out, rc);
}

/* ---- graph → dot ---------------------------------------------------------- */

static void dot_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n') {
			fputs("\\n", f);
			continue;
		}
		if (c == '"' || c == '\\')
			fputc('\\', f);
		fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
	}
	fputc('"', f);
}

/* Lookups of the graph dump's processes and channels by the holds and creators: sorted
 * indexes searched in O(log n) (a linear search per hold made a large graph's dot
 * quadratic: fuzz_graph's timeout in chainfmt_dot). */
struct pkey {
	long long pid, start;
	int i;
};
struct ckey {
	int str;         /* 0: a number id, 1: a string id (never equal to each other) */
	double num;
	const char *s;
	int i;
};
struct dot_index {
	struct pkey *p;
	size_t np;
	struct ckey *c;
	size_t nc;
};

static int pkey_cmp(const void *a, const void *b)
{
	const struct pkey *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->i - y->i;
}

static int ckey_id_cmp(const struct ckey *x, const struct ckey *y)
{
	if (x->str != y->str)
		return x->str - y->str;
	if (x->str)
		return strcmp(x->s, y->s);
	return x->num < y->num ? -1 : x->num > y->num ? 1 : 0;
}

static int ckey_cmp(const void *a, const void *b)
{
	const struct ckey *x = a, *y = b;
	int r = ckey_id_cmp(x, y);
	return r ? r : x->i - y->i;
}

/* a channel id (a number or a string) as a key; 0 for other types */
static int chan_key(const cJSON *id, struct ckey *k)
{
	if (cJSON_IsNumber(id)) {
		*k = (struct ckey){0, id->valuedouble, NULL, 0};
		return 1;
	}
	if (cJSON_IsString(id) && id->valuestring) {
		*k = (struct ckey){1, 0, id->valuestring, 0};
		return 1;
	}
	return 0;
}

static int index_build(struct dot_index *x, const cJSON *procs, const cJSON *chans)
{
	const cJSON *e;
	int i = 0;
	int np = procs ? cJSON_GetArraySize(procs) : 0, nc = chans ? cJSON_GetArraySize(chans) : 0;
	memset(x, 0, sizeof(*x));
	x->p = malloc(sizeof(*x->p) * (size_t)(np + 1));
	x->c = malloc(sizeof(*x->c) * (size_t)(nc + 1));
	if (!x->p || !x->c) {
		free(x->p);
		free(x->c);
		return -1;
	}
	cJSON_ArrayForEach(e, procs)
	{
		long long pid, st = 0;
		if (jnum(e, "pid", &pid) == 0) {
			jnum(e, "start", &st);
			x->p[x->np++] = (struct pkey){pid, st, i};
		}
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(e, chans)
	{
		const cJSON *cid = cJSON_GetObjectItemCaseSensitive(e, "id");
		if (cid && chan_key(cid, &x->c[x->nc]))
			x->c[x->nc++].i = i;
		i++;
	}
	qsort(x->p, x->np, sizeof(*x->p), pkey_cmp);
	qsort(x->c, x->nc, sizeof(*x->c), ckey_cmp);
	return 0;
}

static void index_free(struct dot_index *x)
{
	free(x->p);
	free(x->c);
}

/* index of the proc with that pid (and start when known; the latest otherwise; of
 * equals, the first in the dump) */
/* the first entry not below (pid, start) */
static size_t proc_lower(const struct dot_index *x, long long pid, long long start)
{
	size_t lo = 0, hi = x->np;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (x->p[m].pid < pid || (x->p[m].pid == pid && x->p[m].start < start))
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static int find_proc(const struct dot_index *x, long long pid, int have_start, long long start)
{
	if (have_start) {
		size_t k = proc_lower(x, pid, start);
		return k < x->np && x->p[k].pid == pid && x->p[k].start == start ? x->p[k].i : -1;
	}
	/* the latest start: the entry before the first of the next pid, then the first of
	 * its start's group */
	size_t end = pid == LLONG_MAX ? x->np : proc_lower(x, pid + 1, LLONG_MIN);
	if (end == 0 || x->p[end - 1].pid != pid)
		return -1;
	size_t k = proc_lower(x, pid, x->p[end - 1].start);
	return x->p[k].i;
}

static int find_chan(const struct dot_index *x, const cJSON *id)
{
	struct ckey k;
	if (!chan_key(id, &k))
		return -1;
	size_t lo = 0, hi = x->nc;
	while (lo < hi) {
		size_t m = lo + (hi - lo) / 2;
		if (ckey_id_cmp(&x->c[m], &k) < 0)
			lo = m + 1;
		else
			hi = m;
	}
	return lo < x->nc && !ckey_id_cmp(&x->c[lo], &k) ? x->c[lo].i : -1;
}

static int get_array(cJSON *root, const char *k, const cJSON **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k);
	if (!v || cJSON_IsNull(v)) {
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsArray(v))
		return -1;
	*out = v;
	return 0;
}

/* The process nodes p0, p1, ... (in the answer's order). */
static int dot_procs(FILE *mem, const cJSON *procs)
{
	const cJSON *x;
	int i = 0;

	cJSON_ArrayForEach(x, procs)
	{
		long long pid = -1;
		const char *exe, *argv0, *seen;
		char label[HT_EXE_MAX * 2 + 64];

		if (!cJSON_IsObject(x)) {
			fmt_err = "graph proc is not an object";
			return -1;
		}
		jnum(x, "pid", &pid);
		exe = jstr(x, "exe");
		argv0 = jstr(x, "argv0");
		seen = jstr(x, "seen");
		snprintf(label, sizeof(label), "%s[%lld]\n%s%s",
			 exe && *exe ? base_name(exe) : (argv0 ? base_name(argv0) : "?"), pid,
			 exe ? exe : "",
			 !seen || !strncmp(seen, "shim", 4) ? "" : !strcmp(seen, "kernel") ? "\n[kernel]"
			 : !strcmp(seen, "kernel-events") ? "\n[kernel-events]" : "");
		fprintf(mem, "\tp%d [shape=box, label=", i);
		dot_str(mem, label);
		if (jbool(x, "alive") == 0)
			fputs(", style=dashed", mem);
		fputs("];\n", mem);
		i++;
	}
	return 0;
}

/* The channel nodes c0, c1, ... */
static int dot_chans(FILE *mem, const cJSON *chans)
{
	const cJSON *x;
	int i = 0;

	cJSON_ArrayForEach(x, chans)
	{
		const char *kind, *lab;
		char label[512];

		if (!cJSON_IsObject(x)) {
			fmt_err = "graph chan is not an object";
			return -1;
		}
		kind = jstr(x, "kind");
		lab = jstr(x, "label");
		snprintf(label, sizeof(label), "%s%s%s", kind ? kind : "?", lab && *lab ? "\n" : "",
			 lab ? lab : "");
		fprintf(mem, "\tc%d [shape=ellipse, label=", i);
		dot_str(mem, label);
		if (kind && strcmp(kind, "tcp_ext") == 0)
			fputs(", style=bold", mem);
		fputs("];\n", mem);
		i++;
	}
	return 0;
}

/* Creator links between process nodes (dotted). */
static void dot_creators(FILE *mem, const cJSON *procs, const struct dot_index *ix)
{
	const cJSON *x;
	int i = 0;

	cJSON_ArrayForEach(x, procs)
	{
		long long cpid, cstart;
		int have = jnum(x, "creator_start", &cstart) == 0;
		if (jnum(x, "creator_pid", &cpid) == 0 && cpid > 0) {
			int j = find_proc(ix, cpid, have, have ? cstart : 0);
			if (j >= 0 && j != i)
				fprintf(mem, "\tp%d -> p%d [style=dotted, label=\"creator\"];\n", j, i);
		}
		i++;
	}
}

/* Holdings: process to channel, dashed once released. */
static int dot_holds(FILE *mem, const struct dot_index *ix, const cJSON *holds)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, holds)
	{
		long long pid, start;
		const cJSON *cid, *u;
		int p, c, have;

		if (!cJSON_IsObject(x)) {
			fmt_err = "graph hold is not an object";
			return -1;
		}
		cid = cJSON_GetObjectItemCaseSensitive(x, "chan");
		if (jnum(x, "pid", &pid) < 0 || !cid)
			continue;
		have = jnum(x, "start", &start) == 0;
		p = find_proc(ix, pid, have, have ? start : 0);
		c = find_chan(ix, cid);
		if (p < 0 || c < 0)
			continue;
		fprintf(mem, "\tp%d -> c%d [dir=none", p, c);
		u = cJSON_GetObjectItemCaseSensitive(x, "until");
		/* still held: until absent, null or 0 */
		if (cJSON_IsNumber(u) && u->valuedouble != 0)
			fputs(", style=dashed", mem);
		fputs("];\n", mem);
	}
	return 0;
}

int chainfmt_dot(const char *json, FILE *out)
{
	cJSON *root;
	const cJSON *procs, *chans, *holds;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int rc = -1;

	if (!(root = parse_answer(json)))
		return -1;
	if (get_array(root, "procs", &procs) < 0 || get_array(root, "chans", &chans) < 0 ||
	    get_array(root, "holds", &holds) < 0) {
		fmt_err = "graph procs, chans or holds is not an array";
		cJSON_Delete(root);
		return -1;
	}
	if (!(mem = open_memstream(&buf, &len))) {
		fmt_err = "out of memory";
		cJSON_Delete(root);
		return -1;
	}
	fputs("digraph hoptrace {\n\trankdir=LR;\n"
	      "\tnode [fontname=\"monospace\", fontsize=10];\n"
	      "\tedge [fontname=\"monospace\", fontsize=9];\n", mem);
	struct dot_index ix;
	if (index_build(&ix, procs, chans) != 0) {
		fmt_err = "out of memory";
	} else {
		if (dot_procs(mem, procs) == 0 && dot_chans(mem, chans) == 0) {
			dot_creators(mem, procs, &ix);
			if (dot_holds(mem, &ix, holds) == 0) {
				fputs("}\n", mem);
				rc = 0;
			}
		}
		index_free(&ix);
	}
	cJSON_Delete(root);
	return flush_mem(mem, &buf, &len, out, rc);
}

/* ---- ps, status ------------------------------------------------------------ */

int chainfmt_ps(const char *json, FILE *out)
{
	cJSON *root;
	const cJSON *procs, *p;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;
	int rc = 0;

	if (!(root = parse_answer(json)))
		return -1;
	if (get_array(root, "procs", &procs) < 0 || !procs) {
		fmt_err = "answer has no procs array";
		cJSON_Delete(root);
		return -1;
	}
	if (!(mem = open_memstream(&buf, &len))) {
		fmt_err = "out of memory";
		cJSON_Delete(root);
		return -1;
	}
	fprintf(mem, "%7s %7s %6s %-6s %-6s %s\n", "PID", "CREATOR", "UID", "STATE", "SEEN",
		"EXE (ARGV0)");
	cJSON_ArrayForEach(p, procs)
	{
		long long pid = -1, cpid = -1, uid = -1;
		const char *exe, *argv0, *seen;
		int alive;

		if (!cJSON_IsObject(p)) {
			fmt_err = "ps proc is not an object";
			rc = -1;
			break;
		}
		jnum(p, "pid", &pid);
		jnum(p, "creator_pid", &cpid);
		jnum(p, "uid", &uid);
		exe = jstr(p, "exe");
		argv0 = jstr(p, "argv0");
		seen = jstr(p, "seen");
		alive = jbool(p, "alive");
		fprintf(mem, "%7lld ", pid);
		if (cpid > 0)
			fprintf(mem, "%7lld ", cpid);
		else
			fprintf(mem, "%7s ", "-");
		if (uid >= 0)
			fprintf(mem, "%6lld ", uid);
		else
			fprintf(mem, "%6s ", "-");
		{
			char sv[8];
			snprintf(sv, sizeof(sv), "%s", seen ? seen : "-");
			for (char *q = sv; *q; q++)
				if ((unsigned char)*q < 0x20 || *q == 0x7f)
					*q = '?';
			fprintf(mem, "%-6s %-6s ",
				alive == 0 ? "exited" : alive == 1 ? "alive" : "-", sv);
		}
		put_safe(mem, exe && *exe ? exe : "-");
		if (argv0 && *argv0 && (!exe || strcmp(argv0, exe) != 0)) {
			fputs(" (", mem);
			put_safe(mem, argv0);
			fputc(')', mem);
		}
		fputc('\n', mem);
	}
	cJSON_Delete(root);
	return flush_mem(mem, &buf, &len, out, rc);
}

static void status_walk(FILE *f, const cJSON *o, char *key, size_t klen, size_t cap)
{
	const cJSON *v;

	cJSON_ArrayForEach(v, o)
	{
		size_t n = klen;
		if (!v->string || (klen == 0 && strcmp(v->string, "ok") == 0))
			continue;
		if (n && n + 1 < cap)
			key[n++] = '.';
		snprintf(key + n, cap - n, "%s", v->string);
		if (cJSON_IsObject(v)) {
			status_walk(f, v, key, strlen(key), cap);
		} else {
			put_safe(f, key);
			fputs(": ", f);
			if (cJSON_IsNumber(v)) {
				if (v->valuedouble >= -9.2e18 && v->valuedouble <= 9.2e18 &&
				    v->valuedouble == (double)(long long)v->valuedouble)
					fprintf(f, "%lld", (long long)v->valuedouble);
				else
					fprintf(f, "%g", v->valuedouble);
			} else if (cJSON_IsString(v)) {
				put_safe(f, v->valuestring);
			} else if (cJSON_IsBool(v)) {
				fputs(cJSON_IsTrue(v) ? "true" : "false", f);
			} else if (cJSON_IsNull(v)) {
				fputs("-", f);
			} else {
				char *s = cJSON_PrintUnformatted(v);
				put_safe(f, s ? s : "?");
				free(s);
			}
			fputc('\n', f);
		}
		key[klen] = '\0';
	}
}

int chainfmt_status(const char *json, FILE *out)
{
	cJSON *root;
	char key[512] = "";
	char *buf = NULL;
	size_t len = 0;
	FILE *mem;

	if (!(root = parse_answer(json)))
		return -1;
	if (!(mem = open_memstream(&buf, &len))) {
		fmt_err = "out of memory";
		cJSON_Delete(root);
		return -1;
	}
	status_walk(mem, root, key, 0, sizeof(key));
	cJSON_Delete(root);
	return flush_mem(mem, &buf, &len, out, 0);
}
