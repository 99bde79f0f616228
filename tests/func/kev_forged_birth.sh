#!/bin/sh
# kev_forged_birth.sh — with the kernel event source on, a BIRTH naming
# another creator than the kernel's fork event is refused, and the forger's
# chain is unchanged (issue 13 Done-when 3; docs/chain-model.md "What each
# source sees").
#
# The forgery /proc alone cannot refute: an unprivileged forger (nobody, no
# shim) double-forks so that its grandchild C is re-parented to init; C then
# sends a BIRTH naming as its creator a process V that has ended (a root
# `sleep` the collector knew), forked at a time V still ran. The kernel's parent of C is init, where every
# orphan goes, so without kernel events the claim passes the /proc check
# (check_creator's orphanage rule) and C would descend from V. With the
# source on the fork event says C's creator is the forger's child B:
#   - the BIRTH is refused and counted (claims.refused_by_kernel_events + 1)
#   - C's entry in the graph (creator, seen) and `hoptrace chain C` are the
#     same before and after, and never name V
# Removing the fork-event check in graph_apply.c (rec_birth) makes it fail.
# And an IMAGE from a fork child that never exec'd (nobody's python claiming
# to be sshd) is refused: the kernel saw no exec.
# SKIP when the kernel event source cannot load here.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3 setpriv
tb_switch
tb_host h1 10.231.0.1
tb_collector h1
tb_kev_need h1

field() { "$TB_PY" -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }
live_entry() { # PID: its live entry in the graph: "creator_pid seen"
	tb_exec h1 "$TB_HOPTRACE" ps --json | "$TB_PY" -c '
import json, sys
for p in json.load(sys.stdin)["procs"]:
    if p["pid"] == int(sys.argv[1]) and p["alive"]:
        print(p["creator_pid"], p.get("seen"))' "$1"
}
chain_pids() { # PID: the pids of PID's chain (ordered), or "none"
	tb_exec h1 "$TB_HOPTRACE" chain "$1" --json | "$TB_PY" -c '
import json, sys
a = json.load(sys.stdin)
print(" ".join(str(p["pid"]) for c in a.get("chains", []) for p in c.get("procs", [])) or "none")'
}

# V: a process the collector knows (asked about while it ran), ended since
tb_bg h1 sleep 0.6
V=$TB_LAST
sleep 0.2
tb_exec h1 "$TB_HOPTRACE" chain "$V" >/dev/null || tb_fail "no chain for the victim $V"
# the fork time C will claim: while V ran (CLOCK_MONOTONIC is the shim's clock)
T=$("$TB_PY" -c 'import time; print(time.monotonic_ns())')
sleep 0.8
kill -0 "$V" 2>/dev/null && tb_fail "victim $V still runs"

cat >"$TB_T/forger.py" <<'PY'
import os, socket, struct, sys, time
victim, pidfile, go, fork_ts = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
def mp_uint(v):
    if v < 128: return bytes([v])
    if v < 65536: return b"\xcd" + struct.pack(">H", v)
    if v < 2**32: return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)
b = os.fork()
if b == 0:
    if os.fork() == 0:
        while os.getppid() != 1:  # B has ended: re-parented to init
            time.sleep(0.01)
        open(pidfile + ".tmp", "w").write("%d\n" % os.getpid())
        os.rename(pidfile + ".tmp", pidfile)
        while not os.path.exists(go):
            time.sleep(0.02)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(b"\0hoptrace/rec")
        now = time.monotonic_ns()
        # BIRTH (type 1): version 1, type, ts; creator = the victim, forked
        # while the victim ran
        s.send(bytes([0x95]) + mp_uint(1) + mp_uint(1) + mp_uint(now) + mp_uint(victim) + mp_uint(fork_ts))
        open(go + ".sent", "w").write("sent\n")
        time.sleep(60)
        os._exit(0)
    os._exit(0)
os.waitpid(b, 0)
PY
chmod 0644 "$TB_T/forger.py"
mkdir -p "$TB_T/f" && chmod 0777 "$TB_T/f"
tb_bg h1 setpriv --reuid 65534 --regid 65534 --clear-groups "$TB_PY" "$TB_T/forger.py" "$V" \
	"$TB_T/f/pid" "$TB_T/f/go" "$T"
i=0
until [ -s "$TB_T/f/pid" ]; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "forger did not start"; sleep 0.05; done
C=$(cat "$TB_T/f/pid")
echo "    victim $V (ended), forger's grandchild $C (uid 65534)"

before=$(chain_pids "$C") before_e=$(live_entry "$C")
b_kev=$(tb_exec h1 "$TB_HOPTRACE" status --json | field '["claims"]["refused_by_kernel_events"]')
touch "$TB_T/f/go"
i=0
until [ -s "$TB_T/f/go.sent" ]; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "forger did not send"; sleep 0.05; done
sleep 0.3
after=$(chain_pids "$C") after_e=$(live_entry "$C")
a_kev=$(tb_exec h1 "$TB_HOPTRACE" status --json | field '["claims"]["refused_by_kernel_events"]')
echo "    chain of $C before: $before"
echo "    chain of $C after:  $after"
echo "    $C in the graph (creator, seen): before '$before_e', after '$after_e'"
echo "    refused_by_kernel_events: $b_kev -> $a_kev"

rc=0
case " $after " in *" $V "*) echo "    not: the chain of $C names the victim $V"; rc=1 ;; esac
[ "$before" = "$after" ] || { echo "    not: the chain changed"; rc=1; }
[ "$before_e" = "$after_e" ] || { echo "    not: $C's entry changed"; rc=1; }
case $after_e in "$V "*) echo "    not: the graph takes $V as $C's creator"; rc=1 ;; esac
[ "$a_kev" = $((b_kev + 1)) ] || { echo "    not: the forged BIRTH was not refused by the kernel's events"; rc=1; }

# An IMAGE from a process the kernel saw fork and never exec (a python fork
# child of nobody claiming to be sshd): refused, counted, its entry unchanged.
cat >"$TB_T/image.py" <<'PY'
import os, socket, struct, sys, time
go = sys.argv[1]
def mp_str(s):
    s = s.encode(); return bytes([0xa0 | len(s)]) + s
if os.fork() == 0:
    print(os.getpid(), flush=True)
    while not os.path.exists(go):
        time.sleep(0.02)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(b"\0hoptrace/rec")
    s.send(bytes([0x96, 1, 2, 1, 0xce]) + struct.pack(">I", os.getppid()) + mp_str("/usr/sbin/sshd") + mp_str("sshd"))
    open(go + ".sent", "w").write("sent\n")
    time.sleep(60)
    os._exit(0)
time.sleep(60)
PY
chmod 0644 "$TB_T/image.py"
tb_bg h1 setpriv --reuid 65534 --regid 65534 --clear-groups "$TB_PY" "$TB_T/image.py" "$TB_T/f/igo"
i=0
until [ -s "$TB_LASTLOG" ]; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "image forger did not start"; sleep 0.05; done
D=$(head -n 1 "$TB_LASTLOG")
tb_exec h1 "$TB_HOPTRACE" chain "$D" >/dev/null || tb_fail "no chain for the image forger $D"
before_e=$(live_entry "$D")
b_kev=$(tb_exec h1 "$TB_HOPTRACE" status --json | field '["claims"]["refused_by_kernel_events"]')
touch "$TB_T/f/igo"
i=0
until [ -s "$TB_T/f/igo.sent" ]; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "image forger did not send"; sleep 0.05; done
sleep 0.3
after_e=$(live_entry "$D")
a_kev=$(tb_exec h1 "$TB_HOPTRACE" status --json | field '["claims"]["refused_by_kernel_events"]')
echo "    image forger $D (creator, seen): before '$before_e', after '$after_e'; refused $b_kev -> $a_kev"
[ "$a_kev" = $((b_kev + 1)) ] || { echo "    not: the IMAGE of a process that never exec'd was not refused"; rc=1; }
[ "$before_e" = "$after_e" ] || { echo "    not: $D's entry changed"; rc=1; }

[ $rc = 0 ] || tb_fail "a forged BIRTH or IMAGE changed the graph with kernel events on"
echo "PASS: the forged BIRTH and IMAGE were refused, the chain unchanged"
