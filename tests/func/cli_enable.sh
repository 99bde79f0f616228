#!/bin/sh
# cli_enable.sh — `hoptrace enable` is safe (issue 16, Done-when 4):
#   - it proves the shim loads and runs in a fresh process before it edits the
#     preload file, and refuses, leaving the file byte-for-byte and inode
#     unchanged: a truncated copy of the real shim, a file that is not ELF, a
#     shared object that is not the shim (loads, but no constructor reports),
#     one whose constructor kills the process, one that prints from ld.so;
#   - it refuses a library (or a directory above it) others could replace;
#   - it keeps a backup, replaces the file atomically (owner and mode kept, no
#     temporary left), and `disable` gives back the original bytes;
#   - `status` counts the running processes that carry the shim;
#   - run without --preload-file it edits /etc/ld.so.preload — here inside a
#     private mount namespace with an overlay over /etc; afterwards the real
#     /etc/ld.so.preload is checked unchanged (or still absent).
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac
[ -x "$bin/hoptrace" ] && [ -f "$bin/libhoptrace.so" ] || { echo "SKIP: not built"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (mount namespace)"; exit 77; }

real_before=$( { stat -c '%i %s %Y' /etc/ld.so.preload && sha256sum </etc/ld.so.preload; } 2>/dev/null || echo absent)

if [ "${HT_ENABLE_INNER:-}" != 1 ]; then
	HT_ENABLE_INNER=1 unshare -m --propagation private -- sh "$0" "$@"
	rc=$?
	real_after=$( { stat -c '%i %s %Y' /etc/ld.so.preload && sha256sum </etc/ld.so.preload; } 2>/dev/null || echo absent)
	if [ "$real_before" != "$real_after" ]; then
		echo "FAIL: the machine's /etc/ld.so.preload changed: $real_before -> $real_after"
		exit 1
	fi
	echo "ok   the machine's /etc/ld.so.preload is unchanged ($real_before)"
	exit $rc
fi

# ---- inside: a private /etc (overlay) and a scratch directory ------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/htenable.XXXXXX") || exit 1
chmod 0700 "$tmp"
mkdir -p "$tmp/up" "$tmp/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$tmp/up,workdir=$tmp/work" /etc || { echo "FAIL: overlay /etc"; exit 1; }
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done; umount -l /etc 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
sig() { { stat -c '%i %s %a %u:%g' "$1" && sha256sum <"$1"; } 2>/dev/null | tr '\n' ' '; }

mkdir -p "$tmp/bin"
cp "$bin/hoptrace" "$tmp/bin/hoptrace"
HT=$tmp/bin/hoptrace
lib=$tmp/bin/libhoptrace.so
pf=$tmp/ld.so.preload
printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n' >"$pf"
chmod 0640 "$pf"
orig=$(sig "$pf")

# refuse_with NAME REGEX : enable must fail, say why, leave $pf as it was
refuse_with() {
	"$HT" enable --preload-file "$pf" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc = 1 ] && grep -Eq "$2" "$tmp/err" && grep -q "unchanged" "$tmp/err" &&
		[ "$(sig "$pf")" = "$orig" ]; then
		ok "$1 refused: $(head -n 1 "$tmp/err" | cut -c1-150)"
	else
		fail "$1: rc $rc, preload $(sig "$pf") (was $orig)"
		sed 's/^/    | /' "$tmp/out" "$tmp/err"
	fi
	ls "$tmp"/ld.so.preload.* >/dev/null 2>&1 && fail "$1: temporary file left"
	[ -e "$pf-hoptrace.bak" ] && fail "$1: a refused enable wrote a backup"
}

# 1. a truncated copy of the real shim
head -c 4096 "$bin/libhoptrace.so" >"$lib"
refuse_with "truncated shim" 'killed by signal|printed|exited|no record'
# 2. not ELF at all
echo 'not a library' >"$lib"
refuse_with "text file" 'printed|no record'
# 3. a real shared object that is not the shim: loads, runs nothing
echo 'int ht_stand_in;' | ${CC:-cc} -shared -fPIC -x c -o "$lib" - || { echo "FAIL: cc"; exit 1; }
refuse_with "a shared object that is not the shim" 'no record'
# 4. a constructor that aborts every program
printf '#include <stdlib.h>\n__attribute__((constructor)) static void c(void) { abort(); }\n' |
	${CC:-cc} -shared -fPIC -x c -o "$lib" - || { echo "FAIL: cc"; exit 1; }
refuse_with "a library whose constructor aborts" 'killed by signal 6'
# 5. a constructor that exits 1 (the program never runs)
printf '#include <stdlib.h>\n__attribute__((constructor)) static void c(void) { exit(1); }\n' |
	${CC:-cc} -shared -fPIC -x c -o "$lib" - || { echo "FAIL: cc"; exit 1; }
refuse_with "a library whose constructor exits 1" 'exited 1'
# 6. the real shim, but writable by others / in a directory others may write
cp "$bin/libhoptrace.so" "$lib"
chmod 0666 "$lib"
refuse_with "a world-writable shim" 'writable by everyone'
chmod 0664 "$lib"
refuse_with "a group-writable shim" 'writable by its group'
chmod 0644 "$lib"
chmod 0777 "$tmp/bin"
refuse_with "a shim in a world-writable directory" "$tmp/bin is writable by everyone"
chmod 0755 "$tmp/bin"
chown nobody "$lib"
refuse_with "a shim owned by another user" 'not root'
chown root "$lib"

# ---- the real shim: enabled, backed up, atomic, disable restores -----------------
"$HT" enable --preload-file "$pf" >"$tmp/out" 2>&1 || { fail "enable of the real shim"; cat "$tmp/out"; }
grep -q "^checked: $lib loads and runs" "$tmp/out" && ok "enable checked the shim first" || fail "no 'checked:' line: $(cat "$tmp/out")"
want=$(printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n%s' "$lib")
[ "$(cat "$pf")" = "$want" ] && ok "enable added the shim, other entries kept" || fail "after enable: $(cat "$pf")"
[ "$(stat -c '%a %u:%g' "$pf")" = "640 0:0" ] && ok "mode and owner kept" || fail "mode/owner $(stat -c '%a %u:%g' "$pf")"
[ "$(sha256sum <"$pf-hoptrace.bak")" = "$(printf '/usr/lib/other.so\n/opt/x/liba.so /opt/x/libb.so\n' | sha256sum)" ] &&
	ok "backup $pf-hoptrace.bak holds the original" || fail "backup: $(cat "$pf-hoptrace.bak" 2>&1)"
ls "$tmp"/ld.so.preload.* >/dev/null 2>&1 && fail "temporary files left behind"

# status: a process that carries this shim is counted
LD_PRELOAD=$lib HOPTRACE_SOCKET=@ht-enable-none sleep 30 &
pids="$pids $!"
sleep 0.3
"$HT" status --preload-file "$pf" >"$tmp/st" 2>/dev/null
grep -q "^shim.preload: enabled ($pf)" "$tmp/st" && ok "status: preload enabled" || fail "status preload: $(cat "$tmp/st")"
n=$(sed -n 's/^shim.processes_with_this_shim: //p' "$tmp/st")
[ "${n:-0}" -ge 1 ] && ok "status: $n running process(es) carry this shim" || fail "status count: $(cat "$tmp/st")"

"$HT" disable --preload-file "$pf" >/dev/null 2>&1 || fail "disable"
[ "$(sha256sum <"$pf")" = "$(sha256sum <"$pf-hoptrace.bak")" ] && ok "disable gave back the original bytes" || fail "after disable: $(cat "$pf")"
"$HT" status --preload-file "$pf" 2>/dev/null | grep -q "^shim.preload: disabled" && ok "status: preload disabled" || fail "status after disable"

# ---- concurrent edits: 8 enables of 8 copies at once lose none ------------------
printf '/usr/lib/other.so\n' >"$tmp/many"
for i in 1 2 3 4 5 6 7 8; do
	mkdir -p "$tmp/c$i" && cp "$HT" "$tmp/c$i/hoptrace" && cp "$bin/libhoptrace.so" "$tmp/c$i/libhoptrace.so"
done
for i in 1 2 3 4 5 6 7 8; do "$tmp/c$i/hoptrace" enable --preload-file "$tmp/many" >/dev/null 2>&1 & done
wait
n=$(grep -c 'libhoptrace.so$' "$tmp/many")
[ "$n" = 8 ] && grep -qx /usr/lib/other.so "$tmp/many" && ok "8 concurrent enables: all 8 entries there (flock)" ||
	fail "concurrent enables: $n of 8 entries: $(cat "$tmp/many")"
"$HT" disable --preload-file "$tmp/many" >/dev/null 2>&1
[ "$(cat "$tmp/many")" = /usr/lib/other.so ] && ok "one disable removes every copy" || fail "after disable: $(cat "$tmp/many")"

# ---- the default file: /etc/ld.so.preload of this private /etc ------------------
rm -f /etc/ld.so.preload
head -c 4096 "$bin/libhoptrace.so" >"$lib"
"$HT" enable >"$tmp/out" 2>&1 && fail "default path: a truncated shim was enabled"
[ -e /etc/ld.so.preload ] && fail "default path: refused enable created /etc/ld.so.preload" || ok "default path: truncated shim refused, /etc/ld.so.preload not created"
cp "$bin/libhoptrace.so" "$lib"
"$HT" enable >"$tmp/out" 2>&1 && [ "$(cat /etc/ld.so.preload)" = "$lib" ] &&
	ok "default path: enable wrote /etc/ld.so.preload (overlay)" || fail "default enable: $(cat "$tmp/out")"
# every new process now loads it (this namespace only): /bin/true still runs
/bin/true && ok "a new process starts with the shim preloaded" || fail "/bin/true fails with the shim preloaded"
"$HT" disable >/dev/null 2>&1 && [ ! -s /etc/ld.so.preload ] && ok "default path: disable" || fail "default disable"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
