#!/bin/sh
# kev_fallback.sh — the collector without its kernel event source works as
# before and says why (docs/collector.md "Kernel events", issue 13 "Graceful
# without BPF"):
#   off     h1 with `kernel_events = off`: the log says so once, status shows
#           state off with the reason, kev-dump has no events, and a chain is
#           answered as without the source
#   denied  h2 (auto) started without CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN (a
#           container's root): the load fails; the collector says once at start
#           that kernel events are unavailable and why, status shows it
#           (unavailable, the reason), and it answers chains as before
#   on      h3 with `kernel_events = on` and the same missing privileges: the
#           collector refuses to start and says why
#   pidns   h4 (auto) started in a pid namespace of its own (a container): the
#           programs' pids are the kernel's, not the collector's; the load's
#           self-test (a fork of its own, end to end) finds no event naming it,
#           and the source is unavailable with that reason — never on with
#           pids that name other processes
#   config  `kernel_events` other than auto|on|off and a ring size that is not
#           a power of two from 4 to 65536 KiB are refused by `hoptraced -n`
# None of this needs BPF to work here; the "on" case with privileges is
# kev_isolation.sh's.
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
tb_init "$@"
tb_need setpriv python3
tb_switch
tb_host h1 10.231.0.1
tb_host h2 10.231.0.2
tb_host h3 10.231.0.3
tb_host h4 10.231.0.4

# a hoptraced without the privileges BPF needs: dropped from the bounding set,
# root's exec gets none of them
NOCAP=$TB_T/hoptraced-nocap
cat >"$NOCAP" <<EOC
#!/bin/sh
exec setpriv --bounding-set -bpf,-perfmon,-sys_admin "$TB_HOPTRACED" "\$@"
EOC
chmod 0755 "$NOCAP"

kconf() { # HOST KEY VALUE: into [collector]
	sed -i "s|^\[collector\]\$|[collector]\n$2 = $3|" "$(tb_conf "$1")"
}
status_of() { tb_exec "$1" "$TB_HOPTRACE" status | sed -n "s/^kernel_events\.$2: //p"; }
chain_ok() { # HOST: a chain of a process of its own is answered
	tb_bg "$1" sleep 300
	_p=$TB_LAST
	sleep 0.3
	tb_exec "$1" "$TB_HOPTRACE" chain "$_p" --json >"$TB_T/chain-$1.json" ||
		{ cat "$TB_T/chain-$1.json"; return 1; }
	"$TB_PY" -c 'import json,sys
a = json.load(open(sys.argv[1]))
ps = [p for c in a.get("chains", []) for p in c.get("procs", [])]
sys.exit(0 if a.get("ok") and any(p.get("pid") == int(sys.argv[2]) for p in ps) else 1)' \
		"$TB_T/chain-$1.json" "$_p" || { cat "$TB_T/chain-$1.json"; return 1; }
}
rc=0
bad() { echo "    not: $*"; rc=1; }

tb_log "off: kernel_events = off"
kconf h1 kernel_events off
tb_collector h1
[ "$(status_of h1 state)" = off ] || bad "h1 state is '$(status_of h1 state)', want off"
[ "$(status_of h1 reason)" = "kernel_events = off" ] || bad "h1 reason is '$(status_of h1 reason)'"
[ "$(status_of h1 events)" = 0 ] || bad "h1 counted $(status_of h1 events) events with the source off"
[ -z "$(status_of h1 accept_events)" ] || bad "h1 shows accept_events with the source off"
n=$(tb_exec h1 "$TB_HOPTRACE" kev-dump | wc -l)
[ "$n" = 0 ] || bad "h1 kev-dump printed $n events"
[ "$(grep -c 'kernel events: off' "$(tb_dir h1)/hoptraced.log")" = 1 ] || bad "h1's log does not say 'kernel events: off' once"
chain_ok h1 || bad "h1 answered no chain"

tb_log "denied: auto without CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN"
TB_HOPTRACED=$NOCAP tb_collector h2
st=$(status_of h2 state) why=$(status_of h2 reason)
echo "    h2: state $st, reason: $why"
[ "$st" = unavailable ] || bad "h2 state is '$st', want unavailable"
case $why in
"load (needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN): Operation not permitted") ;;
"built without BPF support"*) echo "    (this build has no BPF support: the stub's reason)" ;;
*) bad "h2's reason '$why' does not say the load was not permitted" ;;
esac
n=$(grep -c 'kernel events: unavailable' "$(tb_dir h2)/hoptraced.log")
[ "$n" = 1 ] || bad "h2's log says 'kernel events: unavailable' $n times, want once"
grep 'kernel events' "$(tb_dir h2)/hoptraced.log" | sed 's/^/    h2 log: /'
chain_ok h2 || bad "h2 answered no chain"
sleep 1.2 # a timer tick: still one line
n=$(grep -c 'kernel events' "$(tb_dir h2)/hoptraced.log")
[ "$n" = 1 ] || bad "h2 logged about kernel events $n times"

tb_log "on: kernel_events = on without the privileges"
kconf h3 kernel_events on
tb_exec h3 "$NOCAP" -d -f /etc/hoptrace/hoptrace.conf >"$TB_T/h3.out" 2>&1 &
p=$!
i=0
while kill -0 $p 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $p 2>/dev/null; then
	kill $p
	bad "h3's collector runs with kernel_events = on and no BPF"
else
	wait $p; r=$?
	[ $r != 0 ] || bad "h3's collector exited 0"
	grep -q 'kernel events: cannot load (kernel_events = on)' "$TB_T/h3.out" ||
		bad "h3 does not say why: $(tail -n 2 "$TB_T/h3.out")"
	sed 's/^/    h3: /' "$TB_T/h3.out" | tail -n 1
fi

tb_log "pidns: auto in a pid namespace of its own"
NOPID=$TB_T/hoptraced-pidns
cat >"$NOPID" <<EOC
#!/bin/sh
exec unshare --pid --fork --mount-proc "$TB_HOPTRACED" "\$@"
EOC
chmod 0755 "$NOPID"
TB_HOPTRACED=$NOPID tb_collector h4
st=$(status_of h4 state) why=$(status_of h4 reason)
echo "    h4: state $st, reason: $why"
[ "$st" = unavailable ] || bad "h4 (own pid namespace) state is '$st', want unavailable"
case $why in
"self-test: no fork event"*|"built without BPF support"*) ;;
*) bad "h4's reason '$why' is not the self-test's" ;;
esac

tb_log "config: values refused"
for kv in "kernel_events = maybe" "kernel_events_ring_kb = 1000" "kernel_events_ring_kb = 2" \
	"kernel_events_ring_kb = 131072" "kernel_events_accept = maybe" \
	"kernel_events_ring_kb = 64" "kernel_events_accept = on"; do
	printf '[collector]\n%s\n' "$kv" >"$TB_T/c.conf"
	out=$("$TB_HOPTRACED" -n -f "$TB_T/c.conf" 2>&1); r=$?
	case $kv in
	*"= 64"|*"accept = on") [ $r = 0 ] || bad "'$kv' refused: $out" ;;
	*) [ $r != 0 ] || bad "'$kv' accepted"; echo "    $kv: $out" ;;
	esac
done

[ $rc = 0 ] || tb_fail "the collector without kernel events"
echo "PASS: off, denied and on without privileges behave as documented"
