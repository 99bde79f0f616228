#!/bin/sh
# attack_lineage.sh — issue 10 (3): lineage cannot be cut by switching the shim
# off in an intermediate process. Root logs into h2 from h1; in the session,
# as nobody, an onward `nc h3 22` is started through a middle process the
# shim does not see, which exits so that nc is re-parented to init:
#   plain     HOPTRACE_DISABLE=1 sh -c 'nc h3 22'            (the issue's case)
#   disable   HOPTRACE_DISABLE=1 sh -c '(HOPTRACE_DISABLE= exec nc h3 22 &)'
#             (a double fork: the disabled middle exits, nc re-enables the shim)
#   setsid    the same in a new session (setsid)
#   static    a static binary (no shim) double-forks, then execs nc
# `hoptrace who` on h2 for nc's connection must still come from h1. The shim
# ignores HOPTRACE_DISABLE in a process root does not run (disable, setsid);
# the static middle is filled from the kernel's view — nc's process group /
# session leader, the session's shell — and marked (a process `seen: kernel`,
# `lineage: kernel`, the chain `fallback: true`). On the code before issue 10
# nc's chain started on h2.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
DFORK=$TB_T/forge_dfork
tb_build_static "$DFORK" tests/helpers/static/forge_dfork.c
ct_setup

# nc keeps no fd of the session (no pty, no pipe to sshd): only its lineage
# can lead back to h1
NC="nc $CT_H3 22 </dev/null >/dev/null 2>&1"
cat >"$TB_T/plain.sh" <<EOF
HOPTRACE_DISABLE=1 sh -c '$NC'
EOF
cat >"$TB_T/disable.sh" <<EOF
HOPTRACE_DISABLE=1 sh -c '(HOPTRACE_DISABLE= exec $NC &)'
sleep 600
EOF
cat >"$TB_T/setsid.sh" <<EOF
HOPTRACE_DISABLE=1 setsid sh -c '(HOPTRACE_DISABLE= exec $NC &)'
sleep 600
EOF
cat >"$TB_T/static.sh" <<EOF
$DFORK sh -c 'exec $NC'
sleep 600
EOF
chmod 755 "$TB_T"/*.sh "$DFORK"

# lin_check PID TAG [kernel] : who on h2 for PID's connection to h3:22 comes
# from h1; with "kernel", the gap is marked
lin_check() {
	_lr=$(ct_onward "$1")
	[ -n "$_lr" ] || { echo "pid $1 has no connection to $CT_H3:22"; return 1; }
	_j=$TB_T/$2.who.json
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$_j" || { cat "$_j"; return 1; }
	"$TB_PY" - "$_j" "$CT_H1" "${3:-}" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
ch = a.get("chains") or []
origins = sorted(set(c.get("origin_host") or "?" for c in ch))
print("    origins:", " ".join(origins) or "none")
for c in ch:
    print("    chain from %s: %s" % (c.get("origin_host"), " ".join(
        "%s:%s%s" % (p.get("host"), (p.get("exe") or "?").rsplit("/", 1)[-1],
                     "(kernel)" if p.get("seen") == "kernel" else "") for p in c.get("procs") or [])))
bad = []
h1 = [c for c in ch if c.get("origin_host") in ("h1", sys.argv[2])]
if not h1:
    bad.append("the chain does not reach h1")
if any(c.get("origin_host") not in ("h1", sys.argv[2]) for c in ch):
    bad.append("an origin other than h1")
if sys.argv[3] == "kernel" and h1:
    if not any(c.get("fallback") for c in h1):
        bad.append("the gap is not marked (fallback false)")
    if not any(p.get("seen") in ("kernel", "kernel-events") for c in h1 for p in c.get("procs") or []):
        bad.append("no process of the chain seen: kernel")
for b in bad:
    print("    not: " + b)
sys.exit(1 if bad else 0)
PY
}

for v in plain disable setsid static; do
	tb_log "$v"
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid nobody --regid nogroup --clear-groups sh $TB_T/$v.sh'"
	ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "$v: no nc on h2"; }
	sleep 0.5
	want=""
	[ "$v" = static ] && want=kernel
	ct_case "$v: the chain reaches h1" "" lin_check "$CT_P" "$v" $want &&
		sed 's/^/    /' "$TB_T/case.out"
done
ct_finish
