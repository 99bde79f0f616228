#!/bin/sh
# policyd_reload — hoptrace-policyd reloads its TLS identity and CRL on SIGHUP (it reads
# them again as user hoptrace, after its drop: the TLS key root:hoptrace 0640, the fleet
# directory 0755). policyd on h1, clients on h2 (h2's fleet certificate):
#   0. `hoptrace-policyd -n` takes the 0640 root:hoptrace TLS key without a warning;
#   1. h1's certificate rotated to a second CA (its ca.crt a bundle of both, as in a CA
#      rotation), SIGHUP: one 'reloaded' line; a client trusting only the new CA
#      connects, one trusting only the old CA is refused;
#   2. a damaged key, SIGHUP: one 'not reloaded' line, the old (new-CA) identity still
#      serves;
#   3. h2 revoked, the CRL copied, SIGHUP: h2's certificate refused in the handshake,
#      a fresh certificate for h2's address accepted.
# On main (SIGHUP reloads only the policy) 1 and 3 fail.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need openssl
INQ="$TB_PY $TB_LIB/inqtool.py"
H1=10.232.0.1 H2=10.232.0.2
tb_switch
tb_host h1 $H1
tb_host h2 $H2
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
F1=/etc/netns/$(tb_ns h1)/hoptrace/fleet
# the package's modes (postinst): the fleet directory 0755, the TLS key root:hoptrace 0640
chmod 0755 "$F1"
chgrp hoptrace "$F1/host.key" && chmod 0640 "$F1/host.key" || tb_fail "chgrp hoptrace host.key"
printf '10.0.0.1, *, 10.0.0.3, 22, white, ssh\n' >"$(tb_dir h1)/p.acl"
chmod 0755 "$(tb_dir h1)"; chmod 0644 "$(tb_dir h1)/p.acl"

# 0. -n with the 0640 group-hoptrace key
tb_policy_server h1 8470 "$(tb_dir h1)/p.acl"
PD=$(cat "$(tb_dir h1)/policyd.pid")
PLOG=$(tb_dir h1)/policyd.log
out=$(tb_exec h1 "$TB_POLICYD" -n -f "$(tb_dir h1)/policyd.conf" 2>&1) || bad "0. -n failed: $out"
echo "$out" | grep -q "readable" && bad "0. -n warns about the 0640 root:hoptrace key: $(echo "$out" | grep readable)" ||
	ok "0. -n takes the TLS key 0640 root:hoptrace ($(echo "$out" | head -n 1 | cut -c1-60))"

URL=https://$H1:8470/v1/decide
# ask CA : the status h2 gets with its fleet certificate, trusting only CA ("000": TLS refused)
ask() { tb_exec h2 $INQ post "$URL" '{}' --ca "$1" ${2:+--cert "$2" --key "$3"} | cut -d' ' -f1; }
# hup : SIGHUP policyd, wait for its TLS line; prints it
hup() {
	n0=$(grep -c 'TLS identity' "$PLOG")
	kill -HUP "$PD"
	i=0
	while [ "$(grep -c 'TLS identity' "$PLOG")" -le "$n0" ] && [ $i -lt 30 ]; do i=$((i + 1)); sleep 0.1; done
	sleep 0.2
	grep 'TLS identity' "$PLOG" | tail -n 1
}
CA1=$TB_T/fleet/ca.crt
st=$(ask "$CA1"); [ "$st" = 400 ] && ok "baseline: h2 trusting the fleet CA is answered ($st)" || bad "baseline: $st"

# ---- 1. rotation to a second CA -----------------------------------------------------------
"$TB_HOPTRACE" ca init "$TB_T/ca2" >/dev/null || tb_fail "ca init ca2"
"$TB_HOPTRACE" ca issue "$TB_T/ca2" h1 $H1 --out "$TB_T/h1-ca2" >/dev/null || tb_fail "issue h1 under ca2"
CA2=$TB_T/ca2/ca.crt
cat "$CA1" "$CA2" >"$F1/ca.crt.new" && mv "$F1/ca.crt.new" "$F1/ca.crt"
cp "$TB_T/h1-ca2/h1.crt" "$F1/host.crt.new" && mv "$F1/host.crt.new" "$F1/host.crt"
cp "$TB_T/h1-ca2/h1.key" "$F1/host.key.new" && chgrp hoptrace "$F1/host.key.new" && chmod 0640 "$F1/host.key.new" &&
	mv "$F1/host.key.new" "$F1/host.key"
st=$(ask "$CA2"); [ "$st" = 000 ] && ok "1. before SIGHUP a client trusting only the new CA is refused" || bad "1. before SIGHUP: $st"
line=$(hup)
echo "$line" | grep -q 'TLS identity reloaded' && ok "1. SIGHUP: '$(echo "$line" | cut -c1-100)'" || bad "1. SIGHUP line: '$line'"
st=$(ask "$CA2"); [ "$st" = 400 ] && ok "1. a client trusting only the new CA connects ($st)" ||
	{ bad "1. new CA only: $st"; tail -n 3 "$PLOG"; }
st=$(ask "$CA1"); [ "$st" = 000 ] && ok "1. a client trusting only the old CA is refused (the new certificate serves)" ||
	bad "1. old CA only: $st"
kill -0 "$PD" 2>/dev/null && ok "1. the same policyd ($PD)" || bad "1. policyd gone"

# ---- 2. a damaged key is refused, the identity stays ---------------------------------------
cp -p "$F1/host.key" "$TB_T/h1.key.good"
echo "not a key" >"$F1/host.key"
line=$(hup)
[ "$(grep -c 'TLS identity not reloaded' "$PLOG")" = 1 ] &&
	ok "2. damaged key: '$(echo "$line" | cut -c1-140)'" || bad "2. damaged key: '$line'"
st=$(ask "$CA2"); [ "$st" = 400 ] && ok "2. the identity loaded before still serves ($st)" || bad "2. after the damaged key: $st"
cp -p "$TB_T/h1.key.good" "$F1/host.key"

# ---- 3. the CRL: h2 revoked --------------------------------------------------------------------
"$TB_HOPTRACE" ca issue "$TB_T/fleet" h2b $H2 --out "$TB_T/h2b" >/dev/null || tb_fail "issue h2b"
"$TB_HOPTRACE" ca revoke "$TB_T/fleet" h2 >/dev/null || tb_fail "revoke h2"
cp "$TB_T/fleet/crl.pem" "$F1/crl.pem"
st=$(ask "$CA2"); [ "$st" = 400 ] && ok "3. before SIGHUP revoked h2 is still answered (the old CRL)" || bad "3. before SIGHUP: $st"
line=$(hup)
echo "$line" | grep -q 'TLS identity reloaded' && ok "3. SIGHUP with the new CRL: reloaded" || bad "3. SIGHUP line: '$line'"
st=$(ask "$CA2"); [ "$st" = 000 ] && ok "3. revoked h2 is refused in the handshake" || bad "3. revoked h2: $st"
st=$(ask "$CA2" "$TB_T/h2b/h2b.crt" "$TB_T/h2b/h2b.key")
[ "$st" = 400 ] && ok "3. h2's fresh certificate is answered ($st)" || bad "3. h2b: $st"

grep -E 'TLS identity|policy .* loaded' "$PLOG" | sed 's/^/    policyd: /'
[ $fails = 0 ] || tb_fail "$fails checks failed"
echo "all policyd reload checks passed"
