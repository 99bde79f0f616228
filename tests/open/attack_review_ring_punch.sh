#!/bin/sh
# attack_review_ring_punch.sh — builds tests/open/attack_review_ring_punch.c
# against the real collector/ring.c and common/ring.c and runs it as root
# (the attacker part drops to nobody): one uid's max_conns_uid (4096) rings,
# all their memfds held by one process that hole-punches them in a loop,
# make every rings_drain round of the graph thread tens of ms.
# Prints FAIL-CASE and exits 1 while that works. Optional arg: ring count.
set -e
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" = 0 ] || { echo "run as root"; exit 2; }
t=$(mktemp -d /tmp/ht-rev-ring-punch.XXXXXX)
trap 'rm -rf "$t"' EXIT
${CC:-cc} -std=gnu11 -O2 -g -D_GNU_SOURCE -Wall -I"$top/include" -I"$top/collector" \
	-o "$t/atk" "$top/tests/open/attack_review_ring_punch.c" "$top/collector/ring.c" \
	"$top/common/ring.c" "$top/common/log.c" -lcjson
ulimit -n 65536 2>/dev/null || true
"$t/atk" "${1:-4096}"
