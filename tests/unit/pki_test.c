/* pki_test.c — common/pki.c: the CA directory (init, issue, revoke, list), the part
 * signer and the trust (chain, CRL, part-signing usage, signature, cache), without
 * root. Every certificate is made in a scratch directory by the library itself. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/x509_crt.h>

#include "hoptrace/fleetconf.h"
#include "hoptrace/pki.h"
#include "test.h"

static char top[256], A[300], B[300];
static char err[4096];

static const char *path(const char *dir, const char *name)
{
	static char p[8][600];
	static int i;
	i = (i + 1) % 8;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

static void rm_rf(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	if (!dd)
		return;
	while ((e = readdir(dd))) {
		char p[900];
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", d, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(dd);
	rmdir(d);
}

static unsigned char *slurp_der(const char *crt, size_t *len)
{
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	if (pki_crt_load(crt, &c, err, sizeof err)) {
		mbedtls_x509_crt_free(&c);
		return NULL;
	}
	unsigned char *d = malloc(c.raw.len);
	memcpy(d, c.raw.p, c.raw.len);
	*len = c.raw.len;
	mbedtls_x509_crt_free(&c);
	return d;
}

static int issue(const char *dir, const char *host, const char *a1, const char *a2, int days)
{
	char *addrs[2] = {(char *)a1, (char *)a2};
	int rv = pki_issue(dir, host, addrs, a2 ? 2 : 1, days, NULL, err, sizeof err);
	if (rv)
		fprintf(stderr, "    issue %s: %s\n", host, err);
	return rv;
}

/* fixtures: CA A with h1 (v4+v6), hr (revoked), hx (expired yesterday); CA B with hb */
static void setup(void)
{
	/* tmpfs when there is one: issue fsyncs every file it writes */
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR")
			  : access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(top, sizeof top, "%s/pki_test.XXXXXX", tmp);
	if (!mkdtemp(top)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(A, sizeof A, "%s/a", top);
	snprintf(B, sizeof B, "%s/b", top);
	if (pki_ca_init(A, 3650, err, sizeof err) || pki_ca_init(B, 3650, err, sizeof err)) {
		fprintf(stderr, "ca init: %s\n", err);
		exit(1);
	}
	char *rv[1] = {"hr"};
	if (issue(A, "h1", "10.0.0.1", "fd00::1", 30) || issue(A, "hr", "10.0.0.9", NULL, 30) ||
	    issue(A, "hx", "10.0.0.8", NULL, -1) || issue(B, "hb", "10.0.0.1", NULL, 30) ||
	    pki_revoke(A, rv, 1, 30, NULL, err, sizeof err)) {
		fprintf(stderr, "fixtures: %s\n", err);
		exit(1);
	}
}

/* out = A's file NAME then B's (a CA bundle, two CRLs in one file) */
static void cat_ab(const char *out, const char *name)
{
	FILE *o = fopen(out, "w");
	for (int i = 0; o && i < 2; i++) {
		FILE *f = fopen(path(i ? B : A, name), "r");
		char buf[4096];
		size_t k;
		while (f && (k = fread(buf, 1, sizeof buf, f)) > 0)
			fwrite(buf, 1, k, o);
		if (f)
			fclose(f);
	}
	if (o)
		fclose(o);
}

static struct pki_trust *trust_a(void)
{
	struct pki_trust *t = pki_trust_load(path(A, "ca.crt"), path(A, "crl.pem"), err, sizeof err);
	if (!t)
		fprintf(stderr, "    trust_load: %s\n", err);
	return t;
}

/* sign `msg` with host's part key from dir, verify with t; returns verify's result */
static int sign_verify(struct pki_trust *t, const char *dir, const char *host, char *why,
		       size_t wn, char cn[PKI_CN_MAX + 1], struct pki_addr *a, int *na)
{
	char c[100], k[100];
	snprintf(c, sizeof c, "%s.sign.crt", host);
	snprintf(k, sizeof k, "%s.sign.key", host);
	struct pki_signer *s = pki_signer_load(path(dir, c), path(dir, k), err, sizeof err);
	if (!s) {
		snprintf(why, wn, "signer_load: %.200s", err);
		return -2;
	}
	unsigned char sig[PKI_SIG_MAX];
	size_t sl = 0, dl;
	const char *msg = "{\"host\":\"h1\",\"nonce\":\"00112233\"}";
	CHECK_EQ_INT(pki_signer_sign(s, msg, strlen(msg), sig, &sl), 0);
	CHECK(sl > 8 && sl <= 72);
	const unsigned char *der = pki_signer_cert(s, &dl);
	/* the base64 made once at load is the certificate's */
	const char *d64 = pki_signer_cert_b64(s);
	unsigned char back[PKI_CERT_MAX];
	size_t bl = 0;
	CHECK(d64 && mbedtls_base64_decode(back, sizeof back, &bl, (const unsigned char *)d64,
					   strlen(d64)) == 0 &&
	      bl == dl && !memcmp(back, der, dl));
	int rv = pki_trust_verify_part(t, der, dl, msg, strlen(msg), sig, sl, cn, a, na, why, wn);
	pki_signer_free(s);
	return rv;
}

static void test_round_trip(void)
{
	struct pki_trust *t = trust_a();
	char why[300] = "", cn[PKI_CN_MAX + 1];
	struct pki_addr a[PKI_ADDRS_MAX];
	int na = PKI_ADDRS_MAX;
	CHECK(t);
	if (!t)
		return;
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, cn, a, &na), 0);
	if (why[0])
		fprintf(stderr, "    why: %s\n", why);
	CHECK_EQ_STR(cn, "h1");
	CHECK_EQ_INT(na, 2);
	uint8_t v4[4], v6[16], m[16];
	inet_pton(AF_INET, "10.0.0.1", v4);
	inet_pton(AF_INET6, "fd00::1", v6);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", m);
	CHECK(pki_addr_in(a, na, AF_INET, v4));
	CHECK(pki_addr_in(a, na, AF_INET6, v6));
	CHECK(pki_addr_in(a, na, AF_INET6, m)); /* v4-mapped is taken as v4 */
	inet_pton(AF_INET, "10.0.0.2", v4);
	CHECK(!pki_addr_in(a, na, AF_INET, v4));
	CHECK(!pki_addr_in(a, na, AF_UNIX, v4));
	/* capacity 1: one address back */
	na = 1;
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, cn, a, &na), 0);
	CHECK_EQ_INT(na, 1);
	/* everything optional */
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), 0);
	pki_trust_free(t);
}

static void test_wrong_key(void)
{
	/* a key that is not the certificate's is refused at load */
	struct pki_signer *s =
		pki_signer_load(path(A, "h1.sign.crt"), path(A, "hr.sign.key"), err, sizeof err);
	CHECK(!s);
	CHECK(strstr(err, "does not match"));
	/* a signature by another key under h1's certificate does not verify */
	struct pki_signer *h1 =
		pki_signer_load(path(A, "h1.sign.crt"), path(A, "h1.sign.key"), err, sizeof err);
	struct pki_signer *o =
		pki_signer_load(path(B, "hb.sign.crt"), path(B, "hb.sign.key"), err, sizeof err);
	struct pki_trust *t = trust_a();
	CHECK(h1 && o && t);
	if (!h1 || !o || !t)
		return;
	unsigned char sig[PKI_SIG_MAX];
	size_t sl, dl;
	char why[300] = "";
	CHECK_EQ_INT(pki_signer_sign(o, "data", 4, sig, &sl), 0);
	const unsigned char *der = pki_signer_cert(h1, &dl);
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, "data", 4, sig, sl, NULL, NULL, NULL, why,
					   sizeof why),
		     -1);
	CHECK(strstr(why, "signature"));
	pki_signer_free(h1);
	pki_signer_free(o);
	pki_trust_free(t);
}

static void test_other_ca(void)
{
	struct pki_trust *t = trust_a();
	char why[300] = "";
	CHECK(t);
	if (!t)
		return;
	CHECK_EQ_INT(sign_verify(t, B, "hb", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "not correctly signed by the trusted CA"));
	pki_trust_free(t);
	/* a bundle of both CAs (CA rotation) accepts either */
	char bundle[600];
	snprintf(bundle, sizeof bundle, "%s/bundle.crt", top);
	cat_ab(bundle, "ca.crt");
	t = pki_trust_load(bundle, path(A, "crl.pem"), err, sizeof err);
	CHECK(t);
	if (!t)
		return;
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), 0);
	CHECK_EQ_INT(sign_verify(t, B, "hb", why, sizeof why, NULL, NULL, NULL), 0);
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), -1); /* A's CRL */
	pki_trust_free(t);
	/* and both CAs' CRLs in one file: each applies to its own CA's certificates */
	char *hb[1] = {"hb"}, crls[600];
	CHECK_EQ_INT(pki_revoke(B, hb, 1, 30, NULL, err, sizeof err), 0);
	snprintf(crls, sizeof crls, "%s/crls.pem", top);
	cat_ab(crls, "crl.pem");
	t = pki_trust_load(bundle, crls, err, sizeof err);
	CHECK(t);
	if (!t)
		return;
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), 0);
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "revoked"));
	CHECK_EQ_INT(sign_verify(t, B, "hb", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "revoked"));
	pki_trust_free(t);
}

static void test_expired(void)
{
	struct pki_trust *t = trust_a();
	char why[300] = "";
	CHECK(t);
	if (!t)
		return;
	CHECK_EQ_INT(sign_verify(t, A, "hx", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "expired"));
	pki_trust_free(t);
}

static void test_revoked(void)
{
	struct pki_trust *t = trust_a();
	char why[300] = "";
	CHECK(t);
	if (!t)
		return;
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "revoked"));
	pki_trust_free(t);
	/* without the CRL it would pass: the CRL is what refuses it */
	t = pki_trust_load(path(A, "ca.crt"), NULL, err, sizeof err);
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), 0);
	pki_trust_free(t);
}

static void test_tls_cert_refused(void)
{
	struct pki_signer *s = pki_signer_load(path(A, "h1.crt"), path(A, "h1.key"), err, sizeof err);
	CHECK(!s);
	CHECK(strstr(err, "TLS certificate"));
	/* and a part carrying the TLS certificate, signed by its key */
	mbedtls_pk_context k;
	size_t dl, sl;
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], *der = slurp_der(path(A, "h1.crt"), &dl);
	CHECK_EQ_INT(pki_key_load(path(A, "h1.key"), &k, err, sizeof err), 0);
	CHECK_EQ_INT(pki_sign(&k, "data", 4, sig, &sl), 0);
	struct pki_trust *t = trust_a();
	char why[300] = "";
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, "data", 4, sig, sl, NULL, NULL, NULL, why,
					   sizeof why),
		     -1);
	CHECK(strstr(why, "TLS certificate"));
	/* the CA certificate is no signer either */
	free(der);
	der = slurp_der(path(A, "ca.crt"), &dl);
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, "data", 4, sig, sl, NULL, NULL, NULL, why,
					   sizeof why),
		     -1);
	free(der);
	mbedtls_pk_free(&k);
	pki_trust_free(t);
}

static void test_tampered(void)
{
	struct pki_signer *s =
		pki_signer_load(path(A, "h1.sign.crt"), path(A, "h1.sign.key"), err, sizeof err);
	struct pki_trust *t = trust_a();
	CHECK(s && t);
	if (!s || !t)
		return;
	char msg[] = "{\"who\":\"ssh[812]\"}";
	unsigned char sig[PKI_SIG_MAX];
	size_t sl, dl;
	char why[300];
	const unsigned char *der = pki_signer_cert(s, &dl);
	CHECK_EQ_INT(pki_signer_sign(s, msg, strlen(msg), sig, &sl), 0);
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, msg, strlen(msg), sig, sl, NULL, NULL, NULL,
					   why, sizeof why),
		     0);
	msg[3] ^= 1;
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, msg, strlen(msg), sig, sl, NULL, NULL, NULL,
					   why, sizeof why),
		     -1);
	CHECK(strstr(why, "signature: does not verify with the certificate of h1"));
	msg[3] ^= 1;
	sig[sl - 1] ^= 0x40;
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, msg, strlen(msg), sig, sl, NULL, NULL, NULL,
					   why, sizeof why),
		     -1);
	sig[sl - 1] ^= 0x40;
	/* truncated signature, empty data */
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, msg, strlen(msg), sig, sl - 1, NULL, NULL,
					   NULL, why, sizeof why),
		     -1);
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, msg, 0, sig, sl, NULL, NULL, NULL, why,
					   sizeof why),
		     -1);
	/* a signature over empty data is fine */
	CHECK_EQ_INT(pki_signer_sign(s, "", 0, sig, &sl), 0);
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, "", 0, sig, sl, NULL, NULL, NULL, why,
					   sizeof why),
		     0);
	/* the signature is a standard DER ECDSA-Sig-Value: mbedTLS verifies it too */
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	mbedtls_x509_crt_parse_der(&c, der, dl);
	CHECK_EQ_INT(pki_signer_sign(s, msg, strlen(msg), sig, &sl), 0);
	mbedtls_x509_crt ca;
	mbedtls_x509_crt_init(&ca);
	pki_crt_load(path(A, "ca.crt"), &ca, err, sizeof err);
	CHECK_EQ_INT(pki_verify(&c, &ca, msg, strlen(msg), sig, sl, why, sizeof why), 0);
	mbedtls_x509_crt_free(&c);
	mbedtls_x509_crt_free(&ca);
	pki_signer_free(s);
	pki_trust_free(t);
}

static void test_garbage(void)
{
	struct pki_trust *t = trust_a();
	unsigned char junk[2048], sig[PKI_SIG_MAX] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
	char why[300], cn[PKI_CN_MAX + 1];
	struct pki_addr a[4];
	int na = 4;
	size_t dl;
	unsigned char *der = slurp_der(path(A, "h1.sign.crt"), &dl);
	CHECK(t && der);
	if (!t || !der)
		return;
	srand(7);
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (unsigned char)rand();
	CHECK_EQ_INT(pki_trust_verify_part(t, junk, sizeof junk, "x", 1, sig, 8, cn, a, &na, why,
					   sizeof why),
		     -1);
	CHECK(strstr(why, "not a DER X.509"));
	CHECK_EQ_INT(na, 0);
	CHECK_EQ_INT(pki_trust_verify_part(t, NULL, 0, "x", 1, sig, 8, cn, a, &na, why, sizeof why),
		     -1);
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, "x", 1, NULL, 0, cn, a, &na, why, sizeof why),
		     -1);
	CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, "x", 1, sig, PKI_SIG_MAX + 1, cn, a, &na, why,
					   sizeof why),
		     -1);
	CHECK_EQ_INT(pki_trust_verify_part(t, junk, PKI_CERT_MAX + 1, "x", 1, sig, 8, cn, a, &na,
					   why, sizeof why),
		     -1);
	/* every truncation and many single-byte changes of a good certificate */
	for (size_t k = 0; k < dl; k++) {
		CHECK_EQ_INT(pki_trust_verify_part(t, der, k, "x", 1, sig, 8, cn, a, &na, why,
						   sizeof why),
			     -1);
		unsigned char *m = malloc(dl);
		memcpy(m, der, dl);
		m[k] ^= (unsigned char)(1 + k % 255);
		CHECK_EQ_INT(pki_trust_verify_part(t, m, dl, "x", 1, sig, 8, cn, a, &na, why,
						   sizeof why),
			     -1);
		free(m);
	}
	/* a garbage signature over the good certificate */
	for (int k = 1; k <= PKI_SIG_MAX; k++)
		CHECK_EQ_INT(pki_trust_verify_part(t, der, dl, "x", 1, junk, (size_t)k, cn, a, &na,
						   why, sizeof why),
			     -1);
	free(der);
	pki_trust_free(t);
}

static void test_cache(void)
{
	struct pki_trust *t = trust_a();
	struct pki_trust_stats st;
	char why[300];
	CHECK(t);
	if (!t)
		return;
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), 0);
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.misses, 1);
	CHECK_EQ_INT(st.hits, 0);
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), 0);
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), 0);
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.misses, 1);
	CHECK_EQ_INT(st.hits, 2);
	/* a refused certificate is remembered too (no second chain check) */
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "revoked"));
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.misses, 2);
	CHECK_EQ_INT(st.hits, 3);
	CHECK_EQ_INT(st.refused, 1);
	/* reload flushes: revoke h1 now, reload, and its cached verdict is gone */
	char *h1[1] = {"h1"};
	CHECK_EQ_INT(pki_revoke(A, h1, 1, 30, NULL, err, sizeof err), 0);
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), 0); /* cached */
	CHECK_EQ_INT(pki_trust_reload(t, path(A, "ca.crt"), path(A, "crl.pem"), err, sizeof err), 0);
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "revoked"));
	/* a failed reload keeps the old trust */
	CHECK_EQ_INT(pki_trust_reload(t, path(A, "nosuch.crt"), NULL, err, sizeof err), -1);
	CHECK(strstr(err, "nosuch.crt: No such file"));
	CHECK_EQ_INT(sign_verify(t, A, "h1", why, sizeof why, NULL, NULL, NULL), -1);
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.reloads, 1);
	pki_trust_free(t);
}

/* more certificates than the cache holds: bounded, the oldest evicted, all still verify */
static void test_cache_bound(void)
{
	char d[600];
	snprintf(d, sizeof d, "%s/many", top);
	struct pki_trust *t = trust_a();
	struct pki_trust_stats st;
	int n = PKI_TRUST_CACHE + 8, bad = 0;
	char why[300];
	for (int i = 0; i < n && !bad; i++) {
		char host[32], *addr[1] = {"10.1.0.1"};
		snprintf(host, sizeof host, "m%d", i);
		if (pki_issue(A, host, addr, 1, 30, d, err, sizeof err) ||
		    sign_verify(t, d, host, why, sizeof why, NULL, NULL, NULL))
			bad = 1;
	}
	CHECK_EQ_INT(bad, 0);
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.evictions, 8);
	CHECK_EQ_INT(sign_verify(t, d, "m0", why, sizeof why, NULL, NULL, NULL), 0);
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.evictions, 9); /* m0 was evicted: checked again */
	pki_trust_free(t);
}

/* finding 4c: refusals have their own cache. A peer sending many distinct bad certificates
 * (more than both caches hold) pushes out only other refusals: the good entries stay, and
 * a repeated refusal within the last PKI_TRUST_NEG_CACHE is still a hit */
static void test_cache_neg(void)
{
	char d[600];
	snprintf(d, sizeof d, "%s/neg", top);
	struct pki_trust *t = trust_a();
	struct pki_trust_stats st;
	char why[300];
	int good = 8, bad = 0;
	CHECK(t);
	if (!t)
		return;
	for (int i = 0; i < good && !bad; i++) {
		char host[32], *addr[1] = {"10.2.0.1"};
		snprintf(host, sizeof host, "g%d", i);
		if (pki_issue(A, host, addr, 1, 30, d, err, sizeof err) ||
		    sign_verify(t, d, host, why, sizeof why, NULL, NULL, NULL))
			bad = 1;
	}
	CHECK_EQ_INT(bad, 0);
	/* bad certificates, each distinct: garbage DER (cheap) and the revoked hr */
	unsigned char junk[64], sig[8] = {0x30, 6, 2, 1, 1, 2, 1, 1};
	int nbad = PKI_TRUST_CACHE + PKI_TRUST_NEG_CACHE + 16;
	for (int i = 0; i < nbad; i++) {
		memset(junk, 0x5a, sizeof junk);
		memcpy(junk, &i, sizeof i);
		CHECK_EQ_INT(pki_trust_verify_part(t, junk, sizeof junk, "x", 1, sig, sizeof sig, NULL,
						   NULL, NULL, why, sizeof why),
			     -1);
	}
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), -1);
	pki_trust_get_stats(t, &st);
	uint64_t misses = st.misses;
	CHECK_EQ_INT(st.evictions, 0);
	CHECK_EQ_INT(st.neg_evictions, nbad + 1 - PKI_TRUST_NEG_CACHE);
	/* every good entry is still cached: no new chain check */
	for (int i = 0; i < good; i++) {
		char host[32];
		snprintf(host, sizeof host, "g%d", i);
		CHECK_EQ_INT(sign_verify(t, d, host, why, sizeof why, NULL, NULL, NULL), 0);
	}
	/* the last refusal is remembered (a hit), the first one aged out of the 64 (a miss) */
	CHECK_EQ_INT(sign_verify(t, A, "hr", why, sizeof why, NULL, NULL, NULL), -1);
	CHECK(strstr(why, "revoked"));
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.misses, misses);
	int z = 0;
	memset(junk, 0x5a, sizeof junk);
	memcpy(junk, &z, sizeof z);
	CHECK_EQ_INT(pki_trust_verify_part(t, junk, sizeof junk, "x", 1, sig, sizeof sig, NULL, NULL,
					   NULL, why, sizeof why),
		     -1);
	CHECK(strstr(why, "not a DER"));
	pki_trust_get_stats(t, &st);
	CHECK_EQ_INT(st.misses, misses + 1);
	CHECK_EQ_INT(st.evictions, 0);
	pki_trust_free(t);
}

/* path() hands out static buffers: the threads get their file names made before they
 * start (two threads in path() at once wrote one buffer, and a load failed now and then) */
struct thr {
	struct pki_trust *t;
	const char *crt, *key;
	char err[300];
	int bad;
};

static void *thr_main(void *p)
{
	struct thr *a = p;
	struct pki_signer *s = pki_signer_load(a->crt, a->key, a->err, sizeof a->err);
	if (!s) {
		fprintf(stderr, "thread: %s\n", a->err);
		a->bad++;
		return NULL;
	}
	for (int i = 0; i < 200; i++) {
		unsigned char sig[PKI_SIG_MAX];
		size_t sl, dl;
		char why[200], cn[PKI_CN_MAX + 1];
		char msg[32];
		snprintf(msg, sizeof msg, "part %d", i);
		const unsigned char *der = pki_signer_cert(s, &dl);
		if (pki_signer_sign(s, msg, strlen(msg), sig, &sl) ||
		    pki_trust_verify_part(a->t, der, dl, msg, strlen(msg), sig, sl, cn, NULL, NULL,
					  why, sizeof why) ||
		    strcmp(cn, "h1"))
			a->bad++;
	}
	pki_signer_free(s);
	return NULL;
}

static void test_threads(void)
{
	/* h1 is revoked by test_cache; use a trust without the CRL */
	struct pki_trust *t = pki_trust_load(path(A, "ca.crt"), NULL, err, sizeof err);
	pthread_t th[4];
	struct thr a[4];
	char crt[600], key[600];
	snprintf(crt, sizeof crt, "%s", path(A, "h1.sign.crt"));
	snprintf(key, sizeof key, "%s", path(A, "h1.sign.key"));
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thr){.t = t, .crt = crt, .key = key};
		pthread_create(&th[i], NULL, thr_main, &a[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(a[i].bad, 0);
	}
	pki_trust_free(t);
}

/* the pooled contexts (≤ 4 a key) shared by more threads than that, one signer and one
 * cached certificate: every genuine signature verifies, every altered one (the message
 * or the signature) is refused — a context reused after a success or a failure keeps no
 * outcome */
struct pool_thr {
	struct pki_trust *t;
	struct pki_signer *s;
	int bad;
};

static void *pool_main(void *p)
{
	struct pool_thr *a = p;
	for (int i = 0; i < 150; i++) {
		unsigned char sig[PKI_SIG_MAX];
		size_t sl = 0, dl;
		char why[200], msg[32];
		snprintf(msg, sizeof msg, "pooled part %d", i);
		const unsigned char *der = pki_signer_cert(a->s, &dl);
		if (pki_signer_sign(a->s, msg, strlen(msg), sig, &sl)) {
			a->bad++;
			continue;
		}
		int good = pki_trust_verify_part(a->t, der, dl, msg, strlen(msg), sig, sl, NULL, NULL,
						 NULL, why, sizeof why);
		msg[0] ^= 1;
		int moved = pki_trust_verify_part(a->t, der, dl, msg, strlen(msg), sig, sl, NULL,
						  NULL, NULL, why, sizeof why);
		msg[0] ^= 1;
		sig[sl - 1] ^= 0x01;
		int flipped = pki_trust_verify_part(a->t, der, dl, msg, strlen(msg), sig, sl, NULL,
						    NULL, NULL, why, sizeof why);
		if (good != 0 || moved == 0 || flipped == 0)
			a->bad++;
	}
	return NULL;
}

static void test_pools(void)
{
	struct pki_trust *t = pki_trust_load(path(A, "ca.crt"), NULL, err, sizeof err);
	struct pki_signer *s =
		pki_signer_load(path(A, "h1.sign.crt"), path(A, "h1.sign.key"), err, sizeof err);
	CHECK(t && s);
	if (!t || !s) {
		pki_trust_free(t);
		pki_signer_free(s);
		return;
	}
	pthread_t th[6];
	struct pool_thr a[6];
	for (int i = 0; i < 6; i++) {
		a[i] = (struct pool_thr){t, s, 0};
		pthread_create(&th[i], NULL, pool_main, &a[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(a[i].bad, 0);
	}
	struct pki_trust_stats st;
	pki_trust_get_stats(t, &st);
	CHECK(st.bad_sig == 6 * 150 * 2);
	pki_signer_free(s);
	pki_trust_free(t);
}

static void test_ca_dir(void)
{
	/* issue refusals, and the files a refused issue leaves: none */
	char *bad[1] = {"10.0.0.256"}, *ok[1] = {"10.0.0.5"}, *two[2] = {"10.0.0.5", "10.0.0.5"};
	CHECK_EQ_INT(pki_issue(A, "h5", bad, 1, 30, NULL, err, sizeof err), -1);
	CHECK(strstr(err, "not an IPv4 or IPv6 address"));
	CHECK_EQ_INT(pki_issue(A, "h5", two, 2, 30, NULL, err, sizeof err), -1);
	CHECK(strstr(err, "given twice"));
	CHECK_EQ_INT(pki_issue(A, "h 5", ok, 1, 30, NULL, err, sizeof err), -1);
	CHECK_EQ_INT(pki_issue(A, "h5", ok, 0, 30, NULL, err, sizeof err), -1);
	CHECK_EQ_INT(pki_issue(A, "h1", ok, 1, 30, NULL, err, sizeof err), -1);
	CHECK(strstr(err, "already exists"));
	CHECK(access(path(A, "h5.key"), F_OK) != 0);
	CHECK_EQ_INT(pki_ca_init(A, 10, err, sizeof err), -1);
	CHECK(strstr(err, "already holds a CA"));
	/* host names */
	CHECK_EQ_INT(pki_host_ok("web-1.example.org", err, sizeof err), 0);
	CHECK_EQ_INT(pki_host_ok("h_2", err, sizeof err), 0);
	const char *no[] = {"", "-x", ".x", "x.", "a..b", "a/b", "a,b", "a=b", "a b", "ca", "crl",
			    "index", "revoked",
			    "0123456789012345678901234567890123456789012345678901234567890123456789"};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK_EQ_INT(pki_host_ok(no[i], err, sizeof err), -1);
	/* kinds */
	mbedtls_x509_crt c;
	const char *f[4] = {"ca.crt", "h1.crt", "h1.sign.crt", NULL};
	int want[3] = {PKI_KIND_CA, PKI_KIND_TLS, PKI_KIND_SIGN};
	for (int i = 0; f[i]; i++) {
		mbedtls_x509_crt_init(&c);
		CHECK_EQ_INT(pki_crt_load(path(A, f[i]), &c, err, sizeof err), 0);
		CHECK_EQ_INT(pki_crt_kind(&c), want[i]);
		CHECK_EQ_INT(pki_crt_names_ip(&c, "10.0.0.1"), i > 0);
		CHECK_EQ_INT(pki_crt_names_ip(&c, "::ffff:10.0.0.1"), i > 0);
		CHECK_EQ_INT(pki_crt_names_ip(&c, "fd00::1"), i > 0);
		CHECK_EQ_INT(pki_crt_names_ip(&c, "fd00::2"), 0);
		CHECK_EQ_INT(pki_crt_names_ip(&c, "junk"), 0);
		mbedtls_x509_crt_free(&c);
	}
	/* list */
	char lp[600];
	snprintf(lp, sizeof lp, "%s/list.txt", top);
	FILE *o = fopen(lp, "w+");
	CHECK_EQ_INT(pki_ca_list(A, o, err, sizeof err), 0);
	rewind(o);
	char line[300];
	int hx_expired = 0, hr_revoked = 0;
	while (fgets(line, sizeof line, o)) {
		if (strstr(line, "expired") && strstr(line, " hx\n"))
			hx_expired++;
		if (strstr(line, "revoked") && strstr(line, " hr\n"))
			hr_revoked++;
	}
	fclose(o);
	CHECK_EQ_INT(hx_expired, 2);
	CHECK_EQ_INT(hr_revoked, 2);
	/* the trust refuses a CA file that holds a host certificate */
	CHECK(!pki_trust_load(path(A, "h1.crt"), NULL, err, sizeof err));
	CHECK(strstr(err, "not a CA certificate"));
	CHECK(!pki_trust_load(path(A, "ca.crt"), path(A, "nosuch.pem"), err, sizeof err));
	CHECK(!pki_trust_load(path(A, "ca.crt"), path(A, "h1.crt"), err, sizeof err));
}

/* ---- fleetconf: [fleet] and fleet_check ---------------------------------------------- */

static int conf_of(struct fleet_conf *f, const char *text)
{
	char p[600];
	snprintf(p, sizeof p, "%s/f.conf", top);
	FILE *o = fopen(p, "w");
	fputs(text, o);
	fclose(o);
	return fleet_conf_load(p, 1, f, err, sizeof err);
}

/* a fleet_conf for host h of dir (cert and sign pair) */
static void fleet_for(struct fleet_conf *f, const char *dir, const char *h)
{
	fleet_conf_defaults(f);
	snprintf(f->ca, sizeof f->ca, "%s/ca.crt", A);
	snprintf(f->crl, sizeof f->crl, "%s/crl.pem", A);
	snprintf(f->cert, sizeof f->cert, "%s/%s.crt", dir, h);
	snprintf(f->key, sizeof f->key, "%s/%s.key", dir, h);
	snprintf(f->sign_cert, sizeof f->sign_cert, "%s/%s.sign.crt", dir, h);
	snprintf(f->sign_key, sizeof f->sign_key, "%s/%s.sign.key", dir, h);
	f->set = FLEET_SET_CA | FLEET_SET_CERT | FLEET_SET_KEY | FLEET_SET_SIGN_CERT |
		 FLEET_SET_SIGN_KEY | FLEET_SET_CRL;
}

static int lines(const char *s)
{
	int k = 0;
	for (; *s; s++)
		k += *s == '\n';
	return k;
}

static void test_fleet_conf(void)
{
	struct fleet_conf f;
	CHECK_EQ_INT(conf_of(&f, "[collector]\nhostname = x\n"), 0);
	CHECK_EQ_STR(f.ca, "/etc/hoptrace/fleet/ca.crt");
	CHECK_EQ_STR(f.cert, "/etc/hoptrace/fleet/host.crt");
	CHECK_EQ_STR(f.key, "/etc/hoptrace/fleet/host.key");
	CHECK_EQ_STR(f.sign_cert, "/etc/hoptrace/fleet/host.sign.crt");
	CHECK_EQ_STR(f.sign_key, "/etc/hoptrace/fleet/host.sign.key");
	CHECK_EQ_STR(f.crl, "/etc/hoptrace/fleet/crl.pem");
	CHECK_EQ_INT(f.lab_plain, 0);
	CHECK_EQ_INT(f.set, 0);
	CHECK_EQ_INT(conf_of(&f, "[fleet]\nca = /x/ca.crt\ncert = /x/h.crt\nkey = /x/h.key\n"
				 "sign_cert = /x/s.crt\nsign_key = /x/s.key\ncrl =\nlab_plain = yes\n"
				 "[guard]\nfoo = bar\n"),
		     0);
	CHECK_EQ_STR(f.ca, "/x/ca.crt");
	CHECK_EQ_STR(f.sign_key, "/x/s.key");
	CHECK_EQ_STR(f.crl, "");
	CHECK_EQ_INT(f.lab_plain, 1);
	CHECK_EQ_INT(f.set, 127);
	CHECK_EQ_INT(conf_of(&f, "[fleet]\nfoo = 1\n"), -1);
	CHECK(strstr(err, ":2: unknown key \"foo\" in [fleet]"));
	CHECK_EQ_INT(conf_of(&f, "[fleet]\nca = ca.crt\n"), -1);
	CHECK(strstr(err, "absolute path"));
	CHECK_EQ_INT(conf_of(&f, "[fleet]\nlab_plain = maybe\n"), -1);
	/* a missing default file is fine, an explicit one is not */
	CHECK_EQ_INT(fleet_conf_load("/nonexistent/h.conf", 0, &f, err, sizeof err), 0);
	CHECK_EQ_INT(fleet_conf_load("/nonexistent/h.conf", 1, &f, err, sizeof err), -1);
}

static void test_fleet_check(void)
{
	struct fleet_conf f;
	char out[8192];
	const char *mine[2] = {"10.0.0.1", "fd00::1"}, *other[1] = {"10.9.9.9"};
	/* the fixtures' CRL has 30 days: -n would warn; a CRL due within 30 days is a warning */
	fleet_for(&f, A, "h1");
	f.uses = FLEET_USE_TRUST;
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
	CHECK(strstr(out, "crl.pem: next update due "));
	CHECK_EQ_INT(pki_revoke(A, NULL, 0, 365, NULL, err, sizeof err), 0);
	char *h5a[1] = {"10.0.0.5"};
	CHECK_EQ_INT(pki_issue(A, "h5", h5a, 1, 200, NULL, err, sizeof err), 0);
	fleet_for(&f, A, "h5");
	const char *m5[1] = {"10.0.0.5"};
	CHECK_EQ_INT(fleet_check(&f, m5, 1, out, sizeof out), 0);
	CHECK_EQ_STR(out, "");
	/* an address it does not name: one error line per address */
	CHECK_EQ_INT(fleet_check(&f, other, 1, out, sizeof out), 2); /* cert + sign_cert */
	CHECK(strstr(out, "h5.crt: does not name address 10.9.9.9\n"));
	CHECK(strstr(out, "h5.sign.crt: does not name address 10.9.9.9\n"));
	/* as the hook calls it: a warning, in one line per certificate */
	const char *two[2] = {"10.9.9.9", "fd00::9"};
	CHECK_EQ_INT(fleet_check_addrs(&f, two, 2, 1, out, sizeof out), 0);
	CHECK(strstr(out, "fleet: warning: ") && strstr(out, "address(es) 10.9.9.9, fd00::9"));
	CHECK_EQ_INT(lines(out), 2);
	/* soon: h1's 30 days → a warning for each certificate, no error */
	fleet_for(&f, A, "h1");
	f.crl[0] = 0; /* h1 is revoked by test_cache */
	CHECK_EQ_INT(fleet_check(&f, mine, 2, out, sizeof out), 0);
	CHECK(strstr(out, "fleet: warning: ") && strstr(out, "h1.crt: expires in 29 days"));
	CHECK_EQ_INT(lines(out), 2);
	/* revoked */
	fleet_for(&f, A, "h1");
	CHECK_EQ_INT(fleet_check(&f, mine, 2, out, sizeof out), 2);
	CHECK(strstr(out, "h1.crt: revoked (on "));
	CHECK(strstr(out, "h1.sign.crt: revoked (on "));
	/* expired */
	fleet_for(&f, A, "hx");
	CHECK(fleet_check(&f, NULL, 0, out, sizeof out) >= 2);
	CHECK(strstr(out, "hx.crt: expired on "));
	/* another CA */
	fleet_for(&f, B, "hb");
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 2);
	CHECK(strstr(out, "hb.crt: not signed by the fleet CA ("));
	/* key does not match; a TLS certificate as sign_cert and the reverse */
	fleet_for(&f, A, "h5");
	snprintf(f.key, sizeof f.key, "%s/hr.key", A);
	snprintf(f.sign_cert, sizeof f.sign_cert, "%s/h5.crt", A);
	snprintf(f.cert, sizeof f.cert, "%s/h5.sign.crt", A);
	snprintf(f.sign_key, sizeof f.sign_key, "%s/h5.key", A);
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 3);
	CHECK(strstr(out, "hr.key: does not match the certificate "));
	CHECK(strstr(out, "h5.sign.crt: not a TLS certificate"));
	CHECK(strstr(out, "h5.crt: a TLS certificate (extKeyUsage serverAuth/clientAuth) is not a "
			  "part-signing certificate"));
	/* sign cert missing; the two certificates naming different hosts */
	fleet_for(&f, A, "h5");
	snprintf(f.sign_cert, sizeof f.sign_cert, "%s/nosuch.sign.crt", A);
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 1);
	CHECK(strstr(out, "fleet: sign_cert ") && strstr(out, "nosuch.sign.crt: No such file"));
	fleet_for(&f, A, "h5");
	snprintf(f.sign_cert, sizeof f.sign_cert, "%s/hr.sign.crt", A);
	snprintf(f.sign_key, sizeof f.sign_key, "%s/hr.sign.key", A);
	f.crl[0] = 0;
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 1);
	CHECK(strstr(out, "names host \"h5\" but ") && strstr(out, "names \"hr\""));
	/* only what the program uses: policyd has no sign pair */
	fleet_for(&f, A, "h5");
	snprintf(f.sign_cert, sizeof f.sign_cert, "%s/nosuch.sign.crt", A);
	f.uses = FLEET_USE_TLS | FLEET_USE_TRUST;
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
	/* a CA file that is no CA; a CRL that does not parse */
	fleet_for(&f, A, "h5");
	snprintf(f.ca, sizeof f.ca, "%s/h5.crt", A);
	CHECK(fleet_check(&f, NULL, 0, out, sizeof out) >= 1);
	CHECK(strstr(out, "not a CA certificate"));
	fleet_for(&f, A, "h5");
	snprintf(f.crl, sizeof f.crl, "%s/h5.key", A);
	CHECK(fleet_check(&f, NULL, 0, out, sizeof out) >= 1);
	/* a key readable by others: a warning */
	fleet_for(&f, A, "h5");
	chmod(f.key, 0644);
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
	CHECK(strstr(out, "readable by group or others (mode 644)"));
	/* the TLS key 0640: fine with group hoptrace (policyd's SIGHUP reads it), else a
	 * warning; the part-signing key 0640: a warning whatever its group */
	chmod(f.key, 0640);
	struct group *hg = getgrnam("hoptrace");
	if (hg && chown(f.key, (uid_t)-1, hg->gr_gid) == 0) {
		CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
		CHECK(!strstr(out, "host.key") && !strstr(out, "h5.key"));
		CHECK(!strstr(out, "readable"));
		if (strstr(out, "readable"))
			fprintf(stderr, "    %s", out);
	} else {
		fprintf(stderr, "    (no group hoptrace to give the key: its case not run)\n");
	}
	if (chown(f.key, (uid_t)-1, getgid()) == 0 && (!hg || getgid() != hg->gr_gid)) {
		CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
		CHECK(strstr(out, "readable by its group (mode 640), not group hoptrace"));
	}
	chmod(f.key, 0600);
	chmod(f.sign_key, 0640);
	if (hg && chown(f.sign_key, (uid_t)-1, hg->gr_gid) != 0)
		hg = NULL;
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
	CHECK(strstr(out, "readable by group or others (mode 640): chmod 600\n"));
	chmod(f.sign_key, 0600);
	/* not in a fleet yet: the defaults, no file there → one warning */
	fleet_conf_defaults(&f);
	if (access(f.ca, F_OK) != 0) {
		CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
		CHECK(strstr(out, "no fleet certificates yet"));
		CHECK_EQ_INT(lines(out), 1);
	}
	/* an explicit path that does not exist is an error */
	f.set |= FLEET_SET_CA;
	snprintf(f.ca, sizeof f.ca, "%s/nosuch.crt", A);
	CHECK(fleet_check(&f, NULL, 0, out, sizeof out) >= 1);
	CHECK(strstr(out, "fleet: ca ") && strstr(out, "nosuch.crt: No such file"));
	/* lab_plain: one warning, nothing else */
	f.lab_plain = 1;
	CHECK_EQ_INT(fleet_check(&f, NULL, 0, out, sizeof out), 0);
	CHECK(strstr(out, "lab_plain = yes"));
	CHECK_EQ_INT(lines(out), 1);
	/* a small buffer: truncated, terminated, the count still right */
	fleet_for(&f, A, "h1");
	char small[20];
	CHECK_EQ_INT(fleet_check(&f, mine, 2, small, sizeof small), 2);
	CHECK(strlen(small) < sizeof small);
}

/* pki_crl_load: the outgoing side's CRL file (its use: tests/func/fleet_reload.sh) */
static void test_crl_load(void)
{
	char p[600], e[300] = "";
	struct pki_crl *c = pki_crl_load(path(A, "crl.pem"), e, sizeof e);
	CHECK(c);
	CHECK_EQ_INT(pki_crl_count(c), 1);
	pki_crl_free(c);
	CHECK(!pki_crl_load(path(A, "no-such.pem"), e, sizeof e));
	CHECK(strstr(e, "cannot open"));
	snprintf(p, sizeof p, "%s/empty.pem", top);
	FILE *f = fopen(p, "w");
	fclose(f);
	CHECK(!pki_crl_load(p, e, sizeof e));
	CHECK(strstr(e, "no CRL"));
	f = fopen(p, "w");
	fputs("-----BEGIN X509 CRL-----\nnot base64 at all\n-----END X509 CRL-----\n", f);
	fclose(f);
	CHECK(!pki_crl_load(p, e, sizeof e));
	/* a certificate is not a CRL */
	CHECK(!pki_crl_load(path(A, "ca.crt"), e, sizeof e));
	/* both CAs' CRLs in one file (a CA rotation) */
	snprintf(p, sizeof p, "%s/two.pem", top);
	cat_ab(p, "crl.pem");
	c = pki_crl_load(p, e, sizeof e);
	CHECK(c);
	CHECK_EQ_INT(pki_crl_count(c), 2);
	CHECK_EQ_INT(pki_crl_apply(c, NULL), -1);
	pki_crl_free(c);
}

int main(void)
{
	static const struct t_case cases[] = {
		{"round_trip", test_round_trip},
		{"wrong_key", test_wrong_key},
		{"other_ca", test_other_ca},
		{"expired", test_expired},
		{"revoked", test_revoked},
		{"tls_cert_refused", test_tls_cert_refused},
		{"tampered", test_tampered},
		{"garbage", test_garbage},
		{"ca_dir", test_ca_dir},
		{"cache", test_cache},
		{"cache_bound", test_cache_bound},
		{"cache_neg", test_cache_neg},
		{"threads", test_threads},
		{"pools", test_pools},
		{"fleet_conf", test_fleet_conf},
		{"fleet_check", test_fleet_check},
		{"crl_load", test_crl_load},
	};
	setup();
	int rv = t_run("pki", cases, sizeof cases / sizeof cases[0]);
	rm_rf(top);
	return rv;
}
