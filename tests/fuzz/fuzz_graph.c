/*
 * fuzz_graph.c — stateful libFuzzer target for the collector's host model:
 * an input is a program that drives sequences of records from several
 * senders through graph_apply() (as the collector's receive loop does: each
 * record encoded and decoded again, its time clamped per sender), interleaved
 * with clock steps, retention (graph_gc), chain/who/prejudge/bound/ps/graph/
 * status queries and the CLI's renderings of their answers. After the program
 * (and every 256 steps) the graph's invariants are checked: a broken list, a
 * count that drifts or a dangling peer aborts before it becomes a crash.
 *
 * Deterministic: the graph runs with use_procfs = 0 and no sock_diag socket
 * (nl = -1), so neither graph.c nor chain.c/query.c reads /proc or asks the
 * kernel about sockets. The one kernel read left is sd_is_local_addr() (chain.c
 * asks whether a TCP peer is this host: an rtnetlink address dump, cached 2 s):
 * every address the program can name is loopback (answered without asking) or
 * in a documentation range (192.0.2/24, 198.51.100/24, 203.0.113/24,
 * 2001:db8::/32) that no host here carries. graph_mark_internal(ino, 0) reads
 * the real clock, so only on = 1 is used. A new graph per input.
 *
 * Program format (bytes past the end read as 0, so a cut program still runs):
 *   header  h0: max_procs {4,16,64,100000}[h0&3], retention {1,10,60,600} s
 *               [(h0>>2)&3], window {1,10,60,600} s [(h0>>4)&3], closed
 *               connections listed {4,16,64,256} [h0>>6]
 *   then ops; an op byte is (kind << 3) | sender (8 senders, pids 100..107,
 *   uids 0,1000,1000,1001,65534,0,1000,1002):
 *     kind 0..17  record of type kind+1 (BIRTH..CONNFAIL), 8 field bytes
 *                 f0 fd, f1 fd2, f2 chan, f3 chan2, f4 num, f5 ts/ts2,
 *                 f6 addr/addr2, f7 str/str2 (see rec_build)
 *     18 RAW      len, bytes: a raw datagram through ht_record_decode
 *     19 CLOCK    step index
 *     20 GC       graph_gc(now)
 *     21 CHAIN    pid selector: {"op":"chain","pid":N}
 *     22 WHO      ino, addrs, max_nodes: the graph side of "who" (op_who
 *                 after its sock_diag lookup), chain_compute with the SYN;
 *                 a socket nobody holds: its 4-tuple in the closed index
 *                 (graph_hist_find, max_nodes & 0x7f seconds back)
 *     23 PREJ     ino, addr: query_prejudge
 *     24 DUMP     sel: ps / graph / status, rendered by chainfmt
 *     25 BOUND    ino, addrs: {"op":"bound",...}
 *     26 REPEAT   lo, hi, nops, mask: the next nops ops (lo | hi << 8) % 4096
 *                 times (a literal count: the comparisons the graph makes
 *                 against its bounds — 2 * CLOSED_KEEP closed holds, table
 *                 sizes — feed libFuzzer's dictionary, so a bound can be
 *                 reached exactly), k = 0.. added to fds (mask 1), inos (2),
 *                 sender (4); 1 ms between rounds (8). Not nested.
 *     27 MARKINT  ino: graph_mark_internal(ino, 1)
 *     28 QUERY    len, bytes: any request through query_answer
 *     29 CLOSE    fd            (short forms, for dense programs)
 *     30 OPEN     fd, chan
 *     31 DUP      fd, fd2
 * HT_FUZZ_TRACE=1 in the environment prints each op as it runs (to read a
 * reproducer: build-fuzz/fuzz_graph FILE).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../collector/chain.h"
#include "../../cli/chainfmt.h"
#include "../../collector/graph.h"
#include "../../collector/answer.h"
#include "hoptrace/chain.h"
#include "hoptrace/record.h"

#define SEC 1000000000ULL
#define MS 1000000ULL
#define NSEND 8
#define MAX_STEPS 4096    /* ops run per input (REPEAT included) */
#define MAX_QUERIES 32    /* chain walks per input */
#define MAX_DUMPS 4       /* ps/graph/status answers per input (O(graph) each) */
#define CHECK_EVERY 256

static const pid_t spid[NSEND] = {100, 101, 102, 103, 104, 105, 106, 107};
static const uid_t suid[NSEND] = {0, 1000, 1000, 1001, 65534, 0, 1000, 1002};

struct fz {
	const uint8_t *d;
	size_t n;
	struct graph *g;
	struct query_ctx q;
	struct collector_stats cs;
	uint64_t now;
	uint64_t last_ts[NSEND];
	unsigned steps, queries, dumps;
	int trace;
};

static struct fz *cur;
static FILE *devnull;

static uint64_t fz_now(void)
{
	return cur ? cur->now : 0;
}

static uint8_t byte_at(const struct fz *f, size_t pos)
{
	return pos < f->n ? f->d[pos] : 0;
}

#define CHECK(cond, ...)                                                             \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "fuzz_graph: invariant broken: %s: ", #cond); \
			fprintf(stderr, __VA_ARGS__);                                \
			fprintf(stderr, "\n");                                       \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* ---- invariants (graph.h) --------------------------------------------------- */

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
	return x < y ? -1 : x > y;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return x < y ? -1 : x > y;
}

/* how many times p is in the sorted array v[0..n) */
static size_t count_in(void **v, size_t n, const void *p)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if ((uintptr_t)v[mid] < (uintptr_t)p)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t k = 0;
	while (lo + k < n && v[lo + k] == p)
		k++;
	return k;
}

/* (sorted arrays, not nested loops: a program may leave thousands of fds) */
static void check_graph(struct graph *g)
{
	struct graph_stats st;
	graph_stats(g, &st);
	uint64_t nprocs = 0, nalive = 0, nchans = 0, nholds_p = 0, nholds_c = 0;
	size_t np = 0, nc = 0, ncr = 0;

	for (struct proc *p = graph_first_proc(g); p; p = p->next)
		np++;
	for (struct chan *c = graph_first_chan(g); c; c = c->next)
		nc++;
	void **procs = malloc((np + 1) * sizeof(void *)), **creators = malloc((np + 1) * sizeof(void *));
	void **chans = malloc((nc + 1) * sizeof(void *));
	CHECK(procs && creators && chans, "out of memory");
	np = 0;
	for (struct proc *p = graph_first_proc(g); p; p = p->next) {
		procs[np++] = p;
		if (p->creator)
			creators[ncr++] = p->creator;
	}
	nc = 0;
	for (struct chan *c = graph_first_chan(g); c; c = c->next)
		chans[nc++] = c;
	qsort(procs, np, sizeof(void *), cmp_ptr);
	qsort(creators, ncr, sizeof(void *), cmp_ptr);
	qsort(chans, nc, sizeof(void *), cmp_ptr);

	for (struct proc *p = graph_first_proc(g); p; p = p->next) {
		nprocs++;
		nalive += p->alive;
		CHECK(!p->next || p->next->prev == p, "pid %d", p->pid);
		CHECK(p->alive || p->nfds == 0, "ended pid %d keeps %u fds", p->pid, p->nfds);
		CHECK(p->nfds <= p->capfds, "pid %d", p->pid);
		void **fh = malloc((p->nfds + 1) * sizeof(void *));
		int *fdn = malloc((p->nfds + 1) * sizeof(int));
		CHECK(fh && fdn, "out of memory");
		for (uint32_t i = 0; i < p->nfds; i++) {
			struct hold *h = p->fds[i].h;
			CHECK(h && h->p == p && !h->until, "pid %d fd %d", p->pid, p->fds[i].fd);
			fh[i] = h;
			fdn[i] = p->fds[i].fd;
		}
		qsort(fh, p->nfds, sizeof(void *), cmp_ptr);
		qsort(fdn, p->nfds, sizeof(int), cmp_int);
		for (uint32_t i = 1; i < p->nfds; i++)
			CHECK(fdn[i] != fdn[i - 1], "pid %d: fd %d twice", p->pid, fdn[i]);
		uint32_t closed = 0;
		size_t reached = 0;
		for (struct hold *h = p->holds; h; h = h->pnext) {
			CHECK(h->p == p, "pid %d: a hold of pid %d on its list", p->pid, h->p->pid);
			CHECK(*h->pprev == h, "pid %d", p->pid);
			CHECK(count_in(chans, nc, h->c) == 1, "pid %d: a hold on a freed channel", p->pid);
			closed += h->until != 0;
			nholds_p++;
			size_t refs = count_in(fh, p->nfds, h);
			reached += refs;
			if (h->until)
				CHECK(refs == 0, "pid %d: a closed hold has %zu fds", p->pid, refs);
			else
				CHECK(refs == h->nfds && refs > 0,
				      "pid %d: open hold nfds %u, fds pointing at it %zu", p->pid,
				      h->nfds, refs);
		}
		CHECK(reached == p->nfds, "pid %d: %u fds, %zu on holds of its list", p->pid, p->nfds,
		      reached);
		free(fh);
		free(fdn);
		CHECK(closed == p->nclosed, "pid %d: nclosed %u, closed holds %u", p->pid, p->nclosed,
		      closed);
		size_t kids = count_in(creators, ncr, p);
		CHECK(kids == p->nchildren, "pid %d: nchildren %u, children %zu", p->pid, p->nchildren,
		      kids);
		if (p->creator)
			CHECK(count_in(procs, np, p->creator) == 1, "pid %d: creator not in the graph",
			      p->pid);
		CHECK(graph_proc(g, p->pid) != NULL, "pid %d not in the pid table", p->pid);
	}
	for (struct chan *c = graph_first_chan(g); c; c = c->next) {
		nchans++;
		CHECK(!c->next || c->next->prev == c, "chan %llu", (unsigned long long)c->ino);
		CHECK(graph_chan(g, c->kind, c->dev, c->ino) == c, "chan %d:%llu not in its table",
		      c->kind, (unsigned long long)c->ino);
		uint32_t n = 0;
		for (struct hold *h = c->holds; h; h = h->cnext) {
			CHECK(h->c == c, "chan %llu", (unsigned long long)c->ino);
			CHECK(*h->cprev == h, "chan %llu", (unsigned long long)c->ino);
			CHECK(count_in(procs, np, h->p) == 1, "chan %llu: a hold of a freed process",
			      (unsigned long long)c->ino);
			n++;
		}
		nholds_c += n;
		CHECK(n == c->nholds, "chan %d:%llu nholds %u, list %u", c->kind,
		      (unsigned long long)c->ino, c->nholds, n);
		if (c->peer) {
			CHECK(count_in(chans, nc, c->peer) == 1, "chan %llu: peer not in the graph",
			      (unsigned long long)c->ino);
			CHECK(c->peer->peer == c, "chan %llu: peer's peer is another",
			      (unsigned long long)c->ino);
		}
	}
	free(procs);
	free(creators);
	free(chans);
	CHECK(nprocs == st.procs, "procs %llu, stats %llu", (unsigned long long)nprocs,
	      (unsigned long long)st.procs);
	CHECK(nalive == st.procs_alive, "alive %llu, stats %llu", (unsigned long long)nalive,
	      (unsigned long long)st.procs_alive);
	CHECK(nchans == st.chans, "chans %llu, stats %llu", (unsigned long long)nchans,
	      (unsigned long long)st.chans);
	CHECK(nholds_p == st.holds && nholds_c == st.holds, "holds %llu/%llu, stats %llu",
	      (unsigned long long)nholds_p, (unsigned long long)nholds_c,
	      (unsigned long long)st.holds);
	CHECK(st.procs <= graph_conf(g)->max_procs, "procs %llu > max",
	      (unsigned long long)st.procs);
	CHECK(graph_hist_count(g) <= graph_conf(g)->max_closed &&
	      st.hist_added - st.hist_evicted_cap - st.hist_evicted_window == graph_hist_count(g),
	      "hist %zu listed, %llu added", graph_hist_count(g), (unsigned long long)st.hist_added);
}

/* ---- value tables ------------------------------------------------------------- */

static int32_t fd_of(uint8_t b, unsigned k, unsigned mask)
{
	static const int32_t special[8] = {-1, -2, 255, 1023, 1024, 65536, INT32_MAX, 1 << 20};
	unsigned v = b & 31;
	if (v >= 24)
		return special[v - 24];
	return (int32_t)(v + ((mask & 1) ? k : 0));
}

/* b: bits 0-3 ino, bit 4 another dev (pipes) / a large ino, bits 5-7 kind:
 * the record type's own kind (0-2), else PIPE SOCK PTY FIFO, 7 = kind 0 */
static struct ht_chan chan_of(uint8_t b, uint8_t natural, unsigned k, unsigned mask)
{
	static const uint8_t kinds[8] = {0, 0, 0, HT_CHAN_PIPE, HT_CHAN_SOCK, HT_CHAN_PTY,
					 HT_CHAN_FIFO, HT_CHAN_NONE};
	struct ht_chan c;
	unsigned s = b >> 5;
	c.kind = s < 3 ? natural : kinds[s];
	c.dev = (b & 16) ? 9 : 12;
	c.ino = (uint64_t)(b & 15) + ((mask & 2) ? k : 0);
	if ((b & 16) && c.kind != HT_CHAN_PIPE && c.kind != HT_CHAN_FIFO)
		c.ino += 1000000;
	return c;
}

static uint64_t ino_of(uint8_t b, unsigned k, unsigned mask)
{
	return (uint64_t)(b & 15) + ((mask & 2) ? k : 0) + ((b & 16) ? 1000000 : 0);
}

static int64_t num_of(uint8_t b, int s)
{
	static const int64_t special[16] = {0, 1, -1, 0 /* self */, 4194304, 99, 2, 5,
					    INT32_MAX, (int64_t)INT32_MAX + 1, -32, 200,
					    1000, 100, 107, INT64_MIN};
	if (b < 0x80)
		return spid[b & 7];
	if ((b & 15) == 3)
		return spid[s];
	return special[b & 15];
}

static void addr_of(uint8_t sel, struct ht_addr *a)
{
	static const uint8_t v6doc1[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t v6doc2[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
	static const uint8_t v6lo[16] = {[15] = 1};
	static const uint8_t v6map[16] = {[10] = 0xff, [11] = 0xff, 192, 0, 2, 1};
	memset(a, 0, sizeof(*a));
	switch (sel & 15) {
	case 0: return;
#define V4(x, y, z, w, p)                                                            \
	do {                                                                         \
		a->family = AF_INET;                                                 \
		a->len = 4;                                                          \
		a->a[0] = x, a->a[1] = y, a->a[2] = z, a->a[3] = w;                  \
		a->port = p;                                                         \
	} while (0)
#define V6(b, p)                                                                     \
	do {                                                                         \
		a->family = AF_INET6;                                                \
		a->len = 16;                                                         \
		memcpy(a->a, b, 16);                                                 \
		a->port = p;                                                         \
	} while (0)
	case 1: V4(192, 0, 2, 1, 22); return;
	case 2: V4(192, 0, 2, 2, 80); return;
	case 3: V4(198, 51, 100, 7, 9000); return;
	case 4: V4(127, 0, 0, 1, 22); return;
	case 5: V4(127, 0, 0, 1, 9000); return;
	case 6: V6(v6doc1, 22); return;
	case 7: V6(v6lo, 9000); return;
	case 8: V6(v6map, 22); return;
	case 12: V4(203, 0, 113, 5, 443); return;
	case 13: V4(0, 0, 0, 0, 0); return;
	case 15: V6(v6doc2, 65535); return;
#undef V4
#undef V6
	case 9:
		a->family = AF_UNIX;
		a->len = 11;
		memcpy(a->a, "\0hoptrace/x", 11);
		return;
	case 10:
		a->family = AF_UNIX;
		a->len = 9;
		memcpy(a->a, "/tmp/sock", 9);
		return;
	case 11:
		a->family = AF_UNIX;
		return;
	case 14:
		a->family = AF_UNIX;
		a->len = HT_REC_UNIX_MAX;
		memset(a->a, 'A', HT_REC_UNIX_MAX);
		return;
	}
}

static void str_of(uint8_t sel, char *out, size_t n)
{
	static const char *const tab[16] = {
		"", "/usr/bin/ssh", "/bin/sh", "sh", "/usr/bin/tmux", "tmux", "/usr/sbin/sshd",
		"sshd: user [priv]", "\x1b[2J\x07evil\r", NULL /* long */, "/usr/bin/socat", "nc",
		"/proc/self/exe", "bash", "/usr/bin/curl", "a\"b\\c\n{\"x\":1}"};
	if (!tab[sel & 15]) {
		memset(out, 'a', n - 1);
		out[n - 1] = 0;
		return;
	}
	snprintf(out, n, "%s", tab[sel & 15]);
}

/* "ip:port" of an address table entry (TCP ones only; "" otherwise) */
static const char *ep_str(uint8_t sel, char *buf, size_t n)
{
	struct ht_addr a;
	addr_of(sel, &a);
	if (a.family != AF_INET && a.family != AF_INET6)
		return "";
	return ht_addr_str(&a, buf, n);
}

/* ---- records ---------------------------------------------------------------- */

static uint8_t natural_kind(int type)
{
	switch (type) {
	case HT_REC_PIPE: return HT_CHAN_PIPE;
	case HT_REC_PTY: return HT_CHAN_PTY;
	case HT_REC_OPEN: return HT_CHAN_FIFO;
	default: return HT_CHAN_SOCK;
	}
}

/* The record an op describes (f: its 8 field bytes). */
static void rec_build(struct ht_record *r, int type, const uint8_t *f, int s, uint64_t ts,
		      unsigned k, unsigned mask)
{
	static const int64_t sotypes[4] = {1 /* STREAM */, 2 /* DGRAM */, 5 /* SEQPACKET */, 1};
	uint8_t nat = natural_kind(type);
	memset(r, 0, sizeof(*r));
	r->type = (uint8_t)type;
	r->ts = ts;
	r->fd = fd_of(f[0], k, mask);
	r->fd2 = fd_of(f[1], k, mask);
	r->chan = chan_of(f[2], nat, k, mask);
	r->chan2 = chan_of(f[3], nat, k, mask);
	r->num = num_of(f[4], s);
	switch ((f[5] >> 3) & 7) {
	case 0: r->ts2 = 0; break;
	case 1: r->ts2 = ts; break;
	case 2: r->ts2 = ts - 1; break;
	case 3: r->ts2 = ts - MS; break;
	case 4: r->ts2 = ts - SEC; break;
	case 5: r->ts2 = ts - 20 * SEC; break;
	case 6: r->ts2 = ts + 1; break;
	case 7: r->ts2 = 1; break;
	}
	addr_of(f[6], &r->addr);
	addr_of(f[6] >> 4, &r->addr2);
	str_of(f[7], r->str, sizeof(r->str));
	str_of(f[7] >> 4, r->str2, sizeof(r->str2));
	switch (type) {
	case HT_REC_CONNECT:
	case HT_REC_ACCEPT:
		r->num = sotypes[f[4] & 3];
		break;
	case HT_REC_EXIT:
		r->num = (int8_t)f[4];
		r->num2 = f[7] & 1 ? (int64_t)f[7] : 0;
		break;
	case HT_REC_CONNFAIL:
		r->num = 111; /* ECONNREFUSED */
		break;
	case HT_REC_CLOSERANGE:
		if (f[1] & 0x80)
			r->fd2 = INT32_MAX; /* closefrom */
		break;
	case HT_REC_PTY:
		if (f[1] & 0x80)
			r->fd2 = -1; /* master only */
		break;
	}
}

/* The collector's receive loop, for one datagram already decoded: clamp the
 * sender's time into [now - skew, now], keep its records in order, apply. */
static void deliver(struct fz *f, int s, struct ht_record *r)
{
	const char *why = NULL;
	if (r->ts > f->now || r->ts + HT_REC_MAX_SKEW_NS < f->now)
		r->ts = f->now;
	if (r->ts < f->last_ts[s])
		r->ts = f->last_ts[s];
	f->last_ts[s] = r->ts;
	int rc = graph_apply(f->g, spid[s], suid[s], r, f->now, &why);
	if (f->trace)
		fprintf(stderr, "   -> rc %d%s%s\n", rc, why ? " " : "", why ? why : "");
	/* (nothing changes on error: the invariants still hold) */
}

/* A record built from fields goes through the codec, as a shim's would. */
static void send_rec(struct fz *f, int s, struct ht_record *r)
{
	uint8_t buf[HT_REC_MAX];
	struct ht_record d;
	const char *why;
	size_t n = ht_record_encode(r, buf, sizeof(buf));
	if (!n || ht_record_decode(buf, n, &d, &why) != 0) {
		if (f->trace)
			fprintf(stderr, "   (not encodable: %s)\n", n ? why : "too long");
		return;
	}
	deliver(f, s, &d);
}

/* ---- queries ------------------------------------------------------------------ */

enum ans_kind { ANS_TREE, ANS_CHAINS, ANS_PS, ANS_DOT, ANS_STATUS, ANS_ANY };

static void consume(struct fz *f, char *ans, enum ans_kind kind)
{
	if (!ans)
		return;
	cJSON *j = cJSON_Parse(ans);
	CHECK(j && cJSON_IsObject(j), "answer is not a JSON object: %.200s", ans);
	int ok = cJSON_IsTrue(cJSON_GetObjectItem(j, "ok"));
	cJSON_Delete(j);
	if (f->trace)
		fprintf(stderr, "   => %.300s%s\n", ans, strlen(ans) > 300 ? "..." : "");
	if (ok) {
		switch (kind) {
		case ANS_TREE:
		case ANS_CHAINS: { /* (a prejudged answer has no tree) */
			struct ht_chainset cs;
			const char *err;
			/* what the guard and the CLI cannot read is a defect — but
			 * for their deliberate bounds (the guard: "incomplete") */
			int rc = ht_chains_from_json(ans, strlen(ans), &cs, &err);
			CHECK(rc == 0 || strstr(err, "too many"), "ht_chains_from_json: %s", err);
			if (rc == 0)
				ht_chainset_free(&cs);
			if (kind == ANS_TREE)
				CHECK(chainfmt_tree(ans, devnull) == 0 || rc != 0, "chainfmt_tree: %s",
				      chainfmt_error());
			break;
		}
		case ANS_PS: chainfmt_ps(ans, devnull); break;
		case ANS_DOT: chainfmt_dot(ans, devnull); break;
		case ANS_STATUS: chainfmt_status(ans, devnull); break;
		case ANS_ANY:
			chainfmt_tree(ans, devnull);
			chainfmt_ps(ans, devnull);
			break;
		}
	}
	free(ans);
}

static char *ask(struct fz *f, const char *req)
{
	if (f->trace)
		fprintf(stderr, "   <= %s\n", req);
	return query_answer(&f->q, req, strlen(req), f->now);
}

/* query.c's socket_holder (static there): who connect()ed c, else the oldest
 * live holder */
static struct proc *holder_of(struct chan *c)
{
	struct proc *any = NULL;
	for (struct hold *h = c->holds; h; h = h->cnext) {
		if (h->until || !h->p->alive)
			continue;
		if (h->p->pid == c->connector)
			return h->p;
		if (!any || h->p->birth_ts < any->birth_ts)
			any = h->p;
	}
	return any;
}

/* op_who after sock_diag named the socket: the same graph calls, same order */
static void who(struct fz *f, uint64_t ino, uint8_t addrs, uint8_t nodes)
{
	struct ht_addr l, r;
	addr_of(addrs, &l);
	addr_of(addrs >> 4, &r);
	if (l.family != AF_INET && l.family != AF_INET6)
		addr_of(1, &l);
	if (r.family != l.family)
		addr_of(l.family == AF_INET ? 2 : 6, &r);
	struct chan *c = graph_chan(f->g, HT_CHAN_SOCK, 0, ino);
	struct proc *p = c ? holder_of(c) : NULL;
	if (f->trace)
		fprintf(stderr, "   who socket:[%llu]: holder %d\n", (unsigned long long)ino,
			p ? p->pid : 0);
	if (!p) {
		/* closed: the recent past by 4-tuple (graph_hist.c), as op_who */
		struct graph_closed e;
		uint64_t back = (uint64_t)(nodes & 0x7f) * SEC;
		uint64_t t = f->now > back ? f->now - back : 0;
		int rc = graph_hist_find(f->g, &l, &r, t, f->now, &e);
		CHECK(rc != 1 || (e.since < e.until && e.until + graph_conf(f->g)->window_ns >= f->now),
		      "hist entry %d out of its window", rc);
		struct chan *hc;
		struct proc *hp = rc == 1 ? graph_hist_holder(f->g, &e, &t, &hc) : NULL;
		CHECK(!hp || (hc && hc->ino == e.ino && hp->serial == e.serial && t < e.until),
		      "hist holder of socket:[%llu]", (unsigned long long)e.ino);
		if (f->trace)
			fprintf(stderr, "   who closed: %d, holder %d\n", rc, hp ? hp->pid : 0);
		return;
	}
	if (!c->has_local) {
		gaddr_set(&c->local, &l);
		c->has_local = 1;
		if (!c->remote.family)
			gaddr_set(&c->remote, &r);
		if (!c->dir)
			c->dir = 'o';
	}
	struct chain_req req = {.host = "fz", .subject = p, .exclude = c, .syn_local = &l,
				.syn_remote = &r, .now = f->now, .nl = -1,
				.max_nodes = nodes & 0x80 ? (size_t)(nodes & 15) + 1 : 0};
	cJSON *a = chain_compute(f->g, &req);
	if (!a)
		return;
	char *s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	consume(f, s, ANS_TREE);
}

/* ---- the interpreter ---------------------------------------------------------- */

static const uint64_t clock_steps[16] = {
	1, 1000, MS, 50 * MS, 500 * MS, SEC, 2 * SEC, 5 * SEC,
	9 * SEC, 11 * SEC, 61 * SEC, 601 * SEC, 3601 * SEC, 0, 100 * MS, 20 * SEC};

static const uint64_t back_steps[8] = {0, 1, 1000, MS, 100 * MS, SEC, 9 * SEC, 20 * SEC};

static int pid_sel(uint8_t b)
{
	static const int special[8] = {1, 99, 4194304, 2, 108, 0, 1000, 100};
	return b < 0x80 ? spid[b & 7] : special[b & 7];
}

/* Runs (run = 1) or skips one op at pos; returns the position after it. */
static size_t op_one(struct fz *f, size_t pos, unsigned k, unsigned mask, int nested, int run)
{
	uint8_t op = byte_at(f, pos++);
	int kind = op >> 3, s = op & 7;
	uint8_t a[8];
	char req[512], l[64], r[64];

	if (run && (mask & 4))
		s = (int)((unsigned)(s + k) % NSEND);
	if (kind <= 17) {
		for (int i = 0; i < 8; i++)
			a[i] = byte_at(f, pos + (size_t)i);
		pos += 8;
		if (!run)
			return pos;
		struct ht_record rec;
		rec_build(&rec, kind + 1, a, s, f->now - back_steps[a[5] & 7], k, mask);
		if (f->trace)
			fprintf(stderr, "%5u pid %d %s fd %d fd2 %d chan %d:%llu chan2 %d:%llu num %lld\n",
				f->steps, spid[s], ht_rec_type_name(rec.type), rec.fd, rec.fd2,
				rec.chan.kind, (unsigned long long)rec.chan.ino, rec.chan2.kind,
				(unsigned long long)rec.chan2.ino, (long long)rec.num);
		send_rec(f, s, &rec);
		return pos;
	}
	switch (kind) {
	case 18: { /* RAW */
		size_t len = byte_at(f, pos++);
		size_t avail = pos < f->n ? f->n - pos : 0;
		if (len > avail)
			len = avail;
		if (run) {
			struct ht_record rec;
			const char *why;
			int rc = ht_record_decode(f->d + pos, len, &rec, &why);
			if (f->trace)
				fprintf(stderr, "%5u pid %d raw %zu bytes: %s\n", f->steps, spid[s], len,
					rc ? why : ht_rec_type_name(rec.type));
			if (rc == 0)
				deliver(f, s, &rec);
		}
		return pos + len;
	}
	case 19: /* CLOCK */
		a[0] = byte_at(f, pos++);
		if (run) {
			f->now += clock_steps[a[0] & 15];
			if (f->trace)
				fprintf(stderr, "%5u clock +%llu ns\n", f->steps,
					(unsigned long long)clock_steps[a[0] & 15]);
		}
		return pos;
	case 20: /* GC */
		if (run) {
			if (f->trace)
				fprintf(stderr, "%5u gc\n", f->steps);
			graph_gc(f->g, f->now);
		}
		return pos;
	case 21: /* CHAIN */
		a[0] = byte_at(f, pos++);
		if (run && f->queries++ < MAX_QUERIES) {
			if (f->trace)
				fprintf(stderr, "%5u chain\n", f->steps);
			snprintf(req, sizeof(req), "{\"op\":\"chain\",\"pid\":%d,\"id\":%u}", pid_sel(a[0]),
				 f->steps);
			consume(f, ask(f, req), ANS_TREE);
		}
		return pos;
	case 22: /* WHO */
		a[0] = byte_at(f, pos++);
		a[1] = byte_at(f, pos++);
		a[2] = byte_at(f, pos++);
		if (run && f->queries++ < MAX_QUERIES) {
			if (f->trace)
				fprintf(stderr, "%5u who\n", f->steps);
			who(f, ino_of(a[0], k, mask), a[1], a[2]);
		}
		return pos;
	case 23: /* PREJ */
		a[0] = byte_at(f, pos++);
		a[1] = byte_at(f, pos++);
		if (run && f->queries++ < MAX_QUERIES) {
			struct ht_addr ra; /* (the collector prejudges TCP connects only) */
			addr_of(a[1], &ra);
			if (ra.family != AF_INET && ra.family != AF_INET6)
				addr_of(1, &ra);
			if (f->trace)
				fprintf(stderr, "%5u prejudge socket:[%llu]\n", f->steps,
					(unsigned long long)ino_of(a[0], k, mask));
			consume(f, query_prejudge(&f->q, ino_of(a[0], k, mask), &ra, f->now), ANS_CHAINS);
		}
		return pos;
	case 24: /* DUMP */
		a[0] = byte_at(f, pos++);
		if (run && f->dumps++ < MAX_DUMPS) {
			static const char *const ops[3] = {"ps", "graph", "status"};
			static const enum ans_kind kinds[3] = {ANS_PS, ANS_DOT, ANS_STATUS};
			if (f->trace)
				fprintf(stderr, "%5u dump\n", f->steps);
			snprintf(req, sizeof(req), "{\"op\":\"%s\"}", ops[a[0] % 3]);
			consume(f, ask(f, req), kinds[a[0] % 3]);
		}
		return pos;
	case 25: /* BOUND */
		a[0] = byte_at(f, pos++);
		a[1] = byte_at(f, pos++);
		if (run) {
			snprintf(req, sizeof(req), "{\"op\":\"bound\",\"ino\":%llu,\"local\":\"%s\",\"remote\":\"%s\"}",
				 (unsigned long long)ino_of(a[0], k, mask), ep_str(a[1], l, sizeof(l)),
				 ep_str(a[1] >> 4, r, sizeof(r)));
			if (f->trace)
				fprintf(stderr, "%5u %s\n", f->steps, req);
			query_bound(&f->q, req, strlen(req));
		}
		return pos;
	case 26: { /* REPEAT */
		unsigned cnt = ((unsigned)byte_at(f, pos) | (unsigned)byte_at(f, pos + 1) << 8) % 4096;
		unsigned nops = (byte_at(f, pos + 2) & 7) + 1;
		unsigned m = byte_at(f, pos + 3);
		pos += 4;
		if (nested || !run)
			return pos; /* the block after it runs once, as plain ops */
		if (f->trace)
			fprintf(stderr, "%5u repeat %u x %u ops, mask %x\n", f->steps, cnt, nops, m);
		size_t end = pos;
		for (unsigned it = 0; it < cnt && f->steps < MAX_STEPS; it++) {
			if (m & 8)
				f->now += MS;
			size_t p = pos;
			for (unsigned j = 0; j < nops && p < f->n && f->steps < MAX_STEPS; j++) {
				f->steps++;
				p = op_one(f, p, it, m, 1, 1);
			}
			end = p;
		}
		/* (stopped early: skip the rest of the block) */
		for (unsigned j = 0; end == pos && j < nops; j++)
			end = op_one(f, end, 0, 0, 1, 0);
		return end;
	}
	case 27: /* MARKINT */
		a[0] = byte_at(f, pos++);
		if (run)
			graph_mark_internal(f->g, ino_of(a[0], k, mask), 1);
		return pos;
	case 28: { /* QUERY */
		size_t len = byte_at(f, pos++);
		size_t avail = pos < f->n ? f->n - pos : 0;
		if (len > avail)
			len = avail;
		if (run && f->queries++ < MAX_QUERIES) {
			if (f->trace)
				fprintf(stderr, "%5u query %.*s\n", f->steps, (int)len, f->d + pos);
			if (!query_bound(&f->q, (const char *)f->d + pos, len) &&
			    !query_is_subscribe((const char *)f->d + pos, len))
				consume(f, query_answer(&f->q, (const char *)f->d + pos, len, f->now),
					ANS_ANY);
		}
		return pos + len;
	}
	case 29: /* CLOSE fd */
	case 30: /* OPEN fd chan */
	case 31: { /* DUP fd fd2 */
		memset(a, 0, sizeof(a));
		a[0] = byte_at(f, pos++);
		if (kind != 29)
			a[kind == 30 ? 2 : 1] = byte_at(f, pos++);
		if (!run)
			return pos;
		int type = kind == 29 ? HT_REC_CLOSE : kind == 30 ? HT_REC_OPEN : HT_REC_DUP;
		struct ht_record rec;
		rec_build(&rec, type, a, s, f->now, k, mask);
		if (f->trace)
			fprintf(stderr, "%5u pid %d %s fd %d fd2 %d chan %d:%llu\n", f->steps, spid[s],
				ht_rec_type_name(rec.type), rec.fd, rec.fd2, rec.chan.kind,
				(unsigned long long)rec.chan.ino);
		send_rec(f, s, &rec);
		return pos;
	}
	}
	return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t maxp[4] = {4, 16, 64, 100000};
	static const uint64_t secs[4] = {1, 10, 60, 600};
	struct fz f;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (size < 1)
		return 0;
	memset(&f, 0, sizeof(f));
	f.d = data;
	f.n = size;
	f.trace = getenv("HT_FUZZ_TRACE") != NULL;
	struct graph_conf c = {.retention_ns = secs[(data[0] >> 2) & 3] * SEC,
			       .window_ns = secs[(data[0] >> 4) & 3] * SEC,
			       .max_procs = maxp[data[0] & 3], .use_procfs = 0,
			       .max_closed = 4u << (2 * (data[0] >> 6))}; /* 4, 16, 64, 256 */
	f.g = graph_new(&c);
	if (!f.g)
		return 0;
	f.now = 1000 * SEC;
	f.q.g = f.g;
	f.q.hostname = "fz";
	f.q.nl = -1;
	f.q.stats = &f.cs;
	f.q.started = f.now;
	f.q.now_fn = fz_now;
	cur = &f;

	size_t pos = 1;
	while (pos < size && f.steps < MAX_STEPS) {
		f.steps++;
		pos = op_one(&f, pos, 0, 0, 0, 1);
		if (f.steps % CHECK_EVERY == 0)
			check_graph(f.g);
	}
	check_graph(f.g);
	/* and after everything has aged out: what retention leaves is consistent */
	f.now += 2 * c.retention_ns + 2 * SEC;
	for (int i = 0; i < 12; i++)
		graph_gc(f.g, f.now);
	check_graph(f.g);
	graph_free(f.g);
	cur = NULL;
	return 0;
}
