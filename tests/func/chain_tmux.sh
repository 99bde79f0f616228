#!/bin/sh
# chain_tmux.sh — exact chains through tmux on h2 (tests/lib/chainsess.sh):
#   attached (root, and htuser: sshd's privilege-separated child): ssh h1->h2,
#     tmux started in that session, `nc h3 22` typed in a pane: origin h1 only,
#     through the tmux server (pane pty, the client's tty received by SCM_RIGHTS)
#   detached and re-attached from h4: the h1 client detaches (its ssh session
#     ends), `ssh -tt h2 tmux attach` from h4, `nc h3 22` in the old pane:
#     origins h4 (live, through the server's received tty) AND h1 (the pane
#     was born while h1 was attached)
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
tb_need tmux nc
cs_setup

# tm SOCK ARGS... : tmux on h2 as root (the server lets root in)
tm() { _s=$1; shift; tb_exec h2 tmux -S "$_s" "$@"; }
# wait_tm SOCK SESSION : until the session exists and a client is attached
wait_tm() {
	_i=0
	until [ -n "$(tm "$1" list-clients -t "$2" 2>/dev/null)" ]; do
		_i=$((_i + 1)); [ $_i -lt 100 ] || return 1; sleep 0.1
	done
}
# pane_pid SOCK SESSION
pane_pid() { tm "$1" list-panes -t "$2" -F '#{pane_pid}'; }
# type_nc SOCK SESSION : run `nc h3 22` in the pane (its shell stays), wait for it
type_nc() {
	_i=0
	until tm "$1" capture-pane -p -t "$2" | grep -q '[#$] *$'; do   # a prompt
		_i=$((_i + 1)); [ $_i -lt 100 ] || { tm "$1" capture-pane -p -t "$2"; return 1; }; sleep 0.1
	done
	tm "$1" send-keys -t "$2" "nc $CS_H3 22" Enter
	ct_wait_new_onward || { tm "$1" capture-pane -p -t "$2"; return 1; }
}

NC='h2:nc\.openbsd'
TM='h2:tmux'
SSHD='h2:sshd( <(creator|unix|fdpass)< h2:sshd)*'   # monitor, privsep child
# the pane's nc: from the pane pty (or its shell's creator link) to the tmux
# server; then to the session's sshd through the attached client's tty (the
# server received it by SCM_RIGHTS: fdpass), the client, or the server's
# creator lineage (daemonised from the first client). A shell holding the same
# pty SLAVE as nc moves no data to it: `nc <pty< bash` is wrong.
FROM_SRV="( <(fdpass|creator|unix)< $TM)* <(pty|fdpass|creator)< $SSHD <tcp< conn:"
# (the creator is walked first and each connection is reported once: the pane
# shell's creator lineage to the server is as right as the pane pty)
to_sshd() { echo "$NC( <creator< h2:bash)? <(pty|creator)< $TM$FROM_SRV$(cs_re "$1")"; }
sh_to_sshd() { echo "h2:bash <(pty|creator)< $TM$FROM_SRV$(cs_re "$1")"; }

for who in root htuser; do
	tb_log "attached ($who)"
	s=/tmp/ta-$who
	tb_bg h1 sh -c "sleep 600 | ssh -tt $who@$CS_H2 tmux -S $s new-session -s a"
	wait_tm "$s" a || { cat "$TB_LASTLOG"; tb_fail "tmux ($who): no attached client"; }
	[ "$who" = htuser ] && tm "$s" server-access -a root 2>/dev/null
	type_nc "$s" a || tb_fail "tmux ($who): no nc from the pane"
	p=$CT_P
	procs='h2:sshd+,h2:tmux+,h2:bash?,h2:nc.openbsd'
	ct_case "tmux attached $who: who" "" cs_who "$p" "ta-$who" "$CS_H1=$(to_sshd "$CS_H1")=$procs"
	pp=$(pane_pid "$s" a)
	ct_case "tmux attached $who: chain of the pane shell" "" cs_chain "$pp" "ta-$who-sh" \
		"$CS_H1=$(sh_to_sshd "$CS_H1")=h2:sshd+,h2:tmux+,h2:bash"
	tm "$s" kill-server
done

tb_log "detached, re-attached from h4"
s=/tmp/td
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 tmux -S $s new-session -s d"
h1log=$TB_LASTLOG
wait_tm "$s" d || { cat "$h1log"; tb_fail "tmux: no client from h1"; }
pp=$(pane_pid "$s" d)
tm "$s" detach-client -s d
i=0; while [ -n "$(tb_pid_of h2 'sshd: root@')" ]; do
	i=$((i + 1)); [ $i -lt 100 ] || tb_fail "h1's session did not end after detach"; sleep 0.1
done
tb_bg h4 sh -c "sleep 600 | ssh -tt root@$CS_H2 tmux -S $s attach -t d"
wait_tm "$s" d || { cat "$TB_LASTLOG"; tb_fail "tmux: no client from h4"; }
[ "$(pane_pid "$s" d)" = "$pp" ] || tb_fail "not the old pane"
type_nc "$s" d || tb_fail "tmux re-attached: no nc from the old pane"
p=$CT_P
# h4: live, through the server's received tty; h1: the pane's shell was born
# while h1's client was attached (creator lineage at birth, the session gone)
# (h1 may be reached twice: through the first client's tty, and through a
# client another h1 session ran at the pane's birth, whose sshd the server fed)
H1PATH="$NC <creator< h2:bash <creator< $TM( <(fdpass|creator|unix|pty)< (h2:tmux|h2:sshd))* <tcp< conn:$(cs_re "$CS_H1")"
ct_case "tmux re-attached: who" "" cs_who "$p" td "$CS_H4=$(to_sshd "$CS_H4")" "$CS_H1=$H1PATH"
tm "$s" kill-server
ct_finish
