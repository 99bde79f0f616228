#!/bin/sh
# tests/func/guard_syslog.sh — audit_syslog (issue 16): every decision is also
# one syslog message "<PRI>hopguard[PID]: {the audit line's JSON}" on the
# configured socket (here a test socket standing in for /dev/log):
# LOG_DAEMON|info (30) for an accept, LOG_DAEMON|notice (29) for a refusal;
# the JSON equals the audit file's line. With no listener, decisions go on
# (the file has them) and the losses are counted; when the listener comes
# back, messages resume (reconnect at most once a second).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
gn_setup
gn_start_collector
SOCK=$T/log.sock
gn_conf audit_syslog "$SOCK"
"$HOPGUARD" -n -f "$T/hoptrace.conf" | grep -q "configuration OK" || gn_fail "-n with audit_syslog"
listen() { # start the stand-in syslog: one message a line into $T/syslog.out
	rm -f "$SOCK"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    out.write(s.recv(65536).decode() + "\n")' "$SOCK" "$T/syslog.out" &
	LP=$!; GN_PIDS="$GN_PIDS $LP"
	i=0; until [ -S "$SOCK" ]; do i=$((i + 1)); [ $i -lt 50 ] || gn_fail "no syslog stand-in"; sleep 0.1; done
}
listen
gn_start_guard
gn_expect ok "$B4" 8000
gn_expect refused "$B4" 8001
sleep 0.5
python3 - "$T/syslog.out" "$T/audit.log" <<'EOP' || gn_fail "syslog messages"
import json, re, sys
msgs = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()]
audit = [json.loads(l) for l in open(sys.argv[2])]
assert len(msgs) >= 2, "expected >= 2 messages, got %d" % len(msgs)
seen = set()
for m in msgs:
    g = re.match(r"^<(\d+)>hopguard\[(\d+)\]: (\{.*\})$", m)
    assert g, "not a syslog message: %r" % m[:120]
    r = json.loads(g.group(3))
    assert r in audit, "message not in the audit file: %r" % m[:120]
    want = 30 if r["verdict"] == "accept" else 29
    assert int(g.group(1)) == want, "priority %s for %s" % (g.group(1), r["verdict"])
    seen.add(r["verdict"])
assert seen == {"accept", "reject"}, seen
print("   %d messages, priorities and JSON as in the audit file" % len(msgs))
EOP
gn_log "syslog gone: decisions go on, losses counted; back: messages resume"
kill "$LP"; wait "$LP" 2>/dev/null; rm -f "$SOCK"
n0=$(wc -l <"$T/audit.log")
gn_expect refused "$B4" 8001
gn_expect ok "$B4" 8000
[ "$(wc -l <"$T/audit.log")" -ge $((n0 + 2)) ] || gn_fail "decisions not in the audit file while syslog was gone"
m0=$(grep -c . "$T/syslog.out")
listen
sleep 1.2
gn_expect refused "$B4" 8001
sleep 0.3
m1=$(grep -c . "$T/syslog.out")
[ "$m1" -gt "$m0" ] || gn_fail "no message after syslog came back ($m0 -> $m1)"
gn_stop_guard
grep -q "syslog_lost [1-9]" "$T/hopguard.log" || { tail -n 3 "$T/hopguard.log"; gn_fail "losses not counted"; }
gn_log "audit_syslog ok"
