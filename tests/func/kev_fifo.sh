#!/bin/sh
# kev_fifo.sh — orders through a named pipe whose writer the shim cannot see
# and that has ended before the reader dials out (issue 13, channel events:
# what a process still held as it ended). On h2 a static reader (started by
# the testbed, not from a session: its own lineage is local) opens
# /tmp/orders.fifo and waits; from an ssh session h1 -> h2 a static writer
# (tests/helpers/fifo_orders.c, linked statically here) opens the FIFO,
# writes "go to h3" and exits; the reader reads its orders and connects to
# h3:22, holding the FIFO still. By then nothing but the kernel knows the
# writer ever held the FIFO: no /proc read can show an ended process's fds.
# The same again over a unix socket (the reader accepts one connection on
# /tmp/orders.sock; the writer connects, writes, exits): the reader's end
# shows no peer any more (the kernel's peer is closed), so only the exit
# event's peer inode joins the two ends (the writer waits half a second
# before it ends). And once more with the writer ended before the reader's
# accept (unix-early): its exit's fd table names no peer inode (a connection
# not accepted has none); its peer socket is marked and its first receive,
# accepted by then, names both (KEV_UNIXPEER) — before, no chain reached h1.
#   on   h2's collector took the writer's end of the FIFO from the exit event
#        (KEV_FDS: its fd table read as it ended): `who` for the reader's
#        connection to h3:22 is one chain, origin h1, through the FIFO and the
#        writer's creators up to the session's sshd (the writer a static image
#        of the session's shimmed bash: seen by kernel events, not the shim)
#   off  the same with `kernel_events = off` on h2 (a fresh run): no chain
#        reaches h1 (the reader's origin is local), FIFO and unix-early (the
#        unix case may reach h1: a /proc search can see the writer during
#        its half second, and it fed the connection — printed, not asserted)
# Removing exit_apply()'s holds (collector/graph_kev.c) makes "on" fail.
# SKIP when the kernel event source cannot load, or no static link here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
BIN=$TB_T/fifo_orders
ct_static "$BIN" fifo_orders.c
ct_setup
ct_kev_need h2

# run TAG [unix|unix-early]: one run; the who answer of the reader's connection
# in $TB_T/TAG.who.json (unix: the orders over a unix socket connection
# instead; unix-early: the writer ends before the reader accepts)
run() {
	if [ "${2:-}" = unix-early ]; then
		rd="uread /tmp/orders.sock" wr="uwrite /tmp/orders.sock"
		rlate=late wnow=now
	elif [ "${2:-}" = unix ]; then
		rd="uread /tmp/orders.sock" wr="uwrite /tmp/orders.sock"
	else
		tb_exec h2 rm -f /tmp/orders.fifo
		tb_exec h2 mkfifo /tmp/orders.fifo
		rd="read /tmp/orders.fifo" wr="write /tmp/orders.fifo"
	fi
	# shellcheck disable=SC2086
	tb_bg h2 "$BIN" $rd "$CT_H3" 22 ${rlate:-}
	rlog=$TB_LASTLOG
	sleep 0.3
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 '$BIN $wr \"go to h3\" ${wnow:-}; touch /tmp/orders.sock.go; sleep 600'"
	rlate="" wnow=""
	ct_wait_new_onward 15 || { cat "$rlog" "$TB_LASTLOG"; tb_fail "$1: no onward connection"; }
	grep -q "orders: go to h3" "$rlog" || tb_fail "$1: no orders read ($(cat "$rlog"))"
	sleep 0.2
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$1.who.json" || { cat "$TB_T/$1.who.json"; return 1; }
	tb_exec h2 "$TB_HOPTRACE" kev-dump --json >"$TB_T/$1.kev.json" 2>&1
	tb_exec h2 "$TB_HOPTRACE" --json graph >"$TB_T/$1.graph.json" 2>&1
	tb_exec h2 "$TB_HOPTRACE" status | grep -E 'holds_from_kernel_events|kernel_events\.(fds|lost)' | sed "s/^/    $1: /"
}

rc=0
tb_log "on: kernel events on h2"
run on
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:fifo_orders\\[kernel\\] <fifo< h2:fifo_orders <creator< h2:(bash|sleep) <(creator|pty)< h2:sshd( <(creator|unix|fdpass)< h2:sshd)* <tcp< in:$CT_H1" || rc=1
tb_assert_chain "$TB_T/on.who.json" --origin h1 --count 1 --dst "$CT_H3:22" \
	--contains h2:sshd,h2:fifo_orders,h2:fifo_orders || rc=1
# the writer: known from kernel events (its image and its FIFO end), not the shim
writer_kev() {
	"$TB_PY" - "$TB_T/$1.who.json" "$1" <<'PY'

import json, sys
def walk(n, d=0):
    if n.get("exe", "").endswith("fifo_orders") and d > 0:
        yield n
    for s in n.get("sources") or []:
        for x in walk(s.get("node") or s, d + 1):
            yield x
w = list(walk(json.load(open(sys.argv[1])).get("tree") or {}))
print("    %s: writer seen %s" % (sys.argv[2], [x.get("seen") for x in w]))
sys.exit(0 if w and all(x.get("seen") == "kernel-events" for x in w) else 1)
PY
}
writer_kev on || rc=1
# the walks' FIFO holder searches: the kernel's one pass (collector/kiter.c),
# not every /proc/PID/fd
hs_state() {
	_st=$(tb_exec h2 "$TB_HOPTRACE" status)
	hs=$(echo "$_st" | sed -n 's/^kernel_events\.holder_search: //p')
	hp=$(echo "$_st" | sed -n 's/^kernel_events\.holder_search_passes: //p')
	fr=$(echo "$_st" | sed -n 's/^kernel_events\.fd_table_reads: //p')
	tb_log "    $1: holder search $hs (passes ${hp:-none}, fallbacks $(echo "$_st" | sed -n 's/^kernel_events\.holder_search_fallbacks: //p'); fd tables read ${fr:-none}, fallbacks $(echo "$_st" | sed -n 's/^kernel_events\.fd_table_fallbacks: //p'))"
}
hs_state on
[ "$hs" = kernel ] && [ "${hp:-0}" -gt 0 ] || { tb_log "not: the FIFO's holders were not searched by the kernel pass"; rc=1; }
[ "${fr:-0}" -gt 0 ] || { tb_log "not: no fd table was read by the kernel pass"; rc=1; }

tb_log "on, unix: the orders over a unix socket connection instead"
run unix-on unix
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/unix-on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:fifo_orders\\[kernel\\] <unix< h2:fifo_orders <creator< h2:(bash|sleep) <(creator|pty)< h2:sshd( <(creator|unix|fdpass)< h2:sshd)* <tcp< in:$CT_H1" || rc=1
tb_assert_chain "$TB_T/unix-on.who.json" --origin h1 --count 1 --dst "$CT_H3:22" \
	--contains h2:sshd,h2:fifo_orders,h2:fifo_orders || rc=1
writer_kev unix-on || rc=1

tb_log "on, unix-early: the writer ends before the reader accepts"
run unix-early-on unix-early
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/unix-early-on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:fifo_orders\\[kernel\\] <unix< h2:fifo_orders <creator< h2:(bash|sleep) <(creator|pty)< h2:sshd( <(creator|unix|fdpass)< h2:sshd)* <tcp< in:$CT_H1" || rc=1
tb_assert_chain "$TB_T/unix-early-on.who.json" --origin h1 --count 1 --dst "$CT_H3:22" \
	--contains h2:sshd,h2:fifo_orders,h2:fifo_orders || rc=1
writer_kev unix-early-on || rc=1

tb_log "off: kernel_events = off on h2"
ct_kev_off h2
no_h1() {
	"$TB_PY" - "$TB_T/$1.who.json" "$CT_H1" "$1" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
o = [c.get("origin_host") for c in a.get("chains") or []]
print("    %s: origins %s" % (sys.argv[3], o))
if any(x in ("h1", sys.argv[2]) for x in o):
    print("    not: without kernel events a chain reaches h1: the test cannot tell")
    sys.exit(1)
PY
}
run off
no_h1 off || rc=1
hs_state off
[ "$hs" = proc ] || { tb_log "not: kernel_events = off, yet the holder search is $hs"; rc=1; }
run unix-off unix
# (either: a /proc holder search may see the writer during its half second,
# and a writer that fed the connection before the reader's hold began counts,
# as for a local TCP connection's far end — the test cannot tell by this half)
no_h1 unix-off || echo "    unix-off: the writer was seen alive by /proc: h1 without kernel events too"
run unix-early-off unix-early
no_h1 unix-early-off || rc=1
[ $rc = 0 ] || tb_fail "the FIFO's ended static writer with kernel events"
echo "PASS: the reader's chain reaches h1 through the FIFO end its static writer held as it ended"
