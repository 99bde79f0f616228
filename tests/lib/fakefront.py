# fakefront.py — an attacker's inquiry front on port 8471 (tests copy it next to
# their script): TLS with CRT/KEY, the client's certificate checked against CA,
# each request read (headers, then Content-Length bytes of body) and answered
# 200 with answer(body) (bytes); one connection at a time.
import socket, ssl


def serve(crt, key, ca, answer, tag="front"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", 8471)); ls.listen(16)
    while True:
        c, _ = ls.accept()
        try:
            s = ctx.wrap_socket(c, server_side=True)
            s.settimeout(3)
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += s.recv(65536)
            head, body = buf.split(b"\r\n\r\n", 1)
            n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
            while len(body) < n:
                body += s.recv(65536)
            ans = answer(body)
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                      % (len(ans), ans))
            s.close()
        except Exception as e:
            print("%s:" % tag, e, flush=True)
            c.close()
