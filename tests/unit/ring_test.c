/*
 * ring_test.c — the per-process record ring (include/hoptrace/ring.h,
 * common/ring.c): records of every size survive many laps in order; a full
 * ring refuses instead of waiting; producers on four threads lose nothing
 * and keep each thread's order; a hostile writer (bad lengths and slot
 * counts, a published first slot with unpublished continuations, a `head`
 * that lies, random scribbles from another thread while the reader reads)
 * never gets a record past the checks, never makes the reader return more
 * than its buffer, and never stalls it; only sealed memfds of the ring's
 * size are accepted for mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hoptrace/ring.h"
#include "test.h"

static _Alignas(4096) uint8_t ringmem[HT_RING_SIZE];
static uint8_t rbuf[HT_RING_MAXN * HT_RING_DATA];

static void fresh(struct ht_ring_reader *r)
{
	memset(ringmem, 0, sizeof(ringmem));
	ht_ring_init(ringmem);
	ht_ring_reader_init(r, ringmem);
}

static void t_roundtrip(void)
{
	struct ht_ring_reader r;
	uint8_t rec[640];
	uint32_t fill;
	fresh(&r);
	int ok = 1;
	for (int lap = 0; lap < 5000; lap++) {
		size_t len = 1 + (size_t)(lap * 37) % 640;
		for (size_t i = 0; i < len; i++)
			rec[i] = (uint8_t)(lap + i);
		CHECK_EQ_INT(ht_ring_put(ringmem, rec, len, &fill), 0);
		int n = ht_ring_next(&r, rbuf, sizeof(rbuf), 1);
		if (n != (int)len || memcmp(rbuf, rec, len) != 0)
			ok = 0;
	}
	CHECK(ok);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1), 0);
	CHECK_EQ_INT(r.bad, 0);
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, 0, &fill), -1);   /* empty: refused */
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, 673, &fill), -1); /* > HT_RING_MAXN slots */
}

static void t_full(void)
{
	struct ht_ring_reader r;
	uint8_t rec[100] = {1};
	uint32_t fill = 0;
	fresh(&r);
	int n = 0;
	while (ht_ring_put(ringmem, rec, sizeof(rec), &fill) == 0 && n < 10000)
		n++;
	CHECK_EQ_INT(n, HT_RING_SLOTS / 2); /* 100 bytes: 2 slots each */
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1), 100);
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, sizeof(rec), &fill), 0); /* room again */
	CHECK_EQ_INT(fill, HT_RING_SLOTS);
}

#define NT 4
#define PER 20000
static void *producer(void *arg)
{
	uint32_t me = (uint32_t)(uintptr_t)arg, fill;
	for (uint32_t i = 0; i < PER; i++) {
		uint32_t v[2 + (i % 20)];
		v[0] = me;
		v[1] = i;
		for (size_t k = 2; k < sizeof(v) / 4; k++)
			v[k] = i * k;
		while (ht_ring_put(ringmem, v, sizeof(v), &fill) != 0)
			sched_yield(); /* the test waits; the shim never does */
	}
	return NULL;
}

static void t_threads(void)
{
	struct ht_ring_reader r;
	pthread_t th[NT];
	uint32_t next[NT] = {0};
	fresh(&r);
	for (int i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, producer, (void *)(uintptr_t)i);
	int got = 0, order = 1, content = 1;
	time_t t0 = time(NULL);
	while (got < NT * PER && time(NULL) < t0 + 30) {
		int n = ht_ring_next(&r, rbuf, sizeof(rbuf), 1);
		if (n <= 0) {
			sched_yield();
			continue;
		}
		uint32_t v[24];
		memcpy(v, rbuf, (size_t)n < sizeof(v) ? (size_t)n : sizeof(v));
		if (v[0] >= NT || v[1] != next[v[0]])
			order = 0;
		else
			next[v[0]]++;
		if ((size_t)n != (2 + v[1] % 20) * 4 || (n > 8 && v[2] != v[1] * 2))
			content = 0;
		got++;
	}
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(got, NT * PER);
	CHECK(order);
	CHECK(content);
	CHECK_EQ_INT(r.bad, 0);
}

static struct ht_ring_slot *slot(uint32_t pos)
{
	return ht_ring_slot_at(ringmem, pos);
}

static void t_hostile_slots(void)
{
	struct ht_ring_reader r;
	uint32_t fill;
	uint8_t rec[200];
	memset(rec, 'x', sizeof(rec));
	fresh(&r);
	/* a published slot that claims 13 slots / a length past its slots / 0 */
	struct { uint8_t n; uint16_t len; } lies[] = {{13, 700}, {1, 57}, {2, 40}, {0, 5}, {1, 0}};
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		uint32_t pos = r.rd;
		atomic_store(&ht_ring_hdr(ringmem)->head, pos + 1);
		slot(pos)->n = lies[i].n;
		slot(pos)->len = lies[i].len;
		ht_ring_seq_set(ringmem, pos, pos + 1);
		CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1), -1);
	}
	CHECK_EQ_INT(r.bad, 5);
	/* a published first slot whose continuation is not published */
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, sizeof(rec), &fill), 0);
	ht_ring_seq_set(ringmem, r.rd + 2, 12345);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1), -1);
	/* the reader then skips the rest slot by slot, then reads on */
	for (int i = 0; i < 8 && ht_ring_next(&r, rbuf, sizeof(rbuf), 1) != 0; i++)
		;
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, 10, &fill), 0);
	/* the producer may be stuck on the slot we skipped past; put the ring
	 * straight and see the reader still reads honest records */
	fresh(&r);
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, 10, &fill), 0);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1), 10);
	/* a buffer smaller than the record: refused, not overrun */
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, 200, &fill), 0);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, 100, 1), -1);
}

static void t_stuck(void)
{
	struct ht_ring_reader r;
	uint32_t fill;
	uint8_t rec[10] = {0};
	fresh(&r);
	/* reserved (head moved) but never published: a writer that stopped */
	atomic_store(&ht_ring_hdr(ringmem)->head, 1);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1000), 0);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1000 + HT_RING_STUCK_NS / 2), 0);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 1000 + HT_RING_STUCK_NS + 1), -1);
	CHECK_EQ_INT(r.stuck, 1);
	CHECK_EQ_INT(r.rd, 1);
	/* a head that lies far ahead over an empty ring: given up slot by slot,
	 * one per timeout: bounded work per call */
	atomic_store(&ht_ring_hdr(ringmem)->head, 0x7fffffffu);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 10 * HT_RING_STUCK_NS), 0);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 12 * HT_RING_STUCK_NS), -1);
	CHECK_EQ_INT(r.rd, 2);
	/* honest again */
	atomic_store(&ht_ring_hdr(ringmem)->head, r.rd);
	CHECK_EQ_INT(ht_ring_put(ringmem, rec, sizeof(rec), &fill), 0);
	CHECK_EQ_INT(ht_ring_next(&r, rbuf, sizeof(rbuf), 13 * HT_RING_STUCK_NS), 10);
}

static atomic_int scribbling;
static void *scribbler(void *arg)
{
	(void)arg;
	uint32_t x = 12345, fill;
	uint8_t rec[300];
	memset(rec, 'r', sizeof(rec));
	while (atomic_load(&scribbling)) {
		x = x * 1103515245u + 12345u;
		if (x & 1) {
			ht_ring_put(ringmem, rec, (x >> 8) % 300 + 1, &fill);
		} else {
			size_t o = ((x >> 4) % (HT_RING_SIZE / 4)) * 4;
			uint32_t v = x * 2654435761u;
			memcpy(ringmem + o, &v, 4);
		}
	}
	return NULL;
}

static void t_scribbler(void)
{
	struct ht_ring_reader r;
	pthread_t th;
	fresh(&r);
	atomic_store(&scribbling, 1);
	pthread_create(&th, NULL, scribbler, NULL);
	int calls = 0, bounded = 1, returns = 0;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	uint64_t now = 1;
	/* two million calls, and at least 0.5 s of the scribbler running */
	for (calls = 0;; calls++) {
		int n = ht_ring_next(&r, rbuf, sizeof(rbuf), now);
		if (n > (int)sizeof(rbuf) || n < -1)
			bounded = 0;
		returns += n != 0;
		now += 1000; /* 1 us per call: stuck slots are given up now and then */
		if (calls >= 2000000 && !(calls & 1023)) {
			clock_gettime(CLOCK_MONOTONIC, &b);
			if ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) > 500000000L)
				break;
		}
	}
	atomic_store(&scribbling, 0);
	pthread_join(th, NULL);
	CHECK(bounded);
	CHECK(returns > 0);
	/* the calls finish (no call loops on the writer) */
	CHECK(b.tv_sec - a.tv_sec < 20);
	fprintf(stderr, "    scribbler: %d calls, %d returned a record or a refusal\n", calls, returns);
}

static void t_check_fd(void)
{
	const char *why;
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK_EQ_INT(ht_ring_check_fd(p[0], &why), -1);
	close(p[0]);
	close(p[1]);
	int f = memfd_create("t", MFD_CLOEXEC); /* no sealing at all */
	CHECK(f >= 0 && ftruncate(f, HT_RING_SIZE) == 0);
	CHECK_EQ_INT(ht_ring_check_fd(f, &why), -1);
	close(f);
	f = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(f >= 0 && ftruncate(f, HT_RING_SIZE) == 0);
	CHECK_EQ_INT(ht_ring_check_fd(f, &why), -1); /* not sealed yet: could shrink */
	void *w = mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0); /* the shim's */
	CHECK(w != MAP_FAILED);
	CHECK(fcntl(f, F_ADD_SEALS, HT_RING_SEALS_SHIM) == 0);
	CHECK_EQ_INT(ht_ring_check_fd(f, &why), 0);
	CHECK(ftruncate(f, 4096) != 0 && errno == EPERM); /* no SIGBUS for a reader */
	void *m = ht_ring_map(f);
	CHECK(m != NULL);
	/* mapped: sealed so that no hole can be punched in it (a hole would make
	 * every touch of ours fault), no new writable mapping, no write(2) */
	CHECK((fcntl(f, F_GET_SEALS) & (int)HT_RING_SEALS_READER) == (int)HT_RING_SEALS_READER);
	CHECK(fallocate(f, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, HT_RING_SIZE) != 0 && errno == EPERM);
	CHECK(madvise(w, HT_RING_SIZE, MADV_REMOVE) != 0 && errno == EPERM);
	CHECK(mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0) == MAP_FAILED);
	((volatile uint8_t *)w)[HT_RING_HDR] = 1; /* the shim's mapping still writes */
	CHECK_EQ_INT(((volatile uint8_t *)m)[HT_RING_HDR], 1);
	munmap(w, HT_RING_SIZE);
	ht_ring_unmap(m);
	close(f);
	f = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING); /* sealed against our seals */
	CHECK(f >= 0 && ftruncate(f, HT_RING_SIZE) == 0);
	CHECK(fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0);
	CHECK_EQ_INT(ht_ring_check_fd(f, &why), -1);
	CHECK(ht_ring_map(f) == NULL);
	close(f);
	f = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING); /* wrong size */
	CHECK(f >= 0 && ftruncate(f, HT_RING_SIZE * 2) == 0);
	CHECK(fcntl(f, F_ADD_SEALS, HT_RING_SEALS_SHIM) == 0);
	CHECK_EQ_INT(ht_ring_check_fd(f, &why), -1);
	close(f);
	f = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING); /* sealed against writing */
	CHECK(f >= 0 && ftruncate(f, HT_RING_SIZE) == 0);
	CHECK(fcntl(f, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0);
	CHECK_EQ_INT(ht_ring_check_fd(f, &why), -1);
	close(f);
	f = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_EQ_INT(ht_ring_check_fd(f, &why), -1);
	close(f);
}

int main(void)
{
	static const struct t_case cases[] = {
		{"roundtrip", t_roundtrip},   {"full", t_full},
		{"threads", t_threads},       {"hostile_slots", t_hostile_slots},
		{"stuck", t_stuck},           {"scribbler", t_scribbler},
		{"check_fd", t_check_fd},
	};
	return t_run("ring", cases, sizeof(cases) / sizeof(cases[0]));
}
