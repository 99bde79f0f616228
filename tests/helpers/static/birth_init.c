/* birth_init.c — static (no shim): [-s: setsid first] send the collector
 * one BIRTH record naming pid 1 (init) as this process's creator, fork time
 * its kernel start time, then exec argv[1..]. For
 * tests/func/attack_review14_birth_init.sh. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static size_t u64(uint8_t *b, uint64_t v)
{
	b[0] = 0xcf;
	for (int i = 0; i < 8; i++)
		b[1 + i] = (uint8_t)(v >> (56 - 8 * i));
	return 9;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "-s")) {
		setsid(); /* (its own session: no leader to take the lineage from) */
		argv++, argc--;
	}
	if (argc < 2)
		return 2;
	unsigned long long st = 0;
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	if (f && fgets(buf, sizeof(buf), f)) {
		char *p = strrchr(buf, ')');
		for (int i = 0; p && i < 20; i++)
			p = strchr(p + 1, ' ');
		if (p)
			sscanf(p + 1, "%llu", &st);
	}
	if (f)
		fclose(f);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint8_t r[32];
	size_t n = 0;
	r[n++] = 0x95; /* [version, type, ts, creator, fork_ts] */
	r[n++] = 1;
	r[n++] = 1; /* BIRTH */
	n += u64(r + n, (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec);
	r[n++] = 1; /* creator: init */
	n += u64(r + n, st * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK)));
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, "\0hoptrace/rec", 13);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(sa_family_t) + 13) != 0 ||
	    send(s, r, n, 0) != (ssize_t)n)
		perror("birth");
	usleep(300000);
	close(s);
	execvp(argv[1], argv + 1);
	return 127;
}
