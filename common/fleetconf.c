/*
 * fleetconf.c — implements fleetconf.h: the [fleet] section and what `-n` says about
 * the fleet files. The certificate work is mbedTLS's through common/pki.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>

#include "hoptrace/fleetconf.h"
#include "hoptrace/ini.h"
#include "hoptrace/pki.h"

void fleet_conf_defaults(struct fleet_conf *f)
{
	memset(f, 0, sizeof *f);
	snprintf(f->ca, sizeof f->ca, "%s/ca.crt", FLEET_DIR);
	snprintf(f->cert, sizeof f->cert, "%s/host.crt", FLEET_DIR);
	snprintf(f->key, sizeof f->key, "%s/host.key", FLEET_DIR);
	snprintf(f->sign_cert, sizeof f->sign_cert, "%s/host.sign.crt", FLEET_DIR);
	snprintf(f->sign_key, sizeof f->sign_key, "%s/host.sign.key", FLEET_DIR);
	snprintf(f->crl, sizeof f->crl, "%s/crl.pem", FLEET_DIR);
	f->uses = FLEET_USE_ALL;
}

int fleet_conf_key(struct fleet_conf *f, const char *key, const char *val, char *err, size_t n)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned bit;
	} paths[] = {
		{"ca", offsetof(struct fleet_conf, ca), FLEET_SET_CA},
		{"cert", offsetof(struct fleet_conf, cert), FLEET_SET_CERT},
		{"key", offsetof(struct fleet_conf, key), FLEET_SET_KEY},
		{"sign_cert", offsetof(struct fleet_conf, sign_cert), FLEET_SET_SIGN_CERT},
		{"sign_key", offsetof(struct fleet_conf, sign_key), FLEET_SET_SIGN_KEY},
		{"crl", offsetof(struct fleet_conf, crl), FLEET_SET_CRL},
	};
	if (strcmp(key, "lab_plain") == 0) {
		if (ini_bool(val, &f->lab_plain, err, n))
			return -1;
		f->set |= FLEET_SET_LAB_PLAIN;
		return 0;
	}
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		if (strcmp(key, paths[i].key))
			continue;
		/* crl may be set empty: no CRL */
		if (!(paths[i].bit == FLEET_SET_CRL && !*val) && val[0] != '/') {
			snprintf(err, n, "%s: must be an absolute path", key);
			return -1;
		}
		if (strlen(val) >= FLEET_PATH_MAX) {
			snprintf(err, n, "%s: longer than %d bytes", key, FLEET_PATH_MAX - 1);
			return -1;
		}
		snprintf((char *)f + paths[i].off, FLEET_PATH_MAX, "%s", val);
		f->set |= paths[i].bit;
		return 0;
	}
	snprintf(err, n, "unknown key \"%s\" in [fleet]", key);
	return -1;
}

static int load_cb(void *ctx, const char *sec, const char *key, const char *val, char *err,
		   size_t n)
{
	if (strcmp(sec, "fleet"))
		return 0; /* other programs' sections */
	return fleet_conf_key(ctx, key, val, err, n);
}

int fleet_conf_load(const char *path, int explicit_path, struct fleet_conf *f, char *err,
		    size_t n)
{
	fleet_conf_defaults(f);
	if (!explicit_path && access(path, F_OK) != 0)
		return 0;
	return ini_parse(path, load_cb, f, err, n);
}

/* ---- the checks ---------------------------------------------------------------------- */

struct out {
	char *b;
	size_t n, len;
	int errors;
};

static void say(struct out *o, int warn, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct out *o, int warn, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (!warn)
		o->errors++;
	if (o->len < o->n) {
		int w = snprintf(o->b + o->len, o->n - o->len, "fleet: %s%s\n", warn ? "warning: " : "",
				 line);
		if (w > 0)
			o->len += (size_t)w < o->n - o->len ? (size_t)w : o->n - o->len - 1;
	}
}

static void date(time_t t, char d[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(d, 32, "%Y-%m-%d %H:%M UTC", &tm);
}

/* the validity of one certificate (or CA): expired, not yet valid, ending soon */
static void check_dates(struct out *o, const char *what, const mbedtls_x509_crt *c, time_t now)
{
	char d[32];
	time_t na = pki_time(&c->valid_to), nb = pki_time(&c->valid_from);
	date(na, d);
	if (na <= now)
		say(o, 0, "%s: expired on %s", what, d);
	else if (na - now < (time_t)FLEET_WARN_DAYS * 86400)
		say(o, 1, "%s: expires in %ld days (%s): issue a new one (docs/fleet.md)", what,
		    (long)((na - now) / 86400), d);
	if (nb > now) {
		date(nb, d);
		say(o, 0, "%s: not valid before %s (is the clock right?)", what, d);
	}
}

/* A key's mode: the part-signing key 0600 (hoptraced's root part only). The TLS key may
 * also be 0640 with group hoptrace: hoptrace-policyd reads it again at SIGHUP, after its
 * drop to user hoptrace (the inquiry child, the same user, has it in memory anyway). */
static void key_mode(struct out *o, const char *key, int sign)
{
	struct stat st;
	if (stat(key, &st) != 0 || !(st.st_mode & 077))
		return;
	unsigned m = (unsigned)(st.st_mode & 0777);
	if (!sign && !(st.st_mode & 037)) {
		struct group *g = getgrnam("hoptrace");
		if (g && st.st_gid == g->gr_gid)
			return;
		say(o, 1, "%s: readable by its group (mode %03o), not group hoptrace: chgrp hoptrace "
			  "(or chmod 600)", key, m);
		return;
	}
	say(o, 1, "%s: readable by group or others (mode %03o): chmod 600%s", key, m,
	    sign ? "" : " (or 640 with group hoptrace)");
}

/* one certificate and its key; returns the parsed certificate in c (caller frees) */
static int check_pair(struct out *o, const struct fleet_conf *f, const char *cert,
		      const char *key, int sign, mbedtls_x509_crt *ca, mbedtls_x509_crl *crl,
		      const char *const *my_addrs, int naddrs, int addr_warn, mbedtls_x509_crt *c,
		      time_t now)
{
	char err[600], why[300];
	const char *kind = sign ? "sign_cert" : "cert";
	mbedtls_x509_crt_init(c);
	if (pki_crt_load(cert, c, err, sizeof err)) {
		say(o, 0, "%s %s", kind, err);
		return -1;
	}
	check_dates(o, cert, c, now);
	uint32_t flags = 0;
	mbedtls_x509_crt_verify(c, ca, crl, NULL, &flags, NULL, NULL);
	flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		say(o, 0, "%s: not signed by the fleet CA (%s)", cert, f->ca);
	if (flags & MBEDTLS_X509_BADCERT_REVOKED)
		say(o, 0, "%s: revoked (on %s)", cert, f->crl);
	flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_REVOKED |
			     MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE);
	if (flags) {
		char b[512];
		mbedtls_x509_crt_verify_info(b, sizeof b, "", flags);
		for (char *l = strtok(b, "\n"); l; l = strtok(NULL, "\n"))
			say(o, 0, "%s: %s", cert, l);
	}
	if (sign) {
		if (pki_crt_is_signer(c, why, sizeof why))
			say(o, 0, "%s: %s", cert, why);
	} else if (pki_crt_kind(c) != PKI_KIND_TLS) {
		say(o, 0, "%s: not a TLS certificate (keyUsage digitalSignature and extKeyUsage "
			  "serverAuth + clientAuth: use HOST.crt, not HOST.sign.crt)",
		    cert);
	}
	char miss[512] = "";
	size_t ml = 0;
	for (int i = 0; i < naddrs; i++) {
		if (pki_crt_names_ip(c, my_addrs[i]))
			continue;
		if (!addr_warn)
			say(o, 0, "%s: does not name address %s", cert, my_addrs[i]);
		else if (ml < sizeof miss)
			ml += (size_t)snprintf(miss + ml, sizeof miss - ml, "%s%s", ml ? ", " : "",
					       my_addrs[i]);
	}
	if (miss[0]) /* this host's interface addresses: some may never face a peer */
		say(o, 1, "%s: does not name this host's address(es) %s: a peer that reaches it "
			  "there refuses it",
		    cert, miss);
	mbedtls_pk_context k;
	if (pki_key_load(key, &k, err, sizeof err)) {
		say(o, 0, "%s %s", sign ? "sign_key" : "key", err);
		return 0;
	}
	if (mbedtls_pk_check_pair(&c->pk, &k))
		say(o, 0, "%s: does not match the certificate %s", key, cert);
	mbedtls_pk_free(&k);
	key_mode(o, key, sign);
	return 0;
}

int fleet_check(const struct fleet_conf *f, const char *const *my_addrs, int naddrs, char *out,
		size_t n)
{
	return fleet_check_addrs(f, my_addrs, naddrs, 0, out, n);
}

int fleet_check_addrs(const struct fleet_conf *f, const char *const *my_addrs, int naddrs,
		      int addr_warn, char *out, size_t n)
{
	struct out o = {out, n, 0, 0};
	time_t now = time(NULL);
	char err[600], d[32];
	mbedtls_x509_crt ca, c1, c2;
	mbedtls_x509_crl crl;
	int have_crl = 0, h1 = 0, h2 = 0;
	if (n)
		out[0] = 0;
	if (f->lab_plain) {
		say(&o, 1, "lab_plain = yes: plain HTTP between hosts, nothing signed, every answer "
			   "believed (lab and benchmarks only)");
		return 0;
	}
	/* a host not in a fleet yet: the default files are all absent */
	if (!(f->set & (FLEET_SET_CA | FLEET_SET_CERT | FLEET_SET_KEY | FLEET_SET_SIGN_CERT |
			FLEET_SET_SIGN_KEY)) &&
	    access(f->ca, F_OK) != 0 && access(f->cert, F_OK) != 0 &&
	    access(f->sign_cert, F_OK) != 0) {
		say(&o, 1, "no fleet certificates yet (%s: %s): inquiries between hosts and remote "
			   "policy need them: hoptrace ca init / issue (docs/fleet.md)",
		    f->ca, strerror(ENOENT));
		return 0;
	}
	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crl_init(&crl);
	if (pki_crt_load(f->ca, &ca, err, sizeof err)) {
		say(&o, 0, "ca %s", err);
		goto out;
	}
	for (mbedtls_x509_crt *c = &ca; c && c->raw.p; c = c->next) {
		char cn[PKI_CN_MAX + 1] = "?", what[FLEET_PATH_MAX + 100];
		pki_crt_cn(c, cn);
		snprintf(what, sizeof what, "%s (%s)", f->ca, cn);
		if (!c->ca_istrue)
			say(&o, 0, "%s: not a CA certificate", what);
		else
			check_dates(&o, what, c, now);
	}
	if (f->crl[0] && access(f->crl, F_OK) == 0) {
		int rv = mbedtls_x509_crl_parse_file(&crl, f->crl);
		if (rv) {
			pki_strerror(rv, err, sizeof err);
			say(&o, 0, "%s: %s", f->crl, err);
		} else {
			have_crl = 1;
			for (mbedtls_x509_crl *c = &crl; c && c->raw.p; c = c->next) {
				time_t nu = pki_time(&c->next_update);
				date(nu, d);
				if (nu <= now)
					say(&o, 0, "%s: expired on %s: every certificate check fails "
						   "until it is refreshed (hoptrace ca revoke DIR, then "
						   "copy crl.pem)",
					    f->crl, d);
				else if (nu - now < (time_t)FLEET_WARN_DAYS * 86400)
					say(&o, 1, "%s: next update due %s: refresh it (hoptrace ca "
						   "revoke DIR) and copy it",
					    f->crl, d);
			}
		}
	} else if (f->crl[0] && (f->set & FLEET_SET_CRL)) {
		say(&o, 0, "crl %s: %s", f->crl, strerror(ENOENT));
	}
	if (f->uses & FLEET_USE_TLS)
		h1 = check_pair(&o, f, f->cert, f->key, 0, &ca, have_crl ? &crl : NULL, my_addrs,
				naddrs, addr_warn, &c1, now) == 0;
	if (f->uses & FLEET_USE_SIGN)
		h2 = check_pair(&o, f, f->sign_cert, f->sign_key, 1, &ca, have_crl ? &crl : NULL,
				my_addrs, naddrs, addr_warn, &c2, now) == 0;
	if (h1 && h2) {
		char a[PKI_CN_MAX + 1] = "", b[PKI_CN_MAX + 1] = "";
		pki_crt_cn(&c1, a);
		pki_crt_cn(&c2, b);
		if (strcmp(a, b))
			say(&o, 0, "%s names host \"%s\" but %s names \"%s\"", f->cert, a, f->sign_cert,
			    b);
	}
	if (f->uses & FLEET_USE_TLS)
		mbedtls_x509_crt_free(&c1);
	if (f->uses & FLEET_USE_SIGN)
		mbedtls_x509_crt_free(&c2);
out:
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crl_free(&crl);
	return o.errors;
}

int fleet_local_addrs(char (*addrs)[46], int max)
{
	struct ifaddrs *ifa, *i;
	int k = 0;
	if (getifaddrs(&ifa) != 0)
		return 0;
	for (i = ifa; i && k < max; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			const struct in_addr *a = &((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			if ((ntohl(a->s_addr) >> 24) == 127 || (ntohl(a->s_addr) >> 16) == 0xa9fe)
				continue; /* loopback, 169.254/16 */
			inet_ntop(AF_INET, a, addrs[k], 46);
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			const struct in6_addr *a = &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(a) || IN6_IS_ADDR_LOOPBACK(a))
				continue;
			inet_ntop(AF_INET6, a, addrs[k], 46);
		} else
			continue;
		int dup = 0;
		for (int j = 0; j < k; j++)
			dup |= !strcmp(addrs[j], addrs[k]);
		k += !dup;
	}
	freeifaddrs(ifa);
	return k;
}

int fleet_check_print(const char *prog, const char *path, int explicit_path, int uses, FILE *fp)
{
	struct fleet_conf f;
	char err[600], addrs[32][46], out[16384];
	const char *ap[32];
	if (fleet_conf_load(path, explicit_path, &f, err, sizeof err)) {
		fprintf(fp, "%s: %s\n", prog, err);
		return 1;
	}
	f.uses = uses;
	int na = fleet_local_addrs(addrs, 32);
	for (int i = 0; i < na; i++)
		ap[i] = addrs[i];
	int errors = fleet_check_addrs(&f, ap, na, 1, out, sizeof out);
	for (char *l = out, *e; *l; l = e + 1) {
		if (!(e = strchr(l, '\n')))
			break;
		fprintf(fp, "%s: %.*s\n", prog, (int)(e - l), l);
	}
	return errors;
}
