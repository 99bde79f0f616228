/*
 * record_test.c — the shim↔collector record codec: every type round-trips,
 * and truncated, oversized and hostile input is rejected without reading past
 * the buffer.
 */
#include <arpa/inet.h>
#include <stdlib.h>

#include "hoptrace/record.h"
#include "test.h"

static struct ht_record sample(int type)
{
	struct ht_record r;
	memset(&r, 0, sizeof(r));
	r.type = (uint8_t)type;
	r.ts = 123456789012345ULL;
	r.fd = 5;
	r.fd2 = 7;
	r.num = 4242;
	r.num2 = 3;
	r.ts2 = 123456789000000ULL;
	r.chan = (struct ht_chan){HT_CHAN_SOCK, 0, 99887766};
	r.chan2 = (struct ht_chan){HT_CHAN_SOCK, 0, 12345};
	r.addr.family = AF_INET;
	r.addr.len = 4;
	inet_pton(AF_INET, "10.0.0.3", r.addr.a);
	r.addr.port = 22;
	r.addr2.family = AF_INET;
	r.addr2.len = 4;
	inet_pton(AF_INET, "10.0.0.1", r.addr2.a);
	r.addr2.port = 51234;
	strcpy(r.str, "/usr/bin/ssh");
	strcpy(r.str2, "ssh");
	switch (type) {
	case HT_REC_PIPE:
		r.chan = (struct ht_chan){HT_CHAN_PIPE, 14, 5555};
		break;
	case HT_REC_PTY:
		r.chan = (struct ht_chan){HT_CHAN_PTY, 0, 3};
		r.fd2 = -1;
		break;
	case HT_REC_OPEN:
		r.chan = (struct ht_chan){HT_CHAN_FIFO, 2049, 777};
		break;
	}
	return r;
}

static void test_roundtrip_every_type(void)
{
	for (int t = 1; t < HT_REC__MAX; t++) {
		struct ht_record a = sample(t), b;
		uint8_t buf[HT_REC_MAX];
		const char *why = NULL;
		size_t n = ht_record_encode(&a, buf, sizeof(buf));
		CHECK(n > 0);
		int rc = ht_record_decode(buf, n, &b, &why);
		if (rc != 0)
			fprintf(stderr, "    type %s: %s\n", ht_rec_type_name(t), why);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(b.type, t);
		CHECK(b.ts == a.ts);
		switch (t) {
		case HT_REC_CONNECT:
			CHECK_EQ_INT(b.fd, 5);
			CHECK(b.chan.ino == 99887766);
			CHECK_EQ_INT(b.addr.port, 22);
			CHECK(memcmp(b.addr.a, a.addr.a, 4) == 0);
			break;
		case HT_REC_ACCEPT:
			CHECK(b.chan2.ino == 12345);
			CHECK_EQ_INT(b.addr2.port, 51234);
			break;
		case HT_REC_IMAGE:
			CHECK_EQ_STR(b.str, "/usr/bin/ssh");
			CHECK_EQ_STR(b.str2, "ssh");
			CHECK_EQ_INT(b.num, 4242);
			break;
		case HT_REC_PTY:
			CHECK_EQ_INT(b.fd2, -1);
			CHECK(b.chan.ino == 3);
			break;
		case HT_REC_EXIT:
			CHECK_EQ_INT(b.num2, 3);
			break;
		case HT_REC_BIRTH:
			CHECK_EQ_INT(b.num, 4242);
			CHECK(b.ts2 == a.ts2);
			break;
		}
	}
}

/* every strict prefix of every valid record is rejected */
static void test_truncated(void)
{
	for (int t = 1; t < HT_REC__MAX; t++) {
		struct ht_record a = sample(t), b;
		uint8_t buf[HT_REC_MAX];
		size_t n = ht_record_encode(&a, buf, sizeof(buf));
		for (size_t k = 0; k < n; k++) {
			/* a copy of exactly k bytes so ASan sees any over-read */
			uint8_t *cut = malloc(k ? k : 1);
			memcpy(cut, buf, k);
			const char *why = NULL;
			int rc = ht_record_decode(cut, k, &b, &why);
			free(cut);
			if (rc == 0 && t != HT_REC_EXIT) {
				fprintf(stderr, "    %s accepted at %zu/%zu bytes\n",
					ht_rec_type_name(t), k, n);
			}
			/* EXIT's second field is optional: a prefix ending after the
			 * first field is a valid shorter EXIT — but not if the header
			 * announces more fields than present */
			CHECK(rc != 0);
			CHECK(why != NULL);
		}
	}
}

static void test_hostile(void)
{
	struct ht_record b;
	const char *why;
	/* wrong version */
	uint8_t v2[] = {0x93, 0x02, 0x01, 0x00};
	CHECK_EQ_INT(ht_record_decode(v2, sizeof(v2), &b, &why), HT_RECERR_VERSION);
	/* unknown type */
	uint8_t t99[] = {0x93, 0x01, 0x63, 0x00};
	CHECK_EQ_INT(ht_record_decode(t99, sizeof(t99), &b, &why), HT_RECERR_TYPE);
	/* not an array */
	uint8_t m[] = {0x81, 0x01, 0x01};
	CHECK_EQ_INT(ht_record_decode(m, sizeof(m), &b, &why), HT_RECERR_FORMAT);
	/* huge array count with no data */
	uint8_t big[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
	CHECK(ht_record_decode(big, sizeof(big), &b, &why) != 0);
	/* string length beyond the buffer: IMAGE with str8 of 200 bytes, 3 present */
	uint8_t s[] = {0x96, 0x01, HT_REC_IMAGE, 0x00, 0x01, 0xd9, 200, 'a', 'b', 'c'};
	CHECK_EQ_INT(ht_record_decode(s, sizeof(s), &b, &why), HT_RECERR_TRUNCATED);
	/* NUL inside a path */
	uint8_t z[] = {0x96, 0x01, HT_REC_IMAGE, 0x00, 0x01, 0xa3, 'a', 0, 'c', 0xa0};
	CHECK_EQ_INT(ht_record_decode(z, sizeof(z), &b, &why), HT_RECERR_FORMAT);
	/* negative fd in CLOSE */
	uint8_t nf[] = {0x94, 0x01, HT_REC_CLOSE, 0x00, 0xff};
	CHECK_EQ_INT(ht_record_decode(nf, sizeof(nf), &b, &why), HT_RECERR_RANGE);
	/* creator pid 0 in BIRTH */
	uint8_t bp[] = {0x95, 0x01, HT_REC_BIRTH, 0x00, 0x00, 0x00};
	CHECK_EQ_INT(ht_record_decode(bp, sizeof(bp), &b, &why), HT_RECERR_RANGE);
	/* unknown channel kind */
	uint8_t ck[] = {0x95, 0x01, HT_REC_OPEN, 0x00, 0x03, 0x93, 0x09, 0x00, 0x01};
	CHECK_EQ_INT(ht_record_decode(ck, sizeof(ck), &b, &why), HT_RECERR_RANGE);
	/* IPv4 address of 5 bytes in CONNECT */
	uint8_t ad[] = {0x97, 0x01, HT_REC_CONNECT, 0x00, 0x03, 0x93, 0x02, 0x00, 0x07, 0x01,
			0x93, 0x02, 0xc4, 0x05, 1, 2, 3, 4, 5, 0x16};
	CHECK_EQ_INT(ht_record_decode(ad, sizeof(ad), &b, &why), HT_RECERR_FORMAT);
	/* oversized datagram */
	uint8_t *huge = calloc(1, HT_REC_MAX + 1);
	CHECK_EQ_INT(ht_record_decode(huge, HT_REC_MAX + 1, &b, &why), HT_RECERR_RANGE);
	free(huge);
	/* empty */
	CHECK(ht_record_decode("", 0, &b, &why) != 0);
}

/* deterministic garbage: never crashes, never accepts with an out-of-range fd */
static void test_random_garbage(void)
{
	uint32_t x = 12345;
	uint8_t buf[64];
	struct ht_record b;
	const char *why;
	for (int i = 0; i < 200000; i++) {
		size_t n = (x % 64) + 1;
		for (size_t k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			buf[k] = (uint8_t)(x >> 16);
		}
		buf[0] = 0x90 | (buf[0] & 0x0f);
		buf[1] = 0x01;
		if (ht_record_decode(buf, n, &b, &why) == 0) {
			CHECK(b.type > 0 && b.type < HT_REC__MAX);
		}
	}
}

static void test_encoder_overflow(void)
{
	struct ht_record a = sample(HT_REC_IMAGE);
	uint8_t small[8];
	memset(a.str, 'x', HT_REC_PATH_MAX);
	a.str[HT_REC_PATH_MAX] = 0;
	CHECK_EQ_INT(ht_record_encode(&a, small, sizeof(small)), 0);
}

static void test_sockaddr(void)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(22)};
	struct ht_addr a;
	inet_pton(AF_INET6, "fd00::1", &s6.sin6_addr);
	CHECK_EQ_INT(ht_addr_from_sockaddr(&a, (struct sockaddr *)&s6, sizeof(s6)), 0);
	CHECK_EQ_INT(a.len, 16);
	CHECK_EQ_INT(a.port, 22);
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	memcpy(su.sun_path, "\0abs", 4);
	CHECK_EQ_INT(ht_addr_from_sockaddr(&a, (struct sockaddr *)&su,
					   offsetof(struct sockaddr_un, sun_path) + 4), 0);
	CHECK_EQ_INT(a.len, 4);
	CHECK(ht_addr_from_sockaddr(&a, (struct sockaddr *)&su, 1) != 0);
}

T_MAIN("record", T(test_roundtrip_every_type), T(test_truncated), T(test_hostile),
       T(test_random_garbage), T(test_encoder_overflow), T(test_sockaddr))
