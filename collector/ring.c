/*
 * ring.c — per-process record rings (include/hoptrace/ring.h,
 * docs/research/transport.md): registration, reading them in the drain
 * rounds, and forgetting them when their process exits.
 *
 * A shim registers its ring once per process image (and once per fork
 * child): one datagram on a connection to the ring socket (the record
 * socket's name + HT_REC_RING_SUFFIX, the only one of ours with descriptor
 * passing on) that carries the process's first record and its memfd. The
 * registrant is who the kernel says: the datagram's SCM_CREDENTIALS pid must
 * be the connection's maker (SO_PEERCRED, at connect), and its pidfd
 * (SO_PEERPIDFD) watches its exit. The descriptor must pass
 * ht_ring_check_fd (a sealed memfd of the ring's size: no SIGBUS, no file
 * system call that could block) or it goes to the closer like any passed
 * descriptor. Bounds: max_conns_uid rings per non-root uid, MAX_RINGS in
 * all; a new registration of the same pid (an exec, a shim that found us
 * gone) replaces its ring after reading what is left in the old one.
 *
 * Rings do not wake the loop: it reads them every RING_POLL_NS when idle,
 * every record_batch while records come, before every answer, and at once
 * when a shim rings the doorbell (after a CONNECT to another host, or when
 * its ring is half full).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hoptrace/log.h"
#include "daemon.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#define MAX_RINGS 16384
#define READ_FACTOR_RING 2 /* as records.c READ_FACTOR */

static void ring_free(struct collector *c, int i)
{
	struct rings *g = &c->rec.rings;
	struct cring *r = g->v[i];
	if (r->pidfd >= 0) {
		if (!r->dead) /* (ring_exited took it out of the set) */
			epoll_ctl(c->rec.ep, EPOLL_CTL_DEL, r->pidfd, NULL);
		close(r->pidfd);
	}
	if (r->rc.u)
		c->rec.uids[r->rc.u - 1].nring--;
	if (g->nunmap == RINGS_UNMAP_MAX)
		rings_unmap_flush(c);
	g->unmap[g->nunmap++] = r->rd.base; /* (nothing reads it any more) */
	free(r);
	g->v[i] = g->v[--g->n];
	g->ended++;
}

static int addr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
	return (x > y) - (x < y);
}

/* Unmaps the forgotten rings: the kernel places successive mappings next to
 * each other, so the rings of a round's exits are mostly one range */
void rings_unmap_flush(struct collector *c)
{
	struct rings *g = &c->rec.rings;
	if (!g->nunmap)
		return;
	qsort(g->unmap, (size_t)g->nunmap, sizeof(g->unmap[0]), addr_cmp);
	for (int i = 0; i < g->nunmap;) {
		int j = i + 1;
		while (j < g->nunmap &&
		       (char *)g->unmap[j] == (char *)g->unmap[j - 1] + HT_RING_SIZE)
			j++;
		munmap(g->unmap[i], (size_t)(j - i) * HT_RING_SIZE);
		i = j;
	}
	g->nunmap = 0;
}

/* The pidfs inode number of a pidfd (Linux 6.9+, 64-bit: that of the struct
 * pid, as the fork event names it), 0 where pidfds are not pidfs files
 * (anon inodes: one inode for all; checked once) */
static uint64_t pidfs_ino(int pidfd)
{
	static int pidfs = -1;
	struct stat sb;
	if (pidfs < 0) {
		struct statfs sf;
		pidfs = sizeof(sb.st_ino) == 8 && fstatfs(pidfd, &sf) == 0 &&
			(unsigned long)sf.f_type == 0x50494446UL; /* PID_FS_MAGIC */
	}
	if (!pidfs || fstat(pidfd, &sb) != 0)
		return 0;
	return (uint64_t)sb.st_ino;
}

/* Has the process of pidfd not exited (its pidfd not readable)? Then no other
 * process has its pid: a record its ring or connection holds, read before
 * this, was sent while the pid was its own — the attestation holds for it. */
int ring_pid_alive(int pidfd)
{
	struct pollfd pf = {.fd = pidfd, .events = POLLIN};
	return pidfd >= 0 && poll(&pf, 1, 0) == 0;
}

static int ring_find_pid(struct rings *g, pid_t pid)
{
	for (int i = 0; i < g->n; i++)
		if (g->v[i]->pid == pid)
			return i;
	return -1;
}

/* the one descriptor of a datagram, or -1 (none, or more than one) */
static int single_fd(struct msghdr *mh)
{
	int fd = -1, k = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		k += (int)n;
		if (n == 1)
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	}
	return k == 1 ? fd : -1;
}

int ring_register_msg(struct collector *c, int connfd, const struct rconn *rc, struct msghdr *mh,
		      const struct ucred *cr, uint64_t *pid_ino_out)
{
	struct rings *g = &c->rec.rings;
	int fd = single_fd(mh);
	const char *why = NULL;
	if (fd < 0 || !cr || cr->pid <= 0 || cr->pid != rc->pid)
		return 0; /* not from the connection's maker: not a registration */
	if (ht_ring_check_fd(fd, &why) != 0) {
		log_debug("ring from pid %d refused: %s", (int)cr->pid, why);
		g->refused++;
		return 0; /* the closer closes it */
	}
	struct ruid *u = &c->rec.uids[rc->u - 1];
	/* whose it is: the connection's SO_PEERCRED uid (the effective uid
	 * at connect), never SCM_CREDENTIALS' (the real uid, which a setuid
	 * exec leaves as it was: the old ring of a nobody process that exec'd
	 * a setuid image would pass for the new image's) */
	uid_t peer_uid = u->uid;
	int old = ring_find_pid(g, cr->pid);
	if (old < 0 && (g->n >= MAX_RINGS ||
			(peer_uid != 0 && (unsigned long long)u->nring >= c->cf.max_conns_uid))) {
		g->refused++;
		close(fd); /* a checked memfd: closing it cannot block */
		return 1;
	}
	int pidfd = -1;
	socklen_t pl = sizeof(pidfd);
	if (getsockopt(connfd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &pl) != 0 || pidfd < 0)
		/* before Linux 6.5: the pid the kernel just named (a pid reused
		 * since would be watched instead: its records are still this
		 * registrant's claims, as a socket's would be) */
		pidfd = (int)syscall(SYS_pidfd_open, cr->pid, 0);
	if (pidfd < 0) {
		g->refused++;
		close(fd);
		return 1;
	}
	uint64_t pid_ino = pidfs_ino(pidfd);
	void *base = ht_ring_map(fd);
	close(fd);
	struct cring *r = base ? calloc(1, sizeof(*r)) : NULL;
	if (!r) {
		ht_ring_unmap(base);
		close(pidfd);
		g->refused++;
		return 1;
	}
	if (old >= 0) { /* its old ring first (an exec: the EXEC record is there) */
		int more;
		/* unless the process is somebody else now (an exec of a setuid
		 * image): a helper that kept the old memfd must not write as it */
		if (g->v[old]->uid == peer_uid)
			read_ring(c, g->v[old], now_ns(), HT_RING_SLOTS, &more);
		ring_free(c, old);
		g->replaced++;
	}
	if (g->n == g->cap) {
		int nc = g->cap ? g->cap * 2 : 256;
		struct cring **v = realloc(g->v, sizeof(*v) * (size_t)nc);
		if (!v) {
			ht_ring_unmap(base);
			close(pidfd);
			free(r);
			g->refused++;
			return 1;
		}
		g->v = v;
		g->cap = nc;
	}
	r->pid = cr->pid;
	r->uid = peer_uid;
	r->pidfd = pidfd;
	r->pid_ino = pid_ino;
	ht_ring_reader_init(&r->rd, base);
	uint64_t now = now_ns();
	r->rc = *rc;
	r->rc.parked = 0;
	r->rc.drop_pid = 0;
	r->rc.apply = (struct bucket){(double)c->cf.rate_conn, now};
	r->rc.read = (struct bucket){(double)(c->cf.rate_conn * READ_FACTOR_RING), now};
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = TAG(TAG_RING, pidfd)};
	if (epoll_ctl(c->rec.ep, EPOLL_CTL_ADD, pidfd, &ev) < 0) {
		ht_ring_unmap(base);
		close(pidfd);
		free(r);
		g->refused++;
		return 1;
	}
	u->nring++;
	atomic_store_explicit(&ht_ring_hdr(base)->beat, ++g->beat ? g->beat : ++g->beat,
			      memory_order_relaxed);
	g->v[g->n++] = r;
	if (pid_ino_out && ring_pid_alive(pidfd))
		*pid_ino_out = pid_ino; /* (the datagram's record: the registrant's,
					 * sent while the pid was its own) */
	g->registered++;
	return 1;
}

void ring_exited(struct collector *c, int pidfd)
{
	struct rings *g = &c->rec.rings;
	for (int i = 0; i < g->n; i++)
		if (g->v[i]->pidfd == pidfd) {
			epoll_ctl(c->rec.ep, EPOLL_CTL_DEL, pidfd, NULL);
			g->v[i]->dead = 1; /* read once more in this round, then freed */
			return;
		}
	epoll_ctl(c->rec.ep, EPOLL_CTL_DEL, pidfd, NULL);
}

/* One round's share of every ring. A non-root uid's rings are read within
 * its graph time (records.c CPU_RATE_NS, the bucket its records' applying
 * is charged to): the time a round spends in its rings — copying slots out,
 * the touch of an idle ring's next slot and `wake`, a page fault — is
 * charged to it, and once it is spent read_ring reads none of its rings
 * until it is back (the uid is parked). A round starts at the first ring the
 * last one left unread for that reason, so a uid's rings past its budget
 * are not starved by the ones before them, and no uid's rings make a round
 * longer than its budget for the others. */
int rings_drain(struct collector *c, uint64_t now, int light, int *busy)
{
	struct rings *g = &c->rec.rings;
	struct records *rs = &c->rec;
	int got = 0, n = g->n, cut = -1, dead = 0;
	uint64_t t = 0; /* the clock at the end of the last ring read, 0: not read */
	if (g->start >= n)
		g->start = 0;
	for (int k = 0; k < n; k++) {
		int i = (g->start + k) % n;
		struct cring *r = g->v[i];
		struct ruid *u = &rs->uids[r->rc.u - 1];
		int root = u->uid == 0;
		if (r->rc.parked && now < r->rc.park_until && !r->dead) {
			if (!rs->unpark_at || r->rc.park_until < rs->unpark_at)
				rs->unpark_at = r->rc.park_until;
			t = 0;
			continue;
		}
		r->rc.parked = 0;
		if (!r->dead && ((light && !root && (u->parked || u->cpu.tok <= 0)) ||
				 (u->parked && now < u->park_until))) {
			*busy |= light;
			if (cut < 0 && !root)
				cut = i;
			t = 0;
			continue;
		}
		int more = 0;
		uint64_t t0 = t ? t : now_ns();
		r->applied_ns = 0;
		got += read_ring(c, r, now, r->dead ? (int)HT_RING_SLOTS : 256, &more);
		struct ht_ring_hdr *h = ht_ring_hdr(r->rd.base);
		if (atomic_load_explicit(&h->wake, memory_order_relaxed))
			atomic_store_explicit(&h->wake, 0, memory_order_relaxed);
		t = now_ns();
		if (!root) { /* the applying read_ring did (PEND_MAX) is charged there */
			double dt = (double)(t - t0) - (double)r->applied_ns;
			if (dt > 0)
				u->cpu.tok -= dt;
			if (cut < 0 && u->parked && !r->dead)
				cut = i; /* its budget ran out in this ring */
		}
		if (r->dead) {
			g->bad += r->rd.bad;
			g->stuck += r->rd.stuck;
			r->dead = 2; /* read: forgotten after the round */
			dead = 1;
			continue;
		}
		*busy |= more;
	}
	g->start = cut >= 0 ? cut : 0;
	for (int i = g->n - 1; dead && i >= 0; i--) /* from the end: ring_free moves the last */
		if (g->v[i]->dead == 2)
			ring_free(c, i);
	return got;
}

void rings_tick(struct collector *c)
{
	struct rings *g = &c->rec.rings;
	if (!++g->beat)
		g->beat = 1;
	for (int i = 0; i < g->n; i++)
		atomic_store_explicit(&ht_ring_hdr(g->v[i]->rd.base)->beat, g->beat, memory_order_relaxed);
}

/* hoptrace status: "rings" */
void rings_status(struct collector *c, cJSON *a)
{
	struct rings *g = &c->rec.rings;
	uint64_t bad = g->bad, stuck = g->stuck;
	for (int i = 0; i < g->n; i++) {
		bad += g->v[i]->rd.bad;
		stuck += g->v[i]->rd.stuck;
	}
	cJSON *x = cJSON_AddObjectToObject(a, "rings");
	cJSON_AddNumberToObject(x, "registered_now", g->n);
	cJSON_AddNumberToObject(x, "registered", (double)g->registered);
	cJSON_AddNumberToObject(x, "refused", (double)g->refused);
	cJSON_AddNumberToObject(x, "replaced", (double)g->replaced);
	cJSON_AddNumberToObject(x, "ended", (double)g->ended);
	cJSON_AddNumberToObject(x, "malformed_slots", (double)bad);
	cJSON_AddNumberToObject(x, "stuck_slots", (double)stuck);
}
