/*
 * forge_dfork.c — a static binary (no dynamic loader, so no shim) in the
 * middle of a lineage: forks a child that forks again and exits at once, so
 * the grandchild is re-parented to init; the grandchild waits until that has
 * happened, then execs argv[1..] (a dynamic program: its shim reports an IMAGE
 * whose ppid is 1). The parent waits for the child and exits.
 *   forge_dfork PROG ARG...
 * Built by tests/func/attack_lineage.sh with cc -static.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: forge_dfork PROG ARG...\n");
		return 2;
	}
	pid_t c = fork();
	if (c < 0)
		return 1;
	if (c == 0) {
		pid_t gc = fork();
		if (gc < 0)
			_exit(1);
		if (gc == 0) {
			for (int i = 0; i < 100 && getppid() != 1; i++)
				usleep(20000); /* until the middle process is gone */
			execvp(argv[1], argv + 1);
			_exit(127);
		}
		_exit(0);
	}
	waitpid(c, NULL, 0);
	return 0;
}
