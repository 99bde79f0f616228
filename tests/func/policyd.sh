#!/bin/sh
# tests/func/policyd.sh — hoptrace-policyd in its own network namespace over mutual
# TLS (a fleet CA made by `hoptrace ca init/issue`), asked with curl: accept/reject/drop
# answers; refused: no client certificate, another CA's, one not naming the address the
# client speaks from (403), a server certificate not naming the URL's address; 400
# malformed, 413 oversized (before the body), 405 GET, 404; the shared secret refused,
# root without [policyd] user refused, the drop to that user; SIGHUP reload (a bad file
# keeps the old policy), and the guard's client (hoptrace policy ask →
# policy_remote_decide) against it; lab_plain.
set -u
: "${HT_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BUILD:=build}"
PD=${POLICYD:-$HT_TOP/$BUILD/hoptrace-policyd}
HT=${HOPTRACE:-$HT_TOP/$BUILD/hoptrace}
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)"; exit 77; }
[ -x "$PD" ] || { echo "hoptrace-policyd not built ($PD)"; exit 77; }
command -v curl >/dev/null || { echo "curl missing"; exit 77; }

NS=htpd$$
T=$(mktemp -d /tmp/policyd-test.XXXXXX)
PID=""
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	sleep 0.2
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; [ -f "$T/pd.log" ] && tail -n 20 "$T/pd.log"; exit 1; }
ok() { echo "ok   $*"; }

ip netns add "$NS" || fail "ip netns add"
ip -n "$NS" link set lo up || fail "lo up"
inns() { ip netns exec "$NS" "$@"; }

[ -x "$HT" ] || { echo "hoptrace not built ($HT)"; exit 77; }
URL=https://127.0.0.1:8470/v1/decide
F=$T/fleet
"$HT" ca init "$F" >/dev/null || fail "ca init"
"$HT" ca issue "$F" pd 127.0.0.1 ::1 >/dev/null || fail "ca issue pd"
"$HT" ca issue "$F" cl 127.0.0.1 >/dev/null || fail "ca issue cl"
"$HT" ca issue "$F" far 10.9.9.9 >/dev/null || fail "ca issue far"
"$HT" ca issue "$F" wrongsrv 127.0.0.2 >/dev/null || fail "ca issue wrongsrv"
"$HT" ca init "$T/other" >/dev/null && "$HT" ca issue "$T/other" cl 127.0.0.1 >/dev/null ||
	fail "other CA"
mkdir -p "$T/empty"
chmod 0755 "$T"   # policyd reads the policy as nobody after SIGHUP
cat >"$T/p.acl" <<'ACL'
# h1 may ssh to h3, never with nc; curl to h3:8000 is dropped silently
10.0.0.1, *, 10.0.0.3, 22, black, nc
10.0.0.1, *, 10.0.0.3, 8000, white, ssh:sshd:bash, drop
ACL
chmod 0644 "$T/p.acl"
fleetconf() { # NAME(host cert)
	printf '[fleet]\nca = %s/ca.crt\ncert = %s/%s.crt\nkey = %s/%s.key\ncrl = %s/crl.pem\n' \
		"$F" "$F" "$1" "$F" "$1" "$F"
}
cat >"$T/c.conf" <<CONF
[policyd]
listen = https://[::]:8470
policy = $T/p.acl
max_body = 8192
user = nobody
CONF
fleetconf pd >>"$T/c.conf"
fleetconf cl >"$T/client.conf"

# the shared secret is gone; root needs a user to drop to
sed 's#^user = nobody#secret = x#' "$T/c.conf" >"$T/secret.conf"
out=$("$PD" -n -f "$T/secret.conf" 2>&1) && fail "policyd accepted a secret"
echo "$out" | grep -q "shared secret is gone" || fail "secret: no reason ($out)"
sed '/^user = /d' "$T/c.conf" >"$T/root.conf"
out=$(timeout 5 "$PD" -d -f "$T/root.conf" 2>&1) && fail "policyd ran as root without a user"
echo "$out" | grep -q "refusing to run as root" || fail "root: no reason ($out)"
sed 's#^listen = https#listen = http#' "$T/c.conf" >"$T/plain.conf"
out=$("$PD" -n -f "$T/plain.conf" 2>&1) && fail "policyd accepted http:// without lab_plain"
ok "secret, root without user, http without lab_plain refused"

out=$("$PD" -n -f "$T/c.conf") || fail "policyd -n refused a good config"
echo "$out" | grep -q "fleet certificate OK" || fail "policyd -n: $out"
echo "$out" | grep "unauthenticated connections" | sed 's/^/   /'
sed "s#/pd.key#/cl.key#" "$T/c.conf" >"$T/badkey.conf"
out=$("$PD" -n -f "$T/badkey.conf" 2>&1) && fail "policyd -n accepted a key of another certificate"
echo "$out" | grep -q "does not match" || fail "policyd -n bad key: $out"
printf 'bogus line\n' >"$T/bad.acl"
sed "s#$T/p.acl#$T/bad.acl#" "$T/c.conf" >"$T/bad.conf"
out=$("$PD" -n -f "$T/bad.conf" 2>&1) && fail "policyd -n accepted a bad policy"
echo "$out" | grep -q "bad.acl:1: expected 6 or 7" || fail "policyd -n: no file:line ($out)"
ok "policyd -n"

ip netns exec "$NS" "$PD" -d -v -f "$T/c.conf" 2>"$T/pd.log" &
PID=$!
i=0
until inns ss -Hltn "sport = :8470" | grep -q .; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "policyd did not start"; sleep 0.1
done

chain() { # exe dport
	printf '{"ok":true,"host":"h3","chains":[{"origin_host":"h1","src":"10.0.0.1:40000","dst":"10.0.0.3:%s","complete":true,"fallback":false,"procs":[{"host":"h1","pid":10,"exe":"/usr/bin/ssh","sha256":""},{"host":"h2","pid":20,"exe":"/usr/sbin/sshd","sha256":""},{"host":"h2","pid":21,"exe":"/usr/bin/bash","sha256":""},{"host":"h2","pid":22,"exe":"%s","sha256":""}]}]}' "$2" "$1"
}
TLS="--cacert $F/ca.crt --capath $T/empty --tlsv1.2"
mcurl() { # [curl args] : as fleet host cl (or CERT=name, CADIR=dir)
	_cd=${CADIR:-$F} _c=${CERT:-cl}
	if [ "$_c" = - ]; then
		inns curl -s -m 5 $TLS "$@"
	else
		inns curl -s -m 5 $TLS --cert "$_cd/$_c.crt" --key "$_cd/$_c.key" "$@"
	fi
}
ask() { # body -> "BODY CODE"
	mcurl -w ' %{http_code}' -H 'Content-Type: application/json' --data-binary "$1" "$URL"
}
expect() { # what got want-substring...
	w=$1; g=$2; shift 2
	for s in "$@"; do
		case $g in *"$s"*) ;; *) fail "$w: got '$g', expected '$s'" ;; esac
	done
	ok "$w"
}

expect "accept ssh" "$(ask "$(chain /usr/bin/ssh 22)")" '"verdict":"accept"' 'p.acl:2' ' 200'
expect "reject nc via nc.openbsd" "$(ask "$(chain /usr/bin/nc.openbsd 22)")" \
	'"verdict":"reject"' 'nc.openbsd in black list' ' 200'
expect "drop curl (white list)" "$(ask "$(chain /usr/bin/curl 8000)")" \
	'"verdict":"drop"' 'curl not in white list' ' 200'
expect "no matching rule" "$(ask "$(chain /usr/bin/ssh 23)")" '"verdict":"reject"' 'no matching rule'
expect "bare chains object" "$(ask '{"chains":[{"src":"10.0.0.1:1","dst":"10.0.0.3:22","complete":true,"procs":[{"pid":1,"exe":"/usr/bin/ssh"}]}]}')" \
	'"verdict":"accept"'
out=$(CERT=- mcurl -w ' %{http_code}' --data-binary '{}' "$URL" 2>&1); rc=$?
[ $rc = 0 ] && fail "no client certificate: answered ($out)"
ok "no client certificate: TLS refused (curl $rc)"
out=$(CADIR=$T/other mcurl -w ' %{http_code}' --data-binary '{}' "$URL" 2>&1); rc=$?
[ $rc = 0 ] && fail "another CA's client: answered ($out)"
ok "another CA's client: TLS refused (curl $rc)"
expect "403 certificate not naming the client's address" \
	"$(CERT=far mcurl -w ' %{http_code}' --data-binary '{}' "$URL")" ' 403' 'forbidden'
expect "400 malformed" "$(ask '{"chains": [')" ' 400' 'malformed JSON'
expect "400 bad chain" "$(ask '{"chains": 3}')" ' 400' 'bad chain answer'
head -c 20000 /dev/zero | tr '\0' 'x' >"$T/big"
expect "413 oversized" "$(mcurl -w ' %{http_code}' --data-binary @"$T/big" "$URL")" ' 413' 'too large'
expect "405 GET" "$(mcurl -w ' %{http_code}' -D - "$URL")" ' 405' 'Allow: POST'
expect "404 other path" "$(mcurl -o /dev/null -w '%{http_code}' -X POST https://127.0.0.1:8470/x)" '404'
expect "411 chunked" "$(mcurl -w ' %{http_code}' -H 'Transfer-Encoding: chunked' --data-binary '{}' "$URL")" ' 411'
ps -o user= -p "$(pgrep -P $PID 2>/dev/null || echo $PID)" | grep -q nobody ||
	[ "$(ps -o user= -p $PID)" = nobody ] || fail "policyd does not run as nobody ($(ps -o user= -p $PID))"
ok "policyd runs as nobody"
# still serving after all that
expect "alive" "$(ask "$(chain /usr/bin/ssh 22)")" '"verdict":"accept"'

# SIGHUP: a bad file is refused and the old policy stays
cp "$T/p.acl" "$T/p.good"
printf '10.0.0.1, *, 10.0.0.3, 99999, black,\n*, *, *, *, grey,\n' >"$T/p.acl"
kill -HUP $PID; sleep 0.5
grep -q "p.acl:1: destination port out of range" "$T/pd.log" || fail "reload errors not logged with file:line"
grep -q "p.acl:2: unknown list type" "$T/pd.log" || fail "second bad line not logged"
grep -q "reload refused" "$T/pd.log" || fail "no 'reload refused'"
expect "bad reload keeps old policy" "$(ask "$(chain /usr/bin/nc.openbsd 22)")" '"verdict":"reject"' 'black list'
printf '*, *, *, *, white, *\n' >"$T/p.acl"
kill -HUP $PID; sleep 0.5
expect "good reload applies" "$(ask "$(chain /usr/bin/nc.openbsd 22)")" '"verdict":"accept"' 'p.acl:1'
cp "$T/p.good" "$T/p.acl"; kill -HUP $PID; sleep 0.5

# the guard's client (policy_remote_decide) through `hoptrace policy ask`
chain /usr/bin/nc.openbsd 22 >"$T/a.json"
out=$(inns "$HT" policy ask "$URL" --chain-json "$T/a.json" --conf "$T/client.conf")
[ $? = 2 ] || fail "policy ask: exit status ($out)"
expect "client: reject" "$out" 'reject: process nc.openbsd in black list'
inns "$HT" policy ask "$URL" --chain-json "$T/a.json" --secret x >/dev/null 2>"$T/err" &&
	fail "client accepted --secret"
expect "client: --secret refused" "$(cat "$T/err")" 'secret is gone'
# a server whose certificate does not name the address dialled (127.0.0.2)
inns "$HT" policy ask "https://127.0.0.2:8470/v1/decide" --chain-json "$T/a.json" \
	--conf "$T/client.conf" >/dev/null 2>"$T/err" && fail "client: wrong server answered"
expect "client: server not naming the URL's address refused" "$(cat "$T/err")" 'not in fleet'
fleetconf cl | sed "s#$F/ca.crt#$T/other/ca.crt#" >"$T/otherca.conf"
inns "$HT" policy ask "$URL" --chain-json "$T/a.json" --conf "$T/otherca.conf" \
	>/dev/null 2>"$T/err" && fail "client: server of another CA answered"
expect "client: server of another CA refused" "$(cat "$T/err")" 'not in fleet'
inns "$HT" policy ask "http://127.0.0.1:8470/v1/decide" --chain-json "$T/a.json" \
	--conf "$T/client.conf" >/dev/null 2>"$T/err" && fail "client: http:// without lab_plain"
expect "client: http:// refused without lab_plain" "$(cat "$T/err")" 'lab_plain'
kill $PID; wait $PID 2>/dev/null; PID=""
grep "front: accepted" "$T/pd.log" | sed 's/^/   /'
inns "$HT" policy ask "$URL" --chain-json "$T/a.json" --conf "$T/client.conf" --timeout-ms 300 \
	>/dev/null 2>"$T/err" && fail "client: unreachable server answered"
expect "client: unreachable is an error" "$(cat "$T/err")" 'policy server'

# lab_plain: plain HTTP, no identity, logged loudly
{ sed 's#^listen = https#listen = http#' "$T/c.conf"; echo "lab_plain = yes"; } >"$T/lab.conf"
ip netns exec "$NS" "$PD" -d -f "$T/lab.conf" 2>"$T/pd.log" &
PID=$!
i=0
until inns ss -Hltn "sport = :8470" | grep -q .; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "policyd (lab_plain) did not start"; sleep 0.1
done
grep -q "LAB_PLAIN" "$T/pd.log" || fail "lab_plain not logged loudly"
expect "lab_plain: answered without identity" "$(inns curl -s -m 5 -w ' %{http_code}' \
	--data-binary "$(chain /usr/bin/ssh 22)" http://127.0.0.1:8470/v1/decide)" '"verdict":"accept"' ' 200'
{ fleetconf cl; echo "lab_plain = yes"; } >"$T/labclient.conf"
out=$(inns "$HT" policy ask "http://127.0.0.1:8470/v1/decide" --chain-json "$T/a.json" \
	--conf "$T/labclient.conf")
expect "lab_plain: client" "$out" 'reject: process nc.openbsd in black list'
echo "policyd: all checks passed"
