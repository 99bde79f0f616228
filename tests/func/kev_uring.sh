#!/bin/sh
# kev_uring.sh — an io_uring connect (liburing, IORING_OP_CONNECT) from an
# ssh session h1 -> h2 (issue 13 Done-when 1c): tests/helpers/uring_connect,
# built here against Debian's liburing, connects to h3:22 and holds it; the
# shim is preloaded in it but its connect never goes through libc.
#   on / off (kernel_events on h2, then off with a fresh collector): `who`
#   for that connection is one chain, origin h1, the exact path uring_connect
#   (<creator< bash) <- sshd <tcp< h1.
# SKIP without liburing, or when the kernel event source cannot load.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
UR_BIN=$TB_T/uring_connect
${CC:-cc} -O2 -std=gnu11 -D_GNU_SOURCE -o "$UR_BIN" "$HT_TOP/tests/helpers/uring_connect.c" -luring \
	2>"$TB_T/uring.err" || tb_skip "no liburing (liburing-dev): $(head -n 1 "$TB_T/uring.err")"
cs_setup
tb_kev_need h2

SSHD='h2:sshd( <(creator|unix|fdpass)< h2:sshd)*'
sess() { echo "h2:uring_connect(\\[kernel\\])?( <creator< h2:bash)? <(creator|pty)< $SSHD <tcp< conn:$(cs_re "$CS_H1")"; }
PROCS='h2:sshd+,h2:bash?,h2:uring_connect'

run() { # TAG
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 '$UR_BIN $CS_H3 22; true'"
	ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "$1: no io_uring connection on h2"; }
	ct_case "$1: io_uring connection: who" "" cs_who "$CT_P" "$1" "$CS_H1=$(sess)=$PROCS"
}

tb_log "on: kernel events on h2"
run on
tb_log "off: kernel_events = off on h2"
ct_kev_off h2
run off
ct_finish
