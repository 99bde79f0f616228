#!/bin/sh
# kev_seen.sh — a process first known from /proc gets its creator from the
# kernel's fork event and is marked `seen: kernel-events` (docs/chain-model.md
# "What each source sees").
#
# No shim on h1. An outer shell O starts a middle shell M, which starts S
# (`sleep`) in the background and ends. The collector is asked about M while
# it runs (so it knows M and O from /proc), then, after M ended and S was
# re-parented to init, about S for the first time. /proc then says S's parent
# is init; the fork event says M created it:
#   - S's creator in the graph (`hoptrace ps`) is M, whose creator is O; S is
#     `seen: kernel-events` in its chain, the chain `fallback: true` (its
#     channels are still /proc's)
# With kernel_events = off (h2, the same steps) S's creator is what /proc
# and the process group give (today's answer: not M, S `seen: kernel`).
# SKIP when the kernel event source cannot load here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
tb_switch
tb_host h1 10.231.0.1
tb_host h2 10.231.0.2
sed -i 's|^\[collector\]$|[collector]\nkernel_events = off|' "$(tb_conf h2)"
tb_collector h1
tb_collector h2
st=$(tb_exec h1 "$TB_HOPTRACE" status) || tb_fail "status"
[ "$(echo "$st" | sed -n 's/^kernel_events\.state: //p')" = on ] ||
	tb_skip "kernel events unavailable: $(echo "$st" | sed -n 's/^kernel_events\.reason: //p')"
# (by default without accept events: docs/config.md kernel_events_accept)
[ "$(echo "$st" | sed -n 's/^kernel_events\.accept_events: //p')" = off ] ||
	tb_fail "accept events not off by default: $(echo "$st" | grep accept)"

# run H: O, M, S; prints "O M S" once M has ended (M asked about while alive)
run() {
	d=$TB_T/$1
	mkdir -p "$d"
	tb_bg "$1" sh -c 'sh -c "sleep 120 & echo \$! >$0/s; echo \$\$ >$0/m; while [ ! -e $0/go ]; do sleep 0.05; done"; sleep 120' "$d"
	echo "$TB_LAST" >"$d/o"
	i=0
	until [ -s "$d/s" ] && [ -s "$d/m" ]; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "no M on $1"; sleep 0.05; done
	tb_exec "$1" "$TB_HOPTRACE" chain "$(cat "$d/m")" >/dev/null || tb_fail "no chain for M on $1"
	touch "$d/go"
	i=0
	while kill -0 "$(cat "$d/m")" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "M runs on $1"; sleep 0.05; done
	sleep 0.2
	tb_exec "$1" "$TB_HOPTRACE" chain "$(cat "$d/s")" --json >"$d/chain.json" || tb_fail "no chain for S on $1"
	tb_exec "$1" "$TB_HOPTRACE" ps --json >"$d/ps.json" || tb_fail "no ps on $1"
	echo "$(cat "$d/o") $(cat "$d/m") $(cat "$d/s")"
}

check() { # HOST WANT(kernel-events|kernel) O M S
	"$TB_PY" - "$TB_T/$1" "$2" "$3" "$4" "$5" <<'PY'
import json, sys
d, want, o, m, s = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
a = json.load(open(d + "/chain.json"))
ch = a.get("chains") or []
ps = [p for c in ch for p in c.get("procs") or []]
subj = [p for p in ps if p["pid"] == s]
live = [p for p in json.load(open(d + "/ps.json"))["procs"] if p["pid"] == s and p["alive"]]
# S's lineage in the graph: its creator, and that one's
byp = {}
for p in json.load(open(d + "/ps.json"))["procs"]:
    byp.setdefault(p["pid"], p)
cr = live[0]["creator_pid"] if live else None
up = byp.get(cr, {}).get("creator_pid") if cr else None
print("    %s: S %d creator %s (its creator %s); O %d M %d; S seen in its chain %s" %
      (want, s, cr, up, o, m, subj[0].get("seen") if subj else None))
bad = []
if not subj:
    bad.append("S %d not in its chain" % s)
elif subj[-1].get("seen") != want:
    bad.append("S seen %r, want %r" % (subj[-1].get("seen"), want))
if want == "kernel-events":
    if cr != m or up != o:
        bad.append("S's creator %s (its creator %s), want M %d (O %d)" % (cr, up, m, o))
    if not all(c.get("fallback") for c in ch):
        bad.append("the chain is not fallback: true")
elif cr == m:
    bad.append("without kernel events S's creator is M %d: the test cannot tell" % m)
for b in bad:
    print("    not: " + b)
sys.exit(1 if bad else 0)
PY
}

rc=0
# shellcheck disable=SC2046
check h1 kernel-events $(run h1) || rc=1
# shellcheck disable=SC2046
check h2 kernel $(run h2) || rc=1
[ $rc = 0 ] || tb_fail "a process first known from /proc did not get its creator from the fork event"
echo "PASS: the fork event gave S its creator, seen: kernel-events"
