#!/bin/sh
# issue 10: a full queue is never a way through. With fail_open = yes (which
# covers only "no guard bound"), root stops the collector (a stalled
# collector: every SYN now waits collector_timeout_ms), and nobody floods
# non-blocking connects to B:8005, which the policy refuses and where a
# listener counts accepted connections:
#   original   24000 connects closed at once fill the NFQUEUE queue, then
#              300 "probe" connects are made while it is full
#   variant 1  the probes' own retransmits while the queue stays full
#   variant 2  IPv6 probes as well (the queue is shared by both families)
# Zero connections may be accepted; the overflow is counted (stats), logged
# and audited; after SIGCONT the retransmitted SYNs are judged and refused,
# and new verdicts come at once.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
command -v setpriv >/dev/null || gn_skip "setpriv missing"
gn_setup
chmod 711 "$T"
mkdir -m 755 "$T/pub"

# B: a listener on 8005 (refused by the policy) counting accepted connections
cat >"$T/pub/count.py" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8005)); s.listen(4096)
n = 0
while True:
    c, a = s.accept(); c.close(); n += 1
    open(sys.argv[1] + ".tmp", "w").write("%d\n" % n)
    __import__("os").rename(sys.argv[1] + ".tmp", sys.argv[1])
EOP
echo 0 >"$T/accepted"
gn_bg "$BB" "$T/count.log" python3 "$T/pub/count.py" "$T/accepted"

cat >"$T/pub/flood.py" <<'EOP'
import errno, os, select, socket, sys, time
v4, v6, port, n1, n2, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
t0 = time.monotonic()
for i in range(n1):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.setblocking(False)
    s.connect_ex((v4, port)); s.close()
probes = []
for i in range(n2):
    fam, a = (socket.AF_INET6, v6) if i % 3 == 2 else (socket.AF_INET, v4)
    s = socket.socket(fam, socket.SOCK_STREAM); s.setblocking(False)
    s.connect_ex((a, port)); probes.append(s)
print("probes sent after %.1f s" % (time.monotonic() - t0), flush=True)
res = {"connected": 0, "refused": 0, "other": 0}
pending = set(probes)
end = time.monotonic() + wait
while pending and time.monotonic() < end:
    _, w, _ = select.select([], list(pending), [], 0.5)
    for s in w:
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        k = "connected" if e == 0 else "refused" if e == errno.ECONNREFUSED else "other"
        res[k] += 1
        pending.discard(s)
print("connected %d refused %d other %d pending %d" % (res["connected"], res["refused"], res["other"], len(pending)), flush=True)
EOP

gn_start_collector
gn_start_guard
gn_expect refused "$B4" 8005
gn_expect ok "$B4" 8000
i=0
until ip netns exec "$BB" ss -ltn | grep -q ':8005 '; do
	i=$((i + 1)); [ $i -lt 50 ] || gn_fail "listener on B did not start"; sleep 0.1
done

qstat() { # queue_total queue_dropped queue_user_dropped of our queue (7)
	ip netns exec "$A" cat /proc/net/netfilter/nfnetlink_queue | awk '$1 == 7 {print $3, $6, $7}'
}

gn_log "collector stalled (SIGSTOP); nobody floods"
kill -STOP "$COLL_PID"
ip netns exec "$A" setpriv --reuid nobody --regid nogroup --clear-groups \
	/usr/bin/python3 "$T/pub/flood.py" "$B4" "$B6" 8005 24000 300 40 >"$T/flood.out" 2>&1 &
FLOOD=$!
GN_PIDS="$GN_PIDS $FLOOD"
i=0
until grep -q "probes sent" "$T/flood.out"; do
	i=$((i + 1)); [ $i -lt 300 ] || { kill -CONT "$COLL_PID"; gn_fail "flood did not run: $(cat "$T/flood.out")"; }
	sleep 0.1
done
echo "   $(head -1 "$T/flood.out")"
sleep 4 # the probes' retransmits (1 s, 3 s) meet a full queue too
set -- $(qstat)
echo "   queue: total $1 dropped $2 user_dropped $3; accepted so far $(cat "$T/accepted")"
DROPPED=$(($2 + $3))
kill -CONT "$COLL_PID"

gn_log "collector resumed: the dropped SYNs come again and are judged"
wait "$FLOOD"
res=$(tail -1 "$T/flood.out")
echo "   probes: $res"
acc=$(cat "$T/accepted")
echo "   listener accepted $acc connections"
[ "$acc" = 0 ] || gn_fail "$acc connections to a refused destination got through the full queue"
set -- $res
[ "$2" = 0 ] || gn_fail "probes connected: $res"
[ "$DROPPED" -gt 0 ] || gn_fail "the queue never overflowed (the flood was too small?)"
# the probes are refused by the guard once it can ask again (every one, no
# SYN of theirs lost for good)
[ "$4" = 300 ] || gn_fail "not every probe was refused: $res"

gn_log "the overflow is counted, logged and audited"
i=0
until grep -q "overflow" "$T/hopguard.log"; do
	i=$((i + 1)); [ $i -lt 30 ] || gn_fail "overflow not logged"; sleep 0.1
done
grep "overflow" "$T/hopguard.log" | head -2 | sed 's/^/   /'
n=$(gn_audit_count "r.get('reason','').startswith('overflow:') and r.get('overflow',0) > 0") || gn_fail "audit malformed"
[ "$n" -ge 1 ] || gn_fail "overflow not in the audit log"
n=$(gn_audit_count "r['remote'] in ('$B4:8005','[$B6]:8005') and r['action']=='accept'")
[ "$n" = 0 ] || gn_fail "$n SYNs to 8005 accepted in the audit log"
kill -USR1 "$GUARD_PID"; sleep 0.3
st=$(grep "overflow_dropped" "$T/hopguard.log" | tail -1)
echo "   $st" | sed 's/.*\(packets\)/\1/'
echo "$st" | grep -Eq "overflow_dropped [1-9]" || gn_fail "overflow not counted in the stats"

gn_log "verdicts resume"
i=0
until [ "$(qstat | cut -d' ' -f1)" = 0 ]; do
	i=$((i + 1)); [ $i -lt 300 ] || gn_fail "queue not drained: $(qstat)"; sleep 0.1
done
gn_expect refused "$B4" 8005
gn_expect ok "$B4" 8000
gn_expect refused "$B6" 8005
gn_stop_guard TERM
gn_rules_gone
echo "PASS"
