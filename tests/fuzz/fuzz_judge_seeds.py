#!/usr/bin/env python3
"""fuzz_judge_seeds.py — writes the seeds of tests/fuzz/fuzz_judge.c into
tests/fuzz/corpus/fuzz_judge/: byte 0 (chunk size, lab bit), then frames
(struct jd_hdr: magic, type, id, len, pad; a JD_REQ payload: nonce[24], own_len,
up_len, own, up). The part is "signed" for the stand-in verifier: cert = base64
of "h1,10.0.0.1", sig = base64 of b"\\x01"."""
import base64, hashlib, json, os, struct, sys

NONCE = "AAAAAAAAAAAAAAAAAAAAAA"
MAGIC, REQ, PING = 0x48544A44, 1, 3
OWN = {"ok": True, "host": "h2",
       "subject": {"pid": 30, "local": "10.0.0.2:40000", "remote": "10.0.0.3:22"},
       "tree": {"type": "proc", "host": "h2", "pid": 30, "exe": "/usr/bin/ssh",
                "sources": [{"via": "tcp", "node": {
                    "type": "conn", "host": "h2", "dir": "in", "local": "10.0.0.2:22",
                    "remote": "10.0.0.1:51234", "upstream": None, "complete": False,
                    "reason": "not followed"}}]},
       "chains": []}

def part(nonce):
    p = {"v": 1, "host": "h1", "nonce": nonce, "ts": 1,
         "asked": {"local": "10.0.0.1:51234", "remote": "10.0.0.2:22"},
         "tree": {"type": "proc", "host": "h1", "pid": 10, "exe": "/usr/bin/ssh",
                  "sources": [{"via": "local", "node": {"type": "origin", "host": "h1"}}]}}
    return {"v": 1, "part": json.dumps(p, separators=(",", ":")),
            "sig": base64.b64encode(b"\x01").decode(),
            "cert": base64.b64encode(b"h1,10.0.0.1").decode()}

def cid(der):
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")

def part2(nonce, send=True, der=b"h1,10.0.0.1"):
    """format 2 (collector/parts.h): the certificate by reference"""
    i = cid(der)
    p = {"v": 2, "host": "h1", "cert": i, "nonce": nonce, "ts": 1,
         "asked": {"local": "10.0.0.1:51234", "remote": "10.0.0.2:22"},
         "tree": {"type": "proc", "host": "h1", "pid": 10, "exe": "/usr/bin/ssh",
                  "sources": [{"via": "local", "node": {"type": "origin", "host": "h1"}}]}}
    w = {"v": 2, "cert_id": i, "sig": base64.b64encode(b"\x01").decode()}
    if send:
        w["cert"] = base64.b64encode(der).decode()
    w["part"] = json.dumps(p, separators=(",", ":"))
    return w

def child(up):
    a = json.loads(json.dumps(OWN))
    leaf = a["tree"]["sources"][0]["node"]
    leaf["upstream"] = up
    leaf.pop("reason", None)
    return a

def req(i, own, up, nonce=NONCE):
    o, u = own.encode(), up.encode()
    body = nonce.encode().ljust(24, b"\0") + struct.pack("=II", len(o), len(u)) + o + u
    return struct.pack("=IIQII", MAGIC, REQ, i, len(body), 0) + body

def j(x):
    return json.dumps(x, separators=(",", ":"))

up_ok = {"ok": True, "host": "h1", "tree": {"type": "proc"}, "chains": [], "signed": part(NONCE)}
seeds = {
    "genuine": bytes([7]) + req(1, j(OWN), j(child(up_ok))),
    "lab": bytes([0x85]) + req(1, j(OWN), j(child({"ok": True, "host": "h1", "tree": {"type": "proc"}, "chains": []}))),
    "unsigned": bytes([3]) + req(2, j(OWN), j(child({"ok": True, "tree": {}, "chains": []}))),
    "nonce": bytes([11]) + req(3, j(OWN), j(child(dict(up_ok, signed=part("BBBBBBBBBBBBBBBBBBBBBB"))))),
    "v2_sent": bytes([9]) + req(6, j(OWN), j(child(dict(up_ok, signed=part2(NONCE))))),
    "v2_held": bytes([13]) + req(7, j(OWN), j(child(dict(up_ok, signed=part2(NONCE, False))))),
    "v2_not_held": bytes([17]) + req(8, j(OWN), j(child(dict(up_ok, signed=part2(NONCE, False, b"x,10.0.0.1"))))),
    "monitor_side": bytes([5]) + struct.pack("=IIQII", MAGIC, 6, 0, 24, 0) + b"A" * 24 +
        struct.pack("=IIQII", MAGIC, 5, 9, 2, 0) + b"{}",
    "two_and_ping": bytes([1]) + req(4, j(OWN), "garbage") +
        struct.pack("=IIQII", MAGIC, PING, 0, 0, 0) + req(5, j(OWN), ""),
}
d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_judge")
os.makedirs(d, exist_ok=True)
for k, v in seeds.items():
    with open(os.path.join(d, k), "wb") as f:
        f.write(v)
print("wrote %d seeds to %s" % (len(seeds), d), file=sys.stderr)
