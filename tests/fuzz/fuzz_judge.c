/* fuzz_judge.c — libFuzzer target for the judge's input (collector/judge.c, judge.h):
 * the bytes the judge process reads from its socket — frames (struct jd_hdr + payload) in
 * any split — through jd_feed, jd_parse_req and, for each request, judge_run: the
 * monitor's own answer filled from the child's text and every part checked.
 *
 * Input: byte 0 chooses the chunk size of the stream (1 + b % 64) and, by its top bit,
 * lab_plain (nothing checked) or checked parts; the rest is the stream. Signatures are
 * believed by a stand-in verifier (as in fuzz_parts.c: a signature whose first byte is
 * not 0, the "certificate" read as the text "CN,IP,IP…"), so what a part says after its
 * signature is reached; format 2's stand-in certificates are held under their real ids
 * (parts.h), so parts naming them by id are reached too. The same stream also goes through
 * the monitor's reader of the judge's frames (verdicts, JD_VERDICT_RETRY, JD_HAVE).
 * Seeds: tests/fuzz/corpus/fuzz_judge/ (made by
 * tests/fuzz/fuzz_judge_seeds.py). */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/judge.h"
#include "../../collector/parts.h"
#include "hoptrace/pki.h"

static int fuzz_verify(struct pki_trust *t, const unsigned char *der, size_t derlen,
		       const void *data, size_t len, const unsigned char *sig, size_t slen,
		       char cn[PKI_CN_MAX + 1], struct pki_addr *addrs, int *naddrs, char *why,
		       size_t n)
{
	if (!slen || !sig[0]) {
		snprintf(why, n, "bad signature");
		return -1;
	}
	char text[512];
	size_t k = derlen < sizeof(text) - 1 ? derlen : sizeof(text) - 1;
	memcpy(text, der, k);
	text[k] = 0;
	char *save = NULL, *tok = strtok_r(text, ",", &save);
	if (!tok || strlen(tok) > PKI_CN_MAX) {
		snprintf(why, n, "no CN");
		return -1;
	}
	snprintf(cn, PKI_CN_MAX + 1, "%s", tok);
	int max = *naddrs, m = 0;
	while ((tok = strtok_r(NULL, ",", &save)) && m < max) {
		if (inet_pton(AF_INET, tok, addrs[m].a) == 1)
			addrs[m++].family = AF_INET;
		else if (inet_pton(AF_INET6, tok, addrs[m].a) == 1)
			addrs[m++].family = AF_INET6;
	}
	*naddrs = m;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the stand-in verifier never reads the trust: any non-NULL handle means "checked" */
	static char checked;
	static int init;
	if (!init) {
		parts_set_verifier(fuzz_verify);
		init = 1;
	}
	if (size < 1)
		return 0;
	/* format 2: the stand-in certificates held under their real ids (as fuzz_parts.c) */
	static const char *const fake[] = {"h1,10.0.0.1", "h2,10.0.0.2"};
	parts_cert_forget();
	for (size_t i = 0; i < sizeof(fake) / sizeof(fake[0]); i++) {
		char id[PART_CERT_ID_B64 + 1];
		if (part_cert_id((const unsigned char *)fake[i], strlen(fake[i]), id) != 0)
			abort();
		parts_cert_hold(id, (const unsigned char *)fake[i], strlen(fake[i]));
	}
	size_t step = 1 + data[0] % 64;
	struct pki_trust *t = (data[0] & 0x80) ? NULL : (struct pki_trust *)(void *)&checked;
	struct jd_reader r = {.to_judge = 1};
	char why[160];
	for (size_t off = 1; off < size;) {
		size_t k = size - off < step ? size - off : step, used = 0;
		int rv = jd_feed(&r, data + off, k, &used, why, sizeof(why));
		if (rv < 0)
			break;
		if (used == 0 && rv == 0)
			abort(); /* no progress */
		off += used;
		if (rv == 1) {
			if (r.h.type == JD_REQ) {
				struct jd_req_view v;
				if (jd_parse_req(r.buf, r.h.len, &v, why, sizeof(why)) == 0) {
					int missing = -1;
					char *s = judge_run_ex(t, v.nonce, v.own, v.own_len, v.up,
							       v.up_len, &missing);
					if (!s || strlen(s) > JD_VERDICT_MAX + 256 || missing < 0 ||
					    (!t && missing))
						abort();
					free(s);
					char have[PART_HAVE_CHARS + 1];
					parts_have(have, sizeof(have));
					if (!part_have_ok(have))
						abort();
				}
			} else if (r.h.type != JD_PING || r.h.len != 0) {
				abort(); /* the reader let another frame through */
			}
			jd_take(&r);
		}
	}
	jd_reader_free(&r);
	/* the same stream as the monitor reads the judge's frames (judge_svc.c): a verdict,
	 * a verdict asking for a retry, the certificates held (JD_HAVE, syntax-checked) */
	struct jd_reader m = {.to_judge = 0};
	for (size_t off = 1; off < size;) {
		size_t k = size - off < step ? size - off : step, used = 0;
		int rv = jd_feed(&m, data + off, k, &used, why, sizeof(why));
		if (rv < 0)
			break;
		if (used == 0 && rv == 0)
			abort();
		off += used;
		if (rv == 1) {
			if (m.h.type == JD_HAVE) {
				if (m.h.len > PART_HAVE_CHARS)
					abort();
				(void)part_have_ok((const char *)m.buf);
			} else if (m.h.type != JD_VERDICT && m.h.type != JD_VERDICT_RETRY &&
				   (m.h.type != JD_PONG || m.h.len != 0)) {
				abort();
			}
			jd_take(&m);
		}
	}
	jd_reader_free(&m);
	return 0;
}
