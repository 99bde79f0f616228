#!/usr/bin/env python3
"""slowtest.py PORT [N] — against mtlssrv on 127.0.0.1: N half-open TCP connections (no
handshake), one TLS connection with half a request line, one with a full head and half
its body; reports when the server closed each, and whether a 9th..Nth connection from
the same peer is refused at once (per-peer cap 8). Loopback only, bounded in time."""
import socket, ssl, sys, time
import os
F = os.environ.get('FLEET', os.path.dirname(os.path.abspath(__file__)) + '/fleet') + '/'
port = int(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 6
ctx = ssl.create_default_context(cafile=F + 'ca.crt'); ctx.load_cert_chain(F + 'h1.crt', F + 'h1.key')
t0 = time.time()
socks = []
for i in range(n):
    socks.append(('tcp-no-handshake-%d' % i, socket.create_connection(('127.0.0.1', port))))
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)), server_hostname='127.0.0.1')
s.send(b'POST /v1/tr'); socks.append(('tls-half-head', s))
s = ctx.wrap_socket(socket.create_connection(('127.0.0.1', port)), server_hostname='127.0.0.1')
s.send(b'POST /v1/trace HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{"a":'); socks.append(('tls-half-body', s))
res = {}
for name, s in socks: s.settimeout(0.2)
while time.time() - t0 < 8 and len(res) < len(socks):
    for name, s in socks:
        if name in res: continue
        try:
            d = s.recv(200)
            if d == b'' or d: res[name] = 'closed after %.1fs%s' % (time.time() - t0, (' (' + d[:40].decode(errors='replace') + ')') if d else '')
        except (socket.timeout, TimeoutError, ssl.SSLWantReadError): pass
        except Exception as e: res[name] = '%s after %.1fs' % (type(e).__name__, time.time() - t0)
for name, _ in socks: print(name, res.get(name, 'STILL OPEN after %.0fs' % (time.time() - t0)))
