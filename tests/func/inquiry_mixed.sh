#!/bin/sh
# inquiry_mixed — a mixed fleet: this build (inquiry version 3, signed parts of format 2,
# the certificate by reference) with an older hoptraced (version 2, format 1). Chain ssh
# h1 -> h2 -> h3 -> h4; h3's collector is asked about h3's connection to h4 (`who`), so
# h3 judges, h2 forwards, h1 answers for the origin.
#   1. every host new: complete from h1, format 2 (twice: the second time the judge
#      holds the certificates)
#   2. h2 (on the way) old: it answers format 1 and asks h1 with "v":2, so h1 answers
#      format 1 too: complete from h1
#   3. h1 (the origin) old: asked with "v":3 and "have", it answers format 1
#   4. h3 (the judge) old: h2 is asked with "v":2, answers format 1 and asks h1 the same
#      way: complete from h1, never a format-2 part shown to the old judge
# The older hoptraced: HT_OLD_HOPTRACED (another build's, inside the tree: the testbed's
# hosts see the tree, not /tmp); else built here from this repository's history
# (HT_OLD_REV, default d44730e: the last main of inquiry version 2) into
# build/old-REV/ (kept: built once); skipped only when neither can be had (no git
# history, e.g. a release tarball).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
OLD=${HT_OLD_HOPTRACED:-}
if [ -z "$OLD" ]; then
	im_rev=${HT_OLD_REV:-d44730e}
	im_dir=$HT_TOP/build/old-$im_rev
	OLD=$im_dir/build/hoptraced
	if [ ! -x "$OLD" ]; then
		command -v git >/dev/null 2>&1 && git -C "$HT_TOP" cat-file -e "$im_rev^{commit}" 2>/dev/null ||
			tb_skip "no older hoptraced: HT_OLD_HOPTRACED unset and $im_rev not in this tree's git history"
		tb_log "building hoptraced of $im_rev (the older side) in $im_dir"
		rm -rf "$im_dir" && mkdir -p "$im_dir" &&
			git -C "$HT_TOP" archive "$im_rev" | tar -x -C "$im_dir" &&
			make -C "$im_dir" -j2 build/hoptraced >"$TB_T/old-build.log" 2>&1 ||
			tb_fail "cannot build $im_rev's hoptraced: $(tail -n 3 "$TB_T/old-build.log")"
	fi
fi
[ -x "$OLD" ] || tb_fail "HT_OLD_HOPTRACED=$OLD is not an executable"
tb_need ssh
INQ="$TB_PY $TB_LIB/inqtool.py"
H1=10.236.0.1 H2=10.236.0.2 H3=10.236.0.3 H4=10.236.0.4
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL-CASE $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
tb_switch
for h in 1 2 3 4; do
	tb_host h$h 10.236.0.$h
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on
tb_bg h1 ssh $H2 "ssh $H3 'ssh $H4 sleep 300'"
p=$(tb_wait_pid h3 "^ssh $H4" 15) || tb_fail "no ssh to h4 on h3"
c=""; i=0
while [ -z "$c" ] && [ $i -lt 50 ]; do
	c=$(tb_exec h3 ss -Htnp state established "( dst $H4 and dport = :22 )" 2>/dev/null |
		grep "pid=$p," | awk '{print $3, $4}' | head -n 1)
	i=$((i + 1)); sleep 0.1
done
[ -n "$c" ] || tb_fail "ssh on h3 did not connect to h4"
set -- $c; L=$1 R=$2
who_h3() { out=$(tb_exec h3 $INQ who "$L" "$R" 3000); echo "${out#* }" >"$A"; }
complete() { tb_assert_chain "$A" --origin h1 --complete -q >/dev/null 2>&1; }
# restart HOST BINARY
restart() {
	kill "$(cat "$(tb_dir $1)/hoptraced.pid")"
	i=0; while tb_exec $1 "$TB_HOPTRACE" status >/dev/null 2>&1 && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
	sleep 0.2
	_tb_bglog "$(tb_dir $1)/hoptraced.log" $1 "$2" -d -f /etc/hoptrace/hoptrace.conf
	echo "$TB_LAST" >"$(tb_dir $1)/hoptraced.pid"
	i=0; until tb_exec $1 "$TB_HOPTRACE" status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 50 ] || tb_fail "$1's collector did not come back"; sleep 0.1
	done
	sleep 0.5
}
# ask: complete from h1, with parts of format FMT ("v":FMT in the verdict's signed)
ask() { # CASE FMT
	who_h3
	if complete && grep -q "\"signed\":{\"v\":$2" "$A"; then
		ok "$1: complete from h1, parts of format $2"
	else
		bad "$1: $(grep -o '"reason":"[^"]*"' "$A" | sort | uniq -c | tr '\n' ' ') $(grep -o '"signed":{"v":[0-9]' "$A" | sort | uniq -c | tr '\n' ' ') $(head -c 200 "$A")"
	fi
}
ask "1. all new" 2
ask "1. all new, certificates held" 2
restart h2 "$OLD"
ask "2. h2 (on the way) old" 1
restart h2 "$TB_HOPTRACED"
restart h1 "$OLD"
who_h3
if complete && grep -q '"signed":{"v":2' "$A" && grep -q '"signed":{"v":1' "$A"; then
	ok "3. h1 (the origin) old: complete from h1, h2's part format 2, h1's format 1"
else
	bad "3. h1 old: $(grep -o '"reason":"[^"]*"' "$A" | sort | uniq -c | tr '\n' ' ') $(grep -o '"signed":{"v":[0-9]' "$A" | sort | uniq -c | tr '\n' ' ')"
fi
restart h1 "$TB_HOPTRACED"
restart h3 "$OLD"
ask "4. h3 (the judge) old" 1
grep -q '"signed":{"v":2' "$A" && bad "4. the old judge was shown a format-2 part"
restart h3 "$TB_HOPTRACED"
ask "5. all new again" 2
[ $fails = 0 ] || { echo "$fails FAIL-CASE"; exit 1; }
echo "all ok"
