/*
 * stub_who — answers the collector's per-SYN "who" question (docs/query-
 * protocol.md) with a fixed local-origin chain, without looking anything up.
 * Only for tests/bench/guard.sh, to measure hopguard's own cost per SYN
 * (query round trip, chain decoding, policy, audit line) apart from the
 * collector's. Listens on the abstract SEQPACKET name "\0hoptrace/query" of
 * the network namespace it runs in; one thread per connection.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int field(const char *req, const char *key, char *out, size_t n)
{
	const char *p = strstr(req, key);
	if (!p)
		return -1;
	p += strlen(key);
	size_t i = 0;
	while (*p && *p != '"' && i + 1 < n)
		out[i++] = *p++;
	out[i] = 0;
	return 0;
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char req[1024], ans[2048], l[128], r[128];
	for (;;) {
		ssize_t n = recv(fd, req, sizeof(req) - 1, 0);
		if (n <= 0)
			break;
		req[n] = 0;
		if (field(req, "\"local\":\"", l, sizeof(l)) || field(req, "\"remote\":\"", r, sizeof(r))) {
			send(fd, "{\"ok\":false,\"error\":\"bad request\"}", 34, MSG_NOSIGNAL);
			continue;
		}
		int m = snprintf(ans, sizeof(ans),
				 "{\"ok\":true,\"host\":\"bench\",\"subject\":{\"pid\":1,\"local\":\"%s\",\"remote\":\"%s\"},"
				 "\"chains\":[{\"origin_host\":\"bench\",\"src\":\"%s\",\"dst\":\"%s\",\"complete\":true,"
				 "\"fallback\":false,\"procs\":[{\"host\":\"bench\",\"pid\":1,\"uid\":0,"
				 "\"exe\":\"/usr/bin/connbench\",\"sha256\":\"%064d\"}]}]}",
				 l, r, l, r, 0);
		send(fd, ans, (size_t)m, MSG_NOSIGNAL);
	}
	close(fd);
	return NULL;
}

int main(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *name = "hoptrace/query";
	memcpy(sa.sun_path + 1, name, strlen(name));
	int ls = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (bind(ls, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name))) ||
	    listen(ls, 64)) {
		perror("stub_who: bind");
		return 1;
	}
	for (;;) {
		int c = accept(ls, NULL, NULL);
		if (c < 0)
			continue;
		pthread_t t;
		pthread_create(&t, NULL, serve, (void *)(long)c);
		pthread_detach(t);
	}
}
