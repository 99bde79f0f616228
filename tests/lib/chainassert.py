#!/usr/bin/env python3
"""chainassert.py — assert the chains of a `hoptrace chain PID --json` or
`hoptrace who L R --json` answer (format: docs/query-protocol.md).

usage: chainassert.py ANSWER.json|- [checks...]

A chain is written compactly as a list of HOST:EXE tokens (EXE = executable
basename), e.g. 'h1:ssh,h2:sshd,h2:bash,h2:ssh'. A token ending in '+' means
"one or more" ('h2:sshd+': root logins have one sshd, non-root ones two); a
token ending in '?' means "zero or one".

checks (all must hold; each one is reported):
  --origin H         there is a chain whose origin_host is H (with --procs: that
                     chain must also match the process list)
  --procs LIST       a chain (with --origin: of that origin) whose processes equal
                     LIST exactly, as a multiset (default) or in order (--ordered)
  --ordered          compare --procs in order (origin first, subject last)
  --contains LIST    a chain (of --origin if given) that contains at least LIST
  --no-origin H      no chain has origin_host H (repeatable)
  --count N          exactly N chains
  --via KINDS        the tree has an edge with each of these via kinds
                     (comma list: pty,pipe,fifo,unix,tcp,fdpass,creator)
  --kernel           some process was seen by the kernel fallback (a proc node
                     with seen=kernel, or a chain with fallback=true)
  --no-kernel        no process was seen by the kernel fallback
  --complete         every chain is complete
  --incomplete       some chain is incomplete
  --src ADDR / --dst ADDR   the selected chain's src/dst equal ADDR (HOST:PORT,
                     PORT may be '*')
  -q                 print nothing on success
Exit status: 0 all checks hold, 1 some check failed (a readable diff is
printed), 2 usage error or unreadable answer.
"""
import argparse
import json
import os
import sys
from collections import Counter


def base(exe):
    if not exe:
        return "?"
    return os.path.basename(str(exe).rstrip("/")) or str(exe)


def tok(p):
    return "%s:%s" % (p.get("host", "?"), base(p.get("exe") or p.get("argv0")))


def parse_list(s):
    out = []
    for t in s.split(","):
        t = t.strip()
        if not t:
            continue
        if ":" not in t.rstrip("+?"):
            raise SystemExit("chainassert: token %r is not HOST:EXE" % t)
        out.append(t)
    return out


def chain_tokens(ch):
    return [tok(p) for p in ch.get("procs") or []]


def match_multiset(expected, got):
    """expected tokens with +/? quantifiers against a multiset of got tokens."""
    cnt = Counter(got)
    for t in expected:
        if t.endswith("+"):
            k = t[:-1]
            if cnt[k] < 1:
                return False
            cnt[k] = 0
        elif t.endswith("?"):
            k = t[:-1]
            if cnt[k] > 1:
                return False
            cnt[k] = 0
        else:
            if cnt[t] < 1:
                return False
            cnt[t] -= 1
    return all(v == 0 for v in cnt.values())


def match_ordered(expected, got):
    def rec(i, j):
        if i == len(expected):
            return j == len(got)
        t = expected[i]
        if t.endswith("+") or t.endswith("?"):
            k, q = t[:-1], t[-1]
            n = 0
            while j + n < len(got) and got[j + n] == k:
                n += 1
            lo = 1 if q == "+" else 0
            hi = n if q == "+" else min(n, 1)
            for m in range(hi, lo - 1, -1):
                if rec(i + 1, j + m):
                    return True
            return False
        return j < len(got) and got[j] == t and rec(i + 1, j + 1)
    return rec(0, 0)


def contains(expected, got):
    cnt = Counter(got)
    for t in expected:
        k = t.rstrip("+?")
        if t.endswith("?"):
            continue
        if cnt[k] < 1:
            return False
        if not t.endswith("+"):
            cnt[k] -= 1
    return True


def walk(node, fn, depth=0):
    """visit every node of a tree, following conn.upstream answers."""
    if not isinstance(node, dict) or depth > 200:
        return
    fn(node)
    for s in node.get("sources") or []:
        if isinstance(s, dict):
            fn({"_edge": s.get("via")})
            walk(s.get("node"), fn, depth + 1)
    up = node.get("upstream")
    if isinstance(up, dict):
        walk(up.get("tree"), fn, depth + 1)


def render(node, ind="", out=None, depth=0):
    """a compact text tree for failure messages."""
    if out is None:
        out = []
    if not isinstance(node, dict) or depth > 60:
        return out
    t = node.get("type")
    if t == "proc":
        out.append("%s%s:%s pid %s%s" % (ind, node.get("host", "?"), base(node.get("exe")),
                                          node.get("pid"),
                                          " [kernel]" if node.get("seen") == "kernel" else ""))
    elif t == "conn":
        out.append("%sconn %s %s %s -> %s%s" % (ind, node.get("host", "?"), node.get("dir"),
                                                node.get("local"), node.get("remote"),
                                                "" if node.get("complete", True) else
                                                " (incomplete: %s)" % node.get("reason")))
        up = node.get("upstream")
        if isinstance(up, dict):
            render(up.get("tree"), ind + "    ", out, depth + 1)
    elif t == "origin":
        out.append("%sorigin %s" % (ind, node.get("host", "?")))
    else:
        out.append("%s%s" % (ind, json.dumps(node)[:120]))
    for s in node.get("sources") or []:
        if isinstance(s, dict):
            out.append("%s  <-%s%s" % (ind, s.get("via"), " " + str(s["id"]) if s.get("id") else ""))
            render(s.get("node"), ind + "    ", out, depth + 1)
    return out


def addr_eq(want, got):
    if got is None:
        return want in ("null", "none", "")
    if want.endswith(":*"):
        return str(got).rsplit(":", 1)[0] == want[:-2]
    return str(got) == want


def main(argv):
    ap = argparse.ArgumentParser(add_help=True, usage=__doc__)
    ap.add_argument("answer")
    ap.add_argument("--origin")
    ap.add_argument("--procs")
    ap.add_argument("--ordered", action="store_true")
    ap.add_argument("--contains")
    ap.add_argument("--no-origin", action="append", default=[])
    ap.add_argument("--count", type=int)
    ap.add_argument("--via")
    ap.add_argument("--kernel", action="store_true")
    ap.add_argument("--no-kernel", action="store_true")
    ap.add_argument("--complete", action="store_true")
    ap.add_argument("--incomplete", action="store_true")
    ap.add_argument("--src")
    ap.add_argument("--dst")
    ap.add_argument("-q", action="store_true")
    a = ap.parse_args(argv)

    try:
        raw = sys.stdin.read() if a.answer == "-" else open(a.answer).read()
        ans = json.loads(raw)
    except (OSError, ValueError) as e:
        print("chainassert: cannot read answer %s: %s" % (a.answer, e))
        return 2
    if not isinstance(ans, dict):
        print("chainassert: answer is not a JSON object")
        return 2
    if ans.get("ok") is False:
        print("chainassert: the collector answered an error: %s" % ans.get("error"))
        return 1
    chains = ans.get("chains")
    if not isinstance(chains, list):
        print("chainassert: answer has no 'chains' list")
        return 1
    tree = ans.get("tree")

    fails, oks = [], []

    def check(ok, what, detail=""):
        (oks if ok else fails).append((what, detail))

    def show_chains(sel=None):
        lines = []
        for i, c in enumerate(chains):
            if sel is not None and c not in sel:
                continue
            lines.append("  chain %d: origin %s src %s dst %s%s%s\n    procs: %s" % (
                i, c.get("origin_host"), c.get("src"), c.get("dst"),
                "" if c.get("complete", True) else " INCOMPLETE",
                " FALLBACK" if c.get("fallback") else "",
                ",".join(chain_tokens(c)) or "(none)"))
        return "\n".join(lines) or "  (no chains)"

    sel = chains
    if a.origin is not None:
        sel = [c for c in chains if c.get("origin_host") == a.origin]
        check(bool(sel), "a chain with origin %s" % a.origin,
              "origins present: %s" % sorted({str(c.get("origin_host")) for c in chains}))

    def diff(exp, got):
        e = Counter(t.rstrip("+?") for t in exp)
        g = Counter(got)
        miss = sorted((e - g).elements())
        extra = sorted(t for t in (g - e).elements()
                       if not any(x.rstrip("+?") == t and x[-1] in "+?" for x in exp))
        return "missing %s, unexpected %s" % (miss or "-", extra or "-")

    if a.procs is not None:
        exp = parse_list(a.procs)
        m = match_ordered if a.ordered else match_multiset
        hit = [c for c in sel if m(exp, chain_tokens(c))]
        det = "expected%s: %s\n%s" % (" (ordered)" if a.ordered else "", ",".join(exp),
                                      "\n".join("  vs chain origin %s: %s" % (
                                          c.get("origin_host"), diff(exp, chain_tokens(c)))
                                          for c in sel))
        check(bool(hit), "procs %s%s" % (",".join(exp),
                                         " (origin %s)" % a.origin if a.origin else ""), det)
        if hit:
            sel = hit
    if a.contains is not None:
        exp = parse_list(a.contains)
        hit = [c for c in sel if contains(exp, chain_tokens(c))]
        check(bool(hit), "a chain containing %s" % ",".join(exp),
              "\n".join("  vs chain origin %s: %s" % (c.get("origin_host"),
                                                     diff(exp, chain_tokens(c)))
                        for c in sel))
        if hit:
            sel = hit
    for h in a.no_origin:
        bad = [c for c in chains if c.get("origin_host") == h]
        check(not bad, "no chain with origin %s" % h, "found %d" % len(bad))
    if a.count is not None:
        check(len(chains) == a.count, "%d chain(s)" % a.count, "got %d" % len(chains))
    if a.src is not None:
        check(any(addr_eq(a.src, c.get("src")) for c in sel), "src %s" % a.src,
              "got %s" % [c.get("src") for c in sel])
    if a.dst is not None:
        check(any(addr_eq(a.dst, c.get("dst")) for c in sel), "dst %s" % a.dst,
              "got %s" % [c.get("dst") for c in sel])

    vias, kern = set(), [False]

    def visit(n):
        if "_edge" in n:
            vias.add(n["_edge"])
        elif n.get("type") == "proc" and n.get("seen") in ("kernel", "kernel-events"):
            kern[0] = True
    walk(tree, visit)
    if any(c.get("fallback") for c in chains):
        kern[0] = True
    if a.via:
        for v in [x.strip() for x in a.via.split(",") if x.strip()]:
            check(v in vias, "an edge via %s" % v, "vias in tree: %s" % (sorted(map(str, vias)) or "none"))
    if a.kernel:
        check(kern[0], "a process seen by the kernel fallback", "none seen: kernel")
    if a.no_kernel:
        check(not kern[0], "no process seen by the kernel fallback", "some seen: kernel")
    if a.complete:
        check(all(c.get("complete", True) for c in chains), "every chain complete",
              "incomplete: %d" % sum(1 for c in chains if not c.get("complete", True)))
    if a.incomplete:
        check(any(not c.get("complete", True) for c in chains), "some chain incomplete", "all complete")

    if fails:
        print("chainassert: FAILED (%s)" % a.answer)
        for w, d in fails:
            print("  not: %s" % w)
            for line in str(d).splitlines():
                print("      %s" % line)
        for w, _ in oks:
            print("  ok:  %s" % w)
        print("chains in the answer:")
        print(show_chains())
        print("tree:")
        print("\n".join("  " + l for l in render(tree)) or "  (none)")
        return 1
    if not a.q:
        print("chainassert: ok: %s" % "; ".join(w for w, _ in oks))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
