#!/bin/sh
# cpython_suite.sh — code nobody here wrote is the judge (issue 15): CPython
# 3.11's own test modules that exercise processes, descriptors, ptys and
# signals (test_subprocess test_os test_pty test_signal test_fcntl, from
# Debian's libpython3.11-testsuite, installed by packaging/deps.sh) run twice
# in a testbed host with a reading hoptraced: without the shim, then with it
# in /etc/ld.so.preload. Every test case's result (passed, failed, error,
# skipped) must be the same. A case that differs is run again alone, both
# ways, and the test fails when it still differs (timing tests in these
# modules can flip on a loaded 2-core machine either way; a difference the
# shim causes repeats). SKIP when the test suite is not installed.
# Env: CPY_MODULES (default above), CPY_TIMEOUT (s per run, 1500).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
PY=/usr/bin/python3.11
[ -x "$PY" ] || tb_skip "no /usr/bin/python3.11"
[ -f /usr/lib/python3.11/test/test_subprocess.py ] ||
	tb_skip "CPython's test suite is not installed (Debian package libpython3.11-testsuite; packaging/deps.sh installs it)"
MODS=${CPY_MODULES:-test_subprocess test_os test_pty test_signal test_fcntl}
TMO=${CPY_TIMEOUT:-1500}
tb_switch
tb_host h1 10.231.0.1
tb_collector h1

# run TAG [--match PATTERN...]: the modules in h1, results as JUnit XML
run() {
	_tag=$1; shift
	tb_exec h1 env -u LD_PRELOAD HOME=/tmp TMPDIR=/tmp timeout -k 10 "$TMO" \
		"$PY" -m test --junit-xml "$TB_T/$_tag.xml" "$@" $MODS \
		>"$TB_T/$_tag.out" 2>&1
	echo $? >"$TB_T/$_tag.rc"
}
# results XML: one line per test case "id result"
results() {
	"$TB_PY" - "$1" <<'EOF'
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
}

tb_preload off
tb_log "without the shim: $MODS"
run base
tb_preload on
nrec() { tb_exec h1 "$TB_HOPTRACE" status --json | "$TB_PY" -c 'import json,sys; print(json.load(sys.stdin)["records"])'; }
before=$(nrec)
tb_log "with the shim in /etc/ld.so.preload, hoptraced reading"
run shim
after=$(nrec)
tb_preload off
echo "records the collector read during the shimmed run: $((after - before))"
[ $((after - before)) -gt 1000 ] || tb_fail "the collector read only $((after - before)) records: was the shim in?"
results "$TB_T/base.xml" | sort >"$TB_T/base.res"
results "$TB_T/shim.xml" | sort >"$TB_T/shim.res"
grep -q UNREADABLE "$TB_T/base.res" "$TB_T/shim.res" && { tail -20 "$TB_T/base.out" "$TB_T/shim.out"; tb_fail "no JUnit results"; }
echo "cases: $(wc -l <"$TB_T/base.res") without, $(wc -l <"$TB_T/shim.res") with the shim"
for f in base shim; do
	echo "$f: $(awk '{print $2}' "$TB_T/$f.res" | sort | uniq -c | tr '\n' ' ') (exit $(cat "$TB_T/$f.rc"))"
done
[ "$(wc -l <"$TB_T/base.res")" -gt 500 ] || tb_fail "too few test cases ran: $(tail -5 "$TB_T/base.out")"
diff "$TB_T/base.res" "$TB_T/shim.res" >"$TB_T/diff" && { echo "ok: every case the same"; exit 0; }
echo "differing cases (first runs):"
cat "$TB_T/diff"
# each differing case again, alone, both ways
ids=$(grep '^[<>]' "$TB_T/diff" | awk '{print $2}' | sort -u)
still=0
for id in $ids; do
	name=${id##*.}
	tb_preload off; run rb --match "$name"
	tb_preload on; run rs --match "$name"
	tb_preload off
	a=$(results "$TB_T/rb.xml" | grep -F "$id " | awk '{print $2}')
	b=$(results "$TB_T/rs.xml" | grep -F "$id " | awk '{print $2}')
	echo "again: $id without: ${a:-absent} with: ${b:-absent}"
	[ "$a" = "$b" ] || { still=$((still + 1)); grep -B2 -A25 "$name" "$TB_T/rs.out" | head -60; }
done
[ "$still" = 0 ] || tb_fail "$still case(s) differ with the shim, again when run alone"
echo "ok: the first runs' differences did not repeat (timing)"
