/*
 * parts_test.c — signed chain parts (collector/parts.c): a 3-host answer
 * (h1 → h2 → h3, judged on h3) built and signed by test hosts of a test CA is
 * accepted; each forgery is caught with its reason; the verified tree wins over
 * anything an upstream answer says outside its part. Prints one "bench" line:
 * part_make and the judge per part, certificate cache miss and hit.
 *
 * The test CA and the hosts' certificates are made with the openssl command (the
 * kinds of `hoptrace ca issue`: HOST.sign.crt keyUsage nonRepudiation only, no EKU;
 * HOST.crt digitalSignature + serverAuth/clientAuth). The pki_signer/pki_trust
 * functions are common/pki.c's when it has them; until then the weak test doubles
 * below stand in (same checks, no cache), and the bench line says which ran.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/oid.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "../../collector/chain.h"
#include "../../collector/inquiry.h"
#include "../../collector/parts.h"
#include "test.h"

/* ---- test doubles (weak: common/pki.c's definitions win when linked) ------------ */
static int double_used;

struct pki_signer {
	mbedtls_pk_context k;
	mbedtls_x509_crt c;
};
struct pki_trust {
	mbedtls_x509_crt ca;
};

static int d_rng(void *p, unsigned char *b, size_t n)
{
	(void)p;
	return getrandom(b, n, 0) == (ssize_t)n ? 0 : -1;
}

__attribute__((weak)) struct pki_signer *pki_signer_load(const char *cert_file,
							  const char *key_file, char *err, size_t n)
{
	struct pki_signer *s = calloc(1, sizeof(*s));
	mbedtls_x509_crt_init(&s->c);
	mbedtls_pk_init(&s->k);
	if (mbedtls_x509_crt_parse_file(&s->c, cert_file) || mbedtls_pk_parse_keyfile(&s->k, key_file, NULL)) {
		snprintf(err, n, "double: cannot load %s", cert_file);
		mbedtls_x509_crt_free(&s->c);
		mbedtls_pk_free(&s->k);
		free(s);
		return NULL;
	}
	double_used = 1;
	return s;
}

__attribute__((weak)) int pki_signer_sign(struct pki_signer *s, const void *data, size_t len,
					  unsigned char *sig, size_t *slen)
{
	unsigned char h[32];
	return mbedtls_sha256_ret(data, len, h, 0) ||
			       mbedtls_pk_sign(&s->k, MBEDTLS_MD_SHA256, h, 32, sig, slen, d_rng, NULL)
		       ? -1
		       : 0;
}

__attribute__((weak)) const unsigned char *pki_signer_cert(const struct pki_signer *s, size_t *len)
{
	*len = s->c.raw.len;
	return s->c.raw.p;
}

__attribute__((weak)) void pki_signer_free(struct pki_signer *s)
{
	if (!s)
		return;
	mbedtls_x509_crt_free(&s->c);
	mbedtls_pk_free(&s->k);
	free(s);
}

__attribute__((weak)) struct pki_trust *pki_trust_load(const char *ca_file, const char *crl_file,
							char *err, size_t n)
{
	struct pki_trust *t = calloc(1, sizeof(*t));
	mbedtls_x509_crt_init(&t->ca);
	if (mbedtls_x509_crt_parse_file(&t->ca, ca_file)) {
		snprintf(err, n, "double: cannot load %s", ca_file);
		free(t);
		return NULL;
	}
	return t;
}

__attribute__((weak)) void pki_trust_free(struct pki_trust *t)
{
	if (!t)
		return;
	mbedtls_x509_crt_free(&t->ca);
	free(t);
}

__attribute__((weak)) int pki_addr_in(const struct pki_addr *addrs, int naddrs, int family,
				      const void *addr)
{
	for (int i = 0; i < naddrs; i++)
		if (addrs[i].family == family && !memcmp(addrs[i].a, addr, family == AF_INET ? 4 : 16))
			return 1;
	return 0;
}

__attribute__((weak)) int pki_trust_verify_part(struct pki_trust *t, const unsigned char *der,
						size_t derlen, const void *data, size_t len,
						const unsigned char *sig, size_t slen,
						char cn[PKI_CN_MAX + 1], struct pki_addr *addrs,
						int *naddrs, char *why, size_t n)
{
	mbedtls_x509_crt c;
	uint32_t flags = 0;
	unsigned char h[32];
	int rv = -1;
	mbedtls_x509_crt_init(&c);
	if (mbedtls_x509_crt_parse_der(&c, der, derlen)) {
		snprintf(why, n, "certificate does not parse");
		goto out;
	}
	if (mbedtls_x509_crt_verify(&c, &t->ca, NULL, NULL, &flags, NULL, NULL)) {
		snprintf(why, n, "certificate not of the fleet CA (0x%x)", flags);
		goto out;
	}
	if (!(c.ext_types & MBEDTLS_X509_EXT_KEY_USAGE) ||
	    !(c.key_usage & MBEDTLS_X509_KU_NON_REPUDIATION) ||
	    (c.key_usage & MBEDTLS_X509_KU_DIGITAL_SIGNATURE) ||
	    (c.ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE)) {
		snprintf(why, n, "not a part-signing certificate");
		goto out;
	}
	if (mbedtls_sha256_ret(data, len, h, 0) ||
	    mbedtls_pk_verify(&c.pk, MBEDTLS_MD_SHA256, h, 32, sig, slen)) {
		snprintf(why, n, "bad signature");
		goto out;
	}
	char dn[128];
	if (mbedtls_x509_dn_gets(dn, sizeof(dn), &c.subject) < 0 || strncmp(dn, "CN=", 3) ||
	    strlen(dn + 3) > PKI_CN_MAX)
		goto out;
	snprintf(cn, PKI_CN_MAX + 1, "%s", dn + 3);
	*naddrs = pki_crt_addrs(&c, addrs, *naddrs);
	rv = 0;
out:
	mbedtls_x509_crt_free(&c);
	return rv;
}

/* ---- the test fleet ------------------------------------------------------------- */
static char dir[] = "/tmp/parts_test.XXXXXX";
static struct pki_signer *s_h1, *s_h2, *s_h3, *s_m, *s_h2tls;
static struct pki_trust *trust;
static char nonce[PART_NONCE_B64 + 1];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* HOST.sign.crt/.key (part signing) and HOST.crt/.key (TLS), as `hoptrace ca issue` */
static int issue(const char *host, const char *ip)
{
	return sh("cd %s && for k in %s %s.sign; do openssl genpkey -algorithm EC "
		  "-pkeyopt ec_paramgen_curve:P-256 -out $k.key 2>/dev/null && "
		  "openssl req -new -key $k.key -subj /CN=%s -out $k.csr 2>/dev/null || exit 1; done && "
		  "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,nonRepudiation\\n"
		  "subjectAltName=DNS:%s,IP:%s\\n' >%s.sign.ext && "
		  "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,digitalSignature\\n"
		  "extendedKeyUsage=serverAuth,clientAuth\\nsubjectAltName=DNS:%s,IP:%s\\n' >%s.ext && "
		  "for k in %s %s.sign; do openssl x509 -req -in $k.csr -CA ca.crt -CAkey ca.key "
		  "-CAcreateserial -days 2 -extfile $k.ext -out $k.crt 2>/dev/null || exit 1; done",
		  dir, host, host, host, host, ip, host, host, ip, host, host, host);
}

static struct pki_signer *signer(const char *host, const char *kind)
{
	char c[256], k[256], err[160];
	snprintf(c, sizeof(c), "%s/%s%s.crt", dir, host, kind);
	snprintf(k, sizeof(k), "%s/%s%s.key", dir, host, kind);
	struct pki_signer *s = pki_signer_load(c, k, err, sizeof(err));
	if (!s)
		fprintf(stderr, "    %s\n", err);
	return s;
}

static int fleet_up(void)
{
	if (!mkdtemp(dir))
		return -1;
	if (sh("cd %s && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key "
	       "2>/dev/null && openssl req -x509 -new -key ca.key -subj '/CN=hoptrace test CA' -days 2 "
	       "-out ca.crt -addext basicConstraints=critical,CA:TRUE,pathlen:0 "
	       "-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null", dir) ||
	    issue("h1", "10.0.0.1") || issue("h2", "10.0.0.2") || issue("h3", "10.0.0.3") ||
	    issue("M", "10.0.0.9"))
		return -1;
	char ca[256], err[160];
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	trust = pki_trust_load(ca, NULL, err, sizeof(err));
	s_h1 = signer("h1", ".sign");
	s_h2 = signer("h2", ".sign");
	s_h3 = signer("h3", ".sign");
	s_m = signer("M", ".sign");
	s_h2tls = signer("h2", ""); /* NULL: pki_signer_load refuses a TLS certificate itself */
	if (!trust || !s_h1 || !s_h2 || !s_h3 || !s_m)
		return -1;
	/* (pulls common/pki.c in, whose pki_signer/pki_trust win over the doubles) */
	mbedtls_x509_crt c;
	char p[256];
	mbedtls_x509_crt_init(&c);
	snprintf(p, sizeof(p), "%s/h1.sign.crt", dir);
	int ok = mbedtls_x509_crt_parse_file(&c, p) == 0 && pki_crt_names_ip(&c, "10.0.0.1") &&
		 !pki_crt_names_ip(&c, "10.0.0.2");
	mbedtls_x509_crt_free(&c);
	return ok && part_nonce(nonce) == 0 ? 0 : -1;
}

static void fleet_down(void)
{
	pki_signer_free(s_h1);
	pki_signer_free(s_h2);
	pki_signer_free(s_h3);
	pki_signer_free(s_m);
	pki_signer_free(s_h2tls);
	pki_trust_free(trust);
	sh("rm -rf %s", dir);
}

/* ---- the answers: h1's ssh → h2's sshd, ssh → h3's sshd, ssh (the SYN to 10.0.0.4) -- */
static const char H1[] =
	"{\"ok\":true,\"host\":\"h1\",\"subject\":{\"pid\":10,\"local\":\"10.0.0.1:51234\","
	"\"remote\":\"10.0.0.2:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h1\",\"pid\":10,"
	"\"exe\":\"/usr/bin/ssh\",\"sha256\":\"s10\",\"sources\":[{\"via\":\"local\",\"node\":"
	"{\"type\":\"origin\",\"host\":\"h1\"}}]},\"chains\":[]}";
static const char H2[] =
	"{\"ok\":true,\"host\":\"h2\",\"subject\":{\"pid\":30,\"local\":\"10.0.0.2:40000\","
	"\"remote\":\"10.0.0.3:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":30,"
	"\"exe\":\"/usr/bin/ssh\",\"sha256\":\"s30\",\"sources\":[{\"via\":\"creator\",\"node\":"
	"{\"type\":\"proc\",\"host\":\"h2\",\"pid\":20,\"exe\":\"/usr/sbin/sshd\",\"sha256\":\"s20\","
	"\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h2\",\"dir\":\"in\","
	"\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:51234\",\"upstream\":null,"
	"\"complete\":false,\"reason\":\"not followed\"}}]}}]},\"chains\":[]}";
static const char H3[] =
	"{\"ok\":true,\"host\":\"h3\",\"subject\":{\"pid\":50,\"local\":\"10.0.0.3:50000\","
	"\"remote\":\"10.0.0.4:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h3\",\"pid\":50,"
	"\"exe\":\"/usr/bin/ssh\",\"sha256\":\"s50\",\"sources\":[{\"via\":\"creator\",\"node\":"
	"{\"type\":\"proc\",\"host\":\"h3\",\"pid\":40,\"exe\":\"/usr/sbin/sshd\",\"sha256\":\"s40\","
	"\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h3\",\"dir\":\"in\","
	"\"local\":\"10.0.0.3:22\",\"remote\":\"10.0.0.2:40000\",\"upstream\":null,"
	"\"complete\":false,\"reason\":\"not followed\"}}]}}]},\"chains\":[]}";

static cJSON *leaf_of(cJSON *a)
{
	cJSON *lv[4];
	return inq_leaves(a, lv, 4) == 1 ? lv[0] : NULL;
}

/* the first conn leaf of an answer, followed or not */
static cJSON *conn_of(cJSON *a)
{
	cJSON *n = cJSON_GetObjectItem(a, "tree");
	while (n && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(n, "type")), "conn"))
		n = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(n, "sources"), 0), "node");
	return n;
}

/* an answer as its host sends it: signed over the local answer by `s` (the monitor
 * signs before its child follows), then `up` (owned) put on its leaf. */
static cJSON *wire(const char *text, struct pki_signer *s, const char *nnc, const char *host_as,
		   const char *asked_local, cJSON *up)
{
	cJSON *a = cJSON_Parse(text);
	char err[160];
	const cJSON *subj = cJSON_GetObjectItem(a, "subject");
	const char *al = asked_local ? asked_local : cJSON_GetStringValue(cJSON_GetObjectItem(subj, "local"));
	const char *ar = cJSON_GetStringValue(cJSON_GetObjectItem(subj, "remote"));
	cJSON *sg = host_as ? part_make(s, host_as, nnc, al, ar, cJSON_GetObjectItem(a, "tree"), err, sizeof(err))
			    : part_make_answer(s, nnc, al, ar, a, err, sizeof(err));
	CHECK(sg != NULL);
	if (!sg)
		fprintf(stderr, "    %s\n", err);
	if (up) {
		cJSON *l = leaf_of(a);
		inq_fill(l, up, inq_answer_complete(up), NULL);
	}
	chain_reflatten(a);
	if (sg)
		cJSON_AddItemToObject(a, "signed", sg);
	return a;
}

static cJSON *good_h1(void)
{
	return wire(H1, s_h1, nonce, NULL, NULL, NULL);
}
static cJSON *good_h2(cJSON *h1)
{
	return wire(H2, s_h2, nonce, NULL, NULL, h1);
}
/* the judge's own answer with h2's answer on its leaf */
static cJSON *judge_of(cJSON *h2)
{
	cJSON *a = cJSON_Parse(H3);
	inq_fill(leaf_of(a), h2, inq_answer_complete(h2), NULL);
	return a;
}

static const char *reason_of(const cJSON *leaf)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(leaf, "reason"));
}

static const cJSON *chain0(const cJSON *a)
{
	return cJSON_GetArrayItem(cJSON_GetObjectItem(a, "chains"), 0);
}

static const char *origin(const cJSON *a)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(chain0(a), "origin_host"));
}

static int starts(const char *s, const char *p)
{
	return s && !strncmp(s, p, strlen(p));
}

/* the judge refuses h2's part (the leaf of h3) with a reason starting with `why` */
static void refused_at_h2(cJSON *h2, const char *why)
{
	cJSON *a = judge_of(h2);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 1);
	cJSON *l = conn_of(a);
	if (!starts(reason_of(l), why))
		fprintf(stderr, "    reason \"%s\", expected \"%s…\"\n", reason_of(l), why);
	CHECK(starts(reason_of(l), why));
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(l, "upstream")));
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(l, "complete")));
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "chains")), 1);
	CHECK_EQ_STR(origin(a), "10.0.0.2");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(chain0(a), "complete")));
	CHECK_EQ_INT(inq_answer_complete(a), 0);
	cJSON_Delete(a);
}

/* ---- tests ------------------------------------------------------------------------- */

static void nonce_form(void)
{
	char a[PART_NONCE_B64 + 1], b[PART_NONCE_B64 + 1];
	CHECK_EQ_INT(part_nonce(a), 0);
	CHECK_EQ_INT(part_nonce(b), 0);
	CHECK_EQ_INT(strlen(a), PART_NONCE_B64);
	CHECK(strcmp(a, b) != 0);
	CHECK_EQ_INT(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		     PART_NONCE_B64);
}

static void part_form(void)
{
	cJSON *h2 = good_h2(good_h1());
	const cJSON *sg = cJSON_GetObjectItem(h2, "signed");
	CHECK_EQ_INT(cJSON_GetObjectItem(sg, "v")->valueint, 1);
	CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(sg, "sig")) != NULL);
	CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(sg, "cert")) != NULL);
	cJSON *p = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(sg, "part")));
	CHECK(p != NULL);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "host")), "h2");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "nonce")), nonce);
	const cJSON *asked = cJSON_GetObjectItem(p, "asked");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(asked, "local")), "10.0.0.2:40000");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(asked, "remote")), "10.0.0.3:22");
	CHECK(cJSON_GetObjectItem(p, "chains") == NULL);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(conn_of(p), "upstream")));
	/* an upstream already on the leaf is written null in the part too */
	char err[160];
	cJSON *sg2 = part_make(s_h2, "h2", nonce, "10.0.0.2:40000", "10.0.0.3:22",
			       cJSON_GetObjectItem(h2, "tree"), err, sizeof(err));
	cJSON *p2 = cJSON_Parse(cJSON_GetStringValue(cJSON_GetObjectItem(sg2, "part")));
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(conn_of(h2), "upstream")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(conn_of(p2), "upstream")));
	CHECK(part_make(NULL, "h2", nonce, "a", "b", cJSON_GetObjectItem(h2, "tree"), err, sizeof(err)) == NULL);
	cJSON_Delete(p2);
	cJSON_Delete(sg2);
	cJSON_Delete(p);
	cJSON_Delete(h2);
}

static void accepted(void)
{
	cJSON *a = judge_of(good_h2(good_h1()));
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "chains")), 1);
	const cJSON *c = chain0(a);
	CHECK_EQ_STR(origin(a), "h1");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "src")), "10.0.0.1:51234");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(c, "dst")), "10.0.0.4:22");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(c, "complete")));
	const cJSON *procs = cJSON_GetObjectItem(c, "procs");
	CHECK_EQ_INT(cJSON_GetArraySize(procs), 5);
	static const int pids[] = {10, 20, 30, 40, 50};
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetArrayItem(procs, i), "pid")->valueint, pids[i]);
	cJSON *l3 = conn_of(a);
	CHECK(reason_of(l3) == NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(l3, "complete")));
	cJSON *v2 = cJSON_GetObjectItem(l3, "upstream");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v2, "host")), "h2");
	CHECK(cJSON_GetObjectItem(v2, "signed") != NULL); /* kept for a judge further on */
	cJSON *l2 = conn_of(v2);
	CHECK(l2 && reason_of(l2) == NULL);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(l2, "upstream"), "host")), "h1");
	/* judging twice (a host that judges, then forwards) changes nothing */
	char *s1 = cJSON_PrintUnformatted(a);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
	char *s2 = cJSON_PrintUnformatted(a);
	CHECK_EQ_STR(s1, s2);
	free(s1);
	free(s2);
	/* another judge's nonce: everything refused */
	cJSON *b = judge_of(good_h2(good_h1()));
	char other[PART_NONCE_B64 + 1];
	part_nonce(other);
	CHECK_EQ_INT(parts_verify_answer(trust, other, b), 1);
	CHECK_EQ_STR(reason_of(conn_of(b)), "forged part: nonce");
	cJSON_Delete(b);
	cJSON_Delete(a);
}

/* the part text changed after signing */
static void tampered(void)
{
	cJSON *h2 = good_h2(good_h1());
	cJSON *sg = cJSON_GetObjectItem(h2, "signed");
	char *t = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(sg, "part")));
	char *x = strstr(t, "/usr/sbin/sshd");
	CHECK(x != NULL);
	if (x)
		memcpy(x, "/usr/sbin/evil", 14);
	cJSON_ReplaceItemInObject(sg, "part", cJSON_CreateString(t));
	free(t);
	refused_at_h2(h2, "forged part: certificate or signature");
	/* the signature or the certificate bytes changed */
	h2 = good_h2(good_h1());
	sg = cJSON_GetObjectItem(h2, "signed");
	cJSON_ReplaceItemInObject(sg, "sig", cJSON_CreateString("AAAA"));
	refused_at_h2(h2, "forged part: certificate or signature");
	h2 = good_h2(good_h1());
	sg = cJSON_GetObjectItem(h2, "signed");
	cJSON_ReplaceItemInObject(sg, "cert", cJSON_CreateString("not base64!"));
	refused_at_h2(h2, "forged part: bad form");
	h2 = good_h2(good_h1());
	cJSON_ReplaceItemInObject(h2, "signed", cJSON_CreateString("x"));
	refused_at_h2(h2, "forged part: bad form");
}

/* h2's genuine part about another of its connections, put on this leaf */
static void moved(void)
{
	refused_at_h2(wire(H2, s_h2, nonce, NULL, "10.0.0.2:40001", good_h1()), "forged part: asked");
}

/* a part signed for an earlier question (another nonce) */
static void replayed(void)
{
	char old[PART_NONCE_B64 + 1];
	part_nonce(old);
	refused_at_h2(wire(H2, s_h2, old, NULL, NULL, good_h1()), "forged part: nonce");
}

/* fleet host M answers for h2's connection: as itself, and claiming to be h2 */
static void other_host(void)
{
	refused_at_h2(wire(H2, s_m, nonce, NULL, NULL, good_h1()),
		      "forged part: signer does not own the far address");
	refused_at_h2(wire(H2, s_m, nonce, "h2", NULL, good_h1()),
		      "forged part: signer does not own the far address");
	/* h3 (a fleet host, but not the far end 10.0.0.2) */
	refused_at_h2(wire(H2, s_h3, nonce, NULL, NULL, good_h1()),
		      "forged part: signer does not own the far address");
}

/* h2's own certificate, but the part names another host — or a node of its tree does */
static void cn_mismatch(void)
{
	refused_at_h2(wire(H2, s_h2, nonce, "h1", NULL, good_h1()), "forged part: host");
	char *t = strdup(H2);
	char *x = strstr(t, "\"host\":\"h2\",\"pid\":20");
	memcpy(x, "\"host\":\"h1\"", 11);
	refused_at_h2(wire(t, s_h2, nonce, NULL, NULL, good_h1()), "forged part: host");
	free(t);
}

/* the TLS certificate (the inquiry child's key) used to sign a part */
static void tls_signer(void)
{
	if (!s_h2tls)
		return; /* the signer refused to load it: nothing to forge with */
	refused_at_h2(wire(H2, s_h2tls, nonce, NULL, NULL, good_h1()),
		      "forged part: certificate or signature");
}

static void unsigned_answer(void)
{
	cJSON *h2 = good_h2(good_h1());
	cJSON_DeleteItemFromObject(h2, "signed");
	refused_at_h2(h2, "unsigned answer");
	h2 = good_h2(good_h1());
	cJSON_ReplaceItemInObject(h2, "signed", cJSON_CreateNull());
	refused_at_h2(h2, "unsigned answer");
}

/* h2 edits its outer tree and chains but leaves its part as signed: ignored */
static void outer_edited(void)
{
	cJSON *h2 = good_h2(good_h1());
	cJSON *t = cJSON_GetObjectItem(h2, "tree");
	cJSON_ReplaceItemInObject(t, "exe", cJSON_CreateString("/usr/bin/evil"));
	cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(h2, "chains"), 0);
	cJSON_ReplaceItemInObject(c, "origin_host", cJSON_CreateString("trusted-admin-host"));
	/* and an extra leaf the part does not have, carrying h1's genuine answer */
	cJSON *src = cJSON_GetObjectItem(t, "sources");
	cJSON *extra = cJSON_Parse("{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h2\","
				   "\"dir\":\"in\",\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:51235\"}}");
	cJSON_AddItemToObject(cJSON_GetObjectItem(extra, "node"), "upstream", good_h1());
	cJSON_AddItemToArray(src, extra);
	cJSON *a = judge_of(h2);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(a, "chains")), 1);
	CHECK_EQ_STR(origin(a), "h1");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(chain0(a), "complete")));
	const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(chain0(a), "procs"), 2);
	CHECK_EQ_INT(cJSON_GetObjectItem(p, "pid")->valueint, 30);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "exe")), "/usr/bin/ssh");
	char *s = cJSON_PrintUnformatted(a);
	CHECK(strstr(s, "evil") == NULL && strstr(s, "trusted-admin-host") == NULL &&
	      strstr(s, "51235") == NULL);
	free(s);
	cJSON_Delete(a);
}

/* h2, in the middle, rewrites h1's part (or replays an old one, or drops it): h1's
 * leaf is refused, h2's own part still accepted */
static void middle(void)
{
	cJSON *h1 = good_h1();
	cJSON *sg = cJSON_GetObjectItem(h1, "signed");
	char *t = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(sg, "part")));
	char *x = strstr(t, "/usr/bin/ssh");
	memcpy(x, "/usr/bin/scp", 12);
	cJSON_ReplaceItemInObject(sg, "part", cJSON_CreateString(t));
	free(t);
	static const char *const why[] = {"forged part: certificate or signature",
					  "forged part: nonce", "no answer", "unsigned answer"};
	char old[PART_NONCE_B64 + 1];
	part_nonce(old);
	cJSON *ups[] = {h1, wire(H1, s_h1, old, NULL, NULL, NULL), NULL, NULL};
	ups[3] = good_h1();
	cJSON_DeleteItemFromObject(ups[3], "signed");
	for (int i = 0; i < 4; i++) {
		cJSON *h2 = good_h2(ups[i]);
		if (i == 2) /* dropped: the follower's reason stays */
			inq_fill(conn_of(h2), NULL, 0, "no answer");
		cJSON *a = judge_of(h2);
		CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), i < 2 || i == 3 ? 1 : 0);
		cJSON *l3 = conn_of(a);
		CHECK_EQ_STR(reason_of(l3), "upstream incomplete");
		cJSON *v2 = cJSON_GetObjectItem(l3, "upstream");
		CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(v2, "host")), "h2");
		cJSON *l2 = conn_of(v2);
		if (!starts(reason_of(l2), why[i]))
			fprintf(stderr, "    case %d: reason \"%s\"\n", i, reason_of(l2));
		CHECK(starts(reason_of(l2), why[i]));
		CHECK(cJSON_IsNull(cJSON_GetObjectItem(l2, "upstream")));
		CHECK_EQ_STR(origin(a), "10.0.0.1");
		CHECK(cJSON_IsFalse(cJSON_GetObjectItem(chain0(a), "complete")));
		CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(chain0(a), "procs")), 4);
		cJSON_Delete(a);
	}
}

/* M has a real connection to h3, and was shown h1's genuine part for h1 → h2 (an
 * honest h2 answered M's own inquiry with that nonce): it puts that part under a leaf
 * of its own that names h2's end. Refused: a signer speaks only for its own ends. */
static void spliced(void)
{
	static const char HM[] =
		"{\"ok\":true,\"host\":\"M\",\"subject\":{\"pid\":70,\"local\":\"10.0.0.9:40000\","
		"\"remote\":\"10.0.0.3:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"M\",\"pid\":70,"
		"\"exe\":\"/usr/bin/ssh\",\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\","
		"\"host\":\"M\",\"dir\":\"in\",\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:51234\","
		"\"upstream\":null,\"complete\":false,\"reason\":\"not followed\"}}]}},\"chains\":[]}";
	char *j3 = strdup(H3);
	char *x = strstr(j3, "\"remote\":\"10.0.0.2:40000\"");
	memcpy(x, "\"remote\":\"10.0.0.9:40000\"", 25);
	cJSON *a = cJSON_Parse(j3);
	free(j3);
	inq_fill(leaf_of(a), wire(HM, s_m, nonce, NULL, NULL, good_h1()), 1, NULL);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 1);
	cJSON *vm = cJSON_GetObjectItem(conn_of(a), "upstream");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(vm, "host")), "M");
	CHECK_EQ_STR(reason_of(conn_of(vm)), "forged part: local end not the signer's");
	CHECK_EQ_STR(origin(a), "10.0.0.1");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(chain0(a), "complete")));
	cJSON_Delete(a);
}

/* a signed part with "holders_incomplete" stays incomplete at the judge */
static void signed_flags(void)
{
	char *t = strdup(H1);
	char *x = strstr(t, ",\"chains\"");
	size_t n = strlen(t) + 40;
	char *u = malloc(n);
	snprintf(u, n, "%.*s,\"holders_incomplete\":true%s", (int)(x - t), t, x);
	cJSON *a = judge_of(wire(H2, s_h2, nonce, NULL, NULL, wire(u, s_h1, nonce, NULL, NULL, NULL)));
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
	CHECK_EQ_STR(origin(a), "h1");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(chain0(a), "complete")));
	CHECK_EQ_STR(reason_of(conn_of(a)), "upstream incomplete");
	cJSON_Delete(a);
	free(u);
	free(t);
}

/* ---- nesting bound, with a verifier that believes every signature ---------------- */
static int trust_all(struct pki_trust *t, const unsigned char *der, size_t derlen,
		     const void *data, size_t len, const unsigned char *sig, size_t slen,
		     char cn[PKI_CN_MAX + 1], struct pki_addr *addrs, int *naddrs, char *why,
		     size_t n)
{
	snprintf(cn, PKI_CN_MAX + 1, "h");
	addrs[0].family = AF_INET;
	memcpy(addrs[0].a, "\x0a\x00\x00\x01", 4);
	*naddrs = 1;
	return 0;
}

static void too_deep(void)
{
	/* host h on 10.0.0.1 asked about port P from 10.0.0.1:P+1 …, 70 deep */
	parts_set_verifier(trust_all);
	cJSON *up = NULL;
	char text[1024], err[160];
	for (int i = 70; i >= 0; i--) {
		snprintf(text, sizeof(text),
			 "{\"ok\":true,\"host\":\"h\",\"subject\":{\"pid\":1,\"local\":\"10.0.0.1:%d\","
			 "\"remote\":\"10.0.0.1:%d\"},\"tree\":{\"type\":\"proc\",\"host\":\"h\",\"pid\":1,"
			 "\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h\","
			 "\"local\":\"10.0.0.1:%d\",\"remote\":\"10.0.0.1:%d\",\"upstream\":null,"
			 "\"reason\":\"not followed\"}}]},\"chains\":[]}",
			 1000 + i, 2000 + i, 2000 + i + 1, 1000 + i + 1);
		cJSON *a = cJSON_Parse(text);
		cJSON *subj = cJSON_GetObjectItem(a, "subject");
		cJSON *sg = part_make_answer(s_h1, nonce,
					     cJSON_GetStringValue(cJSON_GetObjectItem(subj, "local")),
					     cJSON_GetStringValue(cJSON_GetObjectItem(subj, "remote")), a,
					     err, sizeof(err));
		if (up)
			inq_fill(conn_of(a), up, 1, NULL);
		cJSON_AddItemToObject(a, "signed", sg);
		up = a;
	}
	/* the judge's leaf: its local end 10.0.0.1:2000 is the top answer's remote */
	cJSON *j = cJSON_Parse("{\"ok\":true,\"host\":\"hj\",\"tree\":{\"type\":\"proc\",\"host\":\"hj\","
			       "\"pid\":9,\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\","
			       "\"host\":\"hj\",\"local\":\"10.0.0.1:2000\",\"remote\":\"10.0.0.1:1000\"}}]},"
			       "\"chains\":[]}");
	inq_fill(conn_of(j), up, 1, NULL);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, j), 1);
	char *s = cJSON_PrintUnformatted(j);
	CHECK(strstr(s, "forged part: too deep") != NULL);
	free(s);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(chain0(j), "complete")));
	cJSON_Delete(j);
	parts_set_verifier(NULL);
}

/* ---- figures ---------------------------------------------------------------------- */
static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void bench(void)
{
	enum { N = 200 };
	char err[160], ca[256];
	cJSON *a = cJSON_Parse(H2);
	double t0 = now_us();
	for (int i = 0; i < N; i++)
		cJSON_Delete(part_make_answer(s_h2, nonce, "10.0.0.2:40000", "10.0.0.3:22", a, err,
					      sizeof(err)));
	double make_us = (now_us() - t0) / N;
	cJSON_Delete(a);

	/* verify: a 3-host answer has 2 parts; the cache is cold in a new trust */
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	cJSON *tmpl = judge_of(good_h2(good_h1()));
	double miss = 0, hit = 0;
	for (int i = 0; i < 20; i++) {
		struct pki_trust *t = pki_trust_load(ca, NULL, err, sizeof(err));
		cJSON *x = cJSON_Duplicate(tmpl, 1);
		t0 = now_us();
		CHECK_EQ_INT(parts_verify_answer(t, nonce, x), 0);
		miss += (now_us() - t0) / 2;
		cJSON_Delete(x);
		pki_trust_free(t);
	}
	miss /= 20;
	for (int i = 0; i < N; i++) {
		cJSON *x = cJSON_Duplicate(tmpl, 1);
		t0 = now_us();
		parts_verify_answer(trust, nonce, x);
		hit += (now_us() - t0) / 2;
		cJSON_Delete(x);
	}
	hit /= N;
	cJSON_Delete(tmpl);
	printf("bench parts (%s): part_make %.1f us/part; parts_verify_answer %.1f us/part "
	       "certificate cache miss, %.1f us/part hit (2-part answer, 3 hosts)\n",
	       double_used ? "pki test double, no cache" : "common/pki.c", make_us, miss, hit);
}

int main(void)
{
	if (fleet_up() != 0) {
		fprintf(stderr, "cannot make the test fleet in %s (openssl?)\n", dir);
		fleet_down();
		return 1;
	}
	static const struct t_case cases[] = {
		{"nonce_form", nonce_form},     {"part_form", part_form},
		{"accepted", accepted},         {"tampered", tampered},
		{"moved", moved},               {"replayed", replayed},
		{"other_host", other_host},     {"cn_mismatch", cn_mismatch},
		{"tls_signer", tls_signer},     {"unsigned_answer", unsigned_answer},
		{"outer_edited", outer_edited}, {"middle", middle},
		{"signed_flags", signed_flags}, {"too_deep", too_deep},
		{"spliced", spliced},
		{"bench", bench},
	};
	int rv = t_run("parts", cases, sizeof(cases) / sizeof(cases[0]));
	fleet_down();
	return rv;
}
