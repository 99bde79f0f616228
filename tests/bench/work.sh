#!/bin/sh
# tests/bench/work.sh — issue 14's rows on real work, each without and with the
# shim in the same run, interleaved, a real hoptraced reading (its own socket
# names, no inquiry service, no guard):
#   shell    a shell loop: SHELL_N (300) × a pipeline (`echo … | grep -q`) and a
#            command substitution (`$(basename …)`), run by sh; beside it the
#            same loop with an EMPTY preloaded library (the floor of any
#            LD_PRELOAD design)
#   make     `make -j2` of hoptrace itself into a fresh build directory
#            (MAKE_RUNS pairs, 0 skips it)
#   coll     the collector's CPU per spawned process (bench_shim's spawn op
#            alone) and per record (its pipe op alone: PIPE + 2 CLOSE), its
#            idle CPU over the same time taken off; the records lost by the
#            shims (their EXIT records' count) in those flood rows and in the
#            shell row
# Prints "row base_ms shim_ms ratio" lines, "floor: …" and "coll: …" lines.
# Env: BUILD, RUNS (5), SHELL_N (300), MAKE_RUNS (2), SHIM_LIB, SHIM_COLL.
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 1
B=${BUILD:-build}
LIB=${SHIM_LIB:-$top/$B/libhoptrace.so} # SHIM_LIB: another build of the shim (before/after)
BENCH=$top/$B/tests/helpers/bench_shim
COLL=${SHIM_COLL:-$top/$B/hoptraced} # SHIM_COLL: another build of the collector (before/after)
CLI=$top/$B/hoptrace
for f in "$LIB" "$BENCH" "$COLL" "$CLI"; do
	[ -e "$f" ] || { echo "missing $f (run make)"; exit 77; }
done
RUNS=${RUNS:-5} SHELL_N=${SHELL_N:-300} MAKE_RUNS=${MAKE_RUNS:-2}
tmp=$(mktemp -d) || exit 1
name="ht_work.$$"
cp=
cleanup() { [ -n "$cp" ] && kill "$cp" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
cat >"$tmp/c.conf" <<EOC
[collector]
hostname = bench
control = $tmp/control.sock
record_socket = $name
query_socket = $name.q
record_rate = 100000000
[inquiry]
listen = off
EOC
HOPTRACE_DISABLE=1 "$COLL" -d -f "$tmp/c.conf" >"$tmp/coll.out" 2>&1 &
cp=$!
i=0; until grep -q collecting "$tmp/coll.out" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
grep -q collecting "$tmp/coll.out" || { cat "$tmp/coll.out"; echo "hoptraced did not start"; exit 1; }
EMPTY=$tmp/empty.so
echo 'int ht_bench_empty;' >"$tmp/empty.c"
${CC:-cc} -shared -fPIC -O2 -Wl,-z,noseparate-code -nostdlib -o "$EMPTY" "$tmp/empty.c" || EMPTY=

now_ns() { date +%s%N; }
# the collector's CPU, all threads, ns (schedstat)
coll_ns() { cat /proc/"$cp"/task/*/schedstat 2>/dev/null | awk '{ t += $1 } END { printf "%d\n", t }'; }
# a counter of the collector's status (records, lost_by_shims)
stat_of() {
	HOPTRACE_DISABLE=1 "$CLI" -f "$tmp/c.conf" --json status 2>/dev/null |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin).get(sys.argv[1], 0)))' "$1" 2>/dev/null || echo 0
}
shim() { HOPTRACE_SOCKET=$name LD_PRELOAD=$LIB "$@"; }
med() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
ratio() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.3f", s / b }'; }

# ---- shell ---------------------------------------------------------------------
SHELL_LOOP='i=0; while [ $i -lt '$SHELL_N' ]; do echo "line $i" | grep -q line; b=$(basename /a/b/c$i); i=$((i + 1)); done'
timed() { t0=$(now_ns); "$@" >/dev/null 2>&1; echo $(( ($(now_ns) - t0) / 1000 )); } # µs
lost0=$(stat_of lost_by_shims) rec0=$(stat_of records) busy=0
env -u LD_PRELOAD sh -c "$SHELL_LOOP" # warm the page cache
c0=$(coll_ns); t0=$(now_ns); sleep 1; idle=$(awk -v c="$(( $(coll_ns) - c0 ))" -v t="$(( $(now_ns) - t0 ))" 'BEGIN { printf "%.6f", c / t }')
r=1
while [ "$r" -le "$RUNS" ]; do
	timed env -u LD_PRELOAD sh -c "$SHELL_LOOP" >>"$tmp/sh.base"
	c0=$(coll_ns); t0=$(now_ns)
	timed env HOPTRACE_SOCKET=$name LD_PRELOAD=$LIB sh -c "$SHELL_LOOP" >>"$tmp/sh.shim"
	sleep 0.1 # its last records are read
	busy=$(awk -v b="$busy" -v c="$(( $(coll_ns) - c0 ))" -v t="$(( $(now_ns) - t0 ))" -v i="$idle" 'BEGIN { x = c - i * t; printf "%d", b + (x > 0 ? x : 0) }')
	[ -n "$EMPTY" ] && timed env LD_PRELOAD=$EMPTY sh -c "$SHELL_LOOP" >>"$tmp/sh.empty"
	r=$((r + 1))
done
sleep 0.5
lost_sh=$(( $(stat_of lost_by_shims) - lost0 )) rec_sh=$(( $(stat_of records) - rec0 ))
b=$(med <"$tmp/sh.base") s=$(med <"$tmp/sh.shim")
echo "shell $((b / 1000)) $((s / 1000)) $(ratio "$b" "$s")   ($SHELL_N x pipeline + \$(...), median of $RUNS, ms; runs: base $(tr '\n' ' ' <"$tmp/sh.base" | awk '{for (i = 1; i <= NF; i++) printf "%d ", $i / 1000}')/ shim $(tr '\n' ' ' <"$tmp/sh.shim" | awk '{for (i = 1; i <= NF; i++) printf "%d ", $i / 1000}'))"
[ -n "$EMPTY" ] && echo "floor: shell with an empty preloaded library $(ratio "$b" "$(med <"$tmp/sh.empty")")x of baseline"
echo "lost: shell row, records the shims lost: $lost_sh"
# 3 processes per iteration (the pipeline's subshell, grep, basename) and the sh
awk -v b="$busy" -v n="$(( RUNS * (SHELL_N * 3 + 1) ))" -v r="$rec_sh" 'BEGIN {
	printf "coll: shell row: collector CPU %.1f us per spawned process (%d), %.2f us per record (%d): the same CPU divided both ways, idle taken off\n", b / n / 1000, n, b / (r > 0 ? r : 1) / 1000, r }'

# ---- make -j2 -----------------------------------------------------------------
if [ "$MAKE_RUNS" -gt 0 ]; then
	r=1
	while [ "$r" -le "$MAKE_RUNS" ]; do
		for side in base shim; do
			rm -rf "$tmp/mk"
			if [ $side = base ]; then
				timed env -u LD_PRELOAD make -C "$top" -j2 BUILD="$tmp/mk" all >>"$tmp/mk.base"
			else
				timed env HOPTRACE_SOCKET=$name LD_PRELOAD=$LIB make -C "$top" -j2 BUILD="$tmp/mk" all >>"$tmp/mk.shim"
			fi
		done
		r=$((r + 1))
	done
	rm -rf "$tmp/mk"
	b=$(med <"$tmp/mk.base") s=$(med <"$tmp/mk.shim")
	echo "make $((b / 1000)) $((s / 1000)) $(ratio "$b" "$s")   (make -j2 of hoptrace, fresh build dir, median of $MAKE_RUNS, ms; base $(tr '\n' ' ' <"$tmp/mk.base") shim $(tr '\n' ' ' <"$tmp/mk.shim")us)"
fi

# ---- the collector's CPU per spawn and per record, flooded -------------------------
# (bench_shim's loops: records come faster than it reads them; "made" is what
# the loop's hooks wrote, "read" what the collector took, the rest lost in
# full rings — a ring's losses reach the collector only in its EXIT record,
# itself lost when the ring is still full at exit)
coll_row() { # op what
	r0=$(stat_of records) l0=$(stat_of lost_by_shims) c0=$(coll_ns) t0=$(now_ns)
	HT_BENCH_ONLY=$1 shim "$BENCH" 5 1 >"$tmp/coll.$1"
	sleep 0.3 # the last records are read
	c=$(( $(coll_ns) - c0 )) t=$(( $(now_ns) - t0 ))
	rec=$(( $(stat_of records) - r0 )) lost=$(( $(stat_of lost_by_shims) - l0 ))
	n=$(awk -v k="count_$1" '$1 == k {print $2}' "$tmp/coll.$1")
	awk -v c="$c" -v t="$t" -v i="$idle" -v n="$n" -v rec="$rec" -v lost="$lost" -v w="$2" 'BEGIN {
		busy = c - i * t; if (busy < 0) busy = 0
		made = w == "per_record" ? 3 * n : 0
		printf "coll: flood %s %.2f us (%d ops, %d records read%s, %d lost by EXIT records, collector busy %.0f ms)\n",
			w, (w == "per_record" ? busy / (rec > 0 ? rec : 1) : busy / (n > 0 ? n : 1)) / 1000, n, rec,
			made ? sprintf(" of %d made", made) : "", lost, busy / 1e6 }'
}
coll_row spawn per_spawn
coll_row pipe per_record
exit 0
