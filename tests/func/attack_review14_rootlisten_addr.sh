#!/bin/sh
# attack_review14_rootlisten_addr.sh — review 14 (session 14): a local user's
# connects to a root listener that BPF took for a remote peer's, so their
# root-side changes were not rationed and, finding the ring full, were
# everyone's loss. kev.bpf.c kev_tcp charges a change another task's packet
# makes to a socket to the sending task's uid only when peer_local(sk); it
# said "local" only when the peer address equalled the socket's own local
# address or was 127.x (::1, ::ffff:127.x). A local user binding its
# connect's source to another of the host's own addresses than the one it
# connects to made the root listener's accepted socket "remote": its
# ESTABLISHED and close events root's, unrationed (the attacker's own
# client socket's are rationed and run out, the root side's did not).
# Fixed: peer_local asks the kernel — the socket's cached route to its peer
# is a local one (RTN_LOCAL / RTF_LOCAL / the loopback device): any address
# of this host, on any interface, v4, v6 or v4-mapped, added whenever.
# Cases (CASES=...), each a flood of 3 s by an unprivileged uid of its own,
# shim off (seccomp_allow), connects closed with a reset (SO_LINGER 0):
#   loop    control: 127.0.0.1 -> 127.0.0.1:2223 (rationed before the fix too)
#   addr    the review's: the host's 10.231.0.2 -> 127.0.0.1:2223 (v4 listener)
#   addr3   three such flooders (one uid) at once
#   added   an address root added to eth0 after the collector started
#           (10.231.77.2/32) -> the host's 10.231.0.2:2223
#   mapped  10.231.0.2 -> 127.0.0.1:2224, a dual-stack (::, v6only 0) root
#           listener: its accepted sockets are IPv6 with v4-mapped addresses
#   v6      the host's fd00:231::2 -> [::1]:2224
# Fails (FAIL-CASE) when the collector read more TCP events during a flood
# than the flooder's ration allows by more than half an event a connect
# (root's side of its connections unrationed: two events each before the
# fix), when the flood was not well over its ration (cannot tell), or when
# a flood raised kernel_events.lost (everyone's: no uid charged) and another
# user's (daemon's) chain from h1 became holders_incomplete — the harm the
# reviewer showed. The ring is 256 KiB here (RING_KB=...; root's
# kernel_events_ring_kb, the default before session 14). Session 14
# (wt-rev14 a411f88), the reviewer's accept/send/close listener: loop lost
# 0; addr 74,050 connects, lost 0 -> 1,803, the victim's chain
# holders_incomplete ("local channel, no kernel events"); that listener's
# own accept and close (root's) filled the ring in some runs of the loop
# control too, so it cannot tell the fix. Session 15 (wt-rev14fix), this
# listener, before the fix (d44730e's kev.bpf.c): loop -0.07 events a
# connect over the ration (ok), addr +1.92, addr3 +1.88, added +1.84,
# mapped +1.86, v6 +1.59 (FAIL-CASE each); with it -0.02 to -0.14 (three
# runs, every case ok).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc
tb_need python3
FILT=$TB_T/filt
tb_build_helper "$FILT" tests/helpers/seccomp_allow.c
ct_setup
ct_collector_conf h2 kernel_events_ring_kb="${RING_KB:-256}"

rl_vic() { ct_who_brief "$RL_VP" "$1"; } # TAG : who for the victim (pid $RL_VP)
rl_kstat() { # lost lost_rationed ring_full tcp-events-read now-in-us
	tb_exec h2 "$TB_HOPTRACE" status --json 2>/dev/null |
	"$TB_PY" -c 'import json,sys,time; k=json.load(sys.stdin).get("kernel_events") or {}
print("%s %s %s %s %d" % (k.get("lost") or 0, k.get("lost_rationed") or 0, k.get("ring_full") or 0,
      k.get("tcp") or 0, time.monotonic() * 1e6))'; }

tb_log "victim: daemon logged in from h1, nc h3 22"
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'setpriv --reuid daemon --regid daemon --clear-groups nc $CT_H3 22 </dev/null >/dev/null 2>&1'"
ct_wait_new_onward 15 || tb_fail "no victim nc on h2"
RL_VP=$CT_P
sleep 1
rl_vic before >"$TB_T/before.out" || { cat "$TB_T/before.out"; tb_fail "who before"; }
cat "$TB_T/before.out"
grep -q 'from h1 ' "$TB_T/before.out" && grep -q 'holders_incomplete=None' "$TB_T/before.out" ||
	tb_fail "the victim's chain is not h1's and attested before the attack: the test cannot tell"

# root's listeners, on every address: 2223 IPv4, 2224 IPv6 taking v4 too
# (v4-mapped). They never accept: every 50 ms each is closed and made again
# (its queued connections dropped), so root's own task makes no event per
# connection (an accept, a close of its own would be root's, unrationed —
# the open "root's own close" limit, docs/threat-model.md 4b — and with the
# reviewer's accept/send/close listener they alone filled a 256 KiB ring in
# some runs of the control). Every event a connection makes on root's side
# is then made by the attacker's packets in the attacker's task: the
# queued socket's ESTABLISHED (its ACK) and CLOSE (its RST: the flooder
# closes with SO_LINGER 0) — what peer_local decides on.
cat >"$TB_T/listen.py" <<'EOP'
import socket, sys, time
def mk():
    if sys.argv[1] == "6":
        s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("::", 2224))
    else:
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 2223))
    s.listen(4096)
    return s
s = mk()
while True:
    time.sleep(0.05)
    s.close(); s = mk()
EOP
tb_bg h2 python3 "$TB_T/listen.py" 4
tb_bg h2 python3 "$TB_T/listen.py" 6
tb_wait_port h2 2223 || tb_fail "no root listener on h2:2223"
tb_wait_port h2 2224 || tb_fail "no root listener on h2:2224"
cat >"$TB_T/flood.py" <<'EOP'
import socket, struct, sys, time
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in src else socket.AF_INET
rst = struct.pack("ii", 1, 0)
end = time.time() + 3; n = 0
while time.time() < end:
    for _ in range(50):
        c = socket.socket(fam); c.settimeout(0.2)
        try:
            c.bind((src, 0)); c.connect((dst, port))
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst); n += 1
        except OSError:
            pass  # (between a listener's close and its next one: refused)
        c.close()
print("    flood %s -> %s:%d: %d connects in 3 s" % (src, dst, port, n))
EOP
chmod 644 "$TB_T/flood.py" "$TB_T/listen.py"

r=0
atk=61700
for v in ${CASES:-loop addr addr3 added mapped v6}; do
	atk=$((atk + 1))
	n=1
	case $v in
	loop) src=127.0.0.1 dst=127.0.0.1 port=2223 ;;
	addr) src=$CT_H2 dst=127.0.0.1 port=2223 ;;
	addr3) src=$CT_H2 dst=127.0.0.1 port=2223 n=3 ;;
	added)
		tb_exec h2 ip addr add 10.231.77.2/32 dev eth0 2>/dev/null ||
			tb_exec h2 ip addr show dev eth0 | grep -q 10.231.77.2 || tb_fail "cannot add 10.231.77.2 on h2"
		src=10.231.77.2 dst=$CT_H2 port=2223 ;;
	mapped) src=$CT_H2 dst=127.0.0.1 port=2224 ;;
	v6) src=$(tb_ip6 h2) dst=::1 port=2224 ;;
	*) tb_fail "no case $v" ;;
	esac
	tb_log "$v: uid $atk, $n flooder(s), $src -> $dst:$port (root's)"
	K0=$(rl_kstat)
	i=0 fp=
	while [ $i -lt $n ]; do
		tb_exec h2 setpriv --reuid "$atk" --regid nogroup --clear-groups "$FILT" python3 "$TB_T/flood.py" "$src" "$dst" "$port" >"$TB_T/$v.$i.out" 2>&1 &
		fp="$fp $!"
		i=$((i + 1))
	done
	# shellcheck disable=SC2086
	wait $fp # (not the testbed's background jobs)
	cat "$TB_T/$v".*.out
	nc_sum=$(sed -n 's/.*: \([0-9]*\) connects in 3 s/\1/p' "$TB_T/$v".*.out | awk '{s += $1} END {print s + 0}')
	K=$(rl_kstat)
	echo "    kernel_events lost lost_rationed ring_full tcp t_us: $K0 -> $K"
	set -- $K0; l0=$1; set -- $K; l1=$1
	rl_vic "after_$v" >"$TB_T/after.out" || { cat "$TB_T/after.out"; tb_fail "who after"; }
	cat "$TB_T/after.out"
	# the attribution: with every event of the flood's connections its
	# uid's, the TCP events read are at most one ration's worth over the
	# interval (kev.bpf.c uid_take: a quarter of the ring, then a byte per
	# 1024 ns; a kev_sock record takes 88 bytes of the ring); root's side's
	# two events per connection (the queued socket's ESTABLISHED and CLOSE)
	# unrationed come on top of that
	rl_why=$("$TB_PY" - "$K0" "$K" "$nc_sum" "${RING_KB:-256}" <<'PY'
import sys
k0 = [int(float(x)) for x in sys.argv[1].split()]
k1 = [int(float(x)) for x in sys.argv[2].split()]
conns, ring = int(sys.argv[3]), int(sys.argv[4]) * 1024
t_us = k1[4] - k0[4]
cap = (ring / 4 + t_us * 1000 / 1024) / 88  # (a case's n flooders are one uid)
dtcp, dlr = k1[3] - k0[3], k1[1] - k0[1]
excess = dtcp - cap
print("    tcp events read %d in %.1f s, the flooders' rations %d: %+d over, %.2f a connect (over-ration losses %d)"
      % (dtcp, t_us / 1e6, cap, excess, excess / max(conns, 1), dlr), file=sys.stderr)
if 5 * conns < 1.5 * cap or dlr == 0:
    # (five events a connection, all the flooder's: well over its ration
    # the ration decides what is written)
    print("the flood (%d connects, %d over its ration) cannot tell" % (conns, dlr))
elif excess > conns / 2:
    print("%d TCP events over the flooders' rations (%.2f a connect): root's side of their connections unrationed" % (excess, excess / conns))
PY
)
	if [ -n "$rl_why" ]; then
		echo "FAIL-CASE: $v: $rl_why"
		r=1
	elif [ "$l1" != "$l0" ] && grep -q 'holders_incomplete=True' "$TB_T/after.out"; then
		echo "FAIL-CASE: $v: uid $atk's connects to a root listener lost $((l1 - l0)) events no uid is charged with (everyone's) and made daemon's chain from h1 holders_incomplete"
		r=1
	else
		echo "ok: $v: root's side of the flood's connections rationed as the flooder's, everyone's loss unchanged or the victim's chain untouched"
	fi
	sleep 4 # (a loss lasts a window)
done
exit $r
