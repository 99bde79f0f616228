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

/* ---- contract for the fleet code (session 7). Implemented in common/pki.c. ----------
 * Two certificates per host, both from one `hoptrace ca issue`:
 *   HOST.crt/HOST.key           TLS (keyUsage digitalSignature, EKU serverAuth+clientAuth);
 *                               lives in the unprivileged inquiry child and in policyd
 *   HOST.sign.crt/HOST.sign.key chain-part signatures (keyUsage contentCommitment only, no
 *                               EKU: unusable for TLS); root-only, used by the monitor
 * Both name the host (CN and dNSName) and its addresses (iPAddress SANs).
 * Signatures: ECDSA P-256 over SHA-256 of the data, DER ECDSA-Sig-Value (<= PKI_SIG_MAX).
 * Every function is thread-safe. Errors are written to err/why (no stderr). */
#define PKI_SIG_MAX 80
#define PKI_CN_MAX 64

struct pki_signer; /* a part-signing key and its certificate */
struct pki_signer *pki_signer_load(const char *cert_file, const char *key_file, char *err,
				   size_t n);
int pki_signer_sign(struct pki_signer *s, const void *data, size_t len, unsigned char *sig,
		    size_t *slen);
const unsigned char *pki_signer_cert(const struct pki_signer *s, size_t *len); /* DER */
void pki_signer_free(struct pki_signer *s);

struct pki_trust; /* the fleet CA bundle, its CRL, and a cache of certificates verified */
struct pki_trust *pki_trust_load(const char *ca_file, const char *crl_file, char *err, size_t n);
/* A part's signature: `der` chains to the CA, is valid now, not revoked, and is a
 * part-signing certificate; `sig` verifies over `data`. On success 0, the certificate's CN
 * in cn and its iPAddress SANs in addrs/naddrs (in: capacity). Else -1 and why. */
int pki_trust_verify_part(struct pki_trust *t, const unsigned char *der, size_t derlen,
			  const void *data, size_t len, const unsigned char *sig, size_t slen,
			  char cn[PKI_CN_MAX + 1], struct pki_addr *addrs, int *naddrs, char *why,
			  size_t n);
void pki_trust_free(struct pki_trust *t);
/* 1 if addr (AF_INET/AF_INET6 bytes; v4-mapped v6 is taken as v4) is in addrs */
int pki_addr_in(const struct pki_addr *addrs, int naddrs, int family, const void *addr);
#endif
