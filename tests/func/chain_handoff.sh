#!/bin/sh
# chain_handoff.sh — hand-offs where the process that carried the origin's data
# let go before the onward connect (docs/chain-model.md, "departed feeders" and
# "a creator's recent history"). On h2, each time, a connection to h3:22 whose
# orders came from h1:
#   nc -l | sh   h1 sends `sleep 1; nc -d H3 22` to `nc -l 9003 | sh` and hangs
#                up: the listener nc exits, then sh runs nc. The pipe's writer
#                that let go still fed sh.
#   curl | sh    `curl http://H1:8000/p.sh | sh`: curl has exited when the
#                script's nc connects.
#   FIFO queue   a runner reads commands from a FIFO (`bash -c` each); an ssh
#                session from h1 writes one and closes the FIFO.
#   /dev/tcp     bash reads its orders from h1 over /dev/tcp, closes the
#                connection, then runs them: a child connects (the creator's
#                recent history at the child's birth).
#   $(...)       `c=$(nc H1 9000); eval "$c"` — the shell read its orders
#                from its own child's pipe, kept until the child was done.
#   fork server  python's ForkingTCPServer (children keep the listening
#                socket) serving h1, then h3: each child's chain has its own
#                client only (the shared listener carries no data).
# Each: `hoptrace who` on h2 for the onward connection: exactly one chain,
# origin h1 (by name when h1's collector answers, else h1's address: h1's end
# of a closed connection is not answered, docs/inquiry.md), dst h3:22, and h2's
# processes in order.
# CT_LAG="STOP RUN" (chain_handoff_lag.sh): h2's collector is stopped STOP
# seconds, then runs RUN seconds, throughout, so it lags behind the records the way a busy machine makes
# it: records applied after their fds are gone, /proc and sock_diag read
# before it accepted a record connection.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need nc bash curl
ct_setup
if [ -n "${CT_LAG:-}" ]; then
	_lagpid=$(cat "$(tb_dir h2)/hoptraced.pid")
	sh -c 'trap "kill -CONT \$0; exit 0" TERM; while kill -STOP "$0" 2>/dev/null; do sleep "$1"; kill -CONT "$0"; sleep "$2"; done' \
		"$_lagpid" $CT_LAG &
	echo "$!" >>"$TB_T/pids"
fi

# who_h2 PID TAG ARGS... : `hoptrace who` on h2 for PID's connection to h3:22,
# then chainassert.py ARGS on the answer
# who_h2_h1 PID TAG PROCS: who_h2 with exactly PROCS, or h1's nc and PROCS —
# h1 answers for its nc's connection, closed by then, when its history has
# the connection's 4-tuple (with kernel events on h1 a short-lived client's
# local end is the kernel's, docs/chain-model.md "What each source sees";
# else it may say 404 and the chain ends at h1's address, its origin still h1)
who_h2_h1() {
	who_h2 "$1" "$2" --procs "$3" --ordered >"$TB_T/$2.a.out" 2>&1 && return 0
	who_h2 "$1" "$2" --procs "h1:nc.openbsd,$3" --ordered && return 0
	cat "$TB_T/$2.a.out"
	return 1
}

who_h2() {
	_p=$1 _t=$2; shift 2
	_lr=$(ct_onward "$_p")
	[ -n "$_lr" ] || { echo "pid $_p has no connection to $CT_H3:22"; return 1; }
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $_lr --json >"$TB_T/$_t.who.json" ||
		{ cat "$TB_T/$_t.who.json"; return 1; }
	tb_assert_chain "$TB_T/$_t.who.json" --count 1 --dst "$CT_H3:22" --no-origin h2 \
		--origin "${WHO_ORIGIN:-$(ct_origin "$TB_T/$_t.who.json")}" "$@"
}

tb_log "nc -l 9003 | sh; the controller sends one command and hangs up"
tb_bg h2 sh -c "nc -l 9003 | sh"
tb_wait_port h2 9003 || tb_fail "nc -l | sh: no listener"
tb_exec h1 sh -c "echo 'sleep 1; nc -d $CT_H3 22' | nc -N $CT_H2 9003"
ct_wait_new_onward 15 || tb_fail "nc -l | sh: no connection to h3:22"
ct_case "nc -l | sh, the listener gone: origin h1" "" \
	who_h2_h1 "$CT_P" nclsh "h2:nc.openbsd,h2:dash,h2:nc.openbsd"

tb_log "curl | sh"
printf 'sleep 1\nnc -d %s 22\n' "$CT_H3" >"$(tb_dir h1)/www/p.sh"
tb_web h1 8000
tb_bg h2 sh -c "curl -s http://$CT_H1:8000/p.sh | sh"
ct_wait_new_onward 15 || tb_fail "curl | sh: no connection to h3:22"
ct_case "curl | sh, curl gone: origin h1" "" \
	who_h2 "$CT_P" curlsh --procs "h2:curl,h2:dash,h2:nc.openbsd" --ordered

tb_log "a FIFO command queue; a session from h1 writes one command and closes it"
tb_exec h2 mkfifo "$TB_T/cmdq"
tb_bg h2 bash -c "exec 3<>$TB_T/cmdq; while read -r c <&3; do bash -c \"\$c\" </dev/null 3<&- & done"
sleep 0.5
tb_exec h1 ssh -T "root@$CT_H2" "echo 'exec nc -d $CT_H3 22' >$TB_T/cmdq" || tb_fail "FIFO queue: ssh failed"
ct_wait_new_onward 15 || tb_fail "FIFO queue: no connection to h3:22"
# (h1 answers for its ssh, closed by now: its recent past — docs/inquiry.md)
ct_case "FIFO queue, the writer gone: origin h1" "" \
	who_h2 "$CT_P" fifoq --procs "h1:ssh,h2:sshd+,h2:bash,h2:bash,h2:nc.openbsd"

tb_log "bash reads its orders over /dev/tcp, closes, runs them"
tb_bg h1 sh -c "echo 'nc -d $CT_H3 22' | nc -N -l 9001"
tb_wait_port h1 9001 || tb_fail "/dev/tcp: no controller"
tb_bg h2 bash -c "exec 3<>/dev/tcp/$CT_H1/9001; read -r c <&3; exec 3<&-; sleep 1; eval \"\$c\"; true"
ct_wait_new_onward 15 || tb_fail "/dev/tcp: no connection to h3:22"
ct_case "/dev/tcp orders read and closed, a child connects: origin h1" "" \
	who_h2_h1 "$CT_P" devtcp "h2:bash,h2:nc.openbsd"

tb_log "c=\$(nc H1 9000); eval \"\$c\""
tb_bg h1 sh -c "echo 'nc -d $CT_H3 22' | nc -N -l 9000"
tb_wait_port h1 9000 || tb_fail "\$(nc): no controller"
tb_bg h2 sh -c "c=\$(nc $CT_H1 9000 </dev/null); sleep 1; eval \"\$c\"; true"
ct_wait_new_onward 15 || tb_fail "\$(nc): no connection to h3:22"
ct_case "\$(nc) then eval: origin h1" "" \
	who_h2_h1 "$CT_P" subst "h2:nc.openbsd,h2:dash,h2:nc.openbsd"
tb_log "a forking server whose children keep the listening socket (python ForkingTCPServer), clients from h1 then h3"
cat >"$(tb_dir h2)/tmp/fsrv.py" <<'EOPY'
import socket, socketserver, sys, time
class H(socketserver.StreamRequestHandler):
    def handle(self):
        host, port = self.rfile.readline().split()
        s = socket.create_connection((host.decode(), int(port)))
        time.sleep(60)
class S(socketserver.ForkingTCPServer):
    allow_reuse_address = True
S(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
EOPY
tb_bg h2 "$TB_PY" /tmp/fsrv.py 7000
tb_wait_port h2 7000 || tb_fail "forking server: no listener"
tb_bg h1 sh -c "echo '$CT_H3 22' | nc -q 100 $CT_H2 7000"
ct_wait_new_onward 15 || tb_fail "forking server: no connection for h1's client"
p1=$CT_P
tb_bg h3 sh -c "echo '$CT_H3 22' | nc -q 100 $CT_H2 7000"
ct_wait_new_onward 15 || tb_fail "forking server: no connection for h3's client"
p3=$CT_P
PYX=h2:$(basename "$(readlink -f "$TB_PY")")
ct_case "forking server, h1's child: its client only" "" \
	who_h2 "$p1" fork1 --procs "h1:nc.openbsd?,$PYX,$PYX" --ordered --no-origin h3 --no-origin "$CT_H3"
WHO_ORIGIN=h3 # its client is h3 (h3's collector answers for a live connection)
ct_case "forking server, h3's child: its client only" "" \
	who_h2 "$p3" fork3 --procs "h3:nc.openbsd?,$PYX,$PYX" --ordered --no-origin h1 --no-origin "$CT_H1"
unset WHO_ORIGIN
ct_finish
