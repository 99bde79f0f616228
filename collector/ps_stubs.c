/*
 * ps_stubs.c — TEMPORARY (session 7): stand-ins for the fleet pieces other
 * branches implement (wt-pki: pki_signer_*, pki_trust_*), so that this branch links and runs before they merge.
 * Nothing is signed and no part is checked. DELETE on merging wt-pki's signer/trust.
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

int pki_signer_sign(struct pki_signer *s, const void *data, size_t len, unsigned char *sig,
		    size_t *slen)
{
	(void)s, (void)data, (void)len, (void)sig;
	*slen = 0;
	return -1;
}

const unsigned char *pki_signer_cert(const struct pki_signer *s, size_t *len)
{
	(void)s;
	*len = 0;
	return NULL;
}

int pki_trust_verify_part(struct pki_trust *t, const unsigned char *der, size_t derlen,
			  const void *data, size_t len, const unsigned char *sig, size_t slen,
			  char cn[PKI_CN_MAX + 1], struct pki_addr *addrs, int *naddrs, char *why,
			  size_t n)
{
	(void)t, (void)der, (void)derlen, (void)data, (void)len, (void)sig, (void)slen, (void)cn,
		(void)addrs, (void)naddrs;
	snprintf(why, n, "part checks not built yet (wt-pki)");
	return -1;
}
