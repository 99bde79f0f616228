#!/bin/sh
# attack_review_rawfd_dir.sh — review of issue 10's fd-table check
# (docs/threat-model.md class 4b) — leader_self of
# tests/func/attack_review_rawfd_leader.sh with the listener CLOSED right
# after the raw accept. Accepted on a complete local chain on wt-atk 18dfefb
# (with the leader fix; on main 812e114 the subject is not found at all:
# refused "no holder"). Why: a socket first seen in /proc gets its direction
# from the kernel's TCP dump — 'i' only while its local port is one this
# host listens on (collector/graph_sock.c, the probe) — so B's accepted
# connection, its listener closed, was taken for an outgoing one ('o'); and
# chain.c never_source skips, at depth 0, the subject's own outgoing
# connections to the host the SYN goes to (retries, parallel fetches). B is
# the host the SYN goes to, so B's connection was never followed. Fixed: an
# 'o' the probe guessed (no record, no connect event said it) is marked
# (dir_guess) and never_source skips only a said one. Left: a hand-made
# CONNECT record for the accepted fd (the kernel confirms the fd and the
# address, not the direction) still says 'o' — not tried.
#   leader_self  the subject starts a thread and ends its main thread; the
#                thread raw-accepts B's connection, closes the listener, reads
#                B's orders, keeps the connection, connects to B4:8000
# Prints FAIL-CASE and exits 1 while it is accepted.
RF_INCOMPLETE=reject
. "${HT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/rawfd.sh"
for mode in ${CASES:-leader_self}; do
	gn_log "$mode"
	rf_leader $mode close
done
[ $fails = 0 ] || { echo "$fails case(s) accepted"; exit 1; }
echo "PASS"
