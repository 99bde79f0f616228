#!/bin/sh
# attack_review15_raw_bom.sh — review 15: an upstream answer forwarded as the
# bytes it came in (b0c12ec, privsep_child.c leaf_done/finish_job: cJSON raw)
# keeps a leading UTF-8 BOM, which cJSON skips at the start of a text only:
# the forwarder's whole answer, the upstream's bytes inside it, no longer
# parses at the next hop. One fleet host (here h1's unprivileged side holding
# h1's TLS certificate, as tests/func/attack_fleet_member.sh's forger) so
# erases its downstream forwarder's own signed part (and every sibling
# branch's in it), not only its own leaf: fail closed, a denial.
# Chain: root's ssh h1 -> h2 -> h3 -> h1 (sleep); h3's collector is asked
# `who` about h3's connection to h1:22; it follows h2, which follows h1:8471,
# where a fake front (nobody) answers a well-formed, unsigned answer:
#   plain  the answer as is (the control: h2's part verified at h3, h1's
#          leaf "unsigned answer")
#   bom    the same bytes after EF BB BF
#   ws     after "\t\r\n " (whitespace: valid JSON inside the forwarder's)
#   deep   no prefix, an unused member nested 990 deep: parsed by h2 (cJSON's
#          nesting limit is 1000), over the limit inside h2's answer at h3
#          (older than b0c12ec: h2 printed its parse, as deep)
# FAIL-CASE when bom (or ws, deep) leaves h3's leaf for h2 "no answer" while the
# control's was verified.
# Runs (session 15, 1 each): d38012f bom FAIL-CASE (h3's leaf for h2 "no
# answer"; plain and ws "upstream incomplete", h1's leaf "unsigned answer");
# d44730e (git archive, this session's fleetchain.sh) all ok — b0c12ec's.
# deep: FAIL-CASE on d38012f and on d44730e (1 run each) — older.
# Fixed in session 15 (the lead): an upstream answer is forwarded as its bytes
# only when its first byte is the value's "{"; any other text (a BOM, leading
# whitespace) is printed again from its parse (privsep_child.c leaf_done).
# Cases run by default: plain (control), bom, bomws (a BOM, then whitespace),
# ws. `CASES=deep` (an unused member nested 990 levels: over cJSON's limit
# once inside the forwarder's answer) still makes h2's answer unreadable — open,
# older than raw forwarding (docs/threat-model.md "What is not defended yet").
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/fleetchain.sh"
tb_init "$@"
tb_need setpriv openssl ssh
INQ="$TB_PY $TB_LIB/inqtool.py"
fc_setup 10.231.0
rb_atk=$TB_T/atk
mkdir -p "$rb_atk" && chmod 0755 "$rb_atk"
cp "$(tb_dir h1)/h1.crt" "$(tb_dir h1)/h1.key" "$TB_T/fleet/ca.crt" "$rb_atk/" && chmod 0644 "$rb_atk"/* ||
	tb_fail "h1's certificate"
tb_log "setup: ssh h1 -> h2 -> h3 -> h1"
tb_bg h1 ssh $H2 "ssh $H3 'ssh $H1 sleep 300'"
rb_p=$(tb_wait_pid h3 "^ssh $H1" 15) || tb_fail "no ssh to h1 on h3"
rb_c="" rb_i=0
while [ -z "$rb_c" ] && [ $rb_i -lt 50 ]; do
	rb_c=$(tb_exec h3 ss -Htnp state established "( dst $H1 and dport = :22 )" 2>/dev/null |
		grep "pid=$rb_p," | awk '{print $3, $4}' | head -n 1)
	rb_i=$((rb_i + 1)); sleep 0.1
done
[ -n "$rb_c" ] || tb_fail "ssh on h3 did not connect to h1"
rb_L=${rb_c% *} rb_R=${rb_c#* }
cat >"$rb_atk/front.py" <<'PY'
# h1's front (its real TLS certificate): a well-formed answer, unsigned, after PREFIX
import json, sys
from fakefront import serve
crt, key, ca, prefix = sys.argv[1], sys.argv[2], sys.argv[3], {"plain": b"", "bom": b"\xef\xbb\xbf", "ws": b"\t\r\n ", "bomws": b"\xef\xbb\xbf \r\n", "deep": b""}[sys.argv[4]]
deep = sys.argv[4] == "deep"
def answer(body):
    tree = {"type": "proc", "host": "h1", "pid": 1, "exe": "/usr/bin/x", "seen": "shim",
            "sources": [{"via": "local", "node": {"type": "origin", "host": "h1"}}]}
    ans = prefix + json.dumps({"ok": True, "host": "h1", "tree": tree,
                               "chains": [{"origin_host": "h1", "complete": True, "procs": []}]}).encode()
    if deep: # (990 levels: under cJSON's 1000 where h2 parses it, over it inside h2's answer)
        ans = ans[:-1] + b',"pad":' + b"[" * 990 + b"]" * 990 + b"}"
    return ans
serve(crt, key, ca, answer)
PY
cp "$TB_LIB/fakefront.py" "$rb_atk/" && chmod 0644 "$rb_atk/fakefront.py" || tb_fail "fakefront.py"
kill "$(cat "$(tb_dir h1)/hoptraced.pid")" 2>/dev/null
rb_i=0
while [ -n "$(tb_exec h1 ss -Hltn 'sport = :8471')" ] && [ $rb_i -lt 50 ]; do rb_i=$((rb_i + 1)); sleep 0.1; done
rb_A=$TB_T/a.json
# rb_reasons : "H2-REASON|H1-REASON" of the conn leaves in h3's answer (any depth)
rb_reasons() { "$TB_PY" -c '
import json, sys
a = json.load(open(sys.argv[1]))
got = {}
def walk(n):
    if not isinstance(n, dict): return
    if n.get("type") == "conn":
        got.setdefault(n.get("remote", "").rsplit(":", 1)[0], n.get("reason") or ("verified" if n.get("upstream") else "-"))
        walk((n.get("upstream") or {}).get("tree"))
    for s in n.get("sources") or []: walk(s.get("node"))
walk(a.get("tree"))
print("%s|%s" % (got.get(sys.argv[2], "none"), got.get(sys.argv[3], "none")))' "$rb_A" "$H2" "$H1"; }
rb_r=0 rb_ctl=
for rb_v in ${CASES:-plain bom bomws ws}; do
	tb_log "$rb_v"
	tb_bg h1 setpriv --reuid nobody --regid nogroup --clear-groups "$TB_PY" "$rb_atk/front.py" \
		"$rb_atk/h1.crt" "$rb_atk/h1.key" "$rb_atk/ca.crt" "$rb_v"
	rb_fp=$TB_LAST
	tb_wait_port h1 8471 || tb_fail "front on h1:8471"
	rb_out=$(tb_exec h3 $INQ who "$rb_L" "$rb_R" 3000)
	echo "${rb_out#* }" >"$rb_A"
	rb_x=$(rb_reasons)
	echo "    h3's leaf for h2: ${rb_x%%|*}; h1's (in h2's part): ${rb_x#*|}"
	if [ "$rb_v" = plain ]; then
		rb_ctl=${rb_x%%|*}
	elif [ "${rb_x%%|*}" = "no answer" ] && [ "$rb_ctl" != "no answer" ]; then
		echo "FAIL-CASE: $rb_v: h1's answer after a $rb_v prefix made h2's whole answer unreadable at h3 (h2's own part lost; the control's leaf: $rb_ctl)"
		rb_r=1
	else
		echo "ok   $rb_v: h2's part at h3 as in the control"
	fi
	kill "$rb_fp" 2>/dev/null; sleep 0.3
done
exit $rb_r
