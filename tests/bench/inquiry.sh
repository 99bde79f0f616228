#!/bin/sh
# inquiry.sh — decision latency of a SYN whose chain spans 1, 2 and 3 upstream
# hosts: a chain of ssh sessions h1 -> h2 -> h3 -> h4 -> h5; on the last relay
# of each depth, the guard's question (`who` over the SEQPACKET socket, as
# hopguard asks it) about the onward ssh connection is timed, N times (default
# 200, INQ_N). Prints p50 and p99 per depth; the first question of each run
# (new keep-alive connections) is left out. Local origin (0 hosts) for scale.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
N=${INQ_N:-200}
INQ="$TB_PY $TB_LIB/inqtool.py"
tb_switch
for h in 1 2 3 4 5; do
	tb_host h$h 10.231.0.$h
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on
# h1: ssh h2 -> ssh h3 -> ssh h4 -> ssh h5 ; each relay's onward connection
tb_bg h1 ssh 10.231.0.2 "ssh 10.231.0.3 'ssh 10.231.0.4 \"ssh 10.231.0.5 sleep 300\"'"
# conn NAME DST : local remote of NAME's established ssh connection to DST:22
conn() {
	_i=0
	while [ $_i -lt 100 ]; do
		_c=$(tb_exec "$1" ss -Htn state established "( dst $2 and dport = :22 )" | awk '{print $3, $4}' | head -n 1)
		[ -n "$_c" ] && { echo "$_c"; return 0; }
		_i=$((_i + 1)); sleep 0.1
	done
	return 1
}
measure() { # LABEL HOST LOCAL REMOTE
	tb_exec "$2" "$TB_PY" - "$3" "$4" "$N" "$1" <<'PY'
import json, socket, sys, time
l, r, n, label = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("\0hoptrace/query")
req = json.dumps({"op": "who", "local": l, "remote": r, "deadline_ms": 1000}).encode()
t = []
origins = set()
for i in range(n + 1):
    t0 = time.perf_counter()
    s.send(req)
    a = s.recv(1 << 17)
    dt = (time.perf_counter() - t0) * 1e6
    if i:
        t.append(dt)
    else:
        ans = json.loads(a)
        origins = {c["origin_host"] for c in ans.get("chains", [])}
        complete = all(c["complete"] for c in ans.get("chains", []))
t.sort()
print("%-28s p50 %8.0f us   p99 %8.0f us   origin %s%s" % (label, t[len(t) // 2],
      t[min(len(t) - 1, int(len(t) * 0.99))], ",".join(sorted(origins)),
      "" if complete else " (INCOMPLETE)"))
PY
}
set -- $(conn h1 10.231.0.2) || tb_fail "h1 -> h2"
measure "local origin (h1)" h1 "$1" "$2"
set -- $(conn h2 10.231.0.3) || tb_fail "h2 -> h3"
measure "1 upstream host (on h2)" h2 "$1" "$2"
set -- $(conn h3 10.231.0.4) || tb_fail "h3 -> h4"
measure "2 upstream hosts (on h3)" h3 "$1" "$2"
set -- $(conn h4 10.231.0.5) || tb_fail "h4 -> h5"
measure "3 upstream hosts (on h4)" h4 "$1" "$2"
