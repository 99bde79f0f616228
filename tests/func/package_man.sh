#!/bin/sh
# package_man.sh — the man pages (issue 16, Done-when 5): every page in
# docs/man lints clean (mandoc -Tlint at level warning, and groff through
# man --warnings), every program and file format has one, and each program's
# usage() (-h) and its page's SYNOPSIS name the same options — and, for
# hoptrace, the same commands. `make man-lint` runs this alone.
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc missing (packaging/deps.sh)"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 missing"; exit 77; }
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }
M=$top/docs/man

for p in hoptrace.8 hoptraced.8 hopguard.8 hoptrace-policyd.8 hoptrace.conf.5 hoptrace-acl.5; do
	[ -f "$M/$p" ] || fail "no page $p"
done
for p in "$M"/*.[1-8]; do
	n=$(basename "$p")
	out=$(mandoc -Tlint -W warning "$p" 2>&1)
	[ -z "$out" ] && ok "mandoc -Tlint: $n clean" || fail "mandoc -Tlint $n: $out"
	if command -v man >/dev/null 2>&1; then
		out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null)
		[ -z "$out" ] && ok "man --warnings: $n clean" || fail "man --warnings $n: $out"
	fi
	# the sections every page has
	for s in NAME DESCRIPTION FILES EXAMPLES "SEE ALSO"; do
		grep -q "^\.Sh $s\$" "$p" || fail "$n has no $s section"
	done
done

# usage() against SYNOPSIS
for prog in hoptrace hoptraced hopguard hoptrace-policyd; do
	[ -x "$bin/$prog" ] || { fail "$bin/$prog not built"; continue; }
	"$bin/$prog" -h >"$bin/.usage.$prog" 2>&1
	mandoc -Tascii "$M/$prog.8" | col -b >"$bin/.page.$prog"
	python3 - "$prog" "$bin/.usage.$prog" "$bin/.page.$prog" <<'PY' || fails=$((fails + 1))
import re, sys
prog, usage, page = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read()
m = re.search(r"^SYNOPSIS\n(.*?)^\S", page, re.S | re.M)
syn = m.group(1) if m else ""
def opts(text):
    out = set()
    for t in re.findall(r"(?<![\w/-])(--?[A-Za-z][\w-]*)", text):
        if t.startswith("--"):
            out.add(t)
        elif len(t) > 2 and t[1:].isalpha() and t[1:].islower() and len(t) <= 6:
            out.update("-" + c for c in t[1:])   # a cluster: [-dnv]
        else:
            out.add(t)
    return out
u, s = opts(usage), opts(syn)
# -h/--help are in every usage(); the page documents them in its option list
u -= {"-h", "--help"}; s -= {"-h", "--help"}
bad = False
if u - s:
    print(f"FAIL: {prog}: usage() options not in the SYNOPSIS: {sorted(u - s)}"); bad = True
if s - u:
    print(f"FAIL: {prog}: SYNOPSIS options not in usage(): {sorted(s - u)}"); bad = True
if prog == "hoptrace":
    cmds = set(re.findall(r"^  ([a-z]+)\b", usage.split("options:")[0], re.M))
    words = set(re.findall(r"\b([a-z]+)\b", syn))
    if cmds - words:
        print(f"FAIL: hoptrace: commands of usage() not in the SYNOPSIS: {sorted(cmds - words)}"); bad = True
    print(f"     commands: {' '.join(sorted(cmds))}")
if not bad:
    print(f"ok   {prog}: usage() and SYNOPSIS agree: {' '.join(sorted(u))}")
sys.exit(1 if bad else 0)
PY
	rm -f "$bin/.usage.$prog" "$bin/.page.$prog"
done

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
