/*
 * privsep.h — the inquiry service's privilege separation (OpenSSH style;
 * docs/inquiry.md "Privilege separation", docs/research/fleet-trust.md §6.3).
 *
 *        root: hoptraced MONITOR (graph, /proc, sock_diag, guard + CLI sockets,
 *              the part-signing key)
 *            │  socketpair(AF_UNIX, SOCK_SEQPACKET): one record = one message,
 *            │  fixed structs below, every field checked by the monitor
 *            ▼
 *   user [inquiry] user, chroot [inquiry] chroot, no_new_privs: CHILD
 *     (hoptraced re-executed with -X: a fresh image, no graph, no descriptors
 *     but 0-2, the socketpair and the monitor's listening socket)
 *     - the HTTP(S) front: incoming inquiries, their JSON → WHO_REQ
 *     - the libcurl follower: outgoing inquiries over sockets the monitor
 *       made (SOCK_REQ), their answers, the merge (the part checks are the
 *       judge's, judge.h: a third process)
 *
 * Messages (type; direction; what follows):
 *   WHO_REQ     child→monitor  an incoming inquiry, in binary
 *   WHO_ANS     monitor→child  status + the monitor's answer text (chunks)
 *   FOLLOW_REQ  monitor→child  a guard/CLI answer to follow (chunks), with the
 *                              monitor's nonce for the upstream inquiries
 *   FOLLOW_DONE child→monitor  the far hosts' answers as fetched, on the answer's
 *                              leaves (chunks): never believed by the monitor, it
 *                              goes to the judge (judge.h) with the monitor's own
 *                              answer and nonce
 *   PING / PONG either         liveness: a follow past its deadline makes the
 *                              monitor ping; the child's reader answers at once
 *   SOCK_REQ    child→monitor  an outgoing connection to far ip:port
 *   SOCK_ANS    monitor→child  status, and the connected (in progress) socket
 *                              by SCM_RIGHTS
 *   CHUNK       either         a piece of the text announced by the message
 *                              before it (same id, offsets in order)
 * A text is at most PS_TEXT_MAX bytes; a head announcing a text is followed
 * at once by all its chunks (each side has one writer at a time).
 */
#ifndef HT_PRIVSEP_H
#define HT_PRIVSEP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hoptrace/pki.h"

#define PS_MAGIC 0x48545053u /* "HTPS" */
/* the child's descriptors: 3 its end of the socketpair, PS_LISTEN_FD the listening
 * socket of [inquiry] listen (bound once by the monitor; absent with listen = no) */
#define PS_LISTEN_FD 4
#define PS_TEXT_MAX (1u << 20)
#define PS_CHUNK 32768u
#define PS_NONCE_MAX 24 /* base64url text + NUL (parts.h PART_NONCE_B64 = 22) */
#define PS_CANON_MAX 160
#define PS_HAVE_MAX 196 /* a "have" text + NUL (parts.h PART_HAVE_CHARS = 192) */

enum ps_type {
	PS_WHO_REQ = 1,
	PS_WHO_ANS,
	PS_FOLLOW_REQ,
	PS_FOLLOW_DONE,
	PS_SOCK_REQ,
	PS_SOCK_ANS,
	PS_CHUNK_MSG,
	PS_PING, /* a bare struct ps_hdr */
	PS_PONG,
};

struct ps_hdr {
	uint32_t magic;
	uint32_t type;
	uint64_t id;
};

struct ps_addr {
	uint8_t family; /* 4 or 6; 0 = none */
	uint8_t pad;
	uint16_t port; /* host order; 0 where no port is meant */
	uint8_t a[16];
};

struct ps_who_req {
	struct ps_hdr h;
	struct ps_addr peer;          /* the TCP peer of the inquiry */
	struct ps_addr local, remote; /* the asked connection, as this host sees it */
	struct ps_addr peer_addrs[PKI_ADDRS_MAX]; /* the peer certificate's addresses */
	uint32_t npeer_addrs;
	int32_t depth;        /* 0..64, -1 absent */
	uint32_t deadline_ms; /* 0 absent, else 1..60000 */
	uint32_t paper;       /* 0/1 */
	uint32_t age_ms;      /* 0..86400000: the asker saw it this long ago (0: now) */
	char nonce[PS_NONCE_MAX]; /* "" or base64url, NUL inside */
	char peer_cn[PKI_CN_MAX + 1];
	uint8_t pad[7];
	uint32_t part_v;          /* the part format the asker's judge reads: 1, or 2 ("v" ≥ 3) */
	char have[PS_HAVE_MAX];   /* the asker's "have" (format 2), NUL inside */
};

struct ps_who_ans {
	struct ps_hdr h;
	int32_t status; /* HTTP status: 200, 400, 403, 404, 500 */
	uint32_t len;   /* text bytes in chunks after this */
};

struct ps_follow_req {
	struct ps_hdr h;
	int32_t depth;
	uint32_t deadline_ms;
	uint32_t len;
	uint32_t pad;
	char subject[PS_CANON_MAX]; /* canonical 4-tuple or "" */
	char nonce[PS_NONCE_MAX];   /* the monitor's, for every upstream inquiry ("" lab_plain) */
	char have[PS_HAVE_MAX];     /* its judge's certificates ("have", parts.h), NUL inside */
};

struct ps_follow_done {
	struct ps_hdr h;
	uint32_t len;
	uint32_t pad;
};

struct ps_sock_req {
	struct ps_hdr h;
	struct ps_addr far;
};

struct ps_sock_ans {
	struct ps_hdr h;
	int32_t err; /* 0: a descriptor comes with it; else an errno */
	uint32_t pad;
};

struct ps_chunk {
	struct ps_hdr h;
	uint32_t off, len;
	/* len bytes follow */
};

#define PS_MSG_MAX (sizeof(struct ps_chunk) + PS_CHUNK)

/* a text being received: the head's id and type, then its chunks */
struct ps_text {
	int active;
	uint32_t type;
	uint64_t id;
	uint32_t len, got;
	char *buf; /* len + 1 (NUL) */
	unsigned char head[sizeof(struct ps_who_req)]; /* the head message */
};

/* Sends the head message (hlen bytes) and then text in chunks, all under mu
 * (may be NULL). 0 or -1 (errno). */
int ps_send_text(int fd, pthread_mutex_t *mu, const void *head, size_t hlen, const char *text,
		 size_t len);
/* one message, with a descriptor when sfd >= 0 */
int ps_send(int fd, pthread_mutex_t *mu, const void *msg, size_t len, int sfd);
/* Adds one received message to t. 1: the text is complete (t->buf, t->len;
 * the caller takes t->buf and resets t); 0: more to come; -1: a violation
 * (what in why). */
int ps_text_add(struct ps_text *t, const void *msg, size_t len, char *why, size_t n);
void ps_text_reset(struct ps_text *t);
/* Starts a text after head message msg (len bytes, of type type with text
 * length tlen). 0, 1 (empty text: complete), -1 violation. */
int ps_text_begin(struct ps_text *t, const void *msg, size_t len, uint32_t tlen, char *why,
		  size_t n);

/* endpoint text ("10.0.0.1:22", "[fd00::1]:22") ↔ ps_addr; 0 or -1 */
int ps_addr_from_text(const char *s, struct ps_addr *a);
int ps_addr_text(const struct ps_addr *a, char *out, size_t n);
/* same family and bytes (ports ignored) */
int ps_addr_same_ip(const struct ps_addr *x, const struct ps_addr *y);
/* a well-formed ps_addr (family 4/6 and, for v4, zero padding); needport: port != 0 */
int ps_addr_valid(const struct ps_addr *a, int needport);

/* The child's drop: chroot to dir (created root-owned 0755 if missing, must
 * not be writable by others), setgroups(0), setresgid/setresuid to user (or
 * "nobody" when user is "hoptrace" and no such user exists),
 * PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG(SIGKILL). 0 or -1 with err. */
int ps_drop(const char *user, const char *dir, int nofile, char *err, size_t n);
/* Forks and execs `hoptraced MODE 3 [-d] [-v...] -f CONFFILE` (the inquiry child
 * "-X", the judge "-J"): in the new process ps (its end of the socketpair) at 3,
 * ls (the listening socket; -1: none) at PS_LISTEN_FD, no other descriptor, the
 * signal mask cleared. Its pid, or -1 (errno: fork's). */
pid_t ps_spawn(const char *mode, int ps, int ls, int fg, int verbose, const char *conffile);

#endif
