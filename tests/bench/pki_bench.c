/*
 * pki_bench.c — what a signed chain part costs (common/pki.c): a part signature
 * (pki_signer_sign, OpenSSL libcrypto), its check with the signer's certificate already
 * verified (pki_trust_verify_part, cache hit: the usual case) and with the certificate
 * seen for the first time (cache miss: mbedTLS chain + CRL check, then the signature),
 * and, for comparison, the prototype's mbedTLS sign and verify. The sign and the cached
 * check are timed twice: back to back (caches hot), and with 8 MiB of other memory
 * touched before each call (caches cold, as in a collector that does other work between
 * two answers: OpenSSL's constant-time P-256 reads its ≈ 150 KiB table of the base point
 * in every call) — the second is the floor a hop meets in place.
 *
 *   pki_bench [N]          (default 2000; a scratch CA in $TMPDIR or /tmp)
 *
 * Prints p50/p99 in µs per operation over a 1 KiB part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/pki.h"

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* evict the caches: touch 8 MiB (more than this machine's L2 per core) */
static void evict(void)
{
	enum { EVICT_BYTES = 8 << 20 };
	static volatile unsigned char *junk;
	if (!junk && !(junk = calloc(EVICT_BYTES, 1)))
		return;
	for (size_t i = 0; i < EVICT_BYTES; i += 64)
		junk[i]++;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	printf("%-44s n=%-5d p50 %7.1f us  p99 %7.1f us\n", what, n, v[n / 2], v[n * 99 / 100]);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000, nmiss = n / 10 > 20 ? n / 10 : 20;
	char dir[300], p[4][400], err[1024], why[300];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *addrs[2] = {"10.0.0.1", "fd00::1"};
	if (n < 10)
		n = 10;
	snprintf(dir, sizeof dir, "%s/pki_bench.XXXXXX", tmp);
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(p[0], sizeof p[0], "%s/ca", dir);
	snprintf(p[1], sizeof p[1], "%s/ca/ca.crt", dir);
	snprintf(p[2], sizeof p[2], "%s/ca/h1.sign.crt", dir);
	snprintf(p[3], sizeof p[3], "%s/ca/h1.sign.key", dir);
	char crl[400];
	snprintf(crl, sizeof crl, "%s/ca/crl.pem", dir);
	if (pki_ca_init(p[0], 3650, err, sizeof err) ||
	    pki_issue(p[0], "h1", addrs, 2, 30, NULL, err, sizeof err)) {
		fprintf(stderr, "pki_bench: %s\n", err);
		return 1;
	}
	struct pki_signer *s = pki_signer_load(p[2], p[3], err, sizeof err);
	struct pki_trust *t = pki_trust_load(p[1], crl, err, sizeof err);
	if (!s || !t) {
		fprintf(stderr, "pki_bench: %s\n", err);
		return 1;
	}
	double *v = calloc((size_t)n, sizeof *v);
	unsigned char msg[1024], sig[PKI_SIG_MAX];
	size_t sl, dl;
	const unsigned char *der = pki_signer_cert(s, &dl);
	memset(msg, 'x', sizeof msg);

	for (int cold = 0; cold < 2; cold++) {
		int nc = cold ? nmiss : n;
		for (int i = 0; i < nc; i++) {
			msg[0] = (unsigned char)i;
			if (cold)
				evict();
			double t0 = now_us();
			if (pki_signer_sign(s, msg, sizeof msg, sig, &sl))
				return 1;
			v[i] = now_us() - t0;
		}
		report(cold ? "sign, caches cold" : "sign (libcrypto ECDSA P-256)", v, nc);
		for (int i = 0; i < nc; i++) {
			msg[0] = (unsigned char)i;
			pki_signer_sign(s, msg, sizeof msg, sig, &sl);
			if (cold)
				evict();
			double t0 = now_us();
			if (pki_trust_verify_part(t, der, dl, msg, sizeof msg, sig, sl, NULL, NULL, NULL,
						  why, sizeof why)) {
				fprintf(stderr, "verify: %s\n", why);
				return 1;
			}
			v[i] = now_us() - t0;
		}
		report(cold ? "verify_part, certificate cached, caches cold" : "verify_part, certificate cached", v, nc);
	}
	for (int i = 0; i < nmiss; i++) {
		if (pki_trust_reload(t, p[1], crl, err, sizeof err))
			return 1;
		double t0 = now_us();
		if (pki_trust_verify_part(t, der, dl, msg, sizeof msg, sig, sl, NULL, NULL, NULL, why,
					  sizeof why))
			return 1;
		v[i] = now_us() - t0;
	}
	report("verify_part, first sight (mbedTLS chain+CRL)", v, nmiss);

	mbedtls_pk_context k;
	mbedtls_x509_crt c, ca;
	mbedtls_x509_crt_init(&c);
	mbedtls_x509_crt_init(&ca);
	unsigned char msig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t msl;
	if (pki_key_load(p[3], &k, err, sizeof err) || pki_crt_load(p[2], &c, err, sizeof err) ||
	    pki_crt_load(p[1], &ca, err, sizeof err))
		return 1;
	for (int i = 0; i < nmiss; i++) {
		double t0 = now_us();
		pki_sign(&k, msg, sizeof msg, msig, &msl);
		v[i] = now_us() - t0;
	}
	report("for comparison: mbedTLS sign", v, nmiss);
	for (int i = 0; i < nmiss; i++) {
		double t0 = now_us();
		if (pki_verify(&c, &ca, msg, sizeof msg, msig, msl, why, sizeof why))
			return 1;
		v[i] = now_us() - t0;
	}
	report("for comparison: mbedTLS chain + verify", v, nmiss);
	mbedtls_pk_free(&k);
	mbedtls_x509_crt_free(&c);
	mbedtls_x509_crt_free(&ca);
	pki_signer_free(s);
	pki_trust_free(t);
	free(v);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) ? 1 : 0;
}
