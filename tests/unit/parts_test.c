/*
 * parts_test.c — signed chain parts (collector/parts.c): a 3-host answer
 * (h1 → h2 → h3, judged on h3) built and signed by test hosts of a test CA is
 * accepted; each forgery is caught with its reason; the verified tree wins over
 * anything an upstream answer says outside its part. Prints one "bench" line:
 * part_make and the judge per part, certificate cache miss and hit.
 *
 * The test CA and the hosts' certificates are made as a person makes them
 * (`hoptrace ca init` / `hoptrace ca issue`: pki_ca_init, pki_issue), and the
 * signer and the trust are common/pki.c's (libcrypto signatures, mbedTLS chain
 * checks, the cache of verified certificates).
 */
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/x509_crt.h>

#include "../../collector/chain.h"
#include "../../collector/inquiry.h"
#include "../../collector/parts.h"
#include "test.h"

/* ---- the test fleet ------------------------------------------------------------- */
static char dir[] = "/tmp/parts_test.XXXXXX";
static struct pki_signer *s_h1, *s_h2, *s_h3, *s_m;
static struct pki_trust *trust;
static char nonce[PART_NONCE_B64 + 1];

static int issue(const char *host, const char *ip)
{
	char err[256], *addrs[1] = {(char *)ip};
	char ca[256];
	snprintf(ca, sizeof(ca), "%s/ca", dir);
	if (pki_issue(ca, host, addrs, 1, 2, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "    issue %s: %s\n", host, err);
		return -1;
	}
	return 0;
}

static struct pki_signer *signer(const char *host, const char *kind)
{
	char c[256], k[256], err[160];
	snprintf(c, sizeof(c), "%s/ca/%s%s.crt", dir, host, kind);
	snprintf(k, sizeof(k), "%s/ca/%s%s.key", dir, host, kind);
	struct pki_signer *s = pki_signer_load(c, k, err, sizeof(err));
	if (!s)
		fprintf(stderr, "    %s\n", err);
	return s;
}

static int fleet_up(void)
{
	if (!mkdtemp(dir))
		return -1;
	char ca[256], err[256];
	snprintf(ca, sizeof(ca), "%s/ca", dir);
	if (pki_ca_init(ca, 3, err, sizeof(err)) != 0) {
		fprintf(stderr, "    ca init: %s\n", err);
		return -1;
	}
	if (issue("h1", "10.0.0.1") || issue("h2", "10.0.0.2") || issue("h3", "10.0.0.3") ||
	    issue("M", "10.0.0.9"))
		return -1;
	snprintf(ca, sizeof(ca), "%s/ca/ca.crt", dir);
	trust = pki_trust_load(ca, NULL, err, sizeof(err));
	if (!trust)
		fprintf(stderr, "    trust: %s\n", err);
	s_h1 = signer("h1", ".sign");
	s_h2 = signer("h2", ".sign");
	s_h3 = signer("h3", ".sign");
	s_m = signer("M", ".sign");
	/* the TLS pair is no signer */
	snprintf(ca, sizeof(ca), "%s/ca/h2.crt", dir);
	char key[256];
	snprintf(key, sizeof(key), "%s/ca/h2.key", dir);
	struct pki_signer *tls = pki_signer_load(ca, key, err, sizeof(err));
	if (tls) {
		fprintf(stderr, "    a TLS certificate loaded as a part signer\n");
		pki_signer_free(tls);
		return -1;
	}
	if (!trust || !s_h1 || !s_h2 || !s_h3 || !s_m)
		return -1;
	mbedtls_x509_crt c;
	char p[256];
	mbedtls_x509_crt_init(&c);
	snprintf(p, sizeof(p), "%s/ca/h1.sign.crt", dir);
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
	pki_trust_free(trust);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "    could not remove %s\n", dir);
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
static void refused_at_h2_also(cJSON *h2, const char *why, const char *also);
static void refused_at_h2(cJSON *h2, const char *why)
{
	refused_at_h2_also(h2, why, NULL);
}

/* … and whose text has `also` in it (what pki_trust_verify_part said) */
static void refused_at_h2_also(cJSON *h2, const char *why, const char *also)
{
	cJSON *a = judge_of(h2);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 1);
	cJSON *l = conn_of(a);
	if (!starts(reason_of(l), why))
		fprintf(stderr, "    reason \"%s\", expected \"%s…\"\n", reason_of(l), why);
	CHECK(starts(reason_of(l), why));
	if (also && !(reason_of(l) && strstr(reason_of(l), also)))
		fprintf(stderr, "    reason \"%s\" without \"%s\"\n", reason_of(l), also);
	CHECK(!also || (reason_of(l) && strstr(reason_of(l), also)));
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
	refused_at_h2_also(h2, "forged part: certificate or signature", "signature:");
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

/* the TLS pair (the inquiry child's key, HOST.crt/HOST.key) used to sign h2's part:
 * the genuine part's bytes signed again with h2.key, h2.crt as the certificate */
static void tls_signer(void)
{
	cJSON *h2 = good_h2(good_h1());
	cJSON *sg = cJSON_GetObjectItem(h2, "signed");
	const char *part = cJSON_GetStringValue(cJSON_GetObjectItem(sg, "part"));
	size_t pl = strlen(part), bl = sizeof(PART_DOMAIN) + pl, sl = 0, ol = 0;
	unsigned char *b = malloc(bl), sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE], out[8192];
	memcpy(b, PART_DOMAIN, sizeof(PART_DOMAIN));
	memcpy(b + sizeof(PART_DOMAIN), part, pl);
	char p[256], err[256];
	mbedtls_pk_context k;
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	snprintf(p, sizeof(p), "%s/ca/h2.key", dir);
	CHECK_EQ_INT(pki_key_load(p, &k, err, sizeof(err)), 0);
	snprintf(p, sizeof(p), "%s/ca/h2.crt", dir);
	CHECK_EQ_INT(pki_crt_load(p, &c, err, sizeof(err)), 0);
	CHECK_EQ_INT(pki_sign(&k, b, bl, sig, &sl), 0);
	CHECK_EQ_INT(mbedtls_base64_encode(out, sizeof(out), &ol, sig, sl), 0);
	cJSON_ReplaceItemInObject(sg, "sig", cJSON_CreateString((char *)out));
	CHECK_EQ_INT(mbedtls_base64_encode(out, sizeof(out), &ol, c.raw.p, c.raw.len), 0);
	cJSON_ReplaceItemInObject(sg, "cert", cJSON_CreateString((char *)out));
	mbedtls_pk_free(&k);
	mbedtls_x509_crt_free(&c);
	free(b);
	refused_at_h2_also(h2, "forged part: certificate or signature", "not a part-signing certificate");
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

/* a part for a closed connection (issue 12) carries "past", signed: the
 * judge's verified form keeps it; one only outside the part is dropped */
static void signed_past(void)
{
	for (int inside = 0; inside < 2; inside++) {
		char *t = strdup(H1);
		char *x = strstr(t, ",\"chains\"");
		size_t n = strlen(t) + 80;
		char *u = malloc(n);
		snprintf(u, n, "%.*s,\"past\":{\"closed_ago_ms\":12000,\"as_of_ago_ms\":14000}%s",
			 (int)(x - t), t, x);
		cJSON *h1 = wire(u, s_h1, nonce, NULL, NULL, NULL);
		if (!inside) {
			/* a forwarder's addition: outside the signed part */
			cJSON *w = wire(H1, s_h1, nonce, NULL, NULL, NULL);
			cJSON_AddItemToObject(w, "past", cJSON_Parse("{\"closed_ago_ms\":1,\"as_of_ago_ms\":1}"));
			cJSON_Delete(h1);
			h1 = w;
		}
		cJSON *a = judge_of(wire(H2, s_h2, nonce, NULL, NULL, h1));
		CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
		cJSON *v2 = cJSON_GetObjectItem(conn_of(a), "upstream");
		cJSON *v1 = cJSON_GetObjectItem(conn_of(v2), "upstream");
		CHECK(v1 != NULL);
		cJSON *past = cJSON_GetObjectItem(v1, "past");
		if (inside)
			CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(past, "closed_ago_ms")), 12000);
		else
			CHECK(past == NULL);
		CHECK_EQ_STR(origin(a), "h1");
		cJSON_Delete(a);
		free(u);
		free(t);
	}
}

/* h2 revoked (`hoptrace ca revoke DIR h2`, crl.pem copied): its parts refused */
static void revoked(void)
{
	char ca[256], crt[256], crl[256], err[256], *which[1] = {"h2"};
	snprintf(ca, sizeof(ca), "%s/ca", dir);
	snprintf(crt, sizeof(crt), "%s/ca/ca.crt", dir);
	snprintf(crl, sizeof(crl), "%s/ca/crl.pem", dir);
	CHECK_EQ_INT(pki_revoke(ca, which, 1, 30, NULL, err, sizeof(err)), 0);
	struct pki_trust *t = pki_trust_load(crt, crl, err, sizeof(err));
	CHECK(t != NULL);
	if (!t)
		return;
	cJSON *a = judge_of(good_h2(good_h1()));
	CHECK_EQ_INT(parts_verify_answer(t, nonce, a), 1);
	const char *r = reason_of(conn_of(a));
	CHECK(starts(r, "forged part: certificate or signature: certificate:"));
	if (r && !strstr(r, "revoked"))
		fprintf(stderr, "    reason \"%s\"\n", r);
	CHECK(r && strstr(r, "revoked"));
	CHECK_EQ_STR(origin(a), "10.0.0.2");
	cJSON_Delete(a);
	pki_trust_free(t);
}

/* signed wire form of an arbitrary part text, with s's key and certificate */
static cJSON *sign_text(struct pki_signer *s, const char *part)
{
	size_t pl = strlen(part), bl = sizeof(PART_DOMAIN) + pl, sl = PKI_SIG_MAX, ol = 0, dl = 0;
	unsigned char *b = malloc(bl), sig[PKI_SIG_MAX], out[8192];
	memcpy(b, PART_DOMAIN, sizeof(PART_DOMAIN));
	memcpy(b + sizeof(PART_DOMAIN), part, pl);
	CHECK_EQ_INT(pki_signer_sign(s, b, bl, sig, &sl), 0);
	free(b);
	cJSON *sg = cJSON_CreateObject();
	cJSON_AddNumberToObject(sg, "v", 1);
	cJSON_AddStringToObject(sg, "part", part);
	mbedtls_base64_encode(out, sizeof(out), &ol, sig, sl);
	cJSON_AddStringToObject(sg, "sig", (char *)out);
	const unsigned char *der = pki_signer_cert(s, &dl);
	mbedtls_base64_encode(out, sizeof(out), &ol, der, dl);
	cJSON_AddStringToObject(sg, "cert", (char *)out);
	return sg;
}

/* h2 writes upstream answers into its part itself — under its proc, and under a node
 * type chain_reflatten does not read: none of them is believed, none is shown */
static void upstream_in_part(void)
{
	char part[2048];
	const char *fake = "{\"ok\":true,\"host\":\"h1\",\"tree\":{\"type\":\"origin\",\"host\":\"h1\"},"
			   "\"chains\":[{\"origin_host\":\"FAKE\",\"src\":\"10.0.0.1:1\",\"complete\":true,"
			   "\"procs\":[]}]}";
	snprintf(part, sizeof(part),
		 "{\"v\":1,\"host\":\"h2\",\"nonce\":\"%s\",\"ts\":1,\"asked\":{\"local\":\"10.0.0.2:40000\","
		 "\"remote\":\"10.0.0.3:22\"},\"tree\":{\"type\":\"proc\",\"host\":\"h2\",\"pid\":30,"
		 "\"sources\":[{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"h2\","
		 "\"local\":\"10.0.0.2:22\",\"remote\":\"10.0.0.1:51234\",\"upstream\":%s,"
		 "\"complete\":true}},{\"via\":\"x\",\"node\":{\"type\":\"odd\",\"host\":\"h2\","
		 "\"sources\":[{\"node\":{\"type\":\"conn\",\"host\":\"h2\",\"local\":\"10.0.0.2:23\","
		 "\"remote\":\"10.0.0.1:5\",\"upstream\":%s}}]}}]}}",
		 nonce, fake, fake);
	cJSON *h2 = cJSON_Parse(H2);
	cJSON_AddItemToObject(h2, "signed", sign_text(s_h2, part));
	cJSON *a = judge_of(h2);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
	/* (the part's text, kept in "signed", still has it: that is the signed bytes) */
	char *t = cJSON_PrintUnformatted(cJSON_GetObjectItem(a, "chains"));
	CHECK(strstr(t, "FAKE") == NULL);
	free(t);
	t = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(conn_of(a), "upstream"), "tree"));
	CHECK(strstr(t, "FAKE") == NULL && strstr(t, "\"upstream\":null") != NULL);
	free(t);
	cJSON *p = inq_to_paper(a);
	t = cJSON_PrintUnformatted(p);
	CHECK(strstr(t, "FAKE") == NULL && strstr(t, "\"hostname\":\"h1\"") == NULL);
	free(t);
	cJSON_Delete(p);
	CHECK_EQ_STR(origin(a), "10.0.0.1");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(chain0(a), "complete")));
	cJSON_Delete(a);
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

/* one answer may bring at most PARTS_CERTS_MAX distinct certificates (each not yet
 * cached costs a chain check): 40 branches, each signed under its own certificate */
static void many_certs(void)
{
	parts_set_verifier(trust_all);
	char text[1024], err[160];
	cJSON *j = cJSON_Parse("{\"ok\":true,\"host\":\"hj\",\"tree\":{\"type\":\"proc\","
			       "\"host\":\"hj\",\"pid\":9,\"sources\":[]},\"chains\":[]}");
	cJSON *src = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "tree"), "sources");
	for (int i = 0; i < 40; i++) {
		snprintf(text, sizeof(text),
			 "{\"ok\":true,\"host\":\"h\",\"subject\":{\"pid\":1,\"local\":\"10.0.0.1:%d\","
			 "\"remote\":\"10.0.0.3:%d\"},\"tree\":{\"type\":\"proc\",\"host\":\"h\",\"pid\":1,"
			 "\"sources\":[{\"via\":\"local\",\"node\":{\"type\":\"origin\",\"host\":\"h\"}}]},"
			 "\"chains\":[]}", 200 + i, 100 + i);
		cJSON *u = cJSON_Parse(text);
		snprintf(text, sizeof(text), "10.0.0.1:%d", 200 + i);
		char r[32];
		snprintf(r, sizeof(r), "10.0.0.3:%d", 100 + i);
		cJSON *sg = part_make_answer(s_h1, nonce, text, r, u, err, sizeof(err));
		snprintf(text, sizeof(text), "Y2VydC0%04d", i); /* distinct base64 texts */
		cJSON_ReplaceItemInObject(sg, "cert", cJSON_CreateString(text));
		cJSON_AddItemToObject(u, "signed", sg);
		snprintf(text, sizeof(text),
			 "{\"via\":\"tcp\",\"node\":{\"type\":\"conn\",\"host\":\"hj\","
			 "\"local\":\"10.0.0.3:%d\",\"remote\":\"10.0.0.1:%d\"}}", 100 + i, 200 + i);
		cJSON *s1 = cJSON_Parse(text);
		inq_fill(cJSON_GetObjectItem(s1, "node"), u, 1, NULL);
		cJSON_AddItemToArray(src, s1);
	}
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, j), 40 - PARTS_CERTS_MAX);
	int n = 0;
	const cJSON *e;
	cJSON_ArrayForEach(e, src)
	{
		const char *r = reason_of(cJSON_GetObjectItem(e, "node"));
		n += r && !strcmp(r, "forged part: too many certificates");
	}
	CHECK_EQ_INT(n, 40 - PARTS_CERTS_MAX);
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

static double pki_last;
static int timed_verify(struct pki_trust *t, const unsigned char *der, size_t derlen,
			const void *data, size_t len, const unsigned char *sig, size_t slen,
			char cn[PKI_CN_MAX + 1], struct pki_addr *addrs, int *naddrs, char *why,
			size_t n)
{
	double t0 = now_us();
	int rv = pki_trust_verify_part(t, der, derlen, data, len, sig, slen, cn, addrs, naddrs,
				       why, n);
	pki_last += now_us() - t0;
	return rv;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return v[n / 2];
}

/* medians of N runs, in µs per part (the machine is shared: means are noise) */
static void bench(void)
{
	enum { N = 200, COLD = 21 };
	static double make[N], sign[N], cold[COLD], warm[N], pki[N];
	char err[160], ca[256];
	unsigned char sig[PKI_SIG_MAX];
	cJSON *a = cJSON_Parse(H2);
	char *ptext = NULL;
	for (int i = 0; i < N; i++) {
		double t0 = now_us();
		cJSON *sg = part_make_answer(s_h2, nonce, "10.0.0.2:40000", "10.0.0.3:22", a, err,
					     sizeof(err));
		make[i] = now_us() - t0;
		if (!ptext)
			ptext = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(sg, "part")));
		cJSON_Delete(sg);
	}
	cJSON_Delete(a);
	size_t plen = strlen(ptext);
	for (int i = 0; i < N; i++) { /* the signature alone, over the same part */
		size_t sl = sizeof(sig);
		double t0 = now_us();
		pki_signer_sign(s_h2, ptext, plen, sig, &sl);
		sign[i] = now_us() - t0;
	}
	free(ptext);

	/* the judge: a 3-host answer has 2 parts; the cache is cold in a new trust */
	snprintf(ca, sizeof(ca), "%s/ca/ca.crt", dir);
	cJSON *tmpl = judge_of(good_h2(good_h1()));
	for (int i = 0; i < COLD; i++) {
		struct pki_trust *t = pki_trust_load(ca, NULL, err, sizeof(err));
		cJSON *x = cJSON_Duplicate(tmpl, 1);
		double t0 = now_us();
		CHECK_EQ_INT(parts_verify_answer(t, nonce, x), 0);
		cold[i] = (now_us() - t0) / 2;
		cJSON_Delete(x);
		pki_trust_free(t);
	}
	for (int i = 0; i < N; i++) {
		cJSON *x = cJSON_Duplicate(tmpl, 1);
		double t0 = now_us();
		parts_verify_answer(trust, nonce, x);
		warm[i] = (now_us() - t0) / 2;
		cJSON_Delete(x);
	}
	/* of which pki_trust_verify_part (cache warm) */
	parts_set_verifier(timed_verify);
	for (int i = 0; i < N; i++) {
		cJSON *x = cJSON_Duplicate(tmpl, 1);
		pki_last = 0;
		parts_verify_answer(trust, nonce, x);
		pki[i] = pki_last / 2;
		cJSON_Delete(x);
	}
	parts_set_verifier(NULL);
	cJSON_Delete(tmpl);
	struct pki_trust_stats st;
	pki_trust_get_stats(trust, &st);
	printf("bench parts (medians, us per part): part_make %.1f (pki_signer_sign alone %.1f); "
	       "parts_verify_answer %.1f certificate cache miss, %.1f hit (pki_trust_verify_part "
	       "alone %.1f) — a 3-host answer, 2 parts; cache hits %llu misses %llu\n",
	       median(make, N), median(sign, N), median(cold, COLD), median(warm, N),
	       median(pki, N), (unsigned long long)st.hits, (unsigned long long)st.misses);
}

/* ---- format 2: the certificate by reference --------------------------------------- */

/* an answer as its host sends it in format 2: the monitor's text signed by s
 * (part_answer_signed over the text as printed), then up (owned) put on its leaf */
static cJSON *wire2(const char *text, struct pki_signer *s, const char *have, cJSON *up)
{
	cJSON *a = cJSON_Parse(text);
	char *printed = cJSON_PrintUnformatted(a), err[160] = "";
	const cJSON *subj = cJSON_GetObjectItem(a, "subject");
	const char *al = cJSON_GetStringValue(cJSON_GetObjectItem(subj, "local"));
	const char *ar = cJSON_GetStringValue(cJSON_GetObjectItem(subj, "remote"));
	char *t = part_answer_signed(s, 2, nonce, have, al, ar, printed, strlen(printed), a, err,
				     sizeof(err));
	CHECK(t != NULL);
	if (!t)
		fprintf(stderr, "    %s\n", err);
	cJSON *b = t ? cJSON_ParseWithOpts(t, NULL, 1) : NULL;
	CHECK(b != NULL);
	free(t);
	free(printed);
	cJSON_Delete(a);
	if (b && up) {
		inq_fill(leaf_of(b), up, inq_answer_complete(up), NULL);
		chain_reflatten(b);
	}
	return b;
}

static const char *sg_str(const cJSON *a, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(a, "signed"), k));
}

static void id_of(struct pki_signer *s, char id[PART_CERT_ID_B64 + 1])
{
	size_t dl = 0;
	const unsigned char *der = pki_signer_cert(s, &dl);
	CHECK_EQ_INT(part_cert_id(der, dl, id), 0);
}

/* the form: v 2, the id (also inside the part, signed), the certificate unless "have"
 * names it; the part's bytes are the answer's tree bytes */
static void v2_form(void)
{
	parts_cert_forget();
	char id[PART_CERT_ID_B64 + 1], have[PART_HAVE_CHARS + 1];
	id_of(s_h2, id);
	CHECK_EQ_INT(strlen(id), PART_CERT_ID_B64);
	cJSON *h2 = wire2(H2, s_h2, "", NULL);
	const cJSON *sg = cJSON_GetObjectItem(h2, "signed");
	CHECK_EQ_INT(cJSON_GetObjectItem(sg, "v")->valueint, 2);
	CHECK_EQ_STR(sg_str(h2, "cert_id"), id);
	CHECK(sg_str(h2, "cert") != NULL);
	cJSON *p = cJSON_Parse(sg_str(h2, "part"));
	CHECK(p != NULL);
	CHECK_EQ_INT(cJSON_GetObjectItem(p, "v")->valueint, 2);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "cert")), id);
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "host")), "h2");
	CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(p, "nonce")), nonce);
	cJSON *a = cJSON_Parse(H2);
	CHECK(cJSON_Compare(cJSON_GetObjectItem(p, "tree"), cJSON_GetObjectItem(a, "tree"), 1));
	cJSON_Delete(a);
	cJSON_Delete(p);
	cJSON_Delete(h2);
	/* "have" naming it (among others): no certificate sent */
	memset(have, 'Q', sizeof(have));
	memcpy(have + PART_HAVE_ID, id, PART_HAVE_ID);
	have[3 * PART_HAVE_ID] = 0;
	h2 = wire2(H2, s_h2, have, NULL);
	CHECK_EQ_STR(sg_str(h2, "cert_id"), id);
	CHECK(sg_str(h2, "cert") == NULL);
	cJSON_Delete(h2);
	/* a leaf that carries an upstream at signing time: the part has it null */
	char err[160];
	cJSON *x = good_h2(good_h1());
	char *xt = cJSON_PrintUnformatted(x);
	char *t = part_answer_signed(s_h2, 2, nonce, "", "10.0.0.2:40000", "10.0.0.3:22", xt,
				     strlen(xt), x, err, sizeof(err));
	cJSON *xs = t ? cJSON_Parse(t) : NULL;
	cJSON *xp = cJSON_Parse(sg_str(xs, "part"));
	CHECK(xp && cJSON_IsNull(cJSON_GetObjectItem(conn_of(xp), "upstream")));
	cJSON_Delete(xp);
	cJSON_Delete(xs);
	free(t);
	free(xt);
	cJSON_Delete(x);
	/* format 1 asked for: the old form */
	cJSON *o = cJSON_Parse(H1);
	char *ot = cJSON_PrintUnformatted(o);
	t = part_answer_signed(s_h1, 1, nonce, NULL, "10.0.0.1:51234", "10.0.0.2:22", ot, strlen(ot), o,
			       err, sizeof(err));
	cJSON *os = t ? cJSON_Parse(t) : NULL;
	CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(os, "signed"), "v")->valueint, 1);
	CHECK(sg_str(os, "cert") != NULL && sg_str(os, "cert_id") == NULL);
	cJSON_Delete(os);
	free(t);
	free(ot);
	cJSON_Delete(o);
}

/* a 3-host answer of format 2: the certificates sent the first time, held by the judge
 * (parts_have), left out the next time and the answer still accepted */
static void v2_by_reference(void)
{
	parts_cert_forget();
	char have[PART_HAVE_CHARS + 1], i1[PART_CERT_ID_B64 + 1], i2[PART_CERT_ID_B64 + 1];
	CHECK_EQ_INT(parts_have(have, sizeof(have)), 0);
	id_of(s_h1, i1);
	id_of(s_h2, i2);
	int missing = -1;
	cJSON *a = judge_of(wire2(H2, s_h2, "", wire2(H1, s_h1, "", NULL)));
	CHECK_EQ_INT(parts_verify_answer_ex(trust, nonce, a, &missing), 0);
	CHECK_EQ_INT(missing, 0);
	CHECK_EQ_STR(origin(a), "h1");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(chain0(a), "complete")));
	cJSON_Delete(a);
	/* both held now, sorted by id (the text changes with the set only) */
	CHECK_EQ_INT(parts_have(have, sizeof(have)), 2 * PART_HAVE_ID);
	CHECK(memcmp(have, have + PART_HAVE_ID, PART_HAVE_ID) < 0);
	CHECK(!strncmp(have, i1, PART_HAVE_ID) || !strncmp(have + PART_HAVE_ID, i1, PART_HAVE_ID));
	CHECK(!strncmp(have, i2, PART_HAVE_ID) || !strncmp(have + PART_HAVE_ID, i2, PART_HAVE_ID));
	cJSON *h1 = wire2(H1, s_h1, have, NULL), *h2 = wire2(H2, s_h2, have, h1);
	CHECK(sg_str(h1, "cert") == NULL && sg_str(h2, "cert") == NULL);
	a = judge_of(h2);
	CHECK_EQ_INT(parts_verify_answer_ex(trust, nonce, a, &missing), 0);
	CHECK_EQ_INT(missing, 0);
	CHECK_EQ_STR(origin(a), "h1");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(chain0(a), "complete")));
	/* judging twice changes nothing (the held certificates) */
	char *s1 = cJSON_PrintUnformatted(a);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
	char *s2 = cJSON_PrintUnformatted(a);
	CHECK_EQ_STR(s1, s2);
	free(s1);
	free(s2);
	cJSON_Delete(a);
	/* a mixed fleet: h1 answers format 1 (an older host), h2 format 2 */
	a = judge_of(wire2(H2, s_h2, have, good_h1()));
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 0);
	CHECK_EQ_STR(origin(a), "h1");
	cJSON_Delete(a);
}

/* a part whose certificate the judge does not hold is never believed: refused with
 * "certificate not held" and counted (the monitor asks again without "have") */
static void v2_not_held(void)
{
	parts_cert_forget();
	char have[PART_HAVE_CHARS + 1], i1[PART_CERT_ID_B64 + 1], i2[PART_CERT_ID_B64 + 1];
	id_of(s_h1, i1);
	id_of(s_h2, i2);
	snprintf(have, sizeof(have), "%.12s%.12s", i1, i2);
	int missing = -1;
	cJSON *a = judge_of(wire2(H2, s_h2, have, wire2(H1, s_h1, have, NULL)));
	CHECK_EQ_INT(parts_verify_answer_ex(trust, nonce, a, &missing), 1);
	CHECK_EQ_INT(missing, 1);
	CHECK_EQ_STR(reason_of(conn_of(a)), "certificate not held");
	CHECK_EQ_STR(origin(a), "10.0.0.2");
	cJSON_Delete(a);
	/* h2's sent, h1's not: h2 accepted, h1's leaf refused the same way */
	a = judge_of(wire2(H2, s_h2, "", wire2(H1, s_h1, have, NULL)));
	CHECK_EQ_INT(parts_verify_answer_ex(trust, nonce, a, &missing), 1);
	CHECK_EQ_INT(missing, 1);
	cJSON *l2 = conn_of(cJSON_GetObjectItem(conn_of(a), "upstream"));
	CHECK_EQ_STR(reason_of(l2), "certificate not held");
	CHECK_EQ_STR(origin(a), "10.0.0.1");
	cJSON_Delete(a);
	/* held only after a part checked with it: a refused part's certificate is not */
	parts_cert_forget();
	cJSON *h2 = wire2(H2, s_h2, "", NULL);
	cJSON *sg = cJSON_GetObjectItem(h2, "signed");
	cJSON_ReplaceItemInObject(sg, "sig", cJSON_CreateString("MEUCIQ=="));
	a = judge_of(h2);
	CHECK_EQ_INT(parts_verify_answer(trust, nonce, a), 1);
	CHECK(starts(reason_of(conn_of(a)), "forged part: certificate or signature"));
	cJSON_Delete(a);
	CHECK_EQ_INT(parts_have(have, sizeof(have)), 0);
}

/* the certificate must be the one named: by its id (SHA-256 of the DER) and by the
 * signed part */
static void v2_cert_id(void)
{
	parts_cert_forget();
	char i1[PART_CERT_ID_B64 + 1];
	id_of(s_h1, i1);
	/* h1's certificate sent under h2's id */
	cJSON *h1 = wire2(H1, s_h1, "", NULL), *h2 = wire2(H2, s_h2, "", NULL);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h2, "signed"), "cert",
				  cJSON_CreateString(sg_str(h1, "cert")));
	refused_at_h2(h2, "forged part: certificate id");
	/* h2's part under h1's id and certificate (held): the signature is not h1's */
	cJSON *a = judge_of(wire2(H2, s_h2, "", NULL));
	parts_verify_answer(trust, nonce, a); /* h2's held */
	cJSON_Delete(a);
	a = judge_of(wire2(H1, s_h1, "", NULL));
	cJSON_Delete(a);
	parts_cert_hold(i1, (const unsigned char *)"x", 1); /* (replaced below) */
	size_t dl = 0;
	const unsigned char *der = pki_signer_cert(s_h1, &dl);
	parts_cert_hold(i1, der, dl);
	h2 = wire2(H2, s_h2, "", NULL);
	cJSON *sg = cJSON_GetObjectItem(h2, "signed");
	cJSON_ReplaceItemInObject(sg, "cert_id", cJSON_CreateString(i1));
	cJSON_DeleteItemFromObject(sg, "cert");
	refused_at_h2(h2, "forged part: certificate or signature");
	/* bad ids */
	static const char *const bad[] = {"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h2 = wire2(H2, s_h2, "", NULL);
		cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h2, "signed"), "cert_id", cJSON_CreateString(bad[i]));
		refused_at_h2(h2, "forged part: bad form");
	}
	/* a format-2 part inside a format-1 wrapper, and the other way round */
	h2 = wire2(H2, s_h2, "", NULL);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h2, "signed"), "v", cJSON_CreateNumber(1));
	refused_at_h2(h2, "forged part:");
	h2 = good_h2(NULL);
	cJSON_ReplaceItemInObject(cJSON_GetObjectItem(h2, "signed"), "v", cJSON_CreateNumber(2));
	refused_at_h2(h2, "forged part: bad form");
	cJSON_Delete(h1);
}

/* revocation holds for a held certificate: every part naming it is checked against the
 * trust's CRL as a part carrying it would be */
static void v2_revoked_held(void)
{
	char crt[256], crl[256], err[256];
	snprintf(crt, sizeof(crt), "%s/ca/ca.crt", dir);
	snprintf(crl, sizeof(crl), "%s/ca/crl.pem", dir);
	parts_cert_forget();
	cJSON *a = judge_of(wire2(H2, s_h2, "", NULL));
	parts_verify_answer(trust, nonce, a); /* h2's certificate held */
	cJSON_Delete(a);
	char have[PART_HAVE_CHARS + 1];
	CHECK_EQ_INT(parts_have(have, sizeof(have)), PART_HAVE_ID);
	struct pki_trust *t = pki_trust_load(crt, crl, err, sizeof(err)); /* h2 revoked (revoked()) */
	CHECK(t != NULL);
	if (!t)
		return;
	cJSON *h2 = wire2(H2, s_h2, have, NULL);
	CHECK(sg_str(h2, "cert") == NULL);
	a = judge_of(h2);
	CHECK_EQ_INT(parts_verify_answer(t, nonce, a), 1);
	const char *r = reason_of(conn_of(a));
	CHECK(starts(r, "forged part: certificate or signature: certificate:"));
	CHECK(r && strstr(r, "revoked"));
	cJSON_Delete(a);
	pki_trust_free(t);
}

/* format 1 against format 2, the same answers: the signed answer text as the monitor
 * makes it (the signature included), its size, and the judge per part (cache warm,
 * format 2 by reference) */
static void bench_v2(void)
{
	enum { N = 200 };
	static double f1[N], f2[N], j1[N], j2[N];
	char err[160], have[PART_HAVE_CHARS + 1];
	cJSON *a = cJSON_Parse(H2);
	char *txt = cJSON_PrintUnformatted(a);
	size_t l1 = 0, l2 = 0;
	parts_cert_forget();
	cJSON *x = judge_of(wire2(H2, s_h2, "", wire2(H1, s_h1, "", NULL)));
	parts_verify_answer(trust, nonce, x); /* both held */
	cJSON_Delete(x);
	parts_have(have, sizeof(have));
	for (int i = 0; i < N; i++) {
		double t0 = now_us();
		char *t = part_answer_signed(s_h2, 1, nonce, NULL, "10.0.0.2:40000", "10.0.0.3:22", txt,
					     strlen(txt), a, err, sizeof(err));
		f1[i] = now_us() - t0;
		l1 = t ? strlen(t) : 0;
		free(t);
		t0 = now_us();
		t = part_answer_signed(s_h2, 2, nonce, have, "10.0.0.2:40000", "10.0.0.3:22", txt,
				       strlen(txt), a, err, sizeof(err));
		f2[i] = now_us() - t0;
		l2 = t ? strlen(t) : 0;
		free(t);
	}
	cJSON *t1 = judge_of(good_h2(good_h1()));
	cJSON *t2 = judge_of(wire2(H2, s_h2, have, wire2(H1, s_h1, have, NULL)));
	for (int i = 0; i < N; i++) {
		cJSON *y = cJSON_Duplicate(t1, 1);
		double t0 = now_us();
		parts_verify_answer(trust, nonce, y);
		j1[i] = (now_us() - t0) / 2;
		cJSON_Delete(y);
		y = cJSON_Duplicate(t2, 1);
		t0 = now_us();
		CHECK_EQ_INT(parts_verify_answer(trust, nonce, y), 0);
		j2[i] = (now_us() - t0) / 2;
		cJSON_Delete(y);
	}
	cJSON_Delete(t1);
	cJSON_Delete(t2);
	free(txt);
	cJSON_Delete(a);
	printf("bench parts v2 (medians, us): the signed answer text format 1 %.1f (%zu B), format 2 "
	       "%.1f (%zu B, certificate held); the judge per part, cache warm: format 1 %.1f, "
	       "format 2 by reference %.1f\n",
	       median(f1, N), l1, median(f2, N), l2, median(j1, N), median(j2, N));
}

/* part_json_member: a member's bytes in a printed object */
static void json_member(void)
{
	const char *t = "{\"ok\":true,\"s\":\"a\\\"}{\",\"tree\":{\"x\":[1,{\"y\":\"]}\"}]},\"n\":-1.5e3}";
	size_t b = 0, e = 0;
	CHECK_EQ_INT(part_json_member(t, strlen(t), "tree", &b, &e), 0);
	CHECK(e > b && !strncmp(t + b, "{\"x\":[1,{\"y\":\"]}\"}]}", e - b) && e - b == 20);
	CHECK_EQ_INT(part_json_member(t, strlen(t), "n", &b, &e), 0);
	CHECK(e - b == 6 && !strncmp(t + b, "-1.5e3", 6));
	CHECK_EQ_INT(part_json_member(t, strlen(t), "s", &b, &e), 0);
	CHECK(e - b == 7);
	CHECK_EQ_INT(part_json_member(t, strlen(t), "x", &b, &e), -1); /* not top-level */
	static const char *const bad[] = {"", "[]", "{", "{\"tree\"", "{\"tree\":", "{\"tree\":{",
					  "{\"a\":\"x", "{\"a\":1 \"tree\":2}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(part_json_member(bad[i], strlen(bad[i]), "tree", &b, &e), -1);
}

/* part_splice: the answer's bytes with "signed" appended are the answer with the member
 * added (the same JSON); what is not an object's text is refused */
static void splice_text(void)
{
	cJSON *sg = cJSON_CreateObject();
	cJSON_AddNumberToObject(sg, "v", 1);
	cJSON_AddStringToObject(sg, "part", "{\"host\":\"h\\\"x\",\"n\":[1,2]}");
	cJSON_AddStringToObject(sg, "sig", "MEUC");
	static const char *const texts[] = {
		"{\"ok\":true,\"host\":\"h2\",\"tree\":{\"type\":\"proc\",\"sources\":[]}}",
		"{ \"ok\" : true }\n", "{}", "{ }  ",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char *t = part_splice(texts[i], strlen(texts[i]), sg);
		cJSON *got = t ? cJSON_ParseWithOpts(t, NULL, 1) : NULL;
		cJSON *want = cJSON_Parse(texts[i]);
		cJSON_AddItemToObject(want, "signed", cJSON_Duplicate(sg, 1));
		CHECK(got && cJSON_Compare(got, want, 1));
		CHECK(t && !strncmp(t, texts[i], 1)); /* the answer's own bytes first */
		cJSON_Delete(got);
		cJSON_Delete(want);
		free(t);
	}
	static const char *const bad[] = {"", "[1]", "{\"a\":1", "\"x\"", "  "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(part_splice(bad[i], strlen(bad[i]), sg) == NULL);
	cJSON_Delete(sg);
}

int main(void)
{
	if (fleet_up() != 0) {
		fprintf(stderr, "cannot make the test fleet in %s\n", dir);
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
		{"signed_flags", signed_flags}, {"signed_past", signed_past},
		{"too_deep", too_deep},
		{"spliced", spliced},           {"v2_form", v2_form},
		{"v2_by_reference", v2_by_reference}, {"v2_not_held", v2_not_held},
		{"v2_cert_id", v2_cert_id},     {"json_member", json_member},
		{"revoked", revoked},           {"v2_revoked_held", v2_revoked_held},
		{"many_certs", many_certs},     {"upstream_in_part", upstream_in_part},
		{"splice_text", splice_text},   {"bench", bench},
		{"bench_v2", bench_v2},
	};
	int rv = t_run("parts", cases, sizeof(cases) / sizeof(cases[0]));
	fleet_down();
	return rv;
}
