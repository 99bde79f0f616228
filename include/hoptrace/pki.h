/* pki.h — the fleet PKI on mbedTLS 2.28 (Debian 12): CA, host certificates with
 * IP SANs, signatures over chain parts. Nothing here implements a primitive. */
#ifndef HOPTRACE_PKI_H
#define HOPTRACE_PKI_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#define PKI_ADDRS_MAX 16

struct pki_addr {
	int family; /* AF_INET / AF_INET6 */
	uint8_t a[16];
};

#define PKI_PATH_MAX 4096
#define PKI_CN_MAX 64
#define PKI_CRL_DAYS 365  /* nextUpdate of a CRL written by ca init / ca revoke */
#define PKI_DAYS_HOST 397 /* default validity of a host certificate */
#define PKI_DAYS_CA 3650  /* default validity of the CA */

/* Every function below writes its errors to err/why (at most n bytes, NUL-terminated)
 * and prints nothing. */

/* the process's one ctr_drbg (seeded once, thread-safe); 0 or -1 */
int pki_rng(mbedtls_ctr_drbg_context **out);
/* mbedTLS error code as text: "X509 - ... (-0x2700)" */
void pki_strerror(int rv, char *buf, size_t n);
/* the same on stderr with "what: " in front — for programs; the library never calls it */
void pki_err(const char *what, int rv);

/* ---- the CA directory (`hoptrace ca`, docs/fleet.md) ----------------------------------
 * DIR/ca.key (0600) ca.crt, index (one line per issued certificate), revoked, crl.pem. */

/* A new CA in dir (created 0700 if missing; refused if it holds one): ca.key, ca.crt and
 * an empty crl.pem. 0 or -1. */
int pki_ca_init(const char *dir, int days, char *err, size_t n);
/* Issues host's two pairs into outdir (NULL: dir): HOST.crt/.key (TLS) and
 * HOST.sign.crt/.sign.key (part signing), keys 0600, no file overwritten (all four
 * checked first; on failure none is left). addrs: 1..PKI_ADDRS_MAX IPv4/IPv6 texts.
 * days 1..36500, and not past the CA's own notAfter. Appends both to dir/index. */
int pki_issue(const char *dir, const char *host, char **addrs, int naddrs, int days,
	      const char *outdir, char *err, size_t n);
/* Revokes each of which[]: a certificate file (of this CA), or a host name (every
 * certificate index lists for it). Appends to dir/revoked and rewrites dir/crl.pem
 * (nextUpdate days ahead) from the whole list; nwhich 0 only refreshes crl.pem. What
 * it did goes to report (may be NULL), one line each. */
int pki_revoke(const char *dir, char **which, int nwhich, int days, FILE *report, char *err,
	       size_t n);
/* The CA, its CRL and every certificate issued, to out. */
int pki_ca_list(const char *dir, FILE *out, char *err, size_t n);

/* ---- loading and reading certificates -------------------------------------------------- */

/* k is initialised here (and freed on failure); c must be initialised by the caller */
int pki_key_load(const char *path, mbedtls_pk_context *k, char *err, size_t n);
int pki_crt_load(const char *path, mbedtls_x509_crt *c, char *err, size_t n);
/* the same without a reason (kept from the prototype) */
int pki_load_key(const char *path, mbedtls_pk_context *k);
int pki_load_crt(const char *path, mbedtls_x509_crt *c);

/* 0 if host is usable as a certificate's CN and file name: 1..64 of [A-Za-z0-9._-], no
 * leading '-' or '.', no empty label, not a name the CA directory uses (ca, crl, ...) */
int pki_host_ok(const char *host, char *err, size_t n);
/* IPv4 or IPv6 text → a; 0 or -1 */
int pki_addr_parse(const char *s, struct pki_addr *a);
/* addresses (iPAddress SANs) of a parsed certificate; returns the count */
int pki_crt_addrs(const mbedtls_x509_crt *c, struct pki_addr *out, int max);
/* 1 if the certificate names address `ip` (text form; v4-mapped v6 is taken as v4) */
int pki_crt_names_ip(const mbedtls_x509_crt *c, const char *ip);
/* the subject's CN; 0, or -1 (none, too long, a NUL inside) */
int pki_crt_cn(const mbedtls_x509_crt *c, char cn[PKI_CN_MAX + 1]);
/* an X.509 time as time_t (UTC) */
time_t pki_time(const mbedtls_x509_time *t);
/* the serial as lower-case hex */
void pki_serial_hex(const mbedtls_x509_crt *c, char *out, size_t n);
/* what a certificate is for, from its keyUsage/extKeyUsage/basicConstraints */
enum { PKI_KIND_OTHER, PKI_KIND_CA, PKI_KIND_TLS, PKI_KIND_SIGN };
int pki_crt_kind(const mbedtls_x509_crt *c);
const char *pki_kind_name(int kind); /* "ca" "tls" "sign" "other" */

/* mbedTLS signatures (prototype; slow: 0.7 ms / 1.4 ms — parts use pki_signer/pki_trust) */
int pki_sign(mbedtls_pk_context *k, const void *data, size_t len, unsigned char *sig,
	     size_t *slen);
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

struct pki_signer; /* a part-signing key and its certificate */
struct pki_signer *pki_signer_load(const char *cert_file, const char *key_file, char *err,
				   size_t n);
int pki_signer_sign(struct pki_signer *s, const void *data, size_t len, unsigned char *sig,
		    size_t *slen);
const unsigned char *pki_signer_cert(const struct pki_signer *s, size_t *len); /* DER */
const char *pki_signer_cert_b64(const struct pki_signer *s); /* its base64 (made once) */
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
/* ---- added (wt-pki) ---- */
#define PKI_CERT_MAX 8192    /* a part's certificate DER is refused above this */
#define PKI_TRUST_CACHE 256 /* certificates whose chain check passed, remembered */
#define PKI_TRUST_NEG_CACHE 64 /* refused certificates, remembered 60 s (their own cache) */
/* Swaps in a new CA bundle and CRL (SIGHUP) and empties the cache; on failure (-1, err)
 * the old ones stay. */
int pki_trust_reload(struct pki_trust *t, const char *ca_file, const char *crl_file, char *err,
		     size_t n);
struct pki_trust_stats {
	uint64_t hits, misses, refused, bad_sig, evictions, reloads;
	uint64_t neg_evictions; /* refusals pushed out of the negative cache */
};
void pki_trust_get_stats(struct pki_trust *t, struct pki_trust_stats *s);
/* SHA-256 with libcrypto's digest fetched once (not looked up per call as SHA256() is); 0 or -1 */
int pki_sha256(const void *data, size_t len, unsigned char h[32]);
/* 0 if c may sign parts: keyUsage contentCommitment, no extKeyUsage serverAuth/clientAuth/
 * any, not a CA; else -1 and why */
int pki_crt_is_signer(const mbedtls_x509_crt *c, char *why, size_t n);
/* 1 if addr (AF_INET/AF_INET6 bytes; v4-mapped v6 is taken as v4) is in addrs */
int pki_addr_in(const struct pki_addr *addrs, int naddrs, int family, const void *addr);
/* ---- the CRL of outgoing TLS (libcurl/OpenSSL; common/pki_crl.c) ---- */
/* Every CRL in path (PEM), read now: the caller may chroot after. NULL and err on a
 * missing, damaged or empty file. */
struct pki_crl *pki_crl_load(const char *path, char *err, size_t n);
int pki_crl_count(const struct pki_crl *c);
/* For CURLOPT_SSL_CTX_FUNCTION: adds the CRLs to ssl_ctx's (an SSL_CTX *) store and
 * checks the peer's certificate against its CA's CRL. 0, or -1 (refuse the connection). */
int pki_crl_apply(const struct pki_crl *c, void *ssl_ctx);
void pki_crl_free(struct pki_crl *c);
#endif
