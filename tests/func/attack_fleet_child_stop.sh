#!/bin/sh
# attack_fleet_child_stop — review finding 3 (docs/research/fleet-review.md): a
# stopped (SIGSTOP) or hung inquiry child or judge must be noticed. Since the child
# runs as its own user only root (or that user) can stop it; a hang is the same to
# the monitor. On main a stopped child was never noticed: every cross-host
# question waited out its deadline, "no answer", nothing logged, no restart.
# Chain ssh h1 -> h2 -> h3; h2's collector is asked about h2's connection to h3.
#   1. root SIGSTOPs h2's child: the question ends by deadline + ~1 s (+ the 1 s
#      tick) with "no answer: inquiry child stuck", the kill is logged, a new child
#      runs and the next answer is complete
#   2. the same for the judge: "not judged", killed, replaced, complete again
#   3. the child stopped while root asks 200 questions at once: all answered, the
#      collector's loop keeps answering `hoptrace status` (its sends never block)
#   4. no false restart: h1 drops SYNs to its inquiry port; h2's (fresh) child waits
#      for its connect until a 2500 ms follow's deadline while a 300 ms follow waits
#      behind it, past its deadline + 1 s: both end "no answer", and h2's child (alive:
#      its reader answers the ping) and judge are NOT restarted
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/fleetchain.sh"
tb_init "$@"
tb_need ssh iptables
INQ="$TB_PY $TB_LIB/inqtool.py"
fc_setup 10.234.0

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL-CASE $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
ATK=$TB_T/atk
mkdir -p "$ATK" && chmod 0755 "$ATK"
LOG2=$(tb_dir h2)/hoptraced.log

fc_chain
MS=0
who_h2() { out=$(tb_exec h2 $INQ who "$L" "$R" "$1"); MS=${out%% *}; MS=${MS%.*}; echo "${out#* }" >"$A"; }
complete() { tb_assert_chain "$A" --origin h1 --complete -q >/dev/null 2>&1; }
who_h2 1500
complete && ok "baseline: complete from h1" || { head -c 600 "$A"; tb_fail "baseline not complete from h1"; }

# wait_new NAME-PATTERN OLDPID : a new process of that pattern on h2 (5 s)
wait_new() {
	i=0
	while :; do
		n=$(tb_pid_of h2 "$1") && [ "$n" != "$2" ] && { echo "$n"; return 0; }
		i=$((i + 1)); [ $i -lt 50 ] || return 1
		sleep 0.1
	done
}
# stuck_case WHAT PATTERN REASON LOGLINE
stuck_case() {
	old=$(tb_pid_of h2 "$2") || { bad "$1: no process on h2"; return; }
	n0=$(grep -c "$4" "$LOG2")
	kill -STOP "$old"
	who_h2 1500
	if grep -q "\"reason\":\"$3\"" "$A" && ! complete; then
		ok "$1: the question ended in $MS ms with '$3'"
	else
		bad "$1: answered in $MS ms without '$3': $(head -c 300 "$A")"
	fi
	[ "$MS" -lt 4500 ] && ok "$1: within deadline 1500 + grace 1000 + the tick" ||
		bad "$1: took $MS ms (deadline 1500 ms)"
	[ "$(grep -c "$4" "$LOG2")" -gt "$n0" ] && ok "$1: logged: $(grep "$4" "$LOG2" | tail -n 1 | cut -c1-150)" ||
		bad "$1: no '$4' in h2's log"
	new=$(wait_new "$2" "$old") && ok "$1: replaced ($old -> $new)" || bad "$1: not replaced"
	kill -CONT "$old" 2>/dev/null
	# killed, and reaped from the tick (a zombie until then): gone within 3 s
	i=0; while [ -e /proc/$old ] && [ $i -lt 30 ]; do i=$((i + 1)); sleep 0.1; done
	[ -e /proc/$old ] && bad "$1: the stopped process $old is still there ($(awk '{print $3}' /proc/$old/stat 2>/dev/null))" ||
		ok "$1: the old process is gone (killed and reaped)"
	who_h2 1500
	complete && ok "$1: the next answer is complete" || bad "$1: next answer not complete: $(head -c 300 "$A")"
}

tb_log "1. the inquiry child stopped"
stuck_case "1. child" '^hoptraced -X' "no answer: inquiry child stuck" "child [0-9]* killed: stuck"
tb_log "2. the judge stopped"
stuck_case "2. judge" '^hoptraced -J' "not judged" "judge: [0-9]* killed: stuck"

tb_log "3. the child stopped, 200 questions at once"
cat >"$ATK/many.py" <<'PY'
import json, socket, sys, threading
L, R, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = {"answered": 0, "failed": 0, "stuck": 0}
lock = threading.Lock()
def one():
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect("\0hoptrace/query")
        s.send(json.dumps({"op": "who", "local": L, "remote": R, "deadline_ms": 1500}).encode())
        s.settimeout(15); a = s.recv(1 << 20).decode()
        with lock:
            res["answered"] += 1
            res["stuck"] += "inquiry child stuck" in a
    except Exception:
        with lock:
            res["failed"] += 1
ts = [threading.Thread(target=one) for _ in range(n)]
for t in ts: t.start()
for t in ts: t.join()
print("answered %(answered)d failed %(failed)d stuck %(stuck)d" % res, flush=True)
PY
old=$(tb_pid_of h2 '^hoptraced -X')
kill -STOP "$old"
tb_bg h2 "$TB_PY" "$ATK/many.py" "$L" "$R" 200; many=$TB_LAST; manylog=$TB_LASTLOG
worst=0; i=0
while [ $i -lt 30 ]; do
	t0=$(date +%s%N)
	tb_exec h2 "$TB_HOPTRACE" status >/dev/null 2>&1
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	[ $ms -gt $worst ] && worst=$ms
	i=$((i + 1)); sleep 0.1
done
wait "$many" 2>/dev/null
kill -CONT "$old" 2>/dev/null
r=$(cat "$manylog")
echo "    $r"
case "$r" in "answered 200 failed 0 stuck "*) ok "3. all 200 answered" ;; *) bad "3. not all answered: $r" ;; esac
[ $worst -lt 800 ] && ok "3. the collector's loop kept answering (worst 'hoptrace status' $worst ms)" ||
	bad "3. the collector's loop stalled $worst ms"
wait_new '^hoptraced -X' "$old" >/dev/null && ok "3. the child was replaced" || bad "3. the child was not replaced"
sleep 0.5
who_h2 1500
complete && ok "3. complete again" || bad "3. not complete afterwards: $(head -c 300 "$A")"

tb_log "4. no false restart: a far end that drops SYNs, follows of different deadlines"
# h2's child makes a new connection to h1 (a fresh child has none cached) and waits
# for its connect until the 2500 ms follow's deadline; the 300 ms follow waits behind
# it in the same follower thread, past its deadline + 1 s. The child is alive (its
# reader answers the monitor's ping): it must not be restarted.
kill -KILL "$(tb_pid_of h2 '^hoptraced -X')"
sleep 0.3
cp=$(wait_new '^hoptraced -X' x) || tb_fail "4. no new child on h2"
sleep 0.5
jp=$(tb_pid_of h2 '^hoptraced -J')
n0=$(grep -c "stuck" "$LOG2")
tb_exec h1 iptables -I INPUT -p tcp --dport 8471 -j DROP || tb_fail "iptables on h1"
tb_bg h2 $INQ who "$L" "$R" 2500; w2=$TB_LAST; w2log=$TB_LASTLOG
sleep 0.15
tb_bg h2 $INQ who "$L" "$R" 300; w1=$TB_LAST; w1log=$TB_LASTLOG
wait "$w1" "$w2" 2>/dev/null
sleep 2.5 # the ticks after the last deadline + grace
tb_exec h1 iptables -D INPUT -p tcp --dport 8471 -j DROP
t1=$(cut -d' ' -f1 "$w1log"); t1=${t1%.*}
echo "    the 300 ms follow ended after $t1 ms"
[ "${t1:-0}" -gt 1300 ] && ok "4. the 300 ms follow outlived its deadline + grace ($t1 ms): the case is real" ||
	bad "4. the 300 ms follow ended in $t1 ms: it was never past deadline + grace (nothing tested)"
grep -q '"reason":"no answer"' "$w1log" && grep -q '"reason":"no answer"' "$w2log" &&
	ok "4. both ended 'no answer'" || bad "4. $(cut -c1-200 "$w1log") / $(cut -c1-200 "$w2log")"
[ "$(grep -c "stuck" "$LOG2")" = "$n0" ] && [ "$(tb_pid_of h2 '^hoptraced -X')" = "$cp" ] &&
	[ "$(tb_pid_of h2 '^hoptraced -J')" = "$jp" ] && ok "4. h2's child and judge not restarted" ||
	bad "4. a live child or judge was restarted: $(grep stuck "$LOG2" | tail -n 2)"
who_h2 1500
complete && ok "4. complete again" || bad "4. not complete afterwards: $(head -c 300 "$A")"
[ $fails = 0 ] || { echo "$fails FAIL-CASE"; exit 1; }
echo "all ok"
