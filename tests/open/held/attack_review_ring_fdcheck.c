/*
 * attack_review_ring_fdcheck.c — descriptors a hostile registrant might pass
 * as its ring, against common/ring.c ht_ring_check_fd (held on wt-rev2,
 * after the wt-ring merge): each must be refused. Held because the size
 * check (exactly HT_RING_SIZE, not a huge page multiple) stops hugetlb
 * memfds, F_GET_SEALS stops non-shmem files, and a tmpfs file (not a memfd)
 * reports only F_SEAL_SEAL (not shrink/grow). Fragile if HT_RING_SIZE ever
 * becomes 2 MiB-sized (a hugetlb memfd could then pass: check MAP_SHARED
 * hugetlb reads). Since the collector seals a ring itself once mapped
 * (F_SEAL_FUTURE_WRITE | F_SEAL_SEAL, ht_ring_map), a ring already sealed
 * F_SEAL_SEAL is refused too (it could be hole-punched).
 * Exits 1 (FAIL-CASE) when any is accepted.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "hoptrace/ring.h"
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static int mfd(unsigned flags, long size, int seals)
{
	int fd = (int)syscall(SYS_memfd_create, "hoptrace", flags);
	if (fd < 0)
		return -1;
	if (size >= 0 && ftruncate(fd, size) != 0) { /* hugetlb: not a huge page multiple */
	}
	if (seals)
		fcntl(fd, F_ADD_SEALS, seals);
	return fd;
}

int main(void)
{
	int bad = 0;
	struct { const char *what; int fd; } c[] = {
		{"hugetlb memfd, ring size", mfd(MFD_HUGETLB | MFD_ALLOW_SEALING, HT_RING_SIZE, 6)},
		{"hugetlb memfd, 2 MiB", mfd(MFD_HUGETLB | MFD_ALLOW_SEALING, 2 << 20, 6)},
		{"memfd, F_SEAL_SEAL (no seal of ours)", mfd(MFD_ALLOW_SEALING, HT_RING_SIZE, 7)},
		{"memfd, F_SEAL_FUTURE_WRITE", mfd(MFD_ALLOW_SEALING, HT_RING_SIZE, 6 | F_SEAL_FUTURE_WRITE)},
		{"memfd, F_SEAL_WRITE", mfd(MFD_ALLOW_SEALING, HT_RING_SIZE, 6 | 8)},
		{"memfd without MFD_ALLOW_SEALING", mfd(0, HT_RING_SIZE, 0)},
		{"memfd, one page short", mfd(MFD_ALLOW_SEALING, HT_RING_SIZE - 4096, 6)},
		{"tmpfs file (/dev/shm)", -1},
	};
	int t = open("/dev/shm", O_TMPFILE | O_RDWR, 0600);
	if (t >= 0 && ftruncate(t, HT_RING_SIZE) == 0)
		c[7].fd = t;
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		const char *why = "(not made)";
		int r = c[i].fd >= 0 ? ht_ring_check_fd(c[i].fd, &why) : -1;
		printf("%-34s %s %s\n", c[i].what, r == 0 ? "ACCEPTED" : "refused:", r == 0 ? "" : why);
		bad |= r == 0;
	}
	if (bad) {
		printf("FAIL-CASE: a descriptor that is not a fixed-size writable sealed shmem ring was accepted\n");
		return 1;
	}
	return 0;
}
