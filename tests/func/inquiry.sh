#!/bin/sh
# inquiry.sh — the trace inquiry service (docs/inquiry.md) on the testbed:
#   1. ssh h1 -> h2 -> h3: on h2, `hoptrace chain` of the ssh to h3 and `who` of
#      its connection reach the true origin h1 (h1:ssh, h2:sshd…, h2:ssh), complete;
#      the same inquiry in the paper's format;
#   2. hostile and bad inquiries (issue 4, Done when 4; issue 11): malformed JSON
#      400, oversized body 413, no client certificate / another CA's / plain HTTP:
#      refused in the handshake, a fleet certificate not naming the asker 403, an
#      asker that is not the connection's far end 403, unknown connection 404, GET 405;
#   3. a peer that never answers (h4: a listener on 8471 that accepts and never
#      replies): `who` on h2 answers within its deadline, that branch "no answer";
#   4. a loop between h1 and h2 (h1: nc -l 9000 | ssh h2 'nc h1 9000'): cut,
#      "loop", answered in time.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need nc curl
INQ="$TB_PY $TB_LIB/inqtool.py"
H1=10.231.0.1 H2=10.231.0.2 H3=10.231.0.3 H4=10.231.0.4
tb_switch
for h in 1 2 3; do
	tb_host h$h 10.231.0.$h fd00:231::$h
	tb_sshd h$h
	tb_collector h$h
done
tb_host h4 $H4 fd00:231::4
tb_sshd h4          # no collector: a listener that never answers instead
tb_bg h4 $INQ blackhole 8471
tb_wait_port h4 8471 || tb_fail "blackhole on h4"
tb_preload on
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
A=$TB_T/a.json

# conn_of NAME PID DST : "local remote" of PID's established connection to DST:22
conn_of() {
	tb_exec "$1" ss -Htnp state established "( dst $3 and dport = :22 )" 2>/dev/null |
		grep "pid=$2," | awk '{print $3, $4}' | head -n 1
}

tb_log "1. ssh h1 -> h2 -> h3"
tb_bg h1 ssh $H2 "ssh $H3 sleep 120"
p=$(tb_wait_pid h2 "^ssh $H3" 10) || tb_fail "no ssh to h3 on h2"
c=""; i=0
while [ -z "$c" ] && [ $i -lt 50 ]; do c=$(conn_of h2 "$p" $H3); i=$((i + 1)); sleep 0.1; done
[ -n "$c" ] || tb_fail "ssh on h2 did not connect to h3"
set -- $c; L=$1 R=$2
tb_exec h2 "$TB_HOPTRACE" --json chain "$p" >"$A" || bad "hoptrace chain $p"
if tb_assert_chain "$A" --origin h1 --procs 'h1:ssh,h2:sshd+,h2:bash?,h2:ssh' --ordered; then
	ok "chain PID: origin h1"
else bad "chain PID"; cat "$A"; fi
"$TB_PY" - "$A" <<'PY' && ok "chain PID: the h1 chain is complete" || bad "chain PID not complete"
import json, sys
a = json.load(open(sys.argv[1]))
sys.exit(0 if any(c["origin_host"] == "h1" and c["complete"] for c in a["chains"]) else 1)
PY
tb_exec h2 "$TB_HOPTRACE" --json who "$L" "$R" >"$A" || bad "hoptrace who"
cp "$A" "$TB_T/who.json"
tb_assert_chain "$A" --count 1 --origin h1 --procs 'h1:ssh,h2:sshd+,h2:bash?,h2:ssh' --ordered \
	--complete --src "$H1:*" --dst "$H3:22" && ok "who: one complete chain from h1" || { bad "who"; cat "$A"; }
out=$(tb_exec h2 $INQ who "$L" "$R" 1000)
ms=${out%% *}
echo "$out" | grep -q '"origin_host":"h1"' && ok "guard path: who from h1 in $ms ms" || bad "guard path: $out"

# the paper's format: ask h2 (as h3 would) about h2's connection to h3
ans=$(tb_exec h3 $INQ post "https://$H2:8471/v1/trace" "{\"local\":\"$L\",\"remote\":\"$R\",\"format\":\"paper\"}")
echo "$ans" | "$TB_PY" -c '
import json, sys
st, body = sys.stdin.read().split(" ", 1)
a = json.loads(body)
assert st == "200", st
assert a["hostname"] == "h2", a
assert any(t["type"] == "ps" and t["name"].endswith("/ssh") and len(t["sha1sum"]) == 64 for t in a["trace"]), a
assert a["trace"][-1]["type"] == "ip" and a["trace"][-1]["port"] == 22, a
assert len(a["prev"]) == 1 and a["prev"][0]["hostname"] == "h1", a
' && ok "paper format: trace, prev from h1" || bad "paper format: $ans"

tb_log "2. bad and hostile inquiries"
URL=https://$H2:8471/v1/trace
check() { # NAME EXPECTED_STATUS ERROR_SUBSTRING OUTPUT
	st=${4%% *}
	if [ "$st" = "$2" ] && echo "$4" | grep -q "\"ok\":false" && echo "$4" | grep -q "$3"; then
		ok "$1: $st"
	else bad "$1: expected $2 ($3), got: $(echo "$4" | head -c 300)"; fi
}
# refused in the TLS handshake: nothing read, nothing computed
check_tls() { # NAME OUTPUT
	case $2 in "000 "*) ok "$1: refused in the handshake";; *) bad "$1: $(echo "$2" | head -c 300)";; esac
}
check "malformed JSON" 400 "malformed JSON" "$(tb_exec h1 $INQ post $URL '{"local":')"
check "bad endpoint" 400 "local" "$(tb_exec h1 $INQ post $URL '{"local":"1.2.3.4","remote":"1.2.3.5:1"}')"
check "oversized body" 413 "too large" "$(tb_exec h1 $INQ post $URL -70000)"
check_tls "no client certificate" "$(tb_exec h1 $INQ post $URL "{\"local\":\"$R\",\"remote\":\"$L\"}" --nocert)"
"$TB_HOPTRACE" ca init "$TB_T/other" >/dev/null && "$TB_HOPTRACE" ca issue "$TB_T/other" h1 $H1 >/dev/null ||
	tb_fail "another CA"
check_tls "a certificate of another CA" "$(tb_exec h1 $INQ post $URL "{\"local\":\"$R\",\"remote\":\"$L\"}" \
	--cert "$TB_T/other/h1.crt" --key "$TB_T/other/h1.key")"
check "plain HTTP" 000 "" "$(tb_exec h1 curl -s -m 5 -w ' %{http_code}' -d '{}' http://$H2:8471/v1/trace | awk '{st=$NF; $NF=""; print st, "{\"ok\":false}", $0}')"
out=$(tb_exec h1 $INQ post $URL "{\"local\":\"$H2:22\",\"remote\":\"$H1:1\"}" --cert "$(tb_dir h3)/h3.crt" --key "$(tb_dir h3)/h3.key")
case $out in # the front answers 403 and closes (the client may see only the close)
"403 "*|"000 "*) ok "a fleet certificate that does not name the asker: refused (${out%% *})";;
*) bad "a fleet certificate of another host: $(echo "$out" | head -c 300)";;
esac
check "asker not the far end" 403 "far end" "$(tb_exec h1 $INQ post $URL "{\"local\":\"$L\",\"remote\":\"$R\"}")"
check "unknown connection" 404 "no such connection" \
	"$(tb_exec h1 $INQ post $URL "{\"local\":\"$H2:22\",\"remote\":\"$H1:1\"}")"
check "GET" 405 "POST" "$(tb_exec h1 $INQ get $URL)"
tb_exec h2 "$TB_HOPTRACE" status >/dev/null && ok "collector alive after hostile inquiries" || bad "collector died"

tb_log "3. a peer that never answers"
tb_bg h4 ssh h2 "ssh $H3 sleep 120"
p4=""; i=0
while [ $i -lt 100 ]; do
	for q in $(tb_exec h2 ss -Htnp state established "( dst $H3 and dport = :22 )" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p'); do
		[ "$q" != "$p" ] && p4=$q
	done
	[ -n "$p4" ] && break; i=$((i + 1)); sleep 0.1
done
[ -n "$p4" ] || tb_fail "ssh from h4 via h2 did not reach h3"
set -- $(conn_of h2 "$p4" $H3)
out=$(tb_exec h2 $INQ who "$1" "$2" 500)
ms=${out%% *}; body=${out#* }
echo "$body" > "$A"
if "$TB_PY" -c "import sys; sys.exit(0 if float('$ms') < 600 else 1)" &&
	echo "$body" | grep -q '"reason":"no answer"' && tb_assert_chain "$A" --incomplete -q; then
	ok "silent peer: who answered in $ms ms (deadline 500), branch 'no answer', incomplete"
else bad "silent peer: $ms ms: $(echo "$body" | head -c 400)"; fi

tb_log "4. a loop between h1 and h2"
tb_bg h1 sh -c "nc -l 9000 | ssh h2 'nc $H1 9000'"
pl=""; i=0
while [ -z "$pl" ] && [ $i -lt 100 ]; do
	pl=$(tb_exec h2 ss -Htnp state established "( dst $H1 and dport = :9000 )" | sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | head -n 1)
	i=$((i + 1)); sleep 0.1
done
[ -n "$pl" ] || tb_fail "loop: nc on h2 did not connect to h1:9000"
sleep 0.3
set -- $(tb_exec h2 ss -Htn state established "( dst $H1 and dport = :9000 )" | awk '{print $3, $4}' | head -n 1)
out=$(tb_exec h2 $INQ who "$1" "$2" 1000)
ms=${out%% *}; body=${out#* }
echo "$body" >"$A"; cp "$A" "$TB_T/loop_who.json"
if "$TB_PY" -c "import sys; sys.exit(0 if float('$ms') < 1000 else 1)" && echo "$body" | grep -q '"reason":"loop"'; then
	ok "loop: cut ('loop') in $ms ms"
else bad "loop: $ms ms: $(echo "$body" | head -c 600)"; fi
tb_exec h2 "$TB_HOPTRACE" --json chain "$pl" >"$A"
grep -q '"reason":"loop"' "$A" && ok "loop: chain PID cut too" || bad "loop: chain PID: $(head -c 600 "$A")"

[ $fails = 0 ] || tb_fail "$fails checks failed"
echo "all inquiry checks passed"
