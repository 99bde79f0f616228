#!/bin/sh
# shim_exports: libhoptrace.so exports exactly the libc names listed in
# preload/exports.map (the wrapped names) — no other global symbol.
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 1
lib=${BUILD:-build}/libhoptrace.so
[ -f "$lib" ] || { echo "missing $lib (run make)"; exit 1; }
command -v nm >/dev/null || { echo "nm not installed"; exit 77; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
# names between "global:" and "local:", comments stripped
sed 's|/\*.*\*/||g' preload/exports.map | tr -s ' \t\n' '\n' |
	awk '/^global:/{g=1;next} /^local:/{g=0} g' | tr -d ';' | grep -v '^$' | sort -u >"$tmp/want"
nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$tmp/have"
[ -s "$tmp/want" ] || { echo "could not read preload/exports.map"; exit 1; }
if ! cmp -s "$tmp/want" "$tmp/have"; then
	echo "exported symbols differ from preload/exports.map (< map only, > library only):"
	diff "$tmp/want" "$tmp/have"
	exit 1
fi
# every exported name must be a real libc function (a wrapper, not a new API)
libc=$(ldd "$lib" | awk '/libc\.so/{print $3}')
if [ -n "$libc" ]; then
	nm -D --defined-only "$libc" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$tmp/libc"
	extra=$(comm -23 "$tmp/have" "$tmp/libc")
	[ -z "$extra" ] || { echo "exported names that libc does not define: $extra"; exit 1; }
fi
echo "OK: $(wc -l <"$tmp/have") exported names, all wrapped libc functions"
