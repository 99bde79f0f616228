#!/bin/sh
# attack_review_rawfd_creator.sh — review of issue 10's fd-table check
# (docs/threat-model.md class 4b): what a raw syscall took in a CREATOR, held
# open while its child's SYN is judged. As nobody on A with the shim
# preloaded, against a policy that refuses every chain whose origin is B
# ("B4, *, *, *, black, *") and allows B4:8000 otherwise, the attacker takes
# B's connection by syscall(SYS_accept4) (no record), reads B's orders, keeps
# the connection open, and a child it makes afterwards connect()s (libc,
# shim: CONNECT) to B4:8000:
#   self         control: the attacker itself connects (attack_raw_fd.sh's
#                raw_accept) — refused, origin B
#   fork_child   os.fork() (shim: BIRTH); the child closes its inherited copy
#                of B's connection at once, then connects
#   clone_child  the child made by syscall(SYS_clone, SIGCHLD) — no atfork
#                handler, no BIRTH: the child is first known from /proc at its
#                CONNECT; it closes its copy at once, then connects
#   exec_child   the child inherits B's connection close-on-exec and execs
#                python3 (shim: BIRTH, EXEC, IMAGE): the new image holds
#                nothing of B's
# B's connection is open in the creator, the kernel shows it in
# /proc/PID/fd when the SYN is judged, and the creator held it when it made
# the child — so each must be refused on the rule of origin B. On main
# 812e114 the creator's table is compared (graph_proc_check_fds) and B's
# socket found, but the hold it makes is dated at the SYN: a creator is
# judged at its child's birth (chain.c channel_sources, ROLE_CREATOR), a hold
# that began "later" is neither live nor history there, and the chain is
# local: accepted (all three, 325903a). Fixed: an fd the table check finds
# is held from the process's birth (graph_proc.c check_cb).
# Prints FAIL-CASE and exits 1 while a case is accepted, or refused on a
# chain without B (the refusal must be the rule of origin B, policy line 1).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/raw.py" <<'EOP'
import ctypes, os, socket, sys, time
mode, b4, a4 = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_accept4, SYS_clone, SIGCHLD, SOCK_CLOEXEC = 288, 56, 17, 0o2000000
def connect(tag):
    time.sleep(0.3)
    S = socket.socket(); S.settimeout(2)
    try:
        S.connect((b4, 8000)); res = "connected"
    except ConnectionRefusedError: res = "refused"
    except OSError as e: res = "error %s" % e
    print("%s: got %r from B (fd %d in the creator), the %s's connect to %s:8000: %s" %
          (mode, orders, fd, tag, b4, res), flush=True)
    print("RESULT", res, flush=True)
if mode == "exec_image":
    # the new image: B's connection was close-on-exec
    mode, orders, fd = "exec_child", sys.argv[4].encode(), int(sys.argv[5])
    connect("exec'd child")
    os._exit(0)
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9000)); L.listen(4)
fd = libc.syscall(SYS_accept4, L.fileno(), None, None, SOCK_CLOEXEC if mode == "exec_child" else 0)
assert fd >= 0, ctypes.get_errno()
L.close()
orders = os.read(fd, 100)
if mode == "self":
    connect("attacker")
    sys.exit(0)
if mode == "fork_child":
    pid = os.fork()
elif mode == "clone_child":
    pid = libc.syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0)
    assert pid >= 0, ctypes.get_errno()
elif mode == "exec_child":
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, sys.argv[0], "exec_image", b4, a4, orders.decode(), str(fd)])
if pid == 0:
    os.close(fd)
    connect("child")
    os._exit(0)
# the creator keeps B's connection open until its child is done
os.waitpid(pid, 0)
os.close(fd)
EOP
chmod 644 "$T/raw.py"
run() { # MODE
	mode=$1
	rf_orders "$T/b_$mode.log" 9000 20
	out=$(nobody env LD_PRELOAD=$SHIM /usr/bin/python3 "$T/raw.py" "$mode" "$B4" "$A4" 2>&1)
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "B's connection open in the creator (its child connected)"
	sleep 1
}
gn_log "control: self (the attacker holds B's connection and connects)"
run self
case "$out" in *"RESULT refused"*) ;; *) gn_fail "control: the attacker's own connect was not refused" ;; esac
for mode in ${CASES:-fork_child clone_child exec_child}; do
	gn_log "$mode"
	run $mode
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
