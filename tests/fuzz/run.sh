#!/bin/sh
# tests/fuzz/run.sh — runs libFuzzer targets for a while each.
#   FUZZ_BUILD=build-fuzz FUZZ_SECONDS=N sh tests/fuzz/run.sh [TARGET]
# Every $FUZZ_BUILD/fuzz_* (or just TARGET) runs for FUZZ_SECONDS (default 60)
# seconds on a temporary copy of its seed corpus tests/fuzz/corpus/TARGET/
# (the committed seeds are never modified). Crash artifacts are kept in
# $FUZZ_BUILD/artifacts/TARGET/ and the last lines of the log are printed. Exits non-zero if any target crashed or is missing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}

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
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
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
