#!/bin/sh
# tests/func/policyd.sh — hoptrace-policyd in its own network namespace, asked
# with curl: accept/reject/drop answers, 401 wrong secret, 400 malformed, 413
# oversized, 405 GET, SIGHUP reload (a bad file keeps the old policy), and the
# guard's client (hoptrace policy ask → policy_remote_decide) against it.
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

URL=http://127.0.0.1:8470/v1/decide
SECRET=func-test-secret-$$
printf '%s\n' "$SECRET" >"$T/secret"
cat >"$T/p.acl" <<'ACL'
# h1 may ssh to h3, never with nc; curl to h3:8000 is dropped silently
10.0.0.1, *, 10.0.0.3, 22, black, nc
10.0.0.1, *, 10.0.0.3, 8000, white, ssh:sshd:bash, drop
ACL
cat >"$T/c.conf" <<CONF
[policyd]
listen = http://127.0.0.1:8470
policy = $T/p.acl
secret_file = $T/secret
max_body = 8192
CONF

"$PD" -n -f "$T/c.conf" || fail "policyd -n refused a good config"
printf 'bogus line\n' >"$T/bad.acl"
sed "s#$T/p.acl#$T/bad.acl#" "$T/c.conf" >"$T/bad.conf"
out=$("$PD" -n -f "$T/bad.conf" 2>&1) && fail "policyd -n accepted a bad policy"
echo "$out" | grep -q "bad.acl:1: expected 6 or 7" || fail "policyd -n: no file:line ($out)"
ok "policyd -n"

ip netns exec "$NS" "$PD" -d -v -f "$T/c.conf" 2>"$T/pd.log" &
PID=$!
i=0
until inns curl -s -o /dev/null "$URL" 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 50 ] && fail "policyd did not start"; sleep 0.1
done

chain() { # exe dport
	printf '{"ok":true,"host":"h3","chains":[{"origin_host":"h1","src":"10.0.0.1:40000","dst":"10.0.0.3:%s","complete":true,"fallback":false,"procs":[{"host":"h1","pid":10,"exe":"/usr/bin/ssh","sha256":""},{"host":"h2","pid":20,"exe":"/usr/sbin/sshd","sha256":""},{"host":"h2","pid":21,"exe":"/usr/bin/bash","sha256":""},{"host":"h2","pid":22,"exe":"%s","sha256":""}]}]}' "$2" "$1"
}
ask() { # body [secret] -> "CODE BODY"
	inns curl -s -m 5 -w ' %{http_code}' -H "Authorization: Bearer ${2:-$SECRET}" \
		-H 'Content-Type: application/json' --data-binary "$1" "$URL"
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
expect "401 wrong secret" "$(ask "$(chain /usr/bin/ssh 22)" wrong)" ' 401' 'secret'
expect "401 no secret" "$(inns curl -s -w ' %{http_code}' --data-binary '{}' "$URL")" ' 401'
expect "400 malformed" "$(ask '{"chains": [')" ' 400' 'malformed JSON'
expect "400 bad chain" "$(ask '{"chains": 3}')" ' 400' 'bad chain answer'
head -c 20000 /dev/zero | tr '\0' 'x' >"$T/big"
expect "413 oversized" "$(inns curl -s -w ' %{http_code}' -H "Authorization: Bearer $SECRET" \
	--data-binary @"$T/big" "$URL")" ' 413' 'too large'
expect "405 GET" "$(inns curl -s -w ' %{http_code}' -H "Authorization: Bearer $SECRET" "$URL")" ' 405'
expect "404 other path" "$(inns curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:8470/x)" '404'
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
if [ -x "$HT" ] && "$HT" policy 2>&1 | grep -q ask; then
	chain /usr/bin/nc.openbsd 22 >"$T/a.json"
	out=$(inns "$HT" policy ask "$URL" --chain-json "$T/a.json" --secret-file "$T/secret")
	[ $? = 2 ] || fail "policy ask: exit status"
	expect "client: reject" "$out" 'reject: process nc.openbsd in black list'
	inns "$HT" policy ask "$URL" --chain-json "$T/a.json" --secret wrong >/dev/null 2>"$T/err" &&
		fail "client accepted a 401"
	expect "client: 401 is an error" "$(cat "$T/err")" '401'
	kill $PID; wait $PID 2>/dev/null; PID=""
	inns "$HT" policy ask "$URL" --chain-json "$T/a.json" --secret x --timeout-ms 300 \
		>/dev/null 2>"$T/err" && fail "client: unreachable server answered"
	expect "client: unreachable is an error" "$(cat "$T/err")" 'policy server'
else
	echo "skip client checks: $HT has no 'policy ask' (unit test policy_remote covers it)"
fi
echo "policyd: all checks passed"
