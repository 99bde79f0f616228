#!/bin/sh
# packaging/run.sh start|stop|status — runs hoptrace on this host from the
# build tree (`make run` / `make stop`): the collector, and hopguard in monitor
# mode (decides and logs, never refuses). Config: /etc/hoptrace/hoptrace.conf
# if present, else packaging/hoptrace.conf. Pid files and logs: /run/hoptrace.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
B=$top/$BUILD
RUN=/run/hoptrace
CONF=/etc/hoptrace/hoptrace.conf
[ -f "$CONF" ] || CONF=$top/packaging/hoptrace.conf

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

start_one() { # name args...
	n=$1; shift
	if running "$n"; then echo "$n: already running (pid $(cat "$RUN/$n.pid"))"; return 0; fi
	setsid "$@" >>"$RUN/$n.log" 2>&1 </dev/null &
	echo $! >"$RUN/$n.pid"
	sleep 0.5
	if running "$n"; then echo "$n: started (pid $(cat "$RUN/$n.pid"), log $RUN/$n.log)"
	else echo "$n: failed to start; last lines of $RUN/$n.log:"; tail -n 5 "$RUN/$n.log"; rm -f "$RUN/$n.pid"; return 1; fi
}

stop_one() {
	n=$1
	if running "$n"; then
		p=$(cat "$RUN/$n.pid"); kill "$p"
		i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill -0 "$p" 2>/dev/null && { echo "$n: did not stop, killing"; kill -9 "$p"; }
		echo "$n: stopped"
	else
		echo "$n: not running"
	fi
	rm -f "$RUN/$n.pid"
}

case ${1:-} in
start)
	[ "$(id -u)" = 0 ] || { echo "run.sh: must be root" >&2; exit 1; }
	for p in hoptraced hopguard hoptrace; do
		[ -x "$B/$p" ] || { echo "run.sh: $B/$p not built (make)" >&2; exit 1; }
	done
	mkdir -p "$RUN" && chmod 0755 "$RUN"
	echo "config: $CONF"
	start_one hoptraced "$B/hoptraced" -d -f "$CONF" || exit 1
	# monitor mode: the guard's own config copy with monitor forced on, and a
	# policy / audit log that exist even on a fresh machine
	gconf=$RUN/hopguard.conf
	pol=$(sed -n 's/^[[:space:]]*policy[[:space:]]*=[[:space:]]*//p' "$CONF" | tail -n 1)
	if [ -z "$pol" ] || [ ! -f "$pol" ]; then
		pol=$RUN/policy.acl
		[ -f "$pol" ] || printf '# make run: allow everything (monitor mode logs what a real policy would do)\n*, *, *, *, black,\n' >"$pol"
	fi
	sed -e '/^[[:space:]]*monitor[[:space:]]*=/d' -e '/^[[:space:]]*policy[[:space:]]*=/d' "$CONF" |
		awk -v pol="$pol" '{print} /^\[guard\]/{print "monitor = yes"; print "policy = " pol}' >"$gconf"
	grep -q '^\[guard\]' "$gconf" || printf '[guard]\nmonitor = yes\npolicy = %s\n' "$pol" >>"$gconf"
	"$B/hopguard" -n -f "$gconf" >/dev/null || { echo "hopguard: bad configuration ($gconf)"; exit 1; }
	start_one hopguard "$B/hopguard" -d -f "$gconf" || exit 1
	alog=$(sed -n 's/^[[:space:]]*audit_log[[:space:]]*=[[:space:]]*//p' "$gconf" | tail -n 1)
	echo
	echo "hoptrace runs (guard in monitor mode: it logs decisions to ${alog:-/var/log/hoptrace/audit.log}, refuses nothing)."
	sh "$top/packaging/next-steps.sh" "$B/"
	echo "  stop:                      make stop"
	;;
stop)
	stop_one hopguard
	stop_one hoptraced
	;;
status)
	rc=0
	for n in hoptraced hopguard; do
		if running "$n"; then echo "$n: running (pid $(cat "$RUN/$n.pid"))"; else echo "$n: not running"; rc=3; fi
	done
	exit $rc
	;;
*)
	echo "usage: sh packaging/run.sh start|stop|status" >&2
	exit 2
	;;
esac
