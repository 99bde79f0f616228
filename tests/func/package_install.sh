#!/bin/sh
# package_install.sh — the Debian package on a host (issue 16, Done-when 2, and
# 6 with the installed programs). Builds it (`make deb`) when
# $BUILD/hoptrace_*.deb is missing or older than its sources. Inside the testbed's private mount namespace, overlays
# cover /usr (and so /lib), /etc and /var: `dpkg -i` and `dpkg --purge` change
# nothing of the machine. Then on testbed host h1, with the packaged
# /etc/hoptrace (the host's own testbed config is taken away):
#   - the daemons run from their installed paths with the command lines of
#     their installed units (ExecStart=), as systemd would start them;
#   - `hoptrace enable` (installed) puts the packaged library into
#     /etc/ld.so.preload; a shell's chain and a curl's decision are traced;
#   - the packaged policy, with one refusing rule put on top, accepts h2:8000
#     and refuses h2:8001 (TCP reset); `hoptrace log` finds the audit log from
#     the configuration; `hoptrace metrics` parses (promcheck.py, strict and
#     prometheus_client) with decision counts equal to the audit log's;
#   - logrotate with the shipped config rotates the audit log and hopguard
#     writes the next decision to the new file (SIGHUP through its pid file);
#   - hopguard killed with SIGKILL leaves its iptables rules; the unit's
#     ExecStopPost command removes them (IPv4 and IPv6);
#   - postinst gives fleet files already there their modes: the directory 0755,
#     the TLS key root:hoptrace 0640, the part-signing key root 0600;
#   - `dpkg --purge` removes /etc/ld.so.preload's entry (prerm), every file
#     the package installed, its conffiles, /var/log/hoptrace and the systemd
#     enablement; what is left in the overlays is dpkg's own bookkeeping.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_need dpkg dpkg-deb curl
deb=$(ls "$TB_B"/hoptrace_*_"$(dpkg --print-architecture)".deb 2>/dev/null | tail -n 1)
# (re)build when there is none or a source is newer than it
if ! tb_inside && { [ -z "$deb" ] || [ -n "$(cd "$HT_TOP" && find Makefile packaging docs/man collector guard \
	preload include -newer "$deb" -type f 2>/dev/null | head -n 1)" ]; }; then
	echo "== package missing or older than its sources: make deb"
	(cd "$HT_TOP" && make --no-print-directory deb BUILD="$BUILD") >"${TMPDIR:-/tmp}/package_install.make.log" 2>&1 ||
		{ tail -n 30 "${TMPDIR:-/tmp}/package_install.make.log"; tb_fail "make deb"; }
fi
tb_init "$@"
deb=$(ls "$TB_B"/hoptrace_*_"$(dpkg --print-architecture)".deb 2>/dev/null | tail -n 1)
[ -f "$deb" ] || tb_fail "no package in $TB_B"
tb_log "package $deb"
ok() { echo "ok   $*"; }

# ---- overlays over /usr and /var (the testbed already has one over /etc) ------
for d in usr var; do
	mkdir -p "$TB_T/$d-up" "$TB_T/$d-work"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$TB_T/$d-up,workdir=$TB_T/$d-work" "/$d" ||
		tb_fail "overlay on /$d"
done
snap() { # the overlays' upper dirs, as a sorted list
	for d in etc-upper usr-up var-up; do (cd "$TB_T/$d" && find . -mindepth 1 | sed "s|^\.|$d|"); done | sort
}
snap >"$TB_T/before.list"

# fleet files already there, as hoptrace ca issue wrote them and a careless copy left them
FD=/etc/hoptrace/fleet
mkdir -p "$FD" && chmod 0700 "$FD" && echo key >"$FD/host.key" && echo key >"$FD/host.sign.key" &&
	chmod 0600 "$FD/host.key" && chmod 0644 "$FD/host.sign.key" || tb_fail "fleet files"
DEBIAN_FRONTEND=noninteractive dpkg -i "$deb" >"$TB_T/dpkg-i.log" 2>&1 || { cat "$TB_T/dpkg-i.log"; tb_fail "dpkg -i"; }
ok "dpkg -i $(basename "$deb")"
m="$(stat -c '%a %U:%G' "$FD") / $(stat -c '%a %U:%G' "$FD/host.key") / $(stat -c '%a %U:%G' "$FD/host.sign.key")"
[ "$m" = "755 root:root / 640 root:hoptrace / 600 root:root" ] &&
	ok "postinst: fleet dir 0755, TLS key 0640 root:hoptrace (policyd's SIGHUP), part-signing key 0600 ($m)" ||
	tb_fail "postinst's fleet modes: $m"
rm -rf "$FD"
sh "$HT_TOP/packaging/next-steps.sh" "$HT_TOP/$BUILD/" | sed "s|$HT_TOP/$BUILD/||g" >"$TB_T/steps.run"
/usr/libexec/hoptrace/next-steps >"$TB_T/steps.pkg"
cmp -s "$TB_T/steps.run" "$TB_T/steps.pkg" && grep -qF -f "$TB_T/steps.pkg" "$TB_T/dpkg-i.log" &&
	[ "$(grep -cF -f "$TB_T/steps.pkg" "$TB_T/dpkg-i.log")" = "$(wc -l <"$TB_T/steps.pkg")" ] &&
	ok "postinst printed the same next steps as make run" || { cat "$TB_T/dpkg-i.log"; tb_fail "next steps differ"; }
[ -e /etc/ld.so.preload ] && grep -q libhoptrace /etc/ld.so.preload && tb_fail "installing touched /etc/ld.so.preload"
ok "installing left /etc/ld.so.preload alone"
dpkg -L hoptrace >"$TB_T/files.list"
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
LIB=/usr/lib/$ma/hoptrace/libhoptrace.so
for f in /usr/bin/hoptrace /usr/sbin/hoptraced /usr/sbin/hopguard /usr/sbin/hoptrace-policyd "$LIB" \
	/etc/hoptrace/hoptrace.conf /etc/hoptrace/policy.acl /etc/logrotate.d/hoptrace \
	/lib/systemd/system/hoptraced.service /lib/systemd/system/hopguard.service \
	/lib/systemd/system/hoptrace-policyd.service /lib/systemd/system/hoptrace-metrics.service \
	/lib/systemd/system/hoptrace-metrics.timer /usr/libexec/hoptrace/hopguard-cleanup \
	/usr/share/man/man8/hoptraced.8.gz /usr/share/man/man8/hopguard.8.gz \
	/usr/share/man/man8/hoptrace-policyd.8.gz /usr/share/man/man8/hoptrace.8.gz \
	/usr/share/man/man5/hoptrace.conf.5.gz /usr/share/man/man5/hoptrace-acl.5.gz; do
	[ -e "$f" ] || tb_fail "not installed: $f"
done
ok "programs, library (multiarch), units, man pages, config installed"
for c in /etc/hoptrace/hoptrace.conf /etc/hoptrace/policy.acl /etc/logrotate.d/hoptrace; do
	grep -qx " *$c [0-9a-f]*" /var/lib/dpkg/info/hoptrace.conffiles 2>/dev/null ||
		dpkg-query -W -f='${Conffiles}\n' hoptrace | grep -q " $c " || tb_fail "$c is not a conffile"
done
ok "config files are conffiles"
[ "$(stat -c '%a %U:%G' /var/log/hoptrace)" = "750 root:adm" ] && ok "/var/log/hoptrace 0750 root:adm" ||
	tb_fail "/var/log/hoptrace: $(stat -c '%a %U:%G' /var/log/hoptrace 2>&1)"
[ -L /etc/systemd/system/multi-user.target.wants/hoptraced.service ] && ok "hoptraced.service enabled (not started: no systemd here)" ||
	tb_fail "hoptraced.service not enabled"
[ -e /etc/systemd/system/multi-user.target.wants/hopguard.service ] && tb_fail "hopguard enabled by the package"
[ -L /etc/systemd/system/timers.target.wants/hoptrace-metrics.timer ] && ok "hoptrace-metrics.timer enabled" ||
	tb_fail "hoptrace-metrics.timer not enabled"

# ---- a host with the packaged configuration -----------------------------------
tb_switch
tb_host h1 10.231.0.1 fd00:231::1
tb_host h2 10.231.0.2 fd00:231::2
rm -rf "/etc/netns/$(tb_ns h1)/hoptrace"      # h1 sees the packaged /etc/hoptrace
tb_web h2 8000
tb_web h2 8001
# one refusing rule on top of the packaged "accept everything"
sed -i '/^\*, \*, \*, \*, black,$/i *, *, *, 8001, black, *' /etc/hoptrace/policy.acl
rl=$(grep -n '^\*, \*, \*, 8001, black, \*$' /etc/hoptrace/policy.acl | cut -d: -f1)
/usr/sbin/hoptraced -n && /usr/sbin/hopguard -n || tb_fail "packaged config does not check"

execstart() { # UNIT [KEY] : the unit's ExecStart= (or KEY=) command line
	sed -n "s/^${2:-ExecStart}=//p" "/lib/systemd/system/$1.service" | head -n 1
}
mkdir -p /run/hoptrace /run/hopguard && chmod 0700 /run/hoptrace  # RuntimeDirectory=
# $NOTIFY_SOCKET per daemon, as systemd gives it (with WATCHDOG_USEC=2 s)
for d in hoptraced hopguard; do
	"$TB_PY" -c 'import socket,sys,os
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(sys.argv[1])
f=open(sys.argv[2],"a",buffering=1)
while True: f.write(s.recv(4096).decode(errors="replace")+"\n")' "$TB_T/$d.notify" "$TB_T/$d.notify.log" &
	echo $! >>"$TB_T/pids"
done
sleep 0.2
# shellcheck disable=SC2046
_tb_bglog "$(tb_dir h1)/hoptraced.log" h1 env NOTIFY_SOCKET="$TB_T/hoptraced.notify" WATCHDOG_USEC=2000000 $(execstart hoptraced)
i=0; until tb_exec h1 /usr/bin/hoptrace status >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 50 ] || { tail "$(tb_dir h1)/hoptraced.log"; tb_fail "installed hoptraced did not answer"; }
	sleep 0.1
done
ok "hoptraced runs from /usr/sbin with: $(execstart hoptraced)"
_tb_bglog "$(tb_dir h1)/hopguard.log" h1 env NOTIFY_SOCKET="$TB_T/hopguard.notify" WATCHDOG_USEC=2000000 $(execstart hopguard)
i=0; until grep -q started "$(tb_dir h1)/hopguard.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 50 ] || { tail "$(tb_dir h1)/hopguard.log"; tb_fail "installed hopguard did not start"; }
	sleep 0.1
done
[ -s /run/hopguard/hopguard.pid ] || tb_fail "no /run/hopguard/hopguard.pid"
ok "hopguard runs from /usr/sbin with: $(execstart hopguard)"
for d in hoptraced hopguard; do
	i=0; until grep -q '^READY=1$' "$TB_T/$d.notify.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 30 ] || tb_fail "$d sent no READY=1"; sleep 0.1; done
	i=0; until grep -q '^WATCHDOG=1$' "$TB_T/$d.notify.log" 2>/dev/null; do
		i=$((i + 1)); [ $i -lt 30 ] || tb_fail "$d sent no WATCHDOG=1 within 3 s (WATCHDOG_USEC=2 s)"; sleep 0.1; done
	ok "$d: READY=1 and WATCHDOG=1 on \$NOTIFY_SOCKET"
done

# ---- the shim, enabled by the installed CLI -----------------------------------
tb_exec h1 /usr/bin/hoptrace enable >"$TB_T/enable.log" 2>&1 || { cat "$TB_T/enable.log"; tb_fail "hoptrace enable"; }
grep -qx "$LIB" /etc/ld.so.preload && ok "hoptrace enable: $LIB in /etc/ld.so.preload (overlay)" || tb_fail "preload: $(cat /etc/ld.so.preload)"
tb_exec h1 bash -c '/usr/bin/hoptrace chain $$ --json >"$0/self.json"; echo $$ >"$0/self.pid"' "$TB_T" ||
	tb_fail "hoptrace chain \$\$"
"$TB_PY" - "$TB_T/self.json" "$(cat "$TB_T/self.pid")" <<'PY' || tb_fail "chain of a shell on h1"
import json, sys, os
a = json.load(open(sys.argv[1])); pid = int(sys.argv[2]); t = a.get("tree") or {}
ok = a.get("ok") is True and t.get("pid") == pid and os.path.basename(t.get("exe", "")) == "bash" and t.get("seen") == "shim"
print("chain:", json.dumps(a)[:300]); sys.exit(0 if ok else 1)
PY
ok "a shell's chain, seen by the packaged shim"
n=$(tb_exec h1 /usr/bin/hoptrace status 2>/dev/null | sed -n 's/^shim.processes_with_this_shim: //p')
[ "${n:-0}" -ge 1 ] && ok "hoptrace status: $n process(es) carry the shim" || tb_fail "status shim count: '$n'"

h2=$(tb_ip h2)
tb_exec h1 curl -s -o /dev/null --max-time 5 "http://$h2:8000/" || tb_fail "curl to h2:8000 (accepted)"
tb_exec h1 curl -s -o /dev/null --max-time 5 "http://$h2:8001/"; rc=$?
[ $rc = 7 ] || tb_fail "curl to h2:8001: rc $rc (want 7: refused)"
ok "accepted h2:8000, refused h2:8001"
sleep 0.3
AUD=/var/log/hoptrace/audit.log
"$TB_PY" - "$AUD" "$h2" "$rl" <<'PY' || tb_fail "audit log"
import json, sys, os
rs = [json.loads(l) for l in open(sys.argv[1])]
acc = [r for r in rs if r["remote"] == sys.argv[2] + ":8000" and r["verdict"] == "accept"]
rej = [r for r in rs if r["remote"] == sys.argv[2] + ":8001" and r["verdict"] == "reject"
       and "policy.acl:" + sys.argv[3] in r.get("rule", "") + r.get("reason", "")]
def curl(r):
    return any(os.path.basename(p.get("exe", "")) == "curl" and p.get("seen") == "shim"
               for c in r.get("chains", []) for p in c.get("procs", []))
print(f"{len(rs)} lines, accept {len(acc)}, reject {len(rej)}")
ok = acc and rej and curl(acc[0]) and curl(rej[0])
if not ok:
    [print(json.dumps(r)[:400]) for r in rs]
sys.exit(0 if ok else 1)
PY
ok "audit log: both decisions, the chain names curl (seen by the shim), the refusing rule policy.acl:$rl"
tb_exec h1 /usr/bin/hoptrace log >"$TB_T/log.txt" 2>&1 && grep -q "REJECT.*$h2:8001" "$TB_T/log.txt" &&
	ok "hoptrace log (no path) reads $AUD from the configuration" || { cat "$TB_T/log.txt"; tb_fail "hoptrace log"; }

# ---- metrics --------------------------------------------------------------------
# the command of the installed hoptrace-metrics.service, as its timer runs it
mkdir -p /var/lib/prometheus/node-exporter
prom=/var/lib/prometheus/node-exporter/hoptrace.prom
# shellcheck disable=SC2046
tb_exec h1 $(execstart hoptrace-metrics) || tb_fail "hoptrace-metrics.service: $(execstart hoptrace-metrics)"
ls /var/lib/prometheus/node-exporter/ | grep -v '^hoptrace.prom$' && tb_fail "temporary file left in the textfile directory"
na=$("$TB_PY" -c 'import json,sys; print(sum(json.loads(l)["verdict"]=="accept" for l in open(sys.argv[1])))' "$AUD")
nr=$("$TB_PY" -c 'import json,sys; print(sum(json.loads(l)["verdict"]=="reject" for l in open(sys.argv[1])))' "$AUD")
"$TB_PY" "$TB_LIB/promcheck.py" "$prom" \
	'v("hoptrace_collector_up") == 1' 'v("hoptrace_collector_records_total") > 0' \
	'v("hoptrace_graph_processes_alive") > 0' \
	"v('hoptrace_guard_decisions_total', verdict='accept', mode='enforce') == $na" \
	"v('hoptrace_guard_decisions_total', verdict='reject', mode='enforce') == $nr" \
	"v('hoptrace_guard_decision_latency_seconds_count') == $na + $nr" \
	"v('hoptrace_guard_decisions_by_cause_total', cause='rule') == $na + $nr" ||
	{ cat "$prom"; tb_fail "metrics"; }
ok "hoptrace-metrics.service wrote $prom; it parses (strict + prometheus_client); $na accepted, $nr refused, as in the audit log"
rm -rf /var/lib/prometheus

# ---- logrotate: move, HUP, the next decision goes to the new file ---------------
if command -v logrotate >/dev/null 2>&1; then
	logrotate -s "$TB_T/logrotate.state" -f /etc/logrotate.d/hoptrace || tb_fail "logrotate"
	[ -f "$AUD.1" ] || tb_fail "audit log not rotated"
	tb_exec h1 curl -s -o /dev/null --max-time 5 "http://$h2:8000/" || tb_fail "curl after rotation"
	i=0; until [ -s "$AUD" ]; do i=$((i + 1)); [ $i -lt 30 ] || tb_fail "no decision in the new audit log (no reopen?)"; sleep 0.1; done
	ok "logrotate: $AUD.1 kept, hopguard writes the new $AUD (SIGHUP)"
fi

# ---- a guard that dies without cleaning up: ExecStopPost --------------------------
gp=$(cat /run/hopguard/hopguard.pid)
kill -KILL "$gp"; sleep 0.2
tb_exec h1 iptables -S HOPT_OUT >/dev/null 2>&1 || tb_fail "SIGKILL: the rules were already gone?"
tb_exec h1 sh -c "$(execstart hopguard ExecStopPost)" || tb_fail "ExecStopPost failed"
for t in iptables ip6tables; do
	tb_exec h1 "$t-save" | grep -q HOPT_OUT && tb_fail "$t: HOPT_OUT left after ExecStopPost"
done
ok "hopguard killed -9: ExecStopPost ($(execstart hopguard ExecStopPost)) removed its IPv4 and IPv6 rules"

# ---- purge -------------------------------------------------------------------------
kill "$(cat "$(tb_dir h1)/hoptraced.pid" 2>/dev/null)" 2>/dev/null
for p in $(ip netns pids "$(tb_ns h1)"); do
	case $(readlink "/proc/$p/exe") in /usr/sbin/hoptraced) kill "$p" ;; esac
done
sleep 0.3
DEBIAN_FRONTEND=noninteractive dpkg --purge hoptrace >"$TB_T/purge.log" 2>&1 || { cat "$TB_T/purge.log"; tb_fail "dpkg --purge"; }
grep -q libhoptrace /etc/ld.so.preload 2>/dev/null && tb_fail "purge left the shim in /etc/ld.so.preload"
ok "removal took the shim out of /etc/ld.so.preload (prerm: hoptrace disable)"
left=""
while read -r f; do
	# shared directories (/usr/bin, /etc/logrotate.d) stay; ours must go
	case $f in *hoptrace*) ;; *) [ -d "$f" ] && continue ;; esac
	[ -e "$f" ] && left="$left $f"
done <"$TB_T/files.list"
[ -z "$left" ] || tb_fail "purge left installed files:$left"
for f in /etc/hoptrace /var/log/hoptrace /etc/ld.so.preload-hoptrace.bak \
	/etc/systemd/system/multi-user.target.wants/hoptraced.service \
	/etc/systemd/system/timers.target.wants/hoptrace-metrics.timer /var/lib/dpkg/info/hoptrace.list; do
	[ -e "$f" ] && tb_fail "purge left $f"
done
ok "purge removed every installed file, the conffiles, /var/log/hoptrace, the enablement"
# what is left in the overlays: dpkg's and the triggers' bookkeeping only
snap >"$TB_T/after.list"
comm -13 "$TB_T/before.list" "$TB_T/after.list" | grep -Ev \
	'^var-up/(lib/dpkg|log|cache/(man|debconf|ldconfig)|lib/systemd/deb-systemd-helper|lib/systemd(/deb-systemd-user-helper-enabled)?$|lib/systemd$|lib$|cache$)|^etc-upper/(logrotate\.d$|ld\.so\.(cache|preload)$|systemd(/system(/(multi-user|timers)\.target\.wants)?)?$|netns|hosts$|passwd|group|shadow|gshadow|subuid|subgid|ssh)|^usr-up/(share(/man(/man[58])?|/doc|/lintian(/overrides)?)?|lib(/systemd(/system)?|/'"$ma"')?|libexec|bin|sbin|share/man/index\.db)$' \
	>"$TB_T/leftover" || true
# directories dpkg created and removed again leave an empty copied-up directory
# in the upper dir (an overlay artefact); anything else is a leftover
if [ -s "$TB_T/leftover" ]; then
	cat "$TB_T/leftover"; tb_fail "files left in the overlays after purge"
fi
ok "nothing of the package left in /usr, /etc, /var"
echo "PASS package_install"
