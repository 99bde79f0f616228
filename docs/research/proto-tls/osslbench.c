/* osslbench — the same ECDSA P-256/SHA-256 sign/verify with OpenSSL's libcrypto (already
 * in every hoptrace process through libcurl4-openssl), for comparison with mbedTLS 2.28,
 * and interop: it verifies a signature that pkitool (mbedTLS) made.
 *
 *   osslbench KEY CERT CA N [DATA SIG]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

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

static int verify(EVP_PKEY *pub, const unsigned char *m, size_t ml, const unsigned char *s, size_t sl)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, pub) == 1 &&
		 EVP_DigestVerify(c, s, sl, m, ml) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

static unsigned char *slurp(const char *p, size_t *n)
{
	FILE *f = fopen(p, "rb");
	if (!f)
		return NULL;
	unsigned char *b = malloc(1 << 16);
	*n = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 7)
		return 2;
	FILE *f = fopen(argv[1], "r");
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL); /* mbedTLS's SEC1 PEM */
	fclose(f);
	f = fopen(argv[2], "r");
	X509 *crt = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(argv[3], "r");
	X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!k || !crt || !ca) {
		fprintf(stderr, "cannot read key/cert/CA\n");
		return 1;
	}
	EVP_PKEY *pub = X509_get0_pubkey(crt);
	if (argc == 7) {
		size_t ml, sl;
		unsigned char *m = slurp(argv[5], &ml), *s = slurp(argv[6], &sl);
		printf("interop: mbedTLS signature %s by OpenSSL\n",
		       m && s && verify(pub, m, ml, s, sl) ? "VERIFIED" : "REJECTED");
	}
	int n = atoi(argv[4]);
	double *ts = calloc((size_t)n, sizeof *ts), *tv = calloc((size_t)n, sizeof *tv),
	       *tc = calloc((size_t)n, sizeof *tc);
	unsigned char msg[1024], sig[128];
	memset(msg, 'x', sizeof msg);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_add_cert(st, ca);
	for (int i = 0; i < n; i++) {
		size_t sl = sizeof sig;
		msg[0] = (unsigned char)i;
		double t0 = now_us();
		EVP_MD_CTX *c = EVP_MD_CTX_new();
		if (EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
		    EVP_DigestSign(c, sig, &sl, msg, sizeof msg) != 1)
			return 1;
		EVP_MD_CTX_free(c);
		double t1 = now_us();
		if (!verify(pub, msg, sizeof msg, sig, sl))
			return 1;
		double t2 = now_us();
		X509_STORE_CTX *x = X509_STORE_CTX_new();
		X509_STORE_CTX_init(x, st, crt, NULL);
		if (X509_verify_cert(x) != 1) {
			fprintf(stderr, "chain: %s\n", X509_verify_cert_error_string(X509_STORE_CTX_get_error(x)));
			return 1;
		}
		X509_STORE_CTX_free(x);
		double t3 = now_us();
		ts[i] = t1 - t0;
		tv[i] = t2 - t1;
		tc[i] = t3 - t2;
	}
	qsort(ts, (size_t)n, sizeof *ts, cmp_d);
	qsort(tv, (size_t)n, sizeof *tv, cmp_d);
	qsort(tc, (size_t)n, sizeof *tc, cmp_d);
	printf("OpenSSL %s ECDSA P-256/SHA-256 over 1 KiB, n=%d: sign p50 %.0f us; sig verify p50 %.0f us; "
	       "chain verify p50 %.0f us\n",
	       OPENSSL_VERSION_TEXT, n, ts[n / 2], tv[n / 2], tc[n / 2]);
	return 0;
}
