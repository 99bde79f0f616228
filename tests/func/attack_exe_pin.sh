#!/bin/sh
# tests/func/attack_exe_pin.sh — issue 10 (7): an executable pin survives no
# rewrite. The policy lets only `prog@sha256=GOOD` reach B:8000. User nobody
# owns prog (a copy of nc), runs it once (accepted: the collector hashed and
# cached it), then changes its content without changing its size and puts the
# old mtime back — the old cache key (dev, ino, size, mtime) was unchanged,
# so the cached GOOD hash was reported for the new content and the SYN was
# accepted. Each variant must now be refused, its audit line naming the new
# hash:
#   1. pwrite over a byte, utimensat back (the reported attack);
#   2. the same through a MAP_SHARED mapping (the kernel dates the write at
#      the page fault), mtime put back;
#   3. through a hard link in another directory, mtime put back;
#   4. a chmod round trip after each (ctime moves, the content is the same:
#      the original content is accepted again — no false refusal).
# Run as root; the attacker is nobody inside the namespace pair.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/guardnet.sh"
gn_need
command -v setpriv >/dev/null || gn_skip "setpriv missing"
NCREAL=$(readlink -f "$(command -v nc)")
gn_setup
chmod 0711 "$T"
W=$T/nob
mkdir -p "$W/a" "$W/b"
cp "$NCREAL" "$W/a/prog"
chown -R nobody:nogroup "$W"
chmod 0755 "$W" "$W/a" "$W/b" "$W/a/prog"
GOOD=$(sha256sum "$W/a/prog" | cut -d' ' -f1)
OFF=$(python3 -c "import sys; print(open(sys.argv[1],'rb').read().index(b'usage: nc') + 1)" "$W/a/prog") ||
	gn_fail "no usage text in $NCREAL"
export OFF
cat >"$T/policy.acl" <<EOC
*, *, $B4, 8000, white, prog@sha256=$GOOD
@incomplete evaluate
EOC
gn_start_collector
gn_start_guard

# as nobody in A: nc -z to B:8000; prints ok / refused
as_nobody() { ip netns exec "$A" setpriv --reuid nobody --regid nogroup --clear-groups "$@"; }
try() { # LABEL: run prog, print ok|refused
	if as_nobody "$W/a/prog" -z -w 3 "$B4" 8000 2>/dev/null; then echo ok; else echo refused; fi
}
# the audit line of the newest decision for B:8000: "verdict sha256"
last_audit() {
	python3 - "$T/audit.log" "$B4:8000" <<'EOP'
import json, sys
last = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["remote"] == sys.argv[2]:
        last = r
shas = [p.get("sha256") or "-" for c in last.get("chains", []) for p in c.get("procs", c.get("path", [])) if isinstance(p, dict)]
print(last["verdict"], ",".join(shas) or "-")
EOP
}
# rewrite prog in place (same size), then restore atime/mtime to the saved ones
save_times() { TIMES=$(as_nobody /usr/bin/python3 -c "import os,sys; s=os.stat(sys.argv[1]); print(s.st_atime_ns, s.st_mtime_ns)" "$W/a/prog"); [ -n "$TIMES" ] || gn_fail "cannot stat as nobody"; }
restore_times() { # PATH
	as_nobody /usr/bin/python3 -c "import os,sys; a,m=map(int,sys.argv[2].split()); os.utime(sys.argv[1], ns=(a,m))" "$1" "$TIMES"
}
same_size_edit() { # METHOD PATH BYTE: write BYTE into the usage text
	OFF=$OFF as_nobody /usr/bin/python3 - "$1" "$2" "$3" <<'EOP'
import mmap, os, sys
how, path, byte = sys.argv[1], sys.argv[2], sys.argv[3].encode()
off = int(os.environ["OFF"])   # "usage: nc" -> "u?age: nc": harmless text
if how == "pwrite":
    fd = os.open(path, os.O_WRONLY); os.pwrite(fd, byte, off); os.close(fd)
else:
    fd = os.open(path, os.O_RDWR)
    m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    m[off:off + 1] = byte; m.flush(); m.close(); os.close(fd)
EOP
	[ $? = 0 ] || gn_fail "the edit ($1) failed"
}
check_same() { # the attacker's edit kept size and mtime (else the test proves nothing)
	now=$(as_nobody /usr/bin/python3 -c "import os,sys; s=os.stat(sys.argv[1]); print(s.st_atime_ns, s.st_mtime_ns, s.st_size)" "$W/a/prog")
	[ "${now% *}" = "$TIMES" ] || gn_fail "times not restored: $now vs $TIMES"
}

gn_log "the pinned program is accepted"
save_times
r=$(try); [ "$r" = ok ] || { cat "$T/audit.log"; gn_fail "the pinned, unchanged program was refused"; }
echo "   original: $r ($(last_audit))"

fails=""
variant() { # NAME METHOD PATH BYTE
	same_size_edit "$2" "$3" "$4"
	restore_times "$3"
	check_same
	NEW=$(sha256sum "$W/a/prog" | cut -d' ' -f1)
	[ "$NEW" != "$GOOD" ] || gn_fail "$1: the edit did not change the content"
	r=$(try); a=$(last_audit)
	echo "   $1: $r ($a)"
	[ "$r" = refused ] || fails="$fails $1"
	case $a in "reject "*"$NEW"*) ;; *) fails="$fails $1(audit)" ;; esac
}

gn_log "variant 1: pwrite, same size, mtime put back"
variant pwrite pwrite "$W/a/prog" X
gn_log "variant 2: MAP_SHARED write, same size, mtime put back"
variant mmap mmap "$W/a/prog" Y
gn_log "variant 3: through a hard link, mtime put back"
as_nobody ln "$W/a/prog" "$W/b/alias" || gn_fail "hard link as nobody"
variant hardlink pwrite "$W/b/alias" Z

gn_log "variant 4: the original content back, then a chmod round trip: accepted"
same_size_edit pwrite "$W/a/prog" s
restore_times "$W/a/prog"
[ "$(sha256sum "$W/a/prog" | cut -d' ' -f1)" = "$GOOD" ] || gn_fail "could not restore the content"
as_nobody chmod 0700 "$W/a/prog"; as_nobody chmod 0755 "$W/a/prog"
r=$(try); echo "   restored: $r ($(last_audit))"
[ "$r" = ok ] || fails="$fails restored"

gn_log "variant 5: a 768 MiB executable re-chmod'ed between runs stalls no decision"
# (hashing it takes ~3 s: on the graph thread that held every verdict; now it
# is read in the background and the victim's questions are answered)
cp "$W/a/prog" "$W/a/big" && truncate -s 768M "$W/a/big" && chown nobody:nogroup "$W/a/big" ||
	gn_fail "big executable"
before=$(wc -l <"$T/audit.log")
(
	for i in 1 2 3; do
		as_nobody chmod 0700 "$W/a/big"; as_nobody chmod 0755 "$W/a/big"
		as_nobody "$W/a/big" -z -w 1 "$B4" 8001 2>/dev/null
		sleep 0.3
	done
) &
bigpid=$!
sleep 0.2
for i in 1 2 3 4 5 6 7 8; do gn_connect "$B4" 8001 >/dev/null; sleep 0.25; done
wait $bigpid
python3 - "$T/audit.log" <<'EOP'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    for c in r.get("chains", []):
        for p in c["procs"]:
            if p["exe"].endswith("/big"):
                print("   big's own SYN: collector_us %s, sha256 %s" % (r.get("collector_us"), p["sha256"]))
EOP
set -- $(tail -n +"$((before + 1))" "$T/audit.log" | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
rs = [r for r in rs if r["remote"] == sys.argv[1]]
print(len(rs), sum("on_collector_error" in r.get("reason", "") for r in rs))' "$B4:8001")
tot=$1 n=$2
echo "   $tot decisions while the big file was hashed, $n of them without the collector's answer"
[ "$tot" -ge 8 ] || gn_fail "expected >= 8 decisions, got $tot"
[ "$n" = 0 ] || fails="$fails stall($n)"

[ -z "$fails" ] || { tail -n 5 "$T/hoptraced.log"; gn_fail "a rewritten pinned executable kept its pin:$fails"; }
gn_log "every rewrite was refused"
