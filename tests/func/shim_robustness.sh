#!/bin/sh
# shim_robustness: real programs give the same stdout and exit status with and
# without libhoptrace.so, whatever the collector does (reading, not listening,
# killed mid-run, flooded = never reading); with a reading collector (rec_sink)
# the expected record types arrive. Among the programs: ones that list their
# own descriptors (/proc/self/fd, a closefrom-style fcntl loop, in a fork
# child, an exec'd child, CPython's subprocess with close_fds) and ones that
# open descriptors up to a lowered RLIMIT_NOFILE — the shim keeps none between
# calls (issue 15, docs/shim.md "What the program can observe"); one that
# prints its signal mask and dispositions and its environment's names, and a
# vfork'd (subprocess) and an exec'd child's (sig_env); a vfork child that
# must make no system call of the shim's before its exec (strace); one whose
# thread opens files while another makes the shim ring its doorbell (fdrace:
# a momentary descriptor must never take the number the program gets); ones
# under a seccomp filter installed by syscall(SYS_seccomp) or inherited
# across exec (sandbox_sys, sandbox_exec: SIGSYS on socket/memfd_create). A setuid program is run through
# /etc/ld.so.preload inside a private mount namespace (overlay on /etc) and a
# private network namespace (its own abstract socket names).
set -u
top=${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 1
B=${BUILD:-build}
LIB=$top/$B/libhoptrace.so
SINK=$top/$B/tests/helpers/rec_sink
PROG=$top/$B/tests/helpers/shim_prog
NOMEMFD=$top/$B/tests/helpers/no_memfd
[ "$(id -u)" = 0 ] || { echo "needs root"; exit 77; }
for f in "$LIB" "$SINK" "$PROG" "$NOMEMFD"; do
	[ -e "$f" ] || { echo "missing $f (run make)"; exit 1; }
done
for c in python3 git tar make bash unshare setpriv passwd timeout mount; do
	command -v "$c" >/dev/null 2>&1 || { echo "missing $c"; exit 77; }
done

tmp=$(mktemp -d /tmp/ht_shimrob.XXXXXX) || exit 1
chmod 755 "$tmp"
bg=""
cleanup() {
	for p in $bg; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	umount "$tmp/ns_etc" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# the library as the setuid test sees it (a path every user can read)
cp "$LIB" "$tmp/libhoptrace.so" && chmod 644 "$tmp/libhoptrace.so"

# ---- the programs (each runs in a fresh $tmp/w; stdout must be stable) ----
cat >"$tmp/cmds" <<EOF
sh_pipes	sh -c 'seq 1 300 | sort -rn | head -5 | cat; echo \$(echo sub) done'
bash_pipes	bash -c 'for i in 1 2 3; do echo \$i; done | tr 1 x | while read l; do echo "<\$l>"; done; cat <(echo procsub); x=\$(ls / | wc -l); [ \$x -gt 0 ] && echo listed'
python	python3 -c 'import subprocess,socket,os; print(subprocess.run(["echo","py"],capture_output=True).stdout); r,w=os.pipe(); os.write(w,b"z"); print(os.read(r,1)); a,b=socket.socketpair(); a.send(b"q"); print(b.recv(1)); print(os.popen("echo popen").read().strip())'
git	sh -c 'git init -q . && echo a > f && git add f && GIT_AUTHOR_DATE="2020-01-01T00:00:00Z" GIT_COMMITTER_DATE="2020-01-01T00:00:00Z" git -c user.name=t -c user.email=t@e commit -q -m msg && git log --format="%H %s" && git status --short | wc -l'
tar	sh -c 'mkdir -p src/d && echo one > src/a && echo two > src/d/b && tar cf - src | (mkdir dst && tar xf - -C dst) && find dst | sort && cat dst/src/d/b'
make	sh -c 'printf "all: x y\nx:\n\techo built > x\ny: x\n\tcat x | tr a-z A-Z\n" > Makefile && make -s && make -s'
threads	$PROG threads 10
sigstorm	$PROG sigstorm 1500
clobber	$PROG clobber
spawners	$PROG spawners
connect	$PROG connect
fdlist	$PROG fdlist
forkwin	$PROG forkwin 3
sandbox	$PROG sandbox
sandbox_sys	$PROG sandbox_sys
sandbox_exec	$PROG sandbox_exec
fdrace	$PROG fdrace 2
vforkwin	$PROG vforkwin 40
vforkexec	$PROG vforkexec
fdlimit	$PROG fdlimit 64
fdlimit_low	$PROG fdlimit 12
forks	$PROG forks
sig_env	python3 -c 'import os,subprocess; st=lambda t: [l for l in t.splitlines() if l.startswith(("SigBlk","SigIgn","SigCgt"))]; print(st(open("/proc/self/status").read())); print(sorted(k for k in os.environ if k not in ("LD_PRELOAD","HOPTRACE_SOCKET"))); print(st(subprocess.run(["cat","/proc/self/status"],capture_output=True,text=True).stdout)); print(subprocess.run(["sh","-c","grep -e ^SigBlk -e ^SigIgn -e ^SigCgt /proc/self/status; env | cut -d= -f1 | grep -v -e ^LD_PRELOAD -e ^HOPTRACE_SOCKET | sort"],capture_output=True,text=True).stdout.split())'
py_fds	python3 -c 'import os,subprocess,resource; print(sorted(int(f) for f in os.listdir("/proc/self/fd"))); print(subprocess.run(["ls","/proc/self/fd"],capture_output=True,close_fds=True).stdout.split()); r,w=os.pipe(); print(subprocess.run(["sh","-c","ls /proc/\$\$/fd"],pass_fds=[w],capture_output=True).stdout.split()); resource.setrlimit(resource.RLIMIT_NOFILE,(20,resource.getrlimit(resource.RLIMIT_NOFILE)[1])); print(subprocess.run(["sh","-c","ls /proc/\$\$/fd"],close_fds=True,capture_output=True).stdout.split())'
EOF

run_cmd() { # name cmd outfile [env...]: runs cmd in a fresh $tmp/w
	n=$1 cmd=$2 out=$3
	shift 3
	rm -rf "$tmp/w" && mkdir -p "$tmp/w"
	(cd "$tmp/w" && env "$@" timeout -k 5 60 sh -c "$cmd" >"$out" 2>"$out.err" </dev/null)
	echo $? >>"$out"
}

start_sink() { # name mode [log]
	rm -f "$tmp/ready.$1"
	if [ -n "${3:-}" ]; then
		"$SINK" -m "$2" -l "$3" -r "$tmp/ready.$1" "$1" >"$tmp/sink.$1.out" 2>&1 &
	else
		"$SINK" -m "$2" -r "$tmp/ready.$1" "$1" >"$tmp/sink.$1.out" 2>&1 &
	fi
	sinkpid=$!
	bg="$bg $sinkpid"
	i=0
	while [ ! -f "$tmp/ready.$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
}
stop_sink() { kill "$sinkpid" 2>/dev/null; wait "$sinkpid" 2>/dev/null; }

# ---- same output under three collector conditions ----
tab=$(printf '\t')
while IFS="$tab" read -r name cmd; do
	[ -n "$name" ] || continue
	run_cmd "$name" "$cmd" "$tmp/$name.base" LD_PRELOAD=
	# 0. a collector that reads (every process registers its ring)
	start_sink "ht_read.$$" read
	run_cmd "$name" "$cmd" "$tmp/$name.reading" LD_PRELOAD="$LIB" HOPTRACE_SOCKET="ht_read.$$"
	stop_sink
	# 1. nobody listening
	run_cmd "$name" "$cmd" "$tmp/$name.nocoll" LD_PRELOAD="$LIB" HOPTRACE_SOCKET="ht_none.$$"
	# 2. the collector is killed while the program runs
	start_sink "ht_kill.$$" read
	(sleep 0.15; kill -9 "$sinkpid" 2>/dev/null) &
	killer=$!
	run_cmd "$name" "$cmd" "$tmp/$name.killed" LD_PRELOAD="$LIB" HOPTRACE_SOCKET="ht_kill.$$"
	wait "$killer" 2>/dev/null
	stop_sink
	# 3. the collector never reads (its queues fill: every send gets EAGAIN)
	start_sink "ht_flood.$$" none
	run_cmd "$name" "$cmd" "$tmp/$name.flood" LD_PRELOAD="$LIB" HOPTRACE_SOCKET="ht_flood.$$"
	stop_sink
	for c in reading nocoll killed flood; do
		if ! cmp -s "$tmp/$name.base" "$tmp/$name.$c"; then
			fail "$name differs under '$c' (last line = exit status):"
			diff "$tmp/$name.base" "$tmp/$name.$c" | head -20
			head -5 "$tmp/$name.$c.err"
		fi
	done
	echo "checked $name: $(tail -n 1 "$tmp/$name.base" | sed 's/^/exit /')"
done <"$tmp/cmds"

# ---- the records arrive (a reading collector) ----
count() { awk -v t="$1" '$1 == t {print $2}' "$2" | grep . || echo 0; }
expect() { # file type min what
	c=$(count "$2" "$1")
	[ "$c" -ge "$3" ] || fail "$4: expected >= $3 $2 records, got $c"
}
records() { # tag cmd
	start_sink "ht_rec.$1.$$" read "$tmp/log.$1"
	rm -rf "$tmp/w" && mkdir -p "$tmp/w"
	(cd "$tmp/w" && LD_PRELOAD="$LIB" HOPTRACE_SOCKET="ht_rec.$1.$$" timeout 60 sh -c "$2" \
		>"$tmp/rec.$1.stdout" 2>&1 </dev/null)
	sleep 0.3
	stop_sink
	cp "$tmp/sink.ht_rec.$1.$$.out" "$tmp/counts.$1"
	echo "records for $1: $(tr '\n' ' ' <"$tmp/counts.$1")"
}
records pipes "sh -c 'cat /etc/hostname | cat | cat >/dev/null'"
for t in PIPE:1 BIRTH:2 IMAGE:4 EXEC:3 CLOSE:2 DUP:2 EXIT:4; do
	expect "$tmp/counts.pipes" "${t%:*}" "${t#*:}" "sh -c 'cat | cat | cat'"
done
[ "$(count bad "$tmp/counts.pipes")" = 0 ] || fail "rec_sink could not parse some records"

# where memfd_create fails (seccomp: ENOSYS) the shim falls back to its socket
# (HOPTRACE_SECCOMP=allow: an inherited filter otherwise turns the shim off)
records fallback "HOPTRACE_SECCOMP=allow $NOMEMFD sh -c 'cat /etc/hostname | cat | cat >/dev/null'"
for t in PIPE:1 BIRTH:2 IMAGE:4 EXEC:3 CLOSE:2 DUP:2 EXIT:4; do
	expect "$tmp/counts.fallback" "${t%:*}" "${t#*:}" "no memfd: the socket fallback"
done

records connect "$PROG connect"
expect "$tmp/counts.connect" CONNECT 1 connect
expect "$tmp/counts.connect" ACCEPT 1 connect
first=$(sort -n "$tmp/log.connect" | awk '$3 == "CONNECT" || $3 == "ACCEPT" {print $3; exit}')
[ "$first" = CONNECT ] || fail "CONNECT must come before ACCEPT (first was '$first')"

records spawners "$PROG spawners"
for t in SPAWN:1 PTY:2 RESYNC:2 OPEN:3 FDSEND:1 FDRECV:1 SOCKETPAIR:1 BIRTH:5 EXEC:6; do
	expect "$tmp/counts.spawners" "${t%:*}" "${t#*:}" spawners
done

records clobber "$PROG clobber"
# before, and after the shim lost its socket to dup2/closefrom and reconnected
expect "$tmp/counts.clobber" PIPE 3 "clobber (reconnect after losing the socket)"

records threads "$PROG threads 5"
expect "$tmp/counts.threads" BIRTH 20 threads
expect "$tmp/counts.threads" EXEC 20 threads

# children that run hooks without libc's fork (vfork; syscall(SYS_clone), whose
# child has no ring mapped; clone(CLONE_VM)): no getpid() per record tells them
# from their parent, yet each child's records must carry its own pid, none
# placed in the parent's ring (docs/shim.md "Transport")
records forks "$PROG forks"
own() { # WHAT TYPE...: the child's records in the log
	cpid=$(awk -v w="$1 child" 'index($0, w " ") == 1 && $NF ~ /^[0-9]+$/ {print $NF}' "$tmp/rec.forks.stdout")
	shift
	[ -n "$cpid" ] || { fail "forks: no child pid printed"; return; }
	for t in "$@"; do
		awk -v p="$cpid" -v t="$t" '$2 == p && $3 == t {f = 1} END {exit !f}' "$tmp/log.forks" ||
			fail "forks: no $t record with the child's own pid $cpid"
	done
}
# (the vfork child is quiet until its exec: its image's IMAGE is its first)
own vfork IMAGE
vc=$(awk 'index($0, "vfork child ") == 1 && $NF ~ /^[0-9]+$/ {print $NF}' "$tmp/rec.forks.stdout")
[ -z "$vc" ] || [ "$(awk -v p="$vc" '$2 == p {print $3; exit}' "$tmp/log.forks")" = IMAGE ] ||
	fail "forks: the vfork child's first record is not its image's IMAGE: $(awk -v p="$vc" '$2 == p {print $3}' "$tmp/log.forks" | tr '\n' ' ')"
own "raw fork" PIPE CLOSE
own "clone vm" PIPE CLOSE

# a vfork child's descriptor work before its exec (CPython's subprocess:
# closes, dup2, close_range) and its exec send nothing: its parent waits
# meanwhile, and a connection (or a collector woken) there widens the window
# in which the parent, back, finds the child's /proc/PID/cmdline empty
# (psutil; docs/shim.md "What the program can observe"). Its new image's
# IMAGE has the collector read its descriptors from the kernel.
records vforkexec "exec $PROG vforkexec"
vc=$(awk '/^vforkexec child / {print $3}' "$tmp/rec.vforkexec.stdout")
[ -n "$vc" ] || fail "vforkexec: no child pid printed"
got=$(awk -v p="$vc" '$2 == p {print $3}' "$tmp/log.vforkexec" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')
# (IMAGE and EXIT: /bin/true's, the same pid, through its ring)
[ "$got" = "EXIT:1 IMAGE:1 " ] ||
	fail "vforkexec: the child's records are '$got' (want EXIT:1 IMAGE:1)"
[ "$(count conns_rec "$tmp/counts.vforkexec")" = 0 ] ||
	fail "vforkexec: the vfork child made $(count conns_rec "$tmp/counts.vforkexec") record connections (want 0)"

# the same as an ordering property (strace -f): between the vfork and the
# child's execve the shimmed child makes the syscalls the program makes and
# no others (but getpid: "am I the child?", ~0.1 us, no wake-up of anyone).
# On main a1afd93 it made socket, connect x2 and sendto x7 there.
if command -v strace >/dev/null 2>&1; then
	start_sink "ht_st.$$" read
	for side in plain shim; do
		l=; [ $side = shim ] && l=$LIB
		LD_PRELOAD=$l HOPTRACE_SOCKET="ht_st.$$" strace -f -qq -o "$tmp/st.$side" "$PROG" vforkexec >/dev/null 2>"$tmp/st.$side.err"
		c=$(awk '/^vforkexec child / {print $3}' "$tmp/st.$side.err")
		# the child's calls up to its execve, names only
		awk -v c="$c" '$1 == c { n = $2; sub(/\(.*/, "", n); if (n != "getpid") print n; if (n == "execve") exit }' \
			"$tmp/st.$side" >"$tmp/st.$side.calls"
	done
	stop_sink
	echo "vfork child before its execve, without the shim: $(tr '\n' ' ' <"$tmp/st.plain.calls")"
	echo "vfork child before its execve, with the shim:    $(tr '\n' ' ' <"$tmp/st.shim.calls")"
	grep -q execve "$tmp/st.plain.calls" || fail "vforkexec under strace: no child execve seen"
	cmp -s "$tmp/st.plain.calls" "$tmp/st.shim.calls" ||
		fail "vforkexec: the shimmed vfork child makes syscalls of its own before its exec (its parent waits for them)"
	# and timed, for the record (not judged: a 2-core machine shared with
	# other work moves the medians 10x): vfork to the parent's return
	start_sink "ht_win.$$" read
	LD_PRELOAD= "$PROG" vforkwin 60 5000 2>"$tmp/vfw.none" >/dev/null
	LD_PRELOAD="$LIB" HOPTRACE_SOCKET="ht_win.$$" "$PROG" vforkwin 60 5000 2>"$tmp/vfw.shim" >/dev/null
	stop_sink
	echo "vforkwin without the shim: $(cat "$tmp/vfw.none"); with it: $(cat "$tmp/vfw.shim")"
else
	echo "SKIP the vfork child's syscalls: no strace"
fi

# ---- a setuid program through /etc/ld.so.preload (private mount + net ns) ----
setpriv --reuid=65534 --regid=65534 --clear-groups passwd -S >"$tmp/suid.base" 2>&1
echo $? >>"$tmp/suid.base"
mkdir -p "$tmp/ns_u" "$tmp/ns_w" "$tmp/ns_etc"
cat >"$tmp/suid.sh" <<EOF
set -u
mount -t overlay overlay -o lowerdir=/etc,upperdir=$tmp/ns_u,workdir=$tmp/ns_w /etc || exit 90
echo $tmp/libhoptrace.so >/etc/ld.so.preload
# every ordinary process here is disabled by the environment; only the
# setuid image (AT_SECURE: no env) reports, so its records are the only ones
export HOPTRACE_DISABLE=1
# the default collector name, in this network namespace only
$SINK -r $tmp/ready.suid -l $tmp/log.suid hoptrace/rec >$tmp/counts.suid 2>&1 &
sp=\$!
i=0; while [ ! -f $tmp/ready.suid ] && [ \$i -lt 50 ]; do sleep 0.1; i=\$((i + 1)); done
# env says "disabled, elsewhere": a setuid image must ignore both
HOPTRACE_DISABLE=1 HOPTRACE_SOCKET=ht_bogus.$$ setpriv --reuid=65534 --regid=65534 --clear-groups passwd -S >$tmp/suid.pre 2>&1
echo \$? >>$tmp/suid.pre
sleep 0.3
kill \$sp; wait \$sp
EOF
if unshare -m -n --propagation private sh "$tmp/suid.sh"; then
	cmp -s "$tmp/suid.base" "$tmp/suid.pre" || { fail "setuid passwd -S output differs under ld.so.preload"; diff "$tmp/suid.base" "$tmp/suid.pre"; }
	echo "records for setuid: $(tr '\n' ' ' <"$tmp/counts.suid")"
	expect "$tmp/counts.suid" IMAGE 1 "setuid passwd (secure mode: fixed socket name, env ignored)"
else
	echo "could not set up the mount/network namespace for the setuid test"
	fails=$((fails + 1))
fi
[ -f /etc/ld.so.preload ] && grep -q "$tmp" /etc/ld.so.preload && fail "the real /etc/ld.so.preload was touched!"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "OK"
