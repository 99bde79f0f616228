/*
 * record.h — the records the shim (libhoptrace.so) sends to the collector.
 *
 * This file defines the wire format once; the shim encodes with the inline
 * ht_rec_* helpers below (no allocation, a caller-supplied fixed buffer), the
 * collector decodes with ht_record_decode() (common/record.c).
 *
 * Transport: one record per datagram on an AF_UNIX SOCK_SEQPACKET socket
 * connected to the collector: at HT_REC_SOCKET's path under HT_RUN_DIR (below),
 * else at the abstract name HT_REC_SOCKET ("\0hoptrace/rec" — abstract names
 * are per network namespace, so every namespace reaches its own collector),
 * and only when the peer's SO_PEERCRED uid is 0 (anybody can bind a free
 * abstract name). The collector sets SO_PASSCRED: the kernel attests each
 * datagram's sender pid/uid/gid, and those are the only identity the collector
 * trusts. Nothing in a record names the sending process.
 *
 * Encoding: a msgpack array  [version, type, ts, field...]
 *   version  HT_REC_VERSION (positive fixint)
 *   type     enum ht_rec_type
 *   ts       CLOCK_MONOTONIC nanoseconds at the event (sender's clock; the
 *            collector clamps it to [recv - HT_REC_MAX_SKEW_NS, recv])
 *   fields   per type, in the order given in the table below.
 * A channel end ("chan") is itself an array [kind, dev, ino]:
 *   HT_CHAN_PIPE  pipe or FIFO  — dev/ino of the inode (pipefs or the FIFO's fs)
 *   HT_CHAN_SOCK  socket        — dev 0, ino = socket inode (socket:[ino])
 *   HT_CHAN_PTY   pseudo-tty    — dev 0, ino = pty index N (/dev/pts/N);
 *                                 master and slave share the key.
 *   HT_CHAN_FIFO  named pipe    — dev/ino of the FIFO (reported by OPEN; a shim
 *                                 that cannot tell sends PIPE: the collector
 *                                 keys both by dev/ino, the kind is for display)
 * An address ("addr") is [family, bytes, port]: AF_INET 4 bytes, AF_INET6 16
 * bytes, AF_UNIX the sun_path bytes (abstract names keep their leading NUL),
 * port 0 for AF_UNIX.
 *
 *   type            fields
 *   BIRTH           creator_pid, fork_ts       (a fork child's first record;
 *                                               fork_ts 0 = unknown)
 *   IMAGE           ppid, exe, argv0          (constructor of every new image)
 *   EXEC            path                      (just before an exec* call)
 *   EXIT            status, lost              (lost = records this process
 *                                              could not send)
 *   PIPE            rfd, wfd, chan
 *   SOCKETPAIR      fd0, chan0, fd1, chan1
 *   CONNECT         fd, chan, sotype, dst addr (before the real connect)
 *   ACCEPT          fd, chan, listen_chan, sotype, local addr, peer addr
 *   PTY             master_fd, slave_fd, chan (slave_fd -1 if not opened)
 *   OPEN            fd, chan                  (FIFO / pty opened by path)
 *   FDRECV          fd, chan, via_chan        (received with SCM_RIGHTS)
 *   FDSEND          fd, chan, via_chan        (sent with SCM_RIGHTS; informational)
 *   CLOSE           fd
 *   DUP             oldfd, newfd              (newfd now refers to oldfd's file)
 *   SPAWN           child_pid, spawn_ts       (posix_spawn*, returned pid)
 *   CLOSERANGE      first, last               (closefrom / close_range)
 *   CONNFAIL        fd, chan, err             (that connect() failed: refused, timed
 *                                              out, unreachable — the connection never
 *                                              existed, so it is nobody's source)
 *   RESYNC          (none)                    (my fd table changed in ways no
 *                                              record told: daemon(), forkpty's
 *                                              child; the collector re-reads
 *                                              /proc/PID/fd)
 *
 * Compatibility: a decoder accepts records of its own version only; extra
 * trailing fields of a known type are ignored (so fields can be appended
 * without a version bump); anything else is rejected and counted.
 */
#ifndef HOPTRACE_RECORD_H
#define HOPTRACE_RECORD_H

#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stddef.h>

#define HT_REC_VERSION 1
#define HT_REC_MAX 640              /* largest datagram, bytes */
#define HT_REC_SOCKET "hoptrace/rec" /* abstract name, without the leading NUL */
/* The collector's doorbell: a SOCK_DGRAM socket named like the record socket
 * plus this suffix. The collector reads records in batches; a shim rings (one
 * empty datagram, content ignored, sender not trusted) right after the
 * CONNECT record of a TCP connection to another host, which the guard is
 * about to ask about, so the collector reads it at once. Ringing is only ever
 * a hint: any query drains the record socket first. The shim rings only the
 * doorbell's path under HT_RUN_DIR (below), never "\0hoptrace/rec.wake": a
 * datagram socket has no peer credentials, so a squatter of the abstract name
 * could not be told from the collector (the collector still binds it, for
 * older shims, and reports it squatted). */
#define HT_REC_BELL_SUFFIX ".wake"
/* Names nobody else can bind. Any local user can bind a free abstract name
 * first (issue 10): the shim sends records only to a peer whose SO_PEERCRED
 * uid is 0, and the collector, when an abstract name is taken, still serves
 * it at a path in this root-owned, 0755 directory, one per network namespace
 * (abstract names are per namespace, paths are not):
 *     HT_RUN_DIR "/" NAME-with-'/'-as-'_' SUFFIX "@" NETNS-INODE
 * e.g. /run/hoptrace/hoptrace_rec@4026531840 (records),
 * /run/hoptrace/hoptrace_rec.wake@4026531840 (the doorbell: always used),
 * /run/hoptrace/hoptrace_query@4026531840 (the guard's query socket). The
 * netns inode is stat("/proc/self/ns/net").st_ino. */
#define HT_RUN_DIR "/run/hoptrace"
#define HT_USERNS_INIT_INO 0xEFFFFFFDULL /* /proc/self/ns/user of the initial user ns */

/* Writes the path above into out (n bytes); returns its length, 0 if it does
 * not fit a sun_path. No libc beyond memcpy: the shim uses it. */
static inline size_t ht_run_path(char *out, size_t n, const char *name, const char *suffix,
				 uint64_t netns)
{
	static const char dir[] = HT_RUN_DIR "/";
	char num[24];
	size_t k = 0, d = sizeof(dir) - 1, nl = 0, sl = 0, i;
	while (name[nl])
		nl++;
	while (suffix[sl])
		sl++;
	do {
		num[k++] = (char)('0' + netns % 10);
		netns /= 10;
	} while (netns && k < sizeof(num));
	if (n > 108)
		n = 108;
	if (d + nl + sl + 1 + k + 1 > n)
		return 0;
	memcpy(out, dir, d);
	for (i = 0; i < nl; i++)
		out[d + i] = name[i] == '/' ? '_' : name[i];
	memcpy(out + d + nl, suffix, sl);
	out[d + nl + sl] = '@';
	for (i = 0; i < k; i++)
		out[d + nl + sl + 1 + i] = num[k - 1 - i];
	out[d + nl + sl + 1 + k] = 0;
	return d + nl + sl + 1 + k;
}
#define HT_REC_PATH_MAX 256          /* exe/argv0/path fields are truncated to this */
#define HT_REC_UNIX_MAX 108          /* sun_path */
#define HT_REC_MAX_SKEW_NS (10ULL * 1000000000ULL)

enum ht_rec_type {
	HT_REC_BIRTH = 1,
	HT_REC_IMAGE = 2,
	HT_REC_EXEC = 3,
	HT_REC_EXIT = 4,
	HT_REC_PIPE = 5,
	HT_REC_SOCKETPAIR = 6,
	HT_REC_CONNECT = 7,
	HT_REC_ACCEPT = 8,
	HT_REC_PTY = 9,
	HT_REC_OPEN = 10,
	HT_REC_FDRECV = 11,
	HT_REC_FDSEND = 12,
	HT_REC_CLOSE = 13,
	HT_REC_DUP = 14,
	HT_REC_SPAWN = 15,
	HT_REC_CLOSERANGE = 16,
	HT_REC_RESYNC = 17,
	HT_REC_CONNFAIL = 18,
	HT_REC__MAX
};

enum ht_chan_kind {
	HT_CHAN_NONE = 0,
	HT_CHAN_PIPE = 1,
	HT_CHAN_SOCK = 2,
	HT_CHAN_PTY = 3,
	HT_CHAN_FIFO = 4,
};

struct ht_chan {
	uint8_t kind;   /* enum ht_chan_kind */
	uint64_t dev;
	uint64_t ino;
};

struct ht_addr {
	uint16_t family;                 /* AF_INET, AF_INET6, AF_UNIX, 0 = none */
	uint16_t port;                   /* host order */
	uint8_t len;                     /* bytes used in a[] */
	uint8_t a[HT_REC_UNIX_MAX];
};

/* A decoded record. Strings point into the decoder's scratch (see
 * ht_record_decode); they are NUL-terminated and at most HT_REC_PATH_MAX. */
struct ht_record {
	uint8_t type;
	uint64_t ts;
	int32_t fd, fd2;        /* rfd/wfd, fd0/fd1, master/slave, old/new, first/last */
	int64_t num;            /* creator_pid, ppid, status, child_pid, sotype */
	int64_t num2;           /* lost (EXIT) */
	uint64_t ts2;           /* fork_ts, spawn_ts */
	struct ht_chan chan, chan2; /* chan, chan1 / listen_chan / via_chan */
	struct ht_addr addr, addr2; /* dst or local, peer */
	char str[HT_REC_PATH_MAX + 1];  /* exe / path */
	char str2[HT_REC_PATH_MAX + 1]; /* argv0 */
};

/* ------------------------------------------------------------------------
 * Encoder: writes msgpack into a caller buffer; never allocates, never fails
 * loudly. ht_enc.len == (size_t)-1 after an overflow: the caller drops it.
 */
struct ht_enc {
	uint8_t *buf;
	size_t cap, len;
};

static inline void ht_enc_init(struct ht_enc *e, void *buf, size_t cap)
{
	e->buf = (uint8_t *)buf;
	e->cap = cap;
	e->len = 0;
}

static inline void ht_enc_raw(struct ht_enc *e, const void *p, size_t n)
{
	if (e->len == (size_t)-1)
		return;
	if (n > e->cap - e->len) {
		e->len = (size_t)-1;
		return;
	}
	memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static inline void ht_enc_byte(struct ht_enc *e, uint8_t b)
{
	ht_enc_raw(e, &b, 1);
}

static inline void ht_enc_be(struct ht_enc *e, uint64_t v, int bytes)
{
	uint8_t b[8];
	for (int i = 0; i < bytes; i++)
		b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
	ht_enc_raw(e, b, (size_t)bytes);
}

/* msgpack uint, smallest form */
static inline void ht_enc_uint(struct ht_enc *e, uint64_t v)
{
	if (v < 128) {
		ht_enc_byte(e, (uint8_t)v);
	} else if (v <= 0xff) {
		ht_enc_byte(e, 0xcc);
		ht_enc_be(e, v, 1);
	} else if (v <= 0xffff) {
		ht_enc_byte(e, 0xcd);
		ht_enc_be(e, v, 2);
	} else if (v <= 0xffffffffULL) {
		ht_enc_byte(e, 0xce);
		ht_enc_be(e, v, 4);
	} else {
		ht_enc_byte(e, 0xcf);
		ht_enc_be(e, v, 8);
	}
}

/* msgpack int (negative values use int64) */
static inline void ht_enc_int(struct ht_enc *e, int64_t v)
{
	if (v >= 0) {
		ht_enc_uint(e, (uint64_t)v);
	} else if (v >= -32) {
		ht_enc_byte(e, (uint8_t)(int8_t)v);
	} else {
		ht_enc_byte(e, 0xd3);
		ht_enc_be(e, (uint64_t)v, 8);
	}
}

static inline void ht_enc_array(struct ht_enc *e, uint32_t n)
{
	if (n < 16) {
		ht_enc_byte(e, (uint8_t)(0x90 | n));
	} else {
		ht_enc_byte(e, 0xdc);
		ht_enc_be(e, n, 2);
	}
}

static inline void ht_enc_str(struct ht_enc *e, const char *s)
{
	size_t n = s ? strnlen(s, HT_REC_PATH_MAX) : 0;
	if (n > 255)
		n = 255; /* str8 holds at most 255 bytes */
	if (n < 32) {
		ht_enc_byte(e, (uint8_t)(0xa0 | n));
	} else {
		ht_enc_byte(e, 0xd9);
		ht_enc_be(e, n, 1);
	}
	ht_enc_raw(e, s, n);
}

static inline void ht_enc_bin(struct ht_enc *e, const void *p, size_t n)
{
	if (n > 255)
		n = 255;
	ht_enc_byte(e, 0xc4);
	ht_enc_be(e, n, 1);
	ht_enc_raw(e, p, n);
}

/* Starts a record of `nfields` type-specific fields. */
static inline void ht_enc_head(struct ht_enc *e, enum ht_rec_type t, uint64_t ts,
			       uint32_t nfields)
{
	ht_enc_array(e, 3 + nfields);
	ht_enc_uint(e, HT_REC_VERSION);
	ht_enc_uint(e, (uint64_t)t);
	ht_enc_uint(e, ts);
}

static inline void ht_enc_chan(struct ht_enc *e, const struct ht_chan *c)
{
	ht_enc_array(e, 3);
	ht_enc_uint(e, c->kind);
	ht_enc_uint(e, c->dev);
	ht_enc_uint(e, c->ino);
}

static inline void ht_enc_addr(struct ht_enc *e, const struct ht_addr *a)
{
	ht_enc_array(e, 3);
	ht_enc_uint(e, a->family);
	ht_enc_bin(e, a->a, a->len);
	ht_enc_uint(e, a->port);
}

/* Fills an ht_addr from a sockaddr; returns 0, or -1 for families we skip. */
static inline int ht_addr_from_sockaddr(struct ht_addr *out, const struct sockaddr *sa,
					socklen_t len)
{
	memset(out, 0, sizeof(*out));
	if (!sa || len < (socklen_t)sizeof(sa_family_t))
		return -1;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		out->family = AF_INET;
		out->port = ntohs(s4->sin_port);
		out->len = 4;
		memcpy(out->a, &s4->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		out->family = AF_INET6;
		out->port = ntohs(s6->sin6_port);
		out->len = 16;
		memcpy(out->a, &s6->sin6_addr, 16);
		return 0;
	}
	if (sa->sa_family == AF_UNIX) {
		const size_t off = offsetof(struct sockaddr_un, sun_path);
		const char *path = (const char *)sa + off;
		if ((size_t)len < off)
			return -1;
		size_t n = (size_t)len - off;
		if (n > HT_REC_UNIX_MAX)
			n = HT_REC_UNIX_MAX;
		/* a pathname socket: stop at its NUL; an abstract one keeps every byte */
		if (n > 0 && path[0] != '\0')
			n = strnlen(path, n);
		out->family = AF_UNIX;
		out->len = (uint8_t)n;
		memcpy(out->a, path, n);
		return 0;
	}
	return -1;
}

/* ------------------------------------------------------------------------
 * Decoder (common/record.c). Returns 0 and fills *r, or a negative
 * HT_RECERR_* code; never reads past buf[len]. `why` (optional) receives a
 * static string saying what was wrong.
 */
enum {
	HT_RECERR_TRUNCATED = -1,
	HT_RECERR_FORMAT = -2,
	HT_RECERR_VERSION = -3,
	HT_RECERR_TYPE = -4,
	HT_RECERR_RANGE = -5,
};
int ht_record_decode(const void *buf, size_t len, struct ht_record *r, const char **why);

/* Encodes r back into buf (used by tests and by tools that replay records).
 * Returns the length, or 0 if it did not fit. */
size_t ht_record_encode(const struct ht_record *r, void *buf, size_t cap);

const char *ht_rec_type_name(int type);
const char *ht_chan_kind_name(int kind);

#endif
