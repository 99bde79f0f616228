#!/bin/sh
# collector_records.sh — records cannot lie about who sent them.
#
# Against a real hoptraced in a testbed host, a process WITHOUT the shim sends
# hand-made datagrams on the record socket:
#   - malformed bytes, a wrong version, an unknown type, an oversized datagram;
#   - a datagram carrying file descriptors (SCM_RIGHTS);
#   - a BIRTH naming a creator that is not its kernel parent (a live process);
#   - as an unprivileged user, SCM_CREDENTIALS naming another pid (the kernel
#     refuses to send it at all);
#   - an IMAGE claiming a false executable (the graph keeps /proc's).
# Each is rejected and counted in `hoptrace status`, and none adds or changes
# anything in the graph (`hoptrace ps --json` before and after).
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
tb_switch
tb_host h1 10.231.0.1
tb_collector h1

st() { tb_exec h1 "$TB_HOPTRACE" status --json; }
field() { "$TB_PY" -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }
procs() { tb_exec h1 "$TB_HOPTRACE" ps --json | "$TB_PY" -c '
import json,sys
a=json.load(sys.stdin)
for p in sorted(a["procs"], key=lambda p:(p["pid"],p["start"])):
    print(p["pid"], p["start"], p["exe"], p["creator_pid"], p.get("seen"))'; }

# a long-lived innocent bystander whose parent is not the forger
tb_bg h1 sleep 300
victim=$TB_LAST
sleep 0.3

before_ps=$(procs)
before=$(st)

cat >"$TB_T/forge.py" <<'EOF'
import os, socket, struct, sys, array

NAME = b"\0hoptrace/rec"
victim = int(sys.argv[1])
results = []

def conn():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(NAME)
    return s

def mp_uint(v):
    if v < 128: return bytes([v])
    if v < 256: return b"\xcc" + bytes([v])
    if v < 65536: return b"\xcd" + struct.pack(">H", v)
    if v < 2**32: return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)

def mp_str(s):
    s = s.encode()
    return (bytes([0xa0 | len(s)]) if len(s) < 32 else b"\xd9" + bytes([len(s)])) + s

def rec(typ, *fields):
    return bytes([0x90 | (3 + len(fields))]) + mp_uint(1) + mp_uint(typ) + mp_uint(1) + b"".join(fields)

s = conn()
# 1-4: malformed, wrong version, unknown type, oversized
s.send(b"\x01\x02\x03garbage")
s.send(b"\x93\x02\x01\x00")
s.send(b"\x93\x01\x63\x00")
s.send(b"\x93\x01\x05" + b"\x00" * 2000)
# 5: a datagram with file descriptors attached
r, w = os.pipe()
# (Linux 6.16+: the collector sets SO_PASSRIGHTS = 0 and the kernel refuses it)
try:
    s.sendmsg([rec(13, mp_uint(3))], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w]))])
except PermissionError:
    open(sys.argv[2], "w").write("refused\n")
# 6: BIRTH naming a live process that is not our parent as creator
s.send(rec(1, mp_uint(victim), mp_uint(0)))
s.close()

# 7: an unprivileged sender claiming another pid in SCM_CREDENTIALS
pid = os.fork()
if pid == 0:
    os.setgid(65534); os.setuid(65534)
    s = conn()
    try:
        s.sendmsg([rec(13, mp_uint(3))],
                  [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("iII", victim, 0, 0))])
        print("FORGED-CREDS-SENT")
    except PermissionError:
        print("forged credentials refused by the kernel")
    os._exit(0)
os.waitpid(pid, 0)
print("sent")
EOF

out=$(tb_exec h1 "$TB_PY" "$TB_T/forge.py" "$victim" "$TB_T/fd_refused") || tb_fail "forger failed: $out"
echo "$out"
case $out in *FORGED-CREDS-SENT*) tb_fail "the kernel let an unprivileged process forge a pid" ;; esac
sleep 0.3
after=$(st)
after_ps=$(procs)

b_mal=$(echo "$before" | field '["rejected"]["malformed"]')
a_mal=$(echo "$after" | field '["rejected"]["malformed"]')
b_fd=$(echo "$before" | field '["rejected"]["fd_passing"]')
a_fd=$(echo "$after" | field '["rejected"]["fd_passing"]')
b_big=$(echo "$before" | field '["rejected"]["oversized"]')
a_big=$(echo "$after" | field '["rejected"]["oversized"]')
b_con=$(echo "$before" | field '["rejected"]["contradicted"]')
a_con=$(echo "$after" | field '["rejected"]["contradicted"]')
echo "malformed $b_mal->$a_mal fd_passing $b_fd->$a_fd oversized $b_big->$a_big contradicted $b_con->$a_con"
[ $((a_mal - b_mal)) -ge 3 ] || tb_fail "malformed records not all counted"
if [ -s "$TB_T/fd_refused" ]; then
	[ $((a_fd - b_fd)) -eq 0 ] || tb_fail "fd-passing datagram refused by the kernel yet counted"
	echo "fd-passing datagram refused by the kernel (SO_PASSRIGHTS)"
else
	[ $((a_fd - b_fd)) -eq 1 ] || tb_fail "fd-passing datagram not counted"
fi
[ $((a_big - b_big)) -eq 1 ] || tb_fail "oversized datagram not counted"
[ $((a_con - b_con)) -ge 1 ] || tb_fail "forged creator not refused"

# the graph is unchanged by the records: every entry before is there as it
# was (its exe, creator and source), a new one is the kernel's own view
# (/proc, or the kernel's fork/exec events: the forger and the test's own
# commands ran meanwhile) and never "shim" (what records made), and the
# victim has no creator but its real parent
vppid=$(awk '{ print $4 }' "/proc/$victim/stat" 2>/dev/null)
if ! printf '%s\n--\n%s\n' "$before_ps" "$after_ps" | "$TB_PY" -c '
import sys
b, a = sys.stdin.read().split("\n--\n")
before = set(l for l in b.splitlines() if l)
after = set(l for l in a.splitlines() if l)
victim, vppid = sys.argv[1], sys.argv[2]
bad = ["gone or changed: " + l for l in before - after]
for l in after - before:
    f = l.split()
    if f[-1] not in ("kernel", "kernel-events"):
        bad.append("made by a record: " + l)
    if f[0] == victim and f[3] != vppid:
        bad.append("victim given a creator: " + l)
print("\n".join(bad))
sys.exit(1 if bad else 0)' "$victim" "${vppid:-0}"; then
	echo "--- before"; echo "$before_ps"; echo "--- after"; echo "$after_ps"
	tb_fail "graph changed by rejected records"
fi

# an IMAGE that lies about its executable: the collector keeps the kernel's view
cat >"$TB_T/liar.py" <<'EOF'
import os, socket, struct, time
def mp_str(s):
    s = s.encode(); return bytes([0xa0 | len(s)]) + s
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(b"\0hoptrace/rec")
ppid = os.getppid()
s.send(bytes([0x96, 1, 2, 1, 0xce]) + struct.pack(">I", ppid) + mp_str("/usr/sbin/sshd") + mp_str("sshd"))
print(os.getpid(), flush=True)
time.sleep(3)
EOF
tb_bg h1 "$TB_PY" "$TB_T/liar.py"
sleep 1
liar=$(head -n 1 "$TB_LASTLOG")
[ -n "$liar" ] || tb_fail "liar did not start"
exe=$(tb_exec h1 "$TB_HOPTRACE" ps --json | "$TB_PY" -c '
import json,sys
for p in json.load(sys.stdin)["procs"]:
    if p["pid"] == '"$liar"' and p["alive"]: print(p["exe"])')
echo "liar $liar recorded as: $exe"
case $exe in
*python*) ;;
*) tb_fail "the graph took the record's executable ($exe) over /proc's" ;;
esac

# the doorbell: a hint, never trusted. 20,000 junk datagrams (empty, 1 byte,
# 60 KB) change nothing and the collector keeps answering
tb_exec h1 ss -xl | grep -q 'hoptrace/rec.wake' || tb_fail "no doorbell socket @hoptrace/rec.wake"
before_ps=$(tb_exec h1 "$TB_HOPTRACE" ps --json | "$TB_PY" -c '
import json,sys
print(sorted((p["pid"], p["exe"]) for p in json.load(sys.stdin)["procs"] if p["alive"] and "python" not in p["exe"] and "hoptrace" not in p["exe"]))')
tb_exec h1 "$TB_PY" -c '
import socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setblocking(False)
sent = 0
for i in range(20000):
    try:
        s.sendto([b"", b"x", b"\x96\x01" * 30000][i % 3], b"\0hoptrace/rec.wake"); sent += 1
    except (BlockingIOError, OSError):
        pass
print("doorbell datagrams sent:", sent)'
tb_exec h1 "$TB_HOPTRACE" status >/dev/null || tb_fail "collector stopped answering after doorbell junk"
after_ps=$(tb_exec h1 "$TB_HOPTRACE" ps --json | "$TB_PY" -c '
import json,sys
print(sorted((p["pid"], p["exe"]) for p in json.load(sys.stdin)["procs"] if p["alive"] and "python" not in p["exe"] and "hoptrace" not in p["exe"]))')
[ "$before_ps" = "$after_ps" ] || { echo "$before_ps"; echo "$after_ps"; tb_fail "doorbell junk changed the graph"; }
echo "ok"
