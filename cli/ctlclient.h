/*
 * ctlclient.h — the CLI's side of the collector's control socket: one nng
 * REQ0 round trip over ipc://PATH (the collector answers with REP0 on the same
 * path; docs/query-protocol.md).
 */
#ifndef HOPTRACE_CTLCLIENT_H
#define HOPTRACE_CTLCLIENT_H

#include <stddef.h>

#define CTL_DEFAULT_PATH "/run/hoptrace/control.sock"
#define CTL_TIMEOUT_MS 5000
#define CTL_ANSWER_MAX (64u << 20) /* largest answer accepted (graph dumps) */

/* Sends req_json to the collector at control_path and waits at most timeout_ms
 * (<= 0: CTL_TIMEOUT_MS) for the answer. Returns 0 with *answer a NUL-terminated
 * malloc()ed copy of the answer (the caller free()s it), or -1 with *answer NULL
 * and a reason in err ("No such file or directory", "Connection refused",
 * "Timed out", ...): the collector is unreachable. */
int ctl_request(const char *control_path, const char *req_json, char **answer,
		int timeout_ms, char *err, size_t errlen);

#endif
