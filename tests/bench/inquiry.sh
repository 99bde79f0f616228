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
# INQ_BASE=PATH (another build's hoptraced) adds a third chain b1 -> … -> b5
# (10.231.2.x, mTLS + signed parts) run by that binary, taking its turns in the
# same rounds, and prints per depth the cost per hop of this build's mTLS against
# the base's and against plain: a change's effect as a ratio measured in one run.
# Also per depth: the CPU time per question of all the fleet's hoptraced processes
# (every thread's schedstat), per hop.
# INQ_RELAY=tcp: the relays are one process each (tests/bench/relay.py: accept, connect
# onward, hold both) instead of ssh sessions: no sshd, pipe and onward ssh for each
# relay host's walk (since the kernel event pass ≈ 0.3 ms a hop here, before it the
# pipe-holder search's 1.5-3 ms; the same in every fleet), so what is left is the
# inquiry path itself. Every ratio line names its relays
# and says MET / NOT MET against 1.3x per hop; `make bench` runs both.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
N=${INQ_N:-200}
BASE=${INQ_BASE:-}
RELAY=${INQ_RELAY:-ssh}
case $RELAY in
ssh) PORT=22 ;;
tcp) PORT=2000 ;;
*) tb_fail "INQ_RELAY=$RELAY: ssh or tcp" ;;
esac
[ -z "$BASE" ] || [ -x "$BASE" ] || tb_fail "INQ_BASE=$BASE: not an executable"
FLEETS="h p"
[ -n "$BASE" ] && FLEETS="h p b"
tb_switch
for h in 1 2 3 4 5; do
	tb_host h$h 10.231.0.$h
	tb_host p$h 10.231.1.$h
	tb_lab_plain p$h
	[ -n "$BASE" ] && tb_host b$h 10.231.2.$h
	for f in $FLEETS; do
		# no per-peer rate: the questions come faster than a guard's would
		printf 'rate = 0\n' >>"$(tb_conf $f$h)"
		[ "$RELAY" = ssh ] && tb_sshd $f$h
	done
	tb_collector h$h
	tb_collector p$h
	if [ -n "$BASE" ]; then
		_own=$TB_HOPTRACED
		TB_HOPTRACED=$BASE
		tb_collector b$h
		TB_HOPTRACED=$_own
	fi
done
tb_preload on
# the relays' onward connections
if [ "$RELAY" = ssh ]; then
	tb_bg h1 ssh 10.231.0.2 "ssh 10.231.0.3 'ssh 10.231.0.4 \"ssh 10.231.0.5 sleep 600\"'"
	tb_bg p1 ssh 10.231.1.2 "ssh 10.231.1.3 'ssh 10.231.1.4 \"ssh 10.231.1.5 sleep 600\"'"
	[ -n "$BASE" ] && tb_bg b1 ssh 10.231.2.2 "ssh 10.231.2.3 'ssh 10.231.2.4 \"ssh 10.231.2.5 sleep 600\"'"
else
	RP="$HT_TOP/tests/bench/relay.py"
	for f in $FLEETS; do
		case $f in h) n=0 ;; p) n=1 ;; b) n=2 ;; esac
		tb_bg ${f}5 "$TB_PY" "$RP" listen $PORT
		tb_wait_port ${f}5 $PORT || tb_fail "${f}5 listener"
		for h in 4 3 2; do
			tb_bg $f$h "$TB_PY" "$RP" relay $PORT 10.231.$n.$((h + 1))
			tb_wait_port $f$h $PORT || tb_fail "$f$h relay"
		done
		tb_bg ${f}1 "$TB_PY" "$RP" client $PORT 10.231.$n.2
	done
fi
# conn NAME DST : local remote of NAME's established ssh connection to DST:22
conn() {
	_i=0
	while [ $_i -lt 100 ]; do
		_c=$(tb_exec "$1" ss -Htn state established "( dst $2 and dport = :$PORT )" | awk '{print $3, $4}' | head -n 1)
		[ -n "$_c" ] && { echo "$_c"; return 0; }
		_i=$((_i + 1)); sleep 0.1
	done
	return 1
}
R=$TB_T/bench
mkdir -p "$R"
# fleet_cpu F : CPU time (ns, every thread's schedstat) of all hoptraced processes of
# fleet F's five hosts — monitors, inquiry children and judges: the work a question
# costs, less noisy than its latency on a shared machine
fleet_cpu() {
	_p=""
	for _h in 1 2 3 4 5; do
		for _q in $(ip netns pids "$(tb_ns "$1$_h")" 2>/dev/null); do
			case $(readlink "/proc/$_q/exe" 2>/dev/null) in
			*/hoptraced | "$BASE") _p="$_p /proc/$_q/task/*/schedstat" ;;
			esac
		done
	done
	# shellcheck disable=SC2086
	cat $_p 2>/dev/null | awk '{s += $1} END {printf "%.0f\n", s}'
}
# measure LABEL HOST LOCAL REMOTE ROUND : ROUND questions (after one warm-up) -> $R/LABEL
measure() {
	_c0=$(fleet_cpu "$(echo "$2" | cut -c1)")
	_measure "$@"
	_c1=$(fleet_cpu "$(echo "$2" | cut -c1)")
	echo "$_c0 $_c1 $(($5 + 1))" >>"$R/$1.cpu"
}
_measure() {
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
if [ -n "$BASE" ]; then
	set -- $(conn b1 10.231.2.2) && B0="$1 $2" || tb_fail "b1 -> b2"
	set -- $(conn b2 10.231.2.3) && B1="$1 $2" || tb_fail "b2 -> b3"
	set -- $(conn b3 10.231.2.4) && B2="$1 $2" || tb_fail "b3 -> b4"
	set -- $(conn b4 10.231.2.5) && B3="$1 $2" || tb_fail "b4 -> b5"
fi
ROUND=20
k=0
while [ $k -lt "$N" ]; do
	for d in 0 1 2 3; do
		eval "hc=\"\$H$d\" pc=\"\$P$d\""
		measure "mtls$d" h$((d + 1)) $hc $ROUND
		measure "plain$d" p$((d + 1)) $pc $ROUND
		if [ -n "$BASE" ]; then
			eval "bc=\"\$B$d\""
			measure "base$d" b$((d + 1)) $bc $ROUND
		fi
	done
	k=$((k + ROUND))
done
"$TB_PY" - "$R" "$BASE" "$RELAY" <<'PY'
import sys, os
R, base, relay = sys.argv[1], sys.argv[2], sys.argv[3]
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
def cpu(name):
    """CPU µs per question of the fleet's hoptraced processes (median of the rounds)"""
    v = []
    for line in open(os.path.join(R, name + ".cpu")):
        a, b, n = line.split()
        v.append((float(b) - float(a)) / 1e3 / float(n))
    v.sort()
    return v[len(v) // 2]
labels = ["local origin", "1 upstream host", "2 upstream hosts", "3 upstream hosts"]
p50 = {}
kinds = ("mtls", "plain", "base") if base else ("mtls", "plain")
names = {"mtls": "mTLS", "plain": "plain", "base": "base"}
for d in range(4):
    for kind in kinds:
        v, notes = load("%s%d" % (kind, d))
        p50[kind, d] = p(v, 0.5)
        print("%-5s %-18s p50 %8.0f us   p99 %8.0f us   origin %s" % (
            names[kind], labels[d], p(v, 0.5), p(v, 0.99), " ".join(sorted(notes))))
for d in range(1, 4):
    r = p50["mtls", d] / p50["plain", d]
    hm = (p50["mtls", d] - p50["mtls", 0]) / d
    hp = (p50["plain", d] - p50["plain", 0]) / d
    rh = hm / hp if hp > 0 else float("inf")
    print("ratio %d hop(s), %s relays: p50 mTLS/plain %.2fx; per hop %.0f us vs %.0f us = %.2fx (target <= 1.3x: %s); mTLS adds %.0f us per hop" % (
        d, relay, r, hm, hp, rh, "MET" if rh <= 1.3 else "NOT MET", hm - hp))
    cm = (cpu("mtls%d" % d) - cpu("mtls0")) / d
    cp = (cpu("plain%d" % d) - cpu("plain0")) / d
    print("cpu   %d hop(s), %s relays: all hosts' hoptraced, per hop: mTLS %.0f us, plain %.0f us = %.2fx; mTLS adds %.0f us" % (
        d, relay, cm, cp, cm / cp if cp > 0 else float("inf"), cm - cp))
    if base:
        cb = (cpu("base%d" % d) - cpu("base0")) / d
        print("cpu   %d hop(s): the base's mTLS %.0f us per hop, adds %.0f us (this build: %.0f)" % (
            d, cb, cb - cp, cm - cp))
        hb = (p50["base", d] - p50["base", 0]) / d
        print("base  %d hop(s): per hop this build %.0f us, base %.0f us = %.2fx; the base's mTLS adds %.0f us per hop (this build's: %.0f), base/plain %.2fx" % (
            d, hm, hb, hm / hb if hb > 0 else float("inf"), hb - hp, hm - hp, hb / hp if hp > 0 else float("inf")))
if relay == "ssh":
    print("note: ssh relays: each relay host's own walk (sshd, its pipe, the onward ssh) is in both fleets' hop and dilutes the ratio; the inquiry path's own verdict is INQ_RELAY=tcp's")
PY
