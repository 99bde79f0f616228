#!/bin/sh
# chain_fallback.sh — the kernel fallback (docs/chain-model.md "Kernel fallback"):
#   static   a static binary (tests/helpers/build-static.sh: no dynamic loader,
#            so no shim) connects to h3:22 from inside an ssh session from h1
#            to h2: origin h1, the static process `seen: kernel`, the chain
#            `fallback: true`
#   before   a session from h1 whose `sh -c 'sleep N; exec nc h3 22'` was
#            started before h2's collector; the collector starts, then the nc
#            connects: still origin h1, through the kernel's view (fallback)
# Checks on h2 (`hoptrace who` for the connection to h3:22): exactly one
# chain, origin h1 (by name: h1's collector is followed), src h1:*, dst h3:22.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
STATIC=$(sh "$HT_TOP/tests/helpers/build-static.sh" 2>"$TB_T/static.err"); rc=$?
[ $rc = 0 ] || tb_skip "no static binary: $(tail -n 1 "$TB_T/static.err")"

tb_switch
for h in 1 2 3; do
	tb_host h$h 10.231.0.$h fd00:231::$h
	tb_sshd h$h
done
tb_collector h1
tb_collector h3
tb_preload on

# fb_check PID TAG SUBJECT_EXE : who on h2 for PID's connection to h3:22
fb_check() {
	_lr=$(ct_onward "$1")
	[ -n "$_lr" ] || { echo "pid $1 has no connection to $CT_H3:22"; tb_exec h2 ss -tnp; return 1; }
	_j=$TB_T/$2.who.json
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$_j" || { cat "$_j"; echo "hoptrace who failed"; return 1; }
	_r=0
	tb_assert_chain "$_j" --origin h1 --count 1 --src "$CT_H1:*" --dst "$CT_H3:22" --kernel || _r=1
	# precisely: the h1 chain is marked fallback and its last process (the
	# subject) is SUBJECT_EXE on h2; with $4 = kernel, seen by the kernel
	"$TB_PY" - "$_j" "$3" "${4:-}" <<'PY' || _r=1
import json, os, sys
a = json.load(open(sys.argv[1]))
ch = [c for c in a.get("chains") or [] if c.get("origin_host") == "h1"]
if not ch:
    sys.exit("no chain of origin h1")
c = ch[0]
bad = []
if c.get("fallback") is not True:
    bad.append("fallback is %r, want true" % c.get("fallback"))
ps = c.get("procs") or []
if not ps or ps[0].get("host") != "h1":
    bad.append("the chain does not start with h1's processes")
last = ps[-1] if ps else {}
if last.get("host") != "h2" or os.path.basename(last.get("exe") or "") != sys.argv[2]:
    bad.append("subject is %s:%s, want h2:%s" % (last.get("host"), last.get("exe"), sys.argv[2]))
# (with the kernel event source on, a process found in /proc whose fork the
# kernel reported is "kernel-events": its channels are still /proc's)
if sys.argv[3] and last.get("seen") not in (sys.argv[3], sys.argv[3] + "-events"):
    bad.append("subject seen %r, want %r" % (last.get("seen"), sys.argv[3]))
if not any(p.get("seen") in ("kernel", "kernel-events") for p in ps):
    bad.append("no process of the chain seen: kernel")
for b in bad:
    print("    not: " + b)
print("    procs: " + " ".join("%s:%s(%s)" % (p.get("host"), os.path.basename(p.get("exe") or "?"), p.get("seen")) for p in ps))
sys.exit(1 if bad else 0)
PY
	return $_r
}

tb_log "before: a session's program started before h2's collector"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'sh -c \"sleep 6; exec nc $CT_H3 22\"; true'"
tb_wait_pid h2 "sleep 6" 10 >/dev/null || { cat "$TB_LASTLOG"; tb_fail "before: the session did not start"; }
tb_collector h2
ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "before: no nc on h2"; }
ct_case "started before the collector: who" "" fb_check "$CT_P" before nc.openbsd

tb_log "static: a static binary in a session from h1"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 '$STATIC $CT_H3 22; true'"
ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "static: no connection on h2"; }
ct_case "static binary: who" "" fb_check "$CT_P" static static_connect kernel

ct_finish
