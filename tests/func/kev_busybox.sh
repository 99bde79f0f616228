#!/bin/sh
# kev_busybox.sh — a static busybox pipeline from an ssh session h1 -> h2
# (issue 13 Done-when 1d): Debian's busybox-static runs
# `busybox sh -c 'busybox cat | busybox nc H3 22'` from the session's shell;
# no process of it is shimmed (a static binary: LD_PRELOAD does nothing).
#   on / off (kernel_events on h2, then off with a fresh collector): `who`
#   for nc's connection is one chain, origin h1: nc <creator< sh (its
#   pipe's writer cat, a sibling, only through the same sh) (<creator< bash)
#   <- sshd <tcp< h1, the nc `seen: kernel-events` (on) or `kernel` (off).
# SKIP without busybox-static, or when the kernel event source cannot load.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
BB=/bin/busybox
[ -x $BB ] || tb_skip "no $BB (busybox-static)"
readelf -l $BB 2>/dev/null | grep -q INTERP && tb_skip "$BB is not static (install busybox-static)"
cs_setup
tb_kev_need h2

SSHD='h2:sshd( <(creator|unix|fdpass)< h2:sshd)*'
BBK='h2:busybox(\[kernel\])?' # (the path marks "seen: kernel" only, not kernel-events)
sess() { echo "$BBK( <(creator|pipe)< $BBK)*( <creator< h2:bash)? <(creator|pty)< $SSHD <tcp< conn:$(cs_re "$CS_H1")"; }
PROCS='h2:sshd+,h2:bash?,h2:busybox,h2:busybox?,h2:busybox'

# seen TAG WANT : the subject's (nc's) "seen"
seen() {
	"$TB_PY" -c 'import json, sys
t = json.load(open(sys.argv[1])).get("tree") or {}
print("    nc seen: %s" % t.get("seen"))
sys.exit(0 if t.get("seen") == sys.argv[2] else 1)' "$TB_T/$1.who.json" "$2"
}

run() { # TAG
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 \"$BB sh -c '$BB cat | $BB nc $CS_H3 22'; true\""
	ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "$1: no busybox nc connection on h2"; }
	ct_case "$1: busybox nc's connection: who" "" cs_who "$CT_P" "$1" "$CS_H1=$(sess)=$PROCS"
}

tb_log "on: kernel events on h2"
run on
ct_case "on: nc seen by kernel events" "" seen on kernel-events
tb_log "off: kernel_events = off on h2"
ct_kev_off h2
run off
ct_case "off: nc seen from /proc" "" seen off kernel
ct_finish
