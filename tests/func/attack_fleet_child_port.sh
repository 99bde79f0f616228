#!/bin/sh
# attack_fleet_child_port — review finding 2 (docs/research/fleet-review.md): nobody on a
# fleet host races for the inquiry port while the inquiry child restarts. Chain ssh h1 ->
# h2 -> h3; h2's collector is asked about h2 -> h3 and follows the leaf to h1:8471.
# On h1, root kills the inquiry child six times (a crash, as far as the monitor can
# tell) while nobody loops binding :8471 — [::] dual-stack, [::] v6only, 0.0.0.0 and
# 10.232.0.1, each plain, SO_REUSEADDR, SO_REUSEPORT and both — and listens on what
# it gets. The monitor binds the port once and passes it to every child, so:
#   1. the monitor itself holds :8471 (not only the child);
#   2. nobody never binds it, at any kill;
#   3. after every restart h2's chain through h1 is complete;
#   4. SIGHUP with [inquiry] listen changed to h1's address rebinds in the monitor
#      (then :8471 on 10.232.0.1, the wildcard let go), the chain still complete;
#   5. a restart of hoptraced raced: nobody holds 10.232.0.1:8471 when it starts: it
#      starts anyway (logged), and takes the port once nobody lets go (retried every
#      second; the child restarted to serve it), the chain complete again.
# On main (the child binds it itself) nobody gets the port at the first kills and the
# chain ends 'no answer'.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/fleetchain.sh"
tb_init "$@"
tb_need setpriv ssh ss
INQ="$TB_PY $TB_LIB/inqtool.py"
H1=10.232.0.1 H2=10.232.0.2 H3=10.232.0.3
tb_switch
for h in 1 2 3; do
	tb_host h$h 10.232.0.$h
	tb_sshd h$h
done
# the kills below are operator-made, not a crash loop to stop at
sed -i 's|^\[inquiry\]$|[inquiry]\nmax_restarts = 15|' "$(tb_conf h1)"
for h in 1 2 3; do tb_collector h$h; done
tb_preload on

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
ATK=$TB_T/atk
mkdir -p "$ATK" && chmod 0755 "$ATK"
NOBODY="setpriv --reuid nobody --regid nogroup --clear-groups"
LOG1=$(tb_dir h1)/hoptraced.log
MON1=$(cat "$(tb_dir h1)/hoptraced.pid")

fc_chain
who_h2() { out=$(tb_exec h2 $INQ who "$L" "$R" 2500); echo "${out#* }" >"$A"; }
who_h2
tb_assert_chain "$A" --origin h1 --complete -q && ok "baseline: complete from h1" ||
	{ head -c 600 "$A"; tb_fail "baseline not complete from h1"; }

# the processes holding h1's :8471 listener
holders() { tb_exec h1 ss -Hltnp "sport = :8471" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | tr '\n' ' '; }
case " $(holders)" in
*" $MON1 "*) ok "1. h1's monitor ($MON1) holds :8471 itself (holders: $(holders))" ;;
*) bad "1. h1's monitor ($MON1) does not hold :8471 (holders: $(holders))" ;;
esac

cat >"$ATK/race.py" <<'PY'
import socket, sys, time
log = open(sys.argv[1], "a", buffering=1)
end = time.monotonic() + float(sys.argv[2])
R = getattr(socket, "SO_REUSEPORT", 15)
ways = []
for fam, addr, v6only in ((socket.AF_INET6, "::", 0), (socket.AF_INET6, "::", 1),
                          (socket.AF_INET, "0.0.0.0", None), (socket.AF_INET, "10.232.0.1", None)):
    for ra in (0, 1):
        for rp in (0, 1):
            ways.append((fam, addr, v6only, ra, rp))
held, tries = [], 0
while time.monotonic() < end:
    for fam, addr, v6only, ra, rp in ways:
        s = socket.socket(fam, socket.SOCK_STREAM)
        try:
            if ra: s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if rp: s.setsockopt(socket.SOL_SOCKET, R, 1)
            if v6only is not None: s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
            s.bind((addr, 8471)); s.listen(64)
            log.write("GOT %s v6only=%s reuseaddr=%d reuseport=%d\n" % (addr, v6only, ra, rp))
            held.append(s)
        except OSError:
            s.close()
        tries += 1
log.write("done %d tries\n" % tries)
time.sleep(60)
PY
rl=$ATK/race.log
: >"$rl"; chmod 0666 "$rl"
tb_bg h1 $NOBODY "$TB_PY" "$ATK/race.py" "$rl" 12
racer=$TB_LAST
sleep 0.5

# ---- 2 + 3: root kills the child, nobody races for the port -------------------------
for k in 1 2 3 4 5 6; do
	old=$(tb_pid_of h1 'hoptraced -X') || { bad "kill $k: no inquiry child on h1"; break; }
	kill -KILL "$old"
	i=0 new=""
	while [ $i -lt 50 ]; do
		new=$(tb_pid_of h1 'hoptraced -X') && [ "$new" != "$old" ] && break
		new=""; i=$((i + 1)); sleep 0.1
	done
	[ -n "$new" ] || { bad "kill $k: no new child within 5 s"; tail -n 5 "$LOG1"; continue; }
	sleep 0.3
	who_h2
	if tb_assert_chain "$A" --origin h1 --complete -q; then
		ok "3. kill $k (child $old -> $new): h2's chain through h1 complete"
	else
		bad "3. kill $k (child $old -> $new): h2's chain through h1 not complete"
		tail -n 3 "$LOG1" | sed 's/^/    h1: /'
	fi
done
i=0
while ! grep -q '^done' "$rl" && [ $i -lt 150 ]; do i=$((i + 1)); sleep 0.1; done
grep -q '^done' "$rl" || bad "the racer did not finish"
if grep -q '^GOT' "$rl"; then
	bad "2. nobody bound h1:8471: $(grep '^GOT' "$rl" | sort | uniq -c | head -n 4 | tr '\n' ';')"
else
	ok "2. nobody never bound h1:8471 ($(grep '^done' "$rl" | cut -d' ' -f2) tries over 6 kills)"
fi
kill "$racer" 2>/dev/null

# ---- 4. SIGHUP with a new listen address: the monitor rebinds ---------------------------
sed -i "s|^listen = https://\[::\]:8471|listen = https://$H1:8471|" "$(tb_conf h1)"
n0=$(grep -c 'files reloaded\|not reloaded' "$LOG1")
kill -HUP "$MON1"
i=0
while [ "$(grep -c 'files reloaded\|not reloaded' "$LOG1")" -le "$n0" ] && [ $i -lt 50 ]; do
	i=$((i + 1)); sleep 0.1
done
sleep 0.5
lst=$(tb_exec h1 ss -Hltn "sport = :8471" | awk '{print $4}' | tr '\n' ' ' | sed 's/ $//')
case "$lst" in
"$H1:8471") ok "4. SIGHUP: h1 listens on $lst only" ;;
*) bad "4. SIGHUP: h1's :8471 listeners are '$lst' (want $H1:8471 alone)" ;;
esac
case " $(holders)" in
*" $MON1 "*) ok "4. the monitor holds the new socket" ;;
*) bad "4. the monitor does not hold the new socket (holders: $(holders))" ;;
esac
who_h2
tb_assert_chain "$A" --origin h1 --complete -q && ok "4. after the rebind: h2's chain through h1 complete" ||
	{ bad "4. after the rebind: not complete"; tail -n 5 "$LOG1" | sed 's/^/    h1: /'; }

# ---- 5. a restart of hoptraced raced: the port held at start is taken once free --------
kill -TERM "$MON1"
i=0; while kill -0 "$MON1" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
cat >"$ATK/hold.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 8471)); s.listen(8)
open(sys.argv[2], "a").write("holding\n")
time.sleep(float(sys.argv[3]))
PY
hl=$ATK/hold.log
: >"$hl"; chmod 0666 "$hl"
tb_bg h1 $NOBODY "$TB_PY" "$ATK/hold.py" $H1 "$hl" 4
i=0; while ! grep -q holding "$hl" && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
grep -q holding "$hl" || tb_fail "5. nobody could not take the free port"
# only what the new monitor logs (case 4's rebind logged the same lines)
n0=$(wc -l <"$LOG1")
new_log() { tail -n "+$((n0 + 1))" "$LOG1"; }
tb_collector h1
MON1=$(cat "$(tb_dir h1)/hoptraced.pid")
new_log | grep -q 'are not served until it is free' &&
	ok "5. hoptraced started with the port held: '$(new_log | grep 'not served until' | tail -n 1 | cut -c1-110)'" ||
	bad "5. no 'not served' line (the port held at start)"
i=0; while ! new_log | grep -q 'the child restarts to serve it' && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
new_log | grep -q 'the child restarts to serve it' && ok "5. once nobody let go the monitor took the port" ||
	bad "5. the monitor did not take the port back"
sleep 0.5
case " $(holders)" in
*" $MON1 "*) ok "5. the new monitor ($MON1) holds :8471" ;;
*) bad "5. the new monitor ($MON1) does not hold :8471 (holders: $(holders))" ;;
esac
who_h2
tb_assert_chain "$A" --origin h1 --complete -q && ok "5. h2's chain through h1 complete again" ||
	{ bad "5. not complete after the port came back"; tail -n 5 "$LOG1" | sed 's/^/    h1: /'; }

[ $fails = 0 ] || tb_fail "$fails checks failed"
echo "all child port checks passed"
