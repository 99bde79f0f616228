#!/usr/bin/env python3
"""chainpath.py — exact paths of a `hoptrace chain|who --json` tree (format:
docs/query-protocol.md), complementing chainassert.py (which checks process
multisets): here every path from the subject to a leaf is rendered as

    h2:nc.openbsd <pipe< h2:nc.openbsd <tcp< in:10.231.0.1

(HOST:EXE-basename tokens, `<VIA<` edges, the leaf a conn node as DIR:REMOTE-IP,
or `origin:HOST` for a local origin), and checked exactly. A conn leaf's key is
its remote IP (upstream answers of other hosts are not descended into).

usage: chainpath.py ANSWER.json [--leaves K1,K2,...] [--path K=REGEX]... [-q]
  --leaves K,...   the set of leaf keys (remote IP or origin:HOST) equals this exactly
  --path K=REGEX   every path ending at leaf K fully matches REGEX (Python re),
                   and there is at least one (repeatable; several for one K: each
                   path must match one of them, each must match some path)
Exit 0 when all hold, 1 (with the rendered paths) when not, 2 on bad input.
"""
import json
import os
import re
import sys


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
        out.append((pre + ["%s:%s" % (node.get("dir"), ip_of(node.get("remote")))],
                    ip_of(node.get("remote"))))
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
    try:
        ans = json.load(sys.stdin if argv[0] == "-" else open(argv[0]))
    except (OSError, ValueError) as e:
        print("chainpath: cannot read %s: %s" % (argv[0], e))
        return 2
    leaves, want, quiet = None, {}, False
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "-q":
            quiet = True
        elif a == "--leaves" and i + 1 < len(argv):
            i += 1
            leaves = set(x for x in argv[i].split(",") if x)
        elif a == "--path" and i + 1 < len(argv) and "=" in argv[i + 1]:
            i += 1
            k, r = argv[i].split("=", 1)
            want.setdefault(k, []).append(r)
        else:
            print("chainpath: bad argument %r" % a)
            return 2
        i += 1
    if not isinstance(ans, dict) or not isinstance(ans.get("tree"), dict):
        print("chainpath: no tree in the answer: %s" % json.dumps(ans)[:300])
        return 1
    out = []
    paths(ans["tree"], [], out)
    rendered = [(" ".join(p), k) for p, k in out]
    fails = []
    got = set(k for _, k in rendered)
    if leaves is not None and got != leaves:
        fails.append("leaves %s, want %s" % (sorted(got), sorted(leaves)))
    for k, regs in want.items():
        mine = [r for r, kk in rendered if kk == k]
        if not mine:
            fails.append("no path to %s" % k)
            continue
        for r in mine:
            if not any(re.fullmatch(x, r) for x in regs):
                fails.append("path to %s does not match %s:\n      %s" % (k, " | ".join(regs), r))
        for x in regs:
            if not any(re.fullmatch(x, r) for r in mine):
                fails.append("no path to %s matches %s" % (k, x))
    if fails:
        print("chainpath: FAILED (%s)" % argv[0])
        for f in fails:
            print("  not: %s" % f)
        print("paths:")
        for r, _ in rendered:
            print("  " + r)
        return 1
    if not quiet:
        for r, _ in rendered:
            print("chainpath: ok: " + r)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
