#!/bin/sh
# attack_ring_setuid.sh — builds tests/func/attack_ring_setuid.c
# against the real collector/ring.c and common/ring.c, and runs it as root:
# a nobody process registers a ring, leaves a helper holding its mapping and
# execs a setuid-root binary whose (new) registration reads the old ring as
# the setuid image, including the helper's record written after the exec.
# Prints FAIL-CASE and exits 1 while that works.
set -e
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" = 0 ] || { echo "run as root"; exit 2; }
t=$(mktemp -d /tmp/ht-rev-ring-setuid.XXXXXX)
trap 'rm -rf "$t"' EXIT
${CC:-cc} -std=gnu11 -O1 -g -D_GNU_SOURCE -Wall -I"$top/include" -I"$top/collector" \
	-o "$t/atk" "$top/tests/func/attack_ring_setuid.c" "$top/collector/ring.c" \
	"$top/common/ring.c" "$top/common/log.c" -lcjson
chmod 711 "$t"
cp "$t/atk" "$t/atk-suid"
chown root:root "$t/atk-suid"
chmod 4755 "$t/atk-suid"
"$t/atk" "$t/atk-suid"
