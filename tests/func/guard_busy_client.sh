#!/bin/sh
# A busy shimmed client through hopguard and the real collector, the access
# list accepting its destination and @incomplete left at its default (reject):
# not one connection may be refused — load is no reason to refuse unless the
# config says so — and the audit has one accept line for each.
#   sequential  800 connections one after another: each connect() rings the
#               shim's doorbell, and the collector's fd-table reads it woke saw
#               the doorbell's socket (collector/graph_proc.c not_a_channel);
#               once 32 such closed "holds" were in the client's history every
#               walk was truncated, its chain incomplete, the SYN refused
#   inflight    3000 connections, 64 in flight: the client's other sockets to
#               the same host, connect()ed after the collector's drain, were
#               taken for connections from that host (direction guessed) — the
#               chain's origin B, unfollowed, incomplete, refused
#               (collector/chain.c tcp_dir_settle)
# (tests/bench/guard.sh's full row is the same client at bench sizes.)
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
gn_setup
# the default @incomplete (reject): an incomplete chain is refused
grep -v '^@incomplete' "$T/policy.acl" >"$T/p2.acl" && mv "$T/p2.acl" "$T/policy.acl"
gn_conf workers 4
gn_start_collector
gn_start_guard
gn_expect ok "$B4" 8002

gbc_fail=0
gbc_phase() { # NAME N CONC
	gbc_before=$(gn_audit_count "r['remote']=='$B4:8002'") || gn_fail "audit malformed"
	gbc_out=$(ip netns exec "$A" env LD_PRELOAD="$B_/libhoptrace.so" \
		"$B_/tests/helpers/connbench" connect "$B4" 8002 "$2" "$3")
	sleep 0.5
	set -- "$1" "$2" "$3" $gbc_out
	gbc_after=$(gn_audit_count "r['remote']=='$B4:8002'") || gn_fail "audit malformed"
	gbc_rej=$(gn_audit_count "r['remote']=='$B4:8002' and r['action']=='reject'")
	echo "   $1: $gbc_out; audit lines $((gbc_after - gbc_before)), rejects so far $gbc_rej"
	if [ "$9" != 0 ] || [ "${11}" != 0 ]; then
		echo "   $1: FAIL-CASE: refused ${9}, lost ${11} of $2"
		gbc_fail=1
	fi
	[ $((gbc_after - gbc_before)) -ge "$2" ] || { echo "   $1: FAIL-CASE: audit lines"; gbc_fail=1; }
}
gbc_phase sequential 800 1
gbc_phase inflight 3000 64
n=$(gn_audit_count "r['remote']=='$B4:8002' and r['action']=='reject'")
if [ "$n" != 0 ]; then
	python3 - "$T/audit.log" <<'EOP'
import json, sys, collections
c = collections.Counter(json.loads(l).get('reason') for l in open(sys.argv[1])
                        if '"action":"reject"' in l)
for k, v in c.most_common(5): print("   rejected %d: %s" % (v, k))
EOP
	gbc_fail=1
fi
gn_stop_guard TERM
[ $gbc_fail = 0 ] || gn_fail "connections the policy accepts were refused under load"
echo "PASS"
