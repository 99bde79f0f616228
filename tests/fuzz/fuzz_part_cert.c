/* fuzz_part_cert.c — libFuzzer target for what a peer controls in a signed chain part:
 * the signer's certificate DER and the signature, through pki_trust_verify_part
 * (mbedTLS parse + chain/CRL check + part-signing usage + CN/SAN reading + the libcrypto
 * signature check) and the certificate readers of common/pki.c.
 *
 * A fleet (CA + host h1) is made once in a scratch directory. The first input byte
 * picks the mode:
 *   0  the rest is a certificate DER (signature: a fixed DER of the right shape)
 *   1  the rest mutates h1's good part-signing DER: pairs (offset, xor), then verified
 *      with a real signature by h1 (so a parse that survives reaches every check)
 *   2  the rest is a signature over "part" with h1's good certificate
 *   3  the rest is data signed by h1 and verified; a flipped byte must fail
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hoptrace/pki.h"

static struct pki_trust *trust;
static struct pki_signer *signer;
static const unsigned char *good;
static size_t goodlen;

static void setup(void)
{
	char dir[256], p[4][320], err[512];
	char *addrs[2] = {"10.0.0.1", "fd00::1"};
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/fuzz_part_cert.XXXXXX", tmp);
	if (!mkdtemp(dir))
		abort();
	snprintf(p[0], sizeof p[0], "%s/ca", dir);
	snprintf(p[1], sizeof p[1], "%s/ca/ca.crt", dir);
	snprintf(p[2], sizeof p[2], "%s/ca/h1.sign.crt", dir);
	snprintf(p[3], sizeof p[3], "%s/ca/h1.sign.key", dir);
	if (pki_ca_init(p[0], 3650, err, sizeof err) ||
	    pki_issue(p[0], "h1", addrs, 2, 30, NULL, err, sizeof err)) {
		fprintf(stderr, "fuzz_part_cert: %s\n", err);
		abort();
	}
	char crl[320];
	snprintf(crl, sizeof crl, "%s/ca/crl.pem", dir);
	trust = pki_trust_load(p[1], crl, err, sizeof err);
	signer = pki_signer_load(p[2], p[3], err, sizeof err);
	if (!trust || !signer) {
		fprintf(stderr, "fuzz_part_cert: %s\n", err);
		abort();
	}
	good = pki_signer_cert(signer, &goodlen);
}

static void readers(const unsigned char *der, size_t len)
{
	mbedtls_x509_crt c;
	char cn[PKI_CN_MAX + 1], why[256], hex[64];
	struct pki_addr a[PKI_ADDRS_MAX];
	mbedtls_x509_crt_init(&c);
	if (mbedtls_x509_crt_parse_der(&c, der, len) == 0) {
		(void)pki_crt_cn(&c, cn);
		int n = pki_crt_addrs(&c, a, PKI_ADDRS_MAX);
		if (n < 0 || n > PKI_ADDRS_MAX)
			abort();
		(void)pki_addr_in(a, n, a[0].family, a[0].a);
		(void)pki_crt_kind(&c);
		(void)pki_crt_is_signer(&c, why, sizeof why);
		(void)pki_crt_names_ip(&c, "10.0.0.1");
		pki_serial_hex(&c, hex, sizeof hex);
		(void)pki_time(&c.valid_to);
	}
	mbedtls_x509_crt_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char fixed_sig[8] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
	char cn[PKI_CN_MAX + 1], why[256];
	struct pki_addr a[PKI_ADDRS_MAX];
	int na = PKI_ADDRS_MAX;
	unsigned char sig[PKI_SIG_MAX];
	size_t sl;
	if (!trust)
		setup();
	if (size < 1)
		return 0;
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	switch (data[0] % 4) {
	case 0:
		readers(in, n);
		if (pki_trust_verify_part(trust, in, n, "part", 4, fixed_sig, sizeof fixed_sig, cn, a,
					  &na, why, sizeof why) == 0)
			abort(); /* no signature by anyone verifies as fixed_sig */
		break;
	case 1: {
		unsigned char *m = malloc(goodlen);
		if (!m)
			return 0;
		memcpy(m, good, goodlen);
		for (size_t i = 0; i + 2 < n + 1 && i + 1 < n; i += 2)
			m[(in[i] | (size_t)in[i + 1] << 8) % goodlen] ^= in[i + 1] | 1;
		readers(m, goodlen);
		if (pki_signer_sign(signer, "part", 4, sig, &sl))
			abort();
		int rv = pki_trust_verify_part(trust, m, goodlen, "part", 4, sig, sl, cn, a, &na, why,
					       sizeof why);
		if (rv == 0 && memcmp(m, good, goodlen)) /* a changed certificate never passes */
			abort();
		if (rv == 0 && (strcmp(cn, "h1") || na != 2))
			abort();
		free(m);
		break;
	}
	case 2:
		(void)pki_trust_verify_part(trust, good, goodlen, "part", 4, in, n, cn, a, &na, why,
					    sizeof why);
		break;
	case 3:
		if (pki_signer_sign(signer, in, n, sig, &sl) ||
		    pki_trust_verify_part(trust, good, goodlen, in, n, sig, sl, cn, a, &na, why,
					  sizeof why))
			abort();
		if (n) {
			unsigned char *m = malloc(n);
			if (!m)
				return 0;
			memcpy(m, in, n);
			m[n / 2] ^= 0x01;
			if (pki_trust_verify_part(trust, good, goodlen, m, n, sig, sl, cn, a, &na, why,
						  sizeof why) == 0)
				abort();
			free(m);
		}
		break;
	}
	return 0;
}
