/* fuzz_packet.c — libFuzzer target for guard/packet.c (ht_pkt_parse). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../guard/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_pkt p;
	/* copy into an exact-size heap buffer so ASan sees any overread */
	uint8_t *b = size ? __builtin_malloc(size) : NULL;
	if (size)
		memcpy(b, data, size);
	int r = ht_pkt_parse(b, size, size, &p);
	if (r == HT_PKT_OK && (p.l4off + 20u > size || (p.family != 2 && p.family != 10)))
		__builtin_trap();
	__builtin_free(b);
	return 0;
}
