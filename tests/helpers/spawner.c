/* spawner system|popen|posix_spawnp|forkpty|daemon CMD [ARG...] — runs CMD through
 * that libc entry point (the ones a PLT hook on glibc does not see through fork):
 *   system        system(COMMAND), waits. COMMAND is CMD itself when it is the
 *                 only word (a shell command line), else the words single-quoted
 *   popen         popen(COMMAND, "r"), copies its output to stdout, pclose
 *   posix_spawnp  posix_spawnp(CMD, argv), waitpid
 *   forkpty       forkpty(); the child execs CMD on the pty slave; the parent
 *                 relays stdin -> master and master -> stdout until EOF, waitpid
 *   daemon        daemon(1, 1), then the daemonised process execs CMD (prints
 *                 "daemon PID" first); the caller's process exits 0 at once
 * Exit status: CMD's (daemon: 0), 127 when it could not be started, 2 usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int status_of(int st)
{
	if (st < 0) return 127;
	if (WIFEXITED(st)) return WEXITSTATUS(st);
	if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
	return 1;
}

/* one word: used as the shell command itself; several: each word single-quoted */
static char *joined(char **v)
{
	if (!v[1]) return v[0];
	size_t n = 1;
	for (char **p = v; *p; p++) n += 4 * strlen(*p) + 3;
	char *s = calloc(1, n), *o = s;
	if (!s) exit(127);
	for (char **p = v; *p; p++) {
		if (p != v) *o++ = ' ';
		*o++ = '\'';
		for (const char *c = *p; *c; c++) {
			if (*c == '\'') { memcpy(o, "'\\''", 4); o += 4; } else *o++ = *c;
		}
		*o++ = '\'';
	}
	*o = 0;
	return s;
}

static int copy(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof buf);
	if (n <= 0) return -1;
	for (ssize_t off = 0; off < n;) {
		ssize_t w = write(to, buf + off, (size_t)(n - off));
		if (w < 0) { if (errno == EINTR) continue; return -1; }
		off += w;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: spawner system|popen|posix_spawnp|forkpty|daemon CMD [ARG...]\n");
		return 2;
	}
	const char *mode = argv[1];
	char **cmd = argv + 2;

	if (!strcmp(mode, "system")) {
		return status_of(system(joined(cmd)));
	} else if (!strcmp(mode, "popen")) {
		FILE *f = popen(joined(cmd), "r");
		if (!f) { perror("popen"); return 127; }
		char buf[8192];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
		fflush(stdout);
		return status_of(pclose(f));
	} else if (!strcmp(mode, "posix_spawnp")) {
		pid_t pid;
		int e = posix_spawnp(&pid, cmd[0], NULL, NULL, cmd, environ);
		if (e) { fprintf(stderr, "posix_spawnp %s: %s\n", cmd[0], strerror(e)); return 127; }
		int st;
		while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) return 127;
		return status_of(st);
	} else if (!strcmp(mode, "forkpty")) {
		int m;
		pid_t pid = forkpty(&m, NULL, NULL, NULL);
		if (pid < 0) { perror("forkpty"); return 127; }
		if (pid == 0) { execvp(cmd[0], cmd); perror(cmd[0]); _exit(127); }
		struct pollfd p[2] = { { .fd = m, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
		for (;;) {
			if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; break; }
			if (p[0].revents && copy(m, 1) < 0) break;
			if (p[1].revents && copy(0, m) < 0) p[1].fd = -1;
		}
		int st;
		while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) return 127;
		close(m);
		return status_of(st);
	} else if (!strcmp(mode, "daemon")) {
		fflush(stdout);
		if (daemon(1, 1) < 0) { perror("daemon"); return 127; }
		printf("daemon %d\n", (int)getpid());
		fflush(stdout);
		execvp(cmd[0], cmd);
		perror(cmd[0]);
		_exit(127);
	}
	fprintf(stderr, "spawner: unknown mode %s\n", mode);
	return 2;
}
