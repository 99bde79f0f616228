#!/bin/sh
# kev_shutdown.sh — a hold of a TCP connection ends at its owner's close(), not
# at a shutdown(SHUT_WR) (issue 13; docs/chain-model.md "What each source
# sees"): tests/helpers/connect_read_close linked statically runs on h2,
# connects to h1:9000, says "ready" and shuts its side down (h1 sees EOF: the
# socket goes FIN_WAIT1, as a close() makes it), then waits 3 s for its
# orders, reads them, closes, and connects to h3:22. h2's history_window is
# 2 s: the connection was held until the close (well within the window), its
# shutdown lies 3 s back (outside it).
#   on   (kernel events) `chain PID` of the subject (a SYN now) reaches h1
#        (src h1:9000) through the connection, next to its own to h3: the
#        hold ended at the close. When the shutdown's FIN_WAIT1
#        ended the hold (before the fix: 3 s back, past the window), the
#        subject's origin was local.
#   off  `kernel_events = off` on h2 (a fresh run): no chain reaches h1.
# SKIP when the kernel event source cannot load, or no static link here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
RAT_BIN=$TB_T/connect_read_close
ct_static "$RAT_BIN" connect_read_close.c
ct_setup
ct_kev_need h2
ct_collector_conf h2 history_window=2s

# the controller on h1: reads "ready" up to the client's EOF (its shutdown),
# waits 3 s, sends the orders
cat >"$TB_T/ctl.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000))
s.listen(1)
c, _ = s.accept()
s.close()
got = b""
while True:
    b = c.recv(64)
    if not b:
        break
    got += b
print("controller: got %r, EOF" % got, flush=True)
time.sleep(3)
c.sendall(b"go to h3\n")
time.sleep(1)
c.close()
PY

# rat TAG: one run; `chain PID` of the subject (as if it sent a SYN now, as
# the guard asks) in $TB_T/TAG.chain.json, kept for ct_check_pid
rat() {
	tb_bg h1 "$TB_PY" "$TB_T/ctl.py"
	_ctl=$TB_LASTLOG
	tb_wait_port h1 9000 || tb_fail "$1: no controller on h1"
	tb_bg h2 sh -c "sleep 60 | (sleep 1; exec $RAT_BIN $CT_H1 9000 $CT_H3 22 shut)"
	ct_wait_new_onward 15 ||
		tb_fail "$1: no onward connection (subject: $(cat "$TB_LASTLOG"); controller: $(cat "$_ctl"))"
	grep -q "orders: go to h3" "$TB_LASTLOG" || tb_fail "$1: no orders read ($(cat "$TB_LASTLOG"))"
	grep -q "got b'ready\\\\n', EOF" "$_ctl" || tb_fail "$1: the controller saw no shutdown ($(cat "$_ctl"))"
	tb_exec h2 "$TB_HOPTRACE" status | grep -E 'tcp_holds_from_kernel_events' | sed "s/^/    $1: /"
}

rc=0
tb_log "on: kernel events on h2 (history_window 2 s)"
rat on
CT_H1PROCS="h1:$(basename "$(readlink -f "$TB_PY")")?,"
ct_check_pid "$CT_P" on "h2:connect_read_close\\[kernel\\] <tcp< out:$CT_H1" h2:connect_read_close || rc=1

tb_log "off: kernel_events = off on h2"
ct_collector_conf h2 kernel_events=off
rat off
tb_exec h2 "$TB_HOPTRACE" chain "$CT_P" --json >"$TB_T/off.chain.json" || tb_fail "off: hoptrace chain"
ct_no_origin_h1 "$TB_T/off.chain.json" || rc=1
[ $rc = 0 ] || tb_fail "the hold of a connection shut down before its close"
echo "PASS: a shut-down connection is held until its close (origin h1 through it, 3 s after the shutdown)"
