/*
 * push_test.c — when a prejudged chain may decide a SYN
 * (docs/query-protocol.md "When a push may decide a SYN"), without root:
 *   the guard's side (guard/push.c): a push is taken at once only when its
 *   "after_us" is later than the SYN; one computed before is left for a
 *   "pushed" answer; a nopush after it revokes it; a malformed tail is no
 *   "after_us";
 *   the collector's side: a push's walk leaves graph_changes() as it was, a
 *   record of any process moves it (then "who" gets the full answer), and a
 *   chain of the graph alone is "settled".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../collector/answer.h"
#include "../../collector/graph.h"
#include "../../guard/push.h"
#include "rec_fixture.h"
#include "test.h"

/* ---- the guard --------------------------------------------------------------- */

/* a subscription whose collector end is *coll */
static int sub_open(struct push *ps, int *coll)
{
	int sv[2];
	if (push_init(ps, 1, NULL) != 0 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
		return -1;
	ps->fd = sv[0];
	*coll = sv[1];
	return 0;
}

static void put(int fd, const char *m)
{
	CHECK(send(fd, m, strlen(m), 0) == (ssize_t)strlen(m));
}

#define PUSH_A "{\"ok\":true,\"host\":\"h\",\"chains\":[{\"origin_host\":\"h\",\"dst\":\"10.0.0.3:22\",\"procs\":[]}],"

static void test_guard_after(void)
{
	struct push ps;
	int coll, none;
	char *j;
	if (sub_open(&ps, &coll) != 0) {
		CHECK(0);
		return;
	}
	/* computed after the SYN (1000 µs): taken at once */
	put(coll, PUSH_A "\"after_us\":1001,\"ino\":7}");
	j = push_take(&ps, 7, 1000, &none);
	CHECK(j != NULL);
	CHECK_EQ_INT(none, 0);
	free(j);
	/* computed before (or at) the SYN: left for the "pushed" answer */
	put(coll, PUSH_A "\"after_us\":1000,\"ino\":8}");
	CHECK(push_take(&ps, 8, 1000, &none) == NULL);
	CHECK_EQ_INT(none, 0);
	j = push_take(&ps, 8, 0, &none); /* the collector said "pushed" */
	CHECK(j != NULL);
	free(j);
	/* no "after_us" (the drain was cut short): never at once */
	put(coll, PUSH_A "\"ino\":9}");
	CHECK(push_take(&ps, 9, 1, &none) == NULL);
	j = push_take(&ps, 9, 0, &none);
	CHECK(j != NULL);
	free(j);
	/* a tail that is not ours: no "after_us" */
	put(coll, PUSH_A "\"after_us\":5000,\"ino\":10,\"x\":1}");
	CHECK(push_take(&ps, 10, 1000, &none) == NULL);
	put(coll, PUSH_A "\"after_us\":5000,\"ino\":12}");
	CHECK(push_take(&ps, 12 + PUSH_SLOTS, 1000, &none) == NULL); /* another socket's slot */
	j = push_take(&ps, 12, 1000, &none);
	CHECK(j != NULL);
	free(j);
	close(coll);
	push_free(&ps);
}

static void test_guard_revoked(void)
{
	struct push ps;
	int coll, none;
	if (sub_open(&ps, &coll) != 0) {
		CHECK(0);
		return;
	}
	/* a push, then the collector's nopush for the same socket before the
	 * guard looks: the push is gone, the guard asks */
	put(coll, PUSH_A "\"after_us\":5,\"ino\":21}");
	put(coll, "{\"nopush\":true,\"ino\":21}");
	CHECK(push_take(&ps, 21, 0, &none) == NULL);
	CHECK_EQ_INT(none, 1);
	close(coll);
	push_free(&ps);
}

/* ---- the collector -------------------------------------------------------------- */

static void apply(struct graph *g, pid_t pid, struct ht_record r)
{
	const char *why = NULL;
	int rc = graph_apply(g, pid, 1000, &r, r.ts, &why);
	if (rc)
		fprintf(stderr, "    apply %s: %s\n", ht_rec_type_name(r.type), why ? why : "?");
	CHECK_EQ_INT(rc, 0);
}

static void v4(struct ht_addr *a, const char *ip, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	a->len = 4;
	inet_pton(AF_INET, ip, a->a);
	a->port = port;
}

static void test_collector_changes(void)
{
	struct graph_conf cf = {.retention_ns = 600000000000ULL, .window_ns = 60000000000ULL,
				.max_procs = 64, .use_procfs = 0};
	struct graph *g = graph_new(&cf);
	struct collector_stats st = {0};
	struct query_ctx q = {.g = g, .hostname = "h", .nl = -1, .stats = &st};
	uint64_t ts = 1000;
	struct ht_record r = rec_blank(HT_REC_IMAGE, ts++);
	r.num = 1;
	snprintf(r.str, sizeof r.str, "/usr/bin/python3");
	snprintf(r.str2, sizeof r.str2, "python3");
	apply(g, 50, r);
	r = rec_blank(HT_REC_IMAGE, ts++);
	r.num = 1;
	snprintf(r.str, sizeof r.str, "/usr/bin/cat");
	apply(g, 60, r);
	/* the attacker's CONNECT for socket 900, long before its connect() */
	r = rec_blank(HT_REC_CONNECT, ts++);
	r.fd = 3;
	r.num = 1;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 900};
	v4(&r.addr, "10.0.0.3", 8000);
	apply(g, 50, r);
	int settled = 0;
	char *s = query_prejudge_at(&q, 900, &r.addr, ts, 4242, &settled);
	CHECK(s != NULL);
	CHECK_EQ_INT(settled, 1);
	CHECK(s && strstr(s, ",\"after_us\":4242,\"ino\":900}") != NULL);
	free(s);
	uint64_t at_push = graph_changes(g);
	/* another walk of the same graph changes nothing */
	free(query_prejudge_at(&q, 900, &r.addr, ts, 0, &settled));
	CHECK_EQ_INT(graph_changes(g), at_push);
	/* then it accepts a connection from B: the push no longer holds */
	r = rec_blank(HT_REC_ACCEPT, ts++);
	r.fd = 5;
	r.num = 1;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 901};
	r.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 902};
	v4(&r.addr, "10.0.0.1", 9000);
	v4(&r.addr2, "10.0.0.3", 40000);
	apply(g, 50, r);
	CHECK(graph_changes(g) != at_push);
	/* and any record of any other process moves it too (host-wide) */
	uint64_t c1 = graph_changes(g);
	r = rec_blank(HT_REC_PIPE, ts++);
	r.fd = 3;
	r.fd2 = 4;
	r.chan = (struct ht_chan){HT_CHAN_PIPE, 12, 7000};
	apply(g, 60, r);
	CHECK(graph_changes(g) != c1);
	/* the walk now sees B's connection: not a chain of this host alone,
	 * no push (the guard asks, and the full answer names B) */
	v4(&r.addr, "10.0.0.3", 8000);
	s = query_prejudge_at(&q, 900, &r.addr, ts, 0, &settled);
	CHECK(s == NULL);
	free(s);
	graph_free(g);
}

T_MAIN("push", T(test_guard_after), T(test_guard_revoked), T(test_collector_changes))
