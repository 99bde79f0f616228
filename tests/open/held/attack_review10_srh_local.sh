#!/bin/sh
# attack_review10_srh_local — review of issue 10: a source-routed SYN whose
# every address is one of this host's own is taken for a local destination
# (guard/judge.c route_facts: sd_is_local_addr() by address alone) and, with
# judge_local = no (the default), accepted unjudged — but a link-local first
# hop is only local on its own interface. As nobody on A (no privilege:
# SO_BINDTODEVICE on an unbound socket, IPV6_RTHDR type 4): a socket bound to
# A's second interface (to C, where A has the address fd98::1) with a segment routing header whose first hop is
# A's link-local address *of its first interface* and whose final destination
# is A's own address fd..::1, connect()ed to that address. The kernel sends
# the SYN out to C (the lookup is strict on the bound interface); C — a host
# on that link that has A's link-local address and A's address (anyone on the
# link can take them) — follows the route and answers as A's own address. The
# guard must judge it (here `@default reject`: refused); it accepted it as
# "local destination, not judged" and the connection to C was made.
# Control (held): the same without the routing header (connect to
# [A's link-local%C's link]) goes out with outdev C and is judged: refused.
# HELD on 9414ca2 (exits 0): the guard cannot find a device-bound socket by
# sock_diag (an exact lookup without the socket's ifindex), so the SYN is
# refused as "source route to a destination no socket here connects to" —
# by accident: route_facts() still calls every address local by address
# alone. Kept as the regression test for a fix of that lookup.
# Prints FAIL-CASE and exits 1 if the attack works.
HT_TOP=${HT_TOP:-$(cd "$(dirname "$0")/../../.." && pwd)}
. "$HT_TOP/tests/lib/guardnet.sh"
gn_need
command -v setpriv >/dev/null || gn_skip "setpriv missing"
gn_setup
C=hgC$$
trap 'ip netns del "$C" 2>/dev/null; gn_cleanup' EXIT
ip netns add "$C" || gn_fail "ip netns add C"
ip link add "hgvc$$" type veth peer name "hgvd$$" || gn_fail "veth to C"
ip link set "hgvc$$" netns "$A"; ip link set "hgvd$$" netns "$C"
ip -n "$C" link set lo up
# A's address on its link to C (a host with two links has one on each)
AC6=fd98:$N::1
ip -n "$A" addr add "$AC6/64" dev "hgvc$$" nodad
ip -n "$A" link set "hgvc$$" up; ip -n "$C" link set "hgvd$$" up
ip -n "$C" route add "fd98:$N::/64" dev "hgvd$$"
LL=""; i=0
while [ -z "$LL" ] && [ $i -lt 50 ]; do
	LL=$(ip -n "$A" -6 addr show dev "hgva$$" scope link | awk '/inet6/ {print $2}' | cut -d/ -f1)
	i=$((i + 1)); sleep 0.1
done
[ -n "$LL" ] || gn_fail "no link-local address on A's first interface"
echo "   A's link-local on its link to B: $LL; A's address $A6"
# C takes A's link-local address and A's address, and follows source routes
ip -n "$C" addr add "$LL/64" dev "hgvd$$" nodad
ip -n "$C" addr add "$A6/128" dev lo
ip netns exec "$C" sysctl -qw net.ipv6.conf.all.seg6_enabled=1 "net.ipv6.conf.hgvd$$.seg6_enabled=1"
cat >"$T/c_srv.py" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", 8001)); s.listen(8)
while True:
    c, a = s.accept(); c.send(b"C here")
    with open(sys.argv[1], "a") as f: f.write("C got a connection from %s\n" % a[0])
    c.close()
EOP
: >"$T/c_srv.out"
gn_bg "$C" "$T/c_srv.log" python3 "$T/c_srv.py" "$T/c_srv.out"
cat >"$T/atk.py" <<'EOP'
import socket, sys
mode, ll, a6, dev, ac6 = sys.argv[1:6]
s = socket.socket(socket.AF_INET6); s.settimeout(3)
if mode == "srh":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
    s.bind((ac6, 0))                                            # A's address towards C
    h = bytearray(40); h[1] = 4; h[2] = 4; h[3] = 1; h[4] = 1   # SRH, 2 segments, left 1
    h[8:24] = socket.inet_pton(socket.AF_INET6, a6)             # segments[0]: final
    h[24:40] = socket.inet_pton(socket.AF_INET6, ll)            # segments[1]: first hop
    s.setsockopt(socket.IPPROTO_IPV6, 57, bytes(h))            # IPV6_RTHDR
    dst = (a6, 8001)
else:
    dst = (ll, 8001, 0, socket.if_nametoindex(dev))
try:
    s.connect(dst); print("RESULT connected", s.recv(10))
except ConnectionRefusedError: print("RESULT refused")
except socket.timeout: print("RESULT timeout")
except OSError as e: print("RESULT error", e)
EOP
chmod 755 "$T"; chmod 644 "$T/atk.py"
cat >"$T/policy.acl" <<EOC
*, *, $B4, 8000, black,
@incomplete evaluate
@default reject
EOC
atk() { ip netns exec "$A" setpriv --reuid nobody --regid nogroup --clear-groups \
	/usr/bin/python3 "$T/atk.py" "$1" "$LL" "$A6" "hgvc$$" "$AC6" 2>&1; }
sleep 1
gn_log "no guard: the SYN reaches C"
for m in srh plain; do
	out=$(atk $m); echo "   $m: $out"
	case $out in *"RESULT connected"*) ;; *) gn_fail "$m without a guard does not reach C: $out" ;; esac
done
gn_start_collector
gn_start_guard
fails=0
gn_log "guard (judge_local = no, the default)"
for m in plain srh; do
	: >"$T/c_srv.out"
	out=$(atk $m); sleep 0.3
	echo "   $m: $out; $(cat "$T/c_srv.out")"
	tail -n 1 "$T/audit.log" | cut -c1-330 | sed 's/^/      audit: /'
	case $out in
	*"RESULT connected"*)
		echo "FAIL-CASE: $m: a SYN to C (another host) passed the guard: $(tail -n 1 "$T/audit.log" | grep -o '"reason":"[^"]*"')"
		fails=$((fails + 1)) ;;
	*) echo "ok   $m: not connected" ;;
	esac
done
[ $fails = 0 ] || { echo "$fails case(s) passed unjudged"; exit 1; }
echo "PASS"
