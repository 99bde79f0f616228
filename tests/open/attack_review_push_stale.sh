#!/bin/sh
# attack_review_push_stale.sh — review of issue 10: a prejudged push is a
# verdict on the chain as it was BEFORE the SYN. As nobody on A, the policy
# refusing every chain whose origin is B ("B4, *, *, *, black, *") and
# allowing B4:8000 otherwise, the attacker
#   1. makes socket S and sends one CONNECT record for it by hand (its own fd,
#      so the kernel confirms it; remote B4:8000) — the collector computes the
#      chain now (local origin, clean) and pushes it to the guard (500 ms TTL)
#   2. accepts a connection from B on its listener and reads B's orders
#   3. connect(S, B4:8000) within the TTL: the guard takes the push (stale,
#      clean) instead of asking — the SYN is accepted although the chain now
#      comes from B.
# Control: the same without step 1: the guard asks `who`, the chain comes from
# B, refused.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
command -v setpriv >/dev/null || gn_skip "setpriv missing"
gn_setup
chmod 755 "$T"
cat >"$T/policy.acl" <<EOC
$B4, *, *, *, black, *
*, *, $B4, 8000, black,
@incomplete evaluate
@default reject
EOC
gn_start_collector
gn_start_guard
cat >"$T/stale.py" <<'EOP'
import os, socket, struct, sys, time
mode, b4, a4 = sys.argv[1], sys.argv[2], sys.argv[3]
def u(v):
    if v < 128: return bytes([v])
    if v < 256: return b"\xcc" + bytes([v])
    if v < 65536: return b"\xcd" + struct.pack(">H", v)
    if v < 2**32: return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)
def i(v): return u(v) if v >= 0 else struct.pack("b", v)
def chan(kind, dev, ino): return b"\x93" + u(kind) + u(dev) + u(ino)
def addr(ip, port): return b"\x93" + u(2) + b"\xc4\x04" + socket.inet_aton(ip) + u(port)
def rec(typ, *f): return bytes([0x90 | (3 + len(f))]) + u(1) + u(typ) + u(time.monotonic_ns()) + b"".join(f)
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind((a4, 9000)); L.listen(4)
S = socket.socket()
if mode == "stale":
    r = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r.connect(b"\0hoptrace/rec")
    r.send(rec(7, i(S.fileno()), chan(2, 0, os.fstat(S.fileno()).st_ino), u(1), addr(b4, 8000)))
t0 = time.monotonic()
c, peer = L.accept()
orders = c.recv(100)
S.settimeout(2)
try:
    S.connect((b4, 8000)); res = "connected"
except ConnectionRefusedError: res = "refused"
except OSError as e: res = "error %s" % e
print("%s: got %r from %s, then connect to %s:8000 %.0f ms after the record: %s" %
      (mode, orders, peer[0], b4, (time.monotonic() - t0) * 1000, res), flush=True)
print("RESULT", res)
EOP
chmod 644 "$T/stale.py"
fails=0
for mode in control stale; do
	gn_bg "$BB" "$T/b_$mode.log" python3 -c "import socket,time; time.sleep(0.3); s=socket.create_connection(('$A4',9000)); s.send(b'orders from B'); time.sleep(3)"
	out=$(ip netns exec "$A" setpriv --reuid nobody --regid nogroup --clear-groups /usr/bin/python3 "$T/stale.py" "$mode" "$B4" "$A4" 2>&1)
	echo "$out" | sed 's/^/   /'
	case "$out" in *"RESULT connected"*) echo "FAIL-CASE: $mode: the connection from B's orders got through"; fails=$((fails + 1)) ;; esac
	sleep 0.3
	tail -n 1 "$T/audit.log" | cut -c1-400 | sed 's/^/      audit: /'
done
kill -USR1 "$GUARD_PID"; sleep 0.3; grep -E "packets" "$T/hopguard.log" | tail -1
[ $fails = 0 ] || gn_fail "$fails case(s) accepted on a stale chain"
echo "PASS"
