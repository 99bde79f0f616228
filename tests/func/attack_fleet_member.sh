#!/bin/sh
# attack_fleet_member — issue 11: only fleet members take part in trace inquiries,
# and no member speaks for another. Chain: ssh h1 -> h2 -> h3; h2's collector is
# asked (the guard's `who`) about h2's connection to h3 and follows the leaf to
# h1:8471. Attackers run unprivileged (setpriv nobody) inside the testbed:
#   1. h1's collector is stopped; a stranger listens on h1:8471 (plain HTTP, a
#      forged "origin h1" answer ready): it gets one ClientHello and nothing else
#      (no request line, no JSON), and the chain ends "peer not in fleet",
#      incomplete — the policy's @incomplete decides;
#   2. the same with a TLS listener whose certificate is of another CA;
#   3. a fake fleet member on h1:8471 holding h1's real TLS certificate (h1's
#      unprivileged side compromised) answers with a forged part: signed with
#      h3's part-signing key (a second compromised member), and signed with h1's
#      TLS key -> "forged part: …", incomplete;
#   4. h1's collector back; 300 half-open and slow connections to h1:8471 from
#      nobody on h2 (the asking collector's own address) and on h3: h2's answer
#      is still complete from h1, and neither h1's monitor nor its child hits
#      EMFILE (the monitor's descriptors do not grow).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/fleetchain.sh"
tb_init "$@"
tb_need setpriv openssl ssh
INQ="$TB_PY $TB_LIB/inqtool.py"
fc_setup 10.231.0

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
# the policy that decides these chains: any chain without nc/socat is allowed,
# an incomplete one is refused (the default, spelled out)
ACL=$TB_T/p.acl
printf '@incomplete reject\n*, *, *, *, black, nc:socat\n' >"$ACL"
# verdict: what the access list decides for $A (accept/reject/drop: why)
verdict() { "$TB_HOPTRACE" policy decide "$ACL" --chain-json "$A" 2>&1; }
ATK=$TB_T/atk
mkdir -p "$ATK" && chmod 0755 "$ATK"
as_nobody() { _n=$1; shift; tb_bg "$_n" setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }

fc_chain
# who_h2 DEADLINE : the guard's question on h2 -> $A (answer), $MS
who_h2() {
	out=$(tb_exec h2 $INQ who "$L" "$R" "$1")
	MS=${out%% *}; echo "${out#* }" >"$A"
}
who_h2 1000
tb_assert_chain "$A" --origin h1 --complete -q && ok "baseline: complete from h1 over mTLS" ||
	{ bad "baseline"; head -c 600 "$A"; }
grep -q '"signed"' "$A" && ok "baseline: h1's part is signed" || bad "baseline: no signed part"
v=$(verdict); case $v in accept:*) ok "baseline: policy accepts ($v)";; *) bad "baseline: policy '$v'";; esac

# the leaf's reason after a follow, for the checks
reason_of() { "$TB_PY" -c '
import json, sys
def walk(n):
    if not isinstance(n, dict): return
    if n.get("type") == "conn" and n.get("remote", "").startswith(sys.argv[2] + ":"):
        print(n.get("reason", "")); sys.exit(0)
    for s in n.get("sources", []): walk(s.get("node"))
walk(json.load(open(sys.argv[1]))["tree"])' "$A" "$1"; }

stop_h1() {
	kill "$(cat "$(tb_dir h1)/hoptraced.pid")" 2>/dev/null
	i=0
	while [ -n "$(tb_exec h1 ss -Hltn 'sport = :8471')" ] && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
}

# ---- 1. a stranger's plain listener -------------------------------------------
cat >"$ATK/stranger.py" <<'PY'
import socket, sys, json, threading
log, mode = sys.argv[1], sys.argv[2]
forged = json.dumps({"ok": True, "host": "h1", "tree": {"type": "proc", "host": "h1", "pid": 1,
    "exe": "/usr/bin/innocent", "sources": [{"via": "local", "node": {"type": "origin", "host": "h1"}}]},
    "chains": [{"origin_host": "h1", "complete": True, "procs": []}]}).encode()
ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
ls.bind(("::", 8471)); ls.listen(16)
if mode == "tls":
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
while True:
    c, _ = ls.accept()
    c.settimeout(2)
    got = b""
    try:
        if mode == "tls":
            c = ctx.wrap_socket(c, server_side=True)
        while len(got) < 65536:
            d = c.recv(65536)
            if not d: break
            got += d
            if mode == "plain": break   # answer after the first flight
    except Exception as e:
        got += ("<%s>" % type(e).__name__).encode()
    try:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(forged), forged))
    except Exception:
        pass
    with open(log, "ab") as f:
        f.write(got.hex().encode() + b"\n")
    c.close()
PY
stop_h1
: >"$ATK/plain.log"; chmod 0666 "$ATK/plain.log"
as_nobody h1 "$TB_PY" "$ATK/stranger.py" "$ATK/plain.log" plain
tb_wait_port h1 8471 || tb_fail "stranger on h1:8471"
tb_log "1. a stranger's plain listener on h1:8471"
who_h2 1000
r=$(reason_of $H1)
[ "$r" = "peer not in fleet" ] && ok "stranger: leaf 'peer not in fleet'" || { bad "stranger: reason '$r'"; head -c 800 "$A"; }
tb_assert_chain "$A" --incomplete -q && ok "stranger: chain incomplete" || bad "stranger: not incomplete"
v=$(verdict); case $v in reject:*incomplete*) ok "stranger: @incomplete decides ($v)";; *) bad "stranger: policy '$v'";; esac
! grep -q '/usr/bin/innocent' "$A" && ok "stranger: its forged answer is not in the answer" || bad "stranger: forged answer believed"
"$TB_PY" - "$ATK/plain.log" <<'PY' && ok "stranger: got one ClientHello, no request" || bad "stranger: got more: $(head -c 300 "$ATK/plain.log")"
import sys
lines = [bytes.fromhex(l.strip()) for l in open(sys.argv[1]) if l.strip()]
assert lines, "nothing"
for b in lines:
    assert b[0] == 0x16 and b[5] == 0x01, b[:8]          # TLS handshake record: ClientHello
    rl = int.from_bytes(b[3:5], "big")
    assert len(b) <= 5 + rl, (len(b), rl)                  # one record, nothing after it
    assert b"POST" not in b and b"trace" not in b and b"local" not in b
PY
kill "$TB_LAST" 2>/dev/null; sleep 0.2

# ---- 2. a TLS listener with another CA's certificate ---------------------------
"$TB_HOPTRACE" ca init "$ATK/other" >/dev/null && "$TB_HOPTRACE" ca issue "$ATK/other" h1 $H1 >/dev/null ||
	tb_fail "another CA"
chmod 0644 "$ATK/other/h1.key"; chmod 0755 "$ATK/other"
: >"$ATK/tls.log"; chmod 0666 "$ATK/tls.log"
as_nobody h1 "$TB_PY" "$ATK/stranger.py" "$ATK/tls.log" tls "$ATK/other/h1.crt" "$ATK/other/h1.key"
tb_wait_port h1 8471 || tb_fail "TLS stranger on h1:8471"
tb_log "2. a TLS listener with a certificate of another CA"
who_h2 1000
r=$(reason_of $H1)
[ "$r" = "peer not in fleet" ] && ok "other CA: leaf 'peer not in fleet'" || { bad "other CA: reason '$r'"; head -c 800 "$A"; }
! grep -q '/usr/bin/innocent' "$A" && ok "other CA: nothing believed" || bad "other CA: forged answer believed"
v=$(verdict); case $v in reject:*incomplete*) ok "other CA: @incomplete decides ($v)";; *) bad "other CA: policy '$v'";; esac
! grep -q 'POST\|local' "$ATK/tls.log" && ok "other CA: no request decrypted" || bad "other CA: it read a request"
kill "$TB_LAST" 2>/dev/null; sleep 0.2

# ---- 3. a fake fleet member forging h1's part -----------------------------------
cp "$(tb_dir h1)/h1.crt" "$(tb_dir h1)/h1.key" "$(tb_dir h3)/h3.sign.crt" "$(tb_dir h3)/h3.sign.key" "$ATK/"
cp "$TB_T/fleet/ca.crt" "$ATK/"
chmod 0644 "$ATK"/*.key
cat >"$ATK/forger.py" <<'PY'
# A fleet member's front (h1's real TLS certificate) that answers every inquiry with
# a part claiming h1's innocent process, signed with KEY/CERT (not h1's signing key).
import base64, json, subprocess, sys, tempfile, time
from fakefront import serve
tls_crt, tls_key, ca, sign_key, sign_crt = sys.argv[1:6]
der = subprocess.run(["openssl", "x509", "-in", sign_crt, "-outform", "DER"], capture_output=True).stdout
def answer(body):
    q = json.loads(body)
    tree = {"type": "proc", "host": "h1", "pid": 1, "exe": "/usr/bin/innocent", "seen": "shim",
            "sources": [{"via": "local", "node": {"type": "origin", "host": "h1"}}]}
    part = json.dumps({"v": 1, "host": "h1", "nonce": q.get("nonce", ""), "ts": int(time.time()),
                       "asked": {"local": q["local"], "remote": q["remote"]}, "tree": tree},
                      separators=(",", ":"))
    with tempfile.NamedTemporaryFile() as f:
        f.write(b"hoptrace-part-v1\0" + part.encode()); f.flush()
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", sign_key, f.name],
                             capture_output=True).stdout
    return json.dumps({"ok": True, "host": "h1", "tree": tree,
                       "chains": [{"origin_host": "h1", "complete": True, "procs": []}],
                       "signed": {"v": 1, "part": part, "sig": base64.b64encode(sig).decode(),
                                  "cert": base64.b64encode(der).decode()}}).encode()
serve(tls_crt, tls_key, ca, answer, "forger")
PY
cp "$TB_LIB/fakefront.py" "$ATK/" && chmod 0644 "$ATK/fakefront.py" || tb_fail "fakefront.py"
for v in "h3's part-signing key:$ATK/h3.sign.key:$ATK/h3.sign.crt" "h1's TLS key:$ATK/h1.key:$ATK/h1.crt"; do
	what=${v%%:*}; rest=${v#*:}; key=${rest%%:*}; crt=${rest#*:}
	tb_log "3. a fake fleet member on h1:8471 forging h1's part with $what"
	as_nobody h1 "$TB_PY" "$ATK/forger.py" "$ATK/h1.crt" "$ATK/h1.key" "$ATK/ca.crt" "$key" "$crt"
	tb_wait_port h1 8471 || tb_fail "forger on h1:8471"
	who_h2 1000
	r=$(reason_of $H1)
	case $r in
	"forged part: "*) ok "forger ($what): leaf '$r'";;
	*) bad "forger ($what): reason '$r'"; head -c 800 "$A";;
	esac
	! grep -q '/usr/bin/innocent' "$A" && ok "forger ($what): its part is not believed" || bad "forger ($what): believed"
	tb_assert_chain "$A" --incomplete -q && ok "forger ($what): chain incomplete" || bad "forger ($what): not incomplete"
	v=$(verdict); case $v in reject:*incomplete*) ok "forger ($what): @incomplete decides ($v)";; *) bad "forger ($what): policy '$v'";; esac
	kill "$TB_LAST" 2>/dev/null; sleep 0.3
done

# ---- 4. half-open and slow connections -----------------------------------------
tb_log "4. 300 half-open/slow connections to h1:8471"
tb_collector h1
tb_wait_port h1 8471 || tb_fail "h1's service back"
who_h2 1000
tb_assert_chain "$A" --origin h1 --complete -q && ok "h1 back: complete" || { bad "h1 back"; head -c 600 "$A"; }
mon=$(cat "$(tb_dir h1)/hoptraced.pid")
fd0=$(ls /proc/$mon/fd | wc -l)
cat >"$ATK/slow.py" <<'PY'
import socket, sys, time
host, n = sys.argv[1], int(sys.argv[2])
held = []
for i in range(n):
    try:
        s = socket.create_connection((host, 8471), timeout=2)
        if i % 2:
            s.send(b"\x16\x03\x01\x02\x00\x01")   # half a ClientHello, never finished
        held.append(s)
    except OSError:
        pass
    if i % 20 == 19:
        time.sleep(0.05)
print("held", len(held), flush=True)
while True:   # and again as the front evicts them
    time.sleep(0.5)
    for k, s in enumerate(held):
        try:
            s.send(b"\x00")
        except OSError:
            try:
                held[k] = socket.create_connection((host, 8471), timeout=2)
            except OSError:
                pass
PY
as_nobody h2 "$TB_PY" "$ATK/slow.py" $H1 150; slow2=$TB_LASTLOG
as_nobody h3 "$TB_PY" "$ATK/slow.py" $H1 150; slow3=$TB_LASTLOG
sleep 2
echo "slow connections: h2 $(cat "$slow2"), h3 $(cat "$slow3"); h1 inquiry port: $(tb_exec h1 ss -Htn state established '( sport = :8471 )' | wc -l) established"
good=0
for k in 1 2 3 4 5 6 7 8 9 10; do
	who_h2 2000
	tb_assert_chain "$A" --origin h1 --complete -q && good=$((good + 1))
	sleep 0.2
done
[ $good = 10 ] && ok "under 300 slow connections: 10/10 answers complete from h1" || bad "under slow connections: $good/10 complete"
fd1=$(ls /proc/$mon/fd | wc -l)
[ "$fd1" -le $((fd0 + 4)) ] && ok "h1's monitor: $fd0 -> $fd1 descriptors" || bad "h1's monitor descriptors $fd0 -> $fd1"
! grep -qi 'EMFILE\|too many open files' "$(tb_dir h1)/hoptraced.log" && ok "no EMFILE in h1's log" ||
	bad "EMFILE in h1's log"
kill -0 "$mon" && ok "h1's monitor alive" || bad "h1's monitor died"

[ $fails = 0 ] || tb_fail "$fails checks failed"
echo "all fleet-member attack checks passed"
