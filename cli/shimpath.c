/*
 * shimpath.c — where the shim is: libhoptrace.so next to this binary, for
 * env, enable, disable and status (docs/man/hoptrace.8 "env").
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef HT_MULTIARCH
#define HT_MULTIARCH ""
#endif

/* ../lib/hoptrace/ (make install), ../lib/MULTIARCH/hoptrace/ (the Debian
 * package: /usr/lib/x86_64-linux-gnu/hoptrace), the same directory in a build
 * tree — the first readable one, its realpath(). */
int cli_find_shim(char *out, size_t n)
{
	char exe[PATH_MAX], cand[PATH_MAX + 64], real[PATH_MAX];
	const char *rel[] = {"../lib/hoptrace/" CLI_SHIM_NAME,
			     "../lib/" HT_MULTIARCH "/hoptrace/" CLI_SHIM_NAME, CLI_SHIM_NAME};
	ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (l <= 0) {
		fprintf(stderr, "%s: cannot find my own executable: %s\n", CLI_PROG,
			strerror(errno));
		return -1;
	}
	exe[l] = '\0';
	dirname(exe);
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s/%s", exe, rel[i]);
		if (access(cand, R_OK) == 0 && realpath(cand, real) && strlen(real) < n) {
			snprintf(out, n, "%s", real);
			return 0;
		}
	}
	fprintf(stderr, "%s: %s not found in %s/../lib/hoptrace, %s/../lib/%s/hoptrace or %s\n",
		CLI_PROG, CLI_SHIM_NAME, exe, exe, HT_MULTIARCH, exe);
	return -1;
}
