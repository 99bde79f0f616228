#!/usr/bin/env python3
"""fuzz_parts_seeds.py — format-2 seeds for fuzz_parts (and fuzz_judge's child texts):
tests/fuzz/corpus/fuzz_parts/three_hosts rewritten with every "signed" in format 2
(collector/parts.h): the part text {"v":2,"host":…,"cert":"<id>",…}, the wrapper
{"v":2,"cert_id":"<id>","sig":…,["cert":…],"part":…}. id = base64url(SHA-256(DER)) of the
stand-in certificate (the text "CN,IP" that fuzz_parts.c's verifier reads), so the
fuzzer's held certificates (hold_fixed) match. Two seeds: certificates sent, and held
(left out). Run from the top of the tree."""
import base64
import hashlib
import json
import os

D = "tests/fuzz/corpus/fuzz_parts"


def cid(der):
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


def convert(node, send):
    if isinstance(node, dict):
        for k, v in list(node.items()):
            if k == "signed" and isinstance(v, dict) and v.get("v") == 1:
                der = base64.b64decode(v["cert"])
                i = cid(der)
                p = json.loads(v["part"])
                q = {"v": 2, "host": p["host"], "cert": i}
                q.update({k2: v2 for k2, v2 in p.items() if k2 not in ("v", "host")})
                w = {"v": 2, "cert_id": i, "sig": v["sig"]}
                if send:
                    w["cert"] = v["cert"]
                w["part"] = json.dumps(q, separators=(",", ":"))
                node[k] = w
            else:
                convert(v, send)
    elif isinstance(node, list):
        for x in node:
            convert(x, send)


def main():
    with open(os.path.join(D, "three_hosts")) as f:
        base = f.read()
    for name, send in (("three_hosts_v2_sent", True), ("three_hosts_v2_held", False)):
        a = json.loads(base)
        convert(a, send)
        with open(os.path.join(D, name), "w") as f:
            f.write(json.dumps(a, separators=(",", ":")))


if __name__ == "__main__":
    main()
