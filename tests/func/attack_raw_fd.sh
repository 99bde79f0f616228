#!/bin/sh
# attack_raw_fd.sh — (was tests/open/attack_review10_raw_syscall.sh) a shimmed process that
# takes a descriptor by a raw syscall (no record) holds it without the
# collector knowing, and the kernel keeps showing it in /proc/PID/fd while
# the SYN is judged. As nobody on A, with the shim preloaded, against a policy
# that refuses every chain whose origin is B ("B4, *, *, *, black, *") and
# allows B4:8000 otherwise, the attacker gets B's orders over a connection
# that stays open, then connect()s (libc, shim: CONNECT record) to B4:8000:
#   raw_accept   accept4() by syscall(SYS_accept4) on its own listener
#   pidfd_getfd  a forked helper accepts B's connection (shim: ACCEPT record),
#                the attacker copies it with pidfd_getfd(), the helper exits
#                (the helper's fd found in /proc/PID/fd: nothing passes
#                between them), the helper killed
#   raw_fifo     a FIFO opened by syscall(SYS_openat); a helper of nobody's
#                that accepted B's connection (shim) writes B's orders into
#                it and keeps both open
#   noshim_fifo  no raw syscall at all: the subject (shim) opens the FIFO with
#                libc; the helper that accepted B's connection and writes
#                B's orders into the FIFO runs without the shim
#   raw_feeder   the subject holds nothing of B's: a forked helper accepts
#                B's connection by syscall(SYS_accept4), keeps it open and
#                writes B's orders into a pipe (shim: PIPE) the subject reads
#                — a fix that re-reads only the subject's /proc/PID/fd at the
#                SYN misses this one
#   recvmmsg     no raw syscall: libc's recvmmsg() (not hooked, docs/shim.md)
#                takes B's connection by SCM_RIGHTS from a helper that closed
#                its copy at once; the connect() comes 62 s later (past
#                history_window, so the helper no longer feeds B's connection
#                through the socketpair) while B's connection is still open —
#                HELD (refused, origin B) on 9414ca2; not run by default
#                (CASES=recvmmsg), it takes 62 s
# B's connection is open in the attacker when its SYN leaves (the kernel shows
# it), so each must be refused: docs/threat-model.md "a local user ... may
# hide what it does" is limited in "What is not defended yet" to what the
# kernel does not show. Control: the same program with no shim (the kernel
# fallback reads /proc: refused).
# Fixed (docs/threat-model.md class 4b): each live process a SYN's walk
# reaches has its /proc/PID/fd compared with the graph (an fd no record named
# becomes a hold seen "kernel", the chain says fallback, no push decides on
# it), and a pipe or FIFO the walk reads has its holders searched for in
# /proc on every walk (the owner's processes first).
# Prints FAIL-CASE and exits 1 while a case is accepted, or refused on a chain
# without B (the refusal must be the rule of origin B, policy line 1).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/raw.py" <<'EOP'
import ctypes, os, socket, struct, sys, time
mode, b4, a4 = sys.argv[1], sys.argv[2], sys.argv[3]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_accept4, SYS_recvmsg, SYS_pidfd_open, SYS_pidfd_getfd, SYS_openat = 288, 47, 434, 438, 257
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9000)); L.listen(4)
if mode == "raw_accept" or mode == "noshim":
    fd = libc.syscall(SYS_accept4, L.fileno(), None, None, 0)
    assert fd >= 0, ctypes.get_errno()
elif mode == "pidfd_getfd":
    pid = os.fork()
    if pid == 0:
        c, _ = L.accept()
        time.sleep(5)
        os._exit(0)
    mine = set(os.fstat(int(f)).st_ino for f in os.listdir("/proc/self/fd") if f.isdigit() and int(f) > 2 and os.path.exists("/proc/self/fd/" + f))
    # B's connection: a TCP socket of the helper's (not the shim's momentary
    # unix socket of the helper's ring registration, seen while its atfork
    # handler runs: taking that one made the case not run, 1 in 3 on a busy
    # machine)
    pfd = libc.syscall(SYS_pidfd_open, pid, 0)
    fd = -1
    for _ in range(300):
        for f in os.listdir("/proc/%d/fd" % pid):
            try: l = os.readlink("/proc/%d/fd/%s" % (pid, f))
            except OSError: continue
            if not l.startswith("socket:") or int(l[8:-1]) in mine: continue
            cand = libc.syscall(SYS_pidfd_getfd, pfd, int(f), 0)
            if cand < 0: continue
            if socket.socket(fileno=os.dup(cand)).family == socket.AF_INET: fd = cand; break
            os.close(cand)
        if fd >= 0: break
        time.sleep(0.01)
    assert fd >= 0, ctypes.get_errno()
    os.close(pfd)
    os.kill(pid, 9); os.waitpid(pid, 0)
elif mode == "raw_feeder":
    # the subject holds no socket of B's: a forked helper accepts B's
    # connection by syscall(SYS_accept4), keeps it, and writes B's orders
    # into a pipe the subject reads (the helper feeds the subject: shim PIPE)
    rd, wr = os.pipe()
    if os.fork() == 0:
        os.close(rd)
        cfd = libc.syscall(SYS_accept4, L.fileno(), None, None, 0)
        os.write(wr, os.read(cfd, 100))
        time.sleep(5)
        os._exit(0)
    os.close(wr)
    fd = rd
elif mode == "recvmmsg":
    # no raw syscall: libc's recvmmsg(), which the shim does not hook
    # (docs/shim.md), takes B's connection from a helper by SCM_RIGHTS; the
    # helper closed its copy at once, so it no longer feeds B's connection
    # through the socketpair once history_window (60 s) has passed
    sp0, sp1 = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        sp0.close()
        c, _ = L.accept()
        socket.send_fds(sp1, [b"x"], [c.fileno()])
        c.close()
        time.sleep(70)
        os._exit(0)
    sp1.close()
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    class msghdr(ctypes.Structure):
        _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                    ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                    ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                    ("flags", ctypes.c_int)]
    class mmsghdr(ctypes.Structure):
        _fields_ = [("hdr", msghdr), ("len", ctypes.c_uint)]
    buf = ctypes.create_string_buffer(16); cbuf = ctypes.create_string_buffer(64)
    iov = iovec(ctypes.cast(buf, ctypes.c_void_p), 16)
    mm = mmsghdr(msghdr(None, 0, ctypes.pointer(iov), 1, ctypes.cast(cbuf, ctypes.c_void_p), 64, 0), 0)
    n = libc.recvmmsg(sp0.fileno(), ctypes.byref(mm), 1, 0, None)
    assert n == 1, ctypes.get_errno()
    fd = struct.unpack("i", cbuf.raw[16:20])[0]
    orders0 = os.read(fd, 100)
    time.sleep(62)
elif mode in ("noshim_fifo", "spent_fifo"):
    # no raw syscall in the subject: it opens the FIFO with libc (shim: OPEN)
    fd = os.open(sys.argv[4], os.O_RDONLY)
elif mode == "raw_fifo":
    # a FIFO opened by syscall(SYS_openat); B's orders written into it by a
    # helper that accepted B's connection (shim: ACCEPT, OPEN) and keeps it
    fifo = sys.argv[4]
    fd = libc.syscall(SYS_openat, -100, fifo.encode(), os.O_RDONLY, 0)
    assert fd >= 0, ctypes.get_errno()
L.close()
if mode in ("raw_fifo", "raw_feeder", "noshim_fifo", "spent_fifo"):
    orders = os.read(fd, 100); peer = ("the FIFO's writer" if mode == "raw_fifo" else "the helper",)
else:
    c = socket.socket(fileno=fd)
    peer = c.getpeername()
    orders = orders0 if mode == "recvmmsg" else c.recv(100)
time.sleep(0.3)
S = socket.socket(); S.settimeout(2)
try:
    S.connect((b4, 8000)); res = "connected"
except ConnectionRefusedError: res = "refused"
except OSError as e: res = "error %s" % e
held = any(os.path.exists("/proc/self/fd/%d" % fd) for _ in [0])
print("%s: got %r from %s (fd %d still open: %s), connect to %s:8000: %s" %
      (mode, orders, peer[0], fd, held, b4, res), flush=True)
print("RESULT", res)
EOP
# burn.py SECS ADDR: nobody's scan share spent, no record sent (no shim):
# ~19,000 fds (one pipe dup2()ed) in the process whose connects to ADDR:8001
# the guard asks about — each one's holder is searched for in /proc, nobody's
# processes first, charged to nobody
cat >"$T/burn.py" <<'EOP'
import os, resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
r, w = os.pipe()
for fd in range(100, hard - 16): os.dup2(r, fd, inheritable=False)
print("burning", flush=True)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    s = socket.socket(); s.settimeout(0.5)
    try: s.connect((sys.argv[2], 8001))
    except OSError: pass
    s.close(); time.sleep(0.01)
EOP
chmod 644 "$T/raw.py" "$T/burn.py"
run() { # MODE
	mode=$1
	rf_orders "$T/b_$mode.log" 9000 80
	case $mode in noshim) pre="" ;; *) pre="env LD_PRELOAD=$SHIM" ;; esac
	case $mode in noshim_fifo|spent_fifo) hpre="" ;; *) hpre="env LD_PRELOAD=$SHIM" ;; esac
	if [ $mode = spent_fifo ]; then
		# nobody spends its scan share first: the FIFO's holder search
		# then runs out — which must not let the chain be judged on
		# what is known (it has no B)
		gn_bg "$A" "$T/burn.log" setpriv --reuid nobody --regid nogroup --clear-groups \
			/usr/bin/python3 "$T/burn.py" 12 "$B4"
		i=0; until grep -q burning "$T/burn.log" 2>/dev/null || [ $i -ge 100 ]; do i=$((i + 1)); sleep 0.1; done
		sleep 1
	fi
	if [ $mode = raw_fifo ] || [ $mode = noshim_fifo ] || [ $mode = spent_fifo ]; then
		rm -f "$T/q"; mkfifo -m 0666 "$T/q"
		# (a port of its own: the helper before may still hold its listener)
		case $mode in raw_fifo) hport=9001 ;; noshim_fifo) hport=9002 ;; *) hport=9003 ;; esac
		# the helper (nobody, shim): accepts B's connection, writes what it
		# got into the FIFO, keeps both open
		nobody $hpre /usr/bin/python3 -c "import socket,time
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind(('$A4', $hport)); L.listen(1); c, _ = L.accept()
f = open('$T/q', 'wb', 0); f.write(c.recv(100)); time.sleep(5)" &
		helper=$!
		rf_orders "$T/b_$mode.log" $hport 4
	fi
	# (bounded: with no helper, the FIFO's open would wait for ever)
	out=$(nobody timeout 90 $pre /usr/bin/python3 "$T/raw.py" "$mode" "$B4" "$A4" "$T/q" 2>&1)
	[ -z "${helper:-}" ] || { kill "$helper" 2>/dev/null; helper=""; }
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "B's orders held open"
	sleep 1
}
gn_log "control: no shim (the kernel fallback)"
run noshim
case "$out" in *"RESULT refused"*) ;; *) gn_fail "control: without the shim the connection was not refused" ;; esac
for mode in ${CASES:-raw_accept pidfd_getfd raw_fifo raw_feeder noshim_fifo spent_fifo}; do
	gn_log "$mode"
	run $mode
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
