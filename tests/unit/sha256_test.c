/* sha256_test.c — collector/sha256.c: NIST vectors, streaming, exe hash cache */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/procfs.h"
#include "../../collector/sha256.h"
#include "test.h"

static void hash_str(const void *p, size_t n, char hex[65])
{
	struct sha256_ctx c;
	uint8_t d[32];
	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_final(&c, d);
	sha256_hex(d, hex);
}

static void test_nist(void)
{
	char hex[65];
	hash_str("", 0, hex);
	CHECK_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hash_str("abc", 3, hex);
	CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hash_str(m448, strlen(m448), hex);
	CHECK_EQ_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnop"
			   "jklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	hash_str(m896, strlen(m896), hex);
	CHECK_EQ_STR(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");

	/* a million 'a', fed in odd-sized pieces */
	struct sha256_ctx c;
	uint8_t d[32];
	char a[1000];
	memset(a, 'a', sizeof(a));
	sha256_init(&c);
	size_t left = 1000000, step = 1;
	while (left) {
		size_t n = step < left ? step : left;
		if (n > sizeof(a))
			n = sizeof(a);
		sha256_update(&c, a, n);
		left -= n;
		step = step * 7 % 997 + 1;
	}
	sha256_final(&c, d);
	sha256_hex(d, hex);
	CHECK_EQ_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* padding edge cases: streaming equals one-shot for every length 0..200 */
static void test_split(void)
{
	uint8_t msg[200];
	for (int i = 0; i < 200; i++)
		msg[i] = (uint8_t)(i * 31 + 7);
	for (size_t n = 0; n <= 200; n++) {
		char one[65], two[65];
		struct sha256_ctx c;
		uint8_t d[32];
		hash_str(msg, n, one);
		for (size_t cut = 0; cut <= n; cut += 13) {
			sha256_init(&c);
			sha256_update(&c, msg, cut);
			sha256_update(&c, msg + cut, n - cut);
			sha256_final(&c, d);
			sha256_hex(d, two);
			if (strcmp(one, two) != 0) {
				CHECK_EQ_STR(two, one);
				return;
			}
		}
	}
	/* 55, 56, 63, 64 bytes of 'a' (known values) */
	char hex[65], a[64];
	memset(a, 'a', sizeof(a));
	hash_str(a, 55, hex);
	CHECK_EQ_STR(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
	hash_str(a, 56, hex);
	CHECK_EQ_STR(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
	hash_str(a, 64, hex);
	CHECK_EQ_STR(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_speed(void)
{
	size_t n = 1 << 20;
	uint8_t *buf = malloc(n), d[32];
	struct sha256_ctx c;
	memset(buf, 0x5a, n);
	double best = 1e9;
	for (int r = 0; r < 5; r++) {
		double t0 = now_ms();
		sha256_init(&c);
		sha256_update(&c, buf, n);
		sha256_final(&c, d);
		double t = now_ms() - t0;
		if (t < best)
			best = t;
	}
	printf("    sha256 of 1 MiB: %.2f ms\n", best);
	CHECK(best < 100.0); /* loose: also holds under ASan; the -O2 build is ~3 ms */
	free(buf);
}

static char dir[64];

static void writefile(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, s, strlen(s)), (long long)strlen(s));
	close(fd);
}

static void test_exehash(void)
{
	char path[128], link[128], hex[65], want[65];
	uint64_t hits, misses;

	strcpy(dir, "/tmp/sha256_testXXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	exehash_clear();
	procfs_set_root(dir);
	snprintf(path, sizeof(path), "%s/prog", dir);
	writefile(path, "abc");
	snprintf(link, sizeof(link), "%s/42", dir);
	mkdir(link, 0755);
	snprintf(link, sizeof(link), "%s/42/exe", dir);
	CHECK_EQ_INT(symlink(path, link), 0);

	CHECK_EQ_INT(exehash_get(42, hex), 0);
	CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(hits, 0);
	CHECK_EQ_INT(misses, 1);
	CHECK_EQ_INT(exehash_get(42, hex), 0);
	CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(hits, 1);
	CHECK_EQ_INT(misses, 1);

	/* changed file (new size and mtime) -> re-read, new hash */
	struct timespec ts[2] = {{0, UTIME_OMIT}, {1000000, 0}};
	writefile(path, "abcd");
	utimensat(AT_FDCWD, path, ts, 0);
	hash_str("abcd", 4, want);
	CHECK_EQ_INT(exehash_get(42, hex), 0);
	CHECK_EQ_STR(hex, want);
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(misses, 2);
	/* same size, different mtime -> re-read */
	writefile(path, "abce");
	ts[1].tv_sec = 2000000;
	utimensat(AT_FDCWD, path, ts, 0);
	hash_str("abce", 4, want);
	CHECK_EQ_INT(exehash_get(42, hex), 0);
	CHECK_EQ_STR(hex, want);
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(misses, 3);
	CHECK_EQ_INT(hits, 1);

	/* missing pid, not a regular file */
	CHECK_EQ_INT(exehash_get(43, hex), -ENOENT);
	snprintf(link, sizeof(link), "%s/44", dir);
	mkdir(link, 0755);
	snprintf(link, sizeof(link), "%s/44/exe", dir);
	CHECK_EQ_INT(symlink(dir, link), 0);
	CHECK_EQ_INT(exehash_get(44, hex), -EINVAL);

	/* the real /proc: our own executable, twice */
	procfs_set_root(NULL);
	char h1[65], h2[65];
	CHECK_EQ_INT(exehash_get(getpid(), h1), 0);
	CHECK_EQ_INT(exehash_get(getpid(), h2), 0);
	CHECK_EQ_STR(h1, h2);
	int fd = open("/proc/self/exe", O_RDONLY);
	uint8_t d[32];
	CHECK_EQ_INT(sha256_fd(fd, d), 0);
	close(fd);
	sha256_hex(d, want);
	CHECK_EQ_STR(h1, want);
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(hits, 2);
	CHECK_EQ_INT(misses, 4);
}

/* a pid directory PID/exe -> path under dir */
static void mkexe(int pid, const char *path)
{
	char link[160];
	snprintf(link, sizeof(link), "%s/%d", dir, pid);
	mkdir(link, 0755);
	snprintf(link, sizeof(link), "%s/%d/exe", dir, pid);
	unlink(link);
	CHECK_EQ_INT(symlink(path, link), 0);
}

static void writesize(const char *path, size_t n, char fill)
{
	char *b = malloc(n);
	CHECK(b != NULL);
	memset(b, fill, n);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, b, n), (long long)n);
	close(fd);
	free(b);
}

static void hash_file(const char *path, char hex[65])
{
	uint8_t d[32];
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ_INT(sha256_fd(fd, d), 0);
	close(fd);
	sha256_hex(d, hex);
}

/* the attack of issue 10 (7): rewrite in place at the same size, put the
 * old mtime back — the cache must not keep the old hash (ctime moved) */
static void test_rewrite_same_size_mtime(void)
{
	char path[128], hex[65], want[65];
	struct stat sb;
	strcpy(dir, "/tmp/sha256_rwXXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	exehash_clear();
	procfs_set_root(dir);
	snprintf(path, sizeof(path), "%s/prog", dir);
	writefile(path, "good program");
	mkexe(50, path);
	CHECK_EQ_INT(exehash_get(50, hex), 0);
	hash_str("good program", 12, want);
	CHECK_EQ_STR(hex, want);
	CHECK_EQ_INT(stat(path, &sb), 0);

	/* variant 1: write(2) over it, same size, utimensat back */
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ_INT(pwrite(fd, "evil program", 12, 0), 12);
	close(fd);
	struct timespec ts[2] = {sb.st_atim, sb.st_mtim};
	CHECK_EQ_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
	struct stat sb2;
	CHECK_EQ_INT(stat(path, &sb2), 0);
	CHECK_EQ_INT(sb2.st_size, sb.st_size);
	CHECK(sb2.st_mtim.tv_sec == sb.st_mtim.tv_sec && sb2.st_mtim.tv_nsec == sb.st_mtim.tv_nsec);
	CHECK_EQ_INT(exehash_get(50, hex), 0);
	hash_str("evil program", 12, want);
	CHECK_EQ_STR(hex, want);

	/* variant 2: through exehash_request (the collector's path), a
	 * truncate + rewrite, mtime restored again */
	uint32_t t;
	CHECK_EQ_INT(exehash_request(50, 1000, hex, &t), 0);
	CHECK_EQ_STR(hex, want);
	CHECK_EQ_INT(truncate(path, 0), 0);
	writefile(path, "evil prograN");
	CHECK_EQ_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
	CHECK_EQ_INT(exehash_request(50, 1000, hex, &t), 0);
	hash_str("evil prograN", 12, want);
	CHECK_EQ_STR(hex, want);

	/* variant 3: a hard link elsewhere written to, mtime restored: same inode */
	char other[160];
	snprintf(other, sizeof(other), "%s/alias", dir);
	CHECK_EQ_INT(link(path, other), 0);
	fd = open(other, O_WRONLY);
	CHECK_EQ_INT(pwrite(fd, "Evil", 4, 0), 4);
	close(fd);
	CHECK_EQ_INT(utimensat(AT_FDCWD, other, ts, 0), 0);
	CHECK_EQ_INT(exehash_request(50, 1000, hex, &t), 0);
	hash_str("Evil prograN", 12, want);
	CHECK_EQ_STR(hex, want);
}

/* large files go to the background; a uid's budget; a small user's job is
 * not stuck behind another user's large ones; per-uid job limit */
static void test_background(void)
{
	char path[128], hex[65], want[65];
	struct exehash_bg_stats st;
	uint32_t t;
	exehash_clear();
	/* one 64 MiB file per attacker job, four jobs (the per-uid limit) */
	for (int i = 0; i < EXEHASH_JOBS_UID + 1; i++) {
		snprintf(path, sizeof(path), "%s/big%d", dir, i);
		writesize(path, 64u << 20, (char)('a' + i));
		mkexe(100 + i, path);
	}
	snprintf(path, sizeof(path), "%s/victim", dir);
	writesize(path, EXEHASH_SYNC_MAX + 1, 'v'); /* over the sync limit: background too */
	mkexe(200, path);

	for (int i = 0; i < EXEHASH_JOBS_UID; i++)
		CHECK_EQ_INT(exehash_request(100 + i, 4242, hex, &t), -EINPROGRESS);
	/* the fifth job of the same uid is refused, not queued */
	CHECK_EQ_INT(exehash_request(100 + EXEHASH_JOBS_UID, 4242, hex, &t), -EBUSY);
	uint32_t vt;
	CHECK_EQ_INT(exehash_request(200, 0, hex, &vt), -EINPROGRESS);
	/* the victim's file is done while the attacker's are still being read */
	struct timespec slp = {0, 2000000};
	int vdone = 0, n = 0;
	for (; n < 5000 && !vdone; n++) {
		vdone = exehash_peek(vt, hex) == 0;
		if (!vdone)
			nanosleep(&slp, NULL);
	}
	CHECK(vdone);
	hash_file(path, want);
	CHECK_EQ_STR(hex, want);
	exehash_bg_stats(&st);
	CHECK(st.done < 1 + EXEHASH_JOBS_UID); /* some attacker job still runs */
	CHECK_EQ_INT(st.refused, 1);
	CHECK_EQ_INT(exehash_drain(60000), 0);
	exehash_bg_stats(&st);
	CHECK_EQ_INT(st.done, 1 + EXEHASH_JOBS_UID);
	/* now cached: a hit on the caller's thread */
	snprintf(path, sizeof(path), "%s/big0", dir);
	hash_file(path, want);
	CHECK_EQ_INT(exehash_request(100, 4242, hex, &t), 0);
	CHECK_EQ_STR(hex, want);
	CHECK_EQ_INT(exehash_peek(0, hex), -ENOENT);

	/* a file written while the background reads it is not cached */
	snprintf(path, sizeof(path), "%s/big1", dir);
	int fd = open(path, O_WRONLY);
	CHECK_EQ_INT(pwrite(fd, "x", 1, 0), 1);
	close(fd);
	CHECK_EQ_INT(exehash_request(101, 4242, hex, &t), -EINPROGRESS);
	fd = open(path, O_WRONLY);
	CHECK_EQ_INT(pwrite(fd, "y", 1, 1), 1);
	close(fd);
	CHECK_EQ_INT(exehash_drain(60000), 0);
	exehash_bg_stats(&st);
	CHECK_EQ_INT(st.changed, 1);
	CHECK_EQ_INT(exehash_peek(t, hex), -ENOENT);
}

/* the sync budget: a uid that hashes a lot on the caller's thread is moved
 * to the background; another uid still hashes at once */
static void test_budget(void)
{
	char path[128], hex[65];
	struct exehash_bg_stats st;
	uint32_t t;
	exehash_clear();
	int bg = 0, i;
	for (i = 0; i < 200 && !bg; i++) {
		snprintf(path, sizeof(path), "%s/s%d", dir, i);
		writesize(path, EXEHASH_SYNC_MAX, (char)i);
		mkexe(300 + i, path);
		int rc = exehash_request(300 + i, 777, hex, &t);
		CHECK(rc == 0 || rc == -EINPROGRESS);
		bg = rc == -EINPROGRESS;
	}
	CHECK(bg);     /* the budget ran out */
	CHECK(i > 1);  /* but not at once */
	snprintf(path, sizeof(path), "%s/other", dir);
	writesize(path, 4096, 'o');
	mkexe(299, path);
	CHECK_EQ_INT(exehash_request(299, 778, hex, &t), 0);
	exehash_bg_stats(&st);
	CHECK_EQ_INT(st.sync, (uint64_t)i);
	CHECK_EQ_INT(exehash_drain(60000), 0);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
	procfs_set_root(NULL);
}

/* more distinct files than the cache holds: old entries are evicted */
static void test_eviction(void)
{
	enum { N = EXEHASH_CACHE + 100 };
	char path[128], hex[65], want[65], body[32];
	uint64_t hits, misses;
	exehash_clear();
	int *fds = malloc(N * sizeof(int));
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		snprintf(body, sizeof(body), "file %d", i);
		writefile(path, body);
		fds[i] = open(path, O_RDONLY);
		unlink(path);
	}
	for (int i = 0; i < N; i++)
		CHECK_EQ_INT(exehash_fd(fds[i], hex), 0);
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(misses, N);
	/* the most recent are still there, each with its own hash */
	for (int i = N - 50; i < N; i++) {
		snprintf(body, sizeof(body), "file %d", i);
		hash_str(body, strlen(body), want);
		CHECK_EQ_INT(exehash_fd(fds[i], hex), 0);
		CHECK_EQ_STR(hex, want);
	}
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(hits, 50);
	/* the first one was evicted: a miss, still the right hash */
	CHECK_EQ_INT(exehash_fd(fds[0], hex), 0);
	hash_str("file 0", 6, want);
	CHECK_EQ_STR(hex, want);
	exehash_stats(&hits, &misses);
	CHECK_EQ_INT(misses, N + 1);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	free(fds);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK_EQ_INT(system(cmd), 0);
}

T_MAIN("sha256", T(test_nist), T(test_split), T(test_speed), T(test_exehash), T(test_eviction),
       T(test_rewrite_same_size_mtime), T(test_background), T(test_budget))
