/*
 * audit.h — the audit log (docs/audit-log.md): one JSON object per line per
 * decision, each line written with one write() on an O_APPEND descriptor, so
 * lines from several threads (and processes) never interleave.
 */
#ifndef HOPTRACE_GUARD_AUDIT_H
#define HOPTRACE_GUARD_AUDIT_H

#include <pthread.h>
#include <stdatomic.h>
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
	const char *cause;        /* what decided, as a code (decide.h), or NULL */
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

/* Where the guard's lines go: the audit file and, with audit_syslog, syslog.
 * One lock (cheap) guards a reopen and the syslog reconnect. */
struct audit_sink {
	pthread_mutex_t lock;
	char path[512];        /* audit_log, "" none */
	int fd;                /* -1 none */
	char syslog[108];      /* audit_syslog's socket, "" off */
	int syslog_fd;         /* -1 off or not reachable (retried) */
	long syslog_retry_ms;
	atomic_ulong n_syslog_lost;
};
/* Opens path ("" none); syslog_path "" off. Returns 0, or -1 (the file
 * cannot be opened; errno). audit_sink_close accepts a zeroed struct after
 * audit_sink_init. */
int audit_sink_init(struct audit_sink *s, const char *path, const char *syslog_path);
void audit_sink_close(struct audit_sink *s);
/* Opens the file anew (logrotate): 0, or -1 and the old one stays. */
int audit_sink_reopen(struct audit_sink *s);
/* Formats r into b (the caller's, reused) and writes it to the file and to
 * syslog (a refusal at notice). Never blocks on syslog: an absent or
 * restarted syslog is reconnected at most once a second, a lost message is
 * counted (the file has it). */
void audit_sink_emit(struct audit_sink *s, struct abuf *b, const struct audit_rec *r, int refusal);

/* RFC 3339 UTC with microseconds: 2026-11-25T20:56:19.123456Z (buf >= 32) */
void audit_time(const struct timespec *ts, char *buf, size_t n);

#endif
