#!/bin/sh
# kev_accept.sh — a bind shell the shim cannot see (issue 13, channel events:
# TCP accept): on h2 a static program (tests/helpers/fifo_orders.c `listen`,
# linked statically here; started by the testbed, not from a session: its
# own lineage is local) listens on 9000; h1 connects and sends its orders;
# the program reads them, closes that connection and its listener, then
# connects to h3:22. By then nothing but the kernel knows it ever held h1's
# connection.
#   on   h2's collector took the hold from the kernel's passive open
#        (SYN_RECV -> ESTABLISHED, before accept) and its owner's close
#        (FIN_WAIT1): `who` for its connection to h3:22 is one chain, origin
#        h1, through the accepted connection (in:h1), processes h1's nc and
#        the program (h1 answers for its nc's connection, closed by then:
#        the kernel's close event gave h1's graph its local end)
#   off  the same with `kernel_events = off` on h2 (a fresh run): no chain
#        reaches h1 (its origin is local)
# Removing accepted_closed()'s hold (collector/graph_kev.c) makes "on" fail.
# SKIP when the kernel event source cannot load, or no static link here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
BIN=$TB_T/fifo_orders
ct_static "$BIN" fifo_orders.c
ct_setup
ct_kev_need h2

# run TAG: one run; the who answer of its connection to h3:22 in $TB_T/TAG.who.json
run() {
	tb_bg h2 "$BIN" listen 9000 "$CT_H3" 22
	blog=$TB_LASTLOG
	tb_wait_port h2 9000 || tb_fail "$1: no listener on h2"
	tb_bg h1 sh -c "echo 'go to h3' | nc -N $CT_H2 9000"
	ct_wait_new_onward 15 || { cat "$blog"; tb_fail "$1: no onward connection"; }
	grep -q "orders: go to h3" "$blog" || tb_fail "$1: no orders read ($(cat "$blog"))"
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$1.who.json" || { cat "$TB_T/$1.who.json"; return 1; }
	tb_exec h1 "$TB_HOPTRACE" --json graph >"$TB_T/$1.h1graph.json" 2>&1
	tb_exec h1 "$TB_HOPTRACE" kev-dump --json >"$TB_T/$1.h1kev.json" 2>&1
	tb_exec h2 "$TB_HOPTRACE" kev-dump --json >"$TB_T/$1.kev.json" 2>&1
	tb_exec h2 "$TB_HOPTRACE" --json graph >"$TB_T/$1.graph.json" 2>&1
	tb_exec h2 "$TB_HOPTRACE" status | grep -E 'tcp_holds_from_kernel_events' | sed "s/^/    $1: /"
}

rc=0
tb_log "on: kernel events on h2"
run on
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:fifo_orders\\[kernel\\] <tcp< in:$CT_H1" || rc=1
NCB=$(basename "$(readlink -f "$(command -v nc)")") # nc.openbsd here
tb_assert_chain "$TB_T/on.who.json" --origin h1 --count 1 --dst "$CT_H3:22" \
	--procs "h1:$NCB,h2:fifo_orders" || rc=1

tb_log "off: kernel_events = off on h2"
ct_kev_off h2
run off
ct_no_origin_h1 "$TB_T/off.who.json" || rc=1
[ $rc = 0 ] || tb_fail "the unshimmed bind shell's chain with kernel events"
echo "PASS: the static bind shell's chain reaches h1 through the kernel's passive open and close events"
