#!/bin/sh
# attack_review_rawfd_scans.sh — review of issue 10's /proc holder searches
# (docs/chain-model.md "Kernel fallback"): the walk's bounds on searches for
# the holders of what no record names. As nobody on A, against a policy that
# refuses every chain whose origin is B ("B4, *, *, *, black, *") and allows
# B4:8000 otherwise, a helper H of nobody's, run WITHOUT the shim, accepts B's
# connection, keeps it open and hands B's orders to the subject S (shim),
# which connect()s to B4:8000:
#   unixN        S connects (libc, shim: CONNECT) to H's unix socket, then to
#                N-1 more unix listeners of unshimmed decoys of nobody's; H
#                sends B's orders over its socket. Each peer's holders are
#                searched for in /proc; a walk makes at most 4 searches —
#                the rest (H's last: the walk takes the newest first) were
#                skipped without saying so, and their peers marked "nobody
#                we may see" (kscanned), never searched again. unix5: the
#                push's walk and the guard's who between them search all
#                five (refused on main 812e114); unix9 and unix13 accepted
#                on a complete local chain on main 812e114, unix13 on its
#                push
#   fifo17       H writes B's orders into a FIFO that S opened (libc) and
#                that 16 unshimmed sleepers of nobody's, started before H,
#                also hold: a walk takes at most 16 holders of a search, and
#                stopped without saying so before H — on main 812e114 the
#                chain is local but complete: false (the search ran out of
#                the query's budget): refused as incomplete. Not run by
#                default: tests/func/attack_review_rawfd_decoy.sh runs it
#                (and its variants) on its own bed
# B's connection is open in H when the SYN is judged and H feeds S — each must
# be refused: on the rule of origin B, or, a search cut short or skipped, as
# incomplete (the policy's @incomplete: the default, reject).
# Prints FAIL-CASE and exits 1 while a case is accepted, or refused on a
# chain without B.
RF_INCOMPLETE=reject
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/subj.py" <<'EOP'
import os, socket, sys, time
mode, b4, name = sys.argv[1], sys.argv[2], sys.argv[3]
def uconn(n):
    for k in range(200):
        try:
            u = socket.socket(socket.AF_UNIX); u.connect("\0" + n); return u
        except OSError: time.sleep(0.02)
    raise SystemExit("no listener " + n)
if mode.startswith("unix"):
    h = uconn(name + "-h")
    keep = [uconn(name + "-d%d" % i) for i in range(int(sys.argv[4]))]
    orders = h.recv(100)
else:
    fd = os.open(sys.argv[4], os.O_RDONLY)
    orders = os.read(fd, 100)
time.sleep(0.3)
S = socket.socket(); S.settimeout(2)
try:
    S.connect((b4, 8000)); res = "connected"
except ConnectionRefusedError: res = "refused"
except OSError as e: res = "error %s" % e
print("%s: got %r from H, connect to %s:8000: %s" % (mode, orders, b4, res), flush=True)
print("RESULT", res, flush=True)
EOP
cat >"$T/helper.py" <<'EOP'
import os, socket, sys, time
mode, a4, name = sys.argv[1:4]
def ulisten(n):
    U = socket.socket(socket.AF_UNIX); U.bind("\0" + n); U.listen(1); return U
if mode == "decoy":
    # an unshimmed decoy: accepts one unix connection and sleeps
    U = ulisten(name); u, _ = U.accept(); time.sleep(8); sys.exit(0)
if mode == "sleeper":
    fd = os.open(sys.argv[4], os.O_RDWR); time.sleep(8); sys.exit(0)
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9001)); L.listen(1)
if mode.startswith("unix"):
    U = ulisten(name + "-h")
c, _ = L.accept(); L.close()
orders = c.recv(100)
if mode.startswith("unix"):
    u, _ = U.accept(); u.send(orders)
else:
    f = os.open(sys.argv[4], os.O_WRONLY); os.write(f, orders)
time.sleep(4)
EOP
chmod 644 "$T/subj.py" "$T/helper.py"
run() { # MODE
	mode=$1 name=hoptrace-test-$$-$1 kids=""
	rm -f "$T/q"; mkfifo -m 0666 "$T/q"
	gn_bg "$BB" "$T/b_$mode.log" python3 -c "import socket,time; time.sleep(0.5)
for k in range(100):
    try: s=socket.create_connection(('$A4',9001)); break
    except OSError: time.sleep(0.02)
s.send(b'orders from B'); time.sleep(20)"
	case $mode in unix*) nd=$((${mode#unix} - 1)) ;; *) nd=0 ;; esac
	case $mode in unix*) arg=$nd ;; *) arg=$T/q ;; esac
	if [ "${mode#unix}" != "$mode" ]; then
		for i in $(seq 0 $((nd - 1))); do nobody /usr/bin/python3 "$T/helper.py" decoy "$A4" "$name-d$i" & kids="$kids $!"; done
	else
		for i in $(seq 16); do nobody /usr/bin/python3 "$T/helper.py" sleeper "$A4" "$name" "$T/q" & kids="$kids $!"; done
	fi
	sleep 0.3
	nobody /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$name" "$T/q" & kids="$kids $!"
	out=$(nobody env LD_PRELOAD=$SHIM /usr/bin/python3 "$T/subj.py" "$mode" "$B4" "$name" "$arg" 2>&1)
	for k in $kids; do kill $k 2>/dev/null; done
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "H holds B's connection and feeds S"
	sleep 1
}
for mode in ${CASES:-unix5 unix9 unix13}; do
	gn_log "$mode"
	run $mode
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
