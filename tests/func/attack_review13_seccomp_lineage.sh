#!/bin/sh
# attack_review13_seccomp_lineage.sh — review 13 (session 13) finding 1, issue
# 10 (3): "lineage cannot be cut by switching the shim off in an intermediate
# process" (docs/threat-model.md class 3b). Root logs into h2 from h1; as
# nobody, the session starts nc h3 22 through middles whose shim is off and
# that exit before nc runs (nc is re-parented to init; nc keeps no fd of the
# session: only its lineage leads back to h1):
#   dfork     FILT sh -c '(exec nc &)'
#   setsid    FILT setsid sh -c '(exec nc &)'
#   late      FILT setsid sh -c '(sleep 8; exec nc) &'   (the middles long gone)
#   static    STAT -s -n 3 -d 3000 nc       (a static triple fork in a new
#             session, nc 3 s after the last middle ended; nc's shim is on,
#             its IMAGE says ppid 1)
#   both      FILT STAT -s -n 3 -d 3000 nc  (the same, nc's shim off too)
# FILT (tests/helpers/seccomp_allow.c): any user's allow-all seccomp filter,
# then exec — every later image starts under an inherited filter, so its shim
# is off (preload/shim.c seccomp_inherited). STAT
# (tests/helpers/static/forge_lineage.c): a static binary, no shim at all.
# With the kernel events on, nc's chain must reach h1 (the fork events name
# every creator). With them off, /proc's PPid after the re-parenting names
# init: nc's chain must reach h1 (its process group or session leader is the
# filter's process, when the graph knows it: marked `lineage: kernel`), or
# say that it cannot — nc `lineage: unknown` in the tree and every chain not
# from h1 complete: false (policy's on_incomplete) — never "complete,
# starting on h2". In static and both that leader is a static middle no
# record named: nothing leads back. (In setsid and late the filter's process
# is not always in the graph: its records before its exec may be lost, as
# review 13 saw — then the same.)
# On main a1afd93 `late` came out complete from h2 with the events on and off:
# a /proc-found process's birth is its starttime rounded down to a clock tick,
# before its creator's exact birth within the same tick, and every creator
# check ("born before the child") refused the true creator.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
tb_need setsid
FILT=$TB_T/filt
STAT=$TB_T/forge_lineage
tb_build_helper "$FILT" tests/helpers/seccomp_allow.c
tb_build_static "$STAT" tests/helpers/static/forge_lineage.c
ct_setup

NC="nc $CT_H3 22 </dev/null >/dev/null 2>&1"
printf '%s\n' "$FILT sh -c '(exec $NC &)'" "sleep 600" >"$TB_T/dfork.sh"
printf '%s\n' "$FILT setsid sh -c '(exec $NC &)'" "sleep 600" >"$TB_T/setsid.sh"
printf '%s\n' "$FILT setsid sh -c '(sleep 8; exec $NC) &'" "sleep 600" >"$TB_T/late.sh"
printf '%s\n' "$STAT -s -n 3 -d 3000 $NC" "sleep 600" >"$TB_T/static.sh"
printf '%s\n' "$FILT $STAT -s -n 3 -d 3000 $NC" "sleep 600" >"$TB_T/both.sh"
chmod 755 "$TB_T"/*.sh

# lin_check PID TAG MODE : who for nc's connection; MODE reach: every chain
# reaches h1; closed: every chain reaches h1, or nc's lineage is marked
# unknown and every chain that does not reach h1 is incomplete
lin_check() {
	tb_exec h2 grep '^Seccomp:' "/proc/$1/status" | sed 's/^/    nc /'
	_lr=$(ct_onward "$1")
	[ -n "$_lr" ] || { echo "pid $1 has no connection to $CT_H3:22"; return 1; }
	_j=$TB_T/$2.who.json
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$_j" || { cat "$_j"; return 1; }
	"$TB_PY" - "$_j" "$CT_H1" "$3" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
ch = a.get("chains") or []
print("    answer holders_incomplete=%s" % a.get("holders_incomplete"))
for c in ch:
    print("    chain from %s complete=%s fallback=%s: %s" % (
        c.get("origin_host"), c.get("complete"), c.get("fallback"),
        " ".join("%s:%s%s" % (p.get("host"), (p.get("exe") or "?").rsplit("/", 1)[-1],
                 "(%s)" % p.get("seen") if p.get("seen") not in (None, "shim") else "")
                 for p in c.get("procs") or [])))
def cut(n):
    if n.get("type") != "proc":
        return False
    if n.get("lineage") == "unknown":
        return True
    return any(cut(s.get("node") or {}) for s in n.get("sources") or [])
marked = cut(a.get("tree") or {})
print("    lineage unknown on the path: %s" % marked)
bad = []
if not ch:
    bad.append("no chain")
for c in ch:
    if c.get("origin_host") in ("h1", sys.argv[2]):
        continue
    if sys.argv[3] == "reach":
        bad.append("a chain from %s: the lineage to h1 is cut" % c.get("origin_host"))
    elif not marked or c.get("complete") is not False:
        bad.append("a chain from %s, %s: the cut lineage taken for an origin" % (
            c.get("origin_host"), "complete" if c.get("complete") is not False else
            "no process of it `lineage: unknown`"))
for b in bad:
    print("    not: " + b)
sys.exit(1 if bad else 0)
PY
}

for kev in on off; do
	[ $kev = off ] && ct_kev_off h2
	for v in dfork setsid late static both; do
		mode=reach
		[ $kev = off ] && mode=closed
		tb_log "$v kev=$kev"
		tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid nobody --regid nogroup --clear-groups sh $TB_T/$v.sh'"
		ct_wait_new_onward 25 || { cat "$TB_LASTLOG"; tb_fail "$v: no nc on h2"; }
		sleep 0.5
		ct_case "$v kev=$kev: nc's chain reaches h1$([ $mode = closed ] && echo ' or is incomplete')" "" \
			lin_check "$CT_P" "$v.$kev" $mode && sed 's/^/    /' "$TB_T/case.out"
	done
done
ct_finish
