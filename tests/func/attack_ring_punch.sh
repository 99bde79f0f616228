#!/bin/sh
# attack_ring_punch.sh — the hole-punch stall (docs/research/transport.md,
# docs/threat-model.md class 11): nobody registers 1024 rings with a real
# hoptraced (tests/helpers/ring_punch: 2048 processes, each its own ring, as
# the shim registers them; their registering is paced by the uid's graph time),
# keeps every memfd, and first spins, then
# fallocate(PUNCH_HOLE)s all of them in a loop. Where the kernel lets it, the
# collector's every touch of a ring in a drain round (every 20 ms idle, before
# every answer) faults and allocates a page: one uid that sends no record
# makes the graph thread's idle rounds 10x dearer (without the fix, this VM:
# 5 ticks in 3 s spinning, 45 punching). Fails when the collector's CPU
# while the holes are punched is more than 3x (+ 5% of a core) what it is
# while the holder spins, or when an answer takes 1 s. Passes because the collector
# seals every ring it mapped F_SEAL_FUTURE_WRITE (no punch; common/ring.c
# ht_ring_map) and charges the time its rings cost to the uid's graph time
# (collector/ring.c rings_drain).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need setpriv
tb_switch
tb_host h1 10.231.0.1
tb_collector h1
N=1024
atk_bin=$TB_B/tests/helpers/ring_punch
[ -x "$atk_bin" ] || tb_skip "ring_punch not built"
cpid=$(cat "$(tb_dir h1)/hoptraced.pid")
[ "$(cat /proc/"$cpid"/comm 2>/dev/null)" = hoptraced ] ||
	cpid=$(for p in $(cat /proc/"$cpid"/task/*/children 2>/dev/null); do
		[ "$(cat /proc/"$p"/comm)" = hoptraced ] && echo "$p"; done | head -n 1)
[ -n "$cpid" ] || tb_fail "no hoptraced pid"
cpu() { awk '{ print $14 + $15 }' /proc/"$cpid"/stat; } # clock ticks, user + system
rings_now() { tb_exec h1 "$TB_HOPTRACE" status --json |
	"$TB_PY" -c 'import json,sys; print(json.load(sys.stdin)["rings"]["registered_now"])'; }
# answers for $1 s: prints the slowest in ms
answers() {
	_end=$(( $(date +%s%N) + $1 * 1000000000 )) _max=0
	while [ "$(date +%s%N)" -lt "$_end" ]; do
		_t0=$(date +%s%N)
		tb_exec h1 "$TB_HOPTRACE" status >/dev/null || tb_fail "collector stopped answering"
		_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
		[ "$_ms" -gt "$_max" ] && _max=$_ms
		sleep 0.1
	done
	echo "$_max"
}

base=$(rings_now)
chmod 755 "$TB_T" 2>/dev/null
tb_exec h1 setpriv --reuid=65534 --regid=65534 --clear-groups "$atk_bin" $N >"$TB_T/atk.out" 2>&1 &
atk=$!
i=0
until grep -q '^ready' "$TB_T/atk.out" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 300 ] && { cat "$TB_T/atk.out"; tb_fail "attacker did not start"; }
	sleep 0.1
done
apid=$(awk '/^ready/ { print $2 }' "$TB_T/atk.out")
i=0
while [ "$(rings_now)" -lt $((base + N)) ]; do
	i=$((i + 1)) # each new process costs the uid graph time (/proc reads): ~20 a second here
	[ $i -gt 180 ] && tb_fail "only $(rings_now) rings registered ($N sent)"
	sleep 0.5
done
echo "$N rings of uid 65534 registered (collector pid $cpid, attacker pid $apid)"
sleep 1
c0=$(cpu); spin_max=$(answers 3); c1=$(cpu)
kill -USR1 "$apid"
sleep 0.5
c2=$(cpu); punch_max=$(answers 3); c3=$(cpu)
kill -TERM "$apid"
wait "$atk"
cat "$TB_T/atk.out"
spin=$((c1 - c0)) punch=$((c3 - c2))
echo "collector CPU over 3 s: $spin ticks with the holder spinning, $punch ticks punching holes (100 ticks = 1 s of a core); slowest answer ${spin_max} ms / ${punch_max} ms"
[ "$punch_max" -lt 1000 ] || tb_fail "an answer took ${punch_max} ms while the holes were punched"
[ "$punch" -le $((3 * spin + 15)) ] ||
	tb_fail "hole-punching one uid's $N rings cost the collector $punch ticks in 3 s (spinning: $spin)"
echo "ok"
