/* pkitool — prototype of `hoptrace ca init DIR` / `hoptrace ca issue HOST ADDR...`,
 * signing a chain part, checking a certificate as `-n` would, and the sign/verify bench.
 *
 *   pkitool ca-init DIR [DAYS]
 *   pkitool ca-issue DIR HOST ADDR... (DAYS from $DAYS, default 397)
 *   pkitool sign KEY IN SIGOUT
 *   pkitool verify CA CERT IN SIG
 *   pkitool check CA CERT KEY [ADDR...]   what -n would say about a host certificate
 *   pkitool bench KEY CERT CA N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crl.h>

#include "pki.h"

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return NULL;
	}
	size_t cap = 4096, n = 0;
	unsigned char *b = malloc(cap);
	size_t r;
	while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			b = realloc(b, cap *= 2);
	}
	fclose(f);
	*len = n;
	return b;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "ca-init"))
		return pki_ca_init(argv[2], argc > 3 ? atoi(argv[3]) : 3650) ? 1 : 0;
	if (argc >= 5 && !strcmp(argv[1], "ca-issue")) {
		const char *d = getenv("DAYS");
		return pki_issue(argv[2], argv[3], argv + 4, argc - 4, d ? atoi(d) : 397) ? 1 : 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "ca-revoke")) /* DIR CERT...: writes DIR/crl.pem */
		return pki_revoke(argv[2], argv + 3, argc - 3, 7) ? 1 : 0;
	if (argc == 5 && !strcmp(argv[1], "sign")) {
		mbedtls_pk_context k;
		size_t n, sl;
		unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], *in = slurp(argv[3], &n);
		if (!in || pki_load_key(argv[2], &k) || pki_sign(&k, in, n, sig, &sl))
			return 1;
		FILE *f = fopen(argv[4], "wb");
		if (!f || fwrite(sig, 1, sl, f) != sl || fclose(f))
			return 1;
		printf("signature: %zu bytes (DER ECDSA-Sig-Value)\n", sl);
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "verify")) {
		mbedtls_x509_crt ca, c;
		size_t n, sl;
		char why[300];
		mbedtls_x509_crt_init(&ca);
		mbedtls_x509_crt_init(&c);
		unsigned char *in = slurp(argv[4], &n), *sig = slurp(argv[5], &sl);
		if (!in || !sig || pki_load_crt(argv[2], &ca) || pki_load_crt(argv[3], &c))
			return 1;
		if (pki_verify(&c, &ca, in, n, sig, sl, why, sizeof why)) {
			printf("REJECTED: %s\n", why);
			return 2;
		}
		char dn[256];
		mbedtls_x509_dn_gets(dn, sizeof dn, &c.subject);
		printf("OK: signed by %s\n", dn);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "check")) {
		mbedtls_x509_crt ca, c;
		mbedtls_pk_context k;
		uint32_t flags = 0;
		int bad = 0;
		mbedtls_x509_crt_init(&ca);
		mbedtls_x509_crt_init(&c);
		if (pki_load_crt(argv[2], &ca) || pki_load_crt(argv[3], &c) || pki_load_key(argv[4], &k))
			return 1;
		mbedtls_x509_crl crl;
		mbedtls_x509_crl_init(&crl);
		if (getenv("CRL") && mbedtls_x509_crl_parse_file(&crl, getenv("CRL"))) {
			printf("  crl: cannot parse %s\n", getenv("CRL"));
			return 1;
		}
		if (mbedtls_x509_crt_verify(&c, &ca, getenv("CRL") ? &crl : NULL, NULL, &flags, NULL, NULL)) {
			char b[512];
			mbedtls_x509_crt_verify_info(b, sizeof b, "  cert: ", flags);
			printf("%s", b);
			bad = 1;
		}
		/* the key must be the certificate's */
		mbedtls_ctr_drbg_context *r;
		pki_rng(&r);
		if (mbedtls_pk_check_pair(&c.pk, &k)) {
			printf("  key: does not match the certificate\n");
			bad = 1;
		}
		for (int i = 5; i < argc; i++)
			if (!pki_crt_names_ip(&c, argv[i])) {
				printf("  cert: does not name address %s\n", argv[i]);
				bad = 1;
			}
		printf(bad ? "certificate: NOT usable\n" : "certificate: OK\n");
		return bad;
	}
	if (argc == 6 && !strcmp(argv[1], "bench")) {
		mbedtls_pk_context k;
		mbedtls_x509_crt ca, c;
		mbedtls_x509_crt_init(&ca);
		mbedtls_x509_crt_init(&c);
		if (pki_load_key(argv[2], &k) || pki_load_crt(argv[3], &c) || pki_load_crt(argv[4], &ca))
			return 1;
		int n = atoi(argv[5]);
		double *ts = calloc((size_t)n, sizeof *ts), *tv = calloc((size_t)n, sizeof *tv),
		       *tc = calloc((size_t)n, sizeof *tc);
		unsigned char msg[1024], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
		memset(msg, 'x', sizeof msg);
		char why[200];
		for (int i = 0; i < n; i++) {
			size_t sl;
			msg[0] = (unsigned char)i;
			double t0 = now_us();
			if (pki_sign(&k, msg, sizeof msg, sig, &sl))
				return 1;
			double t1 = now_us();
			if (pki_verify(&c, &ca, msg, sizeof msg, sig, sl, why, sizeof why)) {
				printf("verify failed: %s\n", why);
				return 1;
			}
			double t2 = now_us();
			uint32_t fl;
			mbedtls_x509_crt_verify(&c, &ca, NULL, NULL, &fl, NULL, NULL);
			double t3 = now_us();
			ts[i] = t1 - t0;
			tv[i] = t2 - t1; /* chain check + signature check */
			tc[i] = t3 - t2; /* chain check alone */
		}
		qsort(ts, (size_t)n, sizeof *ts, cmp_d);
		qsort(tv, (size_t)n, sizeof *tv, cmp_d);
		qsort(tc, (size_t)n, sizeof *tc, cmp_d);
		printf("ECDSA P-256/SHA-256 over 1 KiB, n=%d: sign p50 %.0f us p99 %.0f us; "
		       "cert-chain+sig verify p50 %.0f us p99 %.0f us; chain alone p50 %.0f us\n",
		       n, ts[n / 2], ts[n * 99 / 100], tv[n / 2], tv[n * 99 / 100], tc[n / 2]);
		return 0;
	}
	fprintf(stderr, "usage: see the comment at the top of pkitool.c\n");
	return 2;
}
