/*
 * hopguard — holds every locally generated TCP SYN (NFQUEUE), asks the
 * collector for the chain behind it, decides with the access list (or the
 * policy server) and accepts, rejects (TCP reset at once) or drops it.
 *
 *   hopguard [-d] [-v] [-n] [-f FILE] [-p PIDFILE] [--bare]
 *
 * -f config (default /etc/hoptrace/hoptrace.conf, section [guard]); -n checks
 * the config and the policy and exits; -d stays in the foreground (logs to
 * stderr); -p writes a pid file; --bare accepts everything without asking
 * anyone (the benchmark's baseline NFQUEUE program). SIGHUP reloads the
 * policy (a bad file is refused, the old one stays) and reopens the audit
 * log; SIGTERM/SIGINT remove our rules and exit. SIGUSR1 logs counters.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/ini.h"
#include "hoptrace/fleetconf.h"
#include "hoptrace/log.h"
#include "hoptrace/sdnotify.h"
#include "hoptrace/acl.h"
#include "engine.h"
#include "gconf.h"
#include "rules.h"
#include "hoptrace/policy_remote.h"
#include "hoptrace/unshim.h"

static void usage(void)
{
	fprintf(stderr, "usage: hopguard [-d] [-v] [-n] [-f FILE] [-p PIDFILE] [--bare]\n");
	exit(2);
}

/* Loads conf->policy; on errors prints every bad line and returns NULL. */
static struct acl *load_policy(const char *path, int to_stderr)
{
	struct acl_error errs[32];
	size_t nerr = 0;
	struct acl *a = NULL;
	if (acl_load(path, &a, errs, 32, &nerr) == 0)
		return a;
	for (size_t i = 0; i < nerr && i < 32; i++) {
		if (errs[i].line)
			(to_stderr ? fprintf(stderr, "%s:%d: %s\n", errs[i].file, errs[i].line,
					     errs[i].reason)
				   : (log_warnx("%s:%d: %s", errs[i].file, errs[i].line, errs[i].reason), 0));
		else
			(to_stderr ? fprintf(stderr, "%s: %s\n", errs[i].file, errs[i].reason)
				   : (log_warnx("%s: %s", errs[i].file, errs[i].reason), 0));
	}
	if (nerr == 0)
		(to_stderr ? fprintf(stderr, "%s: cannot load policy\n", path)
			   : (log_warnx("%s: cannot load policy", path), 0));
	return NULL;
}

int main(int argc, char **argv)
{
	ht_unshim_self(argv);
	const char *conf_path = HT_CONF_DEFAULT, *pidfile = NULL;
	int fg = 0, verbose = 0, check = 0, bare = 0, conf_given = 0;
	static const struct option lo[] = {{"bare", no_argument, NULL, 'B'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "df:np:vh", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': fg = 1; break;
		case 'f': conf_path = optarg; conf_given = 1; break;
		case 'n': check = 1; break;
		case 'p': pidfile = optarg; break;
		case 'v': verbose++; break;
		case 'B': bare = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("hopguard", fg || check, verbose);

	struct guard_conf conf;
	char err[512];
	guard_conf_defaults(&conf);
	if (guard_conf_load(conf_path, &conf, err, sizeof(err))) {
		if (!(bare && !conf_given && access(conf_path, F_OK) != 0)) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		guard_conf_defaults(&conf);
	}
	if (conf.policy_url[0]) { /* the policy client's fleet identity (policy_remote.h) */
		struct policy_fleet pf;
		if (policy_fleet_read(conf_path, &pf, err, sizeof err) != 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		policy_remote_set_fleet(&pf);
	}
	struct acl *acl = NULL;
	if (!bare && !conf.policy_url[0]) {
		acl = load_policy(conf.policy, 1);
		if (!acl)
			return 1;
	}
	if (check) {
		if (acl)
			acl_free(acl);
		/* [fleet] (docs/fleet.md): the remote policy client's TLS files */
		if (conf.policy_url[0] &&
		    fleet_check_print("hopguard", conf_path, conf_given,
				      FLEET_USE_TLS | FLEET_USE_TRUST, stderr) > 0)
			return 1;
		printf("configuration OK\n");
		return 0;
	}
	if (geteuid() != 0)
		fatalx("must run as root (netfilter rules and NFQUEUE)");

	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGUSR1);
	sigaddset(&ss, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);

	if (!fg && daemon(0, 0) < 0)
		fatal("daemon");
	if (pidfile) {
		FILE *f = fopen(pidfile, "w");
		if (!f)
			fatal("%s", pidfile);
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}

	struct engine *e = engine_new(&conf, acl, bare);
	if (!e)
		fatalx("cannot start");
	struct guard_rules rules = {.chain = conf.chain,
				    .queue_num = conf.queue_num,
				    .fail_open = conf.fail_open,
				    .exempt_mark = conf.exempt_mark,
				    .mark_judged = conf.mark_judged,
				    .mark_reject = conf.mark_reject};
	if (engine_start(e) || rules_install(&rules)) {
		rules_remove(&rules);
		fatalx("cannot start");
	}
	log_info("started: queue %u, %s, %s, %u workers, policy %s", conf.queue_num,
		 bare ? "bare (accept all)" : conf.monitor ? "monitor mode" : "enforcing",
		 conf.fail_open ? "fail-open" : "fail-closed", conf.workers,
		 bare ? "-" : conf.policy_url[0] ? conf.policy_url : conf.policy);

	uint64_t wd_usec = ht_sd_watchdog_usec(); /* systemd: Type=notify, WatchdogSec */
	ht_sd_notify("READY=1");
	for (;;) {
		/* with a watchdog: wake every half period and ping */
		struct timespec wt = {.tv_sec = wd_usec ? (time_t)(wd_usec / 2000000) : 3600,
				      .tv_nsec = wd_usec ? (long)(wd_usec / 2 % 1000000) * 1000 : 0};
		int sig = sigtimedwait(&ss, NULL, &wt);
		/* a worker stuck longer than any timeout it waits for means SYNs
		 * wait unjudged: no ping, systemd restarts us */
		long stuck_ms = (long)conf.collector_timeout_ms + (long)conf.policy_timeout_ms + 2000;
		if (wd_usec && engine_alive(e, stuck_ms))
			ht_sd_notify("WATCHDOG=1");
		if (sig < 0)
			continue;
		if (sig == SIGHUP) {
			if (!bare && !conf.policy_url[0]) {
				struct acl *n = load_policy(conf.policy, 0);
				if (n) {
					engine_set_acl(e, n);
					log_info("policy %s reloaded (%zu rules)", conf.policy,
						 acl_nrules(n));
				} else {
					log_warnx("policy %s refused; the old policy stays", conf.policy);
				}
			}
			engine_reopen_log(e);
		} else if (sig == SIGUSR1) {
			engine_stats(e, err, sizeof(err));
			log_info("%s", err);
		} else if (sig == SIGTERM || sig == SIGINT) {
			break;
		}
	}
	ht_sd_notify("STOPPING=1");
	/* rules first: from now on no SYN waits for us */
	rules_remove(&rules);
	engine_stats(e, err, sizeof(err));
	log_info("stopping: %s", err);
	engine_stop(e);
	if (pidfile)
		unlink(pidfile);
	return 0;
}
