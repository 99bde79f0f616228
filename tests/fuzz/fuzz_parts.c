/* fuzz_parts.c — libFuzzer target for the judge of signed chain parts
 * (collector/parts.c): arbitrary JSON as the judge's answer whose conn leaves carry
 * upstream answers, through parts_verify_answer, then the result re-flattened, signed
 * again (part_make_answer) and put in the paper's form.
 *
 * Signatures: a fleet host can sign anything as itself, so what a part says after its
 * signature checks is what matters here. The verifier is replaced (parts_set_verifier)
 * by one that believes a signature whose first byte is not 0 and reads the
 * "certificate" (base64) as the text "CN,IP,IP…": the input chooses who signed and for
 * which addresses, so the checks after the signature (nonce, asked, far address, host,
 * every node's host, the bounds, the recursion) are reached. The judge's nonce is
 * "AAAAAAAAAAAAAAAAAAAAAA". What is kept is signed again with a real key (fuzz_signer), in
 * format 1 and format 2 (part_answer_signed over the judged answer's text). Format 2: the
 * judge holds four stand-in certificates ("h1,10.0.0.1", "h2,…", "h3,…", "m,10.0.0.9")
 * under their real ids at the start of every input (hold_fixed), so parts naming them by
 * id, or sending them under their id, pass the certificate steps. part_json_member is fed
 * the raw input. Seeds: tests/fuzz/corpus/fuzz_parts/ (three_hosts_v2_*: three_hosts in
 * format 2, made by tests/fuzz/fuzz_parts_seeds.py). */
/* the stand-ins take the contract's parameters and use few of them */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../collector/chain.h"
#include "../../collector/inquiry.h"
#include "../../collector/parts.h"
#include "hoptrace/pki.h"

/* a real part-signing key (common/pki.c), made once in a temporary CA that is removed
 * again at once: part_make_answer signs what the judge kept */
static struct pki_signer *fuzz_signer(void)
{
	char dir[] = "/tmp/fuzz_parts.XXXXXX", ca[64], c[96], k[96], err[256];
	char *addrs[1] = {(char *)"10.0.0.2"};
	struct pki_signer *sg = NULL;
	if (!mkdtemp(dir))
		abort();
	snprintf(ca, sizeof(ca), "%s/ca", dir);
	snprintf(c, sizeof(c), "%s/h2.sign.crt", ca);
	snprintf(k, sizeof(k), "%s/h2.sign.key", ca);
	if (pki_ca_init(ca, 2, err, sizeof(err)) == 0 &&
	    pki_issue(ca, "h2", addrs, 1, 2, NULL, err, sizeof(err)) == 0)
		sg = pki_signer_load(c, k, err, sizeof(err));
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0 || !sg) {
		fprintf(stderr, "fuzz_parts: no test signer: %s\n", err);
		abort();
	}
	return sg;
}

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

/* format 2: the stand-in certificates the judge holds at the start of every input, under
 * their real ids (part_cert_id), so that parts naming them by id reach the checks after
 * the signature; what an input makes the judge hold is dropped before the next one */
static void hold_fixed(void)
{
	static const char *const fake[] = {"h1,10.0.0.1", "h2,10.0.0.2", "h3,10.0.0.3", "m,10.0.0.9"};
	parts_cert_forget();
	for (size_t i = 0; i < sizeof(fake) / sizeof(fake[0]); i++) {
		char id[PART_CERT_ID_B64 + 1];
		if (part_cert_id((const unsigned char *)fake[i], strlen(fake[i]), id) != 0)
			abort();
		parts_cert_hold(id, (const unsigned char *)fake[i], strlen(fake[i]));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pki_signer *signer;
	if (!signer) {
		parts_set_verifier(fuzz_verify);
		signer = fuzz_signer();
	}
	hold_fixed();
	size_t b = 0, e = 0;
	if (part_json_member((const char *)data, size, "tree", &b, &e) == 0 && (b > e || e > size))
		abort();
	cJSON *a = cJSON_ParseWithLength((const char *)data, size);
	if (!a)
		return 0;
	int missing = -1;
	int refused = parts_verify_answer_ex(NULL, "AAAAAAAAAAAAAAAAAAAAAA", a, &missing);
	if (refused < 0 || missing < 0 || missing > refused)
		abort();
	char have[PART_HAVE_CHARS + 1];
	if (parts_have(have, sizeof(have)) % PART_HAVE_ID || !part_have_ok(have))
		abort();
	/* judged again: nothing left to refuse that was not refused (or replaced) */
	chain_reflatten(a);
	inq_answer_complete(a);
	char err[160];
	cJSON *subj = cJSON_GetObjectItem(a, "subject");
	cJSON *sg = part_make_answer(signer, "AAAAAAAAAAAAAAAAAAAAAA",
				     cJSON_GetStringValue(cJSON_GetObjectItem(subj, "local")),
				     cJSON_GetStringValue(cJSON_GetObjectItem(subj, "remote")), a, err,
				     sizeof(err));
	cJSON_Delete(sg);
	/* format 2 over the judged answer's own text: its tree's bytes, the member written */
	char *at = cJSON_PrintUnformatted(a);
	char *st = at ? part_answer_signed(signer, 2, "AAAAAAAAAAAAAAAAAAAAAA", have,
					   cJSON_GetStringValue(cJSON_GetObjectItem(subj, "local")),
					   cJSON_GetStringValue(cJSON_GetObjectItem(subj, "remote")), at,
					   strlen(at), a, err, sizeof(err))
		      : NULL;
	if (st) {
		cJSON *back = cJSON_Parse(st); /* what it writes is JSON */
		if (!back)
			abort();
		cJSON_Delete(back);
	}
	free(st);
	free(at);
	cJSON *p = inq_to_paper(a);
	char *s = p ? cJSON_PrintUnformatted(p) : NULL;
	free(s);
	cJSON_Delete(p);
	cJSON_Delete(a);
	return 0;
}
