/*
 * pki.c — the fleet PKI (pki.h): the CA and its index, host certificates (a TLS pair
 * and a part-signing pair per host), the CRL, and the checks a part's signature gets.
 *
 * Who does what: mbedTLS 2.28 writes and parses certificates, checks chains and CRLs
 * and hashes; OpenSSL's libcrypto signs and verifies the parts (SHA-256, then
 * EVP_PKEY_sign / EVP_PKEY_verify on a pooled context: 20-65 µs where mbedTLS 2.28 takes
 * 0.7-1.4 ms, fleet-trust.md §5).
 * No primitive is written here: the DER this file encodes itself (subjectAltName,
 * extKeyUsage, the CRL — 2.28 has no writers for them) is encoding only.
 *
 * Nothing here prints: every error goes to the caller's buffer.
 *
 * The CA directory (`hoptrace ca init DIR`):
 *   ca.key ca.crt   the CA (P-256, CN=hoptrace fleet CA XXXXXXXX, pathlen 0)
 *   index           one line per certificate issued: SERIAL NOTAFTER KIND HOST PATH
 *   revoked         one line per certificate revoked: SERIAL UNIXTIME HOST
 *   crl.pem         the CRL, rewritten from `revoked` by every `ca revoke`
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/base64.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "hoptrace/pki.h"

/* ---- errors ------------------------------------------------------------------ */

static int fail(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;
	if (err && n) {
		va_start(ap, fmt);
		vsnprintf(err, n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

void pki_strerror(int rv, char *buf, size_t n)
{
	char b[160];
	mbedtls_strerror(rv, b, sizeof b);
	snprintf(buf, n, "%s (-0x%04x)", b, (unsigned)-rv);
}

static int mbed_fail(char *err, size_t n, const char *what, int rv)
{
	char b[200];
	pki_strerror(rv, b, sizeof b);
	return fail(err, n, "%s: %s", what, b);
}

/* kept for programs that want the old behaviour; the library never calls it */
void pki_err(const char *what, int rv)
{
	char b[200];
	pki_strerror(rv, b, sizeof b);
	fprintf(stderr, "%s: %s\n", what, b);
}

/* ---- the random generator: one, seeded once, shared (Debian builds mbedTLS with
 * MBEDTLS_THREADING_PTHREAD, so ctr_drbg locks itself) ------------------------------ */

static mbedtls_entropy_context ent;
static mbedtls_ctr_drbg_context drbg;
static pthread_once_t drbg_once = PTHREAD_ONCE_INIT;
static int drbg_rv;

static void drbg_seed(void)
{
	mbedtls_entropy_init(&ent);
	mbedtls_ctr_drbg_init(&drbg);
	drbg_rv = mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent,
					(const unsigned char *)"hoptrace-pki", 12);
}

int pki_rng(mbedtls_ctr_drbg_context **out)
{
	pthread_once(&drbg_once, drbg_seed);
	if (drbg_rv)
		return -1;
	*out = &drbg;
	return 0;
}

static int rng_or_fail(mbedtls_ctr_drbg_context **r, char *err, size_t n)
{
	if (pki_rng(r))
		return mbed_fail(err, n, "random generator", drbg_rv);
	return 0;
}

/* ---- files ------------------------------------------------------------------- */

/* path must not exist (O_EXCL); written whole and fsync'd, or removed */
static int write_new(const char *path, const void *buf, size_t len, mode_t mode, char *err,
		     size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return fail(err, n, "%s already exists (not overwritten)", path);
		return fail(err, n, "%s: %s", path, strerror(errno));
	}
	const char *p = buf;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto bad;
		p += w;
		left -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto bad;
	close(fd);
	return 0;
bad:
	fail(err, n, "%s: write: %s", path, strerror(errno ? errno : EIO));
	close(fd);
	unlink(path);
	return -1;
}

/* replaces path atomically (a temporary file renamed over it) */
static int write_replace(const char *path, const void *buf, size_t len, mode_t mode, char *err,
			 size_t n)
{
	char tmp[PKI_PATH_MAX + 16];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return fail(err, n, "%s: path too long", path);
	unlink(tmp);
	if (write_new(tmp, buf, len, mode, err, n))
		return -1;
	if (rename(tmp, path) != 0) {
		fail(err, n, "%s: rename: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int append_line(const char *path, const char *line, char *err, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, n, "%s: %s", path, strerror(errno));
	size_t len = strlen(line);
	ssize_t w = write(fd, line, len);
	int e = errno;
	if (w != (ssize_t)len || fsync(fd) != 0) {
		close(fd);
		return fail(err, n, "%s: write: %s", path, strerror(w < 0 ? e : EIO));
	}
	close(fd);
	return 0;
}

static int join(char *out, const char *dir, const char *name, const char *suffix, char *err,
		size_t n)
{
	if (snprintf(out, PKI_PATH_MAX, "%s/%s%s", dir, name, suffix) >= PKI_PATH_MAX)
		return fail(err, n, "%s/%s%s: path too long", dir, name, suffix);
	return 0;
}

/* ---- loading ------------------------------------------------------------------ */

int pki_key_load(const char *path, mbedtls_pk_context *k, char *err, size_t n)
{
	mbedtls_pk_init(k);
	if (access(path, R_OK) != 0)
		return fail(err, n, "%s: %s", path, strerror(errno));
	int rv = mbedtls_pk_parse_keyfile(k, path, NULL);
	if (rv) {
		mbedtls_pk_free(k);
		return mbed_fail(err, n, path, rv);
	}
	return 0;
}

int pki_crt_load(const char *path, mbedtls_x509_crt *c, char *err, size_t n)
{
	if (access(path, R_OK) != 0)
		return fail(err, n, "%s: %s", path, strerror(errno));
	int rv = mbedtls_x509_crt_parse_file(c, path);
	if (rv) /* > 0: that many certificates of a bundle failed */
		return rv > 0 ? fail(err, n, "%s: %d certificate(s) could not be parsed", path, rv)
			      : mbed_fail(err, n, path, rv);
	return 0;
}

int pki_load_key(const char *path, mbedtls_pk_context *k)
{
	return pki_key_load(path, k, NULL, 0);
}

int pki_load_crt(const char *path, mbedtls_x509_crt *c)
{
	return pki_crt_load(path, c, NULL, 0);
}

/* ---- names and addresses --------------------------------------------------------- */

int pki_host_ok(const char *host, char *err, size_t n)
{
	size_t len = strlen(host);
	if (len == 0 || len > PKI_CN_MAX)
		return fail(err, n, "bad host name \"%s\": 1 to %d characters", host, PKI_CN_MAX);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];
		if (!(isalnum(c) || c == '-' || c == '.' || c == '_'))
			return fail(err, n,
				    "bad host name \"%s\": only letters, digits, '-', '.' and '_'",
				    host);
	}
	if (host[0] == '-' || host[0] == '.' || host[len - 1] == '.' || strstr(host, ".."))
		return fail(err, n, "bad host name \"%s\": starts with '-' or '.', or has an empty label",
			    host);
	if (!strcmp(host, "ca") || !strcmp(host, "crl") || !strcmp(host, "index") ||
	    !strcmp(host, "revoked"))
		return fail(err, n, "bad host name \"%s\": the CA directory uses that name", host);
	return 0;
}

int pki_addr_parse(const char *s, struct pki_addr *a)
{
	memset(a, 0, sizeof *a);
	if (inet_pton(AF_INET, s, a->a) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, a->a) == 1)
		a->family = AF_INET6;
	else
		return -1;
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

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int pki_addr_in(const struct pki_addr *addrs, int naddrs, int family, const void *addr)
{
	uint8_t want[16] = {0};
	if (family == AF_INET)
		memcpy(want, addr, 4);
	else if (family == AF_INET6) {
		memcpy(want, addr, 16);
		if (!memcmp(want, v4mapped, 12)) { /* what a [::] listener reports */
			memmove(want, want + 12, 4);
			memset(want + 4, 0, 12);
			family = AF_INET;
		}
	} else
		return 0;
	for (int i = 0; i < naddrs; i++)
		if (addrs[i].family == family &&
		    !memcmp(addrs[i].a, want, family == AF_INET ? 4 : 16))
			return 1;
	return 0;
}

int pki_crt_names_ip(const mbedtls_x509_crt *c, const char *ip)
{
	struct pki_addr a[PKI_ADDRS_MAX], want;
	if (pki_addr_parse(ip, &want))
		return 0;
	int n = pki_crt_addrs(c, a, PKI_ADDRS_MAX);
	return pki_addr_in(a, n, want.family, want.a);
}

int pki_crt_cn(const mbedtls_x509_crt *c, char cn[PKI_CN_MAX + 1])
{
	cn[0] = 0;
	for (const mbedtls_x509_name *nm = &c->subject; nm; nm = nm->next) {
		if (!nm->oid.p || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &nm->oid))
			continue;
		if (nm->val.len > PKI_CN_MAX)
			return -1;
		memcpy(cn, nm->val.p, nm->val.len);
		cn[nm->val.len] = 0;
		if (strlen(cn) != nm->val.len) /* a NUL inside */
			return -1;
		return 0;
	}
	return -1;
}

time_t pki_time(const mbedtls_x509_time *t)
{
	struct tm tm = {0};
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->mon - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hour;
	tm.tm_min = t->min;
	tm.tm_sec = t->sec;
	return timegm(&tm);
}

void pki_serial_hex(const mbedtls_x509_crt *c, char *out, size_t n)
{
	size_t o = 0;
	out[0] = 0;
	for (size_t i = 0; i < c->serial.len && o + 3 <= n; i++)
		o += (size_t)snprintf(out + o, n - o, "%02x", c->serial.p[i]);
}

int pki_crt_kind(const mbedtls_x509_crt *c)
{
	if (c->ca_istrue)
		return PKI_KIND_CA;
	int eku = (c->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE) != 0;
	int ku = (c->ext_types & MBEDTLS_X509_EXT_KEY_USAGE) != 0;
	if (ku && (c->key_usage & MBEDTLS_X509_KU_NON_REPUDIATION) &&
	    !(c->key_usage & MBEDTLS_X509_KU_DIGITAL_SIGNATURE) && !eku)
		return PKI_KIND_SIGN;
	if (ku && (c->key_usage & MBEDTLS_X509_KU_DIGITAL_SIGNATURE) && eku &&
	    !mbedtls_x509_crt_check_extended_key_usage(c, MBEDTLS_OID_SERVER_AUTH,
						       MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) &&
	    !mbedtls_x509_crt_check_extended_key_usage(c, MBEDTLS_OID_CLIENT_AUTH,
						       MBEDTLS_OID_SIZE(MBEDTLS_OID_CLIENT_AUTH)))
		return PKI_KIND_TLS;
	return PKI_KIND_OTHER;
}

const char *pki_kind_name(int kind)
{
	switch (kind) {
	case PKI_KIND_CA:
		return "ca";
	case PKI_KIND_TLS:
		return "tls";
	case PKI_KIND_SIGN:
		return "sign";
	}
	return "other";
}

/* ---- writing keys and certificates ---------------------------------------------- */

static int gen_key(mbedtls_pk_context *k, char *err, size_t n)
{
	mbedtls_ctr_drbg_context *r;
	int rv;
	mbedtls_pk_init(k);
	if (rng_or_fail(&r, err, n))
		return -1;
	if ((rv = mbedtls_pk_setup(k, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) ||
	    (rv = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*k),
				      mbedtls_ctr_drbg_random, r))) {
		mbedtls_pk_free(k);
		return mbed_fail(err, n, "P-256 key generation", rv);
	}
	return 0;
}

static int key_pem(mbedtls_pk_context *k, unsigned char *buf, size_t cap, char *err, size_t n)
{
	int rv = mbedtls_pk_write_key_pem(k, buf, cap);
	if (rv)
		return mbed_fail(err, n, "writing the key", rv);
	return 0;
}

/* validity as mbedTLS wants it (UTC YYYYMMDDhhmmss). days > 0: from an hour ago (clock
 * skew between hosts) to days from now. days <= 0: an already expired certificate,
 * notAfter `days` days ago (tests of -n and of the trust checks). */
static void validity(int days, char nb[16], char na[16], time_t *not_after)
{
	time_t now = time(NULL);
	time_t a = now + (time_t)days * 86400 - (days <= 0 ? 60 : 0);
	time_t b = days > 0 ? now - 3600 : a - 86400;
	struct tm tb, ta;
	gmtime_r(&b, &tb);
	gmtime_r(&a, &ta);
	strftime(nb, 16, "%Y%m%d%H%M%S", &tb);
	strftime(na, 16, "%Y%m%d%H%M%S", &ta);
	*not_after = a;
}

/* 16 random bytes, first octet 0x01..0x7f: positive, exactly 16 content octets in DER
 * (RFC 5280 4.1.2.2: ≤ 20) */
static int random_serial(mbedtls_mpi *s, char *err, size_t n)
{
	mbedtls_ctr_drbg_context *r;
	unsigned char b[16];
	mbedtls_mpi_init(s);
	if (rng_or_fail(&r, err, n) || mbedtls_ctr_drbg_random(r, b, sizeof b))
		return fail(err, n, "random serial failed");
	b[0] &= 0x7f;
	b[0] |= 0x01;
	return mbedtls_mpi_read_binary(s, b, sizeof b) ? fail(err, n, "serial") : 0;
}

/* extKeyUsage ::= SEQUENCE OF KeyPurposeId: serverAuth, clientAuth (2.28 has no setter) */
static int set_eku_tls(mbedtls_x509write_cert *w)
{
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
	return mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_EXTENDED_KEY_USAGE,
						   MBEDTLS_OID_SIZE(MBEDTLS_OID_EXTENDED_KEY_USAGE),
						   0, p, len);
}

/* subjectAltName ::= SEQUENCE OF GeneralName; dNSName [2] IA5String, iPAddress [7]
 * OCTET STRING (4 or 16 bytes). Written back to front. */
static int build_san(const char *host, const struct pki_addr *a, int na, unsigned char *buf,
		     size_t cap, unsigned char **start, size_t *outlen)
{
	unsigned char *p = buf + cap;
	size_t len = 0;
	int ret;
	for (int i = na - 1; i >= 0; i--) {
		size_t al = a[i].family == AF_INET ? 4 : 16;
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, a[i].a, al));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, al));
		MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf,
								 MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7));
	}
	size_t hl = strlen(host);
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)host,
								hl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, hl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
								 MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	*outlen = len;
	return 0;
}

struct crt_spec {
	mbedtls_pk_context *subj, *issuer;
	const char *subj_name, *issuer_name;
	int days, kind; /* PKI_KIND_CA / TLS / SIGN */
	time_t not_after_max; /* 0: none (else the issuer's notAfter) */
	const unsigned char *san;
	size_t san_len;
};

/* the certificate as PEM in buf; its serial (hex) and notAfter for the index */
static int make_crt(const struct crt_spec *s, unsigned char *buf, size_t cap, char *serial_hex,
		    time_t *not_after, char *err, size_t n)
{
	mbedtls_x509write_cert w;
	mbedtls_mpi serial;
	mbedtls_ctr_drbg_context *r;
	char nb[16], na[16];
	unsigned int ku;
	int rv, ca = s->kind == PKI_KIND_CA;
	if (rng_or_fail(&r, err, n) || random_serial(&serial, err, n))
		return -1;
	validity(s->days, nb, na, not_after);
	if (s->not_after_max && *not_after > s->not_after_max) {
		struct tm tm;
		*not_after = s->not_after_max;
		gmtime_r(not_after, &tm);
		strftime(na, 16, "%Y%m%d%H%M%S", &tm);
	}
	ku = ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
	     : s->kind == PKI_KIND_TLS ? MBEDTLS_X509_KU_DIGITAL_SIGNATURE
				       : MBEDTLS_X509_KU_NON_REPUDIATION;
	mbedtls_x509write_crt_init(&w);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, s->subj);
	mbedtls_x509write_crt_set_issuer_key(&w, s->issuer);
	if ((rv = mbedtls_x509write_crt_set_subject_name(&w, s->subj_name)) ||
	    (rv = mbedtls_x509write_crt_set_issuer_name(&w, s->issuer_name)) ||
	    (rv = mbedtls_x509write_crt_set_serial(&w, &serial)) ||
	    (rv = mbedtls_x509write_crt_set_validity(&w, nb, na)) ||
	    (rv = mbedtls_x509write_crt_set_basic_constraints(&w, ca, ca ? 0 : -1)) ||
	    (rv = mbedtls_x509write_crt_set_subject_key_identifier(&w)) ||
	    (rv = mbedtls_x509write_crt_set_authority_key_identifier(&w)) ||
	    (rv = mbedtls_x509write_crt_set_key_usage(&w, ku)) ||
	    (s->kind == PKI_KIND_TLS && (rv = set_eku_tls(&w))) ||
	    (s->san && (rv = mbedtls_x509write_crt_set_extension(
				&w, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, s->san,
				s->san_len))) ||
	    (rv = mbedtls_x509write_crt_pem(&w, buf, cap, mbedtls_ctr_drbg_random, r))) {
		mbed_fail(err, n, "writing the certificate", rv);
		rv = -1;
	}
	if (!rv && serial_hex) {
		unsigned char sb[16];
		mbedtls_mpi_write_binary(&serial, sb, sizeof sb);
		for (int i = 0; i < 16; i++)
			snprintf(serial_hex + 2 * i, 3, "%02x", sb[i]);
	}
	mbedtls_x509write_crt_free(&w);
	mbedtls_mpi_free(&serial);
	return rv ? -1 : 0;
}

/* ---- the CA ---------------------------------------------------------------------- */

int pki_ca_init(const char *dir, int days, char *err, size_t n)
{
	char kp[PKI_PATH_MAX], cp[PKI_PATH_MAX], name[96];
	unsigned char kb[1024], cb[4096], id[4];
	mbedtls_pk_context k;
	mbedtls_ctr_drbg_context *r;
	time_t na;
	int rv = -1;
	if (days < 1)
		return fail(err, n, "--days must be at least 1");
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return fail(err, n, "%s: %s", dir, strerror(errno));
	if (join(kp, dir, "ca", ".key", err, n) || join(cp, dir, "ca", ".crt", err, n))
		return -1;
	if (access(kp, F_OK) == 0 || access(cp, F_OK) == 0)
		return fail(err, n, "%s already holds a CA (ca.key/ca.crt): not overwritten", dir);
	if (rng_or_fail(&r, err, n) || mbedtls_ctr_drbg_random(r, id, sizeof id))
		return fail(err, n, "random generator failed");
	if (gen_key(&k, err, n))
		return -1;
	/* one RDN, no comma: see pki_issue for why */
	snprintf(name, sizeof name, "CN=hoptrace fleet CA %02x%02x%02x%02x", id[0], id[1], id[2],
		 id[3]);
	struct crt_spec s = {.subj = &k, .issuer = &k, .subj_name = name, .issuer_name = name,
			     .days = days, .kind = PKI_KIND_CA};
	if (key_pem(&k, kb, sizeof kb, err, n) || make_crt(&s, cb, sizeof cb, NULL, &na, err, n))
		goto out;
	if (write_new(kp, kb, strlen((char *)kb), 0600, err, n))
		goto out;
	if (write_new(cp, cb, strlen((char *)cb), 0644, err, n)) {
		unlink(kp);
		goto out;
	}
	/* an empty CRL from the start, so crl.pem can be installed with the rest */
	rv = pki_revoke(dir, NULL, 0, PKI_CRL_DAYS, NULL, err, n);
out:
	mbedtls_platform_zeroize(kb, sizeof kb);
	mbedtls_pk_free(&k);
	return rv;
}

/* the CA's key and certificate; the key must be the certificate's (the first one in
 * ca.crt: during a CA rotation ca.crt of the *old* directory stays as it was) */
static int ca_open(const char *dir, mbedtls_pk_context *cak, mbedtls_x509_crt *ca, char *err,
		   size_t n)
{
	char p[PKI_PATH_MAX];
	mbedtls_x509_crt_init(ca);
	mbedtls_pk_init(cak);
	if (join(p, dir, "ca", ".crt", err, n) || pki_crt_load(p, ca, err, n))
		goto bad;
	if (join(p, dir, "ca", ".key", err, n) || pki_key_load(p, cak, err, n))
		goto bad;
	if (mbedtls_pk_check_pair(&ca->pk, cak)) {
		fail(err, n, "%s/ca.key does not match %s/ca.crt", dir, dir);
		goto bad;
	}
	if (!ca->ca_istrue) {
		fail(err, n, "%s/ca.crt is not a CA certificate", dir);
		goto bad;
	}
	return 0;
bad:
	mbedtls_pk_free(cak);
	mbedtls_x509_crt_free(ca);
	return -1;
}

int pki_issue(const char *dir, const char *host, char **addrs, int naddrs, int days,
	      const char *outdir, char *err, size_t n)
{
	char issuer[256], subj[PKI_CN_MAX + 4], idx[PKI_PATH_MAX];
	char path[4][PKI_PATH_MAX]; /* tls crt, tls key, sign crt, sign key */
	static const char *const sfx[4] = {".crt", ".key", ".sign.crt", ".sign.key"};
	static const int write_order[4] = {1, 3, 0, 2}; /* the keys first */
	struct pki_addr a[PKI_ADDRS_MAX];
	unsigned char sanbuf[20 * PKI_ADDRS_MAX + PKI_CN_MAX + 16], *san;
	unsigned char crt[2][4096], key[2][1024];
	char serial[2][40];
	time_t na[2];
	size_t sanlen;
	mbedtls_pk_context cak, k[2];
	mbedtls_x509_crt ca;
	int rv = -1, written = 0, nk = 0;

	if (pki_host_ok(host, err, n))
		return -1;
	if (naddrs < 1 || naddrs > PKI_ADDRS_MAX)
		return fail(err, n, "%s: give 1 to %d addresses (v4 or v6)", host, PKI_ADDRS_MAX);
	for (int i = 0; i < naddrs; i++) {
		if (pki_addr_parse(addrs[i], &a[i]))
			return fail(err, n, "not an IPv4 or IPv6 address: \"%s\"", addrs[i]);
		for (int j = 0; j < i; j++)
			if (a[j].family == a[i].family && !memcmp(a[j].a, a[i].a, 16))
				return fail(err, n, "address given twice: %s", addrs[i]);
	}
	if (days == 0 || days > 36500 || days < -36500)
		return fail(err, n, "--days must be 1 to 36500");
	if (!outdir)
		outdir = dir;
	else if (mkdir(outdir, 0700) != 0 && errno != EEXIST)
		return fail(err, n, "%s: %s", outdir, strerror(errno));
	for (int i = 0; i < 4; i++) {
		if (join(path[i], outdir, host, sfx[i], err, n))
			return -1;
		if (access(path[i], F_OK) == 0)
			return fail(err, n,
				    "%s already exists: a host is issued once per directory "
				    "(to rotate: --out a new directory, or revoke and remove)",
				    path[i]);
	}
	if (join(idx, dir, "index", "", err, n) ||
	    build_san(host, a, naddrs, sanbuf, sizeof sanbuf, &san, &sanlen))
		return fail(err, n, "subjectAltName too large");
	if (ca_open(dir, &cak, &ca, err, n))
		return -1;
	/* Pitfall: mbedtls_x509_dn_gets() prints "A=x, B=y" but
	 * mbedtls_x509_string_to_names() does not skip the blank after the comma.
	 * The CA's DN is one RDN, so the string round-trips as is. */
	if (mbedtls_x509_dn_gets(issuer, sizeof issuer, &ca.subject) < 0 || strchr(issuer, ',')) {
		fail(err, n, "%s/ca.crt: its subject is not one RDN", dir);
		goto out;
	}
	/* never past the CA: a day over (a 30-day host under a CA made with 30 days a
	 * moment ago) ends with the CA; more is refused */
	time_t ca_end = pki_time(&ca.valid_to);
	if (days > 0 && time(NULL) + (time_t)days * 86400 > ca_end + 86400) {
		fail(err, n, "--days %d: the certificate would outlive the CA (ca.crt expires in %ld days)",
		     days, (long)((ca_end - time(NULL)) / 86400));
		goto out;
	}
	snprintf(subj, sizeof subj, "CN=%s", host);
	for (int i = 0; i < 2; i++) {
		if (gen_key(&k[i], err, n))
			goto out;
		nk++;
		struct crt_spec s = {.subj = &k[i], .issuer = &cak, .subj_name = subj,
				     .issuer_name = issuer, .days = days,
				     .kind = i == 0 ? PKI_KIND_TLS : PKI_KIND_SIGN,
				     .not_after_max = ca_end, .san = san, .san_len = sanlen};
		if (key_pem(&k[i], key[i], sizeof key[i], err, n) ||
		    make_crt(&s, crt[i], sizeof crt[i], serial[i], &na[i], err, n))
			goto out;
	}
	/* keys first (0600), then certificates; on any failure none stays */
	const unsigned char *data[4] = {crt[0], key[0], crt[1], key[1]};
	for (written = 0; written < 4; written++) {
		int j = write_order[written];
		if (write_new(path[j], data[j], strlen((const char *)data[j]), j % 2 ? 0600 : 0644,
			      err, n))
			goto out;
	}
	for (int i = 0; i < 2; i++) {
		char line[PKI_PATH_MAX + 128];
		struct tm tm;
		char nat[16];
		gmtime_r(&na[i], &tm);
		strftime(nat, sizeof nat, "%Y%m%d%H%M%S", &tm);
		const char *cp = i ? path[2] : path[0];
		if (snprintf(line, sizeof line, "%s %s %s %s %s\n", serial[i], nat,
			     i ? "sign" : "tls", host, cp) >= (int)sizeof line ||
		    append_line(idx, line, err, n))
			goto out;
	}
	rv = 0;
out:
	if (rv && written < 4)
		for (int i = 0; i < written; i++)
			unlink(path[write_order[i]]);
	mbedtls_platform_zeroize(key, sizeof key);
	for (int i = 0; i < nk; i++)
		mbedtls_pk_free(&k[i]);
	mbedtls_pk_free(&cak);
	mbedtls_x509_crt_free(&ca);
	return rv;
}

/* ---- the index and the revoked list ------------------------------------------------- */

struct idx_ent {
	char serial[41], not_after[16], kind[8], host[PKI_CN_MAX + 1], path[PKI_PATH_MAX];
	time_t revoked; /* 0: not revoked */
};

struct idx {
	struct idx_ent *e;
	int n, cap;
	/* revoked entries (serial, time, host): every one, also those not in the index */
	struct rev {
		char serial[41], host[PKI_CN_MAX + 1];
		time_t t;
	} *r;
	int nr, rcap;
};

static void idx_free(struct idx *x)
{
	free(x->e);
	free(x->r);
	memset(x, 0, sizeof *x);
}

static int serial_ok(const char *s)
{
	size_t l = strlen(s);
	if (l < 2 || l > 40 || l % 2)
		return 0;
	for (size_t i = 0; i < l; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

static int idx_read(const char *dir, struct idx *x, char *err, size_t n)
{
	char p[PKI_PATH_MAX], line[PKI_PATH_MAX + 256];
	FILE *f;
	int ln = 0;
	memset(x, 0, sizeof *x);
	if (join(p, dir, "index", "", err, n))
		return -1;
	if ((f = fopen(p, "re"))) {
		while (fgets(line, sizeof line, f)) {
			struct idx_ent e = {0};
			int off = 0;
			ln++;
			line[strcspn(line, "\n")] = 0;
			if (!line[0])
				continue;
			if (sscanf(line, "%40s %15s %7s %64s %n", e.serial, e.not_after, e.kind, e.host,
				   &off) != 4 || !off || !serial_ok(e.serial)) {
				fclose(f);
				idx_free(x);
				return fail(err, n, "%s:%d: not an index line", p, ln);
			}
			snprintf(e.path, sizeof e.path, "%s", line + off);
			if (x->n == x->cap) {
				int c = x->cap ? 2 * x->cap : 64;
				void *ne = realloc(x->e, (size_t)c * sizeof *x->e);
				if (!ne) {
					fclose(f);
					idx_free(x);
					return fail(err, n, "out of memory");
				}
				x->e = ne;
				x->cap = c;
			}
			x->e[x->n++] = e;
		}
		fclose(f);
	} else if (errno != ENOENT)
		return fail(err, n, "%s: %s", p, strerror(errno));
	if (join(p, dir, "revoked", "", err, n))
		return -1;
	ln = 0;
	if ((f = fopen(p, "re"))) {
		while (fgets(line, sizeof line, f)) {
			struct rev r = {0};
			long long t;
			ln++;
			line[strcspn(line, "\n")] = 0;
			if (!line[0])
				continue;
			if (sscanf(line, "%40s %lld %64s", r.serial, &t, r.host) < 2 ||
			    !serial_ok(r.serial)) {
				fclose(f);
				idx_free(x);
				return fail(err, n, "%s:%d: not a revoked line", p, ln);
			}
			r.t = (time_t)t;
			if (x->nr == x->rcap) {
				int c = x->rcap ? 2 * x->rcap : 64;
				void *nr = realloc(x->r, (size_t)c * sizeof *x->r);
				if (!nr) {
					fclose(f);
					idx_free(x);
					return fail(err, n, "out of memory");
				}
				x->r = nr;
				x->rcap = c;
			}
			x->r[x->nr++] = r;
			for (int i = 0; i < x->n; i++)
				if (!strcasecmp(x->e[i].serial, r.serial))
					x->e[i].revoked = r.t;
		}
		fclose(f);
	} else if (errno != ENOENT) {
		idx_free(x);
		return fail(err, n, "%s: %s", p, strerror(errno));
	}
	return 0;
}

static int idx_is_revoked(const struct idx *x, const char *serial)
{
	for (int i = 0; i < x->nr; i++)
		if (!strcasecmp(x->r[i].serial, serial))
			return 1;
	return 0;
}

/* ---- the CRL: mbedTLS 2.28 parses CRLs (x509_crl.h) but has no writer, so the CRL
 * (RFC 5280 5.1, v2, no extensions) is DER-encoded here with asn1write and signed with
 * mbedtls_pk_sign — encoding only. -------------------------------------------------- */

static int write_utctime(unsigned char **p, unsigned char *start, time_t t)
{
	char b[16];
	struct tm tm;
	int ret;
	size_t len = 0;
	gmtime_r(&t, &tm);
	/* UTCTime until 2049, GeneralizedTime after (RFC 5280 5.1.2.4) */
	int gen = tm.tm_year + 1900 >= 2050;
	strftime(b, sizeof b, gen ? "%Y%m%d%H%M%SZ" : "%y%m%d%H%M%SZ", &tm);
	size_t bl = strlen(b);
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(p, start, (unsigned char *)b, bl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, bl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, gen ? MBEDTLS_ASN1_GENERALIZED_TIME
								       : MBEDTLS_ASN1_UTC_TIME));
	return (int)len;
}

static int write_sigalg(unsigned char **p, unsigned char *start)
{
	int ret;
	size_t len = 0; /* ecdsa-with-SHA256, parameters absent (RFC 5758 3.2) */
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_oid(p, start, MBEDTLS_OID_ECDSA_SHA256,
							 MBEDTLS_OID_SIZE(MBEDTLS_OID_ECDSA_SHA256)));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(p, start, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(p, start, MBEDTLS_ASN1_CONSTRUCTED |
								   MBEDTLS_ASN1_SEQUENCE));
	return (int)len;
}

static int hexbin(const char *hex, unsigned char *out)
{
	size_t l = strlen(hex);
	for (size_t i = 0; i < l / 2; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return (int)(l / 2);
}

/* TBSCertList into buf (back to front); returns its length, or < 0 */
static int crl_tbs(const struct idx *x, const mbedtls_x509_crt *ca, int days, unsigned char *buf,
		   size_t cap, unsigned char **start)
{
	unsigned char *p = buf + cap;
	size_t len = 0, rl = 0;
	int ret;
	time_t now = time(NULL);
	for (int i = x->nr - 1; i >= 0; i--) {
		unsigned char sb[20];
		int sl = hexbin(x->r[i].serial, sb);
		size_t el = 0;
		if (sl <= 0)
			return -1;
		MBEDTLS_ASN1_CHK_ADD(el, write_utctime(&p, buf, x->r[i].t));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_raw_buffer(&p, buf, sb, (size_t)sl));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_len(&p, buf, (size_t)sl));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_INTEGER));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_len(&p, buf, el));
		MBEDTLS_ASN1_CHK_ADD(el, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
									   MBEDTLS_ASN1_SEQUENCE));
		rl += el;
	}
	if (x->nr) {
		MBEDTLS_ASN1_CHK_ADD(rl, mbedtls_asn1_write_len(&p, buf, rl));
		MBEDTLS_ASN1_CHK_ADD(rl, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
									   MBEDTLS_ASN1_SEQUENCE));
	}
	len = rl;
	MBEDTLS_ASN1_CHK_ADD(len, write_utctime(&p, buf, now + (time_t)days * 86400)); /* nextUpdate */
	MBEDTLS_ASN1_CHK_ADD(len, write_utctime(&p, buf, now - 3600));               /* thisUpdate */
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&p, buf, ca->subject_raw.p,
								ca->subject_raw.len));
	MBEDTLS_ASN1_CHK_ADD(len, write_sigalg(&p, buf));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_int(&p, buf, 1)); /* v2 */
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&p, buf, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONSTRUCTED |
								   MBEDTLS_ASN1_SEQUENCE));
	*start = p;
	return (int)len;
}

/* CertificateList ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature } */
static int crl_wrap(const unsigned char *tbs, size_t tl, const unsigned char *sig, size_t sl,
		    unsigned char *out, size_t cap, unsigned char **start)
{
	unsigned char *q = out + cap;
	size_t len = 0;
	int ret;
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_bitstring(&q, out, sig, sl * 8));
	MBEDTLS_ASN1_CHK_ADD(len, write_sigalg(&q, out));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_raw_buffer(&q, out, tbs, tl));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_len(&q, out, len));
	MBEDTLS_ASN1_CHK_ADD(len, mbedtls_asn1_write_tag(&q, out, MBEDTLS_ASN1_CONSTRUCTED |
								   MBEDTLS_ASN1_SEQUENCE));
	*start = q;
	return (int)len;
}

static int crl_write(const char *dir, const struct idx *x, mbedtls_pk_context *cak,
		     const mbedtls_x509_crt *ca, int days, char *err, size_t n)
{
	char p[PKI_PATH_MAX];
	size_t cap = 512 + (size_t)x->nr * 64, sl, pl;
	unsigned char *buf = malloc(cap), *out = malloc(cap + 256), *pem = NULL, *tbs, *der;
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], h[32];
	mbedtls_ctr_drbg_context *r;
	int tl, dl, rv = -1;
	if (!buf || !out)
		goto out;
	if ((tl = crl_tbs(x, ca, days, buf, cap, &tbs)) < 0) {
		fail(err, n, "encoding the CRL failed");
		goto out;
	}
	if (rng_or_fail(&r, err, n))
		goto out;
	if ((rv = mbedtls_sha256_ret(tbs, (size_t)tl, h, 0)) ||
	    (rv = mbedtls_pk_sign(cak, MBEDTLS_MD_SHA256, h, 32, sig, &sl, mbedtls_ctr_drbg_random,
				  r))) {
		mbed_fail(err, n, "signing the CRL", rv);
		rv = -1;
		goto out;
	}
	rv = -1;
	if ((dl = crl_wrap(tbs, (size_t)tl, sig, sl, out, cap + 256, &der)) < 0) {
		fail(err, n, "encoding the CRL failed");
		goto out;
	}
	size_t pcap = (size_t)dl * 4 / 3 + (size_t)dl / 48 + 128;
	if (!(pem = malloc(pcap)) ||
	    mbedtls_pem_write_buffer("-----BEGIN X509 CRL-----\n", "-----END X509 CRL-----\n", der,
				     (size_t)dl, pem, pcap, &pl)) {
		fail(err, n, "encoding the CRL as PEM failed");
		goto out;
	}
	if (join(p, dir, "crl", ".pem", err, n) ||
	    write_replace(p, pem, strlen((char *)pem), 0644, err, n))
		goto out;
	rv = 0;
out:
	if (rv && err && !err[0])
		fail(err, n, "out of memory");
	free(buf);
	free(out);
	free(pem);
	return rv;
}

static int add_revoked(const char *dir, struct idx *x, const char *serial, const char *host,
		       time_t t, char *err, size_t n)
{
	char p[PKI_PATH_MAX], line[128];
	if (x->nr == x->rcap) {
		int c = x->rcap ? 2 * x->rcap : 64;
		void *nr = realloc(x->r, (size_t)c * sizeof *x->r);
		if (!nr)
			return fail(err, n, "out of memory");
		x->r = nr;
		x->rcap = c;
	}
	struct rev *r = &x->r[x->nr++];
	snprintf(r->serial, sizeof r->serial, "%s", serial);
	snprintf(r->host, sizeof r->host, "%s", host);
	r->t = t;
	snprintf(line, sizeof line, "%s %lld %s\n", serial, (long long)t, host);
	if (join(p, dir, "revoked", "", err, n))
		return -1;
	return append_line(p, line, err, n);
}

int pki_revoke(const char *dir, char **which, int nwhich, int days, FILE *report, char *err,
	       size_t n)
{
	mbedtls_pk_context cak;
	mbedtls_x509_crt ca;
	struct idx x;
	time_t now = time(NULL);
	int rv = -1;
	if (days < 1 || days > 36500)
		return fail(err, n, "--days must be 1 to 36500");
	if (ca_open(dir, &cak, &ca, err, n))
		return -1;
	if (idx_read(dir, &x, err, n))
		goto out_ca;
	for (int i = 0; i < nwhich; i++) {
		struct stat st;
		if (stat(which[i], &st) == 0 && S_ISREG(st.st_mode)) { /* a certificate file */
			mbedtls_x509_crt c;
			char serial[41], cn[PKI_CN_MAX + 1];
			uint32_t flags = 0;
			mbedtls_x509_crt_init(&c);
			if (pki_crt_load(which[i], &c, err, n)) {
				mbedtls_x509_crt_free(&c);
				goto out;
			}
			mbedtls_x509_crt_verify(&c, &ca, NULL, NULL, &flags, NULL, NULL);
			flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
			if (flags || c.ca_istrue) {
				mbedtls_x509_crt_free(&c);
				fail(err, n, "%s: not a host certificate of the CA in %s", which[i], dir);
				goto out;
			}
			pki_serial_hex(&c, serial, sizeof serial);
			if (pki_crt_cn(&c, cn))
				snprintf(cn, sizeof cn, "?");
			const char *kind = pki_kind_name(pki_crt_kind(&c));
			mbedtls_x509_crt_free(&c);
			if (idx_is_revoked(&x, serial)) {
				if (report)
					fprintf(report, "already revoked: %s %s %s\n", serial, kind, cn);
				continue;
			}
			if (add_revoked(dir, &x, serial, cn, now, err, n))
				goto out;
			if (report)
				fprintf(report, "revoked %s %s %s\n", serial, kind, cn);
			continue;
		}
		/* a host name: every certificate issued to it and not yet revoked */
		if (strchr(which[i], '/')) {
			fail(err, n, "%s: %s", which[i], strerror(ENOENT));
			goto out;
		}
		if (pki_host_ok(which[i], err, n))
			goto out;
		int found = 0, done = 0;
		for (int j = 0; j < x.n; j++) {
			if (strcmp(x.e[j].host, which[i]))
				continue;
			found++;
			if (idx_is_revoked(&x, x.e[j].serial))
				continue;
			if (add_revoked(dir, &x, x.e[j].serial, x.e[j].host, now, err, n))
				goto out;
			x.e[j].revoked = now;
			done++;
			if (report)
				fprintf(report, "revoked %s %s %s\n", x.e[j].serial, x.e[j].kind,
					x.e[j].host);
		}
		if (!found) {
			fail(err, n, "%s: no certificate issued to that host in %s/index", which[i], dir);
			goto out;
		}
		if (!done && report)
			fprintf(report, "already revoked: every certificate of %s\n", which[i]);
	}
	if (crl_write(dir, &x, &cak, &ca, days, err, n))
		goto out;
	if (report)
		fprintf(report, "%s/crl.pem: %d revoked, next update in %d days: copy it to every host\n",
			dir, x.nr, days);
	rv = 0;
out:
	idx_free(&x);
out_ca:
	mbedtls_pk_free(&cak);
	mbedtls_x509_crt_free(&ca);
	return rv;
}

int pki_ca_list(const char *dir, FILE *out, char *err, size_t n)
{
	mbedtls_pk_context cak;
	mbedtls_x509_crt ca;
	struct idx x;
	char dn[256], p[PKI_PATH_MAX];
	time_t now = time(NULL);
	if (ca_open(dir, &cak, &ca, err, n))
		return -1;
	mbedtls_pk_free(&cak);
	if (idx_read(dir, &x, err, n)) {
		mbedtls_x509_crt_free(&ca);
		return -1;
	}
	mbedtls_x509_dn_gets(dn, sizeof dn, &ca.subject);
	time_t cat = pki_time(&ca.valid_to);
	struct tm tm;
	char d[32];
	gmtime_r(&cat, &tm);
	strftime(d, sizeof d, "%Y-%m-%d", &tm);
	fprintf(out, "CA %s, valid until %s%s\n", dn, d, cat < now ? " (EXPIRED)" : "");
	mbedtls_x509_crl crl;
	mbedtls_x509_crl_init(&crl);
	if (join(p, dir, "crl", ".pem", err, n) == 0 && access(p, R_OK) == 0 &&
	    mbedtls_x509_crl_parse_file(&crl, p) == 0) {
		time_t nu = pki_time(&crl.next_update);
		gmtime_r(&nu, &tm);
		strftime(d, sizeof d, "%Y-%m-%d", &tm);
		fprintf(out, "CRL %s: %d revoked, next update %s%s\n", p, x.nr, d,
			nu < now ? " (EXPIRED: run hoptrace ca revoke DIR to refresh)" : "");
	} else
		fprintf(out, "CRL %s: none\n", p);
	mbedtls_x509_crl_free(&crl);
	fprintf(out, "%-32s  %-4s  %-10s  %-8s  %s\n", "SERIAL", "KIND", "NOT AFTER", "STATE", "HOST");
	for (int i = 0; i < x.n; i++) {
		const struct idx_ent *e = &x.e[i];
		struct tm t = {0};
		char na[16] = "?";
		if (strptime(e->not_after, "%Y%m%d%H%M%S", &t)) {
			time_t ta = timegm(&t);
			strftime(na, sizeof na, "%Y-%m-%d", &t);
			fprintf(out, "%-32s  %-4s  %-10s  %-8s  %s\n", e->serial, e->kind, na,
				e->revoked ? "revoked" : ta < now ? "expired" : "valid", e->host);
		} else
			fprintf(out, "%-32s  %-4s  %-10s  %-8s  %s\n", e->serial, e->kind, na,
				e->revoked ? "revoked" : "?", e->host);
	}
	idx_free(&x);
	mbedtls_x509_crt_free(&ca);
	return 0;
}

/* ---- mbedTLS signatures (the prototype's; kept for comparison benches) ------------------ */

int pki_sign(mbedtls_pk_context *k, const void *data, size_t len, unsigned char *sig, size_t *slen)
{
	unsigned char h[32];
	mbedtls_ctr_drbg_context *r;
	if (pki_rng(&r))
		return -1;
	if (mbedtls_sha256_ret(data, len, h, 0) ||
	    mbedtls_pk_sign(k, MBEDTLS_MD_SHA256, h, sizeof h, sig, slen, mbedtls_ctr_drbg_random, r))
		return -1;
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
		return fail(why, n, "certificate: %s", b);
	}
	if ((rv = mbedtls_sha256_ret(data, len, h, 0)) ||
	    (rv = mbedtls_pk_verify(&signer->pk, MBEDTLS_MD_SHA256, h, sizeof h, sig, slen)))
		return fail(why, n, "bad signature (-0x%04x)", (unsigned)-rv);
	return 0;
}

/* ---- part signatures: SHA-256 and the key contexts -------------------------------------
 * SHA-256 is fetched once (EVP_MD_fetch), not looked up per call. A key's EVP_PKEY_CTX,
 * set up for signing or verifying (the provider's ECDSA fetched, the key exported to it,
 * the digest named), is kept in a small pool of its key and reused: a signature or a
 * check is then a hash and EVP_PKEY_sign/EVP_PKEY_verify on the digest — the same ECDSA
 * code EVP_DigestSign/EVP_DigestVerify end in, so the same signature and the same checks.
 * The signing nonce stays OpenSSL's own (random, hedged with the key and the digest).
 * Invariants: kp->mu guards n, free[] and refs; a context is used by one thread at a
 * time (taken out of the pool, put back after); at most KPOOL_MAX are kept idle. */

#define KPOOL_MAX 4

static EVP_MD *sha256_md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md_sha256(void)
{
	pthread_once(&md_once, md_fetch);
	return sha256_md;
}

static int sha256_of(const void *data, size_t len, unsigned char h[32])
{
	unsigned int hl = 0;
	const EVP_MD *md = md_sha256();
	return md && EVP_Digest(data, len, h, &hl, md, NULL) == 1 && hl == 32 ? 0 : -1;
}

int pki_sha256(const void *data, size_t len, unsigned char h[32])
{
	return sha256_of(data, len, h);
}

struct kpool {
	pthread_mutex_t mu;
	EVP_PKEY *key;
	int sign; /* contexts for EVP_PKEY_sign, else EVP_PKEY_verify */
	int refs;
	int n;
	EVP_PKEY_CTX *free[KPOOL_MAX];
};

/* a pool for key (one reference of key taken over), refs 1 */
static struct kpool *kpool_new(EVP_PKEY *key, int sign)
{
	struct kpool *kp = calloc(1, sizeof *kp);
	if (!kp)
		return NULL;
	pthread_mutex_init(&kp->mu, NULL);
	kp->key = key;
	kp->sign = sign;
	kp->refs = 1;
	return kp;
}

static void kpool_ref(struct kpool *kp)
{
	pthread_mutex_lock(&kp->mu);
	kp->refs++;
	pthread_mutex_unlock(&kp->mu);
}

static void kpool_unref(struct kpool *kp)
{
	if (!kp)
		return;
	pthread_mutex_lock(&kp->mu);
	int last = --kp->refs == 0;
	pthread_mutex_unlock(&kp->mu);
	if (!last)
		return;
	for (int i = 0; i < kp->n; i++)
		EVP_PKEY_CTX_free(kp->free[i]);
	EVP_PKEY_free(kp->key);
	pthread_mutex_destroy(&kp->mu);
	free(kp);
}

/* a context of the pool's, or a new one set up; NULL when it cannot be made */
static EVP_PKEY_CTX *kpool_take(struct kpool *kp)
{
	EVP_PKEY_CTX *c = NULL;
	pthread_mutex_lock(&kp->mu);
	if (kp->n)
		c = kp->free[--kp->n];
	pthread_mutex_unlock(&kp->mu);
	if (c)
		return c;
	const EVP_MD *md = md_sha256();
	if (!md || !(c = EVP_PKEY_CTX_new_from_pkey(NULL, kp->key, NULL)))
		return NULL;
	if ((kp->sign ? EVP_PKEY_sign_init(c) : EVP_PKEY_verify_init(c)) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c, md) != 1) {
		EVP_PKEY_CTX_free(c);
		return NULL;
	}
	return c;
}

/* back into the pool, or freed when it is full (or the last use failed: bad = 1) */
static void kpool_give(struct kpool *kp, EVP_PKEY_CTX *c, int bad)
{
	if (!c)
		return;
	pthread_mutex_lock(&kp->mu);
	if (!bad && kp->n < KPOOL_MAX) {
		kp->free[kp->n++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&kp->mu);
	EVP_PKEY_CTX_free(c);
}

/* ---- part signatures: the signer (OpenSSL libcrypto) ----------------------------------
 * An EVP_PKEY is read-only after loading; OpenSSL 3 allows it in many threads at once,
 * each call with its own context (from the key's pool). */

struct pki_signer {
	struct kpool *kp; /* the private key and its signing contexts */
	unsigned char *der; /* the certificate */
	size_t derlen;
	char *der64; /* its base64, made once (every part carries it) */
};

int pki_crt_is_signer(const mbedtls_x509_crt *c, char *why, size_t n)
{
	if (c->ca_istrue)
		return fail(why, n, "a CA certificate is not a part-signing certificate");
	if ((c->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE)) {
		for (const mbedtls_x509_sequence *s = &c->ext_key_usage; s; s = s->next) {
			if (!s->buf.p)
				continue;
			if (!MBEDTLS_OID_CMP(MBEDTLS_OID_SERVER_AUTH, &s->buf) ||
			    !MBEDTLS_OID_CMP(MBEDTLS_OID_CLIENT_AUTH, &s->buf) ||
			    !MBEDTLS_OID_CMP(MBEDTLS_OID_ANY_EXTENDED_KEY_USAGE, &s->buf))
				return fail(why, n,
					    "a TLS certificate (extKeyUsage serverAuth/clientAuth) "
					    "is not a part-signing certificate: use HOST.sign.crt");
		}
	}
	if (!(c->ext_types & MBEDTLS_X509_EXT_KEY_USAGE) ||
	    !(c->key_usage & MBEDTLS_X509_KU_NON_REPUDIATION))
		return fail(why, n,
			    "not a part-signing certificate: no keyUsage contentCommitment "
			    "(use HOST.sign.crt)");
	return 0;
}

/* the certificate's public key as an OpenSSL key; only EC P-256 */
static EVP_PKEY *crt_pubkey(const mbedtls_x509_crt *c, char *why, size_t n)
{
	const unsigned char *p = c->pk_raw.p;
	EVP_PKEY *k = p ? d2i_PUBKEY(NULL, &p, (long)c->pk_raw.len) : NULL;
	if (!k) {
		fail(why, n, "the certificate's public key cannot be read");
		return NULL;
	}
	char grp[32] = "";
	size_t gl = 0;
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
	    !EVP_PKEY_get_utf8_string_param(k, "group", grp, sizeof grp, &gl) ||
	    strcmp(grp, "prime256v1")) {
		EVP_PKEY_free(k);
		fail(why, n, "the certificate's key is not EC P-256");
		return NULL;
	}
	return k;
}

struct pki_signer *pki_signer_load(const char *cert_file, const char *key_file, char *err,
				   size_t n)
{
	mbedtls_x509_crt c;
	struct pki_signer *s = NULL;
	EVP_PKEY *pub = NULL, *key = NULL;
	BIO *b = NULL;
	char why[256];
	mbedtls_x509_crt_init(&c);
	if (pki_crt_load(cert_file, &c, err, n))
		goto out;
	if (pki_crt_is_signer(&c, why, sizeof why)) {
		fail(err, n, "%s: %s", cert_file, why);
		goto out;
	}
	if (!(pub = crt_pubkey(&c, why, sizeof why))) {
		fail(err, n, "%s: %s", cert_file, why);
		goto out;
	}
	if (access(key_file, R_OK) != 0) {
		fail(err, n, "%s: %s", key_file, strerror(errno));
		goto out;
	}
	if (!(b = BIO_new_file(key_file, "r")) ||
	    !(key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL))) {
		fail(err, n, "%s: not a PEM private key", key_file);
		goto out;
	}
	if (EVP_PKEY_eq(pub, key) != 1) {
		fail(err, n, "%s does not match %s", key_file, cert_file);
		goto out;
	}
	if (!(s = calloc(1, sizeof *s)) || !(s->der = malloc(c.raw.len))) {
		free(s);
		s = NULL;
		fail(err, n, "out of memory");
		goto out;
	}
	if (!md_sha256() || !(s->kp = kpool_new(key, 1))) {
		free(s->der);
		free(s);
		s = NULL;
		fail(err, n, "out of memory or no SHA-256");
		goto out;
	}
	memcpy(s->der, c.raw.p, c.raw.len);
	s->derlen = c.raw.len;
	key = NULL;
	size_t need = 0;
	mbedtls_base64_encode(NULL, 0, &need, s->der, s->derlen); /* BUFFER_TOO_SMALL, need set */
	if (!(s->der64 = malloc(need + 1)) ||
	    mbedtls_base64_encode((unsigned char *)s->der64, need + 1, &need, s->der, s->derlen)) {
		pki_signer_free(s);
		s = NULL;
		fail(err, n, "out of memory");
		goto out;
	}
	s->der64[need] = 0;
out:
	BIO_free(b);
	EVP_PKEY_free(key);
	EVP_PKEY_free(pub);
	mbedtls_x509_crt_free(&c);
	return s;
}

int pki_signer_sign(struct pki_signer *s, const void *data, size_t len, unsigned char *sig,
		    size_t *slen)
{
	unsigned char h[32];
	size_t sl = PKI_SIG_MAX;
	if (sha256_of(data, len, h))
		return -1;
	EVP_PKEY_CTX *c = kpool_take(s->kp);
	int ok = c && EVP_PKEY_sign(c, sig, &sl, h, sizeof h) == 1;
	kpool_give(s->kp, c, !ok);
	if (!ok)
		return -1;
	*slen = sl;
	return 0;
}

const unsigned char *pki_signer_cert(const struct pki_signer *s, size_t *len)
{
	*len = s->derlen;
	return s->der;
}

const char *pki_signer_cert_b64(const struct pki_signer *s)
{
	return s->der64;
}

void pki_signer_free(struct pki_signer *s)
{
	if (!s)
		return;
	kpool_unref(s->kp);
	free(s->der);
	free(s->der64);
	free(s);
}

/* ---- part signatures: the trust (mbedTLS chain + CRL checks, a cache, libcrypto
 * signature checks) ---------------------------------------------------------------------
 * Invariants: t->mu guards ca, crl and the cache. mbedtls_x509_crt_verify runs under it
 * (2.28's ECP code fills the CA key's precomputed table lazily: not safe to share).
 * A cache entry is the outcome of one chain check, keyed by SHA-256 of the DER:
 * good entries live in `cache` until the certificate's notAfter; refusals live in their
 * own smaller `neg` for PKI_TRUST_NEG_S (a peer sending the same bad certificate costs
 * one check a minute). Two caches, so that a peer sending many bad certificates evicts
 * only other refusals, never a good entry (review finding 4c). A new CRL or CA bundle
 * means a new pki_trust (or pki_trust_reload): both start empty. */

#define PKI_TRUST_NEG_S 60

struct neg_ent {
	uint8_t h[32];
	int used;
	time_t until;
	uint64_t lru;
	char why[200];
};

struct trust_ent {
	uint8_t h[32];
	int used;
	time_t until;
	uint64_t lru;
	struct kpool *pub; /* the certificate's key and its verifying contexts */
	char cn[PKI_CN_MAX + 1];
	struct pki_addr addrs[PKI_ADDRS_MAX];
	int naddrs;
};

struct pki_trust {
	pthread_mutex_t mu;
	mbedtls_x509_crt ca;
	mbedtls_x509_crl crl;
	int have_crl;
	uint64_t tick;
	struct pki_trust_stats st;
	struct trust_ent cache[PKI_TRUST_CACHE];
	struct neg_ent neg[PKI_TRUST_NEG_CACHE];
};

static void cache_flush(struct pki_trust *t)
{
	for (int i = 0; i < PKI_TRUST_CACHE; i++) {
		kpool_unref(t->cache[i].pub);
		memset(&t->cache[i], 0, sizeof t->cache[i]);
	}
	memset(t->neg, 0, sizeof t->neg);
}

static int trust_read(const char *ca_file, const char *crl_file, mbedtls_x509_crt *ca,
		      mbedtls_x509_crl *crl, int *have_crl, char *err, size_t n)
{
	mbedtls_x509_crt_init(ca);
	mbedtls_x509_crl_init(crl);
	*have_crl = 0;
	if (pki_crt_load(ca_file, ca, err, n))
		goto bad;
	for (const mbedtls_x509_crt *c = ca; c && c->raw.p; c = c->next)
		if (!c->ca_istrue) {
			char cn[PKI_CN_MAX + 1] = "?";
			pki_crt_cn(c, cn);
			fail(err, n, "%s: holds \"%s\", which is not a CA certificate", ca_file, cn);
			goto bad;
		}
	if (crl_file && *crl_file) {
		if (access(crl_file, R_OK) != 0) {
			fail(err, n, "%s: %s", crl_file, strerror(errno));
			goto bad;
		}
		int rv = mbedtls_x509_crl_parse_file(crl, crl_file);
		if (rv) {
			mbed_fail(err, n, crl_file, rv);
			goto bad;
		}
		*have_crl = 1;
	}
	return 0;
bad:
	mbedtls_x509_crt_free(ca);
	mbedtls_x509_crl_free(crl);
	return -1;
}

struct pki_trust *pki_trust_load(const char *ca_file, const char *crl_file, char *err, size_t n)
{
	struct pki_trust *t = calloc(1, sizeof *t);
	if (!t) {
		fail(err, n, "out of memory");
		return NULL;
	}
	if (!md_sha256()) { /* fetched now, before a caller's sandbox */
		free(t);
		fail(err, n, "no SHA-256 in libcrypto");
		return NULL;
	}
	if (trust_read(ca_file, crl_file, &t->ca, &t->crl, &t->have_crl, err, n)) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->mu, NULL);
	return t;
}

int pki_trust_reload(struct pki_trust *t, const char *ca_file, const char *crl_file, char *err,
		     size_t n)
{
	mbedtls_x509_crt ca;
	mbedtls_x509_crl crl;
	int have;
	if (trust_read(ca_file, crl_file, &ca, &crl, &have, err, n))
		return -1; /* the old trust stays */
	pthread_mutex_lock(&t->mu);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crl_free(&t->crl);
	t->ca = ca;
	t->crl = crl;
	t->have_crl = have;
	cache_flush(t);
	t->st.reloads++;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

void pki_trust_free(struct pki_trust *t)
{
	if (!t)
		return;
	cache_flush(t);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_x509_crl_free(&t->crl);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void pki_trust_get_stats(struct pki_trust *t, struct pki_trust_stats *s)
{
	pthread_mutex_lock(&t->mu);
	*s = t->st;
	pthread_mutex_unlock(&t->mu);
}

/* the flags of a failed verify as one line: "expired; revoked" */
static void verify_why(uint32_t flags, char *why, size_t n)
{
	char b[512];
	size_t o = 0;
	if (mbedtls_x509_crt_verify_info(b, sizeof b, "", flags) < 0)
		snprintf(b, sizeof b, "flags 0x%x", (unsigned)flags);
	for (char *p = b; *p; p++) {
		if (*p == '\n') {
			if (p[1])
				*p = ';';
			else
				*p = 0;
		}
	}
	o = strlen(b);
	while (o && b[o - 1] == ';')
		b[--o] = 0;
	if (n) {
		size_t k = o < n - 1 ? o : n - 1;
		memcpy(why, b, k);
		why[k] = 0;
	}
}

/* chain check of a parsed certificate; call with t->mu held */
static int trust_check_locked(struct pki_trust *t, mbedtls_x509_crt *c, char *why, size_t n)
{
	uint32_t flags = 0;
	int rv = mbedtls_x509_crt_verify(c, &t->ca, t->have_crl ? &t->crl : NULL, NULL, &flags,
					 NULL, NULL);
	if (rv) {
		char b[300];
		if (flags)
			verify_why(flags, b, sizeof b);
		else
			pki_strerror(rv, b, sizeof b);
		return fail(why, n, "certificate: %s", b);
	}
	return 0;
}

static struct trust_ent *cache_find(struct pki_trust *t, const uint8_t h[32], time_t now)
{
	for (int i = 0; i < PKI_TRUST_CACHE; i++) {
		struct trust_ent *e = &t->cache[i];
		if (e->used && !memcmp(e->h, h, 32)) {
			if (now >= e->until) { /* expired since */
				kpool_unref(e->pub);
				memset(e, 0, sizeof *e);
				return NULL;
			}
			e->lru = ++t->tick;
			return e;
		}
	}
	return NULL;
}

static struct trust_ent *cache_slot(struct pki_trust *t)
{
	struct trust_ent *v = &t->cache[0];
	for (int i = 0; i < PKI_TRUST_CACHE; i++) {
		if (!t->cache[i].used)
			return &t->cache[i];
		if (t->cache[i].lru < v->lru)
			v = &t->cache[i];
	}
	kpool_unref(v->pub);
	memset(v, 0, sizeof *v);
	t->st.evictions++;
	return v;
}

static struct neg_ent *neg_find(struct pki_trust *t, const uint8_t h[32], time_t now)
{
	for (int i = 0; i < PKI_TRUST_NEG_CACHE; i++) {
		struct neg_ent *e = &t->neg[i];
		if (e->used && !memcmp(e->h, h, 32)) {
			if (now >= e->until) { /* aged out */
				memset(e, 0, sizeof *e);
				return NULL;
			}
			e->lru = ++t->tick;
			return e;
		}
	}
	return NULL;
}

/* remembers a refusal, evicting the oldest refusal (never a good entry) */
static void neg_add(struct pki_trust *t, const uint8_t h[32], time_t now, const char *why)
{
	struct neg_ent *v = &t->neg[0];
	for (int i = 0; i < PKI_TRUST_NEG_CACHE; i++) {
		if (!t->neg[i].used) {
			v = &t->neg[i];
			break;
		}
		if (t->neg[i].lru < v->lru)
			v = &t->neg[i];
	}
	if (v->used)
		t->st.neg_evictions++;
	memset(v, 0, sizeof *v);
	v->used = 1;
	memcpy(v->h, h, 32);
	v->until = now + PKI_TRUST_NEG_S;
	v->lru = ++t->tick;
	snprintf(v->why, sizeof v->why, "%s", why);
}

int pki_trust_verify_part(struct pki_trust *t, const unsigned char *der, size_t derlen,
			  const void *data, size_t len, const unsigned char *sig, size_t slen,
			  char cn[PKI_CN_MAX + 1], struct pki_addr *addrs, int *naddrs, char *why,
			  size_t n)
{
	uint8_t h[32];
	time_t now = time(NULL);
	EVP_PKEY *pub = NULL;
	struct trust_ent *e;
	int cap = naddrs ? *naddrs : 0, rv = -1;
	if (naddrs)
		*naddrs = 0;
	if (cn)
		cn[0] = 0;
	if (!der || derlen == 0 || derlen > PKI_CERT_MAX)
		return fail(why, n, "certificate: missing or longer than %d bytes", PKI_CERT_MAX);
	if (!sig || slen == 0 || slen > PKI_SIG_MAX)
		return fail(why, n, "signature: missing or longer than %d bytes", PKI_SIG_MAX);
	if (sha256_of(der, derlen, h))
		return fail(why, n, "sha256 failed");

	pthread_mutex_lock(&t->mu);
	struct neg_ent *ne = neg_find(t, h, now);
	if (ne) {
		t->st.hits++;
		fail(why, n, "%s", ne->why);
		pthread_mutex_unlock(&t->mu);
		return -1;
	}
	if ((e = cache_find(t, h, now))) {
		t->st.hits++;
	} else {
		mbedtls_x509_crt c;
		char w[200], cn1[PKI_CN_MAX + 1];
		int ok;
		t->st.misses++;
		mbedtls_x509_crt_init(&c);
		e = NULL;
		if (mbedtls_x509_crt_parse_der(&c, der, derlen)) {
			snprintf(w, sizeof w, "certificate: not a DER X.509 certificate");
			ok = 0;
		} else {
			ok = trust_check_locked(t, &c, w, sizeof w) == 0 &&
			     pki_crt_is_signer(&c, w, sizeof w) == 0;
			if (ok && pki_crt_cn(&c, cn1)) {
				snprintf(w, sizeof w, "certificate: no usable CN");
				ok = 0;
			}
			if (ok && !(pub = crt_pubkey(&c, w, sizeof w)))
				ok = 0;
		}
		if (!ok) {
			neg_add(t, h, now, w);
			mbedtls_x509_crt_free(&c);
			t->st.refused++;
			fail(why, n, "%s", w);
			pthread_mutex_unlock(&t->mu);
			return -1;
		}
		struct kpool *kp = kpool_new(pub, 0);
		if (!kp) {
			EVP_PKEY_free(pub);
			mbedtls_x509_crt_free(&c);
			fail(why, n, "out of memory");
			pthread_mutex_unlock(&t->mu);
			return -1;
		}
		pub = NULL;
		e = cache_slot(t);
		e->used = 1;
		memcpy(e->h, h, 32);
		e->lru = ++t->tick;
		e->until = pki_time(&c.valid_to);
		e->pub = kp;
		pki_crt_cn(&c, e->cn);
		e->naddrs = pki_crt_addrs(&c, e->addrs, PKI_ADDRS_MAX);
		mbedtls_x509_crt_free(&c);
	}
	/* e is a good entry: take what the caller needs, then check the signature unlocked */
	char signer[PKI_CN_MAX + 1];
	struct kpool *kp = e->pub;
	kpool_ref(kp);
	memcpy(signer, e->cn, sizeof signer);
	if (cn)
		memcpy(cn, e->cn, sizeof e->cn);
	if (addrs && naddrs) {
		int k = e->naddrs < cap ? e->naddrs : cap;
		memcpy(addrs, e->addrs, (size_t)k * sizeof *addrs);
		*naddrs = k;
	}
	pthread_mutex_unlock(&t->mu);

	unsigned char dg[32];
	EVP_PKEY_CTX *vc = sha256_of(data, len, dg) ? NULL : kpool_take(kp);
	if (vc && EVP_PKEY_verify(vc, sig, slen, dg, sizeof dg) == 1)
		rv = 0;
	else
		fail(why, n, "signature: does not verify with the certificate of %s", signer);
	kpool_give(kp, vc, rv != 0);
	kpool_unref(kp);
	if (rv) {
		if (naddrs)
			*naddrs = 0;
		pthread_mutex_lock(&t->mu);
		t->st.bad_sig++;
		pthread_mutex_unlock(&t->mu);
	}
	return rv;
}
