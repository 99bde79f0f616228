#!/usr/bin/env python3
"""chainorigins.py — exact origins and paths of a `hoptrace chain|who --json`
answer on ONE host, whether or not the far hosts were followed.

usage: chainorigins.py ANSWER.json --want IP=PATH_REGEX[=H2PROCS] ... [--name HOST=IP ...]
                       [--dst ADDR] [-q]

  --want IP=REGEX[=PROCS]  an origin reached through a connection whose remote
        is IP. Every path of the tree (subject first) that ends at that
        connection, rendered as 'h2:nc.openbsd <pty< h2:tmux ... <tcp< conn:IP'
        (HOST:EXE-basename tokens, VIA edges; the conn's dir is not part of it),
        fully matches REGEX, and there is one. PROCS (optional): some chain of
        that origin lists this host's processes, in order (origin side first),
        as PROCS (chainassert.py tokens, + and ? allowed).
  --name HOST=IP   a followed chain names its origin host HOST (cross-host
        following): it counts as the origin IP.
Exactness: the set of leaves of the tree (conn remote IPs, origin:HOST for a
local origin) and the set of chain origins (names mapped to IPs) must both equal
the wanted IPs. Exit 0 ok, 1 failed (prints paths and chains), 2 bad input.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainassert import match_ordered, parse_list, chain_tokens  # noqa: E402


def ip_of(addr):
    a = str(addr or "?")
    if a.startswith("["):
        return a[1:a.index("]")]
    return a.rsplit(":", 1)[0] if a.count(":") == 1 else a


def paths(node, pre, out, depth=0):
    if not isinstance(node, dict) or depth > 100:
        return
    t = node.get("type")
    if t == "conn":
        k = ip_of(node.get("remote"))
        out.append((pre + ["conn:" + k], k))
        return
    if t == "origin":
        k = "origin:%s" % node.get("host")
        out.append((pre + [k], k))
        return
    me = "%s:%s%s" % (node.get("host"), os.path.basename(str(node.get("exe") or node.get("argv0"))),
                      "[kernel]" if node.get("seen") == "kernel" else "")
    srcs = [s for s in node.get("sources") or [] if isinstance(s, dict)]
    if not srcs:
        out.append((pre + [me, "(no source)"], "none"))
    for s in srcs:
        paths(s.get("node"), pre + [me, "<%s<" % s.get("via")], out, depth + 1)


def main(argv):
    if not argv:
        print(__doc__)
        return 2
    want, names, dst, quiet = {}, {}, None, False
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "-q":
            quiet = True
        elif a == "--want" and i + 1 < len(argv):
            i += 1
            parts = argv[i].split("=", 2)
            if len(parts) < 2:
                print("chainorigins: bad --want %r" % argv[i])
                return 2
            want.setdefault(parts[0], []).append((parts[1], parts[2] if len(parts) > 2 else None))
        elif a == "--name" and i + 1 < len(argv) and "=" in argv[i + 1]:
            i += 1
            h, ip = argv[i].split("=", 1)
            names[h] = ip
        elif a == "--dst" and i + 1 < len(argv):
            i += 1
            dst = argv[i]
        else:
            print("chainorigins: bad argument %r" % a)
            return 2
        i += 1
    try:
        ans = json.load(sys.stdin if argv[0] == "-" else open(argv[0]))
    except (OSError, ValueError) as e:
        print("chainorigins: cannot read %s: %s" % (argv[0], e))
        return 2
    if not isinstance(ans, dict) or not isinstance(ans.get("tree"), dict):
        print("chainorigins: no tree in the answer: %s" % json.dumps(ans)[:300])
        return 1
    host = ans.get("host")
    out = []
    paths(ans["tree"], [], out)
    rendered = [(" ".join(p), k) for p, k in out]
    chains = ans.get("chains") or []
    fails = []
    leaves = set(k for _, k in rendered)
    if leaves != set(want):
        fails.append("leaves %s, want %s" % (sorted(leaves), sorted(want)))
    origins = set(names.get(c.get("origin_host"), c.get("origin_host")) for c in chains)
    if origins != set(want):
        fails.append("chain origins %s, want %s" % (sorted(map(str, origins)), sorted(want)))
    for ip, specs in want.items():
        mine = [r for r, k in rendered if k == ip]
        if not mine:
            fails.append("no path to conn:%s" % ip)
        for r in mine:
            if not any(re.fullmatch(rx, r) for rx, _ in specs):
                fails.append("path to %s matches none of %s:\n      %s" % (ip, " | ".join(x for x, _ in specs), r))
        sel = [c for c in chains if names.get(c.get("origin_host"), c.get("origin_host")) == ip]
        for _, procs in specs:
            if procs is None:
                continue
            exp = parse_list(procs)
            if not any(match_ordered(exp, [t for t in chain_tokens(c) if t.split(":")[0] == host])
                       for c in sel):
                fails.append("no chain of origin %s has %s processes %s (ordered)" % (ip, host, procs))
        if dst is not None and not all(str(c.get("dst")) == dst for c in sel):
            fails.append("dst of origin %s: %s, want %s" % (ip, [c.get("dst") for c in sel], dst))
    if fails:
        print("chainorigins: FAILED (%s)" % argv[0])
        for f in fails:
            print("  not: %s" % f)
        print("paths:")
        for r, _ in rendered:
            print("  " + r)
        print("chains:")
        for c in chains:
            print("  origin %s src %s dst %s%s: %s" % (c.get("origin_host"), c.get("src"), c.get("dst"),
                                                     "" if c.get("complete", True) else " INCOMPLETE",
                                                     ",".join(chain_tokens(c))))
        return 1
    if not quiet:
        for r, _ in rendered:
            print("chainorigins: ok: " + r)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
