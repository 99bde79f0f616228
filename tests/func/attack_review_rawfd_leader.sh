#!/bin/sh
# attack_review_rawfd_leader.sh — review of issue 10's fd-table check
# (docs/threat-model.md class 4b): a process whose thread-group leader has
# exited (syscall(SYS_exit) in the main thread, another thread runs on) shows
# an EMPTY /proc/PID/fd — the table lives on in /proc/PID/task/TID/fd. As
# nobody on A with the shim preloaded, against a policy that refuses every
# chain whose origin is B ("B4, *, *, *, black, *") and allows B4:8000
# otherwise:
#   leader_feeder  the subject S forks a helper H (shim: BIRTH) that starts a
#                  thread and ends its main thread; the thread takes B's
#                  connection by syscall(SYS_accept4) (no record), writes
#                  B's orders into a pipe S reads (shim: PIPE) and keeps B's
#                  connection open; S connects to B4:8000
#   leader_self    S itself: it starts a thread and ends its main thread;
#                  the thread raw-accepts B's connection (the listener kept
#                  open), reads B's orders, keeps the connection and
#                  connects to B4:8000
# B's connection is open (in a live thread of a live process) when the SYN is
# judged — each must be refused: on the rule of origin B, as incomplete, or
# (the subject's own table empty: no holder of the SYN's socket is found) by
# on_collector_error. On main 812e114 leader_feeder was accepted on a
# complete local chain, on its push, in 1 of 3 runs with the raw accept
# before the leader's end (the helper's table read empty; the process, its
# leader a zombie, taken for ended) — the accept now comes after it; leader_self
# refused ("no process holds that connection's socket": the holder scans read
# /proc/PID/fd too). Fixed: procfs_fds and the holder scans read a live
# thread's table (/proc/PID/task/TID/fd) when /proc/PID/fd is empty, and a
# zombie leader with live threads is a live process (graph_proc.c
# kernel_proc).
# Prints FAIL-CASE and exits 1 while a case is accepted.
RF_INCOMPLETE=reject
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
for mode in ${CASES:-leader_feeder leader_self}; do
	gn_log "$mode"
	rf_leader $mode
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
