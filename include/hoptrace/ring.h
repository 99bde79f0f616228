/*
 * hoptrace/ring.h — the per-process record ring (docs/research/transport.md).
 *
 * A process's shim creates one sealed memfd (MFD_ALLOW_SEALING, size
 * HT_RING_SIZE, sealed HT_RING_SEALS_SHIM: F_SEAL_SHRINK | F_SEAL_GROW), maps
 * it MAP_SHARED with MADV_DONTFORK, and registers it once: one datagram on a
 * connection to the collector's ring socket (HT_REC_RING_SUFFIX), carrying
 * the process's first record and the memfd by SCM_RIGHTS. Then it closes both
 * descriptors: between calls the program sees none of the shim's. The
 * collector maps the ring and then seals it HT_RING_SEALS_READER
 * (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL): the two mappings made before stay
 * writable, but nobody can map it writable again, write(2) it or punch holes
 * in it (fallocate PUNCH_HOLE, MADV_REMOVE) — a hole would make every touch
 * of the collector's fault and allocate a page, every drain round.
 *
 * Layout: one page of header, then HT_RING_SLOTS slots of HT_RING_SLOT bytes.
 * A record takes 1..HT_RING_MAXN consecutive slots (its bytes laid out over
 * their data areas). Producers (the process's threads) reserve slots with a
 * CAS on `head` when every slot they need is free — a free slot at position p
 * has seq == p (mod 2^32) — write them, then publish each with seq = p + 1
 * (release). The consumer (the collector) keeps its own read position; a
 * slot is taken only when its seq says "committed at this position"; after
 * copying it gives the slot back with seq = p + HT_RING_SLOTS. A slot's word
 * holds seq minus its index (ht_ring_seq): a fresh ring is all zeros, so
 * registering one writes the header page only and the slot pages are touched
 * as records fill them.
 *
 * Everything in the mapping is written by the process and may change at any
 * time under the reader: the reader copies first, then checks the copy
 * (lengths bounded, indices masked), never trusts `head`, and treats a slot
 * that stays reserved but unpublished (HT_RING_STUCK_NS) as lost. A ring's
 * records are claims of its registrant only (the kernel attests who
 * registered it).
 *
 * The producer half below is header-only (the shim links nothing of ours);
 * the consumer half is common/ring.c.
 */
#ifndef HOPTRACE_RING_H
#define HOPTRACE_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define HT_RING_MAGIC 0x48545247u /* "HTRG" */
#define HT_RING_VERSION 1u
#define HT_RING_HDR 4096u
#define HT_RING_SLOTS 1024u       /* a power of two */
#define HT_RING_SLOT 64u
#define HT_RING_DATA (HT_RING_SLOT - 8u) /* data bytes per slot */
#define HT_RING_MAXN 12u          /* slots of the largest record (HT_REC_MAX = 640) */
#define HT_RING_SIZE (HT_RING_HDR + HT_RING_SLOTS * HT_RING_SLOT)
#define HT_RING_SEALS_SHIM 0x6u   /* F_SEAL_SHRINK | F_SEAL_GROW: the shim's seals */
#define HT_RING_SEALS_NEEDED HT_RING_SEALS_SHIM /* what a registered ring must have */
#define HT_RING_SEALS_READER 0x11u /* F_SEAL_SEAL | F_SEAL_FUTURE_WRITE: the collector's,
				    * added once it has mapped the ring */
#define HT_RING_STUCK_NS (250ULL * 1000000ULL)
/* the ring socket: the record socket's name + this suffix (record.h names) */
#define HT_REC_RING_SUFFIX ".ring"

struct ht_ring_hdr {
	uint32_t magic, version, nslots, slot_size; /* written once by the shim */
	_Atomic uint32_t head;      /* next position to reserve (producers) */
	uint32_t pad0[11];
	/* written by the collector (a hint to the shim, never trusted by it
	 * for anything but "when to ring"): */
	_Atomic uint32_t tail;      /* the collector's read position */
	_Atomic uint32_t beat;      /* bumped every second while it reads this ring */
	_Atomic uint32_t wake;      /* 1: the shim rang the doorbell, not yet read */
	uint32_t pad1[13];
	_Atomic uint64_t lost;      /* records the shim could not place (a claim) */
};

struct ht_ring_slot {
	_Atomic uint32_t seq;
	uint16_t len;               /* first slot of a record: its length in bytes */
	uint8_t n;                  /* first slot: how many slots it takes */
	uint8_t flags;
	uint8_t data[HT_RING_DATA];
};

static inline struct ht_ring_hdr *ht_ring_hdr(void *base)
{
	return (struct ht_ring_hdr *)base;
}

static inline struct ht_ring_slot *ht_ring_slot_at(void *base, uint32_t pos)
{
	return (struct ht_ring_slot *)((char *)base + HT_RING_HDR) + (pos & (HT_RING_SLOTS - 1));
}

/* the sequence number of the slot at position pos (stored minus its index) */
static inline uint32_t ht_ring_seq(void *base, uint32_t pos)
{
	return atomic_load_explicit(&ht_ring_slot_at(base, pos)->seq, memory_order_acquire) +
	       (pos & (HT_RING_SLOTS - 1));
}

static inline void ht_ring_seq_set(void *base, uint32_t pos, uint32_t seq)
{
	atomic_store_explicit(&ht_ring_slot_at(base, pos)->seq, seq - (pos & (HT_RING_SLOTS - 1)),
			      memory_order_release);
}

/* A fresh ring in memory of HT_RING_SIZE zero bytes (a new memfd): only the
 * header is written (every slot is free at its first position already). */
static inline void ht_ring_init(void *base)
{
	struct ht_ring_hdr *h = ht_ring_hdr(base);
	h->magic = HT_RING_MAGIC;
	h->version = HT_RING_VERSION;
	h->nslots = HT_RING_SLOTS;
	h->slot_size = HT_RING_SLOT;
	atomic_store_explicit(&h->head, 0, memory_order_release);
}

/* Places one record; never blocks, never loops more than a few times (only
 * when other threads win the race for the same slots). 0 when placed, -1
 * when the ring is full (or len is out of bounds). *fill gets the slots in
 * use after it (by the collector's `tail` hint). Async-signal-safe. */
static inline int ht_ring_put(void *base, const void *buf, size_t len, uint32_t *fill)
{
	struct ht_ring_hdr *h = ht_ring_hdr(base);
	uint32_t n = (uint32_t)((len + HT_RING_DATA - 1) / HT_RING_DATA), pos = 0;
	if (len == 0 || n > HT_RING_MAXN)
		return -1;
	int got = 0;
	for (int tries = 0; tries < 8 && !got; tries++) {
		pos = atomic_load_explicit(&h->head, memory_order_relaxed);
		uint32_t i;
		for (i = 0; i < n; i++)
			if (ht_ring_seq(base, pos + i) != pos + i)
				break;
		if (i < n) {
			if (atomic_load_explicit(&h->head, memory_order_relaxed) == pos)
				return -1; /* full: the slot still holds an unread record */
			continue;
		}
		got = atomic_compare_exchange_weak_explicit(&h->head, &pos, pos + n,
							    memory_order_acq_rel, memory_order_relaxed);
	}
	if (!got)
		return -1;
	const uint8_t *p = buf;
	for (uint32_t i = 0; i < n; i++) {
		struct ht_ring_slot *s = ht_ring_slot_at(base, pos + i);
		size_t k = len - (size_t)i * HT_RING_DATA;
		if (k > HT_RING_DATA)
			k = HT_RING_DATA;
		s->len = i ? 0 : (uint16_t)len;
		s->n = i ? 0 : (uint8_t)n;
		s->flags = 0;
		memcpy(s->data, p + (size_t)i * HT_RING_DATA, k);
	}
	/* the continuation slots first: a reader that sees the first slot
	 * published finds the rest published or being published */
	for (uint32_t i = n; i-- > 0;)
		ht_ring_seq_set(base, pos + i, pos + i + 1);
	*fill = pos + n - atomic_load_explicit(&h->tail, memory_order_relaxed);
	return 0;
}

/* ---- the consumer (common/ring.c) ----------------------------------------------- */

struct ht_ring_reader {
	void *base;                 /* the mapping, HT_RING_SIZE bytes */
	uint32_t rd;                /* our read position (never from the mapping) */
	uint64_t stuck_since;       /* the slot at rd stays unpublished since (ns), 0: not */
	uint64_t records, bad, stuck;
};

/* Is fd a ring the collector may map: a memfd (F_GET_SEALS answers only for
 * shmem/hugetlb files, without touching any other file system), sealed
 * against shrinking and growing, not against writing and still open to our
 * seals (no F_SEAL_SEAL), a regular file of exactly HT_RING_SIZE bytes? 0,
 * or -1 with *why. */
int ht_ring_check_fd(int fd, const char **why);
/* Maps a checked ring read-write (we give slots back), then seals it
 * HT_RING_SEALS_READER so that no hole can be punched in it and no new
 * writable mapping made; NULL on failure (the seal refused: a kernel before
 * 5.1, or the sender sealed it meanwhile). */
void *ht_ring_map(int fd);
void ht_ring_unmap(void *base);
void ht_ring_reader_init(struct ht_ring_reader *r, void *base);
/* Copies the next published record out of the ring into buf (at least
 * HT_RING_MAXN * HT_RING_DATA bytes) and gives its slots back. Returns its
 * length; 0 when none is ready; -1 for a malformed record (skipped, counted
 * in r->bad). now: CLOCK_MONOTONIC ns (the stuck-slot timeout). The bytes are
 * a copy: decode them, never the mapping. */
int ht_ring_next(struct ht_ring_reader *r, uint8_t *buf, size_t cap, uint64_t now);

#endif
