#!/bin/sh
# fleet_reload — issue 11: a fleet changes while hoptraced runs. Chain ssh h1 -> h2 -> h3;
# h2's collector is asked about h2 -> h3 and follows the leaf to h1:8471 over mTLS.
#   1. h2's CRL is another CA's only (a CA rotation's state): SIGHUP h2 -> its child
#      restarts, the chain is still complete (a CA without a CRL in the file is not a
#      refusal);
#   2. h1's certificates are rotated (ca issue --out, installed, SIGHUP h1), the old
#      pair revoked one file at a time (ca revoke DIR FILE), the CRL to h2, SIGHUP h2:
#      complete, from h1's new part-signing certificate;
#   3. a bad reload: h2's TLS key damaged, SIGHUP: logged, refused, the old identity
#      stays (complete, the same child);
#   4. h1 leaves the fleet (ca revoke DIR h1), the CRL to h2, SIGHUP h2: h2 no longer
#      sends h1 anything — the outgoing TLS refuses h1's certificate (the child is
#      chrooted: the CRL is read before, checked at every new connection): leaf
#      'peer not in fleet' (without the outgoing check the request went through and
#      the part check said 'forged part: … revoked'), the chain incomplete.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/fleetchain.sh"
tb_init "$@"
tb_need ssh openssl
INQ="$TB_PY $TB_LIB/inqtool.py"
H1=10.232.0.1 H2=10.232.0.2 H3=10.232.0.3
tb_switch
for h in 1 2 3; do
	tb_host h$h 10.232.0.$h
	tb_sshd h$h
done
for h in 1 2 3; do tb_collector h$h; done
tb_preload on

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
F1=/etc/netns/$(tb_ns h1)/hoptrace/fleet
F2=/etc/netns/$(tb_ns h2)/hoptrace/fleet
LOG1=$(tb_dir h1)/hoptraced.log
LOG2=$(tb_dir h2)/hoptraced.log

fc_chain
who_h2() { out=$(tb_exec h2 $INQ who "$L" "$R" 1500); echo "${out#* }" >"$A"; }
reason_of() { "$TB_PY" -c '
import json, sys
def walk(n):
    if not isinstance(n, dict): return
    if n.get("type") == "conn" and n.get("remote", "").startswith(sys.argv[2] + ":"):
        print(n.get("reason", "")); sys.exit(0)
    for s in n.get("sources", []): walk(s.get("node"))
walk(json.load(open(sys.argv[1]))["tree"])' "$A" "$1"; }
# reloaded NAME LOG : SIGHUP NAME's hoptraced, wait for its reload line (or refusal)
reloaded() {
	_n0=$(grep -c 'not reloaded\|files reloaded' "$2")
	kill -HUP "$(cat "$(tb_dir "$1")/hoptraced.pid")"
	i=0
	while [ "$(grep -c 'not reloaded\|files reloaded' "$2")" -le "$_n0" ] && [ $i -lt 50 ]; do
		i=$((i + 1)); sleep 0.1
	done
	tb_wait_port "$1" 8471 || tb_fail "$1's inquiry port after SIGHUP"
	sleep 0.3
}
child_of() { pgrep -P "$(cat "$(tb_dir "$1")/hoptraced.pid")" -f '^hoptraced -X' | head -n 1; } # not the judge (-J), not a zombie being reaped

who_h2
tb_assert_chain "$A" --origin h1 --complete -q && ok "baseline: complete from h1" || { bad "baseline"; head -c 600 "$A"; }

# ---- 1. a CRL of another CA only ----------------------------------------------
"$TB_HOPTRACE" ca init "$TB_T/other" >/dev/null || tb_fail "other CA"
cp "$F2/crl.pem" "$TB_T/crl.fleet"
cp "$TB_T/other/crl.pem" "$F2/crl.pem"
c0=$(child_of h2)
reloaded h2 "$LOG2"
c1=$(child_of h2)
grep -q 'files reloaded' "$LOG2" && ok "1. SIGHUP: h2 reloaded its fleet files" || bad "1. no reload line in h2's log"
[ -n "$c1" ] && [ "$c1" != "$c0" ] && ok "1. h2's inquiry child restarted ($c0 -> $c1)" || bad "1. child $c0 -> $c1"
who_h2
tb_assert_chain "$A" --origin h1 --complete -q && ok "1. another CA's CRL only: still complete" ||
	{ bad "1. another CA's CRL: $(reason_of $H1)"; head -c 600 "$A"; }
cp "$TB_T/crl.fleet" "$F2/crl.pem"

# ---- 2. h1's certificates rotated, the old ones revoked -------------------------
"$TB_HOPTRACE" ca issue "$TB_T/fleet" h1 $H1 --out "$TB_T/h1-new" >/dev/null || tb_fail "reissue h1"
for f in crt key sign.crt sign.key; do cp "$TB_T/h1-new/h1.$f" "$F1/host.$f.new" && mv "$F1/host.$f.new" "$F1/host.$f"; done
chmod 0600 "$F1/host.key" "$F1/host.sign.key"
reloaded h1 "$LOG1"
for f in crt sign.crt; do
	"$TB_HOPTRACE" ca revoke "$TB_T/fleet" "$(tb_dir h1)/h1.$f" >/dev/null || bad "2. revoke the old h1.$f"
done
cp "$TB_T/fleet/crl.pem" "$F1/crl.pem"; cp "$TB_T/fleet/crl.pem" "$F2/crl.pem"
reloaded h2 "$LOG2"
who_h2
tb_assert_chain "$A" --origin h1 --complete -q && ok "2. rotated h1, old pair revoked: complete" ||
	{ bad "2. after rotation: $(reason_of $H1)"; head -c 600 "$A"; }
new_sign=$(openssl x509 -in "$TB_T/h1-new/h1.sign.crt" -outform DER | base64 -w0)
grep -qF "${new_sign%%????????????????????????????????????????????????????????????????}" "$A" &&
	ok "2. h1's part carries its new signing certificate" || bad "2. not the new signing certificate"

# ---- 3. a bad reload keeps the old identity -------------------------------------
cp "$F2/host.key" "$TB_T/h2.key.good"
echo "not a key" >"$F2/host.key"
c0=$(child_of h2)
reloaded h2 "$LOG2"
grep -q 'SIGHUP: \[fleet\] not reloaded' "$LOG2" && ok "3. damaged key: '$(grep 'SIGHUP:' "$LOG2" | tail -n 1 | cut -c1-120)'" ||
	bad "3. no refusal in h2's log"
[ "$(child_of h2)" = "$c0" ] && ok "3. the child kept running ($c0)" || bad "3. the child changed"
who_h2
tb_assert_chain "$A" --origin h1 --complete -q && ok "3. the old identity still answers: complete" || bad "3. not complete"
cp "$TB_T/h2.key.good" "$F2/host.key"

# ---- 4. h1 leaves the fleet --------------------------------------------------------
"$TB_HOPTRACE" ca revoke "$TB_T/fleet" h1 >/dev/null || tb_fail "revoke h1"
cp "$TB_T/fleet/crl.pem" "$F2/crl.pem"
reloaded h2 "$LOG2"
who_h2
r=$(reason_of $H1)
[ "$r" = "peer not in fleet" ] && ok "4. revoked h1: leaf 'peer not in fleet' (refused in the TLS handshake)" ||
	{ bad "4. revoked h1: reason '$r'"; head -c 800 "$A"; }
tb_assert_chain "$A" --incomplete -q && ok "4. chain incomplete" || bad "4. not incomplete"

[ $fails = 0 ] || tb_fail "$fails checks failed"
echo "all fleet reload checks passed"
