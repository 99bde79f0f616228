#!/bin/sh
# tests/run.sh — runs the test suites and prints one closing line
# "N passed, N failed, N skipped". Usage: tests/run.sh [unit|asan|fuzz|func|all] [FILTER]
#   unit  every $BUILD/tests/*_test        (no root needed)
#   asan  the same binaries from $ASAN_BUILD (ASan/UBSan)
#   fuzz  every libFuzzer target from $FUZZ_BUILD for FUZZ_SECONDS (default 5) each
#   func  every tests/func/*.sh as root; exit 77 from a test means "skipped" and
#         it prints why. A test that runs longer than FUNC_TIMEOUT (300 s) fails.
# FILTER: only tests whose name contains it.
set -u
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
what=${1:-all}
filter=${2:-}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export HT_TOP="$top" BUILD ASAN_BUILD FUZZ_BUILD
logdir=${HT_TEST_LOGS:-$top/$BUILD/test-logs}
mkdir -p "$logdir"

pass=0 fail=0 skip=0 failed_names=""
result() { # name rc
	case $2 in
	0) pass=$((pass + 1)); echo "PASS $1" ;;
	77) skip=$((skip + 1)); echo "SKIP $1: $(tail -n 1 "$logdir/$1.log" 2>/dev/null)" ;;
	*) fail=$((fail + 1)); failed_names="$failed_names $1"
	   echo "FAIL $1 (rc $2) — last lines of $logdir/$1.log:"
	   tail -n 25 "$logdir/$1.log" 2>/dev/null | sed 's/^/    /' ;;
	esac
}

run_bins() { # dir prefix
	for t in "$1"/tests/*_test; do
		[ -x "$t" ] || continue
		n="$2$(basename "$t")"
		case $n in *"$filter"*) ;; *) continue ;; esac
		mkdir -p "$(dirname "$logdir/$n.log")"
		"$t" >"$logdir/$n.log" 2>&1
		result "$n" $?
	done
}

if [ "$what" = unit ] || [ "$what" = all ]; then run_bins "$BUILD" unit/; fi
if [ "$what" = asan ] || [ "$what" = all ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
	run_bins "$ASAN_BUILD" asan/
fi
if [ "$what" = fuzz ] || [ "$what" = all ]; then
	for f in "$FUZZ_BUILD"/fuzz_*; do
		[ -x "$f" ] || continue
		n="fuzz/$(basename "$f")"
		case $n in *"$filter"*) ;; *) continue ;; esac
		FUZZ_SECONDS=${FUZZ_SECONDS:-5} FUZZ_BUILD=$FUZZ_BUILD \
			sh tests/fuzz/run.sh "$(basename "$f")" >"$logdir/$(echo "$n" | tr / _).log" 2>&1
		rc=$?
		mkdir -p "$logdir/fuzz"; cp "$logdir/$(echo "$n" | tr / _).log" "$logdir/$n.log" 2>/dev/null
		result "$n" $rc
	done
fi
if [ "$what" = func ] || [ "$what" = all ]; then
	for t in tests/func/*.sh; do
		[ -f "$t" ] || continue
		n="func/$(basename "$t" .sh)"
		case $n in *"$filter"*) ;; *) continue ;; esac
		mkdir -p "$logdir/func"
		if [ "$(id -u)" != 0 ]; then
			echo "needs root (network namespaces, iptables)" >"$logdir/$n.log"
			result "$n" 77
			continue
		fi
		# (a test may ask for more than 300 s: a line "# ht-timeout: SECONDS")
		tmo=$(sed -n 's/^# ht-timeout: *\([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
		timeout -k 10 "${FUNC_TIMEOUT:-${tmo:-300}}" sh "$t" >"$logdir/$n.log" 2>&1
		result "$n" $?
	done
fi

[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
