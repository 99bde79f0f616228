/*
 * judge_proc.c — the judge process (judge.h): `hoptraced -J 3`, started by the root
 * monitor (judge_svc.c) like the inquiry child. As root it reads the fleet CA and CRL and
 * warms up the libraries the part checks use; then it drops (ps_drop: the [inquiry] user,
 * chroot to the empty directory, no_new_privs, not dumpable, RLIMIT_NOFILE 8), installs a
 * seccomp filter — read on its socket, write on its socket and stderr, memory, exit; a
 * file lookup some library might still try fails with EACCES; anything else kills it —
 * and from then on reads requests, judges (judge_run) and writes verdicts, one at a
 * time. It logs nothing after the filter (syslog would need a socket).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <mbedtls/x509_crt.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "hoptrace/log.h"
#include "inquiry.h"
#include "judge.h"
#include "parts.h"

#if defined(__x86_64__)
#define JD_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define JD_ARCH AUDIT_ARCH_AARCH64
#else
#error "the judge's seccomp filter knows x86_64 and aarch64"
#endif

#define ARG0 (offsetof(struct seccomp_data, args[0]))

static int seal(int fd)
{
	struct sock_filter f[80];
	int k = 0;
#define STMT(c, v) f[k++] = (struct sock_filter)BPF_STMT(c, v)
#define JUMP(c, v, t, e) f[k++] = (struct sock_filter)BPF_JUMP(c, v, t, e)
#define ALLOW(nr)                                          \
	do {                                               \
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1); \
		STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);  \
	} while (0)
#define DENY(nr)                                                          \
	do {                                                              \
		JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);                \
		STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EACCES & 0xffff)); \
	} while (0)
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, JD_ARCH, 1, 0);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/* read: its socket only */
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_read, 0, 4);
	STMT(BPF_LD | BPF_W | BPF_ABS, ARG0);
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)fd, 0, 1);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	/* write: its socket and stderr (-d) */
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_write, 0, 5);
	STMT(BPF_LD | BPF_W | BPF_ABS, ARG0);
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)fd, 1, 0);
	JUMP(BPF_JMP | BPF_JEQ | BPF_K, 2, 0, 1);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	/* memory, time, exit */
	ALLOW(__NR_brk);
	ALLOW(__NR_mmap);
	ALLOW(__NR_munmap);
	ALLOW(__NR_mremap);
	ALLOW(__NR_madvise);
	ALLOW(__NR_mprotect);
	ALLOW(__NR_clock_gettime);
	ALLOW(__NR_gettimeofday);
	ALLOW(__NR_rt_sigreturn);
	ALLOW(__NR_exit);
	ALLOW(__NR_exit_group);
	/* lazy file lookups of a library fail softly */
	DENY(__NR_openat);
	DENY(__NR_newfstatat);
	DENY(__NR_fstat);
	DENY(__NR_readlinkat);
	DENY(__NR_faccessat);
	DENY(__NR_getrandom);
#ifdef __NR_open
	DENY(__NR_open);
	DENY(__NR_stat);
	DENY(__NR_access);
	DENY(__NR_readlink);
#endif
	STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#undef STMT
#undef JUMP
#undef ALLOW
#undef DENY
	struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* the libraries' lazy set-up, done now while files can be read: the CA's key through the
 * path the part checks take (d2i_PUBKEY, its group, a SHA-256 ECDSA verification) */
static void warm_up(const char *ca_file)
{
	mbedtls_x509_crt c;
	mbedtls_x509_crt_init(&c);
	if (ca_file && mbedtls_x509_crt_parse_file(&c, ca_file) == 0) {
		const unsigned char *p = c.pk_raw.p;
		EVP_PKEY *k = p ? d2i_PUBKEY(NULL, &p, (long)c.pk_raw.len) : NULL;
		char grp[32];
		size_t gl = 0;
		unsigned char sig[8] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
		if (k) {
			EVP_PKEY_get_utf8_string_param(k, "group", grp, sizeof grp, &gl);
			EVP_MD_CTX *m = EVP_MD_CTX_new();
			if (m && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, k) == 1)
				(void)EVP_DigestVerify(m, sig, sizeof sig, (const unsigned char *)"x", 1);
			EVP_MD_CTX_free(m);
			EVP_PKEY_free(k);
		}
	}
	mbedtls_x509_crt_free(&c);
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(1); /* the monitor is gone */
		p += w;
		n -= (size_t)w;
	}
}

static void on_frame(int fd, struct pki_trust *t, const struct jd_reader *r)
{
	char why[160];
	size_t n = 0;
	unsigned char *f = NULL;
	if (r->h.type == JD_PING) {
		f = jd_frame(JD_PONG, r->h.id, NULL, 0, NULL, 0, &n);
	} else {
		struct jd_req_view v;
		if (jd_parse_req(r->buf, r->h.len, &v, why, sizeof why) != 0)
			_exit(2); /* the monitor's own bytes: a bug, end here */
		int missing = 0;
		char *text = judge_run_ex(t, v.nonce, v.own, v.own_len, v.up, v.up_len, &missing);
		if (!text)
			_exit(3);
		/* the certificates held, when they changed: the monitor's next "have" */
		static char last[PART_HAVE_CHARS + 1];
		char have[PART_HAVE_CHARS + 1];
		size_t hl = parts_have(have, sizeof have);
		if (strcmp(have, last) != 0) {
			size_t hn = 0;
			unsigned char *hf = jd_frame(JD_HAVE, 0, have, hl, NULL, 0, &hn);
			if (!hf)
				_exit(3);
			write_all(fd, hf, hn);
			free(hf);
			memcpy(last, have, sizeof last);
		}
		f = jd_frame(missing ? JD_VERDICT_RETRY : JD_VERDICT, r->h.id, text, strlen(text), NULL,
			     0, &n);
		free(text);
	}
	if (!f)
		_exit(3);
	write_all(fd, f, n);
	free(f);
}

int judge_main(const struct inq_conf *c, int fd)
{
	char err[512];
	struct pki_trust *t = NULL;
	if (!c->lab_plain) {
		t = pki_trust_load(c->fleet_ca, c->fleet_crl[0] ? c->fleet_crl : NULL, err, sizeof err);
		if (!t)
			fatalx("judge: [fleet] %s", err);
		warm_up(c->fleet_ca);
	}
	if (ps_drop(c->user, c->chroot, 8, err, sizeof err) != 0)
		fatalx("judge: %s", err);
	log_info("judge: running as uid %d in %s, %s", (int)getuid(), c->chroot,
		 t ? "checking signed parts" : "lab_plain (nothing checked)");
	if (seal(fd) != 0)
		fatalx("judge: seccomp: %s", strerror(errno));
	/* nothing but read, write, memory and exit from here on */
	static unsigned char buf[65536];
	struct jd_reader r = {.to_judge = 1};
	for (;;) {
		ssize_t got = read(fd, buf, sizeof buf);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			_exit(0);
		size_t off = 0;
		while (off < (size_t)got) {
			size_t used;
			int rv = jd_feed(&r, buf + off, (size_t)got - off, &used, err, sizeof err);
			off += used;
			if (rv < 0)
				_exit(2);
			if (rv == 1) {
				on_frame(fd, t, &r);
				jd_take(&r);
			}
		}
	}
}
