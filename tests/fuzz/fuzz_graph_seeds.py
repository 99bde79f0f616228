#!/usr/bin/env python3
"""Writes the hand-built seed programs of tests/fuzz/fuzz_graph.c into
tests/fuzz/corpus/fuzz_graph/ (the program format is described at the top of
fuzz_graph.c). Run from anywhere: python3 tests/fuzz/fuzz_graph_seeds.py
Read a seed with: HT_FUZZ_TRACE=1 build-fuzz/fuzz_graph tests/fuzz/corpus/fuzz_graph/NAME
"""
import os
import struct

# record types (include/hoptrace/record.h) -> op kind = type - 1
BIRTH, IMAGE, EXEC, EXIT, PIPE, SOCKETPAIR, CONNECT, ACCEPT, PTY, OPEN, FDRECV, \
    FDSEND, CLOSE, DUP, SPAWN, CLOSERANGE, RESYNC, CONNFAIL = range(1, 19)
K_RAW, K_CLOCK, K_GC, K_CHAIN, K_WHO, K_PREJ, K_DUMP, K_BOUND, K_REPEAT, K_MARKINT, \
    K_QUERY, K_CLOSE, K_OPEN, K_DUP = range(18, 32)

# chan byte: kind selector (0 the record's own kind, 3 PIPE, 4 SOCK, 5 PTY,
# 6 FIFO), ino 0..15
NAT, PIPEK, SOCKK, PTYK, FIFOK = 0, 3, 4, 5, 6
def ch(ino, kind=NAT, alt=0):
    return (kind << 5) | (alt << 4) | (ino & 15)

def pid(i):           # num: sender i's pid
    return i & 7
NUM_1 = 0x81          # num: pid 1 (init)
NO_FD2 = 0x80         # fd2 for PTY: no slave; for CLOSERANGE: to INT32_MAX
FD_NONE = 24          # fd -1
# addresses (fuzz_graph.c addr_of): 1 192.0.2.1:22, 2 192.0.2.2:80,
# 3 198.51.100.7:9000, 4 127.0.0.1:22, 5 127.0.0.1:9000, 6 [2001:db8::1]:22,
# 7 [::1]:9000, 9 unix @hoptrace/x, 10 unix /tmp/sock, 12 203.0.113.5:443
def ad(a, b=0):
    return (a & 15) | ((b & 15) << 4)
# strings: 1 ssh, 2 /bin/sh, 3 sh, 4 tmux, 5 tmux, 6 sshd, 7 "sshd: user [priv]",
# 8 control chars, 9 long, 10 socat, 11 nc, 13 bash, 14 curl, 15 quotes
def st(exe, argv0=0):
    return (exe & 15) | ((argv0 & 15) << 4)
# ts byte: low 3 bits how far back (0 now .. 7 20 s), bits 3-5 ts2
# (0 none, 1 = ts, 2 ts-1, 3 ts-1ms, 4 ts-1s, 5 ts-20s, 6 ts+1, 7 1)
TS2_TS = 1 << 3

class P:
    def __init__(self, h0=0x1b):  # max_procs 100000, retention 60 s, window 10 s
        self.b = bytearray([h0])

    def rec(self, s, t, fd=0, fd2=0, chan=0, chan2=0, num=0, ts=0, addr=0, strs=0):
        self.b += bytes([((t - 1) << 3) | s, fd, fd2, chan, chan2, num, ts, addr, strs])
        return self

    def birth(self, s, creator):
        return self.rec(s, BIRTH, num=pid(creator), ts=TS2_TS)

    def image(self, s, ppid, exe, argv0):
        return self.rec(s, IMAGE, num=pid(ppid) if ppid is not None else NUM_1,
                        strs=st(exe, argv0))

    def op(self, kind, s=0, *args):
        self.b += bytes([(kind << 3) | s] + list(args))
        return self

    def clock(self, step):
        return self.op(K_CLOCK, 0, step)

    def gc(self):
        return self.op(K_GC)

    def chain(self, s):
        return self.op(K_CHAIN, 0, pid(s))

    def who(self, ino, addrs, nodes=0):
        return self.op(K_WHO, 0, ino, addrs, nodes)

    def dumps(self):
        return self.op(K_DUMP, 0, 0).op(K_DUMP, 0, 1).op(K_DUMP, 0, 2)

    def raw(self, s, data):
        return self.op(K_RAW, s, len(data)).add(data)

    def query(self, text):
        return self.op(K_QUERY, 0, len(text)).add(text.encode())

    def add(self, data):
        self.b += data
        return self

# ---- msgpack, for RAW datagrams ------------------------------------------------
def mp(v):
    if isinstance(v, bool):
        return b'\xc3' if v else b'\xc2'
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if -32 <= v < 0:
            return struct.pack('b', v)
        if 0 <= v < 1 << 32:
            return b'\xce' + struct.pack('>I', v)
        if v >= 0:
            return b'\xcf' + struct.pack('>Q', v)
        return b'\xd3' + struct.pack('>q', v)
    if isinstance(v, str):
        e = v.encode()
        return (bytes([0xa0 | len(e)]) if len(e) < 32 else b'\xd9' + bytes([len(e)])) + e
    if isinstance(v, bytes):
        return b'\xc4' + bytes([len(v)]) + v
    if isinstance(v, list):
        return bytes([0x90 | len(v)]) + b''.join(mp(x) for x in v)
    raise TypeError(v)

def record(t, ts, *fields):
    return mp([1, t, ts] + list(fields))

SEEDS = {}

# tmux: a server on pts/3's master, a shell on the slave, ssh from the shell;
# then a second server takes pts/3 (the index was freed: the graph's holders
# of it are stale) and the client exits.
p = P()
p.image(0, None, 4, 5)
p.rec(0, PTY, fd=5, fd2=NO_FD2, chan=ch(3))
p.birth(1, 0).image(1, 0, 2, 3)
p.rec(1, OPEN, fd=0, chan=ch(3, PTYK)).op(K_DUP, 1, 0, 1).op(K_DUP, 1, 0, 2)
p.rec(0, CLOSE, fd=0)
p.clock(3)
p.birth(2, 1).image(2, 1, 1, 1)
p.rec(2, CONNECT, fd=3, chan=ch(7), addr=ad(1))
p.who(7, ad(12, 1)).chain(2).dumps()
p.rec(3, SOCKETPAIR, fd=6, fd2=7, chan=ch(8), chan2=ch(9))
p.rec(3, FDSEND, fd=6, chan=ch(8), chan2=ch(9))
p.rec(0, FDRECV, fd=9, chan=ch(3, PTYK), chan2=ch(8, SOCKK))
p.clock(5)
p.image(4, None, 4, 5).rec(4, PTY, fd=5, fd2=6, chan=ch(3))
p.chain(1).chain(2).who(7, ad(12, 1))
p.rec(2, EXIT).clock(10).gc().chain(1)
SEEDS['tmux_pty'] = p

# pipe relay: sh runs `nc -l 9000 | sh`, the second sh connects out; nc exits
# first (its data still counts), then retention passes.
p = P()
p.image(0, None, 2, 3)
p.rec(0, PIPE, fd=3, fd2=4, chan=ch(1))
p.birth(1, 0).image(1, 0, 11, 11)
p.rec(1, ACCEPT, fd=5, chan=ch(2), chan2=ch(3), addr=ad(5, 2))
p.op(K_DUP, 1, 4, 1).op(K_CLOSE, 1, 3).op(K_CLOSE, 1, 4)
p.birth(2, 0).op(K_DUP, 2, 3, 0).op(K_CLOSE, 2, 3).op(K_CLOSE, 2, 4)
p.op(K_CLOSE, 0, 3).op(K_CLOSE, 0, 4)
p.image(2, 0, 2, 3)
p.rec(2, CONNECT, fd=6, chan=ch(4), addr=ad(1))
p.who(4, ad(12, 1))
p.op(K_PREJ, 0, 4, ad(1))
p.rec(1, EXIT).clock(5)
p.who(4, ad(12, 1)).chain(2)
p.gc().clock(10).gc().chain(2).dumps()
SEEDS['pipe_relay'] = p

# sshd: accept, fork a session that opens a pty, a shell on it, ssh onward;
# the listener hands a socket over SCM_RIGHTS; spawn; CONNFAIL of a retry.
p = P()
p.image(0, None, 6, 6)
p.rec(0, ACCEPT, fd=4, chan=ch(5), chan2=ch(6), addr=ad(2, 3))
p.birth(1, 0).op(K_CLOSE, 0, 4)
p.image(1, 0, 6, 7)
p.rec(1, PTY, fd=7, fd2=8, chan=ch(2))
p.birth(2, 1).op(K_DUP, 2, 8, 0).op(K_DUP, 2, 8, 1).op(K_DUP, 2, 8, 2)
p.rec(2, CLOSERANGE, fd=3, fd2=NO_FD2)
p.image(2, 1, 13, 13)
p.rec(1, SOCKETPAIR, fd=5, fd2=6, chan=ch(10), chan2=ch(11))
p.rec(1, FDSEND, fd=5, chan=ch(5), chan2=ch(10))
p.rec(0, FDRECV, fd=9, chan=ch(5, SOCKK), chan2=ch(11, SOCKK))
p.rec(2, SPAWN, num=pid(3), ts=TS2_TS)
p.birth(3, 2).image(3, 2, 1, 1)
p.rec(3, CONNECT, fd=3, chan=ch(9), addr=ad(1))
p.rec(3, CONNFAIL, fd=3, chan=ch(9))
p.rec(3, CONNECT, fd=4, chan=ch(12), addr=ad(6))
p.who(12, ad(6, 6)).op(K_PREJ, 0, 12, ad(6))
p.op(K_BOUND, 0, 12, ad(15, 6))
p.who(12, ad(15, 6), 0x83).chain(3).chain(0).dumps()
SEEDS['sshd_accept_fork_connect'] = p

# pid reuse and bounds: max_procs 4, retention 1 s; dup over a held fd,
# closerange, exit, the pid born again, time jumps and retention.
p = P(h0=0x00)
p.image(0, None, 2, 3)
p.rec(0, PIPE, fd=3, fd2=4, chan=ch(1))
p.rec(0, OPEN, fd=5, chan=ch(2))
p.op(K_DUP, 0, 5, 3).op(K_DUP, 0, 3, 4)
p.birth(1, 0).birth(2, 0).birth(3, 1).birth(4, 1)
p.rec(0, CLOSERANGE, fd=0, fd2=NO_FD2)
p.rec(1, EXIT).rec(2, EXIT)
p.birth(1, 0).image(1, 0, 14, 14)
p.rec(1, CONNECT, fd=3, chan=ch(3), addr=ad(2))
p.chain(1).clock(10).gc().chain(1)
p.rec(0, EXIT).clock(11).gc().clock(12).gc()
p.birth(0, 5).chain(0).dumps()
p.rec(5, RESYNC).rec(5, EXEC, strs=st(2)).chain(5)
SEEDS['pid_reuse_bounds'] = p

# raw datagrams through the decoder, and requests as text
p = P()
p.raw(0, record(IMAGE, 0, 1, '/usr/bin/socat', 'socat'))
p.raw(0, record(SOCKETPAIR, 0, 3, [2, 0, 20], 4, [2, 0, 21]))
p.raw(1, record(BIRTH, 0, 100, 0))
p.raw(1, record(CONNECT, 0, 5, [2, 0, 22], 1, [2, bytes([192, 0, 2, 1]), 22]))
p.raw(1, record(DUP, 0, 3, 0))
p.raw(2, record(ACCEPT, 0, 6, [2, 0, 23], [2, 0, 24], 1, [1, b'\0hoptrace/x', 0],
                [1, b'', 0]))
p.raw(2, b'\x93\x01\x0d')  # truncated
p.query('{"op":"chain","pid":101,"id":7}')
p.query('{"op":"status"}')
p.query('{"op":"who","local":"192.0.2.9:4000","remote":"192.0.2.1:22"}')
p.query('{"op":"bound","ino":22,"local":"192.0.2.9:4000","remote":"192.0.2.1:22"}')
p.op(K_MARKINT, 0, 4)
p.who(6, ad(1, 2)).chain(1)
SEEDS['raw_and_queries'] = p

# a small flood: one process opens and closes 64 FIFOs, 1 ms apart, while
# another holds a pty; then queries
p = P()
p.image(0, None, 2, 3)
p.rec(1, PTY, fd=3, fd2=4, chan=ch(6))
p.op(K_REPEAT, 0, 64, 0, 1, 1 | 2 | 8)
p.op(K_OPEN, 0, 5, ch(1)).op(K_CLOSE, 0, 5)
p.chain(0).chain(1).dumps()
SEEDS['flood_small'] = p

# ---- reproducers of known findings (tests/fuzz/crashes/fuzz_graph/README.md):
# they crash until their fix lands, so they are not seeds
CRASHES = {}

# PTY: a new pts/3 master closes the stale holder's hold while that process
# has 2 * CLOSED_KEEP closed holds: hold_close trims the hold itself, and the
# PTY loop reads it (heap use-after-free, graph.c, HT_REC_PTY)
p = P()
p.image(0, None, 4, 5)
p.rec(0, PTY, fd=5, fd2=NO_FD2, chan=ch(3))
p.op(K_REPEAT, 0, 0, 2, 1, 0)          # 512 rounds of the next 2 ops
p.op(K_OPEN, 0, 6, ch(1)).op(K_CLOSE, 0, 6)
p.rec(1, PTY, fd=5, fd2=6, chan=ch(3))
CRASHES['uaf-pty-hold_close-trim-hand'] = p

# ht_addr_str on an IPv6 address: IN6_IS_ADDR_V4MAPPED on ht_addr.a (offset 5)
p = P()
p.image(0, None, 1, 1)
p.rec(0, CONNECT, fd=3, chan=ch(1), addr=ad(6))
p.who(1, ad(15, 6))
CRASHES['ubsan-misaligned-ht_addr_str'] = p

# a process that claims 3000 fds, and 100 fork children that are gone before
# /proc is read (BIRTH, EXIT): each inherits every fd, hold_open and fd_find
# scanning the child's growing table — O(fds^2) a birth (about 0.3 s at 20,000
# fds in the -O2 build)
p = P()
p.image(5, None, 2, 3)
p.op(K_REPEAT, 0, 3000 & 255, 3000 >> 8, 0, 1 | 2)
p.op(K_OPEN, 5, 0, ch(0))
p.op(K_REPEAT, 0, 100, 0, 1, 0)
p.birth(0, 5).rec(0, EXIT)
CRASHES['timeout-quadratic-inherit_from'] = p

# a long-running process's history bound: 600 FIFOs opened and closed (past
# 2 * CLOSED_KEEP closed holds the oldest are trimmed), a shell holding a pipe
# from it meanwhile; chains before and after retention
p = P()
p.image(0, None, 2, 3)
p.rec(0, PIPE, fd=3, fd2=4, chan=ch(2))
p.birth(1, 0).op(K_CLOSE, 1, 4).op(K_CLOSE, 0, 3)
p.op(K_REPEAT, 0, 600 & 255, 600 >> 8, 1, 8)
p.op(K_OPEN, 0, 6, ch(1)).op(K_CLOSE, 0, 6)
p.chain(1).chain(0).clock(10).gc().chain(1)
SEEDS['flood_trim'] = p

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for sub, progs in (('corpus', SEEDS), ('crashes', CRASHES)):
        out = os.path.join(here, sub, 'fuzz_graph')
        os.makedirs(out, exist_ok=True)
        for name, prog in progs.items():
            with open(os.path.join(out, name), 'wb') as f:
                f.write(bytes(prog.b))
            print(f'{sub}/fuzz_graph/{name}: {len(prog.b)} bytes')

if __name__ == '__main__':
    main()
