#!/bin/sh
# attack_review_fleet_child_stop — issue 11 review, attacker (b): the inquiry
# child runs as nobody (attack_review_fleet_child_uid), so nobody can SIGSTOP
# it — a quieter variant of the kill: no "died"/"restarted" line, no restart
# counted. The monitor never notices a child that stops reading until its send
# buffer fills: every cross-host question waits its whole deadline (+1 s) and
# ends "no answer" ("the child did not finish a follow in time").
# Also timed: root's `hoptrace status` on h2 while nobody floods `who`
# questions at the stopped child. A full socketpair would block the root
# loop for SO_SNDTIMEO = 1 s per send (inquiry_svc.c spawn()/send_text); 600
# questions from nobody did not fill it here (0 "stopped reading" kills), so
# that check passes and stays as a measurement.
# Chain ssh h1 -> h2 -> h3; on h2, as nobody: SIGSTOP the child, then ask many
# `who` questions about h2's connection to h3 (the guard asks the same for
# every SYN of that chain); root's `hoptrace status` on h2 is timed meanwhile.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need setpriv ssh prlimit
INQ="$TB_PY $TB_LIB/inqtool.py"
H1=10.234.0.1 H2=10.234.0.2 H3=10.234.0.3
tb_switch
for h in 1 2 3; do
	tb_host h$h 10.234.0.$h
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL-CASE $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
ATK=$TB_T/atk
mkdir -p "$ATK" && chmod 0755 "$ATK"
NOBODY="setpriv --reuid nobody --regid nogroup --clear-groups"

tb_log "setup: ssh h1 -> h2 -> h3"
tb_bg h1 ssh $H2 "ssh $H3 sleep 300"
p=$(tb_wait_pid h2 "^ssh $H3" 10) || tb_fail "no ssh to h3 on h2"
c=""; i=0
while [ -z "$c" ] && [ $i -lt 50 ]; do
	c=$(tb_exec h2 ss -Htnp state established "( dst $H3 and dport = :22 )" 2>/dev/null |
		grep "pid=$p," | awk '{print $3, $4}' | head -n 1)
	i=$((i + 1)); sleep 0.1
done
[ -n "$c" ] || tb_fail "ssh on h2 did not connect to h3"
set -- $c; L=$1 R=$2
who_h2() { out=$(tb_exec h2 $INQ who "$L" "$R" "$1"); echo "${out#* }" >"$A"; }
who_h2 1500
tb_assert_chain "$A" --origin h1 --complete -q && ok "baseline: complete from h1" ||
	{ head -c 600 "$A"; tb_fail "baseline not complete from h1"; }

child=$(tb_pid_of h2 'hoptraced -X') || tb_fail "no inquiry child on h2"
cat >"$ATK/flood.py" <<'PY'
import json, socket, sys, threading
L, R, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ok = [0, 0]
def one():
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect("\0hoptrace/query")
        s.send(json.dumps({"op": "who", "local": L, "remote": R, "deadline_ms": 3000}).encode())
        s.settimeout(10); s.recv(1 << 20); ok[0] += 1
    except Exception:
        ok[1] += 1
ts = []
for _ in range(n):
    t = threading.Thread(target=one); t.start(); ts.append(t)
for t in ts: t.join()
print("answered %d, failed %d" % tuple(ok), flush=True)
PY
cat >"$ATK/stopper.sh" <<'SH'
# as nobody: stop every inquiry child of h2 as soon as it appears
while :; do
	for p in $(pgrep -u nobody -f '^hoptraced -X'); do kill -STOP "$p" 2>/dev/null; done
	sleep 0.05
done
SH
tb_exec h2 $NOBODY kill -STOP "$child" || tb_fail "nobody could not stop the child"
tb_bg h2 $NOBODY sh "$ATK/stopper.sh"; stopper=$TB_LAST
i=0
while [ $i -lt 4 ]; do
	tb_bg h2 $NOBODY "$TB_PY" "$ATK/flood.py" "$L" "$R" 150
	i=$((i + 1))
done
worst=0
i=0
while [ $i -lt 40 ]; do
	t0=$(date +%s%N)
	tb_exec h2 "$TB_HOPTRACE" status >/dev/null 2>&1
	t1=$(date +%s%N)
	ms=$(( (t1 - t0) / 1000000 ))
	[ $ms -gt $worst ] && worst=$ms
	i=$((i + 1)); sleep 0.1
done
kill "$stopper" 2>/dev/null
tb_log "worst 'hoptrace status' on h2 while nobody stops the child: $worst ms"
grep -c "stopped reading" "$(tb_dir h2)/hoptraced.log" | sed 's/^/    child kills for "stopped reading": /'
[ $worst -lt 800 ] && ok "the collector's loop kept answering (worst $worst ms)" ||
	bad "the root collector's loop stalled $worst ms while nobody kept the inquiry child stopped"
who_h2 1500
tb_assert_chain "$A" --origin h1 --complete -q && ok "chain through h1 complete meanwhile" ||
	bad "h2's chain through h1 incomplete while nobody stops the child"
[ $fails = 0 ] || { echo "$fails FAIL-CASE"; exit 1; }
echo "all ok"
