#!/bin/sh
# attack_ring.sh — a hostile process against the ring transport
# (include/hoptrace/ring.h, collector/ring.c), as nobody, against a real
# hoptraced in a testbed host. Registrations the collector must refuse: a
# pipe, an unsealed memfd, a sealed memfd of the wrong size, one sealed
# against writing, a registration sent by another process than the one that
# connected (credentials do not match the connection's maker), one sealed
# F_SEAL_SEAL already (the collector could not seal it against holes). Then a valid
# ring whose owner scribbles over all of it for 2 s (seq words, lengths, slot
# counts, head — torn and lying records) and writes records of its own: the
# collector keeps answering within 1 s, counts malformed or stuck slots,
# nothing changes for a bystander, and the ring is forgotten when its owner
# exits. Fails on a collector that maps what it is sent without checking
# (SIGBUS on a shrunk file), trusts the ring's indices, or loops on it.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need python3
tb_need setpriv
tb_switch
tb_host h1 10.231.0.1
tb_collector h1

st() { tb_exec h1 "$TB_HOPTRACE" status --json; }
field() { "$TB_PY" -c 'import json,sys; print(json.load(sys.stdin)'"$1"')'; }
bystander() { tb_exec h1 "$TB_HOPTRACE" ps --json | "$TB_PY" -c '
import json,sys
for p in json.load(sys.stdin)["procs"]:
    if p["pid"] == '"$1"': print(p["pid"], p["start"], p["exe"], p["creator_pid"], p["alive"], p.get("nholds"))'; }

tb_bg h1 sleep 300
victim=$TB_LAST
sleep 0.3
before=$(st)
before_v=$(bystander "$victim")

cat >"$TB_T/ring_atk.py" <<'EOF'
import array, fcntl, mmap, os, random, socket, struct, sys, time
NAME = b"\0hoptrace/rec.ring"
SIZE = 4096 + 1024 * 64
victim = int(sys.argv[1])

def mp_uint(v):
    if v < 128: return bytes([v])
    if v < 65536: return b"\xcd" + struct.pack(">H", v)
    return b"\xce" + struct.pack(">I", v)

def rec(typ, *fields):
    return bytes([0x90 | (3 + len(fields))]) + mp_uint(1) + mp_uint(typ) + mp_uint(1) + b"".join(fields)

def send_fd(fd, payload=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(NAME)
    socket.send_fds(s, [payload or rec(13, mp_uint(99))], [fd])
    s.close()

def memfd(size, seals):
    f = os.memfd_create("hoptrace", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.ftruncate(f, size)
    if seals:
        fcntl.fcntl(f, fcntl.F_ADD_SEALS, seals)
    return f

ok = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW                 # the shim's seals (ring.h)
r, w = os.pipe()
send_fd(r)                                             # 1: a pipe
send_fd(memfd(SIZE, 0))                                # 2: not sealed (could shrink: SIGBUS)
send_fd(memfd(SIZE * 2, ok))                           # 3: wrong size
send_fd(memfd(SIZE, ok | fcntl.F_SEAL_WRITE))          # 4: sealed against writing
send_fd(memfd(SIZE, ok | fcntl.F_SEAL_SEAL))           # 4b: the collector's seals refused (punchable)
# 5: connected by us, sent by a child: the credentials are not the maker's
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(NAME)
f = memfd(SIZE, ok)
pid = os.fork()
if pid == 0:
    socket.send_fds(s, [rec(13, mp_uint(98))], [f])
    os._exit(0)
os.waitpid(pid, 0)
s.close()
print("bad registrations sent", flush=True)

# 6: a valid ring, then scribbled over by its owner
f = memfd(SIZE, 0)
m = mmap.mmap(f, SIZE)
struct.pack_into("<IIIII", m, 0, 0x48545247, 1, 1024, 64, 0)
# slots: all zero = free (a slot's word is its seq minus its index)
fcntl.fcntl(f, fcntl.F_ADD_SEALS, ok)
send_fd(f, rec(2, mp_uint(os.getppid()), b"\xa1x", b"\xa1x"))
os.close(f)
time.sleep(0.3)
def put(pos, data):
    o = 4096 + (pos % 1024) * 64
    struct.pack_into("<HBB", m, o + 4, len(data), 1, 0)
    m[o + 8:o + 8 + len(data)] = data
    struct.pack_into("<I", m, o, (pos + 1 - pos % 1024) & 0xffffffff)
rnd = random.Random(7)
t0 = time.time()
pos = 0
n = 0
while time.time() - t0 < 2.0:
    k = rnd.randrange(6)
    if k == 0:    # honest-looking records about ourselves and a lie about the victim
        put(pos, rec(13, mp_uint(rnd.randrange(50)))); pos += 1
        put(pos, rec(1, mp_uint(victim), mp_uint(0))); pos += 1
        struct.pack_into("<I", m, 16, pos)
    elif k == 1:  # a head that lies
        struct.pack_into("<I", m, 16, rnd.getrandbits(32))
    elif k == 2:  # published slots with lengths / counts out of bounds
        o = 4096 + rnd.randrange(1024) * 64
        struct.pack_into("<IHBB", m, o, rnd.getrandbits(32), rnd.getrandbits(16), rnd.getrandbits(8), 0)
    else:         # raw scribbles anywhere
        o = rnd.randrange(SIZE // 4) * 4
        struct.pack_into("<I", m, o, rnd.getrandbits(32))
    n += 1
print("scribbled", n, flush=True)
EOF

tb_exec h1 chmod 755 "$TB_T" 2>/dev/null
tb_exec h1 setpriv --reuid=65534 --regid=65534 --clear-groups "$TB_PY" "$TB_T/ring_atk.py" "$victim" \
	>"$TB_T/atk.out" 2>&1 &
atk=$!
# the collector keeps answering while the ring is scribbled on
slow=0
for i in 1 2 3 4 5 6 7 8; do
	t0=$(date +%s%N)
	tb_exec h1 "$TB_HOPTRACE" status >/dev/null || tb_fail "collector stopped answering during the scribbling"
	t1=$(date +%s%N)
	[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || slow=$((slow + 1))
	sleep 0.3
done
wait "$atk" || { cat "$TB_T/atk.out"; tb_fail "attacker failed"; }
cat "$TB_T/atk.out"
[ "$slow" = 0 ] || tb_fail "$slow status answers took 1 s or more during the scribbling"
sleep 0.5
after=$(st)
for k in refused registered registered_now malformed_slots stuck_slots; do
	eval "b_$k=\$(echo \"\$before\" | field '[\"rings\"][\"$k\"]')"
	eval "a_$k=\$(echo \"\$after\" | field '[\"rings\"][\"$k\"]')"
done
b_fd=$(echo "$before" | field '["rejected"]["fd_passing"]')
a_fd=$(echo "$after" | field '["rejected"]["fd_passing"]')
echo "rings refused $b_refused->$a_refused registered $b_registered->$a_registered now $b_registered_now->$a_registered_now malformed $b_malformed_slots->$a_malformed_slots stuck $b_stuck_slots->$a_stuck_slots; fd_passing $b_fd->$a_fd"
[ $((a_refused - b_refused)) -ge 5 ] || tb_fail "the five bad descriptors were not all refused"
[ $((a_fd - b_fd)) -ge 6 ] || tb_fail "refused descriptors (and the one sent by another process) not handed to the closer"
[ $((a_registered - b_registered)) -ge 1 ] || tb_fail "the valid ring was not registered"
[ $((a_malformed_slots + a_stuck_slots - b_malformed_slots - b_stuck_slots)) -ge 1 ] ||
	tb_fail "no scribbled slot was counted"
[ "$a_registered_now" -le "$b_registered_now" ] || tb_fail "the attacker's ring outlived it ($b_registered_now -> $a_registered_now)"
after_v=$(bystander "$victim")
[ "$before_v" = "$after_v" ] || { echo "$before_v"; echo "$after_v"; tb_fail "the bystander changed"; }
echo "ok"
