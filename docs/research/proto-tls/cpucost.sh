#!/bin/sh
# cpucost.sh — server CPU (utime+stime from /proc) per TLS handshake on the mbedTLS front:
# a fleet client, and a stranger without a certificate (what a flood costs before
# the client's certificate is even seen). Loopback, N handshakes each.
cd "$(dirname "$0")"
N=${1:-100}
F=fleet
./mtlssrv 127.0.0.1 18547 $F/h1.crt $F/h1.key $F/ca.crt 2>/dev/null & P=$!
sleep 0.3
tk=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15}' /proc/$P/stat; }
c0=$(cpu); ./client new https://127.0.0.1:18547/v1/trace $F/h2.crt $F/h2.key $F/ca.crt "$N" >/dev/null 2>&1
BIND=127.0.0.2 ./client new https://127.0.0.1:18547/v1/trace $F/h2.crt $F/h2.key $F/ca.crt "$N" >/dev/null 2>&1
c1=$(cpu)
i=0; while [ $i -lt "$N" ]; do ./client one https://127.0.0.1:18547/v1/trace - - $F/ca.crt >/dev/null 2>&1; i=$((i+1)); done
c2=$(cpu)
echo "server CPU per handshake: fleet client $(echo "($c1-$c0)*1000/$tk/(2*$N)" | bc -l | cut -c1-5) ms; stranger without cert $(echo "($c2-$c1)*1000/$tk/$N" | bc -l | cut -c1-5) ms"
kill $P
