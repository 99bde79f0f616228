/*
 * rules.c — implements rules.h by running iptables / ip6tables (-w: waits for
 * the xtables lock) through posix_spawnp with an argv; output goes to
 * /dev/null unless the command fails where it must not.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "rules.h"

extern char **environ;

/* Runs argv; returns the exit status (or -1). quiet: stderr to /dev/null. */
static int run(char *const argv[], int quiet)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (quiet)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		errno = rc;
		log_warn("cannot run %s", argv[0]);
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *const tools[2] = {"iptables", "ip6tables"};

static void mark_arg(char *buf, size_t n, uint32_t m)
{
	snprintf(buf, n, "0x%x/0x%x", m, m);
}

static int remove_one(const char *tool, const char *chain)
{
	/* every jump from OUTPUT to our chain (there may be several leftovers) */
	for (int i = 0; i < 64; i++) {
		char *del[] = {(char *)tool, "-w", "-t", "filter", "-D", "OUTPUT", "-p", "tcp",
			       "--syn", "-j", (char *)chain, NULL};
		if (run(del, 1) != 0)
			break;
	}
	char *fl[] = {(char *)tool, "-w", "-t", "filter", "-F", (char *)chain, NULL};
	char *x[] = {(char *)tool, "-w", "-t", "filter", "-X", (char *)chain, NULL};
	char *ls[] = {(char *)tool, "-w", "-t", "filter", "-n", "-L", (char *)chain, NULL};
	run(fl, 1);
	run(x, 1);
	return run(ls, 1) == 0 ? -1 : 0; /* still there? */
}

int rules_remove(const struct guard_rules *r)
{
	int rc = 0;
	for (int t = 0; t < 2; t++)
		if (remove_one(tools[t], r->chain)) {
			log_warnx("%s: chain %s could not be removed (still referenced?)", tools[t],
				  r->chain);
			rc = -1;
		}
	return rc;
}

static int install_one(const char *tool, const struct guard_rules *r)
{
	char ex[32], rj[32], jd[32], q[16];
	char *ch = (char *)r->chain, *t = (char *)tool;
	mark_arg(ex, sizeof(ex), r->exempt_mark);
	mark_arg(rj, sizeof(rj), r->mark_reject);
	mark_arg(jd, sizeof(jd), r->mark_judged);
	snprintf(q, sizeof(q), "%u", r->queue_num);

	char *n[] = {t, "-w", "-t", "filter", "-N", ch, NULL};
	char *a1[] = {t, "-w", "-t", "filter", "-A", ch, "-m", "mark", "--mark", ex, "-j", "RETURN",
		      NULL};
	char *a2[] = {t, "-w", "-t", "filter", "-A", ch, "-p", "tcp", "-m", "mark", "--mark", rj,
		      "-j", "REJECT", "--reject-with", "tcp-reset", NULL};
	char *a3[] = {t, "-w", "-t", "filter", "-A", ch, "-m", "mark", "--mark", jd, "-j", "RETURN",
		      NULL};
	char *a4[] = {t, "-w", "-t", "filter", "-A", ch, "-j", "NFQUEUE", "--queue-num", q,
		      r->fail_open ? "--queue-bypass" : NULL, NULL};
	char *j[] = {t, "-w", "-t", "filter", "-I", "OUTPUT", "1", "-p", "tcp", "--syn", "-j", ch,
		     NULL};
	char **steps[] = {n, a1, a2, a3, a4, j};
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (!steps[i])
			continue;
		if (run(steps[i], 0) != 0) {
			log_warnx("%s: installing rule %zu of chain %s failed", tool, i, ch);
			return -1;
		}
	}
	return 0;
}

int rules_install(const struct guard_rules *r)
{
	rules_remove(r);
	for (int t = 0; t < 2; t++)
		if (install_one(tools[t], r)) {
			rules_remove(r);
			return -1;
		}
	return 0;
}
