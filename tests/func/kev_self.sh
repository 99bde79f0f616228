#!/bin/sh
# kev_self.sh — the collector's own processes (hoptraced, its inquiry child,
# its judge) are not the host's processes in the chain model: the kernel
# events of their connections and descriptors make no holds, and no /proc
# read of them (issue 13; docs/chain-model.md "What each source sees").
# h2's collector follows a chain to h1 (an inquiry to h1:8471, which libcurl
# keeps open); h1's collector is restarted, so that h2's next inquiry finds
# that connection dead and closes it (LAST_ACK, in its close: a kernel hold
# for the process that connected it, before) and dials again. Then, in h2's
# graph:
#   on   no process that is h2's collector or one of its descendants, and no
#        hold of a connection to an inquiry port (:8471)
#   off  (kernel_events = off on h2, the same steps) the same: the baseline
#        the test checks against
# SKIP when the kernel event source cannot load.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
ct_setup
ct_kev_need h2

# ask TAG: two chains of a process on h2 holding a connection to h1:9000,
# h1's collector restarted between them; h2's graph in $TB_T/TAG.graph.json
ask() {
	tb_bg h1 sh -c "sleep 120 | nc -l 9000"
	tb_wait_port h1 9000 || tb_fail "$1: no listener on h1"
	tb_bg h2 sh -c "sleep 120 | nc $CT_H1 9000"
	_p=$(ct_wait_holder h2 "( dst $CT_H1 and dport = :9000 )") || tb_fail "$1: no client on h2"
	for _i in 1 2; do
		tb_exec h2 "$TB_HOPTRACE" chain "$_p" --json >"$TB_T/$1.chain$_i.json" ||
			tb_fail "$1: chain $_i ($(cat "$TB_T/$1.chain$_i.json"))"
		"$TB_PY" -c 'import json, sys
a = json.load(open(sys.argv[1]))
o = [c.get("origin_host") for c in a.get("chains") or []]
sys.exit(0 if "h1" in o else "h1 did not answer: %s" % o)' "$TB_T/$1.chain$_i.json" || tb_fail "$1: chain $_i"
		[ $_i = 1 ] && ct_collector_conf h1
	done
	tb_exec h2 ss -Htnp "( dport = :8471 )" | sed "s/^/    $1: h2 inquiry: /"
	sleep 1.5 # (held kernel events are applied within a second)
	tb_exec h2 "$TB_HOPTRACE" --json graph >"$TB_T/$1.graph.json" || tb_fail "$1: graph"
	kill "$_p" # (its h1 end goes too: the next listener is a new one)
	sleep 0.3
}

# check TAG : no hold of h2's collector tree, none on an inquiry connection
check() {
	_m=$(cat "$(tb_dir h2)/hoptraced.pid")
	"$TB_PY" - "$TB_T/$1.graph.json" "$_m" "$1" <<'PY'
import json, os, sys
g = json.load(open(sys.argv[1]))
me, tag = int(sys.argv[2]), sys.argv[3]
def kids(p):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = open("/proc/%s/stat" % d).read()
        except OSError:
            continue
        if int(st[st.rindex(")") + 2:].split()[1]) == p:
            out.append(int(d))
    return out
own, todo = set(), [me]
while todo:
    p = todo.pop()
    if p not in own:
        own.add(p)
        todo += kids(p)
chans = {c["id"]: c for c in g["chans"]}
bad = [p for p in g["procs"] if p["pid"] in own]
inq = [h for h in g["holds"] if ":8471" in chans.get(h["chan"], {}).get("label", "")]
print("    %s: collector tree %s; its processes in the graph: %s; holds on :8471: %s" %
      (tag, sorted(own), [(p["pid"], p["exe"], p.get("seen")) for p in bad],
       [(h["pid"], chans[h["chan"]]["label"]) for h in inq]))
sys.exit(1 if bad or inq else 0)
PY
}

rc=0
tb_log "on: kernel events on h2"
ask on
check on || rc=1
tb_log "off: kernel_events = off on h2"
ct_kev_off h2
ask off
check off || rc=1
[ $rc = 0 ] || tb_fail "the collector's own processes in its graph"
echo "PASS: the collector's own processes and inquiries stay out of its graph"
