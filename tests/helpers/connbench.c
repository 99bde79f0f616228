/*
 * connbench — new-TCP-connection benchmark for tests/bench/guard.sh.
 *
 *   connbench serve PORT                 accept and close, forever (v4 + v6)
 *   connbench connect ADDR PORT N CONC [TIMEOUT_MS]
 *       opens N connections, CONC at a time (non-blocking connect + epoll),
 *       each closed with RST (SO_LINGER 0: no TIME_WAIT) once established.
 *       Prints one line: n ok refused failed secs conn_per_s p50_us p99_us
 *       (latency = connect() call to established, per connection).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *acceptor(void *arg)
{
	int ls = *(int *)arg;
	for (;;) {
		int c = accept(ls, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

static int serve(int port)
{
	int ls = socket(AF_INET6, SOCK_STREAM, 0), one = 1, zero = 0;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(ls, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				  .sin6_addr = IN6ADDR_ANY_INIT};
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 65535)) {
		perror("bind/listen");
		return 1;
	}
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, acceptor, &ls);
	pthread_join(t[0], NULL);
	return 0;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return x < y ? -1 : x > y;
}

struct slot {
	int fd;
	long t0;
};

/* Closes a slot's socket, first taking it out of the epoll set: close() does
 * not, while another reference to the file lives (the collector reading the
 * fd table — /proc/PID/fd, its task_file iterator — holds one for a moment).
 * The closed, established socket would stay in the set, level-triggered
 * writable, its events carrying the slot — and the slot's next socket would
 * be counted connected while its SYN still waits for the guard's verdict. */
static void slot_close(int ep, int fd)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static int run_connect(const char *addr, int port, long n, int conc, long timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET, s4->sin_port = htons((uint16_t)port), sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6, s6->sin6_port = htons((uint16_t)port), sl = sizeof(*s6);
	} else {
		fprintf(stderr, "bad address %s\n", addr);
		return 2;
	}
	long *lat = calloc((size_t)n, sizeof(long));
	struct slot *sl_ = calloc((size_t)conc, sizeof(*sl_));
	int ep = epoll_create1(0);
	long started = 0, done = 0, ok = 0, refused = 0, failed = 0, nlat = 0;
	long tstart = now_ns();
	for (int i = 0; i < conc; i++)
		sl_[i].fd = -1;

	struct linger lg = {1, 0};
	while (done < n) {
		for (int i = 0; i < conc && started < n; i++) {
			if (sl_[i].fd >= 0)
				continue;
			int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
			if (fd < 0) {
				perror("socket");
				return 1;
			}
			setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			started++;
			sl_[i].t0 = now_ns();
			int r = connect(fd, (struct sockaddr *)&ss, sl);
			if (r == 0 || errno == EINPROGRESS) {
				struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				sl_[i].fd = fd;
			} else {
				if (errno == ECONNREFUSED)
					refused++;
				else
					failed++;
				done++;
				close(fd);
			}
		}
		struct epoll_event evs[256];
		int k = epoll_wait(ep, evs, 256, 100);
		long t = now_ns();
		for (int j = 0; j < k; j++) {
			struct slot *s = &sl_[evs[j].data.u32];
			int err = 0;
			socklen_t el = sizeof(err);
			getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
			if (!err) {
				ok++;
				lat[nlat++] = (t - s->t0) / 1000;
			} else if (err == ECONNREFUSED) {
				refused++;
				lat[nlat++] = (t - s->t0) / 1000;
			} else {
				failed++;
			}
			slot_close(ep, s->fd);
			s->fd = -1;
			done++;
		}
		for (int i = 0; i < conc; i++) /* time out stuck ones */
			if (sl_[i].fd >= 0 && (t - sl_[i].t0) / 1000000 > timeout_ms) {
				slot_close(ep, sl_[i].fd);
				sl_[i].fd = -1;
				failed++;
				done++;
			}
	}
	double secs = (double)(now_ns() - tstart) / 1e9;
	qsort(lat, (size_t)nlat, sizeof(long), cmp_long);
	long p50 = nlat ? lat[nlat / 2] : -1, p99 = nlat ? lat[(nlat * 99) / 100] : -1;
	printf("n %ld ok %ld refused %ld failed %ld secs %.3f conn_per_s %.0f p50_us %ld p99_us %ld\n",
	       n, ok, refused, failed, secs, (double)n / secs, p50, p99);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "connect"))
		return run_connect(argv[2], atoi(argv[3]), atol(argv[4]), atoi(argv[5]),
				   argc == 7 ? atol(argv[6]) : 3000);
	fprintf(stderr, "usage: connbench serve PORT | connect ADDR PORT N CONC [TIMEOUT_MS]\n");
	return 2;
}
