#!/bin/sh
# attack_fleet_child_judge — review finding 1 (docs/research/fleet-review.md): a
# compromised inquiry child must not be the judge of its host's cross-host chains.
# The child parses the network; with code execution there (as its unprivileged
# user, chrooted) it can send its monitor any FOLLOW_DONE text. The monitor makes
# the nonce, never believes that text: the judge (`hoptraced -J`, its own
# sandbox) fills the monitor's OWN answer from it and checks every part.
# Chain ssh h1 -> h2 -> h3; h2's collector is asked about h2's connection to h3.
#   0. the judge process: uid hoptrace, chrooted, no_new_privs, seccomp, not dumpable
#   1. a stand-in child (a preload library in hoptraced's environment: in the
#      re-executed `hoptraced -X` only, it drops to nobody itself and runs a Python
#      stand-in on fd 3, the monitor's socketpair): an UNSIGNED upstream naming
#      /usr/bin/innocent on h1 — on main h2 answered "complete, origin h1, innocent"
#      — and a WHO_REQ naming as its peer an address that never connected (finding
#      4a: on main the monitor answered with this host's signed part)
#   2. the real child with the test hook HT_TEST_EVIL_CHILD=MODE (what a compromised
#      child could do; collector/privsep_child.c evil_done): unsigned, outer (the
#      genuine part kept, the answer around it rewritten), tampered (the part's
#      bytes changed: its signature fails in the judge), nonce (its own nonce
#      upstream), replay (the first answer again), truncated, garbage, oversized
#      (a text over the limit announced) — none complete with the forgery, each
#      with its reason; outer stays complete with the GENUINE processes
#   2b. format 2 (the certificate by reference): nocert (the child takes every part's
#      certificate out: the judge holds none after a restart) — refused "certificate
#      not held", the monitor asks once more without "have", never more, never believed;
#      nocert_once (only the first FOLLOW_DONE of a follow): the second asking fetches the
#      certificates, complete from h1; then the judge holds them: the next question's
#      FOLLOW_REQ names them ("have") and is complete at the first asking
#   3. the honest child again: complete from h1
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
. "$TB_LIB/fleetchain.sh"
tb_init "$@"
tb_need ssh cc setpriv
INQ="$TB_PY $TB_LIB/inqtool.py"
fc_setup 10.233.0

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL-CASE $*"; fails=$((fails + 1)); }
A=$TB_T/a.json
ATK=$TB_T/atk
mkdir -p "$ATK" && chmod 0755 "$ATK"

fc_chain
who_h2() { out=$(tb_exec h2 $INQ who "$L" "$R" "$1"); echo "${out#* }" >"$A"; }
complete() { tb_assert_chain "$A" --origin h1 --complete -q >/dev/null 2>&1; }
who_h2 1500
complete && ok "baseline (honest child): complete from h1" ||
	{ head -c 600 "$A"; tb_fail "baseline not complete from h1"; }
grep -q '/usr/bin/innocent' "$A" && tb_fail "baseline already names the innocent exe"

# ---- 0. the judge's sandbox ----------------------------------------------------------
jp=$(tb_pid_of h2 '^hoptraced -J') || tb_fail "0. no judge process on h2"
cp=$(tb_pid_of h2 '^hoptraced -X') || tb_fail "0. no inquiry child on h2"
ju=$(awk '/^Uid:/ {print $2}' /proc/$jp/status)
want=$(id -u hoptrace 2>/dev/null || id -u nobody)
[ "$ju" = "$want" ] && ok "0. the judge runs as uid $ju (hoptrace)" || bad "0. the judge runs as uid $ju, not $want"
grep -q '^Seccomp:[[:space:]]*2' /proc/$jp/status && ok "0. the judge is under a seccomp filter" ||
	bad "0. no seccomp filter on the judge: $(grep Seccomp /proc/$jp/status)"
grep -q '^NoNewPrivs:[[:space:]]*1' /proc/$jp/status && ok "0. no_new_privs" || bad "0. the judge lacks no_new_privs"
[ "$(readlink /proc/$jp/root)" = "$(readlink /proc/$cp/root)" ] && [ "$(readlink /proc/$jp/root)" != / ] &&
	ok "0. chrooted to $(readlink /proc/$jp/root)" || bad "0. the judge's root is $(readlink /proc/$jp/root)"
# not dumpable: its own user cannot read its memory or environment (ptrace access)
if setpriv --reuid "$want" --regid "$want" --clear-groups cat /proc/$jp/environ >/dev/null 2>&1; then
	bad "0. uid $want reads the judge's /proc/PID/environ: dumpable"
else
	ok "0. not dumpable: uid $want cannot read its /proc/PID/environ"
fi
nf=$(ls /proc/$jp/fd | wc -l)
[ "$nf" -le 5 ] && ok "0. $nf descriptors" || bad "0. the judge holds $nf descriptors: $(ls -l /proc/$jp/fd | tail -n +2)"
lim=$(awk '/^Max open files/ {print $4}' /proc/$jp/limits)
[ "$lim" -le 16 ] && ok "0. RLIMIT_NOFILE $lim" || bad "0. RLIMIT_NOFILE $lim"

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

def addr(ep):
    ip, port = ep.rsplit(":", 1)
    return struct.pack("<BBH", 4, 0, int(port)) + socket.inet_aton(ip) + b"\0" * 12

# review finding 4a: a WHO_REQ naming a peer that never connected (the asked
# connection's far address, an invented port) -- on main the monitor signed a part
who = os.environ.get("HT_EVIL_WHO")
if who:
    l, r = who.split()
    far = r.rsplit(":", 1)[0]
    m = struct.pack("<IIQ", MAGIC, WHO_REQ, 7) + addr(far + ":40000") + addr(l) + addr(r)
    m += addr(far + ":0") + b"\0" * 20 * 15
    # npeer_addrs, depth, deadline_ms, paper, age_ms (inquiry v2), nonce, peer_cn, pad,
    # part_v, have (inquiry v3)
    m += struct.pack("<IiIII", 1, -1, 0, 0, 0) + b"AAAAAAAAAAAAAAAAAAAAAA".ljust(24, b"\0")
    m += b"h1".ljust(65, b"\0") + b"\0" * 7
    m += struct.pack("<I", 2) + b"\0" * 196
    assert len(m) == 712, len(m)
    s.send(m)

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
    if typ == WHO_ANS:
        st, ln = struct.unpack_from("<iI", m, 16)
        log.write("WHO_ANS status %d\n" % st)
        continue
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
# the ssh connection h1 -> h2 as h2 sees it: what the stand-in's WHO_REQ asks about
w=$(tb_exec h2 ss -Htn state established "( sport = :22 and dst $H1 )" | awk '{print $3, $4}' | head -n 1)
[ -n "$w" ] || tb_fail "no ssh connection from h1 on h2"
_tb_bglog "$(tb_dir h2)/hoptraced.log" h2 env LD_PRELOAD="$ATK/evil.so" HT_EVIL_PY="$TB_PY" HT_EVIL_WHO="$w" \
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
if grep -q '/usr/bin/innocent' "$A" || complete; then
	bad "1. stand-in child: h2's collector answers the child's unsigned forgery (complete from h1 or /usr/bin/innocent)"
	head -c 400 "$A"; echo
else
	ok "1. stand-in child: its unsigned forgery is not believed"
fi
grep -q '"reason":"unsigned answer"' "$A" && ok "1. the leaf says why: unsigned answer" ||
	bad "1. no 'unsigned answer' reason on the leaf: $(head -c 300 "$A")"
grep -q "^FOLLOW_DONE" "$ATK/evil.log" || bad "1. the stand-in never sent a FOLLOW_DONE (the case tested nothing)"
# 4a: the monitor looks the peer up itself
st=$(sed -n 's/^WHO_ANS status //p' "$ATK/evil.log" | head -n 1)
if [ "$st" = 403 ] && grep -q "which has no inquiry connection here: refused" "$(tb_dir h2)/hoptraced.log"; then
	ok "1. a WHO_REQ naming a peer that never connected: 403, logged (no signed part)"
else
	bad "1. a WHO_REQ naming a peer that never connected: status '${st:-none}' (the monitor believed the child's peer)"
fi

# ---- the real child, forging through the test hook -----------------------------------
LOG2=$(tb_dir h2)/hoptraced.log
restart_h2() { # [ENV=VALUE...]
	kill "$(cat "$(tb_dir h2)/hoptraced.pid")"
	i=0; while tb_exec h2 "$TB_HOPTRACE" status >/dev/null 2>&1 && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
	sleep 0.2
	_tb_bglog "$LOG2" h2 env "$@" "$TB_HOPTRACED" -d -f /etc/hoptrace/hoptrace.conf
	echo "$TB_LAST" >"$(tb_dir h2)/hoptraced.pid"
	i=0; until tb_exec h2 "$TB_HOPTRACE" status >/dev/null 2>&1; do
		i=$((i + 1)); [ $i -lt 50 ] || tb_fail "h2's collector did not come back"; sleep 0.1
	done
	i=0; until tb_pid_of h2 '^hoptraced -X' >/dev/null && tb_pid_of h2 '^hoptraced -J' >/dev/null; do
		i=$((i + 1)); [ $i -lt 50 ] || tb_fail "h2's child or judge did not start"; sleep 0.1
	done
}
# not_believed MODE REASON : the answer is neither the forgery nor complete, and a leaf
# gives REASON (a prefix)
not_believed() {
	if grep -q '/usr/bin/innocent' "$A" || complete; then
		bad "2. $1: the forgery is the answer: $(head -c 300 "$A")"
	elif ! grep -q "\"reason\":\"$2" "$A"; then
		bad "2. $1: incomplete, but no reason '$2': $(head -c 300 "$A")"
	else
		ok "2. $1: not believed ($2)"
	fi
}
for mode in unsigned outer tampered nonce replay truncated garbage oversized; do
	tb_log "2. HT_TEST_EVIL_CHILD=$mode"
	n0=$(grep -c "FORGES its follows" "$LOG2")
	restart_h2 HT_TEST_EVIL_CHILD=$mode
	i=0; until [ "$(grep -c "FORGES its follows" "$LOG2")" -gt "$n0" ]; do
		i=$((i + 1)); [ $i -lt 50 ] || { bad "2. $mode: the hook is not on"; break; }; sleep 0.1
	done
	who_h2 1500
	case $mode in
	unsigned) not_believed $mode "unsigned answer" ;;
	outer)
		if grep -q '/usr/bin/innocent' "$A"; then
			bad "2. outer: the rewritten answer around a genuine part is believed"
		elif complete; then
			ok "2. outer: the genuine part wins (complete from h1, no innocent process)"
		else
			bad "2. outer: not complete from h1: $(grep -o '"reason":"[^"]*"' "$A" | sort | uniq -c | tr '\n' ' ') $(head -c 300 "$A")"
		fi ;;
	tampered) not_believed $mode "forged part: certificate or signature: signature" ;;
	nonce) not_believed $mode "forged part: nonce" ;;
	replay)
		complete && ok "2. replay: the first answer is genuine" ||
			bad "2. replay: the first answer was not complete: $(grep -o '"reason":"[^"]*"' "$A" | sort | uniq -c | tr '\n' ' ')"
		who_h2 1500
		not_believed $mode "forged part: nonce" ;;
	truncated|garbage) not_believed $mode "no answer" ;;
	oversized)
		not_believed $mode "no answer"
		grep -q "killed: FOLLOW_DONE: text length" "$LOG2" && ok "2. oversized: the child was killed for it" ||
			bad "2. oversized: no kill logged" ;;
	esac
done

# ---- 2b. format 2: parts whose certificate the judge does not hold --------------------
# asks MODE : FOLLOW_REQs the child logged since the mark
asks() { sed -n "$((mark + 1)),\$p" "$LOG2" | grep -c "evil $1: FOLLOW_REQ"; }
tb_log "2b. HT_TEST_EVIL_CHILD=nocert"
restart_h2 HT_TEST_EVIL_CHILD=nocert
mark=$(wc -l <"$LOG2")
who_h2 1500
not_believed nocert "certificate not held"
n=$(asks nocert)
[ "$n" = 2 ] && ok "2b. nocert: asked twice (the second time without \"have\"), no more" ||
	bad "2b. nocert: $n FOLLOW_REQs for one question, not 2"
tb_log "2b. HT_TEST_EVIL_CHILD=nocert_once"
restart_h2 HT_TEST_EVIL_CHILD=nocert_once
mark=$(wc -l <"$LOG2")
who_h2 1500
n=$(asks nocert_once)
complete && [ "$n" = 2 ] && ok "2b. nocert_once: the certificates fetched by asking again: complete from h1" ||
	bad "2b. nocert_once: $n FOLLOW_REQs, $(head -c 300 "$A")"
grep -q '/usr/bin/innocent' "$A" && bad "2b. nocert_once: innocent named"
mark=$(wc -l <"$LOG2")
who_h2 1500
h=$(sed -n "$((mark + 1)),\$p" "$LOG2" | sed -n 's/.*evil nocert_once: FOLLOW_REQ [0-9]*, have \([0-9]*\) characters.*/\1/p' | head -n 1)
complete && [ "$(asks nocert_once)" = 1 ] && [ "${h:-0}" -ge 12 ] &&
	ok "2b. held: the next FOLLOW_REQ names $h characters of certificate ids, complete" ||
	bad "2b. held: have '${h}', $(asks nocert_once) asks, $(head -c 200 "$A")"
# … and h1 left its certificate out of its part (the verdict keeps h1's "signed")
grep -q '"signed":{"v":2,"cert_id":"' "$A" && ! grep -q '"cert":"MII' "$A" &&
	ok "2b. held: h1's part names its certificate by id only" ||
	bad "2b. held: h1's part still carries a certificate: $(grep -o '"signed":{[^}]*' "$A" | head -c 300)"

grep -q "judge: [0-9]* died of signal" "$LOG2" &&
	bad "2. the judge died (its seccomp filter?): $(grep 'judge: [0-9]* died' "$LOG2" | head -n 2)"

tb_log "3. the honest child again"
restart_h2 HT_TEST_EVIL_CHILD=
who_h2 1500
complete && ok "3. honest child: complete from h1" ||
	bad "3. honest child: not complete: $(head -c 300 "$A")"
[ $fails = 0 ] || { echo "$fails FAIL-CASE"; exit 1; }
echo "all ok"
