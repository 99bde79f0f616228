/*
 * sdnotify.h — systemd's readiness and watchdog protocol (sd_notify(3))
 * without libsystemd: one datagram to the AF_UNIX socket named by
 * $NOTIFY_SOCKET ("/path" or "@abstract"). Used by the daemons' units
 * (Type=notify, WatchdogSec=): READY=1 once they serve, WATCHDOG=1 every
 * half watchdog period from the loop whose hang must restart them.
 */
#ifndef HOPTRACE_SDNOTIFY_H
#define HOPTRACE_SDNOTIFY_H

#include <stdint.h>

/* Sends state ("READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=..."). 0 sent,
 * 1 not started by systemd (no $NOTIFY_SOCKET), -1 error (errno). */
int ht_sd_notify(const char *state);

/* The watchdog period in µs ($WATCHDOG_USEC, when $WATCHDOG_PID is unset or
 * this process), 0 when there is none. Ping at least every half of it. */
uint64_t ht_sd_watchdog_usec(void);

#endif
