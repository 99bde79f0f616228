/*
 * log.c — implements log.h: stderr in the foreground, syslog otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "hoptrace/log.h"

static const char *log_prog = "hoptrace";
static int log_fg = 1;
static int log_verbose;

void log_init(const char *progname, int foreground, int verbose)
{
	log_prog = progname;
	log_fg = foreground;
	log_verbose = verbose;
	if (!foreground)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static void vlog(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[1024];
	int saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		size_t n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	if (log_fg)
		fprintf(stderr, "%s: %s\n", log_prog, msg);
	else
		syslog(pri, "%s", msg);
	errno = saved;
}

#define LOGFN(name, pri, with_errno, guard)          \
	void name(const char *fmt, ...)              \
	{                                            \
		va_list ap;                          \
		if (!(guard))                        \
			return;                      \
		va_start(ap, fmt);                   \
		vlog(pri, fmt, ap, with_errno);      \
		va_end(ap);                          \
	}

LOGFN(log_warn, LOG_WARNING, 1, 1)
LOGFN(log_warnx, LOG_WARNING, 0, 1)
LOGFN(log_info, LOG_INFO, 0, 1)
LOGFN(log_debug, LOG_DEBUG, 0, log_verbose)

void fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}
