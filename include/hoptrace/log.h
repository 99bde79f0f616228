/*
 * log.h — logging for the daemons and tools (never used inside the shim).
 * log_warn() appends the errno text, log_warnx() does not; fatal() logs and
 * exits 1. Output goes to stderr while in the foreground, else to syslog.
 */
#ifndef HOPTRACE_LOG_H
#define HOPTRACE_LOG_H

#include <stdarg.h>

void log_init(const char *progname, int foreground, int verbose);
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
