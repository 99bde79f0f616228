#!/bin/sh
# attack_review13_kev_flood.sh — review 13 (session 13): the new socket
# tracepoints as a loss amplifier, and what a loss does to OTHER users' chains.
# A receive on a unix socket with descriptors queued (SCM_RIGHTS) makes the BPF
# program write the receiver's whole fd table (up to 32 entries, ~1 KB) into
# the ring (kev.bpf.c kev_recv -> task_fds KEV_FDS_RECV): an unprivileged
# user's loop of sendmsg(SCM_RIGHTS)+recvmsg on a socketpair, its table full of
# pipes, filled main's 256 KB ring faster than the collector drained it. Once
# events are lost, graph_kev_dark answers from the kernel's TCP table for the
# whole history window and "what was let go of nothing attests": every walk
# that followed a pipe, FIFO or unix socket says holders_incomplete — any
# user's. A victim (daemon) logged in from h1 with nc h3 22 open: `who` for
# it before the flood says origin h1, holders_incomplete absent; after,
# holders_incomplete ("no kernel events"). The same for any event a user makes
# in bulk; each case is a flood of 3 s by an unprivileged uid of its own
# (FLOODS=...):
#   scm        sendmsg(SCM_RIGHTS)+recvmsg: a receive's fd table each (~1 KB)
#   spawn      3 spawners of /bin/true holding 30 pipe ends: fork (with its
#              fd table), exec, exit each
#   forkpipes  fork + exit holding 30 pipe ends: two fd tables each
#   tcp        loopback connect + accept + close: its own sockets' changes
#   rootlisten loopback connects to a root listener (accept, send, close):
#              root's sockets' changes, which are not rationed, with its own
# Fixed: every event a task makes of its own is rationed per uid in BPF
# (kev.bpf.c uid_take: bytes of the ring, a quarter of it at most, ~1 MB/s)
# and what is over, or finds the ring full, is counted against that uid
# (kernel_events.lost_rationed), so only the flooding uid's walks fail closed.
# Fails (FAIL-CASE) when a flood makes the victim's chain holders_incomplete,
# or when the flooder's own chain made the same way (ssh from h1, nc h3 22)
# after its flood is NOT holders_incomplete (its loss must count against it),
# or when the flood lost nothing (the case could not tell). On main
# (a1afd93, 256 KiB): scm lost 6,325, tcp 1,267, rootlisten 121,565 events
# (everyone's) and each made the victim's chain holders_incomplete; spawn
# and forkpipes alone lost none there (5,240 spawns, 8,780 forks in 3 s:
# "cannot tell"), forkpipes 185 right after scm. RING_KB=256 FLOODS="tcp
# rootlisten": rootlisten fails (root's own closes, not rationed, lost).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
FILT=$TB_T/filt
tb_build_helper "$FILT" tests/helpers/seccomp_allow.c
ct_setup
# (RING_KB=N: h2's collector with kernel_events_ring_kb = N)
[ -z "${RING_KB:-}" ] || ct_collector_conf h2 kernel_events_ring_kb="$RING_KB"

vic() { ct_who_brief "$VP" "$1"; } # TAG : who for the victim (pid $VP)
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

cat >"$TB_T/flood.py" <<'EOP'
import os, socket, sys, time
kind = sys.argv[1]
end = time.time() + 3; n = 0
if kind == "scm":     # receives with descriptors queued: the receiver's fd table each
    p = [os.pipe() for _ in range(15)]
    a, b = socket.socketpair()
    while time.time() < end:
        for _ in range(100):
            socket.send_fds(a, [b"x"], [p[0][0]])
            m, f, _fl, _ad = socket.recv_fds(b, 1, 1)
            os.close(f[0]); n += 1
elif kind == "spawn": # fork + exec + exit, 3 spawners holding 30 pipe ends
    p = [os.pipe() for _ in range(15)]
    rd, wr = os.pipe()
    kids = []
    for _ in range(3):
        k = os.fork()
        if k == 0:
            m = 0
            while time.time() < end:
                kids = [os.posix_spawn("/bin/true", ["true"], {}) for _ in range(20)]
                for k in kids:
                    os.waitpid(k, 0)
                m += 20
            os.write(wr, b"%d\n" % m)
            os._exit(0)
        kids.append(k)
    for k in kids:
        os.waitpid(k, 0)
    os.close(wr)
    n = sum(int(x) for x in os.read(rd, 100).split())
elif kind == "forkpipes": # fork + exit holding 30 pipe ends: two fd tables each
    p = [os.pipe() for _ in range(15)]
    while time.time() < end:
        for _ in range(20):
            if os.fork() == 0:
                os._exit(0)
            n += 1
        for _ in range(20):
            os.wait()
elif kind == "tcp":   # loopback connect, accept, close: its own sockets state changes
    L = socket.socket(); L.bind(("127.0.0.1", 0)); L.listen(128)
    while time.time() < end:
        for _ in range(50):
            c = socket.create_connection(L.getsockname()); s, _ = L.accept()
            c.close(); s.close(); n += 1
elif kind == "rootlisten": # loopback connects to root's listener on :2223
    while time.time() < end:
        for _ in range(50):
            c = socket.create_connection(("127.0.0.1", 2223)); c.recv(1); c.close(); n += 1
print("    %s: %d in 3 s" % (kind, n))
EOP
chmod 644 "$TB_T/flood.py"
flood() { # KIND UID: 3 s of UID's events in bulk
	tb_exec h2 setpriv --reuid "$2" --regid nogroup --clear-groups "$FILT" python3 "$TB_T/flood.py" "$1"
}
case " ${FLOODS:-rootlisten} " in *" rootlisten "*)
	# (root's listener: its accepted sockets' changes are root's, not rationed)
	tb_bg h2 python3 -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2223)); s.listen(512)
while True:
    c = s.accept()[0]; c.send(b"x"); c.close()'
	sleep 1 ;;
esac
r=0
atk=61600
for kind in ${FLOODS:-scm spawn forkpipes tcp rootlisten}; do
	# (a uid of its own per flood: a loss lasts a window, and the flooder's
	# own chain must fail closed because of this flood's, not an earlier one)
	atk=$((atk + 1))
	tb_log "attacker: uid $atk's $kind flood (3 s)"
	L0=$(lost)
	flood "$kind" "$atk" || tb_fail "the $kind flood"
	L=$(lost)
	echo "    kernel_events lost + lost_rationed: $L0 -> $L"
	tb_exec h2 "$TB_HOPTRACE" status --json 2>/dev/null | "$TB_PY" -c 'import json,sys; k=json.load(sys.stdin).get("kernel_events") or {}
print("    lost %s lost_rationed %s ring_full %s" % (k.get("lost"), k.get("lost_rationed"), k.get("ring_full")))'
	[ "${L:-0}" != "${L0:-0}" ] || { echo "FAIL-CASE: $kind: the flood lost nothing: the test cannot tell"; r=1; continue; }
	vic "after_$kind" >"$TB_T/after.out" || { cat "$TB_T/after.out"; tb_fail "who after"; }
	cat "$TB_T/after.out"
	if grep -q 'holders_incomplete=True' "$TB_T/after.out"; then
		echo "FAIL-CASE: $kind: uid $atk's flood lost events and made another user's (daemon's) chain from h1 holders_incomplete"
		r=1
	else
		echo "ok: $kind: the victim's chain is untouched"
	fi
	tb_log "the flooder's own: uid $atk logged in from h1, nc h3 22, after its $kind flood"
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid $atk --regid nogroup --clear-groups nc $CT_H3 22 </dev/null >/dev/null 2>&1'"
	ct_wait_new_onward 15 || tb_fail "no uid $atk's nc on h2"
	VIC=$VP
	VP=$CT_P
	sleep 1
	vic "own_$kind" >"$TB_T/own.out" || { cat "$TB_T/own.out"; tb_fail "who for uid $atk's"; }
	VP=$VIC
	cat "$TB_T/own.out"
	if grep -q 'holders_incomplete=True' "$TB_T/own.out"; then
		echo "ok: $kind: the flooding uid's own chain is holders_incomplete (its events were lost)"
	else
		echo "FAIL-CASE: $kind: the flooding uid's own chain is not holders_incomplete after its events were lost"
		r=1
	fi
done
exit $r
