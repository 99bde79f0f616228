#!/bin/sh
# tests/func/guard_policy.sh — the access list's documented semantics (docs/policy.md),
# decided by a real enforcing hopguard on testbed host h1 (collector, shim) for
# real curl and nc connections to h2, each case asserting the client's outcome
# (connected / ECONNREFUSED in under a second / dropped) and the audit line
# (verdict and the rule FILE:LINE or the reason):
#   white and black lists; `*` wildcards; IPv4 and IPv6 CIDR; destination and source
#   port ranges; IPv6 addresses (bare and [bracketed]); `nc` matching the process
#   /usr/bin/nc.openbsd through PATH and Debian's alternatives symlinks, and the
#   full path /usr/bin/nc likewise; the first matching line decides; no match →
#   refused; the 7th field `drop`; SIGHUP reload (the audit names the new line);
#   a bad list is refused on SIGHUP and the old one keeps deciding (by its lines).
# (guard_basic.sh covers the plain accept/refuse path, load and monitor mode.)
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need curl nc python3 iptables
[ -x "$TB_HOPGUARD" ] || tb_skip "hopguard not built"
[ -x "$TB_HOPTRACED" ] || tb_skip "hoptraced not built"
[ -f "$TB_SHIM" ] || tb_skip "shim not built"

A4=10.234.0.1 B4=10.234.0.2 A6=fd00:234::1 B6=fd00:234::2
tb_switch
tb_host h1 $A4 $A6
tb_host h2 $B4 $B6
tb_preload on
ACL=$(tb_dir h1)/policy.acl
NCREAL=$(readlink -f "$(command -v nc)")

# h2: one listener on every port the cases use (dual-stack); it answers HTTP
PORTS="7001 7002 7003 7004 7005 7006 7007 7008 7009 7010 7011 7012 7150 7200 7300"
cat >"$TB_T/listen.py" <<'EOF'
import socket, selectors, sys
sel = selectors.DefaultSelector()
for p in sys.argv[1:]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(p))); s.listen(64); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
while True:
    for k, _ in sel.select():
        try:
            c, _a = k.fileobj.accept()
            c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
            c.close()
        except OSError:
            pass
EOF
tb_bg h2 "$TB_PY" "$TB_T/listen.py" $PORTS
for p in $PORTS; do tb_wait_port h2 $p || tb_fail "listener on h2:$p"; done
tb_collector h1

cat >"$ACL" <<EOF
# guard_policy.sh: one case a line (line numbers are asserted below)
$A4, *, $B4, 7001, white, curl
$A4, *, $B4, 7002, black, nc
*, *, $B4, 7003, black,
10.234.0.0/24, *, 10.234.0.0/24, 7004, black,
10.99.0.0/16, *, $B4, 7005, black,
$A4, *, $B4, 7100-7199, black,
$A6, *, $B6, 7006, black,
[$A6], *, fd00:234::/64, 7007, white, nc
*, *, *, 7008, white, /usr/bin/nc
*, *, $B4, 7009, black, curl, drop
*, 1024-65535, $B4, 7010, black,
*, 0-1023, $B4, 7011, black,
*, *, $B4, 7012, black, nc
*, *, $B4, 7012, black,
*, *, $B4, 7300, black, nc.openbsd
EOF
tb_exec h1 "$TB_HOPTRACE" policy check "$ACL" | grep -q "policy OK (15 rules)" || tb_fail "policy check"
tb_guard h1 collector_timeout_ms=1000
GPID=$(cat "$(tb_dir h1)/hopguard.pid")
AUD=$(tb_dir h1)/audit.log

# try PROG HOST PORT [NC-ARGS] : connect from h1; prints "ok MS", "refused MS" or
# "timeout MS" (curl: exit 7 = refused, 28 = timeout; nc -z: refused within 2 s)
try() {
	tb_exec h1 sh -c '
		prog=$1 host=$2 port=$3; shift 3
		t0=$(date +%s%N)
		case $prog in
		curl) case $host in *:*) u="http://[$host]:$port/" ;; *) u="http://$host:$port/" ;; esac
		      curl -s -o /dev/null --connect-timeout 2 --max-time 3 "$u"; rc=$?
		      case $rc in 0) r=ok ;; 7) r=refused ;; 28) r=timeout ;; *) r=rc$rc ;; esac ;;
		nc)   nc -z -w 2 "$@" "$host" "$port" </dev/null >/dev/null 2>&1; rc=$?
		      t=$(( ($(date +%s%N) - t0) / 1000000 ))
		      if [ $rc = 0 ]; then r=ok; elif [ $t -ge 1900 ]; then r=timeout; else r=refused; fi ;;
		esac
		echo "$r $(( ($(date +%s%N) - t0) / 1000000 ))"' sh "$@" 2>&1
}
# audit REMOTE : "verdict|rule|reason" of the newest audit line for REMOTE
audit() {
	"$TB_PY" - "$AUD" "$1" <<'EOF'
import json, sys
last = None
for l in open(sys.argv[1]):
    r = json.loads(l)   # every line must parse
    if r["remote"] == sys.argv[2]:
        last = r
if last is None:
    print("none||")
else:
    print("%s|%s|%s" % (last["verdict"], last.get("rule", ""), last.get("reason", "")))
EOF
}
N=0
# case WHAT PROG HOST PORT WANT AUDIT-VERDICT RULE-LINE|REASON-SUBSTRING [NC-ARGS]
case_() {
	what=$1 prog=$2 host=$3 port=$4 want=$5 averd=$6 why=$7
	shift 7
	res=$(try "$prog" "$host" "$port" "$@")
	set -- $res
	[ "$1" = "$want" ] || tb_fail "$what: $prog -> $host:$port gave '$res', want $want"
	[ "$want" = refused ] && [ "$2" -ge 1000 ] && tb_fail "$what: refusal took $2 ms (want < 1 s)"
	case $host in *:*) rem="[$host]:$port" ;; *) rem="$host:$port" ;; esac
	i=0
	while :; do
		a=$(audit "$rem") || tb_fail "audit log malformed"
		[ "${a%%|*}" != none ] && break
		i=$((i + 1)); [ $i -lt 20 ] || break; sleep 0.05
	done
	v=${a%%|*} rest=${a#*|}
	rule=${rest%%|*} reason=${rest#*|}
	[ "$v" = "$averd" ] || tb_fail "$what: audit verdict '$v' (want $averd): $a"
	case $why in
	[0-9]*) [ "$rule" = "$ACL:$why" ] || tb_fail "$what: audit rule '$rule' (want $ACL:$why): $a" ;;
	*) case $reason in *"$why"*) ;; *) tb_fail "$what: audit reason '$reason' (want '$why')" ;; esac ;;
	esac
	N=$((N + 1))
	printf 'ok   %-44s %-5s %-22s %-8s %s\n' "$what" "$prog" "$rem" "$res" "${rule:-$reason}"
}

tb_log "white and black lists"
case_ "white: listed process"           curl $B4 7001 ok accept 2
case_ "white: unlisted process"         nc   $B4 7001 refused reject "process $(basename "$NCREAL") not in white list ($ACL:2)"
case_ "black: unlisted process"         curl $B4 7002 ok accept 3
case_ "black: listed (nc -> $(basename "$NCREAL"))" nc $B4 7002 refused reject "in black list ($ACL:3)"
case_ "black with entry nc.openbsd"     nc   $B4 7300 refused reject "in black list ($ACL:16)"
case_ "black with entry nc.openbsd"     curl $B4 7300 ok accept 16
tb_log "wildcards, CIDR, port ranges"
case_ "* source"                        nc   $B4 7003 ok accept 4
case_ "CIDR source and destination"     curl $B4 7004 ok accept 5
case_ "CIDR not matching: no rule"      curl $B4 7005 refused reject "no matching rule"
case_ "destination port range 7100-7199" nc  $B4 7150 ok accept 7
case_ "outside the range: no rule"      nc   $B4 7200 refused reject "no matching rule"
case_ "source port range 1024-65535"    curl $B4 7010 ok accept 12
case_ "source port 0-1023, ephemeral"   nc   $B4 7011 refused reject "no matching rule"
case_ "source port 0-1023, nc -p 999"   nc   $B4 7011 ok accept 13 -p 999
tb_log "IPv6"
case_ "IPv6 exact addresses"            curl $B6 7006 ok accept 8
case_ "IPv4 to an IPv6-only rule"       curl $B4 7006 refused reject "no matching rule"
case_ "[IPv6] src, IPv6 CIDR dst, white nc" nc $B6 7007 ok accept 9
case_ "same, curl not in white list"    curl $B6 7007 refused reject "not in white list ($ACL:9)"
tb_log "process names through symlinks; first match; drop"
case_ "white /usr/bin/nc (-> $NCREAL)"  nc   $B4 7008 ok accept 10
case_ "white /usr/bin/nc, IPv6 (*)"     nc   $B6 7008 ok accept 10
case_ "white /usr/bin/nc: curl"         curl $B4 7008 refused reject "not in white list ($ACL:10)"
case_ "first matching line decides"     nc   $B4 7012 refused reject "in black list ($ACL:14)"
case_ "first line passes curl"          curl $B4 7012 ok accept 14
case_ "7th field drop: SYN dropped"     curl $B4 7009 timeout drop "in black list ($ACL:11)"
case_ "drop: other processes pass"      nc   $B4 7009 ok accept 11

tb_log "SIGHUP reload"
cp "$ACL" "$TB_T/v1.acl"
{ echo "# v2: 7005 allowed on line 2, 7001 black-listing curl on line 3"
  echo "*, *, $B4, 7005, black,"
  echo "*, *, $B4, 7001, black, curl"
  sed 1d "$TB_T/v1.acl"; } >"$TB_T/v2.acl"
cp "$TB_T/v2.acl" "$ACL"
kill -HUP "$GPID"
i=0; until grep -q "reloaded (17 rules)" "$(tb_dir h1)/hopguard.log"; do
	i=$((i + 1)); [ $i -lt 30 ] || tb_fail "no reload logged"; sleep 0.1; done
case_ "reloaded: new line 2 allows"     curl $B4 7005 ok accept 2
case_ "reloaded: new line 3 refuses"    curl $B4 7001 refused reject "in black list ($ACL:3)"
case_ "reloaded: old rules moved down"  curl $B4 7004 ok accept 7

tb_log "a bad list is refused, the old one stays"
{ cat "$TB_T/v1.acl"; echo "*, *, $B4, 70000, black,"; echo "$A4, *, $B4, 22, grey, ssh"; } >"$ACL"
out=$(tb_exec h1 "$TB_HOPTRACE" policy check "$ACL" 2>&1) && tb_fail "policy check accepted a bad list"
echo "$out" | grep -q "policy.acl:17: destination port out of range" &&
	echo "$out" | grep -q "policy.acl:18: unknown list type 'grey'" || tb_fail "policy check said: $out"
kill -HUP "$GPID"
i=0; until grep -q "refused; the old policy stays" "$(tb_dir h1)/hopguard.log"; do
	i=$((i + 1)); [ $i -lt 30 ] || tb_fail "bad list not refused"; sleep 0.1; done
grep -q "policy.acl:17:" "$(tb_dir h1)/hopguard.log" || echo "   note: the guard's log does not name the bad line ($ACL:17)"
case_ "old (v2) list still decides"     curl $B4 7005 ok accept 2
case_ "old (v2) list still decides"     curl $B4 7001 refused reject "in black list ($ACL:3)"
tb_log "address fallback: a refused first address does not taint the next"
# h2 has a v6 and a v4 address in /etc/hosts; ssh and nc try v6 first. Only v4
# is allowed: the v6 attempt is refused, the v4 one must be judged on its own
# chain (the shim reports the failed connect — CONNFAIL — so the refused
# attempt is not taken for a source of the next one).
echo "$A4, *, $B4, 7013, black," >"$ACL"
kill -HUP "$GPID"
i=0; until [ "$(grep -c "reloaded (1 rules)" "$(tb_dir h1)/hopguard.log")" -ge 1 ]; do
	i=$((i + 1)); [ $i -lt 30 ] || tb_fail "no reload"; sleep 0.1; done
tb_bg h2 "$TB_PY" "$TB_T/listen.py" 7013
tb_wait_port h2 7013 || tb_fail "listener 7013"
res=$(tb_exec h1 nc -z -w 2 h2 7013 2>&1 </dev/null; echo "rc=$?")
v6=$(audit "[$B6]:7013") v4=$(audit "$B4:7013")
case $res in
*rc=0) N=$((N + 1)); echo "ok   nc h2 7013: v6 refused ($v6), v4 accepted ($v4)" ;;
*) echo "FAIL nc h2 7013 (v6 refused, then v4): $res"
   echo "    v6: $v6"; echo "    v4: $v4"
   grep -F "\"remote\":\"$B4:7013\"" "$AUD" | tail -n 1 | sed 's/^/    audit: /'
   tb_fail "address fallback" ;;
esac
echo "PASS guard_policy ($N cases)"
