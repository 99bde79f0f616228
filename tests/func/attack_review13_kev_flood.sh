#!/bin/sh
# attack_review13_kev_flood.sh — review 13 (session 13): the new socket
# tracepoints as a loss amplifier, and what a loss does to OTHER users' chains.
# A receive on a unix socket with descriptors queued (SCM_RIGHTS) makes the BPF
# program write the receiver's whole fd table (up to 32 entries, ~1 KB) into
# the ring (kev.bpf.c kev_recv -> task_fds KEV_FDS_RECV): an unprivileged
# user's loop of sendmsg(SCM_RIGHTS)+recvmsg on a socketpair, its table full of
# pipes, fills the 256 KB ring faster than the collector drains it. Once
# events are lost, graph_kev_dark answers from the kernel's TCP table for the
# whole history window and "what was let go of nothing attests": every walk
# that followed a pipe, FIFO or unix socket says holders_incomplete — any
# user's. A victim (daemon) logged in from h1 with nc h3 22 open: `who` for
# it before the flood says origin h1, holders_incomplete absent; after,
# holders_incomplete ("no kernel events"). Fixed (wt-loss): the receive's
# fd-table reads are rationed per uid in BPF (kev.bpf.c uid_take, 1000 a
# second, bursts of 512) and what is over is counted against that uid
# (kernel_events.lost_rationed), so only the flooding uid's walks fail
# closed. Fails (FAIL-CASE) when nobody's flood makes the victim's chain
# holders_incomplete, or when nobody's own chain made the same way (ssh from
# h1, nc h3 22) after the flood is NOT holders_incomplete (its loss must count
# against it), or when the flood lost nothing (the test could not tell).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
FILT=$TB_T/filt
${CC:-cc} -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$FILT" \
	"$HT_TOP/tests/helpers/seccomp_allow.c" || tb_fail "cannot build the helper"
chmod 755 "$FILT"
ct_setup

vic() { # TAG : who for the victim's connection
	_lr=$(ct_onward "$VP")
	[ -n "$_lr" ] || { echo "victim pid $VP has no connection to $CT_H3:22"; return 1; }
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$1.who.json" || return 1
	"$TB_PY" - "$TB_T/$1.who.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
for c in a.get("chains") or []:
    print("    chain from %s complete=%s" % (c.get("origin_host"), c.get("complete")))
print("    holders_incomplete=%s unattested=%s" % (a.get("holders_incomplete"),
      json.dumps(a.get("holders_unattested"))))
PY
}
lost() { tb_exec h2 "$TB_HOPTRACE" status --json 2>/dev/null |
	"$TB_PY" -c 'import json,sys; k=json.load(sys.stdin).get("kernel_events") or {}
print((k.get("lost") or 0) + (k.get("lost_rationed") or 0))'; }

tb_log "victim: daemon logged in from h1, nc h3 22"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid daemon --regid daemon --clear-groups nc $CT_H3 22 </dev/null >/dev/null 2>&1'"
ct_wait_new_onward 15 || tb_fail "no victim nc on h2"
VP=$CT_P
sleep 1
vic before >"$TB_T/before.out" || { cat "$TB_T/before.out"; tb_fail "who before"; }
cat "$TB_T/before.out"
echo "    kernel_events.lost before: $(lost)"
grep -q 'from h1 ' "$TB_T/before.out" && grep -q 'holders_incomplete=None' "$TB_T/before.out" ||
	tb_fail "the victim's chain is not h1's and attested before the attack: the test cannot tell"

tb_log "attacker: nobody's SCM_RIGHTS send/receive loop (3 s), 30 pipes in its table"
tb_exec h2 setpriv --reuid nobody --regid nogroup --clear-groups "$FILT" python3 -c 'import os, socket, time
p = [os.pipe() for _ in range(15)]
a, b = socket.socketpair()
fds = [p[0][0]]
end = time.time() + 3; n = 0
while time.time() < end:
    for _ in range(100):
        socket.send_fds(a, [b"x"], fds)
        m, f, _fl, _ad = socket.recv_fds(b, 1, 1)
        os.close(f[0]); n += 1
print("    receives:", n)' || tb_fail "the flood"
L=$(lost)
echo "    kernel_events lost + lost_rationed after: $L"
[ "${L:-0}" != 0 ] || tb_fail "the flood lost nothing: the test cannot tell"
vic after >"$TB_T/after.out" || { cat "$TB_T/after.out"; tb_fail "who after"; }
cat "$TB_T/after.out"
r=0
if grep -q 'holders_incomplete=True' "$TB_T/after.out"; then
	echo "FAIL-CASE: nobody's SCM_RIGHTS flood lost events and made another user's (daemon's) chain from h1 holders_incomplete"
	r=1
else
	echo "ok: the victim's chain is untouched"
fi

tb_log "the flooder's own: nobody logged in from h1, nc h3 22, after its flood"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid nobody --regid nogroup --clear-groups nc $CT_H3 22 </dev/null >/dev/null 2>&1'"
ct_wait_new_onward 15 || tb_fail "no nobody's nc on h2"
VP=$CT_P
sleep 1
vic own >"$TB_T/own.out" || { cat "$TB_T/own.out"; tb_fail "who for nobody's"; }
cat "$TB_T/own.out"
if grep -q 'holders_incomplete=True' "$TB_T/own.out"; then
	echo "ok: the flooding uid's own chain is holders_incomplete (its events were lost)"
else
	echo "FAIL-CASE: the flooding uid's own chain is not holders_incomplete after its events were lost"
	r=1
fi
exit $r
