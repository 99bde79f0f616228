#!/bin/sh
# attack_review13_lossy_evade.sh — review 13 (session 13): an event loss made
# on purpose (attack_review13_kev_flood.sh's SCM_RIGHTS loop) to hide a
# connection let go of. S, nobody's shimmed python, fetches by raw syscalls
# (libc's syscall(): the shim records nothing) while nobody's unshimmed
# flooder (an allow-all seccomp filter: tests/helpers/seccomp_allow.c)
# makes the loss; S is started with no local channel on its way (setsid, /dev/null: a cron job's), fetches its orders
# from B (h3:2222, which sends a line and closes first, so S's end leaves no
# orphan), closes, then connects to h3:22. Without a loss the kernel's connect
# event makes B's connection a hold of S (a leaf), or a dark connection
# (holders_incomplete). With the fetch inside a flood, its events are lost;
# graph_kev_dark then reads the kernel's TCP table, where the connection is
# gone, and says -1 ("nothing attests"), which dark_check turns into
# holders_incomplete only for a walk that followed a local channel or a
# listener. Cases (CASES=...): plain (no flood: the control); tcpflood
# (another uid's, 61700's, loopback connect loop: S's own events must not be
# lost for it — B's connection is named; it runs before nobody's floods,
# whose losses last a window); flood (nobody's SCM_RIGHTS loop, started next
# to S, not by it: a child's pipe would be a local channel); forkflood
# (nobody's fork + exit loop holding 30 pipe ends). On main (a1afd93) each
# flood case made S's chain complete and local, B hidden.
# Session 13 (wt-rev13 at 53f10cb): plain holders_incomplete (uid 65534's
# 10.231.0.3:2222), flood complete and local (46,456 events lost). Fixed:
# every event a task makes of its own is rationed per uid (kev.bpf.c
# uid_take), one over the ration or finding the ring full is its uid's loss,
# and while events a walk's users may have made were lost within the window
# — everyone's (root's, no one's), or one of its uids' — a non-root walk is
# holders_incomplete whatever it followed (chain.c dark_check,
# graph_kev_lost_for). Fails (FAIL-CASE) when S's chain is complete, names no
# B and is not holders_incomplete (tcpflood: names no B), or when a flood
# lost nothing (the case could not tell).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need python3
FILT=$TB_T/filt
tb_build_helper "$FILT" tests/helpers/seccomp_allow.c
ct_setup
ct_orders_b 2222
cat >"$TB_T/flood.py" <<'PY'
import os, socket, sys, time
p = [os.pipe() for _ in range(15)]
end = time.time() + 3
if sys.argv[1] == "scm":      # a receive's fd table each
    a, b = socket.socketpair()
    while time.time() < end:
        for _ in range(100):
            socket.send_fds(a, [b"x"], [p[0][0]])
            os.close(socket.recv_fds(b, 1, 1)[1][0])
elif sys.argv[1] == "fork":   # fork + exit holding 30 pipe ends
    while time.time() < end:
        for _ in range(20):
            if os.fork() == 0:
                os._exit(0)
        for _ in range(20):
            os.wait()
else:                         # loopback connect + accept + close
    L = socket.socket(); L.bind(("127.0.0.1", 0)); L.listen(128)
    while time.time() < end:
        for _ in range(50):
            c = socket.create_connection(L.getsockname()); s, _ = L.accept()
            c.close(); s.close()
PY
cat >"$TB_T/s.py" <<'PY'
# S (shimmed): B's orders by raw syscalls (libc's syscall(): the shim passes
# them on and records nothing), then a plain connect to h3:22
import ctypes, os, socket, struct, subprocess, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
fl = sys.argv[2] != "plain"
if fl:
    time.sleep(1.5)  # (the flooder, started next to S, is at it)
fd = libc.syscall(41, 2, 1, 0)
sa = struct.pack("!HH4s8x", 2, 2222, socket.inet_aton(sys.argv[1]))
sa = struct.pack("=H", 2) + sa[2:]
assert libc.syscall(42, fd, ctypes.c_char_p(sa), 16) == 0, ctypes.get_errno()
buf = ctypes.create_string_buffer(100)
while libc.syscall(0, fd, buf, 100) > 0: pass
libc.syscall(3, fd)
if fl: time.sleep(2)
time.sleep(1)
s = socket.create_connection((sys.argv[1], 22))
time.sleep(600)
PY
chmod 644 "$TB_T/s.py" "$TB_T/flood.py"

r=0
for v in ${CASES:-plain tcpflood flood forkflood}; do
	tb_log "$v"
	[ -n "${SP:-}" ] && tb_exec h2 kill "$SP"  # (the last case's S: a live connection of nobody's)
	case $v in
	flood) fk=scm fu=nobody ;;
	forkflood) fk=fork fu=nobody ;;
	tcpflood) fk=tcp fu=61700 ;; # (another uid's flood: S's own events must stay)
	*) fk= fu= ;;
	esac
	L0=$(tb_exec h2 "$TB_HOPTRACE" status --json | "$TB_PY" -c 'import json,sys
k = json.load(sys.stdin).get("kernel_events") or {}
print((k.get("lost") or 0) + (k.get("lost_rationed") or 0))')
	[ -n "$fk" ] && tb_bg h2 setsid setpriv --reuid $fu --regid nogroup --clear-groups "$FILT" /usr/bin/python3 "$TB_T/flood.py" $fk </dev/null >/dev/null 2>&1
	tb_bg h2 setsid setpriv --reuid nobody --regid nogroup --clear-groups /usr/bin/python3 "$TB_T/s.py" "$CT_H3" $v "$FILT" "$TB_T/flood.py" </dev/null >"$TB_T/$v.s.err" 2>&1
	ct_wait_new_onward 25 || { cat "$TB_T/$v.s.err" "$TB_LASTLOG"; tb_fail "$v: no S connection to h3:22"; }
	SP=$CT_P
	sleep 0.5
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$v.who.json" || tb_fail "$v: who"
	_lost=$(tb_exec h2 "$TB_HOPTRACE" status --json | "$TB_PY" -c 'import json,sys
k = json.load(sys.stdin).get("kernel_events") or {}
print((k.get("lost") or 0) + (k.get("lost_rationed") or 0))')
	echo "    kernel_events lost + lost_rationed: $L0 -> $_lost"
	[ -n "$fk" ] && [ "${_lost:-0}" = "$L0" ] && tb_fail "$v: no event lost: the test cannot tell"
	"$TB_PY" - "$TB_T/$v.who.json" "$fu" <<'PY' && echo "ok   $v" || { echo "FAIL-CASE: $v: S's chain is complete and local, B's connection hidden"; r=1; }
import json, sys
a = json.load(open(sys.argv[1]))
hi = a.get("holders_incomplete")
print("    holders_incomplete=%s unattested=%s" % (hi, json.dumps(a.get("holders_unattested"))))
txt = json.dumps(a)
named = ":2222" in txt or '"port": 2222' in txt
bad = False
for c in a.get("chains") or []:
    print("    chain from %s complete=%s fallback=%s: %s" % (c.get("origin_host"), c.get("complete"), c.get("fallback"),
          " ".join("%s:%s" % (p.get("host"), (p.get("exe") or "?").rsplit("/", 1)[-1]) for p in c.get("procs") or [])))
    if c.get("complete") and not hi and not named:
        bad = True
print("    B named anywhere in the answer:", named)
if sys.argv[2] == "61700" and not named:
    print("    (another uid flooded: S's own events must be there, B's connection named)")
    bad = True
sys.exit(1 if bad else 0)
PY
done
exit $r
