#!/bin/sh
# attack_pty.sh — issue 10 (4): no user can crash hoptraced. A PTY record for
# index N ends every hold the graph still has on pts/N; ending one used to
# trim its holder's closed holds past the newest 256 — the very hold being
# ended, which the loop then read again (heap use-after-free: ASan aborts the
# collector; without ASan, freed memory is used). As nobody on h1:
#   forged  processes claim pts/N (OPEN) and 512-d pipes opened and closed
#           (d = 0..15: one of them sits exactly at the trimming bound), then
#           another claims a new master for each N (PTY) — hand-made records
#   forged-pty  the same, the holders claiming a pty pair of their own (PTY)
#   real    processes really open a pty and 512-d pipes, are killed
#           (SIGKILL: no EXIT, their holds stay), then another process opens
#           new ptys, which reuse the indices (its shim's PTY records)
# After each, hoptraced must still run and answer `hoptrace status`. (real
# passes on the old code too: its processes' exits are seen by the sweep
# before the indices come back; it shows the honest path stays safe.)
# The collector is the ASan build when there is one (make asan-build).
: "${HT_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
if [ -z "${HOPTRACED:-}" ] && [ -x "$HT_TOP/${ASAN_BUILD:-build-asan}/hoptraced" ]; then
	HOPTRACED=$HT_TOP/${ASAN_BUILD:-build-asan}/hoptraced
	# (the shim is preloaded: ASan must not insist on coming first)
	export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0:abort_on_error=1
fi
export HOPTRACED
. "$HT_TOP/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
tb_switch
tb_host h1 10.231.0.1
tb_collector h1
tb_preload on
echo "collector: ${HOPTRACED:-build/hoptraced}"

cat >"$TB_T/pty.py" <<'EOF'
import os, signal, socket, struct, sys, time
mode = sys.argv[1]

from htrec import u, i, chan, rec
def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(b"\0hoptrace/rec")
    return s
def send(s, d):
    while True:
        try:
            return s.send(d)
        except BlockingIOError:
            time.sleep(0.001)

kids = []
if mode in ("forged", "forged-pty"):
    for d in range(16):
        pid = os.fork()
        if pid == 0:
            # (after the collector has read this child's fds at its BIRTH:
            # records older than that read only add history)
            time.sleep(1.5)
            s = conn()
            if mode == "forged":
                send(s, rec(10, i(40), chan(3, 0, 900 + d)))  # OPEN pts/(900+d)
            else:  # its own new pty: master 40, slave 44
                send(s, rec(9, i(40), i(44), chan(3, 0, 900 + d)))
            for k in range(512 - d):
                send(s, rec(5, i(41), i(42), chan(1, 12, 10**7 + d * 1000 + k)))  # PIPE
                send(s, rec(13, i(41)))
                send(s, rec(13, i(42)))
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    time.sleep(4)
    s = conn()
    for d in range(16):
        send(s, rec(9, i(43), i(-1), chan(3, 0, 900 + d)))  # PTY: a new master for N
    time.sleep(1)
else:
    for d in range(16):
        pid = os.fork()
        if pid == 0:
            time.sleep(1.5)
            m, sl = os.openpty()
            for k in range(512 - d):
                a, b = os.pipe(); os.close(a); os.close(b)
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    time.sleep(4)
    for k in kids:
        os.kill(k, signal.SIGKILL)  # no EXIT record: the graph still has their holds
    for k in kids:
        os.waitpid(k, 0)
    new = [os.openpty() for d in range(24)]  # at once: the indices come back
    time.sleep(1)
for k in kids:
    try: os.kill(k, signal.SIGKILL); os.waitpid(k, 0)
    except OSError: pass
print("done", flush=True)
EOF
cp "$TB_LIB/htrec.py" "$TB_T/" && chmod 644 "$TB_T/pty.py" "$TB_T/htrec.py" || tb_fail "htrec.py"

alive() {
	kill -0 "$(cat "$(tb_dir h1)/hoptraced.pid")" 2>/dev/null &&
		tb_exec h1 "$TB_HOPTRACE" status >/dev/null 2>&1
}

fails=0
for m in forged forged-pty real; do
	tb_log "$m"
	tb_bg h1 setpriv --reuid nobody --regid nogroup --clear-groups "$TB_PY" "$TB_T/pty.py" "$m"
	apid=$TB_LAST alog=$TB_LASTLOG
	sleep 0.2
	i=0; until grep -q done "$alog" || ! kill -0 "$apid" 2>/dev/null || [ $i -ge 300 ]; do i=$((i + 1)); sleep 0.1; done
	sleep 0.5
	if alive; then
		echo "$m: hoptraced still answers"
	else
		echo "FAIL-CASE: $m: hoptraced died or stopped answering"
		grep -E "ERROR: AddressSanitizer|^    #[0-5] " "$(tb_dir h1)/hoptraced.log" | head -12
		fails=$((fails + 1))
		tail -n 3 "$(tb_dir h1)/hoptraced.log"
		tb_collector h1 # a fresh one for the next case
	fi
done
st=$(tb_exec h1 "$TB_HOPTRACE" status --json 2>/dev/null)
echo "status claims: $(echo "$st" | "$TB_PY" -c 'import json,sys; print(json.load(sys.stdin).get("claims"))' 2>/dev/null)"
[ $fails = 0 ] || tb_fail "$fails case(s) crashed the collector"
echo "ok"
