/*
 * claims_test.c — records are claims (issue 10): with a fake kernel behind
 * graph_conf's hooks, every claim that would put a process on a channel or
 * give it a creator is checked, and one the kernel does not confirm changes
 * nobody's chain. Each case is a forgery an unprivileged sender can send:
 *   FDRECV / CONNECT / ACCEPT / OPEN / PIPE naming another user's channel,
 *   IMAGE with a false ppid, BIRTH naming an ended creator while its real
 *   parent lives, SPAWN of someone else's child, CLOSE / DUP / CLOSERANGE /
 *   EXIT that would hide a hold the kernel still shows, CONNFAIL of a live
 *   connection; and the honest cases still work (own fds, a pipe whose one
 *   end is gone, a re-parented child's lineage from its process group).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "../../collector/chain.h"
#include "../../collector/graph.h"
#include "hoptrace/chain.h"
#include "rec_fixture.h"
#include "test.h"

#define SEC 1000000000ULL
#define R rec_blank

/* ---- a fake kernel ------------------------------------------------------- */

struct kfd {
	pid_t pid;
	int fd;
	struct ht_chan c;
};
struct kp {
	pid_t pid;
	struct graph_kproc k;
};
static struct kfd kfds[512];
static int nkfds;
static struct kp kps[32];
static int nkps;

static void kreset(void)
{
	nkfds = nkps = 0;
}

static void kfd_set(pid_t pid, int fd, uint8_t kind, uint64_t dev, uint64_t ino)
{
	for (int i = 0; i < nkfds; i++)
		if (kfds[i].pid == pid && kfds[i].fd == fd) {
			kfds[i].c = (struct ht_chan){kind, dev, ino};
			return;
		}
	kfds[nkfds++] = (struct kfd){pid, fd, {kind, dev, ino}};
}

static void kfd_del(pid_t pid, int fd)
{
	for (int i = 0; i < nkfds; i++)
		if (kfds[i].pid == pid && kfds[i].fd == fd)
			kfds[i] = kfds[--nkfds];
}

static void kproc_set(pid_t pid, pid_t ppid, pid_t pgrp, pid_t sid, uint64_t start)
{
	for (int i = 0; i < nkps; i++)
		if (kps[i].pid == pid) {
			kps[i].k = (struct graph_kproc){ppid, pgrp, sid, start, 'S'};
			return;
		}
	kps[nkps++] = (struct kp){pid, {ppid, pgrp, sid, start, 'S'}};
}

static void kproc_del(pid_t pid)
{
	for (int i = 0; i < nkps; i++)
		if (kps[i].pid == pid)
			kps[i] = kps[--nkps];
}

static int fake_fd(void *ctx, pid_t pid, int fd, struct ht_chan *c)
{
	(void)ctx;
	for (int i = 0; i < nkfds; i++)
		if (kfds[i].pid == pid && kfds[i].fd == fd) {
			*c = kfds[i].c;
			return 0;
		}
	return -ENOENT;
}

static pid_t kp_watch; /* fake_proc's calls about this pid are counted */
static int kp_asked;

static int fake_proc(void *ctx, pid_t pid, struct graph_kproc *k)
{
	(void)ctx;
	if (pid == kp_watch)
		kp_asked++;
	for (int i = 0; i < nkps; i++)
		if (kps[i].pid == pid) {
			*k = kps[i].k;
			return 0;
		}
	return -ESRCH;
}

/* the fake kernel's fd table of pid (graph_conf.kernel_fds) */
static int nfds_reads; /* fake_fds calls */
static int fake_fds(void *ctx, pid_t pid, uint64_t cpu_deadline,
		    int (*cb)(void *, int, const struct ht_chan *), void *cbctx)
{
	(void)ctx, (void)cpu_deadline;
	nfds_reads++;
	for (int i = 0; i < nkfds; i++)
		if (kfds[i].pid == pid) {
			int rc = cb(cbctx, kfds[i].fd, &kfds[i].c);
			if (rc)
				return rc;
		}
	return 0;
}

static struct graph *mk(int trust)
{
	struct graph_conf c = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC, .max_procs = 1000,
			       .use_procfs = 0, .kernel_fd = fake_fd, .kernel_proc = fake_proc,
			       .trust_claims = trust};
	kreset();
	return graph_new(&c);
}

/* ---- records ------------------------------------------------------------- */

static int apply(struct graph *g, pid_t pid, uid_t uid, struct ht_record r)
{
	const char *why = NULL;
	return graph_apply(g, pid, uid, &r, r.ts, &why);
}

static void ok(struct graph *g, pid_t pid, uid_t uid, struct ht_record r)
{
	const char *why = NULL;
	int rc = graph_apply(g, pid, uid, &r, r.ts, &why);
	if (rc)
		fprintf(stderr, "    apply %s for pid %d: %s\n", ht_rec_type_name(r.type), pid, why);
	CHECK_EQ_INT(rc, 0);
}

static struct ht_record image_rec(pid_t ppid, const char *exe, uint64_t ts)
{
	struct ht_record r = R(HT_REC_IMAGE, ts);
	r.num = ppid;
	snprintf(r.str, sizeof(r.str), "%s", exe);
	snprintf(r.str2, sizeof(r.str2), "%s", strrchr(exe, '/') + 1);
	return r;
}

/* a process forked by init (its BIRTH names pid 1, as the kernel's parent
 * does, sent as root: init's credentials at the fork), then its image as
 * uid (a service's setuid and exec): not a re-parented orphan whose lineage
 * is unknown (graph_lineage_gap) */
static void init_child(struct graph *g, pid_t pid, uid_t uid, const char *exe, uint64_t ts)
{
	struct ht_record b = R(HT_REC_BIRTH, ts);
	b.num = 1;
	b.ts2 = ts;
	ok(g, pid, 0, b);
	ok(g, pid, uid, image_rec(1, exe, ts));
}

static void v4(struct ht_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->len = 4;
	inet_pton(AF_INET, ip, a->a);
	a->port = port;
}

static struct ht_record accept_rec(int fd, uint64_t ino, const char *from, uint64_t ts)
{
	struct ht_record r = R(HT_REC_ACCEPT, ts);
	r.fd = fd;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
	r.num = SOCK_STREAM;
	v4(&r.addr, "10.250.0.2", 22);
	v4(&r.addr2, from, 50000);
	return r;
}

static struct ht_record connect_rec(int fd, uint64_t ino, const char *to, uint64_t ts)
{
	struct ht_record r = R(HT_REC_CONNECT, ts);
	r.fd = fd;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
	r.num = SOCK_STREAM;
	v4(&r.addr, to, 22);
	return r;
}

static struct ht_record fd_rec(int type, int fd, struct ht_chan c, uint64_t ts)
{
	struct ht_record r = R(type, ts);
	r.fd = fd;
	r.chan = c;
	return r;
}

/* "origin,origin" of pid's chains (its own connection ino `syn` excluded) */
static void origins(struct graph *g, pid_t pid, uint64_t syn, uint64_t now, char *out, size_t n)
{
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, pid),
				.exclude = graph_chan(g, HT_CHAN_SOCK, 0, syn), .now = now, .nl = -1};
	out[0] = 0;
	if (!req.subject)
		return;
	cJSON *a = chain_compute(g, &req), *ch;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItem(a, "chains"))
	{
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s%s", l ? "," : "",
			 cJSON_GetObjectItem(ch, "origin_host")->valuestring);
	}
	cJSON_Delete(a);
}

#define CHECK_ORIGINS(g, pid, syn, now, want)                  \
	do {                                                   \
		char _o[256];                                  \
		origins(g, pid, syn, now, _o, sizeof(_o));     \
		CHECK_EQ_STR(_o, want);                        \
	} while (0)

/* The scene: root's sshd session 40 (uid 0) holds socket 9000 accepted from
 * 10.0.0.1 (the trusted host) on fd 3 and pty 7's master on fd 5; the
 * attacker 30 (uid 65534, its own shell 29) holds its own socket 7777 on fd 6,
 * connected to 10.0.0.3:22 — the SYN asked about. */
static struct graph *scene(int trust)
{
	struct graph *g = mk(trust);
	kproc_set(40, 1, 40, 40, 100);
	kfd_set(40, 3, HT_CHAN_SOCK, 0, 9000);
	kfd_set(40, 5, HT_CHAN_PTY, 0, 7);
	ok(g, 40, 0, image_rec(1, "/usr/sbin/sshd", 1));
	ok(g, 40, 0, accept_rec(3, 9000, "10.0.0.1", 2));
	struct ht_record p = R(HT_REC_PTY, 3);
	p.fd = 5;
	p.fd2 = -1;
	p.chan = (struct ht_chan){HT_CHAN_PTY, 0, 7};
	ok(g, 40, 0, p);
	kproc_set(29, 1, 29, 29, 150);
	init_child(g, 29, 65534, "/usr/bin/dash", 4);
	kproc_set(30, 29, 29, 29, 200);
	kfd_set(30, 6, HT_CHAN_SOCK, 0, 7777);
	ok(g, 30, 65534, image_rec(29, "/usr/bin/python3", 5));
	ok(g, 30, 65534, connect_rec(6, 7777, "10.0.0.3", 6));
	return g;
}

/* the original attack: FDRECV naming root's connection from the trusted host */
static void test_forged_fdrecv(void)
{
	/* without the checks the forgery works (what issue 10 showed) */
	struct graph *g = scene(1);
	ok(g, 30, 65534, fd_rec(HT_REC_FDRECV, 8, (struct ht_chan){HT_CHAN_SOCK, 0, 9000}, 10));
	CHECK_ORIGINS(g, 30, 7777, 20, "10.0.0.1");
	graph_free(g);

	g = scene(0);
	ok(g, 30, 65534, fd_rec(HT_REC_FDRECV, 8, (struct ht_chan){HT_CHAN_SOCK, 0, 9000}, 10));
	CHECK_ORIGINS(g, 30, 7777, 20, "h2");
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.refused_fd, 1);
	/* also on an fd it really has (another channel there) */
	ok(g, 30, 65534, fd_rec(HT_REC_FDRECV, 6, (struct ht_chan){HT_CHAN_SOCK, 0, 9000}, 11));
	CHECK_ORIGINS(g, 30, 7777, 20, "h2");
	/* root's own chain does not gain the attacker */
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 9000);
	int live = 0;
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		live += h->p->pid == 30 && !h->until;
	CHECK_EQ_INT(live, 0);
	/* an honest FDRECV: the kernel shows it */
	kfd_set(30, 9, HT_CHAN_SOCK, 0, 5555);
	ok(g, 30, 65534, fd_rec(HT_REC_FDRECV, 9, (struct ht_chan){HT_CHAN_SOCK, 0, 5555}, 12));
	CHECK(graph_proc(g, 30)->nfds == 2);
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.refused_fd, 2);
	graph_free(g);
}

/* CONNECT, ACCEPT, OPEN (the session's pty), PIPE naming others' channels */
static void test_forged_fd_claims(void)
{
	struct graph *g = scene(0);
	ok(g, 30, 65534, connect_rec(8, 9000, "10.0.0.1", 10));
	CHECK_ORIGINS(g, 30, 7777, 20, "h2");
	ok(g, 30, 65534, accept_rec(8, 9000, "10.0.0.1", 11));
	CHECK_ORIGINS(g, 30, 7777, 20, "h2");
	/* the forged records changed nothing of root's channel */
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 9000);
	CHECK(c && c->dir == 'i');
	ok(g, 30, 65534, fd_rec(HT_REC_OPEN, 8, (struct ht_chan){HT_CHAN_PTY, 0, 7}, 12));
	CHECK_ORIGINS(g, 30, 7777, 20, "h2");
	struct ht_record p = R(HT_REC_PIPE, 13);
	p.fd = 8;
	p.fd2 = 9;
	p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 4242};
	ok(g, 30, 65534, p);
	CHECK(graph_proc(g, 30)->nfds == 1);
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.refused_fd, 4);
	/* a pipe whose write end is closed already: the read end proves it */
	kfd_set(30, 10, HT_CHAN_PIPE, 12, 4343);
	p.fd = 10;
	p.fd2 = 11;
	p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 4343};
	ok(g, 30, 65534, p);
	CHECK(graph_proc(g, 30)->nfds == 3);
	/* a forged listening socket (root's connection) is not marked listening */
	kfd_set(30, 12, HT_CHAN_SOCK, 0, 6666);
	struct ht_record a = accept_rec(12, 6666, "10.0.0.9", 14);
	a.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 9000};
	ok(g, 30, 65534, a);
	CHECK(c && c->dir == 'i');
	graph_free(g);
}

/* IMAGE's ppid and BIRTH's creator: checked against the kernel's parent */
static void test_forged_creator(void)
{
	struct graph *g = scene(0);
	/* 31: a child of the attacker's shell claims root's session as parent */
	kproc_set(31, 29, 29, 29, 300);
	CHECK_EQ_INT(apply(g, 31, 65534, image_rec(40, "/usr/bin/nc", 10)), -EPERM);
	CHECK(graph_proc(g, 31) == NULL);
	/* a BIRTH naming an ended root process while its real parent runs */
	kproc_set(41, 40, 40, 40, 110);
	ok(g, 41, 0, image_rec(40, "/usr/bin/bash", 7));
	struct ht_record e = R(HT_REC_EXIT, 8);
	kproc_del(41);
	ok(g, 41, 0, e);
	CHECK(!graph_proc(g, 41)->alive);
	kproc_set(32, 29, 29, 29, 320);
	struct ht_record b = R(HT_REC_BIRTH, 12);
	b.num = 41;
	b.ts2 = 9;
	CHECK_EQ_INT(apply(g, 32, 65534, b), -EPERM);
	/* the same, honestly re-parented (its parent ended: now init's) */
	kproc_set(33, 1, 40, 40, 330);
	b.ts = 13;
	ok(g, 33, 0, b);
	CHECK(graph_proc(g, 33)->creator == graph_proc(g, 41));
	/* SPAWN of a process whose parent is another */
	kproc_set(34, 40, 40, 40, 340);
	ok(g, 34, 0, image_rec(40, "/usr/bin/true", 14));
	struct proc *p34 = graph_proc(g, 34);
	struct ht_record s = R(HT_REC_SPAWN, 15);
	s.num = 34;
	CHECK_EQ_INT(apply(g, 30, 65534, s), 0); /* (has a creator: nothing to claim) */
	CHECK(p34->creator == graph_proc(g, 40));
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.refused_creator, 2);
	graph_free(g);
}

/* With the kernel event source on (graph_kev.c), its fork and exec events
 * decide what /proc cannot: the same "honestly re-parented" BIRTH as in
 * test_forged_creator is refused when the fork event names another creator;
 * an IMAGE of a process that forked and never exec'd is refused until its
 * exec event; an entry whose start is not the kernel's (pid reuse) or the
 * source off decides nothing. Start times: /proc ticks (USER_HZ 100). */
#define TICK_NS 10000000ULL
static void test_kev_lineage(void)
{
	struct graph *g = scene(0);
	struct graph_stats st;
	graph_kev_on(g, 1);
	kproc_set(41, 40, 40, 40, 110);
	ok(g, 41, 0, image_rec(40, "/usr/bin/bash", 7)); /* (no fork event: not asked) */
	struct ht_record e = R(HT_REC_EXIT, 8);
	kproc_del(41);
	ok(g, 41, 0, e);
	/* 33: forked by 35 (ended, unknown), re-parented to init, names 41 */
	kproc_set(33, 1, 40, 40, 330);
	graph_kev_fork(g, 33, 35, 330 * TICK_NS, 9);
	struct ht_record b = R(HT_REC_BIRTH, 13);
	b.num = 41;
	b.ts2 = 9;
	CHECK_EQ_INT(apply(g, 33, 65534, b), -EPERM);
	CHECK(graph_proc(g, 33) == NULL);
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.refused_kev, 1);
	b.num = 35; /* the truth: believed; 35 is not known, so the gap is the
		     * process group's leader, marked (as without the source) */
	ok(g, 33, 65534, b);
	CHECK(graph_proc(g, 33) && graph_proc(g, 33)->creator == graph_proc(g, 40) &&
	      graph_proc(g, 33)->lineage_kernel);
	/* 36: forked by 40, never exec'd, sends an IMAGE */
	kproc_set(36, 40, 40, 40, 360);
	graph_kev_fork(g, 36, 40, 360 * TICK_NS, 14);
	CHECK_EQ_INT(apply(g, 36, 0, image_rec(40, "/usr/sbin/sshd", 15)), -EPERM);
	graph_kev_exec(g, 36, 8, 1234, "/bin/x", 16);
	ok(g, 36, 0, image_rec(40, "/usr/bin/true", 17));
	/* 37: the fork event is of an earlier process with that pid */
	kproc_set(37, 1, 40, 40, 371);
	graph_kev_fork(g, 37, 35, 370 * TICK_NS, 18);
	b.ts = b.ts2 = 19;
	b.num = 41;
	ok(g, 37, 0, b); /* (as without the source: 41 ended, 37 is init's) */
	/* 39: as 37, /proc showing another start, but the sender attested by
	 * its ring's pidfd as the fork event's struct pid (graph_apply_attested):
	 * the event is its own and /proc is not asked about its start — the
	 * BIRTH naming another creator than the event's is refused; the truth
	 * is believed; an attestation of another struct pid (the pid's other
	 * owner) leaves it to /proc, as for 37 */
	kproc_set(39, 1, 40, 40, 391);
	graph_kev_fork(g, 39, 35, 390 * TICK_NS, 22);
	graph_kev_fork_ino(g, 39, 3900);
	b.ts = b.ts2 = 23;
	b.num = 41;
	kp_watch = 39;
	kp_asked = 0;
	const char *why = NULL;
	CHECK_EQ_INT(graph_apply_attested(g, 39, 0, 3900, &b, b.ts, &why), -EPERM);
	CHECK(graph_proc(g, 39) == NULL);
	CHECK_EQ_INT(kp_asked, 0);
	CHECK_EQ_INT(graph_apply_attested(g, 39, 0, 3901, &b, b.ts, &why), 0);
	CHECK(kp_asked > 0); /* (/proc asked: the start differs, the event is not its) */
	kproc_set(49, 1, 40, 40, 491);
	graph_kev_fork(g, 49, 40, 490 * TICK_NS, 24);
	graph_kev_fork_ino(g, 49, 4900);
	b.ts = b.ts2 = 25;
	b.num = 40;
	kp_watch = 49;
	kp_asked = 0;
	CHECK_EQ_INT(graph_apply_attested(g, 49, 0, 4900, &b, b.ts, &why), 0);
	CHECK(graph_proc(g, 49) && graph_proc(g, 49)->creator == graph_proc(g, 40));
	CHECK_EQ_INT(kp_asked, 0);
	/* 49's IMAGE after its exec event, attested: its ppid (the fork
	 * event's creator) believed and the same process, /proc not asked */
	graph_kev_exec(g, 49, 8, 1234, "/bin/x", 26);
	struct ht_record im = image_rec(40, "/usr/bin/true", 27);
	CHECK_EQ_INT(graph_apply_attested(g, 49, 0, 4900, &im, im.ts, &why), 0);
	CHECK_EQ_INT(kp_asked, 0);
	/* an IMAGE naming another than the fork event's creator: the kernel's
	 * parent is asked (and, 41 ended and 49's parent 1, it passes the
	 * orphanage rule as without the events) */
	im = image_rec(41, "/usr/bin/true", 28);
	CHECK_EQ_INT(graph_apply_attested(g, 49, 0, 4900, &im, im.ts, &why), 0);
	CHECK(kp_asked > 0);
	kp_watch = 0;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.kev_attested, 4);
	b.num = 41;
	/* the source off: the fork event decides nothing */
	graph_kev_on(g, 0);
	kproc_set(38, 1, 40, 40, 380);
	graph_kev_fork(g, 38, 35, 380 * TICK_NS, 20);
	b.ts = b.ts2 = 21;
	ok(g, 38, 0, b);
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.refused_kev, 3);
	graph_free(g);
}

/* An outgoing TCP connection the kernel saw a process the shim does not
 * cover (exec'd without an IMAGE) make and close is its closed hold; a
 * failed connect adds nothing; a shimmed process's adds nothing when a
 * record of its named it, else (io_uring) the kernel's hold, once its
 * records are read. */
static void kev_tcp_r(struct graph *g, pid_t pid, uint64_t ino, int oldst, int newst, uint64_t ts,
		      int released)
{
	static const uint8_t a2[4] = {10, 0, 0, 2}, a1[4] = {10, 0, 0, 1};
	struct graph_kev_sock s = {pid, ino, ts, AF_INET, newst == 2 ? 0 : 40000, 9000,
				   (uint8_t)oldst, (uint8_t)newst, a2, a1, 0, 0, (uint8_t)released};
	graph_kev_tcp(g, &s, ts);
}

/* (FIN_WAIT1, LAST_ACK: a close(), not a shutdown()) */
static void kev_tcp(struct graph *g, pid_t pid, uint64_t ino, int oldst, int newst, uint64_t ts)
{
	kev_tcp_r(g, pid, ino, oldst, newst, ts, newst == 4 || newst == 9);
}

static void test_kev_tcp(void)
{
	struct graph *g = scene(0);
	struct graph_stats st;
	graph_kev_on(g, 1);
	kproc_set(50, 40, 40, 40, 500);
	ok(g, 50, 0, image_rec(40, "/usr/bin/dash", 20));
	ok(g, 50, 0, R(HT_REC_EXEC, 21)); /* exec'd a static binary: no IMAGE follows */
	kev_tcp(g, 50, 5000, 7, 2, 22);   /* SYN_SENT */
	kev_tcp(g, 50, 5000, 2, 1, 23);   /* ESTABLISHED */
	kev_tcp(g, 50, 5000, 8, 9, 25);   /* LAST_ACK: its close() */
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 5000);
	CHECK(c && c->holds && c->holds->p == graph_proc(g, 50));
	if (c && c->holds) {
		CHECK_EQ_INT((int)c->holds->since, 22);
		CHECK_EQ_INT((int)c->holds->until, 25);
		CHECK_EQ_INT(c->dir, 'o');
		CHECK_EQ_INT(c->remote.port, 9000);
		CHECK_EQ_INT(c->remote.a[3], 1);
	}
	/* a shutdown(SHUT_WR) (FIN_WAIT1, not in a release) ends nothing: it
	 * reads on; its close() in FIN_WAIT2 (released) does */
	kev_tcp(g, 50, 5010, 7, 2, 40);
	kev_tcp(g, 50, 5010, 2, 1, 41);
	kev_tcp_r(g, 50, 5010, 1, 4, 42, 0);
	kev_tcp_r(g, 50, 5010, 4, 5, 43, 0);
	CHECK(graph_chan(g, HT_CHAN_SOCK, 0, 5010) == NULL);
	kev_tcp_r(g, 50, 5010, 5, 5, 48, 1);
	c = graph_chan(g, HT_CHAN_SOCK, 0, 5010);
	CHECK(c && c->holds && c->holds->since == 40 && c->holds->until == 48);
	/* or, both FINs through before its close() (TIME_WAIT: CLOSE, not
	 * released): it carries nothing more from then */
	kev_tcp(g, 50, 5011, 7, 2, 40);
	kev_tcp(g, 50, 5011, 2, 1, 41);
	kev_tcp_r(g, 50, 5011, 1, 4, 42, 0);
	kev_tcp_r(g, 50, 5011, 5, 7, 46, 0);
	c = graph_chan(g, HT_CHAN_SOCK, 0, 5011);
	CHECK(c && c->holds && c->holds->since == 40 && c->holds->until == 46);
	/* a failed connect (SYN_SENT -> CLOSE) */
	kev_tcp(g, 50, 5001, 7, 2, 26);
	kev_tcp(g, 50, 5001, 2, 7, 27);
	CHECK(graph_chan(g, HT_CHAN_SOCK, 0, 5001) == NULL);
	/* a shimmed process (its IMAGE came, no exec since): its records say it */
	kproc_set(51, 40, 40, 40, 510);
	ok(g, 51, 0, image_rec(40, "/usr/bin/curl", 28));
	kev_tcp(g, 51, 5002, 7, 2, 29);
	kev_tcp(g, 51, 5002, 1, 4, 30);
	CHECK(graph_chan(g, HT_CHAN_SOCK, 0, 5002) == NULL); /* decided when its records are read */
	kproc_set(52, 40, 40, 40, 520);
	kfd_set(52, 7, HT_CHAN_SOCK, 0, 5005);
	ok(g, 52, 0, image_rec(40, "/usr/bin/curl", 28));
	kev_tcp(g, 52, 5005, 7, 2, 29);
	ok(g, 52, 0, connect_rec(7, 5005, "10.0.0.1", 29));
	kev_tcp(g, 52, 5005, 1, 4, 30);
	graph_kev_settle(g, 31, 0);
	/* 51's no record named (an io_uring connect): the kernel's hold; 52's
	 * CONNECT said it: nothing more */
	c = graph_chan(g, HT_CHAN_SOCK, 0, 5002);
	CHECK(c && c->holds && c->holds->p == graph_proc(g, 51) && c->holds->how == HOLD_KERNEL &&
	      !c->holds->cnext);
	c = graph_chan(g, HT_CHAN_SOCK, 0, 5005);
	CHECK(c && c->holds && c->holds->how != HOLD_KERNEL && !c->holds->cnext);
	/* an accepted connection it closed (the passive open, before accept:
	 * no inode yet; its close() in its context): held from the passive
	 * open to the close, direction in */
	kev_tcp(g, 1, 0, 3, 1, 31);      /* SYN_RECV -> ESTABLISHED */
	kev_tcp(g, 50, 5003, 1, 4, 33);  /* FIN_WAIT1 */
	c = graph_chan(g, HT_CHAN_SOCK, 0, 5003);
	CHECK(c && c->holds && c->holds->p == graph_proc(g, 50));
	if (c && c->holds) {
		CHECK_EQ_INT((int)c->holds->since, 31);
		CHECK_EQ_INT((int)c->holds->until, 33);
		CHECK_EQ_INT(c->dir, 'i');
		CHECK_EQ_INT(c->remote.a[3], 1);
	}
	/* no passive open seen for it: nothing (neither its direction nor its start known) */
	kev_tcp(g, 50, 5004, 1, 4, 35);
	CHECK(graph_chan(g, HT_CHAN_SOCK, 0, 5004) == NULL);
	/* the collector's own (its inquiry child, by its fork event): nothing */
	graph_kev_self(g, 60);
	graph_kev_fork(g, 61, 60, 610 * TICK_NS, 50);
	kproc_set(61, 60, 60, 60, 610);
	kev_tcp(g, 61, 5020, 7, 2, 51);
	kev_tcp(g, 61, 5020, 2, 1, 52);
	kev_tcp(g, 61, 5020, 8, 9, 53);
	kev_tcp(g, 60, 5021, 7, 2, 51);
	kev_tcp(g, 60, 5021, 1, 4, 53);
	CHECK(graph_chan(g, HT_CHAN_SOCK, 0, 5020) == NULL && graph_chan(g, HT_CHAN_SOCK, 0, 5021) == NULL);
	CHECK(graph_proc(g, 61) == NULL && graph_proc(g, 60) == NULL);
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.kev_tcp_holds, 5); /* (with the two shut-down ones) */
	graph_free(g);
}

/* What a process the shim does not cover still held as it ended (the exit
 * event's fds) is its hold until its end: a FIFO's writer forked from the
 * session and exec'd static, gone before the reader dials out, still feeds
 * the reader (origin the session's). A shimmed process's that its records
 * named, also when its exit event came before them, adds nothing; one they
 * never named is its hold, closed at its end. */
static void kev_exit_fifo(struct graph *g, pid_t pid, uint64_t ts, uint64_t ino)
{
	struct graph_kev_fd f = {.fd = 1, .kind = HT_CHAN_FIFO, .ends = HE_W, .dev = 5, .ino = ino};
	graph_kev_fds(g, pid, 0, ts, &f, 1, 0);
	graph_kev_exit(g, pid, ts);
}

static void test_kev_exit_fds(int with_event)
{
	struct graph *g = scene(0);
	graph_kev_on(g, 1);
	/* the reader: not from the session (its creator is init), holds the FIFO */
	kproc_set(60, 1, 60, 60, 600);
	kfd_set(60, 3, HT_CHAN_FIFO, 5, 77);
	kfd_set(60, 4, HT_CHAN_SOCK, 0, 6000);
	ok(g, 60, 0, image_rec(1, "/usr/bin/reader", 10));
	ok(g, 60, 0, fd_rec(HT_REC_OPEN, 3, (struct ht_chan){HT_CHAN_FIFO, 5, 77}, 11));
	/* the writer: forked by the session 40, exec'd static, wrote, ended */
	graph_kev_fork(g, 70, 40, 700 * TICK_NS, 20);
	graph_kev_exec(g, 70, 8, 1234, "/tmp/writer", 21);
	if (with_event)
		kev_exit_fifo(g, 70, 30, 77);
	else
		graph_kev_exit(g, 70, 30);
	/* shimmed writers of another FIFO (78) whose records named it — one
	 * whose exit event is read before its records — and (79) one whose
	 * records never did (inherited from a creator the shim does not see) */
	struct ht_chan f78 = {HT_CHAN_FIFO, 5, 78};
	kproc_set(71, 40, 40, 40, 710);
	kfd_set(71, 1, HT_CHAN_FIFO, 5, 78);
	ok(g, 71, 0, image_rec(40, "/usr/bin/cat", 22));
	ok(g, 71, 0, fd_rec(HT_REC_OPEN, 1, f78, 22));
	kev_exit_fifo(g, 71, 31, 78);
	graph_kev_fork(g, 72, 40, 720 * TICK_NS, 23);
	kev_exit_fifo(g, 72, 32, 78);
	kproc_set(72, 40, 40, 40, 720);
	kfd_set(72, 1, HT_CHAN_FIFO, 5, 78);
	struct ht_record b = R(HT_REC_BIRTH, 24); /* a fork child of the shimmed session */
	b.num = 40;
	b.ts2 = 23;
	ok(g, 72, 0, b);
	ok(g, 72, 0, fd_rec(HT_REC_OPEN, 1, f78, 24));
	kproc_set(73, 40, 40, 40, 730);
	ok(g, 73, 0, image_rec(40, "/usr/bin/cat", 25));
	kev_exit_fifo(g, 73, 32, 79);
	graph_kev_settle(g, 33, 0);
	struct chan *c78 = graph_chan(g, HT_CHAN_PIPE, 5, 78), *c79 = graph_chan(g, HT_CHAN_PIPE, 5, 79);
	CHECK(c78 && c78->nholds == 2);
	for (struct hold *h = c78 ? c78->holds : NULL; h; h = h->cnext)
		CHECK(h->how != HOLD_KERNEL);
	CHECK(c79 && c79->holds && c79->holds->p == graph_proc(g, 73) &&
	      c79->holds->how == HOLD_KERNEL && c79->holds->until == 32 && !c79->holds->cnext);
	ok(g, 60, 0, connect_rec(4, 6000, "10.0.0.3", 40));
	struct chan *c = graph_chan(g, HT_CHAN_PIPE, 5, 77);
	int writers = 0;
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		if (h->p->pid != 60) {
			writers++;
			CHECK_EQ_INT(h->p->pid, 70);
			CHECK_EQ_INT((int)h->since, 21); /* its image's start */
			CHECK_EQ_INT((int)h->until, 30); /* its end */
			CHECK(h->p->seen_kev && !h->p->alive && h->p->creator == graph_proc(g, 40));
			CHECK_EQ_STR(h->p->exe, "/tmp/writer");
		}
	CHECK_EQ_INT(writers, with_event ? 1 : 0);
	CHECK_ORIGINS(g, 60, 6000, 50, with_event ? "10.0.0.1" : "h2");
	graph_free(g);
}

/* A static program that forks the child fetching its orders (connects to
 * 10.0.0.1, copies them into a pipe, exits holding its connection), reads the
 * pipe, closes it and dials out: the parent's pipe is known from the child's
 * fork event only — with it, origin 10.0.0.1 through the pipe and the child */
void fd_unset(struct graph *g, struct proc *p, int fd, uint64_t ts); /* graph_int.h */

static void test_kev_fork_fds(int with_event)
{
	struct graph *g = scene(0);
	graph_kev_on(g, 1);
	kproc_set(80, 1, 80, 80, 800);
	ok(g, 80, 0, image_rec(1, "/usr/bin/dash", 10));
	ok(g, 80, 0, R(HT_REC_EXEC, 11)); /* exec'd a static binary */
	graph_kev_exec(g, 80, 8, 1234, "/tmp/spawn", 12);
	graph_kev_fork(g, 81, 80, 810 * TICK_NS, 20);
	struct graph_kev_fd f[2] = {{.fd = 3, .kind = HT_CHAN_PIPE, .ends = HE_R, .dev = 15, .ino = 90},
				    {.fd = 4, .kind = HT_CHAN_PIPE, .ends = HE_W, .dev = 15, .ino = 90}};
	if (with_event)
		graph_kev_fork_fds(g, 81, 20, f, 2, 0);
	static const uint8_t a2[4] = {10, 0, 0, 2}, a1[4] = {10, 0, 0, 1};
	struct graph_kev_sock sk = {81, 9100, 22, AF_INET, 0, 9000, 7, 2, a2, a1, 0, 0, 0};
	graph_kev_tcp(g, &sk, 22);      /* SYN_SENT */
	sk.sport = 40000, sk.oldstate = 2, sk.newstate = 1, sk.ts = 23;
	graph_kev_tcp(g, &sk, 23);      /* ESTABLISHED */
	graph_kev_fds(g, 81, 0, 30, &f[1], 1, 0);
	graph_kev_exit(g, 81, 30);
	sk.oldstate = 8, sk.newstate = 9, sk.ts = 31, sk.released = 1;
	graph_kev_tcp(g, &sk, 31);      /* LAST_ACK: closed at its exit */
	graph_kev_settle(g, 32, 0);
	/* the next read of its fds (at the question) finds the pipe gone: both
	 * ends at once (the hold ends a reader and a writer, not the last fd's) */
	kfd_set(80, 5, HT_CHAN_SOCK, 0, 9101);
	struct proc *p80 = graph_proc(g, 80);
	fd_unset(g, p80, 3, 40);
	fd_unset(g, p80, 4, 40);
	CHECK_ORIGINS(g, 80, 9101, 40, with_event ? "10.0.0.1" : "h2");
	graph_free(g);
}

/* A static program (80) receives the read end of a pipe over a unix socket
 * (SCM_RIGHTS: its fd table read after the receive), reads its orders and
 * closes it before any /proc read; the pipe's writer (81, unrelated to it:
 * its creator is 1) held a connection from 10.0.0.1 and has ended. */
static void test_kev_recv_fds(int with_event)
{
	struct graph *g = scene(0);
	graph_kev_on(g, 1);
	kproc_set(80, 1, 80, 80, 800);
	ok(g, 80, 0, image_rec(1, "/usr/bin/dash", 10));
	ok(g, 80, 0, R(HT_REC_EXEC, 11)); /* exec'd a static binary */
	graph_kev_exec(g, 80, 8, 1234, "/tmp/implant", 12);
	graph_kev_fork(g, 81, 1, 810 * TICK_NS, 20);
	graph_kev_exec(g, 81, 8, 1235, "/tmp/sender", 20);
	struct graph_kev_fd f[2] = {{.fd = 3, .kind = HT_CHAN_PIPE, .ends = HE_R, .dev = 15, .ino = 90},
				    {.fd = 4, .kind = HT_CHAN_PIPE, .ends = HE_W, .dev = 15, .ino = 90}};
	static const uint8_t a2[4] = {10, 0, 0, 2}, a1[4] = {10, 0, 0, 1};
	struct graph_kev_sock sk = {81, 9100, 22, AF_INET, 0, 9000, 7, 2, a2, a1, 0, 0, 0};
	graph_kev_tcp(g, &sk, 22);      /* SYN_SENT */
	sk.sport = 40000, sk.oldstate = 2, sk.newstate = 1, sk.ts = 23;
	graph_kev_tcp(g, &sk, 23);      /* ESTABLISHED */
	if (with_event)
		graph_kev_recv_fds(g, 80, 25, f, 1, 0);
	graph_kev_fds(g, 81, 0, 30, &f[1], 1, 0);
	graph_kev_exit(g, 81, 30);
	sk.oldstate = 8, sk.newstate = 9, sk.ts = 31, sk.released = 1;
	graph_kev_tcp(g, &sk, 31);      /* LAST_ACK: closed at its exit */
	graph_kev_settle(g, 32, 0);
	/* the next read of its fds (at the question) finds the pipe gone */
	kfd_set(80, 5, HT_CHAN_SOCK, 0, 9101);
	struct proc *p80 = graph_proc(g, 80);
	CHECK(p80 != NULL);
	if (p80)
		fd_unset(g, p80, 3, 40);
	CHECK_ORIGINS(g, 80, 9101, 40, with_event ? "10.0.0.1" : "h2");
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.kev_recv_holds, with_event);
	graph_free(g);
}

static void test_kev_recv_fds_on(void) { test_kev_recv_fds(1); }
static void test_kev_recv_fds_off(void) { test_kev_recv_fds(0); }

/* An io_uring program's direct descriptor (no fd the kernel shows): the
 * connection it accepted (the passive open) and reads is held from the
 * passive open — live at its next SYN — until the socket's release. */
static void test_kev_sockuse(void)
{
	struct graph *g = scene(0);
	graph_kev_on(g, 1);
	kproc_set(70, 1, 70, 70, 700);
	ok(g, 70, 0, image_rec(1, "/usr/bin/ring", 10));
	kev_tcp(g, 1, 0, 3, 1, 20);      /* SYN_RECV -> ESTABLISHED (from 10.0.0.1) */
	static const uint8_t a2[4] = {10, 0, 0, 2}, a1[4] = {10, 0, 0, 1};
	struct graph_kev_sock su = {70, 7000, 21, AF_INET, 40000, 9000, 0, 1, a2, a1, 0, 0, 0};
	graph_kev_sockuse(g, &su, 21);
	graph_kev_sockuse(g, &su, 22);   /* (again: nothing more) */
	kfd_set(70, 5, HT_CHAN_SOCK, 0, 7001);
	CHECK_ORIGINS(g, 70, 7001, 30, "10.0.0.1");
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 7000);
	CHECK(c && c->holds && !c->holds->until && c->holds->since == 20 && c->dir == 'i' && !c->holds->cnext);
	kev_tcp(g, 9999, 7000, 1, 4, 35); /* released, in some other context (a kworker's fput) */
	CHECK(c && c->holds && c->holds->until == 35);
	graph_free(g);
}

static void test_kev_fork_fds_on(void) { test_kev_fork_fds(1); }
static void test_kev_fork_fds_off(void) { test_kev_fork_fds(0); }

/* The same over a unix socket whose writer (70, from the session 40) connected,
 * wrote and ended before the reader's accept: its exit read names no peer
 * inode (the connection was not accepted: no inode yet); the reader's first
 * receive names both (KEV_UNIXPEER) and joins the two ends. */
static void test_kev_unix_early(int with_event)
{
	struct graph *g = scene(0);
	graph_kev_on(g, 1);
	kproc_set(60, 1, 60, 60, 600);
	ok(g, 60, 0, image_rec(1, "/usr/bin/reader", 10));
	graph_kev_fork(g, 70, 40, 700 * TICK_NS, 20);
	graph_kev_exec(g, 70, 8, 1234, "/tmp/writer", 21);
	struct graph_kev_fd w = {.fd = 3, .kind = HT_CHAN_SOCK, .ino = 8002, .peer = 0};
	graph_kev_fds(g, 70, 0, 30, &w, 1, 0);
	graph_kev_exit(g, 70, 30);
	graph_kev_settle(g, 31, 0);
	kfd_set(60, 3, HT_CHAN_SOCK, 0, 8001); /* accepted after the writer ended */
	struct ht_record acc = R(HT_REC_ACCEPT, 34);
	acc.fd = 3;
	acc.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 8001};
	acc.num = SOCK_STREAM;
	acc.addr.family = acc.addr2.family = AF_UNIX;
	ok(g, 60, 0, acc);
	if (with_event)
		graph_kev_unix_peer(g, 8001, 8002, 35);
	kfd_set(60, 4, HT_CHAN_SOCK, 0, 6000);
	ok(g, 60, 0, connect_rec(4, 6000, "10.0.0.3", 40));
	struct chan *a = graph_chan(g, HT_CHAN_SOCK, 0, 8001), *b = graph_chan(g, HT_CHAN_SOCK, 0, 8002);
	CHECK(b && b->holds && b->holds->p->pid == 70);
	CHECK(!with_event || (a && a->peer == b && b->peer == a));
	CHECK_ORIGINS(g, 60, 6000, 50, with_event ? "10.0.0.1" : "h2");
	graph_free(g);
}

static void test_kev_unix_early_on(void) { test_kev_unix_early(1); }
static void test_kev_unix_early_off(void) { test_kev_unix_early(0); }

static void test_kev_exit_fds_on(void) { test_kev_exit_fds(1); }
static void test_kev_exit_fds_off(void) { test_kev_exit_fds(0); }

/* A re-parented process whose creator ran without the shim and ended: its
 * lineage is its process group's leader, from the kernel, marked */
static void test_kernel_lineage(void)
{
	struct graph *g = scene(0);
	/* root's session bash 42 (pgrp and session 42) */
	kproc_set(42, 40, 42, 42, 120);
	ok(g, 42, 0, image_rec(40, "/usr/bin/bash", 7));
	/* 50: its grandchild through an unshimmed process that has exited */
	kproc_set(50, 1, 42, 42, 500);
	kfd_set(50, 3, HT_CHAN_SOCK, 0, 8888);
	ok(g, 50, 0, image_rec(1, "/usr/bin/nc", 20));
	struct proc *p = graph_proc(g, 50);
	CHECK(p && p->creator == graph_proc(g, 42));
	CHECK(p && p->lineage_kernel && p->seen_kernel);
	ok(g, 50, 0, connect_rec(3, 8888, "10.0.0.3", 21));
	CHECK_ORIGINS(g, 50, 8888, 30, "10.0.0.1");
	/* a setsid'd one (its own group and session) keeps no trace */
	kproc_set(51, 1, 51, 51, 510);
	ok(g, 51, 0, image_rec(1, "/usr/bin/nc", 22));
	CHECK(graph_proc(g, 51)->creator == NULL);
	graph_free(g);
}

/* closes the kernel contradicts would hide a hold (a laundered origin) */
static void test_hidden_close(void)
{
	struct graph *g = scene(0);
	/* a process with a real hold (a connection from 10.0.0.66) tries to
	 * make the graph forget it while it keeps the fd */
	kfd_set(30, 8, HT_CHAN_SOCK, 0, 1234);
	ok(g, 30, 65534, accept_rec(8, 1234, "10.0.0.66", 10));
	CHECK_ORIGINS(g, 30, 7777, 20, "10.0.0.66");
	CHECK_EQ_INT(apply(g, 30, 65534, fd_rec(HT_REC_CLOSE, 8, (struct ht_chan){0, 0, 0}, 11)), -EPERM);
	struct ht_record cr = R(HT_REC_CLOSERANGE, 12);
	cr.fd = 0;
	cr.fd2 = 100;
	CHECK_EQ_INT(apply(g, 30, 65534, cr), -EPERM);
	struct ht_record d = R(HT_REC_DUP, 13);
	d.fd = 20; /* nothing there: "dup" an empty fd over 8 */
	d.fd2 = 8;
	CHECK_EQ_INT(apply(g, 30, 65534, d), -EPERM);
	ok(g, 30, 65534, R(HT_REC_EXIT, 14)); /* still running: not ended */
	CHECK(graph_proc(g, 30)->alive);
	struct ht_record f = R(HT_REC_CONNFAIL, 15);
	f.fd = 8;
	f.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 1234};
	ok(g, 30, 65534, f); /* (the fake kernel shows the fd: believed) */
	kfd_del(30, 8);
	f.fd = 6;
	f.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 7777};
	kfd_del(30, 6);
	CHECK_EQ_INT(apply(g, 30, 65534, f), -EPERM); /* the fd is gone: cannot tell */
	/* now really closed: believed */
	ok(g, 30, 65534, fd_rec(HT_REC_CLOSE, 8, (struct ht_chan){0, 0, 0}, 16));
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.refused_close, 4);
	graph_free(g);
}

/* dup2 + close before the collector read the ACCEPT
 * (tests/func/attack_dup_close.sh): the accepted socket was moved from fd 8
 * to fd 10 and fd 8 closed, so the ACCEPT's fd no longer showed it — an
 * unconfirmed claim, history only until the record's arrival — the DUP named
 * an fd the table did not know and the CLOSE ended nothing: past the window
 * the process that still reads B's orders on fd 10 had no source. The DUP
 * now confirms the claim on fd 10 (the kernel shows it there); and when fd
 * 10 is closed too, the connection is no longer a live source. */
static void test_dup_after_late_accept(void)
{
	struct graph *g = scene(0);
	kfd_set(30, 10, HT_CHAN_SOCK, 0, 4321); /* fd 8 gone already */
	CHECK_EQ_INT(apply(g, 30, 65534, accept_rec(8, 4321, "10.0.0.66", 10)), 0);
	struct ht_record d = R(HT_REC_DUP, 11);
	d.fd = 8;
	d.fd2 = 10;
	ok(g, 30, 65534, d);
	ok(g, 30, 65534, fd_rec(HT_REC_CLOSE, 8, (struct ht_chan){0, 0, 0}, 12));
	CHECK_ORIGINS(g, 30, 7777, 13, "10.0.0.66");
	CHECK_ORIGINS(g, 30, 7777, 200 * SEC, "10.0.0.66"); /* held live on fd 10 */
	/* a DUP of an unknown fd onto one the kernel shows as nothing claimed:
	 * no hold (only the sender's own claims are confirmed this way) */
	kfd_set(30, 12, HT_CHAN_SOCK, 0, 9000);
	d.fd = 9;
	d.fd2 = 12;
	d.ts = 13;
	ok(g, 30, 65534, d);
	CHECK_ORIGINS(g, 30, 7777, 200 * SEC, "10.0.0.66");
	/* and let go: not fed by a connection it no longer has */
	kfd_del(30, 10);
	ok(g, 30, 65534, fd_rec(HT_REC_CLOSE, 10, (struct ht_chan){0, 0, 0}, 300 * SEC));
	CHECK_ORIGINS(g, 30, 7777, 400 * SEC, "h2");
	graph_free(g);
}

/* `c=$(nc H1 9000); eval "$c"` (tests/func/chain_handoff.sh, under load): the
 * `$(...)` nc's EXIT came while the kernel still ran it (the shim sends it
 * from exit()), so it was noted, and the sweep that found nc gone (up to a
 * second later, graph_verify_alive) ended it then — after the shell had read
 * the pipe to EOF and closed it. nc let go of the pipe after the shell, so it
 * was no departed feeder of the shell's history and the onward nc's chain was
 * local. A process that said it exits ended when the kernel last showed it
 * running. */
static void test_exit_noted_ends_when_seen(void)
{
	struct graph *g = mk(0);
	const struct ht_chan pipe = {HT_CHAN_PIPE, 12, 960};
	kproc_set(50, 1, 50, 50, 300);
	ok(g, 50, 0, image_rec(1, "/usr/bin/dash", 1 * SEC));
	kfd_set(50, 3, HT_CHAN_PIPE, 12, 960);
	kfd_set(50, 4, HT_CHAN_PIPE, 12, 960);
	struct ht_record r = fd_rec(HT_REC_PIPE, 3, pipe, 2 * SEC);
	r.fd2 = 4;
	ok(g, 50, 0, r);
	kproc_set(51, 50, 50, 50, 301); /* $(nc H1 9000): stdout is the pipe */
	r = R(HT_REC_BIRTH, 2 * SEC + 1);
	r.num = 50;
	r.ts2 = 2 * SEC + 1;
	ok(g, 51, 0, r);
	kfd_set(51, 1, HT_CHAN_PIPE, 12, 960);
	r = R(HT_REC_DUP, 2 * SEC + 2);
	r.fd = 4;
	r.fd2 = 1;
	ok(g, 51, 0, r);
	ok(g, 51, 0, fd_rec(HT_REC_CLOSE, 3, (struct ht_chan){0, 0, 0}, 2 * SEC + 2));
	ok(g, 51, 0, fd_rec(HT_REC_CLOSE, 4, (struct ht_chan){0, 0, 0}, 2 * SEC + 2));
	ok(g, 51, 0, image_rec(50, "/usr/bin/nc.openbsd", 2 * SEC + 3));
	kfd_set(51, 5, HT_CHAN_SOCK, 0, 3400);
	ok(g, 51, 0, connect_rec(5, 3400, "192.0.2.9", 2 * SEC + 4));
	kfd_del(50, 4);
	ok(g, 50, 0, fd_rec(HT_REC_CLOSE, 4, (struct ht_chan){0, 0, 0}, 2 * SEC + 5));
	ok(g, 51, 0, R(HT_REC_EXIT, 3 * SEC)); /* still running: noted */
	CHECK(graph_proc(g, 51)->alive);
	kproc_del(51); /* gone: the shell reads EOF, closes the pipe */
	kfd_del(51, 1);
	kfd_del(51, 5);
	kfd_del(50, 3);
	ok(g, 50, 0, fd_rec(HT_REC_CLOSE, 3, (struct ht_chan){0, 0, 0}, 3 * SEC + 2));
	/* the sweep, a second later */
	CHECK_EQ_INT(graph_verify_alive(g, graph_proc(g, 51), 4 * SEC), 0);
	CHECK(graph_proc(g, 51)->exit_ts <= 3 * SEC + 2);
	kproc_set(52, 50, 50, 50, 400); /* sleep 1; eval "$c": nc -d H3 22 */
	r = R(HT_REC_BIRTH, 5 * SEC);
	r.num = 50;
	r.ts2 = 5 * SEC;
	ok(g, 52, 0, r);
	ok(g, 52, 0, image_rec(50, "/usr/bin/nc.openbsd", 5 * SEC + 1));
	kfd_set(52, 3, HT_CHAN_SOCK, 0, 3401);
	ok(g, 52, 0, connect_rec(3, 3401, "198.51.100.3", 5 * SEC + 2));
	CHECK_ORIGINS(g, 52, 3401, 6 * SEC, "192.0.2.9");
	graph_free(g);
}

/* The same hand-off when the collector lags (chain_handoff under load): all of
 * it — dash's PIPE, the `$(...)` child's BIRTH and records, its connection —
 * is applied after it happened, when no fd of it is left. Every fd claim is
 * unconfirmed (history only), so the child's table inherits nothing and the
 * pipe had no writer. The creator's unconfirmed holds that span the fork are
 * the child's too, unconfirmed. (Records applied at `now`, the batch's time.) */
static void test_unconfirmed_inherited(void)
{
	struct graph *g = mk(0);
	const struct ht_chan pipe = {HT_CHAN_PIPE, 12, 961};
	const uint64_t now = 3 * SEC; /* the batch that applies it all */
	const char *why;
	kproc_set(60, 1, 60, 60, 300);
	ok(g, 60, 0, image_rec(1, "/usr/bin/dash", 1 * SEC));
	struct ht_record recs[8];
	pid_t from[8];
	int n = 0;
	recs[n] = fd_rec(HT_REC_PIPE, 3, pipe, 2 * SEC);
	recs[n].fd2 = 4;
	from[n++] = 60;
	recs[n] = R(HT_REC_BIRTH, 2 * SEC + 1);
	recs[n].num = 60;
	recs[n].ts2 = 2 * SEC + 1;
	from[n++] = 61;
	recs[n] = fd_rec(HT_REC_CLOSE, 4, (struct ht_chan){0, 0, 0}, 2 * SEC + 2);
	from[n++] = 60;
	recs[n] = image_rec(60, "/usr/bin/nc.openbsd", 2 * SEC + 3);
	from[n++] = 61;
	recs[n] = connect_rec(5, 3400, "192.0.2.9", 2 * SEC + 4);
	from[n++] = 61;
	recs[n] = R(HT_REC_EXIT, 2 * SEC + 5);
	from[n++] = 61;
	recs[n] = fd_rec(HT_REC_CLOSE, 3, (struct ht_chan){0, 0, 0}, 2 * SEC + 6);
	from[n++] = 60;
	for (int i = 0; i < n; i++)
		CHECK_EQ_INT(graph_apply(g, from[i], 0, &recs[i], now, &why), 0);
	kproc_set(62, 60, 60, 60, 400); /* eval "$c": nc -d H3 22 */
	struct ht_record r = R(HT_REC_BIRTH, 4 * SEC);
	r.num = 60;
	r.ts2 = 4 * SEC;
	ok(g, 62, 0, r);
	ok(g, 62, 0, image_rec(60, "/usr/bin/nc.openbsd", 4 * SEC + 1));
	kfd_set(62, 3, HT_CHAN_SOCK, 0, 3401);
	ok(g, 62, 0, connect_rec(3, 3401, "198.51.100.3", 4 * SEC + 2));
	CHECK_ORIGINS(g, 62, 3401, 5 * SEC, "192.0.2.9");
	graph_free(g);
}

static void at(struct graph *g, pid_t pid, struct ht_record r, uint64_t now)
{
	const char *why = NULL;
	int rc = graph_apply(g, pid, 0, &r, now, &why);
	if (rc)
		fprintf(stderr, "    apply %s for pid %d: %s\n", ht_rec_type_name(r.type), pid, why);
	CHECK_EQ_INT(rc, 0);
}

static struct ht_record birth_rec(pid_t creator, uint64_t ts)
{
	struct ht_record r = R(HT_REC_BIRTH, ts);
	r.num = creator;
	r.ts2 = ts;
	return r;
}

/* A forking server when the collector lags (chain_handoff's forking server):
 * it accepted h1's connection, forked, closed it; then h3's. Applied after
 * all that, both ACCEPTs are unconfirmed (fd 4 is gone) — each claim kept
 * as history up to when it was applied, so the server (a hub: judged by
 * what it holds) held h1's connection when it forked h3's child. The
 * server's own CLOSE of fd 4 ends the claim then (uclaim_close). */
static void test_unconfirmed_ends_at_close(void)
{
	struct graph *g = mk(0);
	const uint64_t now = 3 * SEC; /* the batch that applies it all */
	kproc_set(100, 1, 100, 100, 100);
	ok(g, 100, 0, image_rec(1, "/usr/bin/python3", 1 * SEC));
	kproc_set(101, 100, 100, 100, 200);
	kproc_set(102, 100, 100, 100, 210);
	at(g, 100, accept_rec(4, 3600, "192.0.2.41", 2 * SEC), now);
	at(g, 101, birth_rec(100, 2 * SEC + 1), now);
	at(g, 100, fd_rec(HT_REC_CLOSE, 4, (struct ht_chan){0, 0, 0}, 2 * SEC + 2), now);
	at(g, 100, accept_rec(4, 3601, "192.0.2.42", 2 * SEC + 100000000), now);
	at(g, 102, birth_rec(100, 2 * SEC + 100000001), now);
	at(g, 100, fd_rec(HT_REC_CLOSE, 4, (struct ht_chan){0, 0, 0}, 2 * SEC + 100000002), now);
	kfd_set(102, 5, HT_CHAN_SOCK, 0, 3602);
	at(g, 102, connect_rec(5, 3602, "198.51.100.3", 2 * SEC + 200000000), now);
	CHECK_ORIGINS(g, 102, 3602, 4 * SEC, "192.0.2.42");
	graph_free(g);
}

/* `curl | sh` when the collector lags: dash's PIPE is applied at once (its
 * fds already closed: unconfirmed, a claim up to then), curl's BIRTH, its
 * connection and its EXIT long after (curl gone: it inherits dash's claim).
 * curl's copy of the claim lasts until curl ends: it connected and wrote
 * after dash's claim was applied. */
static void test_unconfirmed_child_copy(void)
{
	struct graph *g = mk(0);
	const struct ht_chan pipe = {HT_CHAN_PIPE, 12, 963};
	const uint64_t t = 2 * SEC;
	kproc_set(110, 1, 110, 110, 100);
	ok(g, 110, 0, image_rec(1, "/usr/bin/dash", 1 * SEC));
	struct ht_record r = fd_rec(HT_REC_PIPE, 3, pipe, t);
	r.fd2 = 4;
	at(g, 110, r, t + 10000000); /* applied 10 ms later: fds 3, 4 closed */
	kproc_set(112, 110, 110, 110, 210); /* sh: lives */
	at(g, 111, birth_rec(110, t + 1), 3 * SEC); /* curl: gone by then */
	at(g, 112, birth_rec(110, t + 2), 3 * SEC);
	at(g, 110, fd_rec(HT_REC_CLOSE, 4, (struct ht_chan){0, 0, 0}, t + 3), 3 * SEC);
	at(g, 110, fd_rec(HT_REC_CLOSE, 3, (struct ht_chan){0, 0, 0}, t + 3), 3 * SEC);
	at(g, 111, image_rec(110, "/usr/bin/curl", t + 4), 3 * SEC);
	at(g, 111, connect_rec(5, 3700, "192.0.2.51", t + 50000000), 3 * SEC);
	at(g, 111, R(HT_REC_EXIT, t + 60000000), 3 * SEC);
	at(g, 112, image_rec(110, "/usr/bin/dash", t + 5), 3 * SEC);
	kproc_set(113, 112, 110, 110, 400); /* nc -d H3 22 */
	ok(g, 113, 0, birth_rec(112, 4 * SEC));
	ok(g, 113, 0, image_rec(112, "/usr/bin/nc.openbsd", 4 * SEC + 1));
	kfd_set(113, 3, HT_CHAN_SOCK, 0, 3701);
	ok(g, 113, 0, connect_rec(3, 3701, "198.51.100.3", 4 * SEC + 2));
	CHECK_ORIGINS(g, 113, 3701, 5 * SEC, "192.0.2.51");
	graph_free(g);
}

/* ... and an inherited claim is judged by its claimer's uid: uid 1000 claims
 * root's pipe (whose writer serves a connection from the trusted 10.0.0.1);
 * its child, inheriting the unconfirmed claim, runs a setuid program — uid 0
 * like the pipe's real holders — and connects: not an origin through it. */
static void test_unconfirmed_inherited_uid(void)
{
	struct graph *g = mk(0);
	const struct ht_chan pipe = {HT_CHAN_PIPE, 12, 962};
	kproc_set(80, 1, 80, 80, 100);
	kfd_set(80, 3, HT_CHAN_SOCK, 0, 9100);
	kfd_set(80, 5, HT_CHAN_PIPE, 12, 962);
	kfd_set(80, 6, HT_CHAN_PIPE, 12, 962);
	ok(g, 80, 0, image_rec(1, "/usr/sbin/sshd", 1 * SEC));
	ok(g, 80, 0, accept_rec(3, 9100, "10.0.0.1", 1 * SEC + 1));
	struct ht_record r = fd_rec(HT_REC_PIPE, 5, pipe, 1 * SEC + 2);
	r.fd2 = 6;
	ok(g, 80, 0, r);
	kproc_set(90, 1, 90, 90, 200);
	ok(g, 90, 1000, image_rec(1, "/usr/bin/dash", 2 * SEC));
	r = fd_rec(HT_REC_PIPE, 3, pipe, 2 * SEC + 1); /* not its pipe */
	r.fd2 = 4;
	const char *why;
	CHECK_EQ_INT(graph_apply(g, 90, 1000, &r, 3 * SEC, &why), 0); /* unconfirmed */
	r = R(HT_REC_BIRTH, 2 * SEC + 2);
	r.num = 90;
	r.ts2 = 2 * SEC + 2;
	CHECK_EQ_INT(graph_apply(g, 91, 1000, &r, 3 * SEC, &why), 0);
	kproc_set(91, 90, 90, 90, 201);
	r = image_rec(90, "/usr/bin/setuidprog", 2 * SEC + 3); /* uid 0 now */
	CHECK_EQ_INT(graph_apply(g, 91, 0, &r, 3 * SEC, &why), 0);
	kfd_set(91, 7, HT_CHAN_SOCK, 0, 3402);
	ok(g, 91, 0, connect_rec(7, 3402, "10.0.0.3", 4 * SEC + 1));
	CHECK_ORIGINS(g, 91, 3402, 5 * SEC, "h2");
	graph_free(g);
}

static int count_uid(void *ctx, const struct graph_uid_stats *u)
{
	if (u->uid == 65534)
		*(uint64_t *)ctx = u->refused_bounds;
	return 0;
}

/* per-process and per-uid bounds: the excess is refused and counted */
static void test_bounds(void)
{
	struct graph_conf c = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC, .max_procs = 1000,
			       .use_procfs = 0, .max_fds_per_proc = 100, .max_holds_per_uid = 150,
			       .max_chans_per_uid = 1000000};
	struct graph *g = graph_new(&c);
	ok(g, 30, 65534, image_rec(1, "/usr/bin/python3", 1));
	int refused = 0;
	for (int i = 0; i < 120; i++)
		refused += apply(g, 30, 65534,
				 fd_rec(HT_REC_OPEN, 3 + i, (struct ht_chan){HT_CHAN_PIPE, 1, 100 + (uint64_t)i},
					2 + (uint64_t)i)) == -EDQUOT;
	CHECK_EQ_INT(refused, 20);
	ok(g, 31, 65534, image_rec(1, "/usr/bin/python3", 200));
	refused = 0;
	for (int i = 0; i < 80; i++)
		refused += apply(g, 31, 65534,
				 fd_rec(HT_REC_OPEN, 3 + i, (struct ht_chan){HT_CHAN_PIPE, 1, 1000 + (uint64_t)i},
					201 + (uint64_t)i)) == -EDQUOT;
	CHECK_EQ_INT(refused, 30); /* 150 holds for the uid */
	uint64_t n = 0;
	graph_uid_stats(g, count_uid, &n);
	CHECK_EQ_INT((int)n, 50);
	/* root is not bounded per uid */
	ok(g, 40, 0, image_rec(1, "/usr/sbin/sshd", 300));
	for (int i = 0; i < 90; i++)
		ok(g, 40, 0, fd_rec(HT_REC_OPEN, 3 + i, (struct ht_chan){HT_CHAN_PIPE, 1, 5000 + (uint64_t)i},
				    301 + (uint64_t)i));
	graph_free(g);
}

/* the fake kernel with its fd tables too: a SYN's walk compares them */
static struct graph *mk_fds(void)
{
	struct graph_conf c = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC, .max_procs = 1000,
			       .use_procfs = 0, .kernel_fd = fake_fd, .kernel_proc = fake_proc,
			       .kernel_fds = fake_fds};
	kreset();
	return graph_new(&c);
}

/* is chains[0] of pid's answer a fallback? */
static int chain_fallback(struct graph *g, pid_t pid, uint64_t syn, uint64_t now)
{
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, pid),
				.exclude = graph_chan(g, HT_CHAN_SOCK, 0, syn), .now = now, .nl = -1};
	cJSON *a = chain_compute(g, &req);
	cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "chains"), 0);
	int fb = cJSON_IsTrue(cJSON_GetObjectItem(ch, "fallback"));
	cJSON_Delete(a);
	return fb;
}

/* is every chain of pid's answer complete? */
static int chain_complete(struct graph *g, pid_t pid, uint64_t syn, uint64_t now)
{
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, pid),
				.exclude = graph_chan(g, HT_CHAN_SOCK, 0, syn), .now = now, .nl = -1};
	cJSON *a = chain_compute(g, &req), *ch;
	int all = cJSON_GetArraySize(cJSON_GetObjectItem(a, "chains")) > 0;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItem(a, "chains"))
		all &= cJSON_IsTrue(cJSON_GetObjectItem(ch, "complete"));
	cJSON_Delete(a);
	return all;
}

/* Review 13 finding 1: an orphan whose creators ran without the shim (a
 * static image, an inherited seccomp filter) and ended before anything of
 * them reached the graph. The kernel's fork events make them, up to the
 * session's sshd 40, which holds the trusted host's connection. */
static void test_kev_orphan_creator(void)
{
	struct graph *g = scene(0);
	graph_kev_on(g, 1);
	/* 60: forked by 40, a static image (no records), forks 61 and ends */
	graph_kev_fork(g, 60, 40, 600 * TICK_NS, 30);
	graph_kev_exec(g, 60, 8, 99, "/tmp/static", 31);
	graph_kev_fork(g, 61, 60, 610 * TICK_NS, 32);
	graph_kev_exit(g, 60, 33);
	/* 61, re-parented to init, execs nc: its IMAGE says ppid 1 */
	kproc_set(61, 1, 61, 61, 610);
	graph_kev_exec(g, 61, 8, 100, "/usr/bin/nc", 34);
	kfd_set(61, 3, HT_CHAN_SOCK, 0, 8888);
	ok(g, 61, 65534, image_rec(1, "/usr/bin/nc", 35));
	struct proc *p = graph_proc(g, 61);
	CHECK(p && p->creator && p->creator->pid == 60 && !p->creator->alive);
	CHECK(p && p->creator && p->creator->creator == graph_proc(g, 40));
	CHECK(p && !graph_lineage_gap(p));
	ok(g, 61, 65534, connect_rec(3, 8888, "10.0.0.3", 36));
	CHECK_ORIGINS(g, 61, 8888, 40, "10.0.0.1");
	/* 62: init's own child by the kernel's word (no gap, no creator) */
	graph_kev_fork(g, 62, 1, 620 * TICK_NS, 37);
	kproc_set(62, 1, 62, 62, 620);
	graph_kev_exec(g, 62, 8, 100, "/usr/bin/nc", 38);
	ok(g, 62, 65534, image_rec(1, "/usr/bin/nc", 39));
	CHECK(graph_proc(g, 62) && !graph_proc(g, 62)->creator &&
	      !graph_lineage_gap(graph_proc(g, 62)));
	graph_free(g);
}

/* ... and without the source: an orphan whose creator nothing names (its
 * process group and session its own) has its lineage "unknown", and its
 * chains — its children's through it too — are incomplete: never "complete,
 * starting here". Init's own child (a BIRTH naming pid 1 sent as root, as
 * init's fork child sends it) and root's orphans are not gaps. */
static void test_lineage_gap(void)
{
	struct graph *g = scene(0);
	kproc_set(52, 1, 52, 52, 520);
	ok(g, 52, 65534, image_rec(1, "/usr/bin/nc", 20));
	CHECK(graph_lineage_gap(graph_proc(g, 52)));
	/* its child (born before 52's connection): the gap is on its path */
	kproc_set(54, 52, 52, 52, 540);
	struct ht_record b = R(HT_REC_BIRTH, 20);
	b.num = 52;
	b.ts2 = 20;
	ok(g, 54, 65534, b);
	kfd_set(52, 3, HT_CHAN_SOCK, 0, 8888);
	ok(g, 52, 65534, connect_rec(3, 8888, "10.0.0.3", 21));
	CHECK_ORIGINS(g, 52, 8888, 30, "h2");
	CHECK(!chain_complete(g, 52, 8888, 30));
	kfd_set(54, 4, HT_CHAN_SOCK, 0, 8890);
	ok(g, 54, 65534, connect_rec(4, 8890, "10.0.0.3", 25));
	CHECK_ORIGINS(g, 54, 8890, 30, "h2");
	CHECK(!chain_complete(g, 54, 8890, 30));
	/* init's child */
	kproc_set(53, 1, 53, 53, 530);
	kfd_set(53, 3, HT_CHAN_SOCK, 0, 8889);
	init_child(g, 53, 65534, "/usr/bin/nc", 22);
	CHECK(!graph_lineage_gap(graph_proc(g, 53)));
	ok(g, 53, 65534, connect_rec(3, 8889, "10.0.0.3", 23));
	CHECK_ORIGINS(g, 53, 8889, 30, "h2");
	CHECK(chain_complete(g, 53, 8889, 30));
	/* root's orphan */
	kproc_set(55, 1, 55, 55, 550);
	ok(g, 55, 0, image_rec(1, "/usr/bin/nc", 26));
	CHECK(!graph_lineage_gap(graph_proc(g, 55)));
	/* review 14: a non-root orphan's own BIRTH naming init (its kernel
	 * parent is 1, as every orphan's) does not close the gap... */
	kproc_set(56, 1, 56, 56, 560);
	struct ht_record bi = R(HT_REC_BIRTH, 27);
	bi.num = 1;
	bi.ts2 = 27;
	ok(g, 56, 65534, bi);
	CHECK(graph_proc(g, 56) && graph_lineage_gap(graph_proc(g, 56)));
	ok(g, 56, 65534, image_rec(1, "/usr/bin/nc", 28));
	CHECK(graph_lineage_gap(graph_proc(g, 56)));
	/* ... nor re-makes one whose creator is known (54's is 52): refused */
	kproc_set(54, 1, 54, 54, 540);
	bi.ts = 29;
	CHECK_EQ_INT(apply(g, 54, 65534, bi), -EPERM);
	CHECK(graph_proc(g, 54) && graph_proc(g, 54)->creator == graph_proc(g, 52));
	graph_free(g);
}

/* attack_raw_fd at graph level: the attacker 30 (BIRTH from its shell 29, so
 * not sender_kernel) holds B's connection 9100 on fd 8 that no record named
 * (pidfd_getfd from the helper 31 that ACCEPTed it; a raw accept4). The walk
 * re-reads its fd table: the chain comes from 10.0.0.9, seen "kernel",
 * fallback; the push check (chain_check_reach) says the graph changed, once. */
static void test_unreported_fd(void)
{
	struct graph *g = mk_fds();
	kproc_set(29, 1, 29, 29, 150);
	init_child(g, 29, 65534, "/usr/bin/dash", 1);
	kproc_set(30, 29, 29, 29, 200);
	struct ht_record b = R(HT_REC_BIRTH, 2);
	b.num = 29;
	b.ts2 = 2;
	ok(g, 30, 65534, b);
	CHECK(!graph_proc(g, 30)->sender_kernel);
	kfd_set(30, 6, HT_CHAN_SOCK, 0, 7777);
	ok(g, 30, 65534, connect_rec(6, 7777, "10.0.0.3", 3));
	kproc_set(31, 30, 29, 29, 250);
	b = R(HT_REC_BIRTH, 4);
	b.num = 30;
	b.ts2 = 4;
	ok(g, 31, 65534, b);
	kfd_set(31, 5, HT_CHAN_SOCK, 0, 9100);
	ok(g, 31, 65534, accept_rec(5, 9100, "10.0.0.9", 5));
	CHECK_ORIGINS(g, 30, 7777, 6 * SEC, "h2");
	CHECK_EQ_INT(chain_check_reach(g, graph_proc(g, 30), 6 * SEC, 0), 0);
	/* pidfd_getfd: the helper's connection on the attacker's fd 8, the
	 * helper gone (its records said nothing of it) */
	kfd_set(30, 8, HT_CHAN_SOCK, 0, 9100);
	kfd_del(31, 5);
	kproc_del(31);
	struct ht_record e = R(HT_REC_EXIT, 7 * SEC);
	ok(g, 31, 65534, e);
	uint64_t ch0 = graph_changes(g);
	CHECK_EQ_INT(chain_check_reach(g, graph_proc(g, 30), 8 * SEC, 0), 1);
	CHECK(graph_changes(g) != ch0);
	CHECK_EQ_INT(chain_check_reach(g, graph_proc(g, 30), 8 * SEC, 0), 0);
	CHECK_ORIGINS(g, 30, 7777, 8 * SEC, "10.0.0.9");
	CHECK(chain_fallback(g, 30, 7777, 8 * SEC));
	CHECK_EQ_STR(proc_seen(graph_proc(g, 30)), "kernel");
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.unreported_fds, 1);
	graph_free(g);

	/* found by the walk itself (a prejudge: no push check first) */
	g = mk_fds();
	kproc_set(30, 1, 30, 30, 200);
	ok(g, 30, 65534, image_rec(1, "/usr/bin/python3", 1));
	kfd_set(30, 6, HT_CHAN_SOCK, 0, 7777);
	ok(g, 30, 65534, connect_rec(6, 7777, "10.0.0.3", 3));
	kproc_set(31, 1, 31, 31, 250);
	ok(g, 31, 65534, image_rec(1, "/usr/bin/python3", 4));
	kfd_set(31, 5, HT_CHAN_SOCK, 0, 9100);
	ok(g, 31, 65534, accept_rec(5, 9100, "10.0.0.9", 5));
	CHECK_ORIGINS(g, 30, 7777, 6 * SEC, "h2");
	/* a socket no record names that carries nothing (a listener, one not
	 * connected yet: the shim reports neither) changes no chain */
	kfd_set(30, 9, HT_CHAN_SOCK, 0, 9300);
	CHECK_ORIGINS(g, 30, 7777, 6 * SEC, "h2");
	CHECK(!chain_fallback(g, 30, 7777, 6 * SEC));
	CHECK_EQ_STR(proc_seen(graph_proc(g, 30)), "shim");
	kfd_set(30, 8, HT_CHAN_SOCK, 0, 9100); /* raw accept4 / pidfd_getfd */
	CHECK_ORIGINS(g, 30, 7777, 7 * SEC, "10.0.0.9");
	CHECK(chain_fallback(g, 30, 7777, 7 * SEC));
	graph_free(g);
}

/* raw accept in a creator: 30 took B's connection 9200 by a raw syscall
 * (no record), then forked 31, which closed its copy before its BIRTH was
 * read and connects. 30 still holds it when 31's SYN is judged: its table is
 * compared, and the hold found — dated from 30's birth, when it was taken
 * being unknown — is live at 31's birth, where a creator is judged. */
static void test_unreported_creator(void)
{
	struct graph *g = mk_fds();
	kproc_set(32, 1, 32, 32, 100);
	ok(g, 32, 65534, image_rec(1, "/usr/bin/python3", 1));
	kfd_set(32, 5, HT_CHAN_SOCK, 0, 9200);
	ok(g, 32, 65534, accept_rec(5, 9200, "10.0.0.8", 2));
	kfd_del(32, 5);
	ok(g, 32, 65534, fd_rec(HT_REC_CLOSE, 5, (struct ht_chan){HT_CHAN_SOCK, 0, 9200}, 3));
	kproc_set(30, 1, 30, 30, 200);
	ok(g, 30, 65534, image_rec(1, "/usr/bin/python3", 4));
	kfd_set(30, 7, HT_CHAN_SOCK, 0, 9200); /* then a raw accept4 */
	kproc_set(31, 30, 30, 30, 250);
	struct ht_record b = R(HT_REC_BIRTH, 5 * SEC);
	b.num = 30;
	b.ts2 = 5 * SEC;
	ok(g, 31, 65534, b);
	kfd_set(31, 6, HT_CHAN_SOCK, 0, 7777);
	ok(g, 31, 65534, connect_rec(6, 7777, "10.0.0.3", 6 * SEC));
	CHECK_ORIGINS(g, 31, 7777, 7 * SEC, "10.0.0.8");
	CHECK(chain_fallback(g, 31, 7777, 7 * SEC));
	CHECK_EQ_STR(proc_seen(graph_proc(g, 30)), "kernel");
	/* a later walk: the hold found is still live at the birth */
	CHECK_ORIGINS(g, 31, 7777, 8 * SEC, "10.0.0.8");
	graph_free(g);
}

/* raw_feeder: the subject 30 holds nothing of B's; its helper 31 (BIRTH)
 * writes into the pipe 30 reads (records: PIPE, inherited) and holds B's
 * connection 9200 that no record of its named. Reached as the pipe's writer,
 * the helper's fds are compared too. */
static void test_unreported_feeder(void)
{
	struct graph *g = mk_fds();
	kproc_set(30, 1, 30, 30, 200);
	ok(g, 30, 65534, image_rec(1, "/usr/bin/python3", 1));
	kfd_set(30, 6, HT_CHAN_SOCK, 0, 7777);
	ok(g, 30, 65534, connect_rec(6, 7777, "10.0.0.3", 2));
	kfd_set(30, 3, HT_CHAN_PIPE, 12, 500);
	kfd_set(30, 4, HT_CHAN_PIPE, 12, 500);
	struct ht_record r = R(HT_REC_PIPE, 3);
	r.fd = 3;
	r.fd2 = 4;
	r.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 500};
	ok(g, 30, 65534, r);
	kproc_set(31, 30, 30, 30, 250);
	kfd_set(31, 3, HT_CHAN_PIPE, 12, 500);
	kfd_set(31, 4, HT_CHAN_PIPE, 12, 500);
	struct ht_record b = R(HT_REC_BIRTH, 4);
	b.num = 30;
	b.ts2 = 4;
	ok(g, 31, 65534, b);
	/* B's connection, accepted by 32 (ACCEPT) and closed there: its
	 * address is known; 31 took it by a raw syscall */
	kproc_set(32, 1, 32, 32, 260);
	ok(g, 32, 65534, image_rec(1, "/usr/bin/python3", 5));
	kfd_set(32, 5, HT_CHAN_SOCK, 0, 9200);
	ok(g, 32, 65534, accept_rec(5, 9200, "10.0.0.8", 6));
	kfd_del(32, 5);
	ok(g, 32, 65534, fd_rec(HT_REC_CLOSE, 5, (struct ht_chan){HT_CHAN_SOCK, 0, 9200}, 7));
	/* 30 closed its write end, 31 its read end (records) */
	kfd_del(30, 4);
	ok(g, 30, 65534, fd_rec(HT_REC_CLOSE, 4, (struct ht_chan){HT_CHAN_PIPE, 12, 500}, 8));
	kfd_del(31, 3);
	ok(g, 31, 65534, fd_rec(HT_REC_CLOSE, 3, (struct ht_chan){HT_CHAN_PIPE, 12, 500}, 9));
	CHECK_ORIGINS(g, 30, 7777, 600 * SEC, "h2");
	kfd_set(31, 7, HT_CHAN_SOCK, 0, 9200);
	CHECK_EQ_INT(chain_check_reach(g, graph_proc(g, 30), 601 * SEC, 0), 1);
	CHECK_ORIGINS(g, 30, 7777, 601 * SEC, "10.0.0.8");
	CHECK_EQ_STR(proc_seen(graph_proc(g, 31)), "kernel");
	CHECK_EQ_STR(proc_seen(graph_proc(g, 30)), "shim");
	graph_free(g);
}

/* (was tests/open/attack_review10_hold_budget.sh) nobody fills its hold
 * account (bound lowered to 150) from process 31, then its process 30 accepts
 * a connection from 10.0.0.1 — the ACCEPT refused, -EDQUOT — and connects
 * out: the graph lacks the origin, so 30's chains are holders_incomplete (no
 * chain complete); with room (control) the origin is there. */
static void scene_budget(int nfill)
{
	struct graph_conf c = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC, .max_procs = 1000,
			       .use_procfs = 0, .kernel_fd = fake_fd, .kernel_proc = fake_proc,
			       .max_fds_per_proc = 1000, .max_holds_per_uid = 150,
			       .max_chans_per_uid = 1000000};
	kreset();
	struct graph *g = graph_new(&c);
	kproc_set(29, 1, 29, 29, 150);
	init_child(g, 29, 65534, "/usr/bin/dash", 4);
	kproc_set(30, 29, 29, 29, 200);
	ok(g, 30, 65534, image_rec(29, "/usr/bin/python3", 5));
	kproc_set(31, 1, 31, 31, 210);
	ok(g, 31, 65534, image_rec(1, "/usr/bin/python3", 6));
	int refused = 0;
	for (int i = 0; i < nfill; i++) {
		kfd_set(31, 3 + i, HT_CHAN_PIPE, 1, 100 + (uint64_t)i);
		refused += apply(g, 31, 65534,
				 fd_rec(HT_REC_OPEN, 3 + i, (struct ht_chan){HT_CHAN_PIPE, 1, 100 + (uint64_t)i},
					7 + (uint64_t)i)) == -EDQUOT;
	}
	CHECK_EQ_INT(refused, nfill > 150 ? nfill - 150 : 0);
	kfd_set(30, 8, HT_CHAN_SOCK, 0, 9000);
	CHECK_EQ_INT(apply(g, 30, 65534, accept_rec(8, 9000, "10.0.0.1", 200)), nfill ? -EDQUOT : 0);
	kfd_set(30, 6, HT_CHAN_SOCK, 0, 7777);
	apply(g, 30, 65534, connect_rec(6, 7777, "10.0.0.3", 201));
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, 30),
				.exclude = graph_chan(g, HT_CHAN_SOCK, 0, 7777), .now = 300, .nl = -1};
	cJSON *a = chain_compute(g, &req), *ch;
	int complete = 0, n = 0;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItem(a, "chains"))
	{
		n++;
		complete += cJSON_IsTrue(cJSON_GetObjectItem(ch, "complete"));
	}
	CHECK(n > 0);
	if (!nfill) {
		CHECK_ORIGINS(g, 30, 7777, 300, "10.0.0.1");
	} else {
		CHECK_EQ_INT(complete, 0);
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(a, "holders_incomplete")));
		CHECK(graph_proc(g, 30)->bound_refused);
		/* the filler's own chains too, and not its shell's */
		CHECK(graph_proc(g, 31)->bound_refused);
		CHECK(!graph_proc(g, 29)->bound_refused);
	}
	cJSON_Delete(a);
	graph_free(g);
}

static void test_hold_budget(void)
{
	scene_budget(0);
	scene_budget(160);
}

/* A round of walks after one drain (graph_check_round: a batch of the guard's
 * questions) compares each live process's fd table with the kernel's once and
 * gives that answer again — also "found one" (the walks' answers depend on the
 * kernel: no push is confirmed on them); outside a round, every call reads. */
static void test_check_round(void)
{
	struct graph *g = mk_fds();
	kproc_set(30, 1, 30, 30, 200);
	ok(g, 30, 65534, image_rec(1, "/usr/bin/python3", 1));
	kfd_set(30, 6, HT_CHAN_SOCK, 0, 7777);
	ok(g, 30, 65534, connect_rec(6, 7777, "10.0.0.3", 3));
	struct proc *p = graph_proc(g, 30);
	nfds_reads = 0;
	CHECK_EQ_INT(chain_check_reach(g, p, 4 * SEC, 0), 0);
	CHECK_EQ_INT(chain_check_reach(g, p, 4 * SEC, 0), 0);
	CHECK_EQ_INT(nfds_reads, 2);
	/* a batch: read once */
	graph_check_round(g, 1);
	nfds_reads = 0;
	CHECK_EQ_INT(chain_check_reach(g, p, 5 * SEC, 0), 0);
	CHECK_EQ_INT(chain_check_reach(g, p, 5 * SEC, 0), 0);
	CHECK_ORIGINS(g, 30, 7777, 5 * SEC, "h2");
	CHECK_EQ_INT(nfds_reads, 1);
	graph_check_round(g, 0);
	/* B's connection on fd 8 that no record names: the next round's first
	 * comparison finds it, and the round's later walks are told so too */
	kfd_set(30, 8, HT_CHAN_SOCK, 0, 9100);
	graph_check_round(g, 1);
	nfds_reads = 0;
	CHECK_EQ_INT(chain_check_reach(g, p, 6 * SEC, 0), 1);
	CHECK_EQ_INT(chain_check_reach(g, p, 6 * SEC, 0), 1);
	CHECK_EQ_INT(nfds_reads, 1);
	graph_check_round(g, 0);
	/* outside a round it is in the graph now: nothing new */
	CHECK_EQ_INT(chain_check_reach(g, p, 7 * SEC, 0), 0);
	CHECK_EQ_INT(nfds_reads, 2);
	graph_free(g);
}

T_MAIN("claims", T(test_forged_fdrecv), T(test_forged_fd_claims), T(test_forged_creator), T(test_kev_lineage), T(test_kev_tcp),
       T(test_kev_exit_fds_on), T(test_kev_exit_fds_off), T(test_kev_unix_early_on),
       T(test_kev_unix_early_off), T(test_kev_fork_fds_on), T(test_kev_recv_fds_on), T(test_kev_recv_fds_off), T(test_kev_sockuse),
       T(test_kev_fork_fds_off),
       T(test_kernel_lineage), T(test_kev_orphan_creator), T(test_lineage_gap), T(test_hidden_close), T(test_dup_after_late_accept), T(test_exit_noted_ends_when_seen), T(test_unconfirmed_inherited), T(test_unconfirmed_inherited_uid), T(test_unconfirmed_ends_at_close), T(test_unconfirmed_child_copy), T(test_bounds), T(test_unreported_fd), T(test_check_round), T(test_unreported_feeder), T(test_unreported_creator), T(test_hold_budget))
