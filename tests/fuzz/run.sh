#!/bin/sh
# tests/fuzz/run.sh — runs libFuzzer targets for a while each.
#   FUZZ_BUILD=build-fuzz FUZZ_SECONDS=N sh tests/fuzz/run.sh [TARGET]
#   sh tests/fuzz/run.sh --replay [TARGET]
# Every $FUZZ_BUILD/fuzz_* (or just TARGET) runs for FUZZ_SECONDS (default 60)
# seconds on a temporary copy of its seed corpus tests/fuzz/corpus/TARGET/
# (the committed seeds are never modified), with the extra libFuzzer flags of
# tests/fuzz/TARGET.options if there is one. UBSan reports are fatal
# (halt_on_error) except the known ones in tests/fuzz/ubsan.supp; set
# UBSAN_OPTIONS to override. Crash artifacts are kept in
# $FUZZ_BUILD/artifacts/TARGET/ and the last lines of the log are printed.
# Exits non-zero if any target crashed or is missing.
# --replay runs each recorded reproducer tests/fuzz/crashes/TARGET/* once and
# says which still crash (they are kept out of the corpus: they may crash
# until their fix lands); exits non-zero if any does.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
replay=0
supp=":suppressions=$top/tests/fuzz/ubsan.supp"
if [ "${1:-}" = --replay ]; then
	replay=1
	supp="" # (a reproducer of a suppressed report must still fail)
	shift
fi
: "${UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1$supp}"
export UBSAN_OPTIONS

if [ $# -gt 0 ]; then
	targets=$(basename "$1")
else
	targets=""
	for f in "$FUZZ_BUILD"/fuzz_*; do
		[ -x "$f" ] && [ -f "$f" ] && targets="$targets $(basename "$f")"
	done
fi
if [ -z "$targets" ]; then
	echo "no fuzz targets in $FUZZ_BUILD (run: make fuzz)" >&2
	exit 1
fi

if [ $replay = 1 ]; then
	rc=0
	for t in $targets; do
		for f in tests/fuzz/crashes/"$t"/*; do
			[ -f "$f" ] || continue
			case $f in *.txt|*.md) continue ;; esac
			# (a slowness finding: fixed, it runs in milliseconds)
			to=10
			case $(basename "$f") in timeout-*) to=3 ;; esac
			if "$FUZZ_BUILD/$t" -timeout=$to "$f" >/dev/null 2>&1; then
				echo "fixed   $f"
			else
				echo "CRASHES $f (run: $FUZZ_BUILD/$t $f)"
				rc=1
			fi
		done
	done
	exit $rc
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/htfuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
rc=0
for t in $targets; do
	bin=$FUZZ_BUILD/$t
	if [ ! -x "$bin" ]; then
		echo "FAIL $t: $bin not built (run: make fuzz)"
		rc=1
		continue
	fi
	corpus=$tmp/$t
	mkdir -p "$corpus" "$FUZZ_BUILD/artifacts/$t"
	if [ -d "tests/fuzz/corpus/$t" ]; then
		cp -R "tests/fuzz/corpus/$t/." "$corpus/" 2>/dev/null
	fi
	echo "== $t: ${FUZZ_SECONDS}s, seeds $(ls "$corpus" | wc -l)"
	opts=""
	[ -f "tests/fuzz/$t.options" ] && opts=$(grep -v '^#' "tests/fuzz/$t.options")
	# shellcheck disable=SC2086 # (opts: one flag a word)
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 $opts \
		-print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/artifacts/$t/" \
		"$corpus" >"$tmp/$t.log" 2>&1
	st=$?
	tail -n 40 "$tmp/$t.log"
	if [ "$st" != 0 ]; then
		echo "FAIL $t (rc $st): artifacts in $FUZZ_BUILD/artifacts/$t/"
		rc=1
	else
		echo "PASS $t"
	fi
done
exit $rc
