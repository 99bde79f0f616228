#!/bin/sh
# hopguard in a namespace pair with the real collector: allowed connections
# pass, refused ones fail with ECONNREFUSED at once (IPv4 and IPv6), the audit
# log says why, SIGHUP reloads the policy and a bad policy keeps the old one,
# monitor mode accepts and logs, the rules are gone after stop, and ~2000
# connections give exactly one well-formed audit line each.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
gn_setup
gn_start_collector
cp "$T/policy.acl" "$T/orig.acl"

gn_log "config check"
"$HOPGUARD" -n -f "$T/hoptrace.conf" | grep -q "configuration OK" || gn_fail "-n"
echo "bad line" >"$T/bad.acl"
sed "s#^policy = .*#policy = $T/bad.acl#" "$T/hoptrace.conf" >"$T/bad.conf"
out=$("$HOPGUARD" -n -f "$T/bad.conf" 2>&1) && gn_fail "-n accepted a bad policy"
echo "$out" | grep -q "bad.acl:1:" || gn_fail "-n did not name file:line: $out"

gn_log "enforcing"
gn_start_guard
ip netns exec "$A" iptables -S HOPT_OUT | grep -q NFQUEUE || gn_fail "no IPv4 rules"
ip netns exec "$A" ip6tables -S HOPT_OUT | grep -q NFQUEUE || gn_fail "no IPv6 rules"
gn_expect ok "$B4" 8000
gn_expect refused "$B4" 8001
gn_expect ok "$B6" 8000
gn_expect refused "$B6" 8001
ip netns exec "$A" curl -s -o /dev/null --max-time 5 "http://$B4:8000/" || gn_fail "curl allowed"
ip netns exec "$A" curl -s -o /dev/null --max-time 5 "http://$B4:8001/" ; rc=$?
[ $rc = 7 ] || gn_fail "curl to a refused port: rc $rc (want 7, couldn't connect)"
ip netns exec "$A" nc -z -w 3 "$B4" 8001 && gn_fail "nc to a refused port connected"
sleep 0.2
n=$(gn_audit_count "r['remote']=='$B4:8001' and r['verdict']=='reject' and r['mode']=='enforce' and 'no matching rule' in r.get('reason','')") || gn_fail "audit log malformed"
[ "$n" -ge 3 ] || gn_fail "expected >=3 reject lines for 8001, got $n"
n=$(gn_audit_count "r['remote']=='$B4:8000' and r['verdict']=='accept' and r.get('rule','').endswith('policy.acl:2')") || gn_fail "audit"
[ "$n" -ge 2 ] || gn_fail "expected accept lines naming policy.acl:2, got $n"
"$B_/hoptrace" log "$T/audit.log" >"$T/log.txt" 2>&1 && grep -q "REJECT" "$T/log.txt" ||
	echo "   (hoptrace log not checked: $(head -1 "$T/log.txt"))"

gn_log "SIGHUP reload, bad policy keeps the old one"
echo "*, *, *, 8001, black," >>"$T/policy.acl"
kill -HUP "$GUARD_PID"; sleep 0.3
grep -q "reloaded" "$T/hopguard.log" || gn_fail "no reload logged"
gn_expect ok "$B4" 8001
cp "$T/policy.acl" "$T/good.acl"
echo "this is not a rule" >>"$T/policy.acl"
kill -HUP "$GUARD_PID"; sleep 0.3
grep -q "refused; the old policy stays" "$T/hopguard.log" || gn_fail "bad policy not refused"
gn_expect ok "$B4" 8001
gn_expect ok "$B4" 8000
cp "$T/orig.acl" "$T/policy.acl"
kill -HUP "$GUARD_PID"; sleep 0.3
gn_expect refused "$B4" 8001

gn_log "load: 2000 connections, one audit line each"
before=$(gn_audit_count "r['remote']=='$B4:8002'")
# with the shim preloaded, as on a real host: the collector knows the socket
# from the shim's record instead of scanning /proc for every SYN
# while another process holds references to the client's sockets now and
# then, as the collector does when it reads a fd table: a client that counts a
# connection it did not make (a closed socket's epoll event taken for the next
# one's) contradicts the audit below (docs/research/transport.md "Closed
# (session 14)")
ip netns exec "$A" env LD_PRELOAD="$B_/libhoptrace.so" "$B_/tests/helpers/connbench" connect "$B4" 8002 2000 1 >"$T/load.txt" &
cb=$!
sleep 0.05
# $! is connbench itself once ip and env have exec'd it (not a host-wide pgrep
# by name: another run's connbench may be there, B4 is only $$ % 200 apart)
cbpid="" k=0
while [ -z "$cbpid" ] && [ $k -lt 40 ]; do
	case $(tr '\0' ' ' <"/proc/$cb/cmdline" 2>/dev/null) in
	*"connbench connect $B4 8002 "*) cbpid=$cb ;;
	*) k=$((k + 1)); sleep 0.05 ;;
	esac
done
[ -n "$cbpid" ] || gn_fail "load: connbench not running"
python3 "$HT_TOP/tests/lib/fdholder.py" "$cbpid" 120 2>"$T/holder.txt" &
hold=$!
wait $cb
kill $hold 2>/dev/null; wait $hold 2>/dev/null
res=$(cat "$T/load.txt")
echo "   $res ($(cat "$T/holder.txt"))"
# every connection is decided (accepted, or refused at once: no SYN lost or
# left to time out), whatever the collector's chains say about this process
set -- $res
[ $(($4 + $6)) = 2000 ] && [ "$8" = 0 ] || gn_fail "load: $res"
sleep 0.3
after=$(gn_audit_count "r['remote']=='$B4:8002'") || gn_fail "audit malformed under load"
acc=$(gn_audit_count "r['remote']=='$B4:8002' and r['action']=='accept'")
[ $((after - before)) = 2000 ] || gn_fail "audit lines for 2000 connections: $((after - before))"
# every connection the client saw succeed was accepted by the guard, and no
# other (connbench takes a socket out of its epoll set before closing it:
# docs/research/transport.md "Closed (session 14)")
[ "$acc" = "$4" ] || gn_fail "audit says $acc accepted, client saw $4"
echo "   2000 connections, 2000 well-formed audit lines ($acc accepted)"

gn_log "stop removes the rules"
gn_stop_guard TERM
gn_rules_gone
gn_expect ok "$B4" 8001

gn_log "monitor mode accepts and logs"
gn_conf monitor yes
gn_start_guard
gn_expect ok "$B4" 8001
sleep 0.2
n=$(gn_audit_count "r['remote']=='$B4:8001' and r['mode']=='monitor' and r['verdict']=='reject' and r['action']=='accept'")
[ "$n" = 1 ] || gn_fail "monitor line for 8001: $n"
gn_stop_guard TERM
gn_rules_gone
echo "PASS"
