#!/bin/sh
# chain_history_mux.sh — a host answers for its recent past (issue 12), the
# ssh ControlMaster case: a master (`ssh -M -S /tmp/mux-h3 -o
# ControlPersist=yes -f -N h3`) started on h2 from an ssh session from h1 that
# then logs out; a second session, from h4, uses it (`ssh -S /tmp/mux-h3 h3
# 'nc h4 9400'`). A mux client makes no TCP connection of its own on h2 (its
# session runs over the master's connection), so the SYN judged is on h3: the
# chain of nc's connection to h4:9400 has two origins, each complete, with the
# processes on every host, in order:
#   h1 (the session that started the master: h1's ssh has closed that
#      connection and h1 answers from its recent past, marked "past"; on h2
#      the master's lineage — sshd, bash, ssh);
#   h4 (the mux client's session: h4's sleep | ssh; on h2 the sshd of that
#      session, the mux client, the master — through the master's unix
#      connection with its client and the descriptors it was passed).
# Exact: no other origin.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need nc ssh
H2=10.231.0.2 H3=10.231.0.3 H4=10.231.0.4
tb_switch
for h in 1 2 3 4; do
	tb_host h$h 10.231.0.$h fd00:231::$h
	sed -i "s/^history_window = .*/history_window = 30s/" "$(tb_conf h$h)"
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on

# h4: a listener that keeps every connection (the SYN judged goes there)
tb_bg h4 "$TB_PY" -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9400)); s.listen(8); kept = []
while True: kept.append(s.accept())'
tb_wait_port h4 9400 || tb_fail "no listener on h4:9400"

tb_log "an ssh ControlMaster on h2 for h3, started from h1's session, which logs out"
tb_exec h1 ssh -n -o BatchMode=yes root@$H2 \
	"setsid ssh -M -S /tmp/mux-h3 -o ControlPersist=yes -f -N -o BatchMode=yes root@$H3 </dev/null >/dev/null 2>&1" ||
	tb_fail "ssh h1 -> h2 failed"
i=0
while [ $i -lt 50 ] && ! tb_exec h2 test -S /tmp/mux-h3; do i=$((i + 1)); sleep 0.1; done
tb_exec h2 test -S /tmp/mux-h3 || tb_fail "no control socket on h2"
i=0
while [ $i -lt 50 ] && [ -n "$(tb_exec h1 ss -Htn state established "( dst $H2 and dport = :22 )")" ]; do
	i=$((i + 1)); sleep 0.1
done
[ -z "$(tb_exec h1 ss -Htn state established "( dst $H2 and dport = :22 )")" ] || tb_fail "h1's session still open"

tb_log "a session from h4 uses the master: ssh -S /tmp/mux-h3 h3 'nc h4 9400'"
tb_bg h4 sh -c "sleep 60 | ssh -o BatchMode=yes root@$H2 'ssh -S /tmp/mux-h3 -o BatchMode=yes root@$H3 \"nc $H4 9400\"'"
i=0 lr=
while [ $i -lt 150 ] && [ -z "$lr" ]; do
	lr=$(tb_exec h3 ss -Htnp state established "( dst $H4 and dport = :9400 )" | grep '"nc' | awk 'NR==1 { print $3, $4 }')
	i=$((i + 1)); sleep 0.1
done
[ -n "$lr" ] || { tb_exec h3 ss -tnp; tb_fail "no connection from h3's nc to h4:9400"; }
# (no new TCP connection from h2 to h3: the mux client's session runs over
# the master's)
n=$(tb_exec h2 ss -Htn state established "( dst $H3 and dport = :22 )" | wc -l)
[ "$n" = 1 ] || { tb_exec h2 ss -tnp; tb_fail "$n connections from h2 to h3:22, not the master's one"; }
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr --json >"$TB_T/mux.json" || { cat "$TB_T/mux.json"; tb_fail "hoptrace who failed"; }
# shellcheck disable=SC2086
tb_exec h3 "$TB_HOPTRACE" who $lr || true
fails=0
tb_assert_chain "$TB_T/mux.json" --count 2 --complete || fails=$((fails + 1))
tb_assert_chain "$TB_T/mux.json" --origin h1 --ordered \
	--procs 'h1:ssh,h2:sshd,h2:bash,h2:ssh,h2:ssh,h3:sshd,h3:nc.openbsd' || fails=$((fails + 1))
tb_assert_chain "$TB_T/mux.json" --origin h4 --ordered \
	--procs 'h4:sleep,h4:ssh,h2:sshd,h2:ssh,h3:sshd,h3:nc.openbsd' || fails=$((fails + 1))
grep -q '"past"' "$TB_T/mux.json" || { echo "FAIL: no part marked past"; fails=$((fails + 1)); }
[ $fails -eq 0 ] || tb_fail "$fails check(s) failed"
tb_log "ok: origins h1 (past) and h4 (the mux client's session), complete, with their processes"
exit 0
