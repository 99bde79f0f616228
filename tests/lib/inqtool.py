#!/usr/bin/env python3
"""inqtool.py — test helper for the trace inquiry service (docs/inquiry.md).

  inqtool.py who LOCAL REMOTE [DEADLINE_MS]   ask this netns's collector over
      the guard's SEQPACKET socket (@hoptrace/query); prints
      '<elapsed_ms> <answer json>'
  inqtool.py post URL SECRET BODY|@FILE|-N    POST to a /v1/trace service
      (-N: N bytes of junk); prints '<status> <body>'
  inqtool.py get URL                          GET; prints '<status> <body>'
  inqtool.py blackhole PORT                   accept connections, read, never answer
"""
import json, socket, sys, time, urllib.request, urllib.error


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


def http(method, url, secret=None, body=None):
    h = {"Content-Type": "application/json"}
    if secret is not None:
        h["Authorization"] = "Bearer " + secret
    r = urllib.request.Request(url, data=body, method=method, headers=h)
    try:
        with urllib.request.urlopen(r, timeout=10) as f:
            return f.status, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def main():
    a = sys.argv[1:]
    if a[0] == "who":
        ms, ans = who(a[1], a[2], a[3] if len(a) > 3 else None)
        print("%.1f %s" % (ms, ans))
    elif a[0] == "post":
        b = a[3]
        if b.startswith("@"):
            body = open(b[1:], "rb").read()
        elif b.startswith("-"):
            body = b"x" * int(b[1:])
        else:
            body = b.encode()
        st, txt = http("POST", a[1], a[2], body)
        print(st, txt)
    elif a[0] == "get":
        st, txt = http("GET", a[1])
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
