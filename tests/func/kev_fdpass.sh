#!/bin/sh
# kev_fdpass.sh — orders on a descriptor passed over a unix socket (SCM_RIGHTS)
# to a program the shim cannot see, which reads them, closes that descriptor
# and dials out — all between its fork and its exit, with no /proc read in
# between (issue 13, channel events: descriptors received). On h2 a static
# implant (tests/helpers/fifo_orders.c ugetfd, started by the testbed, not
# from a session: its own lineage is local) listens on /tmp/orders.sock; from
# an ssh session h1 -> h2, `echo 'go to h3' | fifo_orders pass ...` (static
# too) connects and passes its stdin — the session's pipe — and exits; the
# implant receives it, reads the orders, closes it and its connection, and
# connects to h3:22.
#   on   h2's collector read the implant's fd table right after that receive
#        (sk_data_ready saw descriptors queued to its socket; sock_recv_length
#        then read the table: KEV_FDS at: recv): `who` for its connection to
#        h3:22 is one chain, origin h1, through the pipe (its holders: the
#        session's echo, the ended sender) back to the session
#   off  `kernel_events = off` on h2 (a fresh run): no chain reaches h1
#   sockets off  `kernel_events_sockets = off`: the same as before the
#        receive read existed — no chain reaches h1
# SKIP when the kernel event source cannot load, or no static link here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
BIN=$TB_T/fifo_orders
ct_static "$BIN" fifo_orders.c
ct_setup
ct_kev_need h2

# run TAG: one run; the who answer of the implant's connection in $TB_T/TAG.who.json
run() {
	tb_bg h2 "$BIN" ugetfd /tmp/orders.sock "$CT_H3" 22
	rlog=$TB_LASTLOG
	sleep 0.3
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'echo \"go to h3\" | $BIN pass /tmp/orders.sock; sleep 600'"
	_ssh=$TB_LAST
	ct_wait_new_onward 15 || { cat "$rlog" "$TB_LASTLOG"; tb_fail "$1: no onward connection"; }
	grep -q "orders: go to h3" "$rlog" || tb_fail "$1: no orders read ($(cat "$rlog"))"
	sleep 0.2
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$1.who.json" || { cat "$TB_T/$1.who.json"; return 1; }
	tb_exec h2 "$TB_HOPTRACE" kev-dump --json >"$TB_T/$1.kev.json" 2>&1
	tb_exec h2 "$TB_HOPTRACE" --json graph >"$TB_T/$1.graph.json" 2>&1
	tb_exec h2 "$TB_HOPTRACE" status | grep -E 'recv_holds_from_kernel_events|kernel_events\.(fds|lost|socket_events)' |
		sed "s/^/    $1: /"
	kill "$CT_P" "$_ssh" 2>/dev/null # (the next run's walks meet fewer processes)
	sleep 0.5
}

rc=0
tb_log "on: kernel events on h2"
run on
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:fifo_orders\\[kernel\\] <(pipe|unix)< h2:(fifo_orders|bash|sleep)( <creator< h2:(fifo_orders|bash|sleep))* <(creator|pty)< h2:sshd( <(creator|unix|fdpass)< h2:sshd)* <tcp< in:$CT_H1" || rc=1
tb_assert_chain "$TB_T/on.who.json" --origin h1 --count 1 --dst "$CT_H3:22" \
	--contains h2:sshd,h2:fifo_orders || rc=1

tb_log "sockets off: kernel_events_sockets = off on h2"
ct_collector_conf h2 kernel_events_sockets=off
run sockoff
ct_no_origin_h1 "$TB_T/sockoff.who.json" || rc=1

tb_log "off: kernel_events = off on h2"
ct_collector_conf h2 kernel_events=off
run off
ct_no_origin_h1 "$TB_T/off.who.json" || rc=1
[ $rc = 0 ] || tb_fail "the passed descriptor's orders with kernel events"
echo "PASS: the implant's chain reaches h1 through the descriptor it received, read and closed"
