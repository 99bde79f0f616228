#!/bin/sh
# ring_register_busy.sh — a shim whose ring registration fails for a moment
# (the ring listener's backlog full: the collector slow to accept) loses no
# record: the record that needed the ring goes on a momentary connection to
# the record socket (preload/shim.c send_momentary). The collector is
# stopped, both ring listeners (the path under HT_RUN_DIR and the abstract
# name) are filled to their backlog by connections a helper holds, and a
# shimmed `sleep` starts: its IMAGE (its only record) must reach the graph
# (kernel events off; "seen": "shim", not "kernel" — a process the graph
# filled in from /proc because its records never came).
# Fails on a shim that drops the record when the ring cannot be registered
# (the chain_handoff flake: a `sh -c` that emitted nothing after its first
# second was missing from the graph, and so was its child's chain).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
tb_switch
tb_host h1 10.231.0.1
# no kernel events: the graph knows the process only from its records
sed -i 's|^\[collector\]$|[collector]\nkernel_events = off|' "$(tb_conf h1)"
tb_collector h1
tb_exec h1 "$TB_HOPTRACE" status | grep kernel_events.state
cpid=$(cat "$(tb_dir h1)/hoptraced.pid")
tb_preload on

cat >"$TB_T/fill.py" <<'EOF'
import glob, os, socket, sys, time
ns = str(os.stat("/proc/self/ns/net").st_ino)
names = [b"\0hoptrace/rec.ring"] + [p.encode() for p in glob.glob("/run/hoptrace/*.ring@" + ns)]
held = []
for n in names:
    k = 0
    while k < 5000:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_NONBLOCK)
        try:
            s.connect(n)
        except (BlockingIOError, OSError):
            s.close()
            break
        held.append(s)
        k += 1
    print(n, k, flush=True)
open(sys.argv[1], "w").close()
time.sleep(float(sys.argv[2]))
EOF

kill -STOP "$cpid"
tb_bg h1 env HOPTRACE_DISABLE=1 python3 "$TB_T/fill.py" "$TB_T/full" 6
i=0
until [ -e "$TB_T/full" ]; do
	i=$((i + 1)); [ $i -le 100 ] || { kill -CONT "$cpid"; tb_fail "the helper did not fill the ring listeners"; }
	sleep 0.05
done
cat "$TB_LASTLOG"
tb_bg h1 sleep 30
victim=$TB_LAST
sleep 1 # its records are sent (or lost) by now
kill -CONT "$cpid"
sleep 7 # the helper's connections gone, the collector caught up
found=$(tb_exec h1 "$TB_HOPTRACE" ps --json | "$TB_PY" -c '
import json,sys
for p in json.load(sys.stdin)["procs"]:
    if p["pid"] == '"$victim"': print(p["exe"], p["seen"])')
echo "victim $victim: exe, seen: '$found'"
tb_exec h1 "$TB_HOPTRACE" status --json | "$TB_PY" -c 'import json,sys; print(json.load(sys.stdin).get("rings"))'
case "$found" in
*sleep\ shim) ;;
*) tb_fail "the shimmed sleep (pid $victim) is not in the graph by its record (only from /proc, or not at all): the record was lost" ;;
esac
echo "ok"
