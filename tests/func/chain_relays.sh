#!/bin/sh
# chain_relays.sh — exact chains of relays on h2, fed by a connection from h1,
# connecting onward to h3:22 (tests/lib/chaintest.sh explains the checks):
#   pipe      sh -c 'nc -l 9000 | nc H3 22'
#   fifo+pipe nc -l 9001 <fifo | nc H3 22 >fifo
#   fifo      nc -l 9006 >fifo & exec nc H3 22 <fifo  (the FIFO is the only channel);
#             the same with a shell that waits (its vfork child the subject)
#   unix      socat TCP-LISTEN:9002 UNIX-CONNECT:/tmp/s + socat UNIX-LISTEN:/tmp/s TCP:H3:22
#   loopback  socat TCP-LISTEN:9003 TCP:127.0.0.1:9103 + socat TCP-LISTEN:9103 TCP:H3:22
#   fork      socat TCP-LISTEN:9004,fork TCP:H3:22, a first client from h3, then
#             `ssh -p 9004 h2` from h1: the child for h1 has h1 only
#   threaded  tests/helpers/threaded_relay 9005 H3 22 (accept, connect from a thread)
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc socat
ct_setup
NC=h2:nc.openbsd
IN="<tcp< \\w+:$CT_H1"
# h1's part when the upstream is followed: nc and the sleep that feeds its stdin
# (a pipe writer at the origin is a source: docs/chain-model.md)
CT_H1PROCS="h1:sleep?,h1:nc.openbsd?,"

# feed PORT : a long-lived connection from h1 to h2:PORT
feed() { tb_bg h1 sh -c "sleep 60 | nc $CT_H2 $1"; }

tb_log "pipe relay"
tb_bg h2 sh -c "nc -l 9000 | nc $CT_H3 22"
tb_wait_port h2 9000 || tb_fail "pipe relay: no listener"
feed 9000
ct_wait_holder h2 "( sport = :9000 and dst $CT_H1 )" >/dev/null || tb_fail "pipe relay: h1 did not connect"
ct_wait_new_onward || tb_fail "pipe relay: no onward connection"; p=$CT_P
ct_case "pipe chain" "" ct_check_pid "$p" pipe "$NC <pipe< $NC $IN" "$NC,$NC"
ct_case "pipe who" "" ct_check_who "$p" pipe "$NC <pipe< $NC $IN" "$NC,$NC"

tb_log "FIFO + pipe relay"
tb_exec h2 mkfifo /tmp/f1
tb_bg h2 sh -c "nc -l 9001 </tmp/f1 | nc $CT_H3 22 >/tmp/f1"
tb_wait_port h2 9001 || tb_fail "fifo relay: no listener"
feed 9001
ct_wait_holder h2 "( sport = :9001 and dst $CT_H1 )" >/dev/null || tb_fail "fifo relay: h1 did not connect"
ct_wait_new_onward || tb_fail "fifo relay: no onward connection"; p=$CT_P
# both a pipe and the FIFO join the two nc: either edge is right
ct_case "fifo+pipe chain" "" ct_check_pid "$p" fifo1 "$NC <(pipe|fifo)< $NC $IN" "$NC,$NC"

tb_log "FIFO-only relay"
tb_exec h2 mkfifo /tmp/f2 /tmp/f3
# exec: the shell does not stay around holding the FIFO
tb_bg h2 sh -c "nc -l 9006 >/tmp/f2 & exec nc $CT_H3 22 </tmp/f2"
tb_wait_port h2 9006 || tb_fail "fifo-only relay: no listener"
feed 9006
ct_wait_holder h2 "( sport = :9006 and dst $CT_H1 )" >/dev/null || tb_fail "fifo-only relay: h1 did not connect"
ct_wait_new_onward || tb_fail "fifo-only relay: no onward connection"; p=$CT_P
ct_case "fifo chain" "" ct_check_pid "$p" fifo2 "$NC <fifo< $NC $IN" "$NC,$NC"
ct_case "fifo who" "" ct_check_who "$p" fifo2 "$NC <fifo< $NC $IN" "$NC,$NC"

# the same with a shell that waits: dash (vfork) opens `<fifo` on its own fd 0
# and keeps it there until the child exits — it holds the subject's (read) end
# of the FIFO and moves no data: by the model ("the other holders of the OTHER
# end") it is not on the path
tb_bg h2 sh -c "nc -l 9007 >/tmp/f3 & nc $CT_H3 22 </tmp/f3; wait"
tb_wait_port h2 9007 || tb_fail "fifo relay (waiting shell): no listener"
feed 9007
ct_wait_holder h2 "( sport = :9007 and dst $CT_H1 )" >/dev/null || tb_fail "fifo relay (waiting shell): h1 did not connect"
ct_wait_new_onward || tb_fail "fifo relay (waiting shell): no onward connection"; p=$CT_P
# The subject is dash's vfork child: its BIRTH and EXEC travel on a momentary
# connection, its new image's IMAGE registers a ring; it is seen by the shim
# however the collector's drain rounds read them (session 12's CI saw it
# `[kernel]`: an IMAGE refused as "no exec in the kernel's events", or the
# EXEC applied after it — tests/func/kev_image_order.sh)
ct_case "fifo chain, waiting shell" "" ct_check_pid "$p" fifo3 "$NC <fifo< $NC $IN" "$NC,$NC"

SO=h2:socat
tb_log "unix-socket relay (socat)"
tb_bg h2 socat UNIX-LISTEN:/tmp/s "TCP:$CT_H3:22"
i=0; until tb_exec h2 test -S /tmp/s; do i=$((i + 1)); [ $i -lt 50 ] || tb_fail "no /tmp/s"; sleep 0.1; done
tb_bg h2 socat TCP-LISTEN:9002,reuseaddr UNIX-CONNECT:/tmp/s
tb_wait_port h2 9002 || tb_fail "unix relay: no listener"
feed 9002
ct_wait_new_onward || tb_fail "unix relay: no onward connection"; p=$CT_P
ct_case "unix chain" "" ct_check_pid "$p" unix "$SO <unix< $SO $IN" "$SO,$SO"
ct_case "unix who" "" ct_check_who "$p" unix "$SO <unix< $SO $IN" "$SO,$SO"

tb_log "loopback TCP relay (two socats through 127.0.0.1)"
tb_bg h2 socat TCP-LISTEN:9103,bind=127.0.0.1,reuseaddr "TCP:$CT_H3:22"
tb_wait_port h2 9103 || tb_fail "loopback relay: no inner listener"
tb_bg h2 socat TCP-LISTEN:9003,reuseaddr TCP:127.0.0.1:9103
tb_wait_port h2 9003 || tb_fail "loopback relay: no listener"
feed 9003
p=$(ct_wait_holder h2 "( sport = :9103 )") || tb_fail "loopback relay: no inner connection"
i=0; until [ -n "$(ct_onward "$p")" ]; do i=$((i + 1)); [ $i -lt 50 ] || tb_fail "loopback relay: not connected"; sleep 0.1; done
ct_case "loopback chain" "" ct_check_pid "$p" loop "$SO <tcp< $SO $IN" "$SO,$SO"
ct_case "loopback who" "" ct_check_who "$p" loop "$SO <tcp< $SO $IN" "$SO,$SO"

CT_H1PROCS="h1:ssh?,"
tb_log "forking listener (socat fork): a first client from h3, then ssh from h1"
tb_bg h2 socat TCP-LISTEN:9004,fork,reuseaddr "TCP:$CT_H3:22"
tb_wait_port h2 9004 || tb_fail "fork relay: no listener"
tb_bg h3 sh -c "sleep 60 | nc $CT_H2 9004"
ct_wait_holder h2 "( sport = :9004 and dst $CT_H3 )" >/dev/null || tb_fail "fork relay: h3 did not connect"
tb_bg h1 ssh -p 9004 "$CT_H2" sleep 60      # lands on h3's sshd through the relay
ct_wait_holder h2 "( sport = :9004 and dst $CT_H1 )" >/dev/null || tb_fail "fork relay: h1 did not connect"
# the child: the holder of h1's connection that connected onward (the listener
# holds the accepted socket too until it has forked)
p="" i=0
while [ -z "$p" ]; do
	for q in $(tb_exec h2 ss -Htnp state established "( sport = :9004 and dst $CT_H1 )" 2>/dev/null |
			grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -un); do
		[ -n "$(ct_onward "$q")" ] && p=$q
	done
	i=$((i + 1)); [ $i -lt 100 ] || tb_fail "fork relay: no child connected onward"
	[ -n "$p" ] || sleep 0.1
done
# the child for h1: its own accepted connection only (not h3's client, not the listener's)
# (the h1 connection is reached directly or through the listener, which held it
# when it forked the child: both are right)
ct_case "fork chain" "" ct_check_pid "$p" fork "$SO( <creator< $SO)? $IN" "$SO?,$SO"
ct_case "fork who" "" ct_check_who "$p" fork "$SO( <creator< $SO)? $IN" "$SO?,$SO"

CT_H1PROCS="h1:sleep?,h1:nc.openbsd?,"
tb_log "multi-threaded relay"
tb_bg h2 "$TB_HELPERS/threaded_relay" 9005 "$CT_H3" 22
tb_wait_port h2 9005 || tb_fail "threaded relay: no listener"
feed 9005
p=$(ct_wait_holder h2 "( sport = :9005 and dst $CT_H1 )") || tb_fail "threaded relay: h1 did not connect"
i=0; until [ -n "$(ct_onward "$p")" ]; do i=$((i + 1)); [ $i -lt 50 ] || tb_fail "threaded relay: not connected"; sleep 0.1; done
TR=h2:threaded_relay
ct_case "threaded chain" "" ct_check_pid "$p" thr "$TR $IN" "$TR"
ct_case "threaded who" "" ct_check_who "$p" thr "$TR $IN" "$TR"

ct_finish
