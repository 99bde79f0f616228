/*
 * seccomp_allow.c — an unprivileged user's allow-all
 * seccomp filter (PR_SET_NO_NEW_PRIVS, then a filter whose one instruction
 * is SECCOMP_RET_ALLOW), then exec: every image from here on starts under an
 * inherited filter, so the shim turns itself off there (preload/shim.c
 * seccomp_inherited) — a dynamic program switched off like a static one.
 *   seccomp_allow PROG ARG...
 * Used by tests/func/attack_review13_*.sh (the flooder: unshimmed; the
 * lineage cut: an intermediate switched off).
 */
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s PROG ARG...\n", argv[0]);
		return 2;
	}
	struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog p = { .len = 1, .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		perror("PR_SET_NO_NEW_PRIVS");
		return 1;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) != 0) {
		perror("seccomp");
		return 1;
	}
	execvp(argv[1], argv + 1);
	perror("execvp");
	return 127;
}
