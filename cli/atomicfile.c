/*
 * atomicfile.c — replacing a file so that a crash leaves the old one or the
 * new one, never a mix (the preload file, its backup, metrics --output).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_write_atomic(const char *path, const char *data, size_t len, mode_t mode,
		     const struct stat *old)
{
	char tmp[PATH_MAX + 32], dir[PATH_MAX];
	int fd, dfd;

	snprintf(tmp, sizeof(tmp), "%s.hoptrace.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", CLI_PROG, tmp, strerror(errno));
		return -1;
	}
	if ((len && write(fd, data, len) != (ssize_t)len) || fchmod(fd, mode) < 0 ||
	    (old && fchown(fd, old->st_uid, old->st_gid) < 0 && errno != EPERM) ||
	    fsync(fd) < 0) {
		fprintf(stderr, "%s: %s: %s\n", CLI_PROG, tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		fprintf(stderr, "%s: %s: %s\n", CLI_PROG, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}
