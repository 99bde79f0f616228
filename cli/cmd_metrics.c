/*
 * cmd_metrics.c — `hoptrace metrics [--output FILE]`: the collector's status
 * counters and the guard's decisions (counted from the audit log) in the
 * Prometheus text format (metrics.h). The output is written even when the
 * collector does not answer: hoptrace_collector_up 0 says so.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "metrics.h"

int cmd_metrics(int argc, char **argv)
{
	char *text = NULL, *buf = NULL;
	size_t len = 0;
	int rc = CLI_EX_OK;
	struct audit_counts ac = {0};
	struct ht_qreq req = {.op = HT_QOP_STATUS};
	FILE *mem;

	if (argc != 1)
		return cli_usage_err("metrics takes no arguments (but --output FILE)%s", NULL);
	rc = cli_ask(&req, &text, NULL);
	int have_audit = cli_opt.audit_log[0] && metrics_audit_file(&ac, cli_opt.audit_log) == 0;
	if (cli_opt.audit_log[0] && !have_audit && errno != ENOENT)
		fprintf(stderr, "%s: %s: %s\n", CLI_PROG, cli_opt.audit_log, strerror(errno));
	if (!(mem = open_memstream(&buf, &len))) {
		free(text);
		return CLI_EX_FAIL;
	}
	metrics_write(mem, rc == CLI_EX_OK ? text : NULL, have_audit ? &ac : NULL,
		      cli_opt.audit_log);
	fclose(mem);
	free(text);
	if (cli_opt.output) {
		struct stat st;
		int had = stat(cli_opt.output, &st) == 0;
		if (cli_write_atomic(cli_opt.output, buf, len, had ? st.st_mode & 0777 : 0644,
				     had ? &st : NULL) < 0)
			rc = CLI_EX_FAIL;
	} else {
		fwrite(buf, 1, len, stdout);
	}
	free(buf);
	/* the file is written either way: hoptrace_collector_up 0 says why */
	return rc;
}
