/* pki.h — the fleet PKI on mbedTLS 2.28 (Debian 12): CA, host certificates with
 * IP SANs, signatures over chain parts. Nothing here implements a primitive. */
#ifndef HOPTRACE_PKI_H
#define HOPTRACE_PKI_H
#include <stddef.h>
#include <stdint.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#define PKI_ADDRS_MAX 16

struct pki_addr {
	int family; /* AF_INET / AF_INET6 */
	uint8_t a[16];
};

int pki_rng(mbedtls_ctr_drbg_context **out);
void pki_err(const char *what, int rv);

int pki_ca_init(const char *dir, int days);
int pki_issue(const char *dir, const char *host, char **addrs, int naddrs, int days);

int pki_load_key(const char *path, mbedtls_pk_context *k);
int pki_load_crt(const char *path, mbedtls_x509_crt *c);

/* addresses (iPAddress SANs) of a parsed certificate; returns the count */
int pki_crt_addrs(const mbedtls_x509_crt *c, struct pki_addr *out, int max);
/* 1 if the certificate names address `ip` (text form) */
int pki_crt_names_ip(const mbedtls_x509_crt *c, const char *ip);

int pki_sign(mbedtls_pk_context *k, const void *data, size_t len, unsigned char *sig,
	     size_t *slen);
int pki_revoke(const char *dir, char **certs, int n, int days);
int pki_verify(mbedtls_x509_crt *signer, mbedtls_x509_crt *ca, const void *data, size_t len,
	       const unsigned char *sig, size_t slen, char *why, size_t n);
#endif
