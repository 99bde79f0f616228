#!/bin/sh
# cli_ca.sh — `hoptrace ca` (docs/fleet.md), read back by the openssl CLI as the
# independent reader: ca init/issue/revoke/list, what issue writes (two pairs per host:
# TLS with digitalSignature + EKU serverAuth/clientAuth, part signing with
# contentCommitment only; CN and SANs; keys 0600; random serials), the refusals (bad
# address, bad host name, existing file, --days), the CRL (openssl crl -CAfile, a
# revoked certificate fails verify -crl_check) and a CA rotation bundle (two CAs in
# ca.crt: certificates of either verify), and what hoptraced -n says about the [fleet]
# files. Needs no root and no network namespace.
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${BUILD:-build}
case $BUILD in /*) bin=$BUILD ;; *) bin=$top/$BUILD ;; esac
HT=$bin/hoptrace
[ -x "$HT" ] || { echo "FAIL: $HT not built"; exit 1; }
command -v openssl >/dev/null 2>&1 || { echo "SKIP: openssl missing (packaging/deps.sh)"; exit 77; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/htca.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok   $*"; }

expect_rc() { # rc-wanted description command...
	e_want=$1 e_what=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" = "$e_want" ]; then ok "$e_what (rc $rc)"; else
		fail "$e_what: rc $rc, wanted $e_want"
		sed 's/^/    | /' "$tmp/out" "$tmp/err"
	fi
}
expect_err() { # regex: stderr of the last expect_rc
	grep -Eq "$1" "$tmp/err" && ok "  says: $(head -n 1 "$tmp/err")" ||
		{ fail "stderr does not match /$1/:"; sed 's/^/    | /' "$tmp/err"; }
}
mode() { stat -c %a "$1"; }
F=$tmp/fleet

# ---- ca init ----------------------------------------------------------------------
expect_rc 2 "ca without a subcommand" "$HT" ca
expect_rc 2 "ca frob" "$HT" ca frob "$F"
expect_rc 0 "ca init" "$HT" ca init "$F"
[ "$(mode "$F")" = 700 ] && ok "CA directory 0700" || fail "CA directory mode $(mode "$F")"
[ "$(mode "$F/ca.key")" = 600 ] && ok "ca.key 0600" || fail "ca.key mode $(mode "$F/ca.key")"
openssl x509 -in "$F/ca.crt" -noout -text >"$tmp/ca.txt" 2>&1 || fail "openssl cannot read ca.crt"
grep -q "Subject: CN = hoptrace fleet CA [0-9a-f]\{8\}$" "$tmp/ca.txt" && ok "CA subject" ||
	fail "CA subject: $(grep Subject: "$tmp/ca.txt")"
grep -q "CA:TRUE, pathlen:0" "$tmp/ca.txt" && ok "CA:TRUE pathlen 0" || fail "no CA:TRUE pathlen:0"
grep -A1 "X509v3 Key Usage" "$tmp/ca.txt" | grep -q "Certificate Sign, CRL Sign" &&
	ok "CA keyUsage keyCertSign cRLSign" || fail "CA keyUsage"
openssl crl -in "$F/crl.pem" -CAfile "$F/ca.crt" -noout 2>"$tmp/crl.err" &&
	grep -q "verify OK" "$tmp/crl.err" && ok "the empty CRL of ca init verifies" ||
	fail "ca init's crl.pem: $(cat "$tmp/crl.err")"
expect_rc 1 "ca init twice is refused" "$HT" ca init "$F"
expect_err "already holds a CA"
expect_rc 2 "ca init --days 0" "$HT" ca init "$tmp/x" --days 0

# ---- ca issue ---------------------------------------------------------------------
expect_rc 0 "ca issue h1 (v4 + v6)" "$HT" ca issue "$F" h1 10.0.0.1 fd00::1 --days 30
for f in h1.crt h1.sign.crt; do [ -f "$F/$f" ] || fail "no $f"; done
for f in h1.key h1.sign.key; do
	[ "$(mode "$F/$f")" = 600 ] && ok "$f 0600" || fail "$f mode $(mode "$F/$f")"
	openssl pkey -in "$F/$f" -noout 2>/dev/null && ok "$f: openssl reads the key" || fail "$f unreadable"
done
openssl x509 -in "$F/h1.crt" -noout -text >"$tmp/tls.txt" || fail "openssl cannot read h1.crt"
openssl x509 -in "$F/h1.sign.crt" -noout -text >"$tmp/sign.txt" || fail "openssl cannot read h1.sign.crt"
for t in tls sign; do
	grep -q "Subject: CN = h1$" "$tmp/$t.txt" && ok "$t: CN = h1" || fail "$t: subject"
	grep -q "DNS:h1, IP Address:10.0.0.1, IP Address:FD00:0:0:0:0:0:0:1" "$tmp/$t.txt" &&
		ok "$t: SAN DNS:h1 + both addresses" || fail "$t: SAN: $(grep -A1 'Alternative' "$tmp/$t.txt")"
	grep -q "CA:FALSE" "$tmp/$t.txt" && ok "$t: CA:FALSE" || fail "$t: not CA:FALSE"
	grep -q "ecdsa-with-SHA256" "$tmp/$t.txt" && grep -q "prime256v1" "$tmp/$t.txt" &&
		ok "$t: P-256, ecdsa-with-SHA256" || fail "$t: algorithm"
done
grep -A1 "X509v3 Key Usage" "$tmp/tls.txt" | grep -qx " *Digital Signature" &&
	ok "tls: keyUsage digitalSignature only" || fail "tls keyUsage"
grep -A1 "Extended Key Usage" "$tmp/tls.txt" |
	grep -q "TLS Web Server Authentication, TLS Web Client Authentication" &&
	ok "tls: EKU serverAuth + clientAuth" || fail "tls EKU"
grep -A1 "X509v3 Key Usage" "$tmp/sign.txt" | grep -qx " *Non Repudiation" &&
	ok "sign: keyUsage contentCommitment (nonRepudiation) only" || fail "sign keyUsage"
grep -q "Extended Key Usage" "$tmp/sign.txt" && fail "sign: has an EKU" || ok "sign: no EKU"
s1=$(openssl x509 -in "$F/h1.crt" -noout -serial) s2=$(openssl x509 -in "$F/h1.sign.crt" -noout -serial)
[ "$s1" != "$s2" ] && [ ${#s1} -ge 30 ] && ok "random 128-bit serials ($s1)" || fail "serials $s1 $s2"
# the certificate names the key
for p in h1 h1.sign; do
	a=$(openssl x509 -in "$F/$p.crt" -noout -pubkey | openssl pkey -pubin -outform DER | od -An -tx1)
	b=$(openssl pkey -in "$F/$p.key" -pubout -outform DER | od -An -tx1)
	[ "$a" = "$b" ] && ok "$p.key is $p.crt's key" || fail "$p.key does not match $p.crt"
done
v() { openssl verify -x509_strict -CAfile "$F/ca.crt" "$@" 2>&1; }
v -purpose sslserver "$F/h1.crt" | grep -q ": OK$" && ok "verify -x509_strict -purpose sslserver h1.crt" ||
	fail "sslserver: $(v -purpose sslserver "$F/h1.crt")"
v -purpose sslclient "$F/h1.crt" | grep -q ": OK$" && ok "verify -x509_strict -purpose sslclient h1.crt" ||
	fail "sslclient: $(v -purpose sslclient "$F/h1.crt")"
v "$F/h1.sign.crt" | grep -q ": OK$" && ok "verify -x509_strict h1.sign.crt" ||
	fail "sign: $(v "$F/h1.sign.crt")"
v -purpose sslserver "$F/h1.sign.crt" | grep -q "unsuitable certificate purpose" &&
	ok "h1.sign.crt is unusable as a TLS server certificate" || fail "sign cert passes sslserver"
v -purpose sslclient "$F/h1.sign.crt" | grep -q "unsuitable certificate purpose" &&
	ok "h1.sign.crt is unusable as a TLS client certificate" || fail "sign cert passes sslclient"
[ "$(openssl x509 -in "$F/h1.crt" -noout -enddate | cut -d= -f2 | xargs -I{} date -d {} +%s)" -lt \
  "$(date -d '+31 days' +%s)" ] && ok "--days 30 respected" || fail "--days 30 not respected"

expect_rc 0 "ca issue --out D" "$HT" ca issue "$F" h2 10.0.0.2 --out "$tmp/h2"
[ -f "$tmp/h2/h2.crt" ] && [ -f "$tmp/h2/h2.sign.key" ] && [ ! -e "$F/h2.crt" ] &&
	ok "--out writes into D only" || fail "--out: $(ls "$tmp/h2" "$F")"
expect_rc 1 "issue over an existing certificate" "$HT" ca issue "$F" h1 10.0.0.1
expect_err "already exists"
expect_rc 1 "bad address" "$HT" ca issue "$F" h3 10.0.0.300
expect_err 'not an IPv4 or IPv6 address: "10.0.0.300"'
expect_rc 1 "bad host name (comma)" "$HT" ca issue "$F" 'h,3' 10.0.0.3
expect_err "bad host name"
expect_rc 1 "bad host name (slash)" "$HT" ca issue "$F" '../h3' 10.0.0.3
expect_err "bad host name"
expect_rc 1 "host name ca" "$HT" ca issue "$F" ca 10.0.0.3
expect_err "CA directory uses that name"
expect_rc 1 "no CA there" "$HT" ca issue "$tmp/none" h3 10.0.0.3
expect_err "ca.crt: No such file"
expect_rc 1 "longer than the CA" "$HT" ca issue "$F" h3 10.0.0.3 --days 4000
expect_err "outlive the CA"
expect_rc 2 "issue without an address" "$HT" ca issue "$F" h3
expect_rc 2 "--days junk" "$HT" ca issue "$F" h3 10.0.0.3 --days 3x
[ ! -e "$F/h3.crt" ] && [ ! -e "$F/h3.key" ] && ok "no file left by a refused issue" || fail "h3 files left"

# ---- list, revoke, CRL --------------------------------------------------------------
expect_rc 0 "ca list" "$HT" ca list "$F"
[ "$(grep -c ' valid  *h[12]$' "$tmp/out")" = 4 ] && ok "list: four valid certificates" ||
	{ fail "list:"; sed 's/^/    | /' "$tmp/out"; }
openssl verify -crl_check -CAfile "$F/ca.crt" -CRLfile "$F/crl.pem" "$F/h1.crt" >/dev/null 2>&1 &&
	ok "h1.crt passes -crl_check before the revocation" || fail "h1 fails -crl_check before"
expect_rc 0 "ca revoke h1 (by host name)" "$HT" ca revoke "$F" h1
[ "$(grep -c '^revoked ' "$tmp/out")" = 2 ] && ok "  both of h1's certificates" || fail "revoke output: $(cat "$tmp/out")"
expect_rc 0 "ca revoke a certificate file" "$HT" ca revoke "$F" "$tmp/h2/h2.sign.crt"
expect_rc 0 "revoke it again" "$HT" ca revoke "$F" "$tmp/h2/h2.sign.crt"
grep -q "already revoked" "$tmp/out" && ok "  already revoked" || fail "second revoke: $(cat "$tmp/out")"
expect_rc 1 "revoke an unknown host" "$HT" ca revoke "$F" nosuch
expect_err "no certificate issued"
openssl crl -in "$F/crl.pem" -CAfile "$F/ca.crt" -noout 2>"$tmp/crl.err" && grep -q "verify OK" "$tmp/crl.err" &&
	ok "openssl crl -CAfile: the CRL verifies" || fail "crl: $(cat "$tmp/crl.err")"
[ "$(openssl crl -in "$F/crl.pem" -noout -text | grep -c 'Serial Number:')" = 3 ] &&
	ok "the CRL holds 3 serials" || fail "CRL serials: $(openssl crl -in "$F/crl.pem" -noout -text)"
for c in "$F/h1.crt" "$F/h1.sign.crt" "$tmp/h2/h2.sign.crt"; do
	openssl verify -crl_check -CAfile "$F/ca.crt" -CRLfile "$F/crl.pem" "$c" 2>&1 | grep -q "certificate revoked" &&
		ok "revoked: $(basename "$c") fails verify -crl_check" || fail "$(basename "$c") passes -crl_check"
done
openssl verify -crl_check -CAfile "$F/ca.crt" -CRLfile "$F/crl.pem" "$tmp/h2/h2.crt" >/dev/null 2>&1 &&
	ok "h2.crt (not revoked) passes -crl_check" || fail "h2.crt fails -crl_check"
expect_rc 0 "ca revoke DIR alone refreshes the CRL" "$HT" ca revoke "$F" --days 10
[ "$(openssl crl -in "$F/crl.pem" -noout -text | grep -c 'Serial Number:')" = 3 ] &&
	ok "  the refreshed CRL keeps the 3 serials" || fail "refresh lost serials"
expect_rc 0 "ca list" "$HT" ca list "$F"
[ "$(grep -c ' revoked  *h[12]$' "$tmp/out")" = 3 ] && ok "list: three revoked" ||
	{ fail "list after revoke:"; sed 's/^/    | /' "$tmp/out"; }

# ---- CA rotation: ca.crt holding the old and the new CA -------------------------------
expect_rc 0 "ca init (the new CA)" "$HT" ca init "$tmp/fleet2"
expect_rc 0 "ca issue h2 under the new CA" "$HT" ca issue "$tmp/fleet2" h2 10.0.0.2
cat "$F/ca.crt" "$tmp/fleet2/ca.crt" >"$tmp/bundle.crt"
for c in "$tmp/h2/h2.crt" "$tmp/fleet2/h2.crt"; do
	openssl verify -x509_strict -purpose sslserver -CAfile "$tmp/bundle.crt" "$c" 2>&1 | grep -q ": OK$" &&
		ok "bundle of two CAs accepts $(echo "$c" | sed "s|$tmp/||")" || fail "bundle refuses $c"
done
openssl verify -CAfile "$F/ca.crt" "$tmp/fleet2/h2.crt" >/dev/null 2>&1 &&
	fail "the old CA alone accepts the new CA's certificate" || ok "the old CA alone refuses the new one's"

# ---- what hoptraced -n says about the [fleet] files ---------------------------------------
HTD=$bin/hoptraced
expect_rc 0 "ca issue h4 for -n" "$HT" ca issue "$F" h4 10.0.0.4 fd00::4
nconf() { # FILE HOST [DIR]: a config with [inquiry] on and [fleet] naming HOST's files
	d=${3:-$F}
	printf '[collector]\nhostname = %s\n[inquiry]\nlisten = %s\n[fleet]\nca = %s\ncert = %s\nkey = %s\nsign_cert = %s\nsign_key = %s\ncrl = %s\n' \
		"$2" "$listen" "$F/ca.crt" "$d/$2.crt" "$d/$2.key" "$d/$2.sign.crt" "$d/$2.sign.key" "$F/crl.pem" >"$1"
}
# the inquiry listener's scheme (http:// before issue 11's front, https:// after)
for listen in https://127.0.0.1:8471 http://127.0.0.1:8471; do
	nconf "$tmp/n.conf" h4
	"$HTD" -n -f "$tmp/n.conf" >"$tmp/out" 2>"$tmp/err" && break
	grep -q listen "$tmp/err" || break
done
grep -q "configuration OK" "$tmp/out" && ok "hoptraced -n: h4's fleet files OK ($listen)" ||
	{ fail "hoptraced -n on good fleet files:"; sed 's/^/    | /' "$tmp/out" "$tmp/err"; }
grep -q "fleet: [^w]" "$tmp/err" && fail "-n printed an error for good files: $(cat "$tmp/err")"
nconf "$tmp/n.conf" h1
expect_rc 1 "hoptraced -n: h1 (revoked)" "$HTD" -n -f "$tmp/n.conf"
expect_err "hoptraced: fleet: .*h1.crt: revoked"
grep -q "h1.sign.crt: revoked" "$tmp/err" && ok "  and h1.sign.crt" || fail "sign cert revocation not reported"
grep -q "configuration OK" "$tmp/out" && fail "configuration OK printed with a fault"
nconf "$tmp/n.conf" h2 "$tmp/fleet2"
expect_rc 1 "hoptraced -n: another CA's certificate" "$HTD" -n -f "$tmp/n.conf"
expect_err "h2.crt: not signed by the fleet CA"
nconf "$tmp/n.conf" h4
sed -i "s|^key = .*|key = $F/h1.key|; s|^sign_cert = .*|sign_cert = $F/h4.crt|" "$tmp/n.conf"
expect_rc 1 "hoptraced -n: wrong key, TLS cert as sign_cert" "$HTD" -n -f "$tmp/n.conf"
expect_err "h1.key: does not match the certificate"
grep -q "h4.crt: a TLS certificate .* is not a part-signing certificate" "$tmp/err" &&
	ok "  says: the TLS certificate is no part-signing one" || fail "TLS as sign_cert: $(cat "$tmp/err")"
expect_rc 0 "ca issue h5 --days 10" "$HT" ca issue "$F" h5 10.0.0.5 --days 10
nconf "$tmp/n.conf" h5
expect_rc 0 "hoptraced -n: h5 expires in 10 days (a warning)" "$HTD" -n -f "$tmp/n.conf"
expect_err "fleet: warning: .*h5.crt: expires in (9|10) days"

[ "$fails" = 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "all ok"
