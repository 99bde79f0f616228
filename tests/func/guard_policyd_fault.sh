#!/bin/sh
# hopguard with policy_url at a policy server that fails (docs/config.md:
# policy_url, policy_timeout_ms, on_policy_error), over mutual TLS with a fleet
# certificate (`hoptrace ca init/issue`, [fleet] in the guard's config):
#   unreachable (nothing listens on the port: the guard's connect is refused)
#   silent (a listener that accepts and never answers: the TLS handshake times out)
# For each: on_policy_error = reject refuses the connection at once (ECONNREFUSED
# within policy_timeout_ms + a margin) and the audit log and the guard's log say
# why; on_policy_error = accept lets it connect, and that is logged too.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
gn_setup
gn_start_collector
HT=${HOPTRACE:-$HT_TOP/${BUILD:-build}/hoptrace}
"$HT" ca init "$T/fleet" >/dev/null && "$HT" ca issue "$T/fleet" hA "$A4" "$A6" >/dev/null ||
	gn_fail "fleet certificates"
# first in the file: gn_conf appends keys it has not seen to the last section
{ printf '[fleet]\nca = %s/ca.crt\ncert = %s/hA.crt\nkey = %s/hA.key\ncrl = %s/crl.pem\n\n' \
	"$T/fleet" "$T/fleet" "$T/fleet" "$T/fleet"; cat "$T/hoptrace.conf"; } >"$T/c.new" &&
	mv "$T/c.new" "$T/hoptrace.conf"

TMO=400          # policy_timeout_ms
MARGIN=600       # ms on top of it for a refusal
PD_DEAD=8009     # nothing listens here on B
PD_MUTE=8010     # accepts, reads, never answers
gn_bg "$BB" "$T/mute.log" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1]))); s.listen(64)
held = []
while True:
    c, a = s.accept(); held.append(c)   # never read a reply, never close
    print("accepted", a, flush=True)
' "$PD_MUTE"
i=0
until ip netns exec "$BB" ss -Hltn "sport = :$PD_MUTE" | grep -q .; do
	i=$((i + 1)); [ $i -lt 50 ] || gn_fail "silent listener did not start"; sleep 0.1
done
ip netns exec "$BB" ss -Hltn "sport = :$PD_DEAD" | grep -q . && gn_fail "something listens on $PD_DEAD"

gn_conf policy_timeout_ms "$TMO"
NAUD=0   # audit lines seen so far (each phase checks only its own)

# phase NAME PORT(policy server) VERDICT(reject|accept) DST_PORT CURL_WORDS
phase() {
	_name=$1 _pport=$2 _v=$3 _dport=$4 _words=$5
	gn_log "$_name policy server, on_policy_error = $_v"
	gn_conf policy_url "https://$B4:$_pport/v1/decide"
	gn_conf on_policy_error "$_v"
	: >"$T/hopguard.log"
	gn_start_guard
	out=$(gn_connect "$B4" "$_dport"); set -- $out
	r=$1 ms=$2
	case $_v in
	reject)
		[ "$r" = refused ] || gn_fail "$_name/reject: expected refused, got $r after $ms ms"
		[ "$ms" -lt $((TMO + MARGIN)) ] || gn_fail "$_name/reject: refusal took $ms ms (policy_timeout_ms $TMO + $MARGIN)" ;;
	accept)
		[ "$r" = ok ] || gn_fail "$_name/accept: expected ok, got $r after $ms ms"
		[ "$ms" -lt $((TMO + MARGIN)) ] || gn_fail "$_name/accept: connect took $ms ms (policy_timeout_ms $TMO + $MARGIN)" ;;
	esac
	echo "   $B4 port $_dport: $r in $ms ms"
	sleep 0.3
	# the audit line of this connection: verdict, and a reason naming the policy
	# server, the failure, and on_policy_error
	n=$(python3 - "$T/audit.log" "$NAUD" "$B4:$_dport" "$_v" "$_words" <<'EOP'
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
hit = 0
for l in lines:
    r = json.loads(l)
    why = r.get("reason", "")
    if (r.get("remote") == sys.argv[3] and r.get("verdict") == sys.argv[4]
            and "policy server" in why and "on_policy_error = " + sys.argv[4] in why
            and "policy server: policy server" not in why
            and any(w.lower() in why.lower() for w in sys.argv[5].split("|"))):
        hit += 1
    else:
        print("other audit line: %s" % l, file=sys.stderr)
print(hit)
EOP
) || gn_fail "$_name/$_v: audit log unreadable"
	[ "$n" -ge 1 ] || { tail -n 5 "$T/audit.log"; gn_fail "$_name/$_v: no audit line says why"; }
	NAUD=$(wc -l <"$T/audit.log")
	grep "on_policy_error = $_v" "$T/hopguard.log" | grep -q "$B4:$_dport" ||
		{ cat "$T/hopguard.log"; gn_fail "$_name/$_v: the policy server error is not in the guard's log"; }
	grep "on_policy_error = $_v" "$T/hopguard.log" | tail -n 1 | sed 's/^/   log: /'
	gn_stop_guard TERM
	gn_rules_gone
}

phase unreachable "$PD_DEAD" reject 8000 "connect"
phase unreachable "$PD_DEAD" accept 8000 "connect"
phase silent "$PD_MUTE" reject 8000 "timeout|timed out"
phase silent "$PD_MUTE" accept 8000 "timeout|timed out"
grep -q accepted "$T/mute.log" || gn_fail "the silent policy server was never asked"
echo "PASS"
