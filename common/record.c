/*
 * record.c — decodes (and, for tests and replay tools, re-encodes) the shim's
 * records defined in include/hoptrace/record.h. The decoder is a small bounded
 * msgpack reader: it never reads past the buffer, rejects anything outside the
 * record grammar, and allocates nothing.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "hoptrace/record.h"

struct rd {
	const uint8_t *p, *end;
	const char *why;
};

#define FAIL(rd, code, msg)            \
	do {                           \
		(rd)->why = (msg);     \
		return (code);         \
	} while (0)

static int rd_be(struct rd *rd, int n, uint64_t *v)
{
	*v = 0;
	if (rd->end - rd->p < n)
		FAIL(rd, HT_RECERR_TRUNCATED, "truncated");
	uint64_t x = 0;
	for (int i = 0; i < n; i++)
		x = (x << 8) | rd->p[i];
	rd->p += n;
	*v = x;
	return 0;
}

static int rd_int(struct rd *rd, int64_t *out)
{
	uint64_t v;
	int rc;
	if (rd->p >= rd->end)
		FAIL(rd, HT_RECERR_TRUNCATED, "truncated");
	uint8_t b = *rd->p++;
	if (b <= 0x7f) {
		*out = b;
		return 0;
	}
	if (b >= 0xe0) {
		*out = (int8_t)b;
		return 0;
	}
	switch (b) {
	case 0xcc: rc = rd_be(rd, 1, &v); *out = (int64_t)v; return rc;
	case 0xcd: rc = rd_be(rd, 2, &v); *out = (int64_t)v; return rc;
	case 0xce: rc = rd_be(rd, 4, &v); *out = (int64_t)v; return rc;
	case 0xcf:
		rc = rd_be(rd, 8, &v);
		if (rc)
			return rc;
		if (v > INT64_MAX)
			FAIL(rd, HT_RECERR_RANGE, "integer out of range");
		*out = (int64_t)v;
		return 0;
	case 0xd0: rc = rd_be(rd, 1, &v); *out = (int8_t)v; return rc;
	case 0xd1: rc = rd_be(rd, 2, &v); *out = (int16_t)v; return rc;
	case 0xd2: rc = rd_be(rd, 4, &v); *out = (int32_t)v; return rc;
	case 0xd3: rc = rd_be(rd, 8, &v); *out = (int64_t)v; return rc;
	}
	FAIL(rd, HT_RECERR_FORMAT, "integer expected");
}

static int rd_uint(struct rd *rd, uint64_t *out)
{
	uint64_t v;
	if (rd->p < rd->end && *rd->p == 0xcf) {
		rd->p++;
		int rc = rd_be(rd, 8, &v);
		*out = v;
		return rc;
	}
	int64_t s;
	int rc = rd_int(rd, &s);
	if (rc)
		return rc;
	if (s < 0)
		FAIL(rd, HT_RECERR_RANGE, "negative value for an unsigned field");
	*out = (uint64_t)s;
	return 0;
}

static int rd_int32(struct rd *rd, int32_t *out, int64_t lo, int64_t hi)
{
	int64_t v;
	int rc = rd_int(rd, &v);
	if (rc)
		return rc;
	if (v < lo || v > hi)
		FAIL(rd, HT_RECERR_RANGE, "value out of range");
	*out = (int32_t)v;
	return 0;
}

static int rd_array(struct rd *rd, uint32_t *n)
{
	uint64_t v;
	if (rd->p >= rd->end)
		FAIL(rd, HT_RECERR_TRUNCATED, "truncated");
	uint8_t b = *rd->p++;
	if ((b & 0xf0) == 0x90) {
		*n = b & 0x0f;
		return 0;
	}
	if (b == 0xdc) {
		int rc = rd_be(rd, 2, &v);
		*n = (uint32_t)v;
		return rc;
	}
	if (b == 0xdd) {
		int rc = rd_be(rd, 4, &v);
		*n = (uint32_t)v;
		return rc;
	}
	FAIL(rd, HT_RECERR_FORMAT, "array expected");
}

/* str or bin: returns a pointer into the buffer and its length */
static int rd_bytes(struct rd *rd, const uint8_t **ptr, size_t *len, int want_str)
{
	uint64_t n;
	int rc;
	if (rd->p >= rd->end)
		FAIL(rd, HT_RECERR_TRUNCATED, "truncated");
	uint8_t b = *rd->p++;
	if (want_str && (b & 0xe0) == 0xa0) {
		n = b & 0x1f;
	} else if (want_str && (b == 0xd9 || b == 0xda)) {
		if ((rc = rd_be(rd, b == 0xd9 ? 1 : 2, &n)))
			return rc;
	} else if (!want_str && (b == 0xc4 || b == 0xc5)) {
		if ((rc = rd_be(rd, b == 0xc4 ? 1 : 2, &n)))
			return rc;
	} else {
		FAIL(rd, HT_RECERR_FORMAT, want_str ? "string expected" : "bytes expected");
	}
	if ((uint64_t)(rd->end - rd->p) < n)
		FAIL(rd, HT_RECERR_TRUNCATED, "truncated");
	*ptr = rd->p;
	*len = (size_t)n;
	rd->p += n;
	return 0;
}

static int rd_str(struct rd *rd, char *out, size_t cap)
{
	const uint8_t *s;
	size_t n;
	int rc = rd_bytes(rd, &s, &n, 1);
	if (rc)
		return rc;
	if (n > cap - 1)
		FAIL(rd, HT_RECERR_RANGE, "string too long");
	if (memchr(s, 0, n))
		FAIL(rd, HT_RECERR_FORMAT, "NUL inside a string");
	memcpy(out, s, n);
	out[n] = 0;
	return 0;
}

static int rd_chan(struct rd *rd, struct ht_chan *c)
{
	uint32_t n;
	uint64_t kind;
	int rc;
	if ((rc = rd_array(rd, &n)))
		return rc;
	if (n != 3)
		FAIL(rd, HT_RECERR_FORMAT, "channel must be [kind, dev, ino]");
	if ((rc = rd_uint(rd, &kind)) || (rc = rd_uint(rd, &c->dev)) || (rc = rd_uint(rd, &c->ino)))
		return rc;
	if (kind < HT_CHAN_PIPE || kind > HT_CHAN_FIFO)
		FAIL(rd, HT_RECERR_RANGE, "unknown channel kind");
	c->kind = (uint8_t)kind;
	return 0;
}

static int rd_addr(struct rd *rd, struct ht_addr *a)
{
	uint32_t n;
	uint64_t fam, port;
	const uint8_t *b;
	size_t len;
	int rc;
	if ((rc = rd_array(rd, &n)))
		return rc;
	if (n != 3)
		FAIL(rd, HT_RECERR_FORMAT, "address must be [family, bytes, port]");
	if ((rc = rd_uint(rd, &fam)) || (rc = rd_bytes(rd, &b, &len, 0)) ||
	    (rc = rd_uint(rd, &port)))
		return rc;
	memset(a, 0, sizeof(*a));
	if (port > 65535)
		FAIL(rd, HT_RECERR_RANGE, "port out of range");
	switch (fam) {
	case AF_INET:
		if (len != 4)
			FAIL(rd, HT_RECERR_FORMAT, "IPv4 address must be 4 bytes");
		break;
	case AF_INET6:
		if (len != 16)
			FAIL(rd, HT_RECERR_FORMAT, "IPv6 address must be 16 bytes");
		break;
	case AF_UNIX:
		if (len > HT_REC_UNIX_MAX || port)
			FAIL(rd, HT_RECERR_FORMAT, "bad unix address");
		break;
	case 0:
		if (len)
			FAIL(rd, HT_RECERR_FORMAT, "bad empty address");
		break;
	default:
		FAIL(rd, HT_RECERR_RANGE, "unknown address family");
	}
	a->family = (uint16_t)fam;
	a->port = (uint16_t)port;
	a->len = (uint8_t)len;
	memcpy(a->a, b, len);
	return 0;
}

/* number of type-specific fields each type needs (decoder accepts more) */
static const uint8_t nfields[HT_REC__MAX] = {
	[HT_REC_BIRTH] = 2, [HT_REC_IMAGE] = 3, [HT_REC_EXEC] = 1, [HT_REC_EXIT] = 1,
	[HT_REC_PIPE] = 3, [HT_REC_SOCKETPAIR] = 4, [HT_REC_CONNECT] = 4,
	[HT_REC_ACCEPT] = 6, [HT_REC_PTY] = 3, [HT_REC_OPEN] = 2, [HT_REC_FDRECV] = 3,
	[HT_REC_FDSEND] = 3, [HT_REC_CLOSE] = 1, [HT_REC_DUP] = 2, [HT_REC_SPAWN] = 2,
	[HT_REC_CLOSERANGE] = 2, [HT_REC_RESYNC] = 0, [HT_REC_CONNFAIL] = 3,
};

#define FD_MAX_ 0x7fffffff
#define PID_MAX_ 0x7fffffff

/* Longer than 80 lines on purpose: the header, then one switch with a case
 * per record type in record.h's table order, each a few bounded field reads —
 * read top to bottom it is the grammar; split per type it was not faster and
 * harder to check against the table (fuzz_record drives every case). */
int ht_record_decode(const void *buf, size_t len, struct ht_record *r, const char **why)
{
	struct rd rd = {.p = buf, .end = (const uint8_t *)buf + len, .why = NULL};
	uint32_t n;
	int64_t ver, type;
	int rc;

	memset(r, 0, sizeof(*r));
	r->fd = r->fd2 = -1;
	if (len > HT_REC_MAX) {
		rd.why = "record too large";
		rc = HT_RECERR_RANGE;
		goto out;
	}
	if ((rc = rd_array(&rd, &n)))
		goto out;
	if (n < 3) {
		rd.why = "record too short";
		rc = HT_RECERR_FORMAT;
		goto out;
	}
	if ((rc = rd_int(&rd, &ver)))
		goto out;
	if (ver != HT_REC_VERSION) {
		rd.why = "unsupported record version";
		rc = HT_RECERR_VERSION;
		goto out;
	}
	if ((rc = rd_int(&rd, &type)) || (rc = rd_uint(&rd, &r->ts)))
		goto out;
	if (type <= 0 || type >= HT_REC__MAX) {
		rd.why = "unknown record type";
		rc = HT_RECERR_TYPE;
		goto out;
	}
	r->type = (uint8_t)type;
	if (n - 3 < nfields[type]) {
		rd.why = "missing fields";
		rc = HT_RECERR_FORMAT;
		goto out;
	}

	switch (type) {
	case HT_REC_BIRTH:
		if ((rc = rd_int(&rd, &r->num)) || (rc = rd_uint(&rd, &r->ts2)))
			goto out;
		if (r->num <= 0 || r->num > PID_MAX_) {
			rd.why = "bad creator pid";
			rc = HT_RECERR_RANGE;
		}
		break;
	case HT_REC_IMAGE:
		if ((rc = rd_int(&rd, &r->num)) || (rc = rd_str(&rd, r->str, sizeof(r->str))) ||
		    (rc = rd_str(&rd, r->str2, sizeof(r->str2))))
			goto out;
		if (r->num < 0 || r->num > PID_MAX_) {
			rd.why = "bad parent pid";
			rc = HT_RECERR_RANGE;
		}
		break;
	case HT_REC_EXEC:
		rc = rd_str(&rd, r->str, sizeof(r->str));
		break;
	case HT_REC_EXIT:
		if ((rc = rd_int(&rd, &r->num)))
			goto out;
		if (n - 3 >= 2)
			rc = rd_int(&rd, &r->num2);
		break;
	case HT_REC_PIPE:
	case HT_REC_PTY:
		if ((rc = rd_int32(&rd, &r->fd, type == HT_REC_PTY ? 0 : 0, FD_MAX_)) ||
		    (rc = rd_int32(&rd, &r->fd2, type == HT_REC_PTY ? -1 : 0, FD_MAX_)) ||
		    (rc = rd_chan(&rd, &r->chan)))
			goto out;
		if (type == HT_REC_PTY && r->chan.kind != HT_CHAN_PTY) {
			rd.why = "PTY record with a non-pty channel";
			rc = HT_RECERR_FORMAT;
		}
		if (type == HT_REC_PIPE && r->chan.kind != HT_CHAN_PIPE) {
			rd.why = "PIPE record with a non-pipe channel";
			rc = HT_RECERR_FORMAT;
		}
		break;
	case HT_REC_SOCKETPAIR:
		if ((rc = rd_int32(&rd, &r->fd, 0, FD_MAX_)) || (rc = rd_chan(&rd, &r->chan)) ||
		    (rc = rd_int32(&rd, &r->fd2, 0, FD_MAX_)) || (rc = rd_chan(&rd, &r->chan2)))
			goto out;
		if (r->chan.kind != HT_CHAN_SOCK || r->chan2.kind != HT_CHAN_SOCK) {
			rd.why = "SOCKETPAIR needs socket channels";
			rc = HT_RECERR_FORMAT;
		}
		break;
	case HT_REC_CONNECT:
		if ((rc = rd_int32(&rd, &r->fd, 0, FD_MAX_)) || (rc = rd_chan(&rd, &r->chan)) ||
		    (rc = rd_int(&rd, &r->num)) || (rc = rd_addr(&rd, &r->addr)))
			goto out;
		if (r->chan.kind != HT_CHAN_SOCK) {
			rd.why = "CONNECT needs a socket channel";
			rc = HT_RECERR_FORMAT;
		}
		break;
	case HT_REC_ACCEPT:
		if ((rc = rd_int32(&rd, &r->fd, 0, FD_MAX_)) || (rc = rd_chan(&rd, &r->chan)) ||
		    (rc = rd_chan(&rd, &r->chan2)) || (rc = rd_int(&rd, &r->num)) ||
		    (rc = rd_addr(&rd, &r->addr)) || (rc = rd_addr(&rd, &r->addr2)))
			goto out;
		if (r->chan.kind != HT_CHAN_SOCK || r->chan2.kind != HT_CHAN_SOCK) {
			rd.why = "ACCEPT needs socket channels";
			rc = HT_RECERR_FORMAT;
		}
		break;
	case HT_REC_OPEN:
		if ((rc = rd_int32(&rd, &r->fd, 0, FD_MAX_)) || (rc = rd_chan(&rd, &r->chan)))
			goto out;
		break;
	case HT_REC_FDRECV:
	case HT_REC_FDSEND:
		if ((rc = rd_int32(&rd, &r->fd, 0, FD_MAX_)) || (rc = rd_chan(&rd, &r->chan)) ||
		    (rc = rd_chan(&rd, &r->chan2)))
			goto out;
		break;
	case HT_REC_CLOSE:
		rc = rd_int32(&rd, &r->fd, 0, FD_MAX_);
		break;
	case HT_REC_DUP:
	case HT_REC_CLOSERANGE:
		if ((rc = rd_int32(&rd, &r->fd, 0, FD_MAX_)) ||
		    (rc = rd_int32(&rd, &r->fd2, 0, FD_MAX_)))
			goto out;
		if (type == HT_REC_CLOSERANGE && r->fd2 < r->fd) {
			rd.why = "empty close range";
			rc = HT_RECERR_RANGE;
		}
		break;
	case HT_REC_SPAWN:
		if ((rc = rd_int(&rd, &r->num)) || (rc = rd_uint(&rd, &r->ts2)))
			goto out;
		if (r->num <= 0 || r->num > PID_MAX_) {
			rd.why = "bad child pid";
			rc = HT_RECERR_RANGE;
		}
		break;
	case HT_REC_RESYNC:
		break;
	case HT_REC_CONNFAIL:
		if ((rc = rd_int32(&rd, &r->fd, 0, FD_MAX_)) || (rc = rd_chan(&rd, &r->chan)) ||
		    (rc = rd_int(&rd, &r->num)))
			goto out;
		if (r->chan.kind != HT_CHAN_SOCK) {
			rd.why = "CONNFAIL needs a socket channel";
			rc = HT_RECERR_FORMAT;
		}
		break;
	}
out:
	if (why)
		*why = rc ? (rd.why ? rd.why : "malformed") : NULL;
	return rc;
}

size_t ht_record_encode(const struct ht_record *r, void *buf, size_t cap)
{
	struct ht_enc e;
	ht_enc_init(&e, buf, cap);
	if (r->type <= 0 || r->type >= HT_REC__MAX)
		return 0;
	ht_enc_head(&e, r->type, r->ts, nfields[r->type] + (r->type == HT_REC_EXIT));
	switch (r->type) {
	case HT_REC_BIRTH:
	case HT_REC_SPAWN:
		ht_enc_int(&e, r->num);
		ht_enc_uint(&e, r->ts2);
		break;
	case HT_REC_IMAGE:
		ht_enc_int(&e, r->num);
		ht_enc_str(&e, r->str);
		ht_enc_str(&e, r->str2);
		break;
	case HT_REC_EXEC:
		ht_enc_str(&e, r->str);
		break;
	case HT_REC_EXIT:
		ht_enc_int(&e, r->num);
		ht_enc_int(&e, r->num2);
		break;
	case HT_REC_PIPE:
	case HT_REC_PTY:
		ht_enc_int(&e, r->fd);
		ht_enc_int(&e, r->fd2);
		ht_enc_chan(&e, &r->chan);
		break;
	case HT_REC_SOCKETPAIR:
		ht_enc_int(&e, r->fd);
		ht_enc_chan(&e, &r->chan);
		ht_enc_int(&e, r->fd2);
		ht_enc_chan(&e, &r->chan2);
		break;
	case HT_REC_CONNECT:
		ht_enc_int(&e, r->fd);
		ht_enc_chan(&e, &r->chan);
		ht_enc_int(&e, r->num);
		ht_enc_addr(&e, &r->addr);
		break;
	case HT_REC_ACCEPT:
		ht_enc_int(&e, r->fd);
		ht_enc_chan(&e, &r->chan);
		ht_enc_chan(&e, &r->chan2);
		ht_enc_int(&e, r->num);
		ht_enc_addr(&e, &r->addr);
		ht_enc_addr(&e, &r->addr2);
		break;
	case HT_REC_OPEN:
		ht_enc_int(&e, r->fd);
		ht_enc_chan(&e, &r->chan);
		break;
	case HT_REC_FDRECV:
	case HT_REC_FDSEND:
		ht_enc_int(&e, r->fd);
		ht_enc_chan(&e, &r->chan);
		ht_enc_chan(&e, &r->chan2);
		break;
	case HT_REC_CLOSE:
		ht_enc_int(&e, r->fd);
		break;
	case HT_REC_DUP:
	case HT_REC_CLOSERANGE:
		ht_enc_int(&e, r->fd);
		ht_enc_int(&e, r->fd2);
		break;
	case HT_REC_RESYNC:
		break;
	case HT_REC_CONNFAIL:
		ht_enc_int(&e, r->fd);
		ht_enc_chan(&e, &r->chan);
		ht_enc_int(&e, r->num);
		break;
	}
	return e.len == (size_t)-1 ? 0 : e.len;
}

const char *ht_rec_type_name(int type)
{
	static const char *const names[HT_REC__MAX] = {
		[HT_REC_BIRTH] = "birth", [HT_REC_IMAGE] = "image", [HT_REC_EXEC] = "exec",
		[HT_REC_EXIT] = "exit", [HT_REC_PIPE] = "pipe", [HT_REC_SOCKETPAIR] = "socketpair",
		[HT_REC_CONNECT] = "connect", [HT_REC_ACCEPT] = "accept", [HT_REC_PTY] = "pty",
		[HT_REC_OPEN] = "open", [HT_REC_FDRECV] = "fdrecv", [HT_REC_FDSEND] = "fdsend",
		[HT_REC_CLOSE] = "close", [HT_REC_DUP] = "dup", [HT_REC_SPAWN] = "spawn",
		[HT_REC_CLOSERANGE] = "closerange", [HT_REC_RESYNC] = "resync",
		[HT_REC_CONNFAIL] = "connfail",
	};
	return type > 0 && type < HT_REC__MAX ? names[type] : "unknown";
}

const char *ht_chan_kind_name(int kind)
{
	switch (kind) {
	case HT_CHAN_PIPE: return "pipe";
	case HT_CHAN_SOCK: return "socket";
	case HT_CHAN_PTY: return "pty";
	case HT_CHAN_FIFO: return "fifo";
	}
	return "none";
}
