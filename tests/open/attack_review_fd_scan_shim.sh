#!/bin/sh
# attack_review_fd_scan_shim.sh — companion of attack_review_fd_resync.sh in
# the shimmed 3-host testbed: on h2, nobody's 9 processes each hold ~20k fds
# (one pipe dup2()ed; no records sent); root's `hoptrace who` for a shimmed
# client's connection to h3:22 is timed before and during.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need python3
ct_setup
chmod 755 "$TB_T"
cat >"$TB_T/hold.py" <<'EOP'
import os, resource, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
r, w = os.pipe()
for fd in range(100, hard - 16): os.dup2(r, fd, inheritable=False)
for k in range(int(sys.argv[1])):
    if os.fork() == 0: break
time.sleep(float(sys.argv[2]))
EOP
cat >"$TB_T/client.py" <<'EOP'
import socket, sys, time
c = socket.create_connection((sys.argv[1], 22))
l, r = c.getsockname(), c.getpeername()
print("%s:%d %s:%d" % (l[0], l[1], r[0], r[1]), flush=True)
time.sleep(120)
EOP
chmod 644 "$TB_T"/*.py
tb_bg h2 "$TB_PY" "$TB_T/client.py" "$CT_H3"
clog=$TB_LASTLOG
i=0; until [ -s "$clog" ] || [ $i -ge 60 ]; do i=$((i + 1)); sleep 0.1; done
ends=$(head -n 1 "$clog")
timewho() {
	for k in 1 2 3 4 5; do
		t0=$(date +%s%N)
		# shellcheck disable=SC2086
		tb_exec h2 "$TB_HOPTRACE" who $ends --json >"$TB_T/who.json" 2>&1
		printf ' %d' $(( ($(date +%s%N) - t0) / 1000000 ))
	done
	echo " ms"
}
echo "baseline who (shimmed client):$(timewho)"
tb_bg h2 setpriv --reuid nobody --regid nogroup --clear-groups "$TB_PY" "$TB_T/hold.py" 8 60
sleep 4
echo "with nobody's 9 x ~20k fds:$(timewho)"
head -c 300 "$TB_T/who.json"; echo
