#!/bin/sh
# kev_uring_accept.sh — a bind shell whose accept the shim cannot see (issue
# 13: io_uring accept): on h2 a dynamically linked, shimmed program
# (tests/helpers/uring_accept.c, built here with liburing; started by the
# testbed, not from a session: its own lineage is local) listens on 9000 and
# accepts by io_uring (IORING_OP_ACCEPT); h1 connects and sends its orders;
# the program reads them, closes that connection (libc's close) and its
# listener, then connects to h3:22 with libc's connect(). The shim saw the
# listen, the close and the connect, never the accept: no record names h1's
# connection.
#   on   h2's collector took the hold from the kernel's passive open and its
#        owner's close; the process is shimmed, so the hold waited until its
#        records were read (none named the socket): `who` for its connection
#        to h3:22 is one chain, origin h1, processes h1's nc and the program
#   direct  the same accept into a fixed file slot (a direct descriptor: no
#        fd number, nothing in /proc), the orders read by IORING_OP_RECV on
#        it, the connection still held (in its slot) as it dials h3: its
#        first read by a task that uses io_uring (sock_recv_length: KEV_SOCKUSE)
#        is its hold — origin h1; with `kernel_events_sockets = off` (as
#        before) nothing showed the holder: no chain reaches h1
#   off  the same with `kernel_events = off` on h2 (a fresh run): no chain
#        reaches h1 (its origin is local), either way
# Removing close_apply()'s hold (collector/graph_kev.c) makes "on" fail.
# SKIP when the kernel event source cannot load, or no liburing.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
BIN=$TB_T/uring_accept
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -o "$BIN" "$HT_TOP/tests/helpers/uring_accept.c" -luring \
	2>"$TB_T/uring.err" || tb_skip "no liburing (liburing-dev): $(head -n 1 "$TB_T/uring.err")"
ct_setup
ct_kev_need h2

# run TAG [direct]: one run; the who answer of its connection to h3:22 in
# $TB_T/TAG.who.json (direct: into a fixed file slot, kept)
run() {
	# shellcheck disable=SC2086
	tb_bg h2 "$BIN" 9000 "$CT_H3" 22 ${2:-}
	blog=$TB_LASTLOG
	tb_wait_port h2 9000 || tb_fail "$1: no listener on h2"
	tb_bg h1 sh -c "echo 'go to h3' | nc -N $CT_H2 9000"
	ct_wait_new_onward 15 || { cat "$blog"; tb_fail "$1: no onward connection"; }
	grep -q "orders: go to h3" "$blog" || tb_fail "$1: no orders read ($(cat "$blog"))"
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$1.who.json" || { cat "$TB_T/$1.who.json"; return 1; }
	tb_exec h2 "$TB_HOPTRACE" status | grep -E '(tcp|uring)_holds_from_kernel_events' | sed "s/^/    $1: /"
	kill "$CT_P" 2>/dev/null
	sleep 0.3
}

rc=0
tb_log "on: kernel events on h2"
run on
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:uring_accept <tcp< in:$CT_H1" || rc=1
NCB=$(basename "$(readlink -f "$(command -v nc)")") # nc.openbsd here
tb_assert_chain "$TB_T/on.who.json" --origin h1 --count 1 --dst "$CT_H3:22" \
	--procs "h1:$NCB,h2:uring_accept" || rc=1

tb_log "direct on: the accept into a fixed file slot, kept while it dials"
run direct-on direct
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/direct-on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:uring_accept <tcp< in:$CT_H1" || rc=1
tb_assert_chain "$TB_T/direct-on.who.json" --origin h1 --count 1 --dst "$CT_H3:22" \
	--procs "h1:$NCB,h2:uring_accept" || rc=1

tb_log "direct, sockets off: kernel_events_sockets = off on h2"
ct_collector_conf h2 kernel_events_sockets=off
run direct-sockoff direct
ct_no_origin_h1 "$TB_T/direct-sockoff.who.json" || rc=1

tb_log "off: kernel_events = off on h2"
ct_kev_off h2
run off
ct_no_origin_h1 "$TB_T/off.who.json" || rc=1
run direct-off direct
ct_no_origin_h1 "$TB_T/direct-off.who.json" || rc=1
[ $rc = 0 ] || tb_fail "the io_uring bind shell's chain with kernel events"
echo "PASS: the io_uring bind shell's chain reaches h1 through the kernel's passive open and close events"
