#!/bin/sh
# package_deb.sh — `make deb` on a fresh clone (issue 16, Done-when 1): clones
# this repository's committed HEAD into a temporary directory, runs `make deb`
# there (debhelper's dpkg-buildpackage, then lintian failing on any error or
# warning), and checks the result: the file name hoptrace_VERSION_ARCH.deb,
# lintian's verdict (its remaining info tags are printed), the library in the
# multiarch directory, the conffiles, and no /etc/ld.so.preload in the package
# or its maintainer scripts' install paths (only prerm's removal may name it).
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v git >/dev/null 2>&1 && git -C "$top" rev-parse --git-dir >/dev/null 2>&1 ||
	{ echo "SKIP: not a git checkout"; exit 77; }
for c in dpkg-buildpackage dh lintian; do
	command -v $c >/dev/null 2>&1 || { echo "SKIP: $c missing (packaging/deps.sh)"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/htdeb.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

git clone -q "$top" "$tmp/src" || { echo "FAIL: git clone"; exit 1; }
echo "== fresh clone of $(git -C "$tmp/src" log -1 --format='%h %s' | cut -c1-70)"
(cd "$tmp/src" && make --no-print-directory deb) >"$tmp/make.log" 2>&1
rc=$?
tail -n 5 "$tmp/make.log" | sed 's/^/    | /'
[ $rc = 0 ] && ok "make deb (lintian --fail-on error,warning passed)" || { tail -n 40 "$tmp/make.log"; fail "make deb: rc $rc"; }
ver=$(dpkg-parsechangelog -l "$tmp/src/packaging/debian/changelog" -SVersion)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
deb=$tmp/src/build/hoptrace_${ver}_${arch}.deb
[ -f "$deb" ] && ok "built $(basename "$deb")" || { fail "no $deb"; exit 1; }
lintian -I --pedantic --tag-display-limit 0 "$deb" >"$tmp/lintian" 2>&1
grep -E '^[EW]:' "$tmp/lintian" && fail "lintian errors or warnings" || ok "lintian: no error or warning"
sed -n 's/^\([IPX]\): /    lintian \1: /p' "$tmp/lintian"
dpkg-deb -c "$deb" >"$tmp/contents"
grep -q " \./usr/lib/$ma/hoptrace/libhoptrace.so$" "$tmp/contents" && ok "library in /usr/lib/$ma/hoptrace" || fail "library not in the multiarch dir"
for c in /etc/hoptrace/hoptrace.conf /etc/hoptrace/policy.acl /etc/logrotate.d/hoptrace; do
	dpkg-deb -I "$deb" conffiles | grep -qx "$c" || fail "$c not a conffile"
done
ok "conffiles: $(dpkg-deb -I "$deb" conffiles | tr '\n' ' ')"
grep -q 'ld.so.preload' "$tmp/contents" && fail "the package ships ld.so.preload"
mkdir -p "$tmp/ctl" && dpkg-deb -e "$deb" "$tmp/ctl"
for s in preinst postinst postrm; do
	[ -f "$tmp/ctl/$s" ] || continue
	grep -v '^#' "$tmp/ctl/$s" | grep -q 'ld.so.preload[^-]' && fail "$s touches /etc/ld.so.preload"
done
ok "installing does not touch /etc/ld.so.preload (prerm removes our entry on removal)"
[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
