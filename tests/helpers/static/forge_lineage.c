/*
 * forge_lineage.c — a static binary (no dynamic loader, so no shim) that cuts
 * a lineage as far as /proc can show it: forks a child that (with -s) starts
 * a new session, forks N more times, each middle exiting at once; the last
 * waits until it is re-parented to init, sleeps MS milliseconds (every middle
 * long gone before it runs anything the shim would report), then execs
 * argv[optind..] (a dynamic program: its shim reports an IMAGE whose ppid is
 * 1). The first process exits without waiting.
 *   forge_lineage [-s] [-n N] [-d MS] PROG ARG...
 * With -s the new session's leader is a middle that has ended and that no
 * record ever named: no process group or session leader leads back.
 * Built by tests/func/attack_review13_seccomp_lineage.sh with cc -static.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int sess = 0, n = 2, ms = 0, o;
	while ((o = getopt(argc, argv, "+sn:d:")) != -1) {
		switch (o) {
		case 's': sess = 1; break;
		case 'n': n = atoi(optarg); break;
		case 'd': ms = atoi(optarg); break;
		default: goto usage;
		}
	}
	if (optind >= argc || n < 1 || n > 16)
		goto usage;
	for (int i = 0; i < n; i++) {
		pid_t c = fork();
		if (c < 0)
			_exit(1);
		if (c > 0)
			_exit(0); /* each middle exits at once */
		if (i == 0 && sess)
			setsid();
	}
	for (int i = 0; i < 200 && getppid() != 1; i++)
		usleep(20000); /* until the last middle is gone */
	usleep((useconds_t)ms * 1000);
	execvp(argv[optind], argv + optind);
	_exit(127);
usage:
	fprintf(stderr, "usage: forge_lineage [-s] [-n N] [-d MS] PROG ARG...\n");
	return 2;
}
