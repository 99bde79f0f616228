/* packet_test.c — guard/packet.c: IPv4, IPv6, options, truncation, bad
 * headers, other protocols, fragments. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "../../guard/packet.h"
#include "test.h"

/* Builds IPv4 (ihl words, IP options zero-filled) + TCP (doff words). */
static size_t mk4(uint8_t *b, int ihl, int doff, uint8_t proto, uint16_t frag)
{
	size_t hl = (size_t)ihl * 4, tl = (size_t)doff * 4, n = hl + tl;
	memset(b, 0, n);
	b[0] = (uint8_t)(0x40 | ihl);
	b[2] = (uint8_t)(n >> 8), b[3] = (uint8_t)n;
	b[6] = (uint8_t)(frag >> 8), b[7] = (uint8_t)frag;
	b[8] = 64, b[9] = proto;
	uint8_t s[4] = {10, 0, 0, 1}, d[4] = {10, 0, 0, 2};
	memcpy(b + 12, s, 4), memcpy(b + 16, d, 4);
	if (ihl > 5)
		b[20] = 1; /* NOP options */
	uint8_t *t = b + hl;
	t[0] = 0x9c, t[1] = 0x40; /* 40000 */
	t[2] = 0, t[3] = 22;
	t[4] = 0xde, t[5] = 0xad, t[6] = 0xbe, t[7] = 0xef;
	t[12] = (uint8_t)(doff << 4);
	t[13] = HT_TCP_SYN;
	if (doff > 5)
		t[20] = 2, t[21] = 4, t[22] = 0x05, t[23] = 0xb4; /* MSS */
	return n;
}

static void ipv4_syn(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	size_t n = mk4(b, 5, 5, 6, 0);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.family, AF_INET);
	CHECK_EQ_INT(p.sport, 40000);
	CHECK_EQ_INT(p.dport, 22);
	CHECK_EQ_INT(p.seq, 0xdeadbeefu);
	CHECK_EQ_INT(p.flags, HT_TCP_SYN);
	CHECK_EQ_INT(p.src[3], 1);
	CHECK_EQ_INT(p.dst[3], 2);
	CHECK_EQ_INT(p.l4off, 20);
}

static void ipv4_options(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	size_t n = mk4(b, 8, 10, 6, 0x4000 /* DF */);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.l4off, 32);
	CHECK_EQ_INT(p.dport, 22);
	/* trailing bytes past total length are ignored */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	uint8_t big[160];
	memcpy(big, b, n);
	memset(big + n, 0xff, sizeof(big) - n);
	CHECK_EQ_INT(ht_pkt_parse(big, sizeof(big), sizeof(big), &p), HT_PKT_OK);
}

static void ipv4_bad(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	size_t n = mk4(b, 5, 5, 6, 0);
	b[0] = 0x44; /* IHL 4 */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADHDR);
	n = mk4(b, 5, 5, 6, 0);
	b[0] = 0x4f; /* IHL 15 = 60 > 40 */
	b[2] = 0, b[3] = 60;
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_TRUNCATED);
	n = mk4(b, 5, 5, 6, 0);
	b[32] = 0x40; /* doff 4 */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADHDR);
	n = mk4(b, 5, 5, 6, 0);
	b[32] = 0xf0; /* doff 15 */
	b[2] = 0, b[3] = 100;
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_TRUNCATED);
	n = mk4(b, 5, 5, 6, 0);
	b[2] = 0, b[3] = 10; /* total < IHL */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADHDR);
	b[0] = 0x50;
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADVER);
	CHECK_EQ_INT(ht_pkt_parse(b, 0, 0, &p), HT_PKT_TRUNCATED);
	CHECK_EQ_INT(ht_pkt_parse(NULL, 10, 10, &p), HT_PKT_TRUNCATED);
}

static void ipv4_truncated(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	size_t n = mk4(b, 6, 6, 6, 0);
	for (size_t i = 0; i < n; i++)
		CHECK(ht_pkt_parse(b, i, i, &p) == HT_PKT_TRUNCATED);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
}

static void ipv4_not_tcp_and_fragments(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	size_t n = mk4(b, 5, 5, 17, 0);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_NOTTCP);
	n = mk4(b, 5, 5, 6, 0x0001); /* offset 8 bytes */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_FRAGMENT);
	n = mk4(b, 5, 5, 6, 0x2000); /* MF, offset 0: first fragment, header present */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	n = mk4(b, 5, 5, 6, 0x2000);
	b[2] = 0, b[3] = 28; /* first fragment with only 8 bytes of TCP */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_TRUNCATED);
}

/* IPv6 + ext headers (list of next-header values) + TCP (doff 5) */
static size_t mk6(uint8_t *b, const uint8_t *ext, int next, uint8_t last)
{
	memset(b, 0, 256);
	b[0] = 0x60;
	inet_pton(AF_INET6, "2001:db8::1", b + 8);
	inet_pton(AF_INET6, "2001:db8::2", b + 24);
	size_t off = 40;
	uint8_t *nhp = b + 6;
	for (int i = 0; i < next; i++) {
		*nhp = ext[i];
		nhp = b + off;
		if (ext[i] == 51) {
			b[off + 1] = 1; /* (1+2)*4 = 12 bytes */
			off += 12;
		} else if (ext[i] == 44) {
			off += 8;
		} else {
			b[off + 1] = 1; /* 16 bytes */
			off += 16;
		}
	}
	*nhp = last;
	uint8_t *t = b + off;
	t[0] = 0x30, t[1] = 0x39; /* 12345 */
	t[2] = 0x01, t[3] = 0xbb; /* 443 */
	t[7] = 7;
	t[12] = 0x50, t[13] = HT_TCP_SYN;
	off += 20;
	b[4] = (uint8_t)((off - 40) >> 8), b[5] = (uint8_t)(off - 40);
	return off;
}

static void ipv6_syn(void)
{
	uint8_t b[256];
	struct ht_pkt p;
	size_t n = mk6(b, NULL, 0, 6);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.family, AF_INET6);
	CHECK_EQ_INT(p.sport, 12345);
	CHECK_EQ_INT(p.dport, 443);
	CHECK_EQ_INT(p.seq, 7);
	CHECK_EQ_INT(p.dst[15], 2);
	CHECK_EQ_INT(p.l4off, 40);
}

static void ipv6_ext_headers(void)
{
	uint8_t b[256];
	struct ht_pkt p;
	uint8_t ext[] = {0, 60, 43, 44, 51};
	size_t n = mk6(b, ext, 5, 6);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.l4off, 40 + 16 * 3 + 8 + 12);
	CHECK_EQ_INT(p.dport, 443);
	for (size_t i = 0; i < n; i++) {
		b[4] = (uint8_t)((i < 40 ? 0 : i - 40) >> 8), b[5] = (uint8_t)(i < 40 ? 0 : i - 40);
		int r = ht_pkt_parse(b, i, i, &p);
		CHECK(r == HT_PKT_TRUNCATED || r == HT_PKT_BADHDR);
	}
}

static void ipv6_not_tcp_and_fragments(void)
{
	uint8_t b[256];
	struct ht_pkt p;
	size_t n = mk6(b, NULL, 0, 17);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_NOTTCP);
	n = mk6(b, NULL, 0, 59);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_NOTTCP);
	uint8_t fr[] = {44};
	n = mk6(b, fr, 1, 6);
	b[42] = 0, b[43] = 8; /* offset 1 */
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_FRAGMENT);
	uint8_t many[10] = {60, 60, 60, 60, 60, 60, 60, 60, 60, 60};
	n = mk6(b, many, 10, 6);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADHDR);
	n = mk6(b, NULL, 0, 6);
	b[4] = b[5] = 0;
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADHDR);
}

T_MAIN("packet", T(ipv4_syn), T(ipv4_options), T(ipv4_bad), T(ipv4_truncated),
       T(ipv4_not_tcp_and_fragments), T(ipv6_syn), T(ipv6_ext_headers),
       T(ipv6_not_tcp_and_fragments))
