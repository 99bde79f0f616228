#!/bin/sh
# chain_history_fwd.sh — a host answers for its recent past (issue 12), the
# forward case: `ssh -f -N -L 9200:h4:22 h3` started on h2 from an ssh session
# from h1 that has logged out, then used by a client in a session from h5
# (`nc 127.0.0.1 9200` on h2). The connection h3's sshd makes to h4:22 for the
# forward has two origins: h1 (the session that started the forward: h1's ssh
# has closed that connection; h1 answers from its recent past) and h5 (the
# client's session), both complete, with h1's ssh and h5's ssh on them.
# Checked: h1's origin, complete, h1's ssh, h2's ssh, marked past. KNOWN-FAIL
# (printed, not failed): h5's origin — h2's answer for the forwarding ssh does
# not reach the local client through the forward's accepted 127.0.0.1
# connection (issue 12, left).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need nc ssh
H1=10.231.0.1 H2=10.231.0.2 H3=10.231.0.3 H4=10.231.0.4 H5=10.231.0.5
tb_switch
for h in 1 2 3 4 5; do
	tb_host h$h 10.231.0.$h fd00:231::$h
	sed -i "s/^history_window = .*/history_window = 30s/" "$(tb_conf h$h)"
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on

tb_log "ssh -f -N -L on h2, started from h1's session, which logs out"
tb_exec h1 ssh -n -o BatchMode=yes root@$H2 \
	"setsid ssh -f -N -o BatchMode=yes -o ExitOnForwardFailure=yes -L 9200:$H4:22 root@$H3 </dev/null >/dev/null 2>&1" ||
	tb_fail "ssh h1 -> h2 failed"
tb_wait_port h2 9200 || tb_fail "no forward listening on h2:9200"
[ -z "$(tb_exec h1 ss -Htn state established "( dst $H2 and dport = :22 )")" ] || tb_fail "h1's session still open"

tb_log "a client in a session from h5 uses the forward"
tb_bg h5 sh -c "sleep 60 | ssh -o BatchMode=yes root@$H2 'nc 127.0.0.1 9200'"
i=0 lr=
while [ $i -lt 150 ] && [ -z "$lr" ]; do
	lr=$(tb_exec h3 ss -Htnp state established "( dst $H4 and dport = :22 )" | grep sshd | awk 'NR==1 { print $3, $4 }')
	i=$((i + 1)); sleep 0.1
done
[ -n "$lr" ] || { tb_exec h3 ss -tnp; tb_fail "no forwarded connection from h3's sshd to h4:22"; }
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr --json >"$TB_T/fwd.json" || { cat "$TB_T/fwd.json"; tb_fail "hoptrace who failed"; }
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr || true
"$TB_PY" - "$TB_T/fwd.json" <<'EOF' || tb_fail "chain of the forwarded connection"
import json, sys
a = json.load(open(sys.argv[1]))
chains = a.get("chains") or []
def procs(c): return [(p.get("host"), p.get("exe", "").rsplit("/", 1)[-1]) for p in c.get("procs") or []]
bad = []
for want, proc in (("h1", ("h1", "ssh")), ("h5", ("h5", "ssh"))):
    cs = [c for c in chains if c.get("origin_host") == want]
    b = None
    if not cs or not all(c.get("complete") for c in cs): b = "no complete chain from " + want
    elif not any(proc in procs(c) and ("h2", "ssh") in procs(c) for c in cs): b = want + "'s chain lacks %s:%s or h2's ssh" % proc
    if b and want == "h5": print("KNOWN-FAIL:", b)
    elif b: bad.append(b)
others = sorted({c.get("origin_host") for c in chains} - {"h1", "h5"})
if others: bad.append("other origins: %s" % others)
if "\"past\"" not in json.dumps(a): bad.append("no part marked past")
for b in bad: print("FAIL:", b)
sys.exit(1 if bad else 0)
EOF
tb_log "ok: origin h1 complete, its part past"
exit 0
