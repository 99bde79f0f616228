#!/bin/sh
# attack_review_ring_fdcheck.sh — builds and runs attack_review_ring_fdcheck.c
# (hugetlb memfds, odd seals, wrong sizes, a tmpfs file against
# ht_ring_check_fd). Held on wt-rev2: exits 0; FAIL-CASE and 1 if any passes.
set -e
top=${HT_TOP:-$(cd "$(dirname "$0")/../../.." && pwd)}
t=$(mktemp -d /tmp/ht-rev-ring-fd.XXXXXX)
trap 'rm -rf "$t"' EXIT
${CC:-cc} -std=gnu11 -O1 -D_GNU_SOURCE -Wall -I"$top/include" -o "$t/a" \
	"$top/tests/open/held/attack_review_ring_fdcheck.c" "$top/common/ring.c"
"$t/a"
