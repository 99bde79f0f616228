#!/usr/bin/env python3
"""fakemon.py — test helper: the inquiry child's monitor, played by a test (root).

  fakemon.py late-sock HOPTRACED CONF ROUNDS

Starts HOPTRACED -X 3 -d -f CONF (the real child: chroot, drop, front, follower) with
the socketpair at 3 and a listening socket at 4 (privsep.h PS_LISTEN_FD), as the monitor
does. Each round POSTs one inquiry to the child's front; the WHO_REQ is answered with an
answer whose leaf the child follows; the child's SOCK_REQ for it is answered only after
the child's own wait has ended (the HTTP reply came: the leaf ended 'no answer') — a late
SOCK_ANS, as a busy or stopped monitor sends it — with a fresh socket. Then it looks in
/proc/CHILD/fd for that socket's inode. Prints one line per round and exits 1 if the
child still holds any of them (review finding 4b: a late SOCK_ANS kept, never closed).
The message layouts are collector/privsep.h's (checked by size).
"""
import array, json, os, socket, struct, sys, threading, time, urllib.request

MAGIC = 0x48545053
WHO_REQ, WHO_ANS, FOLLOW_REQ, FOLLOW_DONE, SOCK_REQ, SOCK_ANS, CHUNK = range(1, 8)
HDR = struct.Struct("<IIQ")
SOCK_REQ_SIZE = 40  # sizeof(struct ps_sock_req): ps_hdr + ps_addr, padded to 8


def start_child(hoptraced, conf):
    mon, ch = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(ch.fileno(), 3)
            os.dup2(ls.fileno(), 4)
            os.closerange(5, 1 << 16)
            os.execv(hoptraced, ["hoptraced", "-X", "3", "-d", "-f", conf])
        finally:
            os._exit(127)
    ch.close()
    return pid, mon, ls


def send_text(mon, head, text):
    mon.send(head)
    b = text.encode()
    for off in range(0, len(b), 32768):
        k = b[off:off + 32768]
        mon.send(HDR.pack(MAGIC, CHUNK, struct.unpack_from("<Q", head, 8)[0]) + struct.pack("<II", off, len(k)) + k)


def answer_for(far):
    leaf = {"type": "conn", "local": "127.0.0.1:40000", "remote": far, "upstream": None,
            "complete": False, "reason": "not followed"}
    return json.dumps({"ok": True, "host": "fake", "tree": {"type": "proc", "pid": 1, "sources": [{"node": leaf}]},
                       "chains": []}, separators=(",", ":"))


def held_inodes(pid):
    out = set()
    for f in os.listdir("/proc/%d/fd" % pid):
        try:
            t = os.readlink("/proc/%d/fd/%s" % (pid, f))
        except OSError:
            continue
        if t.startswith("socket:["):
            out.add(int(t[8:-1]))
    return out


def late_sock(hoptraced, conf, rounds):
    pid, mon, ls = start_child(hoptraced, conf)
    port = ls.getsockname()[1]
    leaked = []
    for r in range(rounds):
        reply = {}

        def ask():
            body = json.dumps({"local": "127.0.0.1:1000", "remote": "127.0.0.1:2000", "deadline_ms": 6000}).encode()
            rq = urllib.request.Request("http://127.0.0.1:%d/v1/trace" % port, data=body, method="POST",
                                        headers={"Content-Type": "application/json", "Connection": "close"})
            t = time.monotonic()
            try:
                with urllib.request.urlopen(rq, timeout=20) as f:
                    reply["status"], reply["body"] = f.status, f.read().decode()
            except Exception as e:  # noqa
                reply["status"], reply["body"] = 0, str(e)
            reply["ms"] = (time.monotonic() - t) * 1000

        th = threading.Thread(target=ask)
        th.start()
        sock_req = None
        mon.settimeout(15)
        while sock_req is None:
            m = mon.recv(1 << 16)
            magic, typ, mid = HDR.unpack_from(m)
            if magic != MAGIC:
                sys.exit("bad magic from the child")
            if typ == WHO_REQ:
                text = answer_for("127.0.0.9:9")
                send_text(mon, HDR.pack(MAGIC, WHO_ANS, mid) + struct.pack("<iI", 200, len(text)), text)
            elif typ == SOCK_REQ:
                if len(m) != SOCK_REQ_SIZE:
                    sys.exit("SOCK_REQ of %d bytes: privsep.h changed, update fakemon.py" % len(m))
                sock_req = mid
            else:
                sys.exit("unexpected message type %d" % typ)
        th.join(30)  # the child gave up waiting: its leaf ended, the front replied
        if reply.get("status") != 200 or "no answer" not in reply.get("body", ""):
            sys.exit("round %d: the inquiry's reply: %s" % (r, reply))
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ino = os.fstat(s.fileno()).st_ino
        mon.sendmsg([HDR.pack(MAGIC, SOCK_ANS, sock_req) + struct.pack("<iI", 0, 0)],
                    [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [s.fileno()]))])
        s.close()
        time.sleep(0.3)
        held = ino in held_inodes(pid)
        if held:
            leaked.append(ino)
        print("round %d: reply after %.0f ms ('no answer'); late SOCK_ANS %d (socket %d): %s" %
              (r, reply["ms"], sock_req, ino, "HELD by the child" if held else "closed by the child"))
        sys.stdout.flush()
    # and at the end: every late socket, wherever it went
    still = [i for i in leaked if i in held_inodes(pid)]
    print("child %d: %d fds; late sockets still held: %d of %d" %
          (pid, len(os.listdir("/proc/%d/fd" % pid)), len(still), rounds))
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return 1 if still else 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "late-sock":
        sys.exit(late_sock(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    sys.exit(__doc__)
