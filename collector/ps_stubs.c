/*
 * ps_stubs.c — TEMPORARY (session 7): stand-ins for the fleet pieces other
 * branches implement (wt-pki: pki_signer_*, pki_trust_*; wt-parts: part_*,
 * parts_verify_answer), so that this branch links and runs before they merge.
 * Nothing is signed and no part is checked. DELETE on merging wt-pki/wt-parts.
 */
#include <stdio.h>

#include "hoptrace/pki.h"
#include "parts.h"

struct pki_signer *pki_signer_load(const char *cert_file, const char *key_file, char *err, size_t n)
{
	(void)cert_file;
	(void)key_file;
	snprintf(err, n, "part signing not built yet (wt-pki)");
	return NULL;
}

void pki_signer_free(struct pki_signer *s)
{
	(void)s;
}

struct pki_trust *pki_trust_load(const char *ca_file, const char *crl_file, char *err, size_t n)
{
	(void)ca_file;
	(void)crl_file;
	(void)err;
	(void)n;
	static int dummy;
	return (struct pki_trust *)&dummy;
}

int part_nonce(char out[PART_NONCE_B64 + 1])
{
	out[0] = 0;
	return -1;
}

cJSON *part_make_answer(struct pki_signer *s, const char *nonce, const char *asked_local,
			const char *asked_remote, const cJSON *answer, char *err, size_t n)
{
	(void)s, (void)nonce, (void)asked_local, (void)asked_remote, (void)answer;
	snprintf(err, n, "not built yet");
	return NULL;
}

int parts_verify_answer(struct pki_trust *t, const char *nonce, cJSON *answer)
{
	(void)t, (void)nonce, (void)answer;
	return 0;
}
