#!/bin/sh
# attack_review_rawfd_unixpeer.sh (open: docs/threat-model.md "What is not
# defended yet", "Raw syscalls, past tense") — the decoy of
# tests/func/attack_review_rawfd_decoy.sh on a unix socket: a unix socket's
# peer end is searched for in /proc only while the graph knows no holder of
# it. As nobody on A, against a policy that refuses every chain whose origin
# is B ("B4, *, *, *, black, *") and allows B4:8000 otherwise:
#   unix_shim  the subject S (shim) connects to D's unix listener; D (shim:
#              ACCEPT) hands its accepted end to H by a raw sendmsg
#              (syscall(SYS_sendmsg): no FDSEND) over a socket both close at
#              once, and keeps its copy; H, WITHOUT the shim, holds B's
#              connection and writes B's orders into that end; S reads them
#              and connect()s to B4:8000. The graph knows D holds the peer
#              end, so H is never searched for.
# Should be refused (origin B); prints FAIL-CASE and exits 1 while accepted,
# or refused on a chain without B.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/subj.py" <<'EOP'
import socket, sys, time
b4, name = sys.argv[1:3]
for k in range(200):
    try:
        u = socket.socket(socket.AF_UNIX); u.connect("\0" + name + "-d"); break
    except OSError: time.sleep(0.02)
orders = u.recv(100)
time.sleep(0.3)
S = socket.socket(); S.settimeout(2)
try:
    S.connect((b4, 8000)); res = "connected"
except ConnectionRefusedError: res = "refused"
except OSError as e: res = "error %s" % e
print("unix_shim: got %r, connect to %s:8000: %s" % (orders, b4, res), flush=True)
print("RESULT", res, flush=True)
EOP
cat >"$T/d.py" <<'EOP'
import ctypes, socket, struct, sys, time
name = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
U = socket.socket(socket.AF_UNIX); U.bind("\0" + name + "-d"); U.listen(1)
u, _ = U.accept()
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
h.close(); U.close()
time.sleep(8)  # keeps its copy of the accepted end
EOP
cat >"$T/h.py" <<'EOP'
import socket, sys, time
a4, name = sys.argv[1:3]
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9001)); L.listen(1)
c, _ = L.accept(); L.close()
orders = c.recv(100)
U = socket.socket(socket.AF_UNIX); U.bind("\0" + name + "-h"); U.listen(1)
d, _ = U.accept()
_, fds, _, _ = socket.recv_fds(d, 16, 1)
d.close(); U.close()
time.sleep(0.3)
socket.socket(fileno=fds[0]).send(orders)
time.sleep(8)  # B's connection stays open
EOP
chmod 644 "$T"/*.py
name=hoptrace-test-$$-up
rf_orders "$T/b.log" 9001 20
nobody /usr/bin/python3 "$T/h.py" "$A4" "$name" & h=$!
sleep 0.5
nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/d.py" "$name" & d=$!
out=$(nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/subj.py" "$B4" "$name" 2>&1)
kill $h $d 2>/dev/null
echo "$out" | sed 's/^/   /'
sleep 0.3
rf_verdict unix_shim "H holds B's connection and writes into D's end of S's socket"
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
