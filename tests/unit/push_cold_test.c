/*
 * push_cold_test.c — the collector's pushes while they mostly fail to decide
 * their SYN (collector/push.c, docs/query-protocol.md "subscribe"): after 32
 * pushes asked about of which at most 2 decided, one connect in 16 is pushed
 * and the others get {"nopush"} (the guard asks at once); a third push that
 * decides makes every connect pushed again. Without root.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../collector/answer.h"
#include "../../collector/daemon.h"
#include "../../collector/graph.h"
#include "rec_fixture.h"
#include "test.h"

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

/* What push_prejudged sent the subscriber (its other end: sub) for n noted
 * connects of socket ino: pushes and nopushes counted. */
static void prejudge_n(struct collector *c, int sub, int n, uint64_t ino, const struct ht_addr *to,
		       int *pushes, int *nopushes)
{
	static char m[HT_QUERY_MAX + 1];
	*pushes = *nopushes = 0;
	for (int i = 0; i < n; i++) {
		c->push.prej[c->push.nprej].ino = ino;
		c->push.prej[c->push.nprej].remote = *to;
		c->push.nprej++;
		push_prejudged(c); /* (one at a time: the socket's buffer) */
		ssize_t got;
		while ((got = recv(sub, m, sizeof m - 1, MSG_DONTWAIT)) > 0) {
			m[got] = 0;
			if (strstr(m, "\"nopush\":true"))
				(*nopushes)++;
			else if (strstr(m, "\"chains\""))
				(*pushes)++;
		}
	}
}

static void test_cold(void)
{
	static struct collector c; /* (large) */
	struct graph_conf cf = {.retention_ns = 600000000000ULL, .window_ns = 60000000000ULL,
				.max_procs = 64, .use_procfs = 0};
	struct graph *g = graph_new(&cf);
	int sv[2];
	CHECK(g != NULL);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
	c.graph = g;
	c.qctx = (struct query_ctx){.g = g, .hostname = "h", .nl = -1, .stats = &c.stats};
	c.push.subs[0] = sv[0];
	c.push.nsubs = 1;
	uint64_t ts = 1000;
	struct ht_record r = rec_blank(HT_REC_IMAGE, ts++);
	r.num = 1;
	snprintf(r.str, sizeof r.str, "/usr/bin/curl");
	apply(g, 50, r);
	r = rec_blank(HT_REC_CONNECT, ts++);
	r.fd = 3;
	r.num = 1;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 900};
	v4(&r.addr, "10.0.0.3", 8000);
	apply(g, 50, r);
	int pushes, nopushes;
	/* nothing known yet: every connect pushed */
	prejudge_n(&c, sv[1], 16, 900, &r.addr, &pushes, &nopushes);
	CHECK_EQ_INT(pushes, 16);
	CHECK_EQ_INT(nopushes, 0);
	/* 31 pushes that did not decide their SYN (the full answer each): not
	 * known to be cold yet */
	for (int i = 0; i < 31; i++)
		push_outcome(&c, 0);
	prejudge_n(&c, sv[1], 4, 900, &r.addr, &pushes, &nopushes);
	CHECK_EQ_INT(pushes, 4);
	/* the 32nd: cold — the sample, one in 16 */
	push_outcome(&c, 0);
	prejudge_n(&c, sv[1], 32, 900, &r.addr, &pushes, &nopushes);
	CHECK_EQ_INT(pushes, 2);
	CHECK_EQ_INT(nopushes, 30);
	CHECK_EQ_INT((int)c.stats.push_skipped, 30);
	/* two that decided are still few; a third makes pushes worth it again */
	push_outcome(&c, 1);
	push_outcome(&c, 1);
	prejudge_n(&c, sv[1], 16, 900, &r.addr, &pushes, &nopushes);
	CHECK_EQ_INT(pushes, 1);
	CHECK_EQ_INT(nopushes, 15);
	push_outcome(&c, 1);
	prejudge_n(&c, sv[1], 16, 900, &r.addr, &pushes, &nopushes);
	CHECK_EQ_INT(pushes, 16);
	CHECK_EQ_INT(nopushes, 0);
	close(sv[0]);
	close(sv[1]);
	graph_free(g);
}

T_MAIN("push_cold", T(test_cold))
