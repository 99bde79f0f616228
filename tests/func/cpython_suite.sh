#!/bin/sh
# ht-timeout: 1500  (two runs of nine CPython modules and psutil's suite: over 300 s under load)
# cpython_suite.sh — code nobody here wrote is the judge (issue 15). Two real
# projects' own test suites run twice in a testbed host with a reading
# hoptraced: without the shim, then with it in /etc/ld.so.preload. Every test
# case's result (passed, failed, error, skipped) must be the same.
#  1. CPython 3.11's test modules that exercise processes, descriptors, ptys and
#     signals (test_subprocess test_os test_pty test_signal test_selectors
#     test_fork1 test_popen test_posix test_fcntl, from Debian's
#     libpython3.11-testsuite);
#  2. psutil's (Debian's python3-psutil 5.9, psutil/tests: test_process
#     test_linux test_posix test_connections test_misc test_system) — chosen
#     because it inspects its own process from the kernel's side: num_fds(),
#     open_files(), connections(), the fd and memory maps, children, environ,
#     rlimits — what a shim that leaves a descriptor, a mapping, a thread or an
#     environment variable behind would change.
# Both are installed by packaging/deps.sh. A case that differs is run again
# alone, CPY_ALONE (5) times each way, and the test fails when the shimmed
# runs give its shimmed result in a majority and the runs without the shim
# never (timing tests in these modules can flip on a loaded 2-core machine
# either way; a difference the shim causes repeats); a CPython case that does not differ alone runs
# again in its whole module, 3 times each way, and fails when the shimmed runs
# repeat the difference at least twice and the others never (a difference
# that needs the module's earlier cases or its load: module_again). A suite
# not installed is said and skipped; the test is SKIP when neither is.
# Env: CPY_MODULES, PSU_MODULES (defaults above), CPY_TIMEOUT (s per run, 1500),
# CPY_REPEAT (module re-runs each way, 3).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
PY=/usr/bin/python3.11
[ -x "$PY" ] || tb_skip "no /usr/bin/python3.11"
HAVE_CPY=0 HAVE_PSU=0
[ -f /usr/lib/python3.11/test/test_subprocess.py ] && HAVE_CPY=1
"$PY" -c 'import psutil.tests.test_process' 2>/dev/null && HAVE_PSU=1
[ $HAVE_CPY = 1 ] || echo "SKIP part 1: CPython's test suite is not installed (Debian package libpython3.11-testsuite; packaging/deps.sh installs it)"
[ $HAVE_PSU = 1 ] || echo "SKIP part 2: psutil's test suite is not installed (Debian package python3-psutil; packaging/deps.sh installs it)"
[ $HAVE_CPY = 1 ] || [ $HAVE_PSU = 1 ] || tb_skip "neither CPython's nor psutil's test suite is installed"
MODS=${CPY_MODULES:-test_subprocess test_os test_pty test_signal test_selectors test_fork1 test_popen test_posix test_fcntl}
PSU_MODS=${PSU_MODULES:-test_process test_linux test_posix test_connections test_misc test_system}
TMO=${CPY_TIMEOUT:-1500}
REPEAT=${CPY_REPEAT:-3}
ALONE=${CPY_ALONE:-5}
tb_switch
tb_host h1 10.231.0.1
tb_collector h1

# The suites in h1. cpy TAG [--match PATTERN...]: CPython's modules, results as
# JUnit XML, then as "id result" lines in TAG.res; psu TAG [ID...]: psutil's
# (all its modules, or the test ids named), "id result" lines by psu.py.
cpy() {
	su_tag=$1; shift
	tb_exec h1 env -u LD_PRELOAD HOME=/tmp TMPDIR=/tmp timeout -k 10 "$TMO" \
		"$PY" -m test --junit-xml "$TB_T/$su_tag.xml" "$@" $MODS \
		>"$TB_T/$su_tag.out" 2>&1
	echo $? >"$TB_T/$su_tag.rc"
	"$TB_PY" - "$TB_T/$su_tag.xml" >"$TB_T/$su_tag.res.u" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    print("UNREADABLE", e); sys.exit(0)
for tc in root.iter("testcase"):
    r = "passed"
    for k in ("failure", "error", "skipped"):
        if tc.find(k) is not None:
            r = k
            break
    print(tc.get("classname", "") + "." + tc.get("name", ""), r)
EOF
	sort "$TB_T/$su_tag.res.u" >"$TB_T/$su_tag.res"
}
cat >"$TB_T/psu.py" <<'EOF'
import sys, unittest
out, ids = sys.argv[1], sys.argv[2:]
class R(unittest.TextTestResult):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.res = {}
    def addSuccess(self, t): super().addSuccess(t); self.res[t.id()] = "passed"
    def addFailure(self, t, e): super().addFailure(t, e); self.res[t.id()] = "failure"
    def addError(self, t, e): super().addError(t, e); self.res[t.id()] = "error"
    def addSkip(self, t, r): super().addSkip(t, r); self.res[t.id()] = "skipped"
    def addExpectedFailure(self, t, e): super().addExpectedFailure(t, e); self.res[t.id()] = "xfail"
    def addUnexpectedSuccess(self, t): super().addUnexpectedSuccess(t); self.res[t.id()] = "xpass"
suite = unittest.TestLoader().loadTestsFromNames(ids)
r = unittest.TextTestRunner(resultclass=R, verbosity=2, stream=sys.stderr).run(suite)
with open(out, "w") as f:
    for k in sorted(r.res):
        f.write("%s %s\n" % (k.replace(" ", "_"), r.res[k]))
EOF
chmod 644 "$TB_T/psu.py"
psu() {
	su_tag=$1; shift
	[ $# -gt 0 ] || set -- $(for m in $PSU_MODS; do echo "psutil.tests.$m"; done)
	rm -f "$TB_T/$su_tag.res.u"
	tb_exec h1 env -u LD_PRELOAD HOME=/tmp TMPDIR=/tmp timeout -k 10 "$TMO" \
		"$PY" "$TB_T/psu.py" "$TB_T/$su_tag.res.u" "$@" >"$TB_T/$su_tag.out" 2>&1
	echo $? >"$TB_T/$su_tag.rc"
	[ -s "$TB_T/$su_tag.res.u" ] || echo "UNREADABLE no results" >"$TB_T/$su_tag.res.u"
	sort "$TB_T/$su_tag.res.u" >"$TB_T/$su_tag.res"
}

nrec() { tb_exec h1 "$TB_HOPTRACE" status --json | "$TB_PY" -c 'import json,sys; print(json.load(sys.stdin)["records"])'; }
still=0
# suite NAME RUNNER MINCASES: both runs, the comparison, each difference again alone
suite() {
	su_n=$1 su_r=$2 su_min=$3
	tb_preload off
	tb_log "$su_n without the shim"
	$su_r "$su_n.base"
	tb_preload on
	su_b=$(nrec)
	tb_log "$su_n with the shim in /etc/ld.so.preload, hoptraced reading"
	$su_r "$su_n.shim"
	su_a=$(nrec)
	tb_preload off
	echo "$su_n: records the collector read during the shimmed run: $((su_a - su_b))"
	[ $((su_a - su_b)) -gt 1000 ] || tb_fail "$su_n: the collector read only $((su_a - su_b)) records: was the shim in?"
	grep -q UNREADABLE "$TB_T/$su_n.base.res" "$TB_T/$su_n.shim.res" &&
		{ tail -20 "$TB_T/$su_n.base.out" "$TB_T/$su_n.shim.out"; tb_fail "$su_n: no results"; }
	echo "$su_n cases: $(wc -l <"$TB_T/$su_n.base.res") without, $(wc -l <"$TB_T/$su_n.shim.res") with the shim"
	for su_f in base shim; do
		echo "$su_n $su_f: $(awk '{print $2}' "$TB_T/$su_n.$su_f.res" | sort | uniq -c | tr '\n' ' ') (exit $(cat "$TB_T/$su_n.$su_f.rc"))"
	done
	[ "$(wc -l <"$TB_T/$su_n.base.res")" -gt "$su_min" ] ||
		tb_fail "$su_n: too few test cases ran: $(tail -5 "$TB_T/$su_n.base.out")"
	diff "$TB_T/$su_n.base.res" "$TB_T/$su_n.shim.res" >"$TB_T/$su_n.diff" &&
		{ echo "ok: $su_n: every case the same"; return 0; }
	echo "$su_n: differing cases (first runs):"
	cat "$TB_T/$su_n.diff"
	for su_id in $(grep '^[<>]' "$TB_T/$su_n.diff" | awk '{print $2}' | sort -u); do
		case $su_r in
		cpy) set -- --match "${su_id##*.}" ;;
		*) set -- "$su_id" ;;
		esac
		# alone, ALONE times each way: it repeats when the shimmed runs give
		# the first run's shimmed result at least ALONE/2+1 times and the
		# runs without the shim never do (psutil's test_long_name and
		# test_long_cmdline read /proc/PID/cmdline right after Popen — a race
		# of their own: 1 of 30 without the shim, 7 of 30 with it, session
		# 12; a single run each way took that for a difference. Since a vfork
		# child is quiet until its exec, 57 of 2200 with it, 68 of 2200
		# without: tests/bench/psutil_cmdline.sh)
		su_first=$(grep -F "$su_id " "$TB_T/$su_n.shim.res" | awk '{print $2}')
		su_b=0 su_s=0 su_k=0
		while [ $su_k -lt "$ALONE" ]; do
			su_k=$((su_k + 1))
			tb_preload off; $su_r rb "$@"
			tb_preload on; $su_r rs "$@"
			tb_preload off
			[ "$(grep -F "$su_id " "$TB_T/rb.res" | awk '{print $2}')" = "$su_first" ] && su_b=$((su_b + 1))
			[ "$(grep -F "$su_id " "$TB_T/rs.res" | awk '{print $2}')" = "$su_first" ] && su_s=$((su_s + 1))
		done
		echo "again alone x$ALONE: $su_id '${su_first:-absent}' without the shim $su_b times, with it $su_s times"
		if [ $su_s -gt $((ALONE / 2)) ] && [ $su_b = 0 ]; then
			still=$((still + 1))
			grep -B2 -A25 "${su_id##*.}" "$TB_T/rs.out" | head -60
			continue
		fi
		[ "$su_r" = cpy ] && module_again "$su_n" "$su_id"
	done
}
# module_again NAME ID: a CPython case that differed in the full run but not
# alone runs again in its whole module (the state earlier cases leave behind,
# the load of the run), REPEAT times each way; it repeats when the shimmed
# runs give the first run's shimmed result at least twice and the runs
# without the shim never do. (Session 12: in 5 full runs none differed; a
# shim that keeps its socket fails both of issue 15's cases 3 of 3 here.)
module_again() {
	ma_first=$(grep -F "$2 " "$TB_T/$1.shim.res" | awk '{print $2}')
	ma_mod=$(echo "$2" | awk -F. '{print $3}')
	ma_mods=$MODS
	MODS=$ma_mod
	ma_b=0 ma_s=0 ma_k=0
	while [ $ma_k -lt "$REPEAT" ]; do
		ma_k=$((ma_k + 1))
		tb_preload off; cpy mb
		tb_preload on; cpy ms
		tb_preload off
		[ "$(grep -F "$2 " "$TB_T/mb.res" | awk '{print $2}')" = "$ma_first" ] && ma_b=$((ma_b + 1))
		[ "$(grep -F "$2 " "$TB_T/ms.res" | awk '{print $2}')" = "$ma_first" ] &&
			{ ma_s=$((ma_s + 1)); grep -B2 -A25 "${2##*.}" "$TB_T/ms.out" | head -40; }
	done
	MODS=$ma_mods
	echo "again in $ma_mod x$REPEAT: $2 '$ma_first' without the shim $ma_b times, with it $ma_s times"
	[ $ma_s -ge 2 ] && [ $ma_b = 0 ] && still=$((still + 1))
	return 0
}
[ $HAVE_CPY = 0 ] || suite cpython cpy 500
[ $HAVE_PSU = 0 ] || suite psutil psu 300
[ "$still" = 0 ] || tb_fail "$still case(s) differ with the shim, again when run alone"
echo "ok: no difference the shim makes repeats"
