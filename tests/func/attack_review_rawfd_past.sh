#!/bin/sh
# attack_review_rawfd_past.sh (docs/threat-model.md class 4b, "Raw syscalls,
# past tense"; was tests/open/, session 12's review) — what a raw syscall or a
# program without the shim took and let go of before the SYN: the fd-table
# check and the pipe holder search compare what the kernel shows at the SYN,
# so only what the kernel attested before can say it (chain.c dark_check). As
# nobody on A, against a policy that refuses every chain whose origin is B
# ("B4, *, *, *, black, *") and allows B4:8000 otherwise; B's orders are
# read, then the subject S (shim) connect()s to B4:8000:
#   raw_closed   S takes B's connection by syscall(SYS_accept4) on its own
#                listener, reads B's orders and closes the socket by
#                syscall(SYS_close) (no record of either)
#   fifo_closed  a helper H WITHOUT the shim accepts B's connection and keeps
#                it open, writes B's orders into a FIFO S opened (libc) and
#                closes the FIFO before S connects (H holds nothing S holds
#                at the SYN: no search finds it)
#   pipe_closed  S's own anonymous pipe (shim: PIPE): H opens S's write end
#                by /proc/S/fd/N, writes B's orders, closes it
#   unix_closed  S listens on a unix socket; H connects (no shim), sends B's
#                orders; S takes the connection by syscall(SYS_accept4),
#                reads and closes it by syscall(SYS_close)
# Then the same four with the collector's kernel events off (RF_KEV=off, a
# bed of its own): nothing attests what H or S held, so each must be refused
# as holders_incomplete or on origin B, never a complete local chain.
# Each should be refused; prints FAIL-CASE and exits 1 while one is
# accepted, or refused on a chain without B. CASES="..." runs some; KEV_HALF=on
# or off runs one half.
# Each case alone: a 3 s history window, waited out between cases (a case's
# H, killed, leaves a dark connection that would refuse the next one anyway).
: "${RF_WINDOW:=3}"
export RF_WINDOW
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
NB=$T/nb
mkdir -p "$NB" && chown nobody "$NB"
cat >"$T/subj.py" <<'EOP'
import ctypes, os, socket, sys, time
mode, b4, a4, q, nb = sys.argv[1:6]
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
elif mode == "unix_closed":
    U = socket.socket(socket.AF_UNIX); U.bind(nb + "/u"); U.listen(1)
    fd = libc.syscall(SYS_accept4, U.fileno(), None, None, 0)
    assert fd >= 0, ctypes.get_errno()
    orders = os.read(fd, 100)
    libc.syscall(SYS_close, fd)
    U.close()
elif mode == "pipe_closed":
    rd, wr = os.pipe()
    with open(nb + "/s.tmp", "w") as f: f.write("%d %d" % (os.getpid(), wr))
    os.rename(nb + "/s.tmp", nb + "/s")
    orders = os.read(rd, 100)
    time.sleep(0.3)  # (H has closed its copy)
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
mode, a4, q, nb = sys.argv[1:5]
open(nb + "/pids", "a").write("%d\n" % os.getpid())
def wait_for(path):
    for k in range(400):
        if os.path.exists(path): return
        time.sleep(0.02)
    raise SystemExit("no " + path)
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9001)); L.listen(1)
c, _ = L.accept(); L.close()
orders = c.recv(100)
if mode == "pipe_closed":
    wait_for(nb + "/s")
    pid, wr = open(nb + "/s").read().split()
    f = os.open("/proc/%s/fd/%s" % (pid, wr), os.O_WRONLY)
    os.write(f, orders); os.close(f)
elif mode == "unix_closed":
    wait_for(nb + "/u")
    u = socket.socket(socket.AF_UNIX); u.connect(nb + "/u"); u.send(orders); u.close()
else:
    f = os.open(q, os.O_WRONLY); os.write(f, orders); os.close(f)
time.sleep(8)  # B's connection stays open
EOP
chmod 644 "$T/subj.py" "$T/helper.py"
half=${RF_KEV:-on}
if [ -n "${KEV_HALF:-}" ] && [ "$KEV_HALF" != "$half" ]; then
	gn_cleanup; trap - EXIT
	exec env RF_KEV="$KEV_HALF" KEV_HALF="$KEV_HALF" sh "$0" "$@"
fi
for mode in ${CASES:-raw_closed fifo_closed pipe_closed unix_closed}; do
	gn_log "$mode (kernel events $half)"
	rm -f "$T/q" "$NB"/*; mkfifo -m 0666 "$T/q"
	rf_orders "$T/b_$mode.log" 9001 20
	kid=""
	if [ "$mode" != raw_closed ]; then nobody /usr/bin/python3 "$T/helper.py" "$mode" "$A4" "$T/q" "$NB" & kid=$!; fi
	out=$(nobody env LD_PRELOAD="$SHIM" /usr/bin/python3 "$T/subj.py" "$mode" "$B4" "$A4" "$T/q" "$NB" 2>&1)
	[ -z "$kid" ] || kill $kid 2>/dev/null
	# (H itself: $kid is the subshell that started it)
	for p in $(cat "$NB/pids" 2>/dev/null); do kill "$p" 2>/dev/null; done
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode/kev-$half" "B's orders read, their channel closed before the SYN"
	rf_next
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
if [ "$half" = on ] && [ -z "${KEV_HALF:-}" ]; then
	gn_cleanup; trap - EXIT
	exec env RF_KEV=off KEV_HALF=off sh "$0" "$@"
fi
echo "PASS"
