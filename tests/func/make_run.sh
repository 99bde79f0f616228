#!/bin/sh
# make_run.sh — Done-when 6: `make run` (packaging/run.sh start, as the Makefile's
# run target calls it after `make all`) on one host (a testbed network namespace
# with a private /etc and /run); in a shell opted in with `eval "$(hoptrace env)"`,
# `hoptrace chain $$` shows that shell's chain; `run.sh stop` leaves no process.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_switch
tb_host h1 10.231.0.1 fd00:231::1
[ -x "$TB_HOPTRACED" ] && [ -x "$TB_HOPGUARD" ] && [ -x "$TB_HOPTRACE" ] || tb_skip "not built"
cd "$HT_TOP" || tb_fail "cd $HT_TOP"
out=$(tb_exec h1 env BUILD="$BUILD" sh packaging/run.sh start 2>&1) || { echo "$out"; tb_fail "run.sh start"; }
echo "$out" | sed 's/^/    /'
tb_exec h1 env BUILD="$BUILD" sh packaging/run.sh status || tb_fail "run.sh status after start"
pids=$(cat /run/hoptrace/hoptraced.pid /run/hoptrace/hopguard.pid)
echo "ok   started: $pids"

# the opted-in shell: a login-like bash from the harness, the shim by LD_PRELOAD
tb_exec h1 bash -c '
	eval "$("$0" env)" || exit 9
	[ -n "${LD_PRELOAD:-}" ] || exit 8
	exec bash -c "\"$0\" chain \$\$ --json >\"$1/self.json\"; echo \$\$ >\"$1/self.pid\"; \"$0\" chain \$\$"
' "$TB_HOPTRACE" "$TB_T" || tb_fail "hoptrace chain \$\$ in an opted-in shell (rc $?)"
sp=$(cat "$TB_T/self.pid")
"$TB_PY" - "$TB_T/self.json" "$sp" <<'PY' || tb_fail "chain of the opted-in shell"
import json, sys, os
a = json.load(open(sys.argv[1])); pid = int(sys.argv[2])
t = a.get("tree") or {}
ok = (a.get("ok") is True and a.get("host") == "h1" and t.get("pid") == pid
      and os.path.basename(t.get("exe", "")) == "bash" and t.get("seen") == "shim"
      and len(a.get("chains", [])) == 1 and a["chains"][0].get("origin_host") == "h1"
      and [p.get("pid") for p in a["chains"][0]["procs"]][-1] == pid)
print("chain:", json.dumps(a)[:400])
sys.exit(0 if ok else 1)
PY
echo "ok   hoptrace chain \$\$ names the shell itself (seen by the shim), origin h1 (local)"

tb_exec h1 env BUILD="$BUILD" sh packaging/run.sh stop || tb_fail "run.sh stop"
tb_exec h1 env BUILD="$BUILD" sh packaging/run.sh status >/dev/null && tb_fail "status says running after stop"
for p in $pids; do kill -0 "$p" 2>/dev/null && tb_fail "pid $p still there after stop"; done
left=$(ip netns pids "$(tb_ns h1)")
[ -z "$left" ] || { ps -o pid,args -p "$(echo $left | tr ' ' ,)"; tb_fail "processes left in h1: $left"; }
echo "ok   run.sh stop: no process left"
echo "PASS make_run"
