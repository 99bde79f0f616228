/* parts.h — signed chain parts: each host signs its own part of a chain, the judging host
 * checks every part (issue 11; design docs/research/fleet-trust.md §6.4).
 *
 * Wire form: an answer to a trace inquiry that carried "nonce" has, beside its usual
 * members ("ok","host","tree","chains"), a member
 *   "signed": {"v":1, "part":"<the exact signed text>", "sig":"<base64 DER>",
 *              "cert":"<base64 DER of the part-signing certificate>"}
 * where part is the JSON text
 *   {"v":1,"host":"h2","nonce":"<b64url>","ts":<unix s>,
 *    "asked":{"local":"10.0.0.2:22","remote":"10.0.0.1:51234"},   (as the signer sees it)
 *    "tree":{… the signer's own tree; every conn leaf has "upstream":null …}}
 * and sig is ECDSA P-256 over SHA-256("hoptrace-part-v1\0" ‖ part).
 * The judge verifies the part bytes and parses *them*; the outer tree/chains of an
 * upstream answer are never believed.
 *
 * The judge's checks for a followed leaf L (of a tree it already trusts) and the
 * upstream answer U it got for L:
 *   1. U.signed.cert chains to the fleet CA, valid, not revoked, a part-signing cert
 *   2. the signature verifies
 *   3. part.nonce is the judge's nonce
 *   4. part.asked is L's connection with local and remote swapped
 *   5. the certificate names L's far IP (only the true far host speaks for it)
 *   6. part.host is the certificate's CN
 * A failed check turns L into upstream:null, complete:false, reason "forged part: <check>";
 * the chains are then rebuilt from verified parts only.
 * Contract written session 7; implemented in collector/parts.c. */
#ifndef HT_PARTS_H
#define HT_PARTS_H
#include <stddef.h>

#include <cjson/cJSON.h>

#include "hoptrace/pki.h"

#define PART_NONCE_B64 22 /* 16 random bytes, base64url without padding */
#define PART_DOMAIN "hoptrace-part-v1"

/* a fresh nonce (base64url text, NUL-terminated) */
int part_nonce(char out[PART_NONCE_B64 + 1]);

/* This host's signed part over the connection it was asked about (local/remote as this
 * host sees them), of `tree` (copied; its conn leaves' upstreams are written as null).
 * Returns the "signed" object, or NULL with err. */
cJSON *part_make(struct pki_signer *s, const char *host, const char *nonce,
		 const char *asked_local, const char *asked_remote, const cJSON *tree, char *err,
		 size_t n);

/* The judge: `answer` is a tree this host trusts (its own local answer) whose followed
 * conn leaves carry upstream answers as received. Replaces every leaf's "upstream" by the
 * verified form (built only from verified part bytes, recursively) or by null with
 * "forged part: …", fixes "complete", and rebuilds "chains". Returns the number of
 * leaves refused. */
int parts_verify_answer(struct pki_trust *t, const char *nonce, cJSON *answer);

/* ---- added in session 7 (collector/parts.c) ---------------------------------------- */
/* part_make over a whole "who" answer: host, tree and the flags that make every chain
 * incomplete ("truncated", "holders_incomplete": signed as members of the part when
 * true, so a judge cannot lose them) are taken from `answer`. Use this one. */
cJSON *part_make_answer(struct pki_signer *s, const char *nonce, const char *asked_local,
			const char *asked_remote, const cJSON *answer, char *err, size_t n);
/* The text of answer (a JSON object: its first alen bytes, as parsed) with a last member
 * "signed": sgn, made by splicing: the answer's own bytes are kept, only sgn is printed
 * (the whole answer is not printed again). A new string, or NULL (not an object's text,
 * or out of memory). */
char *part_splice(const char *answer, size_t alen, const cJSON *sgn);

/* ---- format 2: the certificate by reference (session 15) -----------------------------
 * An asker whose request says "v":3 gets a part of format 2:
 *   "signed": {"v":2, "cert_id":"<id>", "sig":"<base64 DER>", ["cert":"<base64 DER>",]
 *              "part":"<the exact signed text>"}
 * id = base64url (no padding, 43 characters) of SHA-256 of the part-signing
 * certificate's DER; the part text names it too ({"v":2,"host":…,"cert":"<id>",…}, so
 * the signature binds the certificate), and is signed as
 * SHA-256("hoptrace-part-v2\0" ‖ part). "cert" is left out when the request's "have"
 * lists the id's first PART_HAVE_ID characters: the judge holds that certificate (it
 * checked it before). A part whose certificate the judge does not hold is not believed
 * ("certificate not held"); the judge asks its monitor to follow once more without
 * "have", so that every host sends its certificate (parts_verify_answer_ex's *missing).
 * Every part's certificate, held or sent, goes through pki_trust_verify_part (chain to
 * the fleet CA, validity now, the CRL, a part-signing certificate) as in format 1. */
#define PART_DOMAIN2 "hoptrace-part-v2"
#define PART_CERT_ID_B64 43 /* base64url of 32 bytes, no padding */
#define PART_HAVE_ID 12     /* a "have" entry: an id's first 12 characters (72 bits) */
#define PART_HAVE_N 16      /* entries in "have" */
#define PART_HAVE_CHARS (PART_HAVE_ID * PART_HAVE_N)
#define PARTS_HELD_MAX 64   /* certificates the judge holds (checked before, LRU) */

/* the id of a certificate (DER): 0, or -1 */
int part_cert_id(const unsigned char *der, size_t len, char out[PART_CERT_ID_B64 + 1]);
/* "have" syntax: 0..PART_HAVE_N entries of PART_HAVE_ID base64url characters, concatenated */
int part_have_ok(const char *have);
/* The signed answer text: ans (alen bytes, the answer as printed; a: it parsed) with its
 * "signed" member. pv 1: format 1 (part_make_answer + part_splice); pv 2: format 2, the
 * part built once as bytes (the answer's own tree bytes, when every conn leaf in it has
 * "upstream":null, else the tree printed with them nulled), the signed member written
 * directly; have: the asker's "have" ("" or NULL: send the certificate). A new string or
 * NULL with err. */
char *part_answer_signed(struct pki_signer *s, int pv, const char *nonce, const char *have,
			 const char *asked_local, const char *asked_remote, const char *ans,
			 size_t alen, const cJSON *a, char *err, size_t n);
/* parts_verify_answer, and *missing = the parts refused because the judge did not hold
 * their certificate (asking again without "have" fetches them) */
int parts_verify_answer_ex(struct pki_trust *t, const char *nonce, cJSON *answer, int *missing);
/* The judge's held certificates: the PART_HAVE_N most recently used, as a "have" text
 * sorted by id (out: PART_HAVE_CHARS + 1 bytes). Returns its length. */
size_t parts_have(char *out, size_t n);
/* holds der under id (what the judge does after a part with it checked; tests); forget
 * drops them all */
void parts_cert_hold(const char *id, const unsigned char *der, size_t len);
void parts_cert_forget(void);
/* the byte span [*b, *e) of the value of top-level member key in the JSON object text s
 * (n bytes; text printed by cJSON: not validated). 0 or -1. */
int part_json_member(const char *s, size_t n, const char *key, size_t *b, size_t *e);

/* Bounds of the judge (past them: "forged part: too deep / too many parts / too large /
 * too many certificates") */
#define PARTS_DEPTH_MAX 64        /* parts nested in one answer */
#define PARTS_MAX 512             /* parts verified for one answer */
#define PARTS_LEAVES_MAX 256      /* conn leaves of one part */
#define PARTS_NODES_MAX 8192      /* nodes of one part's tree */
#define PARTS_CERTS_MAX 32        /* distinct signer certificates in one answer */
#define PARTS_CERT_B64_MAX 8192   /* "cert" (base64) */
#define PARTS_SIG_B64_MAX 256     /* "sig" (base64) */

/* Test seam (unit and fuzz tests only): replaces pki_trust_verify_part for the judge;
 * NULL restores it. Not thread-safe: set it before any judge runs. */
typedef int (*parts_verify_fn)(struct pki_trust *t, const unsigned char *der, size_t derlen,
			       const void *data, size_t len, const unsigned char *sig,
			       size_t slen, char cn[PKI_CN_MAX + 1], struct pki_addr *addrs,
			       int *naddrs, char *why, size_t n);
void parts_set_verifier(parts_verify_fn fn);
#endif
