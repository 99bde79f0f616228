#!/bin/sh
# kev_go.sh — static Go programs the shim cannot see (issue 13 Done-when 1a,
# 1b), built here with Debian's golang-go (CGO_ENABLED=0; GOCACHE and GOPATH
# in the test's directory; GOPROXY=off: no network):
#   relay   tests/helpers/gorelay.go started from an ssh session h1 -> h2,
#           listening on h2:9100 (off: 9101); h1 connects to it (nc) and it dials h3:22.
#           `who` for its connection to h3: one chain, origin h1; every path
#           is the accepted connection (gorelay <tcp< h1) or the session
#           (gorelay (<creator< bash) <- sshd <tcp< h1). On and off.
#   orders  tests/helpers/goorders.go started on h2 outside any session
#           (the static C case is kev_rat.sh): it reads its orders from
#           h1:9000 over a connection it then closes, and dials h3:22.
#           on: one chain, origin h1 (by its address: h1's collector
#           knows nothing of a connection closed), src h1:9000, the path
#           goorders <tcp< h1 (the hold from the kernel's connect and close
#           events); off (a fresh collector, kernel_events = off): no chain
#           reaches h1 — today's answer, the history is lost.
# SKIP without golang-go, or when the kernel event source cannot load.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
. "$TB_LIB/chainsess.sh"
tb_init "$@"
tb_need nc
command -v go >/dev/null 2>&1 || tb_skip "no go (golang-go)"
for g in gorelay goorders; do
	(cd "$TB_T" && CGO_ENABLED=0 GOCACHE=$TB_T/gocache GOPATH=$TB_T/gopath GOPROXY=off GOFLAGS='' \
		GO111MODULE=off nice go build -o "$TB_T/$g" "$HT_TOP/tests/helpers/$g.go") \
		>"$TB_T/go.err" 2>&1 || tb_skip "go build $g: $(head -n 1 "$TB_T/go.err")"
	readelf -l "$TB_T/$g" 2>/dev/null | grep -q INTERP && tb_fail "$g is not static"
done
cs_setup
tb_kev_need h2

SSHD='h2:sshd( <(creator|unix|fdpass)< h2:sshd)*'
H1=$(cs_re "$CS_H1")

relay() { # TAG PORT (the first relay still listens on its port)
	tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CS_H2 '$TB_T/gorelay $2 $CS_H3:22; true'"
	tb_wait_port h2 "$2" || { cat "$TB_LASTLOG"; tb_fail "$1: gorelay does not listen"; }
	tb_bg h1 sh -c "sleep 600 | nc $CS_H2 $2"
	ct_wait_new_onward 15 || { cat "$TB_LASTLOG"; tb_fail "$1: gorelay did not dial h3"; }
	ct_case "relay $1: gorelay's connection to h3: who" "" cs_who "$CT_P" "relay-$1" \
		"$CS_H1=h2:gorelay(\\[kernel\\])? <tcp< conn:$H1=h2:gorelay" \
		"$CS_H1=h2:gorelay(\\[kernel\\])?( <creator< h2:bash)? <(creator|pty)< $SSHD <tcp< conn:$H1=h2:sshd+,h2:bash?,h2:gorelay"
}

orders() { # TAG
	tb_bg h1 sh -c "echo 'go to h3' | nc -N -l 9000"
	tb_wait_port h1 9000 || tb_fail "$1: no controller on h1"
	# (as kev_rat.sh: its subshell is known a second before the exec, no
	# /proc read of its fds while the h1 connection is open)
	tb_bg h2 sh -c "sleep 60 | (sleep 1; exec $TB_T/goorders $CS_H1:9000 $CS_H3:22)"
	ct_wait_new_onward 10 || { cat "$TB_LASTLOG"; tb_fail "$1: goorders did not dial h3"; }
	grep -q "orders: go to h3" "$TB_LASTLOG" || tb_fail "$1: no orders read ($(cat "$TB_LASTLOG"))"
}

tb_log "on: kernel events on h2"
relay on 9100
orders on
orders_on() {
	cs_who "$CT_P" orders-on "$CS_H1=h2:goorders(\\[kernel\\])? <tcp< conn:$H1=h2:goorders" &&
		tb_assert_chain "$TB_T/orders-on.who.json" --origin "$CS_H1" --count 1 --src "$CS_H1:9000" --dst "$CS_H3:22"
}
ct_case "orders on: goorders' connection to h3: who" "" orders_on

tb_log "off: kernel_events = off on h2"
ct_kev_off h2
relay off 9101
orders off
noh1() {
	_lr=$(ct_onward "$CT_P")
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/orders-off.who.json" || return 1
	"$TB_PY" - "$TB_T/orders-off.who.json" "$CS_H1" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
o = [c.get("origin_host") for c in a.get("chains") or []]
print("    off: origins %s" % o)
sys.exit(1 if any(x in ("h1", sys.argv[2]) for x in o) else 0)
PY
}
ct_case "orders off: no chain reaches h1 (the closed connection is lost)" "" noh1
ct_finish
