/*
 * packet_bench.c — what the guard's new SYN checks cost per SYN against the
 * code before them, in the same run (tests/bench/run.sh "packet"):
 *   parse   ns per SYN: the old parser (guard/packet.c before issue 10, copied
 *           here verbatim: it rejected any SYN longer than the 256-byte copy)
 *           vs the new one (headers only, source routes), on a plain IPv4
 *           SYN, a plain IPv6 SYN, a TCP Fast Open SYN (600 bytes of data;
 *           the old one saw it whole) and an IPv6 SYN with a 1024-byte
 *           segment routing header
 *   confirm us per source-routed SYN: the sock_diag lookup that confirms its
 *           final destination is a socket's (only source-routed SYNs pay it,
 *           and cache hits: retransmits)
 *
 *   packet_bench [N]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../guard/packet.h"
#include "hoptrace/sockdiag.h"

/* ---- the parser before issue 10 (guard/packet.c at 9f13c80) ------------- */
#define OLD_IPV6_MAX_EXT 8
static uint16_t old_rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t old_rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int old_parse_tcp(const uint8_t *buf, size_t len, size_t off, struct ht_pkt *p)
{
	if (off > len || len - off < 20)
		return HT_PKT_TRUNCATED;
	const uint8_t *t = buf + off;
	size_t doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20)
		return HT_PKT_BADHDR;
	if (len - off < doff)
		return HT_PKT_TRUNCATED;
	p->sport = old_rd16(t);
	p->dport = old_rd16(t + 2);
	p->seq = old_rd32(t + 4);
	p->flags = t[13];
	p->l4off = (uint16_t)off;
	return HT_PKT_OK;
}

static int old_parse_v4(const uint8_t *buf, size_t len, struct ht_pkt *p)
{
	if (len < 20)
		return HT_PKT_TRUNCATED;
	size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
	if (ihl < 20)
		return HT_PKT_BADHDR;
	size_t tot = old_rd16(buf + 2);
	if (tot < ihl)
		return HT_PKT_BADHDR;
	if (len < ihl || len < tot)
		return HT_PKT_TRUNCATED;
	len = tot; /* ignore trailing bytes */
	uint16_t frag = old_rd16(buf + 6);
	if (frag & 0x1fff)
		return HT_PKT_FRAGMENT;
	if (buf[9] != 6)
		return HT_PKT_NOTTCP;
	p->family = AF_INET;
	memcpy(p->src, buf + 12, 4);
	memcpy(p->dst, buf + 16, 4);
	return old_parse_tcp(buf, len, ihl, p);
}

static int old_parse_v6(const uint8_t *buf, size_t len, struct ht_pkt *p)
{
	if (len < 40)
		return HT_PKT_TRUNCATED;
	size_t plen = old_rd16(buf + 4);
	if (plen == 0)
		return HT_PKT_BADHDR; /* jumbograms are not for SYNs */
	if (len - 40 < plen)
		return HT_PKT_TRUNCATED;
	len = 40 + plen;
	p->family = AF_INET6;
	memcpy(p->src, buf + 8, 16);
	memcpy(p->dst, buf + 24, 16);
	uint8_t nh = buf[6];
	size_t off = 40;
	for (int i = 0; i <= OLD_IPV6_MAX_EXT; i++) {
		switch (nh) {
		case 6:
			return old_parse_tcp(buf, len, off, p);
		case 0:  /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
			if (len - off < 8)
				return HT_PKT_TRUNCATED;
			nh = buf[off];
			off += ((size_t)buf[off + 1] + 1) * 8;
			if (off > len)
				return HT_PKT_TRUNCATED;
			break;
		case 44: /* fragment */
			if (len - off < 8)
				return HT_PKT_TRUNCATED;
			if (old_rd16(buf + off + 2) & 0xfff8)
				return HT_PKT_FRAGMENT;
			nh = buf[off];
			off += 8;
			break;
		case 51: /* AH: length in 4-byte units, minus 2 */
			if (len - off < 8)
				return HT_PKT_TRUNCATED;
			nh = buf[off];
			off += ((size_t)buf[off + 1] + 2) * 4;
			if (off > len)
				return HT_PKT_TRUNCATED;
			break;
		default: /* 59 no next header, 50 ESP, UDP, ICMPv6, ... */
			return HT_PKT_NOTTCP;
		}
	}
	return HT_PKT_BADHDR; /* too many extension headers */
}

int old_ht_pkt_parse(const uint8_t *buf, size_t len, struct ht_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (!buf || len < 1)
		return HT_PKT_TRUNCATED;
	switch (buf[0] >> 4) {
	case 4:
		return old_parse_v4(buf, len, p);
	case 6:
		return old_parse_v6(buf, len, p);
	default:
		return HT_PKT_BADVER;
	}
}


/* ---- packets ------------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static size_t tcp_syn(uint8_t *t, int doff)
{
	memset(t, 0, (size_t)doff * 4);
	t[0] = 0x9c, t[1] = 0x40, t[3] = 80, t[7] = 1;
	t[12] = (uint8_t)(doff << 4), t[13] = HT_TCP_SYN;
	t[20] = 2, t[21] = 4, t[22] = 5, t[23] = 0xb4; /* MSS, then NOPs */
	for (int i = 24; i < doff * 4; i++)
		t[i] = 1;
	return (size_t)doff * 4;
}

static size_t v4(uint8_t *b, size_t data)
{
	memset(b, 0, 20);
	b[0] = 0x45, b[8] = 64, b[9] = 6;
	b[12] = 10, b[15] = 1, b[16] = 10, b[19] = 2;
	size_t n = 20 + tcp_syn(b + 20, 10);
	memset(b + n, 'a', data);
	n += data;
	b[2] = (uint8_t)(n >> 8), b[3] = (uint8_t)n;
	return n;
}

static size_t v6(uint8_t *b, size_t srh, size_t data)
{
	memset(b, 0, 40 + srh);
	b[0] = 0x60, b[7] = 64;
	b[8] = 0x20, b[9] = 0x01, b[23] = 1, b[24] = 0x20, b[25] = 0x01, b[39] = 2;
	size_t n = 40;
	if (srh) {
		b[6] = 43;
		uint8_t *h = b + 40;
		h[0] = 6, h[1] = (uint8_t)(srh / 8 - 1), h[2] = 4, h[3] = 0, h[4] = (uint8_t)((srh - 8) / 16 - 1);
		memcpy(h + 8, b + 24, 16);
		n += srh;
	} else {
		b[6] = 6;
	}
	n += tcp_syn(b + n, 10);
	memset(b + n, 'a', data);
	n += data;
	b[4] = (uint8_t)((n - 40) >> 8), b[5] = (uint8_t)(n - 40);
	return n;
}

static volatile int sink;

static double bench_parse(int newp, const uint8_t *b, size_t cap, size_t len, long n)
{
	struct ht_pkt p;
	uint64_t t0 = now_ns();
	for (long i = 0; i < n; i++)
		sink += newp ? ht_pkt_parse(b, cap, len, &p) : old_ht_pkt_parse(b, cap, &p);
	return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000000;
	static uint8_t b[4][2048];
	size_t len[4], cap[4];
	const char *name[4] = {"ipv4 syn", "ipv6 syn", "ipv4 tfo syn, 600 B data", "ipv6 syn, 1024 B srh"};
	len[0] = v4(b[0], 0);
	len[1] = v6(b[1], 0, 0);
	len[2] = v4(b[2], 600);
	len[3] = v6(b[3], 1024, 0);
	double so = 0, sn = 0;
	for (int k = 0; k < 4; k++) {
		/* what the kernel copied: 256 bytes before, 8320 now */
		cap[k] = len[k] < 256 ? len[k] : 256;
		struct ht_pkt p;
		int ro = old_ht_pkt_parse(b[k], cap[k], &p);
		int rn = ht_pkt_parse(b[k], len[k], len[k], &p);
		if (rn != HT_PKT_OK) {
			fprintf(stderr, "packet_bench: %s: new parser: %s\n", name[k], ht_pkt_strerror(rn));
			return 1;
		}
		/* warm */
		bench_parse(0, b[k], cap[k], cap[k], n / 10);
		bench_parse(1, b[k], len[k], len[k], n / 10);
		double o = bench_parse(0, b[k], cap[k], cap[k], n);
		double w = bench_parse(1, b[k], len[k], len[k], n);
		printf("parse %-26s old %6.1f ns (%s)  new %6.1f ns  ratio %.2fx\n", name[k], o,
		       ro == HT_PKT_OK ? "judged" : "NOT judged: accepted unjudged", w, w / o);
		if (k < 2)
			so += o, sn += w;
	}
	printf("parse_plain_ratio %.2f\n", sn / so);

	/* sock_diag confirmation of a source-routed SYN's final destination */
	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) || connect(c, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("packet_bench: loopback connection");
		return 1;
	}
	struct sockaddr_in me;
	sl = sizeof(me);
	getsockname(c, (struct sockaddr *)&me, &sl);
	int nl = sd_open();
	if (nl < 0) {
		fprintf(stderr, "packet_bench: sock_diag: %s\n", strerror(-nl));
		return 1;
	}
	long m = n / 200 > 1000 ? n / 200 : 1000;
	struct sd_inet si;
	uint64_t t0 = now_ns();
	for (long i = 0; i < m; i++)
		if (sd_inet_lookup(nl, AF_INET, (uint8_t *)&me.sin_addr, ntohs(me.sin_port),
				   (uint8_t *)&sa.sin_addr, ntohs(sa.sin_port), &si) != 0) {
			fprintf(stderr, "packet_bench: lookup failed\n");
			return 1;
		}
	double us = (double)(now_ns() - t0) / (double)m / 1000.0;
	printf("confirm source route (sock_diag lookup) %.1f us per source-routed SYN\n", us);
	printf("confirm_us %.1f\n", us);
	close(nl), close(c), close(l);
	return 0;
}
