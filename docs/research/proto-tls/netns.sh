#!/bin/sh
# netns.sh — the round trip between two network namespaces made here (ptls-a 10.233.77.1,
# ptls-b 10.233.77.2, one veth pair), with certificates naming those addresses.
# Then the same benchmarks as bench.sh across the veth. Removes what it made.
set -u
cd "$(dirname "$0")"
N=${1:-300}
A=ptls-a B=ptls-b
D=netfleet
cleanup() {
	for p in $(ip netns pids $A 2>/dev/null) $(ip netns pids $B 2>/dev/null); do kill "$p" 2>/dev/null; done
	ip netns del $A 2>/dev/null; ip netns del $B 2>/dev/null
}
trap cleanup EXIT
cleanup
ip netns add $A && ip netns add $B || exit 1
ip -n $A link add eth0 type veth peer name eth0 netns $B
ip -n $A addr add 10.233.77.1/24 dev eth0; ip -n $B addr add 10.233.77.2/24 dev eth0
for n in $A $B; do ip -n $n link set lo up; ip -n $n link set eth0 up; done
rm -rf $D; ./pkitool ca-init $D >/dev/null && ./pkitool ca-issue $D ha 10.233.77.1 && ./pkitool ca-issue $D hb 10.233.77.2 || exit 1
rm -rf $D-x; ./pkitool ca-init $D-x >/dev/null && ./pkitool ca-issue $D-x hb 10.233.77.2  # not the fleet's CA
ip netns exec $A ./mtlssrv 10.233.77.1 8471 $D/ha.crt $D/ha.key $D/ca.crt 2>/dev/null &
ip netns exec $A ./nngsrv https://10.233.77.1:8472 $D/ha.crt $D/ha.key $D/ca.crt 2>/dev/null &
ip netns exec $A ./nngsrv http://10.233.77.1:8473 2>/dev/null &
# a stranger's listener on the inquiry port of hb's far end: plain HTTP that would log a secret
ip netns exec $A python3 -c '
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(s):
        print("STRANGER GOT:", s.headers.get("Authorization"), flush=True); s.send_response(200); s.end_headers(); s.wfile.write(b"{}")
    def log_message(s,*a): pass
http.server.HTTPServer(("10.233.77.1", 8474), H).serve_forever()' &
# a fleet-CA-less TLS listener (self-made cert for the right IP, wrong CA)
ip netns exec $A ./mtlssrv 10.233.77.1 8475 $D-x/hb.crt $D-x/hb.key $D/ca.crt 2>/dev/null &
sleep 0.7
C="$D/hb.crt $D/hb.key $D/ca.crt"
run() { ip netns exec $B ./client "$@"; }
echo "== hb -> ha, mTLS, mbedTLS front: ";            run one https://10.233.77.1:8471/v1/trace $C
echo "== hb -> ha, mTLS, nng https: ";                run one https://10.233.77.1:8472/v1/trace $C
echo "== hb -> a stranger's plain HTTP listener (https URL): "; run one https://10.233.77.1:8474/v1/trace $C
echo "== hb -> a TLS listener whose cert is from another CA: "; run one https://10.233.77.1:8475/v1/trace $C
echo "== a client with another CA's cert for the right IP -> ha: "; run one https://10.233.77.1:8471/v1/trace $D-x/hb.crt $D-x/hb.key $D/ca.crt
echo "== ha's own cert used from hb's address (stolen key, wrong address): "; run one https://10.233.77.1:8471/v1/trace $D/ha.crt $D/ha.key $D/ca.crt
echo "== benchmarks across the veth, n=$N"
run new http://10.233.77.1:8473/v1/trace "$N"
run new https://10.233.77.1:8471/v1/trace $C "$N"
run keep http://10.233.77.1:8473/v1/trace "$N"
run keep https://10.233.77.1:8471/v1/trace $C "$N"
run keep https://10.233.77.1:8472/v1/trace $C "$N"
