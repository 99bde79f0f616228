#!/bin/sh
# chain_history.sh — a host answers for its recent past (issue 12):
#   a relay (`socat TCP-LISTEN:9100,fork TCP:h3:22`) started on h2 from an ssh
#   session from h1 that has exited, then used from h4: the chain of the relay's
#   onward connection names both origins — h4 (its client) and h1 (the session
#   that started it, through its lineage; h1's ssh has closed that connection and
#   h1's collector answers for it from its closed-connection index, marked "past"),
#   complete, each origin's processes exact and in order (h1: ssh; h2: sshd,
#   bash, the listening socat and its child; h4: sleep | nc);
#   the same with a relay `nc -l 9102 | nc h3 22` (a pipeline started by
#   `setsid sh -c` from h1's session, which exits): both origins, h1 (past:
#   h1's ssh; on h2 sshd, bash, sh (dash), the onward nc) and h4 (sleep and nc on h4;
#   both nc on h2), complete, each origin's processes exact and in order;
#   the negative: once h1's connection closed longer than h1's history_window
#   (15 s here) ago, h1 does not answer for it and the leaf says why;
#   versions (with HT_OLD_HOPTRACED=an older hoptraced, e.g. main's before
#   issue 12): h1 runs it, and the leaf says h1 runs inquiry v1.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need socat nc ssh
H1=10.231.0.1 H2=10.231.0.2 H3=10.231.0.3 H4=10.231.0.4
WIN=15
tb_switch
for h in 1 2 3 4; do
	tb_host h$h 10.231.0.$h fd00:231::$h
	sed -i "s/^history_window = .*/history_window = ${WIN}s/" "$(tb_conf h$h)"
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on

tb_log "a relay started from h1's ssh session, which exits"
tb_exec h1 ssh -n -o BatchMode=yes root@$H2 \
	"setsid socat TCP-LISTEN:9100,reuseaddr,fork TCP:$H3:22 </dev/null >/dev/null 2>&1 &" ||
	tb_fail "ssh h1 -> h2 failed"
tb_wait_port h2 9100 || tb_fail "no relay listening on h2:9100"
closed_at=$(date +%s)
[ -z "$(tb_exec h1 ss -Htn "( dst $H2 and dport = :22 )")" ] || tb_fail "h1's ssh connection still open"

# client N : a client from h4 through the relay; prints the onward 4-tuple on h2
client() {
	tb_bg h4 sh -c "sleep 60 | nc $H2 9100"
	i=0
	while [ $i -lt 100 ]; do
		lr=$(tb_exec h2 ss -Htn state established "( dst $H3 and dport = :22 )" |
			awk -v seen="$1" '$3 != "" && index(seen, " " $3 " ") == 0 { print $3, $4; exit }')
		[ -n "$lr" ] && { echo "$lr"; return 0; }
		i=$((i + 1)); sleep 0.1
	done
	return 1
}

# check ANSWER MODE : MODE past (both origins, h1 complete with its ssh, "past")
# or expired (h4 complete; h1's leaf not followed, saying why)
check() {
	"$TB_PY" - "$1" "$2" "$H1" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1])); mode = sys.argv[2]; h1ip = sys.argv[3]
chains = a.get("chains") or []
def procs(c): return [(p.get("host"), p.get("exe", "").rsplit("/", 1)[-1]) for p in c.get("procs") or []]
bad = []
by = {}
for c in chains:
    by.setdefault(c.get("origin_host"), []).append(c)
h4 = by.get("h4") or []
if not h4 or not all(c.get("complete") for c in h4): bad.append("no complete chain from h4")
if not any(("h2", "socat") in procs(c) for c in h4): bad.append("h4's chain lacks h2's socat")
def leaves(n, out):
    if isinstance(n, dict):
        if n.get("type") == "conn": out.append(n)
        for s in n.get("sources") or []: leaves(s.get("node"), out)
        up = n.get("upstream")
        if isinstance(up, dict): leaves(up.get("tree"), out)
    return out
l1 = [l for l in leaves(a.get("tree"), []) if (l.get("remote") or "").startswith(h1ip + ":")]
if not l1: bad.append("no leaf to h1")
if mode == "past":
    c1 = by.get("h1") or []
    if not c1 or not all(c.get("complete") for c in c1): bad.append("no complete chain from h1")
    if not any(("h1", "ssh") in procs(c) and ("h2", "socat") in procs(c) for c in c1):
        bad.append("h1's chain lacks h1's ssh or h2's socat")
    past = [l["upstream"].get("past") for l in l1 if isinstance(l.get("upstream"), dict)]
    if not past or not past[0] or past[0].get("closed_ago_ms", -1) < 0: bad.append("h1's part is not marked past")
    else: print("h1's part: closed %.1f s ago, as of %.1f s ago" % (past[0]["closed_ago_ms"] / 1000, past[0].get("as_of_ago_ms", -1) / 1000))
else:
    if by.get("h1"): bad.append("h1 answered for a connection closed beyond its window")
    why = [l.get("reason") or "" for l in l1]
    print("h1's leaf:", why)
    if not any("history_window" in w for w in why): bad.append("the leaf does not say why")
    if not any(c.get("origin_host") == h1ip and not c.get("complete") for c in chains):
        bad.append("no incomplete chain at h1's address")
for b in bad: print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF
}

ask() { # TAG "LOCAL REMOTE"
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $2 --json >"$TB_T/$1.json" || { cat "$TB_T/$1.json"; return 1; }
	tb_exec h2 "$TB_HOPTRACE" who $2 >"$TB_T/$1.txt" 2>&1 || true
}

fails=0
tb_log "a client from h4 through the relay, within h1's window"
lr=$(client " ") || tb_fail "no onward connection from the relay"
ask past "$lr" || tb_fail "hoptrace who failed"
if check "$TB_T/past.json" past && grep -q "closed [0-9]* s ago" "$TB_T/past.txt" &&
	tb_assert_chain "$TB_T/past.json" -q --count 2 --complete &&
	tb_assert_chain "$TB_T/past.json" --origin h1 --ordered \
		--procs 'h1:ssh,h2:sshd+,h2:bash,h2:socat,h2:socat' &&
	tb_assert_chain "$TB_T/past.json" --origin h4 --ordered \
		--procs 'h4:sleep,h4:nc.openbsd,h2:socat,h2:socat'; then
	tb_log "ok: both origins, h1's part marked past"
else
	cat "$TB_T/past.txt"; fails=$((fails + 1))
fi

tb_log "only the far end may ask about a closed connection (h4 may not, h2 may)"
h1end=$("$TB_PY" -c 'import json, re, sys
s = json.dumps(json.load(open(sys.argv[1])))
m = re.search(r"\"local\": \"10\.231\.0\.2:22\", \"remote\": \"(10\.231\.0\.1:[0-9]+)\"", s)
print(m.group(1) if m else "")' "$TB_T/past.json")
[ -n "$h1end" ] || tb_fail "no leaf to h1 in the answer"
body="{\"v\":2,\"local\":\"$h1end\",\"remote\":\"$H2:22\",\"age_ms\":1000}"
st4=$(tb_exec h4 "$TB_PY" "$TB_LIB/inqtool.py" post "https://$H1:8471/v1/trace" "$body" | cut -c1-3)
a2=$(tb_exec h2 "$TB_PY" "$TB_LIB/inqtool.py" post "https://$H1:8471/v1/trace" "$body")
echo "h4 asks: $st4; h2 asks: $(echo "$a2" | cut -c1-120)"
if [ "$st4" = 403 ] && [ "$(echo "$a2" | cut -c1-3)" = 200 ] && echo "$a2" | grep -q '"past"'; then
	tb_log "ok: h4 refused (403), h2 answered with h1's past"
else
	fails=$((fails + 1))
fi

tb_log "an nc -l | nc relay started from h1's ssh session, which exits; used from h4"
tb_exec h1 ssh -n -o BatchMode=yes root@$H2 \
	"setsid sh -c 'nc -l 9102 | nc $H3 22' </dev/null >/dev/null 2>&1 &" ||
	tb_fail "ssh h1 -> h2 failed"
tb_wait_port h2 9102 || tb_fail "no nc listening on h2:9102"
i=0
while [ $i -lt 50 ] && [ -n "$(tb_exec h1 ss -Htn state established "( dst $H2 and dport = :22 )")" ]; do
	i=$((i + 1)); sleep 0.1
done
[ -z "$(tb_exec h1 ss -Htn state established "( dst $H2 and dport = :22 )")" ] || tb_fail "h1's ssh connection still open"
tb_bg h4 sh -c "sleep 60 | nc $H2 9102"
i=0 lrn=
while [ $i -lt 100 ] && [ -z "$lrn" ]; do
	if tb_exec h2 ss -Htn state established "( sport = :9102 and dst $H4 )" | grep -q .; then
		lrn=$(tb_exec h2 ss -Htnp state established "( dst $H3 and dport = :22 )" | grep '"nc' | awk 'NR==1 { print $3, $4 }')
	fi
	i=$((i + 1)); sleep 0.1
done
[ -n "$lrn" ] || { tb_exec h2 ss -tnp; tb_fail "no onward connection from the nc relay"; }
ask ncpipe "$lrn" || tb_fail "hoptrace who failed"
ncok=1
tb_assert_chain "$TB_T/ncpipe.json" --count 2 --complete || ncok=0
tb_assert_chain "$TB_T/ncpipe.json" --origin h1 --ordered \
	--procs 'h1:ssh,h2:sshd+,h2:bash,h2:dash,h2:nc.openbsd' || ncok=0
tb_assert_chain "$TB_T/ncpipe.json" --origin h4 --ordered \
	--procs 'h4:sleep,h4:nc.openbsd,h2:nc.openbsd,h2:nc.openbsd' || ncok=0
grep -q "closed [0-9]* s ago" "$TB_T/ncpipe.txt" || { echo "FAIL: h1's part not marked past"; ncok=0; }
if [ $ncok = 1 ]; then
	tb_log "ok: nc -l | nc: both origins, complete, with their processes; h1's part past"
else
	cat "$TB_T/ncpipe.txt"; fails=$((fails + 1))
fi

tb_log "a client from h4 after h1's window has passed"
now=$(date +%s)
[ $((now - closed_at)) -gt $((WIN + 3)) ] || sleep $((WIN + 3 - (now - closed_at)))
lr2=$(client " $(echo "$lr" | cut -d' ' -f1) $(echo "$lrn" | cut -d' ' -f1) ") || tb_fail "no second onward connection"
ask expired "$lr2" || tb_fail "hoptrace who failed"
if check "$TB_T/expired.json" expired; then
	tb_log "ok: not followed past the window, and why"
else
	cat "$TB_T/expired.txt"; fails=$((fails + 1))
fi
if [ -n "${HT_OLD_HOPTRACED:-}" ]; then
	tb_log "h1 runs the previous version ($HT_OLD_HOPTRACED)"
	kill "$(cat "$(tb_dir h1)/hoptraced.pid")"; sleep 1
	TB_HOPTRACED=$HT_OLD_HOPTRACED tb_collector h1
	tb_exec h1 ssh -n -o BatchMode=yes root@$H2 \
		"setsid socat TCP-LISTEN:9101,reuseaddr,fork TCP:$H3:22 </dev/null >/dev/null 2>&1 &" ||
		tb_fail "ssh h1 -> h2 failed"
	tb_wait_port h2 9101 || tb_fail "no relay listening on h2:9101"
	tb_bg h4 sh -c "sleep 60 | nc $H2 9101"
	sleep 2
	lr3=$(tb_exec h2 ss -Htnp state established "( dst $H3 and dport = :22 )" | grep -v "$(echo "$lr" | cut -d' ' -f1) \|$(echo "$lr2" | cut -d' ' -f1) \|$(echo "$lrn" | cut -d' ' -f1) " | awk 'NR==1 { print $3, $4 }')
	[ -n "$lr3" ] || tb_fail "no third onward connection"
	ask v1 "$lr3" || tb_fail "hoptrace who failed"
	if grep -q "inquiry v1" "$TB_T/v1.txt"; then
		tb_log "ok: the chain says h1 runs inquiry v1"
	else
		cat "$TB_T/v1.txt"; fails=$((fails + 1))
	fi
fi
[ $fails -eq 0 ] || tb_fail "$fails case(s) failed"
exit 0
