#!/bin/sh
# attack_push_stale.sh — a prejudged push is a chain computed when the
# CONNECT record is read, before the SYN. As nobody on A, with a policy that
# refuses every chain whose origin is B ("B4, *, *, *, black, *") and allows
# B4:8000 otherwise, the attacker
#   1. makes socket S and sends one CONNECT record for it by hand (its own fd,
#      so the kernel confirms it; remote B4:8000) — the collector computes the
#      chain now (local origin, clean) and pushes it to the guard
#   2. takes in B's orders: accepts B's connection on its listener and reads
#      them (or gets them another way, per case)
#   3. connect(S, B4:8000): before the fix the guard took the push (clean)
#      and accepted the SYN, although the chain now comes from B.
# The guard must decide on a push only when it still holds for the SYN
# (docs/query-protocol.md "subscribe"). Cases (each must be refused):
#   stale        no shim, the orders 388 ms after the record (the review's)
#   fast         no shim, B's connection already queued: accept, read and
#                connect within ~1 ms of the record
#   shim         the shim preloaded (it reports the accept), 300 ms
#   shim_fast    the shim preloaded, within ~1 ms of the record
#   fdpass       the shim preloaded: a helper process accepts B's connection
#                and passes it (SCM_RIGHTS) to the attacker, who reads it
#   child        the shim preloaded: the attacker reads B's orders, then a
#                forked child does the connect() on the inherited S, 100 ms on
# (CASES=dup2 dup2hi dup3 dup fdupfd fdupfd_cloexec dup2hi_late: B's
# connection moved to another fd and the original closed —
# tests/func/attack_dup_close.sh runs them)
# Controls: the same without the record (no push): refused; a plain shimmed
# connect to B4:8000 is accepted on its push (prejudged).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
command -v setpriv >/dev/null || gn_skip "setpriv missing"
SHIM=$B_/libhoptrace.so
[ -f "$SHIM" ] || gn_skip "shim not built"
gn_setup
chmod 755 "$T"
cat >"$T/policy.acl" <<EOC
$B4, *, *, *, black, *
*, *, $B4, 8000, black,
@incomplete evaluate
@default reject
EOC
gn_start_collector
gn_start_guard
cat >"$T/stale.py" <<'EOP'
import ctypes, fcntl, os, socket, struct, sys, time
mode, b4, a4, record = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "record"
from htrec import u, i, chan, addr, rec
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9000)); L.listen(4)
if mode == "fdpass":
    sp0, sp1 = socket.socketpair()
    if os.fork() == 0:  # the helper: B's connection, passed on
        sp0.close()
        c, _ = L.accept()
        socket.send_fds(sp1, [b"x"], [c.fileno()])
        time.sleep(3)
        os._exit(0)
    sp1.close(); L.close()
if mode.endswith("fast"):
    time.sleep(0.6)  # B's connection waits in the backlog
S = socket.socket()
if record:
    r = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r.connect(b"\0hoptrace/rec")
    r.send(rec(7, i(S.fileno()), chan(2, 0, os.fstat(S.fileno()).st_ino), u(1), addr(b4, 8000)))
t0 = time.monotonic()
if mode == "fdpass":
    _, fds, _, _ = socket.recv_fds(sp0, 16, 1)
    c = socket.socket(fileno=fds[0])
    peer = c.getpeername()
elif mode.startswith(("dup", "fdup")):
    # B's connection moved to another fd, the original and the listener
    # closed: the shim's dup/dup2/dup3 (DUP records), or fcntl F_DUPFD*
    # (no record); "late": the orders read from the original, closed after
    c, peer = L.accept()
    fd = c.fileno()
    if mode == "dup2": n = os.dup2(fd, 0)
    elif mode in ("dup2hi", "dup2hi_late"): n = os.dup2(fd, 10)
    elif mode == "dup3": n = os.dup2(fd, 11, inheritable=False)  # dup3(O_CLOEXEC)
    elif mode == "dup": n = ctypes.CDLL(None, use_errno=True).dup(fd)
    elif mode == "fdupfd": n = fcntl.fcntl(fd, fcntl.F_DUPFD, 20)
    elif mode == "fdupfd_cloexec": n = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 30)
    if mode.endswith("_late"):
        orders0 = c.recv(100)
    c.close(); L.close()
    time.sleep(float(os.environ.get("DUP_PAUSE", "0")))
    c = socket.socket(fileno=os.dup(n))
else:
    c, peer = L.accept()
orders = orders0 if mode.endswith("_late") else c.recv(100)
def connect():
    S.settimeout(2)
    try:
        S.connect((b4, 8000)); return "connected"
    except ConnectionRefusedError: return "refused"
    except OSError as e: return "error %s" % e
if mode == "child":
    time.sleep(0.1)
    rd, wr = os.pipe()
    if os.fork() == 0:
        os.write(wr, connect().encode()); os._exit(0)
    os.close(wr); os.wait()
    res = os.read(rd, 100).decode()
else:
    res = connect()
print("%s: got %r from %s, then connect to %s:8000 %.1f ms after the record: %s" %
      (mode, orders, peer[0], b4, (time.monotonic() - t0) * 1000, res), flush=True)
print("RESULT", res)
EOP
cp "$HT_TOP/tests/lib/htrec.py" "$T/" && chmod 644 "$T/stale.py" "$T/htrec.py" || gn_fail "htrec.py"
fails=0
nobody() { ip netns exec "$A" setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }
run() { # MODE record|norecord
	mode=$1
	case $mode in *fast) wait_b=0 ;; *) wait_b=0.3 ;; esac
	gn_bg "$BB" "$T/b_$mode.log" python3 -c "import socket,time; time.sleep($wait_b)
for k in range(50):
    try: s=socket.create_connection(('$A4',9000)); break
    except OSError: time.sleep(0.02)
s.send(b'orders from B'); time.sleep(3)"
	case $mode in stale|fast) pre="" ;; *) pre="env LD_PRELOAD=$SHIM" ;; esac
	if [ -n "${held:-}" ]; then
		# the collector reads the ACCEPT, DUP and CLOSE only after the fd
		# moved (it lags: records are read in 2 ms rounds)
		(sleep 0.15; kill -STOP "$COLL_PID"; sleep 0.45; kill -CONT "$COLL_PID") &
		hold=$!
	fi
	out=$(nobody $pre env DUP_PAUSE="${DUP_PAUSE:-0}" /usr/bin/python3 "$T/stale.py" "$mode" "$B4" "$A4" "$2" 2>&1)
	[ -z "${held:-}" ] || wait "$hold"
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	tail -n 1 "$T/audit.log" | cut -c1-300 | sed 's/^/      audit: /'
	case "$out" in
	*"RESULT refused"*) ;;
	*) echo "FAIL-CASE: $mode ($2): the connection with B's orders was not refused"; fails=$((fails + 1)) ;;
	esac
}
gn_log "controls: no record, no push (asked: origin B)"
for mode in ${CONTROLS-stale shim}; do
	run $mode norecord
done
held=${HOLD_COLLECTOR:-}
for mode in ${CASES:-stale fast shim shim_fast fdpass child}; do
	gn_log "$mode"
	run $mode record
done
gn_log "an ordinary client keeps its push"
# (a push holds only when nothing a walk sees changed between it and the
# SYN, and the curl before's last records — its close, its exit — read in
# between are likely such a change: back to back, at load ~5 on 2 cores (session
# 14), main a1afd93 decided 2, 2, 3 of 5 curls on their pushes and failed
# ">= 3 of 5" 2 of 3 runs, as the kev-loss branch did 3 of 9; 0.2 s apart,
# 5-9 of 10 on main and 7-9 of 10 with it. Ten curls 0.2 s apart, >= 5.)
ok=0
for k in 1 2 3 4 5 6 7 8 9 10; do
	sleep 0.2
	# another unprivileged uid than the attacker's: nobody's raw connections
	# above (no record names them) keep nobody's chains from deciding on a
	# push for the history window (docs/threat-model.md class 4b)
	ip netns exec "$A" setpriv --reuid 61500 --regid 65534 --clear-groups \
		env LD_PRELOAD="$SHIM" curl -s -o /dev/null --max-time 3 "http://$B4:8000/" </dev/null && ok=$((ok + 1))
done
sleep 0.3
pre=$(tail -n 10 "$T/audit.log" | grep -c '"prejudged":true')
echo "   curl accepted $ok of 10, $pre of them on a push"
[ $ok = 10 ] || { echo "FAIL-CASE: a plain curl was refused"; fails=$((fails + 1)); }
[ "$pre" -ge 5 ] || { echo "FAIL-CASE: plain curls were not decided on their pushes ($pre of 10)"; fails=$((fails + 1)); }
kill -USR1 "$GUARD_PID"; sleep 0.3; grep -E "packets" "$T/hopguard.log" | tail -1
[ $fails = 0 ] || gn_fail "$fails case(s) accepted on a stale chain"
echo "PASS"
