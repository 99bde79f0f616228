/*
 * ring.c — the consumer half of the per-process record ring
 * (include/hoptrace/ring.h): checking a registered descriptor, mapping it,
 * and copying records out of memory that its writer may change at any time.
 *
 * The writer is untrusted: every slot is copied before it is looked at, a
 * length or a slot count out of bounds skips the slot (counted), positions
 * are masked, the shared `head` is read only to tell "reserved but not yet
 * published" from "empty", and a slot that stays reserved and unpublished
 * for HT_RING_STUCK_NS is given up (counted): a writer that scribbles, tears
 * or stops half-way loses its own records and never stalls the reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoptrace/ring.h"

#ifndef F_GET_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#endif
#ifndef F_SEAL_WRITE
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

int ht_ring_check_fd(int fd, const char **why)
{
	/* first: F_GET_SEALS fails on anything but shmem/hugetlb (a FUSE file, a
	 * socket, a pipe) without calling into its file system — fstat of a
	 * hostile FUSE file could block */
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0) {
		*why = "not a memfd";
		return -1;
	}
	if ((seals & HT_RING_SEALS_NEEDED) != HT_RING_SEALS_NEEDED) {
		*why = "not sealed against shrink and grow";
		return -1;
	}
	if (seals & F_SEAL_SEAL) { /* ht_ring_map could not seal it against holes */
		*why = "sealed against further seals";
		return -1;
	}
	if (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) {
		*why = "sealed against writing";
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		return -1;
	}
	if (st.st_size != (off_t)HT_RING_SIZE) {
		*why = "wrong size";
		return -1;
	}
	return 0;
}

void *ht_ring_map(int fd)
{
	void *p = mmap(NULL, HT_RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* From here on nobody maps it writable or punches a hole in it (the
	 * kernel refuses PUNCH_HOLE and MADV_REMOVE under F_SEAL_FUTURE_WRITE):
	 * a hole would zap our page tables, and every touch of the ring in a
	 * drain round would fault and allocate a page (the hole-punch stall)
	 * (F_ADD_SEALS returns 0 only with the seals set: no F_GET_SEALS after) */
	if (fcntl(fd, F_ADD_SEALS, HT_RING_SEALS_READER) != 0) {
		munmap(p, HT_RING_SIZE);
		return NULL;
	}
	madvise(p, HT_RING_SIZE, MADV_DONTFORK); /* never in a child of ours */
	return p;
}

void ht_ring_unmap(void *base)
{
	if (base)
		munmap(base, HT_RING_SIZE);
}

void ht_ring_reader_init(struct ht_ring_reader *r, void *base)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	/* start where the writer is now: positions before are either ours
	 * (a fresh ring starts at 0) or a writer's scribbles */
	r->rd = 0;
}

/* gives n slots from rd back to the writer and moves on */
static void give_back(struct ht_ring_reader *r, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		ht_ring_seq_set(r->base, r->rd + i, r->rd + i + HT_RING_SLOTS);
	r->rd += n;
	r->stuck_since = 0;
	atomic_store_explicit(&ht_ring_hdr(r->base)->tail, r->rd, memory_order_relaxed);
}

/* the slot at rd is not published: a record on its way, or a writer that
 * stopped (or lied) — given up after HT_RING_STUCK_NS */
static int not_ready(struct ht_ring_reader *r, uint64_t now)
{
	uint32_t head = atomic_load_explicit(&ht_ring_hdr(r->base)->head, memory_order_relaxed);
	if (head == r->rd) { /* empty */
		r->stuck_since = 0;
		return 0;
	}
	if (!r->stuck_since) {
		r->stuck_since = now ? now : 1;
		return 0;
	}
	if (now < r->stuck_since + HT_RING_STUCK_NS)
		return 0;
	r->stuck++;
	give_back(r, 1);
	return -1;
}

int ht_ring_next(struct ht_ring_reader *r, uint8_t *buf, size_t cap, uint64_t now)
{
	struct ht_ring_slot s;
	struct ht_ring_slot *sp = ht_ring_slot_at(r->base, r->rd);
	if (ht_ring_seq(r->base, r->rd) != r->rd + 1)
		return not_ready(r, now);
	memcpy(&s, (const void *)sp, sizeof(s)); /* the copy, from here on */
	uint32_t n = s.n, len = s.len;
	if (n < 1 || n > HT_RING_MAXN || len == 0 || len > n * HT_RING_DATA ||
	    len <= (n - 1) * HT_RING_DATA || len > cap) {
		r->bad++;
		give_back(r, 1);
		return -1;
	}
	memcpy(buf, s.data, len < HT_RING_DATA ? len : HT_RING_DATA);
	for (uint32_t i = 1; i < n; i++) {
		sp = ht_ring_slot_at(r->base, r->rd + i);
		if (ht_ring_seq(r->base, r->rd + i) != r->rd + i + 1) {
			/* published first slot, unpublished rest: the writer
			 * publishes the rest first, so it lied or scribbled */
			r->bad++;
			give_back(r, 1);
			return -1;
		}
		memcpy(&s, (const void *)sp, sizeof(s));
		size_t k = len - (size_t)i * HT_RING_DATA;
		memcpy(buf + (size_t)i * HT_RING_DATA, s.data, k < HT_RING_DATA ? k : HT_RING_DATA);
	}
	give_back(r, n);
	r->records++;
	return (int)len;
}
