/* fuzz_httphead.c — libFuzzer target for the network front's request head parser and
 * its checks (common/tlsfront.c: tlsfront_parse_head, tlsfront_check_head): every prefix
 * length the loop may hand it, a small max_head, and the invariants the loop relies on
 * (a complete head is never longer than the input nor max_head; a refusal has a status
 * and a code; an accepted head has a Content-Length within max_body). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/tlsfront.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy exactly as long as the input: ASan sees any read past it */
	char *b = malloc(size ? size : 1);
	if (!b)
		return 0;
	memcpy(b, data, size);
	size_t maxes[] = {8192, 64, size ? size : 1};
	for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
		for (size_t len = size > 64 ? size - 64 : 0; len <= size; len++) {
			struct tlsfront_head h;
			long n = tlsfront_parse_head(b, len, maxes[m], &h);
			if (n < 0 && (h.status < 400 || !h.code || !h.why))
				abort();
			if (n > 0 && ((size_t)n > len || (size_t)n > maxes[m] || h.minor > 1))
				abort();
			if (n == 0 && len >= maxes[m])
				abort();
			if (n > 0) {
				int st = tlsfront_check_head(&h, "/v1/decide", 65536);
				if (st == 0 && (h.content_length < 0 || h.content_length > 65536 ||
						h.chunked || strcmp(h.method, "POST")))
					abort();
				if (st != 0 && (!h.code || h.status != st))
					abort();
			}
		}
	}
	free(b);
	return 0;
}
