#!/bin/sh
# tests/helpers/build-static.sh — builds $BUILD/tests/helpers/static_connect with
# `cc -static` (a program the shim cannot see). The Makefile links every
# tests/helpers/*.c dynamically, so this one lives in tests/helpers/static/.
# Prints the binary's path; exit 77 (skip) when static linking is not possible.
set -u
: "${HT_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BUILD:=build}"
: "${CC:=cc}"
out=$HT_TOP/$BUILD/tests/helpers/static_connect
src=$HT_TOP/tests/helpers/static/static_connect.c
mkdir -p "$(dirname "$out")"
if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
	"$CC" -static -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$out.tmp" "$src" 2>"$out.err" ||
		{ echo "cannot link statically: $(head -n 3 "$out.err")" >&2; rm -f "$out.tmp"; exit 77; }
	mv "$out.tmp" "$out"; rm -f "$out.err"
fi
# really static? (no program interpreter)
if command -v readelf >/dev/null 2>&1 && readelf -l "$out" | grep -q INTERP; then
	echo "$out is not static" >&2; exit 77
fi
echo "$out"
