/*
 * atk_squat — the name-squatting attack of issue 10 (defect 6): bind a
 * collector's socket name first and count what arrives.
 *
 *   atk_squat [-d] [-r READYFILE] -c COUNTFILE NAME
 *
 * Binds the abstract name "\0NAME" (SOCK_SEQPACKET, listening, accepting every
 * connection; -d: SOCK_DGRAM, the doorbell) with SO_PASSCRED, and reads every
 * datagram. After each event it rewrites COUNTFILE with
 *   "conns C datagrams D bytes B uids U..."   (U: the senders' uids)
 * Runs until killed. Exits 1 at once if the name cannot be bound.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAXC 1024

static unsigned long conns, dgrams, bytes;
static int uids[32], nuids;

static void note_uid(int u)
{
	for (int i = 0; i < nuids; i++)
		if (uids[i] == u)
			return;
	if (nuids < 32)
		uids[nuids++] = u;
}

static void write_count(const char *path)
{
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "conns %lu datagrams %lu bytes %lu uids", conns, dgrams, bytes);
	for (int i = 0; i < nuids; i++)
		fprintf(f, " %d", uids[i]);
	fprintf(f, "\n");
	fclose(f);
	rename(tmp, path);
}

static void read_one(int fd)
{
	char buf[65536];
	union {
		char c[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 253)];
		struct cmsghdr a;
	} u;
	for (;;) {
		struct iovec io = {buf, sizeof(buf)};
		struct msghdr m = {.msg_iov = &io, .msg_iovlen = 1, .msg_control = u.c,
				   .msg_controllen = sizeof(u.c)};
		ssize_t r = recvmsg(fd, &m, MSG_DONTWAIT);
		if (r <= 0)
			return;
		dgrams++;
		bytes += (unsigned long)r;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cr;
				memcpy(&cr, CMSG_DATA(c), sizeof(cr));
				note_uid((int)cr.uid);
			} else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
				int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
				for (int i = 0; i < k; i++) {
					int x;
					memcpy(&x, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof(int));
					close(x);
				}
			}
		}
	}
}

int main(int argc, char **argv)
{
	int dgram = 0, ch;
	const char *countfile = NULL, *ready = NULL;
	while ((ch = getopt(argc, argv, "dc:r:")) != -1) {
		switch (ch) {
		case 'd': dgram = 1; break;
		case 'c': countfile = optarg; break;
		case 'r': ready = optarg; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || !countfile)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(argv[optind]);
	if (n > sizeof(sa.sun_path) - 2)
		goto usage;
	memcpy(sa.sun_path + 1, argv[optind], n);
	int one = 1, l = socket(AF_UNIX, dgram ? SOCK_DGRAM : SOCK_SEQPACKET, 0);
	setsockopt(l, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0 ||
	    (!dgram && listen(l, 128) < 0)) {
		fprintf(stderr, "atk_squat: bind @%s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	write_count(countfile);
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (f)
			fclose(f);
	}
	struct pollfd p[MAXC + 1];
	int np = 1;
	p[0].fd = l;
	p[0].events = POLLIN;
	for (;;) {
		if (poll(p, (nfds_t)np, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (p[0].revents) {
			if (dgram) {
				read_one(l);
			} else {
				int c = accept(l, NULL, NULL);
				if (c >= 0) {
					setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
					conns++;
					if (np <= MAXC) {
						p[np].fd = c;
						p[np].events = POLLIN;
						np++;
					} else {
						close(c);
					}
				}
			}
		}
		for (int i = 1; i < np; i++) {
			if (!p[i].revents)
				continue;
			read_one(p[i].fd);
			if (p[i].revents & (POLLHUP | POLLERR)) {
				close(p[i].fd);
				p[i--] = p[--np];
			}
		}
		write_count(countfile);
	}
usage:
	fprintf(stderr, "usage: atk_squat [-d] [-r READYFILE] -c COUNTFILE NAME\n");
	return 2;
}
