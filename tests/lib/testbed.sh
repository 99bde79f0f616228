# tests/lib/testbed.sh — the multi-host testbed (POSIX sh, dash-compatible).
# Sourced by tests/func/*.sh and tests/bench/*.sh:
#
#   . "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/testbed.sh"
#   tb_init "$@"                 # re-runs the script in a private mount namespace
#   tb_switch
#   tb_host h1 10.231.0.1 fd00:231::1
#   tb_host h2 10.231.0.2 fd00:231::2
#   tb_sshd h1; tb_sshd h2
#   tb_exec h1 ssh h2 true || tb_fail "ssh h1->h2"
#
# Isolation: tb_init re-executes the calling script under
# `unshare -m --propagation private`; inside, a private tmpfs covers /run (so
# /run/netns, /run/sshd, control sockets and the temp dir $TB_T all vanish with the
# mount namespace) and an overlay covers /etc (lowerdir=/etc): /etc/hosts,
# /etc/passwd (useradd htuser), /etc/ssh/ssh_config, /etc/ld.so.preload and
# /etc/netns/* are written there only. The real /etc, the root network namespace and
# its firewall are never touched. Every host is a network namespace named
# ht<PID>-NAME on a bridge in a "switch" namespace. Commands run in a host through
# tb_exec (ip netns exec + a private /tmp and /run/screen per host: tmux and screen
# sockets do not collide between hosts).
#
# Cleanup (trap on EXIT, HUP, INT, TERM): every process of every host namespace
# (`ip netns pids`), every process tb_bg started, every other process still in the
# testbed's mount namespace, then the namespaces; the temp dir goes with the tmpfs.
# TB_KEEP=DIR copies the temp dir (logs, configs) to DIR before it goes.
#
# Exit status conventions: tb_fail → 1, tb_skip → 77 (tests/run.sh prints the
# last line as the reason).

: "${HT_TOP:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${BUILD:=build}"
TB_B=$HT_TOP/$BUILD
TB_LIB=$HT_TOP/tests/lib
TB_SHIM=$TB_B/libhoptrace.so
TB_HOPTRACED=${HOPTRACED:-$TB_B/hoptraced}
TB_HOPTRACE=${HOPTRACE:-$TB_B/hoptrace}
TB_HOPGUARD=${HOPGUARD:-$TB_B/hopguard}
TB_POLICYD=${POLICYD:-$TB_B/hoptrace-policyd}
TB_HELPERS=$TB_B/tests/helpers
TB_PY=/usr/bin/python3
[ -x "$TB_PY" ] || TB_PY=python3

tb_log() { echo "== $*"; }
tb_fail() { echo "FAIL: $*"; exit 1; }
tb_skip() { echo "SKIP: $*"; exit 77; }
tb_inside() { [ "${TB_INNER:-}" = "$$" ]; }

# tb_need CMD... : skip the test when a command is missing
tb_need() {
	for _c in "$@"; do
		command -v "$_c" >/dev/null 2>&1 || tb_skip "$_c missing (packaging/deps.sh)"
	done
}

# ---- tb_init ARGS... -------------------------------------------------------
tb_init() {
	[ "$(id -u)" = 0 ] || tb_skip "needs root (network namespaces, mounts)"
	tb_need unshare ip mount umount ss useradd usermod ssh-keygen
	if ! tb_inside; then
		# exec keeps the pid: the inner run knows itself by TB_INNER=$$. Fds
		# above 2 inherited from whoever started the test are closed: every
		# host process would hold them, a bogus channel between all of them.
		TB_INNER=$$ exec "$TB_PY" -c 'import os, sys
os.closerange(3, 1 << 20)
os.execvp(sys.argv[1], sys.argv[1:])' unshare -m --propagation private -- sh "$0" "$@"
		tb_fail "unshare failed"
	fi
	unset TB_INNER_DONE
	TB_P=ht$$
	TB_HOSTS=""
	TB_SW=""
	TB_RUNDIR_REAL=$(readlink -f /run)
	mount -t tmpfs -o mode=0755,size=512m "tb-$TB_P" /run || tb_fail "tmpfs on /run"
	TB_T=/run/$TB_P
	mkdir -p "$TB_T/etc-upper" "$TB_T/etc-work" "$TB_T/h" "$TB_T/ssh" || tb_fail "mkdir $TB_T"
	chmod 0755 "$TB_T"
	: >"$TB_T/pids"
	TB_MNTNS=$(readlink /proc/$$/ns/mnt)
	trap '_tb_cleanup' EXIT
	trap 'exit 129' HUP
	trap 'exit 130' INT
	trap 'exit 143' TERM
	mount -t overlay overlay -o "lowerdir=/etc,upperdir=$TB_T/etc-upper,workdir=$TB_T/etc-work" /etc ||
		tb_fail "overlay on /etc"
	mkdir -p /etc/hoptrace /etc/netns /run/netns /run/sshd /run/screen || tb_fail "mkdir in overlay"
	# the inquiry child's own system user, as the package makes it (not nobody:
	# attack tests run their attacker as nobody)
	id hoptrace >/dev/null 2>&1 || useradd -r -M -d /nonexistent -s /usr/sbin/nologin hoptrace ||
		tb_fail "useradd hoptrace"
	chmod 0755 /run/sshd
	chmod 1777 /run/screen
	rm -f /etc/ld.so.preload
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >/etc/hosts
	export HT_TOP BUILD TB_T TB_P
	tb_log "testbed $TB_P in $TB_T"
}

_tb_kill_all() { # SIGNAL
	for _p in $(cat "$TB_T/pids" 2>/dev/null); do kill "-$1" "$_p" 2>/dev/null; done
	for _n in $TB_HOSTS $TB_SW; do
		for _p in $(ip netns pids "$_n" 2>/dev/null); do kill "-$1" "$_p" 2>/dev/null; done
	done
	# anything else left in this mount namespace (not this shell)
	_l=""
	for _d in /proc/[0-9]*; do
		_p=${_d#/proc/}
		[ "$_p" = $$ ] && continue
		[ "$(readlink "$_d/ns/mnt" 2>/dev/null)" = "$TB_MNTNS" ] && _l="$_l $_p"
	done
	for _p in $_l; do kill "-$1" "$_p" 2>/dev/null; done
}

_tb_cleanup() {
	_rc=$?
	trap '' HUP INT TERM
	trap - EXIT
	[ -n "${TB_KEEP:-}" ] && { mkdir -p "$TB_KEEP" && cp -a "$TB_T/." "$TB_KEEP/" 2>/dev/null; }
	_tb_kill_all TERM
	_i=0
	while [ $_i -lt 10 ]; do
		_left=""
		for _n in $TB_HOSTS $TB_SW; do _left="$_left$(ip netns pids "$_n" 2>/dev/null)"; done
		[ -z "$_left" ] && break
		sleep 0.1; _i=$((_i + 1))
	done
	_tb_kill_all KILL
	sleep 0.05
	for _n in $TB_HOSTS $TB_SW; do ip netns del "$_n" 2>/dev/null; done
	cd /
	umount -l /etc 2>/dev/null
	umount -l /run 2>/dev/null
	exit $_rc
}

# ---- hosts -----------------------------------------------------------------
tb_ns() { echo "$TB_P-$1"; }               # NAME -> netns name
tb_dir() { echo "$TB_T/h/$1"; }            # NAME -> the host's private dir

# tb_switch : the switch namespace with bridge br0
tb_switch() {
	TB_SW=$TB_P-sw
	ip netns add "$TB_SW" || tb_fail "ip netns add $TB_SW"
	ip -n "$TB_SW" link set lo up
	ip -n "$TB_SW" link add br0 type bridge || tb_fail "bridge"
	ip -n "$TB_SW" link set br0 up
}

# tb_host NAME IPV4 [IPV6] : a host namespace on the switch
tb_host() {
	[ -n "$TB_SW" ] || tb_switch
	_n=$1 _v4=$2 _v6=${3:-}
	_ns=$(tb_ns "$_n") _d=$(tb_dir "$_n")
	mkdir -p "$_d/tmp" "$_d/screen" "$_d/www" || tb_fail "mkdir $_d"
	chmod 1777 "$_d/tmp" "$_d/screen"
	# a host's private /tmp must not hide the tree under test (CI may clone
	# into /tmp): bind it at the same path inside
	case $HT_TOP in
	/tmp/*)
		mkdir -p "$_d/tmp/${HT_TOP#/tmp/}" &&
			mount --bind "$HT_TOP" "$_d/tmp/${HT_TOP#/tmp/}" || tb_fail "bind $HT_TOP into $_d/tmp"
		;;
	esac
	ip netns add "$_ns" || tb_fail "ip netns add $_ns"
	TB_HOSTS="$TB_HOSTS $_ns"
	ip -n "$_ns" link set lo up
	ip -n "$TB_SW" link add "v-$_n" type veth peer name eth0 netns "$_ns" || tb_fail "veth for $_n"
	ip -n "$TB_SW" link set "v-$_n" master br0 up
	ip -n "$_ns" addr add "$_v4/24" dev eth0 || tb_fail "address $_v4"
	[ -n "$_v6" ] && { ip -n "$_ns" addr add "$_v6/64" dev eth0 nodad || tb_fail "address $_v6"; }
	ip -n "$_ns" link set eth0 up
	echo "$_v4" >"$_d/ipv4"; echo "$_v6" >"$_d/ipv6"
	ip netns exec "$_ns" readlink /proc/self/ns/net >"$_d/netns"
	printf '%s\t%s\n' "$_v4" "$_n" >>/etc/hosts
	[ -n "$_v6" ] && printf '%s\t%s\n' "$_v6" "$_n" >>/etc/hosts
	echo "hello from $_n" >"$_d/www/index.html"
	mkdir -p "/etc/netns/$_ns/hoptrace" "/run/hoptrace-$_ns"
	chmod 0700 "/run/hoptrace-$_ns"
	# the host's fleet identity, as a person makes it: hoptrace ca issue, then
	# the four files and the CA into its /etc/hoptrace/fleet
	tb_fleet
	_fd=/etc/netns/$_ns/hoptrace/fleet
	mkdir -p "$_fd" && chmod 0700 "$_fd" || tb_fail "mkdir $_fd"
	"$TB_HOPTRACE" ca issue "$TB_T/fleet" "$_n" "$_v4" ${_v6:+"$_v6"} --out "$_d" >/dev/null ||
		tb_fail "hoptrace ca issue $_n"
	for _f in crt key sign.crt sign.key; do cp "$_d/$_n.$_f" "$_fd/host.$_f" || tb_fail "install $_n.$_f"; done
	cp "$TB_T/fleet/ca.crt" "$TB_T/fleet/crl.pem" "$_fd/" || tb_fail "install ca.crt"
	chmod 0600 "$_fd/host.key" "$_fd/host.sign.key"
	cat >"/etc/netns/$_ns/hoptrace/hoptrace.conf" <<EOC
# testbed host $_n (netns $_ns)
[collector]
hostname = $_n
control = /run/hoptrace-$_ns/control.sock
retention = 600s
history_window = 60s

[fleet]
ca = /etc/hoptrace/fleet/ca.crt
cert = /etc/hoptrace/fleet/host.crt
key = /etc/hoptrace/fleet/host.key
sign_cert = /etc/hoptrace/fleet/host.sign.crt
sign_key = /etc/hoptrace/fleet/host.sign.key
crl = /etc/hoptrace/fleet/crl.pem

[inquiry]
listen = https://[::]:8471
EOC
}

# tb_fleet : the testbed's fleet CA in $TB_T/fleet (hoptrace ca init), once
tb_fleet() {
	[ -f "$TB_T/fleet/ca.crt" ] && return 0
	[ -x "$TB_HOPTRACE" ] || tb_skip "hoptrace not built ($TB_HOPTRACE)"
	"$TB_HOPTRACE" ca init "$TB_T/fleet" >/dev/null || tb_fail "hoptrace ca init"
}

# tb_lab_plain NAME : NAME's inquiry service in lab_plain (plain HTTP, nothing signed
# or checked: benchmarks' baseline only); before tb_collector
tb_lab_plain() {
	_cf=$(tb_conf "$1")
	sed -i 's|^listen = https://|listen = http://|' "$_cf"
	sed -i 's|^\[fleet\]$|[fleet]\nlab_plain = yes|' "$_cf"
}

tb_conf() { echo "/etc/netns/$(tb_ns "$1")/hoptrace/hoptrace.conf"; }  # real path of NAME's config
tb_ip() { cat "$(tb_dir "$1")/ipv4"; }
tb_ip6() { cat "$(tb_dir "$1")/ipv6"; }

# tb_exec NAME CMD... : run CMD in host NAME (its netns, its /etc/hoptrace, /tmp, /run/screen)
tb_exec() {
	_n=$1; shift
	ip netns exec "$(tb_ns "$_n")" sh -c \
		'mount --rbind "$0/tmp" /tmp && mount --bind "$0/screen" /run/screen && exec "$@"' \
		"$(tb_dir "$_n")" "$@"
}

# tb_bg NAME CMD... : run CMD in the background in NAME; pid in $TB_LAST, output in
# $TB_LASTLOG; killed at cleanup
TB_NBG=0
tb_bg() {
	TB_NBG=$((TB_NBG + 1))
	_tb_bglog "$(tb_dir "$1")/bg$TB_NBG.log" "$@"
}
_tb_bglog() { # LOG NAME CMD...
	TB_LASTLOG=$1; shift
	_n=$1; shift
	# tb_exec inlined: a backgrounded shell function would leave a forked shell
	# as $!, so TB_LAST (and NAME's *.pid files) would not be the daemon's pid
	# and signals (SIGHUP reloads) would miss it; here every step execs
	ip netns exec "$(tb_ns "$_n")" sh -c \
		'mount --rbind "$0/tmp" /tmp && mount --bind "$0/screen" /run/screen && exec "$@"' \
		"$(tb_dir "$_n")" "$@" </dev/null >>"$TB_LASTLOG" 2>&1 &
	TB_LAST=$!
	echo "$TB_LAST" >>"$TB_T/pids"
}

# tb_wait_port NAME PORT [SECONDS] : until something listens on PORT in NAME
tb_wait_port() {
	_i=0 _max=$(( ${3:-5} * 20 ))
	until [ -n "$(ip netns exec "$(tb_ns "$1")" ss -Hltn "sport = :$2" 2>/dev/null)" ]; do
		_i=$((_i + 1))
		[ $_i -le $_max ] || return 1
		sleep 0.05
	done
}

# tb_pid_of NAME PATTERN : the newest pid in host NAME whose command line matches
# the extended regex PATTERN (prints it; status 1 if none)
tb_pid_of() {
	_want=$(cat "$(tb_dir "$1")/netns") _best="" _bst=-1
	for _d in /proc/[0-9]*; do
		[ "$(readlink "$_d/ns/net" 2>/dev/null)" = "$_want" ] || continue
		_c=$(tr '\0' ' ' <"$_d/cmdline" 2>/dev/null) || continue
		[ -n "$_c" ] || continue
		echo "$_c" | grep -Eq -- "$2" || continue
		_st=$(sed 's/.*) //' "$_d/stat" 2>/dev/null | cut -d' ' -f20)
		[ -n "$_st" ] || continue
		[ "$_st" -ge "$_bst" ] && { _bst=$_st; _best=${_d#/proc/}; }
	done
	[ -n "$_best" ] && echo "$_best"
}

# tb_wait_pid NAME PATTERN [SECONDS] : like tb_pid_of, waiting for it to appear
tb_wait_pid() {
	_i=0 _max=$(( ${3:-5} * 10 ))
	while :; do
		tb_pid_of "$1" "$2" && return 0
		_i=$((_i + 1)); [ $_i -le $_max ] || return 1
		sleep 0.1
	done
}

# Finding a test's own processes: the testbed has NO pid namespace, so a
# host-wide search by name (pgrep/pkill/killall/pidof) also finds, and kills,
# other runs' processes (CI and other worktrees run the same tests at the same
# time). Start from a pid the test recorded ($TB_LAST, $!, a *.pid file) or
# scope by the host's netns (tb_pid_of).

# tb_children PID : the pids of PID's children, one a line
tb_children() {
	if [ -r "/proc/$1/task/$1/children" ]; then
		cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d'
	else
		for _tch_d in /proc/[0-9]*; do
			# after the ") " closing the comm: state, then the ppid
			[ "$(sed 's/.*) //' "$_tch_d/stat" 2>/dev/null | cut -d' ' -f2)" = "$1" ] &&
				echo "${_tch_d#/proc/}"
		done
	fi
}

# tb_child_of PID PATTERN : the newest child of PID whose command line (its
# arguments joined by single spaces, with a trailing one) matches the extended
# regex PATTERN (prints it; status 1 if none)
tb_child_of() {
	_tco_best="" _tco_bst=-1
	for _tco_c in $(tb_children "$1"); do
		_tco_cmd=$(tr '\0' ' ' <"/proc/$_tco_c/cmdline" 2>/dev/null) || continue
		echo "$_tco_cmd" | grep -Eq -- "$2" || continue
		_tco_st=$(sed 's/.*) //' "/proc/$_tco_c/stat" 2>/dev/null | cut -d' ' -f20)
		[ -n "$_tco_st" ] || continue
		[ "$_tco_st" -ge "$_tco_bst" ] && { _tco_bst=$_tco_st; _tco_best=$_tco_c; }
	done
	[ -n "$_tco_best" ] && echo "$_tco_best"
}

# tb_wait_exit SECONDS PID... : until none of the PIDs runs (gone, or a zombie
# not reaped yet); status 1 if one still runs after SECONDS
tb_wait_exit() {
	_twe_i=0 _twe_max=$(( $1 * 10 )); shift
	while :; do
		_twe_run=""
		for _twe_p in "$@"; do
			_twe_s=$(sed 's/.*) //' "/proc/$_twe_p/stat" 2>/dev/null | cut -d' ' -f1)
			[ -n "$_twe_s" ] && [ "$_twe_s" != Z ] && _twe_run=1
		done
		[ -z "$_twe_run" ] && return 0
		_twe_i=$((_twe_i + 1)); [ $_twe_i -le $_twe_max ] || return 1
		sleep 0.1
	done
}

# ---- a test's own programs ----------------------------------------------------
# tb_build_helper OUT SOURCE [CCFLAG...] : builds SOURCE (a path below the tree,
# e.g. tests/helpers/seccomp_allow.c) into OUT, warnings as errors, mode 755
# (attack tests run it as nobody: $TB_T, not the build tree); the test fails
# when it does not build
tb_build_helper() {
	_tbh_o=$1 _tbh_s=$2; shift 2
	${CC:-cc} "$@" -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$_tbh_o" "$HT_TOP/$_tbh_s" ||
		tb_fail "cannot build $_tbh_s"
	chmod 755 "$_tbh_o"
}

# tb_build_static OUT SOURCE : the same, linked statically (a program the shim
# cannot see); SKIPs when this machine cannot link statically
tb_build_static() {
	${CC:-cc} -static -O2 -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$1" "$HT_TOP/$2" \
		2>"$TB_T/static.err" || tb_skip "cannot link statically: $(head -n 1 "$TB_T/static.err")"
	chmod 755 "$1"
}

# tb_kev_need NAME : SKIPs unless NAME's collector has its kernel event source on
tb_kev_need() {
	_tkn_st=$(tb_exec "$1" "$TB_HOPTRACE" status) || tb_fail "status"
	[ "$(echo "$_tkn_st" | sed -n 's/^kernel_events\.state: //p')" = on ] ||
		tb_skip "kernel events unavailable: $(echo "$_tkn_st" | sed -n 's/^kernel_events\.reason: //p')"
	return 0
}

# ---- the shim ---------------------------------------------------------------
# tb_preload on|off : /etc/ld.so.preload (overlay) naming the shim
tb_preload() {
	case $1 in
	on) [ -f "$TB_SHIM" ] || tb_skip "shim not built ($TB_SHIM)"
	    echo "$TB_SHIM" >/etc/ld.so.preload ;;
	off) rm -f /etc/ld.so.preload ;;
	*) tb_fail "tb_preload on|off" ;;
	esac
}

# ---- daemons ------------------------------------------------------------------
# tb_collector NAME : hoptraced -d in NAME with NAME's config (trace inquiry
# service on :8471, mTLS with NAME's fleet certificates); waits until
# `hoptrace status` answers (5 s)
tb_collector() {
	[ -x "$TB_HOPTRACED" ] || tb_skip "hoptraced not built ($TB_HOPTRACED)"
	_n=$1
	_tb_bglog "$(tb_dir "$_n")/hoptraced.log" "$_n" "$TB_HOPTRACED" -d -f /etc/hoptrace/hoptrace.conf
	echo "$TB_LAST" >"$(tb_dir "$_n")/hoptraced.pid"
	_i=0
	until tb_exec "$_n" "$TB_HOPTRACE" status >/dev/null 2>&1; do
		_i=$((_i + 1))
		if [ $_i -gt 50 ] || ! kill -0 "$TB_LAST" 2>/dev/null; then
			tail -n 20 "$(tb_dir "$_n")/hoptraced.log"
			tb_fail "collector on $_n did not answer 'hoptrace status' within 5 s"
		fi
		sleep 0.1
	done
}

# tb_guard NAME [KEY=VALUE...] : hopguard -d in NAME. Writes a [guard] section into
# NAME's config: queue_num 0, policy $(tb_dir NAME)/policy.acl (created empty = refuse
# all if absent), audit_log $(tb_dir NAME)/audit.log, plus the given keys (which
# replace defaults). Waits for "started" in its log (5 s).
tb_guard() {
	[ -x "$TB_HOPGUARD" ] || tb_skip "hopguard not built ($TB_HOPGUARD)"
	_n=$1; shift
	_d=$(tb_dir "$_n") _cf=$(tb_conf "$_n")
	[ -f "$_d/policy.acl" ] || : >"$_d/policy.acl"
	{
		echo; echo "[guard]"
		for _kv in "queue_num=0" "policy=$_d/policy.acl" "audit_log=$_d/audit.log"; do
			_k=${_kv%%=*}
			_over=0
			for _a in "$@"; do [ "${_a%%=*}" = "$_k" ] && _over=1; done
			[ $_over = 0 ] && echo "$_k = ${_kv#*=}"
		done
		for _a in "$@"; do echo "${_a%%=*} = ${_a#*=}"; done
	} >>"$_cf"
	_tb_bglog "$_d/hopguard.log" "$_n" "$TB_HOPGUARD" -d -f /etc/hoptrace/hoptrace.conf
	echo "$TB_LAST" >"$_d/hopguard.pid"
	_i=0
	until grep -q "started" "$_d/hopguard.log" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 50 ] || ! kill -0 "$TB_LAST" 2>/dev/null; then
			tail -n 20 "$_d/hopguard.log"; tb_fail "hopguard on $_n did not start"
		fi
		sleep 0.1
	done
}

# tb_policy_server NAME PORT ACLFILE : hoptrace-policyd on NAME:PORT over mutual TLS with
# NAME's fleet certificate (tb_host's /etc/hoptrace/fleet; the guards present theirs),
# dropping to user hoptrace; sets TB_POLICY_URL (https://IP:PORT)
tb_policy_server() {
	[ -x "$TB_POLICYD" ] || tb_skip "hoptrace-policyd not built"
	_n=$1 _port=$2 _acl=$3 _d=$(tb_dir "$1")
	cat >"$_d/policyd.conf" <<EOC
[policyd]
listen = https://0.0.0.0:$_port
policy = $_acl
user = hoptrace

[fleet]
ca = /etc/hoptrace/fleet/ca.crt
cert = /etc/hoptrace/fleet/host.crt
key = /etc/hoptrace/fleet/host.key
crl = /etc/hoptrace/fleet/crl.pem
EOC
	_tb_bglog "$_d/policyd.log" "$_n" "$TB_POLICYD" -d -f "$_d/policyd.conf"
	echo "$TB_LAST" >"$_d/policyd.pid"
	tb_wait_port "$_n" "$_port" || { tail -n 20 "$_d/policyd.log"; tb_fail "policyd on $_n"; }
	TB_POLICY_URL=https://$(tb_ip "$_n"):$_port
}

_tb_ssh_common() { # once: keys, sshd_config template, client config, htuser
	[ -f "$TB_T/ssh/id_ed25519" ] && return 0
	_s=$TB_T/ssh
	ssh-keygen -q -t ed25519 -N '' -f "$_s/ssh_host_ed25519_key" -C host || tb_fail "host key"
	ssh-keygen -q -t ed25519 -N '' -f "$_s/id_ed25519" -C testbed || tb_fail "client key"
	cp "$_s/id_ed25519.pub" "$_s/authorized_keys"
	mkdir -p "$TB_T/home"
	useradd -M -d "$TB_T/home/htuser" -s /bin/bash htuser 2>/dev/null ||
		id htuser >/dev/null 2>&1 || tb_fail "useradd htuser"
	usermod -p '*' htuser || tb_fail "usermod htuser"   # not locked: UsePAM no refuses '!'
	mkdir -p "$TB_T/home/htuser"
	chown htuser: "$TB_T/home/htuser" "$_s/id_ed25519"   # root reads it too
	chmod 0600 "$_s/id_ed25519"
	chmod 0644 "$_s/authorized_keys" "$_s/id_ed25519.pub"
	chmod 0755 "$_s" "$TB_T/home"
	mkdir -p /etc/ssh
	cat >/etc/ssh/ssh_config <<EOC
# testbed client config (overlay /etc)
Host *
	IdentityFile $_s/id_ed25519
	IdentitiesOnly yes
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	GlobalKnownHostsFile /dev/null
	LogLevel ERROR
	BatchMode yes
	ConnectTimeout 5
EOC
}

# tb_sshd NAME : /usr/sbin/sshd -D on port 22 in NAME (root by key, htuser by key)
tb_sshd() {
	tb_need /usr/sbin/sshd ssh
	_tb_ssh_common
	_n=$1 _d=$(tb_dir "$1")
	cat >"$_d/sshd_config" <<EOC
Port 22
ListenAddress 0.0.0.0
ListenAddress ::
HostKey $TB_T/ssh/ssh_host_ed25519_key
PidFile $_d/sshd.pid
AuthorizedKeysFile $TB_T/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PrintLastLog no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PermitUserEnvironment no
MaxStartups 100:30:200
Subsystem sftp internal-sftp
LogLevel INFO
EOC
	/usr/sbin/sshd -t -f "$_d/sshd_config" || tb_fail "sshd -t on $_n"
	_tb_bglog "$_d/sshd.log" "$_n" /usr/sbin/sshd -D -e -f "$_d/sshd_config"
	tb_wait_port "$_n" 22 || { tail -n 20 "$_d/sshd.log"; tb_fail "sshd on $_n did not listen"; }
}

# tb_ssh [-t] FROM TO CMD... : ssh from host FROM to TO (TO may be user@host);
# -t forces a pty (ssh -tt), else ssh -T
tb_ssh() {
	_t=-T
	[ "$1" = -t ] && { _t=-tt; shift; }
	_f=$1 _to=$2; shift 2
	tb_exec "$_f" ssh "$_t" "$_to" "$@"
}

# tb_web NAME PORT : python3 http.server on PORT (IPv4+IPv6) serving "hello from NAME"
tb_web() {
	_d=$(tb_dir "$1")
	_tb_bglog "$_d/web$2.log" "$1" "$TB_PY" -m http.server "$2" --bind :: --directory "$_d/www"
	tb_wait_port "$1" "$2" || { tail -n 20 "$_d/web$2.log"; tb_fail "web on $1:$2"; }
}

# tb_assert_chain ANSWER.json ARGS... : tests/lib/chainassert.py
tb_assert_chain() { "$TB_PY" "$TB_LIB/chainassert.py" "$@"; }
