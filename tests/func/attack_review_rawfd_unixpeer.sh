#!/bin/sh
# attack_review_rawfd_unixpeer.sh (docs/threat-model.md class 4b; was
# tests/open/, session 12's review) — the decoy of
# tests/func/attack_review_rawfd_decoy.sh on a unix socket: the subject S
# (shim) connects to D's unix listener; D (shim: ACCEPT) holds the accepted
# end, the peer of S's; H, WITHOUT the shim, holds B's connection and writes
# B's orders into a copy of D's end that no record names; S reads them and
# connect()s to B4:8000. As nobody on A, against a policy that refuses every
# chain whose origin is B ("B4, *, *, *, black, *") and allows B4:8000
# otherwise:
#   unix_shim  D hands its end to H by a raw sendmsg (syscall(SYS_sendmsg):
#              no FDSEND) and keeps its copy; H writes and lets go of its copy
#              at once (the original: accepted on a complete local chain —
#              the graph knew D, and H held nothing S's walk could find)
#   unix_live  the same, but H keeps its copy open until the end (the peer
#              end's holders searched on every walk find H)
#   unix_getfd H takes the copy itself: pidfd_getfd() of D's descriptor (same
#              uid, no help from D), writes, closes the copy
#   unix_exit  as unix_shim, then H exits — B's connection closed with it —
#              before S reads: nothing of H's is left at the SYN but what
#              the kernel's events said of B's connection
# Each should be refused: on origin B, or holders_incomplete (the kernel
# cannot attest who else held D's end; chain.c dark_check, peer_holders).
# Prints FAIL-CASE and exits 1 while one is accepted, or refused on a chain
# without B. CASES="..." runs some.
# Each case alone: a 3 s history window, waited out between cases (a case's
# H, killed, leaves a dark connection that would refuse the next one anyway).
: "${RF_WINDOW:=3}"
export RF_WINDOW
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/subj.py" <<'EOP'
import socket, sys, time
mode, b4, name = sys.argv[1:4]
for k in range(200):
    try:
        u = socket.socket(socket.AF_UNIX); u.connect("\0" + name + "-d"); break
    except OSError: time.sleep(0.02)
orders = u.recv(100)
time.sleep(0.3 if mode != "unix_exit" else 1.0)
S = socket.socket(); S.settimeout(2)
try:
    S.connect((b4, 8000)); res = "connected"
except ConnectionRefusedError: res = "refused"
except OSError as e: res = "error %s" % e
print("%s: got %r, connect to %s:8000: %s" % (mode, orders, b4, res), flush=True)
print("RESULT", res, flush=True)
EOP
cat >"$T/d.py" <<'EOP'
import ctypes, os, socket, struct, sys, time
mode, name = sys.argv[1:3]
open(sys.argv[3] + "/pids", "a").write("%d\n" % os.getpid())
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
U = socket.socket(socket.AF_UNIX); U.bind("\0" + name + "-d"); U.listen(1)
u, _ = U.accept()
U.close()
if mode == "unix_getfd":
    # tell H which descriptor to take; then just hold it
    with open(sys.argv[3] + "/d.tmp", "w") as f: f.write("%d %d" % (os.getpid(), u.fileno()))
    os.rename(sys.argv[3] + "/d.tmp", sys.argv[3] + "/d")
    time.sleep(8)
    sys.exit(0)
for k in range(200):
    try:
        h = socket.socket(socket.AF_UNIX); h.connect("\0" + name + "-h"); break
    except OSError: time.sleep(0.02)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class msghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(iovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]
buf = ctypes.create_string_buffer(b"x")
cmsg = struct.pack("QiiI", 20, socket.SOL_SOCKET, socket.SCM_RIGHTS, u.fileno()) + b"\0" * 4
cbuf = ctypes.create_string_buffer(cmsg, len(cmsg))
iov = iovec(ctypes.cast(buf, ctypes.c_void_p), 1)
m = msghdr(None, 0, ctypes.pointer(iov), 1, ctypes.cast(cbuf, ctypes.c_void_p), 24, 0)
assert libc.syscall(46, h.fileno(), ctypes.byref(m), 0) == 1, ctypes.get_errno()
h.close()
time.sleep(8)  # keeps its copy of the accepted end
EOP
cat >"$T/h.py" <<'EOP'
import ctypes, os, socket, sys, time
mode, a4, name, nb = sys.argv[1:5]
open(nb + "/pids", "a").write("%d\n" % os.getpid())
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9001)); L.listen(1)
c, _ = L.accept(); L.close()
orders = c.recv(100)
if mode == "unix_getfd":
    for k in range(400):
        if os.path.exists(nb + "/d"): break
        time.sleep(0.02)
    pid, dfd = map(int, open(nb + "/d").read().split())
    pfd = libc.syscall(434, pid, 0)          # pidfd_open
    fd = libc.syscall(438, pfd, dfd, 0)      # pidfd_getfd
    assert fd >= 0, ctypes.get_errno()
    os.close(pfd)
else:
    U = socket.socket(socket.AF_UNIX); U.bind("\0" + name + "-h"); U.listen(1)
    d, _ = U.accept()
    _, fds, _, _ = socket.recv_fds(d, 16, 1)
    d.close(); U.close()
    fd = fds[0]
time.sleep(0.3)
os.write(fd, orders)
if mode != "unix_live":
    os.close(fd)
if mode == "unix_exit":
    os._exit(0)  # B's connection goes with it
time.sleep(8)  # B's connection stays open
EOP
NB=$T/nb
mkdir -p "$NB" && chown nobody "$NB"
chmod 644 "$T"/*.py
for mode in ${CASES:-unix_shim unix_live unix_getfd unix_exit}; do
	gn_log "$mode"
	rm -f "$NB"/*
	name=hoptrace-test-$$-$mode
	rf_orders "$T/b_$mode.log" 9001 20
	nobody /usr/bin/python3 "$T/h.py" "$mode" "$A4" "$name" "$NB" & h=$!
	sleep 0.5
	nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/d.py" "$mode" "$name" "$NB" & d=$!
	out=$(nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/subj.py" "$mode" "$B4" "$name" 2>&1)
	kill $h $d 2>/dev/null
	# (H and D themselves: $h and $d are the subshells that started them)
	for p in $(cat "$NB/pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "H wrote B's orders into a copy of D's end of S's socket"
	rf_next
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
