// SPDX-License-Identifier: GPL-2.0
/*
 * kev.bpf.c — hoptraced's kernel event programs (collector/kev.c loads them;
 * docs/collector.md "Kernel events"). CO-RE: compiled once against the
 * build machine's vmlinux.h, relocated by libbpf on the kernel it loads on.
 *
 * Raw tracepoints, and the two accept syscalls' tracepoints: neither needs
 * kprobes, fentry or LSM programs, which many kernels lack; raw tracepoints
 * need no tracefs either (hosts made with `ip netns exec` have none: kev.c
 * mounts a private one to read the two syscall tracepoints' ids). Each collector loads its own copy; target_netns (set before
 * load) keeps only the events of its network namespace: a process's by its
 * task's netns, a TCP state change's by its socket's.
 *
 *   sched_process_fork   a new process (threads skipped): creator, child; after
 *                        it, the pipes, FIFOs and unix sockets the child got
 *                        from its creator (the creator held them then)
 *   sched_process_exec   the image: device, inode, path
 *   sched_process_exit   the last thread of a process; before it, the pipes,
 *                        FIFOs and unix sockets it still held (its fd table
 *                        is still there: exit_files() comes after)
 *   inet_sock_set_state  TCP SYN_SENT (connect), ESTABLISHED, CLOSE, and every
 *                        change in its owner's close() (the file's release:
 *                        FIN_WAIT1, LAST_ACK, ...; not a shutdown()'s)
 *   syscalls/sys_exit_accept, sys_exit_accept4 (tracepoints, by id)
 *                        accept/accept4 that returned a descriptor
 *
 * Each uid's own events are rationed (uid_take): one over its ration, or one
 * of a uid's that finds the ring full, is counted in that uid's `uid_lost`;
 * root's and no one's that find it full in `lost` (per CPU). The
 * consumer is woken when an event takes the ring over a quarter or the next
 * eighth (submit, wake_flag); it also reads on its own timer and before
 * every answer.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>

#include "kev_event.h"

#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFIFO 0010000
#define PIPEFS_MAGIC 0x50495045
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_netns = 0; /* the collector's netns inode */
/* the collector's own process (set by kev_self after daemon(): writable
 * .bss): its own receives — each ring registration's memfd — are no chain's
 * (graph_kev.c own_pid drops them) and their fd-table walks were ~7% of its
 * CPU per spawned process, charged to root's ration */
__u32 self_tgid = 0;
/* any loss at all (uid_lose, full): what kev_caught_up asks after every
 * drain, read from the mapped .bss (the three maps' lookups were three
 * system calls a round) */
__u64 any_loss = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 1024); /* set by the loader: [collector] kernel_events_ring_kb */
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Every event a task makes of its own — a fork, an exec, an exit, the fd
 * tables written with them, a receive's fd table, a socket use, its own
 * socket's state change, an accept — is rationed per uid (the task's real
 * uid; a socket's sk_uid when its owner's task makes the change): a token
 * bucket of bytes of the ring, a quarter of the ring at most (UID_BURST_DIV),
 * refilled at one byte per UID_NS_PER_BYTE ns (~1 MB/s: ~2,000 spawns a
 * second, each a fork, an exec and an exit). An event over it is not written
 * and uid_lost[uid] counts it, as does a uid's event that finds the ring full:
 * the collector then takes only that uid's processes as unattested (their
 * walks fail closed, kev.c kev_uid_lost), and one user's flood cannot fill
 * the ring and make everyone's events lost. A change a local peer's packet
 * makes to another uid's socket (a connect to its listener from any of this
 * host's addresses: peer_local) is the peer's (kev_tcp). Not rationed: root's, and a remote peer's change to a
 * socket (its SYN, its RST: no local uid caused it). A record of those
 * that finds the ring full is everyone's loss (`lost`, root's or no one's to
 * charge); ring_full counts every record that found the ring full. The
 * bucket is not atomic across CPUs: two CPUs may each take the last bytes
 * (over by an event or two). */
#define UID_BURST_DIV 4
#define UID_NS_PER_BYTE 1024ULL
struct ubucket {
	__u64 ts;      /* when tokens was last refilled */
	__u64 tokens;  /* bytes */
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* uid */
	__type(value, struct ubucket);
} uid_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);   /* uid */
	__type(value, __u64); /* its events not written: over budget or no room */
} uid_lost SEC(".maps");

/* every uid_lost count's sum (the collector looks at uid_lost when it
 * changes; one it finds no uid for — evicted — is everyone's loss) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} uid_lost_sum SEC(".maps");

/* records that found the ring full, charged to a uid or not */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} ring_full SEC(".maps");

static __always_inline void uid_lose(__u32 uid)
{
	__sync_fetch_and_add(&any_loss, 1);
	__u64 *n = bpf_map_lookup_elem(&uid_lost, &uid);
	if (n) {
		__sync_fetch_and_add(n, 1);
	} else {
		__u64 one = 1;
		if (bpf_map_update_elem(&uid_lost, &uid, &one, BPF_NOEXIST) &&
		    (n = bpf_map_lookup_elem(&uid_lost, &uid)))
			__sync_fetch_and_add(n, 1); /* (another CPU made it) */
	}
	__u32 k = 0;
	__u64 *s = bpf_map_lookup_elem(&uid_lost_sum, &k);
	if (s)
		__sync_fetch_and_add(s, 1);
}

/* 1: uid may write one more event of sz bytes of the ring (taken); 0: over
 * its ration, counted in uid_lost. Root's are not rationed. */
static __always_inline int uid_take(__u32 uid, __u64 sz)
{
	if (uid == 0)
		return 1;
	__u64 now = bpf_ktime_get_ns();
	__u64 burst = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / UID_BURST_DIV;
	struct ubucket *b = bpf_map_lookup_elem(&uid_budget, &uid);
	if (!b) {
		struct ubucket nb = {.ts = now, .tokens = burst > sz ? burst - sz : 0};
		bpf_map_update_elem(&uid_budget, &uid, &nb, BPF_ANY);
		return 1;
	}
	if (now > b->ts) {
		__u64 add = (now - b->ts) / UID_NS_PER_BYTE;
		if (add) {
			__u64 t = b->tokens + add;
			b->tokens = t > burst ? burst : t;
			b->ts += add * UID_NS_PER_BYTE;
			if (b->tokens == burst)
				b->ts = now;
		}
	}
	if (b->tokens >= sz) {
		b->tokens -= sz;
		return 1;
	}
	uid_lose(uid);
	return 0;
}

/* a record of uid's (-1: no one's) found the ring full: its loss, or
 * everyone's (lost) when root's or no one's */
static __always_inline void full(__u32 uid)
{
	__sync_fetch_and_add(&any_loss, 1);
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&ring_full, &k);
	if (n)
		(*n)++;
	if (uid != 0 && uid != (__u32)-1) {
		uid_lose(uid);
		return;
	}
	n = bpf_map_lookup_elem(&lost, &k);
	if (n)
		(*n)++;
}

/* the ring's bytes for a record of size bytes (its 8-byte header, rounded) */
#define RB_SZ(size) ((((__u64)(size) + 7) & ~7ULL) + 8)

static __always_inline __u32 task_uid(struct task_struct *t)
{
	return BPF_CORE_READ(t, real_cred, uid.val);
}

/* an ending process's descriptors, built here before they go in the ring */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kev_fds);
} fds_scratch SEC(".maps");

/* unix sockets a receive on reads for: descriptors in flight to it
 * (sk_data_ready saw them queued: fds), or it is the not yet accepted peer
 * of a socket whose holder ended (the exit's fds record: peer_ino) */
struct umark {
	__u64 peer_ino;
	__u64 peer_sk;  /* that peer's struct sock: the receiver's unix_peer must be it
			 * (a mark left on a freed socket whose address a new one
			 * took names nothing) */
	__u32 fds;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);   /* the receiving struct sock */
	__type(value, struct umark);
} unix_mark SEC(".maps");

static __always_inline int netns_ours_task(struct task_struct *t)
{
	struct nsproxy *ns = BPF_CORE_READ(t, nsproxy);
	if (!ns)
		return 0;
	return BPF_CORE_READ(ns, net_ns, ns.inum) == target_netns;
}

static __always_inline int netns_ours_sock(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) == target_netns;
}

/* room for a record of size bytes of uid's (-1: no one's); rationed: uid's
 * own task makes it (uid_take). NULL: not written, counted. */
static __always_inline void *reserve(__u64 size, __u32 uid, int rationed)
{
	if (rationed && !uid_take(uid, RB_SZ(size)))
		return 0;
	void *p = bpf_ringbuf_reserve(&events, size, 0);
	if (!p)
		full(uid);
	return p;
}

/* Wake the consumer once a quarter of the ring waits — when this event takes
 * the waiting data over a quarter, or over the next eighth above it, not for
 * every event while it stays above: a consumer that is behind has been woken
 * already, and each wake-up is an irq_work, a self-IPI (an APIC write: a VM
 * exit on a virtual machine). Waking for every event above a quarter cost a
 * loopback connect+accept ~5 µs without the shim and ~15 µs with it on this
 * 2-core VM (the collector busy with the records: make bench, "shim"). A
 * crossing two CPUs race past is the next eighth's; the collector also reads
 * the ring every second and before every round of records. sz: the bytes
 * this event took (its reservation, with the ring's 8-byte header). */
static __always_inline __u64 wake_flag(__u64 avail, __u64 size, __u64 sz)
{
	__u64 step = size / 8, before = avail > sz ? avail - sz : 0;
	int wake = step && avail >= size / 4 && (before < size / 4 || before / step != avail / step);
	return wake ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* avail counts a reserved event already */
static __always_inline void submit(void *p, __u64 sz)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	bpf_ringbuf_submit(p, wake_flag(avail, size, sz));
}

static __always_inline void hdr(struct kev_hdr *h, __u32 type, __u32 tgid)
{
	h->type = type;
	h->tgid = tgid;
	h->t_ns = bpf_ktime_get_ns();
}

static __always_inline void task_fds(struct task_struct *t, __u32 tgid, __u32 why);

SEC("raw_tracepoint/sched_process_fork")
int kev_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx->args[0];
	struct task_struct *child = (struct task_struct *)ctx->args[1];
	__u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid || !netns_ours_task(child))
		return 0; /* a thread, or another host's */
	__u32 uid = task_uid(child); /* (its creator's: copied before) */
	struct kev_fork *e = reserve(sizeof(*e), uid, 1);
	if (!e) {
		task_fds(child, tgid, KEV_FDS_FORK); /* (rationed too: it may fit) */
		return 0;
	}
	hdr(&e->h, KEV_FORK, tgid);
	e->ptgid = BPF_CORE_READ(parent, tgid);
	e->uid = uid;
	e->start_ns = BPF_CORE_READ(child, start_boottime);
	e->pid_ino = 0;
	if (bpf_core_field_exists(((struct pid *)0)->ino))
		e->pid_ino = BPF_CORE_READ(child, thread_pid, ino);
	submit(e, RB_SZ(sizeof(*e)));
	task_fds(child, tgid, KEV_FDS_FORK); /* its copy of its creator's table */
	return 0;
}

SEC("raw_tracepoint/sched_process_exec")
int kev_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];
	if (!netns_ours_task(t))
		return 0;
	struct kev_exec *e = reserve(sizeof(*e), task_uid(t), 1);
	if (!e)
		return 0;
	hdr(&e->h, KEV_EXEC, BPF_CORE_READ(t, tgid));
	struct file *f = BPF_CORE_READ(bprm, file);
	e->ino = BPF_CORE_READ(f, f_inode, i_ino);
	e->dev = BPF_CORE_READ(f, f_inode, i_sb, s_dev);
	const char *fn = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), fn);
	e->len = n > 0 ? (__u32)n : 0;
	if (n <= 0)
		e->filename[0] = 0;
	submit(e, RB_SZ(sizeof(*e)));
	return 0;
}

struct fds_walk {
	struct file **fda;
	unsigned long *open;    /* fdt->open_fds: the bitmap of descriptors in use */
	unsigned long word;     /* open[i / 64], read at each word's first bit */
	unsigned int max;
	unsigned int tcp;       /* TCP sockets too (a receive's read: one may be what came) */
	unsigned int exit;      /* an exit's: a unix peer not accepted yet is marked */
};

/* bpf_loop's body: descriptor i of the ending process into fds_scratch
 * (the bitmap first: most slots of a table are empty) */
static long fd_one(__u64 i, void *ctx)
{
	struct fds_walk *w = ctx;
	struct file *f = 0;
	if (i >= w->max)
		return 1;
	if ((i & 63) == 0 &&
	    bpf_probe_read_kernel(&w->word, sizeof(w->word), &w->open[i / 64]))
		return 1;
	if (!((w->word >> (i & 63)) & 1))
		return 0;
	if (bpf_probe_read_kernel(&f, sizeof(f), &w->fda[i]) || !f)
		return 0;
	struct inode *in = BPF_CORE_READ(f, f_inode);
	unsigned int mode = BPF_CORE_READ(in, i_mode) & S_IFMT;
	__u64 peer = 0;
	__u32 dev = 0;
	__u8 kind, ends = 0;
	if (mode == S_IFIFO) {
		kind = BPF_CORE_READ(in, i_sb, s_magic) == PIPEFS_MAGIC ? KEV_FD_PIPE : KEV_FD_FIFO;
		dev = BPF_CORE_READ(in, i_sb, s_dev);
		unsigned int fm = BPF_CORE_READ(f, f_mode);
		ends = (fm & FMODE_READ ? KEV_FD_END_R : 0) | (fm & FMODE_WRITE ? KEV_FD_END_W : 0);
	} else if (mode == S_IFSOCK) {
		struct socket *so = BPF_CORE_READ(f, private_data);
		struct sock *sk = so ? BPF_CORE_READ(so, sk) : 0;
		__u16 fam = sk ? BPF_CORE_READ(sk, __sk_common.skc_family) : 0;
		if (w->tcp && (fam == AF_INET || fam == AF_INET6) &&
		    BPF_CORE_READ(sk, sk_protocol) == IPPROTO_TCP) {
			kind = KEV_FD_TCP;
		} else if (fam != AF_UNIX) {
			return 0; /* TCP: its state changes say it (kev_tcp) */
		} else {
			kind = KEV_FD_UNIX;
			struct sock *pk = BPF_CORE_READ((struct unix_sock *)sk, peer);
			if (pk) /* (a peer already closed has no socket: 0) */
				peer = BPF_CORE_READ(pk, sk_socket, file, f_inode, i_ino);
			if (pk && !peer && w->exit && !BPF_CORE_READ(pk, sk_socket)) {
				/* connected, not accepted yet (no socket, no inode):
				 * the peer's first receive names it (kev_recv) */
				__u64 key = (__u64)pk;
				struct umark m = {.peer_ino = BPF_CORE_READ(in, i_ino), .peer_sk = (__u64)sk};
				struct umark *o = bpf_map_lookup_elem(&unix_mark, &key);
				if (o) {
					o->peer_ino = m.peer_ino;
					o->peer_sk = m.peer_sk;
				} else {
					bpf_map_update_elem(&unix_mark, &key, &m, BPF_ANY);
				}
			}
		}
	} else {
		return 0;
	}
	__u32 k = 0;
	struct kev_fds *e = bpf_map_lookup_elem(&fds_scratch, &k);
	if (!e)
		return 1;
	__u32 n = e->n;
	if (n >= KEV_FDS_MAX) {
		e->more = 1;
		return 1;
	}
	struct kev_fd *d = &e->fd[n];
	d->ino = BPF_CORE_READ(in, i_ino);
	d->peer = peer;
	d->dev = dev;
	d->fd = (__s32)i;
	d->kind = kind;
	d->ends = ends;
	d->pad = 0;
	d->pad2 = 0;
	e->n = n + 1;
	return 0;
}

/* The pipes, FIFOs and unix sockets t holds as it ends: what it let go of
 * then, which no /proc read after can show (a writer that exits before the
 * reader dials out); at a fork, what the child got from its creator — what
 * the creator held then (a static program that forks the child that fetches
 * its orders, reads them from the pipe and closes it). No record when it
 * holds none. */
static __always_inline void task_fds(struct task_struct *t, __u32 tgid, __u32 why)
{
	__u32 k = 0;
	struct kev_fds *e = bpf_map_lookup_elem(&fds_scratch, &k);
	if (!e)
		return;
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	struct fds_walk w = {.fda = BPF_CORE_READ(fdt, fd), .open = BPF_CORE_READ(fdt, open_fds),
			     .max = BPF_CORE_READ(fdt, max_fds), .tcp = why == KEV_FDS_RECV,
			     .exit = why == KEV_FDS_EXIT};
	if (!fdt || !w.fda || !w.open)
		return;
	e->n = 0;
	e->more = w.max > KEV_FDS_SCAN;
	bpf_loop(w.max < KEV_FDS_SCAN ? w.max : KEV_FDS_SCAN, fd_one, &w, 0);
	__u32 n = e->n;
	if (n > KEV_FDS_MAX)
		return;
	if (!n && !e->more)
		return;
	hdr(&e->h, KEV_FDS, tgid);
	e->uid = task_uid(t);
	e->why = why;
	__u64 size = sizeof(*e) - (KEV_FDS_MAX - n) * sizeof(e->fd[0]);
	/* (the same wake rule as submit's: avail before this output, so the
	 * record's bytes, with the ring's header, are added) */
	__u64 sz = RB_SZ(size);
	if (!uid_take(e->uid, sz))
		return; /* (its task's own: a fork's, an exit's, a receive's) */
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + sz;
	__u64 rsize = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	if (bpf_ringbuf_output(&events, e, size, wake_flag(avail, rsize, sz)))
		full(e->uid);
}

SEC("raw_tracepoint/sched_process_exit")
int kev_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx->args[0];
	/* signal->live reached 0 before the tracepoint: the last thread (CO-RE
	 * for kernels whose tracepoint has no group_dead argument) */
	if (BPF_CORE_READ(t, signal, live.counter) != 0 || !netns_ours_task(t))
		return 0;
	__u32 tgid = BPF_CORE_READ(t, tgid);
	task_fds(t, tgid, KEV_FDS_EXIT);
	struct kev_exit *e = reserve(sizeof(*e), task_uid(t), 1);
	if (!e)
		return 0;
	hdr(&e->h, KEV_EXIT, tgid);
	submit(e, RB_SZ(sizeof(*e)));
	return 0;
}

static __always_inline void sock_addrs(struct kev_sock *e, const struct sock *sk)
{
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	e->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->sport = e->dport = 0;
	if (e->family != AF_INET && e->family != AF_INET6)
		return; /* accept() of a unix socket: the family only */
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (e->family == AF_INET6) {
		BPF_CORE_READ_INTO(&e->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&e->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		BPF_CORE_READ_INTO((__u32 *)e->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)e->daddr, sk, __sk_common.skc_daddr);
	}
}

/* Is sk's peer on this host — any of its addresses, on any interface, v4,
 * v6 or v4-mapped, whenever it was added? The kernel's own answer: the
 * socket's cached route to its peer (sk_dst_cache, set at connect and, for
 * an accepted socket, before its ESTABLISHED) is a local one — RTN_LOCAL
 * (IPv4, also a v4-mapped IPv6 socket's: an rtable), RTF_LOCAL (IPv6), its
 * device the loopback (a VRF's local routes: the master). No address list
 * to keep up to date: a route to an address added a moment ago is local
 * from then on, and the socket is in this collector's network namespace
 * (kev_tcp), whose routes only root here changes. Review 14: the peer was
 * local only when its address was the socket's own or 127.x, so a connect
 * from the host's own 10.231.0.2 to 127.0.0.1 was a remote peer's. With no
 * route cached (reset by a route change, until the next send): the
 * addresses as before — the own-address and loopback cases. */
#define KEV_RTF_LOCAL 0x80000000U
#define KEV_IFF_LOOPBACK 0x8U
static __always_inline int route_local(const struct sock *sk)
{
	struct dst_entry *dst = BPF_CORE_READ(sk, sk_dst_cache);
	if (!dst)
		return -1;
	struct net_device *dev = BPF_CORE_READ(dst, dev);
	if (dev && (BPF_CORE_READ(dev, flags) & KEV_IFF_LOOPBACK))
		return 1;
	__u16 fam = BPF_CORE_READ(dst, ops, family);
	if (fam == AF_INET)
		return BPF_CORE_READ((struct rtable *)dst, rt_type) == RTN_LOCAL;
	if (fam == AF_INET6)
		return (BPF_CORE_READ((struct rt6_info *)dst, rt6i_flags) & KEV_RTF_LOCAL) != 0;
	return 0;
}

static __always_inline int peer_local(const struct sock *sk)
{
	int r = route_local(sk);
	if (r >= 0)
		return r;
	if (BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6) {
		__u32 d[4], s[4];
		BPF_CORE_READ_INTO(&d, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr32);
		BPF_CORE_READ_INTO(&s, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32);
		if (d[0] == s[0] && d[1] == s[1] && d[2] == s[2] && d[3] == s[3])
			return 1;
		if (!d[0] && !d[1] && !d[2] && d[3] == bpf_htonl(1))
			return 1; /* ::1 */
		if (!d[0] && !d[1] && d[2] == bpf_htonl(0xffff))
			return (bpf_ntohl(d[3]) >> 24) == 127; /* ::ffff:127.x */
		return 0;
	}
	__u32 d = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	return d == BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr) || (bpf_ntohl(d) >> 24) == 127;
}

static __always_inline __u64 sock_ino(const struct sock *sk)
{
	struct socket *so = BPF_CORE_READ(sk, sk_socket);
	if (!so)
		return 0;
	return BPF_CORE_READ(so, file, f_inode, i_ino);
}

/* (kernels before 6.13: the file's count was f_count) */
struct file___fcount {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/* Is sk's file being released — its last reference gone, tcp_close() running
 * from __fput(): the owner's close, not a shutdown() (which makes the same
 * FIN_WAIT1 or LAST_ACK while the process still holds, and may read, the
 * socket)? file_ref_put() leaves f_ref "dead" (negative) before __fput. */
static __always_inline int sock_released(const struct sock *sk)
{
	struct file *f = BPF_CORE_READ(sk, sk_socket, file);
	if (!f)
		return 0;
	if (bpf_core_field_exists(f->f_ref))
		return (long)BPF_CORE_READ(f, f_ref.refcnt.counter) < 0;
	struct file___fcount *o = (void *)f;
	return BPF_CORE_READ(o, f_count.counter) == 0;
}

SEC("raw_tracepoint/inet_sock_set_state")
int kev_tcp(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->args[0];
	int oldstate = (int)ctx->args[1], newstate = (int)ctx->args[2];
	if (newstate == KEV_TCP_SYN_RECV || newstate == KEV_TCP_LISTEN ||
	    newstate == KEV_TCP_NEW_SYN_RECV)
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP || !netns_ours_sock(sk))
		return 0;
	/* every change tcp_close() makes is in its owner's release (also a
	 * FIN_WAIT2, CLOSING or LAST_ACK one after a shutdown()); else only
	 * connect, ESTABLISHED and CLOSE are sent */
	__u32 released = newstate != KEV_TCP_SYN_SENT && newstate != KEV_TCP_ESTABLISHED &&
			 sock_released(sk);
	if (newstate != KEV_TCP_SYN_SENT && newstate != KEV_TCP_ESTABLISHED &&
	    newstate != KEV_TCP_CLOSE && !released)
		return 0;
	/* (its owner's own change — connect, close — is rationed as its
	 * owner's; one a local peer's packet makes — a loopback connect to a
	 * listener: the softirq runs in the sender's task — is the sender's,
	 * rationed and, lost, its loss; a remote peer's is not rationed) */
	__u32 uid = BPF_CORE_READ(sk, sk_uid.val), cur = (__u32)bpf_get_current_uid_gid();
	int rationed = cur == uid;
	if (!rationed && cur != 0 && peer_local(sk)) {
		uid = cur;
		rationed = 1;
	}
	struct kev_sock *e = reserve(sizeof(*e), uid, rationed);
	if (!e)
		return 0;
	hdr(&e->h, KEV_TCP, (__u32)(bpf_get_current_pid_tgid() >> 32));
	e->ino = sock_ino(sk);
	e->fd = -1;
	e->oldstate = (__u8)oldstate;
	e->newstate = (__u8)newstate;
	e->uid = BPF_CORE_READ(sk, sk_uid.val);
	e->flags = released ? KEV_SOCK_RELEASED : 0;
	sock_addrs(e, sk);
	submit(e, RB_SZ(sizeof(*e)));
	return 0;
}

/* ---- descriptors passed over unix sockets (SCM_RIGHTS), sockets used by
 * io_uring: socket-level tracepoints, which run only where a socket gets data
 * or is read from — never on the syscall path of everything else ---------- */

/* the process an io_uring task's socket was last reported for */
struct uused {
	__u64 ino;            /* (another socket at the same address is another) */
	__u32 tgid;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);   /* struct sock */
	__type(value, struct uused);
} uring_used SEC(".maps");

static __always_inline __u32 unix_nr_fds(const struct sock *sk)
{
	return (__u32)BPF_CORE_READ((struct unix_sock *)sk, scm_stat.nr_fds.counter);
}

/* Data queued to sk: a unix socket that now has descriptors waiting in its
 * receive queue (scm_stat counts them as the sender queues them) is marked. */
SEC("raw_tracepoint/sk_data_ready")
int kev_data_ready(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->args[0];
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != AF_UNIX || !unix_nr_fds(sk) ||
	    !netns_ours_sock(sk))
		return 0;
	__u64 key = (__u64)sk;
	struct umark *o = bpf_map_lookup_elem(&unix_mark, &key);
	if (o) {
		o->fds = 1;
	} else {
		struct umark m = {.fds = 1};
		bpf_map_update_elem(&unix_mark, &key, &m, BPF_ANY);
	}
	return 0;
}

/* A receive returned on sk, in the receiving task: after one on a marked unix
 * socket, the receiver's fd table (KEV_FDS, at: recv) — the descriptors it
 * just got are in it (scm_detach_fds installed them before the return). A
 * TCP socket read by a task that uses io_uring: the process, once per socket
 * and process (KEV_SOCKUSE) — an io_uring direct descriptor (a fixed file
 * slot) is in no fd table, and this is how the kernel shows who holds it. */
SEC("raw_tracepoint/sock_recv_length")
int kev_recv(struct bpf_raw_tracepoint_args *ctx)
{
	const struct sock *sk = (const struct sock *)ctx->args[0];
	int ret = (int)ctx->args[1];
	__u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u64 key = (__u64)sk;
	if (fam == AF_UNIX) {
		struct umark *m = bpf_map_lookup_elem(&unix_mark, &key);
		if (!m)
			return 0;
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		__u32 tgid = BPF_CORE_READ(t, tgid);
		__u64 peer = m->peer_ino, ino = sock_ino(sk);
		__u32 fds = m->fds;
		if (peer && (__u64)BPF_CORE_READ((struct unix_sock *)sk, peer) != m->peer_sk)
			peer = m->peer_ino = 0; /* another socket at the marked address */
		if (peer && ino) { /* accepted now: both ends have inodes */
			m->peer_ino = 0;
			struct kev_upeer *e = reserve(sizeof(*e), task_uid(t), 1);
			if (e) {
				hdr(&e->h, KEV_UNIXPEER, tgid);
				e->ino = ino;
				e->peer = peer;
				submit(e, RB_SZ(sizeof(*e)));
			}
			peer = 0;
		}
		if (fds && !unix_nr_fds(sk))
			m->fds = 0;
		if (!peer && !m->fds)
			bpf_map_delete_elem(&unix_mark, &key);
		if (fds && ret >= 0 && tgid != self_tgid && netns_ours_task(t))
			task_fds(t, tgid, KEV_FDS_RECV); /* (rationed there) */
		return 0;
	}
	if (fam != AF_INET && fam != AF_INET6)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	if (!BPF_CORE_READ(t, io_uring) || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
	    !netns_ours_sock(sk))
		return 0;
	__u32 tgid = BPF_CORE_READ(t, tgid);
	struct uused u = {.ino = sock_ino(sk), .tgid = tgid};
	struct uused *was = bpf_map_lookup_elem(&uring_used, &key);
	if (was && was->tgid == tgid && was->ino == u.ino)
		return 0;
	struct kev_sock *e = reserve(sizeof(*e), task_uid(t), 1);
	if (!e)
		return 0; /* (not marked used: its next read tries again) */
	bpf_map_update_elem(&uring_used, &key, &u, BPF_ANY);
	hdr(&e->h, KEV_SOCKUSE, tgid);
	e->ino = u.ino;
	e->fd = -1;
	e->oldstate = 0;
	e->newstate = (__u8)BPF_CORE_READ(sk, __sk_common.skc_state);
	e->flags = 0;
	e->uid = BPF_CORE_READ(sk, sk_uid.val);
	sock_addrs(e, sk);
	submit(e, RB_SZ(sizeof(*e)));
	return 0;
}

/* accept()/accept4() returning a descriptor: the syscalls' own exit
 * tracepoints (attached by kev.c through their ids in tracefs: only these two
 * syscalls run the program — a raw sys_exit program would run on every
 * syscall of the machine, +20..40% on a syscall-bound loop) */
static __always_inline int accepted(long ret)
{
	if (ret < 0)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	if (!netns_ours_task(t))
		return 0;
	struct kev_sock *e = reserve(sizeof(*e), task_uid(t), 1);
	if (!e)
		return 0;
	hdr(&e->h, KEV_ACCEPT, BPF_CORE_READ(t, tgid));
	e->fd = (__s32)ret;
	e->ino = 0;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->oldstate = e->newstate = 0;
	e->flags = 0;
	e->family = 0;
	e->sport = e->dport = 0;
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	/* the new descriptor's file: files->fdt->fd[ret] */
	struct fdtable *fdt = BPF_CORE_READ(t, files, fdt);
	unsigned int max = BPF_CORE_READ(fdt, max_fds);
	struct file **fda = BPF_CORE_READ(fdt, fd);
	struct file *f = 0;
	if ((unsigned long)ret < max && fda)
		bpf_probe_read_kernel(&f, sizeof(f), &fda[ret]);
	if (f) {
		e->ino = BPF_CORE_READ(f, f_inode, i_ino);
		struct socket *so = BPF_CORE_READ(f, private_data);
		struct sock *sk = so ? BPF_CORE_READ(so, sk) : 0;
		if (sk)
			sock_addrs(e, sk);
	}
	submit(e, RB_SZ(sizeof(*e)));
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_accept")
int kev_accept(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}

SEC("tracepoint/syscalls/sys_exit_accept4")
int kev_accept4(struct trace_event_raw_sys_exit *ctx)
{
	return accepted(ctx->ret);
}
