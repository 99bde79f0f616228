#!/bin/sh
# attack_review_rawfd_pipe.sh — review of issue 10's fd-table check
# (docs/threat-model.md class 4b): B's orders through an ANONYMOUS pipe whose
# writer is a process the graph does not know. As nobody on A, against a
# policy that refuses every chain whose origin is B ("B4, *, *, *, black, *")
# and allows B4:8000 otherwise: a helper H of nobody's, run WITHOUT the shim,
# accepts B's connection and keeps it open, makes a pipe and writes B's orders
# into it, keeping its write end; the subject S (shim) reads them and
# connect()s to B4:8000:
#   scm_pipe     S is no kin of H's (started on its own): it connects to H's
#                unix socket (an abstract name), gets the
#                pipe's read end by SCM_RIGHTS (libc recvmsg: FDRECV), and
#                both close the unix connection before H writes
#   orphan_pipe  S inherits the read end: H forks M, M calls setsid() and
#                forks S, M exits (S re-parented), S execs python3 with the
#                shim
# B's connection and the pipe's write end are open in H when the SYN is
# judged (the kernel shows both), and H feeds S through the pipe — so each
# must be refused on the rule of origin B. A FIFO's unknown writer is
# searched for in /proc (attack_raw_fd.sh noshim_fifo), an anonymous pipe's
# was not ("it reaches a process only by fork or SCM_RIGHTS, from a process
# the graph knows": H is not known).
# Prints FAIL-CASE and exits 1 while a case is accepted, or refused on a
# chain without B (the refusal must be the rule of origin B, policy line 1).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/subj.py" <<'EOP'
import os, socket, sys, time
mode, b4 = sys.argv[1], sys.argv[2]
if mode == "scm_pipe":
    for k in range(100):
        try:
            u = socket.socket(socket.AF_UNIX); u.connect("\0" + sys.argv[3]); break
        except OSError: time.sleep(0.02)
    _, fds, _, _ = socket.recv_fds(u, 16, 1)
    u.close()
    fd = fds[0]
else:
    fd = int(sys.argv[3])
orders = os.read(fd, 100)
time.sleep(0.3)
S = socket.socket(); S.settimeout(2)
try:
    S.connect((b4, 8000)); res = "connected"
except ConnectionRefusedError: res = "refused"
except OSError as e: res = "error %s" % e
print("%s: got %r through the pipe (fd %d), connect to %s:8000: %s" % (mode, orders, fd, b4, res), flush=True)
print("RESULT", res, flush=True)
EOP
cat >"$T/helper.py" <<'EOP'
import os, socket, sys, time
mode, a4, shim, subj, b4, path = sys.argv[1:7]
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9001)); L.listen(1); c, _ = L.accept(); L.close()
orders = c.recv(100)
rd, wr = os.pipe(); os.set_inheritable(rd, True)
env = dict(os.environ, LD_PRELOAD=shim)
if mode == "scm_pipe":
    U = socket.socket(socket.AF_UNIX); U.bind("\0" + path); U.listen(1)
    u, _ = U.accept()
    socket.send_fds(u, [b"x"], [rd])
    u.close(); U.close(); os.close(rd)
    time.sleep(0.2)
else:
    subp = os.fork()
    if subp == 0:
        os.setsid()
        if os.fork() == 0:
            os.close(wr)
            os.execve("/usr/bin/python3", ["python3", subj, mode, b4, str(rd)], env)
        os._exit(0)
    os.close(rd)
    os.waitpid(subp, 0)
os.write(wr, orders)
time.sleep(3)
EOP
chmod 644 "$T/subj.py" "$T/helper.py"
run() { # MODE
	mode=$1
	rf_orders "$T/b_$mode.log" 9001 20
	if [ $mode = scm_pipe ]; then
		# H in the background, S started on its own (no kin of H's)
		nobody /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$SHIM" "$T/subj.py" "$B4" "hoptrace-test-pipe-$$" &
		helper=$!
		out=$(nobody env LD_PRELOAD=$SHIM /usr/bin/python3 "$T/subj.py" "$mode" "$B4" "hoptrace-test-pipe-$$" 2>&1)
		wait $helper
	else
		# S's output comes through H's stdout (H never had the shim)
		out=$(nobody /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$SHIM" "$T/subj.py" "$B4" "" 2>&1)
	fi
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "B's orders through a pipe whose writer holds B's connection"
	sleep 1
}
for mode in ${CASES:-scm_pipe orphan_pipe}; do
	gn_log "$mode"
	run $mode
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
