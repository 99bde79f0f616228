#!/bin/sh
# attack_stall — issue 10 defect 2: nothing a sender controls blocks the
# collector's graph thread. As nobody, hand hoptraced file descriptors whose
# last close blocks (a TCP socket with SO_LINGER and unsent data to a peer
# that never reads — tests/helpers/atk_stall.c) and check that it keeps
# answering `hoptrace status` within 1 s while they are in flight:
#   1. one such fd in one record datagram (the original attack);
#   2. 64 fds in one datagram;
#   3. 24 datagrams, one fd each;
#   4. a socketpair end whose queue holds the lingering socket (the block is
#      one close further in);
#   5. on the doorbell (SOCK_DGRAM, anybody's to send to);
#   6. on the guard's query socket (refused after accept: the connection is
#      closed with the datagram still queued);
# then 1-4 again against a collector without SO_PASSRIGHTS (the fallback for
# kernels before 6.16: HOPTRACED_NO_PASSRIGHTS=1), which must take the fds
# off its thread.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need setpriv
ATK=$TB_HELPERS/atk_stall
[ -x "$ATK" ] || tb_skip "missing $ATK (make)"
tb_switch
tb_host h1 10.231.0.1
tb_collector h1

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ms() { echo $(($(date +%s%N) / 1000000)); }

# answers HOST WHAT: `hoptrace status` must answer within 1 s, three times
answers() {
	for _k in 1 2 3; do
		_t0=$(ms)
		if ! tb_exec "$1" "$TB_HOPTRACE" --timeout 4000 status >/dev/null 2>&1; then
			fail "$2: no status answer within 4 s"
			return
		fi
		_dt=$(($(ms) - _t0))
		if [ "$_dt" -gt 1000 ]; then
			fail "$2: status took $_dt ms (bound 1000 ms)"
			return
		fi
		sleep 0.3
	done
	echo "   $2: answered (last ${_dt} ms)"
}

# recover HOST: wait (up to 20 s) until the collector answers again, so that
# one case's stall does not count against the next
recover() {
	_i=0
	until tb_exec "$1" "$TB_HOPTRACE" --timeout 1000 status >/dev/null 2>&1; do
		_i=$((_i + 1)); [ $_i -lt 20 ] || break
	done
}

# attack HOST WHAT ARGS...: atk_stall as nobody, then the collector must answer
attack() {
	_h=$1 _w=$2; shift 2
	tb_bg "$_h" setpriv --reuid nobody --regid nogroup --clear-groups "$ATK" -l 4 -w 3 "$@"
	_p=$TB_LAST _log=$TB_LASTLOG
	sleep 0.4
	answers "$_h" "$_w"
	wait "$_p" 2>/dev/null
	echo "   $_w: atk_stall: $(tail -n 1 "$_log")"
	recover "$_h"
}

tb_log "SO_PASSRIGHTS collector"
attack h1 "one lingering fd on the record socket" hoptrace/rec
attack h1 "64 fds in one datagram" -k 64 hoptrace/rec
attack h1 "24 datagrams" -n 24 hoptrace/rec
attack h1 "nested (socketpair holding the lingering socket)" -m nested hoptrace/rec
attack h1 "on the doorbell" -t bell hoptrace/rec.wake
attack h1 "on the query socket" -t query -n 4 hoptrace/query
tb_exec h1 "$TB_HOPTRACE" status --json >"$TB_T/st1.json" 2>&1
grep -q '"fd_passing_refused_by_kernel":true' "$TB_T/st1.json" ||
	fail "status does not say the kernel refuses passed fds: $(head -c 400 "$TB_T/st1.json")"

tb_log "fallback collector (no SO_PASSRIGHTS): the fds go to a closer thread"
tb_host h2 10.231.0.2
_tb_bglog "$(tb_dir h2)/hoptraced.log" h2 env HOPTRACED_NO_PASSRIGHTS=1 "$TB_HOPTRACED" -d -f /etc/hoptrace/hoptrace.conf
i=0
until tb_exec h2 "$TB_HOPTRACE" status >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 50 ] || tb_fail "fallback collector did not start"; sleep 0.1
done
attack h2 "fallback: one lingering fd" hoptrace/rec
attack h2 "fallback: 64 fds in one datagram" -k 64 hoptrace/rec
attack h2 "fallback: 24 datagrams" -n 24 hoptrace/rec
attack h2 "fallback: nested" -m nested hoptrace/rec
attack h2 "fallback: on the doorbell" -t bell hoptrace/rec.wake
attack h2 "fallback: on the query socket" -t query -n 4 hoptrace/query
tb_exec h2 "$TB_HOPTRACE" status --json >"$TB_T/st2.json" 2>&1
grep -q '"fd_passing":[1-9]' "$TB_T/st2.json" ||
	fail "fallback collector counted no fd-passing datagram: $(head -c 400 "$TB_T/st2.json")"
for h in h1 h2; do
	kill -0 "$(cat "$(tb_dir $h)/hoptraced.pid" 2>/dev/null || echo 0)" 2>/dev/null ||
		[ $h = h2 ] || fail "hoptraced on $h died"
done
[ $fails = 0 ] || tb_fail "$fails check(s) failed"
echo "PASS"
