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
 * "AAAAAAAAAAAAAAAAAAAAAA". What is kept is signed again with a real key (fuzz_signer). Seeds: tests/fuzz/corpus/fuzz_parts/. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pki_signer *signer;
	if (!signer) {
		parts_set_verifier(fuzz_verify);
		signer = fuzz_signer();
	}
	cJSON *a = cJSON_ParseWithLength((const char *)data, size);
	if (!a)
		return 0;
	int refused = parts_verify_answer(NULL, "AAAAAAAAAAAAAAAAAAAAAA", a);
	if (refused < 0)
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
	cJSON *p = inq_to_paper(a);
	char *s = p ? cJSON_PrintUnformatted(p) : NULL;
	free(s);
	cJSON_Delete(p);
	cJSON_Delete(a);
	return 0;
}
