#!/bin/sh
# kev_rat.sh — the RAT pattern by a program the shim cannot see (issue 13
# Done-when 1, the "reads its orders from h1 over a connection it then closes"
# case): tests/helpers/connect_read_close linked statically runs on h2,
# connects to h1:9000, reads its orders, closes that connection, then connects
# to h3:22. Nothing but the kernel knows it ever held the h1 connection: by
# the time anybody reads its /proc/PID/fd, the socket is gone.
#   on   (kernel events) h2's collector took the hold from the kernel's
#        connect (SYN_SENT) and close (FIN_WAIT1/LAST_ACK) events: `who` for
#        its connection to h3:22 is one chain, origin h1 (src h1:9000), the
#        subject connect_read_close `seen: kernel`, fallback
#   off  the same with `kernel_events = off` on h2 (a fresh run): today's
#        answer — no chain reaches h1 (the subject's origin is local)
# Removing tcp_closed()'s hold in collector/graph_kev.c makes "on" fail. (A
# /proc read of the RAT's fds while the h1 connection is open would find it
# without kernel events, by luck: the RAT execs a second after its subshell
# is known, so no read happens then. With kernel events a hold such a read
# left open is closed at the kernel's close.)
# SKIP when the kernel event source cannot load, or no static link here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
RAT_BIN=$TB_T/connect_read_close
ct_static "$RAT_BIN" connect_read_close.c
ct_setup
ct_kev_need h2

# rat TAG: one run; the who answer of its connection to h3:22 in $TB_T/TAG.who.json
rat() {
	tb_bg h1 sh -c "echo 'go to h3' | nc -N -l 9000"
	tb_wait_port h1 9000 || tb_fail "$1: no controller on h1"
	# (its subshell's BIRTH is applied a second before the exec: no /proc
	# read of its fds while the h1 connection is open, by chance)
	tb_bg h2 sh -c "sleep 60 | (sleep 1; exec $RAT_BIN $CT_H1 9000 $CT_H3 22)"
	ct_wait_new_onward 10 || tb_fail "$1: no onward connection"
	grep -q "orders: go to h3" "$TB_LASTLOG" || tb_fail "$1: no orders read ($(cat "$TB_LASTLOG"))"
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$1.who.json" || { cat "$TB_T/$1.who.json"; return 1; }
	tb_exec h2 "$TB_HOPTRACE" status | grep -E 'tcp_holds_from_kernel_events' | sed "s/^/    $1: /"
}

rc=0
tb_log "on: kernel events on h2"
rat on
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:connect_read_close\\[kernel\\] <tcp< out:$CT_H1" || rc=1
tb_assert_chain "$TB_T/on.who.json" --origin "$CT_H1" --count 1 --src "$CT_H1:9000" --dst "$CT_H3:22" \
	--procs h2:connect_read_close --kernel || rc=1

tb_log "off: kernel_events = off on h2"
ct_kev_off h2
rat off
ct_no_origin_h1 "$TB_T/off.who.json" || rc=1
[ $rc = 0 ] || tb_fail "the unshimmed RAT's chain with kernel events"
echo "PASS: the static RAT's chain reaches h1 through the kernel's connect and close events"
