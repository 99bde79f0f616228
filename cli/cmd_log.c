/*
 * cmd_log.c — `hoptrace log [-f] [FILE]`: the audit log (docs/audit-log.md),
 * one line per decision and its chain(s) indented below. -f follows the file
 * (like tail -f; survives rotation and truncation). FILE defaults to the
 * configuration's [guard] audit_log (cli_opt.audit_log, read by main before
 * this runs), else /var/log/hoptrace/audit.log.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int truthy(const cJSON *o, const char *k)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void upper(char *d, size_t n, const char *s)
{
	size_t i = 0;
	for (; s && s[i] && i + 1 < n; i++)
		d[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
	d[i] = 0;
}

static void print_line(const char *line, size_t len)
{
	cJSON *r = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(r)) {
		printf("? unreadable line: %.*s\n", (int)(len > 120 ? 120 : len), line);
		cJSON_Delete(r);
		return;
	}
	char v[16], a[16];
	upper(v, sizeof(v), str(r, "verdict") ? str(r, "verdict") : "?");
	upper(a, sizeof(a), str(r, "action") ? str(r, "action") : "?");
	const char *mode = str(r, "mode");
	const cJSON *lat = cJSON_GetObjectItemCaseSensitive(r, "latency_us");
	printf("%s %-6s", str(r, "time") ? str(r, "time") : "?", v);
	if (mode && !strcmp(mode, "monitor"))
		printf(" (monitor: %s)", a);
	printf(" %s -> %s", str(r, "local") ? str(r, "local") : "?",
	       str(r, "remote") ? str(r, "remote") : "?");
	if (str(r, "rule"))
		printf("  rule %s", str(r, "rule"));
	if (str(r, "reason"))
		printf("  (%s)", str(r, "reason"));
	if (!truthy(r, "complete"))
		printf("  [incomplete]");
	if (truthy(r, "fallback"))
		printf("  [kernel fallback]");
	const cJSON *cq = cJSON_GetObjectItemCaseSensitive(r, "collector_us");
	if (cJSON_IsNumber(lat) && cJSON_IsNumber(cq))
		printf("  %.0f us (collector %.0f)", lat->valuedouble, cq->valuedouble);
	else if (cJSON_IsNumber(lat))
		printf("  %.0f us", lat->valuedouble);
	printf("\n");
	const cJSON *chains = cJSON_GetObjectItemCaseSensitive(r, "chains"), *c;
	cJSON_ArrayForEach(c, chains)
	{
		printf("    chain: origin %s  %s -> %s%s%s\n",
		       str(c, "origin_host") ? str(c, "origin_host") : "?",
		       str(c, "src") ? str(c, "src") : "?", str(c, "dst") ? str(c, "dst") : "?",
		       truthy(c, "complete") ? "" : "  [incomplete]",
		       truthy(c, "fallback") ? "  [kernel fallback]" : "");
		const cJSON *procs = cJSON_GetObjectItemCaseSensitive(c, "procs"), *p;
		cJSON_ArrayForEach(p, procs)
		{
			const cJSON *pid = cJSON_GetObjectItemCaseSensitive(p, "pid");
			const char *sha = str(p, "sha256"), *seen = str(p, "seen");
			printf("      %s[%ld] %s%s%.12s%s\n", str(p, "host") ? str(p, "host") : "?",
			       cJSON_IsNumber(pid) ? (long)pid->valuedouble : -1L,
			       str(p, "exe") && *str(p, "exe") ? str(p, "exe") : "?",
			       sha ? "  sha256:" : "", sha ? sha : "",
			       seen && !strcmp(seen, "kernel") ? "  (kernel)"
			       : seen && !strcmp(seen, "kernel-events") ? "  (kernel-events)" : "");
		}
	}
	cJSON_Delete(r);
}

/* Prints every complete line from f; returns 0 at EOF. */
static void drain(FILE *f, char **buf, size_t *cap, int follow)
{
	ssize_t n;
	for (;;) {
		long pos = ftell(f);
		n = getline(buf, cap, f);
		if (n <= 0) {
			clearerr(f);
			return;
		}
		if ((*buf)[n - 1] != '\n') {
			if (follow) { /* half-written line: wait for the rest */
				fseek(f, pos, SEEK_SET);
				return;
			}
		} else {
			n--;
		}
		if (n > 0)
			print_line(*buf, (size_t)n);
	}
}

int cmd_log(int argc, char **argv)
{
	int follow = 0, ch;
	optind = 1;
	while ((ch = getopt(argc, argv, "fh")) != -1) {
		switch (ch) {
		case 'f': follow = 1; break;
		default:
			fprintf(stderr, "usage: hoptrace log [-f] [FILE]\n");
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "usage: hoptrace log [-f] [FILE]\n");
		return 2;
	}
	const char *path = cli_opt.audit_log[0] ? cli_opt.audit_log : CLI_AUDIT_LOG_DEFAULT;
	if (optind < argc)
		path = argv[optind];
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "hoptrace log: %s: %s\n", path, strerror(errno));
		return 1;
	}
	char *buf = NULL;
	size_t cap = 0;
	drain(f, &buf, &cap, follow);
	fflush(stdout);
	while (follow && f != stdin) {
		usleep(200000);
		struct stat now, cur;
		if (stat(path, &now) == 0 && fstat(fileno(f), &cur) == 0 &&
		    (now.st_ino != cur.st_ino || now.st_dev != cur.st_dev)) {
			drain(f, &buf, &cap, follow); /* rest of the old file */
			FILE *nf = fopen(path, "r");
			if (nf) {
				fclose(f);
				f = nf;
			}
		} else if (fstat(fileno(f), &cur) == 0 && ftell(f) > cur.st_size) {
			fseek(f, 0, SEEK_SET); /* truncated */
		}
		drain(f, &buf, &cap, follow);
		fflush(stdout);
	}
	free(buf);
	if (f != stdin)
		fclose(f);
	return 0;
}
