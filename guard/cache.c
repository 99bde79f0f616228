/*
 * cache.c — implements cache.h.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cache.h"
#include "clock.h"

struct cache_ent {
	uint8_t key[CACHE_KEY_LEN]; /* cache_key */
	uint64_t ino;    /* the socket decided on, 0 unknown */
	long expires_ms;
	int8_t action;   /* enum acl_verdict, -1 empty */
};

int cache_init(struct cache *c, unsigned long ttl_ms)
{
	c->ttl_ms = ttl_ms;
	c->v = calloc(CACHE_SLOTS, sizeof(*c->v));
	if (!c->v)
		return -1;
	for (size_t i = 0; i < CACHE_SLOTS; i++)
		c->v[i].action = -1;
	pthread_mutex_init(&c->lock, NULL);
	return 0;
}

void cache_free(struct cache *c)
{
	if (!c->v)
		return;
	free(c->v);
	c->v = NULL;
	pthread_mutex_destroy(&c->lock);
}

/* family, src, final dst, first hop, ports, the whole ISN (a retransmit has
 * the same one, a new connection reusing the 4-tuple another) and a hash of
 * the source route's addresses: a route set on the socket after its first SYN
 * was judged (IPV6_RTHDR while connecting) makes its retransmits another key,
 * judged anew */
void cache_key(const struct ht_pkt *p, const uint8_t *buf, uint8_t k[CACHE_KEY_LEN])
{
	memset(k, 0, CACHE_KEY_LEN);
	k[0] = (uint8_t)p->family;
	k[1] = (uint8_t)p->srcroute;
	memcpy(k + 2, p->src, 16);
	memcpy(k + 18, p->dst, 16);
	memcpy(k + 34, p->hop, 16);
	memcpy(k + 50, &p->sport, 2);
	memcpy(k + 52, &p->dport, 2);
	memcpy(k + 54, &p->seq, 4);
	uint32_t h = 2166136261u;
	size_t alen = p->family == AF_INET ? 4 : 16;
	for (size_t i = 0; buf && i < (size_t)p->route_n * alen; i++)
		h = (h ^ buf[p->route_off + i]) * 16777619u;
	k[58] = p->route_n;
	memcpy(k + 59, &h, 4);
}

static size_t key_slot(const uint8_t k[CACHE_KEY_LEN])
{
	uint64_t h = 1469598103934665603ULL;
	for (int i = 0; i < CACHE_KEY_LEN; i++)
		h = (h ^ k[i]) * 1099511628211ULL;
	return (size_t)(h % CACHE_SLOTS);
}

int cache_get(struct cache *c, const uint8_t k[CACHE_KEY_LEN], uint64_t *ino)
{
	size_t s = key_slot(k);
	int v = -1;
	pthread_mutex_lock(&c->lock);
	struct cache_ent *e = &c->v[s];
	if (e->action >= 0 && e->expires_ms > mono_ms() && !memcmp(e->key, k, CACHE_KEY_LEN)) {
		v = e->action;
		*ino = e->ino;
	}
	pthread_mutex_unlock(&c->lock);
	return v;
}

void cache_put(struct cache *c, const uint8_t k[CACHE_KEY_LEN], int action, uint64_t ino)
{
	if (!c->ttl_ms)
		return;
	size_t s = key_slot(k);
	pthread_mutex_lock(&c->lock);
	struct cache_ent *e = &c->v[s];
	memcpy(e->key, k, CACHE_KEY_LEN);
	e->ino = ino;
	e->action = (int8_t)action;
	e->expires_ms = mono_ms() + (long)c->ttl_ms;
	pthread_mutex_unlock(&c->lock);
}
