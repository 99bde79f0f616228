/*
 * sockets.c — the collector's sockets: the names it serves, squatted names,
 * the doorbell, and accepting and closing connections.
 *
 * Names (include/hoptrace/record.h "Names nobody else can bind"): each socket
 * is served at its abstract name when that is free, and always at its path
 * under HT_RUN_DIR. A squatted abstract name is logged as an error, listed in
 * `hoptrace status` ("squatted") and tried again every second.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "daemon.h"

static socklen_t sun_set(struct sockaddr_un *sa, const char *name, int abstract)
{
	size_t n = strlen(name);
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n > sizeof(sa->sun_path) - 2)
		n = sizeof(sa->sun_path) - 2;
	memcpy(sa->sun_path + (abstract ? 1 : 0), name, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/* SOCK_SEQPACKET or SOCK_DGRAM bound at an abstract name or a path (mode) */
static int bind_sock(struct collector *c, int type, const char *name, int abstract, mode_t mode)
{
	struct sockaddr_un sa;
	socklen_t sl = sun_set(&sa, name, abstract);
	int one = 1;
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	closer_no_passrights(&c->closer, fd);
	if (!abstract)
		unlink(name); /* a stale socket of ours: nobody else can write here */
	if ((type == SOCK_SEQPACKET && setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&sa, sl) < 0 || (!abstract && chmod(name, mode) < 0) ||
	    (type == SOCK_SEQPACKET && listen(fd, 1024) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Who holds abstract name (a listening SEQPACKET socket tells its creds):
 * its uid, or -1 when it cannot be told. */
static long squat_who(const char *name, int type, char *out, size_t n)
{
	long uid = -1;
	snprintf(out, n, "another process");
	if (type != SOCK_SEQPACKET)
		return uid;
	struct sockaddr_un sa;
	socklen_t sl = sun_set(&sa, name, 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sl) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0) {
		snprintf(out, n, "pid %d uid %d", (int)cr.pid, (int)cr.uid);
		uid = (long)cr.uid;
	}
	if (fd >= 0)
		close(fd);
	return uid;
}

#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83 /* Linux 6.16+ (closer.c) */
#endif

/* The ring socket takes descriptors (a ring's memfd): passing is switched
 * back on there only; what is not a ring goes to the closer (ring.c). */
static void rights_on(struct collector *c, struct named *s, int fd)
{
	int one = 1;
	if (s == &c->socks.ring && fd >= 0 && c->closer.passrights_off &&
	    setsockopt(fd, SOL_SOCKET, SO_PASSRIGHTS, &one, sizeof(one)) < 0)
		log_warn("SO_PASSRIGHTS on the ring socket");
}

static void named_add(struct collector *c, struct named *s, int fd)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(s->tag, fd)};
	if (epoll_ctl(s->tag == TAG_REC_LISTEN ? c->rec.ep : c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		log_warn("epoll_ctl add fd %d", fd);
}

static int named_open(struct collector *c, struct named *s, const char *what, const char *name,
		      const char *suffix, int type, int tag, mode_t mode)
{
	struct sockets *k = &c->socks;
	memset(s, 0, sizeof(*s));
	s->squat_uid = -1;
	s->what = what;
	snprintf(s->name, sizeof(s->name), "%s%s", name, suffix);
	s->type = type;
	s->tag = tag;
	s->mode = mode;
	s->afd = bind_sock(c, type, s->name, 1, 0);
	if (s->afd < 0) {
		char who[64];
		s->squat_uid = squat_who(s->name, type, who, sizeof(who));
		if (k->nsquat < MAX_SQUAT) {
			snprintf(k->squat_msg[k->nsquat], sizeof(k->squat_msg[0]), "@%s (%s) held by %s",
				 s->name, what, who);
			s->squat = ++k->nsquat;
		}
		log_warnx("ERROR: the %s name @%s is SQUATTED (held by %s: %s): shims and the guard "
			  "use %s instead; retrying every second",
			  what, s->name, who, strerror(errno), k->rundir_ok ? "its path" : "(no path: " HT_RUN_DIR
			  " is not root's) nothing");
	} else {
		rights_on(c, s, s->afd);
		named_add(c, s, s->afd);
	}
	s->pfd = -1;
	if (s->squat_uid == 0)
		return -1; /* root serves it: another collector; its path is not ours to take */
	if (k->rundir_ok && ht_run_path(s->path, sizeof(s->path), name, suffix, k->netns_ino)) {
		s->pfd = bind_sock(c, type, s->path, 0, mode);
		if (s->pfd < 0) {
			log_warn("cannot bind %s", s->path);
		} else {
			rights_on(c, s, s->pfd);
			named_add(c, s, s->pfd);
		}
	}
	return s->afd >= 0 || s->pfd >= 0 ? 0 : -1;
}

/* the 1 s timer: take a squatted name back once it is free */
static void named_retry(struct collector *c, struct named *s)
{
	if (s->afd >= 0 || !s->squat)
		return;
	s->afd = bind_sock(c, s->type, s->name, 1, 0);
	if (s->afd < 0)
		return;
	rights_on(c, s, s->afd);
	named_add(c, s, s->afd);
	log_info("the %s name @%s is free again: serving it", s->what, s->name);
	snprintf(c->socks.squat_msg[s->squat - 1], sizeof(c->socks.squat_msg[0]),
		 "@%s (%s) was squatted, reclaimed", s->name, s->what);
}

/* HT_RUN_DIR: root's, 0755, nobody else can write in it */
static void rundir_setup(struct sockets *k)
{
	struct stat sb;
	if (mkdir(HT_RUN_DIR, 0755) < 0 && errno != EEXIST)
		log_warn("mkdir %s", HT_RUN_DIR);
	if (lstat(HT_RUN_DIR, &sb) != 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != 0) {
		log_warnx("ERROR: %s is not a directory owned by root: no path sockets (a squatted "
			  "name then cuts the shims off)", HT_RUN_DIR);
		return;
	}
	if ((sb.st_mode & 07777) != 0755 && chmod(HT_RUN_DIR, 0755) < 0) {
		log_warn("chmod %s", HT_RUN_DIR);
		return;
	}
	struct stat nb;
	if (stat("/proc/self/ns/net", &nb) != 0) {
		log_warn("stat /proc/self/ns/net");
		return;
	}
	k->netns_ino = (uint64_t)nb.st_ino;
	k->rundir_ok = 1;
}

void sockets_open(struct collector *c)
{
	struct sockets *k = &c->socks;
	const struct conf *cf = &c->cf;
	k->bell_paused[0] = k->bell_paused[1] = -1;
	rundir_setup(k);
	if (named_open(c, &k->rec, "record socket", cf->rec_socket, "", SOCK_SEQPACKET, TAG_REC_LISTEN,
		       0666) < 0) {
		if (k->rec.squat_uid == 0)
			fatalx("@%s is served by root already: another collector in this network namespace?",
			       cf->rec_socket);
		fatal("cannot listen on @%s nor at its path", cf->rec_socket);
	}
	if (named_open(c, &k->query, "query socket", cf->query_socket, "", SOCK_SEQPACKET, TAG_Q_LISTEN,
		       0600) < 0)
		fatal("cannot listen on @%s nor at its path", cf->query_socket);
	if (named_open(c, &k->bell, "doorbell", cf->rec_socket, HT_REC_BELL_SUFFIX, SOCK_DGRAM, TAG_BELL,
		       0666) < 0)
		log_warn("no doorbell for @%s: records of a connect wait for the next batch", cf->rec_socket);
	if (named_open(c, &k->ring, "ring socket", cf->rec_socket, HT_REC_RING_SUFFIX, SOCK_SEQPACKET,
		       TAG_REC_LISTEN, 0666) < 0)
		log_warn("no ring socket for @%s: shims use the record socket", cf->rec_socket);
}

void sockets_retry(struct collector *c)
{
	named_retry(c, &c->socks.rec);
	named_retry(c, &c->socks.query);
	named_retry(c, &c->socks.bell);
	named_retry(c, &c->socks.ring);
}

void sockets_unlink(struct collector *c)
{
	struct named *nm[4] = {&c->socks.rec, &c->socks.query, &c->socks.bell, &c->socks.ring};
	for (int i = 0; i < 4; i++)
		if (nm[i]->pfd >= 0)
			unlink(nm[i]->path);
}

/* hoptrace status: "squatted", "record_sockets" */
void sockets_status(struct collector *c, cJSON *a)
{
	struct sockets *k = &c->socks;
	cJSON *x = cJSON_AddArrayToObject(a, "squatted");
	for (int i = 0; i < k->nsquat; i++)
		cJSON_AddItemToArray(x, cJSON_CreateString(k->squat_msg[i]));
	x = cJSON_AddArrayToObject(a, "record_sockets");
	char b[128];
	if (k->rec.afd >= 0) {
		snprintf(b, sizeof(b), "@%s", k->rec.name);
		cJSON_AddItemToArray(x, cJSON_CreateString(b));
	}
	if (k->rec.pfd >= 0)
		cJSON_AddItemToArray(x, cJSON_CreateString(k->rec.path));
	if (k->ring.afd >= 0) {
		snprintf(b, sizeof(b), "@%s", k->ring.name);
		cJSON_AddItemToArray(x, cJSON_CreateString(b));
	}
	if (k->ring.pfd >= 0)
		cJSON_AddItemToArray(x, cJSON_CreateString(k->ring.path));
}

/* ---- the doorbell ------------------------------------------------------------ */

/* empties the doorbell (bounded: a process ringing in a loop cannot keep us
 * here); while the closer has no room, a doorbell is not watched */
void bell_drain(struct collector *c, int fd)
{
	int *paused = c->socks.bell_paused;
	char b[16];
	int had;
	for (int i = 0; i < 512; i++) {
		if (!closer_fd_room(&c->closer)) {
			struct epoll_event ev = {.events = 0, .data.u64 = TAG(TAG_BELL, fd)};
			epoll_ctl(c->ep, EPOLL_CTL_MOD, fd, &ev);
			paused[paused[0] >= 0] = fd;
			return;
		}
		if (closer_recv(&c->closer, fd, b, sizeof(b), MSG_DONTWAIT, &had) < 0)
			return;
		c->stats.fd_passing += had > 0;
	}
}

void bell_resume(struct collector *c)
{
	int *paused = c->socks.bell_paused;
	for (int i = 0; i < 2; i++)
		if (paused[i] >= 0 && closer_fd_room(&c->closer)) {
			struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_BELL, paused[i])};
			epoll_ctl(c->ep, EPOLL_CTL_MOD, paused[i], &ev);
			paused[i] = -1;
		}
}

/* ---- connections ------------------------------------------------------------- */

void ep_add(struct collector *c, int fd, uint32_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(tag, fd)};
	if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		log_warn("epoll_ctl add fd %d", fd);
}

/* A new connection's peer may keep it: 0, or -1 when it was closed. */
static int accept_peer(struct collector *c, int fd, uint32_t tag, const struct ucred *cr)
{
	if (tag == TAG_Q_CONN) {
		if (cr->uid != 0 && cr->uid != geteuid()) {
			c->stats.query_refused++;
			closer_close(&c->closer, fd); /* its queue may hold passed descriptors */
			return -1;
		}
		int sz = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
		return 0;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (rconn_add(c, fd, cr) != 0) {
		closer_close(&c->closer, fd);
		return -1;
	}
	c->stats.conns++;
	return 0;
}

/* accepts what is queued (bounded: a connect loop cannot keep us here) */
void accept_all(struct collector *c, int lfd, uint32_t tag)
{
	for (int budget = 64; budget > 0; budget--) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t l = sizeof(cr);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l) < 0) {
			closer_close(&c->closer, fd);
			continue;
		}
		if (accept_peer(c, fd, tag, &cr) != 0)
			continue;
		/* our own end of a shim's or a query's connection: never part of
		 * anybody's chain (its peer is the process's record socket) */
		struct stat sb;
		if (fstat(fd, &sb) == 0)
			graph_mark_internal(c->graph, (uint64_t)sb.st_ino, 1);
		if (tag == TAG_Q_CONN)
			ep_add(c, fd, tag);
	}
}

void close_conn(struct collector *c, int fd)
{
	push_unsubscribe(c, fd);
	struct stat sb;
	if (fstat(fd, &sb) == 0)
		graph_mark_internal(c->graph, (uint64_t)sb.st_ino, 0);
	/* from whichever set holds it: a query connection may live on in a
	 * dup() held by the inquiry follower, and epoll forgets a registration
	 * only when every fd of the file is closed (a record connection is in
	 * its uid's set only: accept_all) */
	if (!rconn_del(c, fd))
		epoll_ctl(c->ep, EPOLL_CTL_DEL, fd, NULL);
	closer_close(&c->closer, fd);
}
