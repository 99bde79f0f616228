/* pki_crl.c — the fleet CRL for outgoing TLS through libcurl's OpenSSL backend.
 *
 * The inquiry child runs chrooted, so libcurl cannot open `[fleet] crl` when it
 * connects (CURLOPT_CRLFILE wants a path). pki_crl_load reads every CRL in the file
 * into memory before the chroot; pki_crl_apply, called from CURLOPT_SSL_CTX_FUNCTION
 * for each new TLS context, adds them to the context's store and turns on the leaf's
 * CRL check. As in the server side (mbedTLS) and the part checks, a certificate whose
 * CA has no CRL in the file is not refused for that; one on its CA's CRL is, and so is
 * every certificate of a CA whose CRL is past its next update. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "hoptrace/pki.h"

#define PKI_CRL_FILE_MAX (4 << 20) /* a CRL file above this is refused */
#define PKI_CRLS_MAX 16            /* CRLs in one file (a CA rotation has two) */

struct pki_crl {
	X509_CRL *crl[PKI_CRLS_MAX];
	int n;
};

struct pki_crl *pki_crl_load(const char *path, char *err, size_t n)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, n, "crl %s: cannot open", path);
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || ftell(f) > PKI_CRL_FILE_MAX || fseek(f, 0, SEEK_SET) != 0) {
		snprintf(err, n, "crl %s: larger than %d bytes", path, PKI_CRL_FILE_MAX);
		fclose(f);
		return NULL;
	}
	struct pki_crl *c = calloc(1, sizeof *c);
	if (!c) {
		snprintf(err, n, "crl %s: out of memory", path);
		fclose(f);
		return NULL;
	}
	X509_CRL *x;
	ERR_clear_error();
	while ((x = PEM_read_X509_CRL(f, NULL, NULL, NULL))) {
		if (c->n == PKI_CRLS_MAX) {
			X509_CRL_free(x);
			snprintf(err, n, "crl %s: more than %d CRLs", path, PKI_CRLS_MAX);
			goto bad;
		}
		c->crl[c->n++] = x;
	}
	unsigned long e = ERR_peek_last_error();
	/* the end of the file is "no start line"; anything else is a damaged CRL */
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		snprintf(err, n, "crl %s: %s", path, ERR_reason_error_string(e));
		goto bad;
	}
	ERR_clear_error();
	if (!c->n) {
		snprintf(err, n, "crl %s: no CRL in it", path);
		goto bad;
	}
	fclose(f);
	return c;
bad:
	ERR_clear_error();
	fclose(f);
	pki_crl_free(c);
	return NULL;
}

int pki_crl_count(const struct pki_crl *c)
{
	return c ? c->n : 0;
}

/* the leaf's CA without a CRL in the file: not a refusal (as mbedTLS's chain check) */
static int crl_verify_cb(int ok, X509_STORE_CTX *x)
{
	if (!ok && X509_STORE_CTX_get_error(x) == X509_V_ERR_UNABLE_TO_GET_CRL) {
		X509_STORE_CTX_set_error(x, X509_V_OK);
		return 1;
	}
	return ok;
}

int pki_crl_apply(const struct pki_crl *c, void *ssl_ctx)
{
	SSL_CTX *ctx = ssl_ctx;
	X509_STORE *st = ctx ? SSL_CTX_get_cert_store(ctx) : NULL;
	if (!c || !st)
		return -1;
	for (int i = 0; i < c->n; i++)
		if (X509_STORE_add_crl(st, c->crl[i]) != 1) {
			ERR_clear_error();
			return -1;
		}
	if (X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK) != 1)
		return -1;
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), crl_verify_cb);
	return 0;
}

void pki_crl_free(struct pki_crl *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n; i++)
		X509_CRL_free(c->crl[i]);
	free(c);
}
