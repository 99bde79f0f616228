#!/bin/sh
# tests/bench/ssh_overhead.sh — the paper's overhead measurement between testbed
# hosts: `ssh -tt h2 ls` (one hop) and `ssh -tt h2 ssh -tt h1 ls` (two hops), run
# from h1; median in ms of ROUNDS x N runs each. Rows, all in this run:
#   base        no hoptrace at all (collectors idle: no shim feeds them)
#   shim+coll   /etc/ld.so.preload with the shim, a collector on every host
#   full        + hopguard on every host ENFORCING an allowing policy
#               (`*, *, *, *, black,`) — the paper's "with the system" (issue 4's
#               target: at most 1.10x base, aiming at 1.03x). SSH_BENCH_GUARD=0
#               leaves it out. If the two-hop run is refused because h1's chain
#               on h2 is incomplete (no cross-host following), the row is
#               measured with `@incomplete evaluate` and labelled full*.
# The rows are measured in alternation, ROUNDS (5) rounds of N (4) runs per row
# and command, so that load from elsewhere on the machine falls on every row
# alike; each row's figure is the median of all its runs. The timing loop runs
# inside h1 (one `ip netns exec` per batch), so only ssh itself is measured.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
N=${N:-4} ROUNDS=${ROUNDS:-5}
tb_init "$@"
tb_switch
tb_host h1 10.231.0.1 fd00:231::1
tb_host h2 10.231.0.2 fd00:231::2
tb_sshd h1
tb_sshd h2

# sample FILE CMD... : run CMD N times inside h1 (plus one warm-up), append the
# times in us (or FAIL) to FILE
sample() {
	_f=$1; shift
	tb_exec h1 sh -c '
		n=$1; shift
		"$@" >/dev/null 2>&1 </dev/null
		i=0
		while [ $i -lt "$n" ]; do
			t0=$(date +%s%N)
			if "$@" >/dev/null 2>&1 </dev/null; then
				t1=$(date +%s%N); echo $(( (t1 - t0) / 1000 ))
			else echo FAIL; fi
			i=$((i + 1))
		done' sh "$N" "$@" >>"$_f"
}
median() { # FILE -> ms, or FAIL(f/n)
	sort -n "$1" | awk '/FAIL/ { f++; next } {v[++n]=$1} END {
		if (f) { printf "FAIL(%d/%d)\n", f, f + n; exit }
		if (n == 0) { print "nan"; exit }
		m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		printf "%.1f\n", m / 1000 }'
}
round() { # LABEL
	sample "$TB_T/s1-$1" ssh -tt h2 ls
	sample "$TB_T/s2-$1" ssh -tt h2 ssh -tt h1 ls
}

HAVE_COLL=0 HAVE_GUARD=0
if [ -f "$TB_SHIM" ] && [ -x "$TB_HOPTRACED" ]; then
	HAVE_COLL=1
	for h in h1 h2; do tb_collector $h; done
	[ "${SSH_BENCH_GUARD:-1}" = 1 ] && [ -x "$TB_HOPGUARD" ] && HAVE_GUARD=1
fi
for h in h1 h2; do echo '*, *, *, *, black,' >"$(tb_dir $h)/policy.acl"; done
guards_on() {
	for h in h1 h2; do
		[ -f "$(tb_dir $h)/hopguard.log" ] && mv "$(tb_dir $h)/hopguard.log" "$(tb_dir $h)/hopguard.old.log"
		tb_guard $h >/dev/null
	done
}
guards_off() {
	for h in h1 h2; do
		p=$(cat "$(tb_dir $h)/hopguard.pid")
		kill -TERM "$p" 2>/dev/null
		i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		sed -i '/^\[guard\]$/,$d' "$(tb_conf $h)"
	done
}

FULL=full NOTE=""
r=1
while [ $r -le "$ROUNDS" ]; do
	tb_preload off
	round base
	if [ $HAVE_COLL = 1 ]; then
		tb_preload on
		round shim+coll
		if [ $HAVE_GUARD = 1 ]; then
			guards_on
			if [ $r = 1 ] && ! tb_exec h1 ssh -tt h2 ssh -tt h1 true >/dev/null 2>&1 </dev/null; then
				NOTE=$(grep -F '"verdict":"reject"' "$(tb_dir h2)/audit.log" | tail -n 1 | sed 's/.*"reason":"\([^"]*\)".*/\1/')
				for h in h1 h2; do echo '@incomplete evaluate' >>"$(tb_dir $h)/policy.acl"; done
				FULL='full*'
				guards_off; guards_on
			fi
			round full
			guards_off
		fi
		tb_preload off
	fi
	r=$((r + 1))
done

echo "ssh_overhead: medians of $ROUNDS x $N runs from h1, rows in alternation (paper: 0.471 s / 0.904 s without, 6.4x / 10x with)"
BENCH_FAILED=0
B1=$(median "$TB_T/s1-base") B2=$(median "$TB_T/s2-base")
for lab in base shim+coll full; do
	[ -f "$TB_T/s1-$lab" ] || continue
	one=$(median "$TB_T/s1-$lab") two=$(median "$TB_T/s2-$lab")
	r1=$(awk -v a="$one" -v b="$B1" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }')
	r2=$(awk -v a="$two" -v b="$B2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }')
	case "$one$two" in *FAIL*) BENCH_FAILED=1 ;; esac
	l=$lab; [ "$lab" = full ] && l=$FULL
	printf '%-10s one hop %8s ms (%sx)   two hops %8s ms (%sx)   n=%s\n' "$l" "$one" "$r1" "$two" "$r2" $((ROUNDS * N))
	[ "$lab" = full ] && awk -v a="$r1" -v b="$r2" 'BEGIN { t = 1.10
		if (a + 0 == 0 || b + 0 == 0) { print "target     (no figures)"; exit }
		printf "target     full/base <= %.2fx: one hop %.2fx %s, two hops %.2fx %s\n", t,
		    a, (a <= t ? "MET" : "MISSED"), b, (b <= t ? "MET" : "MISSED") }'
done
[ $HAVE_COLL = 1 ] || echo "shim+coll  (not run: shim or hoptraced not built)"
[ $HAVE_COLL = 1 ] && [ $HAVE_GUARD = 0 ] && echo "full       (not run: SSH_BENCH_GUARD=0 or hopguard not built)"
[ -n "$NOTE" ] && echo "note       full*: two hops were refused with the allow-all list ($NOTE); measured with @incomplete evaluate"
if [ $HAVE_GUARD = 1 ]; then
	[ -n "${SSH_AUDIT_COPY:-}" ] && for h in h1 h2; do cp "$(tb_dir $h)/audit.log" "$SSH_AUDIT_COPY.$h" 2>/dev/null; done
	for h in h1 h2; do
		cat "$(tb_dir $h)/audit.log" 2>/dev/null
	done | "$TB_PY" -c '
import json, sys
v = sorted(json.loads(l)["latency_us"] for l in sys.stdin if l.strip())
if v:
    print("guard      %d decisions, latency p50 %d us, max %d us (on h1 and h2; h2 asks h1)" % (len(v), v[len(v) // 2], v[-1]))'
fi
[ "$BENCH_FAILED" = 0 ] || tb_fail "some ssh runs failed (FAIL(failed/total) above)"
