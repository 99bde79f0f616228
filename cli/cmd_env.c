/*
 * cmd_env.c — `hoptrace env`: shell lines that put the shim into LD_PRELOAD
 * (appended to an existing value, never twice), for eval "$(hoptrace env)".
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ldpreload.h"

/* Single-quotes s for a POSIX shell. */
static void put_shell_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

int cmd_env(int argc, char **argv)
{
	char lib[PATH_MAX];
	const char *cur = getenv("LD_PRELOAD");

	if (argc != 1)
		return cli_usage_err("env takes no arguments%s", NULL);
	if (cli_find_shim(lib, sizeof(lib)) < 0)
		return CLI_EX_FAIL;
	if (strpbrk(lib, " \t:\n")) {
		fprintf(stderr, "%s: %s: LD_PRELOAD cannot hold a path with spaces or colons\n",
			CLI_PROG, lib);
		return CLI_EX_FAIL;
	}
	fputs("LD_PRELOAD=", stdout);
	if (cur && *cur && !ldp_list_has(cur, lib)) {
		char *both;
		if (asprintf(&both, "%s %s", cur, lib) < 0)
			return CLI_EX_FAIL;
		put_shell_quoted(stdout, both);
		free(both);
	} else if (cur && *cur) {
		put_shell_quoted(stdout, cur); /* already there: unchanged */
	} else {
		put_shell_quoted(stdout, lib);
	}
	fputs("; export LD_PRELOAD\n", stdout);
	return CLI_EX_OK;
}
