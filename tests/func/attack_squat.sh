#!/bin/sh
# attack_squat — issue 10 defect 6: the collector's socket names cannot be
# squatted. In a fresh testbed host each, nobody binds a collector name BEFORE
# hoptraced starts (tests/helpers/atk_squat.c counts what it receives):
#   1. @hoptrace/rec (the record socket — the original attack);
#   2. @hoptrace/rec.wake (the doorbell: a datagram socket has no peer
#      credentials to check);
#   3. @hoptrace/query (the guard's query socket), with hopguard started;
#   4. @hoptrace/rec from inside an unprivileged user namespace
#      (`unshare -Ur`: root there, nobody here).
# Each time hoptraced must start, say so loudly (an error in its log, and
# `squatted` in `hoptrace status`), a root process's records must never reach
# the squatter (its count of datagrams stays 0) and that process's chain must
# be complete and from records (not the kernel fallback); with the query name
# squatted, the guard must judge a connection on a chain (it talks to the real
# collector only) and send the squatter nothing.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need setpriv python3 unshare
SQ=$TB_HELPERS/atk_squat
[ -x "$SQ" ] || tb_skip "missing $SQ (make)"
tb_switch
tb_host web 10.231.0.9
tb_web web 8080

SQD=$TB_T/squat   # the squatter's files (it runs as nobody)
mkdir -p "$SQD" && chmod 1777 "$SQD"
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# squat HOST NAME [atk_squat flags] [-- prefix...]: nobody binds NAME in HOST
squat() {
	_h=$1 _name=$2; shift 2
	_pre=""
	[ "${1:-}" = userns ] && { _pre="unshare -Ur"; shift; }
	rm -f "$SQD/ready.$_h"
	tb_bg "$_h" setpriv --reuid nobody --regid nogroup --clear-groups $_pre \
		"$SQ" "$@" -r "$SQD/ready.$_h" -c "$SQD/count.$_h" "$_name"
	_i=0
	while [ ! -f "$SQD/ready.$_h" ]; do
		_i=$((_i + 1))
		[ $_i -lt 50 ] || { cat "$TB_LASTLOG"; tb_fail "squatter on $_h did not bind @$_name"; }
		sleep 0.1
	done
}

# collector HOST: hoptraced in HOST; 0 when `hoptrace status` answers
collector() {
	_tb_bglog "$(tb_dir "$1")/hoptraced.log" "$1" "$TB_HOPTRACED" -d -f /etc/hoptrace/hoptrace.conf
	_cp=$TB_LAST
	_i=0
	until tb_exec "$1" "$TB_HOPTRACE" status >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 50 ] || ! kill -0 "$_cp" 2>/dev/null; then
			fail "$1: hoptraced did not start with the name squatted: $(tail -n 3 "$(tb_dir "$1")/hoptraced.log" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.1
	done
}

# loud HOST NAME: the log has an error naming NAME, status has "squatted"
loud() {
	grep -i "squat" "$(tb_dir "$1")/hoptraced.log" | grep -q -- "$2" ||
		fail "$1: no log line about @$2 being squatted: $(cat "$(tb_dir "$1")/hoptraced.log" | head -5 | tr '\n' ' ')"
	tb_exec "$1" "$TB_HOPTRACE" status --json >"$TB_T/st.$1" 2>&1
	"$TB_PY" -c 'import json,sys
a=json.load(open(sys.argv[1]))
s=a.get("squatted")
assert s and any(sys.argv[2] in x for x in s), s' "$TB_T/st.$1" "$2" ||
		fail "$1: status has no squatted entry for @$2: $(head -c 300 "$TB_T/st.$1")"
}

# victim HOST WHAT: root runs a shimmed sh: a curl to web:8080 (its connect
# rings the doorbell), then a python; the python's chain must be complete and
# built from records (seen: shim)
victim() {
	tb_bg "$1" env LD_PRELOAD="$TB_SHIM" sh -c "sleep 0.2; curl -s -o /dev/null --max-time 3 http://10.231.0.9:8080/; $TB_PY -c 'import time; time.sleep(4)' | cat; true"
	_vp=$TB_LAST
	sleep 1.2
	_py=$(tb_pid_of "$1" "time.sleep") || { fail "$2: victim python not found"; return; }
	tb_exec "$1" "$TB_HOPTRACE" chain "$_py" --json >"$TB_T/chain.$1" 2>&1
	tb_assert_chain "$TB_T/chain.$1" -q --contains "$1:python3.11" --no-kernel --complete ||
		fail "$2: the root victim's chain is not complete from records: $(head -c 600 "$TB_T/chain.$1")"
}

# nothing HOST WHAT: the squatter received no datagram
nothing() {
	c=$(cat "$SQD/count.$1" 2>/dev/null)
	case $c in
	"conns "*" datagrams 0 "*) echo "   $2: squatter got: $c" ;;
	*) fail "$2: the squatter received records: $c" ;;
	esac
}

tb_log "1. @hoptrace/rec squatted by nobody"
tb_host h1 10.231.0.1
squat h1 hoptrace/rec
collector h1 && loud h1 hoptrace/rec
victim h1 "rec squatted"   # also when it did not start: whom do the records reach?
nothing h1 "rec squatted"

tb_log "2. the doorbell @hoptrace/rec.wake squatted by nobody"
tb_host h2 10.231.0.2
squat h2 hoptrace/rec.wake -d
collector h2 && loud h2 hoptrace/rec.wake
victim h2 "doorbell squatted"
nothing h2 "doorbell squatted"

tb_log "3. @hoptrace/query squatted by nobody; the guard must reach the collector"
tb_host h3 10.231.0.3
squat h3 hoptrace/query
if collector h3; then
	loud h3 hoptrace/query
	printf '*, *, *, *, black,\n' >"$(tb_dir h3)/policy.acl"
	tb_guard h3 monitor=yes
	tb_exec h3 env LD_PRELOAD="$TB_SHIM" curl -s -o /dev/null --max-time 5 http://10.231.0.9:8080/ ||
		fail "query squatted: curl failed"
	sleep 0.5
	"$TB_PY" -c 'import json,sys
ok=0
for l in open(sys.argv[1]):
    r=json.loads(l)
    if r["remote"].endswith(":8080") and r.get("host") and r.get("chains"):
        ok=1
sys.exit(0 if ok else 1)' "$(tb_dir h3)/audit.log" ||
		fail "query squatted: no audit line judged on a collector chain: $(tail -n 2 "$(tb_dir h3)/audit.log" 2>&1)"
fi
nothing h3 "query squatted"

tb_log "4. @hoptrace/rec squatted from an unprivileged user namespace"
tb_host h4 10.231.0.4
if tb_exec h4 setpriv --reuid nobody --regid nogroup --clear-groups unshare -Ur true 2>/dev/null; then
	squat h4 hoptrace/rec userns
	collector h4 && loud h4 hoptrace/rec
	victim h4 "userns squatter"
	nothing h4 "userns squatter"
else
	echo "   (unprivileged user namespaces not permitted: case 4 skipped)"
fi

tb_log "5. a second hoptraced where root serves the names already: it exits, the first keeps serving"
# (h2's collector serves @hoptrace/rec; only its doorbell was squatted)
rp=$(tb_exec h2 sh -c 'ls /run/hoptrace/hoptrace_rec@* 2>/dev/null' | head -n 1)
if tb_exec h2 timeout 10 "$TB_HOPTRACED" -d -f /etc/hoptrace/hoptrace.conf >"$TB_T/second.log" 2>&1; then
	fail "a second collector in h2 did not exit: $(tail -n 3 "$TB_T/second.log" | tr '\n' ' ')"
fi
grep -q "served by root already" "$TB_T/second.log" ||
	fail "the second collector did not say why it stopped: $(tail -n 3 "$TB_T/second.log" | tr '\n' ' ')"
[ -z "$rp" ] || tb_exec h2 test -S "$rp" || fail "the second collector removed the first one's $rp"
victim h2 "after a second collector"

[ $fails = 0 ] || tb_fail "$fails check(s) failed"
echo "PASS"
