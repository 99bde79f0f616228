/*
 * hoptrace-policyd — the central access-list server (the paper's "access-list
 * server"). Answers POST /v1/decide with a decision from an access list in the
 * format of docs/policy.md. Protocol and authentication: docs/policy.md.
 *
 *   hoptrace-policyd [-f CONF] [-d] [-n] [-v]
 *     -f CONF  config file (default /etc/hoptrace/hoptrace.conf): [policyd], [fleet]
 *     -d       stay in the foreground, log to stderr
 *     -n       check the config, the fleet certificate and the policy, print every
 *              error, exit
 *     -v       verbose (log every decision)
 * SIGHUP reloads the policy (a bad file is refused, the old list stays) and the TLS
 * identity: [fleet] ca, cert, key, crl, each checked before anything changes (a fault:
 * one log line, the old identity stays; tlsfront_reload). After the drop policyd reads
 * them as [policyd] user, so the TLS key is root:hoptrace 0640 (docs/fleet.md);
 * SIGTERM/SIGINT stop.
 *
 * The network side is common/tlsfront.c: mutual TLS with the fleet certificate
 * ([fleet] ca, cert, key, crl); a client is whoever its certificate (of the fleet CA,
 * naming the address it speaks from) says; every limit of the front is applied before
 * a body byte is read. [fleet] lab_plain = yes is the only other mode: plain HTTP, no
 * identity (lab and benchmarks only), logged loudly.
 *
 * Privileges: policyd needs none. Started as root, it loads the config, the policy, the
 * certificates and the key and binds, then drops to [policyd] user (setgroups,
 * setresgid, setresuid, no_new_privs) before it reads anything from the network; as
 * root without `user` it refuses to start. The policy file and the [fleet] files (the TLS
 * key by its group) must be readable by that user for SIGHUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "hoptrace/acl.h"
#include "hoptrace/chain.h"
#include "hoptrace/fleetconf.h"
#include "hoptrace/ini.h"
#include "hoptrace/log.h"
#include "hoptrace/policy_remote.h"
#include "hoptrace/tlsfront.h"
#include "hoptrace/unshim.h"

struct pconf {
	char listen[512];
	char policy[512];
	char user[64];
	unsigned long long max_body, head_timeout_ms, body_timeout_ms, idle_timeout_ms,
		max_conns, max_conns_per_peer, max_preauth_per_peer, handshakes_per_peer,
		handshakes_total, rate;
	int old_secret; /* secret / secret_file seen: refused */
	struct policy_fleet fleet;
};

static struct pconf conf;
static pthread_rwlock_t acl_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct acl *cur_acl;
static int verbose;
static struct tlsfront *front;

static int conf_cb(void *ctx, const char *section, const char *key, const char *value,
		   char *err, size_t errlen)
{
	struct pconf *c = ctx;
	if (strcmp(section, "policyd"))
		return 0;
	char *dst = NULL;
	size_t dl = 0;
	static const struct {
		const char *key;
		size_t off;
		unsigned long long max;
	} nums[] = {
		{"max_body", offsetof(struct pconf, max_body), 64ull << 20},
		{"head_timeout_ms", offsetof(struct pconf, head_timeout_ms), 600000},
		{"body_timeout_ms", offsetof(struct pconf, body_timeout_ms), 600000},
		{"idle_timeout_ms", offsetof(struct pconf, idle_timeout_ms), 3600000},
		{"max_conns", offsetof(struct pconf, max_conns), 65535},
		{"max_conns_per_peer", offsetof(struct pconf, max_conns_per_peer), 65535},
		{"max_preauth_per_peer", offsetof(struct pconf, max_preauth_per_peer), 65535},
		{"handshakes_per_peer", offsetof(struct pconf, handshakes_per_peer), 100000},
		{"handshakes_total", offsetof(struct pconf, handshakes_total), 100000},
		{"rate", offsetof(struct pconf, rate), 1000000},
	};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		if (!strcmp(key, nums[i].key))
			return ini_uint(value, nums[i].max,
					(unsigned long long *)((char *)c + nums[i].off), err, errlen);
	if (!strcmp(key, "listen")) {
		dst = c->listen;
		dl = sizeof c->listen;
	} else if (!strcmp(key, "policy")) {
		dst = c->policy;
		dl = sizeof c->policy;
	} else if (!strcmp(key, "user")) {
		dst = c->user;
		dl = sizeof c->user;
	} else if (!strcmp(key, "secret") || !strcmp(key, "secret_file")) {
		snprintf(err, errlen,
			 "[policyd] %s: the shared secret is gone — clients authenticate by their "
			 "fleet certificate ([fleet] ca, cert, key; docs/policy.md): remove it",
			 key);
		return -1;
	} else {
		snprintf(err, errlen, "unknown key '%s' in [policyd]", key);
		return -1;
	}
	if (strlen(value) >= dl) {
		snprintf(err, errlen, "%s too long (max %zu bytes)", key, dl - 1);
		return -1;
	}
	memcpy(dst, value, strlen(value) + 1);
	return 0;
}

static int load_conf(const char *path, struct pconf *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof c->listen, "https://[::]:8470");
	snprintf(c->policy, sizeof c->policy, "/etc/hoptrace/policy.acl");
	struct tlsfront_conf d;
	tlsfront_conf_defaults(&d);
	c->max_body = 1u << 20;
	c->head_timeout_ms = (unsigned)d.head_timeout_ms;
	c->body_timeout_ms = (unsigned)d.body_timeout_ms;
	c->idle_timeout_ms = (unsigned)d.idle_timeout_ms;
	c->max_conns = (unsigned)d.max_conns;
	c->max_conns_per_peer = (unsigned)d.max_conns_per_peer;
	c->max_preauth_per_peer = (unsigned)d.max_preauth_per_peer;
	c->handshakes_per_peer = (unsigned)d.handshakes_per_peer;
	c->handshakes_total = (unsigned)d.handshakes_total;
	c->rate = 1000; /* a guard asks once per SYN it cannot decide from its cache */
	if (ini_parse(path, conf_cb, c, err, errlen) != 0)
		return -1;
	if (policy_fleet_read(path, &c->fleet, err, errlen) != 0)
		return -1;
	if (c->fleet.lab_plain ? strncmp(c->listen, "http://", 7)
			       : strncmp(c->listen, "https://", 8)) {
		snprintf(err, errlen, "%s: [policyd] listen must be %s", path,
			 c->fleet.lab_plain ? "http://ADDR:PORT with [fleet] lab_plain = yes"
					    : "https://ADDR:PORT (http:// only with [fleet] lab_plain = yes)");
		return -1;
	}
	return 0;
}

static void front_conf(struct tlsfront_conf *t)
{
	tlsfront_conf_defaults(t);
	t->listen = conf.listen;
	t->lab_plain = conf.fleet.lab_plain;
	t->ca_file = conf.fleet.ca;
	t->cert_file = conf.fleet.cert;
	t->key_file = conf.fleet.key;
	t->crl_file = conf.fleet.crl[0] ? conf.fleet.crl : NULL;
	t->path = "/v1/decide";
	t->head_timeout_ms = (int)conf.head_timeout_ms;
	t->body_timeout_ms = (int)conf.body_timeout_ms;
	t->idle_timeout_ms = (int)conf.idle_timeout_ms;
	t->reply_timeout_ms = 10000; /* answered on the loop thread: never waits */
	t->max_conns = (int)conf.max_conns;
	t->max_conns_per_peer = (int)conf.max_conns_per_peer;
	t->max_preauth_per_peer = (int)conf.max_preauth_per_peer;
	t->handshakes_per_peer = (int)conf.handshakes_per_peer;
	t->handshakes_total = (int)conf.handshakes_total;
	t->rate = (int)conf.rate;
	t->max_body = (size_t)conf.max_body;
}

/* the memory bound, as -n and the start log state it */
static void bound_text(char *out, size_t n)
{
	struct tlsfront_conf t;
	front_conf(&t);
	size_t per = tlsfront_preauth_bytes(&t);
	snprintf(out, n,
		 "unauthenticated connections: at most %d × %zu KiB = %.1f MiB (TLS state and "
		 "buffers, head buffer; no body is read before TLS and the head checks); "
		 "authenticated bodies: at most %d × %llu KiB",
		 t.max_conns, (per + 1023) / 1024, (double)t.max_conns * (double)per / 1048576.0,
		 t.max_conns, conf.max_body / 1024);
}

/* Loads the policy; on success swaps it in. Returns 0 or -1 (errors logged). */
static int load_policy(int print)
{
	struct acl *a = NULL;
	struct acl_error errs[64];
	size_t n = 0;
	if (acl_load(conf.policy, &a, errs, 64, &n) != 0) {
		for (size_t i = 0; i < n && i < 64; i++) {
			if (print)
				fprintf(stderr, "%s:%d: %s\n", errs[i].file, errs[i].line,
					errs[i].reason);
			else
				log_warnx("%s:%d: %s", errs[i].file, errs[i].line, errs[i].reason);
		}
		if (n > 64)
			log_warnx("%s: %zu more errors", conf.policy, n - 64);
		return -1;
	}
	pthread_rwlock_wrlock(&acl_lock);
	struct acl *old = cur_acl;
	cur_acl = a;
	pthread_rwlock_unlock(&acl_lock);
	acl_free(old);
	if (!print)
		log_info("policy %s loaded (%zu rules)", conf.policy, acl_nrules(a));
	return 0;
}

/* SIGHUP: the [fleet] TLS files again (the same paths); on any fault the old identity stays */
static void reload_tls(void)
{
	char err[1024];
	if (conf.fleet.lab_plain)
		return;
	if (tlsfront_reload(front, conf.fleet.ca, conf.fleet.cert, conf.fleet.key,
			    conf.fleet.crl[0] ? conf.fleet.crl : NULL, err, sizeof err) != 0)
		log_warnx("SIGHUP: [fleet] TLS identity not reloaded, the old one stays: %s", err);
	else
		log_info("SIGHUP: [fleet] TLS identity reloaded (%s, %s%s%s)", conf.fleet.cert,
			 conf.fleet.ca, conf.fleet.crl[0] ? ", " : "", conf.fleet.crl);
}

static void reply_error(const struct tlsfront_req *r, int status, const char *code,
			const char *msg)
{
	char b[512];
	size_t n = tlsfront_error_json(b, sizeof b, code, msg);
	if (verbose)
		log_info("%s: HTTP %d: %s", r->peer_cn[0] ? r->peer_cn : "-", status, msg);
	tlsfront_reply(front, r->id, status, b, n);
}

/* Decides on a complete, authenticated body (tlsfront checked method, path, size). Runs
 * on the front's loop thread: acl_decide does not block. */
static void on_request(void *ud, const struct tlsfront_req *r)
{
	(void)ud;
	const char *data = r->body;
	size_t len = r->body_len;
	if (len == 0) {
		reply_error(r, 400, "bad_request", "empty body: expected the collector's answer JSON");
		return;
	}
	cJSON *j = cJSON_ParseWithLength(data, len);
	if (!j || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		reply_error(r, 400, "bad_request", "malformed JSON: expected an object with \"chains\"");
		return;
	}
	cJSON_Delete(j);
	struct ht_chainset cs = {0};
	const char *err = NULL;
	if (ht_chains_from_json(data, len, &cs, &err) != 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "bad chain answer: %s", err ? err : "invalid");
		reply_error(r, 400, "bad_request", msg);
		return;
	}
	struct acl_result res;
	pthread_rwlock_rdlock(&acl_lock);
	enum acl_verdict v = acl_decide(cur_acl, &cs, &res);
	pthread_rwlock_unlock(&acl_lock);
	const char *why = res.text;
	if (verbose) {
		char s[HT_ENDPOINT_STRLEN] = "-", d[HT_ENDPOINT_STRLEN] = "-";
		if (cs.n) {
			ht_endpoint_format(&cs.v[0].src, s, sizeof s);
			ht_endpoint_format(&cs.v[0].dst, d, sizeof d);
		}
		log_info("%s asks %s -> %s (%zu chains): %s: %s",
			 r->peer_cn[0] ? r->peer_cn : "(lab_plain)", s, d, cs.n,
			 acl_verdict_str(v), why);
	}
	ht_chainset_free(&cs);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "verdict", acl_verdict_str(v));
	cJSON_AddStringToObject(o, "why", why);
	if (res.why == ACL_WHY_RULE) /* a rule, not a reason (policy_remote.h) */
		cJSON_AddStringToObject(o, "rule", res.rule);
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	if (!s) {
		reply_error(r, 500, "no_memory", "out of memory");
		return;
	}
	tlsfront_reply(front, r->id, 200, s, strlen(s));
	cJSON_free(s);
}

/* started as root: to [policyd] user, for good */
static int drop_privileges(char *err, size_t n)
{
	if (geteuid() != 0)
		return 0;
	if (!conf.user[0]) {
		snprintf(err, n,
			 "refusing to run as root: set [policyd] user (e.g. hoptrace; policyd drops "
			 "to it after loading the key and binding) or start it as that user");
		return -1;
	}
	struct passwd *pw = getpwnam(conf.user);
	if (!pw) {
		snprintf(err, n, "[policyd] user %s: no such user", conf.user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, n, "[policyd] user %s is root", conf.user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) != 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) != 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) { /* its key: no same-uid ptrace */
		snprintf(err, n, "dropping to %s: %s", conf.user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, n, "dropping to %s: root regained", conf.user);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: hoptrace-policyd [-f CONF] [-d] [-n] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	ht_unshim_self(argv);
	const char *cpath = HT_CONF_DEFAULT;
	int fg = 0, check = 0, ch;
	char err[1024], bound[400];
	while ((ch = getopt(argc, argv, "f:dnvh")) != -1) {
		switch (ch) {
		case 'f': cpath = optarg; break;
		case 'd': fg = 1; break;
		case 'n': check = 1; break;
		case 'v': verbose = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("hoptrace-policyd", fg || check, verbose);
	if (load_conf(cpath, &conf, err, sizeof err) != 0) {
		fprintf(stderr, "hoptrace-policyd: %s\n", err);
		return 1;
	}
	bound_text(bound, sizeof bound);
	if (check) {
		if (load_policy(1) != 0)
			return 1;
		/* [fleet] (docs/fleet.md): every fault of its TLS files, one line each */
		if (fleet_check_print("hoptrace-policyd", cpath, strcmp(cpath, HT_CONF_DEFAULT) != 0,
				      FLEET_USE_TLS | FLEET_USE_TRUST, stderr) > 0) {
			acl_free(cur_acl);
			return 1;
		}
		/* the front loads the CA, the CRL, the certificate and the key: what a start
		 * would refuse, -n refuses (on a free port, so a running server is no bother) */
		struct tlsfront_conf t;
		front_conf(&t);
		char lbuf[600];
		const char *p = strrchr(conf.listen, ':');
		snprintf(lbuf, sizeof lbuf, "%.*s:0", (int)(p - conf.listen), conf.listen);
		t.listen = lbuf;
		struct tlsfront *f = tlsfront_new(&t, err, sizeof err);
		if (!f) {
			fprintf(stderr, "hoptrace-policyd: %s\n", err);
			return 1;
		}
		tlsfront_stop(f);
		printf("config OK; policy OK (%zu rules); %s\n%s\n", acl_nrules(cur_acl),
		       conf.fleet.lab_plain ? "lab_plain: plain HTTP, NO authentication"
					    : "fleet certificate OK",
		       bound);
		acl_free(cur_acl);
		return 0;
	}
	if (geteuid() == 0 && !conf.user[0]) {
		fprintf(stderr, "hoptrace-policyd: refusing to run as root: set [policyd] user "
				"(policyd drops to it after loading the key and binding) or start it "
				"as that user\n");
		return 1;
	}
	if (load_policy(fg) != 0) {
		if (!fg)
			fprintf(stderr, "hoptrace-policyd: %s: bad policy, not started\n",
				conf.policy);
		return 1;
	}
	struct tlsfront_conf t;
	front_conf(&t);
	struct rlimit rl;
	rlim_t need = (rlim_t)t.max_conns + 32;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	front = tlsfront_new(&t, err, sizeof err);
	if (!front) {
		fprintf(stderr, "hoptrace-policyd: %s\n", err);
		return 1;
	}
	if (drop_privileges(err, sizeof err) != 0) {
		fprintf(stderr, "hoptrace-policyd: %s\n", err);
		return 1;
	}
	if (!fg && daemon(0, 0) != 0)
		fatal("daemon");

	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	pthread_sigmask(SIG_BLOCK, &ss, NULL); /* the front's thread inherits the mask */
	signal(SIGPIPE, SIG_IGN);
	if (tlsfront_start(front, on_request, NULL, err, sizeof err) != 0)
		fatalx("%s", err);
	if (conf.fleet.lab_plain)
		log_warnx("LAB_PLAIN: [fleet] lab_plain = yes — plain HTTP, NO authentication: "
			  "anybody who reaches %s is answered (lab and benchmarks only)",
			  conf.listen);
	log_info("listening on %s (uid %d), policy %s; %s", conf.listen, (int)getuid(),
		 conf.policy, conf.fleet.lab_plain ? "lab_plain" : "mutual TLS, fleet CA");
	log_info("%s", bound);

	for (;;) {
		int sig;
		if (sigwait(&ss, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (load_policy(0) != 0)
				log_warnx("%s: reload refused, keeping the previous policy",
					  conf.policy);
			reload_tls();
			continue;
		}
		break;
	}
	log_info("stopping");
	struct tlsfront_stats st;
	tlsfront_get_stats(front, &st);
	log_info("front: accepted %llu, refused (cap %llu, handshake rate %llu), evicted %llu, "
		 "handshake failed %llu, peer address mismatch %llu, timed out %llu, requests "
		 "%llu, rate limited %llu, bad requests %llu",
		 (unsigned long long)st.accepted, (unsigned long long)st.refused_cap,
		 (unsigned long long)st.refused_rate_handshake,
		 (unsigned long long)st.evicted_preauth, (unsigned long long)st.handshake_failed,
		 (unsigned long long)st.peer_addr_mismatch, (unsigned long long)st.timed_out,
		 (unsigned long long)st.requests, (unsigned long long)st.rate_limited,
		 (unsigned long long)st.bad_request);
	tlsfront_stop(front);
	pthread_rwlock_wrlock(&acl_lock);
	acl_free(cur_acl);
	cur_acl = NULL;
	pthread_rwlock_unlock(&acl_lock);
	return 0;
}
