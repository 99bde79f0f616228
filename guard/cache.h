/*
 * cache.h — the verdict cache: what was done to a SYN, so that its
 * retransmits get the same verdict without asking again. A fixed table of
 * CACHE_SLOTS entries (a newer decision overwrites the slot), cache_ttl each,
 * one lock. Keyed by cache_key(): the SYN's family, addresses, first hop,
 * ports, whole ISN and a hash of its source route.
 */
#ifndef HOPTRACE_GUARD_CACHE_H
#define HOPTRACE_GUARD_CACHE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "packet.h"

#define CACHE_SLOTS 16384
#define CACHE_KEY_LEN 64

struct cache_ent;

struct cache {
	pthread_mutex_t lock;
	struct cache_ent *v;   /* CACHE_SLOTS */
	unsigned long ttl_ms;  /* 0: nothing is kept */
};

/* Returns 0 or -1 (out of memory). cache_free accepts a zeroed struct. */
int cache_init(struct cache *c, unsigned long ttl_ms);
void cache_free(struct cache *c);
/* The key of SYN p (buf: its packet, for the route's addresses). */
void cache_key(const struct ht_pkt *p, const uint8_t *buf, uint8_t k[CACHE_KEY_LEN]);
/* The action kept for k (enum acl_verdict), or -1; *ino: the socket it was
 * decided for (0 unknown). */
int cache_get(struct cache *c, const uint8_t k[CACHE_KEY_LEN], uint64_t *ino);
void cache_put(struct cache *c, const uint8_t k[CACHE_KEY_LEN], int action, uint64_t ino);

#endif
