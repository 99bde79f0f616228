/* vfork_connect ADDR PORT — a vfork'd child that connects (tests/func/kev_vfork.sh):
 * the parent vfork()s; the child, before any exec, makes a TCP connection to
 * ADDR:PORT with raw syscalls and holds it (pause()), so it never calls a libc
 * hook the shim has. The parent stays suspended (vfork) until the child dies.
 * Linked statically by the test: the shim sees neither process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	pid_t p = vfork();
	if (p < 0)
		return 1;
	if (p == 0) {
		/* the vfork child: raw syscalls only, then _exit */
		long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || syscall(SYS_connect, fd, &sa, sizeof sa) != 0)
			syscall(SYS_exit, 1);
		for (;;)
			syscall(SYS_pause);
	}
	int st;
	waitpid(p, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
