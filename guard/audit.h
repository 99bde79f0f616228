/*
 * audit.h — the audit log (docs/audit-log.md): one JSON object per line per
 * decision, each line written with one write() on an O_APPEND descriptor, so
 * lines from several threads (and processes) never interleave.
 */
#ifndef HOPTRACE_GUARD_AUDIT_H
#define HOPTRACE_GUARD_AUDIT_H

#include <stddef.h>
#include <time.h>
#include "hoptrace/chain.h"

struct audit_rec {
	struct timespec time;     /* CLOCK_REALTIME when the SYN arrived */
	const char *verdict;      /* what was decided: accept / reject / drop */
	const char *action;       /* what was done (monitor mode: always accept) */
	int monitor;
	const char *rule;         /* "FILE:LINE" of the deciding rule, or NULL */
	const char *reason;       /* why, when no rule decided (or extra text) */
	const char *local, *remote;
	const char *host;         /* this host's name as the collector says, or NULL */
	const struct ht_chainset *chains; /* may be NULL */
	int complete, fallback;
	int local_dst;            /* destination is this host (not judged) */
	long latency_us;
	long collector_us;     /* of which waiting for the collector's answer; -1 not asked */
	int prejudged;         /* the chain came pushed by the collector, not asked */
	const char *first_hop; /* a source-routed SYN: the IP header's destination, or NULL */
	long overflow;         /* > 0: an overflow line, SYNs the kernel dropped */
};

/* A growable text buffer (one per thread). */
struct abuf {
	char *p;
	size_t len, cap;
};
void abuf_free(struct abuf *b);

/* Formats one line (with the trailing '\n') into b; returns 0 or -1 (ENOMEM). */
int audit_format(struct abuf *b, const struct audit_rec *r);
/* syslog: a non-blocking datagram socket connected to path (/dev/log), or
 * -1; audit_syslog_send writes the line (without its '\n') as one message
 * "<PRI>hopguard[PID]: {json}" (RFC 3164 as glibc's syslog() sends it
 * locally; LOG_DAEMON, notice for a refusal, info otherwise). Never blocks:
 * a full or absent syslog loses the message (returns -1), the file keeps it. */
int audit_syslog_open(const char *path);
int audit_syslog_send(int fd, const struct abuf *b, int refusal);
/* Opens path (creating its directory) with O_APPEND; returns fd or -1. */
int audit_open(const char *path);
/* One write() of the line; returns 0 or -1. */
int audit_write(int fd, const struct abuf *b);

/* RFC 3339 UTC with microseconds: 2026-11-25T20:56:19.123456Z (buf >= 32) */
void audit_time(const struct timespec *ts, char *buf, size_t n);

#endif
