# rawfd.sh — the guard bed of the raw-fd attack tests (tests/func/attack_raw_fd.sh,
# tests/func/attack_review_rawfd_*.sh):
# hosts A and B (tests/lib/guardnet.sh), a collector and a guard on A, and a policy
# that refuses every chain from B (line 1) and accepts B:8000 from anywhere else
# (line 2). Sourced by the test; RF_INCOMPLETE (evaluate, the default, or reject) is
# the policy's @incomplete. Gives `nobody CMD...` (CMD in A as nobody), `fails`, and
# `rf_verdict MODE WHAT`: the subject's output ($out, a "RESULT refused|connected"
# line) against the audit line of its connection to B:8000 — FAIL-CASE counted in
# $fails when it was accepted, or refused on a chain without B (a refusal because a
# /proc search ran out counts as refused: the guard never evaluates such an answer,
# docs/guard.md 3b; with RF_INCOMPLETE=reject an incomplete chain's refusal too).
# RF_KEV=off starts the collector with kernel_events = off; RF_WINDOW=SECS sets
# its history_window, and `rf_next` waits it out between two cases.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
command -v setpriv >/dev/null || gn_skip "setpriv missing"
SHIM=$B_/libhoptrace.so
[ -f "$SHIM" ] || gn_skip "shim not built"
gn_setup
chmod 755 "$T"
# RF_KEV=off: the collector without its kernel event source; RF_WINDOW=DUR: its
# history_window (a case's closed connections then count for no later case
# once DUR has passed: rf_next)
[ "${RF_KEV:-}" = off ] && sed -i 's|^\[collector\]$|[collector]\nkernel_events = off|' "$T/hoptrace.conf"
[ -n "${RF_WINDOW:-}" ] && sed -i "s|^\\[collector\\]\$|[collector]\\nhistory_window = ${RF_WINDOW}s|" "$T/hoptrace.conf"
cat >"$T/policy.acl" <<EOC
$B4, *, *, *, black, *
*, *, $B4, 8000, black,
@incomplete ${RF_INCOMPLETE:-evaluate}
@default reject
EOC
gn_start_collector
gn_start_guard
fails=0
nobody() { ip netns exec "$A" setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }

rf_verdict() { # MODE WHAT
	last=$(grep "\"remote\":\"$B4:8000\"" "$T/audit.log" | tail -n 1)
	echo "$last" | cut -c1-600 | sed 's/^/      audit: /'
	case "$out" in
	*"RESULT refused"*)
		case "$last" in
		*'"verdict":"reject"'*"policy.acl:1)"*) echo "ok   $1: refused (origin B)" ;;
		*'"verdict":"reject"'*'holder scan incomplete'*'"cause":"collector_error"'*)
			echo "ok   $1: refused (a /proc search ran out, and said so: on_collector_error)" ;;
		*'"verdict":"reject"'*'"cause":"incomplete"'* | *'"verdict":"reject"'*'"cause":"collector_error"'*)
			if [ "${RF_INCOMPLETE:-evaluate}" = reject ]; then
				echo "ok   $1: refused (incomplete, or no holder found)"
			else
				echo "FAIL-CASE: $1: refused, but not on a chain from B: $last"
				fails=$((fails + 1))
			fi ;;
		*) echo "FAIL-CASE: $1: refused, but not on a chain from B: $last"; fails=$((fails + 1)) ;;
		esac ;;
	*"RESULT connected"*)
		echo "FAIL-CASE: $1: $2, the connection to $B4:8000 was accepted on a chain without B"
		fails=$((fails + 1)) ;;
	*) gn_fail "$1: the case did not run: $out" ;;
	esac
}

# rf_next: between two cases — the last one's processes and connections gone
# from every later walk (its history window passed: RF_WINDOW, else 1 s)
rf_next() {
	[ -z "${RF_BPID:-}" ] || kill "$RF_BPID" 2>/dev/null # (B hangs up: no orphan left)
	sleep $(( ${RF_WINDOW:-0} + 1 ))
}

rf_orders() { # LOG PORT SECS [TRIES]: B connects to A:PORT (TRIES times 20 ms apart,
	# 50 unless said), sends its orders, stays SECS
	gn_bg "$BB" "$1" python3 -c "import socket,time; time.sleep(0.3)
for k in range(${4:-50}):
    try: s=socket.create_connection(('$A4',$2)); break
    except OSError: time.sleep(0.02)
s.send(b'orders from B'); time.sleep($3)"
	RF_BPID=$GN_LAST
}

# rf_leader MODE [close] : one case of tests/lib/rawfd_leader.py (the leader's
# end; close: leader_self's listener closed after its raw accept): B sends its
# orders to A:9000, the subject runs as nobody, shimmed, and its connection to
# B:8000 is judged (rf_verdict)
rf_leader() {
	[ -f "$T/raw.py" ] || { cp "$HT_TOP/tests/lib/rawfd_leader.py" "$T/raw.py" &&
		chmod 644 "$T/raw.py"; } || gn_fail "rawfd_leader.py"
	mode=$1
	rf_orders "$T/b_$mode.log" 9000 20
	out=$(nobody env LD_PRELOAD=$SHIM timeout 20 /usr/bin/python3 "$T/raw.py" "$mode" "$B4" "$A4" ${2:-} 2>&1)
	echo "$out" | sed 's/^/   /'
	sleep 0.3
	rf_verdict "$mode" "B's connection open in a live thread"
	sleep 1
}
