#!/bin/sh
# package_conf.sh — the packaged configuration and what an operator meets on
# day one: packaging/hoptrace.conf and packaging/policy.acl pass hoptraced -n
# and hopguard -n; a bad setting makes every daemon's -n name FILE:LINE; the
# packaged policy accepts everything (`hoptrace policy check`); and
# packaging/hopguard-cleanup removes the chain named in [guard] chain (here a
# non-default name, in a throw-away network namespace) with every jump to it,
# IPv4 and IPv6, and is idempotent.
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac
for p in hoptraced hopguard hoptrace-policyd hoptrace; do
	[ -x "$bin/$p" ] || { echo "SKIP: $p not built"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespace)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/htconf.XXXXXX") || exit 1
ns=htconf$$
trap 'ip netns del $ns 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

sed "s|^policy = .*|policy = $top/packaging/policy.acl|" "$top/packaging/hoptrace.conf" >"$tmp/pkg.conf"
"$bin/hoptraced" -n -f "$tmp/pkg.conf" >/dev/null 2>&1 && ok "hoptraced -n: packaged config OK" || fail "hoptraced -n on the packaged config"
"$bin/hopguard" -n -f "$tmp/pkg.conf" >/dev/null 2>&1 && ok "hopguard -n: packaged config and policy OK" || fail "hopguard -n on the packaged config"
"$bin/hoptrace" policy check "$top/packaging/policy.acl" >/dev/null 2>&1 && ok "hoptrace policy check: packaged policy.acl" || fail "packaged policy.acl"

bad() { # PROG SECTION LINE... : -n must fail and name FILE:LINE of the bad setting
	prog=$1 sect=$2; shift 2
	{ echo "# comment"; echo "[$sect]"; for l in "$@"; do echo "$l"; done; } >"$tmp/bad.conf"
	want=$(( $# + 2 ))
	out=$("$bin/$prog" -n -f "$tmp/bad.conf" 2>&1) && { fail "$prog -n accepted: $*"; return; }
	echo "$out" | grep -q "$tmp/bad.conf:$want:" && ok "$prog -n names bad.conf:$want: $(echo "$out" | head -n 1 | cut -c1-100)" ||
		fail "$prog -n: no FILE:LINE for '$*': $out"
}
bad hoptraced collector "retention = 60s" "retention = banana"
bad hoptraced inquiry "max_depth = 999"
bad hopguard guard "workers = 4" "workers = -3"
bad hopguard guard "no_such_key = 1"
bad hoptrace-policyd policyd "user = nobody" "max_body = lots"
bad hoptrace-policyd policyd "policy = /x" "secret = x"
bad hopguard guard "monitor = no" "policy_secret = x"

# hopguard-cleanup with a chain name from the config
ip netns add "$ns" || { echo "FAIL: ip netns add"; exit 1; }
printf '[guard]\nchain = HT_TEST_%s ; comment\n' "$$" >"$tmp/c.conf"
ch=HT_TEST_$$
for t in iptables ip6tables; do
	ip netns exec "$ns" $t -w -N "$ch" && ip netns exec "$ns" $t -w -A "$ch" -j RETURN &&
		ip netns exec "$ns" $t -w -I OUTPUT 1 -p tcp --syn -j "$ch" &&
		ip netns exec "$ns" $t -w -I OUTPUT 1 -p tcp --syn -j "$ch" || fail "$t: set up $ch"
done
ip netns exec "$ns" sh "$top/packaging/hopguard-cleanup" "$tmp/c.conf" && ok "hopguard-cleanup exit 0" || fail "hopguard-cleanup failed"
for t in iptables ip6tables; do
	ip netns exec "$ns" $t-save | grep -q "$ch" && fail "$t: $ch left" || ok "$t: chain $ch and both jumps removed"
done
ip netns exec "$ns" sh "$top/packaging/hopguard-cleanup" "$tmp/c.conf" && ok "hopguard-cleanup again: exit 0 (idempotent)" || fail "second cleanup"
printf '[guard]\nchain = "x y"\n' >"$tmp/y.conf"
ip netns exec "$ns" sh "$top/packaging/hopguard-cleanup" "$tmp/y.conf" 2>/dev/null && fail "cleanup took a bad chain name" || ok "hopguard-cleanup refuses a bad chain name"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
