#!/bin/sh
# attack_review_rawfd_past.sh (open: docs/threat-model.md "What is not
# defended yet", "Raw syscalls, past tense") — what a raw syscall took and
# closed before the SYN is not seen: the fd-table check and the pipe holder
# search compare what the kernel shows at the SYN. As nobody on A, against a
# policy that refuses every chain whose origin is B ("B4, *, *, *, black, *")
# and allows B4:8000 otherwise; B's orders are read, then the subject S
# (shim) connect()s to B4:8000:
#   raw_closed   S takes B's connection by syscall(SYS_accept4) on its own
#                listener, reads B's orders and closes the socket by
#                syscall(SYS_close) (no record of either)
#   fifo_closed  a helper H WITHOUT the shim accepts B's connection and keeps
#                it open, writes B's orders into a FIFO S opened (libc) and
#                closes the FIFO before S connects (H holds nothing S holds
#                at the SYN: no search finds it)
# Each should be refused (origin B); prints FAIL-CASE and exits 1 while one is
# accepted, or refused on a chain without B. Accepted on wt-decoy 5483fe2
# (session 12): shows the doc's limit is real, not a fix.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
cat >"$T/subj.py" <<'EOP'
import ctypes, os, socket, sys, time
mode, b4, a4, q = sys.argv[1:5]
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_accept4, SYS_close = 288, 3
if mode == "raw_closed":
    L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    L.bind((a4, 9001)); L.listen(1)
    fd = libc.syscall(SYS_accept4, L.fileno(), None, None, 0)
    assert fd >= 0, ctypes.get_errno()
    orders = os.read(fd, 100)
    libc.syscall(SYS_close, fd)
    L.close()
else:
    fd = os.open(q, os.O_RDONLY)
    orders = os.read(fd, 100)
    time.sleep(0.3)  # (H has closed its end)
time.sleep(0.3)
S = socket.socket(); S.settimeout(2)
try:
    S.connect((b4, 8000)); res = "connected"
except ConnectionRefusedError: res = "refused"
except OSError as e: res = "error %s" % e
print("%s: got %r, connect to %s:8000: %s" % (mode, orders, b4, res), flush=True)
print("RESULT", res, flush=True)
EOP
cat >"$T/helper.py" <<'EOP'
import os, socket, sys, time
a4, q = sys.argv[1:3]
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9001)); L.listen(1)
c, _ = L.accept(); L.close()
f = os.open(q, os.O_WRONLY); os.write(f, c.recv(100)); os.close(f)
time.sleep(8)  # B's connection stays open
EOP
chmod 644 "$T/subj.py" "$T/helper.py"
for mode in ${CASES:-raw_closed fifo_closed}; do
	gn_log "$mode"
	rm -f "$T/q"; mkfifo -m 0666 "$T/q"
	rf_orders "$T/b_$mode.log" 9001 20
	kid=""
	if [ "$mode" = fifo_closed ]; then nobody /usr/bin/python3 "$T/helper.py" "$A4" "$T/q" & kid=$!; fi
	out=$(nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/subj.py" "$mode" "$B4" "$A4" "$T/q" 2>&1)
	[ -z "$kid" ] || kill $kid 2>/dev/null
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "B's orders read, their channel closed before the SYN"
	sleep 1
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
