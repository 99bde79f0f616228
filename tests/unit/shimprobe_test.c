/*
 * shimprobe_test.c — the check `hoptrace enable` makes before it edits the
 * preload file: the built shim passes; a library that is not the shim, one
 * whose constructor aborts, a truncated copy and a missing program fail, each
 * with its reason; path safety (owner, group/other write, sticky dirs).
 * Uses $BUILD/libhoptrace.so (default build/), skipped where it is absent.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../cli/shimprobe.h"
#include "test.h"

static char shim[512];

static int have_shim(void)
{
	const char *b = getenv("BUILD");
	snprintf(shim, sizeof(shim), "%s/libhoptrace.so", b && *b ? b : "build");
	if (access(shim, R_OK) == 0)
		return 1;
	snprintf(shim, sizeof(shim), "build/libhoptrace.so");
	return access(shim, R_OK) == 0;
}

static void t_probe(void)
{
	char err[1024], tmpl[] = "/tmp/ht-probe-XXXXXX";
	if (!have_shim() || access("/bin/true", X_OK) != 0) {
		printf("    (skipped: no %s)\n", shim);
		return;
	}
	err[0] = 0;
	CHECK_EQ_INT(shim_probe(shim, "/bin/true", 5000, err, sizeof(err)), 0);
	if (err[0])
		printf("    unexpected: %s\n", err);
	/* a truncated copy */
	int fd = mkstemp(tmpl);
	CHECK(fd >= 0);
	int in = open(shim, O_RDONLY);
	char buf[4096];
	ssize_t n = read(in, buf, sizeof(buf));
	close(in);
	CHECK(n == (ssize_t)sizeof(buf) && write(fd, buf, (size_t)n) == n);
	close(fd);
	CHECK_EQ_INT(shim_probe(tmpl, "/bin/true", 5000, err, sizeof(err)), -1);
	CHECK(err[0] != 0);
	/* a text file: ld.so complains on stderr */
	fd = open(tmpl, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, "junk\n", 5) == 5);
	close(fd);
	CHECK_EQ_INT(shim_probe(tmpl, "/bin/true", 5000, err, sizeof(err)), -1);
	CHECK(strstr(err, "printed") != NULL);
	unlink(tmpl);
	/* a program that does not exist */
	CHECK_EQ_INT(shim_probe(shim, "/nonexistent/true", 5000, err, sizeof(err)), -1);
	CHECK(strstr(err, "cannot run") != NULL);
	/* the shim with a program that fails */
	if (access("/bin/false", X_OK) == 0) {
		CHECK_EQ_INT(shim_probe(shim, "/bin/false", 5000, err, sizeof(err)), -1);
		CHECK(strstr(err, "exited 1") != NULL);
	}
}

static void t_path(void)
{
	char err[512], dir[] = "/tmp/ht-path-XXXXXX", f[600];
	if (geteuid() != 0) {
		printf("    (skipped: not root)\n");
		return;
	}
	CHECK(mkdtemp(dir) != NULL);
	snprintf(f, sizeof(f), "%s/libhoptrace.so", dir);
	int fd = open(f, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	chmod(dir, 0755);
	CHECK_EQ_INT(shim_path_safe(f, err, sizeof(err)), 0); /* /tmp is sticky */
	chmod(f, 0664);
	CHECK_EQ_INT(shim_path_safe(f, err, sizeof(err)), -1);
	CHECK(strstr(err, "its group") != NULL);
	chmod(f, 0646);
	CHECK_EQ_INT(shim_path_safe(f, err, sizeof(err)), -1);
	CHECK(strstr(err, "everyone") != NULL);
	chmod(f, 0644);
	chmod(dir, 0777);
	CHECK_EQ_INT(shim_path_safe(f, err, sizeof(err)), -1);
	chmod(dir, 01777); /* sticky: others cannot replace root's file */
	CHECK_EQ_INT(shim_path_safe(f, err, sizeof(err)), 0);
	chmod(dir, 0755);
	CHECK(chown(f, 65534, 65534) == 0);
	CHECK_EQ_INT(shim_path_safe(f, err, sizeof(err)), -1);
	CHECK(strstr(err, "not root") != NULL);
	CHECK_EQ_INT(shim_path_safe("relative.so", err, sizeof(err)), -1);
	CHECK_EQ_INT(shim_path_safe(dir, err, sizeof(err)), -1); /* not a file */
	unlink(f);
	rmdir(dir);
	CHECK_EQ_INT(shim_path_safe(f, err, sizeof(err)), -1); /* gone */
}

static void t_scan(void)
{
	struct shim_scan sc;
	CHECK_EQ_INT(shim_scan("/proc", NULL, &sc), 0);
	CHECK(sc.procs >= 1);
	CHECK_EQ_INT(shim_scan("/nonexistent", NULL, &sc), -1);
}

T_MAIN("shimprobe", T(t_probe), T(t_path), T(t_scan))
