# rawfd_leader.py MODE B4 A4 [LISTENER] — the subject of
# tests/func/attack_review_rawfd_leader.sh and attack_review_rawfd_dir.sh (run
# as nobody, shimmed, copied into the bed's temp dir): a process whose
# thread-group leader has exited (syscall(SYS_exit) in the main thread,
# another thread runs on) takes B's connection to A4:9000 by a raw accept4,
# reads B's orders and connects to B4:8000, printing "RESULT connected|refused".
#   leader_feeder  a forked helper's thread takes B's connection and writes
#                  the orders into a pipe the subject reads (its listener
#                  closed after the accept)
#   leader_self    the subject's own thread; LISTENER keep (the default: the
#                  listener stays open) or close (closed right after the
#                  accept: B's connection is then taken for an outgoing one)
import ctypes, os, socket, sys, threading, time
mode, b4, a4 = sys.argv[1], sys.argv[2], sys.argv[3]
listener = sys.argv[4] if len(sys.argv) > 4 else "keep"
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
    if mode == "leader_self" and listener == "keep":
        # kept: closed, B's connection is taken for an outgoing one to the
        # host the SYN goes to, and skipped (attack_review_rawfd_dir.sh)
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
