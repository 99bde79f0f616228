#!/bin/sh
# attack_review14_rootlisten_addr.sh — review 14 (session 14): a local user's
# connects to a root listener that BPF takes for a remote peer's, so their
# root-side changes are not rationed and, finding the ring full, are
# everyone's loss. kev.bpf.c kev_tcp charges a change another task's packet
# makes to a socket to the sending task's uid only when peer_local(sk): the
# peer address equals the socket's own local address or is 127.x. A local
# user binds its connect's source to the host's own non-loopback address
# (10.231.0.2) and connects to 127.0.0.1: the root listener's accepted
# socket has daddr 10.231.0.2, rcv_saddr 127.0.0.1 — "remote", so its
# ESTABLISHED and close events are root's, unrationed (the attacker's own
# client socket's are rationed and run out, the root side's do not). Cases
# (CASES=...): loop (control: source 127.0.0.1, the documented rationed
# case, attack_review13_kev_flood.sh rootlisten), addr (source 10.231.0.2 ->
# 127.0.0.1), addr3 (three such flooders at once). Each flood: 3 s by an
# unprivileged uid of its own, shim off (seccomp_allow). Fails (FAIL-CASE)
# when a flood raises kernel_events.lost (everyone's: no uid charged) and
# another user's (daemon's) chain from h1 becomes holders_incomplete.
# The ring is 256 KiB by default here (RING_KB=...; kernel_events_ring_kb is
# root's setting, 256 KiB the default before today): with the 4 MiB default
# the collector drained it (one run, load ~1: addr 83,150 connects, addr3
# three flooders, ring_full 0, held). Session 14 (wt-rev14 a411f88), RING_KB=256:
# loop 84,550 connects, lost 0 (the control held); addr 74,050 connects,
# lost 0 -> 1,803, ring_full 2,077, the victim's chain holders_incomplete
# ("local channel, no kernel events"). Fix idea: peer_local should ask
# whether the peer address is any of this host's (the softirq of a loopback
# or a local address runs in the sender's task), not only the socket's own.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
FILT=$TB_T/filt
tb_build_helper "$FILT" tests/helpers/seccomp_allow.c
ct_setup
ct_collector_conf h2 kernel_events_ring_kb="${RING_KB:-256}"

vic() { ct_who_brief "$VP" "$1"; } # TAG : who for the victim (pid $VP)
kstat() { tb_exec h2 "$TB_HOPTRACE" status --json 2>/dev/null |
	"$TB_PY" -c 'import json,sys; k=json.load(sys.stdin).get("kernel_events") or {}
print("%s %s %s" % (k.get("lost") or 0, k.get("lost_rationed") or 0, k.get("ring_full") or 0))'; }

tb_log "victim: daemon logged in from h1, nc h3 22"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid daemon --regid daemon --clear-groups nc $CT_H3 22 </dev/null >/dev/null 2>&1'"
ct_wait_new_onward 15 || tb_fail "no victim nc on h2"
VP=$CT_P
sleep 1
vic before >"$TB_T/before.out" || { cat "$TB_T/before.out"; tb_fail "who before"; }
cat "$TB_T/before.out"
grep -q 'from h1 ' "$TB_T/before.out" && grep -q 'holders_incomplete=None' "$TB_T/before.out" ||
	tb_fail "the victim's chain is not h1's and attested before the attack: the test cannot tell"

# root's listener on every address (sshd's kind): accept, send a byte, close
tb_bg h2 python3 -c 'import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 2223)); s.listen(4096)
while True:
    c = s.accept()[0]; c.send(b"x"); c.close()'
tb_wait_port h2 2223 || tb_fail "no root listener on h2:2223"
cat >"$TB_T/flood.py" <<'EOP'
import socket, sys, time
src = sys.argv[1]
end = time.time() + 3; n = 0
while time.time() < end:
    for _ in range(50):
        c = socket.socket(); c.bind((src, 0))
        c.connect(("127.0.0.1", 2223)); c.recv(1); c.close(); n += 1
print("    flood from %s: %d connects in 3 s" % (src, n))
EOP
chmod 644 "$TB_T/flood.py"

r=0
atk=61700
for v in ${CASES:-loop addr addr3}; do
	atk=$((atk + 1))
	case $v in loop) src=127.0.0.1 n=1 ;; addr) src=$CT_H2 n=1 ;; addr3) src=$CT_H2 n=3 ;; esac
	tb_log "$v: uid $atk, $n flooder(s), source $src -> 127.0.0.1:2223 (root's)"
	K0=$(kstat)
	i=0 fp=
	while [ $i -lt $n ]; do
		tb_exec h2 setpriv --reuid "$atk" --regid nogroup --clear-groups "$FILT" python3 "$TB_T/flood.py" "$src" &
		fp="$fp $!"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	wait $fp # (not the testbed's background jobs)
	K=$(kstat)
	echo "    kernel_events lost lost_rationed ring_full: $K0 -> $K"
	set -- $K0; l0=$1; set -- $K; l1=$1
	vic "after_$v" >"$TB_T/after.out" || { cat "$TB_T/after.out"; tb_fail "who after"; }
	cat "$TB_T/after.out"
	if [ "$l1" != "$l0" ] && grep -q 'holders_incomplete=True' "$TB_T/after.out"; then
		echo "FAIL-CASE: $v: uid $atk's connects to a root listener lost $((l1 - l0)) events no uid is charged with (everyone's) and made daemon's chain from h1 holders_incomplete"
		r=1
	else
		echo "ok: $v: everyone's loss unchanged or the victim's chain untouched"
	fi
	sleep 4 # (a loss lasts a window)
done
exit $r
