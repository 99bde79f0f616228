#!/bin/sh
# inquiry.sh — decision latency of a SYN whose chain spans 1, 2 and 3 upstream
# hosts, mTLS + signed parts against [fleet] lab_plain (plain HTTP, nothing signed
# or checked) in the same run: two chains of ssh sessions side by side on one
# switch, h1 -> h2 -> h3 -> h4 -> h5 (mTLS, 10.231.0.x) and p1 -> … -> p5
# (lab_plain, 10.231.1.x); on the last relay of each depth, the guard's question
# (`who` over the SEQPACKET socket, as hopguard asks it) about the onward ssh
# connection is timed, N times (default 200, INQ_N), the two fleets taking
# turns in rounds of 20 so that both see the same machine load. Prints p50 and
# p99 per depth and fleet, then per depth the ratio mTLS/plain of the p50s and
# of the cost per upstream hop ((p50(depth) - p50(local)) / depth). The first
# question of each series (new keep-alive connections, TLS handshakes) is left
# out: the libcurl multi keeps connections to each peer and shares TLS sessions.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
N=${INQ_N:-200}
tb_switch
for h in 1 2 3 4 5; do
	tb_host h$h 10.231.0.$h
	tb_host p$h 10.231.1.$h
	tb_lab_plain p$h
	# no per-peer rate: the questions come faster than a guard's would
	printf 'rate = 0\n' >>"$(tb_conf h$h)"
	printf 'rate = 0\n' >>"$(tb_conf p$h)"
	tb_sshd h$h
	tb_sshd p$h
	tb_collector h$h
	tb_collector p$h
done
tb_preload on
# the relays' onward connections
tb_bg h1 ssh 10.231.0.2 "ssh 10.231.0.3 'ssh 10.231.0.4 \"ssh 10.231.0.5 sleep 600\"'"
tb_bg p1 ssh 10.231.1.2 "ssh 10.231.1.3 'ssh 10.231.1.4 \"ssh 10.231.1.5 sleep 600\"'"
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
R=$TB_T/bench
mkdir -p "$R"
# measure LABEL HOST LOCAL REMOTE ROUND : ROUND questions (after one warm-up) -> $R/LABEL
measure() {
	tb_exec "$2" "$TB_PY" - "$3" "$4" "$5" "$R/$1" <<'PY'
import json, socket, sys, time
l, r, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect("\0hoptrace/query")
req = json.dumps({"op": "who", "local": l, "remote": r, "deadline_ms": 1000}).encode()
t = []
for i in range(n + 1):
    t0 = time.perf_counter()
    s.send(req)
    a = s.recv(1 << 17)
    dt = (time.perf_counter() - t0) * 1e6
    if i:
        t.append(dt)
    else:
        ans = json.loads(a)
        origins = ",".join(sorted({c["origin_host"] for c in ans.get("chains", [])}))
        complete = all(c["complete"] for c in ans.get("chains", []))
with open(out, "a") as f:
    f.write("# %s%s\n" % (origins, "" if complete else " INCOMPLETE"))
    for x in t:
        f.write("%.1f\n" % x)
PY
}
set -- $(conn h1 10.231.0.2) && H0="$1 $2" || tb_fail "h1 -> h2"
set -- $(conn h2 10.231.0.3) && H1="$1 $2" || tb_fail "h2 -> h3"
set -- $(conn h3 10.231.0.4) && H2="$1 $2" || tb_fail "h3 -> h4"
set -- $(conn h4 10.231.0.5) && H3="$1 $2" || tb_fail "h4 -> h5"
set -- $(conn p1 10.231.1.2) && P0="$1 $2" || tb_fail "p1 -> p2"
set -- $(conn p2 10.231.1.3) && P1="$1 $2" || tb_fail "p2 -> p3"
set -- $(conn p3 10.231.1.4) && P2="$1 $2" || tb_fail "p3 -> p4"
set -- $(conn p4 10.231.1.5) && P3="$1 $2" || tb_fail "p4 -> p5"
ROUND=20
k=0
while [ $k -lt "$N" ]; do
	for d in 0 1 2 3; do
		eval "hc=\"\$H$d\" pc=\"\$P$d\""
		measure "mtls$d" h$((d + 1)) $hc $ROUND
		measure "plain$d" p$((d + 1)) $pc $ROUND
	done
	k=$((k + ROUND))
done
"$TB_PY" - "$R" <<'PY'
import sys, os
R = sys.argv[1]
def load(name):
    v, notes = [], set()
    for line in open(os.path.join(R, name)):
        if line.startswith("#"):
            notes.add(line[1:].strip())
        else:
            v.append(float(line))
    v.sort()
    return v, notes
def p(v, q):
    return v[min(len(v) - 1, int(len(v) * q))]
labels = ["local origin", "1 upstream host", "2 upstream hosts", "3 upstream hosts"]
p50 = {}
for d in range(4):
    for kind in ("mtls", "plain"):
        v, notes = load("%s%d" % (kind, d))
        p50[kind, d] = p(v, 0.5)
        print("%-5s %-18s p50 %8.0f us   p99 %8.0f us   origin %s" % (
            "mTLS" if kind == "mtls" else "plain", labels[d], p(v, 0.5), p(v, 0.99), " ".join(sorted(notes))))
for d in range(1, 4):
    r = p50["mtls", d] / p50["plain", d]
    hm = (p50["mtls", d] - p50["mtls", 0]) / d
    hp = (p50["plain", d] - p50["plain", 0]) / d
    rh = hm / hp if hp > 0 else float("inf")
    print("ratio %d hop(s): p50 mTLS/plain %.2fx; per hop %.0f us vs %.0f us = %.2fx (target <= 1.3x: %s)" % (
        d, r, hm, hp, rh, "MET" if rh <= 1.3 else "NOT MET"))
PY
