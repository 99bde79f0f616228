/*
 * cmd_enable.c — `hoptrace enable` and `hoptrace disable`: the shim into
 * /etc/ld.so.preload, after proving it loads and runs (shimprobe.h), and out
 * of it again; --preload-file FILE edits FILE instead. What the file becomes
 * is ldp_edit()'s (ldpreload.h); this file reads it, keeps a backup and
 * replaces it atomically, one editor at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ldpreload.h"
#include "shimprobe.h"

#define BACKUP_SUFFIX "-hoptrace.bak"
#define PROBE_TIMEOUT_MS 5000

/* The preload file as it is: *had = 0 when it does not exist (then *data is
 * NULL). 0, or -1 with the reason printed. */
static int read_preload(const char *path, char **data, size_t *len, struct stat *st, int *had)
{
	char chunk[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	*data = NULL;
	*len = 0;
	*had = 0;
	if (!f && errno == ENOENT)
		return 0;
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", CLI_PROG, path, strerror(errno));
		return -1;
	}
	*had = 1;
	if (fstat(fileno(f), st) < 0)
		st->st_mode = 0644;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		char *p = realloc(*data, *len + n + 1);
		if (!p) {
			fclose(f);
			free(*data);
			*data = NULL;
			fprintf(stderr, "%s: out of memory\n", CLI_PROG);
			return -1;
		}
		memcpy(p + *len, chunk, n);
		*len += n;
		p[*len] = '\0';
		*data = p;
	}
	fclose(f);
	return 0;
}

/* Rewrites the preload file (ldp_edit): enable adds lib (once), disable
 * removes every libhoptrace.so entry, other entries are kept as they were.
 * enable first saves the file as it was (for the operator and the package's
 * purge). */
static int edit_preload_locked(const char *lib, int enable)
{
	const char *path = cli_opt.preload_file;
	char *in, *out, bak[PATH_MAX + 32];
	size_t inlen, outlen;
	struct stat st = {0};
	int had, rc;

	if (read_preload(path, &in, &inlen, &st, &had) < 0)
		return CLI_EX_FAIL;
	if ((rc = ldp_edit(in, inlen, lib, enable, &out, &outlen)) < 0) {
		fprintf(stderr, "%s: out of memory\n", CLI_PROG);
		free(in);
		return CLI_EX_FAIL;
	}
	if (rc == 0) {
		printf("%s: already %s in %s\n", CLI_SHIM_NAME, enable ? "enabled" : "disabled",
		       path);
		free(in);
		return CLI_EX_OK;
	}
	rc = CLI_EX_FAIL;
	if (enable && had) {
		snprintf(bak, sizeof(bak), "%s" BACKUP_SUFFIX, path);
		if (cli_write_atomic(bak, in, inlen, st.st_mode & 07777, &st) < 0)
			goto out;
		printf("backup: %s\n", bak);
	}
	if (cli_write_atomic(path, out, outlen, had ? st.st_mode & 07777 : 0644,
			     had ? &st : NULL) < 0)
		goto out;
	if (enable)
		printf("enabled: %s added to %s (new processes load the shim)\n", lib, path);
	else
		printf("disabled: %s removed from %s\n", CLI_SHIM_NAME, path);
	rc = CLI_EX_OK;
out:
	free(in);
	free(out);
	return rc;
}

/* Two enables/disables at once must not lose one's change (read, edit,
 * rename): they take turns on an flock of the file's directory. */
static int edit_preload(const char *lib, int enable)
{
	char dir[PATH_MAX];
	int dfd, rc;

	snprintf(dir, sizeof(dir), "%s", cli_opt.preload_file);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0 && flock(dfd, LOCK_EX) < 0) {
		close(dfd);
		dfd = -1;
	}
	rc = edit_preload_locked(lib, enable);
	if (dfd >= 0)
		close(dfd); /* releases the lock */
	return rc;
}

/* Every program on the machine will load it: it must be root's alone, and it
 * must load and run in a fresh process first. 0, or -1 with why printed. */
static int check_shim(const char *lib)
{
	char err[1024];
	const char *prog = access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true";

	if (strpbrk(lib, " \t:\n")) {
		fprintf(stderr, "%s: %s: ld.so.preload cannot hold a path with spaces or colons\n",
			CLI_PROG, lib);
		return -1;
	}
	if (shim_path_safe(lib, err, sizeof(err)) < 0 ||
	    shim_probe(lib, prog, PROBE_TIMEOUT_MS, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: refusing to enable %s: %s\n%s: %s unchanged\n", CLI_PROG, lib,
			err, CLI_PROG, cli_opt.preload_file);
		return -1;
	}
	printf("checked: %s loads and runs (%s with it exited 0 and its constructor "
	       "reported)\n", lib, prog);
	return 0;
}

int cmd_enable(int argc, char **argv)
{
	char lib[PATH_MAX];

	if (argc != 1)
		return cli_usage_err("%s takes no arguments (but --preload-file FILE)", argv[0]);
	if (cli_find_shim(lib, sizeof(lib)) < 0) {
		fprintf(stderr, "%s: refusing to enable: the shim does not exist\n", CLI_PROG);
		return CLI_EX_FAIL;
	}
	if (check_shim(lib) < 0)
		return CLI_EX_FAIL;
	return edit_preload(lib, 1);
}

int cmd_disable(int argc, char **argv)
{
	char lib[PATH_MAX];

	if (argc != 1)
		return cli_usage_err("%s takes no arguments (but --preload-file FILE)", argv[0]);
	if (cli_find_shim(lib, sizeof(lib)) < 0) /* still remove every copy */
		snprintf(lib, sizeof(lib), "/nonexistent/" CLI_SHIM_NAME);
	return edit_preload(lib, 0);
}
