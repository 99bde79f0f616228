#!/bin/sh
# attack_review_rawfd_decoy.sh — review of issue 10's /proc holder searches
# (docs/threat-model.md class 4b; was tests/open/, the fifo17 case of
# attack_review_rawfd_scans.sh): a pipe's or FIFO's holders were searched for
# only while the graph knew no other live holder of it, so a holder the graph
# knows — a decoy — hid a writer nobody reported. As nobody on A, against a
# policy that refuses every chain whose origin is B ("B4, *, *, *, black, *")
# and allows B4:8000 otherwise, a helper H of nobody's, run WITHOUT the shim,
# accepts B's connection, keeps it open and writes B's orders into what the
# subject S (shim) reads; S then connect()s to B4:8000:
#   fifo17     a FIFO S opened (libc) that 16 unshimmed sleepers of nobody's,
#              started before H, also hold: the first search takes the
#              sleepers (its 16) and says holders_incomplete; the next walk
#              found "a writer the graph knows" and searched no more, H was
#              never looked for (accepted 2 runs of 3 on main af45c93)
#   fifo_shim  one decoy D WITH the shim holds the FIFO (libc open: an OPEN
#              record): the graph knows a live holder from the start
#   pipe_shim  an anonymous pipe S made (PIPE record); its fork child D (shim)
#              keeps the write end; H opens S's write end through
#              /proc/S/fd/N (no record: H has no shim), then S closes its own
#   fifo_late  an unshimmed writer W opens the FIFO first and says hello; S
#              connects once (accepted: W holds nothing of B's), so a search
#              found W and ran to its end; only then does H take B's
#              connection, open the FIFO and write B's orders, and S connects
#              again — the second is judged
# B's connection is open in H when the SYN is judged and H feeds S, so each
# must be refused: on the rule of origin B, or as a /proc search that ran out
# (holders_incomplete: on_collector_error, never @incomplete evaluate).
# Prints FAIL-CASE and exits 1 while a case is accepted, or refused on a chain
# without B. CASES="..." runs some.
# Each case alone: a 3 s history window, waited out between cases, the
# helpers killed by their own pids (a case's H holding B's connection is a
# connection no record names: it would make the next case's walks
# holders_incomplete — fifo_late's first connect must be complete).
: "${RF_WINDOW:=3}"
export RF_WINDOW
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
NB=$T/nb
mkdir -p "$NB" && chown nobody "$NB"
cat >"$T/subj.py" <<'EOP'
import os, socket, sys, time
mode, b4, q, nb = sys.argv[1:5]
def wait_for(path):
    for k in range(400):
        if os.path.exists(path): return
        time.sleep(0.02)
    raise SystemExit("no " + path)
def connect(tag):
    S = socket.socket(); S.settimeout(2)
    try:
        S.connect((b4, 8000)); res = "connected"
    except ConnectionRefusedError: res = "refused"
    except OSError as e: res = "error %s" % e
    S.close()
    print("%s: %s connect to %s:8000: %s" % (mode, tag, b4, res), flush=True)
    return res
if mode == "pipe_shim":
    rd, wr = os.pipe()
    if os.fork() == 0:
        os.close(rd); time.sleep(12); os._exit(0)  # D: a known writer
    with open(nb + "/s.tmp", "w") as f: f.write("%d %d" % (os.getpid(), wr))
    os.rename(nb + "/s.tmp", nb + "/s")
    wait_for(nb + "/h")  # H holds our write end now
    os.close(wr)
    fd = rd
else:
    fd = os.open(q, os.O_RDONLY)
if mode == "fifo_late":
    hello = os.read(fd, 100)
    print("%s: got %r from W" % (mode, hello), flush=True)
    time.sleep(0.3)
    connect("first (before H)")
    open(nb + "/go", "w").close()
orders = os.read(fd, 100)
print("%s: got %r" % (mode, orders), flush=True)
time.sleep(0.3)
print("RESULT", connect("after the orders"), flush=True)
EOP
cat >"$T/helper.py" <<'EOP'
import os, socket, sys, time
mode, a4, q, nb, role = sys.argv[1:6]
open(nb + "/pids", "a").write("%d\n" % os.getpid())
def wait_for(path):
    for k in range(600):
        if os.path.exists(path): return
        time.sleep(0.02)
    raise SystemExit("no " + path)
if role == "sleeper":  # a decoy: holds the FIFO, sleeps
    fd = os.open(q, os.O_RDWR); time.sleep(10); sys.exit(0)
if role == "hello":    # W: an innocent writer, first
    fd = os.open(q, os.O_WRONLY); os.write(fd, b"hello"); time.sleep(12); sys.exit(0)
if mode == "fifo_late":
    # (B's connection only after S's first connect: a process of S's user
    # holding it already would make that walk holders_incomplete — chain.c
    # dark_check — and the case needs a complete search first)
    wait_for(nb + "/go")
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9001)); L.listen(1)
c, _ = L.accept(); L.close()
orders = c.recv(100)
if mode == "pipe_shim":
    wait_for(nb + "/s")
    pid, wr = open(nb + "/s").read().split()
    f = os.open("/proc/%s/fd/%s" % (pid, wr), os.O_WRONLY)
    open(nb + "/h", "w").close()
    time.sleep(0.5)
else:
    f = os.open(q, os.O_WRONLY)
os.write(f, orders)
time.sleep(5)
EOP
chmod 644 "$T/subj.py" "$T/helper.py"
run() { # MODE
	mode=$1 kids=""
	rm -f "$T/q" "$NB"/*; mkfifo -m 0666 "$T/q"
	rf_orders "$T/b_$mode.log" 9001 20 $([ "$mode" = fifo_late ] && echo 400)
	case $mode in
	fifo17) for i in $(seq 16); do nobody /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$T/q" "$NB" sleeper & kids="$kids $!"; done ;;
	fifo_shim) nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$T/q" "$NB" sleeper & kids="$kids $!" ;;
	fifo_late) nobody /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$T/q" "$NB" hello & kids="$kids $!" ;;
	esac
	sleep 0.3
	nobody /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$T/q" "$NB" writer & kids="$kids $!"
	out=$(nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/subj.py" "$mode" "$B4" "$T/q" "$NB" 2>&1)
	for k in $kids; do kill "$k" 2>/dev/null; done
	# (the helpers themselves: $kids are the subshells that started them)
	for p in $(cat "$NB/pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	if [ "$mode" = fifo_late ]; then
		case $out in *"first (before H) connect to $B4:8000: connected"*) ;;
		*) gn_fail "fifo_late: the first connect (W only) was not accepted: no complete search before H" ;; esac
	fi
	rf_verdict "$mode" "H holds B's connection and feeds S"
	rf_next
}
for mode in ${CASES:-fifo17 fifo_shim pipe_shim fifo_late}; do
	gn_log "$mode"
	run $mode
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
