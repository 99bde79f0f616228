#!/bin/sh
# issue 11: no stranger can exhaust a service. hoptrace-policyd on p (mutual TLS, the
# fleet certificate, the front's limits: common/tlsfront.c) is flooded by user nobody
# (setpriv) on host x, which is in the fleet but whose keys nobody cannot read, from 64
# source addresses (enough to fill the total cap with connections that never
# authenticate):
#   300 half-open TCP connections (kept open, re-opened when closed),
#   slow TLS handshakes (a record header, then a byte every 0.5 s),
#   half request heads (plain text to the TLS port),
#   400 "1 MiB" bodies without a certificate (a TLS attempt with no client certificate,
#   then Content-Length: 1048576 and the body in plain text),
# and the same by nobody on h2, a fleet host whose root also asks policyd (same address).
# During the flood: g's hopguard (policy_url at p, keep-alive) decides every probe
# connection with the same verdict as before (x:8000 accepted, x:8001 refused) within
# its policy deadline; a fresh fleet client on h3 (`hoptrace policy ask`, a new TLS
# handshake each time) gets its answer within its deadline; the same on h2, beside its
# attacker, is counted (its new handshakes share h2's per-peer bucket with the attacker:
# printed, not asserted; docs/policy.md); policyd's RSS grows by less than the bound it
# states for unauthenticated connections (printed).
# Then the same flood from x against g's inquiry service (hoptraced's unprivileged child
# on the same front, port 8471): its RSS stays under the same bound, it is not
# restarted, and g's collector answers the CLI throughout.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3 setpriv iptables
[ -x "$TB_HOPGUARD" ] || tb_skip "hopguard not built"
[ -x "$TB_HOPTRACED" ] || tb_skip "hoptraced not built"
[ -x "$TB_POLICYD" ] || tb_skip "hoptrace-policyd not built"
DUR=${FLOOD_SECONDS:-12}
NET=10.234.0
HG=$NET.1 HX=$NET.2 H2=$NET.3 H3=$NET.4 HP=$NET.9
tb_switch
tb_host g $HG
tb_host x $HX
tb_host h2 $H2
tb_host h3 $H3
tb_host p $HP
SRCS=""
for i in $(seq 100 163); do
	ip -n "$(tb_ns x)" addr add $NET.$i/24 dev eth0 || tb_fail "address $NET.$i"
	SRCS="$SRCS${SRCS:+,}$NET.$i"
done
chmod 0755 "$TB_T" "$TB_T/h" 2>/dev/null
PUB=$TB_T/pub
mkdir -p "$PUB" && chmod 0755 "$PUB"

PACL=$(tb_dir p)/policy.acl
cat >"$PACL" <<ACL
# g may reach x:8000 with anything, never x:8001; nothing else from g
$HG, *, $HX, 8000, white, *
$HG, *, $HX, 8001, black, *
ACL
chmod 0644 "$PACL"
tb_policy_server p 8470 "$PACL"
PURL=$TB_POLICY_URL/v1/decide
PD_PID=$(cat "$(tb_dir p)/policyd.pid")
bound=$(sed -n 's/.*unauthenticated connections: at most .* = \([0-9.]*\) MiB.*/\1/p' "$(tb_dir p)/policyd.log" | head -n 1)
[ -n "$bound" ] || { cat "$(tb_dir p)/policyd.log"; tb_fail "policyd states no memory bound"; }
grep -h "unauthenticated connections" "$(tb_dir p)/policyd.log" | head -n 1 | sed 's/^/   /'

for port in 8000 8001; do tb_web x $port; done
tb_collector g
tb_guard g "policy_url=$PURL" policy_timeout_ms=2000 on_policy_error=reject cache_ttl=0

# probes from g: a connect to x:8000 and one to x:8001 every 100 ms
cat >"$PUB/probe.py" <<'EOP'
import socket, sys, time
host, dur = sys.argv[1], float(sys.argv[2])
res = {8000: {}, 8001: {}}
worst = 0.0
end = time.monotonic() + dur
n = 0
while time.monotonic() < end:
    for port in (8000, 8001):
        t0 = time.monotonic()
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect((host, port)); r = "ok"
        except ConnectionRefusedError:
            r = "refused"
        except OSError as e:
            r = "error:" + type(e).__name__
        ms = (time.monotonic() - t0) * 1000
        worst = max(worst, ms)
        s.close()
        res[port][r] = res[port].get(r, 0) + 1
    n += 1
    time.sleep(0.1)
print("rounds %d 8000 %s 8001 %s worst %.0f ms" % (n, res[8000], res[8001], worst), flush=True)
EOP
out=$(tb_exec g python3 "$PUB/probe.py" $HX 1)
echo "   before: $out"
case $out in *"8000 {'ok': "*"8001 {'refused': "*) ;; *) tb_fail "verdicts before the flood: $out" ;; esac

cat >"$PUB/flood.py" <<'EOP'
# the flood: as an unprivileged user, without any fleet key
import errno, os, select, socket, ssl, sys, threading, time
ip, port, dur, ca = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
srcs = sys.argv[5].split(",") if len(sys.argv) > 5 and sys.argv[5] else [""]
nsrc = [0]
def src():
    nsrc[0] += 1
    return (srcs[nsrc[0] % len(srcs)], 0)
end = time.monotonic() + dur
st = {"tcp_opened": 0, "tcp_closed_by_server": 0, "tls_attempts": 0, "tls_refused": 0,
      "tls_ok": 0, "plain_posts": 0, "plain_bytes_sent": 0, "slow_bytes": 0, "heads": 0}
lock = threading.Lock()
def bump(k, n=1):
    with lock: st[k] += n

def pool():
    # half-open TCP (300), slow TLS handshakes (50), half heads (50), refilled
    want = {"open": 300, "slow": 50, "head": 50}
    conns = {}
    def opened(kind):
        s = socket.socket(); s.setblocking(False)
        s.bind(src())
        s.connect_ex((ip, port))
        conns[s] = [kind, 0, time.monotonic()]
        bump("tcp_opened")
    while time.monotonic() < end:
        for kind, n in want.items():
            have = sum(1 for v in conns.values() if v[0] == kind)
            for _ in range(n - have):
                try: opened(kind)
                except OSError: break
        r, w, _ = select.select(list(conns), [s for s, v in conns.items() if v[1] == 0], [], 0.5)
        now = time.monotonic()
        for s in w:
            v = conns.get(s)
            if not v: continue
            try:
                if v[0] == "slow": s.send(b"\x16\x03\x01\x02\x00"); bump("slow_bytes", 5)
                elif v[0] == "head": s.send(b"POST /v1/decide HTTP/1.1\r\nHost: p\r\nContent-Le"); bump("heads")
            except OSError: pass
            v[1] = 1; v[2] = now
        for s in r:
            try: d = s.recv(4096)
            except OSError: d = b""
            if not d:
                conns.pop(s, None); s.close(); bump("tcp_closed_by_server")
        for s, v in list(conns.items()):
            if v[0] == "slow" and v[1] and now - v[2] > 0.5:
                try: s.send(b"\x01"); bump("slow_bytes")
                except OSError: pass
                v[2] = now
    for s in conns: s.close()

def tls_bodies():
    # 400 TLS attempts without a client certificate, each then sending a 1 MiB body
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    body = b"x" * (1 << 20)
    for i in range(400):
        if time.monotonic() > end: break
        bump("tls_attempts")
        try:
            s = socket.create_connection((ip, port), timeout=2, source_address=src())
            t = ctx.wrap_socket(s)
            t.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: p\r\nContent-Length: 1048576\r\n\r\n")
            t.sendall(body)
            t.recv(100)
            bump("tls_ok")
        except (OSError, ssl.SSLError):
            bump("tls_refused")

def plain_bodies():
    body = b"x" * (1 << 20)
    for i in range(400):
        if time.monotonic() > end: break
        try:
            s = socket.create_connection((ip, port), timeout=2, source_address=src())
            s.sendall(b"POST /v1/decide HTTP/1.1\r\nHost: p\r\nContent-Length: 1048576\r\n\r\n")
            bump("plain_posts")
            n = s.send(body)
            bump("plain_bytes_sent", n)
            s.close()
        except OSError:
            pass

th = [threading.Thread(target=f) for f in (pool, tls_bodies, plain_bodies)]
for t in th: t.start()
for t in th: t.join()
print(" ".join("%s=%d" % kv for kv in sorted(st.items())), flush=True)
EOP
printf '{"chains":[{"src":"%s:1","dst":"%s:8000","complete":true,"procs":[{"pid":1,"exe":"/usr/bin/curl"}]}]}' $HG $HX >"$PUB/a.json"
chmod 0644 "$PUB/a.json"
o=$(tb_exec h3 "$TB_HOPTRACE" policy ask "$PURL" --chain-json "$PUB/a.json" --timeout-ms 2000 2>&1)
case $o in accept:*) ;; *) tb_fail "h3 before the flood: $o" ;; esac
cp "$TB_T/fleet/ca.crt" "$PUB/ca.crt" && chmod 0644 "$PUB/ca.crt" "$PUB"/*.py

# RSS of policyd, sampled every 50 ms until told to stop
cat >"$PUB/rss.py" <<'EOP'
import os, sys, time
pid, stop = sys.argv[1], sys.argv[2]
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS:"): return int(l.split()[1])
base = rss(); peak = base
while not os.path.exists(stop):
    peak = max(peak, rss()); time.sleep(0.05)
print("%d %d" % (base, peak), flush=True)
EOP

tb_log "flood for $DUR s: nobody on x and on h2"
python3 "$PUB/rss.py" "$PD_PID" "$TB_T/rss.stop" >"$TB_T/rss.out" &
RSSP=$!
sleep 0.3
tb_exec x setpriv --reuid=nobody --regid=nogroup --clear-groups "$TB_PY" "$PUB/flood.py" $HP 8470 "$DUR" "$PUB/ca.crt" "$SRCS" >"$TB_T/flood-x.out" 2>&1 &
FX=$!
tb_exec h2 setpriv --reuid=nobody --regid=nogroup --clear-groups "$TB_PY" "$PUB/flood.py" $HP 8470 "$DUR" "$PUB/ca.crt" >"$TB_T/flood-h2.out" 2>&1 &
FG=$!
sleep 1
# the guard's decisions and a fresh fleet client during the flood
tb_exec g python3 "$PUB/probe.py" $HX $((DUR - 3)) >"$TB_T/probe.out" 2>&1 &
PR=$!
asks=0 ask_ok=0 ask_worst=0 asks2=0 ask2_ok=0
while kill -0 $PR 2>/dev/null; do
	t0=$(date +%s%N)
	o=$(tb_exec h3 "$TB_HOPTRACE" policy ask "$PURL" --chain-json "$PUB/a.json" --timeout-ms 2000 2>&1)
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	asks=$((asks + 1))
	case $o in accept:*) ask_ok=$((ask_ok + 1)) ;; *) echo "   h3 ask: $o" ;; esac
	[ $ms -gt $ask_worst ] && ask_worst=$ms
	o=$(tb_exec h2 "$TB_HOPTRACE" policy ask "$PURL" --chain-json "$PUB/a.json" --timeout-ms 2000 2>&1)
	asks2=$((asks2 + 1))
	case $o in accept:*) ask2_ok=$((ask2_ok + 1)) ;; esac
	sleep 0.2
done
wait $PR
wait $FX; wait $FG
: >"$TB_T/rss.stop"; wait $RSSP
read base peak <"$TB_T/rss.out"
echo "   flood from x: $(cat "$TB_T/flood-x.out")"
echo "   flood from h2: $(cat "$TB_T/flood-h2.out")"
echo "   during: $(cat "$TB_T/probe.out")"
echo "   h3 fresh client: $ask_ok/$asks answered, worst $ask_worst ms (deadline 2000 ms + process start)"
echo "   h2 fresh client beside its attacker: $ask2_ok/$asks2 answered"
growth=$(( (peak - base) ))
echo "   policyd RSS: $base KiB before, peak $peak KiB: +$growth KiB (stated bound for unauthenticated connections: $bound MiB)"
kill -TERM "$PD_PID"; sleep 0.5
grep -h "front: accepted" "$(tb_dir p)/policyd.log" | sed 's/^/   /'

p=$(cat "$TB_T/probe.out")
case $p in *"8000 {'ok': "*"} 8001 {'refused': "*"} worst"*) ;; *) tb_fail "a verdict changed during the flood: $p" ;; esac
w=$(echo "$p" | sed -n 's/.*worst \([0-9]*\) ms.*/\1/p')
[ "$w" -lt 2500 ] || tb_fail "a decision took $w ms (policy_timeout_ms 2000)"
[ $asks -gt 0 ] && [ $ask_ok = $asks ] || tb_fail "the fresh fleet client was not always answered ($ask_ok/$asks)"
[ $ask_worst -lt 3000 ] || tb_fail "the fresh fleet client waited $ask_worst ms"
python3 - "$growth" "$bound" <<'EOP' || tb_fail "policyd grew beyond its stated bound"
import sys
g, b = int(sys.argv[1]), float(sys.argv[2])
sys.exit(0 if g < b * 1024 else 1)
EOP
grep -q "tcp_opened=" "$TB_T/flood-x.out" || tb_fail "the flood from x did not run"
for f in x h2; do
	grep -q "tls_ok=0" "$TB_T/flood-$f.out" || tb_fail "a TLS handshake without a certificate succeeded ($f)"
done

# ---- the same against the inquiry service (the child of g's hoptraced, tlsfront) ----
tb_wait_port g 8471 || tb_fail "g's inquiry service does not listen"
CPID=$(pgrep -P "$(cat "$(tb_dir g)/hoptraced.pid")" | head -n 1)
[ -n "$CPID" ] || tb_fail "no inquiry child on g"
tb_log "flood for $DUR s: nobody on x against g's inquiry service (child pid $CPID)"
rm -f "$TB_T/rss.stop"
python3 "$PUB/rss.py" "$CPID" "$TB_T/rss.stop" >"$TB_T/rss2.out" &
RSSP=$!
sleep 0.3
tb_exec x setpriv --reuid=nobody --regid=nogroup --clear-groups "$TB_PY" "$PUB/flood.py" $HG 8471 "$DUR" "$PUB/ca.crt" "$SRCS" >"$TB_T/flood-x2.out" 2>&1 &
FX=$!
sleep 1
st=0 st_ok=0 st_worst=0
while kill -0 $FX 2>/dev/null; do
	t0=$(date +%s%N)
	tb_exec g "$TB_HOPTRACE" status >/dev/null 2>&1 && st_ok=$((st_ok + 1))
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	st=$((st + 1))
	[ $ms -gt $st_worst ] && st_worst=$ms
	sleep 0.3
done
wait $FX
: >"$TB_T/rss.stop"; wait $RSSP
read base peak <"$TB_T/rss2.out"
echo "   flood from x: $(cat "$TB_T/flood-x2.out")"
echo "   g's collector: $st_ok/$st status answers, worst $st_worst ms"
echo "   inquiry child RSS: $base KiB before, peak $peak KiB: +$((peak - base)) KiB (bound $bound MiB)"
[ "$(pgrep -P "$(cat "$(tb_dir g)/hoptraced.pid")" | head -n 1)" = "$CPID" ] ||
	tb_fail "the inquiry child was restarted during the flood"
[ $st_ok = $st ] && [ $st -gt 0 ] || tb_fail "g's collector did not always answer ($st_ok/$st)"
python3 - "$((peak - base))" "$bound" <<'EOP' || tb_fail "the inquiry child grew beyond the bound"
import sys
sys.exit(0 if int(sys.argv[1]) < float(sys.argv[2]) * 1024 else 1)
EOP
grep -q "tls_ok=0" "$TB_T/flood-x2.out" || tb_fail "a TLS handshake without a certificate succeeded (inquiry)"
echo "PASS"
