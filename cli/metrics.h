/*
 * metrics.h — `hoptrace metrics`: the collector's `status` counters and the
 * guard's decisions (counted from its audit log) in the Prometheus text
 * exposition format 0.0.4, for node_exporter's textfile collector. The
 * metric names are documented in docs/install.md ("Metrics").
 */
#ifndef HOPTRACE_METRICS_H
#define HOPTRACE_METRICS_H

#include <stddef.h>
#include <stdio.h>

#define METRICS_NBUCKETS 15 /* finite latency buckets; +Inf is the count */

enum { MV_ACCEPT, MV_REJECT, MV_DROP, MV_N };
enum { MM_ENFORCE, MM_MONITOR, MM_N };
enum { MC_RULE, MC_NO_RULE, MC_COLLECTOR, MC_POLICY, MC_INCOMPLETE, MC_LOCAL, MC_OTHER, MC_N };

struct audit_counts {
	unsigned long long decisions[MV_N][MM_N];
	unsigned long long causes[MC_N];
	unsigned long long lat_le[METRICS_NBUCKETS]; /* not cumulative */
	unsigned long long lat_count;                /* lines with latency_us */
	double lat_sum;                              /* seconds */
	unsigned long long incomplete, fallback, prejudged, unreadable;
	unsigned long long bytes; /* of the file read */
};

extern const double metrics_buckets[METRICS_NBUCKETS]; /* upper bounds, seconds */

/* Counts one audit-log line (without its newline). 0, or -1 when the line is
 * not a decision (counted in unreadable). */
int metrics_audit_line(struct audit_counts *c, const char *line, size_t len);

/* Counts every complete line of the file. 0, or -1 (errno) when it cannot
 * be opened. */
int metrics_audit_file(struct audit_counts *c, const char *path);

/* Writes the metrics. status_json: the collector's `status` answer, NULL when
 * it did not answer; audit: NULL when the audit log could not be read. */
int metrics_write(FILE *out, const char *status_json, const struct audit_counts *audit,
		  const char *audit_path);

/* A Prometheus metric name from a status key path ("rejected.malformed"):
 * [a-zA-Z0-9_] kept, anything else '_'. */
void metrics_name(char *out, size_t n, const char *prefix, const char *key);

#endif
