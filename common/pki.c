/* pki.c — see pki.h */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "hoptrace/pki.h"

static mbedtls_entropy_context ent;
static mbedtls_ctr_drbg_context drbg;
static int drbg_ok;

void pki_err(const char *what, int rv)
{
	char b[160];
	mbedtls_strerror(rv, b, sizeof b);
	fprintf(stderr, "%s: -0x%04x %s\n", what, (unsigned)-rv, b);
}

/* ctr_drbg is safe to share between threads: Debian builds MBEDTLS_THREADING_PTHREAD */
int pki_rng(mbedtls_ctr_drbg_context **out)
{
	if (!drbg_ok) {
		mbedtls_entropy_init(&ent);
		mbedtls_ctr_drbg_init(&drbg);
		int rv = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent,
					       (const unsigned char *)"hoptrace-pki", 12);
		if (rv) {
			pki_err("ctr_drbg_seed", rv);
			return -1;
		}
		drbg_ok = 1;
	}
	*out = &drbg;
	return 0;
}

static int write_file(const char *path, const unsigned char *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	ssize_t w = write(fd, buf, len);
	if (w != (ssize_t)len || fsync(fd) != 0) {
		fprintf(stderr, "%s: write: %s\n", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

static int gen_key(mbedtls_pk_context *k)
{
	mbedtls_ctr_drbg_context *r;
	int rv;
	if (pki_rng(&r))
		return -1;
	mbedtls_pk_init(k);
	if ((rv = mbedtls_pk_setup(k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) ||
	    (rv = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*k),
				      mbedtls_ctr_drbg_random, r))) {
		pki_err("ecp_gen_key", rv);
		return -1;
	}
	return 0;
}

static int save_key(const char *path, mbedtls_pk_context *k)
{
	unsigned char buf[1024];
	int rv = mbedtls_pk_write_key_pem(k, buf, sizeof buf);
	if (rv) {
		pki_err("pk_write_key_pem", rv);
		return -1;
	}
	return write_file(path, buf, strlen((char *)buf), 0600);
}

static void validity(int days, char nb[16], char na[16])
{
	time_t now = time(NULL);
	/* days < 0: an already expired certificate (for tests of -n) */
	time_t a = now + (time_t)days * 86400, b = (days < 0 ? a : now) - 86400;
	struct tm tb, ta;
	gmtime_r(&b, &tb);
	gmtime_r(&a, &ta);
	strftime(nb, 16, "%Y%m%d%H%M%S", &tb);
	strftime(na, 16, "%Y%m%d%H%M%S", &ta);
}

static int random_serial(mbedtls_mpi *s)
{
	mbedtls_ctr_drbg_context *r;
	unsigned char b[16];
	if (pki_rng(&r) || mbedtls_ctr_drbg_random(r, b, sizeof b))
		return -1;
	b[0] &= 0x7f; /* positive, ≤ 20 octets (RFC 5280 4.1.2.2) */
	b[0] |= 0x01;
	mbedtls_mpi_init(s);
	return mbedtls_mpi_read_binary(s, b, sizeof b);
}

/* common part of the CA and the host certificate */
static int write_crt(const char *path, mbedtls_pk_context *subj, mbedtls_pk_context *issuer,
		     const char *subj_name, const char *issuer_name, int days, int is_ca,
		     const unsigned char *san, size_t san_len)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	mbedtls_ctr_drbg_context *r;
	char nb[16], na[16];
	unsigned char buf[4096];
	int rv;
	if (pki_rng(&r) || random_serial(&serial))
		return -1;
	validity(days, nb, na);
	mbedtls_x509write_crt_init(&w);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, subj);
	mbedtls_x509write_crt_set_issuer_key(&w, issuer);
	if ((rv = mbedtls_x509write_crt_set_subject_name(&w, subj_name)) ||
	    (rv = mbedtls_x509write_crt_set_issuer_name(&w, issuer_name)) ||
	    (rv = mbedtls_x509write_crt_set_serial(&w, &serial)) ||
	    (rv = mbedtls_x509write_crt_set_validity(&w, nb, na)) ||
	    (rv = mbedtls_x509write_crt_set_basic_constraints(&w, is_ca, is_ca ? 0 : -1)) ||
	    (rv = mbedtls_x509write_crt_set_subject_key_identifier(&w)) ||
	    (rv = mbedtls_x509write_crt_set_authority_key_identifier(&w)) ||
	    (rv = mbedtls_x509write_crt_set_key_usage(
		     &w, is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
			       : MBEDTLS_X509_KU_DIGITAL_SIGNATURE))) {
		pki_err("x509write_crt_set_*", rv);
		goto fail;
	}
	if (!is_ca) {
		/* extKeyUsage: serverAuth + clientAuth (2.28 has no setter; 3.x has
		 * mbedtls_x509write_crt_set_ext_key_usage). A host is both. */
		unsigned char eb[64], *p = eb + sizeof eb;
		size_t len = 0;
		int ret;
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, eb, MBEDTLS_OID_CLIENT_AUTH,
								 MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(&p, eb, MBEDTLS_OID_SERVER_AUTH,
								 MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, eb, len));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, eb, MBEDTLS_ASN1_CONSTRUCTED |
									 MBEDTLS_ASN1_SEQUENCE));
		if ((rv = mbedtls_x509write_crt_set_extension(
			     &w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
			     MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE), 0, p, len))) {
			pki_err("set_extension(extKeyUsage)", rv);
			goto fail;
		}
	}
	if (san && (rv = mbedtls_x509write_crt_set_extension(
			    &w, MBEDTLS_OID_SUBJECT_ALT_NAME,
			    MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san, san_len))) {
		pki_err("set_extension(subjectAltName)", rv);
		goto fail;
	}
	if ((rv = mbedtls_x509write_crt_pem(&w, buf, sizeof buf, mbedtls_ctr_drbg_random, r))) {
		pki_err("x509write_crt_pem", rv);
		goto fail;
	}
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	return write_file(path, buf, strlen((char *)buf), 0644);
fail:
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	return -1;
}

int pki_ca_init(const char *dir, int days)
{
	char kp[512], cp[512], name[96];
	mbedtls_pk_context k;
	mbedtls_ctr_drbg_context *r;
	unsigned char id[4];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (pki_rng(&r) || mbedtls_ctr_drbg_random(r, id, sizeof id) || gen_key(&k))
		return -1;
	/* one RDN, no comma: see pki_issue for why */
	snprintf(name, sizeof name, "CN=hoptrace fleet CA %02x%02x%02x%02x", id[0], id[1], id[2],
		 id[3]);
	snprintf(kp, sizeof kp, "%s/ca.key", dir);
	snprintf(cp, sizeof cp, "%s/ca.crt", dir);
	int rv = save_key(kp, &k) || write_crt(cp, &k, &k, name, name, days, 1, NULL, 0) ? -1 : 0;
	mbedtls_pk_free(&k);
	return rv;
}

/* subjectAltName ::= SEQUENCE OF GeneralName; dNSName [2] IA5String,
 * iPAddress [7] OCTET STRING (4 or 16 bytes). Written back to front. */
static int build_san(const char *host, char **addrs, int n, unsigned char *buf, size_t cap,
		     unsigned char **start, size_t *outlen)
{
	unsigned char *p = buf + cap;
	size_t len = 0;
	int ret;
	for (int i = n - 1; i >= 0; i--) {
		unsigned char a[16];
		size_t al;
		if (inet_pton(AF_INET, addrs[i], a) == 1)
			al = 4;
		else if (inet_pton(AF_INET6, addrs[i], a) == 1)
			al = 16;
		else {
			fprintf(stderr, "not an IP address: %s\n", addrs[i]);
			return -1;
		}
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, a, al));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, al));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
								 MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
	}
	size_t hl = strlen(host);
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)host, hl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, hl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
								 MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	*outlen = len;
	return 0;
}

int pki_issue(const char *dir, const char *host, char **addrs, int naddrs, int days)
{
	char p1[512], p2[512], issuer[256], subj[128];
	mbedtls_pk_context cak, k;
	mbedtls_x509_crt ca;
	unsigned char sanbuf[16 * (PKI_ADDRS_MAX + 1) + 300], *san;
	size_t sanlen;
	int rv = -1;
	if (naddrs < 1 || naddrs > PKI_ADDRS_MAX || strlen(host) > 63 || strpbrk(host, ",=+\\\"<>;")) {
		fprintf(stderr, "issue: 1..%d addresses, a host name without ,=+\\\"<>;\n", PKI_ADDRS_MAX);
		return -1;
	}
	if (build_san(host, addrs, naddrs, sanbuf, sizeof sanbuf, &san, &sanlen))
		return -1;
	snprintf(p1, sizeof p1, "%s/ca.key", dir);
	snprintf(p2, sizeof p2, "%s/ca.crt", dir);
	mbedtls_x509_crt_init(&ca);
	if (pki_load_key(p1, &cak) || pki_load_crt(p2, &ca))
		return -1;
	/* Pitfall: mbedtls_x509_dn_gets() prints "A=x, B=y" but
	 * mbedtls_x509_string_to_names() does not skip the blank after the comma.
	 * The CA's DN is one RDN, so the string round-trips as is. */
	if (mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca.subject) < 0)
		goto out;
	snprintf(subj, sizeof subj, "CN=%s", host);
	if (gen_key(&k))
		goto out;
	snprintf(p1, sizeof p1, "%s/%s.key", dir, host);
	snprintf(p2, sizeof p2, "%s/%s.crt", dir, host);
	rv = save_key(p1, &k) || write_crt(p2, &k, &cak, subj, issuer, days, 0, san, sanlen) ? -1 : 0;
	mbedtls_pk_free(&k);
out:
	mbedtls_pk_free(&cak);
	mbedtls_x509_crt_free(&ca);
	return rv;
}

int pki_load_key(const char *path, mbedtls_pk_context *k)
{
	mbedtls_pk_init(k);
	int rv = mbedtls_pk_parse_keyfile(k, path, NULL);
	if (rv) {
		pki_err(path, rv);
		return -1;
	}
	return 0;
}

int pki_load_crt(const char *path, mbedtls_x509_crt *c)
{
	int rv = mbedtls_x509_crt_parse_file(c, path);
	if (rv) {
		pki_err(path, rv);
		return -1;
	}
	return 0;
}

int pki_crt_addrs(const mbedtls_x509_crt *c, struct pki_addr *out, int max)
{
	int n = 0;
	/* 2.28 keeps every GeneralName raw in subject_alt_names (tag = the
	 * context-specific tag); mbedtls_x509_parse_subject_alt_name() would
	 * answer FEATURE_UNAVAILABLE for iPAddress, so read the raw entries. */
	for (const mbedtls_x509_sequence *s = &c->subject_alt_names; s && n < max; s = s->next) {
		if (s->buf.tag != (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) || !s->buf.p)
			continue;
		if (s->buf.len == 4)
			out[n].family = AF_INET;
		else if (s->buf.len == 16)
			out[n].family = AF_INET6;
		else
			continue;
		memset(out[n].a, 0, 16);
		memcpy(out[n].a, s->buf.p, s->buf.len);
		n++;
	}
	return n;
}

int pki_crt_names_ip(const mbedtls_x509_crt *c, const char *ip)
{
	struct pki_addr a[PKI_ADDRS_MAX];
	uint8_t want[16] = {0};
	int fam = inet_pton(AF_INET, ip, want) == 1 ? AF_INET
		  : inet_pton(AF_INET6, ip, want) == 1 ? AF_INET6 : 0;
	/* an IPv4-mapped IPv6 address (what a [::] listener reports) is its IPv4 */
	if (fam == AF_INET6 && !memcmp(want, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		memmove(want, want + 12, 4);
		memset(want + 4, 0, 12);
		fam = AF_INET;
	}
	int n = pki_crt_addrs(c, a, PKI_ADDRS_MAX);
	for (int i = 0; i < n; i++)
		if (fam && a[i].family == fam && !memcmp(a[i].a, want, fam == AF_INET ? 4 : 16))
			return 1;
	return 0;
}

int pki_sign(mbedtls_pk_context *k, const void *data, size_t len, unsigned char *sig, size_t *slen)
{
	unsigned char h[32];
	mbedtls_ctr_drbg_context *r;
	int rv;
	if (pki_rng(&r))
		return -1;
	if ((rv = mbedtls_sha256_ret(data, len, h, 0)) ||
	    (rv = mbedtls_pk_sign(k, MBEDTLS_MD_SHA256, h, sizeof h, sig, slen,
				  mbedtls_ctr_drbg_random, r))) {
		pki_err("pk_sign", rv);
		return -1;
	}
	return 0;
}

int pki_verify(mbedtls_x509_crt *signer, mbedtls_x509_crt *ca, const void *data, size_t len,
	       const unsigned char *sig, size_t slen, char *why, size_t n)
{
	uint32_t flags = 0;
	unsigned char h[32];
	int rv = mbedtls_x509_crt_verify(signer, ca, NULL, NULL, &flags, NULL, NULL);
	if (rv) {
		char b[256];
		mbedtls_x509_crt_verify_info(b, sizeof b, "", flags);
		b[strcspn(b, "\n")] = 0;
		snprintf(why, n, "certificate: %s", b);
		return -1;
	}
	if ((rv = mbedtls_sha256_ret(data, len, h, 0)) ||
	    (rv = mbedtls_pk_verify(&signer->pk, MBEDTLS_MD_SHA256, h, sizeof h, sig, slen))) {
		snprintf(why, n, "bad signature (-0x%04x)", (unsigned)-rv);
		return -1;
	}
	return 0;
}

/* ---- revocation: mbedTLS 2.28 parses CRLs (x509_crl.h) but has no CRL writer, so the
 * CRL (RFC 5280 5.1, v2, no extensions) is DER-encoded here with asn1write and signed
 * with mbedtls_pk_sign — encoding only, no primitive. */
static int write_utctime(unsigned char **p, unsigned char *start, time_t t)
{
	char b[16];
	struct tm tm;
	int ret;
	size_t len = 0;
	gmtime_r(&t, &tm);
	strftime(b, sizeof b, "%y%m%d%H%M%SZ", &tm);
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, (unsigned char *)b, 13));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, 13));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_UTC_TIME));
	return (int)len;
}

static int write_sigalg(unsigned char **p, unsigned char *start)
{
	int ret;
	size_t len = 0; /* ecdsa-with-SHA256, parameters absent (RFC 5758 3.2) */
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_ECDSA_SHA256,
							 MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	return (int)len;
}

int pki_revoke(const char *dir, char **certs, int n, int days)
{
	char p1[512];
	mbedtls_pk_context cak;
	mbedtls_x509_crt ca;
	static unsigned char buf[65536];
	unsigned char *p = buf + sizeof buf, sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], h[32];
	size_t len = 0, rl = 0, sl;
	int ret;
	time_t now = time(NULL);
	snprintf(p1, sizeof p1, "%s/ca.key", dir);
	mbedtls_x509_crt_init(&ca);
	if (pki_load_key(p1, &cak))
		return -1;
	snprintf(p1, sizeof p1, "%s/ca.crt", dir);
	if (pki_load_crt(p1, &ca))
		return -1;
	/* revokedCertificates: every certificate named now (a real tool keeps the list) */
	for (int i = n - 1; i >= 0; i--) {
		mbedtls_x509_crt c;
		mbedtls_x509_crt_init(&c);
		if (pki_load_crt(certs[i], &c))
			return -1;
		size_t el = 0;
		MBEDTLS_ASN1_CHK_ADD(el, write_utctime(&p, buf, now));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_raw_buffer(&p, buf, c.serial.p, c.serial.len));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_len(&p, buf, c.serial.len));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_INTEGER));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_len(&p, buf, el));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
		rl += el;
		mbedtls_x509_crt_free(&c);
	}
	if (n) {
		MBEDTLS_ASN1_CHK_ADD(rl, mbedtls_asn1_write_len(&p, buf, rl));
		MBEDTLS_ASN1_CHK_ADD(rl, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	}
	len = rl;
	MBEDTLS_ASN1_CHK_ADD(len, write_utctime(&p, buf, now + (time_t)days * 86400)); /* nextUpdate */
	MBEDTLS_ASN1_CHK_ADD(len, write_utctime(&p, buf, now - 60));                   /* thisUpdate */
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, ca.subject_raw.p, ca.subject_raw.len));
	MBEDTLS_ASN1_CHK_ADD(len, write_sigalg(&p, buf));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(&p, buf, 1)); /* v2 */
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	/* sign the TBSCertList */
	mbedtls_ctr_drbg_context *r;
	if (pki_rng(&r) || mbedtls_sha256_ret(p, len, h, 0) ||
	    (ret = mbedtls_pk_sign(&cak, MBEDTLS_MD_SHA256, h, 32, sig, &sl, mbedtls_ctr_drbg_random, r))) {
		fprintf(stderr, "crl: sign failed\n");
		return -1;
	}
	/* CertificateList: tbs, algorithm, BIT STRING signature — tbs sits at p..p+len;
	 * append after it in a second buffer (asn1write writes backwards) */
	static unsigned char out[65536 + 256];
	unsigned char *q = out + sizeof out;
	size_t ol = 0, tl = 0;
	MBEDTLS_ASN1_CHK_ADD(tl, mbedtls_asn1_write_raw_buffer(&q, out, sig, sl));
	*--q = 0; /* no unused bits */
	tl++;
	MBEDTLS_ASN1_CHK_ADD(tl, mbedtls_asn1_write_len(&q, out, tl));
	MBEDTLS_ASN1_CHK_ADD(tl, mbedtls_asn1_write_tag(&q, out, MBEDTLS_ASN1_BIT_STRING));
	MBEDTLS_ASN1_CHK_ADD(tl, write_sigalg(&q, out));
	MBEDTLS_ASN1_CHK_ADD(tl, mbedtls_asn1_write_raw_buffer(&q, out, p, len));
	ol = tl;
	MBEDTLS_ASN1_CHK_ADD(ol, mbedtls_asn1_write_len(&q, out, ol));
	MBEDTLS_ASN1_CHK_ADD(ol, mbedtls_asn1_write_tag(&q, out, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE));
	/* PEM */
	static unsigned char pem[100000];
	size_t pl;
	if (mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n", q, ol, pem,
				     sizeof pem, &pl)) {
		fprintf(stderr, "crl: pem failed\n");
		return -1;
	}
	snprintf(p1, sizeof p1, "%s/crl.pem", dir);
	unlink(p1);
	mbedtls_pk_free(&cak);
	mbedtls_x509_crt_free(&ca);
	return write_file(p1, pem, strlen((char *)pem), 0644);
}
