#!/bin/sh
# kev_vfork.sh — a vfork'd child that connects (issue 13 Done-when 1):
# tests/helpers/vfork_connect linked statically, run from an ssh session
# h1 -> h2; its vfork child connects to h3:22 with raw syscalls before any
# exec and holds the connection. The shim sees neither process.
#   on   (kernel events on h2) `who` for the child's connection: one chain,
#        origin h1, the path child <creator< parent <creator< (bash) <- sshd
#        <tcp< h1; the child `seen: kernel-events` (its creator from the
#        kernel's fork event), the parent `seen: kernel` (a /proc read: the
#        session's bash exec'd a static image that sends no IMAGE)
#   off  `kernel_events = off` on h2 (a fresh collector): the same origin h1
#        from /proc snapshots (today's answer), the two processes `seen: kernel`
# SKIP when the kernel event source cannot load, or no static link here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
VF_BIN=$TB_T/vfork_connect
ct_static "$VF_BIN" vfork_connect.c
cs_setup
tb_kev_need h2

SSHD='h2:sshd( <(creator|unix|fdpass)< h2:sshd)*'
# (the path marks "seen: kernel" only; who saw each is checked by seen())
VF='h2:vfork_connect(\[kernel\])? <creator< h2:vfork_connect\[kernel\]'
sess() { echo "$VF( <creator< h2:bash)? <(creator|pty)< $SSHD <tcp< conn:$(cs_re "$CS_H1")"; }
PROCS='h2:sshd+,h2:bash?,h2:vfork_connect,h2:vfork_connect'

# seen TAG CHILD PARENT : the "seen" of the two vfork_connect nodes on the
# path, the child (the subject) first
seen() {
	"$TB_PY" - "$TB_T/$1.who.json" "$2" "$3" <<'PY'
import json, os, sys
a = json.load(open(sys.argv[1]))
got = []
def walk(n, d=0):
    if not isinstance(n, dict) or d > 100:
        return
    if n.get("type") not in ("conn", "origin") and os.path.basename(str(n.get("exe"))) == "vfork_connect":
        got.append(n.get("seen"))
    for s in n.get("sources") or []:
        if isinstance(s, dict):
            walk(s.get("node"), d + 1)
walk(a.get("tree"))
got = got[:2]
print("    seen (child, parent): %s" % got)
sys.exit(0 if got == sys.argv[2:4] else 1)
PY
}

run() { # TAG
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 '$VF_BIN $CS_H3 22; true'"
	ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "$1: no vfork child connected on h2"; }
	ct_case "$1: vfork child's connection: who" "" cs_who "$CT_P" "$1" "$CS_H1=$(sess)=$PROCS"
}

tb_log "on: kernel events on h2"
run on
# the child's creator is the kernel's fork event; the parent (bash's exec of
# a static image, no IMAGE record) is known from /proc
ct_case "on: the child seen by kernel events" "" seen on kernel-events kernel

tb_log "off: kernel_events = off on h2"
ct_kev_off h2
run off
ct_case "off: both seen from /proc" "" seen off kernel kernel
ct_finish
