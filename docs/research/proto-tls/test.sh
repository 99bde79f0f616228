#!/bin/sh
# test.sh — the prototype's claims, each checked: PKI (openssl reads what mbedTLS wrote),
# signatures, revocation, and the mTLS round trips (nng 1.5.2 https server and the
# mbedTLS front, libcurl client) on loopback. Prints "N passed, N failed".
cd "$(dirname "$0")"
pass=0 fail=0
ok() { pass=$((pass+1)); echo "ok   $*"; }
bad() { fail=$((fail+1)); echo "FAIL $*"; }
expect() { # expect 0|1 DESC CMD... : exit status 0 (=0) or non-zero (=1)
	want=$1 desc=$2; shift 2
	out=$("$@" 2>&1); rc=$?
	if { [ "$want" = 0 ] && [ $rc = 0 ]; } || { [ "$want" = 1 ] && [ $rc != 0 ]; }; then ok "$desc"; else bad "$desc: rc=$rc $out"; fi
}
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; done' EXIT
F=tfleet X=tother
rm -rf $F $X
expect 0 "ca init" ./pkitool ca-init $F
expect 0 "ca issue h1 127.0.0.1 ::1" ./pkitool ca-issue $F h1 127.0.0.1 ::1
expect 0 "ca issue h2 127.0.0.2" ./pkitool ca-issue $F h2 127.0.0.2
expect 0 "ca issue h3 127.0.0.3" ./pkitool ca-issue $F h3 127.0.0.3
DAYS=-1 ./pkitool ca-issue $F old 127.0.0.4 >/dev/null
./pkitool ca-init $X >/dev/null; ./pkitool ca-issue $X h1 127.0.0.1 >/dev/null
expect 0 "key files are 0600" sh -c "[ \$(stat -c %a $F/ca.key) = 600 ] && [ \$(stat -c %a $F/h1.key) = 600 ]"
expect 0 "openssl prints the IP SANs" sh -c "openssl x509 -in $F/h1.crt -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1'"
expect 0 "openssl -x509_strict verifies the chain" openssl verify -x509_strict -CAfile $F/ca.crt $F/h1.crt
expect 0 "openssl: usable as TLS server and client cert" sh -c "openssl verify -purpose sslserver -CAfile $F/ca.crt $F/h1.crt && openssl verify -purpose sslclient -CAfile $F/ca.crt $F/h1.crt"
expect 0 "check: good certificate, its addresses" ./pkitool check $F/ca.crt $F/h1.crt $F/h1.key 127.0.0.1 ::1
expect 1 "check: wrong address" ./pkitool check $F/ca.crt $F/h1.crt $F/h1.key 10.9.9.9
expect 1 "check: wrong CA" ./pkitool check $F/ca.crt $X/h1.crt $X/h1.key
expect 1 "check: expired" ./pkitool check $F/ca.crt $F/old.crt $F/old.key
expect 1 "check: key of another host" ./pkitool check $F/ca.crt $F/h1.crt $F/h2.key
printf '{"host":"h2","conn":"x"}' >/tmp/tpart.json
./pkitool sign $F/h2.key /tmp/tpart.json /tmp/tpart.sig >/dev/null
expect 0 "signature verifies with the signer's cert" ./pkitool verify $F/ca.crt $F/h2.crt /tmp/tpart.json /tmp/tpart.sig
expect 1 "signature does not verify as another host's" ./pkitool verify $F/ca.crt $F/h3.crt /tmp/tpart.json /tmp/tpart.sig
printf '{"host":"h2","conn":"y"}' >/tmp/tpart2.json
expect 1 "a changed part does not verify" ./pkitool verify $F/ca.crt $F/h2.crt /tmp/tpart2.json /tmp/tpart.sig
expect 1 "a cert of another CA is refused" ./pkitool verify $F/ca.crt $X/h1.crt /tmp/tpart.json /tmp/tpart.sig
[ -x osslbench ] && expect 0 "OpenSSL verifies the mbedTLS signature" sh -c "./osslbench $F/h2.key $F/h2.crt $F/ca.crt 1 /tmp/tpart.json /tmp/tpart.sig | grep -q VERIFIED"
expect 0 "ca revoke h3 -> crl.pem (openssl reads it)" sh -c "./pkitool ca-revoke $F $F/h3.crt && openssl crl -in $F/crl.pem -CAfile $F/ca.crt -noout"
expect 1 "check: revoked" env CRL=$F/crl.pem ./pkitool check $F/ca.crt $F/h3.crt $F/h3.key
# servers
./nngsrv https://127.0.0.1:19443 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
./nngsrv https://127.0.0.3:19443 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
./mtlssrv 127.0.0.1 19444 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
CRL=$F/crl.pem ./mtlssrv 127.0.0.1 19445 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
CRL=$F/crl.pem ./mtlssrv 127.0.0.3 19446 $F/h3.crt $F/h3.key $F/ca.crt 2>/dev/null & pids="$pids $!"
sleep 0.5
U=https://127.0.0.1:19443/v1/trace M=https://127.0.0.1:19444/v1/trace
expect 0 "nng: fleet client round trip" ./client one $U $F/h2.crt $F/h2.key $F/ca.crt
expect 1 "nng: client without a cert refused" ./client one $U - - $F/ca.crt
expect 1 "nng: client cert of another CA refused" ./client one $U $X/h1.crt $X/h1.key $F/ca.crt
expect 1 "nng: expired client cert refused" ./client one $U $F/old.crt $F/old.key $F/ca.crt
expect 1 "curl: server whose cert does not name the IP refused" ./client one https://127.0.0.3:19443/v1/trace $F/h2.crt $F/h2.key $F/ca.crt
expect 1 "curl: server cert of another CA refused" ./client one $U $F/h2.crt $F/h2.key $X/ca.crt
expect 0 "curl: IPv6 SAN" sh -c "./nngsrv 'https://[::1]:19447' $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & p=\$!; sleep 0.3; ./client one 'https://[::1]:19447/v1/trace' $F/h2.crt $F/h2.key $F/ca.crt; r=\$?; kill \$p; exit \$r"
expect 0 "front: fleet client from its own address" env BIND=127.0.0.2 ./client one $M $F/h2.crt $F/h2.key $F/ca.crt
expect 1 "front: fleet cert used from an address it does not name (403)" env BIND=127.0.0.3 ./client one $M $F/h2.crt $F/h2.key $F/ca.crt
expect 1 "front: client without a cert refused" ./client one $M - - $F/ca.crt
expect 0 "front: in-memory cert/key/CA (CURLOPT_*_BLOB)" env BLOB=1 BIND=127.0.0.2 ./client one $M $F/h2.crt $F/h2.key $F/ca.crt
expect 1 "front with CRL: revoked client refused" env BIND=127.0.0.3 ./client one https://127.0.0.1:19445/v1/trace $F/h3.crt $F/h3.key $F/ca.crt
expect 1 "curl with CRL: revoked server refused" curl -sf --crlfile $F/crl.pem --cert $F/h1.crt --key $F/h1.key --cacert $F/ca.crt --capath /dev/null -d '{}' https://127.0.0.3:19446/v1/trace
expect 0 "front: half-open and slow connections closed by the 2 s deadlines" sh -c "FLEET=$F python3 slowtest.py 19444 4 >/tmp/tslow.out && ! grep -q STILL /tmp/tslow.out && grep -c closed /tmp/tslow.out | grep -qx 6"
PRIVSEP=1 ./mtlssrv 127.0.0.1 19448 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
sleep 0.4
expect 0 "privsep: the nobody child serves TLS, the root monitor answers" sh -c "BIND=127.0.0.2 ./client one https://127.0.0.1:19448/v1/trace $F/h2.crt $F/h2.key $F/ca.crt | grep -q 'monitor uid 0' && pgrep -u nobody -f 'mtlssrv 127.0.0.1 19448' >/dev/null"
echo "$pass passed, $fail failed"
[ $fail = 0 ]
