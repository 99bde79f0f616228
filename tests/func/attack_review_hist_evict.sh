#!/bin/sh
# attack_review_hist_evict.sh — review of issue 12 (closed local connections,
# docs/chain-model.md): a local TCP client that connected, sent and closed
# before its connection was accepted is linked to the accepted socket only by
# the kernel's connect events (graph_kev.c), kept in a table direct-mapped by
# the socket's inode (ino % 4096), which any SYN_SENT overwrites. As nobody,
# in an ssh session from h4 (the untrusted host), on h2: a relay started from
# h1's session (root, a busy server: it accepts 4 s after it listens) reads
# one line from its client and sends it to h3:9300. nobody's client V
# connects to the relay, sends its line and closes; then (evict case) a
# socket of nobody's whose inode falls in V's slot connect()s to a closed
# port: its SYN_SENT wipes V's entry before the relay's ACCEPT is applied.
# The relay's connection to h3 is fed by h4's session and must show origin h4:
#   plain   no eviction (the link works: h4 is an origin, else the bed is wrong)
#   evict   the same after the eviction
# Prints FAIL-CASE and exits 1 when the evict case has lost origin h4 and
# says the answer complete (origin h4 is found through the graph's own
# closed connections when the client's hold was confirmed; else the answer
# is holders_incomplete, which policy refuses).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need ssh setpriv ss
H2=10.231.0.2 H3=10.231.0.3
tb_switch
for h in 1 2 3 4; do
	tb_host h$h 10.231.0.$h fd00:231::$h
	sed -i "s/^history_window = .*/history_window = 30s/" "$(tb_conf h$h)"
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on
st=$(tb_exec h2 "$TB_HOPTRACE" status)
[ "$(echo "$st" | sed -n 's/^kernel_events\.state: //p')" = on ] ||
	tb_skip "kernel events unavailable on h2: $(echo "$st" | sed -n 's/^kernel_events\.reason: //p')"

tb_bg h3 "$TB_PY" -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9300)); s.listen(8); kept = []
while True: kept.append(s.accept())'
tb_wait_port h3 9300 || tb_fail "no listener on h3:9300"

cat >"$TB_T/relay.py" <<'EOF2'
import os, socket, sys, time
port, dst, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(8)
time.sleep(4)  # busy: its clients wait in the backlog
c, _ = s.accept()
d = c.recv(100)
o = socket.create_connection((dst, 9300)); o.sendall(d)
l = o.getsockname()
with open(out + ".tmp", "w") as f: f.write("%s:%d %s:9300\n" % (l[0], l[1], dst))
os.rename(out + ".tmp", out)
time.sleep(120)
EOF2
cat >"$TB_T/atk.py" <<'EOF2'
import os, socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
V = socket.socket()
slot = os.fstat(V.fileno()).st_ino % 4096
E = None
if mode == "evict":
    for i in range(60000):
        s = socket.socket()
        if os.fstat(s.fileno()).st_ino % 4096 == slot:
            E = s
            break
        s.close()
    if E is None:
        sys.exit("no socket in V's slot")
V.connect(("127.0.0.1", port)); V.sendall(b"x\n"); V.close()
if E is not None:
    time.sleep(0.2)  # V's events applied
    try:
        E.connect(("127.0.0.1", 1))
    except OSError:
        pass
print(mode, "slot", slot, "done", flush=True)
EOF2
chmod 644 "$TB_T/relay.py" "$TB_T/atk.py"

res=0
for case in ${CASES:-plain evict}; do
	port=9210; [ "$case" = evict ] && port=9211
	tb_log "case $case: a relay on h2:$port started from h1's session; nobody's client from h4's session"
	tb_exec h1 ssh -n -o BatchMode=yes root@$H2 \
		"setsid $TB_PY $TB_T/relay.py $port $H3 $TB_T/out-$case </dev/null >/dev/null 2>&1 &" ||
		tb_fail "ssh h1 -> h2 failed"
	tb_wait_port h2 $port || tb_fail "no relay on h2:$port"
	tb_bg h4 sh -c "sleep 60 | ssh -o BatchMode=yes root@$H2 'setpriv --reuid nobody --regid nogroup --clear-groups $TB_PY $TB_T/atk.py $port $case; sleep 60'"
	i=0
	while [ $i -lt 150 ] && [ ! -s "$TB_T/out-$case" ]; do i=$((i + 1)); sleep 0.1; done
	[ -s "$TB_T/out-$case" ] || tb_fail "case $case: the relay made no connection to h3"
	lr=$(cat "$TB_T/out-$case")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $lr --json >"$TB_T/$case.json" || { cat "$TB_T/$case.json"; tb_fail "who failed"; }
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $lr || true
	if "$TB_PY" -c 'import json, sys
a = json.load(open(sys.argv[1]))
sys.exit(0 if any(c.get("origin_host") == "h4" for c in a.get("chains") or []) else 1)' "$TB_T/$case.json"; then
		tb_log "ok: case $case: origin h4 found"
	elif [ "$case" = evict ] && \
		"$TB_PY" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1])).get("holders_incomplete") else 1)' "$TB_T/$case.json"; then
		tb_log "ok: case $case: holders_incomplete (an unknown local client fed the relay: refused by policy)"
	elif [ "$case" = plain ]; then
		tb_fail "case plain: no origin h4 even without the eviction (the bed does not show the link)"
	else
		echo "FAIL-CASE $case: the relay's connection judged without origin h4 (its client's connect events evicted)"
		res=1
	fi
done
exit $res
