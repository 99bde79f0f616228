/*
 * query.h — the collector's query protocol, defined once (docs/query-protocol.md).
 *
 * Who speaks it: hopguard (one question per SYN, plus the prejudged-chain
 * subscription), the `hoptrace` CLI, and the collector that answers. This
 * header holds the socket names, the limits, the operations and the error
 * codes; common/query.c holds the codec that builds and reads requests and
 * answer heads. No part of hoptrace builds a request with its own snprintf
 * or tells one error from another by its text: it uses these.
 *
 * Transports (docs/query-protocol.md "Transports"):
 *   the guard   AF_UNIX SOCK_SEQPACKET at HT_QUERY_SOCKET (abstract name, and
 *               its path under HT_RUN_DIR, include/hoptrace/record.h), one
 *               datagram per request and per answer, at most HT_QUERY_MAX bytes;
 *               only a peer whose SO_PEERCRED uid is 0 (or the guard's own) is
 *               trusted on either side.
 *   the CLI     nng REQ/REP over ipc:// at HT_CONTROL_PATH (mode 0600).
 *
 * Grammar. A request is one JSON object:
 *   {"op": OP [, "id": N] [, op's members]}
 *     who        "local": ENDPOINT, "remote": ENDPOINT [, "deadline_ms": N] [, "force": true]
 *     chain      "pid": N
 *     ps | graph | status | subscribe      (no members)
 *     bound      "ino": N, "local": ENDPOINT, "remote": ENDPOINT   (no answer)
 *   ENDPOINT is "a.b.c.d:port" or "[v6]:port"; N a whole number >= 0.
 * An answer is one JSON object; when the request had "id" the answer starts
 * with it:
 *   {["id": N,] "ok": true, ...}                                  success
 *   {["id": N,] "ok": false, "error": TEXT, "code": CODE [, "pushed": true]}
 * CODE is the wire name of an enum ht_qerr (below); TEXT is for people and may
 * carry details ("unknown op \"x\""); nothing routes on it. A push on the
 * subscription is a who answer with a trailing "ino", or {"nopush":true,"ino":N}.
 *
 * Compatibility: unknown members are ignored by every reader; an answer
 * without "code" (an older collector) reads as HT_QE_OTHER.
 */
#ifndef HOPTRACE_QUERY_H
#define HOPTRACE_QUERY_H

#include <stddef.h>
#include <stdint.h>

/* ---- names ---------------------------------------------------------------- */
#define HT_QUERY_SOCKET "hoptrace/query"               /* abstract name, no leading NUL */
#define HT_CONTROL_PATH "/run/hoptrace/control.sock"  /* the CLI's nng ipc:// path */

/* ---- limits --------------------------------------------------------------- */
#define HT_QUERY_MAX 65536         /* largest request and SEQPACKET answer, bytes */
#define HT_PUSH_MAX 16384          /* largest pushed chain; larger ones are asked about */
#define HT_PUSH_TTL_MS 500         /* a push not used within this is dropped */
#define HT_SUBSCRIBERS_MAX 4       /* subscriptions per collector */
#define HT_WHO_DEADLINE_MS 1000    /* "deadline_ms" when a who does not say */
#define HT_ENDPOINT_MAX 64         /* "[v6%scope]:port" and its NUL fit */

/* ---- operations ----------------------------------------------------------- */
enum ht_qop {
	HT_QOP_NONE = 0, /* missing or unknown */
	HT_QOP_WHO,
	HT_QOP_CHAIN,
	HT_QOP_PS,
	HT_QOP_GRAPH,
	HT_QOP_STATUS,
	HT_QOP_SUBSCRIBE,
	HT_QOP_BOUND,
	HT_QOP_COUNT
};

/* ---- errors --------------------------------------------------------------- *
 * One code per way a question can fail, on the wire ("code") or on this side
 * of it (the transport). The table in common/query.c gives each its wire name
 * and the text that was sent before codes existed. */
enum ht_qerr {
	HT_QE_OK = 0,
	/* the collector's answers */
	HT_QE_BAD_REQUEST,     /* not JSON, no/unknown op, bad endpoint or pid, too large */
	HT_QE_NO_CONN,         /* no such TCP connection on this host */
	HT_QE_NO_HOLDER,       /* no process holds that connection's socket */
	HT_QE_NO_PROC,         /* no process PID on this host */
	HT_QE_TOO_LARGE,       /* the answer does not fit (the collector found a chain) */
	HT_QE_TOO_MANY_CHAINS, /* more chains than a reader takes (HT_CHAINS_MAX) */
	HT_QE_PUSHED,          /* who from the subscriber: its chain was pushed */
	HT_QE_NO_MEMORY,       /* the collector ran out of memory */
	HT_QE_OTHER,           /* an answer with "ok":false and no known code */
	/* this side of the transport */
	HT_QE_UNREACHABLE,     /* cannot connect or send */
	HT_QE_NOT_ROOT,        /* the socket's server is not root (a squatter) */
	HT_QE_TIMEOUT,         /* no answer within the deadline */
	HT_QE_CLOSED,          /* the collector closed the connection */
	HT_QE_BAD_ANSWER,      /* the answer is not one the codec reads */
	HT_QE_COUNT
};

/* The code's wire name ("too_large"), never NULL ("other" out of range). */
const char *ht_qerr_name(enum ht_qerr e);
/* The code's text (the wire text of old: "answer too large"). */
const char *ht_qerr_text(enum ht_qerr e);
/* A wire name back to its code; HT_QE_OTHER for NULL or an unknown name. */
enum ht_qerr ht_qerr_from_name(const char *name, size_t len);
/* 1 when the collector had a chain but could not send it whole: the guard's
 * on_incomplete, not on_collector_error (too_large, too_many_chains). */
int ht_qerr_incomplete(enum ht_qerr e);

const char *ht_qop_name(enum ht_qop op); /* "who"; "" for HT_QOP_NONE */
enum ht_qop ht_qop_from_name(const char *name, size_t len);

#endif
