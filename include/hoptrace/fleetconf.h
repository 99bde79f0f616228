/* fleetconf.h — the [fleet] section of hoptrace.conf (docs/config.md, docs/fleet.md):
 * where this host's fleet files are, and the checks `-n` makes on them.
 *
 *   [fleet]
 *   ca        = /etc/hoptrace/fleet/ca.crt        the fleet CA (a bundle of two during a
 *                                                 CA rotation)
 *   cert      = /etc/hoptrace/fleet/host.crt      TLS (inquiry front, policy client, policyd)
 *   key       = /etc/hoptrace/fleet/host.key
 *   sign_cert = /etc/hoptrace/fleet/host.sign.crt chain-part signatures (hoptraced's
 *   sign_key  = /etc/hoptrace/fleet/host.sign.key  monitor; root only)
 *   crl       = /etc/hoptrace/fleet/crl.pem       optional: no file, no revocations
 *   lab_plain = no                                yes: plain HTTP, nothing signed or
 *                                                 checked (lab and benchmarks only)
 *
 * Read by hoptraced, hopguard, hoptrace-policyd and hoptrace. Every function writes its
 * errors into err (no printing) except fleet_check_print, which is -n's printer. */
#ifndef HOPTRACE_FLEETCONF_H
#define HOPTRACE_FLEETCONF_H
#include <stddef.h>
#include <stdio.h>

#define FLEET_DIR "/etc/hoptrace/fleet"
#define FLEET_PATH_MAX 512
#define FLEET_WARN_DAYS 30 /* -n warns about a certificate or CRL ending sooner */

/* what a program uses of the fleet files (the checks skip the rest) */
enum {
	FLEET_USE_TLS = 1,   /* cert + key */
	FLEET_USE_SIGN = 2,  /* sign_cert + sign_key */
	FLEET_USE_TRUST = 4, /* ca + crl (always checked: the others chain to it) */
	FLEET_USE_ALL = 7,
};

struct fleet_conf {
	char ca[FLEET_PATH_MAX], cert[FLEET_PATH_MAX], key[FLEET_PATH_MAX];
	char sign_cert[FLEET_PATH_MAX], sign_key[FLEET_PATH_MAX], crl[FLEET_PATH_MAX];
	int lab_plain;
	unsigned set; /* FLEET_SET_* of the keys the file sets (else the default path) */
	int uses;     /* FLEET_USE_*; fleet_conf_defaults sets FLEET_USE_ALL */
};
enum {
	FLEET_SET_CA = 1, FLEET_SET_CERT = 2, FLEET_SET_KEY = 4, FLEET_SET_SIGN_CERT = 8,
	FLEET_SET_SIGN_KEY = 16, FLEET_SET_CRL = 32, FLEET_SET_LAB_PLAIN = 64,
};

void fleet_conf_defaults(struct fleet_conf *f);
/* One key of [fleet], for a program's own ini callback: 0, or -1 with err (unknown key,
 * a relative or too long path, a bad boolean). */
int fleet_conf_key(struct fleet_conf *f, const char *key, const char *val, char *err,
		   size_t n);
/* Defaults, then [fleet] of path (other sections ignored). A missing file is fine unless
 * explicit_path. 0, or -1 with "FILE:LINE: reason" in err. */
int fleet_conf_load(const char *path, int explicit_path, struct fleet_conf *f, char *err,
		    size_t n);

/* Every fault of the fleet files f->uses names, one line each ("fleet: ...\n", warnings
 * "fleet: warning: ...\n"), into out (truncated at n, always NUL-terminated):
 *   CA bundle missing/unreadable/not a CA, expired, expires in < 30 days (warning);
 *   CRL unreadable, expired (every check fails then), next update in < 30 days (warning);
 *   per certificate: missing, expired, expires in < 30 days (warning), not yet valid,
 *   not signed by the fleet CA, revoked, the wrong kind (a TLS certificate as sign_cert,
 *   or the reverse), key missing / does not match the certificate / readable by others
 *   (warning), does not name address X (each of my_addrs), cert and sign_cert naming
 *   different hosts.
 * Paths left at their defaults whose files do not exist are one warning ("no fleet
 * certificates yet"), not errors: a host not yet in a fleet still starts.
 * lab_plain = yes: one warning, nothing checked. Returns the number of errors. */
int fleet_check(const struct fleet_conf *f, const char *const *my_addrs, int naddrs,
		char *out, size_t n);
/* the same; addr_warn: an address missing from a certificate is a warning, not an error */
int fleet_check_addrs(const struct fleet_conf *f, const char *const *my_addrs, int naddrs,
		      int addr_warn, char *out, size_t n);

/* This host's addresses that peers may see (getifaddrs: not loopback, not link-local),
 * as text, into addrs[max][46]; returns the count. */
int fleet_local_addrs(char (*addrs)[46], int max);

/* -n's hook: fleet_conf_load(path), then fleet_check with `uses` and this host's
 * addresses (an address missing from a certificate is a warning here: the host may have
 * addresses peers never use), printed to out with "PROG: " in front of each line.
 * Returns the number of errors (and prints the load error as one, returning 1). */
int fleet_check_print(const char *prog, const char *path, int explicit_path, int uses,
		      FILE *out);
#endif
