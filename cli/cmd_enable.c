/*
 * cmd_enable.c — `hoptrace enable` and `hoptrace disable`: the shim into
 * /etc/ld.so.preload (after proving it loads and runs, shimprobe.h) and out
 * of it again; --preload-file FILE edits FILE instead.
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

struct buf {
	char *p;
	size_t len, cap;
};
static int buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap ? b->cap * 2 : 256);
		char *q;
		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(q = realloc(b->p, cap)))
			return -1;
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Rewrites the preload file: enable adds lib (once), disable removes every
 * libhoptrace.so entry. Other entries are kept as they were. Atomic rename. */
static int edit_preload_locked(const char *lib, int enable)
{
	const char *path = cli_opt.preload_file;
	struct buf in = {0}, outb = {0}, in_copy = {0};
	struct stat st = {0};
	mode_t mode = 0644;
	int found = 0, changed = 0, had_file = 0;
	FILE *f;

	f = fopen(path, "r");
	if (!f && errno != ENOENT) {
		fprintf(stderr, "%s: %s: %s\n", CLI_PROG, path, strerror(errno));
		return CLI_EX_FAIL;
	}
	if (f) {
		char chunk[4096];
		size_t n;
		had_file = 1;
		if (fstat(fileno(f), &st) == 0)
			mode = st.st_mode & 07777;
		while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
			if (buf_add(&in, chunk, n) < 0) {
				fclose(f);
				free(in.p);
				fprintf(stderr, "%s: out of memory\n", CLI_PROG);
				return CLI_EX_FAIL;
			}
		fclose(f);
	}
	if (in.len && buf_add(&in_copy, in.p, in.len) < 0) {
		free(in.p);
		fprintf(stderr, "%s: out of memory\n", CLI_PROG);
		return CLI_EX_FAIL;
	}
	/* line by line; a line may hold several entries (ld.so splits on blanks and ':') */
	for (size_t pos = 0; in.p && pos < in.len;) {
		const char *line = in.p + pos;
		size_t ll = strcspn(line, "\n");
		int nl = pos + ll < in.len;
		int ours = 0, others = 0;

		for (size_t i = 0; i < ll;) {
			size_t s = i + strspn(line + i, " \t:"), e;
			if (s >= ll)
				break;
			e = s + strcspn(line + s, " \t:\n");
			if (e > ll)
				e = ll;
			if (ldp_is_shim(line + s, e - s, lib)) {
				ours++;
				if (e - s == strlen(lib) && strncmp(line + s, lib, e - s) == 0)
					found = 1;
			} else {
				others++;
			}
			i = e;
		}
		if (!ours || enable) {
			buf_add(&outb, line, ll + (size_t)nl);
		} else {
			changed = 1;
			if (others) { /* keep the other entries of that line */
				int first = 1;
				for (size_t i = 0; i < ll;) {
					size_t s = i + strspn(line + i, " \t:"), e;
					if (s >= ll)
						break;
					e = s + strcspn(line + s, " \t:\n");
					if (e > ll)
						e = ll;
					if (!ldp_is_shim(line + s, e - s, lib)) {
						if (!first)
							buf_add(&outb, " ", 1);
						buf_add(&outb, line + s, e - s);
						first = 0;
					}
					i = e;
				}
				buf_add(&outb, "\n", 1);
			}
		}
		pos += ll + (size_t)nl;
	}
	if (enable && !found) {
		if (outb.len && outb.p[outb.len - 1] != '\n')
			buf_add(&outb, "\n", 1);
		buf_add(&outb, lib, strlen(lib));
		buf_add(&outb, "\n", 1);
		changed = 1;
	}
	free(in.p);
	if (!changed) {
		printf("%s: already %s in %s\n", CLI_SHIM_NAME, enable ? "enabled" : "disabled", path);
		free(outb.p);
		free(in_copy.p);
		return CLI_EX_OK;
	}
	if (enable && had_file) {
		/* the file as it was, for the operator (and the package's purge) */
		char bak[PATH_MAX + 32];
		snprintf(bak, sizeof(bak), "%s" BACKUP_SUFFIX, path);
		if (cli_write_atomic(bak, in_copy.p, in_copy.len, mode, &st) < 0) {
			free(outb.p);
			free(in_copy.p);
			return CLI_EX_FAIL;
		}
		printf("backup: %s\n", bak);
	}
	free(in_copy.p);
	if (cli_write_atomic(path, outb.p, outb.len, mode, had_file ? &st : NULL) < 0) {
		free(outb.p);
		return CLI_EX_FAIL;
	}
	free(outb.p);
	if (enable)
		printf("enabled: %s added to %s (new processes load the shim)\n", lib, path);
	else
		printf("disabled: %s removed from %s\n", CLI_SHIM_NAME, path);
	return CLI_EX_OK;
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

static int enable_or_disable(int argc, char **argv, int enable)
{
	char lib[PATH_MAX];

	if (argc != 1)
		return cli_usage_err("%s takes no arguments (but --preload-file FILE)", argv[0]);
	if (cli_find_shim(lib, sizeof(lib)) < 0) {
		if (enable) {
			fprintf(stderr, "%s: refusing to enable: the shim does not exist\n", CLI_PROG);
			return CLI_EX_FAIL;
		}
		snprintf(lib, sizeof(lib), "/nonexistent/" CLI_SHIM_NAME); /* still remove copies */
	}
	if (enable && strpbrk(lib, " \t:\n")) {
		fprintf(stderr, "%s: %s: ld.so.preload cannot hold a path with spaces or colons\n",
			CLI_PROG, lib);
		return CLI_EX_FAIL;
	}
	if (enable) {
		/* every program on the machine will load it: it must be root's alone,
		 * and it must load and run in a fresh process first */
		char err[1024];
		const char *prog = access("/bin/true", X_OK) == 0 ? "/bin/true" : "/usr/bin/true";
		if (shim_path_safe(lib, err, sizeof(err)) < 0 ||
		    shim_probe(lib, prog, PROBE_TIMEOUT_MS, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: refusing to enable %s: %s\n%s: %s unchanged\n", CLI_PROG,
				lib, err, CLI_PROG, cli_opt.preload_file);
			return CLI_EX_FAIL;
		}
		printf("checked: %s loads and runs (%s with it exited 0 and its constructor "
		       "reported)\n", lib, prog);
	}
	return edit_preload(lib, enable);
}

int cmd_enable(int argc, char **argv)
{
	return enable_or_disable(argc, argv, 1);
}

int cmd_disable(int argc, char **argv)
{
	return enable_or_disable(argc, argv, 0);
}
