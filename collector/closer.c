/*
 * closer.c — passed descriptors, never closed on the loop's thread.
 *
 * A file's last close can block for as long as its sender likes: a TCP socket
 * with SO_LINGER and unsent data, a FUSE flush, a tty, NFS. Descriptors passed
 * to us (SCM_RIGHTS) are therefore never closed on the loop's thread. On
 * Linux 6.16+ the kernel refuses them outright: SO_PASSRIGHTS = 0 on every
 * socket anybody can send to (set on the listeners before listen(): an
 * accepted socket inherits it from the listener at connect() time, so no
 * datagram with descriptors can be queued before accept; sendmsg then fails
 * with EPERM). Without it (HOPTRACED_NO_PASSRIGHTS=1 forces this for the
 * tests) every receive has room for SCM_MAX_FD descriptors — a truncated
 * control message would have the kernel drop the rest, and their last fput
 * would run on the loop's thread — and hands them to the closer thread
 * through a bounded queue; a socket is read only while the queue has room for
 * one more datagram's descriptors, a connection that may still hold passed
 * descriptors is closed by the closer too, and a close that takes more than
 * 100 ms is interrupted (SIGUSR1: the waits of a lingering socket or a FUSE
 * request are interruptible).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "daemon.h"

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16+, asm-generic/socket.h (glibc 2.36 lacks it) */
#endif

static void on_kick(int sig)
{
	(void)sig; /* interrupts the closer's close() */
}

static void *closer_main(void *arg)
{
	struct closer *cl = arg;
	sigset_t m;
	sigfillset(&m);
	sigdelset(&m, SIGUSR1);
	pthread_sigmask(SIG_SETMASK, &m, NULL);
	for (;;) {
		pthread_mutex_lock(&cl->mu);
		while (!cl->n)
			pthread_cond_wait(&cl->cv, &cl->mu);
		int fd = cl->q[cl->head];
		cl->head = (cl->head + 1) % CLOSER_CAP;
		cl->n--;
		pthread_mutex_unlock(&cl->mu);
		atomic_store(&cl->busy_since, now_ns());
		close(fd);
		atomic_store(&cl->busy_since, 0);
		atomic_fetch_add(&cl->closed, 1);
	}
	return NULL;
}

void closer_init(struct closer *cl)
{
	memset(cl, 0, sizeof(*cl));
	pthread_mutex_init(&cl->mu, NULL);
	pthread_cond_init(&cl->cv, NULL);
	int zero = 0, t = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	const char *no = getenv("HOPTRACED_NO_PASSRIGHTS");
	cl->passrights_off = t >= 0 && !(no && no[0] == '1') &&
			     setsockopt(t, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero)) == 0;
	if (t >= 0)
		close(t);
	if (!cl->passrights_off)
		log_info("no SO_PASSRIGHTS: passed descriptors go to the closer thread");
}

void closer_start(struct closer *cl)
{
	struct sigaction sa = {.sa_handler = on_kick}; /* no SA_RESTART */
	sigaction(SIGUSR1, &sa, NULL);
	cl->q = calloc(CLOSER_CAP, sizeof(*cl->q));
	if (!cl->q || pthread_create(&cl->thread, NULL, closer_main, cl) != 0)
		fatalx("cannot start the closer thread");
	cl->running = 1;
}

void closer_no_passrights(const struct closer *cl, int fd)
{
	int zero = 0;
	if (cl->passrights_off && setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &zero, sizeof(zero)) < 0)
		log_warn("SO_PASSRIGHTS");
}

static size_t closer_room(struct closer *cl)
{
	pthread_mutex_lock(&cl->mu);
	size_t r = CLOSER_CAP - cl->n;
	pthread_mutex_unlock(&cl->mu);
	return r;
}

/* Queues fd for the closer unless fewer than reserve + 1 slots are free. */
static int closer_put(struct closer *cl, int fd, size_t reserve)
{
	pthread_mutex_lock(&cl->mu);
	int ok = CLOSER_CAP - cl->n > reserve;
	if (ok) {
		cl->q[(cl->head + cl->n) % CLOSER_CAP] = fd;
		cl->n++;
		pthread_cond_signal(&cl->cv);
	}
	pthread_mutex_unlock(&cl->mu);
	return ok ? 0 : -1;
}

int closer_fd_room(struct closer *cl)
{
	/* with SO_PASSRIGHTS off only the ring socket takes descriptors
	 * (collector/ring.c): the queue is looked at once it holds any */
	if (cl->passrights_off && !__atomic_load_n(&cl->n, __ATOMIC_RELAXED))
		return 1;
	if (closer_room(cl) > SCM_MAX_FDS + CLOSER_RESERVE)
		return 1;
	cl->full++;
	return 0;
}

/* A copy of another process's descriptor the graph took (graph_conf
 * dispose_fd): its close may be the file's last — always the closer's. */
void closer_dispose(void *ctx, int fd)
{
	struct closer *cl = ctx;
	if (!cl->running)
		close(fd); /* (before the threads: no walk yet) */
	else if (closer_put(cl, fd, 0) != 0)
		cl->leaked++;
}

void closer_close(struct closer *cl, int fd)
{
	if (cl->passrights_off || !cl->running)
		close(fd);
	else if (closer_put(cl, fd, 0) != 0)
		cl->leaked++; /* 65536 closes stuck: keep it rather than block */
}

int closer_drop_passed(struct closer *cl, struct msghdr *mh)
{
	int k = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int pfd;
			memcpy(&pfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (closer_put(cl, pfd, 0) != 0)
				cl->leaked++;
			k++;
		}
	}
	return k;
}

ssize_t closer_recv(struct closer *cl, int fd, void *buf, size_t len, int flags, int *had_fds)
{
	union rcv_cbuf cb;
	struct iovec iov = {buf, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
			    .msg_controllen = sizeof(cb.b)};
	ssize_t r = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC);
	*had_fds = r >= 0 && mh.msg_controllen ? closer_drop_passed(cl, &mh) > 0 : 0;
	return r;
}

/* Was the previous close interrupted? Called from the loop. */
void closer_watch(struct closer *cl, uint64_t now)
{
	uint64_t b = atomic_load(&cl->busy_since);
	if (cl->running && b && now > b + CLOSER_KICK_NS) {
		pthread_kill(cl->thread, SIGUSR1);
		cl->kicks++;
	}
}

int closer_busy(struct closer *cl)
{
	return atomic_load(&cl->busy_since) != 0;
}

/* hoptrace status: "fd_passing_refused_by_kernel", "closer" */
void closer_status(struct closer *cl, cJSON *a)
{
	cJSON_AddBoolToObject(a, "fd_passing_refused_by_kernel", cl->passrights_off);
	cJSON *x = cJSON_AddObjectToObject(a, "closer");
	pthread_mutex_lock(&cl->mu);
	cJSON_AddNumberToObject(x, "queued", (double)cl->n);
	pthread_mutex_unlock(&cl->mu);
	cJSON_AddNumberToObject(x, "closed", (double)atomic_load(&cl->closed));
	cJSON_AddNumberToObject(x, "interrupted", (double)cl->kicks);
	cJSON_AddNumberToObject(x, "full", (double)cl->full);
	cJSON_AddNumberToObject(x, "leaked", (double)cl->leaked);
}
