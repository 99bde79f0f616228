#!/bin/sh
# kev_isolation.sh — two collectors, two hosts (network namespaces), one
# kernel: each collector's kernel event programs report only the events of its
# own network namespace (docs/collector.md "Kernel events", issue 13 Done-when 2).
#
# h1 and h2 each run, once their collectors are up:
#   - an executable of their own name (a copy of /bin/true: kev-mark-h1 / -h2),
#     so the exec, fork and exit are the host's own;
#   - a TCP listener and a connect on loopback to a port of their own (7101 /
#     7102): the connect (SYN_SENT), ESTABLISHED, CLOSE and the accept().
# Each collector's `hoptrace kev-dump` must hold all of its host's events and
# none of the other's (by executable name, port and pid); the other host's
# pids must be absent everywhere. Removing the netns filter in
# collector/bpf/kev.bpf.c makes h1 see h2's events and this test fail.
# SKIP when the kernel event source cannot load here (status says why).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
tb_switch
tb_host h1 10.231.0.1
tb_host h2 10.231.0.2
for h in h1 h2; do # (accept events are off by default)
	sed -i 's|^\[collector\]$|[collector]\nkernel_events_accept = on|' "$(tb_conf $h)"
done
tb_collector h1
tb_collector h2

for h in h1 h2; do
	st=$(tb_exec $h "$TB_HOPTRACE" status) || tb_fail "status on $h"
	state=$(echo "$st" | sed -n 's/^kernel_events\.state: //p')
	[ "$state" = on ] ||
		tb_skip "kernel events unavailable on $h: $(echo "$st" | sed -n 's/^kernel_events\.reason: //p')"
	[ "$(echo "$st" | sed -n 's/^kernel_events\.accept_events: //p')" = on ] ||
		tb_skip "no accept events on $h: $(echo "$st" | sed -n 's/^kernel_events\.accept_reason: //p')"
done

cat >"$TB_T/tcp.py" <<'PY'
import socket, sys
port = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", port)); l.listen(1)
c = socket.create_connection(("127.0.0.1", port))
a, _ = l.accept()
a.sendall(b"x"); c.recv(1)
c.close(); a.close(); l.close()
PY
for n in 1 2; do
	cp /bin/true "$TB_T/kev-mark-h$n" || tb_fail "copy /bin/true"
	tb_exec h$n sh -c 'echo $$ >"$1"; "$2"; python3 "$3" "$4"' sh "$TB_T/pid-h$n" \
		"$TB_T/kev-mark-h$n" "$TB_T/tcp.py" 710$n || tb_fail "workload on h$n"
done
sleep 0.2

rc=0
for n in 1 2; do
	o=$((3 - n))
	tb_exec h$n "$TB_HOPTRACE" kev-dump --json >"$TB_T/kev-h$n.json" || tb_fail "kev-dump on h$n"
	"$TB_PY" - "$TB_T/kev-h$n.json" h$n h$o "$(cat "$TB_T/pid-h$n")" "$(cat "$TB_T/pid-h$o")" \
		710$n 710$o <<'PY' || rc=1
import json, sys
path, me, other, mypid, otherpid, myport, otherport = sys.argv[1:]
ev = json.load(open(path))["events"]
bad = []
def has(pred):
    return [e for e in ev if pred(e)]
def port_of(e, side):
    return e.get(side, "").rsplit(":", 1)[-1]
mine = {int(mypid)}
# the shell's children: the mark and python (fork events name it as creator)
for e in ev:
    if e["type"] == "fork" and e.get("creator") in mine:
        mine.add(e["pid"])
if not has(lambda e: e["type"] == "exec" and e["filename"].endswith("/kev-mark-" + me)):
    bad.append("no exec of kev-mark-%s" % me)
if not has(lambda e: e["type"] == "fork" and e.get("creator") == int(mypid)):
    bad.append("no fork by the workload's shell %s" % mypid)
if not has(lambda e: e["type"] == "exit" and e["pid"] == int(mypid)):
    bad.append("no exit of the workload's shell %s" % mypid)
syn = has(lambda e: e["type"] == "tcp" and e["state"] == "syn_sent" and port_of(e, "remote") == myport)
if not syn:
    bad.append("no SYN_SENT to 127.0.0.1:%s" % myport)
elif not any(e["pid"] in mine and e["ino"] > 0 for e in syn):
    bad.append("the SYN_SENT to :%s is not the workload's, or has no socket inode: %s" % (myport, syn))
for st in ("established", "close"):
    if not has(lambda e: e["type"] == "tcp" and e["state"] == st and myport in (port_of(e, "local"), port_of(e, "remote"))):
        bad.append("no %s of port %s" % (st, myport))
acc = has(lambda e: e["type"] == "accept" and port_of(e, "local") == myport)
if not acc:
    bad.append("no accept on :%s" % myport)
elif not all(e["ino"] > 0 and e["fd"] >= 0 for e in acc):
    bad.append("accept without socket inode: %s" % acc)
# nothing of the other host
for e in ev:
    if e.get("filename", "").endswith("/kev-mark-" + other):
        bad.append("%s saw %s's exec: %s" % (me, other, e))
    if e["type"] in ("tcp", "accept") and otherport in (port_of(e, "local"), port_of(e, "remote")):
        bad.append("%s saw %s's socket: %s" % (me, other, e))
    if e["pid"] == int(otherpid) or e.get("creator") == int(otherpid):
        bad.append("%s saw %s's process %s: %s" % (me, other, otherpid, e))
for b in bad[:12]:
    print("    %s: %s" % (me, b))
print("%s: %d events, %s" % (me, len(ev), "FAIL" if bad else "only its own"))
sys.exit(1 if bad else 0)
PY
done
for n in 1 2; do
	tb_exec h$n "$TB_HOPTRACE" status | grep -E '^kernel_events\.(events|lost|malformed):' | sed "s/^/    h$n /"
done
[ $rc = 0 ] || tb_fail "a collector saw another host's kernel events, or missed its own"
echo "PASS: each collector saw only its own namespace's kernel events"
