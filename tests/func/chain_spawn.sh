#!/bin/sh
# chain_spawn.sh — children created through libc entry points a PLT hook does not
# see through fork (tests/helpers/spawner: system, popen, posix_spawnp, forkpty,
# daemon) inside an ssh session from h1 to h2: the child that connects to
# h3:22 reaches h1's connection through its creator lineage; a child given
# its parent's connection on stdin/stdout by vfork or posix_spawnp's file
# actions (spawner vfork_fd, posix_spawn_fd) does the same. Plus a
# `setsid nohup sh -c 'sleep 5; nc …' &` whose ssh session has ended before the
# connect (origin h1 by creator lineage), and the RAT pattern
# (connect_read_close: connect to h1:9000, read, close, connect to h3) → h1 by
# recent history. Checks: tests/lib/chaintest.sh.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
ct_setup
NC=h2:nc.openbsd
SP=h2:spawner
SSHD="h2:sshd( <(creator|unix|pipe)< h2:sshd)*"   # sshd monitor/session (not the [kernel] listener)
IN="<tcp< \\w+:$CT_H1"
E="(creator|pipe)"   # a child reaches its creator by lineage or by the stdio it inherited
CT_H1PROCS="h1:ssh?,"
BASH="h2:bash"

# spawn MODE [SHELLWORDS] : ssh h1 -> h2 running `spawner MODE nc -d H3 22`
spawn() {
	tb_bg h1 ssh "$CT_H2" "$TB_HELPERS/spawner" "$1" nc -d "$CT_H3" 22
	ct_wait_new_onward 10 || tb_fail "$1: no onward connection"
}

# the nc is reached from spawner, by creator or by the channel spawner gave it
# (system/popen: through sh -c); bash -c may have exec'd spawner itself
tb_log "system()"
spawn system; p=$CT_P
P="$NC <$E< h2:dash <$E< $SP( <$E< $BASH)? <$E< $SSHD $IN"
ct_case "system chain" "" ct_check_pid "$p" system "$P" "h2:sshd+,$BASH?,$SP,h2:dash,$NC"
ct_case "system who" "" ct_check_who "$p" system "$P" "h2:sshd+,$BASH?,$SP,h2:dash,$NC"

tb_log "popen()"
spawn popen; p=$CT_P
ct_case "popen chain" "" ct_check_pid "$p" popen "$P" "h2:sshd+,$BASH?,$SP,h2:dash,$NC"

tb_log "posix_spawnp()"
spawn posix_spawnp; p=$CT_P
P="$NC <$E< $SP( <$E< $BASH)? <$E< $SSHD $IN"
ct_case "posix_spawnp chain" "" ct_check_pid "$p" pspawn "$P" "h2:sshd+,$BASH?,$SP,$NC"
ct_case "posix_spawnp who" "" ct_check_who "$p" pspawn "$P" "h2:sshd+,$BASH?,$SP,$NC"

# inetd-style: spawner connects to h3:22 itself, then a child given the
# connection on its stdin and stdout (every other descriptor from 3 closed)
# execs `sleep`; the parent closes its copy. The child made by vfork() sends
# nothing before its exec (docs/shim.md "What the program can observe"), the
# one by posix_spawnp's file actions nothing at all: the collector must have
# the child's descriptors from the kernel (its image's IMAGE, SPAWN), not its
# parent's, to find the holder's whole chain.
# spawn_fd MODE : waits for sleep (the holder) to be the connection's only one
spawn_fd() {
	tb_bg h1 ssh "$CT_H2" "$TB_HELPERS/spawner" "$1" "$CT_H3" 22 sleep 60
	_sf=0
	while ct_wait_new_onward 10; do
		[ "$(tb_exec h2 cat /proc/$CT_P/comm 2>/dev/null)" = sleep ] && return 0
		_sf=$((_sf + 1)); [ $_sf -lt 5 ] || break
	done
	tb_fail "$1: no sleep holding an onward connection"
}
for m in vfork_fd posix_spawn_fd; do
	tb_log "$m: the connection on a spawned sleep's stdin and stdout"
	spawn_fd $m; p=$CT_P
	P="h2:sleep <$E< $SP( <$E< $BASH)? <$E< $SSHD $IN"
	ct_case "$m who" "" ct_check_who "$p" $m "$P" "h2:sshd+,$BASH?,$SP,h2:sleep"
done

tb_log "forkpty()"
spawn forkpty; p=$CT_P
P="$NC <(creator|pty)< $SP( <$E< $BASH)? <$E< $SSHD $IN"
ct_case "forkpty chain" "" ct_check_pid "$p" forkpty "$P" "h2:sshd+,$BASH?,$SP,$NC"

tb_log "daemon()"
spawn daemon; p=$CT_P
P="$NC <creator< $SP <creator< $SP( <creator< $BASH)? <creator< $SSHD $IN"
# daemon(): spawner forks; the child (spawner too) forks again and execs nc
# (daemon(1,1) keeps the session's stdio: nc may reach sshd by that pipe directly)
P="$NC( <$E< $SP)*( <$E< $BASH)? <$E< $SSHD $IN"
ct_case "daemon chain" "" ct_check_pid "$p" daemon "$P" "h2:sshd+,$BASH?,$SP?,$SP?,$NC"
ct_case "daemon who" "" ct_check_who "$p" daemon "$P" "h2:sshd+,$BASH?,$SP?,$SP?,$NC"

tb_log "setsid nohup sh -c 'sleep 5; nc …' & from a session that has ended"
t0=$(date +%s)
tb_exec h1 ssh "$CT_H2" "setsid nohup sh -c 'sleep 5; exec nc -d $CT_H3 22' >/dev/null 2>&1 </dev/null &" ||
	tb_fail "setsid: ssh failed"
sleep 1
tb_exec h2 ss -Htn state established "( sport = :22 and dst $CT_H1 )" | grep -q . &&
	echo "   (note: other sessions from h1 are still open; this one has ended)"
ct_wait_new_onward 15 || tb_fail "setsid: no onward connection"; p=$CT_P
echo "   connected $(( $(date +%s) - t0 )) s after the session started; session gone"
# `exec nc` replaces dash (itself exec'd by nohup, by setsid): one process,
# unless setsid had to fork; the session is gone, so h1 cannot be asked (404):
# the origin is h1's address, through the lineage the collector kept
P="$NC( <creator< h2:(dash|setsid|nohup))*( <creator< $BASH)? <creator< $SSHD $IN"
ct_case "setsid chain" "" ct_check_pid "$p" setsid "$P" "h2:sshd+,$BASH?,$NC"
ct_case "setsid who" "" ct_check_who "$p" setsid "$P" "h2:sshd+,$BASH?,$NC"

tb_log "RAT: connect to h1:9000, read orders, close, then connect to h3"
tb_bg h1 sh -c "echo 'go to h3' | nc -N -l 9000"
tb_wait_port h1 9000 || tb_fail "rat: no controller on h1"
tb_bg h2 sh -c "sleep 60 | exec $TB_HELPERS/connect_read_close $CT_H1 9000 $CT_H3 22"
ct_wait_new_onward 10 || tb_fail "rat: no onward connection"; p=$CT_P
grep -q "orders: go to h3" "$TB_LASTLOG" || tb_fail "rat: no orders read ($(cat "$TB_LASTLOG"))"
RAT=h2:connect_read_close
ct_rat_chain() {
	tb_exec h2 "$TB_HOPTRACE" chain "$1" --json >"$TB_T/rat.chain.json" || return 1
	"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/rat.chain.json" --leaves "$CT_H1,$CT_H3" \
		--path "$CT_H1=$RAT <tcp< out:$CT_H1" &&
	tb_assert_chain "$TB_T/rat.chain.json" --origin "$CT_H1" --procs "$RAT" --src "$CT_H1:9000"
}
ct_case "rat chain" "" ct_rat_chain "$p"
ct_rat_who() {
	_lr=$(ct_onward "$1")
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/rat.who.json" || return 1
	"$TB_PY" "$TB_LIB/chainpath.py" "$TB_T/rat.who.json" --leaves "$CT_H1" --path "$CT_H1=$RAT <tcp< out:$CT_H1" &&
	tb_assert_chain "$TB_T/rat.who.json" --origin "$CT_H1" --procs "$RAT" --count 1 --dst "$CT_H3:22"
}
ct_case "rat who" "" ct_rat_who "$p"

ct_finish
