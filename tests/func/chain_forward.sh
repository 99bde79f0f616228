#!/bin/sh
# chain_forward.sh — ssh port forwarding (docs/chain-model.md, outcomes table):
#   ssh -L 2222:h3:22 h2 on h1, then `ssh -p 2222 localhost` on h1: the SYN on
#     h2 to h3:22 is sent by sshd (direct-tcpip): origin h1; h1: ssh, ssh; h2: sshd
#   ssh -D 1080 h2 on h1, `nc -X 5 -x 127.0.0.1:1080 h3 22` on h1 (SOCKS): the
#     SYN on h2 by sshd: origin h1; h1: nc, ssh; h2: sshd
#   ssh -J h2 h3 on h1: the SYN on h2 by sshd: origin h1; h1: ssh (main), ssh -W
#   ssh -R 2222:h3:22 h2 on h1; from h4, a session into h2 that runs
#     `ssh -p 2222 localhost`: the SYN on h1 to h3:22 is sent by the ssh client
#     (-R): origin h4, through h2's sshd (the -R session's listener/accept) and
#     back over the h1<->h2 connection
# Each case: `hoptrace who LOCAL REMOTE --json` on the host that sends the SYN,
# while the onward connection is open; the exact set of origins, and the exact
# processes (in order, origin first) of the chain.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
tb_need nc
cs_setup

# fw_onward HOST [SECONDS] : sets FW_P to a pid on HOST holding an established
# connection to h3:22 that no earlier call returned
FW_SEEN=" "
fw_onward() {
	_w=0
	while [ $_w -lt $(( ${2:-15} * 10 )) ]; do
		for _hp in $(tb_exec "$1" ss -Htnp state established "( dst $CS_H3 and dport = :22 )" 2>/dev/null |
				sed -n 's/.*pid=\([0-9]*\),.*/\1/p' | sort -un); do
			case $FW_SEEN in *" $1:$_hp "*) continue ;; esac
			FW_SEEN="$FW_SEEN$1:$_hp "
			FW_P=$_hp
			return 0
		done
		_w=$((_w + 1)); sleep 0.1
	done
	return 1
}

# fw_who HOST PID TAG ORIGIN PROCS [SKIP] : `hoptrace who` on HOST for PID's
# (newest) established connection to h3:22: the chains' origins are exactly
# {ORIGIN}, dst h3:22, and a chain of ORIGIN lists exactly PROCS (in order,
# origin first; chainassert.py tokens). SKIP (a host name): that host's
# processes are left out of the comparison (PROCS names none of them).
fw_who() {
	_h=$1 _p=$2 _t=$3 _o=$4 _procs=$5 _skip=${6:-}
	_lr=$(tb_exec "$_h" ss -Htnp state established "( dst $CS_H3 and dport = :22 )" 2>/dev/null |
		grep "pid=$_p," | awk '{ print $3, $4 }' | tail -n 1)
	[ -n "$_lr" ] || { echo "pid $_p has no connection to $CS_H3:22 on $_h"; tb_exec "$_h" ss -tnp; return 1; }
	_j=$TB_T/$_t.who.json
	# shellcheck disable=SC2086
	[ -s "$_j" ] || tb_exec "$_h" "$TB_HOPTRACE" who $_lr --json >"$_j" ||
		{ cat "$_j"; echo "hoptrace who $_lr on $_h failed"; return 1; }
	"$TB_PY" - "$_j" "$_o" "$_procs" "$_skip" "$CS_H3:22" "$TB_LIB" <<'PY' && return 0
import json, sys
sys.path.insert(0, sys.argv[6])
from chainassert import match_ordered, parse_list, chain_tokens, render
a = json.load(open(sys.argv[1]))
origin, exp, skip, dst = sys.argv[2], parse_list(sys.argv[3]), sys.argv[4], sys.argv[5]
chains = a.get("chains") or []
fails = []
got = sorted({str(c.get("origin_host")) for c in chains})
if got != [origin]:
    fails.append("origins %s, want exactly ['%s']" % (got, origin))
if not all(str(c.get("dst")) == dst for c in chains):
    fails.append("dst %s, want %s" % ([c.get("dst") for c in chains], dst))
sel = [c for c in chains if c.get("origin_host") == origin]
toks = [[t for t in chain_tokens(c) if not skip or t.split(":")[0] != skip] for c in sel]
if not any(match_ordered(exp, t) for t in toks):
    fails.append("no chain of origin %s has processes %s%s (ordered)" %
                 (origin, ",".join(exp), " (without %s's)" % skip if skip else ""))
if not fails:
    sys.exit(0)
for f in fails:
    print("not: " + f)
for c in chains:
    print("chain origin %s src %s dst %s%s: %s" % (c.get("origin_host"), c.get("src"), c.get("dst"),
          "" if c.get("complete", True) else " INCOMPLETE", ",".join(chain_tokens(c))))
print("\n".join(render(a.get("tree"))))
sys.exit(1)
PY
	for _x in h1 h2 h3 h4; do   # for TB_KEEP: each host's view
		tb_exec $_x "$TB_HOPTRACE" graph --json >"$TB_T/$_t.$_x.graph.json" 2>&1
		tb_exec $_x "$TB_HOPTRACE" ps --json >"$TB_T/$_t.$_x.ps.json" 2>&1
	done
	return 1
}

# On the origin host the product keeps only processes on a path to a leaf
# (docs/chain-model.md, "Branches that reach no leaf are pruned"): a local
# process that feeds the connection's holder but has no source of its own (the
# client of the -L port, ssh -J's main process feeding its ProxyJump child) is
# pruned, so h1's part of the chain is the connection's holder alone, where the
# outcomes table wants every h1 process on the way.

SSHD='h2:sshd+'

tb_log "ssh -L 2222:h3:22 h2 on h1; ssh -p 2222 localhost on h1"
tb_bg h1 ssh -n -N -L "2222:$CS_H3:22" "root@$CS_H2"
fwL=$TB_LAST
tb_wait_port h1 2222 10 || { cat "$TB_LASTLOG"; tb_fail "-L: nothing listens on h1:2222"; }
tb_bg h1 ssh -n -p 2222 root@127.0.0.1 sleep 600
fw_onward h2 || { cat "$TB_LASTLOG"; tb_fail "-L: no connection from h2 to h3:22"; }
ct_case "ssh -L: who on h2: origin h1, h2's processes" "" \
	fw_who h2 "$FW_P" fwL h1 "$SSHD" h1
ct_case "ssh -L: who on h2: h1's processes (both ssh)" "" \
	fw_who h2 "$FW_P" fwL h1 "h1:ssh,h1:ssh,$SSHD"
kill "$TB_LAST" "$fwL" 2>/dev/null

tb_log "ssh -D 1080 h2 on h1 (SOCKS); nc through it to h3:22 on h1"
tb_bg h1 ssh -n -N -D 1080 "root@$CS_H2"
fwD=$TB_LAST
tb_wait_port h1 1080 10 || { cat "$TB_LASTLOG"; tb_fail "-D: nothing listens on h1:1080"; }
tb_bg h1 sh -c "sleep 600 | nc -X 5 -x 127.0.0.1:1080 $CS_H3 22"
fw_onward h2 || { cat "$TB_LASTLOG"; tb_fail "-D: no connection from h2 to h3:22"; }
ct_case "ssh -D: who on h2: origin h1, h2's processes" "" \
	fw_who h2 "$FW_P" fwD h1 "$SSHD" h1
ct_case "ssh -D: who on h2: h1's processes (the SOCKS client, ssh)" "" \
	fw_who h2 "$FW_P" fwD h1 "h1:nc.openbsd,h1:ssh,$SSHD"
kill "$TB_LAST" "$fwD" 2>/dev/null

tb_log "ssh -J h2 h3 on h1"
tb_bg h1 ssh -n -J "root@$CS_H2" "root@$CS_H3" sleep 600
fw_onward h2 || { cat "$TB_LASTLOG"; tb_fail "-J: no connection from h2 to h3:22"; }
ct_case "ssh -J: who on h2: origin h1, h2's processes" "" \
	fw_who h2 "$FW_P" fwJ h1 "$SSHD" h1
ct_case "ssh -J: who on h2: h1's processes (ssh, its ProxyJump ssh)" "" \
	fw_who h2 "$FW_P" fwJ h1 "h1:ssh,h1:ssh,$SSHD"
kill "$TB_LAST" 2>/dev/null

tb_log "ssh -R 2222:h3:22 h2 on h1; from h4 into h2: ssh -p 2222 localhost"
tb_bg h1 ssh -n -N -R "2222:$CS_H3:22" "root@$CS_H2"
tb_wait_port h2 2222 10 || { cat "$TB_LASTLOG"; tb_fail "-R: nothing listens on h2:2222"; }
tb_bg h4 ssh -n "root@$CS_H2" "ssh -n -p 2222 root@127.0.0.1 sleep 600; true"
fw_onward h1 || { cat "$TB_LASTLOG"; tb_fail "-R: no connection from h1 to h3:22"; }
ct_case "ssh -R: who on h1 (the ssh client's connect)" "" \
	fw_who h1 "$FW_P" fwR h4 "h4:ssh,h2:sshd+,h2:bash?,h2:ssh,h2:sshd+,h1:ssh"
ct_finish
