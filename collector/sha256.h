/*
 * sha256.h — SHA-256 (FIPS 180-4), streaming, plus the collector's cache of
 * executable hashes.
 */
#ifndef HOPTRACE_COLLECTOR_SHA256_H
#define HOPTRACE_COLLECTOR_SHA256_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sha256_ctx {
	uint32_t h[8];
	uint64_t len;      /* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
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
 * (st_dev, st_ino, st_size, st_mtim) of the opened file: up to EXEHASH_CACHE
 * entries, clock (second chance) eviction. Thread-safe. 0 or -errno.
 */
#define EXEHASH_CACHE 4096
int exehash_get(pid_t pid, char hex[65]);
/* the same for an open file (the cache is shared) */
int exehash_fd(int fd, char hex[65]);
void exehash_stats(uint64_t *hits, uint64_t *misses);
void exehash_clear(void); /* empties the cache and zeroes the counters */

#endif
