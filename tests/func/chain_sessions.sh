#!/bin/sh
# chain_sessions.sh — ssh sessions into h2 (tests/lib/chainsess.sh):
#   experiment 2: ssh h1->h2, `nc h3 22` from the session's shell: origin h1
#   experiment 1: ssh h1->h2->h3: the ssh on h2: origin h1
#   two concurrent sessions from h1 and h4, each running `nc h3 22`: each
#     connection names its own session's origin only (no spurious origin)
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
tb_need nc
cs_setup

NC='h2:nc\.openbsd'
SSHD='h2:sshd( <(creator|unix|fdpass)< h2:sshd)*'
# the session's command shell stays (`; true`); the onward process reaches
# sshd by its creator lineage (through the shell) or by the session's pty
# (sshd holds the master). The shell holding the same pty SLAVE is no source.
sess() { echo "$1( <creator< h2:bash)? <(creator|pty)< $SSHD <tcp< conn:$(cs_re "$2")"; }

tb_log "experiment 2: ssh h1->h2, nc h3 22"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 'nc $CS_H3 22; true'"
ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "exp2: no nc on h2"; }
ct_case "exp2 nc: who" "" cs_who "$CT_P" exp2 "$CS_H1=$(sess "$NC" "$CS_H1")=h2:sshd+,h2:bash?,h2:nc.openbsd"

tb_log "experiment 1: ssh h1->h2->h3"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 'ssh -tt $CS_H3 sleep 600; true'"
ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "exp1: no ssh on h2"; }
ct_case "exp1 ssh: who" "" cs_who "$CT_P" exp1 "$CS_H1=$(sess h2:ssh "$CS_H1")=h2:sshd+,h2:bash?,h2:ssh"

tb_log "two concurrent sessions (h1, h4)"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 'sleep 1; nc $CS_H3 22; true'"
ct_wait_new_onward 15 || tb_fail "concurrent: no nc from h1's session"; p1=$CT_P
tb_bg h4 sh -c "sleep 600 | ssh -tt root@$CS_H2 'sleep 1; nc $CS_H3 22; true'"
ct_wait_new_onward 15 || tb_fail "concurrent: no nc from h4's session"; p4=$CT_P
ct_case "concurrent, h1's nc: origin h1 only" "" cs_who "$p1" c1 "$CS_H1=$(sess "$NC" "$CS_H1")=h2:sshd+,h2:bash?,h2:nc.openbsd"
ct_case "concurrent, h4's nc: origin h4 only" "" cs_who "$p4" c4 "$CS_H4=$(sess "$NC" "$CS_H4")=h2:sshd+,h2:bash?,h2:nc.openbsd"
ct_finish
