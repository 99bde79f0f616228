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
 *   vfork_fd HOST PORT CMD...       connects to HOST:PORT (TCP), then a vfork
 *                 child dup2()s the socket onto 0 and 1, closes every other
 *                 descriptor from 3 (close_range) and execs CMD; the parent
 *                 closes its copy and waits (inetd-style: the child holds the
 *                 connection, set up where its parent waits)
 *   posix_spawn_fd HOST PORT CMD... the same by posix_spawnp's file actions
 *                 (adddup2 0 and 1, addclosefrom_np 3)
 * Exit status: CMD's (daemon: 0), 127 when it could not be started, 2 usage. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

static int tcp_to(const char *host, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port)) };
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", host); return -1; }
	int s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) { perror("connect"); return -1; }
	return s;
}

/* vfork_fd / posix_spawn_fd: CMD with the connection as its stdin and stdout */
static int spawn_fd(int vf, char **av)
{
	if (!av[0] || !av[1] || !av[2]) { fprintf(stderr, "usage: spawner %s HOST PORT CMD...\n", vf ? "vfork_fd" : "posix_spawn_fd"); return 2; }
	int s = tcp_to(av[0], av[1]);
	if (s < 0) return 127;
	char **cmd = av + 2;
	pid_t pid;
	if (vf) {
		pid = vfork();
		if (pid == 0) {
			dup2(s, 0);
			dup2(s, 1);
			close_range(3U, ~0U, 0);
			execvp(cmd[0], cmd);
			_exit(127);
		}
		if (pid < 0) { perror("vfork"); return 127; }
	} else {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, s, 0);
		posix_spawn_file_actions_adddup2(&fa, s, 1);
		posix_spawn_file_actions_addclosefrom_np(&fa, 3);
		int e = posix_spawnp(&pid, cmd[0], &fa, NULL, cmd, environ);
		posix_spawn_file_actions_destroy(&fa);
		if (e) { fprintf(stderr, "posix_spawnp %s: %s\n", cmd[0], strerror(e)); return 127; }
	}
	close(s);
	printf("spawned %d\n", (int)pid);
	fflush(stdout);
	int st;
	while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) return 127;
	return status_of(st);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: spawner system|popen|posix_spawnp|forkpty|daemon CMD [ARG...]\n"
				"       spawner vfork_fd|posix_spawn_fd HOST PORT CMD [ARG...]\n");
		return 2;
	}
	const char *mode = argv[1];
	char **cmd = argv + 2;
	if (!strcmp(mode, "vfork_fd") || !strcmp(mode, "posix_spawn_fd"))
		return spawn_fd(mode[0] == 'v', cmd);

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
