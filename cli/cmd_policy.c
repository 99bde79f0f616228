/*
 * cmd_policy.c — `hoptrace policy ...` (cli.h):
 *
 *   hoptrace policy check FILE
 *       every bad line as FILE:LINE: reason (exit 1), or "policy OK (N rules)" (exit 0)
 *   hoptrace policy decide FILE --chain-json ANSWER.json|-
 *       decides the chains of a collector answer with FILE: prints
 *       "VERDICT: why"; exit 0 accept, 2 reject/drop, 1 error
 *   hoptrace policy ask URL --chain-json ANSWER.json|- [--conf FILE]   ([fleet] of FILE)
 *       [--timeout-ms N]
 *       the same question to a hoptrace-policyd (URL of /v1/decide)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hoptrace/chain.h"
#include "cli.h"
#include "hoptrace/acl.h"
#include "hoptrace/ini.h"
#include "hoptrace/policy_remote.h"

#define JSON_MAX (16u << 20)

static int usage(void)
{
	fprintf(stderr,
		"usage: hoptrace policy check FILE\n"
		"       hoptrace policy decide FILE --chain-json ANSWER.json|-\n"
		"       hoptrace policy ask URL --chain-json ANSWER.json|- [--conf FILE] [--timeout-ms N]\n");
	return 1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!f) {
		fprintf(stderr, "hoptrace policy: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 65536, n = 0;
	char *b = malloc(cap + 1);
	while (b) {
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			if (cap >= JSON_MAX) {
				fprintf(stderr, "hoptrace policy: %s: too large\n", path);
				free(b);
				b = NULL;
				break;
			}
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb) {
				free(b);
				b = NULL;
			}
			b = nb;
		}
	}
	if (f != stdin)
		fclose(f);
	if (b) {
		b[n] = 0;
		*len = n;
	}
	return b;
}

static struct acl *load_or_print(const char *file)
{
	struct acl *a = NULL;
	struct acl_error errs[256];
	size_t n = 0;
	if (acl_load(file, &a, errs, 256, &n) == 0)
		return a;
	for (size_t i = 0; i < n && i < 256; i++) {
		if (errs[i].line)
			printf("%s:%d: %s\n", errs[i].file, errs[i].line, errs[i].reason);
		else
			printf("%s: %s\n", errs[i].file, errs[i].reason);
	}
	if (n > 256)
		printf("%s: %zu more errors\n", file, n - 256);
	return NULL;
}

static const char *opt(int argc, char **argv, const char *name)
{
	for (int i = 0; i + 1 < argc; i++)
		if (!strcmp(argv[i], name))
			return argv[i + 1];
	return NULL;
}

int cmd_policy(int argc, char **argv)
{
	if (argc < 3)
		return usage();
	const char *cmd = argv[1], *file = argv[2];
	if (!strcmp(cmd, "check")) {
		if (argc != 3)
			return usage();
		struct acl *a = load_or_print(file);
		if (!a)
			return 1;
		printf("policy OK (%zu rules)\n", acl_nrules(a));
		acl_free(a);
		return 0;
	}
	if (strcmp(cmd, "decide") && strcmp(cmd, "ask"))
		return usage();
	const char *cj = opt(argc, argv, "--chain-json");
	if (!cj)
		return usage();
	size_t len = 0;
	char *json = slurp(cj, &len);
	if (!json)
		return 1;
	enum acl_verdict v;
	char why[512];
	int rc = 1;
	if (!strcmp(cmd, "decide")) {
		struct acl *a = load_or_print(file);
		struct ht_chainset cs = {0};
		const char *err = NULL;
		if (!a)
			goto out;
		if (ht_chains_from_json(json, len, &cs, &err) != 0) {
			fprintf(stderr, "hoptrace policy: %s: %s\n", cj, err ? err : "bad answer");
			acl_free(a);
			goto out;
		}
		struct acl_result res;
		v = acl_decide(a, &cs, &res);
		snprintf(why, sizeof why, "%s", res.text);
		ht_chainset_free(&cs);
		acl_free(a);
	} else {
		const char *cf = opt(argc, argv, "--conf");
		const char *to = opt(argc, argv, "--timeout-ms");
		char ferr[512];
		struct policy_fleet pf;
		if (opt(argc, argv, "--secret") || opt(argc, argv, "--secret-file")) {
			fprintf(stderr, "hoptrace policy: --secret is gone: the fleet certificate "
					"([fleet] of --conf) authenticates\n");
			goto out;
		}
		if (policy_fleet_read(cf ? cf : HT_CONF_DEFAULT, &pf, ferr, sizeof ferr) != 0) {
			fprintf(stderr, "hoptrace policy: %s\n", ferr);
			goto out;
		}
		policy_remote_set_fleet(&pf);
		if (policy_remote_decide(file, to ? atol(to) : 2000, json, len, &v, why,
					 sizeof why) != 0) {
			fprintf(stderr, "hoptrace policy: %s\n", why);
			policy_remote_thread_cleanup();
			goto out;
		}
		policy_remote_thread_cleanup();
	}
	printf("%s: %s\n", acl_verdict_str(v), why);
	rc = v == ACL_ACCEPT ? 0 : 2;
out:
	free(json);
	return rc;
}
