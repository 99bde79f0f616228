#!/bin/sh
# attack_review13_seccomp_lineage.sh — review 13 (session 13), issue 10 (3):
# "lineage cannot be cut by switching the shim off in an intermediate process".
# Since a6f1ac7 an image that starts under an inherited seccomp filter runs
# with the shim off (preload/shim.c seccomp_inherited). Any user can install
# one: PR_SET_NO_NEW_PRIVS + a one-instruction SECCOMP_RET_ALLOW filter, then
# exec (attack_review13_seccomp_lineage.c). Root logs into h2 from h1; as
# nobody, the session starts nc h3 22 through a filtered middle that
# double-forks (the middle exits, nc is re-parented to init; nc inherits the
# filter, so nc's shim is off too):
#   dfork         FILT sh -c '(exec nc &)'
#   setsid        FILT setsid sh -c '(exec nc &)'
#   late          FILT setsid sh -c '(sleep 8; exec nc &)'   (the middles long gone)
# each with the kernel events on, then off. Prints FAIL-CASE for a case whose
# `who` answer for nc's connection does not reach h1 (the lineage cut; the
# output says when the cut chain is at least marked fallback / not complete).
# Session 13 (wt-rev13 at 53f10cb), 3 runs: setsid cut 2/3 with the kernel
# events on, 2/3 off; late 2/3 on, 1/3 off; dfork never (a race: when it
# passes, the chain shows the filter's own shimmed image, h2:filt).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
tb_need setsid
FILT=$TB_T/filt
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$FILT" \
	"$HT_TOP/tests/open/attack_review13_seccomp_lineage.c" || tb_fail "cannot build the helper"
ct_setup

NC="nc $CT_H3 22 </dev/null >/dev/null 2>&1"
printf '%s\n' "$FILT sh -c '(exec $NC &)'" "sleep 600" >"$TB_T/dfork.sh"
printf '%s\n' "$FILT setsid sh -c '(exec $NC &)'" "sleep 600" >"$TB_T/setsid.sh"
printf '%s\n' "$FILT setsid sh -c '(sleep 8; exec $NC) &'" "sleep 600" >"$TB_T/late.sh"
chmod 755 "$TB_T"/*.sh "$FILT"

# sec_check PID TAG : who for nc's connection reaches h1, or says it cannot
sec_check() {
	tb_exec h2 grep '^Seccomp:' "/proc/$1/status" | sed 's/^/    nc /'
	_lr=$(ct_onward "$1")
	[ -n "$_lr" ] || { echo "pid $1 has no connection to $CT_H3:22"; return 1; }
	_j=$TB_T/$2.who.json
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$_j" || { cat "$_j"; return 1; }
	"$TB_PY" "$HT_TOP/tests/open/attack_review13_check.py" "$_j" "$CT_H1" reach
}

for kev in on off; do
	[ $kev = off ] && ct_kev_off h2
	for v in dfork setsid late; do
		tb_log "$v kev=$kev"
		tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid nobody --regid nogroup --clear-groups sh $TB_T/$v.sh'"
		ct_wait_new_onward 25 || { cat "$TB_LASTLOG"; tb_fail "$v: no nc on h2"; }
		sleep 0.5
		ct_case "$v kev=$kev: nc's chain reaches h1 or is marked" "" sec_check "$CT_P" "$v.$kev" &&
			sed 's/^/    /' "$TB_T/case.out"
	done
done
ct_finish
