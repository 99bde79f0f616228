#!/bin/sh
# attack_srh_late.sh — issue 10 (1), found by the review of its fixes: a source
# route set on a socket after
# the first SYN. As nobody on A, against `@default reject` (B6:8000 allowed,
# B's other address B6b refused): a non-blocking connect() to [B6]:8000 (B
# drops that SYN, as any allowed but silent destination would); the guard
# accepts and caches (family, src, dst, ports, ISN) with the socket's inode.
# Then the attacker sets IPV6_RTHDR (segment routing header, segments_left 0,
# segments[0] = B6b) on the SYN_SENT socket: TCP's SYN retransmit carries the
# new header, goes ONLY to B6b, and hits the cache entry (its key has the
# socket's destination, not the hop) — never judged by judge_route, never
# audited. Control: the same header set before connect() is refused.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
command -v setpriv >/dev/null || gn_skip "setpriv missing"
gn_setup
chmod 755 "$T"
B6b=fd99:$N::3
ip -n "$BB" addr add "$B6b/64" dev "hgvb$$" nodad
ip netns exec "$BB" sysctl -qw net.ipv6.conf.all.seg6_enabled=1 "net.ipv6.conf.hgvb$$.seg6_enabled=1"
# B: silent on [B6]:8000 (the allowed destination), counts SYNs reaching B6b
ip netns exec "$BB" ip6tables -I INPUT -d "$B6" -p tcp --dport 8000 --syn -j DROP
ip netns exec "$BB" ip6tables -I INPUT -d "$B6b" -p tcp --dport 8000 --syn -j ACCEPT
reached() { ip netns exec "$BB" ip6tables -vnxL INPUT | awk -v a="$B6b" '$0 ~ a && /dpt:8000/ {print $1}'; }
echo "@default reject" >>"$T/policy.acl"
gn_start_collector
gn_start_guard
cat >"$T/late.py" <<'EOP'
import socket, sys, time
mode, d, hop = sys.argv[1], sys.argv[2], sys.argv[3]
h = bytearray(24); h[1] = 2; h[2] = 4; h[3] = 0; h[4] = 0   # SRH, segments_left 0
h[8:24] = socket.inet_pton(socket.AF_INET6, hop)
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
if mode == "before":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RTHDR, bytes(h))
s.setblocking(False)
try: s.connect((d, 8000))
except BlockingIOError: pass
time.sleep(0.4)          # the first SYN is judged (accepted) and cached
if mode == "late":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RTHDR, bytes(h))
time.sleep(2.5)          # retransmits at ~1 s and ~3 s
print("sent", mode, flush=True)
EOP
chmod 644 "$T/late.py"
fails=0
for mode in before late; do
	b=$(reached); l0=$(wc -l <"$T/audit.log" 2>/dev/null || echo 0)
	ip netns exec "$A" setpriv --reuid nobody --regid nogroup --clear-groups /usr/bin/python3 "$T/late.py" "$mode" "$B6" "$B6b"
	a=$(reached); l1=$(wc -l <"$T/audit.log")
	hop_lines=$(tail -n +$((l0 + 1)) "$T/audit.log" | grep -c "\"first_hop\":\"$B6b\"")
	echo "   $mode: SYNs that reached [$B6b]:8000: $((a - b)); audit lines: $((l1 - l0)), naming the hop: $hop_lines"
	tail -n +$((l0 + 1)) "$T/audit.log" | cut -c1-300 | sed 's/^/      /'
	[ $((a - b)) = 0 ] || { echo "FAIL-CASE: $mode: a SYN reached the refused hop"; fails=$((fails + 1)); }
done
kill -USR1 "$GUARD_PID"; sleep 0.3; grep -E "packets|cached" "$T/hopguard.log" | tail -1
[ $fails = 0 ] || gn_fail "$fails case(s): a SYN reached a refused address"
echo "PASS"
