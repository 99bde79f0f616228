#!/usr/bin/env python3
# nngslow.py SECONDS/3 — against nngsrv (https on 127.0.0.1:18443, http on :18080): a TCP
# connection that never starts TLS, a TLS one with half a request line, a plain one with
# half a request line; reports whether nng 1.5.2 ever closes them (it does not).
import socket, ssl, time, sys
# 1) raw TCP, nothing sent (half-open TLS handshake); 2) TLS done, half a request line
F='/work/proto-tls/fleet/'
s1=socket.create_connection(('127.0.0.1',18443))
ctx=ssl.create_default_context(cafile=F+'ca.crt'); ctx.load_cert_chain(F+'h2.crt',F+'h2.key')
s2=ctx.wrap_socket(socket.create_connection(('127.0.0.1',18443)), server_hostname='127.0.0.1')
s2.send(b'POST /v1/tr')
s3=socket.create_connection(('127.0.0.1',18080)); s3.send(b'POST /v1/tr')  # plain
t0=time.time()
res={}
for s,name in ((s1,'tcp-no-handshake'),(s2,'tls-half-request'),(s3,'plain-half-request')):
    s.settimeout(1)
for i in range(int(sys.argv[1])):
    for s,name in ((s1,'tcp-no-handshake'),(s2,'tls-half-request'),(s3,'plain-half-request')):
        if name in res: continue
        try:
            d=s.recv(100)
            if d==b'': res[name]='closed by server after %.0fs'%(time.time()-t0)
        except (socket.timeout, ssl.SSLError, TimeoutError) as e:
            pass
        except Exception as e:
            res[name]='%s after %.0fs'%(e,time.time()-t0)
for name in ('tcp-no-handshake','tls-half-request','plain-half-request'):
    print(name, res.get(name,'still open after %.0fs'%(time.time()-t0)))
