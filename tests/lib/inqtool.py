#!/usr/bin/env python3
"""inqtool.py — test helper for the trace inquiry service (docs/inquiry.md).

  inqtool.py who LOCAL REMOTE [DEADLINE_MS]   ask this netns's collector over
      the guard's SEQPACKET socket (@hoptrace/query); prints
      '<elapsed_ms> <answer json>'
  inqtool.py post URL BODY|@FILE|-N [OPTS]    POST to a /v1/trace service
      (-N: N bytes of junk); prints '<status> <body>', or '000 <TLS error>'
      when the handshake fails. https: this host's fleet identity
      (/etc/hoptrace/fleet/{host.crt,host.key,ca.crt}); OPTS: --cert F --key F
      --ca F, --nocert (no client certificate)
  inqtool.py get URL [OPTS]                   GET; prints '<status> <body>'
  inqtool.py blackhole PORT                   accept connections, read, never answer
"""
import json, socket, ssl, sys, time, urllib.request, urllib.error

FLEET = "/etc/hoptrace/fleet"


def who(local, remote, deadline=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("\0hoptrace/query")
    req = {"op": "who", "local": local, "remote": remote}
    if deadline:
        req["deadline_ms"] = int(deadline)
    t = time.monotonic()
    s.send(json.dumps(req).encode())
    s.settimeout(30)
    a = s.recv(1 << 17)
    return (time.monotonic() - t) * 1000, a.decode()


def tls_context(opts):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(opts.get("ca", FLEET + "/ca.crt"))
    ctx.check_hostname = True  # the URL's IP must be in the server's SANs
    if not opts.get("nocert"):
        ctx.load_cert_chain(opts.get("cert", FLEET + "/host.crt"), opts.get("key", FLEET + "/host.key"))
    return ctx


def http(method, url, body=None, opts=None):
    opts = opts or {}
    h = {"Content-Type": "application/json"}
    r = urllib.request.Request(url, data=body, method=method, headers=h)
    ctx = tls_context(opts) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(r, timeout=10, context=ctx) as f:
            return f.status, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ssl.SSLError, ConnectionError, OSError) as e:
        return "000", "TLS/connection: %s" % (getattr(e, "reason", None) or e)


def post_head_first(url, n, opts):
    """an oversized POST: the head (Content-Length n) first, the answer read before any
    body byte is sent (the front refuses by the head and closes)"""
    import http.client, urllib.parse
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        c = http.client.HTTPSConnection(u.hostname, u.port, timeout=10, context=tls_context(opts))
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        c.putrequest("POST", u.path)
        c.putheader("Content-Type", "application/json")
        c.putheader("Content-Length", str(n))
        c.endheaders()
        r = c.getresponse()
        return r.status, r.read().decode()
    except (ssl.SSLError, ConnectionError, OSError) as e:
        return "000", "TLS/connection: %s" % e


def parse_opts(a):
    o = {}
    i = 0
    while i < len(a):
        if a[i] == "--nocert":
            o["nocert"] = True
            i += 1
        elif a[i] in ("--cert", "--key", "--ca"):
            o[a[i][2:]] = a[i + 1]
            i += 2
        else:
            sys.exit("inqtool: unknown option " + a[i])
    return o


def main():
    a = sys.argv[1:]
    if a[0] == "who":
        ms, ans = who(a[1], a[2], a[3] if len(a) > 3 else None)
        print("%.1f %s" % (ms, ans))
    elif a[0] == "post":
        b = a[2]
        if b.startswith("@"):
            body = open(b[1:], "rb").read()
        elif b.startswith("-"):
            st, txt = post_head_first(a[1], int(b[1:]), parse_opts(a[3:]))
            print(st, txt)
            return
        else:
            body = b.encode()
        st, txt = http("POST", a[1], body, parse_opts(a[3:]))
        print(st, txt)
    elif a[0] == "get":
        st, txt = http("GET", a[1], None, parse_opts(a[2:]))
        print(st, txt)
    elif a[0] == "blackhole":
        ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        ls.bind(("::", int(a[1])))
        ls.listen(64)
        held = []
        while True:
            c, _ = ls.accept()
            held.append(c)  # never answered, never closed
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
