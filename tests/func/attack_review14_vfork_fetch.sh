#!/bin/sh
# attack_review14_vfork_fetch.sh — review 14 (session 14): the shim's vfork
# child is quiet until its exec (preload/shim.c, docs/shim.md "Transport").
# S, nobody's shimmed program started on h2 with no local channel (setsid,
# /dev/null), vforks a child that connects to B (h3:2222, sends a line and
# closes), reads the orders into S's memory (vfork shares it) and _exits
# without exec; S then connects to h3:22. Cases (CASES=...): plain (libc
# connect/read/close), slow (0.3 s between connect and read: the child's
# CONNECT is surely read before the kernel's close), exec (slow, then an
# exec of sleep keeping the socket: the new image's IMAGE comes before the
# close), dup (dup2 onto 7, the first closed), dupfd (fcntl F_DUPFD), raw
# (syscall(): no record at all). Fails (FAIL-CASE) when S's chain is
# complete, names no B and is not holders_incomplete.
# Session 14 held it (one run: holders_incomplete, "connection no record
# names") and took the child's CONNECT for unrecorded. Session 15
# (wt-rev14fix): the shim sends it — BIRTH(S, 0) and the CONNECT on a
# momentary connection, then its CLOSE and EXIT (tests/helpers/rec_sink: 3
# momentary connections from the child) — and the collector recorded it
# (the ended child held B's connection in `hoptrace graph`); what hid B is
# that no walk goes from a creator to its child, though a vfork child's
# reads land in its creator's memory: the record made the connection
# "named", so the dark-connection rule let it go. Before the fix (934463e,
# d44730e's walk and dark rule) plain (and dup) FAIL-CASE in 2 runs of 4,
# held only when the CONNECT came after the kernel's close; slow and exec
# FAIL-CASE in the one run of them. With it every case ok (5 runs). Fixed (fail closed, graph.h vm_child/vm_held): a process
# whose BIRTH has the vfork / raw-clone form (fork time 0) is a vm_child
# until its IMAGE; a socket it connects or accepts is vm_held, a connection
# no record names for the dark check (graph_kev.c record_held, close_apply)
# — S's walk is holders_incomplete, as for a raw syscall's.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need python3
VF=$TB_T/vf
tb_build_helper "$VF" tests/helpers/vfork_fetch.c
ct_setup
ct_orders_b 2222
r=0
for v in ${CASES:-plain slow exec dup dupfd raw}; do
	tb_log "$v"
	[ -n "${SP:-}" ] && tb_exec h2 kill "$SP"
	[ -n "${SP:-}" ] && sleep 4 # (the last case's connections out of the window)
	tb_bg h2 setsid setpriv --reuid nobody --regid nogroup --clear-groups "$VF" $v "$CT_H3" 2222 "$CT_H3" 22 </dev/null >"$TB_T/$v.err" 2>&1
	ct_wait_new_onward 25 || { cat "$TB_T/$v.err"; tb_fail "$v: no S connection to h3:22"; }
	SP=$CT_P
	sleep 0.5
	cat "$TB_T/$v.err"
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$v.who.json" || tb_fail "$v: who"
	"$TB_PY" - "$TB_T/$v.who.json" <<'PY' && echo "ok   $v" || { echo "FAIL-CASE: $v: S's chain is complete and local, the vfork child's fetch from B hidden"; r=1; }
import json, sys
a = json.load(open(sys.argv[1]))
hi = a.get("holders_incomplete")
print("    holders_incomplete=%s unattested=%s" % (hi, json.dumps(a.get("holders_unattested"))))
txt = json.dumps(a)
named = ":2222" in txt or '"port": 2222' in txt
bad = False
for c in a.get("chains") or []:
    print("    chain from %s complete=%s: %s" % (c.get("origin_host"), c.get("complete"),
          " ".join("%s:%s" % (p.get("host"), (p.get("exe") or "?").rsplit("/", 1)[-1]) for p in c.get("procs") or [])))
    if c.get("complete") and not hi and not named:
        bad = True
print("    B named anywhere in the answer:", named)
sys.exit(1 if bad else 0)
PY
done
exit $r
