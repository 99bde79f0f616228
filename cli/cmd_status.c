/*
 * cmd_status.c — `hoptrace status`: the collector's counters ("name: value"
 * lines, chainfmt_status), then the shim's state on this host: the library
 * enable would add, whether the preload file lists it, and how many running
 * processes carry it (shimprobe.h). With --json only the collector's answer.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainfmt.h"
#include "cli.h"
#include "ldpreload.h"
#include "shimprobe.h"

/* Which running processes carry the shim (their maps), and does the preload
 * file list it. */
static void print_shim_status(void)
{
	char lib[PATH_MAX] = "";
	struct shim_scan sc;
	int have = 0;
	FILE *f;

	if (cli_find_shim(lib, sizeof(lib)) == 0)
		have = 1;
	else
		lib[0] = '\0';
	printf("shim.library: %s\n", have ? lib : "-");
	if ((f = fopen(cli_opt.preload_file, "re"))) {
		char *line = NULL;
		size_t cap = 0;
		int listed = 0, other = 0;
		while (getline(&line, &cap, f) > 0) /* a line ends at its first NUL */
			ldp_scan(line, strlen(line), have ? lib : NULL, &listed, &other);
		free(line);
		fclose(f);
		printf("shim.preload: %s%s (%s)\n", listed ? "enabled" : "disabled",
		       other ? ", another copy listed" : "", cli_opt.preload_file);
	} else {
		printf("shim.preload: disabled (%s: %s)\n", cli_opt.preload_file, strerror(errno));
	}
	if (shim_scan("/proc", have ? lib : NULL, &sc) == 0) {
		printf("shim.processes: %u\n", sc.procs);
		printf("shim.processes_with_shim: %u\n", sc.with_shim);
		if (have)
			printf("shim.processes_with_this_shim: %u\n", sc.with_lib);
		printf("shim.processes_unreadable: %u\n", sc.unreadable);
	}
}

int cmd_status(int argc, char **argv)
{
	struct ht_qreq r = {.op = HT_QOP_STATUS};
	int rc;

	if (argc != 1)
		return cli_usage_err("status takes no arguments%s", NULL);
	if (cli_opt.json)
		return cli_query(&r, NULL);
	rc = cli_query(&r, chainfmt_status);
	fflush(stdout);
	print_shim_status();
	return rc;
}
