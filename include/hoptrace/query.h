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
 *   {"op": OP [, "id": ID] [, op's members]}
 *     who        "local": ENDPOINT, "remote": ENDPOINT [, "deadline_ms": 1..HT_QDEADLINE_MAX_MS]
 *                [, "force": true]
 *     chain      "pid": 1..HT_QPID_MAX
 *     ps | graph | status | subscribe | kevents   (no members)
 *     bound      "ino": N >= 1, "local": ENDPOINT, "remote": ENDPOINT   (no answer)
 *   ENDPOINT is "a.b.c.d:port" or "[v6]:port", both ends of one family; ID a
 *   whole number 0..HT_QID_MAX (another "id" is answered without one). At
 *   most HT_QUERY_MAX bytes, nothing but white space after the object;
 *   member names are case-sensitive, the first of duplicates counts.
 * An answer is one JSON object; when the request had "id" the answer starts
 * with it:
 *   {["id": N,] "ok": true, ...}                                  success
 *   {["id": N,] "ok": false, "error": TEXT, "code": CODE [, "pushed": true]}
 * CODE is the wire name of an enum ht_qerr (below); TEXT is for people and may
 * carry details ("unknown op \"x\""); nothing routes on it. A push on the
 * subscription is a who answer with a trailing "ino", or {"nopush":true,"ino":N}.
 * Order: an answer's head members (id, ok, error, code, pushed, nopush, host)
 * come before any member whose value is an array or object, and a push's
 * "ino" is its last member — ht_qhead_parse() reads no further. A subscribe
 * is answered {"ok":true}; bound is not answered.
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
#define HT_QID_MAX 9007199254740991ULL /* largest "id" (2^53 - 1: exact in a double) */
#define HT_QDEADLINE_MAX_MS 600000 /* largest "deadline_ms" a reader takes */
#define HT_QPID_MAX 4194304        /* largest "pid" (PID_MAX_LIMIT) */
#define HT_QTEXT_MAX 200           /* an answer's "error" text as a reader keeps it */

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
	HT_QOP_KEVENTS, /* the kernel event source's recent events (hoptrace kev-dump) */
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
	HT_QE_DENIED,          /* the asker is not root (nng control socket) */
	HT_QE_SUBSCRIBERS,     /* subscribe: HT_SUBSCRIBERS_MAX already */
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

/* ---- requests ------------------------------------------------------------- *
 * A request as a struct. Members an op does not take are zero after a parse
 * and ignored by a build. Invariant (tests/fuzz/fuzz_qcodec.c): a struct that
 * ht_qreq_parse() filled builds to text that parses back to the same struct.
 *   id           has_id = 0: none (a parse also says 0 for an "id" that is not
 *                a whole number in [0, HT_QID_MAX]: such a request is still
 *                answered, without an id — as before the codec)
 *   local/remote who, bound: endpoints as ht_endpoint_parse() reads them
 *                (a parse checks them so; a build only refuses characters
 *                outside [0-9A-Za-z.:[]%_-], so nothing it writes can leave
 *                the JSON string)
 *   pid          chain: 1..HT_QPID_MAX
 *   ino          bound: >= 1
 *   deadline_ms  who: 0 = not given (the collector's default); a parse reads
 *                1..HT_QDEADLINE_MAX_MS (else 0), a build clamps to it
 *   force        who: "force":true (the full answer, never "pushed")
 */
struct ht_qreq {
	enum ht_qop op;
	int has_id;
	uint64_t id;
	char local[HT_ENDPOINT_MAX], remote[HT_ENDPOINT_MAX];
	int64_t pid;
	uint64_t ino;
	unsigned long deadline_ms;
	int force;
	unsigned long age_ms;  /* who: the asker saw the connection this long ago
				* (0..HT_QAGE_MAX_MS; 0: now) — a closed one is
				* answered as of then, within history_window */
};
#define HT_QAGE_MAX_MS 86400000UL

/* Writes r as one JSON object into out (n bytes, NUL-terminated): returns its
 * length, or -1 when it does not fit or r is not a request (no op, a bad
 * endpoint, pid or ino, an id above HT_QID_MAX). Members in this order:
 *   {"op":OP[,"id":N][,"pid":N][,"ino":N][,"local":L,"remote":R]
 *    [,"deadline_ms":N][,"force":true][,"age_ms":N]}
 * No allocation. */
int ht_qreq_build(char *out, size_t n, const struct ht_qreq *r);

/* Reads request buf (len bytes, need not be NUL-terminated, at most
 * HT_QUERY_MAX) into *r: HT_QE_OK, or HT_QE_BAD_REQUEST with the wire text
 * in detail (dn bytes; may be NULL):
 *   "request empty or larger than 64 KiB", "request is not a JSON object",
 *   "missing \"op\"", "unknown op \"X\"" (X cut at 40 bytes),
 *   "bad or missing \"local\" endpoint", "bad or missing \"remote\" endpoint",
 *   "local and remote are of different address families",
 *   "bad or missing \"pid\"", "bad or missing \"ino\"".
 * On failure r->op, r->has_id and r->id hold what was read (an answer to a
 * bad request still carries its id). Members are matched case-sensitively;
 * of duplicate members the first counts; after the object only whitespace
 * or NULs may follow. */
enum ht_qerr ht_qreq_parse(const char *buf, size_t len, struct ht_qreq *r, char *detail,
			   size_t dn);

/* ---- answers -------------------------------------------------------------- *
 * The head of an answer, read without building a tree (the guard's per-SYN
 * path): its top-level members up to the first array or object value (the
 * grammar puts every head member before those), and a last member "ino" (a
 * push's), read from the end. A bounded scanner: it never reads beyond len,
 * allocates nothing, and does not check what follows the head — the chain
 * decoder (ht_chains_from_json) does.
 *   ok      1 for "ok":true; has_ok 0 when the answer has no "ok" (a push
 *           {"nopush":true,...})
 *   code    HT_QE_OK when ok; else the "code" member's code, HT_QE_OTHER
 *           when it is absent or unknown (an older collector)
 *   text    "error" as text (JSON escapes decoded, cut to HT_QTEXT_MAX - 1
 *           bytes), "" when absent
 *   pushed  "pushed":true;  nopush "nopush":true;  ino the "ino" member (0: none)
 *   host    "host" (cut to 255 bytes), "" when absent
 * Of duplicate members the first counts. Returns HT_QE_OK when the answer is
 * an object whose head the scanner could read, else HT_QE_BAD_ANSWER (what
 * was read before the fault stays in *h; h->code is HT_QE_BAD_ANSWER). */
struct ht_qhead {
	int ok, has_ok;
	int has_id;
	uint64_t id;
	enum ht_qerr code;
	char text[HT_QTEXT_MAX];
	int pushed;
	int nopush;
	uint64_t ino;
	char host[256];
};
enum ht_qerr ht_qhead_parse(const char *ans, size_t len, struct ht_qhead *h);

/* A failed answer  {["id":N,]"ok":false,"error":TEXT,"code":NAME[,"pushed":true]}
 * with TEXT = detail, or ht_qerr_text(code) when detail is NULL or "" (JSON-
 * escaped, cut at 255 bytes); the id is req's when req has one (req may be
 * NULL); "pushed":true for HT_QE_PUSHED. Returns a malloc()ed string the
 * caller frees, NULL when out of memory. */
char *ht_qerr_answer(const struct ht_qreq *req, enum ht_qerr code, const char *detail);
/* The same into out (n bytes): returns the length, or 0 when it does not fit
 * (2048 bytes always do; 400 do for any detail without quotes, backslashes or
 * control bytes). No allocation. */
size_t ht_qerr_format(char *out, size_t n, int has_id, uint64_t id, enum ht_qerr code,
		      const char *detail);
/* The answer that replaces one too large to send (HT_QE_TOO_LARGE), keeping
 * the leading {"id":N of ans (len bytes) — the guard matches answers to
 * questions by it. Returns the length written to out, 0 when n is too small
 * (96 bytes always do). */
size_t ht_qerr_cut(char *out, size_t n, const char *ans, size_t len);
/* The push that says none comes for socket ino: {"nopush":true,"ino":N}.
 * Returns the length, 0 when n is too small (48 bytes always do). */
size_t ht_qnopush_format(char *out, size_t n, uint64_t ino);

#endif
