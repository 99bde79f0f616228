# forge_records.py VARIANT H1 H3 [H2] — the attacker of tests/func/attack_forge.sh
# and attack_claimed_addr.sh (tests/lib/forgetest.sh): as nobody on h2, it reads
# root's ssh connection from h1 (the world-readable /proc/net/tcp) and the
# session's pty and processes (the files the victim's session wrote), opens its
# own connection to H3:22 and sends hand-made records on the record socket
# claiming (VARIANT):
#   fdrecv, connect, accept, open, image, birth   (attack_forge.sh) root's
#         connection or pty, or a parent or creator of root's session
#   accept_fake, connect_fake, accept_unix        (attack_claimed_addr.sh) a
#         fabricated socket inode, or its own unix socketpair end, with TCP
#         addresses H2:22 <- H1:PORT
# Prints its connection's "LOCAL REMOTE" and stays 60 s.
import os, socket, struct, sys, time
variant, h1, h3 = sys.argv[1], sys.argv[2], sys.argv[3]

from htrec import u, i, s, chan, addr, rec

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
