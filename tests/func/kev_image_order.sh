#!/bin/sh
# kev_image_order.sh — a shimmed process's IMAGE is applied as the new image it
# is, whatever drain round reads it, while other shells keep the collector's
# drains busy (two shells running /bin/true 60 times around each subject: dash
# vforks each, whose BIRTH+EXEC go on a momentary record-socket connection and
# whose IMAGE registers a ring).
#   - no IMAGE or BIRTH is refused by the kernel's events
#     (`claims.refused_by_kernel_events` stays 0): the collector read the
#     event ring only when a drain began, and an IMAGE read in a later round of
#     a drain that began before its exec found "no exec in the kernel's
#     events";
#   - 25 times, a waiting shell's vfork child (`sh -c "sleep 30 >F & sleep 31
#     <F; wait"`, chain_relays' "fifo chain, waiting shell") is asked for its
#     chain and is `seen: shim` (a refused IMAGE, or its own EXEC applied after
#     it, made the walk take it for a static image: `seen: kernel`).
# With main's collector (81db390) it failed 4 of 5 runs (0-4 refusals a run, a
# subject seen kernel in 2); 0 of 6 with the fix. A spawn flood instead of
# bursts overflows the event ring (kernel_events.lost), which proves nothing.
# SKIP when the kernel event source cannot load.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need mkfifo
tb_switch
tb_host h1 10.231.0.1 fd00:231::1
tb_collector h1
tb_kev_need h1
tb_preload on
N=${N:-25}

fails=0
for i in $(seq 1 "$N"); do
	# a burst of spawns around the subject's (bounded: this machine is shared,
	# and a flood overflows the event ring, which proves nothing here)
	# (by the pids recorded here: other runs' sleeps and bursts are visible
	# host-wide, and a pgrep/pkill by name took or killed theirs)
	kio_bursts=""
	for j in 1 2; do
		tb_bg h1 sh -c 'i=0; while [ $i -lt 60 ]; do /bin/true; i=$((i + 1)); done'
		kio_bursts="$kio_bursts $TB_LAST"
	done
	tb_exec h1 mkfifo "/tmp/f$i" || tb_fail "mkfifo"
	tb_bg h1 sh -c "sleep 30 >/tmp/f$i & sleep 31 </tmp/f$i; wait"
	kio_sh=$TB_LAST
	p="" k=0
	while [ -z "$p" ] && [ $k -lt 100 ]; do
		p=$(tb_child_of "$kio_sh" '^sleep 31 $')
		k=$((k + 1)); [ -n "$p" ] || sleep 0.05
	done
	[ -n "$p" ] || tb_fail "no subject (round $i)"
	sleep 0.2
	tb_exec h1 "$TB_HOPTRACE" chain "$p" --json >"$TB_T/chain$i.json" ||
		{ cat "$TB_T/chain$i.json"; tb_fail "hoptrace chain $p failed"; }
	s=$(tb_exec h1 "$TB_HOPTRACE" ps | awk -v p="$p" '$1 == p && $4 == "alive" { print $5 }')
	if [ "$s" != shim ]; then
		echo "FAIL-CASE: round $i: the waiting shell's vfork child $p is seen '$s', not shim"
		tb_exec h1 "$TB_HOPTRACE" ps | awk -v p="$p" '$1 == p' | sed 's/^/    ps: /'
		fails=$((fails + 1))
	fi
	for kio_c in $(tb_children "$kio_sh"); do kill "$kio_c" 2>/dev/null; done
	tb_wait_exit 30 $kio_bursts
done
tb_exec h1 "$TB_HOPTRACE" status >"$TB_T/status" || tb_fail "status"
grep '^kernel_events\.' "$TB_T/status" | sed 's/^/    /'
r=$(sed -n 's/^claims\.refused_by_kernel_events: //p' "$TB_T/status")
spawned=$(sed -n 's/^procs: //p' "$TB_T/status")
tb_log "$N subjects, $fails not seen by the shim; refused_by_kernel_events: $r (procs in the graph: $spawned)"
[ "$r" = 0 ] || { echo "FAIL-CASE: $r records refused by the kernel's events (none lies here)"; fails=$((fails + 1)); }
[ $fails -eq 0 ] || tb_fail "$fails check(s) failed"
exit 0
