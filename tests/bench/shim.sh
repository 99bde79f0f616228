#!/bin/sh
# tests/bench/shim.sh — cost of the shim per hooked operation, measured in one
# run with the same binary without and with LD_PRELOAD. The records go to a real
# hoptraced (its own abstract socket names, no inquiry service, no guard), so
# the figures include what the collector's work costs the measured programs on
# this machine's cores; SINK=rec_sink uses the bare record reader instead.
# Runs alternate baseline/shim RUNS times; the figure per side is the median of
# the runs' medians.
# Prints: "op baseline_ns shim_ns ratio", then the floors of any design that
# records what the record format requires: spawn with an empty preloaded
# library, and connect+accept with only the kernel calls that read a CONNECT's
# and an ACCEPT's fields done inline (no shim, no transport), or with the inodes
# and one record each sent to the collector (bench_shim.c); and issue 14's
# floors per row (the records' fields and the records placed in a ring of the
# process's own, no shim). Env: BUILD, RUNS (3), ROUNDS (7), SCALE (1), SINK, SHIM_LIB, SHIM_COLL.
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 1
B=${BUILD:-build}
LIB=${SHIM_LIB:-$top/$B/libhoptrace.so} # SHIM_LIB: another build of the shim (before/after)
BENCH=$top/$B/tests/helpers/bench_shim
SINKBIN=$top/$B/tests/helpers/rec_sink
COLL=${SHIM_COLL:-$top/$B/hoptraced} # SHIM_COLL: another build of the collector (before/after)
SINK=${SINK:-hoptraced}
[ -x "$COLL" ] || SINK=rec_sink
for f in "$LIB" "$BENCH" "$SINKBIN"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "missing $f (run make)"; exit 1; }
done
RUNS=${RUNS:-3} ROUNDS=${ROUNDS:-7} SCALE=${SCALE:-1}
tmp=$(mktemp -d) || exit 1
name="ht_bench.$$"
sinkpid=
cleanup() { [ -n "$sinkpid" ] && kill "$sinkpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
if [ "$SINK" = hoptraced ]; then
	cat >"$tmp/c.conf" <<EOC
[collector]
hostname = bench
control = $tmp/control.sock
record_socket = $name
query_socket = $name.q
# the shim's cost when every record is read: no per-sender bound (issue 10)
record_rate = 100000000
[inquiry]
listen = off
EOC
	HOPTRACE_DISABLE=1 "$COLL" -d -f "$tmp/c.conf" >"$tmp/sink.out" 2>&1 &
	sinkpid=$!
	i=0; until grep -q collecting "$tmp/sink.out" 2>/dev/null || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
	grep -q collecting "$tmp/sink.out" || { cat "$tmp/sink.out"; echo "hoptraced did not start"; exit 1; }
else
	"$SINKBIN" -r "$tmp/ready" "$name" >"$tmp/sink.out" 2>&1 &
	sinkpid=$!
	i=0; while [ ! -f "$tmp/ready" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -f "$tmp/ready" ] || { echo "rec_sink did not start"; exit 1; }
fi
echo "records go to: $SINK"

# the floors of any LD_PRELOAD design, linked lean (two LOAD segments, no
# libc dependency where none is needed): a library with nothing in it (the
# dynamic loader maps it into every process all the same), and one that only
# makes each new image known to the collector (floor_image.c: one SEQPACKET
# connection, one IMAGE record)
LEAN="-shared -fPIC -O2 -Wl,-z,noseparate-code"
EMPTY=$tmp/empty.so
echo 'int ht_bench_empty;' >"$tmp/empty.c"
${CC:-cc} $LEAN -nostdlib -o "$EMPTY" "$tmp/empty.c" || EMPTY=
IMAGE=$tmp/image.so
${CC:-cc} $LEAN -I"$top/include" -o "$IMAGE" tests/bench/floor_image.c || IMAGE=
r=1
while [ $r -le "$RUNS" ]; do
	env -u LD_PRELOAD HT_BENCH_SINK=$name "$BENCH" "$ROUNDS" "$SCALE" >"$tmp/base.$r" || exit 1
	HOPTRACE_SOCKET=$name LD_PRELOAD=$LIB "$BENCH" "$ROUNDS" "$SCALE" >"$tmp/shim.$r" || exit 1
	if [ -n "$EMPTY" ]; then LD_PRELOAD=$EMPTY "$BENCH" "$ROUNDS" "$SCALE" >"$tmp/empty.$r" || exit 1; fi
	if [ -n "$IMAGE" ]; then HOPTRACE_SOCKET=$name LD_PRELOAD=$IMAGE "$BENCH" "$ROUNDS" "$SCALE" >"$tmp/image.$r" || exit 1; fi
	r=$((r + 1))
done
kill "$sinkpid"; wait "$sinkpid" 2>/dev/null; sinkpid=

med() { # side op -> median over runs
	cat "$tmp/$1".* | awk -v op="$2" '$1 == op {print $2}' | sort -n |
		awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'
}
printf '%-8s %12s %12s %8s\n' op baseline_ns shim_ns ratio
for op in connect connect_call accept_call pipe spawn open; do
	b=$(med base "$op"); s=$(med shim "$op")
	awk -v op="$op" -v b="$b" -v s="$s" 'BEGIN {printf "%-8s %12d %12d %8.3f\n", op, b, s, s / b}'
done
if [ -n "$EMPTY" ]; then
	b=$(med base spawn); e=$(med empty spawn)
	awk -v b="$b" -v e="$e" 'BEGIN {printf "floor: spawn with an empty preloaded library %d ns, %.3fx of baseline\n", e, e / b}'
fi
if [ -n "$IMAGE" ]; then
	b=$(med base spawn); e=$(med image spawn)
	awk -v b="$b" -v e="$e" 'BEGIN {printf "floor: spawn with a library that only sends each new image one record %d ns, %.3fx of baseline\n", e, e / b}'
fi
b=$(med base connect)
for f in "connect_inode reading only the two sockets' inodes, no transport" \
	"connect_fields reading only the inodes, the socket type and the local address, no transport" \
	"connect_sent reading the inodes and sending one record per connect and per accept"; do
	set -- $f
	v=$(med base "$1")
	shift
	[ -n "$v" ] || continue
	awk -v b="$b" -v v="$v" -v what="$*" 'BEGIN {printf "floor: connect+accept %s: %d ns, %.3fx of baseline\n", what, v, v / b}'
done
# issue 14's floors: the fields each row's records need and the records
# placed in a ring of the process's own (bench_shim.c), no shim
fl() { # what base_op floor_op
	b=$(med base "$2"); v=$(med base "$3")
	[ -n "$b" ] && [ -n "$v" ] && awk -v b="$b" -v v="$v" -v what="$1" 'BEGIN {printf "floor: %s: %d ns, %.3fx of baseline\n", what, v, v / b}'
}
fl "connect+accept with the records' fields and its four records in a ring" connect connect_ring
fl "accept with the ACCEPT record's fields and the record in a ring" accept_call accept_ring_call
fl "pipe+close with the PIPE record's fstat, no transport" pipe pipe_fstat
fl "pipe+close with the fstat and three records in a ring" pipe pipe_ring
[ "$SINK" = rec_sink ] && echo "records received by rec_sink: $(awk '$1 == "total" {print $2}' "$tmp/sink.out")"
exit 0
