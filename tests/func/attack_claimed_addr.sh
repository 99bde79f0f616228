#!/bin/sh
# attack_claimed_addr.sh — issue 10 (3), found by the review of its fixes: the forged claims of
# attack_forge.sh, but naming a FABRICATED socket inode (one the kernel has
# never had) instead of root's: the claim's fd is not shown, so it is kept as
# an unconfirmed hold; the channel is new, so chan_fresh() lets the claim set
# its addresses; claim_ok() then finds no other uid on it and no TCP socket of
# that inode in the kernel's table, so it is believed. The claimed remote is
# root's real ssh connection from h1 (read from /proc/net/tcp), so h2's
# follower asks h1 about it and h1 answers with root's chain there.
#   accept_fake   ACCEPT fd 50 = socket:[fake], local h2:22, peer h1:PORT
#   connect_fake  CONNECT fd 50 = socket:[fake], to h1:PORT
#   accept_unix   ACCEPT naming its OWN live unix socketpair end (confirmed: the
#                 fd shows that inode) with TCP addresses h2:22 <- h1:PORT
# Pass = the attacker's connection does not come from h1: an address no kernel
# view confirmed is never followed upstream ("reason": "not attested"), its
# chain is incomplete and its source is marked "src_attested": false (no rule's
# source matches it: policy/acl.c), and the
# false ACCEPT is counted.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/forgetest.sh"
tb_init "$@"
tb_need python3
ct_setup
fg_victim

fails=0
for v in accept_fake connect_fake accept_unix; do
	fg_attack "$v"
	origins=$("$TB_PY" -c 'import json,sys
a = json.load(open(sys.argv[1]))
h1 = sys.argv[2]
out = []
for c in a.get("chains") or []:
    o, src = c.get("origin_host") or "?", c.get("src") or ""
    # believed: followed to h1 (its answer), or a source a rule would match as h1
    # a src only a record named is shown, marked src_attested false: no rule source matches it
    att = c.get("src_attested", True)
    bad = o == "h1" or (att and src.startswith(h1 + ":")) or (c.get("complete") and o in ("h1", h1))
    out.append(("FROM-H1:" if bad else "") + o + "/src=" + (src or "none") + ("/complete" if c.get("complete") else "/incomplete"))
print(" ".join(sorted(set(out))) or "none:" + a.get("error", "?"))' "$TB_T/$v.json" "$CT_H1")
	after=$(fg_refused)
	echo "$v: origins of the attacker's connection: $origins; refused claims $FG_BEFORE -> $after"
	case " $origins " in
	*FROM-H1:*) echo "FAIL-CASE: $v: the forged claim made the connection come from h1"; fails=$((fails + 1)) ;;
	*none:*) echo "FAIL-CASE: $v: no chain"; cat "$TB_T/$v.json"; fails=$((fails + 1)) ;;
	esac
	[ "$after" -gt "$FG_BEFORE" ] || { echo "FAIL-CASE: $v: the forged claim was not counted"; fails=$((fails + 1)); }
	kill "$FG_PID" 2>/dev/null; wait "$FG_PID" 2>/dev/null
done
[ $fails = 0 ] || tb_fail "$fails forged claim(s) believed"
echo "ok"
