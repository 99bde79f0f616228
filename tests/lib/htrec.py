# htrec.py — hand-made shim records (the msgpack framing the record socket
# reads: include/hoptrace/record.h) for the attack tests' scripts. A test copies
# it next to its script in the bed's temp dir (the script may run as nobody):
#   from htrec import u, i, s, chan, addr, rec
import socket
import struct
import time


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
