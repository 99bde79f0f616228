/*
 * preload/shim.c — libhoptrace.so, the preloaded shim.
 *
 * Loaded into every process (/etc/ld.so.preload or LD_PRELOAD). Wraps the libc
 * entry points that create, pass, duplicate or drop IPC channels and reports
 * them to the collector as records (include/hoptrace/record.h), written into
 * a sealed memfd ring of this process's own (include/hoptrace/ring.h) that
 * was registered once — its first record and the memfd, on a momentary
 * connection to the collector's ring socket — after which no descriptor of
 * ours stays open (docs/shim.md "Transport"). Where memfd sealing is missing:
 * one datagram per record on an AF_UNIX SOCK_SEQPACKET socket. Either way the
 * peer is the record name's path under root's /run/hoptrace, else the
 * abstract name, and its SO_PEERCRED uid must be 0 (docs/shim.md "Whom the
 * shim talks to").
 *
 * Rules kept by every line below:
 *  - no threads that outlive a hook (the momentary helper: helper_run), no
 *    output, no abort/exit of our own, no malloc or locks in hooks; records
 *    are encoded into stack buffers;
 *  - errno is unchanged across every hook (the real call's errno is kept);
 *  - never block: the socket is SOCK_NONBLOCK; a failed send drops the record
 *    and counts it (EXIT's `lost`); nothing loops on errors;
 *  - between calls we hold no descriptor (the ring is a mapping); momentary
 *    ones (registration, doorbell, a momentary send) live in a helper
 *    thread's own descriptor table (helper_run), never in the program's, and
 *    are closed before the hook returns (a vfork child's send: in its own
 *    copy of the table); a fork in another thread never copies one
 *    (momentary_begin / atfork_prepare: each waits, bounded, for the other);
 *  - under a seccomp filter we saw installed (prctl, syscall(SYS_seccomp))
 *    no descriptor; under one we did not see (inherited across exec) no
 *    system call of ours at all (seccomp_inherited);
 *  - fallback only: our socket lives on a high CLOEXEC fd; its inode is re-checked with fstat
 *    before each send; if the program closed/dup2'ed over it we forget it (it
 *    is the program's fd now) and reconnect at most once per second;
 *  - a vfork / raw clone child (it may share our memory, or lack our ring)
 *    is noticed without a syscall where it can be (own_sure: a wipe-on-fork
 *    page, our vfork()'s mark, clone(CLONE_VM) seen), else by getpid()
 *    differing from the cached pid: it sends BIRTH + the record from the
 *    stack on a momentary connection, never into the ring, and writes no
 *    global at all; our vfork()'s child sends only what the kernel cannot
 *    tell later, so its waiting parent resumes as without us (vfork_quiet);
 *  - close() knows the descriptors we reported as channels (g_chanfd) and
 *    asks fstat only about the others;
 *  - internal system calls are an inline syscall instruction (x86-64; libc's
 *    syscall() elsewhere) so they never re-enter our own hooks.
 */
#undef _FORTIFY_SOURCE
#include <hoptrace/record.h>
#include <hoptrace/ring.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>

#define EXPORT __attribute__((visibility("default")))

/* Our own system calls, x86-64: an inline syscall instruction instead of
 * libc's syscall() — which the shim exports itself (a hook: a seccomp filter
 * installed by syscall(SYS_seccomp), libseccomp's way). It sets errno like
 * libc's (-1 and errno on failure). Elsewhere: libc's syscall(), unhooked. */
#if defined(__x86_64__)
static inline long ht_sys(long n, long a, long b, long c, long d, long e, long f)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}
#define HT_SYS7(n, a, b, c, d, e, f, ...)                                                 \
	ht_sys((long)(n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))
#define syscall(...) HT_SYS7(__VA_ARGS__, 0, 0, 0, 0, 0, 0, 0)
#endif

/* glibc's fortify entry points (declared only under _FORTIFY_SOURCE) */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* fstat through the plain fstat syscall: glibc 2.36 routes fstat() through
 * newfstatat(fd, "", AT_EMPTY_PATH), which also copies and looks up the empty
 * path; the old syscall is ~10% cheaper and this is on every hot path. */
#if defined(__x86_64__) && defined(SYS_fstat)
#define xfstat(fd, st) ((int)syscall(SYS_fstat, (fd), (st)))
#else
#define xfstat(fd, st) fstat((fd), (st))
#endif

/* ------------------------------------------------------------------ state */

static int g_disabled;                 /* HOPTRACE_DISABLE=1 */
static pid_t g_pid;                    /* cached pid of this process */
static _Atomic uint64_t g_sock;        /* (ino << 32) | (fd + 1); 0 = none */
static atomic_int g_connecting;        /* CAS guard for the lazy connect */
static atomic_int g_broken;            /* peer went away: replace the socket */
static _Atomic int64_t g_retry_at;     /* CLOCK_MONOTONIC_COARSE ms: next connect try */
static _Atomic uint64_t g_lost;        /* records we could not send */
static _Atomic uint64_t g_fork_ts;     /* set by the atfork prepare handler */
static atomic_int g_exit_sent;
static struct sockaddr_un g_addr;      /* collector address */
static socklen_t g_addrlen;
static struct sockaddr_un g_bell;      /* its doorbell (HT_REC_BELL_SUFFIX) */
static socklen_t g_belllen;
/* the ring (include/hoptrace/ring.h): our mapping, or NULL; g_ring_off once
 * memfd sealing proved unavailable (then the socket path above is used) */
static _Atomic(void *) g_ring;
static atomic_int g_ring_off;
static _Atomic int64_t g_ring_retry_at;  /* CLOCK_MONOTONIC_COARSE ms */
static _Atomic uint32_t g_beat_seen;     /* the collector's last `beat` seen ... */
static _Atomic int64_t g_beat_t;         /* ... and when (ms) */
/* A fork copies the descriptor table, so a momentary descriptor another
 * thread has open at that instant (registration, doorbell) would stay in the
 * child for good: the thread that closes it does not exist there. Forks and
 * momentary descriptors exclude each other (momentary_begin, atfork_prepare):
 * g_momentary counts the descriptors open now, g_forking the forks under way;
 * t_momentary / t_forking are the calling thread's own share. */
static atomic_int g_momentary;
static atomic_int g_forking;
/* The process installed a seccomp filter (prctl PR_SET_SECCOMP: sshd's
 * preauth child, which is killed by SIGSYS on a socket() or memfd_create();
 * or syscall(SYS_seccomp), libseccomp's way): from then on the shim opens no
 * descriptor at all — no registration, no momentary connection, no doorbell,
 * no helper thread; records go into a ring registered before, or are lost
 * and counted. Inherited by fork children (so is the filter). A filter the
 * shim did not see installed (inherited across exec) or strict mode: the
 * shim makes no system call at all in that image (g_disabled, early_init). */
static atomic_int g_sandboxed;
static _Atomic int64_t g_momentary_retry_at; /* no record socket: ms */
static __thread int t_momentary __attribute__((tls_model("initial-exec")));
static __thread int t_forking __attribute__((tls_model("initial-exec")));

/* ----------------------------------------------------------- real symbols */

#define REAL(name) static __typeof__(name) *real_##name
#define RESOLVE(name)                                                              \
	(real_##name ? real_##name                                                 \
		     : (real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)))

REAL(connect); REAL(accept); REAL(accept4); REAL(pipe); REAL(pipe2);
REAL(socketpair); REAL(openpty); REAL(forkpty); REAL(posix_openpt); REAL(getpt);
REAL(open); REAL(open64); REAL(openat); REAL(openat64); REAL(__open_2);
REAL(__open64_2); REAL(__openat_2); REAL(__openat64_2); REAL(sendmsg);
REAL(recvmsg); REAL(close); REAL(dup); REAL(dup2); REAL(dup3);
REAL(closefrom); REAL(close_range); REAL(execve); REAL(execv); REAL(execvp);
REAL(execvpe); REAL(fexecve); REAL(posix_spawn); REAL(posix_spawnp);
REAL(system); REAL(popen); REAL(daemon); REAL(_exit); REAL(_Exit);
REAL(getsockopt); REAL(clone); REAL(prctl);
#if defined(__x86_64__)
static void *ht_real_vfork __asm__("ht_real_vfork") __attribute__((used)); /* our vfork() below */
#endif

static void resolve_all(void)
{
	RESOLVE(connect); RESOLVE(accept); RESOLVE(accept4); RESOLVE(pipe);
	RESOLVE(pipe2); RESOLVE(socketpair); RESOLVE(openpty); RESOLVE(forkpty);
	RESOLVE(posix_openpt); RESOLVE(getpt); RESOLVE(open); RESOLVE(open64); RESOLVE(openat);
	RESOLVE(openat64); RESOLVE(__open_2); RESOLVE(__open64_2);
	RESOLVE(__openat_2); RESOLVE(__openat64_2); RESOLVE(sendmsg);
	RESOLVE(recvmsg); RESOLVE(close); RESOLVE(dup); RESOLVE(dup2); RESOLVE(dup3);
	RESOLVE(closefrom); RESOLVE(close_range); RESOLVE(execve); RESOLVE(execv);
	RESOLVE(execvp); RESOLVE(execvpe); RESOLVE(fexecve); RESOLVE(posix_spawn);
	RESOLVE(posix_spawnp); RESOLVE(system); RESOLVE(popen); RESOLVE(daemon);
	RESOLVE(_exit); RESOLVE(_Exit); RESOLVE(getsockopt); RESOLVE(clone);
	RESOLVE(prctl);
#if defined(__x86_64__)
	if (!ht_real_vfork)
		ht_real_vfork = dlsym(RTLD_NEXT, "vfork");
#endif
}

/* ------------------------------------------------------------------ clocks */

static uint64_t now_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int64_t now_coarse_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts))
		return 0;
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t raw_getpid(void)
{
	return (pid_t)syscall(SYS_getpid);
}

/* ------------------------------------------------- whose process is this */

/* Every record is placed in our ring only by our own process: a vfork or
 * raw-clone child may run our hooks in our memory (its records go on a
 * momentary connection, with its own credentials), and a fork child made
 * without libc's fork (no atfork handler: syscall(SYS_clone), bwrap) has no
 * ring mapped at all (MADV_DONTFORK). getpid() per record told them apart
 * (~70-190 ns, a third of a pipe()'s cost); now three marks do, with no
 * syscall:
 *  - g_token, a private page with MADV_WIPEONFORK holding our pid: every
 *    fork child, however made, finds it zero until its atfork handler
 *    writes its own pid there (after it has dropped the parent's ring);
 *  - t_vfork, set by our vfork() before the real one: the child runs on the
 *    calling thread's TLS, so it sees the mark; the parent clears it at its
 *    next record, after a getpid() that says it is the parent (the child
 *    has exec'd or exited by then: vfork suspends the caller);
 *  - g_shared_vm, set for good by clone() with CLONE_VM and without
 *    CLONE_THREAD (a child sharing our memory, maybe our TLS, running at
 *    the same time): getpid() per record from then on, as before.
 * Any mark missing or unsure: getpid(), as before. (A child made by a
 * clone instruction of the program's own, sharing our memory, is the one
 * case neither mark sees; its records would be placed in our ring.) */
static __thread int t_vfork __asm__("ht_t_vfork") __attribute__((tls_model("initial-exec"), used));
static atomic_int g_shared_vm;
static _Atomic(pid_t *) g_token;
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif

static void token_init(void)
{
#if defined(__x86_64__)
	void *pg = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pg == MAP_FAILED)
		return;
	if (madvise(pg, 4096, MADV_WIPEONFORK) != 0) { /* before Linux 4.14 */
		munmap(pg, 4096);
		return;
	}
	*(volatile pid_t *)pg = g_pid;
	atomic_store_explicit(&g_token, (pid_t *)pg, memory_order_release);
#endif
}

/* our own process for certain, without a syscall (else ask getpid) */
static int own_sure(void)
{
	pid_t *t = atomic_load_explicit(&g_token, memory_order_acquire);
	return t && !t_vfork && !atomic_load_explicit(&g_shared_vm, memory_order_relaxed) &&
	       g_pid && *(volatile pid_t *)t == g_pid;
}

#if defined(__x86_64__)
/* vfork: mark this thread, then the real vfork (a jump: its return address
 * must stay the caller's, the child returns on the parent's stack). */
static pid_t ht_vfork_fork(void) __asm__("ht_vfork_fork") __attribute__((used));
static pid_t ht_vfork_fork(void)
{
	return fork(); /* called before our constructor: a fork is a vfork */
}
__asm__(".text\n"
	".globl vfork\n.type vfork,@function\n"
	".globl __vfork\n.type __vfork,@function\n"
	"vfork:\n__vfork:\n"
	"\tendbr64\n"
	"\tmovq ht_t_vfork@gottpoff(%rip), %rax\n"
	"\tmovl $1, %fs:(%rax)\n"
	"\tmovq ht_real_vfork(%rip), %rax\n"
	"\ttestq %rax, %rax\n"
	"\tjz 1f\n"
	"\tjmp *%rax\n"
	"1:\tjmp ht_vfork_fork\n"
	".size vfork, .-vfork\n"
	".size __vfork, .-__vfork\n");
#endif

/* ------------------------------------------------------------- transport */

/* Waits (sched_yield, at most ~10 ms) until *v is 0; 1 if it is. Bounded so
 * that nothing can hang a hook or a fork: past it the caller gives up. */
static int wait_zero(atomic_int *v)
{
	if (!atomic_load(v))
		return 1;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		syscall(SYS_sched_yield);
		if (!atomic_load(v))
			return 1;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) > 10000000L)
			return 0;
	}
}

/* Before this process opens a momentary descriptor: 1 when it may (no fork
 * is under way in another thread, and none starts until momentary_end), 0
 * when a fork did not end within the bound (the caller opens nothing).
 * seq_cst on both sides (Dekker): either the fork sees our count and waits
 * for it, or we see the fork and wait for it. */
static int momentary_begin(void)
{
	if (atomic_load_explicit(&g_sandboxed, memory_order_relaxed))
		return 0;
	if (t_forking) /* an atfork handler of our own fork: its thread is ours */
		return 1;
	for (int i = 0; i < 2; i++) {
		atomic_fetch_add(&g_momentary, 1);
		if (!atomic_load(&g_forking)) {
			t_momentary++;
			return 1;
		}
		atomic_fetch_sub(&g_momentary, 1);
		if (!wait_zero(&g_forking))
			return 0;
	}
	return 0;
}

static void momentary_end(void)
{
	if (t_forking)
		return;
	t_momentary--;
	atomic_fetch_sub(&g_momentary, 1);
}

/* Descriptors nobody else sees (issue 15): the registration's memfd and
 * connection, a momentary connection's socket and the doorbell's live in a
 * momentary thread of ours whose descriptor table is its own and empty, so
 * no number of the program's table is taken even for a moment — another
 * thread's open() at that instant gets the number it gets without us, and
 * /proc/self/fd never shows them:
 *  - clone(CLONE_VM | CLONE_THREAD | CLONE_SIGHAND | CLONE_FILES |
 *    CLONE_VFORK ...): our memory (the ring is mapped for the process), our
 *    thread group (the kernel attests our pid: SO_PEERCRED and
 *    SCM_CREDENTIALS say the tgid), the calling thread waits until it
 *    exits; then close_range(0, ~0U, CLOSE_RANGE_UNSHARE) gives it a table
 *    of its own copying no descriptor (Linux 5.9), before it opens any;
 *  - every signal blocked in the calling thread around the clone (the
 *    thread inherits the mask: no handler of the program's runs in it); it
 *    runs on the calling thread's TLS (no CLONE_SETTLS; that thread is
 *    suspended), makes system calls only, and on a stack of ours (one
 *    at a time: g_hbusy);
 *  - it shows in /proc/self/task for its lifetime (~10-30 µs) and counts
 *    against RLIMIT_NPROC for that moment.
 * Where it cannot run (clone or close_range refused: old kernel, a thread
 * limit; another helper busy past ~10 ms) the caller does the work itself,
 * as before: its descriptors then take the lowest free numbers for that
 * moment. Never in a vfork / raw-clone child (send_foreign): its table is
 * its own copy already. */
#if defined(__x86_64__)
#define HT_HELPER 1
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
struct helper_job {
	int (*fn)(void *);
	void *arg;
	int rc;
	int ran;
};
static atomic_int g_hbusy;      /* the helper's stack is in use */
static atomic_int g_helper_off; /* clone or close_range refused for good */
#ifdef HT_HELPER
static char g_hstack[16384] __attribute__((aligned(64)));

static int helper_main(void *p)
{
	struct helper_job *j = p;
	if (syscall(SYS_close_range, 0U, ~0U, CLOSE_RANGE_UNSHARE) != 0)
		return 0; /* j->ran stays 0: still the program's table, open nothing */
	j->ran = 1;
	j->rc = j->fn(j->arg);
	return 0;
}
#endif

/* A process with one thread (glibc's __libc_single_threaded: no
 * pthread_create ever; no clone() of ours shared our descriptor table; or
 * a fork child's atfork handler, t_onethread) needs no helper: nobody else
 * can open a descriptor while the calling thread, with every signal
 * blocked, holds a momentary one — the number it takes is one the program
 * cannot be getting at that instant. Saves the helper's cost (~10-40 µs of
 * CPU: a thread made, scheduled, torn down) on every spawn. */
extern char __libc_single_threaded __attribute__((weak));
static atomic_int g_clone_shared; /* clone(CLONE_THREAD or CLONE_FILES) seen */
static __thread int t_onethread __attribute__((tls_model("initial-exec")));

static int one_thread(void)
{
	return t_onethread || (&__libc_single_threaded && __libc_single_threaded &&
			       !atomic_load_explicit(&g_clone_shared, memory_order_relaxed));
}

/* Runs fn(arg) in the helper, or in the calling thread with every signal
 * blocked when the process has one thread (or no helper can run); fn's result. */
static int helper_run(int (*fn)(void *), void *arg)
{
	if (one_thread()) {
		uint64_t all = ~0ULL, old;
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof(all));
		int rc = fn(arg);
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
		return rc;
	}
#ifdef HT_HELPER
	if (!atomic_load_explicit(&g_helper_off, memory_order_relaxed) && RESOLVE(clone)) {
		/* signals blocked first: no handler of this thread can find the
		 * stack taken by the code it interrupted */
		uint64_t all = ~0ULL, old;
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof(all));
		int zero = 0, got = atomic_compare_exchange_strong(&g_hbusy, &zero, 1);
		if (!got && wait_zero(&g_hbusy)) { /* another thread's helper (~10-30 µs) */
			zero = 0;
			got = atomic_compare_exchange_strong(&g_hbusy, &zero, 1);
		}
		int t = -1, ce = 0;
		struct helper_job j = {fn, arg, 0, 0};
		if (got) {
			t = real_clone(helper_main, g_hstack + sizeof(g_hstack),
				       CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
					       CLONE_SYSVSEM | CLONE_VFORK,
				       &j);
			ce = errno;
			atomic_store(&g_hbusy, 0);
		}
		syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof(old));
		if (t > 0 && j.ran)
			return j.rc;
		if (t > 0 || (got && (ce == EINVAL || ce == ENOSYS || ce == EPERM)))
			atomic_store(&g_helper_off, 1); /* close_range / clone refused */
	}
#endif
	return fn(arg);
}

/* not a vfork / raw-clone child sharing our memory (see own_process) */
static int own_process_early(void)
{
	return g_pid && (own_sure() || raw_getpid() == g_pid);
}

static void addr_init(void)
{
	const char *s = NULL;
	memset(&g_addr, 0, sizeof(g_addr));
	g_addr.sun_family = AF_UNIX;
	/* setuid/setgid: fixed name, no environment (secure_getenv returns NULL) */
	if (!getauxval(AT_SECURE))
		s = secure_getenv("HOPTRACE_SOCKET");
	if (s && *s) {
		size_t n = strnlen(s, sizeof(g_addr.sun_path) - 1);
		if (s[0] == '/') { /* a pathname socket */
			memcpy(g_addr.sun_path, s, n);
			g_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
			return;
		}
		if (s[0] == '@') { /* "@name" = abstract */
			s++;
			n--;
		}
		memcpy(g_addr.sun_path + 1, s, n);
		g_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
		return;
	}
	memcpy(g_addr.sun_path + 1, HT_REC_SOCKET, sizeof(HT_REC_SOCKET) - 1);
	g_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + sizeof(HT_REC_SOCKET));
}

/* The doorbell (record.h): only ever its path under HT_RUN_DIR — a datagram
 * socket has no peer credentials, so an abstract name anybody can bind first
 * would leak every remote connect's pid. Computed on first use (one stat of
 * /proc/self/ns/net); none for a pathname record socket. */
static _Atomic uint64_t g_netns;       /* /proc/self/ns/net inode, 0 = not read */

static uint64_t netns_ino(void)
{
	uint64_t v = atomic_load_explicit(&g_netns, memory_order_relaxed);
	if (v)
		return v;
	struct stat st;
	if (stat("/proc/self/ns/net", &st) != 0)
		return 0;
	if (own_process_early())
		atomic_store_explicit(&g_netns, (uint64_t)st.st_ino, memory_order_relaxed);
	return (uint64_t)st.st_ino;
}

/* the path form (record.h "Names nobody else can bind") of our abstract
 * record name + suffix; 0 if there is none */
static socklen_t run_addr(struct sockaddr_un *sa, const char *suffix)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	char name[sizeof(g_addr.sun_path)];
	if (g_addrlen <= off + 1 || g_addr.sun_path[0] != '\0')
		return 0;
	size_t n = g_addrlen - off - 1;
	memcpy(name, g_addr.sun_path + 1, n);
	name[n] = '\0';
	if (memchr(name, '\0', n)) /* an abstract name with a NUL inside: no path */
		return 0;
	uint64_t ns = netns_ino();
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t k = ns ? ht_run_path(sa->sun_path, sizeof(sa->sun_path), name, suffix, ns) : 0;
	return k ? (socklen_t)(off + k + 1) : 0;
}

static void bell_init(void)
{
	g_belllen = 0; /* computed on the first ring (ring_bell) */
}

struct bell_job {
	const struct sockaddr_un *a;
	socklen_t al;
};

static int bell_fds(void *arg)
{
	const struct bell_job *j = arg;
	int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		char c = 0;
		syscall(SYS_sendto, s, &c, (size_t)1, MSG_DONTWAIT | MSG_NOSIGNAL, j->a, j->al);
		syscall(SYS_close, s);
	}
	return 0;
}

/* Rings the doorbell: a throw-away datagram socket, raw syscalls, never
 * blocks; failures are ignored (the collector still reads the record within
 * its batch interval, and before any answer). */
static void ring_bell(void)
{
	struct sockaddr_un b;
	socklen_t bl = g_belllen;
	if (bl)
		b = g_bell;
	else if (!(bl = run_addr(&b, HT_REC_BELL_SUFFIX)))
		return;
	else if (own_process_early()) {
		g_bell = b;
		g_belllen = bl;
	}
	int own = own_process_early();
	if (atomic_load_explicit(&g_sandboxed, memory_order_relaxed) || (own && !momentary_begin()))
		return;
	struct bell_job j = {&b, bl};
	if (own) { /* in the helper: a descriptor of its own table */
		helper_run(bell_fds, &j);
		momentary_end();
	} else { /* a vfork / raw-clone child: its table is its own */
		bell_fds(&j);
	}
}

/* Is addr a TCP destination on another host as far as the shim can tell (not
 * loopback: the guard does not judge those by default)? */
static int remote_inet(const struct sockaddr *addr, socklen_t len)
{
	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
		return (ntohl(a->sin_addr.s_addr) >> 24) != 127;
	}
	if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
		if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr))
			return 0;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			return a->sin6_addr.s6_addr[12] != 127;
		return 1;
	}
	return 0;
}

/* Is the peer of connected socket s the collector? Its SO_PEERCRED uid (the
 * creds of whoever called listen()) must be 0: a name anybody can bind first
 * is trusted only that way. At the path under root's HT_RUN_DIR, in a user
 * namespace that does not map uid 0 (root then shows as the overflow uid and
 * the kernel cannot attest it), the directory does: only root could bind
 * there. */
static int peer_is_root(int s, int by_path)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);
	if (syscall(SYS_getsockopt, s, SOL_SOCKET, SO_PEERCRED, &cr, &l) != 0 || l < sizeof(cr))
		return 0;
	if (cr.uid == 0)
		return 1;
	struct stat st;
	return by_path && stat("/proc/self/ns/user", &st) == 0 && st.st_ino != HT_USERNS_INIT_INO;
}

static int sock_try(const struct sockaddr_un *a, socklen_t al, int by_path)
{
	int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (syscall(SYS_connect, s, a, al) != 0 || !peer_is_root(s, by_path)) {
		syscall(SYS_close, s);
		return -1;
	}
	return s;
}

/* A new socket connected to the collector, or -1: the path of the record
 * name under HT_RUN_DIR first (nobody else can bind it: a squatter of the
 * abstract name then does not even see our connection), then the name
 * itself (a collector without the path: another mount namespace). Uses raw
 * syscalls only. */
static int sock_open(void)
{
	if (!g_addrlen)
		return -1;
	struct sockaddr_un p;
	socklen_t pl = run_addr(&p, "");
	int s = pl ? sock_try(&p, pl, 1) : -1;
	return s >= 0 ? s : sock_try(&g_addr, g_addrlen, g_addr.sun_path[0] != '\0');
}

/* Moves s to a high descriptor (>= 800, or near RLIMIT_NOFILE if lower). */
static int sock_high(int s)
{
	int h = fcntl(s, F_DUPFD_CLOEXEC, 800);
	if (h < 0) { /* RLIMIT_NOFILE below ~800: go near its top instead */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur >= 8)
			h = fcntl(s, F_DUPFD_CLOEXEC,
				  (int)(rl.rlim_cur > 64 ? rl.rlim_cur - 32 : rl.rlim_cur - 2));
		if (h < 0) {
			/* never keep a low fd the program may expect to get itself */
			syscall(SYS_close, s);
			return -1;
		}
	}
	syscall(SYS_close, s);
	return h;
}

static uint64_t sock_pack(int fd, uint64_t ino)
{
	return (ino << 32) | (uint32_t)(fd + 1);
}

/* Our socket's fd if it is still ours (fstat inode check), else -1; *packed
 * receives the value it was checked against. */
static int sock_current(uint64_t *packed)
{
	uint64_t p = atomic_load_explicit(&g_sock, memory_order_acquire);
	*packed = p;
	if (!p)
		return -1;
	int fd = (int)(uint32_t)(p & 0xffffffffu) - 1;
	struct stat st;
	if (xfstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) || (uint32_t)st.st_ino != (uint32_t)(p >> 32))
		return -1;
	return fd;
}

static int send_err_is_peer_gone(int e)
{
	return e == ECONNREFUSED || e == EPIPE || e == ENOTCONN || e == ECONNRESET;
}

/* Sends one datagram from the process that owns our globals. */
static void send_own(const void *buf, size_t len)
{
	uint64_t p;
	int fd = sock_current(&p);
	if (fd >= 0 && !atomic_load_explicit(&g_broken, memory_order_relaxed)) {
		if (send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
			return;
		if (send_err_is_peer_gone(errno)) {
			atomic_store(&g_broken, 1);
			atomic_store(&g_retry_at, now_coarse_ms() + 1000);
		}
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		return;
	}
	if (fd < 0 && p) /* not ours any more: forget it, never close it */
		atomic_compare_exchange_strong(&g_sock, &p, 0);

	/* (re)connect: at most one thread, at most once per second */
	int64_t now = now_coarse_ms();
	int zero = 0;
	if (now < atomic_load(&g_retry_at) ||
	    !atomic_compare_exchange_strong(&g_connecting, &zero, 1)) {
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		return;
	}
	if (!momentary_begin()) { /* another thread's fork did not end */
		atomic_store(&g_connecting, 0);
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		return;
	}
	atomic_store(&g_retry_at, now + 1000);
	int s = sock_open();
	if (s < 0) {
		momentary_end();
		atomic_store(&g_connecting, 0);
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		return;
	}
	if (fd >= 0) {
		/* the old socket is still ours but its peer is gone: replace it in
		 * place, so its number is never free for the program to reuse while
		 * another thread may still send on it */
		if (syscall(SYS_dup3, s, fd, O_CLOEXEC) == fd) {
			syscall(SYS_close, s);
			s = fd;
		} else {
			s = sock_high(s);
		}
	} else {
		s = sock_high(s);
	}
	momentary_end(); /* the low number is closed; the high one is the transport's */
	struct stat st;
	if (s < 0 || xfstat(s, &st) != 0) {
		atomic_store(&g_connecting, 0);
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		return;
	}
	atomic_store_explicit(&g_sock, sock_pack(s, st.st_ino), memory_order_release);
	atomic_store(&g_broken, 0);
	atomic_store(&g_connecting, 0);
	if (send(s, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
}

/* A child of our vfork() runs while its parent waits, and the parent
 * resumes only once the child's exec has replaced the memory: anything the
 * shim does in the child (a connection to the collector, a record that
 * wakes it while the parent is about to run again) widens the window in
 * which the parent finds the child neither its copy nor its new image
 * (psutil reads its child's /proc/PID/cmdline there; docs/shim.md "What the
 * program can observe"). So such a child stays quiet about what the kernel
 * tells the collector anyway: its CLOSE, DUP and CLOSERANGE (the hooks only
 * make the real call: its new image's IMAGE, the collector's first record of
 * it, has its fd table read from the kernel, and so has a BIRTH), and its
 * EXEC and EXIT while it has sent nothing else (its new image announces
 * itself, an unshimmed one is found by the kernel's events or /proc, as a
 * raw-syscall child is). t_vfork is 1 in such a child; 2 once it has sent a
 * record (a CONNECT, an OPEN, a PIPE...): then its EXEC and EXIT go too, as
 * any record of a process the graph has heard of. The parent's thread keeps
 * the mark until its next hook, which asks getpid() and clears it. */
static int vfork_quiet(void)
{
	if (t_vfork != 1 || !g_pid)
		return 0;
	if (raw_getpid() != g_pid)
		return 1;
	t_vfork = 0; /* the parent, back: a vfork child of this thread has gone */
	return 0;
}

/* the record type of an encoded record (ht_enc_head: a fixarray, the
 * version and the type as positive fixints), 0 if not of that shape */
static int rec_type_of(const void *b, size_t l)
{
	const uint8_t *u = b;
	return l >= 3 && (u[0] & 0xf0) == 0x90 && u[1] < 0x80 && u[2] < 0x80 ? u[2] : 0;
}

/* A vfork / raw-clone child: writes no global. Uses the inherited socket if it
 * is still ours, else a temporary one that it closes again. b1 is its BIRTH,
 * b2 the record (or NULL). */
static void send_foreign(const void *b1, size_t l1, const void *b2, size_t l2)
{
	uint64_t p;
	int fd = sock_current(&p), tmp = -1;
	if ((fd < 0 || atomic_load_explicit(&g_broken, memory_order_relaxed)) &&
	    !atomic_load_explicit(&g_sandboxed, memory_order_relaxed))
		fd = tmp = sock_open();
	if (t_vfork)
		t_vfork = 2; /* it has spoken: its EXEC and EXIT go too (vfork_quiet) */
	if (fd < 0)
		return;
	send(fd, b1, l1, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (b2)
		send(fd, b2, l2, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (tmp >= 0)
		syscall(SYS_close, tmp);
}

/* ---------------------------------------------------------------- the ring */

/* A connection to the collector's ring socket (the record name +
 * HT_REC_RING_SUFFIX: its path under HT_RUN_DIR first, then the name), the
 * same peer check as the record socket; -1 if none. */
static int ring_sock_open(void)
{
	if (!g_addrlen)
		return -1;
	struct sockaddr_un p, a;
	socklen_t pl = run_addr(&p, HT_REC_RING_SUFFIX);
	int s = pl ? sock_try(&p, pl, 1) : -1;
	if (s >= 0)
		return s;
	size_t off = offsetof(struct sockaddr_un, sun_path), n = g_addrlen - off;
	int path = g_addr.sun_path[0] != '\0';
	if (path)
		n--; /* a pathname: without its NUL */
	if (n + sizeof(HT_REC_RING_SUFFIX) > sizeof(a.sun_path))
		return -1;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, g_addr.sun_path, n);
	memcpy(a.sun_path + n, HT_REC_RING_SUFFIX, sizeof(HT_REC_RING_SUFFIX) - 1);
	socklen_t al = (socklen_t)(off + n + sizeof(HT_REC_RING_SUFFIX) - 1 + (path ? 1 : 0));
	return sock_try(&a, al, path);
}

struct reg_job {
	const void *rec;
	size_t len;
	int64_t now;
};

/* The descriptors' part of ring_register (helper_run: in the helper). */
static int ring_register_fds(void *arg)
{
	const struct reg_job *j = arg;
	const void *rec = j->rec;
	size_t len = j->len;
	int64_t now = j->now;
	int rc = -2;
	/* not executable (vm.memfd_noexec=2 refuses an executable memfd); a
	 * kernel before 6.3 does not know the flag */
	int mfd = (int)syscall(SYS_memfd_create, "hoptrace", MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0008U);
	if (mfd < 0 && errno == EINVAL)
		mfd = (int)syscall(SYS_memfd_create, "hoptrace", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		if (errno != EMFILE && errno != ENFILE && errno != ENOMEM) {
			atomic_store(&g_ring_off, 1); /* no memfd / no sealing: the socket */
			rc = -1;
		}
		return rc;
	}
	void *old = atomic_load(&g_ring), *p = MAP_FAILED;
	if (syscall(SYS_ftruncate, mfd, (long)HT_RING_SIZE) != 0 ||
	    (p = mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0)) == MAP_FAILED)
		goto out_fd;
	ht_ring_init(p);
	/* not F_SEAL_SEAL: the collector adds F_SEAL_FUTURE_WRITE | F_SEAL_SEAL
	 * once it has mapped the ring (ring.h: no hole can be punched then) */
	if (fcntl(mfd, F_ADD_SEALS, HT_RING_SEALS_SHIM) != 0) {
		munmap(p, HT_RING_SIZE);
		if (errno == EINVAL) {
			atomic_store(&g_ring_off, 1);
			rc = -1;
		}
		goto out_fd;
	}
	if (old) { /* the new ring where the old one was */
		munmap(p, HT_RING_SIZE);
		p = mmap(old, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd, 0);
		if (p == MAP_FAILED) /* the old mapping is gone: never leave it unmapped */
			p = mmap(old, HT_RING_SIZE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != old)
			goto out_fd; /* cannot happen with MAP_FIXED; keep nothing */
	}
	madvise(p, HT_RING_SIZE, MADV_DONTFORK); /* a fork child registers its own */
	atomic_store_explicit(&g_beat_seen, 0, memory_order_relaxed);
	int s = ring_sock_open();
	if (s >= 0) {
		struct iovec iov = {(void *)rec, len};
		union {
			char b[CMSG_SPACE(sizeof(int))];
			struct cmsghdr a;
		} cb;
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.b,
				    .msg_controllen = sizeof(cb.b)};
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &mfd, sizeof(int));
		if (syscall(SYS_sendmsg, s, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == (long)len)
			rc = 0;
		syscall(SYS_close, s);
	}
	if (rc == 0) { /* registered: records go into it from now on */
		atomic_store_explicit(&g_beat_t, now, memory_order_relaxed);
		if (!old)
			atomic_store_explicit(&g_ring, p, memory_order_release);
	} else if (!old) { /* nobody has seen it: gone again */
		munmap(p, HT_RING_SIZE);
	} else { /* the old mapping holds an unregistered ring: try again soon */
		atomic_store_explicit(&g_beat_t, now - 3000, memory_order_relaxed);
	}
out_fd:
	syscall(SYS_close, mfd);
	return rc;
}

/* Registers a new ring with rec (the record that needed it) as the datagram
 * that carries it. Two descriptors (the memfd, the connection) exist only
 * inside this call, in the helper's own table (helper_run), and are closed
 * before it returns. A re-registration maps
 * the new memfd over the old mapping (MAP_FIXED): a thread still writing
 * into the old one writes into the new one, never into unmapped memory.
 * Returns 0 when the record went with it; -1 (memfd sealing unavailable:
 * g_ring_off set, the caller uses the socket path) or -2 (failed this time:
 * the record went on a momentary record-socket connection, tried again in a second). */
static int ring_register(const void *rec, size_t len)
{
	int64_t now = now_coarse_ms();
	int zero = 0;
	if (now < atomic_load(&g_ring_retry_at) ||
	    !atomic_compare_exchange_strong(&g_connecting, &zero, 1))
		return -2;
	if (!momentary_begin()) { /* another thread's fork did not end */
		atomic_store(&g_connecting, 0);
		return -2;
	}
	atomic_store(&g_ring_retry_at, now + 1000);
	struct reg_job j = {rec, len, now};
	int rc = helper_run(ring_register_fds, &j);
	momentary_end();
	atomic_store(&g_connecting, 0);
	return rc;
}

/* Is the collector still reading our ring (it bumps `beat` every second)? */
static int ring_alive(void *r, int64_t now)
{
	uint32_t b = atomic_load_explicit(&ht_ring_hdr(r)->beat, memory_order_relaxed);
	if (b != atomic_load_explicit(&g_beat_seen, memory_order_relaxed)) {
		atomic_store_explicit(&g_beat_seen, b, memory_order_relaxed);
		atomic_store_explicit(&g_beat_t, now, memory_order_relaxed);
		return 1;
	}
	return now - atomic_load_explicit(&g_beat_t, memory_order_relaxed) < 3000;
}

/* A record whose ring registration failed this time (the ring listener's
 * backlog full, the collector slow to accept, another thread registering):
 * sent on a momentary connection to the record socket, closed again at once
 * (no descriptor is left in the program), so that a transient failure loses
 * nothing; counted lost only when that fails too. A process that emits few
 * records (a shell waiting for its children) would otherwise be missing
 * from the graph: nothing of it was applied, and it may not emit again. */
static int momentary_fds(void *arg)
{
	const struct reg_job *j = arg;
	int s = sock_open();
	if (s < 0)
		atomic_store(&g_momentary_retry_at, j->now + 1000);
	if (s < 0 || syscall(SYS_sendto, s, j->rec, j->len, MSG_DONTWAIT | MSG_NOSIGNAL, NULL, 0) !=
			     (long)j->len)
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
	if (s >= 0)
		syscall(SYS_close, s);
	return 0;
}

static void send_momentary(const void *buf, size_t len)
{
	/* no record socket a moment ago (no collector): not again for a
	 * second — a connect per record would be all cost and no gain */
	int64_t now = now_coarse_ms();
	if (now < atomic_load(&g_momentary_retry_at) || !momentary_begin()) {
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		return;
	}
	struct reg_job j = {buf, len, now};
	helper_run(momentary_fds, &j);
	momentary_end();
}

/* Places a record in our ring, registering one first when there is none.
 * Returns 0 when handled (placed, or lost and counted), -1 when the ring is
 * not to be used (the socket path). */
static int ring_emit(const void *buf, size_t len)
{
	if (atomic_load_explicit(&g_ring_off, memory_order_relaxed))
		return -1;
	void *r = atomic_load_explicit(&g_ring, memory_order_acquire);
	if (!r) {
		int rc = ring_register(buf, len);
		if (rc == -2)
			send_momentary(buf, len);
		return rc == -1 ? -1 : 0;
	}
	uint32_t fill = 0;
	int64_t now = now_coarse_ms();
	if (!ring_alive(r, now)) { /* the collector went away: a new one, a new ring */
		if (ring_register(buf, len) != 0)
			send_momentary(buf, len);
		return 0;
	}
	struct ht_ring_hdr *h = ht_ring_hdr(r);
	if (ht_ring_put(r, buf, len, &fill) != 0) {
		/* full: counted lost (never a wait, never a descriptor); the
		 * doorbell makes the collector read sooner */
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&h->lost, 1, memory_order_relaxed);
		fill = HT_RING_SLOTS;
	}
	/* half full: ring the doorbell once (the collector clears `wake`) */
	if (fill >= HT_RING_SLOTS / 2 && !atomic_load_explicit(&h->wake, memory_order_relaxed) &&
	    !atomic_exchange_explicit(&h->wake, 1, memory_order_relaxed))
		ring_bell(); /* (a load first: no read-modify-write of the collector's line per record) */
	return 0;
}

static void early_init(void);

/* Sends an encoded record; the caller saved errno. */
static void emit(const struct ht_enc *e)
{
	if (!g_pid)
		early_init();
	pid_t me = g_pid;
	if (!own_sure() && (me = raw_getpid()) == g_pid)
		t_vfork = 0; /* the parent: a vfork child of this thread has gone */
	if (me != g_pid) {
		int t = e->len == (size_t)-1 ? 0 : rec_type_of(e->buf, e->len);
		if (vfork_quiet() && (t == HT_REC_EXEC || t == HT_REC_EXIT))
			return; /* (vfork_quiet) */
		uint8_t b[64];
		struct ht_enc be;
		ht_enc_init(&be, b, sizeof(b));
		ht_enc_head(&be, HT_REC_BIRTH, now_ns(), 2);
		ht_enc_int(&be, g_pid);
		ht_enc_uint(&be, 0);
		if (e->len == (size_t)-1)
			send_foreign(be.buf, be.len, NULL, 0);
		else
			send_foreign(be.buf, be.len, e->buf, e->len);
		return;
	}
	if (e->len == (size_t)-1) {
		atomic_fetch_add_explicit(&g_lost, 1, memory_order_relaxed);
		return;
	}
	if (ring_emit(e->buf, e->len) == 0)
		return;
	send_own(e->buf, e->len);
}

/* true if we are the process that owns the globals (not a vfork child) */
static int own_process(void)
{
	return own_sure() || raw_getpid() == g_pid;
}

/* ------------------------------------------------------------ fd helpers */

static int pty_index(int fd, uint64_t *idx)
{
	unsigned int n;
	if (ioctl(fd, TIOCGPTN, &n) != 0)
		return -1;
	*idx = n;
	return 0;
}

/* Is this stat a channel we report (pipe/fifo, socket, pty master or slave)? */
static int mode_relevant(const struct stat *st)
{
	if (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode))
		return 1;
	if (S_ISCHR(st->st_mode)) {
		unsigned int ma = major(st->st_rdev), mi = minor(st->st_rdev);
		return (ma == 5 && mi == 2) || (ma >= 136 && ma <= 143);
	}
	return 0;
}

/* Channel of fd given its stat; 0 if not relevant. */
static int chan_of(int fd, const struct stat *st, struct ht_chan *c)
{
	memset(c, 0, sizeof(*c));
	if (S_ISFIFO(st->st_mode)) {
		c->kind = HT_CHAN_PIPE;
		c->dev = st->st_dev;
		c->ino = st->st_ino;
		return 1;
	}
	if (S_ISSOCK(st->st_mode)) {
		c->kind = HT_CHAN_SOCK;
		c->ino = st->st_ino;
		return 1;
	}
	if (S_ISCHR(st->st_mode)) {
		unsigned int ma = major(st->st_rdev), mi = minor(st->st_rdev);
		if (ma == 5 && mi == 2) {
			c->kind = HT_CHAN_PTY;
			return pty_index(fd, &c->ino) == 0;
		}
		if (ma >= 136 && ma <= 143) {
			c->kind = HT_CHAN_PTY;
			c->ino = (uint64_t)(ma - 136) * 256 + mi;
			return 1;
		}
	}
	return 0;
}

static int fd_chan(int fd, struct ht_chan *c)
{
	struct stat st;
	if (xfstat(fd, &st) != 0)
		return 0;
	return chan_of(fd, &st, c);
}

static int fd_relevant(int fd)
{
	struct stat st;
	return xfstat(fd, &st) == 0 && mode_relevant(&st);
}

/* The descriptors a hook of ours reported as a channel end (pipe, FIFO,
 * socket, pty), one bit per fd below HT_FDTAB: close() and dup2() onto them
 * need no fstat to know a CLOSE is due. A bit only ever says "send the
 * record": a descriptor the program closed by a path we do not see (fclose of
 * an fdopen'ed pipe, a raw syscall) and that came back as something else
 * costs one CLOSE for a descriptor that is indeed being closed — a true
 * claim, about an fd the collector holds nothing for or is about to learn
 * is gone. A clear bit means "ask the kernel" (fstat, as before). The
 * table is memory: a fork child inherits it with the descriptors, exec
 * starts it empty. */
#define HT_FDTAB 4096
static _Atomic uint64_t g_chanfd[HT_FDTAB / 64];

static void chanfd_set(int fd)
{
	if (fd >= 0 && fd < HT_FDTAB)
		atomic_fetch_or_explicit(&g_chanfd[fd / 64], 1ULL << (fd % 64), memory_order_relaxed);
}

static void chanfd_clear(int fd)
{
	if (fd >= 0 && fd < HT_FDTAB)
		atomic_fetch_and_explicit(&g_chanfd[fd / 64], ~(1ULL << (fd % 64)),
					  memory_order_relaxed);
}

static int chanfd_test(int fd)
{
	return fd >= 0 && fd < HT_FDTAB &&
	       (atomic_load_explicit(&g_chanfd[fd / 64], memory_order_relaxed) >> (fd % 64)) & 1;
}

/* clears the bit and says whether it was set */
static int chanfd_take(int fd)
{
	if (fd < 0 || fd >= HT_FDTAB)
		return 0;
	uint64_t m = 1ULL << (fd % 64);
	return (atomic_fetch_and_explicit(&g_chanfd[fd / 64], ~m, memory_order_relaxed) & m) != 0;
}

static void chanfd_clear_range(unsigned int first, unsigned int last)
{
	for (unsigned int w = first / 64; w < HT_FDTAB / 64 && w * 64 <= last; w++) {
		uint64_t m = ~0ULL;
		if (w == first / 64)
			m &= ~0ULL << (first % 64);
		if (last / 64 == w)
			m &= ~0ULL >> (63 - last % 64);
		atomic_fetch_and_explicit(&g_chanfd[w], ~m, memory_order_relaxed);
	}
}

/* Our socket's fd number (no fstat), or -1. */
static int our_fd(uint64_t *packed)
{
	uint64_t p = atomic_load_explicit(&g_sock, memory_order_acquire);
	*packed = p;
	return p ? (int)(uint32_t)(p & 0xffffffffu) - 1 : -1;
}

/* The program is about to close / overwrite fd: if it is our socket, forget it
 * (in our own process only). Returns 1 if it was ours. */
static int forget_if_ours(int fd)
{
	uint64_t p;
	if (fd < 0 || our_fd(&p) != fd)
		return 0;
	if (own_process() && atomic_compare_exchange_strong(&g_sock, &p, 0))
		atomic_store(&g_retry_at, 0); /* the program took it: reconnect at once */
	return 1;
}

/* --------------------------------------------------------- record senders */

#define REC_BEGIN(type, nf)                                                       \
	uint8_t rb_[HT_REC_MAX];                                                 \
	struct ht_enc e_;                                                        \
	ht_enc_init(&e_, rb_, sizeof(rb_));                                      \
	ht_enc_head(&e_, (type), now_ns(), (nf))

/* strings are cut to 255 bytes so that their msgpack str8 length fits */
static void enc_str(struct ht_enc *e, const char *s)
{
	char b[256];
	size_t n = s ? strnlen(s, sizeof(b) - 1) : 0;
	if (n)
		memcpy(b, s, n);
	b[n] = '\0';
	ht_enc_str(e, b);
}

static void enc_sa(struct ht_enc *e, const struct sockaddr *sa, socklen_t len)
{
	struct ht_addr a;
	if (ht_addr_from_sockaddr(&a, sa, len) != 0)
		memset(&a, 0, sizeof(a));
	ht_enc_addr(e, &a);
}

static void rec_simple0(enum ht_rec_type t)
{
	REC_BEGIN(t, 0);
	emit(&e_);
}

static void rec_1int(enum ht_rec_type t, int64_t a)
{
	REC_BEGIN(t, 1);
	ht_enc_int(&e_, a);
	emit(&e_);
}

static void rec_2int(enum ht_rec_type t, int64_t a, int64_t b)
{
	REC_BEGIN(t, 2);
	ht_enc_int(&e_, a);
	ht_enc_int(&e_, b);
	emit(&e_);
}

static void rec_fd_chan(enum ht_rec_type t, int fd, const struct ht_chan *c)
{
	REC_BEGIN(t, 2);
	ht_enc_int(&e_, fd);
	ht_enc_chan(&e_, c);
	emit(&e_);
	chanfd_set(fd);
}

static void rec_pty(int master, int slave, const struct ht_chan *c)
{
	REC_BEGIN(HT_REC_PTY, 3);
	ht_enc_int(&e_, master);
	ht_enc_int(&e_, slave);
	ht_enc_chan(&e_, c);
	emit(&e_);
	chanfd_set(master);
	chanfd_set(slave);
}

static void rec_exit(int status)
{
	REC_BEGIN(HT_REC_EXIT, 2);
	ht_enc_int(&e_, status);
	/* a vfork child has lost nothing of its own (g_lost is the parent's) */
	ht_enc_uint(&e_, own_process() ? atomic_load(&g_lost) : 0);
	emit(&e_);
}

static void report_pty_master(int master, int slave)
{
	struct ht_chan c = { HT_CHAN_PTY, 0, 0 };
	if (pty_index(master, &c.ino) == 0)
		rec_pty(master, slave, &c);
}

/* ------------------------------------------------------- process identity */

static void atfork_prepare(void)
{
	atomic_store_explicit(&g_fork_ts, now_ns(), memory_order_relaxed);
	if (g_disabled || t_momentary) /* a fork from a handler inside our own window */
		return;
	/* no new momentary descriptor from now until the fork is done, and
	 * those open in other threads closed first: none is copied into the
	 * child (bounded: past ~10 ms the fork goes ahead regardless) */
	atomic_fetch_add(&g_forking, 1);
	t_forking = 1;
	wait_zero(&g_momentary);
}

static void atfork_parent(void)
{
	if (t_forking) {
		t_forking = 0;
		atomic_fetch_sub(&g_forking, 1);
	}
}

static void atfork_child(void)
{
	if (g_disabled)
		return;
	int se = errno;
	pid_t old = g_pid;
	g_pid = raw_getpid();
	atomic_store(&g_lost, 0);
	atomic_store(&g_connecting, 0);
	/* the parent's ring is not in this process (MADV_DONTFORK): our own */
	atomic_store(&g_ring, NULL);
	atomic_store(&g_ring_retry_at, 0);
	atomic_store(&g_momentary_retry_at, 0);
	atomic_store(&g_exit_sent, 0);
	/* the other threads, their windows and forks are not in this process */
	atomic_store(&g_forking, 0);
	atomic_store(&g_momentary, t_momentary);
	atomic_store(&g_hbusy, 0);
	t_forking = 0;
	t_vfork = 0;
	/* last: from here on our records go to our ring (registered below) */
	pid_t *tok = atomic_load(&g_token);
	if (tok)
		*(volatile pid_t *)tok = g_pid;
	REC_BEGIN(HT_REC_BIRTH, 2);
	ht_enc_int(&e_, old);
	ht_enc_uint(&e_, atomic_load_explicit(&g_fork_ts, memory_order_relaxed));
	t_onethread = 1; /* a fork child has the one thread that forked */
	emit(&e_);
	t_onethread = 0;
	errno = se;
}

static void on_exit_cb(int status, void *arg)
{
	(void)arg;
	int zero = 0;
	if (g_disabled || !own_process() ||
	    !atomic_compare_exchange_strong(&g_exit_sent, &zero, 1))
		return;
	int se = errno;
	rec_exit(status);
	errno = se;
}

static atomic_int g_inited;

/* uid 0 of the machine, not of a user namespace any user can make
 * (`unshare -Ur`): the initial user namespace's inode is fixed
 * (PROC_USER_INIT_INO). Asked only when HOPTRACE_DISABLE is set. */
static int in_init_userns(void)
{
	struct stat st; /* (no descriptor: stat follows the namespace link) */
	return stat("/proc/self/ns/user", &st) == 0 && st.st_ino == 0xEFFFFFFDu;
}

/* Does a seccomp filter bind this image already (inherited across exec:
 * systemd's SystemCallFilter=, a sandbox launcher's, sshd's children)? The
 * shim did not see it installed and cannot know what it kills: any system
 * call of ours beyond those that loaded us could be the process's death
 * (SIGSYS). Asked with exactly the calls ld.so made to load us —
 * openat(O_RDONLY|O_CLOEXEC), read, close — not prctl(PR_GET_SECCOMP),
 * which a filter may kill. No /proc: none assumed (as before). ~4 µs. */
static char g_status[4096]; /* early_init runs once */

static int seccomp_inherited(void)
{
	/* HOPTRACE_SECCOMP=allow: whoever runs us says the filter refuses the
	 * shim's calls with an errno at worst (a test's no_memfd); not under
	 * AT_SECURE (secure_getenv) */
	const char *a = secure_getenv("HOPTRACE_SECCOMP");
	if (a && !strcmp(a, "allow"))
		return 0;
	int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t n = 0;
	for (;;) {
		long r = syscall(SYS_read, fd, g_status + n, sizeof(g_status) - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n >= sizeof(g_status) - 1)
			break;
	}
	syscall(SYS_close, fd);
	g_status[n] = '\0';
	const char *p = strstr(g_status, "\nSeccomp:");
	if (!p)
		return 0;
	p += sizeof("\nSeccomp:") - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p >= '1' && *p <= '9';
}

static void early_init(void)
{
	int zero = 0;
	if (!atomic_compare_exchange_strong(&g_inited, &zero, 1))
		return;
	/* first, before any other system call of ours */
	if (seccomp_inherited()) {
		g_disabled = 1;
		return;
	}
	/* HOPTRACE_DISABLE is honoured only in a process root runs (real and
	 * effective uid 0, not a setuid image): a user who could switch the shim
	 * off in an intermediate process would cut its children's lineage
	 * (issue 10). hoptrace's own daemons run as root. */
	if (!getauxval(AT_SECURE) && getuid() == 0 && geteuid() == 0) {
		const char *d = secure_getenv("HOPTRACE_DISABLE");
		if (d && d[0] == '1' && in_init_userns())
			g_disabled = 1;
	}
	g_pid = raw_getpid();
	addr_init();
	bell_init();
	if (!g_disabled)
		token_init();
}

__attribute__((constructor)) static void ht_ctor(int argc, char **argv, char **envp)
{
	(void)envp;
	int se = errno;
	early_init();
	resolve_all();
	if (g_disabled) {
		errno = se;
		return;
	}
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	on_exit(on_exit_cb, NULL);

	/* the executable: the path execve() was given (AT_EXECFN, free; one
	 * lstat), else /proc/self/exe (a readlink costs ~15 µs, 2% of a spawn) —
	 * when that path is relative, names a file through /proc or /dev (a
	 * re-exec of /proc/self/exe, fexecve), is a #! script (the kernel puts
	 * the script's path among the interpreter's arguments; the image is the
	 * interpreter) or a symlink (/usr/bin/nc -> /etc/alternatives/nc). The
	 * collector reads /proc/PID/exe itself and takes this claim only for a
	 * process already gone. */
	char exe[256];
	struct stat ls;
	const char *fn = (const char *)getauxval(AT_EXECFN);
	int script = fn && argv && argc > 1 &&
		     (!strcmp(argv[1], fn) || (argc > 2 && !strcmp(argv[2], fn)));
	if (fn && fn[0] == '/' && strncmp(fn, "/proc/", 6) && strncmp(fn, "/dev/", 5) && !script &&
	    strnlen(fn, sizeof(exe)) < sizeof(exe) && lstat(fn, &ls) == 0 && S_ISREG(ls.st_mode)) {
		memcpy(exe, fn, strlen(fn) + 1);
	} else {
		ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
	}
	REC_BEGIN(HT_REC_IMAGE, 3);
	ht_enc_int(&e_, getppid());
	enc_str(&e_, exe);
	enc_str(&e_, (argc > 0 && argv) ? argv[0] : "");
	emit(&e_);
	errno = se;
}

__attribute__((destructor)) static void ht_dtor(void)
{
	/* on_exit() already reported exit()'s status; this covers the rest
	 * (returning from main with on_exit unavailable, dlclose) */
	int zero = 0;
	if (g_disabled || !own_process() ||
	    !atomic_compare_exchange_strong(&g_exit_sent, &zero, 1))
		return;
	int se = errno;
	rec_exit(-1);
	errno = se;
}

/* ================================================================= hooks */

#define SAVE int se_ = errno
#define RESTORE errno = se_

/* ---- clone: a child sharing our memory (see own_sure) ---- */

EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	va_list ap;
	va_start(ap, arg);
	pid_t *ptid = va_arg(ap, pid_t *);
	void *tls = va_arg(ap, void *);
	pid_t *ctid = va_arg(ap, pid_t *);
	va_end(ap);
	if (!RESOLVE(clone)) {
		errno = ENOSYS;
		return -1;
	}
	if ((flags & CLONE_VM) && !(flags & CLONE_THREAD))
		atomic_store(&g_shared_vm, 1);
	if (flags & (CLONE_THREAD | CLONE_FILES)) /* another task in our descriptor table */
		atomic_store(&g_clone_shared, 1);
	return real_clone(fn, stack, flags, arg, ptid, tls, ctid);
}

/* ---- connect / accept ---- */

static void report_connfail(int fd, int err)
{
	struct stat st;
	if (xfstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return;
	struct ht_chan c = { HT_CHAN_SOCK, 0, st.st_ino };
	REC_BEGIN(HT_REC_CONNFAIL, 3);
	ht_enc_int(&e_, fd);
	ht_enc_chan(&e_, &c);
	ht_enc_int(&e_, err);
	emit(&e_);
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int recorded = 0;
	if (!RESOLVE(connect)) {
		errno = ENOSYS;
		return -1;
	}
	if (!g_disabled && addr && len >= (socklen_t)sizeof(sa_family_t) &&
	    (addr->sa_family == AF_INET || addr->sa_family == AF_INET6 ||
	     addr->sa_family == AF_UNIX)) {
		SAVE;
		int type = 0;
		socklen_t tl = sizeof(type);
		struct stat st;
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 &&
		    (type == SOCK_STREAM || type == SOCK_SEQPACKET) && xfstat(fd, &st) == 0) {
			struct ht_chan c = { HT_CHAN_SOCK, 0, st.st_ino };
			REC_BEGIN(HT_REC_CONNECT, 4);
			ht_enc_int(&e_, fd);
			ht_enc_chan(&e_, &c);
			ht_enc_int(&e_, type);
			enc_sa(&e_, addr, len);
			emit(&e_);
			recorded = 1;
			chanfd_set(fd);
			if (type == SOCK_STREAM && remote_inet(addr, len))
				ring_bell();
		}
		RESTORE;
	}
	int rc = real_connect(fd, addr, len);
	if (rc < 0 && recorded && errno != EINPROGRESS && errno != EINTR && errno != EALREADY &&
	    errno != EISCONN && errno != EAGAIN) {
		SAVE;
		report_connfail(fd, se_);
		RESTORE;
	}
	return rc;
}

/* A non-blocking connect's outcome: programs ask with getsockopt(SO_ERROR)
 * (ssh, nc). A failed attempt (refused, unreachable, timed out — e.g. the
 * IPv6 address tried before the IPv4 one) is no connection and no source. */
EXPORT int getsockopt(int fd, int level, int optname, void *optval, socklen_t *optlen)
{
	if (!RESOLVE(getsockopt)) {
		errno = ENOSYS;
		return -1;
	}
	int rc = real_getsockopt(fd, level, optname, optval, optlen);
	if (rc == 0 && !g_disabled && level == SOL_SOCKET && optname == SO_ERROR && optval &&
	    optlen && *optlen >= (socklen_t)sizeof(int)) {
		int err;
		memcpy(&err, optval, sizeof(err));
		if (err != 0 && err != EINPROGRESS && err != EALREADY) {
			SAVE;
			report_connfail(fd, err);
			RESTORE;
		}
	}
	return rc;
}

static void report_accept(int lfd, int nfd, const struct sockaddr *peer, socklen_t peerlen)
{
	union {
		struct sockaddr sa;
		struct sockaddr_storage ss;
		struct sockaddr_un un;
	} loc, pr;
	socklen_t ll = sizeof(loc);
	if (getsockname(nfd, &loc.sa, &ll) != 0)
		return;
	int fam = loc.sa.sa_family;
	if (fam != AF_INET && fam != AF_INET6 && fam != AF_UNIX)
		return;
	int type = SOCK_STREAM; /* accept() on inet works on TCP (stream) only */
	if (fam == AF_UNIX) {
		socklen_t tl = sizeof(type);
		if (getsockopt(nfd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0)
			return;
	}
	if (type != SOCK_STREAM && type != SOCK_SEQPACKET)
		return;
	struct stat sn, sl;
	if (xfstat(nfd, &sn) != 0 || xfstat(lfd, &sl) != 0)
		return;
	if (!peer) {
		socklen_t pl = sizeof(pr);
		if (getpeername(nfd, &pr.sa, &pl) == 0) {
			peer = &pr.sa;
			peerlen = pl;
		} else {
			peerlen = 0;
		}
	}
	struct ht_chan c = { HT_CHAN_SOCK, 0, sn.st_ino }, lc = { HT_CHAN_SOCK, 0, sl.st_ino };
	REC_BEGIN(HT_REC_ACCEPT, 6);
	ht_enc_int(&e_, nfd);
	ht_enc_chan(&e_, &c);
	ht_enc_chan(&e_, &lc);
	ht_enc_int(&e_, type);
	enc_sa(&e_, &loc.sa, ll);
	enc_sa(&e_, peer, peerlen);
	emit(&e_);
	chanfd_set(nfd);
}

static int accept_common(int fd, struct sockaddr *addr, socklen_t *alen, int flags, int four)
{
	/* a caller that does not want the peer's address gets none, but the
	 * kernel hands it to us in the same call (no getpeername afterwards) */
	union {
		struct sockaddr sa;
		struct sockaddr_storage ss;
	} own;
	socklen_t ownlen = sizeof(own);
	int mine = !g_disabled && !addr;
	struct sockaddr *a = mine ? &own.sa : addr;
	socklen_t *al = mine ? &ownlen : alen;
	socklen_t orig = (a && al) ? *al : 0;
	int r = four ? real_accept4(fd, a, al, flags) : real_accept(fd, a, al);
	if (r >= 0 && !g_disabled) {
		SAVE;
		/* a truncated address is asked for again; an unnamed unix peer's
		 * (family only) is what getpeername would say too */
		int ok = a && al && *al <= orig;
		report_accept(fd, r, ok ? a : NULL, ok ? *al : 0);
		RESTORE;
	}
	return r;
}

EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *alen)
{
	if (!RESOLVE(accept)) {
		errno = ENOSYS;
		return -1;
	}
	return accept_common(fd, addr, alen, 0, 0);
}

EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *alen, int flags)
{
	if (!RESOLVE(accept4)) {
		errno = ENOSYS;
		return -1;
	}
	return accept_common(fd, addr, alen, flags, 1);
}

/* ---- pipes, socketpairs, ptys ---- */

static void report_pipe(int fds[2])
{
	struct stat st;
	if (xfstat(fds[0], &st) != 0)
		return;
	struct ht_chan c = { HT_CHAN_PIPE, st.st_dev, st.st_ino };
	REC_BEGIN(HT_REC_PIPE, 3);
	ht_enc_int(&e_, fds[0]);
	ht_enc_int(&e_, fds[1]);
	ht_enc_chan(&e_, &c);
	emit(&e_);
	chanfd_set(fds[0]);
	chanfd_set(fds[1]);
}

EXPORT int pipe(int fds[2])
{
	if (!RESOLVE(pipe)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_pipe(fds);
	if (r == 0 && !g_disabled) {
		SAVE;
		report_pipe(fds);
		RESTORE;
	}
	return r;
}

EXPORT int pipe2(int fds[2], int flags)
{
	if (!RESOLVE(pipe2)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_pipe2(fds, flags);
	if (r == 0 && !g_disabled) {
		SAVE;
		report_pipe(fds);
		RESTORE;
	}
	return r;
}

EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
	if (!RESOLVE(socketpair)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_socketpair(domain, type, proto, sv);
	if (r == 0 && !g_disabled) {
		SAVE;
		struct stat s0, s1;
		if (xfstat(sv[0], &s0) == 0 && xfstat(sv[1], &s1) == 0) {
			struct ht_chan c0 = { HT_CHAN_SOCK, 0, s0.st_ino };
			struct ht_chan c1 = { HT_CHAN_SOCK, 0, s1.st_ino };
			REC_BEGIN(HT_REC_SOCKETPAIR, 4);
			ht_enc_int(&e_, sv[0]);
			ht_enc_chan(&e_, &c0);
			ht_enc_int(&e_, sv[1]);
			ht_enc_chan(&e_, &c1);
			emit(&e_);
			chanfd_set(sv[0]);
			chanfd_set(sv[1]);
		}
		RESTORE;
	}
	return r;
}

EXPORT int openpty(int *am, int *as, char *name, const struct termios *tp,
		   const struct winsize *wp)
{
	if (!RESOLVE(openpty)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_openpty(am, as, name, tp, wp);
	if (r == 0 && !g_disabled && am) {
		SAVE;
		report_pty_master(*am, as ? *as : -1);
		RESTORE;
	}
	return r;
}

EXPORT pid_t forkpty(int *am, char *name, const struct termios *tp, const struct winsize *wp)
{
	if (!RESOLVE(forkpty)) {
		errno = ENOSYS;
		return -1;
	}
	/* the fork inside runs our atfork child handler (BIRTH) */
	pid_t r = real_forkpty(am, name, tp, wp);
	if (!g_disabled && r >= 0) {
		SAVE;
		if (r == 0)
			rec_simple0(HT_REC_RESYNC); /* stdio is now the pty slave */
		else if (am)
			report_pty_master(*am, -1);
		RESTORE;
	}
	return r;
}

EXPORT int posix_openpt(int flags)
{
	if (!RESOLVE(posix_openpt)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_posix_openpt(flags);
	if (r >= 0 && !g_disabled) {
		SAVE;
		report_pty_master(r, -1);
		RESTORE;
	}
	return r;
}

/* glibc's getpt() opens /dev/ptmx itself (not through our open): GNU screen
 * gets every window's master this way */
EXPORT int getpt(void)
{
	if (!RESOLVE(getpt)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_getpt();
	if (r >= 0 && !g_disabled) {
		SAVE;
		report_pty_master(r, -1);
		RESTORE;
	}
	return r;
}

/* ---- open family: only FIFOs and ptys are reported ---- */

static void report_open(int fd)
{
	struct stat st;
	if (xfstat(fd, &st) != 0)
		return;
	if (S_ISFIFO(st.st_mode)) {
		struct ht_chan c = { HT_CHAN_FIFO, st.st_dev, st.st_ino };
		rec_fd_chan(HT_REC_OPEN, fd, &c);
	} else if (S_ISCHR(st.st_mode)) {
		unsigned int ma = major(st.st_rdev), mi = minor(st.st_rdev);
		if (ma == 5 && mi == 2) {
			report_pty_master(fd, -1);
		} else if (ma >= 136 && ma <= 143) {
			struct ht_chan c = { HT_CHAN_PTY, 0, (uint64_t)(ma - 136) * 256 + mi };
			rec_fd_chan(HT_REC_OPEN, fd, &c);
		}
	}
}

#define OPEN_TAIL(r, flags)                                                       \
	do {                                                                     \
		if ((r) >= 0 && !g_disabled && !((flags) & O_DIRECTORY)) {       \
			SAVE;                                                    \
			report_open(r);                                          \
			RESTORE;                                                 \
		}                                                                \
		return (r);                                                      \
	} while (0)

#define GET_MODE(flags, mode)                                                     \
	mode_t mode = 0;                                                         \
	if ((flags) & (O_CREAT | __O_TMPFILE)) {                                 \
		va_list ap_;                                                     \
		va_start(ap_, flags);                                            \
		mode = (mode_t)va_arg(ap_, int);                                 \
		va_end(ap_);                                                     \
	}

EXPORT int open(const char *path, int flags, ...)
{
	GET_MODE(flags, mode);
	if (!RESOLVE(open)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_open(path, flags, mode);
	OPEN_TAIL(r, flags);
}

EXPORT int open64(const char *path, int flags, ...)
{
	GET_MODE(flags, mode);
	if (!RESOLVE(open64)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_open64(path, flags, mode);
	OPEN_TAIL(r, flags);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	GET_MODE(flags, mode);
	if (!RESOLVE(openat)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_openat(dirfd, path, flags, mode);
	OPEN_TAIL(r, flags);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	GET_MODE(flags, mode);
	if (!RESOLVE(openat64)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_openat64(dirfd, path, flags, mode);
	OPEN_TAIL(r, flags);
}

EXPORT int __open_2(const char *path, int flags)
{
	if (!RESOLVE(__open_2)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real___open_2(path, flags);
	OPEN_TAIL(r, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	if (!RESOLVE(__open64_2)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real___open64_2(path, flags);
	OPEN_TAIL(r, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	if (!RESOLVE(__openat_2)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real___openat_2(dirfd, path, flags);
	OPEN_TAIL(r, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	if (!RESOLVE(__openat64_2)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real___openat64_2(dirfd, path, flags);
	OPEN_TAIL(r, flags);
}

/* ---- SCM_RIGHTS ---- */

static void report_rights(const struct msghdr *msg, int sockfd, enum ht_rec_type t)
{
	struct ht_chan via = { HT_CHAN_SOCK, 0, 0 };
	int have_via = 0;
	struct msghdr *m = (struct msghdr *)msg;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *d = CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, d + i * sizeof(int), sizeof(int));
			struct ht_chan ch;
			if (!fd_chan(fd, &ch))
				continue;
			if (!have_via) {
				struct stat st;
				if (xfstat(sockfd, &st) != 0)
					return;
				via.ino = st.st_ino;
				have_via = 1;
			}
			REC_BEGIN(t, 3);
			ht_enc_int(&e_, fd);
			ht_enc_chan(&e_, &ch);
			ht_enc_chan(&e_, &via);
			emit(&e_);
			if (t == HT_REC_FDRECV)
				chanfd_set(fd);
		}
	}
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!RESOLVE(sendmsg)) {
		errno = ENOSYS;
		return -1;
	}
	ssize_t r = real_sendmsg(fd, msg, flags);
	if (r >= 0 && !g_disabled && msg && msg->msg_control &&
	    msg->msg_controllen >= sizeof(struct cmsghdr)) {
		SAVE;
		report_rights(msg, fd, HT_REC_FDSEND);
		RESTORE;
	}
	return r;
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!RESOLVE(recvmsg)) {
		errno = ENOSYS;
		return -1;
	}
	ssize_t r = real_recvmsg(fd, msg, flags);
	if (r >= 0 && !g_disabled && msg && msg->msg_control &&
	    msg->msg_controllen >= sizeof(struct cmsghdr)) {
		SAVE;
		report_rights(msg, fd, HT_REC_FDRECV);
		RESTORE;
	}
	return r;
}

/* ---- prctl: a seccomp filter installed (sshd's preauth sandbox) ---- */

/* A filter (or strict mode) now binds the calling thread and what it forks,
 * maybe (TSYNC) every thread: no descriptor of ours from now on; strict mode
 * allows only read/write/exit: no system call of ours at all. No hook code
 * of ours runs in the calling thread in between; the flag is the whole
 * process's (other threads may be filtered next). */
static void seccomp_set(int strict)
{
	atomic_store(&g_sandboxed, 1);
	if (strict)
		g_disabled = 1;
}

EXPORT int prctl(int option, ...)
{
	va_list ap;
	va_start(ap, option);
	unsigned long a2 = va_arg(ap, unsigned long), a3 = va_arg(ap, unsigned long),
		      a4 = va_arg(ap, unsigned long), a5 = va_arg(ap, unsigned long);
	va_end(ap);
	if (!RESOLVE(prctl)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_prctl(option, a2, a3, a4, a5);
	if (r == 0 && option == PR_SET_SECCOMP)
		seccomp_set(a2 == SECCOMP_MODE_STRICT);
	return r;
}

#if defined(__x86_64__)
/* ---- syscall(): seccomp(2) has no libc wrapper; libseccomp's
 * seccomp_load() and others call syscall(SYS_seccomp, ...) ---- */

EXPORT long ht_syscall_hook(long n, ...) __asm__("syscall");
EXPORT long ht_syscall_hook(long n, ...)
{
	va_list ap;
	va_start(ap, n);
	long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long),
	     d = va_arg(ap, long), e = va_arg(ap, long), f = va_arg(ap, long);
	va_end(ap);
	long r = ht_sys(n, a, b, c, d, e, f);
	if (n == SYS_seccomp && r >= 0 &&
	    (a == SECCOMP_SET_MODE_STRICT || a == SECCOMP_SET_MODE_FILTER))
		seccomp_set(a == SECCOMP_SET_MODE_STRICT);
	return r;
}
#endif

/* ---- close / dup ---- */

EXPORT int close(int fd)
{
	if (!RESOLVE(close)) {
		errno = ENOSYS;
		return -1;
	}
	if (g_disabled || vfork_quiet())
		return real_close(fd);
	SAVE;
	int rel = 0;
	if (!forget_if_ours(fd))
		rel = chanfd_take(fd) || fd_relevant(fd);
	RESTORE;
	int r = real_close(fd);
	if (rel && (r == 0 || errno == EINTR)) {
		int se2 = errno;
		rec_1int(HT_REC_CLOSE, fd);
		errno = se2;
	}
	return r;
}

static void report_dup(int oldfd, int newfd, int new_was_relevant)
{
	int now = chanfd_test(oldfd) || fd_relevant(newfd);
	if (now)
		chanfd_set(newfd);
	else
		chanfd_clear(newfd);
	if (new_was_relevant || now)
		rec_2int(HT_REC_DUP, oldfd, newfd);
}

EXPORT int dup(int oldfd)
{
	if (!RESOLVE(dup)) {
		errno = ENOSYS;
		return -1;
	}
	int r = real_dup(oldfd);
	if (r >= 0 && !g_disabled && !vfork_quiet()) {
		SAVE;
		report_dup(oldfd, r, 0);
		RESTORE;
	}
	return r;
}

static int dup23(int oldfd, int newfd, int flags, int three)
{
	if (vfork_quiet())
		return three ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	int was = 0;
	if (!g_disabled && oldfd != newfd) {
		SAVE;
		if (!forget_if_ours(newfd))
			was = chanfd_test(newfd) || fd_relevant(newfd);
		RESTORE;
	}
	int r = three ? real_dup3(oldfd, newfd, flags) : real_dup2(oldfd, newfd);
	if (r >= 0 && !g_disabled && oldfd != newfd) {
		SAVE;
		report_dup(oldfd, r, was);
		RESTORE;
	}
	return r;
}

EXPORT int dup2(int oldfd, int newfd)
{
	if (!RESOLVE(dup2)) {
		errno = ENOSYS;
		return -1;
	}
	return dup23(oldfd, newfd, 0, 0);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (!RESOLVE(dup3)) {
		errno = ENOSYS;
		return -1;
	}
	return dup23(oldfd, newfd, flags, 1);
}

static void report_closerange(unsigned int first, unsigned int last)
{
	/* sent while our socket is still open; then we forget it if the range
	 * covers it (the real call closes it) */
	if (first <= 0x7fffffffu && last >= first)
		rec_2int(HT_REC_CLOSERANGE, first, last > 0x7fffffffu ? 0x7fffffffu : last);
	if (last >= first)
		chanfd_clear_range(first, last);
	uint64_t p;
	int ofd = our_fd(&p);
	if (ofd >= 0 && (unsigned int)ofd >= first && (unsigned int)ofd <= last && own_process() &&
	    atomic_compare_exchange_strong(&g_sock, &p, 0))
		atomic_store(&g_retry_at, 0); /* ssh, sshd: closefrom() early in main */
}

EXPORT void closefrom(int lowfd)
{
	if (!RESOLVE(closefrom))
		return;
	if (!g_disabled && !vfork_quiet() && lowfd >= 0) {
		SAVE;
		/* sent first: afterwards our own socket is gone too */
		report_closerange((unsigned int)lowfd, ~0u);
		RESTORE;
	}
	real_closefrom(lowfd);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	if (!RESOLVE(close_range)) {
		errno = ENOSYS;
		return -1;
	}
	if (!g_disabled && !vfork_quiet() && !(flags & CLOSE_RANGE_CLOEXEC)) {
		SAVE;
		report_closerange(first, last);
		RESTORE;
	}
	return real_close_range(first, last, flags);
}

/* ---- exec family: EXEC(path), then the real call ---- */

static void report_exec(const char *path)
{
	if (g_disabled || vfork_quiet())
		return;
	SAVE;
	REC_BEGIN(HT_REC_EXEC, 1);
	enc_str(&e_, path ? path : "");
	emit(&e_);
	RESTORE;
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	if (!RESOLVE(execve)) {
		errno = ENOSYS;
		return -1;
	}
	report_exec(path);
	return real_execve(path, argv, envp);
}

EXPORT int execv(const char *path, char *const argv[])
{
	if (!RESOLVE(execv)) {
		errno = ENOSYS;
		return -1;
	}
	report_exec(path);
	return real_execv(path, argv);
}

EXPORT int execvp(const char *file, char *const argv[])
{
	if (!RESOLVE(execvp)) {
		errno = ENOSYS;
		return -1;
	}
	report_exec(file);
	return real_execvp(file, argv);
}

EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!RESOLVE(execvpe)) {
		errno = ENOSYS;
		return -1;
	}
	report_exec(file);
	return real_execvpe(file, argv, envp);
}

EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!RESOLVE(fexecve)) {
		errno = ENOSYS;
		return -1;
	}
	if (!g_disabled) {
		char p[32];
		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		report_exec(p);
	}
	return real_fexecve(fd, argv, envp);
}

/* The variadic forms: argv is built on the stack, as glibc itself does; the
 * count is bounded (E2BIG past it, as the kernel would say). */
#define HT_EXECL_MAX 65536

#define COUNT_ARGS(arg, n)                                                        \
	size_t n = 1;                                                            \
	{                                                                        \
		va_list c_;                                                      \
		va_start(c_, arg);                                               \
		while (n <= HT_EXECL_MAX && va_arg(c_, char *) != NULL)          \
			n++;                                                     \
		va_end(c_);                                                      \
	}                                                                        \
	if (n > HT_EXECL_MAX) {                                                  \
		errno = E2BIG;                                                   \
		return -1;                                                       \
	}

EXPORT int execl(const char *path, const char *arg, ...)
{
	COUNT_ARGS(arg, n);
	char *av[n + 1];
	va_list ap;
	va_start(ap, arg);
	av[0] = (char *)arg;
	for (size_t i = 1; i <= n; i++)
		av[i] = va_arg(ap, char *);
	va_end(ap);
	av[n] = NULL;
	return execv(path, av);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	COUNT_ARGS(arg, n);
	char *av[n + 1];
	va_list ap;
	va_start(ap, arg);
	av[0] = (char *)arg;
	for (size_t i = 1; i <= n; i++)
		av[i] = va_arg(ap, char *);
	va_end(ap);
	av[n] = NULL;
	return execvp(file, av);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	COUNT_ARGS(arg, n);
	char *av[n + 1];
	char **envp;
	va_list ap;
	va_start(ap, arg);
	av[0] = (char *)arg;
	for (size_t i = 1; i <= n; i++)
		av[i] = va_arg(ap, char *); /* av[n] = the terminating NULL */
	envp = va_arg(ap, char **);
	va_end(ap);
	av[n] = NULL;
	return execve(path, av, envp);
}

/* ---- spawning ---- */

/* SPAWN's second field is spawn_ts (uint); rec_2int is not used for it. */
static void rec_spawn(pid_t child, uint64_t ts)
{
	REC_BEGIN(HT_REC_SPAWN, 2);
	ht_enc_int(&e_, child);
	ht_enc_uint(&e_, ts);
	emit(&e_);
}

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
		       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!RESOLVE(posix_spawn))
		return ENOSYS;
	uint64_t ts = g_disabled ? 0 : now_ns();
	pid_t local;
	if (!pid)
		pid = &local;
	int r = real_posix_spawn(pid, path, fa, attr, argv, envp);
	if (r == 0 && !g_disabled) {
		SAVE;
		rec_spawn(*pid, ts);
		RESTORE;
	}
	return r;
}

EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	if (!RESOLVE(posix_spawnp))
		return ENOSYS;
	uint64_t ts = g_disabled ? 0 : now_ns();
	pid_t local;
	if (!pid)
		pid = &local;
	int r = real_posix_spawnp(pid, file, fa, attr, argv, envp);
	if (r == 0 && !g_disabled) {
		SAVE;
		rec_spawn(*pid, ts);
		RESTORE;
	}
	return r;
}

/* system(): a pass-through. glibc runs "/bin/sh -c" through an internal
 * posix_spawn (clone CLONE_VM|CLONE_VFORK) that reaches none of our hooks, and
 * system() hides the child's pid. The shell's own image reports itself (IMAGE
 * with ppid = us) from our constructor, which is all the collector needs; the
 * wrapper exists so that the entry point is accounted for in one place. */
EXPORT int system(const char *cmd)
{
	if (!RESOLVE(system)) {
		errno = ENOSYS;
		return -1;
	}
	return real_system(cmd);
}

EXPORT FILE *popen(const char *cmd, const char *type)
{
	if (!RESOLVE(popen)) {
		errno = ENOSYS;
		return NULL;
	}
	FILE *fp = real_popen(cmd, type);
	if (fp && !g_disabled) {
		SAVE;
		int fd = fileno(fp);
		struct ht_chan c;
		if (fd >= 0 && fd_chan(fd, &c))
			rec_fd_chan(HT_REC_OPEN, fd, &c);
		RESTORE;
	}
	return fp;
}

EXPORT int daemon(int nochdir, int noclose)
{
	if (!RESOLVE(daemon)) {
		errno = ENOSYS;
		return -1;
	}
	/* its fork runs our atfork child handler (BIRTH); after the return we are
	 * the daemonised process, with stdio maybe moved to /dev/null */
	int r = real_daemon(nochdir, noclose);
	if (r == 0 && !g_disabled) {
		SAVE;
		rec_simple0(HT_REC_RESYNC);
		RESTORE;
	}
	return r;
}

/* ---- exit ---- */

static void report_exit_now(int status)
{
	if (g_disabled || vfork_quiet())
		return;
	if (own_process()) {
		int zero = 0;
		if (!atomic_compare_exchange_strong(&g_exit_sent, &zero, 1))
			return;
	}
	rec_exit(status);
}

EXPORT void _exit(int status)
{
	report_exit_now(status);
	if (RESOLVE(_exit))
		real__exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

EXPORT void _Exit(int status)
{
	report_exit_now(status);
	if (RESOLVE(_Exit))
		real__Exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}
