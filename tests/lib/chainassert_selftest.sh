#!/bin/sh
# tests/lib/chainassert_selftest.sh — chainassert.py against hand-made answers.
# Needs no root and no hoptrace build; exits 0 when every case behaves, 1 otherwise.
# Run by tests/func/testbed_selftest.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
CA="$PY $here/chainassert.py"
T=$(mktemp -d /tmp/chainassert.XXXXXX)
trap 'rm -rf "$T"' EXIT
nf=0
yes() { # description args... : must pass
	d=$1; shift
	if $CA "$@" -q >"$T/out" 2>&1; then echo "ok   $d"; else echo "FAIL $d (should pass)"; cat "$T/out"; nf=$((nf + 1)); fi
}
no() { # description args... : must fail with status 1 and a readable diff
	d=$1; shift
	$CA "$@" >"$T/out" 2>&1; rc=$?
	if [ $rc = 1 ] && grep -q "not:" "$T/out"; then echo "ok   $d (refused)"
	else echo "FAIL $d (should fail with 1, got $rc)"; cat "$T/out"; nf=$((nf + 1)); fi
}

# ssh h1 -> h2, bash, ssh h3: origin h1; the tree goes through a pty and a creator
cat >"$T/a.json" <<'EOF'
{"ok":true,"host":"h2","subject":{"pid":812,"local":"10.231.0.2:40312","remote":"10.231.0.3:22"},
 "tree":{"type":"proc","host":"h2","pid":812,"exe":"/usr/bin/ssh","seen":"shim","sources":[
   {"via":"pty","id":"pts/3","node":{"type":"proc","host":"h2","pid":700,"exe":"/usr/sbin/sshd","seen":"shim","sources":[
      {"via":"tcp","node":{"type":"conn","host":"h2","dir":"in","local":"10.231.0.2:22","remote":"10.231.0.1:51234","complete":true,
        "upstream":{"ok":true,"host":"h1","tree":{"type":"proc","host":"h1","pid":90,"exe":"/usr/bin/ssh","seen":"shim","sources":[
            {"via":"creator","node":{"type":"origin","host":"h1"}}]}}}}]}},
   {"via":"creator","node":{"type":"proc","host":"h2","pid":701,"exe":"/bin/bash","seen":"shim","sources":[]}}]},
 "chains":[{"origin_host":"h1","src":"10.231.0.1:51234","dst":"10.231.0.3:22","complete":true,"fallback":false,
   "procs":[{"host":"h1","pid":90,"exe":"/usr/bin/ssh"},{"host":"h2","pid":699,"exe":"/usr/sbin/sshd"},
            {"host":"h2","pid":700,"exe":"/usr/sbin/sshd"},{"host":"h2","pid":701,"exe":"/usr/bin/bash"},
            {"host":"h2","pid":812,"exe":"/usr/bin/ssh"}]}]}
EOF
yes "exact multiset with sshd+" "$T/a.json" --origin h1 --procs 'h1:ssh,h2:sshd+,h2:bash,h2:ssh' --via pty
yes "exact multiset, sshd twice" "$T/a.json" --origin h1 --procs 'h2:ssh,h2:bash,h2:sshd,h2:sshd,h1:ssh'
yes "ordered" "$T/a.json" --procs 'h1:ssh,h2:sshd+,h2:bash,h2:ssh' --ordered
yes "contains, count, no-origin, src/dst, complete, no-kernel, vias" "$T/a.json" \
	--contains 'h1:ssh,h2:bash' --count 1 --no-origin h4 --no-origin h2 \
	--src 10.231.0.1:'*' --dst 10.231.0.3:22 --complete --no-kernel --via pty,tcp,creator
no "ordered, wrong order" "$T/a.json" --procs 'h2:ssh,h2:sshd+,h2:bash,h1:ssh' --ordered
no "a missing process" "$T/a.json" --origin h1 --procs 'h1:ssh,h2:sshd+,h2:bash,h2:nc'
no "an extra process" "$T/a.json" --origin h1 --procs 'h1:ssh,h2:sshd+,h2:ssh'
no "sshd only once (no +)" "$T/a.json" --origin h1 --procs 'h1:ssh,h2:sshd,h2:bash,h2:ssh'
no "wrong origin" "$T/a.json" --origin h4
no "no-origin violated" "$T/a.json" --no-origin h1
no "count" "$T/a.json" --count 2
no "kernel" "$T/a.json" --kernel
no "via fdpass" "$T/a.json" --via fdpass
no "dst" "$T/a.json" --dst 10.231.0.3:80

# tmux re-attached from h4: two origins; one process seen by the kernel only
cat >"$T/b.json" <<'EOF'
{"ok":true,"host":"h2","tree":{"type":"proc","host":"h2","pid":5,"exe":"/usr/bin/ssh","seen":"kernel","sources":[]},
 "chains":[
  {"origin_host":"h4","src":"10.231.0.4:40000","dst":null,"complete":true,"fallback":true,
   "procs":[{"host":"h4","exe":"/usr/bin/ssh"},{"host":"h2","exe":"/usr/sbin/sshd"},{"host":"h2","exe":"/usr/bin/tmux"},
            {"host":"h2","exe":"/usr/bin/tmux"},{"host":"h2","exe":"/usr/bin/bash"},{"host":"h2","exe":"/usr/bin/ssh"}]},
  {"origin_host":"h1","src":"10.231.0.1:40001","dst":null,"complete":false,"fallback":false,
   "procs":[{"host":"h1","exe":"/usr/bin/ssh"},{"host":"h2","exe":"/usr/sbin/sshd"},{"host":"h2","exe":"/usr/bin/tmux"},
            {"host":"h2","exe":"/usr/bin/bash"},{"host":"h2","exe":"/usr/bin/ssh"}]}]}
EOF
yes "two origins, each its own list" "$T/b.json" --origin h4 --procs 'h4:ssh,h2:sshd+,h2:tmux+,h2:bash,h2:ssh' --count 2
yes "second origin" "$T/b.json" --origin h1 --procs 'h1:ssh,h2:sshd,h2:tmux,h2:bash,h2:ssh' --kernel --incomplete
yes "optional token" "$T/b.json" --origin h1 --procs 'h1:ssh,h2:sshd,h2:tmux,h2:bash,h2:ssh,h2:sh?'
no "origin h1 with h4's list" "$T/b.json" --origin h1 --procs 'h4:ssh,h2:sshd+,h2:tmux+,h2:bash,h2:ssh'
no "complete" "$T/b.json" --complete
no "no-kernel" "$T/b.json" --no-kernel

# errors and unreadable answers
echo '{"ok":false,"error":"no such process"}' >"$T/e.json"
$CA "$T/e.json" --count 0 >"$T/out" 2>&1; [ $? = 1 ] && grep -q "no such process" "$T/out" &&
	echo "ok   ok:false names the error" || { echo "FAIL ok:false"; nf=$((nf + 1)); }
echo 'not json' >"$T/bad.json"
$CA "$T/bad.json" --count 0 >"$T/out" 2>&1; [ $? = 2 ] && echo "ok   malformed answer: status 2" ||
	{ echo "FAIL malformed answer"; cat "$T/out"; nf=$((nf + 1)); }
printf '%s' '{"ok":true,"chains":[]}' | $CA - --count 0 -q && echo "ok   stdin, zero chains" ||
	{ echo "FAIL stdin"; nf=$((nf + 1)); }

echo "chainassert selftest: $nf failure(s)"
[ $nf = 0 ]
