/*
 * packet.h — a bounded, defensive parser for the packets NFQUEUE hands the
 * guard: an IPv4 or IPv6 header (with options / extension headers) followed
 * by a TCP header. Only the headers are read: the payload (TCP Fast Open
 * data) need not be in the copy the kernel gave us, its length is judged
 * against the packet's real length. Pure: no allocation, no global state;
 * reads only buf[0..caplen). Fuzzed by tests/fuzz/fuzz_packet.c.
 *
 * The destination is where the packet really goes: with a source route the
 * IP header's destination is only the first hop, and the kernel writes the
 * socket's own destination into the route's last slot (IPv4 LSRR/SSRR: the
 * option's last address; IPv6 routing header type 0/2: its last address;
 * type 4, segment routing: segments[0]). dst is that one, hop the header's.
 * Yet the packet reaches hop first, and every address still on the route
 * (route_n of them at buf + route_off) on its way — with segments_left 0 a
 * segment routing header is never followed to segments[0] at all. The guard
 * judges the socket's destination and each of these.
 */
#ifndef HOPTRACE_GUARD_PACKET_H
#define HOPTRACE_GUARD_PACKET_H

#include <stddef.h>
#include <stdint.h>

enum ht_pkt_err {
	HT_PKT_OK = 0,
	HT_PKT_TRUNCATED = -1, /* its headers are not all in the bytes given (or the packet is shorter than they say) */
	HT_PKT_BADHDR = -2,    /* impossible header field (IHL < 5, doff < 5, ...) */
	HT_PKT_BADVER = -3,    /* not IPv4 or IPv6 */
	HT_PKT_NOTTCP = -4,    /* another transport (or none) */
	HT_PKT_FRAGMENT = -5,  /* a non-first fragment: no TCP header in it */
	HT_PKT_BADOPT = -6,    /* malformed IPv4 option or IPv6 routing header, or two source routes */
	HT_PKT_RTHDR = -7,     /* a routing header of a type whose final destination is unknown here */
};

#define HT_TCP_FIN 0x01
#define HT_TCP_SYN 0x02
#define HT_TCP_RST 0x04
#define HT_TCP_PSH 0x08
#define HT_TCP_ACK 0x10

enum ht_srcroute {
	HT_SRCRT_NONE = 0,
	HT_SRCRT_LSRR,   /* IPv4 loose source route */
	HT_SRCRT_SSRR,   /* IPv4 strict source route */
	HT_SRCRT_RTHDR0, /* IPv6 routing header type 0 or 2 (address list) */
	HT_SRCRT_SRH,    /* IPv6 segment routing header (type 4) */
};

struct ht_pkt {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t src[16];   /* v4: first 4 bytes */
	uint8_t dst[16];   /* the final destination: the one to judge */
	uint8_t hop[16];   /* the IP header's destination (== dst without a source route) */
	int srcroute;      /* enum ht_srcroute: a route was in the headers */
	uint16_t route_off; /* the addresses still to visit after hop: at buf + route_off, */
	uint8_t route_n;    /* route_n of them, 4 (v4) or 16 (v6) bytes each (may hold dst) */
	uint16_t sport;    /* host order */
	uint16_t dport;
	uint32_t seq;      /* host order */
	uint8_t flags;     /* HT_TCP_* */
	uint16_t l4off;    /* offset of the TCP header in the buffer */
	uint16_t hdrlen;   /* l4off + the TCP header's length: the bytes the parse needed */
	uint32_t len;      /* the packet's length as its IP header says */
	int have;          /* on errors too: 1 family/src/dst/hop are set, 2 also the ports */
};

/* buf holds the first caplen bytes of a packet of pktlen bytes (NFQA_CAP_LEN;
 * pktlen < caplen is taken as caplen). Returns HT_PKT_OK and fills *p, or a
 * negative enum ht_pkt_err (with what was read by then, see have). */
int ht_pkt_parse(const uint8_t *buf, size_t caplen, size_t pktlen, struct ht_pkt *p);
const char *ht_pkt_strerror(int err);
/* After HT_PKT_OK: does the packet visit any address but dst (hop, or one
 * on the route)? */
int ht_pkt_detour(const struct ht_pkt *p, const uint8_t *buf);

#endif
