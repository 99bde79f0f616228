#!/bin/sh
# attack_review_fd_resync.sh — review of issue 10 (flood/stall): one record can
# cost far more than the uid's 1 ms CPU burst. As nobody with the nofile hard
# limit of a Debian login session (524288; the testbed's shell has less, so it
# is raised for the attacker only), a process dup2()s one pipe onto ~500k fds
# and sends RESYNC (the collector then re-reads /proc/PID/fd on its only
# thread: proc_sync_fds) — once per 1 ms is allowed per process; also 8 forked
# children, each one RESYNC. Root's judged connects to B4:8000 (allowed) are
# timed meanwhile: the verdict waits for the collector.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
command -v prlimit >/dev/null || gn_skip "prlimit missing"
gn_setup
chmod 755 "$T"
[ -n "${TIMEOUT:-}" ] && gn_conf collector_timeout_ms "$TIMEOUT"
gn_start_collector
gn_start_guard
cat >"$T/lat.py" <<'EOP'
import socket, sys, time
a, secs = sys.argv[1], float(sys.argv[2])
ts = []; bad = 0; end = time.monotonic() + secs
while time.monotonic() < end:
    t = time.monotonic()
    try: s = socket.create_connection((a, 8000), 5); s.close()
    except OSError: bad += 1
    ts.append((time.monotonic() - t) * 1000); time.sleep(0.02)
ts.sort(); print("root connects: %d, failed %d; ms p50 %.1f p90 %.1f p99 %.1f max %.1f" % (len(ts), bad, ts[len(ts)//2], ts[int(len(ts)*.9)], ts[int(len(ts)*.99)], ts[-1]), flush=True)
EOP
cat >"$T/fds.py" <<'EOP'
import os, resource, socket, struct, sys, time
n, secs = int(sys.argv[1]), float(sys.argv[2])
def u(v):
    if v < 128: return bytes([v])
    if v < 256: return b"\xcc" + bytes([v])
    if v < 65536: return b"\xcd" + struct.pack(">H", v)
    if v < 2**32: return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)
def rec(typ, *f): return bytes([0x90 | (3 + len(f))]) + u(1) + u(typ) + u(time.monotonic_ns()) + b"".join(f)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
r, w = os.pipe()
for fd in range(100, min(n, hard - 16)): os.dup2(r, fd, inheritable=False)
print("fds", len(os.listdir("/proc/self/fd")), flush=True)
kids = []; child = False
for k in range(int(os.environ.get("KIDS", "8"))):
    pid = os.fork()
    if pid == 0:
        child = True; break
    kids.append(pid)
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); c.connect(b"\0hoptrace/rec")
end = time.monotonic() + secs; sent = 0
while time.monotonic() < end:
    try:
        if os.environ.get("SEND", "1") == "1": c.send(rec(17), socket.MSG_DONTWAIT); sent += 1
    except BlockingIOError: pass
    time.sleep(0.002)
if not child:
    for p in kids: os.waitpid(p, 0)
    print("parent sent", sent)
else:
    os._exit(0)
EOP
chmod 644 "$T"/*.py
gn_log "baseline"; ip netns exec "$A" python3 "$T/lat.py" "$B4" 3
gn_log "attacker: RESYNC with ~500k fds, 9 processes, 10 s"
NOFILE=$(prlimit --nofile=524288:524288 true 2>/dev/null && echo 524288 || ulimit -Hn)
echo "   attacker nofile hard limit: $NOFILE"
gn_bg "$A" "$T/atk.log" prlimit --nofile=$NOFILE:$NOFILE env KIDS=${KIDS:-8} SEND=${SEND:-1} setpriv --reuid nobody --regid nogroup --clear-groups /usr/bin/python3 "$T/fds.py" ${NFDS:-524000} 10
sleep 3
ip netns exec "$A" python3 "$T/lat.py" "$B4" 6
gn_log "after the attack"; sleep 2; ip netns exec "$A" python3 "$T/lat.py" "$B4" 3; cat "$T/atk.log"
echo "   rejects: $(grep -c '"reject"' "$T/audit.log")"
grep '"reject"' "$T/audit.log" | head -2 | cut -c1-400
