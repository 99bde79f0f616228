#!/bin/sh
# cli_basic.sh — the hoptrace CLI without a collector: usage and exit codes,
# "collector unreachable", enable/disable on a scratch preload file (idempotent,
# other entries kept, refused without the shim), and eval "$(hoptrace env)".
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac
HT=$bin/hoptrace
[ -x "$HT" ] || { echo "FAIL: $HT not built"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/htcli.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

expect_rc() { # rc-wanted description command...
	e_want=$1 e_what=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = "$e_want" ]; then ok "$e_what (rc $rc)"; else
		fail "$e_what: rc $rc, wanted $e_want"
		sed 's/^/    | /' "$tmp/out" "$tmp/err"
	fi
}

# ---- usage -------------------------------------------------------------------
expect_rc 0 "hoptrace -h" "$HT" -h
grep -q '^usage: hoptrace \[-f CONF\] \[--json\] COMMAND' "$tmp/out" || fail "-h prints no usage line"
for c in chain who ps graph status env enable disable log policy; do
	grep -q "^  $c" "$tmp/out" || fail "-h does not list $c"
done
expect_rc 0 "hoptrace --help" "$HT" --help
expect_rc 2 "no command" "$HT"
expect_rc 2 "unknown command" "$HT" frobnicate
expect_rc 2 "unknown option" "$HT" --frob status
expect_rc 2 "-f without a file" "$HT" -f
expect_rc 2 "chain without pid" "$HT" chain
expect_rc 2 "chain with a non-number" "$HT" chain 12x
expect_rc 2 "chain with pid 0" "$HT" chain 0
expect_rc 2 "chain with two pids" "$HT" chain 1 2
expect_rc 2 "who with one endpoint" "$HT" who 10.0.0.1:22
expect_rc 2 "who with a bad endpoint" "$HT" who 10.0.0.1 10.0.0.2:22
expect_rc 2 "who with port > 65535" "$HT" who 10.0.0.1:1 10.0.0.2:70000
expect_rc 2 "who with bare IPv6" "$HT" who ::1:22 10.0.0.2:22
expect_rc 2 "graph without --dot" "$HT" graph
expect_rc 2 "ps with an argument" "$HT" ps x
grep -q 'hoptrace -h' "$tmp/err" || fail "usage errors do not point at -h"

# ---- collector unreachable --------------------------------------------------
sock=$tmp/none.sock
printf '[collector]\ncontrol = %s\n' "$sock" >"$tmp/conf"
expect_rc 3 "status, no collector" "$HT" -f "$tmp/conf" status
grep -q "cannot reach collector at $sock: " "$tmp/err" || fail "no 'cannot reach collector at PATH: reason' message: $(cat "$tmp/err")"
expect_rc 3 "chain --json, no collector" "$HT" -f "$tmp/conf" chain 1 --json
expect_rc 3 "who, no collector" "$HT" who 10.0.0.1:1 '[2001:db8::1]:22' -f "$tmp/conf"
if command -v python3 >/dev/null 2>&1; then
	# a stale socket file: nobody listening
	python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$sock"
	expect_rc 3 "status, stale socket" "$HT" -f "$tmp/conf" status
	grep -q "cannot reach collector at $sock: Connection refused" "$tmp/err" || fail "stale socket: $(cat "$tmp/err")"
fi
printf '[collector]\ncontrol = relative.sock\n' >"$tmp/badconf"
expect_rc 2 "bad config" "$HT" -f "$tmp/badconf" status
grep -q "$tmp/badconf:2: " "$tmp/err" || fail "bad config: no FILE:LINE: $(cat "$tmp/err")"
expect_rc 2 "missing -f file" "$HT" -f "$tmp/nonexistent.conf" status

# ---- enable / disable --------------------------------------------------------
# A copy of the CLI next to a stand-in shim, so this does not depend on the shim build.
mkdir -p "$tmp/bin" "$tmp/noshim"
cp "$HT" "$tmp/bin/hoptrace"
cp "$HT" "$tmp/noshim/hoptrace"
# a real (empty) shared object, so that processes started with it stay quiet
if [ -f "$bin/libhoptrace.so" ]; then cp "$bin/libhoptrace.so" "$tmp/bin/libhoptrace.so"
else echo 'int ht_stand_in;' | ${CC:-cc} -shared -fPIC -x c -o "$tmp/bin/libhoptrace.so" - ||
	{ echo "FAIL: cannot build a stand-in shim"; exit 1; }
fi
lib=$(cd "$tmp/bin" && pwd -P)/libhoptrace.so
pf=$tmp/ld.so.preload
printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n' >"$pf"
chmod 0640 "$pf"

expect_rc 1 "enable without the shim is refused" "$tmp/noshim/hoptrace" enable --preload-file "$pf"
[ "$(cat "$pf")" = "$(printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so')" ] || fail "refused enable changed the file"

expect_rc 0 "enable" "$tmp/bin/hoptrace" enable --preload-file "$pf"
want=$(printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n%s' "$lib")
[ "$(cat "$pf")" = "$want" ] || { fail "after enable:"; cat "$pf"; }
[ "$(stat -c %a "$pf")" = 640 ] || fail "enable did not keep the file mode ($(stat -c %a "$pf"))"
expect_rc 0 "enable again (idempotent)" "$tmp/bin/hoptrace" --preload-file "$pf" enable
[ "$(cat "$pf")" = "$want" ] || { fail "after second enable:"; cat "$pf"; }
[ "$(grep -c libhoptrace "$pf")" = 1 ] || fail "library listed more than once"
expect_rc 0 "disable" "$tmp/bin/hoptrace" disable --preload-file "$pf"
[ "$(cat "$pf")" = "$(printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so')" ] || { fail "after disable:"; cat "$pf"; }
expect_rc 0 "disable again (idempotent)" "$tmp/bin/hoptrace" disable --preload-file "$pf"
[ "$(cat "$pf")" = "$(printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so')" ] || fail "second disable changed the file"
ls "$tmp"/ld.so.preload.* >/dev/null 2>&1 && fail "temporary files left behind"

# a missing file is created; a file without a final newline is kept intact
rm -f "$pf"
expect_rc 0 "enable creates the file" "$tmp/bin/hoptrace" enable --preload-file "$pf"
[ "$(cat "$pf")" = "$lib" ] || fail "created file: $(cat "$pf")"
expect_rc 0 "disable leaves it empty" "$tmp/bin/hoptrace" disable --preload-file "$pf"
[ -f "$pf" ] && [ ! -s "$pf" ] || fail "after disable the file is not empty"
printf '/usr/lib/other.so' >"$pf"
expect_rc 0 "enable after a line without newline" "$tmp/bin/hoptrace" enable --preload-file "$pf"
[ "$(cat "$pf")" = "$(printf '/usr/lib/other.so\n%s' "$lib")" ] || fail "no-newline file: $(cat "$pf")"
# disable also removes a copy of the shim from another place, on a shared line
printf '/old/prefix/lib/hoptrace/libhoptrace.so /usr/lib/keep.so\n' >"$pf"
expect_rc 0 "disable removes other copies" "$tmp/bin/hoptrace" disable --preload-file "$pf"
[ "$(cat "$pf")" = "/usr/lib/keep.so" ] || fail "shared line: $(cat "$pf")"
expect_rc 2 "--preload-file without a file" "$tmp/bin/hoptrace" enable --preload-file

# ---- env ----------------------------------------------------------------------
got=$(env -u LD_PRELOAD sh -c 'eval "$("$1" env)" && printf %s "$LD_PRELOAD"' sh "$tmp/bin/hoptrace")
[ "$got" = "$lib" ] && ok "eval env sets LD_PRELOAD" || fail "eval env: LD_PRELOAD='$got', wanted '$lib'"
# exported, not just set
got=$(env -u LD_PRELOAD sh -c 'eval "$("$1" env)" && export -p | grep -c "LD_PRELOAD="' sh "$tmp/bin/hoptrace")
[ "$got" = 1 ] && ok "LD_PRELOAD exported" || fail "LD_PRELOAD not exported"
# appended to an existing value (printf is a builtin: nothing is executed with it)
got=$(LD_PRELOAD="/a b/x.so" sh -c 'eval "$("$1" env 2>/dev/null)" 2>/dev/null; printf %s "$LD_PRELOAD"' sh "$tmp/bin/hoptrace" 2>/dev/null)
[ "$got" = "/a b/x.so $lib" ] && ok "env appends" || fail "env append: '$got'"
# twice: not added again
got=$(LD_PRELOAD="$lib" sh -c 'eval "$("$1" env)"; printf %s "$LD_PRELOAD"' sh "$tmp/bin/hoptrace" 2>/dev/null)
[ "$got" = "$lib" ] && ok "env idempotent" || fail "env twice: '$got'"
expect_rc 1 "env without the shim" env -u LD_PRELOAD "$tmp/noshim/hoptrace" env
# the real build tree, when the shim is built
if [ -f "$bin/libhoptrace.so" ]; then
	real=$(cd "$bin" && pwd -P)/libhoptrace.so
	got=$(env -u LD_PRELOAD sh -c 'eval "$("$1" env)"; printf %s "$LD_PRELOAD"' sh "$HT")
	[ "$got" = "$real" ] && ok "env in the build tree" || fail "build tree env: '$got'"
fi
# installed layout: bin/hoptrace finds ../lib/hoptrace/libhoptrace.so
mkdir -p "$tmp/pfx/bin" "$tmp/pfx/lib/hoptrace"
cp "$HT" "$tmp/pfx/bin/hoptrace"
cp "$tmp/bin/libhoptrace.so" "$tmp/pfx/lib/hoptrace/libhoptrace.so"
got=$(env -u LD_PRELOAD sh -c 'eval "$("$1" env)"; printf %s "$LD_PRELOAD"' sh "$tmp/pfx/bin/hoptrace")
[ "$got" = "$(cd "$tmp/pfx/lib/hoptrace" && pwd -P)/libhoptrace.so" ] && ok "env, installed layout" || fail "installed env: '$got'"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
