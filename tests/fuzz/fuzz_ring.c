/*
 * fuzz_ring.c — libFuzzer target for the collector's ring consumer
 * (common/ring.c ht_ring_next) against a hostile writer: the input is a
 * program of steps over one ring in memory — honest records put by the
 * shim's producer (ht_ring_put), raw 32-bit writes anywhere in the ring
 * (indices, seq words, lengths, slot counts, torn records), clock steps
 * past the stuck-slot timeout, and reads. Every read must return within its
 * bounds (never more than the buffer, never a record the checks refuse) and
 * what it returns goes through the record decoder, as in the collector.
 *
 * Step format (repeated): op(1) arg(4, little endian) [off(2) for writes]
 *   op % 4 == 0: put a record of arg % 700 bytes (pattern)
 *   op % 4 == 1: write arg at byte offset off * 4 (mod the ring's size)
 *   op % 4 == 2: the clock moves on arg % 2^20 * 1000 ns (>= the timeout at times)
 *   op % 4 == 3: read up to arg % 64 + 1 records
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/record.h"
#include "hoptrace/ring.h"

static _Alignas(4096) uint8_t ring[HT_RING_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ht_ring_reader r;
	uint8_t buf[HT_RING_MAXN * HT_RING_DATA], rec[700];
	uint64_t now = 1;
	memset(ring, 0, sizeof(ring));
	ht_ring_init(ring);
	ht_ring_reader_init(&r, ring);
	for (size_t i = 0; i < sizeof(rec); i++)
		rec[i] = (uint8_t)(i * 7 + 1);
	size_t p = 0;
	while (p + 5 <= size) {
		uint8_t op = data[p];
		uint32_t arg;
		memcpy(&arg, data + p + 1, 4);
		p += 5;
		switch (op % 4) {
		case 0: {
			uint32_t fill;
			ht_ring_put(ring, rec, arg % 700, &fill);
			break;
		}
		case 1: {
			if (p + 2 > size)
				return 0;
			uint16_t off;
			memcpy(&off, data + p, 2);
			p += 2;
			size_t o = ((size_t)off * 4) % (HT_RING_SIZE - 4);
			memcpy(ring + o, &arg, 4);
			break;
		}
		case 2:
			now += (uint64_t)(arg % (1u << 20)) * 1000ULL;
			break;
		case 3:
			for (uint32_t k = 0; k < arg % 64 + 1; k++) {
				int n = ht_ring_next(&r, buf, sizeof(buf), now);
				if (n == 0)
					break;
				if (n > (int)sizeof(buf) || n < -1)
					abort();
				if (n > 0) {
					struct ht_record hr;
					const char *why;
					ht_record_decode(buf, (size_t)n, &hr, &why);
				}
			}
			break;
		}
	}
	return 0;
}
