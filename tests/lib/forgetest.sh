# tests/lib/forgetest.sh — the bed of the forged-record attacks
# (tests/func/attack_forge.sh, tests/func/attack_claimed_addr.sh), sourced after
# testbed.sh and chaintest.sh, once ct_setup ran:
#   fg_victim          root's session from h1 on h2 (`ssh -tt root@h2`): sshd
#                      holds its connection from h1 and its pty master; the
#                      session writes /tmp/ended.pid (a process of it that has
#                      ended), /tmp/victim.pid and /tmp/victim.tty on h2
#   fg_attack VARIANT  tests/lib/forge_records.py VARIANT as nobody on h2; its
#                      connection's `who` answer in $TB_T/VARIANT.json, the
#                      refused claims before it in $FG_BEFORE, the attacker's
#                      pid in $FG_PID
#   fg_refused         the claims h2's collector refused or left unconfirmed so far

fg_victim() {
	chmod 755 "$TB_T"
	cp "$TB_LIB/forge_records.py" "$TB_T/forge.py" && cp "$TB_LIB/htrec.py" "$TB_T/" &&
		chmod 644 "$TB_T/forge.py" "$TB_T/htrec.py" || tb_fail "forge_records.py"
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'sh -c \"echo \\\$\\\$ >/tmp/ended.pid\"; tty >/tmp/victim.tty; echo \$\$ >/tmp/victim.pid; exec sleep 600'"
	_fg_i=0
	until tb_exec h2 sh -c 'test -s /tmp/ended.pid && test -s /tmp/victim.pid && test -s /tmp/victim.tty'; do
		_fg_i=$((_fg_i + 1))
		[ $_fg_i -lt 100 ] || tb_fail "root's session on h2 did not start"
		sleep 0.1
	done
	sleep 0.5
}

fg_refused() {
	tb_exec h2 "$TB_HOPTRACE" status --json | "$TB_PY" -c 'import json,sys; a=json.load(sys.stdin); print(a.get("rejected",{}).get("contradicted",0) + sum(v for k,v in a.get("claims",{}).items() if k.startswith(("unconfirmed","refused")) and isinstance(v,int)))'
}

fg_attack() {
	FG_BEFORE=$(fg_refused)
	# image: a process the graph has not heard of yet (its IMAGE is the
	# forged one): started with the shim switched off — which a root
	# process may do; for nobody's own python the shim then ignores it
	[ "$1" = image ] && export HOPTRACE_DISABLE=1
	tb_bg h2 setpriv --reuid nobody --regid nogroup --clear-groups "$TB_PY" "$TB_T/forge.py" "$1" "$CT_H1" "$CT_H3" "$CT_H2"
	FG_PID=$TB_LAST _fg_log=$TB_LASTLOG
	unset HOPTRACE_DISABLE
	_fg_i=0; until [ -s "$_fg_log" ] || [ $_fg_i -ge 60 ]; do _fg_i=$((_fg_i + 1)); sleep 0.1; done
	_fg_ends=$(head -n 1 "$_fg_log")
	case $_fg_ends in *:*" "*:*) ;; *) cat "$_fg_log"; tb_fail "$1: the attacker did not connect" ;; esac
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_fg_ends --json >"$TB_T/$1.json" 2>&1
}
