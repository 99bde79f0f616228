#!/bin/sh
# tests/bench/kev.sh — what the kernel event source's programs cost the whole
# machine (issue 13 Done-when 4, in part): a collector in a network namespace
# with `kernel_events = on`, then `off`, alternating ROUNDS times in the same
# run; each row is the median CPU time (user + system: the machine may be
# shared) of a workload run in that namespace (its events are the ones the
# programs keep; everyone else's pay the filter):
#   syscall  dd bs=1 of COUNT bytes /dev/zero -> /dev/null (2 syscalls a byte:
#            with the accept syscalls' tracepoints on, every syscall takes the
#            kernel's syscall-tracing path; only accept runs a program)
#   spawn    SPAWNS times /bin/true from sh (fork, exec, exit events kept)
#   pipe     SPAWNS times `/bin/true | /bin/true` from sh: each child ends
#            holding a pipe end (its exit-time fds read and sent: KEV_FDS)
#   unix     dd bs=1 of SOCK_BYTES bytes into `nc -U` to an `nc -lU` (a byte a
#            send: each runs sk_data_ready, the reader's reads
#            sock_recv_length — the socket tracepoints' worst case, no
#            descriptors passed)
#   tcp      the same over loopback TCP
# and the collector's CPU time (schedstat) per event it read while "on".
# And the chain row: the collector's `who` answer time (who_bench -q, CHAIN_N
# questions each, interleaved, CHAIN_ROUNDS runs, median of the p50s) for a
# held-open connection of `sleep | sh -c 'cat | nc 127.0.0.1 PORT'` run under
# the shim, against the same pipeline in static busybox without LD_PRELOAD
# (its processes known only from /proc and the kernel events), both alive in
# the same "on" collector; each one's walk (its `seen` fields) printed once.
# CHAIN_N=0: no chain row.
# KEV_ACCEPT=off: the same with `kernel_events_accept = off`. KEV_CMP=sockets:
# the "off" side is `kernel_events = on` with `kernel_events_sockets = off`
# (the socket tracepoints' own cost, against the rest of the source).
# Prints "kev ROW off_ns on_ns ratio" lines, and "kev chain_ns_shim P50 ...",
# "kev chain_ns_kernel P50 ...", "kev chain_ratio KERNEL/SHIM". Needs root; exit 77 when the
# source cannot load here (the reason printed).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/${BUILD:-build}
CHAIN_N=${CHAIN_N:-2000} CHAIN_ROUNDS=${CHAIN_ROUNDS:-3}
ROUNDS=${ROUNDS:-5} COUNT=${COUNT:-500000} SPAWNS=${SPAWNS:-300} SOCK_BYTES=${SOCK_BYTES:-200000}
[ "$(id -u)" = 0 ] || { echo "kev bench: needs root"; exit 77; }
# The whole bench runs in an anonymous network namespace (unshare): it ends with
# its last process, so a killed bench (even SIGKILL) leaves no named netns
# behind; --kill-child and the collector's --pdeathsig end the processes too.
# (Not a pid namespace: the collector's self-test needs the kernel's pids.)
if [ -z "${HTKEV_INNER:-}" ]; then
	HTKEV_INNER=1 exec unshare --net --fork --kill-child -- sh "$0" "$@"
fi
d=$(mktemp -d /tmp/htkev.XXXXXX)
cp="" chain_pids=""
cleanup() { [ -n "$cp" ] && kill "$cp" 2>/dev/null; for p in $chain_pids; do kill -- "$p" 2>/dev/null; done; rm -rf "$d"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
ip link set lo up || exit 1

start() { # on|off  (KEV_ACCEPT=off: kernel_events_accept = off; KEV_CMP=sockets)
	_ke=$1 _ks=on
	if [ "${KEV_CMP:-}" = sockets ]; then
		_ke=on
		[ "$1" = off ] && _ks=off
	fi
	printf '[collector]\nhostname = kev\ncontrol = %s/control.sock\nkernel_events = %s\nkernel_events_accept = %s\nkernel_events_sockets = %s\n' \
		"$d" "$_ke" "${KEV_ACCEPT:-on}" "$_ks" >"$d/c.conf"
	setpriv --pdeathsig KILL "$B/hoptraced" -d -f "$d/c.conf" >"$d/coll-$1.log" 2>&1 &
	cp=$!
	i=0
	until "$B/hoptrace" -f "$d/c.conf" status >"$d/st" 2>/dev/null; do
		i=$((i + 1))
		if [ $i -gt 50 ] || ! kill -0 $cp 2>/dev/null; then
			cat "$d/coll-$1.log"; cp=""
			echo "kev bench: the collector (kernel_events = $1) did not start"; exit 77
		fi
		sleep 0.1
	done
}
stop() { kill "$cp"; wait "$cp" 2>/dev/null; cp=""; }
cpu_ns() { awk '{ print $1 }' "/proc/$cp/schedstat"; } # time on a CPU, ns
events() { "$B/hoptrace" -f "$d/c.conf" status | sed -n 's/^kernel_events\.events: //p'; }
timed() { # CMD...: the CPU time (user + system, ns) CMD and its children took
	# (CPU, not wall time: the machine may be shared; a syscall's cost is CPU)
	python3 -c 'import os, resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(int((r.ru_utime + r.ru_stime) * 1e9))' "$@"
}
w_syscall() { timed dd if=/dev/zero of=/dev/null bs=1 count="$COUNT"; }
w_spawn() { timed sh -c 'i=0; while [ $i -lt '"$SPAWNS"' ]; do /bin/true; i=$((i + 1)); done'; }
w_pipe() { timed sh -c 'i=0; while [ $i -lt '"$SPAWNS"' ]; do /bin/true | /bin/true; i=$((i + 1)); done'; }
w_unix() {
	rm -f "$d/u.sock"
	timed sh -c 'timeout 60 nc -lU "$1" >/dev/null & i=0; while [ ! -S "$1" ] && [ $i -lt 100 ]; do sleep 0.01; i=$((i + 1)); done; sleep 0.05 # (bound, maybe not listening yet)
dd if=/dev/zero bs=1 count="$2" 2>/dev/null | nc -N -U "$1"; wait' sh "$d/u.sock" "$SOCK_BYTES"
}
w_tcp() {
	timed sh -c 'timeout 60 nc -l 127.0.0.1 9099 >/dev/null & i=0; until ss -Hltn "sport = :9099" | grep -q .; do sleep 0.01; i=$((i + 1)); [ $i -lt 300 ] || break; done
dd if=/dev/zero bs=1 count="$1" 2>/dev/null | nc -N 127.0.0.1 9099; wait' sh "$SOCK_BYTES"
}

start on
st=$(sed -n 's/^kernel_events\.state: //p' "$d/st")
if [ "$st" != on ]; then
	echo "kev bench: kernel events $st: $(sed -n 's/^kernel_events\.reason: //p' "$d/st")"
	exit 77
fi
stop
: >"$d/syscall.on"; : >"$d/syscall.off"; : >"$d/spawn.on"; : >"$d/spawn.off"
: >"$d/pipe.on"; : >"$d/pipe.off"
: >"$d/unix.on"; : >"$d/unix.off"; : >"$d/tcp.on"; : >"$d/tcp.off"
ev_total=0 tick_total=0
r=0
while [ $r -lt "$ROUNDS" ]; do
	for m in off on; do
		start $m
		[ $m = on ] && { c0=$(cpu_ns); e0=$(events); }
		w_syscall >>"$d/syscall.$m"
		w_spawn >>"$d/spawn.$m"
		w_pipe >>"$d/pipe.$m"
		w_unix >>"$d/unix.$m"
		w_tcp >>"$d/tcp.$m"
		if [ $m = on ]; then
			e1=$(events); c1=$(cpu_ns)
			ev_total=$((ev_total + e1 - e0)); tick_total=$((tick_total + c1 - c0))
		fi
		stop
	done
	r=$((r + 1))
done
med() { sort -n "$1" | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# ---- chain: shimmed vs kernel-sourced processes, the same pipeline -------------
# tuple PORT: "LOCAL,REMOTE" of the established connection to 127.0.0.1:PORT
tuple() {
	_i=0
	while [ $_i -lt 100 ]; do
		_t=$(ss -Htn state established "( dport = :$1 )" | awk '{ print $(NF - 1) "," $NF; exit }')
		[ -n "$_t" ] && { echo "$_t"; return 0; }
		sleep 0.05; _i=$((_i + 1))
	done
	return 1
}
# walk FILE: the answer's tree, each node "argv0[seen]" with its sources
# "(<via< node, ...)", then its chains' lengths
walk() {
	python3 -c 'import json, sys
a = json.loads(sys.stdin.read().split(" ", 2)[2])
def w(n):
	if not n or n.get("type") != "proc": return (n or {}).get("type", "-")
	s = ", ".join("<%s< %s" % (x.get("via"), w(x.get("node"))) for x in n.get("sources") or [])
	return "%s[%s]%s" % (n.get("argv0") or n.get("exe"), n.get("seen"), " (%s)" % s if s else "")
print(w(a.get("tree")), "; chains:", [len(c.get("procs") or []) for c in a.get("chains") or []])' <"$1"
}
chain_row() {
	BB=/bin/busybox
	if [ ! -x $BB ] || readelf -l $BB 2>/dev/null | grep -q INTERP; then
		echo "kev chain: skipped (no static $BB: install busybox-static)"; return 0
	fi
	start on
	# the listeners shimmed (the far end's holder known from its records, not
	# searched for in /proc on each question: the same for both)
	for port in 9101 9102; do
		env LD_PRELOAD="$B/libhoptrace.so" timeout 600 nc -l 127.0.0.1 $port >/dev/null &
		chain_pids="$chain_pids $!"
	done
	sleep 0.3
	# (a) shimmed; (b) static busybox, no LD_PRELOAD: the same shape
	# (the sleep inside: a pipe whose every holder is of the same kind)
	# (each in its own process group: its pid is the group, ended whole)
	setsid env LD_PRELOAD="$B/libhoptrace.so" sh -c 'sleep 600 | cat | nc 127.0.0.1 9101' </dev/null >/dev/null 2>&1 &
	chain_pids="$chain_pids -$!"
	setsid env -u LD_PRELOAD $BB sh -c "$BB sleep 600 | $BB cat | $BB nc 127.0.0.1 9102" </dev/null >/dev/null 2>&1 &
	chain_pids="$chain_pids -$!"
	ta=$(tuple 9101) && tb=$(tuple 9102) || { echo "kev chain: no connection"; return 1; }
	sleep 0.5 # (the records and events of both read)
	: >"$d/chain.shim"; : >"$d/chain.kernel"
	_r=0
	while [ $_r -lt "$CHAIN_ROUNDS" ]; do
		"$B/tests/bench/who_bench" -n "$CHAIN_N" -q "$ta" -q "$tb" -v >"$d/chain.out" || { cat "$d/chain.out"; return 1; }
		if [ $_r = 0 ]; then
			grep "^answer $ta " "$d/chain.out" >"$d/ans.shim"; grep "^answer $tb " "$d/chain.out" >"$d/ans.kernel"
			echo "kev chain_walk_shim $(walk "$d/ans.shim")"
			echo "kev chain_walk_kernel $(walk "$d/ans.kernel")"
		fi
		grep "^who_q $ta " "$d/chain.out" | tee -a "$d/chain.log" | sed 's/.* p50_ns \([0-9]*\).*/\1/' >>"$d/chain.shim"
		grep "^who_q $tb " "$d/chain.out" | tee -a "$d/chain.log" | sed 's/.* p50_ns \([0-9]*\).*/\1/' >>"$d/chain.kernel"
		_r=$((_r + 1))
	done
	sed 's/^/kev chain_run /' "$d/chain.log"
	# the same collector's answer for who_bench's own connections (one shimmed
	# process, each closed after its question: the `who` row's shape)
	echo "kev chain_ref $(env LD_PRELOAD="$B/libhoptrace.so" "$B/tests/bench/who_bench" -n "$CHAIN_N" -p 9103)"
	sa=$(med "$d/chain.shim") sb=$(med "$d/chain.kernel")
	echo "kev chain_ns_shim $sa"
	echo "kev chain_ns_kernel $sb"
	awk -v a="$sa" -v b="$sb" 'BEGIN { if (a > 0) printf "kev chain_ratio %.3f (kernel-sourced / shimmed, p50 of %d questions each, median of '"$CHAIN_ROUNDS"' runs)\n", b / a, '"$CHAIN_N"' }'
	for p in $chain_pids; do kill -- "$p" 2>/dev/null; done
	chain_pids=""
	stop
}
[ "$CHAIN_N" -gt 0 ] && chain_row
for w in syscall spawn pipe unix tcp; do
	off=$(med "$d/$w.off") on=$(med "$d/$w.on")
	awk -v w="$w" -v a="$off" -v b="$on" 'BEGIN { printf "kev %s %d %d %.3f\n", w, a, b, b / a }'
done
echo "kev events_read $ev_total"
# (the collector's whole CPU time meanwhile: the two status queries included)
awk -v t="$tick_total" -v n="$ev_total" \
	'BEGIN { if (n > 0) printf "kev collector_ns_per_event %.0f (%d ns of CPU for %d events)\n", t / n, t, n }'
