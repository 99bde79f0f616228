#!/bin/sh
# attack_claimed_addr.sh — issue 10 (3), found by the review of its fixes: the forged claims of
# attack_forge.sh, but naming a FABRICATED socket inode (one the kernel has
# never had) instead of root's: the claim's fd is not shown, so it is kept as
# an unconfirmed hold; the channel is new, so chan_fresh() lets the claim set
# its addresses; claim_ok() then finds no other uid on it and no TCP socket of
# that inode in the kernel's table, so it is believed. The claimed remote is
# root's real ssh connection from h1 (read from /proc/net/tcp), so h2's
# follower asks h1 about it and h1 answers with root's chain there.
#   accept_fake   ACCEPT fd 50 = socket:[fake], local h2:22, peer h1:PORT
#   connect_fake  CONNECT fd 50 = socket:[fake], to h1:PORT
#   accept_unix   ACCEPT naming its OWN live unix socketpair end (confirmed: the
#                 fd shows that inode) with TCP addresses h2:22 <- h1:PORT
# Pass = the attacker's connection does not come from h1: an address no kernel
# view confirmed is never followed upstream ("reason": "not attested"), its
# chain is incomplete and its source is marked "src_attested": false (no rule's
# source matches it: policy/acl.c), and the
# false ACCEPT is counted.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/chaintest.sh"
tb_init "$@"
tb_need python3
ct_setup
chmod 755 "$TB_T"

# root's session from h1: sshd on h2 holds the connection and the pty master
tb_bg h1 sh -c "sleep 600 | ssh -tt root@$CT_H2 'sh -c \"echo \\\$\\\$ >/tmp/ended.pid\"; tty >/tmp/victim.tty; echo \$\$ >/tmp/victim.pid; exec sleep 600'"
victim_ready() { tb_exec h2 sh -c 'test -s /tmp/ended.pid && test -s /tmp/victim.pid && test -s /tmp/victim.tty'; }
i=0; until victim_ready; do i=$((i + 1)); [ $i -lt 100 ] || tb_fail "root's session on h2 did not start"; sleep 0.1; done
sleep 0.5

cat >"$TB_T/forge.py" <<'EOF'
import os, socket, struct, sys, time
variant, h1, h3 = sys.argv[1], sys.argv[2], sys.argv[3]

def u(v):
    if v < 128: return bytes([v])
    if v < 256: return b"\xcc" + bytes([v])
    if v < 65536: return b"\xcd" + struct.pack(">H", v)
    if v < 2**32: return b"\xce" + struct.pack(">I", v)
    return b"\xcf" + struct.pack(">Q", v)
def i(v): return u(v) if v >= 0 else struct.pack("b", v)
def s(t):
    t = t.encode(); return bytes([0xa0 | len(t)]) + t
def chan(kind, dev, ino): return b"\x93" + u(kind) + u(dev) + u(ino)
def addr(ip, port): return b"\x93" + u(2) + b"\xc4\x04" + socket.inet_aton(ip) + u(port)
def rec(typ, *f): return bytes([0x90 | (3 + len(f))]) + u(1) + u(typ) + u(time.monotonic_ns()) + b"".join(f)

# root's connection from h1 (local port 22), from the world-readable table
ino = 0
for line in open("/proc/net/tcp").read().splitlines()[1:]:
    f = line.split()
    lip, lport = f[1].split(":"); rip, rport = f[2].split(":")
    rip = socket.inet_ntoa(struct.pack("<I", int(rip, 16)))
    if int(lport, 16) == 22 and rip == h1 and f[3] == "01" and int(f[9]):
        ino, peer = int(f[9]), int(rport, 16)
if not ino:
    sys.exit("no connection from %s in /proc/net/tcp" % h1)
# the session's pty and processes (as `ps` or `w` would show them)
pty = int(open("/tmp/victim.tty").read().strip().rsplit("/", 1)[1])
sleeper = int(open("/tmp/victim.pid").read())
ended = int(open("/tmp/ended.pid").read())

r = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
r.connect(b"\0hoptrace/rec")
S, P, O, FDRECV, CONNECT, ACCEPT, BIRTH, IMAGE = 2, 3, 10, 11, 7, 8, 1, 2
if variant == "image":
    r.send(rec(IMAGE, u(sleeper), s(sys.executable), s("python3")))
elif variant == "birth":
    r.send(rec(BIRTH, u(ended), u(time.monotonic_ns() - 10**9)))
time.sleep(0.2)
c = socket.create_connection((h3, 22))
if variant == "fdrecv":
    r.send(rec(FDRECV, i(50), chan(S, 0, ino), chan(S, 0, 424242)))
elif variant == "connect":
    r.send(rec(CONNECT, i(50), chan(S, 0, ino), u(1), addr(h1, peer)))
elif variant == "accept_fake":
    r.send(rec(ACCEPT, i(50), chan(S, 0, 987654321), chan(S, 0, 1), u(1), addr(sys.argv[4], 22), addr(h1, peer)))
elif variant == "accept_unix":
    ua, ub = socket.socketpair()
    r.send(rec(ACCEPT, i(ua.fileno()), chan(S, 0, os.fstat(ua.fileno()).st_ino), chan(S, 0, 1), u(1), addr(sys.argv[4], 22), addr(h1, peer)))
elif variant == "connect_fake":
    r.send(rec(CONNECT, i(50), chan(S, 0, 987654322), u(1), addr(h1, peer)))
elif variant == "accept":
    r.send(rec(ACCEPT, i(50), chan(S, 0, ino), chan(S, 0, 1), u(1), addr("0.0.0.0", 22), addr(h1, peer)))
elif variant == "open":
    r.send(rec(O, i(50), chan(P, 0, pty)))
time.sleep(0.3)
l, rr = c.getsockname(), c.getpeername()
print("%s:%d %s:%d" % (l[0], l[1], rr[0], rr[1]), flush=True)
time.sleep(60)
EOF
chmod 644 "$TB_T/forge.py"

field() { "$TB_PY" -c 'import json,sys; a=json.load(sys.stdin); print('"$1"')'; }
refused() { tb_exec h2 "$TB_HOPTRACE" status --json | field 'a.get("rejected",{}).get("contradicted",0) + sum(v for k,v in a.get("claims",{}).items() if k.startswith(("unconfirmed","refused")) and isinstance(v,int))'; }

fails=0
for v in accept_fake connect_fake accept_unix; do
	before=$(refused)
	# image: a process the graph has not heard of yet (its IMAGE is the
	# forged one): started with the shim switched off — which a root
	# process may do; for nobody's own python the shim then ignores it
	[ "$v" = image ] && export HOPTRACE_DISABLE=1
	tb_bg h2 setpriv --reuid nobody --regid nogroup --clear-groups "$TB_PY" "$TB_T/forge.py" "$v" "$CT_H1" "$CT_H3" "$CT_H2"
	apid=$TB_LAST alog=$TB_LASTLOG
	unset HOPTRACE_DISABLE
	i=0; until [ -s "$alog" ] || [ $i -ge 60 ]; do i=$((i + 1)); sleep 0.1; done
	ends=$(head -n 1 "$alog")
	case $ends in *:*" "*:*) ;; *) cat "$alog"; tb_fail "$v: the attacker did not connect" ;; esac
	# shellcheck disable=SC2086
	tb_exec h2 "$TB_HOPTRACE" who $ends --json >"$TB_T/$v.json" 2>&1
	origins=$("$TB_PY" -c 'import json,sys
a = json.load(open(sys.argv[1]))
h1 = sys.argv[2]
out = []
for c in a.get("chains") or []:
    o, src = c.get("origin_host") or "?", c.get("src") or ""
    # believed: followed to h1 (its answer), or a source a rule would match as h1
    # a src only a record named is shown, marked src_attested false: no rule source matches it
    att = c.get("src_attested", True)
    bad = o == "h1" or (att and src.startswith(h1 + ":")) or (c.get("complete") and o in ("h1", h1))
    out.append(("FROM-H1:" if bad else "") + o + "/src=" + (src or "none") + ("/complete" if c.get("complete") else "/incomplete"))
print(" ".join(sorted(set(out))) or "none:" + a.get("error", "?"))' "$TB_T/$v.json" "$CT_H1")
	after=$(refused)
	echo "$v: origins of the attacker's connection: $origins; refused claims $before -> $after"
	case " $origins " in
	*FROM-H1:*) echo "FAIL-CASE: $v: the forged claim made the connection come from h1"; fails=$((fails + 1)) ;;
	*none:*) echo "FAIL-CASE: $v: no chain"; cat "$TB_T/$v.json"; fails=$((fails + 1)) ;;
	esac
	[ "$after" -gt "$before" ] || { echo "FAIL-CASE: $v: the forged claim was not counted"; fails=$((fails + 1)); }
	kill "$apid" 2>/dev/null; wait "$apid" 2>/dev/null
done
[ $fails = 0 ] || tb_fail "$fails forged claim(s) believed"
echo "ok"
