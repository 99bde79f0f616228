#!/bin/sh
# tests/bench/psutil_cmdline.sh — psutil's two cases that read a child's
# /proc/PID/cmdline right after subprocess.Popen (vfork) — test_long_name and
# test_prog_w_funky_name — in a loop, in a testbed host with a reading
# hoptraced: without the shim, with build/libhoptrace.so in
# /etc/ld.so.preload, and with each shim in PSU_LIBS (paths every user can
# read; e.g. an older build to compare), interleaved, ROUNDS rounds of K runs
# of both cases each. Prints the failed cases of each side (issue 15: the
# race is the kernel's, a parent woken on its vfork child's CPU before the
# exec has set the new image's arguments; docs/shim.md "vfork / raw-clone
# children"). A count, not a test: the machine's load moves it several-fold.
# Env: ROUNDS (20), K (10), PSU_LIBS. SKIP without python3.11 and psutil.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
PY=/usr/bin/python3.11
[ -x "$PY" ] && "$PY" -c 'import psutil.tests.test_process' 2>/dev/null ||
	tb_skip "no python3.11 with psutil's tests (packaging/deps.sh: python3-psutil)"
K=${K:-10} R=${ROUNDS:-20}
tb_switch
tb_host h1 10.231.0.1
tb_collector h1
cat >"$TB_T/loop.py" <<'PY'
import sys, unittest
ids = ["psutil.tests.test_process.TestProcess.test_long_name",
       "psutil.tests.test_process.TestProcess.test_prog_w_funky_name"]
n = bad = 0
for i in range(int(sys.argv[1])):
    r = unittest.TextTestRunner(stream=open("/dev/null", "w")).run(
        unittest.TestLoader().loadTestsFromNames(ids))
    n += r.testsRun
    bad += len(r.failures) + len(r.errors)
print(n, bad)
PY
chmod 644 "$TB_T/loop.py"
sides="none $TB_SHIM ${PSU_LIBS:-}"
for s in $sides; do echo "0 0" >"$TB_T/tot.$(echo "$s" | tr / _)"; done
i=0
while [ $i -lt "$R" ]; do
	i=$((i + 1))
	for s in $sides; do
		if [ "$s" = none ]; then tb_preload off; else echo "$s" >/etc/ld.so.preload; fi
		out=$(tb_exec h1 env -u LD_PRELOAD HOME=/tmp TMPDIR=/tmp "$PY" "$TB_T/loop.py" "$K" 2>/dev/null)
		tb_preload off
		f=$TB_T/tot.$(echo "$s" | tr / _)
		read -r tn tb <"$f"
		set -- $out
		echo "$((tn + ${1:-0})) $((tb + ${2:-0}))" >"$f"
	done
	echo "round $i done (load $(cut -d' ' -f1 /proc/loadavg))"
done
for s in $sides; do
	read -r tn tb <"$TB_T/tot.$(echo "$s" | tr / _)"
	echo "psutil cmdline cases, $s: $tb failed of $tn"
done
