/*
 * metrics_test.c — the audit-log counting of `hoptrace metrics` (verdicts,
 * modes, causes, the latency histogram, junk lines) and its Prometheus text
 * output (names, label escaping, a histogram's cumulative buckets); the
 * /proc/PID/maps line matcher of `hoptrace status`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cli/metrics.h"
#include "../../cli/shimprobe.h"
#include "test.h"

static void add(struct audit_counts *c, const char *s)
{
	metrics_audit_line(c, s, strlen(s));
}

static void t_audit(void)
{
	struct audit_counts c = {0};
	add(&c, "{\"verdict\":\"accept\",\"mode\":\"enforce\",\"rule\":\"p.acl:3\",\"complete\":true,\"latency_us\":40}");
	add(&c, "{\"verdict\":\"reject\",\"mode\":\"enforce\",\"reason\":\"no matching rule\",\"complete\":true,\"latency_us\":120}");
	add(&c, "{\"verdict\":\"reject\",\"mode\":\"monitor\",\"action\":\"accept\",\"reason\":\"collector: no answer\",\"complete\":false,\"latency_us\":1000000}");
	add(&c, "{\"verdict\":\"drop\",\"reason\":\"chain incomplete (x)\",\"fallback\":true,\"prejudged\":true,\"latency_us\":9000000}");
	add(&c, "{\"verdict\":\"maybe\"}");        /* unknown verdict */
	add(&c, "{\"verdict\":\"accept\",\"mode\":\"x\"}"); /* unknown mode */
	add(&c, "{\"verdict\":\"reject\",\"reason\":\"process nc in black list (p.acl:4)\"}");
	add(&c, "not json");
	add(&c, "[1,2]");
	add(&c, "{\"verdict\":\"accept\",\"latency_us\":-3}"); /* no latency counted */
	CHECK_EQ_INT(c.decisions[MV_ACCEPT][MM_ENFORCE], 2);
	CHECK_EQ_INT(c.decisions[MV_REJECT][MM_ENFORCE], 2);
	CHECK_EQ_INT(c.decisions[MV_REJECT][MM_MONITOR], 1);
	CHECK_EQ_INT(c.decisions[MV_DROP][MM_ENFORCE], 1);
	CHECK_EQ_INT(c.unreadable, 4);
	CHECK_EQ_INT(c.causes[MC_RULE], 2);
	CHECK_EQ_INT(c.causes[MC_NO_RULE], 1);
	CHECK_EQ_INT(c.causes[MC_COLLECTOR], 1);
	CHECK_EQ_INT(c.causes[MC_INCOMPLETE], 1);
	CHECK_EQ_INT(c.causes[MC_OTHER], 1);
	CHECK_EQ_INT(c.incomplete, 1);
	CHECK_EQ_INT(c.fallback, 1);
	CHECK_EQ_INT(c.prejudged, 1);
	CHECK_EQ_INT(c.lat_count, 4);
	CHECK_EQ_INT(c.lat_le[0], 1);                   /* 40 us <= 50 us */
	CHECK_EQ_INT(c.lat_le[2], 1);                   /* 120 us <= 250 us */
	CHECK_EQ_INT(c.lat_le[13], 1);                  /* 1 s <= 1 s */
	unsigned long long finite = 0;
	for (int b = 0; b < METRICS_NBUCKETS; b++)
		finite += c.lat_le[b];
	CHECK_EQ_INT(finite, 3); /* 9 s is only in +Inf */
}

static char *render(const char *status, const struct audit_counts *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	metrics_write(f, status, c, "/var/log/hoptrace/audit.log");
	fclose(f);
	return buf;
}

static void t_write(void)
{
	struct audit_counts c = {0};
	add(&c, "{\"verdict\":\"accept\",\"mode\":\"enforce\",\"latency_us\":40}");
	add(&c, "{\"verdict\":\"accept\",\"mode\":\"enforce\",\"latency_us\":300}");
	char *s = render("{\"ok\":true,\"host\":\"h\\\"1\",\"records\":12,\"procs\":3,"
			 "\"rejected\":{\"malformed\":2,\"no_credentials\":0},"
			 "\"new_thing\":{\"a-b\":5},\"uptime_s\":1.5}",
			 &c);
	CHECK(strstr(s, "hoptrace_collector_up 1\n"));
	CHECK(strstr(s, "hoptrace_collector_info{host=\"h\\\"1\"} 1\n"));
	CHECK(strstr(s, "# TYPE hoptrace_collector_records_total counter\nhoptrace_collector_records_total 12\n"));
	CHECK(strstr(s, "hoptrace_graph_processes 3\n"));
	CHECK(strstr(s, "hoptrace_collector_uptime_seconds 1.5\n"));
	CHECK(strstr(s, "hoptrace_collector_records_rejected_by_reason_total{reason=\"malformed\"} 2\n"));
	CHECK(strstr(s, "# TYPE hoptrace_collector_new_thing_a_b untyped\nhoptrace_collector_new_thing_a_b 5\n"));
	CHECK(strstr(s, "hoptrace_guard_decisions_total{verdict=\"accept\",mode=\"enforce\"} 2\n"));
	CHECK(strstr(s, "hoptrace_guard_decisions_total{verdict=\"drop\",mode=\"monitor\"} 0\n"));
	CHECK(strstr(s, "hoptrace_guard_decision_latency_seconds_bucket{le=\"5e-05\"} 1\n"));
	CHECK(strstr(s, "hoptrace_guard_decision_latency_seconds_bucket{le=\"0.0005\"} 2\n"));
	CHECK(strstr(s, "hoptrace_guard_decision_latency_seconds_bucket{le=\"+Inf\"} 2\n"));
	CHECK(strstr(s, "hoptrace_guard_decision_latency_seconds_count 2\n"));
	CHECK(!strstr(s, "hoptrace_collector_ok"));
	free(s);
	/* collector down, no audit log */
	s = render(NULL, NULL);
	CHECK(strstr(s, "hoptrace_collector_up 0\n"));
	CHECK(strstr(s, "hoptrace_guard_audit_log_up{path=\"/var/log/hoptrace/audit.log\"} 0\n"));
	CHECK(!strstr(s, "hoptrace_guard_decisions_total"));
	free(s);
	/* an answer that is not an object counts as down */
	s = render("[1]", NULL);
	CHECK(strstr(s, "hoptrace_collector_up 0\n"));
	free(s);
}

static void t_name(void)
{
	char n[64];
	metrics_name(n, sizeof(n), "p_", "a.b-c d");
	CHECK_EQ_STR(n, "p_a_b_c_d");
	metrics_name(n, 6, "p_", "abcdef");
	CHECK_EQ_STR(n, "p_abc");
}

static void t_maps(void)
{
	const char *p;
	size_t l;
	CHECK(shim_maps_line("7f00-7f10 r-xp 00000000 08:01 1234   /usr/lib/x86_64-linux-gnu/hoptrace/libhoptrace.so\n", &p, &l));
	CHECK(l == strlen("/usr/lib/x86_64-linux-gnu/hoptrace/libhoptrace.so") && !strncmp(p, "/usr/lib", 8));
	CHECK(shim_maps_line("7f00-7f10 r-xp 00000000 08:01 1234 /b/libhoptrace.so (deleted)", &p, &l));
	CHECK_EQ_INT(l, strlen("/b/libhoptrace.so"));
	CHECK(!shim_maps_line("7f00-7f10 r-xp 00000000 08:01 1234 /b/libhoptrace.so.1", NULL, NULL));
	CHECK(!shim_maps_line("7f00-7f10 r-xp 00000000 08:01 1234 /b/xlibhoptrace.so", NULL, NULL));
	CHECK(!shim_maps_line("7f00-7f10 rw-p 00000000 00:00 0 [heap]", NULL, NULL));
	CHECK(!shim_maps_line("7f00-7f10 rw-p 00000000 00:00 0", NULL, NULL));
	CHECK(!shim_maps_line("", NULL, NULL));
	CHECK(!shim_maps_line("libhoptrace.so", NULL, NULL));
}

T_MAIN("metrics", T(t_audit), T(t_write), T(t_name), T(t_maps))
