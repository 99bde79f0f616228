#!/bin/sh
# attack_review13_dark_orphan.sh — review 13 (session 13): "dark connections"
# (collector/graph_kev.c graph_kev_dark) used against OTHER users. With the
# kernel events off, or lost within the window (attack_review13_kev_flood.sh
# makes them so as nobody), dark_dump reads the kernel's TCP table, and an
# orphan its owner closed (FIN_WAIT2: no inode, and inet_diag gives uid 0 for
# anyone's) is taken as uid -1 — which dark_uid matches for every walk's
# users. An unprivileged attacker (nobody) on h2 connects to a host that
# accepts and never closes (h3:2222, standing for the attacker's own server)
# with a program the shim does not see (an allow-all seccomp filter,
# tests/helpers/seccomp_allow.c; a static binary does the same), and
# closes: the socket stays a FIN_WAIT2 orphan for tcp_fin_timeout (60 s),
# again at will. The victim is another user's (daemon's) nc h3 22 started by
# root with no local channel on its way (a walk that follows none is not made
# holders_incomplete by a loss alone): `who` for it before, after the flood
# alone, and with the orphan. Prints FAIL-CASE when the victim's chain is made
# holders_incomplete by the attacker's orphan.
# HELD (session 13, wt-rev13 at 53f10cb; again on d44730e): exits 0 — the
# victim's chain stays complete with the orphan (a timewait entry: ino 0,
# uid 0) in h2's table. Why (session 15, tests/open/held/README.md): on
# d44730e the flood's losses are nobody's own (lost_rationed), so daemon's
# walk never reads the TCP table (graph_kev_dark: graph_kev_lost_for is 0
# for its uids) and the event path knows the orphan as nobody's; and the
# orphan's own connect, ESTABLISHED and close events got through (small
# events fit in the ration the flood's ~1 KB fd tables no longer do), so the
# graph's past lists it and dark_dump_cb would skip it anyway.
# KEV=off (h2's collector with kernel_events = off): NOT held — the table is
# read for every walk, the orphan is in no record nor past, and daemon's
# chain is holders_incomplete ("connection no record names", uid -1,
# h3:2222): FAIL-CASE. (With the events off the "before" walk is sometimes
# holders_incomplete already, "local channel, no kernel events": then the
# script cannot tell and fails.)
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
FILT=$TB_T/filt
tb_build_helper "$FILT" tests/helpers/seccomp_allow.c
ct_setup
[ "${KEV:-on}" = off ] && ct_kev_off h2

# h3: the attacker's server, accepts and never closes
tb_bg h3 python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 2222)); s.listen(64); k = []
while True: k.append(s.accept()[0])'
tb_wait_port h3 2222 || tb_fail "no server on h3:2222"

vic() { ct_who_brief "$VP" "$1"; } # TAG : who for the victim (pid $VP)

tb_log "victim: daemon's nc h3 22, started by root (setsid, no local channel)"
tb_bg h2 setsid setpriv --reuid daemon --regid daemon --clear-groups sh -c "exec nc $CT_H3 22 </dev/null >/dev/null 2>&1"
ct_wait_new_onward 15 || tb_fail "no victim nc on h2"
VP=$CT_P
sleep 1
vic before >"$TB_T/before.out" || { cat "$TB_T/before.out"; tb_fail "who before"; }
cat "$TB_T/before.out"
grep -q 'holders_incomplete=None' "$TB_T/before.out" ||
	tb_fail "the victim's chain is holders_incomplete before the attack: the test cannot tell"

# orphan : nobody's unshimmed connect + close to h3:2222 (a FIN_WAIT2 orphan),
# in the middle of an SCM_RIGHTS flood (its own events lost too)
orphan() {
	tb_exec h2 setpriv --reuid nobody --regid nogroup --clear-groups "$FILT" python3 -c 'import os, socket, sys, time
p = [os.pipe() for _ in range(15)]
a, b = socket.socketpair()
def flood(t):
    end = time.time() + t
    while time.time() < end:
        for _ in range(100):
            socket.send_fds(a, [b"x"], [p[0][0]])
            os.close(socket.recv_fds(b, 1, 1)[1][0])
flood(1.5)
s = socket.create_connection((sys.argv[1], 2222)); s.close()
flood(1.5)' "$CT_H3" || tb_fail "the attack"
	sleep 0.5
	tb_exec h2 "$TB_HOPTRACE" status --json | "$TB_PY" -c 'import json,sys; print("    kernel_events.lost:", (json.load(sys.stdin).get("kernel_events") or {}).get("lost"))'
	tb_exec h2 ss -Htn state fin-wait-2 "( dst $CT_H3 and dport = :2222 )" | sed 's/^/    h2 orphan: /'
}
tb_log "attacker: the orphan, kernel events ${KEV:-on}$([ "${KEV:-on}" = on ] && echo " (lost by a flood)")"
orphan
vic during >"$TB_T/during.out" || { cat "$TB_T/during.out"; tb_fail "who during"; }
cat "$TB_T/during.out"
if grep -q 'holders_incomplete=True' "$TB_T/during.out"; then
	echo "FAIL-CASE: nobody's orphaned connection made another user's (daemon's) chain from h1 holders_incomplete"
	exit 1
fi
echo "ok: the victim's chain is untouched"
exit 0
