#!/bin/sh
# tests/demo.sh — `make demo`: hoptrace in about a minute, on the testbed
# (tests/lib/testbed.sh: network namespaces in a private mount namespace; nothing
# on this machine outside them is touched, and everything goes away at the end).
#
#   1. A traced tmux chain. h1 logs into h2 with ssh and starts tmux there; in the
#      tmux pane, `ssh h3`. The paper's parent-walking method loses this chain
#      (the tmux server is a daemon: the pane is not a descendant of the ssh
#      session). hoptrace prints it, as a tree, from h2's collector: origin h1,
#      then ssh -> sshd -> tmux client -> tmux server -> shell -> ssh -> h3.
#   2. A refused hop. h2's hopguard (enforcing) gets a policy — in the paper's
#      access-list format — that forbids connections whose chain starts on h1 to
#      reach h3. A second `ssh h3` from the tmux pane is refused at once (TCP
#      reset, no waiting), and the audit log says why (`hoptrace log`).
HT_TOP=${HT_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
export HT_TOP
. "$HT_TOP/tests/lib/testbed.sh"
tb_init "$@"
tb_need tmux ssh
for f in "$TB_HOPTRACED" "$TB_HOPGUARD" "$TB_HOPTRACE" "$TB_SHIM"; do
	[ -e "$f" ] || tb_fail "$f not built (make)"
done
T0=$(date +%s%N)
ms() { echo $(( ($(date +%s%N) - T0) / 1000000 )); }
say() { printf '\n\033[1m%s\033[0m\n' "$*"; }

H1=10.240.0.1 H2=10.240.0.2 H3=10.240.0.3
say "Setting up three hosts h1 ($H1), h2 ($H2), h3 ($H3): network namespaces on a bridge,"
echo "each with sshd, a hoptrace collector (hoptraced), and the shim preloaded system-wide."
tb_switch
tb_host h1 $H1
tb_host h2 $H2
tb_host h3 $H3
_tb_ssh_common
tb_preload on
for h in h1 h2 h3; do
	( tb_sshd $h && tb_collector $h ) >"$TB_T/setup-$h.log" 2>&1 &
done
wait
for h in h1 h2 h3; do
	grep -q '^FAIL' "$TB_T/setup-$h.log" && { cat "$TB_T/setup-$h.log"; tb_fail "setup of $h"; }
done
ACL=$(tb_dir h2)/policy.acl
cat >"$ACL" <<EOF
# h2's access list: everything allowed
*, *, *, *, black,
EOF
tb_guard h2 >/dev/null
echo "h2 also runs hopguard, enforcing: it holds every new outgoing SYN until the"
echo "chain behind it is judged. Its list for now: '*, *, *, *, black,' (allow all)."

say "1. ssh h1 -> h2, tmux on h2, and from the tmux pane: ssh h3"
# the pane runs this script: part 1's ssh h3 (kept open), then, when the demo
# says so (a flag file: no channel between processes), part 2's ssh h3
cat >"$(tb_dir h2)/tmp/demo-pane.sh" <<EOF
ssh $H3 sleep 600 </dev/null &
while [ ! -e /tmp/demo.go ]; do sleep 0.05; done
t0=\$(date +%s%N)
ssh $H3 true 2>/tmp/demo.err
rc=\$?
echo "exit status \$rc after \$(( (\$(date +%s%N) - t0) / 1000000 )) ms" >/tmp/demo.res
sleep 600
EOF
echo "   h1\$ ssh -tt h2 tmux new-session -s demo        (the tmux client runs in the ssh session)"
echo "   pane\$ ssh h3 sleep 600 &                       (tmux's server is a daemon; the pane its child)"
tb_bg h1 ssh -tt $H2 "TERM=xterm tmux new-session -s demo -x 120 -y 30 'sh /tmp/demo-pane.sh'"
pid=$(tb_wait_pid h2 "^ssh $H3 sleep 600" 10) || {
	tail -n 20 "$TB_LASTLOG"; tb_fail "the ssh h3 from the tmux pane did not start"; }
i=0
until tb_exec h2 ss -Htn state established "dst $H3:22" | grep -q .; do
	i=$((i + 1)); [ $i -lt 50 ] || tb_fail "ssh h2 -> h3 did not connect"; sleep 0.1
done
echo "   the pane's ssh to h3 is pid $pid on h2 (connected). What h2's collector says:"
echo "   h2\$ hoptrace chain $pid"
i=0
while :; do
	tb_exec h2 "$TB_HOPTRACE" chain "$pid" >"$TB_T/chain.txt" 2>&1 || { cat "$TB_T/chain.txt"; tb_fail "hoptrace chain"; }
	tb_exec h2 "$TB_HOPTRACE" --json chain "$pid" >"$TB_T/chain.json" 2>&1
	"$TB_PY" "$TB_LIB/chainassert.py" "$TB_T/chain.json" --origin h1 >/dev/null 2>&1 && break
	i=$((i + 1)); [ $i -lt 20 ] || break
	sleep 0.2   # the last records of the session may still be on their way
done
sed 's/^/     /' "$TB_T/chain.txt"
if [ $i -lt 20 ]; then
	echo "   -> origin h1: the chain crosses the daemonised tmux server and goes back over"
	echo "      the ssh connection to h1 (h2's collector asked h1's, which found its ssh)."
	echo "      The paper's parent walk would have stopped at the tmux server: 'origin h2'."
	echo "      (A chain of the process also counts its own connection to h3: the model"
	echo "      follows external connections in either direction; the guard, judging a"
	echo "      new connection, asks 'who' for that connection and gets the h1 chain.)"
else
	echo "   (note: no origin h1 in the chain — see $TB_T/chain.json)"
fi

say "2. A refused hop: h2's policy now forbids chains that start on h1 to reach h3"
cat >"$ACL" <<EOF
# h2's access list (the paper's format: src ip, src port, dst ip, dst port, white|black, processes)
# src = the chain's ORIGIN end, dst = where the SYN goes
$H1, *, $H3, *, black, *     # anything that started on h1 may not reach h3, whatever the processes
*, *, *, *, black,           # everything else: allowed
EOF
sed 's/^/     /' "$ACL"
kill -HUP "$(cat "$(tb_dir h2)/hopguard.pid")"
i=0
until grep -q "reloaded" "$(tb_dir h2)/hopguard.log"; do
	i=$((i + 1)); [ $i -lt 30 ] || tb_fail "the guard did not reload"; sleep 0.1
done
echo "   (hopguard reloaded it on SIGHUP)"
echo "   pane\$ ssh h3 true"
touch "$(tb_dir h2)/tmp/demo.go"
i=0
until tb_exec h2 test -s /tmp/demo.res; do
	i=$((i + 1)); [ $i -lt 100 ] || tb_fail "no result from the second ssh"; sleep 0.1
done
res=$(tb_exec h2 cat /tmp/demo.res)
echo "     $(tb_exec h2 cat /tmp/demo.err | tr -d '\r')"
echo "     ($res: refused at once, no SYN retries)"
case $res in "exit status 0 "*) tb_fail "the second ssh h3 was not refused" ;; esac
echo "   h2\$ hoptrace log   (every decision, with its whole chain; here the last one)"
sleep 0.2
tb_exec h2 "$TB_HOPTRACE" log "$(tb_dir h2)/audit.log" >"$TB_T/log.txt" 2>&1
# the last decision and its chain lines
awk '/^[0-9][0-9][0-9][0-9]-/ { buf = "" } { buf = buf "     " $0 "\n" } END { printf "%s", buf }' "$TB_T/log.txt"
grep -q "REJECT" "$TB_T/log.txt" || { cat "$TB_T/log.txt"; tb_fail "no REJECT in the audit log"; }

say "Done in $(( $(ms) / 1000 )) s. Everything (namespaces, daemons, files) is being removed."
echo "Next: docs/policy.md (the access list), docs/audit-log.md, tests/func/paper_filter.sh"
echo "(the paper's 9 lists x 12 operations), 'make bench' (overhead vs the paper's 6.4x / 10x)."
