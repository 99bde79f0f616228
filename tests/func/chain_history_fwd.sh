#!/bin/sh
# chain_history_fwd.sh — a host answers for its recent past (issue 12), the
# forward case: `ssh -f -N -L 9200:h4:9300 h3` started on h2 from an ssh
# session from h1 that has logged out, then used by a short-lived client in a
# session from h5 (a python client on h2 connects to 127.0.0.1:9200, sends a
# byte and closes at once, not waiting for the far side: the test checks it has
# left before asking). The connection h3's sshd
# makes to h4:9300 for the forward (h4's listener never closes it) has two
# origins, each complete, with the processes on every host:
#   h1 (the session that started the forward: h1's ssh has closed that
#      connection, h1 answers from its recent past, marked "past"; on h2 the
#      forward's creator — `ssh -f`'s parent half — bash and sshd of the
#      session);
#   h5 (the client's session: on h2 the sshd of h5's session, its `bash -c`
#      — shown as sleep, the image it exec'd last — and python, gone, through
#      the forward's accepted 127.0.0.1 connection, whose other end closed
#      before anything asked: the kernel's connect events name it).
# Exact: no other origin; each origin's processes in order.
# Then the same through a second forward, -L 9201:h4:22, where everything
# closes at once (h4's sshd hangs up on the client's byte): h3 is asked about
# its own closed connection (answered from its past), h2 about the forward's
# open one, whose holder let go of the client's: origins h1 and h5 — twice,
# both clients' sessions, since one forward process carries both channels.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need nc ssh
H2=10.231.0.2 H3=10.231.0.3 H4=10.231.0.4
tb_switch
for h in 1 2 3 4 5; do
	tb_host h$h 10.231.0.$h fd00:231::$h
	sed -i "s/^history_window = .*/history_window = 30s/" "$(tb_conf h$h)"
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on
# (the client's socket, gone before any probe, is named by the kernel's
# connect events: without them that origin is not found — docs/chain-model.md
# "Closed local connections")
st=$(tb_exec h2 "$TB_HOPTRACE" status)
[ "$(echo "$st" | sed -n 's/^kernel_events\.state: //p')" = on ] ||
	tb_skip "kernel events unavailable on h2: $(echo "$st" | sed -n 's/^kernel_events\.reason: //p')"

# h4: a listener that accepts and keeps every connection, never reading or
# closing (the forwarded connection stays up after the client has left)
tb_bg h4 "$TB_PY" -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9300)); s.listen(8); kept = []
while True: kept.append(s.accept())'
tb_wait_port h4 9300 || tb_fail "no listener on h4:9300"

tb_log "ssh -f -N -L on h2, started from h1's session, which logs out"
tb_exec h1 ssh -n -o BatchMode=yes root@$H2 \
	"setsid ssh -f -N -o BatchMode=yes -o ExitOnForwardFailure=yes -L 9200:$H4:9300 -L 9201:$H4:22 root@$H3 </dev/null >/dev/null 2>&1" ||
	tb_fail "ssh h1 -> h2 failed"
tb_wait_port h2 9200 || tb_fail "no forward listening on h2:9200"
[ -z "$(tb_exec h1 ss -Htn state established "( dst $H2 and dport = :22 )")" ] || tb_fail "h1's session still open"

tb_log "a short-lived client in a session from h5 uses the forward"
PYEXE=$(basename "$(readlink -f "$TB_PY")")
cat >"$TB_T/client.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x\r\n")
s.close()
EOF
tb_bg h5 sh -c "sleep 60 | ssh -o BatchMode=yes root@$H2 '$TB_PY $TB_T/client.py 9200; sleep 60'"
i=0 lr=
while [ $i -lt 150 ] && [ -z "$lr" ]; do
	lr=$(tb_exec h3 ss -Htnpa "( dst $H4 and dport = :9300 )" | grep sshd | awk 'NR==1 { print $4, $5 }')
	i=$((i + 1)); sleep 0.1
done
[ -n "$lr" ] || { tb_exec h3 ss -tnpa; tb_fail "no forwarded connection from h3's sshd to h4:9300"; }
# the client has left h2 (its socket closed): the case asked about
i=0
while [ $i -lt 50 ] && tb_exec h2 ss -Htnp "( dport = :9200 )" | grep -q "\"$PYEXE"; do
	i=$((i + 1)); sleep 0.1
done
tb_exec h2 ss -Htnp "( dport = :9200 )" | grep "\"$PYEXE" && tb_fail "the client still holds its connection"
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr --json >"$TB_T/fwd.json" || { cat "$TB_T/fwd.json"; tb_fail "hoptrace who failed"; }
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr || true
fails=0
tb_assert_chain "$TB_T/fwd.json" --count 2 --complete || fails=$((fails + 1))
tb_assert_chain "$TB_T/fwd.json" --origin h1 --ordered \
	--procs 'h1:ssh,h2:sshd+,h2:bash,h2:ssh,h2:ssh,h3:sshd+' || fails=$((fails + 1))
tb_assert_chain "$TB_T/fwd.json" --origin h5 --ordered \
	--procs "h5:sleep,h5:ssh,h2:sshd+,h2:sleep,h2:$PYEXE,h2:ssh,h3:sshd+" || fails=$((fails + 1))
grep -q '"past"' "$TB_T/fwd.json" || { echo "FAIL: no part marked past"; fails=$((fails + 1)); }
[ $fails -eq 0 ] && tb_log "ok: origins h1 (past) and h5 (a client gone before the forward's SYN), complete, with their processes"

tb_log "all of it closed: the same through -L 9201:h4:22 (h4's sshd hangs up on the client's byte)"
# h3's connection to h4:22 and the forward's accepted one on h2 close at once;
# h3 is asked about its own closed connection (its recent past), h2 about the
# forward's open connection to h3, whose holder let go of the client's
# (h3's sshd shuts down its side first, on the client's EOF: its end waits
# in TIME-WAIT and names the connection; or h4's, if h4 hung up first)
tw() { tb_exec h3 ss -Htn state time-wait "( dst $H4 and dport = :22 )" | awk '{ print $3, $4 }'
	tb_exec h4 ss -Htn state time-wait "( sport = :22 and dst $H3 )" | awk '{ print $4, $3 }'; }
before=$(tw)
tb_bg h5 sh -c "sleep 60 | ssh -o BatchMode=yes root@$H2 '$TB_PY $TB_T/client.py 9201; sleep 60'"
i=0 lr2=
while [ $i -lt 100 ] && [ -z "$lr2" ]; do
	lr2=$(tw | while read -r a b; do echo "$before" | grep -qF "$a $b" || echo "$a $b"; done | head -n 1)
	i=$((i + 1)); sleep 0.1
done
[ -n "$lr2" ] || { tb_exec h3 ss -tna; tb_exec h4 ss -tna; tb_fail "no closed connection from h3 to h4:22"; }
sleep 0.3
tb_exec h3 ss -Htn "( dst $H4 and dport = :22 )" | grep -q ESTAB && tb_fail "h3's connection to h4:22 still open"
i=0
while [ $i -lt 30 ] && tb_exec h2 ss -Htnp "( sport = :9201 )" | grep -q ssh; do i=$((i + 1)); sleep 0.1; done
tb_exec h2 ss -Htnp "( sport = :9201 )" | grep ssh && tb_fail "the forward still holds the second client's connection"
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr2 --json >"$TB_T/fwd2.json" || { cat "$TB_T/fwd2.json"; tb_fail "hoptrace who failed (closed)"; }
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr2 || true
# three chains: h1, and h5 twice — the forward process is fed by both of its
# clients (the first one's connection is still half-open in it, the second
# one's in its recent history: as the subject its history counts), one ssh
# process for both channels, so both sessions are origins (the safe side)
ok2=1
tb_assert_chain "$TB_T/fwd2.json" --count 3 --complete || ok2=0
tb_assert_chain "$TB_T/fwd2.json" --origin h1 --ordered \
	--procs 'h1:ssh,h2:sshd+,h2:bash,h2:ssh,h2:ssh,h3:sshd+' || ok2=0
"$TB_PY" - "$TB_T/fwd2.json" "h5:sleep,h5:ssh,h2:sshd,h2:sleep,h2:$PYEXE,h2:ssh,h3:sshd,h3:sshd" <<'EOF' || ok2=0
import json, os, sys
a = json.load(open(sys.argv[1]))
want = sys.argv[2].split(",")
h5 = [c for c in a.get("chains") or [] if c.get("origin_host") == "h5"]
got = [["%s:%s" % (p.get("host"), os.path.basename(p.get("exe", ""))) for p in c.get("procs") or []] for c in h5]
srcs = {c.get("src") for c in h5}
ok = len(h5) == 2 and len(srcs) == 2 and all(g == want for g in got)
print("h5 chains:", [c.get("src") for c in h5], got if not ok else "procs as wanted")
sys.exit(0 if ok else 1)
EOF
"$TB_PY" -c 'import json, sys; a = json.load(open(sys.argv[1])); sys.exit(0 if a.get("past") else 1)' "$TB_T/fwd2.json" ||
	{ echo "FAIL: h3's answer is not marked past"; ok2=0; }
if [ $ok2 = 1 ]; then
	tb_log "ok: closed on h3 and on h2 too: origins h1 and h5, complete, with their processes"
else
	fails=$((fails + 1))
fi
[ $fails -eq 0 ] || tb_fail "$fails check(s) failed"
exit 0
