#!/bin/sh
# chain_screen.sh — chain_tmux.sh with GNU screen on h2: attached (screen started
# in h1's ssh session, `nc h3 22` stuffed into its window: origin h1 through the
# screen backend), then detached and re-attached from h4 (`screen -r` over
# ssh -tt): origins h4 (live, the tty the backend received) AND h1 (the window
# was born while h1 was attached).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
tb_need screen nc
cs_setup
sc() { tb_exec h2 screen "$@"; }
attached() { sc -ls 2>/dev/null | grep -q "\.$1[[:space:]].*(Attached)"; }
wait_att() { _i=0; until attached "$1"; do _i=$((_i + 1)); [ $_i -lt 100 ] || return 1; sleep 0.1; done; }
NC='h2:nc\.openbsd'
SC='h2:screen'
SSHD='h2:sshd( <(creator|unix|fdpass)< h2:sshd)*'
FROM_BE="( <(fdpass|creator|unix)< $SC)* <(pty|fdpass|creator)< $SSHD <tcp< conn:"
# the window's nc reaches the backend through the window pty or, through its
# shell, by creator lineage (the creator is walked first and each connection
# is reported once: either path is the chain model's answer)
to_sshd() { echo "$NC( <creator< h2:bash)? <(pty|creator)< $SC$FROM_BE$(cs_re "$1")"; }

tb_log "attached"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 screen -S sa"
wait_att sa || { cat "$TB_LASTLOG"; tb_fail "screen: not attached"; }
sleep 1
sc -S sa -X stuff "nc $CS_H3 22$(printf '\r')"
ct_wait_new_onward 10 || tb_fail "screen: no nc from the window"
ct_case "screen attached: who" "" cs_who "$CT_P" sa "$CS_H1=$(to_sshd "$CS_H1")=h2:sshd+,h2:screen+,h2:bash?,h2:nc.openbsd"
sc -S sa -X quit

tb_log "detached, re-attached from h4"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 screen -S sd"
wait_att sd || { cat "$TB_LASTLOG"; tb_fail "screen: not attached from h1"; }
sc -S sd -X detach
i=0; while attached sd; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "screen: did not detach"; sleep 0.1; done
tb_bg h4 sh -c "sleep 600 | ssh -tt root@$CS_H2 screen -r sd"
wait_att sd || { cat "$TB_LASTLOG"; tb_fail "screen: not re-attached from h4"; }
sleep 1
sc -S sd -X stuff "nc $CS_H3 22$(printf '\r')"
ct_wait_new_onward 10 || tb_fail "screen re-attached: no nc"
H1PATH="$NC <creator< h2:bash <creator< $SC$FROM_BE$(cs_re "$CS_H1")"
ct_case "screen re-attached: who" "" cs_who "$CT_P" sd "$CS_H4=$(to_sshd "$CS_H4")" "$CS_H1=$H1PATH"
sc -S sd -X quit
ct_finish
