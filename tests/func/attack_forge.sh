#!/bin/sh
# attack_forge.sh — issue 10 (3): a record is a claim, and a claim the kernel
# does not confirm changes nobody's chain.
#
# h1 is the trusted host: root logs into h2 from h1 (`ssh -tt root@h2 sleep`),
# so h2's sshd holds a TCP connection from h1 and the master of the session's
# pty. On h2, as nobody, an attacker reads that connection's inode from the
# world-readable /proc/net/tcp (and the session's pty index and process ids
# from /dev/pts and /proc), opens its OWN connection to h3:22 and sends hand-
# made records on the record socket claiming:
#   fdrecv    FDRECV: it received root's connection from h1 (the original attack)
#   connect   CONNECT: it connected root's connection (to h1)
#   accept    ACCEPT: it accepted root's connection (from h1)
#   open      OPEN: it opened the session's pty slave (fed by sshd, from h1)
#   image     IMAGE: its parent is the session's process (a forged ppid)
#   birth     BIRTH: its creator is a process of the session that has ended
# Each time `hoptrace who` on h2 for the attacker's connection must not come
# from h1 (no chain of origin h1 / 10.231.0.1), and the refused claims are
# counted in `hoptrace status` (claims.*). On the code before issue 10 each
# of them made the attacker's connection come from h1.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/forgetest.sh"
tb_init "$@"
tb_need python3
ct_setup
fg_victim

fails=0
for v in fdrecv connect accept open image birth; do
	fg_attack "$v"
	origins=$("$TB_PY" -c 'import json,sys
a = json.load(open(sys.argv[1]))
print(" ".join(sorted(set(c.get("origin_host") or "?" for c in a.get("chains") or []))) or "none:" + a.get("error", "?"))' "$TB_T/$v.json")
	after=$(fg_refused)
	echo "$v: origins of the attacker's connection: $origins; refused claims $FG_BEFORE -> $after"
	case " $origins " in
	*" h1 "*|*" $CT_H1 "*) echo "FAIL-CASE: $v: the forged claim made the connection come from h1"; fails=$((fails + 1)) ;;
	*none:*) echo "FAIL-CASE: $v: no chain"; cat "$TB_T/$v.json"; fails=$((fails + 1)) ;;
	esac
	[ "$after" -gt "$FG_BEFORE" ] || { echo "FAIL-CASE: $v: the forged claim was not counted"; fails=$((fails + 1)); }
	kill "$FG_PID" 2>/dev/null; wait "$FG_PID" 2>/dev/null
done
[ $fails = 0 ] || tb_fail "$fails forged claim(s) believed"
echo "ok"
