/*
 * floor_image.c — the least a preloaded library can do to make a new process
 * image known to the collector over the record transport the design uses: on
 * load, one AF_UNIX SOCK_SEQPACKET connection to the collector and one IMAGE
 * record (parent pid, executable as execve() was given it, argv[0]). No hooks,
 * no dlsym, no atfork, no exit record. tests/bench/shim.sh builds it as a shared library (lean link
 * flags, like its empty library) and times posix_spawn of /bin/true with it
 * preloaded: the floor of the fork+exec overhead of any design that reports
 * exec (the shim's constructor backstop) over that transport.
 *
 * HOPTRACE_SOCKET names the collector's abstract socket (as for the shim).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/record.h"

__attribute__((constructor)) static void floor_ctor(int argc, char **argv, char **envp)
{
	(void)envp;
	const char *name = getenv("HOPTRACE_SOCKET");
	struct sockaddr_un a;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	if (!name || !*name || strlen(name) >= sizeof(a.sun_path) - 1)
		return;
	memcpy(a.sun_path + 1, name, strlen(name));
	socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return;
	if (syscall(SYS_connect, s, &a, al) == 0) {
		/* the executable as the shim names it: the path execve() was given */
		const char *fn = (const char *)getauxval(AT_EXECFN);
		char exe[256];
		snprintf(exe, sizeof(exe), "%s", fn ? fn : "");
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		uint8_t b[HT_REC_MAX];
		struct ht_enc e;
		ht_enc_init(&e, b, sizeof(b));
		ht_enc_head(&e, HT_REC_IMAGE, (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec, 3);
		ht_enc_int(&e, getppid());
		ht_enc_str(&e, exe);
		ht_enc_str(&e, (argc > 0 && argv && argv[0] && strlen(argv[0]) < 256) ? argv[0] : "");
		if (e.len != (size_t)-1)
			send(s, b, e.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	}
	syscall(SYS_close, s);
}
