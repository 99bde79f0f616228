/*
 * cli_fallback.c — weak stand-ins for the CLI subcommands that live in guard/
 * (hoptrace/cli.h). Programs link libguard.a before libcollector.a, so the
 * real guard/cli_log.c and guard/cli_policy.c are taken whenever they are
 * built; these only keep `hoptrace` linking when they are not.
 */
#include <stdio.h>

#include "hoptrace/cli.h"

__attribute__((weak)) int cli_log(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "hoptrace: log: not built into this hoptrace\n");
	return 1;
}

__attribute__((weak)) int cli_policy(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "hoptrace: policy: not built into this hoptrace\n");
	return 1;
}

__attribute__((weak)) void cli_log_default(const char *path)
{
	(void)path;
}
