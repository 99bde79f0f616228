/*
 * attack_ring_setuid.c — the real collector/ring.c ring_register_msg
 * (and common/ring.c's reader) against a ring kept by a helper across a
 * setuid-root exec of its registrant.
 *
 * collector/ring.c promises (and docs/research/transport.md "What was built"
 * says): a re-registration of the same pid reads the old ring first "unless
 * the process is somebody else now (an exec of a setuid image): a helper that
 * kept the old memfd must not write as it". The check is
 * `g->v[old]->uid == cr->uid`, cr being the datagram's SCM_CREDENTIALS — the
 * kernel fills those with the sender's REAL uid (current_uid()), which a
 * setuid exec does not change. So the helper's records, written into the old
 * ring after the exec, are read as the setuid image's pid (and until the new
 * image registers, every drain round reads them as that pid anyway).
 *
 * Run as root (it makes a setuid-root copy of itself under a 0700 dir):
 *   prints FAIL-CASE and exits 1 while the helper's record is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "hoptrace/ring.h"

#define NAME "\0hoptrace-review-ring-setuid"
static const char MARK[] = "written-by-the-helper-after-exec";

/* ---- stubs: read_ring (records.c) records what it would apply ---- */
static int g_read_helper_rec, g_read_calls;
static pid_t g_read_pid;
static uid_t g_read_uid;
int read_ring(struct collector *c, struct cring *r, uint64_t now, int max, int *more)
{
	uint8_t buf[HT_RING_MAXN * HT_RING_DATA];
	int n = 0, len;
	*more = 0;
	g_read_calls++;
	while (n < max && (len = ht_ring_next(&r->rd, buf, sizeof(buf), now)) != 0) {
		n++;
		if (len == (int)sizeof(MARK) && memcmp(buf, MARK, sizeof(MARK)) == 0) {
			g_read_helper_rec++;
			g_read_pid = r->pid;
			g_read_uid = r->uid;
		}
	}
	return n;
}

static void *make_ring(int *fdp)
{
	int fd = (int)syscall(SYS_memfd_create, "hoptrace", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, HT_RING_SIZE) != 0)
		return NULL;
	void *p = mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	ht_ring_init(p);
	if (fcntl(fd, F_ADD_SEALS, HT_RING_SEALS_SHIM) != 0)
		return NULL;
	*fdp = fd;
	return p;
}

static int reg(int mfd)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, NAME, sizeof(NAME) - 1);
	int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + sizeof(NAME) - 1) != 0)
		return -1;
	char rec[] = "first";
	struct iovec iov = {rec, sizeof(rec)};
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} cb;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &mfd, sizeof(int));
	int r = sendmsg(s, &mh, 0) > 0 ? 0 : -1;
	char x;
	read(s, &x, 1); /* the collector side closes when done */
	close(s);
	return r;
}

/* the setuid-root image: registers its own new ring, as the shim would */
static int image(void)
{
	usleep(300000); /* the helper writes meanwhile */
	int fd;
	if (!make_ring(&fd) || reg(fd) != 0)
		return 2;
	return 0;
}

/* the attacker (nobody): registers a ring, leaves a helper holding it, execs setuid root */
static int attacker(const char *suid)
{
	int fd;
	void *p = make_ring(&fd);
	if (!p || reg(fd) != 0)
		return 2;
	pid_t pid = getpid();
	if (fork() == 0) { /* the helper: keeps the mapping (MAP_SHARED, no DONTFORK) */
		/* the parent execs at once; its setuid image registers 300 ms in
		 * (/proc/PID/exe of a setuid image is not ours to read) */
		(void)pid;
		usleep(100000);
		uint32_t fill;
		ht_ring_put(p, MARK, sizeof(MARK), &fill);
		_exit(0);
	}
	close(fd);
	execl(suid, suid, "image", (char *)NULL);
	return 2;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "image") == 0)
		return image();
	if (argc > 2 && strcmp(argv[1], "attacker") == 0)
		return attacker(argv[2]);
	if (argc < 2) {
		fprintf(stderr, "usage: %s SETUID_COPY\n", argv[0]);
		return 2;
	}
	static struct collector c;
	c.rec.ep = epoll_create1(EPOLL_CLOEXEC);
	c.cf.max_conns_uid = 4096;
	c.cf.rate_conn = 1000;
	c.rec.nuids = 0;

	struct sockaddr_un a = {.sun_family = AF_UNIX};
	memcpy(a.sun_path, NAME, sizeof(NAME) - 1);
	int l = socket(AF_UNIX, SOCK_SEQPACKET, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, offsetof(struct sockaddr_un, sun_path) + sizeof(NAME) - 1) != 0 ||
	    listen(l, 4) != 0) {
		perror("listen");
		return 2;
	}
	pid_t kid = fork();
	if (kid == 0) {
		if (setresgid(65534, 65534, 65534) || setgroups(0, NULL) || setresuid(65534, 65534, 65534))
			_exit(2);
		execl("/proc/self/exe", argv[0], "attacker", argv[1], (char *)NULL);
		_exit(2);
	}
	int regs = 0;
	for (int k = 0; k < 2; k++) {
		int s = accept(l, NULL, NULL);
		if (s < 0)
			break;
		struct ucred pc;
		socklen_t pl = sizeof(pc);
		getsockopt(s, SOL_SOCKET, SO_PEERCRED, &pc, &pl);
		/* rconn_add: its uid slot by SO_PEERCRED */
		int ui = -1;
		for (int i = 0; i < c.rec.nuids; i++)
			if (c.rec.uids[i].uid == pc.uid)
				ui = i;
		if (ui < 0) {
			ui = c.rec.nuids++;
			c.rec.uids[ui].uid = pc.uid;
		}
		struct rconn rc = {.u = ui + 1, .pid = pc.pid};
		char buf[700];
		union {
			char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr a;
		} cb;
		struct iovec iov = {buf, sizeof(buf)};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b, .msg_controllen = sizeof(cb.b)};
		if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) <= 0)
			break;
		struct ucred cr = {0, (uid_t)-1, (gid_t)-1};
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cr, CMSG_DATA(cm), sizeof(cr));
		printf("registration %d: pid %d, SO_PEERCRED uid %u, SCM_CREDENTIALS uid %u\n", k + 1,
		       (int)cr.pid, (unsigned)pc.uid, (unsigned)cr.uid);
		regs += ring_register_msg(&c, s, &rc, &mh, &cr, NULL);
		close(s);
	}
	int st;
	waitpid(kid, &st, 0);
	printf("registered %d, replaced %llu, old ring read %d time(s), helper's record read %d time(s) as pid %d uid %u\n",
	       regs, (unsigned long long)c.rec.rings.replaced, g_read_calls, g_read_helper_rec,
	       (int)g_read_pid, (unsigned)g_read_uid);
	if (regs == 2 && g_read_helper_rec) {
		printf("FAIL-CASE: after a setuid-root exec, a record its nobody helper wrote into the old ring was "
		       "read as the setuid image (pid %d): ring.c's uid check compares real uids\n",
		       (int)g_read_pid);
		return 1;
	}
	printf("ok: the setuid exec dropped the old ring\n");
	return 0;
}
