/*
 * sha256.c — implements sha256.h: a streaming SHA-256 over mbedTLS, and the
 * collector's cache of executable hashes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/procfs.h"
#include "sha256.h"

/* The primitive is mbedTLS's (mbedtls_sha256_*, the library the fleet PKI uses);
 * only the streaming wrapper and the exehash cache are ours. The *_ret names are
 * mbedTLS 2.28's (3.x drops the suffix: docs/research/fleet-trust.md §1). */

void sha256_init(struct sha256_ctx *c)
{
	mbedtls_sha256_init(&c->m);
	mbedtls_sha256_starts_ret(&c->m, 0); /* 0: SHA-256, not SHA-224; cannot fail */
}

void sha256_update(struct sha256_ctx *c, const void *data, size_t n)
{
	mbedtls_sha256_update_ret(&c->m, data, n); /* software: cannot fail */
}

void sha256_final(struct sha256_ctx *c, uint8_t out[32])
{
	mbedtls_sha256_finish_ret(&c->m, out);
	mbedtls_sha256_free(&c->m);
}

void sha256_hex(const uint8_t d[32], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[64] = '\0';
}

#define READ_CHUNK (64 * 1024)

int sha256_fd(int fd, uint8_t out[32])
{
	struct sha256_ctx c;
	uint8_t *buf = malloc(READ_CHUNK);
	if (!buf)
		return -ENOMEM;
	sha256_init(&c);
	for (;;) {
		ssize_t r = read(fd, buf, READ_CHUNK);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			free(buf);
			return -e;
		}
		if (r == 0)
			break;
		sha256_update(&c, buf, (size_t)r);
	}
	free(buf);
	sha256_final(&c, out);
	return 0;
}

/* ---- executable hash cache ------------------------------------------------ */

struct eh_key {
	uint64_t dev, ino, size;
	int64_t msec, mnsec, csec, cnsec;
};

struct eh_ent {
	struct eh_key k;
	uint8_t used, ref;
	int32_t next; /* bucket chain, -1 ends */
	uint8_t d[32];
};

#define EH_BUCKETS (EXEHASH_CACHE * 2)

static pthread_mutex_t eh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct eh_ent eh_tab[EXEHASH_CACHE];
static int32_t eh_bucket[EH_BUCKETS];
static int eh_init_done;
static size_t eh_hand;
static uint64_t eh_hits, eh_misses;

static void eh_init_locked(void)
{
	if (eh_init_done)
		return;
	for (size_t i = 0; i < EH_BUCKETS; i++)
		eh_bucket[i] = -1;
	memset(eh_tab, 0, sizeof(eh_tab));
	eh_hand = 0;
	eh_init_done = 1;
}

static size_t eh_hash(const struct eh_key *k)
{
	uint64_t h = k->dev * 0x9e3779b97f4a7c15ULL ^ k->ino * 0xc2b2ae3d27d4eb4fULL ^
		     k->size * 0x165667b19e3779f9ULL ^ (uint64_t)k->msec ^
		     ((uint64_t)k->mnsec << 20) ^ (uint64_t)k->csec * 0x94d049bb133111ebULL ^
		     ((uint64_t)k->cnsec << 34);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (size_t)(h % EH_BUCKETS);
}

static int key_eq(const struct eh_key *a, const struct eh_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->msec == b->msec && a->mnsec == b->mnsec && a->csec == b->csec &&
	       a->cnsec == b->cnsec;
}

static struct eh_ent *eh_find_locked(const struct eh_key *k)
{
	for (int32_t i = eh_bucket[eh_hash(k)]; i >= 0; i = eh_tab[i].next)
		if (key_eq(&eh_tab[i].k, k))
			return &eh_tab[i];
	return NULL;
}

static void eh_unlink_locked(int32_t idx)
{
	int32_t *pp = &eh_bucket[eh_hash(&eh_tab[idx].k)];
	while (*pp >= 0) {
		if (*pp == idx) {
			*pp = eh_tab[idx].next;
			return;
		}
		pp = &eh_tab[*pp].next;
	}
}

static void eh_insert_locked(const struct eh_key *k, const uint8_t d[32])
{
	struct eh_ent *e = eh_find_locked(k);
	int32_t idx;
	size_t b;
	if (e) { /* raced with another thread */
		memcpy(e->d, d, 32);
		return;
	}
	/* clock: skip (and clear) referenced entries */
	for (;;) {
		struct eh_ent *v = &eh_tab[eh_hand];
		if (!v->used || !v->ref)
			break;
		v->ref = 0;
		eh_hand = (eh_hand + 1) % EXEHASH_CACHE;
	}
	idx = (int32_t)eh_hand;
	eh_hand = (eh_hand + 1) % EXEHASH_CACHE;
	if (eh_tab[idx].used)
		eh_unlink_locked(idx);
	e = &eh_tab[idx];
	e->k = *k;
	e->used = 1;
	e->ref = 0;
	memcpy(e->d, d, 32);
	b = eh_hash(k);
	e->next = eh_bucket[b];
	eh_bucket[b] = idx;
}

static void key_of(const struct stat *sb, struct eh_key *k)
{
	memset(k, 0, sizeof(*k));
	k->dev = (uint64_t)sb->st_dev;
	k->ino = (uint64_t)sb->st_ino;
	k->size = (uint64_t)sb->st_size;
	k->msec = (int64_t)sb->st_mtim.tv_sec;
	k->mnsec = (int64_t)sb->st_mtim.tv_nsec;
	k->csec = (int64_t)sb->st_ctim.tv_sec;
	k->cnsec = (int64_t)sb->st_ctim.tv_nsec;
}

/* the file still has key k (nothing wrote it while it was read) */
static int still(int fd, const struct eh_key *k)
{
	struct stat sb;
	struct eh_key now;
	if (fstat(fd, &sb) < 0)
		return 0;
	key_of(&sb, &now);
	return key_eq(&now, k);
}

static int cached(const struct eh_key *k, char hex[65])
{
	pthread_mutex_lock(&eh_lock);
	eh_init_locked();
	struct eh_ent *e = eh_find_locked(k);
	if (e) {
		e->ref = 1;
		eh_hits++;
		sha256_hex(e->d, hex);
	} else {
		eh_misses++;
	}
	pthread_mutex_unlock(&eh_lock);
	return e != NULL;
}

static int hash_now(int fd, const struct eh_key *k, char hex[65])
{
	uint8_t d[32];
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	int rc = sha256_fd(fd, d);
	if (rc < 0)
		return rc;
	if (!still(fd, k))
		return -EAGAIN;
	pthread_mutex_lock(&eh_lock);
	eh_insert_locked(k, d);
	pthread_mutex_unlock(&eh_lock);
	sha256_hex(d, hex);
	return 0;
}

int exehash_fd(int fd, char hex[65])
{
	struct stat sb;
	struct eh_key k;

	if (fstat(fd, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return -EINVAL;
	key_of(&sb, &k);
	if (cached(&k, hex))
		return 0;
	return hash_now(fd, &k, hex);
}

/* ---- the collector's non-blocking entry point ------------------------------ */

#define FUSE_SUPER_MAGIC_ 0x65735546
#define NBUCKETS_UID 64
#define TICKETS 4096

struct job {
	struct eh_key k;
	int fd;        /* -1: free slot */
	uid_t uid;
	uint32_t ticket;
	uint64_t off;
	struct sha256_ctx c;
};

static struct job jobs[EXEHASH_JOBS] = {[0 ... EXEHASH_JOBS - 1] = {.fd = -1}};
static int njobs, bg_started, bg_busy;
static uid_t bg_last_uid;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;  /* a job arrived */
static pthread_cond_t bg_idle = PTHREAD_COND_INITIALIZER;  /* the queue emptied */
static struct exehash_bg_stats bg;
/* ticket -> key, a ring: a process keeps a ticket, not a 56-byte key */
static struct { uint32_t ticket; struct eh_key k; } tick[TICKETS];
static uint32_t next_ticket = 1;
/* per-uid budget of hashing on the caller's thread */
static struct { uid_t uid; int used; int64_t tokens; uint64_t last; } budget[NBUCKETS_UID];

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* the budget slot of uid (replacing the fullest one: it has the most to lose
 * least), refilled to now; under eh_lock */
static int budget_slot(uid_t uid, uint64_t now)
{
	int best = 0;
	for (int i = 0; i < NBUCKETS_UID; i++) {
		if (budget[i].used && budget[i].uid == uid) {
			best = i;
			goto refill;
		}
		if (!budget[i].used || budget[i].tokens > budget[best].tokens)
			best = i;
		if (!budget[i].used)
			break;
	}
	budget[best].used = 1;
	budget[best].uid = uid;
	budget[best].tokens = (int64_t)EXEHASH_BUDGET_NS;
	budget[best].last = now;
	return best;
refill:
	budget[best].tokens += (int64_t)((now - budget[best].last) / 1000000000ULL * EXEHASH_REFILL_NS +
					 (now - budget[best].last) % 1000000000ULL * EXEHASH_REFILL_NS /
						 1000000000ULL);
	if (budget[best].tokens > (int64_t)EXEHASH_BUDGET_NS)
		budget[best].tokens = (int64_t)EXEHASH_BUDGET_NS;
	budget[best].last = now;
	return best;
}

static uint32_t ticket_for(const struct eh_key *k)
{
	uint32_t t = next_ticket++;
	if (!next_ticket)
		next_ticket = 1;
	tick[t % TICKETS].ticket = t;
	tick[t % TICKETS].k = *k;
	return t;
}

/* the next job: the lowest uid above the last one served (wrapping), its
 * first job — every uid with work gets a chunk in turn; under eh_lock */
static struct job *next_job(void)
{
	struct job *best = NULL, *low = NULL;
	for (int i = 0; i < EXEHASH_JOBS; i++) {
		struct job *j = &jobs[i];
		if (j->fd < 0)
			continue;
		if (!low || j->uid < low->uid)
			low = j;
		if (j->uid > bg_last_uid && (!best || j->uid < best->uid))
			best = j;
	}
	return best ? best : low;
}

static void *bg_main(void *arg)
{
	(void)arg;
	uint8_t *buf = malloc(EXEHASH_CHUNK);
	pthread_mutex_lock(&eh_lock);
	for (;;) {
		struct job *j;
		while (!(j = next_job())) {
			bg_busy = 0;
			pthread_cond_broadcast(&bg_idle);
			pthread_cond_wait(&bg_cond, &eh_lock);
		}
		bg_busy = 1;
		bg_last_uid = j->uid;
		pthread_mutex_unlock(&eh_lock);
		/* only this thread reads or frees a queued job */
		ssize_t r = buf ? pread(j->fd, buf, EXEHASH_CHUNK, (off_t)j->off) : -1;
		if (r > 0) {
			sha256_update(&j->c, buf, (size_t)r);
			j->off += (uint64_t)r;
		}
		int done = r <= 0, ok = r == 0 && still(j->fd, &j->k);
		uint8_t d[32];
		if (ok)
			sha256_final(&j->c, d);
		pthread_mutex_lock(&eh_lock);
		if (done) {
			if (ok) {
				eh_insert_locked(&j->k, d);
				bg.done++;
			} else {
				bg.changed++;
			}
			close(j->fd);
			j->fd = -1;
			njobs--;
		}
	}
	return NULL;
}

/* queues fd (taken over) for the background thread; under eh_lock */
static int enqueue(int fd, const struct eh_key *k, uid_t uid, uint32_t *ticket)
{
	int mine = 0, slot = -1;
	for (int i = 0; i < EXEHASH_JOBS; i++) {
		if (jobs[i].fd < 0) {
			if (slot < 0)
				slot = i;
			continue;
		}
		if (key_eq(&jobs[i].k, k)) { /* already being read */
			*ticket = ticket_for(k);
			close(fd);
			return -EINPROGRESS;
		}
		mine += jobs[i].uid == uid;
	}
	if (slot < 0 || mine >= EXEHASH_JOBS_UID) {
		bg.refused++;
		close(fd);
		return -EBUSY;
	}
	if (!bg_started) {
		pthread_t t;
		pthread_attr_t a;
		sigset_t all, old;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread takes no signals */
		int rc = pthread_create(&t, &a, bg_main, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&a);
		if (rc) {
			bg.refused++;
			close(fd);
			return -rc;
		}
		bg_started = 1;
	}
	struct job *j = &jobs[slot];
	j->k = *k;
	j->fd = fd;
	j->uid = uid;
	j->off = 0;
	sha256_init(&j->c);
	j->ticket = *ticket = ticket_for(k);
	njobs++;
	bg.queued++;
	pthread_cond_signal(&bg_cond);
	return -EINPROGRESS;
}

int exehash_request(pid_t pid, uid_t uid, char hex[65], uint32_t *ticket)
{
	char path[PATH_MAX];
	struct stat sb;
	struct statfs sf;
	struct eh_key k;
	*ticket = 0;
	snprintf(path, sizeof(path), "%.1024s/%d/exe", procfs_root(), (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	key_of(&sb, &k);
	if (cached(&k, hex)) {
		close(fd);
		return 0;
	}
	if (fstatfs(fd, &sf) == 0 && sf.f_type == FUSE_SUPER_MAGIC_) {
		close(fd);
		return -EPERM;
	}
	if (k.size > EXEHASH_MAX_SIZE) {
		close(fd);
		return -EFBIG;
	}
	uint64_t t0 = mono_ns();
	pthread_mutex_lock(&eh_lock);
	int b = budget_slot(uid, t0);
	int now = k.size <= EXEHASH_SYNC_MAX && budget[b].tokens > 0;
	if (!now) {
		int rc = enqueue(fd, &k, uid, ticket);
		pthread_mutex_unlock(&eh_lock);
		return rc;
	}
	pthread_mutex_unlock(&eh_lock);
	int rc = hash_now(fd, &k, hex);
	close(fd);
	uint64_t spent = mono_ns() - t0;
	pthread_mutex_lock(&eh_lock);
	b = budget_slot(uid, mono_ns());
	budget[b].tokens -= (int64_t)spent;
	bg.sync++;
	pthread_mutex_unlock(&eh_lock);
	return rc;
}

int exehash_peek(uint32_t ticket, char hex[65])
{
	int rc = -ENOENT;
	if (!ticket)
		return rc;
	pthread_mutex_lock(&eh_lock);
	if (tick[ticket % TICKETS].ticket == ticket) {
		const struct eh_key *k = &tick[ticket % TICKETS].k;
		struct eh_ent *e = eh_init_done ? eh_find_locked(k) : NULL;
		if (e) {
			e->ref = 1;
			sha256_hex(e->d, hex);
			rc = 0;
		} else {
			for (int i = 0; i < EXEHASH_JOBS; i++)
				if (jobs[i].fd >= 0 && key_eq(&jobs[i].k, k))
					rc = -EINPROGRESS;
		}
	}
	pthread_mutex_unlock(&eh_lock);
	return rc;
}

void exehash_bg_stats(struct exehash_bg_stats *s)
{
	pthread_mutex_lock(&eh_lock);
	*s = bg;
	pthread_mutex_unlock(&eh_lock);
}

int exehash_drain(unsigned ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L)
		dl.tv_sec++, dl.tv_nsec -= 1000000000L;
	int rc = 0;
	pthread_mutex_lock(&eh_lock);
	while ((njobs || bg_busy) && rc == 0)
		rc = pthread_cond_timedwait(&bg_idle, &eh_lock, &dl);
	pthread_mutex_unlock(&eh_lock);
	return rc ? -ETIMEDOUT : 0;
}

int exehash_get(pid_t pid, char hex[65])
{
	char path[PATH_MAX];
	int fd, rc;
	snprintf(path, sizeof(path), "%.1024s/%d/exe", procfs_root(), (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	rc = exehash_fd(fd, hex);
	close(fd);
	return rc;
}

void exehash_stats(uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&eh_lock);
	if (hits)
		*hits = eh_hits;
	if (misses)
		*misses = eh_misses;
	pthread_mutex_unlock(&eh_lock);
}

void exehash_clear(void)
{
	pthread_mutex_lock(&eh_lock);
	eh_init_done = 0;
	eh_init_locked();
	eh_hits = eh_misses = 0;
	memset(budget, 0, sizeof(budget));
	memset(&bg, 0, sizeof(bg));
	pthread_mutex_unlock(&eh_lock);
}
