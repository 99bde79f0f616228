#!/bin/sh
# bench.sh — handshake and keep-alive request cost: plain HTTP vs mTLS (nng 1.5.2
# server, and mbedTLS directly), libcurl client. Loopback only. N from $1 (300).
set -eu
cd "$(dirname "$0")"
N=${1:-300}
F=fleet
[ -f $F/ca.crt ] || { ./pkitool ca-init $F && ./pkitool ca-issue $F h1 127.0.0.1 ::1 && ./pkitool ca-issue $F h2 127.0.0.2; }
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
./nngsrv http://127.0.0.1:18180 2>/dev/null & pids="$pids $!"
./nngsrv https://127.0.0.1:18543 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
./mtlssrv 127.0.0.1 18544 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
CACHE=1 ./mtlssrv 127.0.0.1 18545 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & pids="$pids $!"
sleep 0.5
C="$F/h1.crt $F/h1.key $F/ca.crt"
echo "== new connection per request (connect + handshake + POST)"
./client new http://127.0.0.1:18180/v1/trace "$N"
./client new https://127.0.0.1:18543/v1/trace $C "$N"
./client new https://127.0.0.1:18544/v1/trace $C "$N"
SHARE=1 ./client new https://127.0.0.1:18545/v1/trace $C "$N" | sed 's/$/  [session resumed]/'
echo "== keep-alive (one connection, first request left out)"
./client keep http://127.0.0.1:18180/v1/trace "$N"
./client keep https://127.0.0.1:18543/v1/trace $C "$N"
./client keep https://127.0.0.1:18544/v1/trace $C "$N"
echo "== signatures (mbedTLS 2.28)"
./pkitool bench $F/h1.key $F/h1.crt $F/ca.crt "$N"
