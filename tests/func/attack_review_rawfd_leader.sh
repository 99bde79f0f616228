#!/bin/sh
# attack_review_rawfd_leader.sh — review of issue 10's fd-table check
# (docs/threat-model.md class 4b): a process whose thread-group leader has
# exited (syscall(SYS_exit) in the main thread, another thread runs on) shows
# an EMPTY /proc/PID/fd — the table lives on in /proc/PID/task/TID/fd. As
# nobody on A with the shim preloaded, against a policy that refuses every
# chain whose origin is B ("B4, *, *, *, black, *") and allows B4:8000
# otherwise:
#   leader_feeder  the subject S forks a helper H (shim: BIRTH) that starts a
#                  thread and ends its main thread; the thread takes B's
#                  connection by syscall(SYS_accept4) (no record), writes
#                  B's orders into a pipe S reads (shim: PIPE) and keeps B's
#                  connection open; S connects to B4:8000
#   leader_self    S itself: it starts a thread and ends its main thread;
#                  the thread raw-accepts B's connection (the listener kept
#                  open), reads B's orders, keeps the connection and
#                  connects to B4:8000
# B's connection is open (in a live thread of a live process) when the SYN is
# judged — each must be refused: on the rule of origin B, as incomplete, or
# (the subject's own table empty: no holder of the SYN's socket is found) by
# on_collector_error. On main 812e114 leader_feeder was accepted on a
# complete local chain, on its push, in 1 of 3 runs with the raw accept
# before the leader's end (the helper's table read empty; the process, its
# leader a zombie, taken for ended) — the accept now comes after it; leader_self
# refused ("no process holds that connection's socket": the holder scans read
# /proc/PID/fd too). Fixed: procfs_fds and the holder scans read a live
# thread's table (/proc/PID/task/TID/fd) when /proc/PID/fd is empty, and a
# zombie leader with live threads is a live process (graph_proc.c
# kernel_proc).
# Prints FAIL-CASE and exits 1 while a case is accepted.
RF_INCOMPLETE=reject
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/raw.py" <<'EOP'
import ctypes, os, socket, sys, threading, time
mode, b4, a4 = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_accept4, SYS_exit = 288, 60
def connect(orders, tag):
    time.sleep(0.3)
    S = socket.socket(); S.settimeout(2)
    try:
        S.connect((b4, 8000)); res = "connected"
    except ConnectionRefusedError: res = "refused"
    except OSError as e: res = "error %s" % e
    fds = os.listdir("/proc/%d/fd" % os.getpid())
    print("%s: got %r (%s), /proc/PID/fd lists %d fds, connect to %s:8000: %s" %
          (mode, orders, tag, len(fds), b4, res), flush=True)
    print("RESULT", res, flush=True)
def raw_accept():
    L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    L.bind((a4, 9000)); L.listen(4)
    fd = libc.syscall(SYS_accept4, L.fileno(), None, None, 0)
    assert fd >= 0, ctypes.get_errno()
    if mode == "leader_self":
        # kept: closed, B's connection is taken for an outgoing one to the
        # host the SYN goes to, and skipped (tests/open/attack_review_rawfd_dir.sh)
        global keep; keep = L
    else:
        L.close()
    return fd
if mode == "leader_self":
    def run():
        time.sleep(0.3) # the leader is gone: the table is shown empty
        fd = raw_accept()
        connect(os.read(fd, 100), "the subject's thread")
        os._exit(0)
    threading.Thread(target=run).start()
    libc.syscall(SYS_exit, 0)
rd, wr = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(rd)
    def feed():
        time.sleep(0.3) # the leader is gone: the table is shown empty
        fd = raw_accept()
        os.write(wr, os.read(fd, 100))
        time.sleep(5)
        os._exit(0)
    threading.Thread(target=feed).start()
    libc.syscall(SYS_exit, 0)
os.close(wr)
connect(os.read(rd, 100), "from the helper through the pipe")
os.kill(pid, 9)
EOP
chmod 644 "$T/raw.py"
run() { # MODE
	mode=$1
	rf_orders "$T/b_$mode.log" 9000 20
	out=$(nobody env LD_PRELOAD=$SHIM timeout 20 /usr/bin/python3 "$T/raw.py" "$mode" "$B4" "$A4" 2>&1)
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "B's connection open in a live thread"
	sleep 1
}
for mode in ${CASES:-leader_feeder leader_self}; do
	gn_log "$mode"
	run $mode
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
