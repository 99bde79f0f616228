#!/bin/sh
# attack_fleet_child_uid — issue 11 review finding 2, attacker (b): an unprivileged
# local user (nobody) on a fleet host against the inquiry child. The child once ran as
# nobody (no hoptrace user existed) and bound :8471 itself; now it runs as its own
# system user hoptrace (the package and the testbed make it; ps_drop falls back to
# nobody only with a warning) and serves on the monitor's socket. As nobody on h1:
#   1. kill(child, 0) (and so SIGSTOP / SIGKILL) is refused;
#   2. prlimit(child, RLIMIT_NOFILE) is refused;
#   3. nobody tries to kill each new child and bind :8471 itself (SO_REUSEADDR) in the
#      gap before the respawn: no kill works, the port is never free;
#   4. h2's chain through h1 stays complete.
# Was tests/open/attack_review_fleet_child_uid.sh (FAIL-CASE on wt-int8 for 1-4);
# tests/func/attack_fleet_child_port.sh races the port against kills made by root.
# Chain: ssh h1 -> h2 -> h3; h2's collector is asked about h2's connection to h3.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/fleetchain.sh"
tb_init "$@"
tb_need setpriv ssh prlimit
INQ="$TB_PY $TB_LIB/inqtool.py"
fc_setup 10.232.0

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
ATK=$TB_T/atk
mkdir -p "$ATK" && chmod 0755 "$ATK"
NOBODY="setpriv --reuid nobody --regid nogroup --clear-groups"

fc_chain
who_h2() { out=$(tb_exec h2 $INQ who "$L" "$R" "$1"); echo "${out#* }" >"$A"; }
who_h2 1500
tb_assert_chain "$A" --origin h1 --complete -q && ok "baseline: complete from h1" ||
	{ head -c 600 "$A"; tb_fail "baseline not complete from h1"; }

child=$(tb_pid_of h1 'hoptraced -X') || tb_fail "no inquiry child on h1"
cuid=$(awk '/^Uid:/ {print $2}' /proc/$child/status)
tb_log "h1's inquiry child $child runs as uid $cuid ($(getent passwd "$cuid" | cut -d: -f1))"

# 1. signals
if tb_exec h1 $NOBODY kill -0 "$child" 2>/dev/null; then
	bad "nobody may signal h1's inquiry child (uid $cuid): kill -STOP/-KILL work"
else
	ok "nobody cannot signal the inquiry child"
fi
# 2. resource limits of the child
if tb_exec h1 $NOBODY prlimit --pid "$child" --nofile=8:8 2>"$ATK/prlimit.err"; then
	bad "nobody may change h1's inquiry child's rlimits (prlimit --nofile)"
else
	ok "nobody cannot prlimit the inquiry child ($(head -c 200 "$ATK/prlimit.err"))"
fi

# 3. kill each new child until the restart cap, then squat :8471
cat >"$ATK/squat.py" <<'PY'
import socket, sys, time
while True:
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 8471)); s.listen(64); break
    except OSError:
        s.close(); time.sleep(0.01)
open(sys.argv[1], "a").write("squatting :8471\n")
while True:
    c, _ = s.accept(); c.close()
PY
sqlog=$ATK/squat.log
: >"$sqlog"; chmod 0666 "$sqlog"
tb_bg h1 $NOBODY "$TB_PY" "$ATK/squat.py" "$sqlog"
squat=$TB_LAST
n=0 i=0
while [ $i -lt 150 ] && ! grep -q "squatting" "$sqlog"; do
	k=$(tb_pid_of h1 'hoptraced -X') && tb_exec h1 $NOBODY kill -KILL "$k" 2>/dev/null && n=$((n + 1))
	i=$((i + 1)); sleep 0.1
done
i=0
while ! grep -q "squatting" "$sqlog" && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
tb_exec h1 ss -Hltnp 'sport = :8471' | sed 's/^/    h1 :8471 /'
grep -q "squatting" "$sqlog" && bad "nobody holds h1:8471 after killing the inquiry child $n time(s): the new child cannot bind" ||
	{ ok "nobody could not take h1:8471 ($n kills)"; tail -n 5 "$(tb_dir h1)"/bg*.log; ps -o pid,user,args -p "$squat"; }
who_h2 1500
if tb_assert_chain "$A" --origin h1 --complete -q; then
	ok "h2's chain through h1 still complete"
else
	bad "h2's chain through h1 is no longer complete from h1 (origin behind h1 hidden; @incomplete decides)"
fi
tail -n 5 "$(tb_dir h1)/hoptraced.log" | sed 's/^/    h1: /'
kill "$squat" 2>/dev/null
[ $fails = 0 ] || tb_fail "$fails checks failed"
echo "all ok"
