/*
 * ctlclient.h — the CLI's side of the collector's control socket: one nng
 * REQ0 round trip over ipc://PATH (the collector answers with REP0 on the same
 * path; docs/query-protocol.md).
 */
#ifndef HOPTRACE_CTLCLIENT_H
#define HOPTRACE_CTLCLIENT_H

#include <stddef.h>

#include "hoptrace/query.h"

/* The path is HT_CONTROL_PATH unless the configuration says otherwise. */
#define CTL_TIMEOUT_MS 5000
#define CTL_ANSWER_MAX (64u << 20) /* largest answer accepted (graph dumps) */

/* Sends req_json to the collector at control_path and waits at most timeout_ms
 * (<= 0: CTL_TIMEOUT_MS) for the answer. Returns HT_QE_OK with *answer a
 * NUL-terminated malloc()ed copy of the answer (the caller free()s it), or
 * with *answer NULL and a reason in err ("No such file or directory",
 * "Connection refused", "no answer: Timed out", ...):
 *   HT_QE_UNREACHABLE  it could not be asked (no socket, nobody listening, the
 *                      send failed; also bad arguments and out of memory)
 *   HT_QE_TIMEOUT      no answer within timeout_ms
 *   HT_QE_CLOSED       the answer could not be received otherwise */
enum ht_qerr ctl_request(const char *control_path, const char *req_json, char **answer,
			 int timeout_ms, char *err, size_t errlen);

#endif
