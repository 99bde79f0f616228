# tests/lib/chaintest.sh — shared by tests/func/chain_*.sh (sourced after
# testbed.sh). Three hosts: h1 (origin, 10.231.0.1), h2 (the relay, where the
# chains are asked), h3 (destination, 10.231.0.3:22), each with sshd and a
# collector; the shim is preloaded everywhere.
#
# On h2 a chain ends at a `conn` leaf whose remote is h1's address; the
# collector follows it to h1's collector (collector/inquiry*.c), so origin_host
# is "h1" and the chain starts with h1's processes (h1's IP only if h1 did not
# answer — ct_origin accepts either). The checks: the leaves
# (chainpath.py: remote IPs), the exact path on h2 from the subject to h1's
# connection (executables and via kinds), and the chain's processes in order
# (chainassert.py --ordered; h1's part given as optional tokens).
#
# `chain PID` answers "as if PID sent a SYN now": the subject's own live
# outbound connection to h3 is, by the chain model, an external connection
# like a RAT's controller link, so it is a second leaf (out:H3) with the
# subject alone. `who` is about that very connection, which is then excluded:
# one chain, origin h1, dst h3:22.

CT_H1=10.231.0.1 CT_H2=10.231.0.2 CT_H3=10.231.0.3
CT_FAILS=0 CT_KNOWN=0

ct_setup() {
	tb_switch
	for ct_h in 1 2 3; do
		tb_host h$ct_h 10.231.0.$ct_h fd00:231::$ct_h
		tb_sshd h$ct_h
		tb_collector h$ct_h
	done
	tb_preload on
}

# ct_holder NAME FILTER : the pid (one) holding an established TCP socket that
# matches the ss FILTER in host NAME (the newest if several)
ct_holder() {
	tb_exec "$1" ss -Htnp state established "$2" 2>/dev/null |
		sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | sort -n | tail -n 1
}

# ct_wait_holder NAME FILTER [SECONDS]
ct_wait_holder() {
	_w=0
	while [ $_w -lt $(( ${3:-10} * 10 )) ]; do
		_hp=$(ct_holder "$1" "$2")
		[ -n "$_hp" ] && { echo "$_hp"; return 0; }
		_w=$((_w + 1)); sleep 0.1
	done
	return 1
}

# The onward connection from h2, as an ss filter (CT_ONWARD: IPv6 tests set it)
: "${CT_ONWARD:=( dst $CT_H3 and dport = :22 )}"

# ct_wait_new_onward [SECONDS] : sets CT_P to the pid of a process on h2 holding an
# established onward connection ($CT_ONWARD) that no earlier call returned
CT_SEEN=" "
ct_wait_new_onward() {
	_w=0
	while [ $_w -lt $(( ${1:-10} * 10 )) ]; do
		for _hp in $(tb_exec h2 ss -Htnp state established "$CT_ONWARD" 2>/dev/null |
				sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | sort -un); do
			case $CT_SEEN in *" $_hp "*) continue ;; esac
			CT_SEEN="$CT_SEEN$_hp "
			CT_P=$_hp
			return 0
		done
		_w=$((_w + 1)); sleep 0.1
	done
	return 1
}

# ct_onward PID : "LOCAL REMOTE" of PID's established onward connection on h2
ct_onward() {
	tb_exec h2 ss -Htnp state established "$CT_ONWARD" 2>/dev/null |
		grep "pid=$1," | awk 'NR==1 { print $3, $4 }'
}

# ct_orders_b PORT : on h3, a server B that sends "orders" to each connection on PORT
# and closes it (an attacker's command source); returns once it listens
ct_orders_b() {
	tb_bg h3 python3 -c 'import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64)
while True:
    c = s.accept()[0]; c.sendall(b"orders\n"); c.close()' "$1"
	tb_wait_port h3 "$1" || tb_fail "no B on h3:$1"
}

# ct_who_brief PID TAG : `who` for PID's onward connection on h2 into
# $TB_T/TAG.who.json; prints each chain's origin and completeness, and the
# answer's holders_incomplete and holders_unattested
ct_who_brief() {
	_lr=$(ct_onward "$1")
	[ -n "$_lr" ] || { echo "victim pid $1 has no connection to $CT_H3:22"; return 1; }
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$2.who.json" || return 1
	"$TB_PY" - "$TB_T/$2.who.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
for c in a.get("chains") or []:
    print("    chain from %s complete=%s" % (c.get("origin_host"), c.get("complete")))
print("    holders_incomplete=%s unattested=%s" % (a.get("holders_incomplete"),
      json.dumps(a.get("holders_unattested"))))
PY
}

# ct_case CASE KNOWN-REASON CHECK... : runs the check (a shell function and its
# args); on failure counts it, or — when KNOWN-REASON is not empty — prints
# KNOWN-FAIL and does not fail the run
ct_case() {
	_c=$1 _k=$2; shift 2
	if "$@" >"$TB_T/case.out" 2>&1; then
		echo "ok   $_c"
		return 0
	fi
	if [ -n "$_k" ]; then
		sed 's/^/    /' "$TB_T/case.out"
		echo "KNOWN-FAIL: $_c: $_k"
		CT_KNOWN=$((CT_KNOWN + 1))
	else
		sed 's/^/    /' "$TB_T/case.out"
		# the hosts' graphs, for TB_KEEP=DIR (tests/lib/testbed.sh)
		for _h in h1 h2 h3; do
			tb_exec "$_h" "$TB_HOPTRACE" --json graph \
				>"$TB_T/graph.$(echo "$_c" | tr -c 'A-Za-z0-9\n' _).$_h.json" 2>/dev/null
		done
		# the newest processes h2's collector knows (creators, seen by shim or kernel)
		tb_exec h2 "$TB_HOPTRACE" ps 2>/dev/null | tail -n 30 | sed 's/^/    ps h2: /'
		echo "FAIL-CASE: $_c"
		CT_FAILS=$((CT_FAILS + 1))
	fi
	return 1
}

# ct_check_pid PID TAG PATH PROCS [LEAVES] : `hoptrace chain PID --json` on h2.
#   PATH  regex (chainpath.py) of the path from PID to h1's connection (in:H1)
#   PROCS the same chain's processes, origin first (chainassert --ordered)
#   LEAVES the exact leaf set (default: in:H1 and PID's own out:H3)
ct_check_pid() {
	_p=$1 _t=$2 _path=$3 _procs=$4 _leaves=${5:-$CT_H1,$CT_H3}
	_j=$TB_T/$_t.chain.json
	tb_exec h2 "$TB_HOPTRACE" chain "$_p" --json >"$_j" || { cat "$_j"; echo "hoptrace chain failed"; return 1; }
	_r=0
	"$TB_PY" "$TB_LIB/chainpath.py" "$_j" --leaves "$_leaves" --path "$CT_H1=$_path" \
		--path "$CT_H3=[^ ]+ <tcp< out:$CT_H3" || _r=1
	tb_assert_chain "$_j" --origin "$(ct_origin "$_j")" --procs "$(ct_h1procs "$_j")$_procs" --ordered --src "$CT_H1:*" || _r=1
	return $_r
}

# ct_check_who PID TAG PATH PROCS : `hoptrace who LOCAL REMOTE --json` on h2 for
# PID's live connection to h3:22: exactly one chain, origin h1, dst h3:22
ct_check_who() {
	_p=$1 _t=$2 _path=$3 _procs=$4
	_lr=$(ct_onward "$_p")
	[ -n "$_lr" ] || { echo "pid $_p has no connection to $CT_H3:22"; tb_exec h2 ss -tnp; return 1; }
	_j=$TB_T/$_t.who.json
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$_j" || { cat "$_j"; echo "hoptrace who $_lr failed"; return 1; }
	_r=0
	"$TB_PY" "$TB_LIB/chainpath.py" "$_j" --leaves "$CT_H1" --path "$CT_H1=$_path" || _r=1
	tb_assert_chain "$_j" --origin "$(ct_origin "$_j")" --procs "$(ct_h1procs "$_j")$_procs" --ordered --count 1 \
		--src "$CT_H1:*" --dst "$CT_H3:22" --no-origin "$CT_H3" --no-origin h3 || _r=1
	return $_r
}

# ct_origin ANSWER : "h1" when h1's collector answered (the normal case), else h1's IP
ct_origin() {
	"$TB_PY" -c 'import json, sys
a = json.load(open(sys.argv[1]))
print("h1" if any(c.get("origin_host") == "h1" for c in a.get("chains") or []) else sys.argv[2])' "$1" "$CT_H1"
}

# ct_h1procs ANSWER : $CT_H1PROCS ("h1:a?,h1:b?," — h1's part of the chain)
# exact (no "?") when h1's collector answered, optional when it did not
ct_h1procs() {
	if [ "$(ct_origin "$1")" = h1 ]; then
		printf '%s' "${CT_H1PROCS:-}" | sed 's/?,/,/g'
	else
		printf '%s' "${CT_H1PROCS:-}"
	fi
}

# ct_static BIN SOURCE : links tests/helpers/SOURCE statically as BIN, or SKIPs
# (the kernel-event tests' programs the shim cannot see)
ct_static() {
	${CC:-cc} -static -O2 -std=gnu11 -D_GNU_SOURCE -o "$1" "$HT_TOP/tests/helpers/$2" \
		2>"$TB_T/static.err" || tb_skip "no static link: $(head -n 1 "$TB_T/static.err")"
	readelf -l "$1" 2>/dev/null | grep -q INTERP && tb_skip "$1 is not static"
	return 0
}

# ct_kev_need HOST : SKIPs unless HOST's kernel event source is on
ct_kev_need() { tb_kev_need "$1"; }

# ct_collector_conf HOST KEY=VALUE... : HOST's collector again with these keys
# set in its [collector] section (a line of the key already there goes),
# unshimmed, as ct_setup starts it (an ASan build minds)
ct_collector_conf() {
	_ch=$1; shift
	kill "$(cat "$(tb_dir "$_ch")/hoptraced.pid")"
	sleep 0.5
	for _kv in "$@"; do
		sed -i -e "/^${_kv%%=*} *=/d" \
			-e "s|^\\[collector\\]\$|[collector]\\n${_kv%%=*} = ${_kv#*=}|" "$(tb_conf "$_ch")"
	done
	tb_preload off
	tb_collector "$_ch"
	tb_preload on
}

# ct_kev_off HOST : HOST's collector again with kernel_events = off
ct_kev_off() {
	ct_collector_conf "$1" kernel_events=off
}

# ct_no_origin_h1 ANSWER : no chain of ANSWER reaches h1 (by name or address) —
# the "off" half of a kernel-event test (else the test cannot tell)
ct_no_origin_h1() {
	"$TB_PY" - "$1" "$CT_H1" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
o = [c.get("origin_host") for c in a.get("chains") or []]
print("    off: origins %s" % o)
if any(x in ("h1", sys.argv[2]) for x in o):
    print("    not: without kernel events a chain reaches h1: the test cannot tell")
    sys.exit(1)
PY
}

ct_finish() {
	echo "== $CT_FAILS failed case(s), $CT_KNOWN known failure(s)"
	[ "$CT_FAILS" = 0 ] || tb_fail "$CT_FAILS case(s) failed"
	exit 0
}
