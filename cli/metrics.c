/*
 * metrics.c — implements metrics.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "metrics.h"

const double metrics_buckets[METRICS_NBUCKETS] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

static const char *const verdicts[MV_N] = {"accept", "reject", "drop"};
static const char *const modes[MM_N] = {"enforce", "monitor"};
static const char *const causes[MC_N] = {"rule", "no_rule", "collector_error", "policy_error",
					 "incomplete", "local", "other"};

static int idx(const char *s, const char *const *names, int n)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int starts(const char *s, const char *p)
{
	return s && strncmp(s, p, strlen(p)) == 0;
}

int metrics_audit_line(struct audit_counts *c, const char *line, size_t len)
{
	cJSON *r = cJSON_ParseWithLength(line, len);
	int v = -1, m = -1;

	if (cJSON_IsObject(r)) {
		v = idx(jstr(r, "verdict"), verdicts, MV_N);
		m = idx(jstr(r, "mode") ? jstr(r, "mode") : "enforce", modes, MM_N);
	}
	if (v < 0 || m < 0) {
		c->unreadable++;
		cJSON_Delete(r);
		return -1;
	}
	c->decisions[v][m]++;
	const char *reason = jstr(r, "reason");
	/* the guard names what decided ("cause", a code); a line written before
	 * it did is read by its text: a rule decided when it is named ("rule")
	 * or the reason names the list line a process was found in (or missing
	 * from) */
	int cause = idx(jstr(r, "cause"), causes, MC_N);
	int by_rule = jstr(r, "rule") || (reason && strstr(reason, "process ") == reason &&
					 strstr(reason, " list ("));
	if (cause < 0)
		cause = by_rule                             ? MC_RULE
		    : starts(reason, "no matching rule")    ? MC_NO_RULE
		    : starts(reason, "collector")           ? MC_COLLECTOR
		    : starts(reason, "policy server")       ? MC_POLICY
		    : starts(reason, "chain incomplete")    ? MC_INCOMPLETE
		    : starts(reason, "local destination")   ? MC_LOCAL
							    : MC_OTHER;
	c->causes[cause]++;
	if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(r, "complete")))
		c->incomplete++;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "fallback")))
		c->fallback++;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "prejudged")))
		c->prejudged++;
	const cJSON *lat = cJSON_GetObjectItemCaseSensitive(r, "latency_us");
	if (cJSON_IsNumber(lat) && lat->valuedouble >= 0 && isfinite(lat->valuedouble)) {
		double s = lat->valuedouble / 1e6;
		c->lat_count++;
		c->lat_sum += s;
		for (int b = 0; b < METRICS_NBUCKETS; b++)
			if (s <= metrics_buckets[b]) {
				c->lat_le[b]++;
				break;
			}
	}
	cJSON_Delete(r);
	return 0;
}

int metrics_audit_file(struct audit_counts *c, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return -1;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			break; /* a line being written: the next run counts it */
		c->bytes += (unsigned long long)n;
		if (n > 1)
			metrics_audit_line(c, line, (size_t)n - 1);
	}
	free(line);
	fclose(f);
	return 0;
}

void metrics_name(char *out, size_t n, const char *prefix, const char *key)
{
	size_t o = 0;
	for (const char *p = prefix; *p && o + 1 < n; p++)
		out[o++] = *p;
	for (const char *p = key; *p && o + 1 < n; p++) {
		char ch = *p;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '_';
		out[o++] = ok ? ch : '_';
	}
	out[o] = '\0';
}

/* A label value: \ " and newline escaped. */
static void put_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_num(FILE *f, double v)
{
	if (isnan(v))
		fputs("NaN", f);
	else if (isinf(v))
		fputs(v > 0 ? "+Inf" : "-Inf", f);
	else if (v < 9e15 && v > -9e15 && v == (double)(long long)v)
		fprintf(f, "%lld", (long long)v);
	else
		fprintf(f, "%.17g", v);
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(FILE *f, const char *name, const char *type, const char *help, double v)
{
	head(f, name, type, help);
	fputs(name, f);
	fputc(' ', f);
	put_num(f, v);
	fputc('\n', f);
}

/* The documented fields of the collector's status answer. */
static const struct known {
	const char *key, *name, *type, *help;
} known[] = {
	{"uptime_s", "hoptrace_collector_uptime_seconds", "gauge", "Seconds since the collector started."},
	{"records", "hoptrace_collector_records_total", "counter", "Records received from shims."},
	{"records_applied", "hoptrace_collector_records_applied_total", "counter", "Records applied to the graph."},
	{"records_rejected", "hoptrace_collector_records_rejected_total", "counter", "Records rejected (every reason)."},
	{"lost_by_shims", "hoptrace_collector_records_lost_total", "counter", "Records the shims could not send (reported by them)."},
	{"shim_connections", "hoptrace_collector_shim_connections_total", "counter", "Connections from shims accepted."},
	{"queries", "hoptrace_collector_queries_total", "counter", "Queries answered (CLI, guard)."},
	{"prejudged_pushed", "hoptrace_collector_prejudged_pushed_total", "counter", "Chains pushed to the guard before its SYN arrived."},
	{"prejudged_dropped", "hoptrace_collector_prejudged_dropped_total", "counter", "Chains that could not be pushed to the guard."},
	{"prejudged_skipped", "hoptrace_collector_prejudged_skipped_total", "counter", "Connects not pushed while pushes mostly failed to decide their SYN."},
	{"procs", "hoptrace_graph_processes", "gauge", "Processes in the graph (alive and ended within retention)."},
	{"procs_alive", "hoptrace_graph_processes_alive", "gauge", "Processes in the graph that are alive."},
	{"chans", "hoptrace_graph_channels", "gauge", "Channels (pipes, sockets, ptys, ...) in the graph."},
	{"holds", "hoptrace_graph_holds", "gauge", "Process-channel holdings in the graph."},
	{"evicted", "hoptrace_graph_evicted_total", "counter", "Processes evicted from the graph (max_processes)."},
	{"graph_bytes", "hoptrace_graph_bytes", "gauge", "Memory held by the graph, bytes."},
	{"proc_reads", "hoptrace_collector_proc_reads_total", "counter", "Reads of /proc by the collector."},
};

static const struct known *find_known(const char *key)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].key, key) == 0)
			return &known[i];
	return NULL;
}

/* Numeric fields no table names: hoptrace_collector_<path>, untyped. */
static void put_unknown(FILE *f, const cJSON *o, const char *path)
{
	const cJSON *v;
	cJSON_ArrayForEach(v, o)
	{
		char key[256], name[300];
		if (!v->string)
			continue;
		snprintf(key, sizeof(key), "%s%s%s", path, *path ? "." : "", v->string);
		if (!*path && (find_known(key) || !strcmp(key, "rejected") || !strcmp(key, "ok")))
			continue;
		if (cJSON_IsObject(v)) {
			put_unknown(f, v, key);
		} else if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
			metrics_name(name, sizeof(name), "hoptrace_collector_", key);
			if (!strcmp(name, "hoptrace_collector_up") || !strcmp(name, "hoptrace_collector_info"))
				continue;
			one(f, name, "untyped", "A collector status field (hoptrace status).", v->valuedouble);
		}
	}
}

static void put_collector(FILE *f, const cJSON *st)
{
	one(f, "hoptrace_collector_up", "gauge", "1 when the collector answered hoptrace status.",
	    st ? 1 : 0);
	if (!st)
		return;
	const char *host = jstr(st, "host");
	head(f, "hoptrace_collector_info", "gauge", "The collector's host name in chains.");
	fputs("hoptrace_collector_info{host=\"", f);
	put_label(f, host ? host : "");
	fputs("\"} 1\n", f);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, known[i].key);
		if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
			one(f, known[i].name, known[i].type, known[i].help, v->valuedouble);
	}
	const cJSON *rej = cJSON_GetObjectItemCaseSensitive(st, "rejected"), *r;
	if (cJSON_IsObject(rej)) {
		head(f, "hoptrace_collector_records_rejected_by_reason_total", "counter",
		     "Records rejected, by reason.");
		cJSON_ArrayForEach(r, rej)
		{
			char lab[128];
			if (!r->string || !cJSON_IsNumber(r) || !isfinite(r->valuedouble))
				continue;
			metrics_name(lab, sizeof(lab), "", r->string);
			fprintf(f, "hoptrace_collector_records_rejected_by_reason_total{reason=\"%s\"} ", lab);
			put_num(f, r->valuedouble);
			fputc('\n', f);
		}
	}
	put_unknown(f, st, "");
}

static void put_guard(FILE *f, const struct audit_counts *c, const char *path)
{
	head(f, "hoptrace_guard_audit_log_up", "gauge",
	     "1 when the guard's audit log was read (the hoptrace_guard_* counters come from it "
	     "and restart at each rotation).");
	fputs("hoptrace_guard_audit_log_up{path=\"", f);
	put_label(f, path ? path : "");
	fprintf(f, "\"} %d\n", c ? 1 : 0);
	if (!c)
		return;
	one(f, "hoptrace_guard_audit_log_bytes", "gauge", "Size of the audit log read, bytes.",
	    (double)c->bytes);
	head(f, "hoptrace_guard_decisions_total", "counter", "Decisions, by verdict and mode.");
	for (int v = 0; v < MV_N; v++)
		for (int m = 0; m < MM_N; m++)
			fprintf(f, "hoptrace_guard_decisions_total{verdict=\"%s\",mode=\"%s\"} %llu\n",
				verdicts[v], modes[m], c->decisions[v][m]);
	head(f, "hoptrace_guard_decisions_by_cause_total", "counter",
	     "Decisions, by what decided: a rule, no matching rule, a collector or policy "
	     "server error, an incomplete chain, a local destination, other.");
	for (int i = 0; i < MC_N; i++)
		fprintf(f, "hoptrace_guard_decisions_by_cause_total{cause=\"%s\"} %llu\n", causes[i],
			c->causes[i]);
	one(f, "hoptrace_guard_incomplete_chains_total", "counter",
	    "Decisions on a chain not followed to its origin.", (double)c->incomplete);
	one(f, "hoptrace_guard_kernel_fallback_total", "counter",
	    "Decisions on a chain with a process seen only by the kernel.", (double)c->fallback);
	one(f, "hoptrace_guard_prejudged_total", "counter",
	    "Decisions on a chain the collector pushed before the SYN.", (double)c->prejudged);
	one(f, "hoptrace_guard_audit_unreadable_lines_total", "counter",
	    "Audit log lines that are not a decision.", (double)c->unreadable);
	head(f, "hoptrace_guard_decision_latency_seconds", "histogram",
	     "From the SYN's arrival in the guard to its verdict.");
	unsigned long long cum = 0;
	for (int b = 0; b < METRICS_NBUCKETS; b++) {
		cum += c->lat_le[b];
		fprintf(f, "hoptrace_guard_decision_latency_seconds_bucket{le=\"%g\"} %llu\n",
			metrics_buckets[b], cum);
	}
	fprintf(f, "hoptrace_guard_decision_latency_seconds_bucket{le=\"+Inf\"} %llu\n",
		c->lat_count);
	fputs("hoptrace_guard_decision_latency_seconds_sum ", f);
	put_num(f, c->lat_sum);
	fprintf(f, "\nhoptrace_guard_decision_latency_seconds_count %llu\n", c->lat_count);
}

int metrics_write(FILE *out, const char *status_json, const struct audit_counts *audit,
		  const char *audit_path)
{
	cJSON *st = status_json ? cJSON_Parse(status_json) : NULL;
	if (st && !cJSON_IsObject(st)) {
		cJSON_Delete(st);
		st = NULL;
	}
	put_collector(out, st);
	put_guard(out, audit, audit_path);
	cJSON_Delete(st);
	return ferror(out) ? -1 : 0;
}
