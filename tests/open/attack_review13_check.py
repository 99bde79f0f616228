# attack_review13_check.py ANSWER H1IP [reach] : a who answer's chains reach
# h1, or the ones that do not are marked (fallback, not complete,
# holders_incomplete); exit 1 for an unmarked chain from elsewhere — with
# "reach", for any chain that does not reach h1, marked or not (issue 10 (3):
# the lineage is not to be cut) (tests/open/attack_review13_*.sh)
import json, sys
a = json.load(open(sys.argv[1]))
ch = a.get("chains") or []
hi = a.get("holders_incomplete")  # (the answer's, not a chain's)
print("    answer holders_incomplete=%s holders_unattested=%s" % (hi, json.dumps(a.get("holders_unattested"))))
for c in ch:
    print("    chain from %s complete=%s fallback=%s holders_incomplete=%s: %s" % (
        c.get("origin_host"), c.get("complete"), c.get("fallback"), hi,
        " ".join("%s:%s%s" % (p.get("host"), (p.get("exe") or "?").rsplit("/", 1)[-1],
                 "(%s)" % p.get("seen") if p.get("seen") not in (None, "shim") else "")
                 for p in c.get("procs") or [])))
bad = []
if not ch:
    bad.append("no chain")
for c in ch:
    if c.get("origin_host") in ("h1", sys.argv[2]):
        continue
    if c.get("fallback") or c.get("complete") is False or hi:
        print("    (marked: not taken as local)")
        if len(sys.argv) > 3 and sys.argv[3] == "reach":
            bad.append("a chain from %s: the lineage to h1 is cut (marked)" % c.get("origin_host"))
        continue
    bad.append("a chain from %s, unmarked (complete, no fallback)" % c.get("origin_host"))
for b in bad:
    print("    not: " + b)
sys.exit(1 if bad else 0)
