/* packet_test.c — guard/packet.c: IPv4, IPv6, options, truncation, bad
 * headers, other protocols, fragments; a copy shorter than the packet (data
 * in the SYN), source routes (LSRR/SSRR, routing header type 0/2, segment
 * routing), malformed options and routing headers, long extension headers. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
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

/* ---- headers only: a copy shorter than the packet ----------------------- */

static void ipv4_payload_beyond_copy(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	size_t n = mk4(b, 5, 10, 6, 0); /* 20 + 40 (TCP options) */
	/* 600 bytes of Fast Open data: the packet is 660, 60 were copied */
	b[2] = (uint8_t)(660 >> 8), b[3] = (uint8_t)(660 & 0xff);
	CHECK_EQ_INT(ht_pkt_parse(b, n, 660, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.len, 660);
	CHECK_EQ_INT(p.hdrlen, 60);
	CHECK_EQ_INT(p.dport, 22);
	/* the copy must hold the headers whole */
	CHECK_EQ_INT(ht_pkt_parse(b, n - 1, 660, &p), HT_PKT_TRUNCATED);
	CHECK_EQ_INT(p.have, 2); /* ports read, options cut */
	CHECK_EQ_INT(ht_pkt_parse(b, 30, 660, &p), HT_PKT_TRUNCATED);
	CHECK_EQ_INT(p.have, 1); /* addresses read */
	CHECK_EQ_INT(p.dst[3], 2);
	/* the real packet shorter than its header says */
	CHECK_EQ_INT(ht_pkt_parse(b, n, 659, &p), HT_PKT_TRUNCATED);
	/* pktlen < caplen: taken as caplen (the header's 660 > 60 given) */
	CHECK_EQ_INT(ht_pkt_parse(b, n, 10, &p), HT_PKT_TRUNCATED);
	/* a TCP header longer than the packet */
	n = mk4(b, 5, 5, 6, 0);
	b[32] = 0xf0; /* doff 15 = 60 bytes; total 40 */
	CHECK_EQ_INT(ht_pkt_parse(b, 128, 128, &p), HT_PKT_TRUNCATED);
}

/* IPv4 with options opt[0..olen) (padded to 4 with END) + TCP doff 5;
 * header destination 10.0.0.2 */
static size_t mk4opt(uint8_t *b, const uint8_t *opt, size_t olen)
{
	size_t ol4 = (olen + 3) / 4 * 4;
	uint8_t tmp[128];
	size_t n = mk4(tmp, 5 + (int)(ol4 / 4), 5, 6, 0);
	memcpy(b, tmp, n);
	memset(b + 20, 0, ol4);
	memcpy(b + 20, opt, olen);
	return n;
}

static void ipv4_option_walk(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	/* 40 bytes: NOP + record route with 9 slots (what IP_OPTIONS allows) */
	uint8_t rr[40] = {1, 7, 39, 4};
	size_t n = mk4opt(b, rr, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.l4off, 60);
	CHECK_EQ_INT(p.srcroute, HT_SRCRT_NONE);
	CHECK_EQ_INT(p.dst[3], 2);
	CHECK(!memcmp(p.dst, p.hop, 4));
	/* timestamp, NOPs, END then garbage (ignored after END) */
	uint8_t ts[12] = {1, 1, 0x44, 8, 5, 0, 0, 0, 0, 0, 0, 0x83};
	n = mk4opt(b, ts, 12);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
}

static void ipv4_source_routes(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	/* NOP, LSRR len 11 ptr 4 [10.9.9.9, 10.7.7.7 (the socket's)] */
	uint8_t lsrr[12] = {1, 0x83, 11, 4, 10, 9, 9, 9, 10, 7, 7, 7};
	size_t n = mk4opt(b, lsrr, 12);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.srcroute, HT_SRCRT_LSRR);
	CHECK_EQ_INT(p.dst[0], 10);
	CHECK_EQ_INT(p.dst[1], 7);
	CHECK_EQ_INT(p.dst[3], 7);
	CHECK_EQ_INT(p.hop[1], 0);
	CHECK_EQ_INT(p.hop[3], 2); /* 10.0.0.2, the first hop */
	/* the route still to visit: 10.9.9.9 then 10.7.7.7 */
	CHECK_EQ_INT(p.route_n, 2);
	CHECK_EQ_INT(b[p.route_off + 1], 9);
	CHECK_EQ_INT(ht_pkt_detour(&p, b), 1);
	/* a bad pointer */
	lsrr[3] = 5;
	n = mk4opt(b, lsrr, 12);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	lsrr[3] = 16;
	n = mk4opt(b, lsrr, 12);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	/* the final one is the last slot whatever the pointer says */
	lsrr[3] = 12;
	n = mk4opt(b, lsrr, 12);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.dst[1], 7);
	CHECK_EQ_INT(p.route_n, 0); /* nothing left to visit but the header's */
	/* strict, one address */
	uint8_t ssrr[8] = {0x89, 7, 4, 10, 6, 6, 6, 0};
	n = mk4opt(b, ssrr, 8);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.srcroute, HT_SRCRT_SSRR);
	CHECK_EQ_INT(p.dst[1], 6);
}

static void ipv4_bad_options(void)
{
	uint8_t b[128];
	struct ht_pkt p;
	size_t n;
	uint8_t len1[4] = {0x44, 1, 0, 0}; /* option length < 2 */
	n = mk4opt(b, len1, 4);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	uint8_t past[4] = {1, 0x07, 9, 4}; /* longer than the header */
	n = mk4opt(b, past, 4);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	uint8_t nolen[4] = {1, 1, 1, 0x83}; /* type in the last byte, no length */
	n = mk4opt(b, nolen, 4);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	/* an LSRR of length 2 in the header's last two bytes, the copy ending with the
	 * header: its pointer byte (past the header) is not read — fuzz_packet found
	 * the read under ASan (CI on 98742ab) */
	uint8_t l2[4] = {1, 1, 0x83, 2};
	n = mk4opt(b, l2, 4);
	uint8_t *hdr = malloc(24);
	memcpy(hdr, b, 24);
	CHECK_EQ_INT(ht_pkt_parse(hdr, 24, n, &p), HT_PKT_BADOPT);
	free(hdr);
	uint8_t short_srr[8] = {0x83, 6, 4, 10, 1, 1, 0, 0}; /* < one address */
	n = mk4opt(b, short_srr, 8);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	uint8_t ragged[12] = {0x83, 9, 4, 10, 1, 1, 1, 10, 2, 0, 0, 0}; /* not whole addresses */
	n = mk4opt(b, ragged, 12);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	uint8_t two[16] = {0x83, 7, 4, 10, 1, 1, 1, 0x89, 7, 4, 10, 2, 2, 2, 0, 0};
	n = mk4opt(b, two, 16);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	CHECK_EQ_INT(p.have, 1);
	CHECK_EQ_INT(p.dst[3], 2); /* addresses of what was read, for the audit line */
}

/* ---- IPv6 routing headers ------------------------------------------------- */

/* IPv6 (dst 2001:db8::2) + a routing header of hl bytes (type, left,
 * last_entry, addresses a[0..na) each 2001:db8::a[i]) + TCP doff 5 */
static size_t mk6rt(uint8_t *b, uint8_t type, uint8_t left, uint8_t last, const uint8_t *a,
		    size_t na, size_t hl)
{
	memset(b, 0, 40 + hl + 20);
	b[0] = 0x60;
	inet_pton(AF_INET6, "2001:db8::1", b + 8);
	inet_pton(AF_INET6, "2001:db8::2", b + 24);
	b[6] = 43;
	uint8_t *h = b + 40;
	h[0] = 6, h[1] = (uint8_t)(hl / 8 - 1), h[2] = type, h[3] = left, h[4] = last;
	for (size_t i = 0; i < na && 8 + 16 * i + 16 <= hl; i++) {
		inet_pton(AF_INET6, "2001:db8::", h + 8 + 16 * i);
		h[8 + 16 * i + 15] = a[i];
	}
	uint8_t *t = h + hl;
	t[2] = 0x01, t[3] = 0xbb; /* 443 */
	t[12] = 0x50, t[13] = HT_TCP_SYN;
	size_t n = 40 + hl + 20;
	b[4] = (uint8_t)((n - 40) >> 8), b[5] = (uint8_t)(n - 40);
	return n;
}

static void ipv6_segment_routing(void)
{
	uint8_t b[512];
	struct ht_pkt p;
	uint8_t seg[2] = {0x77, 2}; /* segments[0] the socket's, [1] the first hop */
	size_t n = mk6rt(b, 4, 1, 1, seg, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.srcroute, HT_SRCRT_SRH);
	CHECK_EQ_INT(p.dst[15], 0x77);
	CHECK_EQ_INT(p.hop[15], 2);
	CHECK_EQ_INT(p.dport, 443);
	CHECK_EQ_INT(p.route_n, 1); /* then segments[0] */
	CHECK_EQ_INT(b[p.route_off + 15], 0x77);
	CHECK_EQ_INT(ht_pkt_detour(&p, b), 1);
	/* segments_left 0: still segments[0] (the kernel sends such a packet
	 * to the user's segments[0], with the socket's in the header), which
	 * the packet never visits */
	n = mk6rt(b, 4, 0, 1, seg, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.dst[15], 0x77);
	CHECK_EQ_INT(p.route_n, 0);
	CHECK_EQ_INT(ht_pkt_detour(&p, b), 1);
	/* every segment the socket's, header too: no detour */
	uint8_t same[3] = {2, 2, 2};
	n = mk6rt(b, 4, 2, 2, same, 3, 56);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.route_n, 2);
	CHECK_EQ_INT(ht_pkt_detour(&p, b), 0);
	/* segments_left past last_entry */
	n = mk6rt(b, 4, 3, 1, seg, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	/* malformed: no room for a segment, last_entry past the header */
	n = mk6rt(b, 4, 1, 0, seg, 1, 16);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	n = mk6rt(b, 4, 1, 2, seg, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	/* a header cut short in the copy */
	n = mk6rt(b, 4, 1, 1, seg, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, 70, n, &p), HT_PKT_TRUNCATED);
}

static void ipv6_rthdr_types(void)
{
	uint8_t b[512];
	struct ht_pkt p;
	uint8_t a[2] = {9, 0x55};
	/* type 2 / type 0: the last address is the final one */
	size_t n = mk6rt(b, 2, 1, 0, a + 1, 1, 24);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.srcroute, HT_SRCRT_RTHDR0);
	CHECK_EQ_INT(p.dst[15], 0x55);
	n = mk6rt(b, 0, 2, 0, a, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.dst[15], 0x55);
	CHECK_EQ_INT(p.route_n, 2);
	CHECK_EQ_INT(b[p.route_off + 15], 9);
	/* segments_left 1: only the last address still to visit */
	n = mk6rt(b, 0, 1, 0, a, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.route_n, 1);
	CHECK_EQ_INT(b[p.route_off + 15], 0x55);
	/* more left than there are addresses */
	n = mk6rt(b, 0, 3, 0, a, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	/* an odd hdrlen cannot hold whole addresses */
	n = mk6rt(b, 0, 1, 0, a, 1, 16);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
	/* unknown type (RPL, 3) still routing: its final address is unknown */
	n = mk6rt(b, 3, 1, 0, a, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_RTHDR);
	/* ... and with segments_left 0 ignored (RFC 8200): the header's dst */
	n = mk6rt(b, 3, 0, 0, a, 2, 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.srcroute, HT_SRCRT_NONE);
	CHECK_EQ_INT(p.dst[15], 2);
	/* two routing headers */
	n = mk6rt(b, 4, 1, 1, a, 2, 40);
	memmove(b + 80, b + 40, n - 40);
	memcpy(b + 40, b + 80, 40);
	b[40] = 43;
	n += 40;
	b[4] = (uint8_t)((n - 40) >> 8), b[5] = (uint8_t)(n - 40);
	CHECK_EQ_INT(ht_pkt_parse(b, n, n, &p), HT_PKT_BADOPT);
}

/* The longest chain the kernel builds: hop-by-hop, destination options,
 * routing header, destination options, 2048 bytes each, + TCP doff 15 and
 * data beyond the copy. */
static void ipv6_long_chain(void)
{
	static uint8_t b[40 + 4 * 2048 + 60 + 600];
	struct ht_pkt p;
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	inet_pton(AF_INET6, "2001:db8::1", b + 8);
	inet_pton(AF_INET6, "2001:db8::2", b + 24);
	b[6] = 0;
	static const uint8_t nh[4] = {60, 43, 60, 6};
	for (int i = 0; i < 4; i++) {
		uint8_t *h = b + 40 + 2048 * i;
		h[0] = nh[i], h[1] = 255;
		if (i == 2) { /* the routing header (the third) */
			h[2] = 4, h[3] = 0, h[4] = 126;
			inet_pton(AF_INET6, "2001:db8::99", h + 8);
		}
	}
	uint8_t *t = b + 40 + 4 * 2048;
	t[2] = 0x01, t[3] = 0xbb, t[12] = 0xf0, t[13] = HT_TCP_SYN;
	size_t pkt = sizeof(b), hdrs = 40 + 4 * 2048 + 60;
	b[4] = (uint8_t)((pkt - 40) >> 8), b[5] = (uint8_t)(pkt - 40);
	CHECK(hdrs <= 8320); /* guard/nfqueue.h NFQUEUE_COPY_RANGE */
	CHECK_EQ_INT(ht_pkt_parse(b, 8320, pkt, &p), HT_PKT_OK);
	CHECK_EQ_INT(p.hdrlen, hdrs);
	CHECK_EQ_INT(p.dst[15], 0x99);
	CHECK_EQ_INT(p.dport, 443);
	for (size_t cut = 40; cut < hdrs; cut += 97)
		CHECK_EQ_INT(ht_pkt_parse(b, cut, pkt, &p), HT_PKT_TRUNCATED);
	CHECK_EQ_INT(ht_pkt_parse(b, hdrs - 1, pkt, &p), HT_PKT_TRUNCATED);
	CHECK_EQ_INT(ht_pkt_parse(b, hdrs, pkt, &p), HT_PKT_OK);
	/* payload length larger than the packet */
	CHECK_EQ_INT(ht_pkt_parse(b, 8320, pkt - 1, &p), HT_PKT_TRUNCATED);
	CHECK(!strcmp(ht_pkt_strerror(HT_PKT_TRUNCATED), "truncated headers"));
	CHECK(!strcmp(ht_pkt_strerror(HT_PKT_RTHDR), "unknown routing header type"));
}

T_MAIN("packet", T(ipv4_syn), T(ipv4_options), T(ipv4_bad), T(ipv4_truncated),
       T(ipv4_not_tcp_and_fragments), T(ipv6_syn), T(ipv6_ext_headers),
       T(ipv6_not_tcp_and_fragments), T(ipv4_payload_beyond_copy), T(ipv4_option_walk),
       T(ipv4_source_routes), T(ipv4_bad_options), T(ipv6_segment_routing), T(ipv6_rthdr_types),
       T(ipv6_long_chain))
