/*
 * rec_sink — a stand-in collector for the shim's tests.
 *
 *   rec_sink [-m read|slow|none] [-l LOG] [-r READYFILE] NAME
 *
 * Binds the abstract AF_UNIX SOCK_SEQPACKET name "\0NAME", sets SO_PASSCRED,
 * accepts every client and reads their datagrams:
 *   read  (default) as fast as they come;
 *   slow  one datagram per client every 50 ms;
 *   none  accepts but never reads (a flooded collector: senders get EAGAIN).
 * -l LOG: one line per datagram "ts pid TYPE len" (ts = the record's own
 *   CLOCK_MONOTONIC stamp, so `sort -n` gives event order across senders).
 * -r READYFILE: created once the socket listens.
 * On SIGTERM/SIGINT (or stdin EOF never matters) it prints "TYPE count" for
 * every type seen, then "total N", "bad N", "pids N", "conns_rec N" (connections
 * accepted on the record name: the shim's momentary ones), and exits 0.
 * Decoding is minimal on purpose (msgpack array header, version, type, ts).
 * It also serves "\0NAME.ring" (include/hoptrace/ring.h): a datagram there
 * carries a shim's ring memfd; the ring is mapped and read like a client
 * (read: every 20 ms; slow: one record per ring every 50 ms; none: never,
 * its `beat` still bumped every second so the shim keeps writing into it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/ring.h"

#define MAXC 4096
#define NTYPES 19

static const char *names[NTYPES] = {
	"?", "BIRTH", "IMAGE", "EXEC", "EXIT", "PIPE", "SOCKETPAIR", "CONNECT", "ACCEPT",
	"PTY", "OPEN", "FDRECV", "FDSEND", "CLOSE", "DUP", "SPAWN", "CLOSERANGE", "RESYNC", "CONNFAIL",
};

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

static unsigned long counts[NTYPES], total, bad, conns_rec;
#define MAXPIDS 65536
static int pids[MAXPIDS];
static unsigned long npids;

static void note_pid(int pid)
{
	for (unsigned long i = 0; i < npids; i++)
		if (pids[i] == pid)
			return;
	if (npids < MAXPIDS)
		pids[npids++] = pid;
}

/* msgpack uint at p (len n); returns bytes used or 0 */
static int rd_uint(const uint8_t *p, size_t n, uint64_t *v)
{
	if (n < 1)
		return 0;
	if (p[0] < 0x80) {
		*v = p[0];
		return 1;
	}
	int w = p[0] == 0xcc ? 1 : p[0] == 0xcd ? 2 : p[0] == 0xce ? 4 : p[0] == 0xcf ? 8 : 0;
	if (!w || n < (size_t)w + 1)
		return 0;
	*v = 0;
	for (int i = 0; i < w; i++)
		*v = (*v << 8) | p[1 + i];
	return w + 1;
}

static FILE *logf_;

static void handle(const uint8_t *b, size_t n, int pid)
{
	total++;
	note_pid(pid);
	uint64_t type = 0, ts = 0, ver = 0;
	size_t off = 1;
	int k;
	if (n < 4 || (b[0] & 0xf0) != 0x90 || !(k = rd_uint(b + off, n - off, &ver)) || ver != 1) {
		bad++;
		return;
	}
	off += (size_t)k;
	if (!(k = rd_uint(b + off, n - off, &type)) || type == 0 || type >= NTYPES) {
		bad++;
		return;
	}
	off += (size_t)k;
	if (!rd_uint(b + off, n - off, &ts)) {
		bad++;
		return;
	}
	counts[type]++;
	if (logf_)
		fprintf(logf_, "%llu %d %s %zu\n", (unsigned long long)ts, pid, names[type], n);
}

#define MAXR 8192
static struct {
	struct ht_ring_reader rd;
	int pid;
} rings[MAXR];
static int nrings;
static uint32_t beat = 1;

static uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

static void ring_add(int fd, int pid)
{
	const char *why;
	void *b;
	if (nrings < MAXR && ht_ring_check_fd(fd, &why) == 0 && (b = ht_ring_map(fd))) {
		ht_ring_reader_init(&rings[nrings].rd, b);
		atomic_store(&ht_ring_hdr(b)->beat, beat);
		rings[nrings++].pid = pid;
	} else {
		bad++;
	}
	close(fd);
}

/* reads at most max records of each ring */
static void rings_read(int max)
{
	uint8_t b[HT_RING_MAXN * HT_RING_DATA];
	for (int i = 0; i < nrings; i++) {
		int len;
		for (int k = 0; k < max && (len = ht_ring_next(&rings[i].rd, b, sizeof(b), mono_ns())); k++) {
			if (len < 0)
				bad++;
			else
				handle(b, (size_t)len, rings[i].pid);
		}
		atomic_store(&ht_ring_hdr(rings[i].rd.base)->wake, 0);
	}
}

static void rings_beat(void)
{
	beat++;
	for (int i = 0; i < nrings; i++)
		atomic_store(&ht_ring_hdr(rings[i].rd.base)->beat, beat);
}

static int read_one(int fd)
{
	uint8_t buf[2048];
	char cbuf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 8)];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr m = { 0 };
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cbuf;
	m.msg_controllen = sizeof(cbuf);
	ssize_t r = recvmsg(fd, &m, MSG_DONTWAIT);
	if (r <= 0)
		return (int)r == 0 ? 0 : (errno == EAGAIN ? 1 : 0);
	int pid = 0, rfd = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred u;
			memcpy(&u, CMSG_DATA(c), sizeof(u));
			pid = u.pid;
		}
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (rfd < 0)
					rfd = f;
				else
					close(f);
			}
		}
	}
	if (rfd >= 0)
		ring_add(rfd, pid);
	handle(buf, (size_t)r, pid);
	return 2;
}

static void report(void)
{
	for (int t = 1; t < NTYPES; t++)
		if (counts[t])
			printf("%s %lu\n", names[t], counts[t]);
	printf("total %lu\nbad %lu\npids %lu\nconns_rec %lu\n", total, bad, npids, conns_rec);
	fflush(stdout);
	if (logf_)
		fflush(logf_);
}

int main(int argc, char **argv)
{
	const char *mode = "read", *logpath = NULL, *ready = NULL;
	int o;
	while ((o = getopt(argc, argv, "m:l:r:")) != -1) {
		switch (o) {
		case 'm': mode = optarg; break;
		case 'l': logpath = optarg; break;
		case 'r': ready = optarg; break;
		default:
			fprintf(stderr, "usage: rec_sink [-m read|slow|none] [-l LOG] [-r READY] NAME\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: rec_sink [-m read|slow|none] [-l LOG] [-r READY] NAME\n");
		return 2;
	}
	const char *name = argv[optind];
	int slow = !strcmp(mode, "slow"), none = !strcmp(mode, "none");
	if (logpath && !(logf_ = fopen(logpath, "w"))) {
		perror(logpath);
		return 1;
	}
	struct sigaction sa = { 0 };
	sa.sa_handler = on_sig;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int lsk[2], one = 1;
	for (int j = 0; j < 2; j++) {
		int ls = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		struct sockaddr_un a = { 0 };
		a.sun_family = AF_UNIX;
		size_t n = strnlen(name, sizeof(a.sun_path) - 8);
		memcpy(a.sun_path + 1, name, n);
		if (j) {
			memcpy(a.sun_path + 1 + n, HT_REC_RING_SUFFIX, sizeof(HT_REC_RING_SUFFIX) - 1);
			n += sizeof(HT_REC_RING_SUFFIX) - 1;
		}
		socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		if (ls >= 0)
			setsockopt(ls, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
		if (ls < 0 || bind(ls, (struct sockaddr *)&a, al) != 0 || listen(ls, 1024) != 0) {
			perror("rec_sink: bind/listen");
			return 1;
		}
		lsk[j] = ls;
	}
	if (ready) {
		int f = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (f >= 0)
			close(f);
	}
	static struct pollfd pf[MAXC + 2];
	int nc = 1; /* pf[0], pf[1]: the listeners; clients from 2 */
	pf[0].fd = lsk[0];
	pf[1].fd = lsk[1];
	pf[0].events = pf[1].events = POLLIN;
	uint64_t beat_at = mono_ns() + 1000000000ULL;
	while (!stop) {
		for (int i = 2; i <= nc; i++)
			pf[i].events = none ? 0 : POLLIN;
		int pr = poll(pf, (nfds_t)nc + 1, slow ? 50 : nrings ? 20 : 200);
		if (pr < 0 && errno != EINTR)
			break;
		if (mono_ns() >= beat_at) {
			rings_beat();
			beat_at = mono_ns() + 1000000000ULL;
		}
		for (int j = 0; j < 2; j++) {
			if (!(pf[j].revents & POLLIN))
				continue;
			int c;
			while ((c = accept4(lsk[j], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				if (nc >= MAXC) {
					close(c);
					continue;
				}
				setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
				if (j == 0)
					conns_rec++;
				pf[++nc].fd = c;
				pf[nc].events = POLLIN;
				pf[nc].revents = 0;
			}
		}
		if (!none)
			rings_read(slow ? 1 : 1 << 20);
		for (int i = 2; i <= nc; i++) {
			short ev = pf[i].revents;
			pf[i].revents = 0;
			if (none) {
				if (ev & (POLLHUP | POLLERR)) {
					/* keep the fd: never reading means never noticing */
				}
				continue;
			}
			if (!(ev & (POLLIN | POLLHUP | POLLERR)))
				continue;
			int rr;
			if (slow) {
				rr = read_one(pf[i].fd);
			} else {
				while ((rr = read_one(pf[i].fd)) == 2)
					;
			}
			if (rr == 0) { /* closed */
				close(pf[i].fd);
				pf[i] = pf[nc--];
				i--;
			}
		}
	}
	if (!none) { /* what came since the last poll */
		for (int i = 2; i <= nc; i++)
			while (read_one(pf[i].fd) == 2)
				;
		rings_read(1 << 20);
	}
	report();
	return 0;
}
