/* fuzz_packet.c — libFuzzer target for guard/packet.c (ht_pkt_parse): the
 * header walk (IPv4 options and source routes, IPv6 extension and routing
 * headers, TCP), with a copy shorter than the packet. The first two bytes
 * say how much longer than the copy the packet is (its payload beyond
 * COPY_RANGE); the rest is the copy. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../guard/packet.h"

static volatile int sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_pkt p;
	if (size < 2)
		return 0;
	size_t extra = (size_t)data[0] << 8 | data[1];
	data += 2, size -= 2;
	/* copy into an exact-size heap buffer so ASan sees any overread */
	uint8_t *b = size ? __builtin_malloc(size) : NULL;
	if (size)
		memcpy(b, data, size);
	for (int pass = 0; pass < 2; pass++) {
		size_t pktlen = pass ? size + extra : size;
		int r = ht_pkt_parse(b, size, pktlen, &p);
		if (r == HT_PKT_OK &&
		    (p.l4off + 20u > p.hdrlen || p.hdrlen > size || p.len > pktlen ||
		     p.hdrlen > p.len || (p.family != 2 && p.family != 10) || p.have != 2))
			__builtin_trap();
		if (r != HT_PKT_OK && (r > 0 || r < HT_PKT_RTHDR || p.have > 2))
			__builtin_trap();
		/* the route still to visit lies inside the headers */
		if (r == HT_PKT_OK && p.route_n &&
		    (size_t)p.route_off + p.route_n * (p.family == 2 ? 4u : 16u) > p.hdrlen)
			__builtin_trap();
		if (r == HT_PKT_OK)
			sink += ht_pkt_detour(&p, b);
		/* no source route: the destination is the header's */
		if (!p.srcroute && memcmp(p.dst, p.hop, 16))
			__builtin_trap();
	}
	__builtin_free(b);
	return 0;
}
