#!/bin/sh
# kev_spawn.sh — a static program that has a child fetch its orders (issue 13,
# channel events: a pipe the shim cannot see, known from the fork): on h2 a
# static program (tests/helpers/fifo_orders.c `spawn`, linked statically
# here; started by the testbed, not from a session: its own lineage is local)
# makes a pipe and forks a child that connects to h1:9000 and copies the
# orders into the pipe until h1 closes, then exits; the parent reads the pipe
# to EOF, closes it, and connects to h3:22 (a Go program's
# exec.Command(...).Output()). Nobody read the parent's fds while it held the
# pipe, and the child is gone.
#   on   h2's collector took the parent's pipe from the child's fork event
#        (KEV_FDS at the fork: what the child got, the parent held), the
#        child's end and its connection to h1 from its exit and TCP events:
#        `who` for the parent's connection to h3:22 is one chain, origin h1,
#        through the pipe and the child's connection
#   off  the same with `kernel_events = off` on h2 (a fresh run): no chain
#        reaches h1 (the parent's origin is local)
# Removing fork_apply()'s holds (collector/graph_kev.c) makes "on" fail.
# SKIP when the kernel event source cannot load, or no static link here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
BIN=$TB_T/fifo_orders
ct_static "$BIN" fifo_orders.c
ct_setup
ct_kev_need h2

# run TAG: one run; the who answer of the parent's connection in $TB_T/TAG.who.json
run() {
	tb_bg h1 sh -c "echo 'go to h3' | nc -N -l 9000"
	tb_wait_port h1 9000 || tb_fail "$1: no controller on h1"
	tb_bg h2 "$BIN" spawn "$CT_H1" 9000 "$CT_H3" 22
	blog=$TB_LASTLOG
	ct_wait_new_onward 15 || { cat "$blog"; tb_fail "$1: no onward connection"; }
	grep -q "orders: go to h3" "$blog" || tb_fail "$1: no orders read ($(cat "$blog"))"
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$1.who.json" || { cat "$TB_T/$1.who.json"; return 1; }
	tb_exec h2 "$TB_HOPTRACE" status | grep -E 'holds_from_kernel_events' | sed "s/^/    $1: /"
}

rc=0
tb_log "on: kernel events on h2"
run on
"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/on.who.json" --leaves "$CT_H1" \
	--path "$CT_H1=h2:fifo_orders\\[kernel\\] <pipe< h2:fifo_orders <tcp< out:$CT_H1" || rc=1
# (h1's `nc -l` may not answer for its closed connection: the origin is then
# h1's address, as in kev_rat.sh)
"$TB_PY" - "$TB_T/on.who.json" "$CT_H1" <<'PY' || rc=1
import json, sys
a = json.load(open(sys.argv[1]))
ch = a.get("chains") or []
o = [c.get("origin_host") for c in ch]
print("    on: origins %s, dst %s" % (o, [c.get("dst") for c in ch]))
sys.exit(0 if len(ch) == 1 and o[0] in ("h1", sys.argv[2]) and
         ch[0].get("dst", "").endswith(":22") else 1)
PY

tb_log "off: kernel_events = off on h2"
ct_kev_off h2
run off
ct_no_origin_h1 "$TB_T/off.who.json" || rc=1
[ $rc = 0 ] || tb_fail "the static program's chain through its fetcher child with kernel events"
echo "PASS: the parent's chain reaches h1 through the pipe known from its child's fork and the child's connection"
