#!/bin/sh
# attack_review_fleet_child_judge — issue 11 review, attacker (d): a compromised
# inquiry child. The child (privsep_child.c, unprivileged, the part that parses
# the network) is also the JUDGE of its host's cross-host chains: for a guard's
# or the CLI's `who`, the monitor hands its own answer over (FOLLOW_REQ), the
# child makes the nonce (on_follow_req), asks upstream, runs
# parts_verify_answer and sends the merged text back (FOLLOW_DONE), which the
# monitor passes to the guard / CLI unread (inquiry_svc.c on_follow_done:
# "opaque"). So code execution in the child — as nobody, chrooted, no_new_privs
# — decides every cross-host chain of its host: here it fills h2's leaf to h1
# with an UNSIGNED upstream answer naming an innocent process on h1, and h2's
# collector answers "complete, origin h1, /usr/bin/innocent". The same answer
# sent by a host on the network is refused ("unsigned answer",
# tests/func/attack_fleet_member.sh, parts_test unsigned_answer).
#
# The compromised child is modelled by a preload library in hoptraced's
# environment (execv keeps it): in the re-executed `hoptraced -X` only, it drops
# to nobody itself and runs a Python stand-in for the child's code on fd 3, the
# monitor's socketpair, speaking the protocol of collector/privsep.h.
# Chain: ssh h1 -> h2 -> h3; h2's collector is asked about h2's connection to h3.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need ssh cc
INQ="$TB_PY $TB_LIB/inqtool.py"
H1=10.233.0.1 H2=10.233.0.2 H3=10.233.0.3
tb_switch
for h in 1 2 3; do
	tb_host h$h 10.233.0.$h
	tb_sshd h$h
	tb_collector h$h
done
tb_preload on

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL-CASE $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
ATK=$TB_T/atk
mkdir -p "$ATK" && chmod 0755 "$ATK"

tb_log "setup: ssh h1 -> h2 -> h3"
tb_bg h1 ssh $H2 "ssh $H3 sleep 300"
p=$(tb_wait_pid h2 "^ssh $H3" 10) || tb_fail "no ssh to h3 on h2"
c=""; i=0
while [ -z "$c" ] && [ $i -lt 50 ]; do
	c=$(tb_exec h2 ss -Htnp state established "( dst $H3 and dport = :22 )" 2>/dev/null |
		grep "pid=$p," | awk '{print $3, $4}' | head -n 1)
	i=$((i + 1)); sleep 0.1
done
[ -n "$c" ] || tb_fail "ssh on h2 did not connect to h3"
set -- $c; L=$1 R=$2
who_h2() { out=$(tb_exec h2 $INQ who "$L" "$R" "$1"); echo "${out#* }" >"$A"; }
who_h2 1500
tb_assert_chain "$A" --origin h1 --complete -q && ok "baseline (honest child): complete from h1" ||
	{ head -c 600 "$A"; tb_fail "baseline not complete from h1"; }
grep -q '/usr/bin/innocent' "$A" && tb_fail "baseline already names the innocent exe"

# ---- the compromised child --------------------------------------------------------
cat >"$ATK/evil.c" <<'C'
#define _GNU_SOURCE
#include <grp.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void)
{
	char b[4096];
	const char *py = getenv("HT_EVIL_PY"), *script = getenv("HT_EVIL_SCRIPT"), *log = getenv("HT_EVIL_LOG");
	int fd = open("/proc/self/cmdline", O_RDONLY), x = 0;
	ssize_t n = fd >= 0 ? read(fd, b, sizeof(b) - 1) : -1;
	if (fd >= 0)
		close(fd);
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(b + i) + 1)
		if (!strcmp(b + i, "-X"))
			x = 1;
	if (!x || !py || !script || !log)
		return;
	/* what the real child becomes: nobody, no groups (chroot left out: the
	 * stand-in needs python; it changes nothing on the socketpair) */
	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(126);
	unsetenv("LD_PRELOAD");
	execl(py, py, script, log, (char *)0);
	_exit(127);
}
C
cc -shared -fPIC -o "$ATK/evil.so" "$ATK/evil.c" || tb_fail "cc evil.so"
cat >"$ATK/evil_child.py" <<'PY'
# stand-in for a compromised hoptraced -X: privsep.h's messages on fd 3
import json, os, socket, struct, sys
MAGIC = 0x48545053
WHO_REQ, WHO_ANS, FOLLOW_REQ, FOLLOW_DONE, SOCK_REQ, SOCK_ANS, CHUNK = range(1, 8)
log = open(sys.argv[1], "a", buffering=1)
s = socket.socket(fileno=3)
log.write("evil child uid %d gid %d, socket type %s\n" % (os.getuid(), os.getgid(), s.type))

def leaves(n, out):
    if not isinstance(n, dict):
        return out
    if n.get("type") == "conn":
        out.append(n)
        return out
    for src in n.get("sources", []):
        leaves(src.get("node"), out)
    return out

def forge(text):
    a = json.loads(text)
    for L in leaves(a.get("tree"), []):
        if L.get("upstream") is not None:
            continue
        far = L["remote"].rsplit(":", 1)[0]
        host = "h1"
        tree = {"type": "proc", "host": host, "pid": 1, "exe": "/usr/bin/innocent", "seen": "shim",
                "sources": [{"via": "local", "node": {"type": "origin", "host": host}}]}
        L["upstream"] = {"ok": True, "host": host,
                         "subject": {"pid": 1, "local": L["remote"], "remote": L["local"]},
                         "tree": tree,
                         "chains": [{"origin_host": host, "src": L["remote"], "dst": None,
                                     "complete": True, "fallback": False,
                                     "procs": [{"host": host, "pid": 1, "exe": "/usr/bin/innocent"}]}]}
        L["complete"] = True
        L.pop("reason", None)
        for ch in a.get("chains", []):
            ch["origin_host"] = host
            ch["src"] = L["remote"]
            ch["complete"] = True
            ch["fallback"] = False
            ch["procs"] = [{"host": host, "pid": 1, "exe": "/usr/bin/innocent"}] + ch.get("procs", [])
            ch.pop("reason", None)
    a.pop("holders_incomplete", None)
    return json.dumps(a, separators=(",", ":"))

def reply(mid, text):
    b = text.encode()
    s.send(struct.pack("<IIQII", MAGIC, FOLLOW_DONE, mid, len(b), 0))
    for off in range(0, len(b), 32768):
        k = b[off:off + 32768]
        s.send(struct.pack("<IIQII", MAGIC, CHUNK, mid, off, len(k)) + k)

pend = None
while True:
    m = s.recv(65536)
    if not m:
        sys.exit(0)
    magic, typ, mid = struct.unpack_from("<IIQ", m)
    if typ == FOLLOW_REQ:
        depth, dl, ln, _ = struct.unpack_from("<iIII", m, 16)
        pend = [mid, ln, b""]
    elif typ == CHUNK and pend:
        off, ln = struct.unpack_from("<II", m, 16)
        pend[2] += m[24:24 + ln]
    else:
        continue
    if pend and len(pend[2]) == pend[1]:
        mid, _, text = pend
        pend = None
        log.write("FOLLOW_REQ %d: %s\n" % (mid, text[:300].decode(errors="replace")))
        out = forge(text.decode())
        log.write("FOLLOW_DONE %d: %s\n" % (mid, out[:300]))
        reply(mid, out)
PY
: >"$ATK/evil.log"; chmod 0666 "$ATK/evil.log"

tb_log "h2's collector restarted; its inquiry child compromised (runs the stand-in as nobody)"
kill "$(cat "$(tb_dir h2)/hoptraced.pid")"
i=0; while tb_exec h2 "$TB_HOPTRACE" status >/dev/null 2>&1 && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
_tb_bglog "$(tb_dir h2)/hoptraced.log" h2 env LD_PRELOAD="$ATK/evil.so" HT_EVIL_PY="$TB_PY" \
	HT_EVIL_SCRIPT="$ATK/evil_child.py" HT_EVIL_LOG="$ATK/evil.log" \
	"$TB_HOPTRACED" -d -f /etc/hoptrace/hoptrace.conf
echo "$TB_LAST" >"$(tb_dir h2)/hoptraced.pid"
i=0; until tb_exec h2 "$TB_HOPTRACE" status >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 50 ] || tb_fail "h2's collector did not come back"; sleep 0.1
done
i=0; until grep -q "evil child uid 65534" "$ATK/evil.log"; do
	i=$((i + 1)); [ $i -lt 50 ] || { cat "$ATK/evil.log"; tail "$(tb_dir h2)/hoptraced.log"; tb_fail "no stand-in child"; }
	sleep 0.1
done
ok "the stand-in child runs as uid 65534 on the monitor's socketpair"

who_h2 1500
if grep -q '/usr/bin/innocent' "$A" && tb_assert_chain "$A" --origin h1 --complete -q; then
	bad "h2's collector answers the child's unsigned forgery: complete, origin h1, /usr/bin/innocent (the guard gets the same text)"
else
	ok "the child's forgery is not believed"
fi
grep -q '"signed"' "$A" || echo "    (the answer carries no signed part at all: nobody checked one)"
sed -n 1,4p "$ATK/evil.log" | cut -c1-240 | sed 's/^/    evil: /'
[ $fails = 0 ] || { echo "$fails FAIL-CASE"; exit 1; }
echo "all ok"
