#!/bin/sh
# inquiry_late_sock — review finding 4b: the inquiry child asks its monitor for each
# outgoing socket (SOCK_REQ) and waits 2 s for it. A SOCK_ANS that comes after that wait
# (a busy or stopped monitor) was stored as the answer and dropped, never closed, by the
# next request: one descriptor lost each time. Here the test plays the monitor
# (tests/lib/fakemon.py: the real `hoptraced -X` child, the socketpair at 3, the listening
# socket at 4): four inquiries, each SOCK_REQ answered with a fresh socket only after the
# child's leaf has ended 'no answer'; the child must hold none of those sockets after.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
[ -x "$TB_HOPTRACED" ] || tb_skip "hoptraced not built ($TB_HOPTRACED)"
tb_switch
tb_host h1 10.232.0.1
mkdir -p "$TB_T/empty" && chmod 0755 "$TB_T/empty"
cat >"$TB_T/child.conf" <<EOC
[fleet]
lab_plain = yes

[inquiry]
listen = http://127.0.0.1:8471
user = hoptrace
chroot = $TB_T/empty
EOC
out=$(tb_exec h1 "$TB_PY" "$TB_LIB/fakemon.py" late-sock "$TB_HOPTRACED" "$TB_T/child.conf" 4 2>"$TB_T/child.err")
rc=$?
echo "$out"
grep -v '^$' "$TB_T/child.err" | tail -n 5 | sed 's/^/    child: /'
[ $rc = 0 ] || tb_fail "the child kept late SOCK_ANS sockets (or the run failed, rc $rc)"
echo "ok   every late SOCK_ANS socket closed by the child"
