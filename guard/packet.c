/*
 * packet.c — implements packet.h. Every read is checked first against lim,
 * the bytes that are both in the copy and in the packet; the IPv6
 * extension-header walk is bounded. Only headers are read: a SYN's payload
 * (TCP Fast Open data) may lie beyond the copy.
 */
#include <string.h>
#include <sys/socket.h>

#include "packet.h"

/* more than the kernel builds from socket options (hop-by-hop, destination
 * options before and after the routing header, the routing header: 4) */
#define IPV6_MAX_EXT 8

#define IPOPT_END_ 0
#define IPOPT_NOP_ 1
#define IPOPT_LSRR_ 0x83
#define IPOPT_SSRR_ 0x89

static uint16_t rd16(const uint8_t *b) { return (uint16_t)(b[0] << 8 | b[1]); }
static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* lim: readable header bytes (min of copy and packet); len: the packet's
 * length (its IP header's) */
static int parse_tcp(const uint8_t *buf, size_t lim, size_t len, size_t off, struct ht_pkt *p)
{
	if (off > len || len - off < 20)
		return HT_PKT_TRUNCATED; /* the packet itself is too short */
	if (off > lim || lim - off < 20)
		return HT_PKT_TRUNCATED; /* not in the copy */
	const uint8_t *t = buf + off;
	size_t doff = (size_t)(t[12] >> 4) * 4;
	p->sport = rd16(t);
	p->dport = rd16(t + 2);
	p->seq = rd32(t + 4);
	p->flags = t[13];
	p->have = 2;
	if (doff < 20)
		return HT_PKT_BADHDR;
	if (len - off < doff || lim - off < doff)
		return HT_PKT_TRUNCATED;
	p->l4off = (uint16_t)off;
	p->hdrlen = (uint16_t)(off + doff);
	return HT_PKT_OK;
}

/* The IPv4 options in buf[20..ihl): a source route's last slot is where the
 * packet goes (the kernel writes the socket's destination there, and the
 * route's first address, taken out of the option, into the header). */
static int v4_options(const uint8_t *buf, size_t ihl, struct ht_pkt *p)
{
	size_t i = 20;
	while (i < ihl) {
		uint8_t t = buf[i];
		if (t == IPOPT_END_)
			break;
		if (t == IPOPT_NOP_) {
			i++;
			continue;
		}
		if (ihl - i < 2)
			return HT_PKT_BADOPT;
		size_t ol = buf[i + 1];
		if (ol < 2 || ol > ihl - i)
			return HT_PKT_BADOPT;
		if (t == IPOPT_LSRR_ || t == IPOPT_SSRR_) {
			/* type, length, pointer (1-based, to the next address to
			 * visit; ol + 1 when none is left), then whole addresses */
			if (p->srcroute || ol < 7 || (ol - 3) % 4)
				return HT_PKT_BADOPT;
			size_t ptr = buf[i + 2]; /* (inside the option: ol >= 7) */
			if (ptr < 4 || ptr % 4 || ptr > ol + 1)
				return HT_PKT_BADOPT;
			p->srcroute = t == IPOPT_LSRR_ ? HT_SRCRT_LSRR : HT_SRCRT_SSRR;
			memcpy(p->dst, buf + i + ol - 4, 4);
			p->route_off = (uint16_t)(i + ptr - 1);
			p->route_n = (uint8_t)((ol + 1 - ptr) / 4);
		}
		i += ol;
	}
	return HT_PKT_OK;
}

static int parse_v4(const uint8_t *buf, size_t caplen, size_t pktlen, struct ht_pkt *p)
{
	if (caplen < 20)
		return HT_PKT_TRUNCATED;
	size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
	size_t tot = rd16(buf + 2);
	p->family = AF_INET;
	memcpy(p->src, buf + 12, 4);
	memcpy(p->hop, buf + 16, 4);
	memcpy(p->dst, buf + 16, 4);
	p->have = 1;
	if (ihl < 20)
		return HT_PKT_BADHDR;
	if (tot < ihl)
		return HT_PKT_BADHDR;
	if (pktlen < tot)
		return HT_PKT_TRUNCATED; /* shorter than its header says */
	p->len = (uint32_t)tot;      /* trailing bytes are ignored */
	size_t lim = caplen < tot ? caplen : tot;
	if (lim < ihl)
		return HT_PKT_TRUNCATED;
	int r = v4_options(buf, ihl, p);
	if (r) {
		memcpy(p->dst, p->hop, 4); /* what the header says, for the audit line */
		p->srcroute = HT_SRCRT_NONE;
		p->route_off = 0, p->route_n = 0;
		return r;
	}
	uint16_t frag = rd16(buf + 6);
	if (frag & 0x1fff)
		return HT_PKT_FRAGMENT;
	if (buf[9] != 6)
		return HT_PKT_NOTTCP;
	return parse_tcp(buf, lim, tot, ihl, p);
}

/* An IPv6 routing header at buf[off..off+hl): where the packet goes. The
 * kernel (ipv6_push_rthdr0/4) puts the socket's destination into the last
 * address of a type 0/2 header and into segments[0] of a segment routing
 * header, and the IP header's destination is a route's address — for a
 * segment routing header whatever segments_left says (segments_left 0 sends
 * the packet to the given segments[0] while the header's segments[0] is the
 * socket's destination). Any other header with segments_left 0 is ignored,
 * as RFC 8200 says: the IP header's destination is the last one. */
static int v6_rthdr(const uint8_t *buf, size_t off, size_t hl, struct ht_pkt *p)
{
	const uint8_t *h = buf + off;
	uint8_t hdrlen = h[1], type = h[2], left = h[3];
	if (type != 4 && left == 0)
		return HT_PKT_OK;
	if (p->srcroute)
		return HT_PKT_BADOPT; /* the kernel sends one at most */
	switch (type) {
	case 0: /* (deprecated) and 2 (mobile IPv6): 8 bytes, then addresses */
	case 2:
		if (hdrlen == 0 || hdrlen % 2 || left > hdrlen / 2)
			return HT_PKT_BADOPT;
		p->srcroute = HT_SRCRT_RTHDR0;
		memcpy(p->dst, h + hl - 16, 16);
		/* still to visit: the last segments_left addresses */
		p->route_off = (uint16_t)(off + hl - 16 * (size_t)left);
		p->route_n = left;
		return HT_PKT_OK;
	case 4: { /* segment routing: 8 bytes, segments[0..last_entry], TLVs */
		size_t last = h[4];
		if (hdrlen < 2 || (last + 1) * 16 > hl - 8 || left > last + 1)
			return HT_PKT_BADOPT;
		p->srcroute = HT_SRCRT_SRH;
		memcpy(p->dst, h + 8, 16);
		/* still to visit: segments[left - 1] ... segments[0] */
		p->route_off = (uint16_t)(off + 8);
		p->route_n = left;
		return HT_PKT_OK;
	}
	default: /* RPL (3), Nimrod (1), unknown: its final address is not read here */
		return HT_PKT_RTHDR;
	}
}

static int parse_v6(const uint8_t *buf, size_t caplen, size_t pktlen, struct ht_pkt *p)
{
	if (caplen < 40)
		return HT_PKT_TRUNCATED;
	size_t plen = rd16(buf + 4);
	p->family = AF_INET6;
	memcpy(p->src, buf + 8, 16);
	memcpy(p->hop, buf + 24, 16);
	memcpy(p->dst, buf + 24, 16);
	p->have = 1;
	if (plen == 0)
		return HT_PKT_BADHDR; /* jumbograms are not for SYNs */
	if (pktlen - 40 < plen)
		return HT_PKT_TRUNCATED;
	size_t len = 40 + plen;
	p->len = (uint32_t)len;
	size_t lim = caplen < len ? caplen : len;
	uint8_t nh = buf[6];
	size_t off = 40;
	for (int i = 0; i <= IPV6_MAX_EXT; i++) {
		size_t hl;
		int r;
		switch (nh) {
		case 6:
			return parse_tcp(buf, lim, len, off, p);
		case 0:  /* hop-by-hop */
		case 43: /* routing */
		case 60: /* destination options */
			if (lim - off < 8)
				return HT_PKT_TRUNCATED;
			hl = ((size_t)buf[off + 1] + 1) * 8;
			if (hl > lim - off)
				return HT_PKT_TRUNCATED;
			if (nh == 43 && (r = v6_rthdr(buf, off, hl, p)) != HT_PKT_OK) {
				memcpy(p->dst, p->hop, 16);
				p->srcroute = HT_SRCRT_NONE;
				p->route_off = 0, p->route_n = 0;
				return r;
			}
			nh = buf[off];
			off += hl;
			break;
		case 44: /* fragment */
			if (lim - off < 8)
				return HT_PKT_TRUNCATED;
			if (rd16(buf + off + 2) & 0xfff8)
				return HT_PKT_FRAGMENT;
			nh = buf[off];
			off += 8;
			break;
		case 51: /* AH: length in 4-byte units, minus 2 */
			if (lim - off < 8)
				return HT_PKT_TRUNCATED;
			hl = ((size_t)buf[off + 1] + 2) * 4;
			if (hl > lim - off)
				return HT_PKT_TRUNCATED;
			nh = buf[off];
			off += hl;
			break;
		default: /* 59 no next header, 50 ESP, UDP, ICMPv6, ... */
			return HT_PKT_NOTTCP;
		}
	}
	return HT_PKT_BADHDR; /* too many extension headers */
}

int ht_pkt_parse(const uint8_t *buf, size_t caplen, size_t pktlen, struct ht_pkt *p)
{
	memset(p, 0, sizeof(*p));
	if (!buf || caplen < 1)
		return HT_PKT_TRUNCATED;
	if (pktlen < caplen)
		pktlen = caplen;
	switch (buf[0] >> 4) {
	case 4:
		return parse_v4(buf, caplen, pktlen, p);
	case 6:
		return parse_v6(buf, caplen, pktlen, p);
	default:
		return HT_PKT_BADVER;
	}
}

int ht_pkt_detour(const struct ht_pkt *p, const uint8_t *buf)
{
	size_t al = p->family == AF_INET ? 4 : 16;
	if (memcmp(p->hop, p->dst, al))
		return 1;
	for (size_t i = 0; i < p->route_n; i++)
		if (memcmp(buf + p->route_off + i * al, p->dst, al))
			return 1;
	return 0;
}

const char *ht_pkt_strerror(int err)
{
	switch (err) {
	case HT_PKT_OK: return "ok";
	case HT_PKT_TRUNCATED: return "truncated headers";
	case HT_PKT_BADHDR: return "bad header";
	case HT_PKT_BADVER: return "not IPv4/IPv6";
	case HT_PKT_NOTTCP: return "not TCP";
	case HT_PKT_FRAGMENT: return "fragment";
	case HT_PKT_BADOPT: return "bad IP option or routing header";
	case HT_PKT_RTHDR: return "unknown routing header type";
	}
	return "unknown error";
}
