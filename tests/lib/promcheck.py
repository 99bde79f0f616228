#!/usr/bin/python3
"""promcheck.py FILE [EXPR...] — checks a Prometheus text-format (0.0.4) file
strictly, then with prometheus_client's own parser (Debian's
python3-prometheus-client) when it is installed. Each EXPR is a Python
expression over v(name, **labels) (a sample's value; KeyError if absent) that
must be true. Exit 0 when everything holds, 1 with the reasons otherwise.

Strict rules: every line is "# HELP name text", "# TYPE name type" or a sample
"name{label="value",...} value"; names match [a-zA-Z_:][a-zA-Z0-9_:]*, label
names [a-zA-Z_][a-zA-Z0-9_]*; label values use only \\\\, \\" and \\n escapes;
TYPE comes before a family's samples, once; a family's samples are contiguous;
no sample (name and labels) twice; values are floats; counters and histogram
parts are >= 0; a histogram's buckets are cumulative, end in le="+Inf" equal
to _count, and it has _sum and _count.
"""
import math
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*"
SAMPLE = re.compile(r"^(" + NAME + r")(\{(.*)\})? (\S+)$")
LABEL = re.compile(r"(" + LNAME + r')="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def strict(text):
    errs, types, helps, samples, order = [], {}, {}, {}, []
    if not text.endswith("\n"):
        errs.append("no final newline")

    def family(n):
        for suf in ("_bucket", "_sum", "_count"):
            if n.endswith(suf) and types.get(n[: -len(suf)]) in ("histogram", "summary"):
                return n[: -len(suf)]
        return n

    for i, line in enumerate(text.splitlines(), 1):
        if not line:
            errs.append(f"{i}: empty line")
            continue
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (" + NAME + r") (.*)$", line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    errs.append(f"{i}: bad comment: {line}")
                continue
            kind, n, rest = m.groups()
            if kind == "TYPE":
                if rest not in TYPES:
                    errs.append(f"{i}: unknown type {rest}")
                if n in types:
                    errs.append(f"{i}: second TYPE for {n}")
                if n in [family(s[0]) for s in samples]:
                    errs.append(f"{i}: TYPE for {n} after its samples")
                types[n] = rest
            else:
                if n in helps:
                    errs.append(f"{i}: second HELP for {n}")
                helps[n] = rest
            continue
        m = SAMPLE.match(line)
        if not m:
            errs.append(f"{i}: not a sample: {line}")
            continue
        n, _, labels, val = m.groups()
        lab = {}
        if labels is not None:
            pos = 0
            while pos < len(labels):
                lm = LABEL.match(labels, pos)
                if not lm:
                    errs.append(f"{i}: bad labels: {labels}")
                    break
                if lm.group(1) in lab:
                    errs.append(f"{i}: label {lm.group(1)} twice")
                lab[lm.group(1)] = lm.group(2)
                pos = lm.end()
        try:
            fv = float(val.replace("Inf", "inf"))
        except ValueError:
            errs.append(f"{i}: bad value {val}")
            continue
        key = (n, tuple(sorted(lab.items())))
        if key in samples:
            errs.append(f"{i}: sample twice: {line}")
        samples[key] = fv
        fam = family(n)
        if order and order[-1] != fam and fam in order:
            errs.append(f"{i}: family {fam} is not contiguous")
        if not order or order[-1] != fam:
            order.append(fam)
        t = types.get(fam, "untyped")
        if t in ("counter", "histogram") and not fv >= 0:
            errs.append(f"{i}: negative {t} {line}")
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for (n, lab), fv in samples.items():
            if n == fam + "_bucket":
                rest = tuple(x for x in lab if x[0] != "le")
                le = dict(lab).get("le")
                groups.setdefault(rest, []).append((float(le.replace("Inf", "inf")), fv))
        for rest, bs in groups.items():
            bs.sort()
            if bs[-1][0] != math.inf:
                errs.append(f"{fam}{rest}: no le=\"+Inf\" bucket")
            if any(b[1] > c[1] for b, c in zip(bs, bs[1:])):
                errs.append(f"{fam}{rest}: buckets not cumulative")
            cnt = samples.get((fam + "_count", rest))
            if cnt is None or (fam + "_sum", rest) not in samples:
                errs.append(f"{fam}{rest}: no _sum or _count")
            elif bs[-1][1] != cnt:
                errs.append(f"{fam}{rest}: +Inf bucket {bs[-1][1]} != count {cnt}")
        if not groups:
            errs.append(f"{fam}: histogram without buckets")
    return errs, samples


def main():
    text = open(sys.argv[1]).read()
    errs, samples = strict(text)
    try:
        from prometheus_client.parser import text_string_to_metric_families
        fams = list(text_string_to_metric_families(text))
        print(f"prometheus_client parser: {len(fams)} families, "
              f"{sum(len(f.samples) for f in fams)} samples")
    except ImportError:
        print("prometheus_client not installed: strict checks only")
    except Exception as e:  # the parser refused the text
        errs.append(f"prometheus_client parser: {e!r}")

    def v(name, **labels):
        return samples[(name, tuple(sorted(labels.items())))]

    for expr in sys.argv[2:]:
        try:
            okv = eval(expr, {"v": v, "math": math})
        except Exception as e:
            okv = False
            expr += f"  ({e!r})"
        if not okv:
            errs.append(f"does not hold: {expr}")
    print(f"strict: {len(samples)} samples")
    for e in errs:
        print("ERROR:", e)
    sys.exit(1 if errs else 0)


if __name__ == "__main__":
    main()
