#!/bin/sh
# attack_flood — issue 10 defect 5 (the receive side): one user's record
# flood delays another user's answers by a bounded amount. As nobody,
# tests/helpers/atk_flood.c sends records as fast as hoptraced takes them:
#   1. 120,000 OPEN records on one connection (the original attack);
#   2. 32 connections of one process, 8,000 OPEN each;
#   3. a fork flood: 16 processes of the same uid, 2 connections each;
#   4. OPEN / DUP / CLOSE churn, 300,000 records.
# While each runs, root's `hoptrace status` must answer within 500 ms every
# time, and a root process started during the flood must have its chain built
# from its own records (not the kernel fallback); afterwards `hoptrace status`
# must count dropped records or throttling (its connections not read for a
# while: atk_flood then waits, a shim drops and counts) for uid 65534 and
# none for uid 0.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need setpriv python3
FL=$TB_HELPERS/atk_flood
[ -x "$FL" ] || tb_skip "missing $FL (make)"
tb_switch
tb_host h1 10.231.0.1
tb_collector h1

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ms() { echo $(($(date +%s%N) / 1000000)); }
BOUND=500

# probe WHAT: 6 status queries as root, each within BOUND ms
probe() {
	_max=0
	for _k in 1 2 3 4 5 6; do
		_t0=$(ms)
		tb_exec h1 "$TB_HOPTRACE" --timeout 8000 status >/dev/null 2>&1 ||
			{ fail "$1: status did not answer within 8 s"; return; }
		_dt=$(($(ms) - _t0))
		[ "$_dt" -gt "$_max" ] && _max=$_dt
		sleep 0.15
	done
	[ "$_max" -le $BOUND ] || fail "$1: status took up to $_max ms (bound $BOUND ms)"
	echo "   $1: status answered within $_max ms"
}

# victim WHAT: a root shimmed sh | cat started during the flood: its chain
# comes from records
victim() {
	tb_bg h1 env LD_PRELOAD="$TB_SHIM" sh -c "$TB_PY -c 'import time; time.sleep(3)' | cat; true"
	sleep 0.8
	_py=$(tb_pid_of h1 "time.sleep\\(3\\)") || { fail "$1: victim not found"; return; }
	_t0=$(ms)
	tb_exec h1 "$TB_HOPTRACE" --timeout 8000 chain "$_py" --json >"$TB_T/chain.json" 2>&1
	_dt=$(($(ms) - _t0))
	[ "$_dt" -le $BOUND ] || fail "$1: the victim's chain took $_dt ms (bound $BOUND ms)"
	tb_assert_chain "$TB_T/chain.json" -q --contains "h1:python3.11" --no-kernel --complete ||
		fail "$1: the victim's chain is not from its records: $(head -c 400 "$TB_T/chain.json")"
}

# flood WHAT ARGS...: atk_flood as nobody while probing
flood() {
	_w=$1; shift
	tb_bg h1 setpriv --reuid nobody --regid nogroup --clear-groups "$FL" -T 6 "$@" hoptrace/rec
	_fp=$TB_LAST _log=$TB_LASTLOG
	sleep 0.5
	probe "$_w"
	victim "$_w"
	wait "$_fp" 2>/dev/null
	echo "   $_w: atk_flood $(tail -n 1 "$_log")"
	# let the collector catch up before the next case
	_i=0
	until tb_exec h1 "$TB_HOPTRACE" --timeout 1000 status >/dev/null 2>&1; do
		_i=$((_i + 1)); [ $_i -lt 20 ] || break
	done
}

tb_log "baseline (no flood)"
probe "no flood"

tb_log "floods from uid 65534"
flood "120k OPEN, one connection" -k open -n 120000
flood "32 connections" -k open -c 32 -n 256000
flood "fork flood (16 senders)" -k open -f 16 -c 2 -n 20000
flood "OPEN/DUP/CLOSE churn" -k churn -n 300000

tb_exec h1 "$TB_HOPTRACE" status --json >"$TB_T/st.json" 2>&1
"$TB_PY" -c 'import json,sys
a=json.load(open(sys.argv[1]))
u={str(x["uid"]): x for x in a.get("uids", [])}
print("   per uid:", json.dumps(a.get("uids")))
assert "65534" in u and u["65534"]["dropped"] + u["65534"]["throttled"] > 0, "no drops or throttling counted for uid 65534"
r = u.get("0", {})
assert r.get("dropped", 0) == 0 and r.get("throttled", 0) == 0, "drops or throttling counted for root"
' "$TB_T/st.json" || fail "per-uid drop counters: $(head -c 600 "$TB_T/st.json")"
kill -0 "$(cat "$(tb_dir h1)/hoptraced.pid")" 2>/dev/null || fail "hoptraced died"
[ $fails = 0 ] || tb_fail "$fails check(s) failed"
echo "PASS"
