/*
 * packet.h — a bounded, defensive parser for the packets NFQUEUE hands the
 * guard: an IPv4 or IPv6 header (with options / extension headers) followed
 * by a TCP header. Pure: no allocation, no global state; reads only
 * buf[0..len). Fuzzed by tests/fuzz/fuzz_packet.c.
 */
#ifndef HOPTRACE_GUARD_PACKET_H
#define HOPTRACE_GUARD_PACKET_H

#include <stddef.h>
#include <stdint.h>

enum ht_pkt_err {
	HT_PKT_OK = 0,
	HT_PKT_TRUNCATED = -1, /* shorter than its headers say */
	HT_PKT_BADHDR = -2,    /* impossible header field (IHL < 5, doff < 5, ...) */
	HT_PKT_BADVER = -3,    /* not IPv4 or IPv6 */
	HT_PKT_NOTTCP = -4,    /* another transport (or none) */
	HT_PKT_FRAGMENT = -5,  /* a non-first fragment: no TCP header in it */
};

#define HT_TCP_FIN 0x01
#define HT_TCP_SYN 0x02
#define HT_TCP_RST 0x04
#define HT_TCP_PSH 0x08
#define HT_TCP_ACK 0x10

struct ht_pkt {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t src[16];   /* v4: first 4 bytes */
	uint8_t dst[16];
	uint16_t sport;    /* host order */
	uint16_t dport;
	uint32_t seq;      /* host order */
	uint8_t flags;     /* HT_TCP_* */
	uint16_t l4off;    /* offset of the TCP header in the buffer */
};

/* Returns HT_PKT_OK and fills *p, or a negative enum ht_pkt_err. */
int ht_pkt_parse(const uint8_t *buf, size_t len, struct ht_pkt *p);
const char *ht_pkt_strerror(int err);

#endif
