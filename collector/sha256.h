/*
 * sha256.h — SHA-256 (FIPS 180-4, mbedTLS's), streaming, plus the collector's cache of
 * executable hashes.
 */
#ifndef HOPTRACE_COLLECTOR_SHA256_H
#define HOPTRACE_COLLECTOR_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <mbedtls/sha256.h>

/* mbedTLS's SHA-256 behind the names the collector has always used */
struct sha256_ctx {
	mbedtls_sha256_context m;
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t n);
void sha256_final(struct sha256_ctx *c, uint8_t out[32]);
void sha256_hex(const uint8_t d[32], char out[65]); /* lower case, NUL-terminated */

/* Hashes everything readable from fd (from its current offset) in 64 KiB reads.
 * 0 or -errno. */
int sha256_fd(int fd, uint8_t out[32]);

/*
 * SHA-256 of /proc/PID/exe (below procfs_root()), as lower-case hex. Cached by
 * (st_dev, st_ino, st_size, st_mtim, st_ctim) of the opened file: up to
 * EXEHASH_CACHE entries, clock (second chance) eviction. Thread-safe.
 * The key holds st_ctim because a user can restore a rewritten file's size and
 * mtime (utimensat) but not its ctime: any write, chmod or utimensat sets it to
 * the current time. A hash is cached only if the file's key is the same after
 * it was read as before (a write during the read is not cached). 0 or -errno.
 */
#define EXEHASH_CACHE 4096
int exehash_get(pid_t pid, char hex[65]);
/* the same for an open file (the cache is shared) */
int exehash_fd(int fd, char hex[65]);
void exehash_stats(uint64_t *hits, uint64_t *misses);
void exehash_clear(void); /* empties the cache and zeroes the counters */

/*
 * The collector's entry point (the graph thread): never hashes for long.
 * A cache hit returns 0 with hex set. A miss on a file of at most
 * EXEHASH_SYNC_MAX bytes is hashed at once while the uid's budget lasts
 * (EXEHASH_BUDGET_NS of hashing, refilled at EXEHASH_REFILL_NS a second);
 * anything else goes to one background thread that reads every job in
 * EXEHASH_CHUNK pieces, uid by uid in turn, so one user's large or many
 * executables delay another user's hash by about one chunk per user.
 * Returns -EINPROGRESS with *ticket set (ask exehash_peek later), or -errno
 * (unknown hash): -EFBIG over EXEHASH_MAX_SIZE, -EBUSY queue full (at most
 * EXEHASH_JOBS_UID per uid), -EPERM on a FUSE file system (its server, maybe
 * the user, could stall any read).
 */
#define EXEHASH_SYNC_MAX (2u << 20)
#define EXEHASH_MAX_SIZE (1ull << 30)
#define EXEHASH_BUDGET_NS (50ull * 1000000ull)
#define EXEHASH_REFILL_NS (10ull * 1000000ull)
#define EXEHASH_CHUNK (256u << 10)
#define EXEHASH_JOBS 64
#define EXEHASH_JOBS_UID 4
int exehash_request(pid_t pid, uid_t uid, char hex[65], uint32_t *ticket);
/* 0 with hex set once the ticket's file is hashed; -EINPROGRESS while it is
 * being read; -ENOENT when it failed or the ticket is too old */
int exehash_peek(uint32_t ticket, char hex[65]);
struct exehash_bg_stats {
	uint64_t sync, queued, done, refused, changed;
};
void exehash_bg_stats(struct exehash_bg_stats *s);
/* waits until the background queue is empty (tests), at most ms; 0 or -ETIMEDOUT */
int exehash_drain(unsigned ms);

#endif
