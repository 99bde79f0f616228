/*
 * conf.c — the CLI's settings: the global options main.c parses (cli_opt) and
 * what the configuration file adds to them ([collector] control, [guard]
 * audit_log; docs/man/hoptrace.conf.5), and the one way a usage error is told.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "hoptrace/ini.h"
#include "cli.h"

struct cli_opts cli_opt = {
	.conf = HT_CONF_DEFAULT,
	.preload_file = CLI_PRELOAD_FILE_DEFAULT,
};

int cli_usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", CLI_PROG);
	fprintf(stderr, fmt, arg ? arg : "");
	fprintf(stderr, "\n(see hoptrace -h)\n");
	return CLI_EX_USAGE;
}

static int conf_cb(void *ctx, const char *section, const char *key, const char *value,
		   char *err, size_t errlen)
{
	(void)ctx;
	if (strcmp(section, "collector") == 0 && strcmp(key, "control") == 0) {
		if (value[0] != '/' || strlen(value) >= sizeof(cli_opt.control)) {
			snprintf(err, errlen, "control must be an absolute path");
			return -1;
		}
		snprintf(cli_opt.control, sizeof(cli_opt.control), "%s", value);
	}
	if (strcmp(section, "guard") == 0 && strcmp(key, "audit_log") == 0) {
		if (value[0] && (value[0] != '/' || strlen(value) >= sizeof(cli_opt.audit_log))) {
			snprintf(err, errlen, "audit_log must be an absolute path (or empty)");
			return -1;
		}
		snprintf(cli_opt.audit_log, sizeof(cli_opt.audit_log), "%s", value);
	}
	return 0;
}

int cli_conf_load(void)
{
	char err[1024];
	struct stat st;

	snprintf(cli_opt.control, sizeof(cli_opt.control), "%s", HT_CONTROL_PATH);
	snprintf(cli_opt.audit_log, sizeof(cli_opt.audit_log), "%s", CLI_AUDIT_LOG_DEFAULT);
	if (!cli_opt.conf_given && stat(cli_opt.conf, &st) < 0 && errno == ENOENT)
		return 0; /* no config file: defaults */
	if (ini_parse(cli_opt.conf, conf_cb, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", CLI_PROG, err);
		return -1;
	}
	return 0;
}
