/* fuzz_chainjson.c — libFuzzer target for the chain JSON decoder (with its
 * failure codes, ht_chains_read), the endpoint codec and the CLI's answer
 * renderers (common/chainjson.c, chainfmt.c). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/chain.h"
#include "../../cli/chainfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct ht_chainset cs;
	struct ht_endpoint ep;
	const char *err;
	char b[HT_ENDPOINT_STRLEN], *s;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	/* why, as a code: OK exactly when it decoded */
	enum ht_qerr code;
	int rc = ht_chains_read((const char *)data, size, &cs, &code, &err);
	if ((rc == 0) != (code == HT_QE_OK) || (unsigned)code >= HT_QE_COUNT || (rc && !err))
		abort();
	if (rc == 0)
		ht_chainset_free(&cs);
	/* not NUL-terminated: the decoder must respect size */
	if (ht_chains_from_json((const char *)data, size, &cs, &err) == 0) {
		for (size_t i = 0; i < cs.n; i++) {
			ht_endpoint_format(&cs.v[i].src, b, sizeof(b));
			ht_endpoint_format(&cs.v[i].dst, b, sizeof(b));
			for (size_t j = 0; j < cs.v[i].nprocs; j++)
				if (strlen(cs.v[i].procs[j].exe) >= HT_EXE_MAX ||
				    strlen(cs.v[i].procs[j].host) >= HT_HOST_MAX)
					abort();
		}
		ht_chainset_free(&cs);
	} else if (!err) {
		abort(); /* every failure has a reason */
	}
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (size < 128 && ht_endpoint_parse(s, &ep) == 0) {
		struct ht_endpoint ep2;
		ht_endpoint_format(&ep, b, sizeof(b));
		if (ht_endpoint_parse(b, &ep2) != 0 || ep2.family != ep.family ||
		    ep2.port != ep.port || memcmp(ep2.addr, ep.addr, 16) != 0)
			abort(); /* format must round-trip */
	}
	if (devnull) {
		(void)chainfmt_tree(s, devnull);
		(void)chainfmt_dot(s, devnull);
		(void)chainfmt_ps(s, devnull);
		(void)chainfmt_status(s, devnull);
	}
	free(s);
	return 0;
}
