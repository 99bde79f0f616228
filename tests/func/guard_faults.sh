#!/bin/sh
# hopguard faults: guard killed -> fail-open passes / fail-closed refuses
# (SYNs dropped: connect times out); collector stopped -> on_collector_error decides, and it is logged;
# leftover rules from a killed guard are removed by the next start; rules are
# gone after stop.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
gn_setup
gn_start_collector

gn_log "fail-open: guard killed, traffic passes"
gn_conf fail_open yes
gn_start_guard
gn_expect refused "$B4" 8001
gn_stop_guard KILL
ip netns exec "$A" iptables -S HOPT_OUT | grep -q NFQUEUE || gn_fail "rules should stay after SIGKILL"
gn_expect ok "$B4" 8000
gn_expect ok "$B4" 8001
gn_expect ok "$B6" 8001

gn_log "fail-closed: leftovers replaced; guard killed, SYNs dropped"
gn_conf fail_open no
gn_start_guard
n=$(ip netns exec "$A" iptables -S OUTPUT | grep -c HOPT_OUT)
[ "$n" = 1 ] || gn_fail "expected one jump to HOPT_OUT after restart, got $n"
gn_expect ok "$B4" 8000
gn_stop_guard KILL
ip netns exec "$A" iptables -S HOPT_OUT | grep -q -- "--queue-bypass" && gn_fail "fail-closed rule has --queue-bypass"
# no guard bound and no bypass: the kernel drops the SYN, the connect times out
gn_expect timeout "$B4" 8000
gn_expect timeout "$B6" 8000

gn_log "collector stopped: on_collector_error = reject, then accept"
gn_conf fail_open yes
gn_conf on_collector_error reject
gn_start_guard
gn_expect ok "$B4" 8000
gn_stop_collector
gn_expect refused "$B4" 8000
sleep 0.2
n=$(gn_audit_count "r['remote']=='$B4:8000' and r['verdict']=='reject' and 'collector' in r.get('reason','') and 'on_collector_error' in r.get('reason','')") || gn_fail "audit"
[ "$n" -ge 1 ] || gn_fail "collector error not in the audit log"
grep -q "on_collector_error" "$T/hopguard.log" || gn_fail "collector error not logged"
gn_stop_guard TERM
gn_rules_gone
gn_conf on_collector_error accept
gn_start_guard
gn_expect ok "$B4" 8001
sleep 0.2
n=$(gn_audit_count "r['remote']=='$B4:8001' and r['verdict']=='accept' and 'collector' in r.get('reason','')")
[ "$n" -ge 1 ] || gn_fail "collector error (accept) not in the audit log"

gn_log "collector back: the guard reconnects"
gn_start_collector
gn_expect refused "$B4" 8001
gn_expect ok "$B4" 8000
gn_stop_guard TERM
gn_rules_gone
echo "PASS"
