#!/usr/bin/env python3
"""fdholder.py PID SECONDS — for SECONDS (or until PID ends), again and again:
take a reference to every socket of process PID (pidfd_getfd) and hold it for
3 ms, as the collector does for a moment when it reads a process's fd table.
A close() in PID then leaves the socket's file alive until the reference goes
(and in every epoll set it was in: epoll(7)). Prints how many it held."""
import ctypes
import os
import signal
import sys
import time

SYS_pidfd_getfd = 438  # the same on x86_64 and aarch64

libc = ctypes.CDLL(None, use_errno=True)
pid, end = int(sys.argv[1]), time.time() + float(sys.argv[2])
held_total = 0


def done(*_):
    print("fdholder: held %d" % held_total, file=sys.stderr)
    sys.exit(0)


signal.signal(signal.SIGTERM, done)
pfd = os.pidfd_open(pid)
while time.time() < end:
    held = []
    try:
        names = os.listdir("/proc/%d/fd" % pid)
    except FileNotFoundError:
        break
    for f in names:
        try:
            if not os.readlink("/proc/%d/fd/%s" % (pid, f)).startswith("socket:"):
                continue
        except OSError:
            continue
        n = libc.syscall(SYS_pidfd_getfd, pfd, int(f), 0)
        if n >= 0:
            held.append(n)
    held_total += len(held)
    time.sleep(0.003)
    for n in held:
        os.close(n)
done()
