/*
 * packet.c — implements packet.h. Every read is checked against the length
 * first; the IPv6 extension-header walk is bounded.
 */
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

#define IPV6_MAX_EXT 8

static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static int parse_tcp(const uint8_t *buf, size_t len, size_t off, struct ht_pkt *p)
{
	if (off > len || len - off < 20)
		return HT_PKT_TRUNCATED;
	const uint8_t *t = buf + off;
	size_t doff = (size_t)(t[12] >> 4) * 4;
	if (doff < 20)
		return HT_PKT_BADHDR;
	if (len - off < doff)
		return HT_PKT_TRUNCATED;
	p->sport = rd16(t);
	p->dport = rd16(t + 2);
	p->seq = rd32(t + 4);
	p->flags = t[13];
	p->l4off = (uint16_t)off;
	return HT_PKT_OK;
}

static int parse_v4(const uint8_t *buf, size_t len, struct ht_pkt *p)
{
	if (len < 20)
		return HT_PKT_TRUNCATED;
	size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
	if (ihl < 20)
		return HT_PKT_BADHDR;
	size_t tot = rd16(buf + 2);
	if (tot < ihl)
		return HT_PKT_BADHDR;
	if (len < ihl || len < tot)
		return HT_PKT_TRUNCATED;
	len = tot; /* ignore trailing bytes */
	uint16_t frag = rd16(buf + 6);
	if (frag & 0x1fff)
		return HT_PKT_FRAGMENT;
	if (buf[9] != 6)
		return HT_PKT_NOTTCP;
	p->family = AF_INET;
	memcpy(p->src, buf + 12, 4);
	memcpy(p->dst, buf + 16, 4);
	return parse_tcp(buf, len, ihl, p);
}

static int parse_v6(const uint8_t *buf, size_t len, struct ht_pkt *p)
{
	if (len < 40)
		return HT_PKT_TRUNCATED;
	size_t plen = rd16(buf + 4);
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
	for (int i = 0; i <= IPV6_MAX_EXT; i++) {
		switch (nh) {
		case 6:
			return parse_tcp(buf, len, off, p);
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
			if (rd16(buf + off + 2) & 0xfff8)
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

int ht_pkt_parse(const uint8_t *buf, size_t len, struct ht_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (!buf || len < 1)
		return HT_PKT_TRUNCATED;
	switch (buf[0] >> 4) {
	case 4:
		return parse_v4(buf, len, p);
	case 6:
		return parse_v6(buf, len, p);
	default:
		return HT_PKT_BADVER;
	}
}

const char *ht_pkt_strerror(int err)
{
	switch (err) {
	case HT_PKT_OK: return "ok";
	case HT_PKT_TRUNCATED: return "truncated packet";
	case HT_PKT_BADHDR: return "bad header";
	case HT_PKT_BADVER: return "not IPv4/IPv6";
	case HT_PKT_NOTTCP: return "not TCP";
	case HT_PKT_FRAGMENT: return "fragment";
	}
	return "unknown error";
}
