#!/bin/sh
# inquiry_roles.sh — where the CPU of a hop goes, per process role and library, mTLS
# against lab_plain: run it as root while tests/bench/inquiry.sh (with a large INQ_N,
# e.g. INQ_N=3000 INQ_RELAY=tcp) runs from the same worktree. It finds that bench's
# hoptraced processes (this worktree's binary; fleet h = 10.231.0.x, p = 10.231.1.x),
# records every thread of each fleet with `perf record -F FREQ` for SECS seconds (flat,
# no call graph), counts the questions the bench asked per depth meanwhile (its result
# file mtls1), and prints per upstream hop the CPU µs of the monitor (mon), the inquiry
# child (X: TLS front + libcurl follower) and the judge (J), split by library group
# (crypto = libcrypto/libssl/mbedTLS), for both fleets and their difference.
# Usage: tests/bench/inquiry_roles.sh [SECS [FREQ [OUTDIR]]]   (20, 4000, /tmp/inquiry-roles)
# (INQ_BENCH_PID=PID names the bench when several of this worktree run)
# A flat sample is charged to the library it was taken in: the "crypto" row is the
# signatures, their checks and TLS records; the others are the rest of the work.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$top/${BUILD:-build}/hoptraced
T=${1:-20} F=${2:-4000} OUT=${3:-/tmp/inquiry-roles}
mkdir -p "$OUT" && rm -f "$OUT"/roles "$OUT"/*.data "$OUT"/*.txt
# the bench: INQ_BENCH_PID, else the one tests/bench/inquiry.sh whose cwd is
# this worktree (several: name one; another worktree's or CI's are not ours)
B=${INQ_BENCH_PID:-}
if [ -z "$B" ]; then
	for b in $(pgrep -f 'sh tests/bench/inquiry.sh'); do
		[ "$(readlink "/proc/$b/cwd")" = "$top" ] || continue
		[ -z "$B" ] || { echo "several tests/bench/inquiry.sh of $top running: INQ_BENCH_PID=PID" >&2; exit 1; }
		B=$b
	done
fi
[ -n "$B" ] || { echo "no tests/bench/inquiry.sh of $top running" >&2; exit 1; }
R=$(ls -d /proc/"$B"/root/run/ht*/bench 2>/dev/null | head -n 1)
[ -f "$R/mtls1" ] || { echo "the bench has not started measuring yet" >&2; exit 1; }
# its collectors are its own children (tb_collector: tb_bg), not every
# hoptraced of this binary on the machine (another run of it may be there)
for q in $(pgrep -P "$B" -x hoptraced); do
	[ "$(readlink "/proc/$q/exe")" = "$BIN" ] || continue
	a=$(nsenter --net="/proc/$q/ns/net" ip -4 -o addr 2>/dev/null | grep -o '10\.231\.[01]\.[0-9]' | head -n 1)
	case $a in 10.231.0.*) f=h ;; 10.231.1.*) f=p ;; *) continue ;; esac
	echo "$q $f mon tgid" >>"$OUT/roles"
	for t in /proc/"$q"/task/*; do echo "${t##*/} $f mon" >>"$OUT/roles"; done
	for c in $(pgrep -P "$q"); do
		r=$(tr '\0' ' ' <"/proc/$c/cmdline" | awk '{print substr($2, 2)}') # -X / -J
		echo "$c $f $r tgid" >>"$OUT/roles"
		for t in /proc/"$c"/task/*; do echo "${t##*/} $f $r" >>"$OUT/roles"; done
	done
done
n0=$(grep -vc '^#' "$R/mtls1")
for f in h p; do
	pids=$(awk -v f=$f '$2 == f && $4 == "tgid" {print $1}' "$OUT/roles" | paste -sd, -)
	perf record -o "$OUT/$f.data" -F "$F" -p "$pids" -- sleep "$T" >/dev/null 2>&1 &
done
wait
n1=$(grep -vc '^#' "$R/mtls1")
for f in h p; do
	perf report -i "$OUT/$f.data" --no-children -n --sort pid,dso -q 2>/dev/null |
		awk 'NF >= 3 {print $2, $3, $4}' >"$OUT/$f.txt"
done
python3 - "$OUT" $((n1 - n0)) "$F" <<'PY'
import sys, collections
out, Q, F = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
role = {}
for l in open(out + "/roles"):
    w = l.split()
    role[w[0]] = w[2]
def grp(d):
    if "kernel" in d or d.startswith("bpf_prog"):
        return "kernel"
    for k, g in (("crypto", "crypto"), ("ssl", "crypto"), ("mbed", "crypto"), ("cjson", "cjson"),
                 ("libc.so", "libc"), ("curl", "curl"), ("hoptraced", "hoptraced")):
        if k in d:
            return g
    return "other"
t = {}
for f in "hp":
    c = collections.Counter()
    for l in open("%s/%s.txt" % (out, f)):
        n, pc, d = l.split()
        c[role.get(pc.split(":")[0], "?"), grp(d)] += int(n)
    t[f] = c
if Q <= 0:
    sys.exit("no questions asked in the window")
hops = Q * 6  # per round of depths 1, 2, 3: six upstream hops
us = lambda n: n / F * 1e6 / hops
print("CPU per upstream hop (µs; %d questions per depth in the window)" % Q)
print("%-4s %-10s %7s %7s %7s" % ("role", "library", "mTLS", "plain", "added"))
for r in ("mon", "X", "J"):
    for g in ("crypto", "cjson", "libc", "curl", "hoptraced", "kernel", "other"):
        a, b = t["h"][r, g], t["p"][r, g]
        if a or b:
            print("%-4s %-10s %7.1f %7.1f %7.1f" % (r, g, us(a), us(b), us(a - b)))
    a = sum(v for k, v in t["h"].items() if k[0] == r)
    b = sum(v for k, v in t["p"].items() if k[0] == r)
    print("%-4s %-10s %7.1f %7.1f %7.1f" % (r, "all", us(a), us(b), us(a - b)))
a, b = sum(t["h"].values()), sum(t["p"].values())
print("%-4s %-10s %7.1f %7.1f %7.1f   (mTLS and plain include depth 0 and idle work; only 'added' is a hop's)" % ("all", "all", us(a), us(b), us(a - b)))
PY
