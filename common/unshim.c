/*
 * unshim.c — keeps hoptrace's own daemons out of the shim. When
 * /etc/ld.so.preload (or LD_PRELOAD) loads libhoptrace.so into hoptraced,
 * hopguard or hoptrace-policyd, their own sockets would be reported to the
 * collector — by the collector to itself. ht_unshim_self() re-executes the
 * program once with HOPTRACE_DISABLE=1, which the shim honours (not for
 * setuid programs; our daemons are not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "hoptrace/unshim.h"

static int shim_loaded(void)
{
	char line[512];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "re");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, "/libhoptrace.so") != NULL;
	fclose(f);
	return found;
}

void ht_unshim_self(char **argv)
{
	const char *d = getenv("HOPTRACE_DISABLE");
	if ((d && strcmp(d, "1") == 0) || !shim_loaded())
		return;
	if (setenv("HOPTRACE_DISABLE", "1", 1) != 0)
		return;
	execv("/proc/self/exe", argv);
	/* could not re-exec: run shimmed rather than not at all */
	log_warn("re-executing without the shim");
}
